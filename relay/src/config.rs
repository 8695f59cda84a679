//! The relay's configuration file (TOML): listeners, certificate, the app
//! registrations mail goes out through, and who may send as which mailbox.
//! Every mistake is reported with the key that holds it, before anything
//! listens.

use std::collections::BTreeSet;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::time::Duration;

use graphmailer::{Error, Result, SenderPolicy};
use serde::Deserialize;

/// How a listener starts its sessions.
#[derive(Clone, Copy, Debug, Deserialize, PartialEq, Eq)]
#[serde(rename_all = "lowercase")]
pub enum ListenerMode {
    /// Submission (587): plain text until the client says STARTTLS.
    Starttls,
    /// Implicit TLS (465): TLS from the first byte.
    Tls,
    /// Plain SMTP (25), for listed networks only; never offers AUTH unless
    /// `allow_plain_auth` says so.
    Plain,
}

#[derive(Clone, Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ListenerConfig {
    pub address: SocketAddr,
    pub mode: ListenerMode,
    /// Lets AUTH work without TLS on this listener, for networks that are
    /// listed (an old printer on a wire nobody else can tap).
    #[serde(default)]
    pub allow_plain_auth: bool,
}

#[derive(Clone, Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TlsConfig {
    /// PEM chain, leaf first.
    pub certificate: PathBuf,
    /// PEM private key (PKCS#8, PKCS#1 or SEC1).
    pub key: PathBuf,
}

/// One app registration (tenant) that mail leaves through.
#[derive(Clone, Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct MailerConfig {
    pub name: String,
    /// A graphmailer configuration file (the same keys as `graphmailer send
    /// --config`). Needed unless the program starting the relay passes the
    /// mailer itself.
    #[serde(default)]
    pub config: Option<PathBuf>,
    /// Where this mailer's durable queue lives (`sqlite:PATH` or a
    /// `postgres://` URL); the mailer file's own `outbox` key otherwise.
    /// Without either the relay hands each message to Graph during DATA and
    /// answers 250 only after Graph accepted it.
    #[serde(default)]
    pub outbox: Option<String>,
}

#[derive(Clone, Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct UserConfig {
    pub name: String,
    /// An argon2 PHC string (`graphmailer relay hash-password`).
    pub password_hash: String,
    pub mailer: String,
    /// Mailboxes (`scanner@contoso.com`) or domains (`@contoso.com`).
    pub may_send_as: Vec<String>,
}

#[derive(Clone, Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct NetworkConfig {
    pub cidr: ipnet::IpNet,
    pub mailer: String,
    pub may_send_as: Vec<String>,
}

#[derive(Clone, Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct LockoutConfig {
    #[serde(default = "default_lockout_failures")]
    pub max_failures: u32,
    #[serde(default = "default_lockout_window")]
    pub window_seconds: u64,
    #[serde(default = "default_lockout_duration")]
    pub duration_seconds: u64,
}

impl Default for LockoutConfig {
    fn default() -> Self {
        LockoutConfig {
            max_failures: default_lockout_failures(),
            window_seconds: default_lockout_window(),
            duration_seconds: default_lockout_duration(),
        }
    }
}

#[derive(Clone, Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct LimitsConfig {
    /// The SIZE advertised and enforced, in bytes.
    #[serde(default = "default_max_message_bytes")]
    pub max_message_bytes: usize,
    #[serde(default = "default_max_recipients")]
    pub max_recipients: usize,
    /// RFC 5321 4.5.3.1.6: 1000 octets with the CRLF.
    #[serde(default = "default_max_line_bytes")]
    pub max_line_bytes: usize,
    /// RFC 5321 4.5.3.2.7: at least 5 minutes for the next command.
    #[serde(default = "default_command_timeout")]
    pub command_timeout_seconds: u64,
    /// RFC 5321 4.5.3.2.6: 3 minutes for each block of data.
    #[serde(default = "default_data_timeout")]
    pub data_timeout_seconds: u64,
    #[serde(default = "default_max_connections")]
    pub max_connections: usize,
    /// How long SIGTERM waits for open sessions before closing them.
    #[serde(default = "default_shutdown_grace")]
    pub shutdown_grace_seconds: u64,
}

