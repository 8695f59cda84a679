//! The binding's promises: work runs on napi's tokio runtime and its result is
//! settled on the JavaScript thread, which one libuv async handle per
//! environment wakes.
//!
//! napi-rs's own `spawn_future_with_callback` makes a threadsafe function for
//! every promise and spawns a second task to watch the first for a panic;
//! one threadsafe function per environment came next (bench/README.md). But
//! Node signals a threadsafe function's loop while holding the function's
//! mutex: on one CPU the woken JavaScript thread ran at once, found the mutex
//! taken and slept again, two more context switches per send. Here the
//! runtime's threads put finished work in a list of our own and wake the loop
//! with `uv_async_send`, which takes no lock, after letting the list go; the
//! JavaScript thread takes the whole list and settles each promise in it. The
//! handle holds the event loop open only while a promise is pending, so that
//! an idle mailer never keeps the process alive.

use std::any::Any;
use std::cell::{Cell, RefCell};
use std::collections::HashMap;
use std::ffi::c_void;
use std::future::Future;
use std::pin::Pin;
use std::sync::{Arc, Mutex, PoisonError, RwLock};
use std::task::{Context, Poll};

use napi::bindgen_prelude::*;
use napi::sys;

/// libuv, as Node exports it to addons (Node-API hands out the loop for this,
/// `napi_get_uv_event_loop`). A handle stays opaque: its size is asked of
/// libuv and its user pointer goes through libuv's accessors, so no struct
/// layout is assumed.
mod uv {
    use std::ffi::{c_int, c_void};

    /// `UV_ASYNC` of `uv_handle_type`.
    pub const ASYNC: c_int = 1;

    pub type Callback = unsafe extern "C" fn(handle: *mut c_void);

    unsafe extern "C" {
        pub fn uv_handle_size(kind: c_int) -> usize;
        pub fn uv_async_init(event_loop: *mut c_void, handle: *mut c_void, wake: Callback)
        -> c_int;
        pub fn uv_async_send(handle: *mut c_void) -> c_int;
        pub fn uv_close(handle: *mut c_void, closed: Callback);
        pub fn uv_ref(handle: *mut c_void);
        pub fn uv_unref(handle: *mut c_void);
        pub fn uv_handle_set_data(handle: *mut c_void, data: *mut c_void);
        pub fn uv_handle_get_data(handle: *const c_void) -> *mut c_void;
    }
}

/// A result on its way to the JavaScript thread: the promise's entry, and the
/// work's value (or the panic that ended it).
struct Done {
    id: u64,
    outcome: std::thread::Result<Box<dyn Any + Send>>,
}

/// Turns the work's value into the promise's value, on the JavaScript thread.
type Settle = Box<dyn FnOnce(&Env, Box<dyn Any + Send>) -> Result<sys::napi_value>>;

/// An environment's async handle; null once the environment is torn down.
struct Handle(*mut c_void);

// SAFETY: the pointer is only passed to `uv_async_send`, which libuv allows
// from any thread, and only while the handle is open (see `Finished::deliver`).
unsafe impl Send for Handle {}
unsafe impl Sync for Handle {}

/// What the runtime's threads share with one environment.
struct Finished {
    work: Mutex<Vec<Done>>,
    /// Written once, at the environment's teardown, before the handle closes:
    /// a thread that read it open finishes its `uv_async_send` first.
    handle: RwLock<Handle>,
}

impl Finished {
    fn deliver(&self, done: Done) {
        self.work
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .push(done);
        // With the list let go: the woken thread's first step is to take it.
        let handle = self.handle.read().unwrap_or_else(PoisonError::into_inner);
        if !handle.0.is_null() {
            // SAFETY: the handle is open while the lock shows it (above).
            unsafe { uv::uv_async_send(handle.0) };
        }
    }

    fn take(&self) -> Vec<Done> {
        std::mem::take(&mut *self.work.lock().unwrap_or_else(PoisonError::into_inner))
    }
}

