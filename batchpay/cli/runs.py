"""CLI commands for runs: ``run``, ``resume``, ``status``, ``runs``, ``retry-failed``.

Each parses its options, makes one :mod:`batchpay.runs.service` call and renders the result.
Exit codes follow :mod:`batchpay.cli.render` (0 paid or links progressing, 1 anything not
finished, 130 Ctrl-C, 143 SIGTERM, 129 SIGHUP) and :func:`batchpay.cli.main` (2 usage/input,
3 config/auth, 4 journal).
"""

from __future__ import annotations

import contextlib
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, Any, TypeVar

import click

from batchpay.errors import DokuAuthError, DokuUnavailable
from batchpay.kinds import KINDS

if TYPE_CHECKING:
    from batchpay.cli.signals import StopRequest
    from batchpay.runs.execute import RunResult
    from batchpay.runs.options import Sending, Target
    from batchpay.runs.plan import Plan
    from batchpay.runs.service import Question

F = TypeVar("F", bound=Callable[..., Any])
MAX_CONCURRENCY = 32


def _settings_options(func: F) -> F:
    func = click.option("--env-file", type=click.Path(dir_okay=False),
                        help="Read settings from this .env file (default ./.env).")(func)
    func = click.option("--base-url", help="Override BATCHPAY_BASE_URL.")(func)
    return func


def _sending_options(func: F) -> F:
    func = click.option("--quiet", is_flag=True, help="No progress bar.")(func)
    func = click.option("--report", "report_path", type=click.Path(dir_okay=False,
                        path_type=Path), default=None,
                        help="Where to write the reconciliation workbook "
                             "(default reports/<sheet-stem>-<run id>.xlsx).")(func)
    func = click.option("--rate", type=click.FloatRange(min=0.1), default=None,
                        help="At most this many requests per second.")(func)
    func = click.option("--concurrency", type=click.IntRange(1, MAX_CONCURRENCY), default=4,
                        show_default=True, help="Requests in flight at once.")(func)
    return func


def _target(env: str | None, base_url: str | None, env_file: str | None) -> Target:
    from batchpay.runs.options import Target

    return Target(env=env, base_url=base_url, env_file=env_file)


def _sending(concurrency: int, rate: float | None, report_path: Path | None) -> Sending:
    from batchpay.runs.options import Sending

    return Sending(concurrency=concurrency, rate=rate, report_path=report_path)


def _ask(plan: Plan, question: Question) -> Any:
    """The operator's confirmation (the service decides when it is needed)."""
    from batchpay.runs.service import Question

    if question is Question.ROWS:
        return click.prompt(question.value, type=int)
    if question is Question.TOTAL:
        return click.prompt(question.value)
    if not click.confirm(f"Retry {plan.count} row(s)?", default=False):
        raise click.Abort
    return True


def _finish(ctx: click.Context, result: RunResult, stop: StopRequest, *,
            show_sends: bool = True, force_exit: int | None = None) -> None:
    """Workbook warning, one-screen summary, exit code — the common end of every command
    that talked to DOKU."""
    from batchpay.cli.progress import echo
    from batchpay.cli.render import exit_code, summary_lines

    run_id = result.run.run_id
    if result.workbook_error is not None:
        echo([f"warning: could not write the workbook ({result.workbook_error}) — the journal "
              f"is intact; rebuild it with `batchpay report {run_id}`"], err=True)
    halt = result.halt
    echo(["", *summary_lines(result.run, result.rows, workbook=result.workbook,
                             sends=result.sends if show_sends else None,
                             halt_message=halt.message if halt else None)])
    if halt is not None and halt.reason == "auth-failed":
        raise DokuAuthError(f"DOKU refused the credentials; the batch stopped: {halt.message}",
                            hint=f"fix the configuration, then `batchpay resume {run_id}` "
                                 "(unsent rows keep their Request-Ids)")
    if halt is not None and halt.reason == "unreachable":
        raise DokuUnavailable(halt.message, hint=f"check the network, then "
                                                 f"`batchpay resume {run_id}`")
    signal_name = stop.signal_name if stop.is_set() else None
    # SIGTERM/SIGHUP always end with their code; Ctrl-C only when it cut the work short
    # (it is also how `status --watch` normally ends).
    if result.interrupted or signal_name not in (None, "SIGINT"):
        said = ("Interrupted" if signal_name in (None, "SIGINT")
                else f"Stopped by {signal_name}")
        with contextlib.suppress(OSError):  # SIGHUP: the terminal may be gone
            click.echo(f"{said}. Continue with: batchpay resume {run_id}", err=True)
        ctx.exit(exit_code(result.rows, kind=result.run.kind, interrupted=True,
                           signal_name=signal_name or "SIGINT"))
    if force_exit is not None:
        ctx.exit(force_exit)
    ctx.exit(exit_code(result.rows, kind=result.run.kind, dry_run=result.run.dry_run))


# --- run ----------------------------------------------------------------------------------


