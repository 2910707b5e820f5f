"""Where workbooks go: the one path policy every surface uses (docs/architecture.md).

One workbook per run: ``batchpay run``/``resume``/``status``/``retry-failed`` and
``batchpay report RUN_ID`` all write the same file, so the accountant never has two diverging
workbooks for one run. A month goes to ``reports/<YYYY-MM>-reconciliation.xlsx``.
"""

from __future__ import annotations

from datetime import datetime
from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from batchpay.journal import Journal, RunRecord

REPORTS = Path("reports")


def default_workbook_path(run: RunRecord) -> Path:
    """``reports/<sheet-stem>-<run id>.xlsx`` relative to the working directory (beside the
    validation report's ``reports/<sheet-stem>-validation.xlsx``)."""
    return REPORTS / f"{Path(run.input_name).stem}-{run.run_id}.xlsx"


def workbook_path(run: RunRecord, override: str | Path | None = None) -> Path:
    """Where the run's workbook goes: ``override``, else the ``--report`` path recorded when
    the run started, else ``<report_dir>/<sheet-stem>-<run id>.xlsx`` with the ``reports``
    directory recorded at start (so resume/status from another directory update the same
    file), else :func:`default_workbook_path`."""
    if override:
        return Path(override)
    stored = run.settings.get("report_path")
    if stored:
        return Path(stored)
    directory = run.settings.get("report_dir")
    if directory:
        return Path(directory) / default_workbook_path(run).name
    return default_workbook_path(run)


def month_workbook_path(month: str, override: str | Path | None = None) -> Path:
    """``override``, else ``reports/<YYYY-MM>-reconciliation.xlsx``."""
    return Path(override) if override else REPORTS / f"{month}-reconciliation.xlsx"


def write_workbook(
    ledger: Journal, run_id: str, path: str | Path | None = None, *, now: datetime | None = None
) -> Path:
    """Write the reconciliation workbook of one run from the journal, at
    :func:`workbook_path` (atomic: docs/safety.md invariant 7)."""
    from batchpay.workbook.reconciliation import write_run_report

    return write_run_report(ledger, run_id, workbook_path(ledger.run(run_id), path), now=now)


def write_month_workbook(
    ledger: Journal, month: str, path: str | Path | None = None, *, now: datetime | None = None
) -> Path:
    """Write the reconciliation workbook of every run of ``month`` (YYYY-MM)."""
    from batchpay.workbook.reconciliation import write_month_report

    return write_month_report(ledger, month, month_workbook_path(month, path), now=now)
