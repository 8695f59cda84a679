//! `graphmailer relay` killed with SIGKILL while 16 clients send: every
//! message that got a 250 is in the queue after the restart and reaches
//! Graph exactly once. The first run only accepts (`deliver = false`), so
//! the kill tests what the relay promises with 250, not the outbox's
//! handling of a send cut off in flight (the outbox's own tests cover that).

use std::collections::BTreeMap;
use std::io::{BufRead, BufReader, Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Condvar, Mutex};
use std::time::Duration;

use serde_json::Value;

const BIN: &str = env!("CARGO_BIN_EXE_graphmailer");
const CLIENTS: usize = 16;
const PER_CLIENT: usize = 125;
/// The relay is killed once this many messages got their 250.
const KILL_AFTER: usize = 1000;

use crate::emulator_process;

use emulator_process::EmulatorProcess as Emulator;

fn start_emulator() -> Emulator {
    Emulator::start(&[])
}

struct Relay {
    child: Child,
    smtp: SocketAddr,
}

/// Starts the relay and waits for its "listening" line.
fn start_relay(config: &Path) -> Relay {
    let mut child = Command::new(BIN)
        .args(["relay", "--config"])
        .arg(config)
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let mut stderr = BufReader::new(child.stderr.take().unwrap());
    let smtp = loop {
        let mut line = String::new();
        assert!(stderr.read_line(&mut line).unwrap() > 0, "relay exited");
        if let Some(rest) = line.strip_prefix("relay: listening on ") {
            break rest.split_whitespace().next().unwrap().parse().unwrap();
        }
    };
    // Keep draining stderr (one log line per message) so the relay never blocks on it.
    std::thread::spawn(move || {
        let mut sink = Vec::new();
        let _ = stderr.read_to_end(&mut sink);
    });
    Relay { child, smtp }
}

/// The relay's files. The mailer is the emulator's Outbox app, which may
/// read Sent Items, so a send cut off by the kill is checked there before it
/// is sent again.
fn write_configs(dir: &Path, emulator: &Emulator, deliver: bool) -> std::path::PathBuf {
    use graphmailer_emulator::defaults as d;
    let b = &emulator.banner;
    let s = |k: &str| match k {
        "client_id" => d::OUTBOX_CLIENT_ID.to_owned(),
        "client_secret" => d::OUTBOX_SECRET.to_owned(),
        _ => b[k].as_str().unwrap().to_owned(),
    };
    std::fs::write(
        dir.join("mailer.toml"),
        format!(
            "tenant_id = {:?}\nclient_id = {:?}\nclient_secret = {:?}\nauthority_host = {:?}\ngraph_endpoint = {:?}\nca_bundle = {:?}\n",
            s("tenant_id"),
            s("client_id"),
            s("client_secret"),
            s("url"),
            s("url"),
            s("ca_file")
        ),
    )
    .unwrap();
    // The mailer file holds a client secret, which is only read from a private file.
    std::fs::set_permissions(
        dir.join("mailer.toml"),
        std::os::unix::fs::PermissionsExt::from_mode(0o600),
    )
    .unwrap();
    let path = dir.join("relay.toml");
    std::fs::write(
        &path,
        format!(
            r#"
[[listener]]
address = "127.0.0.1:0"
mode = "plain"
[outbox]
deliver = {deliver}
lease_seconds = 5
reconcile_wait_seconds = 2
[[mailer]]
name = "contoso"
config = "mailer.toml"
outbox = "sqlite:{queue}"
[[network]]
cidr = "127.0.0.0/8"
mailer = "contoso"
may_send_as = [{allowed:?}]
"#,
            queue = dir.join("outbox.db").display(),
            allowed = s("allowed_sender"),
        ),
    )
    .unwrap();
    path
}

fn reply(reader: &mut BufReader<TcpStream>) -> Option<u16> {
    loop {
        let mut line = String::new();
        if reader.read_line(&mut line).ok()? == 0 {
            return None;
        }
        if line.as_bytes().get(3) != Some(&b'-') {
            return line.get(..3)?.parse().ok();
        }
    }
}

/// One client: sends its messages on one connection until the relay goes
/// away; gives each subject and whether it got a 250.
fn client(
    n: usize,
    smtp: SocketAddr,
    sender: String,
    accepted: Arc<(AtomicUsize, Mutex<()>, Condvar)>,
) -> Vec<(String, bool)> {
    let mut results = Vec::new();
    let Ok(stream) = TcpStream::connect(smtp) else {
        return results;
    };
    let mut writer = stream.try_clone().unwrap();
    let mut reader = BufReader::new(stream);
    let mut step = |line: &str, reader: &mut BufReader<TcpStream>| -> Option<u16> {
        writer.write_all(line.as_bytes()).ok()?;
        reply(reader)
    };
    if reply(&mut reader) != Some(220) || step("EHLO crash.test\r\n", &mut reader) != Some(250) {
        return results;
    }
    for i in 0..PER_CLIENT {
        let subject = format!("crash-{n}-{i}");
        let ok = (|| {
            (step(&format!("MAIL FROM:<{sender}>\r\n"), &mut reader)? == 250).then_some(())?;
            (step("RCPT TO:<ap@fabrikam.example>\r\n", &mut reader)? == 250).then_some(())?;
            (step("DATA\r\n", &mut reader)? == 354).then_some(())?;
            let body = format!(
                "From: {sender}\r\nTo: ap@fabrikam.example\r\nSubject: {subject}\r\n\r\n{}\r\n.\r\n",
                "line of an invoice\r\n".repeat(20)
            );
            Some(step(&body, &mut reader)? == 250)
        })();
        match ok {
            Some(true) => {
                results.push((subject, true));
                let (count, lock, cv) = &*accepted;
                count.fetch_add(1, Ordering::SeqCst);
                let _guard = lock.lock().unwrap();
                cv.notify_all();
            }
            _ => {
                results.push((subject, false));
                return results;
            }
        }
    }
    results
}

