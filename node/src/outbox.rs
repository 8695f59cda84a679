//! `Outbox`: core's durable queue behind Promises. Every call runs on the
//! runtime, off the JavaScript thread; values are converted, errors mapped
//! as `Mailer`'s are, and every rule (validation, ids, states, delivery) is
//! core's `graphmailer::Outbox`.

use std::collections::HashMap;
use std::future::Future;

use napi::bindgen_prelude::*;
use napi_derive::napi;

use graphmailer::QueueId;
use graphmailer::outbox::{
    Command, QueueStats as CoreQueueStats, QueuedMail as CoreQueuedMail,
    RunSummary as CoreRunSummary,
};

use crate::errors::Failure;
use crate::{Mailer, abort, convert, stopped};

/// One mail in the outbox, as `outbox.status(id)` reports it. Times are
/// milliseconds since the epoch, as `Date.now()` gives them.
#[napi(object)]
pub struct QueuedMail {
    /// The queue id.
    pub id: String,
    /// Where the mail is in its life; `uncertain`: a try may have gone out
    /// and it is held for an operator.
    #[napi(ts_type = "'queued' | 'sending' | 'sent' | 'deferred' | 'failed' | 'uncertain'")]
    pub state: String,
    /// The mailbox it is sent as.
    pub sender: String,
    /// How many To, Cc and Bcc addresses it has.
    pub recipients: u32,
    /// How many times a worker took it to send.
    pub attempts: u32,
    /// When it was queued.
    pub created: f64,
    /// When a worker may next take it (queued and deferred mail).
    pub next_attempt: Option<f64>,
    /// Why the last try did not send it.
    pub last_error: Option<String>,
    /// Graph's `request-id` of the accepted send.
    pub request_id: Option<String>,
    /// When it was sent.
    pub sent_at: Option<f64>,
    /// The `Message-ID` set at enqueue (the sent mail's `internetMessageId`).
    pub internet_message_id: String,
    /// The size of the stored message in bytes.
    pub size: f64,
}

impl From<CoreQueuedMail> for QueuedMail {
    fn from(m: CoreQueuedMail) -> Self {
        QueuedMail {
            id: m.id.to_string(),
            state: m.state.name().to_owned(),
            sender: m.sender,
            recipients: m.recipients as u32,
            attempts: m.attempts,
            created: epoch_ms(m.created),
            next_attempt: m.next_attempt.map(epoch_ms),
            last_error: m.last_error,
            request_id: m.request_id,
            sent_at: m.sent_at.map(epoch_ms),
            internet_message_id: m.internet_message_id,
            size: m.size as f64,
        }
    }
}

/// The queue at a glance, as `outbox.stats()` reports it.
#[napi(object)]
pub struct QueueStats {
    /// How many mails are in each state, every state present.
    #[napi(
        ts_type = "Record<'queued' | 'sending' | 'sent' | 'deferred' | 'failed' | 'uncertain', number>"
    )]
    pub by_state: HashMap<String, i64>,
    /// How long, in milliseconds, the oldest mail not yet sent or failed has
    /// waited; absent when there is none.
    pub oldest_unsent_age: Option<f64>,
}

impl From<CoreQueueStats> for QueueStats {
    fn from(s: CoreQueueStats) -> Self {
        QueueStats {
            by_state: s
                .by_state
                .into_iter()
                .map(|(state, n)| (state.name().to_owned(), n as i64))
                .collect(),
            oldest_unsent_age: s.oldest_unsent_age.map(|d| d.as_millis() as f64),
        }
    }
}

/// What one `outbox.runUntilEmpty(mailer)` did.
#[napi(object)]
pub struct RunSummary {
    /// Mails Graph accepted.
    pub sent: i64,
    /// Mails left for a later try.
    pub deferred: i64,
    /// Mails refused for good.
    pub failed: i64,
    /// Mails held for an operator, as a try may have gone out.
    pub uncertain: i64,
    /// Sends found in Sent Items after an ambiguous answer or a lost lease.
    pub reconciled: i64,
    /// Sends tried again after Sent Items showed the earlier try had not gone out.
    pub resent: i64,
}

