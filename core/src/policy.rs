//! The local sender allowlist: the mailboxes (or whole domains) this mailer may
//! send as. It mirrors the tenant's own restriction (RBAC for Applications or
//! an application access policy) as defence in depth: a bug or a tampered
//! input in the calling program cannot make it send as the CEO, even while the
//! tenant's restriction is missing or still spreading.

use crate::address::{check_address, printable};
use crate::error::{Error, ErrorKind, Result};

/// The senders a mailer may use. Empty means no local restriction.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct SenderPolicy {
    mailboxes: Vec<String>,
    domains: Vec<String>,
}

impl SenderPolicy {
    /// Parses entries: a mailbox (`erp@contoso.com`) or a whole domain
    /// (`@contoso.com`, `*@contoso.com`). Matching ignores case.
    pub fn new<I, S>(entries: I) -> Result<Self>
    where
        I: IntoIterator<Item = S>,
        S: AsRef<str>,
    {
        let mut policy = SenderPolicy::default();
        for (i, entry) in entries.into_iter().enumerate() {
            let entry = entry.as_ref().trim();
            let field = format!("allowed_senders[{i}]");
            if entry.is_empty() {
                continue;
            }
            let lower = entry.to_lowercase();
            if let Some(domain) = lower.strip_prefix("*@").or_else(|| lower.strip_prefix('@')) {
                check_address(&field, &format!("x@{domain}")).map_err(|_| {
                    Error::config(&field, format!("'{}' is not a domain", printable(entry)))
                })?;
                policy.domains.push(domain.to_owned());
            } else {
                check_address(&field, &lower).map_err(|_| {
                    Error::config(
                        &field,
                        format!(
                            "'{}' is neither a mailbox (erp@contoso.com) nor a domain (@contoso.com)",
                            printable(entry)
                        ),
                    )
                })?;
                policy.mailboxes.push(lower);
            }
        }
        Ok(policy)
    }

    /// True when no restriction is configured.
    pub fn is_unrestricted(&self) -> bool {
        self.mailboxes.is_empty() && self.domains.is_empty()
    }

    /// True when the mailer may send as `sender`.
    pub fn allows(&self, sender: &str) -> bool {
        if self.is_unrestricted() {
            return true;
        }
        let sender = sender.to_lowercase();
        self.mailboxes.contains(&sender)
            || sender
                .rsplit_once('@')
                .is_some_and(|(_, domain)| self.domains.iter().any(|d| d == domain))
    }

    /// Refuses a sender outside the list, before any token is requested.
    pub fn check(&self, sender: &str) -> Result<()> {
        if self.allows(sender) {
            return Ok(());
        }
        Err(Error::new(
            ErrorKind::SenderNotAllowed,
            format!(
                "sender '{}' is not in this mailer's allowed senders; nothing was sent",
                printable(sender)
            ),
        )
        .with_field("sender")
        .with_hint(format!(
            "allowed: {}. Add it to GRAPHMAILER_ALLOWED_SENDERS (or allowed_senders) only if the \
             tenant's RBAC scope or application access policy lets the app send as it too.",
            self.describe()
        )))
    }

    /// The entries as normalised: mailboxes, then `@domain`s.
    pub fn entries(&self) -> Vec<String> {
        let mut all = self.mailboxes.clone();
        all.extend(self.domains.iter().map(|d| format!("@{d}")));
        all
    }

    /// The entries, as a person would write them.
    pub fn describe(&self) -> String {
        self.entries().join(", ")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn mailboxes_and_domains_match_without_case() {
        let p =
            SenderPolicy::new(["ERP@contoso.test", "@billing.contoso.test", "*@ops.test"]).unwrap();
        assert!(p.allows("erp@CONTOSO.test"));
        assert!(p.allows("anyone@billing.contoso.test"));
        assert!(p.allows("x@ops.test"));
        assert!(!p.allows("ceo@contoso.test"));
        assert!(!p.allows("x@sub.billing.contoso.test"));
        let e = p.check("ceo@contoso.test").unwrap_err();
        assert_eq!(e.kind(), ErrorKind::SenderNotAllowed);
        assert!(e.hint().unwrap().contains("erp@contoso.test"));
    }

    #[test]
    fn empty_allows_all_and_bad_entries_name_their_index() {
        assert!(
            SenderPolicy::new(Vec::<String>::new())
                .unwrap()
                .allows("ceo@contoso.test")
        );
        let e = SenderPolicy::new(["erp@contoso.test", "not an address"]).unwrap_err();
        assert_eq!(e.field(), Some("allowed_senders[1]"));
        assert_eq!(e.kind(), ErrorKind::Config);
    }
}
