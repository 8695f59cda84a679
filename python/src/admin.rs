//! The administrator's side: `Mailer.diagnose()`'s `Diagnosis`,
//! `Mailer.verify()`'s `Verification`, and `policy_script()`, the Exchange
//! Online PowerShell that restricts the app. The core decides everything;
//! these are read-only views of its results.

use pyo3::exceptions::PyValueError;
use pyo3::prelude::*;
use pyo3::types::PyDict;

use graphmailer::powershell::POLICY_WARNINGS;
use graphmailer::{Diagnosis, Finding, PolicyRequest, PolicyStyle, Verification, VerifyRow};

use crate::convert;
use crate::error::{OrRaise, to_pyerr};

/// What ``Mailer.diagnose()`` learned from a fresh token: the app, its
/// roles, the token's lifetime, the clock's skew, the endpoints and proxy,
/// and ``findings``, each with a hint. ``ok`` is ``False`` when a finding is
/// an error (sending will not work until it is fixed).
#[pyclass(name = "Diagnosis", module = "graphmailer", frozen)]
pub(crate) struct PyDiagnosis {
    inner: Diagnosis,
}

impl From<Diagnosis> for PyDiagnosis {
    fn from(inner: Diagnosis) -> Self {
        PyDiagnosis { inner }
    }
}

#[pymethods]
impl PyDiagnosis {
    /// ``True`` unless a finding is an error.
    #[getter]
    fn ok(&self) -> bool {
        self.inner.ok()
    }
    /// The tenant configured.
    #[getter]
    fn tenant_id(&self) -> &str {
        &self.inner.tenant_id
    }
    /// The application (client) ID configured.
    #[getter]
    fn client_id(&self) -> &str {
        &self.inner.client_id
    }
    /// ``"client secret"`` or ``"certificate"``.
    #[getter]
    fn credential(&self) -> &'static str {
        self.inner.credential
    }
    /// The cloud's name.
    #[getter]
    fn cloud(&self) -> &str {
        &self.inner.cloud
    }
    /// The token endpoint used.
    #[getter]
    fn token_url(&self) -> &str {
        &self.inner.token_url
    }
    /// Graph's origin used.
    #[getter]
    fn graph_endpoint(&self) -> &str {
        &self.inner.graph_endpoint
    }
    /// The scope requested.
    #[getter]
    fn scope(&self) -> &str {
        &self.inner.scope
    }
    /// The HTTPS proxy the environment names (any password replaced by ``***``), or ``None``.
    #[getter]
    fn proxy(&self) -> Option<&str> {
        self.inner.proxy.as_deref()
    }
    /// The environment's ``NO_PROXY``, or ``None``.
    #[getter]
    fn no_proxy(&self) -> Option<&str> {
        self.inner.no_proxy.as_deref()
    }
    /// Whether a token was obtained.
    #[getter]
    fn token_acquired(&self) -> bool {
        self.inner.token_acquired
    }
    /// The tenant that issued the token (its ``tid``), or ``None``.
    #[getter]
    fn token_tenant(&self) -> Option<&str> {
        self.inner.token_tenant.as_deref()
    }
    /// The app's display name in the tenant, or ``None``.
    #[getter]
    fn app_display_name(&self) -> Option<&str> {
        self.inner.app_display_name.as_deref()
    }
    /// The application roles the token carries (``["Mail.Send"]``).
    #[getter]
    fn roles(&self) -> Vec<String> {
        self.inner.roles.clone()
    }
    /// The token's lifetime as issued, in seconds, or ``None``.
    #[getter]
    fn token_lifetime(&self) -> Option<f64> {
        self.inner.token_lifetime.map(|d| d.as_secs_f64())
    }
    /// This machine's clock minus the identity platform's, in seconds, or ``None``.
    #[getter]
    fn clock_skew_secs(&self) -> Option<i64> {
        self.inner.clock_skew_secs
    }
    /// The token request's failure as a ``GraphMailerError`` (not raised), or ``None``.
    #[getter]
    fn error(&self, py: Python<'_>) -> Option<Py<PyAny>> {
        self.inner
            .error
            .as_ref()
            .map(|e| to_pyerr(py, e).into_value(py).into_any())
    }
    /// What was found, errors first in importance: a list of ``Finding``.
    #[getter]
    fn findings(&self) -> Vec<PyFinding> {
        self.inner
            .findings
            .iter()
            .cloned()
            .map(|inner| PyFinding { inner })
            .collect()
    }

    /// Everything as plain values, in the core's JSON shape (the same the
    /// CLI's ``doctor --json`` prints): durations in seconds, the error as
    /// ``{"kind", "message", "field", "code", "request_id", "status", "hint", ...}``.
    fn to_dict<'py>(&self, py: Python<'py>) -> PyResult<Bound<'py, PyAny>> {
        let json = self.inner.to_json().to_string();
        py.import("json")?.call_method1("loads", (json,))
    }

    fn __repr__(&self, py: Python<'_>) -> String {
        let roles: Vec<String> = self
            .inner
            .roles
            .iter()
            .map(|r| convert::repr(py, r))
            .collect();
        format!(
            "Diagnosis(ok={}, app_display_name={}, roles=[{}], findings={})",
            if self.ok() { "True" } else { "False" },
            match &self.inner.app_display_name {
                Some(name) => convert::repr(py, name),
                None => "None".to_owned(),
            },
            roles.join(", "),
            self.inner.findings.len()
        )
    }
}

