//! The mailer: created from the config struct, the environment or a file;
//! shared by any number of threads; sends, diagnoses and verifies.

use std::ffi::{c_char, c_int, c_void};
use std::time::Duration;

use gm_core::blocking::{Mailer, wait};
use gm_core::{Config, MimeMessage};

use crate::args;
use crate::config::{graphmailer_config, to_core};
use crate::error::{Failure, call};
use crate::handle;
use crate::message::{graphmailer_message, snapshot};
use crate::progress::{self, graphmailer_progress_fn};
use crate::receipt::{Receipt, graphmailer_receipt};
use crate::report;
use crate::status::graphmailer_status;
use crate::stop::Flag;
use crate::strings;

/// Sends mail: holds the configuration, one HTTP connection pool, one token
/// cache and one limit of requests in flight per mailbox. Thread-safe: create
/// one per process and share it. Release it with graphmailer_mailer_free.
pub struct graphmailer_mailer {
    _private: [u8; 0],
}

thread_local! {
    /// The calling thread's stop flag for sends (graphmailer_set_send_stop).
    static SEND_STOP: std::cell::Cell<Option<Flag>> = const { std::cell::Cell::new(None) };
}

/// Makes the calling thread's sends (every graphmailer_mailer_send* call
/// made on it from now on) stop once `*stop` is non-zero; NULL removes the
/// flag. `stop` is the caller's, typically a `volatile sig_atomic_t` that a
/// SIGTERM handler sets, as for graphmailer_outbox_run; it is read every
/// 100 ms. A flag already set stops a send before any request.
///
/// A stopped send returns, of the statuses a send already has,
/// GRAPHMAILER_ERR_AMBIGUOUS_DELIVERY when its request had reached
/// Microsoft, which may still send the mail (Graph has no idempotency key:
/// look in Sent Items before sending it again; the error's request id is the
/// request's client-request-id), or GRAPHMAILER_ERR_TRANSIENT when nothing
/// was sent, so sending again is safe. A large message's draft is deleted,
/// or kept once its own send had gone out.
///
/// # Safety
/// `stop` is NULL or points to an int that stays valid while a send runs on
/// this thread, until it is removed or the thread ends.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn graphmailer_set_send_stop(stop: *const c_int) -> graphmailer_status {
    call("graphmailer_set_send_stop", || {
        SEND_STOP.set(Flag::new(stop));
        Ok(())
    })
}

/// Runs a send on the runtime and waits for it: until this thread's stop
/// flag, when it has one, is raised (then the error says whether the mail
/// may have gone).
fn blocking_send(
    send: impl std::future::Future<Output = gm_core::Result<gm_core::SendReceipt>> + Send + 'static,
) -> Result<gm_core::SendReceipt, Failure> {
    let receipt = match SEND_STOP.get() {
        None => wait(send)??,
        Some(flag) => wait(gm_core::until_stopped(send, async move {
            // SAFETY: graphmailer_set_send_stop's caller keeps the flag
            // valid while a send runs on this thread, and this one waits.
            unsafe { flag.raised() }.await;
            "stopped by the stop flag".to_owned()
        }))??,
    };
    Ok(receipt)
}

/// A child of fork() has none of graphmailer's worker threads, and waiting
/// on them would hang it forever: core knows, and says so.
pub(crate) fn not_forked() -> Result<(), Failure> {
    gm_core::blocking::ensure_not_forked().map_err(|_| Failure::forked())
}

fn issue(
    function: &str,
    mailer_out: *mut *mut graphmailer_mailer,
    config: impl FnOnce() -> Result<Config, Failure>,
) -> graphmailer_status {
    call(function, || {
        let out = args::out(mailer_out, "mailer_out")?;
        let config = config()?;
        not_forked()?;
        let mailer = Mailer::new(config)?;
        let handle = handle::insert::<Mailer, graphmailer_mailer>(mailer);
        // SAFETY: checked non-NULL; the caller promised writable memory.
        unsafe { out.write(handle) };
        Ok(())
    })
}

