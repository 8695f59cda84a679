//! Waiting for the core's futures from Python: blocking with the GIL released
//! (and Ctrl-C still heard), or as an asyncio awaitable. Both run the future
//! on the core's one runtime, `graphmailer::blocking::runtime()`.

use std::future::Future;
use std::sync::mpsc;
use std::sync::{Condvar, Mutex, MutexGuard};
use std::time::Duration;

use pyo3::IntoPyObjectExt;
use pyo3::exceptions::PyRuntimeError;
use pyo3::prelude::*;
use pyo3::sync::PyOnceLock;
use pyo3::types::PyModule;

use graphmailer::blocking::runtime;
use graphmailer::{Error, ErrorKind};

use crate::error::to_pyerr;

/// How often a blocking call wakes to let Python run signal handlers, so
/// Ctrl-C raises `KeyboardInterrupt` instead of waiting for the network.
const SIGNAL_CHECK_INTERVAL: Duration = Duration::from_millis(100);

/// Call before anything that touches the core's runtime: in a child forked
/// after graphmailer was used, core refuses (instead of hanging) with an
/// error that says what to do, raised here as `RuntimeError`.
pub(crate) fn ensure_not_forked() -> PyResult<()> {
    graphmailer::blocking::ensure_not_forked().map_err(|e| {
        PyRuntimeError::new_err(format!("{}: {}", e.message(), e.hint().unwrap_or_default()))
    })
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

/// An asyncio future for `future`, which runs on the core's runtime; the
/// event loop is never blocked, and cancelling the asyncio future stops the
/// Rust one. `method` names the caller in the error raised when no event
/// loop is running.
///
/// The result is handed to the event loop by one completer thread, not by
/// the runtime's workers: taking the GIL can wait for the event loop's
/// thread (up to Python's switch interval), and a worker that waits cannot
/// drive other requests meanwhile. The completer also takes the GIL once for
/// every result that is ready, and wakes each loop once per batch.
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
    let event_loop = asyncio(py)?
        .call_method0("get_running_loop")
        .map_err(|cause| {
            let err = PyRuntimeError::new_err(format!(
                "{method}() needs a running asyncio event loop: await it inside a coroutine \
                 (async def), or call the blocking method instead"
            ));
            err.set_cause(py, Some(cause));
            err
        })?;
    let py_future = event_loop.call_method0("create_future")?;
    let completer = completer(py)?;
    let completion_loop = event_loop.unbind();
    let completion_future = py_future.clone().unbind();
    let task = runtime().spawn(async move {
        let outcome = future.await;
        let finish: Finish =
            Box::new(move |py| Outcome(outcome).into_bound_py_any(py).map(Bound::unbind));
        // Fails only when the completer is gone (interpreter shutdown).
        let _ = completer.send(Completion {
            event_loop: completion_loop,
            future: completion_future,
            finish,
        });
    });
    let on_done = CancelOnDone {
        task: task.abort_handle(),
    };
    py_future.call_method1("add_done_callback", (on_done,))?;
    Ok(py_future)
}

