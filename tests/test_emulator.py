"""The DOKU emulator over real sockets: endpoints, authentication, idempotency, money,
Payout Link lifecycle, faults, persistence and the admin report.

Requests are built by hand with ``requests`` + ``batchpay.doku.signing`` (not the client), so
these tests pin the emulator's contract independently of the client under construction.
"""

from __future__ import annotations

import json
import socket
import threading
import time
from collections.abc import Iterator
from datetime import UTC, datetime
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest
import requests

from batchpay.cli import main
from batchpay.doku import signing
from batchpay.emulator import (
    EMULATOR_CLIENT_ID,
    EMULATOR_SECRET_KEY,
    AdminError,
    EmulatorAdmin,
    EmulatorHandle,
    start_emulator,
)
from batchpay.emulator.rules import link_status
from batchpay.errors import UsageError
from batchpay.kinds import dumps_exact

ACCOUNTS = "/sac-merchant/v1/accounts"
PAYOUTS = "/sac-merchant/v1/payouts"
TRANSFERS = "/sac-merchant/v1/transfers"
INITIATE = "/v1/payout/initiate"
STATUS = "/v1/payout/status"
PAYMENT = "/checkout/v1/payment"
SAC = "SAC-0001-1234567890123"
SAC2 = "SAC-0002-1234567890124"


class Clock:
    """A settable wall clock shared by the emulator and the signer."""

    def __init__(self) -> None:
        self.now = time.time()

    def __call__(self) -> float:
        return self.now


class Caller:
    """Signs and sends DOKU requests the way the docs say (exact bytes, fresh timestamp)."""

    def __init__(self, emu: EmulatorHandle, session: requests.Session, clock: Clock) -> None:
        self.url, self.session, self.clock = emu.url, session, clock
        self.counter = 0

    def next_id(self, path: str) -> str:
        self.counter += 1
        return f"{10**12 + self.counter}" if path.startswith("/v1/") else f"rid-{self.counter}"

    def send(
        self,
        method: str,
        path: str,
        body: Any = None,
        *,
        request_id: str | None = None,
        scheme: signing.Scheme | None = None,
        sign_path: str | None = None,
        sign_body: bytes | None = None,
        headers: dict[str, str] | None = None,
        secret: str = EMULATOR_SECRET_KEY,
        skew: float = 0.0,
        timeout: float = 10.0,
    ) -> requests.Response:
        raw = body if isinstance(body, bytes) or body is None else dumps_exact(body)
        rid = request_id if request_id is not None else self.next_id(path)
        stamp = signing.format_timestamp(datetime.fromtimestamp(self.clock() + skew, UTC))
        chosen = scheme or ("snap-hmac-sha512" if path.startswith("/v1/") else "hmac-sha256")
        signature = signing.sign_request(
            scheme=chosen,
            secret_key=secret,
            client_id=EMULATOR_CLIENT_ID,
            request_id=rid,
            timestamp=stamp,
            method=method,
            target=sign_path or path,
            body=sign_body if sign_body is not None else raw,
        )
        sent = {
            "Client-Id": EMULATOR_CLIENT_ID,
            "Request-Id": rid,
            "Request-Timestamp": stamp,
            "Signature": signature,
            "Content-Type": "application/json",
            **(headers or {}),
        }
        return self.session.request(
            method, self.url + path, data=raw, headers=sent, timeout=timeout
        )

    def post(self, path: str, body: Any, **kwargs: Any) -> requests.Response:
        return self.send("POST", path, body, **kwargs)

    def balance(self, account_id: str) -> requests.Response:
        return self.send("GET", f"/sac-merchant/v1/balances/{account_id}")


def payout_body(invoice: str = "INV-1", amount: int = 500, account: str = SAC) -> dict[str, Any]:
    return {
        "account": {"id": account},
        "payout": {"amount": amount, "invoice_number": invoice},
        "beneficiary": {
            "bank_code": "BNINIDJA",
            "bank_account_number": "0123456789",
            "bank_account_name": "Budi Santoso",
        },
    }


