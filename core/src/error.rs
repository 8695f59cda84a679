//! One error model for every language: a kind, the service's own code, the
//! request id, and a hint a person can act on.

use std::fmt;
use std::time::Duration;

/// What went wrong, at the level a caller branches on. Each binding maps a
/// kind to its own idiom (a Python exception class, a Node `code`, a C status),
/// so the numbers and names here are part of the public contract.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum ErrorKind {
    /// The configuration is incomplete or wrong (names the setting).
    Config,
    /// The message was refused before sending, or by Graph as malformed.
    InvalidMessage,
    /// The sender is outside the local allowlist; nothing was sent.
    SenderNotAllowed,
    /// The identity platform refused the app's credentials, or Graph refused the token.
    Authentication,
    /// Graph refused the app for this mailbox (access policy, missing role).
    AccessDenied,
    /// The mailbox does not exist or has no Exchange Online mailbox.
    MailboxNotFound,
    /// Graph kept throttling after the allowed retries.
    Throttled,
    /// The service or network failed before the mail was handed over; safe to retry later.
    Transient,
    /// The request may have reached Microsoft but no answer came back: the mail
    /// may or may not have gone out, so it was not retried.
    AmbiguousDelivery,
    /// Any other answer from the service.
    Service,
}

impl ErrorKind {
    /// Every kind, in the order of their numbers.
    pub const ALL: [ErrorKind; 10] = [
        ErrorKind::Config,
        ErrorKind::InvalidMessage,
        ErrorKind::SenderNotAllowed,
        ErrorKind::Authentication,
        ErrorKind::AccessDenied,
        ErrorKind::MailboxNotFound,
        ErrorKind::Throttled,
        ErrorKind::Transient,
        ErrorKind::AmbiguousDelivery,
        ErrorKind::Service,
    ];

    /// Snake-case name (`access_denied`), used in JSON output and logs.
    pub fn name(self) -> &'static str {
        match self {
            ErrorKind::Config => "config",
            ErrorKind::InvalidMessage => "invalid_message",
            ErrorKind::SenderNotAllowed => "sender_not_allowed",
            ErrorKind::Authentication => "authentication",
            ErrorKind::AccessDenied => "access_denied",
            ErrorKind::MailboxNotFound => "mailbox_not_found",
            ErrorKind::Throttled => "throttled",
            ErrorKind::Transient => "transient",
            ErrorKind::AmbiguousDelivery => "ambiguous_delivery",
            ErrorKind::Service => "service",
        }
    }

    /// Stable code in Node's convention (`ERR_ACCESS_DENIED`).
    pub fn code(self) -> &'static str {
        match self {
            ErrorKind::Config => "ERR_CONFIG",
            ErrorKind::InvalidMessage => "ERR_INVALID_MESSAGE",
            ErrorKind::SenderNotAllowed => "ERR_SENDER_NOT_ALLOWED",
            ErrorKind::Authentication => "ERR_AUTHENTICATION",
            ErrorKind::AccessDenied => "ERR_ACCESS_DENIED",
            ErrorKind::MailboxNotFound => "ERR_MAILBOX_NOT_FOUND",
            ErrorKind::Throttled => "ERR_THROTTLED",
            ErrorKind::Transient => "ERR_TRANSIENT",
            ErrorKind::AmbiguousDelivery => "ERR_AMBIGUOUS_DELIVERY",
            ErrorKind::Service => "ERR_SERVICE",
        }
    }

    /// Pinned number of the kind, 1 to 10 (0 is success): the C status values.
    pub fn number(self) -> u8 {
        match self {
            ErrorKind::Config => 1,
            ErrorKind::InvalidMessage => 2,
            ErrorKind::SenderNotAllowed => 3,
            ErrorKind::Authentication => 4,
            ErrorKind::AccessDenied => 5,
            ErrorKind::MailboxNotFound => 6,
            ErrorKind::Throttled => 7,
            ErrorKind::Transient => 8,
            ErrorKind::AmbiguousDelivery => 9,
            ErrorKind::Service => 10,
        }
    }

    /// Process exit status for command-line tools: 10 + the number, clear of
    /// 1 (other failure) and 2 (usage error).
    pub fn exit_code(self) -> u8 {
        10 + self.number()
    }

    /// True when trying the same send again later is safe and may succeed.
    pub fn is_retryable(self) -> bool {
        matches!(self, ErrorKind::Throttled | ErrorKind::Transient)
    }
}

impl fmt::Display for ErrorKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.name().replace('_', " "))
    }
}

/// The error of every graphmailer call.
///
/// It never holds a secret: messages are written from the configuration's
/// public parts and the service's answer, and the service's answers never echo
/// a secret or a token.
// Boxed so `Result<T, Error>` stays one pointer wide on the happy path.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Error(Box<Details>);

#[derive(Clone, Debug, PartialEq, Eq)]
struct Details {
    kind: ErrorKind,
    message: String,
    field: Option<String>,
    code: Option<String>,
    request_id: Option<String>,
    status: Option<u16>,
    hint: Option<String>,
    retry_after: Option<Duration>,
}

