//! The integration tests in one binary: one link instead of one per file.
//! Tests that need a process of their own stay apart: `federated` and
//! `secrets` install the global log subscriber, and `outbox_restart` stops
//! the shared PostgreSQL server (cargo runs test binaries one after another).

#[path = "../common/mod.rs"]
mod common;

mod admin;
mod large;
mod managed_identity;
mod outbox;
mod private_config;
mod scenarios;
mod sending;
