//! A ready RFC 5322 message sent as is, through the MIME form of `sendMail`
//! (the request body is the message in base64, `Content-Type: text/plain`).
//! Only the header block is read (by `headers`): enough to find the sender
//! and the recipients and to refuse what Graph would refuse, before any
//! network call (docs/graph-mail-protocol.md §5).

use std::io::Read;
use std::path::Path;

use base64::Engine;
use base64::engine::general_purpose::STANDARD;
use bytes::Bytes;

use crate::address::{Address, check_address};
use crate::error::{Error, Result};
use crate::headers;
use crate::limits::{MAX_LARGE_MIME_BYTES, MAX_MIME_BYTES};
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
    /// Checks and keeps a message of up to [`MAX_LARGE_MIME_BYTES`]. Bare
    /// line feeds become CRLF, the line end RFC 5322 requires, so messages
    /// written with `\n` (PHP, scripts) go out intact. A message over what
    /// Graph's MIME form takes ([`MAX_MIME_BYTES`]) is taken apart when sent
    /// and goes through a draft and upload sessions if the mailer has large
    /// messages on; a mailer with them off refuses it before any request.
    pub fn from_bytes(bytes: impl Into<Bytes>) -> Result<MimeMessage> {
        MimeMessage::checked(bytes.into(), MAX_LARGE_MIME_BYTES)
    }

    fn checked(bytes: Bytes, limit: usize) -> Result<MimeMessage> {
        check_size(bytes.len(), limit)?;
        let bytes = crlf(bytes);
        check_size(bytes.len(), limit)?;
        let (fields, _) = headers::split(&bytes)?;
        let headers = fields.iter().map(|f| (f.name.clone(), f.value())).collect();
        let message = MimeMessage { bytes, headers };
        message.check_recipients()?;
        Ok(message)
    }

    /// Reads a message from a file.
    pub fn from_path(path: impl AsRef<Path>) -> Result<MimeMessage> {
        MimeMessage::from_reader(open(path.as_ref())?)
    }

    /// Reads a message from a stream (stdin, a socket, a pipe), stopping
    /// just past the size limit rather than reading an endless stream.
    pub fn from_reader(reader: impl Read) -> Result<MimeMessage> {
        MimeMessage::from_bytes(read_up_to(reader, MAX_LARGE_MIME_BYTES)?)
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

    /// Every header field, unfolded, in order.
    pub(crate) fn fields(&self) -> impl Iterator<Item = (&str, &str)> {
        self.headers.iter().map(|(n, v)| (n.as_str(), v.as_str()))
    }

    /// True when the message is over what the MIME form of `sendMail` takes.
    pub(crate) fn needs_large_path(&self) -> bool {
        !fits_one_request(self.bytes.len())
    }

    /// The address in the `From` header.
    pub fn from_address(&self) -> Option<Address> {
        headers::parse_address_list(self.header("from")?)
            .into_iter()
            .next()
    }

    /// Every address in the `To`, `Cc` and `Bcc` headers.
    pub fn recipients(&self) -> Vec<Address> {
        ["to", "cc", "bcc"]
            .iter()
            .flat_map(|name| self.addresses(name))
            .collect()
    }

    /// Every address in the headers called `name` (any case), in order.
    pub(crate) fn addresses(&self, name: &str) -> Vec<Address> {
        self.headers
            .iter()
            .filter(|(n, _)| n.eq_ignore_ascii_case(name))
            .flat_map(|(_, v)| headers::parse_address_list(v))
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
            for (i, address) in headers::parse_address_list(value).iter().enumerate() {
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

fn check_size(len: usize, limit: usize) -> Result<()> {
    if len == 0 {
        return Err(Error::invalid(
            "mime",
            "is empty: give a whole message, headers first",
        ));
    }
    if len > limit {
        return Err(Error::invalid(
            "mime",
            format!(
                "the message is over {:.0} MB, more than Graph takes even through upload sessions (150 MB per attachment)",
                limit as f64 / (1024.0 * 1024.0)
            ),
        )
        .with_code("RequestEntityTooLarge"));
    }
    Ok(())
}

/// A message's file, or the error that names it.
pub(crate) fn open(path: &Path) -> Result<std::fs::File> {
    std::fs::File::open(path)
        .map_err(|e| Error::invalid("mime", format!("cannot read '{}': {e}", path.display())))
}

/// At most `limit` bytes and one more: enough for the size check to refuse
/// an endless stream.
pub(crate) fn read_up_to(reader: impl Read, limit: usize) -> Result<Vec<u8>> {
    let mut bytes = Vec::new();
    reader
        .take(limit as u64 + 1)
        .read_to_end(&mut bytes)
        .map_err(|e| Error::invalid("mime", format!("cannot be read: {e}")))?;
    Ok(bytes)
}

/// Whether a MIME message of `len` bytes goes in one `sendMail` request.
pub(crate) fn fits_one_request(len: usize) -> bool {
    len <= MAX_MIME_BYTES
}

/// Refuses a MIME message of `len` bytes that a mailer could never send:
/// over what one `sendMail` request takes, with large messages off.
pub(crate) fn check_sendable(len: usize, large_messages: bool) -> Result<()> {
    if fits_one_request(len) || large_messages {
        return Ok(());
    }
    Err(Error::invalid(
        "mime",
        format!(
            "the message is over {:.1} MB; Graph takes a MIME message in one request of at most 4 MB as base64, about 3 MB before encoding",
            MAX_MIME_BYTES as f64 / (1024.0 * 1024.0)
        ),
    )
    .with_code("RequestEntityTooLarge")
    .with_hint(crate::wire::LARGE_MESSAGES_HINT))
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

#[cfg(test)]
mod tests {
    use super::*;

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
        // Over what one request takes is kept, for a send through a draft.
        let large = format!("To: a@example.com\n\n{}", "x".repeat(MAX_MIME_BYTES));
        assert!(MimeMessage::from_bytes(large).unwrap().needs_large_path());
    }

    #[test]
    fn a_reader_stops_past_the_limit_and_the_limit_is_refused() {
        let read = read_up_to(std::io::repeat(b'x'), 10).unwrap();
        assert_eq!(read.len(), 11);
        let e = check_size(read.len(), 10).unwrap_err();
        assert_eq!(e.code(), Some("RequestEntityTooLarge"));
        assert_eq!(e.field(), Some("mime"));
        assert!(check_size(MAX_LARGE_MIME_BYTES, MAX_LARGE_MIME_BYTES).is_ok());
    }
}
