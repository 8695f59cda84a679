//! A local stand-in for the Microsoft identity platform and Microsoft Graph's
//! `sendMail`, faithful enough that graphmailer and Microsoft's own clients
//! (MSAL, Azure Identity, the Graph SDKs) run against it unchanged but for
//! their authority and base URL.
//!
//! ```no_run
//! # async fn demo() -> Result<(), graphmailer_emulator::Error> {
//! let emulator = graphmailer_emulator::start(Default::default()).await?;
//! println!("authority and Graph endpoint: {}", emulator.url());
//! println!("trust this CA: {:?}", emulator.ca_file());
//! emulator.shutdown().await;
//! # Ok(()) }
//! ```
//!
//! Modules: [`directory`] (who exists, with the certificates each app may
//! sign client assertions with, and the federated credentials and managed
//! identities), `identity` (token endpoint, client assertions, federated
//! tokens and the OIDC issuer that mints them for tests, the managed
//! identity endpoints, and discovery), `graph` (sendMail, drafts, attachments,
//! upload sessions and a draft's send), `drafts` (what drafts and upload
//! sessions hold between requests), `policy` (application
//! access policies and the delay before they apply), `test_api`
//! (`/_emulator/...`), `inbox` (the web inbox at `/`), `server` (sockets, TLS, and which side answers a request). The README lists the
//! built-in directory and the test API.

mod body;
mod certificates;
mod clock;
mod connections;
pub mod defaults;
pub mod directory;
mod drafts;
mod error;
pub mod faults;
mod graph;
mod identity;
mod ids;
mod inbox;
mod message_json;
mod policy;
mod server;
pub mod settings;
mod state;
mod store;
mod test_api;
mod throttle;
mod tls;
mod tokens;

use std::net::{IpAddr, Ipv4Addr, SocketAddr};
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};

use axum::Router;
use axum::http::StatusCode;
use axum::response::IntoResponse;
use serde::Serialize;
use tokio::net::TcpListener;
use tokio::sync::watch;
use tokio::task::JoinHandle;

pub use directory::Directory;
pub use error::Error;
pub use faults::{Fault, FaultPlan};
pub use identity::{FederatedToken, FederatedTokenRequest};
pub use message_json::MessageJson;
pub use settings::{Settings, SettingsUpdate};
pub use state::{Counters, SentVia, StoredMessage};

use state::{CounterCells, IssuedTokens, MessageStore, Shared};

/// How to start an emulator.
#[derive(Debug, Clone)]
pub struct Options {
    /// Address to listen on (default 127.0.0.1).
    pub bind: IpAddr,
    /// Port (default 0: any free port; read it back from [`Emulator::url`]).
    pub port: u16,
    /// HTTPS under a CA generated at start (default), or plain HTTP.
    pub tls: bool,
    /// Tenants, apps, mailboxes and policies (default: the built-in Contoso).
    pub directory: Directory,
    /// Where to write the CA certificate (default: a fresh folder under the
    /// system's temporary directory, removed by [`Emulator::shutdown`]).
    pub ca_dir: Option<PathBuf>,
    /// Settings at start (and after every reset).
    pub settings: Settings,
    /// Where the managed identity endpoints (IMDS, App Service) listen, on
    /// plain HTTP. `None`: on the main listener when it is plain HTTP,
    /// else on `127.0.0.1` at any free port. Read it back from
    /// [`Emulator::identity_url`].
    pub identity_listen: Option<SocketAddr>,
    /// A SQLite file keeping messages, drafts (with their attachments and upload sessions) and
    /// counters across restarts (`--store`); `None` (the default): memory only.
    /// Only one emulator at a time may use a file.
    pub store: Option<PathBuf>,
}

impl Default for Options {
    fn default() -> Self {
        Options {
            bind: IpAddr::V4(Ipv4Addr::LOCALHOST),
            port: 0,
            tls: true,
            directory: Directory::default(),
            ca_dir: None,
            settings: Settings::default(),
            identity_listen: None,
            store: None,
        }
    }
}

