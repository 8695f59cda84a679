//! `Outbox`, `QueuedMail` and `RunSummary`: the core's durable queue, with
//! calls that block (GIL released, Ctrl-C heard) or return an asyncio
//! awaitable, as `Mailer` does. Every rule (validation, ids, states,
//! delivery) is the core's `graphmailer::Outbox`.

use std::collections::BTreeMap;
use std::sync::mpsc;
use std::time::{Duration, SystemTime};

use pyo3::prelude::*;

use graphmailer::blocking::runtime;
use graphmailer::outbox::{Command, ListFilter, QueueStats, QueuedMail, RunSummary};
use graphmailer::{Error, ErrorKind, Outbox, QueueId, QueueState};

use crate::bridge::{awaitable, receive_interruptibly, wait_interruptibly};
use crate::convert;
use crate::error::{OrRaise, wrong_type};
use crate::logging;
use crate::mailer::PyMailer;
use crate::message::PyMessage;
use crate::mime;

/// A durable queue of mail: ``enqueue`` returns only once the message is
/// committed to the database, and ``run``/``run_until_empty`` deliver it
/// through a ``Mailer`` with retries, back-off and no mail sent twice::
///
///     outbox = Outbox("sqlite:/var/spool/graphmailer/outbox.db")
///     queue_id = outbox.enqueue(Message(sender="erp@contoso.com",
///                                       to="accounts@example.com",
///                                       subject="Invoice 4711", text="..."))
///     outbox.run_until_empty(mailer)
///     print(outbox.status(queue_id).state)   # "sent"
///
/// ``url`` is ``sqlite:PATH`` (a file, created if missing) or
/// ``postgres://...`` (a queue shared by several servers); a bad one raises
/// ``ConfigError`` naming ``outbox``. Share one ``Outbox`` between threads
/// and coroutines.
#[pyclass(name = "Outbox", module = "graphmailer", frozen)]
pub(crate) struct PyOutbox {
    inner: Outbox,
}

#[pymethods]
impl PyOutbox {
    /// Opens (creating if needed) the queue at ``url``; the GIL is released
    /// while the database is opened.
    #[new]
    fn new(py: Python<'_>, url: &Bound<'_, PyAny>) -> PyResult<Self> {
        PyOutbox::open(py, url)
    }

    /// The same as ``Outbox(url)``.
    #[staticmethod]
    fn open(py: Python<'_>, url: &Bound<'_, PyAny>) -> PyResult<Self> {
        let url = convert::string("url", url)?;
        logging::refresh(py);
        let outcome = wait_interruptibly(py, async move { Outbox::open(&url).await })?;
        outcome.map(|inner| PyOutbox { inner }).or_raise(py)
    }

    /// Like ``open``, for asyncio: an awaitable that resolves to an ``Outbox``.
    #[staticmethod]
    fn open_async<'py>(py: Python<'py>, url: &Bound<'py, PyAny>) -> PyResult<Bound<'py, PyAny>> {
        let url = convert::string("url", url)?;
        logging::refresh(py);
        awaitable(py, "open_async", async move {
            Outbox::open(&url).await.map(|inner| PyOutbox { inner })
        })
    }

    /// Checks ``message`` (a ``Message``; nothing remote is checked), gives it
    /// a stable ``Message-ID`` and commits it; returns its queue id. An
    /// invalid message raises ``InvalidMessageError`` naming the field and
    /// is not stored. Attachment files are read now.
    ///
    /// With ``mailer`` (the ``Mailer`` that will send it), what that mailer
    /// could never send raises now and is not stored, instead of failing in
    /// the queue: a sender outside its ``allowed_senders``
    /// (``SenderNotAllowedError``), or a message over one request's size
    /// with ``large_messages`` off (``InvalidMessageError``, ``code``
    /// ``"RequestEntityTooLarge"``). Pass it when the caller answers for the
    /// mail once it is queued.
    #[pyo3(signature = (message, *, mailer=None))]
    fn enqueue(
        &self,
        py: Python<'_>,
        message: &Bound<'_, PyAny>,
        mailer: Option<&Bound<'_, PyAny>>,
    ) -> PyResult<String> {
        let message = core_message(message)?;
        let mailer = mailer.map(core_mailer).transpose()?;
        logging::refresh(py);
        let outbox = self.inner.clone();
        let outcome = wait_interruptibly(py, enqueue(outbox, mailer, message))?;
        outcome.or_raise(py)
    }

