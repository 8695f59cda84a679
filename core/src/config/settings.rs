//! Every setting, declared once: its environment name, its key in a config
//! file, its type, its default and what it does. The environment reader, the
//! file reader, [`ConfigBuilder::set`] (which the bindings call) and the
//! README's table all follow this list, so a setting cannot exist in one of
//! them and be missing from another.

use crate::cloud::Cloud;
use crate::credential::{CredentialMode, FEDERATED_TOKEN_FILE};
use crate::error::{Error, Result};

use super::ConfigBuilder;
use super::checks::{flag, seconds, whole};

/// What a setting's value is.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum SettingType {
    Text,
    /// Used exactly as given (never trimmed), and never shown.
    Secret,
    Path,
    Url,
    /// One of a few names.
    Choice,
    Seconds,
    WholeNumber,
    Flag,
    /// Several values, comma-separated (a list of strings in a file).
    List,
}

impl SettingType {
    /// The name in the README's table.
    pub fn name(self) -> &'static str {
        match self {
            SettingType::Text => "text",
            SettingType::Secret => "secret",
            SettingType::Path => "path",
            SettingType::Url => "URL",
            SettingType::Choice => "name",
            SettingType::Seconds => "seconds",
            SettingType::WholeNumber => "whole number",
            SettingType::Flag => "true/false",
            SettingType::List => "list",
        }
    }
}

/// One setting.
#[derive(Clone, Copy, Debug)]
pub struct Setting {
    /// The environment variable.
    pub env: &'static str,
    /// The key in a TOML config file.
    pub key: &'static str,
    pub kind: SettingType,
    /// The default, as the README says it (empty when there is none).
    pub default: &'static str,
    /// What the setting does, in the README's words (Markdown).
    pub description: &'static str,
    apply: fn(ConfigBuilder, &str) -> Result<ConfigBuilder>,
}

/// The environment name of the client secret, which wins over a certificate
/// when both are in the environment, as in Azure's SDKs.
pub(super) const CLIENT_SECRET: &str = "AZURE_CLIENT_SECRET";
pub(super) const CERTIFICATE_PATH: &str = "AZURE_CLIENT_CERTIFICATE_PATH";
pub(super) const CERTIFICATE_PASSWORD: &str = "AZURE_CLIENT_CERTIFICATE_PASSWORD";
pub(super) const IDENTITY_ENDPOINT: &str = "IDENTITY_ENDPOINT";
pub(super) const CREDENTIAL: &str = "GRAPHMAILER_CREDENTIAL";

