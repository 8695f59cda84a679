//! Graph's read API for mail over real HTTP: delivery to the Inbox of known
//! recipients (To, Cc, Bcc), each read route and key syntax, the query
//! options with `@odata.nextLink` paging, attachments and MIME byte for
//! byte, and the permissions and access policy Graph applies.

use crate::common;

use std::collections::HashSet;

use base64::Engine;
use base64::engine::general_purpose::STANDARD;
use common::{Answer, Emu};
use graphmailer_emulator::defaults as d;
use serde_json::{Value, json};

/// Every byte value, twice: what a lossy path would alter.
fn binary_bytes() -> Vec<u8> {
    (0..=255u8).chain((0..=255u8).rev()).collect()
}

impl Emu {
    /// `Mail.Send` + `Mail.ReadWrite`, no policy: any mailbox.
    async fn legacy(&self) -> String {
        self.token(d::LEGACY_SYNC_CLIENT_ID, d::LEGACY_SYNC_SECRET)
            .await
    }

    /// `Mail.ReadBasic.All`, policy-limited to erp-senders@.
    async fn read_basic(&self) -> String {
        self.token(d::OUTBOX_CLIENT_ID, d::OUTBOX_SECRET).await
    }

    /// `Mail.ReadWrite`, policy-limited to erp-senders@.
    async fn read_write(&self) -> String {
        self.token(d::BILLING_CLIENT_ID, d::BILLING_SECRET).await
    }

    /// GET `{url}/v1.0/{path}`; `path` may be a whole URL (a nextLink).
    async fn read(&self, token: &str, path: &str) -> Answer {
        let url = if path.starts_with("http") {
            path.to_owned()
        } else {
            format!("{}/v1.0/{path}", self.url())
        };
        let response = self.http.get(url).bearer_auth(token).send().await.unwrap();
        Answer::read(response).await
    }

    /// GET returning the raw bytes and Content-Type.
    async fn read_bytes(&self, token: &str, path: &str) -> (u16, String, Vec<u8>) {
        let response = self
            .http
            .get(format!("{}/v1.0/{path}", self.url()))
            .bearer_auth(token)
            .send()
            .await
            .unwrap();
        let status = response.status().as_u16();
        let content_type = response
            .headers()
            .get("content-type")
            .and_then(|v| v.to_str().ok())
            .unwrap_or("")
            .to_owned();
        (
            status,
            content_type,
            response.bytes().await.unwrap().to_vec(),
        )
    }

    /// A list answer's `value`, asserting a 200.
    async fn list(&self, token: &str, path: &str) -> Vec<Value> {
        let answer = self.read(token, path).await;
        assert_eq!(answer.status, 200, "{path}: {}", answer.json);
        answer.json["value"].as_array().unwrap().clone()
    }

    async fn send_json(&self, token: &str, mailbox: &str, message: Value) {
        let answer = self
            .send(token, mailbox, &json!({ "message": message }))
            .await;
        assert_eq!(answer.status, 202, "sendMail: {}", answer.json);
    }

    async fn send_raw_mime(&self, token: &str, mailbox: &str, mime: &str) {
        let response = self
            .http
            .post(format!("{}/v1.0/users/{mailbox}/sendMail", self.url()))
            .bearer_auth(token)
            .header("content-type", "text/plain")
            .body(STANDARD.encode(mime))
            .send()
            .await
            .unwrap();
        assert_eq!(response.status().as_u16(), 202);
    }
}

fn to(addresses: &[&str]) -> Value {
    addresses
        .iter()
        .map(|a| json!({ "emailAddress": { "address": a } }))
        .collect()
}

fn text_message(subject: &str, recipients: &[&str]) -> Value {
    json!({
        "subject": subject,
        "body": { "contentType": "Text", "content": format!("Body of {subject}") },
        "toRecipients": to(recipients),
    })
}

fn subjects(items: &[Value]) -> Vec<&str> {
    items
        .iter()
        .map(|m| m["subject"].as_str().unwrap())
        .collect()
}

fn ids(items: &[Value]) -> Vec<String> {
    items
        .iter()
        .map(|m| m["id"].as_str().unwrap().to_owned())
        .collect()
}

fn encoded(filter: &str) -> String {
    url::form_urlencoded::Serializer::new(String::new())
        .append_pair("$filter", filter)
        .finish()
}