    /// Like ``enqueue``, for asyncio: an awaitable that resolves to the queue id.
    #[pyo3(signature = (message, *, mailer=None))]
    fn enqueue_async<'py>(
        &self,
        py: Python<'py>,
        message: &Bound<'py, PyAny>,
        mailer: Option<&Bound<'py, PyAny>>,
    ) -> PyResult<Bound<'py, PyAny>> {
        let message = core_message(message)?;
        let mailer = mailer.map(core_mailer).transpose()?;
        logging::refresh(py);
        let outbox = self.inner.clone();
        awaitable(py, "enqueue_async", enqueue(outbox, mailer, message))
    }

    /// Queues a ready RFC 5322 message (``bytes``, an
    /// ``email.message.Message`` or a binary file object, as ``send_mime``
    /// takes); returns its queue id. The mailbox to send as is ``sender``,
    /// else the From address; the recipients are To, Cc and Bcc. A
    /// malformed message raises ``InvalidMessageError`` naming the field.
    /// ``mailer`` refuses what it could never send, as for ``enqueue``.
    #[pyo3(signature = (data, /, *, sender=None, mailer=None))]
    fn enqueue_mime(
        &self,
        py: Python<'_>,
        data: &Bound<'_, PyAny>,
        sender: Option<&Bound<'_, PyAny>>,
        mailer: Option<&Bound<'_, PyAny>>,
    ) -> PyResult<String> {
        let sender = convert::opt_string("sender", sender)?;
        let mailer = mailer.map(core_mailer).transpose()?;
        let message = mime::message(py, "data", data, None)?.or_raise(py)?;
        logging::refresh(py);
        let outbox = self.inner.clone();
        let outcome = wait_interruptibly(py, enqueue_mime(outbox, mailer, sender, Ok(message)))?;
        outcome.or_raise(py)
    }

    /// Like ``enqueue_mime``, for asyncio; a file object is read before it
    /// returns, and a malformed message raises when awaited.
    #[pyo3(signature = (data, /, *, sender=None, mailer=None))]
    fn enqueue_mime_async<'py>(
        &self,
        py: Python<'py>,
        data: &Bound<'py, PyAny>,
        sender: Option<&Bound<'py, PyAny>>,
        mailer: Option<&Bound<'py, PyAny>>,
    ) -> PyResult<Bound<'py, PyAny>> {
        let sender = convert::opt_string("sender", sender)?;
        let mailer = mailer.map(core_mailer).transpose()?;
        let message = mime::message(py, "data", data, None)?;
        logging::refresh(py);
        let outbox = self.inner.clone();
        awaitable(
            py,
            "enqueue_mime_async",
            enqueue_mime(outbox, mailer, sender, message),
        )
    }

    /// The record of the mail with queue id ``id`` (a ``QueuedMail``), or
    /// ``None`` when the queue holds no such mail.
    fn status(&self, py: Python<'_>, id: &Bound<'_, PyAny>) -> PyResult<Option<PyQueuedMail>> {
        let id = queue_id(py, id)?;
        let outbox = self.inner.clone();
        let outcome = wait_interruptibly(py, async move { outbox.get(&id).await })?;
        outcome.map(|m| m.map(PyQueuedMail::from)).or_raise(py)
    }

    /// Like ``status``, for asyncio.
    fn status_async<'py>(
        &self,
        py: Python<'py>,
        id: &Bound<'py, PyAny>,
    ) -> PyResult<Bound<'py, PyAny>> {
        let id = queue_id(py, id)?;
        let outbox = self.inner.clone();
        awaitable(py, "status_async", async move {
            outbox.get(&id).await.map(|m| m.map(PyQueuedMail::from))
        })
    }

    /// The queue's mail, oldest first, as ``QueuedMail`` records: only those
    /// in ``state`` (``"queued"``, ``"sending"``, ``"sent"``, ``"deferred"``,
    /// ``"failed"`` or ``"uncertain"``) when given, at most ``limit`` when
    /// given. What ``graphmailer queue list`` shows.
    #[pyo3(signature = (*, state=None, limit=None))]
    fn list(
        &self,
        py: Python<'_>,
        state: Option<&Bound<'_, PyAny>>,
        limit: Option<usize>,
    ) -> PyResult<Vec<PyQueuedMail>> {
        let filter = list_filter(py, state, limit)?;
        let outbox = self.inner.clone();
        let outcome = wait_interruptibly(py, async move { outbox.list(&filter).await })?;
        outcome
            .map(|mails| mails.into_iter().map(PyQueuedMail::from).collect())
            .or_raise(py)
    }

    /// Like ``list``, for asyncio.
    #[pyo3(signature = (*, state=None, limit=None))]
    fn list_async<'py>(
        &self,
        py: Python<'py>,
        state: Option<&Bound<'py, PyAny>>,
        limit: Option<usize>,
    ) -> PyResult<Bound<'py, PyAny>> {
        let filter = list_filter(py, state, limit)?;
        let outbox = self.inner.clone();
        awaitable(py, "list_async", async move {
            let mails = outbox.list(&filter).await?;
            Ok(mails
                .into_iter()
                .map(PyQueuedMail::from)
                .collect::<Vec<_>>())
        })
    }

    /// How many mails are in each state, and how long the oldest one not
    /// yet sent or failed has waited: a ``QueueStats`` (``graphmailer queue
    /// stats``), for a health check or a dashboard.
    fn stats(&self, py: Python<'_>) -> PyResult<PyQueueStats> {
        let outbox = self.inner.clone();
        let outcome = wait_interruptibly(py, async move { outbox.stats().await })?;
        outcome.map(PyQueueStats::from).or_raise(py)
    }

    /// Like ``stats``, for asyncio.
    fn stats_async<'py>(&self, py: Python<'py>) -> PyResult<Bound<'py, PyAny>> {
        let outbox = self.inner.clone();
        awaitable(py, "stats_async", async move {
            outbox.stats().await.map(PyQueueStats::from)
        })
    }

    /// Makes every ``"deferred"`` mail due now, for the next run, and
    /// returns how many (``graphmailer queue retry --all-deferred``): after
    /// an outage, rather than waiting out each mail's back-off.
    fn retry_all_deferred(&self, py: Python<'_>) -> PyResult<u64> {
        let outbox = self.inner.clone();
        wait_interruptibly(py, async move { outbox.retry_all_deferred().await })?.or_raise(py)
    }

    /// Like ``retry_all_deferred``, for asyncio.
    fn retry_all_deferred_async<'py>(&self, py: Python<'py>) -> PyResult<Bound<'py, PyAny>> {
        let outbox = self.inner.clone();
        awaitable(py, "retry_all_deferred_async", async move {
            outbox.retry_all_deferred().await
        })
    }

    /// Makes a ``"deferred"`` or ``"failed"`` mail due now, for the next run
    /// (``graphmailer queue retry``). A mail in another state, or an id the
    /// queue does not hold, raises ``GraphMailerError`` with ``field`` ``"id"``.
    fn retry(&self, py: Python<'_>, id: &Bound<'_, PyAny>) -> PyResult<()> {
        self.command(py, id, Command::Retry)
    }

    /// Like ``retry``, for asyncio.
    fn retry_async<'py>(
        &self,
        py: Python<'py>,
        id: &Bound<'py, PyAny>,
    ) -> PyResult<Bound<'py, PyAny>> {
        self.command_async(py, "retry_async", id, Command::Retry)
    }

    /// Sends an ``"uncertain"`` mail again, on your word that it did not go
    /// out (look in the sender's Sent Items first): ``graphmailer queue
    /// release``. Raises as ``retry`` does.
    fn release(&self, py: Python<'_>, id: &Bound<'_, PyAny>) -> PyResult<()> {
        self.command(py, id, Command::Release)
    }

    /// Like ``release``, for asyncio.
    fn release_async<'py>(
        &self,
        py: Python<'py>,
        id: &Bound<'py, PyAny>,
    ) -> PyResult<Bound<'py, PyAny>> {
        self.command_async(py, "release_async", id, Command::Release)
    }

    /// Removes a mail no worker is sending (``graphmailer queue delete``).
    /// Raises as ``retry`` does.
    fn delete(&self, py: Python<'_>, id: &Bound<'_, PyAny>) -> PyResult<()> {
        self.command(py, id, Command::Delete)
    }

    /// Like ``delete``, for asyncio.
    fn delete_async<'py>(
        &self,
        py: Python<'py>,
        id: &Bound<'py, PyAny>,
    ) -> PyResult<Bound<'py, PyAny>> {
        self.command_async(py, "delete_async", id, Command::Delete)
    }

    /// Delivers with ``mailer`` until nothing is due (mail deferred to later
    /// stays queued) and returns a ``RunSummary``. Ctrl-C raises
    /// ``KeyboardInterrupt`` once the mail being sent is recorded.
    fn run_until_empty(&self, py: Python<'_>, mailer: &Bound<'_, PyAny>) -> PyResult<PyRunSummary> {
        let mailer = core_mailer(mailer)?;
        logging::refresh(py);
        let outbox = self.inner.clone();
        let outcome = wait_interruptibly(py, async move { outbox.run_until_empty(&mailer).await })?;
        outcome.map(PyRunSummary::from).or_raise(py)
    }

    /// Like ``run_until_empty``, for asyncio: an awaitable that resolves to
    /// a ``RunSummary``.
    fn run_until_empty_async<'py>(
        &self,
        py: Python<'py>,
        mailer: &Bound<'py, PyAny>,
    ) -> PyResult<Bound<'py, PyAny>> {
        let mailer = core_mailer(mailer)?;
        logging::refresh(py);
        let outbox = self.inner.clone();
        awaitable(py, "run_until_empty_async", async move {
            outbox
                .run_until_empty(&mailer)
                .await
                .map(PyRunSummary::from)
        })
    }

    /// Delivers with ``mailer`` as mail becomes due, until interrupted:
    /// Ctrl-C (or another signal handler that raises) stops taking new mail,
    /// waits until the mail being sent is recorded, then raises. A second
    /// Ctrl-C stops waiting (a lease left behind is checked by the next
    /// worker). Raises only for a failure of the queue itself.
    fn run(&self, py: Python<'_>, mailer: &Bound<'_, PyAny>) -> PyResult<()> {
        let mailer = core_mailer(mailer)?;
        logging::refresh(py);
        let (stop, run, stopped) = start_run(self.inner.clone(), mailer);
        let waited = wait_interruptibly(py, async move {
            // Aborting this future (Ctrl-C) drops `stop`, which ends the run.
            let _stop = stop;
            joined(run.await)
        });
        match waited {
            Ok(outcome) => outcome.or_raise(py),
            Err(interrupted) => {
                // Until the run has recorded its mail in flight; another
                // signal ends the wait early.
                receive_interruptibly(py, stopped)?;
                Err(interrupted)
            }
        }
    }

    /// Like ``run``, for asyncio: an awaitable that delivers until it is
    /// cancelled. Cancelling it stops taking new mail; the mail being sent
    /// is still recorded, in the background.
    fn run_async<'py>(
        &self,
        py: Python<'py>,
        mailer: &Bound<'py, PyAny>,
    ) -> PyResult<Bound<'py, PyAny>> {
        let mailer = core_mailer(mailer)?;
        logging::refresh(py);
        let (stop, run, _) = start_run(self.inner.clone(), mailer);
        awaitable(py, "run_async", async move {
            let _stop = stop;
            joined(run.await)
        })
    }

    fn __repr__(&self) -> String {
        format!("{:?}", self.inner)
    }
}

