//! The `graphmailer` npm package: core's async `Mailer` behind a Promise API.
//!
//! This crate converts types (`convert.rs`), maps errors (`errors.rs`) and runs
//! sends on napi-rs's tokio runtime, so no call that touches the network
//! blocks Node's event loop. Every rule (validation, the sender allowlist,
//! retries, hints, error codes) is core's.

#![deny(clippy::all)]

mod abort;
mod certificate;
mod convert;
mod errors;
mod from_js;
mod outbox;
mod promises;
mod reports;
mod shapes;

use napi::bindgen_prelude::*;
use napi::threadsafe_function::ThreadsafeFunctionCallMode;
use napi_derive::napi;

use errors::Failure;

pub use certificate::{CertificateInfo, ClientCertificate};
pub use outbox::{Outbox, QueuedMail, RunSummary};
pub use reports::{Diagnosis, ErrorInfo, Finding, Verification, VerifyRow};

/// What Graph said when it accepted a mail (HTTP 202). Delivery happens
/// after; a failure to deliver comes back to the sender's mailbox as a bounce.
#[napi(object)]
pub struct SendReceipt {
    /// Graph's `request-id` of the accepted request, for Microsoft support.
    pub request_id: Option<String>,
    /// The `client-request-id` graphmailer sent (the same on every attempt).
    pub client_request_id: String,
    /// How many requests it took (1 unless throttled or refused a token).
    pub attempts: u32,
}

/// A mailer's configuration without its secret, as `toJSON()` and
/// `util.inspect` show it.
#[napi(object)]
pub struct MailerInfo {
    pub tenant_id: String,
    pub client_id: String,
    /// The kind of credential (`client secret`); never its value.
    pub credential: String,
    pub cloud: String,
    pub authority_host: String,
    pub graph_endpoint: String,
    pub token_url: String,
    pub scope: String,
    pub allowed_senders: Vec<String>,
    /// Whether messages over Graph's 4 MB request go through a draft and
    /// upload sessions (which needs Mail.ReadWrite).
    pub large_messages: bool,
    /// The mailbox a message that names none is sent as, by the sendmail
    /// stand-in.
    pub default_sender: Option<String>,
}

/// Sends mail through Microsoft Graph with app-only credentials.
///
/// Create one per application and share it: every send through it shares
/// one token (fetched once, refreshed ahead of expiry), one connection pool
/// and Graph's limit of 4 requests in flight per mailbox. The client secret
/// stays inside the native addon: it is never a JavaScript property.
#[napi]
pub struct Mailer {
    inner: graphmailer::Mailer,
}

#[napi]
impl Mailer {
    /// A mailer from options; throws an `Error` with `code: 'ERR_CONFIG'`
    /// naming the setting when the configuration is incomplete or wrong, and a
    /// `TypeError` naming the option when one has the wrong type.
    #[napi(catch_unwind, constructor, ts_args_type = "options: MailerOptions")]
    pub fn new(env: Env, options: Unknown) -> Result<Self> {
        let config = convert::config(&env, options).map_err(|f| f.into_napi(&env))?;
        Self::build(&env, config)
    }

