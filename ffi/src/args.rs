//! Checked conversions of C arguments: every pointer the library reads or
//! writes goes through one of these, never a bare dereference.

use std::ffi::c_char;
use std::path::PathBuf;

use crate::error::Failure;

/// The longest string or buffer accepted, in bytes: Graph's limit for one
/// `sendMail` request (the core's `limits::MAX_REQUEST_BYTES`), so nothing
/// refused here could ever have been sent. Bounding every read also keeps a
/// string that lacks its NUL from being scanned without end.
pub const GRAPHMAILER_MAX_INPUT_BYTES: usize = 4 * 1024 * 1024;

/// The bytes of a NUL-terminated string, without the NUL.
///
/// # Safety
/// `ptr` is NULL or points to a NUL-terminated string (or to at least
/// `GRAPHMAILER_MAX_INPUT_BYTES + 1` readable bytes).
unsafe fn c_bytes<'a>(ptr: *const c_char, arg: &str) -> Result<&'a [u8], Failure> {
    if ptr.is_null() {
        return Err(Failure::null(arg));
    }
    let bytes = ptr.cast::<u8>();
    let mut len = 0;
    // SAFETY: the caller promises a NUL within the string; the loop stops at
    // the first NUL or one byte past the limit, whichever comes first.
    while unsafe { *bytes.add(len) } != 0 {
        len += 1;
        if len > GRAPHMAILER_MAX_INPUT_BYTES {
            return Err(Failure::invalid(
                arg,
                format!(
                    "is longer than {GRAPHMAILER_MAX_INPUT_BYTES} bytes (GRAPHMAILER_MAX_INPUT_BYTES), more than Graph accepts in one request"
                ),
            ));
        }
    }
    // SAFETY: the `len` bytes before the NUL were just read.
    Ok(unsafe { std::slice::from_raw_parts(bytes, len) })
}

/// A required UTF-8 string argument.
///
/// # Safety
/// As for [`c_bytes`].
pub(crate) unsafe fn string<'a>(ptr: *const c_char, arg: &str) -> Result<&'a str, Failure> {
    let bytes = unsafe { c_bytes(ptr, arg) }?;
    std::str::from_utf8(bytes).map_err(|e| Failure::utf8(arg, e.valid_up_to()))
}

/// An optional UTF-8 string argument: NULL is `None`.
///
/// # Safety
/// As for [`c_bytes`].
pub(crate) unsafe fn optional_string<'a>(
    ptr: *const c_char,
    arg: &str,
) -> Result<Option<&'a str>, Failure> {
    if ptr.is_null() {
        Ok(None)
    } else {
        unsafe { string(ptr, arg) }.map(Some)
    }
}

/// An optional setting: NULL and "" both mean "not given, use the default".
///
/// # Safety
/// As for [`c_bytes`].
pub(crate) unsafe fn setting<'a>(
    ptr: *const c_char,
    arg: &str,
) -> Result<Option<&'a str>, Failure> {
    Ok(unsafe { optional_string(ptr, arg) }?.filter(|s| !s.is_empty()))
}

/// A file path: raw bytes on Unix (a Latin-1 file name is a valid path),
/// UTF-8 elsewhere.
///
/// # Safety
/// As for [`c_bytes`].
pub(crate) unsafe fn path(ptr: *const c_char, arg: &str) -> Result<PathBuf, Failure> {
    #[cfg(unix)]
    {
        use std::os::unix::ffi::OsStrExt;
        let bytes = unsafe { c_bytes(ptr, arg) }?;
        if bytes.is_empty() {
            return Err(Failure::invalid(arg, "is an empty path".into()));
        }
        Ok(PathBuf::from(std::ffi::OsStr::from_bytes(bytes)))
    }
    #[cfg(not(unix))]
    {
        let s = unsafe { string(ptr, arg) }?;
        if s.is_empty() {
            return Err(Failure::invalid(arg, "is an empty path".into()));
        }
        Ok(PathBuf::from(s))
    }
}

