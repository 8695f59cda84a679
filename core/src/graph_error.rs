//! Graph's error answers (`{"error":{"code","message","innerError"}}`) as
//! errors of the right kind, for Graph requests and upload chunks alike.

use reqwest::StatusCode;
use reqwest::header::HeaderMap;
use serde::Deserialize;

use crate::error::{Error, ErrorKind};
use crate::retry::retry_after;

#[derive(Deserialize, Default)]
struct GraphErrorBody {
    #[serde(default)]
    error: GraphError,
}

#[derive(Deserialize, Default)]
struct GraphError {
    #[serde(default)]
    code: String,
    #[serde(default)]
    message: String,
    #[serde(default, rename = "innerError")]
    inner_error: Option<serde_json::Value>,
}

pub(crate) fn header(headers: &HeaderMap, name: &str) -> Option<String> {
    headers
        .get(name)
        .and_then(|v| v.to_str().ok())
        .map(str::to_owned)
}

/// Turns a Graph error answer into an error of the right kind.
pub(crate) fn graph_error(status: StatusCode, headers: &HeaderMap, body: &[u8]) -> Error {
    let parsed: GraphErrorBody = serde_json::from_slice(body).unwrap_or_default();
    let GraphError {
        code,
        message,
        inner_error,
    } = parsed.error;
    let request_id = header(headers, "request-id").or_else(|| {
        inner_error
            .as_ref()
            .and_then(|i| i.get("request-id"))
            .and_then(|v| v.as_str())
            .map(str::to_owned)
    });
    let kind = match status.as_u16() {
        400 if message.contains("/me") => ErrorKind::Config,
        400 | 413 => ErrorKind::InvalidMessage,
        // Graph answers a token without any role 401, but the cure is a
        // permission grant, not other credentials.
        401 if code == "NoPermissionsInAccessToken" => ErrorKind::AccessDenied,
        401 => ErrorKind::Authentication,
        403 => ErrorKind::AccessDenied,
        404 => ErrorKind::MailboxNotFound,
        429 => ErrorKind::Throttled,
        503 => ErrorKind::Transient,
        // The server or a gateway failed while holding the mail: it may have
        // been handed on, so the send is ambiguous, not retryable. Any 5xx
        // but 503: a proxy's or CDN's 520 to 599 says no more than a 502.
        500..=599 => ErrorKind::AmbiguousDelivery,
        _ => ErrorKind::Service,
    };
    let text = match (code.is_empty(), message.is_empty()) {
        (false, false) => format!("{code}: {message}"),
        (false, true) => code.clone(),
        _ => status.canonical_reason().unwrap_or("error").to_owned(),
    };
    let mut error = Error::new(kind, format!("Graph answered {}: {text}", status.as_u16()))
        .with_status(status.as_u16())
        .with_request_id(request_id)
        .with_retry_after(retry_after(headers));
    if !code.is_empty() {
        error = error.with_code(code);
    }
    error
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn statuses_map_to_kinds() {
        let body = br#"{"error":{"code":"ErrorAccessDenied","message":"Access to OData is disabled.","innerError":{"request-id":"r1","date":"2026-01-01T00:00:00"}}}"#;
        let e = graph_error(StatusCode::FORBIDDEN, &HeaderMap::new(), body);
        assert_eq!(e.kind(), ErrorKind::AccessDenied);
        assert_eq!(e.code(), Some("ErrorAccessDenied"));
        assert_eq!(e.request_id(), Some("r1"));
        for (status, kind) in [
            (400, ErrorKind::InvalidMessage),
            (404, ErrorKind::MailboxNotFound),
            (429, ErrorKind::Throttled),
            (503, ErrorKind::Transient),
            (504, ErrorKind::AmbiguousDelivery),
            (500, ErrorKind::AmbiguousDelivery),
            (501, ErrorKind::AmbiguousDelivery),
            (522, ErrorKind::AmbiguousDelivery),
            (599, ErrorKind::AmbiguousDelivery),
            (418, ErrorKind::Service),
        ] {
            let e = graph_error(
                StatusCode::from_u16(status).unwrap(),
                &HeaderMap::new(),
                b"not json",
            );
            assert_eq!(e.kind(), kind, "{status}");
        }
    }
}
