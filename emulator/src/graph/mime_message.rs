//! A MIME send read into Graph's message shape (`subject`, `from`, the
//! recipient lists, `body`, `attachments` with base64 `contentBytes`), so a
//! test reads a MIME send as it reads a JSON one, and compares attachment
//! bytes exactly.
//!
//! Parsing (multipart nesting, base64 and quoted-printable, RFC 2047 words
//! in headers, RFC 2231 file names, charsets) is mail-parser's. One thing
//! is redone here: mail-parser turns `text/*` parts into UTF-8 text, which
//! would change a text attachment's bytes, so those are decoded from the
//! raw part with its transfer encoding only.

use base64::Engine;
use base64::engine::general_purpose::STANDARD;
use mail_parser::decoders::base64::base64_decode;
use mail_parser::decoders::quoted_printable::quoted_printable_decode;
use mail_parser::{Address, Encoding, Message, MessageParser, MessagePart, MimeHeaders, PartType};
use serde_json::{Map, Value, json};

/// The message JSON; `null` if there is nothing to read (check_mime has
/// already refused MIME without headers, so that is rare).
pub(crate) fn mime_to_message(raw: &[u8]) -> Value {
    let Some(message) = MessageParser::default().parse(raw) else {
        return Value::Null;
    };
    let mut out = Map::new();
    out.insert("subject".into(), json!(message.subject().unwrap_or("")));
    if let Some(from) = message.from().and_then(|a| a.first()) {
        out.insert("from".into(), recipient(from.name(), from.address()));
    }
    for (name, list) in [
        ("toRecipients", message.to()),
        ("ccRecipients", message.cc()),
        ("bccRecipients", message.bcc()),
        ("replyTo", message.reply_to()),
    ] {
        out.insert(name.into(), recipients(list));
    }
    out.insert("body".into(), body(&message));
    let attachments: Vec<Value> = message
        .attachments()
        .map(|part| attachment(&message, part))
        .collect();
    out.insert("attachments".into(), Value::Array(attachments));
    if let Some(id) = message.message_id() {
        out.insert("internetMessageId".into(), json!(format!("<{id}>")));
    }
    let custom: Vec<Value> = message
        .headers_raw()
        .filter(|(name, _)| name.len() > 2 && name[..2].eq_ignore_ascii_case("x-"))
        .map(|(name, value)| json!({ "name": name, "value": value.trim() }))
        .collect();
    if !custom.is_empty() {
        out.insert("internetMessageHeaders".into(), Value::Array(custom));
    }
    Value::Object(out)
}

/// The headers of a MIME message that its properties do not hold
/// (`In-Reply-To`, `References`, `List-*`, `X-*`, ...), as
/// `internetMessageHeaders` shows them on a message made from MIME: name and
/// unfolded value, in order.
pub(crate) fn other_headers(raw: &[u8]) -> Value {
    const HELD: &[&str] = &[
        "from",
        "sender",
        "to",
        "cc",
        "bcc",
        "reply-to",
        "subject",
        "date",
        "message-id",
        "mime-version",
        "importance",
    ];
    let Some(message) = MessageParser::default().parse_headers(raw) else {
        return Value::Array(Vec::new());
    };
    message
        .headers_raw()
        .filter(|(name, _)| {
            let name = name.to_ascii_lowercase();
            !HELD.contains(&name.as_str()) && !name.starts_with("content-")
        })
        .map(|(name, value)| {
            let value = value.split_whitespace().collect::<Vec<_>>().join(" ");
            json!({ "name": name, "value": value })
        })
        .collect()
}

fn recipient(name: Option<&str>, address: Option<&str>) -> Value {
    let mut email = Map::new();
    if let Some(name) = name {
        email.insert("name".into(), json!(name));
    }
    email.insert("address".into(), json!(address.unwrap_or("")));
    json!({ "emailAddress": email })
}

fn recipients(list: Option<&Address<'_>>) -> Value {
    list.map(|l| l.iter().map(|a| recipient(a.name(), a.address())).collect())
        .unwrap_or(Value::Array(Vec::new()))
}

/// HTML when the message has an HTML body (as Exchange keeps it), else text.
fn body(message: &Message<'_>) -> Value {
    let first = |ids: &[u32], html: bool| {
        ids.iter()
            .filter_map(|id| message.part(*id))
            .find(|p| match p.body {
                PartType::Html(_) => html,
                PartType::Text(_) => !html,
                _ => false,
            })
            .and_then(|p| p.text_contents())
            .map(str::to_owned)
    };
    match first(&message.html_body, true) {
        Some(html) => json!({ "contentType": "html", "content": html }),
        None => json!({
            "contentType": "text",
            "content": first(&message.text_body, false).unwrap_or_default(),
        }),
    }
}

fn attachment(message: &Message<'_>, part: &MessagePart<'_>) -> Value {
    let content_type = part
        .content_type()
        .map(|ct| match ct.subtype() {
            Some(sub) => format!("{}/{sub}", ct.ctype()),
            None => ct.ctype().to_owned(),
        })
        .unwrap_or_else(|| "application/octet-stream".to_owned());
    let bytes = exact_bytes(message, part);
    // As Exchange reads it: inline when it says so, or when it has a
    // Content-ID and does not say "attachment" (an image embedded in
    // multipart/related with no Content-Disposition, as Outlook writes it).
    let says = |what: &str| {
        part.content_disposition()
            .is_some_and(|d| d.ctype().eq_ignore_ascii_case(what))
    };
    let is_inline = says("inline") || (part.content_id().is_some() && !says("attachment"));
    json!({
        "@odata.type": "#microsoft.graph.fileAttachment",
        "name": part.attachment_name().unwrap_or("attachment"),
        "contentType": content_type,
        "size": bytes.len(),
        "isInline": is_inline,
        "contentId": part.content_id(),
        "contentBytes": STANDARD.encode(&bytes),
    })
}

