//! How the app proves who it is to the identity platform.
//!
//! A client secret today; a certificate (a signed client assertion) slots in as
//! another variant without changing any caller, because callers only hand a
//! `Credential` to the configuration and the token request asks it for its
//! form fields.

use crate::secret::Secret;

/// The app's credential.
#[derive(Clone, Debug)]
#[non_exhaustive]
pub enum Credential {
    /// A client secret's value (not its ID).
    ClientSecret(Secret),
}

impl Credential {
    /// A client secret.
    pub fn client_secret(value: impl Into<Secret>) -> Self {
        Credential::ClientSecret(value.into())
    }

    /// The form fields that carry this credential in a client-credentials
    /// token request.
    pub(crate) fn form_fields(&self) -> Vec<(&'static str, Secret)> {
        match self {
            Credential::ClientSecret(secret) => vec![("client_secret", secret.clone())],
        }
    }

    /// True for a secret with the shape of a GUID: Entra shows each secret's
    /// ID as a GUID next to its value, and the ID is what people paste by mistake.
    pub(crate) fn looks_like_secret_id(&self) -> bool {
        match self {
            Credential::ClientSecret(secret) => crate::address::is_guid(secret.expose().trim()),
        }
    }

    /// What kind of credential, for diagnostics.
    pub fn kind(&self) -> &'static str {
        match self {
            Credential::ClientSecret(_) => "client secret",
        }
    }
}
