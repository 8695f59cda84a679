//! An emulator started in this test process, and the built `graphmailer`
//! binary run against it with a bare environment, as cron and PHP run
//! sendmail. Every run checks that no secret or token reached its output.

#![allow(dead_code)]

use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::sync::atomic::{AtomicUsize, Ordering};

use serde_json::Value;

pub const BIN: &str = env!("CARGO_BIN_EXE_graphmailer");

/// The built-in Contoso Billing app, which holds Mail.ReadWrite as well as
/// Mail.Send (large messages go through drafts).
pub const BILLING_CLIENT_ID: &str = graphmailer_emulator::defaults::BILLING_CLIENT_ID;
pub const BILLING_SECRET: &str = graphmailer_emulator::defaults::BILLING_SECRET;

pub struct Emulator {
    inner: Option<graphmailer_emulator::Emulator>,
    /// A fresh folder for this test's files (config, links, sockets).
    pub dir: PathBuf,
}

impl Emulator {
    /// A plain-HTTP emulator on a free loopback port.
    pub fn start() -> Emulator {
        let inner = graphmailer::blocking::wait(graphmailer_emulator::start(
            graphmailer_emulator::Options {
                tls: false,
                ..Default::default()
            },
        ))
        .unwrap()
        .unwrap();
        static NEXT: AtomicUsize = AtomicUsize::new(0);
        let dir = std::env::temp_dir().join(format!(
            "gm-cli-test-{}-{}",
            std::process::id(),
            NEXT.fetch_add(1, Ordering::Relaxed)
        ));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(&dir).unwrap();
        Emulator {
            inner: Some(inner),
            dir,
        }
    }

    /// The emulator itself (its identity endpoints, its banner).
    pub fn emulator(&self) -> &graphmailer_emulator::Emulator {
        self.inner()
    }

    fn inner(&self) -> &graphmailer_emulator::Emulator {
        self.inner.as_ref().unwrap()
    }

    pub fn url(&self) -> String {
        self.inner().url().to_owned()
    }

    pub fn secret(&self) -> String {
        self.inner().banner().client_secret.clone()
    }

    /// Writes a config file for the banner's app (the ERP app) with `extra`
    /// TOML lines, as an administrator would in /etc/graphmailer.
    pub fn config_file(&self, name: &str, extra: &str) -> PathBuf {
        let banner = self.inner().banner();
        let path = self.dir.join(name);
        std::fs::write(
            &path,
            format!(
                "tenant_id = \"{}\"\nclient_id = \"{}\"\nclient_secret = \"{}\"\n\
                 authority_host = \"{url}\"\ngraph_endpoint = \"{url}\"\nmax_attempts = 1\n{extra}\n",
                banner.tenant_id,
                banner.client_id,
                banner.client_secret,
                url = banner.url,
            ),
        )
        .unwrap();
        // It holds the client secret, so it is kept private as the loader demands.
        std::fs::set_permissions(&path, std::os::unix::fs::PermissionsExt::from_mode(0o600))
            .unwrap();
        path
    }

    /// The same settings as environment variables.
    pub fn env(&self) -> Vec<(String, String)> {
        let banner = self.inner().banner();
        [
            ("AZURE_TENANT_ID", banner.tenant_id.as_str()),
            ("AZURE_CLIENT_ID", banner.client_id.as_str()),
            ("AZURE_CLIENT_SECRET", banner.client_secret.as_str()),
            ("AZURE_AUTHORITY_HOST", banner.url.as_str()),
            ("GRAPHMAILER_GRAPH_ENDPOINT", banner.url.as_str()),
            ("GRAPHMAILER_MAX_ATTEMPTS", "1"),
        ]
        .iter()
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect()
    }

    /// `GET /_emulator/<what>` as JSON.
    pub fn test_api(&self, what: &str) -> Value {
        let url = format!("{}/_emulator/{what}", self.url());
        let body =
            graphmailer::blocking::wait(async move { reqwest::get(url).await?.text().await })
                .unwrap()
                .unwrap();
        serde_json::from_str(&body).unwrap()
    }

    /// The accepted messages, from `GET /_emulator/messages`.
    pub fn messages(&self) -> Vec<Value> {
        self.test_api("messages")["messages"]
            .as_array()
            .unwrap()
            .clone()
    }

    /// `PUT /_emulator/faults`.
    pub fn set_faults(&self, plan: Value) {
        let url = format!("{}/_emulator/faults", self.url());
        let status = graphmailer::blocking::wait(async move {
            reqwest::Client::new()
                .put(url)
                .json(&plan)
                .send()
                .await
                .map(|r| r.status())
        })
        .unwrap()
        .unwrap();
        assert!(status.is_success(), "{status}");
    }
}

