//! The rules of the `sendmail` stand-in: how a message piped in by cron, PHP's
//! `mail()` or an old daemon, with sendmail's envelope options, becomes a
//! MIME message Graph will send to exactly the intended recipients, and which
//! `sysexits.h` status each failure gets.
//!
//! Graph's MIME `sendMail` takes its recipients from the To, Cc and Bcc
//! headers; sendmail takes them from the command line (or, with `-t`, from
//! the headers). The headers are rewritten so the two agree.

use crate::address::{Address, check_address};
use crate::error::{Error, ErrorKind, Result};
use crate::headers::{self, RawField, field, mailbox, mailbox_list, parse_address_list};
use crate::mime::{self, MimeMessage};

/// `sysexits.h` statuses, which sendmail's callers understand.
pub mod sysexits {
    /// Bad command line.
    pub const USAGE: u8 = 64;
    /// The message is malformed.
    pub const DATAERR: u8 = 65;
    /// A recipient address is unusable.
    pub const NOUSER: u8 = 67;
    /// The service refused or failed for good (not to be retried as is).
    pub const UNAVAILABLE: u8 = 69;
    /// The message could not be read.
    pub const IOERR: u8 = 74;
    /// A passing failure: nothing was sent; try again later.
    pub const TEMPFAIL: u8 = 75;
    /// Not allowed to send as this mailbox.
    pub const NOPERM: u8 = 77;
    /// The configuration is missing or wrong.
    pub const CONFIG: u8 = 78;
}

/// The `sysexits.h` status for an error. Only failures where nothing was sent
/// get `EX_TEMPFAIL`, the status callers retry on: an ambiguous send gets
/// `EX_UNAVAILABLE`, so no caller sends the mail twice.
pub fn exit_code(error: &Error) -> u8 {
    match error.kind() {
        ErrorKind::Config | ErrorKind::Authentication => sysexits::CONFIG,
        ErrorKind::InvalidMessage if error.field() == Some("recipients") => sysexits::NOUSER,
        ErrorKind::InvalidMessage => sysexits::DATAERR,
        ErrorKind::SenderNotAllowed | ErrorKind::AccessDenied => sysexits::NOPERM,
        ErrorKind::MailboxNotFound => sysexits::NOUSER,
        ErrorKind::Throttled | ErrorKind::Transient => sysexits::TEMPFAIL,
        ErrorKind::AmbiguousDelivery | ErrorKind::Service => sysexits::UNAVAILABLE,
    }
}

/// Refuses, before anything else is read from it, a message of `len` bytes
/// that a mailer built from `config` could never send: over what one request
/// takes, with large messages off.
pub fn check_size(len: usize, config: &crate::Config) -> Result<()> {
    mime::check_sendable(len, config.large_messages())
}

/// What sendmail's command line says about a message.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Envelope {
    /// `-t`: the recipients are read from the To, Cc and Bcc headers (plus
    /// any on the command line).
    pub read_recipients: bool,
    /// `-f` / `-r`: the envelope sender. Used as the mailbox to send as when
    /// it is a full address (`-f root` from cron is not).
    pub from: Option<String>,
    /// `-F`: the sender's full name, used when graphmailer writes the From header.
    pub full_name: Option<String>,
    /// The recipients given as arguments.
    pub recipients: Vec<String>,
}

/// A message ready for Graph: the mailbox to send as, and the rewritten message.
#[derive(Debug)]
pub struct Prepared {
    pub sender: String,
    pub message: MimeMessage,
}

impl Envelope {
    /// Rewrites `raw` so Graph sends it from the right mailbox to exactly the
    /// envelope's recipients. The mailbox to send as is `-f` when it is a
    /// full address, else the From header's address, else `default_sender`.
    pub fn prepare(&self, raw: &[u8], default_sender: Option<&str>) -> Result<Prepared> {
        let bytes = mime::crlf(bytes::Bytes::copy_from_slice(raw));
        let (mut fields, body) = headers::split(&bytes)?;
        let from_header = header_addresses(&fields, "from").into_iter().next();
        let sender = self.sender(from_header.as_ref(), default_sender)?;
        if from_header.as_ref().is_none_or(|a| !is_full(&a.address)) {
            let name = self
                .full_name
                .clone()
                .or_else(|| from_header.and_then(|a| a.name));
            fields.retain(|f| !f.name.eq_ignore_ascii_case("from"));
            fields.insert(0, field("From", &mailbox(name.as_deref(), &sender)));
        }
        self.rewrite_recipients(&mut fields)?;
        let out = crate::headers::join(&fields, body);
        Ok(Prepared {
            sender,
            message: MimeMessage::from_bytes(out)?,
        })
    }

    fn sender(
        &self,
        from_header: Option<&Address>,
        default_sender: Option<&str>,
    ) -> Result<String> {
        let envelope = self.from.as_deref().map(str::trim).filter(|f| is_full(f));
        let header = from_header
            .map(|a| a.address.as_str())
            .filter(|a| is_full(a));
        // The configuration checks its default sender; a caller of this
        // function may pass anything, and an empty one is no mailbox.
        let default = default_sender.map(str::trim).filter(|d| is_full(d));
        envelope
            .or(header)
            .or(default)
            .map(str::to_owned)
            .ok_or_else(|| {
                Error::config(
                    "GRAPHMAILER_DEFAULT_SENDER",
                    "the message names no mailbox to send as (no -f address, no From address with a domain): set GRAPHMAILER_DEFAULT_SENDER to the mailbox that sends this machine's mail",
                )
            })
    }

