//! When to try again, and how long to wait.
//!
//! The rules, written down once:
//! - token requests are idempotent: any network failure, 429, 500, 502, 503 or
//!   504 is retried;
//! - `sendMail` is not idempotent: it is retried after 429 and 503 (the service
//!   says it did not take the request), after a connection that failed before
//!   the request was written, and once after a 401 with a fresh token. A
//!   failure after the body may have been written, and any 5xx but 503 (a
//!   gateway or server that may have handed the mail on), are reported as
//!   ambiguous and never retried, so no mail goes out twice;
//! - waits grow exponentially with jitter, never shorter than the service's
//!   `Retry-After`, and stop at `max_attempts` or when the next wait would end
//!   past the `deadline`.

use std::time::{Duration, Instant};

use rand::Rng;
use reqwest::header::{HeaderMap, RETRY_AFTER};

use crate::error::Error;

/// The retry rules of a mailer.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct RetryPolicy {
    /// Attempts per request, the first included.
    pub max_attempts: u32,
    /// No retry starts once this much time has passed since the first attempt.
    pub deadline: Duration,
    /// The first wait, before jitter.
    pub base_delay: Duration,
    /// The longest wait between two attempts, unless `Retry-After` asks for more.
    pub max_delay: Duration,
}

impl Default for RetryPolicy {
    fn default() -> Self {
        RetryPolicy {
            max_attempts: 4,
            deadline: Duration::from_secs(60),
            base_delay: Duration::from_millis(500),
            max_delay: Duration::from_secs(30),
        }
    }
}

impl RetryPolicy {
    /// The wait before the next attempt after `failed` attempts, or `None`
    /// when the attempts or the deadline are spent.
    pub(crate) fn next_delay(
        &self,
        failed: u32,
        started: Instant,
        retry_after: Option<Duration>,
    ) -> Option<Duration> {
        if failed >= self.max_attempts {
            return None;
        }
        let exponent = failed.saturating_sub(1).min(16);
        let ceiling = self
            .base_delay
            .saturating_mul(1 << exponent)
            .min(self.max_delay);
        // Half fixed, half random: spreads out clients throttled together.
        let jitter = rand::rng().random_range(0.5..=1.0);
        let delay = ceiling.mul_f64(jitter).max(retry_after.unwrap_or_default());
        (started.elapsed() + delay <= self.deadline).then_some(delay)
    }
}

/// The one retry driver: the token request, Graph requests and upload chunks
/// each keep one of these per request, report every failure their own rules
/// call retryable to [`Attempts::wait_after`], and stop when it gives the
/// error back.
pub(crate) struct Attempts<'a> {
    policy: &'a RetryPolicy,
    started: Instant,
    failed: u32,
}

impl<'a> Attempts<'a> {
    pub(crate) fn new(policy: &'a RetryPolicy) -> Self {
        Attempts {
            policy,
            started: Instant::now(),
            failed: 0,
        }
    }

    /// Counts `error` as a failed attempt and waits before the next one, or
    /// gives `error` back, noting what was spent, when the attempts or the
    /// deadline are used up. `what` goes into the log line (never a secret).
    pub(crate) async fn wait_after(&mut self, error: Error, what: &str) -> Result<(), Error> {
        self.failed += 1;
        match self
            .policy
            .next_delay(self.failed, self.started, error.retry_after())
        {
            Some(delay) => {
                tracing::warn!(attempt = self.failed, delay_ms = delay.as_millis() as u64, error = %error.message(), "{what}");
                tokio::time::sleep(delay).await;
                Ok(())
            }
            None => Err(error),
        }
    }

    /// The last retryable error, saying how long was spent.
    pub(crate) fn gave_up(&self, error: Error, attempts: u32) -> Error {
        error.with_note(&format!(
            "gave up after {attempts} attempts in {:.1} s",
            self.started.elapsed().as_secs_f64()
        ))
    }

