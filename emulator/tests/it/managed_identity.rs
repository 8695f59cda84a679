//! The managed identity endpoints over real HTTP: IMDS and App Service
//! shapes, their refusals, scripted IMDS failures for a client's retry
//! rules, the listener they live on, and that nothing secret reaches the
//! emulator's log.

use crate::common;

use std::io::{BufRead, BufReader, Read};
use std::process::{Command, Stdio};

use common::{Answer, Emu, assertion_form, claims, message};
use graphmailer_emulator::{Options, defaults as d};
use serde_json::{Value, json};

const GRAPH: &str = "https://graph.microsoft.com";

/// `base?k=v&...`, URL-encoded.
fn with_query(base: &str, query: &[(&str, &str)]) -> String {
    let encoded: String = url::form_urlencoded::Serializer::new(String::new())
        .extend_pairs(query)
        .finish();
    format!("{base}?{encoded}")
}

/// GET IMDS's token path with the given query and `Metadata` header.
async fn imds(emu: &Emu, query: &[(&str, &str)], metadata: Option<&str>) -> Answer {
    let mut request = emu.http.get(with_query(
        &format!(
            "{}/metadata/identity/oauth2/token",
            emu.emulator.identity_url()
        ),
        query,
    ));
    if let Some(value) = metadata {
        request = request.header("Metadata", value);
    }
    Answer::read(request.send().await.expect("IMDS answers")).await
}

async fn imds_graph(emu: &Emu, client_id: Option<&str>) -> Answer {
    let mut query = vec![("api-version", "2018-02-01"), ("resource", GRAPH)];
    if let Some(id) = client_id {
        query.push(("client_id", id));
    }
    imds(emu, &query, Some("true")).await
}

/// GET App Service's `/msi/token` with the given identity header.
async fn app_service(emu: &Emu, query: &[(&str, &str)], identity_header: Option<&str>) -> Answer {
    let mut request = emu.http.get(with_query(
        &format!("{}/msi/token", emu.emulator.identity_url()),
        query,
    ));
    if let Some(value) = identity_header {
        request = request.header("X-IDENTITY-HEADER", value);
    }
    Answer::read(request.send().await.expect("App Service answers")).await
}

fn error_text(answer: &Answer) -> String {
    format!(
        "{} {}",
        answer.json["error"], answer.json["error_description"]
    )
}

#[tokio::test]
async fn imds_issues_the_system_assigned_identitys_token_that_sends_within_policy() {
    let emu = Emu::start().await;
    // Plain HTTP: the identity endpoints share the main listener.
    assert_eq!(emu.emulator.identity_url(), emu.url());
    assert_eq!(emu.emulator.banner().identity_url, emu.url());

    let answer = imds_graph(&emu, None).await;
    assert_eq!(answer.status, 200, "{}", answer.json);
    let body = &answer.json;
    for key in [
        "access_token",
        "client_id",
        "expires_in",
        "expires_on",
        "ext_expires_in",
        "not_before",
        "resource",
        "token_type",
    ] {
        assert!(body[key].is_string(), "{key} is a string: {body}");
    }
    assert_eq!(body["client_id"], d::VM_IDENTITY_CLIENT_ID);
    assert_eq!(body["expires_in"], "86399");
    assert_eq!(body["resource"], GRAPH);
    assert_eq!(body["token_type"], "Bearer");
    let expires_on: i64 = body["expires_on"].as_str().unwrap().parse().unwrap();
    let not_before: i64 = body["not_before"].as_str().unwrap().parse().unwrap();
    assert_eq!(expires_on - not_before, 86_399);

    let token = body["access_token"].as_str().unwrap().to_owned();
    let c = claims(&token);
    assert_eq!(c["appid"], d::VM_IDENTITY_CLIENT_ID);
    assert_eq!(c["oid"], d::VM_IDENTITY_OBJECT_ID);
    assert_eq!(c["app_displayname"], d::VM_IDENTITY_DISPLAY_NAME);
    assert_eq!(c["aud"], GRAPH);
    assert_eq!(c["roles"], json!(["Mail.Send"]));

    let sent = emu
        .send(&token, d::ERP_MAILBOX, &message("from the VM"))
        .await;
    assert_eq!(sent.status, 202, "{}", sent.json);
    let denied = emu.send(&token, d::CEO_MAILBOX, &message("no")).await;
    assert_eq!(denied.status, 403, "{}", denied.json);

    // Naming the system-assigned identity by client id or object id works too.
    let by_id = imds_graph(&emu, Some(d::VM_IDENTITY_CLIENT_ID)).await;
    assert_eq!(by_id.status, 200);
    let by_object = imds(
        &emu,
        &[
            ("api-version", "2018-02-01"),
            ("resource", GRAPH),
            ("object_id", d::VM_IDENTITY_OBJECT_ID),
        ],
        Some("true"),
    )
    .await;
    assert_eq!(by_object.json["client_id"], d::VM_IDENTITY_CLIENT_ID);

    let counters = emu.emulator.counters();
    assert_eq!(counters.identity_requests, 3);
    assert_eq!(counters.identity_tokens_issued, 3);
    assert_eq!(counters.identity_errors, 0);
    // Managed identity requests are not token endpoint requests.
    assert_eq!(counters.token_requests, 0);
}

