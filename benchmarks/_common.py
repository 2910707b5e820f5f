"""Shared by the benchmark scripts: result tables, child-process timing with peak memory,
and a separately started emulator.

Every script prints a table of ``measure / value / target / result`` rows and, with
``--summary FILE``, appends its rows as JSON lines so ``benchmarks/run_all`` can print one
table for everything. A row with a target that is missed makes the script exit 1.
"""

from __future__ import annotations

import contextlib
import json
import os
import re
import resource
import subprocess
import sys
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


@dataclass
class Row:
    measure: str
    value: float | None
    unit: str = ""
    target: float | None = None
    direction: str = "<="  # "<=": value must not exceed target; ">=": must reach it
    note: str = ""

    @property
    def ok(self) -> bool | None:
        if self.target is None or self.value is None:
            return None
        if self.direction == "<=":
            return self.value <= self.target
        return self.value >= self.target

    def target_text(self) -> str:
        if self.target is None:
            return ""
        sign = "≤" if self.direction == "<=" else "≥"
        return f"{sign} {self.target:g}"


def fmt(value: float | None, unit: str = "") -> str:
    if value is None:
        return "—"
    if unit in ("MB", "rows/s", "req/s"):
        return f"{value:,.0f}"
    if abs(value) >= 100:
        return f"{value:,.1f}"
    return f"{value:.2f}"


class Report:
    """A benchmark's result table."""

    def __init__(self, title: str) -> None:
        self.title = title
        self.rows: list[Row] = []

    def add(
        self,
        measure: str,
        value: float | None,
        unit: str = "",
        *,
        target: float | None = None,
        direction: str = "<=",
        note: str = "",
    ) -> Row:
        row = Row(measure, value, unit, target, direction, note)
        self.rows.append(row)
        return row

    @property
    def ok(self) -> bool:
        return all(r.ok is not False for r in self.rows)

    def print(self) -> None:
        print()
        print(self.title)
        print(render(self.rows))

    def save(self, summary: str | None) -> None:
        if not summary:
            return
        with open(summary, "a", encoding="utf-8") as fh:
            for r in self.rows:
                fh.write(json.dumps({"benchmark": self.title, **r.__dict__}) + "\n")

    def finish(self, summary: str | None) -> int:
        self.print()
        self.save(summary)
        return 0 if self.ok else 1


def render(rows: Sequence[Row], *, with_benchmark: Sequence[str] | None = None) -> str:
    width = max([44] + [len(r.measure) + 2 for r in rows])
    lines = [f"{'measure':<{width}}{'value':>12} {'unit':<7}{'target':>9}  result"]
    for r in rows:
        result = {None: "", True: "ok", False: "MISSED"}[r.ok]
        line = (
            f"{r.measure:<{width}}{fmt(r.value, r.unit):>12} {r.unit:<7}"
            f"{r.target_text():>9}  {result}"
        )
        if r.note:
            line += f"  ({r.note})"
        lines.append(line.rstrip())
    return "\n".join(lines)


@dataclass
class ChildRun:
    seconds: float
    maxrss_mb: float
    returncode: int
    stdout: str
    stderr: str


# Children are started from this small interpreter, not from the benchmark: Linux carries
# the high-water RSS of the process that forks into the child's peak (the ``exec`` keeps it),
# so a child forked from a benchmark holding a million rows would report the benchmark's
# memory, not its own. The wrapper times the child from fork to exit and reports its
# ``wait4`` rusage and exit status in a file.
_SPAWN = """\
import os, sys, time
out, args = sys.argv[1], sys.argv[2:]
started = time.perf_counter()
pid = os.fork()
if pid == 0:
    try:
        os.execvp(args[0], args)
    finally:
        os._exit(127)
_, status, usage = os.wait4(pid, 0)
seconds = time.perf_counter() - started
with open(out, "w") as fh:
    fh.write(f"{seconds} {usage.ru_maxrss} {os.waitstatus_to_exitcode(status)}")
"""


def run_child(
    args: Sequence[str],
    *,
    cwd: str | Path | None = None,
    env: dict[str, str] | None = None,
    timeout: float = 600.0,
) -> ChildRun:
    """Run a command, measuring its wall time (from fork to exit, as a user waits for it)
    and *its own* peak RSS (``wait4`` rusage of that one child, started from a small
    interpreter so it does not inherit this process's peak)."""
    import signal
    import tempfile

    with (
        open(os.devnull, "rb") as stdin,
        _temp_output() as out,
        _temp_output() as err,
        tempfile.TemporaryDirectory() as tmp,
    ):
        report = Path(tmp) / "rusage"
        proc = subprocess.Popen(
            [sys.executable, "-S", "-c", _SPAWN, str(report), *args],
            cwd=cwd,
            env=env,
            stdin=stdin,
            stdout=out,
            stderr=err,
            start_new_session=True,
        )
        try:
            proc.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            os.killpg(proc.pid, signal.SIGKILL)
            proc.wait()
        if report.exists():
            seconds_text, maxrss_kb, code = report.read_text().split()
            seconds, maxrss, returncode = float(seconds_text), int(maxrss_kb), int(code)
        else:  # killed at the timeout
            seconds, maxrss, returncode = timeout, 0, -9
        out.seek(0)
        err.seek(0)
        return ChildRun(
            seconds,
            maxrss / 1024,
            returncode,
            out.read().decode("utf-8", "replace"),
            err.read().decode("utf-8", "replace"),
        )


@contextlib.contextmanager
def _temp_output() -> Iterator[object]:
    import tempfile

    with tempfile.TemporaryFile() as fh:
        yield fh


def maxrss_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def batchpay(*args: str) -> list[str]:
    """The ``batchpay`` command as a user runs it (the console script of this venv)."""
    script = Path(sys.executable).with_name("batchpay")
    if script.exists():
        return [str(script), *args]
    return [sys.executable, "-m", "batchpay", *args]


@contextlib.contextmanager
def emulator_process(
    *, latency_ms: int = 0, state: Path | None = None, extra: Sequence[str] = ()
) -> Iterator[tuple[str, subprocess.Popen[str]]]:
    """``batchpay emulator`` in its own process (its own GIL), on a free port."""
    args = batchpay("emulator", "--port", "0", "--latency-ms", str(latency_ms), *extra)
    if state is not None:
        args += ["--state", str(state)]
    proc = subprocess.Popen(args, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True)
    try:
        assert proc.stdout is not None
        url = None
        for line in proc.stdout:
            found = re.search(r"listening on (http://\S+)", line)
            if found:
                url = found.group(1)
                break
        if url is None:
            raise SystemExit("the emulator did not start")
        yield url, proc
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()


def summary_arg(parser: object) -> None:
    parser.add_argument(
        "--summary",
        metavar="FILE",  # type: ignore[attr-defined]
        help="append the result rows as JSON lines (benchmarks/run_all)",
    )
