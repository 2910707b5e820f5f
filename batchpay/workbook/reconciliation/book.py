"""The reconciliation workbook: Summary, Rows, Exceptions and Events sheets.

Cell writing only; what the numbers *mean* is decided in :mod:`batchpay.reconcile`.
docs/safety.md §8: text is never a formula, identifiers are text, amounts are numbers with a
thousands format, totals are values computed from the records (no formula anywhere), and the
file reaches disk through a temp file + ``os.replace`` (invariant 7).

The whole workbook is built in openpyxl's write-only mode so that a 100,000-row run streams
to disk instead of holding millions of cell objects (issue 5, item 4).
"""

from __future__ import annotations

import contextlib
import os
from collections.abc import Mapping, Sequence
from datetime import UTC, datetime
from pathlib import Path

from openpyxl import Workbook

from batchpay.journal.records import EventRecord, RowRecord, RunRecord
from batchpay.reconcile import Reconciliation, reconcile
from batchpay.workbook import atomic_save
from batchpay.workbook.reconciliation.cells import Styles
from batchpay.workbook.reconciliation.summary import write_summary
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
    the generation time shown on the Summary (default: the current UTC time). Returns the
    path written. ``retries`` (rows of later retry-failed runs) only annotate failed rows
    on the Exceptions sheet. The previous file at ``path``, if any, stays intact until the
    new one is complete.
    """
    return write_workbook(path, reconcile(runs, rows, events, retries=retries), now)


def write_workbook(path: str | os.PathLike[str], rec: Reconciliation, now: datetime | None) -> Path:
    """Write ``rec`` (its tables are read twice: measured, then written) to ``path``."""
    generated = (now or datetime.now(UTC)).astimezone(UTC).replace(microsecond=0)
    wb = Workbook(write_only=True)
    wb.properties.creator = "batchpay"
    # openpyxl stamps the real clock otherwise; the report's time is the caller's ``now``.
    wb.properties.created = wb.properties.modified = generated.replace(tzinfo=None)
    try:
        styles = Styles(wb)
        write_summary(wb, styles, rec, generated)
        write_table(wb, styles, "Rows", rec.rows)
        write_table(wb, styles, "Exceptions", rec.exceptions)
        write_table(wb, styles, "Events", rec.events)
        return atomic_save(wb, path)
    except BaseException:
        _discard(wb)
        raise


def _discard(wb: Workbook) -> None:
    """After a failure: close the write-only sheets' streams and delete their temp files,
    so nothing half-written lingers in the temp directory (the target is untouched)."""
    for ws in wb.worksheets:
        writer = getattr(ws, "_writer", None)
        if writer is None:
            continue
        # Best effort: the original error is what the caller must see, not a cleanup one.
        with contextlib.suppress(Exception):
            if not ws.closed:
                ws.close()
        with contextlib.suppress(Exception):
            writer.cleanup()
