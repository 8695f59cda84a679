//! The TOML directory format (documented by `examples/directory.toml`).
//!
//! The file mirrors what an administrator sets up in the portal and in
//! Exchange Online PowerShell, one table per thing, so a scenario reads like
//! a description of a tenant. Unknown keys are refused, so a misspelt key
//! is an error rather than a silently ignored setting.

use std::path::Path;

use serde::Deserialize;
use time::format_description::well_known::Rfc3339;
use time::macros::format_description;
use time::{Date, OffsetDateTime, PrimitiveDateTime};
use uuid::Uuid;

use super::{
    AccessPolicy, AccessRight, App, Certificate, Directory, FederatedCredential, Group, Mailbox,
    MailboxKind, ManagedIdentityKind, PolicyApps, Secret, Tenant,
};
use crate::Error;

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct FileDirectory {
    #[serde(default, alias = "tenant")]
    tenants: Vec<FileTenant>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct FileTenant {
    id: Uuid,
    domains: Vec<String>,
    #[serde(default, alias = "app")]
    apps: Vec<FileApp>,
    #[serde(default, alias = "mailbox")]
    mailboxes: Vec<FileMailbox>,
    #[serde(default, alias = "group")]
    groups: Vec<FileGroup>,
    #[serde(default, alias = "policy")]
    policies: Vec<FilePolicy>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct FileApp {
    client_id: Uuid,
    display_name: String,
    object_id: Option<Uuid>,
    #[serde(default)]
    roles: Vec<String>,
    #[serde(default)]
    secrets: Vec<FileSecret>,
    #[serde(default)]
    disabled: bool,
    /// PEM text, base64 DER, or a path to a PEM/DER file (relative to the
    /// directory file).
    #[serde(default)]
    certificates: Vec<String>,
    #[serde(default, alias = "federated_credential")]
    federated_credentials: Vec<FileFederatedCredential>,
    managed_identity: Option<ManagedIdentityKind>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct FileFederatedCredential {
    name: String,
    issuer: String,
    subject: String,
    #[serde(default = "federated_audiences")]
    audiences: Vec<String>,
    /// The issuer's JWKS: a TOML table, or its JSON text in a string.
    jwks: Option<toml::Value>,
}

fn federated_audiences() -> Vec<String> {
    vec![crate::defaults::FEDERATED_AUDIENCE.to_owned()]
}

fn convert_federated(f: FileFederatedCredential) -> Result<FederatedCredential, String> {
    let jwks = match f.jwks {
        None => None,
        Some(toml::Value::String(text)) => {
            Some(serde_json::from_str(&text).map_err(|e| format!("jwks is not JSON: {e}"))?)
        }
        Some(table) => Some(serde_json::to_value(table).map_err(|e| e.to_string())?),
    };
    Ok(FederatedCredential {
        name: f.name,
        issuer: f.issuer.trim().to_owned(),
        subject: f.subject,
        audiences: f.audiences,
        jwks,
    })
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct FileSecret {
    id: Option<Uuid>,
    value: String,
    /// A TOML date or date-time, or the same as a string.
    expires_at: Option<toml::Value>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct FileMailbox {
    address: String,
    #[serde(default = "user_kind")]
    kind: MailboxKind,
    id: Option<Uuid>,
    display_name: Option<String>,
    #[serde(default)]
    send_as: Vec<String>,
}

fn user_kind() -> MailboxKind {
    MailboxKind::User
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct FileGroup {
    address: String,
    id: Option<Uuid>,
    #[serde(default)]
    members: Vec<String>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct FilePolicy {
    app_id: String,
    #[serde(alias = "scope")]
    group: String,
    access_right: AccessRight,
    description: Option<String>,
}

pub(super) fn parse(text: &str, base: Option<&Path>) -> Result<Directory, Error> {
    let file: FileDirectory = toml::from_str(text).map_err(|e| Error::Directory(e.to_string()))?;
    let tenants = file
        .tenants
        .into_iter()
        .map(|t| convert_tenant(t, base))
        .collect::<Result<Vec<_>, _>>()?;
    let directory = Directory { tenants };
    directory.validate()?;
    Ok(directory)
}

fn convert_tenant(t: FileTenant, base: Option<&Path>) -> Result<Tenant, Error> {
    let tenant_id = t.id;
    let apps = t
        .apps
        .into_iter()
        .map(|a| {
            let secrets = a
                .secrets
                .into_iter()
                .map(|s| {
                    Ok(Secret {
                        id: s
                            .id
                            .unwrap_or_else(|| derived_id(&[&a.client_id.to_string(), &s.value])),
                        expires_at: s.expires_at.as_ref().map(parse_instant).transpose()?,
                        value: s.value,
                    })
                })
                .collect::<Result<Vec<_>, Error>>()?;
            let mut certificates = Vec::new();
            for entry in &a.certificates {
                certificates.extend(load_certificates(entry, base).map_err(|e| {
                    Error::Directory(format!("app {}: certificate: {e}", a.client_id))
                })?);
            }
            let federated_credentials = a
                .federated_credentials
                .into_iter()
                .map(|f| {
                    let name = f.name.clone();
                    convert_federated(f).map_err(|e| {
                        Error::Directory(format!(
                            "app {}: federated credential '{name}': {e}",
                            a.client_id
                        ))
                    })
                })
                .collect::<Result<Vec<_>, Error>>()?;
            Ok(App {
                certificates,
                federated_credentials,
                managed_identity: a.managed_identity,
                object_id: a.object_id.unwrap_or_else(|| {
                    derived_id(&[&tenant_id.to_string(), &a.client_id.to_string()])
                }),
                client_id: a.client_id,
                display_name: a.display_name,
                roles: a.roles,
                secrets,
                disabled: a.disabled,
            })
        })
        .collect::<Result<Vec<_>, Error>>()?;
    let mailboxes = t
        .mailboxes
        .into_iter()
        .map(|m| {
            let address = m.address.trim().to_ascii_lowercase();
            Mailbox {
                id: m
                    .id
                    .unwrap_or_else(|| derived_id(&[&tenant_id.to_string(), &address])),
                address,
                kind: m.kind,
                display_name: m.display_name,
                send_as: m
                    .send_as
                    .iter()
                    .map(|s| s.trim().to_ascii_lowercase())
                    .collect(),
            }
        })
        .collect();
    let groups = t
        .groups
        .into_iter()
        .map(|g| {
            let address = g.address.trim().to_ascii_lowercase();
            Group {
                id: g
                    .id
                    .unwrap_or_else(|| derived_id(&[&tenant_id.to_string(), &address])),
                address,
                members: g
                    .members
                    .iter()
                    .map(|s| s.trim().to_ascii_lowercase())
                    .collect(),
            }
        })
        .collect();
    let policies = t
        .policies
        .into_iter()
        .map(|p| {
            let app_id = if p.app_id.trim() == "*" {
                PolicyApps::All
            } else {
                PolicyApps::One(Uuid::parse_str(p.app_id.trim()).map_err(|_| {
                    Error::Directory(format!(
                        "policy app_id '{}' is neither a GUID nor \"*\"",
                        p.app_id
                    ))
                })?)
            };
            Ok(AccessPolicy {
                app_id,
                group: p.group.trim().to_ascii_lowercase(),
                access_right: p.access_right,
                description: p.description,
            })
        })
        .collect::<Result<Vec<_>, Error>>()?;
    Ok(Tenant {
        id: tenant_id,
        domains: t
            .domains
            .iter()
            .map(|d| d.trim().to_ascii_lowercase())
            .collect(),
        apps,
        mailboxes,
        groups,
        policies,
    })
}

/// One `certificates` entry: inline PEM or base64 DER, else a file path.
fn load_certificates(entry: &str, base: Option<&Path>) -> Result<Vec<Certificate>, String> {
    let trimmed = entry.trim();
    if trimmed.contains("-----BEGIN") {
        return Certificate::all_from_pem(trimmed);
    }
    let path = Path::new(trimmed);
    let path = match base {
        Some(base) if path.is_relative() => base.join(path),
        _ => path.to_path_buf(),
    };
    match std::fs::read(&path) {
        Ok(bytes) => match std::str::from_utf8(&bytes) {
            Ok(text) if text.contains("-----BEGIN") => Certificate::all_from_pem(text),
            _ => Certificate::from_der(&bytes).map(|c| vec![c]),
        },
        Err(read_error) => Certificate::all_from_text(trimmed).map_err(|_| {
            format!(
                "'{}' is neither PEM, base64 DER nor a readable file ({read_error})",
                path.display()
            )
        }),
    }
}

/// Ids the file leaves out are derived from what they belong to, so the same
/// file gives the same ids on every run (tests and docs can rely on them).
fn derived_id(parts: &[&str]) -> Uuid {
    let mut data = Vec::new();
    for part in parts {
        data.extend_from_slice(part.as_bytes());
        data.push(0);
    }
    let digest = aws_lc_rs::digest::digest(&aws_lc_rs::digest::SHA256, &data);
    let mut bytes = [0u8; 16];
    bytes.copy_from_slice(&digest.as_ref()[..16]);
    uuid::Builder::from_random_bytes(bytes).into_uuid()
}

/// Accepts `2024-01-31`, `2024-01-31T12:00:00` (taken as UTC) and RFC 3339.
fn parse_instant(value: &toml::Value) -> Result<OffsetDateTime, Error> {
    let text = match value {
        toml::Value::String(s) => s.clone(),
        toml::Value::Datetime(d) => d.to_string(),
        other => {
            return Err(Error::Directory(format!(
                "expires_at must be a date or date-time, not {other}"
            )));
        }
    };
    let text = text.trim();
    if let Ok(t) = OffsetDateTime::parse(text, &Rfc3339) {
        return Ok(t);
    }
    let local = format_description!("[year]-[month]-[day]T[hour]:[minute]:[second]");
    if let Ok(t) = PrimitiveDateTime::parse(text, local) {
        return Ok(t.assume_utc());
    }
    let date_only = format_description!("[year]-[month]-[day]");
    if let Ok(d) = Date::parse(text, date_only) {
        return Ok(d.midnight().assume_utc());
    }
    Err(Error::Directory(format!(
        "expires_at '{text}' is not a date (2024-01-31) or RFC 3339 date-time"
    )))
}

#[cfg(test)]
mod tests {
    use super::*;

    const SMALL: &str = r#"
        [[tenants]]
        id = "11111111-2222-4333-8444-555555555555"
        domains = ["Fabrikam.test"]

        [[tenants.apps]]
        client_id = "66666666-7777-4888-9999-000000000000"
        display_name = "Fabrikam Billing"
        roles = ["Mail.Send"]
        secrets = [
          { value = "s1", expires_at = 2024-01-31 },
          { value = "s2", expires_at = "2099-12-31T23:59:59Z" },
        ]

        [[tenants.mailboxes]]
        address = "Billing@Fabrikam.test"
        kind = "shared"

        [[tenants.mailboxes]]
        address = "boss@fabrikam.test"

        [[tenants.groups]]
        address = "no-app@fabrikam.test"
        members = ["boss@fabrikam.test"]

        [[tenants.policies]]
        app_id = "*"
        group = "no-app@fabrikam.test"
        access_right = "DenyAccess"
    "#;

    #[test]
    fn parses_and_normalises() {
        let dir = parse(SMALL, None).unwrap();
        let t = &dir.tenants[0];
        assert_eq!(t.domains, ["fabrikam.test"]);
        assert_eq!(t.mailboxes[0].address, "billing@fabrikam.test");
        assert_eq!(t.mailboxes[1].kind, MailboxKind::User);
        let now = OffsetDateTime::now_utc();
        assert!(t.apps[0].secrets[0].is_expired(now));
        assert!(!t.apps[0].secrets[1].is_expired(now));
        assert_eq!(t.policies[0].app_id, PolicyApps::All);
        // Derived ids are stable.
        assert_eq!(parse(SMALL, None).unwrap(), dir);
    }

    #[test]
    fn unknown_keys_and_bad_references_are_refused() {
        let typo = SMALL.replace("display_name", "displayname");
        assert!(parse(&typo, None).is_err());
        let foreign = SMALL.replace("\"boss@fabrikam.test\"]", "\"boss@elsewhere.test\"]");
        let err = parse(&foreign, None).unwrap_err().to_string();
        assert!(err.contains("not a mailbox"), "{err}");
        let shared_scope = SMALL.replace(
            "group = \"no-app@fabrikam.test\"",
            "group = \"billing@fabrikam.test\"",
        );
        let err = parse(&shared_scope, None).unwrap_err().to_string();
        assert!(err.contains("security principal"), "{err}");
    }

    #[test]
    fn the_documented_example_loads_and_its_first_tenant_is_the_builtin_one() {
        let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("examples/directory.toml");
        let mut dir = Directory::from_file(&path).unwrap();
        assert_eq!(dir.tenants.len(), 2);
        let erp = &mut dir.tenants[0].apps[0];
        assert_eq!(erp.certificates.len(), 1);
        assert!(erp.certificates[0].not_after.year() > 2100);
        erp.certificates.clear();
        assert_eq!(dir.tenants[0], Directory::default().tenants[0]);
        let fabrikam = &dir.tenants[1];
        assert!(fabrikam.apps[1].disabled);
        assert_eq!(fabrikam.mailboxes[0].send_as, ["invoices@fabrikam.test"]);
        assert_eq!(fabrikam.policies[0].access_right, AccessRight::DenyAccess);
    }

    #[test]
    fn certificate_paths_are_relative_to_the_file() {
        let dir = std::env::temp_dir().join(format!("gm-emu-dir-{}", std::process::id()));
        std::fs::create_dir_all(dir.join("certs")).unwrap();
        let key =
            rcgen::KeyPair::generate_rsa_for(&rcgen::PKCS_RSA_SHA256, rcgen::RsaKeySize::_2048)
                .unwrap();
        let cert = rcgen::CertificateParams::new(Vec::<String>::new())
            .unwrap()
            .self_signed(&key)
            .unwrap();
        std::fs::write(dir.join("certs/app.pem"), cert.pem()).unwrap();
        std::fs::write(dir.join("certs/app.der"), cert.der()).unwrap();
        let text = SMALL.replace(
            "roles = [\"Mail.Send\"]",
            "roles = [\"Mail.Send\"]\ncertificates = [\"certs/app.pem\", \"certs/app.der\"]",
        );
        std::fs::write(dir.join("directory.toml"), &text).unwrap();
        let err = Directory::from_file(&dir.join("directory.toml"))
            .unwrap_err()
            .to_string();
        assert!(err.contains("listed twice"), "{err}");
        let single = text.replace(", \"certs/app.der\"", "");
        std::fs::write(dir.join("directory.toml"), &single).unwrap();
        let parsed = Directory::from_file(&dir.join("directory.toml")).unwrap();
        assert_eq!(parsed.tenants[0].apps[0].certificates.len(), 1);
        let missing = single.replace("certs/app.pem", "certs/missing.pem");
        assert!(parse(&missing, Some(&dir)).is_err());
        let _ = std::fs::remove_dir_all(&dir);
    }
}
