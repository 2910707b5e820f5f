"""The PostgreSQL journal's own guarantees (issue 14), against a real server (tests/helpers/pg.py):
what the database enforces by itself (Request-Ids UNIQUE, events, approvals and plans
write-once), the schema version, the advisory run lock, the principal, a location that never
shows the password, and server faults as one clean JournalError. The engine-neutral contract
runs on both engines in tests/test_journal.py."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import psycopg
import pytest

from batchpay.cli.exits import exit_code_for
from batchpay.config import load_settings
from batchpay.errors import (
    IllegalTransition,
    JournalError,
    JournalFull,
    JournalMissing,
    JournalReadOnly,
    RunLocked,
)
from batchpay.journal import NewRow, RepeatedReferences, RowChange, StatusChange, open_journal
from batchpay.journal.postgres import SCHEMA_VERSION, PostgresJournal
from batchpay.journal.records import ApprovalRecord
from batchpay.journal.sqlite import SCHEMA_VERSION as SQLITE_SCHEMA_VERSION
from batchpay.states import State
from tests.helpers import pg
from tests.helpers.journal import new_rows
from tests.helpers.mounts import tmpfs
from tests.helpers.pg import PASSWORD, PASSWORD_ROLE, PgServer
from tests.helpers.runs import payout_link_rows, run_cli, write_csv


def _rows(n: int, prefix: str = "REF") -> list[NewRow]:
    return new_rows(n, prefix, Name="Budi")


def _run(ledger: PostgresJournal, n: int = 2, **kw: object) -> str:
    return ledger.create_run(
        kind="payout-link",
        product="payout-link",
        env="emulator",
        input_path="bonus.csv",
        input_sha256="ab" * 32,
        rows=_rows(n),
        settings={"concurrency": 4},
        **kw,  # type: ignore[arg-type]
    ).run_id


@pytest.fixture
def ledger(pg_url: str) -> PostgresJournal:
    journal = open_journal(pg_url, create=True)
    assert isinstance(journal, PostgresJournal)
    return journal


@pytest.fixture
def raw(pg_url: str) -> Iterator[psycopg.Connection[tuple[object, ...]]]:
    """A plain connection as the superuser: what anyone with SQL access could try."""
    with psycopg.connect(pg_url, autocommit=True) as conn:
        yield conn


# --- guarantees the database enforces -------------------------------------------------------


def test_pg_request_id_unique_raw_duplicate_insert_refused(
    ledger: PostgresJournal, raw: psycopg.Connection[tuple[object, ...]]
) -> None:
    run_id = _run(ledger, 1)
    with pytest.raises(psycopg.errors.UniqueViolation, match="request_id"):
        raw.execute(
            "INSERT INTO rows (run_id,row_number,attempt,kind,env,reference,currency,input,"
            "normalised,request_id,body,state,updated_at) SELECT run_id,99,attempt,kind,env,"
            "'OTHER',currency,input,normalised,request_id,body,state,updated_at FROM rows "
            "WHERE run_id=%s AND row_number=2",
            (run_id,),
        )
    assert [r.row_number for r in ledger.rows(run_id)] == [2]


@pytest.mark.parametrize(
    ("table", "message"),
    [
        ("events", "events are append-only"),
        ("approvals", "approvals are append-only"),
        ("plans", "a submitted plan never changes"),
    ],
)
def test_pg_write_once_tables_update_delete_truncate_refused(
    ledger: PostgresJournal, raw: psycopg.Connection[tuple[object, ...]], table: str, message: str
) -> None:
    run_id = _run(ledger, 1, status="AWAITING_APPROVAL")
    ledger.seal_plan(run_id, "d" * 64, b"manifest")
    ledger.change_status(
        StatusChange(
            run_id,
            expected="AWAITING_APPROVAL",
            new_status="REJECTED",
            event="reject",
            detail="no",
            approval=ApprovalRecord(run_id, "someone", "", "d" * 64, "REJECTED", "no"),
        )
    )
    before = raw.execute(f"SELECT count(*) FROM {table}").fetchone()  # noqa: S608
    assert before is not None and before[0] >= 1
    for statement in (
        f"UPDATE {table} SET run_id = run_id",  # noqa: S608
        f"DELETE FROM {table}",  # noqa: S608
        f"TRUNCATE {table} CASCADE",
    ):
        with pytest.raises(psycopg.errors.IntegrityConstraintViolation, match=message):
            raw.execute(statement)  # type: ignore[arg-type]
    assert raw.execute(f"SELECT count(*) FROM {table}").fetchone() == before  # noqa: S608


def test_pg_schema_version_equals_sqlite_and_is_stored(
    ledger: PostgresJournal, raw: psycopg.Connection[tuple[object, ...]]
) -> None:
    assert SCHEMA_VERSION == SQLITE_SCHEMA_VERSION  # one schema: bump both, migrate both
    found = raw.execute("SELECT value FROM batchpay_meta WHERE key='schema_version'").fetchone()
    assert found == (str(SCHEMA_VERSION),)


def test_pg_newer_schema_refused_exit_4(
    ledger: PostgresJournal, raw: psycopg.Connection[tuple[object, ...]], pg_url: str
) -> None:
    raw.execute(
        "UPDATE batchpay_meta SET value=%s WHERE key='schema_version'", (str(SCHEMA_VERSION + 1),)
    )
    for read_only in (False, True):
        with pytest.raises(JournalError, match="newer batchpay") as caught:
            open_journal(pg_url, read_only=read_only)
        assert exit_code_for(caught.value) == 4
        assert f"schema {SCHEMA_VERSION + 1}" in str(caught.value)


def test_pg_schema_3_migrated_to_4_in_place_read_only_reads_as_is(
    ledger: PostgresJournal, raw: psycopg.Connection[tuple[object, ...]], pg_url: str
) -> None:
    run_id = _run(ledger)
    for column in ("claimed_by", "lease_until", "holds"):
        raw.execute(f"ALTER TABLE rows DROP COLUMN {column}")
    raw.execute("UPDATE batchpay_meta SET value='3' WHERE key='schema_version'")
    reader = open_journal(pg_url, read_only=True)  # read as it stands: nothing written
    assert reader.run(run_id).run_id == run_id and reader.schema == 3
    assert _meta_version(raw) == 3
    migrated = open_journal(pg_url)
    assert migrated.schema == SCHEMA_VERSION == 4 and _meta_version(raw) == 4
    columns = {
        str(r[0])
        for r in raw.execute(
            "SELECT column_name FROM information_schema.columns WHERE table_name='rows'"
        )
    }
    assert {"claimed_by", "lease_until", "holds"} <= columns
    assert [r.state for r in migrated.rows(run_id)] == ["PLANNED", "PLANNED"]


def _meta_version(raw: psycopg.Connection[tuple[object, ...]]) -> int:
    row = raw.execute("SELECT value FROM batchpay_meta WHERE key='schema_version'").fetchone()
    assert row is not None
    return int(str(row[0]))


def test_pg_empty_database_journal_missing_nothing_created(
    pg_url: str, raw: psycopg.Connection[tuple[object, ...]]
) -> None:
    for read_only in (False, True):
        with pytest.raises(JournalMissing, match="no batchpay tables") as caught:
            open_journal(pg_url, read_only=read_only)
        assert exit_code_for(caught.value) == 4 and "do not pay the sheet again" in str(
            caught.value
        )
    tables = raw.execute(
        "SELECT count(*) FROM information_schema.tables WHERE table_schema='public'"
    ).fetchone()
    assert tables == (0,)
    assert open_journal(pg_url, create=True).runs() == []
    assert open_journal(pg_url).runs() == []  # created once, opened plainly after


def test_pg_missing_database_missing_or_says_createdb(pg_server: PgServer) -> None:
    url = pg_server.url("no_such_db")
    with pytest.raises(JournalMissing, match="does not exist") as caught:
        open_journal(url)
    assert exit_code_for(caught.value) == 4
    with pytest.raises(JournalError, match="does not exist") as created:
        open_journal(url, create=True)
    assert not isinstance(created.value, JournalMissing)
    assert "createdb" in str(created.value)


def test_pg_read_only_journal_reads_work_writes_refused(
    ledger: PostgresJournal, pg_url: str
) -> None:
    run_id = _run(ledger, 2)
    reader = open_journal(pg_url, read_only=True)
    assert [r.state for r in reader.rows(run_id)] == [State.PLANNED] * 2
    with pytest.raises(JournalReadOnly) as caught:
        reader.apply(RowChange(run_id, 2, State.SENDING, "send"))
    assert exit_code_for(caught.value) == 4
    assert ledger.row(run_id, 2).state == State.PLANNED


# --- the run lock, the principal, the location ------------------------------------------------


def test_pg_lock_held_by_other_process_run_locked_names_it_freed_by_kill_9(
    ledger: PostgresJournal,
) -> None:
    code = (
        "import os, time; from batchpay.journal import open_journal; "
        f"held = open_journal({ledger.location!r}).lock('R1'); held.__enter__(); "
        "print(os.getpid(), flush=True); time.sleep(60)"
    )
    with subprocess.Popen([sys.executable, "-c", code], stdout=subprocess.PIPE, text=True) as proc:
        try:
            assert proc.stdout is not None
            pid = proc.stdout.readline().strip()
            with pytest.raises(RunLocked, match=f"batchpay pid {pid} on ") as caught:
                with ledger.lock("R1"):
                    pass
            assert "nothing was sent" in (caught.value.hint or "")
            with ledger.lock("R2"):
                pass  # other runs are not blocked
        finally:
            proc.send_signal(signal.SIGKILL)
            proc.wait(10)
    # The server notices the closed socket at once on loopback; allow it a moment.
    for _ in range(50):
        try:
            with ledger.lock("R1"):
                break
        except RunLocked:
            time.sleep(0.1)
    else:
        pytest.fail("the lock of a killed holder was never freed")


def test_pg_principal_is_current_user(pg_server: PgServer, ledger: PostgresJournal) -> None:
    assert ledger.principal() == "batchpay"
    database = ledger.location.rpartition("/")[2]
    other = open_journal(pg_server.url(database, user=PASSWORD_ROLE, password=PASSWORD))
    assert other.principal() == PASSWORD_ROLE


def test_pg_location_never_shows_password(pg_server: PgServer, ledger: PostgresJournal) -> None:
    database = ledger.location.rpartition("/")[2]
    url = pg_server.url(database, user=PASSWORD_ROLE, password=PASSWORD)
    journal = open_journal(url)
    expected = f"postgresql://{PASSWORD_ROLE}@127.0.0.1:{pg_server.port}/{database}"
    assert journal.location == expected and PASSWORD not in repr(journal)
    run_id = _run(journal, 1)  # type: ignore[arg-type]
    assert PASSWORD not in json.dumps(journal.run(run_id).settings)
    with pytest.raises(JournalError) as caught:
        open_journal(pg_server.url(database, user=PASSWORD_ROLE, password=PASSWORD + "x"))
    message = f"{caught.value} {caught.value.hint}"
    assert "refused the login" in message and PASSWORD not in message
    assert caught.value.location == expected and exit_code_for(caught.value) == 4
    query = open_journal(f"{expected}?password={PASSWORD}&application_name=x")
    assert PASSWORD not in query.location and query.location.endswith("?application_name=x")


def test_pg_unreachable_server_clean_journal_error(pg_server: PgServer) -> None:
    with pytest.raises(JournalError, match="could not be reached") as caught:
        open_journal(f"postgresql://batchpay:{PASSWORD}@127.0.0.1:1/journal")
    message = f"{caught.value} {caught.value.hint}"
    assert "postgresql://batchpay@127.0.0.1:1/journal" in message and PASSWORD not in message
    assert "do not pay" in message and exit_code_for(caught.value) == 4


def test_cli_pg_unreachable_exit_4_no_traceback_no_password(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("BATCHPAY_LEDGER", f"postgresql://batchpay:{PASSWORD}@127.0.0.1:1/journal")
    settings = load_settings(require_credentials=False)
    assert settings.ledger_path is None and PASSWORD not in repr(settings)
    result = run_cli("runs")
    assert result.exit_code == 4, result.output
    assert "Traceback" not in result.output and PASSWORD not in result.output
    assert "postgresql://batchpay@127.0.0.1:1/journal" in result.output


# --- faults mid-run, reads -----------------------------------------------------------------


def test_pg_writer_connection_killed_every_later_change_refused_nothing_sent_on(
    ledger: PostgresJournal, raw: psycopg.Connection[tuple[object, ...]]
) -> None:
    """A server restart ends the run lock's session with the writer's: the writer never
    reconnects by itself, so no SENDING is journaled (and no request sent) without the lock;
    resume (a new lock, a new writer) carries on."""
    run_id = _run(ledger, 2)
    with ledger.writer() as journal:
        journal.commit(RowChange(run_id, 2, State.SENDING, "send", count_send=True))
        raw.execute(
            "SELECT pg_terminate_backend(pid) FROM pg_stat_activity "
            "WHERE datname = current_database() AND pid <> pg_backend_pid()"
        )
        for _ in range(2):
            with pytest.raises(JournalError) as caught:
                journal.commit(RowChange(run_id, 3, State.SENDING, "send", count_send=True))
            assert f"run {run_id} row(s) 3 → SENDING" in str(caught.value)
            assert f"batchpay resume {run_id}" in (caught.value.hint or "")
            assert exit_code_for(caught.value) == 4
    assert ledger.row(run_id, 3).state == State.PLANNED
    with ledger.lock(run_id), ledger.writer() as again:
        again.commit(RowChange(run_id, 3, State.SENDING, "send", count_send=True))
    assert [r.state for r in ledger.rows(run_id)] == [State.SENDING, State.SENDING]


def test_pg_sessions_never_time_out_idle_and_keep_alive(pg_url: str) -> None:
    ledger = open_journal(pg_url, create=True)
    assert isinstance(ledger, PostgresJournal)
    conn = ledger.connect()
    try:
        shown = conn.execute(
            "SELECT current_setting('idle_session_timeout') AS idle, "
            "current_setting('tcp_keepalives_idle') AS keepalive"
        ).fetchone()
    finally:
        conn.close()
    assert shown == {"idle": "0", "keepalive": "30"}


def test_pg_iter_rows_chunks_lean_and_snapshot_consistent(ledger: PostgresJournal) -> None:
    run_id = _run(ledger, 5)
    rows = list(ledger.iter_rows(run_id, chunk=2))
    assert [r.row_number for r in rows] == [2, 3, 4, 5, 6]
    assert rows[0].input == {"Ref": "REF-0", "Name": "Budi"} and rows[0].body.startswith(b"{")
    lean = list(ledger.iter_rows(run_id, data=False, body=False, chunk=2))
    assert lean[0].input == {} and lean[0].body == b"" and lean[0].request_id == rows[0].request_id
    assert ledger.rows(run_id, data=False, after=3, limit=2)[0].row_number == 4
    assert ledger.rows(run_id, states=[State.PLANNED], limit=1)[0].row_number == 2
    with ledger.snapshot() as snap:
        first = [r.state for r in snap.iter_rows(run_id, chunk=2)]
        ledger.apply(RowChange(run_id, 2, State.SENDING, "send", count_send=True))
        again = [r.state for r in snap.iter_rows(run_id, chunk=2)]
        events = [e.type for e in snap.iter_events(run_id)]
    assert first == again == [State.PLANNED] * 5 and events == ["run-created"]
    assert ledger.row(run_id, 2).state == State.SENDING
    assert [e.type for e in ledger.iter_events(run_id, chunk=1)] == ["run-created", "send"]


def test_pg_approvals_once_per_approver_and_status_race_refused(ledger: PostgresJournal) -> None:
    run_id = _run(ledger, 1, status="AWAITING_APPROVAL")
    ledger.seal_plan(run_id, "d" * 64, b"manifest")
    assert ledger.plan_manifest(run_id) == b"manifest"
    approve = StatusChange(
        run_id,
        expected="AWAITING_APPROVAL",
        new_status="AWAITING_APPROVAL",
        event="approve",
        detail="ok",
        approval=ApprovalRecord(run_id, "ani", "", "d" * 64, "APPROVED", None),
    )
    ledger.change_status(approve)
    with pytest.raises(psycopg.errors.UniqueViolation):
        ledger.change_status(approve)  # one person's approval counts once
    with pytest.raises(IllegalTransition, match="not released for sending"):
        ledger.apply(RowChange(run_id, 2, State.SENDING, "send"))
    record = ledger.run(run_id)
    assert [a.approver for a in record.approvals] == ["ani"]
    assert record.plan_digest == "d" * 64 and ledger.approvals(run_id)[0].decision == "APPROVED"


def test_pg_every_connection_commits_synchronously_whatever_the_default(
    pg_url: str, raw: psycopg.Connection[tuple[object, ...]]
) -> None:
    database = pg_url.rpartition("/")[2]
    raw.execute(f"ALTER DATABASE {database} SET synchronous_commit = off")
    ledger = open_journal(pg_url, create=True)
    assert isinstance(ledger, PostgresJournal)
    conn = ledger.connect()
    try:
        assert conn.execute("SHOW synchronous_commit").fetchone() == {"synchronous_commit": "on"}
    finally:
        conn.close()
    with ledger.writer() as journal:
        assert journal._conn is not None
        shown = journal._conn.execute("SHOW synchronous_commit").fetchone()
        assert shown == {"synchronous_commit": "on"}


def test_settings_postgres_url_kept_as_url_sqlite_path_unchanged(tmp_path: Path) -> None:
    url = f"postgresql://ani:{PASSWORD}@db.example:5432/journal"
    settings = load_settings(require_credentials=False, environ={"BATCHPAY_LEDGER": url})
    assert settings.ledger == url and settings.ledger_path is None
    assert PASSWORD not in repr(settings)
    plain = load_settings(
        require_credentials=False, environ={"BATCHPAY_LEDGER": "~/x/ledger.sqlite"}
    )
    assert plain.ledger_url is None and plain.ledger == plain.ledger_path
    assert plain.ledger_path == Path("~/x/ledger.sqlite").expanduser()


def test_sqlite_user_never_imports_psycopg(tmp_path: Path) -> None:
    code = (
        "import sys; from batchpay.journal import open_journal; import batchpay.cli; "
        f"j = open_journal({str(tmp_path / 'l.sqlite')!r}, create=True); j.runs(); "
        "print('psycopg' in sys.modules)"
    )
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60)
    assert done.stdout.strip() == "False", done.stderr


def _race(pg_url: str, prefix: str, starters: int = 3) -> list[str]:
    """``starters`` processes' worth of connections create a run of one sheet at once: each
    outcome is the run id, or ``refused <the run it collided with>``."""
    barrier = threading.Barrier(starters)
    outcomes: list[str] = []

    def start() -> None:
        journal = open_journal(pg_url)
        barrier.wait()
        try:
            run = journal.create_run(
                kind="payout-link",
                product="payout-link",
                env="emulator",
                input_path="bonus.csv",
                input_sha256="ab" * 32,
                rows=_rows(5, prefix),
                settings={},
            )
            outcomes.append(run.run_id)
        except RepeatedReferences as exc:
            outcomes.append(f"refused {exc.repeats[0].earlier.run_id}")

    threads = [threading.Thread(target=start) for _ in range(starters)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    return outcomes


def test_pg_simultaneous_runs_of_one_sheet_repeated_never_two_pay_a_reference(
    ledger: PostgresJournal, pg_url: str
) -> None:
    """Two machines starting the same sheet at the same instant: exactly one run is created
    each time (the others are refused with its id), 20 times over."""
    for attempt in range(20):
        outcomes = _race(pg_url, f"RACE{attempt}")
        created = [o for o in outcomes if not o.startswith("refused")]
        assert len(created) == 1, outcomes
        assert sorted(outcomes) == sorted([created[0]] + [f"refused {created[0]}"] * 2)
    assert len(ledger.runs()) == 20


@pytest.mark.parametrize(
    "args",
    [
        ("resume", "20260101-000000-dead"),
        ("status", "20260101-000000-dead"),
        ("runs",),
        ("report", "20260101-000000-dead"),
    ],
)
def test_cli_pg_empty_database_exit_4_creates_nothing(
    pg_url: str,
    raw: psycopg.Connection[tuple[object, ...]],
    monkeypatch: pytest.MonkeyPatch,
    tmp_path: Path,
    args: tuple[str, ...],
) -> None:
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("BATCHPAY_LEDGER", pg_url)
    result = run_cli(*args)
    assert "Traceback" not in result.output and "internal error" not in result.output
    assert result.exit_code == 4, result.output
    assert pg_url in result.output and "do not pay the sheet again" in result.output
    tables = raw.execute(
        "SELECT count(*) FROM information_schema.tables WHERE table_schema='public'"
    ).fetchone()
    assert tables == (0,) and list(tmp_path.iterdir()) == []


def test_cli_pg_run_missing_database_exit_4_says_createdb_nothing_sent(
    pg_server: PgServer, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("BATCHPAY_LEDGER", pg_server.url("never_created"))
    sheet = write_csv(tmp_path / "bonus.csv", payout_link_rows(2))
    result = run_cli("run", str(sheet), "--quiet")
    assert "Traceback" not in result.output and result.exit_code == 4, result.output
    assert "does not exist" in result.output and "createdb" in result.output
    assert not list(tmp_path.glob("reports"))


def test_pg_unknown_role_is_a_refused_login_not_a_missing_journal(pg_server: PgServer) -> None:
    with pytest.raises(JournalError, match="no such role") as caught:
        open_journal(pg_server.url("postgres", user="nobody_here"))
    assert not isinstance(caught.value, JournalMissing)


def test_pg_read_only_role_reads_cannot_change_a_row(
    pg_server: PgServer, ledger: PostgresJournal, raw: psycopg.Connection[tuple[object, ...]]
) -> None:
    """An accountant's role with SELECT only: reports work, every write is refused by the
    database itself (JournalReadOnly, exit 4), and the row stays as it was."""
    run_id = _run(ledger, 2)
    database = ledger.location.rpartition("/")[2]
    role = f"reader_{database}"
    raw.execute(f"CREATE ROLE {role} LOGIN")  # type: ignore[arg-type]
    try:
        raw.execute(f"GRANT SELECT ON ALL TABLES IN SCHEMA public TO {role}")  # type: ignore[arg-type]
        reader = open_journal(pg_server.url(database, user=role))
        assert reader.principal() == role
        assert [r.state for r in reader.rows(run_id)] == [State.PLANNED] * 2
        for write in (
            lambda: reader.apply(RowChange(run_id, 2, State.SENDING, "send")),
            lambda: reader.add_event(run_id, "note", "hello"),
            lambda: reader.finish_run(run_id),
        ):
            with pytest.raises(JournalReadOnly, match="cannot be written by this role") as caught:
                write()
            assert exit_code_for(caught.value) == 4
        assert ledger.row(run_id, 2).state == State.PLANNED
        assert ledger.run(run_id).finished_at is None
        assert [e.type for e in ledger.events(run_id)] == ["run-created"]
    finally:
        raw.execute(f"DROP OWNED BY {role}")  # type: ignore[arg-type]
        raw.execute(f"DROP ROLE {role}")  # type: ignore[arg-type]


@pytest.mark.parametrize(
    "url", [f"postgresql://ani:{PASSWORD}@[::1/journal", f"postgres://ani:{PASSWORD}@h:port/j"]
)
def test_pg_malformed_url_clean_journal_error_no_password(url: str) -> None:
    with pytest.raises(JournalError) as caught:
        open_journal(url)
    message = f"{caught.value} {caught.value.hint}"
    assert PASSWORD not in message and exit_code_for(caught.value) == 4


def test_pg_helper_without_server_fails_under_ci_skips_otherwise(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """Under CI=true the PostgreSQL tests can never silently stop running."""
    monkeypatch.setattr(pg, "binaries", lambda: None)
    monkeypatch.setenv("CI", "true")
    with pytest.raises(pytest.fail.Exception, match="cannot run under CI"):
        pg.require_server()
    monkeypatch.delenv("CI")
    with pytest.raises(pytest.skip.Exception, match="no PostgreSQL server"):
        pg.require_server()


def test_pg_server_out_of_space_journal_full_run_rolled_back(
    pg_server: PgServer, ledger: PostgresJournal, raw: psycopg.Connection[tuple[object, ...]]
) -> None:
    """The rows table on a 1 MB tablespace (a tmpfs) that fills up while a run is created:
    JournalFull naming the journal, nothing of the run left, the journal usable after."""
    import pwd

    disk = pg_server.root / "small-disk"
    tablespace = f"small_{ledger.location.rpartition('/')[2]}"
    with tmpfs(disk, size="1m"):
        account = pwd.getpwnam("postgres") if os.geteuid() == 0 else None
        if account is not None:
            os.chown(disk, account.pw_uid, account.pw_gid)
        raw.execute(f"CREATE TABLESPACE {tablespace} LOCATION '{disk}'")  # type: ignore[arg-type]
        try:
            raw.execute(f"ALTER TABLE rows SET TABLESPACE {tablespace}")  # type: ignore[arg-type]
            big = [
                NewRow(r.row_number, r.reference, r.amount_minor, r.currency, None, r.input,
                       r.normalised, r.body + b" " * 1500)
                for r in _rows(2000, "BIG")
            ]  # fmt: skip
            with pytest.raises(JournalFull) as caught:
                ledger.create_run(
                    kind="payout-link",
                    product="payout-link",
                    env="emulator",
                    input_path="big.csv",
                    input_sha256="ab" * 32,
                    rows=big,
                    settings={},
                )
            message = f"{caught.value} {caught.value.hint}"
            assert ledger.location in message and "out of space" in message
            assert "creating the run" in message and "nothing was sent" in message
            assert exit_code_for(caught.value) == 4
            assert ledger.runs() == []  # rolled back: no run, no row, no event
            assert _run(ledger, 1)  # a small run still fits
        finally:
            raw.execute("ALTER TABLE rows SET TABLESPACE pg_default")
            raw.execute(f"DROP TABLESPACE {tablespace}")  # type: ignore[arg-type]


@pytest.mark.parametrize(
    ("libpq", "create", "kind", "says"),
    [
        ('FATAL:  database "j" does not exist', False, JournalMissing, "does not exist"),
        ('FATAL:  database "j" does not exist', True, JournalError, "createdb"),
        ('FATAL:  role "ani" does not exist', False, JournalError, "no such role"),
        ('FATAL:  password authentication failed for user "ani"', False, JournalError, "login"),
        ("fe_sendauth: no password supplied", False, JournalError, "~/.pgpass"),
        ("FATAL:  sorry, too many clients already", False, JournalError, "max_connections"),
        ('FATAL:  permission denied for database "j"', False, JournalReadOnly, "CONNECT"),
        ("Connection refused", False, JournalError, "could not be reached"),
        ("timeout expired", False, JournalError, "could not be reached"),
    ],
)
def test_pg_connect_failures_each_one_message(
    libpq: str, create: bool, kind: type[JournalError], says: str
) -> None:
    """What libpq says when a connection fails (no SQLSTATE then) → one JournalError each."""
    from batchpay.journal.postgres.faults import connect_error

    error = connect_error(
        psycopg.OperationalError(f"connection failed: {libpq}"),
        "postgresql://ani@h/j",
        create=create,
    )
    assert type(error) is kind and exit_code_for(error) == 4
    text = f"{error} {error.hint}"
    assert says in text and "postgresql://ani@h/j" in text and "FATAL" not in text


def test_pg_lock_session_ended_writer_refuses_the_runs_changes(
    ledger: PostgresJournal, raw: psycopg.Connection[tuple[object, ...]]
) -> None:
    """Only the run lock's session is ended (an administrator, a pooler): the writer's own
    session lives on, yet nothing more of that run is journaled SENDING — so nothing is
    sent — until a resume takes the lock again."""
    run_id = _run(ledger, 2)
    with ledger.lock(run_id), ledger.writer() as journal:
        journal.commit(RowChange(run_id, 2, State.SENDING, "send", count_send=True))
        raw.execute(
            "SELECT pg_terminate_backend(pid) FROM pg_locks "
            "WHERE locktype = 'advisory' AND database = "
            "(SELECT oid FROM pg_database WHERE datname = current_database())"
        )
        with pytest.raises(JournalError, match=f"lost the lock on run {run_id}") as caught:
            journal.commit(RowChange(run_id, 3, State.SENDING, "send", count_send=True))
        assert f"batchpay resume {run_id}" in (caught.value.hint or "")
        assert exit_code_for(caught.value) == 4
    assert ledger.row(run_id, 3).state == State.PLANNED
    with ledger.lock(run_id), ledger.writer() as again:  # resume: a new lock, a new writer
        again.commit(RowChange(run_id, 3, State.SENDING, "send", count_send=True))
    assert ledger.row(run_id, 3).state == State.SENDING
