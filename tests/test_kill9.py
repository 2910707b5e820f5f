"""Kill -9 (issue 4, "Proof"): `batchpay run` a 300-row batch in a subprocess at
concurrency 1, hold DOKU's answer to the k-th execution, SIGKILL the run the moment the
emulator has executed it, release the hold, `batchpay resume RUN_ID` in a subprocess — then:
zero duplicates, zero lost rows, journal = emulator truth, workbook = journal.

One emulator (in this process, with a state file) serves every cycle and is reset between
them. CI runs 50 values of k for Payout Link, 4 for Sub Account payouts, 2 at concurrency
4 and one double crash (the resume killed too) — 58 kills in ~2.5 minutes, ~2.3 s a cycle:
the run subprocess only gets as far as row k, the resume sends the rest;
``benchmarks/kill9_all.py`` runs every k of 1..300.
"""

from __future__ import annotations

import itertools
import subprocess
from collections import Counter
from collections.abc import Iterator
from pathlib import Path

import pytest

from batchpay.emulator import start_emulator
from batchpay.emulator.runtime import EmulatorHandle
from batchpay.journal.sqlite import SqliteJournal
from batchpay.states import State
from tests.helpers.proofs import (
    assert_invariants,
    batchpay_cmd,
    cli_env,
    kill9_cycle,
    kill_when_held,
    spread,
)
from tests.helpers.runs import FUNDED, payout_link_rows, sac_payout_rows, write_csv

pytestmark = pytest.mark.slow  # ~2.5 minutes; CI runs it, `-m "not slow"` skips it

BATCH = 300
LINK_KS = spread(50, BATCH)
PAYOUT_KS = [1, 97, 211, BATCH]
CONCURRENT_KS = [40, 260]


@pytest.fixture(name="gateway", scope="module")
def gateway_fixture(tmp_path_factory: pytest.TempPathFactory) -> Iterator[EmulatorHandle]:
    state = tmp_path_factory.mktemp("emulator") / "emulator-state.sqlite"
    handle = start_emulator(port=0, state_path=state, link_step_seconds=0)
    try:
        yield handle
    finally:
        handle.stop()


@pytest.fixture(name="sheets", scope="module")
def sheets_fixture(
    tmp_path_factory: pytest.TempPathFactory,
) -> dict[str, tuple[Path, list[dict[str, str]]]]:
    root = tmp_path_factory.mktemp("sheets")
    links = payout_link_rows(BATCH)
    payouts = sac_payout_rows(BATCH)
    return {
        "payout-link": (write_csv(root / "bonus.csv", links), links),
        "payout": (write_csv(root / "vendors.csv", payouts), payouts),
    }


def test_kill9_ks_spread_over_whole_batch_at_least_fifty() -> None:
    assert len(LINK_KS) >= 50 and LINK_KS[0] == 1 and LINK_KS[-1] == BATCH
    assert max(b - a for a, b in itertools.pairwise(LINK_KS)) <= 7


@pytest.mark.parametrize("k", LINK_KS)
def test_kill9_payout_link_killed_after_kth_execution_resume_pays_each_once(
    gateway: EmulatorHandle,
    sheets: dict[str, tuple[Path, list[dict[str, str]]]],
    tmp_path: Path,
    k: int,
) -> None:
    sheet, rows = sheets["payout-link"]
    result = kill9_cycle(
        admin=gateway.admin,
        url=gateway.url,
        workdir=tmp_path,
        sheet=sheet,
        input_rows=rows,
        k=k,
        op="payout-link",
    )
    assert result.failure is None, result.failure
    assert (result.executed_at_kill, result.resume_exit) == (k, 0)


@pytest.mark.parametrize("k", PAYOUT_KS)
def test_kill9_sub_account_payout_killed_after_kth_execution_resume_pays_each_once(
    gateway: EmulatorHandle,
    sheets: dict[str, tuple[Path, list[dict[str, str]]]],
    tmp_path: Path,
    k: int,
) -> None:
    sheet, rows = sheets["payout"]
    result = kill9_cycle(
        admin=gateway.admin,
        url=gateway.url,
        workdir=tmp_path,
        sheet=sheet,
        input_rows=rows,
        k=k,
        op="payout",
        fund=lambda: gateway.admin.fund(FUNDED, 100_000 * BATCH),
    )
    assert result.failure is None, result.failure
    assert (result.executed_at_kill, result.resume_exit) == (k, 0)


