"""docs/safety.md invariant 6: the secret key appears nowhere — stdout, stderr, the journal
(the raw SQLite file and its -wal/-shm, lock files), any workbook (unzipped XML), exception
text.

A canary secret is configured for an emulator that expects it, and every command a user
runs goes through a real `python -m batchpay` subprocess (BATCHPAY_DEBUG=1, so a traceback
would be printed if there were one): run with faults on the wire, a run with a *wrong*
canary (401), a run killed -9 mid-batch (so the WAL holds fresh pages), resume, dry run,
status, runs, report. After every command every file under the test's directory is read
raw; workbooks are unzipped and every member is searched.
"""

from __future__ import annotations

import signal
import subprocess
import time
import zipfile
from collections.abc import Iterator
from pathlib import Path

import pytest

from batchpay.config import load_settings
from batchpay.doku import make_session
from batchpay.doku.client import DokuClient
from batchpay.emulator import EMULATOR_CLIENT_ID, start_emulator
from batchpay.emulator.runtime import EmulatorHandle
from batchpay.journal.sqlite import SqliteJournal
from batchpay.kinds import KINDS
from tests.helpers.proofs import batchpay_cmd, cli_env
from tests.helpers.runs import FUNDED, payout_link_rows, sac_payout_rows, write_csv

CANARY = "SK-CANARY-7f3a9c1e5b2d4a6f8e0c9b7a5d3f1e2c"
WRONG = "SK-CANARY-WRONG-0d9e8f7a6b5c4d3e2f1a0b9c8d7e6f5a"


def _needles() -> tuple[str, ...]:
    """The secrets, their prefix, and every 12-character window of their random parts: a
    truncated, partly masked or split secret is still a leak (12 hex characters make a
    chance match in a SHA-256 or Request-Id vanishingly unlikely)."""
    windows = {
        part[i : i + 12]
        for secret in (CANARY, WRONG)
        for part in [secret.rsplit("-", 1)[1]]
        for i in range(len(part) - 11)
    }
    return (CANARY, WRONG, "SK-CANARY", *sorted(windows))


NEEDLES = _needles()


@pytest.fixture(name="gateway", scope="module")
def gateway_fixture() -> Iterator[EmulatorHandle]:
    handle = start_emulator(port=0, secret_key=CANARY, link_step_seconds=0.2, activation_seconds=0)
    try:
        yield handle
    finally:
        handle.stop()


def leaks_in_text(text: str) -> list[str]:
    return [n for n in NEEDLES if n in text]


def leaks_in_files(root: Path) -> list[str]:
    found: list[str] = []
    for path in sorted(p for p in root.rglob("*") if p.is_file()):
        data = path.read_bytes()
        found += [f"{path.relative_to(root)}: {n}" for n in NEEDLES if n.encode() in data]
        if zipfile.is_zipfile(path):
            with zipfile.ZipFile(path) as zf:
                for member in zf.namelist():
                    content = zf.read(member)
                    found += [
                        f"{path.relative_to(root)}!{member}: {n}"
                        for n in NEEDLES
                        if n.encode() in content
                    ]
    return found


class Session:
    """Runs batchpay commands in subprocesses and checks every output and file after each."""

    def __init__(self, root: Path, gateway: EmulatorHandle) -> None:
        self.root = root
        self.work = root / "work"
        self.work.mkdir()
        self.ledger = root / "journal" / "ledger.sqlite"
        self.home = root / "home"
        self.gateway = gateway
        self.commands: list[str] = []

    def env(self, secret: str = CANARY) -> dict[str, str]:
        return cli_env(
            self.gateway.url,
            self.ledger,
            self.home,
            secret_key=secret,
            extra={"BATCHPAY_DEBUG": "1"},
        )

    def check(self, what: str, *texts: str) -> None:
        self.commands.append(what)
        leaks = [f"{what} output: {n}" for t in texts for n in leaks_in_text(t)]
        leaks += [f"after {what}: {leak}" for leak in leaks_in_files(self.root)]
        assert leaks == [], leaks

    def cli(
        self, *args: str, secret: str = CANARY, expect: tuple[int, ...] = (0,)
    ) -> subprocess.CompletedProcess[str]:
        done = subprocess.run(
            batchpay_cmd(*args),
            env=self.env(secret),
            cwd=self.work,
            capture_output=True,
            text=True,
            timeout=120,
        )
        self.check(" ".join(args[:2]), done.stdout, done.stderr)
        assert done.returncode in expect, (args, done.returncode, done.stdout, done.stderr)
        return done

    def run_id(self, sheet_name: str) -> str:
        runs = [r for r in SqliteJournal(self.ledger).runs() if r.input_name == sheet_name]
        assert len(runs) == 1
        return runs[0].run_id


