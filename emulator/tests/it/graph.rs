//! Graph sendMail over real HTTP(S): answers, error shapes, ids,
//! throttling under concurrency, scripted faults, HTTP/2 and HTTP/1.1.

use crate::common;

use common::{Answer, Emu, client_for, message};
use graphmailer_emulator::defaults as d;
use serde_json::json;

#[tokio::test]
async fn send_is_accepted_stored_and_echoes_ids() {
    let emu = Emu::start().await;
    let token = emu.erp_token().await;
    let client_request_id = "6f1e2d3c-4b5a-4978-8695-a4b3c2d1e0f9";
    let response = emu
        .http
        .post(format!(
            "{}/v1.0/users/{}/sendMail",
            emu.url(),
            d::ERP_MAILBOX
        ))
        .bearer_auth(&token)
        .header("client-request-id", client_request_id)
        .json(&message("Invoice 42"))
        .send()
        .await
        .unwrap();
    let answer = Answer::read(response).await;
    assert_eq!(answer.status, 202);
    assert_eq!(
        answer.json,
        serde_json::Value::Null,
        "202 has an empty body"
    );
    assert_eq!(answer.header("client-request-id"), Some(client_request_id));
    let request_id = answer.header("request-id").unwrap().to_owned();
    assert!(uuid::Uuid::parse_str(&request_id).is_ok());

    assert!(
        answer
            .header("x-ms-ags-diagnostic")
            .is_some_and(|v| v.contains("ServerInfo")),
        "Graph's diagnostic header"
    );

    let stored = emu.get("messages").await.json["messages"].clone();
    assert_eq!(stored.as_array().unwrap().len(), 1);
    let m = &stored[0];
    assert_eq!(m["mailbox"], d::ERP_MAILBOX);
    assert_eq!(m["app_id"], d::ERP_CLIENT_ID);
    assert_eq!(m["request_id"], request_id.as_str());
    assert_eq!(m["client_request_id"], client_request_id);
    assert_eq!(m["save_to_sent_items"], false);
    assert_eq!(m["message"]["subject"], "Invoice 42");

    // By object id as well as by address.
    let by_id = emu
        .send(&token, d::BILLING_MAILBOX_ID, &message("by id"))
        .await;
    assert_eq!(by_id.status, 202, "{}", by_id.json);
}

#[tokio::test]
async fn property_names_match_case_insensitively() {
    let emu = Emu::start().await;
    let token = emu.erp_token().await;
    let body = json!({
        "Message": {
            "Subject": "SDK casing",
            "Body": {"ContentType": "HTML", "Content": "<p>hi</p>"},
            "ToRecipients": [{"EmailAddress": {"Address": "a@example.com"}}]
        },
        "SaveToSentItems": false
    });
    let answer = emu.send(&token, d::ERP_MAILBOX, &body).await;
    assert_eq!(answer.status, 202, "{}", answer.json);
    let stored = &emu.emulator.messages()[0];
    assert!(!stored.save_to_sent_items);
    assert_eq!(stored.subject(), Some("SDK casing"));
    assert_eq!(stored.recipients("toRecipients"), ["a@example.com"]);
}

#[tokio::test]
async fn unauthenticated_requests_get_401_with_a_challenge() {
    let emu = Emu::start().await;
    let url = format!("{}/v1.0/users/{}/sendMail", emu.url(), d::ERP_MAILBOX);
    let none = Answer::read(
        emu.http
            .post(&url)
            .json(&message("x"))
            .send()
            .await
            .unwrap(),
    )
    .await;
    let garbage = emu.send("not-a-token", d::ERP_MAILBOX, &message("x")).await;
    let token = emu.erp_token().await;
    let revoked = emu.post("tokens/revoke", json!({})).await;
    assert_eq!(revoked.status, 200);
    let after_revoke = emu.send(&token, d::ERP_MAILBOX, &message("x")).await;
    for answer in [none, garbage, after_revoke] {
        assert_eq!(answer.status, 401, "{}", answer.json);
        assert_eq!(answer.graph_code(), "InvalidAuthenticationToken");
        let challenge = answer.header("www-authenticate").unwrap();
        assert!(challenge.starts_with("Bearer realm=\"\""), "{challenge}");
        assert!(challenge.contains("client_id=\"00000003-0000-0000-c000-000000000000\""));
    }
    assert!(emu.emulator.messages().is_empty());
}

