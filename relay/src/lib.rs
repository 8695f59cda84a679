//! `graphmailer relay`: an SMTP submission server for printers, scanners,
//! ERPs and daemons that only speak SMTP. It takes their mail over TLS with
//! a login (or from listed networks), checks who may send as which mailbox,
//! and hands each message to Microsoft Graph through graphmailer's core.
//!
//! The modules follow a message: [`config`] and [`access`] say who may do
//! what; [`server`] accepts connections; [`session`] speaks SMTP, with
//! [`lines`] and [`data`] reading the client; [`submission`] checks and
//! rewrites the message; [`delivery`] hands it on; [`ops`] and [`metrics`]
//! let operators watch.

pub mod access;
pub mod config;
mod data;
pub mod delivery;
mod lines;
pub mod lockout;
mod message_log;
pub mod metrics;
mod ops;
pub mod password;
pub mod reply;
mod server;
mod session;
mod submission;
pub mod tls;

use std::net::SocketAddr;
use std::sync::Arc;

use graphmailer::{Config, Error, Mailer, Outbox, Result};
use tokio::sync::watch;
use tokio::task::JoinHandle;

pub use config::{ListenerMode, RelayConfig};
pub use password::hash_password;

use crate::delivery::Route;
use crate::session::Listener;

/// A running relay.
pub struct Relay {
    listeners: Vec<(SocketAddr, ListenerMode)>,
    ops: Option<SocketAddr>,
    shared: Arc<server::Shared>,
    stop: watch::Sender<bool>,
    smtp: JoinHandle<()>,
    ops_task: Option<JoinHandle<()>>,
    /// The outboxes' delivery workers, run in the relay's process.
    workers: Vec<JoinHandle<()>>,
}

impl Relay {
    /// Starts a relay whose mailers are read from the configuration files
    /// that `config` names.
    pub async fn start(config: RelayConfig) -> Result<Relay> {
        let mut mailers = Vec::new();
        for (i, m) in config.mailers.iter().enumerate() {
            let field = format!("mailer[{i}].config");
            let path = m.config.as_ref().ok_or_else(|| {
                Error::config(
                    &field,
                    "is missing: name the mailer's graphmailer configuration file",
                )
            })?;
            let mailer_config = Config::from_file(path).map_err(|e| {
                Error::config(&field, format!("'{}': {}", path.display(), e.message()))
            })?;
            mailers.push(Mailer::new(mailer_config)?);
        }
        Relay::start_with_mailers(config, mailers).await
    }

    /// Starts a relay with ready mailers, one per `[[mailer]]` in order
    /// (their `config` paths are not read).
    pub async fn start_with_mailers(config: RelayConfig, mailers: Vec<Mailer>) -> Result<Relay> {
        config.validate()?;
        check_message_size(&config, &mailers)?;
        if mailers.len() != config.mailers.len() {
            return Err(Error::config(
                "mailer",
                format!(
                    "{} mailers given for {} [[mailer]] entries",
                    mailers.len(),
                    config.mailers.len()
                ),
            ));
        }
        let certificates = config
            .tls
            .as_ref()
            .map(tls::Certificates::load)
            .transpose()?;
        let metrics = Arc::new(metrics::Metrics::default());
        let mut routes = Vec::new();
        for (i, (m, mailer)) in config.mailers.iter().zip(mailers).enumerate() {
            // Every send counts, the queue worker's as well as direct ones.
            let counted = metrics.clone();
            let observed = mailer.observe_send_attempts(move |attempt| {
                let status = attempt
                    .status
                    .map_or_else(|| "none".to_owned(), |s| s.to_string());
                counted.graph_request(&status, attempt.took);
            });
            if let Err(e) = observed {
                tracing::warn!("mailer[{i}]'s sends are not counted in the metrics: {e}");
            }
            let url = m.outbox.as_deref().or(mailer.config().outbox());
            let outbox = match url {
                Some(url) => Some(
                    Outbox::open_with(url, config.outbox.settings())
                        .await
                        .map_err(|e| Error::config(&format!("mailer[{i}].outbox"), e.message()))?,
                ),
                None => None,
            };
            routes.push(Route {
                name: m.name.clone(),
                mailer,
                outbox,
            });
        }
        let shared = Arc::new(server::Shared {
            hostname: config.hostname.clone(),
            limits: config.limits.clone(),
            access: access::Access::new(&config)?,
            lockout: lockout::Lockout::new(&config.lockout),
            metrics,
            certificates,
            routes,
            log: message_log::MessageLog::new(config.log_format),
        });
        let wanted: Vec<_> = config
            .listeners
            .iter()
            .map(|l| {
                (
                    l.address,
                    Listener {
                        mode: l.mode,
                        allow_plain_auth: l.allow_plain_auth,
                    },
                )
            })
            .collect();
        let bound = server::bind(&wanted).await?;
        let listeners = bound
            .iter()
            .map(|(s, l)| {
                Ok((
                    s.local_addr()
                        .map_err(|e| Error::config("listener", e.to_string()))?,
                    l.mode,
                ))
            })
            .collect::<Result<Vec<_>>>()?;
        let ops_socket = match config.ops_address {
            Some(address) => Some(tokio::net::TcpListener::bind(address).await.map_err(|e| {
                Error::config("ops_address", format!("cannot listen on {address}: {e}"))
            })?),
            None => None,
        };
        let ops = ops_socket.as_ref().and_then(|s| s.local_addr().ok());
        let (stop, stopped) = watch::channel(false);
        let smtp = tokio::spawn(server::serve(shared.clone(), bound, stopped.clone()));
        let ops_task =
            ops_socket.map(|s| tokio::spawn(ops::serve(shared.clone(), s, stopped.clone())));
        let workers = shared
            .routes
            .iter()
            .filter(|_| config.outbox.deliver)
            .filter_map(|route| {
                let outbox = route.outbox.clone()?;
                let mailer = route.mailer.clone();
                let name = route.name.clone();
                let mut stopped = stopped.clone();
                Some(tokio::spawn(async move {
                    let stop = async move {
                        let _ = stopped.wait_for(|s| *s).await;
                    };
                    if let Err(e) = outbox.run(&mailer, stop).await {
                        tracing::error!("outbox worker of mailer '{name}' stopped: {e}");
                    }
                }))
            })
            .collect();
        Ok(Relay {
            listeners,
            ops,
            shared,
            stop,
            smtp,
            ops_task,
            workers,
        })
    }

