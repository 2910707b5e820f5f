"""Run every benchmark of issues 5, 12, 14 and 15; one table, every ratio beside its target.

Called by ``benchmarks/run_all``; each script runs in its own process, generates its own data
in a temporary directory and appends its rows to a JSON-lines summary. Exit status 1 when a
target is missed or a script fails.

``--rounds N`` runs the whole set N times in a row (issue 12 asks for three) and prints, for
every measure, the median of the rounds, each round's value and in how many rounds the target
was met; the exit status is 0 only when every target was met in every round.
"""

from __future__ import annotations

import argparse
import json
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))

from _common import Row, fmt, render

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


def one_round(number: int, rounds: int) -> tuple[list[dict[str, Any]], list[str]]:
    """Every step once; the rows they reported and the steps that failed to run."""
    failed: list[str] = []
    with tempfile.TemporaryDirectory(prefix="batchpay-bench-") as tmp:
        summary = Path(tmp) / "summary.jsonl"
        summary.touch()
        for step in STEPS:
            t0 = time.perf_counter()
            where = f" (round {number}/{rounds})" if rounds > 1 else ""
            print(f"\n=== {' '.join(step)}{where}", flush=True)
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
    return records, failed


def _row(r: dict[str, Any], value: float | None, note: str) -> Row:
    return Row(
        r["measure"], value, r.get("unit", ""), r.get("target"), r.get("direction", "<="), note
    )


def _groups(records: list[dict[str, Any]]) -> dict[str, list[dict[str, Any]]]:
    groups: dict[str, list[dict[str, Any]]] = {}
    for r in records:
        groups.setdefault(r["benchmark"], []).append(r)
    return groups


def combine(
    rounds: list[list[dict[str, Any]]],
) -> tuple[list[tuple[str, list[Row]]], list[tuple[Row, int]]]:
    """Per benchmark, its rows with the median over the rounds (matched by position: a
    measure's label may carry a count), each round's value in the note; and each row with a
    target missed in some round, with the number of rounds it missed (a round that did not
    report the measure counts as missed)."""
    tables: list[tuple[str, list[Row]]] = []
    missed_rows: list[tuple[Row, int]] = []
    per_round = [_groups(records) for records in rounds]
    for title, first in per_round[0].items():
        rows: list[Row] = []
        for i, r in enumerate(first):
            found = [g[title][i] for g in per_round if title in g and len(g[title]) > i]
            values = [v["value"] for v in found if v["value"] is not None]
            missed = sum(_row(v, v["value"], "").ok is False for v in found)
            if r.get("target") is not None:
                missed += len(rounds) - len(found)
            median = statistics.median(values) if values else None
            unit = r.get("unit", "")
            note = r.get("note", "")
            if len(rounds) > 1:
                note = "rounds: " + " / ".join(fmt(v["value"], unit) for v in found)
                if r.get("target") is not None:
                    note += f"; met in {len(rounds) - missed} of {len(rounds)}"
            row = _row(r, median, note)
            rows.append(row)
            if missed:
                missed_rows.append((row, missed))
        tables.append((title, rows))
    return tables, missed_rows


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=1, help="run everything N times (median)")
    args = parser.parse_args()
    started = time.perf_counter()
    rounds: list[list[dict[str, Any]]] = []
    failed: list[str] = []
    for n in range(1, args.rounds + 1):
        records, failures = one_round(n, args.rounds)
        rounds.append(records)
        failed += [f"{name} (round {n})" for name in failures]
    elapsed = time.perf_counter() - started
    what = f"median of {args.rounds} rounds, " if args.rounds > 1 else ""
    print(f"\n\nbatchpay benchmarks — all results ({what}{elapsed / 60:.1f} min)\n")
    tables, missed_rows = combine(rounds)
    all_rows: list[Row] = []
    for title, rows in tables:
        print(title)
        print(render(rows))
        print()
        all_rows += rows
    for name in failed:
        print(f"FAILED to run: {name}")
    for row, _missed in missed_rows:
        print(f"MISSED: {row.measure.strip()}" + (f" ({row.note})" if args.rounds > 1 else ""))
    misses = sum(count for _row, count in missed_rows)
    met = sum(r.ok is True for r in all_rows)
    print(
        f"{met} targets met by the median, {sum(r.ok is False for r in all_rows)} missed; "
        f"{misses} misses across {args.rounds} round(s); {elapsed / 60:.1f} min"
    )
    return 1 if misses or failed else 0


if __name__ == "__main__":
    raise SystemExit(main())
