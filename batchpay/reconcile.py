"""Pure reconciliation: journal records in, tables an accountant can trust out.

No I/O, no clock, no openpyxl: :mod:`batchpay.workbook.reconciliation` turns these tables
into cells. Every rule about what counts as *paid* lives here, so it is tested once.

Status classes (docs/safety.md invariant 5: nothing is shown paid unless DOKU said so)::

    PAID         COMPLETED, SUCCESS, CREATED, ACTIVE          successfully terminal
    PROGRESSING  PENDING … CONFIRMED (Payout Link), ACCEPTED  DOKU accepted it, not paid yet
    FAILED       FAILED, EXPIRED, REJECTED                    terminal failure
    UNKNOWN      UNKNOWN, SENDING, any state we do not know   may or may not have executed
    NOT_SENT     PLANNED, NOT_SENT                            never reached DOKU
    INVALID      INVALID                                      failed validation, never sent

Amounts are exact integers in minor units (amount × 100, as the journal stores them) and
:class:`~decimal.Decimal` in the tables; never floats.
"""

from __future__ import annotations

import re
from collections import defaultdict
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from decimal import Decimal
from enum import StrEnum
from typing import Any, NamedTuple, Protocol, overload

from batchpay import ledger_records as lr
from batchpay.config import TEST_ENVIRONMENT_BANNERS
from batchpay.doku.codes import ANSWER_MISMATCH, proves_not_executed_code
from batchpay.kinds import KINDS
from batchpay.ledger.model import CHANGED_AFTER_COMPLETION, DUPLICATE_REFERENCE
from batchpay.ledger_records import EventRecord, RowRecord, RunRecord
from batchpay.money import minor_to_decimal as minor_to_decimal


class StatusClass(StrEnum):
    """What a row's state means for the money."""

    PAID = "paid"
    PROGRESSING = "progressing"
    FAILED = "failed"
    UNKNOWN = "unknown"
    NOT_SENT = "not sent"
    INVALID = "invalid"


# "ACCEPTED" is what the runner may journal when DOKU acknowledged a request without a
# business status yet (STATUS_FILLS knows it); it is accepted, so progressing, never paid.
_PROGRESSING_STATES = (*lr.PAYOUT_LINK_PROGRESS, "ACCEPTED")

_CLASS_OF: dict[str, StatusClass] = {
    **dict.fromkeys(lr.SUCCESS_TERMINAL, StatusClass.PAID),
    **dict.fromkeys(_PROGRESSING_STATES, StatusClass.PROGRESSING),
    **dict.fromkeys(lr.FAILED_TERMINAL, StatusClass.FAILED),
    lr.UNKNOWN: StatusClass.UNKNOWN,
    lr.SENDING: StatusClass.UNKNOWN,
    lr.PLANNED: StatusClass.NOT_SENT,
    lr.NOT_SENT: StatusClass.NOT_SENT,
    lr.INVALID: StatusClass.INVALID,
}

# Display order of states: the life of a row, then the endings, good before bad.
STATE_ORDER: tuple[str, ...] = (
    *lr.SUCCESS_TERMINAL,
    *_PROGRESSING_STATES,
    lr.UNKNOWN,
    lr.SENDING,
    *lr.FAILED_TERMINAL,
    lr.PLANNED,
    lr.NOT_SENT,
    lr.INVALID,
)
CLASS_ORDER: tuple[StatusClass, ...] = tuple(StatusClass)

# DOKU acknowledged these rows (FAILED/EXPIRED links were accepted, then failed later);
# REJECTED means DOKU proved it did not execute, so it was never "sent" in this sense.
_ACCEPTED_STATES = frozenset((*lr.SUCCESS_TERMINAL, *_PROGRESSING_STATES, "FAILED", "EXPIRED"))

# The workbook shouts the same words the terminal uses.
ENVIRONMENT_BANNERS = {env: text.upper() for env, text in TEST_ENVIRONMENT_BANNERS.items()}


def classify(state: str) -> StatusClass:
    """The class of a journal state. A state this table does not know is UNKNOWN: it is
    never counted as paid (invariant 5)."""
    return _CLASS_OF.get(state, StatusClass.UNKNOWN)


