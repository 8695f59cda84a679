//! Graph's large-attachment flow over real HTTP: drafts, small attachments,
//! upload sessions and their pre-authenticated upload URLs, a draft's send,
//! upload faults, the tenant's maximum message size, and MIME sends read
//! back as JSON.

use crate::common;

use std::time::{Duration, Instant};

use base64::Engine;
use base64::engine::general_purpose::STANDARD;
use common::{Answer, Emu};
use graphmailer_emulator::defaults as d;
use serde_json::{Value, json};

const MB: usize = 1024 * 1024;

/// Bytes that differ everywhere (so a chunk stored twice or at the wrong
/// offset shows), from a seed so a failure can be replayed.
fn pattern(len: usize, seed: u64) -> Vec<u8> {
    let mut state = seed.wrapping_mul(0x9E37_79B9_7F4A_7C15) | 1;
    (0..len)
        .map(|_| {
            state ^= state << 13;
            state ^= state >> 7;
            state ^= state << 17;
            (state >> 24) as u8
        })
        .collect()
}

impl Emu {
    async fn billing_token(&self) -> String {
        self.token(d::BILLING_CLIENT_ID, d::BILLING_SECRET).await
    }

    fn graph(&self, path: &str) -> String {
        format!("{}/v1.0/{path}", self.url())
    }

    async fn graph_call(&self, method: reqwest::Method, token: &str, path: &str) -> Answer {
        let response = self
            .http
            .request(method, self.graph(path))
            .bearer_auth(token)
            .send()
            .await
            .expect("Graph answers");
        Answer::read(response).await
    }

    /// A draft in `mailbox`; returns its id.
    async fn draft(&self, token: &str, mailbox: &str, subject: &str) -> String {
        let answer = self
            .graph_post(
                token,
                &format!("users/{mailbox}/messages"),
                &json!({
                    "subject": subject,
                    "body": {"contentType": "Text", "content": "See the attachments."},
                    "toRecipients": [{"emailAddress": {"address": "customer@example.com"}}]
                }),
            )
            .await;
        assert_eq!(answer.status, 201, "{}", answer.json);
        answer.json["id"].as_str().unwrap().to_owned()
    }

    async fn create_session(&self, token: &str, mailbox: &str, draft: &str, item: Value) -> Answer {
        self.graph_post(
            token,
            &format!("users/{mailbox}/messages/{draft}/attachments/createUploadSession"),
            &json!({ "AttachmentItem": item }),
        )
        .await
    }

    /// An upload session for `size` bytes; returns the upload URL.
    async fn session(
        &self,
        token: &str,
        mailbox: &str,
        draft: &str,
        name: &str,
        size: usize,
    ) -> String {
        let answer = self
            .create_session(
                token,
                mailbox,
                draft,
                json!({"attachmentType": "file", "name": name, "size": size, "contentType": "application/pdf"}),
            )
            .await;
        assert_eq!(answer.status, 201, "{}", answer.json);
        assert_eq!(answer.json["nextExpectedRanges"], json!(["0-"]));
        answer.json["uploadUrl"].as_str().unwrap().to_owned()
    }

    /// Uploads a whole file in `chunk`-byte pieces; returns the last answer.
    async fn upload(&self, url: &str, file: &[u8], chunk: usize) -> Answer {
        let mut start = 0;
        loop {
            let end = (start + chunk).min(file.len());
            let answer = self
                .put_chunk(url, start, &file[start..end], file.len())
                .await;
            if end == file.len() {
                return answer;
            }
            assert_eq!(answer.status, 200, "chunk at {start}: {}", answer.json);
            assert_eq!(answer.json["NextExpectedRanges"], json!([end.to_string()]));
            assert!(answer.json["ExpirationDateTime"].is_string());
            start = end;
        }
    }

    async fn upload_status(&self, url: &str) -> Answer {
        Answer::read(self.http.get(url).send().await.expect("upload URL answers")).await
    }

    async fn drafts(&self) -> Value {
        self.get("drafts").await.json["drafts"].clone()
    }
}

fn decoded(attachment: &Value) -> Vec<u8> {
    STANDARD
        .decode(attachment["contentBytes"].as_str().expect("contentBytes"))
        .expect("base64")
}

