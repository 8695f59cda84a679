//! The outbox: the core's durable queue of mail for C programs. Enqueue a
//! message (committed to the database before the call returns), read a
//! mail's state, and deliver what is due through a mailer. Every rule is the
//! core's `Outbox`; each call blocks the calling thread until it is done.

use std::ffi::c_char;

use gm_core::blocking::{Mailer, wait};
use gm_core::outbox::{Command, ListFilter, QueueStats, QueuedMail, RunSummary};
use gm_core::{MimeMessage, Outbox, QueueId, QueueState};

use crate::args;
use crate::error::{Failure, call};
use crate::handle;
use crate::mailer::{GRAPHMAILER_MAX_LARGE_MIME_BYTES, graphmailer_mailer, not_forked};
use crate::message::{graphmailer_message, snapshot};
use crate::status::graphmailer_status;
use crate::stop::Flag;
use crate::strings;

/// A durable queue of mail in a SQLite file or a PostgreSQL database.
/// Thread-safe: open it once and share it. Release it with
/// graphmailer_outbox_free.
pub struct graphmailer_outbox {
    _private: [u8; 0],
}

/// The size of a buffer that holds any queue id and its NUL (64 characters
/// at most; the ids the library makes have 16). The `id_len` of the enqueue
/// functions must be at least this, checked before anything is queued.
pub const GRAPHMAILER_OUTBOX_ID_BYTES: usize = 65;

/// Where a queued mail is in its life (graphmailer_outbox_status).
#[repr(u32)]
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum graphmailer_queue_state {
    /// The queue holds no mail with that id.
    GRAPHMAILER_QUEUE_NONE = 0,
    /// Waiting for a worker.
    GRAPHMAILER_QUEUE_QUEUED = 1,
    /// Taken by a worker, which is sending it.
    GRAPHMAILER_QUEUE_SENDING = 2,
    /// Graph accepted it.
    GRAPHMAILER_QUEUE_SENT = 3,
    /// A passing failure; tried again later.
    GRAPHMAILER_QUEUE_DEFERRED = 4,
    /// Refused for good (access denied, invalid recipient, too large, expired).
    GRAPHMAILER_QUEUE_FAILED = 5,
    /// A try may have gone out and the queue cannot check: held for an
    /// operator (`graphmailer queue release` sends it again).
    GRAPHMAILER_QUEUE_UNCERTAIN = 6,
}

impl From<QueueState> for graphmailer_queue_state {
    fn from(state: QueueState) -> Self {
        use graphmailer_queue_state::*;
        match state {
            QueueState::Queued => GRAPHMAILER_QUEUE_QUEUED,
            QueueState::Sending => GRAPHMAILER_QUEUE_SENDING,
            QueueState::Sent => GRAPHMAILER_QUEUE_SENT,
            QueueState::Deferred => GRAPHMAILER_QUEUE_DEFERRED,
            QueueState::Failed => GRAPHMAILER_QUEUE_FAILED,
            QueueState::Uncertain => GRAPHMAILER_QUEUE_UNCERTAIN,
        }
    }
}

/// What one graphmailer_outbox_run_until_empty did: how many mails it left
/// in each state.
#[repr(C)]
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct graphmailer_run_summary {
    /// Mails Graph accepted.
    pub sent: u64,
    /// Mails left for a later try.
    pub deferred: u64,
    /// Mails refused for good.
    pub failed: u64,
    /// Mails held for an operator, as a try may have gone out.
    pub uncertain: u64,
    /// Sends found in Sent Items after an ambiguous answer or a lost lease.
    pub reconciled: u64,
    /// Sends tried again after Sent Items showed the earlier try had not gone out.
    pub resent: u64,
}

impl From<RunSummary> for graphmailer_run_summary {
    fn from(s: RunSummary) -> Self {
        graphmailer_run_summary {
            sent: s.sent,
            deferred: s.deferred,
            failed: s.failed,
            uncertain: s.uncertain,
            reconciled: s.reconciled,
            resent: s.resent,
        }
    }
}

/// The number of graphmailer_queue_state values, GRAPHMAILER_QUEUE_NONE
/// included: the length of graphmailer_queue_stats.by_state.
pub const GRAPHMAILER_QUEUE_STATES: usize = 7;

