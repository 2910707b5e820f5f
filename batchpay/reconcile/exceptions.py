"""The Exceptions sheet: every row not paid (or changed after completion) and what the
operator does next with it. Only a row :func:`~batchpay.reconcile.retry.why_not_retryable`
allows is ever pointed at `retry-failed`."""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from typing import Any, NamedTuple, Protocol

from batchpay.doku.codes import ANSWER_MISMATCH
from batchpay.journal.records import DUPLICATE_REFERENCE, RowRecord, RunRecord
from batchpay.money import minor_to_decimal
from batchpay.reconcile.classes import StatusClass, classify
from batchpay.reconcile.retry import changed_after_completion, why_not_retryable
from batchpay.reconcile.tables import Column, LazyRows, Role, Table, amount_decimals


class _Attempt(Protocol):
    """What a failed row's next action needs of the attempt that retried it."""

    @property
    def run_id(self) -> str: ...
    @property
    def attempt(self) -> int: ...
    @property
    def state(self) -> str: ...


class Attempt(NamedTuple):
    """A row attempt reduced to what :func:`next_action` reads of ``retried_by``."""

    run_id: str
    attempt: int
    state: str


class LatestAttempts:
    """Latest attempt per reference (the first seen wins a tie), fed one row at a time;
    holds small shared tuples, not records."""

    def __init__(self) -> None:
        self.by_reference: dict[str, Attempt] = {}
        self._shared: dict[Attempt, Attempt] = {}

    def add(self, r: RowRecord) -> None:
        seen = self.by_reference.get(r.reference)
        if seen is None or r.attempt > seen.attempt:
            key = Attempt(r.run_id, r.attempt, r.state)
            self.by_reference[r.reference] = self._shared.setdefault(key, key)


def next_action(
    row: RowRecord, run: RunRecord | None = None, *, retried_by: _Attempt | None = None
) -> str:
    """What the operator does next for a row that is not successfully terminal (or whose
    final status DOKU changed after completion). Only a row :func:`why_not_retryable` allows
    is ever pointed at `retry-failed`."""
    run_id = row.run_id
    state = row.state
    klass = classify(state)
    said = f" DOKU said: {row.message}." if row.message else ""
    changed = (
        "Changed after completion: DOKU changed this row's final status (see the Events sheet). "
        if changed_after_completion(row)
        else ""
    )
    if klass is StatusClass.PAID:
        if changed:
            return (
                f"{changed}It is {state} now: nothing to pay. If it was retried meanwhile, "
                "check with DOKU's back office that it was not paid twice."
            )
        return "Nothing: paid."
    if klass is StatusClass.PROGRESSING:
        return (
            f"{changed}Wait: DOKU accepted it and it is {state}, not paid yet. "
            f"Run `batchpay status {run_id}` to refresh."
        )
    if klass is StatusClass.FAILED:
        return _failed_action(row, run_id, changed, said, retried_by)
    if klass is StatusClass.NOT_SENT:
        if run is not None and run.dry_run:
            return "Dry run: nothing was sent. Run the sheet without --dry-run to pay it."
        return f"Not sent yet: run `batchpay resume {run_id}`."
    if klass is StatusClass.INVALID:
        where = f"row {row.row_number}" + (f" of {run.input_name}" if run is not None else "")
        why = f" ({row.message})" if row.message else ""
        return f"Fix {where} in the sheet{why}, then run the corrected sheet; it was never sent."
    # UNKNOWN, SENDING, or a state we do not know: may or may not have executed.
    return _unknown_action(row, run_id, said)


def _failed_action(
    row: RowRecord, run_id: str, changed: str, said: str, retried_by: _Attempt | None
) -> str:
    if retried_by is not None:
        return (
            f"{changed}Already retried in run {retried_by.run_id} (attempt "
            f"{retried_by.attempt}, now {retried_by.state}); see that row.{said}"
        )
    blocker = why_not_retryable(row)
    if blocker is not None:
        return (
            f"{changed}Do NOT retry or pay this row again: {blocker} (Request-Id "
            f"{row.request_id}, reference {row.reference}).{said}"
        )
    return f"Fix the cause, then `batchpay retry-failed {run_id}`.{said}"


