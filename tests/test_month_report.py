"""The month report an accountant signs off (issue 11), from real runs against the built-in
emulator through the run service: payouts (one rejected, then paid by a retry), Payout
Links (paid, failed, expired), transfers between our own Sub Accounts, account creations
and a dry run. Money out = the sum of effective paid amounts, counted once; transfers and
account creations apart; the dry run listed apart and never counted; balances from the
snapshots the runs journaled."""

from __future__ import annotations

import time
from decimal import Decimal
from pathlib import Path
from typing import Any

import openpyxl
import pytest

from batchpay.config import load_settings
from batchpay.doku import make_session
from batchpay.doku.client import DokuClient
from batchpay.emulator import EMULATOR_CLIENT_ID, EMULATOR_SECRET_KEY
from batchpay.emulator.runtime import EmulatorHandle
from batchpay.journal import Journal, RowRecord, RunRecord, open_journal
from batchpay.kinds import SUB_ACCOUNT_TRANSFER, build_body
from batchpay.reconcile import SNAPSHOT, wib
from batchpay.runs import service
from batchpay.runs.options import FollowOptions, RetryOptions, RunOptions, Sending, Target
from batchpay.runs.plan import Plan
from batchpay.states import SUCCESS, State
from tests.helpers.runs import (
    DESTINATION,
    FUNDED,
    create_rows,
    payout_link_rows,
    sac_payout_rows,
    transfer_rows,
    write_csv,
)

AMOUNT_COLUMN = 2  # "What" | "Rows" | "Amount IDR" on the month Summary


class Quiet:
    """A Progress that records nothing, and runs ``on_created`` once a run is journaled."""

    def __init__(self, on_created: Any = None) -> None:
        self.on_created = on_created

    def note(self, text: str, *, warning: bool = False) -> None: ...
    def planned(self, plan: Plan, *, previous: Any = None) -> None: ...
    def opened(self, run: RunRecord) -> None: ...
    def sending(self, run: RunRecord, *, total: int, desc: str) -> None: ...
    def row_done(self, row: RowRecord, state: str) -> None: ...
    def polled(self, rows: list[RowRecord]) -> None: ...
    def sent(self) -> None: ...

    def created(self, run: RunRecord) -> None:
        if self.on_created is not None:
            self.on_created()


def _never_asked(plan: Plan, question: service.Question) -> Any:
    raise AssertionError(f"confirm must not be called outside production: {question}")


def _spend_outside_batchpay(url: str, amount: str) -> None:
    """Someone moves money out of FUNDED by other means between batchpay's balance check
    and its first send (a transfer straight to DOKU, not journaled)."""
    client = DokuClient(
        base_url=url,
        client_id=EMULATOR_CLIENT_ID,
        secret_key=EMULATOR_SECRET_KEY,
        session=make_session(trust_env=False),
        timeout=(2.0, 5.0),
    )
    row = {"origin": FUNDED, "destination": DESTINATION, "amount": amount}
    body = build_body(SUB_ACCOUNT_TRANSFER, {**row, "invoice_number": "OUTSIDE-1"})
    try:
        assert client.transfer("outside-batchpay-1", body).klass == "accepted"
    finally:
        client.session.close()


