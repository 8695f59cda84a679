//! `sendmail`'s rewrite of a message for its envelope: the standard input and
//! the arguments of a program that may have been written in 1995.
#![no_main]

use arbitrary::Arbitrary;
use graphmailer::MimeMessage;
use graphmailer::sendmail::Envelope;
use libfuzzer_sys::fuzz_target;

#[derive(Arbitrary, Debug)]
struct Input {
    read_recipients: bool,
    from: Option<String>,
    full_name: Option<String>,
    recipients: Vec<String>,
    default_sender: Option<String>,
    raw: Vec<u8>,
}

fuzz_target!(|input: Input| {
    let envelope = Envelope {
        read_recipients: input.read_recipients,
        from: input.from,
        full_name: input.full_name,
        recipients: input.recipients,
    };
    let Ok(prepared) = envelope.prepare(&input.raw, input.default_sender.as_deref()) else {
        return;
    };
    assert!(!prepared.sender.is_empty(), "prepared with no sender");
    let again = MimeMessage::from_bytes(prepared.message.as_bytes().to_vec())
        .expect("a prepared message is refused when read again");
    assert_eq!(again.as_bytes(), prepared.message.as_bytes());
    // Graph delivers to the headers' addresses: without -t they are exactly
    // the envelope's recipients.
    if !envelope.read_recipients {
        let mut given: Vec<String> = envelope
            .recipients
            .iter()
            .flat_map(|a| graphmailer::fuzzing::parse_address_list(a))
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
});
