"""The run service: the operations every surface (the CLI today, a web page later) calls.

    prepare(sheet, options)                 -> Prepared   validation, plan, repeats
    start(prepared, *, confirm, progress, stop, sleep)  -> RunResult
    resume(run_id, options, *, progress, stop, sleep)   -> RunResult
    retry_failed(run_id, options, *, confirm, progress, stop, sleep) -> RetryOutcome
    follow(run_id, options, *, progress, stop, wait, clock)         -> RunResult
    report(target, *, run_id=None, month=None, output=None)        -> Path
    list_runs(target, *, month=None, limit=30, kind=None, status=None)
        -> list[tuple[RunRecord, list[RowRecord]]]

Every call opens the journal and DOKU it needs and closes DOKU before it returns; each ends
by writing the run's workbook (:mod:`batchpay.runs.paths`). The safety rules live here, not
in a surface: a run continues in its own environment (:func:`~batchpay.runs.environment.
settings_for_run`), production needs the operator's confirmation (``confirm``) or ``yes``
with a matching ``expect_total``, a dry run reports repeats as warnings and sends nothing.
Progress goes to :class:`~batchpay.runs.progress.Progress`; rendering is the surface's job.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, replace
from pathlib import Path
from typing import TYPE_CHECKING

from batchpay.doku import open_gateway
from batchpay.errors import InsufficientBalance, RunError
from batchpay.journal import Journal, Repeat, RunRecord, utc_now
from batchpay.runs.checks import (
    balance_snapshots,
    check_input,
    find_repeats,
    preflight_balances,
)
from batchpay.runs.confirm import Confirm as Confirm
from batchpay.runs.confirm import Question as Question
from batchpay.runs.confirm import confirm_plan as confirm_plan
from batchpay.runs.engine import Sleep
from batchpay.runs.environment import open_journal_for, settings_for_run
from batchpay.runs.execute import RunResult, create_run, execute
from batchpay.runs.execute import dry_run as sign_only
from batchpay.runs.execute import resume as resume_locked
from batchpay.runs.export import export_csv as export_csv
from batchpay.runs.export import report_runs as report_runs
from batchpay.runs.follow import poll
from batchpay.runs.memory import release_freed_memory
from batchpay.runs.options import FollowOptions, ResumeOptions, RetryOptions, RunOptions
from batchpay.runs.paths import write_workbook
from batchpay.runs.plan import Plan, plan
from batchpay.runs.progress import Progress
from batchpay.runs.reading import list_runs as list_runs
from batchpay.runs.reading import report as report
from batchpay.runs.release import check_release, prepare_settings, refuse_unapproved_retry
from batchpay.runs.reset import forgotten_runs, refuse_repeats
from batchpay.runs.reset import plan_reset as plan_reset
from batchpay.runs.reset import reset_builtin_emulator as reset_builtin_emulator
from batchpay.runs.retry import RetryPlan, create_retry_run, plan_retry
from batchpay.states import OPEN, RunStatus
from batchpay.validate import validate_table
from batchpay.validate.derived import load_with_options

if TYPE_CHECKING:
    from batchpay.config import Settings
    from batchpay.doku.client import DokuClient
    from batchpay.validate import ValidationResult


@dataclass
class Prepared:
    """A sheet checked and planned, not journaled yet. ``plan`` is None when the sheet has
    errors (``validation`` says which); the journal is opened (created) only for a valid
    sheet."""

    options: RunOptions
    settings: Settings
    validation: ValidationResult | None
    plan: Plan | None
    journal: Journal | None = None
    repeats: tuple[Repeat, ...] = ()
    # Built-in emulator runs from before its last reset (runs/reset.py): not repeats.
    forgotten: tuple[str, ...] = ()

    @property
    def valid(self) -> bool:
        return self.plan is not None


@dataclass
class RetryOutcome:
    """retry-failed: what was planned (rows retried, rows skipped and why) and, when there
    was anything to retry, the linked run's result."""

    retry: RetryPlan
    result: RunResult | None


def prepare(sheet: Path, options: RunOptions) -> Prepared:
    """Validate ``sheet`` and plan the run; find references earlier runs used. Raises
    :class:`RepeatedReferences` when they block (a real run without ``allow_repeat``) and
    RunError for a sheet without rows; an invalid sheet is a value (``valid`` False)."""
    settings = prepare_settings(options)  # refuses `run` under [approval] required = true
    table, used = load_with_options(sheet, options.sheet_options(), options.profile)
    validation = validate_table(table, amount_format=used.amount_format)
    # What was in effect (profile included) is what the run records.
    options = replace(
        options,
        sheet=used.sheet,
        mapping=dict(used.mapping),
        amount_format=used.amount_format,
        set_values=dict(used.set_values),
    )
    if not validation.ok:
        return Prepared(options, settings, validation, None)
    the_plan = plan(validation, env=settings.env)
    if not the_plan.rows:
        raise RunError(f"{sheet.name} has no rows to pay")
    journal = open_journal_for(settings, create=True)
    forgotten = forgotten_runs(journal, settings)
    repeats = find_repeats(journal, the_plan, exclude_run_ids=forgotten)
    if repeats and not options.allow_repeat and not options.dry_run:
        raise refuse_repeats(repeats, settings)
    return Prepared(options, settings, validation, the_plan, journal, tuple(repeats), forgotten)


