//! The transport layer: one `GraphClient` holds what every request to Graph
//! needs (the configuration, the HTTP connections, the token cache and the
//! per-mailbox limiter) and makes authenticated requests on a mailbox's
//! behalf, retrying only where Graph cannot have acted (see `retry.rs`).

use std::sync::Arc;

use bytes::Bytes;
use reqwest::Method;
use reqwest::header::{AUTHORIZATION, CONTENT_TYPE, HeaderValue};

use crate::config::Config;
use crate::connection_pool::ConnectionPool;
use crate::error::{Error, ErrorKind, Result};
use crate::graph_error::{graph_error, header};
use crate::handover::InFlight;
use crate::hints::{self, HintContext};
use crate::http;
use crate::mailbox_limiter::MailboxLimiter;
use crate::retry::Attempts;
use crate::token::{AccessToken, TokenCache};

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

/// One request that sends mail (`sendMail`, a draft's `send`), as an
/// observer sees it: the relay's metrics count these, whoever made them (its
/// sessions or its queue's worker).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct SendAttempt {
    /// Graph's HTTP status, or `None` when the request went out and no
    /// answer came (an ambiguous send).
    pub status: Option<u16>,
    /// From the request's start to its answer (or its failure).
    pub took: std::time::Duration,
}

/// Called after each request that sends mail; see [`crate::Mailer::observe_send_attempts`].
pub type SendObserver = Arc<dyn Fn(&SendAttempt) + Send + Sync>;

/// A request body with its content type.
pub(crate) struct Body {
    pub content_type: &'static str,
    pub bytes: Bytes,
}

impl Body {
    pub(crate) fn json(bytes: impl Into<Bytes>) -> Body {
        Body {
            content_type: "application/json",
            bytes: bytes.into(),
        }
    }

    /// No body (a GET, a DELETE, a draft's `send`).
    pub(crate) fn empty() -> Body {
        Body::json(Bytes::new())
    }

    /// A raw RFC 5322 message, base64 as Graph's MIME `sendMail` takes it.
    pub(crate) fn mime(bytes: impl Into<Bytes>) -> Body {
        Body {
            content_type: "text/plain",
            bytes: bytes.into(),
        }
    }
}

/// Graph's successful answer.
pub(crate) struct Answer {
    pub body: Bytes,
    pub request_id: Option<String>,
    pub client_request_id: String,
    pub attempts: u32,
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

/// Sends requests to Graph for any mailbox; shared (in an `Arc`) by every
/// clone of a mailer.
pub(crate) struct GraphClient {
    pub config: Config,
    pub connections: ConnectionPool,
    pub tokens: TokenCache,
    pub limiter: MailboxLimiter,
    pub send_observer: std::sync::OnceLock<SendObserver>,
}

impl GraphClient {
    pub(crate) fn new(config: Config) -> Result<GraphClient> {
        let connections = ConnectionPool::new(http::build_client(&config)?);
        let limiter = MailboxLimiter::new(config.max_concurrent_per_mailbox, connections.len());
        Ok(GraphClient {
            config,
            connections,
            tokens: TokenCache::default(),
            limiter,
            send_observer: std::sync::OnceLock::new(),
        })
    }

    /// A token from the cache, or a new one.
    pub(crate) async fn token(&self) -> Result<Arc<AccessToken>> {
        self.tokens
            .get(self.connections.first(), &self.config)
            .await
    }

    /// A new token, whatever is cached (see `TokenCache::renew`).
    pub(crate) async fn renewed_token(&self) -> Result<Arc<AccessToken>> {
        self.tokens
            .renew(self.connections.first(), &self.config)
            .await
    }

    /// `{graph}/v1.0/users/{mailbox}{path}`, where `path` may carry a query.
    /// Built on the endpoint's parsed URL, so each request parses only its own
    /// path and query, not the host again.
    pub(crate) fn user_url(&self, mailbox: &str, path: &str) -> url::Url {
        let (path, query) = match path.split_once('?') {
            Some((path, query)) => (path, Some(query)),
            None => (path, None),
        };
        let base = &self.config.graph_endpoint;
        let mut full = String::with_capacity(base.path().len() + mailbox.len() + path.len() + 16);
        full.push_str(base.path().trim_end_matches('/'));
        full.push_str("/v1.0/users/");
        full.extend(url::form_urlencoded::byte_serialize(mailbox.as_bytes()));
        full.push_str(path);
        let mut url = base.clone();
        url.set_path(&full);
        url.set_query(query);
        url
    }