/// Creates a mailer from a configuration struct (see graphmailer_config).
/// An incomplete or wrong configuration returns GRAPHMAILER_ERR_CONFIG with
/// the setting in graphmailer_last_error_field().
///
/// # Safety
/// `config` points to a graphmailer_config whose pointers are valid as
/// documented there; `mailer_out` points to writable memory for one pointer.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn graphmailer_mailer_new(
    config: *const graphmailer_config,
    mailer_out: *mut *mut graphmailer_mailer,
) -> graphmailer_status {
    issue("graphmailer_mailer_new", mailer_out, || {
        if config.is_null() {
            return Err(Failure::null("config"));
        }
        // SAFETY: non-NULL, and the caller promised a valid struct.
        unsafe { to_core(&*config) }
    })
}

/// Creates a mailer from the environment: AZURE_TENANT_ID, AZURE_CLIENT_ID,
/// AZURE_CLIENT_SECRET or AZURE_CLIENT_CERTIFICATE_PATH (and
/// AZURE_CLIENT_CERTIFICATE_PASSWORD), AZURE_AUTHORITY_HOST and the
/// GRAPHMAILER_* settings (GRAPHMAILER_CLOUD, GRAPHMAILER_GRAPH_ENDPOINT,
/// GRAPHMAILER_ALLOWED_SENDERS, GRAPHMAILER_CA_BUNDLE, ...).
///
/// # Safety
/// `mailer_out` points to writable memory for one pointer.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn graphmailer_mailer_new_from_env(
    mailer_out: *mut *mut graphmailer_mailer,
) -> graphmailer_status {
    issue("graphmailer_mailer_new_from_env", mailer_out, || {
        Ok(Config::from_env()?)
    })
}

/// Creates a mailer from a TOML file whose keys are the settings' lower-case
/// names (tenant_id = "...", allowed_senders = ["erp@contoso.com"], ...); a
/// setting the file leaves out is read from the environment, so the secret
/// can stay out of the file.
///
/// # Safety
/// `path` is a NUL-terminated string; `mailer_out` points to writable memory
/// for one pointer.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn graphmailer_mailer_new_from_file(
    path: *const c_char,
    mailer_out: *mut *mut graphmailer_mailer,
) -> graphmailer_status {
    issue("graphmailer_mailer_new_from_file", mailer_out, || {
        let path = unsafe { args::path(path, "path") }?;
        Ok(Config::from_file(path)?)
    })
}

/// Releases a mailer. NULL is accepted; a mailer freed already returns
/// GRAPHMAILER_ERR_INVALID_HANDLE. Sends still running on other threads
/// finish first: the mailer is dropped when the last of them returns.
#[unsafe(no_mangle)]
pub extern "C" fn graphmailer_mailer_free(mailer: *mut graphmailer_mailer) -> graphmailer_status {
    call("graphmailer_mailer_free", || {
        handle::free::<Mailer, _>(mailer, "mailer")
    })
}

/// Sends a message and blocks until Graph accepts or refuses it. In order,
/// stopping at the first failure: the message is validated and the sender is
/// checked against allowed_senders (both before any network call), a token is
/// taken from the mailer's cache or fetched, and Graph is asked to send, with
/// retries only where no mail can have gone out. GRAPHMAILER_OK means Graph
/// accepted the mail; delivery happens after. Safe to call from many threads
/// with one mailer.
///
/// A message that fits Graph's 4 MB request (attachments count a third more,
/// as base64) goes in one request. A larger one is refused with
/// GRAPHMAILER_ERR_INVALID_MESSAGE (field "attachments", code
/// RequestEntityTooLarge, a hint) unless the mailer's configuration has
/// large_messages on; then it goes through a draft in the sender's mailbox,
/// its attachments (upload sessions in chunks for files of 3 MB and more, up
/// to 150 MB each) and the draft's send. That path needs the Mail.ReadWrite
/// application permission: an app without it gets
/// GRAPHMAILER_ERR_ACCESS_DENIED with a hint naming it. A failure part way
/// deletes the draft. Attachments added from files are read during the send.
///
/// `receipt_out` may be NULL when the receipt is not wanted; otherwise it
/// receives a receipt to release with graphmailer_receipt_free.
///
/// # Safety
/// `receipt_out` is NULL or points to writable memory for one pointer.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn graphmailer_mailer_send(
    mailer: *const graphmailer_mailer,
    message: *const graphmailer_message,
    receipt_out: *mut *mut graphmailer_receipt,
) -> graphmailer_status {
    call("graphmailer_mailer_send", || {
        let mailer = handle::get::<Mailer, _>(mailer, "mailer")?;
        let message = snapshot(message)?;
        not_forked()?;
        let mailer = mailer.as_async().clone();
        let receipt = blocking_send(async move { mailer.send(&message).await })?;
        give_receipt(receipt_out, receipt);
        Ok(())
    })
}

