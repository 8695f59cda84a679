//! What Graph said when it accepted a mail.

use std::ffi::{CString, c_char};

use crate::args;
use crate::error::{c_string, call};
use crate::handle;
use crate::status::graphmailer_status;

/// Graph's acceptance of one mail: its request id, the client request id
/// graphmailer sent, and how many attempts it took. Returned by
/// graphmailer_mailer_send; release it with graphmailer_receipt_free.
pub struct graphmailer_receipt {
    _private: [u8; 0],
}

/// The receipt's fields, kept as C strings for the getters to lend out.
pub(crate) struct Receipt {
    request_id: Option<CString>,
    client_request_id: CString,
    attempts: u32,
}

impl From<gm_core::SendReceipt> for Receipt {
    fn from(r: gm_core::SendReceipt) -> Self {
        Receipt {
            request_id: r.request_id.as_deref().map(c_string),
            client_request_id: c_string(&r.client_request_id),
            attempts: r.attempts,
        }
    }
}

/// Graph's request-id of the accepted request (what Microsoft support asks
/// for); NULL written when Graph sent none. The string is borrowed until the
/// receipt is freed.
///
/// # Safety
/// `request_id_out` points to writable memory for one pointer.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn graphmailer_receipt_request_id(
    receipt: *const graphmailer_receipt,
    request_id_out: *mut *const c_char,
) -> graphmailer_status {
    call("graphmailer_receipt_request_id", || {
        let receipt = handle::get::<Receipt, _>(receipt, "receipt")?;
        let out = args::out(request_id_out, "request_id_out")?;
        let value = receipt
            .request_id
            .as_ref()
            .map_or(std::ptr::null(), |s| s.as_ptr());
        // SAFETY: checked non-NULL; the caller promised writable memory.
        unsafe { out.write(value) };
        Ok(())
    })
}

/// The client-request-id graphmailer sent with every attempt of this send
/// (a GUID), to find the send in Microsoft's logs. Borrowed until the receipt
/// is freed.
///
/// # Safety
/// `client_request_id_out` points to writable memory for one pointer.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn graphmailer_receipt_client_request_id(
    receipt: *const graphmailer_receipt,
    client_request_id_out: *mut *const c_char,
) -> graphmailer_status {
    call("graphmailer_receipt_client_request_id", || {
        let receipt = handle::get::<Receipt, _>(receipt, "receipt")?;
        let out = args::out(client_request_id_out, "client_request_id_out")?;
        // SAFETY: checked non-NULL; the caller promised writable memory.
        unsafe { out.write(receipt.client_request_id.as_ptr()) };
        Ok(())
    })
}

/// How many requests the send took: 1, more when Graph throttled or refused
/// a token first.
///
/// # Safety
/// `attempts_out` points to writable memory for one uint32_t.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn graphmailer_receipt_attempts(
    receipt: *const graphmailer_receipt,
    attempts_out: *mut u32,
) -> graphmailer_status {
    call("graphmailer_receipt_attempts", || {
        let receipt = handle::get::<Receipt, _>(receipt, "receipt")?;
        let out = args::out(attempts_out, "attempts_out")?;
        // SAFETY: checked non-NULL; the caller promised writable memory.
        unsafe { out.write(receipt.attempts) };
        Ok(())
    })
}

/// Releases a receipt and the strings borrowed from it. NULL is accepted; a
/// receipt freed already returns GRAPHMAILER_ERR_INVALID_HANDLE.
#[unsafe(no_mangle)]
pub extern "C" fn graphmailer_receipt_free(
    receipt: *mut graphmailer_receipt,
) -> graphmailer_status {
    call("graphmailer_receipt_free", || {
        handle::free::<Receipt, _>(receipt, "receipt")
    })
}
