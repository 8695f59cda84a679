//! The service's exact answers where the emulator once answered otherwise:
//! each test here failed against the earlier emulator. Sources are listed
//! in the README's "Known differences" section.

use crate::common;

use base64::Engine;
use base64::engine::general_purpose::STANDARD;
use common::{Answer, Emu, message};
use graphmailer_emulator::defaults as d;
use serde_json::{Value, json};

fn with_attachment(attachment: Value) -> Value {
    let mut body = message("attachment");
    body["message"]["attachments"] = json!([attachment]);
    body
}

#[tokio::test]
async fn a_token_without_roles_is_unauthenticated() {
    let emu = Emu::start().await;
    let intranet = emu.token(d::INTRANET_CLIENT_ID, d::INTRANET_SECRET).await;
    let answer = emu.send(&intranet, d::ERP_MAILBOX, &message("x")).await;
    assert_eq!(answer.status, 401, "{}", answer.json);
    assert_eq!(answer.graph_code(), "NoPermissionsInAccessToken");
}

#[tokio::test]
async fn odata_booleans_may_be_strings() {
    let emu = Emu::start().await;
    let token = emu.erp_token().await;
    // Microsoft's own sendMail example sends the boolean as a string.
    let mut body = message("string booleans");
    body["saveToSentItems"] = json!("false");
    body["message"]["isReadReceiptRequested"] = json!("true");
    let answer = emu.send(&token, d::ERP_MAILBOX, &body).await;
    assert_eq!(answer.status, 202, "{}", answer.json);
    let messages = emu.get("messages").await.json;
    assert_eq!(messages["messages"][0]["save_to_sent_items"], false);

    body["saveToSentItems"] = json!("TRUE");
    assert_eq!(emu.send(&token, d::ERP_MAILBOX, &body).await.status, 202);
    let messages = emu.get("messages").await.json;
    assert_eq!(messages["messages"][1]["save_to_sent_items"], true);

    body["saveToSentItems"] = json!("nope");
    let refused = emu.send(&token, d::ERP_MAILBOX, &body).await;
    assert_eq!(refused.status, 400);
    assert_eq!(refused.graph_code(), "RequestBodyRead");

    let inline = with_attachment(json!({
        "@odata.type": "#microsoft.graph.fileAttachment",
        "name": "logo.png", "contentBytes": "aGk=", "isInline": "true", "contentId": "logo"
    }));
    assert_eq!(emu.send(&token, d::ERP_MAILBOX, &inline).await.status, 202);
}

#[tokio::test]
async fn attachments_and_headers_get_exchanges_codes() {
    let emu = Emu::start().await;
    let token = emu.erp_token().await;
    let untyped = with_attachment(json!({"name": "a.txt", "contentBytes": "aGk="}));
    let answer = emu.send(&token, d::ERP_MAILBOX, &untyped).await;
    assert_eq!(answer.status, 400);
    assert_eq!(answer.graph_code(), "RequestBodyRead");
    let text = answer.json["error"]["message"].as_str().unwrap();
    assert!(text.contains("'@odata.type'"), "{text}");

    let empty = with_attachment(json!({
        "@odata.type": "#microsoft.graph.fileAttachment", "name": "a.txt"
    }));
    let answer = emu.send(&token, d::ERP_MAILBOX, &empty).await;
    assert_eq!(answer.status, 400);
    assert_eq!(answer.graph_code(), "ErrorRequiredPropertyMissing");
    let text = answer.json["error"]["message"].as_str().unwrap();
    assert!(text.contains("contentBytes"), "{text}");

    let mut header = message("header");
    header["message"]["internetMessageHeaders"] = json!([{"name": "Reply-To", "value": "v"}]);
    let answer = emu.send(&token, d::ERP_MAILBOX, &header).await;
    assert_eq!(answer.status, 400);
    assert_eq!(answer.graph_code(), "InvalidInternetMessageHeader");
}

#[tokio::test]
async fn the_size_limit_counts_attachments_encoded() {
    let emu = Emu::start().await;
    let token = emu.erp_token().await;
    // 3,000 bytes weigh 4,000 encoded: over a 3,500-byte limit, though the
    // decoded file (plus the 5-byte body) is under it.
    let limit = emu
        .put("settings", json!({"max_message_size_bytes": 3500}))
        .await;
    assert_eq!(limit.status, 200, "{}", limit.json);
    let body = with_attachment(json!({
        "@odata.type": "#microsoft.graph.fileAttachment",
        "name": "a.bin", "contentBytes": STANDARD.encode(vec![7u8; 3000])
    }));
    let answer = emu.send(&token, d::ERP_MAILBOX, &body).await;
    assert_eq!(answer.status, 400, "{}", answer.json);
    assert_eq!(answer.graph_code(), "ErrorMessageSizeExceeded");
    emu.put("settings", json!({"max_message_size_bytes": 4005}))
        .await;
    assert_eq!(emu.send(&token, d::ERP_MAILBOX, &body).await.status, 202);
}

