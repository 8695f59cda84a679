//! JavaScript values to core types.
//!
//! Only types and shapes are checked here, each failure naming the argument
//! (`message.cc[1]`, `options.timeout`); every rule about what a value may be
//! (addresses, header names, sizes, clouds, importance, ...) is core's.

use std::collections::HashMap;
use std::time::Duration;

use graphmailer::{Address, Attachment, Config, Message, Secret};
use napi::bindgen_prelude::*;
use napi::threadsafe_function::ThreadsafeFunction;
use zeroize::Zeroizing;

use crate::errors::Failure;

type Converted<T> = std::result::Result<T, Failure>;

/// The options `new Mailer(options)` knows, in the order of core's builder.
pub const MAILER_OPTIONS: &[&str] = &[
    "tenantId",
    "clientId",
    "clientSecret",
    "clientCertificate",
    "assertion",
    "cloud",
    "authorityHost",
    "graphEndpoint",
    "scope",
    "allowedSenders",
    "caBundlePath",
    "caBundlePem",
    "timeout",
    "connectTimeout",
    "maxAttempts",
    "retryDeadline",
    "maxConcurrentPerMailbox",
    "largeMessages",
    "defaultSender",
];

const MESSAGE_FIELDS: &[&str] = &[
    "from",
    "to",
    "cc",
    "bcc",
    "replyTo",
    "subject",
    "text",
    "html",
    "importance",
    "attachments",
    "headers",
    "saveToSentItems",
    "signal",
    "onProgress",
];

const ATTACHMENT_FIELDS: &[&str] = &[
    "name",
    "content",
    "path",
    "contentType",
    "inline",
    "contentId",
];

/// `new Mailer(options)`: the options object to a checked core `Config`.
pub fn config(env: &Env, options: Unknown<'_>) -> Converted<Config> {
    let options = object(options, "options", "of type object")?;
    known_keys(&options, "options", MAILER_OPTIONS)?;
    let mut b = Config::builder();
    if let Some(v) = optional_string(&options, "tenantId", "options")? {
        b = b.tenant_id(v);
    }
    if let Some(v) = optional_string(&options, "clientId", "options")? {
        b = b.client_id(v);
    }
    if let Some(v) = field(&options, "clientSecret")? {
        // Never echo any part of what was given here, not even its value
        // when it has the wrong type.
        if v.get_type()? != ValueType::String {
            return Err(Failure::arg_type(
                "options.clientSecret",
                "of type string",
                format!("Received type {}", type_name(v.get_type()?)),
            ));
        }
        b = b.client_secret(unsafe { v.cast::<String>()? });
    }
    // Core refuses a secret and a certificate together, naming both.
    if let Some(v) = field(&options, "clientCertificate")? {
        b = b.client_certificate(crate::certificate::from_option(env, v)?);
    }
    if let Some(v) = field(&options, "assertion")? {
        b = b.assertion_callback(assertion(v)?);
    }
    if let Some(v) = optional_string(&options, "cloud", "options")? {
        b = b.set("cloud", &v)?;
    }
    if let Some(v) = optional_string(&options, "authorityHost", "options")? {
        b = b.authority_host(v);
    }
    if let Some(v) = optional_string(&options, "graphEndpoint", "options")? {
        b = b.graph_endpoint(v);
    }
    if let Some(v) = optional_string(&options, "scope", "options")? {
        b = b.scope(v);
    }
    if let Some(v) = field(&options, "allowedSenders")? {
        b = b.allowed_senders(strings(v, "options.allowedSenders")?);
    }
    if let Some(v) = optional_string(&options, "caBundlePath", "options")? {
        b = b.ca_bundle_path(v);
    }
    if let Some(v) = field(&options, "caBundlePem")? {
        b = b.ca_bundle_pem(bytes(v, "options.caBundlePem")?);
    }
    if let Some(v) = field(&options, "timeout")? {
        b = b.timeout(milliseconds(v, "options.timeout")?);
    }
    if let Some(v) = field(&options, "connectTimeout")? {
        b = b.connect_timeout(milliseconds(v, "options.connectTimeout")?);
    }
    if let Some(v) = field(&options, "maxAttempts")? {
        b = b.max_attempts(whole(v, "options.maxAttempts")?);
    }
    if let Some(v) = field(&options, "retryDeadline")? {
        b = b.retry_deadline(milliseconds(v, "options.retryDeadline")?);
    }
    if let Some(v) = field(&options, "maxConcurrentPerMailbox")? {
        b = b.max_concurrent_per_mailbox(whole(v, "options.maxConcurrentPerMailbox")? as usize);
    }
    if let Some(v) = field(&options, "largeMessages")? {
        b = b.large_messages(boolean(v, "options.largeMessages")?);
    }
    if let Some(v) = optional_string(&options, "defaultSender", "options")? {
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
        let Some(v) = field(&env, name)? else {
            continue;
        };
        if v.get_type()? != ValueType::String {
            // Type only: this may be the secret.
            return Err(Failure::arg_type(
                &format!("env.{name}"),
                "of type string",
                format!("Received type {}", type_name(v.get_type()?)),
            ));
        }
        values.insert(name, unsafe { v.cast::<String>()? });
    }
    Ok(Config::from_lookup(|name| values.get(name).cloned())?)
}

