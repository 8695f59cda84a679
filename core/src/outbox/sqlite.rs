//! The embedded store: one SQLite file in WAL mode with `synchronous=FULL`,
//! so a commit is on disk before `enqueue` returns. rusqlite is blocking:
//! every call runs on tokio's blocking threads, one connection per outbox
//! (SQLite has one writer at a time anyway), `BEGIN IMMEDIATE` for leases so
//! two processes on one file never take the same mail.

use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use bytes::Bytes;
use rusqlite::{
    Connection, OpenFlags, OptionalExtension, TransactionBehavior, named_params, params,
};

use super::store::{Command, LeaseRules, Leased, NewMail, Outcome, Pending, from_ms};
use super::types::{ListFilter, QueueId, QueueState, QueueStats, QueuedMail};
use crate::error::{Error, ErrorKind, Result};

/// Bumped when the tables change; a file with another value is refused.
const SCHEMA_VERSION: &str = "1";

const SCHEMA: &str = "
CREATE TABLE IF NOT EXISTS graphmailer_outbox_meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS graphmailer_outbox (
    id TEXT PRIMARY KEY,
    state TEXT NOT NULL,
    sender TEXT NOT NULL,
    recipients INTEGER NOT NULL,
    internet_message_id TEXT NOT NULL,
    payload BLOB NOT NULL,
    attempts INTEGER NOT NULL DEFAULT 0,
    created_ms INTEGER NOT NULL,
    next_attempt_ms INTEGER,
    lease_owner TEXT,
    lease_until_ms INTEGER,
    on_wire INTEGER NOT NULL DEFAULT 0,
    last_error TEXT,
    request_id TEXT,
    sent_ms INTEGER
);
-- Choosing the next mail reads these indexes only: the columns it needs sit
-- after `payload` in a row, and reaching them there walks the payload's
-- overflow pages, so a backlog of large mail made every lease slow.
DROP INDEX IF EXISTS graphmailer_outbox_due;
DROP INDEX IF EXISTS graphmailer_outbox_sender;
CREATE INDEX IF NOT EXISTS graphmailer_outbox_next
    ON graphmailer_outbox (state, next_attempt_ms, created_ms, sender, lease_until_ms);
CREATE INDEX IF NOT EXISTS graphmailer_outbox_in_flight
    ON graphmailer_outbox (sender, state, lease_until_ms);
CREATE INDEX IF NOT EXISTS graphmailer_outbox_message_id
    ON graphmailer_outbox (sender, internet_message_id);
CREATE TABLE IF NOT EXISTS graphmailer_outbox_budget (
    sender TEXT PRIMARY KEY, window_start_ms INTEGER NOT NULL, used INTEGER NOT NULL
);
";

const COLUMNS: &str = "id, state, sender, recipients, attempts, created_ms, next_attempt_ms, \
     last_error, request_id, sent_ms, internet_message_id, length(payload)";

/// Whether mail from `o.sender` may go now: fewer than `:max` of its mails
/// on the wire (across every worker on this file) and its request budget not
/// spent in the current window.
const FITS: &str = "(SELECT COUNT(*) FROM graphmailer_outbox AS f WHERE f.sender = o.sender \
     AND f.state = 'sending' AND f.lease_until_ms >= :now) < :max \
     AND NOT EXISTS (SELECT 1 FROM graphmailer_outbox_budget AS b \
     WHERE b.sender = o.sender AND b.window_start_ms > :now - :window AND b.used >= :budget)";

