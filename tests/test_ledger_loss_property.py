"""Property (issue 8, findings 1 and 3, "A property test"): ANY sequence of
{run the sheet (sometimes losing answers), resume, retry-failed as the summary advises,
back the journal up, delete it, restore an earlier backup, lose its -wal file, advance the
clock past WIB midnight} never executes a business reference twice at the emulator.

The emulator runs in-process with an injected clock (so "the next WIB day" happens in
milliseconds) and the client signs with the same clock. A command that refuses (repeat
check, JournalMissing, a retried run) is fine: the property is about the gateway's truth
(``/_emulator/executed``), grouped by :func:`tests.helpers.hostile.business_key` —
``reference_key`` with a retry's ``-R<n>`` removed, so a retry that pays ``PL-0001-R2``
after ``PL-0001`` was paid counts as paying that person twice.
"""

from __future__ import annotations

import shutil
import sqlite3
import tempfile
import time
from collections import Counter
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta, timezone
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as hs

from batchpay import runs
from batchpay.cli.render import next_steps
from batchpay.doku import make_session
from batchpay.doku.client import DokuClient
from batchpay.emulator import EMULATOR_CLIENT_ID, EMULATOR_SECRET_KEY, start_emulator
from batchpay.emulator.runtime import EmulatorHandle
from batchpay.errors import BatchpayError
from batchpay.journal.sqlite import SqliteJournal
from batchpay.runs import plan as planning
from batchpay.states import OPEN
from batchpay.validate import validate_file
from tests.helpers.hostile import business_key
from tests.helpers.proofs import fast_options, no_sleep
from tests.helpers.runs import FUNDED, payout_link_rows, sac_payout_rows, write_csv

WIB = timezone(timedelta(hours=7))
ROWS = 3
OP = {"payout-link": "payout-link", "sub-account-payout": "payout"}


class Clock:
    """Wall-clock seconds that tests move forward (the emulator's and the client's)."""

    def __init__(self) -> None:
        self.now = time.time()

    def __call__(self) -> float:
        return self.now

    def dt(self) -> datetime:
        return datetime.fromtimestamp(self.now, UTC)

    def past_wib_midnight(self) -> None:
        local = datetime.fromtimestamp(self.now, WIB)
        midnight = (local + timedelta(days=1)).replace(hour=0, minute=0, second=5, microsecond=0)
        self.now = midnight.timestamp()


@pytest.fixture(name="world", scope="module")
def world_fixture() -> Iterator[tuple[EmulatorHandle, Clock]]:
    clock = Clock()
    handle = start_emulator(port=0, link_step_seconds=0, activation_seconds=0, clock=clock)
    try:
        yield handle, clock
    finally:
        handle.stop()


STEPS = hs.sampled_from(
    [
        "run",
        "run-drop",
        "run-drop",
        "resume",
        "retry-failed",
        "backup",
        "delete",
        "restore",
        "lose-wal",
        "next-day",
        "lookup-lags",
    ]
)


