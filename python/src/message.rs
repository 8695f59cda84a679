//! `Message`, `Attachment` and `Address`: the core's message model, for those
//! who build a message step by step instead of passing keywords to `send`.

use std::collections::hash_map::DefaultHasher;
use std::hash::{Hash, Hasher};

use pyo3::exceptions::{PyTypeError, PyValueError};
use pyo3::prelude::*;
use pyo3::types::{PyBytes, PyDict, PyString};

use graphmailer::{Address, Attachment, BodyType, Header, Importance, Message};

use crate::convert;
use crate::error::OrRaise;

/// Declares `Parts` from the one list of a message's keyword arguments: the
/// struct, the names (`KEYWORDS`, also the module's `_MESSAGE_KEYWORDS`, which
/// a test holds the stub's `_MessageParts` to) and the reading of `**parts`.
/// `Message(...)`, `Mailer.send(...)` and `Mailer.send_async(...)` take them
/// as `**parts`, so adding a keyword here adds it to all three.
macro_rules! message_parts {
    ($($keyword:ident),+ $(,)?) => {
        /// The optional parts of a message, given as keyword arguments.
        #[derive(Default)]
        pub(crate) struct Parts<'py> {
            $(pub $keyword: Option<Bound<'py, PyAny>>,)+
        }

        impl<'py> Parts<'py> {
            pub(crate) const KEYWORDS: &'static [&'static str] = &[$(stringify!($keyword)),+];

            /// The parts given as `**parts` to `function`; a keyword that is
            /// not a part is refused as Python refuses one it does not know.
            pub(crate) fn from_kwargs(
                function: &str,
                kwargs: Option<&Bound<'py, PyDict>>,
            ) -> PyResult<Self> {
                let mut parts = Parts::default();
                for (key, value) in kwargs.into_iter().flat_map(|k| k.iter()) {
                    let key = key.cast::<PyString>()?;
                    // `None` is the same as leaving the keyword out.
                    let value = Some(value).filter(|v| !v.is_none());
                    match key.to_cow()?.as_ref() {
                        $(stringify!($keyword) => parts.$keyword = value,)+
                        other => {
                            return Err(PyTypeError::new_err(format!(
                                "{function}() got an unexpected keyword argument '{other}'"
                            )));
                        }
                    }
                }
                Ok(parts)
            }

            /// True when no part was given.
            pub(crate) fn is_empty(&self) -> bool {
                $(self.$keyword.is_none())&&+
            }
        }
    };
}

message_parts!(
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
);

impl<'py> Parts<'py> {
    /// A core message sent as `sender` with these parts.
    pub(crate) fn build(self, py: Python<'py>, sender: &Bound<'py, PyAny>) -> PyResult<Message> {
        let mut m = Message::new(convert::string("sender", sender)?);
        m.to = convert::addresses("to", self.to.as_ref())?;
        m.cc = convert::addresses("cc", self.cc.as_ref())?;
        m.bcc = convert::addresses("bcc", self.bcc.as_ref())?;
        m.reply_to = convert::addresses("reply_to", self.reply_to.as_ref())?;
        if let Some(subject) = convert::opt_string("subject", self.subject.as_ref())? {
            m = m.subject(subject);
        }
        let text = convert::opt_string("text", self.text.as_ref())?;
        let html = convert::opt_string("html", self.html.as_ref())?;
        m = match (text, html) {
            (Some(_), Some(_)) => {
                return Err(PyValueError::new_err(
                    "text, html: give one body, text or html, not both",
                ));
            }
            (Some(text), None) => m.text(text),
            (None, Some(html)) => m.html(html),
            (None, None) => m,
        };
        if let Some(importance) = convert::opt_string("importance", self.importance.as_ref())? {
            m = m.importance(importance.parse::<Importance>().or_raise(py)?);
        }
        m.attachments = convert::attachments("attachments", self.attachments.as_ref())?;
        m.headers = convert::headers("headers", self.headers.as_ref())?;
        if let Some(save) = self.save_to_sent_items.as_ref().filter(|v| !v.is_none()) {
            m = m.save_to_sent_items(convert::boolean("save_to_sent_items", save)?);
        }
        Ok(m)
    }
}

/// A mail message, for building one step by step.
///
/// Give everything as keywords (the same as ``Mailer.send``), or start with
/// the sender and add to it::
///
///     message = Message("erp@contoso.com", subject="Invoice 4711")
///     message.add_to(("Accounts", "accounts@example.com"))
///     message.text = "Please find the invoice attached."
///     message.attach(Attachment.from_path("invoice-4711.pdf"))
///     mailer.send(message)
///
/// Addresses are ``"a@example.com"``, ``("Name", "a@example.com")`` or
/// ``Address`` objects; a list gives several. Nothing is checked until
/// ``validate()`` or a send, which names the field at fault.
#[pyclass(name = "Message", module = "graphmailer", eq)]
#[derive(Clone, PartialEq)]
pub(crate) struct PyMessage {
    pub inner: Message,
}

