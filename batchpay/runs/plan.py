"""Planning a run: a validated sheet → the exact requests that will be sent
(docs/safety.md §1: every row's Request-Id and exact bytes are journaled before the first send).

Pure: nothing here reads the journal or talks to DOKU. The checks that must pass before the
first send are in :mod:`batchpay.runs.checks`.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any, overload

from batchpay.errors import RunError
from batchpay.journal import NewRow
from batchpay.kinds import Kind, build_body

if TYPE_CHECKING:
    import pandas as pd

    from batchpay.validate import ValidationResult


@dataclass(frozen=True)
class Plan:
    """Everything a run will send, computed once from the validated sheet."""

    kind: Kind
    env: str
    input_path: Path
    input_sha256: str
    rows: Sequence[NewRow]  # a list, or PlannedRows (built as read) for a validated sheet
    totals: dict[str, int] = field(default_factory=dict)  # currency -> minor units
    by_source: dict[str, int] = field(default_factory=dict)  # source Sub Account -> minor

    @property
    def count(self) -> int:
        return len(self.rows)


# --- building the plan --------------------------------------------------------------------


def plan(result: ValidationResult, *, env: str) -> Plan:
    """The rows to send, with their exact bodies, from a validation result without errors."""
    if not result.ok:
        raise RunError(
            "the sheet has errors; fix them before planning a run",
            hint="run `batchpay validate` to see them",
        )
    table = result.table
    kind = table.kind
    headers = {name: header for name, header in table.field_headers.items()}
    input_columns = [c for c in table.frame.columns if c in headers or c in table.extra_columns]
    # The row as read keeps the sheet's column order (the workbook's Rows sheet shows HR's
    # columns as HR laid them out); values a profile or --set supplied come after.
    position = {h: i for i, h in enumerate(table.source.headers)}
    input_columns.sort(key=lambda c: position.get(headers.get(str(c), str(c)), len(position)))
    rows = PlannedRows(
        kind,
        [int(str(r)) for r in result.normalised.index.tolist()],
        [(headers.get(str(c), str(c)), table.frame[c]) for c in input_columns],
        [
            (name, result.normalised[name])
            for name in kind.field_names
            if name in result.normalised.columns
        ],
        result.normalised["amount_minor"].tolist()
        if kind.amount_field and "amount_minor" in result.normalised.columns
        else None,
    )
    totals: dict[str, int] = defaultdict(int)
    by_source: dict[str, int] = defaultdict(int)
    for currency, source, amount_minor in zip(
        rows.currencies, rows.sources, rows.amounts, strict=True
    ):
        if amount_minor is not None:
            totals[currency] += amount_minor
            if source:
                by_source[source] += amount_minor
    return Plan(
        kind=kind,
        env=env,
        input_path=Path(table.source.path),
        input_sha256=table.source.sha256,
        rows=rows,
        totals=dict(totals),
        by_source=dict(by_source),
    )


class PlannedRows(Sequence[NewRow]):
    """A plan's rows, built as they are read rather than held all at once.

    Each :class:`NewRow` carries two dicts (the row as read, the row normalised) that the
    journal stores once and nothing else needs; for 100,000 rows they would be ~300 MB held
    for the whole run. Here only the bodies (built, and so checked, when planning) and a few
    scalars per row are kept; the dicts are rebuilt from the validation result's own columns
    on each pass, a few thousand rows at a time.
    """

    _CHUNK = 4096

    def __init__(
        self,
        kind: Kind,
        row_numbers: list[int],
        input_columns: list[tuple[str, pd.Series]],
        normalised_columns: list[tuple[str, pd.Series]],
        amounts: list[int] | None,
    ) -> None:
        self.kind = kind
        self.row_numbers = row_numbers
        self._input_columns = input_columns
        self._normalised_columns = normalised_columns
        n = len(row_numbers)
        self.references: list[str] = []
        self.currencies: list[str] = []
        self.sources: list[str | None] = []
        self.bodies: list[bytes] = []
        self.amounts: list[int | None] = (
            [int(a) for a in amounts] if amounts is not None else [None] * n
        )
        source_field = kind.source_field
        for start in range(0, n, self._CHUNK):
            for i, normalised in enumerate(
                self._normalised(start, min(n, start + self._CHUNK)), start
            ):
                self.references.append(
                    normalised[kind.reference_field]
                    if kind.reference_field
                    else str(row_numbers[i])
                )
                self.currencies.append((normalised.get("currency") or "IDR").upper())
                self.sources.append(
                    (normalised.get(source_field) or None) if source_field else None
                )
                self.bodies.append(build_body(kind, normalised))

    def _normalised(self, start: int, stop: int) -> list[dict[str, str]]:
        names = [name for name, _ in self._normalised_columns]
        values = [_texts(column, start, stop) for _, column in self._normalised_columns]
        blank = [""] * len(self.kind.field_names)
        missing = [name for name in self.kind.field_names if name not in names]
        out = []
        for cells in zip(*values, strict=True) if values else ([] for _ in range(stop - start)):
            row = dict(zip(names, cells, strict=True))
            if missing:
                row.update(zip(missing, blank, strict=False))
            out.append({name: row[name] for name in self.kind.field_names})
        return out

    def _inputs(self, start: int, stop: int) -> list[dict[str, str]]:
        labels = [label for label, _ in self._input_columns]
        values = [_texts(column, start, stop) for _, column in self._input_columns]
        if not values:
            return [{} for _ in range(stop - start)]
        return [dict(zip(labels, cells, strict=True)) for cells in zip(*values, strict=True)]

    def _chunk(self, start: int, stop: int) -> list[NewRow]:
        return [
            NewRow(
                row_number=self.row_numbers[i],
                reference=self.references[i],
                amount_minor=self.amounts[i],
                currency=self.currencies[i],
                source_account=self.sources[i],
                input=inp,
                normalised=norm,
                body=self.bodies[i],
            )
            for i, inp, norm in zip(
                range(start, stop),
                self._inputs(start, stop),
                self._normalised(start, stop),
                strict=True,
            )
        ]

    def __len__(self) -> int:
        return len(self.row_numbers)

    def __iter__(self) -> Iterator[NewRow]:
        for start in range(0, len(self), self._CHUNK):
            yield from self._chunk(start, min(len(self), start + self._CHUNK))

    @overload
    def __getitem__(self, index: int) -> NewRow: ...

    @overload
    def __getitem__(self, index: slice) -> list[NewRow]: ...

    def __getitem__(self, index: int | slice) -> NewRow | list[NewRow]:
        if isinstance(index, slice):
            return [self[i] for i in range(*index.indices(len(self)))]
        i = range(len(self))[index]  # negative indexes, IndexError
        return self._chunk(i, i + 1)[0]


def _texts(column: pd.Series, start: int, stop: int) -> list[str]:
    """Cells ``start:stop`` of a column as text ('' for a missing cell)."""
    return [_text(v) for v in column.iloc[start:stop].tolist()]


def _text(value: Any) -> str:
    return "" if value is None else str(value)