#[tokio::test]
async fn more_than_500_recipients_are_refused() {
    let emu = Emu::start().await;
    let token = emu.erp_token().await;
    let recipients = |n: usize| -> Value {
        (0..n)
            .map(|i| json!({"emailAddress": {"address": format!("r{i}@example.com")}}))
            .collect()
    };
    let mut body = message("many");
    body["message"]["toRecipients"] = recipients(300);
    body["message"]["bccRecipients"] = recipients(200);
    assert_eq!(emu.send(&token, d::ERP_MAILBOX, &body).await.status, 202);
    body["message"]["ccRecipients"] = recipients(1);
    let answer = emu.send(&token, d::ERP_MAILBOX, &body).await;
    assert_eq!(answer.status, 400, "{}", answer.json);
    assert_eq!(answer.graph_code(), "ErrorRecipientLimitExceeded");
    // An administrator may raise it to 1,000.
    emu.put("settings", json!({"max_recipients_per_message": 1000}))
        .await;
    assert_eq!(emu.send(&token, d::ERP_MAILBOX, &body).await.status, 202);
}

#[tokio::test]
async fn a_retry_before_retry_after_gets_another_429_and_is_counted() {
    let emu = Emu::start().await;
    let token = emu.erp_token().await;
    emu.put("settings", json!({"mailbox_concurrency": 1})).await;
    // The first send holds the mailbox's only slot for a while.
    emu.put("faults", json!({"delay_ms": 300})).await;
    let body = message("slot");
    let (first, second) = tokio::join!(emu.send(&token, d::ERP_MAILBOX, &body), async {
        // Wait until the first send holds the slot, not for a fixed time.
        loop {
            if emu.emulator.counters().max_in_flight >= 1 {
                break;
            }
            tokio::task::yield_now().await;
        }
        emu.send(&token, d::ERP_MAILBOX, &body).await
    });
    assert_eq!(first.status, 202, "{}", first.json);
    assert_eq!(second.status, 429, "{}", second.json);
    assert_eq!(second.header("retry-after"), Some("1"));
    // The slot is free now, but the second's Retry-After has not passed.
    emu.put("faults", json!({})).await;
    let early = emu.send(&token, d::ERP_MAILBOX, &body).await;
    assert_eq!(early.status, 429, "{}", early.json);
    assert!(early.header("retry-after").is_some());
    let counters = emu.get("counters").await.json;
    assert_eq!(counters["early_retries"], 1, "{counters}");
}

#[tokio::test]
async fn unknown_resource_and_tenant_get_entras_answers() {
    let emu = Emu::start().await;
    let form = |scope: &'static str| {
        vec![
            ("grant_type", "client_credentials"),
            ("client_id", d::ERP_CLIENT_ID),
            ("client_secret", d::ERP_SECRET),
            ("scope", scope),
        ]
    };
    let resource = emu
        .token_request(d::TENANT_ID, &form("https://example.com/.default"))
        .await;
    assert_eq!(resource.status, 400);
    assert_eq!(resource.json["error"], "invalid_resource");
    assert_eq!(resource.aadsts(), Some(500011));

    let tenant = emu
        .token_request("fabrikam.test", &form(d::GRAPH_SCOPE))
        .await;
    assert_eq!(tenant.status, 400);
    assert_eq!(tenant.json["error"], "invalid_request");
    assert_eq!(tenant.aadsts(), Some(90002));
}

#[tokio::test]
async fn the_v1_token_endpoint_that_discovery_advertises_exists() {
    let emu = Emu::start().await;
    let discovery = emu
        .http
        .get(format!(
            "{}/{}/.well-known/openid-configuration",
            emu.url(),
            d::TENANT_ID
        ))
        .send()
        .await
        .unwrap();
    let discovery = Answer::read(discovery).await;
    let endpoint = discovery.json["token_endpoint"]
        .as_str()
        .unwrap()
        .to_owned();
    let request = |resource: &'static str| {
        emu.http.post(&endpoint).form(&[
            ("grant_type", "client_credentials"),
            ("client_id", d::ERP_CLIENT_ID),
            ("client_secret", d::ERP_SECRET),
            ("resource", resource),
        ])
    };
    let answer = Answer::read(request("https://graph.microsoft.com").send().await.unwrap()).await;
    assert_eq!(answer.status, 200, "{endpoint}: {}", answer.json);
    assert_eq!(answer.json["resource"], "https://graph.microsoft.com");
    assert!(answer.json["expires_in"].is_string(), "{}", answer.json);
    let token = answer.json["access_token"].as_str().unwrap();
    assert_eq!(
        emu.send(token, d::ERP_MAILBOX, &message("v1")).await.status,
        202
    );

    let unknown = Answer::read(request("https://example.com").send().await.unwrap()).await;
    assert_eq!(unknown.status, 400);
    assert_eq!(unknown.aadsts(), Some(500011));
}
