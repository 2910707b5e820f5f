"""Several workers on one run (issue 14; docs/safety.md §10).

A worker is the one engine (:class:`~batchpay.runs.engine.Engine`) fed with rows it *claimed*
(:meth:`Journal.claim_rows <batchpay.journal.protocol.Journal.claim_rows>`): its name and a
lease written on each row, in-doubt rows (SENDING, UNKNOWN) first. Workers of one run hold the
run lock shared, so a single-process ``run``/``resume``/``send`` never runs beside them.

* **Lease**: a thread renews the worker's leases every third of the lease. The worker trusts
  its lease only until the start of its last successful renewal + the lease, minus a margin,
  on its own monotonic clock: the journal's lease (database clock on PostgreSQL) always ends
  later than that. Past it, the worker journals nothing more (:class:`FencedWriter`) and
  halts ("lease-lost"); its rows are someone else's.
* **Takeover**: a killed worker's rows become claimable when its lease runs out. The next
  claimer resolves its SENDING/UNKNOWN rows by the engine's rules (docs/safety.md §2: a status
  look-up, or the identical replay with the stored Request-Id and body) — never a new
  Request-Id, which nothing in the engine makes. Should a stalled worker still put a request
  on the wire after losing its lease, it is that same Request-Id and body: DOKU answers it as
  a replay, so it cannot pay twice.
* **End**: a worker stops when nothing is claimable and no other worker holds an open row. A
  row it could not resolve (UNKNOWN after its bounded attempts) stays its own until it exits,
  so no worker loops on it; its claims are released on exit.
"""

from __future__ import annotations

import os
import secrets
import socket
import threading
import time
from collections.abc import Callable, Iterator, Sequence
from concurrent.futures import Future
from dataclasses import dataclass
from typing import TYPE_CHECKING

from batchpay.errors import JournalError, RunError
from batchpay.journal import Journal, JournalWriter, RowChange, RowRecord
from batchpay.kinds import KINDS
from batchpay.runs.engine import Engine, Sleep
from batchpay.runs.execute import RunResult
from batchpay.runs.options import EngineOptions
from batchpay.runs.progress import NullProgress, RowProgress
from batchpay.states import OPEN

if TYPE_CHECKING:
    from batchpay.doku.client import DokuClient

LEASE_SECONDS = 30.0


class LeaseLost(RunError):
    """The worker's lease ran out (or could not be renewed in time): its rows may be
    another worker's now, so it journals and sends nothing more."""


@dataclass(frozen=True)
class WorkerOptions:
    """``lease``: seconds a claim lasts unless renewed (renewed every third of it);
    ``batch``: rows per claim (0: four per concurrent request); ``poll``: seconds between
    looks while other workers hold the run's last open rows."""

    lease: float = LEASE_SECONDS
    batch: int = 0
    poll: float = 0.5


def worker_name() -> str:
    """``host:pid:random`` — unique per process, readable in the journal."""
    return f"{socket.gethostname()}:{os.getpid()}:{secrets.token_hex(3)}"


