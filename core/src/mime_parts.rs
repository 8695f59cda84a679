//! A MIME message taken apart into the pieces of Graph's JSON message. Graph's
//! MIME form of `sendMail` takes one request of at most 4 MB and has no upload
//! session, so a larger MIME message (a scanner's PDF through the relay, a
//! queued mail with a big attachment) goes out as any large message does:
//! a draft, its attachments (upload sessions for the big ones), the draft's
//! `send`.
//!
//! What the JSON form carries: subject, one body (the HTML alternative when
//! there is one, else the text), To, Cc, Bcc, Reply-To, importance, up to
//! five `X-` headers, every attachment (inline ones with their `Content-ID`)
//! and the `Message-ID` (writable on a draft). What it cannot: other headers
//! (`In-Reply-To`, `References`, `List-*`), the text alternative beside an
//! HTML body, and a signature over the original bytes (an S/MIME or DKIM
//! signed message must stay under the MIME limit).

use base64::Engine;
use bytes::Bytes;
use mail_parser::{Encoding, MessageParser, MessagePart, MimeHeaders, PartType};

use crate::error::{Error, Result};
use crate::message::{Attachment, Importance, Message};
use crate::message_limits::MAX_HEADERS;
use crate::mime::MimeMessage;

/// A large MIME message as a `Message`, and the `Message-ID` to keep.
pub(crate) struct Unpacked {
    pub message: Message,
    pub internet_message_id: Option<String>,
}

/// Takes `mime` apart into a message sent as `sender`.
pub(crate) fn unpack(sender: &str, mime: &MimeMessage) -> Result<Unpacked> {
    let raw = mime.as_bytes();
    let parsed = MessageParser::default().parse(raw).ok_or_else(|| {
        Error::invalid(
            "mime",
            "cannot be read as a MIME message: check its header block and its parts' boundaries",
        )
    })?;
    let mut message = Message::new(sender);
    message.subject = parsed.subject().unwrap_or_default().to_owned();
    message.to = mime.addresses("to");
    message.cc = mime.addresses("cc");
    message.bcc = mime.addresses("bcc");
    message.reply_to = mime.addresses("reply-to");
    message.importance = importance(mime);
    message.headers = custom_headers(mime);

    let html = parsed.html_part(0).filter(|p| p.is_text_html());
    match (html, parsed.text_part(0)) {
        (Some(part), _) => message = message.html(part.text_contents().unwrap_or_default()),
        (None, Some(part)) if part.is_text() => {
            message = message.text(part.text_contents().unwrap_or_default())
        }
        _ => {}
    }

    for (index, part) in parsed.attachments().enumerate() {
        let bytes = part_bytes(raw, part);
        let name = part
            .attachment_name()
            .map(str::to_owned)
            .filter(|n| !n.trim().is_empty())
            .unwrap_or_else(|| unnamed(index, part));
        let mut attachment = Attachment::from_bytes(name, bytes);
        if let Some(t) = part.content_type() {
            let subtype = t.subtype().unwrap_or("octet-stream");
            attachment = attachment.with_content_type(format!("{}/{subtype}", t.ctype()));
        }
        // Inline when it says so, or when it has a Content-ID and does not
        // say "attachment": Outlook and others embed `cid:` images in
        // multipart/related with no Content-Disposition at all.
        let disposition = part.content_disposition().map(|d| d.ctype());
        let id = part
            .content_id()
            .map(|id| id.trim().trim_start_matches('<').trim_end_matches('>'))
            .filter(|id| !id.is_empty());
        if let Some(id) = id {
            if !disposition.is_some_and(|d| d.eq_ignore_ascii_case("attachment")) {
                attachment = attachment.inline(id);
            }
        }
        message = message.attach(attachment);
    }

    let internet_message_id = mime
        .header("message-id")
        .map(str::trim)
        .filter(|id| id.starts_with('<') && id.ends_with('>') && id.contains('@'))
        .map(str::to_owned);
    Ok(Unpacked {
        message,
        internet_message_id,
    })
}

