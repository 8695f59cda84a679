//! The relay's certificate: read from PEM files at start and again on
//! SIGHUP, so a renewed certificate (certbot, an internal CA) is taken up
//! without dropping sessions. A reload that fails keeps the old one.

use std::path::{Path, PathBuf};
use std::sync::{Arc, RwLock};

use graphmailer::{Error, Result};
use rustls::ServerConfig;
use rustls::pki_types::{CertificateDer, PrivateKeyDer};
use tokio_rustls::TlsAcceptor;

use crate::config::TlsConfig;

pub struct Certificates {
    certificate: PathBuf,
    key: PathBuf,
    current: RwLock<Arc<ServerConfig>>,
}

impl Certificates {
    pub fn load(config: &TlsConfig) -> Result<Certificates> {
        let server = server_config(&config.certificate, &config.key)?;
        Ok(Certificates {
            certificate: config.certificate.clone(),
            key: config.key.clone(),
            current: RwLock::new(server),
        })
    }

    /// Reads the files again; on error the certificate in use stays.
    pub fn reload(&self) -> Result<()> {
        let server = server_config(&self.certificate, &self.key)?;
        *self.current.write().unwrap_or_else(|e| e.into_inner()) = server;
        Ok(())
    }

    pub fn acceptor(&self) -> TlsAcceptor {
        TlsAcceptor::from(
            self.current
                .read()
                .unwrap_or_else(|e| e.into_inner())
                .clone(),
        )
    }
}

fn tls_error(field: &str, path: &Path, problem: impl std::fmt::Display) -> Error {
    Error::config(field, format!("'{}': {problem}", path.display()))
}

fn server_config(cert_path: &Path, key_path: &Path) -> Result<Arc<ServerConfig>> {
    let pem = std::fs::read(cert_path)
        .map_err(|e| tls_error("tls.certificate", cert_path, format!("cannot be read: {e}")))?;
    let chain: Vec<CertificateDer<'static>> = rustls_pemfile::certs(&mut pem.as_slice())
        .collect::<std::result::Result<_, _>>()
        .map_err(|e| tls_error("tls.certificate", cert_path, format!("is not PEM: {e}")))?;
    if chain.is_empty() {
        return Err(tls_error(
            "tls.certificate",
            cert_path,
            "holds no CERTIFICATE block",
        ));
    }
    let pem = std::fs::read(key_path)
        .map_err(|e| tls_error("tls.key", key_path, format!("cannot be read: {e}")))?;
    let key: PrivateKeyDer<'static> = rustls_pemfile::private_key(&mut pem.as_slice())
        .map_err(|e| tls_error("tls.key", key_path, format!("is not PEM: {e}")))?
        .ok_or_else(|| tls_error("tls.key", key_path, "holds no private key"))?;
    let provider = Arc::new(rustls::crypto::aws_lc_rs::default_provider());
    let config = ServerConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .map_err(|e| tls_error("tls.certificate", cert_path, e))?
        .with_no_client_auth()
        .with_single_cert(chain, key)
        .map_err(|e| {
            tls_error(
                "tls.key",
                key_path,
                format!("does not go with the certificate: {e}"),
            )
        })?;
    Ok(Arc::new(config))
}

/// Files of a throw-away CA and a certificate for localhost signed by it,
/// for the demo and tests.
pub struct GeneratedCertificates {
    pub ca_file: PathBuf,
    pub certificate: PathBuf,
    pub key: PathBuf,
}

/// Makes a CA and a leaf for `localhost`, `127.0.0.1` and `::1` in `dir`.
pub fn generate_local(dir: &Path) -> Result<GeneratedCertificates> {
    use rcgen::{
        BasicConstraints, CertificateParams, DnType, ExtendedKeyUsagePurpose, IsCa, Issuer,
        KeyPair, KeyUsagePurpose, SanType,
    };
    use time::{Duration, OffsetDateTime};
    let fail = |e: rcgen::Error| Error::config("tls", format!("cannot make a certificate: {e}"));
    let now = OffsetDateTime::now_utc();
    let ca_key = KeyPair::generate().map_err(fail)?;
    let mut ca = CertificateParams::new(Vec::<String>::new()).map_err(fail)?;
    ca.distinguished_name
        .push(DnType::CommonName, "graphmailer relay demo CA");
    ca.is_ca = IsCa::Ca(BasicConstraints::Constrained(0));
    ca.key_usages = vec![KeyUsagePurpose::KeyCertSign, KeyUsagePurpose::CrlSign];
    ca.not_before = now - Duration::days(1);
    ca.not_after = now + Duration::days(30);
    let ca_cert = ca.self_signed(&ca_key).map_err(fail)?;
    let issuer = Issuer::new(ca, ca_key);

    let leaf_key = KeyPair::generate().map_err(fail)?;
    let mut leaf = CertificateParams::new(vec!["localhost".to_owned()]).map_err(fail)?;
    leaf.subject_alt_names
        .push(SanType::IpAddress([127, 0, 0, 1].into()));
    leaf.subject_alt_names
        .push(SanType::IpAddress(std::net::Ipv6Addr::LOCALHOST.into()));
    leaf.distinguished_name
        .push(DnType::CommonName, "localhost");
    leaf.key_usages = vec![KeyUsagePurpose::DigitalSignature];
    leaf.extended_key_usages = vec![ExtendedKeyUsagePurpose::ServerAuth];
    leaf.use_authority_key_identifier_extension = true;
    leaf.not_before = now - Duration::days(1);
    leaf.not_after = now + Duration::days(30);
    let leaf_cert = leaf.signed_by(&leaf_key, &issuer).map_err(fail)?;

    // The key is readable by its owner only, like any private key.
    let write = |name: &str, text: &str, mode: u32| -> Result<PathBuf> {
        use std::io::Write;
        use std::os::unix::fs::OpenOptionsExt;
        let path = dir.join(name);
        std::fs::OpenOptions::new()
            .write(true)
            .create(true)
            .truncate(true)
            .mode(mode)
            .open(&path)
            .and_then(|mut f| f.write_all(text.as_bytes()))
            .map_err(|e| Error::config("tls", format!("cannot write '{}': {e}", path.display())))?;
        Ok(path)
    };
    Ok(GeneratedCertificates {
        ca_file: write("relay-ca.pem", &ca_cert.pem(), 0o644)?,
        certificate: write("relay-cert.pem", &leaf_cert.pem(), 0o644)?,
        key: write("relay-key.pem", &leaf_key.serialize_pem(), 0o600)?,
    })
}
