"""Reconciliation workbooks read from the journal: one run (streamed in chunks) or a month."""

from __future__ import annotations

import contextlib
import os
from collections.abc import Iterable, Iterator
from datetime import datetime
from pathlib import Path
from typing import Protocol

from batchpay.errors import RunNotFound
from batchpay.journal.records import EventRecord, RowRecord, RunRecord
from batchpay.reconcile import reconcile_run_stream
from batchpay.workbook.reconciliation.book import write_reconciliation, write_workbook


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


def write_run_report(
    journal: JournalReader,
    run_id: str,
    path: str | os.PathLike[str],
    *,
    now: datetime | None = None,
) -> Path:
    """The reconciliation workbook of one run, read from the journal, at ``path`` (the one
    path policy is :mod:`batchpay.runs.paths`). Failed rows already retried by a later run
    say so."""
    run = journal.run(run_id)
    retries = _later_attempts(journal, run_id)
    # Streamed (issue 5, item 4): the run's rows and events are read from the journal in
    # chunks on every pass — summary, widths, cells — never all held; the body is not read.
    with journal.snapshot() as snapshot:

        def rows(data: bool) -> Iterable[RowRecord]:
            return snapshot.iter_rows(run_id, data=data, body=False)

        def events() -> Iterable[EventRecord]:
            return snapshot.iter_events(run_id)

        rec = reconcile_run_stream(run, rows, events, retries=retries)
        return write_workbook(path, rec, now)


def write_month_report(
    journal: JournalReader, month: str, path: str | os.PathLike[str], *, now: datetime | None = None
) -> Path:
    """The reconciliation workbook of every run created in ``month`` (YYYY-MM, as the
    journal defines the month). Raises :class:`~batchpay.errors.RunNotFound` when there is
    none."""
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
    return write_reconciliation(path, runs, rows, events, now=now)
