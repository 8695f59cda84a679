//! The binding's promises: work runs on napi's tokio runtime and its result is
//! settled on the JavaScript thread, through one threadsafe function per
//! environment.
//!
//! napi-rs's own `spawn_future_with_callback` makes a threadsafe function for
//! every promise (a uv async handle, an async resource, a cleanup hook),
//! closes it after one call, and spawns a second task to watch the first for
//! a panic. Profiled one send at a time, that was about a tenth of the Node
//! process's time (bench/README.md). Here each environment keeps one
//! function, referenced only while a promise is pending so that an idle
//! mailer never holds the process open; each promise is an entry in the
//! environment's table, and its result crosses threads as a plain value.

use std::any::Any;
use std::cell::{Cell, RefCell};
use std::collections::HashMap;
use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};

use napi::bindgen_prelude::*;
use napi::sys;
use napi::threadsafe_function::{ThreadsafeFunction, ThreadsafeFunctionCallMode};

/// A result on its way to the JavaScript thread: the promise's entry, and the
/// work's value (or the panic that ended it).
struct Done {
    id: u64,
    outcome: std::thread::Result<Box<dyn Any + Send>>,
}

type Wakeup = ThreadsafeFunction<Done, (), (), Status, false, true>;

/// Turns the work's value into the promise's value, on the JavaScript thread.
type Settle = Box<dyn FnOnce(&Env, Box<dyn Any + Send>) -> Result<sys::napi_value>>;

/// One environment's promises; its instance data.
struct Promises {
    wakeup: Arc<Wakeup>,
    pending: RefCell<HashMap<u64, (sys::napi_deferred, Settle)>>,
    next_id: Cell<u64>,
}

/// Runs `work` on the runtime and settles the returned promise on the
/// JavaScript thread with `settle(env, value)`: its value, or its error as the
/// rejection. A panic in `work` rejects the promise instead of leaving it
/// pending.
pub fn spawn<'env, T, V, F, S>(env: &'env Env, work: F, settle: S) -> Result<PromiseRaw<'env, V>>
where
    T: Send + 'static,
    V: ToNapiValue,
    F: Future<Output = T> + Send + 'static,
    S: FnOnce(&Env, T) -> Result<V> + 'static,
{
    // Boxed once here: a send's future is several kilobytes, and the runtime
    // then moves a pointer instead of copying it.
    let work: Pin<Box<dyn Future<Output = T> + Send>> = Box::pin(work);
    let mut deferred = std::ptr::null_mut();
    let mut promise = std::ptr::null_mut();
    // SAFETY: on the JavaScript thread of `env`, with out-pointers to locals.
    check_status!(unsafe { sys::napi_create_promise(env.raw(), &mut deferred, &mut promise) })?;
    let settle: Settle = Box::new(move |env, value| match value.downcast::<T>() {
        // SAFETY: called on the JavaScript thread of `env` (from `settle`).
        Ok(value) => unsafe { V::to_napi_value(env.raw(), settle(env, *value)?) },
        Err(_) => Err(Error::from_reason(
            "graphmailer: a result of the wrong type",
        )),
    });
    let (id, wakeup) = register(env, deferred, settle)?;
    napi::bindgen_prelude::spawn(async move {
        let outcome = CatchPanic(work)
            .await
            .map(|v| Box::new(v) as Box<dyn Any + Send>);
        // Refused only once the environment is gone, with no one to tell.
        wakeup.call(
            Done { id, outcome },
            ThreadsafeFunctionCallMode::NonBlocking,
        );
    });
    Ok(PromiseRaw::new(env.raw(), promise))
}

/// Adds a pending promise to the environment's table, making the table (and
/// its threadsafe function) on first use; the function holds the event loop
/// open from the first pending promise on.
fn register(env: &Env, deferred: sys::napi_deferred, settle: Settle) -> Result<(u64, Arc<Wakeup>)> {
    if env.get_instance_data::<Promises>()?.is_none() {
        let promises = Promises {
            wakeup: Arc::new(wakeup(env)?),
            pending: RefCell::default(),
            next_id: Cell::new(0),
        };
        env.set_instance_data(promises, (), |_| {})?;
    }
    let promises: &Promises = env
        .get_instance_data::<Promises>()?
        .ok_or_else(|| Error::from_reason("graphmailer: the promise table is missing"))?;
    let id = promises.next_id.get();
    promises.next_id.set(id + 1);
    let mut pending = promises.pending.borrow_mut();
    if pending.is_empty() {
        // SAFETY: on the JavaScript thread, while the environment (and so
        // the function, finalized only with it) is alive.
        check_status!(unsafe {
            sys::napi_ref_threadsafe_function(env.raw(), promises.wakeup.raw())
        })?;
    }
    pending.insert(id, (deferred, settle));
    Ok((id, promises.wakeup.clone()))
}

/// The environment's threadsafe function: weak (not holding the event loop)
/// until a promise is pending. Its JavaScript function does nothing; the
/// work is in the callback.
fn wakeup(env: &Env) -> Result<Wakeup> {
    let noop = env.create_function_from_closure::<(), (), _>("graphmailerSettle", |_| Ok(()))?;
    noop.build_threadsafe_function::<Done>()
        .callee_handled::<false>()
        .weak::<true>()
        .build_callback(|ctx| {
            settle(&ctx.env, ctx.value);
            Ok(())
        })
}

/// On the JavaScript thread: takes the promise's entry out of the table
/// (releasing the event loop after the last one) and settles it.
fn settle(env: &Env, done: Done) {
    let Ok(Some(promises)) = env.get_instance_data::<Promises>() else {
        return;
    };
    let promises: &Promises = promises;
    let entry = {
        let mut pending = promises.pending.borrow_mut();
        let entry = pending.remove(&done.id);
        if pending.is_empty() {
            // SAFETY: as for the reference in `register`.
            unsafe { sys::napi_unref_threadsafe_function(env.raw(), promises.wakeup.raw()) };
        }
        entry
    };
    let Some((deferred, settle)) = entry else {
        return;
    };
    // `settle` may run JavaScript (an abort listener's removal), which may
    // start another send: nothing borrowed from the table is held past here.
    let value = match done.outcome {
        Ok(value) => settle(env, value),
        Err(panic) => Err(Error::from_reason(format!(
            "graphmailer stopped unexpectedly: {}",
            panic_text(&panic)
        ))),
    };
    // SAFETY: `deferred` came from `napi_create_promise` in this
    // environment and is settled once: its entry has left the table.
    unsafe {
        match value {
            Ok(value) => sys::napi_resolve_deferred(env.raw(), deferred, value),
            Err(error) => sys::napi_reject_deferred(
                env.raw(),
                deferred,
                JsError::from(error).into_value(env.raw()),
            ),
        };
    }
}

fn panic_text(panic: &Box<dyn Any + Send>) -> &str {
    panic
        .downcast_ref::<&str>()
        .copied()
        .or_else(|| panic.downcast_ref::<String>().map(String::as_str))
        .unwrap_or("a panic")
}

/// A future's output, or the panic that ended it.
struct CatchPanic<T>(Pin<Box<dyn Future<Output = T> + Send>>);

impl<T> Future for CatchPanic<T> {
    type Output = std::thread::Result<T>;

    fn poll(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        let work = &mut self.0;
        match std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| work.as_mut().poll(cx))) {
            Ok(Poll::Pending) => Poll::Pending,
            Ok(Poll::Ready(value)) => Poll::Ready(Ok(value)),
            Err(panic) => Poll::Ready(Err(panic)),
        }
    }
}