def is_accepted(state: str) -> bool:
    """Whether DOKU acknowledged the request (it counts in "total sent")."""
    return state in _ACCEPTED_STATES


def environment_banner(env: str) -> str | None:
    """The loud line a test environment's report must carry, or None for production."""
    return ENVIRONMENT_BANNERS.get(env)


# --- which rows may be paid again ----------------------------------------------------------------

# FAILED/EXPIRED: DOKU executed the link/payout and it ended in failure. REJECTED: DOKU refused
# it — retryable only when the rejection proves nothing was executed (codes.py).
RETRY_CANDIDATE_STATES: tuple[str, ...] = ("FAILED", "EXPIRED", lr.REJECTED)
# A legacy row (journaled before rows had a code) names DOKU's code in its message.
_LEGACY_CODE = re.compile(r"\b[A-Z][A-Z0-9]*(?:_[A-Z0-9]+)+\b")
_LEGACY_HTTP = re.compile(r"\bHTTP (\d{3})\b")
_NEVER_RETRY_CODES = (DUPLICATE_REFERENCE, "REQUEST_ID_REUSED")


def changed_after_completion(row: RowRecord) -> bool:
    """DOKU changed this row's final status on a re-check (``status --recheck-final``)."""
    if row.code is not None:
        return row.code == CHANGED_AFTER_COMPLETION
    return (row.message or "").startswith(CHANGED_AFTER_COMPLETION.replace("-", " "))


def why_not_retryable(row: RowRecord, *, history: str = "") -> str | None:
    """``None`` when `retry-failed` may send this row again under a new Request-Id (docs/safety.md
    "Resolution" 3); otherwise why it may not.

    Only FAILED and EXPIRED (DOKU's terminal failure of a link/payout it executed) and a
    REJECTED row whose rejection proves nothing was executed
    (:func:`batchpay.doku.codes.proves_not_executed_code` of the row's code). A row DOKU
    changed after completion, or a link adopted after ``DUPLICATE_REFERENCE`` (it may belong to
    another run or journal), is never retried automatically. A row journaled before rows had a
    code falls back to the code its message (or ``history``, its events' details) names; one
    that mentions ``DUPLICATE_REFERENCE`` or ``REQUEST_ID_REUSED`` is never retried.
    """
    if row.state not in RETRY_CANDIDATE_STATES:
        return f"it is {row.state}, not FAILED, EXPIRED or REJECTED"
    text = f"{row.message or ''}\n{history}"
    if changed_after_completion(row):
        return ("DOKU changed its status after completion; check with DOKU's back office "
                "before paying it again")
    legacy = row.code is None
    if row.code in _NEVER_RETRY_CODES or (legacy and any(c in text for c in _NEVER_RETRY_CODES)):
        return ("DOKU said the reference already exists (DUPLICATE_REFERENCE) or the "
                "Request-Id was used: it may have been paid by another run or journal — check "
                "DOKU's back office; do not pay it again")
    if row.state != lr.REJECTED:
        return None
    if not legacy:
        if proves_not_executed_code(row.code):
            return None
        return (f"DOKU's answer ({row.code}) does not prove the request was not executed; "
                "check DOKU's back office before paying it again")
    message = row.message or ""
    codes = _LEGACY_CODE.findall(message) + [f"http-{n}" for n in _LEGACY_HTTP.findall(message)]
    if codes and all(proves_not_executed_code(c) for c in codes):
        return None
    return ("the journal does not show a DOKU code proving the request was not executed "
            f"({', '.join(codes) or 'no code recorded'}); check DOKU's back office before "
            "paying it again")


def is_retryable(row: RowRecord, *, history: str = "") -> bool:
    """Whether `retry-failed` offers this row (see :func:`why_not_retryable`)."""
    return why_not_retryable(row, history=history) is None


# --- summary ----------------------------------------------------------------------------------


