"""DokuClient against a hostile HTTP server on 127.0.0.1 (issue 8, finding 7): an answer that
trickles past the read timeout, an endless or gzip-bombed body, a 5 GB Content-Length. Each must
become UNKNOWN (``deadline-exceeded`` / ``response-too-large``) in bounded time and memory,
while a normal answer, and connection reuse, are unaffected.

The server is a few lines of raw sockets, so every byte and every pause is under the test's
control; every loop in it is bounded in bytes and in seconds.
"""

from __future__ import annotations

import gzip
import json
import re
import socket
import socketserver
import threading
import time
import tracemalloc
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest

from batchpay.config import load_settings
from batchpay.doku import make_session, open_gateway
from batchpay.doku.client import DokuClient
from batchpay.doku.codes import Failure, Outcome, OutcomeClass
from batchpay.emulator import EMULATOR_CLIENT_ID, EMULATOR_SECRET_KEY
from batchpay.errors import ConfigError

SUCCESS = json.dumps(
    {"status": "0", "message": "Success", "data": {"reference_id": "REF-1"}}
).encode()
SERVER_LIMIT_SECONDS = 20.0  # no scenario keeps a connection longer than this


@dataclass
class ServerLog:
    connections: int = 0
    requests: int = 0
    sent: int = 0  # body bytes handed to the kernel
    done: threading.Event = field(default_factory=threading.Event)


Scenario = Callable[[socket.socket, ServerLog], None]


def _read_request(conn: socket.socket) -> bool:
    """One HTTP request off ``conn`` (head and Content-Length body); False on EOF."""
    data = b""
    while b"\r\n\r\n" not in data:
        chunk = conn.recv(65536)
        if not chunk or len(data) > 1 << 20:
            return False
        data += chunk
    head, _, rest = data.partition(b"\r\n\r\n")
    length = re.search(rb"(?i)\r\ncontent-length:\s*(\d+)", head)
    need = int(length.group(1)) if length else 0
    while len(rest) < need:
        chunk = conn.recv(65536)
        if not chunk:
            return False
        rest += chunk
    return True


@contextmanager
def hostile_server(scenario: Scenario) -> Iterator[tuple[str, ServerLog]]:
    """A threaded server on a free loopback port running ``scenario`` per connection."""
    log = ServerLog()

    class Handler(socketserver.BaseRequestHandler):
        def handle(self) -> None:
            conn: socket.socket = self.request
            conn.settimeout(SERVER_LIMIT_SECONDS)
            log.connections += 1
            try:
                scenario(conn, log)
            except OSError:
                pass  # the client hung up: what the limits are for
            finally:
                log.done.set()

    class Server(socketserver.ThreadingTCPServer):
        daemon_threads = True
        allow_reuse_address = True

    server = Server(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.05})
    thread.daemon = True
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}", log
    finally:
        server.shutdown()
        server.server_close()


def _client(url: str, **options: Any) -> DokuClient:
    settings: dict[str, Any] = {"timeout": (2.0, 0.5), "deadline": 1.0}
    settings.update(options)
    return DokuClient(
        base_url=url,
        client_id=EMULATOR_CLIENT_ID,
        secret_key=EMULATOR_SECRET_KEY,
        session=make_session(trust_env=False),
        **settings,
    )


def _timed(call: Callable[[], Outcome]) -> tuple[Outcome, float]:
    start = time.monotonic()
    outcome = call()
    return outcome, time.monotonic() - start


def _head(status: str = "200 OK", **headers: str) -> bytes:
    lines = [f"HTTP/1.1 {status}", "Content-Type: application/json"]
    lines += [f"{name.replace('_', '-')}: {value}" for name, value in headers.items()]
    return ("\r\n".join(lines) + "\r\n\r\n").encode()


def _trickle(conn: socket.socket, log: ServerLog, data: bytes, pause: float = 0.2) -> None:
    for i in range(len(data)):  # bounded: len(data) × pause, far below SERVER_LIMIT_SECONDS
        conn.sendall(data[i : i + 1])
        log.sent += 1
        time.sleep(pause)


