"""Benchmark: one status sweep over 100,000 Payout Links vs the network bound (issue 11).

``batchpay status RUN_ID --concurrency 16`` asks DOKU about every link of a run once, on the
engine's one worker pool. The emulator runs in its own process with 50 ms added to every
request (``batchpay emulator --latency-ms 50 --state FILE``), as in batch_throughput.py.

Seeding: the links are sent by ``batchpay run`` (concurrency 32) to an emulator with *no*
latency and links that stay PENDING for an hour (``--link-step-seconds 3600``), so every row
is still open when the sweep starts. That emulator stops; a second one starts on the same
state file with the 50 ms latency, and the sweep runs against it exactly as a user runs it
(its URL and the public test credentials in BATCHPAY_BASE_URL / _CLIENT_ID / _SECRET_KEY).

Sweep phase = from the first status answer journaled to the last (each look-up refreshes the
row's ``last_seen_at``, committed with synchronous=FULL), plus one latency for the first
look-up's round trip. The network bound is n × latency ÷ concurrency seconds (at most
concurrency look-ups complete per latency). Ratio = bound ÷ sweep phase; target ≥ 0.85.
The whole command (start-up, reading the rows, the 100,000-row workbook) is shown beside it.

    .venv/bin/python benchmarks/status_sweep.py [--links 100000] [--latency-ms 50]
    SWEEP_LINKS=5000 .venv/bin/python benchmarks/status_sweep.py     # a quick check
"""

from __future__ import annotations

import argparse
import os
import sqlite3
import sys
import tempfile
import time
from datetime import UTC, datetime
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from _common import Report, batchpay, emulator_process, run_child, summary_arg
from _runs import batchpay_run, run_env
from datagen import write_clean_payout_link_csv

TARGET = 0.85


def _sweep_phase(ledger: Path, since: datetime) -> tuple[int, int, float]:
    """(rows, rows looked up since ``since``, seconds from the first answer to the last)."""
    conn = sqlite3.connect(ledger)
    try:
        rows = conn.execute("SELECT COUNT(*) FROM rows").fetchone()[0]
        seen = [
            datetime.fromisoformat(r[0])
            for r in conn.execute("SELECT last_seen_at FROM rows WHERE last_seen_at IS NOT NULL")
        ]
    finally:
        conn.close()
    swept = [t for t in seen if t >= since]
    if not swept:
        return rows, 0, 0.0
    return rows, len(swept), (max(swept) - min(swept)).total_seconds()


def _seed(root: Path, links: int) -> tuple[str, Path]:
    """``batchpay run`` of ``links`` Payout Links into a fresh journal; (run id, ledger)."""
    ledger = root / "ledger.sqlite"
    sheet = write_clean_payout_link_csv(root / "links.csv", links, prefix="SWEEP")
    with emulator_process(
        latency_ms=0, state=root / "emulator.sqlite", extra=("--link-step-seconds", "3600")
    ) as (url, _proc):
        batchpay_run(sheet, url, root, ledger, concurrency=32, extra=("--quiet",))
    conn = sqlite3.connect(ledger)
    try:
        run_id = conn.execute("SELECT run_id FROM runs").fetchone()[0]
    finally:
        conn.close()
    return str(run_id), ledger


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--links", type=int, default=int(os.environ.get("SWEEP_LINKS", 100_000)))
    parser.add_argument("--latency-ms", type=int, default=50)
    parser.add_argument("--concurrency", type=int, default=16)
    summary_arg(parser)
    args = parser.parse_args()
    latency = args.latency_ms / 1000
    report = Report(
        f"6. status sweep vs the network bound ({args.links:,} Payout Links, concurrency "
        f"{args.concurrency}, emulator +{args.latency_ms} ms per request, separate process)"
    )
    with tempfile.TemporaryDirectory(prefix="batchpay-bench-sweep-") as tmp:
        root = Path(tmp)
        started = time.perf_counter()
        run_id, ledger = _seed(root, args.links)
        print(f"seeded {args.links:,} links in {time.perf_counter() - started:.0f} s", flush=True)
        with emulator_process(latency_ms=args.latency_ms, state=root / "emulator.sqlite") as (
            url,
            _proc,
        ):
            since = datetime.now(UTC)
            sweep = run_child(
                batchpay("status", run_id, "--concurrency", str(args.concurrency)),
                cwd=root,
                env=run_env(url, root, ledger),
                timeout=3600,
            )
        if sweep.returncode != 0:
            raise SystemExit(
                f"batchpay status failed (exit {sweep.returncode}):\n"
                f"{sweep.stdout[-3000:]}\n{sweep.stderr[-3000:]}"
            )
        rows, swept, spread = _sweep_phase(ledger, since)
    if swept != rows:
        raise SystemExit(f"the sweep looked up {swept:,} of {rows:,} links")
    phase = spread + latency
    bound = args.links * latency / args.concurrency
    report.add(
        f"status sweep, concurrency {args.concurrency}: sweep phase",
        args.links / phase,
        "rows/s",
        note=f"{phase:.1f} s; bound {bound:.1f} s = {args.links:,} × {latency:g} s ÷ "
        f"{args.concurrency}",
    )
    report.add("  ratio to the network bound", bound / phase, "×", target=TARGET, direction=">=")
    report.add(
        "  (info) whole command ÷ bound",
        bound / sweep.seconds,
        "×",
        note=f"{sweep.seconds:.1f} s wall incl. start-up and workbook, "
        f"{sweep.maxrss_mb:.0f} MB peak",
    )
    return report.finish(args.summary)


if __name__ == "__main__":
    raise SystemExit(main())
