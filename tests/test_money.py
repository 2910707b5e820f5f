"""One way to show an amount: validate, run and balance must print the same figure alike."""

from __future__ import annotations

from decimal import Decimal

import pytest

from batchpay.cli.gateway import _rupiah
from batchpay.cli.sheets import format_money
from batchpay.money import format_amount, format_minor


@pytest.mark.parametrize(
    ("minor", "text"),
    [
        (0, "IDR 0"),
        (150_000_000, "IDR 1,500,000"),
        (150_000_050, "IDR 1,500,000.50"),
        (5, "IDR 0.05"),
        (128_450_000_000, "IDR 1,284,500,000"),
    ],
)
def test_format_minor_groups_thousands_and_keeps_cents_only_when_nonzero(
    minor: int, text: str
) -> None:
    assert format_minor(minor, "IDR") == text


def test_format_amount_decimal_matches_minor_units() -> None:
    assert format_amount(Decimal("1500000.5"), "IDR") == format_minor(150_000_050, "IDR")
    assert format_amount(Decimal("59650000"), "IDR") == "IDR 59,650,000"


def test_validate_and_balance_print_amounts_like_run() -> None:
    """`balance` used dot grouping (IDR 1.700.500) while `validate`/`run` used commas."""
    assert format_money("IDR", Decimal("1700500")) == format_minor(170_050_000, "IDR")
    assert _rupiah("1700500") == "IDR 1,700,500"
    assert _rupiah(None) == "?"