    /// How many attempts failed so far.
    pub(crate) fn failed(&self) -> u32 {
        self.failed
    }

    /// Runs `attempt` until it succeeds, fails with an error that is not
    /// retryable, or the policy is spent: the whole loop of a request whose
    /// only rule is "retry what is retryable" (the token requests).
    pub(crate) async fn until_done<T, Fut>(
        policy: &RetryPolicy,
        what: &str,
        mut attempt: impl FnMut() -> Fut,
    ) -> Result<T, Error>
    where
        Fut: std::future::Future<Output = Result<T, Error>>,
    {
        let mut attempts = Attempts::new(policy);
        loop {
            match attempt().await {
                Ok(done) => return Ok(done),
                Err(e) if e.kind().is_retryable() => attempts.wait_after(e, what).await?,
                Err(e) => return Err(e),
            }
        }
    }

    /// Starts the count again: an upload that moved forward has new attempts
    /// and a new deadline for its next chunk.
    pub(crate) fn restart(&mut self) {
        self.started = Instant::now();
        self.failed = 0;
    }
}

/// The `Retry-After` header: seconds (what Graph sends), or an HTTP date
/// (which RFC 9110 allows as well), capped at an hour.
pub(crate) fn retry_after(headers: &HeaderMap) -> Option<Duration> {
    const CAP: Duration = Duration::from_secs(3600);
    let value = headers.get(RETRY_AFTER)?.to_str().ok()?.trim();
    let wait = match value.parse::<f64>() {
        // Capped before the conversion, which panics past u64 seconds.
        Ok(seconds) if seconds.is_finite() && seconds >= 0.0 => {
            Duration::from_secs_f64(seconds.min(CAP.as_secs_f64()))
        }
        Ok(_) => return None,
        Err(_) => httpdate::parse_http_date(value)
            .ok()?
            .duration_since(std::time::SystemTime::now())
            .unwrap_or_default(),
    };
    Some(wait.min(CAP))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn waits_grow_honour_retry_after_and_stop() {
        let p = RetryPolicy::default();
        let now = Instant::now();
        let first = p.next_delay(1, now, None).unwrap();
        assert!(first >= Duration::from_millis(250) && first <= Duration::from_millis(500));
        let third = p.next_delay(3, now, None).unwrap();
        assert!(third >= Duration::from_secs(1) && third <= Duration::from_secs(2));
        assert_eq!(
            p.next_delay(1, now, Some(Duration::from_secs(7))),
            Some(Duration::from_secs(7))
        );
        assert_eq!(p.next_delay(4, now, None), None);
        assert_eq!(p.next_delay(1, now, Some(Duration::from_secs(61))), None);
    }

    #[test]
    fn retry_after_reads_seconds() {
        let mut h = HeaderMap::new();
        h.insert(RETRY_AFTER, "3".parse().unwrap());
        assert_eq!(retry_after(&h), Some(Duration::from_secs(3)));
        h.insert(RETRY_AFTER, "soon".parse().unwrap());
        assert_eq!(retry_after(&h), None);
        let later = std::time::SystemTime::now() + Duration::from_secs(120);
        h.insert(RETRY_AFTER, httpdate::fmt_http_date(later).parse().unwrap());
        let wait = retry_after(&h).unwrap();
        assert!(
            wait > Duration::from_secs(100) && wait <= Duration::from_secs(120),
            "{wait:?}"
        );
        h.insert(
            RETRY_AFTER,
            "Mon, 23 Nov 2020 16:20:00 GMT".parse().unwrap(),
        );
        assert_eq!(retry_after(&h), Some(Duration::ZERO));
        // A server's absurd value is capped, not a panic on the send's path.
        for absurd in ["1e20", "99999999999999999999999"] {
            h.insert(RETRY_AFTER, absurd.parse().unwrap());
            assert_eq!(retry_after(&h), Some(Duration::from_secs(3600)), "{absurd}");
        }
    }
}
