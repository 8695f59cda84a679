//! Turns what a caller queues into the one form the queue keeps: an RFC 5322
//! message with a `Message-ID` fixed at enqueue. Graph keeps a MIME
//! message's `Message-ID` as the sent mail's `internetMessageId`, which is
//! how a worker finds an ambiguous send in Sent Items (see docs/outbox.md);
//! the JSON form's `internetMessageId` is documented as writable only on
//! drafts, so it is not relied on.

use base64::Engine;
use base64::engine::general_purpose::STANDARD;
use bytes::Bytes;

use crate::address::Address;
use crate::error::{Error, ErrorKind, Result};
use crate::message::{BodyType, Message};
use crate::mime::MimeMessage;

/// A message ready to store.
pub(crate) struct Composed {
    pub sender: String,
    pub recipients: usize,
    pub internet_message_id: String,
    /// The `Message-ID` is the caller's, not one made here: it may already
    /// be in the queue (an app that reuses ids, one message split over
    /// several SMTP transactions), and a lookup in Sent Items would then
    /// take the other mail's copy for this one's.
    pub callers_message_id: bool,
    pub bytes: Bytes,
}

/// Writes a validated `Message` as MIME. Attachment files are read here:
/// the queue must hold the bytes, not a path that may be gone by the time a
/// worker sends.
pub(crate) async fn from_message(message: &Message) -> Result<Composed> {
    message.validate()?;
    let message = message.clone();
    let bytes = tokio::task::spawn_blocking(move || write(&message))
        .await
        .map_err(|e| {
            Error::new(
                ErrorKind::Service,
                format!("composing the message stopped: {e}"),
            )
        })??;
    let mime = MimeMessage::from_bytes(bytes)?;
    finish(mime.sender(None)?, &mime, false)
}

/// Keeps a ready message, with a `Message-ID` of the queue's own when it
/// has none or one that is not `<left@right>` (replaced, not added to: with
/// two, Exchange would choose which to keep and the lookup in Sent Items
/// would have to guess).
pub(crate) fn from_mime(sender: Option<&str>, message: &MimeMessage) -> Result<Composed> {
    let sender = message.sender(sender)?;
    if message
        .header("message-id")
        .is_some_and(|v| is_message_id(v.trim()))
    {
        return finish(sender, message, true);
    }
    renamed(sender, message.as_bytes())
}

/// The same message under a `Message-ID` of the queue's own, for a caller's
/// id that another mail in the queue already has.
pub(crate) fn with_new_message_id(composed: &Composed) -> Result<Composed> {
    renamed(composed.sender.clone(), &composed.bytes)
}

/// `bytes` with every `Message-ID` field replaced by one new id.
fn renamed(sender: String, bytes: &[u8]) -> Result<Composed> {
    let (mut fields, body) = crate::headers::split(bytes)?;
    fields.retain(|f| !f.name.eq_ignore_ascii_case("message-id"));
    let id = new_message_id(&sender);
    fields.insert(0, crate::headers::field("Message-ID", &id));
    let bytes = crate::headers::join(&fields, body);
    finish(sender, &MimeMessage::from_bytes(bytes)?, false)
}

fn finish(sender: String, mime: &MimeMessage, callers_message_id: bool) -> Result<Composed> {
    let internet_message_id = mime
        .header("message-id")
        .map(|v| v.trim().to_owned())
        .unwrap_or_default();
    Ok(Composed {
        sender,
        recipients: mime.recipients().len(),
        internet_message_id,
        callers_message_id,
        bytes: Bytes::copy_from_slice(mime.as_bytes()),
    })
}

fn is_message_id(v: &str) -> bool {
    v.starts_with('<')
        && v.ends_with('>')
        && v.contains('@')
        && !v[1..v.len() - 1].contains(['<', '>', ' '])
}

/// `<random.outbox@sender's domain>`: unique, and in a domain the sender owns.
fn new_message_id(sender: &str) -> String {
    let domain = sender
        .rsplit_once('@')
        .map(|(_, d)| d)
        .filter(|d| !d.is_empty())
        .unwrap_or("graphmailer.invalid");
    format!("<{}.outbox@{domain}>", uuid::Uuid::new_v4().simple())
}

