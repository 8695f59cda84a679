//! Whether a cancelled send's mail may already be with Microsoft.
//!
//! A send is cancelled by dropping its future: a timeout around it, an
//! aborted Node call, a cancelled asyncio task, Ctrl-C. Once a request that
//! sends mail has gone out, Microsoft may act on it whatever becomes of its
//! answer, and `sendMail` has no idempotency key: sending the mail again
//! after such a cancel may send it twice. So a request that sends mail
//! carries an [`InFlight`] guard, which logs a warning when the send is
//! dropped while the request waits for its answer, and a caller that cancels
//! sends runs them under a [`Handover`] to learn afterwards which it was.

use std::future::Future;
use std::sync::{Arc, Mutex, PoisonError};

use crate::error::{Error, ErrorKind, Result};
use crate::hints;

/// A request that sends mail and may have reached Microsoft.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct HandedOver {
    /// The mailbox the mail was sent as.
    pub sender: String,
    /// The `client-request-id` the request carried, by which Microsoft's
    /// logs find it.
    pub client_request_id: String,
}

impl HandedOver {
    /// What a person should do before sending the mail again.
    pub fn hint(&self) -> String {
        hints::for_cancelled_in_flight(&self.sender)
    }
}

/// Records, for the sends run under it ([`Handover::watch`]), the request
/// that may have handed their mail to Microsoft.
///
/// ```no_run
/// # async fn demo(mailer: graphmailer::Mailer, message: graphmailer::Message) {
/// use std::time::Duration;
/// let handover = graphmailer::Handover::new();
/// let send = handover.watch(mailer.send(&message));
/// if tokio::time::timeout(Duration::from_secs(60), send).await.is_err() {
///     match handover.may_have_been_sent() {
///         Some(request) => eprintln!("may have been sent: {}", request.hint()),
///         None => eprintln!("nothing went out; sending again is safe"),
///     }
/// }
/// # }
/// ```
#[derive(Clone, Debug, Default)]
pub struct Handover(Arc<Mutex<Option<HandedOver>>>);

tokio::task_local! {
    // A task-local, not a parameter: the requests that send mail are made
    // deep below every send's entry point, always in the caller's own task.
    // Every enclosing watch records (a large send watches its draft's
    // `send` inside the caller's watch).
    static CURRENT: Vec<Handover>;
}

impl Handover {
    pub fn new() -> Self {
        Handover::default()
    }

    /// Runs `send`, recording here each of its requests that sends mail.
    /// One handover watches one send (of one mail): a refused request
    /// clears the record, so under one handover several sends at once could
    /// clear each other's; give each its own.
    pub async fn watch<F: Future>(&self, send: F) -> F::Output {
        let mut watching = CURRENT.try_with(Vec::clone).unwrap_or_default();
        watching.push(self.clone());
        CURRENT.scope(watching, send).await
    }

    /// Runs `send` as [`Handover::watch`] does unless `stop` comes first:
    /// then `send` is dropped, which cancels it, and the result is `stop`'s,
    /// after which [`Handover::may_have_been_sent`] tells what became of the
    /// mail (no request of `send` can go out any more).
    pub async fn watch_until<F: Future, S: Future>(
        &self,
        send: F,
        stop: S,
    ) -> std::result::Result<F::Output, S::Output> {
        tokio::select! {
            biased;
            stopped = stop => Err(stopped),
            done = self.watch(send) => Ok(done),
        }
    }

    /// The request that may have handed the mail to Microsoft: one that
    /// went out and that Graph did not answer with a refusal (a throttled
    /// or otherwise refused request sent nothing). Read after a cancel,
    /// `None` means no mail went out and sending again is safe.
    pub fn may_have_been_sent(&self) -> Option<HandedOver> {
        self.0
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .clone()
    }

    fn record(&self, request: Option<HandedOver>) {
        *self.0.lock().unwrap_or_else(PoisonError::into_inner) = request;
    }
}

/// Runs `send` unless `stop` comes first (a signal, a deadline; it gives
/// the words for what stopped it, such as "interrupted by SIGTERM"), and then
/// says in the error what became of the mail: [`ErrorKind::AmbiguousDelivery`]
/// with the request's id when its request had reached Microsoft, else
/// [`ErrorKind::Transient`]: nothing was sent, and sending again is safe.
pub async fn until_stopped<T>(
    send: impl Future<Output = Result<T>>,
    stop: impl Future<Output = String>,
) -> Result<T> {
    let handover = Handover::new();
    let stopped = match handover.watch_until(send, stop).await {
        Ok(result) => return result,
        Err(stopped) => stopped,
    };
    Err(match handover.may_have_been_sent() {
        Some(request) => Error::new(
            ErrorKind::AmbiguousDelivery,
            format!("{stopped} after the mail's request reached Microsoft"),
        )
        .with_request_id(Some(request.client_request_id.clone()))
        .with_hint(request.hint()),
        None => Error::new(
            ErrorKind::Transient,
            format!("{stopped} before the mail went out: nothing was sent"),
        )
        .with_hint("no request that sends the mail went out, so sending it again is safe"),
    })
}