#[tokio::test]
async fn large_attachments_upload_and_send_byte_for_byte() {
    let emu = Emu::start().await;
    let token = emu.billing_token().await;
    let draft = emu.draft(&token, d::BILLING_MAILBOX, "Annual report").await;

    let report = pattern(5 * MB, 1);
    let scan = pattern(3 * MB + MB / 2, 2);
    let note = pattern(10_000, 3);
    let report_url = emu
        .session(
            &token,
            d::BILLING_MAILBOX,
            &draft,
            "report.pdf",
            report.len(),
        )
        .await;
    let scan_url = emu
        .session(&token, d::BILLING_MAILBOX, &draft, "scan.pdf", scan.len())
        .await;
    assert!(
        report_url.starts_with(&format!("{}/upload/", emu.url())),
        "{report_url}"
    );
    assert!(report_url.contains("authtoken="));
    assert_eq!(
        emu.upload_status(&report_url).await.json["NextExpectedRanges"],
        json!(["0"])
    );

    let small = emu
        .graph_post(
            &token,
            &format!("users/{}/messages/{draft}/attachments", d::BILLING_MAILBOX),
            &json!({"@odata.type": "#microsoft.graph.fileAttachment", "name": "note.txt",
                    "contentType": "text/plain", "contentBytes": STANDARD.encode(&note)}),
        )
        .await;
    assert_eq!(small.status, 201, "{}", small.json);
    assert_eq!(small.json["size"], note.len());
    assert!(small.json["id"].as_str().unwrap().starts_with("AAMk"));

    let last = emu.upload(&report_url, &report, 2 * MB).await;
    assert_eq!(last.status, 201, "{}", last.json);
    assert_eq!(
        last.json,
        Value::Null,
        "the last chunk's answer has no body"
    );
    // Outlook's Location form; the attachment is then read through Graph.
    let location = last.header("location").unwrap().to_owned();
    let prefix = format!(
        "{}/api/v2.0/Users('{}')/Messages('{draft}')/Attachments('",
        emu.url(),
        d::BILLING_MAILBOX
    );
    let attachment_id = location
        .strip_prefix(&prefix)
        .and_then(|rest| rest.strip_suffix("')"))
        .unwrap_or_else(|| panic!("Location {location} is not of the form {prefix}...')"));
    let graph_url = format!(
        "{}/v1.0/users/{}/messages/{draft}/attachments/{attachment_id}",
        emu.url(),
        d::BILLING_MAILBOX
    );
    let via_location = Answer::read(
        emu.http
            .get(&graph_url)
            .bearer_auth(&token)
            .send()
            .await
            .unwrap(),
    )
    .await;
    assert_eq!(
        via_location.status, 200,
        "{location}: {}",
        via_location.json
    );
    assert_eq!(via_location.json["name"], "report.pdf");
    assert_eq!(via_location.json["size"], report.len());
    assert_eq!(emu.upload(&scan_url, &scan, 1536 * 1024).await.status, 201);

    // The test API sees the draft with its three attachments, no open session.
    let drafts = emu.drafts().await;
    assert_eq!(drafts.as_array().unwrap().len(), 1);
    assert_eq!(drafts[0]["subject"], "Annual report");
    let sizes: Vec<(String, u64)> = drafts[0]["attachments"]
        .as_array()
        .unwrap()
        .iter()
        .map(|a| {
            (
                a["name"].as_str().unwrap().to_owned(),
                a["size"].as_u64().unwrap(),
            )
        })
        .collect();
    assert_eq!(
        sizes,
        [
            ("note.txt".to_owned(), note.len() as u64),
            ("report.pdf".to_owned(), report.len() as u64),
            ("scan.pdf".to_owned(), scan.len() as u64)
        ]
    );
    assert_eq!(drafts[0]["upload_sessions"], json!([]));

    let send = emu
        .graph_call(
            reqwest::Method::POST,
            &token,
            &format!("users/{}/messages/{draft}/send", d::BILLING_MAILBOX),
        )
        .await;
    assert_eq!(send.status, 202, "{}", send.json);
    assert_eq!(emu.drafts().await, json!([]));

    let stored = emu.get("messages").await.json["messages"].clone();
    assert_eq!(stored.as_array().unwrap().len(), 1);
    let sent = &stored[0];
    assert_eq!(sent["sent_via"], "draft");
    assert_eq!(sent["draft_id"], draft.as_str());
    assert_eq!(sent["mailbox"], d::BILLING_MAILBOX);
    assert_eq!(sent["app_id"], d::BILLING_CLIENT_ID);
    assert_eq!(sent["save_to_sent_items"], true);
    assert_eq!(sent["message"]["subject"], "Annual report");
    let attachments = sent["message"]["attachments"].as_array().unwrap();
    let by_name = |name: &str| attachments.iter().find(|a| a["name"] == name).expect(name);
    assert!(
        decoded(by_name("report.pdf")) == report,
        "report.pdf differs"
    );
    assert!(decoded(by_name("scan.pdf")) == scan, "scan.pdf differs");
    assert!(decoded(by_name("note.txt")) == note, "note.txt differs");
    assert_eq!(by_name("scan.pdf")["contentType"], "application/pdf");

    let counters = emu.get("counters").await.json;
    assert_eq!(counters["drafts_created"], 1);
    assert_eq!(counters["upload_sessions_created"], 2);
    assert_eq!(counters["upload_chunks"], 3 + 3);
    assert_eq!(counters["upload_bytes"], report.len() + scan.len());
    assert_eq!(counters["sends_accepted"], 1);
    // Sent: the draft is gone for Graph too.
    let gone = emu
        .graph_call(
            reqwest::Method::GET,
            &token,
            &format!("users/{}/messages/{draft}", d::BILLING_MAILBOX),
        )
        .await;
    assert_eq!(gone.status, 404);
    assert_eq!(gone.graph_code(), "ErrorItemNotFound");
}

