//! The identity platform side over real HTTP: discovery documents, token
//! errors in Entra's shape, token claims, and certificate assertions.

use crate::common;

use common::{Emu, TestCert, assertion_form, claims, jwt_header, message, now};
use graphmailer_emulator::{Directory, defaults as d};
use serde_json::json;

#[tokio::test]
async fn discovery_documents_point_at_the_emulator() {
    let emu = Emu::start().await;
    let url = emu.url().to_owned();
    let v2 = emu
        .http
        .get(format!(
            "{url}/{}/v2.0/.well-known/openid-configuration",
            d::TENANT_DOMAIN
        ))
        .send()
        .await
        .unwrap();
    assert_eq!(v2.status(), 200);
    let v2: serde_json::Value = v2.json().await.unwrap();
    assert_eq!(v2["issuer"], format!("{url}/{}/v2.0", d::TENANT_ID));
    assert_eq!(
        v2["token_endpoint"],
        format!("{url}/{}/oauth2/v2.0/token", d::TENANT_ID)
    );
    assert!(
        v2["authorization_endpoint"]
            .as_str()
            .unwrap()
            .starts_with(&url)
    );
    let jwks_uri = v2["jwks_uri"].as_str().unwrap().to_owned();
    assert!(jwks_uri.starts_with(&url), "{jwks_uri}");

    let v1: serde_json::Value = emu
        .http
        .get(format!(
            "{url}/{}/.well-known/openid-configuration",
            d::TENANT_ID
        ))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(
        v1["issuer"],
        format!("https://sts.windows.net/{}/", d::TENANT_ID)
    );
    assert_eq!(
        v1["token_endpoint"],
        format!("{url}/{}/oauth2/token", d::TENANT_ID)
    );

    let authorize = format!("{url}/{}/oauth2/v2.0/authorize", d::TENANT_ID);
    let instance: serde_json::Value = emu
        .http
        .get(format!(
            "{url}/common/discovery/instance?api-version=1.1&authorization_endpoint={}",
            url::form_urlencoded::byte_serialize(authorize.as_bytes()).collect::<String>()
        ))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(
        instance["tenant_discovery_endpoint"],
        format!(
            "{url}/{}/v2.0/.well-known/openid-configuration",
            d::TENANT_ID
        )
    );
    let host = url.trim_start_matches("http://");
    assert_eq!(instance["metadata"][0]["aliases"][0], host);

    // The JWKS holds the key that signs tokens.
    let token = emu.erp_token().await;
    let kid = jwt_header(&token)["kid"].as_str().unwrap().to_owned();
    let jwks: serde_json::Value = emu
        .http
        .get(&jwks_uri)
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let keys = jwks["keys"].as_array().unwrap();
    assert!(
        keys.iter()
            .any(|k| k["kid"] == kid.as_str() && k["kty"] == "RSA")
    );
}

#[tokio::test]
async fn discovery_of_an_unknown_tenant_is_90002() {
    let emu = Emu::start().await;
    let answer = common::Answer::read(
        emu.http
            .get(format!(
                "{}/fabrikam.test/v2.0/.well-known/openid-configuration",
                emu.url()
            ))
            .send()
            .await
            .unwrap(),
    )
    .await;
    assert_eq!(answer.status, 400);
    assert_eq!(answer.aadsts(), Some(90002));
}

fn secret_form<'a>(client_id: &'a str, secret: &'a str, scope: &'a str) -> Vec<(&'a str, &'a str)> {
    vec![
        ("grant_type", "client_credentials"),
        ("client_id", client_id),
        ("client_secret", secret),
        ("scope", scope),
    ]
}

