//! `--store PATH`: the messages, drafts (with their attachments and open
//! upload sessions) and counters kept in a SQLite file, so an emulator
//! restarted on the same file shows what it had, and a client can resume
//! an upload across the restart. Memory stays the default.
//!
//! Every change is written through at once, so a killed emulator loses
//! nothing it answered for. The file is held with SQLite's exclusive
//! locking mode for the emulator's whole life: a second emulator on the
//! same file is refused at start instead of interleaving writes.

use std::collections::HashSet;
use std::path::{Path, PathBuf};
use std::sync::Mutex;

use bytes::Bytes;
use rusqlite::{Connection, ErrorCode, OptionalExtension, params};
use serde_json::{Map, Value, json};
use time::OffsetDateTime;
use uuid::Uuid;

use crate::Error;
use crate::drafts::{Attachment, AttachmentItem, Draft, UploadSession};
use crate::state::{Counters, StoredMessage, lock};

/// `PRAGMA application_id` of a store ("GMES"), so a foreign SQLite file
/// is refused instead of being written into.
const APPLICATION_ID: i32 = 0x474d_4553;

const SCHEMA: &str = "
CREATE TABLE messages (
    seq INTEGER PRIMARY KEY AUTOINCREMENT,
    json TEXT NOT NULL
);
CREATE TABLE drafts (
    seq INTEGER PRIMARY KEY AUTOINCREMENT,
    mailbox TEXT NOT NULL,
    id TEXT NOT NULL,
    json TEXT NOT NULL,
    UNIQUE (mailbox, id)
);
CREATE TABLE attachments (
    mailbox TEXT NOT NULL,
    draft_id TEXT NOT NULL,
    position INTEGER NOT NULL,
    id TEXT NOT NULL,
    json TEXT NOT NULL,
    bytes BLOB NOT NULL,
    PRIMARY KEY (mailbox, draft_id, id)
);
CREATE TABLE sessions (
    id TEXT PRIMARY KEY,
    mailbox TEXT NOT NULL,
    message_id TEXT NOT NULL,
    json TEXT NOT NULL
);
CREATE TABLE chunks (
    session_id TEXT NOT NULL,
    start INTEGER NOT NULL,
    bytes BLOB NOT NULL,
    PRIMARY KEY (session_id, start)
);
CREATE TABLE counters (
    one INTEGER PRIMARY KEY CHECK (one = 1),
    json TEXT NOT NULL
);
";

/// What a store held when the emulator started.
#[derive(Default)]
pub(crate) struct Loaded {
    pub messages: Vec<StoredMessage>,
    pub drafts: Vec<Draft>,
    pub sessions: Vec<SavedSession>,
    pub counters: Counters,
}

/// An upload session as a store keeps it: what it was opened for and the
/// bytes received so far.
pub(crate) struct SavedSession {
    pub id: String,
    pub token: String,
    pub mailbox: String,
    pub message_id: String,
    pub item: AttachmentItem,
    pub expires_at: OffsetDateTime,
    pub received: Vec<u8>,
}

/// An open store; `None` inside once the emulator has shut down.
pub(crate) struct Store {
    path: PathBuf,
    connection: Mutex<Option<Connection>>,
    /// The counters last written, so a request that changed none writes nothing.
    saved_counters: Mutex<Counters>,
}

impl Store {
    /// Opens (or creates) the store and reads what it holds, at most the
    /// newest `max_messages` messages.
    pub fn open(path: &Path, max_messages: usize) -> Result<(Store, Loaded), Error> {
        let fail = |message: String| Error::Store {
            path: path.to_path_buf(),
            message,
        };
        let connection = Connection::open(path).map_err(|e| fail(e.to_string()))?;
        let loaded = prepare(&connection, max_messages).map_err(fail)?;
        let store = Store {
            path: path.to_path_buf(),
            connection: Mutex::new(Some(connection)),
            saved_counters: Mutex::new(loaded.counters),
        };
        Ok((store, loaded))
    }

    /// Runs `write` in one transaction; a failure is logged, not answered:
    /// the request it came from has already been served from memory.
    fn write(
        &self,
        what: &str,
        write: impl FnOnce(&rusqlite::Transaction) -> rusqlite::Result<()>,
    ) {
        self.write_locked(&mut lock(&self.connection), what, write);
    }

