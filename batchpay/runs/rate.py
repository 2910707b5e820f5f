"""The rate limit of a run's requests: a token bucket shared by the engine's workers."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable

Sleep = Callable[[float], None]


class TokenBucket:
    """A thread-safe token bucket: at most ``rate`` acquisitions per second on average, a
    burst of at most ``burst``. Clock and sleep are injected so tests pin it exactly."""

    def __init__(
        self,
        rate: float,
        *,
        burst: float | None = None,
        clock: Callable[[], float] = time.monotonic,
        sleep: Sleep = time.sleep,
    ) -> None:
        if rate <= 0:
            raise ValueError("rate must be > 0")
        self.rate = rate
        self.burst = max(1.0, burst if burst is not None else 1.0)
        self._clock = clock
        self._sleep = sleep
        self._tokens = self.burst
        self._last = clock()
        self._lock = threading.Lock()

    def acquire(self) -> None:
        while True:
            with self._lock:
                now = self._clock()
                self._tokens = min(self.burst, self._tokens + (now - self._last) * self.rate)
                self._last = now
                if self._tokens >= 1.0:
                    self._tokens -= 1.0
                    return
                wait = (1.0 - self._tokens) / self.rate
            self._sleep(wait)