impl PyOutbox {
    fn command(&self, py: Python<'_>, id: &Bound<'_, PyAny>, command: Command) -> PyResult<()> {
        let id = queue_id(py, id)?;
        let outbox = self.inner.clone();
        wait_interruptibly(py, async move { outbox.apply(&id, command).await })?.or_raise(py)
    }

    fn command_async<'py>(
        &self,
        py: Python<'py>,
        method: &str,
        id: &Bound<'py, PyAny>,
        command: Command,
    ) -> PyResult<Bound<'py, PyAny>> {
        let id = queue_id(py, id)?;
        let outbox = self.inner.clone();
        awaitable(py, method, async move { outbox.apply(&id, command).await })
    }
}

fn list_filter(
    py: Python<'_>,
    state: Option<&Bound<'_, PyAny>>,
    limit: Option<usize>,
) -> PyResult<ListFilter> {
    let state = convert::opt_string("state", state)?
        .map(|s| s.parse::<QueueState>())
        .transpose()
        .or_raise(py)?;
    Ok(ListFilter { state, limit })
}

/// Queues `message`, refusing first what `mailer` could never send when
/// one is given.
async fn enqueue(
    outbox: Outbox,
    mailer: Option<graphmailer::Mailer>,
    message: graphmailer::Message,
) -> graphmailer::Result<String> {
    let id = match &mailer {
        Some(mailer) => outbox.enqueue_for(mailer, &message).await?,
        None => outbox.enqueue(&message).await?,
    };
    Ok(id.to_string())
}

