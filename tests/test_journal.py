"""The journal: durability pragmas, the state machine, events, Request-Ids, the run lock,
group commit and cross-run reference look-ups (docs/safety.md §1)."""

from __future__ import annotations

import os
import re
import signal
import sqlite3
import subprocess
import sys
import threading
import time
import uuid
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path

import pytest

from batchpay.errors import IllegalTransition, RunLocked, RunNotFound
from batchpay.journal import (
    REQUEST_ID_NAMESPACE,
    Journal,
    NewRow,
    RepeatedReferences,
    RowChange,
    new_run_id,
    open_journal,
    request_id_for,
    utc_now,
)
from batchpay.journal.identities import Clock
from batchpay.journal.sqlite import SqliteJournal
from batchpay.states import FINAL, State, check_transition
from tests.helpers.journal import new_rows


def _rows(n: int, prefix: str = "REF") -> list[NewRow]:
    return new_rows(n, prefix)


def _run(
    ledger: Journal,
    n: int = 3,
    *,
    kind: str = "payout-link",
    env: str = "emulator",
    prefix: str = "REF",
) -> str:
    product = "payout-link" if kind == "payout-link" else "sub-account"
    return ledger.create_run(
        kind=kind,
        product=product,
        env=env,
        input_path="bonus.csv",
        input_sha256="ab" * 32,
        rows=_rows(n, prefix),
        settings={"concurrency": 4},
    ).run_id


def _move(ledger: Journal, run_id: str, row: int, *states: str, reason: str | None = None) -> None:
    for state in states:
        ledger.apply(RowChange(run_id, row, state, "test", reason=reason))


OpenLedger = Callable[..., Journal]


@pytest.fixture(params=["sqlite", "postgres"])
def open_ledger(request: pytest.FixtureRequest, tmp_path: Path) -> OpenLedger:
    """Opens the test's journal — a SQLite file, or a fresh PostgreSQL database (issue 14) —
    again on every call: the engine-neutral contract tests below run on both engines."""
    location: str = (
        request.getfixturevalue("pg_url")
        if request.param == "postgres"
        else str(tmp_path / "ledger.sqlite")
    )

    def open_(*, create: bool = False, clock: Clock = utc_now) -> Journal:
        return open_journal(location, create=create, clock=clock)

    return open_


@pytest.fixture
def ledger(open_ledger: OpenLedger) -> Journal:
    return open_ledger(create=True)


@pytest.fixture
def sqlite_ledger(tmp_path: Path) -> SqliteJournal:
    return SqliteJournal(tmp_path / "ledger.sqlite", create=True)


# --- durability -----------------------------------------------------------------------------


def test_ledger_connect_every_connection_wal_and_synchronous_full(
    sqlite_ledger: SqliteJournal,
) -> None:
    conns = [sqlite_ledger.connect() for _ in range(3)]
    try:
        for conn in conns:
            assert conn.execute("PRAGMA journal_mode").fetchone()[0] == "wal"
            assert conn.execute("PRAGMA synchronous").fetchone()[0] == 2  # FULL
    finally:
        for conn in conns:
            conn.close()


def test_journal_writer_connection_synchronous_full(
    sqlite_ledger: SqliteJournal, monkeypatch: pytest.MonkeyPatch
) -> None:
    seen: list[int] = []
    original = SqliteJournal.connect

    def spy(self: SqliteJournal) -> sqlite3.Connection:
        conn = original(self)
        seen.append(conn.execute("PRAGMA synchronous").fetchone()[0])
        return conn

    monkeypatch.setattr(SqliteJournal, "connect", spy)
    run_id = _run(sqlite_ledger, 1)
    with sqlite_ledger.writer() as journal:
        journal.commit(RowChange(run_id, 2, State.SENDING, "send", count_send=True))
    assert seen and set(seen) == {2}


def test_ledger_commit_visible_to_new_connection_after_apply(open_ledger: OpenLedger) -> None:
    ledger = open_ledger(create=True)
    run_id = _run(ledger, 1)
    ledger.apply(RowChange(run_id, 2, State.SENDING, "send", count_send=True))
    fresh = open_ledger()
    assert fresh.row(run_id, 2).state == State.SENDING
    assert fresh.row(run_id, 2).sends == 1


# --- the state machine ------------------------------------------------------------------------

ALLOWED = [
    (State.PLANNED, State.SENDING, None),
    (State.PLANNED, State.NOT_SENT, None),
    (State.SENDING, State.SENDING, None),
    (State.SENDING, "COMPLETED", None),
    (State.SENDING, "PENDING", None),
    (State.SENDING, "SUCCESS", None),
    (State.SENDING, State.REJECTED, None),
    (State.SENDING, State.UNKNOWN, None),
    (State.SENDING, State.PLANNED, "auth-failed"),
    (State.SENDING, State.PLANNED, "rate-limited"),
    (State.UNKNOWN, State.SENDING, None),
    (State.UNKNOWN, "EMAIL_SENT", None),
    ("PENDING", "CONFIRMED", None),
    ("CONFIRMED", "COMPLETED", None),
    ("PENDING", "EXPIRED", None),
]

