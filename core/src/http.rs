//! The one pooled HTTP client a mailer uses for the token endpoint and Graph
//! alike: rustls over the system's roots plus an optional extra CA bundle,
//! HTTP/2 where the server offers it (ALPN), and the standard proxy variables
//! (`HTTPS_PROXY`, `HTTP_PROXY`, `NO_PROXY`), which reqwest reads itself.

use std::sync::OnceLock;
use std::time::Duration;

use crate::config::Config;
use crate::error::{Error, Result};

pub(crate) const USER_AGENT: &str = concat!("graphmailer/", env!("CARGO_PKG_VERSION"));

pub(crate) fn build_client(config: &Config) -> Result<reqwest::Client> {
    build(config, reqwest::Client::builder(), None)
}

/// A client for the host's managed identity endpoint: never through a proxy,
/// since the endpoint is on this host (loopback or link-local) and a proxy
/// would carry the identity's token off it.
pub(crate) fn build_identity_client(
    config: &Config,
    timeout: Option<Duration>,
) -> Result<reqwest::Client> {
    build(config, reqwest::Client::builder().no_proxy(), timeout)
}

/// `timeout` overrides the configured ones (a quick probe).
fn build(
    config: &Config,
    builder: reqwest::ClientBuilder,
    timeout: Option<Duration>,
) -> Result<reqwest::Client> {
    let mut builder = builder
        .user_agent(USER_AGENT)
        .timeout(timeout.unwrap_or(config.timeout))
        .connect_timeout(timeout.unwrap_or(config.connect_timeout))
        .pool_idle_timeout(std::time::Duration::from_secs(90))
        .https_only(false)
        // Redirects could carry the Authorization header to another host; Graph
        // and the identity platform never redirect these calls.
        .redirect(reqwest::redirect::Policy::none());
    // reqwest's own retry stays on: it sends again only a request HTTP/2
    // says the server never processed (RST_STREAM REFUSED_STREAM, or a
    // stream past a graceful GOAWAY's last id; RFC 9113 8.7), which cannot
    // send a mail twice and spares callers an ambiguous answer when Graph's
    // front end closes a connection. Every other retry is `retry.rs`'s.
    let mut extra = Vec::new();
    if let Some(bundle) = &config.ca_bundle {
        let certs = reqwest::Certificate::from_pem_bundle(&bundle.pem).map_err(|e| {
            Error::config(
                "GRAPHMAILER_CA_BUNDLE",
                format!("'{}' is not a PEM certificate bundle: {e}", bundle.source),
            )
        })?;
        if certs.is_empty() {
            return Err(Error::config(
                "GRAPHMAILER_CA_BUNDLE",
                format!("'{}' holds no PEM certificate", bundle.source),
            ));
        }
        extra = certs;
    }
    builder = match system_roots() {
        Some(roots) => builder.tls_certs_only(roots.iter().cloned().chain(extra)),
        None if extra.is_empty() => builder,
        None => builder.tls_certs_merge(extra),
    };
    builder
        .build()
        .map_err(|e| Error::config("http client", format!("cannot be set up: {e}")))
}

/// The system's trust anchors, read once per process rather than by the
/// platform verifier for each client built. On Linux that verifier reads
/// the bundle file and then every file of `/etc/ssl/certs` again (the same
/// certificates, about 150 files): most of a send's cold start once
/// randomness is seeded from the kernel, and in an unoptimised build (the
/// tests, under valgrind most of all) most of the work of making a mailer.
/// `None` where this shortcut does not hold (not Linux, no certificate
/// found): the platform verifier then decides, as before.
fn system_roots() -> Option<&'static [reqwest::Certificate]> {
    static ROOTS: OnceLock<Option<Vec<reqwest::Certificate>>> = OnceLock::new();
    ROOTS.get_or_init(read_system_roots).as_deref()
}

fn read_system_roots() -> Option<Vec<reqwest::Certificate>> {
    if !cfg!(target_os = "linux") {
        return None;
    }
    if std::env::var_os("SSL_CERT_DIR").is_some() {
        // The folder is what the user named: read what the platform verifier
        // would (`SSL_CERT_FILE`, then each file of the folder), with the
        // same crate.
        let found = rustls_native_certs::load_native_certs();
        return trust_anchors(found.certs.into_iter().map(|der| der.to_vec()));
    }
    // Where Debian, Ubuntu, Alpine and Arch; Fedora and RHEL; openSUSE keep it.
    const BUNDLES: [&str; 4] = [
        "/etc/ssl/certs/ca-certificates.crt",
        "/etc/pki/tls/certs/ca-bundle.crt",
        "/etc/pki/ca-trust/extracted/pem/tls-ca-bundle.pem",
        "/etc/ssl/ca-bundle.pem",
    ];
    let path = match std::env::var_os("SSL_CERT_FILE") {
        Some(file) => std::path::PathBuf::from(file),
        None => BUNDLES
            .iter()
            .map(std::path::PathBuf::from)
            .find(|p| p.is_file())?,
    };
    let pem = std::fs::read_to_string(&path).ok()?;
    trust_anchors(pem_certificates(&pem)?)
}

/// The certificates TLS can use as trust anchors, the others left out as the
/// platform verifier leaves them (reqwest would refuse to build a client
/// with one it cannot read); `None` when none is left.
fn trust_anchors(ders: impl IntoIterator<Item = Vec<u8>>) -> Option<Vec<reqwest::Certificate>> {
    let mut probe = rustls::RootCertStore::empty();
    let certs: Vec<reqwest::Certificate> = ders
        .into_iter()
        .filter(|der| probe.add(der.as_slice().into()).is_ok())
        .filter_map(|der| reqwest::Certificate::from_der(&der).ok())
        .collect();
    (!certs.is_empty()).then_some(certs)
}

