"""Benchmark: `batchpay run` overhead vs a bare client (issue 5, item 3; issue 12).

The emulator runs in its own process with no added latency. A 2,000-row Sub Account payout
sheet is paid at concurrency 1 by:

* ``batchpay run SHEET --concurrency 1`` as a user runs it (fresh process: start-up,
  validation, plan, journal with synchronous=FULL, balance preflight, sending with response
  signature checks, reconciliation workbook, summary);
* a bare loop in this process: one pooled ``requests.Session``, each request signed
  correctly (``batchpay.doku.signing``, the same Client-Id/Request-Id/Request-Timestamp/
  Signature headers) with a fresh Request-Id, the same body bytes batchpay sent (read back
  from its journal, the invoice prefix swapped so the emulator does not refuse them as
  duplicates), checking only the HTTP status.

Two ratios to the bare loop:

* batchpay's sending phase (first SENDING intent → last outcome, from its journal) — the
  per-row cost of journaling every intent durably (WAL, ``synchronous=FULL``) before its
  socket write, checking response signatures and classifying outcomes. Target ≤ 1.3
  (issue 12; issue 5 had 1.5).
* the whole command's wall time (interpreter start and imports, validation, plan,
  journaling the run, sending, the reconciliation workbook). Target ≤ 2.0 (issue 12); the
  table shows the seconds outside the sending phase.

    .venv/bin/python benchmarks/client_overhead.py [--rows 2000] [--repeat 2]
"""

from __future__ import annotations

import argparse
import sqlite3
import sys
import tempfile
import time
import uuid
from datetime import UTC, datetime
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

import requests
from _common import Report, emulator_process, summary_arg
from _runs import FUNDED, batchpay_run, sending_phase
from datagen import write_sac_payout_csv

from batchpay.doku import signing
from batchpay.emulator import EMULATOR_CLIENT_ID, EMULATOR_SECRET_KEY, EmulatorAdmin
from batchpay.kinds import SUB_ACCOUNT_PAYOUT

RATIO_TARGET = 1.3
WHOLE_TARGET = 2.0


def journal_bodies(ledger: Path) -> list[bytes]:
    conn = sqlite3.connect(ledger)
    try:
        return [bytes(r[0]) for r in conn.execute("SELECT body FROM rows ORDER BY row_number")]
    finally:
        conn.close()


def bare_loop(url: str, bodies: list[bytes]) -> float:
    """Signed POSTs, one at a time, on one pooled session; seconds for all of them."""
    target = SUB_ACCOUNT_PAYOUT.path
    with requests.Session() as session:
        session.trust_env = False
        started = time.perf_counter()
        for body in bodies:
            request_id = str(uuid.uuid4())
            stamp = signing.format_timestamp(datetime.now(UTC))
            headers = {
                "Client-Id": EMULATOR_CLIENT_ID,
                "Request-Id": request_id,
                "Request-Timestamp": stamp,
                "Signature": signing.sign_request(
                    scheme="hmac-sha256",
                    secret_key=EMULATOR_SECRET_KEY,
                    client_id=EMULATOR_CLIENT_ID,
                    request_id=request_id,
                    timestamp=stamp,
                    method="POST",
                    target=target,
                    body=body,
                ),
                "Content-Type": "application/json",
            }
            response = session.post(url + target, data=body, headers=headers, timeout=30)
            if response.status_code not in (200, 201):
                raise SystemExit(f"bare loop: HTTP {response.status_code} {response.text[:200]}")
        return time.perf_counter() - started


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=2000)
    parser.add_argument("--repeat", type=int, default=2, help="best of N (default 2)")
    summary_arg(parser)
    args = parser.parse_args()
    report = Report(
        f"3. overhead vs a bare client ({args.rows:,} Sub Account payouts, "
        "concurrency 1, emulator with no added latency)"
    )
    ours: list[float] = []
    phases: list[float] = []
    bares: list[float] = []
    with tempfile.TemporaryDirectory(prefix="batchpay-bench-overhead-") as tmp:
        root = Path(tmp)
        with emulator_process(state=root / "emulator.sqlite") as (url, _proc):
            EmulatorAdmin(url).fund(FUNDED, 10**12)
            # Interleaved, best of each: a burst of someone else's load must not decide it.
            for i in range(args.repeat):
                prefix = f"OV{i}"
                sheet = write_sac_payout_csv(
                    root / f"{prefix}.csv", args.rows, account=FUNDED, prefix=prefix
                )
                ledger = root / f"{prefix}.sqlite"
                run = batchpay_run(sheet, url, root, ledger, concurrency=1)
                ours.append(run.seconds)
                phases.append(sending_phase(ledger).seconds)
                bodies = [
                    b.replace(f'"{prefix}-'.encode(), f'"BA{i}-'.encode())
                    for b in journal_bodies(ledger)
                ]
                bares.append(bare_loop(url, bodies))
    bare, whole, phase = min(bares), min(ours), min(phases)
    report.add(
        "bare signed requests.Session loop", bare, "s", note=f"{args.rows / bare:,.0f} requests/s"
    )
    report.add(
        "batchpay run, sending phase (journal)", phase, "s", note=f"{args.rows / phase:,.0f} rows/s"
    )
    report.add("  ratio sending phase ÷ bare loop", phase / bare, "×", target=RATIO_TARGET)
    report.add("batchpay run, whole command", whole, "s")
    report.add(
        "  ratio whole command ÷ bare loop",
        whole / bare,
        "×",
        target=WHOLE_TARGET,
        note=f"{whole - phase:.1f} s of it outside the sending phase",
    )
    return report.finish(args.summary)


if __name__ == "__main__":
    raise SystemExit(main())
