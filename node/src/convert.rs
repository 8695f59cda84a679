//! JavaScript values to core types.
//!
//! The objects' shapes are `shapes.rs`, read by `from_js.rs`; what is left
//! here is what is not one field to one value: arguments that are not
//! objects, values of several forms (a recipient, an attachment, headers)
//! and the mapping onto core's builders. Every rule about what a value may
//! be (addresses, header names, sizes, clouds, importance, ...) is core's.

use std::collections::HashMap;

use graphmailer::{Address, Attachment, Config, Message, Secret};
use napi::bindgen_prelude::*;
use napi::threadsafe_function::ThreadsafeFunction;
use zeroize::Zeroizing;

use crate::errors::Failure;
use crate::from_js::{
    Bytes, Callback, Converted, FromJs, Signal, function, object, printable, received, type_name,
    utf8_prefix,
};
use crate::shapes;

/// `new Mailer(options)`: the options object to a checked core `Config`.
pub fn config(env: &Env, options: Unknown<'_>) -> Converted<Config> {
    let o = shapes::MailerOptions::from_js(options, "options")?;
    let mut b = Config::builder();
    if let Some(v) = o.tenant_id.0 {
        b = b.tenant_id(v);
    }
    if let Some(v) = o.client_id.0 {
        b = b.client_id(v);
    }
    if let Some(v) = o.client_secret {
        b = b.client_secret(v);
    }
    // Core refuses a secret and a certificate together, naming both.
    if let Some(v) = o.client_certificate {
        b = b.client_certificate(crate::certificate::from_option(env, v)?);
    }
    if let Some(v) = o.assertion {
        b = b.assertion_callback(v);
    }
    if let Some(v) = o.cloud {
        b = b.set("cloud", &v)?;
    }
    if let Some(v) = o.authority_host {
        b = b.authority_host(v);
    }
    if let Some(v) = o.graph_endpoint {
        b = b.graph_endpoint(v);
    }
    if let Some(v) = o.scope {
        b = b.scope(v);
    }
    if let Some(v) = o.allowed_senders {
        b = b.allowed_senders(v);
    }
    if let Some(v) = o.ca_bundle_path {
        b = b.ca_bundle_path(v);
    }
    if let Some(v) = o.ca_bundle_pem {
        b = b.ca_bundle_pem(v.0);
    }
    if let Some(v) = o.timeout {
        b = b.timeout(v.0);
    }
    if let Some(v) = o.connect_timeout {
        b = b.connect_timeout(v.0);
    }
    if let Some(v) = o.max_attempts {
        b = b.max_attempts(v.0);
    }
    if let Some(v) = o.retry_deadline {
        b = b.retry_deadline(v.0);
    }
    if let Some(v) = o.max_concurrent_per_mailbox {
        b = b.max_concurrent_per_mailbox(v.0 as usize);
    }
    if let Some(v) = o.large_messages {
        b = b.large_messages(v);
    }
    if let Some(v) = o.default_sender {
        b = b.default_sender(v);
    }
    Ok(b.build()?)
}

/// `Mailer.fromEnv(env)`: reads the settings core lists in `SETTINGS` from a
/// `process.env`-like object.
pub fn environment(env: Unknown<'_>) -> Converted<Config> {
    let env = object(env, "env", "of type object")?;
    let mut values = HashMap::new();
    for setting in graphmailer::config::SETTINGS {
        let name = setting.env;
        let v: Unknown = env.get_named_property(name)?;
        if matches!(v.get_type()?, ValueType::Undefined | ValueType::Null) {
            continue;
        }
        // Read as a secret (its type alone in errors): this may be the secret.
        values.insert(name, Secret::from_js(v, &format!("env.{name}"))?);
    }
    Ok(Config::from_lookup(|name| {
        values.get(name).map(|v| v.expose().to_owned())
    })?)
}

/// A string argument (`Mailer.fromFile(path)`).
pub fn string_arg(v: Unknown<'_>, name: &str) -> Converted<String> {
    String::from_js(v, name)
}

