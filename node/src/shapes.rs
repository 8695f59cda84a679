//! The objects the package's functions take (options, messages,
//! attachments): their declarations here are the TypeScript interfaces of
//! `index.d.ts`, doc comments included, and the `js_object!` beside each
//! reads it.
//!
//! A field's Rust type is what the binding reads it as; `ts_type` gives the
//! TypeScript type where napi cannot derive it from the Rust one.

use graphmailer::{AssertionCallback, Secret};
use napi::bindgen_prelude::*;
use napi_derive::napi;

use crate::convert::{Headers, Mailbox, Pending, ProgressFn, Recipients, UploadProgressFn};
use crate::from_js::{Bytes, MailerArg, Millis, Required, Signal, Whole, js_object};

/// Options of `new Mailer(options)`. Durations are in milliseconds.
#[napi(object, object_from_js = false, object_to_js = false)]
pub struct MailerOptions<'a> {
    /// The directory (tenant) ID GUID, or a verified domain of the tenant.
    #[napi(ts_type = "string")]
    pub tenant_id: Required<String>,
    /// The application (client) ID GUID of the app registration.
    #[napi(ts_type = "string")]
    pub client_id: Required<String>,
    /// A client secret's value (not its ID). Never shown by `util.inspect` or in errors. Give this, `clientCertificate` or `assertion`.
    #[napi(ts_type = "string")]
    pub client_secret: Option<Secret>,
    /// A certificate credential, which Microsoft recommends over secrets: a
    /// `ClientCertificate`, or `{ path, password }` naming a PEM file (certificate
    /// and key) or a PKCS#12 archive (`.pfx`, `.p12`).
    #[napi(ts_type = "ClientCertificate | CertificateFile")]
    pub client_certificate: Option<Unknown<'a>>,
    /// A federated credential's client assertion: called once per token request
    /// (tokens are cached), it returns the platform's token (a JWT), or a Promise
    /// of it (GitHub Actions' OIDC token, another cloud's identity, SPIFFE). A
    /// throw or rejection fails the token request with its message. The
    /// assertion is never shown. A federated token file and a managed identity
    /// need no option: `Mailer.fromEnv()` reads `AZURE_FEDERATED_TOKEN_FILE` and
    /// `GRAPHMAILER_CREDENTIAL=managed_identity`.
    #[napi(ts_type = "() => string | Promise<string>")]
    pub assertion: Option<AssertionCallback>,
    /// `global` (default, GCC included), `usgov` (GCC High), `usgovdod` (DoD) or `china` (21Vianet).
    #[napi(ts_type = "'global' | 'usgov' | 'usgovdod' | 'china' | (string & {})")]
    pub cloud: Option<String>,
    /// Overrides the cloud's identity-platform origin (the local emulator's URL in tests).
    pub authority_host: Option<String>,
    /// Overrides the cloud's Graph origin.
    pub graph_endpoint: Option<String>,
    /// Overrides the cloud's scope; must end in `/.default`.
    pub scope: Option<String>,
    /// Mailboxes (`erp@contoso.com`) and domains (`@contoso.com`) this mailer may send as; empty means no local restriction.
    pub allowed_senders: Option<Vec<String>>,
    /// A PEM file of extra certificate authorities to trust.
    pub ca_bundle_path: Option<String>,
    /// PEM text of extra certificate authorities to trust.
    #[napi(ts_type = "string | Uint8Array")]
    pub ca_bundle_pem: Option<Bytes>,
    /// Time allowed for one HTTP request, in milliseconds (default 30000).
    #[napi(ts_type = "number")]
    pub timeout: Option<Millis>,
    /// Time allowed to open a connection, in milliseconds (default 10000).
    #[napi(ts_type = "number")]
    pub connect_timeout: Option<Millis>,
    /// Attempts per request, the first included, 1 to 10 (default 4).
    #[napi(ts_type = "number")]
    pub max_attempts: Option<Whole>,
    /// Time after which no retry starts, in milliseconds (default 60000).
    #[napi(ts_type = "number")]
    pub retry_deadline: Option<Millis>,
    /// Requests in flight per mailbox, 1 to 4 (default 4, Graph's limit).
    #[napi(ts_type = "number")]
    pub max_concurrent_per_mailbox: Option<Whole>,
    /// Send messages over Graph's 4 MB request (attachments up to 150 MB each)
    /// through a draft and upload sessions (default false: such a message is
    /// refused before any request). The app then needs the Mail.ReadWrite
    /// application permission besides Mail.Send, scoped to the same mailboxes.
    pub large_messages: Option<bool>,
    /// The mailbox `sendMime` (and the sendmail stand-in) sends as when a message has no usable From and no `sender` is given (`GRAPHMAILER_DEFAULT_SENDER`).
    pub default_sender: Option<String>,
}
js_object!(MailerOptions<'a> {
    tenant_id,
    client_id,
    client_secret,
    client_certificate,
    assertion,
    cloud,
    authority_host,
    graph_endpoint,
    scope,
    allowed_senders,
    ca_bundle_path,
    ca_bundle_pem,
    timeout,
    connect_timeout,
    max_attempts,
    retry_deadline,
    max_concurrent_per_mailbox,
    large_messages,
    default_sender,
});

