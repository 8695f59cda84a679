//! Reading JavaScript values into Rust types, with Node's error messages.
//!
//! napi's own object conversion ignores unknown keys and words its errors in
//! Rust's terms (`Missing field`, `into rust type String`). [`js_object!`]
//! gives a `#[napi(object)]` struct (whose declaration is the TypeScript
//! interface) a [`FromJs`] reader instead: unknown properties are refused and
//! each failure names the property (`message.attachments[0].content`) as
//! Node's `ERR_INVALID_ARG_TYPE` does.

use std::time::Duration;

use graphmailer::Secret;
use napi::bindgen_prelude::*;
use napi::threadsafe_function::ThreadsafeFunction;

use crate::errors::Failure;

pub type Converted<T> = std::result::Result<T, Failure>;

/// A type read from a JavaScript value named `name` in errors.
pub trait FromJs<'e>: Sized {
    /// The noun after `an array of` when a list of these is not an array.
    const PLURAL: &'static str = "values";

    fn from_js(v: Unknown<'e>, name: &str) -> Converted<Self>;

    /// A property that is missing, `undefined` or `null`: a type error
    /// unless the type is optional. `name` makes the property's name, for
    /// an error only: most absent properties are optional.
    fn absent(v: Unknown<'e>, name: impl FnOnce() -> String) -> Converted<Self> {
        Self::from_js(v, &name())
    }
}

/// Reads a `#[napi(object)]` struct (whose declaration, doc comments
/// included, is the TypeScript interface) with [`FromJs`]: an object whose
/// properties are exactly the fields' camelCase names, each read as its
/// type. `js_object!(Name<'a> { field, ... })` lists the fields once more,
/// beside the struct; the struct literal it builds makes the compiler refuse
/// a list that misses or adds one. (The struct itself cannot go through
/// `macro_rules!`: napi would then copy its doc comments into `index.d.ts`
/// as raw string tokens.)
macro_rules! js_object {
    ($name:ident<$lt:lifetime> { $($field:ident),* $(,)? }) => {
        impl<$lt> $crate::from_js::FromJs<$lt> for $name<$lt> {
            js_object!(@read $lt, $($field),*);
        }
    };
    ($name:ident { $($field:ident),* $(,)? }) => {
        impl<'e> $crate::from_js::FromJs<'e> for $name {
            js_object!(@read 'e, $($field),*);
        }
    };
    (@read $lt:lifetime, $($field:ident),*) => {
        fn from_js(
            v: napi::bindgen_prelude::Unknown<$lt>,
            name: &str,
        ) -> $crate::from_js::Converted<Self> {
            // The fields' JavaScript names, made once per process: reading a
            // message is on every send's path.
            static KEYS: std::sync::OnceLock<
                [$crate::from_js::Key; <[()]>::len(&[$(js_object!(@unit $field)),*])],
            > = std::sync::OnceLock::new();
            let keys = KEYS.get_or_init(|| [$($crate::from_js::Key::new(stringify!($field))),*]);
            let o = $crate::from_js::object(v, name, "of type object")?;
            $crate::from_js::known_keys(&o, name, keys)?;
            // Each field's name binds its key; macro hygiene keeps a field
            // called `name` or `o` apart from the variables above.
            let [$($field),*] = keys;
            Ok(Self {
                $( $field: $crate::from_js::field(&o, name, $field)?, )*
            })
        }
    };
    (@unit $field:ident) => { () };
}
pub(crate) use js_object;

/// A property the TypeScript types require but whose absence core reports
/// (naming the setting, with a hint), so it is read as optional.
pub struct Required<T>(pub Option<T>);

/// A duration in milliseconds, JavaScript's unit for time.
pub struct Millis(pub Duration);

/// A whole number, 0 or more.
pub struct Whole(pub u32);

/// Bytes from a `Buffer`, a `Uint8Array` or a string (as UTF-8).
pub struct Bytes(pub Vec<u8>);

/// An `AbortSignal`, recognised as Node recognises one (an object with
/// `aborted`), plus the `addEventListener` the binding calls.
pub struct Signal<'e>(pub Object<'e>);