def link_body(reference: str = "PAY-1", email: str = "toru@example.com") -> dict[str, Any]:
    return {
        "amount": 11500,
        "sender_name": "Firman",
        "receiver_name": "Toru",
        "receiver_phone_number": "62816291271826",
        "receiver_email": email,
        "reference_id": reference,
        "currency": "IDR",
    }


def signature_ok(response: requests.Response, target: str) -> bool:
    return signing.verify_response(
        response.headers.get("Signature"),
        secret_key=EMULATOR_SECRET_KEY,
        client_id=response.headers["Client-Id"],
        request_id=response.headers["Request-Id"],
        response_timestamp=response.headers["Response-Timestamp"],
        target=target,
        body=response.content,
    )


def error_code(response: requests.Response) -> str:
    code: str = response.json()["error"]["code"]
    return code


@pytest.fixture
def clock() -> Clock:
    return Clock()


@pytest.fixture
def emu(clock: Clock) -> Iterator[EmulatorHandle]:
    with start_emulator(
        link_step_seconds=10, activation_seconds=5, settlement_seconds=5, clock=clock
    ) as handle:
        yield handle


@pytest.fixture
def doku(emu: EmulatorHandle, clock: Clock) -> Iterator[Caller]:
    with requests.Session() as session:
        yield Caller(emu, session, clock)


@pytest.fixture
def funded(emu: EmulatorHandle) -> EmulatorHandle:
    emu.admin.fund(SAC, 10_000)
    emu.admin.fund(SAC2, 100)
    return emu


# --- endpoints: happy paths -----------------------------------------------------------------


def test_start_emulator_port_zero_serves_health_on_free_port(emu: EmulatorHandle) -> None:
    assert emu.port > 0
    assert emu.admin.health()["ok"] is True


def test_account_create_new_email_created_pending_and_signed(doku: Caller) -> None:
    response = doku.post(
        ACCOUNTS,
        {"account": {"email": "toko@example.com", "type": "STANDARD", "name": "Toko Sejahtera"}},
    )
    assert response.status_code == 201
    account = response.json()["account"]
    assert account["status"] == "PENDING" and account["id"].startswith("SAC-")
    assert response.headers["Request-Id"] == "rid-1"
    assert signature_ok(response, ACCOUNTS)


def test_payout_funded_account_succeeds_and_debits(funded: EmulatorHandle, doku: Caller) -> None:
    response = doku.post(PAYOUTS, payout_body(amount=2_500))
    assert response.status_code == 200
    assert response.json()["payout"]["status"] == "SUCCESS"
    assert signature_ok(response, PAYOUTS)
    assert funded.admin.account(SAC)["balance"]["available"] == "7500"


def test_transfer_funded_origin_moves_money_to_destination(
    funded: EmulatorHandle, doku: Caller
) -> None:
    response = doku.post(
        TRANSFERS,
        {
            "transfer": {
                "origin": SAC,
                "destination": SAC2,
                "amount": 4_000,
                "invoice_number": "TRF-1",
            }
        },
    )
    assert response.status_code == 200
    assert response.json()["transfer"]["status"] == "SUCCESS"
    assert funded.admin.account(SAC)["balance"]["available"] == "6000"
    assert funded.admin.account(SAC2)["balance"]["available"] == "4100"


def test_balance_known_account_answers_strings_signed(funded: EmulatorHandle, doku: Caller) -> None:
    response = doku.balance(SAC)
    assert response.status_code == 200
    assert response.json()["balance"] == {"pending": "0", "available": "10000"}
    assert signature_ok(response, f"/sac-merchant/v1/balances/{SAC}")


def test_payout_link_initiate_valid_body_answers_envelope(doku: Caller) -> None:
    response = doku.post(INITIATE, link_body())
    assert response.status_code == 200
    envelope = response.json()
    assert (envelope["status"], envelope["message"]) == ("0", "Success")
    data = envelope["data"]
    assert set(data) == {
        "reference_id",
        "payout_link_id",
        "payout_link_url",
        "payout_status",
        "amount",
        "currency",
        "expired_date",
    }
    assert (data["reference_id"], data["payout_status"], data["amount"]) == (
        "PAY-1",
        "PENDING",
        11500,
    )