    fn write_locked(
        &self,
        guard: &mut Option<Connection>,
        what: &str,
        write: impl FnOnce(&rusqlite::Transaction) -> rusqlite::Result<()>,
    ) {
        let Some(connection) = guard.as_mut() else {
            return;
        };
        let result = connection.transaction().and_then(|tx| {
            write(&tx)?;
            tx.commit()
        });
        if let Err(e) = result {
            tracing::error!(store = %self.path.display(), error = %e, "cannot save {what}");
        }
    }

    /// A message accepted, the oldest past `limit` dropped, and the
    /// counters as they stand, in one transaction. `keep` puts the message
    /// in memory and returns the counters; it runs under the store's lock,
    /// so concurrent sends reach the file in the order memory has them.
    pub fn save_message(
        &self,
        message: StoredMessage,
        limit: usize,
        keep: impl FnOnce(StoredMessage) -> Counters,
    ) {
        let json = serde_json::to_string(&message).unwrap_or_default();
        let mut guard = lock(&self.connection);
        let counters = keep(message);
        self.write_locked(&mut guard, "a message", |tx| {
            tx.execute("INSERT INTO messages (json) VALUES (?1)", [json])?;
            tx.execute(
                "DELETE FROM messages WHERE seq NOT IN
                 (SELECT seq FROM messages ORDER BY seq DESC LIMIT ?1)",
                [i64::try_from(limit.max(1)).unwrap_or(i64::MAX)],
            )?;
            save_counters(tx, &counters)
        });
        // Released first: `save_counters` takes these two locks the other way round.
        drop(guard);
        *lock(&self.saved_counters) = counters;
    }

    pub fn clear_messages(&self) {
        self.write("the cleared messages", |tx| {
            tx.execute("DELETE FROM messages", []).map(drop)
        });
    }

    /// Writes the counters if they changed since the last write.
    pub fn save_counters(&self, counters: Counters) {
        let mut saved = lock(&self.saved_counters);
        if *saved == counters {
            return;
        }
        self.write("the counters", |tx| save_counters(tx, &counters));
        *saved = counters;
    }

    /// A draft as it now is; attachments already saved are not written again
    /// (a draft only ever gains attachments, some of 150 MB).
    pub fn save_draft(&self, draft: &Draft) {
        let json = draft_json(draft).to_string();
        self.write("a draft", |tx| {
            tx.execute(
                "INSERT INTO drafts (mailbox, id, json) VALUES (?1, ?2, ?3)
                 ON CONFLICT (mailbox, id) DO UPDATE SET json = excluded.json",
                params![draft.mailbox, draft.id, json],
            )?;
            // Binding a blob copies it: only the attachments not yet saved are bound.
            let saved: HashSet<String> = tx
                .prepare("SELECT id FROM attachments WHERE mailbox = ?1 AND draft_id = ?2")?
                .query_map([&draft.mailbox, &draft.id], |r| r.get(0))?
                .collect::<rusqlite::Result<_>>()?;
            for (position, a) in draft.attachments.iter().enumerate() {
                if saved.contains(&a.id) {
                    continue;
                }
                tx.execute(
                    "INSERT INTO attachments
                     (mailbox, draft_id, position, id, json, bytes)
                     VALUES (?1, ?2, ?3, ?4, ?5, ?6)",
                    params![
                        draft.mailbox,
                        draft.id,
                        position as i64,
                        a.id,
                        attachment_json(a).to_string(),
                        &a.bytes[..]
                    ],
                )?;
            }
            Ok(())
        });
    }

    pub fn save_session(&self, session: &UploadSession) {
        let json = json!({
            "token": session.token,
            "name": session.item.name,
            "size": session.item.size,
            "content_type": session.item.content_type,
            "is_inline": session.item.is_inline,
            "content_id": session.item.content_id,
            "expires_at": nanos(session.expires_at),
        })
        .to_string();
        self.write("an upload session", |tx| {
            tx.execute(
                "INSERT OR REPLACE INTO sessions (id, mailbox, message_id, json)
                 VALUES (?1, ?2, ?3, ?4)",
                params![session.id, session.mailbox, session.message_id, json],
            )
            .map(drop)
        });
    }

