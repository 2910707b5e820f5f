"""Several workers on one run (issue 14): claims with leases on both journal engines, the run
lock's shared mode, and a worker that loses its lease. The processes (``send --workers``,
``work``, kill -9 of a worker) are in tests/test_workers_processes.py."""

from __future__ import annotations

import threading
from collections.abc import Callable
from datetime import datetime, timedelta
from pathlib import Path

import pytest

from batchpay.errors import RunLocked
from batchpay.journal import Journal, NewRow, RowChange, open_journal, utc_now
from batchpay.runs.options import EngineOptions
from batchpay.runs.workers import FencedWriter, Lease, LeaseLost, WorkerOptions, work
from batchpay.states import State
from tests.helpers.journal import new_rows
from tests.helpers.proofs import ACCEPTED_STATES
from tests.helpers.runs import Harness, payout_link_rows

OpenLedger = Callable[..., Journal]


def _rows(n: int, prefix: str = "W") -> list[NewRow]:
    return new_rows(n, prefix)


def _run(ledger: Journal, n: int = 6) -> str:
    return ledger.create_run(
        kind="payout-link",
        product="payout-link",
        env="emulator",
        input_path="bonus.csv",
        input_sha256="ab" * 32,
        rows=_rows(n),
        settings={},
    ).run_id


class Clock:
    """A journal clock the test moves (SQLite leases are read from it)."""

    def __init__(self) -> None:
        self.now = utc_now()

    def __call__(self) -> datetime:
        return self.now


@pytest.fixture(params=["sqlite", "postgres"])
def open_ledger(request: pytest.FixtureRequest, tmp_path: Path) -> OpenLedger:
    location: str = (
        request.getfixturevalue("pg_url")
        if request.param == "postgres"
        else str(tmp_path / "ledger.sqlite")
    )

    def open_(*, create: bool = False, clock: Callable[[], datetime] = utc_now) -> Journal:
        return open_journal(location, create=create, clock=clock)

    return open_


def _expire(ledger: Journal, run_id: str, worker: str) -> None:
    """Make ``worker``'s leases run out now, on either engine (as a dead worker's do)."""
    gone = "2000-01-01T00:00:00.000+00:00"
    if hasattr(ledger, "path"):
        with ledger.transaction() as conn:  # type: ignore[attr-defined]
            conn.execute(
                "UPDATE rows SET lease_until=? WHERE run_id=? AND claimed_by=?",
                (gone, run_id, worker),
            )
    else:
        with ledger.transaction() as conn:  # type: ignore[attr-defined]
            conn.execute(
                "UPDATE rows SET lease_until=%s WHERE run_id=%s AND claimed_by=%s",
                (gone, run_id, worker),
            )


# --- claims ---------------------------------------------------------------------------------


def test_claim_rows_two_claimers_never_share_a_row(open_ledger: OpenLedger) -> None:
    ledger = open_ledger(create=True)
    run_id = _run(ledger, 40)
    got: dict[str, list[int]] = {"a": [], "b": [], "c": []}

    def claim(name: str) -> None:
        mine = open_ledger()
        while rows := mine.claim_rows(run_id, name, limit=3, lease_seconds=60):
            got[name] += [r.row_number for r in rows]

    threads = [threading.Thread(target=claim, args=(n,)) for n in got]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    claimed = [n for rows in got.values() for n in rows]
    assert sorted(claimed) == list(range(2, 42))  # each row once, none lost


def test_claim_rows_in_doubt_first_then_planned_in_row_order(open_ledger: OpenLedger) -> None:
    ledger = open_ledger(create=True)
    run_id = _run(ledger, 6)
    ledger.apply(RowChange(run_id, 6, State.SENDING, "send", count_send=True))
    ledger.apply(RowChange(run_id, 5, State.SENDING, "send", count_send=True))
    ledger.apply(RowChange(run_id, 5, State.UNKNOWN, "outcome", reason="timeout"))
    rows = ledger.claim_rows(run_id, "w1", limit=4, lease_seconds=60)
    assert [(r.row_number, r.state) for r in rows] == [
        (5, State.UNKNOWN),
        (6, State.SENDING),
        (2, State.PLANNED),
        (3, State.PLANNED),
    ]
    assert rows[0].request_id and rows[0].body  # what the engine needs to replay it


def test_claim_rows_live_lease_not_reclaimable_expired_one_is(open_ledger: OpenLedger) -> None:
    ledger = open_ledger(create=True)
    run_id = _run(ledger, 3)
    first = ledger.claim_rows(run_id, "w1", limit=2, lease_seconds=60)
    assert [r.row_number for r in first] == [2, 3]
    assert [r.row_number for r in ledger.claim_rows(run_id, "w2", limit=5, lease_seconds=60)] == [4]
    assert ledger.claim_rows(run_id, "w3", limit=5, lease_seconds=60) == []
    assert ledger.held_by_others(run_id, "w3") == 3
    assert ledger.held_by_others(run_id, "w1") == 1
    _expire(ledger, run_id, "w1")
    assert ledger.held_by_others(run_id, "w3") == 1
    assert ledger.renew_claims(run_id, "w1", 60) == 0  # an expired lease is never revived
    again = ledger.claim_rows(run_id, "w3", limit=5, lease_seconds=60)
    assert [r.row_number for r in again] == [2, 3]