def test_payout_link_status_known_reference_answers_current_status(
    doku: Caller, clock: Clock
) -> None:
    doku.post(INITIATE, link_body())
    clock.now += 10  # one step
    response = doku.post(STATUS, {"transaction_id": "PAY-1"})
    assert response.status_code == 200
    assert response.json()["data"]["payout_status"] == "EMAIL_SENT"


def test_payout_link_status_unknown_reference_is_404(doku: Caller) -> None:
    assert doku.post(STATUS, {"transaction_id": "NOPE"}).status_code == 404


def test_payment_routed_to_account_lands_pending_then_available(
    funded: EmulatorHandle, doku: Caller, clock: Clock
) -> None:
    body = {
        "order": {"amount": 600_000, "invoice_number": "ORDER-1"},
        "additional_info": {"account": {"id": SAC2}},
    }
    assert doku.post(PAYMENT, body).status_code == 200
    assert doku.balance(SAC2).json()["balance"] == {"pending": "600000", "available": "100"}
    clock.now += 5
    assert doku.balance(SAC2).json()["balance"] == {"pending": "0", "available": "600100"}


def test_payment_unknown_account_is_404(doku: Caller) -> None:
    body = {
        "order": {"amount": 1, "invoice_number": "O"},
        "additional_info": {"account": {"id": "SAC-NOPE"}},
    }
    assert doku.post(PAYMENT, body).status_code == 404


# --- authentication -------------------------------------------------------------------------


@pytest.mark.parametrize("tamper", ["body", "request-id", "path", "secret", "client-id"])
def test_sub_account_request_tampered_is_401(
    funded: EmulatorHandle, doku: Caller, tamper: str
) -> None:
    body = dumps_exact(payout_body())
    kwargs: dict[str, Any] = {}
    if tamper == "body":
        kwargs["sign_body"] = body.replace(b"500", b"501")
    elif tamper == "request-id":
        kwargs["headers"] = {"Request-Id": "rid-other"}
    elif tamper == "path":
        kwargs["sign_path"] = TRANSFERS
    elif tamper == "secret":
        kwargs["secret"] = EMULATOR_SECRET_KEY + "x"
    else:
        kwargs["headers"] = {"Client-Id": "MCH-0001-99999999999999"}
    response = doku.post(PAYOUTS, body, **kwargs)
    assert response.status_code == 401
    assert funded.admin.executed()["count"] == 0


@pytest.mark.parametrize("skew", [-301.0, 301.0])
def test_request_timestamp_skew_over_five_minutes_is_401(doku: Caller, skew: float) -> None:
    response = doku.post(INITIATE, link_body(), skew=skew)
    assert (response.status_code, error_code(response)) == (401, "INVALID_TIMESTAMP")


def test_request_timestamp_skew_within_five_minutes_is_accepted(doku: Caller) -> None:
    assert doku.post(INITIATE, link_body(), skew=-299).status_code == 200


def test_payout_link_wrong_scheme_is_401_naming_the_scheme(doku: Caller) -> None:
    response = doku.post(INITIATE, link_body(), scheme="hmac-sha256")
    assert response.status_code == 401
    assert "snap-hmac-sha512" in response.json()["error"]["message"]


def test_payout_link_hmac_scheme_configured_accepts_hmac_signature(clock: Clock) -> None:
    with (
        start_emulator(payout_link_signature="hmac-sha256", clock=clock) as emu,
        requests.Session() as session,
    ):
        caller = Caller(emu, session, clock)
        assert caller.post(INITIATE, link_body(), scheme="hmac-sha256").status_code == 200
        assert caller.post(INITIATE, link_body("PAY-2")).status_code == 401


@pytest.mark.parametrize(("path", "request_id"), [(INITIATE, "abc-123"), (ACCOUNTS, "x" * 129)])
def test_request_id_wrong_format_for_product_is_400(
    doku: Caller, path: str, request_id: str
) -> None:
    body = (
        link_body()
        if path == INITIATE
        else {"account": {"email": "a@b.co", "type": "DEFAULT", "name": "Toko"}}
    )
    response = doku.post(path, body, request_id=request_id)
    assert (response.status_code, error_code(response)) == (400, "INVALID_REQUEST_ID")