#[tokio::test]
async fn token_errors_have_entra_codes_and_shape() {
    let emu = Emu::start().await;
    type Case<'a> = (&'a str, Vec<(&'a str, &'a str)>, u16, &'a str, u64);
    let cases: Vec<Case> = vec![
        (
            d::TENANT_ID,
            secret_form(d::ERP_CLIENT_ID, d::ERP_SECRET_ID, d::GRAPH_SCOPE),
            401,
            "invalid_client",
            7000215,
        ),
        (
            d::TENANT_ID,
            secret_form(d::ERP_CLIENT_ID, d::ERP_EXPIRED_SECRET, d::GRAPH_SCOPE),
            401,
            "invalid_client",
            7000222,
        ),
        (
            d::TENANT_ID,
            secret_form(
                "0bad0bad-0000-4000-8000-000000000000",
                d::ERP_SECRET,
                d::GRAPH_SCOPE,
            ),
            400,
            "unauthorized_client",
            700016,
        ),
        (
            "fabrikam.test",
            secret_form(d::ERP_CLIENT_ID, d::ERP_SECRET, d::GRAPH_SCOPE),
            400,
            "invalid_request",
            90002,
        ),
        (
            d::TENANT_ID,
            secret_form(d::ERP_CLIENT_ID, d::ERP_SECRET, "Mail.Send"),
            400,
            "invalid_scope",
            1002012,
        ),
        (
            d::TENANT_ID,
            secret_form(
                d::ERP_CLIENT_ID,
                d::ERP_SECRET,
                "https://example.com/.default",
            ),
            400,
            "invalid_resource",
            500011,
        ),
        (
            d::TENANT_ID,
            vec![
                ("grant_type", "client_credentials"),
                ("client_id", d::ERP_CLIENT_ID),
                ("scope", d::GRAPH_SCOPE),
            ],
            401,
            "invalid_client",
            7000218,
        ),
        (
            "common",
            secret_form(d::ERP_CLIENT_ID, d::ERP_SECRET, d::GRAPH_SCOPE),
            400,
            "invalid_request",
            9001023,
        ),
    ];
    for (tenant, form, status, error, code) in cases {
        let answer = emu.token_request(tenant, &form).await;
        assert_eq!(answer.status, status, "{code}: {}", answer.json);
        assert_eq!(answer.json["error"], error, "{code}");
        assert_eq!(answer.aadsts(), Some(code));
        let description = answer.json["error_description"].as_str().unwrap();
        assert!(
            description.starts_with(&format!("AADSTS{code}: ")),
            "{description}"
        );
        assert!(description.contains("\r\nTrace ID: "), "{description}");
        let timestamp = answer.json["timestamp"].as_str().unwrap();
        assert_eq!(timestamp.len(), "2024-01-31 10:00:00Z".len(), "{timestamp}");
        assert!(answer.json["trace_id"].is_string());
        assert!(answer.json["correlation_id"].is_string());
        assert_eq!(answer.header("cache-control"), Some("no-store, no-cache"));
    }
    let counters = emu.emulator.counters();
    assert_eq!(counters.token_errors, 8);
    assert_eq!(counters.tokens_issued, 0);
}

