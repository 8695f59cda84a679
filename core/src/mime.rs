//! A ready RFC 5322 message sent as is, through the MIME form of `sendMail`
//! (the request body is the message in base64, `Content-Type: text/plain`).
//! Only the header block is read: enough to find the sender and the
//! recipients and to refuse what Graph would refuse, before any network call.

use std::io::Read;
use std::path::Path;

use base64::Engine;
use base64::engine::general_purpose::STANDARD;
use bytes::Bytes;

use crate::address::{Address, check_address, printable};
use crate::error::{Error, Result};
use crate::limits::MAX_MIME_BYTES;
use crate::message::check_sender;

/// A complete message in RFC 5322 form (headers, a blank line, the body;
/// attachments inside as MIME parts). Build it from bytes, a file or a
/// reader; each checks the message and its size.
#[derive(Clone, PartialEq, Eq)]
pub struct MimeMessage {
    bytes: Bytes,
    headers: Vec<(String, String)>,
}

impl MimeMessage {
    /// Checks and keeps a message. Bare line feeds become CRLF, the line end
    /// RFC 5322 requires, so messages written with `\n` (PHP, scripts) go out
    /// intact.
    pub fn from_bytes(bytes: impl Into<Bytes>) -> Result<MimeMessage> {
        let bytes: Bytes = bytes.into();
        check_size(bytes.len())?;
        let bytes = crlf(bytes);
        check_size(bytes.len())?;
        let headers = parse_headers(&bytes)?;
        let message = MimeMessage { bytes, headers };
        message.check_recipients()?;
        Ok(message)
    }

    /// Reads a message from a file.
    pub fn from_path(path: impl AsRef<Path>) -> Result<MimeMessage> {
        let path = path.as_ref();
        let file = std::fs::File::open(path).map_err(|e| {
            Error::invalid("mime", format!("cannot read '{}': {e}", path.display()))
        })?;
        MimeMessage::from_reader(file)
    }

    /// Reads a message from a stream (stdin, a socket, a pipe), stopping
    /// just past the size limit rather than reading an endless stream.
    pub fn from_reader(reader: impl Read) -> Result<MimeMessage> {
        let mut bytes = Vec::new();
        reader
            .take(MAX_MIME_BYTES as u64 + 1)
            .read_to_end(&mut bytes)
            .map_err(|e| Error::invalid("mime", format!("cannot be read: {e}")))?;
        MimeMessage::from_bytes(bytes)
    }

    /// The message as it will be sent (with CRLF line ends).
    pub fn as_bytes(&self) -> &[u8] {
        &self.bytes
    }

    /// The unfolded value of the first header called `name` (any case).
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(n, _)| n.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_str())
    }

    /// The address in the `From` header.
    pub fn from_address(&self) -> Option<Address> {
        parse_address_list(self.header("from")?).into_iter().next()
    }

    /// Every address in the `To`, `Cc` and `Bcc` headers.
    pub fn recipients(&self) -> Vec<Address> {
        self.headers
            .iter()
            .filter(|(n, _)| is_recipient_header(n))
            .flat_map(|(_, v)| parse_address_list(v))
            .collect()
    }

    /// The mailbox to send as: `sender` when given, else the `From` address.
    pub fn sender(&self, sender: Option<&str>) -> Result<String> {
        let sender = match sender.map(str::trim).filter(|s| !s.is_empty()) {
            Some(s) => s.to_owned(),
            None => self.from_address().map(|a| a.address).ok_or_else(|| {
                Error::invalid(
                    "sender",
                    "no sender given and the message has no From address: name the mailbox to send as",
                )
            })?,
        };
        check_sender(&sender)?;
        Ok(sender)
    }

    /// The body of the MIME `sendMail` request: the message in base64.
    pub(crate) fn request_body(&self) -> Bytes {
        STANDARD.encode(&self.bytes).into()
    }

    fn check_recipients(&self) -> Result<()> {
        let mut count = 0;
        for (name, value) in self.headers.iter().filter(|(n, _)| is_recipient_header(n)) {
            for (i, address) in parse_address_list(value).iter().enumerate() {
                check_address(&format!("mime.{name}[{i}]"), &address.address)?;
                count += 1;
            }
        }
        if count == 0 {
            return Err(Error::invalid(
                "mime.To",
                "the message has no recipients: Graph sends a MIME message to the addresses in its To, Cc and Bcc headers",
            ));
        }
        Ok(())
    }
}

