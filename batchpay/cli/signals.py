"""Ctrl-C, SIGTERM and SIGHUP while a command talks to DOKU (docs/safety.md).

The first signal stops taking rows: the rows in flight are settled and journaled, then the
command writes the workbook, prints the resume hint and exits 130, 143 or 129
(:data:`batchpay.cli.render.EXIT_SIGNALS`). A second signal aborts at once: rows in flight
stay SENDING (their Request-Id and bytes are journaled before the socket write), and
`resume` resolves them.
"""

from __future__ import annotations

import contextlib
import signal
import threading
from collections.abc import Iterator

import click

from batchpay.cli.render import EXIT_SIGNALS


class StopRequest(threading.Event):
    """The stop event of a run, and which signal set it. The engine journals ``message`` as
    its "interrupted" halt; the command exits with the signal's code."""

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


class _AbortNow(KeyboardInterrupt):
    """A second stop signal: leave at once (rows in flight stay SENDING)."""

    def __init__(self, signal_name: str) -> None:
        super().__init__(signal_name)
        self.signal_name = signal_name


def signal_label(name: str) -> str:
    return "Ctrl-C" if name == "SIGINT" else name


def abort_hint(run_id: str | None, *, follow: bool = False) -> str:
    """What the second signal's message tells the operator to do next."""
    if follow:
        return (
            "nothing is paid by a status look-up; follow again with: batchpay status "
            f"{run_id or 'RUN_ID'}"
        )
    return (
        "rows in flight stay SENDING, nothing is sent twice; continue with: batchpay resume "
        f"{run_id or 'RUN_ID'}"
    )


@contextlib.contextmanager
def ctrl_c_stops(stop: StopRequest, hint: str | None = None) -> Iterator[StopRequest]:
    """While inside: the first Ctrl-C, SIGTERM or SIGHUP sets ``stop``; a second one aborts
    now, exiting with the signal's code (130, 143, 129) and ``hint`` (:func:`abort_hint`)."""
    if threading.current_thread() is not threading.main_thread():
        yield stop
        return

    def handler(signum: int, frame: object) -> None:
        name = signal.Signals(signum).name
        if stop.is_set():
            raise _AbortNow(name)
        stop.signal_name = name
        stop.set()
        with contextlib.suppress(OSError):  # SIGHUP: the terminal may be gone
            click.echo(
                f"\nStopping on {signal_label(name)}: finishing the rows in flight "
                f"({signal_label(name)} again to abort now)…",
                err=True,
            )

    previous = {signum: signal.signal(signum, handler) for signum in _STOP_SIGNALS}
    try:
        yield stop
    except _AbortNow as exc:
        with contextlib.suppress(OSError):
            click.echo(
                f"\nAborted by {signal_label(exc.signal_name)}: {hint or abort_hint(None)}",
                err=True,
            )
        raise click.exceptions.Exit(EXIT_SIGNALS.get(exc.signal_name, 130)) from None
    finally:
        for signum, old in previous.items():
            if old is not None:  # None: not installed from Python, cannot be restored
                signal.signal(signum, old)
