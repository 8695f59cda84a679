//! RFC 5322 header blocks and address lists, read with `mail-parser` (the
//! parser the emulator uses too, so both sides agree on what a header says),
//! and written back with RFC 2047 encoded words where a name needs them.
//!
//! The parser is lenient on purpose (it reads what mail clients write); the
//! checks here refuse what Graph would refuse or misread, before any network
//! call: a line in the header block that is not a header.

mod encode;

use mail_parser::parsers::MessageStream;
use mail_parser::{HeaderValue, MessageParser};

use crate::address::{Address, printable};
use crate::error::{Error, Result};

pub(crate) use encode::{field, mailbox, mailbox_list};

/// One header field as written: its name, and the bytes after the colon
/// (folding kept), so a message can be rewritten without disturbing the
/// fields it does not change.
#[derive(Clone, Debug)]
pub(crate) struct RawField {
    pub name: String,
    pub raw: Vec<u8>,
}

impl RawField {
    /// The value unfolded and trimmed; encoded words are left as written.
    pub fn value(&self) -> String {
        String::from_utf8_lossy(&self.raw)
            .replace("\r\n", "")
            .trim()
            .to_owned()
    }

    /// The addresses in this field, when it holds an address list.
    pub fn addresses(&self) -> Vec<Address> {
        parse_address_list(&self.value())
    }
}

/// Splits a CRLF message into its header fields and the body after the
/// blank line (empty when there is none).
pub(crate) fn split(bytes: &[u8]) -> Result<(Vec<RawField>, &[u8])> {
    let parsed = MessageParser::new().parse_headers(bytes);
    let Some(part) = parsed.as_ref().and_then(|m| m.parts.first()) else {
        return Err(no_header_block());
    };
    if part.headers.is_empty() {
        return Err(no_header_block());
    }
    // The parser skips lines it cannot read as headers; Graph would not, so
    // a gap between two fields is a line that is not a header.
    let mut expected = part.offset_header as usize;
    let mut fields = Vec::with_capacity(part.headers.len());
    for header in &part.headers {
        let (start, value_start, end) = (
            header.offset_field as usize,
            header.offset_start as usize,
            header.offset_end as usize,
        );
        if start != expected {
            return Err(not_a_header(bytes, expected));
        }
        let name = &bytes[start..value_start - 1];
        let valid = !name.is_empty() && name.iter().all(|b| (33..=126).contains(b));
        if !valid {
            return Err(not_a_header(bytes, start));
        }
        let raw = &bytes[value_start..end];
        if has_bare_cr(raw) {
            return Err(bare_cr(bytes, start, name));
        }
        fields.push(RawField {
            name: String::from_utf8_lossy(name).into_owned(),
            raw: raw.strip_suffix(b"\r\n").unwrap_or(raw).to_vec(),
        });
        expected = end;
    }
    let rest = &bytes[expected..];
    match rest.strip_prefix(b"\r\n") {
        Some(body) => Ok((fields, body)),
        None if rest.is_empty() => Ok((fields, rest)),
        None => Err(not_a_header(bytes, expected)),
    }
}

/// Writes header fields and a body back into one message, the inverse of
/// [`split`].
pub(crate) fn join(fields: &[RawField], body: &[u8]) -> Vec<u8> {
    let mut out = Vec::with_capacity(
        body.len()
            + 256
            + fields
                .iter()
                .map(|f| f.raw.len() + f.name.len() + 3)
                .sum::<usize>(),
    );
    for f in fields {
        out.extend_from_slice(f.name.as_bytes());
        out.push(b':');
        out.extend_from_slice(&f.raw);
        out.extend_from_slice(b"\r\n");
    }
    out.extend_from_slice(b"\r\n");
    out.extend_from_slice(body);
    out
}

/// A CR followed by text. This parser reads it as part of the value, but a
/// reader further on may take it for a line end, so that a header hidden in
/// another's value (`Subject: x<CR>Bcc: ...`) would appear there only, past
/// every check made here. CRs just before a line end (`\r\r\n`, which
/// some Windows programs write) hide nothing and are let through.
fn has_bare_cr(raw: &[u8]) -> bool {
    raw.iter()
        .enumerate()
        .any(|(i, b)| *b == b'\r' && raw.get(i + 1).is_some_and(|n| !matches!(n, b'\r' | b'\n')))
}

fn bare_cr(bytes: &[u8], at: usize, name: &[u8]) -> Error {
    let number = bytes[..at].windows(2).filter(|w| w == b"\r\n").count() + 1;
    Error::invalid(
        "mime",
        format!(
            "the '{}' header (line {number}) holds a carriage return without a line feed: end each header line with CRLF, and remove other control characters",
            printable(&String::from_utf8_lossy(name))
        ),
    )
}

fn no_header_block() -> Error {
    Error::invalid(
        "mime",
        "has no header block: a message starts with headers such as From:, To: and Subject:",
    )
}

fn not_a_header(bytes: &[u8], at: usize) -> Error {
    let number = bytes[..at].windows(2).filter(|w| w == b"\r\n").count() + 1;
    let rest = &bytes[at..];
    let line = match rest.windows(2).position(|w| w == b"\r\n") {
        Some(end) => &rest[..end],
        None => rest,
    };
    Error::invalid(
        "mime",
        format!(
            "line {number} of the header block is not a header ('{}'): a message starts with 'Name: value' lines, then a blank line, then the body",
            printable(&String::from_utf8_lossy(line))
        ),
    )
}

