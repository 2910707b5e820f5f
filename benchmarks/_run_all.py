"""Run every benchmark of issues 5, 12, 14 and 15; one table, every ratio beside its target.

Called by ``benchmarks/run_all``; each script runs in its own process, generates its own data
in a temporary directory and appends its rows to a JSON-lines summary. Exit status 1 when a
target is missed or a script fails.
"""

from __future__ import annotations

import json
import subprocess
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from _common import Row, render

HERE = Path(__file__).resolve().parent
STEPS: list[list[str]] = [
    ["emulator_capacity.py"],
    ["validation_speed.py"],
    ["batch_throughput.py"],
    ["workers.py"],
    ["client_overhead.py"],
    ["report_speed.py", "--quick"],
    ["run_memory.py"],
    ["startup.py"],
    ["status_sweep.py"],
    ["web_upload.py"],
    ["web_progress.py"],
]


def main() -> int:
    started = time.perf_counter()
    failed: list[str] = []
    with tempfile.TemporaryDirectory(prefix="batchpay-bench-") as tmp:
        summary = Path(tmp) / "summary.jsonl"
        summary.touch()
        for step in STEPS:
            t0 = time.perf_counter()
            print(f"\n=== {' '.join(step)}", flush=True)
            proc = subprocess.run(
                [sys.executable, str(HERE / step[0]), *step[1:], "--summary", str(summary)],
                check=False,
            )
            print(
                f"=== {step[0]}: exit {proc.returncode}, {time.perf_counter() - t0:.0f} s",
                flush=True,
            )
            if proc.returncode not in (0, 1):
                failed.append(step[0])
        records = [json.loads(line) for line in summary.read_text().splitlines() if line]
    elapsed = time.perf_counter() - started
    print(f"\n\nbatchpay benchmarks — all results ({elapsed / 60:.1f} min)\n")
    rows: list[Row] = []
    for title in dict.fromkeys(r["benchmark"] for r in records):
        print(title)
        group = [
            Row(
                r["measure"],
                r["value"],
                r.get("unit", ""),
                r.get("target"),
                r.get("direction", "<="),
                r.get("note", ""),
            )
            for r in records
            if r["benchmark"] == title
        ]
        rows += group
        print(render(group))
        print()
    missed = [r.measure.strip() for r in rows if r.ok is False]
    for name in failed:
        print(f"FAILED to run: {name}")
    for name in missed:
        print(f"MISSED: {name}")
    print(
        f"{sum(r.ok is True for r in rows)} targets met, {len(missed)} missed; "
        f"{elapsed / 60:.1f} min"
    )
    return 1 if missed or failed else 0


if __name__ == "__main__":
    raise SystemExit(main())
