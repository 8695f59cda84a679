//! A MIME message over what Graph's MIME form of `sendMail` takes (one
//! request of at most 4 MB, no upload session): a scanner's PDF through the
//! relay, a queued mail with a big attachment. It goes out as any large
//! message does, through a draft, its attachments (upload sessions for the
//! big ones) and the draft's `send`, in one of two ways:
//!
//! - [`slim`]: its largest attachments cut out until the rest fits one
//!   request, and the draft made of the rest in Graph's MIME form (`POST
//!   /users/{id}/messages`, base64). Every header and every other part stays
//!   as written: `In-Reply-To`, `References`, the text alternative, any
//!   number of `X-` headers.
//! - [`unpack`], where no cut can fit or may change the message (a body over
//!   the limit, a signed or encrypted message, an attachment that is the only
//!   part): the message taken apart into Graph's JSON form, which carries the
//!   subject, one body (the HTML alternative when there is one, else the
//!   text), To, Cc, Bcc, Reply-To, importance, up to five `X-` headers, every
//!   attachment (inline ones with their `Content-ID`) and the `Message-ID`
//!   (writable on a draft), but no other header and no signature over the
//!   original bytes.

use base64::Engine;
use bytes::Bytes;
use mail_parser::{Encoding, MessageParser, MessagePart, MimeHeaders, PartType};

use crate::error::{Error, Result};
use crate::message::{Attachment, Importance, Message};
use crate::message_limits::{MAX_HEADERS, MAX_MIME_BYTES};
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
        message = message.attach(attachment_of(raw, index, part));
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

/// How a large MIME message goes out: as a draft made of its MIME without
/// its largest attachments ([`slim`]), or, where no such cut exists, taken
/// apart into Graph's JSON form ([`unpack`]).
pub(crate) enum LargeMime {
    Slimmed(Slimmed),
    Unpacked(Unpacked),
}

pub(crate) fn take_apart(sender: &str, mime: &MimeMessage) -> Result<LargeMime> {
    match slim(mime) {
        Some(slimmed) => Ok(LargeMime::Slimmed(slimmed)),
        None => unpack(sender, mime).map(LargeMime::Unpacked),
    }
}

/// A large MIME message made to fit one request: its largest attachments
/// cut out, to be added to the draft made of the rest. Every header and every
/// other part stays as it was, byte for byte.
pub(crate) struct Slimmed {
    pub mime: MimeMessage,
    pub attachments: Vec<Attachment>,
}

/// Cuts attachments out of `mime`, largest first, until the rest fits one
/// request. `None` when no such cut exists (a body over the limit, a
/// multipart that would be left without parts) or when a cut would break a
/// signature or an encryption: the message then goes through Graph's JSON
/// form ([`unpack`]).
pub(crate) fn slim(mime: &MimeMessage) -> Option<Slimmed> {
    slim_to(mime, MAX_MIME_BYTES)
}

