"""CLI command ``report``: the reconciliation workbook (or CSV) of a run or of a month.

Thin: one :mod:`batchpay.runs.service` call (no credentials needed: nothing is sent; the
journal is read only), then print where the file is — or, with ``--json``, one document.
The format comes from ``--format``, else from ``-o``'s suffix; a suffix that contradicts
the format is refused, so XLSX bytes never land in a file named ``.csv``.
"""

from __future__ import annotations

import re
from pathlib import Path

import click

from batchpay.cli.common import json_option

_MONTH = re.compile(r"\d{4}-(0[1-9]|1[0-2])")
FORMATS = {".xlsx": "xlsx", ".csv": "csv"}


def month_option(ctx: click.Context, param: click.Parameter, value: str | None) -> str | None:
    if value is not None and not _MONTH.fullmatch(value):
        raise click.BadParameter(f"{value!r} is not YYYY-MM (e.g. 2026-11)")
    return value


def output_format(given: str | None, output: Path | None) -> str:
    """``--format`` if given, else ``-o``'s suffix, else xlsx; a contradiction is an error."""
    suffix = output.suffix.lower() if output is not None else ""
    implied = FORMATS.get(suffix)
    if given is None:
        if output is not None and implied is None:
            raise click.BadParameter(
                f"{str(output)!r} ends in neither .xlsx nor .csv; name it FILE.xlsx (the "
                "workbook) or FILE.csv (one row per payee), or give --format",
                param_hint="-o/--output",
            )
        return implied or "xlsx"
    if output is not None and implied is not None and implied != given:
        raise click.BadParameter(
            f"{str(output)!r} ends in {suffix} but --format is {given}: {given.upper()} "
            f"content under a {suffix} name would not open; name it FILE.{given}, or use "
            f"--format {implied}",
            param_hint="-o/--output",
        )
    if output is not None and implied is None:
        raise click.BadParameter(
            f"{str(output)!r} does not end in .{given}; name it FILE.{given}",
            param_hint="-o/--output",
        )
    return given


@click.command("report")
@click.argument("run_id", required=False)
@click.option(
    "--month",
    callback=month_option,
    metavar="YYYY-MM",
    help="Every run of this month (Jakarta time) in one file.",
)
@click.option(
    "--format",
    "fmt",
    type=click.Choice(["xlsx", "csv"]),
    default=None,
    help="xlsx: the reconciliation workbook; csv: one row per payee with its status and "
    "DOKU ids. Default: from -o's suffix, else xlsx.",
)
@click.option(
    "-o",
    "--output",
    type=click.Path(dir_okay=False, path_type=Path),
    help="Where to write it (.xlsx or .csv; default: the run's own workbook, "
    "reports/<sheet-stem>-<run id>.xlsx, or .csv beside it; "
    "reports/<YYYY-MM>-reconciliation.xlsx for a month).",
)
@click.option(
    "--env-file",
    type=click.Path(dir_okay=False),
    help="Read settings from this .env file (default ./.env).",
)
@json_option
def report(
    run_id: str | None,
    month: str | None,
    fmt: str | None,
    output: Path | None,
    env_file: str | None,
    as_json: bool,
) -> None:
    """Write the reconciliation workbook (or CSV) of one run, or of every run of a month.

    Sheets: Summary (totals sent, confirmed paid, outstanding, failed), Rows, Exceptions
    (every row not paid, with what to do next) and Events (the audit trail). Totals come
    from the journal; UNKNOWN rows are never counted as paid. Nothing is sent to DOKU.
    --format csv (or -o FILE.csv) writes one row per payee with its status and DOKU ids.

    Example: batchpay report 20261101-090000-ab12 -o november-bonus.xlsx
    """
    from batchpay.cli import jsonout
    from batchpay.config import redact
    from batchpay.runs import service
    from batchpay.runs.options import Target

    chosen = output_format(fmt, output)
    target = Target(env_file=env_file)
    if chosen == "csv":
        path = service.export_csv(target, run_id=run_id, month=month, output=output)
    else:
        path = service.report(target, run_id=run_id, month=month, output=output)
    if not as_json:
        said = "Reconciliation workbook" if chosen == "xlsx" else "CSV (one row per payee)"
        click.echo(redact(f"{said}: {path}"))
        return
    covered = service.report_runs(target, run_id=run_id, month=month)
    jsonout.emit(
        jsonout.document(
            "report",
            format=chosen,
            path=str(path),
            run_id=run_id,
            month=month,
            runs=[
                {**jsonout.run_record(run), "totals": jsonout.totals(rows)} for run, rows in covered
            ],
        )
    )


def register(group: click.Group) -> None:
    """Add this module's commands to the top-level group."""
    group.add_command(report)
