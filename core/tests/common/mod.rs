//! Shared test support: an emulator per test, a configuration pointed at it,
//! and the emulator's test API over HTTP.
#![allow(dead_code)]

use std::io::Write;
use std::sync::{Arc, Mutex};

use graphmailer::{Config, ConfigBuilder, Mailer};
use serde_json::{Value, json};

/// Log lines written to memory, for a test to read back.
#[derive(Clone, Default)]
pub struct Captured(Arc<Mutex<Vec<u8>>>);

impl Captured {
    /// Everything written so far.
    pub fn text(&self) -> String {
        String::from_utf8_lossy(&self.0.lock().unwrap()).into_owned()
    }

    /// A subscriber that writes every event, at every level, here.
    pub fn subscriber(&self) -> impl tracing::Subscriber + Send + Sync + 'static {
        let writer = self.clone();
        tracing_subscriber::fmt()
            .with_max_level(tracing::Level::TRACE)
            .with_writer(move || writer.clone())
            .with_ansi(false)
            .finish()
    }
}

impl Write for Captured {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        self.0.lock().unwrap().extend_from_slice(buf);
        Ok(buf.len())
    }
    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

pub const TENANT: &str = "7f3c2a9e-4b1d-4e8a-9c6f-2d5e8b1a0c37";
pub const CLIENT: &str = "3b9e6f2a-8c4d-4a1e-b7f5-0d2c9e8a6b14";
pub const SECRET: &str = "Emu8Q~erpSecretValue.0123456789abcdefghij";
pub const ALLOWED: &str = "erp@contoso.test";
pub const DENIED: &str = "ceo@contoso.test";

pub struct TestEmulator {
    pub emulator: graphmailer_emulator::Emulator,
    pub http: reqwest::Client,
}

impl TestEmulator {
    /// A fresh emulator over plain HTTP on loopback.
    pub async fn start() -> Self {
        Self::start_with(false).await
    }

    pub async fn start_with(tls: bool) -> Self {
        let options = graphmailer_emulator::Options {
            tls,
            ..Default::default()
        };
        let emulator = graphmailer_emulator::start(options)
            .await
            .expect("emulator starts");
        // Over TLS the test API is reached as a client would reach Graph.
        let mut http = reqwest::Client::builder();
        if let Some(pem) = emulator.ca_pem() {
            http =
                http.add_root_certificate(reqwest::Certificate::from_pem(pem.as_bytes()).unwrap());
        }
        TestEmulator {
            emulator,
            http: http.build().unwrap(),
        }
    }

    pub fn url(&self) -> &str {
        self.emulator.url()
    }

    /// A configuration for the default ERP app, pointed at this emulator.
    pub fn config(&self) -> ConfigBuilder {
        let mut b = Config::builder()
            .tenant_id(TENANT)
            .client_id(CLIENT)
            .client_secret(SECRET)
            .authority_host(self.url())
            .graph_endpoint(self.url());
        if let Some(pem) = self.emulator.ca_pem() {
            b = b.ca_bundle_pem(pem.as_bytes().to_vec());
        }
        b
    }

    /// A configuration for the Billing app (`Mail.Send` and
    /// `Mail.ReadWrite`), the one that may send large messages, with them on.
    pub fn billing_config(&self) -> ConfigBuilder {
        self.config()
            .client_id(graphmailer_emulator::defaults::BILLING_CLIENT_ID)
            .client_secret(graphmailer_emulator::defaults::BILLING_SECRET)
            .large_messages(true)
    }

    pub fn mailer(&self) -> Mailer {
        Mailer::new(self.config().build().unwrap()).unwrap()
    }

    async fn call(&self, method: reqwest::Method, path: &str, body: Option<Value>) -> Value {
        let mut request = self
            .http
            .request(method, format!("{}/_emulator/{path}", self.url()));
        if let Some(body) = body {
            request = request.json(&body);
        }
        let response = request.send().await.expect("test API answers");
        assert!(
            response.status().is_success(),
            "test API {path}: {}",
            response.status()
        );
        let text = response.text().await.unwrap();
        if text.is_empty() {
            Value::Null
        } else {
            serde_json::from_str(&text).unwrap()
        }
    }

