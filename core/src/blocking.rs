//! The blocking facade that the CLI, Python's sync API and the C library
//! share, so none of them builds its own runtime or its own way of waiting.

use std::future::Future;
use std::sync::OnceLock;

use std::time::Duration;

use crate::client::SendReceipt;
use crate::config::Config;
use crate::diagnose::Diagnosis;
use crate::error::{Error, ErrorKind, Result};
use crate::message::Message;
use crate::mime::MimeMessage;
use crate::verify::Verification;

/// The process-wide runtime graphmailer's own threads run on. Bindings spawn
/// their async work onto it too (Python's asyncio bridge, Node's promises go
/// through napi's own runtime).
pub fn runtime() -> &'static tokio::runtime::Runtime {
    static RUNTIME: OnceLock<tokio::runtime::Runtime> = OnceLock::new();
    RUNTIME.get_or_init(|| {
        tokio::runtime::Builder::new_multi_thread()
            .worker_threads(2)
            .thread_name("graphmailer")
            .enable_all()
            .build()
            .unwrap_or_else(|e| panic!("graphmailer cannot start its runtime threads: {e}"))
    })
}

/// Runs `future` on the shared runtime and waits for it. Safe to call from any
/// thread, including one that runs another async runtime (it blocks that
/// thread instead of panicking as `block_on` would).
pub fn wait<F>(future: F) -> Result<F::Output>
where
    F: Future + Send + 'static,
    F::Output: Send + 'static,
{
    futures::executor::block_on(runtime().spawn(future)).map_err(|e| {
        Error::new(
            ErrorKind::Service,
            format!("graphmailer's worker stopped unexpectedly: {e}"),
        )
    })
}

/// A mailer whose calls block the calling thread until they finish.
#[derive(Clone, Debug)]
pub struct Mailer {
    inner: crate::Mailer,
}

impl Mailer {
    /// A blocking mailer for a checked configuration.
    pub fn new(config: Config) -> Result<Mailer> {
        // Built on the runtime so the HTTP client's pool belongs to it.
        let inner = wait(async move { crate::Mailer::new(config) })??;
        Ok(Mailer { inner })
    }

    /// A blocking mailer configured from the environment.
    pub fn from_env() -> Result<Mailer> {
        Mailer::new(Config::from_env()?)
    }

    /// Sends a message and waits for Graph's answer (see [`crate::Mailer::send`]).
    pub fn send(&self, message: &Message) -> Result<SendReceipt> {
        let mailer = self.inner.clone();
        let message = message.clone();
        wait(async move { mailer.send(&message).await })?
    }

    /// Sends a ready RFC 5322 message and waits for Graph's answer (see
    /// [`crate::Mailer::send_mime`]).
    pub fn send_mime(&self, sender: Option<&str>, message: &MimeMessage) -> Result<SendReceipt> {
        let mailer = self.inner.clone();
        let (sender, message) = (sender.map(str::to_owned), message.clone());
        wait(async move { mailer.send_mime(sender.as_deref(), &message).await })?
    }

    /// Gets a fresh token and explains it (see [`crate::Mailer::diagnose`]).
    pub fn diagnose(&self) -> Result<Diagnosis> {
        let mailer = self.inner.clone();
        wait(async move { mailer.diagnose().await })
    }

    /// One round of the tenant-restriction check (see [`crate::Mailer::verify`]).
    pub fn verify(&self, allowed: &[String], denied: &[String]) -> Result<Verification> {
        let (mailer, allowed, denied) = (self.inner.clone(), allowed.to_vec(), denied.to_vec());
        wait(async move { mailer.verify(&allowed, &denied).await })?
    }

    /// Repeats the check until it holds or `wait` has passed, calling
    /// `progress` after each round (see [`crate::Mailer::verify_until`]).
    pub fn verify_until(
        &self,
        allowed: &[String],
        denied: &[String],
        wait_for: Duration,
        interval: Duration,
        progress: impl FnMut(&Verification, Duration) + Send + 'static,
    ) -> Result<Verification> {
        let (mailer, allowed, denied) = (self.inner.clone(), allowed.to_vec(), denied.to_vec());
        wait(async move {
            mailer
                .verify_until(&allowed, &denied, wait_for, interval, progress)
                .await
        })?
    }

    /// The async mailer underneath, for callers that mix both styles.
    pub fn as_async(&self) -> &crate::Mailer {
        &self.inner
    }

    /// The configuration.
    pub fn config(&self) -> &Config {
        self.inner.config()
    }
}
