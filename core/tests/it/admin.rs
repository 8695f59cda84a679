//! What administrators rely on, against the emulator: certificate
//! credentials, `diagnose` and `verify`, including waiting for a restriction
//! that has not applied yet.

use crate::common;

use std::path::Path;
use std::time::Duration;

use common::{ALLOWED, CLIENT, DENIED, TENANT, TestEmulator};
use graphmailer::{ClientCertificate, Config, ErrorKind, Mailer, Message, Observed, Severity};

fn openssl(args: &[&str], dir: &Path) {
    let out = std::process::Command::new("openssl")
        .args(args)
        .current_dir(dir)
        .output()
        .expect("the openssl command is installed");
    assert!(
        out.status.success(),
        "openssl {args:?}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
}

/// A fresh self-signed certificate: `cert.pem`, `key.pem` and `bundle.pfx`
/// (password `pfx-pass`), in a folder removed when the value is dropped.
fn certificate(name: &str) -> tempfile::TempDir {
    let folder = tempfile::Builder::new()
        .prefix(&format!("gm-admin-{name}-"))
        .tempdir()
        .unwrap();
    let dir = folder.path();
    openssl(
        &[
            "req",
            "-x509",
            "-newkey",
            "rsa:2048",
            "-nodes",
            "-keyout",
            "key.pem",
            "-out",
            "cert.pem",
            "-days",
            "2",
            "-subj",
            "/CN=graphmailer-admin-test",
        ],
        dir,
    );
    openssl(
        &[
            "pkcs12",
            "-export",
            "-inkey",
            "key.pem",
            "-in",
            "cert.pem",
            "-out",
            "bundle.pfx",
            "-passout",
            "pass:pfx-pass",
        ],
        dir,
    );
    folder
}

fn certificate_config(emu: &TestEmulator, cert: ClientCertificate) -> Config {
    Config::builder()
        .tenant_id(TENANT)
        .client_id(CLIENT)
        .client_certificate(cert)
        .authority_host(emu.url())
        .graph_endpoint(emu.url())
        .build()
        .unwrap()
}

fn probe() -> Message {
    Message::new(ALLOWED)
        .to("alice@example.com")
        .subject("cert")
        .text("t")
}

#[tokio::test]
async fn a_registered_certificate_sends_and_an_unknown_one_is_refused() {
    let emu = TestEmulator::start().await;
    let registered_cert = certificate("registered");
    let dir = registered_cert.path();
    let pem = std::fs::read_to_string(dir.join("cert.pem")).unwrap();
    let registered = emu.register_certificate(CLIENT, &pem).await;

    let cert = ClientCertificate::from_path(dir.join("bundle.pfx"), Some("pfx-pass")).unwrap();
    // The emulator names the key as the token request's x5t does.
    let x5t = registered["thumbprint"].as_str().unwrap();
    let raw =
        base64::Engine::decode(&base64::engine::general_purpose::URL_SAFE_NO_PAD, x5t).unwrap();
    let hex: String = raw.iter().map(|b| format!("{b:02X}")).collect();
    assert_eq!(hex, cert.thumbprint());
    let mailer = Mailer::new(certificate_config(&emu, cert)).unwrap();
    mailer
        .send(&probe())
        .await
        .expect("a certificate credential sends");
    // A new assertion per token request: clearing the cache and sending again
    // must not trip the emulator's replay check.
    let mailer = Mailer::new(mailer.config().clone()).unwrap();
    mailer
        .send(&probe())
        .await
        .expect("a second assertion is fresh");
    assert_eq!(emu.messages().await.len(), 2);

    // The same key pair loaded from PEM files through the environment's names.
    let lookup = |name: &str| match name {
        "AZURE_TENANT_ID" => Some(TENANT.to_owned()),
        "AZURE_CLIENT_ID" => Some(CLIENT.to_owned()),
        "AZURE_CLIENT_CERTIFICATE_PATH" => Some(dir.join("bundle.pfx").display().to_string()),
        "AZURE_CLIENT_CERTIFICATE_PASSWORD" => Some("pfx-pass".to_owned()),
        "AZURE_AUTHORITY_HOST" | "GRAPHMAILER_GRAPH_ENDPOINT" => Some(emu.url().to_owned()),
        _ => None,
    };
    let mailer = Mailer::new(Config::from_lookup(lookup).unwrap()).unwrap();
    mailer
        .send(&probe())
        .await
        .expect("certificate from the environment");

    // A certificate the app registration does not hold.
    let other_cert = certificate("unregistered");
    let other = other_cert.path();
    let cert = ClientCertificate::from_pem(
        &std::fs::read(other.join("cert.pem")).unwrap(),
        &std::fs::read(other.join("key.pem")).unwrap(),
        None,
    )
    .unwrap();
    let error = Mailer::new(certificate_config(&emu, cert))
        .unwrap()
        .send(&probe())
        .await
        .unwrap_err();
    assert_eq!(error.kind(), ErrorKind::Authentication, "{error}");
    assert!(
        error.code().is_some_and(|c| c.starts_with("AADSTS")),
        "{error}"
    );
    assert!(error.hint().is_some(), "{error}");
    assert_eq!(emu.messages().await.len(), 3, "nothing more was sent");
}

#[tokio::test]
async fn diagnose_reports_roles_lifetime_and_skew() {
    let emu = TestEmulator::start().await;
    let d = emu.mailer().diagnose().await;
    assert!(d.ok(), "{:?}", d.findings);
    assert!(d.token_acquired);
    assert_eq!(d.roles, ["Mail.Send"]);
    assert_eq!(d.token_tenant.as_deref(), Some(TENANT));
    assert_eq!(d.app_display_name.as_deref(), Some("Contoso ERP"));
    assert!(
        d.token_lifetime
            .is_some_and(|l| l >= Duration::from_secs(3000)),
        "{:?}",
        d.token_lifetime
    );
    assert!(
        d.clock_skew_secs.is_some_and(|s| s.abs() <= 5),
        "{:?}",
        d.clock_skew_secs
    );
    assert!(
        d.findings
            .iter()
            .any(|f| f.id == "secret-credential" && f.severity != Severity::Error)
    );

    // An app consented far more than sending needs: each broad role is a warning.
    let broad = Mailer::new(
        emu.config()
            .client_id(graphmailer_emulator::defaults::LEGACY_SYNC_CLIENT_ID)
            .client_secret(graphmailer_emulator::defaults::LEGACY_SYNC_SECRET)
            .build()
            .unwrap(),
    )
    .unwrap()
    .diagnose()
    .await;
    assert!(broad.ok(), "warnings only: {:?}", broad.findings);
    let warned: Vec<&str> = broad
        .findings
        .iter()
        .filter(|f| f.id == "broad-role" && f.severity == Severity::Warning)
        .map(|f| f.message.as_str())
        .collect();
    for role in ["Mail.ReadWrite", "full_access_as_app"] {
        assert!(
            warned.iter().any(|m| m.contains(role)),
            "{role}: {warned:?}"
        );
    }
    assert!(
        !warned.iter().any(|m| m.contains("Mail.Send")),
        "{warned:?}"
    );

    // Large messages need Mail.ReadWrite: without it doctor says so as an
    // error; with it, the role is expected but still a warning to scope it.
    let ids = |d: &graphmailer::Diagnosis| -> Vec<(&'static str, Severity)> {
        d.findings.iter().map(|f| (f.id, f.severity)).collect()
    };
    let erp_large = Mailer::new(emu.config().large_messages(true).build().unwrap())
        .unwrap()
        .diagnose()
        .await;
    assert!(!erp_large.ok());
    assert!(ids(&erp_large).contains(&("large-messages-need-read-write", Severity::Error)));
    let billing_large = Mailer::new(emu.billing_config().build().unwrap())
        .unwrap()
        .diagnose()
        .await;
    assert!(billing_large.ok(), "{:?}", billing_large.findings);
    let found = ids(&billing_large);
    assert!(found.contains(&("read-write-for-large-messages", Severity::Warning)));
    assert!(
        !found.iter().any(|(id, _)| *id == "broad-role"),
        "{found:?}"
    );

    let wrong = Mailer::new(
        emu.config()
            .client_secret("5a1f3c7e-2b9d-4e6f-8a0c-1d3b5e7f9a2c")
            .build()
            .unwrap(),
    )
    .unwrap();
    let d = wrong.diagnose().await;
    assert!(!d.ok());
    assert_eq!(
        d.error.as_ref().and_then(|e| e.code()),
        Some("AADSTS7000215")
    );
    assert!(
        d.findings
            .iter()
            .any(|f| f.id == "token-request-failed" && f.hint.is_some())
    );
}

#[tokio::test]
async fn verify_waits_for_a_restriction_to_apply() {
    let emu = TestEmulator::start().await;
    // As if the policy had just been created: for two seconds the app may
    // still send as anyone.
    emu.settings(serde_json::json!({"policy_apply_delay_secs": 2}))
        .await;
    let mailer = emu.mailer();
    let allowed = vec![ALLOWED.to_owned()];
    let denied = vec![DENIED.to_owned()];

    let first = mailer.verify(&allowed, &denied).await.unwrap();
    assert!(!first.holds());
    assert_eq!(first.rows[1].observed, Observed::Sent, "not yet restricted");

    let mut rounds = Vec::new();
    let last = mailer
        .verify_until(
            &allowed,
            &denied,
            Duration::from_secs(20),
            Duration::from_millis(500),
            |v, _| rounds.push(v.holds()),
        )
        .await
        .unwrap();
    assert!(last.holds(), "{:?}", last.rows);
    assert_eq!(last.rows[1].observed, Observed::Denied);
    assert_eq!(last.rows[1].code.as_deref(), Some("ErrorAccessDenied"));
    assert!(rounds.len() >= 2 && !rounds[0], "{rounds:?}");

    // Every probe went to the sender's own mailbox.
    for m in emu.messages().await {
        assert_eq!(
            common::at(&m, "message.toRecipients.0.emailAddress.address"),
            &m["mailbox"]
        );
    }
}
