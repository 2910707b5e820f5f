"""The admin endpoint (``/_emulator/…``, never under DOKU's paths) and its Python wrapper.

Unauthenticated on purpose: the emulator binds to loopback only unless forced, and tests and
the ``batchpay emulator fund`` command must be able to drive it without signing.

=========================================  =============================================
``GET  /_emulator/health``                 liveness, held responses, internal errors
``GET  /_emulator/executed[?op=OP]``       the gateway's truth (see Store.executed)
``GET|POST|DELETE /_emulator/faults``      list / queue / clear faults (faults.py)
``POST /_emulator/fund``                   ``{"account_id", "amount", "pending": false}``
``GET  /_emulator/accounts/{id}``          account with status and balances
``POST /_emulator/accounts/{id}/activate`` PENDING → ACTIVE now
``POST /_emulator/release``                let every held (hold-after) response go
``POST /_emulator/reset``                  wipe state and faults
``GET  /_emulator/links/{payout_link_id}`` the page a payout_link_url points at
=========================================  =============================================
"""

from __future__ import annotations

import json
import urllib.error
import urllib.parse
import urllib.request
from decimal import Decimal
from typing import Any

from batchpay.emulator import rules
from batchpay.emulator.faults import Fault
from batchpay.emulator.report import executed_report
from batchpay.errors import AdminError as AdminError
from batchpay.errors import BadAdminRequest as BadAdminRequest
from batchpay.errors import UsageError

BANNER = "EMULATOR — no real money moves"


def handle(
    emulator: Any, method: str, path: str, query: dict[str, list[str]], body: bytes
) -> tuple[int, dict[str, Any]]:
    """Answer one admin request → (HTTP status, JSON payload)."""
    parts = path.strip("/").split("/")[1:]  # drop "_emulator"
    try:
        payload = json.loads(body) if body else {}
        if not isinstance(payload, dict):
            raise BadAdminRequest("the body must be a JSON object")
        return _route(emulator, method, parts, query, payload)
    # UsageError: BadAdminRequest and FaultSpecError; ValueError and TypeError: JSON that
    # does not parse, or a field that is not a number.
    except (UsageError, ValueError, TypeError) as exc:
        return 400, {"error": {"code": "BAD_ADMIN_REQUEST", "message": str(exc)}}


def _route(
    emulator: Any,
    method: str,
    parts: list[str],
    query: dict[str, list[str]],
    payload: dict[str, Any],
) -> tuple[int, dict[str, Any]]:
    head = parts[0] if parts else ""
    if (method, head) == ("GET", "health") and len(parts) == 1:
        return 200, {
            "ok": True,
            "note": BANNER,
            "url": emulator.url,
            "held": emulator.held,
            "internal_errors": emulator.internal_errors,
        }
    if (method, head) == ("GET", "executed"):
        ops = query.get("op") or []
        return 200, executed_report(emulator.store.executed_rows(ops[0] if ops else None))
    if head == "faults" and len(parts) == 1 and method in ("GET", "POST", "DELETE"):
        return 200, {"queued": _faults(emulator, method, payload)}
    if (method, head) == ("POST", "fund") and len(parts) == 1:
        return 200, _fund(emulator, payload)
    if head == "accounts" and len(parts) >= 2:
        return _account(emulator, method, parts)
    if (method, head) == ("POST", "release"):
        return 200, {"released": emulator.release()}
    if (method, head) == ("POST", "reset"):
        emulator.store.reset()
        emulator.faults.clear()
        return 200, {"reset": True}
    if (method, head) == ("GET", "links") and len(parts) == 2:
        return _link(emulator, parts[1])
    return 404, {"error": {"code": "NOT_FOUND", "message": f"no admin route {method} {parts}"}}


def _faults(emulator: Any, method: str, payload: dict[str, Any]) -> list[dict[str, Any]]:
    """Queue (POST), clear (DELETE) or list (GET) faults; the queue afterwards."""
    if method == "POST":
        fault = Fault(
            fault=str(payload.get("fault")),
            op=payload.get("op"),
            nth=int(payload.get("nth") or 1),
            count=int(payload.get("count") or 1),
            seconds=None if payload.get("seconds") is None else float(payload["seconds"]),
        )
        emulator.faults.queue(fault)
    elif method == "DELETE":
        emulator.faults.clear()
        return []
    queued: list[dict[str, Any]] = emulator.faults.pending()
    return queued


def _fund(emulator: Any, payload: dict[str, Any]) -> dict[str, Any]:
    account_id = str(payload.get("account_id") or "")
    if not account_id or len(account_id) > 40:
        raise BadAdminRequest("account_id is required (at most 40 characters)")
    funded: dict[str, Any] = emulator.doku.fund(
        account_id, _whole(payload.get("amount")), pending=bool(payload.get("pending"))
    )
    return funded


