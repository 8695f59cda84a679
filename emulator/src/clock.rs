//! The emulator's time: the wall clock plus an offset that tests move
//! forward through the test API (`POST /_emulator/clock/advance`), so a
//! policy's apply delay, an upload session's lifetime, a token's expiry or
//! a throttling window passes without the test sleeping.

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use time::OffsetDateTime;

/// Shared by every part of one emulator that reads the time.
#[derive(Clone, Default, Debug)]
pub(crate) struct Clock {
    offset_ms: Arc<AtomicU64>,
}

impl Clock {
    pub fn offset(&self) -> Duration {
        Duration::from_millis(self.offset_ms.load(Ordering::Relaxed))
    }

    pub fn now(&self) -> Instant {
        Instant::now() + self.offset()
    }

    pub fn now_utc(&self) -> OffsetDateTime {
        OffsetDateTime::now_utc() + self.offset()
    }

    /// Moves the emulator's time forward (never back: instants taken
    /// before stay in the past).
    pub fn advance(&self, by: Duration) {
        let ms = u64::try_from(by.as_millis()).unwrap_or(u64::MAX);
        self.offset_ms.fetch_add(ms, Ordering::Relaxed);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn advancing_moves_both_clocks() {
        let clock = Clock::default();
        let (before, before_utc) = (clock.now(), clock.now_utc());
        clock.advance(Duration::from_secs(90));
        assert!(clock.now() >= before + Duration::from_secs(90));
        assert!(clock.now_utc() >= before_utc + time::Duration::seconds(90));
        assert_eq!(clock.offset(), Duration::from_secs(90));
    }
}
