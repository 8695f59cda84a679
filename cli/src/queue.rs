//! `graphmailer queue`: the operator's view of the durable outbox (list,
//! show, retry, release, delete, stats) and its delivery worker (`run`).
//! Every command takes `--json`; errors exit with their kind's status
//! (see the README's table).

use std::process::ExitCode;
use std::time::{Duration, SystemTime};

use graphmailer::outbox::{ListFilter, OutboxSettings, QueuedMail};
use graphmailer::{Error, Mailer, Outbox, QueueId, QueueState};
use serde_json::{Value, json};

use crate::config_arg::ConfigArg;
use crate::output::fail;

#[derive(clap::Args)]
pub struct QueueArgs {
    #[command(subcommand)]
    command: QueueCommand,
    #[command(flatten)]
    common: Common,
}

#[derive(clap::Args)]
struct Common {
    #[command(flatten)]
    config: ConfigArg,
    /// The queue's URL (sqlite:PATH or postgres://...); otherwise the
    /// configuration's `outbox`.
    #[arg(long, global = true, env = "GRAPHMAILER_OUTBOX", value_name = "URL")]
    outbox: Option<String>,
    /// One JSON document on stdout instead of text.
    #[arg(long, global = true)]
    json: bool,
}

#[derive(clap::Subcommand)]
enum QueueCommand {
    /// The queued mail, oldest first: state, age, sender, recipients, attempts, last error.
    List {
        /// Only mail in this state (queued, sending, sent, deferred, failed, uncertain).
        #[arg(long)]
        state: Option<String>,
        /// At most this many.
        #[arg(long)]
        limit: Option<usize>,
    },
    /// Everything the queue knows about one mail.
    Show { id: String },
    /// Make a deferred or failed mail due now.
    Retry {
        #[arg(
            required_unless_present = "all_deferred",
            conflicts_with = "all_deferred"
        )]
        id: Option<String>,
        /// Every deferred mail.
        #[arg(long)]
        all_deferred: bool,
    },
    /// Send an uncertain mail again (after checking it did not go out).
    Release { id: String },
    /// Remove a mail that no worker is sending.
    Delete { id: String },
    /// Deliver queued mail: until stopped (SIGTERM, Ctrl-C), or with --once
    /// until nothing is due.
    Run {
        #[arg(long)]
        once: bool,
        /// Mails sent at once by this worker.
        #[arg(long, default_value_t = 8)]
        concurrency: usize,
        /// Seconds a worker holds a mail; a worker that dies gives it back after this.
        #[arg(long, value_name = "SECS")]
        lease_secs: Option<u64>,
        /// Seconds to look in Sent Items for a send whose answer was lost.
        #[arg(long, value_name = "SECS")]
        reconcile_wait_secs: Option<u64>,
    },
    /// How many mails are in each state, and the oldest unsent one's age.
    Stats,
}

pub fn run(args: QueueArgs) -> ExitCode {
    let json = args.common.json;
    let runtime = graphmailer::blocking::runtime();
    match runtime.block_on(execute(args)) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => fail(&e, json),
    }
}

