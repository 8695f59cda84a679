//! A raw MIME message, as a legacy program, `sendmail`'s standard input or
//! the relay hands one over (the rules: `graphmailer::fuzzing::mime`).
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| graphmailer::fuzzing::mime(data));
