//! The outbox's figures: durable enqueues per second (SQLite, and
//! PostgreSQL when GRAPHMAILER_TEST_POSTGRES names a server; 1 and 16
//! producers), and the delivery rate through an in-process emulator against
//! direct `send` in the same run, through each store, printed as ratios.
//!
//! ```text
//! scripts/with-postgres.sh cargo run --release -p graphmailer --example outbox_bench -- --count 2000
//! ```

use std::sync::Arc;
use std::time::Instant;

use graphmailer::outbox::OutboxSettings;
use graphmailer::{Config, Mailer, Message, Outbox};
use graphmailer_emulator::defaults as d;
use tokio::sync::Semaphore;

fn count_arg() -> usize {
    let args: Vec<String> = std::env::args().collect();
    args.iter()
        .position(|a| a == "--count")
        .and_then(|i| args.get(i + 1))
        .and_then(|v| v.parse().ok())
        .unwrap_or(2000)
}

fn invoice(n: usize) -> Message {
    Message::new(d::ERP_MAILBOX)
        .to("accounts@example.com")
        .subject(format!("Invoice {n}"))
        .text("Please find the invoice attached.")
}

/// Enqueues `count` mails from `producers` tasks; gives mails per second.
async fn enqueue_rate(outbox: &Outbox, count: usize, producers: usize) -> f64 {
    let started = Instant::now();
    let mut tasks = tokio::task::JoinSet::new();
    for p in 0..producers {
        let outbox = outbox.clone();
        let share = count / producers + usize::from(p < count % producers);
        tasks.spawn(async move {
            for n in 0..share {
                outbox.enqueue(&invoice(n)).await.expect("enqueue");
            }
        });
    }
    while let Some(done) = tasks.join_next().await {
        done.expect("producer");
    }
    count as f64 / started.elapsed().as_secs_f64()
}

async fn fresh_postgres(base: &str, purpose: &str) -> String {
    let name = format!("outbox_bench_{purpose}_{}", std::process::id());
    let (client, connection) = tokio_postgres::connect(base, tokio_postgres::NoTls)
        .await
        .expect("PostgreSQL answers");
    tokio::spawn(connection);
    // One statement per call: DROP and CREATE DATABASE refuse a transaction.
    for statement in [
        format!("DROP DATABASE IF EXISTS {name}"),
        format!("CREATE DATABASE {name}"),
    ] {
        client
            .batch_execute(&statement)
            .await
            .expect("create the database");
    }
    let (head, query) = base.split_once('?').unwrap_or((base, ""));
    let root = head.rsplit_once('/').map_or(head, |(r, _)| r);
    format!("{root}/{name}?{query}")
}

#[tokio::main]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    let count = count_arg();
    let dir = std::env::temp_dir().join(format!("graphmailer-outbox-bench-{}", std::process::id()));
    std::fs::create_dir_all(&dir)?;
    let mut stores = vec![(
        "sqlite",
        format!("sqlite:{}", dir.join("bench.db").display()),
        format!("sqlite:{}", dir.join("deliver.db").display()),
    )];
    match std::env::var("GRAPHMAILER_TEST_POSTGRES") {
        Ok(base) if !base.is_empty() => stores.push((
            "postgres",
            fresh_postgres(&base, "enqueue").await,
            fresh_postgres(&base, "deliver").await,
        )),
        _ => println!("GRAPHMAILER_TEST_POSTGRES unset: PostgreSQL not measured"),
    }

    for (name, url, _) in &stores {
        let outbox = Outbox::open(url).await?;
        for producers in [1, 16] {
            let rate = enqueue_rate(&outbox, count, producers).await;
            println!("{name}: {rate:.0} durable enqueues/s with {producers} producer(s)");
        }
    }

    // Delivery: the same mails sent directly (4 in flight, Graph's limit per
    // mailbox) and through each outbox, against one emulator.
    // Graph's 10,000 requests per 10 minutes per mailbox would stop a run of
    // several thousand mails sent three times; the 4 in flight still apply.
    let emulator = graphmailer_emulator::start(graphmailer_emulator::Options {
        tls: false,
        settings: graphmailer_emulator::Settings {
            rate_limit_requests: u32::MAX,
            ..Default::default()
        },
        ..Default::default()
    })
    .await?;
    let config = Config::builder()
        .tenant_id(d::TENANT_ID)
        .client_id(d::OUTBOX_CLIENT_ID)
        .client_secret(d::OUTBOX_SECRET)
        .authority_host(emulator.url())
        .graph_endpoint(emulator.url())
        .build()?;
    let mailer = Mailer::new(config)?;
    mailer.send(&invoice(0)).await?;
    let started = Instant::now();
    let slots = Arc::new(Semaphore::new(4));
    let mut tasks = tokio::task::JoinSet::new();
    for n in 0..count {
        let (mailer, slots) = (mailer.clone(), slots.clone());
        tasks.spawn(async move {
            let _slot = slots.acquire_owned().await;
            mailer.send(&invoice(n)).await.expect("send");
        });
    }
    while let Some(done) = tasks.join_next().await {
        done?;
    }
    let direct = count as f64 / started.elapsed().as_secs_f64();

    for (name, _, url) in &stores {
        let outbox = Outbox::open_with(
            url,
            OutboxSettings {
                concurrency: 8,
                ..Default::default()
            },
        )
        .await?;
        for n in 0..count {
            outbox.enqueue(&invoice(n)).await?;
        }
        let started = Instant::now();
        let summary = outbox.run_until_empty(&mailer).await?;
        assert_eq!(summary.sent as usize, count, "{summary:?}");
        let queued = summary.sent as f64 / started.elapsed().as_secs_f64();
        println!(
            "{name}: direct send {direct:.0} mails/s; through the outbox {queued:.0} mails/s (ratio {:.3}, 1/{:.0})",
            queued / direct,
            direct / queued
        );
    }
    let _ = std::fs::remove_dir_all(&dir);
    Ok(())
}
