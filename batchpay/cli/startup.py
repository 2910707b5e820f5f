"""What ``batchpay validate`` does before the heavy libraries load: the first line a user at
a terminal sees, and the imports run on another thread while the sheet is parsed."""

from __future__ import annotations

import atexit
import importlib
import os
import sys
import threading
from collections.abc import Sequence
from pathlib import Path
from typing import NoReturn

import click

# pandas and pandera take ~0.7 s to import, the validation and report modules ~0.1 s more.
# Reading the sheet needs none of them, and pyarrow's CSV reader and calamine release the GIL
# while they parse, so `validate` imports them on another thread meanwhile.
VALIDATION_LIBRARIES = (
    "pandas",
    "batchpay.pandera_lib",  # pandera, without hypothesis
    "batchpay.validate.derived",
    "batchpay.workbook.validation",
    "xlsxwriter",
)


class BackgroundImports:
    """Imports ``names`` on a thread from :meth:`start` on; :meth:`join` before relying on
    them. Started as the parser that releases the GIL starts (``load_table(on_parse=…)``),
    not before: a workbook's size checks are Python work that an import running beside them
    would slow down by half. A failing import is left for the main thread's own import to
    report; a file refused before it is parsed imports nothing."""

    def __init__(self, names: Sequence[str]) -> None:
        self.names = names
        self.thread: threading.Thread | None = None

    def start(self) -> None:
        if self.thread is None:
            self.thread = threading.Thread(target=self._run, name="batchpay-imports", daemon=True)
            self.thread.start()

    def _run(self) -> None:
        for name in self.names:
            try:
                importlib.import_module(name)
            except Exception:
                return

    def join(self) -> None:
        if self.thread is not None:
            self.thread.join()


class QuickExit:
    """Leaving a command's process without the interpreter's teardown.

    Once ``validate`` has printed its verdict and closed its report, freeing pandas,
    pyarrow and pandera module by module costs the user another 0.15-0.35 s (measured:
    0.16 s for the imports alone, 0.25-0.38 s after a big sheet). A command that holds no
    journal, no connection and no open file once it returns calls :meth:`allow`; the
    console script (:func:`batchpay.cli.entry`) then leaves with ``os._exit``
    after running the exit handlers and flushing the output. Any other command, a test
    calling :func:`batchpay.cli.main`, or a process with another non-daemon thread still
    running exits the ordinary way.
    """

    allowed = False

    @classmethod
    def allow(cls) -> None:
        cls.allowed = True

    @classmethod
    def leave(cls, code: int) -> NoReturn:
        main = threading.main_thread()
        if not cls.allowed or any(
            t is not main and t.is_alive() and not t.daemon for t in threading.enumerate()
        ):
            raise SystemExit(code)
        try:
            atexit._run_exitfuncs()  # logging's flush and any other exit handler, as usual
            for stream in (sys.stdout, sys.stderr):
                if stream is not None:
                    stream.flush()
        except Exception:
            # A closed pipe or a full disk: the ordinary exit reports it as Python does.
            raise SystemExit(code) from None
        os._exit(code)


def stderr_is_terminal() -> bool:
    stream = sys.stderr
    return stream is not None and hasattr(stream, "isatty") and stream.isatty()


def size_text(size: int) -> str:
    """``812 bytes``, ``12 KB``, ``6.9 MB``, ``157 MB`` (decimal units, as file managers
    show them)."""
    if size < 1000:
        return f"{size} byte{'' if size == 1 else 's'}"
    for unit, scale in (("KB", 1e3), ("MB", 1e6), ("GB", 1e9)):
        value = size / scale
        if value < 999.5 or unit == "GB":
            return f"{value:.1f} {unit}" if value < 9.95 else f"{value:.0f} {unit}"
    raise AssertionError("unreachable")


def announce(sheet: Path, sheet_name: str | None) -> None:
    """``Checking bonus.xlsx (6.9 MB, sheet 'Gaji')…`` on stderr, before the libraries that
    check it are loaded (pandas and pandera take ~0.7 s, a big sheet seconds more): the user
    at a terminal sees at once that the command started on the right file. Only to a
    terminal, like any progress line: stdout keeps the verdict (or the one ``--json``
    document) and a script's stderr stays quiet. A file that cannot be found is left to the
    loader's error."""
    if not stderr_is_terminal():
        return
    try:
        size = sheet.stat().st_size
    except OSError:
        return
    if not sheet.is_file():
        return
    where = f", sheet {sheet_name!r}" if sheet_name else ""
    click.echo(f"Checking {click.format_filename(sheet)} ({size_text(size)}{where})…", err=True)
