//! The emulator's own little PKI: a CA generated at start (its PEM is what
//! clients are told to trust) and a leaf certificate for localhost,
//! 127.0.0.1 and ::1 signed by it. Nothing is ever reused between runs, so
//! nobody can come to trust a key that outlives the process.

use std::net::IpAddr;
use std::sync::Arc;

use rcgen::{
    BasicConstraints, CertificateParams, DnType, ExtendedKeyUsagePurpose, IsCa, Issuer, KeyPair,
    KeyUsagePurpose, SanType,
};
use rustls::pki_types::{CertificateDer, PrivateKeyDer, PrivatePkcs8KeyDer};
use time::{Duration, OffsetDateTime};

use crate::Error;

/// What TLS needs: the CA to publish and the server configuration.
pub(crate) struct TlsMaterial {
    pub ca_pem: String,
    pub server_config: Arc<rustls::ServerConfig>,
}

fn crypto(e: impl std::fmt::Display) -> Error {
    Error::Crypto(format!("TLS: {e}"))
}

/// Generates a CA and a leaf for the loopback names plus `bind` (when it is
/// a concrete non-loopback address, so clients on it can verify too).
pub(crate) fn generate(bind: IpAddr) -> Result<TlsMaterial, Error> {
    let now = OffsetDateTime::now_utc();

    let ca_key = KeyPair::generate().map_err(crypto)?;
    let mut ca_params = CertificateParams::new(Vec::<String>::new()).map_err(crypto)?;
    ca_params
        .distinguished_name
        .push(DnType::CommonName, "graphmailer emulator CA");
    ca_params.distinguished_name.push(
        DnType::OrganizationName,
        "graphmailer emulator (local testing only)",
    );
    ca_params.is_ca = IsCa::Ca(BasicConstraints::Constrained(0));
    ca_params.key_usages = vec![
        KeyUsagePurpose::KeyCertSign,
        KeyUsagePurpose::CrlSign,
        KeyUsagePurpose::DigitalSignature,
    ];
    ca_params.not_before = now - Duration::days(1);
    ca_params.not_after = now + Duration::days(365);
    let ca_cert = ca_params.self_signed(&ca_key).map_err(crypto)?;
    let issuer = Issuer::new(ca_params, ca_key);

    let mut names = vec![
        "localhost".to_owned(),
        "127.0.0.1".to_owned(),
        "::1".to_owned(),
    ];
    if !bind.is_loopback() && !bind.is_unspecified() {
        names.push(bind.to_string());
    }
    let leaf_key = KeyPair::generate().map_err(crypto)?;
    let mut leaf_params = CertificateParams::new(names).map_err(crypto)?;
    // rcgen turns IP-looking names into IP SANs already; make sure of it,
    // because clients match 127.0.0.1 only against an IP SAN.
    for san in &mut leaf_params.subject_alt_names {
        if let SanType::DnsName(name) = san
            && let Ok(ip) = name.as_str().parse::<IpAddr>()
        {
            *san = SanType::IpAddress(ip);
        }
    }
    leaf_params
        .distinguished_name
        .push(DnType::CommonName, "localhost");
    leaf_params.key_usages = vec![KeyUsagePurpose::DigitalSignature];
    leaf_params.extended_key_usages = vec![ExtendedKeyUsagePurpose::ServerAuth];
    leaf_params.use_authority_key_identifier_extension = true;
    leaf_params.not_before = now - Duration::days(1);
    leaf_params.not_after = now + Duration::days(90);
    let leaf_cert = leaf_params.signed_by(&leaf_key, &issuer).map_err(crypto)?;

    let provider = Arc::new(rustls::crypto::aws_lc_rs::default_provider());
    let mut config = rustls::ServerConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .map_err(crypto)?
        .with_no_client_auth()
        .with_single_cert(
            vec![CertificateDer::from(leaf_cert.der().to_vec())],
            PrivateKeyDer::Pkcs8(PrivatePkcs8KeyDer::from(leaf_key.serialize_der())),
        )
        .map_err(crypto)?;
    config.alpn_protocols = vec![b"h2".to_vec(), b"http/1.1".to_vec()];

    Ok(TlsMaterial {
        ca_pem: ca_cert.pem(),
        server_config: Arc::new(config),
    })
}
