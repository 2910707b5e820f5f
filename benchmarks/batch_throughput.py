"""Benchmark: batch throughput vs the network bound (issue 5, item 2).

The emulator runs in its own process with 50 ms added to every request (``batchpay
emulator --latency-ms 50 --state FILE``). ``batchpay run`` sends a 2,000-row sheet to it at
concurrency 1, 4, 16 and 32, each run with a fresh journal, exactly as a user runs it (the
emulator's URL and credentials in BATCHPAY_BASE_URL / _CLIENT_ID / _SECRET_KEY).

Achieved rows/s = rows ÷ the sending phase, taken from the run's own journal: from the first
SENDING intent (committed with synchronous=FULL before its socket write) to the last outcome
journaled. The network bound is concurrency ÷ latency (at most that many requests can
complete per second). Ratio = achieved ÷ bound; targets ≥ 0.9 at 1 and 4, ≥ 0.85 at 16;
32 is reported only. The whole command's wall time (start-up, validation, plan, journal,
workbook) is shown beside it for information.

Sheets: Sub Account payouts (from one funded account) at every concurrency, and Payout Link
initiations at 16 and 32 (the other product's path through the same engine; same targets).

    .venv/bin/python benchmarks/batch_throughput.py [--rows 2000] [--latency-ms 50]
"""

from __future__ import annotations

import argparse
import sys
import tempfile
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from _common import Report, emulator_process, summary_arg
from _runs import FUNDED, batchpay_run, sending_phase
from datagen import write_clean_payout_link_csv, write_sac_payout_csv

from batchpay.emulator import EmulatorAdmin

TARGETS = {1: 0.9, 4: 0.9, 16: 0.85}


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=2000)
    parser.add_argument("--latency-ms", type=int, default=50)
    parser.add_argument("--concurrency", type=int, nargs="+", default=[1, 4, 16, 32])
    parser.add_argument("--link-concurrency", type=int, nargs="*", default=[16, 32])
    summary_arg(parser)
    args = parser.parse_args()
    latency = args.latency_ms / 1000
    report = Report(
        f"2. batch throughput vs the network bound ({args.rows:,} rows, "
        f"emulator +{args.latency_ms} ms per request, separate process)"
    )
    with tempfile.TemporaryDirectory(prefix="batchpay-bench-throughput-") as tmp:
        root = Path(tmp)
        with emulator_process(latency_ms=args.latency_ms, state=root / "emulator.sqlite") as (
            url,
            _proc,
        ):
            EmulatorAdmin(url).fund(FUNDED, 10**12)
            cases = [("sub-account-payout", c) for c in args.concurrency]
            cases += [("payout-link", c) for c in args.link_concurrency]
            for kind, concurrency in cases:
                prefix = f"C{concurrency}{'PL' if kind == 'payout-link' else 'PO'}"
                sheet = (
                    write_sac_payout_csv(
                        root / f"{prefix}.csv", args.rows, account=FUNDED, prefix=prefix
                    )
                    if kind == "sub-account-payout"
                    else write_clean_payout_link_csv(
                        root / f"{prefix}.csv", args.rows, prefix=prefix
                    )
                )
                ledger = root / f"{prefix}.sqlite"
                run = batchpay_run(sheet, url, root, ledger, concurrency=concurrency)
                phase = sending_phase(ledger)
                bound = concurrency / latency
                label = "payouts" if kind == "sub-account-payout" else "payout links"
                report.add(
                    f"{label}, concurrency {concurrency}: sending phase",
                    phase.rate,
                    "rows/s",
                    note=f"{phase.seconds:.1f} s; bound {bound:,.0f}/s; "
                    f"{phase.commits_per_row:.2f} journal commits/row",
                )
                target = TARGETS.get(concurrency)
                report.add(
                    "  ratio to concurrency ÷ latency",
                    phase.rate / bound,
                    "×",
                    target=target,
                    direction=">=",
                )
                report.add(
                    "  (info) whole command",
                    args.rows / run.seconds,
                    "rows/s",
                    note=f"{run.seconds:.1f} s wall, {run.maxrss_mb:.0f} MB peak",
                )
    return report.finish(args.summary)


if __name__ == "__main__":
    raise SystemExit(main())
