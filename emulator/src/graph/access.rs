//! The checks every mailbox route makes before looking at its body, in
//! Graph's order: the bearer token (401, also for a token without any
//! role), its roles (403), the mailbox
//! (404), throttling (429). The access policy's verdict is computed here
//! but applied by each route, because sendMail may check it after the body
//! (`access_check_first`).

use std::time::Duration;

use axum::http::{HeaderMap, StatusCode};
use axum::response::Response;

use super::auth::{Caller, authenticate};
use super::graph_error::{GraphRequestIds, graph_error, unauthenticated, with_retry_after};
use crate::directory::{Mailbox, MailboxKind, Tenant};
use crate::settings::Settings;
use crate::state::{CounterCells, Shared};
use crate::throttle::{Admission, SlotGuard};

/// An app's way into one mailbox, for the length of one request.
pub(crate) struct MailboxAccess<'a> {
    pub caller: Caller,
    pub mailbox: &'a Mailbox,
    pub settings: Settings,
    /// Whether the application access policies in effect let the app reach the mailbox.
    pub policy_allows: bool,
    /// The app+mailbox concurrency slot, freed when the request ends.
    _slot: SlotGuard,
}

/// Runs the checks; `roles` are the application permissions of which the
/// token must hold one (e.g. `["Mail.ReadWrite"]`).
pub(crate) fn open_mailbox<'a>(
    shared: &'a Shared,
    ids: &GraphRequestIds,
    headers: &HeaderMap,
    user_id: &str,
    roles: &[&str],
) -> Result<MailboxAccess<'a>, Response> {
    let caller = authenticate(shared, headers).map_err(|m| unauthenticated(m, ids))?;
    // Graph answers a token without any role as unauthenticated (401),
    // not as a missing permission (403).
    if caller.roles().is_empty() {
        return Err(graph_error(
            StatusCode::UNAUTHORIZED,
            "NoPermissionsInAccessToken",
            "The token contains no permissions, or permissions can not be understood.",
            ids,
        ));
    }
    let holds = |role: &&str| caller.roles().iter().any(|r| r.eq_ignore_ascii_case(role));
    if !roles.iter().any(holds) {
        return Err(access_denied(ids));
    }
    let tenant = shared
        .directory
        .tenant_by_id(caller.tenant_id)
        .ok_or_else(|| unauthenticated("Access token validation failure. Invalid issuer.", ids))?;
    let mailbox = find_mailbox(tenant, user_id, ids)?;

    let settings = shared.settings();
    let slot = match shared.throttle.admit(
        caller.app_id,
        &mailbox.address,
        &settings,
        &shared.counters,
    ) {
        Admission::Admitted(slot) => slot,
        Admission::OverConcurrency { retry_after_secs } => {
            CounterCells::bump(&shared.counters.throttled);
            return Err(throttled(
                "Application is over its MailboxConcurrency limit.",
                retry_after_secs,
                ids,
            ));
        }
        Admission::OverRate { retry_after_secs } => {
            CounterCells::bump(&shared.counters.throttled);
            return Err(throttled(
                "Application is over its MailboxRequestRate limit.",
                retry_after_secs,
                ids,
            ));
        }
        Admission::EarlyRetry { retry_after_secs } => {
            CounterCells::bump(&shared.counters.throttled);
            CounterCells::bump(&shared.counters.early_retries);
            return Err(throttled(
                "Application retried before the Retry-After of its last 429 had passed; wait at least that long.",
                retry_after_secs,
                ids,
            ));
        }
    };
    let apply_delay = Duration::from_secs(settings.policy_apply_delay_secs);
    let policy_allows = shared
        .policies
        .grants(tenant, apply_delay, caller.app_id, mailbox);
    Ok(MailboxAccess {
        caller,
        mailbox,
        settings,
        policy_allows,
        _slot: slot,
    })
}

impl MailboxAccess<'_> {
    /// The policy's refusal, if it refuses.
    pub fn check_policy(&self, ids: &GraphRequestIds) -> Result<(), Response> {
        if self.policy_allows {
            Ok(())
        } else {
            Err(policy_denied(ids))
        }
    }
}

/// 404 for an unknown user or one without an Exchange Online mailbox.
fn find_mailbox<'a>(
    tenant: &'a Tenant,
    user_id: &str,
    ids: &GraphRequestIds,
) -> Result<&'a Mailbox, Response> {
    let Some(mailbox) = tenant.mailbox(user_id) else {
        return Err(graph_error(
            StatusCode::NOT_FOUND,
            "ErrorInvalidUser",
            &format!("The requested user '{user_id}' is invalid."),
            ids,
        ));
    };
    if mailbox.kind == MailboxKind::Unlicensed {
        return Err(graph_error(
            StatusCode::NOT_FOUND,
            "MailboxNotEnabledForRESTAPI",
            "The mailbox is either inactive, soft-deleted, or is hosted on-premise.",
            ids,
        ));
    }
    Ok(mailbox)
}

/// The token lacks the application permission the route needs.
pub(crate) fn access_denied(ids: &GraphRequestIds) -> Response {
    graph_error(
        StatusCode::FORBIDDEN,
        "ErrorAccessDenied",
        "Access is denied. Check credentials and try again.",
        ids,
    )
}

/// An application access policy keeps the app out of the mailbox.
pub(crate) fn policy_denied(ids: &GraphRequestIds) -> Response {
    graph_error(
        StatusCode::FORBIDDEN,
        "ErrorAccessDenied",
        "Access to OData is disabled.",
        ids,
    )
}

pub(crate) fn throttled(message: &str, retry_after_secs: u64, ids: &GraphRequestIds) -> Response {
    with_retry_after(
        graph_error(
            StatusCode::TOO_MANY_REQUESTS,
            "ApplicationThrottled",
            message,
            ids,
        ),
        retry_after_secs,
    )
}
