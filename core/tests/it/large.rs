//! Messages over Graph's 4 MB request limit (a draft, upload sessions, the
//! draft's send) and raw MIME messages, against the emulator over HTTP.

use crate::common;

use std::path::PathBuf;

use base64::Engine;
use base64::engine::general_purpose::STANDARD;
use common::*;
use graphmailer::{
    Attachment, ErrorKind, Mailer, Message, MimeMessage, Progress, SendOptions, limits,
};
use graphmailer_emulator::defaults as d;
use serde_json::{Value, json};

const MB: usize = 1024 * 1024;

/// Bytes that differ at every offset, so a chunk put in the wrong place or
/// sent twice shows.
fn pattern(len: usize, seed: u8) -> Vec<u8> {
    (0..len)
        .map(|i| (i as u32).wrapping_mul(2_654_435_761).to_le_bytes()[1] ^ seed)
        .collect()
}

struct TempFile(PathBuf);

impl TempFile {
    fn new(name: &str, bytes: &[u8]) -> Self {
        let dir = std::env::temp_dir().join(format!(
            "gm-large-{}-{}",
            std::process::id(),
            uuid::Uuid::new_v4()
        ));
        std::fs::create_dir_all(&dir).unwrap();
        let path = dir.join(name);
        std::fs::write(&path, bytes).unwrap();
        TempFile(path)
    }
}

impl Drop for TempFile {
    fn drop(&mut self) {
        if let Some(dir) = self.0.parent() {
            let _ = std::fs::remove_dir_all(dir);
        }
    }
}

/// The billing app holds Mail.Send and Mail.ReadWrite, which the large path needs.
fn billing(emu: &TestEmulator, large: bool) -> Mailer {
    Mailer::new(emu.billing_config().large_messages(large).build().unwrap()).unwrap()
}

fn upload_started(draft: &Value) -> bool {
    draft["upload_sessions"]
        .as_array()
        .is_some_and(|s| !s.is_empty())
}

fn attachment_bytes(message: &Value, name: &str) -> Vec<u8> {
    let list = message["message"]["attachments"].as_array().unwrap();
    let found = list
        .iter()
        .find(|a| a["name"] == name)
        .unwrap_or_else(|| panic!("no attachment {name} in {list:?}"));
    STANDARD
        .decode(found["contentBytes"].as_str().unwrap())
        .unwrap()
}

fn invoice(file: &TempFile) -> Message {
    Message::new(d::BILLING_MAILBOX)
        .to("customer@example.com")
        .subject("Annual report")
        .text("The report is attached.")
        .attach(Attachment::from_path(&file.0).unwrap())
}

#[tokio::test]
async fn a_20_mb_attachment_goes_through_upload_sessions_byte_for_byte() {
    let emu = TestEmulator::start().await;
    let big = pattern(20 * MB, 7);
    let file = TempFile::new("report.pdf", &big);
    let small = pattern(200_000, 9);
    let message = invoice(&file).attach(Attachment::from_bytes("summary.csv", small.clone()));
    let receipt = billing(&emu, true).send(&message).await.unwrap();
    assert!(receipt.request_id.is_some());
    let sent = emu.messages().await;
    assert_eq!(sent.len(), 1);
    assert_eq!(sent[0]["message"]["subject"], "Annual report");
    assert!(attachment_bytes(&sent[0], "report.pdf") == big);
    assert!(attachment_bytes(&sent[0], "summary.csv") == small);
    let counters = emu.counters().await;
    assert_eq!(counters["upload_chunks"], 6, "{counters}");
    assert!(emu.drafts().await.is_empty());
}

/// Every event the observer saw, in order.
fn recorder() -> (SendOptions, std::sync::Arc<std::sync::Mutex<Vec<Progress>>>) {
    let seen = std::sync::Arc::new(std::sync::Mutex::new(Vec::new()));
    let log = seen.clone();
    let options = SendOptions::new().on_progress(move |p| log.lock().unwrap().push(p.clone()));
    (options, seen)
}

