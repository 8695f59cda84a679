//! `graphmailer sendmail` and a link named `sendmail`, as cron, PHP's
//! `mail()` and old daemons call /usr/sbin/sendmail: the message on stdin,
//! sendmail's options, silence on success, sysexits statuses and one
//! `sendmail:` line on failure, and records in syslog.

use crate::common;

use std::os::unix::net::UnixDatagram;
use std::path::Path;
use std::time::Duration;

use common::{BIN, Emulator, Run, base64, run, start, terminate_once_counted, with};
use serde_json::{Value, json};

const CRON_MAIL: &str = "From: root (Cron Daemon)\nTo: root\nSubject: Cron <root@web1> /usr/local/bin/backup\nContent-Type: text/plain; charset=UTF-8\n\nbackup finished: 42 files\n";

/// `graphmailer sendmail <args>` configured by a file that GRAPHMAILER_CONFIG
/// names, with erp@ as the default sender, and `env` on top.
fn sendmail_env(emu: &Emulator, args: &[&str], stdin: &[u8], env: &[(&str, &str)]) -> Run {
    let config = emu.config_file("graphmailer.toml", "default_sender = \"erp@contoso.test\"");
    let base = with(&[], &[("GRAPHMAILER_CONFIG", config.to_str().unwrap())]);
    run(
        Path::new(BIN),
        &[&["sendmail"], args].concat(),
        stdin,
        &with(&base, env),
    )
}

fn sendmail(emu: &Emulator, args: &[&str], stdin: &str) -> Run {
    sendmail_env(emu, args, stdin.as_bytes(), &[])
}

/// Exit 0 and not a word, as sendmail.
fn assert_silent_success(r: &Run) {
    assert_eq!(r.code, 0, "{}", r.stderr);
    assert_eq!((r.stdout.as_str(), r.stderr.as_str()), ("", ""));
}

/// Every stderr line starts with `sendmail:`; gives the first.
fn failure_line(r: &Run) -> &str {
    assert!(!r.stderr.is_empty());
    for line in r.stderr.lines() {
        assert!(line.starts_with("sendmail: "), "{:?}", r.stderr);
        assert!(!line.contains('\x1b'), "no colours: {:?}", r.stderr);
    }
    assert!(r.stderr.lines().count() <= 2, "{:?}", r.stderr);
    r.stderr.lines().next().unwrap()
}

fn addresses(message: &Value, list: &str) -> Vec<String> {
    message[list]
        .as_array()
        .map(|a| {
            a.iter()
                .map(|r| r["emailAddress"]["address"].as_str().unwrap().to_owned())
                .collect()
        })
        .unwrap_or_default()
}

/// The only stored message.
fn only_message(emu: &Emulator) -> Value {
    let messages = emu.messages();
    assert_eq!(messages.len(), 1, "{messages:#?}");
    messages[0].clone()
}

fn check_cron_delivery(emu: &Emulator) {
    let stored = only_message(emu);
    assert_eq!(stored["mailbox"], "erp@contoso.test");
    assert_eq!(stored["sent_via"], "mime", "{stored}");
    let m = &stored["message"];
    assert_eq!(m["from"]["emailAddress"]["address"], "erp@contoso.test");
    assert_eq!(m["from"]["emailAddress"]["name"], "CronDaemon");
    assert_eq!(addresses(m, "toRecipients"), ["ops@example.com"]);
    assert!(addresses(m, "ccRecipients").is_empty());
    assert!(addresses(m, "bccRecipients").is_empty());
    assert_eq!(m["subject"], "Cron <root@web1> /usr/local/bin/backup");
    let mime = stored["mime"].as_str().unwrap();
    assert!(mime.contains("X-Original-To: root\r\n"), "{mime}");
    assert!(
        mime.ends_with("\r\n\r\nbackup finished: 42 files\r\n"),
        "{mime}"
    );
}

