//! The outbox's public vocabulary: ids, states, a queued mail's record, the
//! figures of `stats` and of a worker's run.

use std::collections::BTreeMap;
use std::fmt;
use std::str::FromStr;
use std::time::{Duration, SystemTime};

use crate::error::{Error, Result};

/// A queued mail's id: short text, stable for the mail's life in the queue.
#[derive(Clone, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct QueueId(pub(crate) String);

impl QueueId {
    pub(crate) fn new() -> QueueId {
        // 16 hex digits: unique enough for one queue, short enough to type.
        QueueId(format!("{:016x}", rand::random::<u64>()))
    }

    /// The id as text.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl fmt::Display for QueueId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl FromStr for QueueId {
    type Err = Error;

    fn from_str(s: &str) -> Result<QueueId> {
        let s = s.trim();
        if s.is_empty() || s.len() > 64 || !s.bytes().all(|b| b.is_ascii_alphanumeric()) {
            return Err(Error::invalid(
                "id",
                format!("'{s}' is not a queue id (letters and digits, as `queue list` shows them)"),
            ));
        }
        Ok(QueueId(s.to_ascii_lowercase()))
    }
}

/// Where a queued mail is in its life.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum QueueState {
    /// Waiting for a worker.
    Queued,
    /// Leased by a worker, which is sending it (or checking whether an
    /// earlier try went out).
    Sending,
    /// Graph accepted it.
    Sent,
    /// A passing failure; tried again at `next_attempt`.
    Deferred,
    /// Refused for good (access denied, invalid recipient, too large,
    /// expired); kept with its reason.
    Failed,
    /// A try may have gone out and the queue cannot check: held for an
    /// operator (`queue release` resends it).
    Uncertain,
}

impl QueueState {
    /// Every state, in the order of their life.
    pub const ALL: [QueueState; 6] = [
        QueueState::Queued,
        QueueState::Sending,
        QueueState::Sent,
        QueueState::Deferred,
        QueueState::Failed,
        QueueState::Uncertain,
    ];

    /// The lowercase name, as stored and shown.
    pub fn name(self) -> &'static str {
        match self {
            QueueState::Queued => "queued",
            QueueState::Sending => "sending",
            QueueState::Sent => "sent",
            QueueState::Deferred => "deferred",
            QueueState::Failed => "failed",
            QueueState::Uncertain => "uncertain",
        }
    }
}

impl fmt::Display for QueueState {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

impl FromStr for QueueState {
    type Err = Error;

    fn from_str(s: &str) -> Result<QueueState> {
        QueueState::ALL
            .into_iter()
            .find(|state| state.name().eq_ignore_ascii_case(s.trim()))
            .ok_or_else(|| {
                Error::invalid(
                    "state",
                    format!(
                        "'{s}' is not a state (queued, sending, sent, deferred, failed, uncertain)"
                    ),
                )
            })
    }
}

/// One mail in the queue, as `queue list` and `queue show` report it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct QueuedMail {
    pub id: QueueId,
    pub state: QueueState,
    /// The mailbox it is sent as.
    pub sender: String,
    /// How many To, Cc and Bcc addresses it has.
    pub recipients: usize,
    /// How many times a worker took it to send.
    pub attempts: u32,
    pub created: SystemTime,
    /// When a worker may next take it (queued and deferred mail).
    pub next_attempt: Option<SystemTime>,
    /// Why the last try did not send it.
    pub last_error: Option<String>,
    /// Graph's request id of the accepted send.
    pub request_id: Option<String>,
    /// When it was sent.
    pub sent_at: Option<SystemTime>,
    /// The `Message-ID` set at enqueue, which finds its copy in Sent Items.
    pub internet_message_id: String,
    /// The size of the stored message in bytes.
    pub size: u64,
}

/// Which mail `Outbox::list` returns.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct ListFilter {
    /// Only mail in this state.
    pub state: Option<QueueState>,
    /// At most this many, oldest first.
    pub limit: Option<usize>,
}

/// The queue at a glance.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct QueueStats {
    /// How many mails are in each state (every state is present).
    pub by_state: BTreeMap<QueueState, u64>,
    /// The age of the oldest mail not yet sent or failed.
    pub oldest_unsent_age: Option<Duration>,
}

/// What one worker's run did.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct RunSummary {
    pub sent: u64,
    pub deferred: u64,
    pub failed: u64,
    pub uncertain: u64,
    /// Sends found in Sent Items after an ambiguous answer or a lost lease.
    pub reconciled: u64,
    /// Sends tried again after Sent Items showed the earlier try had not gone out.
    pub resent: u64,
}

/// The JSON forms below are the ones `queue … --json` prints and the C
/// library hands over: one list of keys, kept here so no face drifts.
impl QueuedMail {
    /// This mail as a JSON object (times in RFC 3339, its age in seconds).
    pub fn to_json(&self) -> serde_json::Value {
        serde_json::json!({
            "id": self.id.to_string(),
            "state": self.state.name(),
            "sender": self.sender,
            "recipients": self.recipients,
            "attempts": self.attempts,
            "created": rfc3339(self.created),
            "age_secs": SystemTime::now()
                .duration_since(self.created)
                .unwrap_or_default()
                .as_secs(),
            "next_attempt": self.next_attempt.map(rfc3339),
            "last_error": self.last_error,
            "request_id": self.request_id,
            "sent_at": self.sent_at.map(rfc3339),
            "internet_message_id": self.internet_message_id,
            "size": self.size,
        })
    }
}

impl QueueStats {
    /// The counts by state and the oldest unsent mail's age, as JSON.
    pub fn to_json(&self) -> serde_json::Value {
        let by_state: serde_json::Map<String, serde_json::Value> = self
            .by_state
            .iter()
            .map(|(state, n)| (state.name().to_owned(), serde_json::json!(n)))
            .collect();
        serde_json::json!({
            "by_state": by_state,
            "oldest_unsent_age_secs": self.oldest_unsent_age.map(|d| d.as_secs()),
        })
    }
}

impl RunSummary {
    /// What a run did, as JSON.
    pub fn to_json(&self) -> serde_json::Value {
        serde_json::json!({
            "sent": self.sent,
            "deferred": self.deferred,
            "failed": self.failed,
            "uncertain": self.uncertain,
            "reconciled": self.reconciled,
            "resent": self.resent,
        })
    }
}

fn rfc3339(t: SystemTime) -> Option<String> {
    time::OffsetDateTime::from(t)
        .format(&time::format_description::well_known::Rfc3339)
        .ok()
}
