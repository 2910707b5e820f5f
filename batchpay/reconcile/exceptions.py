"""The Exceptions sheet: every row not paid (or changed after completion) and what the
operator does next with it. Only a row :func:`~batchpay.reconcile.retry.why_not_retryable`
allows is ever pointed at `retry-failed`."""

from __future__ import annotations

from collections.abc import Callable, Hashable, Sequence
from typing import Any, NamedTuple, Protocol

from batchpay.doku.codes import ANSWER_MISMATCH
from batchpay.journal.records import DUPLICATE_REFERENCE, RowRecord, RunRecord
from batchpay.money import format_minor, minor_to_decimal
from batchpay.reconcile.classes import StatusClass, classify
from batchpay.reconcile.payee import payee, what_happened
from batchpay.reconcile.retry import changed_after_completion, why_not_retryable
from batchpay.reconcile.tables import Column, LazyRows, Role, Table, amount_decimals
from batchpay.reconcile.times import both as time_pair
from batchpay.states import State


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


ChainKey = Callable[[RowRecord], Hashable]


def by_row_number(row: RowRecord) -> Hashable:
    """The chain of a row within one run and its retries: a retry-failed run keeps each
    row's Excel row number (a Payout Link retry changes the reference: ``X-R2``)."""
    return row.row_number


class LatestAttempts:
    """Latest attempt per chain (the first seen wins a tie), fed one row at a time; holds
    small shared tuples, not records. ``key`` names a row's chain (default: its row number,
    for one run and its retries)."""

    def __init__(self, key: ChainKey = by_row_number) -> None:
        self.key = key
        self.by_chain: dict[Hashable, Attempt] = {}
        self._shared: dict[Attempt, Attempt] = {}

    def add(self, r: RowRecord) -> None:
        chain = self.key(r)
        seen = self.by_chain.get(chain)
        if seen is None or r.attempt > seen.attempt:
            key = Attempt(r.run_id, r.attempt, r.state)
            self.by_chain[chain] = self._shared.setdefault(key, key)


def next_action(
    row: RowRecord, run: RunRecord | None = None, *, retried_by: _Attempt | None = None
) -> str:
    """What the operator does next for a row that is not successfully terminal (or whose
    final status DOKU changed after completion), as specific as the row allows: the payee,
    the account to top up, the real run id. Only a row :func:`why_not_retryable` allows is
    ever pointed at `retry-failed`."""
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
        kind = run.kind if run is not None else ""
        return _failed_action(row, kind, changed, said, retried_by)
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
    row: RowRecord, kind: str, changed: str, said: str, retried_by: _Attempt | None
) -> str:
    if retried_by is not None:
        paid = classify(retried_by.state) is StatusClass.PAID
        done = " Paid there: nothing to do here." if paid else ""
        return (
            f"{changed}Already retried in run {retried_by.run_id} (attempt "
            f"{retried_by.attempt}, now {retried_by.state}); see that row.{done}{said}"
        )
    blocker = why_not_retryable(row)
    if blocker is not None:
        return (
            f"{changed}Do NOT retry or pay this row again: {blocker} (Request-Id "
            f"{row.request_id}, reference {row.reference}).{said}"
        )
    retry = f"`batchpay retry-failed {row.run_id}` {_resends(kind)}"
    return f"{changed}{_fix_first(row, kind)}{retry}.{said}"


def _resends(kind: str) -> str:
    return "sends a new link" if kind == "payout-link" else "sends it again under a new Request-Id"


def _fix_first(row: RowRecord, kind: str) -> str:
    """The specific fix before a retry, from the row's state, code and payee."""
    name, contact = payee(row, kind)
    who = name or "the receiver"
    if row.state == State.EXPIRED:
        where = f" at {contact}" if contact else ""
        return f"The link was never opened; check with {who}{where} that the email is right; "
    if row.code == "INSUFFICIENT_BALANCE":
        need = "" if row.amount_minor is None else format_minor(row.amount_minor, row.currency)
        amount = f" (at least {need} for this row)" if need else ""
        return f"Top up Sub Account {row.source_account or '(source)'}{amount}, then "
    if row.code == "ACCOUNT_NOT_ACTIVE":
        return f"Wait until Sub Account {row.source_account or '(source)'} is active, then "
    if row.state == State.FAILED and kind == "payout-link":
        return f"Ask {who} to check the bank account they enter in the link; then "
    if row.state == State.FAILED and kind == "sub-account-payout":
        return f"Check the bank account ({contact or 'beneficiary'}) with {who}; then "
    return "Fix the cause DOKU names, then "


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
    key: ChainKey | None = None,
) -> Table:
    """Every row that is not successfully terminal (or changed after completion): who it
    pays, what happened in plain words, and what to do next.

    A failed row that a later attempt covers (a retry-failed run's row, in ``rows`` or in
    ``retries``) says so, instead of asking for another retry. ``key`` names a row's chain
    of attempts (default: the row number, for one run and its retries).
    """
    if with_run is None:
        with_run = len(runs) > 1
    latest = LatestAttempts(key or by_row_number)
    for r in (*rows, *retries):
        latest.add(r)
    columns, build = exceptions_layout(runs, with_run, latest)
    not_paid = [r for r in rows if is_exception(r)]
    return Table(columns, LazyRows(not_paid, build))


def is_exception(row: RowRecord) -> bool:
    """On the Exceptions sheet: every row not paid, and every row whose final status DOKU
    changed after completion (even back to paid)."""
    return classify(row.state) is not StatusClass.PAID or changed_after_completion(row)


def exceptions_layout(
    runs: Sequence[RunRecord], with_run: bool, latest: LatestAttempts
) -> tuple[list[Column], Callable[[RowRecord], tuple[Any, ...]]]:
    """The Exceptions sheet's columns and the function making one line of a record.
    ``latest`` holds each chain's latest attempt (a retry covers a failed row)."""
    run_by_id = {r.run_id: r for r in runs}
    decimals = amount_decimals(runs)
    columns: list[Column] = [Column("Run", Role.ID)] if with_run else []
    columns += [
        Column("Row", Role.COUNT),
        Column("Status", Role.STATUS),
        Column("Payee", Role.TEXT),
        Column("Email or account", Role.ID),
        Column("Amount", Role.AMOUNT, decimals),
        Column("Currency", Role.TEXT),
        Column("Reference", Role.ID),
        Column("What happened", Role.TEXT),
        Column("What to do next", Role.TEXT),
        Column("Request-Id", Role.ID),
        Column("DOKU's last message", Role.TEXT),
        Column("Last seen by DOKU (WIB)", Role.TIME),
        Column("Last seen by DOKU (UTC)", Role.TIME),
    ]

    def build(r: RowRecord) -> tuple[Any, ...]:
        run = run_by_id.get(r.run_id)
        kind = run.kind if run is not None else ""
        retry = latest.by_chain.get(latest.key(r))
        retried_by = retry if retry is not None and retry.attempt > r.attempt else None
        name, contact = payee(r, kind)
        return (
            *((r.run_id,) if with_run else ()),
            r.row_number,
            r.state,
            name,
            contact,
            None if r.amount_minor is None else minor_to_decimal(r.amount_minor),
            r.currency,
            r.reference,
            what_happened(r, kind),
            next_action(r, run, retried_by=retried_by),
            r.request_id,
            r.message,
            *time_pair(r.last_seen_at),
        )

    return columns, build
