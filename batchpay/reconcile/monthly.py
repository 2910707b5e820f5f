"""The month an accountant signs off: every run of the month, reconciled so that each
amount is counted once, where it belongs.

* Money out (payouts, payout links), internal transfers between our own Sub Accounts and
  account creations (which move no money) are totalled apart (:mod:`~batchpay.reconcile.
  effective`).
* Dry runs are listed apart and never counted.
* A row and its retries are one chain; only the chain's latest attempt counts, in the month
  of its run ("failed, then paid on retry" counts as paid, once, with both runs named).
* Sub Account balances come from the runs' balance snapshots (:mod:`~batchpay.reconcile.
  balances`).

Pure: journal records in, tables out.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from batchpay.journal.records import EventRecord, RowRecord, RunRecord
from batchpay.money import minor_to_decimal
from batchpay.reconcile.balances import account_balances, balances_table
from batchpay.reconcile.classes import environment_banner
from batchpay.reconcile.effective import Chains, Money, money_of
from batchpay.reconcile.exceptions import exceptions_layout, is_exception
from batchpay.reconcile.month import Reconciliation, RunReport
from batchpay.reconcile.summary import Bucket, Summary, summarise
from batchpay.reconcile.tables import (
    Column,
    LazyRows,
    Role,
    Table,
    amount_decimals,
    events_table,
    ordered_union,
    rows_layout,
)
from batchpay.reconcile.times import both as time_pair


@dataclass
class RunLine:
    """A real run of the month: what of it counts, and what a later retry replaced."""

    run: RunRecord
    counted: Summary  # its rows that are their chain's effective outcome
    replaced: Bucket  # its rows a later attempt replaced (counted there, not here)
    retried_by: list[str]

    @property
    def money(self) -> Money:
        return money_of(self.run.kind)


@dataclass
class MonthTotals:
    """One environment's month: per kind of money, the counted outcomes; the attempts a
    retry replaced; the dry runs' rows (never counted)."""

    by_money: dict[Money, Summary] = field(default_factory=lambda: {m: Summary() for m in Money})
    replaced: Bucket = field(default_factory=Bucket)
    dry: Bucket = field(default_factory=Bucket)

    @property
    def currencies(self) -> list[str]:
        found = {c for s in self.by_money.values() for c in s.currencies}
        found.update(self.dry.amounts)
        return sorted(found, key=lambda c: (c != "IDR", c)) or ["IDR"]


@dataclass
class MonthReconciliation(Reconciliation):
    """A month (or any set of runs): :class:`Reconciliation` plus the month's own views."""

    month: str | None = None
    lines: list[RunLine] = field(default_factory=list)
    dry_runs: list[RunReport] = field(default_factory=list)
    money: dict[str, MonthTotals] = field(default_factory=dict)
    retries: Table = field(default_factory=lambda: Table([], []))
    balances: Table = field(default_factory=lambda: Table([], []))
    runs_table: Table = field(default_factory=lambda: Table([], []))
    dry_table: Table = field(default_factory=lambda: Table([], []))

    @property
    def is_month(self) -> bool:
        return True

    @property
    def banners(self) -> list[str]:
        """One loud line per test environment present, dry runs' too."""
        return [b for env in self.money if (b := environment_banner(env)) is not None]

    @property
    def currencies(self) -> list[str]:
        found = {c for t in self.money.values() for c in t.currencies}
        return sorted(found, key=lambda c: (c != "IDR", c)) or ["IDR"]


