//! The outbox's timings and limits. The defaults follow Postfix (back-off
//! doubling to about an hour, five days' lifetime) and Graph's published
//! limits per mailbox.

use std::time::Duration;

/// How the queue leases, retries and checks mail.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct OutboxSettings {
    /// How long a worker holds a mail it took. A worker that dies gives its
    /// mail back when the lease runs out; such mail is checked in Sent Items
    /// before it is sent again. Must outlast one send and its check.
    pub lease: Duration,
    /// The first wait after a passing failure; it doubles per attempt.
    pub backoff_base: Duration,
    /// The longest wait between attempts.
    pub backoff_cap: Duration,
    /// After this long in the queue a mail that still fails is given up.
    pub lifetime: Duration,
    /// How long to look for an ambiguous send's copy in Sent Items before
    /// deciding it did not go out (the copy appears only after transport).
    pub reconcile_wait: Duration,
    /// The pause between two looks in Sent Items.
    pub reconcile_poll: Duration,
    /// Requests in flight per mailbox across every worker on this queue
    /// (Graph allows 4 per app and mailbox).
    pub max_in_flight_per_mailbox: u32,
    /// Graph's request budget per mailbox: this many requests...
    pub mailbox_budget: u32,
    /// ...per window, across every worker on this queue.
    pub mailbox_budget_window: Duration,
    /// Mails one worker sends at once.
    pub concurrency: usize,
    /// How often an idle worker looks for due mail.
    pub poll_interval: Duration,
}

impl Default for OutboxSettings {
    fn default() -> Self {
        OutboxSettings {
            lease: Duration::from_secs(300),
            backoff_base: Duration::from_secs(60),
            backoff_cap: Duration::from_secs(4000),
            lifetime: Duration::from_secs(5 * 24 * 3600),
            reconcile_wait: Duration::from_secs(60),
            reconcile_poll: Duration::from_secs(2),
            max_in_flight_per_mailbox: crate::limits::MAX_CONCURRENT_PER_MAILBOX as u32,
            mailbox_budget: 10_000,
            mailbox_budget_window: Duration::from_secs(600),
            concurrency: 8,
            poll_interval: Duration::from_secs(1),
        }
    }
}

impl OutboxSettings {
    /// The wait before attempt `attempts + 1` after a passing failure:
    /// Graph's `Retry-After` when it gave one, else the doubling back-off.
    pub(crate) fn backoff(&self, attempts: u32, retry_after: Option<Duration>) -> Duration {
        if let Some(wait) = retry_after {
            return wait;
        }
        let doublings = attempts.saturating_sub(1).min(30);
        self.backoff_base
            .saturating_mul(1u32 << doublings)
            .min(self.backoff_cap)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn backoff_doubles_to_the_cap_and_honours_retry_after() {
        let s = OutboxSettings::default();
        assert_eq!(s.backoff(1, None), Duration::from_secs(60));
        assert_eq!(s.backoff(2, None), Duration::from_secs(120));
        assert_eq!(s.backoff(7, None), Duration::from_secs(3840));
        assert_eq!(s.backoff(8, None), Duration::from_secs(4000));
        assert_eq!(s.backoff(40, None), Duration::from_secs(4000));
        assert_eq!(
            s.backoff(3, Some(Duration::from_secs(7))),
            Duration::from_secs(7)
        );
    }
}
