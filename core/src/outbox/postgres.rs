//! The shared store: PostgreSQL, for several servers on one queue. Commits
//! are durable when `enqueue` returns (the server's own `fsync` and
//! `synchronous_commit` apply). Leasing takes a transaction-scoped advisory
//! lock: the limits per mailbox count rows across every worker, and only a
//! serialised check-and-take can keep such a count (`FOR UPDATE SKIP
//! LOCKED` alone keeps two workers off one row, not off a fifth slot). A
//! lost connection is reopened on the next call, so a worker outlives a
//! database restart.

use std::time::Duration;

use bytes::Bytes;
use tokio::sync::Mutex;
use tokio_postgres::{Client, NoTls, Row};

use super::store::{Command, LeaseRules, Leased, NewMail, Outcome, Pending, from_ms, now_ms};
use super::types::{ListFilter, QueueId, QueueState, QueueStats, QueuedMail};
use crate::error::{Error, ErrorKind, Result};

/// Any number, the same in every process: the lock that serialises leases.
const LEASE_LOCK: i64 = 0x006d_6169_6c6f_7574;
/// Serialises creating the tables when several workers start at once.
const SCHEMA_LOCK: i64 = 0x006d_6169_6c6f_7575;
const SCHEMA_VERSION: &str = "1";

const SCHEMA: &str = "
CREATE TABLE IF NOT EXISTS graphmailer_outbox_meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS graphmailer_outbox (
    id TEXT PRIMARY KEY,
    state TEXT NOT NULL,
    sender TEXT NOT NULL,
    recipients BIGINT NOT NULL,
    internet_message_id TEXT NOT NULL,
    payload BYTEA NOT NULL,
    attempts BIGINT NOT NULL DEFAULT 0,
    created_ms BIGINT NOT NULL,
    next_attempt_ms BIGINT,
    lease_owner TEXT,
    lease_until_ms BIGINT,
    on_wire BOOLEAN NOT NULL DEFAULT FALSE,
    last_error TEXT,
    request_id TEXT,
    sent_ms BIGINT
);
CREATE INDEX IF NOT EXISTS graphmailer_outbox_next ON graphmailer_outbox (state, next_attempt_ms, created_ms);
DROP INDEX IF EXISTS graphmailer_outbox_due;
CREATE INDEX IF NOT EXISTS graphmailer_outbox_sender ON graphmailer_outbox (sender, state);
CREATE INDEX IF NOT EXISTS graphmailer_outbox_message_id ON graphmailer_outbox (sender, internet_message_id);
CREATE TABLE IF NOT EXISTS graphmailer_outbox_budget (
    sender TEXT PRIMARY KEY, window_start_ms BIGINT NOT NULL, used BIGINT NOT NULL
);
INSERT INTO graphmailer_outbox_meta (key, value) VALUES ('schema', '1') ON CONFLICT DO NOTHING;
";

const COLUMNS: &str = "id, state, sender, recipients, attempts, created_ms, next_attempt_ms, \
     last_error, request_id, sent_ms, internet_message_id, octet_length(payload)::BIGINT";

