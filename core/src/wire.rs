//! The JSON Graph's `sendMail` takes, written with serde so that no quote,
//! backslash or control character in a subject or body can break the request.

use base64::display::Base64Display;
use base64::engine::general_purpose::STANDARD;
use serde::{Serialize, Serializer};

use crate::address::Address;
use crate::error::{Error, Result};
use crate::message::{Attachment, BodyType, Message};
use crate::message_limits::MAX_REQUEST_BYTES;

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct SendMailRequest<'a> {
    message: WireMessage<'a>,
    save_to_sent_items: bool,
}

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct WireMessage<'a> {
    subject: &'a str,
    body: WireBody<'a>,
    to_recipients: Vec<WireRecipient<'a>>,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    cc_recipients: Vec<WireRecipient<'a>>,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    bcc_recipients: Vec<WireRecipient<'a>>,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    reply_to: Vec<WireRecipient<'a>>,
    #[serde(skip_serializing_if = "Option::is_none")]
    importance: Option<&'static str>,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    internet_message_headers: Vec<WireHeader<'a>>,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    attachments: Vec<WireAttachment<'a>>,
    /// Writable on a draft only: a large MIME message keeps its `Message-ID`.
    #[serde(skip_serializing_if = "Option::is_none")]
    internet_message_id: Option<&'a str>,
}

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct WireBody<'a> {
    content_type: &'static str,
    content: &'a str,
}

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct WireRecipient<'a> {
    email_address: WireEmail<'a>,
}

#[derive(Serialize)]
struct WireEmail<'a> {
    address: &'a str,
    #[serde(skip_serializing_if = "Option::is_none")]
    name: Option<&'a str>,
}

#[derive(Serialize)]
struct WireHeader<'a> {
    name: &'a str,
    value: &'a str,
}

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct WireAttachment<'a> {
    #[serde(rename = "@odata.type")]
    odata_type: &'static str,
    name: &'a str,
    content_type: &'a str,
    #[serde(serialize_with = "base64_streamed")]
    content_bytes: &'a [u8],
    is_inline: bool,
    #[serde(skip_serializing_if = "Option::is_none")]
    content_id: Option<&'a str>,
}

/// Writes base64 straight into the JSON buffer instead of building a second
/// copy of every attachment as a `String` first.
fn base64_streamed<S: Serializer>(bytes: &&[u8], serializer: S) -> Result<S::Ok, S::Error> {
    serializer.collect_str(&Base64Display::new(bytes, &STANDARD))
}

fn recipients(list: &[Address]) -> Vec<WireRecipient<'_>> {
    list.iter()
        .map(|a| WireRecipient {
            email_address: WireEmail {
                address: &a.address,
                name: a.name.as_deref(),
            },
        })
        .collect()
}

fn wire_message<'a>(message: &'a Message, attachments: Vec<WireAttachment<'a>>) -> WireMessage<'a> {
    WireMessage {
        subject: &message.subject,
        body: WireBody {
            content_type: match message.body.content_type {
                BodyType::Text => "text",
                BodyType::Html => "html",
            },
            content: &message.body.content,
        },
        to_recipients: recipients(&message.to),
        cc_recipients: recipients(&message.cc),
        bcc_recipients: recipients(&message.bcc),
        reply_to: recipients(&message.reply_to),
        importance: message.importance.map(|i| i.as_str()),
        internet_message_headers: message
            .headers
            .iter()
            .map(|h| WireHeader {
                name: &h.name,
                value: &h.value,
            })
            .collect(),
        attachments,
        internet_message_id: None,
    }
}

fn wire_attachment<'a>(a: &'a Attachment, bytes: &'a [u8]) -> WireAttachment<'a> {
    WireAttachment {
        odata_type: "#microsoft.graph.fileAttachment",
        name: &a.name,
        content_type: a.effective_content_type(),
        content_bytes: bytes,
        is_inline: a.inline,
        content_id: a.content_id.as_deref(),
    }
}