/// A `Mailer` given as an option (`{ mailer }`): its core mailer.
pub struct MailerArg(pub graphmailer::Mailer);

impl<'e> FromJs<'e> for MailerArg {
    fn from_js(v: Unknown<'e>, name: &str) -> Converted<Self> {
        let env = Env::from_raw(v.value().env);
        if v.get_type()? != ValueType::Object || !crate::Mailer::instance_of(&env, &v)? {
            return Err(Failure::arg_type(
                name,
                "an instance of Mailer",
                received(v)?,
            ));
        }
        // SAFETY: `v` is a Mailer (checked above) of this call's environment.
        let mailer =
            unsafe { ClassInstance::<crate::Mailer>::from_napi_value(env.raw(), v.raw())? };
        Ok(MailerArg(mailer.inner.clone()))
    }
}

/// A JavaScript callback called from the runtime's threads.
pub type Callback<Args> = ThreadsafeFunction<Args, (), Args, Status, false>;

impl<'e, T: FromJs<'e>> FromJs<'e> for Option<T> {
    fn from_js(v: Unknown<'e>, name: &str) -> Converted<Self> {
        T::from_js(v, name).map(Some)
    }

    fn absent(_: Unknown<'e>, _: impl FnOnce() -> String) -> Converted<Self> {
        Ok(None)
    }
}

impl<'e, T: FromJs<'e>> FromJs<'e> for Required<T> {
    fn from_js(v: Unknown<'e>, name: &str) -> Converted<Self> {
        T::from_js(v, name).map(|t| Required(Some(t)))
    }

    fn absent(_: Unknown<'e>, _: impl FnOnce() -> String) -> Converted<Self> {
        Ok(Required(None))
    }
}

impl<'e, T: FromJs<'e>> FromJs<'e> for Vec<T> {
    fn from_js(v: Unknown<'e>, name: &str) -> Converted<Self> {
        if !v.is_array()? {
            return Err(Failure::arg_type(
                name,
                &format!("an array of {} (an instance of Array)", T::PLURAL),
                received(v)?,
            ));
        }
        let list: Object<'e> = unsafe { v.cast()? };
        (0..list.get_array_length()?)
            .map(|i| T::from_js(list.get_element::<Unknown<'e>>(i)?, &format!("{name}[{i}]")))
            .collect()
    }
}

impl<'e> FromJs<'e> for Unknown<'e> {
    fn from_js(v: Unknown<'e>, _: &str) -> Converted<Self> {
        Ok(v)
    }
}

impl<'e> FromJs<'e> for String {
    const PLURAL: &'static str = "strings";

    fn from_js(v: Unknown<'e>, name: &str) -> Converted<Self> {
        if v.get_type()? != ValueType::String {
            return Err(Failure::arg_type(name, "of type string", received(v)?));
        }
        Ok(unsafe { v.cast::<String>()? })
    }
}

impl<'e> FromJs<'e> for bool {
    fn from_js(v: Unknown<'e>, name: &str) -> Converted<Self> {
        if v.get_type()? != ValueType::Boolean {
            return Err(Failure::arg_type(name, "of type boolean", received(v)?));
        }
        Ok(unsafe { v.cast::<bool>()? })
    }
}

impl<'e> FromJs<'e> for f64 {
    fn from_js(v: Unknown<'e>, name: &str) -> Converted<Self> {
        if v.get_type()? != ValueType::Number {
            return Err(Failure::arg_type(name, "of type number", received(v)?));
        }
        Ok(unsafe { v.cast::<f64>()? })
    }
}

