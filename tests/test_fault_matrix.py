"""The fault × position × product matrix (issue 4, "Proof"): every fault the emulator can
inject, at the first, a middle and the last row of an 8-row batch, for Payout Link and Sub
Account payouts, settled either inside the run (bounded re-sends) or by a later `resume`
(the run allowed one send per row). Real emulator over real sockets, real SQLite journal;
after settling, every invariant of docs/safety.md is asserted by tests.helpers.proofs.

The matrix (pass/FAIL per cell) is printed at the end of the module's run:
``pytest tests/test_fault_matrix.py -q`` shows it under "fault × position matrix".
"""

from __future__ import annotations

import contextlib
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from batchpay import runs
from batchpay.doku.client import DokuClient
from batchpay.emulator.runtime import EmulatorHandle
from batchpay.journal.postgres import PostgresJournal
from batchpay.states import OPEN, PROGRESS, State
from tests.helpers.proofs import assert_invariants, make_client
from tests.helpers.runs import (
    FUNDED,
    Harness,
    open_harness,
    payout_link_rows,
    sac_payout_rows,
)

BATCH = 8
POSITIONS = {"first": 1, "middle": 4, "last": BATCH}
PRODUCTS = {"payout-link": "payout-link", "sub-account-payout": "payout"}  # kind -> op
MODES = ("in-run", "via-resume")
READ_TIMEOUT = 0.3  # client read timeout for timeout-after (the emulator sleeps longer)
RETRY_AFTER = 2  # seconds DOKU asks for in the 429 cell


@dataclass(frozen=True)
class Cell:
    """What one fault should do to the faulted row, per product."""

    faults: tuple[tuple[str, float | None], ...]  # (emulator fault, seconds) queued at nth=pos
    sends: dict[str, int]  # product -> wire sends of the faulted row when settled
    left_open: dict[str, bool]  # product -> a one-send run leaves the row for resume
    final_http: dict[str, int] | None = None  # product -> HTTP status of its last transition


def _both(value: Any) -> dict[str, Any]:
    return dict.fromkeys(PRODUCTS, value)


# Sub Account resolves by re-sending (409 replay); Payout Link by a status check first, and
# re-sends only when DOKU says it has no such link (docs/safety.md §2 "Resolution" 1–2).
CELLS: dict[str, Cell] = {
    "drop-after": Cell(
        (("drop-after", None),), {"payout-link": 1, "sub-account-payout": 2}, _both(True)
    ),
    "timeout-after": Cell(
        (("timeout-after", 1.0),), {"payout-link": 1, "sub-account-payout": 2}, _both(True)
    ),
    "error-500-before": Cell((("error-500-before", None),), _both(2), _both(True)),
    "error-500-after": Cell(
        (("error-500-after", None),), {"payout-link": 1, "sub-account-payout": 2}, _both(True)
    ),
    "error-503": Cell((("error-503", None),), _both(2), _both(True)),
    # A 429 is a refusal before execution: re-sent after Retry-After inside the run.
    "rate-limit-429": Cell((("rate-limit-429", float(RETRY_AFTER)),), _both(2), _both(False)),
    # Executed, answer lost, then the re-send is answered with DOKU's replay (HTTP 409). For
    # Payout Link the status look-up must first say "not found" (lagging), else no re-send.
    "replay-409": Cell(
        (("status-not-found", 60.0), ("drop-after", None)),
        _both(2),
        _both(True),
        final_http=_both(409),
    ),
    # Payout Link documents no response signature: the answer is taken as is.
    "bad-signature": Cell(
        (("bad-signature", None),),
        {"payout-link": 1, "sub-account-payout": 2},
        {"payout-link": False, "sub-account-payout": True},
    ),
    "status-not-found-then-found": Cell(
        (("status-not-found", 0.4), ("drop-after", None)), {"payout-link": 2}, {"payout-link": True}
    ),
}
# Sub Account has no status look-up: the not-found-then-found fault does not apply.
NOT_APPLICABLE = {("status-not-found-then-found", "sub-account-payout")}