#[tokio::test]
async fn mail_to_known_mailboxes_lands_in_their_inbox_each_copy_with_its_own_id() {
    let emu = Emu::reading().await;
    let legacy = emu.legacy().await;
    let mut message = text_message("Quarterly", &[d::ERP_MAILBOX]);
    message["ccRecipients"] = to(&["someone@example.com"]);
    message["bccRecipients"] = to(&[&d::BILLING_MAILBOX.to_uppercase()]);
    emu.send_json(&legacy, d::CEO_MAILBOX, message).await;

    let sent = emu
        .list(
            &legacy,
            &format!("users/{}/mailFolders/sentitems/messages", d::CEO_MAILBOX),
        )
        .await;
    assert_eq!(subjects(&sent), ["Quarterly"]);
    assert_eq!(
        sent[0]["bccRecipients"][0]["emailAddress"]["address"],
        d::BILLING_MAILBOX.to_uppercase(),
        "the sender's copy keeps its Bcc"
    );
    assert_eq!(sent[0]["isRead"], true);

    let erp_inbox = emu
        .list(
            &legacy,
            &format!("users/{}/mailFolders/inbox/messages", d::ERP_MAILBOX),
        )
        .await;
    let billing_inbox = emu
        .list(
            &legacy,
            &format!("users/{}/mailFolders('Inbox')/messages", d::BILLING_MAILBOX),
        )
        .await;
    for (inbox, who) in [(&erp_inbox, "to"), (&billing_inbox, "bcc")] {
        assert_eq!(subjects(inbox), ["Quarterly"], "{who}");
        let copy = &inbox[0];
        assert_eq!(
            copy["bccRecipients"],
            json!([]),
            "{who}: Bcc is not shown to recipients"
        );
        assert_eq!(copy["isRead"], false, "{who}");
        assert_eq!(copy["from"]["emailAddress"]["address"], d::CEO_MAILBOX);
        assert_eq!(copy["internetMessageId"], sent[0]["internetMessageId"]);
        assert_eq!(copy["receivedDateTime"], sent[0]["sentDateTime"]);
        assert_ne!(copy["parentFolderId"], sent[0]["parentFolderId"], "{who}");
        assert!(
            copy["parentFolderId"].as_str().unwrap().len() > 20,
            "an opaque folder id"
        );
    }
    let all_ids: HashSet<String> = [&sent, &erp_inbox, &billing_inbox]
        .iter()
        .flat_map(|items| ids(items))
        .collect();
    assert_eq!(all_ids.len(), 3, "each mailbox's copy has its own id");
    assert_ne!(
        erp_inbox[0]["parentFolderId"], billing_inbox[0]["parentFolderId"],
        "each mailbox's Inbox is its own folder"
    );

    // Stable: the same ids on the next read.
    let again = emu
        .list(&legacy, &format!("users/{}/messages", d::ERP_MAILBOX))
        .await;
    assert_eq!(ids(&again), ids(&erp_inbox));
    // The sender did not write to itself: its Inbox stays empty.
    let ceo_inbox = emu
        .list(
            &legacy,
            &format!("users/{}/mailFolders/inbox/messages", d::CEO_MAILBOX),
        )
        .await;
    assert_eq!(ceo_inbox, Vec::<Value>::new());
    // An address the directory does not know has no mailbox to read.
    let unknown = emu
        .read(&legacy, "users/someone@example.com/messages")
        .await;
    assert_eq!(unknown.status, 404);
    assert_eq!(unknown.graph_code(), "ErrorInvalidUser");
}

