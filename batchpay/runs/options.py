"""Typed options of every run operation (frozen dataclasses, never dicts).

* :class:`EngineOptions` — how hard the engine tries (bounded everywhere);
* :class:`Target` — which environment, DOKU URL and ``.env`` file;
* :class:`Sending` — concurrency, rate and the workbook path of a sending call;
* :class:`RunOptions`, :class:`ResumeOptions`, :class:`RetryOptions`,
  :class:`FollowOptions` — one per service call (:mod:`batchpay.runs.service`).

:meth:`RunOptions.stored_settings` is the one place the settings a run keeps in the journal
(read back by resume, status, retry-failed and report) are built.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal

from batchpay.doku.retry import full_jitter
from batchpay.profile import SheetOptions

if TYPE_CHECKING:
    from batchpay.config import Settings
    from batchpay.profile import Profile

AmountFormat = Literal["id", "en"]  # = batchpay.profile.AmountFormat


@dataclass(frozen=True)
class EngineOptions:
    """How hard to try. Bounded everywhere: a batch must end, leaving UNKNOWN rows listed
    (docs/safety.md §2 "Resolution" 4) rather than retrying forever."""

    concurrency: int = 4
    rate: float | None = None  # requests per second across all workers (token bucket)
    max_sends: int = 4  # per row per execution: the first send + 3 re-sends of the same bytes
    max_status_checks: int = 4  # per look-up
    max_rate_limited: int = 6  # 429s tolerated per row before leaving it for `resume`
    max_not_sent: int = 3  # connect failures per row before declaring DOKU unreachable
    backoff_base: float = 0.5
    backoff_cap: float = 30.0
    retry_after_cap: float = 120.0
    jitter: Callable[[float], float] = field(default_factory=full_jitter)


@dataclass(frozen=True)
class Target:
    """Where a call talks to: ``env`` (None = BATCHPAY_ENV), ``base_url`` (None =
    BATCHPAY_BASE_URL), ``env_file`` (None = ./.env)."""

    env: str | None = None
    base_url: str | None = None
    env_file: str | None = None


@dataclass(frozen=True)
class Sending:
    """Concurrency and rate of the requests of one call, and where its workbook goes
    (None: the run's own, :mod:`batchpay.runs.paths`)."""

    concurrency: int = 4
    rate: float | None = None
    report_path: Path | None = None

    def engine(self) -> EngineOptions:
        return EngineOptions(concurrency=self.concurrency, rate=self.rate)


@dataclass(frozen=True)
class RunOptions:
    """``batchpay run``: how to read the sheet, what to check, how to send."""

    target: Target = field(default_factory=Target)
    sending: Sending = field(default_factory=Sending)
    kind: str | None = None
    sheet: str | None = None  # worksheet name (XLSX)
    mapping: Mapping[str, str] = field(default_factory=dict)  # header -> field
    amount_format: AmountFormat | None = None
    set_values: Mapping[str, str] = field(default_factory=dict)  # field -> --set template
    profile: Profile | None = None  # batchpay.toml; its section for the kind goes underneath
    dry_run: bool = False
    allow_repeat: bool = False
    yes: bool = False  # production: only together with expect_total
    expect_total: str | None = None
    report_dir: Path = Path("reports")
    # `batchpay submit` (runs/approval.py): journaled AWAITING_APPROVAL, not sent; the maker
    # needs no DOKU credentials (balances are checked again before the first send).
    for_approval: bool = False
    # The sheet's name as its user knows it, for the journal and the workbook: a web upload is
    # stored under a random name (the browser's name is never a path). None: the file's name.
    input_name: str | None = None

    def sheet_options(self) -> SheetOptions:
        """How to read the sheet, as the command line gave it (the profile goes underneath)."""
        return SheetOptions(
            self.kind, self.sheet, dict(self.mapping), self.amount_format, dict(self.set_values)
        )

    def stored_settings(self, settings: Settings) -> dict[str, Any]:
        """What the run keeps in the journal: resume/status use ``base_url`` (the run's own
        DOKU), the workbook path policy uses ``report_dir`` / ``report_path``."""
        stored: dict[str, Any] = {
            "concurrency": self.sending.concurrency,
            "rate": self.sending.rate,
            "sheet": self.sheet,
            "mapping": dict(self.mapping),
            "amount_format": self.amount_format,
            "set": dict(self.set_values),
            "profile": str(self.profile.path) if self.profile else None,
            "base_url": settings.base_url,
            "allow_repeat": self.allow_repeat,
            "payout_link_signature": settings.payout_link_signature,
            "report_dir": str(self.report_dir.resolve()),
        }
        if self.sending.report_path is not None:
            # Not resolve(): a symlink at --report is replaced by the workbook, never
            # followed to overwrite its target (issue 8 finding 12; atomic os.replace).
            stored["report_path"] = os.path.abspath(self.sending.report_path)
        return stored


@dataclass(frozen=True)
class ResumeOptions:
    target: Target = field(default_factory=Target)
    sending: Sending = field(default_factory=Sending)
    input_path: Path | None = None  # the run's input file, if it moved


@dataclass(frozen=True)
class SendOptions:
    """``batchpay send``: an approved run, in its own environment (runs/approval.py)."""

    target: Target = field(default_factory=Target)
    sending: Sending = field(default_factory=Sending)


@dataclass(frozen=True)
class RetryOptions:
    target: Target = field(default_factory=Target)
    sending: Sending = field(default_factory=Sending)
    yes: bool = False
    expect_total: str | None = None


@dataclass(frozen=True)
class FollowOptions:
    """``batchpay status``: one refresh, or poll (``watch`` until stopped or settled,
    ``until_final`` until settled or ``timeout`` seconds) every ``interval`` seconds."""

    target: Target = field(default_factory=Target)
    report_path: Path | None = None
    watch: bool = False
    until_final: bool = False
    timeout: float = 600.0
    interval: float = 5.0
    recheck_final: bool = False  # final rows are asked again once, on the first refresh
    concurrency: int = 8  # status look-ups in flight at once (the one engine pool)

    def engine(self) -> EngineOptions:
        return EngineOptions(concurrency=self.concurrency)