/// The `clientCertificate` option naming a file: PEM (certificate and
/// key) or a PKCS#12 archive (`.pfx`, `.p12`).
#[napi(object, object_from_js = false, object_to_js = false)]
pub struct CertificateFile {
    pub path: String,
    /// The key's or the archive's password. Never shown.
    #[napi(ts_type = "string")]
    pub password: Option<Secret>,
}
js_object!(CertificateFile { path, password });

/// A recipient with the name mail clients show for it.
#[napi(object, object_from_js = false, object_to_js = false)]
pub struct Address {
    pub name: Option<String>,
    pub address: String,
}
js_object!(Address { name, address });

/// An attachment given as an object, with exactly one of `content` and `path`.
#[napi(object, object_from_js = false, object_to_js = false)]
pub struct Attachment {
    /// The file name shown to the recipient (default with `path`: the file's name).
    pub name: Option<String>,
    /// The bytes; a string is sent as UTF-8.
    #[napi(ts_type = "Uint8Array | string")]
    pub content: Option<Bytes>,
    /// A file to read while sending (never read into memory whole when it goes through an upload session).
    pub path: Option<String>,
    /// The MIME type; guessed from the name's extension when not given.
    pub content_type: Option<String>,
    /// Shown in the body (an image the HTML refers to as `cid:<contentId>`).
    pub inline: Option<bool>,
    /// The id the HTML body refers to with `cid:...`.
    pub content_id: Option<String>,
}
js_object!(Attachment {
    name,
    content,
    path,
    content_type,
    inline,
    content_id
});

/// A custom header as an object, in the array form of `headers`.
#[napi(object, object_from_js = false, object_to_js = false)]
pub struct Header {
    pub name: String,
    pub value: String,
}
js_object!(Header { name, value });

/// The message of `mailer.send(message)`.
#[napi(object, object_from_js = false, object_to_js = false)]
pub struct SendOptions<'a> {
    /// The mailbox the mail is sent as (its address or user object id).
    #[napi(ts_type = "string")]
    pub from: Mailbox,
    #[napi(ts_type = "Recipient | Recipient[]")]
    pub to: Option<Recipients>,
    #[napi(ts_type = "Recipient | Recipient[]")]
    pub cc: Option<Recipients>,
    #[napi(ts_type = "Recipient | Recipient[]")]
    pub bcc: Option<Recipients>,
    #[napi(ts_type = "Recipient | Recipient[]")]
    pub reply_to: Option<Recipients>,
    pub subject: Option<String>,
    /// A plain-text body; give `text` or `html`, not both.
    pub text: Option<String>,
    /// An HTML body.
    pub html: Option<String>,
    #[napi(ts_type = "'low' | 'normal' | 'high'")]
    pub importance: Option<String>,
    #[napi(ts_type = "AttachmentInput[]")]
    pub attachments: Option<Vec<Pending>>,
    /// Custom `x-` headers: `{ 'x-invoice-id': '4711' }` or `[['x-invoice-id', '4711']]`.
    #[napi(ts_type = "Record<string, string> | Array<[string, string] | Header>")]
    pub headers: Option<Headers>,
    /// Keep a copy in the sender's Sent Items (default true).
    pub save_to_sent_items: Option<bool>,
    /// Stops the send when it aborts: the promise rejects with a
    /// `SendAbortError` (unless Graph had already accepted the mail), and a
    /// large message's draft is deleted, unless its send had gone out.
    #[napi(ts_type = "AbortSignal")]
    pub signal: Option<Signal<'a>>,
    /// Called as a large message's attachments go up (never for a message sent
    /// in one request): after each upload chunk, after each smaller attachment,
    /// and once more with `finished` true when Graph accepted the message. An
    /// exception thrown in it becomes a process warning; the send goes on.
    #[napi(ts_type = "(progress: Progress) => void")]
    pub on_progress: Option<UploadProgressFn>,
}
js_object!(SendOptions<'a> {
    from,
    to,
    cc,
    bcc,
    reply_to,
    subject,
    text,
    html,
    importance,
    attachments,
    headers,
    save_to_sent_items,
    signal,
    on_progress,
});