/// One environment's promises, owned by its JavaScript thread: made on the
/// first promise, freed when its handle has closed at the environment's end.
struct Promises {
    env: sys::napi_env,
    finished: Arc<Finished>,
    handle: *mut c_void,
    handle_layout: std::alloc::Layout,
    /// Gives the settling its async context, so the awaits it resumes run
    /// before the loop goes on, as they do after any callback.
    async_context: sys::napi_async_context,
    pending: RefCell<HashMap<u64, (sys::napi_deferred, Settle)>>,
    next_id: Cell<u64>,
    /// The cleanup hook's handle once it runs, to tell Node it is done.
    teardown: Cell<sys::napi_async_cleanup_hook_handle>,
}

/// The environment's instance data: where its `Promises` are.
struct Table(*const Promises);

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
    let (id, finished) = register(env, deferred, settle)?;
    napi::bindgen_prelude::spawn(async move {
        let outcome = CatchPanic(work)
            .await
            .map(|v| Box::new(v) as Box<dyn Any + Send>);
        // Dropped unsettled once the environment is gone, with no one to tell.
        finished.deliver(Done { id, outcome });
    });
    Ok(PromiseRaw::new(env.raw(), promise))
}

/// Adds a pending promise to the environment's table, making the table on
/// first use; the handle holds the event loop open from the first pending
/// promise on.
fn register(
    env: &Env,
    deferred: sys::napi_deferred,
    settle: Settle,
) -> Result<(u64, Arc<Finished>)> {
    let promises = match env.get_instance_data::<Table>()? {
        Some(table) => table.0,
        None => {
            let promises = open(env)?;
            env.set_instance_data(Table(promises), (), |_| {})?;
            promises
        }
    };
    // SAFETY: freed only after the environment's teardown, when no
    // JavaScript (and so no call of `spawn`) runs in it any more.
    let promises = unsafe { &*promises };
    let id = promises.next_id.get();
    promises.next_id.set(id + 1);
    let mut pending = promises.pending.borrow_mut();
    if pending.is_empty() {
        // SAFETY: on the loop's thread, the handle open.
        unsafe { uv::uv_ref(promises.handle) };
    }
    pending.insert(id, (deferred, settle));
    Ok((id, promises.finished.clone()))
}

/// Makes the environment's handle (not holding the loop open yet) and the
/// hook that closes it at the environment's end.
fn open(env: &Env) -> Result<*const Promises> {
    let raw = env.raw();
    let mut event_loop = std::ptr::null_mut();
    // SAFETY: on the JavaScript thread of `env`, out-pointer to a local.
    check_status!(unsafe { sys::napi_get_uv_event_loop(raw, &mut event_loop) })?;
    let mut async_context = std::ptr::null_mut();
    let name = env.create_string("graphmailer")?;
    // SAFETY: as above; a null resource makes Node create one.
    check_status!(unsafe {
        sys::napi_async_init(raw, std::ptr::null_mut(), name.raw(), &mut async_context)
    })?;
    // SAFETY: asks libuv a size, no handle involved.
    let size = unsafe { uv::uv_handle_size(uv::ASYNC) };
    let handle_layout = std::alloc::Layout::from_size_align(size, 16)
        .map_err(|e| Error::from_reason(format!("graphmailer: libuv's handle size: {e}")))?;
    // SAFETY: a non-zero size (libuv's handles are never empty).
    let handle = unsafe { std::alloc::alloc(handle_layout) }.cast::<c_void>();
    if handle.is_null() {
        std::alloc::handle_alloc_error(handle_layout);
    }
    // SAFETY: `handle` is `size` bytes for libuv to initialise, on the loop's thread.
    let status = unsafe { uv::uv_async_init(event_loop.cast(), handle, on_wakeup) };
    if status != 0 {
        // SAFETY: allocated above with this layout, never handed to libuv.
        unsafe { std::alloc::dealloc(handle.cast(), handle_layout) };
        return Err(Error::from_reason(format!(
            "graphmailer: cannot make the event loop's wake-up (libuv error {status})"
        )));
    }
    let promises = Box::into_raw(Box::new(Promises {
        env: raw,
        finished: Arc::new(Finished {
            work: Mutex::default(),
            handle: RwLock::new(Handle(handle)),
        }),
        handle,
        handle_layout,
        async_context,
        pending: RefCell::default(),
        next_id: Cell::new(0),
        teardown: Cell::new(std::ptr::null_mut()),
    }));
    // SAFETY: the handle is initialised and on this thread's loop.
    unsafe {
        uv::uv_handle_set_data(handle, promises.cast());
        uv::uv_unref(handle);
    }
    // SAFETY: `promises` stays valid until the hook's own close ends. The
    // hook is given its removal handle when it runs, so none is kept here.
    check_status!(unsafe {
        sys::napi_add_async_cleanup_hook(
            raw,
            Some(on_teardown),
            promises.cast(),
            std::ptr::null_mut(),
        )
    })?;
    Ok(promises)
}

