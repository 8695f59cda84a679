//! The one place where the core's errors become Python exceptions.
//!
//! The classes are defined in Python (`graphmailer/errors.py`, so they carry
//! typed attributes, docstrings and pickle support) and looked up here once.
//! Each core `ErrorKind` maps to one subclass of `GraphMailerError`; the
//! attributes are copied from the core error as they are, so the kind names,
//! codes and hints shown in Python are the core's own.

use pyo3::exceptions::{PyRuntimeError, PyTypeError, PyValueError};
use pyo3::prelude::*;
use pyo3::sync::PyOnceLock;
use pyo3::types::{PyDict, PyModule};

use graphmailer::{Error, ErrorKind};

/// The exception class for each kind of core error.
pub(crate) fn class_name(kind: ErrorKind) -> &'static str {
    match kind {
        ErrorKind::Config => "ConfigError",
        ErrorKind::InvalidMessage => "InvalidMessageError",
        ErrorKind::SenderNotAllowed => "SenderNotAllowedError",
        ErrorKind::Authentication => "AuthenticationError",
        ErrorKind::AccessDenied => "AccessDeniedError",
        ErrorKind::MailboxNotFound => "MailboxNotFoundError",
        ErrorKind::Throttled => "ThrottledError",
        ErrorKind::Transient => "TransientError",
        ErrorKind::AmbiguousDelivery => "AmbiguousDeliveryError",
        ErrorKind::Service => "ServiceError",
        // A kind added to core later still raises the base class.
        _ => "GraphMailerError",
    }
}

/// Every core kind as `(name, class name, number, code)`, in the core's
/// order: `("access_denied", "AccessDeniedError", 5, "ERR_ACCESS_DENIED")`.
pub(crate) fn kinds() -> Vec<(&'static str, &'static str, u8, &'static str)> {
    ErrorKind::ALL
        .iter()
        .map(|k| (k.name(), class_name(*k), k.number(), k.code()))
        .collect()
}

fn errors_module(py: Python<'_>) -> PyResult<&Bound<'_, PyModule>> {
    static MODULE: PyOnceLock<Py<PyModule>> = PyOnceLock::new();
    MODULE
        .get_or_try_init(py, || py.import("graphmailer.errors").map(Bound::unbind))
        .map(|m| m.bind(py))
}

/// The Python exception for a core error.
pub(crate) fn to_pyerr(py: Python<'_>, error: &Error) -> PyErr {
    build(py, error).unwrap_or_else(|lookup_failed| {
        // The package is broken (errors.py missing): still say what happened.
        let err = PyRuntimeError::new_err(error.to_string());
        err.set_cause(py, Some(lookup_failed));
        err
    })
}

fn build(py: Python<'_>, error: &Error) -> PyResult<PyErr> {
    let class = errors_module(py)?.getattr(class_name(error.kind()))?;
    let kwargs = PyDict::new(py);
    kwargs.set_item("kind", error.kind().name())?;
    kwargs.set_item("number", error.kind().number())?;
    kwargs.set_item("message", error.message())?;
    kwargs.set_item("code", error.code())?;
    kwargs.set_item("request_id", error.request_id())?;
    kwargs.set_item("hint", error.hint())?;
    kwargs.set_item("field", error.field())?;
    kwargs.set_item("status", error.status())?;
    kwargs.set_item("retry_after", error.retry_after().map(|d| d.as_secs_f64()))?;
    kwargs.set_item("retryable", error.kind().is_retryable())?;
    let value = class.call((error.to_string(),), Some(&kwargs))?;
    Ok(PyErr::from_value(value))
}

/// `?` for core results inside functions that hold the GIL.
pub(crate) trait OrRaise<T> {
    fn or_raise(self, py: Python<'_>) -> PyResult<T>;
}

impl<T> OrRaise<T> for graphmailer::Result<T> {
    fn or_raise(self, py: Python<'_>) -> PyResult<T> {
        self.map_err(|e| to_pyerr(py, &e))
    }
}

/// A `TypeError` that names the argument, what it takes and what it got.
pub(crate) fn wrong_type(arg: &str, expected: &str, got: &Bound<'_, PyAny>) -> PyErr {
    PyTypeError::new_err(format!(
        "{arg}: expected {expected}, got {}",
        type_name(got)
    ))
}

/// A `ValueError` that names the argument.
pub(crate) fn bad_value(arg: &str, why: impl std::fmt::Display) -> PyErr {
    PyValueError::new_err(format!("{arg}: {why}"))
}

/// The name of a value's type, for error messages.
pub(crate) fn type_name(value: &Bound<'_, PyAny>) -> String {
    value
        .get_type()
        .name()
        .map(|n| n.to_string())
        .unwrap_or_else(|_| "an object".to_owned())
}
