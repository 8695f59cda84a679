//! What the queue asks of its database, once for both stores. The rules
//! (which mail is due, what each outcome means) live in `worker.rs`; a store
//! only records them, atomically.

use std::time::{Duration, SystemTime, UNIX_EPOCH};

use bytes::Bytes;

use super::postgres::PostgresStore;
use super::sqlite::SqliteStore;
use super::types::{ListFilter, QueueId, QueueStats, QueuedMail};
use crate::error::Result;

/// A mail to store.
pub(crate) struct NewMail {
    pub id: QueueId,
    pub sender: String,
    pub recipients: usize,
    pub internet_message_id: String,
    /// Store nothing if the sender already has a mail with this id in the
    /// queue (in any state): Sent Items is searched by it.
    pub unless_message_id_taken: bool,
    pub payload: Bytes,
    pub created_ms: i64,
}

/// A mail a worker leased.
pub(crate) struct Leased {
    pub id: QueueId,
    /// This lease's own name in `lease_owner`: only its holder may renew it
    /// or record an outcome, even among lanes of one process.
    pub owner: String,
    pub sender: String,
    pub internet_message_id: String,
    pub payload: Bytes,
    pub attempts: u32,
    pub created_ms: i64,
    /// An earlier try may have reached Graph (a lost lease, an ambiguous
    /// answer not yet checked): look in Sent Items before sending.
    pub must_reconcile: bool,
}

/// The limits a lease must respect, across every worker on the queue.
pub(crate) struct LeaseRules {
    /// The name a lease taken under these rules is held by (one per lease).
    pub owner: String,
    pub now_ms: i64,
    pub lease_ms: i64,
    pub max_in_flight: u32,
    pub budget: u32,
    pub budget_window_ms: i64,
}

/// How a leased mail's try ended.
pub(crate) enum Outcome {
    Sent {
        request_id: Option<String>,
        note: Option<String>,
    },
    Deferred {
        next_ms: i64,
        error: String,
        /// The try may have gone out: check Sent Items before the next send.
        must_reconcile: bool,
    },
    Failed {
        error: String,
        /// A try may have gone out: a `queue retry` checks Sent Items first.
        must_reconcile: bool,
    },
    Uncertain {
        error: String,
    },
}

/// The operator's commands on one mail (`graphmailer queue retry`,
/// `release`, `delete`; [`Outbox::apply`](super::Outbox::apply)).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Command {
    /// Deferred or failed mail: due now.
    Retry,
    /// Uncertain mail: send again, on the operator's word.
    Release,
    /// Any mail no worker holds: removed.
    Delete,
}

pub(crate) enum Store {
    Sqlite(SqliteStore),
    Postgres(Box<PostgresStore>),
}

macro_rules! each {
    ($self:ident, $store:ident => $call:expr) => {
        match $self {
            Store::Sqlite($store) => $call,
            Store::Postgres($store) => $call,
        }
    };
}

impl Store {
    /// Commits the mail; false when its `Message-ID` was taken and nothing
    /// was stored (only with `unless_message_id_taken`).
    pub(crate) async fn insert(&self, mail: NewMail) -> Result<bool> {
        each!(self, s => s.insert(mail).await)
    }
    pub(crate) async fn get(&self, id: &QueueId) -> Result<Option<QueuedMail>> {
        each!(self, s => s.get(id).await)
    }
    pub(crate) async fn list(&self, filter: &ListFilter) -> Result<Vec<QueuedMail>> {
        each!(self, s => s.list(filter).await)
    }
    pub(crate) async fn stats(&self, now_ms: i64) -> Result<QueueStats> {
        each!(self, s => s.stats(now_ms).await)
    }
    /// Leases the most overdue mail (or exactly `only`), within the rules.
    pub(crate) async fn lease(
        &self,
        rules: &LeaseRules,
        only: Option<&QueueId>,
    ) -> Result<Option<Leased>> {
        each!(self, s => s.lease(rules, only).await)
    }
    /// Records the outcome, if `owner` still holds the lease (false if not).
    pub(crate) async fn finish(&self, id: &QueueId, owner: &str, outcome: Outcome) -> Result<bool> {
        each!(self, s => s.finish(id, owner, outcome).await)
    }
    /// Extends a lease `owner` still holds to `until_ms` (false if it
    /// does not hold it any more).
    pub(crate) async fn renew(&self, id: &QueueId, owner: &str, until_ms: i64) -> Result<bool> {
        each!(self, s => s.renew(id, owner, until_ms).await)
    }
    /// Applies an operator's command; false when the mail is not in a state
    /// the command applies to (or does not exist).
    pub(crate) async fn command(
        &self,
        id: &QueueId,
        command: Command,
        now_ms: i64,
    ) -> Result<bool> {
        each!(self, s => s.command(id, command, now_ms).await)
    }
    pub(crate) async fn retry_all_deferred(&self, now_ms: i64) -> Result<u64> {
        each!(self, s => s.retry_all_deferred(now_ms).await)
    }
    /// When the next mail falls due or lease runs out, if any mail is
    /// still to be sent (None: nothing left but future deferrals or final states).
    /// Mail held back only by its mailbox's spent budget is not due: it
    /// waits for the window to end, which a run "until empty" does not.
    pub(crate) async fn pending(&self, rules: &LeaseRules) -> Result<Pending> {
        each!(self, s => s.pending(rules).await)
    }
}

/// Whether a worker running "until empty" has more to wait for.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Pending {
    /// Nothing due now or held by a lease.
    Empty,
    /// Mail due now (another worker may take it first).
    DueNow,
    /// Mail held by another worker's lease until this time.
    LeasedUntil(i64),
}

pub(crate) fn now_ms() -> i64 {
    to_ms(SystemTime::now())
}

pub(crate) fn to_ms(t: SystemTime) -> i64 {
    t.duration_since(UNIX_EPOCH)
        .map(|d| d.as_millis() as i64)
        .unwrap_or(0)
}

pub(crate) fn from_ms(ms: i64) -> SystemTime {
    UNIX_EPOCH + Duration::from_millis(ms.max(0) as u64)
}

pub(crate) fn duration_ms(d: Duration) -> i64 {
    d.as_millis().min(i64::MAX as u128) as i64
}
