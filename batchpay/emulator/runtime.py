"""Starting and stopping an emulator: :func:`start_emulator` and :class:`EmulatorHandle`."""

from __future__ import annotations

import socket
import threading
import time
from collections.abc import Callable, Mapping
from http.server import ThreadingHTTPServer
from pathlib import Path
from types import TracebackType

from batchpay.doku.signing import SCHEMES, Scheme
from batchpay.emulator import api
from batchpay.emulator.admin import EmulatorAdmin
from batchpay.emulator.faults import FaultBook
from batchpay.emulator.server import close_quietly, is_loopback, make_server
from batchpay.emulator.state import Store
from batchpay.errors import UsageError


class Emulator:
    """Everything a request handler needs: settings, state, faults, held responses."""

    def __init__(
        self,
        *,
        store: Store,
        faults: FaultBook,
        client_id: str,
        secret_key: str,
        payout_link_signature: Scheme,
        latency_ms: int,
        clock: Callable[[], float],
        link_step_seconds: float,
        activation_seconds: float,
        settlement_seconds: float,
    ) -> None:
        self.store, self.faults = store, faults
        self.client_id, self.secret_key = client_id, secret_key
        self.payout_link_signature = payout_link_signature
        self.latency_ms = latency_ms
        self.clock = clock
        self.url = ""
        self.doku = api.Doku(
            store,
            clock=clock,
            base_url=lambda: self.url,
            link_step_seconds=link_step_seconds,
            activation_seconds=activation_seconds,
            settlement_seconds=settlement_seconds,
        )
        self.stopping = threading.Event()
        self.internal_errors = 0
        self.held = 0
        self._hold = threading.Condition()
        self._generation = 0
        self._connections: set[socket.socket] = set()
        self._conn_lock = threading.Lock()

    def count_internal_error(self) -> None:
        with self._conn_lock:
            self.internal_errors += 1

    def track(self, sock: socket.socket, *, add: bool) -> None:
        with self._conn_lock:
            if add:
                self._connections.add(sock)
            else:
                self._connections.discard(sock)

    def hold(self) -> None:
        """Block the calling handler until :meth:`release` (or stop)."""
        with self._hold:
            generation = self._generation
            self.held += 1
            try:
                self._hold.wait_for(
                    lambda: self._generation != generation or self.stopping.is_set()
                )
            finally:
                self.held -= 1

    def release(self) -> int:
        with self._hold:
            released = self.held
            self._generation += 1
            self._hold.notify_all()
            return released

    def close_connections(self) -> None:
        with self._conn_lock:
            connections = list(self._connections)
        for sock in connections:
            close_quietly(sock)


class EmulatorHandle:
    """A running emulator (context manager). ``url`` is ``http://HOST:PORT``."""

    def __init__(
        self,
        emulator: Emulator,
        server: ThreadingHTTPServer,
        thread: threading.Thread,
        host: str,
        port: int,
        state_path: Path | None,
    ) -> None:
        self.emulator = emulator
        self._server = server
        self._thread = thread
        self.host, self.port, self.state_path = host, port, state_path
        shown = f"[{host}]" if ":" in host else host
        self.url = f"http://{shown}:{port}"
        self.admin = EmulatorAdmin(self.url)
        self._stopped = False

    def stop(self) -> None:
        """Stop serving, release held responses, close open connections and the state file."""
        if self._stopped:
            return
        self._stopped = True
        self.emulator.stopping.set()
        self.emulator.release()
        self._server.shutdown()
        self._server.server_close()
        self.emulator.close_connections()
        self._thread.join(timeout=5)
        self.emulator.store.close()

    def __enter__(self) -> EmulatorHandle:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.stop()


def start_emulator(
    *,
    host: str = "127.0.0.1",
    port: int = 0,
    state_path: Path | str | None = None,
    client_id: str | None = None,
    secret_key: str | None = None,
    latency_ms: int = 0,
    seed: int | None = None,
    link_step_seconds: float = 2.0,
    payout_link_signature: Scheme = "snap-hmac-sha512",
    fault_rates: Mapping[str, float | tuple[float, float]] | None = None,
    activation_seconds: float = 2.0,
    settlement_seconds: float = 2.0,
    allow_public: bool = False,
    clock: Callable[[], float] | None = None,
) -> EmulatorHandle:
    """Start a local DOKU in a daemon thread; ``port=0`` picks a free port.

    ``state_path=None`` keeps state in memory; a file keeps it across restarts.
    ``activation_seconds``: a new sub account turns ACTIVE that long after creation.
    ``settlement_seconds``: money from a payment stays *pending* that long.
    ``clock`` (tests): wall-clock seconds; drives timestamps, skew, lifecycles.
    Refuses a non-loopback ``host`` unless ``allow_public`` — it accepts public test credentials.
    """
    from batchpay.emulator import EMULATOR_CLIENT_ID, EMULATOR_SECRET_KEY

    _check_options(host, allow_public, payout_link_signature)
    store = Store(state_path)
    emulator = Emulator(
        store=store,
        faults=FaultBook(fault_rates, seed),
        client_id=client_id or EMULATOR_CLIENT_ID,
        secret_key=secret_key or EMULATOR_SECRET_KEY,
        payout_link_signature=payout_link_signature,
        latency_ms=latency_ms,
        clock=clock or time.time,
        link_step_seconds=link_step_seconds,
        activation_seconds=activation_seconds,
        settlement_seconds=settlement_seconds,
    )
    try:
        server = make_server(emulator, host, port)
    except OSError:
        store.close()
        raise
    return _serve(emulator, server, host, Path(state_path) if state_path is not None else None)


def _check_options(host: str, allow_public: bool, payout_link_signature: str) -> None:
    if not allow_public and not is_loopback(host):
        raise UsageError(
            f"refusing to serve the emulator on non-loopback host {host!r}: it "
            "accepts public test credentials (allow_public=True to force)"
        )
    if payout_link_signature not in SCHEMES:
        raise UsageError(
            f"unknown payout link signature scheme {payout_link_signature!r}; "
            f"use one of {', '.join(SCHEMES)}"
        )


def _serve(
    emulator: Emulator, server: ThreadingHTTPServer, host: str, state_path: Path | None
) -> EmulatorHandle:
    """Serve on a daemon thread; the handle knows the bound port and the URL."""
    bound_port = int(server.server_address[1])
    thread = threading.Thread(
        target=server.serve_forever,
        kwargs={"poll_interval": 0.1},
        name=f"doku-emulator-{bound_port}",
        daemon=True,
    )
    handle = EmulatorHandle(emulator, server, thread, host, bound_port, state_path)
    emulator.url = handle.url
    thread.start()
    return handle
