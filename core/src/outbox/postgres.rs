//! The shared store: PostgreSQL, for several servers on one queue.

use super::store::{Command, LeaseRules, Leased, NewMail, Outcome, Pending};
use super::types::{ListFilter, QueueId, QueueStats, QueuedMail};
use crate::error::{Error, Result};

pub(crate) struct PostgresStore {}

fn not_yet() -> Error {
    Error::config("outbox", "the PostgreSQL store is not built yet")
}

impl PostgresStore {
    pub(crate) async fn open(_url: &str) -> Result<PostgresStore> {
        Err(not_yet())
    }
    pub(crate) async fn insert(&self, _mail: NewMail) -> Result<()> {
        Err(not_yet())
    }
    pub(crate) async fn get(&self, _id: &QueueId) -> Result<Option<QueuedMail>> {
        Err(not_yet())
    }
    pub(crate) async fn list(&self, _filter: &ListFilter) -> Result<Vec<QueuedMail>> {
        Err(not_yet())
    }
    pub(crate) async fn stats(&self, _now_ms: i64) -> Result<QueueStats> {
        Err(not_yet())
    }
    pub(crate) async fn lease(
        &self,
        _rules: &LeaseRules,
        _only: Option<&QueueId>,
    ) -> Result<Option<Leased>> {
        Err(not_yet())
    }
    pub(crate) async fn finish(&self, _id: &QueueId, _owner: &str, _o: Outcome) -> Result<bool> {
        Err(not_yet())
    }
    pub(crate) async fn command(&self, _id: &QueueId, _c: Command, _now: i64) -> Result<bool> {
        Err(not_yet())
    }
    pub(crate) async fn retry_all_deferred(&self, _now_ms: i64) -> Result<u64> {
        Err(not_yet())
    }
    pub(crate) async fn pending(&self, _now_ms: i64) -> Result<Pending> {
        Err(not_yet())
    }
}
