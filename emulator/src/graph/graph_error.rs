//! Graph's error shape (docs/graph-mail-protocol.md §7) and the ids every Graph answer carries.

use axum::Json;
use axum::http::{HeaderMap, HeaderName, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use time::OffsetDateTime;
use time::macros::format_description;

use crate::ids::{CLIENT_REQUEST_ID, REQUEST_ID, random_id};

/// `request-id` and `client-request-id` of one Graph request.
#[derive(Debug, Clone)]
pub(crate) struct GraphRequestIds {
    pub request_id: String,
    pub client_request_id: String,
}

const AGS_DIAGNOSTIC_NAME: HeaderName = HeaderName::from_static("x-ms-ags-diagnostic");
const AGS_DIAGNOSTIC: &str = r#"{"ServerInfo":{"DataCenter":"Local Emulator","Slice":"E","Ring":"0","ScaleUnit":"000","RoleInstance":"graphmailer-emulator"}}"#;

impl GraphRequestIds {
    /// The ids of a new Graph request, echoing the client's
    /// `client-request-id` as Graph does (a new one without it), and the
    /// headers that put them on the answer, errors included, so that a
    /// client can always quote them.
    pub(crate) fn assign(headers: &HeaderMap) -> (Self, AnswerIds) {
        let client_request_id = headers
            .get(CLIENT_REQUEST_ID)
            .and_then(|v| v.to_str().ok())
            .map(str::trim)
            .filter(|v| !v.is_empty())
            .map(str::to_owned)
            .unwrap_or_else(random_id);
        let ids = GraphRequestIds {
            request_id: random_id(),
            client_request_id,
        };
        // Made now, so that the ids themselves can move into the request.
        let headers = AnswerIds([
            HeaderValue::from_str(&ids.request_id).ok(),
            HeaderValue::from_str(&ids.client_request_id).ok(),
        ]);
        (ids, headers)
    }
}

/// The `request-id` and `client-request-id` headers of one answer.
pub(crate) struct AnswerIds([Option<HeaderValue>; 2]);

impl AnswerIds {
    /// Puts the ids, and Graph's diagnostic header, on the answer.
    pub(crate) fn put_on(self, response: &mut Response) {
        let [request_id, client_request_id] = self.0;
        let headers = response.headers_mut();
        if let Some(v) = request_id {
            headers.insert(REQUEST_ID, v);
        }
        if let Some(v) = client_request_id {
            headers.insert(CLIENT_REQUEST_ID, v);
        }
        headers.insert(
            AGS_DIAGNOSTIC_NAME,
            HeaderValue::from_static(AGS_DIAGNOSTIC),
        );
    }
}

/// `{"error":{"code","message","innerError":{"date","request-id","client-request-id"}}}`.
pub(crate) fn graph_error(
    status: StatusCode,
    code: &str,
    message: &str,
    ids: &GraphRequestIds,
) -> Response {
    (status, Json(error_body(code, message, ids))).into_response()
}

/// The error body alone, for answers that add members beside `error`.
pub(crate) fn error_body(code: &str, message: &str, ids: &GraphRequestIds) -> serde_json::Value {
    let date = OffsetDateTime::now_utc()
        .format(format_description!(
            "[year]-[month]-[day]T[hour]:[minute]:[second]"
        ))
        .unwrap_or_default();
    serde_json::json!({
        "error": {
            "code": code,
            "message": message,
            "innerError": {
                "date": date,
                "request-id": ids.request_id,
                "client-request-id": ids.client_request_id,
            }
        }
    })
}

/// Adds `Retry-After` in seconds.
pub(crate) fn with_retry_after(mut response: Response, secs: u64) -> Response {
    response
        .headers_mut()
        .insert(header::RETRY_AFTER, HeaderValue::from(secs));
    response
}

/// A 401 with the `WWW-Authenticate` challenge Graph sends.
pub(crate) fn unauthenticated(message: &str, ids: &GraphRequestIds) -> Response {
    let mut response = graph_error(
        StatusCode::UNAUTHORIZED,
        "InvalidAuthenticationToken",
        message,
        ids,
    );
    response.headers_mut().insert(
        header::WWW_AUTHENTICATE,
        HeaderValue::from_static(
            r#"Bearer realm="", authorization_uri="https://login.microsoftonline.com/common/oauth2/authorize", client_id="00000003-0000-0000-c000-000000000000""#,
        ),
    );
    response
}
