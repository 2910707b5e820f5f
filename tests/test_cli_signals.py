"""SIGTERM / SIGHUP / Ctrl-C on a real ``python -m batchpay`` subprocess (issue 8, finding 9).

The run talks to an emulator served from this test process; a ``hold-after`` fault keeps one
executed Payout Link's answer back, so the run is mid-flight with a row on the wire when the
signal arrives. The first signal must settle that row (once the hold is released), journal an
event naming the signal, write the workbook, print the resume hint and exit 128 + signal; a
second signal leaves at once with the row SENDING. Either way `batchpay resume` then finishes
with nothing executed twice at the emulator.
"""

from __future__ import annotations

import signal
import subprocess
import time
from collections.abc import Iterator, Mapping
from pathlib import Path
from typing import ClassVar

import pytest

from batchpay.emulator import start_emulator
from batchpay.emulator.runtime import EmulatorHandle
from batchpay.journal.sqlite import SqliteJournal
from batchpay.states import State
from tests.helpers.proofs import assert_invariants, batchpay_cmd, cli_env
from tests.helpers.runs import payout_link_rows, write_csv

pytestmark = pytest.mark.slow  # real subprocesses signalled mid-flight, then resumed

ROWS = 12
HELD_AT = 3  # the 3rd executed link's answer is held


@pytest.fixture(name="gateway", scope="module")
def gateway_fixture(tmp_path_factory: pytest.TempPathFactory) -> Iterator[EmulatorHandle]:
    state = tmp_path_factory.mktemp("emulator") / "emulator-state.sqlite"
    handle = start_emulator(port=0, state_path=state, link_step_seconds=0)
    try:
        yield handle
    finally:
        handle.stop()


class Batch:
    """One subprocess of batchpay, its stderr in a file (read while it runs)."""

    started: ClassVar[list[Batch]] = []

    def __init__(self, args: list[str], *, env: Mapping[str, str], cwd: Path, name: str) -> None:
        self.err_path = cwd / f"{name}.stderr"
        self._err = self.err_path.open("wb")
        self.proc = subprocess.Popen(
            batchpay_cmd(*args), env=dict(env), cwd=cwd, stdout=subprocess.DEVNULL, stderr=self._err
        )
        Batch.started.append(self)

    def stderr(self) -> str:
        return self.err_path.read_text(encoding="utf-8", errors="replace")

    def wait_for(self, text: str, timeout: float = 30.0) -> None:
        deadline = time.monotonic() + timeout
        while text not in self.stderr():
            if self.proc.poll() is not None:
                raise AssertionError(
                    f"exited {self.proc.returncode} before {text!r}: {self.stderr()[-800:]}"
                )
            if time.monotonic() > deadline:
                raise TimeoutError(f"no {text!r} on stderr: {self.stderr()[-800:]}")
            time.sleep(0.05)

    def wait(self, timeout: float = 60.0) -> int:
        try:
            return self.proc.wait(timeout=timeout)
        finally:
            self.close()

    def close(self) -> None:
        if self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait()
        self._err.close()


def _wait_held(gateway: EmulatorHandle, batch: Batch, held: int = 1, timeout: float = 60.0) -> None:
    deadline = time.monotonic() + timeout
    while gateway.admin.health()["held"] < held:
        if batch.proc.poll() is not None:
            raise AssertionError(
                f"exited {batch.proc.returncode} before the hold: {batch.stderr()[-800:]}"
            )
        if time.monotonic() > deadline:
            raise TimeoutError("the emulator never held an answer")
        time.sleep(0.02)


@pytest.fixture(name="setup")
def setup_fixture(
    gateway: EmulatorHandle, tmp_path: Path
) -> Iterator[tuple[Path, list[dict[str, str]], dict[str, str]]]:
    gateway.admin.reset()
    gateway.admin.release()
    rows = payout_link_rows(ROWS, prefix="SIG")
    sheet = write_csv(tmp_path / "bonus.csv", rows)
    env = cli_env(gateway.url, tmp_path / "ledger.sqlite", tmp_path / "home")
    Batch.started.clear()
    try:
        yield sheet, rows, env
    finally:
        for batch in Batch.started:  # a failed test leaves no process behind
            batch.close()
        gateway.admin.release()
        gateway.admin.clear_faults()