# --- idempotency ----------------------------------------------------------------------------


def test_replay_same_id_same_body_is_409_with_original_body(
    funded: EmulatorHandle, doku: Caller
) -> None:
    first = doku.post(PAYOUTS, payout_body(), request_id="rid-A")
    replay = doku.post(PAYOUTS, payout_body(), request_id="rid-A")
    assert (first.status_code, replay.status_code) == (200, 409)
    assert replay.content == first.content
    assert signature_ok(replay, PAYOUTS)
    assert funded.admin.executed()["count"] == 1
    assert funded.admin.account(SAC)["balance"]["available"] == "9500"


def test_replay_same_id_different_body_is_400_request_id_reused(
    funded: EmulatorHandle, doku: Caller
) -> None:
    doku.post(PAYOUTS, payout_body(amount=500), request_id="rid-A")
    response = doku.post(PAYOUTS, payout_body(amount=501), request_id="rid-A")
    assert (response.status_code, error_code(response)) == (400, "REQUEST_ID_REUSED")
    assert funded.admin.executed()["count"] == 1


def test_replay_of_a_rejection_is_409_with_the_rejection_body(
    funded: EmulatorHandle, doku: Caller
) -> None:
    first = doku.post(PAYOUTS, payout_body(amount=99_999), request_id="rid-A")
    funded.admin.fund(SAC, 100_000)
    replay = doku.post(PAYOUTS, payout_body(amount=99_999), request_id="rid-A")
    assert (first.status_code, replay.status_code) == (422, 409)
    assert replay.content == first.content


def test_payout_link_duplicate_reference_new_request_id_is_400(doku: Caller) -> None:
    assert doku.post(INITIATE, link_body()).status_code == 200
    response = doku.post(INITIATE, link_body())
    assert (response.status_code, error_code(response)) == (400, "DUPLICATE_REFERENCE")


def test_payout_link_request_id_reused_next_wib_day_is_new_request(
    doku: Caller, clock: Clock
) -> None:
    doku.post(INITIATE, link_body(), request_id="777")
    clock.now += 86_400  # "unique within the same day" (docs/doku-api.md §3)
    response = doku.post(INITIATE, link_body(), request_id="777")
    assert (response.status_code, error_code(response)) == (400, "DUPLICATE_REFERENCE")


# --- money and field limits -----------------------------------------------------------------


def test_payout_short_balance_is_422_and_nothing_moves(
    funded: EmulatorHandle, doku: Caller
) -> None:
    response = doku.post(PAYOUTS, payout_body(amount=10_001))
    assert (response.status_code, error_code(response)) == (422, "INSUFFICIENT_BALANCE")
    assert funded.admin.account(SAC)["balance"]["available"] == "10000"
    assert funded.admin.executed()["count"] == 0


def test_payout_unknown_account_is_404(doku: Caller) -> None:
    response = doku.post(PAYOUTS, payout_body(account="SAC-9999-0000000000000"))
    assert (response.status_code, error_code(response)) == (404, "ACCOUNT_NOT_FOUND")


@pytest.mark.parametrize(
    ("path", "body", "field"),
    [
        (
            PAYOUTS,
            {**payout_body(), "payout": {"amount": 5, "invoice_number": "I" * 101}},
            "payout.invoice_number",
        ),
        (
            PAYOUTS,
            {**payout_body(), "payout": {"amount": "5", "invoice_number": "I"}},
            "payout.amount",
        ),
        (
            PAYOUTS,
            {**payout_body(), "payout": {"amount": 10**12, "invoice_number": "I"}},
            "payout.amount",
        ),
        (
            PAYOUTS,
            {
                **payout_body(),
                "beneficiary": {
                    "bank_code": "BNINIDJA",
                    "bank_account_number": "01-23",
                    "bank_account_name": "Budi",
                },
            },
            "beneficiary.bank_account_number",
        ),
        (
            PAYOUTS,
            {
                **payout_body(),
                "beneficiary": {
                    "bank_code": "BNINIDJA",
                    "bank_account_number": "0123",
                    "bank_account_name": "Budi 2",
                },
            },
            "beneficiary.bank_account_name",
        ),
        (
            TRANSFERS,
            {"transfer": {"origin": SAC, "destination": SAC, "amount": 1, "invoice_number": "T"}},
            "transfer.destination",
        ),
        (INITIATE, {**link_body(), "description": "d" * 31}, "description"),
        (
            INITIATE,
            {**link_body(), "receiver_phone_number": "0816291271826"},
            "receiver_phone_number",
        ),
        (INITIATE, {**link_body(), "reference_id": "R" * 31}, "reference_id"),
        (INITIATE, {**link_body(), "amount": 0}, "amount"),
        (
            ACCOUNTS,
            {"account": {"email": "a@b.co", "type": "GOLD", "name": "Toko"}},
            "account.type",
        ),
    ],
)
def test_field_beyond_kinds_limit_is_400_naming_the_field(
    funded: EmulatorHandle, doku: Caller, path: str, body: dict[str, Any], field: str
) -> None:
    response = doku.post(path, body)
    assert (response.status_code, error_code(response)) == (400, "INVALID_FIELD")
    assert response.json()["error"]["field"] == field