#[tokio::test]
async fn upload_progress_rises_chunk_by_chunk_to_the_total() {
    let emu = TestEmulator::start().await;
    let big = pattern(8 * MB, 4);
    let file = TempFile::new("scan.tif", &big);
    let small = pattern(100_000, 2);
    let message = invoice(&file).attach(Attachment::from_bytes("index.csv", small));
    let (options, seen) = recorder();
    billing(&emu, true)
        .send_with(&message, &options)
        .await
        .unwrap();
    let seen = seen.lock().unwrap().clone();
    let total = (8 * MB + 100_000) as u64;
    // The 8 MB file in chunks of 3.75 MiB: three events; the small
    // attachment in one; then the final one.
    let chunks = limits::UPLOAD_CHUNK_BYTES as u64;
    let big_len = (8 * MB) as u64;
    let figures: Vec<_> = seen.iter().map(|p| (p.index, p.sent, p.finished)).collect();
    assert_eq!(
        figures,
        [
            (0, chunks, false),
            (0, 2 * chunks, false),
            (0, big_len, false),
            (1, 100_000, false),
            (1, 100_000, true)
        ]
    );
    assert!(
        seen[..3]
            .iter()
            .all(|p| p.name == "scan.tif" && p.total == big_len)
    );
    assert!(
        seen.windows(2)
            .all(|w| w[0].message_sent <= w[1].message_sent)
    );
    assert!(seen.iter().all(|p| p.message_total == total));
    assert_eq!(seen.last().unwrap().message_sent, total);
    assert_eq!(emu.counters().await["upload_chunks"], 3);
}

#[tokio::test]
async fn a_message_in_one_request_reports_no_progress() {
    let emu = TestEmulator::start().await;
    let file = TempFile::new("small.pdf", &pattern(100_000, 1));
    let (options, seen) = recorder();
    billing(&emu, true)
        .send_with(&invoice(&file), &options)
        .await
        .unwrap();
    assert_eq!(emu.messages().await.len(), 1);
    assert!(seen.lock().unwrap().is_empty());
}

#[tokio::test]
async fn a_message_that_fits_uses_one_request_even_with_large_messages_on() {
    let emu = TestEmulator::start().await;
    let file = TempFile::new("small.pdf", &pattern(100_000, 1));
    billing(&emu, true).send(&invoice(&file)).await.unwrap();
    let counters = emu.counters().await;
    assert_eq!(counters["drafts_created"], 0, "{counters}");
    assert_eq!(emu.messages().await.len(), 1);
}

#[tokio::test]
async fn without_the_option_a_large_message_is_refused_before_any_request() {
    let emu = TestEmulator::start().await;
    let file = TempFile::new("report.pdf", &pattern(5 * MB, 3));
    let mailer = billing(&emu, false);
    let e = mailer.send(&invoice(&file)).await.unwrap_err();
    assert_eq!(e.kind(), ErrorKind::InvalidMessage);
    assert_eq!(e.field(), Some("attachments"));
    assert_eq!(e.code(), Some("RequestEntityTooLarge"));
    let hint = e.hint().unwrap();
    assert!(hint.contains("Mail.ReadWrite") && hint.contains("GRAPHMAILER_LARGE_MESSAGES"));
    assert_eq!(mailer.token_requests(), 0);
}

#[tokio::test]
async fn an_app_without_mail_readwrite_is_told_what_to_grant() {
    let emu = TestEmulator::start().await;
    let file = TempFile::new("report.pdf", &pattern(5 * MB, 3));
    let erp = Mailer::new(emu.config().large_messages(true).build().unwrap()).unwrap();
    let message = Message::new(ALLOWED)
        .to("a@example.com")
        .attach(Attachment::from_path(&file.0).unwrap());
    let e = erp.send(&message).await.unwrap_err();
    assert_eq!(e.kind(), ErrorKind::AccessDenied);
    let hint = e.hint().unwrap();
    assert!(
        hint.contains("Mail.ReadWrite") && hint.contains("scope"),
        "{hint}"
    );
    assert!(emu.drafts().await.is_empty());
    assert!(emu.messages().await.is_empty());
}

