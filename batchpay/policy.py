"""The ``[approval]`` table of ``batchpay.toml``: the maker–checker policy (README
"Approvals", docs/safety.md §9). Read by :func:`batchpay.profile.load_profile`; recorded with
every submitted run, so an approver's own profile can make it stricter but never weaker."""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import timedelta
from typing import Any, NoReturn, Protocol


class Checker(Protocol):
    """How the profile reader reports a bad value (file, line and key)."""

    def fail(self, keys: tuple[str, ...], what: str, hint: str) -> NoReturn: ...


@dataclass(frozen=True)
class ApprovalPolicy:
    """The ``[approval]`` table: whether runs need approval, by how many distinct people
    (never the maker), above which total a second one is needed, and how long a submitted
    run waits for its approvals before it expires (docs/safety.md §9)."""

    required: bool = False
    approvers: int = 1
    second_approver_above: int | None = None  # minor units (× 100)
    expires_after: timedelta = timedelta(days=7)

    def needed(self, total_minor: int) -> int:
        """Distinct approvers a run of ``total_minor`` needs."""
        above = self.second_approver_above
        return max(self.approvers, 2 if above is not None and total_minor > above else 1)

    def stricter(self, other: ApprovalPolicy) -> ApprovalPolicy:
        """The stricter of two policies, field by field (the one recorded with a run and the
        approver's own profile: neither can weaken the other)."""
        thresholds = [t for t in (self.second_approver_above, other.second_approver_above) if t]
        return ApprovalPolicy(
            required=self.required or other.required,
            approvers=max(self.approvers, other.approvers),
            second_approver_above=min(thresholds) if thresholds else None,
            expires_after=min(self.expires_after, other.expires_after),
        )

    def stored(self) -> dict[str, Any]:
        """As kept with a submitted run (JSON)."""
        return {
            "required": self.required,
            "approvers": self.approvers,
            "second_approver_above_minor": self.second_approver_above,
            "expires_after_seconds": int(self.expires_after.total_seconds()),
        }

    @classmethod
    def from_stored(cls, data: Mapping[str, Any]) -> ApprovalPolicy:
        return cls(
            required=bool(data.get("required", False)),
            approvers=int(data.get("approvers", 1)),
            second_approver_above=data.get("second_approver_above_minor"),
            expires_after=timedelta(seconds=int(data.get("expires_after_seconds", 7 * 86400))),
        )


_APPROVAL_KEYS = ("required", "approvers", "second_approver_above", "expires_after")
_DURATION = re.compile(r"(?:(\d+)\s*w)?\s*(?:(\d+)\s*d)?\s*(?:(\d+)\s*h)?\s*(?:(\d+)\s*m)?")
_WHOLE = re.compile(r"\d{1,3}([.,_])\d{3}(?:\1\d{3})*|\d+")


def approval_policy(check: Checker, data: dict[str, Any]) -> ApprovalPolicy:
    """The ``[approval]`` table; a misspelt key or a bad value names the line (a policy the
    reader believes in but batchpay does not apply would let a batch through unapproved)."""
    out: dict[str, Any] = {}
    for key, value in data.items():
        keys = ("approval", key)
        if key == "required":
            if not isinstance(value, bool):
                check.fail(keys, f"must be true or false, not {value!r}", "write required = true")
            out["required"] = value
        elif key == "approvers":
            if value not in (1, 2) or isinstance(value, bool):
                check.fail(keys, f"{value!r} is not 1 or 2", "write approvers = 1 or 2")
            out["approvers"] = value
        elif key == "second_approver_above":
            out["second_approver_above"] = _whole_amount(check, keys, value)
        elif key == "expires_after":
            out["expires_after"] = _duration(check, keys, value)
        else:
            check.fail(keys, f"unknown key {key!r}", f"valid: {', '.join(_APPROVAL_KEYS)}")
    return ApprovalPolicy(**out)


def _whole_amount(check: Checker, keys: tuple[str, ...], value: Any) -> int:
    """Whole rupiah (an integer, or text like "100,000,000" / "Rp 100.000.000") → minor."""
    text = value if isinstance(value, str) else None
    if isinstance(value, int) and not isinstance(value, bool):
        text = str(value)
    cleaned = re.sub(r"(?i)^\s*(rp\.?|idr)\s*", "", text or "").strip()
    if text is None or not _WHOLE.fullmatch(cleaned) or int(re.sub(r"\D", "", cleaned)) <= 0:
        check.fail(
            keys,
            f"{value!r} is not a whole amount above zero",
            "write whole rupiah, e.g. second_approver_above = 100000000",
        )
    return int(re.sub(r"\D", "", cleaned)) * 100


def _duration(check: Checker, keys: tuple[str, ...], value: Any) -> timedelta:
    """``"7d"``, ``"36h"``, ``"1d12h"``, ``"2w"``, ``"90m"`` → a timedelta above zero."""
    m = _DURATION.fullmatch(value.strip()) if isinstance(value, str) else None
    weeks, days, hours, minutes = (int(g or 0) for g in (m.groups() if m else (0,) * 4))
    span = timedelta(weeks=weeks, days=days, hours=hours, minutes=minutes)
    if m is None or span <= timedelta(0):
        check.fail(
            keys,
            f"{value!r} is not a duration",
            'write it like "7d", "36h" or "1d12h" (w, d, h, m)',
        )
    return span


def refuse_unapproved_run(policy: ApprovalPolicy, profile: str) -> None:
    """``batchpay run`` under ``required = true``: raise
    :class:`~batchpay.errors.ApprovalRequired` naming ``batchpay submit``."""
    from batchpay.errors import ApprovalRequired

    if policy.required:
        raise ApprovalRequired(
            f"{profile} requires approval ([approval] required = true): `batchpay run` "
            "does not pay this sheet; nothing was sent",
            profile=profile,
            hint="`batchpay submit SHEET` (same options), then another person runs "
            "`batchpay approve RUN_ID` and `batchpay send RUN_ID` (a --dry-run is allowed)",
        )
