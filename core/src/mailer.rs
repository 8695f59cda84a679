//! The async mailer: the one entry point that validates, applies the sender
//! allowlist, gets a token and sends.

use std::sync::Arc;

use crate::client::{Body, GraphClient, SendAttempt, SendReceipt};
use crate::config::Config;
use crate::error::Result;
use crate::large;
use crate::message::{Message, check_attachments};
use crate::mime::MimeMessage;
use crate::mime_parts::{self, LargeMime};
use crate::offload;
use crate::progress::SendOptions;
use crate::wire;

/// Sends mail through Microsoft Graph with app-only credentials.
///
/// Cheap to clone; clones share one HTTP connection pool, one token and one
/// limit of requests in flight per mailbox. Create one per application and
/// share it.
#[derive(Clone)]
pub struct Mailer {
    pub(crate) client: Arc<GraphClient>,
}

impl Mailer {
    /// A mailer for a checked configuration.
    pub fn new(config: Config) -> Result<Mailer> {
        Ok(Mailer {
            client: Arc::new(GraphClient::new(config)?),
        })
    }

    /// A mailer configured from the environment (see [`Config::from_env`]).
    pub fn from_env() -> Result<Mailer> {
        Mailer::new(Config::from_env()?)
    }

    /// The configuration.
    pub fn config(&self) -> &Config {
        &self.client.config
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
        self.send_with(message, &SendOptions::default()).await
    }

    /// Sends a message as [`Mailer::send`] does, with `options`: an observer
    /// of upload progress, which only a message sent through a draft and
    /// upload sessions reports to (see [`crate::Progress`]).
    pub async fn send_with(&self, message: &Message, options: &SendOptions) -> Result<SendReceipt> {
        message.validate()?;
        self.client.config.allowed_senders.check(&message.sender)?;
        if !wire::fits_one_request(message) && self.client.config.large_messages {
            let progress = options.progress.clone();
            return large::send(self.client.clone(), message.clone(), None, progress).await;
        }
        let body = if message
            .attachments
            .iter()
            .any(|a| a.content.as_bytes().is_none())
        {
            // Attachment files are read whole here (they are small, or
            // `send_mail_body` refuses them).
            let message = message.clone();
            offload::read(move || wire::send_mail_body(&message)).await?
        } else {
            wire::send_mail_body(message)?
        };
        self.client
            .send_mail(&message.sender, Body::json(body))
            .await
    }

    /// The largest raw MIME message this mailer sends: what Graph's MIME form
    /// takes in one request, or, with large messages on, what a draft and
    /// upload sessions take.
    pub fn max_mime_bytes(&self) -> usize {
        if self.client.config.large_messages {
            crate::limits::MAX_LARGE_MIME_BYTES
        } else {
            crate::limits::MAX_MIME_BYTES
        }
    }

    /// Reads a message for [`Mailer::send_mime`] from a stream (a pipe, a
    /// socket, a file object), stopping just past [`Mailer::max_mime_bytes`]:
    /// a message this mailer would refuse is refused, with its reason, without
    /// being read whole.
    pub fn read_mime(&self, reader: impl std::io::Read) -> Result<MimeMessage> {
        let bytes = crate::mime::read_up_to(reader, self.max_mime_bytes())?;
        self.check_mime_size(bytes.len())?;
        MimeMessage::from_bytes(bytes)
    }

    /// Reads the message in a file for [`Mailer::send_mime`], as
    /// [`Mailer::read_mime`] reads a stream.
    pub fn read_mime_file(&self, path: impl AsRef<std::path::Path>) -> Result<MimeMessage> {
        self.read_mime(crate::mime::open(path.as_ref())?)
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
            .client
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
        self.client.config.allowed_senders.check(&sender)?;
        if message.needs_large_path() {
            return self.send_large_mime(sender, message).await;
        }
        self.client
            .send_mail(&sender, Body::mime(message.request_body()))
            .await
    }

    /// Refuses, before any request, a MIME message this mailer could never
    /// send: over what one request takes, with large messages off.
    pub(crate) fn check_mime_size(&self, len: usize) -> Result<()> {
        crate::mime::check_sendable(len, self.client.config.large_messages)
    }

    /// A MIME message over what one request takes (see `mime_parts`), when
    /// large messages are on: a draft made of the message without its largest
    /// attachments, which are then added through upload sessions; where no
    /// such cut exists, the message taken apart into Graph's JSON form. Refused
    /// before any request when large messages are off.
    async fn send_large_mime(&self, sender: String, mime: &MimeMessage) -> Result<SendReceipt> {
        self.check_mime_size(mime.as_bytes().len())?;
        let mime = mime.clone();
        // Parsing a message of many megabytes is work for a blocking thread.
        let from = sender.clone();
        let large = offload::read(move || mime_parts::take_apart(&from, &mime)).await?;
        match large {
            LargeMime::Slimmed(slimmed) => {
                check_attachments(&slimmed.attachments)?;
                large::send_mime(
                    self.client.clone(),
                    &sender,
                    &slimmed.mime,
                    &slimmed.attachments,
                )
                .await
            }
            LargeMime::Unpacked(unpacked) => {
                unpacked.message.validate()?;
                large::send(
                    self.client.clone(),
                    unpacked.message,
                    unpacked.internet_message_id,
                    None,
                )
                .await
            }
        }
    }

    /// Calls `observer` after every request of this mailer (and its clones)
    /// that sends mail, with Graph's status and the time it took: for metrics
    /// that count a queue worker's sends as well as direct ones. One observer
    /// per mailer: a second call is refused.
    pub fn observe_send_attempts(
        &self,
        observer: impl Fn(&SendAttempt) + Send + Sync + 'static,
    ) -> Result<()> {
        self.client
            .send_observer
            .set(Arc::new(observer))
            .map_err(|_| {
                crate::Error::config(
                    "observer",
                    "this mailer already has a send observer: one per mailer",
                )
            })
    }

    /// How many token requests this mailer has made, for diagnostics and tests.
    pub fn token_requests(&self) -> u64 {
        self.client.tokens.requests()
    }
}

impl std::fmt::Debug for Mailer {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Mailer")
            .field("config", &self.client.config)
            .finish_non_exhaustive()
    }
}
