//! A mail client nobody here wrote (lettre) submits through the relay;
//! attachments arrive at the emulator byte for byte.

use crate::common;

use base64::Engine;
use graphmailer_relay::ListenerMode;
use lettre::message::header::ContentType;
use lettre::message::{Attachment, MultiPart, SinglePart};
use lettre::transport::smtp::authentication::Credentials;
use lettre::transport::smtp::client::{Certificate, Tls, TlsParameters};
use lettre::{Message, SmtpTransport, Transport};

fn attachment_bytes(seed: u8) -> Vec<u8> {
    sized_bytes(200_000, seed)
}

fn sized_bytes(len: u32, seed: u8) -> Vec<u8> {
    (0..len)
        .map(|i| (i.wrapping_mul(31) as u8) ^ seed)
        .collect()
}

fn send_with_lettre(
    s: &common::Setup,
    mode: ListenerMode,
    subject: &str,
    bytes: Vec<u8>,
) -> lettre::transport::smtp::response::Response {
    let ca = std::fs::read(&s.ca_file).unwrap();
    let tls = TlsParameters::builder("localhost".into())
        .add_root_certificate(Certificate::from_pem(&ca).unwrap())
        .build_rustls()
        .unwrap();
    let tls = match mode {
        ListenerMode::Tls => Tls::Wrapper(tls),
        _ => Tls::Required(tls),
    };
    let transport = SmtpTransport::builder_dangerous("localhost")
        .port(s.addr(mode).port())
        .tls(tls)
        .credentials(Credentials::new(s.user.clone(), s.password.clone()))
        .build();
    let email = Message::builder()
        .from(format!("ERP <{}>", s.allowed).parse().unwrap())
        .to("Accounts <ap@fabrikam.example>".parse().unwrap())
        .subject(subject)
        .multipart(
            MultiPart::mixed()
                .singlepart(SinglePart::plain("Invoice attached.".to_owned()))
                .singlepart(Attachment::new("invoice.bin".into()).body(
                    bytes,
                    ContentType::parse("application/octet-stream").unwrap(),
                )),
        )
        .unwrap();
    transport.send(&email).unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn lettre_over_starttls_and_implicit_tls_delivers_attachments_byte_for_byte() {
    let s = common::start("lettre", "").await;
    let sent = [attachment_bytes(1), attachment_bytes(2)];
    let modes = [ListenerMode::Starttls, ListenerMode::Tls];
    for (i, mode) in modes.into_iter().enumerate() {
        let bytes = sent[i].clone();
        let subject = format!("lettre {i}");
        let response = tokio::task::block_in_place(|| send_with_lettre(&s, mode, &subject, bytes));
        assert_eq!(response.code().to_string(), "250");
        let text = response.message().collect::<Vec<_>>().join(" ");
        assert!(text.contains("queued as"), "{text}");
    }
    let all = s.wait_for_messages(2).await;
    for (i, expected) in sent.iter().enumerate() {
        let m = all
            .iter()
            .find(|m| m["message"]["subject"] == format!("lettre {i}"))
            .expect("arrived");
        let attachment = &m["message"]["attachments"][0];
        assert_eq!(attachment["name"], "invoice.bin");
        let got = base64::engine::general_purpose::STANDARD
            .decode(attachment["contentBytes"].as_str().unwrap())
            .unwrap();
        assert_eq!(&got, expected, "attachment {i} arrived byte for byte");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sigterm_style_shutdown_finishes_an_open_transaction_and_refuses_new_ones() {
    let mut s = common::start("shutdown", "").await;
    let mut c = s.logged_in().await;
    c.command(&format!("MAIL FROM:<{}>", s.allowed))
        .await
        .expect_code(250);
    c.command("RCPT TO:<ap@fabrikam.example>")
        .await
        .expect_code(250);
    let mut idle = s.logged_in().await;
    let addr = s.addr(ListenerMode::Starttls);
    let relay = s.relay.take().unwrap();
    let stopping = tokio::spawn(relay.shutdown());
    // The idle session is told to come back later.
    idle.expect(421).await.expect_text("shutting down");
    // The open transaction is finished and its message accepted.
    c.command("DATA").await.expect_code(354);
    c.send_raw(format!("From: {}\r\nSubject: last one\r\n\r\nx\r\n.\r\n", s.allowed).as_bytes())
        .await;
    c.expect(250).await.expect_text("queued as");
    c.command("QUIT").await;
    stopping.await.unwrap();
    assert!(
        tokio::net::TcpStream::connect(addr).await.is_err(),
        "no longer listening"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_reload_takes_up_a_renewed_certificate_for_new_connections() {
    let mut s = common::start("reload", "").await;
    let renewed = common::temp_dir("reload-new");
    let next = graphmailer_relay::tls::generate_local(&renewed).unwrap();
    // The relay reads the paths it was started with: overwrite them.
    let started = s.ca_file.parent().unwrap().to_owned();
    std::fs::copy(&next.certificate, started.join("relay-cert.pem")).unwrap();
    std::fs::copy(&next.key, started.join("relay-key.pem")).unwrap();
    let handshake = |s: &common::Setup| {
        let addr = s.addr(ListenerMode::Tls);
        let connector = s.tls_connector();
        async move {
            let tcp = tokio::net::TcpStream::connect(addr).await.unwrap();
            let name = rustls::pki_types::ServerName::try_from("localhost").unwrap();
            connector.connect(name, tcp).await.is_ok()
        }
    };
    assert!(handshake(&s).await, "the old certificate until the reload");
    s.relay().reload_certificates().unwrap();
    assert!(
        !handshake(&s).await,
        "the old CA no longer verifies the relay"
    );
    s.ca_file = next.ca_file.clone();
    assert!(handshake(&s).await, "the renewed certificate is served");
    // A broken pair is refused and the working one stays.
    std::fs::write(started.join("relay-key.pem"), "not a key").unwrap();
    assert!(s.relay().reload_certificates().is_err());
    assert!(handshake(&s).await);
    let _ = std::fs::remove_dir_all(&renewed);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_scan_over_the_mime_limit_goes_through_upload_sessions_byte_for_byte() {
    let s = common::start_with("large", "[limits]\nmax_message_bytes = 20000000\n", true).await;
    let scan = sized_bytes(6_000_000, 5);
    let response = tokio::task::block_in_place(|| {
        send_with_lettre(&s, ListenerMode::Starttls, "scan", scan.clone())
    });
    assert_eq!(response.code().to_string(), "250");
    let all = s.wait_for_messages(1).await;
    let kept = &all[0]["message"];
    assert_eq!(kept["subject"], "scan");
    let attachment = kept["attachments"]
        .as_array()
        .unwrap()
        .iter()
        .find(|a| a["name"] == "invoice.bin")
        .expect("the scan arrived");
    let got = base64::engine::general_purpose::STANDARD
        .decode(attachment["contentBytes"].as_str().unwrap())
        .unwrap();
    assert!(got == scan, "the scan arrived byte for byte");
    // lettre's Message-ID is the sent mail's, so the queue can find it.
    assert!(
        kept["internetMessageId"]
            .as_str()
            .is_some_and(|id| id.starts_with('<') && id.contains('@')),
        "{}",
        kept["internetMessageId"]
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_size_over_the_mime_limit_needs_large_messages_on() {
    let emulator = graphmailer_emulator::start(graphmailer_emulator::Options::default())
        .await
        .unwrap();
    let text = r#"
hostname = "relay.test"
[[listener]]
address = "127.0.0.1:0"
mode = "plain"
[[mailer]]
name = "contoso"
[[network]]
cidr = "127.0.0.0/8"
mailer = "contoso"
may_send_as = ["erp@contoso.test"]
[limits]
max_message_bytes = 20000000
"#;
    let config = graphmailer_relay::RelayConfig::from_toml(text).unwrap();
    let e = graphmailer_relay::Relay::start_with_mailers(config, vec![common::mailer(&emulator)])
        .await
        .err()
        .expect("refused");
    assert_eq!(e.field(), Some("limits.max_message_bytes"), "{e}");
    assert!(e.message().contains("large_messages = true"), "{e}");
}