/// The same for a ready message (or the error reading it gave).
async fn enqueue_mime(
    outbox: Outbox,
    mailer: Option<graphmailer::Mailer>,
    sender: Option<String>,
    message: graphmailer::Result<graphmailer::MimeMessage>,
) -> graphmailer::Result<String> {
    let (sender, message) = (sender.as_deref(), message?);
    let id = match &mailer {
        Some(mailer) => outbox.enqueue_mime_for(mailer, sender, &message).await?,
        None => outbox.enqueue_mime(sender, &message).await?,
    };
    Ok(id.to_string())
}

/// Starts `Outbox::run` on the core's runtime. Dropping the sender stops the
/// run the way the core stops it (finishing and recording what is in
/// flight); the receiver hears when it has.
fn start_run(
    outbox: Outbox,
    mailer: graphmailer::Mailer,
) -> (
    tokio::sync::oneshot::Sender<()>,
    tokio::task::JoinHandle<graphmailer::Result<()>>,
    mpsc::Receiver<()>,
) {
    let (stop, stopped_by_caller) = tokio::sync::oneshot::channel::<()>();
    let (done, stopped) = mpsc::sync_channel(1);
    let run = runtime().spawn(async move {
        let shutdown = async move {
            let _ = stopped_by_caller.await;
        };
        let outcome = outbox.run(&mailer, shutdown).await;
        let _ = done.send(());
        outcome
    });
    (stop, run, stopped)
}

