//! Discovery documents, so MSAL and Azure Identity accept the emulator as an
//! authority (docs/graph-mail-protocol.md §12): OpenID configuration (v2.0 and v1), instance
//! discovery, and the signing keys. Every URL in them points back at this
//! emulator's origin; msal-node insists the issuer shares its scheme, host
//! and port.

use std::collections::HashMap;
use std::sync::Arc;

use axum::Json;
use axum::extract::{Path, Query, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};

use super::token_endpoint::tenant_not_found;
use super::{AadContext, AadError};
use crate::directory::TenantLookup;
use crate::state::Shared;
use crate::tokens::sts_issuer;

/// How a discovery path's `{tenant}` is written into the documents.
enum TenantPath {
    /// A known tenant: its id.
    Id(String),
    /// `common` and friends: Entra writes `{tenantid}` in the issuer.
    Placeholder(String),
}

fn tenant_path(
    shared: &Shared,
    segment: &str,
    headers: &HeaderMap,
) -> Result<TenantPath, Box<Response>> {
    let ctx = AadContext::from_headers(headers);
    match shared.directory.lookup_tenant(segment) {
        TenantLookup::Found(t) => Ok(TenantPath::Id(t.id.to_string())),
        TenantLookup::Reserved => Ok(TenantPath::Placeholder(segment.to_ascii_lowercase())),
        TenantLookup::NotFound => Err(Box::new(tenant_not_found(segment).into_response(&ctx))),
        TenantLookup::Malformed => Err(Box::new(
            AadError::new(
                "invalid_tenant",
                90002,
                format!("Tenant '{segment}' not found. The tenant identifier is neither a GUID nor a DNS name."),
            )
            .into_response(&ctx),
        )),
    }
}

fn host_and_port(origin: &str) -> &str {
    origin
        .split_once("://")
        .map(|(_, rest)| rest)
        .unwrap_or(origin)
}

pub(super) async fn openid_configuration_v2(
    State(shared): State<Arc<Shared>>,
    Path(tenant): Path<String>,
    headers: HeaderMap,
) -> Response {
    let (path, issuer_tenant) = match tenant_path(&shared, &tenant, &headers) {
        Ok(TenantPath::Id(id)) => (id.clone(), id),
        Ok(TenantPath::Placeholder(p)) => (p, "{tenantid}".to_owned()),
        Err(response) => return *response,
    };
    let o = &shared.origin;
    Json(serde_json::json!({
        "token_endpoint": format!("{o}/{path}/oauth2/v2.0/token"),
        "token_endpoint_auth_methods_supported": ["client_secret_post", "private_key_jwt", "client_secret_basic"],
        "jwks_uri": format!("{o}/{path}/discovery/v2.0/keys"),
        "response_modes_supported": ["query", "fragment", "form_post"],
        "subject_types_supported": ["pairwise"],
        "id_token_signing_alg_values_supported": ["RS256"],
        "response_types_supported": ["code", "id_token", "code id_token", "id_token token"],
        "scopes_supported": ["openid", "profile", "email", "offline_access"],
        "issuer": format!("{o}/{issuer_tenant}/v2.0"),
        "request_uri_parameter_supported": false,
        "userinfo_endpoint": format!("{o}/oidc/userinfo"),
        "authorization_endpoint": format!("{o}/{path}/oauth2/v2.0/authorize"),
        "device_authorization_endpoint": format!("{o}/{path}/oauth2/v2.0/devicecode"),
        "http_logout_supported": true,
        "frontchannel_logout_supported": true,
        "end_session_endpoint": format!("{o}/{path}/oauth2/v2.0/logout"),
        "claims_supported": ["sub", "iss", "cloud_instance_name", "cloud_instance_host_name", "cloud_graph_host_name", "msgraph_host", "aud", "exp", "iat", "auth_time", "acr", "nonce", "preferred_username", "name", "tid", "ver", "at_hash", "c_hash", "email"],
        "kerberos_endpoint": format!("{o}/{path}/kerberos"),
        "tenant_region_scope": "WW",
        "cloud_instance_name": "microsoftonline.com",
        "cloud_graph_host_name": "graph.windows.net",
        "msgraph_host": host_and_port(o),
        "rbac_url": "https://pas.windows.net",
    }))
    .into_response()
}

