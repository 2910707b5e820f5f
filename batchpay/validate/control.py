"""Control totals checked: each total row of :func:`batchpay.validate.footers.find` against
the sum of the amounts of the rows it covers, as :class:`ControlTotal` values, the skipped
rows that list them, and a ``control-total-mismatch`` error where they differ."""

from __future__ import annotations

from dataclasses import dataclass, field
from decimal import Decimal
from typing import TYPE_CHECKING

import numpy as np

from batchpay.kinds import Kind, canonical_amount
from batchpay.money import format_amount
from batchpay.normalize import parse_amount_text
from batchpay.problems import Problem
from batchpay.sheet import SkippedRow
from batchpay.validate.footers import TotalRow
from batchpay.validate.result import AmountFormat, ControlTotal

if TYPE_CHECKING:
    import pandas as pd

MISMATCH = "control-total-mismatch"
UNREADABLE = "control-total-unreadable"
# A total may exceed the per-row digit limit.
_EXTRA_DIGITS = 6


@dataclass
class Checked:
    control_totals: list[ControlTotal] = field(default_factory=list)
    skipped: list[SkippedRow] = field(default_factory=list)
    problems: list[Problem] = field(default_factory=list)


def check_totals(
    totals: list[TotalRow],
    kind: Kind,
    index: pd.Index,
    minor: np.ndarray | None,
    amount_format: AmountFormat | None,
) -> Checked:
    """``minor``: the payee rows' amounts in minor units (0 where unreadable or empty), in
    the order of ``index`` (their Excel rows), whatever other problems the rows have."""
    out = Checked()
    rows = index.to_numpy()
    for t in totals:
        word = "control total" if t.kind == "total" else "subtotal"
        covered = _covered(rows, t)
        if kind.amount_field is None or minor is None:
            reason = f"{word} {t.label!r} (this kind of sheet has no amounts: not checked)"
            out.skipped.append(SkippedRow(t.row, t.kind, reason, t.text))
            continue
        part = minor[t.start : t.stop]
        computed = Decimal(sum(part.tolist())).scaleb(-2)
        unreadable = int(np.count_nonzero(part == 0))
        stated, code = _stated(t.amount_text, kind, amount_format, computed)
        total = ControlTotal(
            row=t.row,
            label=t.label,
            kind=t.kind,
            stated=stated,
            computed=canonical_amount(computed),
            rows=t.stop - t.start,
            first_row=int(rows[t.start]) if t.stop > t.start else None,
            last_row=int(rows[t.stop - 1]) if t.stop > t.start else None,
            unreadable=unreadable,
        )
        out.control_totals.append(total)
        out.skipped.append(SkippedRow(t.row, t.kind, _reason(word, total, t, code), t.text))
        if code:
            out.problems.append(_unreadable(word, t, kind))
        elif stated is not None and not total.matches:
            out.problems.append(_mismatch(word, total, t, kind, covered))
    return out


def _covered(rows: np.ndarray, t: TotalRow) -> str:
    n = t.stop - t.start
    if not n:
        return "no rows"
    first, last = int(rows[t.start]), int(rows[t.stop - 1])
    span = f"row {first}" if first == last else f"rows {first}–{last}"
    return f"{n:,} row{'s' if n != 1 else ''} ({span})"


def _stated(
    text: str, kind: Kind, amount_format: AmountFormat | None, computed: Decimal
) -> tuple[Decimal | None, str]:
    """The total the row states, or (None, '') when it states none, or (None, code) when
    its amount cannot be read. An ambiguous "31.000" is read the way that matches, if one
    does."""
    if not text:
        return None, ""
    formats: list[AmountFormat | None] = [amount_format] if amount_format else [None, "id", "en"]
    readings = []
    for fmt in formats:
        parsed = parse_amount_text(
            text,
            decimals=kind.amount_decimals,
            max_int_digits=kind.amount_max_int_digits + _EXTRA_DIGITS,
            amount_format=fmt,
        )
        if not parsed.code:
            readings.append(canonical_amount(Decimal(parsed.minor).scaleb(-2)))
        elif parsed.code != "amount-ambiguous":
            return None, parsed.code
    if not readings:
        return None, "amount-ambiguous"
    return next((r for r in readings if r == computed), readings[0]), ""


def _money(value: Decimal) -> str:
    return format_amount(value, "IDR")


def _reason(word: str, total: ControlTotal, t: TotalRow, code: str) -> str:
    head = f"{word} {t.label!r}"
    if code:
        return f"{head}: its amount {t.amount_text!r} cannot be read, so it was not checked"
    if total.stated is None:
        return f"{head}: no amount in the amount column, nothing to check"
    n = f"{total.rows:,} row{'s' if total.rows != 1 else ''}"
    if total.matches:
        return f"{head}: {_money(total.stated)} matches {n}"
    return f"{head}: {_money(total.stated)} does not match {n}, {_money(total.computed)}"


def _mismatch(word: str, total: ControlTotal, t: TotalRow, kind: Kind, covered: str) -> Problem:
    assert total.stated is not None
    diff = total.stated - total.computed
    side = "more" if diff > 0 else "less"
    hint = (
        "find the row whose amount differs from the source (a typo, a row missing or one too "
        "many), correct it — or correct the total if the rows are right — and validate again"
    )
    if total.unreadable:
        hint += (
            f"; {total.unreadable:,} of the covered rows "
            f"{'has' if total.unreadable == 1 else 'have'} no amount batchpay can read "
            "(counted as 0): fix those first"
        )
    return Problem(
        t.row,
        kind.amount_field,
        t.amount_text,
        MISMATCH,
        f"the {word} {t.label!r} says {_money(total.stated)}, but the {covered} it covers add "
        f"up to {_money(total.computed)}: the total is {_money(abs(diff))} {side}",
        hint,
    )


def _unreadable(word: str, t: TotalRow, kind: Kind) -> Problem:
    return Problem(
        t.row,
        kind.amount_field,
        t.amount_text,
        UNREADABLE,
        f"the {word} {t.label!r} has an amount batchpay cannot read, so it was not checked "
        "against the rows",
        "write the total as a plain number (31000000) to have it checked; the row is not "
        "paid either way",
        severity="warning",
    )
