//! An error answer from Graph, or from whatever stands between (a proxy's
//! HTML page, a cut-off body): it becomes an error, never a panic.
#![no_main]

use graphmailer::fuzzing::graph_error;
use libfuzzer_sys::fuzz_target;

fuzz_target!(|input: (u16, Option<&str>, &[u8])| {
    let (status, request_id, body) = input;
    let error = graph_error(status, request_id, body);
    let _ = error.to_string();
    let _ = format!("{error:?}");
});
