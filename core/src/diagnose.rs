//! `doctor`: get a token and explain it. What the app is, which roles an
//! administrator consented to (and which of them are broader than sending
//! mail needs), how long the token lives, how far this machine's clock is
//! from Microsoft's, and which endpoints and proxy are in use. Failures come
//! back as findings with the same hints as every other error.

use std::time::{Duration, SystemTime};

use crate::credential::Credential;
use crate::error::Error;
use crate::identity_endpoint::ManagedIdentity;
use crate::mailer::Mailer;

/// How serious a finding is.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub enum Severity {
    /// Worth knowing.
    Info,
    /// Works, but broader or riskier than it should be.
    Warning,
    /// Sending will not work until this is fixed.
    Error,
}

impl Severity {
    /// `info`, `warning` or `error`.
    pub fn name(self) -> &'static str {
        match self {
            Severity::Info => "info",
            Severity::Warning => "warning",
            Severity::Error => "error",
        }
    }
}

/// One thing `doctor` found.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Finding {
    pub severity: Severity,
    /// A stable identifier (`missing-mail-send`, `broad-role`, ...).
    pub id: &'static str,
    pub message: String,
    pub hint: Option<String>,
}

/// What `doctor` learned.
#[derive(Clone, Debug)]
pub struct Diagnosis {
    pub tenant_id: String,
    pub client_id: String,
    pub credential: &'static str,
    /// Why that credential: the settings that decided.
    pub credential_reason: String,
    pub cloud: String,
    pub token_url: String,
    pub graph_endpoint: String,
    pub scope: String,
    /// The proxy the environment names for HTTPS, with any password removed.
    pub proxy: Option<String>,
    pub no_proxy: Option<String>,
    /// Whether a token was obtained.
    pub token_acquired: bool,
    /// The tenant the token was issued by (`tid`).
    pub token_tenant: Option<String>,
    /// The app's display name in that tenant.
    pub app_display_name: Option<String>,
    /// The application roles granted.
    pub roles: Vec<String>,
    /// Whether messages over 4 MB may go through a draft and upload
    /// sessions, which needs Mail.ReadWrite.
    pub large_messages: bool,
    /// Whether an outbox is configured: it needs a read role to settle an
    /// ambiguous send by looking in Sent Items instead of holding the mail.
    pub outbox: bool,
    /// The token's lifetime as issued.
    pub token_lifetime: Option<Duration>,
    /// This machine's clock minus the identity platform's, in seconds.
    pub clock_skew_secs: Option<i64>,
    /// The token request's failure, when there was one.
    pub error: Option<Error>,
    pub findings: Vec<Finding>,
}

impl Diagnosis {
    /// False when any finding is an error.
    pub fn ok(&self) -> bool {
        self.findings.iter().all(|f| f.severity != Severity::Error)
    }
}

/// Roles that let the app do more than send mail, with what they allow.
const BROAD_ROLES: &[(&str, &str)] = &[
    (
        "Mail.ReadWrite",
        "read, change and delete every mailbox's mail",
    ),
    ("Mail.Read", "read every mailbox's mail"),
    (
        "Mail.ReadBasic.All",
        "read every mailbox's message metadata",
    ),
    ("Mail.ReadBasic", "read every mailbox's message metadata"),
    (
        "MailboxSettings.ReadWrite",
        "change every mailbox's settings, forwarding rules included",
    ),
    (
        "full_access_as_app",
        "full access to every mailbox through EWS",
    ),
    ("Directory.ReadWrite.All", "change the whole directory"),
    ("Directory.Read.All", "read the whole directory"),
    ("User.ReadWrite.All", "change every user"),
    (
        "Application.ReadWrite.All",
        "change every app registration, its own credentials included",
    ),
    (
        "RoleManagement.ReadWrite.Directory",
        "grant itself any directory role",
    ),
];

