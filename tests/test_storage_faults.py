"""Storage faults of the journal (issue 8, findings 3 and 10, "Storage faults in tests"): a
full filesystem (a small real tmpfs) at run creation and mid-run, a read-only journal (a
read-only mount: root ignores file modes, a read-only mount it does not), a corrupt journal,
and a lost -wal followed by a next-day resume (the emulator's clock injected).

Expected: exit 4 with one message naming the journal path and the cause and telling not to
pay the sheet again from a new journal; no traceback, no "internal error"; `runs` and
`report` work on a read-only journal; after a lost WAL and a next-day resume nothing is
executed twice. Mounting needs root: outside CI such a test skips, under CI=true it FAILS
(tests/helpers/mounts.py).
"""

from __future__ import annotations

import shutil
import sqlite3
import subprocess
import time
from collections import Counter
from collections.abc import Iterator
from pathlib import Path

import pytest
from click.testing import CliRunner, Result

from batchpay import runs
from batchpay.cli.render import next_steps
from batchpay.doku import make_session
from batchpay.doku.client import DokuClient
from batchpay.emulator import EMULATOR_CLIENT_ID, EMULATOR_SECRET_KEY, start_emulator
from batchpay.emulator.runtime import EmulatorHandle
from batchpay.journal.sqlite import SqliteJournal
from batchpay.runs import plan as planning
from batchpay.validate import validate_file
from tests.helpers.hostile import business_key
from tests.helpers.mounts import fill_up, read_only, tmpfs
from tests.helpers.proofs import (
    assert_invariants,
    batchpay_cmd,
    cli_env,
    fast_options,
    no_sleep,
)
from tests.helpers.runs import _Main, payout_link_rows, write_csv
from tests.test_ledger_loss_property import Clock

NEVER_AGAIN = "new journal"


@pytest.fixture(name="emulator")
def emulator_fixture() -> Iterator[EmulatorHandle]:
    handle = start_emulator(port=0, link_step_seconds=0)
    try:
        yield handle
    finally:
        handle.stop()


def _cli(env: dict[str, str], *args: str) -> Result:
    return CliRunner().invoke(_Main(), list(args), env=env)  # type: ignore[arg-type]


def _assert_journal_error(
    result: Result | subprocess.CompletedProcess[str], path: Path, *causes: str
) -> None:
    """Exit 4, one error line naming the path and a cause, the never-again advice, no
    traceback and no "internal error"."""
    if isinstance(result, Result):
        code, output = result.exit_code, result.output
    else:
        code, output = result.returncode, result.stdout + result.stderr
    assert code == 4, output
    assert "Traceback" not in output and "internal error" not in output, output
    errors = [line for line in output.splitlines() if line.startswith("error:")]
    assert len(errors) == 1, output
    assert str(path) in errors[0], output
    assert any(c in errors[0].lower() for c in causes), (causes, output)
    assert NEVER_AGAIN in output, output


def _sheet(tmp: Path, n: int = 6, prefix: str = "PL") -> tuple[Path, list[dict[str, str]]]:
    rows = payout_link_rows(n, prefix=prefix)
    return write_csv(tmp / f"{prefix}.csv", rows), rows


def _env(emulator: EmulatorHandle, ledger: Path, tmp: Path) -> dict[str, str]:
    return cli_env(emulator.url, ledger, tmp / "home")


# --- full disk --------------------------------------------------------------------------------


def test_storage_full_disk_at_run_creation_exit_4_names_path(
    tmp_path: Path, emulator: EmulatorHandle
) -> None:
    """Finding 10: the journal's disk is full when `run` creates the run: exit 4, the path,
    "full", never "cannot rollback" or an internal error; nothing sent."""
    sheet, _ = _sheet(tmp_path)
    with tmpfs(tmp_path / "disk", size="256k") as disk:
        ledger = disk / "ledger.sqlite"
        filler = fill_up(disk)
        result = _cli(
            _env(emulator, ledger, tmp_path),
            "run",
            str(sheet),
            "--quiet",
            "--report",
            str(tmp_path / "r.xlsx"),
        )
        _assert_journal_error(result, ledger, "full", "no space")
        assert "rollback" not in result.output
        assert emulator.admin.executed()["count"] == 0
        filler.unlink()


