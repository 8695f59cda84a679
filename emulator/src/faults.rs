//! Scripted failures (`PUT /_emulator/faults`), so clients can be tested
//! against the answers that are rare in production: 503s, 429s with
//! `Retry-After`, and a connection that dies after the request was sent,
//! which leaves the client unsure whether the mail went out. Upload faults
//! do the same to the chunks of a large attachment, so a client's resume
//! logic (ask the upload URL where to go on) can be tested. Identity
//! faults give the managed identity endpoints IMDS's 410, 429 and 5xx
//! answers, so a client's IMDS retry rules can be tested.

use serde::{Deserialize, Serialize};

use crate::Error;

/// The whole fault plan. `PUT /_emulator/faults` replaces it; each queued
/// fault is used once, by the first request it matches.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct FaultPlan {
    /// Faults for sendMail requests and draft sends (`.../messages/{id}/send`), in order.
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
    /// Drop the connection after the body of this fraction (0.0 to 1.0) of
    /// sendMail requests, without an answer; each such request is stored (as
    /// if it had gone out) or not on a coin toss, so a client meets both
    /// kinds of ambiguous send.
    #[serde(default, skip_serializing_if = "is_zero_ratio")]
    pub random_drop_ratio: f64,
    /// Faults for PUTs to upload URLs (chunks of a large attachment), in
    /// order; `nth` picks a PUT by its number.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub upload: Vec<Fault>,
    /// Wait this long before handling every PUT to an upload URL (after
    /// reading the chunk), so a test can cancel a send mid-upload.
    #[serde(default, skip_serializing_if = "is_zero")]
    pub upload_delay_ms: u64,
    /// Wait this long after creating a draft before answering (the draft
    /// exists meanwhile), so a test can cancel a send while Graph answers.
    #[serde(default, skip_serializing_if = "is_zero")]
    pub draft_delay_ms: u64,
    /// Faults for the managed identity endpoints (IMDS and App Service), in
    /// order: one entry per request, so `[{"status": 429}, {"status": 503}]`
    /// fails the next two. `client_id` matches the identity asked for.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub identity: Vec<Fault>,
}

/// The plan in force, with what it has counted since it was set.
#[derive(Debug, Default)]
pub(crate) struct ActiveFaults {
    pub plan: FaultPlan,
    /// PUTs to upload URLs seen since the plan was set: what `nth` counts.
    upload_puts_seen: u64,
}

impl ActiveFaults {
    pub fn new(plan: FaultPlan) -> Self {
        ActiveFaults {
            plan,
            upload_puts_seen: 0,
        }
    }

    /// Counts one PUT to an upload URL and removes and returns the first
    /// upload fault for it: its `nth` (if any) is this PUT's number and its
    /// `mailbox` (if any) the session's mailbox.
    pub fn take_upload(&mut self, mailbox: &str) -> Option<Fault> {
        self.upload_puts_seen += 1;
        let number = self.upload_puts_seen;
        let index = self.plan.upload.iter().position(|f| {
            f.nth.is_none_or(|n| n == number)
                && f.mailbox
                    .as_deref()
                    .is_none_or(|m| m.eq_ignore_ascii_case(mailbox))
        })?;
        Some(self.plan.upload.remove(index))
    }
}

impl std::ops::Deref for ActiveFaults {
    type Target = FaultPlan;
    fn deref(&self) -> &FaultPlan {
        &self.plan
    }
}

impl std::ops::DerefMut for ActiveFaults {
    fn deref_mut(&mut self) -> &mut FaultPlan {
        &mut self.plan
    }
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
    /// Token and identity faults only: match only requests for this client id.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub client_id: Option<String>,
    /// Upload faults only: match only the Nth PUT to any upload URL (1 =
    /// the first) counted from when the plan was set; without it the fault
    /// takes the next PUT it matches.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub nth: Option<u64>,
}

fn is_false(value: &bool) -> bool {
    !*value
}

fn is_zero_ratio(value: &f64) -> bool {
    *value == 0.0
}

fn is_zero(value: &u64) -> bool {
    *value == 0
}