#[tokio::test]
async fn every_read_route_and_key_form_reaches_the_same_message() {
    let emu = Emu::reading().await;
    let legacy = emu.legacy().await;
    // users('...') works for sendMail too.
    let response = emu
        .http
        .post(format!(
            "{}/v1.0/users('{}')/sendMail",
            emu.url(),
            d::CEO_MAILBOX
        ))
        .bearer_auth(&legacy)
        .json(&json!({ "message": text_message("Routes", &[d::ERP_MAILBOX]) }))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status().as_u16(), 202);
    let draft = emu
        .http
        .post(format!(
            "{}/v1.0/users/{}/messages",
            emu.url(),
            d::ERP_MAILBOX
        ))
        .bearer_auth(&legacy)
        .json(&text_message("A draft", &["someone@example.com"]))
        .send()
        .await
        .unwrap();
    assert_eq!(draft.status().as_u16(), 201);
    let draft: Value = draft.json().await.unwrap();

    let whole = emu
        .list(&legacy, &format!("users('{}')/messages", d::ERP_MAILBOX))
        .await;
    let mut names = subjects(&whole);
    names.sort();
    assert_eq!(names, ["A draft", "Routes"], "inbox and drafts together");
    let drafts = emu
        .list(
            &legacy,
            &format!("users/{}/mailFolders/Drafts/messages", d::ERP_MAILBOX),
        )
        .await;
    assert_eq!(subjects(&drafts), ["A draft"]);
    assert_eq!(drafts[0]["id"], draft["id"]);
    assert_eq!(drafts[0]["isDraft"], true);
    let sent = emu
        .list(
            &legacy,
            &format!("users/{}/mailFolders/SENTITEMS/messages", d::ERP_MAILBOX),
        )
        .await;
    assert_eq!(sent, Vec::<Value>::new(), "erp@ sent nothing");

    let inbox = emu
        .list(
            &legacy,
            &format!("users/{}/mailFolders(\"INBOX\")/messages", d::ERP_MAILBOX),
        )
        .await;
    assert_eq!(subjects(&inbox), ["Routes"]);
    let id = inbox[0]["id"].as_str().unwrap();
    let folder_id = inbox[0]["parentFolderId"].as_str().unwrap();
    for path in [
        format!("users/{}/messages/{id}", d::ERP_MAILBOX),
        format!("users('{}')/messages('{id}')", d::ERP_MAILBOX),
        format!("users/{}/mailFolders/inbox/messages/{id}", d::ERP_MAILBOX),
        format!(
            "users/{}/mailFolders('inbox')/messages/{id}",
            d::ERP_MAILBOX
        ),
        format!(
            "users/{}/mailFolders/{folder_id}/messages/{id}",
            d::ERP_MAILBOX
        ),
    ] {
        let answer = emu.read(&legacy, &path).await;
        assert_eq!(answer.status, 200, "{path}: {}", answer.json);
        assert_eq!(answer.json["id"], id, "{path}");
        assert_eq!(answer.json["subject"], "Routes");
        assert_eq!(answer.json["body"]["content"], "Body of Routes");
    }
    // The draft by id, as before.
    let got = emu
        .read(
            &legacy,
            &format!(
                "users/{}/messages/{}",
                d::ERP_MAILBOX,
                draft["id"].as_str().unwrap()
            ),
        )
        .await;
    assert_eq!(got.status, 200);
    assert_eq!(got.json["subject"], "A draft");

    for (path, code) in [
        (
            format!(
                "users/{}/mailFolders/sentitems/messages/{id}",
                d::ERP_MAILBOX
            ),
            "ErrorItemNotFound",
        ),
        (
            format!("users/{}/messages/AAMknosuchid=", d::ERP_MAILBOX),
            "ErrorItemNotFound",
        ),
        (
            format!("users/{}/messages/{id}", d::CEO_MAILBOX),
            "ErrorItemNotFound",
        ),
        (
            format!("users/{}/mailFolders/archive/messages", d::ERP_MAILBOX),
            "ErrorItemNotFound",
        ),
        (
            format!(
                "users/{}/messages/{id}/attachments/AAMknone=",
                d::ERP_MAILBOX
            ),
            "ErrorItemNotFound",
        ),
    ] {
        let answer = emu.read(&legacy, &path).await;
        assert_eq!(answer.status, 404, "{path}: {}", answer.json);
        assert_eq!(answer.graph_code(), code, "{path}");
    }
}

