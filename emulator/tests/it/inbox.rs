//! The web inbox over real HTTP: the page and its policy, the list with
//! search and mailbox filter, the message view's parts, byte-for-byte
//! downloads, and live events. The browser test (`test-ui.sh`) drives the
//! same pages in Chromium.

use crate::common;

use base64::Engine;
use base64::engine::general_purpose::STANDARD;
use common::{Answer, Emu, message};
use graphmailer_emulator::defaults as d;
use serde_json::json;

impl Emu {
    async fn ui(&self, path: &str) -> reqwest::Response {
        self.http
            .get(format!("{}{path}", self.url()))
            .send()
            .await
            .expect("inbox answers")
    }
}

/// The subjects the inbox lists for a query string.
async fn subjects(emu: &Emu, query: &str) -> Vec<String> {
    let answer = Answer::read(emu.ui(&format!("/_emulator/ui/api/messages?{query}")).await).await;
    answer.json["messages"]
        .as_array()
        .unwrap()
        .iter()
        .map(|m| m["subject"].as_str().unwrap().to_owned())
        .collect()
}

fn header(response: &reqwest::Response, name: &str) -> String {
    response
        .headers()
        .get(name)
        .and_then(|v| v.to_str().ok())
        .unwrap_or("")
        .to_owned()
}

#[tokio::test]
async fn the_page_is_served_at_the_root_under_a_strict_policy() {
    let emu = Emu::start().await;
    assert_eq!(emu.emulator.banner().inbox, format!("{}/", emu.url()));
    let page = emu.ui("/").await;
    assert_eq!(page.status(), 200);
    let csp = header(&page, "content-security-policy");
    assert!(csp.contains("script-src 'self'"), "{csp}");
    assert!(!csp.contains("unsafe-inline"), "{csp}");
    let html = page.text().await.unwrap();
    assert!(html.contains("/_emulator/ui/app.js"));
    for asset in ["/_emulator/ui/app.js", "/_emulator/ui/app.css"] {
        assert_eq!(emu.ui(asset).await.status(), 200, "{asset}");
    }
}

#[tokio::test]
async fn messages_are_listed_newest_first_searched_and_shown() {
    let emu = Emu::start().await;
    let token = emu.erp_token().await;
    let pixel = vec![0x89, b'P', b'N', b'G', 0, 1, 2, 255];
    let report: Vec<u8> = (0..=255u8).cycle().take(70_000).collect();
    let mut first = message("Invoice 1001");
    first["message"]["body"] = json!({"contentType": "HTML",
        "content": "<h1>Invoice</h1><img src=\"cid:logo\"><img src=\"https://tracker.example/p.gif\"><script>alert(1)</script>"});
    first["message"]["ccRecipients"] =
        json!([{"emailAddress": {"address": "billing@contoso.test"}}]);
    first["message"]["internetMessageHeaders"] = json!([{"name": "x-erp-batch", "value": "42"}]);
    first["message"]["attachments"] = json!([
        {"@odata.type": "#microsoft.graph.fileAttachment", "name": "logo.png", "contentType": "image/png",
         "contentBytes": STANDARD.encode(&pixel), "isInline": true, "contentId": "logo"},
        {"@odata.type": "#microsoft.graph.fileAttachment", "name": "report.pdf", "contentType": "application/pdf",
         "contentBytes": STANDARD.encode(&report)}
    ]);
    assert_eq!(emu.send(&token, d::ERP_MAILBOX, &first).await.status, 202);
    assert_eq!(
        emu.send(&token, d::BILLING_MAILBOX, &message("Reminder"))
            .await
            .status,
        202
    );

    assert_eq!(subjects(&emu, "").await, ["Reminder", "Invoice 1001"]);
    assert_eq!(subjects(&emu, "q=invoice").await, ["Invoice 1001"]);
    assert_eq!(
        subjects(&emu, "q=SOMEONE%40example").await,
        ["Reminder", "Invoice 1001"]
    );
    // billing@ sent one and is on the other's Cc.
    assert_eq!(
        subjects(&emu, "mailbox=billing%40contoso.test").await,
        ["Reminder", "Invoice 1001"]
    );
    assert_eq!(
        subjects(&emu, "mailbox=erp%40contoso.test").await,
        ["Invoice 1001"]
    );

    let id = emu.emulator.messages()[0].id.clone();
    let detail = Answer::read(emu.ui(&format!("/_emulator/ui/api/messages/{id}")).await).await;
    assert_eq!(detail.json["body_type"], "html");
    assert_eq!(detail.json["headers"], json!([["x-erp-batch", "42"]]));
    assert_eq!(detail.json["attachment_list"][1]["size"], report.len());
    assert_eq!(detail.json["cc"][0]["address"], "billing@contoso.test");

    let body = emu.ui(&format!("/_emulator/ui/messages/{id}/body")).await;
    let csp = header(&body, "content-security-policy");
    assert!(csp.starts_with("sandbox"), "{csp}");
    assert!(
        csp.contains("default-src 'none'") && !csp.contains("script-src"),
        "{csp}"
    );
    assert!(!csp.contains("img-src *"), "{csp}");
    let html = body.text().await.unwrap();
    let cid_url = format!("/_emulator/ui/messages/{id}/cid/logo");
    assert!(html.contains(&cid_url), "{html}");
    let inline = emu.ui(&cid_url).await;
    assert_eq!(header(&inline, "content-type"), "image/png");
    assert_eq!(inline.bytes().await.unwrap().to_vec(), pixel);
    let remote = emu
        .ui(&format!("/_emulator/ui/messages/{id}/body?remote=1"))
        .await;
    assert!(header(&remote, "content-security-policy").contains("img-src *"));

    let download = emu
        .ui(&format!("/_emulator/ui/messages/{id}/attachments/1"))
        .await;
    assert!(
        header(&download, "content-disposition").starts_with("attachment; filename=\"report.pdf\"")
    );
    assert_eq!(download.bytes().await.unwrap().to_vec(), report);
    assert_eq!(
        emu.ui(&format!("/_emulator/ui/messages/{id}/attachments/2"))
            .await
            .status(),
        404
    );
    let raw = emu.ui(&format!("/_emulator/ui/messages/{id}/raw")).await;
    let raw: serde_json::Value = serde_json::from_str(&raw.text().await.unwrap()).unwrap();
    assert_eq!(raw, first["message"]);
}

#[tokio::test]
async fn a_new_message_is_announced_by_a_server_sent_event() {
    let emu = Emu::start().await;
    let token = emu.erp_token().await;
    let mut events = emu.ui("/_emulator/ui/events").await;
    assert_eq!(header(&events, "content-type"), "text/event-stream");
    let mut seen = String::new();
    let mut next_event = async || {
        let chunk = events
            .chunk()
            .await
            .unwrap()
            .expect("the stream stays open");
        seen.push_str(&String::from_utf8_lossy(&chunk));
        seen.clone()
    };
    assert!(next_event().await.contains("event: hello"));
    assert_eq!(
        emu.send(&token, d::ERP_MAILBOX, &message("live"))
            .await
            .status,
        202
    );
    let announced = tokio::time::timeout(std::time::Duration::from_secs(1), async {
        loop {
            if next_event().await.contains("event: messages") {
                break;
            }
        }
    })
    .await;
    assert!(announced.is_ok(), "no event within a second: {seen}");
}
