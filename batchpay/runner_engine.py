"""The sending engine: worker threads that settle rows one at a time, journaling before the
wire (docs/safety.md §1 (the state machine)).

For each row a worker does exactly this:

1. A Payout Link row that may already exist at DOKU (journaled SENDING or UNKNOWN) is looked
   up by ``reference_id`` first (docs/safety.md §2 "Resolution" 1; docs/doku-api.md §3: the
   Request-Id is only unique within a day, so after midnight WIB only the status check is
   safe). Found → its status is the outcome.
2. Commit ``→ SENDING`` (sends+1) and *wait for that commit* — then, and only then, send the
   stored Request-Id and the stored bytes.
3. Check that an accepted answer is about what was sent (:func:`batchpay.doku.answers.
   check_answer`: reference, amount, accounts; ``answer-mismatch`` → UNKNOWN, never paid),
   then journal the outcome: accepted → DOKU's status; a rejection that proves nothing was
   executed → REJECTED; unknown → UNKNOWN and re-send the **same** Request-Id and bytes after
   a backoff, a bounded number of times (Sub Account: DOKU answers a replay with the original
   response and HTTP 409).
4. ``DUPLICATE_REFERENCE`` proves the reference **exists** at DOKU (docs/safety.md "An answer counts
   only if it is about what we sent"): a Payout Link is looked up by reference and adopts the
   existing link's state; a Sub Account row (no look-up) stays UNKNOWN for the operator. Such a
   row — and one whose answer did not match — is never re-sent blind: only looked up.

Nothing here ever makes a new Request-Id (docs/safety.md §2 "Resolution" 3).
"""

from __future__ import annotations

import threading
import time
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Protocol

from batchpay import ledger_records as st
from batchpay.doku.answers import check_answer
from batchpay.doku.codes import ANSWER_MISMATCH, Outcome, OutcomeClass
from batchpay.doku.retry import delay_before_retry, full_jitter
from batchpay.kinds import Kind
from batchpay.ledger import JournalWriter, RowChange
from batchpay.ledger.model import DUPLICATE_REFERENCE
from batchpay.ledger_records import RowRecord

if TYPE_CHECKING:
    from batchpay.doku.client import DokuClient

Sleep = Callable[[float], None]

# Codes after which a link is only ever looked up, never re-sent by the engine, even when the
# look-up does not find it: DOKU said it holds the reference already.
LOOK_UP_ONLY_CODES = frozenset({DUPLICATE_REFERENCE})


def last_code(row: RowRecord) -> str | None:
    """The outcome code of the row's last answer: the journal's ``code`` column, or — for a
    row journaled before it existed — the code named in the row's message."""
    if row.code:
        return row.code
    text = row.message or ""
    for code in (DUPLICATE_REFERENCE, "REQUEST_ID_REUSED", ANSWER_MISMATCH):
        if code in text:
            return code
    return None


@dataclass(frozen=True)
class Options:
    """How hard to try. Bounded everywhere: a batch must end, leaving UNKNOWN rows listed
    (docs/safety.md §2 "Resolution" 4) rather than retrying forever."""

    concurrency: int = 4
    rate: float | None = None  # requests per second across all workers (token bucket)
    max_sends: int = 4  # per row per execution: the first send + 3 re-sends of the same bytes
    max_status_checks: int = 4  # per look-up
    max_rate_limited: int = 6  # 429s tolerated per row before leaving it for `resume`
    max_not_sent: int = 3  # connect failures per row before declaring DOKU unreachable
    backoff_base: float = 0.5
    backoff_cap: float = 30.0
    retry_after_cap: float = 120.0
    jitter: Callable[[float], float] = field(default_factory=full_jitter)


class Progress(Protocol):
    """What the engine reports; the CLI draws a tqdm bar, tests record calls."""

    def row_done(self, row: RowRecord, state: str) -> None: ...


class NullProgress:
    def row_done(self, row: RowRecord, state: str) -> None:
        """Ignore progress."""


