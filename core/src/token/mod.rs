//! Client-credentials tokens: one request, then the token is kept and
//! refreshed ahead of expiry. Concurrent callers share one request in flight
//! (single-flight), so 50 sends on a cold start make one token request, and a
//! failure is shared with those who waited for it instead of being repeated.

pub(crate) mod managed_identity;

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, RwLock};
use std::time::{Duration, Instant};

use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use serde::Deserialize;

use crate::config::Config;
use crate::credential::Credential;
use crate::error::{Error, ErrorKind, Result};
use crate::hints::{self, HintContext};
use crate::http;
use crate::retry::{Attempts, retry_after};
use crate::secret::Secret;

/// Refresh this long before expiry, or at half the lifetime for short tokens.
const REFRESH_MARGIN: Duration = Duration::from_secs(300);
/// How close to its expiry a cached token still serves a request.
const USABLE_MARGIN: Duration = Duration::from_secs(60);
/// After a failed refresh, while the cached token is still good, how long
/// before a send tries the identity platform again (one send waits for it).
const REFRESH_AGAIN_AFTER: Duration = Duration::from_secs(30);
/// The longest lifetime a token is kept for, whatever the service says
/// (Entra's tokens last at most a day): a huge `expires_in` would overflow
/// the clock.
const MAX_LIFETIME: Duration = Duration::from_secs(86_400);

/// A bearer token with what we learned about it.
pub(crate) struct AccessToken {
    pub value: Secret,
    pub acquired_at: Instant,
    pub expires_at: Instant,
    refresh_at: Instant,
    /// The token's claims, read for hints and diagnostics only (Graph checks
    /// the signature; graphmailer never trusts these for a decision).
    pub claims: Option<serde_json::Value>,
    /// The identity platform's clock when it answered (its `Date` header).
    pub server_date: Option<std::time::SystemTime>,
}

impl AccessToken {
    /// The application roles the token carries (empty when none were consented).
    pub(crate) fn roles(&self) -> Option<Vec<String>> {
        let claims = self.claims.as_ref()?;
        Some(
            claims
                .get("roles")
                .and_then(|r| r.as_array())
                .map(|a| {
                    a.iter()
                        .filter_map(|v| v.as_str().map(str::to_owned))
                        .collect()
                })
                .unwrap_or_default(),
        )
    }
}

impl AccessToken {
    /// A token that lives `lifetime` from `acquired_at`, refreshed ahead of
    /// its expiry.
    pub(crate) fn new(
        value: Secret,
        acquired_at: Instant,
        lifetime: Duration,
        server_date: Option<std::time::SystemTime>,
    ) -> AccessToken {
        let lifetime = lifetime.min(MAX_LIFETIME);
        let margin = REFRESH_MARGIN.min(lifetime / 2);
        AccessToken {
            claims: claims_of(value.expose()),
            server_date,
            value,
            acquired_at,
            expires_at: acquired_at + lifetime,
            refresh_at: acquired_at + lifetime - margin,
        }
    }

    fn is_fresh(&self, now: Instant) -> bool {
        now < self.refresh_at
    }

    /// Good for a request that starts now: not within a minute (a quarter
    /// of its lifetime, for a short one) of its expiry.
    fn is_usable(&self, now: Instant) -> bool {
        let lifetime = self.expires_at.saturating_duration_since(self.acquired_at);
        now + USABLE_MARGIN.min(lifetime / 4) < self.expires_at
    }
}

#[derive(Default)]
pub(crate) struct TokenCache {
    current: RwLock<Option<Arc<AccessToken>>>,
    refresh: tokio::sync::Mutex<Option<(Instant, Error)>>,
    requests: AtomicU64,
}

impl TokenCache {
    /// A fresh token, fetching one when none is cached or the cached one is
    /// inside its refresh margin. Inside that margin the cached token still
    /// works: while one caller refreshes it the others use it, and if the
    /// refresh fails it serves until it expires (the identity platform may
    /// be briefly down; no send should fail for that while a token is good).
    pub(crate) async fn get(
        &self,
        client: &reqwest::Client,
        config: &Config,
    ) -> Result<Arc<AccessToken>> {
        self.obtain(client, config, false).await
    }

