"""Issue 8, the engine side: DUPLICATE_REFERENCE is "the reference exists", never "not
executed" (finding 1); every accepted answer is checked against what was sent (finding 4);
final statuses can be re-checked and a change is an audited transition (finding 5); DOKU
unreachable — connection refused or the gateway killed mid-run — leaves unsent rows PLANNED,
halts "unreachable" and resumes exactly once (finding 6).

Real emulator (in process, and as a subprocess that is SIGKILLed mid-run), the hostile gateway
of tests/helpers/hostile.py for lies the emulator never tells, real SQLite journals.
"""

from __future__ import annotations

import signal
import socket
import subprocess
import threading
import time
from collections import Counter
from collections.abc import Iterator
from pathlib import Path

import pytest

from batchpay import runs
from batchpay.cli.render import next_steps, summary_lines
from batchpay.doku import make_session
from batchpay.doku.client import DokuClient
from batchpay.emulator.admin import EmulatorAdmin
from batchpay.errors import IllegalTransition
from batchpay.journal import DUPLICATE_REFERENCE, RowChange, RowRecord
from batchpay.journal.sqlite import SqliteJournal
from batchpay.reconcile import next_action, why_not_retryable
from batchpay.runs import plan as planning
from batchpay.states import CHANGED_AFTER_COMPLETION, RECHECKED_FINAL, State, check_transition
from batchpay.validate import validate_file
from tests.helpers import hostile
from tests.helpers.proofs import batchpay_cmd, cli_env
from tests.helpers.runs import (
    FUNDED,
    Harness,
    make_client,
    payout_link_rows,
    run_cli,
    sac_payout_rows,
    write_csv,
)

ANSWER_MISMATCH = "answer-mismatch"


def _plan(sheet: Path) -> planning.Plan:
    result = validate_file(sheet)
    assert result.ok, [p.render() for p in result.problems]
    return planning.plan(result, env="emulator")


def _start(ledger: SqliteJournal, sheet: Path) -> str:
    return runs.create_run(ledger, _plan(sheet), settings={"test": True}).run_id


def _opts() -> runs.EngineOptions:
    return runs.EngineOptions(jitter=lambda d: d, backoff_base=0.01, backoff_cap=0.02)


def _execute(
    ledger: SqliteJournal, client: DokuClient, run_id: str, **kw: object
) -> runs.RunResult:
    return runs.execute(ledger, client, run_id, options=_opts(), sleep=lambda s: None, **kw)


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _hostile_client(gw: hostile.HostileGateway) -> DokuClient:
    return DokuClient(
        base_url=gw.url,
        client_id=hostile.CLIENT_ID,
        secret_key=hostile.SECRET_KEY,
        session=make_session(trust_env=False),
        timeout=(2.0, 5.0),
    )


def _row(state: str, *, code: str | None = None, message: str | None = None) -> RowRecord:
    return RowRecord(
        run_id="20261101-090000-abcd",
        row_number=2,
        attempt=1,
        reference="PL-0001",
        amount_minor=150_000_000,
        currency="IDR",
        source_account=None,
        input={},
        normalised={},
        request_id="10000000000000000002",
        body=b"{}",
        state=state,
        doku_status=None,
        doku_ids={},
        message=message,
        sends=1,
        last_seen_at=None,
        updated_at="",
        code=code,
    )


# --- finding 1: DUPLICATE_REFERENCE means the reference exists --------------------------------


def test_execute_payout_link_second_journal_duplicate_reference_adopts_link_never_rejected(
    harness: Harness,
) -> None:
    sheet = harness.sheet("bonus.csv", payout_link_rows(4))
    first = harness.run(sheet)
    assert all(r.state != State.REJECTED for r in first.rows)
    # The same sheet from a second journal (the first one lost, or restored from a backup).
    other = SqliteJournal(harness.tmp / "second" / "ledger.sqlite", create=True)
    second = _execute(other, harness.client, _start(other, sheet))
    assert all(r.state not in (State.REJECTED, State.UNKNOWN) for r in second.rows), second.rows
    assert all(r.code == DUPLICATE_REFERENCE for r in second.rows)
    assert all(r.doku_ids.get("payout_link_id") for r in second.rows)
    # Never a retry candidate, never "retry-failed" advice: the payees were paid once.
    retry = runs.plan_retry(other, second.run.run_id)
    assert retry.plan.rows == []
    assert not any("retry-failed" in line for line in next_steps(second.run, second.rows))
    counts = Counter(i["reference"] for i in harness.executed("payout-link")["items"])
    assert counts == Counter(r.reference for r in first.rows)


