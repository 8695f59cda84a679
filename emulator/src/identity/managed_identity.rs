//! The managed identity endpoints a workload on Azure asks for its token,
//! served on a plain-HTTP loopback address of the tests' choosing (never
//! 169.254.169.254):
//!
//! - IMDS: `GET /metadata/identity/oauth2/token?api-version=2018-02-01&resource=...`
//!   with `Metadata: true`, as on a VM (`client_id`, `object_id` pick a
//!   user-assigned identity);
//! - App Service and Functions: `GET /msi/token?api-version=2019-08-01&resource=...`
//!   with `X-IDENTITY-HEADER` (`client_id`, `principal_id`).
//!
//! The token is an ordinary emulator access token for the identity's
//! service principal, so Graph's role and policy checks apply to it. The
//! identity header is a secret: it is compared in constant time and never
//! logged or echoed. Errors use IMDS's `{"error", "error_description"}`.

use std::collections::HashMap;
use std::sync::Arc;

use axum::extract::{Query, State};
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use axum::{Extension, Json, Router};
use serde_json::{Value, json};
use uuid::Uuid;

use super::AadError;
use super::token_endpoint::{resolve_resource, sign_app_token};
use crate::defaults::{IDENTITY_HEADER, MANAGED_IDENTITY_TOKEN_LIFETIME_SECS};
use crate::directory::IdentityChoice;
use crate::faults::Fault;
use crate::server::ConnectionControl;
use crate::state::{CounterCells, Shared, lock};

pub(crate) const IMDS_PATH: &str = "/metadata/identity/oauth2/token";
pub(crate) const APP_SERVICE_PATH: &str = "/msi/token";

pub(crate) fn router() -> Router<Arc<Shared>> {
    Router::new()
        .route(IMDS_PATH, get(imds))
        .route(APP_SERVICE_PATH, get(app_service))
}

/// Which endpoint was asked: they differ in the credential header, the
/// query names and the answer's shape.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Flavor {
    Imds,
    AppService,
}

/// An error answer in IMDS's shape.
struct IdentityError {
    status: StatusCode,
    error: String,
    description: String,
    retry_after_secs: Option<u64>,
}

impl IdentityError {
    fn bad_request(error: &str, description: impl Into<String>) -> Self {
        IdentityError {
            status: StatusCode::BAD_REQUEST,
            error: error.to_owned(),
            description: description.into(),
            retry_after_secs: None,
        }
    }

    /// An identity platform error passed on, as IMDS does.
    fn from_aad(error: AadError) -> Self {
        IdentityError {
            status: error.status,
            description: format!("AADSTS{}: {}", error.code, error.description),
            error: error.error,
            retry_after_secs: None,
        }
    }

    fn into_response(self) -> Response {
        let body = json!({"error": self.error, "error_description": self.description});
        let mut response = (self.status, Json(body)).into_response();
        if let Some(secs) = self.retry_after_secs {
            response
                .headers_mut()
                .insert(header::RETRY_AFTER, HeaderValue::from(secs));
        }
        response
    }
}

async fn imds(
    state: State<Arc<Shared>>,
    connection: Extension<ConnectionControl>,
    headers: HeaderMap,
    query: Query<HashMap<String, String>>,
) -> Response {
    answer(state, connection, headers, query, Flavor::Imds).await
}

async fn app_service(
    state: State<Arc<Shared>>,
    connection: Extension<ConnectionControl>,
    headers: HeaderMap,
    query: Query<HashMap<String, String>>,
) -> Response {
    answer(state, connection, headers, query, Flavor::AppService).await
}

async fn answer(
    State(shared): State<Arc<Shared>>,
    connection: Extension<ConnectionControl>,
    headers: HeaderMap,
    Query(query): Query<HashMap<String, String>>,
    flavor: Flavor,
) -> Response {
    CounterCells::bump(&shared.counters.identity_requests);
    if let Err(error) = check_caller(&headers, flavor) {
        return refuse(&shared, error);
    }
    let named = query
        .get("client_id")
        .map(String::as_str)
        .filter(|c| !c.is_empty());
    let fault = lock(&shared.faults).take_identity(named);
    if let Some(fault) = fault {
        CounterCells::bump(&shared.counters.faults_injected);
        if fault.drop_after_body {
            return connection.drop_connection().await;
        }
        if fault.status == Some(429) {
            CounterCells::bump(&shared.counters.throttled);
        }
        return refuse(&shared, fault_error(&fault));
    }
    match issue(&shared, &query, flavor) {
        Ok(body) => {
            CounterCells::bump(&shared.counters.identity_tokens_issued);
            let mut response = (StatusCode::OK, Json(body)).into_response();
            response.headers_mut().insert(
                header::CACHE_CONTROL,
                HeaderValue::from_static("no-store, no-cache"),
            );
            response
        }
        Err(error) => refuse(&shared, error),
    }
}