/// [`slim`] to at most `limit` bytes.
pub(crate) fn slim_to(mime: &MimeMessage, limit: usize) -> Option<Slimmed> {
    let fits = |size| size <= limit;
    let raw = mime.as_bytes();
    let parsed = MessageParser::default().parse(raw)?;
    if parsed.parts.iter().any(sealed) {
        return None;
    }
    let count = parsed.parts.len();
    let (mut parent, mut left) = (vec![None; count], vec![0usize; count]);
    for (id, part) in parsed.parts.iter().enumerate() {
        if let PartType::Multipart(children) = &part.body {
            left[id] = children.len();
            for &child in children {
                *parent.get_mut(child as usize)? = Some(id);
            }
        }
    }
    // A text or HTML part the parser also counts as an attachment is part of
    // the body that Exchange shows; it stays.
    let body: Vec<u32> = [&parsed.text_body, &parsed.html_body]
        .into_iter()
        .flatten()
        .copied()
        .collect();
    let mut candidates: Vec<Cut> = parsed
        .attachments
        .iter()
        .enumerate()
        .filter(|(_, id)| !body.contains(id))
        .filter_map(|(index, &id)| {
            let part = parsed.parts.get(id as usize)?;
            let parent = parent[id as usize]?;
            let boundary = parsed.parts[parent].content_type()?.attribute("boundary")?;
            let lines = part_lines(raw, part, boundary)?;
            Some(Cut {
                index,
                id,
                parent,
                lines,
            })
        })
        .collect();
    candidates.sort_by_key(|c| std::cmp::Reverse(c.lines.len()));
    let mut size = raw.len();
    let mut cuts = Vec::new();
    for cut in candidates {
        if fits(size) {
            break;
        }
        if left[cut.parent] > 1 {
            left[cut.parent] -= 1;
            size -= cut.lines.len();
            cuts.push(cut);
        }
    }
    if !fits(size) || cuts.is_empty() {
        return None;
    }
    cuts.sort_by_key(|c| c.lines.start);
    let mut rest = Vec::with_capacity(size);
    let mut at = 0;
    for cut in &cuts {
        rest.extend_from_slice(&raw[at..cut.lines.start]);
        at = cut.lines.end;
    }
    rest.extend_from_slice(&raw[at..]);
    let rest = MimeMessage::from_bytes(rest).ok()?;
    // A message that breaks MIME's rules (a boundary used at two levels, a
    // part that runs into the next) may read differently once cut, and a
    // text part may be read as the body where it was an attachment: then it
    // is not cut at all.
    let cut_ids: Vec<u32> = cuts.iter().map(|c| c.id).collect();
    let reread = MessageParser::default().parse(rest.as_bytes())?;
    if leaves(rest.as_bytes(), &reread, &[]) != leaves(raw, &parsed, &cut_ids) {
        return None;
    }
    let attachments = cuts
        .iter()
        .map(|c| attachment_of(raw, c.index, &parsed.parts[c.id as usize]))
        .collect();
    Some(Slimmed {
        mime: rest,
        attachments,
    })
}

/// Every part that is not a multipart, in order, but those in `skip`: its
/// bytes, and whether the parser reads it as the text body, the HTML body,
/// an attachment.
fn leaves<'r>(
    raw: &'r [u8],
    parsed: &mail_parser::Message<'_>,
    skip: &[u32],
) -> Vec<(&'r [u8], [bool; 3])> {
    parsed
        .parts
        .iter()
        .enumerate()
        .map(|(id, part)| (id as u32, part))
        .filter(|(id, part)| !matches!(part.body, PartType::Multipart(_)) && !skip.contains(id))
        .map(|(id, part)| {
            let bytes = raw
                .get(part.offset_body as usize..part.offset_end as usize)
                .unwrap_or_default();
            let roles = [&parsed.text_body, &parsed.html_body, &parsed.attachments]
                .map(|list| list.contains(&id));
            (bytes, roles)
        })
        .collect()
}

/// An attachment that may be cut: its place among the attachments, its part,
/// the multipart it is in, and its lines.
struct Cut {
    index: usize,
    id: u32,
    parent: usize,
    lines: std::ops::Range<usize>,
}

/// A signed or encrypted part, whose bytes must not change.
fn sealed(part: &MessagePart<'_>) -> bool {
    part.content_type().is_some_and(|t| {
        let kind = format!("{}/{}", t.ctype(), t.subtype().unwrap_or_default());
        kind.eq_ignore_ascii_case("multipart/signed")
            || kind.eq_ignore_ascii_case("multipart/encrypted")
            || kind.eq_ignore_ascii_case("application/pkcs7-mime")
            || kind.eq_ignore_ascii_case("application/x-pkcs7-mime")
    })
}