/// The next mail a worker may take: due (or on the wire under a lease that
/// ran out), its sender under its limit of mails on the wire and within its
/// request budget, earliest due first, then oldest. The senders that may not
/// send are found once (a handful of rows: those on the wire, the budget
/// table), and each state's due mail is read in the order of
/// `graphmailer_outbox_next`, stopping at the first whose sender may send:
/// a lease reads a few rows however long the queue is, unless every due
/// mail's sender is at its limit (then the due mail is read through once).
/// Before, each lease counted the mails on the wire of every due mail's
/// sender and sorted them all: 145 leases a second with 2,000 queued.
/// The row is locked by its id with its state checked again, so a mail
/// another transaction changed since this query's snapshot (a lost lease
/// whose worker recorded the send after all) is not taken.
/// $1 now, $2 only this id (or NULL), $3 mails on the wire per sender, $4
/// the budget, $5 its window.
const LEASE_QUERY: &str = "\
WITH blocked AS (
    SELECT sender FROM graphmailer_outbox
     WHERE state = 'sending' AND lease_until_ms >= $1
     GROUP BY sender HAVING COUNT(*) >= $3
    UNION
    SELECT sender FROM graphmailer_outbox_budget
     WHERE window_start_ms > $1 - $5 AND used >= $4
), first_due AS (
    (SELECT id, next_attempt_ms, created_ms FROM graphmailer_outbox
      WHERE state = 'queued' AND next_attempt_ms <= $1 AND ($2::TEXT IS NULL OR id = $2)
        AND sender NOT IN (SELECT sender FROM blocked)
      ORDER BY next_attempt_ms, created_ms LIMIT 1)
    UNION ALL
    (SELECT id, next_attempt_ms, created_ms FROM graphmailer_outbox
      WHERE state = 'deferred' AND next_attempt_ms <= $1 AND ($2::TEXT IS NULL OR id = $2)
        AND sender NOT IN (SELECT sender FROM blocked)
      ORDER BY next_attempt_ms, created_ms LIMIT 1)
    UNION ALL
    (SELECT id, next_attempt_ms, created_ms FROM graphmailer_outbox
      WHERE state = 'sending' AND lease_until_ms < $1 AND ($2::TEXT IS NULL OR id = $2)
        AND sender NOT IN (SELECT sender FROM blocked)
      ORDER BY next_attempt_ms, created_ms LIMIT 1)
)
SELECT id, sender, internet_message_id, payload, attempts, created_ms, on_wire, state
  FROM graphmailer_outbox
 WHERE id = (SELECT id FROM first_due ORDER BY next_attempt_ms, created_ms LIMIT 1)
   AND ((state IN ('queued', 'deferred') AND next_attempt_ms <= $1)
        OR (state = 'sending' AND lease_until_ms < $1))
   FOR UPDATE SKIP LOCKED";

pub(crate) struct PostgresStore {
    config: tokio_postgres::Config,
    /// Where, for messages: host and database, never the password.
    shown: String,
    session: Mutex<Option<Session>>,
}

/// The connection, and whether a call on it is under way: a call whose
/// future was dropped part-way (a cancelled task, a timeout) can leave a
/// transaction open on it, the lease lock held and the next statements
/// inside that transaction, so such a connection is closed, not reused (the
/// server then rolls the transaction back).
struct Session {
    client: Client,
    in_call: bool,
}

impl PostgresStore {
    pub(crate) async fn open(url: &str) -> Result<PostgresStore> {
        let config: tokio_postgres::Config = url.parse().map_err(|e| {
            Error::config("outbox", format!("the PostgreSQL URL cannot be read: {e}"))
        })?;
        let shown = format!(
            "database {} on {}",
            config.get_dbname().unwrap_or("(default)"),
            config
                .get_hosts()
                .first()
                .map(|h| match h {
                    tokio_postgres::config::Host::Tcp(name) => name.clone(),
                    tokio_postgres::config::Host::Unix(path) => path.display().to_string(),
                })
                .unwrap_or_else(|| "localhost".to_owned())
        );
        let store = PostgresStore {
            config,
            shown,
            session: Mutex::new(None),
        };
        let mut guard = store.session.lock().await;
        // A server that is not there yet stays a passing failure (`sendmail`
        // exits 75 and its caller tries again); one that refuses is a setting.
        let client = store.connect().await.map_err(|e| {
            e.with_hint("check that the server runs and the URL's host, database, user and password are right")
        })?;
        store.create_schema(&client).await?;
        *guard = Some(Session {
            client,
            in_call: false,
        });
        drop(guard);
        Ok(store)
    }

    /// The database and host, without credentials.
    pub(crate) fn shown(&self) -> &str {
        &self.shown
    }

