"""The outcome of validating a sheet: the normalised table, its problems, its totals."""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass, field
from decimal import Decimal
from typing import TYPE_CHECKING, Any, Literal

import pandas as pd

from batchpay import normalize
from batchpay.problems import Problem
from batchpay.sheet import SkippedRow

if TYPE_CHECKING:
    from batchpay.headers import Table

AmountFormat = normalize.AmountFormat


@dataclass(frozen=True)
class ControlTotal:
    """A total or subtotal row of the sheet, checked against the rows it covers (issue 10).

    ``stated`` is what the row says (None when its amount cell is empty or unreadable, so
    nothing could be checked); ``computed`` the sum of the amounts of the ``rows`` payee rows
    it covers (Excel rows ``first_row``–``last_row``, skipped rows excepted), as written,
    whether or not those rows have other problems; ``unreadable`` of them have an amount that
    could not be read and count as 0."""

    row: int
    label: str
    kind: Literal["total", "subtotal"]
    stated: Decimal | None
    computed: Decimal
    rows: int
    first_row: int | None
    last_row: int | None
    unreadable: int = 0
    currency: str = "IDR"

    @property
    def matches(self) -> bool:
        return self.stated is not None and self.stated == self.computed

    def to_dict(self) -> dict[str, Any]:
        return {
            "row": self.row,
            "label": self.label,
            "kind": self.kind,
            "currency": self.currency,
            "stated": None if self.stated is None else str(self.stated),
            "computed": str(self.computed),
            "rows": self.rows,
            "first_row": self.first_row,
            "last_row": self.last_row,
            "unreadable": self.unreadable,
            "matches": self.matches,
        }


@dataclass
class ValidationResult:
    table: Table
    # Same index as table.frame; one column per field ('' where blank or invalid), plus
    # "amount_minor" (int64, amount × 100, 0 where invalid) for kinds that move money.
    normalised: pd.DataFrame
    problems: list[Problem]  # load + field + cross-row, sorted by (row, column, code)
    invalid_row_numbers: set[int] = field(default_factory=set)
    totals: dict[str, Decimal] = field(default_factory=dict)  # per currency, valid rows only
    # Rows not validated as payees, by Excel row: titles above the header (the loader's
    # RawSheet.skipped), totals, subtotals and footers (validate/footers.py). Never in
    # ``normalised``, ``rows``, ``valid_rows`` or ``totals``.
    skipped: list[SkippedRow] = field(default_factory=list)
    control_totals: list[ControlTotal] = field(default_factory=list)

    @property
    def errors(self) -> list[Problem]:
        return [p for p in self.problems if p.severity == "error"]

    @property
    def warnings(self) -> list[Problem]:
        return [p for p in self.problems if p.severity == "warning"]

    @property
    def ok(self) -> bool:
        return not any(p.severity == "error" for p in self.problems)

    @property
    def rows(self) -> int:
        return len(self.normalised)

    @property
    def valid_rows(self) -> int:
        return self.rows - len(self.invalid_row_numbers)

    def problem_counts(self) -> dict[str, int]:
        counts: dict[str, int] = defaultdict(int)
        for p in self.problems:
            counts[p.code] += 1
        return dict(sorted(counts.items()))

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready (amounts as strings, never floats)."""
        source = self.table.source
        return {
            "file": str(source.path),
            "sheet": source.sheet_name,
            "kind": self.table.kind.name,
            "ok": self.ok,
            "rows": self.rows,
            "valid_rows": self.valid_rows,
            "invalid_rows": sorted(self.invalid_row_numbers),
            "totals": {cur: str(amount) for cur, amount in self.totals.items()},
            "header_row": source.header_row,
            "sheet_note": source.sheet_note,
            "skipped": [
                {"row": s.row, "kind": s.kind, "reason": s.reason, "text": s.text}
                for s in self.skipped
            ],
            "control_totals": [c.to_dict() for c in self.control_totals],
            "problem_counts": self.problem_counts(),
            "problems": [p.to_dict() for p in self.problems],
        }