@dataclass
class Bucket:
    """A count of rows and their amounts per currency, in minor units (exact)."""

    count: int = 0
    amounts: dict[str, int] = field(default_factory=dict)

    def add(self, currency: str, amount_minor: int | None) -> None:
        """Count one row; rows without an amount (account creation) only add to ``count``."""
        self.count += 1
        if amount_minor is not None:
            self.amounts[currency] = self.amounts.get(currency, 0) + amount_minor

    def merge(self, other: Bucket) -> None:
        """Add ``other`` into this bucket."""
        self.count += other.count
        for currency, minor in other.amounts.items():
            self.amounts[currency] = self.amounts.get(currency, 0) + minor

    def amount(self, currency: str) -> Decimal:
        """The exact amount in ``currency`` (0 when none)."""
        return minor_to_decimal(self.amounts.get(currency, 0))


@dataclass
class Summary:
    """Counts and amounts of a run (or of several runs) by state and by status class.

    ``sent`` = accepted by DOKU; ``paid`` = successfully terminal only; ``outstanding`` =
    progressing + unknown; ``failed`` = FAILED/EXPIRED/REJECTED.
    """

    rows: int = 0
    by_state: dict[str, Bucket] = field(default_factory=dict)
    by_class: dict[StatusClass, Bucket] = field(default_factory=dict)
    sent: Bucket = field(default_factory=Bucket)
    paid: Bucket = field(default_factory=Bucket)
    outstanding: Bucket = field(default_factory=Bucket)
    failed: Bucket = field(default_factory=Bucket)

    @property
    def currencies(self) -> list[str]:
        """Every currency with an amount, IDR first (the common case), then alphabetical."""
        found: set[str] = set()
        for bucket in self.by_state.values():
            found.update(bucket.amounts)
        return sorted(found, key=lambda c: (c != "IDR", c))

    def states(self) -> list[str]:
        """States present, in display order (unknown states last, alphabetically)."""
        rank = {s: i for i, s in enumerate(STATE_ORDER)}
        return sorted(self.by_state, key=lambda s: (rank.get(s, len(rank)), s))

    def headline(self) -> list[tuple[str, Bucket]]:
        """The four totals an accountant reads first, labelled."""
        return [
            ("Total sent (accepted by DOKU)", self.sent),
            ("Confirmed paid", self.paid),
            ("Outstanding (progressing + unknown)", self.outstanding),
            ("Failed", self.failed),
        ]

    def merge(self, other: Summary) -> None:
        """Add ``other`` (another run) into this summary."""
        self.rows += other.rows
        for state, bucket in other.by_state.items():
            self.by_state.setdefault(state, Bucket()).merge(bucket)
        for klass, bucket in other.by_class.items():
            self.by_class.setdefault(klass, Bucket()).merge(bucket)
        self.sent.merge(other.sent)
        self.paid.merge(other.paid)
        self.outstanding.merge(other.outstanding)
        self.failed.merge(other.failed)


def summarise(rows: Iterable[RowRecord]) -> Summary:
    """Counts and exact amounts per state, per class and the headline totals."""
    # Tally per state first (one dict hit per row), then fold states into classes: keeps the
    # per-row cost flat for 100k-row runs.
    per_state: dict[str, dict[str, list[int]]] = {}
    for row in rows:
        by_currency = per_state.get(row.state)
        if by_currency is None:
            by_currency = per_state[row.state] = {}
        tally = by_currency.get(row.currency)
        if tally is None:
            tally = by_currency[row.currency] = [0, 0, 0]  # rows, rows with amount, minor sum
        tally[0] += 1
        if row.amount_minor is not None:
            tally[1] += 1
            tally[2] += row.amount_minor

    summary = Summary()
    for state, by_currency in per_state.items():
        bucket = Bucket()
        for currency, (count, with_amount, minor) in by_currency.items():
            bucket.count += count
            if with_amount:
                bucket.amounts[currency] = bucket.amounts.get(currency, 0) + minor
        summary.rows += bucket.count
        summary.by_state[state] = bucket
        klass = classify(state)
        summary.by_class.setdefault(klass, Bucket()).merge(bucket)
        if is_accepted(state):
            summary.sent.merge(bucket)
        if klass is StatusClass.PAID:
            summary.paid.merge(bucket)
        elif klass in (StatusClass.PROGRESSING, StatusClass.UNKNOWN):
            summary.outstanding.merge(bucket)
        elif klass is StatusClass.FAILED:
            summary.failed.merge(bucket)
    return summary