/// An optional file path: NULL and "" both mean "not given".
///
/// # Safety
/// As for [`c_bytes`].
pub(crate) unsafe fn optional_path(
    ptr: *const c_char,
    arg: &str,
) -> Result<Option<PathBuf>, Failure> {
    if ptr.is_null() || unsafe { *ptr } == 0 {
        return Ok(None);
    }
    unsafe { path(ptr, arg) }.map(Some)
}

/// An array of `len` UTF-8 strings; NULL is allowed for length 0. An element
/// at fault is named `arg[i]`.
///
/// # Safety
/// `ptr` is NULL or points to `len` readable pointers, each NULL or a
/// NUL-terminated string.
pub(crate) unsafe fn strings(
    ptr: *const *const c_char,
    len: usize,
    arg: &str,
) -> Result<Vec<String>, Failure> {
    if len == 0 {
        return Ok(Vec::new());
    }
    if ptr.is_null() {
        return Err(Failure::null(arg));
    }
    // Every string takes at least its NUL, so more entries than the input
    // limit cannot be meant (and would mean reading far past the array).
    if len > GRAPHMAILER_MAX_INPUT_BYTES / std::mem::size_of::<*const c_char>() {
        return Err(Failure::invalid(
            arg,
            format!("has {len} entries, more than graphmailer accepts"),
        ));
    }
    // SAFETY: non-NULL and `len` readable pointers promised by the caller.
    let items = unsafe { std::slice::from_raw_parts(ptr, len) };
    items
        .iter()
        .enumerate()
        .map(|(i, item)| unsafe { string(*item, &format!("{arg}[{i}]")) }.map(str::to_owned))
        .collect()
}

/// The largest attachment given from memory, in bytes: Graph's limit for one
/// file attachment (the core's `limits::MAX_ATTACHMENT_BYTES`, 150 MiB). An
/// attachment over 4 MB goes out only with graphmailer_config.large_messages
/// on, through an upload session.
pub const GRAPHMAILER_MAX_ATTACHMENT_BYTES: usize = 150 * 1024 * 1024;

/// A buffer given as pointer and length; NULL is allowed for length 0. At
/// most GRAPHMAILER_MAX_INPUT_BYTES.
///
/// # Safety
/// `ptr` is NULL or points to `len` readable bytes.
pub(crate) unsafe fn bytes<'a>(ptr: *const u8, len: usize, arg: &str) -> Result<&'a [u8], Failure> {
    unsafe {
        bytes_up_to(
            ptr,
            len,
            arg,
            GRAPHMAILER_MAX_INPUT_BYTES,
            "GRAPHMAILER_MAX_INPUT_BYTES), which Graph accepts in one request",
        )
    }
}

/// The data of an attachment: like [`bytes`], up to
/// GRAPHMAILER_MAX_ATTACHMENT_BYTES.
///
/// # Safety
/// `ptr` is NULL or points to `len` readable bytes.
pub(crate) unsafe fn attachment_bytes<'a>(
    ptr: *const u8,
    len: usize,
    arg: &str,
) -> Result<&'a [u8], Failure> {
    unsafe {
        bytes_up_to(
            ptr,
            len,
            arg,
            GRAPHMAILER_MAX_ATTACHMENT_BYTES,
            "GRAPHMAILER_MAX_ATTACHMENT_BYTES), the largest file Graph accepts",
        )
    }
}

/// A raw MIME message of at most `limit` bytes: of a longer buffer only the
/// first `limit` + 1 bytes are taken, enough for core to refuse it with its
/// own error (field "mime", RequestEntityTooLarge) without reading the rest.
///
/// # Safety
/// `ptr` is NULL or points to `len` readable bytes.
pub(crate) unsafe fn mime_bytes<'a>(
    ptr: *const u8,
    len: usize,
    limit: usize,
    arg: &str,
) -> Result<&'a [u8], Failure> {
    let taken = len.min(limit.saturating_add(1));
    // SAFETY: `taken` is at most `len`, which the caller promised readable;
    // with `taken` as the limit the length check cannot fail.
    unsafe { bytes_up_to(ptr, taken, arg, taken, "") }
}