impl std::fmt::Debug for MimeMessage {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("MimeMessage")
            .field("bytes", &self.bytes.len())
            .field("subject", &self.header("subject"))
            .finish_non_exhaustive()
    }
}

fn is_recipient_header(name: &str) -> bool {
    ["to", "cc", "bcc"]
        .iter()
        .any(|h| name.eq_ignore_ascii_case(h))
}

fn check_size(len: usize) -> Result<()> {
    if len == 0 {
        return Err(Error::invalid(
            "mime",
            "is empty: give a whole message, headers first",
        ));
    }
    if len > MAX_MIME_BYTES {
        return Err(Error::invalid(
            "mime",
            format!(
                "the message is over {:.1} MB; Graph takes a MIME message in one request of at most 4 MB as base64, about 3 MB before encoding",
                MAX_MIME_BYTES as f64 / (1024.0 * 1024.0)
            ),
        )
        .with_code("RequestEntityTooLarge")
        .with_hint(
            "MIME has no upload session: send large files as attachments of a message built with graphmailer's message API, which goes through upload sessions when large messages are on",
        ));
    }
    Ok(())
}

/// Turns every bare `\n` into `\r\n`.
pub(crate) fn crlf(bytes: Bytes) -> Bytes {
    let bare = bytes
        .iter()
        .enumerate()
        .filter(|&(i, &b)| b == b'\n' && (i == 0 || bytes[i - 1] != b'\r'))
        .count();
    if bare == 0 {
        return bytes;
    }
    let mut out = Vec::with_capacity(bytes.len() + bare);
    for (i, &b) in bytes.iter().enumerate() {
        if b == b'\n' && (i == 0 || bytes[i - 1] != b'\r') {
            out.push(b'\r');
        }
        out.push(b);
    }
    out.into()
}

/// One header field as written: its name, and the raw text after the colon
/// (folding kept), so the message can be rewritten without disturbing the rest.
#[derive(Clone, Debug)]
pub(crate) struct RawField {
    pub name: String,
    pub raw: String,
}

impl RawField {
    pub fn value(&self) -> String {
        unfold(&self.raw)
    }
}

/// Splits a CRLF message into its header fields and the body after the
/// blank line (empty when there is none).
pub(crate) fn split(bytes: &[u8]) -> Result<(Vec<RawField>, &[u8])> {
    let (head, body) = match find(bytes, b"\r\n\r\n") {
        Some(at) => (&bytes[..at + 2], &bytes[at + 4..]),
        None => (bytes, &b""[..]),
    };
    let head = String::from_utf8_lossy(head);
    let mut fields: Vec<RawField> = Vec::new();
    for (number, line) in head.split("\r\n").enumerate() {
        if line.is_empty() {
            continue;
        }
        if line.starts_with([' ', '\t']) {
            match fields.last_mut() {
                Some(field) => {
                    field.raw.push_str("\r\n");
                    field.raw.push_str(line);
                    continue;
                }
                None => return Err(not_a_header(number, line)),
            }
        }
        let Some((name, raw)) = line.split_once(':') else {
            return Err(not_a_header(number, line));
        };
        let valid = !name.is_empty() && name.bytes().all(|b| (33..=126).contains(&b));
        if !valid {
            return Err(not_a_header(number, line));
        }
        fields.push(RawField {
            name: name.to_owned(),
            raw: raw.to_owned(),
        });
    }
    if fields.is_empty() {
        return Err(Error::invalid(
            "mime",
            "has no header block: a message starts with headers such as From:, To: and Subject:",
        ));
    }
    Ok((fields, body))
}

