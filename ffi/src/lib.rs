//! The C library of graphmailer: `libgraphmailer.{so,a}` and `graphmailer.h`.
//!
//! Every function converts C arguments through the checked helpers of
//! [`args`], looks handles up in [`handle`]'s table of live objects, runs its
//! body inside [`error::call`] (which catches panics and keeps the per-thread
//! last error), and calls the core for everything else. The conventions C
//! programs rely on are written once, in the header's preamble
//! (`cbindgen.toml`).

#![allow(non_camel_case_types)]

mod args;
mod config;
mod error;
mod handle;
mod mailer;
mod message;
mod outbox;
mod policy;
mod progress;
mod receipt;
mod report;
mod status;
mod stop;
mod strings;

use std::ffi::c_char;

pub use args::{GRAPHMAILER_MAX_ATTACHMENT_BYTES, GRAPHMAILER_MAX_INPUT_BYTES};
pub use mailer::{GRAPHMAILER_MAX_LARGE_MIME_BYTES, GRAPHMAILER_MAX_MIME_BYTES};
pub use outbox::GRAPHMAILER_OUTBOX_ID_BYTES;

/// The library's version, the workspace's (such as "0.2.0"), the same as
/// the core's. Static: never free it.
#[unsafe(no_mangle)]
pub extern "C" fn graphmailer_version() -> *const c_char {
    static VERSION: std::sync::OnceLock<std::ffi::CString> = std::sync::OnceLock::new();
    error::quietly(std::ptr::null(), || {
        VERSION
            .get_or_init(|| error::c_string(gm_core::VERSION))
            .as_ptr()
    })
}

#[cfg(test)]
mod tests {
    #[test]
    fn the_version_is_the_cores() {
        let v = unsafe { std::ffi::CStr::from_ptr(super::graphmailer_version()) };
        assert_eq!(v.to_str().unwrap(), gm_core::VERSION);
    }
}
