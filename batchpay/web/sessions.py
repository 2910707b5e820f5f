"""Server-side sessions: a random id in an HttpOnly, SameSite=Strict cookie, everything else
(who, role, CSRF token, last use) in this process's memory. A session idle for longer than
``idle`` seconds is gone; restarting ``batchpay serve`` logs everyone out. The clock is
injectable so tests expire a session without waiting."""

from __future__ import annotations

import hmac
import secrets
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass

COOKIE = "batchpay_session"
IDLE_SECONDS = 8 * 60 * 60


@dataclass
class Session:
    sid: str
    user: str
    role: str
    csrf: str
    last_seen: float

    def csrf_ok(self, token: str | None) -> bool:
        return bool(token) and hmac.compare_digest(self.csrf, str(token))


class SessionStore:
    def __init__(
        self, *, idle: float = IDLE_SECONDS, clock: Callable[[], float] = time.monotonic
    ) -> None:
        self.idle = idle
        self.clock = clock
        self._sessions: dict[str, Session] = {}
        self._lock = threading.Lock()

    def create(self, user: str, role: str) -> Session:
        session = Session(
            secrets.token_urlsafe(32), user, role, secrets.token_urlsafe(32), self.clock()
        )
        with self._lock:
            self._drop_expired()
            self._sessions[session.sid] = session
        return session

    def get(self, sid: str | None) -> Session | None:
        """The live session of ``sid`` (its idle time starts again), or None."""
        if not sid:
            return None
        now = self.clock()
        with self._lock:
            session = self._sessions.get(sid)
            if session is None:
                return None
            if now - session.last_seen > self.idle:
                del self._sessions[sid]
                return None
            session.last_seen = now
            return session

    def end(self, sid: str | None) -> None:
        with self._lock:
            self._sessions.pop(sid or "", None)

    def end_user(self, user: str) -> None:
        with self._lock:
            for sid in [s.sid for s in self._sessions.values() if s.user == user]:
                del self._sessions[sid]

    def _drop_expired(self) -> None:
        now = self.clock()
        for sid in [s.sid for s in self._sessions.values() if now - s.last_seen > self.idle]:
            del self._sessions[sid]


class LoginThrottle:
    """At most ``attempts`` failed logins per user name in ``window`` seconds; then that name
    is refused, without checking the password, until the oldest failure leaves the window.
    Slows a password guesser to a few tries per window (it also lets anyone hold a known
    name locked for the window: the price of not counting by address behind a proxy)."""

    def __init__(
        self, *, attempts: int = 5, window: float = 600.0, clock: Callable[[], float]
    ) -> None:
        self.attempts = attempts
        self.window = window
        self.clock = clock
        self._failures: dict[str, list[float]] = {}
        self._lock = threading.Lock()

    def wait_seconds(self, name: str) -> float:
        """0 when ``name`` may try now, else how long until it may."""
        now = self.clock()
        with self._lock:
            recent = [t for t in self._failures.get(name, []) if now - t < self.window]
            self._failures[name] = recent
            if len(recent) < self.attempts:
                return 0.0
            return self.window - (now - recent[0])

    def failed(self, name: str) -> None:
        with self._lock:
            self._failures.setdefault(name, []).append(self.clock())

    def succeeded(self, name: str) -> None:
        with self._lock:
            self._failures.pop(name, None)