/// A string argument (`Mailer.fromFile(path)`).
pub fn string_arg(v: Unknown<'_>, name: &str) -> Converted<String> {
    string(v, name)
}

/// Bytes from a string (UTF-8), a `Buffer` or a `Uint8Array`.
pub fn bytes_arg(v: Unknown<'_>, name: &str) -> Converted<Vec<u8>> {
    bytes(v, name)
}

/// Secret bytes (a private key, a PKCS#12 archive): wiped when dropped, and
/// a wrong type is reported by its type alone.
pub fn secret_bytes_arg(v: Unknown<'_>, name: &str) -> Converted<Zeroizing<Vec<u8>>> {
    let t = v.get_type()?;
    if (t == ValueType::String || (t == ValueType::Object && v.is_typedarray()?))
        && let Ok(b) = bytes(v, name)
    {
        return Ok(Zeroizing::new(b));
    }
    Err(Failure::arg_type(
        name,
        "of type string or an instance of Buffer or Uint8Array",
        format!("Received type {}", type_name(t)),
    ))
}

/// A secret string (a password): a wrong type is reported by its type alone.
pub fn secret_arg(v: Unknown<'_>, name: &str) -> Converted<Secret> {
    let t = v.get_type()?;
    if t != ValueType::String {
        return Err(Failure::arg_type(
            name,
            "of type string",
            format!("Received type {}", type_name(t)),
        ));
    }
    Ok(Secret::new(unsafe { v.cast::<String>()? }))
}

/// An optional secret string; `undefined` and `null` are none.
pub fn optional_secret_arg(v: Option<Unknown<'_>>, name: &str) -> Converted<Option<Secret>> {
    match v {
        None => Ok(None),
        Some(v) if matches!(v.get_type()?, ValueType::Undefined | ValueType::Null) => Ok(None),
        Some(v) => secret_arg(v, name).map(Some),
    }
}

/// An object argument (not an array).
pub fn object_arg<'e>(v: Unknown<'e>, name: &str, expected: &str) -> Converted<Object<'e>> {
    object(v, name, expected)
}

/// Refuses properties other than `known` (a misspelt option is an error).
pub fn only_keys(o: &Object<'_>, name: &str, known: &[&str]) -> Converted<()> {
    known_keys(o, name, known)
}

/// A JavaScript callback called from the runtime's threads.
pub type Callback<Args> = ThreadsafeFunction<Args, (), Args, Status, false>;

/// `onProgress(verification, remainingMs)` of `verify`.
pub type ProgressFn = Callback<ProgressArgs>;

/// `onProgress(progress)` of `send`.
pub type UploadProgressFn = Callback<crate::reports::UploadProgress>;

/// `assertion()`: a string, or a Promise of one. Weak, so a mailer kept
/// for the life of the program does not keep Node's event loop alive.
type AssertionFn = ThreadsafeFunction<(), Either<String, Promise<String>>, (), Status, false, true>;

