//! Graph's error shape (docs/graph-mail-protocol.md §7) and the ids every Graph answer carries.

use std::future::Future;
use std::pin::Pin;
use std::task::{Context, Poll, ready};

use axum::Json;
use axum::extract::Request;
use axum::http::{HeaderName, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use pin_project_lite::pin_project;
use time::OffsetDateTime;
use time::macros::format_description;
use tower::{Layer, Service};

use crate::ids::{CLIENT_REQUEST_ID, REQUEST_ID, random_uuid};

/// `request-id` and `client-request-id` of one Graph request.
#[derive(Debug, Clone)]
pub(crate) struct GraphRequestIds {
    pub request_id: String,
    pub client_request_id: String,
}

const AGS_DIAGNOSTIC_NAME: HeaderName = HeaderName::from_static("x-ms-ags-diagnostic");
const AGS_DIAGNOSTIC: &str = r#"{"ServerInfo":{"DataCenter":"Local Emulator","Slice":"E","Ring":"0","ScaleUnit":"000","RoleInstance":"graphmailer-emulator"}}"#;

/// The layer on every Graph path: assigns the ids (echoing the client's
/// `client-request-id`, as Graph does) and puts them on the answer, errors
/// included, so a client can always quote them. Written as a service, not
/// with `axum::middleware::from_fn`, because it wraps every Graph request:
/// `from_fn` boxes each request's future and clones the inner route, which
/// cost the emulator about as much CPU per send as its token checks.
#[derive(Clone, Copy)]
pub(crate) struct GraphIdsLayer;

impl<S> Layer<S> for GraphIdsLayer {
    type Service = GraphIds<S>;

    fn layer(&self, inner: S) -> GraphIds<S> {
        GraphIds { inner }
    }
}

#[derive(Clone)]
pub(crate) struct GraphIds<S> {
    inner: S,
}

impl<S> Service<Request> for GraphIds<S>
where
    S: Service<Request, Response = Response>,
{
    type Response = Response;
    type Error = S::Error;
    type Future = WithGraphIds<S::Future>;

    fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), S::Error>> {
        self.inner.poll_ready(cx)
    }

    fn call(&mut self, mut request: Request) -> Self::Future {
        let client_request_id = request
            .headers()
            .get(CLIENT_REQUEST_ID)
            .and_then(|v| v.to_str().ok())
            .map(str::trim)
            .filter(|v| !v.is_empty())
            .map(str::to_owned)
            .unwrap_or_else(|| random_uuid().to_string());
        let ids = GraphRequestIds {
            request_id: random_uuid().to_string(),
            client_request_id,
        };
        // The answer's headers are made first, so the ids move into the request.
        let headers = [
            HeaderValue::from_str(&ids.request_id).ok(),
            HeaderValue::from_str(&ids.client_request_id).ok(),
        ];
        request.extensions_mut().insert(ids);
        WithGraphIds {
            inner: self.inner.call(request),
            headers,
        }
    }
}

pin_project! {
    /// The route's answer, with the ids put on it.
    pub(crate) struct WithGraphIds<F> {
        #[pin]
        inner: F,
        headers: [Option<HeaderValue>; 2],
    }
}

impl<F, E> Future for WithGraphIds<F>
where
    F: Future<Output = Result<Response, E>>,
{
    type Output = Result<Response, E>;

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        let this = self.project();
        let mut response = ready!(this.inner.poll(cx))?;
        let [request_id, client_request_id] = std::mem::take(this.headers);
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
        Poll::Ready(Ok(response))
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
