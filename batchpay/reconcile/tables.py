"""Table layout: the columns of the Rows and Events sheets and the plain values of each line.

A :class:`Table` is columns plus rows of plain values (str, int, Decimal or None); the
workbook decides only how each :class:`Role` is written. Rows are built from records on
demand (:class:`LazyRows`, :class:`Replay`), never held twice (issue 5: peak memory).
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import dataclass
from enum import StrEnum
from typing import Any, overload

from batchpay.journal.records import EventRecord, RowRecord, RunRecord
from batchpay.kinds import KINDS
from batchpay.money import minor_to_decimal
from batchpay.reconcile.classes import classify
from batchpay.reconcile.times import both as time_pair


class Role(StrEnum):
    """How the workbook writes a column (no business rules there, only cell types)."""

    TEXT = "text"  # free text, written formula-safe
    ID = "id"  # identifier: text, leading zeros kept, never a number
    AMOUNT = "amount"  # Decimal amount, thousands format
    COUNT = "count"  # int
    STATUS = "status"  # a state name, coloured per state
    TIME = "time"  # a time as text, "YYYY-MM-DD HH:MM:SS" (the header names WIB or UTC)


@dataclass(frozen=True)
class Column:
    header: str
    role: Role
    decimals: int = 0  # for AMOUNT: 2 for Payout Link amounts, 0 for whole rupiah


class LazyRows(Sequence[tuple[Any, ...]]):
    """Table rows built from records on demand, not held: a 100,000-row run would otherwise
    keep a second copy of every value in memory while the workbook streams to disk
    (issue 5: peak memory ≤ 500 MB)."""

    def __init__(self, source: Sequence[Any], build: Callable[[Any], tuple[Any, ...]]) -> None:
        self._source = source
        self._build = build

    def __len__(self) -> int:
        return len(self._source)

    @overload
    def __getitem__(self, index: int) -> tuple[Any, ...]: ...
    @overload
    def __getitem__(self, index: slice) -> list[tuple[Any, ...]]: ...
    def __getitem__(self, index: int | slice) -> tuple[Any, ...] | list[tuple[Any, ...]]:
        if isinstance(index, slice):
            return [self._build(x) for x in self._source[index]]
        return self._build(self._source[index])

    def __iter__(self) -> Iterator[tuple[Any, ...]]:
        return map(self._build, self._source)


class Replay(Iterable[tuple[Any, ...]]):
    """Table rows read afresh from their source on every iteration (the journal, in
    chunks): nothing is held between passes, so the workbook measures then writes a
    100,000-row table with only a chunk of records in memory."""

    def __init__(
        self, source: Callable[[], Iterable[Any]], build: Callable[[Any], tuple[Any, ...]]
    ) -> None:
        self._source = source
        self._build = build

    def __iter__(self) -> Iterator[tuple[Any, ...]]:
        return map(self._build, self._source())


@dataclass
class Table:
    """Columns and rows of plain values (str, int, Decimal or None), ready to write.
    ``rows`` may be iterated several times (a :class:`LazyRows` or a :class:`Replay`)."""

    columns: list[Column]
    rows: Iterable[tuple[Any, ...]]

    @property
    def headers(self) -> list[str]:
        return [c.header for c in self.columns]

    def column(self, header: str) -> list[Any]:
        """Every value of one column (tests and summaries)."""
        i = self.headers.index(header)
        return [r[i] for r in self.rows]


def amount_decimals(runs: Iterable[RunRecord]) -> int:
    kinds = [KINDS.get(r.kind) for r in runs]
    return max((k.amount_decimals for k in kinds if k is not None), default=2)


class KeyUnion:
    """Keys in first-seen order, fed one item at a time."""

    def __init__(self) -> None:
        # dict keeps first-seen order, so the sheet's column order survives; most rows share
        # the same key tuple, so only new tuples are walked.
        self._seen: dict[str, None] = {}
        self._last: tuple[str, ...] | None = None

    def add(self, keys: Iterable[str]) -> None:
        keys = tuple(keys)
        if keys == self._last:
            return
        self._last = keys
        for k in keys:
            self._seen.setdefault(k, None)

    def keys(self) -> list[str]:
        return list(self._seen)


def ordered_union(keys_per_item: Iterable[Iterable[str]]) -> list[str]:
    union = KeyUnion()
    for keys in keys_per_item:
        union.add(keys)
    return union.keys()


def _unique_headers(columns: list[Column], *, sheet: range) -> None:
    """Make headers unique in place: a sheet column named like one of batchpay's ("Amount",
    "Status") becomes "Amount (sheet)", so a filter or a reader never picks the wrong one."""
    own = {c.header for i, c in enumerate(columns) if i not in sheet}
    seen: set[str] = set()
    for i, c in enumerate(columns):
        header = f"{c.header} (sheet)" if i in sheet and c.header in own else c.header
        n = 2
        base = header
        while header in seen:
            header = f"{base} ({n})"
            n += 1
        seen.add(header)
        if header != c.header:
            columns[i] = Column(header, c.role, c.decimals)


# The journal keeps values a profile or --set supplied beside the sheet's own, under
# "<field> (set)" (validate/derived.py): they are batchpay's, not HR's columns.
SET_SUFFIX = " (set)"
# The month report's "counted once" column: a row's own text, given by the caller.
Counted = tuple[Column, Callable[[RowRecord], Any]]


def sheet_first(input_cols: list[str]) -> list[str]:
    """The sheet's own columns in their order (as the journal stored them), then the
    values a profile or --set supplied."""
    own = [h for h in input_cols if not h.endswith(SET_SUFFIX)]
    return own + [h for h in input_cols if h.endswith(SET_SUFFIX)]


def rows_table(
    runs: Sequence[RunRecord], rows: Sequence[RowRecord], *, with_run: bool | None = None
) -> Table:
    """One line per journal row: Excel row number and status first, then every column of
    the sheet in its order (extras too), then batchpay's: normalised values, amount,
    Request-Id, DOKU ids, when DOKU last told us (WIB and UTC), sends/attempt and DOKU's
    last message.

    ``with_run`` adds a leading run-id column (default: when there is more than one run).
    """
    if with_run is None:
        with_run = len(runs) > 1
    input_cols = ordered_union(r.input.keys() for r in rows)
    norm_cols = ordered_union(r.normalised.keys() for r in rows)
    id_cols = ordered_union(r.doku_ids.keys() for r in rows)
    columns, build = rows_layout(amount_decimals(runs), with_run, input_cols, norm_cols, id_cols)
    return Table(columns, LazyRows(rows, build))


def rows_layout(
    decimals: int,
    with_run: bool,
    input_cols: list[str],
    norm_cols: list[str],
    id_cols: list[str],
    counted: Counted | None = None,
) -> tuple[list[Column], Callable[[RowRecord], tuple[Any, ...]]]:
    """The Rows sheet's columns and the function making one line of a record."""
    input_cols = sheet_first(input_cols)
    columns = _rows_columns(decimals, with_run, input_cols, norm_cols, id_cols, counted)
    dec = minor_to_decimal
    count = counted[1] if counted is not None else None

    def build(r: RowRecord) -> tuple[Any, ...]:
        inp = r.input
        norm = r.normalised
        ids = r.doku_ids
        return (
            *((r.run_id,) if with_run else ()),
            r.row_number,
            r.state,
            *((count(r),) if count is not None else ()),
            *[inp.get(h) for h in input_cols],
            *[norm.get(f) for f in norm_cols],
            None if r.amount_minor is None else dec(r.amount_minor),
            r.currency,
            r.reference,
            r.source_account,
            r.request_id,
            *[ids.get(k) for k in id_cols],
            classify(r.state).value,
            *time_pair(r.last_seen_at),
            r.sends,
            r.attempt,
            r.message,
            *time_pair(r.updated_at),
        )

    return columns, build


