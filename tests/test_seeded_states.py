"""Seeded journal states (issue 4, "Proof"): a row left in each state — PLANNED, SENDING,
UNKNOWN, PENDING (a Payout Link DOKU accepted), terminal — × each gateway truth — executed,
not executed, pending — then `resume` (and, for links, a status refresh) must reach the
right disposition with at most one execution per reference.

Seeding: the run is created by :func:`batchpay.runs.create_run` (every row PLANNED, with
its Request-Id and bytes) and the row is moved with :meth:`batchpay.journal.Journal.apply`
through *legal* transitions only (PLANNED → SENDING → UNKNOWN / PENDING / terminal), exactly
as a crash at that point would have left it; no SQL is needed. The gateway truth is
arranged by really sending the row's stored Request-Id and bytes to the emulator (executed),
or not (not executed); "pending" is a link executed on an emulator whose links stay PENDING.

Some cells are inconsistent on purpose (the journal says DOKU accepted or paid a row the
gateway never executed — a journal restored from an old backup, say). batchpay must still
never send such a row again; the proof helper must flag the disagreement.
"""

from __future__ import annotations

import time
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from batchpay import runs
from batchpay.doku import make_session
from batchpay.doku.client import DokuClient
from batchpay.emulator import EMULATOR_CLIENT_ID, EMULATOR_SECRET_KEY, start_emulator
from batchpay.emulator.runtime import EmulatorHandle
from batchpay.journal import WIB, Journal, RowChange, RowRecord, open_journal
from batchpay.journal.sqlite import SqliteJournal
from batchpay.kinds import KINDS
from batchpay.states import PROGRESS, State
from tests.helpers.proofs import (
    InvariantError,
    assert_invariants,
    check_workbook,
    make_client,
)
from tests.helpers.runs import FUNDED, Harness, payout_link_rows, sac_payout_rows

SEEDED = 3  # Excel row number of the seeded row (row 2 of data; rows 2 and 4 stay PLANNED)
LINK_PROGRESSING = (*PROGRESS,)


@pytest.fixture(name="gateways", scope="module")
def gateways_fixture() -> Iterator[dict[str, EmulatorHandle]]:
    """``fast``: links are COMPLETED as soon as they exist; ``slow``: links stay PENDING."""
    fast = start_emulator(port=0, link_step_seconds=0)
    slow = start_emulator(port=0, link_step_seconds=3600)
    try:
        yield {"fast": fast, "slow": slow}
    finally:
        fast.stop()
        slow.stop()


