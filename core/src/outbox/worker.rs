//! The delivery worker: leases due mail, sends it with the mailer, checks
//! Sent Items after an ambiguous answer or a lost lease, and records the
//! outcome. The rules of the states live here, once for both stores.

use std::future::Future;
use std::sync::atomic::Ordering;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use super::Outbox;
use super::store::{LeaseRules, Leased, Outcome, Pending, duration_ms, now_ms};
use super::types::{QueueId, QueueState, RunSummary};
use crate::error::{Error, ErrorKind, Result};
use crate::mailer::Mailer;
use crate::mime::MimeMessage;
use crate::sent_items;

/// Sends after an ambiguous answer that Sent Items showed had not gone out,
/// within one lease, before the mail waits for its next turn.
const MAX_SENDS_PER_LEASE: u32 = 3;

/// Consecutive database failures after which `run_until_empty` gives up
/// (a worker started by `run` keeps trying until it is stopped).
const MAX_STORE_FAILURES: u32 = 30;

impl Outbox {
    fn rules(&self) -> LeaseRules {
        let s = &self.inner.settings;
        // Each lease gets its own name, so that a lane can tell its lease
        // from another lane's in the same process.
        let n = self.inner.leases.fetch_add(1, Ordering::Relaxed);
        LeaseRules {
            owner: format!("{}/{n}", self.inner.owner),
            now_ms: now_ms(),
            lease_ms: duration_ms(s.lease),
            max_in_flight: s.max_in_flight_per_mailbox,
            budget: s.mailbox_budget,
            budget_window_ms: duration_ms(s.mailbox_budget_window),
        }
    }
}

pub(super) async fn deliver_one(
    outbox: &Outbox,
    mailer: &Mailer,
    id: &QueueId,
) -> Result<QueueState> {
    let store = &outbox.inner.store;
    if let Some(leased) = store.lease(&outbox.rules(), Some(id)).await? {
        let summary = Mutex::new(RunSummary::default());
        return deliver(outbox, mailer, leased, &summary, Patience::OneTry).await;
    }
    match store.get(id).await? {
        Some(mail) => Ok(mail.state),
        None => Err(Error::invalid("id", format!("no mail {id} in the queue"))),
    }
}

/// Delivers until `shutdown` resolves, or also until nothing is due
/// (`until_empty`); at the shutdown, the mail in hand is finished and
/// recorded, and no more is leased.
pub(super) async fn run(
    outbox: &Outbox,
    mailer: &Mailer,
    until_empty: bool,
    shutdown: impl Future<Output = ()> + Send,
) -> Result<RunSummary> {
    let (stop, stopped) = tokio::sync::watch::channel(false);
    let workers = work(
        outbox,
        mailer,
        Mode {
            until_empty,
            stopped,
        },
    );
    tokio::pin!(workers);
    tokio::select! {
        result = &mut workers => return result,
        () = shutdown => {}
    }
    tracing::info!("outbox worker stopping: finishing the mail in hand");
    let _ = stop.send(true);
    workers.await
}

#[derive(Clone)]
struct Mode {
    /// Stop once nothing is due (else wait for more).
    until_empty: bool,
    /// Set at the caller's shutdown: finish the mail in hand, then stop.
    stopped: tokio::sync::watch::Receiver<bool>,
}

async fn work(outbox: &Outbox, mailer: &Mailer, mode: Mode) -> Result<RunSummary> {
    let summary = Arc::new(Mutex::new(RunSummary::default()));
    let mut tasks = tokio::task::JoinSet::new();
    for _ in 0..outbox.inner.settings.concurrency.max(1) {
        let (outbox, mailer, mode, summary) = (
            outbox.clone(),
            mailer.clone(),
            mode.clone(),
            summary.clone(),
        );
        tasks.spawn(async move { lane(&outbox, &mailer, mode, &summary).await });
    }
    let mut first_error = None;
    while let Some(joined) = tasks.join_next().await {
        let result = joined.unwrap_or_else(|e| {
            Err(Error::new(
                ErrorKind::Service,
                format!("an outbox worker task stopped: {e}"),
            ))
        });
        if let Err(e) = result {
            first_error.get_or_insert(e);
        }
    }
    match first_error {
        Some(e) => Err(e),
        None => Ok(summary.lock().unwrap_or_else(|e| e.into_inner()).clone()),
    }
}