def _rows_columns(
    decimals: int,
    with_run: bool,
    input_cols: list[str],
    norm_cols: list[str],
    id_cols: list[str],
    counted: Counted | None,
) -> list[Column]:
    """The Rows sheet's columns, headers made unique (see :func:`_unique_headers`)."""
    columns: list[Column] = []
    if with_run:
        columns.append(Column("Run", Role.ID))
    columns += [Column("Row", Role.COUNT), Column("Status", Role.STATUS)]
    if counted is not None:
        columns.append(counted[0])
    # Input and normalised values are identifiers-as-text: the sheet's own text, zeros kept.
    first_input = len(columns)
    columns += [Column(h, Role.ID) for h in input_cols]
    columns += [Column(f"{f} (normalised)", Role.ID) for f in norm_cols]
    columns += [
        Column("Amount", Role.AMOUNT, decimals),
        Column("Currency", Role.TEXT),
        Column("Reference", Role.ID),
        Column("Source account", Role.ID),
        Column("Request-Id", Role.ID),
    ]
    columns += [Column(k, Role.ID) for k in id_cols]
    columns += [
        Column("Status class", Role.TEXT),
        Column("Last seen by DOKU (WIB)", Role.TIME),
        Column("Last seen by DOKU (UTC)", Role.TIME),
        Column("Sends", Role.COUNT),
        Column("Attempt", Role.COUNT),
        Column("DOKU's last message", Role.TEXT),
        Column("Updated (WIB)", Role.TIME),
        Column("Updated (UTC)", Role.TIME),
    ]
    _unique_headers(columns, sheet=range(first_input, first_input + len(input_cols)))
    return columns


def events_table(events: Sequence[EventRecord], *, with_run: bool = False) -> Table:
    """The audit trail, in journal order: each event with the transition and what DOKU
    answered when the event is a row transition."""
    columns, build = events_layout(with_run)
    ordered = sorted(events, key=lambda e: (e.run_id, e.seq)) if with_run else events
    return Table(columns, LazyRows(ordered, build))


def events_layout(with_run: bool) -> tuple[list[Column], Callable[[EventRecord], tuple[Any, ...]]]:
    """The Events sheet's columns and the function making one line of an event."""
    columns: list[Column] = [Column("Seq", Role.COUNT)]
    if with_run:
        columns.append(Column("Run", Role.ID))
    columns += [
        Column("At (WIB)", Role.TIME),
        Column("At (UTC)", Role.TIME),
        Column("Row", Role.COUNT),
        Column("Event", Role.TEXT),
        Column("From", Role.STATUS),
        Column("To", Role.STATUS),
        Column("Outcome", Role.TEXT),
        Column("HTTP", Role.COUNT),
        Column("Request-Id", Role.ID),
        Column("Detail", Role.TEXT),
    ]

    def build(e: EventRecord) -> tuple[Any, ...]:
        tail = (
            *time_pair(e.at),
            e.row_number,
            e.type,
            e.old_state,
            e.new_state,
            e.outcome,
            e.http_status,
            e.request_id,
            e.detail,
        )
        return (e.seq, e.run_id, *tail) if with_run else (e.seq, *tail)

    return columns, build
