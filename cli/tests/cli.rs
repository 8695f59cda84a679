//! The `graphmailer` binary as scripts use it: the emulator's banner line,
//! `send` with its JSON output and exit statuses, and the demo.

use std::io::{BufRead, BufReader, Write};
use std::process::{Child, Command, Stdio};

use serde_json::Value;

const BIN: &str = env!("CARGO_BIN_EXE_graphmailer");

/// `graphmailer emulator` as a child process, stopped on drop.
struct Emulator {
    child: Child,
    banner: Value,
}

impl Emulator {
    fn start(extra: &[&str]) -> Emulator {
        let mut child = Command::new(BIN)
            .args(["emulator", "--port", "0"])
            .args(extra)
            .stdout(Stdio::piped())
            .stderr(Stdio::null())
            .spawn()
            .unwrap();
        let mut first = String::new();
        BufReader::new(child.stdout.take().unwrap())
            .read_line(&mut first)
            .unwrap();
        let banner: Value =
            serde_json::from_str(&first).unwrap_or_else(|e| panic!("banner {first:?}: {e}"));
        Emulator { child, banner }
    }

    fn get(&self, key: &str) -> String {
        self.banner[key]
            .as_str()
            .unwrap_or_else(|| panic!("banner lacks {key}"))
            .to_owned()
    }

    fn send(&self, args: &[&str], stdin: Option<&str>) -> (i32, Value) {
        let url = self.get("url");
        let mut command = Command::new(BIN);
        command
            .arg("send")
            .args(args)
            .arg("--json")
            .env_clear()
            .env("AZURE_TENANT_ID", self.get("tenant_id"))
            .env("AZURE_CLIENT_ID", self.get("client_id"))
            .env("AZURE_CLIENT_SECRET", self.get("client_secret"))
            .env("AZURE_AUTHORITY_HOST", &url)
            .env("GRAPHMAILER_GRAPH_ENDPOINT", &url)
            .env("GRAPHMAILER_MAX_ATTEMPTS", "1")
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped());
        if let Some(ca) = self.banner["ca_file"].as_str() {
            command.env("GRAPHMAILER_CA_BUNDLE", ca);
        }
        let mut child = command.spawn().unwrap();
        child
            .stdin
            .take()
            .unwrap()
            .write_all(stdin.unwrap_or("").as_bytes())
            .unwrap();
        let out = child.wait_with_output().unwrap();
        let stdout = String::from_utf8(out.stdout).unwrap();
        let json =
            serde_json::from_str(stdout.trim()).unwrap_or_else(|e| panic!("{stdout:?}: {e}"));
        (out.status.code().unwrap(), json)
    }

    fn messages(&self) -> Vec<Value> {
        let url = format!("{}/_emulator/messages", self.get("url"));
        let body = ureq_get(&url);
        serde_json::from_str::<Value>(&body).unwrap()["messages"]
            .as_array()
            .unwrap()
            .clone()
    }
}

