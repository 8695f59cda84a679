//! Configuration: a builder, the environment (the names Azure's SDKs read,
//! plus `GRAPHMAILER_*`), or a TOML file.

use std::collections::BTreeMap;
use std::net::IpAddr;
use std::path::{Path, PathBuf};
use std::time::Duration;

use url::Url;

use crate::address::{is_guid, printable};
use crate::certificate::ClientCertificate;
use crate::cloud::Cloud;
use crate::credential::Credential;
use crate::error::{Error, Result};
use crate::limits::MAX_CONCURRENT_PER_MAILBOX;
use crate::policy::SenderPolicy;
use crate::retry::RetryPolicy;
use crate::secret::Secret;

/// Every setting read from the environment or a config file: the
/// environment variable and the config file key.
pub const SETTINGS: &[(&str, &str)] = &[
    ("AZURE_TENANT_ID", "tenant_id"),
    ("AZURE_CLIENT_ID", "client_id"),
    ("AZURE_CLIENT_SECRET", "client_secret"),
    ("AZURE_CLIENT_CERTIFICATE_PATH", "client_certificate_path"),
    (
        "AZURE_CLIENT_CERTIFICATE_PASSWORD",
        "client_certificate_password",
    ),
    ("AZURE_AUTHORITY_HOST", "authority_host"),
    ("GRAPHMAILER_CLOUD", "cloud"),
    ("GRAPHMAILER_GRAPH_ENDPOINT", "graph_endpoint"),
    ("GRAPHMAILER_SCOPE", "scope"),
    ("GRAPHMAILER_ALLOWED_SENDERS", "allowed_senders"),
    ("GRAPHMAILER_CA_BUNDLE", "ca_bundle"),
    ("GRAPHMAILER_TIMEOUT_SECS", "timeout_secs"),
    ("GRAPHMAILER_CONNECT_TIMEOUT_SECS", "connect_timeout_secs"),
    ("GRAPHMAILER_MAX_ATTEMPTS", "max_attempts"),
    ("GRAPHMAILER_RETRY_DEADLINE_SECS", "retry_deadline_secs"),
    (
        "GRAPHMAILER_MAX_CONCURRENT_PER_MAILBOX",
        "max_concurrent_per_mailbox",
    ),
    ("GRAPHMAILER_LARGE_MESSAGES", "large_messages"),
    ("GRAPHMAILER_DEFAULT_SENDER", "default_sender"),
    ("GRAPHMAILER_OUTBOX", "outbox"),
];

/// A checked configuration. Build it with [`Config::builder`],
/// [`Config::from_env`] or [`Config::from_file`].
#[derive(Clone, Debug)]
pub struct Config {
    pub(crate) tenant_id: String,
    pub(crate) client_id: String,
    pub(crate) credential: Credential,
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
    pub(crate) outbox: Option<String>,
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

    /// Reads the environment: `AZURE_TENANT_ID`, `AZURE_CLIENT_ID`,
    /// `AZURE_CLIENT_SECRET`, `AZURE_AUTHORITY_HOST` and the `GRAPHMAILER_*`
    /// settings listed in [`SETTINGS`].
    pub fn from_env() -> Result<Config> {
        Config::from_lookup(|name| std::env::var(name).ok())
    }

    /// Reads a TOML file whose keys are the second column of [`SETTINGS`]
    /// (`tenant_id = "..."`); a setting the file leaves out is taken from the
    /// environment, so the secret can stay out of the file.
    pub fn from_file(path: impl AsRef<Path>) -> Result<Config> {
        let path = path.as_ref();
        let text = std::fs::read_to_string(path).map_err(|e| {
            Error::config(
                "config file",
                format!("cannot read '{}': {e}", path.display()),
            )
        })?;
        let values = parse_file(&text, path)?;
        Config::from_lookup(|name| {
            let key = SETTINGS
                .iter()
                .find(|(env, _)| *env == name)
                .map(|(_, key)| *key)?;
            values
                .get(key)
                .cloned()
                .or_else(|| std::env::var(name).ok())
        })
    }