/// Parses an RFC 5322 address list: `a@b`, `Name <a@b>`, `"Last, First"
/// <a@b>`, `a@b (Comment)`, groups (`team: a@b, c@d;`), names in encoded
/// words. A comment stands in for a missing display name, as in cron's
/// `root (Cron Daemon)`. A word without `@` (cron's `To: root`) is kept as
/// an address, so the checks name it rather than drop it.
pub(crate) fn parse_address_list(value: &str) -> Vec<Address> {
    // The parser reads a field up to its line end; a line break inside the
    // value would end it early, so one is added and any inside are spaces.
    let line = format!("{}\r\n", value.replace(['\r', '\n'], " "));
    let list = match MessageStream::new(line.as_bytes()).parse_address() {
        HeaderValue::Address(list) => list,
        _ => return Vec::new(),
    };
    list.iter()
        .filter_map(|a| {
            let name = a.name.as_deref().map(str::trim).filter(|n| !n.is_empty());
            match a.address.as_deref().map(str::trim) {
                Some(address) if !address.is_empty() => Some(match name {
                    Some(name) => Address::with_name(name, address),
                    None => Address::new(address),
                }),
                _ => name.map(Address::new),
            }
        })
        .collect()
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

    fn pairs(list: &[(&str, &str)]) -> Vec<(String, String)> {
        list.iter()
            .map(|(n, a)| (n.to_string(), a.to_string()))
            .collect()
    }

    #[test]
    fn address_lists_in_their_usual_forms() {
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
        assert_eq!(
            addresses("a@example.com, root"),
            pairs(&[("", "a@example.com"), ("", "root")])
        );
        assert_eq!(
            addresses(r#""A \"B\"" <a@example.com>"#),
            pairs(&[("A \"B\"", "a@example.com")])
        );
    }

    #[test]
    fn encoded_names_are_decoded() {
        assert_eq!(
            addresses("=?UTF-8?B?SsO8cmdlbiBNw7xsbGVy?= <root@localhost>"),
            pairs(&[("Jürgen Müller", "root@localhost")])
        );
        assert_eq!(
            addresses("=?ISO-8859-1?Q?J=F6rg?= <j@example.com>"),
            pairs(&[("Jörg", "j@example.com")])
        );
        // Charsets outside mail-parser's built-in set need its full_encoding.
        assert_eq!(
            addresses("=?ISO-2022-JP?B?GyRCJEYkOSRIGyhC?= <t@example.com>"),
            pairs(&[("てすと", "t@example.com")])
        );
    }

    #[test]
    fn a_line_break_in_a_value_does_not_hide_the_rest() {
        assert_eq!(
            addresses("a@example.com,\nb@example.com"),
            pairs(&[("", "a@example.com"), ("", "b@example.com")])
        );
    }

    #[test]
    fn fields_keep_their_bytes_and_folding() {
        let message = b"To: a@example.com,\r\n b@example.com\r\nSubject: \xe4\r\n\r\nbody";
        let (fields, body) = split(message).unwrap();
        assert_eq!(body, b"body");
        assert_eq!(fields[0].name, "To");
        assert_eq!(fields[0].raw, b" a@example.com,\r\n b@example.com");
        assert_eq!(fields[0].value(), "a@example.com, b@example.com");
        assert_eq!(fields[1].raw, b" \xe4");
        let (fields, body) = split(b"Subject: only headers\r\n").unwrap();
        assert_eq!((fields.len(), body), (1, &b""[..]));
    }

    #[test]
    fn odd_header_blocks_are_refused_or_read_without_panicking() {
        let odd: [&[u8]; 12] = [
            b": value\r\n\r\n",
            b"::\r\n\r\n",
            b"X-A:: b\r\n\r\n",
            b"From root@host Fri Dec  4 14:25:39 2026\r\nTo: a@b.c\r\n\r\n",
            b"\r\n\r\nTo: a@b.c\r\n",
            b"To\r\n",
            b"To:",
            b"To: a@b.c\r\n \r\n\r\n",
            b"\xff\xfe: x\r\n\r\n",
            b"To: \"unterminated <a@b.c>\r\n\r\n",
            b"To: (unterminated <a@b.c>\r\n\r\n",
            b"X-Very-Long-Header-Name-Over-Thirty-Four-Characters: x\r\n\r\n",
        ];
        for message in odd {
            if let Ok((fields, _)) = split(message) {
                for field in fields {
                    let _ = field.addresses();
                }
            }
        }
        let (fields, _) = split(odd[11]).unwrap();
        assert_eq!(
            fields[0].name,
            "X-Very-Long-Header-Name-Over-Thirty-Four-Characters"
        );
        assert!(split(odd[3]).is_err());
    }

    #[test]
    fn a_line_that_is_not_a_header_is_named() {
        let message = |m: &str| split(m.as_bytes()).unwrap_err().to_string();
        assert!(
            message("To: a@example.com\r\nnot a header\r\n\r\nbody").contains("line 2"),
            "{}",
            message("To: a@example.com\r\nnot a header\r\n\r\nbody")
        );
        assert!(message("just a body\r\n").contains("no header block"));
        assert!(message("Bad Name: x\r\n\r\n").contains("line 1"));
        assert!(message(" To: a@example.com\r\n\r\n").contains("line 1"));
    }

    #[test]
    fn a_bare_cr_in_a_header_is_refused_so_no_header_hides_in_another() {
        let refused = split(b"To: a@example.com\r\nSubject: x\rBcc: b@example.com\r\n\r\nbody")
            .unwrap_err()
            .to_string();
        assert!(
            refused.contains("'Subject' header (line 2)") && refused.contains("carriage return"),
            "{refused}"
        );
        assert!(split(b"Subject: x\r\rBcc: b@example.com\r\n\r\n").is_err());
        // Folding (CRLF then a space), CRs just before a line end, and a CR
        // in the body hide no header.
        assert!(split(b"Subject: a\r\n b\r\r\nTo: c@example.com\r\n\r\nbody\rmore").is_ok());
    }
}