/// The queue at a glance (graphmailer_outbox_stats, `graphmailer queue
/// stats`).
#[repr(C)]
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct graphmailer_queue_stats {
    /// How many mails are in each state, indexed by graphmailer_queue_state:
    /// `by_state[GRAPHMAILER_QUEUE_DEFERRED]`. `by_state[GRAPHMAILER_QUEUE_NONE]`
    /// is 0.
    pub by_state: [u64; GRAPHMAILER_QUEUE_STATES],
    /// How many seconds the oldest mail not yet sent or failed has waited;
    /// -1 when there is none.
    pub oldest_unsent_age_secs: i64,
}

impl From<QueueStats> for graphmailer_queue_stats {
    fn from(s: QueueStats) -> Self {
        let mut by_state = [0; GRAPHMAILER_QUEUE_STATES];
        for (state, n) in s.by_state {
            by_state[graphmailer_queue_state::from(state) as usize] = n;
        }
        graphmailer_queue_stats {
            by_state,
            oldest_unsent_age_secs: s
                .oldest_unsent_age
                .map_or(-1, |d| i64::try_from(d.as_secs()).unwrap_or(i64::MAX)),
        }
    }
}

/// Opens (creating if needed) the queue at `url`: "sqlite:PATH" (a file) or
/// "postgres://..." (a queue several servers share). A bad URL, or a
/// database that cannot be opened, returns GRAPHMAILER_ERR_CONFIG with the
/// field "outbox".
///
/// # Safety
/// `url` is a NUL-terminated string; `outbox_out` points to writable memory
/// for one pointer.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn graphmailer_outbox_open(
    url: *const c_char,
    outbox_out: *mut *mut graphmailer_outbox,
) -> graphmailer_status {
    call("graphmailer_outbox_open", || {
        let url = unsafe { args::string(url, "url") }?.to_owned();
        let out = args::out(outbox_out, "outbox_out")?;
        not_forked()?;
        let outbox = wait(async move { Outbox::open(&url).await })??;
        let handle = handle::insert::<Outbox, graphmailer_outbox>(outbox);
        // SAFETY: checked non-NULL; the caller promised writable memory.
        unsafe { out.write(handle) };
        Ok(())
    })
}

/// Releases an outbox. NULL is accepted; an outbox freed already returns
/// GRAPHMAILER_ERR_INVALID_HANDLE. Calls still running on other threads
/// finish first. Queued mail stays in the database.
#[unsafe(no_mangle)]
pub extern "C" fn graphmailer_outbox_free(outbox: *mut graphmailer_outbox) -> graphmailer_status {
    call("graphmailer_outbox_free", || {
        handle::free::<Outbox, _>(outbox, "outbox")
    })
}

/// Checks `message` as graphmailer_mailer_send would before any network
/// call, gives it a stable Message-ID, commits it to the queue and writes its
/// queue id (NUL-terminated) to `id_out`. An invalid message returns
/// GRAPHMAILER_ERR_INVALID_MESSAGE naming the field and is not stored.
/// Attachment files are read now. The message may be freed or changed
/// afterwards.
///
/// # Safety
/// `id_out` points to `id_len` writable bytes, at least
/// GRAPHMAILER_OUTBOX_ID_BYTES.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn graphmailer_outbox_enqueue(
    outbox: *const graphmailer_outbox,
    message: *const graphmailer_message,
    id_out: *mut c_char,
    id_len: usize,
) -> graphmailer_status {
    unsafe {
        enqueue(
            "graphmailer_outbox_enqueue",
            outbox,
            None,
            message,
            id_out,
            id_len,
        )
    }
}

