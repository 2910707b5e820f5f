"""The live-reference constraint (issue 14) on both engines: a partial UNIQUE index on
``rows(kind, env, reference_key) WHERE holds = 1`` makes it impossible for two live runs of
one environment and kind to hold the same reference, unless the operator allowed a repeat.

The index itself (a raw INSERT or UPDATE is refused), every path that keeps ``holds`` equal
to the read check (create, free states, rejection, expiry, emulator reset, retry take-over,
allowed repeats, dry runs), the 3 → 4 migration with legacy duplicate holders, the index as
the backstop of the read check (a violation is the same RepeatedReferences, nothing
journaled), and the race: two processes starting the same sheet at one instant, 50 times on
PostgreSQL — exactly one proceeds, the other is refused naming it, nothing is paid twice.
"""

from __future__ import annotations

import multiprocessing
import os
import sqlite3
import subprocess
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

from batchpay.emulator.runtime import EmulatorHandle
from batchpay.errors import RepeatedReferences
from batchpay.journal import open_journal
from batchpay.journal.protocol import Journal
from batchpay.journal.records import NewRow, RowChange, StatusChange
from batchpay.journal.sqlite.schema import FORGOTTEN_EVENT
from batchpay.runs.reset import RESET_EVENT
from batchpay.states import RunStatus, State
from tests.helpers.proofs import batchpay_cmd, cli_env
from tests.helpers.runs import payout_link_rows, write_csv

ENGINES = ["sqlite", "postgres"]
PROVES_NOTHING_EXECUTED = "INVALID_FIELD"


class Clock:
    """A clock one second apart per call: runs get distinct, ordered creation times."""

    def __init__(self) -> None:
        self.now = datetime(2026, 12, 1, 3, 0, tzinfo=UTC)

    def __call__(self) -> datetime:
        self.now += timedelta(seconds=1)
        return self.now