#[tokio::test]
async fn a_failed_chunk_resumes_where_the_service_stands() {
    let emu = TestEmulator::start().await;
    let big = pattern(12 * MB, 5);
    let file = TempFile::new("ledger.bin", &big);
    // The second chunk is stored but its answer is lost; the third gets a 503.
    emu.faults(json!({"upload": [
        {"nth": 2, "drop_after_body": true, "deliver": true},
        {"nth": 3, "status": 503, "retry_after_secs": 0}
    ]}))
    .await;
    billing(&emu, true).send(&invoice(&file)).await.unwrap();
    let sent = emu.messages().await;
    assert!(attachment_bytes(&sent[0], "ledger.bin") == big);
    // 4 chunks stored once each: the one whose answer was lost is not sent
    // again, because the upload URL said where it stood; the refused one is.
    let counters = emu.counters().await;
    assert_eq!(counters["upload_chunks"], 4, "{counters}");
    assert_eq!(counters["upload_requests"], 5, "{counters}");
    assert!(emu.drafts().await.is_empty());
}

#[tokio::test]
async fn a_failure_part_way_deletes_the_draft() {
    let emu = TestEmulator::start().await;
    emu.settings(json!({"max_message_size_bytes": 8 * MB}))
        .await;
    let file = TempFile::new("archive.zip", &pattern(10 * MB, 2));
    let e = billing(&emu, true).send(&invoice(&file)).await.unwrap_err();
    assert_eq!(e.code(), Some("ErrorMessageSizeExceeded"), "{e}");
    assert!(e.message().contains("draft was deleted"), "{e}");
    assert!(e.hint().unwrap().contains("MaxSendSize"));
    assert!(emu.drafts().await.is_empty());
    assert!(emu.messages().await.is_empty());
}

/// A large send on a task of its own, against the emulator with `faults`.
async fn send_in_background(
    emu: &TestEmulator,
    faults: Value,
    size: usize,
) -> tokio::task::JoinHandle<graphmailer::Result<graphmailer::SendReceipt>> {
    emu.faults(faults).await;
    let file = TempFile::new("scan.tif", &pattern(size, 4));
    let mailer = billing(emu, true);
    tokio::spawn(async move { mailer.send(&invoice(&file)).await })
}

/// Cancels `task` and checks that it left neither a draft nor a mail.
async fn cancel_leaving_nothing(
    emu: &TestEmulator,
    task: tokio::task::JoinHandle<graphmailer::Result<graphmailer::SendReceipt>>,
) {
    task.abort();
    assert!(task.await.unwrap_err().is_cancelled());
    assert!(
        emu.wait_for_drafts(|d| d.is_empty()).await.is_empty(),
        "the cancelled send's draft stayed"
    );
    assert_eq!(emu.counter("drafts_deleted").await, 1);
    assert!(emu.messages().await.is_empty());
}

#[tokio::test]
async fn a_send_cancelled_mid_upload_leaves_no_draft() {
    let emu = TestEmulator::start().await;
    let task = send_in_background(&emu, json!({"upload_delay_ms": 400}), 12 * MB).await;
    let drafts = emu.wait_for_drafts(|d| d.iter().any(upload_started)).await;
    if drafts.len() != 1 {
        panic!("no draft appeared; the send ended with {:?}", task.await);
    }
    assert!(upload_started(&drafts[0]), "no upload started");
    cancel_leaving_nothing(&emu, task).await;
}

#[tokio::test]
async fn a_send_cancelled_while_graph_answers_its_draft_leaves_no_draft() {
    let emu = TestEmulator::start().await;
    let task = send_in_background(&emu, json!({"draft_delay_ms": 1000}), 6 * MB).await;
    // The draft exists; Graph's answer, with its id, is a second away.
    if emu.wait_for_drafts(|d| d.len() == 1).await.len() != 1 {
        panic!("no draft appeared; the send ended with {:?}", task.await);
    }
    cancel_leaving_nothing(&emu, task).await;
}

