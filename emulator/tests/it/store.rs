//! `--store PATH`: messages, drafts with their attachments and counters kept
//! in a SQLite file across restarts, over real HTTP; reset empties it; one
//! emulator per file; a corrupt or foreign file is refused naming the path;
//! without the option nothing is written.

use crate::common;

use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

use base64::Engine;
use base64::engine::general_purpose::STANDARD;
use common::{Emu, message};
use graphmailer_emulator::{Options, defaults as d};
use serde_json::{Value, json};

/// An upload session's size: the smallest Graph takes is 3 MB.
const UPLOAD: usize = 3 * 1024 * 1024 + 10;
/// Its first chunk, sent before the restart (a multiple of 320 KiB).
const FIRST: usize = 4 * 320 * 1024;

/// A fresh, empty folder of the test's own under the system's temporary directory.
fn scratch(name: &str) -> PathBuf {
    let dir = std::env::temp_dir().join(format!(
        "graphmailer-store-test-{}-{name}",
        std::process::id()
    ));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    dir
}

fn with_store(path: &Path) -> Options {
    Options {
        tls: false,
        store: Some(path.to_path_buf()),
        ..Options::default()
    }
}

impl Emu {
    /// The test API's answer as the exact text served.
    async fn text(&self, path: &str) -> String {
        let response = self
            .http
            .get(format!("{}/_emulator/{path}", self.url()))
            .send()
            .await
            .unwrap();
        assert_eq!(response.status(), 200, "{path}");
        response.text().await.unwrap()
    }

    /// What the test API shows of messages, drafts and counters.
    async fn remembered(&self) -> [String; 3] {
        [
            self.text("messages").await,
            self.text("drafts").await,
            self.text("counters").await,
        ]
    }
}