/// Like graphmailer_mailer_send, and reports upload progress to
/// `on_progress` (may be NULL: then it is graphmailer_mailer_send).
///
/// Only a message that goes through a draft and upload sessions (large
/// messages) reports: after each chunk of an attachment's upload session,
/// after each smaller attachment added to the draft, and once more with
/// `finished` true when Graph accepted the message. A message sent in one
/// request never calls it. `on_progress` is called on one of graphmailer's
/// worker threads, not the calling thread, before this function returns;
/// the upload waits while it runs, so it should be quick. It may call
/// graphmailer's functions, a blocking send included. `userdata` is
/// passed to it untouched. The progress struct and its `name` are valid only
/// during the call.
///
/// # Safety
/// As for graphmailer_mailer_send; `on_progress`, when not NULL, is safe to
/// call from another thread with `userdata` until this function returns.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn graphmailer_mailer_send_with_progress(
    mailer: *const graphmailer_mailer,
    message: *const graphmailer_message,
    receipt_out: *mut *mut graphmailer_receipt,
    on_progress: graphmailer_progress_fn,
    userdata: *mut c_void,
) -> graphmailer_status {
    call("graphmailer_mailer_send_with_progress", || {
        let mailer = handle::get::<Mailer, _>(mailer, "mailer")?;
        let message = snapshot(message)?;
        not_forked()?;
        let options = progress::send_options(on_progress, userdata);
        let mailer = mailer.as_async().clone();
        let receipt = blocking_send(async move { mailer.send_with(&message, &options).await })?;
        give_receipt(receipt_out, receipt);
        Ok(())
    })
}

/// Writes a receipt handle when the caller asked for one.
fn give_receipt(receipt_out: *mut *mut graphmailer_receipt, receipt: gm_core::SendReceipt) {
    if !receipt_out.is_null() {
        let handle = handle::insert::<Receipt, graphmailer_receipt>(Receipt::from(receipt));
        // SAFETY: non-NULL; the caller promised writable memory.
        unsafe { receipt_out.write(handle) };
    }
}

/// The largest raw MIME message Graph's MIME `sendMail` takes, in bytes (3
/// MiB, the core's `limits::MAX_MIME_BYTES`: one request of at most 4 MB as
/// base64). A larger message is taken apart and sent through a draft and
/// upload sessions by a mailer with large_messages on, and refused before
/// any request by one with them off.
pub const GRAPHMAILER_MAX_MIME_BYTES: usize = 3 * 1024 * 1024;

/// The largest raw MIME message the graphmailer_mailer_send_mime functions
/// and graphmailer_outbox_enqueue_mime take, in bytes (210 MiB, the core's
/// `limits::MAX_LARGE_MIME_BYTES`): over GRAPHMAILER_MAX_MIME_BYTES only with
/// large_messages on.
pub const GRAPHMAILER_MAX_LARGE_MIME_BYTES: usize = 210 * 1024 * 1024;

/// The common part of the three MIME sends, once the message is read.
fn send_mime(
    mailer: &Mailer,
    sender: Option<&str>,
    message: &MimeMessage,
    receipt_out: *mut *mut graphmailer_receipt,
) -> Result<(), Failure> {
    not_forked()?;
    let (mailer, sender) = (mailer.as_async().clone(), sender.map(str::to_owned));
    let message = message.clone();
    let receipt =
        blocking_send(async move { mailer.send_mime(sender.as_deref(), &message).await })?;
    give_receipt(receipt_out, receipt);
    Ok(())
}

