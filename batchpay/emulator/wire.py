"""The emulator's wire vocabulary: DOKU routes, replies, rejections and error bodies."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from batchpay.doku.signing import format_timestamp
from batchpay.kinds import (
    PAYOUT_LINK,
    SUB_ACCOUNT_CREATE,
    SUB_ACCOUNT_PAYOUT,
    SUB_ACCOUNT_TRANSFER,
    dumps_exact,
)

PAYMENT_PATH = "/checkout/v1/payment"


@dataclass(frozen=True)
class Route:
    """A DOKU endpoint: its op name (faults/executed), product (signature, Request-Id rules)."""

    op: str
    product: str  # "payout-link", "sub-account" or "checkout"
    method: str
    target: str
    writes: bool  # executes something: idempotent by Request-Id
    account_id: str | None = None  # balances/{id}


_POST_ROUTES = {
    PAYOUT_LINK.path: ("payout-link", "payout-link", True),
    "/v1/payout/status": ("status", "payout-link", False),
    SUB_ACCOUNT_CREATE.path: ("account", "sub-account", True),
    SUB_ACCOUNT_PAYOUT.path: ("payout", "sub-account", True),
    SUB_ACCOUNT_TRANSFER.path: ("transfer", "sub-account", True),
    PAYMENT_PATH: ("payment", "checkout", True),
}
_BALANCES = "/sac-merchant/v1/balances/"


def route(method: str, path: str) -> Route | str | None:
    """The route for ``method path``; ``"method"`` when the path exists under another method;
    None when it is not a DOKU path at all."""
    if path in _POST_ROUTES:
        op, product, writes = _POST_ROUTES[path]
        return Route(op, product, "POST", path, writes) if method == "POST" else "method"
    if path.startswith(_BALANCES) and len(path) > len(_BALANCES):
        account_id = path[len(_BALANCES) :]
        if method != "GET":
            return "method"
        return Route("balance", "sub-account", "GET", path, False, account_id=account_id)
    return None


@dataclass
class Reply:
    """What the emulator answers, before faults and signing."""

    status: int
    body: bytes
    executed: bool = False  # executed something new, or served a read: after-faults apply
    replayed: bool = False
    link_reference: str | None = None  # a payout link created by this request
    retry_after: int | None = None  # seconds, for 429


class Rejected(Exception):
    """A request DOKU refuses; becomes an error body."""

    def __init__(self, status: int, code: str, message: str, field: str | None = None) -> None:
        super().__init__(message)
        self.status, self.code, self.message, self.field = status, code, message, field


def error_body(
    product: str, status: int, code: str, message: str, *, now: float, field: str | None = None
) -> bytes:
    """``{"error": {"code", "message"}}`` (docs/doku-api.md §5 decision); Payout Link errors also
    carry its envelope (``status`` ≠ ``"0"``, ``message``, ``timestamp``)."""
    error: dict[str, Any] = {"code": code, "message": message}
    if field:
        error["field"] = field
    if product == "payout-link":
        return dumps_exact(
            {"status": str(status), "message": message, "timestamp": ts(now), "error": error}
        )
    return dumps_exact({"error": error})


def ts(now: float) -> str:
    return format_timestamp(datetime.fromtimestamp(now, UTC))


def error_reply(
    product: str,
    status: int,
    code: str,
    message: str,
    *,
    now: float,
    retry_after: int | None = None,
) -> Reply:
    """A rejection as a :class:`Reply` (not remembered for idempotency by the caller)."""
    return Reply(
        status, error_body(product, status, code, message, now=now), retry_after=retry_after
    )