/// `options.assertion` to core's callback: the function runs on Node's
/// thread, its Promise is awaited on the runtime's.
fn assertion(v: Unknown<'_>) -> Converted<graphmailer::AssertionCallback> {
    if v.get_type()? != ValueType::Function {
        return Err(Failure::arg_type(
            "options.assertion",
            "of type function",
            received(v)?,
        ));
    }
    let f: Function<'_, (), Either<String, Promise<String>>> = unsafe { v.cast()? };
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

/// Two arguments, not one array of two.
pub type ProgressArgs = FnArgs<(crate::reports::Verification, f64)>;

/// What `mailer.verify(options)` checks, and for how long.
pub struct VerifyOptions {
    pub allowed: Vec<String>,
    pub denied: Vec<String>,
    /// Repeat until the check holds or this has passed.
    pub wait: Option<Duration>,
    pub interval: Option<Duration>,
    pub on_progress: Option<ProgressFn>,
}

/// `mailer.verify({ allowed, denied, wait, interval })`.
pub fn verify_options(v: Unknown<'_>) -> Converted<VerifyOptions> {
    const NAME: &str = "options";
    let o = object(v, NAME, "of type object")?;
    known_keys(
        &o,
        NAME,
        &["allowed", "denied", "wait", "interval", "onProgress"],
    )?;
    let list = |key: &str| -> Converted<Vec<String>> {
        match field(&o, key)? {
            Some(v) => strings(v, &format!("{NAME}.{key}")),
            None => Ok(Vec::new()),
        }
    };
    let duration = |key: &str| -> Converted<Option<Duration>> {
        field(&o, key)?
            .map(|v| milliseconds(v, &format!("{NAME}.{key}")))
            .transpose()
    };
    Ok(VerifyOptions {
        allowed: list("allowed")?,
        denied: list("denied")?,
        wait: duration("wait")?,
        interval: duration("interval")?,
        on_progress: callback(&o, NAME, "onProgress")?,
    })
}

/// The `onProgress` of `mailer.send(message)`, if it has one.
pub fn message_progress(v: Unknown<'_>) -> Converted<Option<UploadProgressFn>> {
    if v.get_type()? != ValueType::Object {
        return Ok(None);
    }
    callback(&unsafe { v.cast::<Object>()? }, "message", "onProgress")
}

/// An optional function property, made callable from other threads.
fn callback<Args: 'static + JsValuesTupleIntoVec>(
    o: &Object<'_>,
    parent: &str,
    key: &str,
) -> Converted<Option<Callback<Args>>> {
    match field(o, key)? {
        None => Ok(None),
        Some(f) if f.get_type()? == ValueType::Function => {
            let f: Function<'_, Args, ()> = unsafe { f.cast()? };
            Ok(Some(
                f.build_threadsafe_function::<Args>()
                    .callee_handled::<false>()
                    .build()?,
            ))
        }
        Some(f) => Err(Failure::arg_type(
            &format!("{parent}.{key}"),
            "of type function",
            received(f)?,
        )),
    }
}

/// `policyScript(request, style)`: the request object to core's.
pub fn policy_request(v: Unknown<'_>) -> Converted<graphmailer::PolicyRequest> {
    const NAME: &str = "request";
    let o = object(v, NAME, "of type object")?;
    known_keys(
        &o,
        NAME,
        &[
            "appId",
            "servicePrincipalId",
            "displayName",
            "mailboxes",
            "denied",
            "group",
        ],
    )?;
    let list = |key: &str| -> Converted<Vec<String>> {
        match field(&o, key)? {
            Some(v) => strings(v, &format!("{NAME}.{key}")),
            None => Ok(Vec::new()),
        }
    };
    Ok(graphmailer::PolicyRequest {
        app_id: optional_string(&o, "appId", NAME)?.unwrap_or_default(),
        service_principal_id: optional_string(&o, "servicePrincipalId", NAME)?,
        display_name: optional_string(&o, "displayName", NAME)?,
        mailboxes: list("mailboxes")?,
        denied: list("denied")?,
        group: optional_string(&o, "group", NAME)?,
    })
}

