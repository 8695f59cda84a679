//! The configuration struct C fills in, and certificate credentials.

use std::ffi::{CString, c_char, c_void};

use zeroize::Zeroizing;

use gm_core::{ClientCertificate, Config};

use crate::args;
use crate::error::{Failure, c_string, call};
use crate::handle;
use crate::status::graphmailer_status;

/// A mailer's settings, given by C. Zero-initialize it (`graphmailer_config
/// config = {0};` in C, `graphmailer_config config{};` in C++) and fill in
/// what you need: every NULL pointer, empty string and zero number means
/// "not given", which takes the documented default of the core. Strings are
/// copied by graphmailer_mailer_new; the struct may be freed right after.
/// A configuration error names the setting by its environment variable
/// (AZURE_TENANT_ID, GRAPHMAILER_GRAPH_ENDPOINT, ...).
#[repr(C)]
pub struct graphmailer_config {
    /// Required: the Directory (tenant) ID GUID, or a verified domain
    /// (AZURE_TENANT_ID).
    pub tenant_id: *const c_char,
    /// Required: the Application (client) ID GUID (AZURE_CLIENT_ID).
    pub client_id: *const c_char,
    /// The client secret's value (AZURE_CLIENT_SECRET). Give this or
    /// client_certificate, not both.
    pub client_secret: *const c_char,
    /// A certificate credential from graphmailer_certificate_from_*; the
    /// mailer keeps its own reference, so the handle may be freed afterwards.
    pub client_certificate: *const graphmailer_certificate,
    /// "global" (default), "usgov" (GCC High), "usgovdod" (DoD) or "china"
    /// (21Vianet): sets the login host, Graph host and scope (GRAPHMAILER_CLOUD).
    pub cloud: *const c_char,
    /// Overrides the cloud's identity-platform origin (AZURE_AUTHORITY_HOST).
    pub authority_host: *const c_char,
    /// Overrides the cloud's Graph origin (GRAPHMAILER_GRAPH_ENDPOINT).
    pub graph_endpoint: *const c_char,
    /// Overrides the cloud's scope, ending in "/.default" (GRAPHMAILER_SCOPE).
    pub scope: *const c_char,
    /// Mailboxes ("erp@contoso.com") and domains ("@contoso.com") the mailer
    /// may send as: an array of `allowed_senders_len` strings. Empty means no
    /// local restriction (GRAPHMAILER_ALLOWED_SENDERS).
    pub allowed_senders: *const *const c_char,
    /// The number of strings in allowed_senders.
    pub allowed_senders_len: usize,
    /// A PEM file of extra certificate authorities to trust (GRAPHMAILER_CA_BUNDLE).
    pub ca_bundle_path: *const c_char,
    /// PEM text of extra certificate authorities to trust, `ca_bundle_pem_len`
    /// bytes; wins over ca_bundle_path.
    pub ca_bundle_pem: *const u8,
    /// The number of bytes at ca_bundle_pem.
    pub ca_bundle_pem_len: usize,
    /// Time allowed for one HTTP request, in milliseconds (0: 30 s).
    pub timeout_ms: u64,
    /// Time allowed to open a connection, in milliseconds (0: 10 s).
    pub connect_timeout_ms: u64,
    /// Attempts per request, the first included, 1 to 10 (0: 4).
    pub max_attempts: u32,
    /// Time after which no retry starts, in milliseconds (0: 60 s).
    pub retry_deadline_ms: u64,
    /// Requests in flight per mailbox, 1 to 4 (0: 4, Graph's limit).
    pub max_concurrent_per_mailbox: u32,
    /// Lets a message over Graph's 4 MB request limit go out through a draft
    /// and upload sessions (files up to 150 MB each) instead of being refused
    /// (GRAPHMAILER_LARGE_MESSAGES). Off by default: that path needs the
    /// Mail.ReadWrite application permission besides Mail.Send, which should
    /// be granted, and scoped, on purpose. Messages that fit one request are
    /// sent the same way either way.
    pub large_messages: bool,
    /// The mailbox graphmailer_mailer_send_mime (and the `graphmailer sendmail`
    /// command) sends as when no sender is given and the message has no
    /// usable From address (GRAPHMAILER_DEFAULT_SENDER).
    pub default_sender: *const c_char,
    /// A federated credential's client assertion, for a platform token that
    /// is not in a file (GitHub Actions' OIDC token, another cloud's
    /// identity, SPIFFE): called once per token request (tokens are cached),
    /// from one of graphmailer's threads, so it must be thread-safe. It
    /// writes the assertion (a JWT) into `buffer`, which holds `buffer_len`
    /// bytes, and returns the assertion's length in bytes. When the assertion
    /// is longer than `buffer_len`, it returns the length needed without
    /// writing, and is called again with a buffer that large. A negative
    /// return is a failure: the token request fails with
    /// GRAPHMAILER_ERR_AUTHENTICATION. graphmailer wipes the buffer after use.
    /// Give this instead of client_secret and client_certificate. A federated
    /// token file (AZURE_FEDERATED_TOKEN_FILE) and a managed identity
    /// (GRAPHMAILER_CREDENTIAL=managed_identity) need no field: use
    /// graphmailer_mailer_new_from_env.
    pub assertion_callback: graphmailer_assertion_fn,
    /// Passed to assertion_callback unchanged; must stay valid while the
    /// mailer lives.
    pub assertion_userdata: *mut c_void,
}

