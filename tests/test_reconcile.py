"""batchpay.reconcile: status classes, exact totals, next actions, month view."""

from __future__ import annotations

from decimal import Decimal
from typing import Any

import pytest

from batchpay.journal import EventRecord, RowRecord, RunRecord
from batchpay.money import minor_to_decimal
from batchpay.reconcile import (
    StatusClass,
    classify,
    events_table,
    exceptions_table,
    next_action,
    reconcile,
    rows_table,
    summarise,
)
from batchpay.states import PROGRESS, SUCCESS

RUN_ID = "20261101-0900-abcd"


def make_run(run_id: str = RUN_ID, **over: Any) -> RunRecord:
    """A finished payout-link run on the emulator, overridable field by field."""
    fields: dict[str, Any] = dict(
        run_id=run_id,
        created_at="2026-11-01T02:00:00Z",
        finished_at="2026-11-01T02:05:00Z",
        kind="payout-link",
        env="emulator",
        input_path="/data/bonus.xlsx",
        input_name="bonus.xlsx",
        input_sha256="a" * 64,
        operator="siti",
        dry_run=False,
        parent_run_id=None,
    )
    fields.update(over)
    return RunRecord(**fields)


def make_row(
    row_number: int = 2,
    state: str = "COMPLETED",
    amount_minor: int | None = 150_000_000,
    **over: Any,
) -> RowRecord:
    """A journal row; ``input`` carries an extra column and a leading-zero phone."""
    ref = over.pop("reference", f"BONUS-{row_number:04d}")
    fields: dict[str, Any] = dict(
        run_id=RUN_ID,
        row_number=row_number,
        attempt=1,
        reference=ref,
        amount_minor=amount_minor,
        currency="IDR",
        source_account=None,
        input={
            "Amount": "1500000",
            "Nama": "Siti",
            "No HP": "081234567890",
            "Reference": ref,
            "Divisi": "Ops",
        },
        normalised={
            "amount": "1500000",
            "receiver_name": "Siti",
            "receiver_phone_number": "6281234567890",
            "reference_id": ref,
        },
        request_id=f"{row_number:020d}",
        body=b'{"amount":1500000}',
        state=state,
        doku_status=state,
        doku_ids={"payout_link_id": f"PL-{row_number}"},
        message=None,
        sends=1,
        last_seen_at="2026-11-01T02:04:00Z",
        updated_at="2026-11-01T02:04:00Z",
    )
    fields.update(over)
    return RowRecord(**fields)


ALL_STATES = {
    **dict.fromkeys(SUCCESS, StatusClass.PAID),
    **dict.fromkeys(PROGRESS, StatusClass.PROGRESSING),
    "FAILED": StatusClass.FAILED,
    "EXPIRED": StatusClass.FAILED,
    "REJECTED": StatusClass.FAILED,
    "UNKNOWN": StatusClass.UNKNOWN,
    "SENDING": StatusClass.UNKNOWN,
    "PLANNED": StatusClass.NOT_SENT,
    "NOT_SENT": StatusClass.NOT_SENT,
    "INVALID": StatusClass.INVALID,
}


@pytest.mark.parametrize(("state", "expected"), sorted(ALL_STATES.items()))
def test_classify_each_state_lands_in_its_class(state: str, expected: StatusClass) -> None:
    assert classify(state) is expected


def test_classify_unlisted_state_is_unknown_not_paid() -> None:
    assert classify("SOMETHING_NEW") is StatusClass.UNKNOWN


@pytest.mark.parametrize("state", ["UNKNOWN", "SENDING", "SOMETHING_NEW", *PROGRESS])
def test_summarise_unknown_or_progressing_row_never_counted_as_paid(state: str) -> None:
    summary = summarise([make_row(2, "COMPLETED", 100), make_row(3, state, 7)])
    assert summary.paid.count == 1
    assert summary.paid.amounts == {"IDR": 100}
    assert summary.outstanding.count == 1
    assert summary.outstanding.amounts == {"IDR": 7}


