"""The journal as a file (issue 8): never created by accident (finding 3), repeats compared on
the normalised reference across runs and the schema-2 migration (finding 2), storage faults
as one precise JournalError (finding 10), private modes (finding 11), and ``run --report``
never following a symlink (finding 12). Real SQLite, real mounts, real emulator."""

from __future__ import annotations

import json
import os
import sqlite3
import stat
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import openpyxl
import pytest

from batchpay.cli.exits import exit_code_for
from batchpay.config import load_settings
from batchpay.doku import EMULATOR_STATE_FILE
from batchpay.emulator.runtime import EmulatorHandle
from batchpay.emulator.state import Store
from batchpay.errors import (
    JournalCorrupt,
    JournalError,
    JournalFull,
    JournalMissing,
    JournalReadOnly,
)
from batchpay.journal import NewRow, RepeatedReferences, RowChange
from batchpay.journal.sqlite import SCHEMA_VERSION, SqliteJournal
from batchpay.states import State
from tests.helpers.mounts import fill_up, read_only, tmpfs
from tests.helpers.runs import (
    payout_link_rows,
    run_cli,
    write_csv,
)

NEVER_AGAIN = "do not pay"
VARIANTS = ("bonus-nov-0001", "BONUS-NOV-\uff10\uff10\uff101", "B\u041eNUS-NOV-0001")


def _rows(references: list[str], *, body_size: int = 64) -> list[NewRow]:
    return [
        NewRow(
            row_number=i + 2,
            reference=ref,
            amount_minor=150_000_000,
            currency="IDR",
            source_account=None,
            input={"Ref": ref},
            normalised={"reference_id": ref},
            body=json.dumps({"reference_id": ref, "pad": "x" * body_size}).encode(),
        )
        for i, ref in enumerate(references)
    ]


def _create(ledger: SqliteJournal, references: list[str], **kw: object) -> str:
    return ledger.create_run(
        kind="payout-link",
        product="payout-link",
        env="emulator",
        input_path="bonus.csv",
        input_sha256="ab" * 32,
        rows=_rows(references, **kw),  # type: ignore[arg-type]
        settings={},
    ).run_id


def _mode(path: Path) -> int:
    return stat.S_IMODE(path.stat().st_mode)


