//! Sends N mails with C in flight and prints one JSON line of figures, so the
//! Python and Node benchmarks can compare their binding against plain Rust
//! on the same emulator.
//!
//! ```text
//! cargo run --release -p graphmailer --example send_throughput -- --count 2000 --concurrency 16
//! ```
//! Configuration comes from the environment (AZURE_*, GRAPHMAILER_*); the
//! sender from GRAPHMAILER_BENCH_SENDER (default erp@contoso.test).

use std::sync::Arc;
use std::time::Instant;

use graphmailer::{Mailer, Message};
use tokio::sync::Semaphore;

fn arg(name: &str, default: usize) -> usize {
    let args: Vec<String> = std::env::args().collect();
    args.iter()
        .position(|a| a == name)
        .and_then(|i| args.get(i + 1))
        .map(|v| {
            v.parse()
                .unwrap_or_else(|_| panic!("{name} takes a whole number"))
        })
        .unwrap_or(default)
}

#[tokio::main]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    let count = arg("--count", 2000);
    let concurrency = arg("--concurrency", 16).max(1);
    let sender =
        std::env::var("GRAPHMAILER_BENCH_SENDER").unwrap_or_else(|_| "erp@contoso.test".into());
    let mailer = Mailer::from_env()?;
    let message = Message::new(sender)
        .to("bench@example.com")
        .subject("throughput")
        .text("x");
    // One send outside the clock, so the token request is not measured.
    mailer.send(&message).await?;
    let slots = Arc::new(Semaphore::new(concurrency));
    let started = Instant::now();
    let mut tasks = Vec::with_capacity(count);
    for _ in 0..count {
        let permit = slots.clone().acquire_owned().await?;
        let (mailer, message) = (mailer.clone(), message.clone());
        tasks.push(tokio::spawn(async move {
            let result = mailer.send(&message).await;
            drop(permit);
            result
        }));
    }
    for task in tasks {
        task.await??;
    }
    let seconds = started.elapsed().as_secs_f64();
    println!(
        "{{\"count\":{count},\"concurrency\":{concurrency},\"seconds\":{seconds:.4},\"sends_per_sec\":{:.1}}}",
        count as f64 / seconds
    );
    Ok(())
}
