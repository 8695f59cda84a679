//! `verify`: the check Microsoft's guidance asks administrators to do by hand
//! after restricting the app. Each permitted sender must be able to send and
//! each other sender must be refused with access denied. Every attempt sends a
//! short test message to the sender's own mailbox, so nothing reaches anyone
//! else even when the restriction does not hold.
//!
//! The local allowlist is deliberately not applied here: the point is to test
//! the tenant's own restriction.

use std::time::{Duration, Instant};

use crate::address::check_address;
use crate::client::Body;
use crate::error::{Error, ErrorKind, Result};
use crate::mailer::Mailer;
use crate::message::Message;
use crate::wire;

/// What a sender should be able to do.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Expectation {
    Allowed,
    Denied,
}

/// What happened when the sender tried.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Observed {
    /// Graph accepted the test message.
    Sent,
    /// Graph refused with access denied.
    Denied,
    /// Something else went wrong, which proves nothing either way.
    Failed,
}

impl Expectation {
    pub fn name(self) -> &'static str {
        match self {
            Expectation::Allowed => "allowed",
            Expectation::Denied => "denied",
        }
    }
}

impl Observed {
    pub fn name(self) -> &'static str {
        match self {
            Observed::Sent => "sent",
            Observed::Denied => "denied",
            Observed::Failed => "failed",
        }
    }
}

/// One sender's result.
#[derive(Clone, Debug)]
pub struct VerifyRow {
    pub sender: String,
    pub expected: Expectation,
    pub observed: Observed,
    /// The service's code (`ErrorAccessDenied`, ...), when it refused.
    pub code: Option<String>,
    pub request_id: Option<String>,
    /// A sentence for people.
    pub detail: String,
}

impl VerifyRow {
    /// True when what happened is what should happen.
    pub fn passed(&self) -> bool {
        matches!(
            (self.expected, self.observed),
            (Expectation::Allowed, Observed::Sent) | (Expectation::Denied, Observed::Denied)
        )
    }
}

/// The result of one round of checks.
#[derive(Clone, Debug)]
pub struct Verification {
    pub rows: Vec<VerifyRow>,
    /// Which round this is (1 for the first).
    pub round: u32,
}

impl Verification {
    /// True when every sender did what it should.
    pub fn holds(&self) -> bool {
        !self.rows.is_empty() && self.rows.iter().all(VerifyRow::passed)
    }
}

/// The shortest time allowed between two rounds: short enough for tests
/// against the emulator, long enough that no caller sends without pause.
pub const MIN_INTERVAL: Duration = Duration::from_millis(100);

/// The time between rounds when the caller names none: a twelfth of the
/// wait, between 10 seconds and 5 minutes, so a two-hour wait checks every
/// five minutes and a two-minute one every ten seconds.
pub fn default_interval(wait: Duration) -> Duration {
    (wait / 12).clamp(Duration::from_secs(10), Duration::from_secs(300))
}

/// Parses `90s`, `30m`, `2h`, `1h30m` or a number of seconds.
pub fn parse_duration(text: &str) -> Result<Duration> {
    let text = text.trim();
    if let Ok(seconds) = text.parse::<u64>() {
        return Ok(Duration::from_secs(seconds));
    }
    humantime::parse_duration(text).map_err(|_| {
        Error::config(
            "duration",
            format!("'{text}' is not a duration such as 90s, 30m, 2h or 1h30m"),
        )
    })
}

impl Mailer {
    /// One round: each allowed sender must send, each denied sender must be
    /// refused with access denied. An error comes back only when nothing can
    /// be tested (bad input, or the app cannot get a token at all).
    pub async fn verify(&self, allowed: &[String], denied: &[String]) -> Result<Verification> {
        self.verify_round(allowed, denied, 1).await
    }

    /// Repeats the check every `interval` until it holds or `wait` has passed,
    /// calling `progress` after each round with the time left. Policies take 30
    /// minutes to hours to apply, so a first failure is expected.
    pub async fn verify_until(
        &self,
        allowed: &[String],
        denied: &[String],
        wait: Duration,
        interval: Duration,
        mut progress: impl FnMut(&Verification, Duration),
    ) -> Result<Verification> {
        // Every round sends test mail: a zero interval must not become a
        // loop without pause, whichever binding it came through.
        if interval < MIN_INTERVAL {
            return Err(Error::config(
                "interval",
                format!(
                    "must be at least {} ms: each round sends test mail",
                    MIN_INTERVAL.as_millis()
                ),
            ));
        }
        let started = Instant::now();
        let mut round = 1;
        loop {
            let result = self.verify_round(allowed, denied, round).await?;
            let left = wait.saturating_sub(started.elapsed());
            progress(&result, left);
            if result.holds() || left.is_zero() {
                return Ok(result);
            }
            tokio::time::sleep(interval.min(left)).await;
            round += 1;
        }
    }

