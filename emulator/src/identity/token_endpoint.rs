//! `POST /{tenant}/oauth2/v2.0/token` for `grant_type=client_credentials`,
//! and the v1 endpoint `/{tenant}/oauth2/token` that the v1 discovery
//! document advertises (a `resource=` instead of a `scope=`).
//!
//! The checks run in the order Entra's answers suggest: the tenant in the
//! path, the grant type, who the client is, its credential, then the scope.
//! Secrets are compared in constant time and never logged.

use std::collections::HashMap;
use std::sync::Arc;

use axum::body::Body;
use axum::extract::{Path, State};
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::{Extension, Json};
use base64::Engine;
use base64::engine::general_purpose::{STANDARD, URL_SAFE_NO_PAD};

use super::{AadContext, AadError, client_assertion, federated_assertion};
use crate::body::{BodyRead, read_limited};
use crate::directory::{App, Tenant, TenantLookup};
use crate::faults::Fault;
use crate::server::ConnectionControl;
use crate::state::{CounterCells, Shared, lock};
use crate::tokens::{AccessTokenClaims, sts_issuer};

/// Token requests are small; this only guards against abuse.
const MAX_TOKEN_REQUEST_BYTES: usize = 256 * 1024;

/// The resources whose `/.default` scope the emulator grants, with the `aud`
/// the token then carries. Graph's app id gives a token for that id, as
/// Entra does when asked that way.
pub(crate) const GRAPH_RESOURCES: &[&str] = &[
    "https://graph.microsoft.com",
    "00000003-0000-0000-c000-000000000000",
    "https://graph.microsoft.us",
    "https://dod-graph.microsoft.us",
    "https://microsoftgraph.chinacloudapi.cn",
];

/// Which token endpoint was called: they differ in how the resource is
/// named and in the shape of the answer.
#[derive(Clone, Copy, PartialEq, Eq)]
pub(super) enum Endpoint {
    /// `/oauth2/v2.0/token`: `scope={resource}/.default`.
    V2,
    /// `/oauth2/token`: `resource={resource}`; `expires_in` as a string,
    /// with `expires_on`, `not_before` and `resource`.
    V1,
}

pub(super) async fn token_v2(
    state: State<Arc<Shared>>,
    tenant: Path<String>,
    connection: Extension<ConnectionControl>,
    headers: HeaderMap,
    body: Body,
) -> Response {
    token(state, tenant, connection, headers, body, Endpoint::V2).await
}

pub(super) async fn token_v1(
    state: State<Arc<Shared>>,
    tenant: Path<String>,
    connection: Extension<ConnectionControl>,
    headers: HeaderMap,
    body: Body,
) -> Response {
    token(state, tenant, connection, headers, body, Endpoint::V1).await
}

async fn token(
    State(shared): State<Arc<Shared>>,
    Path(tenant): Path<String>,
    connection: Extension<ConnectionControl>,
    headers: HeaderMap,
    body: Body,
    endpoint: Endpoint,
) -> Response {
    CounterCells::bump(&shared.counters.token_requests);
    let ctx = AadContext::from_headers(&headers);
    let body = match read_limited(body, MAX_TOKEN_REQUEST_BYTES).await {
        BodyRead::Complete(bytes) => bytes,
        BodyRead::TooLarge => {
            CounterCells::bump(&shared.counters.token_errors);
            return AadError::new("invalid_request", 90020, "The request is too large.")
                .into_response(&ctx);
        }
        BodyRead::Failed => return StatusCode::BAD_REQUEST.into_response(),
    };
    let form = parse_form(&body);
    let basic = basic_credentials(&headers);
    let client_id = basic
        .as_ref()
        .map(|(id, _)| id.as_str())
        .or(form.get("client_id").map(String::as_str));

    let fault = lock(&shared.faults).take_token(client_id);
    if let Some(fault) = fault {
        CounterCells::bump(&shared.counters.faults_injected);
        if fault.drop_after_body {
            tracing::info!(tenant = %tenant, "fault: dropping token request connection");
            return connection.drop_connection().await;
        }
        CounterCells::bump(&shared.counters.token_errors);
        if fault.status == Some(429) {
            CounterCells::bump(&shared.counters.throttled);
        }
        return fault_response(&fault, &ctx);
    }

    match issue(&shared, &tenant, &form, basic.as_ref(), endpoint) {
        Ok(issued) => {
            CounterCells::bump(&shared.counters.tokens_issued);
            let body = issued.answer(endpoint);
            let mut response = (StatusCode::OK, Json(body)).into_response();
            ctx.decorate(&mut response);
            response
        }
        Err(error) => {
            CounterCells::bump(&shared.counters.token_errors);
            tracing::info!(tenant = %tenant, code = error.code, "token request refused");
            error.into_response(&ctx)
        }
    }
}

