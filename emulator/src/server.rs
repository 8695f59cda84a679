//! Accepting connections: plain HTTP or TLS (ALPN h2 and http/1.1), one
//! hyper connection per socket, and the per-connection switch that lets a
//! handler drop the connection without answering (a scripted fault).

use std::net::SocketAddr;
use std::sync::Arc;

use axum::Router;
use axum::body::Body;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use hyper_util::rt::{TokioExecutor, TokioIo};
use hyper_util::server::conn::auto;
use hyper_util::service::TowerToHyperService;
use tokio::net::TcpListener;
use tokio::sync::{Notify, watch};
use tokio::task::JoinSet;
use tokio_rustls::TlsAcceptor;

/// Handed to every request of one connection; [`ConnectionControl::drop_or_fail`]
/// closes the socket with no answer, as a network failure after the request
/// was sent would.
#[derive(Clone)]
pub(crate) struct ConnectionControl {
    drop: Arc<Notify>,
    /// The client's end of the connection: what tells connections apart.
    pub(crate) peer: SocketAddr,
}

impl ConnectionControl {
    /// Drops the connection and never returns; without a connection to drop
    /// (the router called in-process) answers 502 so the fault is still visible.
    pub(crate) async fn drop_or_fail(connection: Option<&ConnectionControl>) -> Response {
        match connection {
            Some(control) => {
                control.drop.notify_one();
                std::future::pending::<()>().await;
                unreachable_response()
            }
            None => (
                StatusCode::BAD_GATEWAY,
                "connection dropped (injected fault)",
            )
                .into_response(),
        }
    }
}

fn unreachable_response() -> Response {
    Response::new(Body::empty())
}

/// Serves `router` on `listener` until `shutdown` turns true.
pub(crate) async fn serve(
    listener: TcpListener,
    router: Router,
    tls: Option<TlsAcceptor>,
    mut shutdown: watch::Receiver<bool>,
) {
    let mut connections = JoinSet::new();
    loop {
        let accepted = tokio::select! {
            accepted = listener.accept() => accepted,
            _ = shutdown.wait_for(|stop| *stop) => break,
            // Reap finished connections so the set does not grow without bound.
            Some(_) = connections.join_next(), if !connections.is_empty() => continue,
        };
        let (stream, peer) = match accepted {
            Ok(pair) => pair,
            Err(e) => {
                tracing::warn!(error = %e, "accept failed");
                continue;
            }
        };
        let _ = stream.set_nodelay(true);
        let router = router.clone();
        let tls = tls.clone();
        connections.spawn(async move {
            match tls {
                Some(acceptor) => match acceptor.accept(stream).await {
                    Ok(stream) => serve_connection(stream, router, peer).await,
                    Err(e) => tracing::debug!(%peer, error = %e, "TLS handshake failed"),
                },
                None => serve_connection(stream, router, peer).await,
            }
        });
    }
    connections.shutdown().await;
}

async fn serve_connection<S>(stream: S, router: Router, peer: SocketAddr)
where
    S: tokio::io::AsyncRead + tokio::io::AsyncWrite + Unpin + Send + 'static,
{
    let control = ConnectionControl {
        drop: Arc::new(Notify::new()),
        peer,
    };
    let service = TowerToHyperService::new(router.layer(axum::Extension(control.clone())));
    let builder = auto::Builder::new(TokioExecutor::new());
    let connection = builder.serve_connection(TokioIo::new(stream), service);
    tokio::select! {
        result = connection => {
            if let Err(e) = result {
                tracing::debug!(%peer, error = %e, "connection ended with an error");
            }
        }
        _ = control.drop.notified() => {
            tracing::debug!(%peer, "connection dropped on purpose");
        }
    }
}
