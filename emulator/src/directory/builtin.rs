//! The built-in directory, built from the constants in [`crate::defaults`].

use time::OffsetDateTime;
use time::format_description::well_known::Rfc3339;
use uuid::Uuid;

use super::{
    AccessPolicy, AccessRight, App, Directory, FederatedCredential, Group, Mailbox, MailboxKind,
    ManagedIdentityKind, PolicyApps, Secret, Tenant,
};
use crate::defaults as d;

/// The constants are checked by the unit tests, so a typo fails there
/// rather than at a caller's start-up.
fn id(text: &str) -> Uuid {
    Uuid::parse_str(text).unwrap_or_default()
}

fn secret(id_text: &str, value: &str, expires_at: Option<&str>) -> Secret {
    Secret {
        id: id(id_text),
        value: value.to_owned(),
        expires_at: expires_at.and_then(|t| OffsetDateTime::parse(t, &Rfc3339).ok()),
    }
}

fn app(client_id: &str, object_id: &str, name: &str, roles: &[&str], secrets: Vec<Secret>) -> App {
    App {
        client_id: id(client_id),
        object_id: id(object_id),
        display_name: name.to_owned(),
        roles: roles.iter().map(|r| (*r).to_owned()).collect(),
        secrets,
        disabled: false,
        certificates: Vec::new(),
        federated_credentials: Vec::new(),
        managed_identity: None,
    }
}

fn managed_identity(
    kind: ManagedIdentityKind,
    client_id: &str,
    object_id: &str,
    name: &str,
    roles: &[&str],
) -> App {
    App {
        managed_identity: Some(kind),
        ..app(client_id, object_id, name, roles, Vec::new())
    }
}

/// Restricts an app to the members of `erp-senders@`, as the ERP app is.
fn erp_senders_only(client_id: &str, description: &str) -> AccessPolicy {
    AccessPolicy {
        app_id: PolicyApps::One(id(client_id)),
        group: d::ERP_SENDERS_GROUP.to_owned(),
        access_right: AccessRight::RestrictAccess,
        description: Some(description.to_owned()),
    }
}

fn mailbox(address: &str, object_id: &str, kind: MailboxKind, name: &str) -> Mailbox {
    Mailbox {
        address: address.to_owned(),
        id: id(object_id),
        kind,
        display_name: Some(name.to_owned()),
        send_as: Vec::new(),
    }
}

