#!/usr/bin/env python3
"""Times the SQLite outbox's lease query against the size of the queue.

    bench/relay/lease_query.py [--mails 3000] [--size 10240]

Builds a queue of MAILS queued mails of SIZE bytes with the schema read from
core/src/outbox/sqlite.rs (so it follows the code), then times three forms of
the query the outbox runs before every send (bench/README.md, "Why delivery
is slow"):

- today: the query as core runs it;
- id-first: the same conditions choosing only the `id`, the row read after;
- id-first+indexes: that, plus an index holding every column the choice
  reads (no lookup into rows whose message sits before those columns) and
  one for the in-flight count per sender.

Standard library only; the database is a temporary file.
"""

import argparse
import os
import sqlite3
import tempfile
import time
import uuid

ROOT = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "..")
WHERE = (
    "((state IN ('queued', 'deferred') AND next_attempt_ms <= ?1) "
    "OR (state = 'sending' AND lease_until_ms < ?1)) AND (?2 IS NULL OR id = ?2) "
    "AND (SELECT COUNT(*) FROM graphmailer_outbox AS f WHERE f.sender = o.sender "
    "AND f.state = 'sending' AND f.lease_until_ms >= ?1) < ?3 "
    "AND NOT EXISTS (SELECT 1 FROM graphmailer_outbox_budget AS b WHERE b.sender = o.sender "
    "AND b.window_start_ms > ?1 - ?5 AND b.used >= ?4) "
    "ORDER BY next_attempt_ms, created_ms LIMIT 1"
)
COLUMNS = "id, sender, internet_message_id, payload, attempts, created_ms, on_wire"
QUERIES = {
    "today": f"SELECT {COLUMNS} FROM graphmailer_outbox AS o WHERE {WHERE}",
    "id-first": f"SELECT {COLUMNS} FROM graphmailer_outbox WHERE id = "
    f"(SELECT id FROM graphmailer_outbox AS o WHERE {WHERE})",
}
INDEXES = (
    "CREATE INDEX graphmailer_outbox_lease ON graphmailer_outbox "
    "(state, next_attempt_ms, created_ms, sender, lease_until_ms, id);"
    "CREATE INDEX graphmailer_outbox_in_flight ON graphmailer_outbox (sender, state, lease_until_ms);"
)


def schema():
    with open(os.path.join(ROOT, "core", "src", "outbox", "sqlite.rs")) as f:
        return f.read().split('const SCHEMA: &str = "')[1].split('";')[0]


def time_query(c, query, repeats=20):
    params = (10**13, None, 4, 10**9, 600_000)
    started = time.perf_counter()
    for _ in range(repeats):
        row = c.execute(query, params).fetchone()
    assert row is not None, "the query found no mail to lease"
    return (time.perf_counter() - started) / repeats * 1000


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
        results = {name: time_query(c, q) for name, q in QUERIES.items()}
        c.executescript(INDEXES)
        results["id-first+indexes"] = time_query(c, QUERIES["id-first"])
        for name, ms in results.items():
            print(f"{name:18} {args.mails} mails of {args.size} bytes: {ms:8.2f} ms per lease")


if __name__ == "__main__":
    main()
