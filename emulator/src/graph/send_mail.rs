//! `POST /v1.0/users/{id}/sendMail` and `/v1.0/me/sendMail`.
//!
//! The stages, in order: read the body (413 over 4 MB); scripted faults;
//! the bearer token (401); its roles (403); the mailbox (404); throttling
//! (429) and the configured delay, holding the app+mailbox slot; then the
//! access policy (403) and the body checks (400), in the order the
//! `access_check_first` setting says; Send As for `from` (403); store, 202.

use std::sync::Arc;
use std::time::Duration;

use axum::body::Body;
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use time::OffsetDateTime;
use time::format_description::well_known::Rfc3339;
use uuid::Uuid;

use super::auth::authenticate;
use super::graph_error::{GraphRequestIds, graph_error, unauthenticated, with_retry_after};
use super::mime::check_mime;
use super::validation::{Invalid, check_send_mail};
use crate::body::{BodyRead, read_limited};
use crate::defaults::MAX_REQUEST_BYTES;
use crate::directory::MailboxKind;
use crate::faults::Fault;
use crate::policy::access_granted_under;
use crate::server::ConnectionControl;
use crate::state::{CounterCells, Shared, StoredMessage, lock};
use crate::throttle::Admission;

/// What to do with a request once processed.
enum Outcome {
    Respond(Response),
    /// Close the connection without answering (a scripted fault).
    DropConnection,
}

pub(super) async fn send_mail(
    shared: Arc<Shared>,
    ids: GraphRequestIds,
    connection: Option<ConnectionControl>,
    user_id: &str,
    headers: &HeaderMap,
    body: Body,
) -> Response {
    CounterCells::bump(&shared.counters.send_requests);
    let delay = Duration::from_millis(lock(&shared.faults).delay_ms);
    let mut delayed = false;
    let outcome = process(&shared, &ids, user_id, headers, body, delay, &mut delayed).await;
    // Every answer waits `delay_ms`; requests that got a slot waited inside it.
    if !delayed && !delay.is_zero() {
        tokio::time::sleep(delay).await;
    }
    match outcome {
        Outcome::Respond(response) => response,
        Outcome::DropConnection => {
            tracing::info!(request_id = %ids.request_id, "fault: dropping sendMail connection");
            ConnectionControl::drop_or_fail(connection.as_ref()).await
        }
    }
}