#[tokio::test]
async fn token_claims_look_like_entra_app_tokens() {
    let emu = Emu::start().await;
    let answer = emu
        .token_request(
            d::TENANT_DOMAIN,
            &secret_form(d::ERP_CLIENT_ID, d::ERP_SECRET, d::GRAPH_SCOPE),
        )
        .await;
    assert_eq!(answer.status, 200);
    assert_eq!(answer.json["token_type"], "Bearer");
    assert_eq!(answer.json["expires_in"], 3599);
    assert!(answer.json.get("refresh_token").is_none());
    let token = answer.json["access_token"].as_str().unwrap();
    let c = claims(token);
    assert_eq!(c["aud"], "https://graph.microsoft.com");
    assert_eq!(
        c["iss"],
        format!("https://sts.windows.net/{}/", d::TENANT_ID)
    );
    assert_eq!(c["tid"], d::TENANT_ID);
    assert_eq!(c["appid"], d::ERP_CLIENT_ID);
    assert_eq!(c["appidacr"], "1");
    assert_eq!(c["idtyp"], "app");
    assert_eq!(c["oid"], d::ERP_OBJECT_ID);
    assert_eq!(c["roles"], json!(["Mail.Send"]));
    assert_eq!(c["ver"], "1.0");
    assert!(c.get("scp").is_none());
    let (iat, exp) = (c["iat"].as_i64().unwrap(), c["exp"].as_i64().unwrap());
    assert!(exp > now() + 3500 && exp <= now() + 3600, "exp {exp}");
    assert!(iat < now());
    assert_eq!(jwt_header(token)["alg"], "RS256");

    // The Intranet app has no roles claim at all; Legacy Sync has three.
    let intranet = claims(&emu.token(d::INTRANET_CLIENT_ID, d::INTRANET_SECRET).await);
    assert!(intranet.get("roles").is_none());
    let legacy = claims(
        &emu.token(d::LEGACY_SYNC_CLIENT_ID, d::LEGACY_SYNC_SECRET)
            .await,
    );
    assert_eq!(
        legacy["roles"],
        json!(["Mail.Send", "Mail.ReadWrite", "full_access_as_app"])
    );
    assert_eq!(legacy["app_displayname"], "Contoso Legacy Sync");

    // HTTP Basic client authentication works too.
    let basic = common::Answer::read(
        emu.http
            .post(emu.token_url(d::TENANT_ID))
            .basic_auth(d::ERP_CLIENT_ID, Some(d::ERP_SECRET))
            .form(&[
                ("grant_type", "client_credentials"),
                ("scope", d::GRAPH_SCOPE),
            ])
            .send()
            .await
            .unwrap(),
    )
    .await;
    assert_eq!(basic.status, 200, "{}", basic.json);
}

/// An emulator with a fresh certificate registered on the ERP app through
/// the test API.
async fn with_registered_cert() -> (Emu, TestCert, String) {
    let emu = Emu::start().await;
    let cert = TestCert::new(30);
    let response = emu
        .http
        .post(format!(
            "{}/_emulator/apps/{}/certificates",
            emu.url(),
            d::ERP_CLIENT_ID
        ))
        .body(cert.pem.clone())
        .send()
        .await
        .unwrap();
    let answer = common::Answer::read(response).await;
    assert_eq!(answer.status, 201, "{}", answer.json);
    assert_eq!(answer.json["thumbprint"], cert.x5t());
    assert_eq!(answer.json["thumbprint_sha256"], cert.x5t_s256());
    let aud = emu.token_url(d::TENANT_ID);
    (emu, cert, aud)
}

#[tokio::test]
async fn certificate_assertion_gets_a_token_that_sends() {
    let (emu, cert, aud) = with_registered_cert().await;
    let assertion = cert.assertion(d::ERP_CLIENT_ID, &aud);
    let answer = emu
        .token_request(d::TENANT_ID, &assertion_form(d::ERP_CLIENT_ID, &assertion))
        .await;
    assert_eq!(answer.status, 200, "{}", answer.json);
    let token = answer.json["access_token"].as_str().unwrap().to_owned();
    assert_eq!(claims(&token)["appidacr"], "2");
    let sent = emu
        .send(&token, d::ERP_MAILBOX, &message("by certificate"))
        .await;
    assert_eq!(sent.status, 202, "{}", sent.json);

    // PS256 with x5t#S256 is accepted too (the 2025 documentation's pair).
    let header = json!({"alg": "PS256", "typ": "JWT", "x5t#S256": cert.x5t_s256()});
    let pss = cert.sign(&header, &TestCert::claims(d::ERP_CLIENT_ID, &aud));
    let answer = emu
        .token_request(d::TENANT_ID, &assertion_form(d::ERP_CLIENT_ID, &pss))
        .await;
    assert_eq!(answer.status, 200, "{}", answer.json);

    // The listing shows the runtime certificate; reset forgets it.
    let listed = emu
        .get(&format!("apps/{}/certificates", d::ERP_CLIENT_ID))
        .await;
    assert_eq!(listed.json["certificates"][0]["thumbprint"], cert.x5t());
    assert_eq!(listed.json["certificates"][0]["source"], "runtime");
    emu.emulator.reset();
    let again = cert.assertion(d::ERP_CLIENT_ID, &aud);
    let answer = emu
        .token_request(d::TENANT_ID, &assertion_form(d::ERP_CLIENT_ID, &again))
        .await;
    assert_eq!(answer.status, 401);
    assert_eq!(answer.aadsts(), Some(700027));
    assert!(
        answer.json["error_description"]
            .as_str()
            .unwrap()
            .contains("The key was not found")
    );
}