impl From<CoreRunSummary> for RunSummary {
    fn from(s: CoreRunSummary) -> Self {
        RunSummary {
            sent: s.sent as i64,
            deferred: s.deferred as i64,
            failed: s.failed as i64,
            uncertain: s.uncertain as i64,
            reconciled: s.reconciled as i64,
            resent: s.resent as i64,
        }
    }
}

/// A durable queue of mail: `enqueue` resolves once the message is committed
/// to the database; `run` and `runUntilEmpty` deliver it through a `Mailer`
/// with retries and back-off, never sending a mail twice. Open it with
/// `await Outbox.open('sqlite:/var/spool/graphmailer/outbox.db')` (or a
/// `postgres://` URL, for a queue several servers share) and share it.
#[napi]
pub struct Outbox {
    inner: graphmailer::Outbox,
}

#[napi]
impl Outbox {
    /// Opens (creating if needed) the queue at `url`: `sqlite:PATH` or
    /// `postgres://...`. A bad URL or a database that cannot be opened
    /// rejects with `code: 'ERR_CONFIG'` and `field: 'outbox'`.
    #[napi(
        catch_unwind,
        ts_args_type = "url: string",
        ts_return_type = "Promise<Outbox>"
    )]
    pub fn open<'env>(env: &'env Env, url: Unknown) -> Result<PromiseRaw<'env, Outbox>> {
        let url = thrown_now(convert::string_arg(url, "url"))?;
        settle(
            env,
            async move { Ok(graphmailer::Outbox::open(&url?).await?) },
            |inner| Outbox { inner },
        )
    }

    /// Checks the message (as `mailer.send` takes it; nothing remote is
    /// checked), gives it a stable `Message-ID` and commits it; resolves to
    /// its queue id. An invalid message rejects with
    /// `code: 'ERR_INVALID_MESSAGE'` naming the `field`, and is not stored.
    /// Attachment files are read now. With `options.mailer` (the `Mailer`
    /// that will send it), what that mailer could never send rejects now
    /// and is not stored, instead of failing in the queue: a sender outside
    /// its `allowedSenders` (`code: 'ERR_SENDER_NOT_ALLOWED'`), or a message
    /// over one request's size with `largeMessages` off
    /// (`'ERR_INVALID_MESSAGE'`, `graphCode: 'RequestEntityTooLarge'`).
    #[napi(
        catch_unwind,
        ts_args_type = "message: SendOptions, options?: EnqueueOptions",
        ts_return_type = "Promise<string>"
    )]
    pub fn enqueue<'env>(
        &self,
        env: &'env Env,
        message: Unknown,
        options: Option<Unknown>,
    ) -> Result<PromiseRaw<'env, String>> {
        let converted = thrown_now(
            convert::message(message)
                .and_then(|o| Ok((o.prepared, convert::enqueue_options(options)?))),
        )?;
        let outbox = self.inner.clone();
        settle(
            env,
            async move {
                let (prepared, mailer) = converted?;
                // Looking at attachment files is blocking I/O.
                let message = tokio::task::spawn_blocking(move || prepared.finish())
                    .await
                    .map_err(|e| stopped("attaching files", e))??;
                Ok(match &mailer {
                    Some(mailer) => outbox.enqueue_for(mailer, &message).await?,
                    None => outbox.enqueue(&message).await?,
                })
            },
            |id| id.to_string(),
        )
    }

    /// Queues a ready RFC 5322 message (what `mailer.sendMime` takes: a
    /// `Buffer`, a `Uint8Array`, a string or a `Readable`); resolves to its
    /// queue id. The mailbox to send as is `options.sender`, else the From
    /// address; the recipients are To, Cc and Bcc. `options.mailer` refuses
    /// what it could never send, as for `enqueue`.
    #[napi(
        catch_unwind,
        ts_args_type = "message: MimeInput, options?: EnqueueMimeOptions",
        ts_return_type = "Promise<string>"
    )]
    pub fn enqueue_mime<'env>(
        &self,
        env: &'env Env,
        message: Unknown,
        options: Option<Unknown>,
    ) -> Result<PromiseRaw<'env, String>> {
        let converted = thrown_now(
            convert::mime_bytes(
                message,
                "message",
                graphmailer::limits::MAX_LARGE_MIME_BYTES,
            )
            .and_then(|bytes| Ok((bytes, convert::enqueue_mime_options(options)?))),
        )?;
        let outbox = self.inner.clone();
        settle(
            env,
            async move {
                let (bytes, (sender, mailer)) = converted?;
                // A mailer given refuses what it could never send when the
                // mail is stored (`enqueue_mime_for`).
                let mime = graphmailer::MimeMessage::from_bytes(bytes)?;
                let sender = sender.as_deref();
                Ok(match &mailer {
                    Some(mailer) => outbox.enqueue_mime_for(mailer, sender, &mime).await?,
                    None => outbox.enqueue_mime(sender, &mime).await?,
                })
            },
            |id| id.to_string(),
        )
    }

    /// The record of the mail with queue id `id`, or `null` when the queue
    /// holds no such mail.
    #[napi(
        catch_unwind,
        ts_args_type = "id: string",
        ts_return_type = "Promise<QueuedMail | null>"
    )]
    pub fn status<'env>(
        &self,
        env: &'env Env,
        id: Unknown,
    ) -> Result<PromiseRaw<'env, Option<QueuedMail>>> {
        let id = thrown_now(convert::string_arg(id, "id"))?;
        let outbox = self.inner.clone();
        settle(
            env,
            async move {
                let id: QueueId = id?.parse()?;
                Ok(outbox.get(&id).await?)
            },
            |mail| mail.map(QueuedMail::from),
        )
    }

    /// The queue's mail, oldest first: only those in `options.state`
    /// (`'queued'`, `'sending'`, `'sent'`, `'deferred'`, `'failed'` or
    /// `'uncertain'`) and at most `options.limit` when given. What
    /// `graphmailer queue list` shows.
    #[napi(
        catch_unwind,
        ts_args_type = "options?: ListOptions",
        ts_return_type = "Promise<QueuedMail[]>"
    )]
    pub fn list<'env>(
        &self,
        env: &'env Env,
        options: Option<Unknown>,
    ) -> Result<PromiseRaw<'env, Vec<QueuedMail>>> {
        let filter = thrown_now(convert::list_options(options))?;
        let outbox = self.inner.clone();
        settle(
            env,
            async move {
                let filter = filter?;
                Ok(outbox.list(&filter).await?)
            },
            |mails| mails.into_iter().map(QueuedMail::from).collect(),
        )
    }

    /// How many mails are in each state, and how long the oldest one not yet
    /// sent or failed has waited (`graphmailer queue stats`), for a health
    /// check or a dashboard.
    #[napi(catch_unwind, ts_return_type = "Promise<QueueStats>")]
    pub fn stats<'env>(&self, env: &'env Env) -> Result<PromiseRaw<'env, QueueStats>> {
        let outbox = self.inner.clone();
        settle(
            env,
            async move { Ok(outbox.stats().await?) },
            QueueStats::from,
        )
    }

    /// Makes every `'deferred'` mail due now, for the next run, and resolves
    /// to how many (`graphmailer queue retry --all-deferred`): after an
    /// outage, rather than waiting out each mail's back-off.
    #[napi(catch_unwind, ts_return_type = "Promise<number>")]
    pub fn retry_all_deferred<'env>(&self, env: &'env Env) -> Result<PromiseRaw<'env, f64>> {
        let outbox = self.inner.clone();
        settle(
            env,
            async move { Ok(outbox.retry_all_deferred().await?) },
            |n| n as f64,
        )
    }

    /// Makes a `'deferred'` or `'failed'` mail due now, for the next run
    /// (`graphmailer queue retry`). A mail in another state, or an id the
    /// queue does not hold, rejects with `field: 'id'`.
    #[napi(
        catch_unwind,
        ts_args_type = "id: string",
        ts_return_type = "Promise<void>"
    )]
    pub fn retry<'env>(&self, env: &'env Env, id: Unknown) -> Result<PromiseRaw<'env, ()>> {
        self.command(env, id, Command::Retry)
    }

    /// Sends an `'uncertain'` mail again, on your word that it did not go
    /// out (look in the sender's Sent Items first): `graphmailer queue
    /// release`. Rejects as `retry` does.
    #[napi(
        catch_unwind,
        ts_args_type = "id: string",
        ts_return_type = "Promise<void>"
    )]
    pub fn release<'env>(&self, env: &'env Env, id: Unknown) -> Result<PromiseRaw<'env, ()>> {
        self.command(env, id, Command::Release)
    }

    /// Removes a mail no worker is sending (`graphmailer queue delete`).
    /// Rejects as `retry` does.
    #[napi(
        catch_unwind,
        ts_args_type = "id: string",
        ts_return_type = "Promise<void>"
    )]
    pub fn delete<'env>(&self, env: &'env Env, id: Unknown) -> Result<PromiseRaw<'env, ()>> {
        self.command(env, id, Command::Delete)
    }

    /// Delivers with `mailer` until nothing is due (mail deferred to later
    /// stays queued); resolves to what it did.
    #[napi(
        catch_unwind,
        ts_args_type = "mailer: Mailer",
        ts_return_type = "Promise<RunSummary>"
    )]
    pub fn run_until_empty<'env>(
        &self,
        env: &'env Env,
        mailer: &Mailer,
    ) -> Result<PromiseRaw<'env, RunSummary>> {
        let (outbox, mailer) = (self.inner.clone(), mailer.inner.clone());
        settle(
            env,
            async move { Ok(outbox.run_until_empty(&mailer).await?) },
            RunSummary::from,
        )
    }

    /// Delivers with `mailer` as mail becomes due, until `options.signal`
    /// aborts; then stops taking mail, records the mail being sent, and
    /// resolves. Rejects only for a failure of the queue itself. Without a
    /// signal it runs for the life of the process.
    #[napi(
        catch_unwind,
        ts_args_type = "mailer: Mailer, options?: RunOptions",
        ts_return_type = "Promise<void>"
    )]
    pub fn run<'env>(
        &self,
        env: &'env Env,
        mailer: &Mailer,
        options: Option<Unknown>,
    ) -> Result<PromiseRaw<'env, ()>> {
        let signal = match convert::run_options(options) {
            Ok(signal) => signal,
            Err(failure) => return Err(failure.into_napi(env)),
        };
        let (guard, aborted) = match signal {
            Some(signal) => {
                let (guard, aborted) = abort::watch(env, signal)?;
                (Some(guard), Some(aborted))
            }
            None => (None, None),
        };
        let (outbox, mailer) = (self.inner.clone(), mailer.inner.clone());
        crate::promises::spawn(
            env,
            async move {
                let shutdown = async move {
                    match aborted {
                        Some(aborted) => aborted.fired().await,
                        None => std::future::pending().await,
                    }
                };
                outbox.run(&mailer, shutdown).await
            },
            move |env, outcome| {
                if let Some(guard) = guard {
                    // Stopping on the signal is how a run ends: no AbortError.
                    guard.stop(env)?;
                }
                outcome.map_err(|e| Failure::Core(e).into_napi(env))
            },
        )
    }
}

