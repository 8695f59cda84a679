//! Test support: an emulator per test, reached over real HTTP(S) with
//! reqwest, plus helpers for tokens, sendMail, the test API and
//! certificate assertions.
#![allow(dead_code)]

use std::time::{SystemTime, UNIX_EPOCH};

use aws_lc_rs::rand::SystemRandom;
use aws_lc_rs::rsa::KeyPair as RsaKeyPair;
use aws_lc_rs::signature::{RSA_PKCS1_SHA256, RSA_PSS_SHA256, RsaEncoding};
use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use graphmailer_emulator::{Directory, Options, defaults as d};
use serde_json::{Value, json};

pub struct Emu {
    pub emulator: graphmailer_emulator::Emulator,
    pub http: reqwest::Client,
}

impl Emu {
    /// Plain HTTP on loopback, built-in directory.
    pub async fn start() -> Self {
        Self::start_with(Options {
            tls: false,
            ..Options::default()
        })
        .await
    }

    /// Plain HTTP, Sent Items copies appearing at once (no transport lag).
    pub async fn reading() -> Self {
        let emu = Self::start().await;
        emu.emulator
            .update_settings(&graphmailer_emulator::SettingsUpdate {
                sent_items_lag_ms: Some(0),
                ..Default::default()
            })
            .unwrap();
        emu
    }

    /// HTTPS with the emulator's CA trusted.
    pub async fn start_tls() -> Self {
        Self::start_with(Options::default()).await
    }

    pub async fn with_directory(directory: Directory) -> Self {
        Self::start_with(Options {
            tls: false,
            directory,
            ..Options::default()
        })
        .await
    }

    pub async fn start_with(options: Options) -> Self {
        let emulator = graphmailer_emulator::start(options)
            .await
            .expect("emulator starts");
        let http = client_for(&emulator, false);
        Emu { emulator, http }
    }

    pub fn url(&self) -> &str {
        self.emulator.url()
    }

    pub fn token_url(&self, tenant: &str) -> String {
        format!("{}/{tenant}/oauth2/v2.0/token", self.url())
    }

    /// POSTs a token request form; returns status, headers and JSON.
    pub async fn token_request(&self, tenant: &str, form: &[(&str, &str)]) -> Answer {
        let response = self
            .http
            .post(self.token_url(tenant))
            .form(form)
            .send()
            .await
            .expect("token endpoint answers");
        Answer::read(response).await
    }

    /// A token for an app with a secret; panics unless it is issued.
    pub async fn token(&self, client_id: &str, secret: &str) -> String {
        let answer = self
            .token_request(
                d::TENANT_ID,
                &[
                    ("grant_type", "client_credentials"),
                    ("client_id", client_id),
                    ("client_secret", secret),
                    ("scope", d::GRAPH_SCOPE),
                ],
            )
            .await;
        assert_eq!(answer.status, 200, "token: {}", answer.json);
        answer.json["access_token"].as_str().unwrap().to_owned()
    }

    pub async fn erp_token(&self) -> String {
        self.token(d::ERP_CLIENT_ID, d::ERP_SECRET).await
    }

    /// POST /v1.0/{path} with a JSON body.
    pub async fn graph_post(&self, token: &str, path: &str, body: &Value) -> Answer {
        let response = self
            .http
            .post(format!("{}/v1.0/{path}", self.url()))
            .bearer_auth(token)
            .json(body)
            .send()
            .await
            .expect("Graph answers");
        Answer::read(response).await
    }

    /// PUTs `bytes` as the range starting at `start` of a `total`-byte file,
    /// without Authorization, as an upload URL wants.
    pub async fn put_chunk(&self, url: &str, start: usize, bytes: &[u8], total: usize) -> Answer {
        let response = self
            .put_chunk_raw(url, start, bytes, total)
            .await
            .expect("upload URL answers");
        Answer::read(response).await
    }

    pub async fn put_chunk_raw(
        &self,
        url: &str,
        start: usize,
        bytes: &[u8],
        total: usize,
    ) -> reqwest::Result<reqwest::Response> {
        let end = start + bytes.len() - 1;
        self.http
            .put(url)
            .header("content-range", format!("bytes {start}-{end}/{total}"))
            .header("content-type", "application/octet-stream")
            .body(bytes.to_vec())
            .send()
            .await
    }

