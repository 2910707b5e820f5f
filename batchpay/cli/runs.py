"""CLI commands that send: ``run``, ``resume``, ``retry-failed`` (``status`` and ``runs`` are
in :mod:`batchpay.cli.follow`).

Each parses its options, makes one :mod:`batchpay.runs.service` call and renders the result.
Exit codes follow :mod:`batchpay.cli.render` (0 paid or links progressing, 1 anything not
finished, 130 Ctrl-C, 143 SIGTERM, 129 SIGHUP) and :func:`batchpay.cli.main` (2 usage/input,
3 config/auth, 4 journal).
"""

from __future__ import annotations

import contextlib
from dataclasses import asdict
from pathlib import Path
from typing import Any

import click

from batchpay.cli.common import (
    ask,
    finish,
    json_option,
    sending,
    sending_options,
    settings_options,
    sheet_choice,
    sheet_options,
    target,
)
from batchpay.kinds import KINDS

# --- run ----------------------------------------------------------------------------------


@click.command("run")
@click.argument("sheet", type=click.Path(path_type=Path, dir_okay=False))
@click.option(
    "--kind",
    type=click.Choice(list(KINDS)),
    default=None,
    help="Kind of sheet; detected from the header row when omitted.",
)
@click.option(
    "--sheet", "sheet_name", default=None, metavar="NAME", help="Worksheet to read (XLSX)."
)
@click.option(
    "--map",
    "maps",
    multiple=True,
    metavar='"HEADER=FIELD"',
    help="Map a header batchpay does not know to a field; repeatable.",
)
@click.option(
    "--amount-format",
    type=click.Choice(["id", "en"]),
    default=None,
    help="How the sheet writes amounts (id = 1.500.000,00, en = 1,500,000.00).",
)
@click.option(
    "--env",
    type=click.Choice(["emulator", "sandbox", "production"]),
    default=None,
    help="Override BATCHPAY_ENV (default emulator).",
)
@settings_options
@click.option(
    "--dry-run", is_flag=True, help="Validate, plan, build and sign every request; send nothing."
)
@sending_options
@click.option("--yes", is_flag=True, help="Do not ask (production also needs --expect-total).")
@click.option(
    "--expect-total",
    metavar="AMOUNT",
    default=None,
    help="Stop unless the sheet's total is exactly this.",
)
@click.option(
    "--allow-repeat",
    is_flag=True,
    help="Send references an earlier run already used (you pay them again).",
)
@sheet_options
@json_option
@click.pass_context
def run_cmd(
    ctx: click.Context,
    sheet: Path,
    kind: str | None,
    sheet_name: str | None,
    maps: tuple[str, ...],
    amount_format: str | None,
    env: str | None,
    env_file: str | None,
    base_url: str | None,
    dry_run: bool,
    concurrency: int,
    rate: float | None,
    report_path: Path | None,
    quiet: bool,
    yes: bool,
    expect_total: str | None,
    allow_repeat: bool,
    sets: tuple[str, ...],
    profile_path: Path | None,
    no_profile: bool,
    as_json: bool,
) -> None:
    """Pay every row of SHEET once, through DOKU, and write the reconciliation workbook.

    Validates first (an invalid sheet stops with the validation report, nothing sent),
    prints the plan, checks Sub Account balances, refuses references an earlier run already
    sent, then sends with bounded concurrency, journaling every row before it goes on the
    wire. Ctrl-C stops cleanly; `batchpay resume RUN_ID` continues.

    Example: batchpay run samples/bonus-payout-link.csv --env emulator
    """
    from batchpay.cli.progress import CliProgress, echo
    from batchpay.cli.signals import StopRequest
    from batchpay.runs import service
    from batchpay.runs.options import RunOptions

    read, profile = sheet_choice(
        profile_path, no_profile, kind=kind, sheet=sheet_name, maps=maps,
        amount_format=amount_format, sets=sets,
    )  # fmt: skip
    options = RunOptions(
        target=target(env, base_url, env_file), sending=sending(concurrency, rate, report_path),
        **asdict(read), profile=profile, dry_run=dry_run, allow_repeat=allow_repeat, yes=yes,
        expect_total=expect_total,
    )  # fmt: skip
    prepared = service.prepare(sheet, options)
    if not prepared.valid:
        _invalid(ctx, prepared.validation)
    if profile is not None and prepared.validation is not None:
        echo([f"profile {profile.path} [{prepared.validation.table.kind.name}]"])
    stop = StopRequest()
    with contextlib.ExitStack() as stack:
        progress = CliProgress(stack, stop, quiet=quiet, dry_run=dry_run)
        result = service.start(prepared, confirm=ask, progress=progress, stop=stop)
    finish(ctx, result, stop)


