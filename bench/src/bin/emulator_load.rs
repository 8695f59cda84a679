//! The emulator's `sendMail` rate against the minimal fake's under the same
//! load: both in this process over HTTPS and HTTP/2, throttling off, the
//! same token (the emulator's), then the same sends with the same number in
//! flight. Prints one JSON
//! line per round and, last, the ratio.
//!
//! ```text
//! emulator_load [--sends N] [--in-flight C] [--connections K] [--rounds R] [--server fake|emulator]
//! ```
//!
//! `--server` loads one of the two only, so that a profile of the process
//! holds one server's work (no ratio is printed then).

use graphmailer_bench::fake_graph;
use graphmailer_bench::load::{self, Target};
use graphmailer_bench::probe::cpu_us;
use graphmailer_emulator::{Options, Settings, defaults as d};

fn number(args: &[String], name: &str, default: usize) -> Result<usize, String> {
    match args.iter().position(|a| a == name) {
        None => Ok(default),
        Some(i) => args
            .get(i + 1)
            .and_then(|v| v.parse().ok())
            .filter(|n| *n > 0)
            .ok_or_else(|| format!("{name} needs a positive number")),
    }
}

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let sends = number(&args, "--sends", 20_000)?;
    let in_flight = number(&args, "--in-flight", 16)?;
    let connections = number(&args, "--connections", 4)?;
    let rounds = number(&args, "--rounds", 3)?;
    let only = match args.iter().position(|a| a == "--server") {
        None => None,
        Some(i) => match args.get(i + 1).map(String::as_str) {
            Some(name @ ("fake" | "emulator")) => Some(name.to_owned()),
            _ => return Err("--server needs fake or emulator".into()),
        },
    };
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()?;
    runtime.block_on(async {
        let settings = Settings {
            mailbox_concurrency: u32::try_from(in_flight)?,
            rate_limit_requests: u32::MAX,
            ..Settings::default()
        };
        let emulator = graphmailer_emulator::start(Options {
            settings,
            ..Options::default()
        })
        .await?;
        let fake = fake_graph::start(0, true).await?;
        let target = |url: &str, ca_pem: Option<String>| Target {
            url: url.to_owned(),
            ca_pem,
            tenant: d::TENANT_ID.to_owned(),
            client_id: d::ERP_CLIENT_ID.to_owned(),
            client_secret: d::ERP_SECRET.to_owned(),
            scope: d::GRAPH_SCOPE.to_owned(),
            // The one mailbox the emulator's ERP app may send as.
            senders: vec![d::ERP_MAILBOX.to_owned()],
            bearer: None,
        };
        let emulator_target = target(emulator.url(), emulator.ca_pem().map(str::to_owned));
        // The same request bytes for both: the fake takes any bearer, so it
        // gets the emulator's token, shaped like Entra's and several times
        // the length of its own; HPACK codes it on every request (it is
        // marked sensitive, so never indexed), on both sides.
        let bearer = load::token(&emulator_target, &load::client(&emulator_target)?).await?;
        let servers = [
            (
                "fake",
                Target {
                    bearer: Some(bearer),
                    ..target(&fake.url, fake.ca_pem.clone())
                },
            ),
            ("emulator", emulator_target),
        ];
        let mut best = [0f64; 2];
        for round in 1..=rounds {
            // Alternate, so a slow patch of the machine hits both alike.
            for (i, (name, target)) in servers.iter().enumerate() {
                if only.as_deref().is_some_and(|only| only != *name) {
                    continue;
                }
                let cpu_before = cpu_us();
                let outcome = load::run(target, sends, in_flight, connections).await?;
                // Server and load generator together: the generator's share is
                // the same for both servers, so the difference is the server's.
                let cpu_per_send = (cpu_us() - cpu_before) as f64 / sends as f64;
                println!(
                    "{}",
                    serde_json::json!({
                        "round": round, "server": name, "sends": sends, "in_flight": in_flight,
                        "connections": connections, "accepted": outcome.accepted,
                        "failed": outcome.failed, "seconds": outcome.seconds,
                        "sends_per_sec": outcome.per_second().round(),
                        "process_cpu_us_per_send": cpu_per_send.round(),
                    })
                );
                best[i] = best[i].max(outcome.per_second());
            }
        }
        if only.is_some() {
            emulator.shutdown().await;
            return Ok(());
        }
        println!(
            "{}",
            serde_json::json!({
                "fake_sends_per_sec": best[0].round(),
                "emulator_sends_per_sec": best[1].round(),
                "emulator_to_fake": (best[1] / best[0] * 1000.0).round() / 1000.0,
            })
        );
        emulator.shutdown().await;
        Ok(())
    })
}
