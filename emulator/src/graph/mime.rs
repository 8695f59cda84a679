//! sendMail with a MIME body (docs/graph-mail-protocol.md §5): `Content-Type: text/plain`,
//! the body is base64 of a whole RFC 5322 message. Only what Graph itself
//! refuses is checked: bad base64, no header block, no valid recipient.
//! `mime_message.rs` then reads the accepted MIME into Graph's message shape.

use mail_parser::HeaderValue;
use mail_parser::parsers::MessageStream;

use super::validation::{Invalid, decode_base64};
use crate::directory::is_email_address;

/// Returns the decoded MIME bytes (exact: an 8-bit part is not altered) of
/// a message to send: one with at least one valid recipient.
pub(crate) fn check_mime(body: &[u8]) -> Result<Vec<u8>, Invalid> {
    let (decoded, headers) = read_mime(body)?;
    check_mime_recipients(&headers)?;
    Ok(decoded)
}

/// The decoded bytes of a MIME draft (`POST /users/{id}/messages` in MIME
/// form), which, as a draft made from JSON, may have no recipients yet.
pub(crate) fn check_mime_draft(body: &[u8]) -> Result<Vec<u8>, Invalid> {
    read_mime(body).map(|(decoded, _)| decoded)
}

/// Header names and unfolded values, in order.
type Headers = Vec<(String, String)>;

/// Base64 of a message with a header block: its bytes and its headers.
fn read_mime(body: &[u8]) -> Result<(Vec<u8>, Headers), Invalid> {
    let text = std::str::from_utf8(body).ok();
    let decoded = text.and_then(decode_base64).ok_or_else(|| Invalid {
        code: "ErrorMimeContentInvalidBase64String",
        message: "Invalid base64 string for MIME content.".to_owned(),
    })?;
    let mime = String::from_utf8_lossy(&decoded);
    let invalid = |message: &str| Invalid {
        code: "ErrorMimeContentInvalid",
        message: message.to_owned(),
    };
    if mime.trim().is_empty() {
        return Err(invalid("The MIME content is empty."));
    }
    let header_block = mime
        .split("\r\n\r\n")
        .next()
        .map(|h| h.split("\n\n").next().unwrap_or(h))
        .unwrap_or("");
    let headers = unfold(header_block);
    if headers.is_empty() {
        return Err(invalid("The MIME content has no header block."));
    }
    Ok((decoded, headers))
}

fn check_mime_recipients(headers: &Headers) -> Result<(), Invalid> {
    let mut recipients = 0;
    for (name, value) in headers {
        if !["to", "cc", "bcc"].contains(&name.to_ascii_lowercase().as_str()) {
            continue;
        }
        for address in header_addresses(value) {
            if !is_email_address(&address) {
                return Err(Invalid {
                    code: "ErrorInvalidRecipients",
                    message: format!(
                        "At least one recipient isn't valid., Recipient '{address}' isn't resolved. All recipients must be resolved before a message can be submitted."
                    ),
                });
            }
            recipients += 1;
        }
    }
    if recipients == 0 {
        return Err(Invalid {
            code: "ErrorInvalidRecipients",
            message: "At least one recipient isn't valid., A message can't be sent because it contains no recipients.".to_owned(),
        });
    }
    Ok(())
}

/// The addresses of a To, Cc or Bcc value. Read as an RFC 5322 address list,
/// so a comma inside a quoted name (`"Doe, Jane" <jane@example.com>`) does
/// not split it; a word without `@` (`root`) is kept, to be refused by name.
fn header_addresses(value: &str) -> Vec<String> {
    let line = format!("{value}\r\n");
    let HeaderValue::Address(list) = MessageStream::new(line.as_bytes()).parse_address() else {
        return Vec::new();
    };
    list.iter()
        .filter_map(|a| a.address().or(a.name()))
        .map(|a| a.trim().to_owned())
        .filter(|a| !a.is_empty())
        .collect()
}

/// Header lines with continuation lines joined; `None` if a line is not a header.
fn unfold(block: &str) -> Headers {
    let mut headers: Vec<(String, String)> = Vec::new();
    for line in block.lines() {
        if line.starts_with([' ', '\t']) {
            match headers.last_mut() {
                Some((_, value)) => {
                    value.push(' ');
                    value.push_str(line.trim());
                }
                None => return Vec::new(),
            }
            continue;
        }
        let Some((name, value)) = line.split_once(':') else {
            return Vec::new();
        };
        if name.is_empty() || name.contains(char::is_whitespace) {
            return Vec::new();
        }
        headers.push((name.to_owned(), value.trim().to_owned()));
    }
    headers
}

#[cfg(test)]
mod tests {
    use super::*;
    use base64::Engine;
    use base64::engine::general_purpose::STANDARD;

    #[test]
    fn mime_checks() {
        let good = "From: erp@contoso.test\r\nTo: \"A\" <a@b.test>, c@d.test\r\nSubject: x\r\n\r\nhello\r\n";
        assert!(check_mime(STANDARD.encode(good).as_bytes()).is_ok());
        let quoted_comma = "To: \"Doe, Jane\" <jane@b.test>\r\n\r\nhello\r\n";
        assert!(check_mime(STANDARD.encode(quoted_comma).as_bytes()).is_ok());
        let local = "To: a@b.test, root\r\n\r\nhello\r\n";
        let refused = check_mime(STANDARD.encode(local).as_bytes()).unwrap_err();
        assert_eq!(refused.code, "ErrorInvalidRecipients");
        assert!(refused.message.contains("'root'"), "{}", refused.message);
        assert_eq!(
            check_mime(b"!!!").unwrap_err().code,
            "ErrorMimeContentInvalidBase64String"
        );
        let none = "From: erp@contoso.test\r\nSubject: x\r\n\r\nhello";
        assert_eq!(
            check_mime(STANDARD.encode(none).as_bytes())
                .unwrap_err()
                .code,
            "ErrorInvalidRecipients"
        );
        assert_eq!(
            check_mime(STANDARD.encode("just text").as_bytes())
                .unwrap_err()
                .code,
            "ErrorMimeContentInvalid"
        );
    }
}
