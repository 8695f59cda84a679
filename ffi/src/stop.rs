//! The caller's stop flags: an `int` (typically a `volatile sig_atomic_t`
//! that a SIGTERM handler sets) that a long call reads while it runs.

use std::ffi::c_int;
use std::sync::atomic::{AtomicI32, Ordering};
use std::time::Duration;

/// How often a flag is read: C gives no way to be woken when an int changes.
const EVERY: Duration = Duration::from_millis(100);

/// A flag's address, carried so that a future can move to the runtime.
#[derive(Clone, Copy)]
pub struct Flag(usize);

impl Flag {
    /// `None` for NULL.
    pub fn new(flag: *const c_int) -> Option<Flag> {
        (!flag.is_null()).then_some(Flag(flag as usize))
    }

    /// Resolves once the flag is non-zero.
    ///
    /// # Safety
    /// The int stays valid until this future is dropped.
    pub async unsafe fn raised(self) {
        // SAFETY: the caller's promise; an int-sized atomic load is how C's
        // sig_atomic_t is read safely from another thread.
        let flag = unsafe { AtomicI32::from_ptr(self.0 as *mut i32) };
        while flag.load(Ordering::Relaxed) == 0 {
            tokio::time::sleep(EVERY).await;
        }
    }
}
