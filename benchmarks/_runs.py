"""Running ``batchpay run`` against a separately started emulator, and reading the sending
phase back from the journal (shared by batch_throughput, client_overhead and run_memory)."""

from __future__ import annotations

import os
import sqlite3
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path

from _common import ChildRun, batchpay, run_child

from batchpay.emulator import EMULATOR_CLIENT_ID, EMULATOR_SECRET_KEY

FUNDED = "SAC-0001-1800000000001"


def run_env(url: str, root: Path, ledger: Path) -> dict[str, str]:
    """The environment a user would set to point batchpay at a DOKU (here: the emulator's
    URL and its public test credentials)."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("BATCHPAY_")}
    env.update(
        {
            "BATCHPAY_ENV": "emulator",
            "BATCHPAY_BASE_URL": url,
            "BATCHPAY_CLIENT_ID": EMULATOR_CLIENT_ID,
            "BATCHPAY_SECRET_KEY": EMULATOR_SECRET_KEY,
            "BATCHPAY_HOME": str(root / "home"),
            "BATCHPAY_LEDGER": str(ledger),
        }
    )
    return env


@dataclass
class Sending:
    rows: int
    seconds: float  # first SENDING intent journaled → last outcome journaled
    commits_per_row: float  # journal transactions / rows (group commit at work when < 2)

    @property
    def rate(self) -> float:
        return self.rows / self.seconds if self.seconds > 0 else float("inf")


def _at(text: str) -> datetime:
    return datetime.fromisoformat(text)


def sending_phase(ledger: Path) -> Sending:
    """The sending phase of the (only) run in ``ledger``, from its own events: from the
    first ``send`` event (the SENDING intent, committed before the socket write) to the last
    ``outcome`` event. Timestamps are the journal's, in milliseconds."""
    conn = sqlite3.connect(ledger)
    try:
        first = conn.execute("SELECT MIN(at) FROM events WHERE type='send'").fetchone()[0]
        last = conn.execute("SELECT MAX(at) FROM events WHERE type='outcome'").fetchone()[0]
        rows = conn.execute("SELECT COUNT(*) FROM rows").fetchone()[0]
        batches = conn.execute(
            "SELECT COUNT(DISTINCT at) FROM events WHERE type IN ('send','outcome')"
        ).fetchone()[0]
        bad = conn.execute(
            "SELECT state, COUNT(*) FROM rows WHERE state NOT IN "
            "('SUCCESS','PENDING','EMAIL_SENT','COMPLETED') GROUP BY state"
        ).fetchall()
    finally:
        conn.close()
    if bad:
        raise SystemExit(f"rows not accepted by the emulator: {bad}")
    seconds = (_at(last) - _at(first)).total_seconds()
    return Sending(rows, seconds, batches / rows if rows else 0.0)


def batchpay_run(
    sheet: Path,
    url: str,
    root: Path,
    ledger: Path,
    *,
    concurrency: int,
    extra: tuple[str, ...] = (),
) -> ChildRun:
    run = run_child(
        batchpay("run", str(sheet), "--concurrency", str(concurrency), *extra),
        cwd=root,
        env=run_env(url, root, ledger),
        timeout=900,
    )
    if run.returncode != 0:
        raise SystemExit(
            f"batchpay run failed (exit {run.returncode}):\n"
            f"{run.stdout[-3000:]}\n{run.stderr[-3000:]}"
        )
    return run
