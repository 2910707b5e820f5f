"""Maker–checker with two real OS accounts (issue 13, "Done when"): ``bp_maker`` submits a
sheet, cannot approve it herself, ``bp_checker`` approves and sends it — one journal in a
setgid folder of their group, each process under its own login and a umask of 077.

Needs root (CI runs as root): the accounts and group are made with useradd/groupadd and
removed afterwards. Under CI=true the test fails, never skips, when that is impossible.
"""

from __future__ import annotations

import os
import pwd
import shutil
import sqlite3
import stat
import tempfile
from collections.abc import Iterator
from pathlib import Path

import pytest

from batchpay.emulator import start_emulator
from batchpay.emulator.runtime import EmulatorHandle
from batchpay.journal.sqlite import SqliteJournal
from batchpay.states import PROGRESS, RunStatus, State
from tests.helpers.accounts import (
    require_accounts,
    run_as,
    team_accounts,
    venv_python,
    world_readable_copy,
)
from tests.helpers.runs import payout_link_rows, write_csv

pytestmark = pytest.mark.slow  # builds a venv the first time (minutes); then ~20 s


@pytest.fixture(name="accounts", scope="module")
def accounts_fixture() -> Iterator[tuple[str, str, str]]:
    require_accounts()
    with team_accounts() as names:
        yield names


@pytest.fixture(name="gateway", scope="module")
def gateway_fixture() -> Iterator[EmulatorHandle]:
    handle = start_emulator(port=0, link_step_seconds=0)
    try:
        yield handle
    finally:
        handle.stop()


def _mode(path: Path) -> int:
    return stat.S_IMODE(path.stat().st_mode)


def _dump(path: Path) -> list[list[tuple[object, ...]]]:
    conn = sqlite3.connect(path)
    try:
        return [
            sorted(map(tuple, conn.execute(f"SELECT * FROM {t}")), key=repr)  # noqa: S608
            for t in ("runs", "rows", "events", "approvals", "plans")
        ]
    finally:
        conn.close()


@pytest.fixture(name="base")
def base_fixture() -> Iterator[Path]:
    """A folder every account can enter (pytest's tmp_path is root's, 0700)."""
    base = Path(tempfile.mkdtemp(prefix="bp-approval-", dir="/tmp"))
    os.chmod(base, 0o755)  # noqa: S103 - the accounts must reach their homes inside
    try:
        yield base
    finally:
        shutil.rmtree(base, ignore_errors=True)


def test_approval_two_os_accounts_submit_refused_self_approval_approve_send(
    accounts: tuple[str, str, str], gateway: EmulatorHandle, base: Path
) -> None:
    maker, checker, _group = accounts
    python = venv_python()
    gateway.admin.reset()
    src = world_readable_copy(base)
    team = base / "team"  # the README's set-up: chgrp the folder, chmod 2770
    team.mkdir()
    gid = pwd.getpwnam(maker).pw_gid
    os.chown(team, 0, gid)
    os.chmod(team, 0o2770)  # noqa: S103 - the shared folder is the point of the test
    homes = {}
    for user in (maker, checker):
        home = base / user
        home.mkdir(mode=0o700)
        os.chown(home, pwd.getpwnam(user).pw_uid, gid)
        homes[user] = home
    rows = payout_link_rows(4, prefix="TEAM")
    sheet = write_csv(homes[maker] / "bonus.csv", rows)
    os.chown(sheet, pwd.getpwnam(maker).pw_uid, gid)
    ledger = team / "ledger.sqlite"

    def env(user: str) -> dict[str, str]:
        return {
            "PATH": "/usr/bin:/bin",
            "HOME": str(homes[user]),
            "LANG": "C.UTF-8",
            "PYTHONPATH": str(src),
            "BATCHPAY_ENV": "emulator",
            "BATCHPAY_BASE_URL": gateway.url,
            "BATCHPAY_LEDGER": str(ledger),
            "BATCHPAY_HOME": str(homes[user] / "batchpay"),
        }

    def batchpay(user: str, *args: str) -> tuple[int, str]:
        done = run_as(user, [str(python), "-m", "batchpay", *args], env=env(user),
                      cwd=homes[user])  # fmt: skip
        return done.returncode, done.stdout + done.stderr

    code, out = batchpay(maker, "submit", str(sheet), "--quiet")
    assert code == 0, out
    run_id = out.split("Submitted for approval: run ")[1].split()[0]
    assert f"prepared by   {maker} at" in out
    # The journal is the group's: 0660 in the 2770 folder, whatever the maker's umask.
    assert (_mode(ledger), ledger.stat().st_gid) == (0o660, gid)
    assert pwd.getpwuid(ledger.stat().st_uid).pw_name == maker
    assert (homes[maker] / "reports" / f"bonus-{run_id}.xlsx").is_file()  # plan workbook

    before = _dump(ledger)
    code, out = batchpay(maker, "approve", run_id, "--expect-total", "6000000")
    assert code == 1 and f"{maker} prepared run {run_id}" in out, out
    assert "cannot approve their own run" in out
    code, out = batchpay(checker, "send", run_id)
    assert code == 1 and "awaiting approval" in out, out
    assert _dump(ledger) == before and gateway.admin.executed()["count"] == 0

    code, out = batchpay(checker, "approve", run_id, "--expect-total", "6,000,000")
    assert code == 0 and f"Approved by {checker} (1 of 1)" in out, out
    report = homes[checker] / "paid.xlsx"
    code, out = batchpay(checker, "send", run_id, "--quiet", "--report", str(report))
    assert code == 0, out
    assert report.is_file()

    executed = gateway.admin.executed("payout-link")
    assert executed["count"] == 4 and executed["max_per_reference"] == 1
    journal = SqliteJournal(ledger, read_only=True)
    run = journal.run(run_id)
    assert run.status == RunStatus.APPROVED and run.operator == maker
    assert [(a.approver, a.decision) for a in run.approvals] == [(checker, "APPROVED")]
    assert all(r.state in (*PROGRESS, State.COMPLETED) for r in journal.rows(run_id))
    types = [e.type for e in journal.events(run_id) if e.row_number is None]
    assert types[:4] == ["run-created", "submit", "approve", "send"]
    sent = [e.detail for e in journal.events(run_id) if e.type == "send" and e.row_number is None]
    assert sent[0].startswith(f"sending by {checker}; approved by {checker}")
    locks = team / "ledger.sqlite.locks"
    assert (_mode(locks), locks.stat().st_gid) == (0o2770, gid)
    assert all(_mode(p) == 0o660 and p.stat().st_gid == gid for p in locks.iterdir())
    for suffix in ("-wal", "-shm"):  # SQLite gives them the journal's mode, if they remain
        extra = Path(f"{ledger}{suffix}")
        if extra.exists():
            assert (_mode(extra), extra.stat().st_gid) == (0o660, gid)