# --- the deadline ------------------------------------------------------------------------------


def test_client_trickled_body_past_read_timeout_deadline_exceeded() -> None:
    def scenario(conn: socket.socket, log: ServerLog) -> None:
        if _read_request(conn):
            conn.sendall(_head(Content_Length=str(len(SUCCESS))))
            _trickle(conn, log, SUCCESS[:40])  # 8 s worth of bytes, each within 0.5 s

    with hostile_server(scenario) as (url, _log):
        outcome, took = _timed(lambda: _client(url).payout_link_status("REF-1"))
    assert outcome.klass is OutcomeClass.UNKNOWN, outcome
    assert outcome.code == Failure.DEADLINE == "deadline-exceeded"
    assert outcome.http_status == 200
    assert "BATCHPAY_REQUEST_DEADLINE=1 s" in outcome.message
    assert took < 2.0, took


def test_client_trickled_body_without_length_deadline_exceeded_not_truncated_answer() -> None:
    """A body ended by closing the connection: the deadline's own shutdown looks like the end
    of the body, which must not be mistaken for a complete (truncated) answer."""

    def scenario(conn: socket.socket, log: ServerLog) -> None:
        if _read_request(conn):
            conn.sendall(b"HTTP/1.0 200 OK\r\nContent-Type: application/json\r\n\r\n")
            _trickle(conn, log, SUCCESS[:40])

    with hostile_server(scenario) as (url, _log):
        outcome, took = _timed(lambda: _client(url).payout_link_status("REF-1"))
    assert (outcome.klass, outcome.code) == (OutcomeClass.UNKNOWN, "deadline-exceeded"), outcome
    assert took < 2.0, took


def test_client_trickled_headers_deadline_exceeded() -> None:
    def scenario(conn: socket.socket, log: ServerLog) -> None:
        if _read_request(conn):
            _trickle(conn, log, _head(Content_Length=str(len(SUCCESS)))[:40])

    with hostile_server(scenario) as (url, _log):
        outcome, took = _timed(lambda: _client(url).payout_link_status("REF-1"))
    assert (outcome.klass, outcome.code) == (OutcomeClass.UNKNOWN, "deadline-exceeded"), outcome
    assert took < 2.0, took


def test_client_normal_answers_reuse_connection_after_deadline_passed() -> None:
    """The deadline's timer must never touch a connection back in the pool: the second
    request, sent after the first one's deadline has passed, reuses the same connection."""

    def scenario(conn: socket.socket, log: ServerLog) -> None:
        for _ in range(5):  # keep-alive, bounded
            if not _read_request(conn):
                return
            log.requests += 1
            conn.sendall(_head(Content_Length=str(len(SUCCESS))) + SUCCESS)

    with hostile_server(scenario) as (url, log):
        client = _client(url, deadline=0.3)
        first = client.payout_link_status("REF-1")
        time.sleep(0.6)
        second = client.payout_link_status("REF-1")
        client.session.close()
    for outcome in (first, second):
        assert outcome.klass is OutcomeClass.ACCEPTED, outcome
        assert outcome.ids["reference_id"] == "REF-1"
    assert (log.connections, log.requests) == (1, 2)


# --- the size cap ------------------------------------------------------------------------------


