//! A relay in front of an in-process emulator, with an outbox in a fresh
//! directory, and a small SMTP client that shows each reply as sent.

#![allow(dead_code)]

use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use graphmailer::{Config, Mailer};
use graphmailer_relay::{ListenerMode, Relay, RelayConfig};
use tokio::io::{AsyncBufReadExt, AsyncRead, AsyncWrite, AsyncWriteExt, BufReader};
use tokio::net::TcpStream;

pub struct Setup {
    pub emulator: graphmailer_emulator::Emulator,
    pub relay: Option<Relay>,
    pub dir: PathBuf,
    pub ca_file: PathBuf,
    pub user: String,
    pub password: String,
    pub allowed: String,
    pub denied: String,
}

/// Every recipient (To, Cc and Bcc) of a message the emulator stored.
pub fn recipients(stored: &serde_json::Value) -> Vec<String> {
    ["toRecipients", "ccRecipients", "bccRecipients"]
        .iter()
        .flat_map(|k| stored["message"][k].as_array().cloned().unwrap_or_default())
        .map(|r| r["emailAddress"]["address"].as_str().unwrap().to_owned())
        .collect()
}

pub fn temp_dir(name: &str) -> PathBuf {
    let dir = std::env::temp_dir().join(format!(
        "graphmailer-relay-test-{name}-{}-{}",
        std::process::id(),
        uuid_like()
    ));
    std::fs::create_dir_all(&dir).unwrap();
    dir
}

fn uuid_like() -> u64 {
    use std::sync::atomic::{AtomicU64, Ordering};
    static N: AtomicU64 = AtomicU64::new(0);
    N.fetch_add(1, Ordering::Relaxed)
}

/// Starts an emulator and a relay. `extra` is added to the relay's TOML
/// (limits, networks, more listeners).
pub async fn start(name: &str, extra: &str) -> Setup {
    start_with(name, extra, false).await
}

/// As [`start`]; with `large`, the mailer is the billing app (it holds
/// Mail.ReadWrite) with large messages on, and the user may send as its mailbox.
pub async fn start_with(name: &str, extra: &str, large: bool) -> Setup {
    let emulator = graphmailer_emulator::start(graphmailer_emulator::Options::default())
        .await
        .unwrap();
    let banner = emulator.banner().clone();
    let (mailer, allowed) = if large {
        (
            billing_mailer(&emulator),
            graphmailer_emulator::defaults::BILLING_MAILBOX.to_owned(),
        )
    } else {
        (mailer(&emulator), banner.allowed_sender.clone())
    };
    let dir = temp_dir(name);
    let certs = graphmailer_relay::tls::generate_local(&dir).unwrap();
    let password = "s3cret-Printer!".to_owned();
    let hash = graphmailer_relay::hash_password(&password).unwrap();
    let text = format!(
        r#"
hostname = "relay.test"
ops_address = "127.0.0.1:0"
[tls]
certificate = {cert:?}
key = {key:?}
[[listener]]
address = "127.0.0.1:0"
mode = "starttls"
[[listener]]
address = "127.0.0.1:0"
mode = "tls"
[[listener]]
address = "127.0.0.1:0"
mode = "plain"
[[mailer]]
name = "contoso"
outbox = {outbox:?}
[[user]]
name = "scanner"
password_hash = "{hash}"
mailer = "contoso"
may_send_as = [{allowed:?}]
{extra}
"#,
        cert = certs.certificate.display().to_string(),
        key = certs.key.display().to_string(),
        outbox = format!("sqlite:{}", dir.join("outbox.db").display()),
        allowed = allowed,
    );
    let config = RelayConfig::from_toml(&text).unwrap();
    let relay = Relay::start_with_mailers(config, vec![mailer])
        .await
        .unwrap();
    Setup {
        relay: Some(relay),
        dir,
        ca_file: certs.ca_file,
        user: "scanner".into(),
        password,
        allowed,
        denied: banner.denied_sender.clone(),
        emulator,
    }
}