@pytest.fixture(name="journal_at", params=["sqlite", "postgres"])
def journal_at_fixture(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    """Where the seeded journal is: a SQLite file, or a fresh PostgreSQL database (issue 14:
    the seeded-state suite runs against both engines)."""
    if request.param == "postgres":
        return str(request.getfixturevalue("pg_url"))
    return str(tmp_path / "ledger.sqlite")


def _harness(gateway: EmulatorHandle, tmp_path: Path, journal_at: str | None = None) -> Harness:
    gateway.admin.reset()
    gateway.admin.clear_faults()
    gateway.admin.fund(FUNDED, 10_000_000)
    return Harness(
        tmp=tmp_path,
        emulator=gateway,
        ledger=open_journal(journal_at or str(tmp_path / "ledger.sqlite"), create=True),  # type: ignore[arg-type]
        client=make_client(gateway.url),
    )


def seed(ledger: Journal, row: RowRecord, state: str) -> None:
    """Leave ``row`` in ``state`` the way a crash there would (legal transitions only)."""
    if state == State.PLANNED:
        return

    def move(new: str, event: str, **kw: object) -> None:
        ledger.apply(
            RowChange(
                run_id=row.run_id, row_number=row.row_number, new_state=new, event=event, **kw
            )
        )

    move(State.SENDING, "send", count_send=True, message="seeded: sending")
    if state == State.SENDING:
        return
    if state == State.UNKNOWN:
        move(
            State.UNKNOWN,
            "outcome",
            outcome="unknown",
            reason="connection-reset",
            message="seeded: connection dropped after sending",
        )
        return
    move(
        state,
        "outcome",
        outcome="accepted",
        http_status=200,
        doku_status=state,
        seen=True,
        message=f"seeded: DOKU answered {state}",
    )


@dataclass(frozen=True)
class Expect:
    state: str  # the seeded row's state after resume (+ status refresh for links)
    executions: int  # at the gateway, for its reference
    new_sends: int  # requests resume put on the wire for it
    consistent: bool = True  # journal and gateway agree (the proof must pass, else flag it)


# Payout Link. "executed" = a COMPLETED link (fast emulator), "pending" = a PENDING link
# (slow emulator); "not executed" runs on the fast emulator, so a link sent now completes.
LINK_CELLS: dict[tuple[str, str], Expect] = {
    # PLANNED with the gateway already holding it cannot come from a crash (SENDING is
    # journaled first) — the same Request-Id and bytes are answered with DOKU's replay.
    (State.PLANNED, "executed"): Expect("COMPLETED", 1, 1),
    (State.PLANNED, "pending"): Expect("PENDING", 1, 1),
    (State.PLANNED, "not-executed"): Expect("COMPLETED", 1, 1),
    # SENDING/UNKNOWN: the status look-up finds the link (no send); not found → same bytes.
    (State.SENDING, "executed"): Expect("COMPLETED", 1, 0),
    (State.SENDING, "pending"): Expect("PENDING", 1, 0),
    (State.SENDING, "not-executed"): Expect("COMPLETED", 1, 1),
    (State.UNKNOWN, "executed"): Expect("COMPLETED", 1, 0),
    (State.UNKNOWN, "pending"): Expect("PENDING", 1, 0),
    (State.UNKNOWN, "not-executed"): Expect("COMPLETED", 1, 1),
    # PENDING: accepted; resume never re-sends it, the status refresh moves it on.
    ("PENDING", "executed"): Expect("COMPLETED", 1, 0),
    ("PENDING", "pending"): Expect("PENDING", 1, 0),
    ("PENDING", "not-executed"): Expect("PENDING", 0, 0, consistent=False),
    # Terminal: nothing leaves it, nothing is sent.
    ("COMPLETED", "executed"): Expect("COMPLETED", 1, 0),
    ("COMPLETED", "pending"): Expect("COMPLETED", 1, 0),
    ("COMPLETED", "not-executed"): Expect("COMPLETED", 0, 0, consistent=False),
}
# Sub Account payouts have no status look-up and no pending state: a re-send of the same
# Request-Id and bytes is answered with the original outcome (HTTP 409).
PAYOUT_CELLS: dict[tuple[str, str], Expect] = {
    (State.PLANNED, "executed"): Expect("SUCCESS", 1, 1),
    (State.PLANNED, "not-executed"): Expect("SUCCESS", 1, 1),
    (State.SENDING, "executed"): Expect("SUCCESS", 1, 1),
    (State.SENDING, "not-executed"): Expect("SUCCESS", 1, 1),
    (State.UNKNOWN, "executed"): Expect("SUCCESS", 1, 1),
    (State.UNKNOWN, "not-executed"): Expect("SUCCESS", 1, 1),
    ("SUCCESS", "executed"): Expect("SUCCESS", 1, 0),
    ("SUCCESS", "not-executed"): Expect("SUCCESS", 0, 0, consistent=False),
}


def _run_cell(
    gateways: dict[str, EmulatorHandle],
    tmp_path: Path,
    kind: str,
    state: str,
    truth: str,
    expect: Expect,
    journal_at: str,
) -> None:
    gateway = gateways["slow" if truth == "pending" else "fast"]
    h = _harness(gateway, tmp_path, journal_at)
    op = "payout-link" if kind == "payout-link" else "payout"
    rows = payout_link_rows(3) if kind == "payout-link" else sac_payout_rows(3)
    try:
        run = h.start(h.sheet("batch.csv", rows))
        row = h.ledger.row(run.run_id, SEEDED)
        if truth in ("executed", "pending"):
            outcome = h.client.send(KINDS[kind], row.request_id, row.body)
            assert outcome.klass == "accepted", outcome
        seed(h.ledger, row, state)
        sends_before = h.ledger.row(run.run_id, SEEDED).sends

        result = h.resume(run.run_id, backoff_base=0.01)
        if kind == "payout-link":
            result = runs.refresh_statuses(h.ledger, h.client, run.run_id)
        got = h.ledger.row(run.run_id, SEEDED)
        references = {i["reference"]: i for i in h.admin.executed(op)["references"]}
        executions = references.get(got.reference, {"count": 0})["count"]

        assert (got.state, executions, got.sends - sends_before) == (
            expect.state,
            expect.executions,
            expect.new_sends,
        ), got.message
        assert h.admin.executed(op)["max_per_reference"] == 1  # never twice, any row
        others = [r for r in result.rows if r.row_number != SEEDED]
        assert all(r.state in (*LINK_PROGRESSING, "COMPLETED", "SUCCESS") for r in others)
        assert got.request_id == row.request_id  # never a new Request-Id
        workbook = runs.write_workbook(h.ledger, run.run_id, tmp_path / "r.xlsx")
        if expect.consistent:
            assert_invariants(
                h.ledger.location, run.run_id, h.admin, rows, workbook, client=h.client
            )
        else:
            # The journal claims an execution the gateway never saw: the proof says so.
            with pytest.raises(InvariantError, match=r"\(3\) row 3 .* never executed"):
                assert_invariants(
                    h.ledger.location, run.run_id, h.admin, rows, workbook, client=h.client
                )
    finally:
        h.client.session.close()


@pytest.mark.parametrize(("state", "truth"), list(LINK_CELLS))
def test_resume_payout_link_seeded_state_right_disposition_at_most_one_payout(
    gateways: dict[str, EmulatorHandle], tmp_path: Path, state: str, truth: str, journal_at: str
) -> None:
    cell = LINK_CELLS[(state, truth)]
    _run_cell(gateways, tmp_path, "payout-link", state, truth, cell, journal_at)


@pytest.mark.parametrize(("state", "truth"), list(PAYOUT_CELLS))
def test_resume_sub_account_payout_seeded_state_right_disposition_at_most_one_payout(
    gateways: dict[str, EmulatorHandle], tmp_path: Path, state: str, truth: str, journal_at: str
) -> None:
    cell = PAYOUT_CELLS[(state, truth)]
    _run_cell(gateways, tmp_path, "sub-account-payout", state, truth, cell, journal_at)


def test_resume_payout_link_every_state_in_one_run_each_settled_once(
    gateways: dict[str, EmulatorHandle], tmp_path: Path, journal_at: str
) -> None:
    """All states side by side in one journal, as a crash of a concurrent run leaves them."""
    h = _harness(gateways["fast"], tmp_path, journal_at)
    rows = payout_link_rows(6)
    plan = {
        2: (State.PLANNED, False),
        3: (State.SENDING, True),
        4: (State.UNKNOWN, False),
        5: ("PENDING", True),
        6: ("COMPLETED", True),
        7: (State.SENDING, False),
    }
    try:
        run = h.start(h.sheet("batch.csv", rows))
        for number, (state, executed) in plan.items():
            row = h.ledger.row(run.run_id, number)
            if executed:
                assert (
                    h.client.send(KINDS["payout-link"], row.request_id, row.body).klass
                    == "accepted"
                )
            seed(h.ledger, row, state)
        result = h.resume(run.run_id)
        runs.refresh_statuses(h.ledger, h.client, run.run_id)
        assert result.sends == 3  # rows 2 (PLANNED), 4 and 7 (not at DOKU): one send each
        workbook = runs.write_workbook(h.ledger, run.run_id, tmp_path / "r.xlsx")
        proof = assert_invariants(
            h.ledger.location, run.run_id, h.admin, rows, workbook, client=h.client
        )
        assert proof.states == {"COMPLETED": 6} and proof.executed == 6
    finally:
        h.client.session.close()


def test_resume_payout_link_unknown_unresolvable_stays_unknown_never_shown_paid(
    gateways: dict[str, EmulatorHandle], tmp_path: Path
) -> None:
    """Executed, then every status look-up fails (503): the row stays UNKNOWN — not re-sent
    blind, not FAILED, never counted as paid in the journal summary or the workbook."""
    h = _harness(gateways["fast"], tmp_path)
    rows = payout_link_rows(3)
    try:
        run = h.start(h.sheet("batch.csv", rows))
        row = h.ledger.row(run.run_id, SEEDED)
        assert h.client.send(KINDS["payout-link"], row.request_id, row.body).klass == "accepted"
        seed(h.ledger, row, State.UNKNOWN)
        h.admin.queue_fault("error-503", op="status", count=1000)
        result = h.resume(run.run_id)
        got = h.ledger.row(run.run_id, SEEDED)
        assert got.state == State.UNKNOWN and got.sends == 1  # the seeded send only
        assert result.run.finished_at is None
        workbook = runs.write_workbook(h.ledger, run.run_id, tmp_path / "r.xlsx")
        assert check_workbook(workbook, result.rows) == []
        proof = assert_invariants(
            h.ledger.location, run.run_id, h.admin, rows, workbook, settled=False, client=h.client
        )
        assert proof.states[State.UNKNOWN] == 1 and proof.executed == 3
    finally:
        h.client.session.close()
        h.admin.clear_faults()


def test_resume_payout_link_sending_across_wib_midnight_stays_unknown_never_twice(
    tmp_path: Path,
) -> None:
    """docs/doku-api.md §3: a Payout Link Request-Id is unique only within a WIB day. A link
    executed at 23:59:30 WIB, journaled SENDING, resumed after midnight while DOKU's status
    look-up still says "not found": the re-send of the same id is a *new* request for DOKU,
    refused because the reference is used. That refusal proves nothing about the first send:
    the row must stay UNKNOWN (never REJECTED, so retry-failed never pays it again), and a
    later resume that can see the link settles it — executed once throughout."""
    offset = [0.0]
    now = time.time()
    tomorrow = datetime.fromtimestamp(now, WIB).date() + timedelta(days=1)
    midnight = datetime(tomorrow.year, tomorrow.month, tomorrow.day, tzinfo=WIB).timestamp()
    offset[0] = midnight - 30 - now

    def clock() -> float:
        return time.time() + offset[0]

    handle = start_emulator(port=0, link_step_seconds=3600, clock=clock)
    client = DokuClient(
        base_url=handle.url,
        client_id=EMULATOR_CLIENT_ID,
        secret_key=EMULATOR_SECRET_KEY,
        session=make_session(trust_env=False),
        timeout=(2.0, 5.0),
        clock=lambda: datetime.fromtimestamp(clock(), UTC),
    )
    h = Harness(
        tmp=tmp_path,
        emulator=handle,
        ledger=SqliteJournal(tmp_path / "l.sqlite", create=True),
        client=client,
    )
    rows = payout_link_rows(3)
    try:
        run = h.start(h.sheet("batch.csv", rows))
        row = h.ledger.row(run.run_id, SEEDED)
        h.admin.queue_fault("status-not-found", op="payout-link", nth=1, seconds=600)
        assert client.send(KINDS["payout-link"], row.request_id, row.body).klass == "accepted"
        seed(h.ledger, row, State.SENDING)
        offset[0] += 60  # 00:00:30 WIB: a new day for DOKU's Request-Id scope

        h.resume(run.run_id)
        got = h.ledger.row(run.run_id, SEEDED)
        assert got.state == State.UNKNOWN, got.message
        assert h.admin.executed("payout-link")["max_per_reference"] == 1
        assert runs.plan_retry(h.ledger, run.run_id).plan.rows == []

        offset[0] += 600  # the status look-up sees the link now
        result = h.resume(run.run_id)
        proof = assert_invariants(h.ledger.location, run.run_id, h.admin, rows, client=client)
        assert h.ledger.row(run.run_id, SEEDED).state == "PENDING"
        assert proof.executed == 3 and result.sends == 0
    finally:
        client.session.close()
        handle.stop()
