"""DokuClient ↔ emulator over real sockets: every endpoint, every fault of the contract's
catalogue (queued through the admin endpoint), every outcome class, the open_gateway wiring
and the gateway CLI commands.

The admin endpoint is driven over HTTP (its JSON is the contract, architecture.md), and the
emulator's ``/_emulator/executed`` list is the gateway's truth for "did it execute?".
"""

from __future__ import annotations

import http.server
import socket
import threading
import time
import uuid
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
import requests

from batchpay.config import load_settings
from batchpay.doku import EMULATOR_STATE_FILE, make_session, open_gateway
from batchpay.doku.client import DokuClient, _failure_of
from batchpay.doku.codes import Failure, Outcome, OutcomeClass
from batchpay.emulator import EMULATOR_CLIENT_ID, EMULATOR_SECRET_KEY, start_emulator
from batchpay.kinds import (
    PAYOUT_LINK,
    SUB_ACCOUNT_CREATE,
    SUB_ACCOUNT_PAYOUT,
    SUB_ACCOUNT_TRANSFER,
    build_body,
)

SOURCE = "SAC-0001-1000000000001"
DEST = "SAC-0001-1000000000002"


# --- fixtures and helpers ---------------------------------------------------------------------


class Admin:
    """The admin endpoint over HTTP (architecture.md "Emulator contracts")."""

    def __init__(self, url: str) -> None:
        self.url = url
        self.http = requests.Session()
        self.http.trust_env = False

    def post(self, path: str, payload: dict[str, Any] | None = None) -> Any:
        response = self.http.post(self.url + path, json=payload or {}, timeout=10)
        assert response.status_code < 300, response.text
        return response.json()

    def fault(
        self,
        name: str,
        op: str | None = None,
        *,
        nth: int | None = None,
        seconds: float | None = None,
        count: int = 1,
    ) -> None:
        self.post(
            "/_emulator/faults",
            {"fault": name, "op": op, "nth": nth, "count": count, "seconds": seconds},
        )

    def executed(self) -> dict[str, Any]:
        return self.http.get(self.url + "/_emulator/executed", timeout=10).json()  # type: ignore[no-any-return]

    def fund(self, account_id: str, amount: int) -> None:
        self.post("/_emulator/fund", {"account_id": account_id, "amount": amount})

    def reset(self) -> None:
        self.post("/_emulator/reset")
        response = self.http.delete(self.url + "/_emulator/faults", timeout=10)
        assert response.status_code < 300


@pytest.fixture(scope="module")
def emu(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Any]:
    state = tmp_path_factory.mktemp("emu") / "state.sqlite"
    handle = start_emulator(port=0, state_path=state, seed=1, link_step_seconds=60.0)
    try:
        yield handle
    finally:
        handle.stop()


@pytest.fixture
def admin(emu: Any) -> Admin:
    admin = Admin(emu.url)
    admin.reset()
    return admin


@pytest.fixture
def sent() -> list[requests.PreparedRequest]:
    return []


def _client(
    url: str, sent: list[requests.PreparedRequest] | None = None, **kwargs: Any
) -> DokuClient:
    session = make_session(trust_env=False)
    if sent is not None:
        # A response hook sees the exact PreparedRequest that went over the wire.
        session.hooks["response"].append(lambda r, *a, **k: sent.append(r.request))
    options: dict[str, Any] = {
        "client_id": EMULATOR_CLIENT_ID,
        "secret_key": EMULATOR_SECRET_KEY,
        "timeout": (2.0, 5.0),
    }
    options.update(kwargs)
    return DokuClient(base_url=url, session=session, **options)


@pytest.fixture
def client(emu: Any, admin: Admin, sent: list[requests.PreparedRequest]) -> DokuClient:
    return _client(emu.url, sent)


def _check(outcome: Outcome, klass: OutcomeClass) -> Outcome:
    """Assert the class, and that no outcome ever carries the secret."""
    assert outcome.klass is klass, outcome
    assert EMULATOR_SECRET_KEY not in repr(outcome)
    return outcome


def _payout_body(invoice: str, amount: int = 50_000, account: str = SOURCE) -> bytes:
    return build_body(
        SUB_ACCOUNT_PAYOUT,
        {
            "account_id": account,
            "amount": str(amount),
            "invoice_number": invoice,
            "bank_code": "BNINIDJA",
            "bank_account_number": "0123456789",
            "bank_account_name": "Budi Santoso",
        },
    )