/// A run's task outcome as a core result.
fn joined(
    outcome: Result<graphmailer::Result<()>, tokio::task::JoinError>,
) -> graphmailer::Result<()> {
    outcome.unwrap_or_else(|e| {
        Err(Error::new(
            ErrorKind::Service,
            format!("the outbox's worker stopped: {e}"),
        ))
    })
}

fn core_message(message: &Bound<'_, PyAny>) -> PyResult<graphmailer::Message> {
    let message = message
        .cast::<PyMessage>()
        .map_err(|_| wrong_type("message", "a Message", message))?;
    Ok(message.borrow().inner.clone())
}

fn core_mailer(mailer: &Bound<'_, PyAny>) -> PyResult<graphmailer::Mailer> {
    let mailer = mailer
        .cast::<PyMailer>()
        .map_err(|_| wrong_type("mailer", "a Mailer", mailer))?;
    Ok(mailer.get().inner.as_async().clone())
}

fn queue_id(py: Python<'_>, id: &Bound<'_, PyAny>) -> PyResult<QueueId> {
    convert::string("id", id)?.parse::<QueueId>().or_raise(py)
}

/// One mail in the outbox, as ``Outbox.status`` reports it.
#[pyclass(name = "QueuedMail", module = "graphmailer", frozen, eq, get_all)]
#[derive(PartialEq)]
pub(crate) struct PyQueuedMail {
    /// The queue id.
    id: String,
    /// ``"queued"``, ``"sending"``, ``"sent"``, ``"deferred"``, ``"failed"``
    /// or ``"uncertain"`` (a try may have gone out; held for an operator).
    state: &'static str,
    /// The mailbox it is sent as.
    sender: String,
    /// How many To, Cc and Bcc addresses it has.
    recipients: usize,
    /// How many times a worker took it to send.
    attempts: u32,
    /// When it was queued (an aware ``datetime`` in UTC).
    created: SystemTime,
    /// When a worker may next take it (queued and deferred mail), or ``None``.
    next_attempt: Option<SystemTime>,
    /// Why the last try did not send it, or ``None``.
    last_error: Option<String>,
    /// Graph's ``request-id`` of the accepted send, or ``None``.
    request_id: Option<String>,
    /// When it was sent, or ``None``.
    sent_at: Option<SystemTime>,
    /// The ``Message-ID`` set at enqueue (the sent mail's ``internetMessageId``).
    internet_message_id: String,
    /// The size of the stored message in bytes.
    size: u64,
}

