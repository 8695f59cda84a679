//! Python arguments to the core's values. Only shapes and types are checked
//! here, and every error names the argument (`to[2]: expected an address ...`);
//! whether a value is acceptable (an address, a header name, a cloud) is the
//! core's decision.

use std::path::PathBuf;
use std::time::Duration;

use bytes::Bytes;
use pyo3::prelude::*;
use pyo3::types::{
    PyBool, PyByteArray, PyBytes, PyDict, PyFloat, PyInt, PyList, PyMapping, PyString, PyTuple,
};

use graphmailer::{Address, Attachment, Header};

use crate::error::{OrRaise, bad_value, wrong_type};
use crate::message::{PyAddress, PyAttachment};

const ADDRESS: &str =
    "an address 'name@example.com', a ('Name', 'name@example.com') tuple or an Address";

/// A `str` argument.
pub(crate) fn string(arg: &str, value: &Bound<'_, PyAny>) -> PyResult<String> {
    let s = value
        .cast::<PyString>()
        .map_err(|_| wrong_type(arg, "str", value))?;
    s.to_cow()
        .map(|c| c.into_owned())
        .map_err(|_| bad_value(arg, "is not valid Unicode text (it holds lone surrogates)"))
}

/// An optional `str` argument; `None` means not given.
pub(crate) fn opt_string(arg: &str, value: Option<&Bound<'_, PyAny>>) -> PyResult<Option<String>> {
    match value {
        Some(v) if !v.is_none() => string(arg, v).map(Some),
        _ => Ok(None),
    }
}

/// A `bool` argument; `1` and `"yes"` are refused, as they usually hide a mistake.
pub(crate) fn boolean(arg: &str, value: &Bound<'_, PyAny>) -> PyResult<bool> {
    value
        .cast::<PyBool>()
        .map(|b| b.is_true())
        .map_err(|_| wrong_type(arg, "bool", value))
}

/// A whole number that must fit the core's unsigned type.
pub(crate) fn whole(arg: &str, value: &Bound<'_, PyAny>) -> PyResult<u32> {
    if value.is_instance_of::<PyBool>() || !value.is_instance_of::<PyInt>() {
        return Err(wrong_type(arg, "int", value));
    }
    let n: i128 = value
        .extract()
        .map_err(|_| bad_value(arg, "is too large"))?;
    u32::try_from(n).map_err(|_| {
        bad_value(
            arg,
            format!("{n} is not a whole number from 0 to {}", u32::MAX),
        )
    })
}

/// Seconds as a number, or a `datetime.timedelta`.
pub(crate) fn duration(arg: &str, value: &Bound<'_, PyAny>) -> PyResult<Duration> {
    let secs: f64 = if value.is_instance_of::<PyBool>() {
        return Err(wrong_type(
            arg,
            "seconds (int or float) or datetime.timedelta",
            value,
        ));
    } else if value.is_instance_of::<PyInt>() || value.is_instance_of::<PyFloat>() {
        value.extract()?
    } else if is_timedelta(value)? {
        value.call_method0("total_seconds")?.extract()?
    } else {
        return Err(wrong_type(
            arg,
            "seconds (int or float) or datetime.timedelta",
            value,
        ));
    };
    Duration::try_from_secs_f64(secs).map_err(|_| {
        bad_value(
            arg,
            format!("{secs} is not a number of seconds of zero or more"),
        )
    })
}

fn is_timedelta(value: &Bound<'_, PyAny>) -> PyResult<bool> {
    let timedelta = value.py().import("datetime")?.getattr("timedelta")?;
    value.is_instance(&timedelta)
}

/// A file system path: `str` or `os.PathLike`.
pub(crate) fn path(arg: &str, value: &Bound<'_, PyAny>) -> PyResult<PathBuf> {
    if value.is_instance_of::<PyString>() || value.hasattr("__fspath__")? {
        return value
            .extract()
            .map_err(|_| wrong_type(arg, "a path (str or os.PathLike)", value));
    }
    Err(wrong_type(arg, "a path (str or os.PathLike)", value))
}

