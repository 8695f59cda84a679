//! A display name and an address written into a header and read back (the
//! rules: `graphmailer::fuzzing::addresses`).
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|input: (Option<String>, String)| {
    let (name, address) = input;
    graphmailer::fuzzing::addresses(name.as_deref(), &address);
});