/// Sends a ready RFC 5322 message (headers, a blank line, the body, any
/// attachments as MIME parts, as a mail library or `sendmail -t` takes it)
/// as is, through Graph's MIME form of sendMail, and blocks until Graph
/// accepts or refuses it. Bare line feeds are turned into CRLF.
///
/// `sender` (may be NULL) is the mailbox to send as; NULL or "" takes the
/// message's From address, or the configuration's default_sender when the
/// message has no usable From. The recipients are the addresses in its To, Cc
/// and Bcc headers. The message is checked before any network call:
/// GRAPHMAILER_ERR_INVALID_MESSAGE with the field "mime" (empty, no header
/// block, or over GRAPHMAILER_MAX_LARGE_MIME_BYTES, or over
/// GRAPHMAILER_MAX_MIME_BYTES with large_messages off, then with the code
/// RequestEntityTooLarge and a hint), "mime.To" (no recipient), "mime.To[0]"
/// and the like (a malformed address) or "sender" (no sender, no From and no
/// default_sender).
/// The mailer's allowed_senders applies as for graphmailer_mailer_send, and
/// so do retries, errors and the receipt (`receipt_out` may be NULL).
///
/// `len` may be anything: of a longer message only one byte past what the
/// mailer sends (GRAPHMAILER_MAX_MIME_BYTES, or
/// GRAPHMAILER_MAX_LARGE_MIME_BYTES with large_messages on) is read before it
/// is refused.
///
/// # Safety
/// `sender` is NULL or a NUL-terminated string; `data` points to `len`
/// readable bytes; `receipt_out` is NULL or points to writable memory for
/// one pointer.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn graphmailer_mailer_send_mime(
    mailer: *const graphmailer_mailer,
    sender: *const c_char,
    data: *const u8,
    len: usize,
    receipt_out: *mut *mut graphmailer_receipt,
) -> graphmailer_status {
    call("graphmailer_mailer_send_mime", || {
        let mailer = handle::get::<Mailer, _>(mailer, "mailer")?;
        let sender = unsafe { args::setting(sender, "sender") }?;
        let mailer_limit = mailer.as_async().max_mime_bytes();
        let data = unsafe { args::mime_bytes(data, len, mailer_limit, "data") }?;
        let message = mailer.as_async().read_mime(data)?;
        send_mime(&mailer, sender, &message, receipt_out)
    })
}

/// Sends the RFC 5322 message in a file (a .eml file, a mail queue entry),
/// as graphmailer_mailer_send_mime does. A file that cannot be read returns
/// GRAPHMAILER_ERR_INVALID_MESSAGE with the field "mime" and the path in the
/// message.
///
/// # Safety
/// `sender` is NULL or a NUL-terminated string; `path` is a NUL-terminated
/// string; `receipt_out` is NULL or points to writable memory for one
/// pointer.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn graphmailer_mailer_send_mime_file(
    mailer: *const graphmailer_mailer,
    sender: *const c_char,
    path: *const c_char,
    receipt_out: *mut *mut graphmailer_receipt,
) -> graphmailer_status {
    call("graphmailer_mailer_send_mime_file", || {
        let mailer = handle::get::<Mailer, _>(mailer, "mailer")?;
        let sender = unsafe { args::setting(sender, "sender") }?;
        let path = unsafe { args::path(path, "path") }?;
        let message = mailer.as_async().read_mime_file(path)?;
        send_mime(&mailer, sender, &message, receipt_out)
    })
}

/// Sends the RFC 5322 message read from an open file descriptor (a pipe
/// from another program, a socket, standard input, a file), as
/// graphmailer_mailer_send_mime does. It reads from the descriptor's current
/// position to end of file, blocking (give a descriptor in blocking mode),
/// and stops one byte past what the mailer sends (GRAPHMAILER_MAX_MIME_BYTES,
/// or GRAPHMAILER_MAX_LARGE_MIME_BYTES with large_messages on) rather than
/// read an endless stream. The descriptor stays the caller's: it is never closed. A
/// descriptor that is not open returns GRAPHMAILER_ERR_INVALID_ARGUMENT
/// naming "fd"; a read error returns GRAPHMAILER_ERR_INVALID_MESSAGE with the
/// field "mime".
///
/// # Safety
/// `sender` is NULL or a NUL-terminated string; `fd` is not closed by
/// another thread during the call; `receipt_out` is NULL or points to
/// writable memory for one pointer.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn graphmailer_mailer_send_mime_fd(
    mailer: *const graphmailer_mailer,
    sender: *const c_char,
    fd: c_int,
    receipt_out: *mut *mut graphmailer_receipt,
) -> graphmailer_status {
    call("graphmailer_mailer_send_mime_fd", || {
        let mailer = handle::get::<Mailer, _>(mailer, "mailer")?;
        let sender = unsafe { args::setting(sender, "sender") }?;
        let file = borrow_fd(fd)?;
        let message = mailer.as_async().read_mime(&*file)?;
        send_mime(&mailer, sender, &message, receipt_out)
    })
}

