"""CLI commands for runs: ``run``, ``resume``, ``status``, ``runs``, ``retry-failed``.

Thin: parse options, confirm with the operator, call :mod:`batchpay.runner`, print. Exit
codes follow :mod:`batchpay.runner_summary` (0 paid or links progressing, 1 anything not
finished, 130 Ctrl-C, 143 SIGTERM, 129 SIGHUP) and :func:`batchpay.cli.main` (2 usage/input,
3 config/auth, 4 journal).
"""

from __future__ import annotations

import contextlib
import os
import signal
import threading
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import TYPE_CHECKING, Any, TypeVar

import click

from batchpay.errors import DokuAuthError, DokuUnavailable, RunError, UsageError
from batchpay.kinds import KINDS

if TYPE_CHECKING:
    from batchpay.config import Settings
    from batchpay.ledger import Ledger
    from batchpay.plan import Plan
    from batchpay.runner import RunResult
    from batchpay.runner_engine import Options

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


def _options(concurrency: int, rate: float | None) -> Options:
    from batchpay.runner_engine import Options

    return Options(concurrency=concurrency, rate=rate)


def _echo(lines: list[str], *, err: bool = False) -> None:
    from batchpay.config import redact

    click.echo(redact("\n".join(lines)), err=err)


class StopRequest(threading.Event):
    """The stop event of a run, and which signal set it. The engine journals ``message`` as
    its "interrupted" halt; :func:`_finish` exits with the signal's code (runner_summary)."""

    def __init__(self) -> None:
        super().__init__()
        self.signal_name = "SIGINT"

    @property
    def message(self) -> str:
        return _STOP_MESSAGES.get(self.signal_name, f"stopped by {self.signal_name}")


_STOP_MESSAGES = {
    "SIGINT": "stopped by the operator (Ctrl-C)",
    "SIGTERM": "stopped by SIGTERM (the process was asked to terminate)",
    "SIGHUP": "stopped by SIGHUP (the terminal or session closed)",
}
# Handled alike; SIGHUP does not exist on Windows.
_STOP_SIGNALS = tuple(getattr(signal, name) for name in _STOP_MESSAGES if hasattr(signal, name))
_STOP_KEY = "batchpay.stop"  # ctx.meta: the StopRequest of the running command


class _AbortNow(KeyboardInterrupt):
    """A second stop signal: leave at once (rows in flight stay SENDING)."""

    def __init__(self, signal_name: str) -> None:
        super().__init__(signal_name)
        self.signal_name = signal_name


def _signal_label(name: str) -> str:
    return "Ctrl-C" if name == "SIGINT" else name


@contextlib.contextmanager
def _ctrl_c_stops(run_id: str | None = None) -> Iterator[StopRequest]:
    """First Ctrl-C, SIGTERM or SIGHUP: stop taking rows, settle and journal those in
    flight; :func:`_finish` then writes the workbook, prints the resume hint and exits 130,
    143 or 129. A second signal aborts now: rows in flight stay SENDING (their Request-Id
    and bytes are journaled before the socket write), and `resume` resolves them —
    docs/safety.md. Exits with the signal's code either way."""
    from batchpay.runner_summary import EXIT_SIGNALS

    stop = StopRequest()
    if threading.current_thread() is not threading.main_thread():
        yield stop
        return
    ctx = click.get_current_context(silent=True)
    if ctx is not None:
        ctx.meta[_STOP_KEY] = stop

    def handler(signum: int, frame: object) -> None:
        name = signal.Signals(signum).name
        if stop.is_set():
            raise _AbortNow(name)
        stop.signal_name = name
        stop.set()
        with contextlib.suppress(OSError):  # SIGHUP: the terminal may be gone
            click.echo(f"\nStopping on {_signal_label(name)}: finishing the rows in flight "
                       f"({_signal_label(name)} again to abort now)…", err=True)

    previous = {signum: signal.signal(signum, handler) for signum in _STOP_SIGNALS}
    try:
        yield stop
    except _AbortNow as exc:
        with contextlib.suppress(OSError):
            click.echo(f"Aborted by {_signal_label(exc.signal_name)}: rows in flight stay "
                       "SENDING, nothing is sent twice; continue with: batchpay resume "
                       f"{run_id or 'RUN_ID'}", err=True)
        raise click.exceptions.Exit(EXIT_SIGNALS.get(exc.signal_name, 130)) from None
    finally:
        for signum, old in previous.items():
            if old is not None:  # None: not installed from Python, cannot be restored
                signal.signal(signum, old)


