//! `Mailer` and `SendReceipt`: configuration from keywords, the environment or
//! a file, and sends that block (with the GIL released) or return an asyncio
//! awaitable. Both run the core's future on the core's one runtime.

use std::time::Duration;

use pyo3::exceptions::PyTypeError;
use pyo3::prelude::*;
use pyo3::types::PyDict;

use graphmailer::blocking;
use graphmailer::{Config, Message, MimeMessage, SendReceipt};

use crate::admin::{PyDiagnosis, PyVerification};
use crate::bridge::{awaitable, ensure_not_forked, wait_interruptibly};
use crate::convert;
use crate::credential::PyClientCertificate;
use crate::error::{OrRaise, bad_value, to_pyerr, wrong_type};
use crate::logging;
use crate::message::{Parts, PyMessage};
use crate::mime;
use crate::progress;

/// Sends mail through Microsoft Graph with app-only credentials.
///
/// Create one per application and share it, between threads and between
/// coroutines alike: all sends of a mailer share one access token, one
/// connection pool and Graph's limit of 4 requests in flight per mailbox::
///
///     mailer = Mailer(
///         tenant_id="contoso.onmicrosoft.com",
///         client_id="3b9e6f2a-8c4d-4a1e-b7f5-0d2c9e8a6b14",
///         client_secret=os.environ["AZURE_CLIENT_SECRET"],
///         allowed_senders=["erp@contoso.com"],
///     )
///     mailer.send(sender="erp@contoso.com", to="accounts@example.com",
///                 subject="Invoice 4711", text="Please pay.")
///
/// Every setting is checked here; a wrong one raises ``ConfigError`` naming
/// it. Durations are seconds (``int`` or ``float``) or ``datetime.timedelta``.
/// The client secret is never shown: not in ``repr()``, errors or logs.
///
/// ``large_messages=True`` lets a message over Graph's 4 MB request limit
/// (attachments of up to 150 MB each) go through a draft and upload sessions,
/// which needs the Mail.ReadWrite application permission besides Mail.Send;
/// without it such a message is refused before any network call.
/// ``default_sender`` is the mailbox ``send_mime`` sends as when the message
/// names none that can send.
#[pyclass(name = "Mailer", module = "graphmailer", frozen)]
pub(crate) struct PyMailer {
    pub(crate) inner: blocking::Mailer,
}