    /// A new token whatever is cached (`doctor`: the roles as consent is
    /// now); the cached one stays if the request fails.
    pub(crate) async fn renew(
        &self,
        client: &reqwest::Client,
        config: &Config,
    ) -> Result<Arc<AccessToken>> {
        self.obtain(client, config, true).await
    }

    async fn obtain(
        &self,
        client: &reqwest::Client,
        config: &Config,
        renew: bool,
    ) -> Result<Arc<AccessToken>> {
        let cached = |f: fn(&Self) -> Option<Arc<AccessToken>>| if renew { None } else { f(self) };
        if let Some(token) = cached(Self::fresh) {
            return Ok(token);
        }
        let waiting_since = Instant::now();
        let mut last_failure = match self.refresh.try_lock() {
            Ok(guard) => guard,
            Err(_) => match cached(Self::usable) {
                Some(token) => return Ok(token),
                None => self.refresh.lock().await,
            },
        };
        if let Some(token) = cached(Self::fresh) {
            return Ok(token);
        }
        if let Some((failed_at, error)) = last_failure.as_ref()
            && !renew
        {
            // A refresh failed while this caller waited, or a moment ago:
            // the good token serves, else the failure is shared.
            if *failed_at >= waiting_since || failed_at.elapsed() < REFRESH_AGAIN_AFTER {
                if let Some(token) = self.usable() {
                    return Ok(token);
                }
            }
            if *failed_at >= waiting_since {
                return Err(error.clone());
            }
        }
        self.requests.fetch_add(1, Ordering::Relaxed);
        match fetch(client, config).await {
            Ok(token) => {
                let token = Arc::new(token);
                *self.current.write().unwrap_or_else(|e| e.into_inner()) = Some(token.clone());
                *last_failure = None;
                Ok(token)
            }
            Err(error) => {
                *last_failure = Some((Instant::now(), error.clone()));
                match cached(Self::usable) {
                    Some(token) => {
                        tracing::warn!(error = %error, "could not refresh the access token; the current one is still good and serves until it expires");
                        Ok(token)
                    }
                    None => Err(error),
                }
            }
        }
    }

    /// Forgets `stale` (Graph refused it), unless another caller already
    /// replaced it.
    pub(crate) fn invalidate(&self, stale: &Arc<AccessToken>) {
        let mut current = self.current.write().unwrap_or_else(|e| e.into_inner());
        if current.as_ref().is_some_and(|t| Arc::ptr_eq(t, stale)) {
            *current = None;
        }
    }

    /// The roles of the cached token, if any.
    pub(crate) fn roles(&self) -> Option<Vec<String>> {
        self.current
            .read()
            .unwrap_or_else(|e| e.into_inner())
            .as_ref()?
            .roles()
    }

    /// The application ID the cached token was issued to (`appid`, or
    /// `azp` in v2 tokens).
    pub(crate) fn app_id(&self) -> Option<String> {
        let current = self.current.read().unwrap_or_else(|e| e.into_inner());
        let claims = current.as_ref()?.claims.as_ref()?;
        ["appid", "azp"]
            .iter()
            .find_map(|k| claims.get(*k).and_then(|v| v.as_str()).map(str::to_owned))
    }

    /// How many token requests this cache has made.
    pub(crate) fn requests(&self) -> u64 {
        self.requests.load(Ordering::Relaxed)
    }

    fn fresh(&self) -> Option<Arc<AccessToken>> {
        let current = self.current.read().unwrap_or_else(|e| e.into_inner());
        current
            .as_ref()
            .filter(|t| t.is_fresh(Instant::now()))
            .cloned()
    }

    /// The cached token, past its refresh time but good for a request yet.
    fn usable(&self) -> Option<Arc<AccessToken>> {
        let current = self.current.read().unwrap_or_else(|e| e.into_inner());
        current
            .as_ref()
            .filter(|t| t.is_usable(Instant::now()))
            .cloned()
    }
}

