//! Application access policies, evaluated the way Exchange Online does
//! (reference §10): a matching DenyAccess wins; else a matching
//! RestrictAccess grants; else any RestrictAccess for the app denies; else
//! the app may reach the mailbox.

use uuid::Uuid;

use crate::directory::{AccessPolicy, AccessRight, Mailbox, PolicyApps, Tenant};

/// `Test-ApplicationAccessPolicy`'s answer.
pub(crate) fn access_granted(tenant: &Tenant, app_id: Uuid, mailbox: &Mailbox) -> bool {
    let applicable: Vec<&AccessPolicy> = tenant
        .policies
        .iter()
        .filter(|p| match p.app_id {
            PolicyApps::All => true,
            PolicyApps::One(id) => id == app_id,
        })
        .collect();
    let covers = |p: &&AccessPolicy| in_scope(tenant, p, mailbox);
    if applicable
        .iter()
        .filter(|p| p.access_right == AccessRight::DenyAccess)
        .any(covers)
    {
        return false;
    }
    let mut restricts = applicable
        .iter()
        .filter(|p| p.access_right == AccessRight::RestrictAccess)
        .peekable();
    if restricts.peek().is_none() {
        return true;
    }
    restricts.any(covers)
}

/// Whether the mailbox is the policy's scope or a member of the scope group.
fn in_scope(tenant: &Tenant, policy: &AccessPolicy, mailbox: &Mailbox) -> bool {
    if policy.group == mailbox.address {
        return true;
    }
    tenant
        .group(&policy.group)
        .is_some_and(|g| g.members.contains(&mailbox.address))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::defaults as d;
    use crate::directory::{Directory, Group, MailboxKind};

    fn granted(dir: &Directory, app: &str, address: &str) -> bool {
        let tenant = &dir.tenants[0];
        let mailbox = tenant.mailbox(address).unwrap();
        access_granted(tenant, Uuid::parse_str(app).unwrap(), mailbox)
    }

    #[test]
    fn default_restrict_policy() {
        let dir = Directory::default();
        assert!(granted(&dir, d::ERP_CLIENT_ID, d::ERP_MAILBOX));
        assert!(granted(&dir, d::ERP_CLIENT_ID, d::BILLING_MAILBOX));
        assert!(!granted(&dir, d::ERP_CLIENT_ID, d::CEO_MAILBOX));
        // No policy names the Reporting app: it may reach any mailbox.
        assert!(granted(&dir, d::REPORTING_CLIENT_ID, d::CEO_MAILBOX));
    }

    #[test]
    fn deny_wins_over_restrict() {
        let mut dir = Directory::default();
        let tenant = &mut dir.tenants[0];
        tenant.groups.push(Group {
            address: "vip@contoso.test".into(),
            id: Uuid::new_v4(),
            members: vec![d::ERP_MAILBOX.into(), d::CEO_MAILBOX.into()],
        });
        tenant.policies.push(AccessPolicy {
            app_id: PolicyApps::All,
            group: "vip@contoso.test".into(),
            access_right: AccessRight::DenyAccess,
            description: None,
        });
        assert!(!granted(&dir, d::ERP_CLIENT_ID, d::ERP_MAILBOX));
        assert!(granted(&dir, d::ERP_CLIENT_ID, d::BILLING_MAILBOX));
        assert!(!granted(&dir, d::REPORTING_CLIENT_ID, d::CEO_MAILBOX));
        assert!(granted(&dir, d::REPORTING_CLIENT_ID, d::BILLING_MAILBOX));
        assert_eq!(
            dir.tenants[0].mailbox(d::BILLING_MAILBOX).unwrap().kind,
            MailboxKind::Shared
        );
    }
}