/// The next mail that may go: per state, an ordered scan of
/// `graphmailer_outbox_next` that stops at the first mail whose sender fits,
/// so a lease costs the same with ten mails queued or a million.
fn choose_next() -> String {
    let branch = |state: &str, due: &str| {
        format!(
            "SELECT * FROM (SELECT rowid AS rid, next_attempt_ms AS due, created_ms AS born \
             FROM graphmailer_outbox AS o WHERE state = '{state}' AND {due} AND {FITS} \
             ORDER BY next_attempt_ms, created_ms LIMIT 1)"
        )
    };
    format!(
        "SELECT rid FROM ({} UNION ALL {} UNION ALL {}) ORDER BY due, born LIMIT 1",
        branch("queued", "next_attempt_ms <= :now"),
        branch("deferred", "next_attempt_ms <= :now"),
        branch("sending", "lease_until_ms < :now"),
    )
}

pub(crate) struct SqliteStore {
    connection: Arc<Mutex<Connection>>,
    path: PathBuf,
}

impl SqliteStore {
    pub(crate) async fn open(path: &str) -> Result<SqliteStore> {
        let path = PathBuf::from(path);
        let opened = path.clone();
        let connection = tokio::task::spawn_blocking(move || open_file(&opened))
            .await
            .map_err(stopped)??;
        Ok(SqliteStore {
            connection: Arc::new(Mutex::new(connection)),
            path,
        })
    }