/// What a client needs to talk to a running emulator: printed as the first
/// line of the binary's output, as one JSON object.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Banner {
    /// Authority host and Graph endpoint at once (`https://127.0.0.1:PORT`).
    pub url: String,
    /// The CA certificate to trust (HTTPS only).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub ca_file: Option<PathBuf>,
    /// The web inbox, for people: what arrived, drafts, the tenant.
    pub inbox: String,
    /// The SQLite file messages, drafts and counters are kept in (`--store`).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub store: Option<PathBuf>,
    /// The first tenant's id.
    pub tenant_id: String,
    /// An app of that tenant holding `Mail.Send`.
    pub client_id: String,
    /// That app's first valid secret (a test value, not a real one).
    pub client_secret: String,
    /// A mailbox the app may send as.
    pub allowed_sender: String,
    /// A mailbox the app may not send as.
    pub denied_sender: String,
    /// The tenant's first domain.
    pub tenant_domain: String,
    /// Base URL of the managed identity endpoints (plain HTTP): IMDS at
    /// `{identity_url}/metadata/identity/oauth2/token`, App Service's
    /// `IDENTITY_ENDPOINT` at `{identity_url}/msi/token`.
    pub identity_url: String,
    /// The value App Service clients send as `X-IDENTITY-HEADER` (its
    /// `IDENTITY_HEADER`; a test value).
    pub identity_header: String,
    /// The emulator's own OIDC issuer (`{url}/_emulator/oidc`), whose
    /// tokens the built-in "Contoso Workload" app trusts.
    pub oidc_issuer: String,
}

/// A running emulator. Dropping it without [`Emulator::shutdown`] leaves the
/// server running until the runtime ends (its CA folder goes either way).
pub struct Emulator {
    shared: Arc<Shared>,
    banner: Banner,
    ca_pem: Option<String>,
    /// The CA folder this emulator made under the temporary directory (none
    /// when `Options::ca_dir` named one).
    _made_ca_dir: Option<MadeCaDir>,
    stop: watch::Sender<bool>,
    tasks: Mutex<Vec<JoinHandle<()>>>,
}

/// A CA folder the emulator made, removed when the emulator is shut down or
/// dropped: each `graphmailer emulator` stopped with Ctrl-C, and each test's
/// emulator, left one behind in the temporary directory. Only the file
/// written there goes, then the folder if empty: whatever else someone put
/// there stays.
struct MadeCaDir {
    dir: PathBuf,
    file: PathBuf,
}

impl Drop for MadeCaDir {
    fn drop(&mut self) {
        let _ = std::fs::remove_file(&self.file);
        let _ = std::fs::remove_dir(&self.dir);
    }
}