    /// Posts one prepared `sendMail` body (JSON, or base64 MIME).
    pub(crate) async fn send_mail(&self, sender: &str, body: Body) -> Result<SendReceipt> {
        let answer = self
            .request(Method::POST, sender, "/sendMail", body, true)
            .await?;
        Ok(answer.into_receipt())
    }

    /// Makes one authenticated request to `path` below `/v1.0/users/{mailbox}`,
    /// within the mailbox's limit of requests in flight. `sends_mail` is true
    /// for a request that sends mail (`sendMail`, a draft's `send`): when such
    /// a request may have reached Graph without an answer, the send is
    /// ambiguous and never retried. Any other request failing that way sent
    /// nothing.
    pub(crate) async fn request(
        &self,
        method: Method,
        mailbox: &str,
        path: &str,
        body: Body,
        sends_mail: bool,
    ) -> Result<Answer> {
        let call = Call {
            method,
            url: self.user_url(mailbox, path),
            body,
            sends_mail,
            client_request_id: http::new_request_id(),
        };
        let mut retries = Attempts::new(&self.config.retry);
        let mut attempts = 0;
        let mut refreshed_after_401 = false;
        loop {
            attempts += 1;
            let token = self.token().await?;
            let outcome = {
                let slot = self.limiter.acquire(mailbox).await;
                let connection = self.connections.get(slot.connection, &self.config);
                let in_flight =
                    sends_mail.then(|| InFlight::start(mailbox, &call.client_request_id));
                let outcome = self.attempt(connection, &token, &call).await;
                if let Some(in_flight) = in_flight {
                    in_flight.ended(outcome.may_have_sent());
                }
                outcome
            };
            let error = match outcome {
                Attempt::Done { body, request_id } => {
                    let id = request_id.as_deref().unwrap_or("");
                    if sends_mail {
                        // The one record an operator needs per mail: it went out, and its id.
                        tracing::info!(
                            sender = mailbox,
                            attempts,
                            request_id = id,
                            "mail accepted by Graph"
                        );
                    } else {
                        tracing::debug!(
                            sender = mailbox,
                            attempts,
                            path,
                            request_id = id,
                            "Graph request done"
                        );
                    }
                    return Ok(Answer {
                        body,
                        request_id,
                        client_request_id: call.client_request_id,
                        attempts,
                    });
                }
                Attempt::TokenRefused(_) if !refreshed_after_401 => {
                    // The token may have been revoked or expired early: one fresh
                    // token, one more try. Graph refused the request, so nothing was sent.
                    tracing::warn!(
                        sender = mailbox,
                        "Graph refused the access token; fetching a new one"
                    );
                    self.tokens.invalidate(&token);
                    refreshed_after_401 = true;
                    continue;
                }
                Attempt::TokenRefused(error) | Attempt::Final(error) => {
                    return Err(self.with_hint(error, mailbox));
                }
                Attempt::Retryable(error) => error,
            };
            let what = format!("request for {mailbox} not taken; retrying");
            if let Err(error) = retries.wait_after(error, &what).await {
                let error = retries.gave_up(error, attempts);
                return Err(self.with_hint(error, mailbox));
            }
        }
    }