/// The loop's callback: settles every finished promise, then lets the
/// awaits they resume run (closing the callback scope runs the microtasks).
unsafe extern "C" fn on_wakeup(handle: *mut c_void) {
    // SAFETY: set in `open`; the handle is open, so `Promises` is alive.
    let promises = unsafe { &*uv::uv_handle_get_data(handle).cast::<Promises>() };
    let finished = promises.finished.take();
    if finished.is_empty() {
        return;
    }
    let raw = promises.env;
    // SAFETY: Node-API calls on the environment's own thread, each scope
    // closed in the reverse order it was opened.
    unsafe {
        let mut handles = std::ptr::null_mut();
        sys::napi_open_handle_scope(raw, &mut handles);
        let mut scope = std::ptr::null_mut();
        sys::napi_open_callback_scope(
            raw,
            std::ptr::null_mut(),
            promises.async_context,
            &mut scope,
        );
        let env = Env::from_raw(raw);
        for done in finished {
            settle(promises, &env, done);
            rethrow_uncaught(raw);
        }
        sys::napi_close_callback_scope(raw, scope);
        sys::napi_close_handle_scope(raw, handles);
    }
}

/// An exception left by settling goes where a callback's would: to
/// `process.on("uncaughtException")`, or it ends the process.
unsafe fn rethrow_uncaught(env: sys::napi_env) {
    let mut pending = false;
    // SAFETY: on the environment's thread (the caller's contract).
    unsafe {
        sys::napi_is_exception_pending(env, &mut pending);
        if pending {
            let mut error = std::ptr::null_mut();
            sys::napi_get_and_clear_last_exception(env, &mut error);
            sys::napi_fatal_exception(env, error);
        }
    }
}

/// Takes the promise's entry out of the table (releasing the event loop after
/// the last one) and settles it.
fn settle(promises: &Promises, env: &Env, done: Done) {
    let entry = {
        let mut pending = promises.pending.borrow_mut();
        let entry = pending.remove(&done.id);
        if pending.is_empty() {
            // SAFETY: on the loop's thread, the handle open.
            unsafe { uv::uv_unref(promises.handle) };
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

/// The environment is ending: no thread may signal the handle from here on,
/// the pending entries go while the environment can still free what they
/// hold, and the handle closes (Node runs the loop until it has).
unsafe extern "C" fn on_teardown(done: sys::napi_async_cleanup_hook_handle, data: *mut c_void) {
    // SAFETY: the `Promises` this hook was added with, alive until `on_closed`.
    let promises = unsafe { &*data.cast::<Promises>() };
    promises.teardown.set(done);
    promises
        .finished
        .handle
        .write()
        .unwrap_or_else(PoisonError::into_inner)
        .0 = std::ptr::null_mut();
    drop(std::mem::take(&mut *promises.pending.borrow_mut()));
    // SAFETY: on the environment's thread, during its cleanup; the handle
    // is open and no other thread can reach it any more.
    unsafe {
        sys::napi_async_destroy(promises.env, promises.async_context);
        uv::uv_close(promises.handle, on_closed);
    }
}

unsafe extern "C" fn on_closed(handle: *mut c_void) {
    // SAFETY: the last use of the handle and of its `Promises`: libuv is done
    // with the one, and the environment (so `spawn`) with the other.
    unsafe {
        let promises = Box::from_raw(uv::uv_handle_get_data(handle).cast::<Promises>());
        sys::napi_remove_async_cleanup_hook(promises.teardown.get());
        std::alloc::dealloc(handle.cast(), promises.handle_layout);
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