fn write(message: &Message) -> Result<Vec<u8>> {
    let mut out = String::new();
    let mut header = |name: &str, value: &str| {
        out.push_str(name);
        out.push_str(": ");
        out.push_str(value);
        out.push_str("\r\n");
    };
    header("Message-ID", &new_message_id(&message.sender));
    header("Date", &rfc5322_now());
    header("From", &address(&Address::new(message.sender.clone())));
    for (name, list) in [
        ("To", &message.to),
        ("Cc", &message.cc),
        ("Bcc", &message.bcc),
        ("Reply-To", &message.reply_to),
    ] {
        if !list.is_empty() {
            header(
                name,
                &list.iter().map(address).collect::<Vec<_>>().join(", "),
            );
        }
    }
    header("Subject", &encode_word(&message.subject));
    if let Some(importance) = message.importance {
        header("Importance", importance.as_str());
    }
    for h in &message.headers {
        header(&h.name, &encode_word(&h.value));
    }
    header("MIME-Version", "1.0");
    let body_type = match message.body.content_type {
        BodyType::Text => "text/plain",
        BodyType::Html => "text/html",
    };
    let mut bytes = out.into_bytes();
    if message.attachments.is_empty() {
        part(
            &mut bytes,
            &format!("{body_type}; charset=utf-8"),
            None,
            message.body.content.as_bytes(),
        );
        return Ok(bytes);
    }
    let boundary = format!("=_gm_{}", uuid::Uuid::new_v4().simple());
    bytes.extend_from_slice(
        format!("Content-Type: multipart/mixed; boundary=\"{boundary}\"\r\n\r\n").as_bytes(),
    );
    bytes.extend_from_slice(format!("--{boundary}\r\n").as_bytes());
    part(
        &mut bytes,
        &format!("{body_type}; charset=utf-8"),
        None,
        message.body.content.as_bytes(),
    );
    for attachment in &message.attachments {
        let content = attachment.content.read_all()?;
        bytes.extend_from_slice(format!("--{boundary}\r\n").as_bytes());
        let name = encode_word(&attachment.name).replace('"', "'");
        let mut extra = format!(
            "Content-Disposition: {}; filename=\"{name}\"\r\n",
            if attachment.inline {
                "inline"
            } else {
                "attachment"
            }
        );
        if let Some(id) = &attachment.content_id {
            extra.push_str(&format!("Content-ID: <{id}>\r\n"));
        }
        part(
            &mut bytes,
            &format!("{}; name=\"{name}\"", attachment.effective_content_type()),
            Some(&extra),
            &content,
        );
    }
    bytes.extend_from_slice(format!("--{boundary}--\r\n").as_bytes());
    Ok(bytes)
}

/// A MIME part's headers and its body in base64 (safe for any bytes and any
/// line length).
fn part(out: &mut Vec<u8>, content_type: &str, extra: Option<&str>, body: &[u8]) {
    out.extend_from_slice(format!("Content-Type: {content_type}\r\n").as_bytes());
    if let Some(extra) = extra {
        out.extend_from_slice(extra.as_bytes());
    }
    out.extend_from_slice(b"Content-Transfer-Encoding: base64\r\n\r\n");
    let encoded = STANDARD.encode(body);
    for line in encoded.as_bytes().chunks(76) {
        out.extend_from_slice(line);
        out.extend_from_slice(b"\r\n");
    }
}

fn address(a: &Address) -> String {
    match a.name.as_deref().filter(|n| !n.is_empty()) {
        Some(name) if name.is_ascii() => {
            format!(
                "\"{}\" <{}>",
                name.replace('\\', "\\\\").replace('"', "\\\""),
                a.address
            )
        }
        Some(name) => format!("{} <{}>", encode_word(name), a.address),
        None => a.address.clone(),
    }
}

/// RFC 2047's encoded word for text that is not plain ASCII.
fn encode_word(text: &str) -> String {
    if text.bytes().all(|b| (0x20..0x7f).contains(&b)) {
        return text.to_owned();
    }
    format!("=?UTF-8?B?{}?=", STANDARD.encode(text))
}

fn rfc5322_now() -> String {
    let format = time::macros::format_description!(
        "[weekday repr:short], [day] [month repr:short] [year] [hour]:[minute]:[second] +0000"
    );
    time::OffsetDateTime::now_utc()
        .format(&format)
        .unwrap_or_default()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::message::Attachment;

    #[tokio::test]
    async fn a_message_becomes_mime_with_a_message_id_and_its_recipients() {
        let message = Message::new("erp@contoso.com")
            .to(("Zoë", "a@example.com"))
            .bcc("b@example.com")
            .subject("Rechnung für März")
            .text("hello")
            .attach(Attachment::from_bytes("a.bin", vec![0u8, 1, 2]));
        let composed = from_message(&message).await.unwrap();
        assert_eq!(composed.sender, "erp@contoso.com");
        assert_eq!(composed.recipients, 2);
        assert!(composed.internet_message_id.ends_with("@contoso.com>"));
        let mime = MimeMessage::from_bytes(composed.bytes).unwrap();
        assert_eq!(
            mime.header("message-id"),
            Some(composed.internet_message_id.as_str())
        );
    }

    #[test]
    fn a_ready_message_keeps_its_message_id_or_gets_one() {
        let with = MimeMessage::from_bytes(
            &b"From: a@contoso.com\r\nTo: b@example.com\r\nMessage-ID: <x@y>\r\n\r\nhi"[..],
        )
        .unwrap();
        assert_eq!(from_mime(None, &with).unwrap().internet_message_id, "<x@y>");
        let without =
            MimeMessage::from_bytes(&b"From: a@contoso.com\r\nTo: b@example.com\r\n\r\nhi"[..])
                .unwrap();
        let composed = from_mime(None, &without).unwrap();
        assert!(composed.internet_message_id.ends_with("@contoso.com>"));
        // A malformed one is replaced, not left beside the queue's own.
        let malformed = MimeMessage::from_bytes(
            &b"From: a@contoso.com\r\nTo: b@example.com\r\nMessage-ID: not-an-id\r\n\r\nhi"[..],
        )
        .unwrap();
        let composed = from_mime(None, &malformed).unwrap();
        assert!(composed.internet_message_id.ends_with("@contoso.com>"));
        let text = String::from_utf8_lossy(&composed.bytes);
        assert_eq!(text.matches("Message-ID:").count(), 1, "{text}");
        assert!(!text.contains("not-an-id"), "{text}");
        assert!(text.ends_with("\r\n\r\nhi"), "{text}");
    }
}
