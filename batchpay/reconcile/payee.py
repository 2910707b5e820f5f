"""Who a row pays and what happened to it, in plain words, for the Exceptions sheet.

An operator chasing a failed payment needs the person (name, email or bank account), not a
Request-Id; and DOKU's reason as a sentence, not ``INSUFFICIENT_BALANCE``. Pure: reads the
row's normalised values, state and code only.
"""

from __future__ import annotations

from batchpay.journal.records import DUPLICATE_REFERENCE, RowRecord
from batchpay.reconcile.classes import StatusClass, classify
from batchpay.states import State


def payee(row: RowRecord, kind: str) -> tuple[str | None, str | None]:
    """``(name, email or account)`` of the row's payee, as the sheet gave them."""
    n = row.normalised
    if kind == "payout-link":
        return n.get("receiver_name") or None, n.get("receiver_email") or None
    if kind == "sub-account-payout":
        bank = " ".join(v for v in (n.get("bank_code"), n.get("bank_account_number")) if v)
        return n.get("bank_account_name") or None, bank or None
    if kind == "sub-account-transfer":
        origin, destination = n.get("origin"), n.get("destination")
        if not destination:
            return None, None
        return "our own Sub Account", f"{origin or '?'} → {destination}"
    if kind == "sub-account-create":
        return n.get("name") or None, n.get("email") or None
    return None, None


# DOKU's error codes (docs/doku-api.md) and batchpay's outcome codes, as sentences.
_CODES = {
    "INSUFFICIENT_BALANCE": "DOKU refused it: the Sub Account's available balance was too low",
    "ACCOUNT_NOT_FOUND": "DOKU refused it: it does not know this Sub Account",
    "ACCOUNT_NOT_ACTIVE": "DOKU refused it: the Sub Account is not active yet",
    "INVALID_FIELD": "DOKU refused a value in the request",
    "BAD_REQUEST": "DOKU refused the request as malformed",
    DUPLICATE_REFERENCE: "DOKU already holds this reference from an earlier request",
    "REQUEST_ID_REUSED": "DOKU already knows this Request-Id with other content",
    "timeout": "DOKU did not answer in time: it may or may not have executed it",
    "deadline-exceeded": "DOKU did not answer in time: it may or may not have executed it",
    "connection-reset": "the connection broke after the request was sent: it may or may "
    "not have executed it",
    "network-error": "a network error after sending: it may or may not have executed it",
    "bad-signature": "DOKU's answer was not signed correctly, so it was not trusted",
    "unparsable-body": "DOKU's answer could not be read",
    "response-too-large": "DOKU's answer was too large to read",
    "answer-mismatch": "DOKU's answer was about another payment, so it was not trusted",
}

# What a state means for the payee, when no code says more.
_STATES: dict[str, str] = {
    State.EXPIRED: "the link expired: the receiver never opened it in time; no money left",
    State.FAILED: "DOKU could not pay it out to the bank; no money left",
    State.REJECTED: "DOKU refused the request; nothing was executed",
    State.PENDING: "DOKU accepted it and has not reported a final status yet",
    State.EMAIL_SENT: "the link was emailed; the receiver has not opened it yet",
    State.EMAIL_LINK_OPENED: "the receiver opened the link and has not finished yet",
    State.PENDING_PROCESS: "DOKU is paying it out to the receiver's bank",
    State.CONFIRMED: "the receiver confirmed their bank details; DOKU is paying out",
    State.UNKNOWN: "no clear answer from DOKU: it may or may not have executed it",
    State.SENDING: "the request was on its way when the run stopped: it may or may not "
    "have executed",
    State.PLANNED: "not sent yet: the run stopped before this row",
    State.NOT_SENT: "dry run: built and signed, never sent",
    State.INVALID: "the row failed validation and was never sent",
}
_FAILED_LINK = "the receiver could not be paid out (bank details refused or payout failed)"


def what_happened(row: RowRecord, kind: str) -> str:
    """DOKU's outcome of the row in plain words (its raw message is a column of its own)."""
    code = row.code or ""
    state = row.state
    if code in _CODES and classify(state) is not StatusClass.PAID:
        said = _CODES[code]
    elif state == State.FAILED and kind == "payout-link":
        said = _FAILED_LINK
    else:
        said = _STATES.get(state, f"DOKU reports {state}")
    return said[0].upper() + said[1:] + "."