    /// One chunk of an unfinished upload, as it arrived.
    pub fn save_chunk(&self, session_id: &str, start: u64, bytes: &[u8]) {
        self.write("an upload chunk", |tx| {
            tx.execute(
                "INSERT OR REPLACE INTO chunks (session_id, start, bytes) VALUES (?1, ?2, ?3)",
                params![session_id, start as i64, bytes],
            )
            .map(drop)
        });
    }

    /// A session finished, cancelled or stopped.
    pub fn delete_session(&self, id: &str) {
        self.write("an ended upload session", |tx| {
            tx.execute("DELETE FROM sessions WHERE id = ?1", [id])?;
            tx.execute("DELETE FROM chunks WHERE session_id = ?1", [id])
                .map(drop)
        });
    }

    pub fn delete_draft(&self, mailbox: &str, id: &str) {
        self.write("a deleted draft", |tx| {
            tx.execute(
                "DELETE FROM chunks WHERE session_id IN
                 (SELECT id FROM sessions WHERE mailbox = ?1 AND message_id = ?2)",
                [mailbox, id],
            )?;
            tx.execute(
                "DELETE FROM sessions WHERE mailbox = ?1 AND message_id = ?2",
                [mailbox, id],
            )?;
            tx.execute(
                "DELETE FROM drafts WHERE mailbox = ?1 AND id = ?2",
                [mailbox, id],
            )?;
            tx.execute(
                "DELETE FROM attachments WHERE mailbox = ?1 AND draft_id = ?2",
                [mailbox, id],
            )
            .map(drop)
        });
    }

    pub fn clear_drafts(&self) {
        self.write("the cleared drafts", |tx| {
            tx.execute_batch(
                "DELETE FROM drafts; DELETE FROM attachments; DELETE FROM sessions;
                 DELETE FROM chunks;",
            )
        });
    }

    /// `POST /_emulator/reset`: nothing kept, counters at zero.
    pub fn reset(&self) {
        self.write("the reset", |tx| {
            tx.execute_batch(
                "DELETE FROM messages; DELETE FROM drafts; DELETE FROM attachments;
                 DELETE FROM sessions; DELETE FROM chunks; DELETE FROM counters;",
            )
        });
        *lock(&self.saved_counters) = Counters::default();
    }

    /// Saves the last counters and releases the file, so another emulator
    /// may open it as soon as this one has stopped.
    pub fn close(&self, counters: Counters) {
        self.save_counters(counters);
        lock(&self.connection).take();
    }
}

/// Takes the exclusive lock, checks the file is a store (or empty, and
/// makes it one) and reads it; `Err` says why not, for the person who gave `--store`.
fn prepare(connection: &Connection, max_messages: usize) -> Result<Loaded, String> {
    let sqlite = |e: rusqlite::Error| explain(&e);
    // No waiting: a store held by another emulator is refused at once.
    connection
        .busy_timeout(std::time::Duration::ZERO)
        .map_err(sqlite)?;
    connection
        .pragma_update(None, "locking_mode", "EXCLUSIVE")
        .map_err(sqlite)?;
    // The first write takes the exclusive lock, kept until the connection closes.
    connection
        .execute_batch("BEGIN EXCLUSIVE")
        .map_err(sqlite)?;
    match check_or_create(connection) {
        Ok(()) => connection.execute_batch("COMMIT").map_err(sqlite)?,
        Err(e) => {
            let _ = connection.execute_batch("ROLLBACK");
            return Err(e);
        }
    }
    load(connection, max_messages).map_err(sqlite)
}

fn check_or_create(connection: &Connection) -> Result<(), String> {
    let sqlite = |e: rusqlite::Error| explain(&e);
    let id: i32 = connection
        .query_row("PRAGMA application_id", [], |r| r.get(0))
        .map_err(sqlite)?;
    if id == APPLICATION_ID {
        return Ok(());
    }
    let objects: i64 = connection
        .query_row("SELECT count(*) FROM sqlite_master", [], |r| r.get(0))
        .map_err(sqlite)?;
    if objects > 0 || id != 0 {
        return Err(
            "a SQLite database of something else, not a graphmailer emulator store".to_owned(),
        );
    }
    connection
        .pragma_update(None, "application_id", APPLICATION_ID)
        .map_err(sqlite)?;
    connection.execute_batch(SCHEMA).map_err(sqlite)
}

