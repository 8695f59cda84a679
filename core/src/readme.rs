//! Compiles the Rust in the crate's page (`core/README.md`) and in the
//! project's README as doctests, so the front pages cannot drift from the API.
#![cfg(doctest)]
#![doc = include_str!("../README.md")]

#[doc = include_str!("../../README.md")]
mod project_readme {}
