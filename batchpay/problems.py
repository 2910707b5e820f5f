"""Problems are values: one per bad cell (or row, or sheet), with a stable kebab-case code.

Tests assert on ``(row, column, code)`` tuples; the message says what is wrong with the value
and the hint says how to fix it, in words a payroll clerk understands.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass
from typing import Any, Literal

Severity = Literal["error", "warning"]


@dataclass(frozen=True, slots=True)
class Problem:
    row: int | None  # the row number Excel shows (header is usually row 1); None = whole sheet
    column: str | None  # the batchpay field name (or the sheet's header for unmapped columns)
    value: str | None  # the offending value exactly as read, as text
    code: str  # stable kebab-case, e.g. "amount-ambiguous"
    message: str  # what is wrong
    hint: str  # how to fix it
    severity: Severity = "error"

    @property
    def key(self) -> tuple[int | None, str | None, str]:
        return (self.row, self.column, self.code)

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)

    def render(self, file_name: str | None = None) -> str:
        where = []
        if file_name:
            where.append(file_name)
        if self.row is not None:
            where.append(f"row {self.row}")
        if self.column:
            where.append(self.column)
        head = ", ".join(where)
        shown = f" {self.value!r}" if self.value is not None else ""
        text = f"{self.message} — {self.hint}"
        return f"{head}:{shown} {text}" if head else text


def sort_key(p: Problem) -> tuple[int, str, str]:
    return (p.row if p.row is not None else -1, p.column or "", p.code)
