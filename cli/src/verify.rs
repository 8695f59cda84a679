//! `graphmailer verify`: prove the tenant's restriction holds, waiting for
//! it to apply when asked.

use std::io::Write;
use std::process::ExitCode;
use std::time::Duration;

use graphmailer::{Verification, blocking, parse_duration};

use crate::config_arg::ConfigArg;
use crate::output;

#[derive(clap::Args)]
pub struct VerifyArgs {
    /// Mailboxes the app must be able to send as (space or comma separated).
    #[arg(long, num_args = 1.., value_delimiter = ',', value_name = "ADDR")]
    allowed: Vec<String>,
    /// Mailboxes the app must be refused (space or comma separated).
    #[arg(long, num_args = 1.., value_delimiter = ',', value_name = "ADDR")]
    denied: Vec<String>,
    /// Repeat until the restriction holds or this much time has passed
    /// (90s, 30m, 2h): restrictions take 30 minutes to hours to apply.
    #[arg(long, value_name = "DURATION")]
    wait: Option<String>,
    /// Time between rounds with --wait (default: a twelfth of the wait,
    /// between 10 seconds and 5 minutes).
    #[arg(long, value_name = "DURATION")]
    interval: Option<String>,
    #[command(flatten)]
    config: ConfigArg,
    /// Print one JSON object on stdout instead of the table.
    #[arg(long)]
    json: bool,
}

/// Exit statuses: 0 when the restriction holds, 1 when it does not, the
/// error kind's status when nothing could be checked.
pub fn run(args: VerifyArgs) -> ExitCode {
    let json = args.json;
    match verify(args) {
        Ok(result) => {
            if json {
                println!("{}", result.to_json());
            } else {
                print!("{}", table(&result));
            }
            if result.holds() {
                ExitCode::SUCCESS
            } else {
                ExitCode::FAILURE
            }
        }
        Err(error) => output::fail(&error, json),
    }
}

fn verify(args: VerifyArgs) -> graphmailer::Result<Verification> {
    let wait = args.wait.as_deref().map(parse_duration).transpose()?;
    let interval = args.interval.as_deref().map(parse_duration).transpose()?;
    let mailer = blocking::Mailer::new(args.config.load()?)?;
    let Some(wait) = wait else {
        return mailer.verify(&args.allowed, &args.denied);
    };
    let interval = blocking::verify_interval(wait, interval);
    mailer.verify_until(
        &args.allowed,
        &args.denied,
        wait,
        interval,
        move |round, left| {
            let passing = round.rows.iter().filter(|r| r.passed()).count();
            let mut err = std::io::stderr().lock();
            let _ = if round.holds() {
                writeln!(
                    err,
                    "round {}: all {} checks pass",
                    round.round,
                    round.rows.len()
                )
            } else if left.is_zero() {
                writeln!(
                    err,
                    "round {}: {passing} of {} checks pass; out of time",
                    round.round,
                    round.rows.len()
                )
            } else {
                writeln!(
                    err,
                    "round {}: {passing} of {} checks pass; next round in {}, {} left",
                    round.round,
                    round.rows.len(),
                    human(interval.min(left)),
                    human(left)
                )
            };
        },
    )
}

fn human(d: Duration) -> String {
    let s = d.as_secs();
    match s {
        0..60 => format!("{s}s"),
        60..3600 => format!("{}m{:02}s", s / 60, s % 60),
        _ => format!("{}h{:02}m", s / 3600, (s % 3600) / 60),
    }
}

pub(crate) fn table(result: &Verification) -> String {
    let header = ["SENDER", "EXPECTED", "OBSERVED", "VERDICT"];
    let rows: Vec<[String; 4]> = result
        .rows
        .iter()
        .map(|r| {
            [
                r.sender.clone(),
                r.expected.name().to_owned(),
                r.observed.name().to_owned(),
                if r.passed() { "ok" } else { "FAIL" }.to_owned(),
            ]
        })
        .collect();
    let widths: Vec<usize> = (0..4)
        .map(|i| {
            rows.iter()
                .map(|r| r[i].len())
                .chain([header[i].len()])
                .max()
                .unwrap_or(0)
        })
        .collect();
    let line = |cells: [&str; 4]| {
        format!(
            "{:<w0$}  {:<w1$}  {:<w2$}  {}\n",
            cells[0],
            cells[1],
            cells[2],
            cells[3],
            w0 = widths[0],
            w1 = widths[1],
            w2 = widths[2]
        )
    };
    let mut out = line(header);
    for r in &rows {
        out.push_str(&line([&r[0], &r[1], &r[2], &r[3]]));
    }
    out.push('\n');
    for r in result.rows.iter().filter(|r| !r.passed()) {
        out.push_str(&format!("{}: {}", r.sender, r.detail));
        if let Some(id) = &r.request_id {
            out.push_str(&format!(" (request id {id})"));
        }
        out.push('\n');
    }
    out.push_str(if result.holds() {
        "The restriction holds.\n"
    } else {
        "The restriction does NOT hold.\n"
    });
    out
}
