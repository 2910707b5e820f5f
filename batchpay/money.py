"""Amounts for people: one formatter for every terminal line, so ``validate``, ``run`` and
``balance`` write the same figure the same way. Amounts travel as minor units (× 100) or
Decimal — never a float."""

from __future__ import annotations

from decimal import Decimal


def minor_to_decimal(minor: int) -> Decimal:
    """Minor units (× 100) to an exact Decimal amount: 150000050 → Decimal('1500000.50')."""
    return Decimal(minor).scaleb(-2)


def format_minor(minor: int, currency: str = "") -> str:
    """``150000050`` → ``1,500,000.50``; whole amounts without decimals."""
    value = minor_to_decimal(minor)
    text = f"{value:,.0f}" if value == value.to_integral_value() else f"{value:,.2f}"
    return f"{currency} {text}".strip()


def format_amount(value: Decimal | int, currency: str = "") -> str:
    """:func:`format_minor` for an amount in major units (``Decimal('1500000.5')``)."""
    return format_minor(int(Decimal(value).scaleb(2)), currency)