    /// Makes the To, Cc and Bcc headers name exactly the envelope's
    /// recipients, because Graph delivers to the headers' addresses.
    fn rewrite_recipients(&self, fields: &mut Vec<RawField>) -> Result<()> {
        let mut envelope = Vec::new();
        for (i, arg) in self.recipients.iter().enumerate() {
            for address in parse_address_list(arg) {
                check_address(&format!("argument {}", i + 1), &address.address)
                    .map_err(|e| e.with_field("recipients"))?;
                envelope.push(address);
            }
        }
        if self.read_recipients {
            for name in ["to", "cc", "bcc"] {
                for address in header_addresses(fields, name) {
                    check_address(&format!("the {name} header"), &address.address)
                        .map_err(|e| e.with_field("recipients"))?;
                }
            }
            // Arguments given with -t are added, as Postfix does.
            let in_headers = all_header_recipients(fields);
            let extra: Vec<&Address> = envelope
                .iter()
                .filter(|a| !contains(&in_headers, &a.address))
                .collect();
            if !extra.is_empty() {
                fields.push(field("Bcc", &mailbox_list(&extra)));
            }
            if all_header_recipients(fields).is_empty() {
                return Err(no_recipients());
            }
            return Ok(());
        }
        if envelope.is_empty() {
            return Err(no_recipients());
        }
        let in_headers = all_header_recipients(fields);
        let all_in_envelope = in_headers
            .iter()
            .all(|a| is_full(&a.address) && contains(&envelope, &a.address));
        if all_in_envelope {
            let extra: Vec<&Address> = envelope
                .iter()
                .filter(|a| !contains(&in_headers, &a.address))
                .collect();
            if !extra.is_empty() {
                fields.push(field("Bcc", &mailbox_list(&extra)));
            }
            return Ok(());
        }
        // The headers name someone the envelope does not (cron's `To: root`):
        // Graph would mail them, so the headers give way to the envelope and
        // the original To and Cc stay visible under another name.
        let mut rewritten = Vec::with_capacity(fields.len() + 1);
        for f in fields.drain(..) {
            match f.name.to_ascii_lowercase().as_str() {
                "to" => rewritten.push(RawField {
                    name: "X-Original-To".into(),
                    raw: f.raw,
                }),
                "cc" => rewritten.push(RawField {
                    name: "X-Original-Cc".into(),
                    raw: f.raw,
                }),
                "bcc" => {}
                _ => rewritten.push(f),
            }
        }
        let to: Vec<&Address> = envelope.iter().collect();
        rewritten.push(field("To", &mailbox_list(&to)));
        *fields = rewritten;
        Ok(())
    }
}

fn no_recipients() -> Error {
    Error::invalid(
        "recipients",
        "no recipients: give them as arguments, or use -t to read them from the To, Cc and Bcc headers",
    )
}

fn is_full(address: &str) -> bool {
    check_address("address", address).is_ok()
}

fn contains(list: &[Address], address: &str) -> bool {
    list.iter().any(|a| a.address.eq_ignore_ascii_case(address))
}

fn header_addresses(fields: &[RawField], name: &str) -> Vec<Address> {
    fields
        .iter()
        .filter(|f| f.name.eq_ignore_ascii_case(name))
        .flat_map(RawField::addresses)
        .collect()
}