def _link_body(reference: str, email: str = "siti@example.com") -> bytes:
    return build_body(
        PAYOUT_LINK,
        {
            "amount": "1500000.50",
            "sender_name": "PT Maju Jaya",
            "receiver_name": "Siti Rahayu",
            "receiver_phone_number": "6281234567890",
            "receiver_email": email,
            "reference_id": reference,
            "description": "Bonus",
            "currency": "IDR",
        },
    )


def _rid() -> str:
    return str(uuid.uuid4())


def _numeric_rid() -> str:
    return str(uuid.uuid4().int)[:20]


# --- every endpoint, accepted ------------------------------------------------------------------


def test_create_account_new_email_accepted_pending_with_id(
    client: DokuClient, admin: Admin
) -> None:
    body = build_body(
        SUB_ACCOUNT_CREATE,
        {"email": "toko@example.com", "type": "STANDARD", "name": "Toko Sejahtera"},
    )
    out = _check(client.create_account(_rid(), body), OutcomeClass.ACCEPTED)
    assert (out.http_status, out.status) == (201, "PENDING")
    assert out.ids["account_id"].startswith("SAC-")
    assert admin.executed()["count"] == 1


def test_send_account_kind_routes_to_create_account(client: DokuClient) -> None:
    body = build_body(
        SUB_ACCOUNT_CREATE, {"email": "a@example.com", "type": "DEFAULT", "name": "Toko"}
    )
    assert (
        _check(client.send(SUB_ACCOUNT_CREATE, _rid(), body), OutcomeClass.ACCEPTED).http_status
        == 201
    )


def test_payout_funded_account_accepted_success_and_body_sent_byte_exact(
    client: DokuClient, admin: Admin, sent: list[requests.PreparedRequest]
) -> None:
    admin.fund(SOURCE, 100_000)
    body, rid = _payout_body("INV-1"), _rid()
    out = _check(client.send(SUB_ACCOUNT_PAYOUT, rid, body), OutcomeClass.ACCEPTED)
    assert (out.status, out.ids["invoice_number"]) == ("SUCCESS", "INV-1")
    assert sent[-1].body == body
    assert sent[-1].headers["Request-Id"] == rid
    assert sent[-1].headers["Signature"].startswith("HMACSHA256=")
    executed = admin.executed()
    assert (executed["count"], executed["items"][0]["reference"]) == (1, "INV-1")


def test_transfer_between_accounts_accepted_success(client: DokuClient, admin: Admin) -> None:
    admin.fund(SOURCE, 100_000)
    admin.fund(DEST, 1)
    body = build_body(
        SUB_ACCOUNT_TRANSFER,
        {"origin": SOURCE, "destination": DEST, "amount": "25000", "invoice_number": "TRF-1"},
    )
    out = _check(client.send(SUB_ACCOUNT_TRANSFER, _rid(), body), OutcomeClass.ACCEPTED)
    assert out.status == "SUCCESS"
    balance = _check(client.balance(DEST), OutcomeClass.ACCEPTED)
    assert balance.data is not None
    assert balance.data["balance"]["available"] == "25001"


def test_balance_funded_account_accepted_as_strings(
    client: DokuClient, admin: Admin, sent: list[requests.PreparedRequest]
) -> None:
    admin.fund(SOURCE, 1_700_500)
    out = _check(client.balance(SOURCE), OutcomeClass.ACCEPTED)
    assert out.data is not None
    assert out.data["balance"] == {"pending": "0", "available": "1700500"}
    assert sent[-1].method == "GET" and sent[-1].body is None


def test_balance_malformed_account_id_raises_value_error(client: DokuClient) -> None:
    with pytest.raises(ValueError, match="not a DOKU Sub Account id"):
        client.balance("../accounts")


def test_initiate_payout_link_snap_accepted_with_link_ids(
    client: DokuClient, admin: Admin, sent: list[requests.PreparedRequest]
) -> None:
    out = _check(
        client.send(PAYOUT_LINK, _numeric_rid(), _link_body("BONUS-1")), OutcomeClass.ACCEPTED
    )
    assert out.status == "PENDING"
    assert out.ids["reference_id"] == "BONUS-1"
    assert out.ids["payout_link_url"]
    assert not sent[-1].headers["Signature"].startswith("HMACSHA256=")  # SNAP, no prefix
    assert admin.executed()["items"][0]["op"] == "payout-link"