#[pymethods]
impl PyMessage {
    #[new]
    #[pyo3(signature = (sender, **parts))]
    fn new<'py>(
        py: Python<'py>,
        sender: &Bound<'py, PyAny>,
        parts: Option<&Bound<'py, PyDict>>,
    ) -> PyResult<Self> {
        let parts = Parts::from_kwargs("Message", parts)?;
        Ok(PyMessage {
            inner: parts.build(py, sender)?,
        })
    }

    /// The mailbox the mail is sent as (its address or user object id).
    #[getter]
    fn sender(&self) -> &str {
        &self.inner.sender
    }
    #[setter]
    fn set_sender(&mut self, value: &Bound<'_, PyAny>) -> PyResult<()> {
        self.inner.sender = convert::string("sender", value)?;
        Ok(())
    }

    /// The To recipients.
    #[getter]
    fn to(&self) -> Vec<PyAddress> {
        wrap_addresses(&self.inner.to)
    }
    #[setter]
    fn set_to(&mut self, value: Option<Bound<'_, PyAny>>) -> PyResult<()> {
        self.inner.to = convert::addresses("to", value.as_ref())?;
        Ok(())
    }

    /// The Cc recipients.
    #[getter]
    fn cc(&self) -> Vec<PyAddress> {
        wrap_addresses(&self.inner.cc)
    }
    #[setter]
    fn set_cc(&mut self, value: Option<Bound<'_, PyAny>>) -> PyResult<()> {
        self.inner.cc = convert::addresses("cc", value.as_ref())?;
        Ok(())
    }

    /// The Bcc recipients.
    #[getter]
    fn bcc(&self) -> Vec<PyAddress> {
        wrap_addresses(&self.inner.bcc)
    }
    #[setter]
    fn set_bcc(&mut self, value: Option<Bound<'_, PyAny>>) -> PyResult<()> {
        self.inner.bcc = convert::addresses("bcc", value.as_ref())?;
        Ok(())
    }

    /// The addresses replies go to.
    #[getter]
    fn reply_to(&self) -> Vec<PyAddress> {
        wrap_addresses(&self.inner.reply_to)
    }
    #[setter]
    fn set_reply_to(&mut self, value: Option<Bound<'_, PyAny>>) -> PyResult<()> {
        self.inner.reply_to = convert::addresses("reply_to", value.as_ref())?;
        Ok(())
    }

    /// The subject line.
    #[getter]
    fn subject(&self) -> &str {
        &self.inner.subject
    }
    #[setter]
    fn set_subject(&mut self, value: Option<Bound<'_, PyAny>>) -> PyResult<()> {
        self.inner.subject = convert::opt_string("subject", value.as_ref())?.unwrap_or_default();
        Ok(())
    }

    /// The plain-text body, or ``None`` when the body is HTML or empty.
    /// Setting it replaces any HTML body.
    #[getter]
    fn text(&self) -> Option<&str> {
        let body = &self.inner.body;
        (body.content_type == BodyType::Text && !body.content.is_empty())
            .then_some(body.content.as_str())
    }
    #[setter]
    fn set_text(&mut self, value: Option<Bound<'_, PyAny>>) -> PyResult<()> {
        match convert::opt_string("text", value.as_ref())? {
            Some(text) => {
                self.inner.body = graphmailer::Body {
                    content_type: BodyType::Text,
                    content: text,
                }
            }
            None if self.inner.body.content_type == BodyType::Text => {
                self.inner.body = Default::default()
            }
            None => {}
        }
        Ok(())
    }

    /// The HTML body, or ``None`` when the body is plain text or empty.
    /// Setting it replaces any text body.
    #[getter]
    fn html(&self) -> Option<&str> {
        let body = &self.inner.body;
        (body.content_type == BodyType::Html).then_some(body.content.as_str())
    }
    #[setter]
    fn set_html(&mut self, value: Option<Bound<'_, PyAny>>) -> PyResult<()> {
        match convert::opt_string("html", value.as_ref())? {
            Some(html) => {
                self.inner.body = graphmailer::Body {
                    content_type: BodyType::Html,
                    content: html,
                }
            }
            None if self.inner.body.content_type == BodyType::Html => {
                self.inner.body = Default::default()
            }
            None => {}
        }
        Ok(())
    }

    /// ``"low"``, ``"normal"``, ``"high"``, or ``None`` (Graph's default, normal).
    #[getter]
    fn importance(&self) -> Option<&'static str> {
        self.inner.importance.map(Importance::as_str)
    }
    #[setter]
    fn set_importance(&mut self, py: Python<'_>, value: Option<Bound<'_, PyAny>>) -> PyResult<()> {
        self.inner.importance = match convert::opt_string("importance", value.as_ref())? {
            Some(s) => Some(s.parse::<Importance>().or_raise(py)?),
            None => None,
        };
        Ok(())
    }

    /// Whether a copy is kept in the sender's Sent Items (default ``True``).
    #[getter]
    fn save_to_sent_items(&self) -> bool {
        self.inner.save_to_sent_items
    }
    #[setter]
    fn set_save_to_sent_items(&mut self, value: &Bound<'_, PyAny>) -> PyResult<()> {
        self.inner.save_to_sent_items = convert::boolean("save_to_sent_items", value)?;
        Ok(())
    }

    /// The custom ``x-`` headers, as ``(name, value)`` pairs.
    #[getter]
    fn headers(&self) -> Vec<(String, String)> {
        self.inner
            .headers
            .iter()
            .map(|h| (h.name.clone(), h.value.clone()))
            .collect()
    }
    #[setter]
    fn set_headers(&mut self, value: Option<Bound<'_, PyAny>>) -> PyResult<()> {
        self.inner.headers = convert::headers("headers", value.as_ref())?;
        Ok(())
    }

    /// The attachments (copies: change them through this property or ``attach``).
    #[getter]
    fn attachments(&self) -> Vec<PyAttachment> {
        self.inner
            .attachments
            .iter()
            .map(|a| PyAttachment { inner: a.clone() })
            .collect()
    }
    #[setter]
    fn set_attachments(&mut self, value: Option<Bound<'_, PyAny>>) -> PyResult<()> {
        self.inner.attachments = convert::attachments("attachments", value.as_ref())?;
        Ok(())
    }

    /// Adds To recipients (one address or a list); returns the message.
    fn add_to<'py>(
        mut slf: PyRefMut<'py, Self>,
        address: &Bound<'py, PyAny>,
    ) -> PyResult<PyRefMut<'py, Self>> {
        let more = convert::addresses("address", Some(address))?;
        slf.inner.to.extend(more);
        Ok(slf)
    }

    /// Adds Cc recipients (one address or a list); returns the message.
    fn add_cc<'py>(
        mut slf: PyRefMut<'py, Self>,
        address: &Bound<'py, PyAny>,
    ) -> PyResult<PyRefMut<'py, Self>> {
        let more = convert::addresses("address", Some(address))?;
        slf.inner.cc.extend(more);
        Ok(slf)
    }

    /// Adds Bcc recipients (one address or a list); returns the message.
    fn add_bcc<'py>(
        mut slf: PyRefMut<'py, Self>,
        address: &Bound<'py, PyAny>,
    ) -> PyResult<PyRefMut<'py, Self>> {
        let more = convert::addresses("address", Some(address))?;
        slf.inner.bcc.extend(more);
        Ok(slf)
    }

    /// Adds reply-to addresses (one address or a list); returns the message.
    fn add_reply_to<'py>(
        mut slf: PyRefMut<'py, Self>,
        address: &Bound<'py, PyAny>,
    ) -> PyResult<PyRefMut<'py, Self>> {
        let more = convert::addresses("address", Some(address))?;
        slf.inner.reply_to.extend(more);
        Ok(slf)
    }

    /// Adds a custom header (its name must start with ``x-``); returns the message.
    fn add_header<'py>(
        mut slf: PyRefMut<'py, Self>,
        name: &Bound<'py, PyAny>,
        value: &Bound<'py, PyAny>,
    ) -> PyResult<PyRefMut<'py, Self>> {
        let header = Header {
            name: convert::string("name", name)?,
            value: convert::string("value", value)?,
        };
        slf.inner.headers.push(header);
        Ok(slf)
    }

    /// Adds attachments: ``Attachment`` objects or paths of files (read when
    /// the message is sent); returns the message.
    fn attach<'py>(
        mut slf: PyRefMut<'py, Self>,
        attachment: &Bound<'py, PyAny>,
    ) -> PyResult<PyRefMut<'py, Self>> {
        let more = convert::attachments("attachment", Some(attachment))?;
        slf.inner.attachments.extend(more);
        Ok(slf)
    }

    /// Checks everything that can be checked without the network, as a send
    /// would. Raises ``InvalidMessageError`` naming the field at fault
    /// (``cc[1].address``, ``headers[0].name``, ...).
    fn validate(&self, py: Python<'_>) -> PyResult<()> {
        self.inner.validate().or_raise(py)
    }

    fn __repr__(&self, py: Python<'_>) -> String {
        let list = |v: &[Address]| {
            v.iter()
                .map(|a| address_repr(py, a))
                .collect::<Vec<_>>()
                .join(", ")
        };
        let q = |s: &str| convert::repr(py, s);
        let mut s = format!(
            "Message(sender={}, to=[{}]",
            q(&self.inner.sender),
            list(&self.inner.to)
        );
        if !self.inner.cc.is_empty() {
            s.push_str(&format!(", cc=[{}]", list(&self.inner.cc)));
        }
        if !self.inner.bcc.is_empty() {
            s.push_str(&format!(", bcc=[{}]", list(&self.inner.bcc)));
        }
        s.push_str(&format!(", subject={}", q(&self.inner.subject)));
        if !self.inner.attachments.is_empty() {
            s.push_str(&format!(", attachments={}", self.inner.attachments.len()));
        }
        s.push(')');
        s
    }
}

