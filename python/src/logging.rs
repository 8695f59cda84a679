//! The core's `tracing` events, forwarded to Python's `logging` under the
//! `graphmailer` logger.
//!
//! The core never puts a secret in an event (tokens and secrets are `Secret`
//! values that print `<redacted>`), so events are forwarded as they are.
//!
//! Taking the GIL on one of the runtime's threads costs time, so events are
//! filtered first, without the GIL, against the logger's effective level as
//! it was at the last call from Python (each send and each new mailer read it
//! again). Only events the logger wants cross over; they are then built into
//! a `LogRecord` whose file and line are the Rust source's.

use std::fmt::Write as _;
use std::sync::atomic::{AtomicBool, AtomicU8, AtomicUsize, Ordering};

use pyo3::prelude::*;
use pyo3::sync::PyOnceLock;
use pyo3::types::{PyDict, PyTuple};
use tracing::field::{Field, Visit};
use tracing::span::{Attributes, Id, Record};
use tracing::subscriber::Interest;
use tracing::{Event, Level, Metadata, Subscriber};

/// The Python logger's name, and the prefix of the core's event targets.
const LOGGER: &str = "graphmailer";

/// Python's numeric level below which events are dropped. Starts at
/// `WARNING`, Python's default, until the logger is first read.
static THRESHOLD: AtomicU8 = AtomicU8::new(WARNING);

/// Python's `logging.WARNING`, the root logger's level until configured.
const WARNING: u8 = 30;

/// Installs the forwarding subscriber for this extension's copy of `tracing`
/// (other Rust extensions in the process have their own), and the `atexit`
/// hook that closes the crossing (below) as the program ends.
pub(crate) fn install(py: Python<'_>) -> PyResult<()> {
    let _ = tracing::subscriber::set_global_default(PythonLogging);
    let close = pyo3::types::PyCFunction::new_closure(py, None, None, |args, _| {
        close_crossing(args.py());
    })?;
    py.import("atexit")?.call_method1("register", (close,))?;
    Ok(())
}

/// Events cross from graphmailer's threads into Python only while the
/// program runs: a thread that waits for the GIL once the interpreter has
/// begun to finalize is ended inside Rust's frames (SIGSEGV or SIGABRT),
/// and a send cancelled just before the end logs as its future is dropped,
/// on one of those threads. `atexit` hooks run before that point.
static OPEN: AtomicBool = AtomicBool::new(true);
/// Events past the check of `OPEN`, on their way into Python.
static CROSSING: AtomicUsize = AtomicUsize::new(0);

/// Closes the crossing, then lets the events already on their way in: they
/// wait for the GIL, which is given up here for up to a second.
fn close_crossing(py: Python<'_>) {
    OPEN.store(false, Ordering::SeqCst);
    py.detach(|| {
        let deadline = std::time::Instant::now() + std::time::Duration::from_secs(1);
        while CROSSING.load(Ordering::SeqCst) > 0 && std::time::Instant::now() < deadline {
            std::thread::sleep(std::time::Duration::from_millis(1));
        }
    });
}

static LOGGER_CELL: PyOnceLock<Py<PyAny>> = PyOnceLock::new();