fn asyncio(py: Python<'_>) -> PyResult<&Bound<'_, PyModule>> {
    static ASYNCIO: PyOnceLock<Py<PyModule>> = PyOnceLock::new();
    ASYNCIO
        .get_or_try_init(py, || py.import("asyncio").map(Bound::unbind))
        .map(|m| m.bind(py))
}

/// Turns a finished core future's output into a Python value or exception.
type Finish = Box<dyn FnOnce(Python<'_>) -> PyResult<Py<PyAny>> + Send>;

/// A finished Rust future on its way to its asyncio future.
struct Completion {
    event_loop: Py<PyAny>,
    future: Py<PyAny>,
    finish: Finish,
}

/// The completer thread's queue, started with the first async call.
fn completer(py: Python<'_>) -> PyResult<mpsc::Sender<Completion>> {
    static QUEUE: Mutex<Option<mpsc::Sender<Completion>>> = Mutex::new(None);
    let mut queue = lock(&QUEUE);
    if let Some(tx) = queue.as_ref() {
        return Ok(tx.clone());
    }
    py.import("atexit")?
        .call_method1("register", (wrap_pyfunction!(stop_completer, py)?,))?;
    let (tx, rx) = mpsc::channel();
    std::thread::Builder::new()
        .name("graphmailer-asyncio".into())
        .spawn(move || complete(rx))
        .map_err(|e| {
            PyRuntimeError::new_err(format!("graphmailer cannot start its asyncio thread: {e}"))
        })?;
    *queue = Some(tx.clone());
    Ok(tx)
}

/// Whether the completer is inside Python, and whether the interpreter is
/// about to finalize; `IDLE` is signalled when it leaves Python.
struct CompleterState {
    in_python: bool,
    stopping: bool,
}

static STATE: Mutex<CompleterState> = Mutex::new(CompleterState {
    in_python: false,
    stopping: false,
});
static IDLE: Condvar = Condvar::new();

fn lock<T>(mutex: &Mutex<T>) -> MutexGuard<'_, T> {
    mutex
        .lock()
        .unwrap_or_else(|poisoned| poisoned.into_inner())
}

/// Run by `atexit`, before the interpreter finalizes: stops the completer
/// and waits until it is out of Python. Delivering a result releases the
/// GIL (`call_soon_threadsafe` writes the loop's wake-up byte), so the
/// program can leave `asyncio.run` and end meanwhile; a thread that retakes
/// the GIL during finalization is ended with `pthread_exit`, whose unwinding
/// cannot cross Rust frames and aborts the process.
#[pyfunction]
fn stop_completer(py: Python<'_>) {
    py.detach(|| {
        let mut state = lock(&STATE);
        state.stopping = true;
        while state.in_python {
            state = IDLE
                .wait(state)
                .unwrap_or_else(|poisoned| poisoned.into_inner());
        }
    });
}

/// The completer thread: waits for results without the GIL, then delivers
/// every one that is ready under one GIL acquisition.
fn complete(rx: mpsc::Receiver<Completion>) {
    while let Ok(first) = rx.recv() {
        let mut batch = vec![first];
        batch.extend(rx.try_iter());
        {
            let mut state = lock(&STATE);
            if state.stopping {
                // The program is ending: nobody is waiting any more.
                return;
            }
            state.in_python = true;
        }
        let delivered = Python::try_attach(|py| {
            // More may have finished while the GIL was being taken.
            batch.extend(rx.try_iter());
            deliver(py, std::mem::take(&mut batch));
        });
        lock(&STATE).in_python = false;
        IDLE.notify_all();
        if delivered.is_none() {
            // The interpreter is shutting down: nobody is waiting any more.
            return;
        }
    }
}

/// An asyncio future, whether it succeeded, and its result or exception.
type Resolution = (Py<PyAny>, bool, Py<PyAny>);

/// Resolves a batch: one `call_soon_threadsafe` (one wake-up) per event loop.
fn deliver(py: Python<'_>, batch: Vec<Completion>) {
    let mut by_loop: Vec<(Py<PyAny>, Vec<Resolution>)> = Vec::new();
    for c in batch {
        let (ok, value) = match (c.finish)(py) {
            Ok(value) => (true, value),
            Err(e) => (false, e.into_value(py).into_any()),
        };
        let entry = (c.future, ok, value);
        match by_loop.iter_mut().find(|(l, _)| l.is(&c.event_loop)) {
            Some((_, results)) => results.push(entry),
            None => by_loop.push((c.event_loop, vec![entry])),
        }
    }
    for (event_loop, results) in by_loop {
        let scheduled = wrap_pyfunction!(resolve, py).and_then(|resolve| {
            event_loop.call_method1(py, "call_soon_threadsafe", (resolve, results))
        });
        // A closed loop (its asyncio.run() returned) has nobody to tell.
        if let Err(e) = scheduled
            && !e.is_instance_of::<PyRuntimeError>(py)
        {
            e.write_unraisable(py, Some(event_loop.bind(py)));
        }
    }
}

/// Runs on the event loop: sets each future's result or exception, unless
/// it was cancelled meanwhile.
#[pyfunction]
fn resolve(results: Vec<(Bound<'_, PyAny>, bool, Bound<'_, PyAny>)>) -> PyResult<()> {
    for (future, ok, value) in results {
        if future.call_method0("done")?.is_truthy()? {
            continue;
        }
        if ok {
            future.call_method1("set_result", (value,))?;
        } else {
            future.call_method1("set_exception", (value,))?;
        }
    }
    Ok(())
}

/// The asyncio future's done-callback: a cancelled future stops its send.
#[pyclass]
struct CancelOnDone {
    task: tokio::task::AbortHandle,
}

#[pymethods]
impl CancelOnDone {
    fn __call__(&self, future: &Bound<'_, PyAny>) -> PyResult<()> {
        if future.call_method0("cancelled")?.is_truthy()? {
            self.task.abort();
        }
        Ok(())
    }
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