/// One mail at a time, until the mode says stop.
async fn lane(
    outbox: &Outbox,
    mailer: &Mailer,
    mut mode: Mode,
    summary: &Mutex<RunSummary>,
) -> Result<()> {
    let settings = &outbox.inner.settings;
    let store = &outbox.inner.store;
    let mut failures = 0u32;
    loop {
        if *mode.stopped.borrow() {
            return Ok(());
        }
        let wait = match store.lease(&outbox.rules(), None).await {
            Ok(Some(leased)) => {
                failures = 0;
                if let Err(e) = deliver(outbox, mailer, leased, summary, Patience::Worker).await {
                    tracing::warn!(error = %e, "outbox: could not record a delivery; its lease will run out and it is checked again");
                }
                continue;
            }
            Ok(None) => match store.pending(&outbox.rules()).await {
                Ok(Pending::Empty) if mode.until_empty => return Ok(()),
                Ok(Pending::Empty) => settings.poll_interval,
                // Due, but held back by the mail in flight per mailbox: look again
                // soon (mail waiting for a spent budget does not count as due).
                Ok(Pending::DueNow) => settings.poll_interval.min(Duration::from_millis(50)),
                Ok(Pending::LeasedUntil(until)) => {
                    Duration::from_millis((until - now_ms()).clamp(10, 60_000) as u64)
                        .min(settings.poll_interval.max(Duration::from_millis(10)))
                }
                Err(e) => store_failed(&mode, &mut failures, e)?,
            },
            Err(e) => store_failed(&mode, &mut failures, e)?,
        };
        let _ = tokio::time::timeout(wait, mode.stopped.changed()).await;
    }
}

fn store_failed(mode: &Mode, failures: &mut u32, e: Error) -> Result<Duration> {
    *failures += 1;
    if mode.until_empty && *failures >= MAX_STORE_FAILURES {
        return Err(e);
    }
    tracing::warn!(error = %e, "outbox: the queue's database failed; trying again");
    Ok(Duration::from_millis(200 * u64::from((*failures).min(25))))
}

/// What Sent Items says about an earlier try.
enum Check {
    Found,
    Absent,
    /// The app may not read Sent Items: nobody can tell.
    NoPermission(Error),
    /// Looking failed for the whole wait.
    Unknown(Error),
}

async fn reconcile(outbox: &Outbox, mailer: &Mailer, leased: &Leased) -> Check {
    let settings = &outbox.inner.settings;
    let started = Instant::now();
    loop {
        let error =
            match sent_items::find(mailer, &leased.sender, &leased.internet_message_id).await {
                Ok(Some(_)) => return Check::Found,
                Ok(None) => None,
                Err(e)
                    if matches!(
                        e.kind(),
                        ErrorKind::AccessDenied | ErrorKind::Authentication
                    ) =>
                {
                    return Check::NoPermission(e);
                }
                Err(e) => Some(e),
            };
        if started.elapsed() >= settings.reconcile_wait {
            return match error {
                None => Check::Absent,
                Some(e) => Check::Unknown(e),
            };
        }
        tokio::time::sleep(settings.reconcile_poll.min(settings.reconcile_wait)).await;
    }
}

/// Sends one leased mail (checking first when an earlier try may have gone
/// out) and records what happened.
/// How long a delivery may take over a mail.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Patience {
    /// A worker's: after an ambiguous answer it looks in Sent Items for
    /// `reconcile_wait`, and sends again if the mail is not there.
    Worker,
    /// `deliver_now`'s, whose caller (`sendmail`) is waiting: one send, and
    /// an ambiguous answer is left to a worker, to be looked up after a
    /// back-off, when a copy on its way has had time to arrive. A caller that
    /// gave up on a long wait and submitted again would queue the mail twice.
    OneTry,
}

