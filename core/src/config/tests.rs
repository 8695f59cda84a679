use std::collections::BTreeMap;
use std::time::Duration;

use super::*;
use crate::error::{ErrorKind, Result};

const TENANT: &str = "7f3c2a9e-4b1d-4e8a-9c6f-2d5e8b1a0c37";
const CLIENT: &str = "3b9e6f2a-8c4d-4a1e-b7f5-0d2c9e8a6b14";

fn env(pairs: &[(&str, &str)]) -> Result<Config> {
    let map: BTreeMap<String, String> = pairs
        .iter()
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect();
    Config::from_lookup(|k| map.get(k).cloned())
}

fn base() -> Vec<(&'static str, &'static str)> {
    vec![
        ("AZURE_TENANT_ID", TENANT),
        ("AZURE_CLIENT_ID", CLIENT),
        ("AZURE_CLIENT_SECRET", "s3cret"),
    ]
}

#[test]
fn defaults_are_the_global_cloud() {
    let c = env(&base()).unwrap();
    assert_eq!(
        c.token_url(),
        format!("https://login.microsoftonline.com/{TENANT}/oauth2/v2.0/token")
    );
    assert_eq!(c.graph_endpoint(), "https://graph.microsoft.com");
    assert_eq!(c.scope(), "https://graph.microsoft.com/.default");
    assert_eq!(c.max_concurrent_per_mailbox, 4);
}

#[test]
fn each_cloud_sets_its_hosts_and_overrides_win() {
    let mut e = base();
    e.push(("GRAPHMAILER_CLOUD", "usgovdod"));
    let c = env(&e).unwrap();
    assert_eq!(c.authority_host(), "https://login.microsoftonline.us");
    assert_eq!(c.graph_endpoint(), "https://dod-graph.microsoft.us");
    assert_eq!(c.scope(), "https://dod-graph.microsoft.us/.default");
    e.push(("GRAPHMAILER_GRAPH_ENDPOINT", "http://127.0.0.1:8080/v1.0/"));
    e.push(("AZURE_AUTHORITY_HOST", "http://[::1]:8080/"));
    let c = env(&e).unwrap();
    assert_eq!(c.graph_endpoint(), "http://127.0.0.1:8080");
    assert_eq!(c.authority_host(), "http://[::1]:8080");
}

#[test]
fn plain_http_is_refused_off_loopback() {
    let mut e = base();
    e.push(("GRAPHMAILER_GRAPH_ENDPOINT", "http://graph.example.com"));
    let err = env(&e).unwrap_err();
    assert_eq!(err.field(), Some("GRAPHMAILER_GRAPH_ENDPOINT"));
    assert!(err.message().contains("only https"));
}