/// A multipart's child from the start of its delimiter line to the start of
/// the next delimiter line: without those lines the multipart is still well
/// formed (RFC 2046 5.1.1), and the other parts keep their bytes.
fn part_lines(
    raw: &[u8],
    part: &MessagePart<'_>,
    boundary: &str,
) -> Option<std::ops::Range<usize>> {
    let delimiter = format!("--{boundary}");
    let delimiter = delimiter.as_bytes();
    let (header, end) = (part.offset_header as usize, part.offset_end as usize);
    // The line just before the part's header is its delimiter line.
    let before = raw.get(..header)?.strip_suffix(b"\n")?;
    let start = before
        .iter()
        .rposition(|&b| b == b'\n')
        .map_or(0, |at| at + 1);
    if delimiter_line(&raw[start..header], delimiter) != Some(false) {
        return None;
    }
    // After the part, only blank lines until the next delimiter line.
    let mut at = end;
    loop {
        let line_end = at + raw.get(at..)?.iter().position(|&b| b == b'\n')? + 1;
        let line = &raw[at..line_end];
        if delimiter_line(line, delimiter).is_some() {
            return Some(start..at);
        }
        if !line.iter().all(u8::is_ascii_whitespace) {
            return None;
        }
        at = line_end;
    }
}

/// Whether `line` is a delimiter line of `delimiter` (`--boundary`, blank
/// space allowed after it): `Some(true)` for the closing one (`--boundary--`).
/// A longer boundary that starts with this one (`--boundary2`) is not.
fn delimiter_line(line: &[u8], delimiter: &[u8]) -> Option<bool> {
    let rest = line.strip_prefix(delimiter)?;
    let (close, rest) = match rest.strip_prefix(b"--") {
        Some(rest) => (true, rest),
        None => (false, rest),
    };
    rest.iter().all(u8::is_ascii_whitespace).then_some(close)
}