/// Starts an emulator on the current tokio runtime.
pub async fn start(options: Options) -> Result<Emulator, Error> {
    options.directory.validate()?;
    options.settings.validate()?;
    // First, so a refused store leaves no listener, CA folder or key behind.
    let (store, loaded) = match &options.store {
        Some(path) => {
            let (store, loaded) = store::Store::open(path, options.settings.max_stored_messages)?;
            (Some(Arc::new(store)), loaded)
        }
        None => (None, store::Loaded::default()),
    };
    let addr = SocketAddr::new(options.bind, options.port);
    let listener = bind(addr).await?;
    let local = listener.local_addr()?;
    let scheme = if options.tls { "https" } else { "http" };
    let origin = format!("{scheme}://{}", url_host_port(local));

    let (tls, ca_pem, ca_file, made_ca_dir) = if options.tls {
        let material = tls::generate(options.bind)?;
        let (dir, made) = match &options.ca_dir {
            Some(dir) => (dir.clone(), false),
            None => {
                let dir = std::env::temp_dir().join(format!(
                    "graphmailer-emulator-{}-{}",
                    std::process::id(),
                    local.port()
                ));
                (dir, true)
            }
        };
        let file = write_ca(&dir, &material.ca_pem)?;
        let made = made.then(|| MadeCaDir {
            dir,
            file: file.clone(),
        });
        let acceptor = tokio_rustls::TlsAcceptor::from(material.server_config);
        (Some(acceptor), Some(material.ca_pem), Some(file), made)
    } else {
        (None, None, None, None)
    };

    let mut directory = options.directory;
    directory.resolve_emulator_url(&origin);
    let oidc = identity::OidcIssuer::new(&origin)?;
    // The managed identity endpoints are plain HTTP, as IMDS and App
    // Service are: on the main listener when it is, else on their own.
    let identity_listener = match (options.identity_listen, options.tls) {
        (None, false) => None,
        (Some(addr), _) => Some(bind_identity(addr).await?),
        (None, true) => Some(bind_identity(SocketAddr::from((Ipv4Addr::LOCALHOST, 0))).await?),
    };
    let identity_url = match &identity_listener {
        Some(l) => format!("http://{}", url_host_port(l.local_addr()?)),
        None => origin.clone(),
    };
    let mut banner = banner(&directory, origin.clone(), ca_file, &oidc.url, identity_url)?;
    banner.store = options.store.clone();
    let clock = clock::Clock::default();
    let policies = policy::PolicyBook::new(&directory, clock.clone());
    let shared = Arc::new(Shared {
        directory,
        origin,
        signer: tokens::TokenSigner::generate()?,
        oidc,
        startup_settings: options.settings.clone(),
        settings: std::sync::RwLock::new(options.settings),
        faults: Mutex::new(faults::ActiveFaults::default()),
        messages: MessageStore::new(),
        drafts: drafts::DraftBook::new(clock.clone(), store.clone()),
        counters: CounterCells::default(),
        tokens: Mutex::new(IssuedTokens::default()),
        throttle: throttle::Throttle::new(clock.clone()),
        clock,
        policies,
        certificates: Mutex::new(Default::default()),
        assertions: Mutex::new(Default::default()),
        store,
        connections: Default::default(),
    });
    shared.restore(loaded);
    let mut main = Router::new()
        .merge(identity::router())
        .merge(test_api::router())
        .merge(inbox::router());

    if identity_listener.is_none() {
        main = main.merge(identity::managed_identity_router());
    }
    let (stop, stop_rx) = watch::channel(false);
    let front = server::Front::new(shared.clone(), with_fallback(main, shared.clone()), true);
    let mut tasks = vec![tokio::spawn(server::serve(
        listener,
        front,
        tls,
        stop_rx.clone(),
    ))];
    if let Some(identity_listener) = identity_listener {
        let router = with_fallback(identity::managed_identity_router(), shared.clone());
        tasks.push(tokio::spawn(server::serve(
            identity_listener,
            server::Front::new(shared.clone(), router, false),
            None,
            stop_rx,
        )));
    }
    Ok(Emulator {
        shared,
        banner,
        ca_pem,
        _made_ca_dir: made_ca_dir,
        stop,
        tasks: Mutex::new(tasks),
    })
}

async fn bind(addr: SocketAddr) -> Result<TcpListener, Error> {
    TcpListener::bind(addr)
        .await
        .map_err(|source| Error::Bind { addr, source })
}

/// The managed identity listener; never the real IMDS address, so a test
/// can not be mistaken for a machine on Azure.
async fn bind_identity(addr: SocketAddr) -> Result<TcpListener, Error> {
    if addr.ip() == IpAddr::V4(Ipv4Addr::new(169, 254, 169, 254)) {
        return Err(Error::Options(
            "identity_listen: 169.254.169.254 is Azure's own metadata service; choose a loopback address".into(),
        ));
    }
    bind(addr).await
}

/// `host:port` for a URL, with an unspecified address written as loopback.
fn url_host_port(local: SocketAddr) -> String {
    let host = match local.ip() {
        ip if ip.is_unspecified() => "127.0.0.1".to_owned(),
        IpAddr::V6(ip) => format!("[{ip}]"),
        IpAddr::V4(ip) => ip.to_string(),
    };
    format!("{host}:{}", local.port())
}

fn with_fallback(router: Router<Arc<Shared>>, shared: Arc<Shared>) -> Router {
    router
        .fallback(|| async {
            (
                StatusCode::NOT_FOUND,
                axum::Json(
                    serde_json::json!({"error": "no such endpoint on the graphmailer emulator"}),
                ),
            )
                .into_response()
        })
        .with_state(shared)
}

fn write_ca(dir: &Path, pem: &str) -> Result<PathBuf, Error> {
    let file_error = |path: &Path| {
        let path = path.to_path_buf();
        move |source| Error::File { path, source }
    };
    std::fs::create_dir_all(dir).map_err(file_error(dir))?;
    let file = dir.join("ca.pem");
    std::fs::write(&file, pem).map_err(file_error(&file))?;
    Ok(file)
}