/// One thing ``diagnose()`` found: ``severity`` (``"info"``, ``"warning"``
/// or ``"error"``), a stable ``id`` (``"missing-mail-send"``,
/// ``"broad-role"``, ...), a ``message`` and an optional ``hint``.
#[pyclass(name = "Finding", module = "graphmailer", frozen)]
pub(crate) struct PyFinding {
    inner: Finding,
}

#[pymethods]
impl PyFinding {
    /// ``"info"``, ``"warning"`` or ``"error"``.
    #[getter]
    fn severity(&self) -> &'static str {
        self.inner.severity.name()
    }
    /// A stable identifier, such as ``"missing-mail-send"``.
    #[getter]
    fn id(&self) -> &'static str {
        self.inner.id
    }
    /// What was found.
    #[getter]
    fn message(&self) -> &str {
        &self.inner.message
    }
    /// What to do about it, or ``None``.
    #[getter]
    fn hint(&self) -> Option<&str> {
        self.inner.hint.as_deref()
    }

    /// The finding as a dict.
    fn to_dict<'py>(&self, py: Python<'py>) -> PyResult<Bound<'py, PyDict>> {
        let d = PyDict::new(py);
        d.set_item("severity", self.severity())?;
        d.set_item("id", self.id())?;
        d.set_item("message", self.message())?;
        d.set_item("hint", self.hint())?;
        Ok(d)
    }

    fn __repr__(&self, py: Python<'_>) -> String {
        format!(
            "Finding(severity='{}', id='{}', message={})",
            self.severity(),
            self.id(),
            convert::repr(py, &self.inner.message)
        )
    }
}

/// One round of ``Mailer.verify()``: ``rows`` (one ``VerifyRow`` per
/// sender), ``round`` (1 for the first) and ``holds``, ``True`` when every
/// sender did what it should.
#[pyclass(name = "Verification", module = "graphmailer", frozen)]
pub(crate) struct PyVerification {
    inner: Verification,
}

impl From<Verification> for PyVerification {
    fn from(inner: Verification) -> Self {
        PyVerification { inner }
    }
}

#[pymethods]
impl PyVerification {
    /// ``True`` when every allowed sender sent and every denied one was refused.
    #[getter]
    fn holds(&self) -> bool {
        self.inner.holds()
    }
    /// Which round this is (1 for the first).
    #[getter]
    fn round(&self) -> u32 {
        self.inner.round
    }
    /// One ``VerifyRow`` per sender, allowed ones first.
    #[getter]
    fn rows(&self) -> Vec<PyVerifyRow> {
        self.inner
            .rows
            .iter()
            .cloned()
            .map(|inner| PyVerifyRow { inner })
            .collect()
    }

    fn __bool__(&self) -> bool {
        self.holds()
    }

