//! Graph's `sendMail` call, its retries and the mapping of its answers to
//! errors with hints.

use std::sync::Arc;
use std::time::Instant;

use bytes::Bytes;
use reqwest::header::{AUTHORIZATION, CONTENT_TYPE, HeaderMap, HeaderValue};
use reqwest::{Method, StatusCode};
use serde::Deserialize;

use crate::error::{Error, ErrorKind, Result};
use crate::hints::{self, HintContext};
use crate::http;
use crate::mailer::Inner;
use crate::retry::retry_after;
use crate::token::AccessToken;

/// What Graph said when it accepted a mail.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct SendReceipt {
    /// Graph's `request-id` of the accepted request.
    pub request_id: Option<String>,
    /// The `client-request-id` graphmailer sent (the same on every attempt of
    /// one send), to find the send in Microsoft's logs.
    pub client_request_id: String,
    /// How many requests it took (1 unless throttled or refused a token).
    pub attempts: u32,
}

/// One request to Graph on behalf of a mailbox.
pub(crate) struct Call<'a> {
    pub method: Method,
    /// The path below `/v1.0/users/{sender}`, such as `/sendMail`.
    pub path: &'a str,
    pub content_type: &'static str,
    pub body: Bytes,
    /// True for a request that sends mail (`sendMail`, a draft's `send`):
    /// when such a request may have reached Graph without an answer, the send
    /// is ambiguous. Any other request failing that way sent nothing.
    pub sends_mail: bool,
}

/// Graph's successful answer.
pub(crate) struct Answer {
    pub body: Bytes,
    pub request_id: Option<String>,
    pub client_request_id: String,
    pub attempts: u32,
}

/// `{graph}/v1.0/users/{sender}{path}`.
pub(crate) fn user_url(inner: &Inner, sender: &str, path: &str) -> String {
    format!(
        "{}/v1.0/users/{}{path}",
        inner.config.graph_endpoint(),
        url::form_urlencoded::byte_serialize(sender.as_bytes()).collect::<String>()
    )
}

/// Posts one prepared `sendMail` body (JSON, or base64 MIME as `text/plain`).
pub(crate) async fn send_mail(
    inner: &Inner,
    sender: &str,
    body: Bytes,
    content_type: &'static str,
) -> Result<SendReceipt> {
    let call = Call {
        method: Method::POST,
        path: "/sendMail",
        content_type,
        body,
        sends_mail: true,
    };
    let answer = request(inner, sender, &call).await?;
    Ok(answer.into_receipt())
}

impl Answer {
    pub(crate) fn into_receipt(self) -> SendReceipt {
        SendReceipt {
            request_id: self.request_id,
            client_request_id: self.client_request_id,
            attempts: self.attempts,
        }
    }
}

/// Makes one Graph request, retrying only where Graph cannot have acted on it
/// (see `retry.rs`).
pub(crate) async fn request(inner: &Inner, sender: &str, call: &Call<'_>) -> Result<Answer> {
    let url = user_url(inner, sender, call.path);
    let client_request_id = uuid::Uuid::new_v4().to_string();
    let started = Instant::now();
    let mut attempts = 0;
    let mut failed = 0;
    let mut refreshed_after_401 = false;
    loop {
        attempts += 1;
        let token = inner.tokens.get(&inner.http, &inner.config).await?;
        let outcome = {
            let _slot = inner.limiter.acquire(sender).await;
            attempt(inner, &url, &token, &client_request_id, call).await
        };
        let error = match outcome {
            Attempt::Done { body, request_id } => {
                let id = request_id.as_deref().unwrap_or("");
                if call.sends_mail {
                    // The one record an operator needs per mail: it went out, and its id.
                    tracing::info!(sender, attempts, request_id = id, "mail accepted by Graph");
                } else {
                    tracing::debug!(
                        sender,
                        attempts,
                        path = call.path,
                        request_id = id,
                        "Graph request done"
                    );
                }
                return Ok(Answer {
                    body,
                    request_id,
                    client_request_id,
                    attempts,
                });
            }
            Attempt::TokenRefused(error) if !refreshed_after_401 => {
                // The token may have been revoked or expired early: one fresh
                // token, one more try. Graph refused the request, so nothing was sent.
                tracing::warn!(sender, "Graph refused the access token; fetching a new one");
                inner.tokens.invalidate(&token);
                refreshed_after_401 = true;
                drop(error);
                continue;
            }
            Attempt::TokenRefused(error) | Attempt::Final(error) => {
                return Err(with_hint(error, inner, sender));
            }
            Attempt::Retryable(error) => error,
        };
        failed += 1;
        match inner
            .config
            .retry
            .next_delay(failed, started, error.retry_after())
        {
            Some(delay) => {
                tracing::warn!(sender, attempt = attempts, delay_ms = delay.as_millis() as u64, error = %error.message(), "request not taken; retrying");
                tokio::time::sleep(delay).await;
            }
            None => return Err(with_hint(gave_up(error, attempts, started), inner, sender)),
        }
    }
}