/// Bytes from a string (UTF-8), a `Buffer` or a `Uint8Array`.
pub fn bytes_arg(v: Unknown<'_>, name: &str) -> Converted<Vec<u8>> {
    Bytes::from_js(v, name).map(|b| b.0)
}

/// Secret bytes (a private key, a PKCS#12 archive): wiped when dropped, and
/// a wrong type is reported by its type alone.
pub fn secret_bytes_arg(v: Unknown<'_>, name: &str) -> Converted<Zeroizing<Vec<u8>>> {
    let t = v.get_type()?;
    if (t == ValueType::String || (t == ValueType::Object && v.is_typedarray()?))
        && let Ok(b) = Bytes::from_js(v, name)
    {
        return Ok(Zeroizing::new(b.0));
    }
    Err(Failure::arg_type(
        name,
        "of type string or an instance of Buffer or Uint8Array",
        format!("Received type {}", type_name(t)),
    ))
}

/// A secret string (a password): a wrong type is reported by its type alone.
pub fn secret_arg(v: Unknown<'_>, name: &str) -> Converted<Secret> {
    Secret::from_js(v, name)
}

/// An optional secret string; `undefined` and `null` are none.
pub fn optional_secret_arg(v: Option<Unknown<'_>>, name: &str) -> Converted<Option<Secret>> {
    optional_arg(v, name)
}

/// `onProgress(verification, remainingMs)` of `verify`.
pub type ProgressFn = Callback<ProgressArgs>;

/// `onProgress(progress)` of `send`.
pub type UploadProgressFn = Callback<crate::reports::UploadProgress>;

/// Two arguments, not one array of two.
pub type ProgressArgs = FnArgs<(crate::reports::Verification, f64)>;

/// `assertion()`: a string, or a Promise of one. Weak, so a mailer kept
/// for the life of the program does not keep Node's event loop alive.
type AssertionFn = ThreadsafeFunction<(), Either<String, Promise<String>>, (), Status, false, true>;

/// `options.assertion` to core's callback: the function runs on Node's
/// thread, its Promise is awaited on the runtime's.
impl<'e> FromJs<'e> for graphmailer::AssertionCallback {
    fn from_js(v: Unknown<'e>, name: &str) -> Converted<Self> {
        let f = function::<(), Either<String, Promise<String>>>(v, name)?;
        let tsfn: std::sync::Arc<AssertionFn> = std::sync::Arc::new(
            f.build_threadsafe_function::<()>()
                .callee_handled::<false>()
                .weak::<true>()
                .build()?,
        );
        Ok(graphmailer::AssertionCallback::future(move || {
            let tsfn = tsfn.clone();
            async move {
                let returned = tsfn
                    .call_async_catch(())
                    .await
                    .map_err(|e| e.reason.clone())?;
                let value = match returned {
                    Either::A(text) => text,
                    Either::B(promise) => promise.await.map_err(|e| e.reason.clone())?,
                };
                Ok(Secret::new(value))
            }
        }))
    }
}

/// `mailer.verify({ allowed, denied, wait, interval, onProgress })`.
pub fn verify_options(v: Unknown<'_>) -> Converted<shapes::VerifyOptions> {
    shapes::VerifyOptions::from_js(v, "options")
}

/// `policyScript(request, style)`: the request object to core's.
pub fn policy_request(v: Unknown<'_>) -> Converted<graphmailer::PolicyRequest> {
    let r = shapes::PolicyRequest::from_js(v, "request")?;
    Ok(graphmailer::PolicyRequest {
        app_id: r.app_id.0.unwrap_or_default(),
        service_principal_id: r.service_principal_id,
        display_name: r.display_name,
        mailboxes: r.mailboxes.0.unwrap_or_default(),
        denied: r.denied.unwrap_or_default(),
        group: r.group,
    })
}

/// `'rbac'` or `'applicationAccessPolicy'`.
pub fn policy_style(v: Unknown<'_>) -> Converted<graphmailer::PolicyStyle> {
    const NAME: &str = "style";
    let text = String::from_js(v, NAME)?;
    // Core parses; the message uses JavaScript's spelling of the names.
    text.parse().map_err(|_| {
        Failure::arg_value(
            NAME,
            format!(
                "must be 'rbac' or 'applicationAccessPolicy'. Received '{}'",
                printable(&text)
            ),
        )
    })
}

