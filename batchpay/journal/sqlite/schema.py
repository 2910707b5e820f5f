"""The journal file's schema, its creation (0600 in 0700 directories, or group-shared:
:mod:`~batchpay.journal.sqlite.perms`) and the migrations: schema 1 → 2 (issue 8:
``rows.reference_key`` and ``rows.code``), 2 → 3 (issue 13, maker–checker: ``runs.status``,
``runs.plan_digest``, ``runs.expires_at``, the ``approvals`` and ``plans`` tables), 3 → 4
(issue 14: ``rows.claimed_by`` and ``rows.lease_until``, a worker's claim on a row, and
``rows.holds``, whether the row holds its reference for the live-reference constraint)."""

from __future__ import annotations

import contextlib
import sqlite3
from pathlib import Path

from batchpay.journal.sqlite import perms
from batchpay.journal.sqlite.holds import LIVE_INDEX, rejection_frees_reference
from batchpay.references import reference_key
from batchpay.states import CLOSED, REFERENCE_FREE, State

SCHEMA_VERSION = 4  # 2: rows.reference_key and rows.code (issue 8); 3: approvals (issue 13);
# 4: workers' claims and reference holds (issue 14)

# The tables every journal has (a file without them is not a journal).
TABLES = frozenset({"runs", "rows", "events"})

# Cross-run repeat checks look rows up by the normalised reference (issue 8 finding 2).
_KEY_INDEX = "CREATE INDEX IF NOT EXISTS rows_by_reference_key ON rows(kind, env, reference_key)"

# Schema 4 (issue 14): at most one live holder of a reference per (kind, environment); see
# batchpay.journal.sqlite.holds for who holds.
_LIVE_INDEX = (
    f"CREATE UNIQUE INDEX IF NOT EXISTS {LIVE_INDEX} ON rows(kind, env, reference_key) "
    "WHERE holds = 1"
)

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
    settings      TEXT NOT NULL,
    status        TEXT NOT NULL DEFAULT 'OPEN',
    plan_digest   TEXT,
    expires_at    TEXT
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
    claimed_by     TEXT,
    lease_until    TEXT,
    holds          INTEGER NOT NULL DEFAULT 0,
    PRIMARY KEY (run_id, row_number)
);
{key_index};
{live_index};
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
{approvals}
CREATE TRIGGER IF NOT EXISTS events_no_update BEFORE UPDATE ON events
BEGIN SELECT RAISE(ABORT, 'events are append-only'); END;
CREATE TRIGGER IF NOT EXISTS events_no_delete BEFORE DELETE ON events
BEGIN SELECT RAISE(ABORT, 'events are append-only'); END;
"""

# Schema 3 (maker–checker, docs/safety.md §9): every decision on a submitted run, append-only
# like the events; one person's approval counts once (the partial unique index), and the
# plan as submitted (``plans.manifest``: per row its Request-Id, body hash, reference,
# amount) so a digest mismatch can say what changed.
_APPROVALS = """
CREATE TABLE IF NOT EXISTS approvals (
    seq       INTEGER PRIMARY KEY AUTOINCREMENT,
    run_id    TEXT NOT NULL REFERENCES runs(run_id),
    approver  TEXT NOT NULL,
    at        TEXT NOT NULL,
    digest    TEXT NOT NULL,
    decision  TEXT NOT NULL CHECK (decision IN ('APPROVED', 'REJECTED')),
    reason    TEXT
);
CREATE INDEX IF NOT EXISTS approvals_by_run ON approvals(run_id, seq);
CREATE UNIQUE INDEX IF NOT EXISTS approvals_once ON approvals(run_id, approver)
    WHERE decision = 'APPROVED';
