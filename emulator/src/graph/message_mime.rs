//! `GET .../messages/{id}/$value` for a message that was not sent as MIME:
//! the JSON message written out as RFC 5322 MIME, as Exchange converts an
//! item on request. Text goes base64 so that no line length or charset
//! question arises; non-ASCII header text goes as RFC 2047 words.

use base64::Engine;
use base64::engine::general_purpose::STANDARD;
use serde_json::{Map, Value};
use time::OffsetDateTime;
use time::format_description::well_known::{Rfc2822, Rfc3339};

use crate::drafts::{Attachment, property};

/// The MIME text of a message resource and its attachments.
pub(crate) fn render(message: &Map<String, Value>, attachments: &[Attachment], id: &str) -> String {
    let mut head = String::new();
    let mut header = |name: &str, value: &str| {
        head.push_str(name);
        head.push_str(": ");
        head.push_str(value);
        head.push_str("\r\n");
    };
    if let Some(from) = message.get("from").and_then(address) {
        header("From", &from);
    }
    for (name, list) in [
        ("To", "toRecipients"),
        ("Cc", "ccRecipients"),
        ("Bcc", "bccRecipients"),
        ("Reply-To", "replyTo"),
    ] {
        let addresses: Vec<String> = message
            .get(list)
            .and_then(Value::as_array)
            .map(|items| items.iter().filter_map(address).collect())
            .unwrap_or_default();
        if !addresses.is_empty() {
            header(name, &addresses.join(", "));
        }
    }
    let subject = message.get("subject").and_then(Value::as_str).unwrap_or("");
    header("Subject", &encode_word(subject));
    let date = message
        .get("sentDateTime")
        .and_then(Value::as_str)
        .and_then(|s| OffsetDateTime::parse(s, &Rfc3339).ok())
        .and_then(|t| t.format(&Rfc2822).ok());
    if let Some(date) = date {
        header("Date", &date);
    }
    if let Some(id) = message.get("internetMessageId").and_then(Value::as_str) {
        header("Message-ID", id);
    }
    if let Some(extra) = message
        .get("internetMessageHeaders")
        .and_then(Value::as_array)
    {
        for h in extra.iter().filter_map(Value::as_object) {
            let name = property(h, "name").and_then(Value::as_str);
            let value = property(h, "value").and_then(Value::as_str);
            if let (Some(name), Some(value)) = (name, value) {
                header(name, &encode_word(value));
            }
        }
    }
    header("MIME-Version", "1.0");

    let body = message.get("body").and_then(Value::as_object);
    let html = body
        .and_then(|b| property(b, "contentType"))
        .and_then(Value::as_str)
        .is_some_and(|t| t.eq_ignore_ascii_case("html"));
    let content = body
        .and_then(|b| property(b, "content"))
        .and_then(Value::as_str)
        .unwrap_or("");
    let text_type = if html { "text/html" } else { "text/plain" };
    let text_part = format!(
        "Content-Type: {text_type}; charset=\"utf-8\"\r\nContent-Transfer-Encoding: base64\r\n\r\n{}",
        wrapped_base64(content.as_bytes())
    );
    if attachments.is_empty() {
        return format!("{head}{text_part}");
    }
    // Derived from the message id, so the same message renders the same.
    let boundary = format!(
        "_graphmailer_{}_",
        id.chars()
            .filter(char::is_ascii_alphanumeric)
            .take(24)
            .collect::<String>()
    );
    let mut out = format!(
        "{head}Content-Type: multipart/mixed; boundary=\"{boundary}\"\r\n\r\n--{boundary}\r\n{text_part}"
    );
    for a in attachments {
        let name = encode_word(&a.name.replace('"', "'"));
        let disposition = if a.is_inline { "inline" } else { "attachment" };
        out.push_str(&format!(
            "--{boundary}\r\nContent-Type: {}; name=\"{name}\"\r\nContent-Disposition: {disposition}; filename=\"{name}\"\r\n",
            a.content_type
        ));
        if let Some(cid) = &a.content_id {
            out.push_str(&format!("Content-ID: <{cid}>\r\n"));
        }
        out.push_str("Content-Transfer-Encoding: base64\r\n\r\n");
        out.push_str(&wrapped_base64(&a.bytes));
    }
    out.push_str(&format!("--{boundary}--\r\n"));
    out
}

/// `Name <address>` of a recipient (`{"emailAddress": {...}}`).
fn address(recipient: &Value) -> Option<String> {
    let email = recipient
        .as_object()
        .and_then(|r| property(r, "emailAddress"))?
        .as_object()?;
    let address = property(email, "address")?.as_str()?;
    match property(email, "name").and_then(Value::as_str) {
        Some(name) if !name.is_empty() => {
            let name = if name.is_ascii() {
                format!("\"{}\"", name.replace('\\', "\\\\").replace('"', "\\\""))
            } else {
                encode_word(name)
            };
            Some(format!("{name} <{address}>"))
        }
        _ => Some(address.to_owned()),
    }
}

/// RFC 2047 `=?utf-8?B?...?=` for text that is not plain ASCII.
fn encode_word(text: &str) -> String {
    if text.is_ascii() && !text.contains(['\r', '\n']) {
        text.to_owned()
    } else {
        format!("=?utf-8?B?{}?=", STANDARD.encode(text))
    }
}

/// Base64 in lines of 76, each ending in CRLF.
fn wrapped_base64(bytes: &[u8]) -> String {
    let encoded = STANDARD.encode(bytes);
    let mut out = String::with_capacity(encoded.len() + encoded.len() / 38 + 2);
    for chunk in encoded.as_bytes().chunks(76) {
        out.push_str(std::str::from_utf8(chunk).unwrap_or(""));
        out.push_str("\r\n");
    }
    out
}