def test_client_endless_body_too_large_quickly_in_small_memory() -> None:
    block = b" " * 65536

    def scenario(conn: socket.socket, log: ServerLog) -> None:
        if _read_request(conn):
            conn.sendall(_head(Transfer_Encoding="chunked"))
            chunk = b"%x\r\n" % len(block) + block + b"\r\n"
            deadline = time.monotonic() + SERVER_LIMIT_SECONDS
            while log.sent < 300 << 20 and time.monotonic() < deadline:  # 300 MiB at most
                conn.sendall(chunk)
                log.sent += len(block)

    tracemalloc.start()
    try:
        with hostile_server(scenario) as (url, log):
            outcome, took = _timed(lambda: _client(url, deadline=30.0).payout_link_status("R"))
            log.done.wait(10)
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert (outcome.klass, outcome.code) == (OutcomeClass.UNKNOWN, "response-too-large"), outcome
    assert "more than 1,048,576 bytes" in outcome.message
    assert took < 5.0, took
    assert peak < 50 << 20, peak
    # The client hung up instead of draining: the server could not push its 300 MiB.
    assert log.sent < 100 << 20, log.sent


def test_client_declared_5gb_body_too_large_without_reading() -> None:
    def scenario(conn: socket.socket, log: ServerLog) -> None:
        if _read_request(conn):
            conn.sendall(_head(Content_Length=str(5 * 10**9)) + b"{")
            log.sent += 1
            conn.recv(1)  # returns b"" when the client closes; the server limit bounds it

    with hostile_server(scenario) as (url, log):
        outcome, took = _timed(lambda: _client(url, deadline=10.0).payout_link_status("R"))
        assert log.done.wait(5), "the client kept the connection open"
    assert (outcome.klass, outcome.code) == (OutcomeClass.UNKNOWN, "response-too-large"), outcome
    assert took < 1.0, took


def test_client_gzip_bomb_too_large_in_small_memory() -> None:
    bomb = gzip.compress(b"{" + b" " * (200 << 20), compresslevel=9)  # ~200 KB on the wire

    def scenario(conn: socket.socket, log: ServerLog) -> None:
        if _read_request(conn):
            conn.sendall(_head(Content_Encoding="gzip", Content_Length=str(len(bomb))) + bomb)
            log.sent += len(bomb)

    tracemalloc.start()
    try:
        with hostile_server(scenario) as (url, _log):
            outcome, took = _timed(lambda: _client(url, deadline=30.0).payout_link_status("R"))
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert (outcome.klass, outcome.code) == (OutcomeClass.UNKNOWN, "response-too-large"), outcome
    assert took < 5.0, took
    assert peak < 50 << 20, peak


def test_client_answer_at_the_cap_accepted() -> None:
    body = SUCCESS[:-1] + b" " * 200 + b"}"

    def scenario(conn: socket.socket, log: ServerLog) -> None:
        if _read_request(conn):
            conn.sendall(_head(Content_Length=str(len(body))) + body)

    with hostile_server(scenario) as (url, _log):
        exact = _client(url, max_response_bytes=len(body)).payout_link_status("REF-1")
        over = _client(url, max_response_bytes=len(body) - 1).payout_link_status("REF-1")
    assert exact.klass is OutcomeClass.ACCEPTED, exact
    assert (over.klass, over.code) == (OutcomeClass.UNKNOWN, "response-too-large"), over


# --- configuration -----------------------------------------------------------------------------


def test_config_request_deadline_reaches_the_client(tmp_path: Path) -> None:
    environ = {"BATCHPAY_REQUEST_DEADLINE": "7.5", "BATCHPAY_HOME": str(tmp_path)}
    settings = load_settings(base_url="http://127.0.0.1:9", environ=environ, cwd=tmp_path)
    assert settings.deadline == 7.5
    with open_gateway(settings) as gateway:
        assert gateway.client.deadline == 7.5
        assert gateway.client.max_response_bytes == 1 << 20
    default = load_settings(environ={"BATCHPAY_HOME": str(tmp_path)}, cwd=tmp_path)
    assert default.deadline == 60.0


@pytest.mark.parametrize("text", ["0", "-1", "nan", "inf", "soon", "601"])
def test_config_request_deadline_invalid_refused(tmp_path: Path, text: str) -> None:
    with pytest.raises(ConfigError, match="BATCHPAY_REQUEST_DEADLINE"):
        load_settings(environ={"BATCHPAY_REQUEST_DEADLINE": text}, cwd=tmp_path)