pub(super) async fn openid_configuration_v1(
    State(shared): State<Arc<Shared>>,
    Path(tenant): Path<String>,
    headers: HeaderMap,
) -> Response {
    let (path, issuer) = match tenant_path(&shared, &tenant, &headers) {
        Ok(TenantPath::Id(id)) => (id.clone(), sts_issuer(&id)),
        Ok(TenantPath::Placeholder(p)) => (p, sts_issuer("{tenantid}")),
        Err(response) => return *response,
    };
    let o = &shared.origin;
    Json(serde_json::json!({
        "token_endpoint": format!("{o}/{path}/oauth2/token"),
        "token_endpoint_auth_methods_supported": ["client_secret_post", "private_key_jwt", "client_secret_basic"],
        "jwks_uri": format!("{o}/common/discovery/keys"),
        "response_modes_supported": ["query", "fragment", "form_post"],
        "subject_types_supported": ["pairwise"],
        "id_token_signing_alg_values_supported": ["RS256"],
        "response_types_supported": ["code", "id_token", "code id_token", "token id_token", "token"],
        "scopes_supported": ["openid"],
        "issuer": issuer,
        "microsoft_multi_refresh_token": true,
        "authorization_endpoint": format!("{o}/{path}/oauth2/authorize"),
        "device_authorization_endpoint": format!("{o}/{path}/oauth2/devicecode"),
        "http_logout_supported": true,
        "frontchannel_logout_supported": true,
        "end_session_endpoint": format!("{o}/{path}/oauth2/logout"),
        "claims_supported": ["sub", "iss", "cloud_instance_name", "cloud_instance_host_name", "cloud_graph_host_name", "msgraph_host", "aud", "exp", "iat", "auth_time", "acr", "amr", "nonce", "email", "given_name", "family_name", "nickname"],
        "check_session_iframe": format!("{o}/{path}/oauth2/checksession"),
        "userinfo_endpoint": format!("{o}/{path}/openid/userinfo"),
        "kerberos_endpoint": format!("{o}/{path}/kerberos"),
        "tenant_region_scope": "WW",
        "cloud_instance_name": "microsoftonline.com",
        "cloud_graph_host_name": "graph.windows.net",
        "msgraph_host": host_and_port(o),
        "rbac_url": "https://pas.windows.net",
    }))
    .into_response()
}

/// `GET /common/discovery/instance?api-version=1.1&authorization_endpoint=...`:
/// names this host as the only alias and points at the tenant's OpenID
/// configuration (the tenant is read from `authorization_endpoint`).
pub(super) async fn instance_discovery(
    State(shared): State<Arc<Shared>>,
    Path(_tenant): Path<String>,
    Query(query): Query<HashMap<String, String>>,
) -> Response {
    let tenant = query
        .get("authorization_endpoint")
        .and_then(|e| url::Url::parse(e).ok())
        .and_then(|u| {
            u.path_segments()
                .and_then(|mut s| s.next().map(str::to_owned))
                .filter(|s| !s.is_empty())
        })
        .unwrap_or_else(|| "common".to_owned());
    let host = host_and_port(&shared.origin);
    let api_version = query
        .get("api-version")
        .cloned()
        .unwrap_or_else(|| "1.1".to_owned());
    (
        StatusCode::OK,
        Json(serde_json::json!({
            "tenant_discovery_endpoint": format!("{}/{tenant}/v2.0/.well-known/openid-configuration", shared.origin),
            "api-version": api_version,
            "metadata": [{
                "preferred_network": host,
                "preferred_cache": host,
                "aliases": [host],
            }],
        })),
    )
        .into_response()
}

pub(super) async fn keys_v2(
    State(shared): State<Arc<Shared>>,
    Path(tenant): Path<String>,
) -> Response {
    let issuer_tenant = match shared.directory.lookup_tenant(&tenant) {
        TenantLookup::Found(t) => t.id.to_string(),
        _ => "{tenantid}".to_owned(),
    };
    let issuer = format!("{}/{issuer_tenant}/v2.0", shared.origin);
    Json(serde_json::json!({ "keys": [shared.signer.jwk(&issuer)] })).into_response()
}

pub(super) async fn keys_v1(
    State(shared): State<Arc<Shared>>,
    Path(_tenant): Path<String>,
) -> Response {
    let jwk = shared.signer.jwk(&sts_issuer("{tenantid}"));
    Json(serde_json::json!({ "keys": [jwk] })).into_response()
}
