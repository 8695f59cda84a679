//! An error answer from Graph, or from whatever stands between (the rules:
//! `graphmailer::fuzzing::graph_error`).
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|input: (u16, Option<&str>, &[u8])| {
    let (status, request_id, body) = input;
    graphmailer::fuzzing::graph_error(status, request_id, body);
});
