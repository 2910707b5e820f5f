"""Group commit on SQLite (:mod:`batchpay.journal.groupcommit` has the mechanism): the
runner's workers share one connection and one fsync per transaction. Durability per change:
:meth:`SqliteJournalWriter.commit` returns only after the transaction holding *that* change
committed (WAL, ``synchronous=FULL``: on disk).

A change the state machine refuses fails alone (a savepoint per change); a storage fault (a
full disk, a read-only or corrupt file) fails the batch with a JournalError naming its rows.
"""

from __future__ import annotations

import contextlib
import sqlite3
from collections.abc import Iterator, Sequence

from batchpay.errors import JournalError
from batchpay.journal.groupcommit import ApplyOne, GroupCommitWriter
from batchpay.journal.identities import iso
from batchpay.journal.records import RowChange
from batchpay.journal.sqlite.faults import is_storage_fault, journal_error, storage_faults
from batchpay.journal.sqlite.file import JournalFile
from batchpay.journal.sqlite.sql import apply_change


class SqliteJournalWriter(GroupCommitWriter):
    """Commits :class:`RowChange`\\ s in batches: one transaction (one fsync) for everything
    queued while the previous transaction was being written.

    A change the state machine refuses fails alone (a savepoint per change); the rest of the
    batch commits.
    """

    def __init__(self, journal: JournalFile, *, max_batch: int = 256) -> None:
        self.journal = journal
        if journal.read_only:
            raise ValueError("a read-only journal has no journal writer")
        with storage_faults(journal.path, "opening it for writing"):
            self._conn = journal.connect()  # used only by whoever holds the commit lock
        super().__init__(max_batch=max_batch)

    @contextlib.contextmanager
    def _transaction(self, changes: Sequence[RowChange]) -> Iterator[ApplyOne]:
        conn = self._conn
        try:
            conn.execute("BEGIN IMMEDIATE")
            at = iso(self.journal.clock())
            yield lambda change: self._apply_alone(conn, change, at)
            conn.execute("COMMIT")
        except Exception:
            # SQLite rolls back by itself on some faults (a full disk): roll back only what is
            # still open, so the cause is what every waiting worker sees.
            if conn.in_transaction:
                with contextlib.suppress(sqlite3.Error):
                    conn.execute("ROLLBACK")
            raise

    @staticmethod
    def _apply_alone(conn: sqlite3.Connection, change: RowChange, at: str) -> Exception | None:
        conn.execute("SAVEPOINT change")
        try:
            apply_change(conn, change, at)
        except Exception as exc:  # refused change: fail it alone
            if not conn.in_transaction or is_storage_fault(exc):
                raise  # the disk, not the change: the whole batch fails
            conn.execute("ROLLBACK TO change")
            conn.execute("RELEASE change")
            return exc
        conn.execute("RELEASE change")
        return None

    def _journal_error(self, exc: Exception, *, doing: str, then: str) -> JournalError | None:
        return journal_error(exc, self.journal.path, doing=doing, then=then)

    def _close_connection(self) -> None:
        self._conn.close()
