//! Failures, the per-thread last error, and the one wrapper every fallible
//! `extern "C"` body runs in (it catches panics so none crosses into C).

use std::cell::RefCell;
use std::ffi::{CString, c_char};
use std::panic::{AssertUnwindSafe, catch_unwind};
use std::ptr;

use crate::status::graphmailer_status::{self, *};

/// Why a call failed: an error of the core, or a problem at the boundary.
#[derive(Debug)]
pub(crate) enum Failure {
    Core(gm_core::Error),
    Boundary {
        status: graphmailer_status,
        field: Option<String>,
        message: String,
    },
}

impl Failure {
    fn boundary(status: graphmailer_status, field: &str, message: String) -> Self {
        Failure::Boundary {
            status,
            field: Some(field.to_owned()),
            message,
        }
    }
    pub(crate) fn null(arg: &str) -> Self {
        Failure::boundary(
            GRAPHMAILER_ERR_NULL_ARGUMENT,
            arg,
            format!("argument '{arg}' is NULL"),
        )
    }
    pub(crate) fn utf8(arg: &str, valid_up_to: usize) -> Self {
        Failure::boundary(
            GRAPHMAILER_ERR_INVALID_UTF8,
            arg,
            format!(
                "argument '{arg}' is not valid UTF-8 (the first bad byte is at offset {valid_up_to})"
            ),
        )
    }
    pub(crate) fn invalid(arg: &str, why: String) -> Self {
        Failure::boundary(
            GRAPHMAILER_ERR_INVALID_ARGUMENT,
            arg,
            format!("argument '{arg}' {why}"),
        )
    }
    pub(crate) fn handle(arg: &str, why: String) -> Self {
        Failure::boundary(
            GRAPHMAILER_ERR_INVALID_HANDLE,
            arg,
            format!("argument '{arg}' {why}"),
        )
    }
    pub(crate) fn forked() -> Self {
        Failure::Boundary {
            status: GRAPHMAILER_ERR_FORKED,
            field: None,
            message: "this process was forked after graphmailer started its worker threads, which stay in \
                      the parent: send from the parent, or create the first mailer only after forking"
                .into(),
        }
    }

    fn status(&self) -> graphmailer_status {
        match self {
            Failure::Core(e) => graphmailer_status::from_kind(e.kind()),
            Failure::Boundary { status, .. } => *status,
        }
    }
}

impl From<gm_core::Error> for Failure {
    fn from(e: gm_core::Error) -> Self {
        Failure::Core(e)
    }
}

/// What the graphmailer_last_error_* functions read, as C strings.
struct LastError {
    status: graphmailer_status,
    message: CString,
    field: Option<CString>,
    code: Option<CString>,
    request_id: Option<CString>,
    hint: Option<CString>,
    http_status: u16,
    retry_after_ms: u64,
}

thread_local! {
    static LAST_ERROR: RefCell<Option<LastError>> = const { RefCell::new(None) };
}

/// A C string of any text: a NUL inside (which no graphmailer text holds)
/// would cut it, so it is replaced.
pub(crate) fn c_string(s: &str) -> CString {
    CString::new(s.replace('\0', "?")).unwrap_or_default()
}

fn remember(function: &str, failure: Failure) {
    let status = failure.status();
    let last = match failure {
        Failure::Core(e) => LastError {
            status,
            message: c_string(e.message()),
            field: e.field().map(c_string),
            code: e.code().map(c_string),
            request_id: e.request_id().map(c_string),
            hint: e.hint().map(c_string),
            http_status: e.status().unwrap_or(0),
            retry_after_ms: e
                .retry_after()
                .map_or(0, |d| u64::try_from(d.as_millis()).unwrap_or(u64::MAX)),
        },
        Failure::Boundary { field, message, .. } => LastError {
            status,
            message: c_string(&format!("{function}: {message}")),
            field: field.as_deref().map(c_string),
            code: None,
            request_id: None,
            hint: None,
            http_status: 0,
            retry_after_ms: 0,
        },
    };
    // try_with: during thread teardown the slot may be gone; the status still tells.
    let _ = LAST_ERROR.try_with(|slot| *slot.borrow_mut() = Some(last));
}

fn forget() {
    let _ = LAST_ERROR.try_with(|slot| slot.borrow_mut().take());
}

/// Runs the body of a fallible `extern "C"` function: clears the thread's
/// last error, catches any panic, and turns the outcome into a status.
pub(crate) fn call(
    function: &str,
    body: impl FnOnce() -> Result<(), Failure>,
) -> graphmailer_status {
    forget();
    let failure = match catch_unwind(AssertUnwindSafe(body)) {
        Ok(Ok(())) => return GRAPHMAILER_OK,
        Ok(Err(failure)) => failure,
        Err(panic) => {
            let what = panic
                .downcast_ref::<&str>()
                .map(|s| s.to_string())
                .or_else(|| panic.downcast_ref::<String>().cloned())
                .unwrap_or_else(|| "unknown panic".into());
            // A payload whose drop panics again must not unwind into C either.
            if let Err(again) = catch_unwind(AssertUnwindSafe(move || drop(panic))) {
                std::mem::forget(again);
            }
            Failure::Boundary {
                status: GRAPHMAILER_ERR_INTERNAL,
                field: None,
                message: format!("internal error (please report it): {what}"),
            }
        }
    };
    let status = failure.status();
    // Formatting the details could itself panic (out of memory): still no unwind into C.
    if catch_unwind(AssertUnwindSafe(|| remember(function, failure))).is_err() {
        forget();
    }
    status
}