#[tokio::test]
async fn drafts_read_like_sendmail_messages_but_need_no_recipients() {
    let emu = Emu::start().await;
    let token = emu.billing_token().await;
    let created = emu
        .graph_post(
            &token,
            &format!("users/{}/messages", d::ERP_MAILBOX),
            &json!({"Subject": "No one yet", "Body": {"ContentType": "HTML", "Content": "<p>x</p>"}}),
        )
        .await;
    assert_eq!(created.status, 201, "{}", created.json);
    assert_eq!(created.json["isDraft"], true);
    assert_eq!(created.json["subject"], "No one yet");
    let id = created.json["id"].as_str().unwrap();
    let fetched = emu
        .graph_call(
            reqwest::Method::GET,
            &token,
            &format!("users/{}/messages/{id}", d::ERP_MAILBOX),
        )
        .await;
    assert_eq!(fetched.status, 200);
    assert_eq!(fetched.json["id"], id);
    // Another mailbox does not hold it.
    let elsewhere = emu
        .graph_call(
            reqwest::Method::GET,
            &token,
            &format!("users/{}/messages/{id}", d::BILLING_MAILBOX),
        )
        .await;
    assert_eq!(elsewhere.status, 404);

    let send = emu
        .graph_call(
            reqwest::Method::POST,
            &token,
            &format!("users/{}/messages/{id}/send", d::ERP_MAILBOX),
        )
        .await;
    assert_eq!(send.status, 400);
    assert_eq!(send.graph_code(), "ErrorInvalidRecipients");
    assert_eq!(
        emu.drafts().await.as_array().unwrap().len(),
        1,
        "a refused send keeps the draft"
    );

    // A posted attachment travels in the request: the 4 MB cap applies.
    let too_big = emu
        .graph_post(
            &token,
            &format!("users/{}/messages/{id}/attachments", d::ERP_MAILBOX),
            &json!({"@odata.type": "#microsoft.graph.fileAttachment", "name": "big.bin",
                    "contentBytes": STANDARD.encode(pattern(3 * MB + 1, 16))}),
        )
        .await;
    assert_eq!(too_big.status, 413);
    assert_eq!(too_big.graph_code(), "RequestEntityTooLarge");
    let unnamed = emu
        .graph_post(
            &token,
            &format!("users/{}/messages/{id}/attachments", d::ERP_MAILBOX),
            &json!({"@odata.type": "#microsoft.graph.fileAttachment", "contentBytes": "aGk="}),
        )
        .await;
    assert_eq!(unnamed.status, 400);

    let bad = emu
        .graph_post(
            &token,
            &format!("users/{}/messages", d::ERP_MAILBOX),
            &json!({"recipients": []}),
        )
        .await;
    assert_eq!(bad.status, 400);
    assert_eq!(bad.graph_code(), "RequestBodyRead");
    let unknown = emu
        .graph_post(
            &token,
            "users/nobody@contoso.test/messages",
            &json!({"subject": "x"}),
        )
        .await;
    assert_eq!(unknown.status, 404);
    assert_eq!(unknown.graph_code(), "ErrorInvalidUser");
    let unlicensed = emu
        .graph_post(
            &token,
            &format!("users/{}/messages", d::LEGACY_MAILBOX),
            &json!({"subject": "x"}),
        )
        .await;
    assert_eq!(unlicensed.graph_code(), "MailboxNotEnabledForRESTAPI");
    let anonymous = Answer::read(
        emu.http
            .post(emu.graph(&format!("users/{}/messages", d::ERP_MAILBOX)))
            .json(&json!({"subject": "x"}))
            .send()
            .await
            .unwrap(),
    )
    .await;
    assert_eq!(anonymous.status, 401);
}

#[tokio::test]
async fn mail_send_alone_cannot_use_the_large_path() {
    let emu = Emu::start().await;
    let erp = emu.erp_token().await;
    let refused = emu
        .graph_post(
            &erp,
            &format!("users/{}/messages", d::ERP_MAILBOX),
            &json!({"subject": "x"}),
        )
        .await;
    assert_eq!(refused.status, 403);
    assert_eq!(refused.graph_code(), "ErrorAccessDenied");
    assert_eq!(
        refused.json["error"]["message"],
        "Access is denied. Check credentials and try again."
    );

    // A draft made by an app with Mail.ReadWrite: ERP may not add to it or
    // open a session, but may send it (send needs Mail.Send only).
    let billing = emu.billing_token().await;
    let draft = emu.draft(&billing, d::ERP_MAILBOX, "made by billing").await;
    let session = emu
        .create_session(
            &erp,
            d::ERP_MAILBOX,
            &draft,
            json!({"attachmentType": "file", "name": "a", "size": 4 * MB}),
        )
        .await;
    assert_eq!(session.status, 403);
    assert_eq!(session.graph_code(), "ErrorAccessDenied");
    let sent = emu
        .graph_call(
            reqwest::Method::POST,
            &erp,
            &format!("users/{}/messages/{draft}/send", d::ERP_MAILBOX),
        )
        .await;
    assert_eq!(sent.status, 202, "{}", sent.json);
    assert_eq!(emu.drafts().await, json!([]));
    assert_eq!(emu.emulator.messages()[0].app_id, d::ERP_CLIENT_ID);
}

