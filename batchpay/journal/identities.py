"""Who and when: run ids, the deterministic Request-Id of every attempt of a row, the
operator's name, and the clock (UTC, and Jakarta time for months)."""

from __future__ import annotations

import getpass
import secrets
from collections.abc import Callable
from datetime import UTC, datetime, timedelta, timezone

from batchpay.doku.products import REQUEST_ID_NAMESPACE as REQUEST_ID_NAMESPACE
from batchpay.doku.products import product_named

Clock = Callable[[], datetime]

# Western Indonesia Time has no daylight saving: a fixed offset is exact.
WIB = timezone(timedelta(hours=7), "WIB")


def utc_now() -> datetime:
    return datetime.now(UTC)


def iso(moment: datetime) -> str:
    return moment.astimezone(UTC).isoformat(timespec="milliseconds")


def new_run_id(now: datetime, *, token: str | None = None) -> str:
    """Sortable, readable: ``20261121-054512-ab12`` (UTC time of creation + 4 random hex)."""
    return f"{now.astimezone(UTC):%Y%m%d-%H%M%S}-{token or secrets.token_hex(2)}"


def request_id_for(product: str, run_id: str, row_number: int, reference: str, attempt: int) -> str:
    """The deterministic Request-Id of one attempt of one row, by the product's rule
    (:meth:`batchpay.doku.products.Product.request_id_for`: a UUID5 for Sub Account, 20
    digits for Payout Link)."""
    return product_named(product).request_id_for(run_id, row_number, reference, attempt)


def current_operator() -> str:
    try:
        return getpass.getuser()
    except (KeyError, OSError):  # no passwd entry (containers)
        return "unknown"