/// Every setting read from the environment, a config file or
/// [`ConfigBuilder::set`].
pub const SETTINGS: &[Setting] = &[
    Setting {
        env: "AZURE_TENANT_ID",
        key: "tenant_id",
        kind: SettingType::Text,
        default: "required",
        description: "Directory (tenant) ID, or a verified domain",
        apply: |b, v| Ok(b.tenant_id(v)),
    },
    Setting {
        env: "AZURE_CLIENT_ID",
        key: "client_id",
        kind: SettingType::Text,
        default: "required",
        description: "Application (client) ID",
        apply: |b, v| Ok(b.client_id(v)),
    },
    Setting {
        env: CLIENT_SECRET,
        key: "client_secret",
        kind: SettingType::Secret,
        default: "a secret or a certificate",
        description: "the secret's **value** (not its ID)",
        apply: |b, v| Ok(b.client_secret(v)),
    },
    Setting {
        env: CERTIFICATE_PATH,
        key: "client_certificate_path",
        kind: SettingType::Path,
        default: "",
        description: "PEM (certificate and private key, the key encrypted or not) or PKCS#12 (`.pfx`) file",
        apply: |b, v| Ok(b.client_certificate_path(v)),
    },
    Setting {
        env: CERTIFICATE_PASSWORD,
        key: "client_certificate_password",
        kind: SettingType::Secret,
        default: "",
        description: "password of the key or the `.pfx`",
        apply: |b, v| Ok(b.client_certificate_password(v)),
    },
    Setting {
        env: FEDERATED_TOKEN_FILE,
        key: "federated_token_file",
        kind: SettingType::Path,
        default: "",
        description: "file holding the platform's OIDC token (AKS workload identity sets it), sent as a federated client assertion; read again for each token request, so rotation needs no restart",
        apply: |b, v| Ok(b.federated_token_file(v)),
    },
    Setting {
        env: CREDENTIAL,
        key: "credential",
        kind: SettingType::Choice,
        default: "`auto`",
        description: "`auto` (a secret, else a certificate, else a federated token file, as Azure Identity's `EnvironmentCredential`), `secret`, `certificate`, `federated`, `managed_identity` (only when asked for)",
        apply: |b, v| Ok(b.credential_mode(v.parse::<CredentialMode>()?)),
    },
    Setting {
        env: "AZURE_AUTHORITY_HOST",
        key: "authority_host",
        kind: SettingType::Url,
        default: "the cloud's",
        description: "identity platform origin",
        apply: |b, v| Ok(b.authority_host(v)),
    },
    Setting {
        env: "AZURE_POD_IDENTITY_AUTHORITY_HOST",
        key: "pod_identity_authority_host",
        kind: SettingType::Url,
        default: "`http://169.254.169.254`",
        description: "the Instance Metadata Service's origin, for a managed identity",
        apply: |b, v| Ok(b.imds_host(v)),
    },
    Setting {
        env: IDENTITY_ENDPOINT,
        key: "identity_endpoint",
        kind: SettingType::Url,
        default: "none",
        description: "App Service and Functions' managed identity endpoint (the platform sets it); with `IDENTITY_HEADER`, used instead of the Instance Metadata Service",
        apply: |b, v| Ok(b.identity_endpoint(v)),
    },
    Setting {
        env: "IDENTITY_HEADER",
        key: "identity_header",
        kind: SettingType::Secret,
        default: "none",
        description: "the secret App Service and Functions set for their identity endpoint",
        apply: |b, v| Ok(b.identity_header(v)),
    },
    Setting {
        env: "GRAPHMAILER_CLOUD",
        key: "cloud",
        kind: SettingType::Choice,
        default: "`global`",
        description: "`global`, `usgov` (GCC High), `usgovdod` (DoD), `china` (21Vianet)",
        apply: |b, v| Ok(b.cloud(v.parse::<Cloud>()?)),
    },
    Setting {
        env: "GRAPHMAILER_GRAPH_ENDPOINT",
        key: "graph_endpoint",
        kind: SettingType::Url,
        default: "the cloud's",
        description: "Graph origin",
        apply: |b, v| Ok(b.graph_endpoint(v)),
    },
    Setting {
        env: "GRAPHMAILER_SCOPE",
        key: "scope",
        kind: SettingType::Text,
        default: "the cloud's `/.default`",
        description: "token scope",
        apply: |b, v| Ok(b.scope(v)),
    },
    Setting {
        env: "GRAPHMAILER_ALLOWED_SENDERS",
        key: "allowed_senders",
        kind: SettingType::List,
        default: "none",
        description: "mailboxes and `@domains` the app may send as, comma-separated (a list in the file)",
        apply: |b, v| Ok(b.allowed_senders(v.split([',', ';', ' ']).filter(|s| !s.is_empty()))),
    },
    Setting {
        env: "GRAPHMAILER_CA_BUNDLE",
        key: "ca_bundle",
        kind: SettingType::Path,
        default: "none",
        description: "PEM file of extra CAs to trust (a TLS-inspecting proxy, the emulator)",
        apply: |b, v| Ok(b.ca_bundle_path(v)),
    },
    Setting {
        env: "GRAPHMAILER_TIMEOUT_SECS",
        key: "timeout_secs",
        kind: SettingType::Seconds,
        default: "30",
        description: "per HTTP request",
        apply: |b, v| Ok(b.timeout(seconds("GRAPHMAILER_TIMEOUT_SECS", v)?)),
    },
    Setting {
        env: "GRAPHMAILER_CONNECT_TIMEOUT_SECS",
        key: "connect_timeout_secs",
        kind: SettingType::Seconds,
        default: "10",
        description: "per connection",
        apply: |b, v| Ok(b.connect_timeout(seconds("GRAPHMAILER_CONNECT_TIMEOUT_SECS", v)?)),
    },
    Setting {
        env: "GRAPHMAILER_MAX_ATTEMPTS",
        key: "max_attempts",
        kind: SettingType::WholeNumber,
        default: "4",
        description: "attempts per request, first included (1 to 10)",
        apply: |b, v| Ok(b.max_attempts(whole("GRAPHMAILER_MAX_ATTEMPTS", v)?)),
    },
    Setting {
        env: "GRAPHMAILER_RETRY_DEADLINE_SECS",
        key: "retry_deadline_secs",
        kind: SettingType::Seconds,
        default: "60",
        description: "no retry starts after this",
        apply: |b, v| Ok(b.retry_deadline(seconds("GRAPHMAILER_RETRY_DEADLINE_SECS", v)?)),
    },
    Setting {
        env: "GRAPHMAILER_MAX_CONCURRENT_PER_MAILBOX",
        key: "max_concurrent_per_mailbox",
        kind: SettingType::WholeNumber,
        default: "4",
        description: "requests in flight per mailbox (Graph's limit is 4)",
        apply: |b, v| {
            let n = whole("GRAPHMAILER_MAX_CONCURRENT_PER_MAILBOX", v)?;
            Ok(b.max_concurrent_per_mailbox(n as usize))
        },
    },
    Setting {
        env: "GRAPHMAILER_LARGE_MESSAGES",
        key: "large_messages",
        kind: SettingType::Flag,
        default: "`false`",
        description: "send messages over 4 MB through a draft and upload sessions (needs `Mail.ReadWrite`)",
        apply: |b, v| Ok(b.large_messages(flag("GRAPHMAILER_LARGE_MESSAGES", v)?)),
    },
    Setting {
        env: "GRAPHMAILER_DEFAULT_SENDER",
        key: "default_sender",
        kind: SettingType::Text,
        default: "none",
        description: "the mailbox a raw MIME message (and `graphmailer sendmail`) is sent as when it names none usable (mail from cron's `root`)",
        apply: |b, v| Ok(b.default_sender(v)),
    },
    Setting {
        env: "GRAPHMAILER_OUTBOX",
        key: "outbox",
        kind: SettingType::Url,
        default: "none",
        description: "the durable queue: `sqlite:/var/spool/graphmailer/outbox.db` on one machine, or `postgres://...` for a fleet",
        apply: |b, v| Ok(b.outbox(v)),
    },
];