def test_payout_link_status_known_reference_accepted_with_fresh_numeric_ids(
    client: DokuClient, sent: list[requests.PreparedRequest]
) -> None:
    initiate_id = _numeric_rid()
    _check(client.initiate_payout_link(initiate_id, _link_body("BONUS-2")), OutcomeClass.ACCEPTED)
    first = _check(client.payout_link_status("BONUS-2"), OutcomeClass.ACCEPTED)
    _check(client.payout_link_status("BONUS-2"), OutcomeClass.ACCEPTED)
    assert first.status == "PENDING"
    ids = [r.headers["Request-Id"] for r in sent[-2:]]
    assert all(i.isdigit() for i in ids)
    assert len({initiate_id, *ids}) == 3
    assert sent[-1].body == b'{"transaction_id":"BONUS-2"}'


def test_payout_link_status_unknown_reference_rejected_not_found(client: DokuClient) -> None:
    out = _check(client.payout_link_status("NEVER-SENT"), OutcomeClass.REJECTED)
    assert out.not_found and out.http_status == 404


def test_payout_link_hmac_sha256_scheme_accepted_by_matching_emulator(tmp_path: Path) -> None:
    with start_emulator(
        port=0, state_path=tmp_path / "s.sqlite", payout_link_signature="hmac-sha256"
    ) as handle:
        client = _client(handle.url, payout_link_signature="hmac-sha256")
        _check(
            client.initiate_payout_link(_numeric_rid(), _link_body("BONUS-3")),
            OutcomeClass.ACCEPTED,
        )


def test_payout_link_scheme_mismatch_401_names_scheme_and_switch(tmp_path: Path) -> None:
    with start_emulator(
        port=0, state_path=tmp_path / "s.sqlite", payout_link_signature="hmac-sha256"
    ) as handle:
        client = _client(handle.url)  # snap-hmac-sha512, the default
        out = _check(
            client.initiate_payout_link(_numeric_rid(), _link_body("BONUS-4")),
            OutcomeClass.REJECTED,
        )
    assert out.auth_failed and out.http_status == 401
    assert "snap-hmac-sha512" in out.message
    assert "BATCHPAY_PAYOUT_LINK_SIGNATURE=hmac-sha256" in out.message


def test_payout_link_non_numeric_request_id_raises_value_error(client: DokuClient) -> None:
    with pytest.raises(ValueError, match="digits only"):
        client.initiate_payout_link(_rid(), _link_body("BONUS-5"))


def test_send_body_not_bytes_raises_type_error(client: DokuClient) -> None:
    with pytest.raises(TypeError, match="exact bytes"):
        client.payout(_rid(), '{"a":1}')  # type: ignore[arg-type]


# --- rejections ------------------------------------------------------------------------------


def test_payout_wrong_secret_rejected_auth_failed_without_leaking_secret(
    emu: Any, admin: Admin
) -> None:
    wrong = "SK-WRONG-SECRET-999999"
    client = _client(emu.url, secret_key=wrong)
    # DOKU's genuine 401 cannot verify under a wrong key either: not trusted as proof of
    # non-execution (UNKNOWN), but flagged so the batch stops.
    out = _check(client.payout(_rid(), _payout_body("INV-401")), OutcomeClass.UNKNOWN)
    assert out.auth_failed and out.http_status == 401 and out.data is None
    assert "BATCHPAY_SECRET_KEY is probably wrong" in out.message
    assert wrong not in out.message and wrong not in repr(client)
    assert admin.executed()["count"] == 0


def test_request_timestamp_from_stale_clock_rejected_401(
    emu: Any, admin: Admin, sent: list[requests.PreparedRequest]
) -> None:
    stale = datetime(2020, 8, 11, 8, 45, 42, tzinfo=UTC)
    client = _client(emu.url, sent, clock=lambda: stale)
    out = _check(client.balance(SOURCE), OutcomeClass.REJECTED)
    assert out.auth_failed
    assert sent[-1].headers["Request-Timestamp"] == "2020-08-11T08:45:42Z"


def test_payout_invalid_field_rejected_with_doku_code(client: DokuClient, admin: Admin) -> None:
    admin.fund(SOURCE, 100_000)
    body = _payout_body("INV-400").replace(b"BNINIDJA", b"BNI-123!")
    out = _check(client.payout(_rid(), body), OutcomeClass.REJECTED)
    assert (out.http_status, out.code) == (400, "INVALID_FIELD")
    assert "bank_code" in out.message