#[tokio::test]
async fn the_access_policy_applies_to_drafts_and_their_send() {
    let emu = Emu::start().await;
    let billing = emu.billing_token().await;
    let denied = emu
        .graph_post(
            &billing,
            &format!("users/{}/messages", d::CEO_MAILBOX),
            &json!({"subject": "x"}),
        )
        .await;
    assert_eq!(denied.status, 403);
    assert_eq!(
        denied.json["error"]["message"],
        "Access to OData is disabled."
    );

    // Legacy Sync has no policy: it can put a draft in ceo@'s mailbox, which
    // Billing then may not send.
    let legacy = emu
        .token(d::LEGACY_SYNC_CLIENT_ID, d::LEGACY_SYNC_SECRET)
        .await;
    let draft = emu.draft(&legacy, d::CEO_MAILBOX, "from the CEO").await;
    let path = format!("users/{}/messages/{draft}/send", d::CEO_MAILBOX);
    let send = emu.graph_call(reqwest::Method::POST, &billing, &path).await;
    assert_eq!(send.status, 403);
    assert_eq!(send.graph_code(), "ErrorAccessDenied");
    assert_eq!(
        send.json["error"]["message"],
        "Access to OData is disabled."
    );
    // The body-first order gives the same verdict for a sendable draft.
    emu.put("settings", json!({"access_check_first": false}))
        .await;
    assert_eq!(
        emu.graph_call(reqwest::Method::POST, &billing, &path)
            .await
            .status,
        403
    );
    assert!(emu.emulator.messages().is_empty());
    assert_eq!(
        emu.graph_call(reqwest::Method::POST, &legacy, &path)
            .await
            .status,
        202
    );
}

#[tokio::test]
async fn the_tenant_maximum_message_size_is_checked_at_send() {
    let emu = Emu::start().await;
    let token = emu.billing_token().await;
    assert_eq!(
        emu.get("settings").await.json["max_message_size_bytes"],
        35 * MB
    );
    let draft = emu.draft(&token, d::ERP_MAILBOX, "too big").await;
    let file = pattern(3 * MB, 4);
    let url = emu
        .session(&token, d::ERP_MAILBOX, &draft, "big.bin", file.len())
        .await;
    assert_eq!(emu.upload(&url, &file, 4 * MB).await.status, 201);
    // Attachments count encoded: 3 MB weigh 4 MB, over a 3 MB limit.
    let set = emu
        .put("settings", json!({"max_message_size_bytes": 3 * MB}))
        .await;
    assert_eq!(set.status, 200, "{}", set.json);
    let path = format!("users/{}/messages/{draft}/send", d::ERP_MAILBOX);
    let refused = emu.graph_call(reqwest::Method::POST, &token, &path).await;
    assert_eq!(refused.status, 400);
    assert_eq!(refused.graph_code(), "ErrorMessageSizeExceeded");
    let text = refused.json["error"]["message"].as_str().unwrap();
    assert!(text.contains(&(3 * MB).to_string()), "{text}");
    assert_eq!(emu.drafts().await.as_array().unwrap().len(), 1);

    // sendMail is held to the same limit.
    let mut message = common::message("inline");
    message["message"]["attachments"] = json!([{"@odata.type": "#microsoft.graph.fileAttachment",
        "name": "a.bin", "contentBytes": STANDARD.encode(pattern(2000, 5))}]);
    emu.put("settings", json!({"max_message_size_bytes": 1000}))
        .await;
    let inline = emu.send(&token, d::ERP_MAILBOX, &message).await;
    assert_eq!(inline.graph_code(), "ErrorMessageSizeExceeded");

    // 4 MB encoded plus the body's text: over 4 MB, under 5.
    emu.put("settings", json!({"max_message_size_bytes": 4 * MB}))
        .await;
    let over = emu.graph_call(reqwest::Method::POST, &token, &path).await;
    assert_eq!(over.graph_code(), "ErrorMessageSizeExceeded");
    emu.put("settings", json!({"max_message_size_bytes": 5 * MB}))
        .await;
    assert_eq!(
        emu.graph_call(reqwest::Method::POST, &token, &path)
            .await
            .status,
        202
    );
    assert_eq!(
        emu.put("settings", json!({"max_message_size_bytes": 0}))
            .await
            .status,
        400
    );
}

#[tokio::test]
async fn upload_sessions_take_3_to_150_megabytes() {
    let emu = Emu::start().await;
    let token = emu.billing_token().await;
    let draft = emu.draft(&token, d::ERP_MAILBOX, "sizes").await;
    let item = |size: u64| json!({"attachmentType": "file", "name": "f.bin", "size": size});
    let small = emu
        .create_session(&token, d::ERP_MAILBOX, &draft, item(3 * MB as u64 - 1))
        .await;
    assert_eq!(small.status, 400);
    assert_eq!(
        small.graph_code(),
        "ErrorAttachmentSizeShouldNotBeLessThanMinimumSize"
    );
    let big = emu
        .create_session(&token, d::ERP_MAILBOX, &draft, item(150 * MB as u64 + 1))
        .await;
    assert_eq!(big.status, 400);
    assert_eq!(
        big.graph_code(),
        "ErrorAttachmentSizeShouldNotBeGreaterThanMaximumSize"
    );
    for edge in [3 * MB as u64, 150 * MB as u64] {
        let ok = emu
            .create_session(&token, d::ERP_MAILBOX, &draft, item(edge))
            .await;
        assert_eq!(ok.status, 201, "{edge}: {}", ok.json);
    }
    let no_name = emu
        .create_session(
            &token,
            d::ERP_MAILBOX,
            &draft,
            json!({"attachmentType": "file", "size": 4 * MB}),
        )
        .await;
    assert_eq!(no_name.status, 400);
    assert!(
        no_name.json["error"]["message"]
            .as_str()
            .unwrap()
            .contains("'name'")
    );
    let no_type = emu
        .create_session(
            &token,
            d::ERP_MAILBOX,
            &draft,
            json!({"name": "a", "size": 4 * MB}),
        )
        .await;
    assert!(
        no_type.json["error"]["message"]
            .as_str()
            .unwrap()
            .contains("attachmentType")
    );
    let no_draft = emu
        .create_session(
            &token,
            d::ERP_MAILBOX,
            "AAMkNoSuchDraft=",
            item(4 * MB as u64),
        )
        .await;
    assert_eq!(no_draft.status, 404);
    assert_eq!(no_draft.graph_code(), "ErrorItemNotFound");
}

