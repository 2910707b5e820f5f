"""What issue 12 changed in how much a run holds: a dry run reads and marks its rows a page at
a time, a run's result rows are read (lean) after its workbook, balance snapshots read only
the source accounts, and freed memory goes back to the system. Behaviour, not timings."""

from __future__ import annotations

import importlib

import pytest

from batchpay import runs
from batchpay.config import load_settings
from batchpay.runs import memory
from batchpay.states import State
from tests.helpers.runs import FUNDED, FUNDED_2, Harness, payout_link_rows, sac_payout_rows

# The module (batchpay.runs re-exports its function of the same name).
execute_module = importlib.import_module("batchpay.runs.execute")


def test_dry_run_pages_sign_and_mark_every_row(
    harness: Harness, monkeypatch: pytest.MonkeyPatch
) -> None:
    from batchpay.doku import signing

    monkeypatch.setattr(execute_module, "PAGE", 4)  # 11 rows: pages of 4, 4, 3
    signed: list[str] = []
    real = signing.sign_request

    def spy(**kw: object) -> str:
        signed.append(str(kw["request_id"]))
        return real(**kw)  # type: ignore[arg-type]

    monkeypatch.setattr(signing, "sign_request", spy)
    run = harness.start(harness.sheet("bonus.csv", payout_link_rows(11)), dry_run=True)
    assert runs.dry_run(harness.ledger, run.run_id, load_settings(env="emulator")) == 11
    rows = harness.ledger.rows(run.run_id)
    assert [r.state for r in rows] == [State.NOT_SENT] * 11
    assert signed == [r.request_id for r in rows]  # each once, in order
    assert harness.ledger.run(run.run_id).finished_at is not None
    assert harness.executed()["count"] == 0


def test_execute_without_rows_still_finishes_the_run(harness: Harness) -> None:
    harness.admin.fund(FUNDED, 10**9)
    run = harness.start(harness.sheet("pay.csv", sac_payout_rows(3)))
    result = runs.execute(harness.ledger, harness.client, run.run_id, read_rows=False)
    assert result.rows == [] and result.sends == 3
    assert result.run.finished_at is not None
    assert {r.state for r in harness.ledger.rows(run.run_id)} == {State.SUCCESS}


def test_with_workbook_reads_lean_rows_after_the_workbook(
    harness: Harness, monkeypatch: pytest.MonkeyPatch
) -> None:
    from batchpay.runs import service

    harness.admin.fund(FUNDED, 10**9)
    run = harness.start(harness.sheet("pay.csv", sac_payout_rows(3)))
    result = runs.execute(harness.ledger, harness.client, run.run_id)
    held: list[int] = []
    real = service.write_workbook

    def spy(*args: object, **kw: object) -> object:
        held.append(len(result.rows))  # nothing held while the workbook is written
        return real(*args, **kw)  # type: ignore[arg-type]

    monkeypatch.setattr(service, "write_workbook", spy)
    monkeypatch.chdir(harness.tmp)
    service.with_workbook(harness.ledger, result, None)
    assert held == [0]
    assert result.workbook is not None and result.workbook.exists()
    assert [r.row_number for r in result.rows] == [
        r.row_number for r in harness.ledger.rows(run.run_id)
    ]
    assert all(r.state == State.SUCCESS and r.body == b"" and r.input == {} for r in result.rows)


def test_source_accounts_distinct_and_sorted(harness: Harness) -> None:
    sheet = sac_payout_rows(2, account=FUNDED_2) + sac_payout_rows(2, prefix="B", account=FUNDED)
    run = harness.start(harness.sheet("two.csv", sheet))
    assert harness.ledger.source_accounts(run.run_id) == sorted({FUNDED, FUNDED_2})
    links = harness.start(harness.sheet("links.csv", payout_link_rows(2)))
    assert harness.ledger.source_accounts(links.run_id) == []


def test_release_freed_memory_never_raises(monkeypatch: pytest.MonkeyPatch) -> None:
    memory.release_freed_memory()
    monkeypatch.setattr(memory, "_malloc_trim", lambda: None)
    memory.release_freed_memory()
