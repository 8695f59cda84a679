#!/usr/bin/env python3
"""Times the SQLite outbox's lease query against the size of the queue.

    bench/relay/lease_query.py [--mails 3000] [--size 10240]

Builds a queue of MAILS queued mails of SIZE bytes with the schema read from
core/src/outbox/sqlite.rs (so it follows the code), then times the query the
outbox runs before every send (bench/README.md, "Why delivery was slow"):

- before: the query and indexes of 0.2.0 (all due mail collected and
  sorted, its rows read past the payload);
- now: the query core runs now (per state, an ordered scan of an index that
  holds every column the choice reads, stopping at the first mail that may
  go; the row read after);
- now, sender full: the same when the only sender already has 4 mails on the
  wire, so no mail may go and the scan reads the whole index (the worst case).

Standard library only; the database is a temporary file.
"""

import argparse
import os
import sqlite3
import tempfile
import time
import uuid

ROOT = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "..")
FITS = (
    "(SELECT COUNT(*) FROM graphmailer_outbox AS f WHERE f.sender = o.sender "
    "AND f.state = 'sending' AND f.lease_until_ms >= :now) < :max "
    "AND NOT EXISTS (SELECT 1 FROM graphmailer_outbox_budget AS b WHERE b.sender = o.sender "
    "AND b.window_start_ms > :now - :window AND b.used >= :budget)"
)
COLUMNS = "id, sender, internet_message_id, payload, attempts, created_ms, on_wire, state"
BEFORE = (
    f"SELECT {COLUMNS} FROM graphmailer_outbox AS o WHERE "
    "((state IN ('queued', 'deferred') AND next_attempt_ms <= :now) "
    f"OR (state = 'sending' AND lease_until_ms < :now)) AND {FITS} "
    "ORDER BY next_attempt_ms, created_ms LIMIT 1"
)
BEFORE_INDEXES = (
    "DROP INDEX graphmailer_outbox_next; DROP INDEX graphmailer_outbox_in_flight;"
    "CREATE INDEX graphmailer_outbox_due ON graphmailer_outbox (state, next_attempt_ms);"
    "CREATE INDEX graphmailer_outbox_sender ON graphmailer_outbox (sender, state);"
)


def branch(state, due):
    return (
        "SELECT * FROM (SELECT rowid AS rid, next_attempt_ms AS due, created_ms AS born "
        f"FROM graphmailer_outbox AS o WHERE state = '{state}' AND {due} AND {FITS} "
        "ORDER BY next_attempt_ms, created_ms LIMIT 1)"
    )


# Mirrors `SqliteStore::lease` in core/src/outbox/sqlite.rs.
CHOOSE = (
    "SELECT rid FROM ("
    + " UNION ALL ".join(
        [
            branch("queued", "next_attempt_ms <= :now"),
            branch("deferred", "next_attempt_ms <= :now"),
            branch("sending", "lease_until_ms < :now"),
        ]
    )
    + ") ORDER BY due, born LIMIT 1"
)


def schema():
    with open(os.path.join(ROOT, "core", "src", "outbox", "sqlite.rs")) as f:
        return f.read().split('const SCHEMA: &str = "')[1].split('";')[0]


def time_lease(c, lease, repeats=20):
    started = time.perf_counter()
    for _ in range(repeats):
        lease(c)
    return (time.perf_counter() - started) / repeats * 1000


PARAMS = {"now": 10**13, "max": 4, "budget": 10**9, "window": 600_000}


def lease_before(c):
    row = c.execute(BEFORE, PARAMS).fetchone()
    assert row is not None, "the query found no mail to lease"


def lease_now(c, expect=True):
    rid = c.execute(CHOOSE, PARAMS).fetchone()
    assert (rid is not None) == expect, rid
    if rid is not None:
        c.execute(f"SELECT {COLUMNS} FROM graphmailer_outbox WHERE rowid = ?", rid).fetchone()


def main():
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--mails", type=int, default=3000)
    p.add_argument("--size", type=int, default=10240)
    args = p.parse_args()
    with tempfile.TemporaryDirectory() as work:
        c = sqlite3.connect(os.path.join(work, "outbox.db"))
        c.executescript(schema())
        blob = b"x" * args.size
        c.executemany(
            "INSERT INTO graphmailer_outbox (id, state, sender, recipients, internet_message_id, "
            "payload, created_ms, next_attempt_ms) VALUES (?, 'queued', 'erp@contoso.test', 1, ?, ?, ?, ?)",
            [(uuid.uuid4().hex, f"<{i}@bench.test>", blob, i, i) for i in range(args.mails)],
        )
        c.commit()
        results = {"now": time_lease(c, lease_now)}
        c.executemany(
            "INSERT INTO graphmailer_outbox (id, state, sender, recipients, internet_message_id, "
            "payload, created_ms, next_attempt_ms, lease_until_ms) "
            "VALUES (?, 'sending', 'erp@contoso.test', 1, ?, x'00', 0, 0, ?)",
            [(uuid.uuid4().hex, f"<w{i}@bench.test>", 10**14) for i in range(4)],
        )
        results["now, sender full"] = time_lease(c, lambda c: lease_now(c, expect=False))
        c.execute("DELETE FROM graphmailer_outbox WHERE state = 'sending'")
        c.executescript(BEFORE_INDEXES)
        results["before"] = time_lease(c, lease_before)
        for name, ms in results.items():
            print(f"{name:18} {args.mails} mails of {args.size} bytes: {ms:8.2f} ms per lease")


if __name__ == "__main__":
    main()