    async fn attempt(
        &self,
        connection: &reqwest::Client,
        token: &AccessToken,
        call: &Call,
    ) -> Attempt {
        let mut authorization =
            match HeaderValue::from_str(&format!("Bearer {}", token.value.expose())) {
                Ok(v) => v,
                Err(_) => {
                    return Attempt::Final(Error::new(
                        ErrorKind::Service,
                        "the access token is not a valid header value",
                    ));
                }
            };
        authorization.set_sensitive(true);
        let graph = self.config.graph_endpoint();
        let started = std::time::Instant::now();
        let observe = |status: Option<u16>| {
            if let Some(observer) = self.send_observer.get().filter(|_| call.sends_mail) {
                observer(&SendAttempt {
                    status,
                    took: started.elapsed(),
                });
            }
        };
        let sent = connection
            .request(call.method.clone(), call.url.clone())
            .header(AUTHORIZATION, authorization)
            .header(CONTENT_TYPE, call.body.content_type)
            .header("client-request-id", &call.client_request_id)
            .header("return-client-request-id", "true")
            .body(call.body.bytes.clone())
            .send()
            .await;
        let response = match sent {
            Ok(r) => r,
            Err(e) if http::is_untrusted_certificate(&e) => {
                return Attempt::Final(http::certificate_error(graph, &e));
            }
            Err(e) if http::failed_before_sending(&e) => {
                return Attempt::Retryable(Error::new(
                    ErrorKind::Transient,
                    format!(
                        "could not connect to Graph at {graph}: {}",
                        http::describe(&e)
                    ),
                ));
            }
            Err(e) => {
                observe(None);
                let (kind, text) = if call.sends_mail {
                    (
                        ErrorKind::AmbiguousDelivery,
                        "the connection to Graph failed after the mail was sent, before an answer came",
                    )
                } else {
                    (
                        ErrorKind::Transient,
                        "the connection to Graph failed before an answer came",
                    )
                };
                return Attempt::Final(
                    Error::new(kind, format!("{text}: {}", http::describe(&e)))
                        .with_request_id(Some(call.client_request_id.clone())),
                );
            }
        };
        let status = response.status();
        observe(Some(status.as_u16()));
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

    /// Adds the hint a person can act on, from what the token and the
    /// configuration say.
    pub(crate) fn with_hint(&self, error: Error, sender: &str) -> Error {
        if error.hint().is_some() {
            return error;
        }
        let roles = self.tokens.roles();
        // A system-assigned identity has no configured client ID: its token says it.
        let app_id = match self.config.client_id.as_str() {
            "" => self.tokens.app_id().unwrap_or_default(),
            id => id.to_owned(),
        };
        let cx = HintContext {
            tenant_id: &self.config.tenant_id,
            client_id: &app_id,
            sender: Some(sender),
            secret_looks_like_id: false,
            token_roles: roles.as_deref(),
            federated: self.config.credential.is_federated(),
            managed_identity: matches!(
                self.config.credential,
                crate::credential::Credential::ManagedIdentity(_)
            ),
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
}

/// One request, the same on every attempt.
struct Call {
    method: Method,
    url: url::Url,
    body: Body,
    sends_mail: bool,
    client_request_id: String,
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

impl Attempt {
    /// Whether Graph may have taken the request: it accepted it, or no
    /// answer says it did not.
    fn may_have_sent(&self) -> bool {
        match self {
            Attempt::Done { .. } => true,
            Attempt::Final(error) => error.kind() == ErrorKind::AmbiguousDelivery,
            Attempt::TokenRefused(_) | Attempt::Retryable(_) => false,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn client(graph: &str) -> GraphClient {
        let config = Config::builder()
            .tenant_id("00000000-0000-0000-0000-000000000001")
            .client_id("00000000-0000-0000-0000-000000000002")
            .client_secret("not-a-real-secret")
            .graph_endpoint(graph)
            .build()
            .unwrap();
        GraphClient::new(config).unwrap()
    }

    #[test]
    fn user_urls_encode_the_mailbox_and_keep_the_query() {
        let graph = client("https://graph.microsoft.com");
        assert_eq!(
            graph.user_url("ar+1@contoso.com", "/sendMail").as_str(),
            "https://graph.microsoft.com/v1.0/users/ar%2B1%40contoso.com/sendMail"
        );
        assert_eq!(
            graph
                .user_url(
                    "a b@contoso.com",
                    "/mailFolders/sentitems/messages?$top=1&$select=id"
                )
                .as_str(),
            "https://graph.microsoft.com/v1.0/users/a+b%40contoso.com/mailFolders/sentitems/messages?$top=1&$select=id"
        );
        // An endpoint below a path (a proxy's prefix) keeps it.
        let proxied = client("https://proxy.contoso.com/graph/");
        assert_eq!(
            proxied.user_url("x@contoso.com", "/sendMail").as_str(),
            "https://proxy.contoso.com/graph/v1.0/users/x%40contoso.com/sendMail"
        );
    }
}