#[tokio::test]
async fn assertions_other_audiences_entra_accepts() {
    let (emu, cert, _) = with_registered_cert().await;
    for aud in [
        format!("{}/{}/oauth2/token", emu.url(), d::TENANT_ID),
        format!("{}/{}/v2.0", emu.url(), d::TENANT_ID),
        format!("{}/{}/oauth2/v2.0/token", emu.url(), d::TENANT_DOMAIN),
    ] {
        let assertion = cert.assertion(d::ERP_CLIENT_ID, &aud);
        let answer = emu
            .token_request(d::TENANT_ID, &assertion_form(d::ERP_CLIENT_ID, &assertion))
            .await;
        assert_eq!(answer.status, 200, "{aud}: {}", answer.json);
    }
}

#[tokio::test]
async fn bad_assertions_are_refused_with_entra_codes() {
    let (emu, cert, aud) = with_registered_cert().await;
    // The lifetime cap is a stricter check than Entra's, kept as a setting.
    let capped = emu
        .put("settings", json!({"max_assertion_lifetime_secs": 600}))
        .await;
    assert_eq!(capped.status, 200);
    let rs256 = json!({"alg": "RS256", "typ": "JWT", "x5t": cert.x5t()});
    let good_claims = || TestCert::claims(d::ERP_CLIENT_ID, &aud);
    let with = |key: &str, value: serde_json::Value| {
        let mut c = good_claims();
        c[key] = value;
        c
    };
    let other = TestCert::new(30);
    let t = now();
    let cases: Vec<(&str, String, u64)> = vec![
        (
            "signed by another key under the registered thumbprint",
            other.sign(&rs256, &good_claims()),
            700027,
        ),
        (
            "certificate not registered",
            other.assertion(d::ERP_CLIENT_ID, &aud),
            700027,
        ),
        (
            "expired",
            cert.sign(&rs256, &with("exp", json!(t - 3600))),
            700024,
        ),
        (
            "not yet valid",
            cert.sign(&rs256, &with("nbf", json!(t + 3600))),
            700024,
        ),
        (
            "valid for an hour",
            cert.sign(&rs256, &with("exp", json!(t + 3600))),
            700024,
        ),
        (
            "audience of another host",
            cert.sign(
                &rs256,
                &with(
                    "aud",
                    json!(format!(
                        "https://login.microsoftonline.com/{}/oauth2/v2.0/token",
                        d::TENANT_ID
                    )),
                ),
            ),
            700023,
        ),
        (
            "issuer is another app",
            cert.sign(&rs256, &with("iss", json!(d::REPORTING_CLIENT_ID))),
            700021,
        ),
        (
            "subject differs from issuer",
            cert.sign(&rs256, &with("sub", json!(d::REPORTING_CLIENT_ID))),
            50048,
        ),
        ("not a JWT", "abc.def".to_owned(), 50027),
        (
            "no jti",
            cert.sign(&rs256, &{
                let mut c = good_claims();
                c.as_object_mut().unwrap().remove("jti");
                c
            }),
            50027,
        ),
        (
            "HS256",
            cert.sign(
                &json!({"alg": "HS256", "typ": "JWT", "x5t": cert.x5t()}),
                &good_claims(),
            ),
            700027,
        ),
    ];
    for (what, assertion, code) in cases {
        let answer = emu
            .token_request(d::TENANT_ID, &assertion_form(d::ERP_CLIENT_ID, &assertion))
            .await;
        assert_eq!(answer.status, 401, "{what}: {}", answer.json);
        assert_eq!(answer.json["error"], "invalid_client", "{what}");
        assert_eq!(answer.aadsts(), Some(code), "{what}: {}", answer.json);
    }

    // The type must be the jwt-bearer URN.
    let assertion = cert.assertion(d::ERP_CLIENT_ID, &aud);
    let mut form = assertion_form(d::ERP_CLIENT_ID, &assertion);
    form.retain(|(k, _)| *k != "client_assertion_type");
    let answer = emu.token_request(d::TENANT_ID, &form).await;
    assert_eq!(answer.status, 400);
    assert_eq!(answer.aadsts(), Some(900144));
}

