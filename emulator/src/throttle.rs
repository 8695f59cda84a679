//! Graph's Outlook limits per app and mailbox (docs/graph-mail-protocol.md §8): a cap on
//! concurrent requests ("MailboxConcurrency") and a request budget per
//! sliding window. Both answer 429 with `Retry-After`, and a request that
//! comes back before that time has passed gets another 429 (an early
//! retry, counted), so users can test their own retry code.

use std::collections::{HashMap, VecDeque};
use std::sync::atomic::Ordering;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use uuid::Uuid;

use crate::clock::Clock;
use crate::settings::Settings;
use crate::state::{CounterCells, lock};

type Key = (Uuid, String);

#[derive(Default)]
struct SlotState {
    in_flight: u32,
    /// When each admitted request of the current window arrived, oldest first.
    recent: VecDeque<Instant>,
    /// Until when the last 429's `Retry-After` asks the app to wait.
    retry_not_before: Option<Instant>,
}

impl SlotState {
    fn idle(&self, now: Instant) -> bool {
        self.in_flight == 0
            && self.recent.is_empty()
            && self.retry_not_before.is_none_or(|t| t <= now)
    }
}

/// Concurrency and rate limits for every app+mailbox pair.
#[derive(Default)]
pub(crate) struct Throttle {
    slots: Arc<Mutex<HashMap<Key, SlotState>>>,
    clock: Clock,
}

/// The outcome of asking to start a sendMail request.
pub(crate) enum Admission {
    /// Go ahead; the slot is freed when the guard is dropped, however the
    /// request ends (even when its connection is dropped).
    Admitted(SlotGuard),
    /// Too many requests in flight for this app+mailbox.
    OverConcurrency { retry_after_secs: u64 },
    /// The window's budget is spent.
    OverRate { retry_after_secs: u64 },
    /// The app came back before the last 429's `Retry-After` had passed.
    EarlyRetry { retry_after_secs: u64 },
}

/// Whole seconds until `until`, at least 1 (`Retry-After` has no fractions).
fn seconds_until(until: Instant, now: Instant) -> u64 {
    until
        .saturating_duration_since(now)
        .as_secs_f64()
        .ceil()
        .max(1.0) as u64
}

impl Throttle {
    pub fn new(clock: Clock) -> Self {
        Throttle {
            slots: Arc::default(),
            clock,
        }
    }

    pub fn admit(
        &self,
        app_id: Uuid,
        mailbox: &str,
        settings: &Settings,
        counters: &CounterCells,
    ) -> Admission {
        let key = (app_id, mailbox.to_owned());
        let now = self.clock.now();
        let mut slots = lock(&self.slots);
        let slot = slots.entry(key.clone()).or_default();
        if let Some(until) = slot.retry_not_before.filter(|t| *t > now) {
            return Admission::EarlyRetry {
                retry_after_secs: seconds_until(until, now),
            };
        }
        let refuse = |slot: &mut SlotState, retry_after_secs: u64| {
            slot.in_flight -= 1;
            slot.retry_not_before = Some(now + Duration::from_secs(retry_after_secs));
            retry_after_secs
        };
        slot.in_flight += 1;
        counters
            .max_in_flight
            .fetch_max(u64::from(slot.in_flight), Ordering::Relaxed);
        if slot.in_flight > settings.mailbox_concurrency {
            return Admission::OverConcurrency {
                retry_after_secs: refuse(slot, 1),
            };
        }
        let window = Duration::from_secs(settings.rate_limit_window_secs);
        while slot
            .recent
            .front()
            .is_some_and(|t| now.duration_since(*t) >= window)
        {
            slot.recent.pop_front();
        }
        let limit = settings.rate_limit_requests as usize;
        if slot.recent.len() >= limit {
            // The window frees up when the request `limit` places back ages out.
            let oldest = slot.recent[slot.recent.len() - limit];
            let wait = seconds_until(oldest + window, now);
            return Admission::OverRate {
                retry_after_secs: refuse(slot, wait),
            };
        }
        slot.recent.push_back(now);
        Admission::Admitted(SlotGuard {
            slots: Arc::clone(&self.slots),
            key: Some(key),
            clock: self.clock.clone(),
        })
    }

    /// Forgets the rate windows and pending `Retry-After`s; requests still
    /// in flight keep their slots.
    pub fn reset(&self) {
        let mut slots = lock(&self.slots);
        slots.retain(|_, s| {
            s.recent.clear();
            s.retry_not_before = None;
            s.in_flight > 0
        });
    }
}

/// Holds one concurrency slot.
pub(crate) struct SlotGuard {
    slots: Arc<Mutex<HashMap<Key, SlotState>>>,
    key: Option<Key>,
    clock: Clock,
}

impl Drop for SlotGuard {
    fn drop(&mut self) {
        let Some(key) = self.key.take() else { return };
        let mut slots = lock(&self.slots);
        if let Some(slot) = slots.get_mut(&key) {
            slot.in_flight = slot.in_flight.saturating_sub(1);
            if slot.idle(self.clock.now()) {
                slots.remove(&key);
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn concurrency_and_rate() {
        let throttle = Throttle::default();
        let counters = CounterCells::default();
        let settings = Settings {
            mailbox_concurrency: 2,
            rate_limit_requests: 3,
            ..Settings::default()
        };
        let app = Uuid::new_v4();
        let a = throttle.admit(app, "x@y.test", &settings, &counters);
        let b = throttle.admit(app, "x@y.test", &settings, &counters);
        assert!(matches!(a, Admission::Admitted(_)));
        assert!(matches!(b, Admission::Admitted(_)));
        assert!(matches!(
            throttle.admit(app, "x@y.test", &settings, &counters),
            Admission::OverConcurrency { .. }
        ));
        assert_eq!(counters.snapshot().max_in_flight, 3);
        // Another mailbox has its own slots.
        assert!(matches!(
            throttle.admit(app, "z@y.test", &settings, &counters),
            Admission::Admitted(_)
        ));
        drop(a);
        drop(b);
        // A slot is free again, but the 429's Retry-After has not passed.
        assert!(matches!(
            throttle.admit(app, "x@y.test", &settings, &counters),
            Admission::EarlyRetry {
                retry_after_secs: 1
            }
        ));
        throttle.reset();
        for _ in 0..3 {
            assert!(matches!(
                throttle.admit(app, "x@y.test", &settings, &counters),
                Admission::Admitted(_)
            ));
        }
        match throttle.admit(app, "x@y.test", &settings, &counters) {
            Admission::OverRate { retry_after_secs } => assert!(retry_after_secs >= 599),
            _ => panic!("the fourth request in the window must be refused"),
        }
    }
}
