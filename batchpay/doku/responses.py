"""One HTTP response → :class:`~batchpay.doku.codes.Outcome`, by the table in
:mod:`batchpay.doku.codes` (which also says what each class means).

The table decides the class from the HTTP status; this module only reads the body: it checks
the signature verdict, parses the JSON, takes a 409's class from the replayed original, asks
the product whether a 2xx body is a success, and pulls out DOKU's business status, ids and
error code and a message for people.
"""

from __future__ import annotations

import json
from datetime import datetime
from typing import Any, Literal, NamedTuple

from batchpay.config import redact
from batchpay.doku.codes import (
    Failure,
    Outcome,
    OutcomeClass,
    Rule,
    from_failure,
    proves_not_executed_code,
    reference_exists_code,
    rule_for,
    serverish_code,
)
from batchpay.doku.products import Product, product_named
from batchpay.doku.retry import DEFAULT_RETRY_AFTER_CAP, retry_after_seconds
from batchpay.kinds import ProductName

# The result of checking a response's Signature header: "n/a" for Payout Link, which DOKU
# does not document as signing its responses.
SignatureCheck = Literal["ok", "bad", "absent", "n/a"]

A, R, U = OutcomeClass.ACCEPTED, OutcomeClass.REJECTED, OutcomeClass.UNKNOWN

# Business-status locations per product (docs/doku-api.md §4, §5), first match wins.
_STATUS_PATHS: tuple[tuple[str, str], ...] = (
    ("data", "payout_status"),
    ("payout", "status"),
    ("transfer", "status"),
    ("account", "status"),
)
# (section, key) -> ids key
_ID_PATHS: tuple[tuple[str, str, str], ...] = (
    ("data", "reference_id", "reference_id"),
    ("data", "payout_link_id", "payout_link_id"),
    ("data", "payout_link_url", "payout_link_url"),
    ("data", "expired_date", "expired_date"),
    ("account", "id", "account_id"),
    ("payout", "id", "payout_id"),
    ("payout", "invoice_number", "invoice_number"),
    ("transfer", "id", "transfer_id"),
    ("transfer", "invoice_number", "invoice_number"),
)


def from_response(
    *,
    product: Product | ProductName,
    http_status: int,
    body: bytes,
    signature: SignatureCheck,
    retry_after_header: str | None = None,
    now: datetime,
    retry_after_cap: float = DEFAULT_RETRY_AFTER_CAP,
    auth_hint: str = "",
) -> Outcome:
    """Classify one HTTP response by :data:`~batchpay.doku.codes.TABLE`."""
    rule = rule_for(http_status)
    unverified = signature == "bad" or (signature == "absent" and rule.needs_signature)
    if unverified and rule.auth_failed:
        return _unverified_auth_failure(rule, http_status, body, auth_hint)
    if unverified:
        return from_failure(Failure.BAD_SIGNATURE, f"HTTP {http_status}", http_status=http_status)

    parsed = _parse(body)
    if parsed is None and rule.klass in (A, None):
        return from_failure(
            Failure.UNPARSABLE, f"HTTP {http_status}: {_snippet(body)}", http_status=http_status
        )
    the_product = product if isinstance(product, Product) else product_named(product)
    verdict = _verdict(rule, the_product, parsed, http_status)
    klass = verdict.klass
    retry_after = None
    if klass is OutcomeClass.RATE_LIMITED:
        retry_after = retry_after_seconds(retry_after_header, now=now, cap=retry_after_cap)
    accepted = klass is A
    status = _business_status(parsed) if accepted else None
    message = _message(
        rule,
        R if verdict.unproven else klass,
        http_status,
        status,
        verdict.error_code,
        verdict.error_message,
        body,
        parsed,
        auth_hint if rule.auth_failed else "",
    )
    return Outcome(
        klass=klass,
        http_status=http_status,
        data=parsed,
        status=status,
        ids=_ids(parsed) if accepted else {},
        code=verdict.code,
        message=redact(_with_proof_note(message, exists=verdict.exists, unproven=verdict.unproven)),
        replayed=rule.replayed,
        retry_after=retry_after,
        auth_failed=rule.auth_failed,
        not_found=rule.not_found,
        reference_exists=verdict.exists,
    )


class _Verdict(NamedTuple):
    klass: OutcomeClass
    code: str | None
    error_code: str | None
    error_message: str | None
    exists: bool  # DOKU says the reference exists (DUPLICATE_REFERENCE & co)
    unproven: bool  # a rejection that does not prove non-execution, turned UNKNOWN


