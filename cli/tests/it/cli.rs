//! The `graphmailer` binary as scripts use it: the emulator's banner line,
//! `send` with its JSON output and exit statuses, and the demo.

use std::io::Write;
use std::process::{Command, Stdio};

use serde_json::Value;

const BIN: &str = env!("CARGO_BIN_EXE_graphmailer");

use crate::emulator_process;

use emulator_process::EmulatorProcess as Emulator;

impl Emulator {
    fn get(&self, key: &str) -> String {
        self.banner[key]
            .as_str()
            .unwrap_or_else(|| panic!("banner lacks {key}"))
            .to_owned()
    }

    /// Runs `graphmailer <args>` configured for this emulator's ERP app,
    /// with `env` on top; gives the exit status, stdout and stderr.
    fn run(
        &self,
        args: &[&str],
        stdin: Option<&str>,
        env: &[(&str, &str)],
    ) -> (i32, String, String) {
        let mut command = self.command(args, env);
        command
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped());
        let mut child = command.spawn().unwrap();
        child
            .stdin
            .take()
            .unwrap()
            .write_all(stdin.unwrap_or("").as_bytes())
            .unwrap();
        let out = child.wait_with_output().unwrap();
        (
            out.status.code().unwrap(),
            String::from_utf8(out.stdout).unwrap(),
            String::from_utf8(out.stderr).unwrap(),
        )
    }

    /// `graphmailer <args>` configured for this emulator's ERP app.
    fn command(&self, args: &[&str], env: &[(&str, &str)]) -> Command {
        let url = self.get("url");
        let mut command = Command::new(BIN);
        command
            .args(args)
            .env_clear()
            .env("AZURE_TENANT_ID", self.get("tenant_id"))
            .env("AZURE_CLIENT_ID", self.get("client_id"))
            .env("AZURE_CLIENT_SECRET", self.get("client_secret"))
            .env("AZURE_AUTHORITY_HOST", &url)
            .env("GRAPHMAILER_GRAPH_ENDPOINT", &url)
            .env("GRAPHMAILER_MAX_ATTEMPTS", "1")
            .envs(env.iter().copied());
        if let Some(ca) = self.banner["ca_file"].as_str() {
            command.env("GRAPHMAILER_CA_BUNDLE", ca);
        }
        command
    }

    /// `graphmailer send <args> --json`, its status and its JSON answer.
    fn send(&self, args: &[&str], stdin: Option<&str>) -> (i32, Value) {
        let (code, stdout, _) = self.run(&[&["send"], args, &["--json"]].concat(), stdin, &[]);
        let json =
            serde_json::from_str(stdout.trim()).unwrap_or_else(|e| panic!("{stdout:?}: {e}"));
        (code, json)
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
    let folder = tempfile::Builder::new()
        .prefix("gm-cli-")
        .tempdir()
        .unwrap();
    let dir = folder.path();
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
fn a_reader_that_went_away_does_not_change_what_the_exit_status_says() {
    let emu = Emulator::start(&["--http"]);
    // `graphmailer send --json | reader` whose reader has gone: the mail goes
    // out, and the status must say so (a wrapper retrying on failure would
    // send it twice), not a panic's 101.
    let (reader, writer) = std::io::pipe().unwrap();
    drop(reader);
    let status = emu
        .command(
            &[
                "send",
                "--from",
                "erp@contoso.test",
                "--to",
                "a@example.com",
                "--subject",
                "piped",
                "--text",
                "x",
                "--json",
            ],
            &[],
        )
        .stdin(Stdio::null())
        .stdout(writer)
        .stderr(Stdio::null())
        .status()
        .unwrap();
    assert_eq!(status.code(), Some(0), "{status}");
    assert_eq!(emu.messages().len(), 1);
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
        stdout.contains("12 MB attachment arrived byte for byte"),
        "{stdout}"
    );
    for secret in ["Emu8Q~", "Bil8Q~", "authtoken"] {
        assert!(!stdout.contains(secret), "the demo must not print {secret}");
    }
}