    /// A mailer configured from environment variables: `AZURE_TENANT_ID`,
    /// `AZURE_CLIENT_ID`, `AZURE_CLIENT_SECRET`, `AZURE_AUTHORITY_HOST` and the
    /// `GRAPHMAILER_*` settings (see the README). Reads `process.env` unless
    /// another object of variables is given.
    #[napi(
        catch_unwind,
        factory,
        ts_args_type = "env?: Record<string, string | undefined>"
    )]
    pub fn from_env(env: Env, vars: Option<Unknown>) -> Result<Self> {
        let config = match vars {
            Some(vars) => convert::environment(vars),
            None => graphmailer::Config::from_env().map_err(Failure::Core),
        };
        Self::build(&env, config.map_err(|f| f.into_napi(&env))?)
    }

    /// A mailer configured from a TOML file whose keys are the settings'
    /// file names (`tenant_id = "..."`); settings it leaves out, such as the
    /// secret, come from the environment.
    #[napi(catch_unwind, factory, ts_args_type = "path: string")]
    pub fn from_file(env: Env, path: Unknown) -> Result<Self> {
        let config = convert::string_arg(path, "path")
            .and_then(|path| graphmailer::Config::from_file(path).map_err(Failure::Core))
            .map_err(|f| f.into_napi(&env))?;
        Self::build(&env, config)
    }

    /// Sends a message. Resolves when Graph accepted it; rejects with an
    /// `Error` whose `code` says what went wrong (`ERR_INVALID_MESSAGE`,
    /// `ERR_ACCESS_DENIED`, ...) with `graphCode`, `requestId` and `hint`
    /// when known, or with a `TypeError` naming a message field of the wrong
    /// type. With `signal`, rejects with a `SendAbortError` when it aborts
    /// before Graph accepted the mail (a large message's draft is then
    /// deleted); its `mayHaveBeenSent` says whether the request had already
    /// reached Microsoft. The work runs off the JavaScript thread.
    #[napi(
        catch_unwind,
        ts_args_type = "message: SendOptions",
        ts_return_type = "Promise<SendReceipt>"
    )]
    pub fn send<'env>(
        &self,
        env: &'env Env,
        message: Unknown,
    ) -> Result<PromiseRaw<'env, SendReceipt>> {
        let (prepared, signal, on_progress) = match convert::message(message) {
            // An exception thrown while reading the message (a throwing getter)
            // is already pending: throw it as it is.
            Err(Failure::Js(e)) => return Err(e),
            Err(other) => (Err(other), None, None),
            Ok(o) => (Ok(o.prepared), o.signal, o.on_progress),
        };
        let options = match on_progress {
            Some(f) => graphmailer::SendOptions::new().on_progress(move |p| report_progress(&f, p)),
            None => graphmailer::SendOptions::new(),
        };
        let mailer = self.inner.clone();
        settle(env, signal, async move {
            let prepared = prepared?;
            let message = if prepared.has_files() {
                // Looking at attachment files is blocking I/O: keep it off the
                // runtime's async workers.
                tokio::task::spawn_blocking(move || prepared.finish())
                    .await
                    .map_err(|e| stopped("attaching files", e))??
            } else {
                prepared.finish()?
            };
            Ok(mailer.send_with(&message, &options).await?)
        })
    }

    /// Sends a ready RFC 5322 message (headers, a blank line, the body, any
    /// attachments as MIME parts) as it is, through Graph's MIME `sendMail`.
    /// `message` is a `Buffer`, a `Uint8Array`, a string (the message text,
    /// sent as UTF-8) or a `Readable` (any async iterable of `Buffer`s), read
    /// up to just past `mailer.maxMimeBytes` (over `limits.maxMimeBytes` it
    /// goes through a draft and upload sessions, with `largeMessages` on).
    /// The mailbox to send as is
    /// `options.sender`, else the message's From address; the recipients
    /// are its To, Cc and Bcc; the allowlist applies. Resolves and rejects as
    /// `send` does (a message core refuses is `ERR_INVALID_MESSAGE` with
    /// `field` `mime`, `mime.To`, `mime.To[1]` or `sender`).
    #[napi(
        catch_unwind,
        ts_args_type = "message: MimeInput, options?: SendMimeOptions",
        ts_return_type = "Promise<SendReceipt>"
    )]
    pub fn send_mime<'env>(
        &self,
        env: &'env Env,
        message: Unknown,
        options: Option<Unknown>,
    ) -> Result<PromiseRaw<'env, SendReceipt>> {
        let converted = convert::mime_bytes(message, "message", self.inner.max_mime_bytes())
            .and_then(|bytes| Ok((bytes, convert::mime_options(options)?)));
        let (bytes, sender, signal) = match converted {
            Err(Failure::Js(e)) => return Err(e),
            Err(other) => (Err(other), None, None),
            Ok((bytes, o)) => (Ok(bytes), o.sender, o.signal.map(|s| s.0)),
        };
        let mailer = self.inner.clone();
        settle(env, signal, async move {
            let mime = mailer.read_mime(&bytes?[..])?;
            Ok(mailer.send_mime(sender.as_deref(), &mime).await?)
        })
    }

    /// Sends the RFC 5322 message in a file (an `.eml`), read off the
    /// JavaScript thread and only up to just past `mailer.maxMimeBytes`, as
    /// `sendMime` does.
    #[napi(
        catch_unwind,
        ts_args_type = "path: string, options?: SendMimeOptions",
        ts_return_type = "Promise<SendReceipt>"
    )]
    pub fn send_mime_file<'env>(
        &self,
        env: &'env Env,
        path: Unknown,
        options: Option<Unknown>,
    ) -> Result<PromiseRaw<'env, SendReceipt>> {
        let converted = convert::string_arg(path, "path")
            .and_then(|path| Ok((path, convert::mime_options(options)?)));
        let (path, sender, signal) = match converted {
            Err(Failure::Js(e)) => return Err(e),
            Err(other) => (Err(other), None, None),
            Ok((path, o)) => (Ok(path), o.sender, o.signal.map(|s| s.0)),
        };
        let mailer = self.inner.clone();
        settle(env, signal, async move {
            let path = path?;
            let reader = mailer.clone();
            let mime = graphmailer::offload::read(move || reader.read_mime_file(path)).await?;
            Ok(mailer.send_mime(sender.as_deref(), &mime).await?)
        })
    }

    /// Gets a fresh token and explains it: the app's roles (and any broader
    /// than sending mail needs), the token's tenant and lifetime, the clock's
    /// skew, the endpoints and proxy in use. Never rejects for a failed token
    /// request: that is reported in `error` and as a finding with its hint.
    #[napi(catch_unwind, ts_return_type = "Promise<Diagnosis>")]
    pub fn diagnose<'env>(&self, env: &'env Env) -> Result<PromiseRaw<'env, Diagnosis>> {
        let mailer = self.inner.clone();
        promises::spawn(env, async move { mailer.diagnose().await }, |_, d| {
            Ok(Diagnosis::from(d))
        })
    }

    /// Checks that the tenant's restriction holds: each `allowed` sender must
    /// be able to send and each `denied` sender must be refused with access
    /// denied. Each attempt sends a short test message to the sender's own
    /// mailbox. With `wait` (milliseconds), repeats every `interval`
    /// (default: a twelfth of `wait`, between 10 s and 5 min) until the check holds or `wait` has passed, since a new
    /// restriction takes 30 minutes to hours to apply; `onProgress` is called
    /// after each round with its result and the milliseconds left. Rejects only when
    /// nothing can be tested (bad input, or no token at all).
    #[napi(
        catch_unwind,
        ts_args_type = "options: VerifyOptions",
        ts_return_type = "Promise<Verification>"
    )]
    pub fn verify<'env>(
        &self,
        env: &'env Env,
        options: Unknown,
    ) -> Result<PromiseRaw<'env, Verification>> {
        let options = match convert::verify_options(options) {
            Err(Failure::Js(e)) => return Err(e),
            other => other,
        };
        let mailer = self.inner.clone();
        promises::spawn(
            env,
            async move {
                let o = options?;
                let allowed = o.allowed.unwrap_or_default();
                let denied = o.denied.unwrap_or_default();
                let verification = match (o.wait, o.on_progress) {
                    (None, None) => mailer.verify(&allowed, &denied).await?,
                    (wait, on_progress) => {
                        let wait = wait.map(|w| w.0).unwrap_or_default();
                        let interval =
                            graphmailer::blocking::verify_interval(wait, o.interval.map(|i| i.0));
                        let progress =
                            move |v: &graphmailer::Verification, left: std::time::Duration| {
                                if let Some(f) = &on_progress {
                                    f.call(
                                        (Verification::from(v.clone()), left.as_millis() as f64)
                                            .into(),
                                        ThreadsafeFunctionCallMode::NonBlocking,
                                    );
                                }
                            };
                        mailer
                            .verify_until(&allowed, &denied, wait, interval, progress)
                            .await?
                    }
                };
                Ok::<_, Failure>(verification)
            },
            |env, outcome| match outcome {
                Ok(v) => Ok(Verification::from(v)),
                Err(failure) => Err(failure.into_napi(env)),
            },
        )
    }

    /// The kind of credential: `client secret` or `certificate` (never its value).
    #[napi(catch_unwind, getter)]
    pub fn credential(&self) -> String {
        self.inner.config().credential_kind().to_owned()
    }

    /// The directory (tenant) ID or domain.
    #[napi(catch_unwind, getter)]
    pub fn tenant_id(&self) -> String {
        self.inner.config().tenant_id().to_owned()
    }

    /// The application (client) ID.
    #[napi(catch_unwind, getter)]
    pub fn client_id(&self) -> String {
        self.inner.config().client_id().to_owned()
    }

    /// The cloud: `global`, `usgov`, `usgovdod` or `china`.
    #[napi(catch_unwind, getter)]
    pub fn cloud(&self) -> String {
        self.inner.config().cloud().name().to_owned()
    }

    /// The identity platform's origin.
    #[napi(catch_unwind, getter)]
    pub fn authority_host(&self) -> String {
        self.inner.config().authority_host().to_owned()
    }

    /// Microsoft Graph's origin.
    #[napi(catch_unwind, getter)]
    pub fn graph_endpoint(&self) -> String {
        self.inner.config().graph_endpoint().to_owned()
    }

    /// The token endpoint for this tenant.
    #[napi(catch_unwind, getter)]
    pub fn token_url(&self) -> String {
        self.inner.config().token_url()
    }

    /// The scope requested (`https://graph.microsoft.com/.default`).
    #[napi(catch_unwind, getter)]
    pub fn scope(&self) -> String {
        self.inner.config().scope().to_owned()
    }

    /// The local sender allowlist; empty means no local restriction.
    #[napi(catch_unwind, getter)]
    pub fn allowed_senders(&self) -> Vec<String> {
        allowed_senders(self.inner.config())
    }

    /// Whether messages over Graph's 4 MB request limit are sent through a
    /// draft and upload sessions (`largeMessages`); refused when off.
    #[napi(catch_unwind, getter)]
    pub fn large_messages(&self) -> bool {
        self.inner.config().large_messages()
    }

    /// The largest raw MIME message `sendMime` sends with this mailer:
    /// `limits.maxMimeBytes`, or `limits.maxLargeMimeBytes` with
    /// `largeMessages` on. A stream is read only one byte past it.
    #[napi(catch_unwind, getter)]
    pub fn max_mime_bytes(&self) -> f64 {
        self.inner.max_mime_bytes() as f64
    }

    /// The mailbox the sendmail stand-in sends as when a message names none.
    #[napi(catch_unwind, getter)]
    pub fn default_sender(&self) -> Option<String> {
        self.inner.config().default_sender().map(str::to_owned)
    }

    /// How many token requests this mailer has made (sends share one token).
    #[napi(catch_unwind, getter)]
    pub fn token_requests(&self) -> i64 {
        self.inner.token_requests() as i64
    }

    /// The configuration without the secret.
    #[napi(catch_unwind, js_name = "toJSON")]
    pub fn to_json(&self) -> MailerInfo {
        let c = self.inner.config();
        MailerInfo {
            tenant_id: c.tenant_id().to_owned(),
            client_id: c.client_id().to_owned(),
            credential: c.credential_kind().to_owned(),
            cloud: c.cloud().name().to_owned(),
            authority_host: c.authority_host().to_owned(),
            graph_endpoint: c.graph_endpoint().to_owned(),
            token_url: c.token_url(),
            scope: c.scope().to_owned(),
            allowed_senders: allowed_senders(c),
            large_messages: c.large_messages(),
            default_sender: c.default_sender().map(str::to_owned),
        }
    }
}