/// The emulator remembers a token whose signature it checked; a token it
/// already accepted is still refused once it expires or is revoked, and a
/// copy with one byte changed is refused as a new one would be.
#[tokio::test]
async fn a_token_accepted_before_is_refused_once_expired_forged_or_revoked() {
    let emu = Emu::start().await;
    let token = emu.erp_token().await;
    for _ in 0..2 {
        let ok = emu.send(&token, d::ERP_MAILBOX, &message("x")).await;
        assert_eq!(ok.status, 202, "{}", ok.json);
    }
    // Inside the signature, not its last character, whose low bits must be zero.
    let at = token.len() - 10;
    let mut forged = token.clone();
    let changed = if &token[at..=at] == "A" { "B" } else { "A" };
    forged.replace_range(at..=at, changed);
    let forged = emu.send(&forged, d::ERP_MAILBOX, &message("x")).await;
    assert_eq!(forged.status, 401, "{}", forged.json);
    assert_eq!(
        forged.json["error"]["message"],
        "Access token validation failure. Invalid signature."
    );

    let lifetime_ms = 1000
        * emu.get("settings").await.json["token_lifetime_secs"]
            .as_u64()
            .unwrap();
    emu.advance_clock(lifetime_ms).await;
    let expired = emu.send(&token, d::ERP_MAILBOX, &message("x")).await;
    assert_eq!(expired.status, 401, "{}", expired.json);
    assert_eq!(
        expired.json["error"]["message"],
        "Lifetime validation failed, the token is expired."
    );

    let fresh = emu.erp_token().await;
    let ok = emu.send(&fresh, d::ERP_MAILBOX, &message("x")).await;
    assert_eq!(ok.status, 202, "{}", ok.json);
    assert_eq!(emu.post("tokens/revoke", json!({})).await.status, 200);
    let revoked = emu.send(&fresh, d::ERP_MAILBOX, &message("x")).await;
    assert_eq!(revoked.status, 401, "{}", revoked.json);
    assert_eq!(
        revoked.json["error"]["message"],
        "Access token validation failure. The token has been revoked."
    );
    assert_eq!(emu.emulator.messages().len(), 3);
}

#[tokio::test]
async fn forbidden_for_missing_role_and_for_policy() {
    let emu = Emu::start().await;
    let reporting = emu.token(d::REPORTING_CLIENT_ID, d::REPORTING_SECRET).await;
    let no_role = emu.send(&reporting, d::ERP_MAILBOX, &message("x")).await;
    assert_eq!(no_role.status, 403);
    assert_eq!(no_role.graph_code(), "ErrorAccessDenied");
    assert_eq!(
        no_role.json["error"]["message"],
        "Access is denied. Check credentials and try again."
    );

    let intranet = emu.token(d::INTRANET_CLIENT_ID, d::INTRANET_SECRET).await;
    let no_roles = emu.send(&intranet, d::ERP_MAILBOX, &message("x")).await;
    assert_eq!(no_roles.status, 401);
    assert_eq!(no_roles.graph_code(), "NoPermissionsInAccessToken");

    let erp = emu.erp_token().await;
    let policy = emu.send(&erp, d::CEO_MAILBOX, &message("x")).await;
    assert_eq!(policy.status, 403);
    assert_eq!(policy.graph_code(), "ErrorAccessDenied");
    assert_eq!(
        policy.json["error"]["message"],
        "Access to OData is disabled."
    );

    // The shared mailbox in the policy group is fine; the Legacy Sync app has
    // no policy, so it may send as the CEO.
    assert_eq!(
        emu.send(&erp, d::BILLING_MAILBOX, &message("x"))
            .await
            .status,
        202
    );
    let legacy = emu
        .token(d::LEGACY_SYNC_CLIENT_ID, d::LEGACY_SYNC_SECRET)
        .await;
    assert_eq!(
        emu.send(&legacy, d::CEO_MAILBOX, &message("x"))
            .await
            .status,
        202
    );
    assert_eq!(emu.emulator.messages().len(), 2);
}