#[tokio::test]
async fn attachments_are_listed_and_their_bytes_come_back_exactly() {
    let emu = Emu::reading().await;
    let legacy = emu.legacy().await;
    let bytes = binary_bytes();
    let mut message = text_message("With files", &[d::ERP_MAILBOX]);
    message["attachments"] = json!([
        {
            "@odata.type": "#microsoft.graph.fileAttachment",
            "name": "table.bin",
            "contentType": "application/x-emulator-test",
            "contentBytes": STANDARD.encode(&bytes),
        },
        {
            "@odata.type": "#microsoft.graph.fileAttachment",
            "name": "note.txt",
            "contentType": "text/plain",
            "contentBytes": STANDARD.encode(b"line one\r\nline two\n"),
        }
    ]);
    emu.send_json(&legacy, d::CEO_MAILBOX, message).await;

    for mailbox in [d::ERP_MAILBOX, d::CEO_MAILBOX] {
        let items = emu
            .list(&legacy, &format!("users/{mailbox}/messages"))
            .await;
        assert_eq!(items.len(), 1, "{mailbox}");
        assert_eq!(items[0]["hasAttachments"], true);
        let base = format!(
            "users/{mailbox}/messages/{}",
            items[0]["id"].as_str().unwrap()
        );
        let listed = emu.list(&legacy, &format!("{base}/attachments")).await;
        let names: Vec<&str> = listed.iter().map(|a| a["name"].as_str().unwrap()).collect();
        assert_eq!(names, ["table.bin", "note.txt"], "{mailbox}");
        assert_eq!(listed[0]["size"], 512);
        assert_eq!(listed[0]["@odata.type"], "#microsoft.graph.fileAttachment");
        let first = listed[0]["id"].as_str().unwrap();
        let one = emu
            .read(&legacy, &format!("{base}/attachments/{first}"))
            .await;
        assert_eq!(one.status, 200);
        assert_eq!(
            STANDARD
                .decode(one.json["contentBytes"].as_str().unwrap())
                .unwrap(),
            bytes
        );
        let (status, content_type, got) = emu
            .read_bytes(&legacy, &format!("{base}/attachments/{first}/$value"))
            .await;
        assert_eq!(status, 200);
        assert_eq!(content_type, "application/x-emulator-test");
        assert_eq!(got, bytes, "{mailbox}: byte for byte");
        let second = listed[1]["id"].as_str().unwrap();
        let (_, content_type, got) = emu
            .read_bytes(&legacy, &format!("{base}/attachments('{second}')/$value"))
            .await;
        assert_eq!(content_type, "text/plain");
        assert_eq!(got, b"line one\r\nline two\n");
    }
}

#[tokio::test]
async fn value_gives_the_mime_as_sent_or_a_rendering_of_the_json_message() {
    let emu = Emu::reading().await;
    let legacy = emu.legacy().await;
    let mime = format!(
        "From: {ceo}\r\nTo: {erp}\r\nBcc: {billing},\r\n hidden@example.com\r\nSubject: Raw\r\nMessage-ID: <raw@contoso.test>\r\nMIME-Version: 1.0\r\nContent-Type: text/plain; charset=utf-8\r\n\r\nExactly these bytes.\r\n",
        ceo = d::CEO_MAILBOX,
        erp = d::ERP_MAILBOX,
        billing = d::BILLING_MAILBOX
    );
    emu.send_raw_mime(&legacy, d::CEO_MAILBOX, &mime).await;
    let sent = emu
        .list(
            &legacy,
            &format!("users/{}/mailFolders/sentitems/messages", d::CEO_MAILBOX),
        )
        .await;
    let (status, content_type, got) = emu
        .read_bytes(
            &legacy,
            &format!(
                "users/{}/messages/{}/$value",
                d::CEO_MAILBOX,
                sent[0]["id"].as_str().unwrap()
            ),
        )
        .await;
    assert_eq!(status, 200);
    assert!(content_type.starts_with("text/plain"), "{content_type}");
    assert_eq!(
        String::from_utf8(got).unwrap(),
        mime,
        "the sender's copy: as sent"
    );
    for mailbox in [d::ERP_MAILBOX, d::BILLING_MAILBOX] {
        let inbox = emu
            .list(
                &legacy,
                &format!("users/{mailbox}/mailFolders/inbox/messages"),
            )
            .await;
        assert_eq!(subjects(&inbox), ["Raw"], "{mailbox}");
        let (_, _, got) = emu
            .read_bytes(
                &legacy,
                &format!(
                    "users/{mailbox}/messages/{}/$value",
                    inbox[0]["id"].as_str().unwrap()
                ),
            )
            .await;
        let expected = mime.replace(
            &format!("Bcc: {},\r\n hidden@example.com\r\n", d::BILLING_MAILBOX),
            "",
        );
        assert_eq!(
            String::from_utf8(got).unwrap(),
            expected,
            "{mailbox}: without Bcc"
        );
    }

    let mut message = text_message("Grüße", &[d::ERP_MAILBOX]);
    message["attachments"] = json!([{
        "@odata.type": "#microsoft.graph.fileAttachment",
        "name": "table.bin",
        "contentType": "application/octet-stream",
        "contentBytes": STANDARD.encode(binary_bytes()),
    }]);
    emu.send_json(&legacy, d::CEO_MAILBOX, message).await;
    let inbox = emu
        .list(
            &legacy,
            &format!(
                "users/{}/messages?$filter=hasAttachments eq true",
                d::ERP_MAILBOX
            ),
        )
        .await;
    assert_eq!(subjects(&inbox), ["Grüße"]);
    let (status, content_type, got) = emu
        .read_bytes(
            &legacy,
            &format!(
                "users/{}/messages/{}/$value",
                d::ERP_MAILBOX,
                inbox[0]["id"].as_str().unwrap()
            ),
        )
        .await;
    assert_eq!(status, 200);
    assert!(content_type.starts_with("text/plain"), "{content_type}");
    let rendered = String::from_utf8(got).unwrap();
    assert!(rendered.is_ascii(), "MIME on the wire is 7-bit");
    for line in [
        format!("From: {}\r\n", d::CEO_MAILBOX),
        format!("To: {}\r\n", d::ERP_MAILBOX),
        format!("Subject: =?utf-8?B?{}?=\r\n", STANDARD.encode("Grüße")),
        "MIME-Version: 1.0\r\n".to_owned(),
        "Content-Type: multipart/mixed;".to_owned(),
        format!("{}\r\n", STANDARD.encode("Body of Grüße")),
    ] {
        assert!(rendered.contains(&line), "{line:?} in {rendered}");
    }
    let attachment: String = rendered
        .split("filename=\"table.bin\"\r\nContent-Transfer-Encoding: base64\r\n\r\n")
        .nth(1)
        .unwrap()
        .split("--")
        .next()
        .unwrap()
        .lines()
        .collect();
    assert_eq!(STANDARD.decode(attachment).unwrap(), binary_bytes());
}

