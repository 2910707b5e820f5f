"""Several worker processes on one run (issue 14, "Done when"): ``batchpay send --workers 3``
pays every row once, and a kill -9 of one worker in the middle of a 2,000-row run leaves
0 duplicates, 0 lost rows, journal = gateway — the others take its rows over once its lease
runs out, by status look-up or identical replay, never with a new Request-Id."""

from __future__ import annotations

import os
import signal
import subprocess
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from batchpay.emulator import start_emulator
from batchpay.emulator.runtime import EmulatorHandle
from batchpay.journal import Journal, open_journal
from batchpay.runs import approval
from batchpay.runs.options import Target
from tests.helpers.proofs import assert_invariants, batchpay_cmd, cli_env
from tests.helpers.runs import payout_link_rows, write_csv

pytestmark = pytest.mark.slow


@pytest.fixture(name="gateway", scope="module")
def gateway_fixture(tmp_path_factory: pytest.TempPathFactory) -> Iterator[EmulatorHandle]:
    state = tmp_path_factory.mktemp("emulator") / "emulator-state.sqlite"
    # 20 ms per request: a killed worker always has requests in flight (executed or not).
    handle = start_emulator(port=0, state_path=state, link_step_seconds=0, latency_ms=20)
    try:
        yield handle
    finally:
        handle.stop()