def _repeat_notes(prepared: Prepared, progress: Progress) -> None:
    repeats = list(prepared.repeats)
    if repeats and prepared.options.dry_run and not prepared.options.allow_repeat:
        # A dry run sends nothing, so it is not refused; it shows what a real run would be.
        refused = refuse_repeats(repeats, prepared.settings)
        for line in refused.message.splitlines():
            progress.note(line.strip(), warning=True)
        progress.note(f"a real run would refuse them: {refused.hint}", warning=True)
    elif repeats:
        progress.note(
            f"--allow-repeat: {len(repeats)} reference(s) already used in earlier "
            "runs will be sent again",
            warning=True,
        )


def start(
    prepared: Prepared,
    *,
    confirm: Confirm,
    progress: Progress,
    stop: threading.Event | None = None,
    sleep: Sleep | None = None,
) -> RunResult:
    """Confirm, check balances, journal the run and send it (or, for a dry run, sign every
    request and send nothing); then write its workbook."""
    o, settings, journal, the_plan = (
        prepared.options,
        prepared.settings,
        prepared.journal,
        prepared.plan,
    )
    if the_plan is None or journal is None:
        raise RunError(
            "the sheet has errors; fix them before planning a run",
            hint="run `batchpay validate` to see them",
        )
    progress.planned(the_plan)
    _repeat_notes(prepared, progress)
    confirm_plan(
        the_plan, env=settings.env, yes=o.yes, expect_total=o.expect_total, confirm=confirm
    )
    with open_gateway(settings) as gateway:
        if the_plan.by_source:
            shortfalls = preflight_balances(gateway.client, the_plan)
            if shortfalls:
                raise InsufficientBalance(shortfalls)
        record = create_run(
            journal,
            the_plan,
            settings=o.stored_settings(settings),
            dry_run=o.dry_run,
            allow_repeat=o.allow_repeat,
            exclude_run_ids=prepared.forgotten,
        )
        progress.note(f"Run {record.run_id} journaled in {journal.location}")
        progress.created(record)
        # All journaled: the sheet and the plan (~150 MB for 100,000 rows) go (runs/memory.py)
        count = the_plan.count
        prepared.plan = prepared.validation = None
        del the_plan
        release_freed_memory()
        result = _send_new_run(prepared, record, count, gateway.client, progress, stop, sleep)
    return with_workbook(journal, result, None)


def _send_new_run(
    prepared: Prepared,
    record: RunRecord,
    count: int,
    client: DokuClient,
    progress: Progress,
    stop: threading.Event | None,
    sleep: Sleep | None,
) -> RunResult:
    """Send a just-journaled run (or, for a dry run, sign every request and send nothing)."""
    o, settings, journal = prepared.options, prepared.settings, prepared.journal
    assert journal is not None
    if o.dry_run:
        with journal.lock(record.run_id):
            sign_only(journal, record.run_id, settings)
        return RunResult(run=journal.run(record.run_id), rows=[])  # with_workbook reads them
    balance_snapshots(journal, client, record.run_id, "before")
    progress.sending(record, total=count, desc="Sending")
    result = execute(
        journal,
        client,
        record.run_id,
        options=o.sending.engine(),
        progress=progress,
        stop=stop,
        sleep=sleep,
        read_rows=False,  # with_workbook reads them
    )
    progress.sent()
    balance_snapshots(journal, client, record.run_id, "after")
    return result


