//! What the fuzz targets in `fuzz/` check, compiled only with `--cfg fuzzing`
//! (which `cargo fuzz` sets) and in core's unit tests. Each function panics
//! when a rule fails, which is how a fuzzer learns of it; the targets only
//! hand their input over, and the tests below run every seed through the
//! same rules, so the rules are built and kept true by the test suite even
//! though the fuzzer is not.

use crate::address::check_address;
use crate::headers::{mailbox, parse_address_list};
use crate::mime::MimeMessage;
use crate::sendmail::Envelope;

/// A raw MIME message, as a legacy program, `sendmail`'s standard input or
/// the relay hands one over: read, addressed, and taken apart for a draft.
pub fn mime(data: &[u8]) {
    let Ok(mime) = MimeMessage::from_bytes(data.to_vec()) else {
        return;
    };
    // The outbox stores the bytes a message was read as and reads them again
    // when it sends: what was taken once must be taken again, unchanged.
    let again = MimeMessage::from_bytes(mime.as_bytes().to_vec())
        .expect("a message read once is refused when read again");
    assert_eq!(
        again.as_bytes(),
        mime.as_bytes(),
        "reading again changed the bytes"
    );
    let _ = mime.recipients();
    let _ = mime.from_address();
    let _ = mime.header("subject");
    let _ = mime.request_body();
    if let Ok(sender) = mime.sender(Some("shared@contoso.test")) {
        if let Ok(unpacked) = crate::mime_parts::unpack(&sender, &mime) {
            if unpacked.message.validate().is_ok() {
                let _ = crate::wire::draft_body(
                    &unpacked.message,
                    unpacked.internet_message_id.as_deref(),
                );
            }
        }
    }
    // Cut to half its size, as a large message is cut to one request: the
    // rest is a message with the same headers, and its attachments and the
    // cut ones are the message's attachments.
    let limit = mime.as_bytes().len() / 2;
    if let Some(slimmed) = crate::mime_parts::slim_to(&mime, limit) {
        let rest = &slimmed.mime;
        assert!(rest.as_bytes().len() <= limit, "the rest is over the limit");
        for name in [
            "from",
            "to",
            "cc",
            "bcc",
            "subject",
            "message-id",
            "in-reply-to",
        ] {
            assert_eq!(rest.header(name), mime.header(name), "{name}");
        }
        let mut before = attachment_sizes(&mime).expect("a message that was cut is refused");
        let mut after = attachment_sizes(rest).expect("the rest is refused");
        after.extend(sizes(&slimmed.attachments));
        before.sort_unstable();
        after.sort_unstable();
        assert_eq!(before, after, "the attachments changed");
    }
}

/// The sizes of the attachments Graph's JSON form would carry for `mime`.
fn attachment_sizes(mime: &MimeMessage) -> crate::Result<Vec<u64>> {
    let unpacked = crate::mime_parts::unpack("fuzz@contoso.test", mime)?;
    Ok(sizes(&unpacked.message.attachments))
}

fn sizes(attachments: &[crate::Attachment]) -> Vec<u64> {
    attachments.iter().map(crate::Attachment::size).collect()
}

/// `sendmail`'s rewrite of a message for its envelope: the standard input
/// and the arguments of a program that may have been written in 1995.
pub fn sendmail(envelope: &Envelope, raw: &[u8], default_sender: Option<&str>) {
    let Ok(prepared) = envelope.prepare(raw, default_sender) else {
        return;
    };
    assert!(!prepared.sender.is_empty(), "prepared with no sender");
    let again = MimeMessage::from_bytes(prepared.message.as_bytes().to_vec())
        .expect("a prepared message is refused when read again");
    assert_eq!(
        again.as_bytes(),
        prepared.message.as_bytes(),
        "reading again changed the bytes"
    );
    // Graph delivers to the headers' addresses: without -t they are exactly
    // the envelope's recipients.
    if !envelope.read_recipients {
        let mut given: Vec<String> = envelope
            .recipients
            .iter()
            .flat_map(|a| parse_address_list(a))
            .map(|a| a.address.to_lowercase())
            .collect();
        let mut written: Vec<String> = prepared
            .message
            .recipients()
            .into_iter()
            .map(|a| a.address.to_lowercase())
            .collect();
        given.sort();
        given.dedup();
        written.sort();
        written.dedup();
        assert_eq!(
            given, written,
            "the headers name other recipients than the envelope"
        );
    }
}

/// A display name and an address written into a header by graphmailer, then
/// read back as Graph's side reads it: the same mailbox, never another.
pub fn addresses(name: Option<&str>, address: &str) {
    let _ = parse_address_list(address);
    if check_address("address", address).is_err() {
        return;
    }
    let written = mailbox(name, address);
    let read = parse_address_list(&written);
    let addresses: Vec<&str> = read.iter().map(|a| a.address.as_str()).collect();
    assert_eq!(addresses, [address], "{written:?} read back as {read:?}");
}