/// The certificates (DER) of a PEM bundle. Public certificates need no
/// constant-time decoding, and the PEM reader's constant-time base64 was
/// most of a cold start's instructions (bench/README.md). `None` when a
/// block is malformed, so the platform verifier decides instead.
fn pem_certificates(pem: &str) -> Option<Vec<Vec<u8>>> {
    use base64::Engine;
    const BEGIN: &str = "-----BEGIN CERTIFICATE-----";
    const END: &str = "-----END CERTIFICATE-----";
    let mut certs = Vec::new();
    let mut rest = pem;
    while let Some(start) = rest.find(BEGIN) {
        let body = &rest[start + BEGIN.len()..];
        let end = body.find(END)?;
        let text: String = body[..end].split_whitespace().collect();
        certs.push(
            base64::engine::general_purpose::STANDARD
                .decode(text)
                .ok()?,
        );
        rest = &body[end + END.len()..];
    }
    Some(certs)
}

/// A fresh `client-request-id`. From the thread's random generator, which
/// the kernel seeded once, rather than `Uuid::new_v4`, which asks the kernel
/// again for every request.
pub(crate) fn new_request_id() -> String {
    uuid::Builder::from_random_bytes(rand::random())
        .into_uuid()
        .to_string()
}

/// True when the request cannot have been written: the connection itself
/// failed. Anything else may have reached the server.
pub(crate) fn failed_before_sending(error: &reqwest::Error) -> bool {
    error.is_connect()
}

/// True when TLS refused the server's certificate: a setting to fix (an
/// intercepting proxy or the emulator needs its CA trusted), not a passing
/// failure to retry. Recognised by the TLS library's own error type, found
/// in the cause chain.
pub(crate) fn is_untrusted_certificate(error: &reqwest::Error) -> bool {
    let mut source = std::error::Error::source(error);
    while let Some(cause) = source {
        if refused_certificate(cause) {
            return true;
        }
        source = cause.source();
    }
    false
}

/// An I/O error hides what it carries from `source()`, and the TLS
/// connector wraps the handshake's I/O error in another: look inside each.
fn refused_certificate(mut error: &(dyn std::error::Error + 'static)) -> bool {
    loop {
        if let Some(tls) = error.downcast_ref::<rustls::Error>() {
            return matches!(
                tls,
                rustls::Error::InvalidCertificate(_) | rustls::Error::NoCertificatesPresented
            );
        }
        match error
            .downcast_ref::<std::io::Error>()
            .and_then(|io| io.get_ref())
        {
            Some(inner) => error = inner,
            None => return false,
        }
    }
}

/// The error for a connection that TLS refused.
pub(crate) fn certificate_error(origin: &str, error: &reqwest::Error) -> Error {
    Error::config(
        "GRAPHMAILER_CA_BUNDLE",
        format!("the certificate of {origin} is not trusted: {}", describe(error)),
    )
    .with_hint(
        "if a proxy that inspects TLS or the local emulator sits in between, set GRAPHMAILER_CA_BUNDLE to the PEM file of its certificate authority",
    )
}

/// A transport error as a sentence with its causes (the URL it names is one of
/// our endpoints, which carry no secret).
pub(crate) fn describe(error: &reqwest::Error) -> String {
    let mut text = error.to_string();
    let mut source = std::error::Error::source(error);
    while let Some(cause) = source {
        text.push_str(": ");
        text.push_str(&cause.to_string());
        source = cause.source();
    }
    text
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn a_pem_bundle_reads_as_the_pem_reader_reads_it() {
        // The emulator's CA and a second copy: a bundle of two, with text
        // around them as distributions write it.
        let emulator = graphmailer_emulator::start(graphmailer_emulator::Options::default())
            .await
            .unwrap();
        let ca = emulator
            .ca_pem()
            .expect("the emulator serves TLS")
            .to_owned();
        let bundle = format!("# Contoso root\n{ca}\nsome comment\n{ca}");
        let ours = pem_certificates(&bundle).unwrap();
        let theirs = reqwest::Certificate::from_pem_bundle(bundle.as_bytes()).unwrap();
        assert_eq!(ours.len(), 2);
        assert_eq!(ours.len(), theirs.len());
        assert!(pem_certificates("").unwrap().is_empty());
        let broken = ca.replace("-----END CERTIFICATE-----", "");
        assert!(pem_certificates(&broken).is_none());
        let garbled = ca.replacen('M', "!", 1);
        assert!(pem_certificates(&garbled).is_none());
        emulator.shutdown().await;
    }

    #[tokio::test]
    async fn only_certificates_tls_can_use_become_trust_anchors() {
        let emulator = graphmailer_emulator::start(graphmailer_emulator::Options::default())
            .await
            .unwrap();
        let ca = pem_certificates(emulator.ca_pem().expect("the emulator serves TLS"))
            .unwrap()
            .remove(0);
        let not_a_certificate = b"not a certificate".to_vec();
        let anchors = trust_anchors([not_a_certificate.clone(), ca.clone(), ca[..40].to_vec()])
            .expect("the emulator's CA is kept");
        assert_eq!(anchors.len(), 1);
        // A client builds with what is left, where the unreadable ones would
        // have refused it.
        reqwest::Client::builder()
            .tls_certs_only(anchors)
            .build()
            .unwrap();
        assert!(trust_anchors([not_a_certificate]).is_none());
        assert!(trust_anchors(Vec::new()).is_none());
        emulator.shutdown().await;
    }
}