#[test]
fn cron_mail_goes_to_mailto_only_from_the_default_sender() {
    let emu = Emulator::start();
    let cron_args = [
        "-FCronDaemon",
        "-i",
        "-B8BITMIME",
        "-oem",
        "ops@example.com",
    ];
    // Cron runs with a bare environment: the settings come from the file
    // and the default sender from the environment here.
    let config = emu.config_file("cron.toml", "");
    let r = run(
        Path::new(BIN),
        &[&["sendmail"], &cron_args[..]].concat(),
        CRON_MAIL.as_bytes(),
        &with(
            &[],
            &[
                ("GRAPHMAILER_CONFIG", config.to_str().unwrap()),
                ("GRAPHMAILER_DEFAULT_SENDER", "erp@contoso.test"),
            ],
        ),
    );
    assert_silent_success(&r);
    check_cron_delivery(&emu);
}

#[test]
fn a_link_named_sendmail_takes_sendmail_arguments() {
    let emu = Emulator::start();
    let link = emu.dir.join("sendmail");
    std::os::unix::fs::symlink(BIN, &link).unwrap();
    // Settings from the environment alone, as when no file exists.
    let env = with(
        &emu.env(),
        &[("GRAPHMAILER_DEFAULT_SENDER", "erp@contoso.test")],
    );
    let r = run(
        &link,
        &[
            "-FCronDaemon",
            "-i",
            "-B8BITMIME",
            "-oem",
            "ops@example.com",
        ],
        CRON_MAIL.as_bytes(),
        &env,
    );
    assert_silent_success(&r);
    check_cron_delivery(&emu);

    let r = run(&link, &["--help"], b"", &env);
    assert_eq!(r.code, 0);
    assert!(r.stdout.starts_with("usage: sendmail"), "{}", r.stdout);
}

#[test]
fn php_mail_reads_recipients_from_the_headers() {
    let emu = Emulator::start();
    // PHP writes LF line ends and its own To and Subject before the extra headers.
    let php = "To: customer@example.com\nSubject: Order 42\nFrom: Billing <billing@contoso.test>\nBcc: audit@example.com\n\nThank you for your order.\n.\nA line with a dot above it.\n";
    let r = sendmail(&emu, &["-t", "-i"], php);
    assert_silent_success(&r);
    let stored = only_message(&emu);
    assert_eq!(stored["mailbox"], "billing@contoso.test");
    let m = &stored["message"];
    assert_eq!(m["from"]["emailAddress"]["name"], "Billing");
    assert_eq!(addresses(m, "toRecipients"), ["customer@example.com"]);
    assert_eq!(addresses(m, "bccRecipients"), ["audit@example.com"]);
    let mime = stored["mime"].as_str().unwrap();
    // With -i the lone dot is part of the message; every line end is CRLF.
    assert!(
        mime.ends_with("order.\r\n.\r\nA line with a dot above it.\r\n"),
        "{mime}"
    );
    assert!(!mime.replace("\r\n", "").contains('\n'), "{mime}");
}

#[test]
fn php_mail_with_f_sends_as_that_mailbox() {
    let emu = Emulator::start();
    // php.ini: sendmail_path = "/usr/sbin/sendmail -t -i -fbilling@contoso.test";
    // mail() itself writes no From header.
    let r = sendmail(
        &emu,
        &["-t", "-i", "-fbilling@contoso.test"],
        "To: customer@example.com\nSubject: Reset your password\n\nClick the link.\n",
    );
    assert_silent_success(&r);
    let stored = only_message(&emu);
    assert_eq!(stored["mailbox"], "billing@contoso.test");
    assert_eq!(
        stored["message"]["from"]["emailAddress"]["address"],
        "billing@contoso.test"
    );
    assert_eq!(
        addresses(&stored["message"], "toRecipients"),
        ["customer@example.com"]
    );

    // -f as a separate argument, and -r, do the same.
    for args in [
        &["-t", "-f", "billing@contoso.test"][..],
        &["-t", "-r", "billing@contoso.test"],
    ] {
        let r = sendmail(&emu, args, "To: b@example.com\nSubject: s\n\nx\n");
        assert_silent_success(&r);
    }
    let messages = emu.messages();
    assert_eq!(messages.len(), 3);
    assert!(
        messages
            .iter()
            .all(|m| m["mailbox"] == "billing@contoso.test")
    );
}