def _verdict(
    rule: Rule, product: Product, parsed: dict[str, Any] | None, http_status: int
) -> _Verdict:
    """The class and code of a parsed (or unparsable non-success) response."""
    klass = rule.klass
    if klass is None:  # 409: the class of the original response it replays
        klass = _replayed_class(product, parsed or {})
    elif klass is A and not product.is_success(parsed or {}):
        klass = U
    error_code, error_message = _error_fields(parsed)
    code = rule.code or (error_code if klass is not A else None)
    if code is None and klass is not A:
        code = f"http-{http_status}"
    exists = klass is R and reference_exists_code(code)
    unproven = klass is R and not rule.auth_failed and not proves_not_executed_code(code)
    if unproven:
        # DUPLICATE_REFERENCE & co: DOKU answered, but the answer does not prove it executed
        # nothing — it proves the reference exists, or says nothing either way.
        klass = U
    return _Verdict(klass, code, error_code, error_message, exists, unproven)


def _unverified_auth_failure(rule: Rule, http_status: int, body: bytes, auth_hint: str) -> Outcome:
    """With a wrong secret key DOKU's genuine 401 cannot verify on our side either. Still
    not trusted as proof of non-execution (UNKNOWN; the row is resolved by a same-id re-send
    later), but flagged auth_failed so the batch stops for a config fix."""
    code, message = _error_fields(_parse(body))
    return Outcome(
        klass=U,
        http_status=http_status,
        data=None,
        status=None,
        code=code or "http-401",
        message=redact(
            f"{rule.why} (HTTP {http_status}{': ' + (message or '')}); the "
            "response signature does not verify either, so BATCHPAY_SECRET_KEY "
            "is probably wrong — " + (auth_hint or "check the credentials")
        ),
        auth_failed=True,
    )


def _with_proof_note(message: str, *, exists: bool, unproven: bool) -> str:
    if exists:
        return (
            f"{message} — DOKU already holds this reference, so it was executed before (by an "
            "earlier send, another run or another journal); not a failure, never retried "
            "under a new Request-Id"
        )
    if unproven:
        return f"{message} — this answer does not prove DOKU executed nothing"
    return message


def _parse(body: bytes) -> dict[str, Any] | None:
    try:
        value = json.loads(body.decode("utf-8"))
    except (UnicodeDecodeError, ValueError):
        return None
    return value if isinstance(value, dict) else None


def _replayed_class(product: Product, data: dict[str, Any]) -> OutcomeClass:
    if not data:
        return U
    if product.is_success(data):
        return A
    code, _ = _error_fields(data)
    if code is None or serverish_code(code):
        return U
    return R


def _error_fields(data: dict[str, Any] | None) -> tuple[str | None, str | None]:
    if not data:
        return None, None
    error = data.get("error")
    if isinstance(error, dict):
        code, message = error.get("code"), error.get("message")
        return (
            str(code) if code is not None else None,
            str(message) if message is not None else None,
        )
    status = data.get("status")
    if status is not None and str(status) != "0" and isinstance(data.get("message"), str):
        return f"STATUS_{status}", data["message"]  # Payout Link envelope failure
    return None, None


def _business_status(data: dict[str, Any] | None) -> str | None:
    for section, key in _STATUS_PATHS:
        value = _get(data, section, key)
        if value is not None:
            return value
    return None


def _ids(data: dict[str, Any] | None) -> dict[str, str]:
    out: dict[str, str] = {}
    for section, key, name in _ID_PATHS:
        value = _get(data, section, key)
        if value is not None:
            out.setdefault(name, value)
    return out


def _get(data: dict[str, Any] | None, section: str, key: str) -> str | None:
    inner = data.get(section) if data else None
    if isinstance(inner, dict):
        value = inner.get(key)
        if isinstance(value, str | int) and not isinstance(value, bool):
            return str(value)
    return None


def _snippet(body: bytes, limit: int = 120) -> str:
    text = body[:limit].decode("utf-8", "replace").replace("\n", " ").strip()
    return (text + "…") if len(body) > limit else (text or "empty body")


def _message(
    rule: Rule,
    klass: OutcomeClass,
    http_status: int,
    status: str | None,
    error_code: str | None,
    error_message: str | None,
    body: bytes,
    parsed: dict[str, Any] | None,
    hint: str,
) -> str:
    replay = " (replayed original, HTTP 409)" if rule.replayed else ""
    if klass is A:
        return f"accepted, HTTP {http_status}" + (f", status {status}" if status else "") + replay
    detail = " ".join(p for p in (error_code, error_message and f"— {error_message}") if p)
    if not detail and parsed is None:
        detail = _snippet(body)
    if rule.klass is None:
        why = (
            "DOKU rejected the original request"
            if klass is R
            else "the replayed response is not a clear success or rejection"
        )
    elif rule.klass is not klass:  # a 2xx whose body is not a success envelope
        why = "a success status with a body that is not a clear success; DOKU may have executed it"
    else:
        why = rule.why
    text = f"{why} (HTTP {http_status}{replay}{': ' + detail if detail else ''})"
    return f"{text} — {hint}" if hint else text
