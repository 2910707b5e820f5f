"""Does an accepted answer talk about what we sent? (docs/safety.md "An answer counts only if it is
about what we sent".)

A valid signature proves who answered and, for Sub Account, which Request-Id the answer is
for — not what it says. A gateway that answers a look-up with another link's COMPLETED, a
replay whose SUCCESS body is another invoice's, or a success with amount 1 must never make a
row paid. :func:`check_answer` is the one place that compares an ACCEPTED answer with the
exact body the row sent; anything that differs turns the outcome UNKNOWN with code
``answer-mismatch`` (never paid, never re-sent under a new Request-Id).

What is compared (each only where the answer carries it, except the reference of a status
look-up and of a Sub Account success, which must be there) is declared by each kind
(``Kind.answer_fields``) and, for a status look-up, by its product
(``StatusLookup.answer_fields`` in :mod:`batchpay.doku.products`):

=====================  =========================================================
Payout Link initiate   data.reference_id, data.amount, data.currency
Payout Link status     data.reference_id (required), data.amount, data.currency
Sub Account payout     payout.invoice_number (required), payout.amount, account.id,
                       beneficiary.bank_code / bank_account_number
Sub Account transfer   transfer.invoice_number (required), transfer.amount,
                       transfer.origin, transfer.destination
Sub Account create     account.email (required), account.type, account.name
=====================  =========================================================
"""

from __future__ import annotations

import json
from dataclasses import replace
from decimal import Decimal, InvalidOperation
from typing import Any

from batchpay.config import redact
from batchpay.doku.codes import ANSWER_MISMATCH, Outcome, OutcomeClass
from batchpay.doku.products import product_of
from batchpay.kinds import AnswerField, Kind


def check_answer(
    kind: Kind, sent_body: bytes, outcome: Outcome, *, reference: str | None = None
) -> Outcome:
    """``outcome`` unchanged when it is not ACCEPTED or matches ``sent_body``; otherwise an
    UNKNOWN outcome with code ``answer-mismatch``. Pass ``reference`` for a Payout Link status
    look-up (``sent_body`` is then the row's initiate body)."""
    if outcome.klass is not OutcomeClass.ACCEPTED:
        return outcome
    checks = _status_fields(kind) if reference is not None else kind.answer_fields
    try:
        sent = json.loads(sent_body, parse_float=Decimal)
    except ValueError:
        return _mismatch(outcome, "the request body journaled for this row is not JSON")
    answer = outcome.data or {}
    for check in checks:
        section, key = check.section, check.key
        got = _get(answer, section, key)
        expected = (
            _get(sent, check.sent_section, check.sent_key)
            if check.sent_section
            else sent.get(check.sent_key)
        )
        if got is None:
            if check.required:
                return _mismatch(
                    outcome,
                    f"the answer does not say which {section}.{key} it "
                    f"is about (sent {_show(expected)})",
                )
            continue
        if expected is None:
            continue
        if not _same(got, expected, check.compare):
            return _mismatch(
                outcome,
                f"{section}.{key} is {_show(got)} in DOKU's answer, but {_show(expected)} was sent",
            )
    return outcome


def _status_fields(kind: Kind) -> tuple[AnswerField, ...]:
    lookup = product_of(kind).status_lookup
    return lookup.answer_fields if lookup is not None else ()


def _get(data: Any, section: str | None, key: str) -> Any:
    inner = data.get(section) if isinstance(data, dict) and section else data
    if not isinstance(inner, dict):
        return None
    value = inner.get(key)
    return None if value is None or isinstance(value, dict | list) else value


def _same(got: Any, expected: Any, how: str) -> bool:
    if how == "amount":
        try:
            return Decimal(str(got)) == Decimal(str(expected))
        except InvalidOperation:
            return False
    if isinstance(got, bool) or isinstance(expected, bool):
        return got is expected
    if how == "email":
        return str(got).strip().casefold() == str(expected).strip().casefold()
    return str(got) == str(expected)


def _show(value: Any) -> str:
    text = repr(value) if isinstance(value, str) else str(value)
    return text if len(text) <= 60 else text[:57] + "…"


def _mismatch(outcome: Outcome, why: str) -> Outcome:
    # No data, status or ids survive: the answer is about something else, and adopting its
    # link id or status would attach another payment to this row.
    return replace(
        outcome,
        klass=OutcomeClass.UNKNOWN,
        data=None,
        status=None,
        ids={},
        code=ANSWER_MISMATCH,
        message=redact(
            f"DOKU's answer does not match what was sent: {why}; not counted as "
            "paid (answer-mismatch)"
        ),
    )