FORBIDDEN = [
    (State.PLANNED, "COMPLETED", None),  # never accepted without going through SENDING
    (State.PLANNED, State.UNKNOWN, None),
    (State.SENDING, State.PLANNED, None),  # back to PLANNED only with proof of non-execution
    (State.SENDING, State.PLANNED, "timeout"),
    (State.UNKNOWN, State.PLANNED, "auth-failed"),  # an UNKNOWN row may have executed
    (State.UNKNOWN, State.REJECTED, None),
    ("PENDING", "SUCCESS", None),
    ("PENDING", State.SENDING, None),
]


@pytest.mark.parametrize(("old", "new", "reason"), ALLOWED)
def test_check_transition_allowed_passes(old: str, new: str, reason: str | None) -> None:
    check_transition(old, new, reason=reason)


@pytest.mark.parametrize(("old", "new", "reason"), FORBIDDEN)
def test_check_transition_forbidden_raises(old: str, new: str, reason: str | None) -> None:
    with pytest.raises(IllegalTransition):
        check_transition(old, new, reason=reason)


@pytest.mark.parametrize("final", sorted(FINAL))
@pytest.mark.parametrize(
    "new",
    [
        State.PLANNED,
        State.SENDING,
        State.UNKNOWN,
        "PENDING",
        "COMPLETED",
        "FAILED",
        State.REJECTED,
        State.NOT_SENT,
    ],
)
def test_check_transition_from_final_state_always_raises(final: str, new: str) -> None:
    with pytest.raises(IllegalTransition):
        check_transition(final, new, reason="auth-failed")


def test_ledger_apply_terminal_row_raises_and_leaves_row_and_events(ledger: Journal) -> None:
    run_id = _run(ledger, 1)
    _move(ledger, run_id, 2, State.SENDING, "COMPLETED")
    before = ledger.events(run_id)
    with pytest.raises(IllegalTransition):
        ledger.apply(RowChange(run_id, 2, State.SENDING, "send", count_send=True))
    row = ledger.row(run_id, 2)
    assert (row.state, row.sends) == ("COMPLETED", 0)
    assert ledger.events(run_id) == before


def test_ledger_apply_appends_event_with_transition_and_request_id(ledger: Journal) -> None:
    run_id = _run(ledger, 1)
    ledger.apply(RowChange(run_id, 2, State.SENDING, "send", count_send=True))
    ledger.apply(
        RowChange(
            run_id,
            2,
            "PENDING",
            "outcome",
            outcome="accepted",
            http_status=200,
            doku_status="PENDING",
            doku_ids={"payout_link_id": "PL-1"},
            message="accepted, HTTP 200",
            seen=True,
        )
    )
    events = [e for e in ledger.events(run_id) if e.row_number == 2]
    assert [(e.old_state, e.new_state) for e in events] == [
        (State.PLANNED, State.SENDING),
        (State.SENDING, "PENDING"),
    ]
    row = ledger.row(run_id, 2)
    assert events[1].request_id == row.request_id
    assert (events[1].outcome, events[1].http_status) == ("accepted", 200)
    assert row.doku_ids == {"payout_link_id": "PL-1"}
    assert row.last_seen_at is not None and row.sends == 1


def test_ledger_sqlite_events_update_or_delete_refused(sqlite_ledger: SqliteJournal) -> None:
    run_id = _run(sqlite_ledger, 1)
    conn = sqlite_ledger.connect()
    try:
        with pytest.raises(sqlite3.IntegrityError, match="append-only"):
            conn.execute("UPDATE events SET detail='x' WHERE run_id=?", (run_id,))
        with pytest.raises(sqlite3.IntegrityError, match="append-only"):
            conn.execute("DELETE FROM events WHERE run_id=?", (run_id,))
    finally:
        conn.close()


def test_ledger_run_unknown_id_raises_run_not_found(ledger: Journal) -> None:
    with pytest.raises(RunNotFound):
        ledger.run("20260101-000000-0000")


# --- identities -------------------------------------------------------------------------------


def test_request_id_sub_account_is_uuid5_of_row_identity() -> None:
    rid = request_id_for("sub-account", "20261121-054512-ab12", 7, "INV-1", 1)
    assert rid == str(uuid.uuid5(REQUEST_ID_NAMESPACE, "20261121-054512-ab12:7:INV-1:1"))
    assert rid == request_id_for("sub-account", "20261121-054512-ab12", 7, "INV-1", 1)


