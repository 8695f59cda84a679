//! Reading files (attachments, a raw message) without stalling the async
//! threads that carry every other send: the read runs on tokio's blocking
//! pool, and its result comes back as graphmailer's own `Result`.

use crate::error::{Error, ErrorKind, Result};

/// Runs `read` on the blocking pool and waits for it.
pub async fn read<T, F>(read: F) -> Result<T>
where
    F: FnOnce() -> Result<T> + Send + 'static,
    T: Send + 'static,
{
    tokio::task::spawn_blocking(read).await.map_err(|e| {
        Error::new(
            ErrorKind::Service,
            format!("reading a file stopped unexpectedly: {e}"),
        )
    })?
}