impl Default for Directory {
    /// The Contoso scenario described in [`crate::defaults`].
    fn default() -> Self {
        let tenant = Tenant {
            id: id(d::TENANT_ID),
            domains: vec![
                d::TENANT_DOMAIN.to_owned(),
                d::TENANT_INITIAL_DOMAIN.to_owned(),
            ],
            apps: vec![
                app(
                    d::ERP_CLIENT_ID,
                    d::ERP_OBJECT_ID,
                    d::ERP_DISPLAY_NAME,
                    &["Mail.Send"],
                    vec![
                        secret(d::ERP_SECRET_ID, d::ERP_SECRET, None),
                        secret(
                            d::ERP_EXPIRED_SECRET_ID,
                            d::ERP_EXPIRED_SECRET,
                            Some(d::ERP_EXPIRED_SECRET_EXPIRES_AT),
                        ),
                    ],
                ),
                app(
                    d::REPORTING_CLIENT_ID,
                    d::REPORTING_OBJECT_ID,
                    d::REPORTING_DISPLAY_NAME,
                    &["User.Read.All"],
                    vec![secret(d::REPORTING_SECRET_ID, d::REPORTING_SECRET, None)],
                ),
                app(
                    d::INTRANET_CLIENT_ID,
                    d::INTRANET_OBJECT_ID,
                    d::INTRANET_DISPLAY_NAME,
                    &[],
                    vec![secret(d::INTRANET_SECRET_ID, d::INTRANET_SECRET, None)],
                ),
                app(
                    d::LEGACY_SYNC_CLIENT_ID,
                    d::LEGACY_SYNC_OBJECT_ID,
                    d::LEGACY_SYNC_DISPLAY_NAME,
                    d::LEGACY_SYNC_ROLES,
                    vec![secret(
                        d::LEGACY_SYNC_SECRET_ID,
                        d::LEGACY_SYNC_SECRET,
                        None,
                    )],
                ),
                // After the ERP app, so the banner keeps advertising it.
                app(
                    d::BILLING_CLIENT_ID,
                    d::BILLING_OBJECT_ID,
                    d::BILLING_DISPLAY_NAME,
                    d::BILLING_ROLES,
                    vec![secret(d::BILLING_SECRET_ID, d::BILLING_SECRET, None)],
                ),
                app(
                    d::OUTBOX_CLIENT_ID,
                    d::OUTBOX_OBJECT_ID,
                    d::OUTBOX_DISPLAY_NAME,
                    d::OUTBOX_ROLES,
                    vec![secret(d::OUTBOX_SECRET_ID, d::OUTBOX_SECRET, None)],
                ),
                App {
                    federated_credentials: vec![FederatedCredential {
                        name: d::WORKLOAD_CREDENTIAL_NAME.to_owned(),
                        issuer: format!("{}{}", d::EMULATOR_URL_PLACEHOLDER, d::OIDC_ISSUER_PATH),
                        subject: d::WORKLOAD_SUBJECT.to_owned(),
                        audiences: vec![d::FEDERATED_AUDIENCE.to_owned()],
                        jwks: None,
                    }],
                    ..app(
                        d::WORKLOAD_CLIENT_ID,
                        d::WORKLOAD_OBJECT_ID,
                        d::WORKLOAD_DISPLAY_NAME,
                        &["Mail.Send"],
                        Vec::new(),
                    )
                },
                managed_identity(
                    ManagedIdentityKind::SystemAssigned,
                    d::VM_IDENTITY_CLIENT_ID,
                    d::VM_IDENTITY_OBJECT_ID,
                    d::VM_IDENTITY_DISPLAY_NAME,
                    &["Mail.Send"],
                ),
                managed_identity(
                    ManagedIdentityKind::UserAssigned,
                    d::REPORTS_IDENTITY_CLIENT_ID,
                    d::REPORTS_IDENTITY_OBJECT_ID,
                    d::REPORTS_IDENTITY_DISPLAY_NAME,
                    &["User.Read.All"],
                ),
            ],
            mailboxes: vec![
                mailbox(
                    d::ERP_MAILBOX,
                    d::ERP_MAILBOX_ID,
                    MailboxKind::User,
                    "ERP Service",
                ),
                mailbox(
                    d::CEO_MAILBOX,
                    d::CEO_MAILBOX_ID,
                    MailboxKind::User,
                    "Chief Executive",
                ),
                mailbox(
                    d::BILLING_MAILBOX,
                    d::BILLING_MAILBOX_ID,
                    MailboxKind::Shared,
                    "Billing",
                ),
                mailbox(
                    d::LEGACY_MAILBOX,
                    d::LEGACY_MAILBOX_ID,
                    MailboxKind::Unlicensed,
                    "Legacy System",
                ),
            ],
            groups: vec![Group {
                address: d::ERP_SENDERS_GROUP.to_owned(),
                id: id(d::ERP_SENDERS_GROUP_ID),
                members: vec![
                    d::ERP_MAILBOX.to_owned(),
                    d::BILLING_MAILBOX.to_owned(),
                    d::LEGACY_MAILBOX.to_owned(),
                ],
            }],
            policies: vec![
                erp_senders_only(
                    d::ERP_CLIENT_ID,
                    "ERP may send only as erp-senders@ members",
                ),
                // Mail.ReadWrite reaches every mailbox unless scoped, so the
                // Billing app gets the same restriction as the ERP app.
                erp_senders_only(
                    d::BILLING_CLIENT_ID,
                    "Billing may reach only erp-senders@ members",
                ),
                erp_senders_only(
                    d::OUTBOX_CLIENT_ID,
                    "Outbox may reach only erp-senders@ members",
                ),
                erp_senders_only(
                    d::WORKLOAD_CLIENT_ID,
                    "Workload may send only as erp-senders@ members",
                ),
                erp_senders_only(
                    d::VM_IDENTITY_CLIENT_ID,
                    "ERP VM may send only as erp-senders@ members",
                ),
            ],
        };
        Directory {
            tenants: vec![tenant],
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_constant_parses() {
        for text in [
            d::TENANT_ID,
            d::ERP_CLIENT_ID,
            d::ERP_OBJECT_ID,
            d::ERP_SECRET_ID,
            d::ERP_EXPIRED_SECRET_ID,
            d::REPORTING_CLIENT_ID,
            d::REPORTING_OBJECT_ID,
            d::REPORTING_SECRET_ID,
            d::INTRANET_CLIENT_ID,
            d::INTRANET_OBJECT_ID,
            d::INTRANET_SECRET_ID,
            d::LEGACY_SYNC_CLIENT_ID,
            d::LEGACY_SYNC_OBJECT_ID,
            d::LEGACY_SYNC_SECRET_ID,
            d::BILLING_CLIENT_ID,
            d::BILLING_OBJECT_ID,
            d::BILLING_SECRET_ID,
            d::ERP_MAILBOX_ID,
            d::CEO_MAILBOX_ID,
            d::BILLING_MAILBOX_ID,
            d::LEGACY_MAILBOX_ID,
            d::ERP_SENDERS_GROUP_ID,
            d::WORKLOAD_CLIENT_ID,
            d::WORKLOAD_OBJECT_ID,
            d::VM_IDENTITY_CLIENT_ID,
            d::VM_IDENTITY_OBJECT_ID,
            d::REPORTS_IDENTITY_CLIENT_ID,
            d::REPORTS_IDENTITY_OBJECT_ID,
        ] {
            let parsed = Uuid::parse_str(text).unwrap();
            assert_eq!(parsed.to_string(), text);
        }
        assert!(OffsetDateTime::parse(d::ERP_EXPIRED_SECRET_EXPIRES_AT, &Rfc3339).is_ok());
    }
}