impl Mailer {
    /// Gets a fresh token and explains it. Never fails: a failure is reported
    /// as a finding with its hint.
    pub async fn diagnose(&self) -> Diagnosis {
        let client = &self.client;
        let config = &client.config;
        let proxy = ["HTTPS_PROXY", "https_proxy", "ALL_PROXY", "all_proxy"]
            .iter()
            .find_map(|name| std::env::var(name).ok().filter(|v| !v.is_empty()))
            .map(|p| without_password(&p));
        let no_proxy = ["NO_PROXY", "no_proxy"]
            .iter()
            .find_map(|name| std::env::var(name).ok().filter(|v| !v.is_empty()));
        let mut d = Diagnosis {
            tenant_id: config.tenant_id.clone(),
            client_id: config.client_id.clone(),
            credential: config.credential.kind(),
            credential_reason: config.credential_reason.clone(),
            cloud: config.cloud.to_string(),
            token_url: match &config.credential {
                Credential::ManagedIdentity(identity) => identity.endpoint_url(),
                _ => config.token_url(),
            },
            graph_endpoint: config.graph_endpoint().to_owned(),
            scope: config.scope.clone(),
            proxy,
            no_proxy,
            token_acquired: false,
            token_tenant: None,
            app_display_name: None,
            roles: Vec::new(),
            large_messages: config.large_messages,
            outbox: config.outbox().is_some(),
            token_lifetime: None,
            clock_skew_secs: None,
            error: None,
            findings: Vec::new(),
        };
        let offered = managed_identity_offered(config).await;
        // A new token, so the roles reflect consent as it is now (the
        // cached one stays for the mailer's sends if this request fails).
        let token = match client.renewed_token().await {
            Ok(token) => token,
            Err(error) => {
                d.findings.push(Finding {
                    severity: Severity::Error,
                    id: "token-request-failed",
                    message: error.message().to_owned(),
                    hint: error.hint().map(str::to_owned),
                });
                d.error = Some(error);
                return d;
            }
        };
        d.token_acquired = true;
        d.roles = token.roles().unwrap_or_default();
        let claims = token.claims.clone().unwrap_or_default();
        let text = |k: &str| claims.get(k).and_then(|v| v.as_str()).map(str::to_owned);
        d.token_tenant = text("tid");
        d.app_display_name = text("app_displayname");
        let number = |k: &str| claims.get(k).and_then(|v| v.as_i64());
        if let (Some(iat), Some(exp)) = (number("iat"), number("exp")) {
            d.token_lifetime = Some(Duration::from_secs(exp.saturating_sub(iat).max(0) as u64));
        }
        let local_at_issue = SystemTime::now();
        // Only the answer's Date tells the server's clock: a token's `iat` is
        // backdated by Entra (about five minutes) and, from a managed
        // identity endpoint, may be a cached token's hours-old one, so a
        // skew read from it would fail `doctor` on a healthy host.
        if let Some(server) = token.server_date {
            d.clock_skew_secs = Some(match local_at_issue.duration_since(server) {
                Ok(ahead) => ahead.as_secs() as i64,
                Err(behind) => -(behind.duration().as_secs() as i64),
            });
        }
        d.findings = findings(&d, &token.claims);
        d.findings.extend(offered);
        d
    }
}

/// How long `doctor` waits for a managed identity endpoint that may not be
/// there: the metadata service answers within milliseconds where it exists.
const PROBE_TIMEOUT: Duration = Duration::from_millis(300);

/// A warning when a secret is configured on a host that offers a managed
/// identity, which would need none. Asks the endpoint the environment names
/// (App Service's, or the metadata service at its configured host), else
/// the metadata service's usual address, with a short timeout.
async fn managed_identity_offered(config: &crate::config::Config) -> Option<Finding> {
    if !matches!(config.credential, Credential::ClientSecret(_)) {
        return None;
    }
    let identity = config
        .identity_offer
        .clone()
        .unwrap_or_else(ManagedIdentity::imds_default);
    if !crate::token::managed_identity::answers(&identity, config, PROBE_TIMEOUT).await {
        return None;
    }
    Some(Finding {
        severity: Severity::Warning,
        id: "secret-where-managed-identity",
        message: format!(
            "a client secret is configured, but this host offers a managed identity ({})",
            identity.endpoint_url()
        ),
        hint: Some(
            "a managed identity needs no secret to store, rotate or leak: set \
             GRAPHMAILER_CREDENTIAL=managed_identity (and AZURE_CLIENT_ID for a user-assigned \
             identity), grant the identity Mail.Send, then remove AZURE_CLIENT_SECRET"
                .into(),
        ),
    })
}

/// The roles that let the outbox find a sent mail by its `internetMessageId`,
/// narrowest first.
const OUTBOX_READ_ROLES: &[&str] = &["Mail.ReadBasic.All", "Mail.Read", "Mail.ReadWrite"];

