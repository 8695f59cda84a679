//! Upload URLs (docs/graph-mail-protocol.md §6, step 3): `PUT` a chunk, `GET` the session's
//! status, `DELETE` to cancel. createUploadSession (`upload_session.rs`)
//! hands them out.
//!
//! The upload URL lives outside `/v1.0`, on the emulator's own origin, and
//! is pre-authenticated by its `authtoken` query parameter, as Outlook's
//! is. Sending a bearer token to it is a client bug that Outlook refuses
//! (the token's audience is Graph, not the upload host), so the emulator
//! refuses it too, with 401 `InvalidAudienceForResource`.
//!
//! The upload host is Outlook's REST service, not Graph, and answers in its
//! style: PascalCase `ExpirationDateTime` and `NextExpectedRanges`, a
//! `Location` of the `Attachments('...')` form, and errors without Graph's
//! `innerError`. A client that parses these case-sensitively as Graph's
//! camelCase fails here, as it would in production.

use std::time::Duration;

use axum::Json;
use axum::body::Body;
use axum::extract::Request;
use axum::http::{HeaderMap, HeaderValue, Method, StatusCode, header};
use axum::response::{IntoResponse, Response};
use serde_json::{Value, json};

use super::graph_error::GraphRequestIds;
use super::send_mail::fault_response;
use super::validation::{Invalid, check_message_size};
use crate::body::{BodyRead, read_limited};
use crate::defaults::MAX_UPLOAD_CHUNK_BYTES;
use crate::drafts::{Append, SessionRef, SessionStatus, rfc3339};
use crate::server::ConnectionControl;
use crate::state::{CounterCells, Shared, lock};

/// `PUT` a chunk, `GET` the session's status, `DELETE` to cancel, at an
/// upload URL (outside `/v1.0`); `rest` is its path below `/upload/`. Takes
/// the whole request: its parts come from one place instead of an
/// extractor per part.
pub(super) async fn upload_url(
    shared: &Shared,
    rest: &str,
    ids: GraphRequestIds,
    connection: ConnectionControl,
    request: Request,
) -> Response {
    let (parts, body) = request.into_parts();
    let (method, headers, query) = (parts.method, parts.headers, parts.uri.query());
    let segments: Vec<&str> = rest.split('/').filter(|s| !s.is_empty()).collect();
    let is = |s: &str, name: &str| s.eq_ignore_ascii_case(name);
    let (mailbox, message_id, session_id) = match segments.as_slice() {
        [
            users,
            mailbox,
            messages,
            message_id,
            attachments,
            session_id,
        ] if is(users, "users") && is(messages, "messages") && is(attachments, "attachments") => {
            (*mailbox, *message_id, *session_id)
        }
        _ => return session_not_found(),
    };
    let token = query.and_then(|q| {
        url::form_urlencoded::parse(q.as_bytes())
            .find(|(k, _)| k.eq_ignore_ascii_case("authtoken"))
            .map(|(_, v)| v.into_owned())
    });
    let Some(token) = token else {
        return outlook_error(
            StatusCode::UNAUTHORIZED,
            "InvalidAuthenticationToken",
            "The upload URL has no 'authtoken' parameter: use the uploadUrl exactly as createUploadSession returned it.",
        );
    };
    let target = SessionRef {
        mailbox,
        message_id,
        session_id,
        token: &token,
    };
    match method {
        Method::PUT => {
            let put = put_chunk(shared, &ids, &target, &headers, body).await;
            match put {
                Put::Answer(response) => response,
                Put::Drop => connection.drop_connection().await,
            }
        }
        Method::GET => {
            if let Some(refusal) = refuse_bearer(&headers) {
                return refusal;
            }
            match shared.drafts.session_status(&target) {
                Some(status) => Json(status_json(&shared.origin, &status)).into_response(),
                None => session_not_found(),
            }
        }
        Method::DELETE => {
            if let Some(refusal) = refuse_bearer(&headers) {
                return refusal;
            }
            if shared.drafts.cancel_session(&target) {
                StatusCode::NO_CONTENT.into_response()
            } else {
                session_not_found()
            }
        }
        _ => outlook_error(
            StatusCode::METHOD_NOT_ALLOWED,
            "BadRequest",
            "Specified HTTP method is not allowed for the request target.",
        ),
    }
}

enum Put {
    Answer(Response),
    /// Close the connection unanswered (a scripted fault).
    Drop,
}

