//! `graphmailer relay`: run the SMTP relay from a configuration file, hash
//! a password for it, or start a self-contained demo (emulator, relay and a
//! demo user) that a newcomer can point `swaks` or a mail client at.

use std::io::{BufRead, IsTerminal};
use std::path::PathBuf;
use std::process::ExitCode;

use graphmailer::{Config, Mailer, blocking};
use graphmailer_relay::{ListenerMode, Relay, RelayConfig, Signals};

#[derive(clap::Args)]
#[command(args_conflicts_with_subcommands = true)]
pub struct RelayArgs {
    #[command(subcommand)]
    action: Option<RelayAction>,
    /// The relay's configuration file (TOML; see cli/RELAY.md).
    #[arg(long, value_name = "FILE", required_unless_present = "demo")]
    config: Option<PathBuf>,
    /// Start an emulator, a relay on free local ports and a demo user; print
    /// one JSON line with what a client needs, then run until stopped.
    #[arg(long, conflicts_with = "config")]
    demo: bool,
}

#[derive(clap::Subcommand)]
enum RelayAction {
    /// Read a password on stdin and print its argon2 hash for `password_hash`.
    HashPassword,
}

pub fn run(args: RelayArgs) -> ExitCode {
    let result = match (&args.action, args.demo, &args.config) {
        (Some(RelayAction::HashPassword), _, _) => hash_password(),
        (None, true, _) => blocking::runtime().block_on(demo()),
        (None, false, Some(path)) => blocking::runtime().block_on(serve(path)),
        (None, false, None) => Err("give --config FILE or --demo".to_owned()),
    };
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(problem) => {
            eprintln!("error: {problem}");
            ExitCode::FAILURE
        }
    }
}

fn hash_password() -> Result<(), String> {
    let stdin = std::io::stdin();
    if stdin.is_terminal() {
        eprintln!("password (input is shown; pipe it in to keep it off the screen):");
    }
    let mut line = String::new();
    stdin
        .lock()
        .read_line(&mut line)
        .map_err(|e| format!("cannot read the password: {e}"))?;
    let password = line.trim_end_matches(['\r', '\n']);
    let hash = graphmailer_relay::hash_password(password).map_err(|e| e.to_string())?;
    println!("{hash}");
    Ok(())
}

async fn serve(path: &std::path::Path) -> Result<(), String> {
    let config = RelayConfig::from_file(path).map_err(|e| e.to_string())?;
    let relay = Relay::start(config).await.map_err(|e| e.to_string())?;
    let signals = Signals::install().map_err(|e| e.to_string())?;
    for (address, mode) in relay.listeners() {
        eprintln!("relay: listening on {address} ({mode:?})");
    }
    if let Some(url) = relay.ops_url() {
        eprintln!("relay: operations on {url} (/livez, /readyz, /metrics)");
    }
    relay.run_with(signals).await.map_err(|e| e.to_string())
}

async fn demo() -> Result<(), String> {
    let emulator = graphmailer_emulator::start(graphmailer_emulator::Options::default())
        .await
        .map_err(|e| format!("the emulator did not start: {e}"))?;
    let banner = emulator.banner().clone();
    let dir = std::env::temp_dir().join(format!("graphmailer-relay-demo-{}", std::process::id()));
    std::fs::create_dir_all(&dir).map_err(|e| format!("cannot create {}: {e}", dir.display()))?;
    let result = demo_in(&emulator, &banner, &dir).await;
    emulator.shutdown().await;
    let _ = std::fs::remove_dir_all(&dir);
    result
}

async fn demo_in(
    emulator: &graphmailer_emulator::Emulator,
    banner: &graphmailer_emulator::Banner,
    dir: &std::path::Path,
) -> Result<(), String> {
    let certs = graphmailer_relay::tls::generate_local(dir).map_err(|e| e.to_string())?;
    // A fresh password per run, so no fixed demo password exists anywhere.
    let password = graphmailer_relay::password::random_password();
    let hash = graphmailer_relay::hash_password(&password).map_err(|e| e.to_string())?;
    let text = format!(
        r#"
hostname = "localhost"
ops_address = "127.0.0.1:0"
[tls]
certificate = {cert:?}
key = {key:?}
[[listener]]
address = "127.0.0.1:0"
mode = "starttls"
[[listener]]
address = "127.0.0.1:0"
mode = "tls"
[[mailer]]
name = "emulator"
outbox = {outbox:?}
[[user]]
name = "demo"
password_hash = "{hash}"
mailer = "emulator"
may_send_as = [{allowed:?}]
"#,
        cert = certs.certificate.display().to_string(),
        key = certs.key.display().to_string(),
        allowed = banner.allowed_sender,
        outbox = format!("sqlite:{}", dir.join("outbox.db").display()),
    );
    let config = RelayConfig::from_toml(&text).map_err(|e| e.to_string())?;
    let mailer_config = Config::builder()
        .tenant_id(&banner.tenant_id)
        .client_id(&banner.client_id)
        .client_secret(banner.client_secret.clone())
        .authority_host(emulator.url())
        .graph_endpoint(emulator.url())
        .ca_bundle_pem(emulator.ca_pem().unwrap_or_default().as_bytes().to_vec())
        .build()
        .map_err(|e| e.to_string())?;
    let mailer = Mailer::new(mailer_config).map_err(|e| e.to_string())?;
    let relay = Relay::start_with_mailers(config, vec![mailer])
        .await
        .map_err(|e| e.to_string())?;
    let address = |mode| {
        relay
            .address(mode)
            .map(|a| a.to_string())
            .unwrap_or_default()
    };
    let signals = Signals::install().map_err(|e| e.to_string())?;
    let line = serde_json::json!({
        "smtp": address(ListenerMode::Starttls),
        "smtps": address(ListenerMode::Tls),
        "http": relay.ops_url(),
        "ca_file": certs.ca_file,
        "username": "demo",
        "password": password,
        "allowed_sender": banner.allowed_sender,
        "denied_sender": banner.denied_sender,
        "emulator": banner,
    });
    println!("{line}");
    eprintln!(
        "relay demo: submit with STARTTLS on {} or TLS on {} as user demo (see the JSON line for the password); mail as {} goes through, {} is refused. Ctrl-C stops.",
        address(ListenerMode::Starttls),
        address(ListenerMode::Tls),
        banner.allowed_sender,
        banner.denied_sender
    );
    relay.run_with(signals).await.map_err(|e| e.to_string())
}