# --- tables -----------------------------------------------------------------------------------


class Role(StrEnum):
    """How the workbook writes a column (no business rules there, only cell types)."""

    TEXT = "text"  # free text, written formula-safe
    ID = "id"  # identifier: text, leading zeros kept, never a number
    AMOUNT = "amount"  # Decimal amount, thousands format
    COUNT = "count"  # int
    STATUS = "status"  # a state name, coloured per state
    TIME = "time"  # ISO-8601 UTC text


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

    def __init__(self, source: Callable[[], Iterable[Any]],
                 build: Callable[[Any], tuple[Any, ...]]) -> None:
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


def _amount_decimals(runs: Iterable[RunRecord]) -> int:
    kinds = [KINDS.get(r.kind) for r in runs]
    return max((k.amount_decimals for k in kinds if k is not None), default=2)


class _KeyUnion:
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


def _ordered_union(keys_per_item: Iterable[Iterable[str]]) -> list[str]:
    union = _KeyUnion()
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


def rows_table(
    runs: Sequence[RunRecord], rows: Sequence[RowRecord], *, with_run: bool | None = None
) -> Table:
    """One line per journal row: Excel row number, every input column (extras too, in the
    sheet's order), normalised values, amount, Request-Id, DOKU ids, state and class, when
    DOKU last told us, sends/attempt and DOKU's last message.

    ``with_run`` adds a leading run-id column (default: when there is more than one run).
    """
    if with_run is None:
        with_run = len(runs) > 1
    input_cols = _ordered_union(r.input.keys() for r in rows)
    norm_cols = _ordered_union(r.normalised.keys() for r in rows)
    id_cols = _ordered_union(r.doku_ids.keys() for r in rows)
    columns, build = _rows_layout(_amount_decimals(runs), with_run, input_cols, norm_cols,
                                  id_cols)
    return Table(columns, LazyRows(rows, build))


def _rows_layout(
    decimals: int, with_run: bool, input_cols: list[str], norm_cols: list[str],
    id_cols: list[str],
) -> tuple[list[Column], Callable[[RowRecord], tuple[Any, ...]]]:
    """The Rows sheet's columns and the function making one line of a record."""
    columns: list[Column] = []
    if with_run:
        columns.append(Column("Run", Role.ID))
    columns.append(Column("Row", Role.COUNT))
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
        Column("Status", Role.STATUS),
        Column("Status class", Role.TEXT),
        Column("Last seen by DOKU (UTC)", Role.TIME),
        Column("Sends", Role.COUNT),
        Column("Attempt", Role.COUNT),
        Column("DOKU's last message", Role.TEXT),
        Column("Updated (UTC)", Role.TIME),
    ]
    _unique_headers(columns, sheet=range(first_input, first_input + len(input_cols)))

    dec = minor_to_decimal

    def build(r: RowRecord) -> tuple[Any, ...]:
        inp = r.input
        norm = r.normalised
        ids = r.doku_ids
        return (
            *((r.run_id,) if with_run else ()),
            r.row_number,
            *[inp.get(h) for h in input_cols],
            *[norm.get(f) for f in norm_cols],
            None if r.amount_minor is None else dec(r.amount_minor),
            r.currency,
            r.reference,
            r.source_account,
            r.request_id,
            *[ids.get(k) for k in id_cols],
            r.state,
            classify(r.state).value,
            r.last_seen_at,
            r.sends,
            r.attempt,
            r.message,
            r.updated_at,
        )

    return columns, build


class _Attempt(Protocol):
    """What a failed row's next action needs of the attempt that retried it."""

    @property
    def run_id(self) -> str: ...
    @property
    def attempt(self) -> int: ...
    @property
    def state(self) -> str: ...


class Attempt(NamedTuple):
    """A row attempt reduced to what :func:`next_action` reads of ``retried_by``."""

    run_id: str
    attempt: int
    state: str


