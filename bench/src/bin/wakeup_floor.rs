//! What a round trip on loopback costs in each shape a Rust caller can take,
//! without HTTP, TLS or graphmailer: the floor under "one at a time".
//!
//! An echo server runs in a child process pinned to core 0; this process is
//! pinned to core 1. Each mode makes N round trips of a 256-byte message, one
//! at a time, and prints one JSON line: round trips per second, CPU per round
//! trip (every thread of this process) and context switches per round trip.
//!
//! - `blocking`: std's socket, read and write on the caller's thread (libcurl's
//!   shape).
//! - `current-thread`: a current-thread runtime; the caller's future does the
//!   I/O and its thread waits in epoll.
//! - `multi-caller-io`: `#[tokio::main]`'s runtime; the future given to
//!   `block_on` does the I/O itself (a connection its caller drives), but only
//!   a worker waits in epoll, so each readiness goes worker to caller.
//! - `multi-spawned-io`: `#[tokio::main]`'s runtime; the I/O runs in a task of
//!   its own and the caller hands it each request over a channel (hyper's
//!   shape: the connection's task and the caller's future).
//! - `multi-in-task`: the whole loop in one spawned task, the caller waiting
//!   only for its end (an application whose sends run in tasks).
//!
//! `cargo run --release -p graphmailer-bench --bin wakeup_floor -- [N]`
use std::io::{Read, Write};
use std::net::{TcpListener, TcpStream};
use std::process::{Command, Stdio};
use std::time::Instant;

use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::sync::{mpsc, oneshot};

const MESSAGE: usize = 256;
const MODES: [&str; 5] = [
    "blocking",
    "current-thread",
    "multi-caller-io",
    "multi-spawned-io",
    "multi-in-task",
];

fn pin(pid: libc::pid_t, core: usize) {
    // SAFETY: a zeroed cpu_set_t is a valid empty set; CPU_SET writes inside it.
    unsafe {
        let mut set: libc::cpu_set_t = std::mem::zeroed();
        libc::CPU_SET(core, &mut set);
        libc::sched_setaffinity(pid, std::mem::size_of::<libc::cpu_set_t>(), &set);
    }
}

fn usage() -> (f64, i64) {
    // SAFETY: getrusage fills the struct it is given.
    let usage = unsafe {
        let mut usage: libc::rusage = std::mem::zeroed();
        libc::getrusage(libc::RUSAGE_SELF, &mut usage);
        usage
    };
    let seconds = |t: libc::timeval| t.tv_sec as f64 + t.tv_usec as f64 / 1e6;
    (
        seconds(usage.ru_utime) + seconds(usage.ru_stime),
        usage.ru_nvcsw + usage.ru_nivcsw,
    )
}

fn serve() {
    let listener = TcpListener::bind("127.0.0.1:0").expect("bind");
    println!("{}", listener.local_addr().expect("address").port());
    std::io::stdout().flush().expect("stdout");
    for stream in listener.incoming() {
        let Ok(mut stream) = stream else { continue };
        std::thread::spawn(move || {
            stream.set_nodelay(true).ok();
            let mut buffer = [0u8; MESSAGE];
            while stream.read_exact(&mut buffer).is_ok() {
                if stream.write_all(&buffer).is_err() {
                    break;
                }
            }
        });
    }
}

async fn round_trips(stream: &mut tokio::net::TcpStream, count: usize) {
    let mut buffer = [7u8; MESSAGE];
    for _ in 0..count {
        stream.write_all(&buffer).await.expect("write");
        stream.read_exact(&mut buffer).await.expect("read");
    }
}

async fn connect(port: u16) -> tokio::net::TcpStream {
    let stream = tokio::net::TcpStream::connect(("127.0.0.1", port))
        .await
        .expect("connect");
    stream.set_nodelay(true).expect("nodelay");
    stream
}