#[test]
fn missing_and_malformed_settings_name_the_variable() {
    let cases: &[(&[(&str, &str)], &str)] = &[
        (
            &[("AZURE_CLIENT_ID", CLIENT), ("AZURE_CLIENT_SECRET", "x")],
            "AZURE_TENANT_ID",
        ),
        (
            &[("AZURE_TENANT_ID", TENANT), ("AZURE_CLIENT_SECRET", "x")],
            "AZURE_CLIENT_ID",
        ),
        (
            &[("AZURE_TENANT_ID", TENANT), ("AZURE_CLIENT_ID", CLIENT)],
            "AZURE_CLIENT_SECRET",
        ),
        (
            &[
                ("AZURE_TENANT_ID", "common"),
                ("AZURE_CLIENT_ID", CLIENT),
                ("AZURE_CLIENT_SECRET", "x"),
            ],
            "AZURE_TENANT_ID",
        ),
        (
            &[
                ("AZURE_TENANT_ID", "not a tenant"),
                ("AZURE_CLIENT_ID", CLIENT),
                ("AZURE_CLIENT_SECRET", "x"),
            ],
            "AZURE_TENANT_ID",
        ),
        (
            &[
                ("AZURE_TENANT_ID", TENANT),
                ("AZURE_CLIENT_ID", "my-app"),
                ("AZURE_CLIENT_SECRET", "x"),
            ],
            "AZURE_CLIENT_ID",
        ),
    ];
    for (pairs, field) in cases {
        let e = env(pairs).unwrap_err();
        assert_eq!(e.kind(), ErrorKind::Config);
        assert_eq!(e.field(), Some(*field), "{e}");
    }
    for (name, value) in [
        ("GRAPHMAILER_CLOUD", "mars"),
        ("GRAPHMAILER_TIMEOUT_SECS", "soon"),
        ("GRAPHMAILER_MAX_ATTEMPTS", "0"),
        ("GRAPHMAILER_MAX_CONCURRENT_PER_MAILBOX", "8"),
        ("GRAPHMAILER_SCOPE", "Mail.Send"),
        ("GRAPHMAILER_CA_BUNDLE", "/nonexistent/ca.pem"),
        ("GRAPHMAILER_ALLOWED_SENDERS", "erp@contoso.test,nope"),
    ] {
        let mut e = base();
        e.push((name, value));
        let err = env(&e).unwrap_err();
        assert!(
            err.field().unwrap().starts_with(name) || name == "GRAPHMAILER_ALLOWED_SENDERS",
            "{name}: {err}"
        );
    }
}

#[test]
fn secret_never_shows_in_debug() {
    let c = env(&base()).unwrap();
    assert!(!format!("{c:?}").contains("s3cret"));
}

#[test]
fn file_values_win_and_the_environment_fills_the_rest() {
    let dir = tempfile::Builder::new()
        .prefix("gm-config-")
        .tempdir()
        .unwrap();
    let path = dir.path().join("graphmailer.toml");
    std::fs::write(
        &path,
        format!("tenant_id = \"{TENANT}\"\nclient_id = \"{CLIENT}\"\nclient_secret = \"x\"\nallowed_senders = [\"erp@contoso.test\", \"@billing.test\"]\ntimeout_secs = 5\n"),
    )
    .unwrap();
    // It holds the secret, so it must be private.
    #[cfg(unix)]
    std::fs::set_permissions(&path, std::os::unix::fs::PermissionsExt::from_mode(0o600)).unwrap();
    let c = Config::from_file(&path).unwrap();
    assert!(c.allowed_senders().allows("a@billing.test"));
    assert_eq!(c.timeout, Duration::from_secs(5));
    std::fs::write(&path, "tenant = \"x\"\n").unwrap();
    let e = Config::from_file(&path).unwrap_err();
    assert!(e.message().contains("unknown key 'tenant'"));
}

#[cfg(unix)]
#[test]
fn a_config_file_others_can_change_or_read_a_database_password_in_is_refused() {
    use std::os::unix::fs::PermissionsExt;
    let dir = tempfile::Builder::new()
        .prefix("gm-config-")
        .tempdir()
        .unwrap();
    let path = dir.path().join("graphmailer.toml");
    let mode = |m| std::fs::set_permissions(&path, std::fs::Permissions::from_mode(m)).unwrap();
    // No secret in it (the secret is in the environment), but it says where
    // the secret and the tokens go.
    std::fs::write(
        &path,
        format!("tenant_id = \"{TENANT}\"\nclient_id = \"{CLIENT}\"\nauthority_host = \"https://login.microsoftonline.com\"\n"),
    )
    .unwrap();
    mode(0o666);
    let e = Config::from_file(&path).unwrap_err();
    assert_eq!(e.field(), Some("config file"), "{e}");
    assert!(e.message().contains("0666"), "{e}");
    mode(0o644);
    let e = Config::from_file(&path).unwrap_err();
    assert_ne!(
        e.field(),
        Some("config file"),
        "readable by all is fine without a secret: {e}"
    );
    // A database password in the outbox URL is a secret.
    std::fs::write(
        &path,
        format!("tenant_id = \"{TENANT}\"\nclient_id = \"{CLIENT}\"\noutbox = \"postgres://mail:hunter2@db/graphmailer\"\n"),
    )
    .unwrap();
    mode(0o644);
    let e = Config::from_file(&path).unwrap_err();
    assert!(e.message().contains("database password"), "{e}");
    assert!(!e.message().contains("hunter2"), "{e}");
    mode(0o640);
    let e = Config::from_file(&path).unwrap_err();
    assert!(!e.message().contains("database password"), "{e}");
}

