//! `graphmailer send --mime` (a ready message, sent as is) and `send
//! --attach` with a file too large for one request (upload session, when
//! large messages are on).

use crate::common;

use std::path::Path;

use common::{
    BILLING_CLIENT_ID, BILLING_SECRET, BIN, Emulator, Run, base64, run, start,
    terminate_once_counted, with,
};
use serde_json::{Value, json};

fn send(emu: &Emulator, args: &[&str], stdin: &[u8], env: &[(&str, &str)]) -> (Run, Value) {
    let r = run(
        Path::new(BIN),
        &[&["send"], args, &["--json"]].concat(),
        stdin,
        &with(&emu.env(), env),
    );
    let json = serde_json::from_str(r.stdout.trim()).unwrap_or(Value::Null);
    (r, json)
}

/// A message over one request, refused with large messages off: exit 12,
/// Graph's code, and a hint naming the setting.
fn refused_as_too_large((r, out): (Run, Value)) {
    assert_eq!(r.code, 12, "{}", r.stdout);
    assert_eq!(out["code"], "RequestEntityTooLarge");
    assert!(
        out["hint"]
            .as_str()
            .unwrap()
            .contains("GRAPHMAILER_LARGE_MESSAGES"),
        "{out}"
    );
}

#[test]
fn send_mime_sends_a_file_or_stdin_as_is() {
    let emu = Emulator::start();
    let file = emu.dir.join("invoice.eml");
    let eml = b"From: Billing <billing@contoso.test>\r\nTo: a@example.com\r\nSubject: From a file\r\n\r\nInvoice attached.\r\n";
    std::fs::write(&file, eml).unwrap();
    let path = file.to_str().unwrap();

    // The sender is the From address.
    let (r, out) = send(&emu, &["--mime", path], b"", &[]);
    assert_eq!(
        (r.code, &out["ok"]),
        (0, &Value::Bool(true)),
        "{}",
        r.stderr
    );
    let stored = emu.messages();
    assert_eq!(stored[0]["mailbox"], "billing@contoso.test");
    assert_eq!(stored[0]["sent_via"], "mime");
    assert_eq!(stored[0]["mime"].as_str().unwrap().as_bytes(), eml);

    // From stdin, LF line ends, sent as the --from mailbox.
    let (r, _) = send(
        &emu,
        &["--mime", "-", "--from", "erp@contoso.test"],
        b"From: erp@contoso.test\nTo: b@example.com\nSubject: From stdin\n\nx\n",
        &[],
    );
    assert_eq!(r.code, 0, "{}", r.stderr);
    let stored = emu.messages();
    assert_eq!(stored.len(), 2);
    assert_eq!(stored[1]["mailbox"], "erp@contoso.test");
    assert_eq!(stored[1]["message"]["subject"], "From stdin");

    // A message without recipients names the header; nothing is sent.
    let (r, out) = send(
        &emu,
        &["--mime", "-"],
        b"From: erp@contoso.test\n\nx\n",
        &[],
    );
    assert_eq!(
        (r.code, out["field"].as_str()),
        (12, Some("mime.To")),
        "{}",
        r.stdout
    );

    // The options that build a message do not go with --mime; --from is
    // needed without it.
    let (r, _) = send(&emu, &["--mime", path, "--to", "c@example.com"], b"", &[]);
    assert_eq!(r.code, 2, "{}", r.stderr);
    assert!(r.stderr.contains("--mime"), "{}", r.stderr);
    let (r, _) = send(&emu, &["--to", "c@example.com", "--text", "t"], b"", &[]);
    assert_eq!(r.code, 2, "{}", r.stderr);
    assert!(r.stderr.contains("--from"), "{}", r.stderr);
    assert_eq!(emu.messages().len(), 2);
}

