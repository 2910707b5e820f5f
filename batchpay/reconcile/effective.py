"""One effective outcome per reference: a row and its retries are one chain, and only the
chain's latest attempt counts (issue 11: "failed, then paid on retry, counts as paid, once,
with both runs named").

A retry-failed run is linked to its parent (``parent_run_id``) and keeps each row's Excel
row number (a Payout Link retry changes the reference to ``X-R2``), so a chain is
``(the first run of the line of retries, row number)``. Also here: what kind of money a
run moves — money out, transfers between our own Sub Accounts, or none (account creation).
"""

from __future__ import annotations

from collections.abc import Hashable, Iterable
from enum import StrEnum

from batchpay.journal.records import RowRecord, RunRecord
from batchpay.reconcile.exceptions import LatestAttempts


class Money(StrEnum):
    """What a run does with money; the month report never adds one to another."""

    OUT = "money out"  # payouts and payout links: money leaves us
    TRANSFER = "internal transfer"  # between our own Sub Accounts: stays ours
    NONE = "no money"  # account creation


_MONEY: dict[str, Money] = {
    "payout-link": Money.OUT,
    "sub-account-payout": Money.OUT,
    "sub-account-transfer": Money.TRANSFER,
    "sub-account-create": Money.NONE,
}


def money_of(kind: str) -> Money:
    """The money class of a kind; a kind this table does not know counts as money out (the
    cautious side: it is never hidden among internal movements)."""
    return _MONEY.get(kind, Money.OUT)


class Chains:
    """Runs linked by retries, and the latest attempt of every chain seen so far."""

    def __init__(self, runs: Iterable[RunRecord]) -> None:
        parent = {r.run_id: r.parent_run_id for r in runs}
        self.root_of: dict[str, str] = {}
        self.children: dict[str, list[str]] = {}
        for run_id, up in parent.items():
            if up is not None:
                self.children.setdefault(up, []).append(run_id)
            root, seen = run_id, {run_id}
            while (above := parent.get(root)) is not None and above not in seen:
                seen.add(above)
                root = above
            self.root_of[run_id] = root
        self.latest = LatestAttempts(self.key)

    def key(self, row: RowRecord) -> Hashable:
        return (self.root_of.get(row.run_id, row.run_id), row.row_number)

    def add(self, rows: Iterable[RowRecord]) -> None:
        for r in rows:
            self.latest.add(r)

    def superseded_by(self, row: RowRecord) -> tuple[str, int, str] | None:
        """``(run id, attempt, state)`` of the later attempt that replaces ``row`` in the
        totals, or None when ``row`` is its chain's effective outcome."""
        last = self.latest.by_chain.get(self.key(row))
        if last is None or last.attempt <= row.attempt:
            return None
        return last.run_id, last.attempt, last.state
