"""Benchmark: start-up — how long a user waits for the first output (issue 12).

Fresh processes of the ``batchpay`` console script, as a user starts them:

* ``batchpay --help``;
* ``batchpay validate SHEET`` on a small generated payout-link sheet (20 rows, a few of them
  bad), the report workbook written.

For each: the time from fork to the first byte on stdout or stderr (what the user sees
first), target ≤ 0.3 s, and to exit (information). Best of ``--repeat`` (the machine is
shared). The import profile behind the numbers: ``python -X importtime -m batchpay …``.

    .venv/bin/python benchmarks/startup.py [--repeat 5]
"""

from __future__ import annotations

import argparse
import os
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


def first_output(args: Sequence[str], cwd: Path) -> tuple[float, float]:
    """(seconds to the first byte of output, seconds to exit) of one fresh process."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("BATCHPAY_")}
    env["BATCHPAY_HOME"] = str(cwd / "home")
    started = time.perf_counter()
    proc = subprocess.Popen(
        list(args),
        cwd=cwd,
        env=env,
        stdin=subprocess.DEVNULL,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
    )
    assert proc.stdout is not None
    first = proc.stdout.read(1)
    seen = time.perf_counter() - started
    proc.stdout.read()
    proc.wait()
    done = time.perf_counter() - started
    if not first or proc.returncode not in (0, 1):
        raise SystemExit(f"{' '.join(args)} failed (exit {proc.returncode})")
    return seen, done


def best_of(args: Sequence[str], cwd: Path, repeat: int) -> tuple[float, float]:
    runs = [first_output(args, cwd) for _ in range(repeat)]
    return min(r[0] for r in runs), min(r[1] for r in runs)


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
        help_first, help_done = best_of(batchpay("--help"), root, args.repeat)
        val_first, val_done = best_of(batchpay("validate", str(sheet)), root, args.repeat)
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
    report.add("  (info) validate, to exit (report written)", val_done, "s")
    return report.finish(args.summary)


if __name__ == "__main__":
    raise SystemExit(main())