#[test]
fn a_mime_message_over_one_request_is_sent_with_large_messages_on() {
    let emu = Emulator::start();
    // About 4.6 MB once in base64: over what Graph's MIME form takes.
    let data: Vec<u8> = (0..3_400_000u32)
        .map(|i| (i.wrapping_mul(2_654_435_761) >> 24) as u8)
        .collect();
    let lines: Vec<String> = base64(&data)
        .as_bytes()
        .chunks(76)
        .map(|l| String::from_utf8(l.to_vec()).unwrap())
        .collect();
    let mime = format!(
        "From: billing@contoso.test\r\nTo: a@example.com\r\nSubject: Scan\r\nMIME-Version: 1.0\r\n\
         Content-Type: multipart/mixed; boundary=\"b\"\r\n\r\n--b\r\nContent-Type: text/plain\r\n\r\n\
         The scan.\r\n--b\r\nContent-Type: application/pdf\r\n\
         Content-Disposition: attachment; filename=\"scan.pdf\"\r\n\
         Content-Transfer-Encoding: base64\r\n\r\n{}\r\n--b--\r\n",
        lines.join("\r\n")
    );
    let billing = [
        ("AZURE_CLIENT_ID", BILLING_CLIENT_ID),
        ("AZURE_CLIENT_SECRET", BILLING_SECRET),
    ];
    // Off by default: refused before anything is sent, with a hint.
    refused_as_too_large(send(&emu, &["--mime", "-"], mime.as_bytes(), &billing));
    assert!(emu.messages().is_empty());

    let large = [&billing[..], &[("GRAPHMAILER_LARGE_MESSAGES", "true")]].concat();
    let (r, out) = send(&emu, &["--mime", "-"], mime.as_bytes(), &large);
    assert_eq!(
        (r.code, &out["ok"]),
        (0, &Value::Bool(true)),
        "{}",
        r.stderr
    );
    let file = emu.dir.join("scan.eml");
    std::fs::write(&file, &mime).unwrap();
    let (r, _) = send(&emu, &["--mime", file.to_str().unwrap()], b"", &large);
    assert_eq!(r.code, 0, "{}", r.stderr);
    let stored = emu.messages();
    assert_eq!(stored.len(), 2);
    for sent in &stored {
        assert_eq!(sent["sent_via"], "draft");
        let attachment = &sent["message"]["attachments"][0];
        assert_eq!(attachment["name"], "scan.pdf");
        assert!(attachment["contentBytes"].as_str().unwrap() == base64(&data));
    }
}

#[test]
fn a_large_attachment_goes_through_an_upload_session_when_large_messages_are_on() {
    let emu = Emulator::start();
    // 6 MB: over Graph's 4 MB request, so two upload chunks.
    let data: Vec<u8> = (0..6 * 1024 * 1024u32)
        .map(|i| (i.wrapping_mul(2_654_435_761) >> 24) as u8)
        .collect();
    let file = emu.dir.join("scan.bin");
    std::fs::write(&file, &data).unwrap();
    let args = [
        "--from",
        "billing@contoso.test",
        "--to",
        "a@example.com",
        "--subject",
        "Scan",
        "--text",
        "The scan.",
        "--attach",
        file.to_str().unwrap(),
    ];
    let billing = [
        ("AZURE_CLIENT_ID", BILLING_CLIENT_ID),
        ("AZURE_CLIENT_SECRET", BILLING_SECRET),
    ];

    // Off by default: refused before anything is sent, with a hint.
    refused_as_too_large(send(&emu, &args, b"", &billing));

    // An app without Mail.ReadWrite (the ERP app) cannot make the draft.
    let (r, out) = send(&emu, &args, b"", &[("GRAPHMAILER_LARGE_MESSAGES", "true")]);
    assert_eq!(r.code, 15, "{}", r.stdout);
    assert!(
        out["hint"].as_str().unwrap().contains("Mail.ReadWrite"),
        "{out}"
    );
    assert!(emu.messages().is_empty());

    let large = [&billing[..], &[("GRAPHMAILER_LARGE_MESSAGES", "true")]].concat();
    let (r, out) = send(&emu, &args, b"", &large);
    assert_eq!(
        (r.code, &out["ok"]),
        (0, &Value::Bool(true)),
        "{}{}",
        r.stdout,
        r.stderr
    );
    let stored = emu.messages();
    assert_eq!(stored.len(), 1);
    assert_eq!(stored[0]["sent_via"], "draft");
    assert_eq!(stored[0]["mailbox"], "billing@contoso.test");
    let attachment = &stored[0]["message"]["attachments"][0];
    assert_eq!(attachment["name"], "scan.bin");
    assert!(attachment["contentBytes"].as_str().unwrap() == base64(&data));
    let drafts = emu.test_api("drafts");
    assert_eq!(drafts["drafts"].as_array().unwrap().len(), 0, "{drafts}");

    // People get a sentence, not the upload URL.
    let r = run(
        Path::new(BIN),
        &[&["send"], &args[..]].concat(),
        b"",
        &with(&emu.env(), &large),
    );
    assert_eq!(r.code, 0, "{}", r.stderr);
    assert!(
        r.stdout.starts_with("Graph accepted the mail"),
        "{}",
        r.stdout
    );
    assert!(!r.stdout.contains("/upload/"), "{}", r.stdout);
    // Piped, so no progress bar: nothing on stderr at all.
    assert_eq!(r.stderr, "", "a bar was drawn into a pipe");

    // On a terminal the bar shows the attachment going up; with --json it
    // does not. `script` gives the command a terminal and keeps what it drew.
    if Path::new("/usr/bin/script").exists() {
        let command = |extra: &str| {
            let quoted: Vec<String> = [&["send"], &args[..]]
                .concat()
                .iter()
                .map(|a| format!("'{a}'"))
                .collect();
            format!("{BIN} {} {extra} >/dev/null", quoted.join(" "))
        };
        let env = with(&emu.env(), &[&large[..], &[("TERM", "xterm")]].concat());
        let drawn = run(
            Path::new("/usr/bin/script"),
            &["-qec", &command(""), "/dev/null"],
            b"",
            &env,
        );
        assert_eq!(drawn.code, 0, "{}{}", drawn.stdout, drawn.stderr);
        assert!(
            drawn.stdout.contains("scan.bin") && drawn.stdout.contains("MiB"),
            "no bar on a terminal: {:?}",
            drawn.stdout
        );
        let json = run(
            Path::new("/usr/bin/script"),
            &["-qec", &command("--json"), "/dev/null"],
            b"",
            &env,
        );
        assert_eq!(json.code, 0, "{}{}", json.stdout, json.stderr);
        assert!(!json.stdout.contains("scan.bin"), "{:?}", json.stdout);
        assert_eq!(emu.messages().len(), 4);
    }
}