#[test]
fn doctor_explains_the_token_and_flags_missing_consent() {
    let emu = Emulator::start(&["--http"]);
    let (code, stdout, _) = emu.run(&["doctor"], None, &[]);
    assert_eq!(code, 0, "{stdout}");
    assert!(stdout.contains("Contoso ERP"), "{stdout}");
    assert!(stdout.contains("roles granted    Mail.Send"), "{stdout}");
    assert!(stdout.contains("[secret-credential]"), "{stdout}");
    assert!(
        !stdout.contains("Emu8Q~"),
        "doctor must not print the secret"
    );

    // The Reporting app has User.Read.All but no Mail.Send.
    let reporting = [
        ("AZURE_CLIENT_ID", "a6d4c2b0-9e8f-4a7b-8c6d-5e4f3a2b1c0d"),
        (
            "AZURE_CLIENT_SECRET",
            "Rep8Q~reportingSecretValue.0123456789abcd",
        ),
    ];
    let (code, stdout, _) = emu.run(&["doctor", "--json"], None, &reporting);
    assert_eq!(code, 1, "{stdout}");
    let report: Value = serde_json::from_str(&stdout).unwrap();
    assert_eq!(report["ok"], false);
    assert_eq!(report["roles"], serde_json::json!(["User.Read.All"]));
    let ids: Vec<&str> = report["findings"]
        .as_array()
        .unwrap()
        .iter()
        .map(|f| f["id"].as_str().unwrap())
        .collect();
    assert!(ids.contains(&"missing-mail-send"), "{ids:?}");
    assert!(ids.contains(&"broad-role"), "{ids:?}");

    // The secret's ID instead of its value: no token, the hint says why.
    let (code, stdout, _) = emu.run(
        &["doctor", "--json"],
        None,
        &[(
            "AZURE_CLIENT_SECRET",
            "5a1f3c7e-2b9d-4e6f-8a0c-1d3b5e7f9a2c",
        )],
    );
    assert_eq!(code, 14, "{stdout}");
    let report: Value = serde_json::from_str(&stdout).unwrap();
    assert_eq!(report["token_acquired"], false);
    assert_eq!(report["error"]["code"], "AADSTS7000215");
    assert!(
        report["error"]["hint"].as_str().unwrap().contains("Value"),
        "{stdout}"
    );
}

#[test]
fn doctor_says_whether_the_outbox_can_settle_an_ambiguous_send() {
    let emu = Emulator::start(&["--http"]);
    let finding_ids = |env: &[(&str, &str)]| -> Vec<String> {
        let (code, stdout, _) = emu.run(&["doctor", "--json"], None, env);
        assert_eq!(code, 0, "{stdout}");
        let report: Value = serde_json::from_str(&stdout).unwrap();
        report["findings"]
            .as_array()
            .unwrap()
            .iter()
            .map(|f| f["id"].as_str().unwrap().to_owned())
            .collect()
    };
    let outbox = (
        "GRAPHMAILER_OUTBOX",
        "sqlite:/var/spool/graphmailer/outbox.db",
    );

    // The ERP app holds Mail.Send only: an ambiguous send waits for an operator.
    let erp = finding_ids(&[outbox]);
    assert!(
        erp.iter().any(|id| id == "outbox-cannot-reconcile"),
        "{erp:?}"
    );

    // The Outbox app also holds Mail.ReadBasic.All: it looks in Sent Items.
    let reader = finding_ids(&[
        outbox,
        ("AZURE_CLIENT_ID", "c1d2e3f4-a5b6-4c7d-8e9f-0a1b2c3d4e5f"),
        (
            "AZURE_CLIENT_SECRET",
            "Obx8Q~outboxSecretValue.0123456789abcdefg",
        ),
    ]);
    assert!(
        reader.iter().any(|id| id == "outbox-can-reconcile"),
        "{reader:?}"
    );
    assert!(
        reader.iter().any(|id| id == "read-role-for-outbox"),
        "{reader:?}"
    );

    // Without an outbox, doctor says nothing about one.
    let plain = finding_ids(&[]);
    assert!(
        plain.iter().all(|id| !id.starts_with("outbox")),
        "{plain:?}"
    );
}