    fn __repr__(&self) -> String {
        format!(
            "Verification(holds={}, round={}, rows={})",
            if self.holds() { "True" } else { "False" },
            self.inner.round,
            self.inner.rows.len()
        )
    }
}

/// One sender's result in a ``Verification``.
#[pyclass(name = "VerifyRow", module = "graphmailer", frozen)]
pub(crate) struct PyVerifyRow {
    inner: VerifyRow,
}

#[pymethods]
impl PyVerifyRow {
    /// The mailbox tried.
    #[getter]
    fn sender(&self) -> &str {
        &self.inner.sender
    }
    /// ``"allowed"`` or ``"denied"``: what should happen.
    #[getter]
    fn expected(&self) -> &'static str {
        self.inner.expected.name()
    }
    /// ``"sent"``, ``"denied"`` or ``"failed"`` (inconclusive): what happened.
    #[getter]
    fn observed(&self) -> &'static str {
        self.inner.observed.name()
    }
    /// ``True`` when what happened is what should happen.
    #[getter]
    fn passed(&self) -> bool {
        self.inner.passed()
    }
    /// The service's code when it refused (``"ErrorAccessDenied"``), or ``None``.
    #[getter]
    fn code(&self) -> Option<&str> {
        self.inner.code.as_deref()
    }
    /// The request id of the try, or ``None``.
    #[getter]
    fn request_id(&self) -> Option<&str> {
        self.inner.request_id.as_deref()
    }
    /// A sentence for people.
    #[getter]
    fn detail(&self) -> &str {
        &self.inner.detail
    }

    fn __repr__(&self, py: Python<'_>) -> String {
        format!(
            "VerifyRow(sender={}, expected='{}', observed='{}', passed={})",
            convert::repr(py, &self.inner.sender),
            self.expected(),
            self.observed(),
            if self.passed() { "True" } else { "False" }
        )
    }
}

/// The Exchange Online PowerShell that restricts app ``app_id`` to send only
/// as ``mailboxes``, ready to paste into a session, with the warnings every
/// administrator should read as comments.
///
/// ``style`` is ``"rbac"`` (RBAC for Applications, Microsoft's current way;
/// needs ``service_principal_id``, the enterprise application's Object ID)
/// or ``"application_access_policy"`` (the older way; needs ``group``, a
/// mail-enabled security group's address). ``denied`` adds test lines that
/// must show a refusal. Every value is checked first (``ConfigError`` naming
/// it) and quoted, so nothing typed can break out of a string.
#[pyfunction]
#[pyo3(signature = (app_id, mailboxes, *, style="rbac", service_principal_id=None, display_name=None, denied=None, group=None))]
#[allow(clippy::too_many_arguments)]
pub(crate) fn policy_script(
    py: Python<'_>,
    app_id: &Bound<'_, PyAny>,
    mailboxes: &Bound<'_, PyAny>,
    style: &str,
    service_principal_id: Option<&Bound<'_, PyAny>>,
    display_name: Option<&Bound<'_, PyAny>>,
    denied: Option<&Bound<'_, PyAny>>,
    group: Option<&Bound<'_, PyAny>>,
) -> PyResult<String> {
    let style: PolicyStyle = style
        .parse()
        .map_err(|e: graphmailer::Error| PyValueError::new_err(e.message().to_owned()))?;
    let request = PolicyRequest {
        app_id: convert::string("app_id", app_id)?,
        service_principal_id: convert::opt_string("service_principal_id", service_principal_id)?,
        display_name: convert::opt_string("display_name", display_name)?,
        mailboxes: convert::strings("mailboxes", mailboxes)?,
        denied: match denied.filter(|d| !d.is_none()) {
            Some(d) => convert::strings("denied", d)?,
            None => Vec::new(),
        },
        group: convert::opt_string("group", group)?,
    };
    graphmailer::policy_script(&request, style).or_raise(py)
}

/// The warnings printed with every policy script, as a tuple of sentences.
pub(crate) fn policy_warnings() -> Vec<&'static str> {
    POLICY_WARNINGS.to_vec()
}