/// A signed token and what its answer tells about it.
pub(super) struct Issued {
    pub token: String,
    pub lifetime: u64,
    pub now: i64,
    pub resource: String,
}

impl Issued {
    fn answer(&self, endpoint: Endpoint) -> serde_json::Value {
        match endpoint {
            Endpoint::V2 => serde_json::json!({
                "token_type": "Bearer",
                "expires_in": self.lifetime,
                "ext_expires_in": self.lifetime,
                "access_token": self.token,
            }),
            // v1 writes its numbers as strings.
            Endpoint::V1 => serde_json::json!({
                "token_type": "Bearer",
                "expires_in": self.lifetime.to_string(),
                "ext_expires_in": self.lifetime.to_string(),
                "expires_on": self.now.saturating_add_unsigned(self.lifetime).to_string(),
                "not_before": self.now.to_string(),
                "resource": self.resource,
                "access_token": self.token,
            }),
        }
    }
}

/// Runs the checks and signs a token.
fn issue(
    shared: &Shared,
    tenant_segment: &str,
    form: &HashMap<String, String>,
    basic: Option<&(String, String)>,
    endpoint: Endpoint,
) -> Result<Issued, AadError> {
    let tenant = resolve_tenant(shared, tenant_segment)?;

    let grant_type = form
        .get("grant_type")
        .filter(|g| !g.is_empty())
        .ok_or_else(|| AadError::missing_parameter("grant_type"))?;
    if grant_type != "client_credentials" {
        return Err(AadError::new(
            "unsupported_grant_type",
            70003,
            format!("The app requested an unsupported grant type '{grant_type}'."),
        ));
    }

    let (client_id, presented_secret) = match basic {
        Some((id, secret)) => (id.clone(), Some(secret.clone())),
        None => (
            form.get("client_id")
                .filter(|c| !c.is_empty())
                .cloned()
                .ok_or_else(|| AadError::missing_parameter("client_id"))?,
            form.get("client_secret").cloned(),
        ),
    };
    let app = tenant.app(&client_id).ok_or_else(|| {
        AadError::new(
            "unauthorized_client",
            700016,
            format!(
                "Application with identifier '{client_id}' was not found in the directory '{}'. This can happen if the application has not been installed by the administrator of the tenant or consented to by any user in the tenant. You may have sent your authentication request to the wrong tenant.",
                tenant.primary_domain()
            ),
        )
    })?;
    if app.disabled {
        return Err(AadError::new(
            "unauthorized_client",
            7000112,
            format!(
                "Application '{}'({}) is disabled.",
                app.client_id, app.display_name
            ),
        ));
    }

    let appidacr = check_credential(
        shared,
        tenant,
        tenant_segment,
        app,
        presented_secret.as_deref(),
        form,
    )?;
    let audience = match endpoint {
        Endpoint::V2 => resolve_scope(form.get("scope").map(String::as_str), tenant)?,
        Endpoint::V1 => resolve_resource(form.get("resource").map(String::as_str), tenant)?,
    };

    let lifetime = shared.settings().token_lifetime_secs;
    sign_app_token(shared, tenant, app, audience, appidacr, lifetime)
}