#[tokio::test]
async fn chunks_must_come_in_order_with_a_valid_range() {
    let emu = Emu::start().await;
    let token = emu.billing_token().await;
    let draft = emu.draft(&token, d::ERP_MAILBOX, "ranges").await;
    let file = pattern(3 * MB, 6);
    let url = emu
        .session(&token, d::ERP_MAILBOX, &draft, "f.bin", file.len())
        .await;
    assert_eq!(
        emu.put_chunk(&url, 0, &file[..MB], file.len()).await.status,
        200
    );

    for start in [0, 2 * MB] {
        let wrong = emu
            .put_chunk(&url, start, &file[start..start + MB], file.len())
            .await;
        assert_eq!(wrong.status, 416, "{}", wrong.json);
        assert_eq!(wrong.graph_code(), "InvalidContentRange");
        assert_eq!(wrong.json["NextExpectedRanges"], json!([MB.to_string()]));
    }
    let wrong_total = emu
        .put_chunk(&url, MB, &file[MB..2 * MB], file.len() + 1)
        .await;
    assert_eq!(wrong_total.status, 400);
    let short_body = emu
        .http
        .put(&url)
        .header(
            "content-range",
            format!("bytes {MB}-{}/{}", 2 * MB - 1, file.len()),
        )
        .body(vec![0u8; 10])
        .send()
        .await
        .unwrap();
    assert_eq!(short_body.status(), 400);
    let no_header = emu.http.put(&url).body(vec![0u8; 10]).send().await.unwrap();
    assert_eq!(no_header.status(), 400);
    let garbage = emu
        .http
        .put(&url)
        .header("content-range", "bytes=0-9")
        .body(vec![0u8; 10])
        .send()
        .await
        .unwrap();
    assert_eq!(garbage.status(), 400);
    let over_4mb = emu
        .put_chunk(&url, MB, &pattern(4 * MB + 1, 7), 3 * MB)
        .await;
    assert_eq!(over_4mb.status, 413);
    // None of that moved the session on.
    assert_eq!(
        emu.upload_status(&url).await.json["NextExpectedRanges"],
        json!([MB.to_string()])
    );
    assert_eq!(
        emu.put_chunk(&url, MB, &file[MB..], file.len())
            .await
            .status,
        201
    );
    let counters = emu.get("counters").await.json;
    assert_eq!(counters["upload_chunks"], 2);
    assert!(counters["upload_requests"].as_u64().unwrap() >= 9);
}

#[tokio::test]
async fn upload_urls_refuse_an_authorization_header_and_a_wrong_authtoken() {
    let emu = Emu::start().await;
    let token = emu.billing_token().await;
    let draft = emu.draft(&token, d::ERP_MAILBOX, "auth").await;
    let file = pattern(3 * MB, 8);
    let url = emu
        .session(&token, d::ERP_MAILBOX, &draft, "f.bin", file.len())
        .await;
    let with_bearer = Answer::read(
        emu.http
            .put(&url)
            .bearer_auth(&token)
            .header(
                "content-range",
                format!("bytes 0-{}/{}", MB - 1, file.len()),
            )
            .body(file[..MB].to_vec())
            .send()
            .await
            .unwrap(),
    )
    .await;
    assert_eq!(with_bearer.status, 401, "{}", with_bearer.json);
    assert_eq!(with_bearer.graph_code(), "InvalidAudienceForResource");
    assert!(
        with_bearer.json["error"]["message"]
            .as_str()
            .unwrap()
            .contains("without an Authorization header")
    );
    assert_eq!(
        emu.upload_status(&url).await.json["NextExpectedRanges"],
        json!(["0"])
    );

    let (base, _) = url.split_once("?authtoken=").unwrap();
    let wrong = emu
        .put_chunk(
            &format!("{base}?authtoken=forged"),
            0,
            &file[..MB],
            file.len(),
        )
        .await;
    assert_eq!(wrong.status, 404);
    assert_eq!(wrong.graph_code(), "ErrorItemNotFound");
    let missing = emu.put_chunk(base, 0, &file[..MB], file.len()).await;
    assert_eq!(missing.status, 401);
}