impl<'e> FromJs<'e> for Millis {
    fn from_js(v: Unknown<'e>, name: &str) -> Converted<Self> {
        let ms = f64::from_js(v, name)?;
        if !(0.0..=1e12).contains(&ms) {
            return Err(Failure::Range(format!(
                "The value of \"{name}\" is out of range. It must be a number of milliseconds, 0 or more. Received {ms}"
            )));
        }
        Ok(Millis(Duration::from_secs_f64(ms / 1000.0)))
    }
}

impl<'e> FromJs<'e> for Whole {
    fn from_js(v: Unknown<'e>, name: &str) -> Converted<Self> {
        let n = f64::from_js(v, name)?;
        if n.fract() != 0.0 || !(0.0..=u32::MAX as f64).contains(&n) {
            return Err(Failure::Range(format!(
                "The value of \"{name}\" is out of range. It must be an integer, 0 or more. Received {n}"
            )));
        }
        Ok(Whole(n as u32))
    }
}

impl<'e> FromJs<'e> for Bytes {
    fn from_js(v: Unknown<'e>, name: &str) -> Converted<Self> {
        const EXPECTED: &str = "of type string or an instance of Buffer or Uint8Array";
        match v.get_type()? {
            ValueType::String => Ok(Bytes(unsafe { v.cast::<String>()? }.into_bytes())),
            ValueType::Object if v.is_typedarray()? => {
                match unsafe { v.cast::<Uint8ArraySlice>() } {
                    Ok(slice) => Ok(Bytes(slice.to_vec())),
                    Err(_) => Err(Failure::arg_type(name, EXPECTED, received(v)?)),
                }
            }
            _ => Err(Failure::arg_type(name, EXPECTED, received(v)?)),
        }
    }
}

/// A secret string: moved into core's `Secret` at once, and a wrong type is
/// reported by its type alone, never its value.
impl<'e> FromJs<'e> for Secret {
    fn from_js(v: Unknown<'e>, name: &str) -> Converted<Self> {
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
}

impl<'e> FromJs<'e> for Signal<'e> {
    fn from_js(v: Unknown<'e>, name: &str) -> Converted<Self> {
        let wrong = |v| {
            Failure::arg_type(
                name,
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
        Ok(Signal(signal))
    }
}

impl<'e, Args: 'static + JsValuesTupleIntoVec> FromJs<'e> for Callback<Args> {
    fn from_js(v: Unknown<'e>, name: &str) -> Converted<Self> {
        let f = function::<Args, ()>(v, name)?;
        Ok(f.build_threadsafe_function::<Args>()
            .callee_handled::<false>()
            .build()?)
    }
}

/// A function, or a type error naming it.
pub fn function<'e, Args: JsValuesTupleIntoVec, Return: FromNapiValue>(
    v: Unknown<'e>,
    name: &str,
) -> Converted<Function<'e, Args, Return>> {
    if v.get_type()? != ValueType::Function {
        return Err(Failure::arg_type(name, "of type function", received(v)?));
    }
    Ok(unsafe { v.cast()? })
}

/// A field's JavaScript name, as napi derives it (`save_to_sent_items` is
/// `saveToSentItems`), and the same as a C string for the property lookup.
pub struct Key {
    camel: String,
    c: std::ffi::CString,
}

impl Key {
    pub fn new(snake: &str) -> Key {
        let camel = camel_case(snake);
        // A Rust identifier has no NUL byte.
        let c = std::ffi::CString::new(camel.as_bytes()).unwrap_or_default();
        Key { camel, c }
    }
}

/// Property `key` of the object named `parent`.
pub fn field<'e, T: FromJs<'e>>(o: &Object<'e>, parent: &str, key: &Key) -> Converted<T> {
    let v: Unknown<'e> = o.get_c_named_property(&key.c)?;
    let name = || format!("{parent}.{}", key.camel);
    match v.get_type()? {
        ValueType::Undefined | ValueType::Null => T::absent(v, name),
        _ => T::from_js(v, &name()),
    }
}

fn camel_case(snake: &str) -> String {
    let mut parts = snake.split('_');
    let mut out = parts.next().unwrap_or_default().to_owned();
    for part in parts {
        let mut chars = part.chars();
        if let Some(first) = chars.next() {
            out.extend(first.to_uppercase());
            out.push_str(chars.as_str());
        }
    }
    out
}