def test_storage_full_disk_mid_run_exit_4_then_resume_pays_each_once(
    tmp_path: Path, emulator: EmulatorHandle
) -> None:
    """Finding 10: the disk fills while the 3rd row's answer is in flight. The run stops
    with exit 4 naming the journal; after space is freed, `resume` settles every row with
    each reference executed exactly once (every invariant of docs/safety.md)."""
    sheet, rows = _sheet(tmp_path)
    with tmpfs(tmp_path / "disk", size="1m") as disk:
        ledger = disk / "ledger.sqlite"
        env = _env(emulator, ledger, tmp_path)
        emulator.admin.queue_fault("hold-after", op="payout-link", nth=3)
        proc = subprocess.Popen(
            batchpay_cmd(
                "run",
                str(sheet),
                "--quiet",
                "--concurrency",
                "1",
                "--report",
                str(tmp_path / "r.xlsx"),
            ),
            env=env,
            cwd=tmp_path,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        try:
            deadline = time.monotonic() + 30
            while emulator.admin.health()["held"] < 1:
                assert proc.poll() is None, proc.communicate()
                assert time.monotonic() < deadline, "the run never reached the 3rd row"
                time.sleep(0.02)
            filler = fill_up(disk)
            emulator.admin.release()
            out, err = proc.communicate(timeout=60)
        finally:
            if proc.poll() is None:
                proc.kill()
                proc.communicate()
        done = subprocess.CompletedProcess(proc.args, proc.returncode, out, err)
        _assert_journal_error(done, ledger, "full", "no space")
        filler.unlink()
        run_id = SqliteJournal(ledger).runs()[0].run_id
        resumed = _cli(env, "resume", run_id, "--quiet")
        assert resumed.exit_code == 0, resumed.output
        assert_invariants(ledger, run_id, emulator.admin, rows)
        assert emulator.admin.executed()["max_per_reference"] == 1


# --- read-only journal ------------------------------------------------------------------------


def test_storage_read_only_journal_runs_and_report_work_writers_exit_4(
    tmp_path: Path, emulator: EmulatorHandle
) -> None:
    """Finding 10: on a read-only mount, `runs` and `report` work; `resume`, `status` and a
    new `run` exit 4 naming the journal, nothing sent, no traceback."""
    sheet, _ = _sheet(tmp_path, 2)
    with tmpfs(tmp_path / "disk", size="2m") as disk:
        ledger = disk / "ledger.sqlite"
        env = _env(emulator, ledger, tmp_path)
        first = _cli(env, "run", str(sheet), "--quiet", "--report", str(tmp_path / "r.xlsx"))
        assert first.exit_code == 0, first.output
        run_id = SqliteJournal(ledger).runs()[0].run_id
        before = emulator.admin.executed()["count"]
        with read_only(disk):
            listed = _cli(env, "runs")
            assert listed.exit_code == 0, listed.output
            assert run_id in listed.output
            report = _cli(env, "report", run_id, "-o", str(tmp_path / "again.xlsx"))
            assert report.exit_code == 0, report.output
            assert (tmp_path / "again.xlsx").is_file()
            for args in (
                ("resume", run_id, "--quiet"),
                ("status", run_id),
                ("run", str(_sheet(tmp_path, 2, "RO")[0]), "--quiet"),
            ):
                _assert_journal_error(_cli(env, *args), ledger, "read-only", "read only")
        assert emulator.admin.executed()["count"] == before


# --- corrupt journal --------------------------------------------------------------------------


def test_storage_corrupt_journal_exit_4_never_replaced(
    tmp_path: Path, emulator: EmulatorHandle
) -> None:
    """Finding 10: a journal overwritten with garbage is named as corrupt (exit 4) by `runs`,
    `resume` and `run` — and `run` never starts a new journal over it."""
    sheet, _ = _sheet(tmp_path, 2)
    ledger = tmp_path / "journal" / "ledger.sqlite"
    env = _env(emulator, ledger, tmp_path)
    first = _cli(env, "run", str(sheet), "--quiet", "--report", str(tmp_path / "r.xlsx"))
    assert first.exit_code == 0, first.output
    run_id = SqliteJournal(ledger).runs()[0].run_id
    garbage = b"this is not a journal\n" * 4096
    ledger.write_bytes(garbage)
    for path in (Path(f"{ledger}-wal"), Path(f"{ledger}-shm")):
        path.unlink(missing_ok=True)
    for args in (
        ("runs",),
        ("resume", run_id, "--quiet"),
        ("run", str(_sheet(tmp_path, 2, "NEW")[0]), "--quiet"),
    ):
        _assert_journal_error(_cli(env, *args), ledger, "corrupt", "not a database")
    assert ledger.read_bytes() == garbage


# --- lost WAL, next WIB day -------------------------------------------------------------------


def test_storage_lost_wal_next_day_resume_never_executes_twice(tmp_path: Path) -> None:
    """Findings 1 + 10 (the probe's 40-of-300): a run's outcomes sit in the -wal; the -wal is
    lost (kill -9 and a restore of the main file), the journal says PLANNED/SENDING again;
    `resume` on the next WIB day (the Request-Ids' one-day idempotency is gone), then
    retry-failed as the summary advises. No reference is executed twice."""
    clock = Clock()
    handle = start_emulator(port=0, link_step_seconds=0, clock=clock)
    client = DokuClient(
        base_url=handle.url,
        client_id=EMULATOR_CLIENT_ID,
        secret_key=EMULATOR_SECRET_KEY,
        session=make_session(trust_env=False),
        timeout=(1.0, 2.0),
        clock=clock.dt,
    )
    path = tmp_path / "ledger.sqlite"
    keeper: sqlite3.Connection | None = None
    try:
        sheet, rows = _sheet(tmp_path, 8)
        result = validate_file(sheet)
        ledger = SqliteJournal(path, create=True)
        run = runs.create_run(ledger, planning.plan(result, env="emulator"), settings={})
        keeper = sqlite3.connect(path)  # holds the WAL open: no checkpoint on close
        keeper.execute("PRAGMA wal_checkpoint(TRUNCATE)").fetchone()  # the plan is on disk
        handle.admin.queue_fault("drop-after", op="payout-link", nth=4)
        runs.execute(
            ledger, client, run.run_id, options=fast_options(concurrency=1), sleep=no_sleep
        )
        assert handle.admin.executed()["count"] == 8
        main_only = tmp_path / "main-only.sqlite"
        shutil.copyfile(path, main_only)  # the main file without its -wal
        keeper.close()
        keeper = None
        for suffix in ("", "-wal", "-shm"):
            Path(f"{path}{suffix}").unlink(missing_ok=True)
        shutil.copyfile(main_only, path)
        lost = SqliteJournal(path)
        assert {r.state for r in lost.rows(run.run_id)} <= {"PLANNED", "SENDING"}  # WAL lost
        clock.past_wib_midnight()
        after = runs.resume(
            lost, client, run.run_id, options=fast_options(concurrency=1), sleep=no_sleep
        )
        if "retry-failed" in " ".join(next_steps(after.run, after.rows)):
            retry = runs.plan_retry(lost, run.run_id)
            if retry.plan.rows:
                runs.retry_failed(
                    lost, client, retry, options=fast_options(concurrency=1), sleep=no_sleep
                )
        truth = handle.admin.executed("payout-link")
        counts = Counter(business_key(i["reference"]) for i in truth["items"])
        assert max(counts.values()) == 1, counts
        assert len(counts) == len(rows)
        # The duplicate-reference answers were resolved by look-up: every link adopted.
        assert {r.state for r in lost.rows(run.run_id)} == {"COMPLETED"}
    finally:
        if keeper is not None:
            keeper.close()
        client.session.close()
        handle.stop()