class Operator:
    """Follows the tool's advice on one journal path, while the journal is abused."""

    def __init__(self, root: Path, handle: EmulatorHandle, clock: Clock, product: str) -> None:
        self.root = root
        self.handle = handle
        self.clock = clock
        self.product = product
        self.path = root / "journal" / "ledger.sqlite"
        self.backups: list[Path] = []
        self.keeper: sqlite3.Connection | None = None
        rows = payout_link_rows(ROWS) if product == "payout-link" else sac_payout_rows(ROWS)
        self.sheet = write_csv(root / "sheet.csv", rows)
        self.client = DokuClient(
            base_url=handle.url,
            client_id=EMULATOR_CLIENT_ID,
            secret_key=EMULATOR_SECRET_KEY,
            session=make_session(trust_env=False),
            timeout=(1.0, 2.0),
            clock=clock.dt,
        )
        self.log: list[str] = []

    # --- the journal's files ------------------------------------------------------------------

    def _files(self) -> list[Path]:
        return [self.path, *(Path(f"{self.path}{s}") for s in ("-wal", "-shm", "-journal"))]

    def _hold_wal(self) -> None:
        """Keep a connection open so commits stay in the -wal (no checkpoint on close)."""
        if self.keeper is None and self.path.exists():
            self.keeper = sqlite3.connect(self.path)
            self.keeper.execute("SELECT count(*) FROM sqlite_master").fetchone()

    def _release(self) -> None:
        if self.keeper is not None:
            self.keeper.close()
            self.keeper = None

    def _remove(self) -> None:
        self._release()
        for f in self._files():
            f.unlink(missing_ok=True)

    # --- steps ----------------------------------------------------------------------------------

    def step(self, name: str) -> None:
        self.log.append(name)
        try:
            getattr(self, "do_" + name.replace("-", "_"))()
        except BatchpayError as exc:  # a refusal is fine: the property is about the gateway
            self.log.append(f"  refused: {type(exc).__name__}: {str(exc)[:120]}")
        finally:
            self.handle.admin.clear_faults()
            self.handle.admin.release()
        self._hold_wal()

    def do_run(self, drop: bool = False) -> None:
        result = validate_file(self.sheet)
        assert result.ok
        the_plan = planning.plan(result, env="emulator")
        ledger = SqliteJournal(self.path, create=True)
        run = runs.create_run(ledger, the_plan, settings={"test": True})
        if drop:
            # The 2nd row executes and its answer is lost; one send per row this time.
            self.handle.admin.queue_fault("drop-after", op=OP[self.product], nth=2)
        runs.execute(
            ledger,
            self.client,
            run.run_id,
            options=fast_options(max_sends=1 if drop else 4, concurrency=1),
            sleep=no_sleep,
        )

    def do_run_drop(self) -> None:
        self.do_run(drop=True)

    def do_resume(self) -> None:
        ledger = SqliteJournal(self.path)
        for run in ledger.runs():
            if ledger.rows(run.run_id, states=OPEN):
                runs.resume(
                    ledger,
                    self.client,
                    run.run_id,
                    options=fast_options(concurrency=1),
                    sleep=no_sleep,
                )

    def do_retry_failed(self) -> None:
        """Only where the summary offers it (the tool's own advice)."""
        ledger = SqliteJournal(self.path)
        for run in ledger.runs():
            advice = " ".join(next_steps(run, ledger.rows(run.run_id)))
            if f"retry-failed {run.run_id}" not in advice:
                continue
            try:
                retry = runs.plan_retry(ledger, run.run_id)
                if retry.plan.rows:
                    runs.retry_failed(
                        ledger,
                        self.client,
                        retry,
                        options=fast_options(concurrency=1),
                        sleep=no_sleep,
                    )
            except BatchpayError as exc:
                self.log.append(f"  retry refused: {str(exc)[:100]}")

    def do_backup(self) -> None:
        if not self.path.exists():
            return
        target = self.root / f"backup-{len(self.backups)}.sqlite"
        source = sqlite3.connect(self.path)
        try:
            dest = sqlite3.connect(target)
            with dest:
                source.backup(dest)
            dest.close()
        finally:
            source.close()
        self.backups.append(target)

    def do_delete(self) -> None:
        self._remove()

    def do_restore(self) -> None:
        if not self.backups:
            return
        self._remove()
        self.path.parent.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(self.backups[0], self.path)

    def do_lose_wal(self) -> None:
        """The main file as it is on disk, without the -wal that holds the latest commits."""
        if not self.path.exists():
            return
        copy = self.root / "main-only.sqlite"
        shutil.copyfile(self.path, copy)  # before the keeper's close checkpoints the WAL
        self._remove()
        shutil.copyfile(copy, self.path)

    def do_next_day(self) -> None:
        self.clock.past_wib_midnight()

    def do_lookup_lags(self) -> None:
        """The next link created is invisible to status look-ups for a day (DOKU lagging)."""
        if self.product == "payout-link":
            self.handle.admin.queue_fault("status-not-found", op="payout-link", seconds=86_400)
            self.do_run(drop=True)

    def close(self) -> None:
        self._release()
        self.client.session.close()


@pytest.mark.slow
@pytest.mark.parametrize("product", ["payout-link", "sub-account-payout"])
def test_ledger_loss_any_sequence_never_executes_a_reference_twice(
    world: tuple[EmulatorHandle, Clock], product: str
) -> None:
    handle, clock = world
    started = time.monotonic()

    @settings(
        max_examples=20,
        deadline=None,
        derandomize=True,
        suppress_health_check=[HealthCheck.too_slow, HealthCheck.function_scoped_fixture],
    )
    @given(steps=hs.lists(STEPS, min_size=2, max_size=8))
    def prop(steps: list[str]) -> None:
        handle.admin.reset()
        handle.admin.release()
        clock.now = time.time()
        if product == "sub-account-payout":
            handle.admin.fund(FUNDED, 100_000_000)
        root = Path(tempfile.mkdtemp(prefix="ledger-loss-"))
        operator = Operator(root, handle, clock, product)
        try:
            for step in ["run-drop", *steps, "resume", "retry-failed"]:
                operator.step(step)
            truth = handle.admin.executed(OP[product])
            counts = Counter(business_key(i["reference"]) for i in truth["items"])
            twice = {k: n for k, n in counts.items() if n > 1}
            assert not twice, (
                f"paid twice: {twice} after steps {operator.log}; executed "
                f"{[(i['reference'], i['request_id']) for i in truth['items']]}"
            )
        finally:
            operator.close()
            shutil.rmtree(root, ignore_errors=True)

    prop()
    assert time.monotonic() - started < 90
