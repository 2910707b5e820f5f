"""Chunked reads from PostgreSQL: a run's rows and events through a server-side cursor, a chunk
at a time (a 100,000-row report keeps one chunk of records in memory, as with SQLite), and
:class:`PostgresSnapshot`, several passes inside one ``REPEATABLE READ, READ ONLY``
transaction: every pass sees the same journal state while other processes write."""

from __future__ import annotations

import itertools
from collections.abc import Iterator
from typing import TYPE_CHECKING, Any

from batchpay.journal.postgres.faults import storage_faults
from batchpay.journal.records import EventRecord, RowRecord
from batchpay.journal.sqlite.sql import Strings, event_record, row_record

if TYPE_CHECKING:
    import psycopg

    Conn = psycopg.Connection[dict[str, Any]]

_ALL_COLUMNS = (
    "run_id, row_number, attempt, kind, env, reference, amount_minor, currency, "
    "source_account, input, normalised, request_id, body, state, doku_status, "
    "doku_ids, message, sends, last_seen_at, updated_at, reference_key, code"
)
# Every column but the row's input and normalised values (see PostgresJournal.rows).
_LEAN_COLUMNS = _ALL_COLUMNS.replace(
    " input, normalised,", " '{}' AS input, '{}' AS normalised,"
).replace(" reference_key, code", " '' AS reference_key, code")


# Cursor names are per connection: a pass abandoned half-way must not block the next one.
_cursors = itertools.count(1)


def columns(data: bool, body: bool = True) -> str:
    """The row columns to select: without input and normalised values unless ``data``,
    without the request body unless ``body``."""
    selected = _ALL_COLUMNS if data else _LEAN_COLUMNS
    return selected if body else selected.replace(" body,", " ''::bytea AS body,")


def iter_rows(
    conn: Conn, run_id: str, *, data: bool, body: bool, chunk: int
) -> Iterator[RowRecord]:
    """The run's rows in row order through a named (server-side) cursor, inside the caller's
    transaction."""
    with conn.cursor(name=f"batchpay_rows_{next(_cursors)}") as cur:
        # Only the column list is interpolated; the run id is bound.
        cur.execute(
            f"SELECT {columns(data, body)} FROM rows WHERE run_id=%s "  # noqa: S608
            "ORDER BY row_number",
            (run_id,),
        )
        while batch := cur.fetchmany(chunk):
            # Shared strings within a chunk only (as SQLite's reads.iter_rows, issue 12).
            strings = Strings()
            for r in batch:
                yield row_record(r, data=data, strings=strings)


def iter_events(conn: Conn, run_id: str, *, chunk: int) -> Iterator[EventRecord]:
    with conn.cursor(name=f"batchpay_events_{next(_cursors)}") as cur:
        cur.execute("SELECT * FROM events WHERE run_id=%s ORDER BY seq", (run_id,))
        while batch := cur.fetchmany(chunk):
            strings = Strings()  # within a chunk only (see iter_rows)
            for r in batch:
                yield event_record(r, strings=strings)


class PostgresSnapshot:
    """Chunked reads on one connection inside one ``REPEATABLE READ`` read-only transaction
    (:meth:`PostgresJournal.snapshot`). Passes are meant to run one after the other."""

    def __init__(self, conn: Conn, *, location: str) -> None:
        self._conn = conn
        self._location = location

    def iter_rows(
        self, run_id: str, *, data: bool = True, body: bool = True, chunk: int = 5000
    ) -> Iterator[RowRecord]:
        with storage_faults(self._location, "reading it"):
            yield from iter_rows(self._conn, run_id, data=data, body=body, chunk=chunk)

    def iter_events(self, run_id: str, *, chunk: int = 5000) -> Iterator[EventRecord]:
        with storage_faults(self._location, "reading it"):
            yield from iter_events(self._conn, run_id, chunk=chunk)