@pytest.fixture
def here(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.chdir(tmp_path)
    return tmp_path


@pytest.fixture
def local(emulator: EmulatorHandle, monkeypatch: pytest.MonkeyPatch, here: Path) -> EmulatorHandle:
    emulator.admin.reset()
    monkeypatch.setenv("BATCHPAY_BASE_URL", emulator.url)
    return emulator


@pytest.fixture
def umask() -> Iterator[None]:
    """A permissive umask, so the modes checked are batchpay's, not the umask's."""
    previous = os.umask(0o022)
    try:
        yield
    finally:
        os.umask(previous)


# --- finding 3: a missing journal is never created --------------------------------------------


def test_ledger_missing_path_journal_missing_nothing_created(tmp_path: Path) -> None:
    path = tmp_path / "gone" / "ledger.sqlite"
    with pytest.raises(JournalMissing) as caught:
        SqliteJournal(path)
    error = caught.value
    assert exit_code_for(error) == 4 and error.path == path
    assert str(path) in str(error) and "do not pay the sheet again" in str(error)
    assert not path.parent.exists()
    with pytest.raises(JournalMissing):
        SqliteJournal(path, read_only=True)
    assert not path.parent.exists()


def test_ledger_empty_file_journal_missing_file_untouched(tmp_path: Path) -> None:
    path = tmp_path / "ledger.sqlite"
    path.touch()
    with pytest.raises(JournalMissing, match="is empty"):
        SqliteJournal(path)
    assert path.stat().st_size == 0
    assert sorted(p.name for p in tmp_path.iterdir()) == ["ledger.sqlite"]


def test_ledger_sqlite_without_tables_journal_missing(tmp_path: Path) -> None:
    # What is left when a fresh journal's -wal file is lost: a header, no tables.
    path = tmp_path / "ledger.sqlite"
    conn = sqlite3.connect(path)
    conn.execute("PRAGMA journal_mode=WAL")
    conn.close()
    assert path.stat().st_size > 0
    with pytest.raises(JournalMissing, match="is empty"):
        SqliteJournal(path)


def test_ledger_create_true_makes_journal_then_plain_open_works(tmp_path: Path) -> None:
    path = tmp_path / "a" / "b" / "ledger.sqlite"
    SqliteJournal(path, create=True)
    assert SqliteJournal(path).runs() == [] and SqliteJournal(path, read_only=True).runs() == []


@pytest.mark.parametrize(
    "args",
    [
        ("resume", "20260101-000000-dead"),
        ("status", "20260101-000000-dead"),
        ("retry-failed", "20260101-000000-dead", "--yes"),
        ("runs",),
        ("report", "20260101-000000-dead"),
    ],
)
def test_cli_missing_ledger_exit_4_names_path_creates_nothing(
    here: Path, monkeypatch: pytest.MonkeyPatch, args: tuple[str, ...]
) -> None:
    path = here / "journal-dir" / "ledger.sqlite"
    monkeypatch.setenv("BATCHPAY_LEDGER", str(path))
    result = run_cli(*args)
    assert "Traceback" not in result.output and "internal error" not in result.output
    assert result.exit_code == 4, result.output
    assert str(path) in result.output and "do not pay the sheet again" in result.output
    assert not path.parent.exists()
    assert not (here / "journal-dir" / "ledger.sqlite.locks").exists()


# --- finding 2: repeats across runs on the normalised key; schema 2 -------------------------


@pytest.mark.parametrize("variant", VARIANTS)
def test_ledger_create_run_normalised_repeat_refused_names_earlier_reference(
    tmp_path: Path, variant: str
) -> None:
    ledger = SqliteJournal(tmp_path / "ledger.sqlite", create=True)
    first = _create(ledger, ["BONUS-NOV-0001"])
    with pytest.raises(RepeatedReferences) as caught:
        _create(ledger, [variant])
    message = str(caught.value)
    assert first in message and "'BONUS-NOV-0001'" in message and repr(variant) in message
    [repeat] = caught.value.repeats
    assert repeat.reference == variant and repeat.earlier.reference == "BONUS-NOV-0001"
    assert [s.run_id for s in ledger.reference_seen("payout-link", variant, env="emulator")] == [
        first
    ]
    assert len(ledger.runs()) == 1


def test_ledger_rows_store_reference_key_and_code(tmp_path: Path) -> None:
    ledger = SqliteJournal(tmp_path / "ledger.sqlite", create=True)
    run_id = _create(ledger, ["B\u041eNUS-NOV-0001"])
    ledger.apply(RowChange(run_id, 2, State.SENDING, "send", count_send=True))
    ledger.apply(RowChange(run_id, 2, State.REJECTED, "outcome", code="INVALID_FIELD"))
    row = ledger.row(run_id, 2)
    assert row.reference_key == "bonus-nov-0001" and row.code == "INVALID_FIELD"
    assert ledger.rows(run_id, data=False)[0].code == "INVALID_FIELD"
    assert next(ledger.iter_rows(run_id)).reference_key == "bonus-nov-0001"


def _downgrade_to_v1(path: Path) -> None:
    """Turn a current journal into exactly what batchpay 1 wrote (same tables and index)."""
    conn = sqlite3.connect(path, isolation_level=None)
    conn.executescript(
        "DROP TABLE approvals; DROP TABLE plans;"
        "ALTER TABLE runs DROP COLUMN status; ALTER TABLE runs DROP COLUMN plan_digest;"
        "ALTER TABLE runs DROP COLUMN expires_at;"
        "DROP INDEX rows_by_reference_key; DROP INDEX rows_live_reference;"
        "ALTER TABLE rows DROP COLUMN holds;"
        "ALTER TABLE rows DROP COLUMN reference_key; ALTER TABLE rows DROP COLUMN code;"
        "CREATE INDEX rows_by_reference ON rows(kind, env, reference);"
        "PRAGMA user_version = 1;"
    )
    conn.close()


def test_ledger_v1_journal_migrated_in_place_repeat_variants_refused(tmp_path: Path) -> None:
    path = tmp_path / "ledger.sqlite"
    ledger = SqliteJournal(path, create=True)
    first = _create(ledger, ["BONUS-NOV-0001", "PL-2"])
    ledger.apply(RowChange(first, 2, State.SENDING, "send", count_send=True))
    ledger.apply(RowChange(first, 2, "COMPLETED", "outcome"))
    _downgrade_to_v1(path)

    migrated = SqliteJournal(path)
    conn = sqlite3.connect(path)
    assert conn.execute("PRAGMA user_version").fetchone()[0] == SCHEMA_VERSION == 4
    assert conn.execute(
        "SELECT reference, reference_key, state FROM rows ORDER BY row_number"
    ).fetchall() == [("BONUS-NOV-0001", "bonus-nov-0001", "COMPLETED"), ("PL-2", "pl-2", "PLANNED")]
    indexes = {r[0] for r in conn.execute("SELECT name FROM sqlite_master WHERE type='index'")}
    conn.close()
    assert "rows_by_reference_key" in indexes
    for variant in VARIANTS:
        with pytest.raises(RepeatedReferences, match="BONUS-NOV-0001"):
            _create(migrated, [variant])
    assert len(migrated.events(first)) == 3  # the audit trail survived the migration


def test_ledger_v1_journal_read_only_open_not_migrated_rows_readable(tmp_path: Path) -> None:
    path = tmp_path / "ledger.sqlite"
    run_id = _create(SqliteJournal(path, create=True), ["BONUS-NOV-0001"])
    _downgrade_to_v1(path)
    before = path.read_bytes()
    reader = SqliteJournal(path, read_only=True)
    [row] = reader.rows(run_id)
    assert row.reference_key == "bonus-nov-0001" and row.code is None
    assert [r.reference for r in reader.rows(run_id, data=False)] == ["BONUS-NOV-0001"]
    with reader.snapshot() as snap:
        assert [r.state for r in snap.iter_rows(run_id)] == [State.PLANNED]
    assert path.read_bytes() == before
    conn = sqlite3.connect(path)
    assert conn.execute("PRAGMA user_version").fetchone()[0] == 1
    conn.close()


def test_ledger_newer_schema_refused_exit_4(tmp_path: Path) -> None:
    path = tmp_path / "ledger.sqlite"
    SqliteJournal(path, create=True)
    conn = sqlite3.connect(path)
    conn.execute(f"PRAGMA user_version = {SCHEMA_VERSION + 1}")
    conn.close()
    for read_only_ in (False, True):
        with pytest.raises(JournalError, match="newer batchpay") as caught:
            SqliteJournal(path, read_only=read_only_)
        assert exit_code_for(caught.value) == 4


@pytest.mark.parametrize("variant", VARIANTS)
def test_cli_run_normalised_repeat_refused_nothing_sent(
    local: EmulatorHandle, here: Path, variant: str
) -> None:
    first = payout_link_rows(1)
    first[0]["reference_id"] = "BONUS-NOV-0001"
    assert run_cli("run", str(write_csv(here / "nov.csv", first)), "--quiet").exit_code == 0
    paid = local.admin.executed()["count"]
    again = payout_link_rows(1)
    again[0]["reference_id"] = variant
    result = run_cli("run", str(write_csv(here / "again.csv", again)), "--quiet")
    assert "Traceback" not in result.output
    assert result.exit_code == 1, result.output
    assert local.admin.executed()["count"] == paid == 1
    if variant.isascii():  # the others may already be refused by validation (sheet side)
        assert "already sent in an earlier run" in result.output
        assert "'BONUS-NOV-0001'" in result.output


# --- finding 10: storage faults ----------------------------------------------------------------


def test_ledger_create_run_disk_full_journal_full_cause_not_masked(tmp_path: Path) -> None:
    with tmpfs(tmp_path / "disk", size="256k") as disk:
        ledger = SqliteJournal(disk / "ledger.sqlite", create=True)
        with pytest.raises(JournalFull) as caught:
            _create(ledger, [f"BIG-{i}" for i in range(300)], body_size=2000)
        message = str(caught.value)
        assert str(disk / "ledger.sqlite") in message and "disk is full" in message
        assert "creating the run" in message and "nothing was sent" in message
        assert NEVER_AGAIN in message and "rollback" not in message
        assert exit_code_for(caught.value) == 4
        assert SqliteJournal(disk / "ledger.sqlite").runs() == []  # rolled back, journal intact
        assert _create(ledger, ["SMALL-1"])  # fits once the big run is gone


def test_journal_writer_disk_full_mid_run_journal_full_names_rows_and_resume(
    tmp_path: Path,
) -> None:
    with tmpfs(tmp_path / "disk", size="512k") as disk:
        ledger = SqliteJournal(disk / "ledger.sqlite", create=True)
        run_id = _create(ledger, ["A-1", "A-2", "A-3", "A-4"])
        with ledger.writer() as journal:
            journal.commit(RowChange(run_id, 2, State.SENDING, "send", count_send=True))
            filler = fill_up(disk)
            with pytest.raises(JournalFull) as caught:
                journal.commit_all(
                    [
                        RowChange(run_id, 2, "COMPLETED", "outcome", message="x" * 200_000),
                        RowChange(run_id, 3, State.SENDING, "send", count_send=True),
                    ]
                )
            message = str(caught.value)
            assert f"run {run_id} row(s) 2 → COMPLETED, 3 → SENDING" in message
            assert f"batchpay resume {run_id}" in message and "disk is full" in message
            assert NEVER_AGAIN in message and "rollback" not in message
            future = journal.submit(
                RowChange(run_id, 4, State.SENDING, "send", message="y" * 200_000)
            )
            with pytest.raises(JournalFull):  # the background thread's failure surfaces
                future.result(timeout=30)
            filler.unlink()
            journal.commit(RowChange(run_id, 3, State.SENDING, "send", count_send=True))
        assert [r.state for r in ledger.rows(run_id)] == [
            State.SENDING,
            State.SENDING,
            State.PLANNED,
            State.PLANNED,
        ]


def test_cli_run_disk_full_mid_run_exit_4_message_says_resume(
    local: EmulatorHandle, here: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    with tmpfs(here / "disk", size="1m") as disk:
        ledger_path = disk / "ledger.sqlite"
        monkeypatch.setenv("BATCHPAY_LEDGER", str(ledger_path))
        sheet = write_csv(here / "b.csv", payout_link_rows(6))
        local.admin.queue_fault("hold-after", op="payout-link", nth=2)
        outcome: dict[str, object] = {}
        thread = threading.Thread(
            target=lambda: outcome.setdefault(
                "result", run_cli("run", str(sheet), "--concurrency", "1", "--quiet")
            )
        )
        thread.start()
        deadline = time.monotonic() + 30
        while local.admin.health()["held"] < 1:
            assert time.monotonic() < deadline, "the run never reached the held answer"
            time.sleep(0.02)
        filler = fill_up(disk)
        local.admin.release()
        thread.join(60)
        result = outcome["result"]
        output = result.output  # type: ignore[attr-defined]
        assert "Traceback" not in output and "internal error" not in output, output
        assert result.exit_code == 4, output  # type: ignore[attr-defined]
        assert "disk is full" in output and str(ledger_path) in output
        filler.unlink()
        run_id = SqliteJournal(ledger_path).runs()[0].run_id
        # The rows in flight and what to do, not a later failure that hides them:
        assert f"journaling run {run_id} row(s) " in output
        assert f"batchpay resume {run_id}" in output and NEVER_AGAIN in output
        states = [r.state for r in SqliteJournal(ledger_path).rows(run_id)]
        assert states[0] != State.PLANNED and State.PLANNED in states  # stopped mid-run
        sent = local.admin.executed()["count"]
        resumed = run_cli("resume", run_id, "--quiet")
        assert resumed.exit_code == 0, resumed.output
        executed = local.admin.executed()
        assert executed["count"] == 6 >= sent and executed["max_per_reference"] == 1


def _journal_with_run(path: Path) -> str:
    ledger = SqliteJournal(path, create=True)
    run_id = _create(ledger, ["RO-1", "RO-2"])
    ledger.apply(RowChange(run_id, 2, State.SENDING, "send", count_send=True))
    return run_id


def _crash_after_journaling(path: Path, run_id: str, row: int) -> None:
    """Journal a change in another process that dies without closing the journal: the change
    lives only in the -wal file, which stays beside the journal with its -shm."""
    code = (
        "import os; from batchpay.journal import RowChange; "
        "from batchpay.journal.sqlite import SqliteJournal; "
        f"ledger = SqliteJournal({str(path)!r}); keep = ledger.connect(); "
        f"ledger.apply(RowChange({run_id!r}, {row}, 'SENDING', 'send', count_send=True)); "
        "os._exit(0)"
    )
    subprocess.run([sys.executable, "-c", code], check=True, timeout=60)
    assert Path(f"{path}-wal").stat().st_size > 0


@pytest.mark.parametrize("wal_left", [False, True])
def test_ledger_read_only_disk_reads_work_writes_journal_read_only(
    tmp_path: Path, wal_left: bool
) -> None:
    with tmpfs(tmp_path / "disk") as disk:
        path = disk / "ledger.sqlite"
        run_id = _journal_with_run(path)
        if wal_left:
            _crash_after_journaling(path, run_id, 3)
        with read_only(disk):
            assert Path(f"{path}-wal").exists() == wal_left
            reader = SqliteJournal(path, read_only=True)
            assert [r.state for r in reader.rows(run_id)] == [
                State.SENDING,
                State.SENDING if wal_left else State.PLANNED,
            ]
            assert reader.runs()[0].run_id == run_id
            with pytest.raises(JournalReadOnly) as caught:
                SqliteJournal(path)
            assert str(path) in str(caught.value) and "read-only" in str(caught.value)
            with pytest.raises(JournalReadOnly), reader.lock(run_id):
                pass
            with pytest.raises(JournalMissing):  # still never created
                SqliteJournal(disk / "other.sqlite", read_only=True)


def test_cli_read_only_journal_runs_and_report_work_writers_exit_4(
    tmp_path: Path, here: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    with tmpfs(tmp_path / "disk") as disk:
        path = disk / "ledger.sqlite"
        run_id = _journal_with_run(path)
        monkeypatch.setenv("BATCHPAY_LEDGER", str(path))
        with read_only(disk):
            listed = run_cli("runs")
            assert listed.exit_code == 0 and run_id in listed.output, listed.output
            report = run_cli("report", run_id, "-o", str(here / "r.xlsx"))
            assert report.exit_code == 0, report.output
            assert (here / "r.xlsx").is_file()
            for args in (("resume", run_id), ("status", run_id)):
                result = run_cli(*args)
                assert "Traceback" not in result.output
                assert "internal error" not in result.output
                assert result.exit_code == 4, result.output
                assert "read-only" in result.output and str(path) in result.output
                assert NEVER_AGAIN in result.output


def test_ledger_corrupt_file_journal_corrupt_exit_4(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    path = tmp_path / "ledger.sqlite"
    path.write_bytes(b"this is not a journal, just a file that took its place " * 100)
    for read_only_ in (False, True):
        with pytest.raises(JournalCorrupt) as caught:
            SqliteJournal(path, read_only=read_only_)
        assert str(path) in str(caught.value) and exit_code_for(caught.value) == 4
        assert NEVER_AGAIN in str(caught.value)
    monkeypatch.setenv("BATCHPAY_LEDGER", str(path))
    result = run_cli("runs")
    assert result.exit_code == 4 and "damaged" in result.output, result.output


def test_ledger_damaged_pages_read_journal_corrupt(tmp_path: Path) -> None:
    path = tmp_path / "ledger.sqlite"
    ledger = SqliteJournal(path, create=True)
    run_id = _create(ledger, [f"C-{i}" for i in range(200)], body_size=500)
    data = bytearray(path.read_bytes())
    assert len(data) > 40_000
    data[8192 : len(data) - 4096] = os.urandom(len(data) - 4096 - 8192)
    path.write_bytes(bytes(data))
    with pytest.raises(JournalCorrupt, match="damaged"):
        SqliteJournal(path).rows(run_id)


# --- finding 11: private modes -------------------------------------------------------------------


@pytest.mark.usefixtures("umask")
def test_ledger_create_journal_dirs_wal_shm_locks_private(tmp_path: Path) -> None:
    path = tmp_path / "new" / "deeper" / "ledger.sqlite"
    ledger = SqliteJournal(path, create=True)
    run_id = _create(ledger, ["M-1"])
    conn = ledger.connect()  # keeps -wal and -shm while we look
    try:
        with ledger.lock(run_id):
            lock_path = Path(f"{path}.locks") / f"{run_id}.lock"
            assert _mode(lock_path) == 0o600 and _mode(lock_path.parent) == 0o700
        assert _mode(path) == 0o600
        for suffix in ("-wal", "-shm"):
            assert _mode(Path(f"{path}{suffix}")) == 0o600
        assert _mode(tmp_path / "new") == 0o700 and _mode(tmp_path / "new" / "deeper") == 0o700
    finally:
        conn.close()


@pytest.mark.usefixtures("umask")
def test_emulator_state_file_private(tmp_path: Path) -> None:
    path = tmp_path / "emulator.sqlite"
    store = Store(path)
    try:
        with store.tx():
            pass
        assert _mode(path) == 0o600
        for suffix in ("-wal", "-shm"):
            if Path(f"{path}{suffix}").exists():
                assert _mode(Path(f"{path}{suffix}")) == 0o600
    finally:
        store.close()


@pytest.mark.usefixtures("umask")
def test_cli_run_builtin_emulator_home_journal_state_private(
    here: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    home = here / "fresh" / "home"
    monkeypatch.setenv("BATCHPAY_HOME", str(home))
    sheet = write_csv(here / "b.csv", payout_link_rows(2))
    result = run_cli("run", str(sheet), "--env", "emulator", "--quiet")
    assert result.exit_code == 0, result.output
    settings = load_settings(require_credentials=False)
    assert settings.ledger_path == home / "ledger.sqlite"
    assert _mode(home) == 0o700 and _mode(home.parent) == 0o700
    assert _mode(settings.ledger_path) == 0o600
    assert _mode(home / EMULATOR_STATE_FILE) == 0o600
    locks = home / "ledger.sqlite.locks"
    assert _mode(locks) == 0o700
    assert all(_mode(p) == 0o600 for p in locks.iterdir())


# --- finding 12: run --report replaces a symlink ------------------------------------------------


def test_cli_run_report_symlink_replaced_target_unchanged(
    local: EmulatorHandle, here: Path, tmp_path_factory: pytest.TempPathFactory
) -> None:
    outside = tmp_path_factory.mktemp("outside") / "precious.txt"
    outside.write_text("not yours to overwrite")
    link = here / "report.xlsx"
    link.symlink_to(outside)
    sheet = write_csv(here / "b.csv", payout_link_rows(2))
    result = run_cli("run", str(sheet), "--report", str(link), "--quiet")
    assert result.exit_code == 0, result.output
    assert outside.read_text() == "not yours to overwrite"
    assert not link.is_symlink() and link.is_file()
    assert "Summary" in openpyxl.load_workbook(link, read_only=True).sheetnames
    [run] = SqliteJournal(load_settings(require_credentials=False).ledger_path).runs()
    assert run.settings["report_path"] == str(link)
    # Later rewrites (report RUN) go to the same path, still not through any link.
    link.unlink()
    link.symlink_to(outside)
    assert run_cli("report", run.run_id).exit_code == 0
    assert outside.read_text() == "not yours to overwrite" and not link.is_symlink()
