//! The error type of the emulator's own API (start-up, configuration).
//!
//! Requests never produce this type: every malformed request gets the
//! service's own error response instead (see `identity::aad_error` and
//! `graph::graph_error`).

use std::net::SocketAddr;
use std::path::PathBuf;

/// Why the emulator could not be configured or started.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// The directory (tenants, apps, mailboxes, policies) is inconsistent or
    /// its TOML does not parse.
    #[error("directory: {0}")]
    Directory(String),
    /// A file could not be read or written.
    #[error("{path}: {source}")]
    File {
        /// The file concerned.
        path: PathBuf,
        /// What the operating system said.
        source: std::io::Error,
    },
    /// The options, settings or fault plan contradict themselves.
    #[error("invalid option: {0}")]
    Options(String),
    /// The listening socket could not be bound.
    #[error("cannot listen on {addr}: {source}")]
    Bind {
        /// The address asked for.
        addr: SocketAddr,
        /// What the operating system said.
        source: std::io::Error,
    },
    /// Generating the CA, the server certificate or the token signing key failed.
    #[error("key or certificate generation failed: {0}")]
    Crypto(String),
    /// The store (`--store`) could not be opened: locked by another
    /// emulator, corrupt, or not an emulator's store.
    #[error("--store {}: {message}", path.display())]
    Store {
        /// The store's file.
        path: PathBuf,
        /// Why it was refused.
        message: String,
    },
    /// Any other I/O failure (signals, stdout).
    #[error(transparent)]
    Io(#[from] std::io::Error),
}