def reconcile_month(
    runs: Sequence[RunRecord],
    rows: Mapping[str, Sequence[RowRecord]],
    events: Iterable[EventRecord] = (),
    *,
    linked: Iterable[RunRecord] = (),
    linked_rows: Iterable[RowRecord] = (),
    month: str | None = None,
) -> MonthReconciliation:
    """Reconcile ``runs`` (a month's, in the order to show them) with their ``rows`` (run id
    → rows) and ``events``. ``linked`` runs (and their ``linked_rows``) are retries or
    originals of these runs outside the month: they only link chains, and a chain whose
    latest attempt is theirs is counted in their month, not here."""
    events = list(events)
    real = [r for r in runs if not r.dry_run]
    chains = Chains([*runs, *linked])
    ordered: list[RowRecord] = []
    by_run: dict[str, list[RowRecord]] = {}
    for run in real:
        mine = sorted(rows.get(run.run_id, ()), key=lambda r: (r.row_number, r.attempt))
        chains.add(mine)
        by_run[run.run_id] = mine
        ordered += mine
    chains.add(linked_rows)
    rec = MonthReconciliation(
        runs=[], totals={}, rows=Table([], []), exceptions=Table([], []), events=Table([], [])
    )
    rec.month = month
    counted_rows: list[RowRecord] = []
    for run in runs:
        totals = rec.money.setdefault(run.env, MonthTotals())
        if run.dry_run:
            summary = summarise(rows.get(run.run_id, ()))
            rec.dry_runs.append(RunReport(run, summary))
            totals.dry.merge(_all(summary))
            continue
        counted: list[RowRecord] = []
        replaced = Bucket()
        for r in by_run[run.run_id]:
            if chains.superseded_by(r) is None:
                counted.append(r)
            else:
                replaced.add(r.currency, r.amount_minor)
        counted_rows += counted
        retried_by = list(chains.children.get(run.run_id, ()))
        line = RunLine(run, summarise(counted), replaced, retried_by)
        rec.lines.append(line)
        rec.runs.append(RunReport(run, line.counted))
        totals.by_money[line.money].merge(line.counted)
        totals.replaced.merge(line.replaced)
        rec.totals.setdefault(run.env, Summary()).merge(line.counted)
    _tables(rec, real, ordered, chains, events)
    rec.balances = balances_table(account_balances(real, events, counted_rows))
    rec.retries = retries_table(chains, ordered, [*runs, *linked], linked_rows)
    return rec


def _all(summary: Summary) -> Bucket:
    total = Bucket()
    for bucket in summary.by_state.values():
        total.merge(bucket)
    return total


def _tables(
    rec: MonthReconciliation,
    real: list[RunRecord],
    ordered: list[RowRecord],
    chains: Chains,
    events: list[EventRecord],
) -> None:
    def counted(r: RowRecord) -> str:
        later = chains.superseded_by(r)
        if later is None:
            return "yes"
        return f"no: retried in run {later[0]} (attempt {later[1]}, {later[2]})"

    column = Column("Counted in totals", Role.TEXT)
    inputs = ordered_union(r.input.keys() for r in ordered)
    norms = ordered_union(r.normalised.keys() for r in ordered)
    ids = ordered_union(r.doku_ids.keys() for r in ordered)
    columns, build = rows_layout(
        amount_decimals(real), True, inputs, norms, ids, counted=(column, counted)
    )
    rec.rows = Table(columns, LazyRows(ordered, build))
    exc_columns, exc_build = exceptions_layout(real, True, chains.latest)
    rec.exceptions = Table(
        exc_columns, LazyRows([r for r in ordered if is_exception(r)], exc_build)
    )
    rec.events = events_table(events, with_run=True)
    currencies = rec.currencies
    rec.runs_table = runs_table(rec.lines, currencies)
    rec.dry_table = dry_runs_table(rec.dry_runs, currencies)


def _started(run: RunRecord) -> tuple[str | None, str | None]:
    return time_pair(run.created_at)


