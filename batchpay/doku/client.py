"""DokuClient: one signed request per call over an injected :class:`requests.Session`.

One attempt per call, never a retry: retrying is the caller's job (``doku/retry.py``) and must
reuse the Request-Id and the byte-identical body (docs/doku-api.md §3). Network trouble
never raises — it is an :class:`~batchpay.doku.codes.Outcome` (UNKNOWN or NOT_SENT); only
programming errors raise (a malformed Request-Id, a non-bytes body).

Every request runs under an overall ``deadline`` (:mod:`batchpay.doku.deadline`), and its body
is read in chunks up to ``max_response_bytes``: a trickling or endless answer becomes an
UNKNOWN outcome (``deadline-exceeded`` / ``response-too-large``) in bounded time and memory.
"""

from __future__ import annotations

import re
import zlib
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any

import requests
import urllib3.exceptions
from urllib3.exceptions import NewConnectionError

from batchpay import __version__
from batchpay.config import Secret
from batchpay.doku import codes, signing
from batchpay.doku.auth import DokuAuth
from batchpay.doku.codes import Failure, Outcome, OutcomeClass
from batchpay.doku.deadline import Watch, watching
from batchpay.doku.products import (
    PAYOUT_LINK_PRODUCT,
    PRODUCTS,
    SUB_ACCOUNT_V1,
    Product,
    product_of,
)
from batchpay.doku.responses import SignatureCheck, from_response
from batchpay.doku.retry import DEFAULT_RETRY_AFTER_CAP
from batchpay.kinds import (
    PAYOUT_LINK,
    SUB_ACCOUNT_CREATE,
    SUB_ACCOUNT_PAYOUT,
    SUB_ACCOUNT_TRANSFER,
    Kind,
)

BALANCE_PATH = "/sac-merchant/v1/balances/{account_id}"

_ACCOUNT_ID = re.compile(r"[A-Za-z0-9_-]{1,40}")  # goes into the URL path; §5: id ≤ 40

DEFAULT_DEADLINE = 60.0
# DOKU's largest answer is a few KB; a megabyte is far above it and still cheap to hold.
DEFAULT_MAX_RESPONSE_BYTES = 1 << 20
_CHUNK = 64 * 1024