CREATE TRIGGER IF NOT EXISTS approvals_no_update BEFORE UPDATE ON approvals
BEGIN SELECT RAISE(ABORT, 'approvals are append-only'); END;
CREATE TRIGGER IF NOT EXISTS approvals_no_delete BEFORE DELETE ON approvals
BEGIN SELECT RAISE(ABORT, 'approvals are append-only'); END;
CREATE TABLE IF NOT EXISTS plans (
    run_id    TEXT PRIMARY KEY REFERENCES runs(run_id),
    digest    TEXT NOT NULL,
    manifest  BLOB NOT NULL
);
CREATE TRIGGER IF NOT EXISTS plans_no_update BEFORE UPDATE ON plans
BEGIN SELECT RAISE(ABORT, 'a submitted plan never changes'); END;
CREATE TRIGGER IF NOT EXISTS plans_no_delete BEFORE DELETE ON plans
BEGIN SELECT RAISE(ABORT, 'a submitted plan never changes'); END;
"""
_SCHEMA = (
    _SCHEMA.replace("{key_index}", _KEY_INDEX)
    .replace("{live_index}", _LIVE_INDEX)
    .replace("{approvals}", _APPROVALS)
)


def rollback(conn: sqlite3.Connection) -> None:
    """Roll back if a transaction is still open; never let the roll-back mask the cause."""
    if conn.in_transaction:
        with contextlib.suppress(sqlite3.Error):
            conn.execute("ROLLBACK")


def create_file(path: Path) -> None:
    """A new, empty journal file: its directories 0700, the file 0600 (it holds names,
    phones, accounts) — or 0660 for the folder's group in a setgid folder
    (:mod:`~batchpay.journal.sqlite.perms`). An empty file becomes the journal, with that
    mode too."""
    perms.ensure_dir(path.parent)
    perms.create_file(path)


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
    """Schema 1, 2 or 3 → 4 in place, in one transaction (a crash leaves the old schema).

    1 → 2: ``rows.reference_key`` (backfilled with :func:`~batchpay.references.reference_key`,
    so earlier runs block every spelling of their references) and ``rows.code``.
    2 → 3: ``runs.status`` (every earlier run is OPEN: it was released when it started),
    ``runs.plan_digest``, ``runs.expires_at``, the ``approvals`` and ``plans`` tables.
    3 → 4: ``rows.claimed_by``, ``rows.lease_until`` (no row is claimed) and ``rows.holds``,
    backfilled (:func:`_backfill_holds`) before the live-reference index is made."""
    try:
        conn.create_function("batchpay_reference_key", 1, reference_key, deterministic=True)
        conn.create_function(
            "batchpay_rejection_frees", 2, rejection_frees_reference, deterministic=True
        )
        conn.execute("BEGIN IMMEDIATE")
        version = conn.execute("PRAGMA user_version").fetchone()[0]  # maybe done meanwhile
        if version < 2:
            _to_2(conn)
        if version < 3:
            _to_3(conn)
        if version < 4:
            _to_4(conn)
        if version < SCHEMA_VERSION:
            conn.execute(f"PRAGMA user_version = {SCHEMA_VERSION}")
        conn.execute("COMMIT")
    except BaseException:
        rollback(conn)
        raise


def _to_2(conn: sqlite3.Connection) -> None:
    columns = {r[1] for r in conn.execute("PRAGMA table_info(rows)")}
    if "reference_key" not in columns:
        conn.execute("ALTER TABLE rows ADD COLUMN reference_key TEXT NOT NULL DEFAULT ''")
    if "code" not in columns:
        conn.execute("ALTER TABLE rows ADD COLUMN code TEXT")
    conn.execute("UPDATE rows SET reference_key = batchpay_reference_key(reference)")
    conn.execute("DROP INDEX IF EXISTS rows_by_reference")
    conn.execute(_KEY_INDEX)


def _to_3(conn: sqlite3.Connection) -> None:
    columns = {r[1] for r in conn.execute("PRAGMA table_info(runs)")}
    for name, decl in (
        ("status", "TEXT NOT NULL DEFAULT 'OPEN'"),
        ("plan_digest", "TEXT"),
        ("expires_at", "TEXT"),
    ):
        if name not in columns:
            conn.execute(f"ALTER TABLE runs ADD COLUMN {name} {decl}")
    for statement in _APPROVALS.split(";\n"):
        if statement.strip():
            conn.execute(statement)


# Schema 4 (issue 14): a worker's claim on a row (who, and until when, ISO-8601 UTC) and
# whether the row holds its reference (the live-reference constraint).
CLAIM_COLUMNS = (
    ("claimed_by", "TEXT"),
    ("lease_until", "TEXT"),
    ("holds", "INTEGER NOT NULL DEFAULT 0"),
)


def _to_4(conn: sqlite3.Connection) -> None:
    columns = {r[1] for r in conn.execute("PRAGMA table_info(rows)")}
    for name, decl in CLAIM_COLUMNS:
        if name not in columns:
            conn.execute(f"ALTER TABLE rows ADD COLUMN {name} {decl}")
    _backfill_holds(conn)
    conn.execute(_LIVE_INDEX)


# The event `batchpay emulator reset` journals on each run it forgets
# (batchpay.runs.reset.RESET_EVENT): such a run's rows no longer hold their references.
FORGOTTEN_EVENT = "emulator-reset"


def _backfill_holds(conn: sqlite3.Connection) -> None:
    """``holds`` = 1 on the rows the read check counts as holding (state not free, a REJECTED
    row only without proof that nothing executed, run not rejected or expired, not a dry
    run, not forgotten by an emulator reset) — and where earlier ``--allow-repeat`` runs left
    several holders of one reference, on the newest only, so the unique index can be made."""
    free = sorted(REFERENCE_FREE - {State.REJECTED})
    closed = sorted(CLOSED)
    # Only "?" placeholders are interpolated; every value is a bound parameter.
    conn.execute("UPDATE rows SET holds = 0 WHERE holds <> 0")
    conn.execute(
        "UPDATE rows SET holds = 1 WHERE rowid IN (SELECT id FROM ("  # noqa: S608
        " SELECT r.rowid AS id, ROW_NUMBER() OVER (PARTITION BY r.kind, r.env, r.reference_key"
        "  ORDER BY u.created_at DESC, r.run_id DESC, r.row_number) AS n"
        " FROM rows r JOIN runs u ON u.run_id = r.run_id"
        f" WHERE r.state NOT IN ({','.join('?' * len(free))})"
        "  AND (r.state <> ? OR NOT batchpay_rejection_frees(r.code, r.message))"
        f"  AND u.status NOT IN ({','.join('?' * len(closed))}) AND u.dry_run = 0"
        "  AND NOT EXISTS (SELECT 1 FROM events e WHERE e.run_id = r.run_id AND e.type = ?)"
        ") WHERE n = 1)",
        [*free, State.REJECTED, *closed, FORGOTTEN_EVENT],
    )
