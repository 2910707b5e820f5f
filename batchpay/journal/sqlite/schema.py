"""The journal file's schema, its creation (0600 in 0700 directories) and the migration from
schema 1 (issue 8: ``rows.reference_key`` and ``rows.code``)."""

from __future__ import annotations

import contextlib
import os
import sqlite3
from pathlib import Path

from batchpay.references import reference_key

SCHEMA_VERSION = 2  # 2: rows.reference_key and rows.code (issue 8)

# The tables every journal has (a file without them is not a journal).
TABLES = frozenset({"runs", "rows", "events"})

# Cross-run repeat checks look rows up by the normalised reference (issue 8 finding 2).
_KEY_INDEX = "CREATE INDEX IF NOT EXISTS rows_by_reference_key ON rows(kind, env, reference_key)"

_SCHEMA = """
CREATE TABLE IF NOT EXISTS runs (
    run_id        TEXT PRIMARY KEY,
    created_at    TEXT NOT NULL,
    finished_at   TEXT,
    kind          TEXT NOT NULL,
    env           TEXT NOT NULL,
    input_path    TEXT NOT NULL,
    input_name    TEXT NOT NULL,
    input_sha256  TEXT NOT NULL,
    operator      TEXT NOT NULL,
    dry_run       INTEGER NOT NULL,
    parent_run_id TEXT REFERENCES runs(run_id),
    settings      TEXT NOT NULL
);
CREATE TABLE IF NOT EXISTS rows (
    run_id         TEXT NOT NULL REFERENCES runs(run_id),
    row_number     INTEGER NOT NULL,
    attempt        INTEGER NOT NULL,
    kind           TEXT NOT NULL,
    env            TEXT NOT NULL,
    reference      TEXT NOT NULL,
    amount_minor   INTEGER,
    currency       TEXT NOT NULL,
    source_account TEXT,
    input          TEXT NOT NULL,
    normalised     TEXT NOT NULL,
    request_id     TEXT NOT NULL UNIQUE,
    body           BLOB NOT NULL,
    state          TEXT NOT NULL,
    doku_status    TEXT,
    doku_ids       TEXT NOT NULL DEFAULT '{}',
    message        TEXT,
    sends          INTEGER NOT NULL DEFAULT 0,
    last_seen_at   TEXT,
    updated_at     TEXT NOT NULL,
    reference_key  TEXT NOT NULL DEFAULT '',
    code           TEXT,
    PRIMARY KEY (run_id, row_number)
);
{key_index};
CREATE TABLE IF NOT EXISTS events (
    seq         INTEGER PRIMARY KEY AUTOINCREMENT,
    run_id      TEXT NOT NULL,
    row_number  INTEGER,
    at          TEXT NOT NULL,
    type        TEXT NOT NULL,
    old_state   TEXT,
    new_state   TEXT,
    outcome     TEXT,
    http_status INTEGER,
    request_id  TEXT,
    detail      TEXT NOT NULL
);
CREATE INDEX IF NOT EXISTS events_by_run ON events(run_id, seq);
CREATE TRIGGER IF NOT EXISTS events_no_update BEFORE UPDATE ON events
BEGIN SELECT RAISE(ABORT, 'events are append-only'); END;
CREATE TRIGGER IF NOT EXISTS events_no_delete BEFORE DELETE ON events
BEGIN SELECT RAISE(ABORT, 'events are append-only'); END;
""".replace("{key_index}", _KEY_INDEX)


def rollback(conn: sqlite3.Connection) -> None:
    """Roll back if a transaction is still open; never let the roll-back mask the cause."""
    if conn.in_transaction:
        with contextlib.suppress(sqlite3.Error):
            conn.execute("ROLLBACK")


def create_file(path: Path) -> None:
    """A new, empty journal file: its directories 0700, the file 0600 (it holds names,
    phones, accounts)."""
    from batchpay.config import ensure_private_dir

    ensure_private_dir(path.parent)
    try:
        os.close(os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600))
    except FileExistsError:  # an empty file: it becomes the journal, private too
        os.chmod(path, 0o600)


def probe(conn: sqlite3.Connection) -> tuple[int, set[str]]:
    """Schema version and table names, read without writing anything."""
    version = conn.execute("PRAGMA user_version").fetchone()[0]
    tables = {r[0] for r in conn.execute("SELECT name FROM sqlite_master WHERE type='table'")}
    return int(version), tables


def write_schema(conn: sqlite3.Connection) -> None:
    """Create the tables of a new journal, in one transaction."""
    try:
        conn.executescript(
            f"BEGIN IMMEDIATE;\n{_SCHEMA}\nPRAGMA user_version = {SCHEMA_VERSION};\nCOMMIT;"
        )
    except BaseException:
        rollback(conn)
        raise


def migrate(conn: sqlite3.Connection) -> None:
    """Schema 1 → 2 in place, in one transaction: ``rows.reference_key`` (backfilled with
    :func:`~batchpay.references.reference_key`, so earlier runs block every spelling of
    their references) and ``rows.code``."""
    try:
        conn.create_function("batchpay_reference_key", 1, reference_key, deterministic=True)
        conn.execute("BEGIN IMMEDIATE")
        if conn.execute("PRAGMA user_version").fetchone()[0] < 2:  # not done meanwhile
            columns = {r[1] for r in conn.execute("PRAGMA table_info(rows)")}
            if "reference_key" not in columns:
                conn.execute("ALTER TABLE rows ADD COLUMN reference_key TEXT NOT NULL DEFAULT ''")
            if "code" not in columns:
                conn.execute("ALTER TABLE rows ADD COLUMN code TEXT")
            conn.execute("UPDATE rows SET reference_key = batchpay_reference_key(reference)")
            conn.execute("DROP INDEX IF EXISTS rows_by_reference")
            conn.execute(_KEY_INDEX)
            conn.execute(f"PRAGMA user_version = {SCHEMA_VERSION}")
        conn.execute("COMMIT")
    except BaseException:
        rollback(conn)
        raise