/// What went wrong, said for the person who gave `--store`.
fn explain(error: &rusqlite::Error) -> String {
    match error {
        rusqlite::Error::SqliteFailure(e, _) => match e.code {
            ErrorCode::DatabaseBusy | ErrorCode::DatabaseLocked => {
                "in use by another emulator (the file is locked); give each emulator its own store"
                    .to_owned()
            }
            ErrorCode::NotADatabase | ErrorCode::DatabaseCorrupt => {
                format!(
                    "not a graphmailer emulator store: the file is corrupt or not SQLite ({error})"
                )
            }
            _ => error.to_string(),
        },
        rusqlite::Error::FromSqlConversionFailure(..) | rusqlite::Error::InvalidColumnType(..) => {
            format!("not a graphmailer emulator store: {error}")
        }
        _ => error.to_string(),
    }
}

fn load(connection: &Connection, max_messages: usize) -> rusqlite::Result<Loaded> {
    let corrupt = |what: &str, e: String| {
        rusqlite::Error::FromSqlConversionFailure(
            0,
            rusqlite::types::Type::Text,
            format!("{what}: {e}").into(),
        )
    };
    let mut messages = Vec::new();
    let mut statement = connection.prepare(
        "SELECT json FROM (SELECT seq, json FROM messages ORDER BY seq DESC LIMIT ?1)
         ORDER BY seq",
    )?;
    let rows = statement.query_map(
        [i64::try_from(max_messages.max(1)).unwrap_or(i64::MAX)],
        |r| r.get::<_, String>(0),
    )?;
    for json in rows {
        let message =
            serde_json::from_str(&json?).map_err(|e| corrupt("a message", e.to_string()))?;
        messages.push(message);
    }
    let counters = connection
        .query_row("SELECT json FROM counters", [], |r| r.get::<_, String>(0))
        .optional()?
        .map(|json| serde_json::from_str(&json).map_err(|e| corrupt("the counters", e.to_string())))
        .transpose()?
        .unwrap_or_default();
    let mut drafts = Vec::new();
    let mut statement = connection.prepare("SELECT json FROM drafts ORDER BY seq")?;
    let rows = statement.query_map([], |r| r.get::<_, String>(0))?;
    for json in rows {
        let value: Value =
            serde_json::from_str(&json?).map_err(|e| corrupt("a draft", e.to_string()))?;
        let mut draft =
            draft_from_json(&value).ok_or_else(|| corrupt("a draft", json_of(&value)))?;
        draft.attachments = load_attachments(connection, &draft)?;
        drafts.push(draft);
    }
    let sessions = load_sessions(connection)?;
    Ok(Loaded {
        messages,
        drafts,
        sessions,
        counters,
    })
}

fn load_sessions(connection: &Connection) -> rusqlite::Result<Vec<SavedSession>> {
    let mut statement =
        connection.prepare("SELECT id, mailbox, message_id, json FROM sessions ORDER BY rowid")?;
    let rows = statement.query_map([], |r| {
        Ok((
            r.get::<_, String>(0)?,
            r.get::<_, String>(1)?,
            r.get::<_, String>(2)?,
            r.get::<_, String>(3)?,
        ))
    })?;
    let mut chunks =
        connection.prepare("SELECT bytes FROM chunks WHERE session_id = ?1 ORDER BY start")?;
    let mut sessions = Vec::new();
    for row in rows {
        let (id, mailbox, message_id, json) = row?;
        let shape = || {
            rusqlite::Error::FromSqlConversionFailure(
                0,
                rusqlite::types::Type::Text,
                "an upload session of unexpected shape".into(),
            )
        };
        let v: Value = serde_json::from_str(&json).map_err(|_| shape())?;
        let item = AttachmentItem {
            name: v["name"].as_str().ok_or_else(shape)?.to_owned(),
            size: v["size"].as_u64().ok_or_else(shape)?,
            content_type: v["content_type"].as_str().ok_or_else(shape)?.to_owned(),
            is_inline: v["is_inline"].as_bool().ok_or_else(shape)?,
            content_id: v["content_id"].as_str().map(str::to_owned),
        };
        let mut received = Vec::new();
        for chunk in chunks.query_map([&id], |r| r.get::<_, Vec<u8>>(0))? {
            received.extend_from_slice(&chunk?);
        }
        sessions.push(SavedSession {
            token: v["token"].as_str().ok_or_else(shape)?.to_owned(),
            expires_at: from_nanos(&v["expires_at"]).ok_or_else(shape)?,
            id,
            mailbox,
            message_id,
            item,
            received,
        });
    }
    Ok(sessions)
}