#[derive(Deserialize)]
struct TokenResponse {
    access_token: String,
    expires_in: serde_json::Value,
}

#[derive(Deserialize, Default)]
struct TokenErrorBody {
    #[serde(default)]
    error: String,
    #[serde(default)]
    error_description: String,
    #[serde(default)]
    error_codes: Vec<u32>,
    trace_id: Option<String>,
    correlation_id: Option<String>,
}

async fn fetch(client: &reqwest::Client, config: &Config) -> Result<AccessToken> {
    if let Credential::ManagedIdentity(identity) = &config.credential {
        return managed_identity::fetch(config, identity).await;
    }
    let url = config.token_url();
    let token = Attempts::until_done(&config.retry, "token request failed; retrying", || {
        request_once(client, config, &url)
    })
    .await?;
    tracing::info!(
        tenant = %config.tenant_id,
        client_id = %config.client_id,
        expires_in_secs = token.expires_at.saturating_duration_since(token.acquired_at).as_secs(),
        "acquired an access token"
    );
    Ok(token)
}

async fn request_once(client: &reqwest::Client, config: &Config, url: &str) -> Result<AccessToken> {
    let credential_fields = config
        .credential
        .form_fields(&config.client_id, url)
        .await?;
    let mut form: Vec<(&str, &str)> = vec![
        ("grant_type", "client_credentials"),
        ("client_id", &config.client_id),
        ("scope", &config.scope),
    ];
    form.extend(credential_fields.iter().map(|(k, v)| (*k, v.expose())));
    let acquired_at = Instant::now();
    let response = client
        .post(url)
        .header("client-request-id", crate::http::new_request_id())
        .form(&form)
        .send()
        .await
        .map_err(|e| {
            if http::is_untrusted_certificate(&e) {
                return http::certificate_error(config.authority_host(), &e);
            }
            Error::new(
                ErrorKind::Transient,
                format!("could not reach the identity platform at {}: {}", config.authority_host(), http::describe(&e)),
            )
            .with_hint("check the network, the proxy settings (HTTPS_PROXY, NO_PROXY) and AZURE_AUTHORITY_HOST")
        })?;
    let status = response.status().as_u16();
    let wait = retry_after(response.headers());
    let server_date = response
        .headers()
        .get(reqwest::header::DATE)
        .and_then(|v| v.to_str().ok())
        .and_then(parse_http_date);
    let header_request_id = response
        .headers()
        .get("x-ms-request-id")
        .and_then(|v| v.to_str().ok())
        .map(str::to_owned);
    let body = response.bytes().await.map_err(|e| {
        Error::new(
            ErrorKind::Transient,
            format!("the token response was cut off: {}", http::describe(&e)),
        )
    })?;
    if status == 200 {
        let parsed: TokenResponse = serde_json::from_slice(&body).map_err(|_| {
            Error::new(
                ErrorKind::Service,
                "the token endpoint answered 200 without an access token",
            )
            .with_status(status)
        })?;
        let lifetime = match &parsed.expires_in {
            serde_json::Value::Number(n) => n.as_u64(),
            serde_json::Value::String(s) => s.parse().ok(),
            _ => None,
        }
        .unwrap_or(3599);
        return Ok(AccessToken::new(
            Secret::new(parsed.access_token),
            acquired_at,
            Duration::from_secs(lifetime),
            server_date,
        ));
    }
    let err: TokenErrorBody = serde_json::from_slice(&body).unwrap_or_default();
    let number = err
        .error_codes
        .first()
        .copied()
        .or_else(|| aadsts_in(&err.error_description));
    let first_line = err
        .error_description
        .lines()
        .next()
        .unwrap_or("")
        .trim()
        .to_owned();
    let kind = match status {
        429 => ErrorKind::Throttled,
        500 | 502 | 503 | 504 => ErrorKind::Transient,
        400 | 401 => match err.error.as_str() {
            "invalid_scope" | "invalid_request"
                if number
                    .is_some_and(|n| [1002012, 70011, 700022, 900023, 9001023].contains(&n)) =>
            {
                ErrorKind::Config
            }
            // An unknown resource in the scope: Entra's answer to a
            // mistyped GRAPHMAILER_SCOPE.
            "invalid_resource" => ErrorKind::Config,
            _ => ErrorKind::Authentication,
        },
        _ => ErrorKind::Service,
    };
    let summary = if first_line.is_empty() {
        format!("the token endpoint answered HTTP {status}")
    } else {
        first_line
    };
    let cx = HintContext {
        tenant_id: &config.tenant_id,
        client_id: &config.client_id,
        secret_looks_like_id: config.credential.looks_like_secret_id(),
        federated: config.credential.is_federated(),
        ..Default::default()
    };
    let mut error = Error::new(
        kind,
        format!("the identity platform refused the token request: {summary}"),
    )
    .with_status(status)
    .with_request_id(err.trace_id.or(header_request_id).or(err.correlation_id))
    .with_retry_after(wait)
    .with_hint_opt(number.and_then(|n| hints::for_aadsts(n, &cx)));
    if let Some(n) = number {
        error = error.with_code(format!("AADSTS{n}"));
    } else if !err.error.is_empty() {
        error = error.with_code(err.error);
    }
    Err(error)
}

