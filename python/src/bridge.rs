//! Waiting for the core's futures from Python: blocking with the GIL released
//! (and Ctrl-C still heard), or as an asyncio awaitable. Both run the future
//! on the core's one runtime, `graphmailer::blocking::runtime()`.

use std::future::Future;
use std::sync::mpsc;
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::Duration;

use pyo3::IntoPyObjectExt;
use pyo3::exceptions::PyRuntimeError;
use pyo3::prelude::*;
use pyo3::sync::PyOnceLock;
use pyo3::types::{PyModule, PyWeakrefMethods, PyWeakrefReference};

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
    let (tx, rx) = mpsc::sync_channel(1);
    let handover = graphmailer::Handover::new();
    let watching = handover.clone();
    let task = runtime().spawn(async move {
        let _ = tx.send(watching.watch(future).await);
    });
    match receive_interruptibly(py, rx) {
        Ok(Some(value)) => Ok(value),
        Ok(None) => {
            let e = Error::new(
                ErrorKind::Service,
                "graphmailer's worker stopped before the call finished",
            );
            Err(to_pyerr(py, &e))
        }
        Err(interrupted) => {
            task.abort();
            // The future is dropped on one of the runtime's threads, where
            // it may still log (a send stopped after its request went out
            // warns): waiting for that, without the GIL, lets the record
            // reach Python now instead of racing the program's end.
            py.detach(move || {
                let _ = graphmailer::blocking::wait(async move {
                    let _ = tokio::time::timeout(Duration::from_secs(1), task).await;
                });
            });
            if let Some(request) = handover.may_have_been_sent() {
                add_note(
                    py,
                    &interrupted,
                    &format!(
                        "graphmailer: {} (client-request-id {})",
                        request.hint(),
                        request.client_request_id
                    ),
                );
            }
            Err(interrupted)
        }
    }
}

/// Adds `note` to the exception that interrupted a call (PEP 678: shown
/// under its traceback, and in its `__notes__` for code that catches it).
/// Python before 3.11 has no `add_note`; the list is then set as PEP 678
/// describes for such versions.
fn add_note(py: Python<'_>, err: &PyErr, note: &str) {
    let value = err.value(py);
    if value.call_method1("add_note", (note,)).is_ok() {
        return;
    }
    let notes = value
        .getattr("__notes__")
        .ok()
        .and_then(|n| n.cast_into::<pyo3::types::PyList>().ok())
        .unwrap_or_else(|| pyo3::types::PyList::empty(py));
    if notes.append(note).is_ok() {
        let _ = value.setattr("__notes__", notes);
    }
}

/// The next value from `rx` (`None` once its sender is gone), waited for
/// with the GIL released, waking every `SIGNAL_CHECK_INTERVAL` to run
/// Python's signal handlers: the exception one raises (Ctrl-C) ends the
/// wait. Every blocking wait of the binding is this one.
pub(crate) fn receive_interruptibly<T: Send>(
    py: Python<'_>,
    rx: mpsc::Receiver<T>,
) -> PyResult<Option<T>> {
    graphmailer::blocking::block_in_place(move || {
        let mut rx = rx;
        loop {
            let (back, waited) = py.detach(move || {
                let waited = rx.recv_timeout(SIGNAL_CHECK_INTERVAL);
                (rx, waited)
            });
            rx = back;
            match waited {
                Ok(value) => return Ok(Some(value)),
                Err(mpsc::RecvTimeoutError::Timeout) => py.check_signals()?,
                Err(mpsc::RecvTimeoutError::Disconnected) => return Ok(None),
            }
        }
    })
}

