"""Chunked reads: a run's rows and events fetched a chunk at a time (a 100,000-row report keeps
one chunk of records in memory, issue 5 item 4), and :class:`SqliteSnapshot`, several passes
inside one read transaction."""

from __future__ import annotations

import sqlite3
from collections.abc import Iterator
from pathlib import Path

from batchpay.journal.records import EventRecord, RowRecord
from batchpay.journal.sqlite.faults import storage_faults
from batchpay.journal.sqlite.schema import SCHEMA_VERSION
from batchpay.journal.sqlite.sql import Strings, event_record, row_record

# Every column but the row's input and normalised values (see SqliteJournal.rows).
_LEAN_COLUMNS = (
    "run_id, row_number, attempt, kind, env, reference, amount_minor, currency, "
    "source_account, '{}' AS input, '{}' AS normalised, request_id, body, state, doku_status, "
    "doku_ids, message, sends, last_seen_at, updated_at, '' AS reference_key, code"
)

_ALL_COLUMNS = (
    "run_id, row_number, attempt, kind, env, reference, amount_minor, currency, "
    "source_account, input, normalised, request_id, body, state, doku_status, "
    "doku_ids, message, sends, last_seen_at, updated_at, reference_key, code"
)

# A schema-1 journal opened read-only has neither column (row_record computes the key).
# Schema 1 has neither column: lean reads keep their '' key, full reads get NULL (the key is
# then computed from the reference, sql._key_of).
_V1_LEAN = ("'' AS reference_key, code", "'' AS reference_key, NULL AS code")
_V1_FULL = (" reference_key, code", " NULL AS reference_key, NULL AS code")


def columns(data: bool, schema: int) -> str:
    """The row columns to select: without input and normalised values unless ``data``."""
    selected = _ALL_COLUMNS if data else _LEAN_COLUMNS
    return selected if schema >= 2 else selected.replace(*_V1_LEAN).replace(*_V1_FULL)


def iter_rows(
    conn: sqlite3.Connection,
    run_id: str,
    *,
    data: bool,
    body: bool,
    chunk: int,
    schema: int = SCHEMA_VERSION,
) -> Iterator[RowRecord]:
    selected = columns(data, schema)
    if not body:
        selected = selected.replace(" body,", " X'' AS body,")
    # Only the column list is interpolated; the run id is bound.
    cur = conn.execute(
        f"SELECT {selected} FROM rows WHERE run_id=? "  # noqa: S608
        "ORDER BY row_number",
        (run_id,),
    )
    try:
        while batch := cur.fetchmany(chunk):
            # Shared strings within a chunk only: a pass over 100,000 rows would otherwise
            # keep every distinct time and message it met until its end (issue 12).
            strings = Strings()
            for r in batch:
                yield row_record(r, data=data, strings=strings)
    finally:
        cur.close()


def iter_events(conn: sqlite3.Connection, run_id: str, *, chunk: int) -> Iterator[EventRecord]:
    cur = conn.execute("SELECT * FROM events WHERE run_id=? ORDER BY seq", (run_id,))
    try:
        while batch := cur.fetchmany(chunk):
            strings = Strings()  # within a chunk only (see iter_rows)
            for r in batch:
                yield event_record(r, strings=strings)
    finally:
        cur.close()


class SqliteSnapshot:
    """Chunked reads on one connection inside one read transaction
    (:meth:`SqliteJournal.snapshot`). Passes are meant to run one after the other, not
    interleaved."""

    def __init__(
        self, conn: sqlite3.Connection, *, path: Path | None = None, schema: int = SCHEMA_VERSION
    ) -> None:
        self._conn = conn
        self._path = path or Path("journal")
        self._schema = schema

    def iter_rows(
        self, run_id: str, *, data: bool = True, body: bool = True, chunk: int = 5000
    ) -> Iterator[RowRecord]:
        with storage_faults(self._path, "reading it"):
            yield from iter_rows(
                self._conn, run_id, data=data, body=body, chunk=chunk, schema=self._schema
            )

    def iter_events(self, run_id: str, *, chunk: int = 5000) -> Iterator[EventRecord]:
        with storage_faults(self._path, "reading it"):
            yield from iter_events(self._conn, run_id, chunk=chunk)
