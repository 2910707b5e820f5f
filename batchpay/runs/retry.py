"""retry-failed: a new run, linked to its parent, with attempt+1 Request-Ids for the rows
that ended FAILED or EXPIRED, or REJECTED by an answer that proves nothing was executed —
never UNKNOWN (docs/safety.md §2 "Resolution" 3: a new Request-Id only after DOKU gave a
terminal failure, and only by an explicit operator action). The rule is
:func:`batchpay.reconcile.why_not_retryable`: a ``DUPLICATE_REFERENCE`` (the reference exists
at DOKU) or a status changed after completion is never retried automatically.
"""

from __future__ import annotations

import threading
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING

from batchpay.doku.products import product_of
from batchpay.errors import RunError
from batchpay.journal import Journal, NewRow, RowRecord, RunRecord
from batchpay.kinds import KINDS, Kind, build_body
from batchpay.reconcile import RETRY_CANDIDATE_STATES, why_not_retryable
from batchpay.runs.engine import Sleep
from batchpay.runs.execute import RunResult, create_run, execute
from batchpay.runs.options import EngineOptions
from batchpay.runs.plan import Plan
from batchpay.runs.progress import RowProgress

if TYPE_CHECKING:
    from batchpay.doku.client import DokuClient

# The states retry-failed looks at: DOKU said they failed or were not executed. Never
# UNKNOWN. A REJECTED row is retried only if its code proves nothing was executed.
RETRYABLE_STATES = RETRY_CANDIDATE_STATES


@dataclass(frozen=True)
class RetryPlan:
    parent: RunRecord
    plan: Plan
    skipped: list[tuple[RowRecord, str]]  # rows that cannot be retried automatically, why
    # The parent's row of each retried row (row number → row), for the operator's list.
    previous: dict[int, RowRecord] = field(default_factory=dict)


def plan_retry(ledger: Journal, run_id: str) -> RetryPlan:
    """What `retry-failed RUN_ID` would send: FAILED/EXPIRED rows and REJECTED rows whose
    rejection proves nothing was executed, each as attempt + 1 with a new Request-Id (and,
    for Payout Link, reference ``<original>-R<attempt>``). Every other candidate is in
    ``skipped`` with the reason (:func:`batchpay.reconcile.why_not_retryable`)."""
    parent = ledger.run(run_id)
    if parent.dry_run:
        raise RunError(
            f"run {run_id} is a dry run; there is nothing to retry",
            hint="start a real run with `batchpay run`",
        )
    children = ledger.children(run_id)
    if children:
        raise RunError(
            f"run {run_id} was already retried by run {children[-1].run_id}",
            hint=f"retry that run instead: `batchpay retry-failed {children[-1].run_id}`",
        )
    kind = KINDS[parent.kind]
    rows: list[NewRow] = []
    skipped: list[tuple[RowRecord, str]] = []
    previous: dict[int, RowRecord] = {}
    candidates = ledger.rows(run_id, states=RETRYABLE_STATES)
    histories = _legacy_histories(ledger, run_id, candidates)
    for row in candidates:
        blocker = why_not_retryable(row, history=histories.get(row.row_number, ""))
        new = _retried_row(kind, row) if blocker is None else blocker
        if isinstance(new, str):
            skipped.append((row, new))
            continue
        rows.append(new)
        previous[row.row_number] = row
    the_plan = Plan(
        kind=kind,
        env=parent.env,
        input_path=Path(parent.input_path),
        input_sha256=parent.input_sha256,
        rows=rows,
        totals=_totals(rows),
        by_source=_by_source(rows),
    )
    return RetryPlan(parent=parent, plan=the_plan, skipped=skipped, previous=previous)


def _retried_row(kind: Kind, row: RowRecord) -> NewRow | str:
    """The row as attempt + 1, or why it cannot be (its retry reference is too long)."""
    ref_field = kind.reference_field or ""
    limit = kind.field(ref_field).max_len if ref_field else None
    attempt = row.attempt + 1
    reference = product_of(kind).retry_reference(row.reference, row.attempt, attempt)
    if limit is not None and len(reference) > limit:
        return (
            f"the retry reference {reference!r} would be longer than {limit} characters; "
            "pay this row from a new sheet with a new reference"
        )
    normalised = {**row.normalised, ref_field: reference} if ref_field else row.normalised
    return NewRow(
        row_number=row.row_number,
        reference=reference,
        amount_minor=row.amount_minor,
        currency=row.currency,
        source_account=row.source_account,
        input=row.input,
        normalised=normalised,
        body=build_body(kind, normalised),
        attempt=attempt,
    )


def _totals(rows: list[NewRow]) -> dict[str, int]:
    totals: dict[str, int] = {}
    for row in rows:
        if row.amount_minor is not None:
            totals[row.currency] = totals.get(row.currency, 0) + row.amount_minor
    return totals


def _by_source(rows: list[NewRow]) -> dict[str, int]:
    by_source: dict[str, int] = {}
    for row in rows:
        if row.amount_minor is not None and row.source_account:
            by_source[row.source_account] = by_source.get(row.source_account, 0) + row.amount_minor
    return by_source


def _legacy_histories(ledger: Journal, run_id: str, rows: list[RowRecord]) -> dict[int, str]:
    """The event details of rows journaled before rows had a code (only those are read)."""
    legacy = {r.row_number for r in rows if r.code is None}
    if not legacy:
        return {}
    out: dict[int, list[str]] = {}
    for event in ledger.events(run_id):
        if event.row_number in legacy:
            out.setdefault(event.row_number, []).append(event.detail)
    return {n: "\n".join(details) for n, details in out.items()}


def create_retry_run(ledger: Journal, retry: RetryPlan) -> RunRecord:
    """Journal the retry as a new run linked to its parent (under the parent's lock, so two
    operators cannot both create a retry of the same rows)."""
    parent = retry.parent
    with ledger.lock(parent.run_id):
        if ledger.children(parent.run_id):
            raise RunError(f"run {parent.run_id} was retried meanwhile by another process")
        if not retry.plan.rows:
            raise RunError(f"run {parent.run_id} has no row to retry")
        # The parent chain's own rows do not block a Sub Account retry (same invoice
        # number); Payout Link retries carry a new reference, checked against everything.
        keeps = product_of(retry.plan.kind).retry_keeps_reference
        chain = _chain(ledger, parent) if keeps else ()
        # The retry has its own workbook: never the parent's --report file.
        settings = {k: v for k, v in parent.settings.items() if k != "report_path"}
        if parent.settings.get("report_path"):
            settings["report_dir"] = str(Path(parent.settings["report_path"]).parent)
        return create_run(
            ledger,
            retry.plan,
            settings=settings,
            parent_run_id=parent.run_id,
            exclude_run_ids=chain,
        )


def _chain(ledger: Journal, run: RunRecord) -> tuple[str, ...]:
    ids: list[str] = []
    current: RunRecord | None = run
    while current is not None:
        ids.append(current.run_id)
        current = ledger.run(current.parent_run_id) if current.parent_run_id else None
    return tuple(ids)


def retry_failed(
    ledger: Journal,
    client: DokuClient,
    retry: RetryPlan,
    *,
    options: EngineOptions | None = None,
    progress: RowProgress | None = None,
    stop: threading.Event | None = None,
    sleep: Sleep | None = None,
) -> RunResult:
    """Create the linked retry run and execute it."""
    run = create_retry_run(ledger, retry)
    return execute(
        ledger, client, run.run_id, options=options, progress=progress, stop=stop, sleep=sleep
    )