impl Mailer {
    fn build(env: &Env, config: graphmailer::Config) -> Result<Self> {
        let inner =
            graphmailer::Mailer::new(config).map_err(|e| Failure::Core(e).into_napi(env))?;
        Ok(Mailer { inner })
    }
}

fn allowed_senders(config: &graphmailer::Config) -> Vec<String> {
    config.allowed_senders().entries()
}

/// Hands one progress event to `send`'s `onProgress` on the JavaScript
/// thread. An exception thrown there is caught and logged, never thrown out of
/// the send (it becomes a process warning): the upload is under way and
/// must not be left half done. The last
/// event is waited for, so it reaches the callback before the promise settles.
fn report_progress(f: &convert::UploadProgressFn, progress: &graphmailer::Progress) {
    let (delivered, wait) = std::sync::mpsc::channel();
    let status = f.call_with_return_value(
        reports::UploadProgress::from(progress),
        ThreadsafeFunctionCallMode::NonBlocking,
        move |outcome: Result<()>, env: Env| {
            if let Err(e) = outcome {
                let _ = emit_warning(
                    &env,
                    &format!("onProgress threw ({}); the send goes on", e.reason),
                );
            }
            let _ = delivered.send(());
            Ok(())
        },
    );
    // A closing environment drops the call, and with it the sender.
    if progress.finished && status == Status::Ok {
        let _ = wait.recv();
    }
}