/// The banner for the first tenant: its first app with `Mail.Send` and a
/// valid secret, a mailbox its policies allow and one they deny.
fn banner(
    directory: &Directory,
    url: String,
    ca_file: Option<PathBuf>,
    oidc_issuer: &str,
    identity_url: String,
) -> Result<Banner, Error> {
    let missing =
        |what: &str| Error::Directory(format!("the first tenant needs {what} for the banner"));
    let tenant = directory
        .tenants
        .first()
        .ok_or_else(|| missing("to exist"))?;
    let now = time::OffsetDateTime::now_utc();
    let (app, secret) = tenant
        .apps
        .iter()
        .filter(|a| !a.disabled && a.roles.iter().any(|r| r.eq_ignore_ascii_case("Mail.Send")))
        .find_map(|a| {
            a.secrets
                .iter()
                .find(|s| !s.is_expired(now))
                .map(|s| (a, s))
        })
        .ok_or_else(|| missing("an app with Mail.Send and a valid secret"))?;
    let usable = |m: &&directory::Mailbox| m.kind != directory::MailboxKind::Unlicensed;
    let allowed = tenant
        .mailboxes
        .iter()
        .filter(usable)
        .find(|m| policy::access_granted(tenant, app.client_id, m));
    let denied = tenant
        .mailboxes
        .iter()
        .filter(usable)
        .find(|m| !policy::access_granted(tenant, app.client_id, m));
    Ok(Banner {
        inbox: format!("{url}{}", inbox::PATH),
        store: None,
        url,
        ca_file,
        tenant_id: tenant.id.to_string(),
        client_id: app.client_id.to_string(),
        client_secret: secret.value.clone(),
        allowed_sender: allowed.map(|m| m.address.clone()).unwrap_or_default(),
        denied_sender: denied.map(|m| m.address.clone()).unwrap_or_default(),
        tenant_domain: tenant.primary_domain().to_owned(),
        oidc_issuer: oidc_issuer.to_owned(),
        identity_url,
        identity_header: defaults::IDENTITY_HEADER.to_owned(),
    })
}

impl Emulator {
    /// `https://127.0.0.1:PORT` (or `http://`): authority host and Graph endpoint.
    pub fn url(&self) -> &str {
        &self.banner.url
    }

    /// The CA certificate file to trust (HTTPS only).
    pub fn ca_file(&self) -> Option<&Path> {
        self.banner.ca_file.as_deref()
    }

    /// The CA certificate in PEM (HTTPS only).
    pub fn ca_pem(&self) -> Option<&str> {
        self.ca_pem.as_deref()
    }

    /// What a client needs: URL, CA, tenant, app, secret, senders.
    pub fn banner(&self) -> &Banner {
        &self.banner
    }

    /// Every message accepted since start or the last reset.
    pub fn messages(&self) -> Vec<StoredMessage> {
        self.shared.messages.all()
    }

    /// The drafts still in mailboxes, as `GET /_emulator/drafts` shows them.
    pub fn drafts(&self) -> serde_json::Value {
        self.shared.drafts.view()
    }

    /// Counters since start or the last reset.
    pub fn counters(&self) -> Counters {
        self.shared.counters.snapshot()
    }

    /// Plain-HTTP base URL of the managed identity endpoints: IMDS at
    /// `{identity_url}/metadata/identity/oauth2/token` (what a client uses
    /// instead of `http://169.254.169.254`), App Service's
    /// `IDENTITY_ENDPOINT` = `{identity_url}/msi/token`.
    pub fn identity_url(&self) -> &str {
        &self.banner.identity_url
    }

    /// The `X-IDENTITY-HEADER` value the App Service endpoint expects (App
    /// Service's `IDENTITY_HEADER`).
    pub fn identity_header(&self) -> &str {
        &self.banner.identity_header
    }

    /// The emulator's own OIDC issuer URL (`{url}/_emulator/oidc`).
    pub fn oidc_issuer(&self) -> &str {
        &self.shared.oidc.url
    }

    /// Mints a workload token from the emulator's own OIDC issuer, as
    /// `POST /_emulator/oidc/token` does: times on the emulator's clock.
    pub fn mint_federated_token(
        &self,
        request: &FederatedTokenRequest,
    ) -> Result<FederatedToken, Error> {
        self.shared.mint_federated_token(request)
    }

