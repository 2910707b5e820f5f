"""Executing a run: plan → journal → send → journal (docs/safety.md).

* :func:`create_run` — a :class:`~batchpay.runs.plan.Plan` becomes a journaled run, every row
  PLANNED with its Request-Id and exact bytes (before anything is sent).
* :func:`execute` — take the run lock, send PLANNED rows, resolve SENDING/UNKNOWN ones.
* :func:`dry_run` — sign every request, send nothing, every row NOT_SENT.
* :func:`resume` — refuse a changed input file, then execute (a finished run sends nothing:
  invariant 4).

Clock, sleep, progress and the stop event are parameters so tests (and the fault and kill -9
suites) can pin them.
"""

from __future__ import annotations

import itertools
import threading
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any

from batchpay.doku.products import product_of
from batchpay.errors import JournalError, RunError
from batchpay.journal import Journal, RowChange, RowRecord, RunRecord, utc_now
from batchpay.kinds import KINDS
from batchpay.runs.checks import check_input
from batchpay.runs.engine import Engine, Halt, Sleep
from batchpay.runs.options import EngineOptions
from batchpay.runs.progress import NullProgress, RowProgress
from batchpay.states import OPEN, State

if TYPE_CHECKING:
    from batchpay.config import Settings
    from batchpay.doku.client import DokuClient
    from batchpay.runs.plan import Plan

Clock = Callable[[], datetime]
# Rows the engine reads from the journal at a time.
PAGE = 1000


@dataclass
class RunResult:
    """What an execution (run, resume, status, retry) ended with."""

    run: RunRecord
    # Every row's state, ids, amount and message; input and normalised values and, after
    # sending, request bodies are left empty (a 100,000-row run keeps ~100 MB here instead of
    # ~300 MB). Read ledger.rows(run_id) for those. Empty when execute() was told not to
    # read them: the run service reads them once its workbook is written (service.py).
    rows: list[RowRecord]
    sends: int = 0  # requests put on the wire by this call
    halt: Halt | None = None
    workbook: Path | None = None
    # The workbook could not be written (money has moved: the result still stands; the
    # journal is intact and the workbook can be rebuilt with `batchpay report`).
    workbook_error: str | None = None
    settled: bool | None = None  # follow: no row still moving (None: not asked)

    @property
    def interrupted(self) -> bool:
        return self.halt is not None and self.halt.reason == "interrupted"


def create_run(
    ledger: Journal,
    the_plan: Plan,
    *,
    settings: dict[str, Any],
    dry_run: bool = False,
    parent_run_id: str | None = None,
    allow_repeat: bool = False,
    exclude_run_ids: tuple[str, ...] = (),
) -> RunRecord:
    """Journal the plan: a run bound to the input's SHA-256, every row PLANNED with its
    deterministic Request-Id and exact body (docs/safety.md: stored before the first send).
    References an earlier run holds are refused atomically unless ``allow_repeat`` (a dry
    run never blocks anything, so it is never refused either)."""
    return ledger.create_run(
        kind=the_plan.kind.name,
        product=the_plan.kind.product,
        env=the_plan.env,
        input_path=the_plan.input_path,
        input_sha256=the_plan.input_sha256,
        rows=the_plan.rows,
        settings=settings,
        dry_run=dry_run,
        parent_run_id=parent_run_id,
        allow_repeat=allow_repeat or dry_run,
        exclude_run_ids=exclude_run_ids,
    )


def dry_run(ledger: Journal, run_id: str, settings: Settings, *, clock: Clock = utc_now) -> int:
    """Build and sign every request of the run without sending; mark every row NOT_SENT.
    A page of rows at a time (:data:`PAGE`), each page's changes in one commit: a
    100,000-row dry run never holds every row's body."""
    from batchpay.doku import signing

    run = ledger.run(run_id)
    kind = KINDS[run.kind]
    scheme = product_of(kind).scheme(settings.payout_link_signature)
    timestamp = signing.format_timestamp(clock())
    secret = settings.secret_key.reveal()
    message = f"dry run: request built and signed ({scheme}), not sent"
    count = 0
    with ledger.writer() as journal:
        page = ledger.rows(run_id, data=False, limit=PAGE)
        while page:
            changes = []
            for row in page:
                signing.sign_request(
                    scheme=scheme,
                    secret_key=secret,
                    client_id=settings.client_id,
                    request_id=row.request_id,
                    timestamp=timestamp,
                    method="POST",
                    target=kind.path,
                    body=row.body,
                )
                changes.append(
                    RowChange(run_id, row.row_number, State.NOT_SENT, "dry-run", message=message)
                )
            journal.commit_all(changes)
            count += len(page)
            last = page[-1].row_number
            page = ledger.rows(run_id, data=False, after=last, limit=PAGE)
    ledger.finish_run(run_id)
    return count