async fn deliver(
    outbox: &Outbox,
    mailer: &Mailer,
    leased: Leased,
    summary: &Mutex<RunSummary>,
    patience: Patience,
) -> Result<QueueState> {
    let count = |f: fn(&mut RunSummary)| f(&mut summary.lock().unwrap_or_else(|e| e.into_inner()));
    let outcome = tokio::select! {
        outcome = decide(outbox, mailer, &leased, &count, patience) => outcome,
        never = keep_leased(outbox, &leased) => match never {},
    };
    let state = match &outcome {
        Outcome::Sent { .. } => QueueState::Sent,
        Outcome::Deferred { .. } => QueueState::Deferred,
        Outcome::Failed { .. } => QueueState::Failed,
        Outcome::Uncertain { .. } => QueueState::Uncertain,
    };
    match &outcome {
        Outcome::Sent { request_id, .. } => {
            count(|s| s.sent += 1);
            tracing::info!(id = %leased.id, sender = %leased.sender, request_id = request_id.as_deref().unwrap_or(""), "outbox: sent");
        }
        Outcome::Deferred { next_ms, error, .. } => {
            count(|s| s.deferred += 1);
            tracing::warn!(id = %leased.id, sender = %leased.sender, in_secs = (next_ms - now_ms()) / 1000, error = %error, "outbox: deferred");
        }
        Outcome::Failed { error, .. } => {
            count(|s| s.failed += 1);
            tracing::warn!(id = %leased.id, sender = %leased.sender, error = %error, "outbox: failed");
        }
        Outcome::Uncertain { error } => {
            count(|s| s.uncertain += 1);
            tracing::warn!(id = %leased.id, sender = %leased.sender, error = %error, "outbox: uncertain, held for an operator");
        }
    }
    let store = &outbox.inner.store;
    if store.finish(&leased.id, &leased.owner, outcome).await? {
        return Ok(state);
    }
    // Our lease ran out (the database could not renew it for a whole lease)
    // and another worker took the mail: it checks Sent Items before sending;
    // report what it holds.
    tracing::warn!(id = %leased.id, "outbox: the lease ran out before the outcome was recorded");
    Ok(store.get(&leased.id).await?.map_or(state, |m| m.state))
}

/// Renews the lease while its mail is being sent, every third of a lease:
/// a send may outlast one lease (a large message's uploads, throttling, the
/// Sent Items lookups after an ambiguous answer), and a lease that ran out
/// mid-send would let another worker take the mail and send it again.
/// Never returns; the send it runs beside ends it.
async fn keep_leased(outbox: &Outbox, leased: &Leased) -> std::convert::Infallible {
    let lease = outbox.inner.settings.lease;
    loop {
        tokio::time::sleep(lease / 3).await;
        match outbox
            .inner
            .store
            .renew(&leased.id, &leased.owner, now_ms() + duration_ms(lease))
            .await
        {
            Ok(true) => {}
            Ok(false) => {
                tracing::warn!(id = %leased.id, "outbox: the lease was lost while sending (the database could not be reached for a whole lease); the worker that took it checks Sent Items first");
                return std::future::pending().await;
            }
            Err(e) => {
                tracing::warn!(id = %leased.id, error = %e, "outbox: could not renew a lease; trying again")
            }
        }
    }
}

