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

use crate::faults::FaultPlan;
use crate::settings::SettingsUpdate;
use crate::state::{Shared, lock};

pub(crate) fn router() -> Router<Arc<Shared>> {
    Router::new()
        .route("/_emulator/messages", get(messages).delete(clear_messages))
        .route("/_emulator/messages/wait", get(wait_messages))
        .route("/_emulator/messages/{id}", get(message))
        .route("/_emulator/counters", get(counters))
        .route("/_emulator/reset", post(reset))
        .route("/_emulator/faults", get(faults).put(set_faults))
        .route("/_emulator/tokens/revoke", post(revoke))
        .route("/_emulator/settings", get(settings).put(set_settings))
        .route("/_emulator/directory", get(directory))
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
    shared.messages.clear();
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

async fn counters(State(shared): State<Arc<Shared>>) -> Response {
    Json(shared.counters.snapshot()).into_response()
}

async fn reset(State(shared): State<Arc<Shared>>) -> StatusCode {
    shared.reset();
    StatusCode::NO_CONTENT
}

async fn faults(State(shared): State<Arc<Shared>>) -> Response {
    Json(lock(&shared.faults).clone()).into_response()
}

async fn set_faults(State(shared): State<Arc<Shared>>, body: axum::body::Bytes) -> Response {
    let plan: FaultPlan = match serde_json::from_slice(&body) {
        Ok(plan) => plan,
        Err(e) => return problem(StatusCode::BAD_REQUEST, format!("fault plan: {e}")),
    };
    if let Err(e) = plan.validate() {
        return problem(StatusCode::BAD_REQUEST, e.to_string());
    }
    *lock(&shared.faults) = plan.clone();
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
    let mut settings = shared.settings();
    settings.apply(&update);
    if let Err(e) = settings.validate() {
        return problem(StatusCode::BAD_REQUEST, e.to_string());
    }
    shared.set_settings(settings.clone());
    Json(settings).into_response()
}

async fn directory(State(shared): State<Arc<Shared>>) -> Response {
    Json(&shared.directory).into_response()
}
