"""A team on one PostgreSQL journal (issue 14), exactly as README "Team set-up (PostgreSQL)"
tells a new user: docs/team-setup.sql run verbatim by psql as the superuser, `batchpay journal
migrate` as the owner, docs/team-grants.sql verbatim as the owner; then ani (maker) submits,
cannot approve her own run, budi (approver) approves and sends it against the emulator, every
row paid once; citra (reader) reads and every write of hers is refused with one clean message.
Also `batchpay journal status` / `migrate` on both engines (SQLite schema 2 → 4, an empty
PostgreSQL database → tables, again → "already"), and a newer schema refused."""

from __future__ import annotations

import json
import os
import sqlite3
import subprocess
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import psycopg
import pytest

from batchpay.emulator.runtime import EmulatorHandle
from batchpay.journal import open_journal
from batchpay.journal.postgres import SCHEMA_VERSION
from batchpay.states import RunStatus
from tests.helpers.pg import PgServer
from tests.helpers.runs import payout_link_rows, run_cli, write_csv

DOCS = Path(__file__).resolve().parents[1] / "docs"
DATABASE = "batchpay"
ROLES = ("ani", "budi", "citra", "batchpay_maker", "batchpay_approver", "batchpay_reader")
OWNER = "batchpay_owner"


def psql(server: PgServer, script: Path, *, user: str, database: str) -> str:
    """Run ``script`` verbatim with psql, as the README shows it."""
    done = subprocess.run(
        [str(server.bin / "psql"), "-X", "-v", "ON_ERROR_STOP=1", "-h", "127.0.0.1",
         "-p", str(server.port), "-U", user, "-d", database, "-f", str(script)],
        capture_output=True, text=True, check=False, timeout=120,
    )  # fmt: skip
    assert done.returncode == 0, f"{script.name}:\n{done.stdout}\n{done.stderr}"
    return done.stdout + done.stderr


def cli_as(url: str, *args: str, monkeypatch: pytest.MonkeyPatch) -> tuple[int, str]:
    """``batchpay ARGS`` with BATCHPAY_LEDGER=url: (exit code, output)."""
    monkeypatch.setenv("BATCHPAY_LEDGER", url)
    result = run_cli(*args)
    assert "Traceback" not in result.output and "internal error" not in result.output
    return result.exit_code, result.output


@dataclass
class Team:
    server: PgServer

    def url(self, user: str) -> str:
        return self.server.url(DATABASE, user=user)


@pytest.fixture(scope="module")
def team(pg_server: PgServer, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Team]:
    """The README's set-up, step by step, on the session's server (torn down afterwards)."""
    team = Team(pg_server)
    try:
        psql(pg_server, DOCS / "team-setup.sql", user="batchpay", database="postgres")
        with pytest.MonkeyPatch.context() as mp:
            for name in [n for n in os.environ if n.startswith("BATCHPAY_")]:
                mp.delenv(name)
            mp.setenv("BATCHPAY_HOME", str(tmp_path_factory.mktemp("owner-home")))
            code, out = cli_as(team.url("ani"), "journal", "migrate", monkeypatch=mp)
            assert code == 4 and "cannot be written by this role" in out, out  # owner's job
            code, out = cli_as(team.url(OWNER), "journal", "migrate", monkeypatch=mp)
            assert code == 0 and f"created batchpay's tables (schema {SCHEMA_VERSION})" in out, out
            code, out = cli_as(team.url(OWNER), "journal", "migrate", monkeypatch=mp)
            assert code == 0 and f"already at schema {SCHEMA_VERSION}" in out, out
        psql(pg_server, DOCS / "team-grants.sql", user=OWNER, database=DATABASE)
        yield team
    finally:
        pg_server.admin(f"DROP DATABASE IF EXISTS {DATABASE} WITH (FORCE)")
        for role in (*ROLES, OWNER):
            pg_server.admin(f"DROP ROLE IF EXISTS {role}")


