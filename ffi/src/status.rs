//! The one status enum every fallible function returns, and its names.

use std::ffi::{CStr, c_char};

use gm_core::ErrorKind;

/// The result of every graphmailer function that can fail.
///
/// The numbers are pinned and never change meaning: 0 is success, 1 to 10 are
/// the core's error kinds (the same numbers as `ErrorKind::number()` in Rust,
/// the Python exception classes and Node's `err.code`), 100 and up are
/// failures at the C boundary itself. Branch on the value; read the details
/// with the graphmailer_last_error_* functions.
#[repr(u32)]
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[allow(non_camel_case_types)]
pub enum graphmailer_status {
    /// Success.
    GRAPHMAILER_OK = 0,
    /// The configuration is incomplete or wrong; the field names the setting.
    GRAPHMAILER_ERR_CONFIG = 1,
    /// The message was refused before sending (the field names the part at
    /// fault), or by Graph as malformed.
    GRAPHMAILER_ERR_INVALID_MESSAGE = 2,
    /// The sender is outside the mailer's allowed senders; nothing was sent.
    GRAPHMAILER_ERR_SENDER_NOT_ALLOWED = 3,
    /// The identity platform refused the app's credentials, or Graph refused the token.
    GRAPHMAILER_ERR_AUTHENTICATION = 4,
    /// Graph refused the app for this mailbox (access policy, missing role).
    GRAPHMAILER_ERR_ACCESS_DENIED = 5,
    /// The mailbox does not exist or has no Exchange Online mailbox.
    GRAPHMAILER_ERR_MAILBOX_NOT_FOUND = 6,
    /// Graph kept throttling after the allowed retries; try again later.
    GRAPHMAILER_ERR_THROTTLED = 7,
    /// The service or network failed before the mail was handed over; safe to retry later.
    GRAPHMAILER_ERR_TRANSIENT = 8,
    /// The request may have reached Microsoft but no answer came back: the
    /// mail may or may not have gone out, so it was not retried.
    GRAPHMAILER_ERR_AMBIGUOUS_DELIVERY = 9,
    /// Any other answer from the service.
    GRAPHMAILER_ERR_SERVICE = 10,
    /// A required pointer argument was NULL; the field names the argument.
    GRAPHMAILER_ERR_NULL_ARGUMENT = 100,
    /// A string argument is not valid UTF-8; the field names the argument.
    GRAPHMAILER_ERR_INVALID_UTF8 = 101,
    /// An argument is out of range: longer than GRAPHMAILER_MAX_INPUT_BYTES,
    /// or a number the library cannot represent; the field names the argument.
    GRAPHMAILER_ERR_INVALID_ARGUMENT = 102,
    /// A handle was freed already, was never issued, or is of another type.
    GRAPHMAILER_ERR_INVALID_HANDLE = 103,
    /// A bug inside graphmailer was caught at the boundary (a Rust panic);
    /// the process is unharmed, the message says what failed.
    GRAPHMAILER_ERR_INTERNAL = 104,
    /// Called in a child process after fork(): graphmailer's worker threads
    /// exist only in the process that started them.
    GRAPHMAILER_ERR_FORKED = 105,
}

use graphmailer_status::*;

/// Binding-level statuses and their names (the core's kinds name themselves).
const BINDING_NAMES: [(graphmailer_status, &CStr); 7] = [
    (GRAPHMAILER_OK, c"ok"),
    (GRAPHMAILER_ERR_NULL_ARGUMENT, c"null_argument"),
    (GRAPHMAILER_ERR_INVALID_UTF8, c"invalid_utf8"),
    (GRAPHMAILER_ERR_INVALID_ARGUMENT, c"invalid_argument"),
    (GRAPHMAILER_ERR_INVALID_HANDLE, c"invalid_handle"),
    (GRAPHMAILER_ERR_INTERNAL, c"internal"),
    (GRAPHMAILER_ERR_FORKED, c"forked"),
];

