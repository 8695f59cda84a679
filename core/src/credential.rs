//! How the app proves who it is to the identity platform: a client secret,
//! a certificate that signs a short-lived client assertion, an assertion the
//! platform hands over (a federated token file, or a caller's callback), or a
//! managed identity, which skips the identity platform and asks the host.
//! Callers only hand a `Credential` to the configuration; the token request
//! asks it for its form fields, so a new kind of credential changes no caller.

use std::fmt;
use std::future::Future;
use std::path::{Path, PathBuf};
use std::pin::Pin;
use std::sync::Arc;

use crate::certificate::ClientCertificate;
use crate::error::{Error, ErrorKind, Result};
use crate::identity_endpoint::ManagedIdentity;
use crate::secret::Secret;

/// The environment name of the federated token file, as Azure's SDKs and
/// AKS workload identity name it.
pub(crate) const FEDERATED_TOKEN_FILE: &str = "AZURE_FEDERATED_TOKEN_FILE";

const JWT_BEARER: &str = "urn:ietf:params:oauth:client-assertion-type:jwt-bearer";

/// What an assertion callback's future gives: the assertion (a JWT), or a
/// message saying why there is none.
pub type AssertionFuture =
    Pin<Box<dyn Future<Output = std::result::Result<Secret, String>> + Send + 'static>>;

/// A caller's source of client assertions (GitHub Actions' OIDC token,
/// another cloud's identity, SPIFFE): asked once per token request.
#[derive(Clone)]
pub struct AssertionCallback(Arc<dyn Fn() -> AssertionFuture + Send + Sync>);

impl fmt::Debug for AssertionCallback {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("AssertionCallback")
    }
}

impl AssertionCallback {
    /// A callback that may block (it reads a file, asks a local agent, calls
    /// into another language's runtime): it runs on a thread of its own.
    pub fn blocking<F>(f: F) -> Self
    where
        F: Fn() -> std::result::Result<String, String> + Send + Sync + 'static,
    {
        let f = Arc::new(f);
        AssertionCallback(Arc::new(move || {
            let f = f.clone();
            Box::pin(async move {
                tokio::task::spawn_blocking(move || f().map(Secret::new))
                    .await
                    .unwrap_or_else(|_| Err("the assertion callback panicked".into()))
            })
        }))
    }

    /// An async callback.
    pub fn future<F, Fut>(f: F) -> Self
    where
        F: Fn() -> Fut + Send + Sync + 'static,
        Fut: Future<Output = std::result::Result<Secret, String>> + Send + 'static,
    {
        AssertionCallback(Arc::new(move || Box::pin(f())))
    }

    async fn call(&self) -> Result<Secret> {
        let assertion = (self.0)().await.map_err(|reason| {
            Error::new(
                ErrorKind::Authentication,
                format!("the assertion callback gave no assertion: {reason}"),
            )
            .with_hint("the callback that supplies the client assertion failed; see its message")
        })?;
        if assertion.expose().trim().is_empty() {
            return Err(Error::new(
                ErrorKind::Authentication,
                "the assertion callback gave an empty assertion",
            )
            .with_hint(
                "the callback must return the platform's token (a JWT), not an empty string",
            ));
        }
        Ok(Secret::new(assertion.expose().trim()))
    }
}

/// Which credential to use (`GRAPHMAILER_CREDENTIAL`).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum CredentialMode {
    /// Whichever is configured, in Azure Identity's `EnvironmentCredential`
    /// order: a secret, else a certificate, else a federated token file.
    #[default]
    Auto,
    Secret,
    Certificate,
    /// A federated token file, or an assertion callback given in code.
    Federated,
    /// The host's managed identity: only when asked for, since probing for
    /// one costs time on every other machine.
    ManagedIdentity,
}

impl CredentialMode {
    /// The name in configuration.
    pub fn name(self) -> &'static str {
        match self {
            CredentialMode::Auto => "auto",
            CredentialMode::Secret => "secret",
            CredentialMode::Certificate => "certificate",
            CredentialMode::Federated => "federated",
            CredentialMode::ManagedIdentity => "managed_identity",
        }
    }

    /// Whether `credential` is of this kind.
    pub(crate) fn accepts(self, credential: &Credential) -> bool {
        match self {
            CredentialMode::Auto => true,
            CredentialMode::Secret => matches!(credential, Credential::ClientSecret(_)),
            CredentialMode::Certificate => matches!(credential, Credential::Certificate(_)),
            CredentialMode::Federated => credential.is_federated(),
            CredentialMode::ManagedIdentity => {
                matches!(credential, Credential::ManagedIdentity(_))
            }
        }
    }
}

impl std::str::FromStr for CredentialMode {
    type Err = Error;

    fn from_str(s: &str) -> Result<Self> {
        let all = [
            CredentialMode::Auto,
            CredentialMode::Secret,
            CredentialMode::Certificate,
            CredentialMode::Federated,
            CredentialMode::ManagedIdentity,
        ];
        all.into_iter()
            .find(|m| m.name().eq_ignore_ascii_case(s.trim()))
            .ok_or_else(|| {
                Error::config(
                    "GRAPHMAILER_CREDENTIAL",
                    format!(
                        "'{}' is not one of auto, secret, certificate, federated, managed_identity",
                        crate::address::printable(s)
                    ),
                )
            })
    }
}

/// The app's credential.
#[derive(Clone, Debug)]
#[non_exhaustive]
pub enum Credential {
    /// A client secret's value (not its ID).
    ClientSecret(Secret),
    /// A certificate registered on the app, with its private key.
    Certificate(ClientCertificate),
    /// A file the platform keeps a JWT in (AKS workload identity projects
    /// one and rotates it), sent as the client assertion of a federated
    /// identity credential. Read again for every token request.
    FederatedTokenFile(PathBuf),
    /// A caller's callback that gives the client assertion.
    Assertion(AssertionCallback),
    /// The host's managed identity (Azure VM, App Service, Functions).
    ManagedIdentity(ManagedIdentity),
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