MATRIX: dict[tuple[str, str, str], dict[str, str]] = {}
PG_MATRIX: dict[tuple[str, str, str], dict[str, str]] = {}  # the same cells, journal on PostgreSQL


@contextlib.contextmanager
def _record(
    fault: str, product: str, position: str, mode: str, engine: str = "sqlite"
) -> Iterator[None]:
    matrix = PG_MATRIX if engine == "postgres" else MATRIX
    cell = matrix.setdefault((fault, product, mode), {})
    cell[position] = "FAIL"
    yield
    cell[position] = "pass"


class _MatrixReport:
    """Prints the matrix in pytest's terminal summary (after output capture has ended)."""

    def pytest_terminal_summary(self, terminalreporter: Any) -> None:
        for line in matrix_lines():
            terminalreporter.write_line(line)


@pytest.fixture(scope="module", autouse=True)
def _print_matrix(request: pytest.FixtureRequest) -> Iterator[None]:
    manager = request.config.pluginmanager
    if not manager.has_plugin("batchpay-fault-matrix"):
        manager.register(_MatrixReport(), "batchpay-fault-matrix")
    yield


def matrix_lines() -> list[str]:
    if not MATRIX:
        return []
    lines = [
        "",
        "fault × position matrix (8-row batch; pass/FAIL per cell, n/a = does not apply)",
        f"{'fault':<28} {'product':<19} {'settled':<11} " + " ".join(f"{p:<6}" for p in POSITIONS),
    ]
    for fault in CELLS:
        for product in PRODUCTS:
            for mode in MODES:
                if (fault, product) in NOT_APPLICABLE:
                    cells = ["n/a"] * len(POSITIONS)
                else:
                    got = MATRIX.get((fault, product, mode), {})
                    cells = [got.get(p, "-") for p in POSITIONS]
                lines.append(
                    f"{fault:<28} {product:<19} {mode:<11} " + " ".join(f"{c:<6}" for c in cells)
                )
    passed = sum(v == "pass" for c in MATRIX.values() for v in c.values())
    total = sum(len(c) for c in MATRIX.values())
    lines.append(f"{passed}/{total} cells pass")
    if PG_MATRIX:
        passed = sum(v == "pass" for c in PG_MATRIX.values() for v in c.values())
        total = sum(len(c) for c in PG_MATRIX.values())
        lines.append(f"journal on PostgreSQL: {passed}/{total} cells pass")
    return lines


def _cases() -> list[tuple[str, str, str, str]]:
    return [
        (fault, product, position, mode)
        for fault in CELLS
        for product in PRODUCTS
        for position in POSITIONS
        for mode in MODES
        if (fault, product) not in NOT_APPLICABLE
    ]


def _input_rows(product: str) -> list[dict[str, str]]:
    return payout_link_rows(BATCH) if product == "payout-link" else sac_payout_rows(BATCH)


def _settle(harness: Harness, run_id: str, client: DokuClient, mode: str) -> int:
    """Run, then resume until no row is left open; returns how many resumes it took."""
    max_sends = 1 if mode == "via-resume" else 4
    first = harness.execute(
        run_id,
        client=client,
        concurrency=1,
        max_sends=max_sends,
        backoff_base=0.01,
        backoff_cap=0.05,
    )
    resumes = 0
    rows = first.rows
    while any(r.state in OPEN for r in rows) and resumes < 3:
        resumes += 1
        rows = harness.resume(run_id, client=client, backoff_base=0.01, backoff_cap=0.05).rows
    return resumes


@pytest.fixture(name="engine_harness", params=["sqlite", "postgres"])
def engine_harness_fixture(
    request: pytest.FixtureRequest, emulator: EmulatorHandle, tmp_path: Path
) -> Iterator[Harness]:
    """The harness with its journal on each engine (issue 14: the matrix runs on both)."""
    at = str(request.getfixturevalue("pg_url")) if request.param == "postgres" else None
    with open_harness(emulator, tmp_path, at) as harness:
        yield harness