    /// Reads settings by environment-variable name from any source.
    pub fn from_lookup(lookup: impl Fn(&str) -> Option<String>) -> Result<Config> {
        let get = |name: &str| {
            lookup(name)
                .map(|v| v.trim().to_owned())
                .filter(|v| !v.is_empty())
        };
        let mut b = Config::builder();
        if let Some(v) = get("AZURE_TENANT_ID") {
            b = b.tenant_id(v);
        }
        if let Some(v) = get("AZURE_CLIENT_ID") {
            b = b.client_id(v);
        }
        // The secret is used exactly as given: trimming could change a valid value.
        if let Some(v) = lookup("AZURE_CLIENT_SECRET").filter(|v| !v.is_empty()) {
            b = b.client_secret(v);
        }
        // As in Azure's SDKs, a secret wins over a certificate when both are set.
        if let (None, Some(path)) = (&b.credential, get("AZURE_CLIENT_CERTIFICATE_PATH")) {
            let password = lookup("AZURE_CLIENT_CERTIFICATE_PASSWORD").filter(|p| !p.is_empty());
            let certificate = ClientCertificate::from_path(path, password.as_deref())?;
            b = b.credential(Credential::certificate(certificate));
        }
        if let Some(v) = get("GRAPHMAILER_CLOUD") {
            let cloud = v
                .parse()
                .map_err(|e: String| Error::config("GRAPHMAILER_CLOUD", e))?;
            b = b.cloud(cloud);
        }
        if let Some(v) = get("AZURE_AUTHORITY_HOST") {
            b = b.authority_host(v);
        }
        if let Some(v) = get("GRAPHMAILER_GRAPH_ENDPOINT") {
            b = b.graph_endpoint(v);
        }
        if let Some(v) = get("GRAPHMAILER_SCOPE") {
            b = b.scope(v);
        }
        if let Some(v) = get("GRAPHMAILER_ALLOWED_SENDERS") {
            b = b.allowed_senders(v.split([',', ';', ' ']).filter(|s| !s.is_empty()));
        }
        if let Some(v) = get("GRAPHMAILER_CA_BUNDLE") {
            b = b.ca_bundle_path(v);
        }
        if let Some(v) = get("GRAPHMAILER_TIMEOUT_SECS") {
            b = b.timeout(seconds("GRAPHMAILER_TIMEOUT_SECS", &v)?);
        }
        if let Some(v) = get("GRAPHMAILER_CONNECT_TIMEOUT_SECS") {
            b = b.connect_timeout(seconds("GRAPHMAILER_CONNECT_TIMEOUT_SECS", &v)?);
        }
        if let Some(v) = get("GRAPHMAILER_MAX_ATTEMPTS") {
            b = b.max_attempts(whole("GRAPHMAILER_MAX_ATTEMPTS", &v)?);
        }
        if let Some(v) = get("GRAPHMAILER_RETRY_DEADLINE_SECS") {
            b = b.retry_deadline(seconds("GRAPHMAILER_RETRY_DEADLINE_SECS", &v)?);
        }
        if let Some(v) = get("GRAPHMAILER_MAX_CONCURRENT_PER_MAILBOX") {
            b = b.max_concurrent_per_mailbox(
                whole("GRAPHMAILER_MAX_CONCURRENT_PER_MAILBOX", &v)? as usize
            );
        }
        if let Some(v) = get("GRAPHMAILER_LARGE_MESSAGES") {
            b = b.large_messages(flag("GRAPHMAILER_LARGE_MESSAGES", &v)?);
        }
        if let Some(v) = get("GRAPHMAILER_DEFAULT_SENDER") {
            b = b.default_sender(v);
        }
        if let Some(v) = get("GRAPHMAILER_OUTBOX") {
            b = b.outbox(v);
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
    /// The durable queue's URL (`sqlite:PATH` or `postgres://...`), when
    /// mail is to be queued rather than sent at once.
    pub fn outbox(&self) -> Option<&str> {
        self.outbox.as_deref()
    }
    /// The retry rules.
    pub fn retry(&self) -> &RetryPolicy {
        &self.retry
    }
}

/// Builds a [`Config`]; every setting has a documented default but the
/// tenant, the client ID and the credential.
#[derive(Clone, Debug, Default)]
pub struct ConfigBuilder {
    tenant_id: Option<String>,
    client_id: Option<String>,
    credential: Option<Credential>,
    cloud: Option<Cloud>,
    authority_host: Option<String>,
    graph_endpoint: Option<String>,
    scope: Option<String>,
    allowed_senders: Vec<String>,
    ca_bundle_path: Option<PathBuf>,
    ca_bundle_pem: Option<Vec<u8>>,
    timeout: Option<Duration>,
    connect_timeout: Option<Duration>,
    max_attempts: Option<u32>,
    retry_deadline: Option<Duration>,
    max_concurrent_per_mailbox: Option<usize>,
    large_messages: bool,
    default_sender: Option<String>,
    outbox: Option<String>,
}

impl ConfigBuilder {
    /// The directory (tenant) ID GUID, or a verified domain of the tenant.
    pub fn tenant_id(mut self, v: impl Into<String>) -> Self {
        self.tenant_id = Some(v.into());
        self
    }
    /// The application (client) ID GUID of the app registration.
    pub fn client_id(mut self, v: impl Into<String>) -> Self {
        self.client_id = Some(v.into());
        self
    }
    /// A client secret's value.
    pub fn client_secret(mut self, v: impl Into<Secret>) -> Self {
        self.credential = Some(Credential::client_secret(v));
        self
    }
    /// A certificate credential.
    pub fn client_certificate(mut self, v: ClientCertificate) -> Self {
        self.credential = Some(Credential::certificate(v));
        self
    }
    /// Any credential.
    pub fn credential(mut self, v: Credential) -> Self {
        self.credential = Some(v);
        self
    }
    /// The cloud (default: global); sets the login host, Graph host and scope.
    pub fn cloud(mut self, v: Cloud) -> Self {
        self.cloud = Some(v);
        self
    }
    /// Overrides the cloud's identity-platform origin.
    pub fn authority_host(mut self, v: impl Into<String>) -> Self {
        self.authority_host = Some(v.into());
        self
    }
    /// Overrides the cloud's Graph origin.
    pub fn graph_endpoint(mut self, v: impl Into<String>) -> Self {
        self.graph_endpoint = Some(v.into());
        self
    }
    /// Overrides the cloud's scope (must end in `/.default`).
    pub fn scope(mut self, v: impl Into<String>) -> Self {
        self.scope = Some(v.into());
        self
    }
    /// Mailboxes (`erp@contoso.com`) and domains (`@contoso.com`) the mailer may
    /// send as; empty (the default) means no local restriction.
    pub fn allowed_senders<I, S>(mut self, v: I) -> Self
    where
        I: IntoIterator<Item = S>,
        S: Into<String>,
    {
        self.allowed_senders = v.into_iter().map(Into::into).collect();
        self
    }
    /// A PEM file of extra certificate authorities to trust.
    pub fn ca_bundle_path(mut self, v: impl Into<PathBuf>) -> Self {
        self.ca_bundle_path = Some(v.into());
        self
    }
    /// PEM text of extra certificate authorities to trust.
    pub fn ca_bundle_pem(mut self, v: impl Into<Vec<u8>>) -> Self {
        self.ca_bundle_pem = Some(v.into());
        self
    }
    /// Time allowed for one HTTP request (default 30 s).
    pub fn timeout(mut self, v: Duration) -> Self {
        self.timeout = Some(v);
        self
    }
    /// Time allowed to open a connection (default 10 s).
    pub fn connect_timeout(mut self, v: Duration) -> Self {
        self.connect_timeout = Some(v);
        self
    }
    /// Attempts per request, the first included (default 4).
    pub fn max_attempts(mut self, v: u32) -> Self {
        self.max_attempts = Some(v);
        self
    }
    /// Time after which no retry starts (default 60 s).
    pub fn retry_deadline(mut self, v: Duration) -> Self {
        self.retry_deadline = Some(v);
        self
    }
    /// Requests in flight per mailbox (default and maximum 4, Graph's limit).
    pub fn max_concurrent_per_mailbox(mut self, v: usize) -> Self {
        self.max_concurrent_per_mailbox = Some(v);
        self
    }

    /// Lets a message over Graph's 4 MB request limit go through a draft and
    /// upload sessions, up to 150 MB a file. Off by default: that path needs
    /// the Mail.ReadWrite application permission, which should be granted
    /// (and scoped) on purpose.
    pub fn large_messages(mut self, v: bool) -> Self {
        self.large_messages = v;
        self
    }

    /// The mailbox to send as when a message names none that can be used.
    pub fn default_sender(mut self, v: impl Into<String>) -> Self {
        self.default_sender = Some(v.into());
        self
    }

    /// The durable queue's URL: `sqlite:PATH` or `postgres://...`.
    pub fn outbox(mut self, v: impl Into<String>) -> Self {
        self.outbox = Some(v.into());
        self
    }

    /// Checks every setting and returns the configuration, or an error that
    /// names the first bad setting and says what to do.
    pub fn build(self) -> Result<Config> {
        let tenant_id = required(
            self.tenant_id,
            "AZURE_TENANT_ID",
            "the Directory (tenant) ID from the app registration's Overview page",
        )?;
        check_tenant(&tenant_id)?;
        let client_id = required(
            self.client_id,
            "AZURE_CLIENT_ID",
            "the Application (client) ID from the app registration's Overview page",
        )?;
        if !is_guid(&client_id) {
            return Err(Error::config(
                "AZURE_CLIENT_ID",
                format!(
                    "'{}' is not a GUID: use the Application (client) ID from the app registration's Overview page",
                    printable(&client_id)
                ),
            ));
        }
        let credential = self.credential.ok_or_else(|| {
            Error::config(
                "AZURE_CLIENT_SECRET",
                "no credential: set the client secret's value (AZURE_CLIENT_SECRET) or a certificate (AZURE_CLIENT_CERTIFICATE_PATH)",
            )
        })?;
        if let Credential::ClientSecret(secret) = &credential {
            if secret.is_empty() {
                return Err(Error::config("AZURE_CLIENT_SECRET", "is empty"));
            }
        }
        let cloud = self.cloud.unwrap_or_default();
        let authority_host = endpoint(
            "AZURE_AUTHORITY_HOST",
            self.authority_host
                .as_deref()
                .unwrap_or(cloud.authority_host()),
        )?;
        let graph_endpoint = endpoint(
            "GRAPHMAILER_GRAPH_ENDPOINT",
            self.graph_endpoint
                .as_deref()
                .unwrap_or(cloud.graph_endpoint()),
        )?;
        let scope = self.scope.unwrap_or_else(|| cloud.scope());
        if !scope.ends_with("/.default") || scope.contains(' ') {
            return Err(Error::config(
                "GRAPHMAILER_SCOPE",
                format!(
                    "'{}' must be one resource in /.default form, such as https://graph.microsoft.com/.default",
                    printable(&scope)
                ),
            ));
        }
        let allowed_senders = SenderPolicy::new(&self.allowed_senders)?;
        let ca_bundle = match (self.ca_bundle_pem, self.ca_bundle_path) {
            (Some(pem), _) => Some(CaBundle {
                source: "PEM given in code".into(),
                pem,
            }),
            (None, Some(path)) => Some(CaBundle {
                source: path.display().to_string(),
                pem: std::fs::read(&path).map_err(|e| {
                    Error::config(
                        "GRAPHMAILER_CA_BUNDLE",
                        format!("cannot read '{}': {e}", path.display()),
                    )
                })?,
            }),
            (None, None) => None,
        };
        let timeout = positive(
            "GRAPHMAILER_TIMEOUT_SECS",
            self.timeout.unwrap_or(Duration::from_secs(30)),
        )?;
        let connect_timeout = positive(
            "GRAPHMAILER_CONNECT_TIMEOUT_SECS",
            self.connect_timeout.unwrap_or(Duration::from_secs(10)),
        )?;
        let mut retry = RetryPolicy::default();
        if let Some(n) = self.max_attempts {
            if !(1..=10).contains(&n) {
                return Err(Error::config(
                    "GRAPHMAILER_MAX_ATTEMPTS",
                    format!("{n} is outside 1 to 10"),
                ));
            }
            retry.max_attempts = n;
        }
        if let Some(d) = self.retry_deadline {
            retry.deadline = d;
        }
        let max_concurrent_per_mailbox = self
            .max_concurrent_per_mailbox
            .unwrap_or(MAX_CONCURRENT_PER_MAILBOX);
        if !(1..=MAX_CONCURRENT_PER_MAILBOX).contains(&max_concurrent_per_mailbox) {
            return Err(Error::config(
                "GRAPHMAILER_MAX_CONCURRENT_PER_MAILBOX",
                format!(
                    "{max_concurrent_per_mailbox} is outside 1 to {MAX_CONCURRENT_PER_MAILBOX}, Graph's limit per app and mailbox"
                ),
            ));
        }
        let default_sender = self.default_sender.map(|s| s.trim().to_owned());
        if let Some(sender) = &default_sender {
            crate::message::check_sender(sender)
                .map_err(|e| Error::config("GRAPHMAILER_DEFAULT_SENDER", e.message().to_owned()))?;
        }
        Ok(Config {
            tenant_id,
            client_id,
            credential,
            cloud,
            authority_host,
            graph_endpoint,
            scope,
            allowed_senders,
            ca_bundle,
            timeout,
            connect_timeout,
            retry,
            max_concurrent_per_mailbox,
            large_messages: self.large_messages,
            default_sender,
            outbox: self
                .outbox
                .map(|s| s.trim().to_owned())
                .filter(|s| !s.is_empty()),
        })
    }
}

fn required(v: Option<String>, name: &str, what: &str) -> Result<String> {
    match v.map(|s| s.trim().to_owned()) {
        Some(s) if !s.is_empty() => Ok(s),
        _ => Err(Error::config(name, format!("is not set: give {what}"))),
    }
}

fn check_tenant(tenant: &str) -> Result<()> {
    let lower = tenant.to_ascii_lowercase();
    if matches!(lower.as_str(), "common" | "organizations" | "consumers") {
        return Err(Error::config(
            "AZURE_TENANT_ID",
            format!(
                "'{tenant}' cannot be used for app-only tokens: give the tenant's GUID or domain"
            ),
        ));
    }
    let domain_like = tenant.contains('.')
        && tenant
            .split('.')
            .all(|l| !l.is_empty() && l.chars().all(|c| c.is_ascii_alphanumeric() || c == '-'));
    if is_guid(tenant) || domain_like {
        Ok(())
    } else {
        Err(Error::config(
            "AZURE_TENANT_ID",
            format!(
                "'{}' is neither a tenant GUID nor a domain such as contoso.onmicrosoft.com",
                printable(tenant)
            ),
        ))
    }
}

/// An HTTPS origin, or plain HTTP to a loopback address (the emulator): never
/// a secret or a token in clear text over a network.
fn endpoint(name: &str, value: &str) -> Result<Url> {
    let url = Url::parse(value.trim())
        .map_err(|e| Error::config(name, format!("'{}' is not a URL: {e}", printable(value))))?;
    let host = url
        .host_str()
        .unwrap_or("")
        .trim_start_matches('[')
        .trim_end_matches(']')
        .to_owned();
    if host.is_empty() {
        return Err(Error::config(
            name,
            format!("'{}' has no host", printable(value)),
        ));
    }
    match url.scheme() {
        "https" => {}
        "http" => {
            let loopback = host.eq_ignore_ascii_case("localhost")
                || host.parse::<IpAddr>().is_ok_and(|ip| ip.is_loopback());
            if !loopback {
                return Err(Error::config(
                    name,
                    format!(
                        "'{}' uses plain http: only https is allowed, except to a loopback address such as the local emulator",
                        printable(value)
                    ),
                ));
            }
        }
        other => {
            return Err(Error::config(
                name,
                format!("scheme '{other}' is not https"),
            ));
        }
    }
    if url.query().is_some() || url.fragment().is_some() || !url.username().is_empty() {
        return Err(Error::config(
            name,
            "must be an origin such as https://graph.microsoft.com, without query or credentials",
        ));
    }
    // People paste Graph's versioned base URL; the version is ours to add.
    let path = url.path().trim_end_matches('/');
    let path = path.strip_suffix("/v1.0").unwrap_or(path);
    let mut origin = url.clone();
    origin.set_path(if path.is_empty() { "/" } else { path });
    Ok(origin)
}

fn seconds(name: &str, v: &str) -> Result<Duration> {
    v.parse::<f64>()
        .ok()
        .filter(|s| s.is_finite() && *s >= 0.0 && *s < 86_400.0)
        .map(Duration::from_secs_f64)
        .ok_or_else(|| {
            Error::config(
                name,
                format!("'{}' is not a number of seconds", printable(v)),
            )
        })
}

fn flag(name: &str, v: &str) -> Result<bool> {
    match v.to_ascii_lowercase().as_str() {
        "1" | "true" | "yes" | "on" => Ok(true),
        "0" | "false" | "no" | "off" => Ok(false),
        _ => Err(Error::config(
            name,
            format!("'{}' is not true or false", printable(v)),
        )),
    }
}

fn whole(name: &str, v: &str) -> Result<u32> {
    v.parse::<u32>()
        .map_err(|_| Error::config(name, format!("'{}' is not a whole number", printable(v))))
}

fn positive(name: &str, d: Duration) -> Result<Duration> {
    if d.is_zero() {
        return Err(Error::config(name, "must be more than zero"));
    }
    Ok(d)
}

fn parse_file(text: &str, path: &Path) -> Result<BTreeMap<String, String>> {
    let table: toml::Table = text.parse().map_err(|e: toml::de::Error| {
        Error::config(
            "config file",
            format!("'{}' is not valid TOML: {}", path.display(), e.message()),
        )
    })?;
    let mut values = BTreeMap::new();
    for (key, value) in table {
        if !SETTINGS.iter().any(|(_, k)| *k == key) {
            let known: Vec<&str> = SETTINGS.iter().map(|(_, k)| *k).collect();
            return Err(Error::config(
                "config file",
                format!(
                    "unknown key '{key}' in '{}'; known keys: {}",
                    path.display(),
                    known.join(", ")
                ),
            ));
        }
        let text = match value {
            toml::Value::String(s) => s,
            toml::Value::Integer(i) => i.to_string(),
            toml::Value::Float(f) => f.to_string(),
            toml::Value::Boolean(b) => b.to_string(),
            toml::Value::Array(items) => items
                .iter()
                .map(|i| i.as_str().map(str::to_owned))
                .collect::<Option<Vec<_>>>()
                .ok_or_else(|| Error::config(&key, "must be a list of strings"))?
                .join(","),
            _ => {
                return Err(Error::config(
                    &key,
                    "must be a string, a number, true or false, or a list of strings",
                ));
            }
        };
        values.insert(key, text);
    }
    Ok(values)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::error::ErrorKind;

    const TENANT: &str = "7f3c2a9e-4b1d-4e8a-9c6f-2d5e8b1a0c37";
    const CLIENT: &str = "3b9e6f2a-8c4d-4a1e-b7f5-0d2c9e8a6b14";

    fn env(pairs: &[(&str, &str)]) -> Result<Config> {
        let map: BTreeMap<String, String> = pairs
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect();
        Config::from_lookup(|k| map.get(k).cloned())
    }

    fn base() -> Vec<(&'static str, &'static str)> {
        vec![
            ("AZURE_TENANT_ID", TENANT),
            ("AZURE_CLIENT_ID", CLIENT),
            ("AZURE_CLIENT_SECRET", "s3cret"),
        ]
    }

    #[test]
    fn defaults_are_the_global_cloud() {
        let c = env(&base()).unwrap();
        assert_eq!(
            c.token_url(),
            format!("https://login.microsoftonline.com/{TENANT}/oauth2/v2.0/token")
        );
        assert_eq!(c.graph_endpoint(), "https://graph.microsoft.com");
        assert_eq!(c.scope(), "https://graph.microsoft.com/.default");
        assert_eq!(c.max_concurrent_per_mailbox, 4);
    }

    #[test]
    fn the_outbox_url_is_read_from_the_environment() {
        assert_eq!(env(&base()).unwrap().outbox(), None);
        let mut e = base();
        e.push((
            "GRAPHMAILER_OUTBOX",
            " sqlite:/var/spool/graphmailer/outbox.db ",
        ));
        assert_eq!(
            env(&e).unwrap().outbox(),
            Some("sqlite:/var/spool/graphmailer/outbox.db")
        );
    }

    #[test]
    fn each_cloud_sets_its_hosts_and_overrides_win() {
        let mut e = base();
        e.push(("GRAPHMAILER_CLOUD", "usgovdod"));
        let c = env(&e).unwrap();
        assert_eq!(c.authority_host(), "https://login.microsoftonline.us");
        assert_eq!(c.graph_endpoint(), "https://dod-graph.microsoft.us");
        assert_eq!(c.scope(), "https://dod-graph.microsoft.us/.default");
        e.push(("GRAPHMAILER_GRAPH_ENDPOINT", "http://127.0.0.1:8080/v1.0/"));
        e.push(("AZURE_AUTHORITY_HOST", "http://[::1]:8080/"));
        let c = env(&e).unwrap();
        assert_eq!(c.graph_endpoint(), "http://127.0.0.1:8080");
        assert_eq!(c.authority_host(), "http://[::1]:8080");
    }

    #[test]
    fn plain_http_is_refused_off_loopback() {
        let mut e = base();
        e.push(("GRAPHMAILER_GRAPH_ENDPOINT", "http://graph.example.com"));
        let err = env(&e).unwrap_err();
        assert_eq!(err.field(), Some("GRAPHMAILER_GRAPH_ENDPOINT"));
        assert!(err.message().contains("only https"));
    }

    #[test]
    fn missing_and_malformed_settings_name_the_variable() {
        let cases: &[(&[(&str, &str)], &str)] = &[
            (
                &[("AZURE_CLIENT_ID", CLIENT), ("AZURE_CLIENT_SECRET", "x")],
                "AZURE_TENANT_ID",
            ),
            (
                &[("AZURE_TENANT_ID", TENANT), ("AZURE_CLIENT_SECRET", "x")],
                "AZURE_CLIENT_ID",
            ),
            (
                &[("AZURE_TENANT_ID", TENANT), ("AZURE_CLIENT_ID", CLIENT)],
                "AZURE_CLIENT_SECRET",
            ),
            (
                &[
                    ("AZURE_TENANT_ID", "common"),
                    ("AZURE_CLIENT_ID", CLIENT),
                    ("AZURE_CLIENT_SECRET", "x"),
                ],
                "AZURE_TENANT_ID",
            ),
            (
                &[
                    ("AZURE_TENANT_ID", "not a tenant"),
                    ("AZURE_CLIENT_ID", CLIENT),
                    ("AZURE_CLIENT_SECRET", "x"),
                ],
                "AZURE_TENANT_ID",
            ),
            (
                &[
                    ("AZURE_TENANT_ID", TENANT),
                    ("AZURE_CLIENT_ID", "my-app"),
                    ("AZURE_CLIENT_SECRET", "x"),
                ],
                "AZURE_CLIENT_ID",
            ),
        ];
        for (pairs, field) in cases {
            let e = env(pairs).unwrap_err();
            assert_eq!(e.kind(), ErrorKind::Config);
            assert_eq!(e.field(), Some(*field), "{e}");
        }
        for (name, value) in [
            ("GRAPHMAILER_CLOUD", "mars"),
            ("GRAPHMAILER_TIMEOUT_SECS", "soon"),
            ("GRAPHMAILER_MAX_ATTEMPTS", "0"),
            ("GRAPHMAILER_MAX_CONCURRENT_PER_MAILBOX", "8"),
            ("GRAPHMAILER_SCOPE", "Mail.Send"),
            ("GRAPHMAILER_CA_BUNDLE", "/nonexistent/ca.pem"),
            ("GRAPHMAILER_ALLOWED_SENDERS", "erp@contoso.test,nope"),
        ] {
            let mut e = base();
            e.push((name, value));
            let err = env(&e).unwrap_err();
            assert!(
                err.field().unwrap().starts_with(name) || name == "GRAPHMAILER_ALLOWED_SENDERS",
                "{name}: {err}"
            );
        }
    }

    #[test]
    fn secret_never_shows_in_debug() {
        let c = env(&base()).unwrap();
        assert!(!format!("{c:?}").contains("s3cret"));
    }

    #[test]
    fn file_values_win_and_the_environment_fills_the_rest() {
        let dir = std::env::temp_dir().join(format!("gm-config-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let path = dir.join("graphmailer.toml");
        std::fs::write(
            &path,
            format!("tenant_id = \"{TENANT}\"\nclient_id = \"{CLIENT}\"\nclient_secret = \"x\"\nallowed_senders = [\"erp@contoso.test\", \"@billing.test\"]\ntimeout_secs = 5\n"),
        )
        .unwrap();
        let c = Config::from_file(&path).unwrap();
        assert!(c.allowed_senders().allows("a@billing.test"));
        assert_eq!(c.timeout, Duration::from_secs(5));
        std::fs::write(&path, "tenant = \"x\"\n").unwrap();
        let e = Config::from_file(&path).unwrap_err();
        assert!(e.message().contains("unknown key 'tenant'"));
    }
}