#[tokio::test]
async fn not_found_for_unknown_user_and_unlicensed_mailbox() {
    let emu = Emu::start().await;
    let token = emu.erp_token().await;
    let unknown = emu.send(&token, "nobody@contoso.test", &message("x")).await;
    assert_eq!(unknown.status, 404);
    assert_eq!(unknown.graph_code(), "ErrorInvalidUser");
    let unlicensed = emu.send(&token, d::LEGACY_MAILBOX, &message("x")).await;
    assert_eq!(unlicensed.status, 404);
    assert_eq!(unlicensed.graph_code(), "MailboxNotEnabledForRESTAPI");
}

#[tokio::test]
async fn invalid_bodies_get_400_and_errors_have_graph_shape() {
    let emu = Emu::start().await;
    let token = emu.erp_token().await;
    let no_recipients =
        json!({"message": {"subject": "x", "body": {"contentType": "text", "content": "y"}}});
    let answer = emu.send(&token, d::ERP_MAILBOX, &no_recipients).await;
    assert_eq!(answer.status, 400);
    assert_eq!(answer.graph_code(), "ErrorInvalidRecipients");
    let inner = &answer.json["error"]["innerError"];
    let date = inner["date"].as_str().unwrap();
    let parsed = time::PrimitiveDateTime::parse(
        date,
        time::macros::format_description!("[year]-[month]-[day]T[hour]:[minute]:[second]"),
    );
    assert!(parsed.is_ok(), "innerError.date {date} is not ISO-8601");
    assert_eq!(inner["request-id"], answer.header("request-id").unwrap());
    assert!(inner["client-request-id"].is_string());

    let mut six_headers = message("headers");
    six_headers["message"]["internetMessageHeaders"] = (0..6)
        .map(|i| json!({"name": format!("x-h{i}"), "value": "v"}))
        .collect();
    let answer = emu.send(&token, d::ERP_MAILBOX, &six_headers).await;
    assert_eq!(answer.status, 400);
    assert_eq!(
        answer.graph_code(),
        "InvalidInternetMessageHeaderCollection"
    );

    let broken = Answer::read(
        emu.http
            .post(format!(
                "{}/v1.0/users/{}/sendMail",
                emu.url(),
                d::ERP_MAILBOX
            ))
            .bearer_auth(&token)
            .header("content-type", "application/json")
            .body("{not json")
            .send()
            .await
            .unwrap(),
    )
    .await;
    assert_eq!(broken.status, 400);
    assert!(emu.emulator.messages().is_empty());
}

#[tokio::test]
async fn over_four_megabytes_is_413() {
    let emu = Emu::start().await;
    let token = emu.erp_token().await;
    let mut big = message("big");
    big["message"]["attachments"] = json!([{
        "@odata.type": "#microsoft.graph.fileAttachment",
        "name": "big.bin",
        "contentBytes": "A".repeat(4 * 1024 * 1024 + 4),
    }]);
    let answer = emu.send(&token, d::ERP_MAILBOX, &big).await;
    assert_eq!(answer.status, 413);
    assert_eq!(answer.graph_code(), "RequestEntityTooLarge");
}

#[tokio::test]
async fn me_send_mail_is_for_delegated_tokens_only() {
    let emu = Emu::start().await;
    let token = emu.erp_token().await;
    let answer = Answer::read(
        emu.http
            .post(format!("{}/v1.0/me/sendMail", emu.url()))
            .bearer_auth(&token)
            .json(&message("x"))
            .send()
            .await
            .unwrap(),
    )
    .await;
    assert_eq!(answer.status, 400);
    assert_eq!(
        answer.json["error"]["message"],
        "/me request is only valid with delegated authentication flow."
    );
}