/// Signs an app-only access token for `app` with audience `audience`, as
/// the token endpoint and the managed identity endpoints issue it.
pub(super) fn sign_app_token(
    shared: &Shared,
    tenant: &Tenant,
    app: &App,
    audience: String,
    appidacr: &str,
    lifetime: u64,
) -> Result<Issued, AadError> {
    let now = shared.clock.now_utc().unix_timestamp();
    let issued_at = now - 300;
    let issuer = sts_issuer(tenant.id);
    let uti = URL_SAFE_NO_PAD.encode(rand::random::<[u8; 16]>());
    let claims = AccessTokenClaims {
        aud: audience,
        iss: issuer.clone(),
        iat: issued_at,
        nbf: issued_at,
        exp: now.saturating_add(i64::try_from(lifetime).unwrap_or(i64::MAX)),
        app_displayname: app.display_name.clone(),
        appid: app.client_id.to_string(),
        appidacr: appidacr.to_owned(),
        idp: issuer,
        idtyp: "app".to_owned(),
        oid: app.object_id.to_string(),
        roles: (!app.roles.is_empty()).then(|| app.roles.clone()),
        sub: app.object_id.to_string(),
        tid: tenant.id.to_string(),
        uti: uti.clone(),
        ver: "1.0".to_owned(),
    };
    let token = shared.signer.issue(&claims).map_err(|_| {
        AadError::new(
            "server_error",
            90033,
            "A transient error has occurred. Please try again.",
        )
    })?;
    lock(&shared.tokens).record(&uti);
    Ok(Issued {
        token,
        lifetime,
        now,
        resource: claims.aud,
    })
}

fn resolve_tenant<'a>(shared: &'a Shared, segment: &str) -> Result<&'a Tenant, AadError> {
    match shared.directory.lookup_tenant(segment) {
        TenantLookup::Found(tenant) => Ok(tenant),
        TenantLookup::Reserved => Err(AadError::new(
            "invalid_request",
            9001023,
            "The grant type isn't supported over the /common, /consumers or /organizations endpoints. Please use the tenant-specific endpoint.",
        )),
        TenantLookup::Malformed => Err(AadError::new(
            "invalid_request",
            900023,
            format!(
                "Specified tenant identifier '{segment}' is neither a valid DNS name, nor a valid external domain."
            ),
        )),
        // Discovery calls this error `invalid_tenant`; the token endpoint,
        // as Entra answers it, `invalid_request`.
        TenantLookup::NotFound => Err(AadError {
            error: "invalid_request".to_owned(),
            ..tenant_not_found(segment)
        }),
    }
}

pub(super) fn tenant_not_found(segment: &str) -> AadError {
    AadError::new(
        "invalid_tenant",
        90002,
        format!(
            "Tenant '{segment}' not found. Check to make sure you have the correct tenant ID and are signing into the correct cloud. Check with your subscription administrator, this may happen if there are no active subscriptions for the tenant."
        ),
    )
}

/// Checks the secret or the client assertion; returns `appidacr` ("1" for
/// a secret, "2" for a certificate).
fn check_credential(
    shared: &Shared,
    tenant: &Tenant,
    tenant_segment: &str,
    app: &App,
    secret: Option<&str>,
    form: &HashMap<String, String>,
) -> Result<&'static str, AadError> {
    let secret = secret.filter(|s| !s.is_empty());
    let assertion = form.get("client_assertion").filter(|a| !a.is_empty());
    if let (None, Some(assertion)) = (secret, assertion) {
        match form.get("client_assertion_type").map(|t| t.trim()) {
            None | Some("") => return Err(AadError::missing_parameter("client_assertion_type")),
            Some(kind) if kind != client_assertion::JWT_BEARER => {
                return Err(AadError::new(
                    "invalid_request",
                    90023,
                    format!(
                        "The client_assertion_type '{kind}' is not supported. Use '{}'.",
                        client_assertion::JWT_BEARER
                    ),
                ));
            }
            Some(_) => {}
        }
        if federated_assertion::is_federated(assertion) {
            federated_assertion::check(shared, app, assertion)?;
        } else {
            client_assertion::check(shared, tenant, tenant_segment, app, assertion)?;
        }
        return Ok("2");
    }
    let Some(secret) = secret else {
        return Err(AadError::new(
            "invalid_client",
            7000218,
            "The request body must contain the following parameter: 'client_assertion' or 'client_secret'.",
        ));
    };
    let now = shared.clock.now_utc();
    let matching = app.secrets.iter().find(|s| {
        aws_lc_rs::constant_time::verify_slices_are_equal(s.value.as_bytes(), secret.as_bytes())
            .is_ok()
    });
    match matching {
        Some(s) if !s.is_expired(now) => Ok("1"),
        Some(_) => Err(AadError::new(
            "invalid_client",
            7000222,
            format!(
                "The provided client secret keys for app '{}' are expired. Visit the Azure portal to create new keys for your app: https://aka.ms/NewClientSecret, or consider using certificate credentials for added security: https://aka.ms/certCreds.",
                app.client_id
            ),
        )),
        None => Err(AadError::new(
            "invalid_client",
            7000215,
            format!(
                "Invalid client secret provided. Ensure the secret being sent in the request is the client secret value, not the client secret ID, for a secret added to app '{}'.",
                app.client_id
            ),
        )),
    }
}

