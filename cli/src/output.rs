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

/// Reports an error the way the command was asked to, and gives the exit
/// status of its kind.
pub fn fail(error: &Error, json: bool) -> std::process::ExitCode {
    if json {
        println!("{}", error.to_json());
    } else {
        print_error(error);
    }
    std::process::ExitCode::from(error.kind().exit_code())
}
