//! Who exists: tenants, their apps (with secrets and consented roles),
//! mailboxes, mail-enabled security groups and application access policies.
//!
//! The directory is fixed for the life of an emulator; tests that need
//! another cast start another emulator with their own directory. Addresses
//! and domains are kept lowercase, because Exchange and Entra compare them
//! case-insensitively and every lookup here does the same.

mod builtin;
mod file;

use std::fmt;
use std::path::Path;

use serde::Serialize;
use time::OffsetDateTime;
use uuid::Uuid;

use crate::Error;
pub use crate::certificates::Certificate;

/// Every tenant the emulator knows.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Directory {
    /// The tenants; the first one is the one the banner advertises.
    pub tenants: Vec<Tenant>,
}

/// One Entra tenant with its Exchange Online organisation.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Tenant {
    /// The directory (tenant) id.
    pub id: Uuid,
    /// Domain names that identify the tenant at the token endpoint; mailbox
    /// addresses must use one of them.
    pub domains: Vec<String>,
    /// Registered applications (with their service principal).
    pub apps: Vec<App>,
    /// Mailboxes.
    pub mailboxes: Vec<Mailbox>,
    /// Mail-enabled security groups.
    pub groups: Vec<Group>,
    /// Application access policies (`New-ApplicationAccessPolicy`).
    pub policies: Vec<AccessPolicy>,
}

/// An app registration and its service principal in one tenant.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct App {
    /// Application (client) id.
    pub client_id: Uuid,
    /// Object id of the service principal (the token's `oid` and `sub`).
    pub object_id: Uuid,
    /// Display name (the token's `app_displayname`).
    pub display_name: String,
    /// Consented application permissions, e.g. `Mail.Send`.
    pub roles: Vec<String>,
    /// Client secrets.
    pub secrets: Vec<Secret>,
    /// A disabled app gets AADSTS7000112 at the token endpoint.
    pub disabled: bool,
    /// Certificates whose key may sign client assertions (public part only).
    pub certificates: Vec<Certificate>,
    /// Tokens from other issuers this app accepts as its credential
    /// (Entra's federated identity credentials).
    pub federated_credentials: Vec<FederatedCredential>,
    /// Set when this service principal is a managed identity: the local
    /// identity endpoint (IMDS, App Service) issues its tokens.
    pub managed_identity: Option<ManagedIdentityKind>,
}

/// A federated identity credential: a token whose `iss` is `issuer`, whose
/// `sub` is `subject` and whose `aud` is one of `audiences` (all compared
/// case-sensitively, as Entra does) stands for the app's secret.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct FederatedCredential {
    /// A name for people (unique within the app).
    pub name: String,
    /// The token issuer's URL; `{emulator_url}` in it stands for this
    /// emulator's URL, so `{emulator_url}/_emulator/oidc` trusts the
    /// emulator's own issuer.
    pub issuer: String,
    /// The token's `sub`.
    pub subject: String,
    /// Accepted `aud` values (Entra: `api://AzureADTokenExchange`).
    pub audiences: Vec<String>,
    /// The issuer's signing keys as a JWKS, for an issuer other than the
    /// emulator's own (the emulator fetches nothing from the network).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub jwks: Option<serde_json::Value>,
}

/// Which kind of managed identity a service principal is.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, serde::Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ManagedIdentityKind {
    /// The machine's own identity: what a client gets when it names none.
    SystemAssigned,
    /// An identity attached to the machine, chosen by its client id.
    UserAssigned,
}

/// A client secret. `Debug` and `Serialize` never show the value.
#[derive(Clone, PartialEq)]
pub struct Secret {
    /// The secret's id (what the portal shows beside the value).
    pub id: Uuid,
    /// The secret value a client must send.
    pub value: String,
    /// When it stops working; `None` = never.
    pub expires_at: Option<OffsetDateTime>,
}

impl Secret {
    /// Whether the secret has expired at `now`.
    pub fn is_expired(&self, now: OffsetDateTime) -> bool {
        self.expires_at.is_some_and(|at| at <= now)
    }

    /// The first three characters, as the Azure portal shows them ("hint").
    pub fn hint(&self) -> String {
        self.value.chars().take(3).collect()
    }
}

