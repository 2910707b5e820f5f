"""Sub Account balances across a month: opening, money out, transfers, closing — from the
balance snapshots the runs layer journals as events (before the first send and after the
run settles; :func:`snapshot_detail`), and the month's counted rows.

What the snapshots cannot explain (DOKU's fees, top-ups, payments received, anything done
outside batchpay) is shown as "Other movements", never hidden. Pure: no I/O.
"""

from __future__ import annotations

import json
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

from batchpay.journal.records import EventRecord, RowRecord, RunRecord
from batchpay.money import minor_to_decimal
from batchpay.reconcile.classes import StatusClass, classify
from batchpay.reconcile.effective import Money, money_of
from batchpay.reconcile.tables import Column, Role, Table
from batchpay.reconcile.times import both as time_pair

SNAPSHOT = "balance-snapshot"
SNAPSHOT_FAILED = "balance-snapshot-failed"
BEFORE, AFTER = "before", "after"


def snapshot_detail(phase: str, account: str, available_minor: int, at: str) -> str:
    """The detail of a ``balance-snapshot`` event (the shared contract of issue 11)."""
    return json.dumps(
        {
            "phase": phase,
            "account": account,
            "available_minor": available_minor,
            "currency": "IDR",
            "at": at,
        },
        sort_keys=True,
    )


@dataclass(frozen=True)
class Snapshot:
    run_id: str
    phase: str
    account: str
    available_minor: int
    currency: str
    at: str


def read_snapshots(events: Iterable[EventRecord]) -> tuple[list[Snapshot], list[EventRecord]]:
    """The readable balance snapshots, and the events saying a balance could not be read."""
    found: list[Snapshot] = []
    failed: list[EventRecord] = []
    for e in events:
        if e.type == SNAPSHOT_FAILED:
            failed.append(e)
        if e.type != SNAPSHOT:
            continue
        try:
            d = json.loads(e.detail)
            found.append(
                Snapshot(
                    e.run_id,
                    str(d["phase"]),
                    str(d["account"]),
                    int(d["available_minor"]),
                    str(d.get("currency") or "IDR"),
                    str(d.get("at") or e.at),
                )
            )
        except (ValueError, KeyError, TypeError):
            failed.append(e)  # an unreadable snapshot is as good as none: say so
    return found, failed


@dataclass
class AccountBalance:
    """One Sub Account over the month (minor units)."""

    env: str
    account: str
    opening: Snapshot | None = None
    closing: Snapshot | None = None
    money_out: int = 0
    transfers_out: int = 0
    transfers_in: int = 0
    unread: int = 0  # snapshots that could not be taken

    @property
    def expected_closing(self) -> int | None:
        if self.opening is None:
            return None
        moved = self.money_out + self.transfers_out - self.transfers_in
        return self.opening.available_minor - moved

    @property
    def other(self) -> int | None:
        expected = self.expected_closing
        if expected is None or self.closing is None:
            return None
        return self.closing.available_minor - expected


def account_balances(
    runs: Iterable[RunRecord], events: Iterable[EventRecord], counted: Iterable[RowRecord]
) -> list[AccountBalance]:
    """Every Sub Account with a snapshot in the month's events, with the counted (paid
    once) payouts and transfers that moved its money."""
    env_of = {r.run_id: r.env for r in runs}
    kind_of = {r.run_id: r.kind for r in runs}
    found, failed = read_snapshots(events)
    accounts: dict[tuple[str, str], AccountBalance] = {}
    for s in sorted(found, key=lambda s: s.at):
        env = env_of.get(s.run_id, "")
        acc = accounts.setdefault((env, s.account), AccountBalance(env, s.account))
        if s.phase == BEFORE and acc.opening is None:
            acc.opening = s
        elif s.phase == AFTER:
            acc.closing = s
    for e in failed:
        unread = accounts.get((env_of.get(e.run_id, ""), _account_in(e.detail)))
        if unread is not None:
            unread.unread += 1
    for r in counted:
        if classify(r.state) is not StatusClass.PAID or r.amount_minor is None:
            continue
        env, money = env_of.get(r.run_id, ""), money_of(kind_of.get(r.run_id, ""))
        source = accounts.get((env, r.source_account or ""))
        if money is Money.OUT and source is not None:
            source.money_out += r.amount_minor
        elif money is Money.TRANSFER:
            if source is not None:
                source.transfers_out += r.amount_minor
            target = accounts.get((env, r.normalised.get("destination", "")))
            if target is not None:
                target.transfers_in += r.amount_minor
    return sorted(accounts.values(), key=lambda a: (a.env, a.account))


def _account_in(detail: str) -> str:
    try:
        value = json.loads(detail).get("account")
    except (ValueError, AttributeError):
        return ""
    return str(value or "")


BALANCE_COLUMNS = [
    Column("Sub Account", Role.ID),
    Column("Environment", Role.TEXT),
    Column("Opening balance", Role.AMOUNT),
    Column("Opening at (WIB)", Role.TIME),
    Column("Opening at (UTC)", Role.TIME),
    Column("Money out (paid)", Role.AMOUNT),
    Column("Transfers out", Role.AMOUNT),
    Column("Transfers in", Role.AMOUNT),
    Column("Expected closing", Role.AMOUNT),
    Column("Closing balance", Role.AMOUNT),
    Column("Closing at (WIB)", Role.TIME),
    Column("Closing at (UTC)", Role.TIME),
    Column("Other movements (fees, top-ups, outside batchpay)", Role.AMOUNT),
    Column("Note", Role.TEXT),
]


def balances_table(balances: list[AccountBalance]) -> Table:
    """The Balances sheet: one line per Sub Account (IDR, as DOKU keeps them)."""
    return Table(list(BALANCE_COLUMNS), [_balance_line(b) for b in balances])


def _amount(minor: int | None) -> Any:
    return None if minor is None else minor_to_decimal(minor)


def _balance_line(b: AccountBalance) -> tuple[Any, ...]:
    notes: list[str] = []
    if b.opening is None:
        notes.append("no opening snapshot")
    if b.closing is None:
        notes.append("no closing snapshot (a run did not settle, or the read failed)")
    if b.unread:
        notes.append(f"{b.unread} balance read(s) failed (see Events)")
    opening_at = time_pair(b.opening.at if b.opening else None)
    closing_at = time_pair(b.closing.at if b.closing else None)
    return (
        b.account,
        b.env,
        _amount(b.opening.available_minor if b.opening else None),
        *opening_at,
        _amount(b.money_out),
        _amount(b.transfers_out),
        _amount(b.transfers_in),
        _amount(b.expected_closing),
        _amount(b.closing.available_minor if b.closing else None),
        *closing_at,
        _amount(b.other),
        "; ".join(notes) or None,
    )
