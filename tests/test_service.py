"""The run service with no click involved: prepare → start → resume → follow → report against
the real emulator on 127.0.0.1, asserting the journal's and the emulator's truth."""

from __future__ import annotations

import threading
import time
from collections.abc import Mapping
from pathlib import Path
from typing import Any, ClassVar

import pytest

from batchpay.config import load_settings
from batchpay.emulator.runtime import EmulatorHandle
from batchpay.errors import TotalMismatch
from batchpay.journal import RowRecord, RunRecord, open_journal
from batchpay.runs import service
from batchpay.runs.options import (
    FollowOptions,
    ResumeOptions,
    RunOptions,
    Sending,
    Target,
)
from batchpay.runs.plan import Plan
from batchpay.states import FINAL, PROGRESS, State
from tests.helpers.runs import payout_link_rows, write_csv


class Recorder:
    """A Progress that records every call, and asks to stop after ``stop_after`` rows."""

    def __init__(self, stop: threading.Event | None = None, stop_after: int = 0) -> None:
        self.calls: list[tuple[str, Any]] = []
        self.notes: list[str] = []
        self._stop = stop
        self._stop_after = stop_after
        self._lock = threading.Lock()

    def note(self, text: str, *, warning: bool = False) -> None:
        self.notes.append(text)

    def planned(self, plan: Plan, *, previous: Mapping[int, RowRecord] | None = None) -> None:
        self.calls.append(("planned", plan.count))

    def opened(self, run: RunRecord) -> None:
        self.calls.append(("opened", run.run_id))

    def created(self, run: RunRecord) -> None:
        self.calls.append(("created", run.run_id))

    def sending(self, run: RunRecord, *, total: int, desc: str) -> None:
        self.calls.append(("sending", total))

    def row_done(self, row: RowRecord, state: str) -> None:
        with self._lock:
            self.calls.append(("row_done", state))
            done = sum(1 for name, _ in self.calls if name == "row_done")
        if self._stop is not None and done >= self._stop_after:
            self._stop.set()

    def polled(self, rows: list[RowRecord]) -> None:
        self.calls.append(("polled", len(rows)))

    def sent(self) -> None:
        self.calls.append(("sent", None))

    def names(self) -> list[str]:
        return [name for name, _ in self.calls if name != "row_done"]


def _never_asked(plan: Plan, question: service.Question) -> Any:
    raise AssertionError(f"confirm must not be called outside production: {question}")


@pytest.fixture
def target(emulator: EmulatorHandle, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Target:
    emulator.admin.reset()
    monkeypatch.chdir(tmp_path)
    return Target(env="emulator", base_url=emulator.url)


def test_service_prepare_start_resume_follow_report_journal_and_emulator_agree(
    emulator: EmulatorHandle, target: Target, tmp_path: Path
) -> None:
    sheet = write_csv(tmp_path / "bonus.csv", payout_link_rows(6))
    options = RunOptions(target=target, sending=Sending(concurrency=1), report_dir=tmp_path)
    prepared = service.prepare(sheet, options)
    assert prepared.valid and prepared.repeats == () and prepared.plan is not None
    assert prepared.plan.count == 6

    stop = threading.Event()
    recorder = Recorder(stop, stop_after=2)
    first = service.start(prepared, confirm=_never_asked, progress=recorder, stop=stop)
    run_id = first.run.run_id
    assert first.interrupted and 2 <= first.sends < 6
    assert recorder.names() == ["planned", "created", "sending", "sent"]
    assert any(f"Run {run_id} journaled in" in n for n in recorder.notes)
    assert first.workbook is not None and first.workbook.is_file()

    resumed = service.resume(run_id, ResumeOptions(target=target), progress=Recorder())
    assert resumed.halt is None
    assert first.sends + resumed.sends == 6  # every row sent once, none twice
    assert all(r.state in PROGRESS for r in resumed.rows)
    assert resumed.workbook == first.workbook  # one workbook per run

    followed = service.follow(
        run_id,
        FollowOptions(target=target, until_final=True, timeout=30, interval=0.1),
        progress=Recorder(),
        wait=lambda s: time.sleep(s),
    )
    assert followed.settled is True
    assert all(r.state == State.COMPLETED for r in followed.rows)

    path = service.report(target, run_id=run_id)
    assert path == followed.workbook and path.is_file()

    journal = open_journal(load_settings(require_credentials=False).ledger_path, read_only=True)
    rows = journal.rows(run_id)
    assert [r.state for r in rows] == [State.COMPLETED] * 6 and all(r.state in FINAL for r in rows)
    executed = emulator.admin.executed("payout-link")
    assert executed["count"] == 6 and executed["max_per_reference"] == 1
    assert sorted(i["reference"] for i in executed["items"]) == sorted(r.reference for r in rows)


def test_service_start_expect_total_mismatch_nothing_journaled_nothing_sent(
    emulator: EmulatorHandle, target: Target, tmp_path: Path
) -> None:
    sheet = write_csv(tmp_path / "bonus.csv", payout_link_rows(2))
    options = RunOptions(target=target, expect_total="1", report_dir=tmp_path)
    prepared = service.prepare(sheet, options)
    with pytest.raises(TotalMismatch):
        service.start(prepared, confirm=_never_asked, progress=Recorder())
    assert prepared.journal is not None and prepared.journal.runs() == []
    assert emulator.admin.executed("payout-link")["count"] == 0


def test_service_production_confirm_is_asked_rows_then_total() -> None:
    """The confirmation rule lives in the service: production asks the row count, then the
    total (the surface only prompts)."""
    asked: list[service.Question] = []

    class _Plan:
        count = 2
        totals: ClassVar[dict[str, int]] = {"IDR": 300_000_000}

    def confirm(p: Any, question: service.Question) -> Any:
        asked.append(question)
        return 2 if question is service.Question.ROWS else "3,000,000"

    service.confirm_plan(
        _Plan(),
        env="production",
        yes=False,  # type: ignore[arg-type]
        expect_total=None,
        confirm=confirm,
    )
    assert asked == [service.Question.ROWS, service.Question.TOTAL]