/// Armed from just before a request that sends mail goes out until its
/// answer (or failure) is back; dropped armed, the send was cancelled
/// meanwhile.
pub(crate) struct InFlight<'a> {
    sender: &'a str,
    client_request_id: &'a str,
    watching: Vec<Handover>,
    armed: bool,
}

impl<'a> InFlight<'a> {
    /// Called in the send's own task, where its [`Handover`]s are.
    pub(crate) fn start(sender: &'a str, client_request_id: &'a str) -> Self {
        let watching = CURRENT.try_with(Vec::clone).unwrap_or_default();
        for handover in &watching {
            handover.record(Some(HandedOver {
                sender: sender.to_owned(),
                client_request_id: client_request_id.to_owned(),
            }));
        }
        InFlight {
            sender,
            client_request_id,
            watching,
            armed: true,
        }
    }

    /// The request ended; `may_have_sent` is false when Graph's answer says
    /// it took nothing.
    pub(crate) fn ended(mut self, may_have_sent: bool) {
        self.armed = false;
        if !may_have_sent {
            for handover in &self.watching {
                handover.record(None);
            }
        }
    }
}

impl Drop for InFlight<'_> {
    fn drop(&mut self) {
        if self.armed {
            tracing::warn!(
                sender = self.sender,
                client_request_id = self.client_request_id,
                "{}",
                hints::for_cancelled_in_flight(self.sender)
            );
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn a_request_is_recorded_only_under_a_watch_and_a_refusal_clears_it() {
        // Outside any watch: nothing to record into.
        InFlight::start("a@contoso.com", "id-0").ended(true);

        let handover = Handover::new();
        handover
            .watch(async { InFlight::start("a@contoso.com", "id-1").ended(true) })
            .await;
        let recorded = handover.may_have_been_sent().expect("recorded");
        assert_eq!(recorded.client_request_id, "id-1");
        assert_eq!(recorded.sender, "a@contoso.com");
        assert!(recorded.hint().contains("a@contoso.com's Sent Items"));

        // A later attempt that Graph refused (throttled) sent nothing.
        handover
            .watch(async { InFlight::start("a@contoso.com", "id-2").ended(false) })
            .await;
        assert_eq!(handover.may_have_been_sent(), None);
    }

    #[tokio::test]
    async fn every_enclosing_watch_records() {
        let (outer, inner) = (Handover::new(), Handover::new());
        outer
            .watch(async {
                inner
                    .watch(async { InFlight::start("a@contoso.com", "id-4").ended(true) })
                    .await;
                InFlight::start("b@contoso.com", "id-5").ended(false);
            })
            .await;
        assert_eq!(
            outer.may_have_been_sent(),
            None,
            "the later refusal clears it"
        );
        assert_eq!(
            inner.may_have_been_sent().map(|r| r.client_request_id),
            Some("id-4".to_owned()),
            "outside the inner watch, nothing reaches it"
        );
        let outer = Handover::new();
        outer
            .watch(inner.watch(async { InFlight::start("a@contoso.com", "id-6").ended(true) }))
            .await;
        assert_eq!(
            outer.may_have_been_sent().map(|r| r.client_request_id),
            Some("id-6".to_owned())
        );
    }

    #[tokio::test]
    async fn watch_until_gives_the_first_to_finish_and_drops_the_send_when_stopped() {
        let handover = Handover::new();
        let done = handover.watch_until(async { 1 }, std::future::pending::<()>());
        assert_eq!(done.await, Ok(1));
        let sent = Arc::new(());
        let held = sent.clone();
        let stopped = handover
            .watch_until(
                async move {
                    let _held = held;
                    std::future::pending::<()>().await
                },
                async { "stopped" },
            )
            .await;
        assert_eq!(stopped, Err("stopped"));
        assert_eq!(Arc::strong_count(&sent), 1, "the send was dropped");
    }

    #[tokio::test]
    async fn a_request_dropped_while_waiting_stays_recorded() {
        let handover = Handover::new();
        let send = handover.watch(async {
            let _in_flight = InFlight::start("a@contoso.com", "id-3");
            std::future::pending::<()>().await;
        });
        let timed_out = tokio::time::timeout(std::time::Duration::from_millis(10), send).await;
        assert!(timed_out.is_err());
        assert_eq!(
            handover.may_have_been_sent().map(|r| r.client_request_id),
            Some("id-3".to_owned())
        );
    }
}