async fn execute(args: QueueArgs) -> Result<(), Error> {
    let common = &args.common;
    let mut settings = OutboxSettings::default();
    let mut mailer = None;
    if let QueueCommand::Run {
        concurrency,
        lease_secs,
        reconcile_wait_secs,
        ..
    } = &args.command
    {
        settings.concurrency = (*concurrency).max(1);
        if let Some(secs) = lease_secs {
            settings.lease = Duration::from_secs((*secs).max(1));
        }
        if let Some(secs) = reconcile_wait_secs {
            settings.reconcile_wait = Duration::from_secs(*secs);
        }
        mailer = Some(Mailer::new(common.config.load()?)?);
    }
    let url = match (&common.outbox, &mailer) {
        (Some(url), _) => url.clone(),
        (None, Some(mailer)) => configured(mailer.config())?,
        (None, None) => configured(&common.config.load()?)?,
    };
    let outbox = Outbox::open_with(&url, settings).await?;
    let json = common.json;
    match args.command {
        QueueCommand::List { state, limit } => {
            let state = state.map(|s| s.parse::<QueueState>()).transpose()?;
            let mails = outbox.list(&ListFilter { state, limit }).await?;
            if json {
                let items: Vec<Value> = mails.iter().map(QueuedMail::to_json).collect();
                println!("{}", json!({ "mails": items }));
            } else {
                print_table(&mails);
            }
        }
        QueueCommand::Show { id } => {
            let id: QueueId = id.parse()?;
            let mail = outbox
                .get(&id)
                .await?
                .ok_or_else(|| Error::invalid("id", format!("no mail {id} in the queue")))?;
            if json {
                println!("{}", mail.to_json());
            } else {
                print_mail(&mail);
            }
        }
        QueueCommand::Retry { id, all_deferred } => {
            let count = match id {
                Some(id) if !all_deferred => {
                    outbox.retry(&id.parse()?).await?;
                    1
                }
                _ => outbox.retry_all_deferred().await?,
            };
            done(json, "retried", count);
        }
        QueueCommand::Release { id } => {
            outbox.release(&id.parse()?).await?;
            done(json, "released", 1);
        }
        QueueCommand::Delete { id } => {
            outbox.delete(&id.parse()?).await?;
            done(json, "deleted", 1);
        }
        QueueCommand::Stats => {
            let stats = outbox.stats().await?;
            if json {
                println!("{}", stats.to_json());
            } else {
                for (state, count) in &stats.by_state {
                    println!("{:<10} {count}", state.name());
                }
                if let Some(age) = stats.oldest_unsent_age {
                    println!("oldest unsent: {}", age_text(age));
                }
            }
        }
        QueueCommand::Run { once, .. } => {
            let mailer = mailer.expect("run loads the mailer");
            if !once {
                // Runs until SIGTERM or Ctrl-C; the mail in hand is finished first.
                return outbox
                    .run(&mailer, async {
                        crate::signals::stopped().await;
                    })
                    .await;
            }
            // A stop (systemd stopping the timer's service, Ctrl-C) finishes
            // the mail in hand and records it, as `run` does, rather than
            // leave it to its lease running out and a lookup.
            let summary = outbox
                .run_until_empty_or(&mailer, async {
                    crate::signals::stopped().await;
                })
                .await?;
            if json {
                println!("{}", summary.to_json());
            } else {
                println!(
                    "sent {}, deferred {}, failed {}, uncertain {} ({} found in Sent Items, {} sent again)",
                    summary.sent,
                    summary.deferred,
                    summary.failed,
                    summary.uncertain,
                    summary.reconciled,
                    summary.resent
                );
            }
        }
    }
    Ok(())
}

fn configured(config: &graphmailer::Config) -> Result<String, Error> {
    config.outbox().map(str::to_owned).ok_or_else(|| {
        Error::config(
            "GRAPHMAILER_OUTBOX",
            "no outbox is configured: set `outbox = \"sqlite:/var/spool/graphmailer/outbox.db\"` in the configuration file, GRAPHMAILER_OUTBOX, or pass --outbox",
        )
    })
}

fn done(json: bool, what: &str, count: u64) {
    if json {
        println!("{}", json!({ "ok": true, what: count }));
    } else {
        println!("{what} {count}");
    }
}

fn age(t: SystemTime) -> Duration {
    SystemTime::now().duration_since(t).unwrap_or_default()
}

fn age_text(d: Duration) -> String {
    let s = d.as_secs();
    match s {
        0..60 => format!("{s}s"),
        60..3600 => format!("{}m", s / 60),
        3600..86_400 => format!("{}h{:02}m", s / 3600, s % 3600 / 60),
        _ => format!("{}d{:02}h", s / 86_400, s % 86_400 / 3600),
    }
}

fn print_table(mails: &[QueuedMail]) {
    println!(
        "{:<16}  {:<9}  {:>7}  {:<30}  {:>5}  {:>8}  LAST ERROR",
        "ID", "STATE", "AGE", "SENDER", "RCPTS", "ATTEMPTS"
    );
    for m in mails {
        let error: String = m
            .last_error
            .as_deref()
            .unwrap_or("")
            .lines()
            .next()
            .unwrap_or("")
            .chars()
            .take(60)
            .collect();
        println!(
            "{:<16}  {:<9}  {:>7}  {:<30}  {:>5}  {:>8}  {error}",
            m.id.to_string(),
            m.state.name(),
            age_text(age(m.created)),
            m.sender,
            m.recipients,
            m.attempts
        );
    }
}

fn print_mail(m: &QueuedMail) {
    let value = m.to_json();
    if let Some(object) = value.as_object() {
        for (key, v) in object {
            let text = match v {
                Value::Null => continue,
                Value::String(s) => s.clone(),
                other => other.to_string(),
            };
            println!("{key:<20} {text}");
        }
    }
}