    /// A federated token file (`AZURE_FEDERATED_TOKEN_FILE`).
    pub fn federated_token_file(path: impl Into<PathBuf>) -> Self {
        Credential::FederatedTokenFile(path.into())
    }

    /// A client assertion from a blocking callback; see
    /// [`AssertionCallback::blocking`].
    pub fn assertion<F>(f: F) -> Self
    where
        F: Fn() -> std::result::Result<String, String> + Send + Sync + 'static,
    {
        Credential::Assertion(AssertionCallback::blocking(f))
    }

    /// The form fields that carry this credential in a client-credentials
    /// token request to `token_url`.
    pub(crate) async fn form_fields(
        &self,
        client_id: &str,
        token_url: &str,
    ) -> Result<Vec<(&'static str, Secret)>> {
        let assertion = match self {
            Credential::ClientSecret(secret) => return Ok(vec![("client_secret", secret.clone())]),
            Credential::Certificate(certificate) => certificate.assertion(client_id, token_url)?,
            Credential::FederatedTokenFile(path) => read_token_file(path)?,
            Credential::Assertion(callback) => callback.call().await?,
            Credential::ManagedIdentity(_) => {
                return Err(Error::new(
                    ErrorKind::Config,
                    "a managed identity does not use the token endpoint",
                ));
            }
        };
        Ok(vec![
            ("client_assertion_type", Secret::new(JWT_BEARER)),
            ("client_assertion", assertion),
        ])
    }

    /// True for a secret with the shape of a GUID: Entra shows each secret's
    /// ID as a GUID next to its value, and the ID is what people paste by mistake.
    pub(crate) fn looks_like_secret_id(&self) -> bool {
        match self {
            Credential::ClientSecret(secret) => crate::address::is_guid(secret.expose().trim()),
            _ => false,
        }
    }

    /// True for an assertion the platform issued (a federated credential).
    pub(crate) fn is_federated(&self) -> bool {
        matches!(
            self,
            Credential::FederatedTokenFile(_) | Credential::Assertion(_)
        )
    }

    /// What kind of credential, for diagnostics.
    pub fn kind(&self) -> &'static str {
        match self {
            Credential::ClientSecret(_) => "client secret",
            Credential::Certificate(_) => "certificate",
            Credential::FederatedTokenFile(_) => "federated token file",
            Credential::Assertion(_) => "assertion callback",
            Credential::ManagedIdentity(identity) => identity.kind(),
        }
    }
}

/// The federated token, read fresh: the platform rewrites the file before
/// the token in it expires, and token requests are rare (tokens are cached),
/// so reading it each time costs nothing and never sends a stale one.
fn read_token_file(path: &Path) -> Result<Secret> {
    let shown = path.display();
    let hint = "the platform writes this file: with AKS workload identity the pod needs the label \
                azure.workload.identity/use: \"true\" and a service account annotated with \
                azure.workload.identity/client-id; elsewhere, point AZURE_FEDERATED_TOKEN_FILE at \
                the file the platform keeps its OIDC token in";
    let text = std::fs::read_to_string(path).map_err(|e| {
        Error::config(
            FEDERATED_TOKEN_FILE,
            format!("cannot read the federated token file '{shown}': {e}"),
        )
        .with_hint(hint)
    })?;
    let token = text.trim();
    if token.is_empty() {
        return Err(Error::config(
            FEDERATED_TOKEN_FILE,
            format!("the federated token file '{shown}' is empty"),
        )
        .with_hint(hint));
    }
    Ok(Secret::new(token))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn fields(credential: &Credential) -> Result<Vec<(&'static str, Secret)>> {
        tokio::runtime::Builder::new_current_thread()
            .build()
            .unwrap()
            .block_on(credential.form_fields("client", "https://login.example/token"))
    }

    #[test]
    fn a_token_file_is_read_for_every_request() {
        let path = std::env::temp_dir().join(format!("graphmailer-token-{}", uuid::Uuid::new_v4()));
        let credential = Credential::federated_token_file(&path);
        let missing = fields(&credential).unwrap_err();
        assert_eq!(missing.field(), Some(FEDERATED_TOKEN_FILE));
        assert!(missing.message().contains(&path.display().to_string()));
        std::fs::write(&path, " \n").unwrap();
        assert!(
            fields(&credential)
                .unwrap_err()
                .message()
                .contains("is empty")
        );
        std::fs::write(&path, "first.jwt.value\n").unwrap();
        assert_eq!(
            fields(&credential).unwrap()[1].1.expose(),
            "first.jwt.value"
        );
        std::fs::write(&path, "second.jwt.value").unwrap();
        let f = fields(&credential).unwrap();
        assert_eq!(f[0].1.expose(), JWT_BEARER);
        assert_eq!(f[1].1.expose(), "second.jwt.value");
        std::fs::remove_file(&path).unwrap();
    }

    #[test]
    fn a_callback_failure_is_an_error_and_its_assertion_is_never_shown() {
        let ok = Credential::assertion(|| Ok("header.payload.signature".into()));
        assert_eq!(
            fields(&ok).unwrap()[1].1.expose(),
            "header.payload.signature"
        );
        assert!(!format!("{ok:?}").contains("payload"));
        let failing = Credential::assertion(|| Err("no OIDC token in this job".into()));
        let e = fields(&failing).unwrap_err();
        assert!(e.message().contains("no OIDC token in this job"));
        let empty = Credential::assertion(|| Ok(String::new()));
        assert!(fields(&empty).unwrap_err().message().contains("empty"));
    }
}