/// `process.emitWarning(message)`, which Node prints unless told not to.
fn emit_warning(env: &Env, message: &str) -> Result<()> {
    let process: Object = env.get_global()?.get_named_property("process")?;
    let emit: Function<'_, String, Unknown> = process.get_named_property("emitWarning")?;
    emit.call(format!("graphmailer: {message}"))?;
    Ok(())
}

/// Runs a send on the runtime and settles its promise on the JavaScript
/// thread: the receipt, the error for the failure, or an `AbortError` when
/// `signal` aborted first (the send's future is then dropped, which is how
/// core cancels it).
fn settle<'env, F>(
    env: &'env Env,
    signal: Option<Object<'_>>,
    work: F,
) -> Result<PromiseRaw<'env, SendReceipt>>
where
    F: std::future::Future<Output = std::result::Result<graphmailer::SendReceipt, Failure>>
        + Send
        + 'static,
{
    let (guard, aborted) = match signal {
        Some(signal) => {
            let (guard, aborted) = abort::watch(env, signal)?;
            (Some(guard), Some(aborted))
        }
        None => (None, None),
    };
    promises::spawn(
        env,
        async move { abort::run(aborted, work).await },
        move |env, outcome| {
            if let Some(guard) = guard
                && let Some(abort_error) = guard.finish(env, &outcome)?
            {
                return Err(abort_error);
            }
            match outcome {
                abort::Ended::Done(Ok(receipt)) => Ok(SendReceipt {
                    request_id: receipt.request_id,
                    client_request_id: receipt.client_request_id,
                    attempts: receipt.attempts,
                }),
                abort::Ended::Done(Err(failure)) => Err(failure.into_napi(env)),
                abort::Ended::Aborted { .. } => {
                    Err(napi::Error::from_reason("the send was aborted"))
                }
            }
        },
    )
}

