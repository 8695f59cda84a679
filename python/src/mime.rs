//! Ready RFC 5322 messages for `Mailer.send_mime` and `Outbox.enqueue_mime`:
//! bytes, an `email.message.Message` or a binary file object, handed to the
//! core's `MimeMessage`, which checks the message and its size. For a send,
//! a file object is read only up to just past what the mailer takes (the
//! core's `Mailer::read_mime`); for the queue, up to what any mailer takes
//! (a mailer given to `enqueue_mime` refuses the rest when the mail is
//! stored).

use std::io::Read;

use pyo3::exceptions::{PyTypeError, PyValueError};
use pyo3::prelude::*;
use pyo3::types::{PyByteArray, PyBytes, PyString};

use graphmailer::{Mailer, MimeMessage};

use crate::error::{type_name, wrong_type};

const EXPECTED: &str = "bytes, an email.message.Message or a binary file object";

/// The message argument of `send_mime` as the core's `MimeMessage`. The outer
/// result is a Python error (a wrong type, a failing `read()`), raised at
/// once; the inner one is the core's verdict on the message, which an async
/// send reports when awaited, as `send_async` does for a `Message`.
pub(crate) fn message(
    py: Python<'_>,
    arg: &str,
    value: &Bound<'_, PyAny>,
    mailer: Option<&Mailer>,
) -> PyResult<graphmailer::Result<MimeMessage>> {
    let read = |reader: &mut dyn Read| match mailer {
        Some(mailer) => mailer.read_mime(reader),
        None => MimeMessage::from_reader(reader),
    };
    if let Ok(bytes) = value.cast::<PyBytes>() {
        // `bytes` cannot change, so the copy can run without the GIL.
        let mut data = bytes.as_bytes();
        return Ok(py.detach(|| read(&mut data)));
    }
    if let Ok(array) = value.cast::<PyByteArray>() {
        // SAFETY: the GIL is held and no Python code runs while the core
        // copies the buffer, so nothing can resize it meanwhile.
        let mut data = unsafe { array.as_bytes() };
        return Ok(read(&mut data));
    }
    if value.is_instance_of::<PyString>() {
        return Err(PyTypeError::new_err(format!(
            "{arg}: expected {EXPECTED}, got str: a str could be the message's text or a file's path. \
             Pass the message as bytes (text.encode()) or an email.message.Message, or call \
             send_mime_file(path) to send a file"
        )));
    }
    let builtins = py.import("builtins")?;
    if value.is_instance(&builtins.getattr("memoryview")?)? {
        let copied = builtins.getattr("bytes")?.call1((value,))?;
        return message(py, arg, &copied, mailer);
    }
    if is_email_message(py, value)? {
        let bytes = value.call_method0("as_bytes")?;
        let bytes = bytes.cast::<PyBytes>().map_err(|_| {
            PyTypeError::new_err(format!(
                "{arg}.as_bytes() returned {}, expected bytes",
                type_name(&bytes)
            ))
        })?;
        return message(py, arg, bytes.as_any(), mailer);
    }
    if value.hasattr("read")? {
        let mut reader = FileReader {
            arg,
            file: value,
            error: None,
        };
        let parsed = read(&mut reader);
        return match reader.error {
            Some(e) => Err(e),
            None => Ok(parsed),
        };
    }
    if value.hasattr("__fspath__")? {
        return Err(PyTypeError::new_err(format!(
            "{arg}: expected {EXPECTED}, got {}: to send the message in a file, call send_mime_file(path)",
            type_name(value)
        )));
    }
    Err(wrong_type(arg, EXPECTED, value))
}

/// Whether `value` is an `email.message.Message` (an `EmailMessage` too).
/// Without the module loaded there can be no such object, so a send of bytes
/// never imports the `email` package.
fn is_email_message(py: Python<'_>, value: &Bound<'_, PyAny>) -> PyResult<bool> {
    let modules = py.import("sys")?.getattr("modules")?;
    match modules.call_method1("get", ("email.message",))? {
        module if module.is_none() => Ok(false),
        module => value.is_instance(&module.getattr("Message")?),
    }
}

/// A Python binary file object as a `Read`, for the core's `from_reader`. A
/// Python exception in `read()` is kept and raised as it is, not turned into
/// a message error.
struct FileReader<'a, 'py> {
    arg: &'a str,
    file: &'a Bound<'py, PyAny>,
    error: Option<PyErr>,
}

impl FileReader<'_, '_> {
    fn fail(&mut self, error: PyErr) -> std::io::Error {
        self.error = Some(error);
        std::io::Error::other("the file object's read() failed")
    }
}

impl Read for FileReader<'_, '_> {
    fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
        if buf.is_empty() || self.error.is_some() {
            return Ok(0);
        }
        let got = self
            .file
            .call_method1("read", (buf.len(),))
            .map_err(|e| self.fail(e))?;
        let copy = |data: &[u8], buf: &mut [u8]| {
            let n = data.len().min(buf.len());
            buf[..n].copy_from_slice(&data[..n]);
            (n, data.len() > buf.len())
        };
        let (n, too_much) = if let Ok(bytes) = got.cast::<PyBytes>() {
            copy(bytes.as_bytes(), buf)
        } else if let Ok(array) = got.cast::<PyByteArray>() {
            // SAFETY: as above, no Python code runs during the copy.
            copy(unsafe { array.as_bytes() }, buf)
        } else if got.is_instance_of::<PyString>() {
            return Err(self.fail(PyTypeError::new_err(format!(
                "{}: the file is open in text mode (read() returned str): open it in binary mode, \
                 open(path, 'rb'), or call send_mime_file(path)",
                self.arg
            ))));
        } else if got.is_none() {
            return Err(self.fail(PyValueError::new_err(format!(
                "{}: read() returned None (a non-blocking file with no data ready): \
                 give a blocking binary file",
                self.arg
            ))));
        } else {
            let e = PyTypeError::new_err(format!(
                "{}: read() returned {}, expected bytes",
                self.arg,
                type_name(&got)
            ));
            return Err(self.fail(e));
        };
        if too_much {
            return Err(self.fail(PyValueError::new_err(format!(
                "{}: read({}) returned more bytes than asked for",
                self.arg,
                buf.len()
            ))));
        }
        Ok(n)
    }
}