def _ledger(settings: Settings, *, create: bool = False, read_only: bool = False) -> Ledger:
    """The journal of ``settings``. Only ``run`` creates one (``create``); every other
    command refuses a missing or empty journal (JournalMissing, exit 4) and creates nothing.
    ``runs`` reads it ``read_only`` (works on a read-only file or disk)."""
    from batchpay.ledger import Ledger

    return Ledger(settings.ledger_path, create=create, read_only=read_only)


def _finish(ctx: click.Context, ledger: Ledger, result: RunResult,
            report_path: Path | None, *, show_sends: bool = True,
            force_exit: int | None = None) -> None:
    """Workbook, one-screen summary, exit code — the common end of run/resume/retry."""
    from batchpay import runner
    from batchpay.runner_summary import exit_code, summary_lines

    run_id = result.run.run_id
    workbook: Path | None = None
    try:
        workbook = runner.write_workbook(ledger, run_id, report_path)
    except Exception as exc:  # money has moved: the summary must still show
        # e.g. the old workbook is open in Excel, a full disk, or a writer bug. The journal is
        # the truth and is already committed; the workbook can be rebuilt from it at any time.
        from batchpay.config import redact

        click.echo(redact(f"warning: could not write the workbook ({type(exc).__name__}: {exc})"
                          f" — the journal is intact; rebuild it with `batchpay report {run_id}`"),
                   err=True)
    halt = result.halt
    _echo(["", *summary_lines(result.run, result.rows, workbook=workbook,
                              sends=result.sends if show_sends else None,
                              halt_message=halt.message if halt else None)])
    if halt is not None and halt.reason == "auth-failed":
        raise DokuAuthError(f"DOKU refused the credentials; the batch stopped: {halt.message}",
                            hint=f"fix the configuration, then `batchpay resume {run_id}` "
                                 "(unsent rows keep their Request-Ids)")
    if halt is not None and halt.reason == "unreachable":
        raise DokuUnavailable(halt.message, hint=f"check the network, then "
                                                 f"`batchpay resume {run_id}`")
    stop = ctx.meta.get(_STOP_KEY)
    signal_name = stop.signal_name if isinstance(stop, StopRequest) and stop.is_set() else None
    # SIGTERM/SIGHUP always end with their code; Ctrl-C only when it cut the work short
    # (it is also how `status --watch` normally ends).
    interrupted = result.interrupted or signal_name not in (None, "SIGINT")
    if interrupted:
        said = ("Interrupted" if signal_name in (None, "SIGINT")
                else f"Stopped by {signal_name}")
        with contextlib.suppress(OSError):  # SIGHUP: the terminal may be gone
            click.echo(f"{said}. Continue with: batchpay resume {run_id}", err=True)
        ctx.exit(exit_code(result.rows, kind=result.run.kind, interrupted=True,
                           signal_name=signal_name or "SIGINT"))
    if force_exit is not None:
        ctx.exit(force_exit)
    ctx.exit(exit_code(result.rows, kind=result.run.kind, dry_run=result.run.dry_run))