#[test]
fn without_i_a_lone_dot_ends_the_message() {
    let emu = Emulator::start();
    let r = sendmail(
        &emu,
        &["ops@example.com"],
        "Subject: dots\n\nfirst line\n..not the end\n.\nafter the dot, never sent\n",
    );
    assert_silent_success(&r);
    let mime = only_message(&emu)["mime"].as_str().unwrap().to_owned();
    assert!(
        mime.ends_with("\r\n\r\nfirst line\r\n..not the end\r\n"),
        "{mime}"
    );
    assert!(!mime.contains("after the dot"), "{mime}");
}

#[test]
fn a_base64_attachment_arrives_byte_for_byte() {
    let emu = Emulator::start();
    let data: Vec<u8> = (0..20_000u32).map(|i| (i * 7 + i / 251) as u8).collect();
    let encoded = base64(&data);
    let lines: Vec<&str> = encoded
        .as_bytes()
        .chunks(76)
        .map(|c| std::str::from_utf8(c).unwrap())
        .collect();
    let message = format!(
        "From: ERP <erp@contoso.test>\nTo: a@example.com\nSubject: Report\nMIME-Version: 1.0\n\
         Content-Type: multipart/mixed; boundary=\"b1\"\n\n\
         --b1\nContent-Type: text/plain; charset=utf-8\n\nSee the attachment.\n\
         --b1\nContent-Type: application/octet-stream; name=\"report.bin\"\n\
         Content-Disposition: attachment; filename=\"report.bin\"\n\
         Content-Transfer-Encoding: base64\n\n{}\n--b1--\n",
        lines.join("\n")
    );
    let r = sendmail(&emu, &["-t", "-i"], &message);
    assert_silent_success(&r);
    let stored = only_message(&emu);
    let attachments = stored["message"]["attachments"].as_array().unwrap();
    assert_eq!(attachments.len(), 1, "{stored}");
    assert_eq!(attachments[0]["name"], "report.bin");
    assert_eq!(attachments[0]["size"], data.len());
    assert_eq!(attachments[0]["contentBytes"].as_str().unwrap(), encoded);
}

#[test]
fn exit_statuses_follow_sysexits() {
    let emu = Emulator::start();
    let plain = "From: erp@contoso.test\nSubject: s\n\nbody\n";

    let r = sendmail(&emu, &[], plain);
    assert_eq!(r.code, 67, "no recipients: {}", r.stderr);
    assert!(failure_line(&r).contains("no recipients"), "{}", r.stderr);

    let r = sendmail(&emu, &["root"], plain);
    assert_eq!(r.code, 67, "a local name is no address: {}", r.stderr);

    let r = sendmail(
        &emu,
        &["ops@example.com"],
        "just a body line\nand another\n",
    );
    assert_eq!(r.code, 65, "no header block: {}", r.stderr);
    assert!(failure_line(&r).contains("header"), "{}", r.stderr);

    let mut big = b"From: erp@contoso.test\nTo: a@example.com\nSubject: big\n\n".to_vec();
    big.resize(big.len() + graphmailer::limits::MAX_MIME_BYTES, b'x');
    let r = sendmail_env(&emu, &["-i", "a@example.com"], &big, &[]);
    assert_eq!(r.code, 65, "over the limit: {}", r.stderr);
    assert!(
        failure_line(&r).contains("[code RequestEntityTooLarge]"),
        "{}",
        r.stderr
    );

    // The tenant's policy refuses the ERP app the CEO's mailbox.
    let r = sendmail(&emu, &["-f", "ceo@contoso.test", "a@example.com"], plain);
    assert_eq!(r.code, 77, "{}", r.stderr);
    let line = failure_line(&r);
    assert!(
        line.contains("[code ErrorAccessDenied, request id "),
        "{line}"
    );
    assert!(r.stderr.contains("\nsendmail: hint: "), "{}", r.stderr);

    // No -f address and no From address: the default sender is needed.
    let config = emu.config_file("no-default.toml", "");
    let r = run(
        Path::new(BIN),
        &["sendmail", "-froot", "a@example.com"],
        b"From: root\nSubject: s\n\nx\n",
        &with(&[], &[("GRAPHMAILER_CONFIG", config.to_str().unwrap())]),
    );
    assert_eq!(r.code, 78, "{}", r.stderr);
    assert!(
        failure_line(&r).contains("GRAPHMAILER_DEFAULT_SENDER"),
        "{}",
        r.stderr
    );
    assert!(r.stderr.contains("default_sender"), "{}", r.stderr);

    for (args, says) in [
        (&["-bs"][..], "-bs is not supported"),
        (&["-q"], "-q is not supported"),
        (&["-k", "a@example.com"], "unknown option -k"),
        (&["--config", "x.toml"], "unknown option --config"),
    ] {
        let r = sendmail(&emu, args, plain);
        assert_eq!(r.code, 64, "{args:?}: {}", r.stderr);
        assert!(failure_line(&r).contains(says), "{}", r.stderr);
        assert!(
            r.stderr.contains("sendmail: hint: usage: sendmail"),
            "{}",
            r.stderr
        );
    }

    // Graph fails before taking the mail: try again later.
    emu.set_faults(json!({"send": [
        {"status": 503, "code": "serviceNotAvailable"},
        {"status": 429, "code": "ApplicationThrottled", "retry_after_secs": 1},
    ]}));
    for _ in 0..2 {
        let r = sendmail(&emu, &["a@example.com"], plain);
        assert_eq!(r.code, 75, "{}", r.stderr);
        failure_line(&r);
    }
    // The connection dies after the request: it may have gone out, so the
    // status must not make the caller send it again.
    emu.set_faults(json!({"send": [{"drop_after_body": true}]}));
    let r = sendmail(&emu, &["a@example.com"], plain);
    assert_eq!(r.code, 69, "{}", r.stderr);
    failure_line(&r);

    assert!(emu.messages().is_empty());
}

