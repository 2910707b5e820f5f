"""The PostgreSQL journal's schema: the tables of SQLite's schema 3
(:mod:`batchpay.journal.sqlite.schema`) in PostgreSQL types, its version in
``batchpay_meta``, and the guarantees the database enforces itself: Request-Ids UNIQUE,
events and approvals append-only, a sealed plan never changes (triggers that raise).

Times stay ISO-8601 UTC text and JSON stays text, exactly as SQLite stores them: records,
orderings and the month comparisons are then the same on both engines (JSONB would reorder a
row's input columns).
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    import psycopg

# One schema for both engines (issue 14): the same number as SQLite's, and a test holds them
# equal, so whoever changes one schema migrates both.
SCHEMA_VERSION = 4  # 4: workers' claims and reference holds (issue 14)

# Held while creating the schema: two `batchpay run`s on a new database create it once.
SCHEMA_LOCK = 0x6261_7463_6870_6179  # "batchpay"

_FUNCTIONS = """
CREATE OR REPLACE FUNCTION batchpay_refuse() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    RAISE EXCEPTION '%', TG_ARGV[0] USING ERRCODE = 'integrity_constraint_violation';
END $$;
"""

_TABLES = """
CREATE TABLE IF NOT EXISTS batchpay_meta (
    key   TEXT PRIMARY KEY,
    value TEXT NOT NULL
);
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
    dry_run       BOOLEAN NOT NULL,
    parent_run_id TEXT REFERENCES runs(run_id),
    settings      TEXT NOT NULL,
    status        TEXT NOT NULL DEFAULT 'OPEN',
    plan_digest   TEXT,
    expires_at    TEXT
);
CREATE INDEX IF NOT EXISTS runs_by_created ON runs(created_at, run_id);
CREATE INDEX IF NOT EXISTS runs_by_parent ON runs(parent_run_id);
CREATE TABLE IF NOT EXISTS rows (
    run_id         TEXT NOT NULL REFERENCES runs(run_id),
    row_number     BIGINT NOT NULL,
    attempt        BIGINT NOT NULL,
    kind           TEXT NOT NULL,
    env            TEXT NOT NULL,
    reference      TEXT NOT NULL,
    amount_minor   BIGINT,
    currency       TEXT NOT NULL,
    source_account TEXT,
    input          TEXT NOT NULL,
    normalised     TEXT NOT NULL,
    request_id     TEXT NOT NULL UNIQUE,
    body           BYTEA NOT NULL,
    state          TEXT NOT NULL,
    doku_status    TEXT,
    doku_ids       TEXT NOT NULL DEFAULT '{}',
    message        TEXT,
    sends          BIGINT NOT NULL DEFAULT 0,
    last_seen_at   TEXT,
    updated_at     TEXT NOT NULL,
    reference_key  TEXT NOT NULL DEFAULT '',
    code           TEXT,
    claimed_by     TEXT,
    lease_until    TEXT,
    holds          INTEGER NOT NULL DEFAULT 0,
    PRIMARY KEY (run_id, row_number)
);
CREATE INDEX IF NOT EXISTS rows_by_reference_key ON rows(kind, env, reference_key);
{live_index};
CREATE TABLE IF NOT EXISTS events (
    seq         BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    run_id      TEXT NOT NULL,
    row_number  BIGINT,
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
CREATE TABLE IF NOT EXISTS approvals (
    seq       BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
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
CREATE TABLE IF NOT EXISTS plans (
    run_id    TEXT PRIMARY KEY REFERENCES runs(run_id),
    digest    TEXT NOT NULL,
    manifest  BYTEA NOT NULL
)
"""

# Schema 4 (issue 14): at most one live holder of a reference per (kind, environment)
# (batchpay.journal.sqlite.holds says who holds).
_LIVE_INDEX = (
    "CREATE UNIQUE INDEX IF NOT EXISTS rows_live_reference ON rows(kind, env, reference_key) "
    "WHERE holds = 1"
)
_TABLES = _TABLES.replace("{live_index}", _LIVE_INDEX)

# (table, message): rows of these tables are never changed or removed once written.
WRITE_ONCE = (
    ("events", "events are append-only"),
    ("approvals", "approvals are append-only"),
    ("plans", "a submitted plan never changes"),
)


def _triggers() -> list[str]:
    statements = []
    for table, message in WRITE_ONCE:
        statements += [
            f"DROP TRIGGER IF EXISTS {table}_write_once ON {table}",
            f"CREATE TRIGGER {table}_write_once BEFORE UPDATE OR DELETE ON {table} "
            f"FOR EACH ROW EXECUTE FUNCTION batchpay_refuse('{message}')",
            f"DROP TRIGGER IF EXISTS {table}_no_truncate ON {table}",
            f"CREATE TRIGGER {table}_no_truncate BEFORE TRUNCATE ON {table} "
            f"FOR EACH STATEMENT EXECUTE FUNCTION batchpay_refuse('{message}')",
        ]
    return statements


def probe(conn: psycopg.Connection[dict[str, object]]) -> tuple[int | None, set[str]]:
    """The schema version (None: no ``batchpay_meta``) and which journal tables exist,
    read without writing anything."""
    names = ["batchpay_meta", "runs", "rows", "events"]
    found = conn.execute(
        "SELECT t FROM unnest(%s::text[]) AS t WHERE to_regclass(t) IS NOT NULL", (names,)
    ).fetchall()
    tables = {str(r["t"]) for r in found}
    if "batchpay_meta" not in tables:
        return None, tables
    version = conn.execute("SELECT value FROM batchpay_meta WHERE key='schema_version'").fetchone()
    return (None if version is None else int(str(version["value"]))), tables


@contextlib.contextmanager
def _schema_locked(conn: psycopg.Connection[dict[str, object]]) -> Iterator[None]:
    """Hold the schema lock (an autocommit connection), then one transaction. The lock is
    taken *before* the transaction: a transaction that waited on an advisory lock would
    still see the catalog as it was when it began (an advisory lock does not make a session
    take in other sessions' DDL, a new transaction does), so two `batchpay run`s starting
    on an empty database at one instant would both find no tables and both create them."""
    conn.execute("SELECT pg_advisory_lock(%s)", (SCHEMA_LOCK,))
    try:
        with conn.transaction():
            yield
    finally:
        if not conn.closed:
            conn.execute("SELECT pg_advisory_unlock(%s)", (SCHEMA_LOCK,))


def write_schema(conn: psycopg.Connection[dict[str, object]]) -> None:
    """Create the tables of a new journal in one transaction, serialised by an advisory lock
    (a second creator waits, then finds them there)."""
    with _schema_locked(conn):
        if probe(conn)[0] is not None:
            return
        conn.execute(_FUNCTIONS)
        for statement in _TABLES.split(";\n"):
            conn.execute(statement)  # fixed DDL, no values
        for statement in _triggers():
            conn.execute(statement)
        conn.execute(
            "INSERT INTO batchpay_meta (key, value) VALUES ('schema_version', %s)",
            (str(SCHEMA_VERSION),),
        )


# Schema 4 (issue 14), as SQLite's: a worker's claim on a row and whether it holds its
# reference. Schema 3 (the first PostgreSQL schema) gains them in place.
_TO_4 = (
    "ALTER TABLE rows ADD COLUMN IF NOT EXISTS claimed_by TEXT",
    "ALTER TABLE rows ADD COLUMN IF NOT EXISTS lease_until TEXT",
    "ALTER TABLE rows ADD COLUMN IF NOT EXISTS holds INTEGER NOT NULL DEFAULT 0",
)


def migrate(conn: psycopg.Connection[dict[str, object]]) -> None:
    """Schema 3 → 4 in one transaction, serialised like :func:`write_schema` (a crash or a
    second migrator leaves the old schema or finds the new one)."""
    with _schema_locked(conn):
        version = probe(conn)[0]
        if version is None or version >= SCHEMA_VERSION:
            return
        for statement in _TO_4:
            conn.execute(statement)  # fixed DDL, no values
        _backfill_holds(conn)
        conn.execute(_LIVE_INDEX)
        conn.execute(
            "UPDATE batchpay_meta SET value=%s WHERE key='schema_version'", (str(SCHEMA_VERSION),)
        )


def _backfill_holds(conn: psycopg.Connection[dict[str, object]]) -> None:
    """``holds`` = 1 on the rows the read check counts as holding, the newest only where
    earlier ``--allow-repeat`` runs left several (the rule of SQLite's ``_backfill_holds``).
    Whether a REJECTED row's rejection proves nothing executed is decided in Python
    (:func:`~batchpay.journal.sqlite.holds.rejection_frees_reference`), for the REJECTED rows
    only."""
    from batchpay.journal.sqlite.holds import rejection_frees_reference
    from batchpay.journal.sqlite.schema import FORGOTTEN_EVENT
    from batchpay.states import CLOSED, REFERENCE_FREE, State

    freed = [
        (str(r["run_id"]), int(str(r["row_number"])))
        for r in conn.execute(
            "SELECT run_id, row_number, code, message FROM rows WHERE state = %s",
            (str(State.REJECTED),),
        )
        if rejection_frees_reference(r["code"], r["message"])  # type: ignore[arg-type]
    ]
    conn.execute("UPDATE rows SET holds = 0 WHERE holds <> 0")
    conn.execute(
        "UPDATE rows SET holds = 1 FROM ("
        " SELECT DISTINCT ON (r.kind, r.env, r.reference_key) r.run_id, r.row_number"
        " FROM rows r JOIN runs u ON u.run_id = r.run_id"
        " WHERE r.state <> ALL(%s) AND u.status <> ALL(%s) AND NOT u.dry_run"
        "  AND NOT EXISTS (SELECT 1 FROM events e WHERE e.run_id = r.run_id AND e.type = %s)"
        "  AND (r.run_id, r.row_number) NOT IN"
        "   (SELECT * FROM unnest(%s::text[], %s::bigint[]))"
        " ORDER BY r.kind, r.env, r.reference_key, u.created_at DESC, r.run_id DESC,"
        "  r.row_number"
        ") AS h WHERE rows.run_id = h.run_id AND rows.row_number = h.row_number",
        (
            sorted(str(s) for s in REFERENCE_FREE - {State.REJECTED}),
            sorted(str(s) for s in CLOSED),
            FORGOTTEN_EVENT,
            [run_id for run_id, _ in freed],
            [number for _, number in freed],
        ),
    )
