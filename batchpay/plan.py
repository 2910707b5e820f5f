"""Planning a run: a validated sheet → the exact requests that will be sent, and the checks
that must pass before the first one is (docs/safety.md §8, "The journal").

Pure except :func:`find_repeats` (reads the journal) and :func:`preflight_balances` (asks
DOKU for balances — a read, never a money-moving call).
"""

from __future__ import annotations

import re
from collections import defaultdict
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from decimal import Decimal, InvalidOperation
from pathlib import Path
from typing import TYPE_CHECKING, Any, overload

from batchpay.errors import DokuAuthError, DokuUnavailable, RunError, UsageError
from batchpay.kinds import KINDS, Kind, build_body
from batchpay.ledger import Ledger, NewRow, Repeat
from batchpay.ledger import RepeatedReferences as RepeatedReferences  # re-exported
from batchpay.money import format_minor

if TYPE_CHECKING:
    import pandas as pd

    from batchpay.config import Settings
    from batchpay.doku.client import DokuClient
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


@dataclass(frozen=True)
class Shortfall:
    account_id: str
    need_minor: int
    available_minor: int | None  # None: the balance could not be read (message says why)
    message: str = ""


class InsufficientBalance(RunError):
    """A source Sub Account cannot cover its rows; nothing was sent."""

    def __init__(self, shortfalls: list[Shortfall]) -> None:
        self.shortfalls = shortfalls
        lines = []
        for s in shortfalls:
            have = (format_minor(s.available_minor) if s.available_minor is not None
                    else "unknown")
            lines.append(f"{s.account_id}: needs {format_minor(s.need_minor)}, available "
                         f"{have}" + (f" ({s.message})" if s.message else ""))
        super().__init__(
            "the balance check failed, nothing was sent:\n  " + "\n  ".join(lines),
            hint="top up these Sub Accounts (or split the sheet) and run again",
        )


class TotalMismatch(RunError):
    """--expect-total (or the typed confirmation) does not match the plan."""


# --- building the plan --------------------------------------------------------------------


def plan(result: ValidationResult, *, env: str) -> Plan:
    """The rows to send, with their exact bodies, from a validation result without errors."""
    if not result.ok:
        raise RunError("the sheet has errors; fix them before planning a run",
                       hint="run `batchpay validate` to see them")
    table = result.table
    kind = table.kind
    headers = {name: header for name, header in table.field_headers.items()}
    input_columns = [c for c in table.frame.columns
                     if c in headers or c in table.extra_columns]
    rows = PlannedRows(
        kind,
        [int(str(r)) for r in result.normalised.index.tolist()],
        [(headers.get(str(c), str(c)), table.frame[c]) for c in input_columns],
        [(name, result.normalised[name]) for name in kind.field_names
         if name in result.normalised.columns],
        result.normalised["amount_minor"].tolist()
        if kind.amount_field and "amount_minor" in result.normalised.columns else None,
    )
    totals: dict[str, int] = defaultdict(int)
    by_source: dict[str, int] = defaultdict(int)
    for currency, source, amount_minor in zip(rows.currencies, rows.sources, rows.amounts,
                                              strict=True):
        if amount_minor is not None:
            totals[currency] += amount_minor
            if source:
                by_source[source] += amount_minor
    return Plan(kind=kind, env=env, input_path=Path(table.source.path),
                input_sha256=table.source.sha256, rows=rows, totals=dict(totals),
                by_source=dict(by_source))


class PlannedRows(Sequence[NewRow]):
    """A plan's rows, built as they are read rather than held all at once.

    Each :class:`NewRow` carries two dicts (the row as read, the row normalised) that the
    journal stores once and nothing else needs; for 100,000 rows they would be ~300 MB held
    for the whole run. Here only the bodies (built, and so checked, when planning) and a few
    scalars per row are kept; the dicts are rebuilt from the validation result's own columns
    on each pass, a few thousand rows at a time.
    """

    _CHUNK = 4096

    def __init__(self, kind: Kind, row_numbers: list[int],
                 input_columns: list[tuple[str, pd.Series]],
                 normalised_columns: list[tuple[str, pd.Series]],
                 amounts: list[int] | None) -> None:
        self.kind = kind
        self.row_numbers = row_numbers
        self._input_columns = input_columns
        self._normalised_columns = normalised_columns
        n = len(row_numbers)
        self.references: list[str] = []
        self.currencies: list[str] = []
        self.sources: list[str | None] = []
        self.bodies: list[bytes] = []
        self.amounts: list[int | None] = ([int(a) for a in amounts] if amounts is not None
                                          else [None] * n)
        source_field = kind.source_field()
        for start in range(0, n, self._CHUNK):
            for i, normalised in enumerate(self._normalised(start, min(n, start + self._CHUNK)),
                                           start):
                self.references.append(normalised[kind.reference_field] if kind.reference_field
                                       else str(row_numbers[i]))
                self.currencies.append((normalised.get("currency") or "IDR").upper())
                self.sources.append((normalised.get(source_field) or None) if source_field
                                    else None)
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
            NewRow(row_number=self.row_numbers[i], reference=self.references[i],
                   amount_minor=self.amounts[i], currency=self.currencies[i],
                   source_account=self.sources[i], input=inp, normalised=norm,
                   body=self.bodies[i])
            for i, inp, norm in zip(range(start, stop), self._inputs(start, stop),
                                    self._normalised(start, stop), strict=True)
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


