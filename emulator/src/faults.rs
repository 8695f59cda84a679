//! Scripted failures (`PUT /_emulator/faults`), so clients can be tested
//! against the answers that are rare in production: 503s, 429s with
//! `Retry-After`, and a connection that dies after the request was sent,
//! which leaves the client unsure whether the mail went out.

use serde::{Deserialize, Serialize};

use crate::Error;

/// The whole fault plan. `PUT /_emulator/faults` replaces it; each queued
/// fault is used once, by the first request it matches.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct FaultPlan {
    /// Faults for sendMail requests, in order.
    #[serde(default)]
    pub send: Vec<Fault>,
    /// Faults for token requests, in order.
    #[serde(default)]
    pub token: Vec<Fault>,
    /// Wait this long before answering every sendMail request (while holding
    /// the app+mailbox concurrency slot, so concurrency limits can be hit).
    #[serde(default)]
    pub delay_ms: u64,
    /// Answer this fraction (0.0 to 1.0) of sendMail requests with 503.
    #[serde(default)]
    pub random_503_ratio: f64,
}

/// One scripted failure: either an HTTP status or a dropped connection.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Fault {
    /// Answer with this status (400-599) and an error body in the service's shape.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub status: Option<u16>,
    /// Send `Retry-After` with this many seconds.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub retry_after_secs: Option<u64>,
    /// The error code in the body (Graph `error.code`, or OAuth `error`);
    /// a sensible one for the status when absent.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub code: Option<String>,
    /// Token faults only: the AADSTS number (default 90033 for 429/5xx).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub error_code: Option<u32>,
    /// The error message in the body; a sensible one when absent.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub message: Option<String>,
    /// Send this text as the body instead of a JSON error (a proxy's HTML page, say).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub body: Option<String>,
    /// `Content-Type` for `body` (default `text/html; charset=utf-8`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub content_type: Option<String>,
    /// Read the whole request, then close the connection without any answer.
    #[serde(default, skip_serializing_if = "is_false")]
    pub drop_after_body: bool,
    /// With `drop_after_body` on sendMail: process the request fully (so a
    /// valid message is stored, as if it had gone out) before dropping.
    #[serde(default, skip_serializing_if = "is_false")]
    pub deliver: bool,
    /// sendMail faults only: match only requests whose `{id}` in the URL is
    /// this (case-insensitive).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub mailbox: Option<String>,
    /// Token faults only: match only requests for this client id.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub client_id: Option<String>,
}

fn is_false(value: &bool) -> bool {
    !*value
}

impl FaultPlan {
    /// Refuses plans that cannot be carried out as written.
    pub fn validate(&self) -> Result<(), Error> {
        if !(0.0..=1.0).contains(&self.random_503_ratio) {
            return Err(Error::Options(
                "random_503_ratio must be between 0.0 and 1.0".into(),
            ));
        }
        if self.delay_ms > 600_000 {
            return Err(Error::Options(
                "delay_ms must be at most 600000 (10 minutes)".into(),
            ));
        }
        for (list, fault) in self
            .send
            .iter()
            .map(|f| ("send", f))
            .chain(self.token.iter().map(|f| ("token", f)))
        {
            fault.validate(list)?;
        }
        Ok(())
    }

    /// Removes and returns the first sendMail fault matching the URL's `{id}`.
    pub(crate) fn take_send(&mut self, mailbox: &str) -> Option<Fault> {
        let index = self.send.iter().position(|f| {
            f.mailbox
                .as_deref()
                .is_none_or(|m| m.eq_ignore_ascii_case(mailbox))
        })?;
        Some(self.send.remove(index))
    }

    /// Removes and returns the first token fault matching the client id.
    pub(crate) fn take_token(&mut self, client_id: Option<&str>) -> Option<Fault> {
        let index = self
            .token
            .iter()
            .position(|f| match f.client_id.as_deref() {
                None => true,
                Some(wanted) => client_id.is_some_and(|c| c.trim().eq_ignore_ascii_case(wanted)),
            })?;
        Some(self.token.remove(index))
    }
}

impl Fault {
    fn validate(&self, list: &str) -> Result<(), Error> {
        let bad = |what: &str| Err(Error::Options(format!("{list} fault: {what}")));
        match (self.status, self.drop_after_body) {
            (Some(_), true) => return bad("give either status or drop_after_body, not both"),
            (None, false) => return bad("give status or drop_after_body"),
            (Some(s), false) if !(400..=599).contains(&s) => {
                return bad("status must be between 400 and 599");
            }
            _ => {}
        }
        if self.deliver && !self.drop_after_body {
            return bad("deliver only makes sense with drop_after_body");
        }
        if self.deliver && list == "token" {
            return bad("deliver is for sendMail faults");
        }
        if self.mailbox.is_some() && list == "token" {
            return bad("mailbox is for sendMail faults; use client_id");
        }
        if self.error_code.is_some() && list == "send" {
            return bad("error_code (an AADSTS number) is for token faults; use code");
        }
        if self.client_id.is_some() && list == "send" {
            return bad("client_id is for token faults; use mailbox");
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn plan_schema_round_trips_and_validates() {
        let plan: FaultPlan = serde_json::from_str(
            r#"{"send":[{"status":503,"retry_after_secs":1},{"drop_after_body":true,"deliver":true}],
                "token":[{"status":503}],"delay_ms":0,"random_503_ratio":0.0}"#,
        )
        .unwrap();
        plan.validate().unwrap();
        assert_eq!(plan.send.len(), 2);
        let both: FaultPlan =
            serde_json::from_str(r#"{"send":[{"status":503,"drop_after_body":true}]}"#).unwrap();
        assert!(both.validate().is_err());
        assert!(serde_json::from_str::<FaultPlan>(r#"{"sned":[]}"#).is_err());
    }

    #[test]
    fn faults_match_by_mailbox_in_order() {
        let mut plan = FaultPlan {
            send: vec![
                Fault {
                    status: Some(503),
                    mailbox: Some("ceo@contoso.test".into()),
                    ..Fault::default()
                },
                Fault {
                    status: Some(504),
                    ..Fault::default()
                },
            ],
            ..FaultPlan::default()
        };
        assert_eq!(
            plan.take_send("erp@contoso.test").unwrap().status,
            Some(504)
        );
        assert!(plan.take_send("erp@contoso.test").is_none());
        assert_eq!(
            plan.take_send("CEO@contoso.test").unwrap().status,
            Some(503)
        );
    }
}