/// Whether a message fits one `sendMail` request, judged from a lower bound of
/// its size so a 40 MB attachment is not encoded just to learn it is too big.
pub(crate) fn fits_one_request(message: &Message) -> bool {
    estimated_size(message) <= MAX_REQUEST_BYTES as u64
}

/// The request body for `POST /users/{sender}/sendMail`, refused when it
/// exceeds Graph's 4 MB limit. The message must have been validated. Files
/// are read here: call it off the async threads when there are any.
pub(crate) fn send_mail_body(message: &Message) -> Result<Vec<u8>> {
    let estimate = estimated_size(message);
    if estimate > MAX_REQUEST_BYTES as u64 {
        return Err(too_large(estimate));
    }
    let contents = message
        .attachments
        .iter()
        .map(|a| a.content.read_all())
        .collect::<Result<Vec<_>>>()?;
    let attachments = message
        .attachments
        .iter()
        .zip(&contents)
        .map(|(a, bytes)| wire_attachment(a, bytes))
        .collect();
    let request = SendMailRequest {
        message: wire_message(message, attachments),
        save_to_sent_items: message.save_to_sent_items,
    };
    let body = to_json(&request, estimate as usize + 1024)?;
    if body.len() > MAX_REQUEST_BYTES {
        return Err(too_large(body.len() as u64));
    }
    Ok(body)
}

/// The body of `POST /users/{sender}/messages`: the message without its
/// attachments, which follow one by one.
/// `internet_message_id` is the `Message-ID` to keep (`<left@right>`), which
/// is how the outbox finds the sent mail in Sent Items.
pub(crate) fn draft_body(message: &Message, internet_message_id: Option<&str>) -> Result<Vec<u8>> {
    let mut draft = wire_message(message, Vec::new());
    draft.internet_message_id = internet_message_id;
    let body = to_json(&draft, 4096)?;
    if body.len() > MAX_REQUEST_BYTES {
        return Err(Error::invalid(
            "body",
            format!(
                "the message without its attachments is {:.1} MB; Graph accepts at most 4 MB in one request",
                body.len() as f64 / MB
            ),
        ));
    }
    Ok(body)
}

/// The body of `POST .../messages/{id}/attachments` for a file small enough
/// to go in one request.
pub(crate) fn attachment_body(attachment: &Attachment, bytes: &[u8]) -> Result<Vec<u8>> {
    to_json(
        &wire_attachment(attachment, bytes),
        bytes.len() / 3 * 4 + 1024,
    )
}

#[derive(Serialize)]
struct UploadSessionRequest<'a> {
    #[serde(rename = "AttachmentItem")]
    attachment_item: AttachmentItem<'a>,
}

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct AttachmentItem<'a> {
    attachment_type: &'static str,
    name: &'a str,
    size: u64,
    content_type: &'a str,
    is_inline: bool,
    #[serde(skip_serializing_if = "Option::is_none")]
    content_id: Option<&'a str>,
}

/// The body of `POST .../attachments/createUploadSession`.
pub(crate) fn upload_session_body(attachment: &Attachment) -> Result<Vec<u8>> {
    let request = UploadSessionRequest {
        attachment_item: AttachmentItem {
            attachment_type: "file",
            name: &attachment.name,
            size: attachment.size(),
            content_type: attachment.effective_content_type(),
            is_inline: attachment.inline,
            content_id: attachment.content_id.as_deref(),
        },
    };
    to_json(&request, 512)
}

fn to_json(value: &impl Serialize, capacity: usize) -> Result<Vec<u8>> {
    let mut body = Vec::with_capacity(capacity.min(MAX_REQUEST_BYTES + 1024));
    serde_json::to_writer(&mut body, value)
        .map_err(|e| Error::invalid("message", format!("cannot be written as JSON: {e}")))?;
    Ok(body)
}