pub fn mailer(emulator: &graphmailer_emulator::Emulator) -> Mailer {
    let b = emulator.banner();
    Mailer::new(
        Config::builder()
            .tenant_id(&b.tenant_id)
            .client_id(&b.client_id)
            .client_secret(b.client_secret.clone())
            .authority_host(emulator.url())
            .graph_endpoint(emulator.url())
            .ca_bundle_pem(emulator.ca_pem().unwrap_or_default().as_bytes().to_vec())
            .build()
            .unwrap(),
    )
    .unwrap()
}

fn billing_mailer(emulator: &graphmailer_emulator::Emulator) -> Mailer {
    use graphmailer_emulator::defaults as d;
    Mailer::new(
        Config::builder()
            .tenant_id(&emulator.banner().tenant_id)
            .client_id(d::BILLING_CLIENT_ID)
            .client_secret(d::BILLING_SECRET)
            .authority_host(emulator.url())
            .graph_endpoint(emulator.url())
            .ca_bundle_pem(emulator.ca_pem().unwrap_or_default().as_bytes().to_vec())
            .large_messages(true)
            .build()
            .unwrap(),
    )
    .unwrap()
}

impl Drop for Setup {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}

impl Setup {
    pub fn relay(&self) -> &Relay {
        self.relay.as_ref().unwrap()
    }
    pub fn addr(&self, mode: ListenerMode) -> std::net::SocketAddr {
        self.relay().address(mode).unwrap()
    }

    /// Waits (on the emulator's own wait call) until `count` messages arrived.
    pub async fn wait_for_messages(&self, count: usize) -> Vec<serde_json::Value> {
        let client = reqwest::Client::builder()
            .add_root_certificate(
                reqwest::Certificate::from_pem(self.emulator.ca_pem().unwrap().as_bytes()).unwrap(),
            )
            .build()
            .unwrap();
        let response = client
            .get(format!(
                "{}/_emulator/messages/wait?count={count}&timeout_ms=60000",
                self.emulator.url()
            ))
            .send()
            .await
            .unwrap();
        let ok = response.status().is_success();
        let body: serde_json::Value = response.json().await.unwrap();
        let all = body["messages"].as_array().cloned().unwrap_or_default();
        assert!(ok, "only {} of {count} messages arrived", all.len());
        all
    }

    pub async fn metrics(&self) -> String {
        reqwest::get(format!("{}/metrics", self.relay().ops_url().unwrap()))
            .await
            .unwrap()
            .text()
            .await
            .unwrap()
    }

    pub fn plain_auth(&self) -> String {
        use base64::Engine;
        base64::engine::general_purpose::STANDARD
            .encode(format!("\0{}\0{}", self.user, self.password))
    }

    pub fn tls_connector(&self) -> tokio_rustls::TlsConnector {
        let mut roots = rustls::RootCertStore::empty();
        let pem = std::fs::read(&self.ca_file).unwrap();
        for cert in rustls_pemfile::certs(&mut pem.as_slice()) {
            roots.add(cert.unwrap()).unwrap();
        }
        let provider = Arc::new(rustls::crypto::aws_lc_rs::default_provider());
        let config = rustls::ClientConfig::builder_with_provider(provider)
            .with_safe_default_protocol_versions()
            .unwrap()
            .with_root_certificates(roots)
            .with_no_client_auth();
        tokio_rustls::TlsConnector::from(Arc::new(config))
    }

    /// A client on the submission port, after STARTTLS, logged in.
    pub async fn logged_in(&self) -> Client<tokio_rustls::client::TlsStream<TcpStream>> {
        let mut plain = Client::connect(self.addr(ListenerMode::Starttls)).await;
        plain.expect(220).await;
        plain.command("EHLO client.test").await.expect_code(250);
        plain.command("STARTTLS").await.expect_code(220);
        let mut tls = plain.start_tls(self).await;
        tls.command("EHLO client.test").await.expect_code(250);
        tls.command(&format!("AUTH PLAIN {}", self.plain_auth()))
            .await
            .expect_code(235);
        tls
    }
}