/// The last retryable error, saying how long was spent.
pub(crate) fn gave_up(error: Error, attempts: u32, started: Instant) -> Error {
    error.with_note(&format!(
        "gave up after {attempts} attempts in {:.1} s",
        started.elapsed().as_secs_f64()
    ))
}

enum Attempt {
    Done {
        body: Bytes,
        request_id: Option<String>,
    },
    TokenRefused(Error),
    Retryable(Error),
    Final(Error),
}

async fn attempt(
    inner: &Inner,
    url: &str,
    token: &Arc<AccessToken>,
    client_request_id: &str,
    call: &Call<'_>,
) -> Attempt {
    let mut authorization = match HeaderValue::from_str(&format!("Bearer {}", token.value.expose()))
    {
        Ok(v) => v,
        Err(_) => {
            return Attempt::Final(Error::new(
                ErrorKind::Service,
                "the access token is not a valid header value",
            ));
        }
    };
    authorization.set_sensitive(true);
    let sent = inner
        .http
        .request(call.method.clone(), url)
        .header(AUTHORIZATION, authorization)
        .header(CONTENT_TYPE, call.content_type)
        .header("client-request-id", client_request_id)
        .header("return-client-request-id", "true")
        .body(call.body.clone())
        .send()
        .await;
    let response = match sent {
        Ok(r) => r,
        Err(e) if http::is_untrusted_certificate(&e) => {
            return Attempt::Final(http::certificate_error(inner.config.graph_endpoint(), &e));
        }
        Err(e) if http::failed_before_sending(&e) => {
            return Attempt::Retryable(Error::new(
                ErrorKind::Transient,
                format!(
                    "could not connect to Graph at {}: {}",
                    inner.config.graph_endpoint(),
                    http::describe(&e)
                ),
            ));
        }
        Err(e) if call.sends_mail => {
            return Attempt::Final(
                Error::new(
                    ErrorKind::AmbiguousDelivery,
                    format!("the connection to Graph failed after the mail was sent, before an answer came: {}", http::describe(&e)),
                )
                .with_request_id(Some(client_request_id.to_owned())),
            );
        }
        Err(e) => {
            return Attempt::Final(
                Error::new(
                    ErrorKind::Transient,
                    format!(
                        "the connection to Graph failed before an answer came: {}",
                        http::describe(&e)
                    ),
                )
                .with_request_id(Some(client_request_id.to_owned())),
            );
        }
    };
    let status = response.status();
    let headers = response.headers().clone();
    let request_id = header(&headers, "request-id");
    // The status is what matters; an unreadable body still leaves it.
    let body = response.bytes().await.unwrap_or_default();
    if status.is_success() {
        return Attempt::Done { body, request_id };
    }
    let mut error = graph_error(status, &headers, &body);
    if !call.sends_mail && error.kind() == ErrorKind::AmbiguousDelivery {
        error = error.with_kind(ErrorKind::Transient);
    }
    match status.as_u16() {
        401 => Attempt::TokenRefused(error),
        429 | 503 => Attempt::Retryable(error),
        _ => Attempt::Final(error),
    }
}

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
        // been handed on, so the send is ambiguous, not retryable.
        500 | 502 | 504 => ErrorKind::AmbiguousDelivery,
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

pub(crate) fn with_hint(error: Error, inner: &Inner, sender: &str) -> Error {
    if error.hint().is_some() {
        return error;
    }
    let roles = inner.tokens.roles();
    let cx = HintContext {
        tenant_id: &inner.config.tenant_id,
        client_id: &inner.config.client_id,
        sender: Some(sender),
        secret_looks_like_id: false,
        token_roles: roles.as_deref(),
    };
    let hint = match error.kind() {
        ErrorKind::AmbiguousDelivery => Some(hints::for_ambiguous(sender)),
        _ => error
            .code()
            .and_then(|c| hints::for_graph(c, error.message(), &cx)),
    };
    let hint = hint.or_else(|| match error.kind() {
        ErrorKind::Transient => Some("Graph or the network is failing for now; try again later. Nothing was sent.".into()),
        ErrorKind::Throttled => Some(format!(
            "Graph throttles each app per mailbox (4 requests at once, 10,000 per 10 minutes): slow down and retry {sender}'s mail later."
        )),
        _ => None,
    });
    error.with_hint_opt(hint)
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