#[tokio::test]
async fn messages_drafts_and_counters_come_back_after_a_restart() {
    let dir = scratch("restart");
    let path = dir.join("emulator.sqlite");
    let emu = Emu::start_with(with_store(&path)).await;
    let token = emu.erp_token().await;

    assert_eq!(
        emu.send(&token, d::ERP_MAILBOX, &message("json"))
            .await
            .status,
        202
    );
    let mime =
        "From: erp@contoso.test\r\nTo: someone@example.com\r\nSubject: MIME\r\n\r\nHello\r\n";
    let sent = emu
        .http
        .post(format!(
            "{}/v1.0/users/{}/sendMail",
            emu.url(),
            d::ERP_MAILBOX
        ))
        .bearer_auth(&token)
        .header("content-type", "text/plain")
        .body(STANDARD.encode(mime))
        .send()
        .await
        .unwrap();
    assert_eq!(sent.status(), 202);

    let billing = emu.token(d::BILLING_CLIENT_ID, d::BILLING_SECRET).await;
    let draft = emu
        .graph_post(
            &billing,
            &format!("users/{}/messages", d::BILLING_MAILBOX),
            &json!({"subject": "kept draft", "toRecipients": [{"emailAddress": {"address": "a@example.com"}}]}),
        )
        .await;
    assert_eq!(draft.status, 201, "{}", draft.json);
    let draft_id = draft.json["id"].as_str().unwrap().to_owned();
    // Every byte value, so an encoding slip anywhere shows.
    let bytes: Vec<u8> = (0..=255u8).cycle().take(3000).collect();
    let attached = emu
        .graph_post(
            &billing,
            &format!("users/{}/messages/{draft_id}/attachments", d::BILLING_MAILBOX),
            &json!({"@odata.type": "#microsoft.graph.fileAttachment", "name": "all.bin",
                    "contentType": "application/octet-stream", "contentBytes": STANDARD.encode(&bytes)}),
        )
        .await;
    assert_eq!(attached.status, 201, "{}", attached.json);
    // A second one later: the draft is saved again, the first not rewritten.
    let second = emu
        .graph_post(
            &billing,
            &format!(
                "users/{}/messages/{draft_id}/attachments",
                d::BILLING_MAILBOX
            ),
            &json!({"@odata.type": "#microsoft.graph.fileAttachment", "name": "second.txt",
                    "contentType": "text/plain", "contentBytes": STANDARD.encode("second")}),
        )
        .await;
    assert_eq!(second.status, 201, "{}", second.json);
    // An upload session with its first chunk in: it resumes after the restart.
    let session = emu
        .graph_post(
            &billing,
            &format!(
                "users/{}/messages/{draft_id}/attachments/createUploadSession",
                d::BILLING_MAILBOX
            ),
            &json!({"AttachmentItem": {"attachmentType": "file", "name": "upload.bin",
                    "size": UPLOAD, "contentType": "application/octet-stream"}}),
        )
        .await;
    assert_eq!(session.status, 201, "{}", session.json);
    let upload_url = session.json["uploadUrl"].as_str().unwrap().to_owned();
    let upload_path = upload_url.strip_prefix(emu.url()).unwrap().to_owned();
    let upload: Vec<u8> = (0..UPLOAD).map(|i| (i * 7 % 251) as u8).collect();
    assert_eq!(
        emu.put_chunk(&upload_url, 0, &upload[..FIRST], UPLOAD)
            .await
            .status,
        200
    );
    // A counter no message moves: a refused token request.
    let refused = emu
        .token_request(
            d::TENANT_ID,
            &[
                ("grant_type", "client_credentials"),
                ("client_id", d::ERP_CLIENT_ID),
                ("client_secret", "wrong"),
                ("scope", "https://graph.microsoft.com/.default"),
            ],
        )
        .await;
    assert_eq!(refused.status, 401, "{}", refused.json);

    let before = emu.remembered().await;
    let counters: Value = serde_json::from_str(&before[2]).unwrap();
    assert_eq!(counters["sends_accepted"], 2);
    assert_eq!(counters["drafts_created"], 1);
    assert_eq!(counters["upload_chunks"], 1);
    assert_eq!(counters["token_errors"], 1);
    emu.emulator.shutdown().await;

    let emu = Emu::start_with(with_store(&path)).await;
    assert_eq!(emu.remembered().await, before);
    let drafts: Value = serde_json::from_str(&before[1]).unwrap();
    assert_eq!(
        drafts["drafts"][0]["upload_sessions"][0]["next_offset"],
        FIRST
    );
    // The same upload URL on the restarted emulator takes the rest.
    let upload_url = format!("{}{upload_path}", emu.url());
    assert_eq!(
        emu.put_chunk(&upload_url, FIRST, &upload[FIRST..], UPLOAD)
            .await
            .status,
        201
    );
    let messages = emu.emulator.messages();
    assert_eq!(messages.len(), 2);
    assert_eq!(messages[1].mime.as_deref(), Some(mime));

    // The draft's attachment kept its exact bytes: sent now, it carries them.
    let billing = emu.token(d::BILLING_CLIENT_ID, d::BILLING_SECRET).await;
    let send = emu
        .graph_post(
            &billing,
            &format!("users/{}/messages/{draft_id}/send", d::BILLING_MAILBOX),
            &json!({}),
        )
        .await;
    assert_eq!(send.status, 202, "{}", send.json);
    let sent = emu.emulator.messages().pop().unwrap();
    assert_eq!(sent.draft_id.as_deref(), Some(draft_id.as_str()));
    let kept = STANDARD
        .decode(
            sent.message["attachments"][0]["contentBytes"]
                .as_str()
                .unwrap(),
        )
        .unwrap();
    assert_eq!(kept, bytes);
    assert_eq!(sent.message["attachments"][1]["name"], "second.txt");
    assert_eq!(sent.message["attachments"][2]["name"], "upload.bin");
    assert_eq!(
        sent.message["attachments"][2]["contentBytes"],
        STANDARD.encode(&upload)
    );
    assert_eq!(
        sent.message["attachments"][1]["contentBytes"],
        STANDARD.encode("second")
    );

    assert_eq!(emu.post("reset", json!({})).await.status, 204);
    emu.emulator.shutdown().await;
    let emu = Emu::start_with(with_store(&path)).await;
    assert_eq!(emu.get("messages").await.json, json!({"messages": []}));
    assert_eq!(emu.get("drafts").await.json, json!({"drafts": []}));
    assert_eq!(emu.emulator.counters(), Default::default());
    emu.emulator.shutdown().await;
    let _ = std::fs::remove_dir_all(dir);
}

#[tokio::test]
async fn the_store_keeps_only_the_newest_messages_allowed() {
    let dir = scratch("bounded");
    let path = dir.join("emulator.sqlite");
    let mut options = with_store(&path);
    options.settings.max_stored_messages = 2;
    let emu = Emu::start_with(options.clone()).await;
    let token = emu.erp_token().await;
    for subject in ["one", "two", "three"] {
        assert_eq!(
            emu.send(&token, d::ERP_MAILBOX, &message(subject))
                .await
                .status,
            202
        );
    }
    emu.emulator.shutdown().await;

    let emu = Emu::start_with(options).await;
    let subjects: Vec<_> = emu
        .emulator
        .messages()
        .iter()
        .map(|m| m.subject().unwrap().to_owned())
        .collect();
    assert_eq!(subjects, ["two", "three"]);
    assert_eq!(emu.emulator.counters().messages_dropped, 1);
    emu.emulator.shutdown().await;
    let _ = std::fs::remove_dir_all(dir);
}

#[tokio::test]
async fn a_second_emulator_on_the_same_store_is_refused_until_the_first_stops() {
    let dir = scratch("locked");
    let path = dir.join("emulator.sqlite");
    let first = Emu::start_with(with_store(&path)).await;
    let refused = graphmailer_emulator::start(with_store(&path))
        .await
        .err()
        .expect("a second emulator on the same store is refused");
    let said = refused.to_string();
    assert!(
        said.starts_with(&format!("--store {}:", path.display())),
        "{said}"
    );
    assert!(said.contains("in use by another emulator"), "{said}");

    first.emulator.shutdown().await;
    let second = Emu::start_with(with_store(&path)).await;
    second.emulator.shutdown().await;
    let _ = std::fs::remove_dir_all(dir);
}