def _only_run(ledger_path: Path) -> str:
    runs = SqliteJournal(ledger_path).runs()
    assert len(runs) == 1
    return runs[0].run_id


def _resume_to_the_end(
    gateway: EmulatorHandle,
    tmp_path: Path,
    env: Mapping[str, str],
    run_id: str,
    rows: list[dict[str, str]],
) -> None:
    workbook = tmp_path / "resumed.xlsx"
    resumed = subprocess.run(
        batchpay_cmd("resume", run_id, "--quiet", "--report", str(workbook)),
        env=dict(env),
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert resumed.returncode == 0, resumed.stdout[-800:] + resumed.stderr[-800:]
    assert gateway.admin.executed("payout-link")["max_per_reference"] <= 1
    proof = assert_invariants(tmp_path / "ledger.sqlite", run_id, gateway.admin, rows, workbook)
    assert proof.executed == len(rows)


@pytest.mark.parametrize(
    ("signum", "code", "said"),
    [
        (signal.SIGTERM, 143, "SIGTERM"),
        (signal.SIGHUP, 129, "SIGHUP"),
        (signal.SIGINT, 130, "Ctrl-C"),
    ],
)
def test_cli_run_signal_mid_flight_settles_journals_workbook_exit_code(
    gateway: EmulatorHandle,
    setup: tuple[Path, list[dict[str, str]], dict[str, str]],
    tmp_path: Path,
    signum: signal.Signals,
    code: int,
    said: str,
) -> None:
    sheet, rows, env = setup
    workbook = tmp_path / "stopped.xlsx"
    # Both workers' answers are held: two links executed at DOKU, in flight when it stops.
    gateway.admin.queue_fault("hold-after", op="payout-link", nth=HELD_AT, count=2)
    batch = Batch(
        ["run", str(sheet), "--concurrency", "2", "--quiet", "--report", str(workbook)],
        env=env,
        cwd=tmp_path,
        name="run",
    )
    _wait_held(gateway, batch, held=2)
    batch.proc.send_signal(signum)
    batch.wait_for(f"Stopping on {said}")
    gateway.admin.release()  # the row in flight gets its answer and must be settled
    assert batch.wait() == code, batch.stderr()[-1500:]

    err = batch.stderr()
    run_id = _only_run(tmp_path / "ledger.sqlite")
    assert f"batchpay resume {run_id}" in err
    assert ("Interrupted." if signum == signal.SIGINT else f"Stopped by {said}.") in err
    assert "Traceback" not in err
    assert workbook.is_file()
    ledger = SqliteJournal(tmp_path / "ledger.sqlite")
    journaled = [e for e in ledger.events(run_id) if e.type == "interrupted"]
    assert len(journaled) == 1 and said in journaled[0].detail
    states = [r.state for r in ledger.rows(run_id)]
    assert State.SENDING not in states and State.UNKNOWN not in states, states
    assert State.PLANNED in states  # it stopped taking rows
    assert gateway.admin.executed("payout-link")["count"] == HELD_AT + 1
    _resume_to_the_end(gateway, tmp_path, env, run_id, rows)


def test_cli_run_second_sigterm_aborts_now_row_sending_resume_pays_each_once(
    gateway: EmulatorHandle,
    setup: tuple[Path, list[dict[str, str]], dict[str, str]],
    tmp_path: Path,
) -> None:
    sheet, rows, env = setup
    gateway.admin.queue_fault("hold-after", op="payout-link", nth=HELD_AT)
    batch = Batch(
        ["run", str(sheet), "--concurrency", "1", "--quiet"], env=env, cwd=tmp_path, name="run"
    )
    _wait_held(gateway, batch)
    batch.proc.send_signal(signal.SIGTERM)
    batch.wait_for("Stopping on SIGTERM")
    batch.proc.send_signal(signal.SIGTERM)  # the answer is still held: leave at once
    assert batch.wait(timeout=20) == 143, batch.stderr()[-1500:]
    err = batch.stderr()
    run_id = _only_run(tmp_path / "ledger.sqlite")
    assert "Aborted by SIGTERM" in err and f"batchpay resume {run_id}" in err
    assert "Traceback" not in err
    rows_now = SqliteJournal(tmp_path / "ledger.sqlite").rows(run_id)
    # The held link (sheet row HELD_AT + 1: row 1 is the header) is left SENDING, and so is
    # the next one, whose intent was journaled while the held request was on the wire
    # (runs/engine.py send_intent); resume pays each once all the same.
    sending = [r.row_number for r in rows_now if r.state == State.SENDING]
    assert sending in ([HELD_AT + 1], [HELD_AT + 1, HELD_AT + 2]), sending
    gateway.admin.release()
    _resume_to_the_end(gateway, tmp_path, env, run_id, rows)


def test_cli_run_double_ctrl_c_exits_130_with_resume_hint(
    gateway: EmulatorHandle,
    setup: tuple[Path, list[dict[str, str]], dict[str, str]],
    tmp_path: Path,
) -> None:
    """Issue 11: a double Ctrl-C said "Aborted." and exited 1, with no hint."""
    sheet, rows, env = setup
    gateway.admin.queue_fault("hold-after", op="payout-link", nth=HELD_AT)
    batch = Batch(
        ["run", str(sheet), "--concurrency", "1", "--quiet"], env=env, cwd=tmp_path, name="run"
    )
    _wait_held(gateway, batch)
    batch.proc.send_signal(signal.SIGINT)
    batch.wait_for("Stopping on Ctrl-C")
    batch.proc.send_signal(signal.SIGINT)
    assert batch.wait(timeout=20) == 130, batch.stderr()[-1500:]
    err = batch.stderr()
    run_id = _only_run(tmp_path / "ledger.sqlite")
    assert "Aborted by Ctrl-C" in err and f"batchpay resume {run_id}" in err
    assert "Aborted.\n" not in err and "Traceback" not in err
    gateway.admin.release()
    _resume_to_the_end(gateway, tmp_path, env, run_id, rows)


def test_cli_resume_sigterm_mid_flight_settles_exit_143_then_resume_finishes(
    gateway: EmulatorHandle,
    setup: tuple[Path, list[dict[str, str]], dict[str, str]],
    tmp_path: Path,
) -> None:
    sheet, rows, env = setup
    # A run stopped by SIGTERM after two links, then its resume stopped the same way.
    gateway.admin.queue_fault("hold-after", op="payout-link", nth=2)
    first = Batch(
        ["run", str(sheet), "--concurrency", "1", "--quiet"], env=env, cwd=tmp_path, name="run"
    )
    _wait_held(gateway, first)
    first.proc.send_signal(signal.SIGTERM)
    first.wait_for("Stopping on SIGTERM")
    gateway.admin.release()
    assert first.wait() == 143, first.stderr()[-1500:]
    run_id = _only_run(tmp_path / "ledger.sqlite")

    gateway.admin.queue_fault("hold-after", op="payout-link", nth=2)
    again = Batch(
        ["resume", run_id, "--concurrency", "1", "--quiet"], env=env, cwd=tmp_path, name="resume"
    )
    _wait_held(gateway, again)
    again.proc.send_signal(signal.SIGTERM)
    again.wait_for("Stopping on SIGTERM")
    gateway.admin.release()
    assert again.wait() == 143, again.stderr()[-1500:]
    assert f"Stopped by SIGTERM. Continue with: batchpay resume {run_id}" in again.stderr()
    ledger = SqliteJournal(tmp_path / "ledger.sqlite")
    assert sum(e.type == "interrupted" for e in ledger.events(run_id)) == 2
    assert State.SENDING not in {r.state for r in ledger.rows(run_id)}
    _resume_to_the_end(gateway, tmp_path, env, run_id, rows)
