//! A raw MIME message, as a legacy program, `sendmail`'s standard input or
//! the relay hands one over: read, addressed, and taken apart for a draft.
#![no_main]

use graphmailer::MimeMessage;
use graphmailer::fuzzing::{mime_request_body, unpack_mime};
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
});
