//! `/_emulator/...`: what tests use to read what arrived and to steer the
//! emulator (faults, settings, revocation). No authentication: the emulator
//! listens on loopback by default and holds nothing real.

use std::sync::Arc;
use std::time::Duration;

use axum::extract::{Path, Query, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::{Json, Router};
use serde::Deserialize;
use serde_json::json;

use crate::certificates::Certificate;
use crate::directory::{AccessPolicy, AccessRight, App, MailboxKind, PolicyApps};
use crate::faults::{ActiveFaults, FaultPlan};
use crate::policy;
use crate::settings::SettingsUpdate;
use crate::state::{Shared, lock};

pub(crate) fn router() -> Router<Arc<Shared>> {
    Router::new()
        .route("/_emulator/openapi.json", get(openapi))
        .route("/_emulator/messages", get(messages).delete(clear_messages))
        .route("/_emulator/messages/wait", get(wait_messages))
        .route("/_emulator/messages/{id}", get(message))
        .route("/_emulator/drafts", get(drafts))
        .route("/_emulator/drafts/wait", get(wait_drafts))
        .route("/_emulator/counters", get(counters))
        .route("/_emulator/counters/wait", get(wait_counter))
        .route("/_emulator/connections", get(connections))
        .route("/_emulator/clock", get(clock))
        .route("/_emulator/clock/advance", post(advance_clock))
        .route("/_emulator/reset", post(reset))
        .route("/_emulator/faults", get(faults).put(set_faults))
        .route("/_emulator/tokens/revoke", post(revoke))
        .route("/_emulator/settings", get(settings).put(set_settings))
        .route("/_emulator/directory", get(directory))
        .route(
            "/_emulator/apps/{client_id}/certificates",
            get(app_certificates)
                .post(add_certificate)
                .delete(clear_certificates),
        )
        .route("/_emulator/policies", get(policies).post(add_policy))
        .route("/_emulator/policies/test", get(test_policy))
        .route(
            "/_emulator/policies/{id}",
            axum::routing::delete(remove_policy),
        )
}

/// This API described in OpenAPI 3.1, embedded so it always matches the
/// binary that serves it.
const OPENAPI: &str = include_str!("openapi.json");

async fn openapi() -> Response {
    (
        [(axum::http::header::CONTENT_TYPE, "application/json")],
        OPENAPI,
    )
        .into_response()
}

fn problem(status: StatusCode, message: impl Into<String>) -> Response {
    (status, Json(json!({ "error": message.into() }))).into_response()
}

async fn messages(State(shared): State<Arc<Shared>>) -> Response {
    Json(json!({ "messages": shared.messages.all() })).into_response()
}

async fn message(State(shared): State<Arc<Shared>>, Path(id): Path<String>) -> Response {
    match shared.messages.get(&id) {
        Some(m) => Json(m).into_response(),
        None => problem(StatusCode::NOT_FOUND, format!("no message with id {id}")),
    }
}

async fn clear_messages(State(shared): State<Arc<Shared>>) -> StatusCode {
    shared.clear_messages();
    StatusCode::NO_CONTENT
}

#[derive(Deserialize)]
struct WaitQuery {
    count: Option<usize>,
    timeout_ms: Option<u64>,
}

/// Waits for at least `count` (default 1) messages; 408 with what is there
/// when `timeout_ms` (default 5000, at most 10 minutes) runs out.
async fn wait_messages(State(shared): State<Arc<Shared>>, Query(q): Query<WaitQuery>) -> Response {
    let count = q.count.unwrap_or(1);
    let timeout = Duration::from_millis(q.timeout_ms.unwrap_or(5_000).min(600_000));
    match shared.messages.wait_for(count, timeout).await {
        Ok(all) => Json(json!({ "messages": all })).into_response(),
        Err(all) => (
            StatusCode::REQUEST_TIMEOUT,
            Json(json!({ "messages": all })),
        )
            .into_response(),
    }
}

/// Every draft (attachment names and sizes, not bytes) with its open upload
/// sessions and their next offsets.
async fn drafts(State(shared): State<Arc<Shared>>) -> Response {
    Json(shared.drafts.view()).into_response()
}

#[derive(Deserialize)]
struct DraftsWaitQuery {
    version: Option<u64>,
    timeout_ms: Option<u64>,
}

/// The drafts, with the version of the list, once the version differs from
/// `version` (one an earlier answer gave; without it, at once), so that a
/// test waits for a change instead of polling; 408 with them as they are
/// when `timeout_ms` (default 5000, at most 10 minutes) runs out.
async fn wait_drafts(
    State(shared): State<Arc<Shared>>,
    Query(q): Query<DraftsWaitQuery>,
) -> Response {
    let timeout = Duration::from_millis(q.timeout_ms.unwrap_or(5_000).min(600_000));
    let mut changes = shared.drafts.subscribe();
    let changed = match q.version {
        None => true,
        Some(seen) => {
            let wait = changes.wait_for(|version| *version != seen);
            matches!(tokio::time::timeout(timeout, wait).await, Ok(Ok(_)))
        }
    };
    // Read before the list: a change the list misses bumps the version after
    // it, so the next wait, for this version, sees that change.
    let version = *changes.borrow();
    let mut answer = shared.drafts.view();
    answer["version"] = json!(version);
    let status = if changed {
        StatusCode::OK
    } else {
        StatusCode::REQUEST_TIMEOUT
    };
    (status, Json(answer)).into_response()
}

async fn counters(State(shared): State<Arc<Shared>>) -> Response {
    Json(shared.counters.snapshot()).into_response()
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct CounterWaitQuery {
    name: String,
    at_least: Option<u64>,
    timeout_ms: Option<u64>,
}

/// The counters once counter `name` is at least `at_least` (default 1), so
/// that a test can act while a request is still being answered (a send
/// held by `delay_ms`, say); 408 with them as they are when `timeout_ms`
/// (default 5000, at most 10 minutes) runs out; 400 for an unknown name.
async fn wait_counter(
    State(shared): State<Arc<Shared>>,
    Query(q): Query<CounterWaitQuery>,
) -> Response {
    // Looked at every few milliseconds: the counters are bare atomics on
    // every request's path, kept free of wake-ups for the rare waiter.
    const EVERY: Duration = Duration::from_millis(5);
    let at_least = q.at_least.unwrap_or(1);
    let timeout = Duration::from_millis(q.timeout_ms.unwrap_or(5_000).min(600_000));
    let deadline = tokio::time::Instant::now() + timeout;
    loop {
        let counters = serde_json::to_value(shared.counters.snapshot()).unwrap_or_default();
        let Some(value) = counters.get(&q.name).and_then(serde_json::Value::as_u64) else {
            let known: Vec<&String> = counters
                .as_object()
                .map(|o| o.keys().collect())
                .unwrap_or_default();
            return problem(
                StatusCode::BAD_REQUEST,
                format!("no counter '{}'; the counters are {known:?}", q.name),
            );
        };
        if value >= at_least {
            return Json(counters).into_response();
        }
        if tokio::time::Instant::now() >= deadline {
            return (StatusCode::REQUEST_TIMEOUT, Json(counters)).into_response();
        }
        tokio::time::sleep(EVERY).await;
    }
}

fn clock_json(shared: &Shared) -> serde_json::Value {
    json!({
        "now": crate::drafts::rfc3339(shared.clock.now_utc()),
        "offset_ms": u64::try_from(shared.clock.offset().as_millis()).unwrap_or(u64::MAX),
    })
}

async fn connections(State(shared): State<Arc<Shared>>) -> Response {
    Json(shared.connections.to_json()).into_response()
}

async fn clock(State(shared): State<Arc<Shared>>) -> Response {
    Json(clock_json(&shared)).into_response()
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct Advance {
    #[serde(default)]
    secs: u64,
    #[serde(default)]
    ms: u64,
}

/// Moves the emulator's clock forward by `secs` and/or `ms` (at most a
/// year at a time), so tests need not sleep through delays and lifetimes.
async fn advance_clock(State(shared): State<Arc<Shared>>, body: axum::body::Bytes) -> Response {
    let advance: Advance = match serde_json::from_slice(&body) {
        Ok(a) => a,
        Err(e) => {
            return problem(
                StatusCode::BAD_REQUEST,
                format!("clock advance: {e}; send {{\"secs\": N}} or {{\"ms\": N}}"),
            );
        }
    };
    let by = Duration::from_secs(advance.secs) + Duration::from_millis(advance.ms);
    if by > Duration::from_secs(86_400 * 365) {
        return problem(
            StatusCode::BAD_REQUEST,
            "clock advance: at most a year at a time",
        );
    }
    shared.clock.advance(by);
    Json(clock_json(&shared)).into_response()
}

async fn reset(State(shared): State<Arc<Shared>>) -> StatusCode {
    shared.reset();
    StatusCode::NO_CONTENT
}

async fn faults(State(shared): State<Arc<Shared>>) -> Response {
    Json(lock(&shared.faults).plan.clone()).into_response()
}

async fn set_faults(State(shared): State<Arc<Shared>>, body: axum::body::Bytes) -> Response {
    let plan: FaultPlan = match serde_json::from_slice(&body) {
        Ok(plan) => plan,
        Err(e) => return problem(StatusCode::BAD_REQUEST, format!("fault plan: {e}")),
    };
    if let Err(e) = plan.validate() {
        return problem(StatusCode::BAD_REQUEST, e.to_string());
    }
    *lock(&shared.faults) = ActiveFaults::new(plan.clone());
    Json(plan).into_response()
}

async fn revoke(State(shared): State<Arc<Shared>>) -> Response {
    let revoked = lock(&shared.tokens).revoke_all();
    Json(json!({ "revoked": revoked })).into_response()
}

async fn settings(State(shared): State<Arc<Shared>>) -> Response {
    Json(shared.settings()).into_response()
}

async fn set_settings(State(shared): State<Arc<Shared>>, body: axum::body::Bytes) -> Response {
    let update: SettingsUpdate = match serde_json::from_slice(&body) {
        Ok(update) => update,
        Err(e) => return problem(StatusCode::BAD_REQUEST, format!("settings: {e}")),
    };
    match shared.update_settings(&update) {
        Ok(settings) => Json(settings).into_response(),
        Err(e) => problem(StatusCode::BAD_REQUEST, e.to_string()),
    }
}

async fn directory(State(shared): State<Arc<Shared>>) -> Response {
    Json(&shared.directory).into_response()
}

/// The app with this client id in any tenant (a multi-tenant app's key
/// credentials live on its one registration).
fn find_app<'a>(shared: &'a Shared, client_id: &str) -> Option<&'a App> {
    shared
        .directory
        .tenants
        .iter()
        .find_map(|t| t.app(client_id))
}

fn certificate_json(certificate: &Certificate, source: &str) -> serde_json::Value {
    let mut value = serde_json::to_value(certificate).unwrap_or_default();
    if let Some(object) = value.as_object_mut() {
        object.insert("source".into(), json!(source));
    }
    value
}

async fn app_certificates(
    State(shared): State<Arc<Shared>>,
    Path(client_id): Path<String>,
) -> Response {
    let Some(app) = find_app(&shared, &client_id) else {
        return problem(
            StatusCode::NOT_FOUND,
            format!("no app with client id {client_id}"),
        );
    };
    let mut list: Vec<serde_json::Value> = app
        .certificates
        .iter()
        .map(|c| certificate_json(c, "directory"))
        .collect();
    if let Some(extra) = lock(&shared.certificates).get(&app.client_id) {
        list.extend(extra.iter().map(|c| certificate_json(c, "runtime")));
    }
    Json(json!({ "client_id": app.client_id, "certificates": list })).into_response()
}

/// Body: the certificate as PEM (every `CERTIFICATE` block is registered)
/// or base64 DER, as text; or JSON `{"certificate": "<PEM>"}`.
async fn add_certificate(
    State(shared): State<Arc<Shared>>,
    Path(client_id): Path<String>,
    body: axum::body::Bytes,
) -> Response {
    let Some(app) = find_app(&shared, &client_id) else {
        return problem(
            StatusCode::NOT_FOUND,
            format!("no app with client id {client_id}"),
        );
    };
    let Ok(text) = std::str::from_utf8(&body) else {
        return problem(StatusCode::BAD_REQUEST, "the body must be PEM text");
    };
    let text = if text.trim_start().starts_with('{') {
        #[derive(Deserialize)]
        #[serde(deny_unknown_fields)]
        struct Body {
            #[serde(alias = "pem")]
            certificate: String,
        }
        match serde_json::from_str::<Body>(text) {
            Ok(b) => b.certificate,
            Err(e) => return problem(StatusCode::BAD_REQUEST, format!("certificate: {e}")),
        }
    } else {
        text.to_owned()
    };
    let certificates = match Certificate::all_from_text(&text) {
        Ok(c) => c,
        Err(e) => return problem(StatusCode::BAD_REQUEST, format!("certificate: {e}")),
    };
    let first = certificates[0].clone();
    {
        let mut registered = lock(&shared.certificates);
        let list = registered.entry(app.client_id).or_default();
        for certificate in certificates {
            let known = app.certificates.contains(&certificate) || list.contains(&certificate);
            if !known {
                list.push(certificate);
            }
        }
    }
    let mut answer = certificate_json(&first, "runtime");
    if let Some(object) = answer.as_object_mut() {
        object.insert("client_id".into(), json!(app.client_id));
    }
    (StatusCode::CREATED, Json(answer)).into_response()
}

/// Forgets the certificates registered at run time (the directory's stay).
async fn clear_certificates(
    State(shared): State<Arc<Shared>>,
    Path(client_id): Path<String>,
) -> Response {
    let Some(app) = find_app(&shared, &client_id) else {
        return problem(
            StatusCode::NOT_FOUND,
            format!("no app with client id {client_id}"),
        );
    };
    lock(&shared.certificates).remove(&app.client_id);
    StatusCode::NO_CONTENT.into_response()
}

fn policy_list(shared: &Shared) -> serde_json::Value {
    let delay = Duration::from_secs(shared.settings().policy_apply_delay_secs);
    let list: Vec<_> = shared
        .policies
        .all()
        .iter()
        .map(|p| p.view(delay, shared.clock.now()))
        .collect();
    json!({ "policy_apply_delay_secs": delay.as_secs(), "policies": list })
}

async fn policies(State(shared): State<Arc<Shared>>) -> Response {
    Json(policy_list(&shared)).into_response()
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct NewPolicy {
    /// A client id, or `"*"` for every app.
    app_id: String,
    /// A mail-enabled security group or a user mailbox address.
    #[serde(alias = "group", alias = "policy_scope_group_id")]
    scope: String,
    access_right: AccessRight,
    description: Option<String>,
}

/// `New-ApplicationAccessPolicy`: stamped now, applies after
/// `policy_apply_delay_secs`.
async fn add_policy(State(shared): State<Arc<Shared>>, body: axum::body::Bytes) -> Response {
    let new: NewPolicy = match serde_json::from_slice(&body) {
        Ok(p) => p,
        Err(e) => return problem(StatusCode::BAD_REQUEST, format!("policy: {e}")),
    };
    let scope = new.scope.trim().to_ascii_lowercase();
    let Some(tenant) = shared
        .directory
        .tenants
        .iter()
        .find(|t| t.group(&scope).is_some() || t.mailbox(&scope).is_some())
    else {
        return problem(
            StatusCode::BAD_REQUEST,
            format!("policy scope {scope} is neither a group nor a mailbox of any tenant"),
        );
    };
    if tenant.group(&scope).is_none()
        && let Some(m) = tenant.mailbox(&scope)
        && m.kind != MailboxKind::User
    {
        return problem(
            StatusCode::BAD_REQUEST,
            format!(
                "policy scope {scope} is a {:?} mailbox; Exchange needs a security principal: put it in a mail-enabled security group",
                m.kind
            ),
        );
    }
    let app_id = if new.app_id.trim() == "*" {
        PolicyApps::All
    } else {
        match tenant.app(&new.app_id) {
            Some(app) => PolicyApps::One(app.client_id),
            None => {
                return problem(
                    StatusCode::BAD_REQUEST,
                    format!(
                        "app_id '{}' is neither \"*\" nor an app of tenant {}",
                        new.app_id, tenant.id
                    ),
                );
            }
        }
    };
    let stamped = shared.policies.add(
        tenant.id,
        AccessPolicy {
            app_id,
            group: scope,
            access_right: new.access_right,
            description: new.description,
        },
    );
    let delay = Duration::from_secs(shared.settings().policy_apply_delay_secs);
    (
        StatusCode::CREATED,
        Json(stamped.view(delay, shared.clock.now())),
    )
        .into_response()
}

/// `Remove-ApplicationAccessPolicy`: immediate (start-up ones come back on reset).
async fn remove_policy(State(shared): State<Arc<Shared>>, Path(id): Path<String>) -> Response {
    let removed = uuid::Uuid::parse_str(&id)
        .map(|id| shared.policies.remove(id))
        .unwrap_or(false);
    if removed {
        StatusCode::NO_CONTENT.into_response()
    } else {
        problem(StatusCode::NOT_FOUND, format!("no policy with id {id}"))
    }
}

#[derive(Deserialize)]
struct PolicyTestQuery {
    app_id: String,
    mailbox: String,
}

/// `Test-ApplicationAccessPolicy -Identity <mailbox> -AppId <id>`. Like the
/// real cmdlet it answers from every policy at once, applied or not
/// (`AccessCheckResult`); `EffectiveNow` is what sendMail does at this moment.
async fn test_policy(
    State(shared): State<Arc<Shared>>,
    Query(q): Query<PolicyTestQuery>,
) -> Response {
    let Ok(app_id) = uuid::Uuid::parse_str(q.app_id.trim()) else {
        return problem(StatusCode::BAD_REQUEST, "app_id must be a GUID");
    };
    let Some((tenant, mailbox)) = shared
        .directory
        .tenants
        .iter()
        .find_map(|t| t.mailbox(q.mailbox.trim()).map(|m| (t, m)))
    else {
        return problem(
            StatusCode::NOT_FOUND,
            format!("no mailbox {} in any tenant", q.mailbox),
        );
    };
    let all: Vec<AccessPolicy> = shared
        .policies
        .all()
        .into_iter()
        .filter(|p| p.tenant_id == tenant.id)
        .map(|p| p.policy)
        .collect();
    let delay = Duration::from_secs(shared.settings().policy_apply_delay_secs);
    let now = shared.policies.in_effect(tenant.id, delay);
    let verdict = |granted: bool| if granted { "Granted" } else { "Denied" };
    Json(json!({
        "AppId": app_id,
        "Mailbox": mailbox.address,
        "MailboxId": mailbox.id,
        "AccessCheckResult": verdict(policy::access_granted_under(tenant, &all, app_id, mailbox)),
        "EffectiveNow": verdict(policy::access_granted_under(tenant, &now, app_id, mailbox)),
    }))
    .into_response()
}