/// A message whose file attachments are still to be attached: core's
/// `Attachment::from_path` looks at the file (it must exist; its size is
/// recorded) and core reads the bytes only when sending, in chunks for a
/// large file. Even that look is file-system I/O, so it happens off the
/// JavaScript thread, in [`Prepared::finish`].
pub struct Prepared {
    message: Message,
    attachments: Vec<Pending>,
}

/// An attachment as given: ready, or a file still to be looked at.
pub enum Pending {
    Ready(Attachment),
    File {
        path: String,
        name: Option<String>,
        content_type: Option<String>,
        inline: bool,
        content_id: Option<String>,
    },
}

impl Prepared {
    /// True when some attachment is a file still to be attached.
    pub fn has_files(&self) -> bool {
        self.attachments
            .iter()
            .any(|a| matches!(a, Pending::File { .. }))
    }

    /// Attaches the files given as paths (core's `Attachment::from_path`,
    /// which checks the file and records its size without reading it) and
    /// returns the message. Blocking: run it where blocking is allowed.
    pub fn finish(self) -> graphmailer::Result<Message> {
        let mut message = self.message;
        for pending in self.attachments {
            let attachment = match pending {
                Pending::Ready(a) => a,
                Pending::File {
                    path,
                    name,
                    content_type,
                    inline,
                    content_id,
                } => {
                    let mut a = Attachment::from_path(&path)?;
                    if let Some(name) = name {
                        a.name = name;
                    }
                    a.content_type = content_type;
                    a.inline = inline;
                    a.content_id = content_id;
                    a
                }
            };
            message.attachments.push(attachment);
        }
        Ok(message)
    }
}

/// What `mailer.send(message)` took: the message, and how to follow and
/// stop its sending.
pub struct Outgoing<'e> {
    pub prepared: Prepared,
    pub signal: Option<Object<'e>>,
    pub on_progress: Option<UploadProgressFn>,
}