#[tokio::test]
async fn a_send_cancelled_while_graph_sends_its_draft_keeps_the_draft() {
    let emu = TestEmulator::start().await;
    // Graph holds its answer to the draft's send.
    emu.faults(json!({"delay_ms": 30_000})).await;
    let logs = Captured::default();
    let _logging = tracing::subscriber::set_default(logs.subscriber());
    let file = TempFile::new("scan.tif", &pattern(6 * MB, 4));
    let mailer = billing(&emu, true);
    let handover = graphmailer::Handover::new();
    let task = tokio::spawn({
        let handover = handover.clone();
        let message = invoice(&file);
        async move { handover.watch(mailer.send(&message)).await }
    });
    emu.wait_for_counter("send_requests", 1).await;
    task.abort();
    assert!(task.await.unwrap_err().is_cancelled());
    assert_eq!(
        handover.may_have_been_sent().map(|r| r.sender),
        Some(d::BILLING_MAILBOX.to_owned())
    );
    // Deleting the draft could race Graph's send of it: it stays, and the
    // log says so (the deleting path logs only once its delete is answered).
    let logged = logs.text();
    assert!(
        logged.contains("the draft is still in Drafts"),
        "no word of the kept draft:\n{logged}"
    );
    assert_eq!(emu.drafts().await.len(), 1);
    assert_eq!(emu.counter("drafts_deleted").await, 0);
}

#[tokio::test]
async fn attachments_over_150_mb_are_refused_before_sending() {
    let emu = TestEmulator::start().await;
    let mut huge = Attachment::from_bytes("huge.bin", Vec::new());
    huge.content = graphmailer::Content::File {
        path: PathBuf::from("/nonexistent"),
        size: 151 * MB as u64,
    };
    let mailer = billing(&emu, true);
    let e = mailer
        .send(
            &Message::new(d::BILLING_MAILBOX)
                .to("a@example.com")
                .attach(huge),
        )
        .await
        .unwrap_err();
    assert_eq!(e.field(), Some("attachments[0]"), "{e}");
    assert_eq!(mailer.token_requests(), 0);
}

/// `bytes` in base64, in lines of 76 joined by `eol`, as mail programs write it.
fn base64_lines(bytes: &[u8], eol: &str) -> String {
    let encoded = STANDARD.encode(bytes);
    let lines: Vec<&str> = encoded
        .as_bytes()
        .chunks(76)
        .map(|c| std::str::from_utf8(c).unwrap())
        .collect();
    lines.join(eol)
}

fn mime_with_pdf(from: &str, pdf: &[u8]) -> String {
    format!(
        "From: Billing <{from}>\nTo: Customer <customer@example.com>\nSubject: Invoice 4711\nMIME-Version: 1.0\n\
         Content-Type: multipart/mixed; boundary=\"b1\"\n\n--b1\nContent-Type: text/plain; charset=utf-8\n\n\
         Please find the invoice attached.\n--b1\nContent-Type: application/pdf; name=\"invoice-4711.pdf\"\n\
         Content-Disposition: attachment; filename=\"invoice-4711.pdf\"\nContent-Transfer-Encoding: base64\n\n{}\n--b1--\n",
        base64_lines(pdf, "\n")
    )
}

#[tokio::test]
async fn a_mime_message_with_an_attachment_arrives_intact() {
    let emu = TestEmulator::start().await;
    let pdf = pattern(300_000, 11);
    let message = MimeMessage::from_bytes(mime_with_pdf(ALLOWED, &pdf)).unwrap();
    let receipt = emu.mailer().send_mime(None, &message).await.unwrap();
    assert!(receipt.request_id.is_some());
    let sent = emu.messages().await;
    assert_eq!(sent.len(), 1);
    assert_eq!(sent[0]["mailbox"], ALLOWED);
    assert_eq!(sent[0]["message"]["subject"], "Invoice 4711");
    assert!(attachment_bytes(&sent[0], "invoice-4711.pdf") == pdf);
}

#[tokio::test]
async fn mime_senders_pass_the_allowlist_and_the_tenant_policy() {
    let emu = TestEmulator::start().await;
    let message = MimeMessage::from_bytes(mime_with_pdf(DENIED, b"%PDF")).unwrap();
    let guarded = Mailer::new(emu.config().allowed_senders([ALLOWED]).build().unwrap()).unwrap();
    let e = guarded.send_mime(None, &message).await.unwrap_err();
    assert_eq!(e.kind(), ErrorKind::SenderNotAllowed);
    assert_eq!(guarded.token_requests(), 0);
    let e = emu.mailer().send_mime(None, &message).await.unwrap_err();
    assert_eq!(e.kind(), ErrorKind::AccessDenied);
    // An explicit sender wins over From.
    emu.mailer()
        .send_mime(Some(ALLOWED), &message)
        .await
        .unwrap();
    assert_eq!(emu.messages().await[0]["mailbox"], ALLOWED);
}

