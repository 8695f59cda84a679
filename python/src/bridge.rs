//! Waiting for the core's futures from Python: blocking with the GIL released
//! (and Ctrl-C still heard), or as an asyncio awaitable. Both run the future
//! on the core's one runtime, `graphmailer::blocking::runtime()`.

use std::future::Future;
use std::sync::{Once, OnceLock};
use std::sync::mpsc;
use std::time::Duration;

use pyo3::IntoPyObjectExt;
use pyo3::exceptions::PyRuntimeError;
use pyo3::prelude::*;

use graphmailer::blocking::runtime;
use graphmailer::{Error, ErrorKind};

use crate::error::to_pyerr;

/// How often a blocking call wakes to let Python run signal handlers, so
/// Ctrl-C raises `KeyboardInterrupt` instead of waiting for the network.
const SIGNAL_CHECK_INTERVAL: Duration = Duration::from_millis(100);

/// The process that started the core's runtime threads. `fork()` copies
/// only the calling thread, so in a forked child the runtime has no workers
/// and anything spawned onto it would wait forever.
static RUNTIME_OWNER: OnceLock<u32> = OnceLock::new();

/// Call before anything that touches the core's runtime: refuses to run in a
/// child forked after graphmailer was used, with an error that says what to
/// do, instead of hanging.
// CORE-GAP: the core's process-wide runtime is not fork-safe (no way to
// build a new one in a forked child).
pub(crate) fn ensure_not_forked() -> PyResult<()> {
    let owner = *RUNTIME_OWNER.get_or_init(std::process::id);
    let me = std::process::id();
    if owner == me {
        return Ok(());
    }
    Err(PyRuntimeError::new_err(format!(
        "graphmailer was already used in process {owner}, and this process ({me}) is a fork of it: \
         graphmailer's worker threads do not survive fork(). Create every Mailer only after the fork \
         (for example in the worker's start-up hook, not at import time with a pre-forking server)"
    )))
}

/// Runs `future` on the core's runtime and waits for it with the GIL
/// released, waking every `SIGNAL_CHECK_INTERVAL` to run Python's signal
/// handlers. When one raises (Ctrl-C), the future is dropped and the
/// exception propagates.
pub(crate) fn wait_interruptibly<T, F>(py: Python<'_>, future: F) -> PyResult<T>
where
    F: Future<Output = T> + Send + 'static,
    T: Send + 'static,
{
    ensure_not_forked()?;
    let (tx, mut rx) = mpsc::sync_channel(1);
    let task = runtime().spawn(async move {
        let _ = tx.send(future.await);
    });
    loop {
        let (back, waited) = py.detach(move || {
            let waited = rx.recv_timeout(SIGNAL_CHECK_INTERVAL);
            (rx, waited)
        });
        rx = back;
        match waited {
            Ok(value) => return Ok(value),
            Err(mpsc::RecvTimeoutError::Timeout) => {
                if let Err(interrupted) = py.check_signals() {
                    task.abort();
                    return Err(interrupted);
                }
            }
            Err(mpsc::RecvTimeoutError::Disconnected) => {
                let e = Error::new(
                    ErrorKind::Service,
                    "graphmailer's worker stopped before the call finished",
                );
                return Err(to_pyerr(py, &e));
            }
        }
    }
}

/// An asyncio awaitable for `future`, which runs on the core's runtime; the
/// event loop is never blocked. `method` names the caller in the error raised
/// when no event loop is running.
pub(crate) fn awaitable<'py, T, F>(
    py: Python<'py>,
    method: &str,
    future: F,
) -> PyResult<Bound<'py, PyAny>>
where
    F: Future<Output = graphmailer::Result<T>> + Send + 'static,
    T: for<'a> IntoPyObject<'a> + Send + 'static,
{
    ensure_not_forked()?;
    static BRIDGE: Once = Once::new();
    BRIDGE.call_once(|| {
        // Fails only if already set, which can only be to this same runtime.
        let _ = pyo3_async_runtimes::tokio::init_with_runtime(runtime());
    });
    let locals = pyo3_async_runtimes::tokio::get_current_locals(py).map_err(|cause| {
        let err = PyRuntimeError::new_err(format!(
            "{method}() needs a running asyncio event loop: await it inside a coroutine \
             (async def), or call the blocking method instead"
        ));
        err.set_cause(py, Some(cause));
        err
    })?;
    pyo3_async_runtimes::tokio::future_into_py_with_locals(py, locals, async move {
        Ok(Outcome(future.await))
    })
}

/// A core result, turned into a Python value (or exception) only once the GIL
/// is held, on the thread that completes the awaitable.
pub(crate) struct Outcome<T>(pub graphmailer::Result<T>);

impl<'py, T> IntoPyObject<'py> for Outcome<T>
where
    T: IntoPyObject<'py>,
{
    type Target = PyAny;
    type Output = Bound<'py, PyAny>;
    type Error = PyErr;

    fn into_pyobject(self, py: Python<'py>) -> PyResult<Bound<'py, PyAny>> {
        match self.0 {
            Ok(value) => value.into_bound_py_any(py),
            Err(e) => Err(to_pyerr(py, &e)),
        }
    }
}