def test_renew_and_release_claims(open_ledger: OpenLedger) -> None:
    ledger = open_ledger(create=True)
    run_id = _run(ledger, 4)
    ledger.claim_rows(run_id, "w1", limit=3, lease_seconds=60)
    assert ledger.renew_claims(run_id, "w1", 60) == 3
    assert ledger.renew_claims(run_id, "w2", 60) == 0
    ledger.apply(RowChange(run_id, 2, State.SENDING, "send", count_send=True))
    ledger.apply(RowChange(run_id, 2, State.COMPLETED, "outcome"))
    assert ledger.renew_claims(run_id, "w1", 60) == 2  # only open rows need a lease
    assert ledger.release_claims(run_id, "w1") == 3
    assert [r.row_number for r in ledger.claim_rows(run_id, "w2", limit=9, lease_seconds=60)] == [
        3,
        4,
        5,
    ]
    assert ledger.state_counts(run_id) == {State.COMPLETED: 1, State.PLANNED: 3}


def test_claim_rows_sqlite_lease_read_from_the_journal_clock(tmp_path: Path) -> None:
    clock = Clock()
    ledger = open_journal(str(tmp_path / "ledger.sqlite"), create=True, clock=clock)
    run_id = _run(ledger, 2)
    assert len(ledger.claim_rows(run_id, "w1", limit=2, lease_seconds=30)) == 2
    clock.now += timedelta(seconds=29)
    assert ledger.claim_rows(run_id, "w2", limit=2, lease_seconds=30) == []
    clock.now += timedelta(seconds=2)
    assert len(ledger.claim_rows(run_id, "w2", limit=2, lease_seconds=30)) == 2


# --- the run lock: workers share it, never beside an exclusive holder ----------------------


def test_lock_workers_share_exclusive_refused_both_ways(open_ledger: OpenLedger) -> None:
    ledger = open_ledger(create=True)
    run_id = _run(ledger, 1)
    other = open_ledger()
    with ledger.lock(run_id, shared=True), other.lock(run_id, shared=True):
        with pytest.raises(RunLocked):  # a single-process send/resume while workers hold it
            with open_ledger().lock(run_id):
                pass
    with ledger.lock(run_id):
        with pytest.raises(RunLocked):  # a worker while a single process holds it
            with other.lock(run_id, shared=True):
                pass
    with other.lock(run_id, shared=True):  # freed by the holder's exit
        pass


# --- the lease ------------------------------------------------------------------------------


class Ticks:
    def __init__(self) -> None:
        self.t = 1000.0

    def __call__(self) -> float:
        return self.t


def test_lease_fence_closes_before_the_journal_lease_ends(tmp_path: Path) -> None:
    ledger = open_journal(str(tmp_path / "ledger.sqlite"), create=True)
    run_id = _run(ledger, 2)
    ticks = Ticks()
    lost: list[str] = []
    lease = Lease(ledger, run_id, "w1", 10.0, clock=ticks)
    lease.on_lost = lost.append
    ledger.claim_rows(run_id, "w1", limit=2, lease_seconds=10)
    ticks.t += 7.9  # inside the lease less its margin (2 s)
    lease.check()
    lease.renew()
    ticks.t += 7.9
    lease.check()
    ticks.t += 0.2
    with pytest.raises(LeaseLost):
        lease.check()
    assert lost and "lost its lease" in lost[0]


class _Recorder:
    def __init__(self) -> None:
        self.changes: list[RowChange] = []

    def submit(self, change: RowChange) -> object:
        raise NotImplementedError

    def commit(self, change: RowChange) -> None:
        self.changes.append(change)

    def commit_all(self, changes: list[RowChange]) -> None:
        self.changes += changes

    def close(self) -> None:
        pass


def test_fenced_writer_journals_nothing_once_the_lease_is_lost(tmp_path: Path) -> None:
    ledger = open_journal(str(tmp_path / "ledger.sqlite"), create=True)
    run_id = _run(ledger, 1)
    ticks = Ticks()
    lease = Lease(ledger, run_id, "w1", 10.0, clock=ticks)
    inner = _Recorder()
    fenced = FencedWriter(inner, lease)  # type: ignore[arg-type]
    intent = RowChange(run_id, 2, State.SENDING, "send", count_send=True)
    fenced.commit(intent)
    ticks.t += 9
    with pytest.raises(LeaseLost):
        fenced.commit_all([intent])
    assert inner.changes == [intent]


# --- a worker against the emulator ----------------------------------------------------------