/// Whether the outbox can settle an ambiguous send itself.
fn outbox_finding(d: &Diagnosis) -> Option<Finding> {
    if !d.outbox {
        return None;
    }
    let role = OUTBOX_READ_ROLES
        .iter()
        .find(|role| d.roles.iter().any(|r| r == *role));
    Some(match role {
        Some(role) => Finding {
            severity: Severity::Info,
            id: "outbox-can-reconcile",
            message: format!("the outbox can settle an ambiguous send: with {role} it looks for the mail in the sender's Sent Items before sending again"),
            hint: None,
        },
        None => Finding {
            severity: Severity::Warning,
            id: "outbox-cannot-reconcile",
            message: "an outbox is configured, but the token carries no Mail.ReadBasic.All role: a send whose answer was lost is held as uncertain until an operator runs graphmailer queue release".into(),
            hint: Some(format!(
                "add Microsoft Graph > Application permissions > Mail.ReadBasic.All to app {} and grant consent, scoped to the sending mailboxes (graphmailer policy prints the RBAC role assignment for the outbox)",
                d.client_id
            )),
        },
    })
}

fn findings(d: &Diagnosis, claims: &Option<serde_json::Value>) -> Vec<Finding> {
    let mut out = Vec::new();
    if claims.is_none() {
        out.push(Finding {
            severity: Severity::Info,
            id: "opaque-token",
            message: "the token cannot be read locally, so its roles cannot be checked".into(),
            hint: None,
        });
        return out;
    }
    if !d.roles.iter().any(|r| r == "Mail.Send") {
        out.push(Finding {
            severity: Severity::Error,
            id: "missing-mail-send",
            message: format!(
                "the token carries no Mail.Send role (roles: {})",
                if d.roles.is_empty() { "none".to_owned() } else { d.roles.join(", ") }
            ),
            hint: Some(format!(
                "add Microsoft Graph > Application permissions > Mail.Send to app {} (not the Delegated \
                 permission) and have an administrator 'Grant admin consent'",
                d.client_id
            )),
        });
    } else {
        out.push(Finding {
            severity: Severity::Info,
            id: "mail-send-granted",
            message: "Mail.Send (application) is granted: until the tenant restricts it, the app can send as every mailbox".into(),
            hint: Some("restrict it with RBAC for Applications or an application access policy (graphmailer policy), then check with graphmailer verify".into()),
        });
    }
    let read_write = d.roles.iter().any(|r| r == "Mail.ReadWrite");
    if d.large_messages && !read_write {
        out.push(Finding {
            severity: Severity::Error,
            id: "large-messages-need-read-write",
            message: "large messages are on, but the token carries no Mail.ReadWrite role: a message over 4 MB will be refused".into(),
            hint: Some(format!(
                "add Microsoft Graph > Application permissions > Mail.ReadWrite to app {} and grant consent, scoped to the sending mailboxes; or turn large messages off",
                d.client_id
            )),
        });
    }
    out.extend(outbox_finding(d));
    for role in d.roles.iter().filter(|r| *r != "Mail.Send") {
        if role == "Mail.ReadWrite" && d.large_messages {
            out.push(Finding {
                severity: Severity::Warning,
                id: "read-write-for-large-messages",
                message: "the app holds Mail.ReadWrite, which large messages need: until the tenant scopes it, the app can read, change and delete every mailbox's mail".into(),
                hint: Some("scope it to the sending mailboxes like Mail.Send (RBAC: 'Application Mail.ReadWrite' with the same management scope; an application access policy covers it), then check with graphmailer verify".into()),
            });
            continue;
        }
        if d.outbox && OUTBOX_READ_ROLES.contains(&role.as_str()) {
            out.push(Finding {
                severity: Severity::Warning,
                id: "read-role-for-outbox",
                message: format!("the app holds {role}, which the outbox uses to look in Sent Items after an ambiguous send: until the tenant scopes it, the app can read every mailbox's messages"),
                hint: Some("scope it to the sending mailboxes like Mail.Send (graphmailer policy prints the RBAC role assignment for the outbox), then check with graphmailer verify".into()),
            });
            continue;
        }
        let what = BROAD_ROLES
            .iter()
            .find(|(name, _)| name == role)
            .map(|(_, what)| (*what).to_owned())
            .unwrap_or_else(|| "more than sending mail needs".to_owned());
        out.push(Finding {
            severity: Severity::Warning,
            id: "broad-role",
            message: format!("the app also holds {role}: it can {what}"),
            hint: Some(format!(
                "remove {role} from the app's API permissions unless this app needs it; sending mail needs Mail.Send only (and Mail.ReadWrite only for messages over 4 MB, with large messages on)"
            )),
        });
    }
    if let Some(tid) = &d.token_tenant {
        if crate::address::is_guid(&d.tenant_id) && !tid.eq_ignore_ascii_case(&d.tenant_id) {
            out.push(Finding {
                severity: Severity::Error,
                id: "tenant-mismatch",
                message: format!("the token was issued by tenant {tid}, not {}", d.tenant_id),
                hint: Some("check AZURE_TENANT_ID and AZURE_AUTHORITY_HOST".into()),
            });
        }
    }
    if let Some(skew) = d.clock_skew_secs {
        if skew.abs() > 300 {
            out.push(Finding {
                severity: Severity::Error,
                id: "clock-skew",
                message: format!("this machine's clock is {} s {} the identity platform's", skew.abs(), if skew > 0 { "ahead of" } else { "behind" }),
                hint: Some("tokens and certificate assertions are checked against the clock: synchronise it (NTP)".into()),
            });
        } else if skew.abs() > 60 {
            out.push(Finding {
                severity: Severity::Warning,
                id: "clock-skew",
                message: format!(
                    "this machine's clock is {} s off the identity platform's",
                    skew.abs()
                ),
                hint: Some("synchronise the clock (NTP) before it drifts further".into()),
            });
        }
    }
    if d.credential == "client secret" {
        out.push(Finding {
            severity: Severity::Info,
            id: "secret-credential",
            message: "the app authenticates with a client secret".into(),
            hint: Some("a certificate is safer: nothing to paste or leak, and the key can live in a key store".into()),
        });
    }
    out
}

