"""The engine: ONE worker pool that settles rows, journaling before the wire (docs/safety.md
§1 (the state machine)). What a worker does with one row is :mod:`batchpay.runs.settle`
(sending) or :func:`batchpay.runs.follow.refresh_one` (status look-ups); this module holds
the pool, the stop/halt control, the rate limit and the journaling of a row's changes.

Nothing here ever makes a new Request-Id (docs/safety.md §2 "Resolution" 3).
"""

from __future__ import annotations

import threading
import time
from collections import Counter
from collections.abc import Callable, Iterable, Sized
from dataclasses import dataclass
from typing import TYPE_CHECKING

from batchpay.doku.answers import check_answer
from batchpay.doku.codes import Outcome, OutcomeClass
from batchpay.doku.products import product_of
from batchpay.doku.retry import delay_before_retry
from batchpay.journal import JournalWriter, RowChange, RowRecord
from batchpay.kinds import Kind
from batchpay.runs.options import EngineOptions
from batchpay.runs.progress import RowProgress
from batchpay.runs.rate import TokenBucket
from batchpay.runs.taker import Ahead, Taker, intent_change
from batchpay.states import State

if TYPE_CHECKING:
    from batchpay.doku.client import DokuClient

Sleep = Callable[[float], None]
# What a worker does with one row; returns the state journaled last (None: nothing to report).
Work = Callable[[RowRecord], "str | None"]


@dataclass
class Halt:
    """Why the engine stopped taking rows early."""

    reason: str  # "interrupted" | "auth-failed" | "unreachable" | "error"
    message: str
    error: BaseException | None = None