#[test]
fn verify_prints_a_table_and_fails_when_the_restriction_does_not_hold() {
    let emu = Emulator::start(&["--http"]);
    let (code, stdout, _) = emu.run(
        &[
            "verify",
            "--allowed",
            "erp@contoso.test",
            "billing@contoso.test",
            "--denied",
            "ceo@contoso.test",
        ],
        None,
        &[],
    );
    assert_eq!(code, 0, "{stdout}");
    assert!(stdout.contains("SENDER"), "{stdout}");
    assert!(stdout.contains("The restriction holds."), "{stdout}");
    // Each probe went to the sender's own mailbox and nowhere else.
    let messages = emu.messages();
    assert_eq!(messages.len(), 2);
    for m in &messages {
        let to = &m["message"]["toRecipients"][0]["emailAddress"]["address"];
        assert_eq!(to, &m["mailbox"], "{m}");
    }

    // Expecting the CEO's mailbox to be allowed is wrong: exit 1, verdict FAIL.
    let (code, stdout, stderr) = emu.run(
        &[
            "verify",
            "--allowed",
            "ceo@contoso.test",
            "--wait",
            "2s",
            "--interval",
            "1s",
            "--json",
        ],
        None,
        &[],
    );
    assert_eq!(code, 1, "{stdout}");
    let result: Value = serde_json::from_str(&stdout).unwrap();
    assert_eq!(result["holds"], false);
    assert_eq!(result["rows"][0]["observed"], "denied");
    assert!(result["round"].as_u64().unwrap() >= 2, "{result}");
    assert!(stderr.contains("round 1:"), "{stderr}");

    // Bad input names the field and checks nothing.
    let (code, _, stderr) = emu.run(&["verify", "--denied", "not-an-address"], None, &[]);
    assert_eq!(code, 11, "{stderr}");
    assert!(stderr.contains("denied[0]"), "{stderr}");
}

#[test]
fn policy_prints_filled_in_powershell_and_refuses_what_could_break_out() {
    let emu = Emulator::start(&["--http"]);
    let app = "3b9e6f2a-8c4d-4a1e-b7f5-0d2c9e8a6b14";
    let (code, stdout, stderr) = emu.run(
        &[
            "policy",
            "--app-id",
            app,
            "--object-id",
            "c8a1e3f5-7b9d-4c2e-a4f6-8b0d2e4f6a81",
            "--mailbox",
            "erp@contoso.test,billing@contoso.test",
        ],
        None,
        &[],
    );
    assert_eq!(code, 0, "{stderr}");
    assert!(
        stdout.contains(&format!("New-ManagementRoleAssignment -App '{app}'")),
        "{stdout}"
    );
    assert!(stdout.contains("''billing@contoso.test''"), "{stdout}");
    assert!(
        stdout.contains("Test-ServicePrincipalAuthorization"),
        "{stdout}"
    );
    assert!(stderr.contains("Object ID"), "{stderr}");

    let (code, stdout, _) = emu.run(
        &[
            "policy",
            "--legacy",
            "--app-id",
            app,
            "--group",
            "erp-senders@contoso.test",
            "--mailbox",
            "erp@contoso.test",
        ],
        None,
        &[],
    );
    assert_eq!(code, 0);
    assert!(stdout.contains("New-ApplicationAccessPolicy"), "{stdout}");
    assert!(
        stdout.contains("-PolicyScopeGroupId 'erp-senders@contoso.test'"),
        "{stdout}"
    );

    for (flag, value) in [
        ("--name", "x'; Remove-Mailbox -Identity ceo; '"),
        ("--app-id", "not-a-guid"),
        ("--mailbox", "a@b.com'; Get-Mailbox; '"),
    ] {
        let mut args = vec!["policy", "--mailbox", "erp@contoso.test", flag, value];
        if flag != "--app-id" {
            args.extend(["--app-id", app]);
        }
        let (code, stdout, stderr) = emu.run(&args, None, &[]);
        assert_eq!(code, 11, "{flag}: {stdout}{stderr}");
        assert!(
            stdout.is_empty(),
            "{flag}: nothing may be printed: {stdout}"
        );
    }
}

#[test]
fn the_emulator_store_survives_a_kill_and_is_held_by_one_emulator() {
    let dir = tempfile::Builder::new()
        .prefix("gm-cli-store-")
        .tempdir()
        .unwrap();
    let store = dir.path().join("emulator.sqlite");
    let store = store.to_str().unwrap();
    let first = Emulator::start(&["--http", "--store", store]);
    let (code, out) = first.send(
        &[
            "--from",
            "erp@contoso.test",
            "--to",
            "a@example.com",
            "--subject",
            "kept",
            "--body-file",
            "-",
        ],
        Some("kept across a kill"),
    );
    assert_eq!(code, 0, "{out}");

    let second = Command::new(BIN)
        .args(["emulator", "--http", "--store", store])
        .output()
        .unwrap();
    assert!(!second.status.success());
    let stderr = String::from_utf8_lossy(&second.stderr);
    assert!(
        stderr.contains(&format!("--store {store}: in use by another emulator")),
        "{stderr}"
    );

    // Killed, not stopped: what it accepted was already written.
    drop(first);
    let again = Emulator::start(&["--http", "--store", store]);
    let kept = again.messages();
    assert_eq!(kept.len(), 1);
    assert_eq!(kept[0]["message"]["subject"], "kept");
    drop(again);
}