#[test]
fn missing_configuration_is_ex_config() {
    let emu = Emulator::start();
    let missing = emu.dir.join("absent.toml");
    let r = run(
        Path::new(BIN),
        &["sendmail", "a@example.com"],
        b"From: erp@contoso.test\n\nx\n",
        &with(&[], &[("GRAPHMAILER_CONFIG", missing.to_str().unwrap())]),
    );
    assert_eq!(r.code, 78, "{}", r.stderr);
    assert!(failure_line(&r).contains("absent.toml"), "{}", r.stderr);
    assert!(
        r.stderr.contains("sendmail: hint: settings were read from"),
        "{}",
        r.stderr
    );

    // A wrong secret is a configuration matter too.
    let wrong = emu.dir.join("wrong.toml");
    let text = std::fs::read_to_string(emu.config_file("ok.toml", ""))
        .unwrap()
        .replace(&emu.secret(), "Wrong8Q~notTheSecretValue.0123456789abcdef");
    std::fs::write(&wrong, text).unwrap();
    // Private, so that the wrong secret, not the file's mode, is what fails.
    std::fs::set_permissions(&wrong, std::os::unix::fs::PermissionsExt::from_mode(0o600)).unwrap();
    let r = run(
        Path::new(BIN),
        &["sendmail", "a@example.com"],
        b"From: erp@contoso.test\n\nx\n",
        &with(&[], &[("GRAPHMAILER_CONFIG", wrong.to_str().unwrap())]),
    );
    assert_eq!(r.code, 78, "{}", r.stderr);
    assert!(!r.stderr.contains("Wrong8Q~"), "{}", r.stderr);

    // Nothing at all: no file, no environment.
    if !Path::new("/etc/graphmailer/graphmailer.toml").exists() {
        let r = run(
            Path::new(BIN),
            &["sendmail", "a@example.com"],
            b"From: erp@contoso.test\n\nx\n",
            &[],
        );
        assert_eq!(r.code, 78, "{}", r.stderr);
        assert!(failure_line(&r).contains("AZURE_TENANT_ID"), "{}", r.stderr);
        assert!(r.stderr.contains("the environment only"), "{}", r.stderr);
    }
}

/// A syslog daemon's socket in the test's folder.
fn syslog_socket(emu: &Emulator) -> (UnixDatagram, String) {
    let path = emu.dir.join("log.sock");
    let socket = UnixDatagram::bind(&path).unwrap();
    socket
        .set_read_timeout(Some(Duration::from_secs(5)))
        .unwrap();
    (socket, path.to_str().unwrap().to_owned())
}

