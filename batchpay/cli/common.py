"""What the run commands share: option groups, typed options from them, the production
prompt, and the common end of every command that talked to DOKU (workbook warning, summary,
exit code by :mod:`batchpay.cli.render` and :mod:`batchpay.cli.exits`)."""

from __future__ import annotations

import contextlib
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, Any, TypeVar

import click

from batchpay.errors import DokuAuthError, DokuUnavailable

if TYPE_CHECKING:
    from batchpay.cli.signals import StopRequest
    from batchpay.profile import Profile, SheetOptions
    from batchpay.runs.execute import RunResult
    from batchpay.runs.options import Sending, Target
    from batchpay.runs.plan import Plan
    from batchpay.runs.service import Question

F = TypeVar("F", bound=Callable[..., Any])
MAX_CONCURRENCY = 32


def sheet_options(func: F) -> F:
    """``--set``, ``--profile`` and ``--no-profile``: shared by validate, run (and submit)."""
    func = click.option(
        "--no-profile", is_flag=True, help="Ignore ./batchpay.toml (use only the options)."
    )(func)
    func = click.option(
        "--profile",
        "profile_path",
        type=click.Path(path_type=Path, dir_okay=False),
        default=None,
        help="Read options per kind from this profile (default ./batchpay.toml if present; "
        "`batchpay profile init KIND` writes one). Options given here override it.",
    )(func)
    func = click.option(
        "--set",
        "sets",
        multiple=True,
        metavar='"FIELD=VALUE"',
        help="Give FIELD this value in every row; {Header} is filled from that row's cell, "
        'e.g. --set "reference_id=BNS-2612-{NIK}". Repeatable.',
    )(func)
    return func


def parse_sets(entries: tuple[str, ...]) -> dict[str, str]:
    """``["reference_id=BNS-{NIK}"]`` → ``{"reference_id": "BNS-{NIK}"}``; split on the first
    ``=`` (a field name never holds one, a value may)."""
    from batchpay.profile import field_key

    out: dict[str, str] = {}
    for entry in entries:
        name, sep, value = entry.partition("=")
        if not sep or not name.strip():
            raise click.BadParameter(
                f'{entry!r} is not FIELD=VALUE; write it like --set "sender_name=PT Sinar Abadi"',
                param_hint="--set",
            )
        out[field_key(name)] = value
    return out


def sheet_choice(
    profile_path: Path | None,
    no_profile: bool,
    **given: Any,
) -> tuple[SheetOptions, Profile | None]:
    """The command line's sheet options (kind, sheet, maps, amount_format, sets) and the
    profile it names or finds in the current directory."""
    from batchpay.errors import UsageError
    from batchpay.profile import SheetOptions, find_profile, load_profile

    if no_profile and profile_path is not None:
        raise UsageError("--profile and --no-profile contradict each other", hint="use one")
    from batchpay.cli.sheets import parse_mapping

    sets = parse_sets(given.pop("sets"))
    mapping = parse_mapping(given.pop("maps"))
    options = SheetOptions(**given, mapping=mapping, set_values=sets)
    found = None if no_profile else find_profile(profile_path)
    return options, (load_profile(found) if found is not None else None)


def settings_options(func: F) -> F:
    func = click.option(
        "--env-file",
        type=click.Path(dir_okay=False),
        help="Read settings from this .env file (default ./.env).",
    )(func)
    func = click.option("--base-url", help="Override BATCHPAY_BASE_URL.")(func)
    return func


def _json_on(ctx: click.Context, param: click.Parameter, value: bool) -> bool:
    if value:
        from batchpay.cli import jsonout

        jsonout.enable()
    return value


def json_option(func: F) -> F:
    """``--json``: one JSON document on stdout (README "JSON output"), lines to stderr."""
    return click.option(
        "--json",
        "as_json",
        is_flag=True,
        is_eager=True,
        callback=_json_on,
        help="Print one JSON document on stdout (README: JSON output); messages go to stderr.",
    )(func)


def xlsx_path(ctx: click.Context, param: click.Parameter, value: Path | None) -> Path | None:
    """A workbook path must end in .xlsx: XLSX bytes never go into a file named .csv."""
    if value is not None and value.suffix.lower() != ".xlsx":
        raise click.BadParameter(
            f"{str(value)!r} does not end in .xlsx, but the reconciliation workbook is XLSX; "
            "name it .xlsx (for CSV: `batchpay report RUN_ID --format csv -o FILE.csv`)"
        )
    return value