    async fn connect(&self) -> Result<Client> {
        let mut config = self.config.clone();
        if config.get_connect_timeout().is_none() {
            config.connect_timeout(Duration::from_secs(10));
        }
        let (client, connection) = config.connect(NoTls).await.map_err(|e| {
            let error = self.error("connect", &e);
            // The server answered and refused (a wrong password, no such
            // database): a setting to fix, not a moment to wait out.
            if e.as_db_error().is_some() {
                error.with_kind(ErrorKind::Config)
            } else {
                error
            }
        })?;
        tokio::spawn(async move {
            if let Err(e) = connection.await {
                tracing::warn!(error = %e, "outbox: the PostgreSQL connection ended");
            }
        });
        // What the queue's rules assume, whatever the server's defaults:
        // leases read committed rows (a snapshot taken before the lease lock
        // was granted would count stale rows); a commit is flushed before
        // `enqueue` returns (never `synchronous_commit = off`, which can lose
        // acknowledged mail in a crash; stronger settings are kept); and a
        // session that stops in the middle of a transaction (a paused or
        // dead host) is ended by the server, so it cannot hold the lease
        // lock from every other worker for long.
        client
            .batch_execute(
                "SET default_transaction_isolation = 'read committed'; \
                 SET idle_in_transaction_session_timeout = '60s'; \
                 SELECT set_config('synchronous_commit', 'on', false) \
                 WHERE current_setting('synchronous_commit') = 'off';",
            )
            .await
            .map_err(|e| self.error("set up the connection", &e))?;
        Ok(client)
    }

    async fn create_schema(&self, client: &Client) -> Result<()> {
        let version = async {
            client.batch_execute("BEGIN").await?;
            client
                .execute("SELECT pg_advisory_xact_lock($1)", &[&SCHEMA_LOCK])
                .await?;
            client.batch_execute(SCHEMA).await?;
            let row = client
                .query_one(
                    "SELECT value FROM graphmailer_outbox_meta WHERE key = 'schema'",
                    &[],
                )
                .await?;
            client.batch_execute("COMMIT").await?;
            Ok::<String, tokio_postgres::Error>(row.get(0))
        }
        .await
        .map_err(|e| {
            Error::config(
                "outbox",
                self.error("create the tables", &e).message().to_owned(),
            )
        })?;
        if version != SCHEMA_VERSION {
            return Err(Error::config(
                "outbox",
                format!(
                    "{} holds an outbox of schema {version}; this graphmailer reads schema {SCHEMA_VERSION}",
                    self.shown
                ),
            ));
        }
        Ok(())
    }

    fn error(&self, what: &str, e: &tokio_postgres::Error) -> Error {
        let detail = e
            .as_db_error()
            .map(|d| d.message().to_owned())
            .unwrap_or_else(|| e.to_string());
        Error::new(
            ErrorKind::Transient,
            format!("outbox: cannot {what} ({}): {detail}", self.shown),
        )
        .with_field("outbox")
    }

    /// Runs `f` on the connection, opening it first if it was lost.
    async fn call<T>(
        &self,
        what: &'static str,
        f: impl AsyncFnOnce(&Client) -> std::result::Result<T, tokio_postgres::Error>,
    ) -> Result<T> {
        let mut guard = self.session.lock().await;
        if guard
            .as_ref()
            .is_none_or(|s| s.in_call || s.client.is_closed())
        {
            *guard = None;
            *guard = Some(Session {
                client: self.connect().await?,
                in_call: false,
            });
        }
        let session = guard.as_mut().expect("connected above");
        session.in_call = true;
        let result = match f(&session.client).await {
            Ok(value) => Ok(value),
            Err(e) => {
                if session.client.is_closed() || e.is_closed() {
                    *guard = None;
                    return Err(self.error(what, &e));
                }
                // Leave no transaction open on a connection that stays.
                let _ = session.client.batch_execute("ROLLBACK").await;
                Err(self.error(what, &e))
            }
        };
        session.in_call = false;
        result
    }