/// How many messages the queue holds.
fn queued(dir: &Path) -> usize {
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    runtime.block_on(async {
        let url = format!("sqlite:{}", dir.join("outbox.db").display());
        let outbox = graphmailer::Outbox::open(&url).await.unwrap();
        let stats = outbox.stats().await.unwrap();
        stats.by_state.values().sum::<u64>() as usize
    })
}

fn messages(emulator: &Emulator, count: usize) -> Vec<Value> {
    let url = emulator.banner["url"].as_str().unwrap().to_owned();
    let ca = std::fs::read(emulator.banner["ca_file"].as_str().unwrap()).unwrap();
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    runtime.block_on(async {
        let client = reqwest::Client::builder()
            .add_root_certificate(reqwest::Certificate::from_pem(&ca).unwrap())
            .build()
            .unwrap();
        let response = client
            .get(format!(
                "{url}/_emulator/messages/wait?count={count}&timeout_ms=120000"
            ))
            .send()
            .await
            .unwrap();
        let arrived_in_time = response.status().is_success();
        let body: Value = response.json().await.unwrap();
        let all = body["messages"].as_array().cloned().unwrap_or_default();
        assert!(
            arrived_in_time,
            "only {} of {count} messages arrived",
            all.len()
        );
        all
    })
}

#[test]
fn every_message_answered_250_is_delivered_exactly_once_after_kill_9() {
    kill_9_while_sending(false);
}

/// The same with the relay delivering while it is killed: mail in flight
/// at the kill is found in Sent Items after the restart, not sent twice.
#[test]
fn kill_9_while_accepting_and_delivering_loses_and_doubles_nothing() {
    kill_9_while_sending(true);
}

fn kill_9_while_sending(deliver_before_kill: bool) {
    let emulator = start_emulator();
    let dir = std::env::temp_dir().join(format!(
        "graphmailer-relay-crash-{}-{deliver_before_kill}",
        std::process::id()
    ));
    std::fs::create_dir_all(&dir).unwrap();
    let sender = emulator.banner["allowed_sender"]
        .as_str()
        .unwrap()
        .to_owned();

    let config = write_configs(&dir, &emulator, deliver_before_kill);
    let mut relay = start_relay(&config);
    let accepted = Arc::new((AtomicUsize::new(0), Mutex::new(()), Condvar::new()));
    let clients: Vec<_> = (0..CLIENTS)
        .map(|n| {
            let (smtp, sender, accepted) = (relay.smtp, sender.clone(), accepted.clone());
            std::thread::spawn(move || client(n, smtp, sender, accepted))
        })
        .collect();
    {
        let (count, lock, cv) = &*accepted;
        let guard = lock.lock().unwrap();
        let _guard = cv
            .wait_timeout_while(guard, Duration::from_secs(120), |_| {
                count.load(Ordering::SeqCst) < KILL_AFTER
            })
            .unwrap();
    }
    relay.child.kill().unwrap(); // SIGKILL
    relay.child.wait().unwrap();
    let results: Vec<(String, bool)> = clients
        .into_iter()
        .flat_map(|c| c.join().unwrap())
        .collect();
    let got_250: Vec<&String> = results.iter().filter(|r| r.1).map(|r| &r.0).collect();
    let without: Vec<&String> = results.iter().filter(|r| !r.1).map(|r| &r.0).collect();
    assert!(got_250.len() >= KILL_AFTER, "{} got 250", got_250.len());
    assert!(
        got_250.len() < CLIENTS * PER_CLIENT,
        "the kill came after every message was sent: raise PER_CLIENT"
    );

    // What the queue holds after the kill (sent or not).
    let committed = queued(&dir);
    assert!(
        committed >= got_250.len(),
        "{committed} committed, {} answered 250",
        got_250.len()
    );

    // Restarted with delivery on, over the same queue.
    let config = write_configs(&dir, &emulator, true);
    let mut relay = start_relay(&config);
    messages(&emulator, committed);
    let _ = Command::new("kill")
        .args(["-TERM", &relay.child.id().to_string()])
        .status();
    assert!(
        relay.child.wait().unwrap().success(),
        "SIGTERM ends the relay cleanly"
    );
    let arrived = messages(&emulator, 0);
    let mut by_subject: BTreeMap<String, usize> = BTreeMap::new();
    for m in &arrived {
        *by_subject
            .entry(m["message"]["subject"].as_str().unwrap_or("").to_owned())
            .or_default() += 1;
    }
    for subject in &got_250 {
        assert_eq!(
            by_subject.get(*subject),
            Some(&1),
            "{subject} got 250 and must arrive exactly once"
        );
    }
    let late = without
        .iter()
        .filter(|s| by_subject.contains_key(**s))
        .count();
    for (subject, n) in &by_subject {
        assert_eq!(*n, 1, "{subject} arrived {n} times");
    }
    eprintln!(
        "kill -9 with {CLIENTS} clients (delivering: {deliver_before_kill}): {} answered 250 (each delivered once), {} without an answer ({} of them committed before the kill and delivered once; the client may retry the rest)",
        got_250.len(),
        without.len(),
        late
    );
    assert_eq!(arrived.len(), committed, "every committed message, once");
    let _ = std::fs::remove_dir_all(&dir);
}