def test_plan_retry_adopted_failed_link_after_duplicate_reference_not_retried(
    tmp_path: Path,
) -> None:
    sheet = write_csv(tmp_path / "bonus.csv", payout_link_rows(2))
    with hostile.HostileGateway("honest", payout_status="FAILED") as gw:
        client = _hostile_client(gw)
        first = SqliteJournal(tmp_path / "a.sqlite", create=True)
        assert {r.state for r in _execute(first, client, _start(first, sheet)).rows} == {"FAILED"}
        second = SqliteJournal(tmp_path / "b.sqlite", create=True)
        result = _execute(second, client, _start(second, sheet))
        assert {(r.state, r.code) for r in result.rows} == {("FAILED", DUPLICATE_REFERENCE)}
        retry = runs.plan_retry(second, result.run.run_id)
        # The link may belong to another journal, which may retry it: never from here.
        assert retry.plan.rows == [] and len(retry.skipped) == 2
        assert "DUPLICATE_REFERENCE" in retry.skipped[0][1]
        assert "retry-failed" not in next_action(result.rows[0], result.run)
        assert all(gw.executed_count(r.reference) == 1 for r in result.rows)


def test_execute_sub_account_second_journal_duplicate_invoice_unknown_check_back_office(
    harness: Harness,
) -> None:
    harness.admin.fund(FUNDED, 10_000_000)
    sheet = harness.sheet("vendors.csv", sac_payout_rows(3))
    first = harness.run(sheet)
    assert {r.state for r in first.rows} == {"SUCCESS"}
    other = SqliteJournal(harness.tmp / "second.sqlite", create=True)
    second = _execute(other, harness.client, _start(other, sheet))
    assert {(r.state, r.code) for r in second.rows} == {(State.UNKNOWN, DUPLICATE_REFERENCE)}
    message = second.rows[0].message or ""
    assert "already exists at DOKU" in message and "back office" in message
    assert runs.plan_retry(other, second.run.run_id).plan.rows == []
    assert "back office" in next_action(second.rows[0], second.run)
    assert any("DUPLICATE_REFERENCE" in line for line in next_steps(second.run, second.rows))
    # Resuming asks again with the same Request-Id and bytes: still UNKNOWN, never paid twice.
    again = runs.resume(
        other, harness.client, second.run.run_id, options=_opts(), sleep=lambda s: None
    )
    assert {r.state for r in again.rows} == {State.UNKNOWN}
    counts = Counter(i["reference"] for i in harness.executed("payout")["items"])
    assert counts == Counter(r.reference for r in first.rows)


def test_execute_rejection_stores_outcome_code_on_row(harness: Harness) -> None:
    result = harness.run(harness.sheet("v.csv", sac_payout_rows(1)))  # unfunded: rejected
    row = result.rows[0]
    assert row.state == State.REJECTED and row.code and row.code in (row.message or "")
    assert why_not_retryable(row) is None