    pub(crate) async fn insert(&self, mail: NewMail) -> Result<bool> {
        const INSERT: &str = "INSERT INTO graphmailer_outbox (id, state, sender, recipients, \
             internet_message_id, payload, created_ms, next_attempt_ms) \
             SELECT $1::TEXT, 'queued', $2::TEXT, $3::BIGINT, $4::TEXT, $5::BYTEA, $6::BIGINT, $6::BIGINT";
        let params: [&(dyn tokio_postgres::types::ToSql + Sync); 6] = [
            &mail.id.0,
            &mail.sender,
            &(mail.recipients as i64),
            &mail.internet_message_id,
            &&mail.payload[..],
            &mail.created_ms,
        ];
        if !mail.unless_message_id_taken {
            return self
                .call("store the mail", async |c| {
                    c.execute(INSERT, &params).await.map(|_| true)
                })
                .await;
        }
        // Two servers may queue the same id at once: a lock on the id (in
        // the two-key space, apart from the lease lock) orders them, and the
        // insert's snapshot, taken after the lock, sees the other's commit.
        self.call("store the mail", async |c| {
            c.batch_execute("BEGIN").await?;
            c.execute(
                "SELECT pg_advisory_xact_lock(1, hashtext($1 || ' ' || $2))",
                &[&mail.sender, &mail.internet_message_id],
            )
            .await?;
            let inserted = c
                .execute(
                    &format!(
                        "{INSERT} WHERE NOT EXISTS (SELECT 1 FROM graphmailer_outbox \
                         WHERE sender = $2 AND internet_message_id = $4)"
                    ),
                    &params,
                )
                .await?;
            c.batch_execute("COMMIT").await?;
            Ok(inserted == 1)
        })
        .await
    }

    pub(crate) async fn get(&self, id: &QueueId) -> Result<Option<QueuedMail>> {
        let row = self
            .call("read the mail", async |c| {
                c.query_opt(
                    &format!("SELECT {COLUMNS} FROM graphmailer_outbox WHERE id = $1"),
                    &[&id.0],
                )
                .await
            })
            .await?;
        Ok(row.as_ref().map(row_to_mail))
    }

    pub(crate) async fn list(&self, filter: &ListFilter) -> Result<Vec<QueuedMail>> {
        let state = filter.state.map(|s| s.name().to_owned());
        let limit = filter.limit.map(|l| l as i64);
        let rows = self
            .call("list the queue", async |c| {
                c.query(
                    &format!(
                        "SELECT {COLUMNS} FROM graphmailer_outbox WHERE ($1::TEXT IS NULL OR state = $1) \
                         ORDER BY created_ms, id LIMIT $2"
                    ),
                    &[&state, &limit],
                )
                .await
            })
            .await?;
        Ok(rows.iter().map(row_to_mail).collect())
    }

    pub(crate) async fn stats(&self, now_ms: i64) -> Result<QueueStats> {
        let (rows, oldest) = self
            .call("count the queue", async |c| {
                let rows = c
                    .query("SELECT state, COUNT(*) FROM graphmailer_outbox GROUP BY state", &[])
                    .await?;
                let oldest: Option<i64> = c
                    .query_one(
                        "SELECT MIN(created_ms) FROM graphmailer_outbox WHERE state NOT IN ('sent', 'failed')",
                        &[],
                    )
                    .await?
                    .get(0);
                Ok((rows, oldest))
            })
            .await?;
        let mut stats = QueueStats::default();
        for state in QueueState::ALL {
            stats.by_state.insert(state, 0);
        }
        for row in rows {
            let state: String = row.get(0);
            let count: i64 = row.get(1);
            if let Ok(state) = state.parse::<QueueState>() {
                stats.by_state.insert(state, count as u64);
            }
        }
        stats.oldest_unsent_age = oldest.map(|t| Duration::from_millis((now_ms - t).max(0) as u64));
        Ok(stats)
    }