def execute(
    ledger: Journal,
    client: DokuClient,
    run_id: str,
    *,
    options: EngineOptions | None = None,
    progress: RowProgress | None = None,
    stop: threading.Event | None = None,
    sleep: Sleep | None = None,
    read_rows: bool = True,
) -> RunResult:
    """Send the run's PLANNED rows and resolve its SENDING/UNKNOWN ones, holding the run
    lock (a second process gets RunLocked before sending anything). ``read_rows=False``
    leaves ``rows`` empty (the caller reads them when it needs them)."""
    with ledger.lock(run_id):
        return _execute_locked(
            ledger,
            client,
            run_id,
            options=options,
            progress=progress,
            stop=stop,
            sleep=sleep,
            read_rows=read_rows,
        )


def _execute_locked(
    ledger: Journal,
    client: DokuClient,
    run_id: str,
    *,
    options: EngineOptions | None,
    progress: RowProgress | None,
    stop: threading.Event | None,
    sleep: Sleep | None,
    read_rows: bool = True,
) -> RunResult:
    run = ledger.run(run_id)
    if run.dry_run:
        raise RunError(
            f"run {run_id} is a dry run; nothing of it can be sent",
            hint="start a real run with `batchpay run` (without --dry-run)",
        )
    # Rows that may already exist at DOKU first: they are the ones an operator worries about.
    doubtful = ledger.rows(run_id, states=(State.SENDING, State.UNKNOWN), data=False)
    planned = ledger.rows(run_id, states=(State.PLANNED,), data=False, limit=PAGE)
    engine: Engine | None = None
    if doubtful or planned:
        with ledger.writer() as journal:
            engine = Engine(
                kind=KINDS[run.kind],
                client=client,
                journal=journal,
                options=options or EngineOptions(),
                progress=progress or NullProgress(),
                stop=stop or threading.Event(),
                sleep=sleep,
            )
            try:
                engine.run(
                    itertools.chain(doubtful, _pages(ledger, run_id, planned)),
                    count=len(doubtful) + len(planned),
                )
            finally:
                _journal_halt(ledger, run_id, engine)
    del doubtful, planned
    if not ledger.rows(run_id, states=OPEN, data=False, limit=1):
        ledger.finish_run(run_id)
    # Without the request bodies: nothing after sending reads them (the journal keeps them).
    rows = list(ledger.iter_rows(run_id, data=False, body=False)) if read_rows else []
    return RunResult(
        run=ledger.run(run_id),
        rows=rows,
        sends=engine.sends if engine else 0,
        halt=engine.halt if engine else None,
    )


def _pages(ledger: Journal, run_id: str, first: list[RowRecord]) -> Iterator[RowRecord]:
    """The PLANNED rows, :data:`PAGE` at a time, each page read when the engine reaches it:
    a 100,000-row run never holds every row's request body (the journal does), and no read
    stays open while the engine commits."""
    page = first
    while page:
        yield from page
        if len(page) < PAGE:
            return
        last = page[-1].row_number
        page = ledger.rows(run_id, states=(State.PLANNED,), data=False, after=last, limit=PAGE)


def _journal_halt(ledger: Journal, run_id: str, engine: Engine) -> None:
    if engine.halt is None:
        return
    try:
        ledger.add_event(run_id, engine.halt.reason, engine.halt.message)
    except JournalError:
        # The journal died (disk full…): the engine's own JournalError names the rows in
        # flight; this one must not replace it.
        if not isinstance(engine.halt.error, JournalError):
            raise


def resume(
    ledger: Journal,
    client: DokuClient,
    run_id: str,
    *,
    input_path: str | Path | None = None,
    options: EngineOptions | None = None,
    progress: RowProgress | None = None,
    stop: threading.Event | None = None,
    sleep: Sleep | None = None,
    read_rows: bool = True,
) -> RunResult:
    """Continue a run after a crash, Ctrl-C or fault: lock, check the input, then send
    PLANNED rows and resolve SENDING/UNKNOWN ones. A finished run sends nothing."""
    with ledger.lock(run_id):
        run = ledger.run(run_id)
        check_input(run, input_path)
        if run.dry_run:
            return RunResult(run=run, rows=ledger.rows(run_id, data=False) if read_rows else [])
        ledger.add_event(run_id, "resume", "resume requested")
        return _execute_locked(
            ledger,
            client,
            run_id,
            options=options,
            progress=progress,
            stop=stop,
            sleep=sleep,
            read_rows=read_rows,
        )