#[tokio::test]
async fn a_cancelled_session_is_gone() {
    let emu = Emu::start().await;
    let token = emu.billing_token().await;
    let draft = emu.draft(&token, d::ERP_MAILBOX, "cancel").await;
    let file = pattern(3 * MB, 9);
    let url = emu
        .session(&token, d::ERP_MAILBOX, &draft, "f.bin", file.len())
        .await;
    assert_eq!(
        emu.put_chunk(&url, 0, &file[..MB], file.len()).await.status,
        200
    );
    assert_eq!(
        emu.drafts().await[0]["upload_sessions"][0]["next_offset"],
        MB
    );
    let cancelled = emu.http.delete(&url).send().await.unwrap();
    assert_eq!(cancelled.status(), 204);
    let after = emu.put_chunk(&url, MB, &file[MB..2 * MB], file.len()).await;
    assert_eq!(after.status, 404);
    assert_eq!(after.graph_code(), "ErrorItemNotFound");
    assert_eq!(emu.upload_status(&url).await.status, 404);
    assert_eq!(emu.http.delete(&url).send().await.unwrap().status(), 404);
    assert_eq!(emu.drafts().await[0]["upload_sessions"], json!([]));
    assert_eq!(emu.drafts().await[0]["attachments"], json!([]));
}

#[tokio::test]
async fn a_deleted_draft_is_gone_with_its_sessions() {
    let emu = Emu::start().await;
    let token = emu.billing_token().await;
    let draft = emu.draft(&token, d::ERP_MAILBOX, "delete me").await;
    let file = pattern(3 * MB, 10);
    let url = emu
        .session(&token, d::ERP_MAILBOX, &draft, "f.bin", file.len())
        .await;
    assert_eq!(emu.drafts().await[0]["id"], draft.as_str());
    let path = format!("users/{}/messages/{draft}", d::ERP_MAILBOX);
    assert_eq!(
        emu.graph_call(reqwest::Method::DELETE, &token, &path)
            .await
            .status,
        204
    );
    assert_eq!(emu.drafts().await, json!([]));
    let again = emu.graph_call(reqwest::Method::DELETE, &token, &path).await;
    assert_eq!(again.status, 404);
    assert_eq!(again.graph_code(), "ErrorItemNotFound");
    assert_eq!(
        again.json["error"]["message"],
        "The specified object was not found in the store."
    );
    assert_eq!(
        emu.put_chunk(&url, 0, &file[..MB], file.len()).await.status,
        404
    );
    let send = emu
        .graph_call(reqwest::Method::POST, &token, &format!("{path}/send"))
        .await;
    assert_eq!(send.status, 404);
    let counters = emu.get("counters").await.json;
    assert_eq!(counters["drafts_created"], 1);
    assert_eq!(counters["drafts_deleted"], 1);
}

#[tokio::test]
async fn after_a_dropped_chunk_the_upload_url_says_where_to_resume() {
    let emu = Emu::start().await;
    let token = emu.billing_token().await;
    let draft = emu.draft(&token, d::ERP_MAILBOX, "resume").await;
    let file = pattern(3 * MB + MB / 2, 11);
    let url = emu
        .session(&token, d::ERP_MAILBOX, &draft, "f.bin", file.len())
        .await;
    let plan = json!({"upload": [
        {"drop_after_body": true, "deliver": true, "nth": 2},
        {"status": 503, "retry_after_secs": 1, "nth": 3},
        {"drop_after_body": true, "nth": 5}
    ]});
    let set = emu.put("faults", plan).await;
    assert_eq!(set.status, 200, "{}", set.json);
    assert_eq!(set.json["upload"][0]["nth"], 2);

    assert_eq!(
        emu.put_chunk(&url, 0, &file[..MB], file.len()).await.status,
        200
    );
    // PUT 2: stored, but the answer never comes.
    assert!(
        emu.put_chunk_raw(&url, MB, &file[MB..2 * MB], file.len())
            .await
            .is_err()
    );
    let status = emu.upload_status(&url).await;
    assert_eq!(status.status, 200);
    assert_eq!(
        status.json["NextExpectedRanges"],
        json!([(2 * MB).to_string()])
    );
    assert!(status.json["ExpirationDateTime"].is_string());
    // PUT 3: a 503 with Retry-After; PUT 4: the retry goes through.
    let unavailable = emu
        .put_chunk(&url, 2 * MB, &file[2 * MB..3 * MB], file.len())
        .await;
    assert_eq!(unavailable.status, 503);
    assert_eq!(unavailable.header("retry-after"), Some("1"));
    assert_eq!(
        emu.put_chunk(&url, 2 * MB, &file[2 * MB..3 * MB], file.len())
            .await
            .status,
        200
    );
    // PUT 5: dropped before it was stored; the status still says 3 MB.
    assert!(
        emu.put_chunk_raw(&url, 3 * MB, &file[3 * MB..], file.len())
            .await
            .is_err()
    );
    assert_eq!(
        emu.upload_status(&url).await.json["NextExpectedRanges"],
        json!([(3 * MB).to_string()])
    );
    assert_eq!(
        emu.put_chunk(&url, 3 * MB, &file[3 * MB..], file.len())
            .await
            .status,
        201
    );

    let path = format!("users/{}/messages/{draft}/send", d::ERP_MAILBOX);
    assert_eq!(
        emu.graph_call(reqwest::Method::POST, &token, &path)
            .await
            .status,
        202
    );
    let sent = &emu.emulator.messages()[0];
    assert!(
        decoded(&sent.message["attachments"][0]) == file,
        "the resumed file differs"
    );
    assert_eq!(emu.get("counters").await.json["faults_injected"], 3);
}