fn logger(py: Python<'_>) -> PyResult<&Bound<'_, PyAny>> {
    LOGGER_CELL
        .get_or_try_init(py, || {
            Ok::<_, PyErr>(
                py.import("logging")?
                    .call_method1("getLogger", (LOGGER,))?
                    .unbind(),
            )
        })
        .map(|l| l.bind(py))
}

/// Whether the program has imported `logging`. Until it has, nothing can
/// have configured it, so the level is Python's default: importing it then
/// would only cost the cold start (a few milliseconds), and waits for the
/// first record that passes (a warning, which `logging` prints to stderr).
fn logging_imported(py: Python<'_>) -> bool {
    // `sys.modules` itself is found once: importing `sys` on every call went
    // through `__import__` each time (1 to 2 µs a call here).
    static MODULES: PyOnceLock<Py<PyAny>> = PyOnceLock::new();
    MODULES
        .get_or_try_init(py, || {
            py.import("sys")
                .and_then(|sys| sys.getattr("modules"))
                .map(Bound::unbind)
        })
        .and_then(|modules| modules.bind(py).contains("logging"))
        .unwrap_or(true)
}

/// Reads the logger's effective level again; called on each entry from Python.
pub(crate) fn refresh(py: Python<'_>) {
    if LOGGER_CELL.get(py).is_none() && !logging_imported(py) {
        THRESHOLD.store(WARNING, Ordering::Relaxed);
        return;
    }
    let level = logger(py)
        .and_then(|l| l.call_method0("getEffectiveLevel"))
        .and_then(|l| l.extract::<i64>());
    if let Ok(level) = level {
        THRESHOLD.store(level.clamp(0, u8::MAX as i64) as u8, Ordering::Relaxed);
    }
}

const fn python_level(level: &Level) -> u8 {
    match *level {
        Level::ERROR => 40,
        Level::WARN => WARNING,
        Level::INFO => 20,
        Level::DEBUG => 10,
        Level::TRACE => 5,
    }
}

// Python has no TRACE: it must stay below DEBUG, so that a logger at DEBUG
// does not take it. Checked when the extension compiles; the Python tests
// check the levels Python names against `logging`'s own numbers.
const _: () = assert!(python_level(&Level::TRACE) < python_level(&Level::DEBUG));

fn is_ours(metadata: &Metadata<'_>) -> bool {
    let target = metadata.target();
    metadata.is_event() && (target == LOGGER || target.starts_with("graphmailer::"))
}

struct PythonLogging;

impl Subscriber for PythonLogging {
    fn register_callsite(&self, metadata: &'static Metadata<'static>) -> Interest {
        // Only the core's events; the level is decided per event, as Python's
        // logging configuration may change at any time.
        if is_ours(metadata) {
            Interest::sometimes()
        } else {
            Interest::never()
        }
    }

    fn enabled(&self, metadata: &Metadata<'_>) -> bool {
        is_ours(metadata) && python_level(metadata.level()) >= THRESHOLD.load(Ordering::Relaxed)
    }

    fn new_span(&self, _: &Attributes<'_>) -> Id {
        Id::from_u64(1)
    }
    fn record(&self, _: &Id, _: &Record<'_>) {}
    fn record_follows_from(&self, _: &Id, _: &Id) {}
    fn enter(&self, _: &Id) {}
    fn exit(&self, _: &Id) {}

    fn event(&self, event: &Event<'_>) {
        let mut fields = Fields::default();
        event.record(&mut fields);
        let metadata = event.metadata();
        // Never let a logging failure (or a panic in a handler's conversion)
        // reach the runtime's thread; as the program ends, drop the event.
        CROSSING.fetch_add(1, Ordering::SeqCst);
        if OPEN.load(Ordering::SeqCst) {
            let _ = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
                Python::try_attach(|py| {
                    if let Err(e) = emit(py, metadata, fields) {
                        e.write_unraisable(py, None);
                    }
                })
            }));
        }
        CROSSING.fetch_sub(1, Ordering::SeqCst);
    }
}

fn emit(py: Python<'_>, metadata: &Metadata<'_>, fields: Fields) -> PyResult<()> {
    let logger = logger(py)?;
    let level = python_level(metadata.level());
    if !logger.call_method1("isEnabledFor", (level,))?.is_truthy()? {
        return Ok(());
    }
    let mut text = fields.message;
    let extra_fields = PyDict::new(py);
    for (name, value) in &fields.values {
        let _ = write!(text, " {name}={}", value.display());
        match value {
            Value::Text(s) => extra_fields.set_item(name, s)?,
            Value::Int(i) => extra_fields.set_item(name, i)?,
            Value::Uint(u) => extra_fields.set_item(name, u)?,
            Value::Bool(b) => extra_fields.set_item(name, b)?,
            Value::Float(f) => extra_fields.set_item(name, f)?,
        }
    }
    let extra = PyDict::new(py);
    extra.set_item("fields", extra_fields)?;
    extra.set_item("rust_target", metadata.target())?;
    let record = logger.call_method1(
        "makeRecord",
        (
            LOGGER,
            level,
            metadata.file().unwrap_or("<rust>"),
            metadata.line().unwrap_or(0),
            text,
            PyTuple::empty(py),
            py.None(),
            metadata.module_path(),
            extra,
        ),
    )?;
    logger.call_method1("handle", (record,))?;
    Ok(())
}

enum Value {
    Text(String),
    Int(i64),
    Uint(u64),
    Bool(bool),
    Float(f64),
}

impl Value {
    fn display(&self) -> String {
        match self {
            Value::Text(s) if s.is_empty() || s.contains(' ') => format!("{s:?}"),
            Value::Text(s) => s.clone(),
            Value::Int(i) => i.to_string(),
            Value::Uint(u) => u.to_string(),
            Value::Bool(b) => b.to_string(),
            Value::Float(f) => f.to_string(),
        }
    }
}

#[derive(Default)]
struct Fields {
    message: String,
    values: Vec<(&'static str, Value)>,
}

impl Fields {
    fn push(&mut self, field: &Field, value: Value) {
        if field.name() == "message" {
            if let Value::Text(s) = value {
                self.message = s;
            }
        } else {
            self.values.push((field.name(), value));
        }
    }
}

impl Visit for Fields {
    fn record_str(&mut self, field: &Field, value: &str) {
        self.push(field, Value::Text(value.to_owned()));
    }
    fn record_i64(&mut self, field: &Field, value: i64) {
        self.push(field, Value::Int(value));
    }
    fn record_u64(&mut self, field: &Field, value: u64) {
        self.push(field, Value::Uint(value));
    }
    fn record_bool(&mut self, field: &Field, value: bool) {
        self.push(field, Value::Bool(value));
    }
    fn record_f64(&mut self, field: &Field, value: f64) {
        self.push(field, Value::Float(value));
    }
    fn record_debug(&mut self, field: &Field, value: &dyn std::fmt::Debug) {
        self.push(field, Value::Text(format!("{value:?}")));
    }
}