/// As graphmailer_outbox_enqueue, but first refuses what `mailer` (the
/// mailer that will send it) could never send, instead of letting it fail in
/// the queue: a sender outside its allowed_senders
/// (GRAPHMAILER_ERR_SENDER_NOT_ALLOWED), or a message over one request's
/// size with large messages off (GRAPHMAILER_ERR_INVALID_MESSAGE, code
/// "RequestEntityTooLarge"). Nothing refused is stored. For a caller that
/// answers for the mail once it is queued.
///
/// # Safety
/// As graphmailer_outbox_enqueue.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn graphmailer_outbox_enqueue_for(
    outbox: *const graphmailer_outbox,
    mailer: *const graphmailer_mailer,
    message: *const graphmailer_message,
    id_out: *mut c_char,
    id_len: usize,
) -> graphmailer_status {
    unsafe {
        enqueue(
            "graphmailer_outbox_enqueue_for",
            outbox,
            Some(mailer),
            message,
            id_out,
            id_len,
        )
    }
}

/// Both enqueues: `mailer`, when there is one, refuses first what it could
/// never send.
///
/// # Safety
/// As graphmailer_outbox_enqueue.
unsafe fn enqueue(
    name: &'static str,
    outbox: *const graphmailer_outbox,
    mailer: Option<*const graphmailer_mailer>,
    message: *const graphmailer_message,
    id_out: *mut c_char,
    id_len: usize,
) -> graphmailer_status {
    call(name, || {
        let outbox = handle::get::<Outbox, _>(outbox, "outbox")?;
        let mailer = mailer
            .map(|m| handle::get::<Mailer, _>(m, "mailer"))
            .transpose()?;
        let message = snapshot(message)?;
        let out = id_buffer(id_out, id_len)?;
        not_forked()?;
        let mailer = mailer.map(|m| m.as_async().clone());
        let id = wait(async move {
            match &mailer {
                Some(mailer) => outbox.enqueue_for(mailer, &message).await,
                None => outbox.enqueue(&message).await,
            }
        })??;
        out.write(&id);
        Ok(())
    })
}

/// Queues a ready RFC 5322 message (as graphmailer_mailer_send_mime takes
/// it) and writes its queue id to `id_out`. `sender` (may be NULL) is the
/// mailbox to send as; NULL or "" takes the From address. The recipients are
/// its To, Cc and Bcc. A malformed message returns
/// GRAPHMAILER_ERR_INVALID_MESSAGE naming the field ("mime", "mime.To",
/// ...) and is not stored.
///
/// # Safety
/// `sender` is NULL or a NUL-terminated string; `data` points to `len`
/// readable bytes; `id_out` points to `id_len` writable bytes, at least
/// GRAPHMAILER_OUTBOX_ID_BYTES.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn graphmailer_outbox_enqueue_mime(
    outbox: *const graphmailer_outbox,
    sender: *const c_char,
    data: *const u8,
    len: usize,
    id_out: *mut c_char,
    id_len: usize,
) -> graphmailer_status {
    let mime = Mime { sender, data, len };
    unsafe {
        enqueue_mime(
            "graphmailer_outbox_enqueue_mime",
            outbox,
            None,
            mime,
            id_out,
            id_len,
        )
    }
}

/// As graphmailer_outbox_enqueue_mime, but first refuses what `mailer`
/// could never send, as graphmailer_outbox_enqueue_for does.
///
/// # Safety
/// As graphmailer_outbox_enqueue_mime.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn graphmailer_outbox_enqueue_mime_for(
    outbox: *const graphmailer_outbox,
    mailer: *const graphmailer_mailer,
    sender: *const c_char,
    data: *const u8,
    len: usize,
    id_out: *mut c_char,
    id_len: usize,
) -> graphmailer_status {
    let mime = Mime { sender, data, len };
    unsafe {
        enqueue_mime(
            "graphmailer_outbox_enqueue_mime_for",
            outbox,
            Some(mailer),
            mime,
            id_out,
            id_len,
        )
    }
}

/// A ready message's arguments, as the caller gave them.
struct Mime {
    sender: *const c_char,
    data: *const u8,
    len: usize,
}