def test_plan_retry_legacy_rejected_duplicate_reference_row_skipped(harness: Harness) -> None:
    run_id = harness.start(harness.sheet("bonus.csv", payout_link_rows(3))).run_id
    legacy = {  # rows journaled before schema 2: no code, only DOKU's message
        1: "DOKU rejected a field (HTTP 400: DUPLICATE_REFERENCE — reference_id already used)",
        2: "DOKU rejected a field (HTTP 400: REQUEST_ID_REUSED — other body)",
        3: "DOKU rejected a field (HTTP 400: INVALID_FIELD — amount too small)",
    }
    numbers = [r.row_number for r in harness.ledger.rows(run_id)]
    with harness.ledger.writer() as journal:
        for number, message in zip(numbers, legacy.values(), strict=True):
            journal.commit(
                RowChange(
                    run_id=run_id,
                    row_number=number,
                    new_state=State.SENDING,
                    event="send",
                    count_send=True,
                )
            )
            journal.commit(
                RowChange(
                    run_id=run_id,
                    row_number=number,
                    new_state=State.REJECTED,
                    event="outcome",
                    outcome="rejected",
                    http_status=400,
                    message=message,
                )
            )
    rows = harness.ledger.rows(run_id)
    assert all(r.code is None for r in rows)
    retry = runs.plan_retry(harness.ledger, run_id)
    assert [r.row_number for r in retry.plan.rows] == [numbers[2]]
    assert sorted(r.row_number for r, _ in retry.skipped) == numbers[:2]
    assert "retry-failed" not in next_action(rows[0])
    assert "retry-failed" in next_action(rows[2])


@pytest.mark.parametrize(
    ("state", "code", "message", "retryable"),
    [
        ("FAILED", None, None, True),
        ("EXPIRED", None, None, True),
        ("REJECTED", "INSUFFICIENT_BALANCE", None, True),
        ("REJECTED", "INVALID_FIELD", None, True),
        ("REJECTED", DUPLICATE_REFERENCE, None, False),
        ("REJECTED", "REQUEST_ID_REUSED", None, False),
        ("REJECTED", "INTERNAL_ERROR", None, False),
        ("REJECTED", None, None, False),  # no code at all: nothing proves non-execution
        ("REJECTED", None, "DOKU rejected (HTTP 404: NOT_FOUND — no such account)", True),
        ("REJECTED", None, "rejected: DUPLICATE_REFERENCE", False),
        ("FAILED", CHANGED_AFTER_COMPLETION, None, False),
        ("FAILED", DUPLICATE_REFERENCE, None, False),
        ("UNKNOWN", "timeout", None, False),
        ("COMPLETED", None, None, False),
    ],
)
def test_why_not_retryable_only_proven_not_executed_rows(
    state: str, code: str | None, message: str | None, retryable: bool
) -> None:
    assert (why_not_retryable(_row(state, code=code, message=message)) is None) is retryable


# --- finding 4: every accepted answer must be about what was sent ------------------------------


def test_execute_payout_link_initiate_answer_for_other_reference_resolved_by_checked_lookup(
    tmp_path: Path,
) -> None:
    sheet = write_csv(tmp_path / "bonus.csv", payout_link_rows(2))
    with hostile.HostileGateway("initiate-other-reference") as gw:
        ledger = SqliteJournal(tmp_path / "l.sqlite", create=True)
        result = _execute(ledger, _hostile_client(gw), _start(ledger, sheet))
        # The initiate answer was about another link; the status look-up (checked) finds ours.
        assert {r.state for r in result.rows} == {"COMPLETED"}
        assert all(r.doku_ids.get("payout_link_id") != "PL-OTHER-0001" for r in result.rows)
        assert all(
            ANSWER_MISMATCH in hostile.row_codes(ledger, result.run.run_id, r.row_number)
            for r in result.rows
        )
        hostile.assert_truth(gw, [tmp_path / "l.sqlite"], workbooks=False)


def test_execute_payout_link_status_for_other_reference_stays_unknown_never_paid(
    tmp_path: Path,
) -> None:
    sheet = write_csv(tmp_path / "bonus.csv", payout_link_rows(2))
    with hostile.HostileGateway("status-other-reference") as gw:
        ledger = SqliteJournal(tmp_path / "l.sqlite", create=True)
        client = _hostile_client(gw)
        result = _execute(ledger, client, _start(ledger, sheet))
        assert {(r.state, r.code) for r in result.rows} == {(State.UNKNOWN, ANSWER_MISMATCH)}
        again = runs.resume(
            ledger, client, result.run.run_id, options=_opts(), sleep=lambda s: None
        )
        assert {r.state for r in again.rows} == {State.UNKNOWN}
        assert "answer-mismatch" in next_action(again.rows[0], again.run)
        assert gw.executions == []
        hostile.assert_truth(gw, [tmp_path / "l.sqlite"], workbooks=False)