/// `'rbac'` or `'applicationAccessPolicy'`.
pub fn policy_style(v: Unknown<'_>) -> Converted<graphmailer::PolicyStyle> {
    const NAME: &str = "style";
    let text = string(v, NAME)?;
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

enum Pending {
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

/// `mailer.send(message)`: the message object to a core `Message` (not yet
/// validated: core's `send` does that).
pub fn message(v: Unknown<'_>) -> Converted<Prepared> {
    let m = object(v, "message", "of type object")?;
    known_keys(&m, "message", MESSAGE_FIELDS)?;
    let from = match field(&m, "from")? {
        Some(v) => string(v, "message.from")?,
        None => {
            return Err(Failure::arg_type(
                "message.from",
                "of type string (the mailbox to send as)",
                received(m.get_named_property::<Unknown>("from")?)?,
            ));
        }
    };
    let mut message = Message::new(from);
    message.to = recipients(&m, "to")?;
    message.cc = recipients(&m, "cc")?;
    message.bcc = recipients(&m, "bcc")?;
    message.reply_to = recipients(&m, "replyTo")?;
    if let Some(subject) = optional_string(&m, "subject", "message")? {
        message = message.subject(subject);
    }
    match (
        optional_string(&m, "text", "message")?,
        optional_string(&m, "html", "message")?,
    ) {
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
    if let Some(importance) = optional_string(&m, "importance", "message")? {
        message = message.importance(importance.parse()?);
    }
    if let Some(v) = field(&m, "saveToSentItems")? {
        message = message.save_to_sent_items(boolean(v, "message.saveToSentItems")?);
    }
    if let Some(v) = field(&m, "headers")? {
        for (name, value) in headers(v)? {
            message = message.header(name, value);
        }
    }
    let mut attachments = Vec::new();
    if let Some(v) = field(&m, "attachments")? {
        let list = array(v, "message.attachments", "an array of attachments")?;
        for i in 0..list.get_array_length()? {
            let name = format!("message.attachments[{i}]");
            attachments.push(attachment(list.get_element::<Unknown>(i)?, &name)?);
        }
    }
    Ok(Prepared {
        message,
        attachments,
    })
}

/// `"a@b"`, `{ name, address }`, or an array of them.
fn recipients(m: &Object<'_>, key: &str) -> Converted<Vec<Address>> {
    let name = format!("message.{key}");
    let Some(v) = field(m, key)? else {
        return Ok(Vec::new());
    };
    if !v.is_array()? {
        return Ok(vec![address(v, &name)?]);
    }
    let list: Object = unsafe { v.cast()? };
    (0..list.get_array_length()?)
        .map(|i| address(list.get_element::<Unknown>(i)?, &format!("{name}[{i}]")))
        .collect()
}

fn address(v: Unknown<'_>, name: &str) -> Converted<Address> {
    const EXPECTED: &str = "of type string or an object { name, address }";
    match v.get_type()? {
        ValueType::String => Ok(Address::new(unsafe { v.cast::<String>()? })),
        ValueType::Object if !v.is_array()? => {
            let o: Object = unsafe { v.cast()? };
            known_keys(&o, name, &["name", "address"])?;
            let address = match field(&o, "address")? {
                Some(a) => string(a, &format!("{name}.address"))?,
                None => {
                    return Err(Failure::arg_type(
                        &format!("{name}.address"),
                        "of type string",
                        received(o.get_named_property::<Unknown>("address")?)?,
                    ));
                }
            };
            Ok(match optional_string(&o, "name", name)? {
                Some(display) => Address::with_name(display, address),
                None => Address::new(address),
            })
        }
        _ => Err(Failure::arg_type(name, EXPECTED, received(v)?)),
    }
}

/// `{ "x-a": "1" }`, or `[["x-a", "1"], ...]`, or `[{ name, value }, ...]`.
fn headers(v: Unknown<'_>) -> Converted<Vec<(String, String)>> {
    const NAME: &str = "message.headers";
    if !v.is_array()? {
        let o = object(
            v,
            NAME,
            "an object of header names to values, or an array of [name, value] pairs",
        )?;
        let keys = o.get_property_names()?;
        let mut out = Vec::new();
        for i in 0..keys.get_array_length()? {
            let key: String = keys.get_element(i)?;
            let value = o.get_named_property::<Unknown>(&key)?;
            out.push((key.clone(), string(value, &format!("{NAME}['{key}']"))?));
        }
        return Ok(out);
    }
    let list: Object = unsafe { v.cast()? };
    let mut out = Vec::new();
    for i in 0..list.get_array_length()? {
        let name = format!("{NAME}[{i}]");
        let item = list.get_element::<Unknown>(i)?;
        if item.is_array()? {
            let pair: Object = unsafe { item.cast()? };
            if pair.get_array_length()? != 2 {
                return Err(Failure::arg_value(&name, "must be a [name, value] pair"));
            }
            out.push((
                string(pair.get_element::<Unknown>(0)?, &format!("{name}[0]"))?,
                string(pair.get_element::<Unknown>(1)?, &format!("{name}[1]"))?,
            ));
        } else {
            let o = object(
                item,
                &name,
                "a [name, value] pair or an object { name, value }",
            )?;
            known_keys(&o, &name, &["name", "value"])?;
            out.push((
                string(
                    o.get_named_property::<Unknown>("name")?,
                    &format!("{name}.name"),
                )?,
                string(
                    o.get_named_property::<Unknown>("value")?,
                    &format!("{name}.value"),
                )?,
            ));
        }
    }
    Ok(out)
}

/// A path (`"./invoice.pdf"`) or `{ name, content | path, contentType, inline, contentId }`.
fn attachment(v: Unknown<'_>, name: &str) -> Converted<Pending> {
    if v.get_type()? == ValueType::String {
        let path = unsafe { v.cast::<String>()? };
        return Ok(Pending::File {
            path,
            name: None,
            content_type: None,
            inline: false,
            content_id: None,
        });
    }
    let o = object(
        v,
        name,
        "a file path (string) or an object { name, content | path, contentType, inline, contentId }",
    )?;
    known_keys(&o, name, ATTACHMENT_FIELDS)?;
    let file_name = optional_string(&o, "name", name)?;
    let content_type = optional_string(&o, "contentType", name)?;
    let inline = match field(&o, "inline")? {
        Some(v) => boolean(v, &format!("{name}.inline"))?,
        None => false,
    };
    let content_id = optional_string(&o, "contentId", name)?;
    match (field(&o, "content")?, optional_string(&o, "path", name)?) {
        (Some(content), None) => Ok(Pending::Ready(Attachment {
            // A missing name is core's to refuse, with its field name.
            name: file_name.unwrap_or_default(),
            content_type,
            content: bytes(content, &format!("{name}.content"))?.into(),
            inline,
            content_id,
        })),
        (None, Some(path)) => Ok(Pending::File {
            path,
            name: file_name,
            content_type,
            inline,
            content_id,
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

/// The message of `mailer.sendMime(message)`: a string (the message text,
/// sent as UTF-8), a `Buffer` or a `Uint8Array`. A stream has already been
/// collected by the package's JavaScript into a `Buffer`, up to the limit
/// and one byte more.
///
/// At most `MAX_MIME_BYTES` and one byte are copied, as core's
/// `MimeMessage::from_reader` reads, so an oversized message costs no more
/// than that and is still refused by core with its own error.
pub fn mime_bytes(v: Unknown<'_>, name: &str) -> Converted<Vec<u8>> {
    const EXPECTED: &str = "of type string or an instance of Buffer, Uint8Array or Readable (or an async iterable of Buffers)";
    let keep = |b: &[u8]| b[..b.len().min(graphmailer::limits::MAX_MIME_BYTES + 1)].to_vec();
    match v.get_type()? {
        ValueType::String => Ok(unsafe { v.cast::<String>()? }.into_bytes()),
        ValueType::Object if v.is_typedarray()? => match unsafe { v.cast::<Uint8ArraySlice>() } {
            Ok(slice) => Ok(keep(&slice)),
            Err(_) => Err(Failure::arg_type(name, EXPECTED, received(v)?)),
        },
        _ => Err(Failure::arg_type(name, EXPECTED, received(v)?)),
    }
}

/// The options of `sendMime` and `sendMimeFile`.
pub struct MimeOptions<'e> {
    /// The mailbox to send as; the message's From address when `None`.
    pub sender: Option<String>,
    pub signal: Option<Object<'e>>,
}

/// `{ sender?, signal? }`; `undefined` and `null` are no options.
pub fn mime_options<'e>(v: Option<Unknown<'e>>) -> Converted<MimeOptions<'e>> {
    const NAME: &str = "options";
    let none = MimeOptions {
        sender: None,
        signal: None,
    };
    let Some(v) = v else { return Ok(none) };
    if matches!(v.get_type()?, ValueType::Undefined | ValueType::Null) {
        return Ok(none);
    }
    let o = object(v, NAME, "of type object")?;
    known_keys(&o, NAME, &["sender", "signal"])?;
    Ok(MimeOptions {
        sender: optional_string(&o, "sender", NAME)?,
        signal: signal_of(&o, NAME)?,
    })
}

/// `message.signal` of `mailer.send(message)`, when `message` is an object.
pub fn message_signal<'e>(v: Unknown<'e>) -> Converted<Option<Object<'e>>> {
    if v.get_type()? != ValueType::Object {
        return Ok(None);
    }
    signal_of(&unsafe { v.cast::<Object>()? }, "message")
}

/// `{ signal? }`, the options of `outbox.run(mailer, options)`; `undefined`
/// and `null` are no options.
pub fn signal_options<'e>(v: Option<Unknown<'e>>, name: &str) -> Converted<Option<Object<'e>>> {
    let Some(v) = v else { return Ok(None) };
    if matches!(v.get_type()?, ValueType::Undefined | ValueType::Null) {
        return Ok(None);
    }
    let o = object(v, name, "of type object")?;
    known_keys(&o, name, &["signal"])?;
    signal_of(&o, name)
}