#[pymethods]
impl PyMailer {
    #[new]
    #[pyo3(signature = (*, tenant_id, client_id, client_secret=None, client_certificate=None, client_assertion=None, allowed_senders=None, cloud=None, authority_host=None, graph_endpoint=None, scope=None, ca_bundle_path=None, ca_bundle_pem=None, timeout=None, connect_timeout=None, max_attempts=None, retry_deadline=None, max_concurrent_per_mailbox=None, large_messages=None, default_sender=None))]
    #[allow(clippy::too_many_arguments)]
    fn new(
        py: Python<'_>,
        tenant_id: &Bound<'_, PyAny>,
        client_id: &Bound<'_, PyAny>,
        client_secret: Option<&Bound<'_, PyAny>>,
        client_certificate: Option<&Bound<'_, PyAny>>,
        client_assertion: Option<&Bound<'_, PyAny>>,
        allowed_senders: Option<&Bound<'_, PyAny>>,
        cloud: Option<&Bound<'_, PyAny>>,
        authority_host: Option<&Bound<'_, PyAny>>,
        graph_endpoint: Option<&Bound<'_, PyAny>>,
        scope: Option<&Bound<'_, PyAny>>,
        ca_bundle_path: Option<&Bound<'_, PyAny>>,
        ca_bundle_pem: Option<&Bound<'_, PyAny>>,
        timeout: Option<&Bound<'_, PyAny>>,
        connect_timeout: Option<&Bound<'_, PyAny>>,
        max_attempts: Option<&Bound<'_, PyAny>>,
        retry_deadline: Option<&Bound<'_, PyAny>>,
        max_concurrent_per_mailbox: Option<&Bound<'_, PyAny>>,
        large_messages: Option<&Bound<'_, PyAny>>,
        default_sender: Option<&Bound<'_, PyAny>>,
    ) -> PyResult<Self> {
        let mut b = Config::builder()
            .tenant_id(convert::string("tenant_id", tenant_id)?)
            .client_id(convert::string("client_id", client_id)?);
        // Core refuses a secret and a certificate together, naming both.
        if let Some(secret) = given(client_secret) {
            b = b.client_secret(convert::string("client_secret", secret)?);
        }
        if let Some(cert) = given(client_certificate) {
            let cert = cert
                .cast::<PyClientCertificate>()
                .map_err(|_| wrong_type("client_certificate", "a ClientCertificate", cert))?;
            b = b.client_certificate(cert.get().inner.clone());
        }
        if let Some(callback) = given(client_assertion) {
            b = b.assertion_callback(assertion_callback(callback)?);
        }
        if let Some(v) = given(allowed_senders) {
            b = b.allowed_senders(convert::strings("allowed_senders", v)?);
        }
        if let Some(v) = convert::opt_string("cloud", cloud)? {
            b = b.set("cloud", &v).map_err(|e| to_pyerr(py, &e))?;
        }
        if let Some(v) = convert::opt_string("authority_host", authority_host)? {
            b = b.authority_host(v);
        }
        if let Some(v) = convert::opt_string("graph_endpoint", graph_endpoint)? {
            b = b.graph_endpoint(v);
        }
        if let Some(v) = convert::opt_string("scope", scope)? {
            b = b.scope(v);
        }
        if let Some(v) = given(ca_bundle_path) {
            b = b.ca_bundle_path(convert::path("ca_bundle_path", v)?);
        }
        if let Some(v) = given(ca_bundle_pem) {
            b = b.ca_bundle_pem(convert::text_or_bytes("ca_bundle_pem", v)?);
        }
        if let Some(v) = given(timeout) {
            b = b.timeout(convert::duration("timeout", v)?);
        }
        if let Some(v) = given(connect_timeout) {
            b = b.connect_timeout(convert::duration("connect_timeout", v)?);
        }
        if let Some(v) = given(max_attempts) {
            b = b.max_attempts(convert::whole("max_attempts", v)?);
        }
        if let Some(v) = given(retry_deadline) {
            b = b.retry_deadline(convert::duration("retry_deadline", v)?);
        }
        if let Some(v) = given(max_concurrent_per_mailbox) {
            b = b.max_concurrent_per_mailbox(
                convert::whole("max_concurrent_per_mailbox", v)? as usize
            );
        }
        if let Some(v) = given(large_messages) {
            b = b.large_messages(convert::boolean("large_messages", v)?);
        }
        if let Some(v) = convert::opt_string("default_sender", default_sender)? {
            b = b.default_sender(v);
        }
        logging::refresh(py);
        ensure_not_forked()?;
        let inner = py
            .detach(|| b.build().and_then(blocking::Mailer::new))
            .or_raise(py)?;
        Ok(PyMailer { inner })
    }

    /// A mailer configured from the environment: ``AZURE_TENANT_ID``,
    /// ``AZURE_CLIENT_ID``, ``AZURE_CLIENT_SECRET``, ``AZURE_AUTHORITY_HOST``
    /// and the ``GRAPHMAILER_*`` settings (``GRAPHMAILER_ALLOWED_SENDERS``,
    /// ``GRAPHMAILER_CLOUD``, ``GRAPHMAILER_GRAPH_ENDPOINT``, ...).
    #[staticmethod]
    fn from_env(py: Python<'_>) -> PyResult<Self> {
        logging::refresh(py);
        ensure_not_forked()?;
        let inner = py.detach(blocking::Mailer::from_env).or_raise(py)?;
        Ok(PyMailer { inner })
    }