@pytest.mark.slow
def test_canary_secret_every_command_output_journal_workbook_never_contain_it(
    gateway: EmulatorHandle, tmp_path: Path
) -> None:
    admin = gateway.admin
    admin.reset()
    admin.fund(FUNDED, 10_000_000)
    s = Session(tmp_path, gateway)
    links = write_csv(s.work / "links.csv", payout_link_rows(6))
    payouts = write_csv(s.work / "vendors.csv", sac_payout_rows(6))
    later = write_csv(s.work / "later.csv", payout_link_rows(4, prefix="LATER"))
    killed = write_csv(s.work / "killed.csv", payout_link_rows(8, prefix="KILL"))

    # A run with trouble on the wire: answers lost, a 500 after execution, a 503.
    admin.queue_fault("drop-after", op="payout-link", nth=2)
    admin.queue_fault("error-500-after", op="payout-link", nth=4)
    admin.queue_fault("error-503", op="payout-link", nth=5)
    s.cli("run", str(links), "--quiet", "--concurrency", "2", expect=(0,))
    links_run = s.run_id("links.csv")
    # Sub Account: signed responses, one with a bad signature, one dropped.
    admin.queue_fault("bad-signature", op="payout", nth=1)
    admin.queue_fault("drop-after", op="payout", nth=3)
    s.cli("run", str(payouts), "--quiet", expect=(0,))

    # The wrong secret: DOKU answers 401, the batch stops (exit 3), nothing is paid.
    before = admin.executed()["count"]
    s.cli("run", str(later), "--quiet", secret=WRONG, expect=(3,))
    later_run = s.run_id("later.csv")
    s.cli("resume", later_run, "--quiet", secret=WRONG, expect=(3,))
    assert admin.executed()["count"] == before
    s.cli("resume", later_run, "--quiet", expect=(0,))

    # Killed -9 while DOKU holds an answer: the journal's WAL is left as the crash left it.
    admin.queue_fault("hold-after", op="payout-link", nth=3)
    proc = subprocess.Popen(
        batchpay_cmd("run", str(killed), "--quiet", "--concurrency", "1"),
        env=s.env(),
        cwd=s.work,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        deadline = time.monotonic() + 60
        while admin.health()["held"] < 1 and time.monotonic() < deadline:
            time.sleep(0.02)
        proc.send_signal(signal.SIGKILL)
        out, err = proc.communicate(timeout=10)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
        admin.release()
    assert proc.returncode == -signal.SIGKILL
    assert list(s.ledger.parent.glob("*-wal")), "expected the killed run's WAL file"
    s.check("run (killed -9)", out, err)
    s.cli("resume", s.run_id("killed.csv"), "--quiet", expect=(0,))

    s.cli("run", str(links), "--dry-run", "--allow-repeat", "--quiet", expect=(0,))
    s.cli("status", links_run, expect=(0,))
    s.cli("runs")
    s.cli("report", links_run, "-o", str(s.work / "links-report.xlsx"))
    month = SqliteJournal(s.ledger).run(links_run).created_at[:7]
    s.cli("report", "--month", month, "-o", str(s.work / "month.xlsx"), expect=(0, 1))

    workbooks = sorted(p.name for p in s.root.rglob("*.xlsx"))
    assert len(workbooks) >= 6, workbooks  # per-run workbooks, the report, the month
    assert s.ledger.exists() and len(s.commands) == 12


def test_canary_secret_library_objects_and_errors_never_show_it(gateway: EmulatorHandle) -> None:
    settings = load_settings(
        environ={
            "BATCHPAY_ENV": "sandbox",
            "BATCHPAY_CLIENT_ID": EMULATOR_CLIENT_ID,
            "BATCHPAY_SECRET_KEY": CANARY,
        }
    )
    client = DokuClient(
        base_url=gateway.url,
        client_id=EMULATOR_CLIENT_ID,
        secret_key=WRONG,
        session=make_session(trust_env=False),
    )
    try:
        refused = client.initiate_payout_link("12345678901234567890", b'{"reference_id":"X"}')
        unreachable = DokuClient(
            base_url="http://127.0.0.1:9",
            client_id=EMULATOR_CLIENT_ID,
            secret_key=CANARY,
            session=client.session,
            timeout=(0.5, 0.5),
        ).payout("r-1", b"{}")
        with pytest.raises(ValueError) as bad_id:
            client.send(KINDS["payout-link"], "not-digits", b"{}")
    finally:
        client.session.close()
    texts = [
        repr(settings),
        str(settings),
        f"{settings.secret_key}",
        repr(client),
        repr(refused),
        str(refused.to_dict()),
        repr(unreachable),
        str(bad_id.value),
        repr(bad_id.value),
    ]
    assert refused.auth_failed and unreachable.klass == "not-sent"
    assert [t for t in texts if leaks_in_text(t)] == []
