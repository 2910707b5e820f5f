"""Response → :class:`Outcome`: ONE table, no if-chains deciding the class.
(:func:`batchpay.doku.responses.from_response` applies it to an HTTP response.)

The table (:data:`TABLE`) is keyed by HTTP status (or status family) and by the failures that
leave no trustworthy HTTP response. It encodes docs/safety.md's rule: only a response that *proves*
DOKU did not execute the request may become REJECTED; anything that might have executed is
UNKNOWN. ``NOT_SENT`` is batchpay's addition for failures that provably happened before a single
byte reached the server (connect refused / connect timeout / name resolution): nothing can have
executed, so the same Request-Id and body may be sent again at once.

=================================  ============  =============================================
status / failure                   class         notes
=================================  ============  =============================================
2xx                                ACCEPTED      Sub Account: response signature must verify
409 (replay, docs/doku-api.md §3)       (original)    body parsed as the original outcome; replayed
400, 404, 422                      REJECTED      DOKU's error.code / error.message; 404 not_found
401                                REJECTED      auth_failed — fix credentials/scheme, stop batch;
                                                 UNKNOWN (auth_failed) if its signature fails
429                                RATE_LIMITED  retry_after from Retry-After (seconds/HTTP-date)
5xx                                UNKNOWN       may have executed (500 *after* execution exists)
other 3xx/4xx (403, 408, …)        UNKNOWN       not documented as proof of non-execution
read timeout                       UNKNOWN       code "timeout"
reset / aborted after send         UNKNOWN       code "connection-reset"
TLS / proxy / other network error  UNKNOWN       code "network-error"
bad or missing response signature  UNKNOWN       code "bad-signature"
unparsable body                    UNKNOWN       code "unparsable-body"
connect refused / DNS failure      NOT_SENT      code "connect-failed"; nothing was sent
connect timeout                    NOT_SENT      code "connect-timeout"; TCP never established
body past the size cap             UNKNOWN       code "response-too-large"; reading stopped
whole answer past the deadline     UNKNOWN       code "deadline-exceeded"
=================================  ============  =============================================

Which rejections prove that nothing was executed (:func:`proves_not_executed_code`): a 400,
404 or 422 (or such an answer replayed in a 409) proves it, **except** when DOKU's error code
says the thing already exists or the server failed:

* ``DUPLICATE_REFERENCE`` (and any code reading DUPLICATE / ALREADY / EXIST) proves the
  opposite — the reference **exists** at DOKU, paid by an earlier send, another run or another
  journal. Class UNKNOWN with ``reference_exists=True``: the runner looks the reference up and
  adopts its state (Payout Link), or leaves the row UNKNOWN for the operator (Sub Account has
  no look-up). Never REJECTED, never offered to ``retry-failed``.
* ``REQUEST_ID_REUSED`` (and REUSE / CONFLICT / IN_PROGRESS / PROCESSING): our Request-Id is
  already known to DOKU with other content — UNKNOWN.
* server-ish codes (INTERNAL / SERVER / UNAVAILABLE / TIMEOUT / UNKNOWN / GATEWAY): UNKNOWN.

NOT_SENT (connect failures) and RATE_LIMITED (429) prove it too. Everything else that is not
ACCEPTED may have executed. An ACCEPTED answer still counts only after
:func:`batchpay.doku.answers.check_answer` found it is about what was sent
(``answer-mismatch`` otherwise).
"""

from __future__ import annotations

import re
from dataclasses import asdict, dataclass, field
from enum import StrEnum
from typing import Any

from batchpay.config import redact


class OutcomeClass(StrEnum):
    ACCEPTED = "accepted"
    REJECTED = "rejected"
    UNKNOWN = "unknown"
    RATE_LIMITED = "rate-limited"
    NOT_SENT = "not-sent"


class Failure(StrEnum):
    """Failures with no trustworthy HTTP response; the value is the Outcome ``code``."""

    CONNECT_FAILED = "connect-failed"
    CONNECT_TIMEOUT = "connect-timeout"
    TIMEOUT = "timeout"
    CONNECTION_RESET = "connection-reset"
    NETWORK_ERROR = "network-error"
    BAD_SIGNATURE = "bad-signature"
    UNPARSABLE = "unparsable-body"
    RESPONSE_TOO_LARGE = "response-too-large"
    DEADLINE = "deadline-exceeded"


@dataclass(frozen=True)
class Outcome:
    """What one request achieved. ``data`` is only ever a parsed, signature-verified body."""

    klass: OutcomeClass
    http_status: int | None
    data: dict[str, Any] | None
    status: str | None
    ids: dict[str, str] = field(default_factory=dict)
    code: str | None = None
    message: str = ""
    replayed: bool = False
    retry_after: float | None = None
    auth_failed: bool = False
    not_found: bool = False
    # DOKU said the reference (reference_id / invoice_number / email) already exists: proof
    # that something with it WAS executed — look it up, never re-send it under a new id.
    reference_exists: bool = False

    @property
    def may_have_executed(self) -> bool:
        """True unless DOKU provably did not execute it (UNKNOWN is never FAILED)."""
        return not self.proves_not_executed

    @property
    def proves_not_executed(self) -> bool:
        """True only when this answer proves DOKU did not execute *this* request (module
        docstring: which codes prove it)."""
        if self.klass in (OutcomeClass.NOT_SENT, OutcomeClass.RATE_LIMITED):
            return True
        return self.klass is OutcomeClass.REJECTED and proves_not_executed_code(self.code)

    def to_dict(self) -> dict[str, Any]:
        out = asdict(self)
        out["klass"] = str(self.klass)
        return out