/// An attachment's bytes as they were before the transfer encoding: a text
/// file keeps its own charset rather than the UTF-8 the parser turns text into.
fn part_bytes(raw: &[u8], part: &MessagePart<'_>) -> Bytes {
    let (start, end) = (part.offset_body as usize, part.offset_end as usize);
    let body = raw.get(start..end.max(start)).unwrap_or_default();
    match part.encoding {
        Encoding::Base64 => {
            let compact: Vec<u8> = body
                .iter()
                .copied()
                .filter(|b| !b.is_ascii_whitespace())
                .collect();
            base64::engine::general_purpose::STANDARD
                .decode(&compact)
                .or_else(|_| base64::engine::general_purpose::STANDARD_NO_PAD.decode(&compact))
                .map(Bytes::from)
                .unwrap_or_else(|_| Bytes::copy_from_slice(part.contents()))
        }
        Encoding::None if !part.is_text() => Bytes::copy_from_slice(body),
        _ => Bytes::copy_from_slice(part.contents()),
    }
}

fn unnamed(index: usize, part: &MessagePart<'_>) -> String {
    let extension = match &part.body {
        PartType::Message(_) => "eml",
        PartType::Html(_) => "html",
        PartType::Text(_) => "txt",
        _ => "bin",
    };
    format!("attachment-{}.{extension}", index + 1)
}

/// `Importance:`, else `X-Priority:` (1 and 2 high, 4 and 5 low).
fn importance(mime: &MimeMessage) -> Option<Importance> {
    if let Some(v) = mime.header("importance") {
        return v.trim().parse().ok();
    }
    let priority = mime.header("x-priority")?.trim().chars().next()?;
    match priority {
        '1' | '2' => Some(Importance::High),
        '4' | '5' => Some(Importance::Low),
        _ => None,
    }
}