#[tokio::test]
async fn concurrency_over_the_mailbox_limit_is_throttled() {
    let emu = Emu::start().await;
    let token = emu.erp_token().await;
    assert_eq!(
        emu.put("faults", json!({"delay_ms": 800})).await.status,
        200
    );
    let sends = (0..6).map(|i| {
        let emu = &emu;
        let token = &token;
        async move {
            emu.send(token, d::ERP_MAILBOX, &message(&format!("n{i}")))
                .await
        }
    });
    let answers = futures::future::join_all(sends).await;
    let accepted = answers.iter().filter(|a| a.status == 202).count();
    let throttled: Vec<&Answer> = answers.iter().filter(|a| a.status == 429).collect();
    assert_eq!(accepted, 4, "the mailbox allows 4 at once");
    assert_eq!(throttled.len(), 2);
    for answer in throttled {
        assert_eq!(answer.graph_code(), "ApplicationThrottled");
        let retry: u64 = answer.header("retry-after").unwrap().parse().unwrap();
        assert!(retry >= 1);
    }
    let counters = emu.emulator.counters();
    assert_eq!(counters.throttled, 2);
    assert!(counters.max_in_flight >= 5);
}

#[tokio::test]
async fn scripted_503_with_retry_after() {
    let emu = Emu::start().await;
    let token = emu.erp_token().await;
    let plan = json!({"send": [{"status": 503, "retry_after_secs": 7}]});
    assert_eq!(emu.put("faults", plan).await.status, 200);
    let first = emu.send(&token, d::ERP_MAILBOX, &message("x")).await;
    assert_eq!(first.status, 503);
    assert_eq!(first.header("retry-after"), Some("7"));
    assert!(first.header("request-id").is_some());
    // Used once: the next request goes through.
    assert_eq!(
        emu.send(&token, d::ERP_MAILBOX, &message("x")).await.status,
        202
    );
    assert_eq!(emu.emulator.counters().faults_injected, 1);
}

#[tokio::test]
async fn dropped_connections_with_and_without_delivery() {
    let emu = Emu::start().await;
    let token = emu.erp_token().await;
    let plan = json!({"send": [
        {"drop_after_body": true},
        {"drop_after_body": true, "deliver": true}
    ]});
    assert_eq!(emu.put("faults", plan).await.status, 200);
    let url = format!("{}/v1.0/users/{}/sendMail", emu.url(), d::ERP_MAILBOX);
    let lost = emu
        .http
        .post(&url)
        .bearer_auth(&token)
        .json(&message("lost"))
        .send()
        .await;
    assert!(lost.is_err(), "the connection closes without an answer");
    assert!(emu.emulator.messages().is_empty());
    let delivered = emu
        .http
        .post(&url)
        .bearer_auth(&token)
        .json(&message("delivered"))
        .send()
        .await;
    assert!(delivered.is_err());
    let stored = emu.emulator.messages();
    assert_eq!(stored.len(), 1);
    assert_eq!(stored[0].subject(), Some("delivered"));
}

#[tokio::test]
async fn https_speaks_http2_and_http1() {
    let emu = Emu::start_tls().await;
    assert!(emu.url().starts_with("https://"));
    let token = emu.erp_token().await;
    let url = format!("{}/v1.0/users/{}/sendMail", emu.url(), d::ERP_MAILBOX);
    let h2 = emu
        .http
        .post(&url)
        .bearer_auth(&token)
        .json(&message("h2"))
        .send()
        .await
        .unwrap();
    assert_eq!(h2.version(), reqwest::Version::HTTP_2);
    assert_eq!(h2.status(), 202);

    let h1 = client_for(&emu.emulator, true);
    let response = h1
        .post(&url)
        .bearer_auth(&token)
        .json(&message("h1"))
        .send()
        .await
        .unwrap();
    assert_eq!(response.version(), reqwest::Version::HTTP_11);
    assert_eq!(response.status(), 202);

    // A client that does not trust the emulator's CA is refused.
    let untrusting = reqwest::Client::builder().no_proxy().build().unwrap();
    assert!(untrusting.get(emu.url()).send().await.is_err());
    assert_eq!(emu.emulator.messages().len(), 2);
}