/// Checks the scope and returns the token audience.
fn resolve_scope(scope: Option<&str>, tenant: &Tenant) -> Result<String, AadError> {
    let scope = scope
        .map(str::trim)
        .filter(|s| !s.is_empty())
        .ok_or_else(|| AadError::missing_parameter("scope"))?;
    let mut resources: Vec<&str> = Vec::new();
    for item in scope.split_whitespace() {
        let Some(resource) = item.strip_suffix("/.default") else {
            return Err(AadError::new(
                "invalid_scope",
                1002012,
                format!(
                    "The provided value for scope {item} is not valid. Client credential flows must have a scope value with /.default suffixed to the resource identifier (application ID URI)."
                ),
            ));
        };
        if !resources.iter().any(|r| r.eq_ignore_ascii_case(resource)) {
            resources.push(resource);
        }
    }
    if resources.len() > 1 {
        return Err(AadError::new(
            "invalid_scope",
            700022,
            format!(
                "The provided value for the input parameter scope is not valid because it contains more than one resource. Scope {scope} is not valid."
            ),
        ));
    }
    let resource = resources.first().copied().unwrap_or_default();
    if resource.is_empty() {
        return Err(AadError::new(
            "invalid_scope",
            70011,
            format!(
                "The provided value for the input parameter 'scope' is not valid. The scope {scope} is not valid."
            ),
        ));
    }
    known_resource(resource, tenant)
}

/// The v1 endpoint's `resource`: the resource itself, no `/.default`.
pub(super) fn resolve_resource(
    resource: Option<&str>,
    tenant: &Tenant,
) -> Result<String, AadError> {
    let resource = resource
        .map(str::trim)
        .filter(|s| !s.is_empty())
        .ok_or_else(|| AadError::missing_parameter("resource"))?;
    known_resource(resource.trim_end_matches('/'), tenant)
}

/// A resource the tenant has a service principal for (only Graph here),
/// or Entra's `invalid_resource` AADSTS500011.
fn known_resource(resource: &str, tenant: &Tenant) -> Result<String, AadError> {
    GRAPH_RESOURCES
        .iter()
        .find(|known| known.eq_ignore_ascii_case(resource))
        .map(|known| (*known).to_owned())
        .ok_or_else(|| {
            AadError::new(
                "invalid_resource",
                500011,
                format!(
                    "The resource principal named {resource} was not found in the tenant named {}. This can happen if the application has not been installed by the administrator of the tenant or consented to by any user in the tenant. You might have sent your authentication request to the wrong tenant.",
                    tenant.primary_domain()
                ),
            )
        })
}

/// `application/x-www-form-urlencoded`; the first value of a repeated field wins.
fn parse_form(body: &[u8]) -> HashMap<String, String> {
    let mut form = HashMap::new();
    for (key, value) in url::form_urlencoded::parse(body) {
        form.entry(key.into_owned())
            .or_insert_with(|| value.into_owned());
    }
    form
}

