//! How results and errors are shown: a sentence and a hint for people, one
//! JSON object for scripts.

use graphmailer::{Error, SendReceipt};
use serde_json::json;

pub fn receipt_json(receipt: &SendReceipt) -> serde_json::Value {
    json!({
        "ok": true,
        "request_id": receipt.request_id,
        "client_request_id": receipt.client_request_id,
        "attempts": receipt.attempts,
    })
}

pub fn error_json(error: &Error) -> serde_json::Value {
    json!({
        "ok": false,
        "kind": error.kind().name(),
        "message": error.message(),
        "field": error.field(),
        "code": error.code(),
        "request_id": error.request_id(),
        "status": error.status(),
        "hint": error.hint(),
        "retry_after_secs": error.retry_after().map(|d| d.as_secs_f64()),
    })
}

/// Prints an error for people on stderr: what happened, then what to do.
pub fn print_error(error: &Error) {
    eprintln!("error: {}", error.message());
    if let Some(code) = error.code() {
        eprintln!("  code: {code}");
    }
    if let Some(id) = error.request_id() {
        eprintln!("  request id: {id}");
    }
    if let Some(hint) = error.hint() {
        eprintln!("  hint: {hint}");
    }
}
