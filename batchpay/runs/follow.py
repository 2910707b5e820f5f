"""Following a run at DOKU: status look-ups of its Payout Link rows (docs/safety.md §2, §5).

* :func:`refresh_statuses` — one pass: ask DOKU about every non-terminal link of the run
  (and, with ``recheck_final``, about final ones: a change after completion is an audited
  transition). Never sends a money-moving request.
* :func:`poll` — refresh until settled, stopped or out of time (``status --watch`` /
  ``--until-final``), with an injectable wait and clock.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from concurrent.futures import Future
from typing import TYPE_CHECKING

from batchpay.doku.codes import ANSWER_MISMATCH, Outcome
from batchpay.doku.products import product_of
from batchpay.journal import Journal, JournalWriter, RowChange, RowRecord
from batchpay.kinds import KINDS
from batchpay.runs.engine import Engine, Sleep
from batchpay.runs.execute import RunResult
from batchpay.runs.options import EngineOptions
from batchpay.runs.progress import NullProgress
from batchpay.states import (
    CHANGED_AFTER_COMPLETION,
    OPEN,
    PROGRESS,
    RECHECKABLE,
    RECHECKED_FINAL,
    State,
)

if TYPE_CHECKING:
    from batchpay.doku.client import DokuClient

STATUS_CHANGED_AFTER_COMPLETION = "status-changed-after-completion"
Note = Callable[[RowRecord, str, str], None]


def refresh_statuses(
    ledger: Journal,
    client: DokuClient,
    run_id: str,
    *,
    options: EngineOptions | None = None,
    stop: threading.Event | None = None,
    sleep: Sleep | None = None,
    recheck_final: bool = False,
) -> RunResult:
    """Ask DOKU for every non-terminal Payout Link row of the run (progressing, and
    SENDING/UNKNOWN — a found link resolves them) and journal what changed. Never sends a
    money-moving request. Sub Account runs have no status endpoint: nothing to do.

    ``recheck_final`` also asks about final rows (COMPLETED/FAILED/EXPIRED): banks reverse.
    A different answer is journaled as an explicit transition (reason
    ``changed-after-completion``, event ``status-changed-after-completion`` with the old and
    new state), never a silent overwrite; an answer about another link or amount
    (``answer-mismatch``) changes nothing and is journaled as an event. Every status answer
    is checked against what the row sent (:func:`batchpay.doku.answers.check_answer`)."""
    with ledger.lock(run_id):
        run = ledger.run(run_id)
        kind = KINDS[run.kind]
        if product_of(kind).status_lookup is None or run.dry_run:
            return RunResult(run=run, rows=ledger.rows(run_id, data=False))
        states: tuple[str, ...] = (*PROGRESS, State.SENDING, State.UNKNOWN)
        if recheck_final:
            states += RECHECKABLE
        todo = ledger.rows(run_id, states=states, data=False)
        notes: list[tuple[int, str, str]] = []
        notes_lock = threading.Lock()

        def note(row: RowRecord, type_: str, detail: str) -> None:
            with notes_lock:
                notes.append((row.row_number, type_, detail))

        with ledger.writer() as journal:
            engine = Engine(
                kind=kind,
                client=client,
                journal=journal,
                options=options or EngineOptions(),
                progress=NullProgress(),
                stop=stop or threading.Event(),
                sleep=sleep,
            )
            commits = Pipelined(journal)
            engine.run(
                todo, lambda row: refresh_one(engine, commits, row, note), stop_when_idle=False
            )
            commits.settle_all()
        for row_number, type_, detail in sorted(notes):
            ledger.add_event(run_id, type_, detail, row_number=row_number)
        if engine.halt is not None:
            ledger.add_event(run_id, engine.halt.reason, engine.halt.message)
        rows = ledger.rows(run_id, data=False)
        return RunResult(run=ledger.run(run_id), rows=rows, halt=engine.halt)


class Pipelined:
    """Status answers journaled while the worker asks about its next row. A status answer
    is not an intent to send (docs/safety.md §1 needs only those durable before the wire),
    so each worker waits for its *previous* answer's commit, not its own: the commit
    overlaps the next look-up's round trip, and a failed commit still stops the sweep one
    row later. :meth:`settle_all` waits for every worker's last one."""

    def __init__(self, journal: JournalWriter) -> None:
        self.journal = journal
        self._last: dict[int, Future[None]] = {}
        self._lock = threading.Lock()

    def commit(self, change: RowChange) -> None:
        me = threading.get_ident()
        with self._lock:
            previous = self._last.pop(me, None)
        if previous is not None:
            previous.result()
        future = self.journal.submit(change)
        with self._lock:
            self._last[me] = future

    def settle_all(self) -> None:
        with self._lock:
            pending, self._last = list(self._last.values()), {}
        for future in pending:
            future.result()


