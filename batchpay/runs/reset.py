"""Starting the built-in emulator over (``batchpay emulator reset``).

The built-in emulator (``BATCHPAY_ENV=emulator`` with no ``BATCHPAY_BASE_URL``) is a DOKU
whose whole memory is one file, ``$BATCHPAY_HOME/emulator-state.sqlite``. Resetting it wipes
that file's accounts, balances, links and idempotency records: a new, empty DOKU. The
journal's repeat check exists so that no reference is paid twice *at the same DOKU*; the
references of runs made against the old one cannot be paid twice by the new one, so after a
reset they no longer block a new run — in the built-in emulator environment only:

* runs against sandbox, production or a separately started emulator (a base URL stored
  with the run) are never touched, and keep blocking their references as before;
* nothing is deleted from the journal (it is append-only): each forgotten run gets an
  ``emulator-reset`` event saying why its references stopped blocking, in the transaction
  that makes its rows give their live slots back (``Journal.release_references``: the
  journal's unique index on live references), and the reset time is kept in
  ``$BATCHPAY_HOME/emulator-reset.json``; ``batchpay runs`` and the reports still list those
  runs;
* a reset refuses while any built-in emulator run is held by another process.
"""

from __future__ import annotations

import contextlib
import json
import os
import tempfile
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING

from batchpay.config import ensure_private_dir, load_settings
from batchpay.errors import JournalMissing, RepeatedReferences, RunLocked
from batchpay.journal import Journal, Repeat, RunRecord
from batchpay.runs.environment import open_journal_for

if TYPE_CHECKING:
    from batchpay.config import Settings

RESET_MARKER = "emulator-reset.json"
RESET_EVENT = "emulator-reset"
RESET_COMMAND = "batchpay emulator reset"


@dataclass
class ResetPlan:
    """What a reset would do: the state file it wipes and the runs whose references it
    stops counting as repeats."""

    settings: Settings
    state_path: Path
    state_exists: bool
    journal: Journal | None
    runs: list[RunRecord] = field(default_factory=list)

    @property
    def nothing_to_do(self) -> bool:
        return not self.state_exists and not self.runs


def is_builtin_emulator_run(run: RunRecord) -> bool:
    """A run made against the built-in emulator (never sandbox, production, or an emulator
    at a base URL)."""
    return run.env == "emulator" and not run.settings.get("base_url")


def reset_at(settings: Settings) -> datetime | None:
    """When the built-in emulator was last reset (None: never)."""
    try:
        data = json.loads((settings.home / RESET_MARKER).read_text(encoding="utf-8"))
        return datetime.fromisoformat(str(data["reset_at"]))
    except (OSError, ValueError, KeyError, TypeError):
        return None


def forgotten_runs(journal: Journal, settings: Settings) -> tuple[str, ...]:
    """Runs whose references no longer block a new run: built-in emulator runs made before
    the last reset, and only when the new run goes to the built-in emulator too."""
    since = reset_at(settings) if settings.uses_builtin_emulator else None
    if since is None:
        return ()
    return tuple(
        run.run_id
        for run in journal.runs()
        if is_builtin_emulator_run(run) and datetime.fromisoformat(run.created_at) < since
    )


def refuse_repeats(repeats: list[Repeat], settings: Settings) -> RepeatedReferences:
    """The refusal of a run that repeats references; in the built-in emulator it names the
    way to start over."""
    refused = RepeatedReferences(repeats)
    if settings.uses_builtin_emulator:
        refused.hint = (
            "these runs went to the built-in emulator (no real money moved): start it over "
            f"with `{RESET_COMMAND}`, then run again (sandbox and production keep refusing "
            "repeats); or remove these rows, or re-run with --allow-repeat"
        )
    return refused


def plan_reset() -> ResetPlan:
    """Look, change nothing: the state file and the built-in emulator runs not yet
    forgotten."""
    from batchpay.doku import EMULATOR_STATE_FILE

    settings = load_settings(env="emulator", base_url=None, require_credentials=False)
    state_path = settings.home / EMULATOR_STATE_FILE
    try:
        journal: Journal | None = open_journal_for(settings)
    except JournalMissing:
        journal = None
    since = reset_at(settings)
    runs = [
        run
        for run in (journal.runs() if journal is not None else [])
        if is_builtin_emulator_run(run)
        and (since is None or datetime.fromisoformat(run.created_at) >= since)
    ]
    return ResetPlan(settings, state_path, state_path.exists(), journal, runs)


def reset_builtin_emulator(plan: ResetPlan, *, clock: datetime | None = None) -> ResetPlan:
    """Wipe the built-in emulator's state, record the reset and journal an event on each
    run it forgets. Refuses (RunLocked) while another process holds one of those runs."""
    from batchpay.emulator.state import Store

    now = clock or datetime.now(UTC)
    with contextlib.ExitStack() as held:
        for run in plan.runs:
            assert plan.journal is not None
            try:
                held.enter_context(plan.journal.lock(run.run_id))
            except RunLocked as exc:
                raise RunLocked(
                    f"the built-in emulator was not reset: {exc.message}",
                    hint="let that command finish (or stop it), then reset again",
                ) from None
        if plan.state_exists:
            store = Store(plan.state_path)
            try:
                store.reset()
            finally:
                store.close()
        _write_marker(plan.settings.home, now)
        for run in plan.runs:
            assert plan.journal is not None
            # Its rows give their references back (the live-reference index) with the event.
            plan.journal.release_references(
                run.run_id,
                RESET_EVENT,
                f"the built-in emulator was reset at {now.isoformat(timespec='seconds')} "
                f"(`{RESET_COMMAND}`): its state is wiped, so this run's references no longer "
                "block new emulator runs; nothing was paid (emulator)",
            )
    return plan


def _write_marker(home: Path, now: datetime) -> None:
    ensure_private_dir(home)
    fd, tmp = tempfile.mkstemp(prefix=f".{RESET_MARKER}.", dir=home)
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as fh:  # mkstemp: 0600
            json.dump({"reset_at": now.isoformat()}, fh)
        os.replace(tmp, home / RESET_MARKER)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