fn wrap_addresses(list: &[Address]) -> Vec<PyAddress> {
    list.iter()
        .map(|a| PyAddress { inner: a.clone() })
        .collect()
}

fn address_repr(py: Python<'_>, a: &Address) -> String {
    match &a.name {
        Some(name) => format!(
            "({}, {})",
            convert::repr(py, name),
            convert::repr(py, &a.address)
        ),
        None => convert::repr(py, &a.address),
    }
}

/// A file attached to a message.
///
/// Make one from bytes with ``Attachment(name, content)`` (the same as
/// ``Attachment.from_bytes``) or from a file with ``Attachment.from_path``,
/// which is read when the message is sent.
/// The content type is guessed from the name's extension unless given. An
/// inline attachment (an image the HTML shows as ``<img src="cid:logo">``)
/// needs ``inline=True`` and ``content_id="logo"``.
#[pyclass(name = "Attachment", module = "graphmailer", frozen, eq)]
#[derive(Clone, PartialEq)]
pub(crate) struct PyAttachment {
    pub inner: Attachment,
}

impl PyAttachment {
    fn with_options(
        mut inner: Attachment,
        content_type: Option<&Bound<'_, PyAny>>,
        inline: Option<&Bound<'_, PyAny>>,
        content_id: Option<&Bound<'_, PyAny>>,
    ) -> PyResult<Self> {
        inner.content_type = convert::opt_string("content_type", content_type)?;
        if let Some(inline) = inline.filter(|v| !v.is_none()) {
            inner.inline = convert::boolean("inline", inline)?;
        }
        inner.content_id = convert::opt_string("content_id", content_id)?;
        Ok(PyAttachment { inner })
    }
}