impl fmt::Debug for Secret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Secret")
            .field("id", &self.id)
            .field("value", &"<redacted>")
            .field("expires_at", &self.expires_at)
            .finish()
    }
}

impl Serialize for Secret {
    fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        use serde::ser::SerializeStruct;
        let mut s = serializer.serialize_struct("Secret", 4)?;
        s.serialize_field("id", &self.id)?;
        s.serialize_field("hint", &self.hint())?;
        let expires = self.expires_at.and_then(|t| {
            t.format(&time::format_description::well_known::Rfc3339)
                .ok()
        });
        s.serialize_field("expires_at", &expires)?;
        s.serialize_field("expired", &self.is_expired(OffsetDateTime::now_utc()))?;
        s.end()
    }
}

/// What kind of mailbox an address is.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, serde::Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum MailboxKind {
    /// A licensed user mailbox.
    User,
    /// A shared mailbox (no licence needed, cannot sign in).
    Shared,
    /// A user without an Exchange Online licence: Graph answers 404
    /// `MailboxNotEnabledForRESTAPI`.
    Unlicensed,
}

/// A mailbox (or mail-enabled user).
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Mailbox {
    /// Primary SMTP address, lowercase.
    pub address: String,
    /// Object id; Graph accepts it in place of the address in `/users/{id}`.
    pub id: Uuid,
    /// User, shared or unlicensed.
    pub kind: MailboxKind,
    /// Display name, if any.
    pub display_name: Option<String>,
    /// Addresses this mailbox holds Send As on, so a message sent as this
    /// mailbox may carry one of them in `from` (otherwise `ErrorSendAsDenied`).
    pub send_as: Vec<String>,
}

/// A mail-enabled security group: the scope of an access policy.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Group {
    /// Group address, lowercase.
    pub address: String,
    /// Object id.
    pub id: Uuid,
    /// Member mailbox addresses, lowercase (no nested groups: Exchange does
    /// not expand them for access policies).
    pub members: Vec<String>,
}

/// `-AccessRight` of an application access policy.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, serde::Deserialize)]
pub enum AccessRight {
    /// The app may reach only members of the scope.
    RestrictAccess,
    /// The app may reach every mailbox except members of the scope.
    DenyAccess,
}

/// Which apps a policy applies to.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PolicyApps {
    /// Every app (`-AppId *`).
    All,
    /// One app id.
    One(Uuid),
}

impl Serialize for PolicyApps {
    fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        match self {
            PolicyApps::All => serializer.serialize_str("*"),
            PolicyApps::One(id) => id.serialize(serializer),
        }
    }
}

/// An application access policy (`New-ApplicationAccessPolicy`).
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct AccessPolicy {
    /// The app(s) the policy applies to.
    pub app_id: PolicyApps,
    /// The scope: a mail-enabled security group or a user mailbox address.
    pub group: String,
    /// RestrictAccess or DenyAccess.
    pub access_right: AccessRight,
    /// Free text, as `-Description`.
    pub description: Option<String>,
}

/// How a managed identity request names its identity.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum IdentityChoice {
    /// No id given: the machine's own.
    SystemAssigned,
    /// `client_id=`.
    ClientId(Uuid),
    /// `object_id=` (IMDS) or `principal_id=` (App Service).
    ObjectId(Uuid),
}

/// What a `{tenant}` path segment of the token endpoint names.
pub(crate) enum TenantLookup<'a> {
    Found(&'a Tenant),
    /// `common`, `consumers`, `organizations`: not for client credentials.
    Reserved,
    /// Neither a GUID nor a DNS name.
    Malformed,
    NotFound,
}

impl Directory {
    /// Parses the TOML format documented in `examples/directory.toml`.
    /// Relative certificate paths are taken from the current directory.
    pub fn from_toml_str(text: &str) -> Result<Self, Error> {
        file::parse(text, None)
    }

    /// Reads and parses a TOML directory file.
    pub fn from_file(path: &Path) -> Result<Self, Error> {
        let text = std::fs::read_to_string(path).map_err(|source| Error::File {
            path: path.to_path_buf(),
            source,
        })?;
        file::parse(&text, path.parent())
    }

    /// Checks the rules a real tenant enforces (unique ids, addresses in an
    /// accepted domain, policy scopes that are security principals, ...).
    /// `start` calls it, so a directory built in code is checked too.
    pub fn validate(&self) -> Result<(), Error> {
        validate::check(self)
    }

