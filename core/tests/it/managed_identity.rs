//! Managed identity against the emulator's local identity endpoints: the
//! metadata service's protocol and App Service's both send mail; an identity
//! without Mail.Send, an unknown client ID and a host without any managed
//! identity each get their hint; the metadata service's passing failures are
//! retried and its refusals are not.

use crate::common;

use common::*;
use graphmailer::{Config, ErrorKind, Mailer, Message};

const USER_ASSIGNED_WITHOUT_MAIL_SEND: &str = "0f1e2d3c-4b5a-4968-8776-655443322110";

fn mail() -> Message {
    Message::new(ALLOWED)
        .to("accounts@example.com")
        .subject("Invoice 4711")
        .text("Please pay.")
}

/// A configuration from these variables, as the environment would give them.
fn config(emu: &TestEmulator, vars: &[(&str, &str)]) -> graphmailer::Result<Config> {
    let mut env: Vec<(String, String)> = vec![
        ("GRAPHMAILER_CREDENTIAL".into(), "managed_identity".into()),
        ("GRAPHMAILER_GRAPH_ENDPOINT".into(), emu.url().into()),
    ];
    env.extend(vars.iter().map(|(k, v)| (k.to_string(), v.to_string())));
    Config::from_lookup(|name| {
        env.iter()
            .rev()
            .find(|(k, _)| k == name)
            .map(|(_, v)| v.clone())
    })
}

fn imds(emu: &TestEmulator, vars: &[(&str, &str)]) -> Mailer {
    let host = emu.emulator.identity_url().to_owned();
    let mut all = vec![("AZURE_POD_IDENTITY_AUTHORITY_HOST", host.as_str())];
    all.extend_from_slice(vars);
    Mailer::new(config(emu, &all).unwrap()).unwrap()
}

#[tokio::test]
async fn the_metadata_service_gives_a_token_that_sends() {
    let emu = TestEmulator::start().await;
    let mailer = imds(&emu, &[]);
    assert_eq!(
        mailer.config().credential_kind(),
        "managed identity (IMDS, system-assigned)"
    );
    assert!(
        mailer
            .config()
            .credential_reason()
            .contains("GRAPHMAILER_CREDENTIAL=managed_identity")
    );
    mailer
        .send(&mail())
        .await
        .expect("sent as the VM's identity");
    mailer.send(&mail()).await.expect("the token is cached");
    assert_eq!(mailer.token_requests(), 1);
    assert_eq!(emu.messages().await.len(), 2);
}

#[tokio::test]
async fn app_service_gives_a_token_that_sends_and_its_header_is_checked() {
    let emu = TestEmulator::start().await;
    let endpoint = format!("{}/msi/token", emu.emulator.identity_url());
    let header = emu.emulator.identity_header().to_owned();
    let mailer = Mailer::new(
        config(
            &emu,
            &[
                ("IDENTITY_ENDPOINT", &endpoint),
                ("IDENTITY_HEADER", &header),
            ],
        )
        .unwrap(),
    )
    .unwrap();
    assert_eq!(
        mailer.config().credential_kind(),
        "managed identity (App Service, system-assigned)"
    );
    assert!(!format!("{mailer:?}").contains(&header));
    mailer
        .send(&mail())
        .await
        .expect("sent as the app's identity");

    let wrong = Mailer::new(
        config(
            &emu,
            &[
                ("IDENTITY_ENDPOINT", &endpoint),
                ("IDENTITY_HEADER", "not-the-header"),
            ],
        )
        .unwrap(),
    )
    .unwrap();
    let e = wrong.send(&mail()).await.unwrap_err();
    assert_eq!(e.kind(), ErrorKind::Config, "{e}");
    assert!(e.hint().unwrap().contains("IDENTITY_HEADER"), "{e}");
    assert!(!format!("{e} {e:?}").contains(&header));
}

#[tokio::test]
async fn an_identity_without_mail_send_gets_the_powershell_that_grants_it() {
    let emu = TestEmulator::start().await;
    let mailer = imds(
        &emu,
        &[("AZURE_CLIENT_ID", USER_ASSIGNED_WITHOUT_MAIL_SEND)],
    );
    assert_eq!(
        mailer.config().credential_kind(),
        "managed identity (IMDS, user-assigned)"
    );
    let e = mailer.send(&mail()).await.unwrap_err();
    assert_eq!(e.kind(), ErrorKind::AccessDenied, "{e}");
    let hint = e.hint().unwrap();
    assert!(hint.contains("managed identity"), "{hint}");
    assert!(
        hint.contains("New-MgServicePrincipalAppRoleAssignment")
            && hint.contains(USER_ASSIGNED_WITHOUT_MAIL_SEND),
        "{hint}"
    );
}

#[tokio::test]
async fn an_unknown_identity_and_a_host_without_one_say_what_to_fix() {
    let emu = TestEmulator::start().await;
    let unknown = imds(&emu, &[("AZURE_CLIENT_ID", CLIENT)]);
    let e = unknown.send(&mail()).await.unwrap_err();
    assert_eq!(e.kind(), ErrorKind::Config, "{e}");
    assert_eq!(e.field(), Some("AZURE_CLIENT_ID"));
    assert!(e.hint().unwrap().contains(CLIENT), "{e}");
    // A refusal is not retried.
    assert_eq!(emu.counter("identity_requests").await, 1);

    // Nothing listens there: no managed identity on this machine, said at once.
    let nowhere = Mailer::new(
        config(
            &emu,
            &[("AZURE_POD_IDENTITY_AUTHORITY_HOST", "http://127.0.0.1:9")],
        )
        .unwrap(),
    )
    .unwrap();
    let started = std::time::Instant::now();
    let e = nowhere.send(&mail()).await.unwrap_err();
    assert_eq!(e.kind(), ErrorKind::Config, "{e}");
    assert!(
        e.hint()
            .unwrap()
            .contains("no managed identity on this machine"),
        "{e}"
    );
    assert!(started.elapsed() < std::time::Duration::from_secs(5));
}

#[tokio::test]
async fn the_metadata_services_passing_failures_are_retried() {
    let emu = TestEmulator::start().await;
    emu.faults(serde_json::json!({"identity": [
        {"status": 410}, {"status": 429}, {"status": 500}, {"status": 503, "retry_after_secs": 0}
    ]}))
    .await;
    let mailer = imds(&emu, &[]);
    mailer
        .send(&mail())
        .await
        .expect("sent after the endpoint recovered");
    assert_eq!(emu.counter("identity_requests").await, 5);
    assert_eq!(emu.counter("identity_tokens_issued").await, 1);
    assert_eq!(mailer.token_requests(), 1);
}
