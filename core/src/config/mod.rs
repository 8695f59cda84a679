//! Configuration: a builder, the environment (the names Azure's SDKs read,
//! plus `GRAPHMAILER_*`), or a TOML file. Every setting is declared once, in
//! [`SETTINGS`].

mod builder;
mod checks;
mod file;
mod settings;
#[cfg(test)]
mod tests;

use std::path::Path;
use std::time::Duration;

use url::Url;

use crate::cloud::Cloud;
use crate::credential::Credential;
use crate::error::{Error, Result};
use crate::policy::SenderPolicy;
use crate::retry::RetryPolicy;

use crate::credential::{CredentialMode, FEDERATED_TOKEN_FILE};
pub use builder::ConfigBuilder;

/// The outbox's URL, which may hold a database password (before the host's
/// `@`, or as a parameter): `Debug`, which prints the configuration and
/// every mailer, shows only its scheme.
#[derive(Clone, Default)]
pub(crate) struct OutboxUrl(pub(crate) String);

impl std::fmt::Debug for OutboxUrl {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let scheme = self.0.split(':').next().unwrap_or_default();
        write!(f, "\"{scheme}:…\"")
    }
}
use settings::{CERTIFICATE_PASSWORD, CERTIFICATE_PATH, CLIENT_SECRET, CREDENTIAL};
pub use settings::{SETTINGS, Setting, SettingType, setting, settings_table};

/// A checked configuration. Build it with [`Config::builder`],
/// [`Config::from_env`] or [`Config::from_file`].
#[derive(Clone, Debug)]
pub struct Config {
    pub(crate) tenant_id: String,
    pub(crate) client_id: String,
    pub(crate) credential: Credential,
    /// Why this credential: the settings that decided, for `doctor`.
    pub(crate) credential_reason: String,
    /// The managed identity endpoint the environment names, if any, used
    /// or not: `doctor` asks it whether a secret could be done without.
    pub(crate) identity_offer: Option<crate::identity_endpoint::ManagedIdentity>,
    pub(crate) cloud: Cloud,
    pub(crate) authority_host: Url,
    pub(crate) graph_endpoint: Url,
    pub(crate) scope: String,
    pub(crate) allowed_senders: SenderPolicy,
    pub(crate) ca_bundle: Option<CaBundle>,
    pub(crate) timeout: Duration,
    pub(crate) connect_timeout: Duration,
    pub(crate) retry: RetryPolicy,
    pub(crate) max_concurrent_per_mailbox: usize,
    pub(crate) large_messages: bool,
    pub(crate) default_sender: Option<String>,
    pub(crate) outbox: Option<OutboxUrl>,
}

/// Extra certificate authorities to trust, besides the system's.
#[derive(Clone, Debug)]
pub(crate) struct CaBundle {
    pub source: String,
    pub pem: Vec<u8>,
}

impl Config {
    /// A builder; `tenant_id`, `client_id` and a credential are required.
    pub fn builder() -> ConfigBuilder {
        ConfigBuilder::default()
    }

    /// Reads the environment: the names in the first column of [`SETTINGS`]
    /// (`AZURE_TENANT_ID`, `AZURE_CLIENT_ID`, `AZURE_CLIENT_SECRET`, ...,
    /// `GRAPHMAILER_*`).
    pub fn from_env() -> Result<Config> {
        Config::from_lookup(|name| std::env::var(name).ok())
    }

    /// Reads a TOML file whose keys are the file keys of [`SETTINGS`]
    /// (`tenant_id = "..."`); a setting the file leaves out is taken from the
    /// environment, so the secret can stay out of the file. A file that holds
    /// a secret (or names a certificate whose key has no password) is refused
    /// when users outside its group can read it, or anyone but its owner can
    /// change it: 0600 and 0640 are fine, 0644 is not.
    pub fn from_file(path: impl AsRef<Path>) -> Result<Config> {
        let path = path.as_ref();
        let text = std::fs::read_to_string(path).map_err(|e| {
            Error::config(
                "config file",
                format!("cannot read '{}': {e}", path.display()),
            )
        })?;
        let values = file::parse_file(&text, path)?;
        file::refuse_exposed_secrets(&values, path)?;
        Config::from_lookup(|name| {
            let key = SETTINGS.iter().find(|s| s.env == name)?.key;
            values
                .get(key)
                .cloned()
                .or_else(|| std::env::var(name).ok())
        })
    }