@pytest.mark.parametrize(("fault", "product", "position", "mode"), _cases())
def test_fault_matrix_fault_at_position_every_invariant_holds(
    engine_harness: Harness, tmp_path: Path, fault: str, product: str, position: str, mode: str
) -> None:
    harness = engine_harness
    engine = "postgres" if isinstance(harness.ledger, PostgresJournal) else "sqlite"
    with _record(fault, product, position, mode, engine):
        cell = CELLS[fault]
        op = PRODUCTS[product]
        nth = POSITIONS[position]
        rows = _input_rows(product)
        if product == "sub-account-payout":
            harness.admin.fund(FUNDED, 10_000_000)
        run = harness.start(harness.sheet("batch.csv", rows))
        for name, seconds in cell.faults:
            harness.admin.queue_fault(name, op=op, nth=nth, seconds=seconds)
        client = (
            make_client(harness.emulator.url, read_timeout=READ_TIMEOUT)
            if fault == "timeout-after"
            else harness.client
        )
        try:
            resumes = _settle(harness, run.run_id, client, mode)
            if fault == "status-not-found-then-found":
                time.sleep(0.5)  # the link becomes visible to status look-ups again
                runs.refresh_statuses(harness.ledger, client, run.run_id)
            workbook = runs.write_workbook(harness.ledger, run.run_id, tmp_path / "r.xlsx")
            proof = assert_invariants(
                harness.ledger.location, run.run_id, harness.admin, rows, workbook, client=client
            )
        finally:
            if client is not harness.client:
                client.session.close()
        assert proof.executed == BATCH  # no row lost: every reference paid, once
        row = next(r for r in proof.rows if r.row_number == nth + 1)  # header is row 1
        assert row.sends == cell.sends[product], (row.sends, row.message)
        assert harness.admin.faults() == [] or fault == "status-not-found-then-found"
        if mode == "via-resume":
            assert resumes == (1 if cell.left_open[product] else 0)
        events = [
            e
            for e in harness.ledger.events(run.run_id)
            if e.row_number == row.row_number and e.new_state is not None
        ]
        assert {e.request_id for e in events} == {row.request_id}  # never a new Request-Id
        if cell.final_http is not None:
            settling = [e for e in events if e.new_state not in OPEN]
            assert settling[0].http_status == cell.final_http[product]
        if fault == "rate-limit-429":
            assert float(RETRY_AFTER) in harness.sleeps  # Retry-After was honoured
        if fault == "status-not-found-then-found":
            checks = [e for e in events if e.type == "status-check"]
            assert row.last_seen_at is not None and row.state in (
                *PROGRESS,
                "COMPLETED",
            )
            assert checks or row.state == events[-1].new_state


# --- every fault at once, concurrently ----------------------------------------------------------

STORM_RATES: dict[str, float | tuple[float, float]] = {
    "drop-after": 0.08,
    "error-500-after": 0.08,
    "error-500-before": 0.05,
    "error-503": 0.05,
    "timeout-after": (0.04, 1.0),
    "rate-limit-429": (0.05, 1.0),
    "bad-signature": 0.05,
}


