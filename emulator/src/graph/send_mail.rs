//! `POST /v1.0/users/{id}/sendMail` and `/v1.0/me/sendMail`.
//!
//! The stages, in order: read the body (413 over 4 MB); scripted faults;
//! the bearer token (401); its roles (403); the mailbox (404); throttling
//! (429) and the configured delay, holding the app+mailbox slot; then the
//! access policy (403) and the body checks (400, the tenant's maximum
//! message size last), in the order the `access_check_first` setting says;
//! Send As for `from` (403); store, 202. A draft's send (`draft_send.rs`)
//! shares the fault, delay and Send As steps.

use std::time::Duration;

use axum::body::Body;
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use bytes::Bytes;
use time::format_description::well_known::Rfc3339;

use super::access::MailboxAccess;
use super::graph_error::{GraphRequestIds, graph_error, with_retry_after};
use super::mime::check_mime;
use super::mime_message::mime_to_message;
use super::request::{Answer, GraphRequest};
use super::validation::{
    Invalid, check_message_size, check_recipient_limit, check_send_mail, message_size,
    recipient_count,
};
use crate::body::{BodyRead, read_limited};
use crate::defaults::MAX_REQUEST_BYTES;
use crate::directory::Mailbox;
use crate::faults::Fault;
use crate::ids::{random_id, uuid_text};
use crate::message_json::MessageJson;
use crate::settings::Settings;
use crate::state::{CounterCells, SentVia, Shared, StoredMessage, lock};

/// What to do with a request once processed.
pub(super) enum Outcome {
    Respond(Response),
    /// Close the connection without answering (a scripted fault).
    DropConnection,
}

impl From<Response> for Outcome {
    fn from(response: Response) -> Self {
        Outcome::Respond(response)
    }
}

/// The configured delay of every send (`delay_ms`), and whether this send
/// already waited it, inside its app+mailbox slot.
pub(super) struct SendDelay {
    pub duration: Duration,
    pub waited: bool,
}

impl SendDelay {
    pub fn of(shared: &Shared) -> Self {
        SendDelay {
            duration: Duration::from_millis(lock(&shared.faults).delay_ms),
            waited: false,
        }
    }
}

pub(super) async fn send_mail(mut request: GraphRequest, user_id: &str) -> Response {
    CounterCells::bump(&request.shared.counters.send_requests);
    let mut delay = SendDelay::of(&request.shared);
    let outcome = process(&mut request, user_id, &mut delay)
        .await
        .unwrap_or_else(|refused| refused);
    answer_send(&request, delay, outcome).await
}

/// The steps every send shares once its body is read: scripted faults, the
/// token, its roles and the mailbox, the configured delay (inside the
/// app+mailbox slot), and the access policy when it is checked first. Gives
/// the mailbox and whether the connection must be dropped at the end.
pub(super) async fn open_send<'a>(
    request: &'a GraphRequest,
    user_id: &str,
    delay: &mut SendDelay,
) -> Result<(MailboxAccess<'a>, bool), Outcome> {
    let ids = &request.ids;
    let drop_at_end = match scripted_send_fault(&request.shared, user_id, ids) {
        FaultStep::Continue { drop_at_end } => drop_at_end,
        FaultStep::Respond(response) => return Err(Outcome::Respond(response)),
        FaultStep::Drop => return Err(Outcome::DropConnection),
    };
    let access = request
        .open_mailbox(user_id, &["Mail.Send"])
        .map_err(|response| finish(response, drop_at_end))?;
    if !delay.duration.is_zero() {
        tokio::time::sleep(delay.duration).await;
    }
    delay.waited = true;
    if access.settings.access_check_first {
        access
            .check_policy(ids)
            .map_err(|response| finish(response, drop_at_end))?;
    }
    Ok((access, drop_at_end))
}

/// A refusal or answer, withheld when a scripted fault drops the connection.
pub(super) fn finish(response: Response, drop_at_end: bool) -> Outcome {
    if drop_at_end {
        Outcome::DropConnection
    } else {
        Outcome::Respond(response)
    }
}

/// Every send's answer waits `delay_ms` (requests that got a slot waited
/// inside it already), then is sent or, for a scripted drop, withheld.
pub(super) async fn answer_send(
    request: &GraphRequest,
    delay: SendDelay,
    outcome: Outcome,
) -> Response {
    if !delay.waited && !delay.duration.is_zero() {
        tokio::time::sleep(delay.duration).await;
    }
    match outcome {
        Outcome::Respond(response) => response,
        Outcome::DropConnection => {
            tracing::info!(request_id = %request.ids.request_id, "fault: dropping the send's connection");
            request.connection.drop_connection().await
        }
    }
}