#[pymethods]
impl PyAttachment {
    #[new]
    #[pyo3(signature = (name, content, *, content_type=None, inline=None, content_id=None))]
    fn new(
        name: &Bound<'_, PyAny>,
        content: &Bound<'_, PyAny>,
        content_type: Option<&Bound<'_, PyAny>>,
        inline: Option<&Bound<'_, PyAny>>,
        content_id: Option<&Bound<'_, PyAny>>,
    ) -> PyResult<Self> {
        let inner = Attachment::from_bytes(
            convert::string("name", name)?,
            convert::content("content", content)?,
        );
        Self::with_options(inner, content_type, inline, content_id)
    }

    /// An attachment from bytes in memory, named ``name``.
    #[staticmethod]
    #[pyo3(signature = (name, content, *, content_type=None, inline=None, content_id=None))]
    fn from_bytes(
        name: &Bound<'_, PyAny>,
        content: &Bound<'_, PyAny>,
        content_type: Option<&Bound<'_, PyAny>>,
        inline: Option<&Bound<'_, PyAny>>,
        content_id: Option<&Bound<'_, PyAny>>,
    ) -> PyResult<Self> {
        Self::new(name, content, content_type, inline, content_id)
    }

    /// An attachment from a file, named after the file. The file must exist
    /// now (else ``InvalidMessageError``, field ``attachments``); its bytes
    /// are read when the message is sent (in chunks for a large one, so a
    /// 100 MB file is never in memory at once). A file whose size changed by
    /// then is refused rather than sent cut short.
    #[staticmethod]
    #[pyo3(signature = (path, *, content_type=None, inline=None, content_id=None))]
    fn from_path(
        py: Python<'_>,
        path: &Bound<'_, PyAny>,
        content_type: Option<&Bound<'_, PyAny>>,
        inline: Option<&Bound<'_, PyAny>>,
        content_id: Option<&Bound<'_, PyAny>>,
    ) -> PyResult<Self> {
        let path = convert::path("path", path)?;
        let inner = py.detach(|| Attachment::from_path(path)).or_raise(py)?;
        Self::with_options(inner, content_type, inline, content_id)
    }

