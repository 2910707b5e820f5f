"""Maker–checker commands: ``submit``, ``approve``, ``reject``, ``send`` (README "Approvals").

Each parses its options, makes one :mod:`batchpay.runs.approval` call and renders the result;
refusals are errors (:mod:`batchpay.errors`) that :func:`batchpay.cli.main` prints and maps to
an exit code, and they change nothing.
"""

from __future__ import annotations

import contextlib
from dataclasses import asdict
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any

import click

from batchpay.cli.common import (
    finish,
    sending,
    sending_options,
    settings_options,
    sheet_choice,
    sheet_options,
    target,
)
from batchpay.cli.work import MAX_WORKERS, lease_option, worker_options
from batchpay.kinds import KINDS

if TYPE_CHECKING:
    from batchpay.journal import RowRecord
    from batchpay.policy import ApprovalPolicy
    from batchpay.runs.approval import PlanView, Submitted

SHOWN_ROWS = 30
_PAYEE_FIELDS = ("receiver_name", "bank_account_name", "destination", "name", "email")


def when(moment: str | datetime | None) -> str:
    """``2026-12-05 12:03 WIB (05:03 UTC)``."""
    from batchpay.journal import WIB

    if moment is None:
        return "never"
    at = datetime.fromisoformat(moment) if isinstance(moment, str) else moment
    return f"{at.astimezone(WIB):%Y-%m-%d %H:%M} WIB ({at.astimezone(UTC):%H:%M} UTC)"


# --- submit ---------------------------------------------------------------------------------