@dataclass(frozen=True)
class Rule:
    """One row of the table. ``klass=None`` means "the class of the replayed original"."""

    klass: OutcomeClass | None
    why: str
    code: str | None = None  # batchpay code; None = DOKU's error.code (or http-<status>)
    needs_signature: bool = False  # Sub Account: a missing signature is as bad as a wrong one
    auth_failed: bool = False
    not_found: bool = False
    replayed: bool = False


A, R, U = OutcomeClass.ACCEPTED, OutcomeClass.REJECTED, OutcomeClass.UNKNOWN

TABLE: dict[int | str, Rule] = {
    "2xx": Rule(A, "DOKU accepted the request", needs_signature=True),
    409: Rule(
        None,
        "replay of the original response (docs/doku-api.md §3)",
        needs_signature=True,
        replayed=True,
    ),
    400: Rule(R, "DOKU rejected a field"),
    401: Rule(R, "DOKU rejected the credentials or the signature", auth_failed=True),
    404: Rule(R, "DOKU does not know the account or reference", not_found=True),
    422: Rule(R, "DOKU refused the request (e.g. insufficient balance)"),
    429: Rule(OutcomeClass.RATE_LIMITED, "DOKU is rate limiting; retry later, same Request-Id"),
    "5xx": Rule(U, "server error; DOKU may have executed the request"),
    "other": Rule(U, "unexpected HTTP status; DOKU may have executed the request"),
    Failure.CONNECT_FAILED: Rule(
        OutcomeClass.NOT_SENT, "could not connect; nothing was sent", code=Failure.CONNECT_FAILED
    ),
    Failure.CONNECT_TIMEOUT: Rule(
        OutcomeClass.NOT_SENT, "connect timed out; nothing was sent", code=Failure.CONNECT_TIMEOUT
    ),
    Failure.TIMEOUT: Rule(
        U, "no answer in time; DOKU may have executed the request", code=Failure.TIMEOUT
    ),
    Failure.CONNECTION_RESET: Rule(
        U,
        "connection dropped after sending; DOKU may have executed the request",
        code=Failure.CONNECTION_RESET,
    ),
    Failure.NETWORK_ERROR: Rule(
        U,
        "network error after connecting; DOKU may have executed the request",
        code=Failure.NETWORK_ERROR,
    ),
    Failure.BAD_SIGNATURE: Rule(
        U,
        "the response signature does not verify, so it cannot be trusted",
        code=Failure.BAD_SIGNATURE,
    ),
    Failure.UNPARSABLE: Rule(
        U, "the response body is not the JSON DOKU sends", code=Failure.UNPARSABLE
    ),
    Failure.RESPONSE_TOO_LARGE: Rule(
        U,
        "the response is far larger than any DOKU answer; reading stopped, DOKU may have "
        "executed the request",
        code=Failure.RESPONSE_TOO_LARGE,
    ),
    Failure.DEADLINE: Rule(
        U,
        "the whole response did not arrive in time; DOKU may have executed the request",
        code=Failure.DEADLINE,
    ),
}

# A replayed error (409) proves non-execution only if the original was a rejection; an error
# code that reads like a server failure does not (docs/safety.md: when in doubt, UNKNOWN).
_SERVERISH = re.compile(r"INTERNAL|SERVER|UNAVAILABLE|TIMEOUT|UNKNOWN|GATEWAY", re.IGNORECASE)
# Codes saying the reference exists at DOKU (docs/safety.md "An answer counts only if it is about
# what we sent": a duplicate reference proves the reference exists).
_EXISTS = re.compile(r"DUPLICATE|ALREADY|EXIST", re.IGNORECASE)
# Codes saying our Request-Id is known to DOKU with other content, or still being worked on.
_CONTESTED = re.compile(r"REUSE|CONFLICT|IN_PROGRESS|PROCESSING", re.IGNORECASE)
# Outcome codes of batchpay's own that never prove anything was not executed.
_UNPROVEN_CODES = frozenset(
    str(f) for f in Failure if f not in (Failure.CONNECT_FAILED, Failure.CONNECT_TIMEOUT)
) | {"answer-mismatch"}
ANSWER_MISMATCH = "answer-mismatch"


def serverish_code(code: str) -> bool:
    """True when an error code reads like a server failure (INTERNAL, UNAVAILABLE, …)."""
    return bool(_SERVERISH.search(code))


def reference_exists_code(code: str | None) -> bool:
    """True when DOKU's error code says the reference already exists (DUPLICATE_REFERENCE)."""
    return bool(code) and bool(_EXISTS.search(code or ""))


def proves_not_executed_code(code: str | None) -> bool:
    """Whether a *rejection* with this code proves DOKU executed nothing (module docstring).
    ``None`` (a journal row without a stored code) proves nothing."""
    if not code or code in _UNPROVEN_CODES:
        return False
    return not (_EXISTS.search(code) or _CONTESTED.search(code) or _SERVERISH.search(code))


def rule_for(key: int | Failure) -> Rule:
    """The table row for an HTTP status or a failure."""
    if isinstance(key, Failure):
        return TABLE[key]
    if key in TABLE:
        return TABLE[key]
    if 200 <= key < 300:
        return TABLE["2xx"]
    if 500 <= key < 600:
        return TABLE["5xx"]
    return TABLE["other"]


def from_failure(
    failure: Failure, detail: str = "", *, http_status: int | None = None, hint: str = ""
) -> Outcome:
    """Outcome for a failure that left no trustworthy response."""
    rule = rule_for(failure)
    assert rule.klass is not None
    text = rule.why + (f" ({detail})" if detail else "") + (f" — {hint}" if hint else "")
    return Outcome(
        klass=rule.klass,
        http_status=http_status,
        data=None,
        status=None,
        code=str(failure),
        message=redact(text),
    )
