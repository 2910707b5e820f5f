"""Reconciliation workbooks read from the journal: one run (streamed in chunks) or a month."""

from __future__ import annotations

import contextlib
import os
from collections.abc import Callable, Iterable, Iterator
from datetime import datetime
from pathlib import Path
from typing import Generic, Protocol, TypeVar

from batchpay.errors import RunNotFound
from batchpay.journal.records import EventRecord, RowRecord, RunRecord
from batchpay.reconcile import reconcile_month, reconcile_run_stream
from batchpay.workbook.reconciliation.book import write_workbook


class _ChunkReader(Protocol):
    """Chunked reads of one consistent journal state (:meth:`Journal.snapshot`)."""

    def iter_rows(
        self, run_id: str, *, data: bool = True, body: bool = True, chunk: int = 5000
    ) -> Iterator[RowRecord]: ...
    def iter_events(self, run_id: str, *, chunk: int = 5000) -> Iterator[EventRecord]: ...


class JournalReader(Protocol):
    """The read side of :class:`batchpay.journal.Journal` a report needs."""

    def run(self, run_id: str) -> RunRecord: ...
    def rows(self, run_id: str, *, data: bool = True) -> list[RowRecord]: ...
    def events(self, run_id: str) -> list[EventRecord]: ...
    def iter_rows(
        self, run_id: str, *, data: bool = True, body: bool = True, chunk: int = 5000
    ) -> Iterator[RowRecord]: ...
    def iter_events(self, run_id: str, *, chunk: int = 5000) -> Iterator[EventRecord]: ...
    def snapshot(self) -> contextlib.AbstractContextManager[_ChunkReader]: ...
    def children(self, run_id: str) -> list[RunRecord]: ...
    def runs_for_month(self, month: str) -> list[RunRecord]: ...


def _later_attempts(journal: JournalReader, run_id: str) -> list[RowRecord]:
    """Rows of every retry-failed run descending from ``run_id`` (children, grandchildren…)."""
    found: list[RowRecord] = []
    pending = [run_id]
    seen = {run_id}
    while pending:
        for child in journal.children(pending.pop()):
            if child.run_id not in seen:
                seen.add(child.run_id)
                pending.append(child.run_id)
                # Only run id, attempt, state and reference are read: no input, no body.
                found += journal.rows(child.run_id, data=False)
    return found


_HELD = 5_000  # records of one pass kept for the next passes (rows ~2.4 MB per 1,000)
_T = TypeVar("_T")


class _Held(Generic[_T]):
    """``read(key)`` streamed on its first pass and, when that pass ends within
    :data:`_HELD` records, replayed from memory on the next ones; a bigger run streams on
    every pass, so memory stays bounded."""

    def __init__(self, read: Callable[[bool], Iterable[_T]]) -> None:
        self.read = read
        self.kept: dict[bool, list[_T]] = {}

    def __call__(self, key: bool) -> Iterable[_T]:
        kept = self.kept.get(key)
        return kept if kept is not None else self._first(key)

    def _first(self, key: bool) -> Iterator[_T]:
        kept: list[_T] | None = []
        for record in self.read(key):
            if kept is not None:
                kept.append(record)
                if len(kept) > _HELD:
                    kept = None
            yield record
        if kept is not None:  # a whole pass, not one given up half-way
            self.kept[key] = kept


def write_run_report(
    journal: JournalReader,
    run_id: str,
    path: str | os.PathLike[str],
    *,
    now: datetime | None = None,
) -> Path:
    """The reconciliation workbook of one run, read from the journal, at ``path`` (the one
    path policy is :mod:`batchpay.runs.paths`). Failed rows already retried by a later run
    say so, and the Summary names the runs that retried it."""
    run = journal.run(run_id)
    retries = _later_attempts(journal, run_id)
    retried_by = [c.run_id for c in journal.children(run_id)]
    # Streamed (issue 5, item 4): a big run's rows and events are read from the journal in
    # chunks on every pass — summary, widths, cells — never all held. A run of up to _HELD
    # records is held after its first pass instead (2,000 rows: 0.1 s less). The body is
    # never read.
    with journal.snapshot() as snapshot:
        # 1,000 at a time: a fetched chunk of rows with their values is ~2.4 MB.
        held_rows = _Held(
            lambda data: snapshot.iter_rows(run_id, data=data, body=False, chunk=1000)
        )
        held_events = _Held(lambda _: snapshot.iter_events(run_id))
        rec = reconcile_run_stream(
            run,
            held_rows,
            lambda: held_events(True),
            retries=retries,
            retried_by=retried_by,
        )
        return write_workbook(path, rec, now)


def _linked(journal: JournalReader, runs: list[RunRecord]) -> list[RunRecord]:
    """Runs outside ``runs`` that retried them, or that they retried (the chains of attempts
    crossing the month's edges)."""
    known = {r.run_id for r in runs}
    found: dict[str, RunRecord] = {}
    for run in runs:
        up = run.parent_run_id
        while up is not None and up not in known and up not in found:
            parent = found[up] = journal.run(up)
            up = parent.parent_run_id
    pending = [r.run_id for r in runs]
    while pending:
        for child in journal.children(pending.pop()):
            if child.run_id not in known and child.run_id not in found:
                found[child.run_id] = child
                pending.append(child.run_id)
    return list(found.values())


def write_month_report(
    journal: JournalReader, month: str, path: str | os.PathLike[str], *, now: datetime | None = None
) -> Path:
    """The reconciliation workbook of every run created in ``month`` (YYYY-MM, Jakarta
    time, as the journal defines the month): money out apart from transfers and account
    creations, dry runs apart, each chain of retries counted once. Raises
    :class:`~batchpay.errors.RunNotFound` when there is none."""
    runs = journal.runs_for_month(month)
    if not runs:
        raise RunNotFound(
            f"no run in {month} in the journal", hint="list runs with `batchpay runs`"
        )
    rows: dict[str, list[RowRecord]] = {}
    events: list[EventRecord] = []
    for run in runs:
        rows[run.run_id] = journal.rows(run.run_id)
        events += journal.events(run.run_id)
    linked = _linked(journal, runs)
    # Only run id, attempt, state, reference and amount are read of them: no input, no body.
    linked_rows = [r for run in linked for r in journal.rows(run.run_id, data=False)]
    rec = reconcile_month(runs, rows, events, linked=linked, linked_rows=linked_rows, month=month)
    return write_workbook(path, rec, now)