fn all_header_recipients(fields: &[RawField]) -> Vec<Address> {
    ["to", "cc", "bcc"]
        .iter()
        .flat_map(|n| header_addresses(fields, n))
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn text(p: &Prepared) -> String {
        String::from_utf8(p.message.as_bytes().to_vec()).unwrap()
    }

    #[test]
    fn cron_mail_from_root_goes_out_as_the_default_sender_to_mailto() {
        let raw = b"From: root (Cron Daemon)\nTo: root\nSubject: Cron <root@host> backup\n\nbackup done\n";
        let envelope = Envelope {
            full_name: Some("CronDaemon".into()),
            from: Some("root".into()),
            recipients: vec!["ops@example.com".into()],
            ..Envelope::default()
        };
        let p = envelope.prepare(raw, Some("cron@contoso.test")).unwrap();
        assert_eq!(p.sender, "cron@contoso.test");
        let t = text(&p);
        assert!(
            t.starts_with("From: CronDaemon <cron@contoso.test>\r\n"),
            "{t}"
        );
        assert!(t.contains("X-Original-To: root\r\n"), "{t}");
        assert!(t.contains("\r\nTo: ops@example.com\r\n"), "{t}");
        assert!(t.ends_with("\r\n\r\nbackup done\r\n"), "{t}");
        let to: Vec<String> = p
            .message
            .recipients()
            .into_iter()
            .map(|a| a.address)
            .collect();
        assert_eq!(to, ["ops@example.com"]);
    }

    #[test]
    fn a_default_sender_that_is_no_address_is_no_sender() {
        // Found by the sendmail fuzz target: the body alone, and "" as the
        // default, was prepared with an empty sender.
        let envelope = Envelope {
            recipients: vec!["ops@example.com".into()],
            ..Envelope::default()
        };
        for default in ["", "  ", "root"] {
            let e = envelope.prepare(b"kyc", Some(default)).unwrap_err();
            assert_eq!(
                e.field(),
                Some("GRAPHMAILER_DEFAULT_SENDER"),
                "{default:?}: {e}"
            );
        }
        let p = envelope
            .prepare(b"kyc", Some(" cron@contoso.test "))
            .unwrap();
        assert_eq!(p.sender, "cron@contoso.test");
    }

    #[test]
    fn php_mail_with_t_reads_the_headers_and_keeps_bcc_hidden_from_to() {
        let raw = b"To: a@example.com\nSubject: Order\nFrom: shop@contoso.test\nBcc: audit@example.com\n\nThanks\n";
        let envelope = Envelope {
            read_recipients: true,
            ..Envelope::default()
        };
        let p = envelope.prepare(raw, None).unwrap();
        assert_eq!(p.sender, "shop@contoso.test");
        let all: Vec<String> = p
            .message
            .recipients()
            .into_iter()
            .map(|a| a.address)
            .collect();
        assert_eq!(all, ["a@example.com", "audit@example.com"]);
    }

    #[test]
    fn arguments_not_in_the_headers_become_bcc() {
        let raw = b"From: app@contoso.test\nTo: a@example.com\n\nx";
        let envelope = Envelope {
            recipients: vec!["a@example.com".into(), "b@example.com".into()],
            ..Envelope::default()
        };
        let t = text(&envelope.prepare(raw, None).unwrap());
        assert!(
            t.contains("To: a@example.com\r\n") && t.contains("Bcc: b@example.com\r\n"),
            "{t}"
        );
    }

    #[test]
    fn refusals_name_what_to_fix_and_map_to_sysexits() {
        let raw = b"Subject: x\n\nbody";
        let none = Envelope::default()
            .prepare(raw, Some("a@contoso.test"))
            .unwrap_err();
        assert_eq!(none.field(), Some("recipients"));
        assert_eq!(exit_code(&none), sysexits::NOUSER);
        let local = Envelope {
            recipients: vec!["root".into()],
            ..Envelope::default()
        };
        assert_eq!(
            exit_code(&local.prepare(raw, Some("a@contoso.test")).unwrap_err()),
            sysexits::NOUSER
        );
        let no_sender = Envelope {
            recipients: vec!["a@example.com".into()],
            ..Envelope::default()
        }
        .prepare(raw, None)
        .unwrap_err();
        assert_eq!(no_sender.field(), Some("GRAPHMAILER_DEFAULT_SENDER"));
        assert_eq!(exit_code(&no_sender), sysexits::CONFIG);
        let ambiguous = Error::new(ErrorKind::AmbiguousDelivery, "x");
        assert_eq!(exit_code(&ambiguous), sysexits::UNAVAILABLE);
        assert_eq!(
            exit_code(&Error::new(ErrorKind::Throttled, "x")),
            sysexits::TEMPFAIL
        );
    }

    #[test]
    fn an_encoded_from_name_stays_an_encoded_word_when_the_address_changes() {
        let raw = "From: =?UTF-8?B?SsO8cmdlbiBNw7xsbGVy?= <root@localhost>\nTo: a@example.com\n\nx";
        let envelope = Envelope {
            read_recipients: true,
            ..Envelope::default()
        };
        let p = envelope
            .prepare(raw.as_bytes(), Some("erp@contoso.test"))
            .unwrap();
        assert_eq!(p.sender, "erp@contoso.test");
        let t = text(&p);
        assert!(
            t.starts_with("From: =?UTF-8?B?SsO8cmdlbiBNw7xsbGVy?= <erp@contoso.test>\r\n"),
            "{t}"
        );
        let from = p.message.from_address().unwrap();
        assert_eq!(from.name.as_deref(), Some("Jürgen Müller"));
    }

    #[test]
    fn a_long_non_ascii_full_name_is_split_and_folded() {
        let name =
            "Größenwahn-Überwachungs-Ausschuss für Öffentliche Ärgernisse und Übermäßige Müdigkeit";
        let envelope = Envelope {
            full_name: Some(name.into()),
            recipients: vec!["a@example.com".into()],
            ..Envelope::default()
        };
        let p = envelope
            .prepare(b"Subject: x\n\nx", Some("erp@contoso.test"))
            .unwrap();
        let t = text(&p);
        let head = &t[..t.find("\r\n\r\n").unwrap()];
        for line in head.split("\r\n") {
            assert!(line.len() <= 78, "{line:?}");
        }
        assert!(t.starts_with("From: =?UTF-8?B?"), "{t}");
        assert!(t.contains("?=\r\n =?UTF-8?B?"), "{t}");
        assert_eq!(
            p.message.from_address().unwrap().name.as_deref(),
            Some(name)
        );
    }
}
