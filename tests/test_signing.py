"""Signing: the reference vectors of docs/doku-api.md §2, tamper detection, constant-time checks.

Every vector below is copied verbatim from ``docs/doku-api.md`` §2; if one of
them stops reproducing, DOKU would reject every request we sign.
"""

from __future__ import annotations

import hmac
from collections.abc import Callable, Iterator
from typing import Any

import pytest

from batchpay.doku import signing

SECRET = "SK-TESTSECRET-0000000000"
CLIENT_ID = "MCH-0001-10791114622547"

N1: dict[str, Any] = {
    "client_id": CLIENT_ID,
    "request_id": "b6a465ea-bb65-48b2-a22b-3e8fb51cf22e",
    "timestamp": "2020-08-11T08:45:42Z",
    "method": "POST",
    "target": "/sac-merchant/v1/accounts",
    "body": b'{"account":{"email":"test2@doku.com","type":"STANDARD","name":"nama2"}}',
}
N1_DIGEST = "lUZZ83FRIzxc78zY2fblrbteaCO6a4vK68Z8m7qGldw="
N1_SIGNATURE = "HMACSHA256=pKHp8E1lJXgUACpmyQ6YsyteKVKthvGCq+ELqv3g2jI="

N2: dict[str, Any] = {
    "client_id": CLIENT_ID,
    "request_id": "d895fb53-479c-4f77-a76a-ab81b40d77cb",
    "timestamp": "2020-08-11T08:45:42Z",
    "method": "GET",
    "target": "/sac-merchant/v1/balances/SAC-7549-1645676098163",
    "body": None,
}
N2_SIGNATURE = "HMACSHA256=TC8aUUDtut4lWfAa4WKjkn9+CkfCL4XKdlk+1DhS27s="

N6: dict[str, Any] = {
    "client_id": CLIENT_ID,
    "request_id": "5f0f7a4e-7c1f-4e43-9b0e-2d7a4b8c9e10",
    "timestamp": "2024-01-15T03:04:05Z",
    "method": "POST",
    "target": "/sac-merchant/v1/payouts",
    "body": (
        b'{"account":{"id":"SAC-0001-1234567890123"},"payout":{"amount":50000,'
        b'"invoice_number":"PO-2024-0001"},"beneficiary":{"bank_code":"BNINIDJA",'
        b'"bank_account_number":"0123456789","bank_account_name":"Budi Santoso"}}'
    ),
}
N6_SIGNATURE = "HMACSHA256=eoJlfbSfV5QF1PaZc4yLFbeos5AGTKRQ0gi4tc6kPBc="

R1: dict[str, Any] = {
    "client_id": CLIENT_ID,
    "request_id": N1["request_id"],
    "response_timestamp": "2020-08-11T08:45:43Z",
    "target": "/sac-merchant/v1/accounts",
    "body": b'{"account":{"id":"SAC-0001-1234567890123"}}',
}
R1_SIGNATURE = "HMACSHA256=Opd6qoQ1cUKuIR6rHZOb5bo05Tq8oWrC5l+3tSuh/Lc="

SNAP: dict[str, Any] = {
    "client_id": CLIENT_ID,
    "request_id": "1234567890",
    "timestamp": "2020-12-21T07:50:11Z",
    "method": "POST",
    "target": "/v1/payout/initiate",
    "body": (
        b'{"amount":11500,"sender_name":"Firman","receiver_name":"Toru Yamashita",'
        b'"receiver_phone_number":"62816291271826","receiver_email":"toru@example.com",'
        b'"reference_id":"PAY_83921251","description":"Payout for bonus 2023","currency":"IDR"}'
    ),
}
SNAP_STRING = (
    "POST:/v1/payout/initiate:"
    "355718f2a0509489d26b0dee19fa2e27e14c4f267bd597f6d92250b2e9e7a112:2020-12-21T07:50:11Z"
)
SNAP_SIGNATURE = (
    "ty/UEz3Kc7cWWvMJboAvV2R7prACKoj5F4P0eznPOCkHbQIU6mbLpyv8KS+Xo7cTmTlxsgiwfWKARhYii9UFXg=="
)

MUTATIONS_PER_INPUT = 12


def _mutations(value: str | bytes, count: int = MUTATIONS_PER_INPUT) -> Iterator[Any]:
    """``count`` distinct single-byte mutations of ``value``, spread over its whole length.

    Each flips the lowest bit of one byte (``a``↔``` ` ``, ``0``↔``1``, ``-``↔``,``) so the
    result is still printable ASCII and only one byte differs — the smallest tamper there is.
    """
    raw = value.encode("utf-8") if isinstance(value, str) else value
    assert len(raw) >= 1
    seen: set[bytes] = set()
    positions = [round(i * (len(raw) - 1) / max(count - 1, 1)) for i in range(count)]
    # Short inputs cannot give `count` distinct positions; add a second flip pattern.
    for pos in positions + list(range(len(raw))):
        for flip in (0x01, 0x02, 0x04):
            mutated = bytearray(raw)
            mutated[pos] ^= flip
            if bytes(mutated) not in seen and bytes(mutated) != raw:
                seen.add(bytes(mutated))
                break
        if len(seen) == count:
            break
    assert len(seen) == count
    for item in sorted(seen):
        yield item.decode("latin-1") if isinstance(value, str) else item