def test_execute_payout_link_amount_one_answers_unknown_executed_once(tmp_path: Path) -> None:
    sheet = write_csv(tmp_path / "bonus.csv", payout_link_rows(2))
    with hostile.HostileGateway("amount-one") as gw:
        ledger = SqliteJournal(tmp_path / "l.sqlite", create=True)
        result = _execute(ledger, _hostile_client(gw), _start(ledger, sheet))
        assert {(r.state, r.code) for r in result.rows} == {(State.UNKNOWN, ANSWER_MISMATCH)}
        assert all(gw.executed_count(r.reference) == 1 for r in result.rows)


def test_execute_sub_account_409_for_other_invoice_unknown_not_success(tmp_path: Path) -> None:
    sheet = write_csv(tmp_path / "v.csv", sac_payout_rows(2))
    with hostile.HostileGateway("conflict-409") as gw:
        ledger = SqliteJournal(tmp_path / "l.sqlite", create=True)
        result = _execute(ledger, _hostile_client(gw), _start(ledger, sheet))
        assert {(r.state, r.code) for r in result.rows} == {(State.UNKNOWN, ANSWER_MISMATCH)}
        assert all(gw.executed_count(r.reference) == 1 for r in result.rows)
        assert runs.plan_retry(ledger, result.run.run_id).plan.rows == []


# --- finding 5: a final status can change; the change is audited -------------------------------


def test_check_transition_final_link_change_only_as_explicit_change_after_completion() -> None:
    with pytest.raises(IllegalTransition):
        check_transition("COMPLETED", "FAILED")
    check_transition("COMPLETED", "FAILED", reason=CHANGED_AFTER_COMPLETION)
    check_transition("FAILED", "PENDING", reason=CHANGED_AFTER_COMPLETION)
    check_transition("COMPLETED", "COMPLETED", reason=RECHECKED_FINAL)
    for old, new, reason in [
        ("COMPLETED", "COMPLETED", CHANGED_AFTER_COMPLETION),
        ("COMPLETED", "SUCCESS", CHANGED_AFTER_COMPLETION),
        ("COMPLETED", State.UNKNOWN, CHANGED_AFTER_COMPLETION),
        ("REJECTED", "COMPLETED", CHANGED_AFTER_COMPLETION),
        ("SUCCESS", "FAILED", CHANGED_AFTER_COMPLETION),
        ("COMPLETED", "FAILED", RECHECKED_FINAL),
    ]:
        with pytest.raises(IllegalTransition):
            check_transition(old, new, reason=reason)


