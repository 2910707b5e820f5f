"""Benchmark: start-up — how long a user waits for the first output (issue 12).

Fresh processes of the ``batchpay`` console script, as a user starts them:

* ``batchpay --help``;
* ``batchpay validate SHEET`` on a small generated payout-link sheet (20 rows, a few of them
  bad), the report workbook written.

Each runs in a pseudo-terminal (stdout and stderr both), as at a user's prompt: what
``validate`` shows first there is its ``Checking SHEET (size)…`` line on stderr, printed before
pandas and pandera load; a pipe gets no such line, so measuring through one would time a
different experience. For each: the time from fork to the first byte the terminal shows,
target ≤ 0.3 s, and (information) to the verdict's first line and to exit. Best of
``--repeat`` (the machine is shared). The import profile behind the numbers:
``python -X importtime -m batchpay …``.

    .venv/bin/python benchmarks/startup.py [--repeat 5]
"""

from __future__ import annotations

import argparse
import os
import pty
import re
import subprocess
import sys
import tempfile
import time
from collections.abc import Sequence
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from _common import Report, batchpay, summary_arg
from datagen import write_payout_link_csv

FIRST_OUTPUT_TARGET = 0.3


def first_output(args: Sequence[str], cwd: Path, verdict: str = "") -> tuple[float, float, float]:
    """(seconds to the first byte the terminal shows, to the first line starting with
    ``verdict`` (or that first byte), to exit) of one fresh process in a pseudo-terminal."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("BATCHPAY_")}
    env["BATCHPAY_HOME"] = str(cwd / "home")
    master, slave = pty.openpty()
    started = time.perf_counter()
    try:
        proc = subprocess.Popen(
            list(args), cwd=cwd, env=env, stdin=subprocess.DEVNULL, stdout=slave, stderr=slave
        )
    finally:
        os.close(slave)
    seen = verdict_at = None
    output = b""
    while True:
        try:
            chunk = os.read(master, 65536)
        except OSError:  # EIO: every writer closed its end (the process exited)
            chunk = b""
        if not chunk:
            break
        now = time.perf_counter() - started
        if seen is None:
            seen = now
        output += chunk
        if verdict_at is None and (not verdict or re.search(rb"(?m)^" + verdict.encode(), output)):
            verdict_at = now
    os.close(master)
    proc.wait()
    done = time.perf_counter() - started
    if seen is None or verdict_at is None or proc.returncode not in (0, 1):
        raise SystemExit(f"{' '.join(args)} failed (exit {proc.returncode}):\n{output[-2000:]!r}")
    return seen, verdict_at, done


def best_of(
    args: Sequence[str], cwd: Path, repeat: int, verdict: str = ""
) -> tuple[float, float, float]:
    runs = [first_output(args, cwd, verdict) for _ in range(repeat)]
    return min(r[0] for r in runs), min(r[1] for r in runs), min(r[2] for r in runs)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeat", type=int, default=5, help="best of N (default 5)")
    summary_arg(parser)
    args = parser.parse_args()
    report = Report("6. start-up to first output (fresh process, best of N)")
    with tempfile.TemporaryDirectory(prefix="batchpay-bench-startup-") as tmp:
        root = Path(tmp)
        sheet = write_payout_link_csv(root / "bonus.csv", 20, bad_rate=0.2)
        best_of(batchpay("--help"), root, 1)  # warm the page cache
        help_first, _, help_done = best_of(batchpay("--help"), root, args.repeat)
        val_first, val_verdict, val_done = best_of(
            batchpay("validate", str(sheet)), root, args.repeat, verdict="NOT VALID"
        )
    report.add(
        "batchpay --help: first output",
        help_first,
        "s",
        target=FIRST_OUTPUT_TARGET,
        note=f"exit after {help_done:.2f} s",
    )
    report.add(
        "batchpay validate (20 rows): first output",
        val_first,
        "s",
        target=FIRST_OUTPUT_TARGET,
    )
    report.add("  (info) validate, to the verdict's first line", val_verdict, "s")
    report.add("  (info) validate, to exit (report written)", val_done, "s")
    return report.finish(args.summary)


if __name__ == "__main__":
    raise SystemExit(main())