/// A blocking task that ended without an answer (it panicked).
fn stopped(what: &str, e: tokio::task::JoinError) -> graphmailer::Error {
    graphmailer::Error::new(
        graphmailer::ErrorKind::Service,
        format!("{what} stopped unexpectedly: {e}"),
    )
}

/// True for an error that graphmailer raised (its `code` is one of
/// `errorCodes`); a type guard in TypeScript.
#[napi(
    catch_unwind,
    ts_args_type = "value: unknown",
    ts_return_type = "value is GraphMailerError"
)]
pub fn is_graph_mailer_error(value: Unknown) -> Result<bool> {
    if value.get_type()? != ValueType::Object || !value.is_error()? {
        return Ok(false);
    }
    let object: Object = unsafe { value.cast()? };
    let code: Unknown = object.get_named_property("code")?;
    if code.get_type()? != ValueType::String {
        return Ok(false);
    }
    let code: String = unsafe { code.cast()? };
    Ok(graphmailer::ErrorKind::ALL.iter().any(|k| k.code() == code))
}

/// The Exchange Online PowerShell an administrator runs to restrict the app
/// to the mailboxes it may send as, filled in with `request`'s values (each
/// checked and quoted). `style` is `'rbac'` (RBAC for Applications,
/// Microsoft's current way; needs `servicePrincipalId`) or
/// `'applicationAccessPolicy'` (the older way; needs `group`). Throws an
/// `Error` with `code: 'ERR_CONFIG'` naming the bad value.
#[napi(
    catch_unwind,
    ts_args_type = "request: PolicyRequest, style: PolicyStyle"
)]
pub fn policy_script(env: Env, request: Unknown, style: Unknown) -> Result<String> {
    let script = (|| {
        let request = convert::policy_request(request)?;
        let style = convert::policy_style(style)?;
        Ok::<_, Failure>(graphmailer::policy_script(&request, style)?)
    })();
    script.map_err(|f| f.into_napi(&env))
}