class DokuClient:
    """Signs and sends DOKU requests; see architecture.md "Gateway contracts"."""

    def __init__(
        self,
        *,
        base_url: str,
        client_id: str,
        secret_key: Secret | str,
        session: requests.Session,
        payout_link_signature: signing.Scheme = "snap-hmac-sha512",
        timeout: tuple[float, float] = (5.0, 30.0),
        clock: Callable[[], datetime] | None = None,
        retry_after_cap: float = DEFAULT_RETRY_AFTER_CAP,
        new_request_id: Callable[[], str] | None = None,
        deadline: float = DEFAULT_DEADLINE,
        max_response_bytes: int = DEFAULT_MAX_RESPONSE_BYTES,
    ) -> None:
        if payout_link_signature not in signing.SCHEMES:
            raise ValueError(f"unknown signature scheme {payout_link_signature!r}")
        if not deadline > 0 or max_response_bytes < 1:
            raise ValueError("deadline and max_response_bytes must be positive")
        self.base_url = base_url.rstrip("/")
        self.client_id = client_id
        # Kept wrapped so the client's repr, vars() or a traceback never show it.
        secret = secret_key if isinstance(secret_key, Secret) else Secret(secret_key)
        self.session = session
        self.payout_link_signature: signing.Scheme = payout_link_signature
        # One signer per DOKU product (doku/products.py), holding the credentials.
        self._auths: dict[str, DokuAuth] = {
            p.name: p.auth(client_id, secret, payout_link_signature) for p in PRODUCTS.values()
        }
        self.timeout = timeout
        self._clock = clock or (lambda: datetime.now(UTC))
        self._retry_after_cap = retry_after_cap
        # Fresh Request-Ids for status look-ups; None: the product's own rule.
        self._new_request_id = new_request_id
        self.deadline = deadline  # seconds for a whole request: connect, headers and body
        self.max_response_bytes = max_response_bytes

    def __repr__(self) -> str:
        return (
            f"DokuClient(base_url={self.base_url!r}, client_id={self.client_id!r}, "
            f"payout_link_signature={self.payout_link_signature!r})"
        )

    # --- one method per endpoint ------------------------------------------------------------

    def send(
        self,
        kind: Kind,
        request_id: str,
        body: bytes,
        *,
        while_waiting: Callable[[], None] | None = None,
    ) -> Outcome:
        """The money-moving (or account-creating) POST of ``kind``. ``while_waiting`` (it
        must not raise) is called once the request is written, before its answer is read —
        the engine journals its next row's intent there; it is not called when the request
        never got that far, or went through a connection without the deadline adapter."""
        return self._post(product_of(kind), kind.path, request_id, body, while_waiting)

    def look_up(self, product: Product, reference: str) -> Outcome:
        """Look a request up by its business reference with a fresh Request-Id (a look-up is
        not idempotent-keyed business, so it never reuses the original's id)."""
        lookup = product.status_lookup
        if lookup is None:
            raise ValueError(f"DOKU has no status look-up for {product.title}")
        fresh = self._new_request_id or product.request_ids.fresh
        return self._post(product, lookup.path, fresh(), lookup.body(reference))

    def initiate_payout_link(self, request_id: str, body: bytes) -> Outcome:
        return self.send(PAYOUT_LINK, request_id, body)

    def payout_link_status(self, reference_id: str) -> Outcome:
        """Look a link up by ``reference_id`` with a fresh numeric Request-Id."""
        return self.look_up(PAYOUT_LINK_PRODUCT, reference_id)

    def create_account(self, request_id: str, body: bytes) -> Outcome:
        return self.send(SUB_ACCOUNT_CREATE, request_id, body)

    def payout(self, request_id: str, body: bytes) -> Outcome:
        return self.send(SUB_ACCOUNT_PAYOUT, request_id, body)

    def transfer(self, request_id: str, body: bytes) -> Outcome:
        return self.send(SUB_ACCOUNT_TRANSFER, request_id, body)

    def balance(self, account_id: str) -> Outcome:
        """``data["balance"]["available"/"pending"]`` as strings (docs/doku-api.md §5)."""
        if not _ACCOUNT_ID.fullmatch(account_id):
            raise ValueError(f"account id {account_id!r} is not a DOKU Sub Account id")
        target = BALANCE_PATH.format(account_id=account_id)
        request_id = SUB_ACCOUNT_V1.request_ids.fresh()
        return self._request(SUB_ACCOUNT_V1, "GET", target, request_id, None)

    # --- the wire ---------------------------------------------------------------------------

    def _post(
        self,
        product: Product,
        target: str,
        request_id: str,
        body: bytes,
        while_waiting: Callable[[], None] | None = None,
    ) -> Outcome:
        if not isinstance(body, bytes):
            raise TypeError("body must be the exact bytes to send (kinds.build_body)")
        product.check_request_id(request_id)
        return self._request(product, "POST", target, request_id, body, while_waiting)

    def _request(
        self,
        product: Product,
        method: str,
        target: str,
        request_id: str,
        body: bytes | None,
        while_waiting: Callable[[], None] | None = None,
    ) -> Outcome:
        """One signed request under the deadline, its body read in full (or the failure)."""
        with watching(self.deadline, on_sent=while_waiting) as watch:
            response = self._open(product, method, target, request_id, body, watch)
            if isinstance(response, Outcome):
                return response
            try:
                content = self._read_body(response, watch)
            finally:
                response.close()  # a no-op after a complete read; otherwise never drained
        if isinstance(content, Failure):
            return codes.from_failure(
                content,
                self._failure_detail(content, None),
                http_status=response.status_code,
            )
        return from_response(
            product=product,
            http_status=response.status_code,
            body=content,
            signature=self._check_response(product, response, content, request_id, target),
            retry_after_header=response.headers.get("Retry-After"),
            now=self._clock(),
            retry_after_cap=self._retry_after_cap,
            auth_hint=product.auth_hint(self.payout_link_signature),
        )

    def _open(
        self,
        product: Product,
        method: str,
        target: str,
        request_id: str,
        body: bytes | None,
        watch: Watch,
    ) -> requests.Response | Outcome:
        """Send the request and return the response with its body unread, or the outcome of
        a failure before any response."""
        headers = {
            "Client-Id": self.client_id,
            "Request-Id": request_id,
            "Request-Timestamp": signing.format_timestamp(self._clock()),
            "Accept": "application/json",
            "User-Agent": f"batchpay/{__version__}",
        }
        if body is not None:
            headers["Content-Type"] = "application/json"
        try:
            # data=body: the exact bytes that were hashed (docs/doku-api.md §2.1; json= would
            # re-serialise). allow_redirects=False: a redirected POST could be re-sent
            # elsewhere. stream=True: the body is read by the caller, capped and under the
            # deadline. The product's auth adds Client-Id and Signature.
            return self.session.request(
                method,
                self.base_url + target,
                data=body,
                headers=headers,
                auth=self._auths[product.name],
                timeout=self.timeout,
                allow_redirects=False,
                stream=True,
            )
        except requests.RequestException as exc:
            failure = _failure_of(exc)
            if watch.expired and codes.rule_for(failure).klass is OutcomeClass.UNKNOWN:
                failure = Failure.DEADLINE
            return codes.from_failure(failure, self._failure_detail(failure, exc))

    def _read_body(self, response: requests.Response, watch: Watch) -> bytes | Failure:
        """The whole body, or the failure that stopped reading it: more than
        ``max_response_bytes`` (decoded), the deadline, or the connection breaking.

        ``read1`` returns after a single socket read, so the deadline and the cap are checked
        between reads however slowly bytes arrive; a read blocked at the deadline is woken by
        the watch shutting the socket down."""
        limit = self.max_response_bytes
        declared = response.headers.get("Content-Length", "").strip()
        if declared.isdigit() and int(declared) > limit:
            return Failure.RESPONSE_TOO_LARGE  # refused before reading a byte
        raw = response.raw
        watch.guard_release(raw)
        watch.arm(getattr(getattr(raw, "connection", None), "sock", None))
        chunks: list[bytes] = []
        size = 0
        try:
            while True:
                if watch.remaining <= 0 or watch.expired:
                    return Failure.DEADLINE
                chunk = raw.read1(min(_CHUNK, limit + 1 - size), decode_content=True)
                if not chunk:
                    break
                size += len(chunk)
                if size > limit:
                    return Failure.RESPONSE_TOO_LARGE
                chunks.append(chunk)
        except (urllib3.exceptions.HTTPError, OSError, zlib.error) as exc:
            if watch.expired:
                return Failure.DEADLINE
            return _body_failure_of(exc)
        if watch.expired:
            # The end of a body without a length may have been our own shutdown.
            return Failure.DEADLINE
        return b"".join(chunks)

    def _failure_detail(self, failure: Failure, exc: BaseException | None) -> str:
        if failure is Failure.DEADLINE:
            return f"no complete answer within BATCHPAY_REQUEST_DEADLINE={self.deadline:g} s"
        if failure is Failure.RESPONSE_TOO_LARGE:
            return f"more than {self.max_response_bytes:,} bytes"
        return type(exc).__name__ if exc is not None else ""

    def _check_response(
        self,
        product: Product,
        response: requests.Response,
        content: bytes,
        request_id: str,
        target: str,
    ) -> SignatureCheck:
        if not product.signs_responses:
            return "n/a"
        signature = response.headers.get("Signature")
        timestamp = response.headers.get("Response-Timestamp")
        if not signature or not timestamp:
            return "absent"
        ok = self._auths[product.name].response_signed(
            signature, timestamp=timestamp, request_id=request_id, target=target, body=content
        )
        return "ok" if ok else "bad"