/// Five messages from ceo@ to erp@, a second apart, subjects out of order.
async fn five_messages(emu: &Emu, token: &str) -> Vec<String> {
    let mut received = Vec::new();
    for (n, subject) in ["delta", "alpha", "echo", "bravo", "charlie"]
        .iter()
        .enumerate()
    {
        let mut message = text_message(subject, &[d::ERP_MAILBOX]);
        if n == 2 {
            message["attachments"] = json!([{
                "@odata.type": "#microsoft.graph.fileAttachment",
                "name": "a.txt",
                "contentBytes": STANDARD.encode("a"),
            }]);
        }
        if n == 4 {
            message["from"] = json!({"emailAddress": {"address": d::CEO_MAILBOX.to_uppercase()}});
        }
        emu.send_json(token, d::CEO_MAILBOX, message).await;
        emu.advance_clock(1000).await;
    }
    let items = emu
        .list(
            token,
            &format!(
                "users/{}/messages?$orderby=receivedDateTime asc",
                d::ERP_MAILBOX
            ),
        )
        .await;
    for item in items {
        received.push(item["receivedDateTime"].as_str().unwrap().to_owned());
    }
    received
}

#[tokio::test]
async fn order_paging_select_and_filters_answer_as_graph() {
    let emu = Emu::reading().await;
    let legacy = emu.legacy().await;
    let received = five_messages(&emu, &legacy).await;
    assert_eq!(received.len(), 5);
    let inbox = format!("users/{}/mailFolders/inbox/messages", d::ERP_MAILBOX);
    let list = |query: String| {
        let path = format!("{inbox}?{query}");
        let emu = &emu;
        let token = legacy.clone();
        async move { emu.list(&token, &path).await }
    };

    assert_eq!(
        subjects(&list(String::new()).await),
        ["charlie", "bravo", "echo", "alpha", "delta"],
        "newest received first by default"
    );
    assert_eq!(
        subjects(&list("$orderby=receivedDateTime%20asc".into()).await),
        ["delta", "alpha", "echo", "bravo", "charlie"]
    );
    assert_eq!(
        subjects(&list("$orderby=subject".into()).await),
        ["alpha", "bravo", "charlie", "delta", "echo"]
    );
    assert_eq!(
        subjects(&list("$orderby=subject desc".into()).await),
        ["echo", "delta", "charlie", "bravo", "alpha"]
    );
    assert_eq!(
        subjects(&list("$orderby=sentDateTime desc&$skip=3".into()).await),
        ["alpha", "delta"]
    );

    // Paging: $top with a nextLink carrying $skip until the last page.
    let mut seen = Vec::new();
    let mut next = Some(format!("{inbox}?$top=2&$orderby=subject"));
    let mut pages = 0;
    while let Some(path) = next {
        let answer = emu.read(&legacy, &path).await;
        assert_eq!(answer.status, 200, "{path}: {}", answer.json);
        let page = answer.json["value"].as_array().unwrap();
        assert!(page.len() <= 2);
        seen.extend(subjects(page).into_iter().map(str::to_owned));
        next = answer.json["@odata.nextLink"].as_str().map(str::to_owned);
        if let Some(link) = &next {
            assert!(link.starts_with(emu.url()), "{link}");
            assert!(link.contains(&format!("$skip={}", seen.len())), "{link}");
            assert!(link.contains("$top=2"), "{link}");
        }
        pages += 1;
    }
    assert_eq!(pages, 3);
    assert_eq!(seen, ["alpha", "bravo", "charlie", "delta", "echo"]);
    let last = emu.read(&legacy, &format!("{inbox}?$top=5")).await;
    assert!(
        last.json.get("@odata.nextLink").is_none(),
        "none when nothing remains"
    );
    assert!(last.json.get("@odata.count").is_none(), "only when asked");
    let counted = emu
        .read(
            &legacy,
            &format!(
                "{inbox}?$count=true&$top=1&{}",
                encoded("hasAttachments eq false")
            ),
        )
        .await;
    assert_eq!(
        counted.json["@odata.count"], 4,
        "all that match, not the page"
    );
    assert_eq!(counted.json["value"].as_array().unwrap().len(), 1);

    // $select keeps what it names (and the id).
    let selected = list("$select=subject,ReceivedDateTime&$top=1".into()).await;
    let keys: HashSet<&str> = selected[0]
        .as_object()
        .unwrap()
        .keys()
        .map(String::as_str)
        .collect();
    assert_eq!(keys, HashSet::from(["id", "subject", "receivedDateTime"]));

    let filtered = |filter: &str| list(encoded(filter));
    let mut cases: Vec<(String, Vec<&str>)> = vec![
        ("subject eq 'alpha'".into(), vec!["alpha"]),
        ("Subject eq 'ALPHA'".into(), vec!["alpha"]),
        (
            "subject ne 'alpha'".into(),
            vec!["charlie", "bravo", "echo", "delta"],
        ),
        ("subject gt 'charlie'".into(), vec!["echo", "delta"]),
        ("subject le 'bravo'".into(), vec!["bravo", "alpha"]),
        ("hasAttachments eq true".into(), vec!["echo"]),
        ("isRead eq true".into(), vec![]),
        (
            "isRead eq false and hasAttachments eq false".into(),
            vec!["charlie", "bravo", "alpha", "delta"],
        ),
        (
            "subject eq 'alpha' or subject eq 'echo'".into(),
            vec!["echo", "alpha"],
        ),
        (
            "(subject eq 'alpha' or subject eq 'echo') and hasAttachments eq true".into(),
            vec!["echo"],
        ),
        (
            "subject eq 'alpha' or subject eq 'echo' and hasAttachments eq false".into(),
            vec!["alpha"],
        ),
        (
            format!("from/emailAddress/address eq '{}'", d::CEO_MAILBOX),
            vec!["charlie", "bravo", "echo", "alpha", "delta"],
        ),
        (
            "from/emailAddress/address eq 'nobody@contoso.test'".into(),
            vec![],
        ),
    ];
    let times = [
        ("ge", 2, vec!["charlie", "bravo", "echo"]),
        ("gt", 2, vec!["charlie", "bravo"]),
        ("lt", 1, vec!["delta"]),
        ("le", 1, vec!["alpha", "delta"]),
        ("eq", 3, vec!["bravo"]),
    ];
    for (op, index, expected) in times {
        cases.push((
            format!("receivedDateTime {op} {}", received[index]),
            expected,
        ));
    }
    cases.push((
        format!(
            "receivedDateTime ge {} and receivedDateTime lt {}",
            received[1], received[3]
        ),
        vec!["echo", "alpha"],
    ));
    for (filter, expected) in cases {
        assert_eq!(
            subjects(&filtered(&filter).await),
            expected,
            "$filter={filter}"
        );
    }
    // Sorting a filtered list works when the sort property leads the filter.
    let sorted = list(format!(
        "$orderby=subject%20desc&{}",
        encoded("subject ne 'alpha' and hasAttachments eq false")
    ))
    .await;
    assert_eq!(subjects(&sorted), ["delta", "charlie", "bravo"]);
    let by_id = emu
        .list(&legacy, &format!("users/{}/messages", d::ERP_MAILBOX))
        .await;
    let id = by_id[0]["internetMessageId"].as_str().unwrap();
    assert_eq!(
        subjects(&filtered(&format!("internetMessageId eq '{id}'")).await),
        [by_id[0]["subject"].as_str().unwrap()]
    );
    // Sent copies are read; the Inbox copies above were not.
    let sent_read = emu
        .list(
            &legacy,
            &format!(
                "users/{}/messages?{}",
                d::CEO_MAILBOX,
                encoded("isRead eq true")
            ),
        )
        .await;
    assert_eq!(sent_read.len(), 5, "the sender's copies are read");
}