def test_payout_link_amount_with_three_decimals_is_400(doku: Caller) -> None:
    body = json.dumps(link_body()).replace("11500", "11500.125").encode()
    response = doku.post(INITIATE, body)
    assert (response.status_code, error_code(response)) == (400, "INVALID_FIELD")


def test_body_not_json_is_400_invalid_json(doku: Caller) -> None:
    response = doku.post(PAYOUTS, b"{not json")
    assert (response.status_code, error_code(response)) == (400, "INVALID_JSON")


# --- lifecycles -----------------------------------------------------------------------------


def test_account_pending_cannot_pay_until_active(
    emu: EmulatorHandle, doku: Caller, clock: Clock
) -> None:
    created = doku.post(
        ACCOUNTS, {"account": {"email": "t@example.com", "type": "STANDARD", "name": "Toko"}}
    ).json()["account"]
    emu.admin.fund(created["id"], 1_000)
    response = doku.post(PAYOUTS, payout_body("INV-1", 100, created["id"]))
    assert (response.status_code, error_code(response)) == (422, "ACCOUNT_NOT_ACTIVE")
    clock.now += 5  # activation_seconds
    assert doku.balance(created["id"]).json()["account"]["status"] == "ACTIVE"
    assert doku.post(PAYOUTS, payout_body("INV-2", 100, created["id"])).status_code == 200


def test_admin_activate_pending_account_is_active_at_once(
    emu: EmulatorHandle, doku: Caller
) -> None:
    created = doku.post(
        ACCOUNTS, {"account": {"email": "t@example.com", "type": "STANDARD", "name": "Toko"}}
    ).json()["account"]
    assert emu.admin.activate(created["id"])["status"] == "ACTIVE"


@pytest.mark.parametrize(
    ("email", "expected"),
    [
        (
            "toru@example.com",
            ["PENDING", "EMAIL_SENT", "EMAIL_LINK_OPENED", "CONFIRMED", "COMPLETED", "COMPLETED"],
        ),
        (
            "toru+fail@example.com",
            [
                "PENDING",
                "EMAIL_SENT",
                "EMAIL_LINK_OPENED",
                "CONFIRMED",
                "PENDING_PROCESS",
                "FAILED",
                "FAILED",
            ],
        ),
        ("toru+expire@example.com", ["PENDING", "EMAIL_SENT", "EXPIRED", "EXPIRED"]),
    ],
)
def test_payout_link_status_advances_per_step_to_its_ending(
    doku: Caller, clock: Clock, email: str, expected: list[str]
) -> None:
    doku.post(INITIATE, link_body(email=email))
    seen = []
    for _ in expected:
        seen.append(doku.post(STATUS, {"transaction_id": "PAY-1"}).json()["data"]["payout_status"])
        clock.now += 10
    assert seen == expected


def test_link_status_real_small_step_reaches_completed() -> None:
    assert link_status("a@example.com", elapsed=0.45, step_seconds=0.1) == "COMPLETED"
    assert link_status("a@example.com", elapsed=0.15, step_seconds=0.1) == "EMAIL_SENT"


# --- faults ---------------------------------------------------------------------------------


