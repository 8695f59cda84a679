//! The builder: settings given in code (or through [`ConfigBuilder::set`])
//! and the checks that turn them into a [`Config`].

use std::path::PathBuf;
use std::time::Duration;

use crate::address::{is_guid, printable};
use crate::certificate::ClientCertificate;
use crate::cloud::Cloud;
use crate::credential::{AssertionCallback, Credential, CredentialMode, FEDERATED_TOKEN_FILE};
use crate::error::{Error, Result};
use crate::identity_endpoint::{Endpoint, ManagedIdentity};
use crate::message_limits::MAX_CONCURRENT_PER_MAILBOX;
use crate::policy::SenderPolicy;
use crate::retry::RetryPolicy;
use crate::secret::Secret;

use super::checks::{check_outbox, check_tenant, endpoint, identity_url, positive, required};
use super::settings::{CERTIFICATE_PATH, CLIENT_SECRET, CREDENTIAL, IDENTITY_ENDPOINT};
use super::{CaBundle, Config};

/// How an assertion callback given in code is named in messages.
const ASSERTION_CALLBACK: &str = "an assertion callback";

/// The host's managed identity endpoint as the settings describe it: App
/// Service's when both `IDENTITY_ENDPOINT` and `IDENTITY_HEADER` are set,
/// else the metadata service when its host is set; `None` when nothing says
/// this is Azure.
fn identity_offer(
    imds_host: Option<&str>,
    endpoint: Option<&str>,
    header: Option<Secret>,
) -> Result<Option<ManagedIdentity>> {
    let endpoint = match (endpoint, header) {
        (Some(url), Some(header)) => Endpoint::AppService {
            url: identity_url(IDENTITY_ENDPOINT, url)?,
            header,
        },
        (Some(_), None) => {
            return Err(Error::config(
                "IDENTITY_HEADER",
                "is not set, but IDENTITY_ENDPOINT is: App Service and Functions set both; set both or neither",
            ));
        }
        (None, _) => match imds_host {
            Some(host) => Endpoint::Imds(identity_url("AZURE_POD_IDENTITY_AUTHORITY_HOST", host)?),
            None => return Ok(None),
        },
    };
    Ok(Some(ManagedIdentity {
        endpoint,
        client_id: None,
    }))
}