/// An attachment as Graph's JSON form carries it: its name (or one made up),
/// its type, its bytes, and inline with its Content-ID where it is embedded.
fn attachment_of(raw: &[u8], index: usize, part: &MessagePart<'_>) -> Attachment {
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
    attachment
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
        sample_with(PDF)
    }

    /// A scan whose PDF is `pdf`, base64 in lines of 76 as mail programs write it.
    fn sample_with(pdf: &[u8]) -> Vec<u8> {
        let pdf = base64::engine::general_purpose::STANDARD.encode(pdf);
        let pdf = pdf
            .as_bytes()
            .chunks(76)
            .map(|line| std::str::from_utf8(line).unwrap())
            .collect::<Vec<_>>()
            .join("\r\n");
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

    /// A PDF of `len` bytes that no run of base64 repeats.
    fn pdf_of(len: usize) -> Vec<u8> {
        (0..len).map(|i| (i * 7 + i / 251) as u8).collect()
    }

    #[test]
    fn a_large_scan_loses_only_its_pdf_and_keeps_every_header_and_part() {
        let pdf = pdf_of(4 * 1024 * 1024);
        let raw = sample_with(&pdf);
        let mime = MimeMessage::from_bytes(raw.clone()).unwrap();
        let Slimmed {
            mime: rest,
            attachments,
        } = slim(&mime).expect("a cut that fits");
        assert!(rest.as_bytes().len() <= MAX_MIME_BYTES);
        let names: Vec<_> = attachments.iter().map(|a| a.name.as_str()).collect();
        assert_eq!(names, ["scan.pdf"]);
        assert_eq!(
            attachments[0].content.as_bytes().unwrap().as_ref(),
            &pdf[..]
        );
        assert_eq!(attachments[0].effective_content_type(), "application/pdf");
        // What is left is the message without the PDF's lines, byte for byte.
        let text = String::from_utf8(raw).unwrap();
        let start = text
            .find("--outer\r\nContent-Type: application/pdf")
            .unwrap();
        let end = start + text[start..].find("\r\n--outer\r\n").unwrap() + 2;
        let expected = format!("{}{}", &text[..start], &text[end..]);
        assert_eq!(std::str::from_utf8(rest.as_bytes()).unwrap(), expected);
        assert_eq!(rest.header("in-reply-to"), Some("<earlier@contoso.com>"));
        let left = unpack("scan@contoso.com", &rest).unwrap().message;
        let names: Vec<_> = left.attachments.iter().map(|a| a.name.as_str()).collect();
        assert_eq!(names, ["logo.png", "sign.gif", "notes.txt"]);
        assert!(left.body.content.contains("cid:logo@contoso"));
    }

    #[test]
    fn only_as_much_is_cut_as_makes_it_fit() {
        let big = base64::engine::general_purpose::STANDARD.encode(pdf_of(2_600_000));
        let small = base64::engine::general_purpose::STANDARD.encode(pdf_of(1_000_000));
        let raw = format!(
            "From: a@contoso.com\r\nTo: b@contoso.com\r\nSubject: two\r\n\
             Content-Type: multipart/mixed; boundary=\"b\"\r\n\r\n\
             preamble\r\n--b\r\nContent-Type: text/plain\r\n\r\nTwo files.\r\n\
             --b\r\nContent-Type: application/octet-stream; name=small.bin\r\n\
             Content-Transfer-Encoding: base64\r\n\r\n{small}\r\n\
             --b  \r\nContent-Type: application/octet-stream; name=big.bin\r\n\
             Content-Transfer-Encoding: base64\r\n\r\n{big}\r\n--b--\r\nepilogue\r\n"
        );
        let mime = MimeMessage::from_bytes(raw).unwrap();
        let slimmed = slim(&mime).unwrap();
        let names: Vec<_> = slimmed
            .attachments
            .iter()
            .map(|a| a.name.as_str())
            .collect();
        assert_eq!(names, ["big.bin"]);
        let rest = std::str::from_utf8(slimmed.mime.as_bytes()).unwrap();
        assert!(rest.contains("name=small.bin"), "{}", &rest[..300]);
        assert!(rest.ends_with("\r\n--b--\r\nepilogue\r\n"));
        let left = unpack("a@contoso.com", &slimmed.mime).unwrap().message;
        assert_eq!(left.attachments.len(), 1);
        assert_eq!(left.attachments[0].size(), 1_000_000);
        assert_eq!(left.body.content.trim_end(), "Two files.");
    }

    #[test]
    fn a_boundary_that_starts_another_is_not_taken_for_it() {
        let pdf = base64::engine::general_purpose::STANDARD.encode(pdf_of(3_500_000));
        // The inner boundary is "b", the outer "bb": a line "--bb" is not
        // a delimiter of "b".
        let raw = format!(
            "From: a@contoso.com\r\nTo: b@contoso.com\r\n\
             Content-Type: multipart/mixed; boundary=bb\r\n\r\n\
             --bb\r\nContent-Type: multipart/mixed; boundary=b\r\n\r\n\
             --b\r\nContent-Type: text/plain\r\n\r\ninner\r\n\
             --b\r\nContent-Type: application/pdf; name=a.pdf\r\n\
             Content-Transfer-Encoding: base64\r\n\r\n{pdf}\r\n--b--\r\n\
             --bb\r\nContent-Type: text/plain; name=after.txt\r\n\
             Content-Disposition: attachment\r\n\r\nafter\r\n--bb--\r\n"
        );
        let mime = MimeMessage::from_bytes(raw).unwrap();
        let slimmed = slim(&mime).unwrap();
        assert_eq!(slimmed.attachments[0].name, "a.pdf");
        let rest = std::str::from_utf8(slimmed.mime.as_bytes()).unwrap();
        assert!(
            rest.contains("inner\r\n--b--\r\n--bb\r\nContent-Type: text/plain; name=after.txt"),
            "{rest}"
        );
        let left = unpack("a@contoso.com", &slimmed.mime).unwrap().message;
        let names: Vec<_> = left.attachments.iter().map(|a| a.name.as_str()).collect();
        assert_eq!(names, ["after.txt"]);
    }

    #[test]
    fn a_message_that_reads_otherwise_once_cut_is_not_cut() {
        // Found by the fuzz target `mime`: a malformed message (a delimiter
        // run into a header, a boundary with a stray quote) whose parts the
        // parser reads otherwise once an attachment is cut out.
        let lines: [&[u8]; 36] = [
            &b"To: a@p.c\n"[..],
            &b"Content-Type: multipart/alternative;boundary=c\n"[..],
            &b"\n"[..],
            &b"--cContent-Type: multipart/ed;boundary=b\"\n"[..],
            &b"\n"[..],
            &b"--b-\n"[..],
            &b"\"\n"[..],
            &b"\n"[..],
            &b"--b\n"[..],
            &b"Content-Type: text/html\n"[..],
            &b"\n"[..],
            &b"--b\n"[..],
            &b"Ce\n"[..],
            &b"jQKK\n"[..],
            &b"--b\n"[..],
            &b"\x00\x07\n"[..],
            &b"\n"[..],
            &b"\n"[..],
            &b"!\n"[..],
            &b"--b\n"[..],
            &b"\n"[..],
            &b"--b\n"[..],
            &b"\xffj--b\n"[..],
            &b"\x00\x00\n"[..],
            &b"\n"[..],
            &b"\n"[..],
            &b"\n"[..],
            &b"\x00\x00\x01\x01\x00\x00\x17\n"[..],
            &b"\xf6\xff-\n"[..],
            &b"\n"[..],
            &b"-b\n"[..],
            &b"\x00\x00\x17:\n"[..],
            &b"\n"[..],
            &b"\x00\x00\x01\x01\x00\x00\x17:\n"[..],
            &b"\xf6\xff\xffQK\n"[..],
            &b"--b\n"[..],
        ];
        let mime = MimeMessage::from_bytes(lines.concat()).unwrap();
        let limit = mime.as_bytes().len() / 2;
        assert!(slim_to(&mime, limit).is_none());
    }

    #[test]
    fn what_no_cut_can_fit_or_must_not_change_is_left_whole() {
        let pdf = base64::engine::general_purpose::STANDARD.encode(pdf_of(4_000_000));
        let body = "words ".repeat(700_000);
        let cases = [
            // The body alone is over the limit.
            format!(
                "From: a@contoso.com\r\nTo: b@contoso.com\r\n\
                 Content-Type: multipart/mixed; boundary=b\r\n\r\n\
                 --b\r\nContent-Type: text/plain\r\n\r\n{body}\r\n\
                 --b\r\nContent-Type: application/pdf; name=a.pdf\r\n\
                 Content-Transfer-Encoding: base64\r\n\r\n{pdf}\r\n--b--\r\n"
            ),
            // A signature covers the PDF.
            format!(
                "From: a@contoso.com\r\nTo: b@contoso.com\r\n\
                 Content-Type: multipart/signed; protocol=\"application/pkcs7-signature\"; boundary=s\r\n\r\n\
                 --s\r\nContent-Type: multipart/mixed; boundary=b\r\n\r\n\
                 --b\r\nContent-Type: text/plain\r\n\r\nsigned\r\n\
                 --b\r\nContent-Type: application/pdf; name=a.pdf\r\n\
                 Content-Transfer-Encoding: base64\r\n\r\n{pdf}\r\n--b--\r\n\
                 --s\r\nContent-Type: application/pkcs7-signature; name=smime.p7s\r\n\r\nMIIB\r\n--s--\r\n"
            ),
            // The PDF is the message's only part.
            format!(
                "From: a@contoso.com\r\nTo: b@contoso.com\r\n\
                 Content-Type: multipart/mixed; boundary=b\r\n\r\n\
                 --b\r\nContent-Type: application/pdf; name=a.pdf\r\n\
                 Content-Transfer-Encoding: base64\r\n\r\n{pdf}\r\n--b--\r\n"
            ),
        ];
        for (i, raw) in cases.into_iter().enumerate() {
            let mime = MimeMessage::from_bytes(raw).unwrap();
            assert!(slim(&mime).is_none(), "case {i}");
            unpack("a@contoso.com", &mime).unwrap();
        }
    }
}
