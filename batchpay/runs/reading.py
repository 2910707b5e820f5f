"""The service's read-only calls: a run's or a month's workbook, and the run list.

Both open the journal read-only (a missing or empty one is JournalMissing, and nothing is
created) and need no credentials; :mod:`batchpay.runs.service` re-exports them.
"""

from __future__ import annotations

from pathlib import Path

from batchpay.config import load_settings
from batchpay.errors import UsageError
from batchpay.journal import RowRecord, RunRecord
from batchpay.runs.environment import open_journal_for
from batchpay.runs.options import Target
from batchpay.runs.paths import write_month_workbook, write_workbook


def report(
    target: Target,
    *,
    run_id: str | None = None,
    month: str | None = None,
    output: Path | None = None,
) -> Path:
    """Write the reconciliation workbook of one run (its own file, :mod:`batchpay.runs.
    paths`) or of every run of ``month``. Read-only: works on a read-only journal; a
    missing or empty one is JournalMissing (exit 4), and nothing is created."""
    if (run_id is None) == (month is None):
        raise UsageError(
            "give a RUN_ID or --month YYYY-MM (one of them)",
            hint="e.g. `batchpay report 20261101-090000-ab12` or `batchpay report --month 2026-11`",
        )
    settings = load_settings(dotenv_path=target.env_file, require_credentials=False)
    journal = open_journal_for(settings, read_only=True)
    if month is not None:
        return write_month_workbook(journal, month, output)
    return write_workbook(journal, str(run_id), output)


def list_runs(
    target: Target,
    *,
    month: str | None = None,
    limit: int = 30,
    kind: str | None = None,
    status: str | None = None,
) -> list[tuple[RunRecord, list[RowRecord]]]:
    """Runs (newest first, at most ``limit``; or every run of ``month``) with their rows;
    ``kind``/``status`` keep only such runs, chosen before the limit (so an older match is
    still found), and only the runs kept have their rows read."""
    settings = load_settings(
        base_url=target.base_url, dotenv_path=target.env_file, require_credentials=False
    )
    journal = open_journal_for(settings, read_only=True)
    filtered = kind is not None or status is not None
    records = (
        journal.runs_for_month(month) if month else journal.runs(limit=None if filtered else limit)
    )
    records = [r for r in records if kind in (None, r.kind) and status in (None, r.status)]
    records = records if month else records[:limit]
    return [(run, journal.rows(run.run_id)) for run in records]
