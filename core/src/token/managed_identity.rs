//! Managed identity: the host (an Azure VM, App Service, Functions) hands out
//! tokens for its identity, so the app holds no credential at all. Two
//! endpoints, as Azure's SDKs read them: App Service's (`IDENTITY_ENDPOINT`
//! with `IDENTITY_HEADER`) when the environment names one, else the Instance
//! Metadata Service. Its retry rules follow Microsoft's guidance for IMDS:
//! 404, 410, 429 and 5xx are passing, and 410 may last about 70 seconds
//! while the service restarts.

use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use serde::Deserialize;
use url::Url;

use super::AccessToken;
use crate::config::Config;
use crate::error::{Error, ErrorKind, Result};
use crate::http;
use crate::identity_endpoint::{Endpoint, ManagedIdentity};
use crate::retry::{Attempts, RetryPolicy, retry_after};
use crate::secret::Secret;

/// How long IMDS may answer 410 while it restarts, per Microsoft's guidance.
const IMDS_RESTART: Duration = Duration::from_secs(70);
/// Enough attempts for the growing waits to span [`IMDS_RESTART`].
const IMDS_ATTEMPTS: u32 = 8;

/// Whether the endpoint answers at all, within `timeout`: any HTTP answer
/// (even a refusal, as IMDS gives a request without its header) means
/// this host offers a managed identity. Sends no header and asks for no
/// token.
pub(crate) async fn answers(
    identity: &ManagedIdentity,
    config: &Config,
    timeout: Duration,
) -> bool {
    let Ok(client) = http::build_identity_client(config, Some(timeout)) else {
        return false;
    };
    client.get(identity.endpoint_url()).send().await.is_ok()
}

#[derive(Deserialize)]
struct TokenAnswer {
    access_token: String,
    expires_in: Option<serde_json::Value>,
    expires_on: Option<serde_json::Value>,
}

#[derive(Deserialize, Default)]
struct ErrorAnswer {
    #[serde(default)]
    error: String,
    #[serde(default)]
    error_description: String,
    /// App Service's shape.
    #[serde(default)]
    message: String,
}

/// A token for Graph from the host's identity endpoint.
pub(crate) async fn fetch(config: &Config, identity: &ManagedIdentity) -> Result<AccessToken> {
    // Its own client, built per request (once a day: these tokens live 24 h),
    // because it must bypass any proxy.
    let client = &http::build_identity_client(config, None)?;
    // Graph's resource in the configured cloud: the scope without `/.default`.
    let resource = config.scope.trim_end_matches("/.default");
    let url = identity.request_url(resource);
    let policy = RetryPolicy {
        max_attempts: config.retry.max_attempts.max(IMDS_ATTEMPTS),
        deadline: config.retry.deadline.max(IMDS_RESTART),
        ..config.retry.clone()
    };
    let token = Attempts::until_done(
        &policy,
        "managed identity token request failed; retrying",
        || request_once(client, identity, &url),
    )
    .await?;
    tracing::info!(identity = identity.kind(), "acquired an access token");
    Ok(token)
}

