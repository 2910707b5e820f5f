"""Times as the workbooks show them: Jakarta time (WIB), which the operators and the
accountant live in, with UTC beside it, which the journal and DOKU's support speak.

The journal stores ISO-8601 UTC (``2026-11-01T02:04:00.123+00:00`` or ``…Z``); a report
shows ``2026-11-01 09:04:00`` under a "(WIB)" header and ``2026-11-01 02:04:00`` under a
"(UTC)" one. Pure: no clock.
"""

from __future__ import annotations

from datetime import UTC, datetime
from zoneinfo import ZoneInfo

WIB = ZoneInfo("Asia/Jakarta")
_SHOWN = "%Y-%m-%d %H:%M:%S"
# A 100,000-row run shows two times per row on two passes; rows journaled in the same
# second share a text, so a small memo of the second makes the conversion nearly free.
_MEMO_MAX = 50_000
_memo: dict[str, tuple[str, str]] = {}


def _parse(text: str) -> datetime | None:
    try:
        moment = datetime.fromisoformat(text)
    except ValueError:
        return None
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=UTC)  # the journal only ever writes UTC
    return moment


def _key(text: str) -> str:
    """The memo key: the text up to the second when the rest is only a fraction and UTC."""
    tail = text[19:]
    if tail in ("Z", "+00:00") or (tail[:1] == "." and tail.endswith(("Z", "+00:00"))):
        return text[:19] + "Z"
    return text


def both(text: str | None) -> tuple[str | None, str | None]:
    """``(WIB, UTC)`` texts of a journal time; an unreadable time is shown as written (in
    both columns), never dropped; ``None`` stays ``None``."""
    if not text:
        return None, None
    key = _key(text)
    shown = _memo.get(key)
    if shown is None:
        moment = _parse(key)
        if moment is None:
            return text, text
        shown = (moment.astimezone(WIB).strftime(_SHOWN), moment.astimezone(UTC).strftime(_SHOWN))
        if len(_memo) >= _MEMO_MAX:
            _memo.clear()
        _memo[key] = shown
    return shown


def wib(text: str | None) -> str | None:
    """A journal time in Jakarta time, ``YYYY-MM-DD HH:MM:SS``."""
    return both(text)[0]


def utc(text: str | None) -> str | None:
    """A journal time in UTC, ``YYYY-MM-DD HH:MM:SS``."""
    return both(text)[1]


def now_texts(moment: datetime) -> tuple[str, str]:
    """A generation time as ``(WIB, UTC)`` texts."""
    aware = moment if moment.tzinfo is not None else moment.replace(tzinfo=UTC)
    return aware.astimezone(WIB).strftime(_SHOWN), aware.astimezone(UTC).strftime(_SHOWN)