fn not_a_header(number: usize, line: &str) -> Error {
    Error::invalid(
        "mime",
        format!(
            "line {} of the header block is not a header ('{}'): a message starts with 'Name: value' lines, then a blank line, then the body",
            number + 1,
            printable(line)
        ),
    )
}

fn parse_headers(bytes: &[u8]) -> Result<Vec<(String, String)>> {
    let (fields, _) = split(bytes)?;
    Ok(fields.iter().map(|f| (f.name.clone(), f.value())).collect())
}

fn find(haystack: &[u8], needle: &[u8]) -> Option<usize> {
    haystack.windows(needle.len()).position(|w| w == needle)
}

fn unfold(raw: &str) -> String {
    raw.replace("\r\n", "").trim().to_owned()
}

/// Parses an RFC 5322 address list: `a@b`, `Name <a@b>`, `"Last, First"
/// <a@b>`, `a@b (Comment)`, groups (`team: a@b, c@d;`). A comment stands in
/// for a missing display name, as in cron's `root (Cron Daemon)`.
pub(crate) fn parse_address_list(value: &str) -> Vec<Address> {
    let mut out = Vec::new();
    for item in split_top_level(value) {
        let (text, comment) = strip_comments(&item);
        // A group's name ends at the first ':' outside quotes and brackets.
        let text = match top_level_colon(&text) {
            Some(at) => text[at + 1..].to_owned(),
            None => text,
        };
        let text = text.trim().trim_end_matches(';').trim();
        if text.is_empty() {
            continue;
        }
        let (name, address) = match (text.rfind('<'), text.ends_with('>')) {
            (Some(open), true) => (
                text[..open].trim().trim_matches('"').trim().to_owned(),
                text[open + 1..text.len() - 1].trim().to_owned(),
            ),
            _ => (String::new(), text.to_owned()),
        };
        let name = if name.is_empty() { comment } else { name };
        out.push(if name.is_empty() {
            Address::new(address)
        } else {
            Address::with_name(name, address)
        });
    }
    out
}

/// Splits on commas and semicolons outside quotes, `<>` and `()`.
fn split_top_level(value: &str) -> Vec<String> {
    let mut items = Vec::new();
    let mut current = String::new();
    let (mut quoted, mut angle, mut paren, mut escaped) = (false, 0, 0, false);
    for c in value.chars() {
        if escaped {
            escaped = false;
            current.push(c);
            continue;
        }
        match c {
            '\\' if quoted => escaped = true,
            '"' if paren == 0 => quoted = !quoted,
            '<' if !quoted && paren == 0 => angle += 1,
            '>' if !quoted && paren == 0 && angle > 0 => angle -= 1,
            '(' if !quoted => paren += 1,
            ')' if !quoted && paren > 0 => paren -= 1,
            ',' if !quoted && angle == 0 && paren == 0 => {
                items.push(std::mem::take(&mut current));
                continue;
            }
            ';' if !quoted && angle == 0 && paren == 0 => {
                items.push(std::mem::take(&mut current));
                continue;
            }
            _ => {}
        }
        current.push(c);
    }
    items.push(current);
    items
        .into_iter()
        .map(|s| s.trim().to_owned())
        .filter(|s| !s.is_empty())
        .collect()
}

/// The text without `(comments)`, and the comments' text.
fn strip_comments(item: &str) -> (String, String) {
    let (mut text, mut comment) = (String::new(), String::new());
    let (mut depth, mut quoted) = (0, false);
    for c in item.chars() {
        match c {
            '"' if depth == 0 => {
                quoted = !quoted;
                text.push(c);
            }
            '(' if !quoted => {
                if depth > 0 {
                    comment.push(c);
                }
                depth += 1;
            }
            ')' if !quoted && depth > 0 => {
                depth -= 1;
                if depth > 0 {
                    comment.push(c);
                }
            }
            _ if depth > 0 => comment.push(c),
            _ => text.push(c),
        }
    }
    (text.trim().to_owned(), comment.trim().to_owned())
}