/// An HTTP `Date` header (`Mon, 23 Nov 2026 16:20:00 GMT`).
fn parse_http_date(value: &str) -> Option<std::time::SystemTime> {
    httpdate::parse_http_date(value.trim()).ok()
}

fn aadsts_in(description: &str) -> Option<u32> {
    let rest = description.strip_prefix("AADSTS")?;
    rest.split(|c: char| !c.is_ascii_digit())
        .next()?
        .parse()
        .ok()
}

/// Reads a JWT's claims without checking the signature: only for hints and
/// diagnostics, never for a decision.
fn claims_of(jwt: &str) -> Option<serde_json::Value> {
    let payload = jwt.split('.').nth(1)?;
    let bytes = URL_SAFE_NO_PAD.decode(payload.trim_end_matches('=')).ok()?;
    serde_json::from_slice::<serde_json::Value>(&bytes)
        .ok()
        .filter(|c| c.is_object())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_http_dates() {
        let t = parse_http_date("Mon, 23 Nov 2026 16:20:00 GMT").unwrap();
        let secs = t.duration_since(std::time::UNIX_EPOCH).unwrap().as_secs();
        assert_eq!(secs, 1_795_450_800);
        assert!(parse_http_date("yesterday").is_none());
    }

    #[test]
    fn an_absurd_lifetime_is_capped_not_a_panic() {
        let now = Instant::now();
        let token = AccessToken::new(
            Secret::new("t".to_owned()),
            now,
            Duration::from_secs(u64::MAX),
            None,
        );
        assert_eq!(token.expires_at, now + MAX_LIFETIME);
        assert!(token.is_fresh(now));
    }

    #[test]
    fn reads_the_aadsts_number_from_a_description() {
        assert_eq!(
            aadsts_in("AADSTS7000215: Invalid client secret provided."),
            Some(7000215)
        );
        assert_eq!(aadsts_in("something else"), None);
    }

    #[test]
    fn reads_claims_from_a_token_without_trusting_it() {
        let token = |claims: &[u8]| AccessToken {
            value: Secret::new("x"),
            acquired_at: Instant::now(),
            expires_at: Instant::now(),
            refresh_at: Instant::now(),
            claims: claims_of(&format!("h.{}.s", URL_SAFE_NO_PAD.encode(claims))),
            server_date: None,
        };
        assert_eq!(
            token(br#"{"roles":["Mail.Send"]}"#).roles(),
            Some(vec!["Mail.Send".to_string()])
        );
        assert_eq!(token(br#"{"appid":"x"}"#).roles(), Some(vec![]));
        assert_eq!(claims_of("opaque"), None);
    }
}