/// The options of `mailer.sendMime` and `mailer.sendMimeFile`.
#[napi(object, object_from_js = false, object_to_js = false)]
#[derive(Default)]
pub struct SendMimeOptions<'a> {
    /// The mailbox to send as (default: the message's From address).
    pub sender: Option<String>,
    /// Stops the send when it aborts; the promise rejects with a `SendAbortError`.
    #[napi(ts_type = "AbortSignal")]
    pub signal: Option<Signal<'a>>,
}
js_object!(SendMimeOptions<'a> { sender, signal });

/// The options of `outbox.enqueue(message, options)`.
#[napi(object, object_from_js = false, object_to_js = false)]
pub struct EnqueueOptions {
    /// The `Mailer` that will send it: what it could never send (a sender
    /// outside its `allowedSenders`, too large with `largeMessages` off)
    /// rejects now and is not stored, instead of failing in the queue.
    #[napi(ts_type = "Mailer")]
    pub mailer: Option<MailerArg>,
}
js_object!(EnqueueOptions { mailer });

/// The options of `outbox.enqueueMime(message, options)`.
#[napi(object, object_from_js = false, object_to_js = false)]
#[derive(Default)]
pub struct EnqueueMimeOptions {
    /// The mailbox to send as (default: the message's From address).
    pub sender: Option<String>,
    /// As for `enqueue`: the `Mailer` that will send it refuses now what it
    /// could never send.
    #[napi(ts_type = "Mailer")]
    pub mailer: Option<MailerArg>,
}
js_object!(EnqueueMimeOptions { sender, mailer });

/// The options of `outbox.list(options)`.
#[napi(object, object_from_js = false, object_to_js = false)]
pub struct ListOptions {
    /// Only mail in this state: `'queued'`, `'sending'`, `'sent'`,
    /// `'deferred'`, `'failed'` or `'uncertain'`.
    pub state: Option<String>,
    /// At most this many, oldest first.
    #[napi(ts_type = "number")]
    pub limit: Option<Whole>,
}
js_object!(ListOptions { state, limit });

/// The options of `outbox.run(mailer, options)`.
#[napi(object, object_from_js = false, object_to_js = false)]
pub struct RunOptions<'a> {
    /// Stops the run when it aborts: no more mail is taken, the mail being
    /// sent is recorded, and the promise resolves.
    #[napi(ts_type = "AbortSignal")]
    pub signal: Option<Signal<'a>>,
}
js_object!(RunOptions<'a> { signal });

/// The options of `mailer.verify(options)`. Durations are in milliseconds.
#[napi(object, object_from_js = false, object_to_js = false)]
pub struct VerifyOptions {
    /// Senders that must be able to send.
    pub allowed: Option<Vec<String>>,
    /// Senders that must be refused with access denied.
    pub denied: Option<Vec<String>>,
    /// Repeat until the check holds or this much time has passed (a new restriction takes 30 minutes to hours to apply).
    #[napi(ts_type = "number")]
    pub wait: Option<Millis>,
    /// Time between rounds when `wait` is given (default: a twelfth of `wait`, between 10 s and 5 min).
    #[napi(ts_type = "number")]
    pub interval: Option<Millis>,
    /// Called after each round with its result and the milliseconds left of `wait`.
    #[napi(ts_type = "(verification: Verification, remainingMs: number) => void")]
    pub on_progress: Option<ProgressFn>,
}
js_object!(VerifyOptions {
    allowed,
    denied,
    wait,
    interval,
    on_progress
});

/// What `policyScript` restricts the app to.
#[napi(object, object_from_js = false, object_to_js = false)]
pub struct PolicyRequest {
    /// The app registration's Application (client) ID.
    #[napi(ts_type = "string")]
    pub app_id: Required<String>,
    /// The enterprise application's (service principal's) Object ID; needed for `'rbac'`.
    pub service_principal_id: Option<String>,
    /// A name for the service principal and the scope (default `graphmailer`).
    pub display_name: Option<String>,
    /// The mailboxes the app may send as.
    #[napi(ts_type = "Array<string>")]
    pub mailboxes: Required<Vec<String>>,
    /// Mailboxes to show as refused in the test lines.
    pub denied: Option<Vec<String>>,
    /// The mail-enabled security group of an application access policy; needed for `'applicationAccessPolicy'`.
    pub group: Option<String>,
}
js_object!(PolicyRequest {
    app_id,
    service_principal_id,
    display_name,
    mailboxes,
    denied,
    group
});