def sending_options(func: F) -> F:
    func = click.option("--quiet", is_flag=True, help="No progress bar.")(func)
    func = click.option(
        "--report",
        "report_path",
        type=click.Path(dir_okay=False, path_type=Path),
        default=None,
        callback=xlsx_path,
        help="Where to write the reconciliation workbook, a .xlsx file "
        "(default reports/<sheet-stem>-<run id>.xlsx).",
    )(func)
    func = click.option(
        "--rate",
        type=click.FloatRange(min=0.1),
        default=None,
        help="At most this many requests per second.",
    )(func)
    func = click.option(
        "--concurrency",
        type=click.IntRange(1, MAX_CONCURRENCY),
        default=4,
        show_default=True,
        help="Requests in flight at once.",
    )(func)
    return func


def target(env: str | None, base_url: str | None, env_file: str | None) -> Target:
    from batchpay.runs.options import Target

    return Target(env=env, base_url=base_url, env_file=env_file)


def sending(concurrency: int, rate: float | None, report_path: Path | None) -> Sending:
    from batchpay.runs.options import Sending

    return Sending(concurrency=concurrency, rate=rate, report_path=report_path)


def ask(plan: Plan, question: Question) -> Any:
    """The operator's confirmation (the service decides when it is needed)."""
    from batchpay.cli import jsonout
    from batchpay.runs.service import Question

    err = jsonout.enabled()  # with --json, stdout holds the document only
    if question is Question.ROWS:
        return click.prompt(question.value, type=int, err=err)
    if question is Question.TOTAL:
        return click.prompt(question.value, err=err)
    if not click.confirm(f"Retry {plan.count} row(s)?", default=False, err=err):
        raise click.Abort
    return True


def halt_error(result: RunResult) -> DokuAuthError | DokuUnavailable | None:
    """A batch stopped by DOKU (credentials refused, unreachable) ends as that error, after
    its summary was shown."""
    halt, run_id = result.halt, result.run.run_id
    if halt is not None and halt.reason == "auth-failed":
        return DokuAuthError(
            f"DOKU refused the credentials; the batch stopped: {halt.message}",
            hint=f"fix the configuration, then `batchpay resume {run_id}` "
            "(unsent rows keep their Request-Ids)",
        )
    if halt is not None and halt.reason == "unreachable":
        return DokuUnavailable(
            halt.message, hint=f"check the network, then `batchpay resume {run_id}`"
        )
    return None


def finish(
    ctx: click.Context,
    result: RunResult,
    stop: StopRequest,
    *,
    command: str = "run",
    show_sends: bool = True,
    force_exit: int | None = None,
) -> None:
    """Workbook warning, one-screen summary (or the ``--json`` document), exit code — the
    common end of every command that talked to DOKU."""
    from batchpay.cli import error_text
    from batchpay.cli.exits import exit_code_for
    from batchpay.cli.progress import echo
    from batchpay.cli.render import exit_code
    from batchpay.config import redact

    run_id = result.run.run_id
    if result.workbook_error is not None:
        echo(
            [
                f"warning: could not write the workbook ({result.workbook_error}) — the journal "
                f"is intact; rebuild it with `batchpay report {run_id}`"
            ],
            err=True,
        )
    stopped = halt_error(result)
    signal_name = stop.signal_name if stop.is_set() else None
    # SIGTERM/SIGHUP always end with their code; Ctrl-C only when it cut the work short
    # (it is also how `status --watch` normally ends).
    interrupted = result.interrupted or signal_name not in (None, "SIGINT")
    if stopped is not None:
        code = exit_code_for(stopped)
    elif interrupted:
        name = signal_name or "SIGINT"
        code = exit_code(result.rows, kind=result.run.kind, interrupted=True, signal_name=name)
    elif force_exit is not None:
        code = force_exit
    else:
        code = exit_code(result.rows, kind=result.run.kind, dry_run=result.run.dry_run)
    _show(command, result, code, result.sends if show_sends else None)
    if stopped is not None:
        click.echo(redact(error_text(stopped)), err=True)
    elif interrupted:
        said = "Interrupted" if signal_name in (None, "SIGINT") else f"Stopped by {signal_name}"
        with contextlib.suppress(OSError):  # SIGHUP: the terminal may be gone
            click.echo(f"{said}. Continue with: batchpay resume {run_id}", err=True)
    ctx.exit(code)


def _show(command: str, result: RunResult, code: int, sends: int | None) -> None:
    """The one-screen summary, or with ``--json`` the command's document on stdout."""
    from batchpay.cli import jsonout
    from batchpay.cli.progress import echo
    from batchpay.cli.render import next_steps, summary_lines

    if jsonout.enabled():
        steps = next_steps(result.run, result.rows)
        jsonout.emit(
            jsonout.result_document(command, result, exit_code=code, sends=sends, next_steps=steps)
        )
        return
    halt = result.halt
    lines = summary_lines(
        result.run,
        result.rows,
        workbook=result.workbook,
        sends=sends,
        halt_message=halt.message if halt else None,
    )
    echo(["", *lines])