/// Checks that `fd` is an open descriptor and wraps it in a File that is
/// never dropped, so the descriptor is left open whatever happens (an
/// unwinding panic included).
#[cfg(unix)]
fn borrow_fd(fd: c_int) -> Result<std::mem::ManuallyDrop<std::fs::File>, Failure> {
    use std::os::fd::FromRawFd;
    if fd < 0 {
        return Err(Failure::invalid(
            "fd",
            format!("is {fd}, not a file descriptor"),
        ));
    }
    // SAFETY: F_GETFD only reads the descriptor's flags; any int may be asked about.
    if unsafe { libc::fcntl(fd, libc::F_GETFD) } == -1 {
        return Err(Failure::invalid(
            "fd",
            format!(
                "({fd}) is not an open file descriptor: {}",
                std::io::Error::last_os_error()
            ),
        ));
    }
    // SAFETY: the descriptor is open and stays open for this call (it is the
    // caller's, who promised not to close it meanwhile); ManuallyDrop keeps
    // the File from ever closing it.
    Ok(std::mem::ManuallyDrop::new(unsafe {
        std::fs::File::from_raw_fd(fd)
    }))
}

#[cfg(not(unix))]
fn borrow_fd(fd: c_int) -> Result<std::mem::ManuallyDrop<std::fs::File>, Failure> {
    Err(Failure::invalid(
        "fd",
        format!(
            "({fd}): file descriptors are read on Unix only; use graphmailer_mailer_send_mime_file"
        ),
    ))
}

/// How many token requests this mailer has made: 1 after any number of sends
/// from any number of threads, until the token nears its expiry.
///
/// # Safety
/// `count_out` points to writable memory for one uint64_t.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn graphmailer_mailer_token_requests(
    mailer: *const graphmailer_mailer,
    count_out: *mut u64,
) -> graphmailer_status {
    call("graphmailer_mailer_token_requests", || {
        let mailer = handle::get::<Mailer, _>(mailer, "mailer")?;
        let out = args::out(count_out, "count_out")?;
        // SAFETY: checked non-NULL; the caller promised writable memory.
        unsafe { out.write(mailer.as_async().token_requests()) };
        Ok(())
    })
}

fn give_json(
    function: &str,
    json_out: *mut *mut c_char,
    body: impl FnOnce() -> Result<serde_json::Value, Failure>,
) -> graphmailer_status {
    call(function, || {
        let out = args::out(json_out, "json_out")?;
        let json = body()?;
        // SAFETY: checked non-NULL; the caller promised writable memory.
        unsafe { out.write(strings::hand_over(&json.to_string())) };
        Ok(())
    })
}

/// The mailer's public settings as one JSON object: tenant_id, client_id,
/// credential ("client secret" or "certificate"), cloud, authority_host,
/// graph_endpoint, token_url, scope, allowed_senders, large_messages,
/// default_sender. Never the secret or the key. The string is the caller's: release it with graphmailer_string_free.
///
/// # Safety
/// `json_out` points to writable memory for one pointer.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn graphmailer_mailer_describe(
    mailer: *const graphmailer_mailer,
    json_out: *mut *mut c_char,
) -> graphmailer_status {
    give_json("graphmailer_mailer_describe", json_out, || {
        let mailer = handle::get::<Mailer, _>(mailer, "mailer")?;
        Ok(report::config(mailer.config()))
    })
}

/// Gets a fresh token and explains it, as `graphmailer doctor` does: the
/// roles granted (and which are broader than sending needs), the token's
/// tenant and lifetime, clock skew, endpoints and proxy, and findings
/// (severity "info", "warning" or "error", an id, a message, a hint). A
/// failed token request is not a failed call: it is reported inside, under
/// "error" and as an error finding, and "ok" is false. Returns
/// GRAPHMAILER_OK with one JSON object, released with graphmailer_string_free.
///
/// # Safety
/// `json_out` points to writable memory for one pointer.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn graphmailer_mailer_diagnose(
    mailer: *const graphmailer_mailer,
    json_out: *mut *mut c_char,
) -> graphmailer_status {
    give_json("graphmailer_mailer_diagnose", json_out, || {
        let mailer = handle::get::<Mailer, _>(mailer, "mailer")?;
        not_forked()?;
        Ok(report::diagnosis(&mailer.diagnose()?))
    })
}

