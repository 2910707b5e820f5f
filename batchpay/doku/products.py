"""One object per DOKU API family — everything that differs between Payout Link and Sub
Account v1 lives here, as data, instead of ``if product == …`` branches.

A :class:`~batchpay.kinds.Kind` names its product (``kind.product``, the name journals
store); :func:`product_of` returns the object. Each product holds:

* its Request-Id rule: the allowed form, the deterministic derivation of a row's id
  (:meth:`Product.request_id_for`) and fresh ids for look-ups (docs/doku-api.md §1);
* its signing scheme, as a :class:`requests.auth.AuthBase` (:meth:`Product.auth`), and
  whether DOKU signs its responses;
* what a success answer looks like (:meth:`Product.is_success`);
* its status look-up, if DOKU has one (path, body, the answer fields compared);
* how an accepted answer's business status becomes a journal state
  (:meth:`Product.accepted_state`);
* the reference a retried row is sent with (:meth:`Product.retry_reference`).
"""

from __future__ import annotations

import hashlib
import re
import secrets
import uuid
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

from batchpay import states
from batchpay.config import Secret
from batchpay.doku.auth import DokuAuth, HmacSha256Auth, auth_for
from batchpay.doku.signing import SCHEMES, Scheme
from batchpay.kinds import AnswerField, Kind, ProductName, dumps_exact

# Fixed namespace for Sub Account Request-Ids (uuid5 of the row identity); never change it,
# or a resumed run would compute different ids than the ones its rows were sent with.
REQUEST_ID_NAMESPACE = uuid.UUID("6d0c2f3e-8b1a-5c7e-9f4d-2a6b8e0c1d3f")
CREDENTIALS_HINT = "check BATCHPAY_CLIENT_ID and BATCHPAY_SECRET_KEY"


@dataclass(frozen=True)
class RequestIdRule:
    """What DOKU accepts as a Request-Id, and how batchpay makes them."""

    pattern: re.Pattern[str]
    rule: str  # the pattern in words, for the error message
    derive: Callable[[str], str]  # a row attempt's identity -> its deterministic id
    fresh: Callable[[], str]  # a new id for a request no row owns (look-ups, balances)


@dataclass(frozen=True)
class StatusLookup:
    """A look-up of a sent request by its business reference."""

    path: str
    body: Callable[[str], bytes]  # reference -> the exact request body
    # what a status answer must agree on with the row's original body (doku/answers.py)
    answer_fields: tuple[AnswerField, ...]


@dataclass(frozen=True)
class Product:
    name: ProductName  # stored in journals: never change it
    title: str
    request_ids: RequestIdRule
    # None: the scheme is BATCHPAY_PAYOUT_LINK_SIGNATURE (docs/doku-api.md §2.2)
    fixed_scheme: Scheme | None
    signs_responses: bool  # a response must carry a verifying HMACSHA256 Signature
    success: Callable[[Mapping[str, Any]], bool]  # is this 2xx (or replayed) body a success?
    status_lookup: StatusLookup | None
    # business statuses journaled as they are; any other accepted answer is PENDING
    accepted_statuses: frozenset[str]
    # True: a retried row keeps its reference (DOKU proved the original executed nothing);
    # False: attempt n sends <reference>-R<n>
    retry_keeps_reference: bool
    # True: a rejected re-send of a row whose first send may have executed proves that row
    # was never executed. Only where DOKU answers a re-send after an executed first send with
    # a 409 replay or DUPLICATE_REFERENCE — never a plain rejection.
    resend_rejection_is_proof: bool

    def request_id_for(self, run_id: str, row_number: int, reference: str, attempt: int) -> str:
        """The deterministic Request-Id of one attempt of one row (docs/safety.md: derived
        from the run and row identity, stored before the first send, identical on every
        re-send)."""
        return self.request_ids.derive(f"{run_id}:{row_number}:{reference}:{attempt}")

    def check_request_id(self, request_id: str) -> None:
        if not self.request_ids.pattern.fullmatch(request_id):
            raise ValueError(
                f"Request-Id {request_id!r} is invalid for {self.name} ({self.request_ids.rule})"
            )

    def scheme(self, configured: Scheme) -> Scheme:
        """The signature scheme, given the configured Payout Link one."""
        return self.fixed_scheme or configured

    def auth(self, client_id: str, secret_key: Secret, configured: Scheme) -> DokuAuth:
        return auth_for(self.scheme(configured), client_id, secret_key)

    def auth_hint(self, configured: Scheme) -> str:
        """What to fix after a 401."""
        if self.fixed_scheme is not None:
            return CREDENTIALS_HINT
        other = next(s for s in SCHEMES if s != configured)
        # docs/doku-api.md §2.2: DOKU's page does not pin the string to sign, so a 401 may
        # mean the other scheme; say which one was used and how to switch.
        return (
            f"{self.title} requests were signed with {configured}; if your DOKU account "
            f"expects the other scheme set BATCHPAY_PAYOUT_LINK_SIGNATURE={other}, "
            f"otherwise {CREDENTIALS_HINT}"
        )

    def is_success(self, data: Mapping[str, Any]) -> bool:
        """Anything else in a 2xx is not a success we can rely on."""
        return "error" not in data and self.success(data)

    def accepted_state(self, kind: Kind, status: str | None) -> str:
        """The journal state for an accepted answer (the business status is the state).

        * Payout Link: DOKU's ``payout_status``; a success envelope without a status we know
          means the link was initiated, i.e. PENDING (docs/doku-api.md §4).
        * Sub Account payout/transfer: ``SUCCESS`` or ``FAILED`` as DOKU says; any other
          status becomes PENDING (accepted, not paid) — SUCCESS only when DOKU said SUCCESS
          (docs/safety.md invariant 5).
        * A kind with ``accepted_as`` (Sub Account creation: ``CREATED``, the account exists;
          DOKU's ``account.status`` is kept as ``doku_status``).
        """
        if kind.accepted_as is not None:
            return kind.accepted_as
        text = (status or "").upper()
        return text if text in self.accepted_statuses else states.State.PENDING.value

    def retry_reference(self, reference: str, parent_attempt: int, attempt: int) -> str:
        """The reference a retried row is sent with.

        Payout Link: DOKU's ``reference_id`` is unique per merchant (docs/doku-api.md §4) and
        a FAILED/EXPIRED link has used it up, so attempt *n* sends ``<original>-R<n>`` (the
        original is recovered by removing the previous attempt's suffix). Sub Account rows
        keep their invoice number / email: the rows retried there were REJECTED, which DOKU
        proved it never executed, and the accountant reconciles by invoice number.
        """
        if self.retry_keeps_reference:
            return reference
        base = reference
        suffix = f"-R{parent_attempt}"
        if parent_attempt > 1 and base.endswith(suffix):
            base = base[: -len(suffix)]
        return f"{base}-R{attempt}"