def test_request_id_payout_link_is_20_digits_deterministic() -> None:
    rid = request_id_for("payout-link", "20261121-054512-ab12", 7, "BONUS-1", 1)
    assert re.fullmatch(r"[1-9][0-9]{19}", rid)
    assert rid == request_id_for("payout-link", "20261121-054512-ab12", 7, "BONUS-1", 1)


@pytest.mark.parametrize("product", ["payout-link", "sub-account"])
def test_request_id_new_attempt_or_row_gives_new_id(product: str) -> None:
    base = request_id_for(product, "R", 7, "X", 1)
    assert base != request_id_for(product, "R", 7, "X", 2)
    assert base != request_id_for(product, "R", 8, "X", 1)
    assert base != request_id_for(product, "S", 7, "X", 1)


def test_new_run_id_sortable_readable() -> None:
    rid = new_run_id(datetime(2026, 11, 21, 5, 45, 12, tzinfo=UTC), token="ab12")
    assert rid == "20261121-054512-ab12"


def test_create_run_stores_request_id_and_exact_body_planned(ledger: Journal) -> None:
    rows = _rows(2)
    run_id = _run(ledger, 2)
    stored = ledger.rows(run_id)
    assert [r.state for r in stored] == [State.PLANNED, State.PLANNED]
    assert [r.body for r in stored] == [r.body for r in rows]
    assert stored[0].request_id == request_id_for("payout-link", run_id, 2, "REF-0", 1)
    run = ledger.run(run_id)
    assert run.input_sha256 == "ab" * 32 and run.settings == {"concurrency": 4}
    assert run.operator


# --- the run lock -----------------------------------------------------------------------------


def test_run_lock_second_holder_raises_run_locked(ledger: Journal) -> None:
    with ledger.lock("R1"):
        with pytest.raises(RunLocked, match=f"pid {os.getpid()}"), ledger.lock("R1"):
            pass
        with ledger.lock("R2"):
            pass  # other runs are not blocked
    with ledger.lock("R1"):
        pass  # released on exit


def test_run_lock_killed_holder_frees_lock(ledger: Journal) -> None:
    code = (
        "import sys, time; from batchpay.journal import open_journal; "
        f"held = open_journal({ledger.location!r}).lock('R1'); held.__enter__(); "
        "print('held', flush=True); "
        "time.sleep(60)"
    )
    with subprocess.Popen([sys.executable, "-c", code], stdout=subprocess.PIPE, text=True) as proc:
        try:
            assert proc.stdout is not None and proc.stdout.readline().strip() == "held"
            with pytest.raises(RunLocked), ledger.lock("R1"):
                pass
        finally:
            proc.send_signal(signal.SIGKILL)
            proc.wait(10)
    # The kernel drops a flock with the process; a database server ends the dead client's
    # session (and its advisory lock) once it reads the closed socket: a moment later.
    patience = 0.0 if isinstance(ledger, SqliteJournal) else 5.0
    deadline = time.monotonic() + patience
    while True:
        try:
            with ledger.lock("R1"):
                break
        except RunLocked:
            if time.monotonic() > deadline:
                raise
            time.sleep(0.05)


# --- group commit -----------------------------------------------------------------------------


def test_journal_writer_concurrent_changes_fewer_commits_all_durable(
    open_ledger: OpenLedger,
) -> None:
    ledger = open_ledger(create=True)
    run_id = _run(ledger, 64)
    with ledger.writer() as journal:
        barrier = threading.Barrier(16)

        def worker(rows: list[int]) -> None:
            barrier.wait()
            for r in rows:
                journal.commit(RowChange(run_id, r, State.SENDING, "send", count_send=True))

        threads = [
            threading.Thread(target=worker, args=(list(range(2 + i, 66, 16)),)) for i in range(16)
        ]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        commits = journal.commits
    assert all(r.state == State.SENDING and r.sends == 1 for r in open_ledger().rows(run_id))
    assert commits < 64


def test_journal_writer_refused_change_fails_alone(ledger: Journal) -> None:
    run_id = _run(ledger, 2)
    _move(ledger, run_id, 2, State.SENDING, "COMPLETED")
    with ledger.writer() as journal:
        bad = journal.submit(RowChange(run_id, 2, State.SENDING, "send"))
        good = journal.submit(RowChange(run_id, 3, State.SENDING, "send"))
        with pytest.raises(IllegalTransition):
            bad.result(5)
        good.result(5)
    assert ledger.row(run_id, 3).state == State.SENDING
    assert ledger.row(run_id, 2).state == "COMPLETED"


# --- references across runs -------------------------------------------------------------------