/// One reply: the code and every line's text.
#[derive(Debug)]
pub struct Reply {
    pub code: u16,
    pub text: String,
}

impl Reply {
    #[track_caller]
    pub fn expect_code(&self, code: u16) -> &Self {
        assert_eq!(self.code, code, "reply: {} {}", self.code, self.text);
        self
    }
    #[track_caller]
    pub fn expect_text(&self, part: &str) -> &Self {
        assert!(
            self.text.contains(part),
            "reply: {} {}",
            self.code,
            self.text
        );
        self
    }
}

pub struct Client<S> {
    pub stream: BufReader<S>,
}

impl Client<TcpStream> {
    pub async fn connect(addr: std::net::SocketAddr) -> Client<TcpStream> {
        Client {
            stream: BufReader::new(TcpStream::connect(addr).await.unwrap()),
        }
    }

    pub async fn start_tls(
        self,
        setup: &Setup,
    ) -> Client<tokio_rustls::client::TlsStream<TcpStream>> {
        let stream = self.stream.into_inner();
        let name = rustls::pki_types::ServerName::try_from("localhost").unwrap();
        let tls = setup.tls_connector().connect(name, stream).await.unwrap();
        Client {
            stream: BufReader::new(tls),
        }
    }
}

impl<S: AsyncRead + AsyncWrite + Unpin> Client<S> {
    pub async fn send_raw(&mut self, bytes: &[u8]) {
        self.stream.get_mut().write_all(bytes).await.unwrap();
        self.stream.get_mut().flush().await.unwrap();
    }

    pub async fn command(&mut self, line: &str) -> Reply {
        self.send_raw(format!("{line}\r\n").as_bytes()).await;
        self.reply().await
    }

    /// Reads one reply; `code` 0 when the relay closed the connection.
    pub async fn reply(&mut self) -> Reply {
        let mut text = String::new();
        loop {
            let mut line = String::new();
            let Ok(read) =
                tokio::time::timeout(Duration::from_secs(30), self.stream.read_line(&mut line))
                    .await
            else {
                // No reply at all: 1 tells it from a closed connection (0).
                return Reply { code: 1, text };
            };
            let n = read.unwrap_or(0);
            if n == 0 {
                return Reply { code: 0, text };
            }
            let code = line.get(..3).and_then(|c| c.parse().ok()).unwrap_or(0);
            text.push_str(line.get(4..).unwrap_or("").trim_end());
            text.push('\n');
            if line.as_bytes().get(3) != Some(&b'-') {
                return Reply { code, text };
            }
        }
    }

    pub async fn expect(&mut self, code: u16) -> Reply {
        let reply = self.reply().await;
        reply.expect_code(code);
        reply
    }

    /// MAIL, RCPT for each recipient and DATA, each accepted: the client may
    /// send the message's lines next.
    pub async fn open_data(&mut self, from: &str, to: &[&str]) {
        self.command(&format!("MAIL FROM:<{from}>"))
            .await
            .expect_code(250);
        for rcpt in to {
            self.command(&format!("RCPT TO:<{rcpt}>"))
                .await
                .expect_code(250);
        }
        self.command("DATA").await.expect_code(354);
    }

    /// MAIL, RCPT for each recipient, DATA and the message; gives DATA's final reply.
    pub async fn send_mail(&mut self, from: &str, to: &[&str], message: &str) -> Reply {
        self.open_data(from, to).await;
        let mut body = message.replace("\r\n", "\n").replace('\n', "\r\n");
        if !body.ends_with("\r\n") {
            body.push_str("\r\n");
        }
        let stuffed = body.replace("\r\n.", "\r\n..");
        self.send_raw(stuffed.as_bytes()).await;
        self.send_raw(b".\r\n").await;
        self.reply().await
    }
}
