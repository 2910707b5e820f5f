"""The outcome of validating a sheet: the normalised table, its problems, its totals."""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass, field
from decimal import Decimal
from typing import TYPE_CHECKING, Any

import pandas as pd

from batchpay import normalize
from batchpay.problems import Problem

if TYPE_CHECKING:
    from batchpay.headers import Table

AmountFormat = normalize.AmountFormat


@dataclass
class ValidationResult:
    table: Table
    # Same index as table.frame; one column per field ('' where blank or invalid), plus
    # "amount_minor" (int64, amount × 100, 0 where invalid) for kinds that move money.
    normalised: pd.DataFrame
    problems: list[Problem]  # load + field + cross-row, sorted by (row, column, code)
    invalid_row_numbers: set[int] = field(default_factory=set)
    totals: dict[str, Decimal] = field(default_factory=dict)  # per currency, valid rows only

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
            "problem_counts": self.problem_counts(),
            "problems": [p.to_dict() for p in self.problems],
        }
