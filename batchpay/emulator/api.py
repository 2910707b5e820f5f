"""DOKU's endpoints as the emulator executes them: idempotency, dispatch, Payout Link.

Authentication and faults happen around this (pipeline.py); here a request is already known to
come from the merchant. Idempotency (docs/doku-api.md §3) — decision on what is remembered:

* executed requests **and** business rejections (400 bad field / duplicate reference,
  404 unknown account, 422 short balance) are stored with their response: the same
  Request-Id + byte-identical body later gets that original body back with HTTP 409;
* 401s, a malformed Request-Id, and faults that stop a request before execution
  (500-before, 503, 429) are **not** stored, so a retry with the same id can still execute;
* reads (payout link status, balances) are never stored: each look-up answers afresh.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Callable
from datetime import datetime, timedelta, timezone
from decimal import Decimal
from typing import Any

from batchpay.emulator import rules
from batchpay.emulator.money import SubAccountOps
from batchpay.emulator.state import Store
from batchpay.emulator.wire import Rejected, Reply, Route, error_body, ts
from batchpay.kinds import (
    PAYOUT_LINK,
    dumps_exact,
)

_WIB = timezone(timedelta(hours=7))


class Doku(SubAccountOps):
    """The emulated gateway's behaviour over a :class:`Store`."""

    def __init__(
        self,
        store: Store,
        *,
        clock: Callable[[], float],
        base_url: Callable[[], str],
        link_step_seconds: float,
        activation_seconds: float,
        settlement_seconds: float,
    ) -> None:
        self.store = store
        self.clock = clock
        self.base_url = base_url
        self.link_step_seconds = link_step_seconds
        self.activation_seconds = activation_seconds
        self.settlement_seconds = settlement_seconds

    def handle(self, route: Route, request_id: str, body: bytes) -> Reply:
        """Idempotency check and execution as one atomic step."""
        now = self.clock()
        if not route.writes:
            return self._run(route, request_id, body, now)
        scope = route.product
        if route.product == "payout-link":
            # Payout Link ids need only be unique "within the same day" (§3): WIB calendar day.
            scope += ":" + datetime.fromtimestamp(now, _WIB).date().isoformat()
        digest = hashlib.sha256(body).hexdigest()
        with self.store.tx():
            prior = self.store.idem_get(scope, request_id)
            if prior is not None:
                if prior["target"] == route.target and prior["body_sha256"] == digest:
                    return Reply(409, bytes(prior["response"]), replayed=True)
                return Reply(
                    400,
                    error_body(
                        route.product,
                        400,
                        "REQUEST_ID_REUSED",
                        "this Request-Id was already used with a different body or endpoint; "
                        "a re-send must repeat the byte-identical body",
                        now=now,
                    ),
                )
            reply = self._run(route, request_id, body, now)
            self.store.idem_put(scope, request_id, route.target, digest, reply.status, reply.body)
            return reply

    def _run(self, route: Route, request_id: str, body: bytes, now: float) -> Reply:
        try:
            obj: dict[str, Any] = {}
            if route.method == "POST":
                obj = _parse(body)
            return _HANDLERS[route.op](self, route, request_id, obj, now)
        except rules.FieldError as exc:
            return Reply(
                400,
                error_body(route.product, 400, "INVALID_FIELD", str(exc), now=now, field=exc.field),
            )
        except Rejected as exc:
            return Reply(
                exc.status,
                error_body(
                    route.product, exc.status, exc.code, exc.message, now=now, field=exc.field
                ),
            )

    # --- Payout Link ----------------------------------------------------------------------
    def _initiate(self, route: Route, request_id: str, obj: dict[str, Any], now: float) -> Reply:
        values = rules.check_kind(PAYOUT_LINK, obj)
        reference = values["reference_id"]
        if self.store.reference_used("payout-link", reference):
            raise Rejected(
                400,
                "DUPLICATE_REFERENCE",
                f"reference_id {reference!r} was already used (unique per merchant)",
                "reference_id",
            )
        amount = Decimal(values["amount"])
        link = self.store.create_link(
            reference_id=reference,
            amount=format(amount, "f"),
            currency=values["currency"] or "IDR",
            receiver_email=values["receiver_email"],
            now=now,
            step_seconds=self.link_step_seconds,
            base_url=self.base_url(),
        )
        self.store.record(
            op="payout-link",
            request_id=request_id,
            reference=reference,
            amount_minor=int(amount * 100),
            account_id=None,
            now=now,
        )
        return Reply(200, self._envelope(link, now), executed=True, link_reference=reference)

    def _status(self, route: Route, request_id: str, obj: dict[str, Any], now: float) -> Reply:
        reference = rules.text_field(
            obj, ("transaction_id",), PAYOUT_LINK.field("reference_id").max_len or 30
        )
        link = self.store.link(reference or "")
        if link is None or now < link["hidden_until"]:
            raise Rejected(404, "NOT_FOUND", f"no payout link with reference {reference!r}")
        return Reply(200, self._envelope(link, now), executed=True)

    @staticmethod
    def _envelope(link: dict[str, Any], now: float) -> bytes:
        status = rules.link_status(
            link["receiver_email"], now - link["created_at"], link["step_seconds"]
        )
        data = {
            "reference_id": link["reference_id"],
            "payout_link_id": link["payout_link_id"],
            "payout_link_url": link["payout_link_url"],
            "payout_status": status,
            "amount": Decimal(link["amount"]),
            "currency": link["currency"],
            "expired_date": link["expired_date"],
        }
        return dumps_exact(
            {"status": "0", "message": "Success", "timestamp": ts(now), "data": data}
        )


def _parse(body: bytes) -> dict[str, Any]:
    try:
        obj = json.loads(body.decode("utf-8"), parse_float=Decimal, parse_constant=_no_constant)
    except (UnicodeDecodeError, ValueError) as exc:
        raise Rejected(400, "INVALID_JSON", f"the body is not valid UTF-8 JSON: {exc}") from None
    if not isinstance(obj, dict):
        raise Rejected(400, "INVALID_JSON", "the body must be a JSON object")
    return obj


def _no_constant(name: str) -> Any:
    raise ValueError(f"{name} is not a number DOKU accepts")


_HANDLERS: dict[str, Callable[[Doku, Route, str, dict[str, Any], float], Reply]] = {
    "payout-link": Doku._initiate,
    "status": Doku._status,
    "account": Doku._create_account,
    "payout": Doku._payout,
    "transfer": Doku._transfer,
    "balance": Doku._balance,
    "payment": Doku._payment,
}
