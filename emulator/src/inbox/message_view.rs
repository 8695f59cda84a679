//! What the inbox shows of a stored message: its parts read from the
//! message JSON as received (property names in any case, as Graph reads
//! them), without the attachments' bytes.

use base64::Engine;
use base64::engine::general_purpose::STANDARD;
use serde::Serialize;
use serde_json::{Map, Value};

use crate::state::StoredMessage;

/// One address of a recipient list.
#[derive(Debug, Clone, Serialize)]
pub(crate) struct Address {
    pub address: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub name: Option<String>,
}

/// One attachment, without its bytes (they are downloaded by index).
#[derive(Debug, Clone, Serialize)]
pub(crate) struct AttachmentInfo {
    pub index: usize,
    pub name: String,
    pub content_type: String,
    pub size: usize,
    pub is_inline: bool,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub content_id: Option<String>,
}

/// A line of the inbox's list.
#[derive(Debug, Clone, Serialize)]
pub(crate) struct Summary {
    pub id: String,
    pub mailbox: String,
    pub from: Address,
    pub to: Vec<Address>,
    pub subject: String,
    pub received_at: String,
    pub preview: String,
    pub attachments: usize,
    pub sent_via: crate::state::SentVia,
}

/// The message view: the list line plus everything else a person reads.
#[derive(Debug, Clone, Serialize)]
pub(crate) struct Detail {
    #[serde(flatten)]
    pub summary: Summary,
    pub cc: Vec<Address>,
    pub bcc: Vec<Address>,
    pub reply_to: Vec<Address>,
    pub body_type: String,
    pub headers: Vec<(String, String)>,
    pub attachment_list: Vec<AttachmentInfo>,
    pub app_id: String,
    pub request_id: String,
    pub save_to_sent_items: bool,
    pub has_mime: bool,
}

fn get<'a>(object: &'a Map<String, Value>, name: &str) -> Option<&'a Value> {
    object
        .iter()
        .find(|(k, _)| k.eq_ignore_ascii_case(name))
        .map(|(_, v)| v)
}

fn text<'a>(object: &'a Map<String, Value>, name: &str) -> Option<&'a str> {
    get(object, name).and_then(Value::as_str)
}

/// JSON `true` or the OData string form.
fn truthy(value: Option<&Value>) -> bool {
    match value {
        Some(Value::Bool(b)) => *b,
        Some(Value::String(s)) => s.trim().eq_ignore_ascii_case("true"),
        _ => false,
    }
}

fn address(recipient: &Value) -> Option<Address> {
    let email = get(recipient.as_object()?, "emailAddress")?.as_object()?;
    Some(Address {
        address: text(email, "address").unwrap_or("").to_owned(),
        name: text(email, "name")
            .filter(|n| !n.is_empty())
            .map(str::to_owned),
    })
}

fn addresses(message: &Map<String, Value>, list: &str) -> Vec<Address> {
    get(message, list)
        .and_then(Value::as_array)
        .map(|items| items.iter().filter_map(address).collect())
        .unwrap_or_default()
}

fn attachments(message: &Map<String, Value>) -> Vec<&Map<String, Value>> {
    get(message, "attachments")
        .and_then(Value::as_array)
        .map(|items| items.iter().filter_map(Value::as_object).collect())
        .unwrap_or_default()
}

/// The message object of a stored message (empty if it is not one).
fn object(stored: &StoredMessage) -> &Map<String, Value> {
    static EMPTY: std::sync::OnceLock<Map<String, Value>> = std::sync::OnceLock::new();
    stored
        .message
        .as_object()
        .unwrap_or_else(|| EMPTY.get_or_init(Map::new))
}

/// The body's type (`text` or `html`, lowercase) and content.
pub(crate) fn body(stored: &StoredMessage) -> (String, String) {
    let body = get(object(stored), "body").and_then(Value::as_object);
    let kind = body
        .and_then(|b| text(b, "contentType"))
        .unwrap_or("text")
        .to_ascii_lowercase();
    let content = body.and_then(|b| text(b, "content")).unwrap_or("");
    (kind, content.to_owned())
}