    /// Replaces the fault plan.
    pub fn set_faults(&self, plan: FaultPlan) -> Result<(), Error> {
        plan.validate()?;
        *state::lock(&self.shared.faults) = faults::ActiveFaults::new(plan);
        Ok(())
    }

    /// Changes some settings until the next reset.
    /// Naming `policy_apply_delay_secs` re-stamps every policy to now.
    pub fn update_settings(&self, update: &SettingsUpdate) -> Result<Settings, Error> {
        self.shared.update_settings(update)
    }

    /// Moves the emulator's clock forward: policies' apply delays, upload
    /// sessions' lifetimes, tokens' expiry and throttling windows pass as
    /// if that time had gone by.
    pub fn advance_clock(&self, by: std::time::Duration) {
        self.shared.clock.advance(by);
    }

    /// Back to the state right after start: no messages, zero counters,
    /// no faults, the start-up settings, the start-up policies (stamped
    /// now), no certificates registered at run time, no assertion ids seen.
    pub fn reset(&self) {
        self.shared.reset();
    }

    /// Stops accepting, closes every connection and waits for the server
    /// task; then removes the CA folder it made (not one named in `ca_dir`).
    pub async fn shutdown(self) {
        let _ = self.stop.send(true);
        let tasks = std::mem::take(&mut *state::lock(&self.tasks));
        for task in tasks {
            let _ = task.await;
        }
        if let Some(store) = &self.shared.store {
            store.close(self.shared.counters.snapshot());
        }
    }
}

/// Runs an emulator until SIGINT or SIGTERM: the banner as one JSON line on
/// stdout first (for scripts and test fixtures), then a few lines for people.
pub async fn serve_until_signal(options: Options) -> Result<(), Error> {
    use std::io::Write;
    let emulator = start(options).await?;
    let banner = serde_json::to_string(emulator.banner())
        .map_err(|e| Error::Options(format!("banner: {e}")))?;
    {
        let mut out = std::io::stdout().lock();
        writeln!(out, "{banner}")?;
        out.flush()?;
        // The lines for people are best effort: a fixture that read the
        // banner and closed the pipe must not bring the server down.
        let _ = writeln!(out, "{}", human_summary(emulator.banner())).and_then(|()| out.flush());
    }
    wait_for_signal().await?;
    emulator.shutdown().await;
    Ok(())
}

fn human_summary(b: &Banner) -> String {
    let mut lines = vec![format!("graphmailer emulator listening on {}", b.url)];
    if let Some(ca) = &b.ca_file {
        lines.push(format!("  trust this CA       {}", ca.display()));
    }
    lines.push(format!("  AZURE_TENANT_ID     {}", b.tenant_id));
    lines.push(format!("  AZURE_CLIENT_ID     {}", b.client_id));
    lines.push(format!("  allowed sender      {}", b.allowed_sender));
    lines.push(format!("  denied sender       {}", b.denied_sender));
    lines.push(format!("  inbox (browser)     {}", b.inbox));
    if let Some(store) = &b.store {
        lines.push(format!("  kept in             {}", store.display()));
    }
    lines.push(format!("  OIDC issuer         {}", b.oidc_issuer));
    lines.push(format!(
        "  IMDS endpoint       {}/metadata/identity/oauth2/token  (stands in for 169.254.169.254)",
        b.identity_url
    ));
    lines.push(format!(
        "  IDENTITY_ENDPOINT   {}/msi/token  (IDENTITY_HEADER: in the JSON line above)",
        b.identity_url
    ));
    lines.push(format!(
        "  test API            {}/_emulator/messages",
        b.url
    ));
    lines.push("Press Ctrl-C to stop.".to_owned());
    lines.join("\n")
}

#[cfg(unix)]
async fn wait_for_signal() -> Result<(), Error> {
    use tokio::signal::unix::{SignalKind, signal};
    let mut term = signal(SignalKind::terminate())?;
    let mut int = signal(SignalKind::interrupt())?;
    tokio::select! {
        _ = term.recv() => {}
        _ = int.recv() => {}
    }
    Ok(())
}

#[cfg(not(unix))]
async fn wait_for_signal() -> Result<(), Error> {
    tokio::signal::ctrl_c().await?;
    Ok(())
}