@pytest.mark.parametrize("product", list(PRODUCTS))
@pytest.mark.parametrize("seed", [7, 42, 2026, 31337])
def test_fault_storm_concurrent_random_faults_every_invariant_holds(
    tmp_path: Path, product: str, seed: int
) -> None:
    """Seeded random faults on every request (status look-ups included) at concurrency 4:
    run, then resume until settled; nothing twice, nothing lost, journal = gateway."""
    from batchpay.emulator import start_emulator
    from batchpay.journal.sqlite import SqliteJournal

    handle = start_emulator(port=0, link_step_seconds=0.2, fault_rates=STORM_RATES, seed=seed)
    client = make_client(handle.url, read_timeout=READ_TIMEOUT)
    h = Harness(
        tmp=tmp_path,
        emulator=handle,
        ledger=SqliteJournal(tmp_path / "ledger.sqlite", create=True),
        client=client,
    )
    try:
        rows = payout_link_rows(30) if product == "payout-link" else sac_payout_rows(30)
        if product == "sub-account-payout":
            h.admin.fund(FUNDED, 10_000_000)
        run = h.start(h.sheet("storm.csv", rows))
        result = h.execute(run.run_id, concurrency=4, backoff_base=0.01, backoff_cap=0.05)
        for _ in range(15):
            if not any(r.state in OPEN for r in result.rows):
                break
            result = h.resume(run.run_id, concurrency=4, backoff_base=0.01, backoff_cap=0.05)
        workbook = runs.write_workbook(h.ledger, run.run_id, tmp_path / "r.xlsx")
        proof = assert_invariants(h.ledger.path, run.run_id, h.admin, rows, workbook, client=client)
        assert proof.executed == len(rows)
        # The storm did hit (counted where the faults fire: which requests they hit depends
        # on how the 4 workers interleave, so a fault may land on look-ups only).
        assert handle.emulator.faults.fired > 0
    finally:
        client.session.close()
        handle.stop()


# --- DOKU unreachable: connection refused, a gateway that dies mid-run (issue 8, finding 6) ----


def _dead_url() -> str:
    """A loopback port where nothing listens (bound, then closed)."""
    import socket

    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    return f"http://127.0.0.1:{port}"


@pytest.mark.parametrize("product", list(PRODUCTS))
def test_fault_matrix_connection_refused_then_resume_every_invariant_holds(
    harness: Harness, tmp_path: Path, product: str
) -> None:
    """Finding 6: every connection is refused (nothing left the machine). The run stops as
    "unreachable" with every row PLANNED — never SENDING/UNKNOWN ("may have been paid"), never
    "a row cannot go from SENDING to PLANNED" — then `resume` against the emulator pays each
    row exactly once."""
    rows = _input_rows(product)
    if product == "sub-account-payout":
        harness.admin.fund(FUNDED, 10_000_000)
    run = harness.start(harness.sheet("batch.csv", rows))
    dead = make_client(_dead_url())
    try:
        first = harness.execute(
            run.run_id, client=dead, concurrency=2, backoff_base=0.01, backoff_cap=0.05
        )
    finally:
        dead.session.close()
    assert first.halt is not None and first.halt.reason == "unreachable", first.halt
    assert {r.state for r in harness.ledger.rows(run.run_id)} == {State.PLANNED}
    events = harness.ledger.events(run.run_id)
    assert not [e for e in events if e.new_state in (State.UNKNOWN, State.REJECTED)], events
    assert harness.admin.executed()["count"] == 0
    harness.resume(run.run_id, backoff_base=0.01, backoff_cap=0.05)
    workbook = runs.write_workbook(harness.ledger, run.run_id, tmp_path / "r.xlsx")
    proof = assert_invariants(
        harness.ledger.path, run.run_id, harness.admin, rows, workbook, client=harness.client
    )
    assert proof.executed == BATCH


def test_fault_matrix_connection_refused_cli_run_payout_link_writes_workbook(
    tmp_path: Path,
) -> None:
    """Finding 6, as the operator sees it: `batchpay run` against a refused port exits non-zero
    with the resume hint and a workbook, rows PLANNED, no internal error."""
    from batchpay.journal.sqlite import SqliteJournal
    from tests.helpers.proofs import cli_env
    from tests.helpers.runs import run_cli, write_csv

    sheet = write_csv(tmp_path / "batch.csv", payout_link_rows(3))
    env = cli_env(_dead_url(), tmp_path / "ledger.sqlite", tmp_path / "home")
    report = tmp_path / "r.xlsx"
    with pytest.MonkeyPatch.context() as mp:
        for name, value in env.items():
            if name.startswith("BATCHPAY_"):
                mp.setenv(name, value)
        mp.chdir(tmp_path)
        result = run_cli("run", str(sheet), "--quiet", "--report", str(report))
    assert result.exit_code not in (0, 4), result.output
    assert "cannot go from" not in result.output and "internal error" not in result.output
    assert "batchpay resume" in result.output, result.output
    assert report.is_file()
    ledger = SqliteJournal(tmp_path / "ledger.sqlite")
    run_id = ledger.runs()[0].run_id
    assert {r.state for r in ledger.rows(run_id)} == {State.PLANNED}


