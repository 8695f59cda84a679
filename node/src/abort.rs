//! `AbortSignal` support: a send given `signal` stops when the signal aborts.
//!
//! On the JavaScript thread, a small native function is added as the
//! signal's `abort` listener; calling it completes a oneshot channel. The
//! send's future races that channel, so an abort drops core's send future
//! (core then deletes a large message's draft in the background, unless the
//! draft's send had gone out) and the promise rejects with an `AbortError`,
//! as Node's own APIs do, saying whether the mail may already have gone
//! (core's `Handover`). When the send ends either way, the listener is
//! removed again, so one long-lived signal can serve any number of sends.

use std::future::Future;
use std::sync::Mutex;

use graphmailer::{HandedOver, Handover};
use napi::bindgen_prelude::*;
use tokio::sync::oneshot;

/// The JavaScript side of a watched signal: what the completion callback
/// needs to remove the listener and to build the `AbortError`.
pub struct Guard {
    signal: ObjectRef<false>,
    listener: ObjectRef<false>,
}

/// The Rust side: resolves when the signal aborts.
pub struct Aborted(oneshot::Receiver<()>);

/// Adds the listener to `signal` (already checked to be an `AbortSignal`);
/// a signal that is already aborted stops the send before it starts.
pub fn watch(env: &Env, signal: Object<'_>) -> Result<(Guard, Aborted)> {
    let (tx, rx) = oneshot::channel::<()>();
    let tx = Mutex::new(Some(tx));
    let fire = move || {
        if let Some(tx) = tx.lock().ok().and_then(|mut t| t.take()) {
            let _ = tx.send(());
        }
    };
    let aborted: bool = signal.get_named_property("aborted")?;
    if aborted {
        fire();
    }
    let listener = env.create_function_from_closure::<Unknown, (), _>("abort", move |_| {
        fire();
        Ok(())
    })?;
    let listener: Object = unsafe { listener.to_unknown().cast()? };
    if !aborted {
        let add: Function<FnArgs<(&str, Object, Object)>, Unknown> =
            signal.get_named_property("addEventListener")?;
        let mut once = Object::new(env)?;
        once.set_named_property("once", true)?;
        add.apply(signal, FnArgs::from(("abort", listener, once)))?;
    }
    Ok((
        Guard {
            signal: signal.create_ref::<false>()?,
            listener: listener.create_ref::<false>()?,
        },
        Aborted(rx),
    ))
}

/// How a send that a signal may abort ended.
pub enum Ended<T> {
    Done(T),
    /// The send's future was dropped; `handed_over` is its request that may
    /// have reached Microsoft, if one did.
    Aborted {
        handed_over: Option<HandedOver>,
    },
}

/// Runs `work` unless `aborted` fires first, in which case `work` is dropped
/// (cancelled). Without a signal, just runs `work`.
pub async fn run<T>(aborted: Option<Aborted>, work: impl Future<Output = T>) -> Ended<T> {
    let Some(aborted) = aborted else {
        return Ended::Done(work.await);
    };
    let handover = Handover::new();
    match handover.watch_until(work, aborted.fired()).await {
        Ok(value) => Ended::Done(value),
        Err(()) => Ended::Aborted {
            handed_over: handover.may_have_been_sent(),
        },
    }
}

impl Aborted {
    /// Resolves when the signal aborts; a worker's shutdown future.
    pub async fn fired(self) {
        // A dropped sender (the listener was collected) is not an abort.
        if self.0.await.is_err() {
            std::future::pending::<()>().await;
        }
    }
}

impl Guard {
    /// Removes the listener and, when the send was aborted, returns the
    /// `AbortError` to reject with. Runs on the JavaScript thread.
    pub fn finish<T>(self, env: &Env, ended: &Ended<T>) -> Result<Option<napi::Error>> {
        match ended {
            Ended::Done(_) => self.release(env, None),
            Ended::Aborted { handed_over } => self.release(env, Some(handed_over.as_ref())),
        }
    }

    /// Removes the listener of a run that the signal stops (stopping is how
    /// it ends, not an error). Runs on the JavaScript thread.
    pub fn stop(self, env: &Env) -> Result<()> {
        self.release(env, None).map(drop)
    }

    /// `aborted`: the send was aborted, with its request that may have
    /// reached Microsoft, if one did.
    fn release(
        self,
        env: &Env,
        aborted: Option<Option<&HandedOver>>,
    ) -> Result<Option<napi::Error>> {
        let result = (|| {
            let signal = self.signal.get_value(env)?;
            let listener = self.listener.get_value(env)?;
            // Tidying up, not the send's outcome: a signal whose
            // `removeEventListener` or `reason` throws (a polyfill) must not
            // turn a sent mail into a rejection (its caller would send it
            // again) nor take `mayHaveBeenSent` from an abort, so what they
            // throw is dropped; the listener left behind fires into a closed
            // channel.
            let removed = signal
                .get_named_property::<Function<FnArgs<(&str, Object)>, Unknown>>(
                    "removeEventListener",
                )
                .and_then(|remove| remove.apply(signal, FnArgs::from(("abort", listener))));
            if removed.is_err() {
                clear_exception(env);
            }
            let Some(handed_over) = aborted else {
                return Ok(None);
            };
            let reason = signal.get_named_property::<Unknown>("reason");
            if reason.is_err() {
                clear_exception(env);
            }
            Ok(Some(abort_error(env, reason.ok(), handed_over)?))
        })();
        self.signal.unref(env)?;
        self.listener.unref(env)?;
        result
    }
}

/// Drops the exception a JavaScript call left pending, if any.
fn clear_exception(env: &Env) {
    let mut exception = std::ptr::null_mut();
    // SAFETY: on the environment's thread (the callers are), with a valid env.
    unsafe { napi::sys::napi_get_and_clear_last_exception(env.raw(), &mut exception) };
}

/// Node's `AbortError`: `name` "AbortError", `code` "ABORT_ERR", the
/// signal's reason as `cause`, as `fs`, `timers/promises` and `stream`
/// reject when their signal aborts; and `mayHaveBeenSent`, with the
/// request's `requestId` and a `hint` when it is true, because `sendMail`
/// has no idempotency key: sending again after such an abort may send the
/// mail twice.
fn abort_error(
    env: &Env,
    reason: Option<Unknown<'_>>,
    handed_over: Option<&HandedOver>,
) -> Result<napi::Error> {
    let global = env.get_global()?;
    let error: Function<FnArgs<(&str, Object)>, Unknown> = global.get_named_property("Error")?;
    let mut options = Object::new(env)?;
    if let Some(reason) = reason
        && reason.get_type()? != ValueType::Undefined
    {
        options.set_named_property("cause", reason)?;
    }
    let message = match handed_over {
        None => "The operation was aborted".to_owned(),
        Some(request) => format!("The operation was aborted: {}", request.hint()),
    };
    let made = error.new_instance(FnArgs::from((message.as_str(), options)))?;
    let mut object: Object = unsafe { made.cast()? };
    object.set_named_property("name", "AbortError")?;
    object.set_named_property("code", "ABORT_ERR")?;
    object.set_named_property("mayHaveBeenSent", handed_over.is_some())?;
    if let Some(request) = handed_over {
        object.set_named_property("requestId", request.client_request_id.as_str())?;
        object.set_named_property("hint", request.hint())?;
    }
    Ok(napi::Error::from(made))
}
