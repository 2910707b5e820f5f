"""The checks a plan must pass before its first request is sent (docs/safety.md §4, §8).

* :func:`find_repeats` — references an earlier run already used (reads the journal);
* :func:`preflight_balances` — per source Sub Account, need vs available (asks DOKU for
  balances: a read, never a money-moving call);
* :func:`check_expected_total` — the operator's ``--expect-total`` (or typed total);
* :func:`check_input` — a run is bound to its input file's SHA-256 (resume);
* :func:`balance_snapshots` — journal source Sub Account balances before the first send and
  after the run settles (the month report's opening and closing balances).
"""

from __future__ import annotations

import hashlib
import json
import re
from datetime import UTC, datetime
from decimal import Decimal, InvalidOperation
from pathlib import Path
from typing import TYPE_CHECKING, Any

from batchpay.errors import (
    DokuAuthError,
    DokuUnavailable,
    InputChanged,
    Shortfall,
    TotalMismatch,
    UsageError,
)
from batchpay.journal import Repeat
from batchpay.kinds import KINDS
from batchpay.money import format_minor
from batchpay.reconcile import AFTER, SNAPSHOT, SNAPSHOT_FAILED, snapshot_detail

if TYPE_CHECKING:
    from batchpay.doku.client import DokuClient
    from batchpay.journal import Journal, RunRecord
    from batchpay.runs.plan import Plan


def find_repeats(
    ledger: Journal, the_plan: Plan, *, exclude_run_ids: tuple[str, ...] = ()
) -> list[Repeat]:
    """References of the plan an earlier run already used (see
    :meth:`Journal.reference_seen` for which states count), compared on
    :func:`~batchpay.references.reference_key`: ``bonus-nov-0001`` repeats ``BONUS-NOV-0001``.
    An early, friendly check: the binding one is repeated inside
    :meth:`Journal.create_run`'s transaction."""
    return ledger.repeats(
        the_plan.kind.name, the_plan.env, the_plan.rows, exclude_run_ids=exclude_run_ids
    )


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
                shortfalls.append(
                    Shortfall(account_id, need, None, "DOKU does not know this Sub Account")
                )
                continue
            raise DokuUnavailable(
                f"could not read the balance of {account_id}: {outcome.message}",
                hint="nothing was sent; try again in a moment",
            )
        available = _available_minor(outcome.data)
        if available is None:
            raise DokuUnavailable(
                f"DOKU's balance answer for {account_id} has no readable "
                "available balance; nothing was sent"
            )
        if available < need:
            shortfalls.append(Shortfall(account_id, need, available))
    return shortfalls


def balance_snapshots(ledger: Journal, client: DokuClient, run_id: str, phase: str) -> None:
    """Journal the available balance of each source Sub Account of a Sub Account payout or
    transfer run as a ``balance-snapshot`` event: ``phase`` "before" its first send, "after"
    it settles (nothing while rows are still open). A balance that cannot be read is a
    ``balance-snapshot-failed`` event: it never stops a run (only reads, never money)."""
    run = ledger.run(run_id)
    kind = KINDS.get(run.kind)
    if kind is None or kind.source_field is None or run.dry_run:
        return
    if phase == AFTER and run.finished_at is None:
        return
    for account in ledger.source_accounts(run_id):
        try:
            outcome = client.balance(account)
            ok = outcome.klass == "accepted" and outcome.data
            available = _available_minor(outcome.data) if ok and outcome.data else None
            why = outcome.message or "no readable available balance"
        except Exception as exc:  # a balance read never stops a run
            available, why = None, f"{type(exc).__name__}: {exc}"
        if available is None:
            detail = json.dumps({"phase": phase, "account": account, "reason": why})
            ledger.add_event(run_id, SNAPSHOT_FAILED, detail)
            continue
        at = datetime.now(UTC).isoformat(timespec="milliseconds")
        ledger.add_event(run_id, SNAPSHOT, snapshot_detail(phase, account, available, at))


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
        raise UsageError(
            f"{text!r} is not an amount", hint="type digits, e.g. 152500000 or 152,500,000"
        )
    return int(Decimal(cleaned) * 100)


def check_expected_total(the_plan: Plan, expected: str) -> None:
    """Stop unless ``expected`` equals the plan's total (one currency only)."""
    if len(the_plan.totals) > 1:
        raise TotalMismatch(
            "this sheet mixes currencies "
            f"({', '.join(sorted(the_plan.totals))}); one total cannot confirm "
            "it — split the sheet by currency",
            expected=expected,
        )
    total = sum(the_plan.totals.values())
    if parse_amount(expected) != total:
        raise TotalMismatch(
            f"the expected total {expected} does not match the sheet's total "
            f"{format_minor(total)}; nothing was sent",
            expected=expected,
            actual=format_minor(total),
            hint="check the sheet (or the number you typed) and run again",
        )


def check_row_count(the_plan: Plan, typed: int) -> None:
    """Stop unless the operator typed the plan's row count (production confirmation)."""
    if typed != the_plan.count:
        raise TotalMismatch(
            f"you typed {typed} rows; the sheet has {the_plan.count}; nothing was sent",
            expected=typed,
            actual=the_plan.count,
        )


def file_sha256(path: str | Path) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as fh:
        for block in iter(lambda: fh.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def check_input(run: RunRecord, input_path: str | Path | None = None) -> None:
    """docs/safety.md: a run is bound to the SHA-256 of its input; resuming against a changed (or
    missing) file is refused — the journal's bytes are what will be sent, and an operator
    who edited the sheet expects something else."""
    path = Path(input_path or run.input_path)
    if not path.is_file():
        raise InputChanged(
            f"the input file of run {run.run_id} is not at {path}",
            hint="put the original file back, or pass its new location with --input",
        )
    actual = file_sha256(path)
    if actual != run.input_sha256:
        raise InputChanged(
            f"{path.name} changed since run {run.run_id} started (SHA-256 {actual[:12]}… "
            f"≠ {run.input_sha256[:12]}…); nothing was sent",
            hint="restore the original file to resume; to pay an edited sheet, start a new "
            "run (references already sent will be refused)",
        )
