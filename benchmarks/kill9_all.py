"""Kill -9 at every k of a 300-row batch (issue 4, "Proof"): for k = 1..300, `batchpay run`
in a subprocess at concurrency 1, SIGKILL it right after the emulator executed its k-th
payout (held with the emulator's ``hold-after`` fault), release, `batchpay resume` in a
subprocess, then check every invariant of docs/safety.md (tests/helpers/proofs.py): zero
duplicates, zero lost rows, journal = emulator truth, workbook = journal.

CI runs 50 of these k (tests/test_kill9.py); this script runs them all.

Usage: .venv/bin/python benchmarks/kill9_all.py [--op payout-link|payout] [--rows 300]
       [--first 1] [--last ROWS] [--workers 1]
``--workers 2`` runs two cycles at a time, each against its own emulator.
Exit status: 0 when every cycle held every invariant, 1 otherwise.
"""

from __future__ import annotations

import argparse
import statistics
import sys
import tempfile
import threading
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # for tests.helpers

from batchpay.emulator import start_emulator
from tests.helpers.proofs import Kill9Result, kill9_cycle
from tests.helpers.runs import FUNDED, payout_link_rows, sac_payout_rows, write_csv


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--op", choices=["payout-link", "payout"], default="payout-link")
    parser.add_argument("--rows", type=int, default=300)
    parser.add_argument("--first", type=int, default=1)
    parser.add_argument("--last", type=int, default=None)
    parser.add_argument("--workers", type=int, default=1)
    args = parser.parse_args()
    last = args.last or args.rows
    ks = list(range(args.first, last + 1))
    results: list[Kill9Result] = []
    lock = threading.Lock()
    started = time.monotonic()

    with tempfile.TemporaryDirectory(prefix="batchpay-kill9-") as tmp:
        root = Path(tmp)
        rows = (
            payout_link_rows(args.rows) if args.op == "payout-link" else sac_payout_rows(args.rows)
        )
        sheet = write_csv(root / "batch.csv", rows)

        def worker(index: int) -> None:
            handle = start_emulator(
                port=0, link_step_seconds=0, state_path=root / f"emulator-{index}.sqlite"
            )
            fund = (
                (lambda: handle.admin.fund(FUNDED, 100_000 * args.rows))
                if args.op == "payout"
                else None
            )
            try:
                while True:
                    with lock:
                        if not ks:
                            return
                        k = ks.pop(0)
                    result = kill9_cycle(
                        admin=handle.admin,
                        url=handle.url,
                        workdir=root / f"k{k:04d}",
                        sheet=sheet,
                        input_rows=rows,
                        k=k,
                        op=args.op,
                        fund=fund,
                    )
                    with lock:
                        results.append(result)
                        mark = "ok  " if result.failure is None else "FAIL"
                        print(
                            f"{mark} k={k:<4} {result.seconds:5.2f}s  run {result.run_id}",
                            flush=True,
                        )
                        if result.failure:
                            print(f"     {result.failure}", flush=True)
            finally:
                handle.stop()

        threads = [threading.Thread(target=worker, args=(i,)) for i in range(args.workers)]
        for t in threads:
            t.start()
        for t in threads:
            t.join()

    elapsed = time.monotonic() - started
    failures = [r for r in results if r.failure is not None]
    times = [r.seconds for r in results]
    print()
    print(
        f"kill -9 cycles: {len(results)} ({args.op}, {args.rows}-row batch, k = "
        f"{args.first}..{last}, {args.workers} worker(s))"
    )
    print(
        f"failures: {len(failures)}"
        + (f" (k = {', '.join(str(r.k) for r in failures)})" if failures else "")
    )
    if times:
        print(
            f"cycle time: mean {statistics.mean(times):.2f}s, median "
            f"{statistics.median(times):.2f}s, max {max(times):.2f}s; "
            f"total {elapsed:.0f}s"
        )
    return 1 if failures or len(results) != last - args.first + 1 else 0


if __name__ == "__main__":
    sys.exit(main())
