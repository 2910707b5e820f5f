"""Which settings and journal a call uses (docs/safety.md §6).

* :func:`open_journal_for` — only ``run`` creates a journal; every other call refuses a
  missing or empty one (JournalMissing, exit 4) and creates nothing.
* :func:`settings_for_run` — a run is continued in its own environment: a run started
  against the emulator is never resumed against production, or the other way round.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING

from batchpay.config import (
    CREDENTIALS_IN_URL,
    Settings,
    display_url,
    has_userinfo,
    load_settings,
)
from batchpay.errors import ConfigError
from batchpay.journal import Journal, open_journal

if TYPE_CHECKING:
    from batchpay.journal import RunRecord
    from batchpay.runs.options import Target


def open_journal_for(
    settings: Settings, *, create: bool = False, read_only: bool = False
) -> Journal:
    """The journal of ``settings``: created only with ``create`` (``run``); ``read_only`` for
    calls that never write it (``runs``, ``report``: they work on a read-only file or disk)."""
    return open_journal(settings.ledger, create=create, read_only=read_only)


def settings_for_run(
    run_id: str, target: Target, note: Callable[[str], None]
) -> tuple[Settings, Journal, RunRecord]:
    """Settings in the run's own environment (``target.env`` is ignored: the run's is used).

    The DOKU URL: ``target.base_url`` (--base-url), else BATCHPAY_BASE_URL (environment or
    .env), else the URL stored with the run — and ``note`` tells the operator which one when
    it is not the run's."""
    probe = load_settings(
        base_url=target.base_url, dotenv_path=target.env_file, require_credentials=False
    )
    ledger = open_journal_for(probe)
    run = ledger.run(run_id)
    stored: str | None = run.settings.get("base_url") or None
    if probe.base_url is None and stored is not None and has_userinfo(stored):
        # A run journaled before such URLs were refused: never echo it, never use it.
        raise ConfigError(
            f"the DOKU URL stored with run {run_id}: {CREDENTIALS_IN_URL}",
            hint="pass the URL without credentials with --base-url or BATCHPAY_BASE_URL",
        )
    settings = load_settings(
        env=run.env,
        base_url=probe.base_url or stored,
        dotenv_path=target.env_file,
        ledger=probe.ledger,
    )
    if probe.base_url is None and stored is not None:
        note(f"Using the DOKU URL stored with the run: {settings.base_url}")
    elif probe.base_url is not None and probe.base_url != stored:
        source = "--base-url" if target.base_url else "BATCHPAY_BASE_URL"
        started = (
            display_url(stored)
            if stored
            else "the built-in emulator"
            if run.env == "emulator"
            else f"the {run.env} default URL"
        )
        note(
            f"Using the DOKU URL from {source}: {settings.base_url} "
            f"(the run was started against {started})"
        )
    return settings, ledger, run