impl graphmailer_status {
    /// The status of a core error kind: the same number.
    pub(crate) fn from_kind(kind: ErrorKind) -> Self {
        match kind.number() {
            1 => GRAPHMAILER_ERR_CONFIG,
            2 => GRAPHMAILER_ERR_INVALID_MESSAGE,
            3 => GRAPHMAILER_ERR_SENDER_NOT_ALLOWED,
            4 => GRAPHMAILER_ERR_AUTHENTICATION,
            5 => GRAPHMAILER_ERR_ACCESS_DENIED,
            6 => GRAPHMAILER_ERR_MAILBOX_NOT_FOUND,
            7 => GRAPHMAILER_ERR_THROTTLED,
            8 => GRAPHMAILER_ERR_TRANSIENT,
            9 => GRAPHMAILER_ERR_AMBIGUOUS_DELIVERY,
            // A kind added to the core later reads as a service error until
            // this table learns it (the unit test below fails first).
            _ => GRAPHMAILER_ERR_SERVICE,
        }
    }
}

fn kind_of(status: u32) -> Option<ErrorKind> {
    ErrorKind::ALL
        .into_iter()
        .find(|k| u32::from(k.number()) == status)
}

/// Core kind names as C strings, built once (the core hands out `&str`).
fn kind_name(kind: ErrorKind) -> &'static CStr {
    use std::sync::OnceLock;
    static NAMES: OnceLock<Vec<(ErrorKind, std::ffi::CString)>> = OnceLock::new();
    let names = NAMES.get_or_init(|| {
        ErrorKind::ALL
            .into_iter()
            .map(|k| (k, std::ffi::CString::new(k.name()).unwrap_or_default()))
            .collect()
    });
    names
        .iter()
        .find(|(k, _)| *k == kind)
        .map(|(_, n)| n.as_c_str())
        .unwrap_or(c"unknown")
}

/// The status's name in snake case: "ok", the core's kind name
/// ("access_denied", the same as Python's and Node's), or the binding-level
/// name ("null_argument", "invalid_handle", ...). "unknown" for a number that
/// is not a status. The string is static: never free it.
#[unsafe(no_mangle)]
pub extern "C" fn graphmailer_status_name(status: u32) -> *const c_char {
    crate::error::quietly(c"unknown".as_ptr(), || {
        let name = match kind_of(status) {
            Some(kind) => kind_name(kind),
            None => BINDING_NAMES
                .iter()
                .find(|(s, _)| *s as u32 == status)
                .map(|(_, n)| *n)
                .unwrap_or(c"unknown"),
        };
        name.as_ptr()
    })
}

/// True when trying the same send again later is safe and may succeed
/// (GRAPHMAILER_ERR_THROTTLED and GRAPHMAILER_ERR_TRANSIENT). Never true for
/// GRAPHMAILER_ERR_AMBIGUOUS_DELIVERY: that mail may already have gone out.
#[unsafe(no_mangle)]
pub extern "C" fn graphmailer_status_is_retryable(status: u32) -> bool {
    crate::error::quietly(false, || kind_of(status).is_some_and(|k| k.is_retryable()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_core_kind_has_the_status_of_its_number_and_its_name() {
        for kind in ErrorKind::ALL {
            let status = graphmailer_status::from_kind(kind);
            assert_eq!(status as u32, u32::from(kind.number()), "{kind:?}");
            let name = unsafe { CStr::from_ptr(graphmailer_status_name(status as u32)) };
            assert_eq!(name.to_str().unwrap(), kind.name());
        }
        let name = |s: u32| {
            unsafe { CStr::from_ptr(graphmailer_status_name(s)) }
                .to_str()
                .unwrap()
        };
        assert_eq!(name(0), "ok");
        assert_eq!(name(103), "invalid_handle");
        assert_eq!(name(11), "unknown");
        assert!(graphmailer_status_is_retryable(7) && !graphmailer_status_is_retryable(9));
    }
}