def _failure_of(exc: requests.RequestException) -> Failure:
    """Map a requests exception to a failure, erring towards UNKNOWN: only a failure that
    provably happened before the request left this machine is NOT_SENT."""
    if isinstance(exc, requests.exceptions.ConnectTimeout):
        return Failure.CONNECT_TIMEOUT
    if isinstance(exc, requests.exceptions.Timeout):
        return Failure.TIMEOUT
    if isinstance(exc, requests.exceptions.ProxyError | requests.exceptions.SSLError):
        # The proxy or TLS layer may fail after the request was handed over.
        return Failure.NETWORK_ERROR
    if isinstance(exc, requests.exceptions.ChunkedEncodingError):
        return Failure.CONNECTION_RESET
    if isinstance(exc, requests.exceptions.ConnectionError):
        if _caused_by_new_connection(exc):
            return Failure.CONNECT_FAILED
        return Failure.CONNECTION_RESET
    return Failure.NETWORK_ERROR


def _body_failure_of(exc: BaseException) -> Failure:
    """Map an error while reading the body (urllib3 level: requests does not wrap ``read1``)."""
    if isinstance(exc, urllib3.exceptions.ReadTimeoutError | TimeoutError):
        return Failure.TIMEOUT
    if isinstance(exc, urllib3.exceptions.DecodeError | zlib.error):
        return Failure.UNPARSABLE  # a Content-Encoding that does not decode
    if isinstance(exc, urllib3.exceptions.SSLError):
        return Failure.NETWORK_ERROR
    if isinstance(exc, urllib3.exceptions.ProtocolError | ConnectionError):
        return Failure.CONNECTION_RESET
    return Failure.NETWORK_ERROR


def _caused_by_new_connection(exc: BaseException) -> bool:
    """True when urllib3 failed to *open* the connection (refused, DNS) — before sending."""
    seen: set[int] = set()
    stack: list[Any] = [exc]
    while stack:
        item = stack.pop()
        if item is None or id(item) in seen:
            continue
        seen.add(id(item))
        if isinstance(item, NewConnectionError):
            return True
        # Only the explicit wrapping chain (requests' args[0] → MaxRetryError.reason), not
        # __context__: an unrelated earlier error must not turn a reset into "not sent".
        stack.append(getattr(item, "reason", None))
        stack.extend(a for a in getattr(item, "args", ()) if isinstance(a, BaseException))
    return False