def test_summarise_huge_amounts_totals_exact_beyond_float() -> None:
    # 2**53 + 1 cannot be a float; the sum must still be exact to the minor unit.
    big = 2**53 + 1
    rows = [
        make_row(2, "COMPLETED", big),
        make_row(3, "COMPLETED", 1),
        make_row(4, "SUCCESS", 10**17 + 3),
    ]
    summary = summarise(rows)
    assert summary.paid.amounts["IDR"] == big + 1 + 10**17 + 3
    assert summary.paid.amount("IDR") == Decimal(big + 1 + 10**17 + 3) / 100


def test_summarise_mixed_states_partition_every_row_once() -> None:
    states = [*ALL_STATES, "SOMETHING_NEW"]
    rows = [make_row(i + 2, s, 100 * (i + 1)) for i, s in enumerate(states)]
    summary = summarise(rows)
    assert summary.rows == len(rows)
    assert sum(b.count for b in summary.by_class.values()) == len(rows)
    assert sum(b.amounts["IDR"] for b in summary.by_class.values()) == sum(
        r.amount_minor or 0 for r in rows
    )
    assert summary.failed.count == 3
    assert summary.outstanding.count == len(PROGRESS) + 3  # + UNKNOWN, SENDING, new


def test_summarise_sent_counts_accepted_excludes_rejected_unknown_unsent() -> None:
    rows = [
        make_row(2, "COMPLETED", 1),
        make_row(3, "PENDING", 10),
        make_row(4, "EXPIRED", 100),
        make_row(5, "REJECTED", 1000),
        make_row(6, "UNKNOWN", 10000),
        make_row(7, "NOT_SENT", 100000),
        make_row(8, "INVALID", 1000000),
    ]
    assert summarise(rows).sent.amounts == {"IDR": 111}


def test_summarise_two_currencies_kept_apart() -> None:
    rows = [make_row(2, "COMPLETED", 500), make_row(3, "COMPLETED", 250, currency="USD")]
    summary = summarise(rows)
    assert summary.paid.amounts == {"IDR": 500, "USD": 250}
    assert summary.currencies == ["IDR", "USD"]


def test_summarise_account_creation_rows_counted_without_amount() -> None:
    summary = summarise([make_row(2, "CREATED", None), make_row(3, "FAILED", None)])
    assert (summary.paid.count, summary.failed.count) == (1, 1)
    assert summary.paid.amounts == {}


def test_minor_to_decimal_two_decimals_exact() -> None:
    assert minor_to_decimal(150_000_050) == Decimal("1500000.50")
    assert str(minor_to_decimal(12_345_678_901_234_567_89)) == "12345678901234567.89"


@pytest.mark.parametrize(
    ("state", "expected"),
    [
        ("PENDING", f"batchpay status {RUN_ID}"),
        ("CONFIRMED", "Wait"),
        ("UNKNOWN", f"batchpay resume {RUN_ID}"),
        ("SENDING", "contact DOKU with Request-Id 00000000000000000002"),
        ("FAILED", f"batchpay retry-failed {RUN_ID}"),
        ("EXPIRED", f"batchpay retry-failed {RUN_ID}"),
        ("REJECTED", f"batchpay retry-failed {RUN_ID}"),
        ("PLANNED", f"batchpay resume {RUN_ID}"),
        ("NOT_SENT", f"batchpay resume {RUN_ID}"),
        ("INVALID", "Fix row 2 of bonus.xlsx"),
        ("SOMETHING_NEW", "contact DOKU with Request-Id"),
    ],
)
def test_next_action_each_state_says_what_to_do(state: str, expected: str) -> None:
    # A REJECTED row is offered to retry-failed only when its code proves non-execution.
    code = "INSUFFICIENT_BALANCE" if state == "REJECTED" else None
    assert expected in next_action(make_row(2, state, code=code), make_run())


def test_next_action_failed_row_quotes_doku_message() -> None:
    row = make_row(2, "REJECTED", message="Invalid beneficiary account")
    assert "DOKU said: Invalid beneficiary account." in next_action(row, make_run())


def test_next_action_dry_run_not_sent_says_dry_run() -> None:
    action = next_action(make_row(2, "NOT_SENT"), make_run(dry_run=True))
    assert action.startswith("Dry run")
    assert "resume" not in action


