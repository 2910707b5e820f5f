"""The ``batchpay`` command line: click commands only.

Each area registers its commands from its own module (``sheets``: validate/template;
``gateway``: emulator/balance/accounts; ``runs``: run/resume/status/runs/report/retry-failed).
Commands parse options, make one library call and let :func:`main` map errors to exit codes:
0 ok, 1 problems found / rows not paid, 2 usage or unreadable input, 3 configuration or
authentication, 4 the journal cannot be used (missing, empty, damaged, read-only for a writing
command, disk full: :class:`~batchpay.errors.JournalError`, one message with the path, the cause
and what to do). No traceback reaches a user (set ``BATCHPAY_DEBUG=1`` to see one).
"""

from __future__ import annotations

import os
import sys
import traceback

import click

from batchpay import __version__
from batchpay.errors import BatchpayError


@click.group(context_settings={"help_option_names": ["-h", "--help"], "max_content_width": 100})
@click.version_option(__version__, prog_name="batchpay")
def cli() -> None:
    """batchpay — turn a spreadsheet into DOKU disbursements, safely.

    Validate a sheet, dry-run it, pay it through DOKU Payout Link or Sub Accounts, and hand
    the accountant a reconciliation workbook.

    Example: batchpay validate samples/bonus-payout-link.csv
    """
    from batchpay.cli import jsonout

    jsonout.reset()  # each command starts in text mode; its --json turns JSON on


def _register() -> None:
    from batchpay.cli import (
        approvals,
        emulator,
        follow,
        gateway,
        journal,
        profile,
        reports,
        runs,
        sheets,
        web,
        work,
    )

    for module in (
        sheets,
        profile,
        gateway,
        emulator,
        runs,
        approvals,
        follow,
        reports,
        journal,
        web,
        work,
    ):
        module.register(cli)


def _redact(text: str) -> str:
    from batchpay.config import redact

    return redact(text)


def error_text(exc: BatchpayError) -> str:
    """``error: message — hint``; a message of several lines gets its hint on a line of its
    own, not glued to the last listed item."""
    if not exc.hint:
        return f"error: {exc.message}"
    if "\n" in exc.message:
        return f"error: {exc.message}\nhint: {exc.hint}"
    return f"error: {exc.message} — {exc.hint}"


def _fail(exc: BaseException, text: str, code: int) -> None:
    from batchpay.cli import jsonout

    click.echo(_redact(text), err=True)
    if jsonout.enabled():
        jsonout.emit(jsonout.error_document(exc, code))
    sys.exit(code)


def entry() -> None:
    """The console script (and ``python -m batchpay``): :func:`main`, then a quick exit for
    a command that allowed it (:class:`~batchpay.cli.startup.QuickExit`)."""
    from batchpay.cli.startup import QuickExit

    try:
        main()
    except SystemExit as exc:
        if isinstance(exc.code, int) or exc.code is None:
            QuickExit.leave(exc.code or 0)
        raise


def main(argv: list[str] | None = None) -> None:
    """Run the CLI and map every error to an exit code (always ends in ``SystemExit``)."""
    from batchpay.cli import jsonout

    _register()
    jsonout.reset()
    try:
        code = cli.main(args=argv, prog_name="batchpay", standalone_mode=False)
    except click.exceptions.Abort as exc:
        # Ctrl-C outside a run (a prompt, validation): 130, like any Ctrl-C; EOF or "no": 1.
        if isinstance(exc.__cause__ or exc.__context__, KeyboardInterrupt):
            _fail(exc, "Interrupted.", 130)
        _fail(exc, "Aborted.", 1)
    except click.ClickException as exc:
        exc.show()
        code = 2 if exc.exit_code not in (0, 1) else exc.exit_code or 2
        if jsonout.enabled():
            jsonout.emit(jsonout.error_document(exc, code, message=exc.format_message()))
        sys.exit(code)
    except BatchpayError as exc:
        from batchpay.cli.exits import exit_code_for

        _fail(exc, error_text(exc), exit_code_for(exc))
    except KeyboardInterrupt as exc:
        _fail(exc, "Interrupted.", 130)
    except Exception as exc:  # the last line of defence: no traceback reaches a user
        if os.environ.get("BATCHPAY_DEBUG"):
            click.echo(_redact(traceback.format_exc()), err=True)
        click.echo(
            _redact(
                f"internal error: {type(exc).__name__}: {exc} "
                "(please report it; set BATCHPAY_DEBUG=1 for details)"
            ),
            err=True,
        )
        sys.exit(1)
    sys.exit(code if isinstance(code, int) else 0)