fn refuse(shared: &Shared, error: IdentityError) -> Response {
    CounterCells::bump(&shared.counters.identity_errors);
    tracing::info!(status = error.status.as_u16(), error = %error.error, "managed identity request refused");
    error.into_response()
}

/// IMDS wants `Metadata: true` (a guard against server-side request
/// forgery); App Service wants its identity header's value.
fn check_caller(headers: &HeaderMap, flavor: Flavor) -> Result<(), IdentityError> {
    match flavor {
        Flavor::Imds => {
            let metadata = headers.get("metadata").and_then(|v| v.to_str().ok());
            if metadata.is_some_and(|v| v.trim().eq_ignore_ascii_case("true")) {
                Ok(())
            } else {
                Err(IdentityError::bad_request(
                    "invalid_request",
                    "Required metadata header not specified",
                ))
            }
        }
        Flavor::AppService => match headers.get("x-identity-header") {
            None => Err(IdentityError::bad_request(
                "invalid_request",
                "Required header X-IDENTITY-HEADER not specified",
            )),
            Some(value) => {
                if aws_lc_rs::constant_time::verify_slices_are_equal(
                    value.as_bytes(),
                    IDENTITY_HEADER.as_bytes(),
                )
                .is_ok()
                {
                    Ok(())
                } else {
                    Err(IdentityError {
                        status: StatusCode::UNAUTHORIZED,
                        error: "unauthorized_client".to_owned(),
                        description: "The X-IDENTITY-HEADER value is not the one this host issued; use the IDENTITY_HEADER environment variable.".to_owned(),
                        retry_after_secs: None,
                    })
                }
            }
        },
    }
}

fn issue(
    shared: &Shared,
    query: &HashMap<String, String>,
    flavor: Flavor,
) -> Result<Value, IdentityError> {
    let param = |name: &str| query.get(name).map(|v| v.trim()).filter(|v| !v.is_empty());
    let missing = |name: &str| {
        IdentityError::bad_request(
            "invalid_request",
            format!("Required query variable '{name}' is missing"),
        )
    };
    param("api-version").ok_or_else(|| missing("api-version"))?;
    let resource = param("resource").ok_or_else(|| missing("resource"))?;
    let object_id_name = match flavor {
        Flavor::Imds => "object_id",
        Flavor::AppService => "principal_id",
    };
    let parse = |name: &str, text: &str| {
        Uuid::parse_str(text).map_err(|_| {
            IdentityError::bad_request(
                "invalid_request",
                format!("Query variable '{name}' is not a valid GUID"),
            )
        })
    };
    let choice = match (param("client_id"), param(object_id_name)) {
        (Some(id), _) => IdentityChoice::ClientId(parse("client_id", id)?),
        (None, Some(id)) => IdentityChoice::ObjectId(parse(object_id_name, id)?),
        (None, None) => IdentityChoice::SystemAssigned,
    };
    let (tenant, app) = shared
        .directory
        .managed_identity(choice)
        .ok_or_else(|| IdentityError::bad_request("invalid_request", "Identity not found"))?;
    let audience = resolve_resource(Some(resource), tenant).map_err(IdentityError::from_aad)?;
    let issued = sign_app_token(
        shared,
        tenant,
        app,
        audience,
        "2",
        MANAGED_IDENTITY_TOKEN_LIFETIME_SECS,
    )
    .map_err(IdentityError::from_aad)?;
    let expires_on = issued
        .now
        .saturating_add_unsigned(issued.lifetime)
        .to_string();
    Ok(match flavor {
        // IMDS writes every number as a string.
        Flavor::Imds => json!({
            "access_token": issued.token,
            "client_id": app.client_id.to_string(),
            "expires_in": issued.lifetime.to_string(),
            "expires_on": expires_on,
            "ext_expires_in": issued.lifetime.to_string(),
            "not_before": issued.now.to_string(),
            "resource": issued.resource,
            "token_type": "Bearer",
        }),
        Flavor::AppService => json!({
            "access_token": issued.token,
            "expires_on": expires_on,
            "resource": issued.resource,
            "token_type": "Bearer",
            "client_id": app.client_id.to_string(),
        }),
    })
}

fn fault_error(fault: &Fault) -> IdentityError {
    let status = fault
        .status
        .and_then(|s| StatusCode::from_u16(s).ok())
        .unwrap_or(StatusCode::SERVICE_UNAVAILABLE);
    let transient = matches!(status.as_u16(), 410 | 429) || status.is_server_error();
    IdentityError {
        status,
        error: fault.code.clone().unwrap_or_else(|| {
            if transient {
                "temporarily_unavailable"
            } else {
                "invalid_request"
            }
            .to_owned()
        }),
        description: fault.message.clone().unwrap_or_else(|| {
            "The managed identity endpoint is temporarily unavailable. Please try again.".to_owned()
        }),
        retry_after_secs: fault.retry_after_secs,
    }
}
