//! Workload identity federation against the emulator's own OIDC issuer: a
//! federated token file sends mail and is read again after the platform
//! rotates it; an assertion callback does the same; each common mismatch
//! comes back with Entra's code and a hint; no token or assertion shows in
//! any output. Its own test binary, because it installs a global log
//! subscriber.

mod common;

use std::path::PathBuf;
use std::sync::{Arc, Mutex};

use common::*;
use graphmailer::{Config, ErrorKind, Mailer, Message};
use serde_json::{Value, json};

/// The built-in app that trusts the emulator's issuer for this subject.
const WORKLOAD_CLIENT: &str = "7e1d5a3c-9b2f-4c8e-a6d4-3f2b1c0e9d8a";
const SUBJECT: &str = "system:serviceaccount:erp:graphmailer";
const AUDIENCE: &str = "api://AzureADTokenExchange";

/// A workload token from the emulator's issuer (`POST /_emulator/oidc/token`).
async fn mint(emu: &TestEmulator, overrides: Value) -> String {
    let mut body = json!({"subject": SUBJECT, "audience": AUDIENCE, "lifetime_seconds": 3600});
    for (k, v) in overrides.as_object().unwrap() {
        body[k] = v.clone();
    }
    let response = emu
        .http
        .post(format!("{}/_emulator/oidc/token", emu.url()))
        .json(&body)
        .send()
        .await
        .expect("the OIDC test API answers");
    assert!(response.status().is_success(), "{}", response.status());
    let answer: Value = response.json().await.unwrap();
    answer["token"].as_str().expect("a token").to_owned()
}

/// A token file of its own, removed when dropped.
struct TokenFile(PathBuf);

impl TokenFile {
    fn new() -> TokenFile {
        TokenFile(
            std::env::temp_dir().join(format!("graphmailer-federated-{}", uuid::Uuid::new_v4())),
        )
    }
    /// Writes as the platform does: a new file moved over the old one.
    fn write(&self, token: &str) {
        let next = self.0.with_extension("next");
        std::fs::write(&next, format!("{token}\n")).unwrap();
        std::fs::rename(&next, &self.0).unwrap();
    }
}

impl Drop for TokenFile {
    fn drop(&mut self) {
        let _ = std::fs::remove_file(&self.0);
    }
}

/// The workload app, its credential a federated token file, as AKS sets it.
fn federated_mailer(emu: &TestEmulator, file: &TokenFile) -> Mailer {
    let url = emu.url().to_owned();
    let mut env = vec![
        ("AZURE_TENANT_ID", TENANT.to_owned()),
        ("AZURE_CLIENT_ID", WORKLOAD_CLIENT.to_owned()),
        ("AZURE_FEDERATED_TOKEN_FILE", file.0.display().to_string()),
        ("AZURE_AUTHORITY_HOST", url.clone()),
        ("GRAPHMAILER_GRAPH_ENDPOINT", url),
    ];
    env.push(("GRAPHMAILER_MAX_ATTEMPTS", "1".into()));
    let config =
        Config::from_lookup(|name| env.iter().find(|(k, _)| *k == name).map(|(_, v)| v.clone()))
            .unwrap();
    assert_eq!(config.credential_kind(), "federated token file");
    assert!(
        config
            .credential_reason()
            .contains("AZURE_FEDERATED_TOKEN_FILE is set")
    );
    Mailer::new(config).unwrap()
}

/// The workload app in code, with no credential yet.
fn workload_config(emu: &TestEmulator) -> graphmailer::ConfigBuilder {
    Config::builder()
        .tenant_id(TENANT)
        .client_id(WORKLOAD_CLIENT)
        .authority_host(emu.url())
        .graph_endpoint(emu.url())
        .max_attempts(1)
}

fn mail() -> Message {
    Message::new(ALLOWED)
        .to("accounts@example.com")
        .subject("Invoice 4711")
        .text("Please pay.")
}

