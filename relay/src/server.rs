//! The listeners: accept connections within the limit, run a session on
//! each (TLS first on implicit-TLS ports), and on shutdown stop accepting,
//! let open sessions finish until the grace period ends, then close them.

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use graphmailer::{Error, Result};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::{Semaphore, watch};
use tokio::task::JoinSet;

use crate::access::Access;
use crate::config::{LimitsConfig, ListenerMode};
use crate::delivery::Route;
use crate::lockout::Lockout;
use crate::message_log::MessageLog;
use crate::metrics::Metrics;
use crate::session::{Ended, Listener, Session};
use crate::tls::Certificates;

/// What every session of one relay shares.
pub struct Shared {
    pub hostname: String,
    pub limits: LimitsConfig,
    pub access: Arc<Access>,
    pub lockout: Lockout,
    pub metrics: Arc<Metrics>,
    pub certificates: Option<Certificates>,
    pub routes: Vec<Route>,
    pub log: MessageLog,
}

/// Binds every listener before any is served, so a port in use fails the
/// start instead of leaving a half-running relay.
pub async fn bind(addresses: &[(SocketAddr, Listener)]) -> Result<Vec<(TcpListener, Listener)>> {
    let mut bound = Vec::new();
    for (address, listener) in addresses {
        let socket = listen(*address).map_err(|e| {
            Error::config(
                "listener.address",
                format!("cannot listen on {address}: {e}"),
            )
        })?;
        bound.push((socket, *listener));
    }
    Ok(bound)
}

/// A burst of clients (a print queue released at once) must wait in the
/// kernel's queue rather than be dropped: the backlog is as deep as the
/// system allows (net.core.somaxconn caps it).
const LISTEN_BACKLOG: u32 = 4096;

fn listen(address: SocketAddr) -> std::io::Result<TcpListener> {
    let socket = if address.is_ipv4() {
        tokio::net::TcpSocket::new_v4()?
    } else {
        tokio::net::TcpSocket::new_v6()?
    };
    socket.set_reuseaddr(true)?;
    socket.bind(address)?;
    socket.listen(LISTEN_BACKLOG)
}

/// Serves the listeners until `stop` turns true, then waits for the open
/// sessions at most the grace period.
pub async fn serve(
    shared: Arc<Shared>,
    listeners: Vec<(TcpListener, Listener)>,
    stop: watch::Receiver<bool>,
) {
    let slots = Arc::new(Semaphore::new(shared.limits.max_connections));
    let mut sessions = JoinSet::new();
    let mut accepting = JoinSet::new();
    for (socket, listener) in listeners {
        let shared = shared.clone();
        let slots = slots.clone();
        let stop = stop.clone();
        accepting.spawn(async move {
            let mut stopping = stop.clone();
            let mut open = JoinSet::new();
            loop {
                tokio::select! {
                    _ = stopping.wait_for(|s| *s) => break,
                    accepted = socket.accept() => {
                        let Ok((stream, peer)) = accepted else { continue };
                        let Ok(permit) = slots.clone().try_acquire_owned() else {
                            shared.metrics.connection_refused();
                            open.spawn(refuse_busy(stream));
                            continue;
                        };
                        let shared = shared.clone();
                        let stop = stop.clone();
                        open.spawn(async move {
                            shared.metrics.connection_opened();
                            serve_connection(shared.clone(), stream, peer, listener, stop).await;
                            shared.metrics.connection_closed();
                            drop(permit);
                        });
                    }
                    Some(_) = open.join_next(), if !open.is_empty() => {}
                }
            }
            // Listening stops here; the open sessions are handed back.
            drop(socket);
            open
        });
    }
    while let Some(done) = accepting.join_next().await {
        if let Ok(mut open) = done {
            sessions.spawn(async move { while open.join_next().await.is_some() {} });
        }
    }
    let grace = Duration::from_secs(shared.limits.shutdown_grace_seconds);
    let all = async { while sessions.join_next().await.is_some() {} };
    if tokio::time::timeout(grace, all).await.is_err() {
        tracing::warn!("sessions still open after the shutdown grace period were closed");
        sessions.abort_all();
    }
}

/// More connections than the limit: say so (RFC 5321 3.1) instead of
/// leaving the client hanging.
async fn refuse_busy(mut stream: TcpStream) {
    use tokio::io::AsyncWriteExt;
    let _ = tokio::time::timeout(Duration::from_secs(5), async {
        let _ = stream
            .write_all(b"421 4.3.2 too many connections; try again later\r\n")
            .await;
        let _ = stream.shutdown().await;
    })
    .await;
}

async fn serve_connection(
    shared: Arc<Shared>,
    stream: TcpStream,
    peer: SocketAddr,
    listener: Listener,
    stop: watch::Receiver<bool>,
) {
    let _ = stream.set_nodelay(true);
    let handshake_timeout = shared.limits.command_timeout();
    let mut session = Session::new(shared.clone(), peer, listener, stop);
    if listener.mode == ListenerMode::Tls {
        let Some(certs) = &shared.certificates else {
            return;
        };
        let acceptor = certs.acceptor();
        let Ok(Ok(tls)) = tokio::time::timeout(handshake_timeout, acceptor.accept(stream)).await
        else {
            return;
        };
        session.upgraded();
        let _ = session.run(tls, true).await;
        return;
    }
    match session.run(stream, true).await {
        Ok(Ended::StartTls(stream)) => {
            let Some(certs) = &shared.certificates else {
                return;
            };
            let acceptor = certs.acceptor();
            let Ok(Ok(tls)) =
                tokio::time::timeout(handshake_timeout, acceptor.accept(stream)).await
            else {
                return;
            };
            session.upgraded();
            let _ = session.run(tls, false).await;
        }
        Ok(Ended::Closed) | Err(_) => {}
    }
}
