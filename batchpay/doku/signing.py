"""DOKU request and response signatures — pure functions, no I/O, no clock.

Two schemes (``docs/doku-api.md`` §2):

* ``hmac-sha256`` — the Sub Account (non-SNAP) component scheme::

      Client-Id:<id>\\nRequest-Id:<id>\\nRequest-Timestamp:<ts>\\nRequest-Target:<path>
      [\\nDigest:<b64 sha256(body)>]

  signed as ``HMACSHA256=`` + base64(HMAC-SHA256(secret, component)). GET requests have no
  Digest line. DOKU signs its responses the same way with ``Response-Timestamp`` as line 3.
* ``snap-hmac-sha512`` — Payout Link's default (our decision, §2.2)::

      POST:<path>:<lowercase hex sha256(body)>:<timestamp>

  signed as base64(HMAC-SHA512(secret, string)), no prefix.

The body is passed as the exact bytes that are sent; nothing here re-serialises JSON.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
from datetime import UTC, datetime

from batchpay.config import SCHEMES as SCHEMES
from batchpay.config import Scheme as Scheme

HMAC_PREFIX = "HMACSHA256="


def format_timestamp(moment: datetime) -> str:
    """UTC, ``YYYY-MM-DDTHH:MM:SSZ``, no milliseconds (docs/doku-api.md §1)."""
    return moment.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def parse_timestamp(text: str) -> datetime:
    return datetime.strptime(text, "%Y-%m-%dT%H:%M:%SZ").replace(tzinfo=UTC)


def body_digest(body: bytes) -> str:
    """base64(SHA-256(body)) — the ``Digest`` component."""
    return base64.b64encode(hashlib.sha256(body).digest()).decode("ascii")


def component_string(
    *,
    client_id: str,
    request_id: str,
    timestamp: str,
    target: str,
    body: bytes | None,
    response: bool = False,
) -> str:
    """The ``HMACSHA256=`` component string; ``body=None`` (GET) omits the Digest line."""
    lines = [
        f"Client-Id:{client_id}",
        f"Request-Id:{request_id}",
        f"{'Response' if response else 'Request'}-Timestamp:{timestamp}",
        f"Request-Target:{target}",
    ]
    if body is not None:
        lines.append(f"Digest:{body_digest(body)}")
    return "\n".join(lines)


def hmac_sha256_signature(secret_key: str, component: str) -> str:
    mac = hmac.new(secret_key.encode("utf-8"), component.encode("utf-8"), hashlib.sha256)
    return HMAC_PREFIX + base64.b64encode(mac.digest()).decode("ascii")


def snap_string_to_sign(method: str, path: str, body: bytes, timestamp: str) -> str:
    return f"{method.upper()}:{path}:{hashlib.sha256(body).hexdigest()}:{timestamp}"


def snap_hmac_sha512_signature(secret_key: str, string_to_sign: str) -> str:
    mac = hmac.new(secret_key.encode("utf-8"), string_to_sign.encode("utf-8"), hashlib.sha512)
    return base64.b64encode(mac.digest()).decode("ascii")


def sign_request(
    *,
    scheme: Scheme,
    secret_key: str,
    client_id: str,
    request_id: str,
    timestamp: str,
    method: str,
    target: str,
    body: bytes | None,
) -> str:
    """The ``Signature`` header value for a request under ``scheme``."""
    if scheme == "hmac-sha256":
        component = component_string(
            client_id=client_id,
            request_id=request_id,
            timestamp=timestamp,
            target=target,
            body=body if method.upper() != "GET" else None,
        )
        return hmac_sha256_signature(secret_key, component)
    if scheme == "snap-hmac-sha512":
        return snap_hmac_sha512_signature(
            secret_key, snap_string_to_sign(method, target, body or b"", timestamp)
        )
    raise ValueError(f"unknown signature scheme {scheme!r}; use one of {', '.join(SCHEMES)}")


def verify_request(signature: str | None, **kwargs: object) -> bool:
    """Constant-time check of a request signature (same keyword arguments as
    :func:`sign_request`)."""
    if not signature:
        return False
    expected = sign_request(**kwargs)  # type: ignore[arg-type]
    return hmac.compare_digest(expected.encode("utf-8"), signature.encode("utf-8", "replace"))


def sign_response(
    *,
    secret_key: str,
    client_id: str,
    request_id: str,
    response_timestamp: str,
    target: str,
    body: bytes,
) -> str:
    component = component_string(
        client_id=client_id,
        request_id=request_id,
        timestamp=response_timestamp,
        target=target,
        body=body,
        response=True,
    )
    return hmac_sha256_signature(secret_key, component)


def verify_response(
    signature: str | None,
    *,
    secret_key: str,
    client_id: str,
    request_id: str,
    response_timestamp: str,
    target: str,
    body: bytes,
) -> bool:
    if not signature:
        return False
    expected = sign_response(
        secret_key=secret_key,
        client_id=client_id,
        request_id=request_id,
        response_timestamp=response_timestamp,
        target=target,
        body=body,
    )
    return hmac.compare_digest(expected.encode("utf-8"), signature.encode("utf-8", "replace"))
