//! Strings the library hands over to C (JSON reports, scripts): each is
//! registered until graphmailer_string_free releases it, so freeing a string
//! twice, or a pointer the library never returned, is reported instead of
//! corrupting the heap.

use std::collections::HashMap;
use std::ffi::{CString, c_char};
use std::sync::{LazyLock, Mutex};

use crate::error::{Failure, c_string, call};
use crate::status::graphmailer_status;

static OWNED: LazyLock<Mutex<HashMap<usize, CString>>> =
    LazyLock::new(|| Mutex::new(HashMap::new()));

fn owned() -> std::sync::MutexGuard<'static, HashMap<usize, CString>> {
    OWNED
        .lock()
        .unwrap_or_else(|poisoned| poisoned.into_inner())
}

/// Registers a new string for C and returns the pointer C may read until it
/// calls graphmailer_string_free. (The CString's buffer does not move when
/// the CString itself moves into the table.)
pub(crate) fn hand_over(text: &str) -> *mut c_char {
    let s = c_string(text);
    let ptr = s.as_ptr().cast_mut();
    owned().insert(ptr.addr(), s);
    ptr
}

/// Releases a string that graphmailer returned as owned by the caller (the
/// JSON of graphmailer_mailer_diagnose, graphmailer_mailer_verify,
/// graphmailer_mailer_describe, the script of graphmailer_policy_script).
/// NULL is accepted. A pointer that is not such a string, or was freed
/// already, returns GRAPHMAILER_ERR_INVALID_HANDLE and is left alone.
#[unsafe(no_mangle)]
pub extern "C" fn graphmailer_string_free(string: *mut c_char) -> graphmailer_status {
    call("graphmailer_string_free", || {
        if string.is_null() {
            return Ok(());
        }
        let removed = owned().remove(&string.addr());
        match removed {
            Some(s) => {
                drop(s);
                Ok(())
            }
            None => Err(Failure::handle(
                "string",
                "is not a string returned by graphmailer, or was freed already".into(),
            )),
        }
    })
}