impl Error {
    /// A new error of `kind` with a message.
    pub fn new(kind: ErrorKind, message: impl Into<String>) -> Self {
        Error(Box::new(Details {
            kind,
            message: message.into(),
            field: None,
            code: None,
            request_id: None,
            status: None,
            hint: None,
            retry_after: None,
        }))
    }

    /// A configuration error naming the setting.
    pub fn config(field: &str, message: impl Into<String>) -> Self {
        Error::new(ErrorKind::Config, format!("{field}: {}", message.into())).with_field(field)
    }

    /// A message refused before sending, naming the field.
    pub fn invalid(field: &str, message: impl Into<String>) -> Self {
        Error::new(
            ErrorKind::InvalidMessage,
            format!("{field}: {}", message.into()),
        )
        .with_field(field)
    }

    /// The same error as another kind (a server error on a request that
    /// cannot send mail is passing, not ambiguous).
    pub(crate) fn with_kind(mut self, kind: ErrorKind) -> Self {
        self.0.kind = kind;
        self
    }

    /// Adds a sentence to the message (what was done about the failure).
    pub(crate) fn with_note(mut self, note: &str) -> Self {
        self.0.message.push_str("; ");
        self.0.message.push_str(note);
        self
    }

    pub(crate) fn with_field(mut self, field: &str) -> Self {
        self.0.field = Some(field.to_owned());
        self
    }
    pub(crate) fn with_code(mut self, code: impl Into<String>) -> Self {
        self.0.code = Some(code.into());
        self
    }
    pub(crate) fn with_request_id(mut self, request_id: Option<String>) -> Self {
        self.0.request_id = request_id;
        self
    }
    pub(crate) fn with_status(mut self, status: u16) -> Self {
        self.0.status = Some(status);
        self
    }
    pub(crate) fn with_hint(mut self, hint: impl Into<String>) -> Self {
        self.0.hint = Some(hint.into());
        self
    }
    pub(crate) fn with_hint_opt(mut self, hint: Option<String>) -> Self {
        if hint.is_some() {
            self.0.hint = hint;
        }
        self
    }
    pub(crate) fn with_retry_after(mut self, retry_after: Option<Duration>) -> Self {
        self.0.retry_after = retry_after;
        self
    }

    /// What went wrong, for branching.
    pub fn kind(&self) -> ErrorKind {
        self.0.kind
    }
    /// What happened, in a sentence (without the hint).
    pub fn message(&self) -> &str {
        &self.0.message
    }
    /// The setting or message field at fault, for config and validation errors
    /// (`to[2].address`, `AZURE_CLIENT_ID`).
    pub fn field(&self) -> Option<&str> {
        self.0.field.as_deref()
    }
    /// The service's own code: `AADSTS7000215`, `ErrorAccessDenied`, ...
    pub fn code(&self) -> Option<&str> {
        self.0.code.as_deref()
    }
    /// The request id Microsoft support asks for (Graph's `request-id`, the
    /// identity platform's trace id).
    pub fn request_id(&self) -> Option<&str> {
        self.0.request_id.as_deref()
    }
    /// The HTTP status, when the service answered.
    pub fn status(&self) -> Option<u16> {
        self.0.status
    }
    /// What a person can do about it.
    pub fn hint(&self) -> Option<&str> {
        self.0.hint.as_deref()
    }
    /// How long the service asked us to wait, for throttling.
    pub fn retry_after(&self) -> Option<Duration> {
        self.0.retry_after
    }
}

impl fmt::Display for Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0.message)?;
        match (&self.0.code, &self.0.request_id) {
            (Some(code), Some(id)) => write!(f, " (code {code}, request id {id})")?,
            (Some(code), None) => write!(f, " (code {code})")?,
            (None, Some(id)) => write!(f, " (request id {id})")?,
            (None, None) => {}
        }
        if let Some(hint) = &self.0.hint {
            write!(f, "\nhint: {hint}")?;
        }
        Ok(())
    }
}

impl std::error::Error for Error {}

/// The result of every graphmailer call.
pub type Result<T, E = Error> = std::result::Result<T, E>;

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn kinds_have_distinct_numbers_codes_and_exit_codes() {
        let mut numbers: Vec<u8> = ErrorKind::ALL.iter().map(|k| k.number()).collect();
        numbers.dedup();
        assert_eq!(numbers, (1..=10).collect::<Vec<u8>>());
        let codes: std::collections::HashSet<_> = ErrorKind::ALL.iter().map(|k| k.code()).collect();
        assert_eq!(codes.len(), ErrorKind::ALL.len());
        assert!(ErrorKind::ALL.iter().all(|k| k.exit_code() > 10));
    }

    #[test]
    fn display_carries_code_request_id_and_hint() {
        let e = Error::new(ErrorKind::AccessDenied, "refused")
            .with_code("ErrorAccessDenied")
            .with_request_id(Some("abc".into()))
            .with_hint("add the mailbox to the group");
        assert_eq!(
            e.to_string(),
            "refused (code ErrorAccessDenied, request id abc)\nhint: add the mailbox to the group"
        );
    }
}
