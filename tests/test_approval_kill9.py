"""Kill -9 during `batchpay send` (issue 13, "Done when"): an approved run is sent in a
subprocess, SIGKILLed the moment the emulator has executed its k-th row, and continued with
`batchpay send` (or `batchpay resume`) in a new process: every row paid exactly once, journal =
gateway = workbook, and the approval still valid (same approvals, same digest)."""

from __future__ import annotations

import subprocess
from collections.abc import Iterator
from pathlib import Path

import pytest

from batchpay.emulator import start_emulator
from batchpay.emulator.runtime import EmulatorHandle
from batchpay.journal import utc_now
from batchpay.journal.sqlite import SqliteJournal
from batchpay.runs import approval
from batchpay.runs.options import Target
from batchpay.runs.release import check_release
from batchpay.states import RunStatus, State
from tests.helpers.proofs import (
    ACCEPTED_STATES,
    assert_invariants,
    batchpay_cmd,
    cli_env,
    kill_when_held,
)
from tests.helpers.runs import payout_link_rows, write_csv

pytestmark = pytest.mark.slow

BATCH = 40


@pytest.fixture(name="gateway", scope="module")
def gateway_fixture(tmp_path_factory: pytest.TempPathFactory) -> Iterator[EmulatorHandle]:
    state = tmp_path_factory.mktemp("emulator") / "emulator-state.sqlite"
    handle = start_emulator(port=0, state_path=state, link_step_seconds=0)
    try:
        yield handle
    finally:
        handle.stop()


@pytest.mark.parametrize(("k", "then"), [(1, "send"), (23, "send"), (BATCH, "resume")])
def test_approval_kill9_during_send_continued_pays_each_once_approval_still_valid(
    gateway: EmulatorHandle,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    k: int,
    then: str,
) -> None:
    admin = gateway.admin
    admin.reset()
    admin.release()
    rows = payout_link_rows(BATCH, prefix=f"K{k}")
    sheet = write_csv(tmp_path / "bonus.csv", rows)
    ledger = tmp_path / "ledger.sqlite"
    env = cli_env(gateway.url, ledger, tmp_path / "home")
    submitted = subprocess.run(
        batchpay_cmd("submit", str(sheet), "--quiet"),
        env=env, cwd=tmp_path, capture_output=True, text=True, timeout=60,
    )  # fmt: skip
    assert submitted.returncode == 0, submitted.stdout + submitted.stderr
    [run] = SqliteJournal(ledger).runs()
    monkeypatch.setenv("BATCHPAY_LEDGER", str(ledger))
    where = Target(base_url=gateway.url)
    approval.approve(run.run_id, expect_total=str(1_500_000 * BATCH), approver="checker",
                     target=where)  # fmt: skip
    approved = SqliteJournal(ledger).run(run.run_id)

    admin.queue_fault("hold-after", op="payout-link", nth=k)
    executed = kill_when_held(
        ("send", run.run_id, "--concurrency", "1", "--quiet"),
        env=env, cwd=tmp_path, admin=admin, op="payout-link",
    )  # fmt: skip
    assert executed == k
    journal = SqliteJournal(ledger)
    states = [r.state for r in journal.rows(run.run_id)]
    # Row k is SENDING (its intent committed before the socket write); the engine may also
    # have journaled the next row's intent, or not yet the previous row's answer; nothing
    # after row k was answered.
    assert states[k - 1] == State.SENDING
    assert set(states[: k - 1]) <= {*ACCEPTED_STATES, State.SENDING}
    assert set(states[k:]) <= {State.PLANNED, State.SENDING}
    assert journal.run(run.run_id).status == RunStatus.APPROVED

    workbook = tmp_path / "reconciliation.xlsx"
    continued = subprocess.run(
        batchpay_cmd(then, run.run_id, "--quiet", "--report", str(workbook)),
        env=env, cwd=tmp_path, capture_output=True, text=True, timeout=120,
    )  # fmt: skip
    assert continued.returncode == 0, continued.stdout + continued.stderr
    proof = assert_invariants(ledger, run.run_id, admin, rows, workbook)
    assert proof.executed == BATCH and admin.executed("payout-link")["max_per_reference"] == 1

    after = journal.run(run.run_id)
    assert after.status == RunStatus.APPROVED and after.approvals == approved.approvals
    assert [a.approver for a in after.approvals] == ["checker"]
    check_release(journal, after, now=utc_now())  # the approval is still valid
    sends = [
        e.detail for e in journal.events(run.run_id) if e.type == "send" and e.row_number is None
    ]
    assert len(sends) == (2 if then == "send" else 1) and sends[0].startswith("sending by ")