async fn process(
    shared: &Shared,
    ids: &GraphRequestIds,
    user_id: &str,
    headers: &HeaderMap,
    body: Body,
    delay: Duration,
    delayed: &mut bool,
) -> Outcome {
    let body = match read_limited(body, MAX_REQUEST_BYTES).await {
        BodyRead::Complete(bytes) => bytes,
        BodyRead::TooLarge => {
            return Outcome::Respond(graph_error(
                StatusCode::PAYLOAD_TOO_LARGE,
                "RequestEntityTooLarge",
                "The maximum request length supported is 4MB.",
                ids,
            ));
        }
        BodyRead::Failed => {
            return Outcome::Respond(graph_error(
                StatusCode::BAD_REQUEST,
                "BadRequest",
                "The request body could not be read.",
                ids,
            ));
        }
    };

    // Scripted faults come first: they stand for the service failing in
    // front of Exchange. A "deliver" drop lets the request run to the end.
    let (fault, random_ratio) = {
        let mut plan = lock(&shared.faults);
        (plan.take_send(user_id), plan.random_503_ratio)
    };
    let mut drop_at_end = false;
    if let Some(fault) = fault {
        CounterCells::bump(&shared.counters.faults_injected);
        if fault.drop_after_body {
            if !fault.deliver {
                return Outcome::DropConnection;
            }
            drop_at_end = true;
        } else {
            if fault.status == Some(429) {
                CounterCells::bump(&shared.counters.throttled);
            }
            return Outcome::Respond(fault_response(&fault, ids));
        }
    } else if random_ratio > 0.0 && rand::random::<f64>() < random_ratio {
        CounterCells::bump(&shared.counters.faults_injected);
        return Outcome::Respond(graph_error(
            StatusCode::SERVICE_UNAVAILABLE,
            "serviceNotAvailable",
            "The service is temporarily unavailable. Please retry later.",
            ids,
        ));
    }
    let finish = |response: Response| {
        if drop_at_end {
            Outcome::DropConnection
        } else {
            Outcome::Respond(response)
        }
    };

    let caller = match authenticate(shared, headers) {
        Ok(caller) => caller,
        Err(message) => return finish(unauthenticated(message, ids)),
    };
    if caller.roles().is_empty() {
        return finish(graph_error(
            StatusCode::FORBIDDEN,
            "NoPermissionsInAccessToken",
            "The token contains no permissions, or permissions can not be understood.",
            ids,
        ));
    }
    if !caller
        .roles()
        .iter()
        .any(|r| r.eq_ignore_ascii_case("Mail.Send"))
    {
        return finish(access_denied(ids));
    }

    let Some(tenant) = shared.directory.tenant_by_id(caller.tenant_id) else {
        return finish(unauthenticated(
            "Access token validation failure. Invalid issuer.",
            ids,
        ));
    };
    let Some(mailbox) = tenant.mailbox(user_id) else {
        return finish(graph_error(
            StatusCode::NOT_FOUND,
            "ErrorInvalidUser",
            &format!("The requested user '{user_id}' is invalid."),
            ids,
        ));
    };
    if mailbox.kind == MailboxKind::Unlicensed {
        return finish(graph_error(
            StatusCode::NOT_FOUND,
            "MailboxNotEnabledForRESTAPI",
            "The mailbox is either inactive, soft-deleted, or is hosted on-premise.",
            ids,
        ));
    }

    let settings = shared.settings();
    let _slot =
        match shared
            .throttle
            .admit(caller.app_id, &mailbox.address, &settings, &shared.counters)
        {
            Admission::Admitted(slot) => slot,
            Admission::OverConcurrency { retry_after_secs } => {
                CounterCells::bump(&shared.counters.throttled);
                return finish(throttled(
                    "Application is over its MailboxConcurrency limit.",
                    retry_after_secs,
                    ids,
                ));
            }
            Admission::OverRate { retry_after_secs } => {
                CounterCells::bump(&shared.counters.throttled);
                return finish(throttled(
                    "Application is over its MailboxRequestRate limit.",
                    retry_after_secs,
                    ids,
                ));
            }
        };
    if !delay.is_zero() {
        tokio::time::sleep(delay).await;
    }
    *delayed = true;

    let apply_delay = Duration::from_secs(settings.policy_apply_delay_secs);
    let policies = shared.policies.in_effect(tenant.id, apply_delay);
    let policy_allows = access_granted_under(tenant, &policies, caller.app_id, mailbox);
    let policy_denied = || {
        graph_error(
            StatusCode::FORBIDDEN,
            "ErrorAccessDenied",
            "Access to OData is disabled.",
            ids,
        )
    };
    if settings.access_check_first && !policy_allows {
        return finish(policy_denied());
    }
    let payload = match check_payload(headers, &body) {
        Ok(payload) => payload,
        Err(invalid) => {
            return finish(graph_error(
                StatusCode::BAD_REQUEST,
                invalid.code,
                &invalid.message,
                ids,
            ));
        }
    };
    if !policy_allows {
        return finish(policy_denied());
    }
    if let Some(from) = &payload.from
        && *from != mailbox.address
        && !mailbox.send_as.contains(from)
    {
        return finish(graph_error(
            StatusCode::FORBIDDEN,
            "ErrorSendAsDenied",
            "The user account which was used to submit this request does not have the right to send mail on behalf of the specified sending account., Cannot submit message.",
            ids,
        ));
    }

    shared.messages.push(StoredMessage {
        id: Uuid::new_v4().to_string(),
        mailbox: mailbox.address.clone(),
        app_id: caller.app_id.to_string(),
        tenant_id: caller.tenant_id.to_string(),
        received_at: OffsetDateTime::now_utc()
            .format(&Rfc3339)
            .unwrap_or_default(),
        save_to_sent_items: payload.save_to_sent_items,
        request_id: ids.request_id.clone(),
        client_request_id: ids.client_request_id.clone(),
        message: payload.message,
        mime: payload.mime,
    });
    CounterCells::bump(&shared.counters.sends_accepted);
    tracing::debug!(mailbox = %mailbox.address, request_id = %ids.request_id, "message accepted");
    finish(StatusCode::ACCEPTED.into_response())
}

