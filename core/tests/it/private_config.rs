//! A config file that holds a secret is refused when users outside its group
//! can read it, as ssh and msmtp refuse an exposed key.
#![cfg(unix)]

use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};

use graphmailer::{Config, ErrorKind};

const TENANT: &str = "7f3c2a9e-4b1d-4e8a-9c6f-2d5e8b1a0c37";
const CLIENT: &str = "3b9e6f2a-8c4d-4a1e-b7f5-0d2c9e8a6b14";

fn scratch(name: &str) -> PathBuf {
    let dir = std::env::temp_dir().join(format!("gm-private-{}-{name}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    dir
}

fn write(path: &Path, text: &str, mode: u32) {
    std::fs::write(path, text).unwrap();
    std::fs::set_permissions(path, std::fs::Permissions::from_mode(mode)).unwrap();
}

fn with_secret() -> String {
    format!(
        "tenant_id = \"{TENANT}\"\nclient_id = \"{CLIENT}\"\nclient_secret = \"s3cret-value\"\n"
    )
}

#[test]
fn a_secret_readable_by_everyone_is_refused_with_the_command_to_run() {
    let dir = scratch("world");
    let path = dir.join("graphmailer.toml");
    write(&path, &with_secret(), 0o644);
    let e = Config::from_file(&path).unwrap_err();
    assert_eq!(e.kind(), ErrorKind::Config);
    assert_eq!(e.field(), Some("config file"));
    let shown = path.display().to_string();
    assert!(e.message().contains(&shown), "{}", e.message());
    assert!(e.message().contains("0644"), "{}", e.message());
    assert!(e.message().contains("client_secret"), "{}", e.message());
    assert!(!e.to_string().contains("s3cret-value"), "{e}");
    let hint = e.hint().expect("a hint");
    assert!(hint.contains(&format!("chmod 640 {shown}")), "{hint}");
    assert!(
        hint.contains(&format!("chown root:mailsend {shown}")),
        "{hint}"
    );

    // Writable by the group is refused too: the group could swap the tenant.
    write(&path, &with_secret(), 0o660);
    let e = Config::from_file(&path).unwrap_err();
    assert!(e.message().contains("0660"), "{}", e.message());
    std::fs::remove_dir_all(&dir).unwrap();
}

#[test]
fn owner_only_and_group_readable_files_are_used() {
    let dir = scratch("ok");
    let path = dir.join("graphmailer.toml");
    for mode in [0o600, 0o640, 0o400] {
        write(&path, &with_secret(), mode);
        let config = Config::from_file(&path).unwrap_or_else(|e| panic!("{mode:o}: {e}"));
        assert_eq!(config.tenant_id(), TENANT);
    }
    std::fs::remove_dir_all(&dir).unwrap();
}

#[test]
fn a_file_without_secrets_may_be_readable_by_everyone() {
    let dir = scratch("public");
    let path = dir.join("graphmailer.toml");
    write(
        &path,
        &format!("tenant_id = \"{TENANT}\"\nclient_id = \"{CLIENT}\"\n"),
        0o644,
    );
    // With no credential anywhere the build stops on the missing secret; what
    // matters is that the file's mode is not what stops it.
    if let Err(e) = Config::from_file(&path) {
        assert_ne!(e.field(), Some("config file"), "{e}");
    }
    std::fs::remove_dir_all(&dir).unwrap();
}

fn openssl(dir: &Path, args: &[&str]) {
    let out = std::process::Command::new("openssl")
        .args(args)
        .current_dir(dir)
        .output()
        .expect("openssl runs");
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
}

#[test]
fn a_certificate_key_without_a_password_must_be_private_too() {
    let dir = scratch("cert");
    openssl(
        &dir,
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
            "/CN=graphmailer-test",
        ],
    );
    let both = [
        std::fs::read_to_string(dir.join("cert.pem")).unwrap(),
        std::fs::read_to_string(dir.join("key.pem")).unwrap(),
    ]
    .concat();
    let pem = dir.join("app.pem");
    let config = dir.join("graphmailer.toml");
    // The config file itself holds no secret, so 0644 is fine for it.
    write(
        &config,
        &format!(
            "tenant_id = \"{TENANT}\"\nclient_id = \"{CLIENT}\"\nclient_certificate_path = \"{}\"\n",
            pem.display()
        ),
        0o644,
    );
    write(&pem, &both, 0o644);
    let e = Config::from_file(&config).unwrap_err();
    assert_eq!(e.field(), Some("AZURE_CLIENT_CERTIFICATE_PATH"), "{e}");
    assert!(e.message().contains(&pem.display().to_string()), "{e}");
    assert!(e.message().contains("0644"), "{e}");
    assert!(e.hint().unwrap().contains("chmod 640"), "{e}");

    write(&pem, &both, 0o640);
    Config::from_file(&config).expect("a private key file is used");

    // A key under a password may be read by anyone: it is useless without it.
    openssl(
        &dir,
        &[
            "pkcs8",
            "-topk8",
            "-in",
            "key.pem",
            "-out",
            "key-enc.pem",
            "-passout",
            "pass:pw",
            "-v2",
            "aes-256-cbc",
        ],
    );
    let encrypted = [
        std::fs::read_to_string(dir.join("cert.pem")).unwrap(),
        std::fs::read_to_string(dir.join("key-enc.pem")).unwrap(),
    ]
    .concat();
    write(&pem, &encrypted, 0o644);
    write(
        &config,
        &format!(
            "tenant_id = \"{TENANT}\"\nclient_id = \"{CLIENT}\"\nclient_certificate_path = \"{}\"\n",
            pem.display()
        ),
        0o644,
    );
    // No password in the file: the key cannot be opened, and that is the error, not the mode.
    let e = Config::from_file(&config).unwrap_err();
    assert_eq!(e.field(), Some("AZURE_CLIENT_CERTIFICATE_PASSWORD"), "{e}");
    std::fs::remove_dir_all(&dir).unwrap();
}