#[tokio::test]
async fn a_delayed_upload_can_be_cancelled_midway() {
    let emu = Emu::start().await;
    let token = emu.billing_token().await;
    let draft = emu.draft(&token, d::ERP_MAILBOX, "slow").await;
    let file = pattern(3 * MB, 12);
    let url = emu
        .session(&token, d::ERP_MAILBOX, &draft, "f.bin", file.len())
        .await;
    assert_eq!(
        emu.put("faults", json!({"upload_delay_ms": 600}))
            .await
            .status,
        200
    );

    let started = Instant::now();
    let slow = {
        let http = emu.http.clone();
        let url = url.clone();
        let chunk = file[..MB].to_vec();
        let total = file.len();
        tokio::spawn(async move {
            http.put(url)
                .header("content-range", format!("bytes 0-{}/{total}", MB - 1))
                .body(chunk)
                .send()
                .await
                .unwrap()
                .status()
                .as_u16()
        })
    };
    // Cancel once the PUT has arrived and is held by the upload delay.
    while emu.emulator.counters().upload_requests == 0 {
        tokio::task::yield_now().await;
    }
    assert_eq!(emu.http.delete(&url).send().await.unwrap().status(), 204);
    assert_eq!(
        slow.await.unwrap(),
        404,
        "the chunk arrived after the cancel"
    );
    assert!(started.elapsed() >= Duration::from_millis(600));
    assert_eq!(emu.drafts().await[0]["attachments"], json!([]));
}

#[tokio::test]
async fn an_expired_session_is_gone() {
    let emu = Emu::start().await;
    let token = emu.billing_token().await;
    let set = emu
        .put("settings", json!({"upload_session_lifetime_secs": 1}))
        .await;
    assert_eq!(set.status, 200, "{}", set.json);
    let draft = emu.draft(&token, d::ERP_MAILBOX, "late").await;
    let file = pattern(3 * MB, 15);
    let url = emu
        .session(&token, d::ERP_MAILBOX, &draft, "f.bin", file.len())
        .await;
    assert_eq!(
        emu.put_chunk(&url, 0, &file[..MB], file.len()).await.status,
        200
    );
    emu.advance_clock(1100).await;
    let late = emu.put_chunk(&url, MB, &file[MB..], file.len()).await;
    assert_eq!(late.status, 404);
    assert_eq!(late.graph_code(), "ErrorItemNotFound");
    assert_eq!(emu.drafts().await[0]["upload_sessions"], json!([]));
}

#[tokio::test]
async fn reset_forgets_drafts_and_sessions() {
    let emu = Emu::start().await;
    let token = emu.billing_token().await;
    let draft = emu.draft(&token, d::ERP_MAILBOX, "reset").await;
    let url = emu
        .session(&token, d::ERP_MAILBOX, &draft, "f.bin", 3 * MB)
        .await;
    assert_eq!(emu.post("reset", json!({})).await.status, 204);
    assert_eq!(emu.drafts().await, json!([]));
    assert_eq!(emu.upload_status(&url).await.status, 404);
    assert_eq!(emu.get("counters").await.json["drafts_created"], 0);
}

/// A MIME message as a mail client writes it: a quoted-printable text body
/// and a base64 PDF, nested in multipart/mixed.
fn mime_with_pdf(pdf: &[u8]) -> String {
    let encoded = STANDARD.encode(pdf);
    let lines: Vec<&str> = encoded
        .as_bytes()
        .chunks(76)
        .map(|c| std::str::from_utf8(c).unwrap())
        .collect();
    format!(
        "From: ERP <erp@contoso.test>\r\n\
         To: \"Kunde\" <customer@example.com>\r\n\
         Bcc: audit@contoso.test\r\n\
         Subject: =?UTF-8?Q?Rechnung_f=C3=BCr_M=C3=A4rz?=\r\n\
         MIME-Version: 1.0\r\n\
         Content-Type: multipart/mixed; boundary=\"b1\"\r\n\
         \r\n\
         --b1\r\n\
         Content-Type: text/plain; charset=utf-8\r\n\
         Content-Transfer-Encoding: quoted-printable\r\n\
         \r\n\
         Sehr geehrte Damen und Herren, anbei die Rechnung f=C3=BCr M=C3=A4rz =E2=\r\n\
         =82=AC 1.234,00.\r\n\
         --b1\r\n\
         Content-Type: application/pdf; name=\"rechnung.pdf\"\r\n\
         Content-Disposition: attachment; filename=\"rechnung.pdf\"\r\n\
         Content-Transfer-Encoding: base64\r\n\
         \r\n\
         {}\r\n\
         --b1--\r\n",
        lines.join("\r\n")
    )
}