fn receive(socket: &UnixDatagram) -> String {
    let mut buffer = vec![0; 65536];
    let n = socket.recv(&mut buffer).expect("a syslog record");
    String::from_utf8(buffer[..n].to_vec()).unwrap()
}

#[test]
fn each_message_and_each_failure_is_logged_to_syslog() {
    let emu = Emulator::start();
    let (socket, path) = syslog_socket(&emu);
    let env = [("GRAPHMAILER_SYSLOG_SOCKET", path.as_str())];

    let r = sendmail_env(
        &emu,
        &["-i", "ops@example.com", "dev@example.com"],
        CRON_MAIL.as_bytes(),
        &env,
    );
    assert_silent_success(&r);
    let mut records = vec![receive(&socket)];
    let request_id = only_message(&emu)["request_id"]
        .as_str()
        .unwrap()
        .to_owned();
    assert_eq!(
        records[0],
        format!(
            "<22>graphmailer-sendmail[{}]: sent as erp@contoso.test to 2 recipients, request id {request_id}",
            r.pid
        )
    );

    let r = sendmail_env(
        &emu,
        &["-fceo@contoso.test", "a@example.com"],
        b"Subject: s\n\nx\n",
        &env,
    );
    assert_eq!(r.code, 77);
    records.push(receive(&socket));
    let record = &records[1];
    let prefix = format!(
        "<19>graphmailer-sendmail[{}]: sending as ceo@contoso.test failed: ",
        r.pid
    );
    assert!(record.starts_with(&prefix), "{record}");
    assert!(
        record.contains("[code ErrorAccessDenied, request id "),
        "{record}"
    );
    assert!(record.contains("; hint: "), "{record}");
    assert!(!record.contains('\n'), "{record}");

    // A refused command line is logged too.
    let r = sendmail_env(&emu, &["-bd"], b"", &env);
    assert_eq!(r.code, 64);
    records.push(receive(&socket));
    let record = &records[2];
    assert!(
        record.starts_with(&format!("<19>graphmailer-sendmail[{}]: option -bd", r.pid)),
        "{record}"
    );

    socket.set_nonblocking(true).unwrap();
    let mut buffer = vec![0; 65536];
    if let Ok(n) = socket.recv(&mut buffer) {
        panic!(
            "one record per run; one more: {:?}",
            String::from_utf8_lossy(&buffer[..n])
        );
    }
    for record in &records {
        for secret in common::SECRETS {
            assert!(!record.contains(secret), "{record}");
        }
    }
}

#[test]
fn a_syslog_socket_that_does_not_answer_changes_nothing() {
    let emu = Emulator::start();
    // A stream socket where a datagram one is expected, and a plain file.
    let stream = emu.dir.join("stream.sock");
    let _listener = std::os::unix::net::UnixListener::bind(&stream).unwrap();
    let file = emu.dir.join("file");
    std::fs::write(&file, "").unwrap();
    for path in [&stream, &file] {
        let r = sendmail_env(
            &emu,
            &["ops@example.com"],
            CRON_MAIL.as_bytes(),
            &[("GRAPHMAILER_SYSLOG_SOCKET", path.to_str().unwrap())],
        );
        assert_silent_success(&r);
    }
    assert_eq!(emu.messages().len(), 2);
}

/// The header block of the stored message's MIME text, exactly as the
/// emulator received it (its own parser is lenient, so the tests below read
/// the bytes, not the parsed names).
fn raw_header_block(stored: &Value) -> String {
    let mime = stored["mime"].as_str().unwrap();
    let end = mime
        .find("\r\n\r\n")
        .expect("a blank line after the headers");
    mime[..end].to_owned()
}

/// The header field called `name`, folding kept.
fn raw_field(head: &str, name: &str) -> String {
    let mut field: Option<String> = None;
    for line in head.split("\r\n") {
        match &mut field {
            Some(f) if line.starts_with([' ', '\t']) => {
                f.push_str("\r\n");
                f.push_str(line);
            }
            Some(_) => break,
            None if line
                .split_once(':')
                .is_some_and(|(n, _)| n.eq_ignore_ascii_case(name)) =>
            {
                field = Some(line.to_owned())
            }
            None => {}
        }
    }
    field.unwrap_or_else(|| panic!("no {name} header in {head}"))
}