/// Writes a client assertion into `buffer` (`buffer_len` bytes) and returns
/// its length, the length needed when it does not fit, or a negative number
/// on failure. See graphmailer_config.assertion_callback.
pub type graphmailer_assertion_fn = Option<
    unsafe extern "C" fn(buffer: *mut c_char, buffer_len: usize, userdata: *mut c_void) -> isize,
>;

/// The C callback and its userdata, which the caller promised are usable
/// from any thread for the mailer's lifetime.
struct CAssertion {
    callback: unsafe extern "C" fn(*mut c_char, usize, *mut c_void) -> isize,
    userdata: *mut c_void,
}

// SAFETY: graphmailer_config.assertion_callback's contract: thread-safe, and
// its userdata valid while the mailer lives.
unsafe impl Send for CAssertion {}
unsafe impl Sync for CAssertion {}

/// The first buffer offered; a JWT from a platform is well under this.
const ASSERTION_BUFFER: usize = 8192;
/// No assertion is longer: a callback asking for more is broken.
const ASSERTION_MAX: usize = 1 << 20;

impl CAssertion {
    fn call(&self) -> Result<String, String> {
        let mut len = ASSERTION_BUFFER;
        for _ in 0..2 {
            let mut buffer = Zeroizing::new(vec![0u8; len]);
            // SAFETY: the buffer holds `len` bytes; the callback's contract.
            let n = unsafe { (self.callback)(buffer.as_mut_ptr().cast(), len, self.userdata) };
            let n = usize::try_from(n)
                .map_err(|_| format!("assertion_callback returned {n} (a failure)"))?;
            if n > ASSERTION_MAX {
                return Err(format!("assertion_callback asked for {n} bytes"));
            }
            if n <= len {
                return std::str::from_utf8(&buffer[..n])
                    .map(str::to_owned)
                    .map_err(|_| "assertion_callback wrote an assertion that is not UTF-8".into());
            }
            len = n;
        }
        Err("assertion_callback asked for a larger buffer twice".into())
    }
}

