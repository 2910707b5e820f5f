"""The batch runner: plan → journal → send → journal (docs/safety.md).

Library functions, one per command; the CLI only parses options, confirms with the operator
and prints. Clock, sleep, progress and the stop event are parameters so tests (and the
fault and kill -9 suites) can pin them.

* :func:`create_run` — a :class:`~batchpay.plan.Plan` becomes a journaled run, every row
  PLANNED with its Request-Id and exact bytes (before anything is sent).
* :func:`execute` — take the run lock, send PLANNED rows, resolve SENDING/UNKNOWN ones.
* :func:`dry_run` — sign every request, send nothing, every row NOT_SENT.
* :func:`resume` — refuse a changed input file, then :func:`execute` (a finished run sends
  nothing: invariant 4).
* :func:`refresh_statuses` — ask DOKU for the status of non-terminal Payout Link rows (and,
  with ``recheck_final``, of final ones: a change after completion is an audited transition).
* :func:`plan_retry` / :func:`retry_failed` — a linked run with attempt+1 Request-Ids for
  rows that ended FAILED/EXPIRED/REJECTED (never UNKNOWN).
"""

from __future__ import annotations

import hashlib
import threading
from collections.abc import Callable
from dataclasses import dataclass, replace
from datetime import datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any

from batchpay import ledger_records as st
from batchpay.doku.codes import ANSWER_MISMATCH
from batchpay.errors import InputChanged, JournalError, RunError
from batchpay.kinds import KINDS
from batchpay.ledger import (
    OPEN_STATES,
    JournalWriter,
    Ledger,
    RowChange,
    RunLock,
    utc_now,
)
from batchpay.ledger.model import (
    CHANGED_AFTER_COMPLETION,
    RECHECKABLE_FINAL_STATES,
    RECHECKED_FINAL,
)
from batchpay.ledger_records import RowRecord, RunRecord
from batchpay.plan import Plan
from batchpay.runner_engine import (
    Engine,
    Halt,
    NullProgress,
    Options,
    Progress,
    Sleep,
    accepted_state,
)

if TYPE_CHECKING:
    from batchpay.config import Settings
    from batchpay.doku.client import DokuClient

Clock = Callable[[], datetime]

@dataclass
class RunResult:
    """What an execution (run, resume, status, retry) ended with."""

    run: RunRecord
    # Every row's state, ids, amount and message; input and normalised values are left empty
    # (Ledger.rows(data=False): a 100,000-row run keeps ~60 MB here instead of ~300 MB).
    # Read ledger.rows(run_id) for those.
    rows: list[RowRecord]
    sends: int = 0  # requests put on the wire by this call
    halt: Halt | None = None
    workbook: Path | None = None

    @property
    def interrupted(self) -> bool:
        return self.halt is not None and self.halt.reason == "interrupted"


# --- creating runs ------------------------------------------------------------------------


def create_run(ledger: Ledger, the_plan: Plan, *, settings: dict[str, Any],
               dry_run: bool = False, parent_run_id: str | None = None,
               allow_repeat: bool = False, exclude_run_ids: tuple[str, ...] = ()
               ) -> RunRecord:
    """Journal the plan: a run bound to the input's SHA-256, every row PLANNED with its
    deterministic Request-Id and exact body (docs/safety.md: stored before the first send).
    References an earlier run holds are refused atomically unless ``allow_repeat`` (a dry
    run never blocks anything, so it is never refused either)."""
    return ledger.create_run(
        kind=the_plan.kind.name, product=the_plan.kind.product, env=the_plan.env,
        input_path=the_plan.input_path, input_sha256=the_plan.input_sha256,
        rows=the_plan.rows, settings=settings, dry_run=dry_run, parent_run_id=parent_run_id,
        allow_repeat=allow_repeat or dry_run, exclude_run_ids=exclude_run_ids)


