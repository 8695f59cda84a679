//! The one pooled HTTP client a mailer uses for the token endpoint and Graph
//! alike: rustls over the system's roots plus an optional extra CA bundle,
//! HTTP/2 where the server offers it (ALPN), and the standard proxy variables
//! (`HTTPS_PROXY`, `HTTP_PROXY`, `NO_PROXY`), which reqwest reads itself.

use crate::config::Config;
use crate::error::{Error, Result};

pub(crate) const USER_AGENT: &str = concat!("graphmailer/", env!("CARGO_PKG_VERSION"));

pub(crate) fn build_client(config: &Config) -> Result<reqwest::Client> {
    let mut builder = reqwest::Client::builder()
        .user_agent(USER_AGENT)
        .timeout(config.timeout)
        .connect_timeout(config.connect_timeout)
        .pool_idle_timeout(std::time::Duration::from_secs(90))
        .https_only(false)
        // Redirects could carry the Authorization header to another host; Graph
        // and the identity platform never redirect these calls.
        .redirect(reqwest::redirect::Policy::none());
    if let Some(bundle) = &config.ca_bundle {
        let certs = reqwest::Certificate::from_pem_bundle(&bundle.pem).map_err(|e| {
            Error::config("GRAPHMAILER_CA_BUNDLE", format!("'{}' is not a PEM certificate bundle: {e}", bundle.source))
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