pub fn object<'e>(v: Unknown<'e>, name: &str, expected: &str) -> Converted<Object<'e>> {
    if v.get_type()? != ValueType::Object || v.is_array()? {
        return Err(Failure::arg_type(name, expected, received(v)?));
    }
    Ok(unsafe { v.cast()? })
}

/// Refuses a key the binding does not know, so a misspelt option
/// (`tenantID`, `attachment`) is an error instead of being silently ignored.
pub fn known_keys(o: &Object<'_>, name: &str, fields: &[Key]) -> Converted<()> {
    let keys = o.get_property_names()?;
    let mut buf = [0u8; 64];
    for i in 0..keys.get_array_length()? {
        let key: Unknown = keys.get_element(i)?;
        if key.get_type()? != ValueType::String {
            continue;
        }
        // Compared in a buffer on the stack; only an unknown key is copied
        // out, for its error.
        let bytes = utf8_into(&key, &mut buf)?;
        if fields.iter().any(|f| Some(f.camel.as_bytes()) == bytes) {
            continue;
        }
        let key: String = unsafe { key.cast()? };
        let known: Vec<&str> = fields.iter().map(|f| f.camel.as_str()).collect();
        return Err(Failure::arg_value(
            name,
            format!(
                "has an unknown property '{}'; known: {}",
                printable(&key),
                known.join(", ")
            ),
        ));
    }
    Ok(())
}

/// A JavaScript string's UTF-8 bytes when they fit in `buf` (all of them, one
/// byte to spare), else `None`.
fn utf8_into<'b>(s: &Unknown<'_>, buf: &'b mut [u8]) -> Converted<Option<&'b [u8]>> {
    let mut written = 0usize;
    // SAFETY: `s` is a string (the caller checked its type) of this call's
    // environment; napi writes at most `buf.len()` bytes, NUL included.
    napi::check_status!(unsafe {
        napi::sys::napi_get_value_string_utf8(
            s.value().env,
            s.raw(),
            buf.as_mut_ptr().cast(),
            buf.len(),
            &mut written,
        )
    })?;
    Ok((written + 1 < buf.len()).then(|| &buf[..written]))
}

/// A JavaScript string's UTF-8 bytes, or of a longer one at least its first
/// `keep` bytes: a message over a size limit is refused by that limit's check,
/// which needs to see it is longer, not the whole of a string that may be
/// hundreds of megabytes.
pub fn utf8_prefix(s: &Unknown<'_>, keep: usize) -> Converted<Vec<u8>> {
    let env = s.value().env;
    let mut len = 0usize;
    // SAFETY (both calls): `s` is a string (the caller checked its type) of
    // this call's environment; with no buffer napi only measures, and with
    // one it writes at most `buf.len()` bytes, NUL included.
    napi::check_status!(unsafe {
        napi::sys::napi_get_value_string_utf8(env, s.raw(), std::ptr::null_mut(), 0, &mut len)
    })?;
    // A cut string ends before a character that would not fit, up to 3 bytes
    // short of the buffer: 3 more keep at least `keep`.
    let mut buf = vec![0u8; len.min(keep.saturating_add(3)) + 1];
    let mut written = 0usize;
    napi::check_status!(unsafe {
        napi::sys::napi_get_value_string_utf8(
            env,
            s.raw(),
            buf.as_mut_ptr().cast(),
            buf.len(),
            &mut written,
        )
    })?;
    buf.truncate(written);
    Ok(buf)
}

/// `Received type number (5)`, `Received null`, `Received an instance of Array`,
/// as Node words it. A string's content is never shown: it could be a secret.
pub fn received(v: Unknown<'_>) -> Converted<String> {
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

pub fn type_name(t: ValueType) -> &'static str {
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
pub fn printable(s: &str) -> String {
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