@pytest.fixture
def env(emulator: EmulatorHandle, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    emulator.admin.reset()
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("BATCHPAY_ENV", "emulator")
    monkeypatch.setenv("BATCHPAY_BASE_URL", emulator.url)
    return tmp_path


def submit_as(team: Team, user: str, tmp: Path, prefix: str, mp: pytest.MonkeyPatch) -> str:
    sheet = write_csv(tmp / f"{prefix}.csv", payout_link_rows(2, prefix=prefix))
    code, out = cli_as(team.url(user), "submit", str(sheet), "--quiet", monkeypatch=mp)
    assert code == 0, out
    return out.split("Submitted for approval: run ")[1].split()[0]


def refused(conn: psycopg.Connection[tuple[object, ...]], sql: str, run_id: str | None) -> None:
    with pytest.raises(psycopg.errors.InsufficientPrivilege):
        conn.execute(sql, None if run_id is None else (run_id,))  # type: ignore[arg-type]


# --- the team ----------------------------------------------------------------------------------


def test_team_maker_submits_cannot_approve_approver_approves_sends_each_row_paid_once(
    team: Team, env: Path, emulator: EmulatorHandle, monkeypatch: pytest.MonkeyPatch
) -> None:
    run_id = submit_as(team, "ani", env, "TEAM", monkeypatch)
    journal = open_journal(team.url("citra"), read_only=True)
    assert journal.run(run_id).operator == "ani"
    assert journal.run(run_id).status == RunStatus.AWAITING_APPROVAL
    code, out = cli_as(
        team.url("ani"), "approve", run_id, "--expect-total", "3000000", monkeypatch=monkeypatch
    )
    assert code == 1 and "cannot approve their own run" in out, out
    code, out = cli_as(team.url("ani"), "send", run_id, "--quiet", monkeypatch=monkeypatch)
    assert code == 1 and "awaiting approval" in out, out
    code, out = cli_as(
        team.url("budi"), "approve", run_id, "--expect-total", "3000000", monkeypatch=monkeypatch
    )
    assert code == 0 and "is released" in out, out
    code, out = cli_as(team.url("budi"), "send", run_id, "--quiet", monkeypatch=monkeypatch)
    assert code == 0, out
    assert emulator.admin.executed("payout-link")["count"] == 2
    rows = journal.rows(run_id)
    assert [r.sends for r in rows] == [1, 1] and len({r.request_id for r in rows}) == 2
    assert [a.approver for a in journal.approvals(run_id)] == ["budi"]
    assert journal.run(run_id).status == RunStatus.APPROVED
    code, out = cli_as(team.url("budi"), "send", run_id, "--quiet", monkeypatch=monkeypatch)
    assert emulator.admin.executed("payout-link")["count"] == 2  # again: nothing paid twice


def test_team_reader_reads_every_write_refused_cleanly(
    team: Team, env: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    run_id = submit_as(team, "ani", env, "READ", monkeypatch)
    citra = team.url("citra")
    code, out = cli_as(citra, "runs", monkeypatch=monkeypatch)
    assert code == 0 and run_id in out, out
    code, out = cli_as(citra, "report", run_id, "-o", str(env / "r.xlsx"), monkeypatch=monkeypatch)
    assert code == 0 and (env / "r.xlsx").is_file(), out
    code, out = cli_as(
        citra, "approve", run_id, "--expect-total", "3000000", monkeypatch=monkeypatch
    )
    assert code == 4 and "cannot be written by this role" in out, out
    code, out = cli_as(citra, "journal", "migrate", monkeypatch=monkeypatch)
    # nothing to write: nothing refused
    assert code == 0 and f"already at schema {SCHEMA_VERSION}" in out
    with psycopg.connect(citra, autocommit=True) as conn:
        refused(conn, "UPDATE rows SET state='SENDING' WHERE run_id=%s", run_id)
        refused(conn, "INSERT INTO events (run_id,at,type,detail) VALUES (%s,'t','x','y')", run_id)
        refused(conn, "UPDATE runs SET status='APPROVED' WHERE run_id=%s", run_id)
    journal = open_journal(team.url("budi"))
    assert journal.run(run_id).status == RunStatus.AWAITING_APPROVAL
    assert journal.approvals(run_id) == []
    assert {r.state for r in journal.rows(run_id)} == {"PLANNED"}


def test_team_grants_exactly_what_each_group_writes(
    team: Team, env: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A maker cannot approve or send by SQL either; an approver cannot make runs or plans."""
    run_id = submit_as(team, "ani", env, "GRANT", monkeypatch)
    with psycopg.connect(team.url("ani"), autocommit=True) as conn:
        refused(conn, "UPDATE rows SET state='SENDING' WHERE run_id=%s", run_id)
        refused(conn, "UPDATE runs SET finished_at='t' WHERE run_id=%s", run_id)
        refused(
            conn,
            "INSERT INTO approvals (run_id,approver,at,digest,decision) "
            "VALUES (%s,'ani','t','d','APPROVED')",
            run_id,
        )
    with psycopg.connect(team.url("budi"), autocommit=True) as conn:
        refused(conn, "UPDATE runs SET plan_digest='x' WHERE run_id=%s", run_id)
        refused(conn, "INSERT INTO plans (run_id,digest,manifest) VALUES (%s,'d','m')", run_id)
        refused(
            conn,
            "INSERT INTO runs SELECT * FROM runs WHERE run_id=%s AND false",
            run_id,
        )
        refused(conn, "CREATE TABLE t (x int)", None)
    code, out = cli_as(team.url("ani"), "journal", "status", "--json", monkeypatch=monkeypatch)
    doc = json.loads(out[out.index("{") :])
    assert code == 0 and doc["engine"] == "postgresql" and doc["runs"]["total"] >= 1


def test_team_maker_resubmits_a_sheet_whose_submission_expired(
    team: Team, env: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Submitting again journals the overdue run EXPIRED first: the maker's one status change."""
    first = submit_as(team, "ani", env, "LATE", monkeypatch)
    with psycopg.connect(team.url("batchpay"), autocommit=True) as conn:  # the superuser
        conn.execute("UPDATE runs SET expires_at='2000-01-01T00:00:00Z' WHERE run_id=%s", (first,))
    second = submit_as(team, "ani", env, "LATE", monkeypatch)
    journal = open_journal(team.url("citra"), read_only=True)
    assert journal.run(first).status == RunStatus.EXPIRED and second != first
    assert journal.run(second).status == RunStatus.AWAITING_APPROVAL


# --- journal status / migrate ------------------------------------------------------------------


def _schema_2_journal(path: Path) -> None:
    """A journal as batchpay wrote it before approvals (issue 13): schema 2, one run."""
    conn = sqlite3.connect(path, isolation_level=None)
    conn.executescript(
        "CREATE TABLE runs (run_id TEXT PRIMARY KEY, created_at TEXT NOT NULL, finished_at TEXT,"
        " kind TEXT NOT NULL, env TEXT NOT NULL, input_path TEXT NOT NULL, input_name TEXT NOT"
        " NULL, input_sha256 TEXT NOT NULL, operator TEXT NOT NULL, dry_run INTEGER NOT NULL,"
        " parent_run_id TEXT REFERENCES runs(run_id), settings TEXT NOT NULL);"
        "CREATE TABLE rows (run_id TEXT NOT NULL, row_number INTEGER NOT NULL, attempt INTEGER"
        " NOT NULL, kind TEXT NOT NULL, env TEXT NOT NULL, reference TEXT NOT NULL, amount_minor"
        " INTEGER, currency TEXT NOT NULL, source_account TEXT, input TEXT NOT NULL, normalised"
        " TEXT NOT NULL, request_id TEXT NOT NULL UNIQUE, body BLOB NOT NULL, state TEXT NOT"
        " NULL, doku_status TEXT, doku_ids TEXT NOT NULL DEFAULT '{}', message TEXT, sends"
        " INTEGER NOT NULL DEFAULT 0, last_seen_at TEXT, updated_at TEXT NOT NULL, reference_key"
        " TEXT NOT NULL DEFAULT '', code TEXT, PRIMARY KEY (run_id, row_number));"
        "CREATE TABLE events (seq INTEGER PRIMARY KEY AUTOINCREMENT, run_id TEXT NOT NULL,"
        " row_number INTEGER, at TEXT NOT NULL, type TEXT NOT NULL, old_state TEXT, new_state"
        " TEXT, outcome TEXT, http_status INTEGER, request_id TEXT, detail TEXT NOT NULL);"
        "INSERT INTO runs VALUES ('20261101-090000-ab12','2026-11-01T02:00:00Z',NULL,"
        " 'payout-link','emulator','b.csv','b.csv','00','hr',0,NULL,'{}');"
        "PRAGMA user_version = 2;"
    )
    conn.close()


def test_journal_status_and_migrate_sqlite_schema_2_to_4_then_already(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    path = tmp_path / "ledger.sqlite"
    _schema_2_journal(path)
    code, out = cli_as(str(path), "journal", "status", monkeypatch=monkeypatch)
    assert code == 0, out
    assert str(path) in out and "SQLite" in out and "Schema    2 (this batchpay: 4)" in out
    assert "batchpay journal migrate" in out and "Runs      1 (1 OPEN)" in out
    code, out = cli_as(str(path), "journal", "status", "--json", monkeypatch=monkeypatch)
    doc = json.loads(out)
    assert next(iter(doc)) == "schema" and doc["schema"] == "batchpay.journal-status/1"
    assert doc["journal_schema"] == 2 and doc["program_schema"] == 4 and doc["needs_migration"]
    assert doc["runs"] == {"total": 1, "by_status": {"OPEN": 1}}
    with sqlite3.connect(path) as conn:  # status read only: nothing migrated
        assert conn.execute("PRAGMA user_version").fetchone()[0] == 2
    code, out = cli_as(str(path), "journal", "migrate", monkeypatch=monkeypatch)
    assert code == 0 and "schema 2 → 4" in out, out
    code, out = cli_as(str(path), "journal", "migrate", "--json", monkeypatch=monkeypatch)
    doc = json.loads(out)
    assert doc["schema"] == "batchpay.journal-migrate/1" and doc["schema_before"] == 4
    assert doc["changed"] is False and doc["created"] is False
    code, out = cli_as(str(path), "journal", "migrate", monkeypatch=monkeypatch)
    assert code == 0 and f"already at schema {SCHEMA_VERSION}" in out, out
    with sqlite3.connect(path) as conn:
        assert conn.execute("PRAGMA user_version").fetchone()[0] == 4
        assert conn.execute("SELECT status FROM runs").fetchall() == [("OPEN",)]
    code, out = cli_as(str(path), "journal", "status", monkeypatch=monkeypatch)
    assert "Schema    4 (this batchpay: 4) — current" in out


def test_journal_status_migrate_missing_sqlite_journal_exit_4_nothing_created(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    path = tmp_path / "gone" / "ledger.sqlite"
    for command in ("status", "migrate"):
        code, out = cli_as(str(path), "journal", command, monkeypatch=monkeypatch)
        assert code == 4 and "does not exist" in out and "do not pay the sheet again" in out
    assert not path.parent.exists()


def test_journal_migrate_empty_postgres_database_creates_tables_then_already(
    pg_url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    code, out = cli_as(pg_url, "journal", "status", monkeypatch=monkeypatch)
    assert code == 4 and "no batchpay tables" in out and "journal migrate" in out, out
    code, out = cli_as(pg_url, "journal", "migrate", "--json", monkeypatch=monkeypatch)
    doc = json.loads(out)
    assert code == 0 and doc["created"] is True and doc["schema_after"] == SCHEMA_VERSION
    code, out = cli_as(pg_url, "journal", "migrate", monkeypatch=monkeypatch)
    assert code == 0 and f"already at schema {SCHEMA_VERSION}" in out, out
    code, out = cli_as(pg_url, "journal", "status", monkeypatch=monkeypatch)
    assert code == 0 and "PostgreSQL" in out and "— current" in out and "Runs      0" in out


def test_journal_status_migrate_newer_schema_refused_on_both_engines(
    pg_url: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    open_journal(pg_url, create=True)
    with psycopg.connect(pg_url, autocommit=True) as conn:
        conn.execute("UPDATE batchpay_meta SET value='5' WHERE key='schema_version'")
    path = tmp_path / "ledger.sqlite"
    open_journal(path, create=True)
    with sqlite3.connect(path) as conn:
        conn.execute("PRAGMA user_version = 5")
    for location in (pg_url, str(path)):
        for command in ("status", "migrate"):
            code, out = cli_as(location, "journal", command, monkeypatch=monkeypatch)
            assert code == 4 and "newer batchpay (schema 5)" in out, out
    with sqlite3.connect(path) as conn:
        assert conn.execute("PRAGMA user_version").fetchone()[0] == 5


def test_journal_status_never_shows_a_password(
    pg_server: PgServer, pg_url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    from tests.helpers.pg import PASSWORD, PASSWORD_ROLE

    open_journal(pg_url, create=True)
    database = pg_url.rpartition("/")[2]
    url = pg_server.url(database, user=PASSWORD_ROLE, password=PASSWORD)
    for args in (("status",), ("status", "--json"), ("migrate",)):
        code, out = cli_as(url, "journal", *args, monkeypatch=monkeypatch)
        assert code == 0 and PASSWORD not in out and f"{PASSWORD_ROLE}@127.0.0.1" in out, out