#[tokio::test]
async fn replayed_assertion_is_refused_when_asked() {
    let (emu, cert, aud) = with_registered_cert().await;
    let strict = emu
        .put("settings", json!({"reject_assertion_replay": true}))
        .await;
    assert_eq!(strict.status, 200);
    let assertion = cert.assertion(d::ERP_CLIENT_ID, &aud);
    let form = assertion_form(d::ERP_CLIENT_ID, &assertion);
    assert_eq!(emu.token_request(d::TENANT_ID, &form).await.status, 200);
    let replay = emu.token_request(d::TENANT_ID, &form).await;
    assert_eq!(replay.status, 401);
    assert_eq!(replay.aadsts(), Some(50027));
    assert!(
        replay.json["error_description"]
            .as_str()
            .unwrap()
            .contains("already been used")
    );
    let settings = emu
        .put("settings", json!({"reject_assertion_replay": false}))
        .await;
    assert_eq!(settings.status, 200);
    assert_eq!(emu.token_request(d::TENANT_ID, &form).await.status, 200);
}

#[tokio::test]
async fn expired_certificate_is_refused() {
    let emu = Emu::start().await;
    let start = time::OffsetDateTime::now_utc() - time::Duration::days(60);
    let cert = TestCert::valid(start, start + time::Duration::days(30));
    let registered = emu
        .api(
            reqwest::Method::POST,
            &format!("apps/{}/certificates", d::ERP_CLIENT_ID),
            Some(json!({"certificate": cert.pem})),
        )
        .await;
    assert_eq!(registered.status, 201, "{}", registered.json);
    let assertion = cert.assertion(d::ERP_CLIENT_ID, &emu.token_url(d::TENANT_ID));
    let answer = emu
        .token_request(d::TENANT_ID, &assertion_form(d::ERP_CLIENT_ID, &assertion))
        .await;
    assert_eq!(answer.aadsts(), Some(700027));
    assert!(
        answer.json["error_description"]
            .as_str()
            .unwrap()
            .contains("expired")
    );
}

#[tokio::test]
async fn certificate_registration_refuses_bad_input() {
    let emu = Emu::start().await;
    let path = format!(
        "{}/_emulator/apps/{}/certificates",
        emu.url(),
        d::ERP_CLIENT_ID
    );
    let bad = emu
        .http
        .post(&path)
        .body("not a certificate")
        .send()
        .await
        .unwrap();
    assert_eq!(bad.status(), 400);
    let cert = TestCert::new(1);
    let unknown = emu
        .http
        .post(format!(
            "{}/_emulator/apps/0bad0bad-0000-4000-8000-000000000000/certificates",
            emu.url()
        ))
        .body(cert.pem.clone())
        .send()
        .await
        .unwrap();
    assert_eq!(unknown.status(), 404);
}

#[tokio::test]
async fn certificates_from_the_directory_file() {
    let cert = TestCert::new(30);
    let text = format!(
        r#"
        [[tenants]]
        id = "{tenant}"
        domains = ["contoso.test"]

        [[tenants.apps]]
        client_id = "{client}"
        display_name = "Contoso ERP"
        roles = ["Mail.Send"]
        secrets = [{{ value = "s" }}]
        certificates = ['''{pem}''']

        [[tenants.mailboxes]]
        address = "erp@contoso.test"
        "#,
        tenant = d::TENANT_ID,
        client = d::ERP_CLIENT_ID,
        pem = cert.pem
    );
    let directory = Directory::from_toml_str(&text).expect("directory parses");
    assert_eq!(directory.tenants[0].apps[0].certificates.len(), 1);
    let emu = Emu::with_directory(directory).await;
    let assertion = cert.assertion(d::ERP_CLIENT_ID, &emu.token_url(d::TENANT_ID));
    let answer = emu
        .token_request(d::TENANT_ID, &assertion_form(d::ERP_CLIENT_ID, &assertion))
        .await;
    assert_eq!(answer.status, 200, "{}", answer.json);
    let listed = emu
        .get(&format!("apps/{}/certificates", d::ERP_CLIENT_ID))
        .await;
    assert_eq!(listed.json["certificates"][0]["source"], "directory");
}