#[tokio::test]
async fn mime_sends_are_accepted_and_bad_base64_refused() {
    use base64::Engine;
    let emu = Emu::start().await;
    let token = emu.erp_token().await;
    let url = format!("{}/v1.0/users/{}/sendMail", emu.url(), d::ERP_MAILBOX);
    let mime =
        "From: erp@contoso.test\r\nTo: someone@example.com\r\nSubject: MIME\r\n\r\nHello\r\n";
    let body = base64::engine::general_purpose::STANDARD.encode(mime);
    let sent = Answer::read(
        emu.http
            .post(&url)
            .bearer_auth(&token)
            .header("content-type", "text/plain")
            .body(body)
            .send()
            .await
            .unwrap(),
    )
    .await;
    assert_eq!(sent.status, 202, "{}", sent.json);
    let stored = &emu.emulator.messages()[0];
    assert_eq!(stored.mime.as_deref(), Some(mime));
    // The MIME is also read into the JSON message shape.
    assert_eq!(stored.subject(), Some("MIME"));
    assert_eq!(stored.recipients("toRecipients"), ["someone@example.com"]);
    assert_eq!(stored.sent_via, graphmailer_emulator::SentVia::Mime);

    let bad = Answer::read(
        emu.http
            .post(&url)
            .bearer_auth(&token)
            .header("content-type", "text/plain")
            .body("%%% not base64 %%%")
            .send()
            .await
            .unwrap(),
    )
    .await;
    assert_eq!(bad.status, 400);
    assert_eq!(bad.graph_code(), "ErrorMimeContentInvalidBase64String");
}

/// The ids go on every Graph answer, a refusal and an upload URL's included,
/// so a client can always quote them; without a `client-request-id` the
/// emulator makes one, as Graph does.
#[tokio::test]
async fn every_graph_answer_carries_the_ids() {
    let emu = Emu::start().await;
    let no_token = emu
        .http
        .post(format!(
            "{}/v1.0/users/nobody@nowhere.test/sendMail",
            emu.url()
        ))
        .header("client-request-id", "0d3b8b5e-1c1e-4e4f-9a52-6f8e2b8a7c10")
        .json(&message("No token"))
        .send()
        .await
        .unwrap();
    let answer = Answer::read(no_token).await;
    assert_eq!(answer.status, 401);
    assert_eq!(
        answer.header("client-request-id"),
        Some("0d3b8b5e-1c1e-4e4f-9a52-6f8e2b8a7c10")
    );
    assert_eq!(
        answer.json["error"]["innerError"]["request-id"].as_str(),
        answer.header("request-id")
    );

    let upload = emu
        .http
        .get(format!("{}/upload/no-such-session", emu.url()))
        .send()
        .await
        .unwrap();
    let answer = Answer::read(upload).await;
    assert_eq!(answer.status, 404, "an unknown upload URL is refused");
    for id in ["request-id", "client-request-id"] {
        let value = answer.header(id).unwrap_or_default();
        assert!(uuid::Uuid::parse_str(value).is_ok(), "{id}: {value:?}");
    }
    assert!(answer.header("x-ms-ags-diagnostic").is_some());
}