impl From<QueuedMail> for PyQueuedMail {
    fn from(m: QueuedMail) -> Self {
        PyQueuedMail {
            id: m.id.to_string(),
            state: m.state.name(),
            sender: m.sender,
            recipients: m.recipients,
            attempts: m.attempts,
            created: m.created,
            next_attempt: m.next_attempt,
            last_error: m.last_error,
            request_id: m.request_id,
            sent_at: m.sent_at,
            internet_message_id: m.internet_message_id,
            size: m.size,
        }
    }
}

#[pymethods]
impl PyQueuedMail {
    fn __repr__(&self, py: Python<'_>) -> String {
        let q = |s: &str| convert::repr(py, s);
        let opt = |s: &Option<String>| s.as_deref().map(q).unwrap_or_else(|| "None".to_owned());
        format!(
            "QueuedMail(id={}, state={}, sender={}, recipients={}, attempts={}, last_error={}, request_id={})",
            q(&self.id),
            q(self.state),
            q(&self.sender),
            self.recipients,
            self.attempts,
            opt(&self.last_error),
            opt(&self.request_id),
        )
    }
}

/// The queue at a glance, as ``Outbox.stats`` reports it.
#[pyclass(name = "QueueStats", module = "graphmailer", frozen, eq, get_all)]
#[derive(PartialEq)]
pub(crate) struct PyQueueStats {
    /// How many mails are in each state, every state present:
    /// ``{"queued": 3, "sending": 0, "sent": 120, ...}``.
    by_state: BTreeMap<&'static str, u64>,
    /// How long the oldest mail not yet sent or failed has waited (a
    /// ``datetime.timedelta``), or ``None`` when there is none.
    oldest_unsent_age: Option<Duration>,
}

impl From<QueueStats> for PyQueueStats {
    fn from(s: QueueStats) -> Self {
        PyQueueStats {
            by_state: s
                .by_state
                .into_iter()
                .map(|(state, n)| (state.name(), n))
                .collect(),
            oldest_unsent_age: s.oldest_unsent_age,
        }
    }
}

#[pymethods]
impl PyQueueStats {
    fn __repr__(&self, py: Python<'_>) -> PyResult<String> {
        let by_state = self.by_state.clone().into_pyobject(py)?.repr()?;
        let age = self.oldest_unsent_age.into_pyobject(py)?.repr()?;
        Ok(format!(
            "QueueStats(by_state={by_state}, oldest_unsent_age={age})"
        ))
    }
}

/// What one ``run_until_empty`` did: how many mails it left in each state.
#[pyclass(name = "RunSummary", module = "graphmailer", frozen, eq, get_all)]
#[derive(PartialEq)]
pub(crate) struct PyRunSummary {
    /// Mails Graph accepted.
    sent: u64,
    /// Mails left for a later try.
    deferred: u64,
    /// Mails refused for good.
    failed: u64,
    /// Mails held for an operator, as a try may have gone out.
    uncertain: u64,
    /// Sends found in Sent Items after an ambiguous answer or a lost lease.
    reconciled: u64,
    /// Sends tried again after Sent Items showed the earlier try had not gone out.
    resent: u64,
}

impl From<RunSummary> for PyRunSummary {
    fn from(s: RunSummary) -> Self {
        PyRunSummary {
            sent: s.sent,
            deferred: s.deferred,
            failed: s.failed,
            uncertain: s.uncertain,
            reconciled: s.reconciled,
            resent: s.resent,
        }
    }
}

#[pymethods]
impl PyRunSummary {
    fn __repr__(&self) -> String {
        format!(
            "RunSummary(sent={}, deferred={}, failed={}, uncertain={}, reconciled={}, resent={})",
            self.sent, self.deferred, self.failed, self.uncertain, self.reconciled, self.resent
        )
    }
}