class Engine:
    """Settles rows with ``options.concurrency`` worker threads sharing one journal writer."""

    def __init__(
        self,
        *,
        kind: Kind,
        client: DokuClient,
        journal: JournalWriter,
        options: EngineOptions,
        progress: RowProgress,
        stop: threading.Event,
        sleep: Sleep | None = None,
        rate_clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.kind = kind
        self.product = product_of(kind)
        self.client = client
        self.journal = journal
        self.opts = options
        self.progress = progress
        self.user_stop = stop
        self._halted = threading.Event()
        self.halt: Halt | None = None
        self._halt_lock = threading.Lock()
        self._sleep = sleep
        self.bucket = (
            TokenBucket(options.rate, clock=rate_clock, sleep=self.wait) if options.rate else None
        )
        self.sends = 0  # requests that reached DOKU (not the provably unsent: NOT_SENT)
        self.outcomes: Counter[str] = Counter()
        self._count_lock = threading.Lock()
        # Per worker: its last row's outcome, not journaled yet (see commit); the row it
        # took ahead, and the commits it queued without waiting (see send_intent).
        self._local = threading.local()
        self._taker: Taker | None = None

    # --- control ------------------------------------------------------------------------

    def stopping(self) -> bool:
        """True once no new row may be started (Ctrl-C, auth failure, unreachable, bug)."""
        if self.user_stop.is_set() and self.halt is None:
            # The CLI's stop event names the signal (Ctrl-C, SIGTERM, SIGHUP).
            self.stop(
                "interrupted",
                getattr(self.user_stop, "message", None) or "stopped by the operator (Ctrl-C)",
            )
        return self._halted.is_set()

    def stop(self, reason: str, message: str, error: BaseException | None = None) -> None:
        with self._halt_lock:
            if self.halt is None:
                self.halt = Halt(reason, message, error)
            self._halted.set()

    def wait(self, seconds: float) -> None:
        """Sleep, but wake at once on Ctrl-C or a halt (unless a test injected a sleep)."""
        if seconds <= 0:
            return
        if self._sleep is not None:
            self._sleep(seconds)
            return
        deadline = time.monotonic() + seconds
        while not self._halted.is_set() and not self.user_stop.is_set():
            left = deadline - time.monotonic()
            if left <= 0:
                return
            self._halted.wait(min(left, 0.2))

    def delay(self, attempt: int, retry_after: float | None = None) -> float:
        return delay_before_retry(
            attempt,
            retry_after=retry_after,
            base=self.opts.backoff_base,
            cap=self.opts.backoff_cap,
            jitter=self.opts.jitter,
        )

    def count_send(self) -> None:
        with self._count_lock:
            self.sends += 1

    # --- the pool -----------------------------------------------------------------------

    def run(
        self,
        rows: Iterable[RowRecord],
        work: Work | None = None,
        *,
        stop_when_idle: bool = True,
        count: int | None = None,
    ) -> None:
        """Work through ``rows`` in order, ``concurrency`` at a time (default work: send and
        settle each row); returns when every started row has been journaled. Re-raises a
        worker's unexpected exception.

        ``stop_when_idle``: whether a stop request that arrives after the last row was taken
        still halts the engine ("interrupted"). Sending: yes — the operator cut the run
        short. Status look-ups: no — every look-up had been started."""
        if work is None:
            from batchpay.runs.settle import settle

            def work(row: RowRecord) -> str:
                return settle(self, row)

        taker = Taker(rows, self, check_first=stop_when_idle)
        self._taker = taker
        workers = [
            threading.Thread(
                target=self._worker, args=(taker, work), name=f"batchpay-worker-{i}", daemon=True
            )
            for i in range(max(1, min(self.opts.concurrency, _count(rows, count) or 1)))
        ]
        for w in workers:
            w.start()
        for w in workers:
            # A timed join keeps the main thread responsive to SIGINT.
            while w.is_alive():
                w.join(0.2)
                if stop_when_idle:
                    self.stopping()
        if self.halt is not None and self.halt.error is not None:
            raise self.halt.error

    def _worker(self, taker: Taker, work: Work) -> None:
        row: RowRecord | None = None
        try:
            while (row := self._take(taker)) is not None:
                state = work(row)
                self._not_sent_ahead(row)
                if state is None:
                    continue
                with self._count_lock:
                    self.outcomes[state] += 1
                self.progress.row_done(row, state)
        except BaseException as exc:  # a bug or a journal failure: stop everyone
            where = f"row {row.row_number}: " if row is not None else ""
            self.stop("error", f"{where}{type(exc).__name__}: {exc}", exc)
        finally:
            try:
                self._put_back_ahead()
                self.journaled()
            except BaseException as exc:
                self.stop("error", f"{type(exc).__name__}: {exc}", exc)

    # --- journaling ---------------------------------------------------------------------

    def commit(
        self,
        row: RowRecord,
        new_state: str,
        event: str,
        *,
        outcome: Outcome | None = None,
        reason: str | None = None,
        message: str | None = None,
        count_send: bool = False,
        seen: bool = False,
        wait: bool = True,
        code: str | None = None,
    ) -> str:
        """Journal a change of ``row`` and wait until it is durable.

        ``wait=False`` is for a row's final outcome only: the worker keeps it and journals it
        together with its next change — usually queued with the SENDING intent of the row
        after next while the next row's request is on the wire (:meth:`send_intent`). One
        fsync per row instead of two, and the intent is still durable before every send. A
        crash before the outcome is journaled leaves the row SENDING, which resume resolves
        like any crash after a send (docs/safety.md §2 "Resolution"); the outcome is queued
        before the worker does anything else that takes time (the next request, a status
        look-up, a rate-limit wait) and is durable before the worker stops."""
        change = RowChange(
            run_id=row.run_id,
            row_number=row.row_number,
            new_state=new_state,
            event=event,
            reason=reason or (outcome.code if outcome else None),
            outcome=str(outcome.klass) if outcome else None,
            http_status=outcome.http_status if outcome else None,
            doku_status=outcome.status if outcome and outcome.status else None,
            doku_ids=dict(outcome.ids) if outcome and outcome.ids else None,
            message=message if message is not None else (outcome.message if outcome else None),
            count_send=count_send,
            seen=seen,
            code=code or (outcome.code if outcome else None),
        )
        if not wait:
            self.journaled()  # never more than one held back
            self._local.pending = change
            return new_state
        pending = self._held()
        self.journal.commit_all([pending, change] if pending is not None else [change])
        return new_state

    def accepted_state(self, outcome: Outcome) -> str:
        """The journal state for an accepted answer (:meth:`Product.accepted_state
        <batchpay.doku.products.Product.accepted_state>`)."""
        return self.product.accepted_state(self.kind, outcome.status)

    def _held(self) -> RowChange | None:
        pending: RowChange | None = getattr(self._local, "pending", None)
        self._local.pending = None
        return pending

    def journaled(self) -> None:
        """Journal this worker's held-back outcome now (raise if that fails)."""
        pending = self._held()
        if pending is not None:
            self.journal.commit(pending)

    # --- sending, with the next row's intent journaled while a request is on the wire -----

    def send_intent(self, row: RowRecord, intent: RowChange) -> str:
        """Journal ``row`` SENDING (``intent``: sends + 1) and return once that is durable:
        only then may its request go on the wire (docs/safety.md §1). A row taken ahead had
        it journaled while the previous request was on the wire (:meth:`send`)."""
        ahead: Ahead | None = getattr(self._local, "current", None)
        self._local.current = None
        if ahead is None or ahead.row is not row or not ahead.journaled:
            self.journal.commit_all([c for c in (self._held(), intent) if c is not None])
        return State.SENDING

    def send(self, row: RowRecord) -> Outcome:
        """Put ``row``'s stored request on the wire (its intent is durable) and return
        DOKU's answer.

        While DOKU works on it, the worker takes its next row and journals that row's SENDING
        intent together with its own held-back outcome: the disk sync overlaps the request
        instead of delaying the next one — one commit per row, none between two requests,
        and no hand-off to another thread. Should that row never be sent (the engine
        stops), it goes back to PLANNED (reason ``not-sent``); should the process die
        first, it is SENDING, which resume resolves like any crash after a send."""
        ahead = self._take_ahead()
        try:
            return self.client.send(self.kind, row.request_id, row.body, while_waiting=ahead)
        finally:
            if ahead is not None:
                ahead.finish()

    def _take_ahead(self) -> Ahead | None:
        if self._taker is None or getattr(self._local, "ahead", None) is not None:
            return None
        row = self._taker.take()
        if row is None:
            return None
        changes = [c for c in (self._held(),) if c is not None]
        planned = row.state == State.PLANNED  # a row that may exist is looked up first
        if planned:
            changes.append(intent_change(row, 1))
        ahead = Ahead(row, self.journal, changes, intent=planned)
        self._local.ahead = ahead
        return ahead

    def _take(self, taker: Taker) -> RowRecord | None:
        """The row taken ahead, if any (back to PLANNED when the engine is stopping), else
        the taker's next."""
        ahead: Ahead | None = getattr(self._local, "ahead", None)
        if ahead is None:
            return taker.take()
        self._local.ahead = None
        if self.stopping():
            self._not_sent(ahead)
            return None
        self._local.current = ahead
        return ahead.row

    def _not_sent_ahead(self, row: RowRecord) -> None:
        """``row`` was taken ahead with its intent journaled, yet never sent (the engine
        stopped before it went on the wire): back to PLANNED."""
        ahead: Ahead | None = getattr(self._local, "current", None)
        self._local.current = None
        if ahead is not None and ahead.row is row:
            self._not_sent(ahead)

    def _put_back_ahead(self) -> None:
        ahead: Ahead | None = getattr(self._local, "ahead", None)
        self._local.ahead = None
        if ahead is not None:
            self._not_sent(ahead)

    def _not_sent(self, ahead: Ahead) -> None:
        if not ahead.journaled:
            return  # nothing was journaled for it: it is still PLANNED
        self.commit(
            ahead.row,
            State.PLANNED,
            "outcome",
            reason="not-sent",
            message="not sent: the run stopped before this request went out",
        )

    # --- look-ups -----------------------------------------------------------------------

    def look_up(self, row: RowRecord) -> tuple[bool | None, Outcome | None]:
        """Ask DOKU for a link by reference: (True, outcome) found, (None, outcome) not
        found, (False, outcome) no usable answer after the bounded attempts."""
        self.journaled()
        last: Outcome | None = None
        not_sent = 0
        for attempt in range(1, self.opts.max_status_checks + 1):
            if self.bucket is not None:
                self.bucket.acquire()
            # The answer must be about this row's link: reference, amount (docs/safety.md).
            last = check_answer(
                self.kind,
                row.body,
                self.client.look_up(self.product, row.reference),
                reference=row.reference,
            )
            if last.klass == OutcomeClass.ACCEPTED and last.status:
                return True, last
            if last.not_found:
                return None, last
            if last.auth_failed:
                self.stop("auth-failed", last.message)
                return False, last
            if last.klass == OutcomeClass.NOT_SENT:
                not_sent += 1
            if self.stopping() or attempt == self.opts.max_status_checks:
                break
            self.wait(self.delay(attempt, last.retry_after))
        if last is not None and not_sent >= self.opts.max_status_checks:
            self.stop("unreachable", f"DOKU could not be reached: {last.message}")
        return False, last


def _count(rows: Iterable[RowRecord], count: int | None) -> int:
    if count is not None:
        return count
    return len(rows) if isinstance(rows, Sized) else 1


_Taker = Taker  # the name tests/test_status_sweep.py imports
