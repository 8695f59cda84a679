//! Knobs a test may turn while the emulator runs (`GET/PUT /_emulator/settings`).

use serde::{Deserialize, Serialize};

use crate::{Error, defaults};

/// Behaviour that tests change at run time. `POST /_emulator/reset` puts
/// back the values the emulator started with.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct Settings {
    /// `expires_in` of new tokens; their `exp` is this many seconds from now.
    pub token_lifetime_secs: u64,
    /// Check the application access policy before validating the message
    /// body (`true`), or validate the body first (`false`). Graph's real
    /// order is not documented (docs/graph-mail-protocol.md §11), so clients must not rely on it.
    pub access_check_first: bool,
    /// Concurrent sendMail requests allowed per app and mailbox.
    pub mailbox_concurrency: u32,
    /// sendMail requests allowed per app and mailbox per window.
    pub rate_limit_requests: u32,
    /// Length of the rate-limit window.
    pub rate_limit_window_secs: u64,
    /// Seconds an application access policy takes to apply after it is
    /// created (Exchange says up to 30 minutes, sometimes over an hour).
    /// Setting it (`PUT /_emulator/settings`) re-stamps every policy to now.
    pub policy_apply_delay_secs: u64,
    /// Refuse a client assertion whose `jti` was already used (until its
    /// `exp`). Off by default: Entra lets an assertion be reused until it
    /// expires, and MSAL .NET and msal-node cache theirs and rely on it.
    pub reject_assertion_replay: bool,
    /// Longest client assertion accepted (`exp` minus `nbf`, or `iat`);
    /// 0 = no cap, Entra's behaviour. Microsoft's documentation asks for 5
    /// to 10 minutes and MSAL signs 10: set 600 to hold clients to that.
    pub max_assertion_lifetime_secs: u64,
    /// Accepted messages kept for the test API and the inbox; past it the
    /// oldest are dropped (and counted), so a long run's memory is bounded.
    pub max_stored_messages: usize,
    /// Recipients (To, Cc and Bcc) one message may have. Exchange Online
    /// allows 500; an administrator can raise it to 1000.
    pub max_recipients_per_message: u32,
    /// The tenant's maximum message size, checked when a message is sent
    /// (sendMail or a draft's send): body plus decoded attachments, or the
    /// decoded MIME. Exchange Online's default is 35 MB, at most 150 MB.
    pub max_message_size_bytes: u64,
    /// How long an upload session (createUploadSession) stays usable.
    pub upload_session_lifetime_secs: u64,
    /// How long after a send its copy appears in Sent Items (Exchange saves
    /// it after transport, so a client looking at once may not find it).
    pub sent_items_lag_ms: u64,
}

impl Default for Settings {
    fn default() -> Self {
        Settings {
            token_lifetime_secs: defaults::TOKEN_LIFETIME_SECS,
            access_check_first: true,
            mailbox_concurrency: defaults::MAILBOX_CONCURRENCY,
            rate_limit_requests: defaults::RATE_LIMIT_REQUESTS,
            rate_limit_window_secs: defaults::RATE_LIMIT_WINDOW_SECS,
            policy_apply_delay_secs: 0,
            reject_assertion_replay: false,
            max_assertion_lifetime_secs: 0,
            max_recipients_per_message: defaults::MAX_RECIPIENTS_PER_MESSAGE,
            max_stored_messages: defaults::MAX_STORED_MESSAGES,
            max_message_size_bytes: defaults::MAX_MESSAGE_SIZE_BYTES,
            upload_session_lifetime_secs: defaults::UPLOAD_SESSION_LIFETIME_SECS,
            sent_items_lag_ms: defaults::SENT_ITEMS_LAG_MS,
        }
    }
}

