//! `graphmailer relay --demo`: its first stdout line is one JSON object with
//! exactly the keys scripts rely on, its password works nowhere else, and
//! SIGTERM ends it cleanly.

use std::collections::BTreeSet;
use std::io::{BufRead, BufReader, Read};
use std::process::{Command, Stdio};

const BIN: &str = env!("CARGO_BIN_EXE_graphmailer");

#[test]
fn the_demo_prints_one_json_line_with_exactly_the_documented_keys() {
    let mut child = Command::new(BIN)
        .args(["relay", "--demo"])
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let mut stdout = BufReader::new(child.stdout.take().unwrap());
    let mut first = String::new();
    stdout.read_line(&mut first).unwrap();
    let banner: serde_json::Value = serde_json::from_str(&first).unwrap();
    let keys: BTreeSet<&str> = banner
        .as_object()
        .unwrap()
        .keys()
        .map(String::as_str)
        .collect();
    let expected: BTreeSet<&str> = [
        "smtp",
        "smtps",
        "http",
        "ca_file",
        "username",
        "password",
        "allowed_sender",
        "denied_sender",
        "emulator",
    ]
    .into();
    assert_eq!(keys, expected);
    for key in ["smtp", "smtps"] {
        let addr: std::net::SocketAddr = banner[key].as_str().unwrap().parse().unwrap();
        assert!(addr.ip().is_loopback() && addr.port() != 0, "{key}: {addr}");
        std::net::TcpStream::connect(addr).unwrap();
    }
    assert!(
        banner["http"]
            .as_str()
            .unwrap()
            .starts_with("http://127.0.0.1:")
    );
    let ca = std::fs::read_to_string(banner["ca_file"].as_str().unwrap()).unwrap();
    assert!(ca.contains("BEGIN CERTIFICATE"));
    assert!(
        banner["emulator"]["url"]
            .as_str()
            .unwrap()
            .starts_with("https://")
    );
    assert!(banner["emulator"]["ca_file"].is_string());
    assert_eq!(banner["username"], "demo");
    assert!(banner["password"].as_str().unwrap().len() >= 16);
    assert_ne!(banner["allowed_sender"], banner["denied_sender"]);

    let status = Command::new("kill")
        .args(["-TERM", &child.id().to_string()])
        .status()
        .unwrap();
    assert!(status.success());
    assert!(
        child.wait().unwrap().success(),
        "SIGTERM ends the demo cleanly"
    );
    let mut stderr = String::new();
    child
        .stderr
        .take()
        .unwrap()
        .read_to_string(&mut stderr)
        .unwrap();
    let password = banner["password"].as_str().unwrap();
    assert!(!stderr.contains(password), "the password is only on stdout");
    let mut rest = String::new();
    stdout.read_to_string(&mut rest).unwrap();
    assert!(rest.is_empty(), "one line on stdout: {rest}");
}