#[test]
fn set_takes_environment_names_and_file_keys() {
    let c = Config::builder()
        .set("AZURE_TENANT_ID", TENANT)
        .unwrap()
        .set("client_id", CLIENT)
        .unwrap()
        .set("client_secret", "s3cret")
        .unwrap()
        .set("timeout_secs", " 7 ")
        .unwrap()
        .set("GRAPHMAILER_DEFAULT_SENDER", "")
        .unwrap()
        .set("large_messages", "yes")
        .unwrap()
        .build()
        .unwrap();
    assert_eq!(c.timeout, Duration::from_secs(7));
    assert!(c.large_messages());
    assert_eq!(c.default_sender(), None);
    let e = Config::builder().set("tenant", TENANT).unwrap_err();
    assert_eq!(e.field(), Some("tenant"));
    assert!(e.message().contains("tenant_id"), "{e}");
    let e = Config::builder().set("timeout_secs", "soon").unwrap_err();
    assert_eq!(e.field(), Some("GRAPHMAILER_TIMEOUT_SECS"));
    let e = Config::builder().set("cloud", "mars").unwrap_err();
    assert_eq!(e.field(), Some("GRAPHMAILER_CLOUD"));
}

#[test]
fn every_setting_is_read_from_the_environment_and_named_once() {
    for (i, s) in SETTINGS.iter().enumerate() {
        // App Service and Functions set these two under their own names.
        let platform = ["IDENTITY_ENDPOINT", "IDENTITY_HEADER"].contains(&s.env);
        assert!(s.env.starts_with("AZURE_") || s.env.starts_with("GRAPHMAILER_") || platform);
        for other in &SETTINGS[i + 1..] {
            assert!(s.env != other.env && s.key != other.key, "{} twice", s.key);
        }
        assert_eq!(setting(s.key).unwrap().env, s.env);
        assert_eq!(setting(s.env).unwrap().key, s.key);
    }
}

#[test]
fn the_outbox_is_a_database_url() {
    assert_eq!(env(&base()).unwrap().outbox(), None);
    let mut e = base();
    e.push((
        "GRAPHMAILER_OUTBOX",
        "sqlite:/var/spool/graphmailer/outbox.db",
    ));
    let c = env(&e).unwrap();
    assert_eq!(c.outbox(), Some("sqlite:/var/spool/graphmailer/outbox.db"));
    let c = Config::builder()
        .set("tenant_id", TENANT)
        .and_then(|b| b.set("client_id", CLIENT))
        .and_then(|b| b.set("client_secret", "x"))
        .and_then(|b| b.set("outbox", "postgres://mail@db/graphmailer"))
        .and_then(ConfigBuilder::build)
        .unwrap();
    assert_eq!(c.outbox(), Some("postgres://mail@db/graphmailer"));
    let mut e = base();
    e.push(("GRAPHMAILER_OUTBOX", "/var/spool/outbox.db"));
    assert_eq!(env(&e).unwrap_err().field(), Some("GRAPHMAILER_OUTBOX"));
}

