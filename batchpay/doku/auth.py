"""Request signing as :class:`requests.auth.AuthBase` objects (docs/doku-api.md §2).

:class:`DokuClient <batchpay.doku.client.DokuClient>` sets ``Request-Id`` and
``Request-Timestamp`` on each request and hands it the product's auth
(:meth:`batchpay.doku.products.Product.auth`), which adds ``Client-Id`` and ``Signature``
computed over exactly what goes on the wire: the method, the request path and the body bytes.
The string building and HMACs are the pure functions of :mod:`batchpay.doku.signing`.

* :class:`HmacSha256Auth` — the component scheme, ``HMACSHA256=…``: every Sub Account request,
  and Payout Link when ``BATCHPAY_PAYOUT_LINK_SIGNATURE=hmac-sha256``.
* :class:`SnapHmacSha512Auth` — ``POST:<path>:<hex sha256(body)>:<timestamp>``: Payout Link's
  default.

Token-based schemes: DOKU's SNAP APIs also want a B2B access token (obtained from DOKU's
access-token endpoint with an asymmetric signature, valid for a while) in ``Authorization:
Bearer …`` next to a symmetric signature that covers the token. Such a scheme is another
:class:`DokuAuth` subclass that holds the token cache (fetching through its own session, with
the client's clock) and sets those headers in ``__call__``; a :class:`~batchpay.doku.products.
Product` whose API needs it returns it from ``Product.auth``. Nothing else changes: the client
only ever calls the auth object.
"""

from __future__ import annotations

from typing import ClassVar

import requests
from requests.auth import AuthBase

from batchpay.config import Secret
from batchpay.doku import signing
from batchpay.doku.signing import Scheme


class DokuAuth(AuthBase):
    """Signs one prepared request with the merchant's Client-Id and secret key.

    The ``Request-Id`` and ``Request-Timestamp`` headers must already be set: the signature
    covers them as sent. A POST without a body is signed as an empty body."""

    scheme: ClassVar[Scheme]

    def __init__(self, client_id: str, secret_key: Secret) -> None:
        self.client_id = client_id
        self._secret = secret_key  # wrapped: repr, vars() and tracebacks never show it

    def __repr__(self) -> str:
        return f"{type(self).__name__}(client_id={self.client_id!r})"

    def __call__(self, r: requests.PreparedRequest) -> requests.PreparedRequest:
        method = (r.method or "GET").upper()
        body = r.body if isinstance(r.body, bytes) else None
        if body is None and method != "GET":
            body = b""  # requests drops an empty data= body; DOKU hashes it as empty
        r.headers["Client-Id"] = self.client_id
        r.headers["Signature"] = self.signature(
            request_id=str(r.headers["Request-Id"]),
            timestamp=str(r.headers["Request-Timestamp"]),
            method=method,
            target=r.path_url,
            body=body,
        )
        return r

    def signature(
        self, *, request_id: str, timestamp: str, method: str, target: str, body: bytes | None
    ) -> str:
        """The ``Signature`` header value for one request (``body=None`` for a GET)."""
        return signing.sign_request(
            scheme=self.scheme,
            secret_key=self._secret.reveal(),
            client_id=self.client_id,
            request_id=request_id,
            timestamp=timestamp,
            method=method,
            target=target,
            body=body,
        )

    def response_signed(
        self, signature: str, *, timestamp: str, request_id: str, target: str, body: bytes
    ) -> bool:
        """Does a response's ``HMACSHA256=`` signature verify? Checked with our own Client-Id
        and the Request-Id we sent, not the echoed headers: that binds the response to our
        request, so another request's response cannot be replayed at us."""
        return signing.verify_response(
            signature,
            secret_key=self._secret.reveal(),
            client_id=self.client_id,
            request_id=request_id,
            response_timestamp=timestamp,
            target=target,
            body=body,
        )


class HmacSha256Auth(DokuAuth):
    """``Signature: HMACSHA256=base64(HMAC-SHA256(secret, components))`` (§2.1)."""

    scheme = "hmac-sha256"


class SnapHmacSha512Auth(DokuAuth):
    """``Signature: base64(HMAC-SHA512(secret, METHOD:path:hex(sha256(body)):timestamp))``
    (§2.2)."""

    scheme = "snap-hmac-sha512"


AUTHS: dict[Scheme, type[DokuAuth]] = {
    "hmac-sha256": HmacSha256Auth,
    "snap-hmac-sha512": SnapHmacSha512Auth,
}


def auth_for(scheme: Scheme, client_id: str, secret_key: Secret) -> DokuAuth:
    """The auth object signing with ``scheme``; ValueError for a scheme batchpay lacks."""
    try:
        return AUTHS[scheme](client_id, secret_key)
    except KeyError:
        raise ValueError(
            f"unknown signature scheme {scheme!r}; use one of {', '.join(signing.SCHEMES)}"
        ) from None