def runs_table(lines: list[RunLine], currencies: list[str]) -> Table:
    """One line per real run: what it is, when, who, its links to retries, and what of it
    counts (its effective outcomes) in the month."""
    columns = [
        Column("Run", Role.ID),
        Column("Kind", Role.TEXT),
        Column("Money", Role.TEXT),
        Column("Environment", Role.TEXT),
        Column("Input file", Role.TEXT),
        Column("Started (WIB)", Role.TIME),
        Column("Started (UTC)", Role.TIME),
        Column("Operator", Role.TEXT),
        Column("Retry of run", Role.ID),
        Column("Retried by run", Role.ID),
        Column("Rows", Role.COUNT),
        Column("Succeeded: rows", Role.COUNT),
        *(Column(f"Succeeded: {c}", Role.AMOUNT) for c in currencies),
        *(Column(f"Outstanding: {c}", Role.AMOUNT) for c in currencies),
        *(Column(f"Failed: {c}", Role.AMOUNT) for c in currencies),
        Column("Replaced by a retry: rows", Role.COUNT),
    ]
    out: list[tuple[Any, ...]] = []
    for line in lines:
        run, s = line.run, line.counted
        money = line.money is not Money.NONE

        def amounts(bucket: Bucket, money: bool = money) -> list[Any]:
            return [bucket.amount(c) if money else None for c in currencies]

        out.append(
            (
                run.run_id,
                run.kind,
                line.money.value,
                run.env,
                run.input_name,
                *_started(run),
                run.operator,
                run.parent_run_id,
                ", ".join(line.retried_by) or None,
                s.rows + line.replaced.count,
                s.paid.count,
                *amounts(s.paid),
                *amounts(s.outstanding),
                *amounts(s.failed),
                line.replaced.count,
            )
        )
    return Table(columns, out)


def dry_runs_table(dry: list[RunReport], currencies: list[str]) -> Table:
    """Dry runs: what they would have sent. Nothing was sent; none of it counts."""
    columns = [
        Column("Dry run", Role.ID),
        Column("Kind", Role.TEXT),
        Column("Environment", Role.TEXT),
        Column("Input file", Role.TEXT),
        Column("Started (WIB)", Role.TIME),
        Column("Started (UTC)", Role.TIME),
        Column("Operator", Role.TEXT),
        Column("Rows (not sent)", Role.COUNT),
        *(Column(f"Not sent: {c}", Role.AMOUNT) for c in currencies),
    ]
    out = [
        (
            r.run.run_id,
            r.run.kind,
            r.run.env,
            r.run.input_name,
            *_started(r.run),
            r.run.operator,
            r.summary.rows,
            *(_all(r.summary).amount(c) for c in currencies),
        )
        for r in dry
    ]
    return Table(columns, out)


RETRY_COLUMNS = [
    Column("Row", Role.COUNT),
    Column("First run", Role.ID),
    Column("First reference", Role.ID),
    Column("First status", Role.STATUS),
    Column("Attempts", Role.TEXT),
    Column("Effective run", Role.ID),
    Column("Effective reference", Role.ID),
    Column("Effective status", Role.STATUS),
    Column("Amount", Role.AMOUNT),
    Column("Counted in", Role.TEXT),
]


def retries_table(
    chains: Chains,
    ordered: list[RowRecord],
    runs: Sequence[RunRecord],
    linked_rows: Iterable[RowRecord],
) -> Table:
    """One line per chain of attempts that touches the month: every run named, and the one
    effective outcome that counts (in the month of its run)."""
    in_month = {r.run_id for r in ordered}
    created = {r.run_id: r.created_at for r in runs}
    groups: dict[Any, list[RowRecord]] = {}
    for r in (*ordered, *linked_rows):
        groups.setdefault(chains.key(r), []).append(r)
    out: list[tuple[Any, ...]] = []
    for attempts in groups.values():
        if len(attempts) < 2 or not any(a.run_id in in_month for a in attempts):
            continue
        attempts.sort(key=lambda a: a.attempt)
        first, last = attempts[0], attempts[-1]
        where = "this report" if last.run_id in in_month else _month_of(created, last.run_id)
        out.append(
            (
                first.row_number,
                first.run_id,
                first.reference,
                first.state,
                "; ".join(
                    f"{a.attempt}: run {a.run_id}, {a.reference}, {a.state}" for a in attempts
                ),
                last.run_id,
                last.reference,
                last.state,
                None if last.amount_minor is None else minor_to_decimal(last.amount_minor),
                where,
            )
        )
    return Table(list(RETRY_COLUMNS), out)


def _month_of(created: Mapping[str, str], run_id: str) -> str:
    wib = time_pair(created.get(run_id))[0]
    return f"the month of run {run_id}" + (f" ({wib[:7]}, WIB)" if wib else "")
