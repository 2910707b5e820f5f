"""Group commit, once for every engine: the runner's workers share one connection and one
durable commit per transaction.

A worker that commits takes the writer's lock and commits everything queued so far — its own
changes and whatever other workers queued meanwhile — in one transaction. Workers that arrive
while that transaction is being made durable queue their changes and wait for the lock; the
first of them to get it commits all of theirs together. At concurrency 1 the worker commits on
its own thread, with no hand-off; at 16, one fsync (one WAL flush) covers many workers.
Durability per change is unchanged: :meth:`GroupCommitWriter.commit` returns only after the
transaction holding *that* change committed.

:meth:`GroupCommitWriter.submit` (fire and forget, e.g. a dry run marking every row) is
committed the same way by a background thread.

An engine's writer subclasses :class:`GroupCommitWriter` and supplies only what is its own:
the transaction (:meth:`~GroupCommitWriter._transaction`, which yields how one change is
applied so that a refused change fails alone), the fault mapping
(:meth:`~GroupCommitWriter._journal_error`) and closing its connection
(:meth:`~GroupCommitWriter._close_connection`).
"""

from __future__ import annotations

import threading
from abc import ABC, abstractmethod
from collections import deque
from collections.abc import Callable, Sequence
from concurrent.futures import Future
from contextlib import AbstractContextManager
from dataclasses import dataclass, field
from typing import Self

from batchpay.errors import JournalError
from batchpay.journal.records import RowChange

ApplyOne = Callable[[RowChange], BaseException | None]
"""Applies one change inside the batch's transaction: None once it is applied, or why the
state machine refused it (that change alone is undone; the batch goes on). It raises for a
fault of the storage, not of the change: the whole batch fails."""


@dataclass
class _Pending:
    change: RowChange
    future: Future[None] = field(default_factory=Future)


class GroupCommitWriter(ABC):
    """Commits :class:`RowChange`\\ s in batches: one transaction for everything queued while
    the previous transaction was being written, up to ``max_batch`` changes, oldest first.

    A change the state machine refuses fails alone; the rest of the batch commits. A fault of
    the storage fails every change of the batch not refused already, with the
    :class:`~batchpay.errors.JournalError` naming their rows.

    A subclass opens its connection, then calls ``super().__init__`` (which starts the
    background thread).
    """

    def __init__(self, *, max_batch: int = 256) -> None:
        self.max_batch = max_batch
        self.commits = 0  # transactions committed (tests and benchmarks look at it)
        self._queue: deque[_Pending] = deque()
        self._queue_lock = threading.Lock()
        self._commit_lock = threading.Lock()  # held by whoever uses the connection
        self._wake = threading.Event()
        self._closed = False
        self._thread = threading.Thread(
            target=self._background, name="batchpay-journal", daemon=True
        )
        self._thread.start()

    # --- what an engine supplies ------------------------------------------------------------

    @abstractmethod
    def _transaction(self, changes: Sequence[RowChange]) -> AbstractContextManager[ApplyOne]:
        """One transaction for ``changes`` (the caller holds the lock): entered, it has begun
        and yields how to apply one change; left normally, it has committed durably; left by
        an exception, it has rolled back what is still open."""

    @abstractmethod
    def _journal_error(self, exc: Exception, *, doing: str, then: str) -> JournalError | None:
        """The engine's JournalError for ``exc``, or None when it is not a storage fault."""

    @abstractmethod
    def _close_connection(self) -> None:
        """Close the connection (the caller holds the lock; nothing is queued any more)."""

    # --- the API ----------------------------------------------------------------------------

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
        """Commit what is still queued, then close the connection; idempotent."""
        if self._closed:
            return
        self._closed = True
        self._wake.set()
        self._thread.join()
        with self._commit_lock:
            while self._queue:
                self._commit_queued()
            self._close_connection()

    def __enter__(self) -> Self:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    # --- committing -------------------------------------------------------------------------

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

    def _commit_batch(self, batch: list[_Pending]) -> None:
        """One transaction for ``batch``; every future completes only once it has ended."""
        done: list[_Pending] = []
        try:
            with self._transaction([item.change for item in batch]) as apply_one:
                for item in batch:
                    refused = apply_one(item.change)
                    if refused is not None:  # the change, not the storage: it fails alone
                        item.future.set_exception(refused)
                    else:
                        done.append(item)
            self.commits += 1
        except Exception as exc:
            failed = [item for item in batch if not item.future.done()]
            error = self._batch_error(exc, [item.change for item in failed])
            for item in failed:
                item.future.set_exception(error)
            return
        for item in done:
            item.future.set_result(None)

    def _batch_error(self, exc: Exception, failed: Sequence[RowChange]) -> Exception:
        """``exc`` as the :class:`~batchpay.errors.JournalError` naming the rows that could
        not be journaled (or ``exc`` itself when it is not a storage fault)."""
        runs: dict[str, list[str]] = {}
        for change in failed:
            runs.setdefault(change.run_id, []).append(f"{change.row_number} → {change.new_state}")
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
        error = self._journal_error(exc, doing=f"journaling {rows}", then=then)
        if error is None:
            return exc
        error.__cause__ = exc
        return error
