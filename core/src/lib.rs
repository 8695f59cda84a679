//! graphmailer: send mail through Microsoft Graph with app-only credentials.
//!
//! Business software gets a token with the OAuth2 client-credentials flow and
//! calls `POST /users/{sender}/sendMail`. This crate does that with the care
//! it needs: a shared, single-flight token cache refreshed ahead of expiry;
//! validation before any network call; a local sender allowlist; retries that
//! never send a mail twice; per-mailbox concurrency within Graph's limits; and
//! errors that carry the service's code, the request id and a hint.
//!
//! ```no_run
//! # async fn demo() -> graphmailer::Result<()> {
//! use graphmailer::{Mailer, Message};
//! let mailer = Mailer::from_env()?;
//! let message = Message::new("erp@contoso.com")
//!     .to(("Accounts", "accounts@example.com"))
//!     .subject("Invoice 4711")
//!     .text("Please find the invoice attached.");
//! let receipt = mailer.send(&message).await?;
//! println!("accepted, request id {:?}", receipt.request_id);
//! # Ok(()) }
//! ```
//!
//! Modules: [`config`] (settings, environment, clouds), [`message`] (the
//! model and its checks), [`policy`] (the sender allowlist), [`error`] (kinds,
//! codes, hints), [`diagnose`] (`doctor`), [`verify`] (is the tenant's
//! restriction in force?), [`powershell`] (the administrator's script),
//! [`sendmail`] (the rules of the `sendmail` stand-in), [`blocking`] (the
//! facade the CLI and the bindings share).
//!
//! Messages over Graph's 4 MB request limit go through a draft and upload
//! sessions when [`ConfigBuilder::large_messages`] is on; ready RFC 5322
//! messages go through [`Mailer::send_mime`].

mod address;
pub mod blocking;
mod certificate;
mod client;
mod cloud;
pub mod config;
mod connection_pool;
mod credential;
pub mod diagnose;
pub mod error;
#[cfg(any(fuzzing, test))]
#[doc(hidden)]
pub mod fuzzing;
mod graph_error;
mod handover;
mod headers;
mod hints;
mod http;
mod identity_endpoint;
mod large;
mod loopback;
mod mailbox_limiter;
mod mailer;
pub mod message;
mod message_limits;
mod mime;
mod mime_parts;
pub mod offload;
pub mod outbox;
pub mod policy;
pub mod powershell;
pub mod private_file;
mod progress;
mod readme;
mod report;
mod retry;
mod secret;
pub mod sendmail;
mod sent_items;
mod token;
mod upload;
pub mod verify;
mod wire;

pub use address::Address;
pub use certificate::ClientCertificate;
pub use client::{SendAttempt, SendReceipt};
pub use cloud::Cloud;
pub use config::{Config, ConfigBuilder};
pub use credential::{AssertionCallback, AssertionFuture, Credential, CredentialMode};
pub use diagnose::{Diagnosis, Finding, Severity};
pub use error::{Error, ErrorKind, Result};
pub use handover::{HandedOver, Handover, until_stopped};
pub use identity_endpoint::ManagedIdentity;
pub use mailer::Mailer;
pub use message::{Attachment, Body, BodyType, Content, Header, Importance, Message};
pub use mime::MimeMessage;
pub use outbox::{Outbox, QueueId, QueueState};
pub use policy::SenderPolicy;
pub use powershell::{PolicyRequest, PolicyStyle, grant_mail_send_script, policy_script};
pub use progress::{Progress, ProgressObserver, SendOptions};
pub use retry::RetryPolicy;
pub use secret::Secret;
pub use verify::{
    Expectation, Observed, Verification, VerifyRow, default_interval, parse_duration,
};

/// Microsoft's published limits that graphmailer enforces before sending.
pub mod limits {
    pub use crate::message_limits::*;
}

/// The library's version.
pub const VERSION: &str = env!("CARGO_PKG_VERSION");