#[tokio::test]
async fn mime_sends_are_read_into_the_message_json_with_exact_bytes() {
    let emu = Emu::start().await;
    let token = emu.erp_token().await;
    let mut pdf = b"%PDF-1.7\n".to_vec();
    pdf.extend(pattern(200_000, 13));
    let mime = mime_with_pdf(&pdf);
    let url = emu.graph(&format!("users/{}/sendMail", d::ERP_MAILBOX));
    let sent = Answer::read(
        emu.http
            .post(&url)
            .bearer_auth(&token)
            .header("content-type", "text/plain")
            .body(STANDARD.encode(&mime))
            .send()
            .await
            .unwrap(),
    )
    .await;
    assert_eq!(sent.status, 202, "{}", sent.json);
    let stored = emu.get("messages").await.json["messages"][0].clone();
    assert_eq!(stored["sent_via"], "mime");
    assert_eq!(stored["mime"], mime.as_str());
    let message = &stored["message"];
    assert_eq!(message["subject"], "Rechnung f\u{fc}r M\u{e4}rz");
    assert_eq!(
        message["from"]["emailAddress"]["address"],
        "erp@contoso.test"
    );
    assert_eq!(
        message["toRecipients"][0]["emailAddress"],
        json!({"name": "Kunde", "address": "customer@example.com"})
    );
    assert_eq!(
        message["bccRecipients"][0]["emailAddress"]["address"],
        "audit@contoso.test"
    );
    assert_eq!(message["body"]["contentType"], "text");
    assert_eq!(
        message["body"]["content"],
        "Sehr geehrte Damen und Herren, anbei die Rechnung f\u{fc}r M\u{e4}rz \u{20ac} 1.234,00."
    );
    let attachment = &message["attachments"][0];
    assert_eq!(attachment["name"], "rechnung.pdf");
    assert_eq!(attachment["contentType"], "application/pdf");
    assert_eq!(attachment["isInline"], false);
    assert!(decoded(attachment) == pdf, "the PDF's bytes differ");

    // The base64 text is one request: over 4 MB it is refused whole.
    let big = mime_with_pdf(&pattern(3 * MB + MB / 10, 14));
    let refused = Answer::read(
        emu.http
            .post(&url)
            .bearer_auth(&token)
            .header("content-type", "text/plain")
            .body(STANDARD.encode(&big))
            .send()
            .await
            .unwrap(),
    )
    .await;
    assert_eq!(refused.status, 413);
    assert_eq!(refused.graph_code(), "RequestEntityTooLarge");
    assert_eq!(emu.emulator.messages().len(), 1);
}

#[tokio::test]
async fn the_size_limit_stops_an_upload_part_way_in_outlooks_words() {
    let emu = Emu::start().await;
    let token = emu.billing_token().await;
    let draft = emu.draft(&token, d::BILLING_MAILBOX, "Too big").await;
    let limit = emu
        .put("settings", json!({"max_message_size_bytes": 5 * MB}))
        .await;
    assert_eq!(limit.status, 200, "{}", limit.json);
    // 6 MB weigh 8 MB encoded: the upload stops once past 5 MB encoded,
    // before the file is complete.
    let file = pattern(6 * MB, 9);
    let url = emu
        .session(&token, d::BILLING_MAILBOX, &draft, "big.bin", file.len())
        .await;
    let first = emu.put_chunk(&url, 0, &file[..2 * MB], file.len()).await;
    assert_eq!(first.status, 200, "{}", first.json);
    let second = emu
        .put_chunk(&url, 2 * MB, &file[2 * MB..4 * MB], file.len())
        .await;
    assert_eq!(second.status, 400, "{}", second.json);
    assert_eq!(second.graph_code(), "ErrorMessageSizeExceeded");
    // The upload host is Outlook's: no Graph innerError in its errors.
    assert!(
        second.json["error"].get("innerError").is_none(),
        "{}",
        second.json
    );
    assert!(second.header("request-id").is_some());
    assert_eq!(emu.upload_status(&url).await.status, 404);
}

/// `GET /_emulator/drafts/wait`: at once without a version; with one, when
/// the drafts change from it (a draft made, a session opened), and 408 with
/// the drafts as they are when nothing changes in time.
#[tokio::test]
async fn a_test_can_wait_for_the_drafts_to_change() {
    let emu = Emu::start().await;
    let token = emu.billing_token().await;
    let first = emu.get("drafts/wait").await;
    assert_eq!(first.status, 200);
    assert_eq!(first.json["drafts"], json!([]));
    let version = first.json["version"].as_u64().expect("a version");

    let unchanged = emu
        .get(&format!("drafts/wait?version={version}&timeout_ms=200"))
        .await;
    assert_eq!(unchanged.status, 408);
    assert_eq!(unchanged.json["version"], version);

    let waiter = {
        let http = emu.http.clone();
        let url = format!(
            "{}/_emulator/drafts/wait?version={version}&timeout_ms=10000",
            emu.url()
        );
        tokio::spawn(async move {
            http.get(url)
                .send()
                .await
                .unwrap()
                .json::<Value>()
                .await
                .unwrap()
        })
    };
    let draft = emu.draft(&token, d::BILLING_MAILBOX, "Waited for").await;
    let changed = waiter.await.unwrap();
    assert_eq!(changed["drafts"][0]["id"], draft.as_str());
    let after_draft = changed["version"].as_u64().unwrap();
    assert!(after_draft > version);

    let item = json!({"attachmentType": "file", "name": "scan.pdf", "size": 4 * MB});
    let session = emu
        .create_session(&token, d::BILLING_MAILBOX, &draft, item)
        .await;
    assert_eq!(session.status, 201, "{}", session.json);
    let opened = emu
        .get(&format!(
            "drafts/wait?version={after_draft}&timeout_ms=10000"
        ))
        .await;
    assert_eq!(opened.status, 200);
    assert_eq!(
        opened.json["drafts"][0]["upload_sessions"][0]["name"],
        "scan.pdf"
    );
}
