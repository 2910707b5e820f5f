"""The month report's Summary sheet: per environment, money out apart from internal
transfers and account creations (each reference counted once, in its latest attempt), what
retries replaced, dry runs apart and never counted; then every run (retries linked to their
originals) and every dry run, and the notes."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from batchpay.reconcile import (
    Bucket,
    Money,
    MonthReconciliation,
    MonthTotals,
    Role,
    Table,
)
from batchpay.workbook import print_setup
from batchpay.workbook.reconciliation.cells import Styles
from batchpay.workbook.reconciliation.grid import ALL, Cell, Grid, amount, count, write_grid
from batchpay.workbook.reconciliation.summary import ROW_PX, SHEET, bar_chart, head, notes

_STYLE_OF_ROLE = {
    Role.AMOUNT: "amount",
    Role.COUNT: "count",
    Role.STATUS: "status",
}


def month_title(rec: MonthReconciliation) -> str:
    return "batchpay reconciliation — " + (f"month {rec.month}" if rec.month else "several runs")


def _lines(t: MonthTotals) -> list[tuple[str, Bucket, bool]]:
    """(label, bucket, has money) of an environment's totals, in reading order."""
    out, tr, acc = t.by_money[Money.OUT], t.by_money[Money.TRANSFER], t.by_money[Money.NONE]
    not_done = Bucket()
    not_done.merge(acc.outstanding)
    not_done.merge(acc.failed)
    return [
        ("Money out: paid", out.paid, True),
        ("Money out: outstanding", out.outstanding, True),
        ("Money out: failed, not paid", out.failed, True),
        ("Transfers: moved", tr.paid, True),
        ("Transfers: outstanding", tr.outstanding, True),
        ("Transfers: failed", tr.failed, True),
        ("Sub Accounts created", acc.paid, False),
        ("Account creations not done", not_done, False),
        ("Replaced by a retry", t.replaced, True),
        ("Dry runs (never counted)", t.dry, True),
    ]


def _totals(wb: Any, grid: Grid, env: str, t: MonthTotals, currencies: list[str]) -> None:
    grid.line(Cell(f"Totals — {env}", "section", ALL))
    top = grid.line(Cell("What", "header"), Cell("Rows", "header"),
                    *(Cell(f"Amount {c}", "header") for c in currencies))  # fmt: skip
    first = len(grid.lines)
    for label, bucket, money in _lines(t):
        amounts = (amount(bucket.amount(c), total=True) if money else None for c in currencies)
        grid.line(Cell(label, "label"), count(bucket.count), *amounts)
    grid.blank()
    if any(s.rows for s in t.by_money.values() if s is not t.by_money[Money.NONE]):
        # Beside the totals it draws, no taller than they are.
        title = f"Money out and transfers by outcome — {env} ({currencies[0]})"
        height = int((len(grid.lines) - top) * ROW_PX) - 8
        chart = bar_chart(wb, title, (first, first + 5), (0, 2), (520, height))
        grid.place(chart, top, 2 + len(currencies))


def table_lines(grid: Grid, table: Table) -> None:
    """A small table inside the grid: a header line, then its lines by column role."""
    grid.line(*(Cell(c.header, "header") for c in table.columns))
    styles = [_STYLE_OF_ROLE.get(c.role, "text") for c in table.columns]
    for values in table.rows:
        grid.line(*(Cell(v, s) for v, s in zip(values, styles, strict=True)))


def write_month_summary(wb: Any, styles: Styles, rec: MonthReconciliation, now: datetime) -> None:
    """The month report's Summary sheet, first in the workbook, generated at ``now``."""
    grid = Grid()
    title = month_title(rec)
    head(grid, rec, title, now)
    currencies = rec.currencies
    for env, totals in rec.money.items():
        _totals(wb, grid, env, totals, currencies)
    grid.line(Cell("Runs — each reference counted once, in its latest attempt", "section", ALL))
    if rec.lines:
        table_lines(grid, rec.runs_table)
    else:
        grid.line(Cell("No run that sent anything in this report.", span=ALL))
    grid.blank()
    grid.line(Cell("Dry runs — nothing was sent; never counted in any total", "section", ALL))
    if rec.dry_runs:
        table_lines(grid, rec.dry_table)
    else:
        grid.line(Cell("No dry run in this report.", span=ALL))
    notes(grid, _notes(rec))
    ws = wb.add_worksheet(SHEET)
    print_setup(ws, title, header_rows=0)
    write_grid(ws, styles, grid)


def _notes(rec: MonthReconciliation) -> tuple[str, ...]:
    accounts = sum(1 for _ in rec.balances.rows)
    return (
        "Money out: Payout Links and Sub Account payouts — money that left us. Transfers move "
        "money between our own Sub Accounts and are never money out. Creating a Sub Account "
        "moves no money and is never counted as paid.",
        "Each reference is counted once: a row and its retries are one chain, and only the "
        "latest attempt counts (a payment that failed and was paid on retry counts as paid, "
        "once). The Retries sheet names every run of each chain; a row a retry replaced is "
        "under 'Replaced by a retry'.",
        "Paid means DOKU reported COMPLETED or SUCCESS; UNKNOWN is never counted as paid "
        "(it is outstanding until resolved).",
        "Dry runs sent nothing: they are listed apart and counted in no total.",
        f"Sub Account balances (opening, money out, transfers, closing): the Balances sheet "
        f"({accounts} account(s) with balance snapshots).",
        "Times are Jakarta time (WIB) with UTC beside them. All totals are values computed "
        "from the journal, not formulas.",
    )