impl Drop for Emulator {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// A GET on the emulator's test API.
fn ureq_get(url: &str) -> String {
    let url = url.to_owned();
    graphmailer::blocking::wait(async move { reqwest::get(url).await?.text().await })
        .unwrap()
        .unwrap()
}

#[test]
fn the_emulator_banner_is_one_json_line_with_everything_a_client_needs() {
    let https = Emulator::start(&[]);
    assert!(https.get("url").starts_with("https://127.0.0.1:"));
    assert!(std::path::Path::new(&https.get("ca_file")).exists());
    for key in [
        "tenant_id",
        "client_id",
        "client_secret",
        "allowed_sender",
        "denied_sender",
    ] {
        assert!(!https.get(key).is_empty(), "{key}");
    }
    let http = Emulator::start(&["--http"]);
    assert!(http.get("url").starts_with("http://127.0.0.1:"));
    assert!(http.banner.get("ca_file").is_none_or(Value::is_null));
}

#[test]
fn send_delivers_every_option_and_prints_json() {
    let emu = Emulator::start(&["--http"]);
    let dir = std::env::temp_dir().join(format!("gm-cli-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let pdf = dir.join("invoice.pdf");
    std::fs::write(&pdf, b"%PDF-1.4 test").unwrap();
    let (code, out) = emu.send(
        &[
            "--from",
            "erp@contoso.test",
            "--to",
            "Alice Example <alice@example.com>",
            "--cc",
            "bob@example.com",
            "--bcc",
            "archive@contoso.test",
            "--reply-to",
            "replies@contoso.test",
            "--subject",
            "Invoice 4711",
            "--body-file",
            "-",
            "--body-type",
            "html",
            "--attach",
            pdf.to_str().unwrap(),
            "--header",
            "x-invoice-id: 4711",
            "--importance",
            "high",
            "--no-save",
        ],
        Some("<p>from stdin</p>"),
    );
    assert_eq!(code, 0, "{out}");
    assert_eq!(out["ok"], true);
    assert!(out["request_id"].is_string());
    let stored = emu.messages();
    assert_eq!(stored.len(), 1);
    let m = &stored[0]["message"];
    assert_eq!(stored[0]["save_to_sent_items"], false);
    assert_eq!(
        m["toRecipients"][0]["emailAddress"]["name"],
        "Alice Example"
    );
    assert_eq!(
        m["ccRecipients"][0]["emailAddress"]["address"],
        "bob@example.com"
    );
    assert_eq!(
        m["bccRecipients"][0]["emailAddress"]["address"],
        "archive@contoso.test"
    );
    assert_eq!(
        m["replyTo"][0]["emailAddress"]["address"],
        "replies@contoso.test"
    );
    assert_eq!(m["body"]["contentType"], "html");
    assert_eq!(m["body"]["content"], "<p>from stdin</p>");
    assert_eq!(m["importance"], "high");
    assert_eq!(m["attachments"][0]["name"], "invoice.pdf");
    assert_eq!(m["attachments"][0]["contentBytes"], "JVBERi0xLjQgdGVzdA==");
    assert_eq!(m["internetMessageHeaders"][0]["value"], "4711");
}

#[test]
fn exit_statuses_tell_the_error_kind() {
    let emu = Emulator::start(&["--http"]);
    let base = ["--to", "alice@example.com", "--subject", "s", "--text", "t"];
    fn with<'a>(from: &'a str, base: &[&'a str]) -> Vec<&'a str> {
        [&["--from", from][..], base].concat()
    }

    let (code, out) = emu.send(&with("ceo@contoso.test", &base), None);
    assert_eq!((code, out["kind"].as_str()), (15, Some("access_denied")));
    assert_eq!(out["code"], "ErrorAccessDenied");
    assert!(out["hint"].as_str().unwrap().contains("30 minutes"));
    assert!(out["request_id"].is_string());

    let (code, out) = emu.send(&with("nobody@contoso.test", &base), None);
    assert_eq!(
        (code, out["kind"].as_str()),
        (16, Some("mailbox_not_found"))
    );

    let (code, out) = emu.send(
        &[
            "--from",
            "erp@contoso.test",
            "--to",
            "not an address",
            "--text",
            "t",
        ],
        None,
    );
    assert_eq!((code, out["field"].as_str()), (12, Some("to[0].address")));

    let (code, out) = emu.send(
        &[
            &with("erp@contoso.test", &base)[..],
            &["--header", "Subject: x"],
        ]
        .concat(),
        None,
    );
    assert_eq!((code, out["field"].as_str()), (12, Some("headers[0].name")));
    assert!(emu.messages().is_empty());
}

#[test]
fn missing_configuration_names_the_variable() {
    let out = Command::new(BIN)
        .args([
            "send",
            "--from",
            "erp@contoso.test",
            "--to",
            "a@example.com",
            "--text",
            "t",
        ])
        .env_clear()
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(11));
    let stderr = String::from_utf8(out.stderr).unwrap();
    assert!(stderr.contains("AZURE_TENANT_ID"), "{stderr}");
}

#[test]
fn the_demo_runs_offline_and_shows_the_refusal() {
    let out = Command::new(BIN).arg("demo").output().unwrap();
    let stdout = String::from_utf8(out.stdout).unwrap();
    assert!(
        out.status.success(),
        "{stdout}\n{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(stdout.contains("accepted by Graph"), "{stdout}");
    assert!(stdout.contains("ErrorAccessDenied"), "{stdout}");
    assert!(stdout.contains("refused locally"), "{stdout}");
    assert!(
        !stdout.contains("Emu8Q~"),
        "the demo must not print the secret"
    );
}