/// Every RFC 2047 encoded word in `text` (graphmailer writes UTF-8 base64
/// ones) is at most 75 characters, outside quotes, and holds whole UTF-8
/// characters; gives their count.
fn check_encoded_words(text: &str) -> usize {
    use base64::Engine;
    let (mut count, mut from) = (0, 0);
    while let Some(start) = text[from..].find("=?UTF-8?B?") {
        let i = from + start;
        let word = &text[i..];
        let end = word[10..]
            .find("?=")
            .map(|e| e + 12)
            .unwrap_or_else(|| panic!("unterminated encoded word in {text}"));
        let word = &word[..end];
        from = i + end;
        assert!(word.len() <= 75, "{} characters: {word}", word.len());
        assert!(!text[..i].ends_with('"'), "encoded word in quotes: {text}");
        let payload = &word[10..word.len() - 2];
        let bytes = base64::engine::general_purpose::STANDARD
            .decode(payload)
            .unwrap();
        assert!(String::from_utf8(bytes).is_ok(), "{word} cuts a character");
        count += 1;
    }
    count
}

fn check_line_lengths(head: &str) {
    for line in head.split("\r\n") {
        assert!(line.len() <= 78, "{} characters: {line:?}", line.len());
        assert!(!line.trim().is_empty(), "blank folded line in {head}");
    }
}

#[test]
fn an_encoded_from_name_keeps_its_encoded_word_when_the_default_sender_replaces_the_address() {
    let emu = Emulator::start();
    let message = "From: =?UTF-8?B?SsO8cmdlbiBNw7xsbGVy?= <root@localhost>\nTo: customer@example.com\nSubject: Report\n\nbody\n";
    let r = sendmail(&emu, &["-t", "-i"], message);
    assert_silent_success(&r);
    let stored = only_message(&emu);
    assert_eq!(stored["mailbox"], "erp@contoso.test");
    let head = raw_header_block(&stored);
    assert_eq!(
        raw_field(&head, "From"),
        "From: =?UTF-8?B?SsO8cmdlbiBNw7xsbGVy?= <erp@contoso.test>"
    );
    assert!(!head.contains("\"=?"), "{head}");
    assert_eq!(
        stored["message"]["from"]["emailAddress"]["name"],
        "Jürgen Müller"
    );
}

#[test]
fn a_long_non_ascii_full_name_is_split_into_short_encoded_words_and_folded() {
    let emu = Emulator::start();
    let name = "Größenwahn-Überwachungsausschuss für öffentliche Ärgernisse, Übermäßige Müdigkeit und „Anführungszeichen“";
    let full_name = format!("-F{name}");
    let r = sendmail(
        &emu,
        &[&full_name, "-i", "ops@example.com"],
        "Subject: nightly\n\ndone\n",
    );
    assert_silent_success(&r);
    let stored = only_message(&emu);
    let head = raw_header_block(&stored);
    check_line_lengths(&head);
    let from = raw_field(&head, "From");
    assert!(from.contains("?=\r\n =?UTF-8?B?"), "folded: {from}");
    assert!(check_encoded_words(&from) >= 3, "{from}");
    assert!(from.ends_with(" <erp@contoso.test>"), "{from}");
    let parsed = &stored["message"]["from"]["emailAddress"];
    assert_eq!(parsed["name"], name);
    assert_eq!(parsed["address"], "erp@contoso.test");
}