    async fn call<T: Send + 'static>(
        &self,
        what: &'static str,
        f: impl FnOnce(&mut Connection) -> rusqlite::Result<T> + Send + 'static,
    ) -> Result<T> {
        let connection = self.connection.clone();
        let path = self.path.clone();
        tokio::task::spawn_blocking(move || {
            let mut connection = connection.lock().unwrap_or_else(|e| e.into_inner());
            f(&mut connection).map_err(|e| db_error(&path, what, e, system_errno(&connection)))
        })
        .await
        .map_err(stopped)?
    }

    pub(crate) async fn insert(&self, mail: NewMail) -> Result<bool> {
        self.call("store the mail", move |c| {
            // One statement: SQLite runs one writer at a time, so the check
            // and the insert cannot be split by another process's insert.
            c.execute(
                "INSERT INTO graphmailer_outbox (id, state, sender, recipients, internet_message_id, \
                 payload, created_ms, next_attempt_ms) SELECT ?1, 'queued', ?2, ?3, ?4, ?5, ?6, ?6 \
                 WHERE NOT ?7 OR NOT EXISTS (SELECT 1 FROM graphmailer_outbox \
                     WHERE sender = ?2 AND internet_message_id = ?4)",
                params![
                    mail.id.0,
                    mail.sender,
                    mail.recipients as i64,
                    mail.internet_message_id,
                    &mail.payload[..],
                    mail.created_ms,
                    mail.unless_message_id_taken
                ],
            )
            .map(|inserted| inserted == 1)
        })
        .await
    }

    pub(crate) async fn get(&self, id: &QueueId) -> Result<Option<QueuedMail>> {
        let id = id.0.clone();
        self.call("read the mail", move |c| {
            c.query_row(
                &format!("SELECT {COLUMNS} FROM graphmailer_outbox WHERE id = ?1"),
                [id],
                row_to_mail,
            )
            .optional()
        })
        .await
    }

    pub(crate) async fn list(&self, filter: &ListFilter) -> Result<Vec<QueuedMail>> {
        let state = filter.state.map(|s| s.name().to_owned());
        let limit = filter.limit.map_or(-1, |l| l as i64);
        self.call("list the queue", move |c| {
            let mut statement = c.prepare(&format!(
                "SELECT {COLUMNS} FROM graphmailer_outbox WHERE (?1 IS NULL OR state = ?1) \
                 ORDER BY created_ms, id LIMIT ?2"
            ))?;
            let rows = statement.query_map(params![state, limit], row_to_mail)?;
            rows.collect()
        })
        .await
    }

    pub(crate) async fn stats(&self, now_ms: i64) -> Result<QueueStats> {
        self.call("count the queue", move |c| {
            let mut stats = QueueStats::default();
            for state in QueueState::ALL {
                stats.by_state.insert(state, 0);
            }
            let mut statement =
                c.prepare("SELECT state, COUNT(*) FROM graphmailer_outbox GROUP BY state")?;
            let mut rows = statement.query([])?;
            while let Some(row) = rows.next()? {
                let state: String = row.get(0)?;
                let count: i64 = row.get(1)?;
                if let Ok(state) = state.parse::<QueueState>() {
                    stats.by_state.insert(state, count as u64);
                }
            }
            let oldest: Option<i64> = c.query_row(
                "SELECT MIN(created_ms) FROM graphmailer_outbox WHERE state NOT IN ('sent', 'failed')",
                [],
                |r| r.get(0),
            )?;
            stats.oldest_unsent_age =
                oldest.map(|t| Duration::from_millis((now_ms - t).max(0) as u64));
            Ok(stats)
        })
        .await
    }

    pub(crate) async fn lease(
        &self,
        rules: &LeaseRules,
        only: Option<&QueueId>,
    ) -> Result<Option<Leased>> {
        let owner = rules.owner.clone();
        let (now, lease_ms, max, budget, window) = (
            rules.now_ms,
            rules.lease_ms,
            rules.max_in_flight as i64,
            rules.budget as i64,
            rules.budget_window_ms,
        );
        let only = only.map(|id| id.0.clone());
        self.call("lease a mail", move |c| {
            let tx = c.transaction_with_behavior(TransactionBehavior::Immediate)?;
            let chosen: Option<i64> = match &only {
                Some(id) => tx.query_row(
                    &format!(
                        "SELECT rowid FROM graphmailer_outbox AS o WHERE id = :only \
                         AND ((state IN ('queued', 'deferred') AND next_attempt_ms <= :now) \
                              OR (state = 'sending' AND lease_until_ms < :now)) AND {FITS}"
                    ),
                    named_params! {":only": id, ":now": now, ":max": max, ":budget": budget, ":window": window},
                    |r| r.get(0),
                ),
                None => tx.query_row(
                    &choose_next(),
                    named_params! {":now": now, ":max": max, ":budget": budget, ":window": window},
                    |r| r.get(0),
                ),
            }
            .optional()?;
            let Some(rowid) = chosen else {
                return Ok(None);
            };
            let (mut leased, state) = tx.query_row(
                "SELECT id, sender, internet_message_id, payload, attempts, created_ms, on_wire, state \
                 FROM graphmailer_outbox WHERE rowid = ?1",
                [rowid],
                |r| {
                    Ok((
                        Leased {
                            id: QueueId(r.get(0)?),
                            owner: owner.clone(),
                            sender: r.get(1)?,
                            internet_message_id: r.get(2)?,
                            payload: Bytes::from(r.get::<_, Vec<u8>>(3)?),
                            attempts: r.get::<_, i64>(4)? as u32 + 1,
                            created_ms: r.get(5)?,
                            must_reconcile: r.get::<_, i64>(6)? != 0,
                        },
                        r.get::<_, String>(7)?,
                    ))
                },
            )?;
            // A sending mail whose lease ran out was on the wire when its worker stopped.
            leased.must_reconcile |= state == "sending";
            tx.execute(
                "UPDATE graphmailer_outbox SET state = 'sending', lease_owner = ?2, \
                 lease_until_ms = ?3, on_wire = 1, attempts = ?4 WHERE id = ?1",
                params![leased.id.0, owner, now + lease_ms, leased.attempts as i64],
            )?;
            tx.execute(
                "INSERT INTO graphmailer_outbox_budget (sender, window_start_ms, used) VALUES (?1, ?2, 1) \
                 ON CONFLICT (sender) DO UPDATE SET \
                   used = CASE WHEN window_start_ms > ?2 - ?3 THEN used + 1 ELSE 1 END, \
                   window_start_ms = CASE WHEN window_start_ms > ?2 - ?3 THEN window_start_ms ELSE ?2 END",
                params![leased.sender, now, window],
            )?;
            tx.commit()?;
            Ok(Some(leased))
        })
        .await
    }

    pub(crate) async fn finish(&self, id: &QueueId, owner: &str, outcome: Outcome) -> Result<bool> {
        let id = id.0.clone();
        let owner = owner.to_owned();
        let now = super::store::now_ms();
        self.call("record the outcome", move |c| {
            let (state, next, error, request_id, sent, on_wire) = match outcome {
                Outcome::Sent { request_id, note } => {
                    ("sent", None, note, request_id, Some(now), 0)
                }
                Outcome::Deferred {
                    next_ms,
                    error,
                    must_reconcile,
                } => (
                    "deferred",
                    Some(next_ms),
                    Some(error),
                    None,
                    None,
                    must_reconcile as i64,
                ),
                Outcome::Failed {
                    error,
                    must_reconcile,
                } => (
                    "failed",
                    None,
                    Some(error),
                    None,
                    None,
                    must_reconcile as i64,
                ),
                Outcome::Uncertain { error } => ("uncertain", None, Some(error), None, None, 1),
            };
            // The message is not needed once sent: keep the record, free the
            // space, in the same statement (one commit, one sync).
            let changed = c.execute(
                "UPDATE graphmailer_outbox SET state = ?3, next_attempt_ms = ?4, last_error = ?5, \
                 request_id = COALESCE(?6, request_id), sent_ms = ?7, on_wire = ?8, \
                 lease_owner = NULL, lease_until_ms = NULL, \
                 payload = CASE WHEN ?3 = 'sent' THEN x'' ELSE payload END \
                 WHERE id = ?1 AND state = 'sending' AND lease_owner = ?2",
                params![id, owner, state, next, error, request_id, sent, on_wire],
            )?;
            Ok(changed == 1)
        })
        .await
    }

    pub(crate) async fn renew(&self, id: &QueueId, owner: &str, until_ms: i64) -> Result<bool> {
        let (id, owner) = (id.0.clone(), owner.to_owned());
        self.call("renew a lease", move |c| {
            let changed = c.execute(
                "UPDATE graphmailer_outbox SET lease_until_ms = ?3 \
                 WHERE id = ?1 AND state = 'sending' AND lease_owner = ?2",
                params![id, owner, until_ms],
            )?;
            Ok(changed == 1)
        })
        .await
    }

    pub(crate) async fn command(
        &self,
        id: &QueueId,
        command: Command,
        now_ms: i64,
    ) -> Result<bool> {
        let id = id.0.clone();
        self.call("change the mail", move |c| {
            let changed = match command {
                Command::Retry => c.execute(
                    "UPDATE graphmailer_outbox SET state = 'queued', next_attempt_ms = ?2 \
                     WHERE id = ?1 AND state IN ('deferred', 'failed') AND length(payload) > 0",
                    params![id, now_ms],
                )?,
                Command::Release => c.execute(
                    "UPDATE graphmailer_outbox SET state = 'queued', next_attempt_ms = ?2, on_wire = 0 \
                     WHERE id = ?1 AND state = 'uncertain'",
                    params![id, now_ms],
                )?,
                Command::Delete => c.execute(
                    "DELETE FROM graphmailer_outbox WHERE id = ?1 AND state <> 'sending'",
                    [&id],
                )?,
            };
            Ok(changed == 1)
        })
        .await
    }

    pub(crate) async fn retry_all_deferred(&self, now_ms: i64) -> Result<u64> {
        self.call("retry deferred mail", move |c| {
            c.execute(
                "UPDATE graphmailer_outbox SET state = 'queued', next_attempt_ms = ?1 WHERE state = 'deferred'",
                [now_ms],
            )
            .map(|n| n as u64)
        })
        .await
    }

    pub(crate) async fn pending(&self, rules: &LeaseRules) -> Result<Pending> {
        let (now_ms, budget, window) = (rules.now_ms, rules.budget as i64, rules.budget_window_ms);
        self.call("look for due mail", move |c| {
            let due: bool = c.query_row(
                "SELECT EXISTS (SELECT 1 FROM graphmailer_outbox AS o WHERE ((state IN ('queued', 'deferred') \
                 AND next_attempt_ms <= ?1) OR (state = 'sending' AND lease_until_ms < ?1)) \
                 AND NOT EXISTS (SELECT 1 FROM graphmailer_outbox_budget AS b \
                      WHERE b.sender = o.sender AND b.window_start_ms > ?1 - ?3 AND b.used >= ?2))",
                params![now_ms, budget, window],
                |r| r.get(0),
            )?;
            if due {
                return Ok(Pending::DueNow);
            }
            let leased: Option<i64> = c.query_row(
                "SELECT MIN(lease_until_ms) FROM graphmailer_outbox WHERE state = 'sending'",
                [],
                |r| r.get(0),
            )?;
            Ok(leased.map_or(Pending::Empty, Pending::LeasedUntil))
        })
        .await
    }
}

