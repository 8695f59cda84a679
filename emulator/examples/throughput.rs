//! How many token-authorised sendMail requests a second the emulator takes.
//!
//! Starts an emulator in-process (plain HTTP unless `--https`), gets one
//! token for the ERP app, then sends `--sends` messages (default 2000) to
//! `erp@` with `--concurrency` requests in flight (default 16), and prints
//! one JSON line:
//!
//! ```text
//! cargo run --release -p graphmailer-emulator --example throughput -- --sends 5000 --concurrency 32
//! {"accepted":5000,"concurrency":32,"failed":0,"seconds":1.9,"sends":5000,"sends_per_sec":2631.6,"tls":false}
//! ```
//!
//! The per-mailbox concurrency and rate limits are raised to fit the run, so
//! the number measures the emulator rather than its throttling.

use std::time::Instant;

use futures::StreamExt;
use graphmailer_emulator::{Options, Settings, defaults as d};
use serde_json::json;

struct Args {
    sends: usize,
    concurrency: usize,
    tls: bool,
}

fn parse_args() -> Result<Args, String> {
    let mut args = Args {
        sends: 2000,
        concurrency: 16,
        tls: false,
    };
    let mut it = std::env::args().skip(1);
    while let Some(arg) = it.next() {
        let mut number = |name: &str| -> Result<usize, String> {
            it.next()
                .and_then(|v| v.parse().ok())
                .filter(|n| *n > 0)
                .ok_or_else(|| format!("{name} needs a positive number"))
        };
        match arg.as_str() {
            "--sends" | "-n" => args.sends = number("--sends")?,
            "--concurrency" | "-c" => args.concurrency = number("--concurrency")?,
            "--https" => args.tls = true,
            "--help" | "-h" => {
                return Err("usage: throughput [--sends N] [--concurrency C] [--https]".into());
            }
            other => return Err(format!("unknown argument {other}")),
        }
    }
    Ok(args)
}

#[tokio::main]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    let args = match parse_args() {
        Ok(args) => args,
        Err(message) => {
            eprintln!("{message}");
            std::process::exit(2);
        }
    };
    let settings = Settings {
        mailbox_concurrency: u32::try_from(args.concurrency)?,
        rate_limit_requests: u32::MAX,
        ..Settings::default()
    };
    let emulator = graphmailer_emulator::start(Options {
        tls: args.tls,
        settings,
        ..Options::default()
    })
    .await?;
    let mut builder = reqwest::Client::builder().no_proxy();
    if let Some(pem) = emulator.ca_pem() {
        builder = builder.tls_certs_merge([reqwest::Certificate::from_pem(pem.as_bytes())?]);
    }
    let http = builder.build()?;
    let url = emulator.url().to_owned();

    let token: serde_json::Value = http
        .post(format!("{url}/{}/oauth2/v2.0/token", d::TENANT_ID))
        .form(&[
            ("grant_type", "client_credentials"),
            ("client_id", d::ERP_CLIENT_ID),
            ("client_secret", d::ERP_SECRET),
            ("scope", d::GRAPH_SCOPE),
        ])
        .send()
        .await?
        .json()
        .await?;
    let token = token["access_token"]
        .as_str()
        .ok_or("no access token")?
        .to_owned();
    let send_url = format!("{url}/v1.0/users/{}/sendMail", d::ERP_MAILBOX);

    let started = Instant::now();
    let accepted = futures::stream::iter(0..args.sends)
        .map(|i| {
            let request = http.post(&send_url).bearer_auth(&token).json(&json!({
                "message": {
                    "subject": format!("throughput {i}"),
                    "body": {"contentType": "Text", "content": "Hello from the bench."},
                    "toRecipients": [{"emailAddress": {"address": "someone@example.com"}}]
                },
                "saveToSentItems": false
            }));
            async move { matches!(request.send().await, Ok(r) if r.status().as_u16() == 202) }
        })
        .buffer_unordered(args.concurrency)
        .filter(|ok| std::future::ready(*ok))
        .count()
        .await;
    let seconds = started.elapsed().as_secs_f64();

    println!(
        "{}",
        json!({
            "sends": args.sends,
            "concurrency": args.concurrency,
            "tls": args.tls,
            "accepted": accepted,
            "failed": args.sends - accepted,
            "seconds": (seconds * 1000.0).round() / 1000.0,
            "sends_per_sec": ((accepted as f64 / seconds) * 10.0).round() / 10.0,
        })
    );
    emulator.shutdown().await;
    Ok(())
}