/// An attachment's name, content type, content id and bytes.
pub(crate) struct AttachmentBytes {
    pub name: String,
    pub content_type: String,
    pub content_id: Option<String>,
    pub bytes: Vec<u8>,
}

fn attachment_bytes(attachment: &Map<String, Value>) -> AttachmentBytes {
    let compact: String = text(attachment, "contentBytes")
        .unwrap_or("")
        .chars()
        .filter(|c| !c.is_ascii_whitespace())
        .collect();
    AttachmentBytes {
        name: text(attachment, "name").unwrap_or("attachment").to_owned(),
        content_type: text(attachment, "contentType")
            .unwrap_or("application/octet-stream")
            .to_owned(),
        content_id: text(attachment, "contentId").map(str::to_owned),
        bytes: STANDARD.decode(compact).unwrap_or_default(),
    }
}

/// The attachment at `index`, with its exact bytes.
pub(crate) fn attachment(stored: &StoredMessage, index: usize) -> Option<AttachmentBytes> {
    attachments(object(stored))
        .get(index)
        .map(|a| attachment_bytes(a))
}

/// The inline attachment a `cid:` URL names (`<` `>` around it ignored).
pub(crate) fn inline_by_content_id(stored: &StoredMessage, cid: &str) -> Option<AttachmentBytes> {
    let wanted = cid.trim_matches(['<', '>']);
    attachments(object(stored))
        .into_iter()
        .find(|a| text(a, "contentId").is_some_and(|c| c.trim_matches(['<', '>']) == wanted))
        .map(attachment_bytes)
}

pub(crate) fn summary(stored: &StoredMessage) -> Summary {
    let message = object(stored);
    let from = get(message, "from")
        .and_then(address)
        .filter(|a| !a.address.is_empty())
        .unwrap_or_else(|| Address {
            address: stored.mailbox.clone(),
            name: None,
        });
    let (kind, content) = body(stored);
    let plain = if kind == "html" {
        strip_tags(&content)
    } else {
        content
    };
    Summary {
        id: stored.id.clone(),
        mailbox: stored.mailbox.clone(),
        from,
        to: addresses(message, "toRecipients"),
        subject: text(message, "subject").unwrap_or("").to_owned(),
        received_at: stored.received_at.clone(),
        preview: plain
            .split_whitespace()
            .collect::<Vec<_>>()
            .join(" ")
            .chars()
            .take(140)
            .collect(),
        attachments: attachments(message).len(),
        sent_via: stored.sent_via,
    }
}

pub(crate) fn detail(stored: &StoredMessage) -> Detail {
    let message = object(stored);
    let headers = get(message, "internetMessageHeaders")
        .and_then(Value::as_array)
        .map(|items| {
            items
                .iter()
                .filter_map(Value::as_object)
                .map(|h| {
                    let part = |n| text(h, n).unwrap_or("").to_owned();
                    (part("name"), part("value"))
                })
                .collect()
        })
        .unwrap_or_default();
    let attachment_list = attachments(message)
        .into_iter()
        .enumerate()
        .map(|(index, a)| {
            let bytes = attachment_bytes(a);
            AttachmentInfo {
                index,
                size: bytes.bytes.len(),
                name: bytes.name,
                content_type: bytes.content_type,
                is_inline: truthy(get(a, "isInline")),
                content_id: bytes.content_id,
            }
        })
        .collect();
    Detail {
        summary: summary(stored),
        cc: addresses(message, "ccRecipients"),
        bcc: addresses(message, "bccRecipients"),
        reply_to: addresses(message, "replyTo"),
        body_type: body(stored).0,
        headers,
        attachment_list,
        app_id: stored.app_id.clone(),
        request_id: stored.request_id.clone(),
        save_to_sent_items: stored.save_to_sent_items,
        has_mime: stored.mime.is_some(),
    }
}