/// `graphmailer send --json` of a one-line mail, stopped by SIGTERM once
/// the emulator's `counter` is `at`.
fn send_terminated(
    emu: &Emulator,
    (counter, at): (&str, u64),
    env: &[(&str, &str)],
) -> (Run, Value) {
    let args = [
        "send",
        "--from",
        "erp@contoso.test",
        "--to",
        "a@example.com",
        "--subject",
        "held",
        "--text",
        "x",
        "--json",
    ];
    let child = start(Path::new(BIN), &args, &with(&emu.env(), env));
    let r = terminate_once_counted(emu, child, (counter, at));
    let json = serde_json::from_str(r.stdout.trim()).unwrap_or(Value::Null);
    (r, json)
}

#[test]
fn sigterm_stops_a_send_and_says_whether_the_mail_may_have_gone() {
    let emu = Emulator::start();
    // Graph holds its answer: the signal comes while the request is with it.
    emu.set_faults(json!({"delay_ms": 30_000}));
    let (r, out) = send_terminated(&emu, ("send_requests", 1), &[]);
    assert_eq!(r.code, 19, "ambiguous delivery: {}{}", r.stdout, r.stderr);
    assert_eq!(out["kind"], "ambiguous_delivery");
    assert_eq!(
        out["message"],
        "interrupted by SIGTERM after the mail's request reached Microsoft"
    );
    assert_eq!(out["request_id"].as_str().unwrap().len(), 36, "{out}");
    assert!(
        out["hint"]
            .as_str()
            .unwrap()
            .contains("erp@contoso.test's Sent Items"),
        "{out}"
    );

    // Stopped while the token endpoint asks it to wait (a second process,
    // so a second token request): nothing went out.
    emu.set_faults(json!({"token": [{"status": 503, "retry_after_secs": 30}]}));
    let (r, out) = send_terminated(
        &emu,
        ("token_requests", 2),
        &[("GRAPHMAILER_MAX_ATTEMPTS", "3")],
    );
    assert_eq!(r.code, 18, "transient: {}{}", r.stdout, r.stderr);
    assert_eq!(
        out["message"],
        "interrupted by SIGTERM before the mail went out: nothing was sent"
    );
    assert_eq!(
        emu.test_api("counters")["send_requests"],
        1,
        "the first test's only"
    );
}