def _payouts(doku: Caller, n: int, **kwargs: Any) -> list[requests.Response | Exception]:
    out: list[requests.Response | Exception] = []
    for i in range(n):
        try:
            out.append(
                doku.post(PAYOUTS, payout_body(f"INV-{i}", 100), request_id=f"rid-P{i}", **kwargs)
            )
        except requests.RequestException as exc:
            out.append(exc)
    return out


def _statuses(results: list[requests.Response | Exception]) -> list[int | str]:
    return [
        r.status_code if isinstance(r, requests.Response) else type(r).__name__ for r in results
    ]


def test_fault_error_500_before_hits_nth_and_does_not_execute(
    funded: EmulatorHandle, doku: Caller
) -> None:
    funded.admin.queue_fault("error-500-before", op="payout", nth=2)
    assert _statuses(_payouts(doku, 3)) == [200, 500, 200]
    executed = funded.admin.executed()
    assert [i["reference"] for i in executed["items"]] == ["INV-0", "INV-2"]
    retry = doku.post(PAYOUTS, payout_body("INV-1", 100), request_id="rid-P1")
    assert retry.status_code == 200  # not remembered: the same id can still execute


def test_fault_error_500_after_executes_and_replay_gives_original(
    funded: EmulatorHandle, doku: Caller
) -> None:
    funded.admin.queue_fault("error-500-after", op="payout", nth=2)
    assert _statuses(_payouts(doku, 2)) == [200, 500]
    assert funded.admin.executed()["count"] == 2
    replay = doku.post(PAYOUTS, payout_body("INV-1", 100), request_id="rid-P1")
    assert replay.status_code == 409
    assert replay.json()["payout"]["status"] == "SUCCESS"


def test_fault_drop_after_third_payout_closes_without_response(
    funded: EmulatorHandle, doku: Caller
) -> None:
    funded.admin.queue_fault("drop-after", op="payout", nth=3)
    assert _statuses(_payouts(doku, 4)) == [200, 200, "ConnectionError", 200]
    assert funded.admin.executed()["count"] == 4


def test_fault_nth_counts_only_executed_requests_of_that_op(
    funded: EmulatorHandle, doku: Caller
) -> None:
    funded.admin.queue_fault("drop-after", op="payout", nth=2)
    assert doku.post(PAYOUTS, payout_body("BIG", 10**6)).status_code == 422  # not executed
    transfer = {
        "transfer": {"origin": SAC, "destination": SAC2, "amount": 1, "invoice_number": "T"}
    }
    assert doku.post(TRANSFERS, transfer).status_code == 200  # other op
    assert _statuses(_payouts(doku, 3)) == [200, "ConnectionError", 200]


def test_fault_count_two_fires_on_two_consecutive_matches(
    funded: EmulatorHandle, doku: Caller
) -> None:
    funded.admin.queue_fault("error-503", op="payout", nth=2, count=2)
    assert _statuses(_payouts(doku, 4)) == [200, 503, 503, 200]
    assert funded.admin.faults() == []


def test_fault_timeout_after_executes_then_answers_late(
    funded: EmulatorHandle, doku: Caller
) -> None:
    funded.admin.queue_fault("timeout-after", op="payout", seconds=1.0)
    with pytest.raises(requests.ReadTimeout):
        doku.post(PAYOUTS, payout_body(), timeout=0.3)
    assert funded.admin.executed()["count"] == 1


def test_fault_rate_limit_429_carries_retry_after(funded: EmulatorHandle, doku: Caller) -> None:
    funded.admin.queue_fault("rate-limit-429", seconds=7)
    response = doku.post(PAYOUTS, payout_body())
    assert (response.status_code, response.headers["Retry-After"]) == (429, "7")
    assert funded.admin.executed()["count"] == 0


def test_fault_bad_signature_valid_body_signature_fails(
    funded: EmulatorHandle, doku: Caller
) -> None:
    funded.admin.queue_fault("bad-signature", op="payout")
    response = doku.post(PAYOUTS, payout_body())
    assert response.status_code == 200 and response.json()["payout"]["status"] == "SUCCESS"
    assert not signature_ok(response, PAYOUTS)
    assert signature_ok(doku.balance(SAC), f"/sac-merchant/v1/balances/{SAC}")