/// Both MIME enqueues, as [`enqueue`] for a ready message.
///
/// # Safety
/// As graphmailer_outbox_enqueue_mime.
unsafe fn enqueue_mime(
    name: &'static str,
    outbox: *const graphmailer_outbox,
    mailer: Option<*const graphmailer_mailer>,
    mime: Mime,
    id_out: *mut c_char,
    id_len: usize,
) -> graphmailer_status {
    call(name, || {
        let outbox = handle::get::<Outbox, _>(outbox, "outbox")?;
        let mailer = mailer
            .map(|m| handle::get::<Mailer, _>(m, "mailer"))
            .transpose()?;
        let sender = unsafe { args::optional_string(mime.sender, "sender") }?
            .filter(|s| !s.is_empty())
            .map(str::to_owned);
        // A mailer given refuses what it could never send when the mail is
        // stored (Outbox::enqueue_mime_for), as for a structured message.
        let data = unsafe {
            args::mime_bytes(
                mime.data,
                mime.len,
                GRAPHMAILER_MAX_LARGE_MIME_BYTES,
                "data",
            )
        }?;
        let out = id_buffer(id_out, id_len)?;
        let message = MimeMessage::from_bytes(data.to_vec())?;
        not_forked()?;
        let mailer = mailer.map(|m| m.as_async().clone());
        let id = wait(async move {
            let sender = sender.as_deref();
            match &mailer {
                Some(mailer) => outbox.enqueue_mime_for(mailer, sender, &message).await,
                None => outbox.enqueue_mime(sender, &message).await,
            }
        })??;
        out.write(&id);
        Ok(())
    })
}

/// Looks up the mail with queue id `id`: writes its state to `state_out`
/// (GRAPHMAILER_QUEUE_NONE when the queue holds no such mail) and, when
/// `json_out` is not NULL, its record as one JSON object, the form of
/// `graphmailer queue show --json` ({"id", "state", "sender", "recipients",
/// "attempts", "created", "age_secs", "next_attempt", "last_error",
/// "request_id", "sent_at", "internet_message_id", "size"}; times in RFC
/// 3339), or NULL for no such mail. Release the JSON with
/// graphmailer_string_free. A malformed id returns
/// GRAPHMAILER_ERR_INVALID_MESSAGE with the field "id".
///
/// # Safety
/// `id` is a NUL-terminated string; `state_out` points to writable memory
/// for one graphmailer_queue_state; `json_out` is NULL or points to writable
/// memory for one pointer.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn graphmailer_outbox_status(
    outbox: *const graphmailer_outbox,
    id: *const c_char,
    state_out: *mut graphmailer_queue_state,
    json_out: *mut *mut c_char,
) -> graphmailer_status {
    call("graphmailer_outbox_status", || {
        let outbox = handle::get::<Outbox, _>(outbox, "outbox")?;
        let id: QueueId = unsafe { args::string(id, "id") }?.parse()?;
        let state = args::out(state_out, "state_out")?;
        not_forked()?;
        let mail = wait(async move { outbox.get(&id).await })??;
        let found = mail
            .as_ref()
            .map_or(graphmailer_queue_state::GRAPHMAILER_QUEUE_NONE, |m| {
                m.state.into()
            });
        if !json_out.is_null() {
            let json = mail.as_ref().map_or(std::ptr::null_mut(), |m| {
                strings::hand_over(&m.to_json().to_string())
            });
            // SAFETY: non-NULL; the caller promised writable memory.
            unsafe { json_out.write(json) };
        }
        // SAFETY: checked non-NULL; the caller promised writable memory.
        unsafe { state.write(found) };
        Ok(())
    })
}

/// Writes the queue's mail, oldest first, to `json_out` as one JSON array of
/// the records graphmailer_outbox_status gives (the mails of `graphmailer
/// queue list --json`): only those in `state` (a graphmailer_queue_state;
/// GRAPHMAILER_QUEUE_NONE for every state), and at most `limit` (0 for no
/// limit). Release the JSON with graphmailer_string_free. Another number for
/// `state` returns GRAPHMAILER_ERR_INVALID_ARGUMENT.
///
/// # Safety
/// `json_out` points to writable memory for one pointer.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn graphmailer_outbox_list(
    outbox: *const graphmailer_outbox,
    state: u32,
    limit: usize,
    json_out: *mut *mut c_char,
) -> graphmailer_status {
    call("graphmailer_outbox_list", || {
        let outbox = handle::get::<Outbox, _>(outbox, "outbox")?;
        let state = match state {
            0 => None,
            n => Some(
                QueueState::ALL
                    .into_iter()
                    .find(|s| graphmailer_queue_state::from(*s) as u32 == n)
                    .ok_or_else(|| {
                        Failure::invalid(
                            "state",
                            format!("is {n}, not a graphmailer_queue_state (0 to 6)"),
                        )
                    })?,
            ),
        };
        let out = args::out(json_out, "json_out")?;
        not_forked()?;
        let filter = ListFilter {
            state,
            limit: (limit > 0).then_some(limit),
        };
        let mails = wait(async move { outbox.list(&filter).await })??;
        let json = serde_json::Value::Array(mails.iter().map(QueuedMail::to_json).collect());
        // SAFETY: checked non-NULL; the caller promised writable memory.
        unsafe { out.write(strings::hand_over(&json.to_string())) };
        Ok(())
    })
}