/// An `AbortSignal`, recognised as Node recognises one (an object with
/// `aborted`), plus the `addEventListener` the binding calls.
fn signal_of<'e>(o: &Object<'e>, parent: &str) -> Converted<Option<Object<'e>>> {
    let name = format!("{parent}.signal");
    let Some(v) = field(o, "signal")? else {
        return Ok(None);
    };
    let wrong = |v| {
        Failure::arg_type(
            &name,
            "an instance of AbortSignal",
            received(v).unwrap_or_default(),
        )
    };
    if v.get_type()? != ValueType::Object {
        return Err(wrong(v));
    }
    let signal: Object = unsafe { v.cast()? };
    let aborted: Unknown = signal.get_named_property("aborted")?;
    let add: Unknown = signal.get_named_property("addEventListener")?;
    if aborted.get_type()? != ValueType::Boolean || add.get_type()? != ValueType::Function {
        return Err(wrong(v));
    }
    Ok(Some(signal))
}

// ---- small readers -------------------------------------------------------

/// A property, or `None` when it is missing, `undefined` or `null`.
fn field<'e>(o: &Object<'e>, key: &str) -> Converted<Option<Unknown<'e>>> {
    let v: Unknown = o.get_named_property(key)?;
    Ok(match v.get_type()? {
        ValueType::Undefined | ValueType::Null => None,
        _ => Some(v),
    })
}

