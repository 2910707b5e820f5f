"""The journal file: its schema, durability pragmas on every connection, and the run-level
writes and reads (create a run with every row PLANNED, finish it, list runs, rows, events)."""

from __future__ import annotations

import contextlib
import json
import os
import sqlite3
from collections.abc import Iterable, Iterator, Sequence
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

from batchpay import ledger_records as st
from batchpay.errors import RunError, RunNotFound
from batchpay.ledger import faults
from batchpay.ledger.faults import storage_faults
from batchpay.ledger.model import (
    SCHEMA_VERSION,
    WIB,
    Clock,
    NewRow,
    Repeat,
    RepeatedReferences,
    RowChange,
    SeenReference,
    current_operator,
    iso,
    new_run_id,
    request_id_for,
    utc_now,
)
from batchpay.ledger.sql import (
    Strings,
    apply_change,
    event_record,
    insert_event,
    references_seen_in,
    repeats_in,
    row_record,
    run_record,
)
from batchpay.ledger_records import EventRecord, RowRecord, RunRecord
from batchpay.references import reference_key

# Every column but the row's input and normalised values (see Ledger.rows).
_LEAN_COLUMNS = (
    "run_id, row_number, attempt, kind, env, reference, amount_minor, currency, "
    "source_account, '{}' AS input, '{}' AS normalised, request_id, body, state, doku_status, "
    "doku_ids, message, sends, last_seen_at, updated_at, reference_key, code"
)

_ALL_COLUMNS = (
    "run_id, row_number, attempt, kind, env, reference, amount_minor, currency, "
    "source_account, input, normalised, request_id, body, state, doku_status, "
    "doku_ids, message, sends, last_seen_at, updated_at, reference_key, code"
)

# A schema-1 journal opened read-only has neither column (row_record computes the key).
_V1_COLUMNS = ("reference_key, code", "'' AS reference_key, NULL AS code")

# Cross-run repeat checks look rows up by the normalised reference (issue 8 finding 2).
_KEY_INDEX = ("CREATE INDEX IF NOT EXISTS rows_by_reference_key "
              "ON rows(kind, env, reference_key)")

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


def _columns(data: bool, schema: int) -> str:
    columns = _ALL_COLUMNS if data else _LEAN_COLUMNS
    return columns if schema >= 2 else columns.replace(*_V1_COLUMNS)


def _iter_rows(conn: sqlite3.Connection, run_id: str, *, data: bool, body: bool, chunk: int,
               schema: int = SCHEMA_VERSION) -> Iterator[RowRecord]:
    columns = _columns(data, schema)
    if not body:
        columns = columns.replace(" body,", " X'' AS body,")
    strings = Strings()
    # Only the column list is interpolated; the run id is bound.
    cur = conn.execute(f"SELECT {columns} FROM rows WHERE run_id=? "  # noqa: S608
                       "ORDER BY row_number", (run_id,))
    try:
        while batch := cur.fetchmany(chunk):
            for r in batch:
                yield row_record(r, data=data, strings=strings)
    finally:
        cur.close()


def _iter_events(conn: sqlite3.Connection, run_id: str, *, chunk: int
                 ) -> Iterator[EventRecord]:
    strings = Strings()
    cur = conn.execute("SELECT * FROM events WHERE run_id=? ORDER BY seq", (run_id,))
    try:
        while batch := cur.fetchmany(chunk):
            for r in batch:
                yield event_record(r, strings=strings)
    finally:
        cur.close()


def _resume_hint(run_id: str) -> str:
    return (f"`batchpay resume {run_id}` (rows the journal shows SENDING or UNKNOWN may have "
            "been paid; resume asks DOKU about them before sending anything)")


def _rollback(conn: sqlite3.Connection) -> None:
    """Roll back if a transaction is still open; never let the roll-back mask the cause."""
    if conn.in_transaction:
        with contextlib.suppress(sqlite3.Error):
            conn.execute("ROLLBACK")


class Snapshot:
    """Chunked reads on one connection inside one read transaction (:meth:`Ledger.snapshot`).
    Passes are meant to run one after the other, not interleaved."""

    def __init__(self, conn: sqlite3.Connection, *, path: Path | None = None,
                 schema: int = SCHEMA_VERSION) -> None:
        self._conn = conn
        self._path = path or Path("journal")
        self._schema = schema

    def iter_rows(self, run_id: str, *, data: bool = True, body: bool = True,
                  chunk: int = 5000) -> Iterator[RowRecord]:
        with storage_faults(self._path, "reading it"):
            yield from _iter_rows(self._conn, run_id, data=data, body=body, chunk=chunk,
                                  schema=self._schema)

    def iter_events(self, run_id: str, *, chunk: int = 5000) -> Iterator[EventRecord]:
        with storage_faults(self._path, "reading it"):
            yield from _iter_events(self._conn, run_id, chunk=chunk)