def test_payout_short_balance_rejected_422(client: DokuClient, admin: Admin) -> None:
    admin.fund(SOURCE, 10)
    out = _check(client.payout(_rid(), _payout_body("INV-422")), OutcomeClass.REJECTED)
    assert (out.http_status, out.code) == (422, "INSUFFICIENT_BALANCE")
    assert admin.executed()["count"] == 0


def test_payout_unknown_account_rejected_not_found(client: DokuClient) -> None:
    out = _check(
        client.payout(_rid(), _payout_body("INV-404", account="SAC-0009-9")), OutcomeClass.REJECTED
    )
    assert out.not_found and out.code == "ACCOUNT_NOT_FOUND"


def test_balance_unknown_account_rejected_not_found(client: DokuClient) -> None:
    assert _check(client.balance("SAC-0009-9"), OutcomeClass.REJECTED).not_found


# --- idempotency: 409 replays ------------------------------------------------------------------


def test_payout_resend_same_id_and_body_replayed_409_executed_once(
    client: DokuClient, admin: Admin
) -> None:
    admin.fund(SOURCE, 100_000)
    rid, body = _rid(), _payout_body("INV-409")
    first = _check(client.payout(rid, body), OutcomeClass.ACCEPTED)
    again = _check(client.payout(rid, body), OutcomeClass.ACCEPTED)
    assert (again.http_status, again.replayed, again.status) == (409, True, "SUCCESS")
    assert again.ids == first.ids
    assert admin.executed()["count"] == 1


def test_payout_link_resend_same_id_replayed_409(client: DokuClient, admin: Admin) -> None:
    rid, body = _numeric_rid(), _link_body("BONUS-409")
    _check(client.initiate_payout_link(rid, body), OutcomeClass.ACCEPTED)
    again = _check(client.initiate_payout_link(rid, body), OutcomeClass.ACCEPTED)
    assert again.replayed and again.ids["reference_id"] == "BONUS-409"
    assert admin.executed()["count"] == 1


def test_payout_resend_of_rejection_replayed_as_rejected(client: DokuClient, admin: Admin) -> None:
    admin.fund(SOURCE, 10)
    rid, body = _rid(), _payout_body("INV-R")
    _check(client.payout(rid, body), OutcomeClass.REJECTED)
    again = _check(client.payout(rid, body), OutcomeClass.REJECTED)
    assert (again.http_status, again.replayed, again.code) == (409, True, "INSUFFICIENT_BALANCE")


def test_payout_same_id_different_body_rejected_request_id_reused(
    client: DokuClient, admin: Admin
) -> None:
    admin.fund(SOURCE, 100_000)
    rid = _rid()
    _check(client.payout(rid, _payout_body("INV-A")), OutcomeClass.ACCEPTED)
    # Our Request-Id is known to DOKU with other content: that proves nothing about what was
    # executed under it, so it is UNKNOWN, never a retryable rejection (issue 8, finding 1).
    out = _check(client.payout(rid, _payout_body("INV-B")), OutcomeClass.UNKNOWN)
    assert out.code == "REQUEST_ID_REUSED"
    assert not out.proves_not_executed
    assert admin.executed()["count"] == 1


# --- the fault catalogue -----------------------------------------------------------------------


def test_fault_latency_still_accepted_after_delay(client: DokuClient, admin: Admin) -> None:
    admin.fund(SOURCE, 100_000)
    admin.fault("latency", "payout", seconds=0.3)
    started = time.monotonic()
    _check(client.payout(_rid(), _payout_body("INV-LAT")), OutcomeClass.ACCEPTED)
    assert time.monotonic() - started >= 0.3


def test_fault_error_500_before_unknown_then_resend_executes_once(
    client: DokuClient, admin: Admin
) -> None:
    admin.fund(SOURCE, 100_000)
    admin.fault("error-500-before", "payout")
    rid, body = _rid(), _payout_body("INV-500B")
    out = _check(client.payout(rid, body), OutcomeClass.UNKNOWN)
    assert (out.http_status, out.code) == (500, "INTERNAL_ERROR")
    assert admin.executed()["count"] == 0
    again = _check(client.payout(rid, body), OutcomeClass.ACCEPTED)
    assert not again.replayed
    assert admin.executed()["count"] == 1


