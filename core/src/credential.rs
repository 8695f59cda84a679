//! How the app proves who it is to the identity platform: a client secret,
//! or a certificate that signs a short-lived client assertion. Callers only
//! hand a `Credential` to the configuration; the token request asks it for
//! its form fields, so a new kind of credential changes no caller.

use crate::certificate::ClientCertificate;
use crate::error::Result;
use crate::secret::Secret;

/// The app's credential.
#[derive(Clone, Debug)]
#[non_exhaustive]
pub enum Credential {
    /// A client secret's value (not its ID).
    ClientSecret(Secret),
    /// A certificate registered on the app, with its private key.
    Certificate(ClientCertificate),
}

impl Credential {
    /// A client secret.
    pub fn client_secret(value: impl Into<Secret>) -> Self {
        Credential::ClientSecret(value.into())
    }

    /// A certificate credential.
    pub fn certificate(certificate: ClientCertificate) -> Self {
        Credential::Certificate(certificate)
    }

    /// The form fields that carry this credential in a client-credentials
    /// token request to `token_url`.
    pub(crate) fn form_fields(
        &self,
        client_id: &str,
        token_url: &str,
    ) -> Result<Vec<(&'static str, Secret)>> {
        Ok(match self {
            Credential::ClientSecret(secret) => vec![("client_secret", secret.clone())],
            Credential::Certificate(certificate) => vec![
                (
                    "client_assertion_type",
                    Secret::new("urn:ietf:params:oauth:client-assertion-type:jwt-bearer"),
                ),
                (
                    "client_assertion",
                    certificate.assertion(client_id, token_url)?,
                ),
            ],
        })
    }

    /// True for a secret with the shape of a GUID: Entra shows each secret's
    /// ID as a GUID next to its value, and the ID is what people paste by mistake.
    pub(crate) fn looks_like_secret_id(&self) -> bool {
        match self {
            Credential::ClientSecret(secret) => crate::address::is_guid(secret.expose().trim()),
            Credential::Certificate(_) => false,
        }
    }

    /// What kind of credential, for diagnostics.
    pub fn kind(&self) -> &'static str {
        match self {
            Credential::ClientSecret(_) => "client secret",
            Credential::Certificate(_) => "certificate",
        }
    }
}
