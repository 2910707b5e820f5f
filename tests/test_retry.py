"""retry.py: pinned backoff schedules and Retry-After parsing."""

from __future__ import annotations

import random
from datetime import UTC, datetime, timedelta

import pytest

from batchpay.doku.retry import (
    backoff_schedule,
    delay_before_retry,
    full_jitter,
    no_jitter,
    retry_after_seconds,
)

NOW = datetime(2026, 11, 21, 6, 0, 0, tzinfo=UTC)


def test_backoff_schedule_no_jitter_doubles_then_caps() -> None:
    assert backoff_schedule(8, base=0.5, cap=30.0, jitter=no_jitter) == [
        0.5,
        1.0,
        2.0,
        4.0,
        8.0,
        16.0,
        30.0,
        30.0,
    ]


def test_backoff_schedule_jitter_receives_capped_delay_and_result_is_used() -> None:
    seen: list[float] = []

    def half(delay: float) -> float:
        seen.append(delay)
        return delay / 2

    assert backoff_schedule(4, base=1.0, cap=5.0, jitter=half) == [0.5, 1.0, 2.0, 2.5]
    assert seen == [1.0, 2.0, 4.0, 5.0]


def test_backoff_schedule_seeded_full_jitter_is_reproducible() -> None:
    one = backoff_schedule(6, jitter=full_jitter(random.Random(7)))
    two = backoff_schedule(6, jitter=full_jitter(random.Random(7)))
    assert one == two
    assert all(0 <= d <= c for d, c in zip(one, [0.5, 1, 2, 4, 8, 16], strict=True))


def test_backoff_schedule_misbehaving_jitter_is_clamped() -> None:
    assert backoff_schedule(2, cap=10, jitter=lambda d: -5.0) == [0.0, 0.0]
    assert backoff_schedule(2, cap=10, jitter=lambda d: 1e9) == [10.0, 10.0]


def test_backoff_schedule_many_attempts_does_not_overflow() -> None:
    assert backoff_schedule(2000, jitter=no_jitter)[-1] == 30.0


def test_backoff_schedule_zero_attempts_is_empty() -> None:
    assert backoff_schedule(0, jitter=no_jitter) == []


@pytest.mark.parametrize(
    "kwargs", [{"attempts": -1}, {"attempts": 1, "base": 0}, {"attempts": 1, "cap": -1}]
)
def test_backoff_schedule_invalid_arguments_raise(kwargs: dict[str, float]) -> None:
    with pytest.raises(ValueError):
        backoff_schedule(jitter=no_jitter, **kwargs)  # type: ignore[arg-type]


def test_retry_after_seconds_delta_seconds_parsed() -> None:
    assert retry_after_seconds("7", now=NOW, cap=60) == 7.0


def test_retry_after_seconds_delta_over_cap_capped() -> None:
    assert retry_after_seconds("86400", now=NOW, cap=60) == 60.0


def test_retry_after_seconds_http_date_in_future_gives_difference() -> None:
    assert retry_after_seconds("Sat, 21 Nov 2026 06:00:12 GMT", now=NOW, cap=60) == 12.0


def test_retry_after_seconds_http_date_over_cap_capped() -> None:
    later = (NOW + timedelta(hours=2)).strftime("%a, %d %b %Y %H:%M:%S GMT")
    assert retry_after_seconds(later, now=NOW, cap=300) == 300.0


def test_retry_after_seconds_http_date_in_past_gives_zero() -> None:
    assert retry_after_seconds("Sat, 21 Nov 2026 05:59:00 GMT", now=NOW, cap=60) == 0.0


@pytest.mark.parametrize("value", [None, "", "  ", "-5", "1.5", "soon", "Sat, 99 Foo 2026", "٣"])
def test_retry_after_seconds_absent_or_unreadable_gives_none(value: str | None) -> None:
    assert retry_after_seconds(value, now=NOW, cap=60) is None


def test_delay_before_retry_never_shorter_than_retry_after() -> None:
    assert delay_before_retry(1, retry_after=9.0, jitter=no_jitter) == 9.0
    assert delay_before_retry(3, retry_after=1.0, jitter=no_jitter) == 2.0
    assert delay_before_retry(3, jitter=no_jitter) == 2.0


def test_delay_before_retry_zero_attempt_raises() -> None:
    with pytest.raises(ValueError, match="1-based"):
        delay_before_retry(0, jitter=no_jitter)