async fn decide(
    outbox: &Outbox,
    mailer: &Mailer,
    leased: &Leased,
    count: &impl Fn(fn(&mut RunSummary)),
    patience: Patience,
) -> Outcome {
    let mut check_first = leased.must_reconcile;
    // Sent Items was searched for `reconcile_wait` only: a try whose copy
    // shows up later may still have gone out, so a mail deferred after such
    // a try is looked up again before its next send (one GET), never resent
    // blind.
    let mut may_have_gone_out = leased.must_reconcile;
    let mut sends = 0;
    loop {
        if check_first && patience == Patience::OneTry {
            return deferred(
                outbox,
                leased,
                None,
                "a try may have gone out: left to a worker, which looks in Sent Items before any other send".to_owned(),
                true,
            );
        }
        if check_first {
            match reconcile(outbox, mailer, leased).await {
                Check::Found => {
                    count(|s| s.reconciled += 1);
                    return Outcome::Sent {
                        request_id: None,
                        note: Some(
                            "found in Sent Items after a try whose answer was lost".to_owned(),
                        ),
                    };
                }
                Check::Absent if sends >= MAX_SENDS_PER_LEASE => {
                    return deferred(
                        outbox,
                        leased,
                        None,
                        "sent tries kept ending without an answer".to_owned(),
                        true,
                    );
                }
                Check::Absent => {
                    if sends > 0 || leased.must_reconcile {
                        count(|s| s.resent += 1);
                    }
                }
                Check::NoPermission(e) => {
                    return Outcome::Uncertain {
                        error: format!(
                            "a try may have gone out and Sent Items cannot be read to check ({}); grant Mail.ReadBasic.All scoped to the sending mailboxes, or `queue release` it after checking by hand",
                            e.message()
                        ),
                    };
                }
                Check::Unknown(e) => {
                    return deferred(
                        outbox,
                        leased,
                        None,
                        format!("a try may have gone out; checking Sent Items failed: {e}"),
                        true,
                    );
                }
            }
        }
        let mime = match MimeMessage::from_bytes(leased.payload.clone()) {
            Ok(m) => m,
            Err(e) => {
                return Outcome::Failed {
                    error: format!("the stored message is unusable: {e}"),
                    must_reconcile: may_have_gone_out,
                };
            }
        };
        sends += 1;
        match mailer.send_mime(Some(&leased.sender), &mime).await {
            Ok(receipt) => {
                return Outcome::Sent {
                    request_id: receipt.request_id,
                    note: None,
                };
            }
            Err(e) if e.kind() == ErrorKind::AmbiguousDelivery => {
                tracing::info!(id = %leased.id, error = %e, "outbox: ambiguous answer; looking in Sent Items");
                check_first = true;
                may_have_gone_out = true;
            }
            Err(e) if e.kind().is_retryable() => {
                let retry_after = e.retry_after();
                return deferred(
                    outbox,
                    leased,
                    retry_after,
                    e.to_string(),
                    may_have_gone_out,
                );
            }
            // Refused for good; if an earlier try's answer was lost, that try
            // may still have gone out, and a `queue retry` must look first.
            Err(e) => {
                return Outcome::Failed {
                    error: e.to_string(),
                    must_reconcile: may_have_gone_out,
                };
            }
        }
    }
}

/// A passing failure: try again after the back-off, unless that is past the
/// mail's lifetime.
fn deferred(
    outbox: &Outbox,
    leased: &Leased,
    retry_after: Option<Duration>,
    error: String,
    must_reconcile: bool,
) -> Outcome {
    let settings = &outbox.inner.settings;
    let next_ms = now_ms() + duration_ms(settings.backoff(leased.attempts, retry_after));
    if next_ms > leased.created_ms + duration_ms(settings.lifetime) {
        let days = settings.lifetime.as_secs_f64() / 86_400.0;
        if must_reconcile {
            return Outcome::Uncertain {
                error: format!(
                    "gave up after {days:.1} days in the queue, and a try may have gone out: {error}"
                ),
            };
        }
        return Outcome::Failed {
            error: format!("gave up after {days:.1} days in the queue: {error}"),
            must_reconcile: false,
        };
    }
    Outcome::Deferred {
        next_ms,
        error,
        must_reconcile,
    }
}