    /// POST /v1.0/users/{mailbox}/sendMail with a JSON body.
    pub async fn send(&self, token: &str, mailbox: &str, body: &Value) -> Answer {
        let response = self
            .http
            .post(format!("{}/v1.0/users/{mailbox}/sendMail", self.url()))
            .bearer_auth(token)
            .json(body)
            .send()
            .await
            .expect("sendMail answers");
        Answer::read(response).await
    }

    /// A request to the test API.
    pub async fn api(&self, method: reqwest::Method, path: &str, body: Option<Value>) -> Answer {
        let mut request = self
            .http
            .request(method, format!("{}/_emulator/{path}", self.url()));
        if let Some(body) = body {
            request = request.json(&body);
        }
        Answer::read(request.send().await.expect("test API answers")).await
    }

    pub async fn get(&self, path: &str) -> Answer {
        self.api(reqwest::Method::GET, path, None).await
    }

    pub async fn post(&self, path: &str, body: Value) -> Answer {
        self.api(reqwest::Method::POST, path, Some(body)).await
    }

    /// Moves the emulator's clock forward through the test API.
    pub async fn advance_clock(&self, ms: u64) {
        let answer = self.post("clock/advance", json!({ "ms": ms })).await;
        assert_eq!(answer.status, 200, "clock/advance: {}", answer.json);
    }

    pub async fn put(&self, path: &str, body: Value) -> Answer {
        self.api(reqwest::Method::PUT, path, Some(body)).await
    }
}

/// A reqwest client for the emulator: its CA trusted when it speaks HTTPS.
pub fn client_for(emulator: &graphmailer_emulator::Emulator, http1_only: bool) -> reqwest::Client {
    let mut builder = reqwest::Client::builder().no_proxy();
    if let Some(pem) = emulator.ca_pem() {
        let ca = reqwest::Certificate::from_pem(pem.as_bytes()).expect("CA parses");
        builder = builder.tls_certs_merge([ca]);
    }
    if http1_only {
        builder = builder.http1_only();
    }
    builder.build().expect("client builds")
}

/// Status, headers and body (JSON when it parses, else a JSON string).
#[derive(Debug)]
pub struct Answer {
    pub status: u16,
    pub headers: reqwest::header::HeaderMap,
    pub json: Value,
}

impl Answer {
    pub async fn read(response: reqwest::Response) -> Self {
        let status = response.status().as_u16();
        let headers = response.headers().clone();
        let text = response.text().await.unwrap_or_default();
        let json = if text.is_empty() {
            Value::Null
        } else {
            serde_json::from_str(&text).unwrap_or(Value::String(text))
        };
        Answer {
            status,
            headers,
            json,
        }
    }

    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers.get(name).and_then(|v| v.to_str().ok())
    }

    /// The AADSTS number of a token error.
    pub fn aadsts(&self) -> Option<u64> {
        self.json["error_codes"][0].as_u64()
    }

    /// The Graph error code.
    pub fn graph_code(&self) -> &str {
        self.json["error"]["code"].as_str().unwrap_or("")
    }
}

/// A minimal valid sendMail body to one recipient.
pub fn message(subject: &str) -> Value {
    json!({
        "message": {
            "subject": subject,
            "body": {"contentType": "Text", "content": "Hello"},
            "toRecipients": [{"emailAddress": {"address": "someone@example.com"}}]
        },
        "saveToSentItems": false
    })
}

/// The payload of a JWT, decoded without checking anything.
pub fn claims(jwt: &str) -> Value {
    part(jwt, 1)
}

/// The header of a JWT.
pub fn jwt_header(jwt: &str) -> Value {
    part(jwt, 0)
}

fn part(jwt: &str, index: usize) -> Value {
    let segment = jwt.split('.').nth(index).expect("a JWT part");
    serde_json::from_slice(&URL_SAFE_NO_PAD.decode(segment).expect("base64url")).expect("JSON")
}

pub fn now() -> i64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap()
        .as_secs() as i64
}

/// A self-signed RSA certificate with its private key, for assertions.
pub struct TestCert {
    pub pem: String,
    pub der: Vec<u8>,
    key: RsaKeyPair,
}

