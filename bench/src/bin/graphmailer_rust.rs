//! graphmailer from Rust, as the benchmark's clients all behave:
//!
//! ```text
//! graphmailer-rust cold|serial|parallel [COUNT] [--runtime tokio-main|one-worker|current-thread|blocking|blocking-block-on]
//! ```
//! - `cold`: build the mailer, send one mail (token included), print the
//!   monotonic clock at acceptance: `{"first_accepted_ns": ...}`;
//! - `serial`: one send outside the clock (the token), then COUNT sends one
//!   at a time;
//! - `parallel`: a first burst of 16 sends from a cold mailer (the runner
//!   counts its token requests), then COUNT sends with 16 in flight over four
//!   mailboxes.
//!
//! `serial` and `parallel` print `{"count": N, "seconds": S, "cpu_us": U}`.
//! Settings come from the environment as the README documents them.

use std::sync::Arc;

use futures::StreamExt;
use graphmailer::{Mailer, Message};
use graphmailer_bench::MAILBOXES;
use graphmailer_bench::probe::{cpu_us, monotonic_ns};

const IN_FLIGHT: usize = 16;

type Failure = Box<dyn std::error::Error + Send + Sync>;

fn messages() -> Arc<Vec<Message>> {
    Arc::new(
        MAILBOXES
            .iter()
            .map(|m| {
                Message::new(*m)
                    .to("bench@example.com")
                    .subject("bench")
                    .text("x")
            })
            .collect(),
    )
}

fn report(count: usize, started: std::time::Instant, cpu_before: u64) {
    println!(
        "{{\"count\":{count},\"seconds\":{:.6},\"cpu_us\":{}}}",
        started.elapsed().as_secs_f64(),
        cpu_us() - cpu_before
    );
}

async fn run_async(mode: &str, count: usize) -> Result<(), Failure> {
    let mailer = Mailer::from_env()?;
    let messages = messages();
    match mode {
        "cold" => {
            mailer.send(&messages[0]).await?;
            println!("{{\"first_accepted_ns\":{}}}", monotonic_ns());
        }
        "serial" => {
            mailer.send(&messages[0]).await?;
            let (cpu, started) = (cpu_us(), std::time::Instant::now());
            for _ in 0..count {
                mailer.send(&messages[0]).await?;
            }
            report(count, started, cpu);
        }
        "parallel" => {
            let burst = futures::future::join_all(
                (0..IN_FLIGHT).map(|i| mailer.send(&messages[i % messages.len()])),
            )
            .await;
            burst.into_iter().collect::<Result<Vec<_>, _>>()?;
            let (cpu, started) = (cpu_us(), std::time::Instant::now());
            let mut sends = futures::stream::iter(0..count)
                .map(|i| {
                    let (mailer, messages) = (mailer.clone(), messages.clone());
                    tokio::spawn(async move { mailer.send(&messages[i % messages.len()]).await })
                })
                .buffer_unordered(IN_FLIGHT);
            while let Some(done) = sends.next().await {
                done??;
            }
            report(count, started, cpu);
        }
        other => return Err(format!("unknown mode {other}").into()),
    }
    Ok(())
}

/// Waits for one send the way the blocking facade does (`blocking::wait`:
/// spawn onto the shared runtime, park until the task ends), or, with
/// `block_on`, by driving the send on the caller's thread with the shared
/// runtime's `block_on`: the change this benchmark proposes for the facade.
fn blocking_send(
    mailer: &graphmailer::Mailer,
    message: &Message,
    block_on: bool,
) -> Result<(), Failure> {
    if block_on {
        graphmailer::blocking::runtime().block_on(mailer.send(message))?;
    } else {
        let (mailer, message) = (mailer.clone(), message.clone());
        graphmailer::blocking::wait(async move { mailer.send(&message).await })??;
    }
    Ok(())
}

/// Threads waiting on the shared runtime, as the C library and Python's
/// `send` do.
fn run_blocking(mode: &str, count: usize, block_on: bool) -> Result<(), Failure> {
    let mailer = graphmailer::blocking::Mailer::from_env()?;
    let mailer = mailer.as_async();
    let messages = messages();
    let send = |i: usize| blocking_send(mailer, &messages[i % messages.len()], block_on);
    match mode {
        "cold" => {
            send(0)?;
            println!("{{\"first_accepted_ns\":{}}}", monotonic_ns());
        }
        "serial" => {
            send(0)?;
            let (cpu, started) = (cpu_us(), std::time::Instant::now());
            for _ in 0..count {
                send(0)?;
            }
            report(count, started, cpu);
        }
        "parallel" => {
            let next = std::sync::atomic::AtomicUsize::new(0);
            let send_all = |limit: usize| -> Result<(), Failure> {
                next.store(0, std::sync::atomic::Ordering::SeqCst);
                std::thread::scope(|scope| {
                    let workers: Vec<_> = (0..IN_FLIGHT)
                        .map(|_| {
                            scope.spawn(|| -> Result<(), Failure> {
                                loop {
                                    let i = next.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
                                    if i >= limit {
                                        return Ok(());
                                    }
                                    send(i)?;
                                }
                            })
                        })
                        .collect();
                    workers.into_iter().try_for_each(|w| {
                        w.join().map_err(|_| Failure::from("a sender panicked"))?
                    })
                })
            };
            send_all(IN_FLIGHT)?;
            let (cpu, started) = (cpu_us(), std::time::Instant::now());
            send_all(count)?;
            report(count, started, cpu);
        }
        other => return Err(format!("unknown mode {other}").into()),
    }
    Ok(())
}

fn main() -> Result<(), Failure> {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let mode = args.first().map(String::as_str).unwrap_or("serial");
    let count = args.get(1).and_then(|c| c.parse().ok()).unwrap_or(1000);
    let runtime = args
        .iter()
        .position(|a| a == "--runtime")
        .and_then(|i| args.get(i + 1))
        .map(String::as_str)
        .unwrap_or("tokio-main");
    let builder = match runtime {
        "blocking" => return run_blocking(mode, count, false),
        "blocking-block-on" => return run_blocking(mode, count, true),
        // What `#[tokio::main]` builds: one worker per core the process may use.
        "tokio-main" => tokio::runtime::Builder::new_multi_thread(),
        "one-worker" => {
            let mut b = tokio::runtime::Builder::new_multi_thread();
            b.worker_threads(1);
            b
        }
        "current-thread" => tokio::runtime::Builder::new_current_thread(),
        other => return Err(format!("unknown runtime {other}").into()),
    };
    let mut builder = builder;
    builder
        .enable_all()
        .build()?
        .block_on(run_async(mode, count))
}