def test_refresh_statuses_recheck_final_regression_audited_exceptions_summary(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    sheet = write_csv(tmp_path / "bonus.csv", payout_link_rows(2))
    with hostile.HostileGateway("regression") as gw:
        ledger = SqliteJournal(tmp_path / "l.sqlite", create=True)
        client = _hostile_client(gw)
        run_id = _execute(ledger, client, _start(ledger, sheet)).run.run_id
        assert {r.state for r in ledger.rows(run_id)} == {"COMPLETED"}
        # A normal refresh never asks about final rows.
        runs.refresh_statuses(ledger, client, run_id, options=_opts(), sleep=lambda s: None)
        assert not any(s.path == hostile.STATUS for s in gw.seen)
        assert {r.state for r in ledger.rows(run_id)} == {"COMPLETED"}
        result = runs.refresh_statuses(
            ledger, client, run_id, options=_opts(), sleep=lambda s: None, recheck_final=True
        )
        assert {(r.state, r.code) for r in result.rows} == {("FAILED", CHANGED_AFTER_COMPLETION)}
        changes = [
            e for e in ledger.events(run_id) if e.type == runs.STATUS_CHANGED_AFTER_COMPLETION
        ]
        assert [(e.old_state, e.new_state) for e in changes] == [("COMPLETED", "FAILED")] * 2
        # Never offered to retry-failed; the advice and the summary say what happened.
        assert runs.plan_retry(ledger, run_id).plan.rows == []
        assert next_action(result.rows[0], result.run).startswith("Changed after completion")
        lines = summary_lines(result.run, result.rows, workbook=None)
        assert any("Changed after completion: 2" in line for line in lines)
        book = runs.write_workbook(ledger, run_id, tmp_path / "report.xlsx")
        import openpyxl

        wb = openpyxl.load_workbook(book, read_only=True)
        listed = [line for line in wb["Exceptions"].iter_rows(min_row=2, values_only=True)]
        wb.close()
        assert len(listed) == 2
        assert all(
            any(isinstance(v, str) and v.startswith("Changed after completion") for v in line)
            for line in listed
        )
        # A second re-check that finds nothing new adds no event.
        runs.refresh_statuses(
            ledger, client, run_id, options=_opts(), sleep=lambda s: None, recheck_final=True
        )
        assert (
            len(
                [e for e in ledger.events(run_id) if e.type == runs.STATUS_CHANGED_AFTER_COMPLETION]
            )
            == 2
        )
        # The CLI: `status` alone leaves them, `status --recheck-final` reports them.
        monkeypatch.chdir(tmp_path)
        monkeypatch.setenv("BATCHPAY_LEDGER", str(tmp_path / "l.sqlite"))
        monkeypatch.setenv("BATCHPAY_BASE_URL", gw.url)
        monkeypatch.setenv("BATCHPAY_CLIENT_ID", hostile.CLIENT_ID)
        monkeypatch.setenv("BATCHPAY_SECRET_KEY", hostile.SECRET_KEY)
        out = run_cli("status", run_id, "--recheck-final", "--report", str(tmp_path / "cli.xlsx"))
        assert out.exit_code == 1, out.output
        assert "Changed after completion: 2" in out.output


# --- finding 6: DOKU unreachable ---------------------------------------------------------------


@pytest.mark.parametrize("product", ["payout-link", "sub-account"])
def test_execute_connection_refused_rows_stay_planned_halt_unreachable_resume_once(
    harness: Harness, product: str
) -> None:
    rows = payout_link_rows(3) if product == "payout-link" else sac_payout_rows(3)
    op = "payout-link" if product == "payout-link" else "payout"
    run_id = harness.start(harness.sheet("s.csv", rows)).run_id
    dead = make_client(f"http://127.0.0.1:{_free_port()}")
    try:
        result = _execute(harness.ledger, dead, run_id)
    finally:
        dead.session.close()
    assert result.halt is not None and result.halt.reason == "unreachable"
    assert {r.state for r in result.rows} == {State.PLANNED}  # nothing left the machine
    assert all(r.sends == 0 or r.state == State.PLANNED for r in result.rows)
    harness.admin.fund(FUNDED, 10_000_000)
    again = harness.resume(run_id)
    assert all(r.state not in (State.PLANNED, State.SENDING, State.UNKNOWN) for r in again.rows)
    counts = Counter(i["reference"] for i in harness.executed(op)["items"])
    assert counts == Counter(r.reference for r in again.rows)


def test_cli_run_payout_link_connection_refused_workbook_resume_hint_rows_planned(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("BATCHPAY_BASE_URL", f"http://127.0.0.1:{_free_port()}")
    monkeypatch.setenv("BATCHPAY_LEDGER", str(tmp_path / "ledger.sqlite"))
    sheet = write_csv(tmp_path / "bonus.csv", payout_link_rows(3))
    out = run_cli("run", str(sheet), "--env", "emulator", "--quiet")
    assert "Traceback" not in out.output and "cannot go from" not in out.output
    assert out.exit_code == 1, out.output
    ledger = SqliteJournal(tmp_path / "ledger.sqlite", read_only=True)
    (run,) = ledger.runs()
    assert {r.state for r in ledger.rows(run.run_id)} == {State.PLANNED}
    assert f"batchpay resume {run.run_id}" in out.output
    assert list((tmp_path / "reports").glob(f"*{run.run_id}.xlsx"))


class _Emulator:
    """``batchpay emulator`` in a subprocess with a state file, so it can be SIGKILLed."""

    def __init__(self, port: int, state: Path, home: Path) -> None:
        env = cli_env(f"http://127.0.0.1:{port}", home / "unused.sqlite", home)
        self.url = f"http://127.0.0.1:{port}"
        self.proc = subprocess.Popen(
            batchpay_cmd(
                "emulator", "--port", str(port), "--state", str(state), "--link-step-seconds", "0"
            ),
            env=env,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        self.admin = EmulatorAdmin(self.url)
        deadline = time.monotonic() + 30
        while True:
            try:
                self.admin.health()
                return
            except Exception:
                if self.proc.poll() is not None or time.monotonic() > deadline:
                    raise
                time.sleep(0.1)

    def kill(self) -> None:
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGKILL)
        self.proc.wait(timeout=10)


@pytest.fixture
def subprocess_emulators() -> Iterator[list[_Emulator]]:
    started: list[_Emulator] = []
    yield started
    for emulator in started:
        emulator.kill()


@pytest.mark.slow
@pytest.mark.parametrize("product", ["payout-link", "sub-account"])
def test_execute_gateway_killed_mid_run_in_flight_unknown_rest_planned_resume_exactly_once(
    tmp_path: Path, subprocess_emulators: list[_Emulator], product: str
) -> None:
    port, state = _free_port(), tmp_path / "emulator-state.sqlite"
    first = _Emulator(port, state, tmp_path)
    subprocess_emulators.append(first)
    rows = payout_link_rows(6) if product == "payout-link" else sac_payout_rows(6)
    op = "payout-link" if product == "payout-link" else "payout"
    if product == "sub-account":
        first.admin.fund(FUNDED, 10_000_000)
    ledger = SqliteJournal(tmp_path / "ledger.sqlite", create=True)
    run_id = _start(ledger, write_csv(tmp_path / "s.csv", rows))
    first.admin.queue_fault("hold-after", op=op, nth=3)  # row 3 executes; its answer is held
    client = make_client(first.url)
    done: list[runs.RunResult] = []
    worker = threading.Thread(
        target=lambda: done.append(
            runs.execute(
                ledger,
                client,
                run_id,
                options=runs.EngineOptions(
                    concurrency=1, jitter=lambda d: d, backoff_base=0.01, backoff_cap=0.02
                ),
                sleep=lambda s: None,
            )
        )
    )
    worker.start()
    deadline = time.monotonic() + 30
    while first.admin.health()["held"] < 1:
        assert time.monotonic() < deadline and worker.is_alive()
        time.sleep(0.02)
    first.kill()  # the gateway dies with row 3 executed and its answer in flight
    worker.join(timeout=60)
    client.session.close()
    assert not worker.is_alive() and done, "execute did not return"
    result = done[0]
    assert result.halt is not None and result.halt.reason == "unreachable"
    states = [r.state for r in sorted(result.rows, key=lambda r: r.row_number)]
    assert states[2] == State.UNKNOWN  # it may have reached DOKU (it did)
    assert all(s not in (State.PLANNED, State.SENDING, State.UNKNOWN) for s in states[:2])
    assert states[3:] == [State.PLANNED] * 3  # never sent
    # A fresh gateway on the same state: resume pays every row exactly once.
    second = _Emulator(port, state, tmp_path)
    subprocess_emulators.append(second)
    client = make_client(second.url)
    try:
        again = runs.resume(ledger, client, run_id, options=_opts(), sleep=lambda s: None)
    finally:
        client.session.close()
    assert all(
        r.state not in (State.PLANNED, State.SENDING, State.UNKNOWN, State.REJECTED)
        for r in again.rows
    ), [(r.state, r.message) for r in again.rows]
    counts = Counter(i["reference"] for i in second.admin.executed(op)["items"])
    assert counts == Counter(r.reference for r in again.rows)