/// Writes how many mails are in each state, and how long the oldest one not
/// yet sent or failed has waited, to `stats_out` (`graphmailer queue
/// stats`): for a health check or a monitoring probe.
///
/// # Safety
/// `stats_out` points to writable memory for one graphmailer_queue_stats.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn graphmailer_outbox_stats(
    outbox: *const graphmailer_outbox,
    stats_out: *mut graphmailer_queue_stats,
) -> graphmailer_status {
    call("graphmailer_outbox_stats", || {
        let outbox = handle::get::<Outbox, _>(outbox, "outbox")?;
        let out = args::out(stats_out, "stats_out")?;
        not_forked()?;
        let stats = wait(async move { outbox.stats().await })??;
        // SAFETY: checked non-NULL; the caller promised writable memory.
        unsafe { out.write(stats.into()) };
        Ok(())
    })
}

/// Makes every deferred mail due now, for the next run, and writes how many
/// to `count_out` (may be NULL): `graphmailer queue retry --all-deferred`,
/// after an outage, rather than waiting out each mail's back-off.
///
/// # Safety
/// `count_out` is NULL or points to writable memory for one uint64_t.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn graphmailer_outbox_retry_all_deferred(
    outbox: *const graphmailer_outbox,
    count_out: *mut u64,
) -> graphmailer_status {
    call("graphmailer_outbox_retry_all_deferred", || {
        let outbox = handle::get::<Outbox, _>(outbox, "outbox")?;
        not_forked()?;
        let count = wait(async move { outbox.retry_all_deferred().await })??;
        if !count_out.is_null() {
            // SAFETY: non-NULL; the caller promised writable memory.
            unsafe { count_out.write(count) };
        }
        Ok(())
    })
}

/// Makes a deferred or failed mail due now, for the next run (`graphmailer
/// queue retry`). A mail in another state, or an id the queue does not
/// hold, returns GRAPHMAILER_ERR_INVALID_MESSAGE with the field "id".
///
/// # Safety
/// `id` is a NUL-terminated string.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn graphmailer_outbox_retry(
    outbox: *const graphmailer_outbox,
    id: *const c_char,
) -> graphmailer_status {
    unsafe { command("graphmailer_outbox_retry", outbox, id, Command::Retry) }
}

/// Sends an uncertain mail again, on the caller's word that it did not go
/// out (look in the sender's Sent Items first): `graphmailer queue release`.
/// Returns as graphmailer_outbox_retry does.
///
/// # Safety
/// `id` is a NUL-terminated string.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn graphmailer_outbox_release(
    outbox: *const graphmailer_outbox,
    id: *const c_char,
) -> graphmailer_status {
    unsafe { command("graphmailer_outbox_release", outbox, id, Command::Release) }
}

/// Removes a mail no worker is sending (`graphmailer queue delete`).
/// Returns as graphmailer_outbox_retry does.
///
/// # Safety
/// `id` is a NUL-terminated string.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn graphmailer_outbox_delete(
    outbox: *const graphmailer_outbox,
    id: *const c_char,
) -> graphmailer_status {
    unsafe { command("graphmailer_outbox_delete", outbox, id, Command::Delete) }
}