    /// Writes this emulator's URL into every federated credential's issuer
    /// that holds the `{emulator_url}` placeholder.
    pub(crate) fn resolve_emulator_url(&mut self, url: &str) {
        let placeholder = crate::defaults::EMULATOR_URL_PLACEHOLDER;
        for credential in self
            .tenants
            .iter_mut()
            .flat_map(|t| t.apps.iter_mut())
            .flat_map(|a| a.federated_credentials.iter_mut())
        {
            credential.issuer = credential.issuer.replace(placeholder, url);
        }
    }

    /// The managed identity a request names (none: the system-assigned
    /// one), with its tenant.
    pub(crate) fn managed_identity(&self, choice: IdentityChoice) -> Option<(&Tenant, &App)> {
        self.tenants.iter().find_map(|t| {
            t.apps
                .iter()
                .find(|a| match (choice, a.managed_identity) {
                    (_, None) => false,
                    (IdentityChoice::SystemAssigned, Some(kind)) => {
                        kind == ManagedIdentityKind::SystemAssigned
                    }
                    (IdentityChoice::ClientId(id), Some(_)) => a.client_id == id,
                    (IdentityChoice::ObjectId(id), Some(_)) => a.object_id == id,
                })
                .map(|a| (t, a))
        })
    }

    /// Finds a tenant by id or domain, as the token endpoint does.
    pub(crate) fn lookup_tenant(&self, segment: &str) -> TenantLookup<'_> {
        let lower = segment.to_ascii_lowercase();
        if matches!(lower.as_str(), "common" | "consumers" | "organizations") {
            return TenantLookup::Reserved;
        }
        if let Ok(id) = Uuid::parse_str(segment) {
            return match self.tenant_by_id(id) {
                Some(t) => TenantLookup::Found(t),
                None => TenantLookup::NotFound,
            };
        }
        if !is_dns_name(&lower) {
            return TenantLookup::Malformed;
        }
        match self.tenants.iter().find(|t| t.domains.contains(&lower)) {
            Some(t) => TenantLookup::Found(t),
            None => TenantLookup::NotFound,
        }
    }

    /// The tenant with this id.
    pub fn tenant_by_id(&self, id: Uuid) -> Option<&Tenant> {
        self.tenants.iter().find(|t| t.id == id)
    }
}

impl Tenant {
    /// The app with this client id (any GUID spelling).
    pub fn app(&self, client_id: &str) -> Option<&App> {
        let id = Uuid::parse_str(client_id.trim()).ok()?;
        self.apps.iter().find(|a| a.client_id == id)
    }

    /// The mailbox named by an address (any case) or an object id.
    pub fn mailbox(&self, id_or_address: &str) -> Option<&Mailbox> {
        if let Ok(id) = Uuid::parse_str(id_or_address) {
            return self.mailboxes.iter().find(|m| m.id == id);
        }
        let lower = id_or_address.to_ascii_lowercase();
        self.mailboxes.iter().find(|m| m.address == lower)
    }

    /// The group with this address.
    pub fn group(&self, address: &str) -> Option<&Group> {
        let lower = address.to_ascii_lowercase();
        self.groups.iter().find(|g| g.address == lower)
    }

    /// The first domain, used where one name for the tenant is wanted.
    pub fn primary_domain(&self) -> &str {
        self.domains.first().map(String::as_str).unwrap_or("")
    }
}

/// A DNS name as Entra accepts it for a tenant: at least two labels of
/// letters, digits and inner hyphens.
pub(crate) fn is_dns_name(name: &str) -> bool {
    let labels: Vec<&str> = name.split('.').collect();
    name.len() <= 253
        && labels.len() >= 2
        && labels.iter().all(|l| {
            !l.is_empty()
                && l.len() <= 63
                && !l.starts_with('-')
                && !l.ends_with('-')
                && l.chars().all(|c| c.is_ascii_alphanumeric() || c == '-')
        })
}