    /// The file name shown to the recipient.
    #[getter]
    fn name(&self) -> &str {
        &self.inner.name
    }

    /// The MIME type given, or ``None`` to have it guessed from the name.
    #[getter]
    fn content_type(&self) -> Option<&str> {
        self.inner.content_type.as_deref()
    }

    /// The MIME type that will be sent: the one given, or the guess.
    #[getter]
    fn effective_content_type(&self) -> &str {
        self.inner.effective_content_type()
    }

    /// The attachment's bytes (one made with ``from_path`` reads its file
    /// now, whole; sending does not need this).
    #[getter]
    fn content<'py>(&self, py: Python<'py>) -> PyResult<Bound<'py, PyBytes>> {
        let content = self.inner.content.clone();
        let bytes = py.detach(move || content.read_all()).or_raise(py)?;
        Ok(PyBytes::new(py, &bytes))
    }

    /// The size of the content in bytes (a file's size when it was attached).
    #[getter]
    fn size(&self) -> u64 {
        self.inner.size()
    }

    /// Whether the attachment is shown in the body rather than listed.
    #[getter]
    fn inline(&self) -> bool {
        self.inner.inline
    }

    /// The id the HTML refers to as ``cid:<content_id>``.
    #[getter]
    fn content_id(&self) -> Option<&str> {
        self.inner.content_id.as_deref()
    }

    fn __repr__(&self, py: Python<'_>) -> String {
        let mut s = format!(
            "Attachment(name={}, content_type={}, size={}",
            convert::repr(py, &self.inner.name),
            convert::repr(py, self.inner.effective_content_type()),
            self.inner.content.len()
        );
        if self.inner.inline {
            s.push_str(", inline=True");
        }
        if let Some(id) = &self.inner.content_id {
            s.push_str(&format!(", content_id={}", convert::repr(py, id)));
        }
        s.push(')');
        s
    }
}

/// A mail address with an optional display name.
///
/// Wherever an address is taken, ``"a@example.com"`` and
/// ``("Name", "a@example.com")`` work too; message properties return
/// ``Address`` objects.
#[pyclass(name = "Address", module = "graphmailer", frozen, eq)]
#[derive(Clone, PartialEq)]
pub(crate) struct PyAddress {
    pub inner: Address,
}

#[pymethods]
impl PyAddress {
    #[new]
    #[pyo3(signature = (address, name=None))]
    fn new(address: &Bound<'_, PyAny>, name: Option<&Bound<'_, PyAny>>) -> PyResult<Self> {
        let address = convert::string("address", address)?;
        Ok(PyAddress {
            inner: match convert::opt_string("name", name)? {
                Some(name) => Address::with_name(name, address),
                None => Address::new(address),
            },
        })
    }

    /// Parses ``"a@example.com"`` or ``"Name <a@example.com>"``, the forms
    /// people type. The address itself is checked when the message is sent.
    #[staticmethod]
    fn parse(py: Python<'_>, text: &Bound<'_, PyAny>) -> PyResult<Self> {
        let text = convert::string("text", text)?;
        Ok(PyAddress {
            inner: text.parse::<Address>().or_raise(py)?,
        })
    }

    /// The address, ``someone@example.com``.
    #[getter]
    fn address(&self) -> &str {
        &self.inner.address
    }

    /// The display name, or ``None``.
    #[getter]
    fn name(&self) -> Option<&str> {
        self.inner.name.as_deref()
    }

    fn __hash__(&self) -> u64 {
        let mut h = DefaultHasher::new();
        self.inner.address.hash(&mut h);
        self.inner.name.hash(&mut h);
        h.finish()
    }

    fn __str__(&self) -> String {
        match &self.inner.name {
            Some(name) => format!("{name} <{}>", self.inner.address),
            None => self.inner.address.clone(),
        }
    }

    fn __repr__(&self, py: Python<'_>) -> String {
        match &self.inner.name {
            Some(name) => format!(
                "Address({}, name={})",
                convert::repr(py, &self.inner.address),
                convert::repr(py, name)
            ),
            None => format!("Address({})", convert::repr(py, &self.inner.address)),
        }
    }
}
