//! Error answers in the Microsoft identity platform's shape (docs/graph-mail-protocol.md §1):
//! `error`, `error_description` beginning `AADSTSnnnn: ` and ending with the
//! trace id, correlation id and timestamp, `error_codes`, `timestamp`,
//! `trace_id`, `correlation_id`, `error_uri`. `invalid_client` is 401, the
//! other OAuth errors 400.

use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use time::OffsetDateTime;
use time::macros::format_description;
use uuid::Uuid;

use crate::ids::CLIENT_REQUEST_ID;

/// Per-request ids of an identity request: Entra takes the client's
/// `client-request-id` (MSAL sends one) as the correlation id.
pub(crate) struct AadContext {
    pub trace_id: String,
    pub correlation_id: String,
    client_request_id: Option<HeaderValue>,
}

impl AadContext {
    pub fn from_headers(headers: &HeaderMap) -> Self {
        let client_request_id = headers.get(CLIENT_REQUEST_ID).cloned();
        let correlation_id = client_request_id
            .as_ref()
            .and_then(|v| v.to_str().ok())
            .and_then(|v| Uuid::parse_str(v.trim()).ok())
            .unwrap_or_else(Uuid::new_v4)
            .to_string();
        AadContext {
            trace_id: Uuid::new_v4().to_string(),
            correlation_id,
            client_request_id,
        }
    }

    /// Headers every identity answer carries; tokens and errors must not be cached.
    pub fn decorate(&self, response: &mut Response) {
        let headers = response.headers_mut();
        headers.insert(
            header::CACHE_CONTROL,
            HeaderValue::from_static("no-store, no-cache"),
        );
        headers.insert(header::PRAGMA, HeaderValue::from_static("no-cache"));
        if let Ok(v) = HeaderValue::from_str(&self.trace_id) {
            headers.insert("x-ms-request-id", v);
        }
        headers.insert(
            "x-ms-ests-server",
            HeaderValue::from_static("graphmailer-emulator"),
        );
        if let Some(v) = &self.client_request_id {
            headers.insert(CLIENT_REQUEST_ID, v.clone());
        }
    }
}

/// One AADSTS error.
#[derive(Debug, Clone)]
pub(crate) struct AadError {
    pub status: StatusCode,
    pub error: String,
    pub code: u32,
    pub description: String,
    pub retry_after_secs: Option<u64>,
}

impl AadError {
    /// An error with the status OAuth gives it: 401 for `invalid_client`, else 400.
    pub fn new(error: &str, code: u32, description: impl Into<String>) -> Self {
        let status = if error == "invalid_client" {
            StatusCode::UNAUTHORIZED
        } else {
            StatusCode::BAD_REQUEST
        };
        AadError {
            status,
            error: error.to_owned(),
            code,
            description: description.into(),
            retry_after_secs: None,
        }
    }

    /// AADSTS900144: a required form parameter is missing.
    pub fn missing_parameter(name: &str) -> Self {
        Self::new(
            "invalid_request",
            900144,
            format!("The request body must contain the following parameter: '{name}'."),
        )
    }

    pub fn into_response(self, ctx: &AadContext) -> Response {
        let now = OffsetDateTime::now_utc();
        let timestamp = now
            .format(format_description!(
                "[year]-[month]-[day] [hour]:[minute]:[second]Z"
            ))
            .unwrap_or_default();
        let description = format!(
            "AADSTS{}: {}\r\nTrace ID: {}\r\nCorrelation ID: {}\r\nTimestamp: {}",
            self.code, self.description, ctx.trace_id, ctx.correlation_id, timestamp
        );
        let body = serde_json::json!({
            "error": self.error,
            "error_description": description,
            "error_codes": [self.code],
            "timestamp": timestamp,
            "trace_id": ctx.trace_id,
            "correlation_id": ctx.correlation_id,
            "error_uri": format!("https://login.microsoftonline.com/error?code={}", self.code),
        });
        let mut response = (self.status, axum::Json(body)).into_response();
        if let Some(secs) = self.retry_after_secs {
            response
                .headers_mut()
                .insert(header::RETRY_AFTER, HeaderValue::from(secs));
        }
        ctx.decorate(&mut response);
        response
    }
}