impl Settings {
    /// Refuses values that would make the emulator useless (a limit of 0).
    pub fn validate(&self) -> Result<(), Error> {
        if self.mailbox_concurrency == 0 {
            return Err(Error::Options(
                "mailbox_concurrency must be at least 1".into(),
            ));
        }
        if self.rate_limit_requests == 0 {
            return Err(Error::Options(
                "rate_limit_requests must be at least 1".into(),
            ));
        }
        if self.rate_limit_window_secs == 0 {
            return Err(Error::Options(
                "rate_limit_window_secs must be at least 1".into(),
            ));
        }
        if self.max_stored_messages == 0 {
            return Err(Error::Options(
                "max_stored_messages must be at least 1".into(),
            ));
        }
        if self.max_recipients_per_message == 0 || self.max_recipients_per_message > 1000 {
            return Err(Error::Options(
                "max_recipients_per_message must be between 1 and 1000 (Exchange's ceiling)".into(),
            ));
        }
        if self.token_lifetime_secs > 86_400 * 365 {
            return Err(Error::Options("token_lifetime_secs is over a year".into()));
        }
        if self.policy_apply_delay_secs > 86_400 {
            return Err(Error::Options(
                "policy_apply_delay_secs must be at most 86400 (a day)".into(),
            ));
        }
        if self.max_message_size_bytes == 0
            || self.max_message_size_bytes > defaults::MAX_UPLOAD_SESSION_BYTES
        {
            return Err(Error::Options(
                "max_message_size_bytes must be between 1 and 157286400 (150 MB, Exchange's ceiling)"
                    .into(),
            ));
        }
        if self.sent_items_lag_ms > 600_000 {
            return Err(Error::Options(
                "sent_items_lag_ms must be at most 600000 (10 minutes)".into(),
            ));
        }
        if self.upload_session_lifetime_secs == 0 || self.upload_session_lifetime_secs > 86_400 {
            return Err(Error::Options(
                "upload_session_lifetime_secs must be between 1 and 86400 (a day)".into(),
            ));
        }
        Ok(())
    }

    /// Applies a partial update (the body of `PUT /_emulator/settings`).
    pub fn apply(&mut self, update: &SettingsUpdate) {
        if let Some(v) = update.token_lifetime_secs {
            self.token_lifetime_secs = v;
        }
        if let Some(v) = update.access_check_first {
            self.access_check_first = v;
        }
        if let Some(v) = update.mailbox_concurrency {
            self.mailbox_concurrency = v;
        }
        if let Some(v) = update.rate_limit_requests {
            self.rate_limit_requests = v;
        }
        if let Some(v) = update.rate_limit_window_secs {
            self.rate_limit_window_secs = v;
        }
        if let Some(v) = update.policy_apply_delay_secs {
            self.policy_apply_delay_secs = v;
        }
        if let Some(v) = update.reject_assertion_replay {
            self.reject_assertion_replay = v;
        }
        if let Some(v) = update.max_assertion_lifetime_secs {
            self.max_assertion_lifetime_secs = v;
        }
        if let Some(v) = update.max_stored_messages {
            self.max_stored_messages = v;
        }
        if let Some(v) = update.max_recipients_per_message {
            self.max_recipients_per_message = v;
        }
        if let Some(v) = update.max_message_size_bytes {
            self.max_message_size_bytes = v;
        }
        if let Some(v) = update.upload_session_lifetime_secs {
            self.upload_session_lifetime_secs = v;
        }
        if let Some(v) = update.sent_items_lag_ms {
            self.sent_items_lag_ms = v;
        }
    }
}

/// A partial [`Settings`]: the fields present are changed, the rest kept.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SettingsUpdate {
    /// See [`Settings::token_lifetime_secs`].
    pub token_lifetime_secs: Option<u64>,
    /// See [`Settings::access_check_first`].
    pub access_check_first: Option<bool>,
    /// See [`Settings::mailbox_concurrency`].
    pub mailbox_concurrency: Option<u32>,
    /// See [`Settings::rate_limit_requests`].
    pub rate_limit_requests: Option<u32>,
    /// See [`Settings::rate_limit_window_secs`].
    pub rate_limit_window_secs: Option<u64>,
    /// See [`Settings::policy_apply_delay_secs`]. Present (even unchanged),
    /// it re-stamps every policy to now, as if each had just been created.
    pub policy_apply_delay_secs: Option<u64>,
    /// See [`Settings::reject_assertion_replay`].
    pub reject_assertion_replay: Option<bool>,
    /// See [`Settings::max_assertion_lifetime_secs`].
    pub max_assertion_lifetime_secs: Option<u64>,
    /// See [`Settings::max_recipients_per_message`].
    pub max_recipients_per_message: Option<u32>,
    /// See [`Settings::max_stored_messages`].
    pub max_stored_messages: Option<usize>,
    /// See [`Settings::max_message_size_bytes`].
    pub max_message_size_bytes: Option<u64>,
    /// See [`Settings::upload_session_lifetime_secs`].
    pub upload_session_lifetime_secs: Option<u64>,
    /// See [`Settings::sent_items_lag_ms`].
    pub sent_items_lag_ms: Option<u64>,
}