    /// The bound SMTP listeners (with the ports picked for port 0).
    pub fn listeners(&self) -> &[(SocketAddr, ListenerMode)] {
        &self.listeners
    }

    /// The first listener of a mode.
    pub fn address(&self, mode: ListenerMode) -> Option<SocketAddr> {
        self.listeners
            .iter()
            .find(|(_, m)| *m == mode)
            .map(|(a, _)| *a)
    }

    /// The operations listener's base URL.
    pub fn ops_url(&self) -> Option<String> {
        self.ops.map(|a| format!("http://{a}"))
    }

    /// Reads the certificate and key files again (SIGHUP).
    pub fn reload_certificates(&self) -> Result<()> {
        match &self.shared.certificates {
            Some(c) => c.reload(),
            None => Ok(()),
        }
    }

    /// Stops accepting, lets open sessions finish within the grace period,
    /// then returns.
    pub async fn shutdown(self) {
        let _ = self.stop.send(true);
        let _ = self.smtp.await;
        // The workers finish and record the sends in hand, so the queue is
        // consistent when the process exits.
        for worker in self.workers {
            let _ = worker.await;
        }
        if let Some(ops) = self.ops_task {
            let _ = ops.await;
        }
    }

    /// Runs until SIGTERM or Ctrl-C, reloading certificates on SIGHUP.
    pub async fn run_until_signal(self) -> Result<()> {
        let signals = Signals::install()?;
        self.run_with(signals).await
    }

    /// As [`Relay::run_until_signal`], with handlers installed earlier
    /// (before the relay's addresses were announced, so a signal sent as
    /// soon as they are read is not lost to the default action).
    pub async fn run_with(self, mut signals: Signals) -> Result<()> {
        loop {
            tokio::select! {
                _ = signals.term.recv() => break,
                _ = signals.int.recv() => break,
                _ = signals.hup.recv() => match self.reload_certificates() {
                    Ok(()) => tracing::warn!("certificates reloaded"),
                    Err(e) => tracing::error!("certificate reload failed, keeping the old one: {e}"),
                },
            }
        }
        self.shutdown().await;
        Ok(())
    }
}

/// SIGTERM, SIGINT and SIGHUP, caught from the moment this is made.
pub struct Signals {
    term: tokio::signal::unix::Signal,
    int: tokio::signal::unix::Signal,
    hup: tokio::signal::unix::Signal,
}

impl Signals {
    pub fn install() -> Result<Signals> {
        use tokio::signal::unix::{SignalKind, signal};
        let fail = |e: std::io::Error| Error::config("signals", e.to_string());
        Ok(Signals {
            term: signal(SignalKind::terminate()).map_err(fail)?,
            int: signal(SignalKind::interrupt()).map_err(fail)?,
            hup: signal(SignalKind::hangup()).map_err(fail)?,
        })
    }
}

/// A message over what Graph's MIME `sendMail` takes (about 3 MB) can only go
/// through a draft and upload sessions: accepting one that a mailer cannot
/// send would turn a refusal at DATA into a bounce nobody sees.
fn check_message_size(config: &RelayConfig, mailers: &[Mailer]) -> Result<()> {
    let max = config.limits.max_message_bytes;
    if max <= graphmailer::limits::MAX_MIME_BYTES {
        return Ok(());
    }
    for (i, mailer) in mailers.iter().enumerate() {
        if !mailer.config().large_messages() {
            return Err(Error::config(
                "limits.max_message_bytes",
                format!(
                    "is {max}, over the {} bytes Graph's MIME sendMail takes, but mailer[{i}] ('{}') has large messages off: \
                     set large_messages = true in that mailer's configuration (its app then needs Mail.ReadWrite, scoped like Mail.Send), \
                     or lower max_message_bytes",
                    graphmailer::limits::MAX_MIME_BYTES,
                    config.mailers.get(i).map_or("", |m| m.name.as_str()),
                ),
            ));
        }
    }
    Ok(())
}
