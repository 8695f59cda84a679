//! The operations listener: `/livez` (the process answers), `/readyz` (it
//! can do its job: every outbox answers and every mailer obtains a token)
//! and `/metrics`
//! (Prometheus text). Plain HTTP: bind it to loopback or a management
//! network, never to the internet.

use std::sync::Arc;
use std::time::{Duration, Instant};

use axum::Router;
use axum::extract::State;
use axum::http::{StatusCode, header};
use axum::response::IntoResponse;
use axum::routing::get;
use tokio::net::TcpListener;
use tokio::sync::{Mutex, watch};

use crate::metrics::QueueFigures;
use crate::server::Shared;

/// Readiness asks Microsoft for a token; the answer is kept this long so
/// a probe every few seconds does not become a token request each time.
const READY_CACHE: Duration = Duration::from_secs(30);

struct Ops {
    shared: Arc<Shared>,
    ready: Mutex<Option<(Instant, Result<(), String>)>>,
}

pub async fn serve(shared: Arc<Shared>, socket: TcpListener, mut stop: watch::Receiver<bool>) {
    let ops = Arc::new(Ops {
        shared,
        ready: Mutex::new(None),
    });
    let app = Router::new()
        .route("/livez", get(|| async { "ok\n" }))
        .route("/readyz", get(readyz))
        .route("/metrics", get(metrics))
        .with_state(ops);
    let _ = axum::serve(socket, app)
        .with_graceful_shutdown(async move {
            let _ = stop.wait_for(|s| *s).await;
        })
        .await;
}

async fn readyz(State(ops): State<Arc<Ops>>) -> impl IntoResponse {
    let mut cached = ops.ready.lock().await;
    let fresh = cached
        .as_ref()
        .is_some_and(|(at, result)| result.is_ok() && at.elapsed() < READY_CACHE);
    if !fresh {
        *cached = Some((Instant::now(), check(&ops.shared).await));
    }
    match cached.as_ref().map(|(_, r)| r.clone()) {
        Some(Ok(())) => (StatusCode::OK, "ready\n".to_owned()),
        Some(Err(problem)) => (StatusCode::SERVICE_UNAVAILABLE, format!("{problem}\n")),
        None => (StatusCode::SERVICE_UNAVAILABLE, "not checked\n".to_owned()),
    }
}

async fn check(shared: &Shared) -> Result<(), String> {
    for route in &shared.routes {
        if let Some(outbox) = &route.outbox
            && let Err(e) = outbox.stats().await
        {
            return Err(format!(
                "mailer '{}': the outbox cannot be read: {e}",
                route.name
            ));
        }
        let diagnosis = route.mailer.diagnose().await;
        if !diagnosis.token_acquired {
            return Err(format!(
                "mailer '{}' cannot obtain a token: run `graphmailer doctor` with its configuration",
                route.name
            ));
        }
    }
    Ok(())
}

async fn metrics(State(ops): State<Arc<Ops>>) -> impl IntoResponse {
    let queue = queue_figures(&ops.shared).await;
    (
        [(
            header::CONTENT_TYPE,
            "text/plain; version=0.0.4; charset=utf-8",
        )],
        ops.shared.metrics.render(queue.as_ref()),
    )
}

/// The outboxes' figures added up (one queue per mailer); `None` without
/// any outbox.
async fn queue_figures(shared: &Shared) -> Option<QueueFigures> {
    let mut figures: Option<QueueFigures> = None;
    for outbox in shared.routes.iter().filter_map(|r| r.outbox.as_ref()) {
        let Ok(stats) = outbox.stats().await else {
            continue;
        };
        let f = figures.get_or_insert_with(QueueFigures::default);
        for (state, n) in stats.by_state {
            *f.by_state.entry(state.to_string()).or_default() += n;
        }
        f.oldest_unsent_age = f.oldest_unsent_age.max(stats.oldest_unsent_age);
    }
    figures
}