impl Default for LimitsConfig {
    fn default() -> Self {
        LimitsConfig {
            max_message_bytes: default_max_message_bytes(),
            max_recipients: default_max_recipients(),
            max_line_bytes: default_max_line_bytes(),
            command_timeout_seconds: default_command_timeout(),
            data_timeout_seconds: default_data_timeout(),
            max_connections: default_max_connections(),
            shutdown_grace_seconds: default_shutdown_grace(),
        }
    }
}

impl LimitsConfig {
    pub fn command_timeout(&self) -> Duration {
        Duration::from_secs(self.command_timeout_seconds)
    }
    pub fn data_timeout(&self) -> Duration {
        Duration::from_secs(self.data_timeout_seconds)
    }
}

/// Timings of the outboxes' workers in this process (the queue's defaults
/// otherwise: a 5-minute lease, checks in Sent Items for a minute).
#[derive(Clone, Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct OutboxTuning {
    /// How long a worker holds a mail; after a crash, mail in hand waits
    /// this long before it is checked in Sent Items and sent again.
    pub lease_seconds: Option<u64>,
    /// How long to look for an uncertain send's copy in Sent Items.
    pub reconcile_wait_seconds: Option<u64>,
    /// Mails one worker sends at once.
    pub concurrency: Option<usize>,
    /// Whether this process delivers the queued mail (default true). With
    /// false the relay only accepts, and `graphmailer queue run` or another
    /// relay sharing the queue delivers.
    #[serde(default = "yes")]
    pub deliver: bool,
}

fn yes() -> bool {
    true
}

impl Default for OutboxTuning {
    fn default() -> Self {
        OutboxTuning {
            lease_seconds: None,
            reconcile_wait_seconds: None,
            concurrency: None,
            deliver: true,
        }
    }
}

impl OutboxTuning {
    pub fn settings(&self) -> graphmailer::outbox::OutboxSettings {
        let mut s = graphmailer::outbox::OutboxSettings::default();
        if let Some(v) = self.lease_seconds {
            s.lease = Duration::from_secs(v);
        }
        if let Some(v) = self.reconcile_wait_seconds {
            s.reconcile_wait = Duration::from_secs(v);
        }
        if let Some(v) = self.concurrency {
            s.concurrency = v;
        }
        s
    }
}

#[derive(Clone, Copy, Debug, Default, Deserialize, PartialEq, Eq)]
#[serde(rename_all = "lowercase")]
pub enum LogFormat {
    #[default]
    Text,
    Json,
}

#[derive(Clone, Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RelayConfig {
    /// The name in the greeting and the EHLO reply.
    #[serde(default = "default_hostname")]
    pub hostname: String,
    #[serde(default, rename = "listener")]
    pub listeners: Vec<ListenerConfig>,
    #[serde(default)]
    pub tls: Option<TlsConfig>,
    /// The operations listener (`/livez`, `/readyz`, `/metrics`).
    #[serde(default)]
    pub ops_address: Option<SocketAddr>,
    #[serde(default)]
    pub log_format: LogFormat,
    #[serde(default)]
    pub limits: LimitsConfig,
    #[serde(default)]
    pub lockout: LockoutConfig,
    #[serde(default)]
    pub outbox: OutboxTuning,
    #[serde(default, rename = "mailer")]
    pub mailers: Vec<MailerConfig>,
    #[serde(default, rename = "user")]
    pub users: Vec<UserConfig>,
    #[serde(default, rename = "network")]
    pub networks: Vec<NetworkConfig>,
}

fn default_hostname() -> String {
    "localhost".into()
}
fn default_lockout_failures() -> u32 {
    5
}
fn default_lockout_window() -> u64 {
    300
}
fn default_lockout_duration() -> u64 {
    900
}
fn default_max_message_bytes() -> usize {
    graphmailer::limits::MAX_MIME_BYTES
}
fn default_max_recipients() -> usize {
    graphmailer::limits::MAX_RECIPIENTS
}
fn default_max_line_bytes() -> usize {
    1000
}
fn default_command_timeout() -> u64 {
    300
}
fn default_data_timeout() -> u64 {
    180
}
fn default_max_connections() -> usize {
    2000
}
fn default_shutdown_grace() -> u64 {
    30
}

