"""``batchpay work RUN_ID``: one more worker on a run, from any machine that points at the
run's journal (README "Several workers"; docs/safety.md §10)."""

from __future__ import annotations

import contextlib
from pathlib import Path
from typing import TYPE_CHECKING

import click

from batchpay.cli.common import MAX_CONCURRENCY, F, finish, sending, settings_options, target

if TYPE_CHECKING:
    from batchpay.runs.workers import WorkerOptions

MAX_WORKERS = 32


def lease_option(func: F) -> F:
    """``--lease SECONDS`` (None: :data:`batchpay.runs.workers.LEASE_SECONDS`, 30 s)."""
    return click.option(
        "--lease",
        type=click.FloatRange(min=1.0),
        default=None,
        help="Seconds a worker's claim on its rows lasts unless renewed (default 30); a "
        "worker that dies leaves its rows to the others after this long.",
    )(func)


def worker_options(lease: float | None) -> WorkerOptions:
    from batchpay.runs.workers import WorkerOptions

    return WorkerOptions() if lease is None else WorkerOptions(lease=lease)


@click.command("work")
@click.argument("run_id")
@settings_options
@click.option(
    "--input",
    "input_path",
    type=click.Path(path_type=Path, dir_okay=False),
    default=None,
    help="The run's input file here, if not where `batchpay run` read it (OPEN runs).",
)
@click.option(
    "--concurrency",
    type=click.IntRange(1, MAX_CONCURRENCY),
    default=4,
    show_default=True,
    help="Requests in flight at once in this worker.",
)
@click.option(
    "--rate",
    type=click.FloatRange(min=0.1),
    default=None,
    help="At most this many requests per second from this worker.",
)
@click.option("--quiet", is_flag=True, help="No progress output.")
@lease_option
@click.pass_context
def work_cmd(
    ctx: click.Context,
    run_id: str,
    env_file: str | None,
    base_url: str | None,
    input_path: Path | None,
    concurrency: int,
    rate: float | None,
    quiet: bool,
    lease: float | None,
) -> None:
    """Work on RUN_ID beside other workers until no row is left for this one.

    Each worker claims rows with a lease; a worker that dies leaves its rows to the others
    once its lease runs out, and they resolve them by DOKU's answer — a status look-up or
    the identical request — never a new Request-Id. An approved run is checked as `send`
    checks it (status, plan digest, approvals) before anything is sent. Write the workbook
    afterwards with `batchpay report RUN_ID`.

    Example: batchpay work 20261205-041500-ab12 --concurrency 8
    """
    from batchpay.cli.progress import CliProgress
    from batchpay.cli.signals import StopRequest
    from batchpay.runs.options import SendOptions
    from batchpay.runs.team import work_run

    options = SendOptions(
        target=target(None, base_url, env_file), sending=sending(concurrency, rate, None)
    )
    stop = StopRequest()
    with contextlib.ExitStack() as stack:
        progress = CliProgress(stack, stop, quiet=quiet, banner_on_open=not quiet)
        result = work_run(
            run_id,
            options,
            worker=worker_options(lease),
            input_path=input_path,
            progress=progress,
            stop=stop,
        )
    finish(ctx, result, stop, command="work")


def register(group: click.Group) -> None:
    """Add this module's command to the top-level group."""
    group.add_command(work_cmd)
