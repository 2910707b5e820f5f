"""CLI commands that follow runs without sending: ``status`` and ``runs``."""

from __future__ import annotations

import contextlib
from pathlib import Path

import click

from batchpay.cli.common import finish, json_option, settings_options, target, xlsx_path
from batchpay.cli.reports import month_option

# Status look-ups move no money and wait on DOKU, not on the journal: more of them may be in
# flight than payments (the one engine pool runs them either way).
STATUS_CONCURRENCY = 8
MAX_STATUS_CONCURRENCY = 64

# --- status -------------------------------------------------------------------------------


@click.command("status")
@click.argument("run_id")
@click.option("--watch", is_flag=True, help="Keep refreshing until Ctrl-C or all links end.")
@click.option(
    "--until-final",
    is_flag=True,
    help="Refresh until every link is COMPLETED/FAILED/EXPIRED (or --timeout).",
)
@click.option(
    "--timeout",
    type=click.FloatRange(min=0),
    default=600.0,
    show_default=True,
    help="Seconds --until-final waits at most.",
)
@click.option(
    "--interval",
    type=click.FloatRange(min=0.1),
    default=5.0,
    show_default=True,
    help="Seconds between refreshes.",
)
@click.option(
    "--report",
    "report_path",
    type=click.Path(dir_okay=False, path_type=Path),
    default=None,
    callback=xlsx_path,
    help="Where to write the workbook, a .xlsx file (default: the run's).",
)
@click.option(
    "--concurrency",
    type=click.IntRange(1, MAX_STATUS_CONCURRENCY),
    default=STATUS_CONCURRENCY,
    show_default=True,
    help=f"Status look-ups in flight at once (1–{MAX_STATUS_CONCURRENCY}).",
)
@click.option(
    "--recheck-final",
    is_flag=True,
    help="Also ask DOKU about links already COMPLETED/FAILED/EXPIRED (banks "
    "reverse); a change is journaled and shown as 'changed after completion'.",
)
@settings_options
@json_option
@click.pass_context
def status_cmd(
    ctx: click.Context,
    run_id: str,
    watch: bool,
    until_final: bool,
    timeout: float,
    interval: float,
    report_path: Path | None,
    concurrency: int,
    recheck_final: bool,
    env_file: str | None,
    base_url: str | None,
    as_json: bool,
) -> None:
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

    options = FollowOptions(
        target=target(None, base_url, env_file),
        report_path=report_path,
        watch=watch,
        until_final=until_final,
        timeout=timeout,
        interval=interval,
        recheck_final=recheck_final,
        concurrency=concurrency,
    )
    stop = StopRequest()
    with contextlib.ExitStack() as stack:
        progress = CliProgress(stack, stop, follow=True)
        result = service.follow(run_id, options, progress=progress, stop=stop)
    if until_final and not result.settled:
        click.echo(f"Still not final after {timeout:g} s.", err=True)
        finish(ctx, result, stop, command="status", show_sends=False, force_exit=EXIT_PROBLEMS)
    finish(ctx, result, stop, command="status", show_sends=False)


# --- runs ---------------------------------------------------------------------------------


@click.command("runs")
@click.option(
    "--month",
    default=None,
    callback=month_option,
    metavar="YYYY-MM",
    help="Only runs of this month (Jakarta time), oldest first.",
)
@click.option(
    "--limit",
    type=click.IntRange(min=1),
    default=30,
    show_default=True,
    help="Show at most this many runs, newest first (ignored with --month).",
)
@click.option(
    "--env-file",
    type=click.Path(dir_okay=False),
    help="Read settings from this .env file (default ./.env).",
)
@json_option
def runs_cmd(month: str | None, limit: int, env_file: str | None, as_json: bool) -> None:
    """List runs: id, date, kind, environment, file, rows, and amounts by status.

    Reads the journal only (nothing is sent; works on a read-only journal).

    Example: batchpay runs --month 2026-11
    """
    from batchpay.cli import jsonout
    from batchpay.cli.progress import echo
    from batchpay.cli.render import runs_lines
    from batchpay.runs import service

    listed = service.list_runs(target(None, None, env_file), month=month, limit=limit)
    if as_json:
        jsonout.emit(
            jsonout.document(
                "runs",
                month=month,
                runs=[
                    {**jsonout.run_record(run), "totals": jsonout.totals(rows)}
                    for run, rows in listed
                ],
            )
        )
        return
    if not listed:
        click.echo("No runs yet." if not month else f"No runs in {month}.")
        return
    echo(runs_lines(listed))


def register(group: click.Group) -> None:
    """Add this module's commands to the top-level group."""
    for command in (status_cmd, runs_cmd):
        group.add_command(command)