@pytest.fixture
def target(emulator: EmulatorHandle, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Target:
    emulator.admin.reset()
    monkeypatch.chdir(tmp_path)
    return Target(env="emulator", base_url=emulator.url)


def _run(target: Target, sheet: Path, *, dry: bool = False, **progress: Any) -> str:
    options = RunOptions(
        target=target, sending=Sending(concurrency=1), report_dir=sheet.parent, dry_run=dry
    )
    prepared = service.prepare(sheet, options)
    assert prepared.valid, prepared.validation
    result = service.start(prepared, confirm=_never_asked, progress=Quiet(**progress))
    assert result.workbook is not None, result.workbook_error
    return result.run.run_id


def _settle(target: Target, run_id: str) -> None:
    options = FollowOptions(target=target, until_final=True, timeout=30, interval=0.2)
    result = service.follow(run_id, options, progress=Quiet(), wait=time.sleep)
    assert result.settled is True


def _month(target: Target, emulator: EmulatorHandle, tmp: Path) -> dict[str, Any]:
    """Every kind of run of a month, for real. Returns the run ids."""
    emulator.admin.fund(FUNDED, 1_000_000)
    emulator.admin.fund(DESTINATION, 1_000)  # makes the account the transfers go to
    vendors = write_csv(tmp / "vendors.csv", sac_payout_rows(2, amount="400000"))
    payouts = _run(
        target, vendors, on_created=lambda: _spend_outside_batchpay(emulator.url, "300000")
    )
    emulator.admin.fund(FUNDED, 1_000_000)  # a top-up, outside batchpay
    options = RetryOptions(target=target, yes=True)
    outcome = service.retry_failed(payouts, options, confirm=_never_asked, progress=Quiet())
    assert outcome.result is not None
    links = payout_link_rows(4, prefix="BONUS")
    links[2]["receiver_email"] = "dewi+fail@example.co.id"
    links[3]["receiver_email"] = "agus+expire@example.co.id"
    bonus = _run(target, write_csv(tmp / "bonus.csv", links))
    _settle(target, bonus)
    transfers = _run(target, write_csv(tmp / "moves.csv", transfer_rows(2, amount="50000")))
    accounts = _run(target, write_csv(tmp / "accounts.csv", create_rows(2)))
    dry_sheet = write_csv(tmp / "dry.csv", payout_link_rows(3, prefix="DRY", amount="24750000"))
    dry = _run(target, dry_sheet, dry=True)
    return {
        "payouts": payouts,
        "retry": outcome.result.run.run_id,
        "bonus": bonus,
        "transfers": transfers,
        "accounts": accounts,
        "dry": dry,
    }


def _journal() -> Journal:
    return open_journal(load_settings(require_credentials=False).ledger_path, read_only=True)


def _lines(ws: Any) -> list[tuple[Any, ...]]:
    return list(ws.iter_rows(values_only=True))


def _table(ws: Any, first_header: str) -> list[dict[str, Any]]:
    """The small table on the Summary whose header row starts with ``first_header``."""
    lines = _lines(ws)
    start = next(i for i, line in enumerate(lines) if line[0] == first_header)
    heads = lines[start]
    out = []
    for line in lines[start + 1 :]:
        if not line[0]:
            break
        out.append({h: v for h, v in zip(heads, line, strict=False) if h})
    return out


def _totals(ws: Any) -> dict[str, tuple[int, Decimal | None]]:
    lines = _lines(ws)
    start = next(i for i, line in enumerate(lines) if line[0] == "Totals — emulator")
    out: dict[str, tuple[int, Decimal | None]] = {}
    for line in lines[start + 2 :]:
        if not line[0]:
            break
        value = line[AMOUNT_COLUMN]
        out[line[0]] = (line[1], None if value is None else Decimal(str(value)))
    return out


@pytest.fixture
def month_book(
    target: Target, emulator: EmulatorHandle, tmp_path: Path
) -> tuple[Any, dict[str, Any], Journal]:
    ids = _month(target, emulator, tmp_path)
    journal = _journal()
    month = wib(journal.run(ids["payouts"]).created_at)[:7]  # type: ignore[index]
    path = service.report(target, month=month, output=tmp_path / "month.xlsx")
    return openpyxl.load_workbook(path), ids, journal


def _paid(journal: Journal, *run_ids: str) -> Decimal:
    minor = sum(r.amount_minor or 0 for i in run_ids for r in journal.rows(i) if r.state in SUCCESS)
    return Decimal(minor) / 100


def test_month_report_money_out_is_effective_paid_counted_once(month_book: Any) -> None:
    wb, ids, journal = month_book
    totals = _totals(wb["Summary"])
    # The rejected payout was paid by the retry: 2 × 400,000 once, plus the paid links.
    assert [r.state for r in journal.rows(ids["payouts"])] == [State.SUCCESS, State.REJECTED]
    assert [r.state for r in journal.rows(ids["retry"])] == [State.SUCCESS]
    expected = _paid(journal, ids["payouts"], ids["retry"], ids["bonus"])
    assert expected == Decimal(800_000) + Decimal(3_000_000)
    assert totals["Money out: paid"] == (4, expected)
    assert totals["Money out: failed, not paid"] == (2, Decimal(3_000_000))  # FAILED, EXPIRED
    assert totals["Replaced by a retry"] == (1, Decimal(400_000))


def test_month_report_transfers_and_account_creations_apart(month_book: Any) -> None:
    wb, ids, journal = month_book
    totals = _totals(wb["Summary"])
    assert totals["Transfers: moved"] == (2, _paid(journal, ids["transfers"]))
    assert totals["Transfers: moved"][1] == Decimal(100_000)
    # Account creations move no money: a count, never an amount, never "paid".
    assert totals["Sub Accounts created"] == (2, None)
    runs = {r["Run"]: r for r in _table(wb["Summary"], "Run")}
    assert runs[ids["accounts"]]["Succeeded: IDR"] is None
    assert runs[ids["transfers"]]["Money"] == "internal transfer"
    assert runs[ids["bonus"]]["Money"] == "money out"


def test_month_report_dry_run_listed_apart_never_counted(month_book: Any) -> None:
    wb, ids, _ = month_book
    totals = _totals(wb["Summary"])
    assert totals["Dry runs (never counted)"] == (3, Decimal(3 * 24_750_000))
    assert ids["dry"] not in {r["Run"] for r in _table(wb["Summary"], "Run")}
    (dry,) = _table(wb["Summary"], "Dry run")
    assert (dry["Dry run"], dry["Rows (not sent)"]) == (ids["dry"], 3)
    rows_runs = {line[0] for line in _lines(wb["Rows"])[1:]}
    assert ids["dry"] not in rows_runs and ids["bonus"] in rows_runs


def test_month_report_retry_linked_to_original_both_named(month_book: Any) -> None:
    wb, ids, _ = month_book
    runs = {r["Run"]: r for r in _table(wb["Summary"], "Run")}
    assert runs[ids["payouts"]]["Retried by run"] == ids["retry"]
    assert runs[ids["retry"]]["Retry of run"] == ids["payouts"]
    assert runs[ids["payouts"]]["Replaced by a retry: rows"] == 1
    (chain,) = [dict(zip(_lines(wb["Retries"])[0], line, strict=True))
                for line in _lines(wb["Retries"])[1:]]  # fmt: skip
    assert (chain["First run"], chain["First status"]) == (ids["payouts"], "REJECTED")
    assert (chain["Effective run"], chain["Effective status"]) == (ids["retry"], "SUCCESS")
    assert chain["Counted in"] == "this report"
    counted = {(line[0], line[1]): line[3] for line in _lines(wb["Rows"])[1:]}
    assert counted[(ids["payouts"], 3)].startswith(f"no: retried in run {ids['retry']}")
    assert counted[(ids["retry"], 3)] == "yes"


def test_month_report_balances_from_snapshots(month_book: Any) -> None:
    wb, ids, journal = month_book
    snapshots = [e for i in (ids["payouts"], ids["retry"], ids["transfers"])
                 for e in journal.events(i) if e.type == SNAPSHOT]  # fmt: skip
    assert len(snapshots) == 6  # before and after each Sub Account money run
    lines = _lines(wb["Balances"])
    (funded,) = [dict(zip(lines[0], line, strict=True)) for line in lines[1:]]
    assert funded["Sub Account"] == FUNDED
    # 1,000,000 funded − 300,000 spent outside batchpay before the first send.
    assert Decimal(str(funded["Opening balance"])) == 700_000
    assert Decimal(str(funded["Money out (paid)"])) == 800_000
    assert Decimal(str(funded["Transfers out"])) == 100_000
    # The 1,000,000 top-up was not batchpay's doing: shown, never hidden.
    assert Decimal(str(funded["Other movements (fees, top-ups, outside batchpay)"])) == 1_000_000
    assert Decimal(str(funded["Closing balance"])) == 800_000


def test_month_report_times_in_wib_with_utc_beside(month_book: Any) -> None:
    wb, ids, journal = month_book
    run = {r["Run"]: r for r in _table(wb["Summary"], "Run")}[ids["bonus"]]
    created = journal.run(ids["bonus"]).created_at
    assert run["Started (UTC)"] == created[:19].replace("T", " ")
    shown_wib = run["Started (WIB)"]
    assert (int(shown_wib[11:13]) - int(run["Started (UTC)"][11:13])) % 24 == 7


def test_balance_snapshot_read_failure_is_an_event_and_run_goes_on(
    target: Target, emulator: EmulatorHandle, tmp_path: Path
) -> None:
    emulator.admin.fund(FUNDED, 1_000_000)
    sheet = write_csv(tmp_path / "vendors.csv", sac_payout_rows(1, amount="100000"))

    def break_balance_reads() -> None:
        # The preflight read is done; the snapshot's read gets a 503.
        emulator.admin.queue_fault("error-503", op="balance", count=1)

    run_id = _run(target, sheet, on_created=break_balance_reads)
    journal = _journal()
    assert [r.state for r in journal.rows(run_id)] == [State.SUCCESS]
    types = [e.type for e in journal.events(run_id)]
    assert "balance-snapshot-failed" in types and SNAPSHOT in types  # after: read again


def test_balance_snapshots_not_taken_for_payout_links_or_dry_runs(
    target: Target, emulator: EmulatorHandle, tmp_path: Path
) -> None:
    emulator.admin.fund(FUNDED, 10_000)
    link = _run(target, write_csv(tmp_path / "b.csv", payout_link_rows(1)))
    sheet = write_csv(tmp_path / "v.csv", sac_payout_rows(1, prefix="DRYV", amount="1000"))
    dry = _run(target, sheet, dry=True)
    journal = _journal()
    for run_id in (link, dry):
        assert not [e for e in journal.events(run_id) if e.type.startswith("balance-snapshot")]


# --- chains of retries across a month's edge (pure) -----------------------------------------


def _chain_records() -> tuple[RunRecord, RowRecord, RunRecord, RowRecord]:
    from tests.test_reconcile import make_row, make_run

    first = make_run("run-oct", created_at="2026-10-31T16:30:00Z")  # 31 Oct 23:30 WIB
    failed = make_row(2, "FAILED", 150_000_000, run_id="run-oct", reference="BONUS-1")
    retry = make_run("run-nov", created_at="2026-10-31T17:30:00Z", parent_run_id="run-oct")
    paid = make_row(2, "COMPLETED", 150_000_000, run_id="run-nov", reference="BONUS-1-R2")
    return first, failed, retry, RowRecord(**{**paid.__dict__, "attempt": 2})


def test_reconcile_month_retry_of_last_months_run_counted_here_original_named() -> None:
    from batchpay.reconcile import Money, reconcile_month

    first, failed, retry, paid = _chain_records()
    rec = reconcile_month(
        [retry], {"run-nov": [paid]}, linked=[first], linked_rows=[failed], month="2026-11"
    )
    assert rec.money["emulator"].by_money[Money.OUT].paid.amounts == {"IDR": 150_000_000}
    (chain,) = [dict(zip(rec.retries.headers, line, strict=True)) for line in rec.retries.rows]
    assert (chain["First run"], chain["Effective run"]) == ("run-oct", "run-nov")
    assert chain["Counted in"] == "this report"


def test_reconcile_month_row_retried_next_month_not_counted_here() -> None:
    from batchpay.reconcile import Money, reconcile_month

    first, failed, retry, paid = _chain_records()
    rec = reconcile_month(
        [first], {"run-oct": [failed]}, linked=[retry], linked_rows=[paid], month="2026-10"
    )
    totals = rec.money["emulator"]
    assert totals.by_money[Money.OUT].failed.count == 0  # it did not stay failed
    assert totals.replaced.amounts == {"IDR": 150_000_000}
    (chain,) = [dict(zip(rec.retries.headers, line, strict=True)) for line in rec.retries.rows]
    assert chain["Counted in"] == "the month of run run-nov (2026-11, WIB)"
    (line,) = [dict(zip(rec.rows.headers, r, strict=True)) for r in rec.rows.rows]
    assert line["Counted in totals"].startswith("no: retried in run run-nov")
