//! Application access policies, evaluated the way Exchange Online does
//! (docs/graph-mail-protocol.md §10): a matching DenyAccess wins; else a matching
//! RestrictAccess grants; else any RestrictAccess for the app denies; else
//! the app may reach the mailbox.
//!
//! Policies take time to apply in Exchange ("up to 30 minutes", sometimes
//! more than an hour). The [`PolicyBook`] stamps each policy when it is
//! created, and a policy counts only once `policy_apply_delay_secs` have
//! passed since its stamp.

use std::sync::Mutex;
use std::time::{Duration, Instant};

use serde::Serialize;
use time::OffsetDateTime;
use time::format_description::well_known::Rfc3339;
use uuid::Uuid;

use crate::clock::Clock;
use crate::directory::{AccessPolicy, AccessRight, Directory, Mailbox, PolicyApps, Tenant};
use crate::state::lock;

/// `Test-ApplicationAccessPolicy`'s answer under the tenant's start-up
/// policies, all in effect (what the banner advertises).
pub(crate) fn access_granted(tenant: &Tenant, app_id: Uuid, mailbox: &Mailbox) -> bool {
    access_granted_under(tenant, &tenant.policies, app_id, mailbox)
}

/// `Test-ApplicationAccessPolicy`'s answer under the given policies: a
/// deny that covers the mailbox wins; otherwise, if any policy restricts
/// the app, one of them must cover it.
pub(crate) fn access_granted_under<'a>(
    tenant: &Tenant,
    policies: impl IntoIterator<Item = &'a AccessPolicy>,
    app_id: Uuid,
    mailbox: &Mailbox,
) -> bool {
    let mut restricted = false;
    let mut restriction_covers = false;
    let applicable = policies.into_iter().filter(|p| match p.app_id {
        PolicyApps::All => true,
        PolicyApps::One(id) => id == app_id,
    });
    for policy in applicable {
        match policy.access_right {
            AccessRight::DenyAccess => {
                if in_scope(tenant, policy, mailbox) {
                    return false;
                }
            }
            AccessRight::RestrictAccess => {
                restricted = true;
                restriction_covers = restriction_covers || in_scope(tenant, policy, mailbox);
            }
        }
    }
    !restricted || restriction_covers
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

/// A policy with the moment it was created (or last re-stamped).
#[derive(Debug, Clone)]
pub(crate) struct StampedPolicy {
    pub id: Uuid,
    pub tenant_id: Uuid,
    pub policy: AccessPolicy,
    /// From the directory at start (`true`) or added through the test API.
    pub startup: bool,
    stamped: Instant,
    stamped_at: OffsetDateTime,
}

/// How `GET /_emulator/policies` shows one policy.
#[derive(Debug, Clone, Serialize)]
pub(crate) struct PolicyView {
    pub id: Uuid,
    pub tenant_id: Uuid,
    pub app_id: PolicyApps,
    pub scope: String,
    pub access_right: AccessRight,
    pub description: Option<String>,
    /// `"startup"` (directory) or `"runtime"` (test API).
    pub source: &'static str,
    /// When it was created or last re-stamped (RFC 3339).
    pub created_at: String,
    /// When it applies: `created_at` + `policy_apply_delay_secs`.
    pub effective_at: String,
    /// Whether it applies now.
    pub in_effect: bool,
}

impl StampedPolicy {
    fn new(id: Uuid, tenant_id: Uuid, policy: AccessPolicy, startup: bool, clock: &Clock) -> Self {
        StampedPolicy {
            id,
            tenant_id,
            policy,
            startup,
            stamped: clock.now(),
            stamped_at: clock.now_utc(),
        }
    }

    fn in_effect(&self, delay: Duration, now: Instant) -> bool {
        now.saturating_duration_since(self.stamped) >= delay
    }

    /// The policy as the test API shows it at `now` (the emulator's clock).
    pub fn view(&self, delay: Duration, now: Instant) -> PolicyView {
        let effective = self.stamped_at + delay;
        PolicyView {
            id: self.id,
            tenant_id: self.tenant_id,
            app_id: self.policy.app_id,
            scope: self.policy.group.clone(),
            access_right: self.policy.access_right,
            description: self.policy.description.clone(),
            source: if self.startup { "startup" } else { "runtime" },
            created_at: self.stamped_at.format(&Rfc3339).unwrap_or_default(),
            effective_at: effective.format(&Rfc3339).unwrap_or_default(),
            in_effect: self.in_effect(delay, now),
        }
    }
}

/// Every tenant's policies as they stand while the emulator runs.
pub(crate) struct PolicyBook {
    startup: Vec<(Uuid, Uuid, AccessPolicy)>,
    live: Mutex<Vec<StampedPolicy>>,
    clock: Clock,
}

impl PolicyBook {
    /// The directory's policies, stamped now.
    pub fn new(directory: &Directory, clock: Clock) -> Self {
        let startup: Vec<(Uuid, Uuid, AccessPolicy)> = directory
            .tenants
            .iter()
            .flat_map(|t| t.policies.iter().map(|p| (Uuid::new_v4(), t.id, p.clone())))
            .collect();
        let book = PolicyBook {
            startup,
            live: Mutex::new(Vec::new()),
            clock,
        };
        book.reset();
        book
    }

    /// Back to the start-up policies, stamped now (as right after start).
    pub fn reset(&self) {
        *lock(&self.live) = self
            .startup
            .iter()
            .map(|(id, tenant, p)| StampedPolicy::new(*id, *tenant, p.clone(), true, &self.clock))
            .collect();
    }

    /// Every policy counts as created now.
    pub fn restamp(&self) {
        let now = self.clock.now();
        let now_utc = self.clock.now_utc();
        for p in lock(&self.live).iter_mut() {
            p.stamped = now;
            p.stamped_at = now_utc;
        }
    }

    /// Adds a policy, stamped now.
    pub fn add(&self, tenant_id: Uuid, policy: AccessPolicy) -> StampedPolicy {
        let stamped = StampedPolicy::new(Uuid::new_v4(), tenant_id, policy, false, &self.clock);
        lock(&self.live).push(stamped.clone());
        stamped
    }

    /// Removes a policy (start-up ones too, until the next reset).
    pub fn remove(&self, id: Uuid) -> bool {
        let mut live = lock(&self.live);
        let before = live.len();
        live.retain(|p| p.id != id);
        live.len() != before
    }

    pub fn all(&self) -> Vec<StampedPolicy> {
        lock(&self.live).clone()
    }

    /// [`access_granted_under`] the tenant's policies that apply now, read
    /// in place: every Graph request asks, and copying the policies was a
    /// tenth of a send's checks.
    pub fn grants(
        &self,
        tenant: &Tenant,
        delay: Duration,
        app_id: Uuid,
        mailbox: &Mailbox,
    ) -> bool {
        let live = lock(&self.live);
        let in_effect = self.applying(&live, tenant.id, delay);
        access_granted_under(tenant, in_effect, app_id, mailbox)
    }

    /// The tenant's policies that apply now.
    pub fn in_effect(&self, tenant_id: Uuid, delay: Duration) -> Vec<AccessPolicy> {
        let live = lock(&self.live);
        self.applying(&live, tenant_id, delay).cloned().collect()
    }

    fn applying<'a>(
        &self,
        live: &'a [StampedPolicy],
        tenant_id: Uuid,
        delay: Duration,
    ) -> impl Iterator<Item = &'a AccessPolicy> {
        let now = self.clock.now();
        live.iter()
            .filter(move |p| p.tenant_id == tenant_id && p.in_effect(delay, now))
            .map(|p| &p.policy)
    }
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
        // The Billing app is scoped like the ERP app.
        assert!(granted(&dir, d::BILLING_CLIENT_ID, d::BILLING_MAILBOX));
        assert!(!granted(&dir, d::BILLING_CLIENT_ID, d::CEO_MAILBOX));
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

    #[test]
    fn policies_apply_after_the_delay() {
        let dir = Directory::default();
        let tenant = &dir.tenants[0];
        let clock = Clock::default();
        let book = PolicyBook::new(&dir, clock.clone());
        let ceo = tenant.mailbox(d::CEO_MAILBOX).unwrap();
        let erp = Uuid::parse_str(d::ERP_CLIENT_ID).unwrap();
        // The ERP, Billing, Outbox, Workload and ERP VM RestrictAccess policies.
        let now = book.in_effect(tenant.id, Duration::ZERO);
        assert_eq!(now.len(), 5);
        assert!(!access_granted_under(tenant, &now, erp, ceo));
        let pending = book.in_effect(tenant.id, Duration::from_secs(60));
        assert!(pending.is_empty());
        assert!(access_granted_under(tenant, &pending, erp, ceo));
        let added = book.add(
            tenant.id,
            AccessPolicy {
                app_id: PolicyApps::All,
                group: d::CEO_MAILBOX.into(),
                access_right: AccessRight::DenyAccess,
                description: None,
            },
        );
        assert_eq!(book.all().len(), 6);
        assert!(!added.view(Duration::from_secs(60), clock.now()).in_effect);
        // The emulator's clock, moved forward, applies it.
        clock.advance(Duration::from_secs(60));
        assert!(added.view(Duration::from_secs(60), clock.now()).in_effect);
        assert_eq!(book.in_effect(tenant.id, Duration::from_secs(60)).len(), 6);
        assert!(book.remove(added.id));
        book.add(tenant.id, added.policy.clone());
        book.reset();
        assert_eq!(book.all().len(), 5);
        assert!(book.all().iter().all(|p| p.startup));
    }
}
