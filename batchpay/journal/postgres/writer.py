"""Group commit on PostgreSQL, as :mod:`batchpay.journal.sqlite.writer` does it on SQLite: the
runner's workers share one connection, and whoever commits takes the writer's lock and commits
everything queued so far — its own changes and those other workers queued meanwhile — in one
transaction (one WAL flush on the server). :meth:`PostgresJournalWriter.commit` returns only
after the transaction holding *that* change committed (``synchronous_commit=on``).

A change the state machine refuses fails alone (a savepoint per change). A lost connection
fails the batch, and every later one, with a JournalError naming its rows (see
:meth:`PostgresJournalWriter._connection`).
"""

from __future__ import annotations

import threading
from collections import deque
from collections.abc import Sequence
from concurrent.futures import Future
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from batchpay.journal.identities import iso
from batchpay.journal.postgres.faults import journal_error
from batchpay.journal.postgres.sql import apply_change
from batchpay.journal.records import RowChange

if TYPE_CHECKING:
    import psycopg

    from batchpay.journal.postgres.database import Database


@dataclass
class _Pending:
    change: RowChange
    future: Future[None] = field(default_factory=Future)


class PostgresJournalWriter:
    """Commits :class:`RowChange`\\ s in batches (see the module docstring)."""

    def __init__(self, journal: Database, *, max_batch: int = 256) -> None:
        self.journal = journal
        self.max_batch = max_batch
        self.commits = 0  # transactions committed (tests and benchmarks look at it)
        if journal.read_only:
            raise ValueError("a read-only journal has no journal writer")
        self._conn: psycopg.Connection[dict[str, Any]] | None = journal.connect()
        self._queue: deque[_Pending] = deque()
        self._queue_lock = threading.Lock()
        self._commit_lock = threading.Lock()
        self._wake = threading.Event()
        self._closed = False
        self._thread = threading.Thread(
            target=self._background, name="batchpay-journal", daemon=True
        )
        self._thread.start()

    # --- the API ------------------------------------------------------------------------

    def submit(self, change: RowChange) -> Future[None]:
        """Queue ``change``; the returned future completes once it is committed."""
        (item,) = self._enqueue([change])
        self._wake.set()
        return item.future

    def commit(self, change: RowChange) -> None:
        """Queue ``change`` and wait until it is durably committed (or raise why not)."""
        self.commit_all([change])

    def commit_all(self, changes: Sequence[RowChange]) -> None:
        """Queue ``changes`` in order and wait until every one is durably committed; raise
        the first one's failure."""
        items = self._enqueue(changes)
        last = items[-1].future
        while not last.done():
            with self._commit_lock:
                if not last.done():  # another worker may have committed them meanwhile
                    self._commit_queued()
        for item in items:
            item.future.result()

    def close(self) -> None:
        if self._closed:
            return
        self._closed = True
        self._wake.set()
        self._thread.join()
        with self._commit_lock:
            while self._queue:
                self._commit_queued()
            if self._conn is not None:
                self._conn.close()
                self._conn = None

    def __enter__(self) -> PostgresJournalWriter:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    # --- committing ---------------------------------------------------------------------

    def _enqueue(self, changes: Sequence[RowChange]) -> list[_Pending]:
        if self._closed:
            raise RuntimeError("journal writer is closed")
        items = [_Pending(change) for change in changes]
        with self._queue_lock:
            self._queue.extend(items)
        return items

    def _commit_queued(self) -> None:
        """Commit up to ``max_batch`` queued changes, oldest first (caller holds the lock)."""
        with self._queue_lock:
            batch = [self._queue.popleft() for _ in range(min(self.max_batch, len(self._queue)))]
        if batch:
            self._commit_batch(batch)

    def _background(self) -> None:
        """Commit submitted changes nobody waits on synchronously."""
        while True:
            self._wake.wait()
            self._wake.clear()
            while self._queue:
                with self._commit_lock:
                    self._commit_queued()
            if self._closed:
                return

    def _connection(self) -> psycopg.Connection[dict[str, Any]]:
        """The writer's one connection. Never silently replaced: a lost connection (a server
        restart ends the run lock's session too) fails every later change, so the run stops
        and is resumed under a fresh lock — never sent on without one."""
        if self._conn is None:
            raise RuntimeError("journal writer is closed")
        return self._conn

    def _commit_batch(self, batch: list[_Pending]) -> None:
        done: list[_Pending] = []
        try:
            conn = self._connection()
            for run_id in dict.fromkeys(item.change.run_id for item in batch):
                held = self.journal.held.get(run_id)
                if held is not None:
                    held.check()  # never journal a run's SENDING after its lock was lost
            at = iso(self.journal.clock())
            with conn.transaction():
                for item in batch:
                    try:
                        with conn.transaction():  # a savepoint: a refused change fails alone
                            apply_change(conn, item.change, at)
                    except Exception as exc:
                        if journal_error(exc, self.journal.location) is not None:
                            raise  # the server, not the change: the whole batch fails
                        item.future.set_exception(exc)
                        continue
                    done.append(item)
            self.commits += 1
        except Exception as exc:
            error = self._journal_error(exc, [item for item in batch if not item.future.done()])
            for item in batch:
                if not item.future.done():
                    item.future.set_exception(error)
            return
        for item in done:
            item.future.set_result(None)

    def _journal_error(self, exc: Exception, failed: list[_Pending]) -> Exception:
        """``exc`` as the JournalError naming the rows that could not be journaled (or
        ``exc`` itself when it is not a storage fault)."""
        runs: dict[str, list[str]] = {}
        for item in failed:
            runs.setdefault(item.change.run_id, []).append(
                f"{item.change.row_number} → {item.change.new_state}"
            )
        rows = (
            "; ".join(f"run {r} row(s) {', '.join(changes)}" for r, changes in runs.items())
            or "a batch of row changes"
        )
        then = (
            " / ".join(f"`batchpay resume {r}`" for r in (list(runs) or ["RUN_ID"]))
            + " (a row whose SENDING could not be journaled was not sent; a row the "
            "journal still shows SENDING or UNKNOWN may have been paid, and resume asks "
            "DOKU about it before sending anything)"
        )
        error = journal_error(exc, self.journal.location, doing=f"journaling {rows}", then=then)
        if error is None:
            return exc
        error.__cause__ = exc
        return error
