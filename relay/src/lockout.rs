//! Lock-out after repeated failed logins from one client address, so a
//! password cannot be guessed through the relay at line speed.

use std::collections::HashMap;
use std::net::IpAddr;
use std::sync::Mutex;
use std::time::{Duration, Instant};

use crate::config::LockoutConfig;

pub struct Lockout {
    max_failures: u32,
    window: Duration,
    duration: Duration,
    entries: Mutex<HashMap<IpAddr, Entry>>,
}

struct Entry {
    failures: u32,
    first: Instant,
    locked_until: Option<Instant>,
}

impl Lockout {
    pub fn new(config: &LockoutConfig) -> Lockout {
        Lockout {
            max_failures: config.max_failures.max(1),
            window: Duration::from_secs(config.window_seconds),
            duration: Duration::from_secs(config.duration_seconds),
            entries: Mutex::new(HashMap::new()),
        }
    }

    /// True while `ip` may not try to log in.
    pub fn is_locked(&self, ip: IpAddr) -> bool {
        let now = Instant::now();
        let entries = self.entries.lock().unwrap_or_else(|e| e.into_inner());
        entries
            .get(&ip)
            .and_then(|e| e.locked_until)
            .is_some_and(|until| until > now)
    }

    /// Counts a failed login; returns true when this one locked the address.
    pub fn failed(&self, ip: IpAddr) -> bool {
        let now = Instant::now();
        let mut entries = self.entries.lock().unwrap_or_else(|e| e.into_inner());
        // Keeps the table from growing without end under a scan from many addresses.
        if entries.len() > 100_000 {
            entries.retain(|_, e| {
                e.locked_until.is_some_and(|u| u > now) || now - e.first < self.window
            });
        }
        let entry = entries.entry(ip).or_insert(Entry {
            failures: 0,
            first: now,
            locked_until: None,
        });
        if now - entry.first > self.window || entry.locked_until.is_some_and(|u| u <= now) {
            *entry = Entry {
                failures: 0,
                first: now,
                locked_until: None,
            };
        }
        entry.failures += 1;
        if entry.failures >= self.max_failures {
            entry.locked_until = Some(now + self.duration);
            return true;
        }
        false
    }

    /// A successful login forgets the address's earlier failures.
    pub fn succeeded(&self, ip: IpAddr) {
        let mut entries = self.entries.lock().unwrap_or_else(|e| e.into_inner());
        entries.remove(&ip);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn locks_after_the_configured_failures_and_only_that_address() {
        let lockout = Lockout::new(&LockoutConfig {
            max_failures: 3,
            window_seconds: 60,
            duration_seconds: 60,
        });
        let a: IpAddr = "10.0.0.1".parse().unwrap();
        let b: IpAddr = "10.0.0.2".parse().unwrap();
        assert!(!lockout.failed(a));
        assert!(!lockout.failed(a));
        assert!(!lockout.is_locked(a));
        assert!(lockout.failed(a));
        assert!(lockout.is_locked(a));
        assert!(!lockout.is_locked(b));
    }

    #[test]
    fn success_clears_the_count() {
        let lockout = Lockout::new(&LockoutConfig {
            max_failures: 2,
            window_seconds: 60,
            duration_seconds: 60,
        });
        let a: IpAddr = "::1".parse().unwrap();
        lockout.failed(a);
        lockout.succeeded(a);
        assert!(!lockout.failed(a));
        assert!(!lockout.is_locked(a));
    }
}