def test_fault_error_500_after_unknown_then_resend_replays_original(
    client: DokuClient, admin: Admin
) -> None:
    admin.fund(SOURCE, 100_000)
    admin.fault("error-500-after", "payout")
    rid, body = _rid(), _payout_body("INV-500A")
    assert _check(client.payout(rid, body), OutcomeClass.UNKNOWN).http_status == 500
    assert admin.executed()["count"] == 1  # it DID execute: UNKNOWN, never FAILED
    again = _check(client.payout(rid, body), OutcomeClass.ACCEPTED)
    assert again.replayed and again.status == "SUCCESS"
    assert admin.executed()["count"] == 1


def test_fault_drop_after_unknown_connection_reset_then_replay(
    client: DokuClient, admin: Admin
) -> None:
    admin.fund(SOURCE, 100_000)
    admin.fault("drop-after", "payout")
    rid, body = _rid(), _payout_body("INV-DROP")
    out = _check(client.payout(rid, body), OutcomeClass.UNKNOWN)
    assert (out.code, out.http_status) == ("connection-reset", None)
    assert _check(client.payout(rid, body), OutcomeClass.ACCEPTED).replayed
    assert admin.executed()["count"] == 1


def test_fault_timeout_after_unknown_timeout_then_replay(emu: Any, admin: Admin) -> None:
    admin.fund(SOURCE, 100_000)
    client = _client(emu.url, timeout=(2.0, 0.5))
    admin.fault("timeout-after", "payout", seconds=1.5)
    rid, body = _rid(), _payout_body("INV-TO")
    out = _check(client.payout(rid, body), OutcomeClass.UNKNOWN)
    assert out.code == "timeout"
    assert admin.executed()["count"] == 1
    assert _check(client.payout(rid, body), OutcomeClass.ACCEPTED).replayed


def test_fault_error_503_unknown(client: DokuClient, admin: Admin) -> None:
    admin.fault("error-503", "balance")
    out = _check(client.balance(SOURCE), OutcomeClass.UNKNOWN)
    assert (out.http_status, out.code) == (503, "SERVICE_UNAVAILABLE")


def test_fault_rate_limit_429_rate_limited_with_retry_after(
    client: DokuClient, admin: Admin
) -> None:
    admin.fund(SOURCE, 100_000)
    admin.fault("rate-limit-429", "payout", seconds=3)
    rid, body = _rid(), _payout_body("INV-429")
    out = _check(client.payout(rid, body), OutcomeClass.RATE_LIMITED)
    assert (out.http_status, out.retry_after) == (429, 3.0)
    assert admin.executed()["count"] == 0
    assert not _check(client.payout(rid, body), OutcomeClass.ACCEPTED).replayed


def test_fault_bad_signature_unknown_and_body_not_trusted(client: DokuClient, admin: Admin) -> None:
    admin.fund(SOURCE, 100_000)
    admin.fault("bad-signature", "payout")
    rid, body = _rid(), _payout_body("INV-SIG")
    out = _check(client.payout(rid, body), OutcomeClass.UNKNOWN)
    assert (out.code, out.data, out.status) == ("bad-signature", None, None)
    assert _check(client.payout(rid, body), OutcomeClass.ACCEPTED).replayed
    assert admin.executed()["count"] == 1


def test_fault_status_not_found_rejected_not_found_then_found(
    client: DokuClient, admin: Admin
) -> None:
    admin.fault("status-not-found", "payout-link", seconds=0.6)
    _check(
        client.initiate_payout_link(_numeric_rid(), _link_body("BONUS-NF")), OutcomeClass.ACCEPTED
    )
    assert _check(client.payout_link_status("BONUS-NF"), OutcomeClass.REJECTED).not_found
    time.sleep(0.8)
    assert _check(client.payout_link_status("BONUS-NF"), OutcomeClass.ACCEPTED).status


def test_fault_hold_after_unknown_timeout_then_release_and_replay(emu: Any, admin: Admin) -> None:
    admin.fund(SOURCE, 100_000)
    client = _client(emu.url, timeout=(2.0, 0.5))
    admin.fault("hold-after", "payout")
    rid, body = _rid(), _payout_body("INV-HOLD")
    assert _check(client.payout(rid, body), OutcomeClass.UNKNOWN).code == "timeout"
    admin.post("/_emulator/release")
    assert _check(client.payout(rid, body), OutcomeClass.ACCEPTED).replayed
    assert admin.executed()["count"] == 1