/// An asyncio future for `future`, which runs on the core's runtime; the
/// event loop is never blocked, and cancelling the asyncio future stops the
/// Rust one. `method` names the caller in the error raised when no event
/// loop is running.
///
/// The runtime's worker hands the result to the loop's inbox without the
/// GIL (a worker that waited for the GIL could drive no other request
/// meanwhile) and wakes the loop through a socket it watches; the loop then
/// sets every result that is ready with the GIL it already holds. That is
/// one hand-off per result, as `call_soon_threadsafe` from the worker would
/// be, where a completer thread that took the GIL to call it made two
/// (bench/README.md, "Why asyncio is slower than `send`").
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
    let inbox = inbox_for(py, method, &event_loop)?;
    let py_future = event_loop.call_method0("create_future")?;
    let completion_future = py_future.clone().unbind();
    let task = runtime().spawn(async move {
        let outcome = settled_even_by_a_panic(future).await;
        let finish: Finish =
            Box::new(move |py| Outcome(outcome).into_bound_py_any(py).map(Bound::unbind));
        inbox.push(Completion {
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

/// `future`'s output, or an error if it panics: the blocking call learns of
/// a panic from its dropped channel, but an awaitable whose task died would
/// never be settled, and its `await` would hang for ever.
async fn settled_even_by_a_panic<T>(
    future: impl Future<Output = graphmailer::Result<T>>,
) -> graphmailer::Result<T> {
    let mut future = std::pin::pin!(future);
    std::future::poll_fn(move |cx| {
        match std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| future.as_mut().poll(cx))) {
            Ok(poll) => poll,
            Err(_) => std::task::Poll::Ready(Err(Error::new(
                ErrorKind::Service,
                "graphmailer's worker stopped before the call finished (a bug: please report it)",
            ))),
        }
    })
    .await
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
    future: Py<PyAny>,
    finish: Finish,
}

/// One event loop's finished calls, and the socket pair that wakes it.
struct Inbox {
    done: Mutex<Vec<Completion>>,
    wake: wake::Pair,
}

impl Inbox {
    /// From a runtime worker, without the GIL. Only the first result of a
    /// batch writes the wake-up byte: the loop drains them all at once.
    fn push(&self, completion: Completion) {
        let first = {
            let mut done = lock(&self.done);
            done.push(completion);
            done.len() == 1
        };
        if first {
            self.wake.wake();
        }
    }
}

/// The inbox of every event loop that awaited a call, by loop. A loop's
/// reader stays registered while it lives; the entry of a loop that was
/// closed, or dropped, goes when a new loop first awaits (its reader went
/// with its selector).
static INBOXES: Mutex<Vec<(LoopRef, Arc<Inbox>)>> = Mutex::new(Vec::new());

/// A loop as the list holds it: weakly where the loop allows, so that a
/// loop dropped without `close()` is not kept alive by graphmailer.
enum LoopRef {
    Weak(Py<PyWeakrefReference>),
    Strong(Py<PyAny>),
}

impl LoopRef {
    fn new(event_loop: &Bound<'_, PyAny>) -> LoopRef {
        match PyWeakrefReference::new(event_loop) {
            Ok(weak) => LoopRef::Weak(weak.unbind()),
            Err(_) => LoopRef::Strong(event_loop.clone().unbind()),
        }
    }

    /// The loop, unless it is gone. Compared by identity, never by
    /// address: a new loop may live where a dropped one did.
    fn get<'py>(&self, py: Python<'py>) -> Option<Bound<'py, PyAny>> {
        match self {
            LoopRef::Weak(weak) => weak.bind(py).upgrade(),
            LoopRef::Strong(event_loop) => Some(event_loop.bind(py).clone()),
        }
    }

    fn clone_ref(&self, py: Python<'_>) -> LoopRef {
        match self {
            LoopRef::Weak(weak) => LoopRef::Weak(weak.clone_ref(py)),
            LoopRef::Strong(event_loop) => LoopRef::Strong(event_loop.clone_ref(py)),
        }
    }

    fn is(&self, other: &LoopRef) -> bool {
        match (self, other) {
            (LoopRef::Weak(a), LoopRef::Weak(b)) => a.is(b),
            (LoopRef::Strong(a), LoopRef::Strong(b)) => a.is(b),
            _ => false,
        }
    }
}