#[test]
fn recipients_with_non_ascii_and_special_names_are_written_so_they_read_back() {
    let emu = Emulator::start();
    // The headers name someone the envelope does not, so the To header is
    // written from the arguments.
    let r = sendmail(
        &emu,
        &[
            "-i",
            "Zoë Ärger <zoe@example.com>",
            "\"Doe, Jane (Sales)\" <jane@example.com>",
            "=?UTF-8?B?5pel5pys?= <nihon@example.com>",
        ],
        "From: billing@contoso.test\nTo: root\nSubject: x\n\nbody\n",
    );
    assert_silent_success(&r);
    let stored = only_message(&emu);
    let head = raw_header_block(&stored);
    check_line_lengths(&head);
    let to = raw_field(&head, "To");
    assert_eq!(check_encoded_words(&to), 2, "{to}");
    assert!(
        to.replace("\r\n", "")
            .contains("\"Doe, Jane (Sales)\" <jane@example.com>"),
        "{to}"
    );
    let names: Vec<&str> = stored["message"]["toRecipients"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| r["emailAddress"]["name"].as_str().unwrap())
        .collect();
    assert_eq!(names, ["Zoë Ärger", "Doe, Jane (Sales)", "日本"]);
    assert!(head.contains("X-Original-To: root"), "{head}");
}

#[test]
fn with_large_messages_on_a_message_over_the_mime_limit_goes_through_a_draft() {
    let emu = Emulator::start();
    let mut big =
        b"From: billing@contoso.test\nTo: a@example.com\nSubject: big scan\nMessage-ID: <big.1@contoso.test>\n\n"
            .to_vec();
    let body_len = graphmailer::limits::MAX_MIME_BYTES + 100_000;
    big.extend((0..body_len).map(|i| if i % 70 == 69 { b'\n' } else { b'x' }));
    // The billing app holds Mail.ReadWrite, which the draft needs.
    let base = emu.config_file("erp.toml", "");
    let text = std::fs::read_to_string(&base)
        .unwrap()
        .lines()
        .filter(|l| !l.starts_with("client_id") && !l.starts_with("client_secret"))
        .collect::<Vec<_>>()
        .join("\n");
    let config = emu.dir.join("billing.toml");
    std::fs::write(
        &config,
        format!(
            "{text}\nclient_id = \"{}\"\nclient_secret = \"{}\"\nlarge_messages = true\n",
            common::BILLING_CLIENT_ID,
            common::BILLING_SECRET
        ),
    )
    .unwrap();
    // It holds a secret: readable by its owner only.
    std::fs::set_permissions(&config, std::os::unix::fs::PermissionsExt::from_mode(0o600)).unwrap();
    let r = run(
        Path::new(BIN),
        &["sendmail", "-i", "a@example.com"],
        &big,
        &with(&[], &[("GRAPHMAILER_CONFIG", config.to_str().unwrap())]),
    );
    assert_silent_success(&r);
    let sent = emu.messages();
    assert_eq!(sent.len(), 1);
    assert_eq!(sent[0]["message"]["subject"], "big scan");
    assert_eq!(
        sent[0]["message"]["internetMessageId"],
        "<big.1@contoso.test>"
    );
    let body = sent[0]["message"]["body"]["content"].as_str().unwrap();
    assert!(
        body.len() > graphmailer::limits::MAX_MIME_BYTES,
        "{}",
        body.len()
    );
}

#[test]
fn sigterm_mid_send_exits_unavailable_never_tempfail() {
    // Without an outbox, a caller retries on 75: only a send that sent
    // nothing may get it. Graph holds its answer, and the signal comes while
    // the request is with it.
    let emu = Emulator::start();
    emu.set_faults(json!({"delay_ms": 30_000}));
    let config = emu.config_file("graphmailer.toml", "default_sender = \"erp@contoso.test\"");
    let env = with(&[], &[("GRAPHMAILER_CONFIG", config.to_str().unwrap())]);
    let mut child = start(Path::new(BIN), &["sendmail", "-i", "ops@example.com"], &env);
    {
        use std::io::Write;
        let mut stdin = child.stdin.take().unwrap();
        stdin.write_all(CRON_MAIL.as_bytes()).unwrap();
    }
    let r = terminate_once_counted(&emu, child, ("send_requests", 1));
    assert_eq!(r.code, 69, "EX_UNAVAILABLE: {}", r.stderr);
    let line = failure_line(&r);
    assert!(
        line.starts_with(
            "sendmail: interrupted by SIGTERM after the mail's request reached Microsoft [request id "
        ),
        "{line}"
    );
    assert!(r.stderr.contains("Sent Items"), "{}", r.stderr);
}