#[tokio::test]
async fn a_mime_message_without_a_usable_from_goes_as_the_default_sender() {
    let emu = TestEmulator::start().await;
    let mime =
        MimeMessage::from_bytes("From: root\nTo: ops@example.com\nSubject: backup\n\ndone\n")
            .unwrap();
    let e = emu.mailer().send_mime(None, &mime).await.unwrap_err();
    assert_eq!(e.field(), Some("sender"));
    let with_default = Mailer::new(emu.config().default_sender(ALLOWED).build().unwrap()).unwrap();
    with_default.send_mime(None, &mime).await.unwrap();
    assert_eq!(emu.messages().await[0]["mailbox"], ALLOWED);
    // An explicit sender that is wrong stays an error.
    let e = with_default
        .send_mime(Some("root"), &mime)
        .await
        .unwrap_err();
    assert_eq!(e.field(), Some("sender"));
}

#[tokio::test]
async fn a_mime_message_over_the_mime_limit_goes_through_a_draft_keeping_its_message_id() {
    let emu = TestEmulator::start().await;
    let pdf = pattern(5 * MB, 13);
    let text = mime_with_pdf(d::BILLING_MAILBOX, &pdf).replacen(
        "Subject:",
        "Message-ID: <scan.5mb@contoso.test>\nX-Scanner: floor-2\nSubject:",
        1,
    );
    let message = MimeMessage::from_bytes(text.clone()).unwrap();

    let off = billing(&emu, false);
    let e = off.send_mime(None, &message).await.unwrap_err();
    assert_eq!(e.code(), Some("RequestEntityTooLarge"));
    assert!(
        e.hint().unwrap().contains("GRAPHMAILER_LARGE_MESSAGES"),
        "{e}"
    );
    assert_eq!(off.token_requests(), 0);
    // Read from a stream, the message is refused the same way by a mailer
    // with large messages off, which reads no more than one byte past what
    // it could send; one with them on reads it whole.
    let mut stream = std::io::Cursor::new(text.as_bytes());
    let e = off.read_mime(&mut stream).unwrap_err();
    assert_eq!(e.code(), Some("RequestEntityTooLarge"));
    assert!(e.hint().unwrap().contains("GRAPHMAILER_LARGE_MESSAGES"));
    assert_eq!(stream.position(), off.max_mime_bytes() as u64 + 1);
    let on = billing(&emu, true);
    assert!(on.max_mime_bytes() > text.len());
    let read = on.read_mime(text.as_bytes()).unwrap();
    assert_eq!(read.as_bytes(), message.as_bytes());

    let receipt = billing(&emu, true).send_mime(None, &message).await.unwrap();
    assert!(receipt.request_id.is_some());
    let sent = emu.messages().await;
    assert_eq!(sent.len(), 1);
    let kept = &sent[0]["message"];
    assert_eq!(kept["subject"], "Invoice 4711");
    assert_eq!(kept["internetMessageId"], "<scan.5mb@contoso.test>");
    assert_eq!(kept["internetMessageHeaders"][0]["name"], "X-Scanner");
    assert_eq!(
        kept["toRecipients"][0]["emailAddress"]["address"],
        "customer@example.com"
    );
    assert!(attachment_bytes(&sent[0], "invoice-4711.pdf") == pdf);
    let counters = emu.counters().await;
    assert_eq!(counters["drafts_created"], 1, "{counters}");
    assert!(
        counters["upload_chunks"].as_u64().unwrap() >= 2,
        "{counters}"
    );
    assert!(emu.drafts().await.is_empty());
}