/// A plausible SMTP address: `local@domain` with no spaces or brackets.
pub(crate) fn is_email_address(address: &str) -> bool {
    let Some((local, domain)) = address.rsplit_once('@') else {
        return false;
    };
    !local.is_empty()
        && local.len() <= 64
        && !local.contains('@')
        && local
            .chars()
            .all(|c| !c.is_whitespace() && !c.is_control() && !"<>()[],;:\\\"".contains(c))
        && is_dns_name(&domain.to_ascii_lowercase())
}

mod validate {
    use std::collections::HashSet;

    use super::{
        App, Directory, MailboxKind, ManagedIdentityKind, PolicyApps, Tenant, is_dns_name,
        is_email_address,
    };
    use crate::Error;

    pub(super) fn check(dir: &Directory) -> Result<(), Error> {
        if dir.tenants.is_empty() {
            return Err(bad("at least one tenant is needed"));
        }
        let system_assigned = dir
            .tenants
            .iter()
            .flat_map(|t| &t.apps)
            .filter(|a| a.managed_identity == Some(ManagedIdentityKind::SystemAssigned))
            .count();
        if system_assigned > 1 {
            return Err(bad(
                "more than one system-assigned managed identity: a machine has only one",
            ));
        }
        let mut tenant_ids = HashSet::new();
        let mut all_domains = HashSet::new();
        for tenant in &dir.tenants {
            if !tenant_ids.insert(tenant.id) {
                return Err(bad(format!("tenant {} is listed twice", tenant.id)));
            }
            if tenant.domains.is_empty() {
                return Err(bad(format!("tenant {} has no domain", tenant.id)));
            }
            for domain in &tenant.domains {
                if !is_dns_name(domain) || *domain != domain.to_ascii_lowercase() {
                    return Err(bad(format!(
                        "tenant {}: '{domain}' is not a lowercase DNS name",
                        tenant.id
                    )));
                }
                if !all_domains.insert(domain.clone()) {
                    return Err(bad(format!("domain {domain} belongs to two tenants")));
                }
            }
            check_tenant(tenant)?;
        }
        Ok(())
    }

    fn check_tenant(tenant: &Tenant) -> Result<(), Error> {
        let t = tenant.id;
        let mut client_ids = HashSet::new();
        for app in &tenant.apps {
            if !client_ids.insert(app.client_id) {
                return Err(bad(format!(
                    "tenant {t}: app {} is listed twice",
                    app.client_id
                )));
            }
            let mut thumbprints = HashSet::new();
            for certificate in &app.certificates {
                if !thumbprints.insert(certificate.thumbprint.clone()) {
                    return Err(bad(format!(
                        "app {}: certificate {} is listed twice",
                        app.client_id,
                        certificate.thumbprint_hex()
                    )));
                }
            }
            check_federated(app)?;
            if app.managed_identity.is_some() && !app.secrets.is_empty() {
                return Err(bad(format!(
                    "app {}: a managed identity has no secrets",
                    app.client_id
                )));
            }
            let mut secret_ids = HashSet::new();
            for secret in &app.secrets {
                if secret.value.is_empty() {
                    return Err(bad(format!(
                        "app {}: a secret has an empty value",
                        app.client_id
                    )));
                }
                if !secret_ids.insert(secret.id) {
                    return Err(bad(format!(
                        "app {}: secret id {} is listed twice",
                        app.client_id, secret.id
                    )));
                }
            }
        }
        let mut addresses = HashSet::new();
        for mailbox in &tenant.mailboxes {
            check_address(tenant, &mailbox.address)?;
            if !addresses.insert(mailbox.address.clone()) {
                return Err(bad(format!(
                    "tenant {t}: {} is listed twice",
                    mailbox.address
                )));
            }
        }
        for group in &tenant.groups {
            check_address(tenant, &group.address)?;
            if !addresses.insert(group.address.clone()) {
                return Err(bad(format!(
                    "tenant {t}: group {} reuses an address",
                    group.address
                )));
            }
        }
        for mailbox in &tenant.mailboxes {
            for other in &mailbox.send_as {
                if !is_email_address(other) {
                    return Err(bad(format!(
                        "{}: send_as entry '{other}' is not an address",
                        mailbox.address
                    )));
                }
            }
        }
        for group in &tenant.groups {
            for member in &group.members {
                if tenant.group(member).is_some() {
                    return Err(bad(format!(
                        "group {}: member {member} is a group; access policies do not expand nested groups",
                        group.address
                    )));
                }
                if tenant.mailbox(member).is_none() {
                    return Err(bad(format!(
                        "group {}: member {member} is not a mailbox of this tenant",
                        group.address
                    )));
                }
            }
        }
        for policy in &tenant.policies {
            if let PolicyApps::One(id) = policy.app_id
                && id.is_nil()
            {
                return Err(bad("a policy has a nil app_id"));
            }
            if tenant.group(&policy.group).is_some() {
                continue;
            }
            match tenant.mailbox(&policy.group) {
                Some(m) if m.kind == MailboxKind::User => {}
                Some(m) => {
                    return Err(bad(format!(
                        "policy scope {} is a {:?} mailbox; Exchange needs a security principal: put it in a mail-enabled security group",
                        m.address, m.kind
                    )));
                }
                None => {
                    return Err(bad(format!(
                        "policy scope {} is neither a group nor a mailbox of tenant {t}",
                        policy.group
                    )));
                }
            }
        }
        Ok(())
    }