class Ledger:
    """The journal at ``path``. Cheap to construct; every call opens its own connection
    (so threads never share one), except the :class:`JournalWriter`'s.

    ``create=True`` (only ``batchpay run``, and set-up) makes a missing or empty journal —
    its directory 0700, the file 0600 (it holds names, phones, accounts). Without it a missing
    or empty journal is :class:`~batchpay.errors.JournalMissing` and nothing is created: a
    journal that went missing must be found, never silently replaced by an empty one.

    ``read_only=True`` (``runs``, ``report``) opens with SQLite's ``mode=ro`` and never
    writes, so a journal on a read-only file or disk can still be read. A writing ledger on a
    read-only journal is :class:`~batchpay.errors.JournalReadOnly`. Opening writes only to
    create the schema or migrate it (schema 1 → 2, in one transaction). Every storage fault
    becomes a :class:`~batchpay.errors.JournalError` (:mod:`batchpay.ledger.faults`).
    """

    def __init__(self, path: str | os.PathLike[str], *, clock: Clock = utc_now,
                 create: bool = False, read_only: bool = False) -> None:
        if create and read_only:
            raise ValueError("a journal is created only for writing")
        self.path = Path(path)
        self.clock = clock
        self.read_only = read_only
        self.schema = SCHEMA_VERSION  # 1 only for a schema-1 journal opened read-only
        self._immutable = False
        with storage_faults(self.path, "opening it"):
            self._open(create)

    def _open(self, create: bool) -> None:
        if not self.path.exists() or (self.path.is_file() and self.path.stat().st_size == 0):
            if not create:
                raise faults.missing(self.path, empty=self.path.exists())
            self._create_file()
        elif not self.read_only and not faults.writable_place(self.path):
            raise faults.read_only(self.path)
        version, tables = self._probe()
        if version > SCHEMA_VERSION:
            raise faults.newer_schema(self.path, version)
        if version == SCHEMA_VERSION:
            return
        if version == 0 and not tables:
            if not create:
                raise faults.missing(self.path, empty=True)
            self._write_schema()
            return
        if not {"runs", "rows", "events"} <= tables:
            raise faults.not_a_journal(self.path)
        if self.read_only:
            self.schema = 1  # read as it is: read-only commands never write
            return
        self._migrate()

    def _create_file(self) -> None:
        from batchpay.config import ensure_private_dir

        ensure_private_dir(self.path.parent)
        try:
            os.close(os.open(self.path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600))
        except FileExistsError:  # an empty file: it becomes the journal, private too
            os.chmod(self.path, 0o600)

    def _probe(self) -> tuple[int, set[str]]:
        """Schema version and table names, read without writing anything."""
        try:
            conn = self._sqlite()
            try:
                version = conn.execute("PRAGMA user_version").fetchone()[0]
                tables = {r[0] for r in conn.execute(
                    "SELECT name FROM sqlite_master WHERE type='table'")}
            finally:
                conn.close()
        except sqlite3.OperationalError as exc:
            # A WAL journal on a read-only disk without its -shm file: mode=ro cannot open
            # it, but nobody can be writing it either; read the file as it stands.
            if not (self.read_only and faults.cannot_open(exc)
                    and not Path(f"{self.path}-wal").exists()
                    and not faults.writable_place(self.path)):
                raise
            self._immutable = True
            return self._probe()
        return int(version), tables

    def _write_schema(self) -> None:
        conn = self.connect()
        try:
            conn.executescript(f"BEGIN IMMEDIATE;\n{_SCHEMA}\n"
                               f"PRAGMA user_version = {SCHEMA_VERSION};\nCOMMIT;")
        except BaseException:
            _rollback(conn)
            raise
        finally:
            conn.close()

    def _migrate(self) -> None:
        """Schema 1 → 2 in place, in one transaction: ``rows.reference_key`` (backfilled with
        :func:`~batchpay.references.reference_key`, so earlier runs block every spelling of
        their references) and ``rows.code``."""
        conn = self.connect()
        try:
            conn.create_function("batchpay_reference_key", 1, reference_key,
                                 deterministic=True)
            conn.execute("BEGIN IMMEDIATE")
            if conn.execute("PRAGMA user_version").fetchone()[0] < 2:  # not done meanwhile
                columns = {r[1] for r in conn.execute("PRAGMA table_info(rows)")}
                if "reference_key" not in columns:
                    conn.execute("ALTER TABLE rows ADD COLUMN reference_key TEXT NOT NULL "
                                 "DEFAULT ''")
                if "code" not in columns:
                    conn.execute("ALTER TABLE rows ADD COLUMN code TEXT")
                conn.execute("UPDATE rows SET reference_key = batchpay_reference_key(reference)")
                conn.execute("DROP INDEX IF EXISTS rows_by_reference")
                conn.execute(_KEY_INDEX)
                conn.execute(f"PRAGMA user_version = {SCHEMA_VERSION}")
            conn.execute("COMMIT")
        except BaseException:
            _rollback(conn)
            raise
        finally:
            conn.close()

    # connections ------------------------------------------------------------------------

    def _sqlite(self) -> sqlite3.Connection:
        if self.read_only:
            uri = self.path.absolute().as_uri() + ("?immutable=1" if self._immutable
                                                   else "?mode=ro")
            conn = sqlite3.connect(uri, uri=True, timeout=30.0, isolation_level=None,
                                   check_same_thread=False)
        else:
            conn = sqlite3.connect(self.path, timeout=30.0, isolation_level=None,
                                   check_same_thread=False)
        conn.row_factory = sqlite3.Row
        return conn

    def connect(self) -> sqlite3.Connection:
        """A new connection with the durability pragmas set (docs/safety.md: WAL and
        synchronous=FULL on *every* connection — both are per-connection settings in SQLite,
        except WAL mode which is persistent but is re-asserted here anyway). A read-only
        ledger's connections are ``mode=ro`` and assert nothing that would write."""
        conn = self._sqlite()
        try:
            if not self.read_only:
                conn.execute("PRAGMA journal_mode=WAL")
            conn.execute("PRAGMA synchronous=FULL")
            conn.execute("PRAGMA foreign_keys=ON")
            conn.execute("PRAGMA busy_timeout=30000")
        except BaseException:
            conn.close()
            raise
        return conn

    @contextlib.contextmanager
    def _reading(self) -> Iterator[sqlite3.Connection]:
        """A connection for reads; storage faults in the block become JournalErrors."""
        with storage_faults(self.path, "reading it"):
            conn = self.connect()
            try:
                yield conn
            finally:
                conn.close()

    @contextlib.contextmanager
    def transaction(self, *, doing: str = "writing it", then: str | None = None
                    ) -> Iterator[sqlite3.Connection]:
        """One write transaction. A storage fault inside it (the disk full, a read-only
        file) is a :class:`~batchpay.errors.JournalError` saying what failed (``doing``)
        and what to do once fixed (``then``)."""
        with storage_faults(self.path, doing, then):
            conn = self.connect()
            try:
                conn.execute("BEGIN IMMEDIATE")
                try:
                    yield conn
                except BaseException:
                    # SQLite may have rolled back already (a full disk does): a second
                    # ROLLBACK would raise and hide the cause.
                    _rollback(conn)
                    raise
                conn.execute("COMMIT")
            finally:
                conn.close()

    # write side -------------------------------------------------------------------------

    def create_run(
        self,
        *,
        kind: str,
        product: str,
        env: str,
        input_path: str | os.PathLike[str],
        input_sha256: str,
        rows: Sequence[NewRow],
        settings: dict[str, Any],
        dry_run: bool = False,
        parent_run_id: str | None = None,
        operator: str | None = None,
        run_id: str | None = None,
        allow_repeat: bool = False,
        exclude_run_ids: Iterable[str] = (),
    ) -> RunRecord:
        """Create a run with every row PLANNED, its Request-Id and exact body bytes stored
        (docs/safety.md: stored before the first send), in one transaction.

        Unless ``allow_repeat``, references an earlier run still holds are refused
        (:class:`RepeatedReferences`) *inside* that transaction: ``BEGIN IMMEDIATE``
        serialises writers, so two operators starting the same sheet at the same moment
        cannot both pass the check (docs/safety.md invariant 1)."""
        excluded = tuple(exclude_run_ids)
        now = self.clock()
        path = Path(input_path)
        for _ in range(20):
            rid = run_id or new_run_id(now)
            try:
                with self.transaction(doing="creating the run",
                                      then="run the command again (no run was created and "
                                           "nothing was sent)") as conn:
                    if not allow_repeat:
                        repeats = repeats_in(conn, kind, env, rows, excluded)
                        if repeats:
                            raise RepeatedReferences(repeats)
                    conn.execute(
                        "INSERT INTO runs VALUES (?,?,?,?,?,?,?,?,?,?,?,?)",
                        (rid, iso(now), None, kind, env, str(path.resolve()), path.name,
                         input_sha256, operator or current_operator(), int(dry_run),
                         parent_run_id, json.dumps(settings, sort_keys=True)),
                    )
                    conn.executemany(
                        "INSERT INTO rows (run_id,row_number,attempt,kind,env,reference,"
                        "amount_minor,currency,source_account,input,normalised,request_id,body,"
                        "state,updated_at,reference_key) "
                        "VALUES (?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?)",
                        [(rid, r.row_number, r.attempt, kind, env, r.reference, r.amount_minor,
                          r.currency, r.source_account, json.dumps(r.input, ensure_ascii=False),
                          json.dumps(r.normalised, ensure_ascii=False),
                          request_id_for(product, rid, r.row_number, r.reference, r.attempt),
                          r.body, st.PLANNED, iso(now), reference_key(r.reference))
                         for r in rows],
                    )
                    detail = (f"{len(rows)} rows planned from {path.name} (sha256 "
                              f"{input_sha256[:12]}…), kind {kind}, env {env}"
                              + (", dry run" if dry_run else "")
                              + (f", retry of {parent_run_id}" if parent_run_id else ""))
                    insert_event(conn, rid, None, iso(now), "run-created", detail)
                return self.run(rid)
            except sqlite3.IntegrityError:
                if run_id is not None:
                    raise
                # Same second as another run: the next loop draws a fresh random suffix.
        raise RunError("could not allocate a unique run id")  # pragma: no cover

    def apply(self, change: RowChange) -> None:
        """Journal one change durably (its own transaction). Workers of a batch use
        :class:`JournalWriter` instead, which groups commits."""
        with self.transaction(doing=f"journaling row {change.row_number} of run "
                                    f"{change.run_id} ({change.new_state})",
                              then=_resume_hint(change.run_id)) as conn:
            apply_change(conn, change, iso(self.clock()))

    def add_event(self, run_id: str, type_: str, detail: str, *, row_number: int | None = None
                  ) -> None:
        with self.transaction(doing=f"journaling the {type_} event of run {run_id}",
                              then=_resume_hint(run_id)) as conn:
            insert_event(conn, run_id, row_number, iso(self.clock()), type_, detail)

    def finish_run(self, run_id: str) -> None:
        """Mark the run finished (no row left to send or resolve); idempotent."""
        with self.transaction(doing=f"finishing run {run_id}",
                              then=_resume_hint(run_id)) as conn:
            cur = conn.execute(
                "UPDATE runs SET finished_at=? WHERE run_id=? AND finished_at IS NULL",
                (iso(self.clock()), run_id))
            if cur.rowcount:
                insert_event(conn, run_id, None, iso(self.clock()), "run-finished",
                              "no row left to send or resolve")

    # read side --------------------------------------------------------------------------

    def run(self, run_id: str) -> RunRecord:
        with self._reading() as conn:
            row = conn.execute("SELECT * FROM runs WHERE run_id=?", (run_id,)).fetchone()
        if row is None:
            raise RunNotFound(f"no run {run_id!r} in the journal {self.path}",
                              hint="list runs with `batchpay runs`")
        return run_record(row)

    def runs(self, *, limit: int | None = None) -> list[RunRecord]:
        sql = "SELECT * FROM runs ORDER BY created_at DESC, run_id DESC"
        if limit:
            sql += f" LIMIT {int(limit)}"
        with self._reading() as conn:
            return [run_record(r) for r in conn.execute(sql)]

    def runs_for_month(self, month: str) -> list[RunRecord]:
        """Runs created in calendar month ``YYYY-MM`` *in Jakarta time* (WIB) — the month an
        Indonesian accountant closes — oldest first."""
        try:
            start = datetime.strptime(month, "%Y-%m").replace(tzinfo=WIB)
        except ValueError:
            raise RunError(f"month {month!r} is not YYYY-MM (e.g. 2026-11)") from None
        end = (start + timedelta(days=32)).replace(day=1)
        with self._reading() as conn:
            rows = conn.execute(
                "SELECT * FROM runs WHERE created_at >= ? AND created_at < ? "
                "ORDER BY created_at, run_id", (iso(start), iso(end))).fetchall()
        return [run_record(r) for r in rows]

    def children(self, run_id: str) -> list[RunRecord]:
        with self._reading() as conn:
            rows = conn.execute("SELECT * FROM runs WHERE parent_run_id=? ORDER BY created_at",
                                (run_id,)).fetchall()
        return [run_record(r) for r in rows]

    def rows(self, run_id: str, *, states: Iterable[str] | None = None, data: bool = True
             ) -> list[RowRecord]:
        """The run's rows in row order (only those in ``states``, if given). ``data=False``
        leaves each record's ``input`` and ``normalised`` empty — what sending and summaries
        need, at a fraction of the memory (a 100,000-row run: ~60 MB instead of ~300 MB)."""
        columns = "*" if data else _columns(False, self.schema)
        # Only the column list and "?" placeholders are interpolated; values are bound.
        sql, args = f"SELECT {columns} FROM rows WHERE run_id=?", [run_id]  # noqa: S608
        if states is not None:
            wanted = list(states)
            sql += f" AND state IN ({','.join('?' * len(wanted))})"
            args += wanted
        strings = Strings()
        with self._reading() as conn:
            return [row_record(r, data=data, strings=strings)
                    for r in conn.execute(sql + " ORDER BY row_number", args)]

    def iter_rows(self, run_id: str, *, data: bool = True, body: bool = True,
                  chunk: int = 5000) -> Iterator[RowRecord]:
        """The run's rows in row order, like :meth:`rows`, but fetched ``chunk`` at a time:
        only a chunk of records lives in memory (a 100,000-row report, issue 5 item 4).
        ``body=False`` leaves each record's request body empty. Each call reads on its own
        connection; :meth:`snapshot` reads several passes from one consistent state."""
        with self._reading() as conn:
            yield from _iter_rows(conn, run_id, data=data, body=body, chunk=chunk,
                                  schema=self.schema)

    def iter_events(self, run_id: str, *, chunk: int = 5000) -> Iterator[EventRecord]:
        """The run's events in journal order, fetched ``chunk`` at a time."""
        with self._reading() as conn:
            yield from _iter_events(conn, run_id, chunk=chunk)

    @contextlib.contextmanager
    def snapshot(self) -> Iterator[Snapshot]:
        """One read transaction: every pass over rows and events inside the ``with`` block
        sees the same journal state, even if another process writes meanwhile (WAL)."""
        with self._reading() as conn:
            conn.execute("BEGIN")
            try:
                yield Snapshot(conn, path=self.path, schema=self.schema)
            finally:
                conn.execute("COMMIT")

    def row(self, run_id: str, row_number: int) -> RowRecord:
        with self._reading() as conn:
            r = conn.execute("SELECT * FROM rows WHERE run_id=? AND row_number=?",
                             (run_id, row_number)).fetchone()
        if r is None:
            raise RunNotFound(f"run {run_id} has no row {row_number}")
        return row_record(r)

    def events(self, run_id: str) -> list[EventRecord]:
        strings = Strings()
        with self._reading() as conn:
            return [event_record(r, strings=strings) for r in conn.execute(
                "SELECT * FROM events WHERE run_id=? ORDER BY seq", (run_id,))]

    def reference_seen(self, kind: str, reference: str, *, env: str,
                       exclude_run_ids: Iterable[str] = ()) -> list[SeenReference]:
        """Earlier rows of ``kind`` in ``env`` that used ``reference`` and still count
        (docs/safety.md: the same reference already paid in an earlier run is refused).

        Counts: every state except REJECTED (DOKU proved it never executed), INVALID and
        NOT_SENT (never sent). So PLANNED/SENDING/UNKNOWN (may be or will be paid),
        progressing and successful rows, and FAILED/EXPIRED links (DOKU has used the
        reference_id up; `retry-failed` makes a new one) all block a new run.
        Environments are separate worlds: an emulator run never blocks production.
        """
        return self.references_seen(kind, [reference], env=env,
                                    exclude_run_ids=exclude_run_ids).get(reference, [])

    def references_seen(self, kind: str, references: Iterable[str], *, env: str,
                        exclude_run_ids: Iterable[str] = ()) -> dict[str, list[SeenReference]]:
        """:meth:`reference_seen` for many references in one query batch."""
        with self._reading() as conn:
            return references_seen_in(conn, kind, env, references, tuple(exclude_run_ids))

    def repeats(self, kind: str, env: str, rows: Sequence[NewRow], *,
                exclude_run_ids: Iterable[str] = ()) -> list[Repeat]:
        """The rows whose reference an earlier run still holds."""
        with self._reading() as conn:
            return repeats_in(conn, kind, env, rows, tuple(exclude_run_ids))