def test_fault_status_not_found_hides_new_link_for_seconds(
    emu: EmulatorHandle, doku: Caller, clock: Clock
) -> None:
    emu.admin.queue_fault("status-not-found", op="payout-link", seconds=3)
    assert doku.post(INITIATE, link_body()).status_code == 200
    assert doku.post(STATUS, {"transaction_id": "PAY-1"}).status_code == 404
    clock.now += 3
    assert doku.post(STATUS, {"transaction_id": "PAY-1"}).status_code == 200


def test_fault_hold_after_holds_executed_response_until_release(
    funded: EmulatorHandle, doku: Caller
) -> None:
    funded.admin.queue_fault("hold-after", op="payout")
    result: list[requests.Response] = []
    sender = threading.Thread(target=lambda: result.append(doku.post(PAYOUTS, payout_body())))
    sender.start()
    deadline = time.monotonic() + 5
    while funded.admin.health()["held"] < 1 and time.monotonic() < deadline:
        time.sleep(0.02)
    assert funded.admin.executed()["count"] == 1 and not result
    assert funded.admin.release() == 1
    sender.join(timeout=5)
    assert result[0].status_code == 200


def test_fault_latency_delays_the_answer(funded: EmulatorHandle, doku: Caller) -> None:
    funded.admin.queue_fault("latency", op="balance", seconds=0.3)
    started = time.monotonic()
    assert doku.balance(SAC).status_code == 200
    assert time.monotonic() - started >= 0.3


def test_fault_clear_faults_removes_queued_faults(funded: EmulatorHandle, doku: Caller) -> None:
    funded.admin.queue_fault("error-503")
    funded.admin.clear_faults()
    assert doku.balance(SAC).status_code == 200


def test_fault_unknown_name_is_refused_by_admin(emu: EmulatorHandle) -> None:
    with pytest.raises(AdminError, match="unknown fault") as refused:
        emu.admin.queue_fault("explode")
    assert refused.value.http_status == 400


def _seeded_run(clock: Clock, seed: int) -> list[int | str]:
    rates: dict[str, float | tuple[float, float]] = {"error-503": 0.3, "error-500-after": 0.3}
    with (
        start_emulator(seed=seed, fault_rates=rates, clock=clock) as emu,
        requests.Session() as session,
    ):
        emu.admin.fund(SAC, 10**6)
        return _statuses(_payouts(Caller(emu, session, clock), 30))


def test_fault_rates_same_seed_same_fault_sequence(clock: Clock) -> None:
    first = _seeded_run(clock, 7)
    assert first == _seeded_run(clock, 7)
    assert {503, 500, 200} <= set(first)


# --- persistence, the executed report, robustness --------------------------------------------


def test_state_file_survives_restart(tmp_path: Path, clock: Clock) -> None:
    state = tmp_path / "doku.sqlite"
    with start_emulator(state_path=state, clock=clock) as emu, requests.Session() as session:
        caller = Caller(emu, session, clock)
        emu.admin.fund(SAC, 1_000)
        first = caller.post(PAYOUTS, payout_body(amount=300), request_id="rid-A")
        caller.post(INITIATE, link_body(), request_id="42")
    with start_emulator(state_path=state, clock=clock) as emu, requests.Session() as session:
        caller = Caller(emu, session, clock)
        assert emu.admin.account(SAC)["balance"]["available"] == "700"
        replay = caller.post(PAYOUTS, payout_body(amount=300), request_id="rid-A")
        assert (replay.status_code, replay.content) == (409, first.content)
        assert caller.post(STATUS, {"transaction_id": "PAY-1"}).status_code == 200
        assert emu.admin.executed()["count"] == 2


