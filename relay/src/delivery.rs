//! Where an accepted message goes: the mailer (app registration) of the
//! user or network that sent it, through that mailer's outbox when one is
//! configured, else straight to Graph while the client waits.

use graphmailer::{Error, ErrorKind, Mailer, MimeMessage, Outbox};

use crate::reply::Reply;

/// One app registration the relay sends through.
pub struct Route {
    pub name: String,
    pub mailer: Mailer,
    /// The durable queue; `None`: hand to Graph while the client waits.
    pub outbox: Option<Outbox>,
}

/// What the relay may tell the client once a message is handed over.
pub enum Handover {
    /// Committed to the outbox, which now owns its delivery.
    Queued { id: String },
    /// Graph accepted it (202) while the client waited.
    Sent { request_id: Option<String> },
}

impl Handover {
    pub fn reply(&self) -> Reply {
        match self {
            Handover::Queued { id } => Reply::with(250, "2.0.0", format!("queued as {id}")),
            Handover::Sent { request_id } => Reply::with(
                250,
                "2.0.0",
                format!(
                    "accepted by Microsoft Graph, request id {}",
                    request_id.as_deref().unwrap_or("-")
                ),
            ),
        }
    }

    /// The id to log and to show: the queue id or Graph's request id.
    pub fn id(&self) -> &str {
        match self {
            Handover::Queued { id } => id,
            Handover::Sent { request_id } => request_id.as_deref().unwrap_or("-"),
        }
    }
}

impl Route {
    pub async fn hand_over(&self, sender: &str, message: &MimeMessage) -> Result<Handover, Reply> {
        let refused = |e: Error| reply_for(&e);
        if let Some(outbox) = &self.outbox {
            // What the mailer could never send (a sender outside its
            // allowlist, a message too large for it) is refused before the
            // 250, not failed days later in the queue.
            let id = outbox
                .enqueue_mime_for(&self.mailer, Some(sender), message)
                .await
                .map_err(refused)?;
            return Ok(Handover::Queued { id: id.to_string() });
        }
        // The mailer's send observer (see `Relay::start_with_mailers`) counts
        // its requests; it refuses a message too large for it before any.
        let receipt = self
            .mailer
            .send_mime(Some(sender), message)
            .await
            .map_err(refused)?;
        Ok(Handover::Sent {
            request_id: receipt.request_id,
        })
    }
}

/// The reply for a message that could not be handed over. Only a failure
/// where nothing was sent gets a 4xx, the answer clients retry on; a send
/// that may have reached Graph gets a 5xx, so no client sends it twice.
pub fn reply_for(error: &Error) -> Reply {
    let say = |code, status, what: &str| {
        Reply::with(code, status, format!("{what}: {}", error.message()))
    };
    match error.kind() {
        ErrorKind::InvalidMessage if error.field() == Some("recipients") => {
            say(550, "5.1.3", "recipient refused")
        }
        ErrorKind::InvalidMessage if error.code() == Some("RequestEntityTooLarge") => {
            say(552, "5.3.4", "message too large")
        }
        ErrorKind::InvalidMessage => say(554, "5.6.0", "message refused"),
        ErrorKind::SenderNotAllowed | ErrorKind::AccessDenied => {
            say(550, "5.7.1", "not allowed to send as this mailbox")
        }
        ErrorKind::MailboxNotFound => say(550, "5.1.8", "the sending mailbox does not exist"),
        ErrorKind::AmbiguousDelivery => say(
            554,
            "5.4.7",
            "delivery status unknown (Graph may have sent it; not retried, to avoid a duplicate)",
        ),
        ErrorKind::Throttled | ErrorKind::Transient => {
            say(451, "4.4.0", "nothing was sent; try again later")
        }
        // Config, Authentication, Service and kinds added later: nothing
        // was sent and an administrator can fix it, so the client retries.
        _ => say(451, "4.3.0", "the relay cannot send now; try again later"),
    }
}