/// `mailer.send(message)`: the message object to a core `Message` (not yet
/// validated: core's `send` does that).
pub fn message(v: Unknown<'_>) -> Converted<Outgoing<'_>> {
    let m = shapes::SendOptions::from_js(v, "message")?;
    let mut message = Message::new(m.from.0);
    let list = |r: Option<Recipients>| r.map(|r| r.0).unwrap_or_default();
    message.to = list(m.to);
    message.cc = list(m.cc);
    message.bcc = list(m.bcc);
    message.reply_to = list(m.reply_to);
    if let Some(subject) = m.subject {
        message = message.subject(subject);
    }
    match (m.text, m.html) {
        (Some(_), Some(_)) => {
            return Err(Failure::arg_value(
                "message.html",
                "cannot be given together with message.text: a message has one body",
            ));
        }
        (Some(text), None) => message = message.text(text),
        (None, Some(html)) => message = message.html(html),
        (None, None) => {}
    }
    if let Some(importance) = m.importance {
        message = message.importance(importance.parse()?);
    }
    if let Some(save) = m.save_to_sent_items {
        message = message.save_to_sent_items(save);
    }
    for (name, value) in m.headers.map(|h| h.0).unwrap_or_default() {
        message = message.header(name, value);
    }
    Ok(Outgoing {
        prepared: Prepared {
            message,
            attachments: m.attachments.unwrap_or_default(),
        },
        signal: m.signal.map(|s| s.0),
        on_progress: m.on_progress,
    })
}

/// `message.from`: a string; when it is missing, the error says what it is for.
pub struct Mailbox(pub String);

impl<'e> FromJs<'e> for Mailbox {
    fn from_js(v: Unknown<'e>, name: &str) -> Converted<Self> {
        String::from_js(v, name).map(Mailbox)
    }

    fn absent(v: Unknown<'e>, name: impl FnOnce() -> String) -> Converted<Self> {
        Err(Failure::arg_type(
            &name(),
            "of type string (the mailbox to send as)",
            received(v)?,
        ))
    }
}

/// `"a@b"`, `{ name, address }`, or an array of them.
pub struct Recipients(pub Vec<Address>);

impl<'e> FromJs<'e> for Recipients {
    fn from_js(v: Unknown<'e>, name: &str) -> Converted<Self> {
        if v.is_array()? {
            return Vec::from_js(v, name).map(Recipients);
        }
        Ok(Recipients(vec![Address::from_js(v, name)?]))
    }
}

impl<'e> FromJs<'e> for Address {
    fn from_js(v: Unknown<'e>, name: &str) -> Converted<Self> {
        match v.get_type()? {
            ValueType::String => Ok(Address::new(unsafe { v.cast::<String>()? })),
            ValueType::Object if !v.is_array()? => {
                let a = shapes::Address::from_js(v, name)?;
                Ok(match a.name {
                    Some(display) => Address::with_name(display, a.address),
                    None => Address::new(a.address),
                })
            }
            _ => Err(Failure::arg_type(
                name,
                "of type string or an object { name, address }",
                received(v)?,
            )),
        }
    }
}

/// `{ "x-a": "1" }`, or `[["x-a", "1"], ...]`, or `[{ name, value }, ...]`.
pub struct Headers(pub Vec<(String, String)>);

impl<'e> FromJs<'e> for Headers {
    fn from_js(v: Unknown<'e>, name: &str) -> Converted<Self> {
        if v.is_array()? {
            return Vec::<HeaderItem>::from_js(v, name)
                .map(|items| Headers(items.into_iter().map(|h| h.0).collect()));
        }
        let o = object(
            v,
            name,
            "an object of header names to values, or an array of [name, value] pairs",
        )?;
        let keys = o.get_property_names()?;
        let mut out = Vec::new();
        for i in 0..keys.get_array_length()? {
            let key: String = keys.get_element(i)?;
            let value = o.get_named_property::<Unknown<'e>>(&key)?;
            out.push((
                key.clone(),
                String::from_js(value, &format!("{name}['{key}']"))?,
            ));
        }
        Ok(Headers(out))
    }
}

/// One header of the array form: `[name, value]` or `{ name, value }`.
struct HeaderItem((String, String));

impl<'e> FromJs<'e> for HeaderItem {
    fn from_js(v: Unknown<'e>, name: &str) -> Converted<Self> {
        if v.is_array()? {
            let pair: Object<'e> = unsafe { v.cast()? };
            if pair.get_array_length()? != 2 {
                return Err(Failure::arg_value(name, "must be a [name, value] pair"));
            }
            let at = |i: u32| {
                String::from_js(pair.get_element::<Unknown<'e>>(i)?, &format!("{name}[{i}]"))
            };
            return Ok(HeaderItem((at(0)?, at(1)?)));
        }
        object(v, name, "a [name, value] pair or an object { name, value }")?;
        let h = shapes::Header::from_js(v, name)?;
        Ok(HeaderItem((h.name, h.value)))
    }
}

/// A path (`"./invoice.pdf"`) or `{ name, content | path, contentType, inline, contentId }`.
impl<'e> FromJs<'e> for Pending {
    const PLURAL: &'static str = "attachments";

    fn from_js(v: Unknown<'e>, name: &str) -> Converted<Self> {
        if v.get_type()? == ValueType::String {
            return Ok(Pending::File {
                path: unsafe { v.cast::<String>()? },
                name: None,
                content_type: None,
                inline: false,
                content_id: None,
            });
        }
        object(
            v,
            name,
            "a file path (string) or an object { name, content | path, contentType, inline, contentId }",
        )?;
        let a = shapes::Attachment::from_js(v, name)?;
        let inline = a.inline.unwrap_or(false);
        match (a.content, a.path) {
            (Some(content), None) => Ok(Pending::Ready(Attachment {
                // A missing name is core's to refuse, with its field name.
                name: a.name.unwrap_or_default(),
                content_type: a.content_type,
                content: content.0.into(),
                inline,
                content_id: a.content_id,
            })),
            (None, Some(path)) => Ok(Pending::File {
                path,
                name: a.name,
                content_type: a.content_type,
                inline,
                content_id: a.content_id,
            }),
            (Some(_), Some(_)) => Err(Failure::arg_value(
                name,
                "has both content and path: give one",
            )),
            (None, None) => Err(Failure::arg_value(
                name,
                "has neither content nor path: give one",
            )),
        }
    }
}

/// The message of `mailer.sendMime(message)`: a string (the message text,
/// sent as UTF-8), a `Buffer` or a `Uint8Array`. A stream has already been
/// collected by the package's JavaScript into a `Buffer`, up to the limit
/// and one byte more.
///
/// At most `limit` bytes and a few more are copied (what the mailer that will
/// send it takes, as core's `Mailer::read_mime` reads), so an oversized
/// message costs no more than that and is still refused by core with its
/// own error.
pub fn mime_bytes(v: Unknown<'_>, name: &str, limit: usize) -> Converted<Vec<u8>> {
    const EXPECTED: &str = "of type string or an instance of Buffer, Uint8Array or Readable (or an async iterable of Buffers)";
    let keep = |b: &[u8]| b[..b.len().min(limit.saturating_add(1))].to_vec();
    match v.get_type()? {
        ValueType::String => utf8_prefix(&v, limit.saturating_add(1)),
        ValueType::Object if v.is_typedarray()? => match unsafe { v.cast::<Uint8ArraySlice>() } {
            Ok(slice) => Ok(keep(&slice)),
            Err(_) => Err(Failure::arg_type(name, EXPECTED, received(v)?)),
        },
        _ => Err(Failure::arg_type(name, EXPECTED, received(v)?)),
    }
}

/// `{ sender?, signal? }`, the options of `sendMime` and `sendMimeFile`;
/// `undefined` and `null` are no options.
pub fn mime_options<'e>(v: Option<Unknown<'e>>) -> Converted<shapes::SendMimeOptions<'e>> {
    Ok(optional_arg(v, "options")?.unwrap_or_default())
}

