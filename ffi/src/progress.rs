//! Upload progress of graphmailer_mailer_send_with_progress, handed to a C
//! callback with the caller's own pointer.

use std::ffi::{CString, c_char, c_void};

use gm_core::{Progress, SendOptions};

/// How far a large message's attachments have gone up. Valid only during
/// the call of the graphmailer_progress_fn that receives it.
#[repr(C)]
pub struct graphmailer_progress {
    /// The attachment's place in the message's attachments (0 first).
    pub index: usize,
    /// The attachment's file name (UTF-8, NUL-terminated).
    pub name: *const c_char,
    /// Bytes of this attachment the service has taken so far.
    pub sent: u64,
    /// The attachment's size in bytes.
    pub total: u64,
    /// Bytes of all the message's attachments taken so far.
    pub message_sent: u64,
    /// The size of all the message's attachments.
    pub message_total: u64,
    /// True on the last call only, once Graph accepted the message.
    pub finished: bool,
}

/// Receives upload progress (see graphmailer_mailer_send_with_progress),
/// with the `userdata` given there.
pub type graphmailer_progress_fn =
    Option<unsafe extern "C" fn(progress: *const graphmailer_progress, userdata: *mut c_void)>;

/// The caller's pointer, carried to the worker thread. The caller promised
/// that the callback may use it from there until the send returns.
#[derive(Clone, Copy)]
struct UserData(*mut c_void);
// SAFETY: the pointer is only handed back to the caller's callback, during a
// send the caller waits for; what it points to is the caller's affair.
unsafe impl Send for UserData {}
// SAFETY: as above.
unsafe impl Sync for UserData {}

pub(crate) fn send_options(
    callback: graphmailer_progress_fn,
    userdata: *mut c_void,
) -> SendOptions {
    let Some(callback) = callback else {
        return SendOptions::new();
    };
    let userdata = UserData(userdata);
    SendOptions::new().on_progress(move |p: &Progress| {
        // A file name cannot hold NUL on any system a name comes from, but
        // an attachment made from bytes could: cut it there.
        let name = CString::new(p.name.split('\0').next().unwrap_or_default()).unwrap_or_default();
        let event = graphmailer_progress {
            index: p.index,
            name: name.as_ptr(),
            sent: p.sent,
            total: p.total,
            message_sent: p.message_sent,
            message_total: p.message_total,
            finished: p.finished,
        };
        let userdata = userdata;
        // SAFETY: the caller gave a function safe to call from another thread
        // with its userdata until the send returns, which it has not yet.
        unsafe { callback(&event, userdata.0) };
    })
}
