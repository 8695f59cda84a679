//! Keeps each mailbox under Graph's limit of requests in flight, so a burst
//! of sends queues here instead of drawing 429s from Microsoft; and gives
//! each mailbox its connection (see `connection_pool.rs`), so the two are
//! decided in one place.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};

use tokio::sync::{OwnedSemaphorePermit, Semaphore};

pub(crate) struct MailboxLimiter {
    limit: usize,
    connections: usize,
    state: Mutex<Mailboxes>,
}

#[derive(Default)]
struct Mailboxes {
    entries: HashMap<String, Entry>,
    /// Mailboxes take the connections in turn as they first send, which
    /// spreads a few mailboxes evenly where a hash of their names might put
    /// them all on one.
    next_connection: usize,
}

struct Entry {
    semaphore: Arc<Semaphore>,
    connection: usize,
}

/// A mailbox's slot among its requests in flight, released when dropped,
/// and the connection its requests go on.
pub(crate) struct MailboxSlot {
    _permit: OwnedSemaphorePermit,
    pub connection: usize,
}

impl MailboxLimiter {
    /// `limit` requests in flight per mailbox, mailboxes spread over
    /// `connections` connections.
    pub(crate) fn new(limit: usize, connections: usize) -> Self {
        MailboxLimiter {
            limit,
            connections: connections.max(1),
            state: Mutex::new(Mailboxes::default()),
        }
    }

    /// Waits for a free slot for `mailbox`.
    pub(crate) async fn acquire(&self, mailbox: &str) -> MailboxSlot {
        let (semaphore, connection) = {
            let mut state = self.state.lock().unwrap_or_else(|e| e.into_inner());
            let Mailboxes {
                entries,
                next_connection,
            } = &mut *state;
            let entry = entries.entry(mailbox.to_lowercase()).or_insert_with(|| {
                let connection = *next_connection;
                *next_connection = (connection + 1) % self.connections;
                Entry {
                    semaphore: Arc::new(Semaphore::new(self.limit)),
                    connection,
                }
            });
            (entry.semaphore.clone(), entry.connection)
        };
        let permit = semaphore
            .acquire_owned()
            .await
            .expect("the limiter never closes its semaphores");
        MailboxSlot {
            _permit: permit,
            connection,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn mailboxes_take_the_connections_in_turn_and_keep_theirs() {
        let limiter = MailboxLimiter::new(4, 2);
        let first = limiter.acquire("a@contoso.test").await.connection;
        let second = limiter.acquire("b@contoso.test").await.connection;
        let third = limiter.acquire("c@contoso.test").await.connection;
        assert_ne!(first, second);
        assert_eq!(first, third);
        assert_eq!(limiter.acquire("A@Contoso.test").await.connection, first);
        assert_eq!(limiter.acquire("b@contoso.test").await.connection, second);
    }
}
