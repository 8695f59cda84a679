//! The blocking facade that the CLI, Python's sync API and the C library
//! share, so none of them builds its own runtime or its own way of waiting.

use std::future::Future;
use std::sync::OnceLock;

use crate::config::Config;
use crate::error::{Error, ErrorKind, Result};
use crate::graph::SendReceipt;
use crate::message::Message;

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
        Error::new(ErrorKind::Service, format!("graphmailer's worker stopped unexpectedly: {e}"))
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

    /// The async mailer underneath, for callers that mix both styles.
    pub fn as_async(&self) -> &crate::Mailer {
        &self.inner
    }

    /// The configuration.
    pub fn config(&self) -> &Config {
        self.inner.config()
    }
}
