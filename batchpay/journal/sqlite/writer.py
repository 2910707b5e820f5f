"""Group commit: the runner's workers share one connection and one fsync per transaction.

A worker that commits takes the writer's lock and commits everything queued so far — its own
changes and whatever other workers queued meanwhile — in one transaction. Workers that arrive
while that transaction is being synced queue their changes and wait for the lock; the first of
them to get it commits all of theirs together. At concurrency 1 the worker commits on its own
thread, with no hand-off; at 16, one fsync covers many workers. Durability per change is
unchanged: :meth:`SqliteJournalWriter.commit` returns only after the transaction holding *that*
change committed (WAL, ``synchronous=FULL``: on disk).

`SqliteJournalWriter.submit` (fire and forget, e.g. a dry run marking every row) is committed
the same way by a background thread.
"""

from __future__ import annotations

import contextlib
import sqlite3
import threading
from collections import deque
from collections.abc import Sequence
from concurrent.futures import Future
from dataclasses import dataclass, field

from batchpay.journal.identities import iso
from batchpay.journal.records import RowChange
from batchpay.journal.sqlite.faults import is_storage_fault, journal_error, storage_faults
from batchpay.journal.sqlite.file import JournalFile
from batchpay.journal.sqlite.sql import apply_change


@dataclass
class _Pending:
    change: RowChange
    future: Future[None] = field(default_factory=Future)


class SqliteJournalWriter:
    """Commits :class:`RowChange`\\ s in batches: one transaction (one fsync) for everything
    queued while the previous transaction was being written.

    A change the state machine refuses fails alone (a savepoint per change); the rest of the
    batch commits.
    """

    def __init__(self, journal: JournalFile, *, max_batch: int = 256) -> None:
        self.journal = journal
        self.max_batch = max_batch
        self.commits = 0  # transactions committed (tests and benchmarks look at it)
        if journal.read_only:
            raise ValueError("a read-only journal has no journal writer")
        with storage_faults(journal.path, "opening it for writing"):
            self._conn = journal.connect()  # used only by whoever holds _commit_lock
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
        """Queue ``changes``, in order (together they usually share one transaction), and
        wait until every one is durably committed; raise the first one's failure."""
        items = self._enqueue(changes)
        last = items[-1].future
        while not last.done():
            with self._commit_lock:
                # A worker that held the lock may have committed these meanwhile.
                if not last.done():
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
            self._conn.close()

    def __enter__(self) -> SqliteJournalWriter:
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
            self._commit_batch(self._conn, batch)

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

    def _commit_batch(self, conn: sqlite3.Connection, batch: list[_Pending]) -> None:
        done: list[_Pending] = []
        try:
            conn.execute("BEGIN IMMEDIATE")
            at = iso(self.journal.clock())
            for item in batch:
                conn.execute("SAVEPOINT change")
                try:
                    apply_change(conn, item.change, at)
                except Exception as exc:  # refused change: fail it alone
                    if not conn.in_transaction or is_storage_fault(exc):
                        raise  # the disk, not the change: the whole batch fails
                    conn.execute("ROLLBACK TO change")
                    conn.execute("RELEASE change")
                    item.future.set_exception(exc)
                    continue
                conn.execute("RELEASE change")
                done.append(item)
            conn.execute("COMMIT")
            self.commits += 1
        except Exception as exc:
            # SQLite rolls back by itself on some faults (a full disk): roll back only what is
            # still open, so the cause is what every waiting worker sees.
            if conn.in_transaction:
                with contextlib.suppress(sqlite3.Error):
                    conn.execute("ROLLBACK")
            error = self._journal_error(exc, [item for item in batch if not item.future.done()])
            for item in batch:
                if not item.future.done():
                    item.future.set_exception(error)
            return
        for item in done:
            item.future.set_result(None)

    def _journal_error(self, exc: Exception, failed: list[_Pending]) -> Exception:
        """``exc`` as the :class:`~batchpay.errors.JournalError` naming the rows that could
        not be journaled (or ``exc`` itself when it is not a storage fault)."""
        runs: dict[str, list[str]] = {}
        for item in failed:
            runs.setdefault(item.change.run_id, []).append(
                f"{item.change.row_number} → {item.change.new_state}"
            )
        rows = (
            "; ".join(
                f"run {run_id} row(s) {', '.join(changes)}" for run_id, changes in runs.items()
            )
            or "a batch of row changes"
        )
        run_ids = list(runs) or ["RUN_ID"]
        then = (
            " / ".join(f"`batchpay resume {r}`" for r in run_ids)
            + " (a row whose SENDING could not be journaled was not sent; a row the "
            "journal still shows SENDING or UNKNOWN may have been paid, and resume asks "
            "DOKU about it before sending anything)"
        )
        error = journal_error(exc, self.journal.path, doing=f"journaling {rows}", then=then)
        if error is None:
            return exc
        error.__cause__ = exc
        return error
