"""Injected failures: a queue of one-off faults (admin endpoint) plus seeded probabilities.

Each fault acts in one of two phases of a DOKU request:

* **before** execution — ``latency``, ``error-500-before``, ``error-503``, ``rate-limit-429``.
  Matching counts every routed request of the op as it arrives.
* **after** execution — ``error-500-after``, ``drop-after``, ``timeout-after``,
  ``bad-signature``, ``hold-after``, ``status-not-found``. Matching counts only requests that
  *executed* something new (or, for reads, were served); replays and rejections never count,
  so ``{"fault": "drop-after", "op": "payout", "nth": 3}`` means "drop the connection after
  executing the 3rd payout from now".

A queued fault fires on its ``nth`` match after being queued, then on the next ``count - 1``
matches, and is then gone. At most one response-changing fault fires per request (the
earliest queued wins; the others stay armed); ``latency`` and ``status-not-found`` stack.
"""

from __future__ import annotations

import random
import threading
from collections.abc import Mapping
from dataclasses import asdict, dataclass

from batchpay.errors import FaultSpecError as FaultSpecError

BEFORE = ("latency", "error-500-before", "error-503", "rate-limit-429")
AFTER = (
    "error-500-after",
    "drop-after",
    "timeout-after",
    "bad-signature",
    "hold-after",
    "status-not-found",
)
NAMES = BEFORE + AFTER
# Faults that do not replace the response, so they may stack with one that does.
_STACKING = frozenset({"latency", "status-not-found"})
OPS = ("payout-link", "status", "account", "payout", "transfer", "balance", "payment")
# timeout-after outlasts the client's default 30 s read timeout (config.py read_timeout).
DEFAULT_SECONDS = {
    "latency": 1.0,
    "timeout-after": 35.0,
    "rate-limit-429": 1.0,
    "status-not-found": 5.0,
}


@dataclass
class Fault:
    """One queued fault."""

    fault: str
    op: str | None = None
    nth: int = 1
    count: int = 1
    seconds: float | None = None
    seen: int = 0  # matching events since the fault was queued

    def __post_init__(self) -> None:
        if self.fault not in NAMES:
            raise FaultSpecError(f"unknown fault {self.fault!r}; choose one of {', '.join(NAMES)}")
        if self.op is not None and self.op not in OPS:
            raise FaultSpecError(f"unknown op {self.op!r}; choose one of {', '.join(OPS)}")
        if self.nth < 1 or self.count < 1:
            raise FaultSpecError("nth and count must be at least 1")
        if self.seconds is not None and self.seconds < 0:
            raise FaultSpecError("seconds must not be negative")

    @property
    def duration(self) -> float:
        return self.seconds if self.seconds is not None else DEFAULT_SECONDS.get(self.fault, 0.0)


@dataclass(frozen=True)
class Fired:
    """A fault that fires on this request."""

    name: str
    seconds: float


def parse_rate(text: str) -> tuple[str, float, float | None]:
    """``NAME=P`` or ``NAME=P:SECONDS`` (the CLI's ``--fault-rate``)."""
    name, sep, rest = text.partition("=")
    probability, _, seconds = rest.partition(":")
    bad = FaultSpecError(f"--fault-rate {text!r}: expected NAME=P or NAME=P:SECONDS")
    if not sep:
        raise bad
    try:
        return name.strip(), float(probability), float(seconds) if seconds else None
    except ValueError:
        raise bad from None


class FaultBook:
    """Thread-safe fault queue and seeded probabilities."""

    def __init__(
        self,
        rates: Mapping[str, float | tuple[float, float]] | None = None,
        seed: int | None = None,
    ) -> None:
        self._lock = threading.Lock()
        self._queue: list[Fault] = []
        self._rng = random.Random(seed)
        self._rates: list[tuple[str, float, float]] = []
        self.fired: int = 0  # faults fired so far (queued and seeded), for tests to check
        for name, value in sorted((rates or {}).items()):
            probability, seconds = value if isinstance(value, tuple) else (value, None)
            Fault(fault=name)  # validates the name
            if not 0.0 <= probability <= 1.0:
                raise FaultSpecError(f"probability for {name} must be between 0 and 1")
            duration = seconds if seconds is not None else DEFAULT_SECONDS.get(name, 0.0)
            self._rates.append((name, probability, duration))

    def queue(self, fault: Fault) -> None:
        with self._lock:
            self._queue.append(fault)

    def clear(self) -> None:
        with self._lock:
            self._queue.clear()

    def pending(self) -> list[dict[str, object]]:
        with self._lock:
            return [asdict(f) for f in self._queue]

    def before(self, op: str) -> list[Fired]:
        """Faults for a request of ``op`` that has just arrived."""
        return self._fire(op, BEFORE)

    def after(self, op: str) -> list[Fired]:
        """Faults for a request of ``op`` that has just executed."""
        return self._fire(op, AFTER)

    def _fire(self, op: str, phase: tuple[str, ...]) -> list[Fired]:
        fired: list[Fired] = []
        with self._lock:
            replaced = False
            for fault in self._queue:
                if fault.fault not in phase or fault.op not in (None, op):
                    continue
                fault.seen += 1
                if fault.seen < fault.nth:
                    continue
                stacking = fault.fault in _STACKING
                if not stacking and replaced:
                    continue  # stays armed for the next matching request
                replaced = replaced or not stacking
                fault.count -= 1
                fired.append(Fired(fault.fault, fault.duration))
            self._queue = [f for f in self._queue if f.count > 0]
            # One draw per configured rate per phase, in name order, so a seed replays the
            # same fault sequence for the same sequence of requests.
            for name, probability, duration in self._rates:
                if name not in phase:
                    continue
                hit = self._rng.random() < probability
                stacking = name in _STACKING
                if hit and (stacking or not replaced):
                    replaced = replaced or not stacking
                    fired.append(Fired(name, duration))
            self.fired += len(fired)
        return fired