#[test]
fn the_outbox_urls_password_is_never_shown() {
    let mut e = base();
    e.push((
        "GRAPHMAILER_OUTBOX",
        "postgres://mail:hunter2@db/graphmailer?password=hunter2",
    ));
    let c = env(&e).unwrap();
    assert!(!format!("{c:?}").contains("hunter2"), "{c:?}");
    assert!(format!("{c:?}").contains("postgres:…"), "{c:?}");
    let mut e = base();
    e.push((
        "GRAPHMAILER_OUTBOX",
        "Postgres://mail:hunter2@db/graphmailer",
    ));
    let err = env(&e).unwrap_err();
    assert!(!err.to_string().contains("hunter2"), "{err}");
    assert!(err.to_string().contains("'Postgres'"), "{err}");
}

#[test]
fn one_credential_at_a_time_in_code_and_the_secret_wins_in_the_environment() {
    let pem = format!(
        "{}/tests/no-such-certificate.pem",
        env!("CARGO_MANIFEST_DIR")
    );
    let e = Config::builder()
        .tenant_id(TENANT)
        .client_id(CLIENT)
        .client_secret("s3cret")
        .client_certificate_path(&pem)
        .build()
        .unwrap_err();
    assert_eq!(e.kind(), ErrorKind::Config);
    assert!(
        e.message().contains("AZURE_CLIENT_SECRET")
            && e.message().contains("AZURE_CLIENT_CERTIFICATE_PATH"),
        "{e}"
    );
    assert!(!e.message().contains("s3cret"));
    // The environment follows Azure's SDKs: the secret wins, the (here
    // unreadable) certificate is not even opened.
    let mut e = base();
    e.push(("AZURE_CLIENT_CERTIFICATE_PATH", pem.as_str()));
    e.push(("AZURE_CLIENT_CERTIFICATE_PASSWORD", "pw"));
    assert_eq!(env(&e).unwrap().credential_kind(), "client secret");
}

#[test]
fn the_environment_order_is_secret_certificate_federated_and_doctor_learns_why() {
    let pem = format!(
        "{}/tests/no-such-certificate.pem",
        env!("CARGO_MANIFEST_DIR")
    );
    let mut e = base();
    e.push((
        "AZURE_FEDERATED_TOKEN_FILE",
        "/var/run/secrets/azure/tokens/azure-identity-token",
    ));
    let c = env(&e).unwrap();
    assert_eq!(c.credential_kind(), "client secret");
    assert!(c.credential_reason().contains("AZURE_CLIENT_SECRET is set"));
    assert!(
        c.credential_reason()
            .contains("not used: AZURE_FEDERATED_TOKEN_FILE")
    );
    // Without a secret, the (unreadable) certificate comes before the file.
    let no_secret = |extra: &[(&'static str, &'static str)]| {
        let mut e: Vec<(&str, &str)> = base()
            .into_iter()
            .filter(|(k, _)| *k != "AZURE_CLIENT_SECRET")
            .collect();
        e.extend_from_slice(extra);
        e
    };
    let leaked: &'static str = Box::leak(pem.into_boxed_str());
    let e = no_secret(&[
        ("AZURE_CLIENT_CERTIFICATE_PATH", leaked),
        ("AZURE_FEDERATED_TOKEN_FILE", "/tmp/token"),
    ]);
    assert_eq!(
        env(&e).unwrap_err().field(),
        Some("AZURE_CLIENT_CERTIFICATE_PATH")
    );
    let c = env(&no_secret(&[("AZURE_FEDERATED_TOKEN_FILE", "/tmp/token")])).unwrap();
    assert_eq!(c.credential_kind(), "federated token file");
    assert!(
        c.credential_reason()
            .contains("AZURE_FEDERATED_TOKEN_FILE is set")
    );
    // Asked for by name, the federated file wins over a secret.
    let mut e = base();
    e.push(("AZURE_FEDERATED_TOKEN_FILE", "/tmp/token"));
    e.push(("GRAPHMAILER_CREDENTIAL", "federated"));
    let c = env(&e).unwrap();
    assert_eq!(c.credential_kind(), "federated token file");
    assert!(
        c.credential_reason()
            .contains("not used: AZURE_CLIENT_SECRET")
    );
}