    fn check_federated(app: &App) -> Result<(), Error> {
        let mut names = HashSet::new();
        for credential in &app.federated_credentials {
            let what = |problem: &str| {
                bad(format!(
                    "app {}: federated credential '{}': {problem}",
                    app.client_id, credential.name
                ))
            };
            if credential.name.trim().is_empty() {
                return Err(what("needs a name"));
            }
            if !names.insert(credential.name.clone()) {
                return Err(what("the name is used twice"));
            }
            if credential.issuer.trim().is_empty() || credential.subject.trim().is_empty() {
                return Err(what("issuer and subject must not be empty"));
            }
            if credential.audiences.is_empty() {
                return Err(what(
                    "needs at least one audience (api://AzureADTokenExchange)",
                ));
            }
            if let Some(jwks) = &credential.jwks
                && !jwks.get("keys").is_some_and(serde_json::Value::is_array)
            {
                return Err(what("jwks must be a JWKS object with a \"keys\" array"));
            }
        }
        Ok(())
    }

    fn check_address(tenant: &Tenant, address: &str) -> Result<(), Error> {
        if !is_email_address(address) || address != address.to_ascii_lowercase() {
            return Err(bad(format!("'{address}' is not a lowercase mail address")));
        }
        let domain = address.rsplit_once('@').map(|(_, d)| d).unwrap_or("");
        if !tenant.domains.iter().any(|d| d == domain) {
            return Err(bad(format!(
                "{address}: domain {domain} is not one of tenant {}'s domains",
                tenant.id
            )));
        }
        Ok(())
    }

    fn bad(message: impl Into<String>) -> Error {
        Error::Directory(message.into())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn dns_names_and_addresses() {
        assert!(is_dns_name("contoso.test"));
        assert!(!is_dns_name("contoso"));
        assert!(!is_dns_name("bad_tenant!.com"));
        assert!(is_email_address("a.b+c@contoso.test"));
        assert!(!is_email_address("no-at-sign"));
        assert!(!is_email_address("two words@contoso.test"));
        assert!(!is_email_address("@contoso.test"));
    }

    #[test]
    fn default_directory_is_valid_and_found_by_domain() {
        let dir = Directory::default();
        dir.validate().unwrap();
        assert!(matches!(
            dir.lookup_tenant("CONTOSO.test"),
            TenantLookup::Found(_)
        ));
        assert!(matches!(
            dir.lookup_tenant("organizations"),
            TenantLookup::Reserved
        ));
        assert!(matches!(dir.lookup_tenant("bad!"), TenantLookup::Malformed));
        assert!(matches!(
            dir.lookup_tenant("fabrikam.test"),
            TenantLookup::NotFound
        ));
        let tenant = &dir.tenants[0];
        assert_eq!(
            tenant.mailbox("ERP@Contoso.Test").map(|m| m.id.to_string()),
            Some(crate::defaults::ERP_MAILBOX_ID.to_string())
        );
    }

    #[test]
    fn secret_debug_is_redacted() {
        let dir = Directory::default();
        let text = format!("{dir:?}");
        assert!(!text.contains(crate::defaults::ERP_SECRET));
        let json = serde_json::to_string(&dir).unwrap();
        assert!(!json.contains(crate::defaults::ERP_SECRET));
    }
}