impl Outbox {
    fn command<'env>(
        &self,
        env: &'env Env,
        id: Unknown,
        command: Command,
    ) -> Result<PromiseRaw<'env, ()>> {
        let id = thrown_now(convert::string_arg(id, "id"))?;
        let outbox = self.inner.clone();
        settle(
            env,
            async move {
                let id: QueueId = id?.parse()?;
                Ok(outbox.apply(&id, command).await?)
            },
            |()| (),
        )
    }
}

/// An exception thrown while reading an argument (a throwing getter) is
/// thrown as it is; any other conversion failure rejects the promise, as
/// `Mailer`'s methods do.
fn thrown_now<T>(
    converted: std::result::Result<T, Failure>,
) -> Result<std::result::Result<T, Failure>> {
    match converted {
        Err(Failure::Js(e)) => Err(e),
        other => Ok(other),
    }
}

/// Runs `work` on the runtime and settles its promise on the JavaScript
/// thread with `done(value)` or the error for the failure.
fn settle<'env, T, R, F>(
    env: &'env Env,
    work: F,
    done: impl FnOnce(T) -> R + 'static,
) -> Result<PromiseRaw<'env, R>>
where
    F: Future<Output = std::result::Result<T, Failure>> + Send + 'static,
    T: Send + 'static,
    R: ToNapiValue + TypeName + 'static,
{
    crate::promises::spawn(env, work, move |env, outcome| {
        outcome.map(done).map_err(|f| f.into_napi(env))
    })
}

fn epoch_ms(t: std::time::SystemTime) -> f64 {
    t.duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_millis() as f64)
        .unwrap_or(0.0)
}