/// Whether the message mentions `query` (lowercase) in its sender,
/// recipients, subject or body.
pub(crate) fn matches(stored: &StoredMessage, query: &str) -> bool {
    if query.is_empty() {
        return true;
    }
    let message = object(stored);
    let s = summary(stored);
    let mut haystack = vec![
        s.from.address,
        s.from.name.unwrap_or_default(),
        s.subject,
        stored.mailbox.clone(),
        body(stored).1,
    ];
    for list in ["toRecipients", "ccRecipients", "bccRecipients"] {
        for a in addresses(message, list) {
            haystack.push(a.address);
            haystack.push(a.name.unwrap_or_default());
        }
    }
    haystack.iter().any(|h| h.to_lowercase().contains(query))
}

/// Whether `mailbox` sent the message or is one of its recipients.
pub(crate) fn involves(stored: &StoredMessage, mailbox: &str) -> bool {
    if stored.mailbox.eq_ignore_ascii_case(mailbox) {
        return true;
    }
    let message = object(stored);
    ["toRecipients", "ccRecipients", "bccRecipients"]
        .iter()
        .flat_map(|list| addresses(message, list))
        .any(|a| a.address.eq_ignore_ascii_case(mailbox))
}

/// Text of an HTML body for the list's preview (tags and `<style>` dropped).
fn strip_tags(html: &str) -> String {
    let mut out = String::new();
    let mut in_tag = false;
    let lower = html.to_ascii_lowercase();
    let mut skip_until: Option<&str> = None;
    for (i, c) in html.char_indices() {
        if let Some(end) = skip_until {
            if lower[i..].starts_with(end) {
                skip_until = None;
            }
            continue;
        }
        match c {
            '<' => {
                in_tag = true;
                if lower[i..].starts_with("<style") {
                    skip_until = Some("</style");
                } else if lower[i..].starts_with("<script") {
                    skip_until = Some("</script");
                }
            }
            '>' => {
                in_tag = false;
                out.push(' ');
            }
            _ if !in_tag => out.push(c),
            _ => {}
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn stored(message: Value) -> StoredMessage {
        StoredMessage {
            id: "m1".into(),
            mailbox: "erp@contoso.test".into(),
            app_id: "a".into(),
            tenant_id: "t".into(),
            received_at: "2026-12-04T00:00:00Z".into(),
            save_to_sent_items: true,
            request_id: "r".into(),
            client_request_id: "c".into(),
            message: crate::message_json::MessageJson::from_value(&message),
            mime: None,
            sent_via: Default::default(),
            draft_id: None,
        }
    }

    #[test]
    fn reads_any_casing_and_finds_inline_images() {
        let m = stored(json!({
            "Subject": "Invoice 7",
            "Body": {"ContentType": "HTML", "Content": "<style>p{}</style><p>Dear <b>Ann</b></p><script>x()</script>"},
            "ToRecipients": [{"EmailAddress": {"Address": "ann@example.com", "Name": "Ann"}}],
            "attachments": [{"name": "logo.png", "contentType": "image/png", "contentBytes": "aGk=",
                             "isInline": "true", "contentId": "logo"}]
        }));
        let s = summary(&m);
        assert_eq!(s.subject, "Invoice 7");
        assert_eq!(s.from.address, "erp@contoso.test");
        assert_eq!(s.preview, "Dear Ann");
        let d = detail(&m);
        assert_eq!(d.body_type, "html");
        assert!(d.attachment_list[0].is_inline);
        assert_eq!(inline_by_content_id(&m, "<logo>").unwrap().bytes, b"hi");
        assert!(matches(&m, "ann@example"));
        assert!(matches(&m, "dear"));
        assert!(!matches(&m, "nobody"));
        assert!(involves(&m, "ANN@example.com"));
    }
}