/// A buffer of at most `limit` bytes (`why` ends the message of a longer one).
///
/// # Safety
/// `ptr` is NULL or points to `len` readable bytes.
unsafe fn bytes_up_to<'a>(
    ptr: *const u8,
    len: usize,
    arg: &str,
    limit: usize,
    why: &str,
) -> Result<&'a [u8], Failure> {
    if len == 0 {
        return Ok(&[]);
    }
    if ptr.is_null() {
        return Err(Failure::null(arg));
    }
    if len > limit {
        return Err(Failure::invalid(
            arg,
            format!("is {len} bytes, more than {limit} ({why}"),
        ));
    }
    // SAFETY: non-NULL, `len` readable bytes promised by the caller, and len
    // is far below isize::MAX.
    Ok(unsafe { std::slice::from_raw_parts(ptr, len) })
}

/// Checks an output pointer before any work is done, so a NULL one fails
/// without side effects.
pub(crate) fn out<T>(ptr: *mut T, arg: &str) -> Result<Out<T>, Failure> {
    if ptr.is_null() {
        Err(Failure::null(arg))
    } else {
        Ok(Out(ptr))
    }
}

/// A checked, non-NULL output pointer; written once, on success.
pub(crate) struct Out<T>(*mut T);

impl<T> Out<T> {
    /// Writes the result.
    ///
    /// # Safety
    /// The pointer was checked to be non-NULL; the caller promised it points
    /// to writable memory for a `T`.
    pub(crate) unsafe fn write(self, value: T) {
        unsafe { self.0.write(value) }
    }
}

/// A duration in milliseconds; 0 means "use the default".
pub(crate) fn millis(ms: u64) -> Option<std::time::Duration> {
    (ms != 0).then(|| std::time::Duration::from_millis(ms))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::args::GRAPHMAILER_MAX_INPUT_BYTES;

    #[test]
    fn the_input_limit_is_the_cores_request_limit() {
        assert_eq!(
            GRAPHMAILER_MAX_INPUT_BYTES,
            gm_core::limits::MAX_REQUEST_BYTES
        );
    }

    #[test]
    fn the_attachment_limit_is_the_cores() {
        assert_eq!(
            GRAPHMAILER_MAX_ATTACHMENT_BYTES as u64,
            gm_core::limits::MAX_ATTACHMENT_BYTES
        );
    }

    #[test]
    fn buffers_are_checked_against_their_own_limit() {
        let data = [1u8, 2, 3];
        assert_eq!(unsafe { bytes(data.as_ptr(), 3, "data") }.unwrap(), &data);
        assert!(
            unsafe { bytes(std::ptr::null(), 0, "data") }
                .unwrap()
                .is_empty()
        );
        assert!(matches!(
            unsafe { bytes(std::ptr::null(), 1, "data") },
            Err(Failure::Boundary { .. })
        ));
        // Refused on the length alone: nothing is read.
        let over_input = GRAPHMAILER_MAX_INPUT_BYTES + 1;
        assert!(unsafe { bytes(data.as_ptr(), over_input, "data") }.is_err());
        let over_attachment = GRAPHMAILER_MAX_ATTACHMENT_BYTES + 1;
        assert!(unsafe { attachment_bytes(data.as_ptr(), over_attachment, "data") }.is_err());
        assert!(unsafe { attachment_bytes(data.as_ptr(), usize::MAX, "data") }.is_err());
    }

    #[test]
    fn strings_are_checked_for_null_utf8_and_length() {
        let ok = c"Résumé";
        assert_eq!(unsafe { string(ok.as_ptr(), "s") }.unwrap(), "Résumé");
        assert!(matches!(
            unsafe { string(std::ptr::null(), "s") },
            Err(Failure::Boundary { .. })
        ));
        let bad = [b'a', 0xff, 0];
        assert!(unsafe { string(bad.as_ptr().cast(), "s") }.is_err());
        let long = vec![b'a'; GRAPHMAILER_MAX_INPUT_BYTES + 10];
        let mut long = long;
        *long.last_mut().unwrap() = 0;
        assert!(unsafe { string(long.as_ptr().cast(), "s") }.is_err());
        assert_eq!(unsafe { setting(c"".as_ptr(), "s") }.unwrap(), None);
    }
}