impl RelayConfig {
    /// Reads and checks a configuration file. One with `[[user]]` entries is
    /// refused unless it is private to its owner and group (0600 or 0640).
    pub fn from_file(path: &Path) -> Result<RelayConfig> {
        let text = std::fs::read_to_string(path).map_err(|e| {
            Error::config("config", format!("cannot read '{}': {e}", path.display()))
        })?;
        let mut config = RelayConfig::from_toml(&text)?;
        // Password hashes can be guessed at offline, so a file with users is
        // kept as private as a client secret.
        if !config.users.is_empty() {
            graphmailer::private_file::ensure_private(
                path,
                "config",
                "the relay's password hashes",
            )?;
        }
        config.resolve_paths(path.parent().unwrap_or(Path::new(".")));
        Ok(config)
    }

    /// Parses and checks configuration text (relative paths stay as written).
    pub fn from_toml(text: &str) -> Result<RelayConfig> {
        let config: RelayConfig = toml::from_str(text).map_err(|e| {
            Error::config("config", format!("not valid relay TOML: {}", e.message()))
        })?;
        config.validate()?;
        Ok(config)
    }

    /// Relative file names in the file are relative to the file, so a
    /// service started from any directory reads the same files.
    fn resolve_paths(&mut self, base: &Path) {
        let fix = |p: &mut PathBuf| {
            if p.is_relative() {
                *p = base.join(&*p);
            }
        };
        if let Some(tls) = &mut self.tls {
            fix(&mut tls.certificate);
            fix(&mut tls.key);
        }
        for m in &mut self.mailers {
            if let Some(c) = &mut m.config {
                fix(c);
            }
        }
    }

    pub fn validate(&self) -> Result<()> {
        if self.listeners.is_empty() {
            return Err(Error::config(
                "listener",
                "no [[listener]]: name at least one address and mode (starttls, tls or plain)",
            ));
        }
        let needs_tls = self.listeners.iter().any(|l| l.mode != ListenerMode::Plain);
        if needs_tls && self.tls.is_none() {
            return Err(Error::config(
                "tls",
                "a starttls or tls listener needs [tls] certificate and key files",
            ));
        }
        for (i, l) in self.listeners.iter().enumerate() {
            if l.allow_plain_auth && l.mode == ListenerMode::Tls {
                return Err(Error::config(
                    &format!("listener[{i}].allow_plain_auth"),
                    "is meaningless on an implicit-TLS listener",
                ));
            }
        }
        let mut names = BTreeSet::new();
        for (i, m) in self.mailers.iter().enumerate() {
            if !names.insert(m.name.as_str()) {
                return Err(Error::config(
                    &format!("mailer[{i}].name"),
                    format!("'{}' is used twice", m.name),
                ));
            }
        }
        if self.mailers.is_empty() {
            return Err(Error::config(
                "mailer",
                "no [[mailer]]: name at least one app registration (a graphmailer config file)",
            ));
        }
        let mut users = BTreeSet::new();
        for (i, u) in self.users.iter().enumerate() {
            let field = format!("user[{i}]");
            if u.name.is_empty() || !users.insert(u.name.as_str()) {
                return Err(Error::config(
                    &format!("{field}.name"),
                    "is empty or used twice",
                ));
            }
            crate::password::check_hash_format(&u.password_hash)
                .map_err(|e| Error::config(&format!("{field}.password_hash"), e.message()))?;
            self.check_grant(&field, &u.mailer, &u.may_send_as)?;
        }
        for (i, n) in self.networks.iter().enumerate() {
            self.check_grant(&format!("network[{i}]"), &n.mailer, &n.may_send_as)?;
        }
        let l = &self.limits;
        if l.max_message_bytes == 0
            || l.max_message_bytes > graphmailer::limits::MAX_LARGE_MIME_BYTES
        {
            return Err(Error::config(
                "limits.max_message_bytes",
                format!(
                    "must be between 1 and {} (a 150 MB attachment in base64 and the rest of the message)",
                    graphmailer::limits::MAX_LARGE_MIME_BYTES
                ),
            ));
        }
        if l.max_line_bytes < 1000 {
            return Err(Error::config(
                "limits.max_line_bytes",
                "must be at least 1000 (RFC 5321 4.5.3.1.6)",
            ));
        }
        if self.outbox.lease_seconds == Some(0) || self.outbox.concurrency == Some(0) {
            return Err(Error::config(
                "outbox",
                "lease_seconds and concurrency must be at least 1",
            ));
        }
        if l.command_timeout_seconds == 0 || l.data_timeout_seconds == 0 {
            return Err(Error::config(
                "limits.command_timeout_seconds",
                "timeouts must be at least one second",
            ));
        }
        Ok(())
    }