def _request_kwargs(vector: dict[str, Any], scheme: signing.Scheme) -> dict[str, Any]:
    return {"scheme": scheme, "secret_key": SECRET, **vector}


# --- the reference vectors ------------------------------------------------------------------


def test_body_digest_n1_matches_reference() -> None:
    assert signing.body_digest(N1["body"]) == N1_DIGEST


@pytest.mark.parametrize(
    ("vector", "expected"),
    [(N1, N1_SIGNATURE), (N2, N2_SIGNATURE), (N6, N6_SIGNATURE)],
    ids=["N1-create-account", "N2-balance-get", "N6-payout"],
)
def test_sign_request_sub_account_vectors_reproduce_exactly(
    vector: dict[str, Any], expected: str
) -> None:
    assert signing.sign_request(**_request_kwargs(vector, "hmac-sha256")) == expected


def test_sign_request_get_without_body_has_no_digest_line() -> None:
    component = signing.component_string(
        client_id=CLIENT_ID,
        request_id=N2["request_id"],
        timestamp=N2["timestamp"],
        target=N2["target"],
        body=None,
    )
    assert "Digest" not in component
    assert component.count("\n") == 3
    assert not component.endswith("\n")


def test_sign_response_r1_reproduces_exactly() -> None:
    assert signing.sign_response(secret_key=SECRET, **R1) == R1_SIGNATURE


def test_snap_string_to_sign_payout_link_vector_reproduces_exactly() -> None:
    assert signing.snap_string_to_sign("POST", SNAP["target"], SNAP["body"], SNAP["timestamp"]) == (
        SNAP_STRING
    )


def test_sign_request_payout_link_snap_vector_reproduces_exactly() -> None:
    assert signing.sign_request(**_request_kwargs(SNAP, "snap-hmac-sha512")) == SNAP_SIGNATURE


@pytest.mark.parametrize(
    ("vector", "scheme", "signature"),
    [
        (N1, "hmac-sha256", N1_SIGNATURE),
        (N2, "hmac-sha256", N2_SIGNATURE),
        (N6, "hmac-sha256", N6_SIGNATURE),
        (SNAP, "snap-hmac-sha512", SNAP_SIGNATURE),
    ],
    ids=["N1", "N2", "N6", "SNAP"],
)
def test_verify_request_reference_vectors_accepted(
    vector: dict[str, Any], scheme: signing.Scheme, signature: str
) -> None:
    assert signing.verify_request(signature, **_request_kwargs(vector, scheme)) is True


def test_verify_response_r1_accepted() -> None:
    assert signing.verify_response(R1_SIGNATURE, secret_key=SECRET, **R1) is True


def test_sign_request_unknown_scheme_raises_value_error() -> None:
    with pytest.raises(ValueError, match="unknown signature scheme"):
        signing.sign_request(**_request_kwargs(N1, "rsa"))  # type: ignore[arg-type]


def test_format_timestamp_wib_time_converts_to_utc_without_millis() -> None:
    from datetime import datetime, timedelta, timezone

    wib = timezone(timedelta(hours=7))
    assert signing.format_timestamp(datetime(2020, 8, 11, 8, 51, 0, 123456, tzinfo=wib)) == (
        "2020-08-11T01:51:00Z"
    )


# --- tampering: every single-byte change of every input is rejected ----------------------------

# (vector, scheme, signature, inputs covered by that scheme). The SNAP string to sign
# (docs/doku-api.md §2.2) covers method, path, body and timestamp only — not Client-Id or
# Request-Id — so those two are tampered under the HMACSHA256 vectors.
REQUEST_CASES: list[tuple[str, dict[str, Any], signing.Scheme, str, tuple[str, ...]]] = [
    (
        "N1",
        N1,
        "hmac-sha256",
        N1_SIGNATURE,
        ("client_id", "request_id", "timestamp", "target", "body", "secret_key"),
    ),
    (
        "N2",
        N2,
        "hmac-sha256",
        N2_SIGNATURE,
        ("client_id", "request_id", "timestamp", "target", "secret_key"),
    ),
    (
        "N6",
        N6,
        "hmac-sha256",
        N6_SIGNATURE,
        ("client_id", "request_id", "timestamp", "target", "body", "secret_key"),
    ),
    (
        "SNAP",
        SNAP,
        "snap-hmac-sha512",
        SNAP_SIGNATURE,
        ("timestamp", "target", "body", "secret_key"),
    ),
]