    /// A mailer configured from a TOML file whose keys are the settings'
    /// names (``tenant_id = "..."``); what the file leaves out, such as the
    /// secret, is read from the environment.
    #[staticmethod]
    fn from_file(py: Python<'_>, path: &Bound<'_, PyAny>) -> PyResult<Self> {
        let path = convert::path("path", path)?;
        logging::refresh(py);
        ensure_not_forked()?;
        let inner = py
            .detach(|| Config::from_file(path).and_then(blocking::Mailer::new))
            .or_raise(py)?;
        Ok(PyMailer { inner })
    }

    /// Sends a message and waits for Graph's answer; returns a
    /// ``SendReceipt`` once Graph accepted the mail.
    ///
    /// Give a ``Message``, or the message as keywords: ``sender`` (required),
    /// ``to``, ``cc``, ``bcc``, ``reply_to`` (each an address, a
    /// ``("Name", "address")`` tuple or a list of them), ``subject``, ``text``
    /// or ``html``, ``importance`` (``"low"``, ``"normal"``, ``"high"``),
    /// ``attachments`` (``Attachment`` objects or paths), ``headers`` (a dict
    /// or ``(name, value)`` pairs, names starting with ``x-``) and
    /// ``save_to_sent_items``.
    ///
    /// A message that fits Graph's 4 MB request goes in one request. A larger
    /// one raises ``InvalidMessageError`` (``code`` ``"RequestEntityTooLarge"``)
    /// before any network call unless the mailer has ``large_messages=True``;
    /// then it goes through a draft in the sender's mailbox and upload
    /// sessions (Mail.ReadWrite needed), and a failure or cancellation part
    /// way deletes the draft.
    ///
    /// ``on_progress``, a callable, is called with a ``Progress`` after each
    /// chunk of such an upload, after each smaller attachment added to the
    /// draft, and once more with ``finished`` true when Graph accepted the
    /// message; a message sent in one request never calls it. It runs on
    /// graphmailer's thread (for ``send_async`` too, not in the event loop);
    /// an exception in it is printed through ``sys.unraisablehook`` and does
    /// not stop the send.
    ///
    /// The GIL is released while waiting, so threads sharing this mailer send
    /// in parallel. Ctrl-C raises ``KeyboardInterrupt`` within a tenth of a
    /// second; a mail already handed to Graph may still go out, and the draft
    /// of an interrupted large send is deleted in the background. Failures raise
    /// a subclass of ``GraphMailerError``; wrong argument types raise
    /// ``TypeError`` or ``ValueError`` naming the argument.
    #[pyo3(signature = (message=None, /, *, sender=None, on_progress=None, **parts))]
    fn send<'py>(
        &self,
        py: Python<'py>,
        message: Option<Bound<'py, PyAny>>,
        sender: Option<Bound<'py, PyAny>>,
        on_progress: Option<Bound<'py, PyAny>>,
        parts: Option<&Bound<'py, PyDict>>,
    ) -> PyResult<PySendReceipt> {
        let parts = Parts::from_kwargs("Mailer.send", parts)?;
        let message = message_of(py, "send", message, sender, parts)?;
        let options = progress::send_options(on_progress)?;
        logging::refresh(py);
        let mailer = self.inner.as_async().clone();
        let outcome = wait_interruptibly(
            py,
            async move { mailer.send_with(&message, &options).await },
        )?;
        outcome.map(PySendReceipt::from).or_raise(py)
    }

    /// Like ``send``, for asyncio: returns an awaitable that resolves to a
    /// ``SendReceipt`` or raises as ``send`` does. Call it from a coroutine
    /// (a running event loop); ``asyncio.gather`` many of them to send
    /// concurrently::
    ///
    ///     receipt = await mailer.send_async(sender="erp@contoso.com",
    ///                                       to="a@example.com", text="Hi")
    ///
    /// The event loop is never blocked: the send runs on graphmailer's own
    /// threads. Cancelling the awaitable stops the send (the draft of a large
    /// message is deleted in the background); a mail already handed to Graph
    /// may still go out.
    #[pyo3(signature = (message=None, /, *, sender=None, on_progress=None, **parts))]
    fn send_async<'py>(
        &self,
        py: Python<'py>,
        message: Option<Bound<'py, PyAny>>,
        sender: Option<Bound<'py, PyAny>>,
        on_progress: Option<Bound<'py, PyAny>>,
        parts: Option<&Bound<'py, PyDict>>,
    ) -> PyResult<Bound<'py, PyAny>> {
        let parts = Parts::from_kwargs("Mailer.send_async", parts)?;
        let message = message_of(py, "send_async", message, sender, parts)?;
        let options = progress::send_options(on_progress)?;
        logging::refresh(py);
        let mailer = self.inner.as_async().clone();
        awaitable(py, "send_async", async move {
            mailer
                .send_with(&message, &options)
                .await
                .map(PySendReceipt::from)
        })
    }

    /// Sends a ready RFC 5322 message (headers, a blank line, the body, any
    /// attachments inside as MIME parts) through Graph's MIME form of
    /// ``sendMail``; returns a ``SendReceipt`` as ``send`` does::
    ///
    ///     message = EmailMessage()
    ///     message["From"] = "erp@contoso.com"
    ///     message["To"] = "accounts@example.com"
    ///     message["Subject"] = "Invoice 4711"
    ///     message.set_content("Please find the invoice attached.")
    ///     message.add_attachment(pdf, maintype="application", subtype="pdf",
    ///                            filename="invoice-4711.pdf")
    ///     mailer.send_mime(message)
    ///
    /// ``message`` is ``bytes`` (or ``bytearray``, ``memoryview``), an
    /// ``email.message.Message`` (``EmailMessage`` too; its ``as_bytes()`` is
    /// sent) or a binary file object (anything with ``read``, read here,
    /// never past the size limit). A ``str`` is refused with ``TypeError``,
    /// as it could be the text or a path: encode it, or call
    /// ``send_mime_file(path)``.
    ///
    /// The recipients are the message's To, Cc and Bcc. The mailbox to send as
    /// is ``sender``, else the From address, else the ``default_sender``
    /// setting; the ``allowed_senders`` list applies. Graph's MIME form takes
    /// about 3 MB in one request: a larger message goes through a draft and
    /// upload sessions with ``large_messages`` on, and raises
    /// ``InvalidMessageError`` with ``code`` ``"RequestEntityTooLarge"``
    /// before any request with them off. A
    /// malformed message raises ``InvalidMessageError`` naming the field:
    /// ``mime`` (empty, no header block), ``mime.To`` (no recipients),
    /// ``mime.Cc[1]`` (a bad address), ``sender``. The GIL is released
    /// while waiting and Ctrl-C interrupts, as for ``send``.
    #[pyo3(signature = (message, /, *, sender=None))]
    fn send_mime(
        &self,
        py: Python<'_>,
        message: &Bound<'_, PyAny>,
        sender: Option<&Bound<'_, PyAny>>,
    ) -> PyResult<PySendReceipt> {
        let sender = convert::opt_string("sender", sender)?;
        let mailer = self.inner.as_async().clone();
        let message = mime::message(py, "message", message, Some(&mailer))?.or_raise(py)?;
        logging::refresh(py);
        let outcome = wait_interruptibly(py, send_mime(mailer, sender, Ok(message)))?;
        outcome.map(PySendReceipt::from).or_raise(py)
    }

    /// Like ``send_mime``, for asyncio: an awaitable that resolves to a
    /// ``SendReceipt``. A file object is read before this returns; a
    /// malformed message raises when awaited, as ``send_async`` does.
    #[pyo3(signature = (message, /, *, sender=None))]
    fn send_mime_async<'py>(
        &self,
        py: Python<'py>,
        message: &Bound<'py, PyAny>,
        sender: Option<&Bound<'py, PyAny>>,
    ) -> PyResult<Bound<'py, PyAny>> {
        let sender = convert::opt_string("sender", sender)?;
        let mailer = self.inner.as_async().clone();
        let message = mime::message(py, "message", message, Some(&mailer))?;
        logging::refresh(py);
        awaitable(py, "send_mime_async", async move {
            send_mime(mailer, sender, message)
                .await
                .map(PySendReceipt::from)
        })
    }

    /// Sends the RFC 5322 message in the file at ``path`` (``str`` or
    /// ``os.PathLike``), as ``send_mime`` does; a file that cannot be read
    /// raises ``InvalidMessageError`` (field ``mime``).
    #[pyo3(signature = (path, *, sender=None))]
    fn send_mime_file(
        &self,
        py: Python<'_>,
        path: &Bound<'_, PyAny>,
        sender: Option<&Bound<'_, PyAny>>,
    ) -> PyResult<PySendReceipt> {
        let path = convert::path("path", path)?;
        let sender = convert::opt_string("sender", sender)?;
        let mailer = self.inner.as_async().clone();
        let message = py.detach(|| mailer.read_mime_file(path)).or_raise(py)?;
        logging::refresh(py);
        let outcome = wait_interruptibly(py, send_mime(mailer, sender, Ok(message)))?;
        outcome.map(PySendReceipt::from).or_raise(py)
    }

    /// Like ``send_mime_file``, for asyncio; the file is read on
    /// graphmailer's threads, and errors raise when awaited.
    #[pyo3(signature = (path, *, sender=None))]
    fn send_mime_file_async<'py>(
        &self,
        py: Python<'py>,
        path: &Bound<'py, PyAny>,
        sender: Option<&Bound<'py, PyAny>>,
    ) -> PyResult<Bound<'py, PyAny>> {
        let path = convert::path("path", path)?;
        let sender = convert::opt_string("sender", sender)?;
        logging::refresh(py);
        let mailer = self.inner.as_async().clone();
        awaitable(py, "send_mime_file_async", async move {
            let reader = mailer.clone();
            let message = graphmailer::offload::read(move || reader.read_mime_file(path)).await;
            send_mime(mailer, sender, message)
                .await
                .map(PySendReceipt::from)
        })
    }

    /// Gets a fresh token and explains it: the app, the roles an
    /// administrator consented to (and which are broader than sending needs),
    /// the token's lifetime, the clock's skew, the endpoints and the proxy.
    /// Never raises for the service's answer: a failure to get a token comes
    /// back as ``Diagnosis.error`` and a finding with its hint. Check
    /// ``Diagnosis.ok``.
    fn diagnose(&self, py: Python<'_>) -> PyResult<PyDiagnosis> {
        logging::refresh(py);
        let mailer = self.inner.as_async().clone();
        let diagnosis = wait_interruptibly(py, async move { mailer.diagnose().await })?;
        Ok(PyDiagnosis::from(diagnosis))
    }

    /// Like ``diagnose``, for asyncio: an awaitable that resolves to a ``Diagnosis``.
    fn diagnose_async<'py>(&self, py: Python<'py>) -> PyResult<Bound<'py, PyAny>> {
        logging::refresh(py);
        let mailer = self.inner.as_async().clone();
        awaitable(py, "diagnose_async", async move {
            Ok(PyDiagnosis::from(mailer.diagnose().await))
        })
    }

    /// Checks that the tenant's restriction is in force: each sender in
    /// ``allowed`` must be able to send and each one in ``denied`` must be
    /// refused with access denied. Each try sends a short test message to
    /// the sender's own mailbox only. The local ``allowed_senders`` list is
    /// not applied, as the point is to test the tenant.
    ///
    /// Returns a ``Verification`` (``holds`` is ``True`` when every sender
    /// did what it should). Raises only when nothing can be tested: bad
    /// input (``ConfigError`` naming ``allowed[i]``/``denied[i]``) or no
    /// token at all (``AuthenticationError``).
    #[pyo3(signature = (allowed=None, denied=None))]
    fn verify(
        &self,
        py: Python<'_>,
        allowed: Option<&Bound<'_, PyAny>>,
        denied: Option<&Bound<'_, PyAny>>,
    ) -> PyResult<PyVerification> {
        let (allowed, denied) = senders(allowed, denied)?;
        logging::refresh(py);
        let mailer = self.inner.as_async().clone();
        let outcome =
            wait_interruptibly(py, async move { mailer.verify(&allowed, &denied).await })?;
        outcome.map(PyVerification::from).or_raise(py)
    }

    /// Like ``verify``, for asyncio: an awaitable that resolves to a ``Verification``.
    #[pyo3(signature = (allowed=None, denied=None))]
    fn verify_async<'py>(
        &self,
        py: Python<'py>,
        allowed: Option<&Bound<'py, PyAny>>,
        denied: Option<&Bound<'py, PyAny>>,
    ) -> PyResult<Bound<'py, PyAny>> {
        let (allowed, denied) = senders(allowed, denied)?;
        logging::refresh(py);
        let mailer = self.inner.as_async().clone();
        awaitable(py, "verify_async", async move {
            mailer
                .verify(&allowed, &denied)
                .await
                .map(PyVerification::from)
        })
    }

    /// Repeats ``verify`` every ``interval`` until the restriction holds or
    /// ``wait`` has passed, and returns the last round. A new or changed
    /// restriction takes 30 minutes to hours to apply, so early rounds are
    /// expected to fail. ``progress``, if given, is called after each round
    /// with the ``Verification`` and the seconds left. Durations are seconds
    /// or ``datetime.timedelta``; Ctrl-C stops the wait.
    #[pyo3(signature = (allowed=None, denied=None, *, wait, interval=None, progress=None))]
    #[allow(clippy::too_many_arguments)]
    fn verify_until(
        &self,
        py: Python<'_>,
        allowed: Option<&Bound<'_, PyAny>>,
        denied: Option<&Bound<'_, PyAny>>,
        wait: &Bound<'_, PyAny>,
        interval: Option<&Bound<'_, PyAny>>,
        progress: Option<Bound<'_, PyAny>>,
    ) -> PyResult<PyVerification> {
        let (allowed, denied) = senders(allowed, denied)?;
        let wait = convert::duration("wait", wait)?;
        let interval = given(interval)
            .map(|v| convert::duration("interval", v))
            .transpose()?;
        let interval = graphmailer::blocking::verify_interval(wait, interval);
        if interval.is_zero() {
            return Err(bad_value("interval", "must be more than 0 seconds"));
        }
        let progress = match progress.filter(|p| !p.is_none()) {
            Some(p) if p.is_callable() => Some(p.unbind()),
            Some(p) => {
                return Err(wrong_type(
                    "progress",
                    "a callable (verification, seconds_left)",
                    &p,
                ));
            }
            None => None,
        };
        logging::refresh(py);
        let mailer = self.inner.as_async().clone();
        let outcome = wait_interruptibly(py, async move {
            mailer
                .verify_until(&allowed, &denied, wait, interval, move |round, left| {
                    if let Some(callback) = &progress {
                        report_progress(callback, round, left);
                    }
                })
                .await
        })?;
        outcome.map(PyVerification::from).or_raise(py)
    }

    /// The directory (tenant) ID or domain.
    #[getter]
    fn tenant_id(&self) -> &str {
        self.inner.config().tenant_id()
    }

    /// The application (client) ID.
    #[getter]
    fn client_id(&self) -> &str {
        self.inner.config().client_id()
    }

    /// The kind of credential: ``"client secret"``, ``"certificate"``,
    /// ``"federated token file"``, ``"assertion callback"`` or
    /// ``"managed identity (...)"`` (never its value).
    #[getter]
    fn credential(&self) -> &'static str {
        self.inner.config().credential_kind()
    }

    /// The cloud's name: ``"global"``, ``"usgov"``, ``"usgovdod"`` or ``"china"``.
    #[getter]
    fn cloud(&self) -> &'static str {
        self.inner.config().cloud().name()
    }

    /// The identity platform's origin.
    #[getter]
    fn authority_host(&self) -> &str {
        self.inner.config().authority_host()
    }

    /// Microsoft Graph's origin.
    #[getter]
    fn graph_endpoint(&self) -> &str {
        self.inner.config().graph_endpoint()
    }

    /// The token endpoint for the tenant.
    #[getter]
    fn token_url(&self) -> String {
        self.inner.config().token_url()
    }

    /// The scope requested with each token.
    #[getter]
    fn scope(&self) -> &str {
        self.inner.config().scope()
    }

    /// The local sender allowlist (mailboxes and ``@domains``); empty means
    /// no local restriction.
    #[getter]
    fn allowed_senders(&self) -> Vec<String> {
        self.inner.config().allowed_senders().entries()
    }

    /// Whether a message over Graph's 4 MB request limit may go through a
    /// draft and upload sessions (needs the Mail.ReadWrite permission).
    #[getter]
    fn large_messages(&self) -> bool {
        self.inner.config().large_messages()
    }

    /// The mailbox ``send_mime`` sends as when neither ``sender`` nor the
    /// message's From names one that can send, or ``None``.
    #[getter]
    fn default_sender(&self) -> Option<&str> {
        self.inner.config().default_sender()
    }

    /// Attempts per request, the first included.
    #[getter]
    fn max_attempts(&self) -> u32 {
        self.inner.config().retry().max_attempts
    }

    /// Seconds after which no retry starts.
    #[getter]
    fn retry_deadline(&self) -> f64 {
        self.inner.config().retry().deadline.as_secs_f64()
    }

    /// How many token requests this mailer has made (diagnostics, tests).
    #[getter]
    fn token_requests(&self) -> u64 {
        self.inner.as_async().token_requests()
    }

    fn __repr__(&self, py: Python<'_>) -> String {
        let c = self.inner.config();
        let q = |s: &str| convert::repr(py, s);
        let allowed: Vec<String> = self.allowed_senders().iter().map(|s| q(s)).collect();
        format!(
            "Mailer(tenant_id={}, client_id={}, credential={}, cloud={}, authority_host={}, graph_endpoint={}, allowed_senders=[{}])",
            q(c.tenant_id()),
            q(c.client_id()),
            q(c.credential_kind()),
            q(c.cloud().name()),
            q(c.authority_host()),
            q(c.graph_endpoint()),
            allowed.join(", ")
        )
    }
}