class Lease:
    """This worker's hold on its claims: renewed by a thread, trusted only until its
    conservative deadline (see the module docstring)."""

    def __init__(
        self,
        journal: Journal,
        run_id: str,
        worker: str,
        seconds: float,
        *,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.journal, self.run_id, self.worker, self.seconds = journal, run_id, worker, seconds
        self.clock = clock
        # Margin for the commit that follows a check and for clock-rate differences.
        self.margin = seconds / 5
        self.valid_until = clock() + seconds  # every claim comes later, so lasts longer
        self.lost: str | None = None
        self.on_lost: Callable[[str], None] | None = None
        self._done = threading.Event()
        self._thread: threading.Thread | None = None

    def alive(self) -> bool:
        """Whether the lease can still be trusted (once not, it is lost for good)."""
        if self.lost is None and self.clock() >= self.valid_until - self.margin:
            self._lose(f"worker {self.worker} lost its lease on run {self.run_id}")
        return self.lost is None

    def check(self) -> None:
        """Raise :class:`LeaseLost` once the lease can no longer be trusted."""
        if self.alive():
            return
        raise LeaseLost(
            self.lost or "lease lost",
            hint="its rows are resolved by whichever worker claims them next; nothing is "
            "paid twice",
        )

    def _lose(self, message: str) -> None:
        if self.lost is None:
            self.lost = message
            if self.on_lost is not None:
                self.on_lost(message)

    def renew(self) -> None:
        """Extend the leases once (a journal fault is retried at the next tick; the fence
        closes by itself when the deadline passes)."""
        started = self.clock()
        if started >= self.valid_until - self.margin:
            self._lose(
                f"worker {self.worker} could not renew its lease on run {self.run_id} in time"
            )
            return
        try:
            self.journal.renew_claims(self.run_id, self.worker, self.seconds)
        except JournalError:
            return
        self.valid_until = started + self.seconds

    def _loop(self) -> None:
        while not self._done.wait(self.seconds / 3) and self.lost is None:
            self.renew()

    def __enter__(self) -> Lease:
        self._thread = threading.Thread(target=self._loop, name="batchpay-lease", daemon=True)
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._done.set()
        if self._thread is not None:
            self._thread.join()


class FencedWriter:
    """A :class:`~batchpay.journal.protocol.JournalWriter` that refuses every change once
    the lease cannot be trusted: a worker that lost its rows journals nothing about them
    (so sends nothing new: the SENDING intent comes first)."""

    def __init__(self, inner: JournalWriter, lease: Lease) -> None:
        self.inner, self.lease = inner, lease

    def submit(self, change: RowChange) -> Future[None]:
        self.lease.check()
        return self.inner.submit(change)

    def commit(self, change: RowChange) -> None:
        self.lease.check()
        self.inner.commit(change)

    def commit_all(self, changes: Sequence[RowChange]) -> None:
        self.lease.check()
        self.inner.commit_all(changes)

    def close(self) -> None:
        self.inner.close()


def work(
    journal: Journal,
    client: DokuClient,
    run_id: str,
    *,
    options: EngineOptions | None = None,
    worker: WorkerOptions | None = None,
    progress: RowProgress | None = None,
    stop: threading.Event | None = None,
    sleep: Sleep | None = None,
    name: str | None = None,
) -> RunResult:
    """Work on ``run_id`` beside other workers until no row is left for this one (see the
    module docstring); the caller checked that the run is released. ``rows`` of the result
    stays empty (read the journal)."""
    w, me = worker or WorkerOptions(), name or worker_name()
    with journal.lock(run_id, shared=True):
        run = journal.run(run_id)
        if run.dry_run:
            raise RunError(f"run {run_id} is a dry run; nothing of it can be sent")
        journal.add_event(run_id, "worker", f"worker {me} started")
        lease = Lease(journal, run_id, me, w.lease)
        try:
            engine = _work_leased(journal, client, run_id, me, lease, w, options, progress, stop,
                                  sleep)  # fmt: skip
        finally:
            journal.release_claims(run_id, me)
        if engine.halt is not None:
            journal.add_event(run_id, engine.halt.reason, f"worker {me}: {engine.halt.message}")
        if not journal.rows(run_id, states=OPEN, data=False, limit=1):
            journal.finish_run(run_id)
        return RunResult(run=journal.run(run_id), rows=[], sends=engine.sends, halt=engine.halt)


def _work_leased(
    journal: Journal,
    client: DokuClient,
    run_id: str,
    me: str,
    lease: Lease,
    w: WorkerOptions,
    options: EngineOptions | None,
    progress: RowProgress | None,
    stop: threading.Event | None,
    sleep: Sleep | None,
) -> Engine:
    stop = stop or threading.Event()
    with journal.writer() as inner, lease:
        engine = Engine(
            kind=KINDS[journal.run(run_id).kind],
            client=client,
            journal=FencedWriter(inner, lease),
            options=options or EngineOptions(),
            progress=progress or NullProgress(),
            stop=stop,
            sleep=sleep,
        )
        lease.on_lost = lambda message: engine.stop("lease-lost", message)
        batch = w.batch or 4 * engine.opts.concurrency
        while not engine.stopping() and lease.alive():
            first = journal.claim_rows(run_id, me, limit=batch, lease_seconds=w.lease)
            if first:
                rows = _claimed(journal, engine, lease, run_id, me, first, batch, w.lease)
                engine.run(rows, count=engine.opts.concurrency)
            elif not journal.held_by_others(run_id, me):
                break  # every open row left is this worker's own unresolved one
            else:
                stop.wait(w.poll)  # another worker holds rows: it may die and leave them
    return engine


def _claimed(
    journal: Journal,
    engine: Engine,
    lease: Lease,
    run_id: str,
    me: str,
    first: list[RowRecord],
    batch: int,
    seconds: float,
) -> Iterator[RowRecord]:
    """The claimed rows, the next batch claimed when the engine reaches the end of one; ends
    when nothing more is claimable (the caller waits, if anyone else holds rows)."""
    rows = first
    while rows:
        yield from rows
        if engine.stopping() or not lease.alive():
            return
        rows = journal.claim_rows(run_id, me, limit=batch, lease_seconds=seconds)
