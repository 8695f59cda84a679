//! Reading sent mail back from Sent Items over real HTTP: the permission
//! and policy gates, `$filter` on internetMessageId, `$select`, `$top`, the
//! lag before a copy appears, and `saveToSentItems: false`.

use crate::common;

use base64::Engine;
use common::{Answer, Emu, message};
use graphmailer_emulator::SettingsUpdate;
use graphmailer_emulator::defaults as d;
use serde_json::json;

impl Emu {
    async fn outbox_token(&self) -> String {
        self.token(d::OUTBOX_CLIENT_ID, d::OUTBOX_SECRET).await
    }

    async fn send_mime(&self, token: &str, mailbox: &str, message_id: &str) -> Answer {
        let mime = format!(
            "From: {mailbox}\r\nTo: someone@example.com\r\nSubject: queued\r\nMessage-ID: {message_id}\r\n\r\nHello\r\n"
        );
        let response = self
            .http
            .post(format!("{}/v1.0/users/{mailbox}/sendMail", self.url()))
            .bearer_auth(token)
            .header("content-type", "text/plain")
            .body(base64::engine::general_purpose::STANDARD.encode(mime))
            .send()
            .await
            .unwrap();
        Answer::read(response).await
    }

    async fn graph_get(&self, token: &str, path_and_query: &str) -> Answer {
        let response = self
            .http
            .get(format!("{}/v1.0/users/{path_and_query}", self.url()))
            .bearer_auth(token)
            .send()
            .await
            .unwrap();
        Answer::read(response).await
    }
}

fn filter(id: &str) -> String {
    url::form_urlencoded::Serializer::new(String::new())
        .append_pair("$filter", &format!("internetMessageId eq '{id}'"))
        .finish()
}

#[tokio::test]
async fn a_sent_mime_message_is_found_by_its_message_id_in_every_path_form() {
    let emu = Emu::reading().await;
    let token = emu.outbox_token().await;
    assert_eq!(
        emu.send_mime(&token, d::ERP_MAILBOX, "<one@contoso.test>")
            .await
            .status,
        202
    );
    assert_eq!(
        emu.send_mime(&token, d::ERP_MAILBOX, "<two@contoso.test>")
            .await
            .status,
        202
    );
    for folder in [
        "mailFolders('sentitems')",
        "mailFolders/SentItems",
        "mailFolders(\"SentItems\")",
    ] {
        let path = format!(
            "{}/{folder}/messages?{}&$select=internetMessageId,subject,body",
            d::ERP_MAILBOX,
            filter("<two@contoso.test>")
        );
        let answer = emu.graph_get(&token, &path).await;
        assert_eq!(answer.status, 200, "{folder}: {}", answer.json);
        let value = answer.json["value"].as_array().unwrap();
        assert_eq!(value.len(), 1, "{folder}");
        assert_eq!(value[0]["internetMessageId"], "<two@contoso.test>");
        assert_eq!(value[0]["subject"], "queued");
        assert!(value[0]["id"].is_string());
        assert!(
            value[0].get("from").is_none(),
            "$select keeps only what it names"
        );
        assert!(
            value[0].get("body").is_none(),
            "Mail.ReadBasic.All reads no bodies"
        );
    }
    let all = emu
        .graph_get(&token, &format!("{}/messages?$top=1", d::ERP_MAILBOX))
        .await;
    assert_eq!(all.status, 200);
    assert_eq!(all.json["value"].as_array().unwrap().len(), 1, "$top");
    let none = emu
        .graph_get(
            &token,
            &format!(
                "{}/messages?{}",
                d::ERP_MAILBOX,
                filter("<three@contoso.test>")
            ),
        )
        .await;
    assert_eq!(none.json["value"], json!([]));
}

#[tokio::test]
async fn reading_needs_a_read_role_and_the_policy() {
    let emu = Emu::start().await;
    let path = format!("{}/mailFolders('sentitems')/messages", d::ERP_MAILBOX);
    let erp = emu.erp_token().await;
    let refused = emu.graph_get(&erp, &path).await;
    assert_eq!(refused.status, 403);
    assert_eq!(refused.graph_code(), "ErrorAccessDenied");
    let outbox = emu.outbox_token().await;
    let ceo = emu
        .graph_get(
            &outbox,
            &format!("{}/mailFolders('sentitems')/messages", d::CEO_MAILBOX),
        )
        .await;
    assert_eq!(
        ceo.status, 403,
        "the access policy keeps the app out of ceo@"
    );
    let bad = emu
        .graph_get(&outbox, &format!("{path}?$filter=subject eq"))
        .await;
    assert_eq!(bad.status, 400);
    let inbox = emu
        .graph_get(
            &outbox,
            &format!("{}/mailFolders('nosuchfolder')/messages", d::ERP_MAILBOX),
        )
        .await;
    assert_eq!(inbox.status, 404);
}

#[tokio::test]
async fn a_copy_appears_after_the_lag_and_never_without_save_to_sent_items() {
    let emu = Emu::start().await;
    emu.emulator
        .update_settings(&SettingsUpdate {
            sent_items_lag_ms: Some(300),
            ..Default::default()
        })
        .unwrap();
    let token = emu.outbox_token().await;
    let not_saved = emu
        .send(&token, d::ERP_MAILBOX, &message("not saved"))
        .await;
    assert_eq!(not_saved.status, 202);
    assert_eq!(
        emu.send_mime(&token, d::ERP_MAILBOX, "<lag@contoso.test>")
            .await
            .status,
        202
    );
    let path = format!("{}/mailFolders('sentitems')/messages", d::ERP_MAILBOX);
    let early = emu.graph_get(&token, &path).await;
    assert_eq!(early.json["value"], json!([]), "not before the lag");
    // The lag follows the emulator's clock, so the test moves it instead of waiting.
    emu.advance_clock(300).await;
    let later = emu.graph_get(&token, &path).await;
    let value = later.json["value"].as_array().unwrap();
    assert_eq!(value.len(), 1, "only the saved one: {value:?}");
    assert_eq!(value[0]["internetMessageId"], "<lag@contoso.test>");
}