@click.command("run")
@click.argument("sheet", type=click.Path(path_type=Path, dir_okay=False))
@click.option("--kind", type=click.Choice(list(KINDS)), default=None,
              help="Kind of sheet; detected from the header row when omitted.")
@click.option("--sheet", "sheet_name", default=None, metavar="NAME",
              help="Worksheet to read (XLSX).")
@click.option("--map", "maps", multiple=True, metavar='"HEADER=FIELD"',
              help="Map a header batchpay does not know to a field; repeatable.")
@click.option("--amount-format", type=click.Choice(["id", "en"]), default=None,
              help="How the sheet writes amounts (id = 1.500.000,00, en = 1,500,000.00).")
@click.option("--env", type=click.Choice(["emulator", "sandbox", "production"]), default=None,
              help="Override BATCHPAY_ENV (default emulator).")
@_settings_options
@click.option("--dry-run", is_flag=True,
              help="Validate, plan, build and sign every request; send nothing.")
@_sending_options
@click.option("--yes", is_flag=True, help="Do not ask (production also needs --expect-total).")
@click.option("--expect-total", metavar="AMOUNT", default=None,
              help="Stop unless the sheet's total is exactly this.")
@click.option("--allow-repeat", is_flag=True,
              help="Send references an earlier run already used (you pay them again).")
@click.pass_context
def run_cmd(ctx: click.Context, sheet: Path, kind: str | None, sheet_name: str | None,
            maps: tuple[str, ...], amount_format: str | None, env: str | None,
            env_file: str | None, base_url: str | None, dry_run: bool, concurrency: int,
            rate: float | None, report_path: Path | None, quiet: bool, yes: bool,
            expect_total: str | None, allow_repeat: bool) -> None:
    """Pay every row of SHEET once, through DOKU, and write the reconciliation workbook.

    Validates first (an invalid sheet stops with the validation report, nothing sent),
    prints the plan, checks Sub Account balances, refuses references an earlier run already
    sent, then sends with bounded concurrency, journaling every row before it goes on the
    wire. Ctrl-C stops cleanly; `batchpay resume RUN_ID` continues.

    Example: batchpay run samples/bonus-payout-link.csv --env emulator
    """
    from batchpay.cli.progress import CliProgress
    from batchpay.cli.sheets import parse_mapping
    from batchpay.cli.signals import StopRequest
    from batchpay.runs import service
    from batchpay.runs.options import RunOptions

    options = RunOptions(
        target=_target(env, base_url, env_file),
        sending=_sending(concurrency, rate, report_path), kind=kind, sheet=sheet_name,
        mapping=parse_mapping(maps), amount_format=amount_format,  # type: ignore[arg-type]
        dry_run=dry_run, allow_repeat=allow_repeat, yes=yes, expect_total=expect_total)
    prepared = service.prepare(sheet, options)
    if not prepared.valid:
        _invalid(ctx, prepared.validation)
    stop = StopRequest()
    with contextlib.ExitStack() as stack:
        progress = CliProgress(stack, stop, quiet=quiet, dry_run=dry_run)
        result = service.start(prepared, confirm=_ask, progress=progress, stop=stop)
    _finish(ctx, result, stop)


def _invalid(ctx: click.Context, result: Any) -> None:
    """Invalid sheet: the validation report and a short list; no run is created (a run of
    INVALID rows would look like a payment run — docs/safety.md §8: nothing is sent)."""
    import shutil

    from batchpay.cli.progress import echo
    from batchpay.cli.sheets import summary_lines
    from batchpay.workbook.validation import write_validation_report

    report: Path | None = None
    try:
        report = write_validation_report(result)
    except OSError as exc:
        click.echo(f"warning: could not write the validation report: {exc}", err=True)
    width = min(max(shutil.get_terminal_size((120, 24)).columns, 100), 160)
    echo(summary_lines(result, report, width))
    click.echo("Nothing was sent and no run was created: fix the sheet and run again.")
    ctx.exit(1)


# --- resume -------------------------------------------------------------------------------


@click.command("resume")
@click.argument("run_id")
@click.option("--input", "input_path", type=click.Path(path_type=Path, dir_okay=False),
              default=None, help="The run's input file, if it moved (checked by SHA-256).")
@_settings_options
@_sending_options
@click.pass_context
def resume_cmd(ctx: click.Context, run_id: str, input_path: Path | None, env_file: str | None,
               base_url: str | None, concurrency: int, rate: float | None,
               report_path: Path | None, quiet: bool) -> None:
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

    options = ResumeOptions(target=_target(None, base_url, env_file),
                            sending=_sending(concurrency, rate, report_path),
                            input_path=input_path)
    stop = StopRequest()
    with contextlib.ExitStack() as stack:
        progress = CliProgress(stack, stop, quiet=quiet, banner_on_open=True)
        result = service.resume(run_id, options, progress=progress, stop=stop)
    _finish(ctx, result, stop)


# --- status -------------------------------------------------------------------------------


