//! Building a message. Every check of its content is the core's and runs when
//! it is sent (or on graphmailer_message_validate); the functions here only
//! convert C arguments.

use std::ffi::c_char;
use std::sync::{Arc, Mutex};

use gm_core::{Address, Attachment, Importance, Message};

use crate::args;
use crate::error::{Failure, call};
use crate::handle;
use crate::status::graphmailer_status;

/// A mail being put together: sender, recipients, subject, body, importance,
/// headers, attachments. Create it with graphmailer_message_new, release it
/// with graphmailer_message_free.
pub struct graphmailer_message {
    _private: [u8; 0],
}

type Shared = Mutex<Message>;

/// Runs `change` on the message behind a handle.
fn edit(
    function: &str,
    message: *mut graphmailer_message,
    change: impl FnOnce(&mut Message) -> Result<(), Failure>,
) -> graphmailer_status {
    call(function, || {
        let shared: Arc<Shared> = handle::get(message, "message")?;
        let mut message = shared
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner());
        change(&mut message)
    })
}

/// A copy of the message behind a handle, to send or check without holding its lock.
pub(crate) fn snapshot(message: *const graphmailer_message) -> Result<Message, Failure> {
    let shared: Arc<Shared> = handle::get(message, "message")?;
    let message = shared
        .lock()
        .unwrap_or_else(|poisoned| poisoned.into_inner());
    Ok(message.clone())
}

/// Creates an empty message sent as `sender`: the mailbox the mail is sent
/// as, an address ("erp@contoso.com") or the user's object id. It keeps a
/// copy in the sender's Sent Items unless told otherwise.
///
/// # Safety
/// `sender` is a NUL-terminated string; `message_out` points to writable
/// memory for one pointer.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn graphmailer_message_new(
    sender: *const c_char,
    message_out: *mut *mut graphmailer_message,
) -> graphmailer_status {
    call("graphmailer_message_new", || {
        let sender = unsafe { args::string(sender, "sender") }?;
        let out = args::out(message_out, "message_out")?;
        let handle =
            handle::insert::<Shared, graphmailer_message>(Mutex::new(Message::new(sender)));
        // SAFETY: checked non-NULL; the caller promised writable memory.
        unsafe { out.write(handle) };
        Ok(())
    })
}

/// Releases a message. NULL is accepted; a message freed already returns
/// GRAPHMAILER_ERR_INVALID_HANDLE.
#[unsafe(no_mangle)]
pub extern "C" fn graphmailer_message_free(
    message: *mut graphmailer_message,
) -> graphmailer_status {
    call("graphmailer_message_free", || {
        handle::free::<Shared, _>(message, "message")
    })
}

/// # Safety
/// As for the public functions that call it.
unsafe fn address(address: *const c_char, name: *const c_char) -> Result<Address, Failure> {
    let address = unsafe { args::string(address, "address") }?;
    Ok(match unsafe { args::optional_string(name, "name") }? {
        Some(name) => Address::with_name(name, address),
        None => Address::new(address),
    })
}

/// Adds a To recipient: `address` ("alice@example.com") with an optional
/// display `name` (may be NULL).
///
/// # Safety
/// `address` is a NUL-terminated string; `name` is NULL or one.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn graphmailer_message_add_to(
    message: *mut graphmailer_message,
    address: *const c_char,
    name: *const c_char,
) -> graphmailer_status {
    edit("graphmailer_message_add_to", message, |m| {
        m.to.push(unsafe { self::address(address, name) }?);
        Ok(())
    })
}

/// Adds a Cc recipient, like graphmailer_message_add_to.
///
/// # Safety
/// As for graphmailer_message_add_to.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn graphmailer_message_add_cc(
    message: *mut graphmailer_message,
    address: *const c_char,
    name: *const c_char,
) -> graphmailer_status {
    edit("graphmailer_message_add_cc", message, |m| {
        m.cc.push(unsafe { self::address(address, name) }?);
        Ok(())
    })
}

/// Adds a Bcc recipient, like graphmailer_message_add_to.
///
/// # Safety
/// As for graphmailer_message_add_to.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn graphmailer_message_add_bcc(
    message: *mut graphmailer_message,
    address: *const c_char,
    name: *const c_char,
) -> graphmailer_status {
    edit("graphmailer_message_add_bcc", message, |m| {
        m.bcc.push(unsafe { self::address(address, name) }?);
        Ok(())
    })
}

