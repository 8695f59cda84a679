//! The delivery worker: leases due mail, sends it with the mailer, checks
//! Sent Items after an ambiguous answer or a lost lease, and records the
//! outcome. The rules of the states live here, once for both stores.

use std::future::Future;

use super::Outbox;
use super::types::{QueueId, QueueState, RunSummary};
use crate::error::{Error, ErrorKind, Result};
use crate::mailer::Mailer;

pub(super) async fn deliver_one(
    _outbox: &Outbox,
    _mailer: &Mailer,
    _id: &QueueId,
) -> Result<QueueState> {
    Err(Error::new(ErrorKind::Service, "not built yet"))
}

pub(super) async fn run(
    _outbox: &Outbox,
    _mailer: &Mailer,
    _shutdown: impl Future<Output = ()> + Send,
) -> Result<RunSummary> {
    Err(Error::new(ErrorKind::Service, "not built yet"))
}

pub(super) async fn run_until_empty(_outbox: &Outbox, _mailer: &Mailer) -> Result<RunSummary> {
    Err(Error::new(ErrorKind::Service, "not built yet"))
}
