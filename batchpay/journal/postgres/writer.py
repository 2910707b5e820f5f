"""Group commit on PostgreSQL (:mod:`batchpay.journal.groupcommit` has the mechanism): the
runner's workers share one connection, and one transaction (one WAL flush on the server)
commits everything queued meanwhile. :meth:`PostgresJournalWriter.commit` returns only after
the transaction holding *that* change committed (``synchronous_commit=on``).

A change the state machine refuses fails alone (a savepoint per change). A lost connection
fails the batch, and every later one, with a JournalError naming its rows (see
:meth:`PostgresJournalWriter._connection`).
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator, Sequence
from typing import TYPE_CHECKING, Any

from batchpay.errors import JournalError
from batchpay.journal.groupcommit import ApplyOne, GroupCommitWriter
from batchpay.journal.identities import iso
from batchpay.journal.postgres.faults import journal_error
from batchpay.journal.postgres.sql import apply_change
from batchpay.journal.records import RowChange

if TYPE_CHECKING:
    import psycopg

    from batchpay.journal.postgres.database import Database


class PostgresJournalWriter(GroupCommitWriter):
    """Commits :class:`RowChange`\\ s in batches (see the module docstring)."""

    def __init__(self, journal: Database, *, max_batch: int = 256) -> None:
        self.journal = journal
        if journal.read_only:
            raise ValueError("a read-only journal has no journal writer")
        self._conn: psycopg.Connection[dict[str, Any]] | None = journal.connect()
        super().__init__(max_batch=max_batch)

    def _connection(self) -> psycopg.Connection[dict[str, Any]]:
        """The writer's one connection. Never silently replaced: a lost connection (a server
        restart ends the run lock's session too) fails every later change, so the run stops
        and is resumed under a fresh lock — never sent on without one."""
        if self._conn is None:
            raise RuntimeError("journal writer is closed")
        return self._conn

    @contextlib.contextmanager
    def _transaction(self, changes: Sequence[RowChange]) -> Iterator[ApplyOne]:
        conn = self._connection()
        for run_id in dict.fromkeys(change.run_id for change in changes):
            held = self.journal.held.get(run_id)
            if held is not None:
                held.check()  # never journal a run's SENDING after its lock was lost
        at = iso(self.journal.clock())
        with conn.transaction():
            yield lambda change: self._apply_alone(conn, change, at)

    def _apply_alone(
        self, conn: psycopg.Connection[dict[str, Any]], change: RowChange, at: str
    ) -> Exception | None:
        try:
            with conn.transaction():  # a savepoint: a refused change fails alone
                apply_change(conn, change, at)
        except Exception as exc:
            if journal_error(exc, self.journal.location) is not None:
                raise  # the server, not the change: the whole batch fails
            return exc
        return None

    def _journal_error(self, exc: Exception, *, doing: str, then: str) -> JournalError | None:
        return journal_error(exc, self.journal.location, doing=doing, then=then)

    def _close_connection(self) -> None:
        if self._conn is not None:
            self._conn.close()
            self._conn = None