def dry_run(ledger: Ledger, run_id: str, settings: Settings, *, clock: Clock = utc_now) -> int:
    """Build and sign every request of the run without sending; mark every row NOT_SENT."""
    from batchpay.doku import signing

    run = ledger.run(run_id)
    kind = KINDS[run.kind]
    scheme: signing.Scheme = (settings.payout_link_signature
                              if kind.product == "payout-link" else "hmac-sha256")
    timestamp = signing.format_timestamp(clock())
    secret = settings.secret_key.reveal()
    rows = ledger.rows(run_id, data=False)
    with JournalWriter(ledger) as journal:
        futures = []
        for row in rows:
            signing.sign_request(scheme=scheme, secret_key=secret, client_id=settings.client_id,
                                 request_id=row.request_id, timestamp=timestamp, method="POST",
                                 target=kind.path, body=row.body)
            futures.append(journal.submit(RowChange(
                run_id=run_id, row_number=row.row_number, new_state=st.NOT_SENT,
                event="dry-run", message=f"dry run: request built and signed ({scheme}), "
                                         "not sent")))
        for f in futures:
            f.result()
    ledger.finish_run(run_id)
    return len(rows)


# --- sending ------------------------------------------------------------------------------


def execute(ledger: Ledger, client: DokuClient, run_id: str, *, options: Options | None = None,
            progress: Progress | None = None, stop: threading.Event | None = None,
            sleep: Sleep | None = None) -> RunResult:
    """Send the run's PLANNED rows and resolve its SENDING/UNKNOWN ones, holding the run
    lock (a second process gets RunLocked before sending anything)."""
    with RunLock(ledger.path, run_id, clock=ledger.clock):
        return _execute_locked(ledger, client, run_id, options=options, progress=progress,
                               stop=stop, sleep=sleep)


def _execute_locked(ledger: Ledger, client: DokuClient, run_id: str, *,
                    options: Options | None, progress: Progress | None,
                    stop: threading.Event | None, sleep: Sleep | None) -> RunResult:
    run = ledger.run(run_id)
    if run.dry_run:
        raise RunError(f"run {run_id} is a dry run; nothing of it can be sent",
                       hint="start a real run with `batchpay run` (without --dry-run)")
    todo = ledger.rows(run_id, states=OPEN_STATES, data=False)
    # Rows that may already exist at DOKU first: they are the ones an operator worries about.
    todo.sort(key=lambda r: (r.state == st.PLANNED, r.row_number))
    opts = options or Options()
    engine: Engine | None = None
    if todo:
        with JournalWriter(ledger) as journal:
            engine = Engine(kind=KINDS[run.kind], client=client, journal=journal, options=opts,
                            progress=progress or NullProgress(), stop=stop or threading.Event(),
                            sleep=sleep)
            try:
                engine.run(todo)
            finally:
                if engine.halt is not None:
                    try:
                        ledger.add_event(run_id, engine.halt.reason, engine.halt.message)
                    except JournalError:
                        # The journal died (disk full…): the engine's own JournalError names
                        # the rows in flight; this one must not replace it.
                        if not isinstance(engine.halt.error, JournalError):
                            raise
    rows = ledger.rows(run_id, data=False)
    if not any(r.state in OPEN_STATES for r in rows):
        ledger.finish_run(run_id)
    return RunResult(run=ledger.run(run_id), rows=rows, sends=engine.sends if engine else 0,
                     halt=engine.halt if engine else None)


