"""Reconcile one run or several (a month): summaries, rows, exceptions and events, computed
from the journal's records alone. No I/O, no clock, no openpyxl."""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field

from batchpay.journal.records import EventRecord, RowRecord, RunRecord
from batchpay.reconcile.classes import environment_banner
from batchpay.reconcile.exceptions import (
    LatestAttempts,
    exceptions_layout,
    exceptions_table,
    is_exception,
)
from batchpay.reconcile.summary import Summary, summarise
from batchpay.reconcile.tables import (
    KeyUnion,
    Replay,
    Table,
    amount_decimals,
    events_layout,
    events_table,
    rows_layout,
    rows_table,
)


@dataclass
class RunReport:
    """A run with its own summary."""

    run: RunRecord
    summary: Summary
    retried_by: list[str] = field(default_factory=list)  # runs that retried this one


@dataclass
class Reconciliation:
    """Everything the workbook shows, computed from the records alone."""

    runs: list[RunReport]
    totals: dict[str, Summary]  # per environment: test money never adds up with real money
    rows: Table
    exceptions: Table
    events: Table

    @property
    def is_month(self) -> bool:
        return len(self.runs) > 1

    @property
    def banners(self) -> list[str]:
        """One loud line per test environment present (none for production only)."""
        out: list[str] = []
        for env in self.totals:
            banner = environment_banner(env)
            if banner is not None:
                out.append(banner)
        return out


def group_rows(rows: Iterable[RowRecord]) -> dict[str, list[RowRecord]]:
    """Rows per run id, in their given order."""
    grouped: dict[str, list[RowRecord]] = defaultdict(list)
    for r in rows:
        grouped[r.run_id].append(r)
    return grouped


def reconcile(
    runs: Sequence[RunRecord],
    rows: Sequence[RowRecord] | Mapping[str, Sequence[RowRecord]],
    events: Sequence[EventRecord] = (),
    *,
    retries: Sequence[RowRecord] = (),
) -> Reconciliation:
    """Summaries, rows, exceptions and events for one run, or for several (a month: then a
    :class:`~batchpay.reconcile.monthly.MonthReconciliation`, where money out, transfers and
    account creations are apart, dry runs never count and each chain of retries counts
    once).

    ``rows`` is either a flat list (each row carries its run id) or a mapping run id → rows.
    ``retries`` are rows of later retry-failed runs not reported here: they only let a failed
    row say it was already retried (they count nowhere).
    Rows are ordered by run (as ``runs`` lists them), then Excel row number, then attempt.
    """
    if not runs:
        raise ValueError("reconcile needs at least one run")
    by_run = (
        {k: list(v) for k, v in rows.items()} if isinstance(rows, Mapping) else group_rows(rows)
    )
    known = {r.run_id for r in runs}
    stray = sorted(set(by_run) - known)
    if stray:
        raise ValueError(f"rows of runs not given: {', '.join(stray)}")
    if len(runs) > 1:
        from batchpay.reconcile.monthly import reconcile_month

        return reconcile_month(runs, by_run, events, linked_rows=retries)
    (run,) = runs
    run_rows = by_run.get(run.run_id, [])
    # The journal usually hands rows out in order already; sorting a sorted list is O(n).
    run_rows.sort(key=lambda r: (r.row_number, r.attempt))
    summary = summarise(run_rows)
    return Reconciliation(
        runs=[RunReport(run, summary)],
        totals={run.env: summary},
        rows=rows_table(runs, run_rows, with_run=False),
        exceptions=exceptions_table(runs, run_rows, with_run=False, retries=retries),
        events=events_table(events, with_run=False),
    )


def reconcile_run_stream(
    run: RunRecord,
    rows: Callable[[bool], Iterable[RowRecord]],
    events: Callable[[], Iterable[EventRecord]],
    *,
    retries: Iterable[RowRecord] = (),
    retried_by: Sequence[str] = (),
) -> Reconciliation:
    """:func:`reconcile` of one run whose records are read afresh on every pass, never all
    held (a 100,000-row run's records take ~350 MB; issue 5, item 4).

    ``rows(data)`` yields the run's rows in (row number, attempt) order, each time the same;
    ``data=False`` may leave ``input`` and ``normalised`` empty (the summary does not read
    them). ``events()`` yields the run's events in journal order. ``retried_by`` names the
    runs that retried this one (the Summary says so).
    One pass here computes the summary, the Rows sheet's columns and the latest attempt per
    row; the workbook then reads each table again to measure and to write it.
    The tables are the ones :func:`reconcile` makes of the same records.
    """
    inputs, norms, ids = KeyUnion(), KeyUnion(), KeyUnion()
    latest = LatestAttempts()
    exceptions = 0

    def first_pass() -> Iterator[RowRecord]:
        nonlocal exceptions
        for r in rows(True):
            inputs.add(r.input.keys())
            norms.add(r.normalised.keys())
            ids.add(r.doku_ids.keys())
            latest.add(r)
            exceptions += is_exception(r)
            yield r

    summary = summarise(first_pass())
    for r in retries:
        latest.add(r)
    runs = [run]
    row_columns, row_build = rows_layout(
        amount_decimals(runs), False, inputs.keys(), norms.keys(), ids.keys()
    )
    exc_columns, exc_build = exceptions_layout(runs, False, latest)
    event_columns, event_build = events_layout(False)

    def not_paid() -> Iterator[RowRecord]:
        # The payee's name and email live in the normalised values: read with data. A run
        # with every row paid has none: its rows are not read again for them.
        if not exceptions:
            return iter(())
        return (r for r in rows(True) if is_exception(r))

    return Reconciliation(
        runs=[RunReport(run, summary, list(retried_by))],
        totals={run.env: summary},
        rows=Table(row_columns, Replay(lambda: rows(True), row_build)),
        exceptions=Table(exc_columns, Replay(not_paid, exc_build)),
        events=Table(event_columns, Replay(events, event_build)),
    )