def test_fault_nth_targets_third_payout_only(client: DokuClient, admin: Admin) -> None:
    admin.fund(SOURCE, 1_000_000)
    admin.fault("drop-after", "payout", nth=3)
    classes = [client.payout(_rid(), _payout_body(f"INV-N{i}")).klass for i in range(4)]
    assert classes == [
        OutcomeClass.ACCEPTED,
        OutcomeClass.ACCEPTED,
        OutcomeClass.UNKNOWN,
        OutcomeClass.ACCEPTED,
    ]


# --- failures with no DOKU response -----------------------------------------------------------


def _closed_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def test_connection_refused_not_sent_connect_failed() -> None:
    client = _client(f"http://127.0.0.1:{_closed_port()}")
    out = _check(client.payout(_rid(), _payout_body("INV-REFUSED")), OutcomeClass.NOT_SENT)
    assert out.code == "connect-failed" and not out.may_have_executed


class _OddServer(http.server.BaseHTTPRequestHandler):
    """Answers like a misbehaving proxy: HTML 200, a redirect, or a 502."""

    def do_POST(self) -> None:
        self.rfile.read(int(self.headers.get("Content-Length") or 0))
        status, extra, body = {
            "/sac-merchant/v1/payouts": (200, {}, b"<html>captive portal</html>"),
            "/v1/payout/initiate": (302, {"Location": "http://127.0.0.1:1/elsewhere"}, b""),
            "/sac-merchant/v1/transfers": (502, {}, b"<html>Bad Gateway</html>"),
        }[self.path]
        self.send_response(status)
        for name, value in extra.items():
            self.send_header(name, value)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, format: str, *args: Any) -> None:
        """Quiet."""


@pytest.fixture
def odd_url() -> Iterator[str]:
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), _OddServer)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}"
    finally:
        server.shutdown()
        server.server_close()


def test_unparsable_2xx_body_unknown(odd_url: str) -> None:
    out = _check(_client(odd_url).payout(_rid(), _payout_body("INV-HTML")), OutcomeClass.UNKNOWN)
    # Sub Account: the unsigned HTML fails verification before it is even parsed.
    assert out.code == "bad-signature"


def test_unparsable_payout_link_body_via_redirect_not_followed_unknown(odd_url: str) -> None:
    out = _check(
        _client(odd_url).initiate_payout_link(_numeric_rid(), _link_body("B-302")),
        OutcomeClass.UNKNOWN,
    )
    assert (out.http_status, out.code) == (302, "http-302")


def test_proxy_502_html_unknown(odd_url: str) -> None:
    body = build_body(
        SUB_ACCOUNT_TRANSFER,
        {"origin": SOURCE, "destination": DEST, "amount": "1", "invoice_number": "T-502"},
    )
    out = _check(_client(odd_url).transfer(_rid(), body), OutcomeClass.UNKNOWN)
    assert (out.http_status, out.code) == (502, "http-502")


@pytest.mark.parametrize(
    ("exc", "failure"),
    [
        (requests.exceptions.ConnectTimeout("x"), Failure.CONNECT_TIMEOUT),
        (requests.exceptions.ReadTimeout("x"), Failure.TIMEOUT),
        (requests.exceptions.SSLError("x"), Failure.NETWORK_ERROR),
        (requests.exceptions.ProxyError("x"), Failure.NETWORK_ERROR),
        (requests.exceptions.ChunkedEncodingError("x"), Failure.CONNECTION_RESET),
        (requests.exceptions.ConnectionError("aborted"), Failure.CONNECTION_RESET),
        (requests.exceptions.InvalidURL("x"), Failure.NETWORK_ERROR),
    ],
)
def test_failure_of_exception_maps_conservatively(
    exc: requests.RequestException, failure: Failure
) -> None:
    assert _failure_of(exc) is failure


# --- open_gateway ----------------------------------------------------------------------------