/// `http://user:pass@proxy:3128` → `http://user:***@proxy:3128`. A proxy
/// written without its scheme (`user:pass@proxy:3128`, which the HTTP
/// client takes as `http://`) is read with it, or `user` would pass for a
/// scheme and the password for a path.
fn without_password(proxy: &str) -> String {
    let proxy = proxy.trim();
    let with_scheme;
    let proxy = if proxy.contains("://") {
        proxy
    } else {
        with_scheme = format!("http://{proxy}");
        &with_scheme
    };
    match url::Url::parse(proxy) {
        Ok(mut url) if url.password().is_some() => {
            let _ = url.set_password(Some("***"));
            url.to_string()
        }
        Ok(url) => url.to_string(),
        Err(_) => "(not a URL)".into(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn diagnosis(roles: &[&str], outbox: bool) -> Diagnosis {
        Diagnosis {
            tenant_id: "contoso.com".into(),
            client_id: "3b9e6f2a-8c4d-4a1e-b7f5-0d2c9e8a6b14".into(),
            credential: "client secret",
            credential_reason: String::new(),
            cloud: "global".into(),
            token_url: String::new(),
            graph_endpoint: String::new(),
            scope: String::new(),
            proxy: None,
            no_proxy: None,
            token_acquired: true,
            token_tenant: None,
            app_display_name: None,
            roles: roles.iter().map(|r| (*r).to_owned()).collect(),
            large_messages: false,
            outbox,
            token_lifetime: None,
            clock_skew_secs: None,
            error: None,
            findings: Vec::new(),
        }
    }

    fn ids(d: &Diagnosis) -> Vec<&'static str> {
        findings(d, &Some(serde_json::json!({})))
            .iter()
            .map(|f| f.id)
            .collect()
    }

    #[test]
    fn the_outbox_says_whether_it_can_reconcile() {
        let without = ids(&diagnosis(&["Mail.Send"], true));
        assert!(without.contains(&"outbox-cannot-reconcile"), "{without:?}");
        let with = ids(&diagnosis(&["Mail.Send", "Mail.ReadBasic.All"], true));
        assert!(with.contains(&"outbox-can-reconcile"), "{with:?}");
        // The role the outbox uses is a scoping warning, not "more than sending needs".
        assert!(with.contains(&"read-role-for-outbox"), "{with:?}");
        assert!(!with.contains(&"broad-role"), "{with:?}");
        // No outbox, no outbox findings, and the read role is broad again.
        let plain = ids(&diagnosis(&["Mail.Send", "Mail.ReadBasic.All"], false));
        assert!(
            plain.iter().all(|id| !id.starts_with("outbox")),
            "{plain:?}"
        );
        assert!(plain.contains(&"broad-role"), "{plain:?}");
    }

    #[test]
    fn proxy_passwords_are_hidden() {
        assert_eq!(
            without_password("http://u:hunter2@proxy:3128"),
            "http://u:***@proxy:3128/"
        );
        assert_eq!(without_password("http://proxy:3128"), "http://proxy:3128/");
        let bare = without_password("u:hunter2@proxy:3128");
        assert!(!bare.contains("hunter2"), "{bare}");
        assert_eq!(bare, "http://u:***@proxy:3128/");
    }
}