/// Runs an infallible getter body so that a panic still cannot cross into C.
pub(crate) fn quietly<T>(fallback: T, body: impl FnOnce() -> T) -> T {
    catch_unwind(AssertUnwindSafe(body)).unwrap_or(fallback)
}

fn read<T>(fallback: T, f: impl FnOnce(&LastError) -> T) -> T {
    quietly(None, || {
        LAST_ERROR
            .try_with(|slot| slot.borrow().as_ref().map(f))
            .ok()
            .flatten()
    })
    .unwrap_or(fallback)
}

fn read_str(f: impl FnOnce(&LastError) -> Option<&CString>) -> *const c_char {
    read(ptr::null(), |e| f(e).map_or(ptr::null(), |s| s.as_ptr()))
}

/// The status of the latest failed call on this thread, or GRAPHMAILER_OK when
/// the latest call succeeded.
#[unsafe(no_mangle)]
pub extern "C" fn graphmailer_last_error_status() -> graphmailer_status {
    read(GRAPHMAILER_OK, |e| e.status)
}

/// What went wrong in the latest call on this thread, in a sentence; NULL when
/// it succeeded. Borrowed until the next graphmailer call that returns a
/// graphmailer_status on this thread.
#[unsafe(no_mangle)]
pub extern "C" fn graphmailer_last_error_message() -> *const c_char {
    read(ptr::null(), |e| e.message.as_ptr())
}

/// The setting, message part or argument at fault ("AZURE_TENANT_ID",
/// "cc[1].address", "sender"), or NULL. Borrowed like the message.
#[unsafe(no_mangle)]
pub extern "C" fn graphmailer_last_error_field() -> *const c_char {
    read_str(|e| e.field.as_ref())
}

/// The service's own code ("AADSTS7000215", "ErrorAccessDenied"), or NULL.
/// Borrowed like the message.
#[unsafe(no_mangle)]
pub extern "C" fn graphmailer_last_error_code() -> *const c_char {
    read_str(|e| e.code.as_ref())
}

/// The request id Microsoft support asks for (Graph's request-id, the
/// identity platform's trace id), or NULL. Borrowed like the message.
#[unsafe(no_mangle)]
pub extern "C" fn graphmailer_last_error_request_id() -> *const c_char {
    read_str(|e| e.request_id.as_ref())
}

/// What a person can do about it, or NULL. Borrowed like the message.
#[unsafe(no_mangle)]
pub extern "C" fn graphmailer_last_error_hint() -> *const c_char {
    read_str(|e| e.hint.as_ref())
}

/// The HTTP status the service answered with, or 0.
#[unsafe(no_mangle)]
pub extern "C" fn graphmailer_last_error_http_status() -> u16 {
    read(0, |e| e.http_status)
}

/// How long the service asked to wait before trying again, in milliseconds,
/// or 0.
#[unsafe(no_mangle)]
pub extern "C" fn graphmailer_last_error_retry_after_ms() -> u64 {
    read(0, |e| e.retry_after_ms)
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::ffi::CStr;

    fn text(p: *const c_char) -> Option<String> {
        (!p.is_null()).then(|| unsafe { CStr::from_ptr(p) }.to_str().unwrap().to_owned())
    }

    #[test]
    fn a_panic_becomes_an_internal_status_with_its_message() {
        let status = call("graphmailer_test", || panic!("boom at the boundary"));
        assert_eq!(status, GRAPHMAILER_ERR_INTERNAL);
        assert_eq!(graphmailer_last_error_status(), GRAPHMAILER_ERR_INTERNAL);
        let message = text(graphmailer_last_error_message()).unwrap();
        assert!(message.contains("boom at the boundary"), "{message}");
        assert!(message.starts_with("graphmailer_test: "), "{message}");
    }

    #[test]
    fn success_clears_the_last_error_and_failures_name_the_argument() {
        assert_eq!(
            call("f", || Err(Failure::null("sender"))),
            GRAPHMAILER_ERR_NULL_ARGUMENT
        );
        assert_eq!(
            text(graphmailer_last_error_field()).as_deref(),
            Some("sender")
        );
        assert_eq!(call("f", || Ok(())), GRAPHMAILER_OK);
        assert_eq!(graphmailer_last_error_status(), GRAPHMAILER_OK);
        assert!(graphmailer_last_error_message().is_null());
        assert!(graphmailer_last_error_field().is_null());
    }
}
