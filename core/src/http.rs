//! The one pooled HTTP client a mailer uses for the token endpoint and Graph
//! alike: rustls over the system's roots plus an optional extra CA bundle,
//! HTTP/2 where the server offers it (ALPN), and the standard proxy variables
//! (`HTTPS_PROXY`, `HTTP_PROXY`, `NO_PROXY`), which reqwest reads itself.

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
        builder = builder.tls_certs_merge(certs);
    }
    builder
        .build()
        .map_err(|e| Error::config("http client", format!("cannot be set up: {e}")))
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