def refresh_one(
    engine: Engine, journal: JournalWriter | Pipelined, row: RowRecord, note: Note
) -> None:
    """Look one row up and journal what DOKU says about it (never re-sent here)."""
    found, outcome = engine.look_up(row)
    final = row.state in RECHECKABLE
    if found is not True or outcome is None:
        # Unknown to DOKU or unanswered: nothing to journal, nothing is re-sent here. An
        # answer about another link is worth an audit line (it never changes the row).
        if outcome is not None and outcome.code == ANSWER_MISMATCH:
            note(
                row,
                ANSWER_MISMATCH,
                f"status look-up of {row.reference} ({row.state}): {outcome.message}",
            )
        elif final and found is None:
            note(
                row,
                "status-not-found-after-completion",
                f"DOKU's status look-up does not find {row.reference}, which is {row.state} "
                "in the journal; the row is unchanged — check DOKU's back office",
            )
        return
    new = engine.accepted_state(outcome)
    if final:
        journal.commit(_final_change(row, new, outcome))
        return
    unchanged = new == row.state and (outcome.status or "") == (row.doku_status or "")
    journal.commit(
        RowChange(
            run_id=row.run_id,
            row_number=row.row_number,
            new_state=new,
            event="status-check",
            outcome=str(outcome.klass),
            http_status=outcome.http_status,
            doku_status=outcome.status,
            doku_ids=dict(outcome.ids) or None,
            message=outcome.message,
            seen=True,
            record_event=not unchanged,
            code=outcome.code,
        )
    )


def _final_change(row: RowRecord, new: str, outcome: Outcome) -> RowChange:
    """A re-checked final row: unchanged (refresh "last seen" only; message and code stay as
    they were), or changed after completion (an audited transition, docs/safety.md §5)."""
    if new == row.state:
        return RowChange(
            run_id=row.run_id,
            row_number=row.row_number,
            new_state=new,
            event="status-check",
            reason=RECHECKED_FINAL,
            seen=True,
            doku_status=outcome.status,
            record_event=False,
            code=row.code,
        )
    return RowChange(
        run_id=row.run_id,
        row_number=row.row_number,
        new_state=new,
        event=STATUS_CHANGED_AFTER_COMPLETION,
        reason=CHANGED_AFTER_COMPLETION,
        outcome=str(outcome.klass),
        http_status=outcome.http_status,
        doku_status=outcome.status,
        doku_ids=dict(outcome.ids) or None,
        seen=True,
        code=CHANGED_AFTER_COMPLETION,
        message=f"changed after completion: DOKU now says {new}, the journal had "
        f"{row.state} ({outcome.message})",
    )


def is_settled(rows: list[RowRecord]) -> bool:
    """No row still moving: every row terminal (or never sendable)."""
    return all(r.state not in OPEN and r.state not in PROGRESS for r in rows)


def poll(
    ledger: Journal,
    client: DokuClient,
    run_id: str,
    *,
    watch: bool,
    until_final: bool,
    timeout: float,
    interval: float,
    recheck_final: bool,
    stop: threading.Event,
    polled: Callable[[list[RowRecord]], None],
    wait: Sleep | None = None,
    clock: Callable[[], float] = time.monotonic,
    options: EngineOptions | None = None,
) -> RunResult:
    """Refresh once, or (``watch`` / ``until_final``) again every ``interval`` seconds until
    every row is settled, ``stop`` is set or (``until_final``) ``timeout`` seconds passed.
    Final rows are re-checked once, on the first refresh. ``polled`` sees the rows between
    refreshes; ``wait`` defaults to ``stop.wait`` (wakes at once on Ctrl-C). ``options``
    bound the engine (``concurrency`` look-ups in flight)."""
    deadline = clock() + timeout
    while True:
        outcome = refresh_statuses(
            ledger, client, run_id, options=options, stop=stop, recheck_final=recheck_final
        )
        recheck_final = False  # final rows once; later polls follow the open ones
        outcome.settled = is_settled(outcome.rows)
        if outcome.settled or stop.is_set() or not (watch or until_final):
            return outcome
        if until_final and clock() >= deadline:
            return outcome
        polled(outcome.rows)
        (wait or stop.wait)(interval)
