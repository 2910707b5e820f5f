"""Terminal polish (issue 11): hints on their own line, the red banner, "sent now" counting
what reached DOKU, help texts, shell completion, signal handlers that outlive the sending."""

from __future__ import annotations

import contextlib
import os
import re
import signal
import socket
import subprocess
import sys
from pathlib import Path

import click
import pytest
from click.testing import CliRunner

from batchpay import cli as cli_module
from batchpay.cli.progress import CliProgress
from batchpay.cli.render import banner
from batchpay.cli.signals import StopRequest
from batchpay.emulator.runtime import EmulatorHandle
from batchpay.journal import RunRecord
from tests.helpers.runs import FUNDED, _Main, payout_link_rows, run_cli, sac_payout_rows, write_csv

ROOT = Path(__file__).resolve().parents[1]
RUN_ID_SHAPE = re.compile(r"\d{8}-\d{6}-[0-9a-f]{4}")


@pytest.fixture
def here(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.chdir(tmp_path)
    return tmp_path


@pytest.fixture
def local(emulator: EmulatorHandle, monkeypatch: pytest.MonkeyPatch, here: Path) -> EmulatorHandle:
    emulator.admin.reset()
    monkeypatch.setenv("BATCHPAY_BASE_URL", emulator.url)
    return emulator


def test_cli_repeat_refusal_hint_on_its_own_line(local: EmulatorHandle, here: Path) -> None:
    sheet = write_csv(here / "b.csv", payout_link_rows(2))
    assert run_cli("run", str(sheet), "--quiet").exit_code == 0
    lines = run_cli("run", str(sheet)).output.splitlines()
    hint = next(i for i, line in enumerate(lines) if line.startswith("hint: "))
    assert lines[hint - 1].strip().startswith("row 3: 'PL-0002' was already used in run")
    assert " — " not in lines[hint - 1] and "--allow-repeat" in lines[hint]


def test_cli_shortfall_hint_on_its_own_line(local: EmulatorHandle, here: Path) -> None:
    local.admin.fund(FUNDED, 100_000)
    sheet = write_csv(here / "v.csv", sac_payout_rows(2))
    lines = run_cli("run", str(sheet)).output.splitlines()
    hint = next(i for i, line in enumerate(lines) if line.startswith("hint: "))
    assert lines[hint - 1].strip().endswith("available 100,000")
    assert "top up" in lines[hint]


def test_cli_banner_red_in_a_terminal_plain_elsewhere_and_with_no_color(
    local: EmulatorHandle, here: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    sheet = write_csv(here / "b.csv", payout_link_rows(1))
    red = click.style("*** EMULATOR", fg="red", bold=True).removesuffix("\x1b[0m")
    tty = CliRunner().invoke(_Main(), ["run", str(sheet), "--dry-run"], color=True)  # type: ignore[arg-type]
    assert tty.exit_code == 0 and red in tty.output
    piped = run_cli("run", str(sheet), "--dry-run")
    assert "\x1b[" not in piped.output and "*** EMULATOR" in piped.output
    monkeypatch.setenv("NO_COLOR", "1")
    assert "\x1b[" not in banner("sandbox")
    plain = CliRunner().invoke(_Main(), ["run", str(sheet), "--dry-run"], color=True)  # type: ignore[arg-type]
    assert "\x1b[" not in plain.output


def _closed_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def test_cli_sent_now_counts_only_requests_that_reached_doku(
    here: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("BATCHPAY_BASE_URL", f"http://127.0.0.1:{_closed_port()}")
    sheet = write_csv(here / "b.csv", payout_link_rows(1))
    result = run_cli("run", str(sheet), "--quiet", "--concurrency", "1")
    assert result.exit_code == 1, result.output
    assert "0 request(s) sent now" in result.output  # connection refused: nothing reached


def test_cli_runs_limit_has_help_and_no_base_url() -> None:
    text = run_cli("runs", "--help").output
    assert "--base-url" not in text
    assert re.search(r"--limit INTEGER RANGE\s+Show at most", text), text


def _commands(group: click.Group, prefix: str = "") -> list[tuple[str, click.Command]]:
    found: list[tuple[str, click.Command]] = []
    for name, command in group.commands.items():
        found.append((f"{prefix}{name}", command))
        if isinstance(command, click.Group):
            found += _commands(command, f"{prefix}{name} ")
    return found


def test_cli_help_examples_use_real_run_id_shapes() -> None:
    cli_module._register()
    for name, _command in _commands(cli_module.cli):
        text = run_cli(*name.split(), "--help").output
        for token in re.findall(r"\b\d{8}-[0-9A-Za-z-]+", text):
            assert RUN_ID_SHAPE.fullmatch(token), f"batchpay {name} --help: {token}"


def test_cli_shell_completion_script_for_bash() -> None:
    env = {**os.environ, "_BATCHPAY_COMPLETE": "bash_source"}
    done = subprocess.run(
        [sys.executable, "-m", "batchpay"], env=env, capture_output=True, text=True, timeout=60
    )
    assert done.returncode == 0, done.stderr
    assert "_batchpay_completion" in done.stdout and "complete " in done.stdout


def _run_record() -> RunRecord:
    return RunRecord(
        run_id="20261205-010203-abcd",
        created_at="2026-12-05T01:02:03.000+00:00",
        finished_at=None,
        kind="payout-link",
        env="emulator",
        input_path="/x/b.csv",
        input_name="b.csv",
        input_sha256="0" * 64,
        operator="t",
        dry_run=False,
        parent_run_id=None,
    )


def test_cli_progress_signal_handlers_outlive_sending_until_the_command_ends() -> None:
    """The workbook is written after sending: a second Ctrl-C then must still exit 130 with
    the resume hint, not fall through to click's "Aborted." (exit 1)."""
    default = signal.getsignal(signal.SIGINT)
    with contextlib.ExitStack() as stack:
        progress = CliProgress(stack, StopRequest(), quiet=True)
        progress.created(_run_record())
        ours = signal.getsignal(signal.SIGINT)
        assert ours is not default
        progress.sending(_run_record(), total=1, desc="Sending")
        progress.sent()
        assert signal.getsignal(signal.SIGINT) is ours  # still ours while the workbook is written
    assert signal.getsignal(signal.SIGINT) is default


def test_cli_ctrl_c_before_a_run_exists_exit_130_interrupted() -> None:
    """Ctrl-C at the production prompt: no run, nothing sent, exit 130 (not "Aborted.", 1)."""
    sheet = ROOT / "samples" / "bonus-payout-link.csv"
    env = {k: v for k, v in os.environ.items() if not k.startswith("BATCHPAY_")}
    env.update(
        {
            "BATCHPAY_HOME": os.environ["BATCHPAY_HOME"],
            "BATCHPAY_CLIENT_ID": "MCH-0001-00000000000000",
            "BATCHPAY_SECRET_KEY": "SK-NOT-USED-BEFORE-THE-PROMPT-0",
            "BATCHPAY_BASE_URL": f"http://127.0.0.1:{_closed_port()}",
        }
    )
    proc = subprocess.Popen(
        [sys.executable, "-m", "batchpay", "run", str(sheet), "--env", "production"],
        env=env,
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
    )
    assert proc.stdout is not None
    seen = b""
    while b"rows" not in seen.lower() or not seen.rstrip().endswith(b":"):
        chunk = proc.stdout.read1(4096)  # type: ignore[attr-defined]
        assert chunk, f"exited before the prompt: {seen!r}"
        seen += chunk
    proc.send_signal(signal.SIGINT)
    _, err = proc.communicate(timeout=30)
    assert proc.returncode == 130, err
    assert b"Interrupted." in err and b"Aborted." not in err and b"Traceback" not in err