fn optional_string(o: &Object<'_>, key: &str, parent: &str) -> Converted<Option<String>> {
    field(o, key)?
        .map(|v| string(v, &format!("{parent}.{key}")))
        .transpose()
}

fn string(v: Unknown<'_>, name: &str) -> Converted<String> {
    if v.get_type()? != ValueType::String {
        return Err(Failure::arg_type(name, "of type string", received(v)?));
    }
    Ok(unsafe { v.cast::<String>()? })
}

fn boolean(v: Unknown<'_>, name: &str) -> Converted<bool> {
    if v.get_type()? != ValueType::Boolean {
        return Err(Failure::arg_type(name, "of type boolean", received(v)?));
    }
    Ok(unsafe { v.cast::<bool>()? })
}

fn number(v: Unknown<'_>, name: &str) -> Converted<f64> {
    if v.get_type()? != ValueType::Number {
        return Err(Failure::arg_type(name, "of type number", received(v)?));
    }
    Ok(unsafe { v.cast::<f64>()? })
}

/// A duration in milliseconds, JavaScript's unit for time.
fn milliseconds(v: Unknown<'_>, name: &str) -> Converted<Duration> {
    let ms = number(v, name)?;
    if !(0.0..=1e12).contains(&ms) {
        return Err(Failure::Range(format!(
            "The value of \"{name}\" is out of range. It must be a number of milliseconds, 0 or more. Received {ms}"
        )));
    }
    Ok(Duration::from_secs_f64(ms / 1000.0))
}

fn whole(v: Unknown<'_>, name: &str) -> Converted<u32> {
    let n = number(v, name)?;
    if n.fract() != 0.0 || !(0.0..=u32::MAX as f64).contains(&n) {
        return Err(Failure::Range(format!(
            "The value of \"{name}\" is out of range. It must be an integer, 0 or more. Received {n}"
        )));
    }
    Ok(n as u32)
}