fn open_file(path: &Path) -> Result<Connection> {
    let connection = Connection::open_with_flags(
        path,
        OpenFlags::SQLITE_OPEN_READ_WRITE
            | OpenFlags::SQLITE_OPEN_CREATE
            | OpenFlags::SQLITE_OPEN_NO_MUTEX,
    )
    .map_err(|e| open_error(path, e, 0))?;
    let writable = !connection
        .is_readonly(rusqlite::MAIN_DB)
        .map_err(|e| open_error(path, e, system_errno(&connection)))?;
    let fail = |e: rusqlite::Error| {
        // SQLite fell back to reading a file it may not write (a read-only
        // mount, or modes): what fails next is the -wal and -shm files it
        // cannot create beside it, which is the same fact.
        let companions = matches!(&e, rusqlite::Error::SqliteFailure(f, _)
            if matches!(f.code, rusqlite::ErrorCode::CannotOpen | rusqlite::ErrorCode::ReadOnly));
        if !writable && companions {
            refused(path, "open the queue", Refusal::ReadOnly)
        } else {
            open_error(path, e, system_errno(&connection))
        }
    };
    connection
        .busy_timeout(Duration::from_secs(10))
        .map_err(fail)?;
    if writable {
        // WAL lets readers (`queue list`) run beside a worker; FULL syncs the
        // log on every commit, the durability `enqueue` promises.
        let mode: String = connection
            .query_row("PRAGMA journal_mode = WAL", [], |r| r.get(0))
            .map_err(fail)?;
        let wal = mode.eq_ignore_ascii_case("wal");
        if !wal {
            tracing::warn!(path = %path.display(), mode, "the outbox's file system does not support WAL");
        }
        // Without WAL a commit ends by deleting the rollback journal, and
        // only EXTRA syncs the directory after that: with FULL, a power loss
        // just after `enqueue` returned could roll the mail back.
        connection
            .execute_batch(if wal {
                "PRAGMA synchronous = FULL;"
            } else {
                "PRAGMA synchronous = EXTRA;"
            })
            .map_err(fail)?;
    }
    check_owner(&connection, path, &fail)?;
    if writable {
        connection.execute_batch(SCHEMA).map_err(fail)?;
        connection
            .execute(
                "INSERT OR IGNORE INTO graphmailer_outbox_meta (key, value) VALUES ('schema', ?1)",
                [SCHEMA_VERSION],
            )
            .map_err(fail)?;
    }
    let version: Option<String> = connection
        .query_row(
            "SELECT value FROM graphmailer_outbox_meta WHERE key = 'schema'",
            [],
            |r| r.get(0),
        )
        .optional()
        .map_err(fail)?;
    let Some(version) = version else {
        // Only a read-only file can lack the row: a writable one got it above.
        return Err(refused(path, "create the queue", Refusal::ReadOnly));
    };
    if version != SCHEMA_VERSION {
        return Err(Error::config(
            "outbox",
            format!(
                "'{}' holds an outbox of schema {version}; this graphmailer reads schema {SCHEMA_VERSION}",
                path.display()
            ),
        ));
    }
    Ok(connection)
}

