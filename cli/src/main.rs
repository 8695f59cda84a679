//! `graphmailer`: send mail through Microsoft Graph from scripts, run the local
//! emulator, and show the whole flow in a one-command demo. Called as
//! `sendmail` (a link), it is a drop-in sendmail.

// `print!` and its kin, for every module below, without the panic on a
// closed pipe: `graphmailer queue list | head` must end quietly, and a
// command's exit status says what it did (a mail that went out), not
// whether its reader stayed to read about it.
macro_rules! print {
    ($($arg:tt)*) => {{
        use std::io::Write as _;
        let _ = write!(std::io::stdout(), $($arg)*);
    }};
}
macro_rules! println {
    ($($arg:tt)*) => {{
        use std::io::Write as _;
        let _ = writeln!(std::io::stdout(), $($arg)*);
    }};
}
macro_rules! eprintln {
    ($($arg:tt)*) => {{
        use std::io::Write as _;
        let _ = writeln!(std::io::stderr(), $($arg)*);
    }};
}

mod config_arg;
mod demo;
mod dist_files;
mod doctor;
mod output;
mod policy;
mod queue;
mod relay;
mod send;
mod sendmail;
mod sendmail_args;
mod signals;
mod syslog;
mod upload_bar;
mod verify;

use std::ffi::OsString;
use std::path::PathBuf;
use std::process::ExitCode;

use clap::{Parser, Subcommand};

#[derive(Parser)]
#[command(
    name = "graphmailer",
    version,
    about = "Send mail through Microsoft Graph with app-only credentials"
)]
struct Cli {
    /// Log what happens on stderr (-v info, -vv debug); RUST_LOG also works.
    #[arg(short, long, action = clap::ArgAction::Count, global = true)]
    verbose: u8,
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Send one message.
    Send(Box<send::SendArgs>),
    /// Get a token and explain it: tenant, app, roles (too few or too many),
    /// token lifetime, clock skew, endpoints and proxy.
    Doctor(doctor::DoctorArgs),
    /// Check that the tenant lets the app send as the allowed mailboxes and
    /// refuses the others, waiting for a new restriction to apply.
    Verify(verify::VerifyArgs),
    /// Print the Exchange Online PowerShell that restricts the app.
    Policy(policy::PolicyArgs),
    /// The durable outbox: list, show, retry, release, delete, run, stats.
    Queue(queue::QueueArgs),
    /// Serve the local Microsoft 365 emulator until stopped (Ctrl-C).
    Emulator(EmulatorArgs),
    /// Start an embedded emulator, send as the permitted mailbox, then try the
    /// CEO's and show the refusal.
    Demo,
    /// Run the SMTP relay (printers, scanners, ERPs) in front of Graph, hash
    /// a password for it, or start its demo (`--demo`).
    Relay(relay::RelayArgs),
    /// Stand in for /usr/sbin/sendmail: read a message on stdin and send it
    /// (sendmail's options; `graphmailer sendmail --help` lists them). A link
    /// named `sendmail` to this binary does the same.
    #[command(disable_help_flag = true)]
    Sendmail {
        /// sendmail's options and recipients.
        #[arg(trailing_var_arg = true, allow_hyphen_values = true)]
        args: Vec<OsString>,
    },
}

#[derive(clap::Args)]
struct EmulatorArgs {
    /// Port to listen on (0 picks a free one).
    #[arg(long, default_value_t = 0)]
    port: u16,
    /// Address to listen on.
    #[arg(long, default_value = "127.0.0.1")]
    bind: std::net::IpAddr,
    /// Directory file (TOML): tenants, apps, mailboxes, groups, policies.
    #[arg(long)]
    config: Option<PathBuf>,
    /// Plain HTTP instead of HTTPS (loopback only).
    #[arg(long)]
    http: bool,
    /// A SQLite file that keeps messages, drafts (with attachments and upload sessions)
    /// and counters across restarts; one emulator at a time. Default: memory only.
    #[arg(long, value_name = "PATH")]
    store: Option<PathBuf>,
}

fn main() -> ExitCode {
    let mut args: Vec<OsString> = std::env::args_os().collect();
    // sendmail's options are not clap's: they go to their own parser, with
    // graphmailer's logging left off so stderr holds only sendmail's lines.
    if sendmail::invoked_as_sendmail(args.first()) {
        return sendmail::run(args.split_off(1));
    }
    if args.get(1).is_some_and(|a| a == "sendmail") {
        return sendmail::run(args.split_off(2));
    }
    // The release's packaging step, kept out of clap's definitions so that
    // the help, man pages and completions it writes do not list it.
    if args.get(1).is_some_and(|a| a == "dist-files") {
        return dist_files::run(args.get(2));
    }
    let cli = Cli::parse_from(args);
    if !matches!(cli.command, Command::Sendmail { .. }) {
        init_logging(cli.verbose);
    }
    match cli.command {
        Command::Send(args) => send::run(*args),
        Command::Doctor(args) => doctor::run(args),
        Command::Verify(args) => verify::run(args),
        Command::Policy(args) => policy::run(args),
        Command::Queue(args) => queue::run(args),
        Command::Emulator(args) => run_emulator(args),
        Command::Demo => demo::run(),
        Command::Relay(args) => relay::run(args),
        Command::Sendmail { args } => sendmail::run(args),
    }
}

fn run_emulator(args: EmulatorArgs) -> ExitCode {
    let directory = match &args.config {
        Some(path) => match graphmailer_emulator::Directory::from_file(path) {
            Ok(d) => d,
            Err(e) => {
                eprintln!("error: {e}");
                return ExitCode::from(2);
            }
        },
        None => graphmailer_emulator::Directory::default(),
    };
    let options = graphmailer_emulator::Options {
        bind: args.bind,
        port: args.port,
        tls: !args.http,
        directory,
        store: args.store,
        ..Default::default()
    };
    let runtime = graphmailer::blocking::runtime();
    match runtime.block_on(graphmailer_emulator::serve_until_signal(options)) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("error: {e}");
            ExitCode::FAILURE
        }
    }
}

fn init_logging(verbose: u8) {
    let default = match verbose {
        0 => "warn",
        1 => "info",
        _ => "debug",
    };
    let filter = tracing_subscriber::EnvFilter::try_from_default_env()
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new(default));
    tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr)
        .with_target(false)
        .init();
}
