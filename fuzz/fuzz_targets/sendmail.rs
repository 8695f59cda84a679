//! `sendmail`'s envelope and standard input (the rules:
//! `graphmailer::fuzzing::sendmail`).
#![no_main]

use arbitrary::Arbitrary;
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
    graphmailer::fuzzing::sendmail(&envelope, &input.raw, input.default_sender.as_deref());
});
