//! `ClientCertificate`: a certificate credential, loaded by the core from PEM
//! or PKCS#12. The private key never leaves the core's type; Python sees the
//! thumbprints only.

use pyo3::prelude::*;

use graphmailer::ClientCertificate;

use crate::convert;
use crate::error::OrRaise;

/// A certificate registered on the app, with its private key: the app proves
/// who it is by signing a short-lived assertion, which is safer than a client
/// secret (nothing secret travels). Give it to ``Mailer(client_certificate=...)``::
///
///     cert = ClientCertificate.from_path("erp-app.pfx", password=os.environ["PFX_PASSWORD"])
///     mailer = Mailer(tenant_id=..., client_id=..., client_certificate=cert)
///
/// Only RSA keys are supported. A file that cannot be read, a wrong password
/// or a key that does not belong to the certificate raise ``ConfigError``
/// naming the setting (``AZURE_CLIENT_CERTIFICATE_PATH`` or
/// ``AZURE_CLIENT_CERTIFICATE_PASSWORD``). ``repr()`` shows the thumbprint,
/// never the key.
#[pyclass(name = "ClientCertificate", module = "graphmailer", frozen)]
pub(crate) struct PyClientCertificate {
    pub inner: ClientCertificate,
}

#[pymethods]
impl PyClientCertificate {
    /// From PEM text (``str`` or ``bytes``): the certificate, and the private
    /// key in the same text or in ``key``. The key may be PKCS#8, PKCS#8
    /// encrypted with ``password``, or PKCS#1.
    #[staticmethod]
    #[pyo3(signature = (certificate, key=None, *, password=None))]
    fn from_pem(
        py: Python<'_>,
        certificate: &Bound<'_, PyAny>,
        key: Option<&Bound<'_, PyAny>>,
        password: Option<&Bound<'_, PyAny>>,
    ) -> PyResult<Self> {
        let certificate = convert::text_or_bytes("certificate", certificate)?;
        let key = match key.filter(|k| !k.is_none()) {
            Some(k) => convert::text_or_bytes("key", k)?,
            None => certificate.clone(),
        };
        let password = convert::opt_string("password", password)?;
        let inner = py
            .detach(|| ClientCertificate::from_pem(&certificate, &key, password.as_deref()))
            .or_raise(py)?;
        Ok(PyClientCertificate { inner })
    }

    /// From a PKCS#12 archive (the bytes of a ``.pfx`` or ``.p12`` file) and
    /// its password.
    #[staticmethod]
    #[pyo3(signature = (archive, password))]
    fn from_pkcs12(
        py: Python<'_>,
        archive: &Bound<'_, PyAny>,
        password: &Bound<'_, PyAny>,
    ) -> PyResult<Self> {
        let archive = convert::content("archive", archive)?;
        let password = convert::string("password", password)?;
        let inner = py
            .detach(|| ClientCertificate::from_pkcs12(&archive, &password))
            .or_raise(py)?;
        Ok(PyClientCertificate { inner })
    }

    /// From a file, as ``AZURE_CLIENT_CERTIFICATE_PATH`` names one: PEM with
    /// the certificate and the key, or PKCS#12 (``.pfx``, ``.p12``).
    #[staticmethod]
    #[pyo3(signature = (path, password=None))]
    fn from_path(
        py: Python<'_>,
        path: &Bound<'_, PyAny>,
        password: Option<&Bound<'_, PyAny>>,
    ) -> PyResult<Self> {
        let path = convert::path("path", path)?;
        let password = convert::opt_string("password", password)?;
        let inner = py
            .detach(|| ClientCertificate::from_path(&path, password.as_deref()))
            .or_raise(py)?;
        Ok(PyClientCertificate { inner })
    }

    /// The SHA-1 thumbprint in hex, as the app registration's "Certificates
    /// & secrets" page shows it.
    #[getter]
    fn thumbprint(&self) -> String {
        self.inner.thumbprint()
    }

    /// The SHA-256 thumbprint in hex.
    #[getter]
    fn thumbprint_sha256(&self) -> String {
        self.inner.thumbprint_sha256()
    }

    fn __repr__(&self) -> String {
        format!(
            "ClientCertificate(thumbprint='{}')",
            self.inner.thumbprint()
        )
    }
}