    async fn verify_round(
        &self,
        allowed: &[String],
        denied: &[String],
        round: u32,
    ) -> Result<Verification> {
        if allowed.is_empty() && denied.is_empty() {
            return Err(Error::config(
                "allowed",
                "name at least one sender that must be allowed or denied",
            ));
        }
        let mut rows = Vec::new();
        let checks = allowed
            .iter()
            .map(|s| (s, Expectation::Allowed))
            .chain(denied.iter().map(|s| (s, Expectation::Denied)));
        for (i, (sender, expected)) in checks.enumerate() {
            let field = match expected {
                Expectation::Allowed => format!("allowed[{i}]"),
                Expectation::Denied => format!("denied[{}]", i - allowed.len()),
            };
            check_address(&field, sender)
                .map_err(|e| Error::config(&field, e.message().to_owned()))?;
            rows.push(self.try_sender(sender, expected).await?);
        }
        Ok(Verification { rows, round })
    }

    async fn try_sender(&self, sender: &str, expected: Expectation) -> Result<VerifyRow> {
        let probe = Message::new(sender)
            .to(sender)
            .subject(format!("graphmailer verify: may this app send as {sender}?"))
            .text(format!(
                "This message was sent by 'graphmailer verify' to check the tenant's restriction on \
                 application {}. It went only to this mailbox. If {sender} should not be reachable by \
                 the app, the restriction does not hold yet.",
                self.config().client_id()
            ))
            .header("x-graphmailer-verify", "1")
            .save_to_sent_items(false);
        let body = wire::send_mail_body(&probe)?;
        let row =
            |observed, code: Option<&str>, request_id: Option<&str>, detail: String| VerifyRow {
                sender: sender.to_owned(),
                expected,
                observed,
                code: code.map(str::to_owned),
                request_id: request_id.map(str::to_owned),
                detail,
            };
        Ok(match self.client.send_mail(sender, Body::json(body)).await {
            Ok(receipt) => row(
                Observed::Sent,
                None,
                receipt.request_id.as_deref(),
                match expected {
                    Expectation::Allowed => "sent a test message to its own mailbox".into(),
                    Expectation::Denied => "NOT restricted: the app sent a test message as this mailbox (to itself)".into(),
                },
            ),
            Err(e) if e.kind() == ErrorKind::AccessDenied => row(
                Observed::Denied,
                e.code(),
                e.request_id(),
                match expected {
                    Expectation::Denied => "refused with access denied".into(),
                    Expectation::Allowed => format!(
                        "refused, but should be allowed: {} (a new or changed restriction takes 30 minutes to hours to apply)",
                        e.message()
                    ),
                },
            ),
            Err(e) if matches!(e.kind(), ErrorKind::Authentication | ErrorKind::Config) => return Err(e),
            Err(e) => row(Observed::Failed, e.code(), e.request_id(), format!("inconclusive: {}", e.message())),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_default_interval_follows_the_wait_within_bounds() {
        assert_eq!(
            default_interval(Duration::from_secs(7200)),
            Duration::from_secs(300)
        );
        assert_eq!(
            default_interval(Duration::from_secs(1200)),
            Duration::from_secs(100)
        );
        assert_eq!(
            default_interval(Duration::from_secs(60)),
            Duration::from_secs(10)
        );
    }

    #[test]
    fn durations_read_as_people_write_them() {
        assert_eq!(parse_duration("90").unwrap(), Duration::from_secs(90));
        assert_eq!(parse_duration("90s").unwrap(), Duration::from_secs(90));
        assert_eq!(parse_duration("30m").unwrap(), Duration::from_secs(1800));
        assert_eq!(parse_duration("1h30m").unwrap(), Duration::from_secs(5400));
        for bad in ["", "soon", "5x", "m", "10m5"] {
            assert!(parse_duration(bad).is_err(), "{bad}");
        }
    }
}