#[tokio::test]
async fn the_user_assigned_identity_without_mail_send_gets_403_from_graph() {
    let emu = Emu::start().await;
    let answer = imds_graph(&emu, Some(d::REPORTS_IDENTITY_CLIENT_ID)).await;
    assert_eq!(answer.status, 200, "{}", answer.json);
    assert_eq!(answer.json["client_id"], d::REPORTS_IDENTITY_CLIENT_ID);
    let token = answer.json["access_token"].as_str().unwrap();
    assert!(
        !claims(token)["roles"]
            .as_array()
            .unwrap()
            .iter()
            .any(|r| r == "Mail.Send")
    );
    let sent = emu.send(token, d::ERP_MAILBOX, &message("no role")).await;
    assert_eq!(sent.status, 403, "{}", sent.json);
    assert_eq!(sent.graph_code(), "ErrorAccessDenied");
}

#[tokio::test]
async fn imds_refusals() {
    let emu = Emu::start().await;
    let query = [("api-version", "2018-02-01"), ("resource", GRAPH)];

    for metadata in [None, Some("false")] {
        let answer = imds(&emu, &query, metadata).await;
        assert_eq!(answer.status, 400, "{metadata:?}: {}", answer.json);
        assert_eq!(
            answer.json["error_description"],
            "Required metadata header not specified"
        );
    }

    let unknown = imds_graph(&emu, Some("11111111-2222-4333-8444-555555555555")).await;
    assert_eq!(unknown.status, 400, "{}", unknown.json);
    assert_eq!(unknown.json["error"], "invalid_request");
    assert_eq!(unknown.json["error_description"], "Identity not found");
    // An app that is not a managed identity is not found either.
    let app = imds_graph(&emu, Some(d::ERP_CLIENT_ID)).await;
    assert_eq!(app.json["error_description"], "Identity not found");
    let malformed = imds_graph(&emu, Some("not-a-guid")).await;
    assert_eq!(malformed.status, 400);
    assert!(error_text(&malformed).contains("client_id"));

    let no_resource = imds(&emu, &[("api-version", "2018-02-01")], Some("true")).await;
    assert_eq!(no_resource.status, 400);
    assert!(error_text(&no_resource).contains("'resource'"));
    let no_version = imds(&emu, &[("resource", GRAPH)], Some("true")).await;
    assert_eq!(no_version.status, 400);
    assert!(error_text(&no_version).contains("'api-version'"));
    let other = imds(
        &emu,
        &[
            ("api-version", "2018-02-01"),
            ("resource", "https://vault.azure.net"),
        ],
        Some("true"),
    )
    .await;
    assert_eq!(other.status, 400, "{}", other.json);
    assert_eq!(other.json["error"], "invalid_resource");
    assert!(error_text(&other).contains("AADSTS500011"));

    let counters = emu.emulator.counters();
    assert_eq!(counters.identity_requests, 8);
    assert_eq!(counters.identity_errors, 8);
    assert_eq!(counters.identity_tokens_issued, 0);
}

#[tokio::test]
async fn app_service_wants_its_identity_header() {
    let emu = Emu::start().await;
    let header = emu.emulator.identity_header().to_owned();
    assert_eq!(header, d::IDENTITY_HEADER);
    assert_eq!(emu.emulator.banner().identity_header, header);
    let query = [("api-version", "2019-08-01"), ("resource", GRAPH)];

    let answer = app_service(&emu, &query, Some(&header)).await;
    assert_eq!(answer.status, 200, "{}", answer.json);
    let body = &answer.json;
    assert_eq!(body["client_id"], d::VM_IDENTITY_CLIENT_ID);
    assert_eq!(body["token_type"], "Bearer");
    assert_eq!(body["resource"], GRAPH);
    assert!(body["expires_on"].as_str().unwrap().parse::<i64>().is_ok());
    let token = body["access_token"].as_str().unwrap();
    let sent = emu
        .send(token, d::ERP_MAILBOX, &message("from App Service"))
        .await;
    assert_eq!(sent.status, 202, "{}", sent.json);

    let wrong = app_service(&emu, &query, Some("not-the-header")).await;
    assert_eq!(wrong.status, 401, "{}", wrong.json);
    let missing = app_service(&emu, &query, None).await;
    assert_eq!(missing.status, 400, "{}", missing.json);
    assert!(error_text(&missing).contains("X-IDENTITY-HEADER"));
    for answer in [&wrong, &missing, &answer] {
        assert!(!answer.json.to_string().contains(&header));
    }

    let user_assigned = app_service(
        &emu,
        &[
            ("api-version", "2019-08-01"),
            ("resource", GRAPH),
            ("client_id", d::REPORTS_IDENTITY_CLIENT_ID),
        ],
        Some(&header),
    )
    .await;
    assert_eq!(
        user_assigned.json["client_id"],
        d::REPORTS_IDENTITY_CLIENT_ID
    );
    let by_principal = app_service(
        &emu,
        &[
            ("api-version", "2019-08-01"),
            ("resource", GRAPH),
            ("principal_id", d::REPORTS_IDENTITY_OBJECT_ID),
        ],
        Some(&header),
    )
    .await;
    assert_eq!(
        by_principal.json["client_id"],
        d::REPORTS_IDENTITY_CLIENT_ID
    );
    // The IMDS header is not App Service's credential.
    let imds_style = emu
        .http
        .get(with_query(
            &format!("{}/msi/token", emu.emulator.identity_url()),
            &query,
        ))
        .header("Metadata", "true")
        .send()
        .await
        .unwrap();
    assert_eq!(imds_style.status(), 400);
}