/// An error answer from Graph, or from whatever stands between (a proxy's
/// HTML page, a cut-off body): it becomes an error, never a panic, that
/// names the status and the request id the answer came with.
pub fn graph_error(status: u16, request_id: Option<&str>, body: &[u8]) {
    let status = reqwest::StatusCode::from_u16(status).unwrap_or(reqwest::StatusCode::BAD_REQUEST);
    let mut headers = reqwest::header::HeaderMap::new();
    // A header value that is not visible ASCII (a byte over 127) is taken by
    // the HTTP library but not read back as text: such an id is not kept.
    let request_id = request_id
        .filter(|v| reqwest::header::HeaderValue::from_str(v).is_ok_and(|h| h.to_str().is_ok()));
    if let Some(id) = request_id {
        headers.insert("request-id", id.parse().expect("checked above"));
    }
    let error = crate::graph_error::graph_error(status, &headers, body);
    assert_eq!(error.status(), Some(status.as_u16()), "{error:?}");
    let text = error.to_string();
    assert!(
        text.contains(status.as_str()),
        "{text:?} does not name {status}"
    );
    if let Some(id) = request_id {
        assert_eq!(error.request_id(), Some(id), "{error:?}");
        assert!(
            text.contains(&format!("request id {id}")),
            "{text:?} does not name {id:?}"
        );
    }
    let _ = format!("{error:?}");
}

#[cfg(test)]
mod tests {
    use std::path::PathBuf;

    use super::*;

    /// The seeds the fuzz targets start from, each a file's bytes.
    fn seeds(target: &str) -> Vec<(PathBuf, Vec<u8>)> {
        let dir = PathBuf::from(env!("CARGO_MANIFEST_DIR"))
            .join("../fuzz/seeds")
            .join(target);
        let mut seeds: Vec<_> = std::fs::read_dir(&dir)
            .unwrap_or_else(|e| panic!("{}: {e}", dir.display()))
            .map(|entry| {
                let path = entry.unwrap().path();
                let bytes = std::fs::read(&path).unwrap();
                (path, bytes)
            })
            .collect();
        seeds.sort();
        assert!(!seeds.is_empty(), "no seeds in {}", dir.display());
        seeds
    }

    /// The seeds a `MimeMessage` reads (`cron.eml` is `sendmail`'s, addressed
    /// to a bare `root`): the rules only hold something for these.
    fn read_seeds() -> Vec<MimeMessage> {
        let read: Vec<_> = seeds("mime")
            .into_iter()
            .filter_map(|(_, bytes)| MimeMessage::from_bytes(bytes).ok())
            .collect();
        assert!(
            read.len() >= 3,
            "only {} seeds are read as MIME",
            read.len()
        );
        read
    }

    #[test]
    fn every_mime_seed_keeps_the_mime_targets_rules() {
        for (_, bytes) in seeds("mime") {
            mime(&bytes);
        }
        // The rules past reading only hold something for the seeds it reads.
        read_seeds();
    }

    #[test]
    fn a_multipart_seed_is_cut_by_the_mime_target() {
        // The rule on cutting only holds something when a seed is cut.
        let cut = read_seeds()
            .iter()
            .any(|mime| crate::mime_parts::slim_to(mime, mime.as_bytes().len() / 2).is_some());
        assert!(cut, "no seed is cut to half its size");
    }

    #[test]
    fn every_mime_seed_keeps_the_sendmail_targets_rules() {
        let envelopes = [
            Envelope {
                read_recipients: true,
                from: None,
                full_name: None,
                recipients: vec![],
            },
            Envelope {
                read_recipients: false,
                from: Some("root".into()),
                full_name: Some("Cron \"Daemon\", nightly".into()),
                recipients: vec!["ops@contoso.test, Finance <finance@contoso.test>".into()],
            },
            Envelope {
                read_recipients: true,
                from: Some("billing@contoso.test".into()),
                full_name: None,
                recipients: vec!["audit@contoso.test".into()],
            },
        ];
        let mut prepared = 0;
        for (_, bytes) in seeds("mime") {
            for envelope in &envelopes {
                sendmail(envelope, &bytes, Some("shared@contoso.test"));
                prepared += usize::from(
                    envelope
                        .prepare(&bytes, Some("shared@contoso.test"))
                        .is_ok(),
                );
            }
        }
        assert!(
            prepared > 0,
            "no seed was prepared: the rules were never reached"
        );
    }

    #[test]
    fn awkward_display_names_read_back_as_their_address() {
        let names = [
            None,
            Some(""),
            Some("Doe, John"),
            Some("\"quoted\" <fake@evil.test>"),
            Some("back\\slash"),
            Some("Zoë Ñandú 請求書"),
            Some("=?utf-8?q?already_encoded?="),
            Some("line\r\nBcc: someone@evil.test"),
            Some("(comment) <a@b.test>, other@evil.test"),
        ];
        for name in names {
            for address in ["billing@contoso.test", "o'brien+tag@contoso.test"] {
                addresses(name, address);
            }
        }
    }

    #[test]
    fn an_odd_answer_becomes_an_error_with_its_status_and_request_id() {
        let bodies: [&[u8]; 6] = [
            b"",
            b"<html><body>502 Bad Gateway</body></html>",
            b"{\"error\":{\"code\":\"ErrorAccessDenied\",\"message\":\"Access is denied.\"",
            b"{\"error\":null}",
            b"{\"error\":{\"code\":7,\"innerError\":{\"request-id\":[]}}}",
            b"\xff\xfe\x00not utf-8",
        ];
        for status in [0, 99, 400, 403, 429, 503, 999] {
            for body in bodies {
                graph_error(status, Some("req-1"), body);
                graph_error(status, Some("bad\nid"), body);
                graph_error(status, Some("réq-1"), body);
                graph_error(status, None, body);
            }
        }
    }
}
