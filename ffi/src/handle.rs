//! Opaque handles and the table of live objects behind them.
//!
//! A handle is a token, not an address: C never dereferences it, and the
//! library looks it up here on every call. So a freed, forged or mistyped
//! handle is refused with a status instead of being dereferenced, a double
//! free is reported, and an object freed by one thread while another still
//! uses it stays alive until that call ends (the table holds an `Arc`).
//! Tokens come from a counter and are never reused, so a stale handle cannot
//! silently reach a newer object that happens to sit at the same address.

use std::collections::HashMap;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, LazyLock, Mutex, RwLock};

use crate::error::Failure;

/// An object the C side holds a handle to.
pub(crate) enum Object {
    Mailer(Arc<gm_core::blocking::Mailer>),
    Message(Arc<Mutex<gm_core::Message>>),
    Receipt(Arc<crate::receipt::Receipt>),
    Certificate(Arc<crate::config::Certificate>),
    Outbox(Arc<gm_core::Outbox>),
}

impl Object {
    fn type_name(&self) -> &'static str {
        match self {
            Object::Mailer(_) => "graphmailer_mailer",
            Object::Message(_) => "graphmailer_message",
            Object::Receipt(_) => "graphmailer_receipt",
            Object::Certificate(_) => "graphmailer_certificate",
            Object::Outbox(_) => "graphmailer_outbox",
        }
    }
}

/// A Rust type that lives behind a C handle type `H`.
pub(crate) trait Handled: Sized {
    /// The C type's name, for error messages.
    const TYPE_NAME: &'static str;
    fn wrap(this: Arc<Self>) -> Object;
    fn unwrap(object: &Object) -> Option<Arc<Self>>;
}

macro_rules! handled {
    ($rust:ty, $variant:ident, $name:literal) => {
        impl Handled for $rust {
            const TYPE_NAME: &'static str = $name;
            fn wrap(this: Arc<Self>) -> Object {
                Object::$variant(this)
            }
            fn unwrap(object: &Object) -> Option<Arc<Self>> {
                match object {
                    Object::$variant(x) => Some(Arc::clone(x)),
                    _ => None,
                }
            }
        }
    };
}

handled!(gm_core::blocking::Mailer, Mailer, "graphmailer_mailer");
handled!(Mutex<gm_core::Message>, Message, "graphmailer_message");
handled!(crate::receipt::Receipt, Receipt, "graphmailer_receipt");
handled!(
    crate::config::Certificate,
    Certificate,
    "graphmailer_certificate"
);
handled!(gm_core::Outbox, Outbox, "graphmailer_outbox");

static LIVE: LazyLock<RwLock<HashMap<usize, Object>>> =
    LazyLock::new(|| RwLock::new(HashMap::new()));

/// Tokens are multiples of 16 (they look like aligned pointers in a debugger)
/// and start well above the zero page.
static NEXT: AtomicUsize = AtomicUsize::new(1 << 16);

fn live_read() -> std::sync::RwLockReadGuard<'static, HashMap<usize, Object>> {
    LIVE.read().unwrap_or_else(|poisoned| poisoned.into_inner())
}

fn live_write() -> std::sync::RwLockWriteGuard<'static, HashMap<usize, Object>> {
    LIVE.write()
        .unwrap_or_else(|poisoned| poisoned.into_inner())
}

/// Registers an object and returns its new handle.
pub(crate) fn insert<T: Handled, H>(value: T) -> *mut H {
    let token = NEXT.fetch_add(16, Ordering::Relaxed);
    live_write().insert(token, T::wrap(Arc::new(value)));
    std::ptr::without_provenance_mut(token)
}

/// The live object behind a handle argument.
pub(crate) fn get<T: Handled, H>(handle: *const H, arg: &str) -> Result<Arc<T>, Failure> {
    if handle.is_null() {
        return Err(Failure::null(arg));
    }
    let live = live_read();
    match live.get(&handle.addr()) {
        Some(object) => T::unwrap(object).ok_or_else(|| {
            Failure::handle(
                arg,
                format!("is a {}, not a {}", object.type_name(), T::TYPE_NAME),
            )
        }),
        None => Err(dead::<T>(arg)),
    }
}

/// Removes a handle from the table; NULL is accepted and does nothing.
/// The object itself is dropped outside the lock, and only once the last call
/// still using it has finished.
pub(crate) fn free<T: Handled, H>(handle: *mut H, arg: &str) -> Result<(), Failure> {
    if handle.is_null() {
        return Ok(());
    }
    let removed = {
        let mut live = live_write();
        match live.get(&handle.addr()) {
            Some(object) if T::unwrap(object).is_some() => live.remove(&handle.addr()),
            Some(object) => {
                return Err(Failure::handle(
                    arg,
                    format!(
                        "is a {}, not a {}: free it with its own function",
                        object.type_name(),
                        T::TYPE_NAME
                    ),
                ));
            }
            None => return Err(dead::<T>(arg)),
        }
    };
    drop(removed);
    Ok(())
}

fn dead<T: Handled>(arg: &str) -> Failure {
    Failure::handle(
        arg,
        format!(
            "is not a live {}: it was freed already, or never returned by graphmailer",
            T::TYPE_NAME
        ),
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn freed_and_mistyped_handles_are_refused() {
        let message: *mut u8 = insert(Mutex::new(gm_core::Message::new("erp@contoso.test")));
        assert!(get::<Mutex<gm_core::Message>, u8>(message, "message").is_ok());
        assert!(get::<crate::receipt::Receipt, u8>(message, "receipt").is_err());
        assert!(free::<crate::receipt::Receipt, u8>(message, "receipt").is_err());
        free::<Mutex<gm_core::Message>, u8>(message, "message").unwrap();
        assert!(get::<Mutex<gm_core::Message>, u8>(message, "message").is_err());
        assert!(free::<Mutex<gm_core::Message>, u8>(message, "message").is_err());
    }
}