/// The core message for a send: the `Message` given, or one built from the
/// keywords.
fn message_of<'py>(
    py: Python<'py>,
    method: &str,
    message: Option<Bound<'py, PyAny>>,
    sender: Option<Bound<'py, PyAny>>,
    parts: Parts<'py>,
) -> PyResult<Message> {
    let sender = sender.filter(|s| !s.is_none());
    match message.filter(|m| !m.is_none()) {
        Some(m) => {
            let m = m
                .cast::<PyMessage>()
                .map_err(|_| crate::error::wrong_type("message", "a Message", &m))?;
            if sender.is_some() || !parts.is_empty() {
                return Err(PyTypeError::new_err(format!(
                    "{method}(): give a Message or the message as keywords (sender=..., to=...), not both"
                )));
            }
            Ok(m.borrow().inner.clone())
        }
        None => {
            let sender = sender.ok_or_else(|| {
                PyTypeError::new_err(format!(
                    "{method}(): missing the sender: give sender='mailbox@example.com' or a Message"
                ))
            })?;
            parts.build(py, &sender)
        }
    }
}

/// Sends a MIME message once it is read (or says why it could not be).
async fn send_mime(
    mailer: graphmailer::Mailer,
    sender: Option<String>,
    message: graphmailer::Result<MimeMessage>,
) -> graphmailer::Result<SendReceipt> {
    mailer.send_mime(sender.as_deref(), &message?).await
}

