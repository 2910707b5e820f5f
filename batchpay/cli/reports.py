"""CLI command ``report``: the reconciliation workbook of a run or of a month.

Thin: read settings (no credentials needed: nothing is sent), open the journal, call
:mod:`batchpay.workbook.reconciliation`, print where the workbook is.
"""

from __future__ import annotations

import re
from pathlib import Path

import click

from batchpay.errors import UsageError

_MONTH = re.compile(r"\d{4}-(0[1-9]|1[0-2])")


def _month(ctx: click.Context, param: click.Parameter, value: str | None) -> str | None:
    if value is not None and not _MONTH.fullmatch(value):
        raise click.BadParameter(f"{value!r} is not YYYY-MM (e.g. 2026-11)")
    return value


@click.command("report")
@click.argument("run_id", required=False)
@click.option("--month", callback=_month, metavar="YYYY-MM",
              help="Every run of this month (Jakarta time) in one workbook.")
@click.option("-o", "--output", type=click.Path(dir_okay=False, path_type=Path),
              help="Where to write the workbook (default: the run's own workbook, "
                   "reports/<sheet-stem>-<run id>.xlsx; reports/<YYYY-MM>-reconciliation.xlsx "
                   "for a month).")
@click.option("--env-file", type=click.Path(dir_okay=False),
              help="Read settings from this .env file (default ./.env).")
def report(run_id: str | None, month: str | None, output: Path | None,
           env_file: str | None) -> None:
    """Write the reconciliation workbook of one run, or of every run of a month.

    Sheets: Summary (totals sent, confirmed paid, outstanding, failed), Rows, Exceptions
    (every row not paid, with what to do next) and Events (the audit trail). Totals come
    from the journal; UNKNOWN rows are never counted as paid. Nothing is sent to DOKU.

    Example: batchpay report 20261101-0900-ab12 -o november-bonus.xlsx
    """
    if (run_id is None) == (month is None):
        raise UsageError("give a RUN_ID or --month YYYY-MM (one of them)",
                         hint="e.g. `batchpay report 20261101-0900-ab12` or "
                              "`batchpay report --month 2026-11`")
    from batchpay.config import load_settings, redact
    from batchpay.ledger import Ledger
    from batchpay.workbook.reconciliation import write_month_report, write_run_report

    settings = load_settings(dotenv_path=env_file, require_credentials=False)
    # Read-only: a report never writes the journal, so it works on a read-only journal; a
    # missing or empty one is JournalMissing (exit 4), and nothing is created.
    ledger = Ledger(settings.ledger_path, read_only=True)
    if month is not None:
        path = write_month_report(ledger, month, output)
    else:
        from batchpay.runner import workbook_path

        # Same file the run itself writes (reports/<sheet-stem>-<run id>.xlsx), so the
        # accountant never has two diverging workbooks for one run.
        target = output or workbook_path(ledger.run(str(run_id)))
        path = write_run_report(ledger, str(run_id), target)
    click.echo(redact(f"Reconciliation workbook: {path}"))


def register(group: click.Group) -> None:
    """Add this module's commands to the top-level group."""
    group.add_command(report)