@click.command("submit")
@click.argument("sheet", type=click.Path(path_type=Path, dir_okay=False))
@click.option("--kind", type=click.Choice(list(KINDS)), default=None, help="Kind of sheet.")
@click.option("--sheet", "sheet_name", default=None, metavar="NAME", help="Worksheet (XLSX).")
@click.option(
    "--map", "maps", multiple=True, metavar='"HEADER=FIELD"', help="Map a header; repeatable."
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
@sending_options
@click.option("--expect-total", metavar="AMOUNT", default=None, help="Stop unless the total is.")
@click.option("--allow-repeat", is_flag=True, help="Submit references an earlier run already used.")
@sheet_options
@click.pass_context
def submit_cmd(
    ctx: click.Context,
    sheet: Path,
    kind: str | None,
    sheet_name: str | None,
    maps: tuple[str, ...],
    amount_format: str | None,
    env: str | None,
    env_file: str | None,
    base_url: str | None,
    concurrency: int,
    rate: float | None,
    report_path: Path | None,
    quiet: bool,
    expect_total: str | None,
    allow_repeat: bool,
    sets: tuple[str, ...],
    profile_path: Path | None,
    no_profile: bool,
) -> None:
    """Prepare SHEET for someone else to approve and send; nothing is paid.

    Takes the same options as `run`: validates, plans, checks repeats, balances and the
    expected total, journals the run AWAITING_APPROVAL with a SHA-256 digest of every
    request, and writes the plan workbook. Another person approves it with `batchpay
    approve RUN_ID`; then `batchpay send RUN_ID` pays it.

    Example: batchpay submit november-bonus.xlsx
    """
    from batchpay.cli.progress import CliProgress
    from batchpay.cli.signals import StopRequest
    from batchpay.runs import approval
    from batchpay.runs.options import RunOptions

    read, profile = sheet_choice(
        profile_path, no_profile, kind=kind, sheet=sheet_name, maps=maps,
        amount_format=amount_format, sets=sets,
    )  # fmt: skip
    options = RunOptions(
        target=target(env, base_url, env_file), sending=sending(concurrency, rate, report_path),
        **asdict(read), profile=profile, allow_repeat=allow_repeat, expect_total=expect_total,
    )  # fmt: skip
    with contextlib.ExitStack() as stack:
        progress = CliProgress(stack, StopRequest(), quiet=quiet)
        submitted = approval.submit(sheet, options, progress=progress)
    if not submitted.valid:
        _invalid(ctx, submitted)
    _echo(_submitted_lines(submitted))
    ctx.exit(0)


def _submitted_lines(submitted: Submitted) -> list[str]:
    from batchpay.money import format_minor

    run, result = submitted.run, submitted.result
    assert run is not None and result is not None
    rows = result.rows
    totals: dict[str, int] = {}
    for r in rows:
        if r.amount_minor is not None:
            totals[r.currency] = totals.get(r.currency, 0) + r.amount_minor
    lines = [
        "",
        f"Submitted for approval: run {run.run_id} — {len(rows)} rows, "
        + (", ".join(format_minor(m, c) for c, m in sorted(totals.items())) or "no amounts"),
        f"  prepared by   {run.operator} at {when(run.created_at)}",
        f"  plan digest   {run.plan_digest}",
        f"  approvals     {submitted.needed} needed (never {run.operator})",
        f"  expires       {when(run.expires_at)} unless approved",
    ]
    if result.workbook is not None:
        lines.append(f"Plan workbook: {result.workbook}")
    elif result.workbook_error:
        lines.append(f"warning: could not write the plan workbook ({result.workbook_error})")
    lines.append(
        f"Next: someone other than {run.operator} runs `batchpay approve {run.run_id}`; "
        f"then `batchpay send {run.run_id}` pays it. Nothing was sent."
    )
    return lines


def _invalid(ctx: click.Context, submitted: Submitted) -> None:
    """Invalid sheet: its summary and validation report; nothing was journaled."""
    import shutil

    from batchpay.cli.sheets import summary_lines
    from batchpay.workbook.validation import write_validation_report

    result = submitted.prepared.validation
    assert result is not None  # an invalid sheet always has its validation
    report: Path | None = None
    try:
        report = write_validation_report(result)
    except OSError as exc:
        click.echo(f"warning: could not write the validation report: {exc}", err=True)
    width = min(max(shutil.get_terminal_size((120, 24)).columns, 100), 160)
    _echo(summary_lines(result, report, width))
    click.echo("Nothing was submitted: fix the sheet and submit it again.")
    ctx.exit(1)


# --- approve / reject -----------------------------------------------------------------------


@click.command("approve")
@click.argument("run_id")
@click.option(
    "--expect-total",
    metavar="AMOUNT",
    default=None,
    help="The run's total, instead of typing it when asked (automation).",
)
@click.option(
    "--profile",
    "profile_path",
    type=click.Path(path_type=Path, dir_okay=False),
    default=None,
    help="Your batchpay.toml (default ./batchpay.toml if present): its [approval] can only "
    "make the run's recorded policy stricter.",
)
@settings_options
@click.pass_context
def approve_cmd(
    ctx: click.Context,
    run_id: str,
    expect_total: str | None,
    profile_path: Path | None,
    env_file: str | None,
    base_url: str | None,
) -> None:
    """Look at RUN_ID's plan and approve it: type its total to confirm.

    Shows the rows, the totals per currency and per source account, the warnings, the
    references other runs already used, and who prepared it when. The person who submitted
    a run cannot approve it, and one person counts once. Refused (and nothing changes) if
    the run is not awaiting approval, the total is wrong or the plan changed since it was
    submitted.

    Example: batchpay approve 20261205-041500-ab12
    """
    from batchpay.runs import approval

    where, policy = target(None, base_url, env_file), _policy(profile_path)
    view = approval.plan_view(run_id, target=where, policy=policy)
    _echo(view_lines(view))
    typed = expect_total
    if typed is None:
        typed = click.prompt("Type the run's total to approve it") if view.can_approve else ""
    decision = approval.approve(run_id, expect_total=typed, target=where, policy=policy)
    if decision.released:
        _echo(
            [
                f"Approved by {view.viewer} ({decision.have} of {decision.needed}): run "
                f"{run_id} is released. Send it with `batchpay send {run_id}`."
            ]
        )
    else:
        _echo(
            [
                f"Approved by {view.viewer} ({decision.have} of {decision.needed}): run "
                f"{run_id} still needs {decision.needed - decision.have} more approver(s), "
                f"neither {decision.run.operator} nor {view.viewer}."
            ]
        )
    ctx.exit(0)


@click.command("reject")
@click.argument("run_id")
@click.option("--reason", required=True, metavar="TEXT", help="Why (kept in the audit trail).")
@settings_options
@click.pass_context
def reject_cmd(
    ctx: click.Context, run_id: str, reason: str, env_file: str | None, base_url: str | None
) -> None:
    """Close RUN_ID: nothing of it is ever sent.

    A run awaiting approval, or approved but not yet sending, can be rejected by anyone —
    its maker too (a withdrawal). The reason is kept in the audit trail and the workbook.

    Example: batchpay reject 20261205-041500-ab12 --reason "wrong month"
    """
    from batchpay.runs import approval

    run = approval.reject(run_id, reason=reason, target=target(None, base_url, env_file))
    last = run.approvals[-1]
    _echo([f"Run {run_id} rejected by {last.approver}: {last.reason}. Nothing of it is sent."])
    ctx.exit(0)


# --- send -----------------------------------------------------------------------------------


@click.command("send")
@click.argument("run_id")
@settings_options
@sending_options
@click.option(
    "--workers",
    type=click.IntRange(1, MAX_WORKERS),
    default=1,
    show_default=True,
    help="Worker processes, each with --concurrency requests in flight.",
)
@lease_option
@click.pass_context
def send_cmd(
    ctx: click.Context,
    run_id: str,
    env_file: str | None,
    base_url: str | None,
    concurrency: int,
    rate: float | None,
    report_path: Path | None,
    quiet: bool,
    workers: int,
    lease: float | None,
) -> None:
    """Pay an approved RUN_ID through DOKU, exactly like `run` would.

    Before the first request the plan's digest is recomputed from the journal: if anything
    changed since it was approved, nothing is sent. Progress bar, Ctrl-C and the workbook
    are those of `run`; after an interruption `batchpay send RUN_ID` again continues it,
    never paying a row twice. With --workers N, N processes share the rows (more can join
    from other machines with `batchpay work RUN_ID`); --rate is then per worker.

    Example: batchpay send 20261205-041500-ab12 --workers 4 --concurrency 8
    """
    from batchpay.cli.progress import CliProgress
    from batchpay.cli.signals import StopRequest
    from batchpay.runs import approval
    from batchpay.runs.options import SendOptions

    options = SendOptions(
        target=target(None, base_url, env_file), sending=sending(concurrency, rate, report_path)
    )
    stop = StopRequest()
    with contextlib.ExitStack() as stack:
        progress = CliProgress(stack, stop, quiet=quiet, banner_on_open=True)
        result = approval.send(
            run_id,
            options,
            progress=progress,
            stop=stop,
            workers=workers,
            worker=worker_options(lease),
        )
    finish(ctx, result, stop, command="send")


# --- rendering ------------------------------------------------------------------------------


def view_lines(view: PlanView) -> list[str]:
    """The plan as the approver sees it."""
    from batchpay.cli.render import banner
    from batchpay.money import format_minor

    run = view.run
    lines = [
        banner(run.env),
        f"Run {run.run_id} — {run.kind}, {len(view.rows)} rows, {view.status}",
        f"  prepared by   {run.operator} at {when(run.created_at)}",
        f"  input file    {run.input_name} (sha256 {run.input_sha256[:16]}…)",
        f"  plan digest   {run.plan_digest}",
    ]
    lines += [f"  total         {format_minor(m, c)}" for c, m in sorted(view.totals.items())]
    if view.by_source:
        lines.append("  per source Sub Account:")
        lines += [f"    {a}: {format_minor(m, 'IDR')}" for a, m in sorted(view.by_source.items())]
    approvers = ", ".join(f"{a.approver} at {when(a.at)}" for a in view.approved_by) or "none yet"
    lines += [
        f"  approvals     {len(view.approved_by)} of {view.needed} ({approvers})",
        f"  expires       {when(view.expires_at)} unless approved",
    ]
    lines += [f"warning: {w}" for w in view.warnings]
    for r in view.repeats:
        lines.append(
            f"repeat: row {r.row_number} {r.reference!r} was already used in run "
            f"{r.earlier.run_id} (row {r.earlier.row_number}, {r.earlier.state})"
        )
    return [*lines, "", *_row_lines(view.rows)]


def _row_lines(rows: list[RowRecord]) -> list[str]:
    from batchpay.money import format_minor

    lines = [f"{'Row':>5}  {'Reference':<24} {'Amount':>20}  Payee"]
    for r in rows[:SHOWN_ROWS]:
        payee = next((r.normalised[f] for f in _PAYEE_FIELDS if r.normalised.get(f)), "")
        amount = "" if r.amount_minor is None else format_minor(r.amount_minor, r.currency)
        lines.append(f"{r.row_number:>5}  {r.reference:<24} {amount:>20}  {payee}".rstrip())
    if len(rows) > SHOWN_ROWS:
        lines.append(f"  … and {len(rows) - SHOWN_ROWS} more rows (every row: the plan workbook)")
    return lines


def _policy(profile_path: Path | None) -> ApprovalPolicy | None:
    from batchpay.profile import find_profile, load_profile

    found = find_profile(profile_path)
    return load_profile(found).approval if found is not None else None


def _echo(lines: list[Any]) -> None:
    from batchpay.cli.progress import echo

    echo([str(line) for line in lines])


def register(group: click.Group) -> None:
    """Add this module's commands to the top-level group."""
    for command in (submit_cmd, approve_cmd, reject_cmd, send_cmd):
        group.add_command(command)
