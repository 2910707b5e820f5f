"""What happens to a request on a DOKU path: route → latency → before-faults → Client-Id,
timestamp skew, signature (401) → Request-Id format (400) → idempotency + execution (api.py)
→ after-faults → a signed response.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import TYPE_CHECKING

from batchpay.doku import signing
from batchpay.emulator import rules, wire
from batchpay.emulator.faults import Fired

if TYPE_CHECKING:
    from batchpay.emulator.server import Handler

SKEW_SECONDS = 300  # docs/doku-api.md / issue 3: timestamp further than 5 minutes → 401
_RESPONSE_FAULTS = ("error-500-after", "drop-after", "timeout-after", "bad-signature", "hold-after")


def serve(h: Handler, path: str, body: bytes) -> None:
    """Answer one request on a DOKU path (``h`` is the connection's handler)."""
    emulator = h.server.emulator
    request_id = h.headers.get("Request-Id") or ""
    found = wire.route(h.command, path)
    if not isinstance(found, wire.Route):
        status, code = (405, "METHOD_NOT_ALLOWED") if found == "method" else (404, "NOT_FOUND")
        message = f"{h.command} {path} is not a DOKU endpoint the emulator knows"
        reply = wire.error_reply("sub-account", status, code, message, now=emulator.clock())
        _signed(h, path, request_id, reply)
        return
    if emulator.latency_ms:
        emulator.stopping.wait(emulator.latency_ms / 1000)
    early = _before_faults(h, found, emulator.faults.before(found.op))
    if early is None:
        early = _authenticate(h, found, request_id, body)
    if early is not None:
        _signed(h, path, request_id, early)
        return
    reply = emulator.doku.handle(found, request_id, body)
    fired = emulator.faults.after(found.op) if reply.executed else []
    _answer(h, found, request_id, reply, fired)


# Faults that stop a request before it executes: (status, code, message).
_EARLY = {
    "error-500-before": (500, "INTERNAL_ERROR", "injected 500 before execution"),
    "error-503": (503, "SERVICE_UNAVAILABLE", "injected 503"),
    "rate-limit-429": (429, "TOO_MANY_REQUESTS", "injected rate limit"),
}


def _before_faults(h: Handler, route: wire.Route, fired: list[Fired]) -> wire.Reply | None:
    emulator = h.server.emulator
    for fault in fired:
        if fault.name == "latency":
            emulator.stopping.wait(fault.seconds)
        elif fault.name in _EARLY:
            status, code, message = _EARLY[fault.name]
            retry_after = max(round(fault.seconds), 0) if status == 429 else None
            return wire.error_reply(
                route.product, status, code, message, now=emulator.clock(), retry_after=retry_after
            )
    return None


def _authenticate(h: Handler, route: wire.Route, request_id: str, body: bytes) -> wire.Reply | None:
    emulator = h.server.emulator
    now = emulator.clock()

    def reject(status: int, code: str, message: str) -> wire.Reply:
        return wire.error_reply(route.product, status, code, message, now=now)

    if h.headers.get("Client-Id") != emulator.client_id:
        return reject(401, "INVALID_CLIENT_ID", "Client-Id is missing or not this merchant's")
    stamp = h.headers.get("Request-Timestamp") or ""
    try:
        skew = abs(signing.parse_timestamp(stamp).timestamp() - now)
    except ValueError:
        return reject(
            401, "INVALID_TIMESTAMP", "Request-Timestamp must be UTC YYYY-MM-DDTHH:MM:SSZ"
        )
    if skew > SKEW_SECONDS:
        return reject(
            401,
            "INVALID_TIMESTAMP",
            f"Request-Timestamp is {int(skew)} s from the server clock (max 300)",
        )
    scheme = emulator.payout_link_signature if route.product == "payout-link" else "hmac-sha256"
    if not signing.verify_request(
        h.headers.get("Signature"),
        scheme=scheme,
        secret_key=emulator.secret_key,
        client_id=emulator.client_id,
        request_id=request_id,
        timestamp=stamp,
        method=route.method,
        target=route.target,
        body=body if route.method == "POST" else None,
    ):
        hint = (
            f" under the {scheme} scheme (BATCHPAY_PAYOUT_LINK_SIGNATURE)"
            if route.product == "payout-link"
            else ""
        )
        return reject(401, "INVALID_SIGNATURE", f"the Signature does not verify{hint}")
    problem = rules.request_id_problem(route.product, request_id)
    if problem:
        return reject(400, "INVALID_REQUEST_ID", problem)
    return None


def _answer(
    h: Handler, route: wire.Route, request_id: str, reply: wire.Reply, fired: list[Fired]
) -> None:
    emulator = h.server.emulator
    response_fault = next((f for f in fired if f.name in _RESPONSE_FAULTS), None)
    for fault in fired:
        if fault.name == "status-not-found" and reply.link_reference:
            emulator.store.hide_link(reply.link_reference, emulator.clock() + fault.seconds)
    name = response_fault.name if response_fault else None
    if name == "drop-after":
        h.close_connection = True  # executed; the client gets EOF and no response
        return
    if name == "error-500-after":
        message = "injected 500 after execution"
        reply = wire.error_reply(
            route.product, 500, "INTERNAL_ERROR", message, now=emulator.clock()
        )
    elif name == "timeout-after" and response_fault:
        emulator.stopping.wait(response_fault.seconds)
    elif name == "hold-after":
        emulator.hold()
    _signed(h, route.target, request_id, reply, bad=name == "bad-signature")


def _signed(
    h: Handler, target: str, request_id: str, reply: wire.Reply, *, bad: bool = False
) -> None:
    """Every DOKU response carries Client-Id, Request-Id, Response-Timestamp and an
    ``HMACSHA256=`` Signature over the body (docs/doku-api.md §2.1), replays included."""
    emulator = h.server.emulator
    stamp = signing.format_timestamp(datetime.fromtimestamp(emulator.clock(), UTC))
    signature = signing.sign_response(
        # bad-signature: a well-formed signature made with the wrong key.
        secret_key=emulator.secret_key + ("-WRONG" if bad else ""),
        client_id=emulator.client_id,
        request_id=request_id,
        response_timestamp=stamp,
        target=target,
        body=reply.body,
    )
    headers = {
        "Client-Id": emulator.client_id,
        "Request-Id": request_id,
        "Response-Timestamp": stamp,
        "Signature": signature,
    }
    if reply.retry_after is not None:
        headers["Retry-After"] = str(reply.retry_after)
    h.send_bytes(reply.status, reply.body, headers)
