//! The emulator's own OpenID Connect issuer, at `{url}/_emulator/oidc`: it
//! stands in for the platform that hands a workload its token (a
//! Kubernetes cluster's service account issuer, GitHub Actions, another
//! cloud), so tests can mint the tokens that workload identity federation
//! exchanges for an access token. It publishes its discovery document and
//! JWKS as such an issuer does; its key is not the access-token key, so a
//! minted token never passes for an access token or the other way round.

use std::sync::Arc;

use axum::Json;
use axum::extract::State;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use serde::{Deserialize, Serialize};
use serde_json::{Value, json};

use crate::Error;
use crate::defaults::{FEDERATED_AUDIENCE, OIDC_ISSUER_PATH};
use crate::state::Shared;
use crate::tokens::{KeyPurpose, TokenSigner};

/// What `POST /_emulator/oidc/token` and [`crate::Emulator::mint_federated_token`] take.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct FederatedTokenRequest {
    /// The token's `sub` (for Kubernetes: `system:serviceaccount:NS:NAME`).
    pub subject: String,
    /// The token's `aud` (default `api://AzureADTokenExchange`).
    #[serde(default = "default_audience")]
    pub audience: String,
    /// Seconds from now (the emulator's clock) to `exp`; negative mints a
    /// token that has already expired. Default 3600.
    #[serde(default = "default_lifetime")]
    pub lifetime_seconds: i64,
    /// Writes this `iss` instead of the issuer's own URL (still signed with
    /// the issuer's key), to test a credential that trusts another issuer.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub issuer: Option<String>,
    /// Seconds from now to `nbf` (default 0); positive mints a token not yet valid.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub not_before_offset_seconds: Option<i64>,
}

fn default_audience() -> String {
    FEDERATED_AUDIENCE.to_owned()
}

fn default_lifetime() -> i64 {
    3600
}

impl FederatedTokenRequest {
    /// A token for `subject` with the default audience and an hour of life.
    pub fn for_subject(subject: &str) -> Self {
        FederatedTokenRequest {
            subject: subject.to_owned(),
            audience: default_audience(),
            lifetime_seconds: default_lifetime(),
            issuer: None,
            not_before_offset_seconds: None,
        }
    }
}

/// A minted token. `Debug` does not show the token.
#[derive(Clone, PartialEq, Eq, Serialize)]
pub struct FederatedToken {
    /// The signed JWT.
    pub token: String,
    /// Its `exp` (Unix seconds).
    pub expires_on: i64,
}

impl std::fmt::Debug for FederatedToken {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("FederatedToken")
            .field("token", &"<redacted>")
            .field("expires_on", &self.expires_on)
            .finish()
    }
}

/// The issuer's key and URL.
pub(crate) struct OidcIssuer {
    signer: TokenSigner,
    /// `{emulator url}/_emulator/oidc`: the tokens' `iss`.
    pub url: String,
}

impl OidcIssuer {
    pub fn new(origin: &str) -> Result<Self, Error> {
        Ok(OidcIssuer {
            signer: TokenSigner::generate_for(KeyPurpose::OidcIssuer)?,
            url: format!("{origin}{OIDC_ISSUER_PATH}"),
        })
    }

    /// The issuer's keys, as `GET .../keys` publishes them.
    pub fn jwks(&self) -> Value {
        json!({ "keys": [self.signer.jwk(&self.url)] })
    }

    /// Signs a token like a Kubernetes service account token: `aud` as a
    /// list, `iat`/`nbf`/`exp` from the emulator's clock `now`.
    pub fn mint(&self, now: i64, request: &FederatedTokenRequest) -> Result<FederatedToken, Error> {
        if request.subject.trim().is_empty() {
            return Err(Error::Options("subject must not be empty".into()));
        }
        if request.audience.trim().is_empty() {
            return Err(Error::Options("audience must not be empty".into()));
        }
        let expires_on = now.saturating_add(request.lifetime_seconds);
        let claims = json!({
            "iss": request.issuer.as_deref().unwrap_or(&self.url),
            "sub": request.subject,
            "aud": [request.audience],
            "iat": now,
            "nbf": now.saturating_add(request.not_before_offset_seconds.unwrap_or(0)),
            "exp": expires_on,
            "jti": uuid::Uuid::new_v4().to_string(),
        });
        let token = self.signer.sign(&claims)?;
        Ok(FederatedToken { token, expires_on })
    }
}

pub(super) async fn configuration(State(shared): State<Arc<Shared>>) -> Response {
    let issuer = &shared.oidc.url;
    Json(json!({
        "issuer": issuer,
        "jwks_uri": format!("{issuer}/keys"),
        "response_types_supported": ["id_token"],
        "subject_types_supported": ["public"],
        "id_token_signing_alg_values_supported": ["RS256"],
    }))
    .into_response()
}

pub(super) async fn keys(State(shared): State<Arc<Shared>>) -> Response {
    Json(shared.oidc.jwks()).into_response()
}

pub(super) async fn mint(State(shared): State<Arc<Shared>>, body: axum::body::Bytes) -> Response {
    let problem = |message: String| {
        (StatusCode::BAD_REQUEST, Json(json!({ "error": message }))).into_response()
    };
    let request: FederatedTokenRequest = match serde_json::from_slice(&body) {
        Ok(r) => r,
        Err(e) => {
            return problem(format!(
                "oidc token: {e}; send {{\"subject\": \"...\", \"audience\": \"{FEDERATED_AUDIENCE}\", \"lifetime_seconds\": 3600}}"
            ));
        }
    };
    match shared.mint_federated_token(&request) {
        Ok(token) => Json(token).into_response(),
        Err(e) => problem(format!("oidc token: {e}")),
    }
}
