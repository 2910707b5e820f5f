"""Helpers for journal, runner and run-CLI tests: sheets per kind, a real emulator over real
sockets, a client with short timeouts, and a harness that plans and executes runs.

The ``emulator`` fixture (tests/conftest.py) is the real emulator these helpers talk to;
the ``harness`` fixture there is :func:`open_harness`.
"""

from __future__ import annotations

import csv
import threading
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from click.testing import CliRunner, Result

from batchpay import cli as cli_module
from batchpay import runs
from batchpay.doku import make_session
from batchpay.doku.client import DokuClient
from batchpay.emulator import EMULATOR_CLIENT_ID, EMULATOR_SECRET_KEY
from batchpay.emulator.runtime import EmulatorHandle
from batchpay.journal import RunRecord, open_journal
from batchpay.journal.sqlite import SqliteJournal
from batchpay.runs import plan as planning
from batchpay.runs.options import EngineOptions
from batchpay.validate import validate_file

FUNDED = "SAC-0001-1700000000001"
FUNDED_2 = "SAC-0001-1700000000002"
DESTINATION = "SAC-0002-1700000000011"

# --- sheets -----------------------------------------------------------------------------------


def payout_link_rows(
    n: int, *, prefix: str = "PL", amount: str = "1500000", email: str = "receiver{i}@example.co.id"
) -> list[dict[str, str]]:
    return [
        {
            "receiver_name": "Siti Rahayu",
            "receiver_phone_number": f"0812345{i:05d}",
            "receiver_email": email.format(i=i),
            "amount": amount,
            "reference_id": f"{prefix}-{i:04d}",
            "description": "Bonus Q4",
            "sender_name": "PT Maju Jaya",
        }
        for i in range(1, n + 1)
    ]


def sac_payout_rows(
    n: int, *, prefix: str = "INV", account: str = FUNDED, amount: str = "100000"
) -> list[dict[str, str]]:
    return [
        {
            "account_id": account,
            "amount": amount,
            "invoice_number": f"{prefix}-{i:04d}",
            "bank_code": "CENAIDJA",
            "bank_account_number": f"01234{i:05d}",
            "bank_account_name": "Budi Santoso",
        }
        for i in range(1, n + 1)
    ]


def transfer_rows(
    n: int,
    *,
    prefix: str = "TRF",
    origin: str = FUNDED,
    destination: str = DESTINATION,
    amount: str = "50000",
) -> list[dict[str, str]]:
    return [
        {
            "origin": origin,
            "destination": destination,
            "amount": amount,
            "invoice_number": f"{prefix}-{i:04d}",
        }
        for i in range(1, n + 1)
    ]


def create_rows(n: int, *, prefix: str = "toko") -> list[dict[str, str]]:
    return [
        {"email": f"{prefix}{i}@example.co.id", "type": "STANDARD", "name": "Toko Sejahtera"}
        for i in range(1, n + 1)
    ]


def write_csv(path: Path, rows: Sequence[dict[str, str]]) -> Path:
    with path.open("w", newline="", encoding="utf-8") as fh:
        writer = csv.DictWriter(fh, fieldnames=list(rows[0]))
        writer.writeheader()
        writer.writerows(rows)
    return path


# --- emulator and client ----------------------------------------------------------------------


def make_client(url: str, *, read_timeout: float = 5.0) -> DokuClient:
    return DokuClient(
        base_url=url,
        client_id=EMULATOR_CLIENT_ID,
        secret_key=EMULATOR_SECRET_KEY,
        session=make_session(trust_env=False),
        timeout=(2.0, read_timeout),
    )


def no_sleep(seconds: float) -> None:
    """Backoff without waiting: tests pin timing, the emulator faults are one-shot."""


@dataclass
class Harness:
    """A ledger in tmp_path, a client against the module's emulator, and shortcuts."""

    tmp: Path
    emulator: EmulatorHandle
    ledger: SqliteJournal
    client: DokuClient
    sleeps: list[float] = field(default_factory=list)

    @property
    def admin(self) -> Any:
        return self.emulator.admin

    def sleep(self, seconds: float) -> None:
        self.sleeps.append(seconds)

    def sheet(self, name: str, rows: Sequence[dict[str, str]]) -> Path:
        return write_csv(self.tmp / name, rows)

    def plan(self, sheet: Path, *, env: str = "emulator") -> planning.Plan:
        result = validate_file(sheet)
        assert result.ok, [p.render() for p in result.problems]
        return planning.plan(result, env=env)

    def start(self, sheet: Path, *, dry_run: bool = False) -> RunRecord:
        return runs.create_run(
            self.ledger, self.plan(sheet), settings={"test": True}, dry_run=dry_run
        )

    def options(self, **kw: Any) -> EngineOptions:
        kw.setdefault("jitter", lambda d: d)
        return EngineOptions(**kw)

    def execute(
        self,
        run_id: str,
        *,
        stop: threading.Event | None = None,
        client: DokuClient | None = None,
        **kw: Any,
    ) -> runs.RunResult:
        return runs.execute(
            self.ledger,
            client or self.client,
            run_id,
            options=self.options(**kw),
            sleep=self.sleep,
            stop=stop,
        )

    def resume(self, run_id: str, *, client: DokuClient | None = None, **kw: Any) -> runs.RunResult:
        return runs.resume(
            self.ledger, client or self.client, run_id, options=self.options(**kw), sleep=self.sleep
        )

    def run(self, sheet: Path, **kw: Any) -> runs.RunResult:
        return self.execute(self.start(sheet).run_id, **kw)

    def executed(self, op: str | None = None) -> dict[str, Any]:
        return self.admin.executed(op)


@contextmanager
def open_harness(
    emulator: EmulatorHandle, tmp_path: Path, journal_at: str | None = None
) -> Iterator[Harness]:
    """A :class:`Harness` on ``emulator`` (reset first; its faults cleared afterwards); its
    journal a SQLite file in ``tmp_path``, or the PostgreSQL URL ``journal_at``."""
    emulator.admin.reset()
    client = make_client(emulator.url)
    ledger = (
        SqliteJournal(tmp_path / "ledger.sqlite", create=True)
        if journal_at is None
        else open_journal(journal_at, create=True)
    )
    h = Harness(
        tmp=tmp_path,
        emulator=emulator,
        ledger=ledger,  # type: ignore[arg-type]
        client=client,
    )
    try:
        yield h
    finally:
        client.session.close()
        emulator.admin.clear_faults()


# --- CLI --------------------------------------------------------------------------------------


class _Main:
    """Lets CliRunner drive :func:`batchpay.cli.main`, so the error → exit code mapping is
    part of what is tested."""

    name = "batchpay"

    def main(self, args: Any = None, prog_name: str | None = None, **_: Any) -> None:
        cli_module.main(list(args or ()))


def run_cli(*args: str, input: str | None = None) -> Result:
    return CliRunner().invoke(_Main(), list(args), input=input)  # type: ignore[arg-type]