/// Adds a Reply-To address, like graphmailer_message_add_to.
///
/// # Safety
/// As for graphmailer_message_add_to.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn graphmailer_message_add_reply_to(
    message: *mut graphmailer_message,
    address: *const c_char,
    name: *const c_char,
) -> graphmailer_status {
    edit("graphmailer_message_add_reply_to", message, |m| {
        m.reply_to.push(unsafe { self::address(address, name) }?);
        Ok(())
    })
}

/// Sets the subject (one line).
///
/// # Safety
/// `subject` is a NUL-terminated string.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn graphmailer_message_set_subject(
    message: *mut graphmailer_message,
    subject: *const c_char,
) -> graphmailer_status {
    edit("graphmailer_message_set_subject", message, |m| {
        m.subject = unsafe { args::string(subject, "subject") }?.to_owned();
        Ok(())
    })
}

/// Sets a plain-text body, replacing any body set before.
///
/// # Safety
/// `text` is a NUL-terminated string.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn graphmailer_message_set_text(
    message: *mut graphmailer_message,
    text: *const c_char,
) -> graphmailer_status {
    edit("graphmailer_message_set_text", message, |m| {
        let text = unsafe { args::string(text, "text") }?;
        *m = std::mem::replace(m, Message::new("")).text(text);
        Ok(())
    })
}

/// Sets an HTML body, replacing any body set before. Inline images are
/// referred to as `cid:<content id>` (see graphmailer_message_attach_inline_bytes).
///
/// # Safety
/// `html` is a NUL-terminated string.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn graphmailer_message_set_html(
    message: *mut graphmailer_message,
    html: *const c_char,
) -> graphmailer_status {
    edit("graphmailer_message_set_html", message, |m| {
        let html = unsafe { args::string(html, "html") }?;
        *m = std::mem::replace(m, Message::new("")).html(html);
        Ok(())
    })
}

/// Sets the importance: "low", "normal" or "high" (any case). Anything else
/// returns GRAPHMAILER_ERR_INVALID_MESSAGE with the field "importance".
///
/// # Safety
/// `importance` is a NUL-terminated string.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn graphmailer_message_set_importance(
    message: *mut graphmailer_message,
    importance: *const c_char,
) -> graphmailer_status {
    edit("graphmailer_message_set_importance", message, |m| {
        let importance = unsafe { args::string(importance, "importance") }?;
        m.importance = Some(importance.parse::<Importance>()?);
        Ok(())
    })
}

/// Whether to keep a copy in the sender's Sent Items (default: true).
#[unsafe(no_mangle)]
pub extern "C" fn graphmailer_message_set_save_to_sent_items(
    message: *mut graphmailer_message,
    save: bool,
) -> graphmailer_status {
    edit("graphmailer_message_set_save_to_sent_items", message, |m| {
        m.save_to_sent_items = save;
        Ok(())
    })
}

/// Adds a custom internet message header; Graph accepts only names that
/// start with "x-", at most five of them.
///
/// # Safety
/// `name` and `value` are NUL-terminated strings.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn graphmailer_message_add_header(
    message: *mut graphmailer_message,
    name: *const c_char,
    value: *const c_char,
) -> graphmailer_status {
    edit("graphmailer_message_add_header", message, |m| {
        let name = unsafe { args::string(name, "name") }?;
        let value = unsafe { args::string(value, "value") }?;
        *m = std::mem::replace(m, Message::new("")).header(name, value);
        Ok(())
    })
}

/// Adds an attachment from memory. The bytes are copied. `content_type` (may
/// be NULL) is the MIME type; NULL guesses it from the name's extension.
/// `len` may be up to GRAPHMAILER_MAX_ATTACHMENT_BYTES (150 MiB, Graph's
/// largest file); a message over 4 MB in all goes out only with
/// graphmailer_config.large_messages on (see graphmailer_mailer_send).
///
/// # Safety
/// `name` is a NUL-terminated string; `data` points to `len` readable bytes
/// (it may be NULL when `len` is 0); `content_type` is NULL or a
/// NUL-terminated string.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn graphmailer_message_attach_bytes(
    message: *mut graphmailer_message,
    name: *const c_char,
    data: *const u8,
    len: usize,
    content_type: *const c_char,
) -> graphmailer_status {
    edit("graphmailer_message_attach_bytes", message, |m| {
        m.attachments
            .push(unsafe { from_bytes(name, data, len, content_type) }?);
        Ok(())
    })
}