@pytest.mark.slow
@pytest.mark.parametrize("product", list(PRODUCTS))
def test_fault_matrix_gateway_dies_mid_run_resume_elsewhere_every_invariant_holds(
    tmp_path: Path, product: str
) -> None:
    """Finding 6: the gateway dies while the 3rd row's answer is in flight (executed, the
    connection cut, the process gone); later rows meet a refused port. The gateway comes back
    on its state file at another port; `resume RUN --base-url NEW` settles every row with each
    reference executed exactly once."""
    import subprocess

    from batchpay.emulator import start_emulator
    from tests.helpers.proofs import batchpay_cmd, cli_env
    from tests.helpers.runs import write_csv

    op = PRODUCTS[product]
    rows = _input_rows(product)
    sheet = write_csv(tmp_path / "batch.csv", rows)
    state = tmp_path / "doku-state.sqlite"
    ledger_path = tmp_path / "ledger.sqlite"
    workbook = tmp_path / "r.xlsx"
    first = start_emulator(port=0, state_path=state, link_step_seconds=0)
    try:
        if product == "sub-account-payout":
            first.admin.fund(FUNDED, 10_000_000)
        first.admin.queue_fault("hold-after", op=op, nth=3)
        env = cli_env(first.url, ledger_path, tmp_path / "home")
        proc = subprocess.Popen(
            batchpay_cmd(
                "run", str(sheet), "--quiet", "--concurrency", "1", "--report", str(workbook)
            ),
            env=env,
            cwd=tmp_path,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        try:
            deadline = time.monotonic() + 30
            while first.admin.health()["held"] < 1:
                assert proc.poll() is None, proc.communicate()
                assert time.monotonic() < deadline, "the run never reached the 3rd row"
                time.sleep(0.02)
            first.emulator.close_connections()  # the answer never leaves: DOKU is gone
            first.stop()
            out, err = proc.communicate(timeout=60)
        finally:
            if proc.poll() is None:
                proc.kill()
                proc.communicate()
    finally:
        first.stop()
    output = out + err
    assert proc.returncode not in (0, 4), output
    assert "cannot go from" not in output and "internal error" not in output, output
    second = start_emulator(port=0, state_path=state, link_step_seconds=0)
    client = make_client(second.url)
    try:
        from batchpay.journal.sqlite import SqliteJournal

        ledger = SqliteJournal(ledger_path)
        run_id = ledger.runs()[0].run_id
        states = [r.state for r in ledger.rows(run_id)]
        assert states[:2] == [("COMPLETED" if product == "payout-link" else "SUCCESS")] * 2
        assert states[2] in (State.SENDING, State.UNKNOWN), states
        assert set(states[3:]) == {State.PLANNED}, states  # refused: nothing left the machine
        resumed = subprocess.run(
            batchpay_cmd("resume", run_id, "--quiet", "--base-url", second.url),
            env=cli_env(
                second.url, ledger_path, tmp_path / "home", extra={"BATCHPAY_BASE_URL": first.url}
            ),
            cwd=tmp_path,
            capture_output=True,
            text=True,
            timeout=60,
        )
        assert resumed.returncode == 0, resumed.stdout + resumed.stderr
        proof = assert_invariants(ledger_path, run_id, second.admin, rows, workbook, client=client)
        assert proof.executed == BATCH
    finally:
        client.session.close()
        second.stop()