/// One chunk: read it (413 over 4 MB), scripted faults and delay, the
/// bearer refusal, the `Content-Range` (400), the session (404), the
/// offset (416), then store it.
async fn put_chunk(
    shared: &Shared,
    ids: &GraphRequestIds,
    target: &SessionRef<'_>,
    headers: &HeaderMap,
    body: Body,
) -> Put {
    CounterCells::bump(&shared.counters.upload_requests);
    let body = match read_limited(body, MAX_UPLOAD_CHUNK_BYTES).await {
        BodyRead::Complete(bytes) => bytes,
        BodyRead::TooLarge => {
            return Put::Answer(outlook_error(
                StatusCode::PAYLOAD_TOO_LARGE,
                "RequestEntityTooLarge",
                "The maximum chunk size supported is 4MB (4194304 bytes); send the file in smaller ranges.",
            ));
        }
        BodyRead::Failed => {
            return Put::Answer(outlook_error(
                StatusCode::BAD_REQUEST,
                "BadRequest",
                "The request body could not be read.",
            ));
        }
    };
    let fault_mailbox = shared
        .drafts
        .session_mailbox(target)
        .unwrap_or_else(|| target.mailbox.to_ascii_lowercase());
    let (fault, delay) = {
        let mut faults = lock(&shared.faults);
        (faults.take_upload(&fault_mailbox), faults.upload_delay_ms)
    };
    if delay > 0 {
        tokio::time::sleep(Duration::from_millis(delay)).await;
    }
    let mut drop_at_end = false;
    if let Some(fault) = fault {
        CounterCells::bump(&shared.counters.faults_injected);
        if !fault.drop_after_body {
            return Put::Answer(fault_response(&fault, ids));
        }
        if !fault.deliver {
            tracing::info!(request_id = %ids.request_id, "fault: dropping an upload PUT unstored");
            return Put::Drop;
        }
        drop_at_end = true;
    }
    let response = store_chunk(shared, target, headers, &body);
    if drop_at_end {
        tracing::info!(request_id = %ids.request_id, "fault: dropping an upload PUT after storing it");
        Put::Drop
    } else {
        Put::Answer(response)
    }
}

fn store_chunk(
    shared: &Shared,
    target: &SessionRef<'_>,
    headers: &HeaderMap,
    body: &[u8],
) -> Response {
    if let Some(refusal) = refuse_bearer(headers) {
        return refusal;
    }
    let range = match parse_content_range(headers, body.len()) {
        Ok(range) => range,
        Err(message) => {
            return outlook_error(StatusCode::BAD_REQUEST, "InvalidContentRange", &message);
        }
    };
    let max_size = shared.settings().max_message_size_bytes;
    match shared
        .drafts
        .append(target, range.start, range.total, body, max_size)
    {
        Append::NotFound => session_not_found(),
        Append::WrongTotal { size } => outlook_error(
            StatusCode::BAD_REQUEST,
            "InvalidContentRange",
            &format!(
                "The Content-Range total is {} but the upload session was created for {size} bytes.",
                range.total
            ),
        ),
        Append::OutOfOrder(status) => {
            let mut body = outlook_error_body(
                "InvalidContentRange",
                &format!(
                    "The range starts at byte {} but the session expects byte {} next; see NextExpectedRanges.",
                    range.start, status.next
                ),
            );
            body["NextExpectedRanges"] = json!([status.next.to_string()]);
            body["ExpirationDateTime"] = json!(rfc3339(status.expires_at));
            (StatusCode::RANGE_NOT_SATISFIABLE, Json(body)).into_response()
        }
        Append::Partial(status) => {
            count_chunk(shared, body.len());
            Json(status_json(&shared.origin, &status)).into_response()
        }
        Append::Complete { attachment_id } => {
            count_chunk(shared, body.len());
            let location = format!(
                "{}/api/v2.0/Users('{}')/Messages('{}')/Attachments('{attachment_id}')",
                shared.origin,
                target.mailbox.to_ascii_lowercase(),
                target.message_id
            );
            let mut response = StatusCode::CREATED.into_response();
            if let Ok(value) = HeaderValue::from_str(&location) {
                response.headers_mut().insert(header::LOCATION, value);
            }
            response
        }
        Append::TooLarge { size } => {
            let invalid = check_message_size(size, max_size)
                .err()
                .unwrap_or_else(|| Invalid {
                    code: "ErrorMessageSizeExceeded",
                    message: format!("The message would be {size} bytes."),
                });
            outlook_error(StatusCode::BAD_REQUEST, invalid.code, &invalid.message)
        }
        Append::DraftGone => outlook_error(
            StatusCode::NOT_FOUND,
            "ErrorItemNotFound",
            "The draft this upload session belongs to no longer exists (deleted or sent).",
        ),
    }
}

