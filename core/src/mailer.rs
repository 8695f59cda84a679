//! The async mailer: the one entry point that validates, applies the sender
//! allowlist, gets a token and sends.

use std::sync::Arc;

use crate::config::Config;
use crate::error::{Error, ErrorKind, Result};
use crate::graph::{self, SendReceipt};
use crate::http;
use crate::large;
use crate::limiter::MailboxLimiter;
use crate::message::Message;
use crate::mime::MimeMessage;
use crate::token::TokenCache;
use crate::wire;

/// Sends mail through Microsoft Graph with app-only credentials.
///
/// Cheap to clone; clones share one HTTP connection pool, one token and one
/// limit of requests in flight per mailbox. Create one per application and
/// share it.
#[derive(Clone)]
pub struct Mailer {
    pub(crate) inner: Arc<Inner>,
}

pub(crate) struct Inner {
    pub config: Config,
    pub http: reqwest::Client,
    pub tokens: TokenCache,
    pub limiter: MailboxLimiter,
}

impl Mailer {
    /// A mailer for a checked configuration.
    pub fn new(config: Config) -> Result<Mailer> {
        let http = http::build_client(&config)?;
        let limiter = MailboxLimiter::new(config.max_concurrent_per_mailbox);
        Ok(Mailer {
            inner: Arc::new(Inner {
                config,
                http,
                tokens: TokenCache::default(),
                limiter,
            }),
        })
    }

    /// A mailer configured from the environment (see [`Config::from_env`]).
    pub fn from_env() -> Result<Mailer> {
        Mailer::new(Config::from_env()?)
    }

    /// The configuration.
    pub fn config(&self) -> &Config {
        &self.inner.config
    }

    /// Sends a message. In order, and stopping at the first failure: the
    /// message is validated, the sender is checked against the allowlist
    /// (both before any network call), a token is taken from the cache or
    /// fetched, and Graph is asked to send. `Ok` means Graph accepted the mail
    /// (202): delivery happens after, and a failure to deliver comes back to
    /// the sender's inbox as a bounce.
    ///
    /// A message that fits Graph's 4 MB request goes in one `sendMail` call.
    /// A larger one is refused unless large messages are on
    /// ([`crate::ConfigBuilder::large_messages`]); then it goes through a
    /// draft and upload sessions, and a failure part way deletes the draft,
    /// as does cancelling the send (dropping its future).
    pub async fn send(&self, message: &Message) -> Result<SendReceipt> {
        message.validate()?;
        self.inner.config.allowed_senders.check(&message.sender)?;
        if !wire::fits_one_request(message) && self.inner.config.large_messages {
            return large::send(self.inner.clone(), message.clone()).await;
        }
        let body = if message
            .attachments
            .iter()
            .any(|a| a.content.as_bytes().is_none())
        {
            // Attachment files are read whole here (they are small, or
            // `send_mail_body` refuses them): keep that off the async threads.
            let message = message.clone();
            tokio::task::spawn_blocking(move || wire::send_mail_body(&message))
                .await
                .map_err(|e| {
                    Error::new(
                        ErrorKind::Service,
                        format!("reading attachments stopped: {e}"),
                    )
                })??
        } else {
            wire::send_mail_body(message)?
        };
        graph::send_mail(
            &self.inner,
            &message.sender,
            body.into(),
            "application/json",
        )
        .await
    }

    /// Sends a ready RFC 5322 message through Graph's MIME form of
    /// `sendMail`. The mailbox to send as is `sender`, else the message's From
    /// address, else the configured default sender; the recipients are the
    /// message's To, Cc and Bcc. The allowlist applies as for [`Mailer::send`].
    pub async fn send_mime(
        &self,
        sender: Option<&str>,
        message: &MimeMessage,
    ) -> Result<SendReceipt> {
        let default = self
            .inner
            .config
            .default_sender()
            .filter(|_| sender.is_none());
        let sender = match (message.sender(sender), default) {
            // No usable From (none, or cron's `root`): the configured mailbox.
            (Err(e), Some(default)) if e.field() == Some("sender") => {
                message.sender(Some(default))?
            }
            (result, _) => result?,
        };
        self.inner.config.allowed_senders.check(&sender)?;
        graph::send_mail(&self.inner, &sender, message.request_body(), "text/plain").await
    }

    /// How many token requests this mailer has made, for diagnostics and tests.
    pub fn token_requests(&self) -> u64 {
        self.inner.tokens.requests()
    }
}

impl std::fmt::Debug for Mailer {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Mailer")
            .field("config", &self.inner.config)
            .finish_non_exhaustive()
    }
}
