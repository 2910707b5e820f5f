"""The Quick start works every time (issue 11): the README's first command, its batchpay
part exactly as written there, run twice in a row on one machine, exits 0 both times — and
`batchpay emulator reset` never weakens the repeat protection of sandbox, production or a
separately started emulator."""

from __future__ import annotations

import os
import re
import shlex
import subprocess
import sys
from pathlib import Path

import pytest

from batchpay.config import load_settings
from batchpay.emulator import EMULATOR_CLIENT_ID, EMULATOR_SECRET_KEY
from batchpay.emulator.runtime import EmulatorHandle
from batchpay.journal.sqlite import SqliteJournal
from batchpay.runs.reset import RESET_EVENT
from tests.helpers.runs import run_cli

ROOT = Path(__file__).resolve().parents[1]
SAMPLE = ROOT / "samples" / "bonus-payout-link.csv"


def readme_first_command() -> list[list[str]]:
    """The batchpay commands of the README's first ``sh`` block (after "## Quick start"),
    each as its arguments."""
    text = (ROOT / "README.md").read_text(encoding="utf-8")
    quick = text[text.index("## Quick start") :]
    block = re.search(r"```sh\n(.*?)\n```", quick, re.S)
    assert block is not None
    commands = [part.strip() for part in block.group(1).split("&&")]
    found = [shlex.split(c)[1:] for c in commands if c.startswith(".venv/bin/batchpay ")]
    assert found and found[-1][:1] == ["run"], commands
    return found


def _ledger() -> SqliteJournal:
    return SqliteJournal(load_settings(require_credentials=False).ledger_path)


def test_quickstart_first_command_twice_in_a_row_both_exit_0(tmp_path: Path) -> None:
    (tmp_path / "samples").symlink_to(ROOT / "samples")
    env = {k: v for k, v in os.environ.items() if not k.startswith("BATCHPAY_")}
    env["BATCHPAY_HOME"] = str(tmp_path / "home")
    for attempt in (1, 2):
        for args in readme_first_command():
            done = subprocess.run(
                [sys.executable, "-m", "batchpay", *args],
                cwd=tmp_path,
                env=env,
                capture_output=True,
                text=True,
                timeout=180,
            )
            assert done.returncode == 0, (attempt, args, done.stdout[-2000:], done.stderr[-2000:])
    ledger = SqliteJournal(tmp_path / "home" / "ledger.sqlite")
    runs = ledger.runs()
    assert len(runs) == 2  # the second run really paid again, in a fresh emulator
    for run in runs:
        rows = ledger.rows(run.run_id)
        assert len(rows) == 28 and all(r.state == "PENDING" for r in rows)
    older = runs[1].run_id
    assert [e.type for e in ledger.events(older)].count(RESET_EVENT) == 1
    assert not [e for e in ledger.events(runs[0].run_id) if e.type == RESET_EVENT]


def test_quickstart_builtin_repeat_refusal_names_emulator_reset(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)
    assert run_cli("run", str(SAMPLE), "--quiet").exit_code == 0
    again = run_cli("run", str(SAMPLE), "--quiet")
    assert again.exit_code == 1 and "already used in run" in again.output
    assert "hint: " in again.output and "`batchpay emulator reset`" in again.output
    assert run_cli("emulator", "reset", "--yes").exit_code == 0
    assert run_cli("run", str(SAMPLE), "--quiet").exit_code == 0


def test_quickstart_emulator_reset_asks_first(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)
    assert run_cli("run", str(SAMPLE), "--quiet").exit_code == 0
    declined = run_cli("emulator", "reset", input="n\n")
    assert declined.exit_code == 1 and "1 earlier emulator run(s)" in declined.output
    assert run_cli("run", str(SAMPLE), "--quiet").exit_code == 1  # nothing was reset
    assert run_cli("emulator", "reset", input="y\n").exit_code == 0
    assert run_cli("run", str(SAMPLE), "--quiet").exit_code == 0


@pytest.mark.parametrize("env", ["sandbox", "emulator"])
def test_quickstart_emulator_reset_never_unblocks_sandbox_or_a_separate_emulator(
    emulator: EmulatorHandle,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    env: str,
) -> None:
    """Sandbox (here: the test emulator under sandbox settings) and an emulator at a base URL
    keep refusing repeats after `emulator reset`; the refusal does not point at the reset."""
    emulator.admin.reset()
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("BATCHPAY_ENV", env)
    monkeypatch.setenv("BATCHPAY_BASE_URL", emulator.url)
    monkeypatch.setenv("BATCHPAY_CLIENT_ID", EMULATOR_CLIENT_ID)
    monkeypatch.setenv("BATCHPAY_SECRET_KEY", EMULATOR_SECRET_KEY)
    assert run_cli("run", str(SAMPLE), "--quiet").exit_code == 0
    reset = run_cli("emulator", "reset", "--yes")
    assert reset.exit_code == 0, reset.output
    again = run_cli("run", str(SAMPLE), "--quiet")
    assert again.exit_code == 1 and "already used in run" in again.output
    assert "emulator reset" not in again.output
    assert emulator.admin.executed()["count"] == 28
    [run] = _ledger().runs()
    assert not [e for e in _ledger().events(run.run_id) if e.type == RESET_EVENT]


def test_quickstart_emulator_reset_refused_while_a_run_is_held(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)
    assert run_cli("run", str(SAMPLE), "--quiet").exit_code == 0
    [run] = _ledger().runs()
    helper = (
        "import sys, time; from batchpay.journal.sqlite import SqliteJournal\n"
        "with SqliteJournal(sys.argv[1]).lock(sys.argv[2]):\n"
        "    print('held', flush=True); time.sleep(60)\n"
    )
    holder = subprocess.Popen(
        [sys.executable, "-c", helper, str(_ledger().location), run.run_id],
        stdout=subprocess.PIPE,
        text=True,
    )
    try:
        assert holder.stdout is not None and holder.stdout.readline().strip() == "held"
        refused = run_cli("emulator", "reset", "--yes")
        assert refused.exit_code == 1, refused.output
        assert run_cli("run", str(SAMPLE), "--quiet").exit_code == 1  # still blocked
    finally:
        holder.kill()
        holder.communicate()  # waits, and closes its pipe
