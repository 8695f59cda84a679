//! The durable outbox: mail is committed to a database before `enqueue`
//! returns, then delivered by workers that lease it, send it with the
//! mailer, and record each outcome. One queue may be shared by many
//! workers and servers (PostgreSQL); Graph's limits per mailbox hold across
//! all of them. See `docs/outbox.md` for the states and the rules.
//!
//! ```no_run
//! # async fn demo() -> graphmailer::Result<()> {
//! use graphmailer::{Mailer, Message, Outbox};
//! let outbox = Outbox::open("sqlite:/var/spool/graphmailer/outbox.db").await?;
//! let id = outbox
//!     .enqueue(&Message::new("erp@contoso.com").to("a@example.com").subject("Invoice").text("..."))
//!     .await?;
//! let mailer = Mailer::from_env()?;
//! outbox.run_until_empty(&mailer).await?;
//! println!("{:?}", outbox.get(&id).await?.map(|m| m.state));
//! # Ok(()) }
//! ```

mod compose;
mod postgres;
mod settings;
mod sqlite;
mod store;
mod types;
mod worker;

use std::future::Future;
use std::sync::Arc;

use crate::error::{Error, Result};
use crate::mailer::Mailer;
use crate::message::Message;
use crate::mime::MimeMessage;

pub use settings::OutboxSettings;
pub use store::Command;
pub use types::{ListFilter, QueueId, QueueState, QueueStats, QueuedMail, RunSummary};

use store::{NewMail, Store, now_ms};

/// A durable queue of mail. Cheap to clone; clones share one database
/// connection.
#[derive(Clone)]
pub struct Outbox {
    inner: Arc<Inner>,
}

struct Inner {
    store: Store,
    settings: OutboxSettings,
    /// This process's name in leases (each lease adds its number from
    /// `leases`), so a worker only renews and records mail it still holds.
    owner: String,
    leases: std::sync::atomic::AtomicU64,
    url_for_display: String,
}

impl Outbox {
    /// Opens (creating if needed) the queue at `url`: `sqlite:PATH` or
    /// `postgres://...` / `postgresql://...`.
    pub async fn open(url: &str) -> Result<Outbox> {
        Outbox::open_with(url, OutboxSettings::default()).await
    }

    /// Opens the queue with other timings and limits.
    pub async fn open_with(url: &str, settings: OutboxSettings) -> Result<Outbox> {
        let url = url.trim();
        let store = if let Some(path) = url.strip_prefix("sqlite:") {
            let path = path.strip_prefix("//").unwrap_or(path);
            if path.is_empty() {
                return Err(Error::config(
                    "outbox",
                    "`sqlite:` needs a file path (sqlite:/var/spool/graphmailer/outbox.db)",
                ));
            }
            Store::Sqlite(sqlite::SqliteStore::open(path).await?)
        } else if url.starts_with("postgres://") || url.starts_with("postgresql://") {
            Store::Postgres(Box::new(postgres::PostgresStore::open(url).await?))
        } else {
            return Err(Error::config(
                "outbox",
                "the outbox URL must start with `sqlite:` (a file) or `postgres://` (a shared queue)",
            ));
        };
        // A PostgreSQL URL may hold a password (before `@` or as a query
        // parameter): show only where the queue is.
        let url_for_display = match &store {
            Store::Sqlite(_) => url.to_owned(),
            Store::Postgres(pg) => format!("postgres ({})", pg.shown()),
        };
        Ok(Outbox {
            inner: Arc::new(Inner {
                store,
                settings,
                owner: format!("{}-{}", std::process::id(), uuid::Uuid::new_v4().simple()),
                leases: std::sync::atomic::AtomicU64::new(0),
                url_for_display,
            }),
        })
    }

    /// The settings the queue was opened with.
    pub fn settings(&self) -> &OutboxSettings {
        &self.inner.settings
    }

    /// Validates the message (and checks nothing remote), gives it a stable
    /// `Message-ID`, then commits it durably; returns only after the commit.
    pub async fn enqueue(&self, message: &Message) -> Result<QueueId> {
        let composed = compose::from_message(message).await?;
        self.store(composed, None).await
    }

    /// Queues a message as [`enqueue`](Self::enqueue) does, but first
    /// refuses what `mailer` could never send, as
    /// [`enqueue_mime_for`](Self::enqueue_mime_for) does.
    pub async fn enqueue_for(&self, mailer: &Mailer, message: &Message) -> Result<QueueId> {
        let composed = compose::from_message(message).await?;
        self.store(composed, Some(mailer)).await
    }

    /// Queues a ready RFC 5322 message; the mailbox to send as is `sender`,
    /// else the From address (as in `Mailer::send_mime`; the configured
    /// default sender applies when the message is sent). Recipients are the
    /// message's To, Cc and Bcc headers.
    pub async fn enqueue_mime(
        &self,
        sender: Option<&str>,
        message: &MimeMessage,
    ) -> Result<QueueId> {
        let composed = compose::from_mime(sender, message)?;
        self.store(composed, None).await
    }