#[tokio::test]
async fn a_large_mime_reply_keeps_its_threading_headers_and_every_part() {
    let emu = TestEmulator::start().await;
    let pdf = pattern(4 * MB, 17);
    let logo = pattern(20_000, 3);
    let wrap = |bytes: &[u8]| base64_lines(bytes, "\r\n");
    let tags: String = (1..=7).map(|n| format!("X-Tag-{n}: {n}\r\n")).collect();
    let text = format!(
        "From: Billing <{from}>\r\nTo: customer@example.com\r\nSubject: Re: Invoice 4711\r\n\
         Message-ID: <reply.4711@contoso.test>\r\nIn-Reply-To: <question.4711@example.com>\r\n\
         References: <invoice.4711@contoso.test> <question.4711@example.com>\r\n{tags}\
         MIME-Version: 1.0\r\nContent-Type: multipart/mixed; boundary=\"m\"\r\n\r\n\
         --m\r\nContent-Type: multipart/related; boundary=\"r\"\r\n\r\n\
         --r\r\nContent-Type: text/html; charset=utf-8\r\n\r\n<p>The invoice, again. <img src=\"cid:logo@contoso\"></p>\r\n\
         --r\r\nContent-Type: image/png\r\nContent-ID: <logo@contoso>\r\nContent-Transfer-Encoding: base64\r\n\r\n{logo}\r\n--r--\r\n\
         --m\r\nContent-Type: application/pdf; name=\"invoice-4711.pdf\"\r\n\
         Content-Disposition: attachment; filename=\"invoice-4711.pdf\"\r\nContent-Transfer-Encoding: base64\r\n\r\n{pdf}\r\n--m--\r\n",
        from = d::BILLING_MAILBOX,
        logo = wrap(&logo),
        pdf = wrap(&pdf),
    );
    let message = MimeMessage::from_bytes(text).unwrap();
    billing(&emu, true).send_mime(None, &message).await.unwrap();
    let sent = emu.messages().await;
    assert_eq!(sent.len(), 1);
    assert_eq!(sent[0]["sent_via"], "draft");
    // The draft was made of the message itself, less the PDF: every header
    // Graph's JSON form could not carry is there.
    let kept = &sent[0]["message"];
    let header = |name: &str| {
        kept["internetMessageHeaders"]
            .as_array()
            .unwrap()
            .iter()
            .find(|h| h["name"] == name)
            .map(|h| h["value"].as_str().unwrap().to_owned())
    };
    assert_eq!(
        header("In-Reply-To").as_deref(),
        Some("<question.4711@example.com>"),
        "{}",
        kept["internetMessageHeaders"]
    );
    assert_eq!(
        header("References").as_deref(),
        Some("<invoice.4711@contoso.test> <question.4711@example.com>")
    );
    for n in 1..=7 {
        assert_eq!(header(&format!("X-Tag-{n}")), Some(n.to_string()));
    }
    assert_eq!(kept["internetMessageId"], "<reply.4711@contoso.test>");
    assert!(attachment_bytes(&sent[0], "invoice-4711.pdf") == pdf);
    let attachments = kept["attachments"].as_array().unwrap();
    let inline = attachments
        .iter()
        .find(|a| a["contentId"] == "logo@contoso")
        .expect("the embedded logo");
    assert_eq!(inline["isInline"], true);
    assert_eq!(
        STANDARD
            .decode(inline["contentBytes"].as_str().unwrap())
            .unwrap(),
        logo
    );
    let counters = emu.counters().await;
    assert_eq!(counters["drafts_created"], 1, "{counters}");
    assert!(emu.drafts().await.is_empty());
}

#[tokio::test]
async fn a_gateway_error_on_the_drafts_send_keeps_the_draft_and_says_the_mail_may_have_gone() {
    let emu = TestEmulator::start().await;
    // A proxy or CDN in front of Graph answers the draft's send with a 5xx
    // of its own: Graph may have the send in hand.
    emu.faults(json!({"send": [{"status": 522}]})).await;
    let file = TempFile::new("report.pdf", &pattern(5 * MB, 6));
    let e = billing(&emu, true).send(&invoice(&file)).await.unwrap_err();
    assert_eq!(e.kind(), ErrorKind::AmbiguousDelivery, "{e}");
    assert!(!e.message().contains("nothing was sent"), "{e}");
    assert_eq!(
        emu.drafts().await.len(),
        1,
        "the draft is kept: deleting it could race a send in progress"
    );
}
