"""One overall deadline per DOKU request, headers and body included.

``requests``' read timeout bounds each socket read, not the whole response: a server that
trickles one byte per second never trips it. :class:`Watch` arms a timer for the whole
request; when it fires it shuts the request's socket down, which wakes any read blocked on it
(Linux returns EOF at once), and records that the deadline passed so the caller reports
``deadline-exceeded`` instead of trusting a cut-off body.

Where the socket comes from:

* while the status line and headers are read — :class:`DeadlineAdapter` (mounted by
  :func:`batchpay.doku.make_session`) uses connections that hand their socket to the current
  watch before waiting for the response. Without that adapter only the per-read timeout bounds
  the headers (http.client caps them at 100 lines of 64 KiB);
* while the body is read — :class:`~batchpay.doku.client.DokuClient` arms the watch with the
  response's own socket.

A connection that goes back to the pool must never be shut down afterwards (another request
may be using it): :meth:`Watch.guard_release` disarms the watch, under the same lock the timer
takes, before urllib3 returns the connection to its pool.
"""

from __future__ import annotations

import heapq
import socket
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from typing import Any

from requests.adapters import HTTPAdapter
from urllib3.connection import HTTPConnection, HTTPSConnection
from urllib3.connectionpool import HTTPConnectionPool, HTTPSConnectionPool

_CURRENT: ContextVar[Watch | None] = ContextVar("batchpay_request_watch", default=None)


class _Watchdog:
    """One daemon thread for every request's deadline (a heap of (deadline, watch)), instead
    of a timer thread per request: starting a thread costs about as much as a local request."""

    def __init__(self) -> None:
        self._heap: list[tuple[float, int, Watch]] = []
        self._cond = threading.Condition()
        self._thread: threading.Thread | None = None
        self._seq = 0

    def add(self, watch: Watch) -> None:
        with self._cond:
            self._seq += 1
            if self._seq % 1024 == 0:
                # Finished watches wait in the heap until their deadline comes round (a
                # minute of requests); drop them now and then, so memory stays flat.
                self._heap = [entry for entry in self._heap if not entry[2].done]
                heapq.heapify(self._heap)
            heapq.heappush(self._heap, (watch.deadline, self._seq, watch))
            if self._thread is None or not self._thread.is_alive():
                self._thread = threading.Thread(
                    target=self._run, name="batchpay-deadlines", daemon=True
                )
                self._thread.start()
            elif self._heap[0][2] is watch:
                self._cond.notify()

    def _run(self) -> None:
        while True:
            with self._cond:
                while self._heap and self._heap[0][2].done:
                    heapq.heappop(self._heap)  # finished in time: forget it
                if not self._heap:
                    self._cond.wait(5.0)
                    continue
                wait = self._heap[0][0] - time.monotonic()
                if wait > 0:
                    self._cond.wait(wait)
                    continue
                watch = heapq.heappop(self._heap)[2]
            watch.expire()


_WATCHDOG = _Watchdog()


class Watch:
    """The deadline of one request; see the module docstring. ``on_sent`` is called (once)
    when the request has been written and its answer is about to be read."""

    def __init__(self, seconds: float, on_sent: Callable[[], None] | None = None) -> None:
        self.deadline = time.monotonic() + seconds
        self.expired = False
        self.done = False
        self._lock = threading.Lock()
        self._sock: socket.socket | None = None
        self._on_sent = on_sent
        _WATCHDOG.add(self)

    def sent(self) -> None:
        """The request is on the wire: run ``on_sent`` (once), while the server works."""
        on_sent, self._on_sent = self._on_sent, None
        if on_sent is not None:
            on_sent()

    @property
    def remaining(self) -> float:
        return self.deadline - time.monotonic()

    def arm(self, sock: object) -> None:
        """Watch ``sock`` (the request's socket); shut it at once if the deadline passed."""
        if not isinstance(sock, socket.socket):
            return  # e.g. urllib3's SSLTransport inside an HTTPS proxy: per-read timeouts only
        with self._lock:
            if self.done:
                return
            self._sock = sock
            if self.expired:
                _shut(sock)

    def disarm(self) -> None:
        """From now on the watchdog touches nothing (idempotent)."""
        with self._lock:
            self.done = True
            self._sock = None

    def guard_release(self, response: Any) -> None:
        """Disarm before urllib3 hands ``response``'s connection back to its pool."""
        release: Callable[[], None] = response.release_conn

        def release_conn() -> None:
            self.disarm()
            release()

        response.release_conn = release_conn

    def expire(self) -> None:
        """The deadline passed (called by the watchdog thread)."""
        with self._lock:
            if self.done:
                return
            self.expired = True
            if self._sock is not None:
                _shut(self._sock)


def _shut(sock: socket.socket) -> None:
    try:
        # The plain socket's shutdown, also for an SSLSocket: SSLSocket.shutdown would drop
        # its SSL object under the reader blocked in another thread.
        socket.socket.shutdown(sock, socket.SHUT_RDWR)
    except OSError:
        pass  # already closed


@contextmanager
def watching(seconds: float, *, on_sent: Callable[[], None] | None = None) -> Iterator[Watch]:
    """Run one request under a :class:`Watch` (found by the connections of this thread)."""
    watch = Watch(seconds, on_sent)
    token = _CURRENT.set(watch)
    try:
        yield watch
    finally:
        _CURRENT.reset(token)
        watch.disarm()


class _WatchedResponse:
    """Mixin: the socket waits for the status line and headers under the current watch,
    whose ``on_sent`` runs first (the request is written by now)."""

    sock: Any

    def getresponse(self) -> Any:
        watch = _CURRENT.get()
        if watch is not None:
            watch.arm(self.sock)
            watch.sent()
        return super().getresponse()  # type: ignore[misc]


class _HTTPConnection(_WatchedResponse, HTTPConnection):
    pass


class _HTTPSConnection(_WatchedResponse, HTTPSConnection):
    pass


class _HTTPConnectionPool(HTTPConnectionPool):
    ConnectionCls = _HTTPConnection


class _HTTPSConnectionPool(HTTPSConnectionPool):
    ConnectionCls = _HTTPSConnection


_POOLS = {"http": _HTTPConnectionPool, "https": _HTTPSConnectionPool}


class DeadlineAdapter(HTTPAdapter):
    """An :class:`HTTPAdapter` whose connections honour :func:`watching` while the headers
    arrive (direct connections; through a proxy only the per-read timeout applies)."""

    def init_poolmanager(self, *args: Any, **kwargs: Any) -> None:
        super().init_poolmanager(*args, **kwargs)
        self.poolmanager.pool_classes_by_scheme = dict(_POOLS)