fn top_level_colon(text: &str) -> Option<usize> {
    let (mut quoted, mut angle) = (false, 0);
    for (i, c) in text.char_indices() {
        match c {
            '"' => quoted = !quoted,
            '<' if !quoted => angle += 1,
            '>' if !quoted && angle > 0 => angle -= 1,
            ':' if !quoted && angle == 0 => return Some(i),
            _ => {}
        }
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;

    fn addresses(v: &str) -> Vec<(String, String)> {
        parse_address_list(v)
            .into_iter()
            .map(|a| (a.name.unwrap_or_default(), a.address))
            .collect()
    }

    #[test]
    fn address_lists_in_their_usual_forms() {
        let pairs = |list: &[(&str, &str)]| {
            list.iter()
                .map(|(n, a)| (n.to_string(), a.to_string()))
                .collect::<Vec<_>>()
        };
        assert_eq!(
            addresses(r#""Doe, Jane" <jane@example.com>, bob@example.com"#),
            pairs(&[("Doe, Jane", "jane@example.com"), ("", "bob@example.com")])
        );
        assert_eq!(
            addresses("root (Cron Daemon)"),
            pairs(&[("Cron Daemon", "root")])
        );
        assert_eq!(
            addresses("team: a@example.com, b@example.com;, c@example.com"),
            pairs(&[
                ("", "a@example.com"),
                ("", "b@example.com"),
                ("", "c@example.com")
            ])
        );
        assert_eq!(addresses("undisclosed-recipients:;"), pairs(&[]));
    }

    #[test]
    fn a_php_style_message_gets_crlf_and_its_sender_from_from() {
        let m = MimeMessage::from_bytes(
            "To: a@example.com\nSubject: Hi\nFrom: Shop <shop@contoso.test>\n\nline 1\nline 2\n",
        )
        .unwrap();
        assert!(m.as_bytes().windows(2).filter(|w| w == b"\r\n").count() >= 6);
        assert!(
            !m.as_bytes()
                .windows(2)
                .any(|w| w[1] == b'\n' && w[0] != b'\r')
        );
        assert_eq!(m.sender(None).unwrap(), "shop@contoso.test");
        assert_eq!(
            m.sender(Some("erp@contoso.test")).unwrap(),
            "erp@contoso.test"
        );
        assert_eq!(m.header("SUBJECT"), Some("Hi"));
    }

    #[test]
    fn malformed_messages_name_what_is_wrong() {
        let field = |text: &str| {
            MimeMessage::from_bytes(text.to_owned())
                .unwrap_err()
                .field()
                .unwrap()
                .to_owned()
        };
        assert_eq!(field(""), "mime");
        assert_eq!(field("just a body\n"), "mime");
        assert_eq!(field("Subject: no recipients\n\nbody"), "mime.To");
        assert_eq!(field("To: a@example.com, root\n\nbody"), "mime.To[1]");
        let m = MimeMessage::from_bytes("To: a@example.com\n\nbody".to_owned()).unwrap();
        assert_eq!(m.sender(None).unwrap_err().field(), Some("sender"));
        let big = format!("To: a@example.com\n\n{}", "x".repeat(MAX_MIME_BYTES));
        let e = MimeMessage::from_bytes(big).unwrap_err();
        assert_eq!(e.code(), Some("RequestEntityTooLarge"));
    }

    #[test]
    fn a_reader_stops_past_the_limit() {
        let endless = std::io::repeat(b'x');
        let e = MimeMessage::from_reader(endless).unwrap_err();
        assert_eq!(e.code(), Some("RequestEntityTooLarge"));
    }
}