#[tokio::test]
async fn a_filter_or_option_it_cannot_read_is_refused_naming_what_is_wrong() {
    let emu = Emu::reading().await;
    let legacy = emu.legacy().await;
    let inbox = format!("users/{}/messages", d::ERP_MAILBOX);
    for (query, code, names) in [
        (encoded("subject eq"), "BadRequest", "Invalid filter clause"),
        (encoded("subject eq 'open"), "BadRequest", "not closed"),
        (
            encoded("(subject eq 'a'"),
            "BadRequest",
            "'(' is not closed",
        ),
        (encoded("subject has 'a'"), "BadRequest", "'has'"),
        (encoded("nosuch eq 'a'"), "BadRequest", "'nosuch'"),
        (
            encoded("importance eq 'high'"),
            "ErrorInvalidUrlQueryFilter",
            "'importance'",
        ),
        (
            encoded("startswith(subject,'a')"),
            "ErrorInvalidUrlQueryFilter",
            "'startswith'",
        ),
        (
            encoded("receivedDateTime ge '2026-01-01T00:00:00Z'"),
            "BadRequest",
            "Edm.DateTimeOffset",
        ),
        (
            encoded("receivedDateTime ge yesterday"),
            "BadRequest",
            "'yesterday'",
        ),
        (encoded("isRead eq 'true'"), "BadRequest", "Edm.Boolean"),
        ("$top=0".into(), "BadRequest", "$top"),
        ("$skip=x".into(), "BadRequest", "$skip"),
        ("$count=yes".into(), "BadRequest", "$count"),
        ("$orderby=importance".into(), "BadRequest", "'importance'"),
        ("$orderby=subject%20upward".into(), "BadRequest", "'upward'"),
        ("$select=subject,nosuch".into(), "BadRequest", "'nosuch'"),
        ("$search=%22x%22".into(), "ErrorInvalidUrlQuery", "$search"),
        (
            format!("$orderby=subject&{}", encoded("isRead eq false")),
            "InefficientFilter",
            "too complex",
        ),
    ] {
        let answer = emu.read(&legacy, &format!("{inbox}?{query}")).await;
        assert_eq!(answer.status, 400, "{query}: {}", answer.json);
        assert_eq!(answer.graph_code(), code, "{query}");
        let message = answer.json["error"]["message"].as_str().unwrap();
        assert!(message.contains(names), "{query}: {message}");
    }
}

