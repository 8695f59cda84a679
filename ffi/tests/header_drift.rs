//! Fails when the checked-in `include/graphmailer.h` differs from the header
//! cbindgen generates from the sources now (build.rs writes it to OUT_DIR on
//! every build). Regenerate with
//! `GRAPHMAILER_UPDATE_HEADER=1 cargo build -p graphmailer-ffi`.

#[test]
fn checked_in_header_matches_a_fresh_generation() {
    let fresh = std::fs::read_to_string(concat!(env!("OUT_DIR"), "/graphmailer.h"))
        .expect("build.rs generates graphmailer.h into OUT_DIR");
    let checked_in = std::fs::read_to_string(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/include/graphmailer.h"
    ))
    .expect("include/graphmailer.h is checked in");
    if fresh != checked_in {
        let line = fresh
            .lines()
            .zip(checked_in.lines())
            .position(|(a, b)| a != b)
            .map_or_else(
                || fresh.lines().count().min(checked_in.lines().count()) + 1,
                |i| i + 1,
            );
        panic!(
            "include/graphmailer.h is out of date (first difference at line {line}); regenerate it with \
             GRAPHMAILER_UPDATE_HEADER=1 cargo build -p graphmailer-ffi and check it in"
        );
    }
}