class _LatestAttempts:
    """Latest attempt per reference (the first seen wins a tie), fed one row at a time;
    holds small shared tuples, not records."""

    def __init__(self) -> None:
        self.by_reference: dict[str, Attempt] = {}
        self._shared: dict[Attempt, Attempt] = {}

    def add(self, r: RowRecord) -> None:
        seen = self.by_reference.get(r.reference)
        if seen is None or r.attempt > seen.attempt:
            key = Attempt(r.run_id, r.attempt, r.state)
            self.by_reference[r.reference] = self._shared.setdefault(key, key)


def next_action(
    row: RowRecord, run: RunRecord | None = None, *, retried_by: _Attempt | None = None
) -> str:
    """What the operator does next for a row that is not successfully terminal (or whose
    final status DOKU changed after completion). Only a row :func:`why_not_retryable` allows
    is ever pointed at `retry-failed`."""
    run_id = row.run_id
    state = row.state
    klass = classify(state)
    said = f" DOKU said: {row.message}." if row.message else ""
    changed = ("Changed after completion: DOKU changed this row's final status (see the Events "
               "sheet). " if changed_after_completion(row) else "")
    if klass is StatusClass.PAID:
        if changed:
            return (f"{changed}It is {state} now: nothing to pay. If it was retried meanwhile, "
                    "check with DOKU's back office that it was not paid twice.")
        return "Nothing: paid."
    if klass is StatusClass.PROGRESSING:
        return (f"{changed}Wait: DOKU accepted it and it is {state}, not paid yet. "
                f"Run `batchpay status {run_id}` to refresh.")
    if klass is StatusClass.FAILED:
        if retried_by is not None:
            return (f"{changed}Already retried in run {retried_by.run_id} (attempt "
                    f"{retried_by.attempt}, now {retried_by.state}); see that row.{said}")
        blocker = why_not_retryable(row)
        if blocker is not None:
            return (f"{changed}Do NOT retry or pay this row again: {blocker} (Request-Id "
                    f"{row.request_id}, reference {row.reference}).{said}")
        return f"Fix the cause, then `batchpay retry-failed {run_id}`.{said}"
    if klass is StatusClass.NOT_SENT:
        if run is not None and run.dry_run:
            return ("Dry run: nothing was sent. Run the sheet without --dry-run to pay it.")
        return f"Not sent yet: run `batchpay resume {run_id}`."
    if klass is StatusClass.INVALID:
        where = f"row {row.row_number}" + (f" of {run.input_name}" if run is not None else "")
        why = f" ({row.message})" if row.message else ""
        return f"Fix {where} in the sheet{why}, then run the corrected sheet; it was never sent."
    # UNKNOWN, SENDING, or a state we do not know: may or may not have executed.
    if row.code == DUPLICATE_REFERENCE or (row.code is None
                                           and DUPLICATE_REFERENCE in (row.message or "")):
        return (f"Do NOT pay this row again: DOKU already holds reference {row.reference} "
                "(DUPLICATE_REFERENCE) — another run or journal may have paid it. Check DOKU's "
                f"back office before doing anything (Request-Id {row.request_id}).{said}")
    if row.code == ANSWER_MISMATCH:
        return (f"Do not pay this row by other means: DOKU's answer was about another payment "
                f"(answer-mismatch). Run `batchpay resume {run_id}` to ask again; if it is "
                f"still unknown, contact DOKU with Request-Id {row.request_id} "
                f"(reference {row.reference}).{said}")
    return (f"Do not pay this row by other means. Run `batchpay resume {run_id}`; if it is "
            f"still unknown, contact DOKU with Request-Id {row.request_id} "
            f"(reference {row.reference}).{said}")