/// Why this credential, in words for `doctor`.
fn reason(mode: CredentialMode, given: Option<&str>, passed_over: &[&str]) -> String {
    let mut why = match (mode, given) {
        (CredentialMode::Auto, Some(setting)) => format!(
            "{setting} is set (GRAPHMAILER_CREDENTIAL=auto takes a secret, else a certificate, else a federated token file, as Azure Identity's EnvironmentCredential)"
        ),
        (CredentialMode::Auto, None) => "GRAPHMAILER_CREDENTIAL=auto".to_owned(),
        (mode, Some(setting)) => format!(
            "GRAPHMAILER_CREDENTIAL={} and {setting} is set",
            mode.name()
        ),
        (mode, None) => format!("GRAPHMAILER_CREDENTIAL={}", mode.name()),
    };
    if !passed_over.is_empty() {
        why.push_str(&format!("; not used: {}", passed_over.join(", ")));
    }
    why
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
    outbox: Option<super::OutboxUrl>,
    certificate_path: Option<PathBuf>,
    certificate_password: Option<Secret>,
    /// The settings that gave a credential, to refuse a second one.
    credentials_given: Vec<&'static str>,
    credential_mode: Option<CredentialMode>,
    imds_host: Option<String>,
    identity_endpoint: Option<String>,
    identity_header: Option<Secret>,
    /// Credential settings the environment held but the order passed over,
    /// for `doctor` to say why.
    pub(super) passed_over: Vec<&'static str>,
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
    /// A client secret's value. One credential at a time: with a
    /// certificate too, [`ConfigBuilder::build`] refuses both.
    pub fn client_secret(self, v: impl Into<Secret>) -> Self {
        self.with_credential(CLIENT_SECRET, Credential::client_secret(v))
    }
    /// A certificate credential.
    pub fn client_certificate(self, v: ClientCertificate) -> Self {
        self.with_credential(CERTIFICATE_PATH, Credential::certificate(v))
    }
    /// A certificate credential read from a file at build time: PEM
    /// (certificate and key) or PKCS#12.
    pub fn client_certificate_path(mut self, v: impl Into<PathBuf>) -> Self {
        self.certificate_path = Some(v.into());
        self.given(CERTIFICATE_PATH);
        self
    }
    /// The password of the certificate file's key (or of the `.pfx`).
    pub fn client_certificate_password(mut self, v: impl Into<Secret>) -> Self {
        self.certificate_password = Some(v.into());
        self
    }
    /// Any credential.
    pub fn credential(self, v: Credential) -> Self {
        let setting = match &v {
            Credential::ClientSecret(_) => CLIENT_SECRET,
            Credential::FederatedTokenFile(_) => FEDERATED_TOKEN_FILE,
            Credential::Assertion(_) => ASSERTION_CALLBACK,
            Credential::ManagedIdentity(_) => "managed identity",
            _ => CERTIFICATE_PATH,
        };
        self.with_credential(setting, v)
    }
    /// A file the platform keeps a federated token (a JWT) in, read for
    /// every token request (`AZURE_FEDERATED_TOKEN_FILE`).
    pub fn federated_token_file(self, v: impl Into<PathBuf>) -> Self {
        self.with_credential(FEDERATED_TOKEN_FILE, Credential::federated_token_file(v))
    }
    /// A callback that gives the client assertion for each token request
    /// (GitHub Actions' OIDC token, another cloud's identity, SPIFFE).
    pub fn assertion_callback(self, v: AssertionCallback) -> Self {
        self.with_credential(ASSERTION_CALLBACK, Credential::Assertion(v))
    }
    /// Which credential to use (default: whichever is configured).
    pub fn credential_mode(mut self, v: CredentialMode) -> Self {
        self.credential_mode = Some(v);
        self
    }
    /// The Instance Metadata Service's origin (`AZURE_POD_IDENTITY_AUTHORITY_HOST`).
    pub fn imds_host(mut self, v: impl Into<String>) -> Self {
        self.imds_host = Some(v.into());
        self
    }
    /// App Service's identity endpoint (`IDENTITY_ENDPOINT`).
    pub fn identity_endpoint(mut self, v: impl Into<String>) -> Self {
        self.identity_endpoint = Some(v.into());
        self
    }
    /// App Service's identity header value (`IDENTITY_HEADER`).
    pub fn identity_header(mut self, v: impl Into<Secret>) -> Self {
        self.identity_header = Some(v.into());
        self
    }

    fn with_credential(mut self, setting: &'static str, v: Credential) -> Self {
        self.credential = Some(v);
        self.given(setting);
        self
    }

    fn given(&mut self, setting: &'static str) {
        if !self.credentials_given.contains(&setting) {
            self.credentials_given.push(setting);
        }
    }

    /// The durable queue's URL (`sqlite:/var/spool/graphmailer/outbox.db`,
    /// `postgres://...`).
    pub fn outbox(mut self, v: impl Into<String>) -> Self {
        self.outbox = Some(super::OutboxUrl(v.into()));
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

    /// Checks every setting and returns the configuration, or an error that
    /// names the first bad setting and says what to do.
    pub fn build(self) -> Result<Config> {
        if let [first, second, ..] = self.credentials_given[..] {
            return Err(Error::config(
                first,
                format!(
                    "{first} and {second} are both given: give one credential (a client secret, a certificate, a federated token or a managed identity), not both"
                ),
            ));
        }
        let mode = self.credential_mode.unwrap_or_default();
        let identity_offer = match identity_offer(
            self.imds_host.as_deref(),
            self.identity_endpoint.as_deref(),
            self.identity_header.clone(),
        ) {
            Ok(offer) => offer,
            // An incomplete pair (Azure Arc sets IDENTITY_ENDPOINT for the
            // whole machine, without IDENTITY_HEADER) matters only to a
            // mailer that would use a managed identity, not to one given a
            // secret or a certificate.
            Err(_)
                if mode != CredentialMode::ManagedIdentity
                    && !self.credentials_given.is_empty() =>
            {
                None
            }
            Err(e) => return Err(e),
        };
        let managed = mode == CredentialMode::ManagedIdentity;
        // A managed identity needs neither: the host knows its tenant, and
        // without a client ID it uses its system-assigned identity.
        let tenant_id = match (managed, self.tenant_id) {
            (true, None) => String::new(),
            (_, tenant_id) => {
                let tenant_id = required(
                    tenant_id,
                    "AZURE_TENANT_ID",
                    "the Directory (tenant) ID from the app registration's Overview page",
                )?;
                check_tenant(&tenant_id)?;
                tenant_id
            }
        };
        let client_id = match (managed, self.client_id) {
            (true, None) => String::new(),
            (_, client_id) => required(
                client_id,
                "AZURE_CLIENT_ID",
                "the Application (client) ID from the app registration's Overview page",
            )?,
        };
        let system_assigned = managed && client_id.is_empty();
        if !(is_guid(&client_id) || system_assigned) {
            return Err(Error::config(
                "AZURE_CLIENT_ID",
                format!(
                    "'{}' is not a GUID: use the Application (client) ID from the app registration's Overview page",
                    printable(&client_id)
                ),
            ));
        }
        let credential = match (self.credential, &self.certificate_path) {
            (None, Some(path)) => Some(Credential::certificate(ClientCertificate::from_path(
                path,
                self.certificate_password.as_ref().map(Secret::expose),
            )?)),
            (credential, _) => credential,
        };
        let credential = match (mode, credential) {
            (CredentialMode::ManagedIdentity, None) => {
                let identity = identity_offer
                    .clone()
                    .unwrap_or_else(ManagedIdentity::imds_default);
                Some(Credential::ManagedIdentity(ManagedIdentity {
                    client_id: (!client_id.is_empty()).then(|| client_id.clone()),
                    ..identity
                }))
            }
            (mode, Some(credential)) if !mode.accepts(&credential) => {
                return Err(Error::config(
                    CREDENTIAL,
                    format!(
                        "is {} but the credential given is a {}",
                        mode.name(),
                        credential.kind()
                    ),
                ));
            }
            (_, credential) => credential,
        };
        let credential = credential.ok_or_else(|| {
            Error::config(
                "AZURE_CLIENT_SECRET",
                "no credential: set the client secret's value (AZURE_CLIENT_SECRET), a certificate (AZURE_CLIENT_CERTIFICATE_PATH), a federated token file (AZURE_FEDERATED_TOKEN_FILE), or GRAPHMAILER_CREDENTIAL=managed_identity",
            )
        })?;
        let credential_reason = reason(
            mode,
            self.credentials_given.first().copied(),
            &self.passed_over,
        );
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
        let outbox = self.outbox.map(|u| super::OutboxUrl(u.0.trim().to_owned()));
        if let Some(url) = &outbox {
            check_outbox(&url.0)?;
        }
        Ok(Config {
            tenant_id,
            client_id,
            credential,
            credential_reason,
            identity_offer,
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
            outbox,
        })
    }
}