/// Refuses a database that belongs to another program, rather than adding
/// tables to it.
fn check_owner(
    connection: &Connection,
    path: &Path,
    fail: &dyn Fn(rusqlite::Error) -> Error,
) -> Result<()> {
    let tables: Vec<String> = connection
        .prepare("SELECT name FROM sqlite_master WHERE type = 'table'")
        .and_then(|mut s| s.query_map([], |r| r.get(0))?.collect())
        .map_err(fail)?;
    let ours = |t: &String| t.starts_with("graphmailer_outbox");
    if !tables.is_empty() && !tables.iter().any(ours) {
        return Err(Error::config(
            "outbox",
            format!(
                "'{}' is a SQLite database of another program (tables {}); point the outbox at a file of its own",
                path.display(),
                tables.join(", ")
            ),
        ));
    }
    Ok(())
}

fn row_to_mail(r: &rusqlite::Row<'_>) -> rusqlite::Result<QueuedMail> {
    let state: String = r.get(1)?;
    Ok(QueuedMail {
        id: QueueId(r.get(0)?),
        state: state.parse().unwrap_or(QueueState::Queued),
        sender: r.get(2)?,
        recipients: r.get::<_, i64>(3)? as usize,
        attempts: r.get::<_, i64>(4)? as u32,
        created: from_ms(r.get(5)?),
        next_attempt: r
            .get::<_, Option<i64>>(6)?
            .filter(|_| matches!(state.as_str(), "queued" | "deferred"))
            .map(from_ms),
        last_error: r.get(7)?,
        request_id: r.get(8)?,
        sent_at: r.get::<_, Option<i64>>(9)?.map(from_ms),
        internet_message_id: r.get(10)?,
        size: r.get::<_, i64>(11)? as u64,
    })
}