def exceptions_table(
    runs: Sequence[RunRecord],
    rows: Sequence[RowRecord],
    *,
    with_run: bool | None = None,
    retries: Sequence[RowRecord] = (),
) -> Table:
    """Every row that is not successfully terminal (or changed after completion), with what
    to do next.

    A failed row that a later attempt covers (a retry-failed run's row, in ``rows`` or in
    ``retries``) says so, instead of asking for another retry.
    """
    if with_run is None:
        with_run = len(runs) > 1
    # Latest attempt per reference, to point failed rows at their retry.
    latest: dict[str, RowRecord] = {}
    for r in (*rows, *retries):
        seen = latest.get(r.reference)
        if seen is None or r.attempt > seen.attempt:
            latest[r.reference] = r
    columns, build = _exceptions_layout(runs, with_run, latest)
    not_paid = [r for r in rows if is_exception(r)]
    return Table(columns, LazyRows(not_paid, build))


def is_exception(row: RowRecord) -> bool:
    """On the Exceptions sheet: every row not paid, and every row whose final status DOKU
    changed after completion (even back to paid)."""
    return classify(row.state) is not StatusClass.PAID or changed_after_completion(row)


def _exceptions_layout(
    runs: Sequence[RunRecord], with_run: bool, latest: Mapping[str, _Attempt]
) -> tuple[list[Column], Callable[[RowRecord], tuple[Any, ...]]]:
    """The Exceptions sheet's columns and the function making one line of a record."""
    run_by_id = {r.run_id: r for r in runs}
    decimals = _amount_decimals(runs)
    columns: list[Column] = []
    if with_run:
        columns.append(Column("Run", Role.ID))
    columns += [
        Column("Row", Role.COUNT),
        Column("Reference", Role.ID),
        Column("Amount", Role.AMOUNT, decimals),
        Column("Currency", Role.TEXT),
        Column("Status", Role.STATUS),
        Column("Status class", Role.TEXT),
        Column("Request-Id", Role.ID),
        Column("DOKU's last message", Role.TEXT),
        Column("What to do next", Role.TEXT),
        Column("Last seen by DOKU (UTC)", Role.TIME),
    ]
    def build(r: RowRecord) -> tuple[Any, ...]:
        retry = latest.get(r.reference)
        retried_by = retry if retry is not None and retry.attempt > r.attempt else None
        return (
            *((r.run_id,) if with_run else ()),
            r.row_number,
            r.reference,
            None if r.amount_minor is None else minor_to_decimal(r.amount_minor),
            r.currency,
            r.state,
            classify(r.state).value,
            r.request_id,
            r.message,
            next_action(r, run_by_id.get(r.run_id), retried_by=retried_by),
            r.last_seen_at,
        )

    return columns, build


def events_table(events: Sequence[EventRecord], *, with_run: bool = False) -> Table:
    """The audit trail, in journal order: each event with the transition and what DOKU
    answered when the event is a row transition."""
    columns, build = _events_layout(with_run)
    ordered = sorted(events, key=lambda e: (e.run_id, e.seq)) if with_run else events
    return Table(columns, LazyRows(ordered, build))