def file_sha256(path: str | Path) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as fh:
        for block in iter(lambda: fh.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def check_input(run: RunRecord, input_path: str | Path | None = None) -> None:
    """docs/safety.md: a run is bound to the SHA-256 of its input; resuming against a changed (or
    missing) file is refused — the journal's bytes are what will be sent, and an operator
    who edited the sheet expects something else."""
    path = Path(input_path or run.input_path)
    if not path.is_file():
        raise InputChanged(
            f"the input file of run {run.run_id} is not at {path}",
            hint="put the original file back, or pass its new location with --input")
    actual = file_sha256(path)
    if actual != run.input_sha256:
        raise InputChanged(
            f"{path.name} changed since run {run.run_id} started (SHA-256 {actual[:12]}… "
            f"≠ {run.input_sha256[:12]}…); nothing was sent",
            hint="restore the original file to resume; to pay an edited sheet, start a new "
                 "run (references already sent will be refused)")


def resume(ledger: Ledger, client: DokuClient, run_id: str, *,
           input_path: str | Path | None = None, options: Options | None = None,
           progress: Progress | None = None, stop: threading.Event | None = None,
           sleep: Sleep | None = None) -> RunResult:
    """Continue a run after a crash, Ctrl-C or fault: lock, check the input, then send
    PLANNED rows and resolve SENDING/UNKNOWN ones. A finished run sends nothing."""
    with RunLock(ledger.path, run_id, clock=ledger.clock):
        run = ledger.run(run_id)
        check_input(run, input_path)
        if run.dry_run:
            return RunResult(run=run, rows=ledger.rows(run_id, data=False))
        ledger.add_event(run_id, "resume", "resume requested")
        return _execute_locked(ledger, client, run_id, options=options, progress=progress,
                               stop=stop, sleep=sleep)


# --- status -------------------------------------------------------------------------------


STATUS_CHANGED_AFTER_COMPLETION = "status-changed-after-completion"


def refresh_statuses(ledger: Ledger, client: DokuClient, run_id: str, *,
                     options: Options | None = None, stop: threading.Event | None = None,
                     sleep: Sleep | None = None, recheck_final: bool = False) -> RunResult:
    """Ask DOKU for every non-terminal Payout Link row of the run (progressing, and
    SENDING/UNKNOWN — a found link resolves them) and journal what changed. Never sends a
    money-moving request. Sub Account runs have no status endpoint: nothing to do.

    ``recheck_final`` also asks about final rows (COMPLETED/FAILED/EXPIRED): banks reverse.
    A different answer is journaled as an explicit transition (reason
    ``changed-after-completion``, event ``status-changed-after-completion`` with the old and
    new state), never a silent overwrite; an answer about another link or amount
    (``answer-mismatch``) changes nothing and is journaled as an event. Every status answer
    is checked against what the row sent (:func:`batchpay.doku.answers.check_answer`)."""
    with RunLock(ledger.path, run_id, clock=ledger.clock):
        run = ledger.run(run_id)
        kind = KINDS[run.kind]
        if kind.product != "payout-link" or run.dry_run:
            return RunResult(run=run, rows=ledger.rows(run_id, data=False))
        states: tuple[str, ...] = (*st.PAYOUT_LINK_PROGRESS, st.SENDING, st.UNKNOWN)
        if recheck_final:
            states += RECHECKABLE_FINAL_STATES
        todo = ledger.rows(run_id, states=states, data=False)
        opts = options or Options()
        notes: list[tuple[int, str, str]] = []
        notes_lock = threading.Lock()

        def note(row: RowRecord, type_: str, detail: str) -> None:
            with notes_lock:
                notes.append((row.row_number, type_, detail))

        with JournalWriter(ledger) as journal:
            engine = Engine(kind=kind, client=client, journal=journal, options=opts,
                            progress=NullProgress(), stop=stop or threading.Event(), sleep=sleep)
            _parallel(todo, opts.concurrency, engine,
                      lambda row: _refresh_one(engine, journal, row, note))
        for row_number, type_, detail in sorted(notes):
            ledger.add_event(run_id, type_, detail, row_number=row_number)
        if engine.halt is not None:
            ledger.add_event(run_id, engine.halt.reason, engine.halt.message)
        rows = ledger.rows(run_id, data=False)
        return RunResult(run=ledger.run(run_id), rows=rows, halt=engine.halt)


def _refresh_one(engine: Engine, journal: JournalWriter, row: RowRecord,
                 note: Callable[[RowRecord, str, str], None]) -> None:
    found, outcome = engine.look_up(row)
    final = row.state in RECHECKABLE_FINAL_STATES
    if found is not True or outcome is None:
        # Unknown to DOKU or unanswered: nothing to journal, nothing is re-sent here. An
        # answer about another link is worth an audit line (it never changes the row).
        if outcome is not None and outcome.code == ANSWER_MISMATCH:
            note(row, ANSWER_MISMATCH, f"status look-up of {row.reference} ({row.state}): "
                                       f"{outcome.message}")
        elif final and found is None:
            note(row, "status-not-found-after-completion",
                 f"DOKU's status look-up does not find {row.reference}, which is {row.state} "
                 "in the journal; the row is unchanged — check DOKU's back office")
        return
    new = accepted_state(engine.kind, outcome)
    if final:
        if new == row.state:
            # Unchanged: refresh "last seen" only; message and code stay as they were.
            journal.commit(RowChange(
                run_id=row.run_id, row_number=row.row_number, new_state=new,
                event="status-check", reason=RECHECKED_FINAL, seen=True,
                doku_status=outcome.status, record_event=False, code=row.code))
            return
        journal.commit(RowChange(
            run_id=row.run_id, row_number=row.row_number, new_state=new,
            event=STATUS_CHANGED_AFTER_COMPLETION, reason=CHANGED_AFTER_COMPLETION,
            outcome=str(outcome.klass), http_status=outcome.http_status,
            doku_status=outcome.status, doku_ids=dict(outcome.ids) or None, seen=True,
            code=CHANGED_AFTER_COMPLETION,
            message=f"changed after completion: DOKU now says {new}, the journal had "
                    f"{row.state} ({outcome.message})"))
        return
    unchanged = new == row.state and (outcome.status or "") == (row.doku_status or "")
    journal.commit(RowChange(
        run_id=row.run_id, row_number=row.row_number, new_state=new, event="status-check",
        outcome=str(outcome.klass), http_status=outcome.http_status, doku_status=outcome.status,
        doku_ids=dict(outcome.ids) or None, message=outcome.message, seen=True,
        record_event=not unchanged, code=outcome.code))


def _parallel(rows: list[RowRecord], concurrency: int, engine: Engine,
              work: Callable[[RowRecord], None]) -> None:
    lock = threading.Lock()
    pending = list(rows)
    errors: list[BaseException] = []

    def worker() -> None:
        while True:
            with lock:
                if not pending or errors or engine.stopping():
                    return
                row = pending.pop(0)
            try:
                work(row)
            except BaseException as exc:
                with lock:
                    errors.append(exc)
                return

    threads = [threading.Thread(target=worker, daemon=True)
               for _ in range(max(1, min(concurrency, len(rows))))]
    for t in threads:
        t.start()
    for t in threads:
        while t.is_alive():
            t.join(0.2)
    if errors:
        raise errors[0]


def is_settled(rows: list[RowRecord]) -> bool:
    """No row still moving: every row terminal (or never sendable)."""
    return all(r.state not in OPEN_STATES and r.state not in st.PAYOUT_LINK_PROGRESS
               for r in rows)


# --- the workbook -------------------------------------------------------------------------


def default_workbook_path(run: RunRecord) -> Path:
    """``reports/<sheet-stem>-<run id>.xlsx`` relative to the working directory (beside the
    validation report's ``reports/<sheet-stem>-validation.xlsx``)."""
    return Path("reports") / f"{Path(run.input_name).stem}-{run.run_id}.xlsx"


def workbook_path(run: RunRecord, override: str | Path | None = None) -> Path:
    """Where the run's workbook goes: ``override``, else the ``--report`` path recorded when
    the run started, else ``<report_dir>/<sheet-stem>-<run id>.xlsx`` with the ``reports``
    directory recorded at start (so resume/status from another directory update the same
    file), else :func:`default_workbook_path`."""
    if override:
        return Path(override)
    stored = run.settings.get("report_path")
    if stored:
        return Path(stored)
    directory = run.settings.get("report_dir")
    if directory:
        return Path(directory) / default_workbook_path(run).name
    return default_workbook_path(run)


def write_workbook(ledger: Ledger, run_id: str, path: str | Path | None = None, *,
                   now: datetime | None = None) -> Path:
    """Write the reconciliation workbook of one run from the journal (reports engineer's
    writer; atomic: docs/safety.md invariant 7)."""
    from batchpay.workbook.reconciliation import write_run_report

    return write_run_report(ledger, run_id, workbook_path(ledger.run(run_id), path), now=now)


def with_workbook(result: RunResult, ledger: Ledger, path: str | Path | None = None) -> RunResult:
    return replace(result, workbook=write_workbook(ledger, result.run.run_id, path))


# Re-exported: retry-failed lives in runner_retry (imported last; it uses this module).
from batchpay.runner_retry import (  # noqa: E402
    RETRYABLE_STATES as RETRYABLE_STATES,
)
from batchpay.runner_retry import RetryPlan as RetryPlan  # noqa: E402
from batchpay.runner_retry import create_retry_run as create_retry_run  # noqa: E402
from batchpay.runner_retry import plan_retry as plan_retry  # noqa: E402
from batchpay.runner_retry import retry_failed as retry_failed  # noqa: E402
