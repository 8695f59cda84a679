//! The `graphmailer._graphmailer` extension module: the Python face of the
//! graphmailer core.
//!
//! This crate only converts Python values to the core's types, maps the
//! core's errors to Python exceptions (`error.rs`), and deals with the GIL and
//! asyncio (`bridge.rs`). Every rule lives in the `graphmailer` crate.
//!
//! Modules: [`convert`] (Python arguments to core values), [`message`]
//! (`Message`, `Attachment`, `Address`), [`mime`] (ready RFC 5322 messages
//! for `send_mime`), [`outbox`] (`Outbox`, the durable queue), [`credential`]
//! (`ClientCertificate`), [`mailer`] (`Mailer`, `SendReceipt`), [`admin`]
//! (`Diagnosis`, `Verification`, `policy_script`), [`bridge`] (blocking waits
//! with the GIL released, asyncio awaitables), [`error`] (one mapping of
//! error kinds to exception classes), [`logging`] (the core's `tracing`
//! events to Python's `logging`).

use pyo3::prelude::*;
use pyo3::types::PyTuple;

mod admin;
mod bridge;
mod convert;
mod credential;
mod error;
mod logging;
mod mailer;
mod message;
mod mime;
mod outbox;
mod progress;

/// The native part of the `graphmailer` package; import `graphmailer` instead.
#[pymodule]
fn _graphmailer(m: &Bound<'_, PyModule>) -> PyResult<()> {
    logging::install(m.py())?;
    m.add("__version__", graphmailer::VERSION)?;
    // Private, so not in `__all__` (which `add` extends): for the test that
    // holds the stub's `_MessageParts` to the Rust declaration.
    m.setattr(
        "_MESSAGE_KEYWORDS",
        pyo3::types::PyTuple::new(m.py(), message::Parts::KEYWORDS.iter().copied())?,
    )?;
    m.add_class::<mailer::PyMailer>()?;
    m.add_class::<mailer::PySendReceipt>()?;
    m.add_class::<progress::PyProgress>()?;
    m.add_class::<message::PyMessage>()?;
    m.add_class::<message::PyAttachment>()?;
    m.add_class::<message::PyAddress>()?;
    m.add_class::<credential::PyClientCertificate>()?;
    m.add_class::<outbox::PyOutbox>()?;
    m.add_class::<outbox::PyQueuedMail>()?;
    m.add_class::<outbox::PyQueueStats>()?;
    m.add_class::<outbox::PyRunSummary>()?;
    m.add_class::<admin::PyDiagnosis>()?;
    m.add_class::<admin::PyFinding>()?;
    m.add_class::<admin::PyVerification>()?;
    m.add_class::<admin::PyVerifyRow>()?;
    m.add_function(wrap_pyfunction!(admin::policy_script, m)?)?;
    m.add(
        "POLICY_WARNINGS",
        PyTuple::new(m.py(), admin::policy_warnings())?,
    )?;
    m.add("ERROR_KINDS", PyTuple::new(m.py(), error::kinds())?)?;
    Ok(())
}