/// The part's bytes after the transfer encoding only.
fn exact_bytes(message: &Message<'_>, part: &MessagePart<'_>) -> Vec<u8> {
    if !matches!(part.body, PartType::Text(_) | PartType::Html(_)) {
        return part.contents().to_vec();
    }
    let raw = message
        .raw_message
        .get(part.offset_body as usize..part.offset_end as usize)
        .unwrap_or_default();
    let decoded = match part.encoding {
        Encoding::Base64 => base64_decode(raw),
        Encoding::QuotedPrintable => quoted_printable_decode(raw),
        Encoding::None => Some(raw.to_vec()),
    };
    decoded.unwrap_or_else(|| part.contents().to_vec())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn decoded(value: &Value) -> Vec<u8> {
        STANDARD
            .decode(value["contentBytes"].as_str().unwrap())
            .unwrap()
    }

    #[test]
    fn nested_multipart_with_encodings_and_encoded_words() {
        let pdf: Vec<u8> = (0u8..=255).cycle().take(1000).collect();
        let pdf_b64 = STANDARD.encode(&pdf);
        let lines: Vec<&str> = pdf_b64
            .as_bytes()
            .chunks(76)
            .map(|c| std::str::from_utf8(c).unwrap())
            .collect();
        let mime = format!(
            "From: \"ERP\" <erp@contoso.test>\r\n\
             To: a@example.com, \"B\" <b@example.com>\r\n\
             Cc: c@example.com\r\n\
             Subject: =?UTF-8?B?UmVjaG51bmcgw7xiZXI=?= 42\r\n\
             X-Invoice: 42\r\n\
             MIME-Version: 1.0\r\n\
             Content-Type: multipart/mixed; boundary=\"outer\"\r\n\
             \r\n\
             --outer\r\n\
             Content-Type: multipart/alternative; boundary=\"inner\"\r\n\
             \r\n\
             --inner\r\n\
             Content-Type: text/plain; charset=utf-8\r\n\
             Content-Transfer-Encoding: quoted-printable\r\n\
             \r\n\
             Gr=C3=BC=C3=9Fe, a long line that is soft=\r\n broken.\r\n\
             --inner\r\n\
             Content-Type: text/html; charset=utf-8\r\n\
             \r\n\
             <p>Gr\u{fc}\u{df}e</p>\r\n\
             --inner--\r\n\
             --outer\r\n\
             Content-Type: application/pdf; name=\"ignored.pdf\"\r\n\
             Content-Disposition: attachment; filename=\"=?UTF-8?Q?Rechnung_=C3=BC.pdf?=\"\r\n\
             Content-Transfer-Encoding: base64\r\n\
             \r\n\
             {}\r\n\
             --outer\r\n\
             Content-Type: text/csv; charset=iso-8859-1; name=\"list.csv\"\r\n\
             Content-Disposition: attachment\r\n\
             Content-Transfer-Encoding: quoted-printable\r\n\
             \r\n\
             a;=FC\r\n\
             --outer\r\n\
             Content-Type: text/plain; name=\"notes.txt\"\r\n\
             Content-Disposition: inline\r\n\
             \r\n\
             line 1\r\nline 2\r\n\r\n\
             --outer--\r\n",
            lines.join("\r\n")
        );
        let message = mime_to_message(mime.as_bytes());
        assert_eq!(message["subject"], "Rechnung \u{fc}ber 42");
        assert_eq!(
            message["from"]["emailAddress"]["address"],
            "erp@contoso.test"
        );
        assert_eq!(message["from"]["emailAddress"]["name"], "ERP");
        assert_eq!(message["toRecipients"].as_array().unwrap().len(), 2);
        assert_eq!(message["toRecipients"][1]["emailAddress"]["name"], "B");
        assert_eq!(
            message["ccRecipients"][0]["emailAddress"]["address"],
            "c@example.com"
        );
        assert_eq!(message["bccRecipients"], json!([]));
        assert_eq!(message["body"]["contentType"], "html");
        assert_eq!(message["body"]["content"], "<p>Gr\u{fc}\u{df}e</p>");
        assert_eq!(message["internetMessageHeaders"][0]["value"], "42");
        let attachments = message["attachments"].as_array().unwrap();
        assert_eq!(attachments.len(), 3);
        assert_eq!(attachments[0]["name"], "Rechnung \u{fc}.pdf");
        assert_eq!(attachments[0]["contentType"], "application/pdf");
        assert_eq!(attachments[0]["isInline"], false);
        assert_eq!(decoded(&attachments[0]), pdf);
        // Latin-1 text stays Latin-1: the bytes, not a UTF-8 re-encoding.
        assert_eq!(attachments[1]["name"], "list.csv");
        // (The line break before a boundary belongs to the boundary.)
        assert_eq!(decoded(&attachments[1]), b"a;\xfc");
        assert_eq!(attachments[2]["isInline"], true);
        assert_eq!(decoded(&attachments[2]), b"line 1\r\nline 2\r\n");
    }

    #[test]
    fn plain_text_only() {
        let message =
            mime_to_message(b"To: a@example.com\r\nSubject: hi\r\n\r\nHello\r\nthere\r\n");
        assert_eq!(message["body"]["contentType"], "text");
        assert_eq!(message["body"]["content"], "Hello\r\nthere\r\n");
        assert_eq!(message["attachments"], json!([]));
    }
}