# --- Payout Link ---------------------------------------------------------------------------


def _numeric_id(identity: str) -> str:
    """20 digits from SHA-256 of the identity, with a non-zero first digit so no system can
    shorten it by reading it as a number (DOKU wants a numeric string, docs/doku-api.md §1)."""
    number = int.from_bytes(hashlib.sha256(identity.encode("utf-8")).digest(), "big")
    return str(10**19 + number % (9 * 10**19))


def new_payout_link_request_id() -> str:
    """A fresh numeric Request-Id (Payout Link requires digits, §1): 20 digits, no leading 0."""
    return str(secrets.choice(range(1, 10))) + "".join(
        str(secrets.randbelow(10)) for _ in range(19)
    )


def _payout_link_envelope(data: Mapping[str, Any]) -> bool:
    """Payout Link wraps results in ``{"status": "0", "message": "Success", "data": …}``
    (docs/doku-api.md §4)."""
    return str(data.get("status")) == "0"


PAYOUT_LINK_PRODUCT = Product(
    name="payout-link",
    title="Payout Link",
    request_ids=RequestIdRule(
        pattern=re.compile(r"[0-9]{1,64}"),
        rule="digits only",
        derive=_numeric_id,
        fresh=new_payout_link_request_id,
    ),
    fixed_scheme=None,
    signs_responses=False,  # DOKU documents no response signature for Payout Link
    success=_payout_link_envelope,
    status_lookup=StatusLookup(
        path="/v1/payout/status",
        body=lambda reference: dumps_exact({"transaction_id": reference}),
        answer_fields=(
            AnswerField("data", "reference_id", None, "reference_id", required=True),
            AnswerField("data", "amount", None, "amount", compare="amount"),
            AnswerField("data", "currency", None, "currency"),
        ),
    ),
    accepted_statuses=frozenset(
        (*states.PROGRESS, states.State.COMPLETED, states.State.FAILED, states.State.EXPIRED)
    ),
    retry_keeps_reference=False,
    # Request-Ids are only unique within a WIB day: a rejected re-send proves only that
    # this send was not executed; the first send may have been.
    resend_rejection_is_proof=False,
)

# --- Sub Account v1 ------------------------------------------------------------------------


SUB_ACCOUNT_V1 = Product(
    name="sub-account",
    title="Sub Account",
    request_ids=RequestIdRule(
        pattern=re.compile(r"[!-~]{1,128}"),  # docs/doku-api.md §1: any unique string, max 128
        rule="1–128 printable characters",
        derive=lambda identity: str(uuid.uuid5(REQUEST_ID_NAMESPACE, identity)),
        fresh=lambda: str(uuid.uuid4()),
    ),
    fixed_scheme=HmacSha256Auth.scheme,
    signs_responses=True,
    success=lambda data: True,
    status_lookup=None,  # Sub Account v1 has no look-up: a same-id re-send is the question
    accepted_statuses=frozenset((states.State.SUCCESS, states.State.FAILED)),
    retry_keeps_reference=True,
    # An invoice number is unique for ever: a re-send after an executed first send is
    # answered by a 409 replay or DUPLICATE_REFERENCE.
    resend_rejection_is_proof=True,
)

PRODUCTS: dict[str, Product] = {p.name: p for p in (PAYOUT_LINK_PRODUCT, SUB_ACCOUNT_V1)}


def product_named(name: str) -> Product:
    try:
        return PRODUCTS[name]
    except KeyError:
        raise KeyError(f"unknown DOKU product {name!r}; one of {', '.join(PRODUCTS)}") from None


def product_of(kind: Kind) -> Product:
    return PRODUCTS[kind.product]
