//! `doctor` on each kind of credential: which one is in use and which
//! settings decided, and a warning when a secret is configured on a host
//! that offers a managed identity.

use crate::common;

use common::*;
use serde_json::{Value, json};

const WORKLOAD_CLIENT: &str = "7e1d5a3c-9b2f-4c8e-a6d4-3f2b1c0e9d8a";

/// A workload token from the emulator's own issuer.
fn mint(emu: &Emulator) -> String {
    let url = format!("{}/_emulator/oidc/token", emu.url());
    let body = json!({
        "subject": "system:serviceaccount:erp:graphmailer",
        "audience": "api://AzureADTokenExchange",
        "lifetime_seconds": 3600,
    });
    let answer: Value = graphmailer::blocking::wait(async move {
        reqwest::Client::new()
            .post(url)
            .json(&body)
            .send()
            .await?
            .json()
            .await
    })
    .unwrap()
    .unwrap();
    answer["token"].as_str().unwrap().to_owned()
}

fn doctor(emu: &Emulator, env: &[(String, String)]) -> (i32, Value) {
    let r = run(BIN.as_ref(), &["doctor", "--json"], b"", env);
    let report = serde_json::from_str(&r.stdout).unwrap_or_else(|e| panic!("{}: {e}", r.stdout));
    let _ = emu;
    (r.code, report)
}

fn finding_ids(report: &Value) -> Vec<String> {
    report["findings"]
        .as_array()
        .unwrap()
        .iter()
        .map(|f| f["id"].as_str().unwrap().to_owned())
        .collect()
}

fn with(mut env: Vec<(String, String)>, extra: &[(&str, &str)]) -> Vec<(String, String)> {
    for (k, v) in extra {
        env.retain(|(key, _)| key != k);
        env.push((k.to_string(), v.to_string()));
    }
    env
}

fn without(env: Vec<(String, String)>, names: &[&str]) -> Vec<(String, String)> {
    env.into_iter()
        .filter(|(k, _)| !names.contains(&k.as_str()))
        .collect()
}

#[test]
fn doctor_names_a_federated_token_file_and_what_it_passed_over() {
    let emu = Emulator::start();
    let file = emu.dir.join("azure-identity-token");
    std::fs::write(&file, mint(&emu)).unwrap();
    let path = file.display().to_string();
    let env = with(
        without(emu.env(), &["AZURE_CLIENT_SECRET"]),
        &[
            ("AZURE_CLIENT_ID", WORKLOAD_CLIENT),
            ("AZURE_FEDERATED_TOKEN_FILE", &path),
        ],
    );
    let (code, report) = doctor(&emu, &env);
    assert_eq!(code, 0, "{report}");
    assert_eq!(report["credential"], "federated token file");
    assert!(
        report["credential_reason"]
            .as_str()
            .unwrap()
            .contains("AZURE_FEDERATED_TOKEN_FILE is set"),
        "{report}"
    );
    assert_eq!(report["token_acquired"], true);
    let text = run(BIN.as_ref(), &["doctor"], b"", &env);
    assert!(text.stdout.contains("chosen because"), "{}", text.stdout);

    // With a secret as well, the secret comes first and doctor says so.
    let (_, report) = doctor(
        &emu,
        &with(emu.env(), &[("AZURE_FEDERATED_TOKEN_FILE", &path)]),
    );
    assert_eq!(report["credential"], "client secret");
    assert!(
        report["credential_reason"]
            .as_str()
            .unwrap()
            .contains("not used: AZURE_FEDERATED_TOKEN_FILE"),
        "{report}"
    );
}

#[test]
fn doctor_on_a_managed_identity_and_on_a_secret_where_one_is_offered() {
    let emu = Emulator::start();
    let host = emu.emulator().identity_url().to_owned();
    let managed = with(
        without(
            emu.env(),
            &[
                "AZURE_CLIENT_SECRET",
                "AZURE_CLIENT_ID",
                "AZURE_TENANT_ID",
                "AZURE_AUTHORITY_HOST",
            ],
        ),
        &[
            ("GRAPHMAILER_CREDENTIAL", "managed_identity"),
            ("AZURE_POD_IDENTITY_AUTHORITY_HOST", &host),
        ],
    );
    let (code, report) = doctor(&emu, &managed);
    assert_eq!(code, 0, "{report}");
    assert_eq!(
        report["credential"],
        "managed identity (IMDS, system-assigned)"
    );
    assert!(
        report["credential_reason"]
            .as_str()
            .unwrap()
            .contains("GRAPHMAILER_CREDENTIAL=managed_identity")
    );
    assert!(
        report["token_url"].as_str().unwrap().starts_with(&host),
        "{report}"
    );
    assert!(!finding_ids(&report).contains(&"secret-where-managed-identity".to_owned()));

    // App Service's endpoint.
    let endpoint = format!("{host}/msi/token");
    let header = emu.emulator().identity_header().to_owned();
    let app_service = with(
        without(managed.clone(), &["AZURE_POD_IDENTITY_AUTHORITY_HOST"]),
        &[
            ("IDENTITY_ENDPOINT", &endpoint),
            ("IDENTITY_HEADER", &header),
        ],
    );
    let r = run(BIN.as_ref(), &["doctor"], b"", &app_service);
    assert_eq!(r.code, 0, "{}", r.stdout);
    assert!(
        r.stdout
            .contains("managed identity (App Service, system-assigned)"),
        "{}",
        r.stdout
    );
    assert!(!r.stdout.contains(&header) && !r.stderr.contains(&header));

    // A secret on a host whose metadata service answers: a warning.
    let (code, report) = doctor(
        &emu,
        &with(emu.env(), &[("AZURE_POD_IDENTITY_AUTHORITY_HOST", &host)]),
    );
    assert_eq!(code, 0, "{report}");
    assert!(
        finding_ids(&report).contains(&"secret-where-managed-identity".to_owned()),
        "{report}"
    );

    // Nothing answers: no warning, and no long wait for it.
    let started = std::time::Instant::now();
    let (_, report) = doctor(
        &emu,
        &with(
            emu.env(),
            &[("AZURE_POD_IDENTITY_AUTHORITY_HOST", "http://127.0.0.1:9")],
        ),
    );
    assert!(
        !finding_ids(&report).contains(&"secret-where-managed-identity".to_owned()),
        "{report}"
    );
    assert!(started.elapsed() < std::time::Duration::from_secs(5));
}