def _confirm(the_plan: Plan, *, env: str, yes: bool, expect_total: str | None) -> None:
    """--expect-total is checked everywhere; production also needs the operator to type the
    row count and total (or --yes together with a matching --expect-total)."""
    from batchpay.plan import TotalMismatch, check_expected_total

    if expect_total is not None:
        check_expected_total(the_plan, expect_total)
    if env != "production":
        return
    if yes:
        if expect_total is None:
            raise UsageError("--yes in production needs --expect-total AMOUNT",
                             hint="pass the batch total you expect, e.g. --expect-total 152500000")
        return
    count = click.prompt("PRODUCTION: type the number of rows to pay", type=int)
    if count != the_plan.count:
        raise TotalMismatch(f"you typed {count} rows; the sheet has {the_plan.count}; "
                            "nothing was sent")
    check_expected_total(the_plan, click.prompt("PRODUCTION: type the total amount to pay"))


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
    from batchpay import plan as planning
    from batchpay import runner
    from batchpay.cli.sheets import parse_mapping
    from batchpay.config import load_settings
    from batchpay.doku import open_gateway
    from batchpay.ledger import RunLock
    from batchpay.runner_summary import BarProgress, plan_lines
    from batchpay.validate import validate_file

    settings = load_settings(env=env, base_url=base_url, dotenv_path=env_file)
    result = validate_file(sheet, kind=kind, sheet=sheet_name,
                           mapping=parse_mapping(maps) or None,
                           amount_format=amount_format)  # type: ignore[arg-type]
    if not result.ok:
        _invalid(ctx, result)
    the_plan = planning.plan(result, env=settings.env)
    if not the_plan.rows:
        raise RunError(f"{sheet.name} has no rows to pay")
    ledger = _ledger(settings, create=True)
    repeats = planning.find_repeats(ledger, the_plan)
    if repeats and not allow_repeat and not dry_run:
        raise planning.RepeatedReferences(repeats)
    _echo(plan_lines(the_plan, dry_run=dry_run))
    if repeats and dry_run and not allow_repeat:
        # A dry run sends nothing, so it is not refused; it shows what a real run would be.
        refused = planning.RepeatedReferences(repeats)
        _echo([f"warning: {line.strip()}" for line in refused.message.splitlines()]
              + [f"warning: a real run would refuse them: {refused.hint}"], err=True)
    elif repeats:
        click.echo(f"warning: --allow-repeat: {len(repeats)} reference(s) already used in "
                   "earlier runs will be sent again", err=True)
    _confirm(the_plan, env=settings.env, yes=yes, expect_total=expect_total)
    with open_gateway(settings) as gateway:
        if the_plan.by_source:
            shortfalls = planning.preflight_balances(gateway.client, the_plan)
            if shortfalls:
                raise planning.InsufficientBalance(shortfalls)
        run_settings: dict[str, Any] = {
            "concurrency": concurrency, "rate": rate, "sheet": sheet_name,
            "mapping": parse_mapping(maps), "amount_format": amount_format,
            "base_url": settings.base_url, "allow_repeat": allow_repeat,
            "payout_link_signature": settings.payout_link_signature,
            "report_dir": str(Path("reports").resolve()),
        }
        if report_path is not None:
            # Not resolve(): a symlink at --report is replaced by the workbook, never
            # followed to overwrite its target (issue 8 finding 12; atomic os.replace).
            run_settings["report_path"] = os.path.abspath(report_path)
        record = runner.create_run(ledger, the_plan, settings=run_settings, dry_run=dry_run,
                                   allow_repeat=allow_repeat)
        click.echo(f"Run {record.run_id} journaled in {settings.ledger_path}")
        # Every row is in the journal now; the sheet and the plan are not needed again, and
        # on a 100,000-row batch they hold ~150 MB through sending and the workbook.
        count = the_plan.count
        del result, the_plan
        if dry_run:
            with RunLock(ledger.path, record.run_id):
                runner.dry_run(ledger, record.run_id, settings)
            outcome = runner.RunResult(run=ledger.run(record.run_id),
                                       rows=ledger.rows(record.run_id))
        else:
            bar = BarProgress(count, quiet=quiet)
            with _ctrl_c_stops(record.run_id) as stop:
                try:
                    outcome = runner.execute(ledger, gateway.client, record.run_id,
                                             options=_options(concurrency, rate),
                                             progress=bar, stop=stop)
                finally:
                    bar.close()
    _finish(ctx, ledger, outcome, None)


def _invalid(ctx: click.Context, result: Any) -> None:
    """Invalid sheet: the validation report and a short list; no run is created (a run of
    INVALID rows would look like a payment run — docs/safety.md §8: nothing is sent)."""
    import shutil

    from batchpay.cli.sheets import summary_lines
    from batchpay.workbook.validation import write_validation_report

    report: Path | None = None
    try:
        report = write_validation_report(result)
    except OSError as exc:
        click.echo(f"warning: could not write the validation report: {exc}", err=True)
    width = min(max(shutil.get_terminal_size((120, 24)).columns, 100), 160)
    _echo(summary_lines(result, report, width))
    click.echo("Nothing was sent and no run was created: fix the sheet and run again.")
    ctx.exit(1)


# --- resume -------------------------------------------------------------------------------