@click.command("status")
@click.argument("run_id")
@click.option("--watch", is_flag=True, help="Keep refreshing until Ctrl-C or all links end.")
@click.option("--until-final", is_flag=True,
              help="Refresh until every link is COMPLETED/FAILED/EXPIRED (or --timeout).")
@click.option("--timeout", type=click.FloatRange(min=0), default=600.0, show_default=True,
              help="Seconds --until-final waits at most.")
@click.option("--interval", type=click.FloatRange(min=0.1), default=5.0, show_default=True,
              help="Seconds between refreshes.")
@click.option("--report", "report_path", type=click.Path(dir_okay=False, path_type=Path),
              default=None, help="Where to write the workbook (default: the run's).")
@click.option("--recheck-final", is_flag=True,
              help="Also ask DOKU about links already COMPLETED/FAILED/EXPIRED (banks "
                   "reverse); a change is journaled and shown as 'changed after completion'.")
@_settings_options
@click.pass_context
def status_cmd(ctx: click.Context, run_id: str, watch: bool, until_final: bool,
               timeout: float, interval: float, report_path: Path | None,
               recheck_final: bool, env_file: str | None, base_url: str | None) -> None:
    """Refresh the Payout Link statuses of RUN_ID from DOKU and rewrite its workbook.

    Only looks up (never sends a payment). Exit 0 when every row is paid or, for links,
    progressing; with --until-final, 0 only when every row is successfully terminal.
    Final rows are asked again only with --recheck-final (once, on the first refresh).

    Example: batchpay status 20261121-054512-ab12 --until-final --timeout 300
    """
    from batchpay.cli.progress import CliProgress
    from batchpay.cli.render import EXIT_PROBLEMS
    from batchpay.cli.signals import StopRequest
    from batchpay.runs import service
    from batchpay.runs.options import FollowOptions

    options = FollowOptions(target=_target(None, base_url, env_file), report_path=report_path,
                            watch=watch, until_final=until_final, timeout=timeout,
                            interval=interval, recheck_final=recheck_final)
    stop = StopRequest()
    with contextlib.ExitStack() as stack:
        progress = CliProgress(stack, stop, abort_names_run=False)
        result = service.follow(run_id, options, progress=progress, stop=stop)
    if until_final and not result.settled:
        click.echo(f"Still not final after {timeout:g} s.", err=True)
        _finish(ctx, result, stop, show_sends=False, force_exit=EXIT_PROBLEMS)
    _finish(ctx, result, stop, show_sends=False)


# --- runs ---------------------------------------------------------------------------------


@click.command("runs")
@click.option("--month", default=None, metavar="YYYY-MM", help="Only runs of this month (WIB).")
@click.option("--limit", type=click.IntRange(min=1), default=30, show_default=True)
@_settings_options
def runs_cmd(month: str | None, limit: int, env_file: str | None, base_url: str | None) -> None:
    """List runs: id, date, kind, environment, file, rows, and amounts by status.

    Example: batchpay runs --month 2026-11
    """
    from batchpay.cli.progress import echo
    from batchpay.cli.render import runs_lines
    from batchpay.runs import service

    listed = service.list_runs(_target(None, base_url, env_file), month=month, limit=limit)
    if not listed:
        click.echo("No runs yet." if not month else f"No runs in {month}.")
        return
    echo(runs_lines(listed))


# --- retry-failed -------------------------------------------------------------------------


@click.command("retry-failed")
@click.argument("run_id")
@click.option("--yes", is_flag=True, help="Do not ask for confirmation "
                                          "(production also needs --expect-total).")
@click.option("--expect-total", metavar="AMOUNT", default=None,
              help="Stop unless the retried rows total exactly this.")
@_settings_options
@_sending_options
@click.pass_context
def retry_failed_cmd(ctx: click.Context, run_id: str, yes: bool, expect_total: str | None,
                     env_file: str | None, base_url: str | None, concurrency: int,
                     rate: float | None, report_path: Path | None, quiet: bool) -> None:
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

    options = RetryOptions(target=_target(None, base_url, env_file),
                           sending=_sending(concurrency, rate, report_path), yes=yes,
                           expect_total=expect_total)
    stop = StopRequest()
    with contextlib.ExitStack() as stack:
        progress = CliProgress(stack, stop, quiet=quiet, abort_names_run=False)
        outcome = service.retry_failed(run_id, options, confirm=_ask, progress=progress,
                                       stop=stop)
    if outcome.result is None:
        click.echo(f"Run {run_id} has no row that can be retried (FAILED, EXPIRED, or "
                   "REJECTED by an answer proving nothing was executed).")
        ctx.exit(0 if not outcome.retry.skipped else 1)
    _finish(ctx, outcome.result, stop)


def register(group: click.Group) -> None:
    """Add this module's commands to the top-level group."""
    for command in (run_cmd, resume_cmd, status_cmd, runs_cmd, retry_failed_cmd):
        group.add_command(command)