    /// Queues a ready message as [`enqueue_mime`](Self::enqueue_mime) does,
    /// but first refuses what `mailer` could never send (a sender outside
    /// its allowlist; over one request's size with large messages off,
    /// counting the `Message-ID` the queue adds): for a caller that answers
    /// for the mail once it is queued, as the SMTP relay's `250` does, a
    /// mail that could only fail in the queue must be refused now.
    pub async fn enqueue_mime_for(
        &self,
        mailer: &Mailer,
        sender: Option<&str>,
        message: &MimeMessage,
    ) -> Result<QueueId> {
        let composed = compose::from_mime(sender, message)?;
        self.store(composed, Some(mailer)).await
    }

    async fn store(
        &self,
        composed: compose::Composed,
        sendable_by: Option<&Mailer>,
    ) -> Result<QueueId> {
        let check = |c: &compose::Composed| match sendable_by {
            Some(mailer) => {
                mailer.config().allowed_senders().check(&c.sender)?;
                mailer.check_mime_size(c.bytes.len())
            }
            None => Ok(()),
        };
        check(&composed)?;
        let id = types::QueueId::new();
        let new = |c: &compose::Composed| NewMail {
            id: id.clone(),
            sender: c.sender.clone(),
            recipients: c.recipients,
            internet_message_id: c.internet_message_id.clone(),
            unless_message_id_taken: c.callers_message_id,
            payload: c.bytes.clone(),
            created_ms: now_ms(),
        };
        if !self.inner.store.insert(new(&composed)).await? {
            let renamed = compose::with_new_message_id(&composed)?;
            check(&renamed)?;
            tracing::info!(id = %id, taken = %composed.internet_message_id, message_id = %renamed.internet_message_id, "outbox: the message's Message-ID is already in the queue; it is queued under a new one");
            self.inner.store.insert(new(&renamed)).await?;
        }
        Ok(id)
    }

    /// One mail's record.
    pub async fn get(&self, id: &QueueId) -> Result<Option<QueuedMail>> {
        self.inner.store.get(id).await
    }

    /// The queue's mail, oldest first.
    pub async fn list(&self, filter: &ListFilter) -> Result<Vec<QueuedMail>> {
        self.inner.store.list(filter).await
    }

    /// How many mails are in each state, and the oldest unsent one's age.
    pub async fn stats(&self) -> Result<QueueStats> {
        self.inner.store.stats(now_ms()).await
    }

    /// Tries one delivery of this message now (the `sendmail` stand-in's one
    /// immediate try); gives the state it is left in. A mail another worker
    /// holds, or one not due, is left alone. It does not wait on Sent Items:
    /// a mail whose try may have gone out (an ambiguous answer, or an earlier
    /// one) is deferred, for a worker to look up before any other send.
    pub async fn deliver_now(&self, mailer: &Mailer, id: &QueueId) -> Result<QueueState> {
        worker::deliver_one(self, mailer, id).await
    }

    /// Delivers until `shutdown` resolves; mail being sent then is finished
    /// and recorded before it returns.
    pub async fn run(
        &self,
        mailer: &Mailer,
        shutdown: impl Future<Output = ()> + Send,
    ) -> Result<()> {
        worker::run(self, mailer, false, shutdown).await.map(drop)
    }

    /// Delivers until nothing is due (mail deferred to later stays queued),
    /// waiting for other workers' leases to end.
    pub async fn run_until_empty(&self, mailer: &Mailer) -> Result<RunSummary> {
        worker::run(self, mailer, true, std::future::pending()).await
    }

    /// As [`run_until_empty`](Self::run_until_empty), but stops early when
    /// `shutdown` resolves (a signal): the mail in hand is finished and
    /// recorded first, and no more is taken.
    pub async fn run_until_empty_or(
        &self,
        mailer: &Mailer,
        shutdown: impl Future<Output = ()> + Send,
    ) -> Result<RunSummary> {
        worker::run(self, mailer, true, shutdown).await
    }

    /// Makes a deferred or failed mail due now.
    pub async fn retry(&self, id: &QueueId) -> Result<()> {
        self.apply(id, Command::Retry).await
    }

    /// Makes every deferred mail due now; gives how many.
    pub async fn retry_all_deferred(&self) -> Result<u64> {
        self.inner.store.retry_all_deferred(now_ms()).await
    }

    /// Sends an uncertain mail again, on an operator's word that it did not
    /// go out (or that a second copy is acceptable).
    pub async fn release(&self, id: &QueueId) -> Result<()> {
        self.apply(id, Command::Release).await
    }

    /// Removes a mail that no worker holds.
    pub async fn delete(&self, id: &QueueId) -> Result<()> {
        self.apply(id, Command::Delete).await
    }

    /// An operator's command on one mail, for a caller that takes it as a
    /// value (the bindings); a mail in another state, or an id the queue
    /// does not hold, is an invalid `id`.
    pub async fn apply(&self, id: &QueueId, command: Command) -> Result<()> {
        let wanted = match command {
            Command::Retry => "deferred or failed",
            Command::Release => "uncertain",
            Command::Delete => "not being sent",
        };
        if self.inner.store.command(id, command, now_ms()).await? {
            return Ok(());
        }
        Err(match self.get(id).await? {
            None => Error::invalid("id", format!("no mail {id} in the queue")),
            Some(mail) => Error::invalid(
                "id",
                format!(
                    "mail {id} is {}; this applies only to mail that is {wanted}",
                    mail.state
                ),
            ),
        })
    }
}

impl std::fmt::Debug for Outbox {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Outbox")
            .field("url", &self.inner.url_for_display)
            .finish_non_exhaustive()
    }
}