class TokenBucket:
    """A thread-safe token bucket: at most ``rate`` acquisitions per second on average, a
    burst of at most ``burst``. Clock and sleep are injected so tests pin it exactly."""

    def __init__(self, rate: float, *, burst: float | None = None,
                 clock: Callable[[], float] = time.monotonic, sleep: Sleep = time.sleep) -> None:
        if rate <= 0:
            raise ValueError("rate must be > 0")
        self.rate = rate
        self.burst = max(1.0, burst if burst is not None else 1.0)
        self._clock = clock
        self._sleep = sleep
        self._tokens = self.burst
        self._last = clock()
        self._lock = threading.Lock()

    def acquire(self) -> None:
        while True:
            with self._lock:
                now = self._clock()
                self._tokens = min(self.burst, self._tokens + (now - self._last) * self.rate)
                self._last = now
                if self._tokens >= 1.0:
                    self._tokens -= 1.0
                    return
                wait = (1.0 - self._tokens) / self.rate
            self._sleep(wait)


@dataclass
class Halt:
    """Why the engine stopped taking rows early."""

    reason: str  # "interrupted" | "auth-failed" | "unreachable" | "error"
    message: str
    error: BaseException | None = None


class Engine:
    """Settles rows with ``options.concurrency`` worker threads sharing one journal writer."""

    def __init__(self, *, kind: Kind, client: DokuClient, journal: JournalWriter, options: Options,
                 progress: Progress, stop: threading.Event, sleep: Sleep | None = None,
                 rate_clock: Callable[[], float] = time.monotonic) -> None:
        self.kind = kind
        self.client = client
        self.journal = journal
        self.opts = options
        self.progress = progress
        self.user_stop = stop
        self._halted = threading.Event()
        self.halt: Halt | None = None
        self._halt_lock = threading.Lock()
        self._sleep = sleep
        self.bucket = (TokenBucket(options.rate, clock=rate_clock, sleep=self.wait)
                       if options.rate else None)
        self.sends = 0  # requests put on the wire by this engine
        self.outcomes: Counter[str] = Counter()
        self._count_lock = threading.Lock()
        self._rows: list[RowRecord] = []
        self._next = 0
        self._take_lock = threading.Lock()
        # Per worker: its last row's outcome, not journaled yet (see _commit).
        self._local = threading.local()

    # --- control ------------------------------------------------------------------------

    def stopping(self) -> bool:
        """True once no new row may be started (Ctrl-C, auth failure, unreachable, bug)."""
        if self.user_stop.is_set() and self.halt is None:
            # The CLI's stop event names the signal (Ctrl-C, SIGTERM, SIGHUP).
            self._stop("interrupted", getattr(self.user_stop, "message", None)
                       or "stopped by the operator (Ctrl-C)")
        return self._halted.is_set()

    def _stop(self, reason: str, message: str, error: BaseException | None = None) -> None:
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

    def _delay(self, attempt: int, retry_after: float | None = None) -> float:
        return delay_before_retry(attempt, retry_after=retry_after, base=self.opts.backoff_base,
                                  cap=self.opts.backoff_cap, jitter=self.opts.jitter)

    # --- the pool -----------------------------------------------------------------------

    def run(self, rows: list[RowRecord]) -> None:
        """Settle ``rows`` (in order, ``concurrency`` at a time); returns when every started
        row has been journaled. Re-raises a worker's unexpected exception."""
        self._rows = rows
        self._next = 0
        workers = [threading.Thread(target=self._worker, name=f"batchpay-worker-{i}",
                                    daemon=True)
                   for i in range(max(1, min(self.opts.concurrency, len(rows) or 1)))]
        for w in workers:
            w.start()
        for w in workers:
            # A timed join keeps the main thread responsive to SIGINT.
            while w.is_alive():
                w.join(0.2)
                self.stopping()
        if self.halt is not None and self.halt.error is not None:
            raise self.halt.error

    def _take(self) -> RowRecord | None:
        with self._take_lock:
            if self.stopping() or self._next >= len(self._rows):
                return None
            row = self._rows[self._next]
            self._next += 1
            return row

    def _worker(self) -> None:
        row: RowRecord | None = None
        try:
            while (row := self._take()) is not None:
                state = self.settle(row)
                with self._count_lock:
                    self.outcomes[state] += 1
                self.progress.row_done(row, state)
        except BaseException as exc:  # a bug or a journal failure: stop everyone
            where = f"row {row.row_number}: " if row is not None else ""
            self._stop("error", f"{where}{type(exc).__name__}: {exc}", exc)
        finally:
            try:
                self._journaled()
            except BaseException as exc:
                self._stop("error", f"{type(exc).__name__}: {exc}", exc)

    # --- one row ------------------------------------------------------------------------

    def _commit(self, row: RowRecord, new_state: str, event: str, *,
                outcome: Outcome | None = None, reason: str | None = None,
                message: str | None = None, count_send: bool = False,
                seen: bool = False, wait: bool = True, code: str | None = None) -> str:
        """Journal a change of ``row`` and wait until it is durable.

        ``wait=False`` is for a row's final outcome only: the worker keeps it and journals it
        together with its next change — the next row's SENDING intent, which it waits for
        before that row's socket write — in one transaction. One fsync per row instead of
        two, and the intent is still durable before every send. A crash before the outcome
        is journaled leaves the row SENDING, which resume resolves like any crash after a
        send (docs/safety.md §2 "Resolution"); the outcome is journaled before the worker does
        anything else that takes time (a status look-up, a rate-limit wait) or stops."""
        change = RowChange(
            run_id=row.run_id, row_number=row.row_number, new_state=new_state, event=event,
            reason=reason or (outcome.code if outcome else None),
            outcome=str(outcome.klass) if outcome else None,
            http_status=outcome.http_status if outcome else None,
            doku_status=outcome.status if outcome and outcome.status else None,
            doku_ids=dict(outcome.ids) if outcome and outcome.ids else None,
            message=message if message is not None else (outcome.message if outcome else None),
            count_send=count_send, seen=seen,
            code=code or (outcome.code if outcome else None))
        if not wait:
            self._journaled()  # never more than one held back
            self._local.pending = change
            return new_state
        pending = self._held()
        self.journal.commit_all([pending, change] if pending is not None else [change])
        return new_state

    def _held(self) -> RowChange | None:
        pending: RowChange | None = getattr(self._local, "pending", None)
        self._local.pending = None
        return pending

    def _journaled(self) -> None:
        """Journal this worker's held-back outcome now (raise if that fails)."""
        pending = self._held()
        if pending is not None:
            self.journal.commit(pending)

    def settle(self, row: RowRecord) -> str:
        """Drive one row as far as DOKU lets us now; return the state journaled last."""
        state = row.state
        # May DOKU already have executed this row's request? (SENDING: crashed between the
        # commit and the answer; UNKNOWN: the answer was lost.)
        may_exist = state in (st.SENDING, st.UNKNOWN)
        # DOKU said the reference exists: look it up, never re-send (a re-send cannot resolve
        # it). An answer-mismatch row is looked up like any UNKNOWN link (found → adopted if
        # the status answer matches; not found → the same Request-Id and bytes again).
        look_up_only = state == st.UNKNOWN and last_code(row) in LOOK_UP_ONLY_CODES
        sticky = last_code(row) if look_up_only else None
        if look_up_only and self.kind.product != "payout-link":
            # Sub Account has no look-up: the same Request-Id and bytes again (DOKU answers a
            # replay with the original, which check_answer compares) is the only question.
            look_up_only = False
        sends = rate_limited = not_sent = 0
        while True:
            if may_exist and self.kind.product == "payout-link":
                found, outcome = self.look_up(row)
                if found is True and outcome is not None:
                    if sticky == DUPLICATE_REFERENCE:
                        return self._adopt(row, outcome)
                    return self._commit(row, accepted_state(self.kind, outcome), "status-check",
                                        outcome=outcome, seen=True)
                if found is False:
                    # Unclear (status check failed or did not match): the row stays UNKNOWN,
                    # never re-sent blind.
                    return self._mark_unknown(row, state, outcome, "status check unanswered",
                                              code=sticky)
                if look_up_only:
                    return self._mark_unknown(
                        row, state, outcome, f"{sticky}: DOKU's status look-up does not find "
                        "the reference; not re-sent — check DOKU's back office", code=sticky)
                # 404 → not at DOKU: re-send the same Request-Id and bytes (Resolution 1).
            if self.stopping():
                # Ctrl-C / halt: nothing new goes on the wire; the row keeps its journaled
                # state (PLANNED, UNKNOWN, or SENDING from a crash) for `resume`.
                return state
            if sends >= self.opts.max_sends:
                return self._mark_unknown(row, state, None, "still unresolved; run "
                                          "`batchpay resume` to try again")
            if self.bucket is not None:
                self._journaled()
                self.bucket.acquire()
            # docs/safety.md: SENDING (with the stored Request-Id and bytes) is committed before
            # the socket write; commit() returns only once it is durable.
            state = self._commit(row, st.SENDING, "send", count_send=True,
                                 message=f"sending (send {row.sends + sends + 1})")
            sends += 1
            with self._count_lock:
                self.sends += 1
            # An answer counts only if it is about what we sent (docs/safety.md).
            outcome = check_answer(self.kind, row.body, self.client.send(
                self.kind, row.request_id, row.body))
            klass = outcome.klass
            if klass == OutcomeClass.ACCEPTED:
                return self._commit(row, accepted_state(self.kind, outcome), "outcome",
                                    outcome=outcome, seen=True, wait=False)
            if outcome.reference_exists:
                return self._reference_exists(row, outcome)
            if outcome.code == ANSWER_MISMATCH and self.kind.product != "payout-link":
                # An answer about another payment: ours may or may not have executed. A Sub
                # Account row waits for `resume`, whose same-Request-Id re-send DOKU answers
                # with the original (checked again). A link falls through to UNKNOWN below:
                # it is looked up next (the status answer is checked too), never re-sent
                # under a new Request-Id.
                return self._commit(row, st.UNKNOWN, "outcome", outcome=outcome)
            if klass == OutcomeClass.REJECTED:
                if outcome.auth_failed:
                    self._stop("auth-failed", outcome.message)
                    return self._not_executed(row, outcome, "auth-failed", may_exist)
                if may_exist and self.kind.product == "payout-link":
                    # A rejected *re-send* of a link proves only that this send was not
                    # executed; the first send may have been (Request-Ids are only unique
                    # within a day) — not proof of non-execution. (A Sub Account invoice
                    # number is unique for ever: a re-send after an executed first send is
                    # answered by a 409 replay or DUPLICATE_REFERENCE, both handled above.)
                    return self._commit(row, st.UNKNOWN, "outcome", outcome=outcome,
                                        message="DOKU rejected the re-send, but the first "
                                                f"send may have executed: {outcome.message}")
                return self._commit(row, st.REJECTED, "outcome", outcome=outcome, seen=True,
                                    wait=False)
            if klass == OutcomeClass.RATE_LIMITED:
                rate_limited += 1
                sends -= 1  # a 429 was refused before execution; it does not use up a send
                state = self._not_executed(row, outcome, "rate-limited", may_exist)
                if rate_limited > self.opts.max_rate_limited:
                    return state
                self.wait(self._delay(rate_limited, outcome.retry_after))
                continue
            if klass == OutcomeClass.NOT_SENT:
                not_sent += 1
                sends -= 1
                state = self._not_executed(row, outcome, "not-sent", may_exist)
                if not_sent > self.opts.max_not_sent:
                    self._stop("unreachable", f"DOKU could not be reached: {outcome.message}")
                    return state
                self.wait(self._delay(not_sent))
                continue
            # UNKNOWN: it may have executed. Same Request-Id and bytes next time, after a
            # status check for links (docs/safety.md §2 "Resolution" 1–2).
            state = self._commit(row, st.UNKNOWN, "outcome", outcome=outcome)
            may_exist = True
            if sends >= self.opts.max_sends or self.stopping():
                return state
            self.wait(self._delay(sends))

    def _reference_exists(self, row: RowRecord, outcome: Outcome) -> str:
        """DOKU answered DUPLICATE_REFERENCE: the reference exists there (paid by an earlier
        send, another run or another journal). Never REJECTED, never retried: a Payout Link
        adopts the existing link's state (looked up, and checked against what this row
        sent); a Sub Account row stays UNKNOWN for the operator."""
        if self.kind.product != "payout-link":
            return self._commit(
                row, st.UNKNOWN, "outcome", outcome=outcome,
                message=f"DUPLICATE_REFERENCE: the invoice number {row.reference} already "
                        "exists at DOKU — another run or journal may have paid it. Check "
                        "DOKU's back office before doing anything; do not pay it again. "
                        f"({outcome.message})")
        state = self._commit(
            row, st.UNKNOWN, "outcome", outcome=outcome,
            message=f"DUPLICATE_REFERENCE: the reference {row.reference} already exists at "
                    f"DOKU; looking it up ({outcome.message})")
        found, status = self.look_up(row)
        if found is True and status is not None:
            return self._adopt(row, status)
        if found is None:
            return self._mark_unknown(
                row, state, status, "DUPLICATE_REFERENCE, yet DOKU's status look-up does "
                "not find the reference; not re-sent — check DOKU's back office",
                code=DUPLICATE_REFERENCE)
        return self._mark_unknown(row, state, status, "DUPLICATE_REFERENCE, and the status "
                                  "look-up gave no usable answer; not re-sent",
                                  code=DUPLICATE_REFERENCE)

    def _adopt(self, row: RowRecord, status: Outcome) -> str:
        """Take the state of the link DOKU already held under this row's reference (its
        status answer matched what the row sent). The code stays DUPLICATE_REFERENCE: the
        link may belong to another run or journal, so a failed one is not retried from here
        (runner_retry)."""
        new = accepted_state(self.kind, status)
        return self._commit(row, new, "status-check", outcome=status, seen=True,
                            code=DUPLICATE_REFERENCE,
                            message=f"DUPLICATE_REFERENCE: adopted the existing link's status "
                                    f"{new} ({status.message})")

    def _not_executed(self, row: RowRecord, outcome: Outcome, reason: str,
                      may_exist: bool) -> str:
        """DOKU proved *this* request was not executed (401, 429, connect failure). The row
        goes back to PLANNED — unless an earlier send of it may have executed, in which case
        it is UNKNOWN, because this answer says nothing about that earlier send."""
        if may_exist:
            return self._commit(row, st.UNKNOWN, "outcome", outcome=outcome)
        return self._commit(row, st.PLANNED, "outcome", outcome=outcome, reason=reason)

    def _mark_unknown(self, row: RowRecord, state: str, outcome: Outcome | None,
                      message: str, *, code: str | None = None) -> str:
        """Journal the row UNKNOWN (unless it already is and nothing new was learnt).
        ``code`` keeps a code that must stick (DUPLICATE_REFERENCE) over the look-up's."""
        if state == st.UNKNOWN and outcome is None:
            return state
        if outcome is not None and outcome.code == ANSWER_MISMATCH:
            code = ANSWER_MISMATCH
        return self._commit(row, st.UNKNOWN, "status-check" if outcome else "outcome",
                            outcome=outcome, code=code,
                            message=f"{message}: {outcome.message}" if outcome else message)

    def look_up(self, row: RowRecord) -> tuple[bool | None, Outcome | None]:
        """Ask DOKU for a link by reference: (True, outcome) found, (None, outcome) not
        found, (False, outcome) no usable answer after the bounded attempts."""
        self._journaled()
        last: Outcome | None = None
        not_sent = 0
        for attempt in range(1, self.opts.max_status_checks + 1):
            if self.bucket is not None:
                self.bucket.acquire()
            # The answer must be about this row's link: reference, amount (docs/safety.md).
            last = check_answer(self.kind, row.body, self.client.payout_link_status(
                row.reference), reference=row.reference)
            if last.klass == OutcomeClass.ACCEPTED and last.status:
                return True, last
            if last.not_found:
                return None, last
            if last.auth_failed:
                self._stop("auth-failed", last.message)
                return False, last
            if last.klass == OutcomeClass.NOT_SENT:
                not_sent += 1
            if self.stopping() or attempt == self.opts.max_status_checks:
                break
            self.wait(self._delay(attempt, last.retry_after))
        if last is not None and not_sent >= self.opts.max_status_checks:
            self._stop("unreachable", f"DOKU could not be reached: {last.message}")
        return False, last


def accepted_state(kind: Kind, outcome: Outcome) -> str:
    """The journal state for an accepted answer (the business status is the state).

    * Payout Link: DOKU's ``payout_status``; a success envelope without a status we know
      means the link was initiated, i.e. PENDING (docs/doku-api.md §4).
    * Sub Account payout/transfer: ``SUCCESS`` or ``FAILED`` as DOKU says; any other status
      becomes PENDING (accepted, not paid) — SUCCESS only when DOKU said SUCCESS
      (docs/safety.md invariant 5).
    * Sub Account creation: ``CREATED`` (terminal success: the account exists); DOKU's
      ``account.status`` (``PENDING`` until activated) is kept as ``doku_status``.
    """
    status = (outcome.status or "").upper()
    if kind.product == "payout-link":
        known = (*st.PAYOUT_LINK_PROGRESS, "COMPLETED", "FAILED", "EXPIRED")
        return status if status in known else "PENDING"
    if kind.name == "sub-account-create":
        return "CREATED"
    if status in ("SUCCESS", "FAILED"):
        return status
    # Accepted with a status we do not know: DOKU took it, we cannot call it paid.
    return "PENDING"