def _link(emulator: Any, payout_link_id: str) -> tuple[int, dict[str, Any]]:
    """The page a payout_link_url points at."""
    link = emulator.store.link_by_id(payout_link_id)
    if link is None:
        return 404, {"error": {"code": "NOT_FOUND", "message": "no such payout link"}}
    status = rules.link_status(
        link["receiver_email"], emulator.clock() - link["created_at"], link["step_seconds"]
    )
    return 200, {
        "note": BANNER,
        "reference_id": link["reference_id"],
        "payout_status": status,
        "amount": link["amount"],
    }


def _account(emulator: Any, method: str, parts: list[str]) -> tuple[int, dict[str, Any]]:
    account_id = parts[1]
    if method == "POST" and parts[2:] == ["activate"]:
        if not emulator.store.activate(account_id):
            return 404, {"error": {"code": "ACCOUNT_NOT_FOUND", "message": account_id}}
    elif not (method == "GET" and len(parts) == 2):
        return 404, {"error": {"code": "NOT_FOUND", "message": "no such admin route"}}
    account = emulator.store.account(account_id, emulator.clock())
    if account is None:
        return 404, {"error": {"code": "ACCOUNT_NOT_FOUND", "message": account_id}}
    return 200, {
        "id": account["id"],
        "status": account["status"],
        "email": account["email"],
        "balance": {"pending": str(account["pending"]), "available": str(account["available"])},
    }


def _whole(value: Any) -> int:
    """A whole-rupiah amount from an int or a digit string (never a float)."""
    if isinstance(value, bool) or not isinstance(value, int | str):
        raise BadAdminRequest("amount must be whole rupiah, as an integer or a string of digits")
    text = str(value).strip()
    if not text.isdigit() or int(text) <= 0:
        raise BadAdminRequest(f"amount {value!r} must be whole rupiah greater than 0")
    return int(text)


class EmulatorAdmin:
    """Thin wrapper over the admin endpoint of a running emulator (tests, CLI)."""

    def __init__(self, url: str, *, timeout: float = 10.0) -> None:
        self.url = url.rstrip("/")
        self.timeout = timeout

    def _call(self, method: str, path: str, payload: dict[str, Any] | None = None) -> Any:
        data = json.dumps(payload).encode() if payload is not None else None
        request = urllib.request.Request(  # noqa: S310 - http(s) URL of our own emulator
            f"{self.url}/_emulator/{path}",
            data=data,
            method=method,
            headers={"Content-Type": "application/json"},
        )
        try:
            with urllib.request.urlopen(request, timeout=self.timeout) as response:  # noqa: S310
                return json.loads(response.read())
        except urllib.error.HTTPError as exc:
            with exc:
                detail = exc.read().decode("utf-8", "replace")
            raise AdminError(
                f"emulator admin {method} {path}: HTTP {exc.code} {detail}",
                url=self.url,
                method=method,
                path=path,
                http_status=exc.code,
            ) from None
        except (urllib.error.URLError, OSError) as exc:
            raise AdminError(
                f"cannot reach the emulator at {self.url}: {exc}",
                url=self.url,
                method=method,
                path=path,
            ) from None

    def health(self) -> dict[str, Any]:
        result: dict[str, Any] = self._call("GET", "health")
        return result

    def executed(self, op: str | None = None) -> dict[str, Any]:
        """``{"count", "amount", "items", "references", "max_per_reference"}``."""
        suffix = "?" + urllib.parse.urlencode({"op": op}) if op else ""
        result: dict[str, Any] = self._call("GET", "executed" + suffix)
        return result

    def queue_fault(
        self,
        fault: str,
        *,
        op: str | None = None,
        nth: int | None = None,
        count: int = 1,
        seconds: float | None = None,
    ) -> list[dict[str, Any]]:
        result = self._call(
            "POST",
            "faults",
            {"fault": fault, "op": op, "nth": nth, "count": count, "seconds": seconds},
        )
        queued: list[dict[str, Any]] = result["queued"]
        return queued

    def faults(self) -> list[dict[str, Any]]:
        queued: list[dict[str, Any]] = self._call("GET", "faults")["queued"]
        return queued

    def clear_faults(self) -> None:
        self._call("DELETE", "faults")

    def fund(
        self, account_id: str, amount: int | str | Decimal, *, pending: bool = False
    ) -> dict[str, Any]:
        """Accept-payment routing: ``amount`` whole rupiah lands in ``account_id``."""
        text = str(amount)
        result: dict[str, Any] = self._call(
            "POST", "fund", {"account_id": account_id, "amount": text, "pending": pending}
        )
        return result

    def activate(self, account_id: str) -> dict[str, Any]:
        quoted = urllib.parse.quote(account_id, safe="")
        result: dict[str, Any] = self._call("POST", f"accounts/{quoted}/activate", {})
        return result

    def account(self, account_id: str) -> dict[str, Any]:
        result: dict[str, Any] = self._call(
            "GET", f"accounts/{urllib.parse.quote(account_id, safe='')}"
        )
        return result

    def release(self) -> int:
        """Let every held (hold-after) response go; returns how many were held."""
        return int(self._call("POST", "release", {})["released"])

    def reset(self) -> None:
        self._call("POST", "reset", {})