const MB: f64 = 1024.0 * 1024.0;

/// A lower bound of the request's size.
fn estimated_size(message: &Message) -> u64 {
    let attachments: u64 = message
        .attachments
        .iter()
        .map(|a| a.size().div_ceil(3) * 4)
        .sum();
    attachments + message.body.content.len() as u64 + message.subject.len() as u64
}

/// The refusal of a message too large for one request, when the large-message
/// path is off: says what that path needs, so turning it on is a decision.
fn too_large(size: u64) -> Error {
    Error::invalid(
        "attachments",
        format!(
            "the request would be {:.1} MB; Graph accepts at most 4 MB in one sendMail call (attachments grow by a third in base64)",
            size as f64 / MB
        ),
    )
    .with_code("RequestEntityTooLarge")
    .with_hint(LARGE_MESSAGES_HINT)
}

/// What a larger message needs; shared by the refusal and the documentation.
pub(crate) const LARGE_MESSAGES_HINT: &str = "keep attachments under about 3 MB in total, or turn on large messages \
     (the large_messages setting, GRAPHMAILER_LARGE_MESSAGES=true in the environment): graphmailer then sends through a draft and upload sessions (up to 150 MB a file), \
     which needs the Mail.ReadWrite application permission besides Mail.Send. Mail.ReadWrite can read and change every \
     mailbox, so scope it to the same senders: RBAC for Applications (New-ManagementRoleAssignment -Role \
     'Application Mail.ReadWrite' with the Mail.Send assignment's scope) or the Application Access Policy, which covers both";

#[cfg(test)]
mod tests {
    use super::*;
    use crate::message::Importance;

    #[test]
    fn quotes_and_newlines_in_the_body_stay_inside_the_json() {
        let m = Message::new("erp@contoso.test")
            .to(("O'Brien \"Ops\"", "ops@example.com"))
            .subject("Invoice \"42\" \\ done")
            .html("<p>line1\nline2 \"quoted\" </p>")
            .importance(Importance::High)
            .header("x-invoice", "42")
            .attach(Attachment::from_bytes("logo.png", vec![0u8, 255, 10]).inline("logo"));
        let body = send_mail_body(&m).unwrap();
        let v: serde_json::Value = serde_json::from_slice(&body).unwrap();
        assert_eq!(v["message"]["subject"], "Invoice \"42\" \\ done");
        assert_eq!(v["message"]["body"]["contentType"], "html");
        assert_eq!(
            v["message"]["toRecipients"][0]["emailAddress"]["name"],
            "O'Brien \"Ops\""
        );
        assert_eq!(v["message"]["importance"], "high");
        assert_eq!(v["message"]["attachments"][0]["contentBytes"], "AP8K");
        assert_eq!(v["message"]["attachments"][0]["contentType"], "image/png");
        assert_eq!(v["message"]["attachments"][0]["isInline"], true);
        assert_eq!(v["message"]["attachments"][0]["contentId"], "logo");
        assert_eq!(
            v["message"]["internetMessageHeaders"][0]["name"],
            "x-invoice"
        );
        assert_eq!(v["saveToSentItems"], true);
        assert!(v["message"].get("ccRecipients").is_none());
    }

    #[test]
    fn over_four_megabytes_is_refused_with_the_upload_session_hint() {
        let big = Attachment::from_bytes("big.bin", vec![0u8; 3_200_000]);
        let e = send_mail_body(
            &Message::new("erp@contoso.test")
                .to("a@example.com")
                .attach(big),
        )
        .unwrap_err();
        assert_eq!(e.field(), Some("attachments"));
        assert!(e.hint().unwrap().contains("upload sessions"));
        let fits = Attachment::from_bytes("ok.bin", vec![0u8; 2_900_000]);
        send_mail_body(
            &Message::new("erp@contoso.test")
                .to("a@example.com")
                .attach(fits),
        )
        .unwrap();
    }
}
