"""Which rows may be paid again: the retry policy `retry-failed` and the Exceptions sheet
share (docs/safety.md "Resolution" 3)."""

from __future__ import annotations

import re

from batchpay.doku.codes import proves_not_executed_code
from batchpay.journal.records import DUPLICATE_REFERENCE, RowRecord
from batchpay.states import CHANGED_AFTER_COMPLETION, RETRY_CANDIDATES, State

# FAILED/EXPIRED: DOKU executed the link/payout and it ended in failure. REJECTED: DOKU refused
# it — retryable only when the rejection proves nothing was executed (codes.py).
RETRY_CANDIDATE_STATES: tuple[str, ...] = RETRY_CANDIDATES
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
        return (
            "DOKU changed its status after completion; check with DOKU's back office "
            "before paying it again"
        )
    legacy = row.code is None
    if row.code in _NEVER_RETRY_CODES or (legacy and any(c in text for c in _NEVER_RETRY_CODES)):
        return (
            "DOKU said the reference already exists (DUPLICATE_REFERENCE) or the "
            "Request-Id was used: it may have been paid by another run or journal — check "
            "DOKU's back office; do not pay it again"
        )
    if row.state != State.REJECTED:
        return None
    if not legacy:
        if proves_not_executed_code(row.code):
            return None
        return (
            f"DOKU's answer ({row.code}) does not prove the request was not executed; "
            "check DOKU's back office before paying it again"
        )
    return _why_not_legacy_rejected(row.message or "")


def _why_not_legacy_rejected(message: str) -> str | None:
    """A REJECTED row journaled before rows had a code: retryable only when every code its
    message names proves nothing was executed."""
    codes = _LEGACY_CODE.findall(message) + [f"http-{n}" for n in _LEGACY_HTTP.findall(message)]
    if codes and all(proves_not_executed_code(c) for c in codes):
        return None
    return (
        "the journal does not show a DOKU code proving the request was not executed "
        f"({', '.join(codes) or 'no code recorded'}); check DOKU's back office before "
        "paying it again"
    )


def is_retryable(row: RowRecord, *, history: str = "") -> bool:
    """Whether `retry-failed` offers this row (see :func:`why_not_retryable`)."""
    return why_not_retryable(row, history=history) is None
