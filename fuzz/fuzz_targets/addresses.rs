//! A display name and an address written into a header by graphmailer, then
//! read back as Graph's side reads it: the same mailbox, never another.
#![no_main]

use graphmailer::fuzzing::{check_address, mailbox, parse_address_list};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|input: (Option<String>, String)| {
    let (name, address) = input;
    let _ = parse_address_list(&address);
    if check_address(&address).is_err() {
        return;
    }
    let written = mailbox(name.as_deref(), &address);
    let read = parse_address_list(&written);
    let addresses: Vec<&str> = read.iter().map(|a| a.address.as_str()).collect();
    assert_eq!(
        addresses,
        [address.as_str()],
        "{written:?} read back as {read:?}"
    );
});