impl Drop for Emulator {
    fn drop(&mut self) {
        if let Some(inner) = self.inner.take() {
            let _ = graphmailer::blocking::wait(inner.shutdown());
        }
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}

pub struct Run {
    pub code: i32,
    pub stdout: String,
    pub stderr: String,
    pub pid: u32,
}

/// Runs `program` with `args`, only `env` in its environment (plus a syslog
/// socket that does not exist, so no test writes to the machine's log unless
/// it names its own), and `stdin` written from another thread (a sendmail
/// may stop reading early, as at a lone dot).
pub fn run(program: &Path, args: &[&str], stdin: &[u8], env: &[(String, String)]) -> Run {
    let mut child = start(program, args, env);
    let mut pipe = child.stdin.take().unwrap();
    let input = stdin.to_vec();
    let writer = std::thread::spawn(move || {
        let _ = pipe.write_all(&input);
    });
    let run = finish(child);
    writer.join().unwrap();
    run
}

/// Starts `program` as [`run`] does, for a test that acts on it while it
/// runs (a signal); [`finish`] waits for it. Its stdin is a pipe.
pub fn start(program: &Path, args: &[&str], env: &[(String, String)]) -> std::process::Child {
    Command::new(program)
        .args(args)
        .env_clear()
        .env(
            "GRAPHMAILER_SYSLOG_SOCKET",
            "/nonexistent/graphmailer-test.sock",
        )
        .envs(env.iter().map(|(k, v)| (k, v)))
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap()
}

/// Waits for a program [`start`] started; checks that no secret reached its
/// output.
pub fn finish(child: std::process::Child) -> Run {
    let pid = child.id();
    let out = child.wait_with_output().unwrap();
    let run = Run {
        code: out
            .status
            .code()
            .unwrap_or_else(|| panic!("ended by a signal ({})", out.status)),
        stdout: String::from_utf8_lossy(&out.stdout).into_owned(),
        stderr: String::from_utf8_lossy(&out.stderr).into_owned(),
        pid,
    };
    for secret in SECRETS {
        assert!(
            !run.stdout.contains(secret) && !run.stderr.contains(secret),
            "a secret reached the output: {}{}",
            run.stdout,
            run.stderr
        );
    }
    run
}

/// Sends SIGTERM to `child` once the emulator's `counter` is `at` (so
/// while the emulator still answers a request), then waits for it.
pub fn terminate_once_counted(
    emu: &Emulator,
    child: std::process::Child,
    (counter, at): (&str, u64),
) -> Run {
    let counted = emu.test_api(&format!(
        "counters/wait?name={counter}&at_least={at}&timeout_ms=15000"
    ));
    assert_eq!(counted[counter], at, "{counted}");
    let killed = Command::new("kill")
        .args(["-TERM", &child.id().to_string()])
        .status()
        .unwrap();
    assert!(killed.success());
    finish(child)
}

/// What must never be printed: the apps' secrets, the start of every JWT
/// (an access token or a client assertion) and an upload URL's credential.
pub const SECRETS: &[&str] = &[
    graphmailer_emulator::defaults::ERP_SECRET,
    graphmailer_emulator::defaults::BILLING_SECRET,
    "eyJ",
    "authtoken",
];

/// `env` plus more.
pub fn with(env: &[(String, String)], more: &[(&str, &str)]) -> Vec<(String, String)> {
    let mut all = env.to_vec();
    all.extend(more.iter().map(|(k, v)| (k.to_string(), v.to_string())));
    all
}

/// Standard base64 without line breaks, as the emulator gives `contentBytes`.
pub fn base64(bytes: &[u8]) -> String {
    const ALPHABET: &[u8; 64] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    let mut out = String::with_capacity(bytes.len().div_ceil(3) * 4);
    for chunk in bytes.chunks(3) {
        let b = [
            chunk[0],
            *chunk.get(1).unwrap_or(&0),
            *chunk.get(2).unwrap_or(&0),
        ];
        let n = (u32::from(b[0]) << 16) | (u32::from(b[1]) << 8) | u32::from(b[2]);
        for i in 0..4 {
            if i <= chunk.len() {
                out.push(ALPHABET[(n >> (18 - 6 * i) & 63) as usize] as char);
            } else {
                out.push('=');
            }
        }
    }
    out
}