    pub(crate) async fn lease(
        &self,
        rules: &LeaseRules,
        only: Option<&QueueId>,
    ) -> Result<Option<Leased>> {
        let now = rules.now_ms;
        let (max, budget, window) = (
            i64::from(rules.max_in_flight),
            i64::from(rules.budget),
            rules.budget_window_ms,
        );
        let only = only.map(|id| id.0.clone());
        self.call("lease a mail", async |c| {
            c.batch_execute("BEGIN").await?;
            c.execute("SELECT pg_advisory_xact_lock($1)", &[&LEASE_LOCK]).await?;
            let row = c
                .query_opt(LEASE_QUERY, &[&now, &only, &max, &budget, &window])
                .await?;
            let Some(row) = row else {
                c.batch_execute("COMMIT").await?;
                return Ok(None);
            };
            let state: String = row.get(7);
            let leased = Leased {
                id: QueueId(row.get(0)),
                owner: rules.owner.clone(),
                sender: row.get(1),
                internet_message_id: row.get(2),
                payload: Bytes::from(row.get::<_, Vec<u8>>(3)),
                attempts: row.get::<_, i64>(4) as u32 + 1,
                created_ms: row.get(5),
                // A sending mail whose lease ran out was on the wire when its worker stopped.
                must_reconcile: row.get::<_, bool>(6) || state == "sending",
            };
            c.execute(
                "UPDATE graphmailer_outbox SET state = 'sending', lease_owner = $2, \
                 lease_until_ms = $3, on_wire = TRUE, attempts = $4 WHERE id = $1",
                &[&leased.id.0, &rules.owner, &(now + rules.lease_ms), &i64::from(leased.attempts)],
            )
            .await?;
            c.execute(
                "INSERT INTO graphmailer_outbox_budget (sender, window_start_ms, used) VALUES ($1, $2, 1) \
                 ON CONFLICT (sender) DO UPDATE SET \
                   used = CASE WHEN graphmailer_outbox_budget.window_start_ms > $2 - $3 \
                          THEN graphmailer_outbox_budget.used + 1 ELSE 1 END, \
                   window_start_ms = CASE WHEN graphmailer_outbox_budget.window_start_ms > $2 - $3 \
                          THEN graphmailer_outbox_budget.window_start_ms ELSE $2 END",
                &[&leased.sender, &now, &window],
            )
            .await?;
            c.batch_execute("COMMIT").await?;
            Ok(Some(leased))
        })
        .await
    }

    pub(crate) async fn finish(&self, id: &QueueId, owner: &str, outcome: Outcome) -> Result<bool> {
        let now = now_ms();
        let (state, next, error, request_id, sent, on_wire) = match outcome {
            Outcome::Sent { request_id, note } => {
                ("sent", None, note, request_id, Some(now), false)
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
                must_reconcile,
            ),
            Outcome::Failed {
                error,
                must_reconcile,
            } => ("failed", None, Some(error), None, None, must_reconcile),
            Outcome::Uncertain { error } => ("uncertain", None, Some(error), None, None, true),
        };
        self.call("record the outcome", async |c| {
            // The message is not needed once sent: keep the record, free the space.
            let changed = c
                .execute(
                    "UPDATE graphmailer_outbox SET state = $3, next_attempt_ms = $4, last_error = $5, \
                     request_id = COALESCE($6, request_id), sent_ms = $7, on_wire = $8, \
                     lease_owner = NULL, lease_until_ms = NULL, \
                     payload = CASE WHEN $3 = 'sent' THEN ''::BYTEA ELSE payload END \
                     WHERE id = $1 AND state = 'sending' AND lease_owner = $2",
                    &[&id.0, &owner, &state, &next, &error, &request_id, &sent, &on_wire],
                )
                .await?;
            Ok(changed == 1)
        })
        .await
    }

