"""The run service and the CLI with the journal on PostgreSQL (issue 14): ``BATCHPAY_LEDGER``
set to a ``postgresql://`` URL, against the real emulator and a real server — prepare → start
(interrupted) → resume → follow → report, then journal = gateway row by row; ``batchpay run``
and ``batchpay resume`` the same way, with no file or folder made for the URL."""

from __future__ import annotations

import threading
import time
from pathlib import Path

import pytest

from batchpay.config import load_settings
from batchpay.emulator.runtime import EmulatorHandle
from batchpay.errors import RepeatedReferences
from batchpay.journal import open_journal
from batchpay.journal.postgres import PostgresJournal
from batchpay.runs import service
from batchpay.runs.options import FollowOptions, ResumeOptions, RunOptions, Sending, Target
from batchpay.states import State
from tests.helpers.runs import payout_link_rows, run_cli, write_csv
from tests.test_service import Recorder, _never_asked


@pytest.fixture
def target(
    emulator: EmulatorHandle, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, pg_url: str
) -> Target:
    emulator.admin.reset()
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("BATCHPAY_LEDGER", pg_url)
    return Target(env="emulator", base_url=emulator.url)


def _journal_equals_gateway(emulator: EmulatorHandle, run_id: str, n: int) -> None:
    journal = open_journal(load_settings(require_credentials=False).ledger, read_only=True)
    assert isinstance(journal, PostgresJournal)
    rows = journal.rows(run_id)
    executed = emulator.admin.executed("payout-link")
    assert executed["count"] == n and executed["max_per_reference"] == 1
    assert sorted(i["reference"] for i in executed["items"]) == sorted(r.reference for r in rows)
    assert all(r.sends >= 1 and r.state != State.UNKNOWN for r in rows)


def test_service_on_postgres_start_resume_follow_report_journal_equals_gateway(
    emulator: EmulatorHandle, target: Target, tmp_path: Path, pg_url: str
) -> None:
    sheet = write_csv(tmp_path / "bonus.csv", payout_link_rows(6))
    options = RunOptions(target=target, sending=Sending(concurrency=3), report_dir=tmp_path)
    prepared = service.prepare(sheet, options)
    assert prepared.valid and prepared.plan is not None

    stop = threading.Event()
    first = service.start(
        prepared, confirm=_never_asked, progress=Recorder(stop, stop_after=2), stop=stop
    )
    run_id = first.run.run_id
    assert first.interrupted and 2 <= first.sends < 6
    assert first.workbook is not None and first.workbook.is_file()

    resumed = service.resume(run_id, ResumeOptions(target=target), progress=Recorder())
    assert resumed.halt is None and first.sends + resumed.sends == 6

    followed = service.follow(
        run_id,
        FollowOptions(target=target, until_final=True, timeout=30, interval=0.1),
        progress=Recorder(),
        wait=lambda s: time.sleep(s),
    )
    assert followed.settled is True
    assert [r.state for r in followed.rows] == [State.COMPLETED] * 6
    assert service.report(target, run_id=run_id) == followed.workbook
    _journal_equals_gateway(emulator, run_id, 6)
    # The same sheet again is refused by the shared journal before anything is sent.
    with pytest.raises(RepeatedReferences) as refused:
        service.prepare(sheet, options)
    assert len(refused.value.repeats) == 6 and run_id in str(refused.value)
    assert not list(tmp_path.glob("postgres*")) and not Path("postgresql:").exists()


def test_cli_run_and_resume_with_postgres_ledger(
    emulator: EmulatorHandle,
    target: Target,
    tmp_path: Path,
    pg_url: str,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("BATCHPAY_BASE_URL", emulator.url)
    sheet = write_csv(tmp_path / "nov.csv", payout_link_rows(4))
    result = run_cli("run", str(sheet), "--quiet")
    assert result.exit_code == 0, result.output
    assert "Traceback" not in result.output
    [run] = open_journal(pg_url).runs()
    _journal_equals_gateway(emulator, run.run_id, 4)
    resumed = run_cli("resume", run.run_id, "--quiet")
    assert resumed.exit_code == 0, resumed.output
    assert emulator.admin.executed("payout-link")["count"] == 4  # resuming sent nothing
    listed = run_cli("runs")
    assert listed.exit_code == 0 and run.run_id in listed.output
    again = run_cli("run", str(sheet), "--quiet")
    assert again.exit_code == 1 and "already sent in an earlier run" in again.output
    assert emulator.admin.executed("payout-link")["count"] == 4
    assert sorted(p.name for p in tmp_path.iterdir() if p.is_dir()) == ["reports"]
