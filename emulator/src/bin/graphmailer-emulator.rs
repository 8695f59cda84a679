//! `graphmailer-emulator`: run the local Microsoft 365 stand-in until Ctrl-C.

use std::net::{IpAddr, SocketAddr};
use std::path::PathBuf;
use std::process::ExitCode;

use clap::Parser;
use graphmailer_emulator::{Directory, Options};

/// A local stand-in for Microsoft's identity platform and Graph sendMail.
/// Prints one JSON line (url, ca_file, tenant_id, client_id, client_secret,
/// allowed_sender, denied_sender, oidc_issuer, identity_url, identity_header,
/// store with --store)
/// first, then runs until SIGINT or SIGTERM.
#[derive(Parser)]
#[command(version)]
struct Args {
    /// Port to listen on (0 picks a free one).
    #[arg(long, default_value_t = 0)]
    port: u16,
    /// Address to listen on.
    #[arg(long, default_value = "127.0.0.1")]
    bind: IpAddr,
    /// A TOML directory (tenants, apps, mailboxes, policies) instead of the built-in one.
    #[arg(long)]
    config: Option<PathBuf>,
    /// Plain HTTP instead of HTTPS (clients allow it on loopback only).
    #[arg(long)]
    http: bool,
    /// Folder to write the CA certificate into.
    #[arg(long)]
    ca_dir: Option<PathBuf>,
    /// Plain-HTTP address for the managed identity endpoints (IMDS, App
    /// Service). Default: the main listener with --http, else 127.0.0.1:0.
    #[arg(long, value_name = "ADDR")]
    identity_listen: Option<SocketAddr>,
    /// A SQLite file that keeps messages, drafts (with attachments and upload sessions)
    /// and counters across restarts; one emulator at a time. Default: memory only.
    #[arg(long, value_name = "PATH")]
    store: Option<PathBuf>,
}

fn main() -> ExitCode {
    let args = Args::parse();
    tracing_subscriber::fmt()
        .with_writer(std::io::stderr)
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_env("GRAPHMAILER_EMULATOR_LOG")
                .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("warn")),
        )
        .init();
    let directory = match &args.config {
        Some(path) => match Directory::from_file(path) {
            Ok(d) => d,
            Err(e) => {
                eprintln!("graphmailer-emulator: {e}");
                return ExitCode::from(2);
            }
        },
        None => Directory::default(),
    };
    let options = Options {
        bind: args.bind,
        port: args.port,
        tls: !args.http,
        directory,
        ca_dir: args.ca_dir,
        identity_listen: args.identity_listen,
        store: args.store,
        ..Options::default()
    };
    let runtime = match tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
    {
        Ok(rt) => rt,
        Err(e) => {
            eprintln!("graphmailer-emulator: cannot start the runtime: {e}");
            return ExitCode::FAILURE;
        }
    };
    match runtime.block_on(graphmailer_emulator::serve_until_signal(options)) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("graphmailer-emulator: {e}");
            ExitCode::FAILURE
        }
    }
}
