//! The emulator's integration tests in one binary: one link instead of one
//! per file, and one process that shares the emulator's generated keys.

#[path = "../common/mod.rs"]
mod common;

mod federated;
mod graph;
mod identity;
mod inbox;
mod large_messages;
mod lifecycle;
mod managed_identity;
mod openapi;
mod read_api;
mod sent_items;
mod service_answers;
mod store;
mod test_api;