/// Bytes from `bytes`, `bytearray` or `memoryview`. Text is refused: its
/// encoding is the caller's choice.
pub(crate) fn content(arg: &str, value: &Bound<'_, PyAny>) -> PyResult<Bytes> {
    if let Ok(b) = value.cast::<PyBytes>() {
        return Ok(Bytes::copy_from_slice(b.as_bytes()));
    }
    if let Ok(b) = value.cast::<PyByteArray>() {
        return Ok(Bytes::from(b.to_vec()));
    }
    if value.is_instance_of::<PyString>() {
        return Err(wrong_type(
            arg,
            "bytes (encode text first, e.g. text.encode())",
            value,
        ));
    }
    let memoryview = value.py().import("builtins")?.getattr("memoryview")?;
    if value.is_instance(&memoryview)? {
        let copied = value
            .py()
            .import("builtins")?
            .getattr("bytes")?
            .call1((value,))?;
        return Ok(Bytes::copy_from_slice(copied.cast::<PyBytes>()?.as_bytes()));
    }
    Err(wrong_type(arg, "bytes, bytearray or memoryview", value))
}

/// One address: `"a@b"`, `("Name", "a@b")` or an `Address`.
fn address(arg: &str, value: &Bound<'_, PyAny>) -> PyResult<Address> {
    if value.is_instance_of::<PyString>() {
        return Ok(Address::new(string(arg, value)?));
    }
    if let Ok(a) = value.cast::<PyAddress>() {
        return Ok(a.get().inner.clone());
    }
    if let Ok(t) = value.cast::<PyTuple>() {
        if t.len() != 2 {
            return Err(bad_value(
                arg,
                format!(
                    "a tuple must be ('Name', 'name@example.com'); this one has {} items",
                    t.len()
                ),
            ));
        }
        let name = opt_string(&format!("{arg}[0]"), Some(&t.get_item(0)?))?;
        let addr = string(&format!("{arg}[1]"), &t.get_item(1)?)?;
        return Ok(match name {
            Some(name) => Address::with_name(name, addr),
            None => Address::new(addr),
        });
    }
    Err(wrong_type(arg, ADDRESS, value))
}

/// Recipients: one address as above, or an iterable (a list) of them. A tuple
/// is always one address with its name, never two addresses.
pub(crate) fn addresses(arg: &str, value: Option<&Bound<'_, PyAny>>) -> PyResult<Vec<Address>> {
    let Some(value) = value.filter(|v| !v.is_none()) else {
        return Ok(Vec::new());
    };
    if value.is_instance_of::<PyString>()
        || value.is_instance_of::<PyTuple>()
        || value.is_instance_of::<PyAddress>()
    {
        return Ok(vec![address(arg, value)?]);
    }
    if value.is_instance_of::<PyBytes>() || value.is_instance_of::<PyDict>() {
        return Err(wrong_type(
            arg,
            &format!("{ADDRESS}, or a list of them"),
            value,
        ));
    }
    let items = value
        .try_iter()
        .map_err(|_| wrong_type(arg, &format!("{ADDRESS}, or a list of them"), value))?;
    items
        .enumerate()
        .map(|(i, item)| address(&format!("{arg}[{i}]"), &item?))
        .collect()
}