def _settings_for_run(run_id: str, base_url: str | None, env_file: str | None
                      ) -> tuple[Settings, Ledger, Any]:
    """Settings in the run's own environment: a run started against the emulator must never
    be resumed against production, or the other way round.

    The DOKU URL: --base-url, else BATCHPAY_BASE_URL (environment or .env), else the URL
    stored with the run — and the operator is told which one when it is not the run's."""
    from batchpay.config import CREDENTIALS_IN_URL, display_url, has_userinfo, load_settings
    from batchpay.errors import ConfigError

    probe = load_settings(base_url=base_url, dotenv_path=env_file, require_credentials=False)
    ledger = _ledger(probe)
    run = ledger.run(run_id)
    stored: str | None = run.settings.get("base_url") or None
    if probe.base_url is None and stored is not None and has_userinfo(stored):
        # A run journaled before such URLs were refused: never echo it, never use it.
        raise ConfigError(f"the DOKU URL stored with run {run_id}: {CREDENTIALS_IN_URL}",
                          hint="pass the URL without credentials with --base-url or "
                               "BATCHPAY_BASE_URL")
    settings = load_settings(env=run.env, base_url=probe.base_url or stored,
                             dotenv_path=env_file, ledger=probe.ledger_path)
    if probe.base_url is None and stored is not None:
        click.echo(f"Using the DOKU URL stored with the run: {settings.base_url}")
    elif probe.base_url is not None and probe.base_url != stored:
        source = "--base-url" if base_url else "BATCHPAY_BASE_URL"
        started = (display_url(stored) if stored else "the built-in emulator"
                   if run.env == "emulator" else f"the {run.env} default URL")
        click.echo(f"Using the DOKU URL from {source}: {settings.base_url} "
                   f"(the run was started against {started})")
    return settings, ledger, run


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
    from batchpay import runner
    from batchpay.doku import open_gateway
    from batchpay.ledger import OPEN_STATES
    from batchpay.runner_summary import BANNERS, BarProgress

    settings, ledger, run = _settings_for_run(run_id, base_url, env_file)
    click.echo(f"*** {BANNERS.get(run.env, run.env)} ***")
    todo = len(ledger.rows(run_id, states=OPEN_STATES))
    if todo == 0 or run.dry_run:
        runner.check_input(run, input_path)
        click.echo(f"Run {run_id} has nothing left to send." if not run.dry_run
                   else f"Run {run_id} is a dry run; nothing of it is ever sent.")
        _finish(ctx, ledger, runner.RunResult(run=run, rows=ledger.rows(run_id)), report_path)
        return
    with open_gateway(settings) as gateway:
        bar = BarProgress(todo, quiet=quiet, desc="Resuming")
        with _ctrl_c_stops(run_id) as stop:
            try:
                outcome = runner.resume(ledger, gateway.client, run_id, input_path=input_path,
                                        options=_options(concurrency, rate), progress=bar,
                                        stop=stop)
            finally:
                bar.close()
    _finish(ctx, ledger, outcome, report_path)


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
    from batchpay import runner
    from batchpay.doku import open_gateway
    from batchpay.runner_summary import EXIT_PROBLEMS

    settings, ledger, _run = _settings_for_run(run_id, base_url, env_file)
    deadline = time.monotonic() + timeout
    with open_gateway(settings) as gateway, _ctrl_c_stops() as stop:
        while True:
            outcome = runner.refresh_statuses(ledger, gateway.client, run_id, stop=stop,
                                              recheck_final=recheck_final)
            recheck_final = False  # final rows once; later polls follow the open ones
            settled = runner.is_settled(outcome.rows)
            if settled or stop.is_set() or not (watch or until_final):
                break
            if until_final and time.monotonic() >= deadline:
                break
            _echo([_progress_line(outcome.rows)])
            stop.wait(interval)
    if until_final and not settled:
        click.echo(f"Still not final after {timeout:g} s.", err=True)
        _finish(ctx, ledger, outcome, report_path, show_sends=False, force_exit=EXIT_PROBLEMS)
    _finish(ctx, ledger, outcome, report_path, show_sends=False)


def _progress_line(rows: list[Any]) -> str:
    from collections import Counter

    counts = Counter(r.state for r in rows)
    return time.strftime("%H:%M:%S ") + ", ".join(f"{s} {n}" for s, n in sorted(counts.items()))


# --- runs ---------------------------------------------------------------------------------