def _request_tamper_cases() -> Iterator[Any]:
    for name, vector, scheme, signature, inputs in REQUEST_CASES:
        for field in inputs:
            yield pytest.param(vector, scheme, signature, field, id=f"{name}-{field}")


@pytest.mark.parametrize(("vector", "scheme", "signature", "field"), list(_request_tamper_cases()))
def test_verify_request_single_byte_mutation_rejected(
    vector: dict[str, Any], scheme: signing.Scheme, signature: str, field: str
) -> None:
    kwargs = _request_kwargs(vector, scheme)
    rejected = 0
    for mutated in _mutations(kwargs[field]):
        assert signing.verify_request(signature, **{**kwargs, field: mutated}) is False, mutated
        rejected += 1
    assert rejected >= MUTATIONS_PER_INPUT


@pytest.mark.parametrize(
    ("vector", "scheme", "signature"),
    [(N1, "hmac-sha256", N1_SIGNATURE), (SNAP, "snap-hmac-sha512", SNAP_SIGNATURE)],
    ids=["N1", "SNAP"],
)
def test_verify_request_single_byte_mutation_of_signature_rejected(
    vector: dict[str, Any], scheme: signing.Scheme, signature: str
) -> None:
    kwargs = _request_kwargs(vector, scheme)
    for mutated in _mutations(signature):
        assert signing.verify_request(mutated, **kwargs) is False, mutated


@pytest.mark.parametrize(
    "field", ["client_id", "request_id", "response_timestamp", "target", "body", "secret_key"]
)
def test_verify_response_single_byte_mutation_rejected(field: str) -> None:
    kwargs = {"secret_key": SECRET, **R1}
    rejected = 0
    for mutated in _mutations(kwargs[field]):
        assert signing.verify_response(R1_SIGNATURE, **{**kwargs, field: mutated}) is False
        rejected += 1
    assert rejected >= MUTATIONS_PER_INPUT


def test_verify_response_single_byte_mutation_of_signature_rejected() -> None:
    for mutated in _mutations(R1_SIGNATURE):
        assert signing.verify_response(mutated, secret_key=SECRET, **R1) is False


def test_verify_request_snap_scheme_does_not_cover_request_id() -> None:
    """Documents a property of the chosen SNAP string (§2.2): the Request-Id is not signed,
    so idempotency keys are protected by TLS only under ``snap-hmac-sha512``."""
    kwargs = _request_kwargs(SNAP, "snap-hmac-sha512")
    assert signing.verify_request(SNAP_SIGNATURE, **{**kwargs, "request_id": "999"}) is True


@pytest.mark.parametrize("signature", [None, "", "HMACSHA256=", "not-base64-☃"])
def test_verify_request_missing_or_garbage_signature_rejected(signature: str | None) -> None:
    assert signing.verify_request(signature, **_request_kwargs(N1, "hmac-sha256")) is False


@pytest.mark.parametrize("signature", [None, "", "HMACSHA256=☃"])
def test_verify_response_missing_or_garbage_signature_rejected(signature: str | None) -> None:
    assert signing.verify_response(signature, secret_key=SECRET, **R1) is False


# --- constant-time comparison ---------------------------------------------------------------


@pytest.fixture
def compare_calls(monkeypatch: pytest.MonkeyPatch) -> list[tuple[bytes, bytes]]:
    """Record every ``hmac.compare_digest`` call the signing module makes."""
    calls: list[tuple[bytes, bytes]] = []
    real: Callable[[bytes, bytes], bool] = hmac.compare_digest

    def recording(a: bytes, b: bytes) -> bool:
        calls.append((a, b))
        return real(a, b)

    monkeypatch.setattr(signing.hmac, "compare_digest", recording)
    return calls


@pytest.mark.parametrize("good", [True, False], ids=["match", "mismatch"])
def test_verify_request_uses_compare_digest(
    compare_calls: list[tuple[bytes, bytes]], good: bool
) -> None:
    signature = N1_SIGNATURE if good else N1_SIGNATURE[:-2] + "x="
    assert signing.verify_request(signature, **_request_kwargs(N1, "hmac-sha256")) is good
    assert compare_calls == [(N1_SIGNATURE.encode(), signature.encode())]


@pytest.mark.parametrize("good", [True, False], ids=["match", "mismatch"])
def test_verify_response_uses_compare_digest(
    compare_calls: list[tuple[bytes, bytes]], good: bool
) -> None:
    signature = R1_SIGNATURE if good else "HMACSHA256=" + "A" * 44
    assert signing.verify_response(signature, secret_key=SECRET, **R1) is good
    assert compare_calls == [(R1_SIGNATURE.encode(), signature.encode())]


def test_verify_request_snap_uses_compare_digest(
    compare_calls: list[tuple[bytes, bytes]],
) -> None:
    assert signing.verify_request(SNAP_SIGNATURE, **_request_kwargs(SNAP, "snap-hmac-sha512"))
    assert len(compare_calls) == 1