@pytest.mark.parametrize("k", CONCURRENT_KS)
def test_kill9_payout_link_concurrency_4_killed_mid_batch_resume_pays_each_once(
    gateway: EmulatorHandle,
    sheets: dict[str, tuple[Path, list[dict[str, str]]]],
    tmp_path: Path,
    k: int,
) -> None:
    """At concurrency 4 the kill catches several rows in flight (SENDING) at once."""
    sheet, rows = sheets["payout-link"]
    result = kill9_cycle(
        admin=gateway.admin,
        url=gateway.url,
        workdir=tmp_path,
        sheet=sheet,
        input_rows=rows,
        k=k,
        op="payout-link",
        concurrency=4,
    )
    assert result.failure is None, result.failure
    assert result.executed_at_kill >= k and result.resume_exit == 0


def test_kill9_resume_killed_too_second_resume_pays_each_once(
    gateway: EmulatorHandle,
    sheets: dict[str, tuple[Path, list[dict[str, str]]]],
    tmp_path: Path,
) -> None:
    """A crash during the crash recovery: the run is killed at execution 120, its resume
    (after DOKU's replay for row 120) is killed at its 60th new execution (the 180th), a
    second resume finishes — still each row once."""
    sheet, rows = sheets["payout"]
    admin = gateway.admin
    admin.reset()
    admin.fund(FUNDED, 100_000 * BATCH)
    ledger_path = tmp_path / "ledger.sqlite"
    env = cli_env(gateway.url, ledger_path, tmp_path / "home")
    admin.queue_fault("hold-after", op="payout", nth=120)
    run_args = ("run", str(sheet), "--concurrency", "1", "--quiet")
    assert kill_when_held(run_args, env=env, cwd=tmp_path, admin=admin, op="payout") == 120
    run_id = SqliteJournal(ledger_path).runs()[0].run_id

    admin.queue_fault("hold-after", op="payout", nth=60)
    resume_args = ("resume", run_id, "--concurrency", "1", "--quiet")
    assert kill_when_held(resume_args, env=env, cwd=tmp_path, admin=admin, op="payout") == 180
    states = Counter(r.state for r in SqliteJournal(ledger_path).rows(run_id))
    # The held row is SENDING, and so is the next one: its intent was journaled while the
    # held request was on the wire (runs/engine.py send_intent), together with the outcome
    # of the row before (179 SUCCESS, or still SENDING had the kill beaten that commit).
    assert states[State.SENDING] == 2 and states["SUCCESS"] in (178, 179), states
    assert states[State.PLANNED] == BATCH - 2 - states["SUCCESS"], states

    workbook = tmp_path / "r.xlsx"
    done = subprocess.run(
        batchpay_cmd("resume", run_id, "--quiet", "--report", str(workbook)),
        env=env,
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert done.returncode == 0, done.stdout + done.stderr
    proof = assert_invariants(ledger_path, run_id, admin, rows, workbook)
    assert proof.executed == BATCH and proof.states == {"SUCCESS": BATCH}


# --- the same proof with the journal on PostgreSQL (issue 14) ---------------------------------

PG_LINK_KS = [1, 150, BATCH]


@pytest.mark.parametrize(("k", "concurrency"), [(k, 1) for k in PG_LINK_KS] + [(120, 4)])
def test_kill9_postgres_journal_payout_link_killed_resume_pays_each_once(
    gateway: EmulatorHandle,
    sheets: dict[str, tuple[Path, list[dict[str, str]]]],
    tmp_path: Path,
    pg_url: str,
    k: int,
    concurrency: int,
) -> None:
    """BATCHPAY_LEDGER=postgresql://…: a kill -9 mid-run leaves the same journal as with
    SQLite (the run's session ends, so its advisory lock frees itself) and resume pays every
    row once."""
    sheet, rows = sheets["payout-link"]
    result = kill9_cycle(
        admin=gateway.admin,
        url=gateway.url,
        workdir=tmp_path,
        sheet=sheet,
        input_rows=rows,
        k=k,
        op="payout-link",
        concurrency=concurrency,
        ledger=pg_url,
    )
    assert result.failure is None, result.failure
    assert result.executed_at_kill >= k and result.resume_exit == 0
    assert not (tmp_path / "ledger.sqlite").exists()