/// Adds an attachment from a file, named after the file. Only the file's
/// existence and size are checked now (a path that is missing or not a
/// regular file returns GRAPHMAILER_ERR_INVALID_MESSAGE with the field
/// "attachments"); the bytes are read by graphmailer_mailer_send, each time
/// the message is sent: whole for a message that fits one request, in chunks
/// for a large one (see graphmailer_config.large_messages), so a large file
/// is never held in memory at once. Keep the file in place and unchanged
/// until the send returns: a file gone, unreadable or of another size by
/// then fails that send with GRAPHMAILER_ERR_INVALID_MESSAGE.
/// `content_type` as for graphmailer_message_attach_bytes.
///
/// # Safety
/// `path` is a NUL-terminated string; `content_type` is NULL or one.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn graphmailer_message_attach_file(
    message: *mut graphmailer_message,
    path: *const c_char,
    content_type: *const c_char,
) -> graphmailer_status {
    edit("graphmailer_message_attach_file", message, |m| {
        m.attachments
            .push(unsafe { from_file(path, content_type) }?);
        Ok(())
    })
}

/// Adds an inline attachment from memory: shown in the HTML body, which refers
/// to it as `cid:<content_id>`, rather than listed as a file. `content_id`
/// may be NULL only to be refused when the message is sent or validated
/// (GRAPHMAILER_ERR_INVALID_MESSAGE, field "attachments[i].content_id").
///
/// # Safety
/// As for graphmailer_message_attach_bytes; `content_id` is NULL or a
/// NUL-terminated string.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn graphmailer_message_attach_inline_bytes(
    message: *mut graphmailer_message,
    name: *const c_char,
    data: *const u8,
    len: usize,
    content_type: *const c_char,
    content_id: *const c_char,
) -> graphmailer_status {
    edit("graphmailer_message_attach_inline_bytes", message, |m| {
        let attachment = unsafe { from_bytes(name, data, len, content_type) }?;
        let content_id = unsafe { args::optional_string(content_id, "content_id") }?;
        m.attachments.push(inline(attachment, content_id));
        Ok(())
    })
}

/// Adds an inline attachment from a file, like
/// graphmailer_message_attach_inline_bytes; the file is checked now and read
/// when the message is sent, as for graphmailer_message_attach_file.
///
/// # Safety
/// `path` is a NUL-terminated string; `content_type` and `content_id` are
/// NULL or NUL-terminated strings.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn graphmailer_message_attach_inline_file(
    message: *mut graphmailer_message,
    path: *const c_char,
    content_type: *const c_char,
    content_id: *const c_char,
) -> graphmailer_status {
    edit("graphmailer_message_attach_inline_file", message, |m| {
        let attachment = unsafe { from_file(path, content_type) }?;
        let content_id = unsafe { args::optional_string(content_id, "content_id") }?;
        m.attachments.push(inline(attachment, content_id));
        Ok(())
    })
}

/// # Safety
/// As for graphmailer_message_attach_bytes.
unsafe fn from_bytes(
    name: *const c_char,
    data: *const u8,
    len: usize,
    content_type: *const c_char,
) -> Result<Attachment, Failure> {
    let name = unsafe { args::string(name, "name") }?;
    let data = unsafe { args::attachment_bytes(data, len, "data") }?;
    let content_type = unsafe { args::optional_string(content_type, "content_type") }?;
    let attachment = Attachment::from_bytes(name, data.to_vec());
    Ok(match content_type {
        Some(ct) => attachment.with_content_type(ct),
        None => attachment,
    })
}

/// # Safety
/// As for graphmailer_message_attach_file.
unsafe fn from_file(
    path: *const c_char,
    content_type: *const c_char,
) -> Result<Attachment, Failure> {
    let path = unsafe { args::path(path, "path") }?;
    let content_type = unsafe { args::optional_string(content_type, "content_type") }?;
    let attachment = Attachment::from_path(path)?;
    Ok(match content_type {
        Some(ct) => attachment.with_content_type(ct),
        None => attachment,
    })
}

fn inline(attachment: Attachment, content_id: Option<&str>) -> Attachment {
    match content_id {
        Some(id) => attachment.inline(id),
        // Left for the core's validation to refuse with the field's name.
        None => Attachment {
            inline: true,
            ..attachment
        },
    }
}

/// Checks everything about the message that can be checked without the
/// network, as graphmailer_mailer_send does first: GRAPHMAILER_OK, or
/// GRAPHMAILER_ERR_INVALID_MESSAGE with the field at fault.
#[unsafe(no_mangle)]
pub extern "C" fn graphmailer_message_validate(
    message: *const graphmailer_message,
) -> graphmailer_status {
    call("graphmailer_message_validate", || {
        Ok(snapshot(message)?.validate()?)
    })
}
