"""Values that read fine but may not be what was meant (issue 10, "so nobody pays a bonus
1,000× too small"):

* an ambiguous amount's hint says what each ``--amount-format`` would pay on that row, in
  figures and words, and never calls a convention right without that
  (:func:`ambiguity_hint`);
* an amount 1,000× or more under the sheet's median is a warning, ``amount-far-below-median``
  (:func:`far_below_median`, vectorised);
* a phone Excel stored as a number that is still a complete Indonesian mobile number is a
  warning, ``phone-stored-as-number``, not the loader's ``numeric-identifier`` /
  ``scientific-notation`` error (:func:`intact_phones`).
"""

from __future__ import annotations

from collections.abc import Sequence
from decimal import Decimal
from typing import TYPE_CHECKING

import numpy as np

from batchpay.kinds import Kind
from batchpay.money import format_minor
from batchpay.normalize import amount_in_words, amount_readings
from batchpay.problems import Problem

if TYPE_CHECKING:
    import pandas as pd

    from batchpay.headers import Table

FAR_BELOW_MEDIAN = "amount-far-below-median"
PHONE_AS_NUMBER = "phone-stored-as-number"
# The loader's errors on identifier cells Excel stored as numbers (headers.py).
_NUMBER_CELL_CODES = frozenset({"numeric-identifier", "scientific-notation"})
# How many times under the median an amount must be to be questioned.
FACTOR = 1000
_STYLE = {"id": "Indonesian way (1.500.000)", "en": "English way (1,500,000)"}


def _money(minor: int) -> str:
    return format_minor(minor, "IDR")


def median_minor(minor: np.ndarray | None) -> int | None:
    """The median of the amounts that could be read (minor units), or None."""
    if minor is None:
        return None
    read = minor[minor > 0]
    return int(np.median(read)) if len(read) else None


def ambiguity_hint(
    value: str, kind: Kind, styles: dict[str, int], median: int | None
) -> tuple[str, str]:
    """(readings, evidence) for the hint on an ambiguous amount: what ``--amount-format id``
    and ``en`` would each do to this row, then the sheet's own style and, when a reading is
    far under the sheet's median, that warning."""
    readings = amount_readings(
        value, decimals=kind.amount_decimals, max_int_digits=kind.amount_max_int_digits
    )
    said = []
    for fmt, parsed in readings.items():
        if parsed.code:
            said.append(
                f"with --amount-format {fmt} it would not be a valid amount "
                f"({parsed.code}), so the row would stay invalid"
            )
        else:
            said.append(
                f"with --amount-format {fmt} this row would pay {_money(parsed.minor)} "
                f"({amount_in_words(parsed.minor)})"
            )
    text = " Check which is meant: " + "; ".join(said) + "."
    evidence = ""
    used = [s for s in ("id", "en") if styles.get(s)]
    if len(used) == 1:
        evidence = f" The other amounts in this sheet are written the {_STYLE[used[0]]}."
    small = [p.minor for p in readings.values() if not p.code and p.minor * FACTOR <= (median or 0)]
    if median and small:
        evidence += (
            f" The sheet's median amount is {_money(median)}, over {FACTOR:,}× more than "
            f"{_money(max(small))}: if {_money(max(small) * FACTOR)} or so was meant, write it "
            "in full."
        )
    return text, evidence


def far_below_median(minor: np.ndarray | None, table: Table) -> list[Problem]:
    """A warning on every amount at least :data:`FACTOR` times under the median of the
    sheet's amounts (``minor``: minor units, 0 where unreadable, in the table's row order)."""
    field = table.kind.amount_field
    median = median_minor(minor)
    if minor is None or median is None or field is None:
        return []
    threshold = median // FACTOR
    far = np.flatnonzero((minor > 0) & (minor <= threshold))
    if not len(far):
        return []
    rows = table.frame.index.to_numpy()[far].tolist()
    values = table.frame[field].iloc[far].tolist()
    out = []
    for row, value, amount in zip(rows, values, minor[far].tolist(), strict=True):
        times = Decimal(median) / Decimal(amount)
        out.append(
            Problem(
                int(row),
                field,
                str(value),
                FAR_BELOW_MEDIAN,
                f"this row pays {_money(amount)} ({amount_in_words(amount)}), "
                f"{times:,.0f}× less than the sheet's median amount, {_money(median)}",
                "check the amount against the source: 1.500 written for 1.500.000, or a sheet "
                "read with the wrong --amount-format, pays a thousandth of what was meant; if "
                "the amount is right, nothing to do",
                severity="warning",
            )
        )
    return out


def intact_phones(
    problems: Sequence[Problem], kind: Kind, normalised: pd.DataFrame
) -> list[Problem]:
    """``problems`` with each loader error about a phone cell Excel stored as a number
    (``numeric-identifier``, or ``scientific-notation`` when Excel shows it as 8.16E+11)
    replaced by a ``phone-stored-as-number`` warning where the number read from the file
    still normalises to a valid mobile number: its digits are intact. Text that shows
    8.16291E+11 never normalises, so it stays an error."""
    phones = {f.name for f in kind.fields if f.type == "phone"}
    out = []
    for p in problems:
        if (
            p.code in _NUMBER_CELL_CODES
            and p.column in phones
            and p.row is not None
            and p.row in normalised.index
        ):
            number = str(normalised.at[p.row, p.column] or "")
            if number:
                shown = (
                    " and shown in scientific notation (like 8.16291E+11)"
                    if p.code == "scientific-notation"
                    else ""
                )
                p = Problem(
                    p.row,
                    p.column,
                    p.value,
                    PHONE_AS_NUMBER,
                    f"this phone number is stored as a number in Excel{shown}; the file still "
                    f"holds a complete Indonesian mobile number ({number}), so it is used",
                    "format the column as Text (Format Cells → Text) so Excel keeps every "
                    "number as typed: a number cell drops a leading 0, and copying it or saving "
                    "as CSV can cut its digits",
                    severity="warning",
                )
        out.append(p)
    return out