#[tokio::test]
async fn a_corrupt_or_foreign_file_is_refused_naming_the_path() {
    let dir = scratch("corrupt");
    let corrupt = dir.join("corrupt.sqlite");
    let garbage =
        b"this is not a database, just some text that is long enough to matter".repeat(20);
    std::fs::write(&corrupt, &garbage).unwrap();
    let said = graphmailer_emulator::start(with_store(&corrupt))
        .await
        .err()
        .expect("a corrupt store is refused")
        .to_string();
    assert!(
        said.starts_with(&format!("--store {}:", corrupt.display())),
        "{said}"
    );
    assert!(said.contains("corrupt or not SQLite"), "{said}");
    assert_eq!(std::fs::read(&corrupt).unwrap(), garbage);

    let foreign = dir.join("foreign.sqlite");
    rusqlite::Connection::open(&foreign)
        .unwrap()
        .execute_batch("CREATE TABLE invoices (id INTEGER PRIMARY KEY)")
        .unwrap();
    let said = graphmailer_emulator::start(with_store(&foreign))
        .await
        .err()
        .expect("another program's database is refused")
        .to_string();
    assert!(
        said.starts_with(&format!("--store {}:", foreign.display())),
        "{said}"
    );
    assert!(said.contains("not a graphmailer emulator store"), "{said}");
    // Refused, it is left as it was.
    let tables: i64 = rusqlite::Connection::open(&foreign)
        .unwrap()
        .query_row("SELECT count(*) FROM sqlite_master", [], |r| r.get(0))
        .unwrap();
    assert_eq!(tables, 1);
    let _ = std::fs::remove_dir_all(dir);
}

/// The binary, in a folder of its own with the temporary directory there
/// too: it sends mail, and nothing appears in either folder.
#[tokio::test]
async fn without_a_store_nothing_is_written() {
    let dir = scratch("memory");
    let (mut child, banner) = spawn_binary(&dir, &[]);
    assert!(banner.get("store").is_none(), "{banner}");
    let url = banner["url"].as_str().unwrap();
    let http = reqwest::Client::builder().no_proxy().build().unwrap();
    let token: Value = http
        .post(format!("{url}/{}/oauth2/v2.0/token", d::TENANT_ID))
        .form(&[
            ("grant_type", "client_credentials"),
            ("client_id", d::ERP_CLIENT_ID),
            ("client_secret", d::ERP_SECRET),
            ("scope", "https://graph.microsoft.com/.default"),
        ])
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let sent = http
        .post(format!("{url}/v1.0/users/{}/sendMail", d::ERP_MAILBOX))
        .bearer_auth(token["access_token"].as_str().unwrap())
        .json(&message("memory only"))
        .send()
        .await
        .unwrap();
    assert_eq!(sent.status(), 202);
    let stored: Value = http
        .get(format!("{url}/_emulator/messages"))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(stored["messages"].as_array().unwrap().len(), 1);
    child.kill().unwrap();
    child.wait().unwrap();
    let left: Vec<_> = std::fs::read_dir(&dir)
        .unwrap()
        .map(|e| e.unwrap().path())
        .collect();
    assert!(left.is_empty(), "{left:?}");
    let _ = std::fs::remove_dir_all(dir);
}

/// The binary's `--store` refuses a store in use, naming the option and path.
#[tokio::test]
async fn the_binary_refuses_a_store_in_use() {
    let dir = scratch("binary");
    let path = dir.join("emulator.sqlite");
    let store = path.to_str().unwrap();
    let (mut first, banner) = spawn_binary(&dir, &["--store", store]);
    assert_eq!(banner["store"], store);
    let second = Command::new(env!("CARGO_BIN_EXE_graphmailer-emulator"))
        .args(["--http", "--store", store])
        .output()
        .unwrap();
    assert!(!second.status.success());
    let stderr = String::from_utf8_lossy(&second.stderr);
    assert!(
        stderr.contains(&format!("--store {store}: in use by another emulator")),
        "{stderr}"
    );
    first.kill().unwrap();
    first.wait().unwrap();
    let _ = std::fs::remove_dir_all(dir);
}

/// Starts the binary on plain HTTP in `dir` (its working and temporary
/// directory); returns it and its banner.
fn spawn_binary(dir: &Path, extra: &[&str]) -> (std::process::Child, Value) {
    let mut child = Command::new(env!("CARGO_BIN_EXE_graphmailer-emulator"))
        .arg("--http")
        .args(extra)
        .current_dir(dir)
        .env("TMPDIR", dir)
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let mut first = String::new();
    BufReader::new(child.stdout.take().unwrap())
        .read_line(&mut first)
        .unwrap();
    let banner: Value =
        serde_json::from_str(&first).unwrap_or_else(|e| panic!("banner {first:?}: {e}"));
    (child, banner)
}