    pub async fn counters(&self) -> Value {
        self.call(reqwest::Method::GET, "counters", None).await
    }
    pub async fn counter(&self, name: &str) -> u64 {
        self.counters().await[name]
            .as_u64()
            .unwrap_or_else(|| panic!("no counter {name}"))
    }
    /// Waits until counter `name` is at least `at_least`, so a test can act
    /// while a request is still being answered.
    pub async fn wait_for_counter(&self, name: &str, at_least: u64) {
        let path = format!("counters/wait?name={name}&at_least={at_least}&timeout_ms=15000");
        self.call(reqwest::Method::GET, &path, None).await;
    }
    /// Graph requests per mailbox on each client connection
    /// (`GET /_emulator/connections`): one map of mailbox to count per connection.
    pub async fn connections(&self) -> Vec<serde_json::Map<String, Value>> {
        self.call(reqwest::Method::GET, "connections", None).await["connections"]
            .as_array()
            .expect("the test API lists connections")
            .iter()
            .map(|c| c["requests"].as_object().unwrap().clone())
            .collect()
    }
    pub async fn messages(&self) -> Vec<Value> {
        self.call(reqwest::Method::GET, "messages", None).await["messages"]
            .as_array()
            .unwrap()
            .clone()
    }
    /// The drafts left in mailboxes (`GET /_emulator/drafts`).
    pub async fn drafts(&self) -> Vec<Value> {
        self.call(reqwest::Method::GET, "drafts", None).await["drafts"]
            .as_array()
            .expect("the test API lists drafts")
            .clone()
    }
    /// Waits, in the emulator, for the drafts to change (no polling) until
    /// `done` holds or 15 s passed; returns the last list.
    pub async fn wait_for_drafts(&self, done: impl Fn(&[Value]) -> bool) -> Vec<Value> {
        let deadline = std::time::Instant::now() + std::time::Duration::from_secs(15);
        let mut since = String::new();
        loop {
            // 200 on a change, 408 when the time ran out: both list the drafts.
            let url = format!("{}/_emulator/drafts/wait{since}", self.url());
            let answer: Value = self
                .http
                .get(url)
                .send()
                .await
                .expect("test API answers")
                .json()
                .await
                .expect("the drafts as JSON");
            let drafts = answer["drafts"]
                .as_array()
                .expect("the test API lists drafts")
                .clone();
            let left = deadline.saturating_duration_since(std::time::Instant::now());
            if done(&drafts) || left.is_zero() {
                return drafts;
            }
            since = format!(
                "?version={}&timeout_ms={}",
                answer["version"],
                left.as_millis().max(1)
            );
        }
    }
    pub async fn reset(&self) {
        self.call(reqwest::Method::POST, "reset", None).await;
    }
    pub async fn faults(&self, plan: Value) {
        self.call(reqwest::Method::PUT, "faults", Some(plan)).await;
    }
    pub async fn settings(&self, settings: Value) {
        self.call(reqwest::Method::PUT, "settings", Some(settings))
            .await;
    }
    /// Registers a certificate (PEM) on an app, as uploading it in the portal does.
    pub async fn register_certificate(&self, client_id: &str, pem: &str) -> Value {
        let response = self
            .http
            .post(format!(
                "{}/_emulator/apps/{client_id}/certificates",
                self.url()
            ))
            .body(pem.to_owned())
            .send()
            .await
            .expect("test API answers");
        assert!(response.status().is_success(), "{}", response.status());
        response.json().await.unwrap()
    }
    /// Moves the emulator's clock forward (`POST /_emulator/clock/advance`).
    pub async fn advance_clock(&self, secs: u64) {
        self.call(
            reqwest::Method::POST,
            "clock/advance",
            Some(json!({ "secs": secs })),
        )
        .await;
    }
    pub async fn revoke_tokens(&self) {
        self.call(reqwest::Method::POST, "tokens/revoke", Some(json!({})))
            .await;
    }
}

/// Follows a dotted path (`message.toRecipients.0.emailAddress.address`).
pub fn at<'a>(value: &'a Value, path: &str) -> &'a Value {
    path.split('.')
        .fold(value, |v, key| match key.parse::<usize>() {
            Ok(i) if v.is_array() => &v[i],
            _ => &v[key],
        })
}