fn json_of(value: &Value) -> String {
    format!(
        "unexpected shape {}",
        value.to_string().chars().take(80).collect::<String>()
    )
}

fn load_attachments(connection: &Connection, draft: &Draft) -> rusqlite::Result<Vec<Attachment>> {
    let mut statement = connection.prepare(
        "SELECT json, bytes FROM attachments WHERE mailbox = ?1 AND draft_id = ?2
         ORDER BY position",
    )?;
    let rows = statement.query_map([&draft.mailbox, &draft.id], |r| {
        Ok((r.get::<_, String>(0)?, r.get::<_, Vec<u8>>(1)?))
    })?;
    let mut attachments = Vec::new();
    for row in rows {
        let (json, bytes) = row?;
        let attachment = serde_json::from_str::<Value>(&json)
            .ok()
            .and_then(|v| attachment_from_json(&v, bytes))
            .ok_or_else(|| {
                rusqlite::Error::FromSqlConversionFailure(
                    0,
                    rusqlite::types::Type::Text,
                    "an attachment of unexpected shape".into(),
                )
            })?;
        attachments.push(attachment);
    }
    Ok(attachments)
}

fn save_counters(tx: &rusqlite::Transaction, counters: &Counters) -> rusqlite::Result<()> {
    let json = serde_json::to_string(counters).unwrap_or_default();
    tx.execute(
        "INSERT INTO counters (one, json) VALUES (1, ?1)
         ON CONFLICT (one) DO UPDATE SET json = excluded.json",
        [json],
    )
    .map(drop)
}

/// Times as nanoseconds since the epoch: exact, whatever the format's precision.
fn nanos(t: OffsetDateTime) -> String {
    t.unix_timestamp_nanos().to_string()
}

fn from_nanos(value: &Value) -> Option<OffsetDateTime> {
    let n: i128 = value.as_str()?.parse().ok()?;
    OffsetDateTime::from_unix_timestamp_nanos(n).ok()
}

fn draft_json(draft: &Draft) -> Value {
    json!({
        "id": draft.id,
        "mailbox": draft.mailbox,
        "app_id": draft.app_id,
        "created_at": nanos(draft.created_at),
        "message": draft.message,
        "mime": draft.mime,
    })
}

fn draft_from_json(value: &Value) -> Option<Draft> {
    Some(Draft {
        id: value["id"].as_str()?.to_owned(),
        mailbox: value["mailbox"].as_str()?.to_owned(),
        app_id: Uuid::parse_str(value["app_id"].as_str()?).ok()?,
        created_at: from_nanos(&value["created_at"])?,
        message: value["message"]
            .as_object()
            .cloned()
            .unwrap_or_else(Map::new),
        attachments: Vec::new(),
        mime: value["mime"].as_str().map(str::to_owned),
    })
}

fn attachment_json(a: &Attachment) -> Value {
    json!({
        "id": a.id,
        "name": a.name,
        "content_type": a.content_type,
        "is_inline": a.is_inline,
        "content_id": a.content_id,
        "modified_at": nanos(a.modified_at),
    })
}

fn attachment_from_json(value: &Value, bytes: Vec<u8>) -> Option<Attachment> {
    Some(Attachment {
        id: value["id"].as_str()?.to_owned(),
        name: value["name"].as_str()?.to_owned(),
        content_type: value["content_type"].as_str()?.to_owned(),
        is_inline: value["is_inline"].as_bool()?,
        content_id: value["content_id"].as_str().map(str::to_owned),
        bytes: Bytes::from(bytes),
        modified_at: from_nanos(&value["modified_at"])?,
    })
}