def test_reference_seen_counts_sent_and_pending_not_rejected(ledger: Journal) -> None:
    run_id = _run(ledger, 3)
    _move(ledger, run_id, 2, State.SENDING, "COMPLETED")
    _move(ledger, run_id, 3, State.SENDING, State.REJECTED)
    # row 4 stays PLANNED: an unfinished earlier run may still send it
    assert [s.state for s in ledger.reference_seen("payout-link", "REF-0", env="emulator")] == [
        "COMPLETED"
    ]
    assert ledger.reference_seen("payout-link", "REF-1", env="emulator") == []
    assert [s.state for s in ledger.reference_seen("payout-link", "REF-2", env="emulator")] == [
        State.PLANNED
    ]


def test_reference_seen_other_env_or_kind_does_not_count(ledger: Journal) -> None:
    run_id = _run(ledger, 1)
    _move(ledger, run_id, 2, State.SENDING, "COMPLETED")
    assert ledger.reference_seen("payout-link", "REF-0", env="production") == []
    assert ledger.reference_seen("sub-account-payout", "REF-0", env="emulator") == []


def test_reference_seen_dry_run_rows_do_not_count(ledger: Journal) -> None:
    run_id = _run(ledger, 1)
    _move(ledger, run_id, 2, State.NOT_SENT)
    assert ledger.reference_seen("payout-link", "REF-0", env="emulator") == []


def test_runs_for_month_uses_jakarta_calendar(open_ledger: OpenLedger) -> None:
    # 2026-10-31 18:30 UTC is 2026-11-01 01:30 WIB: a November run for the accountant.
    ledger = open_ledger(clock=lambda: datetime(2026, 10, 31, 18, 30, tzinfo=UTC), create=True)
    run_id = _run(ledger, 1)
    assert [r.run_id for r in ledger.runs_for_month("2026-11")] == [run_id]
    assert ledger.runs_for_month("2026-10") == []


def test_ledger_finish_run_sets_finished_once(ledger: Journal) -> None:
    run_id = _run(ledger, 1)
    ledger.finish_run(run_id)
    first = ledger.run(run_id).finished_at
    time.sleep(0.01)
    ledger.finish_run(run_id)
    assert first is not None and ledger.run(run_id).finished_at == first
    assert [e.type for e in ledger.events(run_id)].count("run-finished") == 1


def test_create_run_repeated_reference_refused_in_transaction(ledger: Journal) -> None:
    _run(ledger, 2)
    with pytest.raises(RepeatedReferences, match="REF-1"):
        _run(ledger, 3)
    assert len(ledger.runs()) == 1
    assert ledger.create_run(
        kind="payout-link",
        product="payout-link",
        env="emulator",
        input_path="b.csv",
        input_sha256="cd" * 32,
        rows=_rows(1),
        settings={},
        allow_repeat=True,
    ).run_id


def test_create_run_concurrent_same_references_only_one_wins(open_ledger: OpenLedger) -> None:
    open_ledger(create=True)
    barrier = threading.Barrier(6)
    outcomes: list[str] = []

    def start() -> None:
        ledger = open_ledger()
        barrier.wait()
        try:
            _run(ledger, 20)
            outcomes.append("created")
        except RepeatedReferences:
            outcomes.append("refused")

    threads = [threading.Thread(target=start) for _ in range(6)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert sorted(outcomes) == ["created"] + ["refused"] * 5


# --- issue 8: a REJECTED row frees its reference only with proof of non-execution -----------


@pytest.mark.parametrize(
    ("code", "message", "frees"),
    [
        ("INVALID_FIELD", "DOKU rejected a field", True),
        ("INSUFFICIENT_BALANCE", "short", True),
        # what v0.1 journaled for a sheet paid from a second journal: the reference EXISTS
        (None, "DOKU rejected a field (HTTP 400: DUPLICATE_REFERENCE — already used)", False),
        (None, "DOKU rejected a field (HTTP 400: INVALID_FIELD — amount)", True),
        ("DUPLICATE_REFERENCE", "already used", False),
        ("REQUEST_ID_REUSED", "other body", False),
    ],
)
def test_ledger_repeat_check_rejected_row_frees_reference_only_with_proof(
    open_ledger: OpenLedger, code: str | None, message: str, frees: bool
) -> None:
    ledger = open_ledger(create=True)
    first = _run(ledger, 1, prefix="BONUS")
    ledger.apply(
        RowChange(
            run_id=first, row_number=2, new_state=State.SENDING, event="send", count_send=True
        )
    )
    ledger.apply(
        RowChange(
            run_id=first,
            row_number=2,
            new_state=State.REJECTED,
            event="outcome",
            message=message,
            code=code,
        )
    )
    assert bool(ledger.repeats("payout-link", "emulator", _rows(1, "bonus"))) is not frees
    if not frees:
        with pytest.raises(RepeatedReferences):
            _run(ledger, 1, prefix="BONUS")