async fn request_once(
    client: &reqwest::Client,
    identity: &ManagedIdentity,
    url: &Url,
) -> Result<AccessToken> {
    let mut request = client.get(url.clone());
    request = match &identity.endpoint {
        Endpoint::Imds(_) => request.header("Metadata", "true"),
        Endpoint::AppService { header, .. } => request.header("X-IDENTITY-HEADER", header.expose()),
    };
    let acquired_at = Instant::now();
    let response = request
        .send()
        .await
        .map_err(|e| unreachable(identity, &e))?;
    let status = response.status().as_u16();
    let wait = retry_after(response.headers());
    let request_id = response
        .headers()
        .get("x-ms-request-id")
        .and_then(|v| v.to_str().ok())
        .map(str::to_owned);
    let body = response.bytes().await.map_err(|e| {
        Error::new(
            ErrorKind::Transient,
            format!(
                "the managed identity's answer was cut off: {}",
                http::describe(&e)
            ),
        )
    })?;
    if status == 200 {
        let answer: TokenAnswer = serde_json::from_slice(&body).map_err(|_| {
            Error::new(
                ErrorKind::Service,
                format!(
                    "{} answered 200 without an access token",
                    identity.endpoint_name()
                ),
            )
            .with_status(status)
        })?;
        return Ok(AccessToken::new(
            Secret::new(answer.access_token),
            acquired_at,
            lifetime(answer.expires_in.as_ref(), answer.expires_on.as_ref()),
            None,
        ));
    }
    let answer: ErrorAnswer = serde_json::from_slice(&body).unwrap_or_default();
    let said = [&answer.error_description, &answer.message, &answer.error]
        .into_iter()
        .find(|s| !s.is_empty())
        .map(|s| s.lines().next().unwrap_or("").trim().to_owned())
        .unwrap_or_else(|| format!("HTTP {status}"));
    let message = format!(
        "{} refused the token request: {said}",
        identity.endpoint_name()
    );
    let (kind, hint) = match status {
        404 | 410 | 429 | 500..=599 => (
            if status == 429 {
                ErrorKind::Throttled
            } else {
                ErrorKind::Transient
            },
            "the host's identity endpoint is busy or restarting; try again later".to_owned(),
        ),
        400 if said.to_ascii_lowercase().contains("identity not found") => (
            ErrorKind::Config,
            match &identity.client_id {
                Some(id) => format!(
                    "no managed identity with client ID {id} is assigned to this machine: check \
                     AZURE_CLIENT_ID (the user-assigned identity's Client ID, not its Object or \
                     Principal ID) and that the identity is assigned to this VM or app"
                ),
                None => "this machine has no system-assigned managed identity: turn it on (the \
                         resource's Identity blade), or set AZURE_CLIENT_ID to a user-assigned \
                         identity that is assigned to it"
                    .to_owned(),
            },
        ),
        401 | 403 if matches!(identity.endpoint, Endpoint::AppService { .. }) => (
            ErrorKind::Config,
            "the App Service identity endpoint refused IDENTITY_HEADER: use the value the \
             platform sets in the environment, unchanged"
                .to_owned(),
        ),
        _ => (
            ErrorKind::Authentication,
            "the host's identity endpoint refused the request; check GRAPHMAILER_CREDENTIAL and \
             AZURE_CLIENT_ID"
                .to_owned(),
        ),
    };
    let mut error = Error::new(kind, message)
        .with_status(status)
        .with_request_id(request_id)
        .with_retry_after(wait)
        .with_hint(hint);
    if kind == ErrorKind::Config && status == 400 {
        error = error.with_field("AZURE_CLIENT_ID");
    }
    Err(error)
}

/// No answer at all: almost always a machine without a managed identity.
fn unreachable(identity: &ManagedIdentity, e: &reqwest::Error) -> Error {
    let hint = match identity.endpoint {
        Endpoint::Imds(_) => {
            "no managed identity on this machine: the Instance Metadata Service answers only on \
             Azure VMs, scale sets and AKS nodes (or at AZURE_POD_IDENTITY_AUTHORITY_HOST). \
             Elsewhere, use a secret, a certificate or a federated token \
             (GRAPHMAILER_CREDENTIAL=auto)"
        }
        Endpoint::AppService { .. } => {
            "the App Service identity endpoint (IDENTITY_ENDPOINT) did not answer: turn on the \
             app's managed identity (its Identity blade) and restart it"
        }
    };
    Error::new(
        ErrorKind::Config,
        format!(
            "{} did not answer: {}",
            identity.endpoint_name(),
            http::describe(e)
        ),
    )
    .with_field("GRAPHMAILER_CREDENTIAL")
    .with_hint(hint)
}

/// The token's lifetime: `expires_in` when given, else `expires_on` (a Unix
/// time, as a string in these endpoints' answers) minus now.
fn lifetime(
    expires_in: Option<&serde_json::Value>,
    expires_on: Option<&serde_json::Value>,
) -> Duration {
    let number = |v: &serde_json::Value| match v {
        serde_json::Value::Number(n) => n.as_u64(),
        serde_json::Value::String(s) => s.trim().parse().ok(),
        _ => None,
    };
    if let Some(secs) = expires_in.and_then(number) {
        return Duration::from_secs(secs);
    }
    let now = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap_or_default()
        .as_secs();
    expires_on
        .and_then(number)
        .map(|on| Duration::from_secs(on.saturating_sub(now)))
        .unwrap_or(Duration::from_secs(3599))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lifetime_reads_strings_and_numbers() {
        use serde_json::json;
        assert_eq!(
            lifetime(Some(&json!("86399")), None),
            Duration::from_secs(86399)
        );
        assert_eq!(lifetime(Some(&json!(60)), None), Duration::from_secs(60));
        let on = SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .unwrap()
            .as_secs()
            + 600;
        let l = lifetime(None, Some(&json!(on.to_string())));
        assert!(l <= Duration::from_secs(600) && l >= Duration::from_secs(598));
    }
}