impl TestCert {
    /// Valid from yesterday for `days` days.
    pub fn new(days: i64) -> Self {
        let start = time::OffsetDateTime::now_utc() - time::Duration::days(1);
        Self::valid(start, start + time::Duration::days(days + 1))
    }

    pub fn valid(not_before: time::OffsetDateTime, not_after: time::OffsetDateTime) -> Self {
        let rc_key =
            rcgen::KeyPair::generate_rsa_for(&rcgen::PKCS_RSA_SHA256, rcgen::RsaKeySize::_2048)
                .unwrap();
        let mut params = rcgen::CertificateParams::new(Vec::<String>::new()).unwrap();
        params
            .distinguished_name
            .push(rcgen::DnType::CommonName, "graphmailer test client");
        params.not_before = not_before;
        params.not_after = not_after;
        let cert = params.self_signed(&rc_key).unwrap();
        TestCert {
            pem: cert.pem(),
            der: cert.der().to_vec(),
            key: RsaKeyPair::from_pkcs8(&rc_key.serialize_der()).unwrap(),
        }
    }

    /// base64url SHA-1 of the DER (`x5t`).
    pub fn x5t(&self) -> String {
        URL_SAFE_NO_PAD.encode(aws_lc_rs::digest::digest(
            &aws_lc_rs::digest::SHA1_FOR_LEGACY_USE_ONLY,
            &self.der,
        ))
    }

    /// base64url SHA-256 of the DER (`x5t#S256`).
    pub fn x5t_s256(&self) -> String {
        URL_SAFE_NO_PAD.encode(aws_lc_rs::digest::digest(
            &aws_lc_rs::digest::SHA256,
            &self.der,
        ))
    }

    /// The claims MSAL puts in an assertion for `client_id` at `aud`.
    pub fn claims(client_id: &str, aud: &str) -> Value {
        let now = now();
        json!({
            "aud": aud,
            "iss": client_id,
            "sub": client_id,
            "jti": uuid::Uuid::new_v4().to_string(),
            "nbf": now,
            "iat": now,
            "exp": now + 600,
        })
    }

    /// Signs `claims` under `header` (RS256 or PS256 as `alg` says).
    pub fn sign(&self, header: &Value, claims: &Value) -> String {
        let input = format!(
            "{}.{}",
            URL_SAFE_NO_PAD.encode(header.to_string()),
            URL_SAFE_NO_PAD.encode(claims.to_string())
        );
        let encoding: &'static dyn RsaEncoding = if header["alg"] == "PS256" {
            &RSA_PSS_SHA256
        } else {
            &RSA_PKCS1_SHA256
        };
        let mut signature = vec![0u8; self.key.public_modulus_len()];
        self.key
            .sign(
                encoding,
                &SystemRandom::new(),
                input.as_bytes(),
                &mut signature,
            )
            .unwrap();
        format!("{input}.{}", URL_SAFE_NO_PAD.encode(signature))
    }

    /// The public key as a JWKS with one key named `kid`, as a foreign
    /// OIDC issuer publishes it.
    pub fn jwks(&self, kid: &str) -> Value {
        let public = aws_lc_rs::rsa::PublicKeyComponents::<Vec<u8>>::from(
            aws_lc_rs::signature::KeyPair::public_key(&self.key),
        );
        json!({"keys": [{
            "kty": "RSA",
            "use": "sig",
            "alg": "RS256",
            "kid": kid,
            "n": URL_SAFE_NO_PAD.encode(&public.n),
            "e": URL_SAFE_NO_PAD.encode(&public.e),
        }]})
    }

    /// An RS256 + `x5t` assertion with the usual claims.
    pub fn assertion(&self, client_id: &str, aud: &str) -> String {
        self.sign(
            &json!({"alg": "RS256", "typ": "JWT", "x5t": self.x5t()}),
            &Self::claims(client_id, aud),
        )
    }
}

/// The token request form for a client assertion.
pub fn assertion_form<'a>(client_id: &'a str, assertion: &'a str) -> Vec<(&'a str, &'a str)> {
    vec![
        ("grant_type", "client_credentials"),
        ("client_id", client_id),
        (
            "client_assertion_type",
            "urn:ietf:params:oauth:client-assertion-type:jwt-bearer",
        ),
        ("client_assertion", assertion),
        ("scope", d::GRAPH_SCOPE),
    ]
}