#[tokio::test]
async fn scripted_imds_failures_are_answered_in_order_then_tokens_flow() {
    let emu = Emu::start().await;
    let plan = json!({"identity": [
        {"status": 410},
        {"status": 429},
        {"status": 500},
        {"status": 503, "retry_after_secs": 2},
    ]});
    let set = emu.put("faults", plan).await;
    assert_eq!(set.status, 200, "{}", set.json);
    let mut statuses = Vec::new();
    for _ in 0..5 {
        let answer = imds_graph(&emu, None).await;
        statuses.push(answer.status);
        match answer.status {
            429 => assert_eq!(answer.header("retry-after"), None),
            503 => assert_eq!(answer.header("retry-after"), Some("2")),
            200 => {}
            _ => assert!(answer.json["error"].is_string(), "{}", answer.json),
        }
    }
    assert_eq!(statuses, [410, 429, 500, 503, 200]);
    let counters = emu.emulator.counters();
    assert_eq!(counters.identity_requests, 5);
    assert_eq!(counters.identity_errors, 4);
    assert_eq!(counters.identity_tokens_issued, 1);
    assert_eq!(counters.faults_injected, 4);

    // A fault for one identity leaves the others alone, on either endpoint.
    let plan = json!({"identity": [{"status": 503, "client_id": d::REPORTS_IDENTITY_CLIENT_ID}]});
    assert_eq!(emu.put("faults", plan).await.status, 200);
    assert_eq!(imds_graph(&emu, None).await.status, 200);
    let header = emu.emulator.identity_header().to_owned();
    let faulted = app_service(
        &emu,
        &[
            ("api-version", "2019-08-01"),
            ("resource", GRAPH),
            ("client_id", d::REPORTS_IDENTITY_CLIENT_ID),
        ],
        Some(&header),
    )
    .await;
    assert_eq!(faulted.status, 503);

    // Faults the identity endpoints can not carry out are refused.
    for bad in [
        json!({"identity": [{"status": 503, "mailbox": "erp@contoso.test"}]}),
        json!({"identity": [{"status": 503, "body": "<html>"}]}),
        json!({"identity": [{"status": 200}]}),
    ] {
        assert_eq!(emu.put("faults", bad.clone()).await.status, 400, "{bad}");
    }

    // A reset clears the counters.
    emu.emulator.reset();
    assert_eq!(emu.emulator.counters().identity_requests, 0);
}

#[tokio::test]
async fn under_tls_the_identity_endpoints_get_their_own_plain_listener() {
    let emu = Emu::start_tls().await;
    let identity_url = emu.emulator.identity_url().to_owned();
    assert!(
        identity_url.starts_with("http://127.0.0.1:"),
        "{identity_url}"
    );
    assert_ne!(identity_url, emu.url());
    let answer = imds_graph(&emu, None).await;
    assert_eq!(answer.status, 200, "{}", answer.json);
    // The token works at the HTTPS Graph endpoint.
    let token = answer.json["access_token"].as_str().unwrap();
    assert_eq!(
        emu.send(token, d::ERP_MAILBOX, &message("tls"))
            .await
            .status,
        202
    );
    // Each listener serves only its own part.
    let on_main = emu
        .http
        .get(format!("{}/metadata/identity/oauth2/token", emu.url()))
        .header("Metadata", "true")
        .send()
        .await
        .unwrap();
    assert_eq!(on_main.status(), 404);
    let graph_on_identity = emu
        .http
        .post(format!(
            "{identity_url}/v1.0/users/{}/sendMail",
            d::ERP_MAILBOX
        ))
        .send()
        .await
        .unwrap();
    assert_eq!(graph_on_identity.status(), 404);
    emu.emulator.shutdown().await;
    // The identity listener stopped with the rest.
    assert!(
        reqwest::Client::new()
            .get(format!("{identity_url}/msi/token"))
            .send()
            .await
            .is_err()
    );
}