def retry_reference(kind: Kind, reference: str, parent_attempt: int, attempt: int) -> str:
    """The reference a retried row is sent with.

    Payout Link: DOKU's ``reference_id`` is unique per merchant (docs/doku-api.md §4) and a
    FAILED/EXPIRED link has used it up, so attempt *n* sends ``<original>-R<n>`` (the
    original is recovered by removing the previous attempt's suffix). Sub Account rows keep
    their invoice number / email: the rows retried there were REJECTED, which DOKU proved it
    never executed, and the accountant reconciles by invoice number.
    """
    if kind.product != "payout-link":
        return reference
    base = reference
    suffix = f"-R{parent_attempt}"
    if parent_attempt > 1 and base.endswith(suffix):
        base = base[: -len(suffix)]
    return f"{base}-R{attempt}"


# --- checks before sending ----------------------------------------------------------------


def find_repeats(ledger: Ledger, the_plan: Plan, *, exclude_run_ids: tuple[str, ...] = ()
                 ) -> list[Repeat]:
    """References of the plan an earlier run already used (see
    :meth:`Ledger.reference_seen` for which states count), compared on
    :func:`~batchpay.references.reference_key`: ``bonus-nov-0001`` repeats ``BONUS-NOV-0001``.
    An early, friendly check: the binding one is repeated inside
    :meth:`Ledger.create_run`'s transaction."""
    return ledger.repeats(the_plan.kind.name, the_plan.env, the_plan.rows,
                          exclude_run_ids=exclude_run_ids)


def preflight_balances(client: DokuClient, the_plan: Plan) -> list[Shortfall]:
    """Per source Sub Account, what the sheet needs vs what DOKU says is available. DOKU
    rejects a payout on a short balance rather than queueing it (docs/doku-api.md §5), so a
    shortfall found now saves a half-paid batch. Empty list = every account covers its rows.
    """
    shortfalls: list[Shortfall] = []
    for account_id, need in sorted(the_plan.by_source.items()):
        outcome = client.balance(account_id)
        if outcome.auth_failed:
            raise DokuAuthError(f"DOKU refused the balance request: {outcome.message}")
        if outcome.klass != "accepted" or not outcome.data:
            if outcome.not_found:
                shortfalls.append(Shortfall(account_id, need, None,
                                            "DOKU does not know this Sub Account"))
                continue
            raise DokuUnavailable(
                f"could not read the balance of {account_id}: {outcome.message}",
                hint="nothing was sent; try again in a moment")
        available = _available_minor(outcome.data)
        if available is None:
            raise DokuUnavailable(f"DOKU's balance answer for {account_id} has no readable "
                                  "available balance; nothing was sent")
        if available < need:
            shortfalls.append(Shortfall(account_id, need, available))
    return shortfalls


def _available_minor(data: dict[str, Any]) -> int | None:
    balance = data.get("balance")
    if not isinstance(balance, dict):
        return None
    try:
        return int(Decimal(str(balance.get("available"))) * 100)
    except (InvalidOperation, ValueError):
        return None


_GROUPED = re.compile(r"\d{1,3}([.,])\d{3}(\1\d{3})*")
_PLAIN = re.compile(r"\d+(\.\d{1,2})?")


def parse_amount(text: str) -> int:
    """An operator-typed total → minor units. Accepts ``1500000``, ``1500000.50``,
    ``1,500,000`` and ``1.500.000`` (one separator used consistently as thousands grouping),
    with an optional ``Rp``/``IDR``; anything else is refused rather than guessed."""
    cleaned = re.sub(r"(?i)^\s*(rp\.?|idr)\s*", "", text).replace(" ", "").replace("_", "")
    if _GROUPED.fullmatch(cleaned):
        cleaned = cleaned.replace(",", "").replace(".", "")
    elif not _PLAIN.fullmatch(cleaned):
        raise UsageError(f"{text!r} is not an amount",
                         hint="type digits, e.g. 152500000 or 152,500,000")
    return int(Decimal(cleaned) * 100)


def check_expected_total(the_plan: Plan, expected: str) -> None:
    """Stop unless ``expected`` equals the plan's total (one currency only)."""
    if len(the_plan.totals) > 1:
        raise TotalMismatch("this sheet mixes currencies "
                            f"({', '.join(sorted(the_plan.totals))}); one total cannot confirm "
                            "it — split the sheet by currency")
    total = sum(the_plan.totals.values())
    if parse_amount(expected) != total:
        raise TotalMismatch(
            f"the expected total {expected} does not match the sheet's total "
            f"{format_minor(total)}; nothing was sent",
            hint="check the sheet (or the number you typed) and run again")


# --- dry run ------------------------------------------------------------------------------


def sign_all(the_plan: Plan, request_ids: dict[int, str], settings: Settings,
             clock: Callable[[], datetime]) -> int:
    """Build and sign every request exactly as :class:`DokuClient` would, without sending
    (``--dry-run`` exercises the signing path and credentials format). Returns the count."""
    from batchpay.doku import signing

    scheme: signing.Scheme = (settings.payout_link_signature
                              if the_plan.kind.product == "payout-link" else "hmac-sha256")
    timestamp = signing.format_timestamp(clock())
    secret = settings.secret_key.reveal()
    for row in the_plan.rows:
        signature = signing.sign_request(
            scheme=scheme, secret_key=secret, client_id=settings.client_id,
            request_id=request_ids[row.row_number], timestamp=timestamp, method="POST",
            target=the_plan.kind.path, body=row.body)
        if not signature:  # pragma: no cover - sign_request always returns text
            raise RunError(f"row {row.row_number}: signing produced nothing")
    return len(the_plan.rows)


def kind_named(name: str) -> Kind:
    return KINDS[name]