def _unknown_action(row: RowRecord, run_id: str, said: str) -> str:
    if row.code == DUPLICATE_REFERENCE or (
        row.code is None and DUPLICATE_REFERENCE in (row.message or "")
    ):
        return (
            f"Do NOT pay this row again: DOKU already holds reference {row.reference} "
            "(DUPLICATE_REFERENCE) — another run or journal may have paid it. Check DOKU's "
            f"back office before doing anything (Request-Id {row.request_id}).{said}"
        )
    if row.code == ANSWER_MISMATCH:
        return (
            f"Do not pay this row by other means: DOKU's answer was about another payment "
            f"(answer-mismatch). Run `batchpay resume {run_id}` to ask again; if it is "
            f"still unknown, contact DOKU with Request-Id {row.request_id} "
            f"(reference {row.reference}).{said}"
        )
    return (
        f"Do not pay this row by other means. Run `batchpay resume {run_id}`; if it is "
        f"still unknown, contact DOKU with Request-Id {row.request_id} "
        f"(reference {row.reference}).{said}"
    )


def exceptions_table(
    runs: Sequence[RunRecord],
    rows: Sequence[RowRecord],
    *,
    with_run: bool | None = None,
    retries: Sequence[RowRecord] = (),
) -> Table:
    """Every row that is not successfully terminal (or changed after completion), with what
    to do next.

    A failed row that a later attempt covers (a retry-failed run's row, in ``rows`` or in
    ``retries``) says so, instead of asking for another retry.
    """
    if with_run is None:
        with_run = len(runs) > 1
    # Latest attempt per reference, to point failed rows at their retry.
    latest: dict[str, RowRecord] = {}
    for r in (*rows, *retries):
        seen = latest.get(r.reference)
        if seen is None or r.attempt > seen.attempt:
            latest[r.reference] = r
    columns, build = exceptions_layout(runs, with_run, latest)
    not_paid = [r for r in rows if is_exception(r)]
    return Table(columns, LazyRows(not_paid, build))


def is_exception(row: RowRecord) -> bool:
    """On the Exceptions sheet: every row not paid, and every row whose final status DOKU
    changed after completion (even back to paid)."""
    return classify(row.state) is not StatusClass.PAID or changed_after_completion(row)


def exceptions_layout(
    runs: Sequence[RunRecord], with_run: bool, latest: Mapping[str, _Attempt]
) -> tuple[list[Column], Callable[[RowRecord], tuple[Any, ...]]]:
    """The Exceptions sheet's columns and the function making one line of a record."""
    run_by_id = {r.run_id: r for r in runs}
    decimals = amount_decimals(runs)
    columns: list[Column] = []
    if with_run:
        columns.append(Column("Run", Role.ID))
    columns += [
        Column("Row", Role.COUNT),
        Column("Reference", Role.ID),
        Column("Amount", Role.AMOUNT, decimals),
        Column("Currency", Role.TEXT),
        Column("Status", Role.STATUS),
        Column("Status class", Role.TEXT),
        Column("Request-Id", Role.ID),
        Column("DOKU's last message", Role.TEXT),
        Column("What to do next", Role.TEXT),
        Column("Last seen by DOKU (UTC)", Role.TIME),
    ]

    def build(r: RowRecord) -> tuple[Any, ...]:
        retry = latest.get(r.reference)
        retried_by = retry if retry is not None and retry.attempt > r.attempt else None
        return (
            *((r.run_id,) if with_run else ()),
            r.row_number,
            r.reference,
            None if r.amount_minor is None else minor_to_decimal(r.amount_minor),
            r.currency,
            r.state,
            classify(r.state).value,
            r.request_id,
            r.message,
            next_action(r, run_by_id.get(r.run_id), retried_by=retried_by),
            r.last_seen_at,
        )

    return columns, build