fn open_error(path: &Path, e: rusqlite::Error, errno: i32) -> Error {
    if let Some(refusal) = Refusal::of(&e, errno) {
        return refused(path, "open the queue", refusal);
    }
    Error::config(
        "outbox",
        format!("cannot open the SQLite outbox '{}': {e}", path.display()),
    )
    .with_hint("point `outbox` at a file this user can write, in a directory of its own (for example sqlite:/var/spool/graphmailer/outbox.db)")
}

fn db_error(path: &Path, what: &str, e: rusqlite::Error, errno: i32) -> Error {
    if let Some(refusal) = Refusal::of(&e, errno) {
        return refused(path, what, refusal);
    }
    Error::new(
        ErrorKind::Transient,
        format!("outbox: cannot {what} in '{}': {e}", path.display()),
    )
    .with_field("outbox")
}

/// The OS error behind the connection's last failure (0 when there was none).
fn system_errno(connection: &Connection) -> i32 {
    // SAFETY: the handle belongs to `connection`, which outlives the call;
    // sqlite3_system_errno only reads the last error recorded on it.
    unsafe { rusqlite::ffi::sqlite3_system_errno(connection.handle()) }
}

/// A write the file system turned down, as opposed to a broken database.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Refusal {
    Full,
    FileSizeLimit,
    ReadOnly,
}

impl Refusal {
    /// SQLite says SQLITE_FULL for ENOSPC on a data write, but an I/O error
    /// for the same ENOSPC when it grows the shared-memory file or syncs,
    /// and SQLITE_READONLY or SQLITE_CANTOPEN for a read-only mount: the OS
    /// error decides where SQLite's code does not.
    fn of(e: &rusqlite::Error, errno: i32) -> Option<Refusal> {
        let rusqlite::Error::SqliteFailure(failure, _) = e else {
            return None;
        };
        match failure.code {
            rusqlite::ErrorCode::DiskFull => {
                Some(Refusal::by_errno(errno).unwrap_or(Refusal::Full))
            }
            rusqlite::ErrorCode::ReadOnly => Some(Refusal::ReadOnly),
            rusqlite::ErrorCode::SystemIoFailure
            | rusqlite::ErrorCode::CannotOpen
            | rusqlite::ErrorCode::DatabaseBusy => Refusal::by_errno(errno),
            _ => None,
        }
    }

