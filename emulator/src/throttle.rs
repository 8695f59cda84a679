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
    /// The requests admitted in the current window.
    recent: RateWindow,
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

/// Slices a window is kept in.
const SLICES: u32 = 1000;

/// The requests admitted in the last window, counted in at most about
/// [`SLICES`] slices of it, so that its memory is bounded whatever the
/// limit: a limit raised to turn throttling off (the benchmarks do) would
/// otherwise keep every request's time for the whole window, 15 million
/// of them at 25,000 sends a second over Graph's 10 minutes. A slice
/// leaves the window when its last request does, so a request is counted
/// at most a thousandth of the window too long, never too short.
#[derive(Default)]
struct RateWindow {
    slices: VecDeque<Slice>,
    /// The requests in `slices`.
    admitted: u64,
}

struct Slice {
    start: Instant,
    last: Instant,
    requests: u64,
}

impl RateWindow {
    fn is_empty(&self) -> bool {
        self.slices.is_empty()
    }

    fn clear(&mut self) {
        self.slices.clear();
        self.admitted = 0;
    }

    /// Forgets the slices whose last request is a whole window old.
    fn age_out(&mut self, now: Instant, window: Duration) {
        while let Some(requests) = self
            .slices
            .front()
            .filter(|s| now.duration_since(s.last) >= window)
            .map(|s| s.requests)
        {
            self.admitted -= requests;
            self.slices.pop_front();
        }
    }

    /// When the request `back` places from the newest leaves the window.
    fn frees_at(&self, back: u64, window: Duration) -> Option<Instant> {
        let mut seen = 0;
        self.slices.iter().rev().find_map(|slice| {
            seen += slice.requests;
            (seen >= back).then_some(slice.last + window)
        })
    }

    fn admit(&mut self, now: Instant, window: Duration) {
        let width = window / SLICES;
        match self.slices.back_mut() {
            Some(slice) if now.duration_since(slice.start) < width => {
                slice.last = now;
                slice.requests += 1;
            }
            _ => self.slices.push_back(Slice {
                start: now,
                last: now,
                requests: 1,
            }),
        }
        self.admitted += 1;
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
        slot.recent.age_out(now, window);
        let limit = u64::from(settings.rate_limit_requests);
        if slot.recent.admitted >= limit {
            // The window frees up when the request `limit` places back ages out.
            let frees_at = slot.recent.frees_at(limit, window).unwrap_or(now);
            let wait = seconds_until(frees_at, now);
            return Admission::OverRate {
                retry_after_secs: refuse(slot, wait),
            };
        }
        slot.recent.admit(now, window);
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
    fn a_window_stays_small_whatever_the_rate() {
        let window = Duration::from_secs(600);
        let start = Instant::now();
        let mut recent = RateWindow::default();
        // 25,000 requests a second for 12 minutes: more than a window.
        for i in 0..18_000_000u64 {
            let now = start + Duration::from_micros(i * 40);
            recent.age_out(now, window);
            recent.admit(now, window);
        }
        assert!(
            recent.slices.len() <= SLICES as usize + 2,
            "{}",
            recent.slices.len()
        );
        // The last 600 s hold 15 million, give or take a slice.
        let slice = 25_000 * 600 / u64::from(SLICES);
        assert!(
            recent.admitted.abs_diff(15_000_000) <= slice,
            "{}",
            recent.admitted
        );
    }

    #[test]
    fn a_request_leaves_the_window_with_its_slice_and_never_early() {
        let window = Duration::from_secs(600);
        let t0 = Instant::now();
        let mut recent = RateWindow::default();
        recent.admit(t0, window);
        recent.admit(t0 + Duration::from_millis(100), window);
        recent.admit(t0 + Duration::from_secs(10), window);
        assert_eq!(
            recent.slices.len(),
            2,
            "the first two share a slice (0.6 s wide)"
        );
        // The second newest arrived at 100 ms: its slice's last request.
        assert_eq!(
            recent.frees_at(2, window),
            Some(t0 + Duration::from_millis(100) + window)
        );
        assert_eq!(recent.frees_at(4, window), None);
        // At 600 s the first request is a window old, but its slice's last
        // is not: both still count.
        recent.age_out(t0 + window, window);
        assert_eq!(recent.admitted, 3);
        recent.age_out(t0 + window + Duration::from_millis(100), window);
        assert_eq!(recent.admitted, 1);
        recent.age_out(t0 + window + Duration::from_secs(10), window);
        assert!(recent.is_empty());
        assert_eq!(recent.admitted, 0);
    }

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