/// `/me/sendMail` exists only for delegated tokens; an app token gets 400.
pub(super) async fn me_send_mail(
    shared: Arc<Shared>,
    ids: GraphRequestIds,
    headers: &HeaderMap,
    body: Body,
) -> Response {
    CounterCells::bump(&shared.counters.send_requests);
    // Read the body anyway so the connection stays usable.
    let _ = read_limited(body, MAX_REQUEST_BYTES).await;
    if let Err(message) = authenticate(&shared, headers) {
        return unauthenticated(message, &ids);
    }
    graph_error(
        StatusCode::BAD_REQUEST,
        "BadRequest",
        "/me request is only valid with delegated authentication flow.",
        &ids,
    )
}

pub(super) fn access_denied(ids: &GraphRequestIds) -> Response {
    graph_error(
        StatusCode::FORBIDDEN,
        "ErrorAccessDenied",
        "Access is denied. Check credentials and try again.",
        ids,
    )
}

fn throttled(message: &str, retry_after_secs: u64, ids: &GraphRequestIds) -> Response {
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

/// A checked body, JSON or MIME.
struct Payload {
    message: serde_json::Value,
    mime: Option<String>,
    save_to_sent_items: bool,
    from: Option<String>,
}

fn check_payload(headers: &HeaderMap, body: &[u8]) -> Result<Payload, Invalid> {
    let content_type = headers
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .unwrap_or("")
        .split(';')
        .next()
        .unwrap_or("")
        .trim()
        .to_ascii_lowercase();
    match content_type.as_str() {
        "application/json" => {
            let checked = check_send_mail(body)?;
            Ok(Payload {
                message: checked.message,
                mime: None,
                save_to_sent_items: checked.save_to_sent_items,
                from: checked.from,
            })
        }
        "text/plain" => Ok(Payload {
            message: serde_json::Value::Null,
            mime: Some(check_mime(body)?),
            save_to_sent_items: true,
            from: None,
        }),
        _ => Err(Invalid {
            code: "BadRequest",
            message: "Unable to read JSON request payload. Please ensure Content-Type header is set and payload is of valid JSON format.".to_owned(),
        }),
    }
}

/// A scripted status: the fault's code and message, or Graph's usual ones.
fn fault_response(fault: &Fault, ids: &GraphRequestIds) -> Response {
    let status = fault
        .status
        .and_then(|s| StatusCode::from_u16(s).ok())
        .unwrap_or(StatusCode::SERVICE_UNAVAILABLE);
    let mut response = if let Some(body) = &fault.body {
        let mut response = (status, body.clone()).into_response();
        let content_type = fault
            .content_type
            .as_deref()
            .unwrap_or("text/html; charset=utf-8");
        if let Ok(v) = HeaderValue::from_str(content_type) {
            response.headers_mut().insert(header::CONTENT_TYPE, v);
        }
        response
    } else {
        let (code, message) = match status.as_u16() {
            429 => (
                "ApplicationThrottled",
                "Application is over its MailboxConcurrency limit.",
            ),
            500 => ("generalException", "An unspecified error has occurred."),
            502 => (
                "BadGateway",
                "The gateway received an invalid response from the upstream server.",
            ),
            503 => (
                "serviceNotAvailable",
                "The service is temporarily unavailable. Please retry later.",
            ),
            504 => (
                "GatewayTimeout",
                "The gateway did not receive a timely response from the upstream server.",
            ),
            _ => ("BadRequest", "The request failed (injected fault)."),
        };
        graph_error(
            status,
            fault.code.as_deref().unwrap_or(code),
            fault.message.as_deref().unwrap_or(message),
            ids,
        )
    };
    if let Some(secs) = fault.retry_after_secs {
        response = with_retry_after(response, secs);
    }
    response
}