/// `Err` when the send was refused before its end; `Ok` when it ran to it.
async fn process(
    request: &mut GraphRequest,
    user_id: &str,
    delay: &mut SendDelay,
) -> Result<Outcome, Outcome> {
    let body = request.read_body().await?;
    let request = &*request;
    let (shared, ids) = (&*request.shared, &request.ids);
    let (access, drop_at_end) = open_send(request, user_id, delay).await?;
    let refuse = |response: Response| finish(response, drop_at_end);
    let payload = check_payload(&request.headers, &body, &access.settings)
        .map_err(|invalid| refuse(bad_request(&invalid, ids)))?;
    access.check_policy(ids).map_err(refuse)?;
    check_send_as(access.mailbox, payload.from.as_deref(), ids).map_err(refuse)?;

    shared.store_message(StoredMessage {
        id: random_id(),
        mailbox: access.mailbox.address.clone(),
        app_id: uuid_text(access.caller.app_id),
        tenant_id: uuid_text(access.caller.tenant_id),
        received_at: now_rfc3339(&shared.clock),
        save_to_sent_items: payload.save_to_sent_items,
        request_id: ids.request_id.clone(),
        client_request_id: ids.client_request_id.clone(),
        message: payload.message,
        mime: payload.mime,
        sent_via: payload.sent_via,
        draft_id: None,
    });
    CounterCells::bump(&shared.counters.sends_accepted);
    tracing::debug!(mailbox = %access.mailbox.address, request_id = %ids.request_id, "message accepted");
    Ok(finish(StatusCode::ACCEPTED.into_response(), drop_at_end))
}

/// Reads a Graph request body under the 4 MB cap.
pub(super) async fn read_body(body: Body, ids: &GraphRequestIds) -> Result<Bytes, Response> {
    match read_limited(body, MAX_REQUEST_BYTES).await {
        BodyRead::Complete(bytes) => Ok(bytes),
        BodyRead::TooLarge => Err(graph_error(
            StatusCode::PAYLOAD_TOO_LARGE,
            "RequestEntityTooLarge",
            "The maximum request length supported is 4MB.",
            ids,
        )),
        BodyRead::Failed => Err(graph_error(
            StatusCode::BAD_REQUEST,
            "BadRequest",
            "The request body could not be read.",
            ids,
        )),
    }
}

/// What the fault plan says about one send (sendMail or a draft's send).
pub(super) enum FaultStep {
    /// Go on; with `drop_at_end`, drop the connection instead of answering.
    Continue {
        drop_at_end: bool,
    },
    Respond(Response),
    Drop,
}

/// Scripted faults come first: they stand for the service failing in
/// front of Exchange. A "deliver" drop lets the request run to the end.
pub(super) fn scripted_send_fault(
    shared: &Shared,
    user_id: &str,
    ids: &GraphRequestIds,
) -> FaultStep {
    let (fault, random_ratio, drop_ratio) = {
        let mut plan = lock(&shared.faults);
        (
            plan.take_send(user_id),
            plan.random_503_ratio,
            plan.random_drop_ratio,
        )
    };
    if let Some(fault) = fault {
        CounterCells::bump(&shared.counters.faults_injected);
        if fault.drop_after_body {
            if !fault.deliver {
                return FaultStep::Drop;
            }
            return FaultStep::Continue { drop_at_end: true };
        }
        if fault.status == Some(429) {
            CounterCells::bump(&shared.counters.throttled);
        }
        return FaultStep::Respond(fault_response(&fault, ids));
    }
    if drop_ratio > 0.0 && rand::random::<f64>() < drop_ratio {
        CounterCells::bump(&shared.counters.faults_injected);
        if rand::random::<bool>() {
            return FaultStep::Continue { drop_at_end: true };
        }
        return FaultStep::Drop;
    }
    if random_ratio > 0.0 && rand::random::<f64>() < random_ratio {
        CounterCells::bump(&shared.counters.faults_injected);
        return FaultStep::Respond(graph_error(
            StatusCode::SERVICE_UNAVAILABLE,
            "serviceNotAvailable",
            "The service is temporarily unavailable. Please retry later.",
            ids,
        ));
    }
    FaultStep::Continue { drop_at_end: false }
}

/// 403 `ErrorSendAsDenied` when `from` names an address the mailbox may not send as.
pub(super) fn check_send_as(
    mailbox: &Mailbox,
    from: Option<&str>,
    ids: &GraphRequestIds,
) -> Result<(), Response> {
    match from {
        Some(from) if from != mailbox.address && !mailbox.send_as.iter().any(|a| a == from) => {
            Err(graph_error(
                StatusCode::FORBIDDEN,
                "ErrorSendAsDenied",
                "The user account which was used to submit this request does not have the right to send mail on behalf of the specified sending account., Cannot submit message.",
                ids,
            ))
        }
        _ => Ok(()),
    }
}