/// RFC 6749 §2.3.1: `Basic base64(urlencode(id):urlencode(secret))`.
fn basic_credentials(headers: &HeaderMap) -> Option<(String, String)> {
    let value = headers.get(header::AUTHORIZATION)?.to_str().ok()?;
    let (scheme, encoded) = value.trim().split_once(' ')?;
    if !scheme.eq_ignore_ascii_case("basic") {
        return None;
    }
    let decoded = STANDARD.decode(encoded.trim()).ok()?;
    let text = String::from_utf8(decoded).ok()?;
    let (id, secret) = text.split_once(':')?;
    let unescape = |s: &str| -> String {
        url::form_urlencoded::parse(format!("v={s}").as_bytes())
            .next()
            .map(|(_, v)| v.into_owned())
            .unwrap_or_default()
    };
    Some((unescape(id), unescape(secret)))
}

fn fault_response(fault: &Fault, ctx: &AadContext) -> Response {
    let status = fault
        .status
        .and_then(|s| StatusCode::from_u16(s).ok())
        .unwrap_or(StatusCode::SERVICE_UNAVAILABLE);
    if let Some(body) = &fault.body {
        let content_type = fault
            .content_type
            .clone()
            .unwrap_or_else(|| "text/html; charset=utf-8".to_owned());
        let mut response = (status, body.clone()).into_response();
        if let Ok(v) = HeaderValue::from_str(&content_type) {
            response.headers_mut().insert(header::CONTENT_TYPE, v);
        }
        if let Some(secs) = fault.retry_after_secs {
            response
                .headers_mut()
                .insert(header::RETRY_AFTER, HeaderValue::from(secs));
        }
        ctx.decorate(&mut response);
        return response;
    }
    let transient = status == StatusCode::TOO_MANY_REQUESTS || status.is_server_error();
    let error = fault.code.clone().unwrap_or_else(|| {
        if transient {
            "temporarily_unavailable"
        } else {
            "invalid_request"
        }
        .to_owned()
    });
    let mut aad = AadError::new(
        &error,
        fault
            .error_code
            .unwrap_or(if transient { 90033 } else { 90000 }),
        fault
            .message
            .clone()
            .unwrap_or_else(|| "A transient error has occurred. Please try again.".to_owned()),
    );
    aad.status = status;
    aad.retry_after_secs = fault.retry_after_secs;
    aad.into_response(ctx)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn scopes() {
        let directory = crate::Directory::default();
        let tenant = &directory.tenants[0];
        let resolve_scope = |scope| resolve_scope(scope, tenant);
        assert_eq!(
            resolve_scope(Some("https://graph.microsoft.com/.default")).unwrap(),
            "https://graph.microsoft.com"
        );
        assert_eq!(
            resolve_scope(Some("00000003-0000-0000-c000-000000000000/.default")).unwrap(),
            "00000003-0000-0000-c000-000000000000"
        );
        assert_eq!(
            resolve_scope(Some("https://graph.microsoft.us/.default")).unwrap(),
            "https://graph.microsoft.us"
        );
        assert_eq!(resolve_scope(Some("Mail.Send")).unwrap_err().code, 1002012);
        assert_eq!(
            resolve_scope(Some("https://example.com/.default"))
                .unwrap_err()
                .code,
            500011
        );
        assert_eq!(
            resolve_resource(Some("https://graph.microsoft.com/"), tenant).unwrap(),
            "https://graph.microsoft.com"
        );
        assert_eq!(resolve_resource(None, tenant).unwrap_err().code, 900144);
        assert_eq!(
            resolve_scope(Some(
                "https://graph.microsoft.com/.default https://outlook.office.com/.default"
            ))
            .unwrap_err()
            .code,
            700022
        );
        assert_eq!(resolve_scope(None).unwrap_err().code, 900144);
    }

    #[test]
    fn basic_auth_is_url_decoded() {
        let mut headers = HeaderMap::new();
        let raw = STANDARD.encode("id%3A1:s%2Bcret+x");
        headers.insert(
            header::AUTHORIZATION,
            HeaderValue::from_str(&format!("Basic {raw}")).unwrap(),
        );
        assert_eq!(
            basic_credentials(&headers),
            Some(("id:1".into(), "s+cret x".into()))
        );
    }
}
