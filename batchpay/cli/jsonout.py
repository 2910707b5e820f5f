"""``--json``: one JSON document on stdout per command, for automation (README "JSON output").

Every document starts with ``"schema": "batchpay.<command>/1"``; amounts are integer minor
units (amount × 100) beside a display string; times are ISO-8601 with their offset. Nothing
else goes to stdout while ``--json`` is on: progress lines, warnings and prompts go to stderr
(:func:`enabled` tells the other renderers), and an error ends with a ``batchpay.error/1``
document (:func:`error_document`) as well as its line on stderr.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Sequence
from datetime import datetime
from typing import TYPE_CHECKING, Any

import click

from batchpay.money import format_minor

# Imported on use: every command asks enabled(), and `batchpay validate` must not pay for
# importing the journal, reconciliation or requests.
if TYPE_CHECKING:
    from batchpay.journal import RowRecord, RunRecord
    from batchpay.reconcile import Bucket
    from batchpay.runs.execute import RunResult

SCHEMA_VERSION = 1
_state = {"on": False}


def enable() -> None:
    """This command prints JSON: human lines go to stderr from now on."""
    _state["on"] = True


def enabled() -> bool:
    return _state["on"]


def reset() -> None:
    """A new command starts in text mode (tests run many commands in one process)."""
    _state["on"] = False


def document(command: str, **fields: Any) -> dict[str, Any]:
    """``{"schema": "batchpay.<command>/1", **fields}`` — the schema key first."""
    return {"schema": f"batchpay.{command}/{SCHEMA_VERSION}", **fields}


def emit(doc: dict[str, Any]) -> None:
    """Print ``doc`` on stdout (secrets redacted, like every other line)."""
    from batchpay.config import redact

    click.echo(redact(json.dumps(doc, ensure_ascii=False, indent=2, default=str)))


def money(minor: int | None, currency: str) -> dict[str, Any] | None:
    """``{"minor": 150000000, "currency": "IDR", "display": "IDR 1,500,000"}``; None for a
    row without an amount (account creation)."""
    if minor is None:
        return None
    return {"minor": minor, "currency": currency, "display": format_minor(minor, currency)}


def bucket(b: Bucket) -> dict[str, Any]:
    """A count and its amounts, one entry per currency."""
    return {
        "count": b.count,
        "amounts": [money(m, c) for c, m in sorted(b.amounts.items())],
    }


def run_record(run: RunRecord) -> dict[str, Any]:
    return {
        "id": run.run_id,
        "kind": run.kind,
        "env": run.env,
        "dry_run": run.dry_run,
        "created_at": _iso(run.created_at),
        "finished_at": _iso(run.finished_at),
        "operator": run.operator,
        "input": {"path": run.input_path, "name": run.input_name, "sha256": run.input_sha256},
        "parent_run_id": run.parent_run_id,
    }


def totals(rows: Iterable[RowRecord]) -> dict[str, Any]:
    """Counts and amounts by state and by status class, and the four headline totals."""
    from batchpay.reconcile import summarise

    s = summarise(rows)
    return {
        "rows": s.rows,
        "by_state": {state: bucket(s.by_state[state]) for state in s.states()},
        "by_class": {str(k): bucket(v) for k, v in s.by_class.items()},
        "sent": bucket(s.sent),
        "paid": bucket(s.paid),
        "outstanding": bucket(s.outstanding),
        "failed": bucket(s.failed),
    }


def row(r: RowRecord) -> dict[str, Any]:
    from batchpay.reconcile import classify

    return {
        "row": r.row_number,
        "attempt": r.attempt,
        "reference": r.reference,
        "amount": money(r.amount_minor, r.currency),
        "source_account": r.source_account,
        "state": r.state,
        "class": str(classify(r.state)),
        "doku_status": r.doku_status,
        "doku_ids": dict(r.doku_ids),
        "request_id": r.request_id,
        "code": r.code,
        "message": r.message,
        "sends": r.sends,
        "last_seen_at": _iso(r.last_seen_at),
    }


def reasons(rows: Sequence[RowRecord]) -> list[dict[str, Any]]:
    """Why rows were not paid, grouped (:func:`batchpay.cli.render.reasons`)."""
    from batchpay.cli.render import reasons as grouped

    return [
        {"state": x.state, "code": x.code, "count": x.count, "message": x.message}
        for x in grouped(rows)
    ]


def created_accounts(run: RunRecord, rows: Sequence[RowRecord]) -> list[dict[str, Any]]:
    """The Sub Accounts an account-creation run created (:func:`batchpay.cli.render.
    new_accounts`): row, email, account id, status."""
    from batchpay.cli.render import new_accounts

    return [
        {"row": r.row_number, "email": r.reference, "account_id": account, "state": r.state}
        for r, account in new_accounts(run, rows)
    ]


def _iso(text: str | None) -> str | None:
    """The journal's UTC ISO text, always with its offset."""
    if not text:
        return None
    moment = datetime.fromisoformat(text)
    return moment.isoformat() if moment.tzinfo else f"{text}+00:00"


def error_document(
    exc: BaseException, exit_code: int, *, message: str | None = None
) -> dict[str, Any]:
    """What ``--json`` prints on stdout when the command fails (its line is on stderr)."""
    message = message or getattr(exc, "message", None) or str(exc)
    return document(
        "error",
        error={
            "type": type(exc).__name__,
            "message": message,
            "hint": getattr(exc, "hint", None),
            "exit_code": exit_code,
        },
    )


def result_document(
    command: str,
    result: RunResult,
    *,
    exit_code: int,
    sends: int | None,
    next_steps: list[str],
) -> dict[str, Any]:
    """``run`` / ``resume`` / ``status`` / ``retry-failed``: the run, what this command did,
    every row, the totals, why rows were not paid, and what to do next."""
    halt = result.halt
    rows = result.rows
    return document(
        command,
        valid=True,
        run=run_record(result.run),
        exit_code=exit_code,
        sent_now=sends,
        settled=result.settled,
        interrupted=result.interrupted,
        stopped=None if halt is None else {"reason": halt.reason, "message": halt.message},
        workbook=None if result.workbook is None else str(result.workbook),
        workbook_error=result.workbook_error,
        totals=totals(rows),
        not_paid=reasons(rows),
        created_accounts=created_accounts(result.run, rows),
        next=next_steps,
        rows=[row(r) for r in rows],
    )