    /// Reads settings by environment-variable name from any source.
    pub fn from_lookup(lookup: impl Fn(&str) -> Option<String>) -> Result<Config> {
        // As in Azure's EnvironmentCredential, a secret wins over a
        // certificate, and both over a federated token file, when several
        // are set in the environment (in code, giving two is refused). An
        // explicit GRAPHMAILER_CREDENTIAL takes its own and passes over the rest.
        let given = |name: &str| lookup(name).is_some_and(|v| !v.trim().is_empty());
        let mode = match lookup(CREDENTIAL) {
            Some(v) if !v.trim().is_empty() => v.parse::<CredentialMode>()?,
            _ => CredentialMode::Auto,
        };
        let chosen = match mode {
            CredentialMode::Auto => [CLIENT_SECRET, CERTIFICATE_PATH, FEDERATED_TOKEN_FILE]
                .into_iter()
                .find(|name| given(name)),
            CredentialMode::Secret => Some(CLIENT_SECRET),
            CredentialMode::Certificate => Some(CERTIFICATE_PATH),
            CredentialMode::Federated => Some(FEDERATED_TOKEN_FILE),
            CredentialMode::ManagedIdentity => None,
        };
        let mut b = Config::builder();
        for setting in SETTINGS {
            let credential_setting = match setting.env {
                CERTIFICATE_PASSWORD => Some(CERTIFICATE_PATH),
                CLIENT_SECRET | CERTIFICATE_PATH | FEDERATED_TOKEN_FILE => Some(setting.env),
                _ => None,
            };
            if credential_setting.is_some_and(|c| Some(c) != chosen) {
                if given(setting.env) && setting.env != CERTIFICATE_PASSWORD {
                    b.passed_over.push(setting.env);
                }
                continue;
            }
            if let Some(value) = lookup(setting.env) {
                b = b.set(setting.env, &value)?;
            }
        }
        b.build()
    }

    /// The directory (tenant) ID or domain.
    pub fn tenant_id(&self) -> &str {
        &self.tenant_id
    }
    /// The application (client) ID.
    pub fn client_id(&self) -> &str {
        &self.client_id
    }
    /// The credential's kind, for diagnostics.
    pub fn credential_kind(&self) -> &'static str {
        self.credential.kind()
    }
    /// Why this credential is the one in use: the settings that decided.
    pub fn credential_reason(&self) -> &str {
        &self.credential_reason
    }
    /// The cloud.
    pub fn cloud(&self) -> Cloud {
        self.cloud
    }
    /// The identity platform's origin.
    pub fn authority_host(&self) -> &str {
        self.authority_host.as_str().trim_end_matches('/')
    }
    /// Microsoft Graph's origin.
    pub fn graph_endpoint(&self) -> &str {
        self.graph_endpoint.as_str().trim_end_matches('/')
    }
    /// The token endpoint for this tenant.
    pub fn token_url(&self) -> String {
        format!(
            "{}/{}/oauth2/v2.0/token",
            self.authority_host(),
            self.tenant_id
        )
    }
    /// The scope requested.
    pub fn scope(&self) -> &str {
        &self.scope
    }
    /// The local sender allowlist.
    pub fn allowed_senders(&self) -> &SenderPolicy {
        &self.allowed_senders
    }

    /// Whether a message too large for one request may go through a draft
    /// and upload sessions (needs Mail.ReadWrite besides Mail.Send).
    pub fn large_messages(&self) -> bool {
        self.large_messages
    }

    /// The mailbox to send as when a message names none that can be used
    /// (the `sendmail` command's mail from cron, which comes from `root`).
    pub fn default_sender(&self) -> Option<&str> {
        self.default_sender.as_deref()
    }
    /// The durable queue's URL, when one is configured (`GRAPHMAILER_OUTBOX`).
    pub fn outbox(&self) -> Option<&str> {
        self.outbox.as_ref().map(|u| u.0.as_str())
    }
    /// The retry rules.
    pub fn retry(&self) -> &RetryPolicy {
        &self.retry
    }
}