#[tokio::test]
async fn read_basic_gets_properties_only_and_the_policy_applies() {
    let emu = Emu::reading().await;
    let legacy = emu.legacy().await;
    let mut message = text_message("Gated", &[d::ERP_MAILBOX, d::CEO_MAILBOX]);
    message["attachments"] = json!([{
        "@odata.type": "#microsoft.graph.fileAttachment",
        "name": "a.txt",
        "contentBytes": STANDARD.encode("a"),
    }]);
    emu.send_json(&legacy, d::BILLING_MAILBOX, message).await;
    let erp_items = emu
        .list(&legacy, &format!("users/{}/messages", d::ERP_MAILBOX))
        .await;
    let base = format!(
        "users/{}/messages/{}",
        d::ERP_MAILBOX,
        erp_items[0]["id"].as_str().unwrap()
    );
    let attachment_id = emu.list(&legacy, &format!("{base}/attachments")).await[0]["id"]
        .as_str()
        .unwrap()
        .to_owned();

    let basic = emu.read_basic().await;
    let listed = emu
        .list(
            &basic,
            &format!("users/{}/messages?$select=subject,body", d::ERP_MAILBOX),
        )
        .await;
    assert_eq!(subjects(&listed), ["Gated"]);
    assert!(
        listed[0].get("body").is_none(),
        "no body under Mail.ReadBasic.All"
    );
    let got = emu.read(&basic, &base).await;
    assert_eq!(got.status, 200);
    assert_eq!(got.json["subject"], "Gated");
    for key in ["body", "bodyPreview", "uniqueBody"] {
        assert!(got.json.get(key).is_none(), "{key}: {}", got.json);
    }
    for path in [
        format!("{base}/attachments"),
        format!("{base}/attachments/{attachment_id}"),
        format!("{base}/attachments/{attachment_id}/$value"),
        format!("{base}/$value"),
    ] {
        let refused = emu.read(&basic, &path).await;
        assert_eq!(refused.status, 403, "{path}");
        assert_eq!(refused.graph_code(), "ErrorAccessDenied");
    }

    let read_write = emu.read_write().await;
    let full = emu.read(&read_write, &base).await;
    assert_eq!(full.status, 200);
    assert_eq!(full.json["body"]["content"], "Body of Gated");
    assert_eq!(full.json["bodyPreview"], "Body of Gated");
    let (status, _, bytes) = emu
        .read_bytes(
            &read_write,
            &format!("{base}/attachments/{attachment_id}/$value"),
        )
        .await;
    assert_eq!((status, bytes), (200, b"a".to_vec()));

    // Mail.Send alone reads nothing.
    let send_only = emu.erp_token().await;
    let refused = emu.read(&send_only, &base).await;
    assert_eq!(refused.status, 403);
    assert_eq!(refused.graph_code(), "ErrorAccessDenied");

    // The access policy keeps both apps out of ceo@, whatever the role.
    let ceo_items = emu
        .list(&legacy, &format!("users/{}/messages", d::CEO_MAILBOX))
        .await;
    assert_eq!(subjects(&ceo_items), ["Gated"]);
    let ceo_message = format!(
        "users/{}/messages/{}",
        d::CEO_MAILBOX,
        ceo_items[0]["id"].as_str().unwrap()
    );
    for token in [&basic, &read_write] {
        for path in [
            format!("users/{}/messages", d::CEO_MAILBOX),
            ceo_message.clone(),
        ] {
            let denied = emu.read(token, &path).await;
            assert_eq!(denied.status, 403, "{path}");
            assert_eq!(denied.graph_code(), "ErrorAccessDenied");
            assert_eq!(
                denied.json["error"]["message"],
                "Access to OData is disabled."
            );
        }
    }
}

#[tokio::test]
async fn mail_to_oneself_is_two_messages_one_per_folder() {
    let emu = Emu::reading().await;
    let legacy = emu.legacy().await;
    let message = text_message("Note to self", &[d::ERP_MAILBOX]);
    emu.send_json(&legacy, d::ERP_MAILBOX, message).await;
    let whole = emu
        .list(&legacy, &format!("users/{}/messages", d::ERP_MAILBOX))
        .await;
    assert_eq!(subjects(&whole), ["Note to self", "Note to self"]);
    let distinct: HashSet<String> = ids(&whole).into_iter().collect();
    assert_eq!(distinct.len(), 2, "two copies, two ids");
    for (folder, read) in [("inbox", false), ("sentitems", true)] {
        let items = emu
            .list(
                &legacy,
                &format!("users/{}/mailFolders/{folder}/messages", d::ERP_MAILBOX),
            )
            .await;
        assert_eq!(items.len(), 1, "{folder}");
        assert_eq!(items[0]["isRead"], read, "{folder}");
        assert!(distinct.contains(items[0]["id"].as_str().unwrap()));
    }
}
