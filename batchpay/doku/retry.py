"""Pure retry timing: exponential backoff with injectable jitter, and ``Retry-After`` parsing.

Nothing here sleeps or reads a clock; callers pass ``now`` and a jitter function so tests pin
the schedule exactly. Retrying never changes the Request-Id or the body (docs/doku-api.md §3) —
that is the caller's rule; this module only says *when*.
"""

from __future__ import annotations

import math
import random
from collections.abc import Callable
from datetime import UTC, datetime
from email.utils import parsedate_to_datetime

Jitter = Callable[[float], float]

DEFAULT_BASE = 0.5
DEFAULT_CAP = 30.0
# A server asking for more than this is treated as asking for this; a batch must not stall
# for hours on one bad header.
DEFAULT_RETRY_AFTER_CAP = 300.0


def no_jitter(delay: float) -> float:
    """The exponential delay unchanged (tests, deterministic demos)."""
    return delay


def full_jitter(rng: random.Random | None = None) -> Jitter:
    """'Full jitter' (AWS Architecture Blog, *Exponential Backoff and Jitter*, 2015): a uniform
    delay in ``[0, d]`` spreads concurrent workers apart better than fixed or equal jitter."""
    source = rng or random.Random()  # timing, not security: a CSPRNG buys nothing here

    def jitter(delay: float) -> float:
        return source.uniform(0.0, delay)

    return jitter


def backoff_schedule(
    attempts: int,
    *,
    base: float = DEFAULT_BASE,
    cap: float = DEFAULT_CAP,
    jitter: Jitter,
) -> list[float]:
    """Delays before retries 1..``attempts``: ``jitter(min(cap, base * 2**i))``, each clamped
    to ``[0, cap]`` so a misbehaving jitter cannot produce a negative or unbounded sleep."""
    if attempts < 0:
        raise ValueError("attempts must be >= 0")
    if base <= 0 or cap <= 0:
        raise ValueError("base and cap must be > 0")
    schedule = []
    for i in range(attempts):
        # min() before the power would overflow: 2**1100 is fine for int, not for float.
        raw = cap if i >= 64 else min(cap, base * 2.0**i)
        schedule.append(min(cap, max(0.0, jitter(raw))))
    return schedule


def retry_after_seconds(header_value: str | None, *, now: datetime, cap: float) -> float | None:
    """Seconds to wait from a ``Retry-After`` header (RFC 9110 §10.2.3: delay-seconds or an
    HTTP-date), clamped to ``[0, cap]``; None when absent or unreadable."""
    if header_value is None:
        return None
    text = header_value.strip()
    if not text:
        return None
    if text.isascii() and text.isdigit():
        return min(float(text), cap)
    try:
        when = parsedate_to_datetime(text)
    except (TypeError, ValueError, IndexError):
        return None
    if when.tzinfo is None:  # "-0000" means UTC per RFC 5322 §3.3
        when = when.replace(tzinfo=UTC)
    seconds = (when - now).total_seconds()
    if math.isnan(seconds):
        return None
    return min(max(0.0, seconds), cap)


def delay_before_retry(
    attempt: int,
    *,
    retry_after: float | None = None,
    base: float = DEFAULT_BASE,
    cap: float = DEFAULT_CAP,
    jitter: Jitter,
) -> float:
    """Delay before retry number ``attempt`` (1-based): the backoff, but never less than what
    the server asked for in ``Retry-After``."""
    if attempt < 1:
        raise ValueError("attempt is 1-based")
    backoff = backoff_schedule(attempt, base=base, cap=cap, jitter=jitter)[-1]
    return max(backoff, retry_after or 0.0)
