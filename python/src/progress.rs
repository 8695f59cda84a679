//! `on_progress=` of `send` and `send_async`: core's upload progress handed to
//! a Python callable.

use pyo3::prelude::*;

use graphmailer::{Progress, SendOptions};

use crate::convert;
use crate::error::wrong_type;

/// How far a large message's attachments have gone up, as ``send``'s
/// ``on_progress`` callable receives it.
#[pyclass(name = "Progress", module = "graphmailer", frozen, eq)]
#[derive(PartialEq)]
pub(crate) struct PyProgress {
    inner: Progress,
}

#[pymethods]
impl PyProgress {
    /// The attachment's place in the message's list of attachments.
    #[getter]
    fn index(&self) -> usize {
        self.inner.index
    }
    /// The attachment's file name.
    #[getter]
    fn name(&self) -> &str {
        &self.inner.name
    }
    /// Bytes of this attachment the service has taken so far.
    #[getter]
    fn sent(&self) -> u64 {
        self.inner.sent
    }
    /// The attachment's size in bytes.
    #[getter]
    fn total(&self) -> u64 {
        self.inner.total
    }
    /// Bytes of all the message's attachments taken so far.
    #[getter]
    fn message_sent(&self) -> u64 {
        self.inner.message_sent
    }
    /// The size of all the message's attachments.
    #[getter]
    fn message_total(&self) -> u64 {
        self.inner.message_total
    }
    /// True on the last call only, once Graph accepted the message.
    #[getter]
    fn finished(&self) -> bool {
        self.inner.finished
    }

    fn __repr__(&self, py: Python<'_>) -> String {
        let p = &self.inner;
        format!(
            "Progress(index={}, name={}, sent={}, total={}, message_sent={}, message_total={}, finished={})",
            p.index,
            convert::repr(py, &p.name),
            p.sent,
            p.total,
            p.message_sent,
            p.message_total,
            if p.finished { "True" } else { "False" }
        )
    }
}

/// The send options for an `on_progress` argument (None: no observer).
///
/// The callable runs on graphmailer's own thread, with the GIL taken for the
/// call. An exception in it cannot reach the caller from there and must not
/// stop a send that may already be under way: it is reported as unraisable
/// (printed through `sys.unraisablehook`) and the upload goes on.
pub(crate) fn send_options(on_progress: Option<Bound<'_, PyAny>>) -> PyResult<SendOptions> {
    let callback = match on_progress.filter(|p| !p.is_none()) {
        Some(p) if p.is_callable() => p.unbind(),
        Some(p) => return Err(wrong_type("on_progress", "a callable (progress)", &p)),
        None => return Ok(SendOptions::new()),
    };
    Ok(SendOptions::new().on_progress(move |progress: &Progress| {
        let event = PyProgress {
            inner: progress.clone(),
        };
        Python::attach(|py| {
            if let Err(e) = callback.call1(py, (event,)) {
                e.write_unraisable(py, Some(callback.bind(py)));
            }
        });
    }))
}
