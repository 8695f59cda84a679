//! The relay's integration tests in one binary: one link instead of one per
//! file.

#[path = "../common/mod.rs"]
mod common;

mod bad_input;
mod clients;
mod sessions;
