"""codes.py: the response → outcome table, row by row (pure; the client tests cover the wire)."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from typing import Any

import pytest

from batchpay.config import Secret
from batchpay.doku import codes
from batchpay.doku.codes import TABLE, Failure, OutcomeClass, from_failure
from batchpay.doku.responses import from_response
from batchpay.kinds import ProductName

NOW = datetime(2026, 11, 21, 6, 0, 0, tzinfo=UTC)

LINK_OK = {
    "status": "0",
    "message": "Success",
    "timestamp": "x",
    "data": {
        "reference_id": "BONUS-1",
        "payout_link_id": "PL-1",
        "payout_link_url": "https://l/1",
        "payout_status": "PENDING",
        "amount": 1500,
        "currency": "IDR",
    },
}
PAYOUT_OK = {"account": {"id": "SAC-1"}, "payout": {"invoice_number": "INV-1", "status": "SUCCESS"}}
ERR_422 = {"error": {"code": "INSUFFICIENT_BALANCE", "message": "Balance is too low"}}


def _resp(
    status: int,
    body: Any = None,
    *,
    product: ProductName = "sub-account",
    signature: str = "ok",
    retry_after: str | None = None,
    raw: bytes | None = None,
    hint: str = "",
) -> Any:
    data = raw if raw is not None else json.dumps(body).encode()
    return from_response(
        product=product,
        http_status=status,
        body=data,
        signature=signature,  # type: ignore[arg-type]
        retry_after_header=retry_after,
        now=NOW,
        retry_after_cap=120,
        auth_hint=hint,
    )


def test_from_response_201_account_accepted_with_status_and_id() -> None:
    out = _resp(201, {"account": {"id": "SAC-9914-1", "status": "PENDING"}})
    assert (out.klass, out.status, out.ids["account_id"]) == (
        OutcomeClass.ACCEPTED,
        "PENDING",
        "SAC-9914-1",
    )
    assert out.code is None and not out.replayed


def test_from_response_200_payout_link_envelope_accepted_with_link_ids() -> None:
    out = _resp(200, LINK_OK, product="payout-link", signature="n/a")
    assert out.klass is OutcomeClass.ACCEPTED
    assert out.status == "PENDING"
    assert out.ids["payout_link_id"] == "PL-1"
    assert out.ids["payout_link_url"] == "https://l/1"


def test_from_response_200_payout_link_nonzero_status_is_unknown() -> None:
    out = _resp(200, {"status": "5", "message": "Failed"}, product="payout-link", signature="n/a")
    assert out.klass is OutcomeClass.UNKNOWN
    assert out.code == "STATUS_5"
    assert "may have executed" in out.message and "Failed" in out.message


@pytest.mark.parametrize(
    ("body", "status"),
    [
        (PAYOUT_OK, "SUCCESS"),
        ({"transfer": {"invoice_number": "T-1", "status": "SUCCESS"}}, "SUCCESS"),
        ({"account": {"id": "SAC-1", "status": "ACTIVE"}}, "ACTIVE"),
    ],
)
def test_from_response_200_business_status_extracted(body: dict[str, Any], status: str) -> None:
    assert _resp(200, body).status == status


@pytest.mark.parametrize("signature", ["bad", "absent"])
def test_from_response_2xx_sub_account_unverified_signature_is_unknown(signature: str) -> None:
    out = _resp(200, PAYOUT_OK, signature=signature)
    assert (out.klass, out.code) == (OutcomeClass.UNKNOWN, "bad-signature")
    assert out.data is None  # never hand out an unverified body


def test_from_response_2xx_unparsable_body_is_unknown() -> None:
    out = _resp(200, raw=b"<html>proxy</html>")
    assert (out.klass, out.code) == (OutcomeClass.UNKNOWN, "unparsable-body")
    assert "proxy" in out.message


def test_from_response_409_replay_of_success_is_accepted_replayed() -> None:
    out = _resp(409, PAYOUT_OK)
    assert (out.klass, out.replayed, out.status) == (OutcomeClass.ACCEPTED, True, "SUCCESS")


def test_from_response_409_replay_of_payout_link_success_is_accepted() -> None:
    out = _resp(409, LINK_OK, product="payout-link", signature="n/a")
    assert (out.klass, out.replayed, out.ids["payout_link_id"]) == (
        OutcomeClass.ACCEPTED,
        True,
        "PL-1",
    )


def test_from_response_409_replay_of_rejection_is_rejected_replayed() -> None:
    out = _resp(409, ERR_422)
    assert (out.klass, out.replayed, out.code) == (
        OutcomeClass.REJECTED,
        True,
        "INSUFFICIENT_BALANCE",
    )


def test_from_response_409_replay_of_server_error_is_unknown() -> None:
    out = _resp(409, {"error": {"code": "INTERNAL_ERROR", "message": "x"}})
    assert out.klass is OutcomeClass.UNKNOWN


def test_from_response_409_unparsable_is_unknown() -> None:
    assert _resp(409, raw=b"").klass is OutcomeClass.UNKNOWN


def test_from_response_409_bad_signature_is_unknown() -> None:
    assert _resp(409, PAYOUT_OK, signature="bad").code == "bad-signature"


@pytest.mark.parametrize(
    ("status", "code", "flags"),
    [
        (400, "INVALID_FIELD", (False, False)),
        (401, "INVALID_SIGNATURE", (True, False)),
        (404, "ACCOUNT_NOT_FOUND", (False, True)),
        (422, "INSUFFICIENT_BALANCE", (False, False)),
    ],
)
def test_from_response_4xx_proving_non_execution_is_rejected_with_doku_code(
    status: int, code: str, flags: tuple[bool, bool]
) -> None:
    out = _resp(status, {"error": {"code": code, "message": "DOKU says no"}}, signature="absent")
    assert (out.klass, out.code) == (OutcomeClass.REJECTED, code)
    assert (out.auth_failed, out.not_found) == flags
    assert "DOKU says no" in out.message
    assert not out.may_have_executed


def test_from_response_4xx_with_bad_signature_is_unknown() -> None:
    out = _resp(400, {"error": {"code": "X", "message": "y"}}, signature="bad")
    assert out.klass is OutcomeClass.UNKNOWN


def test_from_response_401_with_bad_signature_is_unknown_but_auth_failed() -> None:
    out = _resp(
        401,
        {"error": {"code": "INVALID_SIGNATURE", "message": "no"}},
        signature="bad",
        hint="check BATCHPAY_CLIENT_ID",
    )
    assert (out.klass, out.auth_failed, out.code) == (
        OutcomeClass.UNKNOWN,
        True,
        "INVALID_SIGNATURE",
    )
    assert "BATCHPAY_SECRET_KEY is probably wrong" in out.message


def test_from_response_404_html_body_still_rejected_with_http_code() -> None:
    out = _resp(404, raw=b"<html>Not Found</html>", signature="absent")
    assert (out.klass, out.code, out.not_found) == (OutcomeClass.REJECTED, "http-404", True)


def test_from_response_401_carries_auth_hint() -> None:
    out = _resp(
        401,
        {"error": {"code": "UNAUTHORIZED", "message": "bad sig"}},
        product="payout-link",
        signature="n/a",
        hint="set BATCHPAY_X=y",
    )
    assert out.auth_failed and out.message.endswith("set BATCHPAY_X=y")


@pytest.mark.parametrize(
    ("header", "expected"),
    [("3", 3.0), ("9999", 120.0), ("Sat, 21 Nov 2026 06:00:30 GMT", 30.0), (None, None)],
)
def test_from_response_429_rate_limited_with_retry_after(
    header: str | None, expected: float | None
) -> None:
    out = _resp(
        429,
        {"error": {"code": "RATE_LIMITED", "message": "slow down"}},
        signature="absent",
        retry_after=header,
    )
    assert (out.klass, out.retry_after) == (OutcomeClass.RATE_LIMITED, expected)


@pytest.mark.parametrize("status", [500, 502, 503, 504])
def test_from_response_5xx_is_unknown(status: int) -> None:
    out = _resp(status, raw=b"Bad Gateway", signature="absent")
    assert (out.klass, out.code) == (OutcomeClass.UNKNOWN, f"http-{status}")
    assert out.may_have_executed


@pytest.mark.parametrize("status", [301, 302, 403, 405, 408, 418])
def test_from_response_undocumented_status_is_unknown(status: int) -> None:
    assert _resp(status, raw=b"", signature="absent").klass is OutcomeClass.UNKNOWN


@pytest.mark.parametrize(
    ("failure", "klass"),
    [
        (Failure.CONNECT_FAILED, OutcomeClass.NOT_SENT),
        (Failure.CONNECT_TIMEOUT, OutcomeClass.NOT_SENT),
        (Failure.TIMEOUT, OutcomeClass.UNKNOWN),
        (Failure.CONNECTION_RESET, OutcomeClass.UNKNOWN),
        (Failure.NETWORK_ERROR, OutcomeClass.UNKNOWN),
        (Failure.BAD_SIGNATURE, OutcomeClass.UNKNOWN),
        (Failure.UNPARSABLE, OutcomeClass.UNKNOWN),
    ],
)
def test_from_failure_maps_to_class_and_code(failure: Failure, klass: OutcomeClass) -> None:
    out = from_failure(failure, "detail")
    assert (out.klass, out.code, out.http_status, out.data) == (klass, str(failure), None, None)


def test_table_every_failure_has_a_row() -> None:
    assert set(Failure) <= set(TABLE)


def test_from_response_message_never_contains_remembered_secret() -> None:
    secret = Secret("SK-ECHOED-BY-A-PROXY-1234")
    out = _resp(
        400, {"error": {"code": "X", "message": f"bad key {secret.reveal()}"}}, signature="absent"
    )
    assert secret.reveal() not in out.message and "********" in out.message


def test_outcome_to_dict_is_json_ready() -> None:
    out = _resp(201, {"account": {"id": "SAC-1", "status": "PENDING"}})
    assert json.loads(json.dumps(out.to_dict()))["klass"] == "accepted"


# --- issue 8, finding 1: which rejections prove nothing was executed ---------------------------


def _error(code: str, status: int = 400) -> bytes:
    return json.dumps({"error": {"code": code, "message": "m"}}).encode()


@pytest.mark.parametrize(
    "code", ["DUPLICATE_REFERENCE", "REFERENCE_ALREADY_EXISTS", "DUPLICATE_INVOICE_NUMBER"]
)
@pytest.mark.parametrize("status", [400, 409])
def test_from_response_duplicate_reference_is_unknown_reference_exists(code, status) -> None:
    out = from_response(
        product="payout-link", http_status=status, body=_error(code), signature="n/a", now=NOW
    )
    assert out.klass is OutcomeClass.UNKNOWN
    assert out.reference_exists and out.may_have_executed and not out.proves_not_executed
    assert "already holds this reference" in out.message


@pytest.mark.parametrize(
    ("code", "proves"),
    [
        ("INVALID_FIELD", True),
        ("INSUFFICIENT_BALANCE", True),
        ("ACCOUNT_NOT_FOUND", True),
        ("INVALID_JSON", True),
        ("DUPLICATE_REFERENCE", False),
        ("REQUEST_ID_REUSED", False),
        ("INTERNAL_ERROR", False),
        ("timeout", False),
        ("answer-mismatch", False),
        ("connection-reset", False),
        (None, False),
        ("", False),
    ],
)
def test_proves_not_executed_code_table(code, proves) -> None:
    assert codes.proves_not_executed_code(code) is proves


def test_rejected_field_error_proves_not_executed() -> None:
    out = from_response(
        product="payout-link",
        http_status=400,
        body=_error("INVALID_FIELD"),
        signature="n/a",
        now=NOW,
    )
    assert out.klass is OutcomeClass.REJECTED and out.proves_not_executed
    assert not out.reference_exists
