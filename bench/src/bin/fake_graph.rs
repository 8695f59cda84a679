//! Runs the minimal fake Graph server until SIGINT or SIGTERM and prints one
//! JSON line: `{"url": ..., "ca_file": ...}`.
//!
//! ```text
//! fake-graph [--port N] [--threads N] [--http]
//! ```

use std::io::Write;

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let mut port = 0u16;
    let mut threads = 2usize;
    let mut tls = true;
    let mut args = std::env::args().skip(1);
    while let Some(arg) = args.next() {
        match arg.as_str() {
            "--port" => port = args.next().ok_or("--port needs a number")?.parse()?,
            "--threads" => threads = args.next().ok_or("--threads needs a number")?.parse()?,
            "--http" => tls = false,
            other => {
                return Err(format!(
                    "unknown argument {other}; usage: fake-graph [--port N] [--threads N] [--http]"
                )
                .into());
            }
        }
    }
    // Several workers even when pinned to one core: a slow connection's task
    // must not hold up the others.
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(threads.max(1))
        .enable_all()
        .build()?;
    runtime.block_on(async {
        let fake = graphmailer_bench::fake_graph::start(port, tls).await?;
        let ca_file = match &fake.ca_pem {
            Some(pem) => {
                let dir = std::env::temp_dir()
                    .join(format!("graphmailer-bench-fake-{}", std::process::id()));
                std::fs::create_dir_all(&dir)?;
                let file = dir.join("ca.pem");
                std::fs::write(&file, pem)?;
                serde_json::Value::String(file.display().to_string())
            }
            None => serde_json::Value::Null,
        };
        let banner = serde_json::json!({"url": fake.url, "ca_file": ca_file});
        let mut out = std::io::stdout().lock();
        writeln!(out, "{banner}")?;
        out.flush()?;
        drop(out);
        let mut term = tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate())?;
        tokio::select! {
            _ = tokio::signal::ctrl_c() => {}
            _ = term.recv() => {}
        }
        if let serde_json::Value::String(file) = ca_file {
            let _ = std::fs::remove_dir_all(
                std::path::Path::new(&file)
                    .parent()
                    .unwrap_or(std::path::Path::new(&file)),
            );
        }
        Ok(())
    })
}
