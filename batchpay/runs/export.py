"""Exports for automation: the rows of a run (or of a month) as CSV, and the runs a report
covers (for ``report --json``). Read-only on the journal, like the workbook report.

CSV: one row per payee row with its status and DOKU ids (columns: :data:`CSV_COLUMNS`),
UTF-8 without a byte-order mark, ``\\r\\n`` line ends (RFC 4180), amounts as plain decimal
text *and* integer minor units. A text cell starting with ``= + - @``, tab or CR gets a
leading ``'`` so a spreadsheet opening the file never runs it as a formula (references never
start with those: they are refused). Written to a 0600 temp file beside the target, then
``os.replace``d: never half-written.
"""

from __future__ import annotations

import csv
import os
import tempfile
from collections.abc import Iterator
from datetime import datetime
from pathlib import Path

from batchpay.config import load_settings
from batchpay.errors import UsageError
from batchpay.journal import Journal, RowRecord, RunRecord
from batchpay.money import minor_to_decimal
from batchpay.reconcile import classify
from batchpay.runs.environment import open_journal_for
from batchpay.runs.options import Target
from batchpay.runs.paths import month_workbook_path, workbook_path

CSV_COLUMNS = (
    "run_id",
    "env",
    "kind",
    "dry_run",
    "row",
    "attempt",
    "reference",
    "payee_name",
    "payee_email",
    "payee_account",
    "amount",
    "amount_minor",
    "currency",
    "source_account",
    "status",
    "status_class",
    "doku_status",
    "payout_link_id",
    "payout_link_url",
    "account_id",
    "payout_id",
    "transfer_id",
    "expired_date",
    "request_id",
    "code",
    "message",
    "sends",
    "last_seen_at",
)
_FORMULA_TRIGGERS = ("=", "+", "-", "@", "\t", "\r")


def report_runs(
    target: Target, *, run_id: str | None = None, month: str | None = None
) -> list[tuple[RunRecord, list[RowRecord]]]:
    """The runs a report covers (one, or every run of ``month``) with their lean rows."""
    journal = _journal(target, run_id, month)
    records = [journal.run(run_id)] if run_id is not None else journal.runs_for_month(str(month))
    return [(run, journal.rows(run.run_id, data=False)) for run in records]


def export_csv(
    target: Target,
    *,
    run_id: str | None = None,
    month: str | None = None,
    output: Path | None = None,
) -> Path:
    """Write the CSV of one run (default beside its workbook, ``.csv``) or of every run of
    ``month`` (default ``reports/<YYYY-MM>-reconciliation.csv``); return its path."""
    journal = _journal(target, run_id, month)
    if run_id is not None:
        run = journal.run(run_id)
        runs = [run]
        path = output or workbook_path(run).with_suffix(".csv")
    else:
        runs = journal.runs_for_month(str(month))
        path = output or month_workbook_path(str(month)).with_suffix(".csv")
    return _write_atomic(Path(path), _lines(journal, runs))


def _journal(target: Target, run_id: str | None, month: str | None) -> Journal:
    if (run_id is None) == (month is None):
        raise UsageError(
            "give a RUN_ID or --month YYYY-MM (one of them)",
            hint="e.g. `batchpay report 20261101-090000-ab12 --format csv` or "
            "`batchpay report --month 2026-11 --format csv`",
        )
    settings = load_settings(dotenv_path=target.env_file, require_credentials=False)
    return open_journal_for(settings, read_only=True)


def _lines(journal: Journal, runs: list[RunRecord]) -> Iterator[list[str]]:
    yield list(CSV_COLUMNS)
    for run in runs:
        for row in journal.iter_rows(run.run_id, data=True, body=False):
            yield [_safe(v) for v in csv_row(run, row)]


def csv_row(run: RunRecord, row: RowRecord) -> list[str]:
    """One payee row, in :data:`CSV_COLUMNS` order."""
    n, ids = row.normalised, row.doku_ids
    bank = " ".join(p for p in (n.get("bank_code"), n.get("bank_account_number")) if p)
    amount = row.amount_minor
    return [
        run.run_id,
        run.env,
        run.kind,
        "true" if run.dry_run else "false",
        str(row.row_number),
        str(row.attempt),
        row.reference,
        n.get("receiver_name") or n.get("bank_account_name") or n.get("name") or "",
        n.get("receiver_email") or n.get("email") or "",
        bank or n.get("destination") or "",
        _amount(amount),
        "" if amount is None else str(amount),
        row.currency,
        row.source_account or "",
        row.state,
        str(classify(row.state)),
        row.doku_status or "",
        ids.get("payout_link_id", ""),
        ids.get("payout_link_url", ""),
        ids.get("account_id", ""),
        ids.get("payout_id", ""),
        ids.get("transfer_id", ""),
        ids.get("expired_date", ""),
        row.request_id,
        row.code or "",
        row.message or "",
        str(row.sends),
        _iso(row.last_seen_at),
    ]


def _amount(minor: int | None) -> str:
    """Plain decimal text, as a sheet writes it: ``1500000``, ``2500.50`` (never a float)."""
    if minor is None:
        return ""
    return str(minor // 100) if minor % 100 == 0 else str(minor_to_decimal(minor))


def _safe(value: str) -> str:
    """A leading apostrophe on text a spreadsheet would read as a formula."""
    if value.startswith(_FORMULA_TRIGGERS) and not _is_number(value):
        return "'" + value
    return value


def _is_number(value: str) -> bool:
    try:
        int(value)
    except ValueError:
        return False
    return True


def _iso(text: str | None) -> str:
    if not text:
        return ""
    moment = datetime.fromisoformat(text)
    return moment.isoformat() if moment.tzinfo else f"{text}+00:00"


def _write_atomic(path: Path, lines: Iterator[list[str]]) -> Path:
    """Write the CSV to a private temp file beside ``path``, then move it into place."""
    directory = path.parent if str(path.parent) else Path(".")
    directory.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=directory)
    try:
        with os.fdopen(fd, "w", encoding="utf-8", newline="") as fh:  # mkstemp: 0600
            csv.writer(fh).writerows(lines)
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
    return path