/// Bytes from a `Buffer`, a `Uint8Array` or a string (as UTF-8).
fn bytes(v: Unknown<'_>, name: &str) -> Converted<Vec<u8>> {
    const EXPECTED: &str = "of type string or an instance of Buffer or Uint8Array";
    match v.get_type()? {
        ValueType::String => Ok(unsafe { v.cast::<String>()? }.into_bytes()),
        ValueType::Object if v.is_typedarray()? => match unsafe { v.cast::<Uint8ArraySlice>() } {
            Ok(slice) => Ok(slice.to_vec()),
            Err(_) => Err(Failure::arg_type(name, EXPECTED, received(v)?)),
        },
        _ => Err(Failure::arg_type(name, EXPECTED, received(v)?)),
    }
}

fn strings(v: Unknown<'_>, name: &str) -> Converted<Vec<String>> {
    let list = array(v, name, "an array of strings")?;
    (0..list.get_array_length()?)
        .map(|i| string(list.get_element::<Unknown>(i)?, &format!("{name}[{i}]")))
        .collect()
}

fn array<'e>(v: Unknown<'e>, name: &str, expected: &str) -> Converted<Object<'e>> {
    if !v.is_array()? {
        return Err(Failure::arg_type(
            name,
            &format!("{expected} (an instance of Array)"),
            received(v)?,
        ));
    }
    Ok(unsafe { v.cast()? })
}

fn object<'e>(v: Unknown<'e>, name: &str, expected: &str) -> Converted<Object<'e>> {
    if v.get_type()? != ValueType::Object || v.is_array()? {
        return Err(Failure::arg_type(name, expected, received(v)?));
    }
    Ok(unsafe { v.cast()? })
}

/// Refuses a key the binding does not know, so a misspelt option
/// (`tenantID`, `attachment`) is an error instead of being silently ignored.
fn known_keys(o: &Object<'_>, name: &str, known: &[&str]) -> Converted<()> {
    let keys = o.get_property_names()?;
    for i in 0..keys.get_array_length()? {
        let key: Unknown = keys.get_element(i)?;
        if key.get_type()? != ValueType::String {
            continue;
        }
        let key: String = unsafe { key.cast()? };
        if !known.contains(&key.as_str()) {
            return Err(Failure::arg_value(
                name,
                format!(
                    "has an unknown property '{}'; known: {}",
                    printable(&key),
                    known.join(", ")
                ),
            ));
        }
    }
    Ok(())
}

/// `Received type number (5)`, `Received null`, `Received an instance of Array`,
/// as Node words it. A string's content is never shown: it could be a secret.
fn received(v: Unknown<'_>) -> Converted<String> {
    let t = v.get_type()?;
    Ok(match t {
        ValueType::Undefined => "Received undefined".into(),
        ValueType::Null => "Received null".into(),
        ValueType::Boolean | ValueType::Number | ValueType::BigInt => {
            let shown = v.coerce_to_string()?.into_utf8()?.into_owned()?;
            format!("Received type {} ({})", type_name(t), printable(&shown))
        }
        ValueType::Object => match constructor_name(v) {
            Some(c) => format!("Received an instance of {c}"),
            None => "Received an object".into(),
        },
        other => format!("Received type {}", type_name(other)),
    })
}

fn constructor_name(v: Unknown<'_>) -> Option<String> {
    let o: Object = unsafe { v.cast().ok()? };
    let ctor: Unknown = o.get_named_property("constructor").ok()?;
    if ctor.get_type().ok()? != ValueType::Function {
        return None;
    }
    let name: Unknown = ctor
        .coerce_to_object()
        .ok()?
        .get_named_property("name")
        .ok()?;
    if name.get_type().ok()? != ValueType::String {
        return None;
    }
    let name: String = unsafe { name.cast().ok()? };
    (!name.is_empty()).then(|| printable(&name))
}

fn type_name(t: ValueType) -> &'static str {
    match t {
        ValueType::Undefined => "undefined",
        ValueType::Null => "null",
        ValueType::Boolean => "boolean",
        ValueType::Number => "number",
        ValueType::String => "string",
        ValueType::Symbol => "symbol",
        ValueType::Object => "object",
        ValueType::Function => "function",
        ValueType::BigInt => "bigint",
        _ => "unknown",
    }
}

/// At most 40 characters without control characters, for error messages.
fn printable(s: &str) -> String {
    let mut out: String = s
        .chars()
        .take(40)
        .map(|c| if c.is_control() { '?' } else { c })
        .collect();
    if s.chars().count() > 40 {
        out.push('…');
    }
    out
}