#[tokio::test]
async fn federated_credentials_send_rotate_fail_with_hints_and_never_show_the_token() {
    let logs = Captured::default();
    tracing::subscriber::set_global_default(logs.subscriber()).unwrap();
    let emu = TestEmulator::start().await;
    let mut tokens: Vec<String> = Vec::new();
    let mut outputs: Vec<String> = Vec::new();

    // A federated token file sends mail.
    let file = TokenFile::new();
    let first = mint(&emu, json!({"lifetime_seconds": 600})).await;
    file.write(&first);
    tokens.push(first);
    let mailer = federated_mailer(&emu, &file);
    outputs.push(format!("{mailer:?}"));
    mailer
        .send(&mail())
        .await
        .expect("sent with the federated token");
    assert_eq!(mailer.token_requests(), 1);

    // Rotation mid-run: the platform writes a new token, the old one expires
    // and so does the Graph token; the mailer's next token request (after
    // Graph refuses the old access token) reads the new file.
    let second = mint(&emu, json!({"lifetime_seconds": 7200})).await;
    file.write(&second);
    tokens.push(second);
    emu.advance_clock(3700).await;
    let receipt = mailer.send(&mail()).await.expect("sent after rotation");
    assert_eq!(mailer.token_requests(), 2, "{receipt:?}");
    assert_eq!(emu.messages().await.len(), 2);

    // The file still holding an expired token: AADSTS700024, and the hint
    // says the platform stopped refreshing it.
    let expired = mint(&emu, json!({"lifetime_seconds": -60})).await;
    file.write(&expired);
    tokens.push(expired);
    let stale = federated_mailer(&emu, &file);
    let e = stale.send(&mail()).await.unwrap_err();
    assert_eq!(e.kind(), ErrorKind::Authentication, "{e}");
    assert_eq!(e.code(), Some("AADSTS700024"), "{e}");
    assert!(e.hint().unwrap().contains("stopped refreshing"), "{e}");
    outputs.push(format!("{e} {e:?}"));

    // Each mismatch with the app's federated credential: its code and hint.
    let cases = [
        (
            json!({"subject": "system:serviceaccount:erp:other"}),
            "AADSTS700213",
            "system:serviceaccount:<namespace>",
        ),
        (
            json!({"audience": "api://SomethingElse"}),
            "AADSTS700212",
            "api://AzureADTokenExchange",
        ),
        (
            json!({"issuer": "https://token.actions.githubusercontent.com"}),
            "AADSTS700211",
            "issuer",
        ),
    ];
    for (overrides, code, hint) in cases {
        let token = mint(&emu, overrides.clone()).await;
        file.write(&token);
        tokens.push(token);
        let e = federated_mailer(&emu, &file)
            .send(&mail())
            .await
            .unwrap_err();
        assert_eq!(e.code(), Some(code), "{overrides}: {e}");
        assert_eq!(e.kind(), ErrorKind::Authentication);
        assert!(e.hint().unwrap().contains(hint), "{overrides}: {e}");
        assert!(e.request_id().is_some(), "{e}");
        outputs.push(format!("{e} {e:?} {}", e.to_json()));
    }

    // A missing file: a configuration error naming the file and the
    // variable, found before any request.
    let requests_before = emu.counter("token_requests").await;
    std::fs::remove_file(&file.0).unwrap();
    let e = federated_mailer(&emu, &file)
        .send(&mail())
        .await
        .unwrap_err();
    assert_eq!(e.kind(), ErrorKind::Config, "{e}");
    assert_eq!(e.field(), Some("AZURE_FEDERATED_TOKEN_FILE"));
    assert!(e.message().contains(&file.0.display().to_string()), "{e}");
    assert!(e.hint().unwrap().contains("azure.workload.identity/use"));
    assert_eq!(emu.counter("token_requests").await, requests_before);

    // A caller's callback is asked for each token request.
    let calls = Arc::new(Mutex::new(0));
    let callback_token = mint(&emu, json!({})).await;
    tokens.push(callback_token.clone());
    let counted = calls.clone();
    let by_callback = Mailer::new(
        workload_config(&emu)
            .credential(graphmailer::Credential::assertion(move || {
                *counted.lock().unwrap() += 1;
                Ok(callback_token.clone())
            }))
            .build()
            .unwrap(),
    )
    .unwrap();
    outputs.push(format!("{by_callback:?}"));
    by_callback
        .send(&mail())
        .await
        .expect("sent with the callback's assertion");
    assert_eq!(*calls.lock().unwrap(), 1);
    let failing = Mailer::new(
        workload_config(&emu)
            .credential(graphmailer::Credential::assertion(|| {
                Err("no OIDC token in this job".into())
            }))
            .build()
            .unwrap(),
    )
    .unwrap();
    let e = failing.send(&mail()).await.unwrap_err();
    assert!(e.message().contains("no OIDC token in this job"), "{e}");

    let logged = logs.text();
    assert!(
        logged.contains("acquired an access token"),
        "the log was captured"
    );
    for token in &tokens {
        // The signature alone is unique to the token.
        let signature = token.rsplit('.').next().unwrap();
        assert!(!logged.contains(signature), "a token in the log");
        for output in &outputs {
            assert!(!output.contains(signature), "a token in {output}");
        }
    }
}