/// Checks that the tenant's restriction holds: each of the `allowed_len`
/// senders in `allowed` must be able to send, each of the `denied_len`
/// senders in `denied` must be refused with access denied. Every attempt
/// sends a short test message to the sender's own mailbox only; the mailer's
/// allowed_senders is deliberately not applied. Returns GRAPHMAILER_OK with
/// one JSON object {"holds", "round", "rows": [{"sender", "expected",
/// "observed", "passed", "code", "request_id", "detail"}]}, released with
/// graphmailer_string_free; fails only when nothing can be tested (no
/// sender, a malformed address, or no token at all).
///
/// # Safety
/// `allowed` and `denied` point to their lengths in NUL-terminated strings
/// (NULL is allowed for length 0); `json_out` points to writable memory for
/// one pointer.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn graphmailer_mailer_verify(
    mailer: *const graphmailer_mailer,
    allowed: *const *const c_char,
    allowed_len: usize,
    denied: *const *const c_char,
    denied_len: usize,
    json_out: *mut *mut c_char,
) -> graphmailer_status {
    give_json("graphmailer_mailer_verify", json_out, || {
        let mailer = handle::get::<Mailer, _>(mailer, "mailer")?;
        let allowed = unsafe { args::strings(allowed, allowed_len, "allowed") }?;
        let denied = unsafe { args::strings(denied, denied_len, "denied") }?;
        not_forked()?;
        Ok(report::verification(&mailer.verify(&allowed, &denied)?))
    })
}

/// Like graphmailer_mailer_verify, repeated every `interval_ms` (0: the
/// core's default, a twelfth of the wait between 10 seconds and 5 minutes)
/// until the restriction holds or `wait_ms` has passed (a new restriction
/// takes 30 minutes to hours to apply). The JSON is the last round's; its "round"
/// says how many there were.
///
/// # Safety
/// As for graphmailer_mailer_verify.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn graphmailer_mailer_verify_until(
    mailer: *const graphmailer_mailer,
    allowed: *const *const c_char,
    allowed_len: usize,
    denied: *const *const c_char,
    denied_len: usize,
    wait_ms: u64,
    interval_ms: u64,
    json_out: *mut *mut c_char,
) -> graphmailer_status {
    give_json("graphmailer_mailer_verify_until", json_out, || {
        let mailer = handle::get::<Mailer, _>(mailer, "mailer")?;
        let allowed = unsafe { args::strings(allowed, allowed_len, "allowed") }?;
        let denied = unsafe { args::strings(denied, denied_len, "denied") }?;
        not_forked()?;
        let wait = Duration::from_millis(wait_ms);
        let interval = gm_core::blocking::verify_interval(
            wait,
            (interval_ms != 0).then(|| Duration::from_millis(interval_ms)),
        );
        Ok(report::verification(&mailer.verify_until(
            &allowed,
            &denied,
            wait,
            interval,
            |_, _| {},
        )?))
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_mime_limits_are_the_cores() {
        assert_eq!(GRAPHMAILER_MAX_MIME_BYTES, gm_core::limits::MAX_MIME_BYTES);
        assert_eq!(
            GRAPHMAILER_MAX_LARGE_MIME_BYTES,
            gm_core::limits::MAX_LARGE_MIME_BYTES
        );
    }

    #[cfg(unix)]
    #[test]
    fn a_borrowed_descriptor_is_read_and_left_open() {
        use std::io::{Read, Seek, Write};
        use std::os::fd::AsRawFd;
        let path = std::env::temp_dir().join(format!("graphmailer-ffi-fd-{}", std::process::id()));
        let mut file = std::fs::File::options()
            .read(true)
            .write(true)
            .create(true)
            .truncate(true)
            .open(&path)
            .unwrap();
        file.write_all(b"To: a@example.com\n\nhi").unwrap();
        file.rewind().unwrap();
        let fd = file.as_raw_fd();
        let mut text = String::new();
        (&*borrow_fd(fd).unwrap())
            .read_to_string(&mut text)
            .unwrap();
        assert_eq!(text, "To: a@example.com\n\nhi");
        // Still open after the borrow ended; the File closes it, once.
        assert_ne!(unsafe { libc::fcntl(fd, libc::F_GETFD) }, -1);
        drop(file);
        std::fs::remove_file(path).unwrap();
        assert!(borrow_fd(-1).is_err());
    }
}
