"""The reconciliation workbook: Summary, then the table sheets — Rows, Exceptions, Events
for a run; Balances, Retries, Rows, Exceptions, Events for a month.

Cell writing only; what the numbers *mean* is decided in :mod:`batchpay.reconcile`.
docs/safety.md §8: text is never a formula, identifiers are text, amounts are numbers with a
thousands format, totals are values computed from the records (no formula anywhere), and the
file reaches disk through a private temp file + ``os.replace`` (invariant 7; 0600).

Written with XlsxWriter in constant_memory mode: a 100,000-row run streams to disk row by
row (issue 5, item 4; issue 11).
"""

from __future__ import annotations

import contextlib
import os
from collections.abc import Mapping, Sequence
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from batchpay.journal.records import EventRecord, RowRecord, RunRecord
from batchpay.reconcile import MonthReconciliation, Reconciliation, Table, reconcile
from batchpay.workbook import xlsx_workbook
from batchpay.workbook.reconciliation.cells import Styles
from batchpay.workbook.reconciliation.month import month_title, write_month_summary
from batchpay.workbook.reconciliation.summary import write_run_summary
from batchpay.workbook.reconciliation.tables import write_table


def write_reconciliation(
    path: str | os.PathLike[str],
    runs: Sequence[RunRecord],
    rows: Sequence[RowRecord] | Mapping[str, Sequence[RowRecord]],
    events: Sequence[EventRecord] = (),
    *,
    now: datetime | None = None,
    retries: Sequence[RowRecord] = (),
) -> Path:
    """Write the reconciliation workbook of one run (or of several: a month) to ``path``.

    ``rows`` is a flat list (each row names its run) or a mapping run id → rows. ``now`` is
    the generation time shown on the Summary (default: the current time). Returns the path
    written. ``retries`` (rows of later retry-failed runs) only annotate failed rows on the
    Exceptions sheet. The previous file at ``path``, if any, stays intact until the new one
    is complete.
    """
    return write_workbook(path, reconcile(runs, rows, events, retries=retries), now)


def write_workbook(path: str | os.PathLike[str], rec: Reconciliation, now: datetime | None) -> Path:
    """Write ``rec`` (its tables are read twice: measured, then written) to ``path``."""
    generated = (now or datetime.now(UTC)).astimezone(UTC).replace(microsecond=0)
    opened: list[Any] = []
    try:
        _write(path, rec, generated, opened)
    except BaseException:
        _discard(opened)
        raise
    return Path(path)


def _write(
    path: str | os.PathLike[str], rec: Reconciliation, generated: datetime, opened: list[Any]
) -> None:
    with xlsx_workbook(path, constant_memory=True) as wb:
        opened.append(wb)
        # XlsxWriter stamps the real clock otherwise; the report's time is the caller's.
        wb.set_properties({"creator": "batchpay", "created": generated.replace(tzinfo=None)})
        styles = Styles(wb)
        sheets: list[tuple[str, Table]]
        if isinstance(rec, MonthReconciliation):
            title = month_title(rec)
            write_month_summary(wb, styles, rec, generated)
            sheets = [("Balances", rec.balances), ("Retries", rec.retries)]
        else:
            title = f"batchpay reconciliation — run {rec.runs[0].run.run_id}"
            write_run_summary(wb, styles, rec, generated)
            sheets = []
        sheets += [("Rows", rec.rows), ("Exceptions", rec.exceptions), ("Events", rec.events)]
        for name, table in sheets:
            write_table(wb, styles, name, table, book_title=title)


def _discard(opened: list[Any]) -> None:
    """After a failure: remove the row files constant_memory mode keeps beside the target
    (they hold payee data) when closing the workbook did not get to remove them."""
    for wb in opened:
        for ws in wb.worksheets():
            name = getattr(ws, "row_data_filename", None)
            # Best effort: the original error is what the caller must see.
            with contextlib.suppress(Exception):
                ws.row_data_fh.close()
            if name:
                with contextlib.suppress(OSError):
                    os.unlink(name)