    #[cfg(unix)]
    fn by_errno(errno: i32) -> Option<Refusal> {
        match errno {
            libc::ENOSPC | libc::EDQUOT => Some(Refusal::Full),
            libc::EFBIG => Some(Refusal::FileSizeLimit),
            libc::EROFS => Some(Refusal::ReadOnly),
            _ => None,
        }
    }

    #[cfg(not(unix))]
    fn by_errno(_errno: i32) -> Option<Refusal> {
        None
    }
}

/// A clear error for a refused write: what happened to which file, and that
/// nothing already queued was lost (the commit that failed was rolled back).
fn refused(path: &Path, what: &str, refusal: Refusal) -> Error {
    let shown = path.display();
    let (message, hint) = match refusal {
        Refusal::Full => (
            format!(
                "outbox: the disk holding '{shown}' is full: could not {what}; mail already queued is kept"
            ),
            "free space on that file system (or raise the user's quota), then send again",
        ),
        Refusal::FileSizeLimit => (
            format!(
                "outbox: '{shown}' reached this process's file-size limit (ulimit -f): could not {what}; mail already queued is kept"
            ),
            "raise the file-size limit of the service or shell that runs graphmailer (ulimit -f, LimitFSIZE=)",
        ),
        Refusal::ReadOnly => (
            format!(
                "outbox: '{shown}' is read-only (a read-only mount, or a file or directory this user may not write): could not {what}; mail already queued is kept"
            ),
            "remount it read-write, or let this user write the file and its directory (SQLite adds -wal and -shm files beside it)",
        ),
    };
    Error::new(ErrorKind::Transient, message)
        .with_field("outbox")
        .with_hint(hint)
}

fn stopped(e: tokio::task::JoinError) -> Error {
    Error::new(
        ErrorKind::Service,
        format!("the outbox's database call stopped: {e}"),
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A lease must not read rows or sort the backlog: with mail queued
    /// behind large payloads, either made every send wait on the queue's size.
    #[test]
    fn choosing_the_next_mail_reads_one_index_in_order() {
        let c = Connection::open_in_memory().unwrap();
        c.execute_batch(SCHEMA).unwrap();
        let plan: Vec<String> = c
            .prepare(&format!("EXPLAIN QUERY PLAN {}", choose_next()))
            .unwrap()
            .query_map(
                named_params! {":now": 1, ":max": 4, ":budget": 1, ":window": 1},
                |r| r.get(3),
            )
            .unwrap()
            .collect::<rusqlite::Result<_>>()
            .unwrap();
        let scans: Vec<&String> = plan.iter().filter(|l| l.starts_with("SEARCH o")).collect();
        assert_eq!(scans.len(), 3, "{plan:#?}");
        for scan in scans {
            assert!(
                scan.contains("USING COVERING INDEX graphmailer_outbox_next"),
                "{plan:#?}"
            );
        }
        let in_flight = plan.iter().filter(|l| l.starts_with("SEARCH f")).count();
        assert_eq!(
            plan.iter()
                .filter(|l| l.contains("COVERING INDEX graphmailer_outbox_in_flight"))
                .count(),
            in_flight,
            "{plan:#?}"
        );
        // Only the three candidates are sorted at the end.
        assert_eq!(
            plan.iter().filter(|l| l.contains("TEMP B-TREE")).count(),
            1,
            "{plan:#?}"
        );
        assert!(plan.last().unwrap().contains("TEMP B-TREE"), "{plan:#?}");
    }
}