    pub(crate) async fn renew(&self, id: &QueueId, owner: &str, until_ms: i64) -> Result<bool> {
        self.call("renew a lease", async |c| {
            let changed = c
                .execute(
                    "UPDATE graphmailer_outbox SET lease_until_ms = $3 \
                     WHERE id = $1 AND state = 'sending' AND lease_owner = $2",
                    &[&id.0, &owner, &until_ms],
                )
                .await?;
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
        self.call("change the mail", async |c| {
            let changed = match command {
                Command::Retry => {
                    c.execute(
                        "UPDATE graphmailer_outbox SET state = 'queued', next_attempt_ms = $2 \
                         WHERE id = $1 AND state IN ('deferred', 'failed') AND octet_length(payload) > 0",
                        &[&id.0, &now_ms],
                    )
                    .await?
                }
                Command::Release => {
                    c.execute(
                        "UPDATE graphmailer_outbox SET state = 'queued', next_attempt_ms = $2, on_wire = FALSE \
                         WHERE id = $1 AND state = 'uncertain'",
                        &[&id.0, &now_ms],
                    )
                    .await?
                }
                Command::Delete => {
                    c.execute(
                        "DELETE FROM graphmailer_outbox WHERE id = $1 AND state <> 'sending'",
                        &[&id.0],
                    )
                    .await?
                }
            };
            Ok(changed == 1)
        })
        .await
    }

    pub(crate) async fn retry_all_deferred(&self, now_ms: i64) -> Result<u64> {
        self.call("retry deferred mail", async |c| {
            c.execute(
                "UPDATE graphmailer_outbox SET state = 'queued', next_attempt_ms = $1 WHERE state = 'deferred'",
                &[&now_ms],
            )
            .await
        })
        .await
    }

    pub(crate) async fn pending(&self, rules: &LeaseRules) -> Result<Pending> {
        let (now_ms, budget, window) = (
            rules.now_ms,
            i64::from(rules.budget),
            rules.budget_window_ms,
        );
        self.call("look for due mail", async |c| {
            let due: i64 = c
                .query_one(
                    "SELECT COUNT(*) FROM graphmailer_outbox AS o WHERE ((state IN ('queued', 'deferred') \
                     AND next_attempt_ms <= $1) OR (state = 'sending' AND lease_until_ms < $1)) \
                     AND NOT EXISTS (SELECT 1 FROM graphmailer_outbox_budget AS b \
                          WHERE b.sender = o.sender AND b.window_start_ms > $1 - $3 AND b.used >= $2)",
                    &[&now_ms, &budget, &window],
                )
                .await?
                .get(0);
            if due > 0 {
                return Ok(Pending::DueNow);
            }
            let leased: Option<i64> = c
                .query_one(
                    "SELECT MIN(lease_until_ms) FROM graphmailer_outbox WHERE state = 'sending'",
                    &[],
                )
                .await?
                .get(0);
            Ok(leased.map_or(Pending::Empty, Pending::LeasedUntil))
        })
        .await
    }
}

fn row_to_mail(r: &Row) -> QueuedMail {
    let state: String = r.get(1);
    QueuedMail {
        id: QueueId(r.get(0)),
        state: state.parse().unwrap_or(QueueState::Queued),
        sender: r.get(2),
        recipients: r.get::<_, i64>(3) as usize,
        attempts: r.get::<_, i64>(4) as u32,
        created: from_ms(r.get(5)),
        next_attempt: r
            .get::<_, Option<i64>>(6)
            .filter(|_| matches!(state.as_str(), "queued" | "deferred"))
            .map(from_ms),
        last_error: r.get(7),
        request_id: r.get(8),
        sent_at: r.get::<_, Option<i64>>(9).map(from_ms),
        internet_message_id: r.get(10),
        size: r.get::<_, i64>(11) as u64,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The lease query on a backlog of 3,000 due mails, in a schema of its
    /// own on the test server (`GRAPHMAILER_TEST_POSTGRES`; skipped without
    /// it): it reads a few rows, not the backlog, and still takes the
    /// earliest due mail of a sender that may send.
    #[tokio::test]
    async fn a_lease_reads_a_few_rows_however_long_the_queue() {
        let Some(base) = std::env::var("GRAPHMAILER_TEST_POSTGRES")
            .ok()
            .filter(|u| !u.is_empty())
        else {
            eprintln!("GRAPHMAILER_TEST_POSTGRES is unset: skipped");
            return;
        };
        let (c, connection) = tokio_postgres::connect(&base, NoTls).await.unwrap();
        tokio::spawn(connection);
        let schema = format!("lease_plan_{:016x}", rand::random::<u64>());
        c.batch_execute(&format!(
            "CREATE SCHEMA {schema}; SET search_path TO {schema}"
        ))
        .await
        .unwrap();
        c.batch_execute(SCHEMA).await.unwrap();
        // Two senders' mails, due one millisecond apart: the first 1,500 are
        // busy@'s, the rest idle@'s.
        c.batch_execute(
            "INSERT INTO graphmailer_outbox (id, state, sender, recipients, internet_message_id, \
             payload, created_ms, next_attempt_ms) \
             SELECT 'm' || n, 'queued', CASE WHEN n <= 1500 THEN 'busy@contoso.test' \
                    ELSE 'idle@contoso.test' END, 1, '<' || n || '@contoso.test>', \
                    '\\x00'::BYTEA, n, n \
               FROM generate_series(1, 3000) AS n; \
             ANALYZE graphmailer_outbox",
        )
        .await
        .unwrap();
        let now = 1_000_000i64;
        let (max, budget, window) = (4i64, 10_000i64, 600_000i64);
        let params: [&(dyn tokio_postgres::types::ToSql + Sync); 5] =
            [&now, &None::<String>, &max, &budget, &window];
        let plan: Vec<String> = c
            .query(
                &format!("EXPLAIN (ANALYZE, COSTS OFF) {LEASE_QUERY}"),
                &params,
            )
            .await
            .unwrap()
            .iter()
            .map(|r| r.get(0))
            .collect();
        let number_after = |line: &str, key: &str| -> u64 {
            line.split(key)
                .nth(1)
                .and_then(|rest| rest.split(|ch: char| !ch.is_ascii_digit()).next())
                .and_then(|n| n.parse().ok())
                .unwrap_or(0)
        };
        let read: u64 = plan
            .iter()
            .map(|line| {
                if line.contains(" on graphmailer_outbox ") {
                    number_after(line, "rows=") * number_after(line, "loops=").max(1)
                } else {
                    number_after(line, "Rows Removed by Filter: ")
                }
            })
            .sum();
        assert!(read <= 12, "{read} rows read:\n{}", plan.join("\n"));

        // The same query, run: the earliest mail goes first; once its sender
        // has 4 on the wire, its next mail (m5) waits and the other sender's
        // earliest (m1501) goes.
        let leased = async || {
            let row = c.query_opt(LEASE_QUERY, &params).await.unwrap().unwrap();
            row.get::<_, String>(0)
        };
        assert_eq!(leased().await, "m1");
        c.batch_execute(
            "UPDATE graphmailer_outbox SET state = 'sending', lease_until_ms = 2000000 \
             WHERE id IN ('m1', 'm2', 'm3', 'm4')",
        )
        .await
        .unwrap();
        assert_eq!(leased().await, "m1501");
        // With one of them recorded as sent, busy@ may send again.
        c.batch_execute("UPDATE graphmailer_outbox SET state = 'sent' WHERE id = 'm1'")
            .await
            .unwrap();
        assert_eq!(leased().await, "m5");
        c.batch_execute(&format!("DROP SCHEMA {schema} CASCADE"))
            .await
            .unwrap();
    }
}