/// Custom headers: a mapping `{name: value}` or an iterable of `(name, value)`.
pub(crate) fn headers(arg: &str, value: Option<&Bound<'_, PyAny>>) -> PyResult<Vec<Header>> {
    let Some(value) = value.filter(|v| !v.is_none()) else {
        return Ok(Vec::new());
    };
    const EXPECTED: &str = "a dict {name: value} or a list of (name, value) pairs";
    if value.is_instance_of::<PyString>() || value.is_instance_of::<PyBytes>() {
        return Err(wrong_type(arg, EXPECTED, value));
    }
    let pairs: Vec<(String, Bound<'_, PyAny>, Bound<'_, PyAny>)> = if let Ok(mapping) =
        value.cast::<PyMapping>()
    {
        mapping
            .items()?
            .iter()
            .map(|item| {
                let (k, v): (Bound<'_, PyAny>, Bound<'_, PyAny>) = item.extract()?;
                let at = k.repr().map(|r| r.to_string()).unwrap_or_default();
                Ok((format!("{arg}[{at}]"), k, v))
            })
            .collect::<PyResult<_>>()?
    } else {
        let items = value
            .try_iter()
            .map_err(|_| wrong_type(arg, EXPECTED, value))?;
        items
            .enumerate()
            .map(|(i, item)| {
                let item = item?;
                let at = format!("{arg}[{i}]");
                let pair = match item.cast::<PyTuple>() {
                    Ok(t) if t.len() == 2 => Some((t.get_item(0)?, t.get_item(1)?)),
                    _ => match item.cast::<PyList>() {
                        Ok(l) if l.len() == 2 => Some((l.get_item(0)?, l.get_item(1)?)),
                        _ => None,
                    },
                };
                let (k, v) = pair.ok_or_else(|| wrong_type(&at, "a (name, value) pair", &item))?;
                Ok((at, k, v))
            })
            .collect::<PyResult<_>>()?
    };
    pairs
        .into_iter()
        .map(|(at, k, v)| {
            Ok(Header {
                name: string(&format!("{at} name"), &k)?,
                value: string(&format!("{at} value"), &v)?,
            })
        })
        .collect()
}

/// One attachment: an `Attachment`, or a path to read.
fn attachment(arg: &str, value: &Bound<'_, PyAny>) -> PyResult<Attachment> {
    if let Ok(a) = value.cast::<PyAttachment>() {
        return Ok(a.get().inner.clone());
    }
    let py = value.py();
    let path = path(arg, value)
        .map_err(|_| wrong_type(arg, "an Attachment or a path (str or os.PathLike)", value))?;
    py.detach(|| Attachment::from_path(path)).or_raise(py)
}

/// Attachments: one `Attachment` or path, or an iterable of them.
pub(crate) fn attachments(
    arg: &str,
    value: Option<&Bound<'_, PyAny>>,
) -> PyResult<Vec<Attachment>> {
    let Some(value) = value.filter(|v| !v.is_none()) else {
        return Ok(Vec::new());
    };
    if value.is_instance_of::<PyAttachment>()
        || value.is_instance_of::<PyString>()
        || value.hasattr("__fspath__")?
    {
        return Ok(vec![attachment(arg, value)?]);
    }
    if value.is_instance_of::<PyBytes>() || value.is_instance_of::<PyDict>() {
        return Err(wrong_type(
            arg,
            "a list of Attachment objects or paths",
            value,
        ));
    }
    let items = value
        .try_iter()
        .map_err(|_| wrong_type(arg, "a list of Attachment objects or paths", value))?;
    items
        .enumerate()
        .map(|(i, item)| attachment(&format!("{arg}[{i}]"), &item?))
        .collect()
}

/// Strings: one `str`, or an iterable of them.
pub(crate) fn strings(arg: &str, value: &Bound<'_, PyAny>) -> PyResult<Vec<String>> {
    if value.is_instance_of::<PyString>() {
        return Ok(vec![string(arg, value)?]);
    }
    if value.is_instance_of::<PyBytes>() || value.is_instance_of::<PyDict>() {
        return Err(wrong_type(arg, "a list of str", value));
    }
    let items = value
        .try_iter()
        .map_err(|_| wrong_type(arg, "a list of str", value))?;
    items
        .enumerate()
        .map(|(i, item)| string(&format!("{arg}[{i}]"), &item?))
        .collect()
}

/// Python's `repr()` of a string, for `__repr__` methods.
pub(crate) fn repr(py: Python<'_>, s: &str) -> String {
    PyString::new(py, s)
        .repr()
        .map(|r| r.to_string())
        .unwrap_or_else(|_| format!("{s:?}"))
}

/// Text given as `str` (UTF-8) or as bytes, such as PEM.
pub(crate) fn text_or_bytes(arg: &str, value: &Bound<'_, PyAny>) -> PyResult<Vec<u8>> {
    if value.is_instance_of::<PyString>() {
        return Ok(string(arg, value)?.into_bytes());
    }
    content(arg, value)
        .map(|b| b.to_vec())
        .map_err(|_| wrong_type(arg, "str or bytes", value))
}
