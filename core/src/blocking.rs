//! The blocking facade that the CLI, Python's sync API and the C library
//! share, so none of them builds its own runtime or its own way of waiting.

use std::future::Future;
use std::sync::OnceLock;
use std::sync::atomic::{AtomicBool, Ordering};

use std::time::Duration;

use crate::client::SendReceipt;
use crate::config::Config;
use crate::diagnose::Diagnosis;
use crate::error::{Error, ErrorKind, Result};
use crate::message::Message;
use crate::mime::MimeMessage;
use crate::progress::SendOptions;
use crate::verify::Verification;

/// The process-wide runtime graphmailer's own threads run on. Bindings spawn
/// their async work onto it too (Python's asyncio bridge, Node's promises go
/// through napi's own runtime).
///
/// Its threads block SIGPIPE: a write on a socket the peer has closed would
/// otherwise raise it in the writing thread, and its default action ends the
/// process. Rust programs, Python and Node ignore SIGPIPE, but a C host
/// usually does not, and the HTTP stack writes with `writev`, which (unlike
/// `send` with MSG_NOSIGNAL) raises it. Blocked in these threads only, their
/// writes fail with EPIPE instead, and the host's own handling is untouched.
///
/// It has two worker threads, or one in a process allowed a single CPU
/// (`taskset`, a container's CPU limit): there a second worker only adds
/// hand-offs between threads that take turns on that CPU (a fifth to a
/// quarter of a blocking send's CPU time, one at a time; bench/README.md).
pub fn runtime() -> &'static tokio::runtime::Runtime {
    static RUNTIME: OnceLock<tokio::runtime::Runtime> = OnceLock::new();
    RUNTIME.get_or_init(|| {
        let _ = RUNTIME_OWNER.set(std::process::id());
        note_forks();
        let workers = std::thread::available_parallelism().map_or(2, |n| n.get().min(2));
        tokio::runtime::Builder::new_multi_thread()
            .worker_threads(workers)
            .thread_name("graphmailer")
            .on_thread_start(|| {
                block_sigpipe();
                ON_RUNTIME_THREAD.set(true);
            })
            .enable_all()
            .build()
            .unwrap_or_else(|e| panic!("graphmailer cannot start its runtime threads: {e}"))
    })
}

thread_local! {
    /// True on the runtime's own threads, where a callback (a progress
    /// observer, a credential's assertion) may call the blocking API.
    static ON_RUNTIME_THREAD: std::cell::Cell<bool> = const { std::cell::Cell::new(false) };
}

/// The process that started the runtime's threads. `fork()` copies only the
/// calling thread, so in a forked child the runtime has no workers and
/// anything spawned onto it would wait forever.
static RUNTIME_OWNER: OnceLock<u32> = OnceLock::new();

/// Set in a child forked after the runtime started, by a `pthread_atfork`
/// handler: checking it costs nothing per call, where comparing process ids
/// is a system call on every send.
static FORKED: AtomicBool = AtomicBool::new(false);

fn note_forks() {
    #[cfg(unix)]
    {
        extern "C" fn in_child() {
            FORKED.store(true, Ordering::Relaxed);
        }
        // SAFETY: registers a handler that only stores to an atomic, which
        // is async-signal-safe as a forked child's handlers must be.
        unsafe {
            libc::pthread_atfork(None, None, Some(in_child));
        }
    }
}

/// Refuses to run in a child forked after graphmailer started its threads,
/// with an error that says what to do, instead of hanging. [`wait`] checks
/// it; bindings that spawn onto [`runtime`] themselves call it first.
pub fn ensure_not_forked() -> Result<()> {
    if !FORKED.load(Ordering::Relaxed) {
        return Ok(());
    }
    let me = std::process::id();
    let owner = RUNTIME_OWNER.get().copied().unwrap_or(0);
    Err(Error::new(
        ErrorKind::Config,
        format!(
            "graphmailer was already used in process {owner}, and this process ({me}) is a fork of it: \
             graphmailer's worker threads do not survive fork()"
        ),
    )
    .with_hint(
        "create every mailer only after the fork (for example in the worker's start-up hook, \
         not at import time with a pre-forking server)",
    ))
}

fn block_sigpipe() {
    #[cfg(unix)]
    // SAFETY: plain signal-mask calls on this thread's own mask, with a set
    // initialized by sigemptyset.
    unsafe {
        let mut block: libc::sigset_t = std::mem::zeroed();
        libc::sigemptyset(&mut block);
        libc::sigaddset(&mut block, libc::SIGPIPE);
        libc::pthread_sigmask(libc::SIG_BLOCK, &block, std::ptr::null_mut());
    }
}

/// The time between verify rounds when the caller names none (see
/// [`crate::default_interval`]); the bindings and the CLI all take it from here.
pub fn verify_interval(wait: Duration, interval: Option<Duration>) -> Duration {
    interval.unwrap_or_else(|| crate::verify::default_interval(wait))
}

/// Runs `future` on the shared runtime and waits for it. Safe to call from any
/// thread, including one that runs another async runtime (it blocks that
/// thread instead of panicking as `block_on` would).
///
/// The future runs on the runtime's threads, never the caller's: they block
/// SIGPIPE (see [`runtime`]) where a C host's thread may not, and the C
/// library documents its callbacks as called from them. Driving it with
/// `block_on` on the caller's thread saved thread wake-ups, but no gain
/// stood out of this machine's run-to-run noise (bench/README.md).
pub fn wait<F>(future: F) -> Result<F::Output>
where
    F: Future + Send + 'static,
    F::Output: Send + 'static,
{
    ensure_not_forked()?;
    let task = runtime().spawn(future);
    block_in_place(|| futures::executor::block_on(task)).map_err(|e| {
        Error::new(
            ErrorKind::Service,
            format!("graphmailer's worker stopped unexpectedly: {e}"),
        )
    })
}

/// Runs `wait`, which blocks until work on the runtime is done. Called on
/// one of the runtime's own threads (a callback that sends), that thread's
/// other tasks move to another thread first: with one worker, the work it
/// waits for could otherwise never run. Every blocking wait on the runtime
/// goes through here, the bindings' own too.
pub fn block_in_place<R>(wait: impl FnOnce() -> R) -> R {
    if ON_RUNTIME_THREAD.get() {
        tokio::task::block_in_place(wait)
    } else {
        wait()
    }
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

    /// Sends a message with options and waits for Graph's answer (see
    /// [`crate::Mailer::send_with`]). The progress observer runs on one of
    /// the runtime's threads, not the caller's.
    pub fn send_with(&self, message: &Message, options: &SendOptions) -> Result<SendReceipt> {
        let mailer = self.inner.clone();
        let (message, options) = (message.clone(), options.clone());
        wait(async move { mailer.send_with(&message, &options).await })?
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