@pytest.fixture(params=["sqlite", "postgres"])
def ledger(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    """Where the run is journaled: a SQLite file, or a PostgreSQL database (both engines)."""
    if request.param == "postgres":
        url: str = request.getfixturevalue("pg_url")
        return url
    return str(tmp_path / "ledger.sqlite")


def _approved_run(
    gateway: EmulatorHandle,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    ledger: str,
    n: int,
    prefix: str,
) -> tuple[str, list[dict[str, str]], dict[str, str], Journal]:
    gateway.admin.reset()
    rows = payout_link_rows(n, prefix=prefix)
    sheet = write_csv(tmp_path / "bonus.csv", rows)
    env = cli_env(gateway.url, ledger, tmp_path / "home")
    submitted = subprocess.run(
        batchpay_cmd("submit", str(sheet), "--quiet"),
        env=env, cwd=tmp_path, capture_output=True, text=True, timeout=120,
    )  # fmt: skip
    assert submitted.returncode == 0, submitted.stdout + submitted.stderr
    journal = open_journal(ledger)
    [run] = journal.runs()
    monkeypatch.setenv("BATCHPAY_LEDGER", ledger)
    approval.approve(
        run.run_id,
        expect_total=str(1_500_000 * n),
        approver="checker",
        target=Target(base_url=gateway.url),
    )
    return run.run_id, rows, env, journal


def _children(pid: int) -> list[int]:
    found = []
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            with open(f"/proc/{entry}/stat") as f:
                fields = f.read().rsplit(")", 1)[1].split()
        except OSError:
            continue
        if int(fields[1]) == pid:
            found.append(int(entry))
    return sorted(found)


def test_send_workers_three_processes_pay_every_row_once(
    gateway: EmulatorHandle, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, ledger: str
) -> None:
    run_id, rows, env, journal = _approved_run(gateway, tmp_path, monkeypatch, ledger, 300, "SW")
    ids = {r.row_number: r.request_id for r in journal.rows(run_id)}
    workbook = tmp_path / "reconciliation.xlsx"
    sent = subprocess.run(
        batchpay_cmd("send", run_id, "--workers", "3", "--concurrency", "4", "--quiet",
                     "--report", str(workbook)),
        env=env, cwd=tmp_path, capture_output=True, text=True, timeout=300,
    )  # fmt: skip
    assert sent.returncode == 0, sent.stdout + sent.stderr
    proof = assert_invariants(ledger, run_id, gateway.admin, rows, workbook)
    assert proof.executed == 300
    assert {r.row_number: r.request_id for r in journal.rows(run_id)} == ids
    workers = {e.detail.split()[1] for e in journal.events(run_id) if e.type == "worker"}
    assert len(workers) == 3


def test_send_workers_kill9_one_worker_mid_run_others_take_over(
    gateway: EmulatorHandle, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, ledger: str
) -> None:
    n = 2000
    run_id, rows, env, journal = _approved_run(gateway, tmp_path, monkeypatch, ledger, n, "KW")
    ids = {r.row_number: r.request_id for r in journal.rows(run_id)}
    workbook = tmp_path / "reconciliation.xlsx"
    parent = subprocess.Popen(
        batchpay_cmd("send", run_id, "--workers", "3", "--concurrency", "8", "--lease", "3",
                     "--quiet", "--report", str(workbook)),
        env=env, cwd=tmp_path, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
    )  # fmt: skip
    try:
        deadline = time.monotonic() + 120
        while gateway.admin.executed("payout-link")["count"] < n // 4:
            assert parent.poll() is None, parent.communicate()[1][-3000:]
            assert time.monotonic() < deadline, "the workers never got going"
            time.sleep(0.05)
        children = _children(parent.pid)
        assert len(children) == 3
        os.kill(children[1], signal.SIGKILL)
        at_kill = gateway.admin.executed("payout-link")["count"]
        out, err = parent.communicate(timeout=300)
    finally:
        if parent.poll() is None:
            parent.kill()
            parent.wait()
    assert at_kill < n, "the run ended before the kill"
    assert parent.returncode == 0, out + err
    assert "exited with code -9" in err
    proof = assert_invariants(ledger, run_id, gateway.admin, rows, workbook)
    assert proof.executed == n and gateway.admin.executed("payout-link")["max_per_reference"] == 1
    assert {r.row_number: r.request_id for r in journal.rows(run_id)} == ids  # none new
    assert journal.run(run_id).finished_at is not None
    # The dead worker's in-flight rows were taken over and looked up first (Resolution 1).
    assert any(e.type == "status-check" for e in journal.events(run_id))


def test_send_workers_ctrl_c_stops_every_worker_send_again_finishes(
    gateway: EmulatorHandle, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    n = 1500
    ledger = str(tmp_path / "ledger.sqlite")
    run_id, rows, env, _ = _approved_run(gateway, tmp_path, monkeypatch, ledger, n, "CW")
    parent = subprocess.Popen(
        batchpay_cmd("send", run_id, "--workers", "2", "--concurrency", "4", "--quiet"),
        env=env, cwd=tmp_path, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
    )  # fmt: skip
    try:
        deadline = time.monotonic() + 120
        while gateway.admin.executed("payout-link")["count"] < 100:
            assert parent.poll() is None, parent.communicate()[1][-3000:]
            assert time.monotonic() < deadline, "the workers never got going"
            time.sleep(0.05)
        children = _children(parent.pid)
        parent.send_signal(signal.SIGINT)  # the parent only: it stops its workers itself
        out, err = parent.communicate(timeout=120)
    finally:
        if parent.poll() is None:
            parent.kill()
            parent.wait()
    assert parent.returncode == 130, out + err
    assert "Interrupted" in err
    assert not [pid for pid in children if os.path.exists(f"/proc/{pid}")]
    assert gateway.admin.executed("payout-link")["count"] < n
    again = subprocess.run(
        batchpay_cmd("send", run_id, "--workers", "2", "--quiet"),
        env=env, cwd=tmp_path, capture_output=True, text=True, timeout=300,
    )  # fmt: skip
    assert again.returncode == 0, again.stdout + again.stderr
    proof = assert_invariants(ledger, run_id, gateway.admin, rows)
    assert proof.executed == n


def test_send_workers_builtin_emulator_one_gateway_for_every_worker(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """No DOKU URL configured: the parent's built-in emulator serves every worker (its URL
    and credentials reach them through the environment), so they all pay one DOKU."""
    from batchpay.doku import EMULATOR_STATE_FILE

    n = 120
    rows = payout_link_rows(n, prefix="BW")
    sheet = write_csv(tmp_path / "bonus.csv", rows)
    ledger = tmp_path / "ledger.sqlite"
    env = cli_env("unused", ledger, tmp_path / "home")
    del env["BATCHPAY_BASE_URL"], env["BATCHPAY_CLIENT_ID"], env["BATCHPAY_SECRET_KEY"]
    submitted = subprocess.run(
        batchpay_cmd("submit", str(sheet), "--quiet"),
        env=env, cwd=tmp_path, capture_output=True, text=True, timeout=120,
    )  # fmt: skip
    assert submitted.returncode == 0, submitted.stdout + submitted.stderr
    [run] = open_journal(str(ledger)).runs()
    monkeypatch.setenv("BATCHPAY_LEDGER", str(ledger))
    approval.approve(run.run_id, expect_total=str(1_500_000 * n), approver="checker")
    sent = subprocess.run(
        batchpay_cmd("send", run.run_id, "--workers", "3", "--quiet"),
        env=env, cwd=tmp_path, capture_output=True, text=True, timeout=300,
    )  # fmt: skip
    assert sent.returncode == 0, sent.stdout + sent.stderr
    handle = start_emulator(port=0, state_path=tmp_path / "home" / EMULATOR_STATE_FILE)
    try:
        proof = assert_invariants(ledger, run.run_id, handle.admin, rows, check_resume=False)
    finally:
        handle.stop()
    assert proof.executed == n