#[test]
fn a_managed_identity_needs_no_tenant_and_no_client_id() {
    let c = env(&[("GRAPHMAILER_CREDENTIAL", "managed_identity")]).unwrap();
    assert_eq!(
        c.credential_kind(),
        "managed identity (IMDS, system-assigned)"
    );
    assert_eq!(c.client_id(), "");
    let c = env(&[
        ("GRAPHMAILER_CREDENTIAL", "managed_identity"),
        ("AZURE_CLIENT_ID", CLIENT),
        ("AZURE_CLIENT_SECRET", "s3cret"),
        ("IDENTITY_ENDPOINT", "http://127.0.0.1:41741/MSI/token/"),
        ("IDENTITY_HEADER", "hdr-value"),
    ])
    .unwrap();
    assert_eq!(
        c.credential_kind(),
        "managed identity (App Service, user-assigned)"
    );
    assert!(
        c.credential_reason()
            .contains("GRAPHMAILER_CREDENTIAL=managed_identity")
    );
    assert!(!format!("{c:?}").contains("hdr-value") && !format!("{c:?}").contains("s3cret"));
    let e = env(&[
        ("GRAPHMAILER_CREDENTIAL", "managed_identity"),
        ("IDENTITY_ENDPOINT", "http://127.0.0.1:41741/MSI/token/"),
    ])
    .unwrap_err();
    assert_eq!(e.field(), Some("IDENTITY_HEADER"));
    // On an Azure Arc server IDENTITY_ENDPOINT is set for every program, with
    // no header: a mailer given a secret is not stopped by it.
    let mut arc = base();
    arc.push((
        "IDENTITY_ENDPOINT",
        "http://localhost:40342/metadata/identity/oauth2/token",
    ));
    arc.push(("IMDS_ENDPOINT", "http://localhost:40342"));
    assert!(env(&arc).is_ok(), "{:?}", env(&arc).err());
    let e = env(&[
        ("GRAPHMAILER_CREDENTIAL", "managed_identity"),
        ("AZURE_POD_IDENTITY_AUTHORITY_HOST", "http://10.0.0.4"),
    ])
    .unwrap_err();
    assert_eq!(e.field(), Some("AZURE_POD_IDENTITY_AUTHORITY_HOST"));
    let e = env(&[("GRAPHMAILER_CREDENTIAL", "kerberos")]).unwrap_err();
    assert_eq!(e.field(), Some("GRAPHMAILER_CREDENTIAL"));
    // A credential given in code must be the kind asked for.
    let e = Config::builder()
        .tenant_id(TENANT)
        .client_id(CLIENT)
        .client_secret("s3cret")
        .credential_mode(crate::CredentialMode::Federated)
        .build()
        .unwrap_err();
    assert_eq!(e.field(), Some("GRAPHMAILER_CREDENTIAL"));
}

/// The README's table is the table above, printed; run with
/// `GRAPHMAILER_WRITE_README=1` to write it after changing a setting.
#[test]
fn the_readme_table_matches_the_settings() {
    let path = concat!(env!("CARGO_MANIFEST_DIR"), "/../README.md");
    let readme = std::fs::read_to_string(path).unwrap();
    let start = readme
        .find("| environment | file key |")
        .expect("README.md has the table of settings");
    let end = readme[start..]
        .find("\n\n")
        .map_or(readme.len(), |n| start + n + 1);
    let expected = settings_table();
    if readme[start..end] != expected && std::env::var_os("GRAPHMAILER_WRITE_README").is_some() {
        let updated = format!("{}{expected}{}", &readme[..start], &readme[end..]);
        std::fs::write(path, updated).unwrap();
        return;
    }
    assert_eq!(
        readme[start..end],
        expected,
        "README.md's table of settings differs from core's SETTINGS; paste this:\n{expected}"
    );
}