#[tokio::test]
async fn the_identity_listener_can_be_chosen_but_never_imds_own_address() {
    let emu = Emu::start_with(Options {
        tls: false,
        identity_listen: Some("127.0.0.1:0".parse().unwrap()),
        ..Options::default()
    })
    .await;
    assert_ne!(emu.emulator.identity_url(), emu.url());
    assert_eq!(imds_graph(&emu, None).await.status, 200);

    let refused = graphmailer_emulator::start(Options {
        identity_listen: Some("169.254.169.254:80".parse().unwrap()),
        ..Options::default()
    })
    .await;
    let err = refused.err().expect("refused").to_string();
    assert!(err.contains("169.254.169.254"), "{err}");
}

/// Runs the emulator binary with every log line on, drives the federated
/// and managed identity flows (and their failures) through it, and checks
/// that no token, assertion or identity header shows up in its output
/// beyond the banner line, which carries the identity header by design.
#[tokio::test]
async fn nothing_secret_reaches_the_log() {
    let mut child = Command::new(env!("CARGO_BIN_EXE_graphmailer-emulator"))
        .args(["--http", "--port", "0"])
        .env("GRAPHMAILER_EMULATOR_LOG", "trace")
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("emulator binary starts");
    let mut stdout = BufReader::new(child.stdout.take().unwrap());
    let mut banner = String::new();
    stdout.read_line(&mut banner).unwrap();
    let banner: Value = serde_json::from_str(&banner).expect("banner JSON");
    let url = banner["url"].as_str().unwrap().to_owned();
    let identity_url = banner["identity_url"].as_str().unwrap().to_owned();
    let header = banner["identity_header"].as_str().unwrap().to_owned();
    let http = reqwest::Client::builder().no_proxy().build().unwrap();
    let mut secrets = vec![header.clone()];

    // Federated: a good token, an expired one, one with the wrong subject.
    for request in [
        json!({"subject": d::WORKLOAD_SUBJECT}),
        json!({"subject": d::WORKLOAD_SUBJECT, "lifetime_seconds": -60}),
        json!({"subject": "system:serviceaccount:erp:other"}),
    ] {
        let minted: Value = http
            .post(format!("{url}/_emulator/oidc/token"))
            .json(&request)
            .send()
            .await
            .unwrap()
            .json()
            .await
            .unwrap();
        let assertion = minted["token"].as_str().unwrap().to_owned();
        let answer = http
            .post(format!("{url}/{}/oauth2/v2.0/token", d::TENANT_ID))
            .form(&assertion_form(d::WORKLOAD_CLIENT_ID, &assertion))
            .send()
            .await
            .unwrap();
        let body: Value = answer.json().await.unwrap();
        if let Some(token) = body["access_token"].as_str() {
            secrets.push(token.to_owned());
        }
        secrets.push(assertion);
    }
    // Managed identity: IMDS, App Service, a wrong header.
    let imds: Value = http
        .get(with_query(
            &format!("{identity_url}/metadata/identity/oauth2/token"),
            &[("api-version", "2018-02-01"), ("resource", GRAPH)],
        ))
        .header("Metadata", "true")
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    secrets.push(imds["access_token"].as_str().unwrap().to_owned());
    for value in [header.as_str(), "wrong-header-value"] {
        let answer: Value = http
            .get(with_query(
                &format!("{identity_url}/msi/token"),
                &[("api-version", "2019-08-01"), ("resource", GRAPH)],
            ))
            .header("X-IDENTITY-HEADER", value)
            .send()
            .await
            .unwrap()
            .json()
            .await
            .unwrap();
        if let Some(token) = answer["access_token"].as_str() {
            secrets.push(token.to_owned());
        }
    }
    secrets.push("wrong-header-value".to_owned());
    assert_eq!(
        secrets.len(),
        8,
        "two access tokens, three assertions, IMDS and App Service"
    );

    child.kill().unwrap();
    child.wait().unwrap();
    let mut log = String::new();
    child
        .stderr
        .take()
        .unwrap()
        .read_to_string(&mut log)
        .unwrap();
    let mut rest = String::new();
    stdout.read_to_string(&mut rest).unwrap();
    assert!(
        log.contains("token request refused"),
        "the log is on: {log}"
    );
    for secret in &secrets {
        // A JWT's signature alone identifies it.
        let needle = secret.rsplit('.').next().unwrap();
        assert!(!log.contains(needle), "a secret in the log");
        assert!(!rest.contains(needle), "a secret after the banner");
    }
}