@pytest.fixture(params=ENGINES)
def engine(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    """Where the journal lives: a SQLite file, or a fresh PostgreSQL database."""
    if request.param == "postgres":
        return str(request.getfixturevalue("pg_url"))
    return str(tmp_path / "ledger.sqlite")


@pytest.fixture
def journal(engine: str) -> Journal:
    return open_journal(engine, create=True, clock=Clock())


@contextmanager
def raw(location: str) -> Iterator[Callable[..., list[tuple[Any, ...]]]]:
    """Plain SQL against the journal's storage (``?`` placeholders on both engines)."""
    if location.startswith("postgresql://"):
        import psycopg

        with psycopg.connect(location, autocommit=True) as pg:

            def run_pg(sql: str, *args: Any) -> list[tuple[Any, ...]]:
                cur = pg.execute(sql.replace("?", "%s"), args)  # type: ignore[arg-type]
                return list(cur.fetchall()) if cur.description else []

            yield run_pg
        return
    conn = sqlite3.connect(location, isolation_level=None)
    try:

        def run_sqlite(sql: str, *args: Any) -> list[tuple[Any, ...]]:
            return list(conn.execute(sql, args).fetchall())

        yield run_sqlite
    finally:
        conn.close()


def refused() -> tuple[type[BaseException], ...]:
    import psycopg

    return (sqlite3.IntegrityError, psycopg.errors.UniqueViolation)


def new_rows(references: list[str], *, attempt: int = 1) -> list[NewRow]:
    return [
        NewRow(
            row_number=i + 2,
            reference=ref,
            amount_minor=150_000_00,
            currency="IDR",
            source_account=None,
            input={"reference_id": ref},
            normalised={"reference_id": ref},
            body=b'{"reference_id": "' + ref.encode() + b'"}',
            attempt=attempt,
        )
        for i, ref in enumerate(references)
    ]


def create(journal: Journal, references: list[str], **kw: Any) -> str:
    attempt = kw.pop("attempt", 1)
    return journal.create_run(
        kind="payout-link",
        product="payout-link",
        env="emulator",
        input_path="bonus.csv",
        input_sha256="ab" * 32,
        rows=new_rows(references, attempt=attempt),
        settings={},
        **kw,
    ).run_id


def holds(location: str, run_id: str) -> list[int]:
    with raw(location) as sql:
        return [
            int(r[0])
            for r in sql("SELECT holds FROM rows WHERE run_id=? ORDER BY row_number", run_id)
        ]


def reject(journal: Journal, run_id: str, row: int, code: str) -> None:
    journal.apply(RowChange(run_id, row, State.SENDING, "send", count_send=True))
    journal.apply(RowChange(run_id, row, State.REJECTED, "outcome", code=code, message=code))


# --- the index ------------------------------------------------------------------------------


def test_live_index_refuses_raw_insert_and_update_of_a_second_holder(
    journal: Journal, engine: str
) -> None:
    first = create(journal, ["BONUS-1"])
    repeat = create(journal, ["bonus-1"], allow_repeat=True)
    assert holds(engine, first) == [1] and holds(engine, repeat) == [0]
    with raw(engine) as sql, pytest.raises(refused()):
        sql("UPDATE rows SET holds=1 WHERE run_id=?", repeat)
    columns = (
        "run_id, row_number, attempt, kind, env, reference, amount_minor, currency, "
        "source_account, input, normalised, body, state, updated_at, reference_key"
    )
    with raw(engine) as sql, pytest.raises(refused()):
        sql(
            f"INSERT INTO rows ({columns}, request_id, holds) "  # noqa: S608
            f"SELECT {columns}, request_id || '-copy', 1 FROM rows WHERE run_id=?",
            repeat,
        )
    assert holds(engine, first) == [1] and holds(engine, repeat) == [0]


# --- who holds ------------------------------------------------------------------------------


def test_live_holds_taken_by_real_runs_never_by_dry_runs_or_allowed_repeats(
    journal: Journal, engine: str
) -> None:
    dry = create(journal, ["A-1", "A-2"], dry_run=True, allow_repeat=True)
    assert holds(engine, dry) == [0, 0]  # not even while PLANNED, before dry_run signs them
    for row in (2, 3):
        journal.apply(RowChange(dry, row, State.NOT_SENT, "dry-run"))
    real = create(journal, ["A-1", "A-2", "A-3"])
    awaiting = create(journal, ["B-1"], status=RunStatus.AWAITING_APPROVAL)
    allowed = create(journal, ["A-1", "C-1"], allow_repeat=True)
    assert holds(engine, dry) == [0, 0]
    assert holds(engine, real) == [1, 1, 1]
    assert holds(engine, awaiting) == [1]  # a submitted run holds until rejected or expired
    # An allowed repeat never takes a slot, not even for a reference nobody else holds; the
    # read check still sees its rows.
    assert holds(engine, allowed) == [0, 0]
    with pytest.raises(RepeatedReferences) as exc:
        create(journal, ["C-1"])
    assert exc.value.repeats[0].earlier.run_id == allowed


def test_live_holds_one_row_per_key_inside_one_run(journal: Journal, engine: str) -> None:
    run_id = create(journal, ["DUP-1", "dup-1", "OTHER"])
    assert holds(engine, run_id) == [1, 0, 1]


def test_live_hold_given_back_by_states_that_free_the_reference(
    journal: Journal, engine: str
) -> None:
    run_id = create(journal, ["R-1", "R-2", "R-3", "R-4"])
    reject(journal, run_id, 2, PROVES_NOTHING_EXECUTED)  # proof: nothing executed
    reject(journal, run_id, 3, "DUPLICATE_REFERENCE")  # the reference exists at DOKU
    journal.apply(RowChange(run_id, 4, State.SENDING, "send", count_send=True))
    journal.apply(RowChange(run_id, 4, State.FAILED, "outcome"))  # the link exists at DOKU
    journal.apply(RowChange(run_id, 5, State.NOT_SENT, "not-sent"))
    assert holds(engine, run_id) == [0, 1, 1, 0]
    again = create(journal, ["R-1", "R-4"])
    assert holds(engine, again) == [1, 1]
    for reference in ("R-2", "R-3"):
        with pytest.raises(RepeatedReferences):
            create(journal, [reference])


@pytest.mark.parametrize("closed", [RunStatus.REJECTED, RunStatus.EXPIRED])
def test_live_holds_given_back_when_submitted_run_rejected_or_expired(
    journal: Journal, engine: str, closed: RunStatus
) -> None:
    run_id = create(journal, ["S-1", "S-2"], status=RunStatus.AWAITING_APPROVAL)
    with pytest.raises(RepeatedReferences):
        create(journal, ["S-1"])
    journal.change_status(
        StatusChange(run_id, RunStatus.AWAITING_APPROVAL, closed, closed.lower(), "closed")
    )
    assert holds(engine, run_id) == [0, 0]
    assert holds(engine, create(journal, ["S-1", "S-2"])) == [1, 1]


def test_live_holds_given_back_by_emulator_reset(
    journal: Journal, engine: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    from batchpay.config import load_settings
    from batchpay.runs.reset import ResetPlan, forgotten_runs, reset_builtin_emulator

    assert FORGOTTEN_EVENT == RESET_EVENT  # the migration knows forgotten runs by it
    monkeypatch.setenv("BATCHPAY_LEDGER", engine)
    settings = load_settings(env="emulator", base_url=None, require_credentials=False)
    older = create(journal, ["E-1", "E-2"])
    plan = ResetPlan(settings, settings.home / "none.sqlite", False, journal, [journal.run(older)])
    reset_builtin_emulator(plan, clock=datetime(2030, 1, 1, tzinfo=UTC))
    assert holds(engine, older) == [0, 0]
    assert [e.type for e in journal.events(older)].count(RESET_EVENT) == 1
    # A new built-in emulator run excludes the forgotten run and takes the references.
    assert forgotten_runs(journal, settings) == (older,)
    newer = create(journal, ["E-1", "E-2"], exclude_run_ids=(older,))
    assert holds(engine, newer) == [1, 1]


def test_live_holds_taken_over_by_retry_of_excluded_parent_chain(
    journal: Journal, engine: str
) -> None:
    parent = create(journal, ["INV-1", "INV-2"])
    journal.apply(RowChange(parent, 2, State.SENDING, "send", count_send=True))
    journal.apply(RowChange(parent, 2, State.FAILED, "outcome"))  # FAILED still holds
    assert holds(engine, parent) == [1, 1]
    # A Sub Account retry keeps the invoice number: the parent chain is excluded, and the
    # child takes the slot over from the retried row only, in its own transaction.
    child = create(journal, ["INV-1"], parent_run_id=parent, exclude_run_ids=(parent,), attempt=2)
    assert holds(engine, child) == [1] and holds(engine, parent) == [0, 1]
    with pytest.raises(RepeatedReferences):  # the read check: the parent's FAILED row first
        create(journal, ["INV-1"])


def test_live_take_over_rolled_back_with_a_refused_run(journal: Journal, engine: str) -> None:
    parent = create(journal, ["T-1"])
    other = create(journal, ["T-2"])
    with pytest.raises(RepeatedReferences):
        create(journal, ["T-1", "T-2"], exclude_run_ids=(parent,))
    assert holds(engine, parent) == [1] and holds(engine, other) == [1]
    assert len(journal.runs()) == 2


# --- the backstop -----------------------------------------------------------------------------


def test_live_index_violation_is_repeated_references_naming_holder_nothing_journaled(
    journal: Journal, engine: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    first = create(journal, ["RACE-1"])
    # The read check reads "free" (as both racers do): only the index stands in the way.
    store = type(journal).__module__
    monkeypatch.setattr(f"{store}.repeats_in", lambda *a, **k: [])
    with pytest.raises(RepeatedReferences) as exc:
        create(journal, ["NEW-1", "race-1"])
    [repeat] = exc.value.repeats
    assert (repeat.row_number, repeat.reference, repeat.earlier.run_id) == (3, "race-1", first)
    assert first in str(exc.value)
    assert [r.run_id for r in journal.runs()] == [first]
    with raw(engine) as sql:
        assert sql("SELECT count(*) FROM rows")[0][0] == 1
        assert sql("SELECT count(*) FROM events WHERE run_id <> ?", first)[0][0] == 0


def test_live_index_postgres_race_without_advisory_lock_one_run_refused(
    pg_url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    """READ COMMITTED, no advisory lock: both transactions read the references free (a
    barrier holds each after its read), both insert; the index refuses the second."""
    import batchpay.journal.postgres.store as store

    journal = open_journal(pg_url, create=True)
    check = store.repeats_in
    barrier = threading.Barrier(2, timeout=30)

    def read_then_wait(*args: Any, **kw: Any) -> Any:
        found = check(*args, **kw)
        barrier.wait()
        return found

    monkeypatch.setattr(store, "lock_references", lambda *a, **k: None)
    monkeypatch.setattr(store, "repeats_in", read_then_wait)
    outcomes: list[object] = []

    def racer() -> None:
        try:
            outcomes.append(create(journal, ["PG-1", "PG-2", "PG-3"]))
        except RepeatedReferences as exc:
            outcomes.append(exc)

    threads = [threading.Thread(target=racer) for _ in range(2)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(60)
    [winner] = [o for o in outcomes if isinstance(o, str)]
    [loser] = [o for o in outcomes if isinstance(o, RepeatedReferences)]
    assert {r.earlier.run_id for r in loser.repeats} == {winner} and len(loser.repeats) == 3
    assert [r.run_id for r in journal.runs()] == [winner]


# --- the migration --------------------------------------------------------------------------


def _legacy(journal: Journal) -> dict[str, str]:
    """Runs as schema 3 would have left them, holds aside (each name: its run id)."""
    runs = {"a": create(journal, ["X-1", "Y-1"])}
    runs["b"] = create(journal, ["x-1"], allow_repeat=True)  # a second holder of X-1
    runs["dry"] = create(journal, ["Z-1"], dry_run=True, allow_repeat=True)
    runs["rejected"] = create(journal, ["W-1"], status=RunStatus.AWAITING_APPROVAL)
    journal.change_status(
        StatusChange(
            runs["rejected"], RunStatus.AWAITING_APPROVAL, RunStatus.REJECTED, "reject", "no"
        )
    )
    runs["e"] = create(journal, ["V-1", "U-1"])
    reject(journal, runs["e"], 2, PROVES_NOTHING_EXECUTED)
    reject(journal, runs["e"], 3, "DUPLICATE_REFERENCE")
    runs["forgotten"] = create(journal, ["T-1"])
    journal.add_event(runs["forgotten"], FORGOTTEN_EVENT, "reset")
    runs["awaiting"] = create(journal, ["S-1"], status=RunStatus.AWAITING_APPROVAL)
    return runs


def _downgrade_to_3(location: str) -> None:
    """Take schema 4's columns and index away, every holds value with them."""
    with raw(location) as sql:
        if location.startswith("postgresql://"):
            sql("DROP INDEX rows_live_reference")
            for column in ("holds", "claimed_by", "lease_until"):
                sql(f"ALTER TABLE rows DROP COLUMN {column} CASCADE")
            sql("UPDATE batchpay_meta SET value='3' WHERE key='schema_version'")
            return
        for (name,) in sql(
            "SELECT name FROM sqlite_master WHERE type='index' AND tbl_name='rows' "
            "AND sql IS NOT NULL AND name <> 'rows_by_reference_key'"
        ):
            sql(f"DROP INDEX {name}")
        for column in ("holds", "claimed_by", "lease_until"):
            sql(f"ALTER TABLE rows DROP COLUMN {column}")
        sql("PRAGMA user_version = 3")


def test_live_migration_from_3_backfills_holds_newest_duplicate_holder_wins(
    journal: Journal, engine: str
) -> None:
    runs = _legacy(journal)
    _downgrade_to_3(engine)
    migrated = open_journal(engine)  # a writing opener migrates 3 → 4
    assert holds(engine, runs["a"]) == [0, 1]  # the newer run b holds it
    assert holds(engine, runs["b"]) == [1]
    assert holds(engine, runs["dry"]) == [0]
    assert holds(engine, runs["rejected"]) == [0]
    assert holds(engine, runs["e"]) == [0, 1]  # V-1 proved unexecuted; U-1 exists at DOKU
    assert holds(engine, runs["forgotten"]) == [0]
    assert holds(engine, runs["awaiting"]) == [1]
    with raw(engine) as sql, pytest.raises(refused()):
        sql("UPDATE rows SET holds=1 WHERE run_id=?", runs["a"])
    with pytest.raises(RepeatedReferences) as exc:
        create(migrated, ["X-1"])
    assert exc.value.repeats[0].earlier.run_id == runs["a"]  # the read check: oldest first
    again = create(migrated, ["V-1", "T-1"], exclude_run_ids=(runs["forgotten"],))
    assert holds(engine, again) == [1, 1]


# --- the race: two processes, one sheet, one instant ----------------------------------------


def _race_worker(env: dict[str, str], barrier: Any, jobs: Any, results: Any) -> None:
    """One operator's machine: for each sheet, validate and plan it, wait for the other
    operator at the barrier, then start it (journal, send, workbook)."""
    os.environ.update(env)
    from batchpay.errors import RepeatedReferences
    from batchpay.runs import service
    from batchpay.runs.options import RunOptions, Target
    from batchpay.runs.progress import NullProgress

    base = Target(env="emulator", base_url=env["BATCHPAY_BASE_URL"])
    while (job := jobs.get()) is not None:
        sheet, reports = job
        try:
            options = RunOptions(target=base, yes=True, report_dir=Path(reports))
            prepared = service.prepare(Path(sheet), options)
            barrier.wait()
            result = service.start(prepared, confirm=lambda *_: True, progress=NullProgress())
            results.put(("ran", result.run.run_id, result.sends))
        except RepeatedReferences as exc:
            results.put(("refused", sorted({r.earlier.run_id for r in exc.repeats}), str(exc)))
        except Exception as exc:  # reported to the test, never swallowed
            results.put(("error", repr(exc), ""))


def _race(location: str, emulator: EmulatorHandle, tmp_path: Path, rounds: int) -> None:
    emulator.admin.reset()
    env = cli_env(emulator.url, location, tmp_path / "home")
    env = {k: v for k, v in env.items() if k.startswith("BATCHPAY_")}
    spawn = multiprocessing.get_context("spawn")
    barrier, results = spawn.Barrier(2, timeout=60), spawn.Queue()
    jobs = [spawn.Queue(), spawn.Queue()]
    workers = [
        spawn.Process(target=_race_worker, args=(env, barrier, q, results), daemon=True)
        for q in jobs
    ]
    for w in workers:
        w.start()
    seen: list[str] = []
    try:
        started = time.monotonic()
        for n in range(rounds):
            sheet = write_csv(tmp_path / f"r{n}.csv", payout_link_rows(2, prefix=f"RACE{n}"))
            for q in jobs:
                q.put((str(sheet), str(tmp_path / f"reports{n}")))
            outcomes = sorted((results.get(timeout=60) for _ in jobs), key=lambda o: o[0])
            kinds = [o[0] for o in outcomes]
            assert kinds == ["ran", "refused"], outcomes
            (_, winner, sends), (_, holders, message) = outcomes
            assert sends == 2 and holders == [winner] and winner in message, outcomes
            seen.append(winner)
        elapsed = time.monotonic() - started
    finally:
        for q in jobs:
            q.put(None)
        for w in workers:
            w.join(30)
    executed = emulator.admin.executed("payout-link")
    assert executed["count"] == 2 * rounds and executed["max_per_reference"] == 1
    assert sorted(r.run_id for r in open_journal(location).runs()) == sorted(seen)
    print(f"race on {location.split(':')[0]}: {rounds} rounds, {rounds} refused, {elapsed:.1f} s")


def test_live_race_two_processes_one_sheet_postgres_50_rounds(
    emulator: EmulatorHandle, tmp_path: Path, pg_url: str
) -> None:
    _race(pg_url, emulator, tmp_path, 50)


def test_live_race_two_processes_one_sheet_sqlite_10_rounds(
    emulator: EmulatorHandle, tmp_path: Path
) -> None:
    _race(str(tmp_path / "ledger.sqlite"), emulator, tmp_path, 10)


@pytest.mark.parametrize("engine_name", ENGINES)
def test_live_race_two_batchpay_run_commands_at_once_one_refused_naming_it(
    emulator: EmulatorHandle, tmp_path: Path, engine_name: str, request: pytest.FixtureRequest
) -> None:
    location = (
        str(request.getfixturevalue("pg_url"))
        if engine_name == "postgres"
        else str(tmp_path / "ledger.sqlite")
    )
    emulator.admin.reset()
    env = cli_env(emulator.url, location, tmp_path / "home")
    for n in range(2):
        sheet = write_csv(tmp_path / f"cli{n}.csv", payout_link_rows(3, prefix=f"CLI{n}"))
        command = batchpay_cmd("run", str(sheet), "--yes", "--quiet")
        procs = [
            subprocess.Popen(
                command, env=env, cwd=tmp_path, stdout=subprocess.PIPE, stderr=subprocess.STDOUT
            )
            for _ in range(2)
        ]
        outputs = [p.communicate(timeout=120)[0].decode() for p in procs]
        codes = sorted(p.returncode for p in procs)
        assert codes == [0, 1], outputs
        runs = open_journal(location).runs()
        assert len(runs) == n + 1
        [refusal] = [o for p, o in zip(procs, outputs, strict=True) if p.returncode == 1]
        assert runs[0].run_id in refusal and "already sent in an earlier run" in refusal
    executed = emulator.admin.executed("payout-link")
    assert executed["count"] == 6 and executed["max_per_reference"] == 1