def _events_layout(with_run: bool
                   ) -> tuple[list[Column], Callable[[EventRecord], tuple[Any, ...]]]:
    columns: list[Column] = [Column("Seq", Role.COUNT)]
    if with_run:
        columns.append(Column("Run", Role.ID))
    columns += [
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
        tail = (e.at, e.row_number, e.type, e.old_state, e.new_state, e.outcome,
                e.http_status, e.request_id, e.detail)
        return (e.seq, e.run_id, *tail) if with_run else (e.seq, *tail)

    return columns, build


# --- one run, several runs --------------------------------------------------------------------


@dataclass
class RunReport:
    """A run with its own summary."""

    run: RunRecord
    summary: Summary


@dataclass
class Reconciliation:
    """Everything the workbook shows, computed from the records alone."""

    runs: list[RunReport]
    totals: dict[str, Summary]  # per environment: test money never adds up with real money
    rows: Table
    exceptions: Table
    events: Table

    @property
    def is_month(self) -> bool:
        return len(self.runs) > 1

    @property
    def banners(self) -> list[str]:
        """One loud line per test environment present (none for production only)."""
        out: list[str] = []
        for env in self.totals:
            banner = environment_banner(env)
            if banner is not None:
                out.append(banner)
        return out


def group_rows(rows: Iterable[RowRecord]) -> dict[str, list[RowRecord]]:
    """Rows per run id, in their given order."""
    grouped: dict[str, list[RowRecord]] = defaultdict(list)
    for r in rows:
        grouped[r.run_id].append(r)
    return grouped


def reconcile(
    runs: Sequence[RunRecord],
    rows: Sequence[RowRecord] | Mapping[str, Sequence[RowRecord]],
    events: Sequence[EventRecord] = (),
    *,
    retries: Sequence[RowRecord] = (),
) -> Reconciliation:
    """Summaries, rows, exceptions and events for one run or several (a month).

    ``rows`` is either a flat list (each row carries its run id) or a mapping run id → rows.
    ``retries`` are rows of later retry-failed runs not reported here: they only let a failed
    row say it was already retried (they count nowhere).
    Rows are ordered by run (as ``runs`` lists them), then Excel row number, then attempt.
    """
    if not runs:
        raise ValueError("reconcile needs at least one run")
    by_run = (
        {k: list(v) for k, v in rows.items()} if isinstance(rows, Mapping) else group_rows(rows)
    )
    known = {r.run_id for r in runs}
    stray = sorted(set(by_run) - known)
    if stray:
        raise ValueError(f"rows of runs not given: {', '.join(stray)}")

    ordered: list[RowRecord] = []
    reports: list[RunReport] = []
    totals: dict[str, Summary] = {}
    for run in runs:
        run_rows = by_run.get(run.run_id, [])
        # The journal usually hands rows out in order already; sorting a sorted list is O(n).
        run_rows.sort(key=lambda r: (r.row_number, r.attempt))
        ordered += run_rows
        summary = summarise(run_rows)
        reports.append(RunReport(run, summary))
        totals.setdefault(run.env, Summary()).merge(summary)

    month = len(runs) > 1
    return Reconciliation(
        runs=reports,
        totals=totals,
        rows=rows_table(runs, ordered, with_run=month),
        exceptions=exceptions_table(runs, ordered, with_run=month, retries=retries),
        events=events_table(events, with_run=month),
    )


def reconcile_run_stream(
    run: RunRecord,
    rows: Callable[[bool], Iterable[RowRecord]],
    events: Callable[[], Iterable[EventRecord]],
    *,
    retries: Iterable[RowRecord] = (),
) -> Reconciliation:
    """:func:`reconcile` of one run whose records are read afresh on every pass, never all
    held (a 100,000-row run's records take ~350 MB; issue 5, item 4).

    ``rows(data)`` yields the run's rows in (row number, attempt) order, each time the same;
    ``data=False`` may leave ``input`` and ``normalised`` empty (the Exceptions sheet and
    the summary do not read them). ``events()`` yields the run's events in journal order.
    One pass here computes the summary, the Rows sheet's columns and the latest attempt per
    reference; the workbook then reads each table again to measure and to write it.
    The tables are the ones :func:`reconcile` makes of the same records.
    """
    inputs, norms, ids = _KeyUnion(), _KeyUnion(), _KeyUnion()
    latest = _LatestAttempts()

    def first_pass() -> Iterator[RowRecord]:
        for r in rows(True):
            inputs.add(r.input.keys())
            norms.add(r.normalised.keys())
            ids.add(r.doku_ids.keys())
            latest.add(r)
            yield r

    summary = summarise(first_pass())
    for r in retries:
        latest.add(r)
    runs = [run]
    row_columns, row_build = _rows_layout(_amount_decimals(runs), False, inputs.keys(),
                                          norms.keys(), ids.keys())
    exc_columns, exc_build = _exceptions_layout(runs, False, latest.by_reference)
    event_columns, event_build = _events_layout(False)

    def not_paid() -> Iterator[RowRecord]:
        return (r for r in rows(False) if is_exception(r))

    totals = {run.env: Summary()}
    totals[run.env].merge(summary)
    return Reconciliation(
        runs=[RunReport(run, summary)],
        totals=totals,
        rows=Table(row_columns, Replay(lambda: rows(True), row_build)),
        exceptions=Table(exc_columns, Replay(not_paid, exc_build)),
        events=Table(event_columns, Replay(events, event_build)),
    )