pub(super) fn bad_request(invalid: &Invalid, ids: &GraphRequestIds) -> Response {
    graph_error(StatusCode::BAD_REQUEST, invalid.code, &invalid.message, ids)
}

/// The emulator's time, which tests can move, so that what depends on a
/// mail's age (the Sent Items lag) follows the same clock.
pub(super) fn now_rfc3339(clock: &crate::clock::Clock) -> String {
    // Written into one buffer of the final size: `format` grows its own
    // several times, then copies it (every send stamps its message).
    let mut text = Vec::with_capacity("2026-12-04T09:30:00.123456789Z".len());
    match clock.now_utc().format_into(&mut text, &Rfc3339) {
        Ok(_) => String::from_utf8(text).unwrap_or_default(),
        Err(_) => String::new(),
    }
}

/// `/me/sendMail` exists only for delegated tokens; an app token gets 400.
pub(super) async fn me_send_mail(request: GraphRequest) -> Answer {
    CounterCells::bump(&request.shared.counters.send_requests);
    me_refused(request).await
}

/// Any `/me/...` path: the same refusal; only `/me/sendMail` counts a send.
pub(super) async fn me_refused(mut request: GraphRequest) -> Answer {
    // Read the body anyway so the connection stays usable.
    let _ = request.read_body().await;
    request.caller()?;
    Err(graph_error(
        StatusCode::BAD_REQUEST,
        "BadRequest",
        "/me request is only valid with delegated authentication flow.",
        &request.ids,
    ))
}

/// A request's media type, lowercase, without parameters (`text/plain` for
/// `text/plain; charset=utf-8`); empty when none is given.
pub(super) fn media_type(headers: &HeaderMap) -> String {
    headers
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .unwrap_or("")
        .split(';')
        .next()
        .unwrap_or("")
        .trim()
        .to_ascii_lowercase()
}

/// A checked body, JSON or MIME.
struct Payload {
    message: MessageJson,
    mime: Option<String>,
    save_to_sent_items: bool,
    from: Option<String>,
    sent_via: SentVia,
}

/// Reads the body by its content type and applies the body checks, the
/// tenant's recipient limit and maximum message size last.
fn check_payload(
    headers: &HeaderMap,
    body: &[u8],
    settings: &Settings,
) -> Result<Payload, Invalid> {
    let max_size = settings.max_message_size_bytes;
    let max_recipients = settings.max_recipients_per_message;
    match media_type(headers).as_str() {
        "application/json" => {
            let checked = check_send_mail(body)?;
            check_recipient_limit(recipient_count(&checked.properties), max_recipients)?;
            check_message_size(message_size(&checked.properties), max_size)?;
            Ok(Payload {
                message: MessageJson::from_text(checked.message),
                mime: None,
                save_to_sent_items: checked.save_to_sent_items,
                from: checked.from,
                sent_via: SentVia::SendMail,
            })
        }
        "text/plain" => {
            let raw = check_mime(body)?;
            let message = mime_to_message(&raw);
            let count = message.as_object().map_or(0, recipient_count);
            check_recipient_limit(count, max_recipients)?;
            check_message_size(raw.len() as u64, max_size)?;
            Ok(Payload {
                message: MessageJson::from_value(&message),
                mime: Some(String::from_utf8_lossy(&raw).into_owned()),
                save_to_sent_items: true,
                from: None,
                sent_via: SentVia::Mime,
            })
        }
        _ => Err(Invalid {
            code: "BadRequest",
            message: "Unable to read JSON request payload. Please ensure Content-Type header is set and payload is of valid JSON format.".to_owned(),
        }),
    }
}

/// A scripted status: the fault's code and message, or Graph's usual ones.
pub(super) fn fault_response(fault: &Fault, ids: &GraphRequestIds) -> Response {
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

#[cfg(test)]
mod tests {
    use super::*;
    use time::OffsetDateTime;

    #[test]
    fn the_stamp_is_rfc3339_of_the_emulators_time() {
        let clock = crate::clock::Clock::default();
        clock.advance(Duration::from_secs(3600));
        let before = clock.now_utc();
        let stamp = now_rfc3339(&clock);
        let read = OffsetDateTime::parse(&stamp, &Rfc3339).unwrap();
        assert!(read >= before && read <= clock.now_utc(), "{stamp}");
        assert_eq!(stamp, read.format(&Rfc3339).unwrap(), "as `time` writes it");
    }
}