/// `version` (core's), `errorCodes` (every `ErrorKind::code()`, in the
/// order of their numbers), `policyWarnings` (what every administrator
/// should read before restricting the app) and `limits` (core's size limits
/// in bytes, so the package's JavaScript reads a stream only as far as core
/// reads one), as constants on the module.
#[napi(module_exports)]
pub fn init(mut exports: Object, env: Env) -> Result<()> {
    exports.set_named_property("version", graphmailer::VERSION)?;
    let mut codes = env.create_array(graphmailer::ErrorKind::ALL.len() as u32)?;
    for (i, kind) in graphmailer::ErrorKind::ALL.iter().enumerate() {
        codes.set(i as u32, kind.code())?;
    }
    let mut codes = codes.coerce_to_object()?;
    codes.freeze()?;
    exports.set_named_property("errorCodes", codes)?;
    let mut warnings = env.create_array(graphmailer::powershell::POLICY_WARNINGS.len() as u32)?;
    for (i, warning) in graphmailer::powershell::POLICY_WARNINGS.iter().enumerate() {
        warnings.set(i as u32, *warning)?;
    }
    let mut warnings = warnings.coerce_to_object()?;
    warnings.freeze()?;
    exports.set_named_property("policyWarnings", warnings)?;
    let mut limits = Object::new(&env)?;
    {
        use graphmailer::limits::*;
        limits.set_named_property("maxRequestBytes", MAX_REQUEST_BYTES as f64)?;
        limits.set_named_property("maxAttachmentBytes", MAX_ATTACHMENT_BYTES as f64)?;
        limits.set_named_property("uploadSessionMinBytes", UPLOAD_SESSION_MIN_BYTES as f64)?;
        limits.set_named_property("uploadChunkBytes", UPLOAD_CHUNK_BYTES as f64)?;
        limits.set_named_property("maxMimeBytes", MAX_MIME_BYTES as f64)?;
        limits.set_named_property("maxLargeMimeBytes", MAX_LARGE_MIME_BYTES as f64)?;
    }
    limits.freeze()?;
    exports.set_named_property("limits", limits)?;
    Ok(())
}