    fn check_grant(&self, field: &str, mailer: &str, may_send_as: &[String]) -> Result<()> {
        if !self.mailers.iter().any(|m| m.name == mailer) {
            return Err(Error::config(
                &format!("{field}.mailer"),
                format!("names no [[mailer]] called '{mailer}'"),
            ));
        }
        if may_send_as.iter().all(|s| s.trim().is_empty()) {
            return Err(Error::config(
                &format!("{field}.may_send_as"),
                "is empty: list the mailboxes (or @domains) it may send as",
            ));
        }
        SenderPolicy::new(may_send_as)
            .map_err(|e| Error::config(&format!("{field}.may_send_as"), e.message()))?;
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_sample_configuration_is_valid() {
        let config = RelayConfig::from_toml(include_str!("../dist/relay.toml")).unwrap();
        assert_eq!(config.listeners.len(), 3);
        assert_eq!(config.mailers.len(), 2);
        assert_eq!(config.log_format, LogFormat::Json);
    }

    #[cfg(unix)]
    #[test]
    fn a_file_with_password_hashes_must_be_private() {
        use std::os::unix::fs::PermissionsExt;
        let dir = std::env::temp_dir().join(format!("gm-relay-mode-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let path = dir.join("relay.toml");
        let chmod = |mode| std::fs::set_permissions(&path, std::fs::Permissions::from_mode(mode));
        std::fs::write(&path, include_str!("../dist/relay.toml")).unwrap();
        chmod(0o644).unwrap();
        let e = RelayConfig::from_file(&path).unwrap_err();
        assert!(e.message().contains("0644"), "{e}");
        assert!(e.message().contains("password hashes"), "{e}");
        assert!(e.hint().unwrap().contains("chown root:mailsend"), "{e}");
        for mode in [0o640, 0o600] {
            chmod(mode).unwrap();
            RelayConfig::from_file(&path).unwrap();
        }
        // Without users (networks only) the file holds nothing to guess at.
        let text = include_str!("../dist/relay.toml");
        let users = text.find("[[user]]").unwrap()..text.find("[[network]]").unwrap();
        let without_users = [&text[..users.start], &text[users.end..]].concat();
        std::fs::write(&path, without_users).unwrap();
        chmod(0o644).unwrap();
        RelayConfig::from_file(&path).unwrap();
        std::fs::remove_dir_all(&dir).unwrap();
    }

    #[test]
    fn mistakes_name_their_key() {
        let base = include_str!("../dist/relay.toml");
        let bad = base.replacen("mailer = \"contoso\"", "mailer = \"nobody\"", 1);
        let e = RelayConfig::from_toml(&bad).unwrap_err();
        assert_eq!(e.field(), Some("user[0].mailer"), "{e}");
        let bad = base.replacen("password_hash = \"$argon2id", "password_hash = \"$md5", 1);
        let e = RelayConfig::from_toml(&bad).unwrap_err();
        assert_eq!(e.field(), Some("user[0].password_hash"), "{e}");
        let bad = base.replacen(
            "may_send_as = [\"scanner@contoso.com\"]",
            "may_send_as = []",
            1,
        );
        let e = RelayConfig::from_toml(&bad).unwrap_err();
        assert_eq!(e.field(), Some("user[0].may_send_as"), "{e}");
        let e = RelayConfig::from_toml("hostname = \"x\"").unwrap_err();
        assert_eq!(e.field(), Some("listener"), "{e}");
    }
}