impl FaultPlan {
    /// Refuses plans that cannot be carried out as written.
    pub fn validate(&self) -> Result<(), Error> {
        if !(0.0..=1.0).contains(&self.random_503_ratio) {
            return Err(Error::Options(
                "random_503_ratio must be between 0.0 and 1.0".into(),
            ));
        }
        if !(0.0..=1.0).contains(&self.random_drop_ratio) {
            return Err(Error::Options(
                "random_drop_ratio must be between 0.0 and 1.0".into(),
            ));
        }
        if [self.delay_ms, self.upload_delay_ms, self.draft_delay_ms]
            .iter()
            .any(|&ms| ms > 600_000)
        {
            return Err(Error::Options(
                "delay_ms, upload_delay_ms and draft_delay_ms must be at most 600000 (10 minutes)"
                    .into(),
            ));
        }
        for (list, fault) in self
            .send
            .iter()
            .map(|f| ("send", f))
            .chain(self.token.iter().map(|f| ("token", f)))
            .chain(self.upload.iter().map(|f| ("upload", f)))
            .chain(self.identity.iter().map(|f| ("identity", f)))
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
        take_for_client(&mut self.token, client_id)
    }

    /// Removes and returns the first managed identity fault matching the
    /// client id asked for (none: the system-assigned identity).
    pub(crate) fn take_identity(&mut self, client_id: Option<&str>) -> Option<Fault> {
        take_for_client(&mut self.identity, client_id)
    }
}

/// The first fault with no `client_id` or with this one.
fn take_for_client(faults: &mut Vec<Fault>, client_id: Option<&str>) -> Option<Fault> {
    let index = faults.iter().position(|f| match f.client_id.as_deref() {
        None => true,
        Some(wanted) => client_id.is_some_and(|c| c.trim().eq_ignore_ascii_case(wanted)),
    })?;
    Some(faults.remove(index))
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
        if self.deliver && matches!(list, "token" | "identity") {
            return bad("deliver is for sendMail and upload faults");
        }
        if self.nth.is_some() && list != "upload" {
            return bad("nth is for upload faults");
        }
        if self.nth == Some(0) {
            return bad("nth counts from 1 (the first PUT)");
        }
        if self.mailbox.is_some() && matches!(list, "token" | "identity") {
            return bad("mailbox is for sendMail faults; use client_id");
        }
        if (self.body.is_some() || self.content_type.is_some()) && list == "identity" {
            return bad("body and content_type are not for identity faults; use code and message");
        }
        if self.error_code.is_some() && list != "token" {
            return bad("error_code (an AADSTS number) is for token faults; use code");
        }
        if self.client_id.is_some() && !matches!(list, "token" | "identity") {
            return bad("client_id is for token and identity faults; use mailbox");
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
        // Plans without upload faults read back exactly as before.
        let text = serde_json::to_string(&plan).unwrap();
        assert!(!text.contains("upload"), "{text}");
        let nth_on_send: FaultPlan =
            serde_json::from_str(r#"{"send":[{"status":503,"nth":2}]}"#).unwrap();
        assert!(nth_on_send.validate().is_err());
        let zeroth: FaultPlan =
            serde_json::from_str(r#"{"upload":[{"status":503,"nth":0}]}"#).unwrap();
        assert!(zeroth.validate().is_err());
    }

    #[test]
    fn upload_faults_count_puts() {
        let plan: FaultPlan = serde_json::from_str(
            r#"{"upload":[{"status":503,"nth":3},{"drop_after_body":true,"deliver":true,"nth":2}],
                "upload_delay_ms":10}"#,
        )
        .unwrap();
        plan.validate().unwrap();
        let mut plan = ActiveFaults::new(plan);
        assert!(plan.take_upload("erp@contoso.test").is_none());
        assert!(plan.take_upload("erp@contoso.test").unwrap().deliver);
        assert_eq!(
            plan.take_upload("erp@contoso.test").unwrap().status,
            Some(503)
        );
        assert!(plan.take_upload("erp@contoso.test").is_none());
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