/// An argument given and not `None`.
fn given<'a, 'py>(value: Option<&'a Bound<'py, PyAny>>) -> Option<&'a Bound<'py, PyAny>> {
    value.filter(|v| !v.is_none())
}

/// The `allowed` and `denied` senders of `verify`: each one address or a list.
fn senders(
    allowed: Option<&Bound<'_, PyAny>>,
    denied: Option<&Bound<'_, PyAny>>,
) -> PyResult<(Vec<String>, Vec<String>)> {
    let list = |arg: &str, v: Option<&Bound<'_, PyAny>>| match given(v) {
        Some(v) => convert::strings(arg, v),
        None => Ok(Vec::new()),
    };
    Ok((list("allowed", allowed)?, list("denied", denied)?))
}

/// A Python callable that returns the client assertion (a JWT, as ``str``),
/// called from the runtime's thread, with the GIL, once per token request.
/// Its exception becomes the core's error (the token request fails with it).
fn assertion_callback(callback: &Bound<'_, PyAny>) -> PyResult<graphmailer::AssertionCallback> {
    if !callback.is_callable() {
        return Err(wrong_type(
            "client_assertion",
            "a callable returning the assertion (str)",
            callback,
        ));
    }
    let callback = callback.clone().unbind();
    Ok(graphmailer::AssertionCallback::blocking(move || {
        Python::attach(|py| {
            let value = callback.call0(py).map_err(|e| e.to_string())?;
            value
                .extract::<String>(py)
                .map_err(|_| "client_assertion must return a str".to_owned())
        })
    }))
}