/// The setting named by its environment name or its file key.
pub fn setting(name: &str) -> Option<&'static Setting> {
    SETTINGS
        .iter()
        .find(|s| s.env.eq_ignore_ascii_case(name) || s.key == name)
}

impl ConfigBuilder {
    /// Sets one setting from text, as the environment would give it, by its
    /// environment name (`GRAPHMAILER_TIMEOUT_SECS`) or its file key
    /// (`timeout_secs`); see [`SETTINGS`]. An empty value leaves the setting
    /// as it was. A bad value is refused with an error that names the
    /// setting, as an unknown name is.
    pub fn set(self, name: &str, value: &str) -> Result<ConfigBuilder> {
        let setting = setting(name).ok_or_else(|| {
            let known: Vec<&str> = SETTINGS.iter().map(|s| s.key).collect();
            Error::config(
                name,
                format!("is not a setting; known: {}", known.join(", ")),
            )
        })?;
        // A secret is used exactly as given: trimming could change a valid value.
        let value = match setting.kind {
            SettingType::Secret => value,
            _ => value.trim(),
        };
        if value.is_empty() {
            return Ok(self);
        }
        (setting.apply)(self, value)
    }
}

/// The README's table of settings, in Markdown.
pub fn settings_table() -> String {
    let mut table = String::from(
        "| environment | file key | type | default | meaning |\n| --- | --- | --- | --- | --- |\n",
    );
    for s in SETTINGS {
        table.push_str(&format!(
            "| `{}` | `{}` | {} | {} | {} |\n",
            s.env,
            s.key,
            s.kind.name(),
            s.default,
            s.description
        ));
    }
    table
}