@click.command("runs")
@click.option("--month", default=None, metavar="YYYY-MM", help="Only runs of this month (WIB).")
@click.option("--limit", type=click.IntRange(min=1), default=30, show_default=True)
@_settings_options
def runs_cmd(month: str | None, limit: int, env_file: str | None, base_url: str | None) -> None:
    """List runs: id, date, kind, environment, file, rows, and amounts by status.

    Example: batchpay runs --month 2026-11
    """
    from batchpay.config import load_settings
    from batchpay.ledger import WIB
    from batchpay.money import format_minor
    from batchpay.reconcile import summarise

    settings = load_settings(base_url=base_url, dotenv_path=env_file, require_credentials=False)
    ledger = _ledger(settings, read_only=True)
    records = ledger.runs_for_month(month) if month else ledger.runs(limit=limit)
    if not records:
        click.echo("No runs yet." if not month else f"No runs in {month}.")
        return
    from datetime import datetime

    header = f"{'RUN ID':<21} {'STARTED (WIB)':<16} {'KIND':<20} {'ENV':<10} {'ROWS':>5}  FILE"
    lines = [header]
    for run in records:
        rows = ledger.rows(run.run_id)
        summary = summarise(rows)
        started = datetime.fromisoformat(run.created_at).astimezone(WIB)
        tag = " (dry run)" if run.dry_run else (f" (retry of {run.parent_run_id})"
                                                 if run.parent_run_id else "")
        lines.append(f"{run.run_id:<21} {started:%Y-%m-%d %H:%M} {run.kind:<20} {run.env:<10} "
                     f"{summary.rows:>5}  {run.input_name}{tag}")
        for state in summary.states():
            bucket = summary.by_state[state]
            amounts = ", ".join(format_minor(m, c) for c, m in sorted(bucket.amounts.items()))
            lines.append(f"{'':<21}   {state:<18} {bucket.count:>5}  {amounts}".rstrip())
    _echo(lines)


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
    from batchpay import plan as planning
    from batchpay import runner
    from batchpay.doku import open_gateway
    from batchpay.runner_summary import BarProgress, plan_lines

    settings, ledger, _run = _settings_for_run(run_id, base_url, env_file)
    retry = runner.plan_retry(ledger, run_id)
    for row, why in retry.skipped:
        click.echo(f"warning: row {row.row_number} ({row.reference}) is not retried: {why}",
                   err=True)
    if not retry.plan.rows:
        click.echo(f"Run {run_id} has no row that can be retried (FAILED, EXPIRED, or "
                   "REJECTED by an answer proving nothing was executed).")
        ctx.exit(0 if not retry.skipped else 1)
    _echo(plan_lines(retry.plan))
    lines = ["Rows to retry:"]
    parent_rows = {r.row_number: r for r in ledger.rows(run_id)}
    for new in retry.plan.rows:
        old = parent_rows[new.row_number]
        ref = (new.reference if new.reference == old.reference
               else f"{old.reference} → {new.reference}")
        lines.append(f"  row {new.row_number}: {ref} (was {old.state}"
                     + (f": {old.message}" if old.message else "") + ")")
    _echo(lines)
    _confirm(retry.plan, env=settings.env, yes=yes, expect_total=expect_total)
    if settings.env != "production" and not yes and not click.confirm(
            f"Retry {retry.plan.count} row(s)?", default=False):
        raise click.Abort
    with open_gateway(settings) as gateway:
        if retry.plan.by_source:
            shortfalls = planning.preflight_balances(gateway.client, retry.plan)
            if shortfalls:
                raise planning.InsufficientBalance(shortfalls)
        child = runner.create_retry_run(ledger, retry)
        click.echo(f"Retry run {child.run_id} (of {run_id}) journaled")
        bar = BarProgress(retry.plan.count, quiet=quiet, desc="Retrying")
        with _ctrl_c_stops() as stop:
            try:
                outcome = runner.execute(ledger, gateway.client, child.run_id,
                                         options=_options(concurrency, rate), progress=bar,
                                         stop=stop)
            finally:
                bar.close()
    _finish(ctx, ledger, outcome, report_path)


def register(group: click.Group) -> None:
    """Add this module's commands to the top-level group."""
    for command in (run_cmd, resume_cmd, status_cmd, runs_cmd, retry_failed_cmd):
        group.add_command(command)
