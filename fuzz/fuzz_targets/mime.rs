//! A raw MIME message, as a legacy program, `sendmail`'s standard input or
//! the relay hands one over: read, addressed, and taken apart for a draft.
#![no_main]

use graphmailer::MimeMessage;
use graphmailer::fuzzing::{mime_attachment_sizes, mime_request_body, slim_mime, unpack_mime};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
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
    let _ = mime_request_body(&mime);
    if let Ok(sender) = mime.sender(Some("shared@contoso.test")) {
        let _ = unpack_mime(&sender, &mime);
    }
    // Cut to half its size, as a large message is cut to one request: the
    // rest is a message with the same headers, and its attachments and the
    // cut ones are the message's attachments.
    let limit = mime.as_bytes().len() / 2;
    if let Some((rest, cut)) = slim_mime(&mime, limit) {
        assert!(rest.as_bytes().len() <= limit);
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
        let mut before = mime_attachment_sizes(&mime).unwrap();
        let mut after = mime_attachment_sizes(&rest).expect("the rest is refused");
        after.extend(cut);
        before.sort_unstable();
        after.sort_unstable();
        assert_eq!(before, after, "the attachments changed");
    }
});
