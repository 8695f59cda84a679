//! `ClientCertificate`: core's certificate credential as a JavaScript class,
//! so a program can load it once, show its thumbprint, and hand it to
//! `new Mailer({ clientCertificate })`. The private key stays in the addon.

use graphmailer::Secret;
use napi::bindgen_prelude::*;
use napi_derive::napi;

use crate::convert;
use crate::errors::Failure;
use crate::from_js::FromJs;

/// A certificate and its RSA private key, for certificate credentials (what
/// Microsoft recommends over client secrets). Load it with `fromPath`,
/// `fromPem` or `fromPkcs12`; the private key never becomes a JavaScript
/// value and `util.inspect` shows only the thumbprint.
#[napi]
pub struct ClientCertificate {
    pub(crate) inner: graphmailer::ClientCertificate,
}

#[napi]
impl ClientCertificate {
    /// From a file, as `AZURE_CLIENT_CERTIFICATE_PATH` names it: PEM with the
    /// certificate and the private key, or a PKCS#12 archive (`.pfx`, `.p12`).
    /// Throws an `Error` with `code: 'ERR_CONFIG'` naming the setting when the
    /// file cannot be read or opened.
    #[napi(
        catch_unwind,
        factory,
        ts_args_type = "path: string, password?: string"
    )]
    pub fn from_path(env: Env, path: Unknown, password: Option<Unknown>) -> Result<Self> {
        let loaded = (|| {
            let path = convert::string_arg(path, "path")?;
            let password = convert::optional_secret_arg(password, "password")?;
            Ok::<_, Failure>(graphmailer::ClientCertificate::from_path(
                path,
                password.as_ref().map(Secret::expose),
            )?)
        })();
        Ok(ClientCertificate {
            inner: loaded.map_err(|f| f.into_napi(&env))?,
        })
    }

    /// From PEM text (a string, `Buffer` or `Uint8Array`): the certificate and
    /// the private key, in one text or two. The key may be PKCS#8, PKCS#8
    /// encrypted with `password`, or PKCS#1.
    #[napi(
        catch_unwind,
        factory,
        ts_args_type = "certificate: string | Uint8Array, privateKey: string | Uint8Array, password?: string"
    )]
    pub fn from_pem(
        env: Env,
        certificate: Unknown,
        private_key: Unknown,
        password: Option<Unknown>,
    ) -> Result<Self> {
        let loaded = (|| {
            let certificate = convert::bytes_arg(certificate, "certificate")?;
            let key = convert::secret_bytes_arg(private_key, "privateKey")?;
            let password = convert::optional_secret_arg(password, "password")?;
            Ok::<_, Failure>(graphmailer::ClientCertificate::from_pem(
                &certificate,
                &key,
                password.as_ref().map(Secret::expose),
            )?)
        })();
        Ok(ClientCertificate {
            inner: loaded.map_err(|f| f.into_napi(&env))?,
        })
    }

    /// From a PKCS#12 archive (`.pfx`, `.p12`) in memory and its password.
    #[napi(
        catch_unwind,
        factory,
        ts_args_type = "archive: Uint8Array, password: string"
    )]
    pub fn from_pkcs12(env: Env, archive: Unknown, password: Unknown) -> Result<Self> {
        let loaded = (|| {
            let archive = convert::secret_bytes_arg(archive, "archive")?;
            let password = convert::secret_arg(password, "password")?;
            Ok::<_, Failure>(graphmailer::ClientCertificate::from_pkcs12(
                &archive,
                password.expose(),
            )?)
        })();
        Ok(ClientCertificate {
            inner: loaded.map_err(|f| f.into_napi(&env))?,
        })
    }

    /// The SHA-1 thumbprint in hex, as the app registration's Certificates &
    /// secrets page shows it.
    #[napi(catch_unwind, getter)]
    pub fn thumbprint(&self) -> String {
        self.inner.thumbprint()
    }

    /// The SHA-256 thumbprint in hex.
    #[napi(catch_unwind, getter)]
    pub fn thumbprint_sha256(&self) -> String {
        self.inner.thumbprint_sha256()
    }

    /// The certificate (never the key) in DER.
    #[napi(catch_unwind, getter)]
    pub fn certificate_der(&self) -> Buffer {
        self.inner.certificate_der().to_vec().into()
    }

    /// The thumbprints; never the key.
    #[napi(catch_unwind, js_name = "toJSON")]
    pub fn to_json(&self) -> CertificateInfo {
        CertificateInfo {
            thumbprint: self.inner.thumbprint(),
            thumbprint_sha256: self.inner.thumbprint_sha256(),
        }
    }
}

/// What `toJSON()` and `util.inspect` show of a certificate.
#[napi(object)]
pub struct CertificateInfo {
    pub thumbprint: String,
    pub thumbprint_sha256: String,
}

/// The `clientCertificate` option: a `ClientCertificate`, or `{ path, password }`.
pub(crate) fn from_option(
    env: &Env,
    v: Unknown<'_>,
) -> std::result::Result<graphmailer::ClientCertificate, Failure> {
    const NAME: &str = "options.clientCertificate";
    if v.get_type()? == ValueType::Object && ClientCertificate::instance_of(env, &v)? {
        let instance =
            unsafe { ClassInstance::<ClientCertificate>::from_napi_value(env.raw(), v.raw())? };
        return Ok(instance.inner.clone());
    }
    crate::from_js::object(
        v,
        NAME,
        "an instance of ClientCertificate or an object { path, password }",
    )?;
    let file = crate::shapes::CertificateFile::from_js(v, NAME)?;
    Ok(graphmailer::ClientCertificate::from_path(
        file.path,
        file.password.as_ref().map(Secret::expose),
    )?)
}