def test_open_gateway_builtin_emulator_state_in_home_and_stopped_on_exit(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("BATCHPAY_HOME", str(tmp_path))
    settings = load_settings(cwd=tmp_path)
    body = build_body(
        SUB_ACCOUNT_CREATE, {"email": "g@example.com", "type": "STANDARD", "name": "Toko"}
    )
    with open_gateway(settings) as gateway:
        assert gateway.emulator is not None and gateway.is_emulator
        url = gateway.base_url
        account = _check(gateway.client.create_account(_rid(), body), OutcomeClass.ACCEPTED)
    assert (tmp_path / EMULATOR_STATE_FILE).exists()
    with pytest.raises(requests.ConnectionError):
        requests.get(url + "/_emulator/health", timeout=2)
    with open_gateway(settings) as gateway:  # a later command sees the same DOKU
        out = _check(gateway.client.balance(account.ids["account_id"]), OutcomeClass.ACCEPTED)
        assert out.data is not None and "balance" in out.data


def test_open_gateway_base_url_uses_it_without_starting_emulator(
    emu: Any, tmp_path: Path, admin: Admin
) -> None:
    admin.fund(SOURCE, 5)
    settings = load_settings(base_url=emu.url, cwd=tmp_path)
    with open_gateway(settings) as gateway:
        assert gateway.emulator is None and gateway.base_url == emu.url
        _check(gateway.client.balance(SOURCE), OutcomeClass.ACCEPTED)


def test_open_gateway_session_pool_sized_for_64_workers(tmp_path: Path) -> None:
    session = make_session()  # `status --concurrency` goes up to 64 (payments to 32)
    adapter = session.get_adapter("https://api.doku.com")
    assert adapter._pool_maxsize == 64  # type: ignore[attr-defined]
    assert adapter.max_retries.total == 0  # type: ignore[attr-defined]


# --- CLI ------------------------------------------------------------------------------------


def _main(args: list[str], capsys: pytest.CaptureFixture[str]) -> tuple[int, str, str]:
    from batchpay.cli import main

    with pytest.raises(SystemExit) as info:
        main(args)
    out, err = capsys.readouterr()
    return int(info.value.code or 0), out, err


def test_cli_accounts_create_then_balance_on_emulator_says_no_real_money(
    capsys: pytest.CaptureFixture[str],
) -> None:
    code, out, _ = _main(
        ["accounts", "create", "--email", "cli@example.com", "--name", "Toko CLI"], capsys
    )
    assert code == 0, out
    assert "EMULATOR — no real money moved" in out
    account_id = out.split("Created ")[1].split()[0]
    code, out, _ = _main(["balance", account_id], capsys)
    assert code == 0
    assert "EMULATOR — no real money moved" in out and "available IDR 0" in out


def test_cli_balance_json_has_emulator_flag(capsys: pytest.CaptureFixture[str]) -> None:
    import json

    _, out, _ = _main(
        ["accounts", "create", "--email", "j@example.com", "--name", "Toko J", "--json"], capsys
    )
    account_id = json.loads(out)["outcome"]["ids"]["account_id"]
    code, out, _ = _main(["balance", account_id, "--json"], capsys)
    payload = json.loads(out)
    assert code == 0
    assert payload["emulator"] is True and payload["balance"]["available"] == "0"


def test_cli_balance_unknown_account_exit_1(capsys: pytest.CaptureFixture[str]) -> None:
    code, _, err = _main(["balance", "SAC-0009-404"], capsys)
    assert code == 1 and "ACCOUNT_NOT_FOUND" in err
    assert "EMULATOR — no real money moved" in err


def test_cli_balance_sandbox_without_credentials_exit_3_one_line(
    capsys: pytest.CaptureFixture[str], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)
    code, _, err = _main(["balance", SOURCE, "--env", "sandbox"], capsys)
    assert code == 3
    assert err.count("\n") == 1 and "BATCHPAY_SECRET_KEY" in err


def test_cli_accounts_create_has_no_secret_option(capsys: pytest.CaptureFixture[str]) -> None:
    code, _, err = _main(
        [
            "accounts",
            "create",
            "--email",
            "x@example.com",
            "--name",
            "X",
            "--secret-key",
            "SK-ON-ARGV",
        ],
        capsys,
    )
    assert code == 2 and "--secret-key" in err


def test_cli_wrong_credentials_against_emulator_exit_3_secret_not_shown(
    capsys: pytest.CaptureFixture[str], emu: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("BATCHPAY_SECRET_KEY", "SK-NOT-THE-EMULATOR-KEY-1")
    code, out, err = _main(["balance", SOURCE, "--base-url", emu.url], capsys)
    assert code == 3
    assert "SK-NOT-THE-EMULATOR-KEY-1" not in out + err