#[tokio::test]
async fn scripted_token_fault_answers_503_with_retry_after() {
    let emu = Emu::start().await;
    let plan =
        json!({"token": [{"status": 503, "retry_after_secs": 3, "client_id": d::ERP_CLIENT_ID}]});
    assert_eq!(emu.put("faults", plan).await.status, 200);
    // Another app is not affected by the ERP app's fault.
    emu.token(d::REPORTING_CLIENT_ID, d::REPORTING_SECRET).await;
    let form = secret_form(d::ERP_CLIENT_ID, d::ERP_SECRET, d::GRAPH_SCOPE);
    let failed = emu.token_request(d::TENANT_ID, &form).await;
    assert_eq!(failed.status, 503);
    assert_eq!(failed.header("retry-after"), Some("3"));
    assert_eq!(failed.json["error"], "temporarily_unavailable");
    assert_eq!(failed.aadsts(), Some(90033));
    assert_eq!(emu.token_request(d::TENANT_ID, &form).await.status, 200);
}

#[tokio::test]
async fn either_thumbprint_may_name_the_certificate() {
    let (emu, cert, aud) = with_registered_cert().await;
    let other = TestCert::new(30);
    // A stale x5t beside the right x5t#S256 still finds the key.
    let header =
        json!({"alg": "RS256", "typ": "JWT", "x5t": other.x5t(), "x5t#S256": cert.x5t_s256()});
    let assertion = cert.sign(&header, &TestCert::claims(d::ERP_CLIENT_ID, &aud));
    let answer = emu
        .token_request(d::TENANT_ID, &assertion_form(d::ERP_CLIENT_ID, &assertion))
        .await;
    assert_eq!(answer.status, 200, "{}", answer.json);
    // A hex thumbprint in x5t (an old ADAL mistake) names no key.
    let hex: String =
        aws_lc_rs::digest::digest(&aws_lc_rs::digest::SHA1_FOR_LEGACY_USE_ONLY, &cert.der)
            .as_ref()
            .iter()
            .map(|b| format!("{b:02X}"))
            .collect();
    let header = json!({"alg": "RS256", "typ": "JWT", "x5t": hex});
    let assertion = cert.sign(&header, &TestCert::claims(d::ERP_CLIENT_ID, &aud));
    let answer = emu
        .token_request(d::TENANT_ID, &assertion_form(d::ERP_CLIENT_ID, &assertion))
        .await;
    assert_eq!(answer.aadsts(), Some(700027));
    let description = answer.json["error_description"].as_str().unwrap();
    assert!(
        description.contains(&format!("Thumbprint of key used by client: '{hex}'")),
        "{description}"
    );
}

#[tokio::test]
async fn an_assertion_may_be_reused_until_it_expires_with_no_lifetime_cap() {
    let (emu, cert, aud) = with_registered_cert().await;
    // An hour long, as MSAL .NET and msal-node may cache one, and used twice.
    let rs256 = json!({"alg": "RS256", "typ": "JWT", "x5t": cert.x5t()});
    let mut claims = TestCert::claims(d::ERP_CLIENT_ID, &aud);
    claims["exp"] = json!(now() + 3600);
    let assertion = cert.sign(&rs256, &claims);
    let form = assertion_form(d::ERP_CLIENT_ID, &assertion);
    for attempt in ["first", "second"] {
        let answer = emu.token_request(d::TENANT_ID, &form).await;
        assert_eq!(answer.status, 200, "{attempt}: {}", answer.json);
    }
}