/// Turns the C struct into the core's checked configuration.
///
/// # Safety
/// Every pointer in `c` is NULL or valid as documented on the struct.
pub(crate) unsafe fn to_core(c: &graphmailer_config) -> Result<Config, Failure> {
    let mut b = Config::builder();
    if let Some(v) = unsafe { args::setting(c.tenant_id, "tenant_id") }? {
        b = b.tenant_id(v);
    }
    if let Some(v) = unsafe { args::setting(c.client_id, "client_id") }? {
        b = b.client_id(v);
    }
    let secret = unsafe { args::setting(c.client_secret, "client_secret") }?;
    let certificate = if c.client_certificate.is_null() {
        None
    } else {
        Some(handle::get::<Certificate, _>(
            c.client_certificate,
            "client_certificate",
        )?)
    };
    // Core refuses a secret and a certificate together, naming both.
    if let Some(secret) = secret {
        b = b.client_secret(secret);
    }
    if let Some(certificate) = certificate {
        b = b.client_certificate(certificate.certificate.clone());
    }
    if let Some(callback) = c.assertion_callback {
        let source = CAssertion {
            callback,
            userdata: c.assertion_userdata,
        };
        b = b.assertion_callback(gm_core::AssertionCallback::blocking(move || source.call()));
    }
    if let Some(v) = unsafe { args::setting(c.cloud, "cloud") }? {
        b = b.set("cloud", v)?;
    }
    if let Some(v) = unsafe { args::setting(c.authority_host, "authority_host") }? {
        b = b.authority_host(v);
    }
    if let Some(v) = unsafe { args::setting(c.graph_endpoint, "graph_endpoint") }? {
        b = b.graph_endpoint(v);
    }
    if let Some(v) = unsafe { args::setting(c.scope, "scope") }? {
        b = b.scope(v);
    }
    let senders =
        unsafe { args::strings(c.allowed_senders, c.allowed_senders_len, "allowed_senders") }?;
    if !senders.is_empty() {
        b = b.allowed_senders(senders);
    }
    if let Some(path) = unsafe { args::optional_path(c.ca_bundle_path, "ca_bundle_path") }? {
        b = b.ca_bundle_path(path);
    }
    let pem = unsafe { args::bytes(c.ca_bundle_pem, c.ca_bundle_pem_len, "ca_bundle_pem") }?;
    if !pem.is_empty() {
        b = b.ca_bundle_pem(pem.to_vec());
    }
    if let Some(d) = args::millis(c.timeout_ms) {
        b = b.timeout(d);
    }
    if let Some(d) = args::millis(c.connect_timeout_ms) {
        b = b.connect_timeout(d);
    }
    if c.max_attempts != 0 {
        b = b.max_attempts(c.max_attempts);
    }
    if let Some(d) = args::millis(c.retry_deadline_ms) {
        b = b.retry_deadline(d);
    }
    if c.max_concurrent_per_mailbox != 0 {
        b = b.max_concurrent_per_mailbox(c.max_concurrent_per_mailbox as usize);
    }
    if c.large_messages {
        b = b.large_messages(true);
    }
    if let Some(v) = unsafe { args::setting(c.default_sender, "default_sender") }? {
        b = b.default_sender(v);
    }
    Ok(b.build()?)
}

/// A certificate and its RSA private key, the credential Microsoft
/// recommends over client secrets. Create it with one of the
/// graphmailer_certificate_from_* functions, put it in
/// graphmailer_config.client_certificate, release it with
/// graphmailer_certificate_free.
pub struct graphmailer_certificate {
    _private: [u8; 0],
}

/// The certificate and its thumbprint as a C string, for the getter to lend out.
pub(crate) struct Certificate {
    certificate: ClientCertificate,
    thumbprint: CString,
}

impl Certificate {
    fn new(certificate: ClientCertificate) -> Self {
        let thumbprint = c_string(&certificate.thumbprint());
        Certificate {
            certificate,
            thumbprint,
        }
    }
}

fn issue(
    function: &str,
    certificate_out: *mut *mut graphmailer_certificate,
    load: impl FnOnce() -> Result<ClientCertificate, Failure>,
) -> graphmailer_status {
    call(function, || {
        let out = args::out(certificate_out, "certificate_out")?;
        let certificate = load()?;
        let handle =
            handle::insert::<Certificate, graphmailer_certificate>(Certificate::new(certificate));
        // SAFETY: checked non-NULL; the caller promised writable memory.
        unsafe { out.write(handle) };
        Ok(())
    })
}

