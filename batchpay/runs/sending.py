"""Sending an approved run (docs/safety.md §9): :func:`send` — the release checked before the
first request (:func:`~batchpay.runs.release.check_release`: status, digest recomputed from
the journal, approvals), balances on the first send, a ``send`` event, then the one engine
(:func:`~batchpay.runs.execute.execute`) exactly as ``run`` and ``resume`` use it. Sending
again after Ctrl-C, a crash or kill -9 continues the run: SENDING/UNKNOWN rows are resolved
before anything new goes out, so nothing is paid twice."""

from __future__ import annotations

import threading
from datetime import datetime
from pathlib import Path
from typing import TYPE_CHECKING

from batchpay.doku import open_gateway
from batchpay.errors import InsufficientBalance
from batchpay.journal import Journal, RowRecord, RunRecord, StatusChange, utc_now
from batchpay.runs import service
from batchpay.runs.checks import preflight_balances
from batchpay.runs.engine import Sleep
from batchpay.runs.environment import settings_for_run
from batchpay.runs.execute import RunResult, execute
from batchpay.runs.options import SendOptions
from batchpay.runs.plan import Plan
from batchpay.runs.progress import Progress
from batchpay.runs.release import check_release, journal_for, valid_approvals
from batchpay.runs.workers import WorkerOptions
from batchpay.states import OPEN, RunStatus, State

if TYPE_CHECKING:
    from batchpay.doku.client import DokuClient
    from batchpay.policy import ApprovalPolicy


def send(
    run_id: str,
    options: SendOptions,
    *,
    progress: Progress,
    stop: threading.Event | None = None,
    sleep: Sleep | None = None,
    now: datetime | None = None,
    policy: ApprovalPolicy | None = None,
    workers: int = 1,
    worker: WorkerOptions | None = None,
) -> RunResult:
    """Send an APPROVED run (or continue it after Ctrl-C or a crash): refuse unless
    :func:`check_release` passes — the digest recomputed from the journal before the first
    request — then check balances (first send), journal ``send`` and run the engine; with
    ``workers`` > 1, in that many worker processes (:mod:`batchpay.runs.team`)."""
    # Released first, with no credentials loaded: a run whose environment was changed in the
    # journal is refused for its digest, not for a missing key.
    journal = journal_for(options.target)
    check_release(journal, journal.run(run_id), now=now or utc_now(), policy=policy)
    settings, journal, run = settings_for_run(run_id, options.target, progress.note)
    progress.opened(run)
    rows = journal.rows(run_id, data=False)
    todo = sum(1 for r in rows if r.state in OPEN)
    if todo == 0:
        progress.note(f"Run {run_id} has nothing left to send.")
        return service.with_workbook(journal, RunResult(run=run, rows=rows), None)
    first = all(r.state == State.PLANNED for r in rows)
    with open_gateway(settings) as gateway:
        if first:
            _send_balances(gateway.client, run, rows)
        _journal_send(journal, run, first)
        progress.sending(run, total=todo, desc="Sending" if first else "Resuming")
        if workers > 1:
            from batchpay.runs.team import send_with_workers

            result = send_with_workers(
                journal, run, settings, gateway.base_url, options, workers=workers,
                worker=worker or WorkerOptions(), progress=progress, stop=stop or threading.Event(),
            )  # fmt: skip
            progress.sent()
            return service.with_workbook(journal, result, options.sending.report_path)
        result = execute(
            journal,
            gateway.client,
            run_id,
            options=options.sending.engine(),
            progress=progress,
            stop=stop,
            sleep=sleep,
            read_rows=False,  # read by with_workbook, once the workbook is written
        )
        progress.sent()
    return service.with_workbook(journal, result, options.sending.report_path)


def _journal_send(journal: Journal, run: RunRecord, first: bool) -> None:
    """The run's ``send`` event: who sends, who approved, the digest verified."""
    approvers = ", ".join(a.approver for a in valid_approvals(run, run.plan_digest or ""))
    journal.change_status(
        StatusChange(
            run.run_id,
            RunStatus.APPROVED,
            RunStatus.APPROVED,
            "send",
            ("sending" if first else "sending resumed")
            + f" by {journal.principal()}; approved by {approvers}; plan digest "
            + f"{run.plan_digest} verified",
        )
    )


def _send_balances(client: DokuClient, run: RunRecord, rows: list[RowRecord]) -> None:
    from batchpay.kinds import KINDS

    by_source: dict[str, int] = {}
    for r in rows:
        if r.source_account and r.amount_minor is not None:
            by_source[r.source_account] = by_source.get(r.source_account, 0) + r.amount_minor
    if not by_source:
        return
    the_plan = Plan(
        KINDS[run.kind], run.env, Path(run.input_path), run.input_sha256, [], {}, by_source
    )
    shortfalls = preflight_balances(client, the_plan)
    if shortfalls:
        raise InsufficientBalance(shortfalls)