def resume(
    run_id: str,
    options: ResumeOptions,
    *,
    progress: Progress,
    stop: threading.Event | None = None,
    sleep: Sleep | None = None,
) -> RunResult:
    """Continue ``run_id`` in its own environment: refuse a changed input file, resolve
    SENDING/UNKNOWN rows, send PLANNED ones. A finished (or dry) run sends nothing."""
    settings, journal, run = settings_for_run(run_id, options.target, progress.note)
    progress.opened(run)
    if run.status != RunStatus.OPEN:  # a submitted run: only once released (approval.py)
        run = check_release(journal, run, now=utc_now())
    todo = len(journal.rows(run_id, states=OPEN))
    if todo == 0 or run.dry_run:
        check_input(run, options.input_path)
        progress.note(
            f"Run {run_id} has nothing left to send."
            if not run.dry_run
            else f"Run {run_id} is a dry run; nothing of it is ever sent."
        )
        return with_workbook(journal, RunResult(run=run, rows=[]), options.sending.report_path)
    with open_gateway(settings) as gateway:
        progress.sending(run, total=todo, desc="Resuming")
        result = resume_locked(
            journal,
            gateway.client,
            run_id,
            input_path=options.input_path,
            options=options.sending.engine(),
            progress=progress,
            stop=stop,
            sleep=sleep,
            read_rows=False,
        )
        progress.sent()
        balance_snapshots(journal, gateway.client, run_id, "after")
    return with_workbook(journal, result, options.sending.report_path)


def retry_failed(
    run_id: str,
    options: RetryOptions,
    *,
    confirm: Confirm,
    progress: Progress,
    stop: threading.Event | None = None,
    sleep: Sleep | None = None,
) -> RetryOutcome:
    """Plan the retry of ``run_id``'s failed rows (new Request-Ids, attempt + 1), confirm it,
    check balances, journal the linked run and send it. Rows that cannot be retried are
    reported as warnings; with nothing to retry, nothing is journaled (``result`` None)."""
    settings, journal, _run = settings_for_run(run_id, options.target, progress.note)
    refuse_unapproved_retry(_run)  # a run that needed approval: so does its retry
    retry = plan_retry(journal, run_id)
    for row, why in retry.skipped:
        progress.note(f"row {row.row_number} ({row.reference}) is not retried: {why}", warning=True)
    if not retry.plan.rows:
        return RetryOutcome(retry, None)
    progress.planned(retry.plan, previous=retry.previous)
    confirm_plan(
        retry.plan,
        env=settings.env,
        yes=options.yes,
        expect_total=options.expect_total,
        confirm=confirm,
    )
    if settings.env != "production" and not options.yes:
        confirm(retry.plan, Question.PROCEED)
    with open_gateway(settings) as gateway:
        if retry.plan.by_source:
            shortfalls = preflight_balances(gateway.client, retry.plan)
            if shortfalls:
                raise InsufficientBalance(shortfalls)
        child = create_retry_run(journal, retry)
        progress.note(f"Retry run {child.run_id} (of {run_id}) journaled")
        progress.created(child)
        balance_snapshots(journal, gateway.client, child.run_id, "before")
        progress.sending(child, total=retry.plan.count, desc="Retrying")
        result = execute(
            journal,
            gateway.client,
            child.run_id,
            options=options.sending.engine(),
            progress=progress,
            stop=stop,
            sleep=sleep,
            read_rows=False,
        )
        progress.sent()
        balance_snapshots(journal, gateway.client, child.run_id, "after")
    return RetryOutcome(retry, with_workbook(journal, result, options.sending.report_path))


def follow(
    run_id: str,
    options: FollowOptions,
    *,
    progress: Progress,
    stop: threading.Event | None = None,
    wait: Sleep | None = None,
    clock: Callable[[], float] = time.monotonic,
) -> RunResult:
    """Refresh the Payout Link statuses of ``run_id`` from DOKU (only look-ups, never a
    payment), polling with ``watch`` / ``until_final``; ``result.settled`` says whether
    every row is settled. Then write its workbook."""
    settings, journal, run = settings_for_run(run_id, options.target, progress.note)
    stop = stop or threading.Event()
    with open_gateway(settings) as gateway:
        progress.sending(run, total=0, desc="Following")
        result = poll(
            journal,
            gateway.client,
            run_id,
            watch=options.watch,
            until_final=options.until_final,
            timeout=options.timeout,
            interval=options.interval,
            recheck_final=options.recheck_final,
            stop=stop,
            polled=progress.polled,
            wait=wait,
            clock=clock,
            options=options.engine(),
        )
        progress.sent()
    return with_workbook(journal, result, options.report_path)


def with_workbook(journal: Journal, result: RunResult, path: Path | None) -> RunResult:
    """Write the run's workbook into ``result``. Money has moved by now: a writer failure
    (the old workbook open in Excel, a full disk, a bug) is kept in ``workbook_error``, never
    raised — the journal is the truth and the workbook can be rebuilt from it. ``rows`` are
    read (lean) after the workbook: a 100,000-row run's ~100 MB are not held meanwhile."""
    result.rows = []
    try:
        result.workbook = write_workbook(journal, result.run.run_id, path)
    except Exception as exc:
        result.workbook_error = f"{type(exc).__name__}: {exc}"
    result.rows = list(journal.iter_rows(result.run.run_id, data=False, body=False))
    return result