def test_exceptions_table_lists_only_rows_not_successfully_terminal() -> None:
    rows = [make_row(i + 2, s) for i, s in enumerate(ALL_STATES)]
    table = exceptions_table([make_run()], rows)
    listed = table.column("Status")
    assert sorted(listed) == sorted(s for s, k in ALL_STATES.items() if k is not StatusClass.PAID)
    assert all(table.column("What to do next"))


def test_exceptions_table_failed_row_retried_later_points_at_retry() -> None:
    failed = make_row(2, "FAILED", reference="BONUS-1")
    retry = make_row(2, "COMPLETED", reference="BONUS-1", run_id="retry-run", attempt=2)
    table = exceptions_table([make_run()], [failed], retries=[retry])
    (action,) = table.column("What to do next")
    assert "Already retried in run retry-run (attempt 2, now COMPLETED)" in action


def test_rows_table_input_columns_keep_sheet_order_and_later_extras() -> None:
    first = make_row(2)
    second = make_row(3, input={**first.input, "Catatan": "late extra"})
    table = rows_table([make_run()], [first, second])
    headers = table.headers
    # Row and Status first (issue 11: status near the left), then the sheet's own columns.
    assert headers[:2] == ["Row", "Status"]
    assert headers[2:8] == [
        "Amount (sheet)",
        "Nama",
        "No HP",
        "Reference (sheet)",
        "Divisi",
        "Catatan",
    ]
    assert table.column("No HP") == ["081234567890", "081234567890"]
    assert table.column("Catatan") == [None, "late extra"]
    assert "receiver_phone_number (normalised)" in headers
    assert "payout_link_id" in headers


def test_rows_table_amount_exact_decimal_never_float() -> None:
    table = rows_table([make_run()], [make_row(2, amount_minor=150_000_001)])
    (amount,) = table.column("Amount")
    assert isinstance(amount, Decimal)
    assert amount == Decimal("1500000.01")


def test_reconcile_month_adds_run_column_and_totals_per_environment() -> None:
    a = make_run("run-a")
    b = make_run("run-b", env="production", created_at="2026-11-02T02:00:00Z")
    rows = [
        make_row(2, "COMPLETED", 100, run_id="run-a"),
        make_row(2, "COMPLETED", 40, run_id="run-b"),
        make_row(3, "UNKNOWN", 5, run_id="run-b"),
    ]
    rec = reconcile([a, b], rows)
    assert rec.is_month
    assert rec.rows.headers[0] == "Run"
    assert rec.rows.column("Run") == ["run-a", "run-b", "run-b"]
    assert rec.totals["emulator"].paid.amounts == {"IDR": 100}
    assert rec.totals["production"].paid.amounts == {"IDR": 40}
    assert rec.totals["production"].outstanding.amounts == {"IDR": 5}
    assert rec.banners == ["EMULATOR — NO REAL MONEY MOVED"]


def test_reconcile_production_only_has_no_banner() -> None:
    assert reconcile([make_run(env="production")], [make_row()]).banners == []


def test_reconcile_rows_of_a_run_not_given_raises() -> None:
    with pytest.raises(ValueError, match="other-run"):
        reconcile([make_run()], [make_row(run_id="other-run")])


def test_reconcile_rows_sorted_by_row_number() -> None:
    rec = reconcile([make_run()], [make_row(5), make_row(2), make_row(3)])
    assert rec.rows.column("Row") == [2, 3, 5]


def test_events_table_carries_transition_fields() -> None:
    event = EventRecord(
        1,
        RUN_ID,
        2,
        "2026-11-01T02:01:00Z",
        "row-state",
        "sent",
        old_state="SENDING",
        new_state="PENDING",
        outcome="ACCEPTED",
        http_status=200,
        request_id="0" * 20,
    )
    table = events_table([event])
    assert table.rows[0] == (
        1,
        "2026-11-01 09:01:00",  # WIB
        "2026-11-01 02:01:00",  # UTC beside it
        2,
        "row-state",
        "SENDING",
        "PENDING",
        "ACCEPTED",
        200,
        "0" * 20,
        "sent",
    )


def test_rows_table_lazy_rows_index_and_slice_agree_with_iteration() -> None:
    table = rows_table([make_run()], [make_row(2), make_row(3)])
    assert list(table.rows) == [table.rows[0], table.rows[1]] == table.rows[0:2]
    assert len(table.rows) == 2
    assert table.rows[1][0] == 3
