//! Compiles the Rust in `core/README.md` (the crate's page) as doctests, so
//! the front page cannot drift from the API.
#![cfg(doctest)]
#![doc = include_str!("../README.md")]