/// # Safety
/// `id` is a NUL-terminated string.
unsafe fn command(
    name: &'static str,
    outbox: *const graphmailer_outbox,
    id: *const c_char,
    command: Command,
) -> graphmailer_status {
    call(name, || {
        let outbox = handle::get::<Outbox, _>(outbox, "outbox")?;
        let id: QueueId = unsafe { args::string(id, "id") }?.parse()?;
        not_forked()?;
        wait(async move { outbox.apply(&id, command).await })??;
        Ok(())
    })
}

/// Delivers with `mailer` until nothing is due (mail deferred to later stays
/// queued), blocking the calling thread, and writes what it did to
/// `summary_out` (may be NULL). A mail that fails is recorded in the queue,
/// not returned as an error: the status reports only a failure of the queue
/// itself.
///
/// # Safety
/// `summary_out` is NULL or points to writable memory for one
/// graphmailer_run_summary.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn graphmailer_outbox_run_until_empty(
    outbox: *const graphmailer_outbox,
    mailer: *const graphmailer_mailer,
    summary_out: *mut graphmailer_run_summary,
) -> graphmailer_status {
    call("graphmailer_outbox_run_until_empty", || {
        let outbox = handle::get::<Outbox, _>(outbox, "outbox")?;
        let mailer = handle::get::<Mailer, _>(mailer, "mailer")?;
        not_forked()?;
        let mailer = mailer.as_async().clone();
        let summary = wait(async move { outbox.run_until_empty(&mailer).await })??;
        if !summary_out.is_null() {
            // SAFETY: non-NULL; the caller promised writable memory.
            unsafe { summary_out.write(summary.into()) };
        }
        Ok(())
    })
}

/// Delivers queued mail as it arrives, as `graphmailer queue run` does, until
/// `*stop` is non-zero: the loop of a long-running service. `stop` is the
/// caller's flag, typically a `volatile sig_atomic_t` that a SIGTERM handler
/// sets; it is read every 100 ms, and the mail being sent then is finished
/// first. Returns GRAPHMAILER_OK once stopped, or the error that ended the
/// worker (the database became unusable). Any number of threads or
/// processes may run workers on one queue; Graph's limits hold across them.
///
/// # Safety
/// `stop` points to an int that stays valid until this call returns.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn graphmailer_outbox_run(
    outbox: *const graphmailer_outbox,
    mailer: *const graphmailer_mailer,
    stop: *const std::ffi::c_int,
) -> graphmailer_status {
    call("graphmailer_outbox_run", || {
        let outbox = handle::get::<Outbox, _>(outbox, "outbox")?;
        let mailer = handle::get::<Mailer, _>(mailer, "mailer")?;
        let stop = Flag::new(stop).ok_or_else(|| Failure::null("stop"))?;
        not_forked()?;
        let mailer = mailer.as_async().clone();
        // SAFETY: the caller keeps the flag valid until this call returns,
        // which waits for the future.
        let stopped = async move { unsafe { stop.raised() }.await };
        wait(async move { outbox.run(&mailer, stopped).await })??;
        Ok(())
    })
}

/// The caller's buffer for a queue id, checked before anything is queued so
/// a mail is never committed with an id the caller cannot receive.
struct IdBuffer(*mut c_char);

fn id_buffer(id_out: *mut c_char, id_len: usize) -> Result<IdBuffer, Failure> {
    if id_out.is_null() {
        return Err(Failure::null("id_out"));
    }
    if id_len < GRAPHMAILER_OUTBOX_ID_BYTES {
        return Err(Failure::invalid(
            "id_len",
            format!(
                "is {id_len}; the buffer must hold GRAPHMAILER_OUTBOX_ID_BYTES ({GRAPHMAILER_OUTBOX_ID_BYTES}) bytes"
            ),
        ));
    }
    Ok(IdBuffer(id_out))
}

impl IdBuffer {
    fn write(self, id: &QueueId) {
        let id = id.as_str().as_bytes();
        let n = id.len().min(GRAPHMAILER_OUTBOX_ID_BYTES - 1);
        // SAFETY: checked non-NULL and at least GRAPHMAILER_OUTBOX_ID_BYTES
        // long; the caller promised that many writable bytes.
        unsafe {
            std::ptr::copy_nonoverlapping(id.as_ptr().cast::<c_char>(), self.0, n);
            self.0.add(n).write(0);
        }
    }
}