fn inbox_for(py: Python<'_>, method: &str, event_loop: &Bound<'_, PyAny>) -> PyResult<Arc<Inbox>> {
    // Upgrading a weak reference runs no Python code, so the list may stay
    // locked meanwhile.
    let known = lock(&INBOXES)
        .iter()
        .find(|(l, _)| l.get(py).is_some_and(|l| l.is(event_loop)))
        .map(|(_, inbox)| inbox.clone());
    if let Some(inbox) = known {
        return Ok(inbox);
    }
    // Python is called with the list unlocked: code it runs (a loop's
    // methods, a finalizer) could await a call of ours on this thread.
    let loops: Vec<LoopRef> = lock(&INBOXES)
        .iter()
        .map(|(l, _)| l.clone_ref(py))
        .collect();
    let mut gone = Vec::new();
    for l in loops {
        let closed = match l.get(py) {
            Some(event_loop) => event_loop.call_method0("is_closed")?.is_truthy()?,
            None => true,
        };
        if closed {
            gone.push(l);
        }
    }
    let wake = wake::Pair::new().map_err(|e| {
        PyRuntimeError::new_err(format!(
            "graphmailer cannot make the socket that wakes the event loop: {e}"
        ))
    })?;
    let inbox = Arc::new(Inbox {
        done: Mutex::new(Vec::new()),
        wake,
    });
    let drain = Drain {
        inbox: inbox.clone(),
    };
    event_loop
        .call_method1("add_reader", (inbox.wake.fileno(), drain))
        .map_err(|cause| {
            let err = PyRuntimeError::new_err(format!(
                "{method}() needs an event loop that can watch a socket (add_reader), as asyncio's \
                 default loop on Linux and macOS and uvloop can; on Windows, run it on \
                 asyncio.SelectorEventLoop"
            ));
            err.set_cause(py, Some(cause));
            err
        })?;
    let forgotten: Vec<(LoopRef, Arc<Inbox>)> = {
        let mut all = lock(&INBOXES);
        let (forgotten, kept) = std::mem::take(&mut *all)
            .into_iter()
            .partition(|(l, _)| gone.iter().any(|g| g.is(l)));
        *all = kept;
        all.push((LoopRef::new(event_loop), inbox.clone()));
        forgotten
    };
    // Dropped unlocked, for the same reason.
    drop(forgotten);
    Ok(inbox)
}

/// The loop's reader for its inbox: sets each future's result or exception,
/// unless it was cancelled meanwhile.
#[pyclass]
struct Drain {
    inbox: Arc<Inbox>,
}

#[pymethods]
impl Drain {
    fn __call__(&self, py: Python<'_>) {
        // Read the wake-up bytes first: a result pushed after the take below
        // writes a new one, so none waits for the next batch.
        self.inbox.wake.clear();
        let batch = std::mem::take(&mut *lock(&self.inbox.done));
        for completion in batch {
            let future = completion.future.bind(py);
            // One failure must not strand the others' awaiters.
            if let Err(e) = resolve(py, future, completion.finish) {
                e.write_unraisable(py, Some(future));
            }
        }
    }
}

fn resolve(py: Python<'_>, future: &Bound<'_, PyAny>, finish: Finish) -> PyResult<()> {
    if future.call_method0("done")?.is_truthy()? {
        return Ok(());
    }
    match finish(py) {
        Ok(value) => future.call_method1("set_result", (value,))?,
        Err(e) => future.call_method1("set_exception", (e.into_value(py),))?,
    };
    Ok(())
}

/// The socket pair a loop watches for finished calls.
mod wake {
    use std::io::{self, Read, Write};

    #[cfg(unix)]
    type Stream = std::os::unix::net::UnixStream;
    #[cfg(not(unix))]
    type Stream = std::net::TcpStream;

    pub(super) struct Pair {
        writer: Stream,
        reader: Stream,
    }

    impl Pair {
        pub(super) fn new() -> io::Result<Pair> {
            let (writer, reader) = pair()?;
            writer.set_nonblocking(true)?;
            reader.set_nonblocking(true)?;
            Ok(Pair { writer, reader })
        }

        /// A full socket already holds a wake-up the loop has not read.
        pub(super) fn wake(&self) {
            let _ = (&self.writer).write(&[1]);
        }

        pub(super) fn clear(&self) {
            let mut bytes = [0u8; 64];
            while matches!((&self.reader).read(&mut bytes), Ok(n) if n > 0) {}
        }

        #[cfg(unix)]
        pub(super) fn fileno(&self) -> i64 {
            use std::os::fd::AsRawFd;
            i64::from(self.reader.as_raw_fd())
        }

        #[cfg(windows)]
        pub(super) fn fileno(&self) -> i64 {
            use std::os::windows::io::AsRawSocket;
            self.reader.as_raw_socket() as i64
        }
    }

    #[cfg(unix)]
    fn pair() -> io::Result<(Stream, Stream)> {
        Stream::pair()
    }

    /// No socketpair: a loopback connection.
    #[cfg(not(unix))]
    fn pair() -> io::Result<(Stream, Stream)> {
        let listener = std::net::TcpListener::bind((std::net::Ipv4Addr::LOCALHOST, 0))?;
        let writer = Stream::connect(listener.local_addr()?)?;
        let (reader, _) = listener.accept()?;
        Ok((writer, reader))
    }
}

fn lock<T>(mutex: &Mutex<T>) -> MutexGuard<'_, T> {
    mutex
        .lock()
        .unwrap_or_else(|poisoned| poisoned.into_inner())
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