/// Calls `verify_until`'s progress callback from the runtime's thread. An
/// exception in it cannot reach the caller from there: it is reported as
/// unraisable (printed), and the rounds go on.
fn report_progress(callback: &Py<PyAny>, round: &graphmailer::Verification, left: Duration) {
    let round = PyVerification::from(round.clone());
    Python::attach(|py| {
        if let Err(e) = callback.call1(py, (round, left.as_secs_f64())) {
            e.write_unraisable(py, Some(callback.bind(py)));
        }
    });
}

/// What Graph said when it accepted a mail.
#[pyclass(name = "SendReceipt", module = "graphmailer", frozen, eq)]
#[derive(PartialEq)]
pub(crate) struct PySendReceipt {
    inner: SendReceipt,
}

impl From<SendReceipt> for PySendReceipt {
    fn from(inner: SendReceipt) -> Self {
        PySendReceipt { inner }
    }
}

#[pymethods]
impl PySendReceipt {
    /// Graph's ``request-id`` of the accepted request, for Microsoft support.
    #[getter]
    fn request_id(&self) -> Option<&str> {
        self.inner.request_id.as_deref()
    }

    /// The ``client-request-id`` graphmailer sent (the same on every attempt
    /// of one send), to find the send in Microsoft's logs.
    #[getter]
    fn client_request_id(&self) -> &str {
        &self.inner.client_request_id
    }

    /// How many requests the send took (1 unless throttled or refused a token).
    #[getter]
    fn attempts(&self) -> u32 {
        self.inner.attempts
    }

    fn __repr__(&self, py: Python<'_>) -> String {
        let request_id = match &self.inner.request_id {
            Some(id) => convert::repr(py, id),
            None => "None".to_owned(),
        };
        format!(
            "SendReceipt(request_id={request_id}, client_request_id={}, attempts={})",
            convert::repr(py, &self.inner.client_request_id),
            self.inner.attempts
        )
    }
}
