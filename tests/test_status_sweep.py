"""``batchpay status --concurrency N`` (issue 11, "Following links at scale"): the look-ups run
on the one engine pool, N at a time (default 8, 1..64), and its work queue hands rows out
in O(1) each (the old ``pending.pop(0)`` queue was O(n²) over a sweep).

The emulator holds status answers (``hold-after`` on op ``status``), so the number of
look-ups in flight at once is read from the emulator itself, not from timing."""

from __future__ import annotations

import threading
import time
from pathlib import Path

import pytest
from click.testing import Result

from batchpay.config import load_settings
from batchpay.emulator.runtime import EmulatorHandle
from batchpay.journal.sqlite import SqliteJournal
from tests.helpers.runs import payout_link_rows, run_cli, write_csv

LINKS = 40


@pytest.fixture
def run_id(emulator: EmulatorHandle, monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> str:
    emulator.admin.reset()
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("BATCHPAY_BASE_URL", emulator.url)
    sheet = write_csv(tmp_path / "links.csv", payout_link_rows(LINKS, prefix="SW"))
    assert run_cli("run", str(sheet), "--quiet", "--concurrency", "8").exit_code == 0
    runs = SqliteJournal(load_settings(require_credentials=False).ledger_path).runs()
    return runs[0].run_id


def _most_in_flight(emulator: EmulatorHandle, args: list[str], hold: int) -> tuple[int, Result]:
    """Run `status` with the first ``hold`` status answers held; the most held at once, once
    the pool is saturated (half a second with no new arrival), then let them all go."""
    emulator.admin.queue_fault("hold-after", op="status", nth=1, count=hold)
    done: list[Result] = []
    worker = threading.Thread(target=lambda: done.append(run_cli(*args)), daemon=True)
    worker.start()
    most, steady_since = 0, time.monotonic()
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline and worker.is_alive():
        held = emulator.admin.health()["held"]
        if held > most:
            most, steady_since = held, time.monotonic()
        elif most and time.monotonic() - steady_since > 0.5:
            break
        time.sleep(0.02)
    while worker.is_alive():
        emulator.admin.release()
        worker.join(0.1)
    emulator.admin.clear_faults()
    return most, done[0]


def test_status_concurrency_16_keeps_16_look_ups_in_flight(
    emulator: EmulatorHandle, run_id: str
) -> None:
    most, result = _most_in_flight(emulator, ["status", run_id, "--concurrency", "16"], hold=LINKS)
    assert most == 16, result.output
    assert result.exit_code == 0, result.output


def test_status_default_concurrency_is_8(emulator: EmulatorHandle, run_id: str) -> None:
    most, result = _most_in_flight(emulator, ["status", run_id], hold=LINKS)
    assert most == 8 and result.exit_code == 0, result.output


@pytest.mark.parametrize("value", ["0", "65"])
def test_status_concurrency_out_of_range_is_a_usage_error(value: str) -> None:
    result = run_cli("status", "20261205-010203-abcd", "--concurrency", value)
    assert result.exit_code == 2 and "1<=x<=64" in result.output


def test_engine_work_queue_hands_out_rows_in_constant_time(tmp_path: Path) -> None:
    """200,000 takes must cost about twice 100,000 (a pop(0) queue costs four times)."""
    from batchpay.kinds import KINDS
    from batchpay.runs.engine import Engine

    try:  # the work queue moved to its own module (runs/taker.py)
        from batchpay.runs.taker import Taker
    except ImportError:
        from batchpay.runs.engine import _Taker as Taker  # type: ignore[attr-defined,no-redef]
    from batchpay.runs.options import EngineOptions
    from batchpay.runs.progress import NullProgress
    from tests.helpers.runs import make_client

    with SqliteJournal(tmp_path / "ledger.sqlite", create=True).writer() as writer:
        engine = Engine(
            kind=KINDS["payout-link"],
            client=make_client("http://127.0.0.1:9"),  # never called: rows are only taken
            journal=writer,
            options=EngineOptions(),
            progress=NullProgress(),
            stop=threading.Event(),
        )

        def drain(n: int) -> float:
            taker = Taker(list(range(n)), engine, check_first=False)  # type: ignore[arg-type]
            started = time.perf_counter()
            while taker.take() is not None:
                pass
            return time.perf_counter() - started

        drain(10_000)  # warm up
        small = min(drain(100_000) for _ in range(3))
        large = min(drain(200_000) for _ in range(3))
    assert large / small < 3.0, (small, large)
