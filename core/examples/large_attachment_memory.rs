//! How much a 100 MB attachment adds to the process's peak memory when it is
//! sent through upload sessions, read from its file one chunk at a time.
//!
//! The emulator runs in a child process (this same program, started with
//! `serve`), so what it stores does not count against the sender.
//!
//! ```text
//! cargo run --release -p graphmailer --example large_attachment_memory [-- MB]
//! ```

use std::io::{BufRead, BufReader, Write};
use std::process::{Command, Stdio};
use std::time::Instant;

use graphmailer::{Attachment, Config, Mailer, Message};
use graphmailer_emulator::defaults as d;

fn main() {
    let args: Vec<String> = std::env::args().collect();
    if args.get(1).map(String::as_str) == Some("serve") {
        return serve();
    }
    let megabytes: u64 = args.get(1).and_then(|a| a.parse().ok()).unwrap_or(100);
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .expect("runtime");
    runtime.block_on(measure(megabytes));
}

fn serve() {
    let runtime = tokio::runtime::Runtime::new().expect("runtime");
    runtime.block_on(async {
        let settings = graphmailer_emulator::Settings {
            max_message_size_bytes: 150 * 1024 * 1024,
            ..Default::default()
        };
        let emulator = graphmailer_emulator::start(graphmailer_emulator::Options {
            tls: false,
            settings,
            ..Default::default()
        })
        .await
        .expect("emulator starts");
        println!("{}", emulator.url());
        std::io::stdout().flush().ok();
        // Serve until the parent closes our stdin.
        let _ =
            tokio::task::spawn_blocking(|| std::io::stdin().read_line(&mut String::new())).await;
    });
}

async fn measure(megabytes: u64) {
    let mut child = Command::new(std::env::current_exe().expect("own path"))
        .arg("serve")
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .spawn()
        .expect("emulator process starts");
    let mut url = String::new();
    BufReader::new(child.stdout.take().expect("stdout"))
        .read_line(&mut url)
        .expect("emulator prints its URL");
    let url = url.trim().to_owned();

    let path = std::env::temp_dir().join(format!("gm-bench-{}.bin", std::process::id()));
    write_file(&path, megabytes);
    let config = Config::builder()
        .tenant_id(d::TENANT_ID)
        .client_id(d::BILLING_CLIENT_ID)
        .client_secret(d::BILLING_SECRET)
        .authority_host(&url)
        .graph_endpoint(&url)
        .large_messages(true)
        .build()
        .expect("config");
    let mailer = Mailer::new(config).expect("mailer");
    // Warm up: token, connection pool, TLS-free HTTP state.
    let warm = Message::new(d::BILLING_MAILBOX)
        .to("a@example.com")
        .text("warm-up");
    mailer.send(&warm).await.expect("warm-up send");

    reset_peak();
    let before = peak_kib();
    let message = Message::new(d::BILLING_MAILBOX)
        .to("a@example.com")
        .subject("large attachment")
        .attach(Attachment::from_path(&path).expect("attachment"));
    let started = Instant::now();
    mailer.send(&message).await.expect("large send");
    let elapsed = started.elapsed();
    let after = peak_kib();
    let _ = std::fs::remove_file(&path);
    drop(child.stdin.take());
    let _ = child.wait();

    let added_mb = (after.saturating_sub(before)) as f64 / 1024.0;
    let whole_mb = megabytes as f64 * (1.0 + 4.0 / 3.0);
    println!("attachment:            {megabytes} MB from a file");
    println!("peak RSS before send:  {:.1} MB", before as f64 / 1024.0);
    println!("peak RSS after send:   {:.1} MB", after as f64 / 1024.0);
    println!("added to peak:         {added_mb:.1} MB (target: under 64 MB)");
    println!(
        "file + base64 in one request would need about {whole_mb:.0} MB: ratio {:.2}",
        added_mb / whole_mb
    );
    println!(
        "send time:             {:.2} s ({:.0} MB/s to the local emulator)",
        elapsed.as_secs_f64(),
        megabytes as f64 / elapsed.as_secs_f64()
    );
}

fn write_file(path: &std::path::Path, megabytes: u64) {
    let mut file = std::io::BufWriter::new(std::fs::File::create(path).expect("temp file"));
    let block: Vec<u8> = (0..1024 * 1024u32)
        .map(|i| (i.wrapping_mul(31) >> 3) as u8)
        .collect();
    for _ in 0..megabytes {
        file.write_all(&block).expect("write");
    }
    file.flush().expect("flush");
}

/// Resets the kernel's peak-RSS mark (Linux 4.0+), so the figure is this send's.
fn reset_peak() {
    let _ = std::fs::write("/proc/self/clear_refs", "5");
}

fn peak_kib() -> u64 {
    let status = std::fs::read_to_string("/proc/self/status").unwrap_or_default();
    status
        .lines()
        .find_map(|l| l.strip_prefix("VmHWM:"))
        .and_then(|v| v.trim().trim_end_matches("kB").trim().parse().ok())
        .unwrap_or(0)
}
