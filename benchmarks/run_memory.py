"""Benchmark: peak memory of a 100,000-row `batchpay run` (issue 5, item 4; issue 12).

The emulator runs in its own process with no added latency; ``batchpay run`` pays a
100,000-row Payout Link bonus sheet at concurrency 32 — validation, plan, journal, sending,
and the reconciliation workbook, as a user runs it. Peak RSS of the batchpay process
(``wait4``), target ≤ 400 MB (issue 12; issue 5 had 500 MB). Wall time and throughput are
shown for information.

    .venv/bin/python benchmarks/run_memory.py [--rows 100000] [--concurrency 32]
"""

from __future__ import annotations

import argparse
import sys
import tempfile
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from _common import Report, emulator_process, summary_arg
from _runs import batchpay_run, sending_phase
from datagen import write_clean_payout_link_csv

MEMORY_TARGET_MB = 400.0


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=100_000)
    parser.add_argument("--concurrency", type=int, default=32)
    summary_arg(parser)
    args = parser.parse_args()
    report = Report(
        f"4b. peak memory of a {args.rows:,}-row batchpay run (Payout Link, "
        f"concurrency {args.concurrency}, emulator with no added latency)"
    )
    with tempfile.TemporaryDirectory(prefix="batchpay-bench-memory-") as tmp:
        root = Path(tmp)
        sheet = write_clean_payout_link_csv(root / "bonus.csv", args.rows, prefix="MEM")
        with emulator_process(state=root / "emulator.sqlite") as (url, _proc):
            ledger = root / "ledger.sqlite"
            run = batchpay_run(sheet, url, root, ledger, concurrency=args.concurrency)
            phase = sending_phase(ledger)
    report.add("peak memory of batchpay run", run.maxrss_mb, "MB", target=MEMORY_TARGET_MB)
    report.add("  (info) whole command", run.seconds, "s")
    report.add("  (info) sending phase", phase.rate, "rows/s", note=f"{phase.seconds:.1f} s")
    return report.finish(args.summary)


if __name__ == "__main__":
    raise SystemExit(main())