fn count_chunk(shared: &Shared, len: usize) {
    CounterCells::bump(&shared.counters.upload_chunks);
    CounterCells::add(&shared.counters.upload_bytes, len as u64);
}

/// Outlook's status shape; `NextExpectedRanges` holds the one next offset.
fn status_json(origin: &str, status: &SessionStatus) -> Value {
    json!({
        "@odata.context": format!("{origin}/api/v2.0/$metadata#Microsoft.OutlookServices.UploadSession"),
        "ExpirationDateTime": rfc3339(status.expires_at),
        "NextExpectedRanges": [status.next.to_string()],
    })
}

/// Outlook's error body: `code` and `message`, no `innerError`.
fn outlook_error_body(code: &str, message: &str) -> Value {
    json!({ "error": { "code": code, "message": message } })
}

/// An upload-host refusal; the request ids travel in its headers (the
/// Graph side puts them on every answer), not in the body.
fn outlook_error(status: StatusCode, code: &str, message: &str) -> Response {
    (status, Json(outlook_error_body(code, message))).into_response()
}

/// Unknown, cancelled, expired or finished session, or a wrong authtoken.
fn session_not_found() -> Response {
    outlook_error(
        StatusCode::NOT_FOUND,
        "ErrorItemNotFound",
        "The upload session was not found: it was cancelled, has expired or is complete, or the URL is not the one createUploadSession returned.",
    )
}

/// The upload URL carries its own credential; a bearer token (meant for
/// Graph) sent along is refused as Outlook refuses it.
fn refuse_bearer(headers: &HeaderMap) -> Option<Response> {
    headers.contains_key(header::AUTHORIZATION).then(|| {
        outlook_error(
            StatusCode::UNAUTHORIZED,
            "InvalidAudienceForResource",
            "The upload URL is pre-authenticated by its authtoken parameter: send the request without an Authorization header (a Graph token's audience is not valid for the upload URL).")
    })
}

struct ContentRange {
    start: u64,
    total: u64,
}

/// `Content-Range: bytes {start}-{end}/{total}`, agreeing with the body.
fn parse_content_range(headers: &HeaderMap, body_len: usize) -> Result<ContentRange, String> {
    const SHAPE: &str = "expected 'Content-Range: bytes {start}-{end}/{total}'";
    let value = headers
        .get(header::CONTENT_RANGE)
        .ok_or_else(|| format!("The Content-Range header is missing; {SHAPE}."))?
        .to_str()
        .map_err(|_| format!("The Content-Range header is not text; {SHAPE}."))?
        .trim();
    let malformed = || format!("The Content-Range header '{value}' is malformed; {SHAPE}.");
    let (unit, rest) = value.split_once(' ').ok_or_else(malformed)?;
    if !unit.eq_ignore_ascii_case("bytes") {
        return Err(malformed());
    }
    let (range, total) = rest.trim().split_once('/').ok_or_else(malformed)?;
    let (start, end) = range.split_once('-').ok_or_else(malformed)?;
    let number = |s: &str| s.trim().parse::<u64>().map_err(|_| malformed());
    let (start, end, total) = (number(start)?, number(end)?, number(total)?);
    if start > end || end >= total {
        return Err(format!(
            "The Content-Range '{value}' is not a range inside the file: start must be at most end, and end less than total."
        ));
    }
    let expected = end - start + 1;
    if expected != body_len as u64 {
        return Err(format!(
            "The Content-Range '{value}' announces {expected} bytes but the body has {body_len}."
        ));
    }
    Ok(ContentRange { start, total })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn range(value: &str, len: usize) -> Result<(u64, u64), String> {
        let mut headers = HeaderMap::new();
        headers.insert(header::CONTENT_RANGE, HeaderValue::from_str(value).unwrap());
        parse_content_range(&headers, len).map(|r| (r.start, r.total))
    }

    #[test]
    fn content_ranges() {
        assert_eq!(range("bytes 0-9/100", 10), Ok((0, 100)));
        assert_eq!(range("bytes 90-99/100", 10), Ok((90, 100)));
        assert!(range("bytes 0-9/100", 9).is_err());
        assert!(range("bytes 5-4/100", 0).is_err());
        assert!(range("bytes 0-100/100", 101).is_err());
        assert!(range("bytes */100", 0).is_err());
        assert!(range("items 0-9/100", 10).is_err());
        assert!(parse_content_range(&HeaderMap::new(), 0).is_err());
    }
}
