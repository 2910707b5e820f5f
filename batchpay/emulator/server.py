"""The emulator's HTTP server: connections, request framing, admin vs DOKU dispatch.

A stdlib ``ThreadingHTTPServer`` (one thread per connection, HTTP/1.1 keep-alive); what
happens on a DOKU path is in pipeline.py. Nothing is logged per request, and no request —
however malformed — can kill a thread: unexpected errors become a 500 and are counted in
``/_emulator/health``.
"""

from __future__ import annotations

import ipaddress
import json
import socket
import socketserver
import sys
from http import HTTPStatus
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qs, urlsplit

from batchpay.emulator import admin, pipeline, wire

MAX_BODY = 1 << 20  # DOKU bodies are a few hundred bytes; anything near 1 MiB is an attack


def is_loopback(host: str) -> bool:
    """True for ``localhost`` and loopback addresses; everything else counts as public."""
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


class _Server(ThreadingHTTPServer):
    daemon_threads = True
    allow_reuse_address = True
    request_queue_size = 128
    emulator: Any  # the Emulator (emulator/__init__.py) that owns this server

    def server_bind(self) -> None:
        # HTTPServer.server_bind calls socket.getfqdn(), a reverse-DNS look-up that can stall
        # for seconds on a machine without network; the name is never used.
        socketserver.TCPServer.server_bind(self)
        host, port = self.server_address[:2]
        self.server_name, self.server_port = str(host), int(port)

    def handle_error(self, request: Any, client_address: Any) -> None:
        # Never print (the stdlib dumps a traceback to stderr). Clients vanishing mid-request
        # (drop/kill tests) are normal here; anything else is counted in /_emulator/health.
        if not isinstance(sys.exc_info()[1], OSError):
            self.emulator.count_internal_error()


class Handler(BaseHTTPRequestHandler):
    """One connection. ``self.server.emulator`` holds the state, faults and settings."""

    server: _Server
    protocol_version = "HTTP/1.1"
    server_version = "DOKU-emulator"
    disable_nagle_algorithm = True  # one write per response; no 40 ms Nagle/delayed-ACK stall
    timeout = 120  # idle keep-alive connections free their thread eventually

    def log_message(self, format: str, *args: Any) -> None:
        """Silenced: the emulator logs nothing per request (it would flood test output)."""

    # The stdlib answers an unparsable request line HTTP/0.9-style (a bare HTML page, no
    # status line); every client we meet speaks HTTP/1.x, so give them a status line.
    default_request_version = "HTTP/1.0"

    def send_error(self, code: int, message: str | None = None, explain: str | None = None) -> None:
        """The stdlib's protocol-level errors (bad request line, headers) as DOKU-style JSON."""
        self.close_connection = True
        try:
            self.send_bytes(
                code,
                wire.error_body(
                    "sub-account",
                    code,
                    "BAD_REQUEST",
                    message or "malformed HTTP request",
                    now=self.server.emulator.clock(),
                ),
            )
        except OSError:
            pass

    def setup(self) -> None:
        super().setup()
        self.server.emulator.track(self.connection, add=True)

    def finish(self) -> None:
        try:
            super().finish()
        finally:
            self.server.emulator.track(self.connection, add=False)

    def do_GET(self) -> None:
        self._dispatch()

    def do_POST(self) -> None:
        self._dispatch()

    def do_DELETE(self) -> None:
        self._dispatch()

    def do_PUT(self) -> None:
        self._dispatch()

    def _dispatch(self) -> None:
        emulator = self.server.emulator
        try:
            parts = urlsplit(self.path)
            body = self._read_body()
            if body is None:
                return
            if parts.path.startswith("/_emulator/"):
                status, payload = admin.handle(
                    emulator, self.command, parts.path, parse_qs(parts.query), body
                )
                self.send_bytes(status, json.dumps(payload).encode())
            else:
                pipeline.serve(self, parts.path, body)
        except (BrokenPipeError, ConnectionResetError):
            self.close_connection = True
        except Exception:
            emulator.count_internal_error()
            self.close_connection = True
            try:
                self.send_bytes(
                    500, b'{"error":{"code":"INTERNAL_ERROR","message":"emulator internal error"}}'
                )
            except OSError:
                pass

    def _read_body(self) -> bytes | None:
        if self.headers.get("Transfer-Encoding"):
            self._refuse(411, "send the body with a Content-Length, not chunked")
            return None
        raw = self.headers.get("Content-Length") or "0"
        if not raw.isdigit() or int(raw) > MAX_BODY:
            self._refuse(400 if not raw.isdigit() else 413, "bad or too large Content-Length")
            return None
        length = int(raw)
        return self.rfile.read(length) if length else b""

    def _refuse(self, status: int, message: str) -> None:
        self.close_connection = True  # the rest of the stream cannot be trusted
        self.send_bytes(
            status,
            wire.error_body(
                "sub-account", status, "BAD_REQUEST", message, now=self.server.emulator.clock()
            ),
        )

    def send_bytes(self, status: int, body: bytes, headers: dict[str, str] | None = None) -> None:
        """Status line, headers and body in a single write."""
        try:
            reason = HTTPStatus(status).phrase
        except ValueError:
            reason = "Unknown"
        head = [
            f"HTTP/1.1 {status} {reason}",
            f"Server: {self.server_version}",
            f"Date: {self.date_time_string()}",
            "Content-Type: application/json",
            f"Content-Length: {len(body)}",
        ]
        head += [f"{name}: {value}" for name, value in (headers or {}).items()]
        if self.close_connection:
            head.append("Connection: close")
        self.wfile.write(("\r\n".join(head) + "\r\n\r\n").encode("latin-1") + body)


def make_server(emulator: Any, host: str, port: int) -> _Server:
    server = _Server((host, port), Handler, bind_and_activate=False)
    server.emulator = emulator
    try:
        server.server_bind()
        server.server_activate()
    except OSError:
        server.server_close()
        raise
    return server


def close_quietly(sock: socket.socket) -> None:
    try:
        sock.shutdown(socket.SHUT_RDWR)
    except OSError:
        pass
