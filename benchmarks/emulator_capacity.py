"""How many signed DOKU requests per second the emulator sustains (target: 500/s on 2 cores).

Starts ``batchpay emulator`` in its own process (so the server and this load generator do not
share one GIL), funds a sub account, then fires N signed requests from a few threads, each with
its own pooled ``requests.Session``. The mix is the one a batch run produces: Sub Account
payouts and Payout Link initiations (writes: idempotency record + execution + executed log),
plus balance and status look-ups. Every response must be 2xx.

Bodies and signatures are prepared before the clock starts: the figure is the server's
capacity, not the client's signing speed.

Usage: .venv/bin/python benchmarks/emulator_capacity.py [--requests 4000] [--threads 4]
       [--in-memory] [--in-process]
Exit status: 0 when requests/s ≥ target and no request failed, 1 otherwise.
"""

from __future__ import annotations

import argparse
import contextlib
import re
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path

import requests

from batchpay.doku import signing
from batchpay.emulator import EMULATOR_CLIENT_ID, EMULATOR_SECRET_KEY, EmulatorAdmin
from batchpay.kinds import dumps_exact

TARGET = 500.0
ACCOUNT = "SAC-0001-1234567890123"

Prepared = tuple[str, str, dict[str, str], bytes | None]  # method, path, headers, body


def _signed(
    method: str, path: str, request_id: str, body: bytes | None, scheme: signing.Scheme
) -> Prepared:
    stamp = signing.format_timestamp(datetime.now(UTC))
    signature = signing.sign_request(
        scheme=scheme,
        secret_key=EMULATOR_SECRET_KEY,
        client_id=EMULATOR_CLIENT_ID,
        request_id=request_id,
        timestamp=stamp,
        method=method,
        target=path,
        body=body,
    )
    headers = {
        "Client-Id": EMULATOR_CLIENT_ID,
        "Request-Id": request_id,
        "Request-Timestamp": stamp,
        "Signature": signature,
        "Content-Type": "application/json",
    }
    return method, path, headers, body


def prepare(n: int) -> list[Prepared]:
    """A batch-like mix: 2 payouts : 1 payout link : 1 read (balance or status)."""
    out: list[Prepared] = []
    for i in range(n):
        slot = i % 4
        if slot in (0, 1):
            body = dumps_exact(
                {
                    "account": {"id": ACCOUNT},
                    "payout": {"amount": 1000, "invoice_number": f"BENCH-PO-{i:07d}"},
                    "beneficiary": {
                        "bank_code": "BNINIDJA",
                        "bank_account_number": "0123456789",
                        "bank_account_name": "Budi Santoso",
                    },
                }
            )
            out.append(
                _signed("POST", "/sac-merchant/v1/payouts", f"bench-{i:07d}", body, "hmac-sha256")
            )
        elif slot == 2:
            body = dumps_exact(
                {
                    "amount": 11500,
                    "sender_name": "PT Maju",
                    "receiver_name": "Siti",
                    "receiver_phone_number": "6281234567890",
                    "receiver_email": "siti@example.com",
                    "reference_id": f"BENCH-PL-{i:07d}",
                    "currency": "IDR",
                }
            )
            out.append(
                _signed("POST", "/v1/payout/initiate", f"{9000000 + i}", body, "snap-hmac-sha512")
            )
        elif i % 8 == 3:
            out.append(
                _signed(
                    "GET",
                    f"/sac-merchant/v1/balances/{ACCOUNT}",
                    f"bench-{i:07d}",
                    None,
                    "hmac-sha256",
                )
            )
        else:
            body = dumps_exact({"transaction_id": f"BENCH-PL-{i - 1:07d}"})
            out.append(
                _signed("POST", "/v1/payout/status", f"{9000000 + i}", body, "snap-hmac-sha512")
            )
    return out


@contextlib.contextmanager
def emulator_url(*, in_memory: bool, in_process: bool) -> Iterator[str]:
    with tempfile.TemporaryDirectory() as tmp:
        state = None if in_memory else Path(tmp) / "emulator.sqlite"
        if in_process:
            from batchpay.emulator import start_emulator

            with start_emulator(state_path=state) as handle:
                yield handle.url
            return
        args = [sys.executable, "-m", "batchpay", "emulator", "--port", "0"]
        if state is not None:
            args += ["--state", str(state)]
        proc = subprocess.Popen(args, stdout=subprocess.PIPE, text=True)
        try:
            assert proc.stdout is not None
            for line in proc.stdout:
                found = re.search(r"listening on (http://\S+)", line)
                if found:
                    yield found.group(1)
                    break
            else:
                raise SystemExit("the emulator did not start")
        finally:
            proc.terminate()
            proc.wait(timeout=10)


def fire(url: str, work: list[Prepared], failures: list[str]) -> None:
    with requests.Session() as session:
        for method, path, headers, body in work:
            response = session.request(method, url + path, headers=headers, data=body, timeout=30)
            if response.status_code not in (200, 201):
                failures.append(f"{method} {path}: {response.status_code} {response.text[:120]}")


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--requests", type=int, default=4000)
    parser.add_argument("--threads", type=int, default=4)
    parser.add_argument("--in-memory", action="store_true", help="no state file")
    parser.add_argument(
        "--summary",
        metavar="FILE",
        help="append the result rows as JSON lines (benchmarks/run_all)",
    )
    parser.add_argument(
        "--in-process",
        action="store_true",
        help="serve from this process (shares the GIL with the load)",
    )
    args = parser.parse_args()
    work = prepare(args.requests)
    # Status look-ups must follow their link's creation, so each thread takes whole
    # 4-request groups in order.
    groups = [work[i : i + 4] for i in range(0, len(work), 4)]
    shares = [[r for g in groups[t :: args.threads] for r in g] for t in range(args.threads)]
    failures: list[str] = []
    with emulator_url(in_memory=args.in_memory, in_process=args.in_process) as url:
        EmulatorAdmin(url).fund(ACCOUNT, 10**11)
        threads = [threading.Thread(target=fire, args=(url, share, failures)) for share in shares]
        started = time.perf_counter()
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
        elapsed = time.perf_counter() - started
        executed = EmulatorAdmin(url).executed()
    rate = len(work) / elapsed
    mode = ("in-process" if args.in_process else "subprocess") + (
        ", in-memory" if args.in_memory else ", SQLite file (WAL, synchronous=NORMAL)"
    )
    print(f"{len(work)} requests, {args.threads} threads, {mode}: {elapsed:.2f} s")
    print(f"{rate:.0f} requests/s — {rate / TARGET:.2f}× the {TARGET:.0f}/s target")
    print(
        f"executed at the gateway: {executed['count']} "
        f"(max per reference {executed['max_per_reference']})"
    )
    for failure in failures[:5]:
        print("FAILED:", failure)
    if args.summary:
        import json

        with open(args.summary, "a", encoding="utf-8") as fh:
            fh.write(
                json.dumps(
                    {
                        "benchmark": "5. emulator capacity (benchmarks/emulator_capacity.py)",
                        "measure": f"signed requests/s, {args.threads} client threads, {mode}",
                        "value": rate,
                        "unit": "req/s",
                        "target": TARGET,
                        "direction": ">=",
                        "note": f"{len(failures)} failed",
                    }
                )
                + "\n"
            )
    return 0 if rate >= TARGET and not failures else 1


if __name__ == "__main__":
    raise SystemExit(main())