/// `{ state?, limit? }`, the options of `outbox.list(options)`.
pub fn list_options(v: Option<Unknown<'_>>) -> Converted<graphmailer::outbox::ListFilter> {
    let o: Option<shapes::ListOptions> = optional_arg(v, "options")?;
    let (state, limit) = o.map_or((None, None), |o| (o.state, o.limit));
    Ok(graphmailer::outbox::ListFilter {
        state: state.map(|s| s.parse()).transpose()?,
        limit: limit.map(|l| l.0 as usize),
    })
}

/// `{ mailer? }`, the options of `outbox.enqueue(message, options)`.
pub fn enqueue_options(v: Option<Unknown<'_>>) -> Converted<Option<graphmailer::Mailer>> {
    let o: Option<shapes::EnqueueOptions> = optional_arg(v, "options")?;
    Ok(o.and_then(|o| o.mailer).map(|m| m.0))
}

/// `{ sender?, mailer? }`, the options of `outbox.enqueueMime(message, options)`.
pub fn enqueue_mime_options(
    v: Option<Unknown<'_>>,
) -> Converted<(Option<String>, Option<graphmailer::Mailer>)> {
    let o: shapes::EnqueueMimeOptions = optional_arg(v, "options")?.unwrap_or_default();
    Ok((o.sender, o.mailer.map(|m| m.0)))
}

/// `{ signal? }`, the options of `outbox.run(mailer, options)`; `undefined`
/// and `null` are no options.
pub fn run_options<'e>(v: Option<Unknown<'e>>) -> Converted<Option<Object<'e>>> {
    let o: Option<shapes::RunOptions> = optional_arg(v, "options")?;
    Ok(o.and_then(|o| o.signal).map(|s: Signal| s.0))
}

/// An optional argument: `undefined` and `null` are none.
pub fn optional_arg<'e, T: FromJs<'e>>(v: Option<Unknown<'e>>, name: &str) -> Converted<Option<T>> {
    match v {
        Some(v) if !matches!(v.get_type()?, ValueType::Undefined | ValueType::Null) => {
            T::from_js(v, name).map(Some)
        }
        _ => Ok(None),
    }
}
