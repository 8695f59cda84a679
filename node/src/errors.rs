//! Turns failures into JavaScript errors.
//!
//! A core error becomes an `Error` whose `code` is core's `ErrorKind::code()`
//! (`ERR_ACCESS_DENIED`), with `graphCode`, `requestId`, `hint`, `field`,
//! `status` and `retryAfter` set when core knows them. A wrong argument
//! becomes a `TypeError` (or a `RangeError` for a number out of range) that
//! names the argument, with Node's own codes for those.

use napi::bindgen_prelude::*;
use napi::{JsRangeError, JsTypeError};

/// Why converting a call's arguments failed.
#[derive(Debug)]
pub enum Failure {
    /// A JavaScript value of the wrong type or shape: a `TypeError`.
    Type { code: &'static str, message: String },
    /// A number outside what the argument can hold: a `RangeError`.
    Range(String),
    /// A rule of core refused the value (an unknown cloud, an importance
    /// that is not low, normal or high, ...): a graphmailer error.
    Core(graphmailer::Error),
    /// Reading the JavaScript value threw (a getter that throws, ...): that
    /// exception is kept as it is.
    Js(napi::Error),
}

impl From<graphmailer::Error> for Failure {
    fn from(e: graphmailer::Error) -> Self {
        Failure::Core(e)
    }
}

impl From<napi::Error> for Failure {
    fn from(e: napi::Error) -> Self {
        Failure::Js(e)
    }
}

impl Failure {
    /// `The "message.to[1]" argument must be of type string or an object with an address. Received type number (5)`,
    /// in the words of Node's own `ERR_INVALID_ARG_TYPE`.
    pub fn arg_type(name: &str, expected: &str, received: String) -> Self {
        Failure::Type {
            code: "ERR_INVALID_ARG_TYPE",
            message: format!("The \"{name}\" argument must be {expected}. {received}"),
        }
    }

    /// A value of the right type but a shape the binding cannot map (an
    /// unknown option, both `text` and `html`): Node's `ERR_INVALID_ARG_VALUE`.
    pub fn arg_value(name: &str, why: impl std::fmt::Display) -> Self {
        Failure::Type {
            code: "ERR_INVALID_ARG_VALUE",
            message: format!("The \"{name}\" argument {why}"),
        }
    }

    /// Builds the JavaScript error for this failure, on the JavaScript thread.
    pub fn into_napi(self, env: &Env) -> napi::Error {
        match self {
            Failure::Js(e) => e,
            Failure::Core(e) => match graphmailer_error(env, &e) {
                Ok(error) => error,
                Err(e) => e,
            },
            Failure::Type { code, message } => {
                let error = JsTypeError::from(napi::Error::new(Status::InvalidArg, message));
                coded(env, error.into_unknown(*env), code)
            }
            Failure::Range(message) => {
                let error = JsRangeError::from(napi::Error::new(Status::InvalidArg, message));
                coded(env, error.into_unknown(*env), "ERR_OUT_OF_RANGE")
            }
        }
    }
}

/// Sets `code` on a freshly made error object and wraps it so napi-rs throws
/// (or rejects with) exactly that object.
fn coded(env: &Env, error: Unknown<'_>, code: &str) -> napi::Error {
    let result = (|| -> Result<napi::Error> {
        let mut object: Object = unsafe { error.cast()? };
        object.set_named_property("code", env.create_string(code)?)?;
        Ok(napi::Error::from(error))
    })();
    result.unwrap_or_else(|e| e)
}

/// The JavaScript `Error` for a core error. Its message is core's `Display`
/// (what happened, the service's code, the request id and the hint), so a
/// plain `console.error(err.message)` already tells a person what to do.
fn graphmailer_error(env: &Env, e: &graphmailer::Error) -> Result<napi::Error> {
    let mut object = env.create_error(napi::Error::new(Status::GenericFailure, e.to_string()))?;
    object.set_named_property("code", e.kind().code())?;
    if let Some(code) = e.code() {
        object.set_named_property("graphCode", code)?;
    }
    if let Some(request_id) = e.request_id() {
        object.set_named_property("requestId", request_id)?;
    }
    if let Some(hint) = e.hint() {
        object.set_named_property("hint", hint)?;
    }
    if let Some(field) = e.field() {
        object.set_named_property("field", field)?;
    }
    if let Some(status) = e.status() {
        object.set_named_property("status", status as u32)?;
    }
    if let Some(retry_after) = e.retry_after() {
        // Milliseconds, as every other duration in JavaScript.
        object.set_named_property("retryAfter", retry_after.as_millis() as f64)?;
    }
    Ok(napi::Error::from(object.to_unknown()))
}