/// Graph's paths are read below the version segment as Graph reads them:
/// percent-decoded (a mailbox as `erp%40contoso.test`), an OData key
/// (`users('ERP@...')`) alike, `/beta` beside `/v1.0`, and the connection
/// log counts them all under the one mailbox; a path that is not UTF-8 once decoded is refused as Graph
/// refuses a bad request, with the ids; a version with nothing below it is
/// not an endpoint; and HEAD has its answer's headers without a body.
#[tokio::test]
async fn graph_paths_are_decoded_below_the_version() {
    let emu = Emu::start().await;
    let token = emu.erp_token().await;
    let encoded = d::ERP_MAILBOX.replace('@', "%40");
    for version in ["v1.0", "beta"] {
        let response = emu
            .http
            .post(format!("{}/{version}/users/{encoded}/sendMail", emu.url()))
            .bearer_auth(&token)
            .json(&message("Encoded"))
            .send()
            .await
            .unwrap();
        assert_eq!(Answer::read(response).await.status, 202, "{version}");
    }
    let odata_key = emu
        .http
        .post(format!(
            "{}/v1.0/users('{}')/sendMail",
            emu.url(),
            d::ERP_MAILBOX.to_uppercase()
        ))
        .bearer_auth(&token)
        .json(&message("OData key"))
        .send()
        .await
        .unwrap();
    assert_eq!(Answer::read(odata_key).await.status, 202);
    let stored = emu.get("messages").await.json["messages"].clone();
    assert_eq!(stored.as_array().unwrap().len(), 3);
    assert_eq!(stored[0]["mailbox"], d::ERP_MAILBOX);
    // The connection log counts each under the mailbox as Graph reads it.
    let connections = emu.get("connections").await.json["connections"].clone();
    let counted: u64 = connections
        .as_array()
        .unwrap()
        .iter()
        .filter_map(|c| c["requests"][d::ERP_MAILBOX].as_u64())
        .sum();
    assert_eq!(counted, 3, "{connections}");

    let not_utf8 = emu
        .http
        .get(format!("{}/v1.0/users/%FF%FE", emu.url()))
        .bearer_auth(&token)
        .send()
        .await
        .unwrap();
    let answer = Answer::read(not_utf8).await;
    assert_eq!(answer.status, 400);
    assert_eq!(answer.json["error"]["code"], "BadRequest");
    assert!(answer.header("request-id").is_some());

    for bare in ["/v1.0/", "/v1.0", "/V1.0/users"] {
        let response = emu
            .http
            .get(format!("{}{bare}", emu.url()))
            .send()
            .await
            .unwrap();
        assert_eq!(Answer::read(response).await.status, 404, "{bare}");
    }

    let head = emu
        .http
        .head(format!(
            "{}/v1.0/users/{}/sendMail",
            emu.url(),
            d::ERP_MAILBOX
        ))
        .bearer_auth(&token)
        .send()
        .await
        .unwrap();
    assert_eq!(head.status(), 405);
    assert!(head.headers().contains_key("request-id"));
    let length: usize = head.headers()["content-length"]
        .to_str()
        .unwrap()
        .parse()
        .unwrap();
    assert!(length > 0, "the length a GET's body would have");
    assert!(head.bytes().await.unwrap().is_empty());
}

/// Graph's request budget per app and mailbox: past it a 429 that says
/// which limit and when the window frees up, and the budget back once the
/// window has passed.
#[tokio::test]
async fn the_request_budget_refuses_past_it_and_comes_back_after_the_window() {
    let emu = Emu::start().await;
    let budget = json!({"rate_limit_requests": 2, "rate_limit_window_secs": 60});
    assert_eq!(emu.put("settings", budget).await.status, 200);
    let token = emu.erp_token().await;
    for _ in 0..2 {
        let sent = emu
            .send(&token, d::ERP_MAILBOX, &message("In budget"))
            .await;
        assert_eq!(sent.status, 202);
    }
    let refused = emu.send(&token, d::ERP_MAILBOX, &message("Over")).await;
    assert_eq!(refused.status, 429);
    assert!(
        refused.json["error"]["message"]
            .as_str()
            .is_some_and(|m| m.contains("MailboxRequestRate")),
        "{:?}",
        refused.json
    );
    let retry_after: u64 = refused.header("retry-after").unwrap().parse().unwrap();
    assert!(
        (59..=61).contains(&retry_after),
        "Retry-After: {retry_after}"
    );
    emu.advance_clock(61_000).await;
    let sent = emu
        .send(&token, d::ERP_MAILBOX, &message("Window passed"))
        .await;
    assert_eq!(sent.status, 202);
}