def _invalid(ctx: click.Context, result: Any) -> None:
    """Invalid sheet: the validation report and a short list; no run is created (a run of
    INVALID rows would look like a payment run — docs/safety.md §8: nothing is sent)."""
    import shutil

    from batchpay.cli import jsonout
    from batchpay.cli.progress import echo
    from batchpay.cli.sheets import summary_lines
    from batchpay.workbook.validation import write_validation_report

    report: Path | None = None
    try:
        report = write_validation_report(result)
    except OSError as exc:
        click.echo(f"warning: could not write the validation report: {exc}", err=True)
    said = "Nothing was sent and no run was created: fix the sheet and run again."
    if jsonout.enabled():
        jsonout.emit(
            jsonout.document(
                "run",
                valid=False,
                run=None,
                exit_code=1,
                message=said,
                validation_report=None if report is None else str(report),
                validation=result.to_dict(),
            )
        )
        ctx.exit(1)
    width = min(max(shutil.get_terminal_size((120, 24)).columns, 100), 160)
    echo(summary_lines(result, report, width))
    click.echo(said)
    ctx.exit(1)


# --- resume -------------------------------------------------------------------------------


@click.command("resume")
@click.argument("run_id")
@click.option(
    "--input",
    "input_path",
    type=click.Path(path_type=Path, dir_okay=False),
    default=None,
    help="The run's input file, if it moved (checked by SHA-256).",
)
@settings_options
@sending_options
@json_option
@click.pass_context
def resume_cmd(
    ctx: click.Context,
    run_id: str,
    input_path: Path | None,
    env_file: str | None,
    base_url: str | None,
    concurrency: int,
    rate: float | None,
    report_path: Path | None,
    quiet: bool,
    as_json: bool,
) -> None:
    """Continue RUN_ID after a crash, Ctrl-C or network fault.

    Refuses if the input file changed. PLANNED rows are sent; rows left SENDING or UNKNOWN
    are resolved first (Payout Link: status check by reference; Sub Account: the same
    Request-Id and bytes, which DOKU answers with the original outcome). A finished run
    sends nothing.

    Example: batchpay resume 20261121-054512-ab12
    """
    from batchpay.cli.progress import CliProgress
    from batchpay.cli.signals import StopRequest
    from batchpay.runs import service
    from batchpay.runs.options import ResumeOptions

    options = ResumeOptions(
        target=target(None, base_url, env_file),
        sending=sending(concurrency, rate, report_path),
        input_path=input_path,
    )
    stop = StopRequest()
    with contextlib.ExitStack() as stack:
        progress = CliProgress(stack, stop, quiet=quiet, banner_on_open=True)
        result = service.resume(run_id, options, progress=progress, stop=stop)
    finish(ctx, result, stop, command="resume")


# --- retry-failed -------------------------------------------------------------------------


@click.command("retry-failed")
@click.argument("run_id")
@click.option(
    "--yes",
    is_flag=True,
    help="Do not ask for confirmation (production also needs --expect-total).",
)
@click.option(
    "--expect-total",
    metavar="AMOUNT",
    default=None,
    help="Stop unless the retried rows total exactly this.",
)
@settings_options
@sending_options
@click.pass_context
def retry_failed_cmd(
    ctx: click.Context,
    run_id: str,
    yes: bool,
    expect_total: str | None,
    env_file: str | None,
    base_url: str | None,
    concurrency: int,
    rate: float | None,
    report_path: Path | None,
    quiet: bool,
) -> None:
    """Send again, as a new linked run, the rows of RUN_ID that ended FAILED or EXPIRED, or
    REJECTED by an answer proving nothing was executed — with new Request-Ids (attempt + 1).
    UNKNOWN rows are never retried: resume them instead. A DUPLICATE_REFERENCE (DOKU already
    holds the reference) or a status changed after completion is never retried. Payout Link
    rows get the reference ``<original>-R<attempt>`` because DOKU
    keeps a reference_id unique for ever.

    Example: batchpay retry-failed 20261121-054512-ab12
    """
    from batchpay.cli.progress import CliProgress
    from batchpay.cli.signals import StopRequest
    from batchpay.runs import service
    from batchpay.runs.options import RetryOptions

    options = RetryOptions(
        target=target(None, base_url, env_file),
        sending=sending(concurrency, rate, report_path),
        yes=yes,
        expect_total=expect_total,
    )
    stop = StopRequest()
    with contextlib.ExitStack() as stack:
        progress = CliProgress(stack, stop, quiet=quiet)
        outcome = service.retry_failed(run_id, options, confirm=ask, progress=progress, stop=stop)
    if outcome.result is None:
        click.echo(
            f"Run {run_id} has no row that can be retried (FAILED, EXPIRED, or "
            "REJECTED by an answer proving nothing was executed)."
        )
        ctx.exit(0 if not outcome.retry.skipped else 1)
    finish(ctx, outcome.result, stop, command="retry-failed")


def register(group: click.Group) -> None:
    """Add this module's commands to the top-level group."""
    for command in (run_cmd, resume_cmd, retry_failed_cmd):
        group.add_command(command)