def test_executed_report_counts_amounts_and_references(
    funded: EmulatorHandle, doku: Caller
) -> None:
    doku.post(PAYOUTS, payout_body("INV-1", 1_000), request_id="rid-A")
    doku.post(PAYOUTS, payout_body("INV-1", 1_000), request_id="rid-A")  # replay
    doku.post(PAYOUTS, payout_body("INV-1", 1_000))  # duplicate invoice: rejected
    doku.post(INITIATE, {**link_body(), "amount": Decimal("2500.50")})
    report = funded.admin.executed()
    assert (report["count"], report["amount"], report["max_per_reference"]) == (2, "3500.50", 1)
    item = report["items"][0]
    assert {k: item[k] for k in ("op", "request_id", "reference", "amount", "account_id")} == {
        "op": "payout",
        "request_id": "rid-A",
        "reference": "INV-1",
        "amount": "1000",
        "account_id": SAC,
    }
    assert funded.admin.executed("payout-link")["amount"] == "2500.50"


def test_malformed_raw_request_is_400_and_server_keeps_serving(
    emu: EmulatorHandle, doku: Caller
) -> None:
    for garbage in (
        b"NOT HTTP AT ALL\r\n\r\n",
        b"POST /v1/payout/initiate HTTP/1.1\r\nContent-Length: x\r\n\r\n",
        b"POST /v1/payout/initiate HTTP/1.1\r\nContent-Length: 99999999\r\n\r\n",
    ):
        with socket.create_connection((emu.host, emu.port), timeout=5) as sock:
            sock.sendall(garbage)
            assert sock.recv(100).split(b" ")[1] in (b"400", b"413")
    assert doku.post(INITIATE, link_body()).status_code == 200
    assert emu.admin.health()["internal_errors"] == 0


def test_unknown_path_is_404_and_wrong_method_is_405(doku: Caller) -> None:
    assert doku.post("/v2/nothing", {}).status_code == 404
    assert doku.send("GET", PAYOUTS).status_code == 405


def test_requests_log_nothing_to_stderr(
    funded: EmulatorHandle, doku: Caller, capfd: pytest.CaptureFixture[str]
) -> None:
    doku.post(PAYOUTS, payout_body())
    doku.post(PAYOUTS, b"{bad")
    assert capfd.readouterr().err == ""


def test_start_emulator_non_loopback_host_is_refused() -> None:
    with pytest.raises(UsageError, match="non-loopback"):
        start_emulator(host="192.0.2.1")


def test_cli_emulator_fund_puts_money_in_running_emulator(
    emu: EmulatorHandle, capsys: pytest.CaptureFixture[str]
) -> None:
    with pytest.raises(SystemExit) as exit_info:
        main(["emulator", "fund", SAC, "5000000", "--url", emu.url])
    assert exit_info.value.code == 0
    assert "EMULATOR" in capsys.readouterr().out
    assert emu.admin.account(SAC)["balance"]["available"] == "5000000"


def test_cli_emulator_public_host_without_force_exits_2(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as exit_info:
        main(["emulator", "--host", "192.0.2.1"])
    assert exit_info.value.code == 2
    assert "--i-know-this-is-public" in capsys.readouterr().err


def test_start_emulator_unknown_signature_scheme_is_usage_error() -> None:
    with pytest.raises(UsageError, match="unknown payout link signature scheme"):
        start_emulator(payout_link_signature="md5")  # type: ignore[arg-type]


def test_admin_fund_bad_amount_is_400_bad_admin_request(emu: EmulatorHandle) -> None:
    with pytest.raises(AdminError, match="BAD_ADMIN_REQUEST") as refused:
        emu.admin.fund(SAC, "12.5")
    assert (refused.value.http_status, refused.value.method, refused.value.path) == (
        400,
        "POST",
        "fund",
    )


def test_admin_unreachable_emulator_has_no_http_status() -> None:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        url = f"http://127.0.0.1:{sock.getsockname()[1]}"  # bound, never listening
        with pytest.raises(AdminError, match="cannot reach the emulator") as unreachable:
            EmulatorAdmin(url, timeout=2).health()
    assert (unreachable.value.http_status, unreachable.value.url) == (None, url)


@pytest.mark.parametrize("rate", ["nonsense", "explode=0.5", "error-503=2"])
def test_cli_emulator_bad_fault_rate_exits_2(rate: str, capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as exit_info:
        main(["emulator", "--port", "0", "--fault-rate", rate])
    assert exit_info.value.code == 2
    assert "Traceback" not in capsys.readouterr().err
