"""CLI command ``report``: the reconciliation workbook of a run or of a month.

Thin: one :func:`batchpay.runs.service.report` call (no credentials needed: nothing is
sent; the journal is read only), then print where the workbook is.
"""

from __future__ import annotations

import re
from pathlib import Path

import click

_MONTH = re.compile(r"\d{4}-(0[1-9]|1[0-2])")


def _month(ctx: click.Context, param: click.Parameter, value: str | None) -> str | None:
    if value is not None and not _MONTH.fullmatch(value):
        raise click.BadParameter(f"{value!r} is not YYYY-MM (e.g. 2026-11)")
    return value


@click.command("report")
@click.argument("run_id", required=False)
@click.option(
    "--month",
    callback=_month,
    metavar="YYYY-MM",
    help="Every run of this month (Jakarta time) in one workbook.",
)
@click.option(
    "-o",
    "--output",
    type=click.Path(dir_okay=False, path_type=Path),
    help="Where to write the workbook (default: the run's own workbook, "
    "reports/<sheet-stem>-<run id>.xlsx; reports/<YYYY-MM>-reconciliation.xlsx "
    "for a month).",
)
@click.option(
    "--env-file",
    type=click.Path(dir_okay=False),
    help="Read settings from this .env file (default ./.env).",
)
def report(
    run_id: str | None, month: str | None, output: Path | None, env_file: str | None
) -> None:
    """Write the reconciliation workbook of one run, or of every run of a month.

    Sheets: Summary (totals sent, confirmed paid, outstanding, failed), Rows, Exceptions
    (every row not paid, with what to do next) and Events (the audit trail). Totals come
    from the journal; UNKNOWN rows are never counted as paid. Nothing is sent to DOKU.

    Example: batchpay report 20261101-0900-ab12 -o november-bonus.xlsx
    """
    from batchpay.config import redact
    from batchpay.runs import service
    from batchpay.runs.options import Target

    path = service.report(Target(env_file=env_file), run_id=run_id, month=month, output=output)
    click.echo(redact(f"Reconciliation workbook: {path}"))


def register(group: click.Group) -> None:
    """Add this module's commands to the top-level group."""
    group.add_command(report)
