//! Accepting connections: plain HTTP or TLS (ALPN h2 and http/1.1), one
//! hyper connection per socket, what answers each request (the Graph side
//! or the router), and the per-connection switch that lets a handler drop
//! the connection without answering (a scripted fault).

use std::convert::Infallible;
use std::net::SocketAddr;
use std::sync::Arc;

use axum::Router;
use axum::body::Body;
use axum::extract::Request;

use axum::response::Response;
use hyper::body::Incoming;
use hyper::service::service_fn;
use hyper_util::rt::{TokioExecutor, TokioIo};
use hyper_util::server::conn::auto;
use tokio::net::TcpListener;
use tokio::sync::{Notify, watch};
use tokio::task::JoinSet;
use tokio_rustls::TlsAcceptor;
use tower::ServiceExt;

use crate::graph;
use crate::state::Shared;

/// Handed to every request of one connection; [`ConnectionControl::drop_connection`]
/// closes the socket with no answer, as a network failure after the request
/// was sent would.
#[derive(Clone)]
pub(crate) struct ConnectionControl {
    drop: Arc<Notify>,
    /// The client's end of the connection: what tells connections apart.
    pub(crate) peer: SocketAddr,
}

impl ConnectionControl {
    /// Drops the connection; the answer is never sent.
    pub(crate) async fn drop_connection(&self) -> Response {
        self.drop.notify_one();
        std::future::pending::<()>().await;
        Response::new(Body::empty())
    }
}

/// What one listener answers: on the main listener the Graph side (API
/// versions and upload URLs) from its own dispatcher, every other path
/// from the router; and, with a store, the counters kept after each answer.
pub(crate) struct Front {
    shared: Arc<Shared>,
    router: Router,
    /// False for the managed identity listener, which serves no Graph.
    graph: bool,
}

impl Front {
    pub(crate) fn new(shared: Arc<Shared>, router: Router, graph: bool) -> Self {
        Front {
            shared,
            router,
            graph,
        }
    }

    async fn answer(&self, mut request: Request, connection: &ConnectionControl) -> Response {
        if self.graph {
            match graph::serve(&self.shared, connection, request).await {
                Ok(response) => return self.counted(response),
                Err(not_graph) => request = not_graph,
            }
        }
        request.extensions_mut().insert(connection.clone());
        let response = match self.router.clone().oneshot(request).await {
            Ok(response) => response,
            Err(never) => match never {},
        };
        self.counted(response)
    }

    /// Counters change in every handler; saving them once each request is
    /// answered keeps the store current without touching each one.
    fn counted(&self, response: Response) -> Response {
        if let Some(store) = &self.shared.store {
            store.save_counters(self.shared.counters.snapshot());
        }
        response
    }
}

/// Serves `front` on `listener` until `shutdown` turns true.
pub(crate) async fn serve(
    listener: TcpListener,
    front: Front,
    tls: Option<TlsAcceptor>,
    mut shutdown: watch::Receiver<bool>,
) {
    let front = Arc::new(front);
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
        let front = front.clone();
        let tls = tls.clone();
        connections.spawn(async move {
            match tls {
                Some(acceptor) => match acceptor.accept(stream).await {
                    Ok(stream) => serve_connection(stream, front, peer).await,
                    Err(e) => tracing::debug!(%peer, error = %e, "TLS handshake failed"),
                },
                None => serve_connection(stream, front, peer).await,
            }
        });
    }
    connections.shutdown().await;
}

async fn serve_connection<S>(stream: S, front: Arc<Front>, peer: SocketAddr)
where
    S: tokio::io::AsyncRead + tokio::io::AsyncWrite + Unpin + Send + 'static,
{
    let control = ConnectionControl {
        drop: Arc::new(Notify::new()),
        peer,
    };
    let service = {
        let control = control.clone();
        service_fn(move |request: hyper::Request<Incoming>| {
            let (front, control) = (front.clone(), control.clone());
            async move { Ok::<_, Infallible>(front.answer(request.map(Body::new), &control).await) }
        })
    };
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