/// Loads a certificate from PEM text: the certificate and the private key may
/// be in one text (pass it twice) or two. The key may be PKCS#8, PKCS#8
/// encrypted with `password` (may be NULL when the key is not encrypted), or
/// PKCS#1. A certificate that cannot be read returns GRAPHMAILER_ERR_CONFIG
/// naming AZURE_CLIENT_CERTIFICATE_PATH or AZURE_CLIENT_CERTIFICATE_PASSWORD.
///
/// # Safety
/// `certificate_pem` and `key_pem` point to their lengths in readable bytes;
/// `password` is NULL or a NUL-terminated string; `certificate_out` points to
/// writable memory for one pointer.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn graphmailer_certificate_from_pem(
    certificate_pem: *const u8,
    certificate_pem_len: usize,
    key_pem: *const u8,
    key_pem_len: usize,
    password: *const c_char,
    certificate_out: *mut *mut graphmailer_certificate,
) -> graphmailer_status {
    issue("graphmailer_certificate_from_pem", certificate_out, || {
        let certificate =
            unsafe { args::bytes(certificate_pem, certificate_pem_len, "certificate_pem") }?;
        let key = unsafe { args::bytes(key_pem, key_pem_len, "key_pem") }?;
        let password = unsafe { args::optional_string(password, "password") }?;
        Ok(ClientCertificate::from_pem(certificate, key, password)?)
    })
}

/// Loads a certificate from a PKCS#12 archive (.pfx, .p12) and its password
/// (NULL or "" for none).
///
/// # Safety
/// `archive` points to `archive_len` readable bytes; `password` is NULL or a
/// NUL-terminated string; `certificate_out` points to writable memory for
/// one pointer.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn graphmailer_certificate_from_pkcs12(
    archive: *const u8,
    archive_len: usize,
    password: *const c_char,
    certificate_out: *mut *mut graphmailer_certificate,
) -> graphmailer_status {
    issue(
        "graphmailer_certificate_from_pkcs12",
        certificate_out,
        || {
            let archive = unsafe { args::bytes(archive, archive_len, "archive") }?;
            let password = unsafe { args::optional_string(password, "password") }?;
            Ok(ClientCertificate::from_pkcs12(
                archive,
                password.unwrap_or(""),
            )?)
        },
    )
}

/// Loads a certificate from a file, as AZURE_CLIENT_CERTIFICATE_PATH names
/// it: PEM with the certificate and the key, or PKCS#12. `password` may be
/// NULL.
///
/// # Safety
/// `path` is a NUL-terminated string; `password` is NULL or one;
/// `certificate_out` points to writable memory for one pointer.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn graphmailer_certificate_from_path(
    path: *const c_char,
    password: *const c_char,
    certificate_out: *mut *mut graphmailer_certificate,
) -> graphmailer_status {
    issue("graphmailer_certificate_from_path", certificate_out, || {
        let path = unsafe { args::path(path, "path") }?;
        let password = unsafe { args::optional_string(password, "password") }?;
        Ok(ClientCertificate::from_path(path, password)?)
    })
}

/// The certificate's SHA-1 thumbprint in upper-case hex, as the app
/// registration's "Certificates & secrets" page shows it. Borrowed until the
/// certificate is freed.
///
/// # Safety
/// `thumbprint_out` points to writable memory for one pointer.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn graphmailer_certificate_thumbprint(
    certificate: *const graphmailer_certificate,
    thumbprint_out: *mut *const c_char,
) -> graphmailer_status {
    call("graphmailer_certificate_thumbprint", || {
        let certificate = handle::get::<Certificate, _>(certificate, "certificate")?;
        let out = args::out(thumbprint_out, "thumbprint_out")?;
        // SAFETY: checked non-NULL; the caller promised writable memory. The
        // string lives as long as the table holds the certificate.
        unsafe { out.write(certificate.thumbprint.as_ptr()) };
        Ok(())
    })
}

/// Releases a certificate (mailers created with it keep their own
/// reference). NULL is accepted; a certificate freed already returns
/// GRAPHMAILER_ERR_INVALID_HANDLE.
#[unsafe(no_mangle)]
pub extern "C" fn graphmailer_certificate_free(
    certificate: *mut graphmailer_certificate,
) -> graphmailer_status {
    call("graphmailer_certificate_free", || {
        handle::free::<Certificate, _>(certificate, "certificate")
    })
}
