"""Counts and exact amounts of a run (or of several), by state, by status class and the four
headline totals. Amounts are integers in minor units here and :class:`~decimal.Decimal` when
read; never floats."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from decimal import Decimal

from batchpay.journal.records import RowRecord
from batchpay.money import minor_to_decimal
from batchpay.reconcile.classes import STATE_ORDER, StatusClass, classify, is_accepted


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
