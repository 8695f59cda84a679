//! Keeps each mailbox under Graph's limit of requests in flight, so a burst
//! of sends queues here instead of drawing 429s from Microsoft.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};

use tokio::sync::{OwnedSemaphorePermit, Semaphore};

pub(crate) struct MailboxLimiter {
    limit: usize,
    mailboxes: Mutex<HashMap<String, Arc<Semaphore>>>,
}

impl MailboxLimiter {
    pub(crate) fn new(limit: usize) -> Self {
        MailboxLimiter {
            limit,
            mailboxes: Mutex::new(HashMap::new()),
        }
    }

    /// Waits for a free slot for `mailbox`; the slot is released when the
    /// permit drops.
    pub(crate) async fn acquire(&self, mailbox: &str) -> OwnedSemaphorePermit {
        let semaphore = {
            let mut map = self.mailboxes.lock().unwrap_or_else(|e| e.into_inner());
            map.entry(mailbox.to_lowercase())
                .or_insert_with(|| Arc::new(Semaphore::new(self.limit)))
                .clone()
        };
        semaphore
            .acquire_owned()
            .await
            .expect("the limiter never closes its semaphores")
    }
}