/// The first five `X-` headers: Graph takes no more and no others.
fn custom_headers(mime: &MimeMessage) -> Vec<crate::message::Header> {
    let all: Vec<_> = mime
        .fields()
        .filter(|(name, _)| name.to_ascii_lowercase().starts_with("x-"))
        .filter(|(name, _)| !name.eq_ignore_ascii_case("x-priority"))
        .map(|(name, value)| crate::message::Header {
            name: name.to_owned(),
            value: value.split_whitespace().collect::<Vec<_>>().join(" "),
        })
        .filter(|h| h.value.len() <= 998)
        .collect();
    if all.len() > MAX_HEADERS {
        tracing::warn!(
            kept = MAX_HEADERS,
            dropped = all.len() - MAX_HEADERS,
            "a large MIME message has more X- headers than Graph's JSON form carries"
        );
    }
    all.into_iter().take(MAX_HEADERS).collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::message::BodyType;

    const PDF: &[u8] = b"%PDF-1.4\n\x00\x01\x02 binary \xff\xfe";

    fn sample() -> Vec<u8> {
        let pdf = base64::engine::general_purpose::STANDARD.encode(PDF);
        let latin1 = base64::engine::general_purpose::STANDARD.encode(b"Gr\xfc\xdfe\n");
        format!(
            "From: Scanner <scan@contoso.com>\r\n\
             To: \"Doe, Jane\" <jane@contoso.com>, bob@contoso.com\r\n\
             Cc: =?utf-8?q?J=C3=BCrgen?= <juergen@contoso.com>\r\n\
             Bcc: audit@contoso.com\r\n\
             Reply-To: desk@contoso.com\r\n\
             Subject: =?utf-8?q?Scan_f=C3=BCr_Jane?=\r\n\
             Message-ID: <scan.42@contoso.com>\r\n\
             X-Priority: 1\r\n\
             X-Invoice: 4711\r\n\
             In-Reply-To: <earlier@contoso.com>\r\n\
             MIME-Version: 1.0\r\n\
             Content-Type: multipart/mixed; boundary=outer\r\n\
             \r\n\
             --outer\r\n\
             Content-Type: multipart/related; boundary=rel\r\n\
             \r\n\
             --rel\r\n\
             Content-Type: multipart/alternative; boundary=alt\r\n\
             \r\n\
             --alt\r\n\
             Content-Type: text/plain; charset=utf-8\r\n\
             \r\n\
             See the scan.\r\n\
             --alt\r\n\
             Content-Type: text/html; charset=utf-8\r\n\
             \r\n\
             <p>See the scan <img src=\"cid:logo@contoso\"></p>\r\n\
             --alt--\r\n\
             --rel\r\n\
             Content-Type: image/png\r\n\
             Content-ID: <logo@contoso>\r\n\
             Content-Disposition: inline; filename=logo.png\r\n\
             Content-Transfer-Encoding: base64\r\n\
             \r\n\
             iVBORw0KGgo=\r\n\
             --rel\r\n\
             Content-Type: image/gif; name=sign.gif\r\n\
             Content-ID: <sign@contoso>\r\n\
             Content-Transfer-Encoding: base64\r\n\
             \r\n\
             R0lGODlh\r\n\
             --rel--\r\n\
             --outer\r\n\
             Content-Type: application/pdf; name=scan.pdf\r\n\
             Content-Disposition: attachment; filename=scan.pdf\r\n\
             Content-Transfer-Encoding: base64\r\n\
             \r\n\
             {pdf}\r\n\
             --outer\r\n\
             Content-Type: text/plain; charset=iso-8859-1\r\n\
             Content-Disposition: attachment; filename=notes.txt\r\n\
             Content-Transfer-Encoding: base64\r\n\
             \r\n\
             {latin1}\r\n\
             --outer--\r\n"
        )
        .into_bytes()
    }

    #[test]
    fn a_scan_keeps_its_parts_recipients_and_message_id() {
        let mime = MimeMessage::from_bytes(sample()).unwrap();
        let Unpacked {
            message,
            internet_message_id,
        } = unpack("scan@contoso.com", &mime).unwrap();
        assert_eq!(
            internet_message_id.as_deref(),
            Some("<scan.42@contoso.com>")
        );
        assert_eq!(message.subject, "Scan für Jane");
        let to: Vec<_> = message.to.iter().map(|a| a.address.as_str()).collect();
        assert_eq!(to, ["jane@contoso.com", "bob@contoso.com"]);
        assert_eq!(message.to[0].name.as_deref(), Some("Doe, Jane"));
        assert_eq!(message.cc[0].name.as_deref(), Some("Jürgen"));
        assert_eq!(message.bcc[0].address, "audit@contoso.com");
        assert_eq!(message.reply_to[0].address, "desk@contoso.com");
        assert_eq!(message.importance, Some(Importance::High));
        assert_eq!(message.headers.len(), 1);
        assert_eq!(message.headers[0].name, "X-Invoice");
        assert_eq!(message.body.content_type, BodyType::Html);
        assert!(message.body.content.contains("cid:logo@contoso"));

        let names: Vec<_> = message
            .attachments
            .iter()
            .map(|a| a.name.as_str())
            .collect();
        assert_eq!(names, ["logo.png", "sign.gif", "scan.pdf", "notes.txt"]);
        let logo = &message.attachments[0];
        assert!(logo.inline);
        assert_eq!(logo.content_id.as_deref(), Some("logo@contoso"));
        // No Content-Disposition, a Content-ID: an embedded image all the same.
        let sign = &message.attachments[1];
        assert!(sign.inline);
        assert_eq!(sign.content_id.as_deref(), Some("sign@contoso"));
        let pdf = &message.attachments[2];
        assert!(!pdf.inline);
        assert_eq!(pdf.effective_content_type(), "application/pdf");
        assert_eq!(pdf.content.as_bytes().unwrap().as_ref(), PDF);
        // A text file's own bytes, not the parser's UTF-8 reading of them.
        let notes = &message.attachments[3];
        assert_eq!(notes.content.as_bytes().unwrap().as_ref(), b"Gr\xfc\xdfe\n");
        message.validate().unwrap();
    }

    #[test]
    fn a_plain_text_message_keeps_its_text_body() {
        let mime = MimeMessage::from_bytes(
            "From: a@contoso.com\nTo: b@contoso.com\nSubject: hi\n\nplain words\n".to_owned(),
        )
        .unwrap();
        let unpacked = unpack("a@contoso.com", &mime).unwrap();
        assert_eq!(unpacked.message.body.content_type, BodyType::Text);
        assert_eq!(unpacked.message.body.content.trim_end(), "plain words");
        assert!(unpacked.message.attachments.is_empty());
        assert_eq!(unpacked.internet_message_id, None);
    }
}