fn run(mode: &str, port: u16, count: usize) {
    let multi = || {
        tokio::runtime::Builder::new_multi_thread()
            .enable_all()
            .build()
            .expect("runtime")
    };
    // A warm-up of 1,000 round trips outside the clock, in the same shape.
    let measure = |f: &mut dyn FnMut(usize)| {
        f(1_000);
        let (cpu_before, switches_before) = usage();
        let start = Instant::now();
        f(count);
        let seconds = start.elapsed().as_secs_f64();
        let (cpu_after, switches_after) = usage();
        println!(
            "{{\"mode\": \"{mode}\", \"per_second\": {:.0}, \"us_per_round_trip\": {:.1}, \"cpu_us\": {:.1}, \"switches\": {:.2}}}",
            count as f64 / seconds,
            seconds * 1e6 / count as f64,
            (cpu_after - cpu_before) * 1e6 / count as f64,
            (switches_after - switches_before) as f64 / count as f64,
        );
    };
    match mode {
        "blocking" => {
            let mut stream = TcpStream::connect(("127.0.0.1", port)).expect("connect");
            stream.set_nodelay(true).expect("nodelay");
            let mut buffer = [7u8; MESSAGE];
            measure(&mut |n| {
                for _ in 0..n {
                    stream.write_all(&buffer).expect("write");
                    stream.read_exact(&mut buffer).expect("read");
                }
            });
        }
        "current-thread" => {
            let runtime = tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()
                .expect("runtime");
            let mut stream = runtime.block_on(connect(port));
            measure(&mut |n| runtime.block_on(round_trips(&mut stream, n)));
        }
        "multi-caller-io" => {
            let runtime = multi();
            let mut stream = runtime.block_on(connect(port));
            measure(&mut |n| runtime.block_on(round_trips(&mut stream, n)));
        }
        "multi-spawned-io" => {
            let runtime = multi();
            let (requests, mut inbox) =
                mpsc::channel::<([u8; MESSAGE], oneshot::Sender<[u8; MESSAGE]>)>(16);
            let mut stream = runtime.block_on(connect(port));
            runtime.spawn(async move {
                while let Some((mut buffer, answer)) = inbox.recv().await {
                    stream.write_all(&buffer).await.expect("write");
                    stream.read_exact(&mut buffer).await.expect("read");
                    let _ = answer.send(buffer);
                }
            });
            measure(&mut |n| {
                runtime.block_on(async {
                    for _ in 0..n {
                        let (answer, answered) = oneshot::channel();
                        requests.send(([7u8; MESSAGE], answer)).await.expect("send");
                        answered.await.expect("answer");
                    }
                })
            });
        }
        "multi-in-task" => {
            let runtime = multi();
            let stream = runtime.block_on(connect(port));
            let stream = std::sync::Arc::new(tokio::sync::Mutex::new(stream));
            measure(&mut |n| {
                let stream = stream.clone();
                runtime
                    .block_on(runtime.spawn(async move {
                        round_trips(&mut *stream.lock().await, n).await;
                    }))
                    .expect("task");
            });
        }
        other => panic!("unknown mode {other}"),
    }
}

fn main() {
    let args: Vec<String> = std::env::args().collect();
    if args.get(1).map(String::as_str) == Some("serve") {
        return serve();
    }
    if args.get(1).map(String::as_str) == Some("client") {
        let port = args[2].parse().expect("port");
        let count = args[4].parse().expect("count");
        pin(0, 1);
        return run(&args[3], port, count);
    }
    let count: usize = args.get(1).map_or(50_000, |n| n.parse().expect("count"));
    let rounds: usize = args.get(2).map_or(3, |n| n.parse().expect("rounds"));
    let exe = std::env::current_exe().expect("current exe");
    let mut server = Command::new(&exe)
        .arg("serve")
        .stdout(Stdio::piped())
        .spawn()
        .expect("server");
    pin(server.id() as libc::pid_t, 0);
    let mut port = String::new();
    std::io::BufRead::read_line(
        &mut std::io::BufReader::new(server.stdout.take().expect("stdout")),
        &mut port,
    )
    .expect("port");
    let port = port.trim().to_string();
    // Rounds, each running every mode once in a process of its own, so that a
    // slow patch of a shared machine falls on every mode alike.
    for _ in 0..rounds {
        for mode in MODES {
            let status = Command::new(&exe)
                .args(["client", &port, mode, &count.to_string()])
                .status()
                .expect("client");
            assert!(status.success(), "{mode} failed");
        }
    }
    server.kill().ok();
    server.wait().ok();
}