def test_work_two_workers_in_threads_pay_every_row_once(harness: Harness) -> None:
    rows = payout_link_rows(60, prefix="TW")
    run = harness.start(harness.sheet("bonus.csv", rows))
    results = []

    def one() -> None:
        results.append(
            work(
                open_journal(str(harness.ledger.path)),
                harness.client,
                run.run_id,
                options=EngineOptions(concurrency=3),
                worker=WorkerOptions(lease=20, batch=5),
            )
        )

    threads = [threading.Thread(target=one) for _ in range(2)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert sum(r.sends for r in results) == 60
    assert all(r.halt is None for r in results)
    assert harness.executed("payout-link")["max_per_reference"] == 1
    assert harness.executed("payout-link")["count"] == 60
    final = harness.ledger.run(run.run_id)
    assert final.finished_at is not None
    assert {r.state for r in harness.ledger.rows(run.run_id)} <= set(ACCEPTED_STATES)


def test_work_lease_taken_over_worker_stops_without_paying_twice(harness: Harness) -> None:
    """A worker whose lease runs out mid-run (stalled past it) journals and sends nothing
    more; another worker takes its rows over and resolves them by look-up/replay, so every
    reference is executed exactly once."""
    rows = payout_link_rows(30, prefix="TL")
    run = harness.start(harness.sheet("bonus.csv", rows))
    ledger = harness.ledger
    stop_after = 8
    done: list[int] = []

    class Stall:
        """Progress that, after a few rows, makes the first worker's lease run out."""

        def row_done(self, row: object, state: str) -> None:
            done.append(1)
            if len(done) == stop_after:
                _expire(ledger, run.run_id, first_name)
                lease_clock.t += 1000  # the worker was stalled far past its lease

    first_name = "stalled-worker"
    lease_clock = Ticks()
    import batchpay.runs.workers as workers_module

    original = workers_module.Lease.__init__

    def with_clock(self: Lease, *args: object, **kw: object) -> None:
        kw["clock"] = lease_clock
        original(self, *args, **kw)  # type: ignore[arg-type]

    mp = pytest.MonkeyPatch()
    mp.setattr(workers_module.Lease, "__init__", with_clock)
    try:
        stalled = work(
            ledger,
            harness.client,
            run.run_id,
            options=EngineOptions(concurrency=1),
            worker=WorkerOptions(lease=20, batch=4),
            progress=Stall(),
            name=first_name,
        )
    finally:
        mp.undo()
    assert stalled.halt is not None and stalled.halt.reason == "lease-lost"
    taker = work(
        open_journal(str(ledger.path)),
        harness.client,
        run.run_id,
        options=EngineOptions(concurrency=2),
        worker=WorkerOptions(lease=20),
    )
    assert taker.halt is None
    executed = harness.executed("payout-link")
    assert executed["count"] == 30 and executed["max_per_reference"] == 1
    states = [r.state for r in ledger.rows(run.run_id)]
    assert State.SENDING not in states and State.UNKNOWN not in states
    assert ledger.run(run.run_id).finished_at is not None
    request_ids = {r.row_number: r.request_id for r in ledger.rows(run.run_id)}
    assert len(set(request_ids.values())) == 30  # one Request-Id per row, none new


def test_work_run_refuses_a_run_not_released(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from batchpay.errors import NotApproved
    from batchpay.runs.options import SendOptions
    from batchpay.runs.progress import NullProgress
    from batchpay.runs.team import work_run

    path = tmp_path / "ledger.sqlite"
    ledger = open_journal(str(path), create=True)
    run_id = ledger.create_run(
        kind="payout-link",
        product="payout-link",
        env="emulator",
        input_path="bonus.csv",
        input_sha256="ab" * 32,
        rows=_rows(2),
        settings={},
        status="AWAITING_APPROVAL",
    ).run_id
    monkeypatch.setenv("BATCHPAY_LEDGER", str(path))
    with pytest.raises(NotApproved):
        work_run(run_id, SendOptions(), progress=NullProgress())  # type: ignore[arg-type]
    assert {r.state for r in ledger.rows(run_id)} == {State.PLANNED}
    assert not [e for e in ledger.events(run_id) if e.type == "worker"]


def test_work_cli_joins_an_open_run_and_pays_it(
    harness: Harness, monkeypatch: pytest.MonkeyPatch
) -> None:
    from batchpay.emulator import EMULATOR_CLIENT_ID, EMULATOR_SECRET_KEY
    from tests.helpers.runs import run_cli

    rows = payout_link_rows(12, prefix="CW")
    run = harness.start(harness.sheet("bonus.csv", rows))  # OPEN, as `batchpay run` makes it
    monkeypatch.setenv("BATCHPAY_LEDGER", str(harness.ledger.path))
    monkeypatch.setenv("BATCHPAY_ENV", "emulator")
    monkeypatch.setenv("BATCHPAY_CLIENT_ID", EMULATOR_CLIENT_ID)
    monkeypatch.setenv("BATCHPAY_SECRET_KEY", EMULATOR_SECRET_KEY)
    result = run_cli("work", run.run_id, "--quiet", "--base-url", harness.emulator.url)
    assert result.exit_code == 0, result.output
    assert "12 request(s) sent now" in result.output
    assert harness.executed("payout-link")["count"] == 12
    assert harness.ledger.run(run.run_id).finished_at is not None
