"""The hostile gateway (issue 8, "Make the suite adversarial"): batchpay driven as a user
drives it — the CLI, BATCHPAY_ENV=sandbox, BATCHPAY_BASE_URL at a lying DOKU
(tests/helpers/hostile.py) — and, after following the tool's own advice (resume,
retry-failed), every docs/safety.md invariant is checked against the gateway's OWN truth: nothing
executed twice per business reference, nothing shown paid (journal, workbook, summary) that
the gateway did not execute for that reference AND amount and still holds as paid.

Each test names the finding of issue 8 it covers.
"""

from __future__ import annotations

import os
import re
import subprocess
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

import openpyxl
import pytest
from click.testing import CliRunner, Result

from batchpay import runs
from batchpay.journal.sqlite import SqliteJournal
from batchpay.states import PROGRESS, State
from tests.helpers.hostile import (
    CLIENT_ID,
    INITIATE,
    OTHER_INVOICE,
    OTHER_REFERENCE,
    PAYOUTS,
    SECRET_KEY,
    HostileGateway,
    assert_truth,
    row_codes,
)
from tests.helpers.proofs import REPO
from tests.helpers.runs import _Main, payout_link_rows, sac_payout_rows, write_csv

ANSWER_MISMATCH = "answer-mismatch"
ADVICE = re.compile(r"batchpay (resume|retry-failed) ([0-9A-Za-z][0-9A-Za-z_-]*)")


@dataclass
class User:
    """A user at a terminal: one journal, one hostile gateway, every command's output kept."""

    tmp: Path
    gateway: HostileGateway
    ledger: Path
    outputs: list[str] = field(default_factory=list)
    extra: dict[str, str] = field(default_factory=dict)

    def env(self) -> dict[str, str]:
        return {
            "BATCHPAY_ENV": "sandbox",
            "BATCHPAY_BASE_URL": self.gateway.url,
            "BATCHPAY_CLIENT_ID": CLIENT_ID,
            "BATCHPAY_SECRET_KEY": SECRET_KEY,
            "BATCHPAY_LEDGER": str(self.ledger),
            "BATCHPAY_HOME": str(self.tmp / "home"),
            "BATCHPAY_CONNECT_TIMEOUT": "2",
            "BATCHPAY_READ_TIMEOUT": "2",
            "BATCHPAY_REQUEST_DEADLINE": "3",
            **self.extra,
        }

    def __call__(self, *args: str) -> Result:
        result = CliRunner().invoke(_Main(), list(args), env=self.env())  # type: ignore[arg-type]
        self.outputs.append(result.output)
        return result

    def subprocess(self, *args: str, timeout: float) -> tuple[int, str, float]:
        """``python -m batchpay ARGS`` in a child process; a hang fails the test cleanly."""
        env = {k: v for k, v in os.environ.items() if not k.startswith("BATCHPAY_")}
        env.update(self.env(), PYTHONPATH=str(REPO))
        started = time.monotonic()
        try:
            done = subprocess.run(
                [sys.executable, "-m", "batchpay", *args],
                env=env,
                cwd=self.tmp,
                capture_output=True,
                text=True,
                timeout=timeout,
            )
        except subprocess.TimeoutExpired:
            pytest.fail(f"batchpay {' '.join(args)} still running after {timeout:g} s (a hang)")
        output = done.stdout + done.stderr
        self.outputs.append(output)
        return done.returncode, output, time.monotonic() - started

    def run(self, sheet: Path) -> tuple[Result, str]:
        report = self.tmp / f"{sheet.stem}-{len(self.outputs)}.xlsx"
        result = self("run", str(sheet), "--quiet", "--report", str(report))
        return result, self.run_id(result.output)

    def run_id(self, output: str) -> str:
        found = re.search(r"Run (\S+) journaled", output)
        assert found, f"no run was journaled:\n{output}"
        return found.group(1)

    def follow_advice(self, output: str, *, steps: int = 4) -> list[str]:
        """Do what the tool says next (resume / retry-failed), as an operator would, until it
        advises nothing more; returns the commands run."""
        done: list[str] = []
        for _ in range(steps):
            found = ADVICE.search(output)
            if not found:
                break
            command, run_id = found.groups()
            if done.count(f"{command} {run_id}") >= 2:
                break
            done.append(f"{command} {run_id}")
            extra = ("--yes",) if command == "retry-failed" else ()
            output = self(command, run_id, "--quiet", *extra).output
        return done

    def journal(self) -> SqliteJournal:
        return SqliteJournal(self.ledger)


@pytest.fixture(name="make_user")
def make_user_fixture(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[object]:
    monkeypatch.chdir(tmp_path)
    started: list[HostileGateway] = []

    def make(case: str, **kw: object) -> User:
        gateway = HostileGateway(case, **kw)  # type: ignore[arg-type]
        started.append(gateway)
        return User(tmp=tmp_path, gateway=gateway, ledger=tmp_path / "ledger.sqlite")

    try:
        yield make
    finally:
        for gateway in started:
            gateway.stop()


def _links(tmp: Path, n: int = 2, prefix: str = "PL") -> Path:
    return write_csv(tmp / f"links-{prefix}.csv", payout_link_rows(n, prefix=prefix))


def _payouts(tmp: Path, n: int = 2, prefix: str = "INV") -> Path:
    return write_csv(tmp / f"payouts-{prefix}.csv", sac_payout_rows(n, prefix=prefix))


def _ever(ledger: SqliteJournal, run_id: str, state: str) -> list[int]:
    """Rows that were ever journaled in ``state``."""
    return sorted(
        {
            e.row_number
            for e in ledger.events(run_id)
            if e.new_state == state and e.row_number is not None
        }
    )


# --- baseline -----------------------------------------------------------------------------------


@pytest.mark.parametrize("product", ["payout-link", "sub-account-payout"])
def test_hostile_honest_gateway_run_pays_each_reference_once(make_user, product: str) -> None:
    """The honest case: the harness itself is right (every row paid once, journal = truth)."""
    user = make_user("honest")
    sheet = _links(user.tmp) if product == "payout-link" else _payouts(user.tmp)
    result, run_id = user.run(sheet)
    assert result.exit_code == 0, result.output
    rows = user.journal().rows(run_id)
    assert {r.state for r in rows} == ({"COMPLETED"} if product == "payout-link" else {"SUCCESS"})
    assert len(user.gateway.executions) == 2
    assert_truth(user.gateway, [user.ledger], outputs=user.outputs)


# --- finding 4: answers that are not about what was sent ----------------------------------------


def test_hostile_initiate_answer_about_other_reference_is_answer_mismatch(make_user) -> None:
    """Finding 4: a 200 success envelope for ANOTHER reference is UNKNOWN (answer-mismatch);
    the row is paid only on a truthful answer about its own reference."""
    user = make_user("initiate-other-reference")
    result, run_id = user.run(_links(user.tmp))
    user.follow_advice(result.output)
    ledger = user.journal()
    for row in ledger.rows(run_id):
        assert ANSWER_MISMATCH in row_codes(ledger, run_id, row.row_number), row
        assert row.doku_ids.get("reference_id") in (None, row.reference), row.doku_ids
        assert row.doku_ids.get("payout_link_id") != "PL-OTHER-0001", row.doku_ids
    assert_truth(user.gateway, [user.ledger], outputs=user.outputs)


def test_hostile_status_lookup_about_other_reference_never_completes_row(make_user) -> None:
    """Finding 4: the initiate is lost (503, not executed) and the status look-up answers
    COMPLETED for another reference. The payee was never paid: the row must not be COMPLETED,
    not even after resuming as advised."""
    user = make_user("status-other-reference")
    result, run_id = user.run(_links(user.tmp))
    assert result.exit_code != 0, result.output
    user.follow_advice(result.output)
    ledger = user.journal()
    assert user.gateway.executions == []
    for row in ledger.rows(run_id):
        assert row.state not in ("COMPLETED", *PROGRESS), row
        assert OTHER_REFERENCE not in row.doku_ids.values(), row.doku_ids
        assert ANSWER_MISMATCH in row_codes(ledger, run_id, row.row_number)
    assert_truth(user.gateway, [user.ledger], outputs=user.outputs)


@pytest.mark.parametrize("product", ["payout-link", "sub-account-payout"])
def test_hostile_amount_one_answer_is_answer_mismatch_never_paid(make_user, product: str) -> None:
    """Finding 4: every answer (200, status look-up, 409 replay) says amount 1 for our
    reference. Never paid: UNKNOWN with answer-mismatch, executed once, before and after
    resuming as advised."""
    user = make_user("amount-one")
    sheet = _links(user.tmp) if product == "payout-link" else _payouts(user.tmp)
    result, run_id = user.run(sheet)
    assert result.exit_code != 0, result.output
    user.follow_advice(result.output)
    ledger = user.journal()
    for row in ledger.rows(run_id):
        assert row.state == State.UNKNOWN, row
        assert ANSWER_MISMATCH in row_codes(ledger, run_id, row.row_number)
        assert user.gateway.executed_count(row.reference) == 1
    assert_truth(user.gateway, [user.ledger], outputs=user.outputs)


def test_hostile_sub_account_409_contradicting_body_is_answer_mismatch(make_user) -> None:
    """Finding 4: the payout executes, its answer is lost; the same-Request-Id re-send gets a
    correctly signed 409 whose SUCCESS body is for another invoice, account and amount. Not
    SUCCESS: UNKNOWN (answer-mismatch)."""
    user = make_user("conflict-409")
    result, run_id = user.run(_payouts(user.tmp))
    user.follow_advice(result.output)
    ledger = user.journal()
    for row in ledger.rows(run_id):
        assert row.state != "SUCCESS", row
        assert OTHER_INVOICE not in row.doku_ids.values(), row.doku_ids
        assert ANSWER_MISMATCH in row_codes(ledger, run_id, row.row_number)
        assert user.gateway.executed_count(row.reference) == 1
    assert_truth(user.gateway, [user.ledger], outputs=user.outputs)


# --- finding 5: a final status that changes -----------------------------------------------------


def test_hostile_status_regression_recheck_final_records_change(make_user) -> None:
    """Finding 5: COMPLETED, then the bank reverses it (status look-ups answer FAILED).
    `status RUN --recheck-final` asks again, records "status-changed-after-completion", the
    row leaves COMPLETED, and the Exceptions sheet shows it as changed after completion."""
    user = make_user("regression")
    result, run_id = user.run(_links(user.tmp))
    report = runs.workbook_path(user.journal().run(run_id))  # the run's own workbook
    assert result.exit_code == 0, result.output
    assert {r.state for r in user.journal().rows(run_id)} == {"COMPLETED"}
    checked = user("status", run_id, "--recheck-final")
    assert checked.exit_code in (0, 1), checked.output
    assert "Traceback" not in checked.output and "internal error" not in checked.output
    ledger = user.journal()
    for row in ledger.rows(run_id):
        assert row.state != "COMPLETED", row
        types = {e.type for e in ledger.events(run_id) if e.row_number == row.row_number}
        assert "status-changed-after-completion" in types, types
    wb = openpyxl.load_workbook(report, read_only=True)
    try:
        text = " ".join(
            str(v)
            for line in wb["Exceptions"].iter_rows(values_only=True)
            for v in line
            if v is not None
        )
    finally:
        wb.close()
    assert "changed after completion" in text.lower(), text[:500]
    assert_truth(user.gateway, [user.ledger], outputs=user.outputs[-1:])


# --- finding 1: DUPLICATE_REFERENCE proves the reference exists ---------------------------------


@pytest.mark.parametrize("product", ["payout-link", "sub-account-payout"])
def test_hostile_duplicate_after_lost_answer_never_rejected_never_retried(
    make_user, product: str
) -> None:
    """Finding 1: the first send executes and its answer is lost; the re-send gets
    DUPLICATE_REFERENCE. The reference EXISTS: never REJECTED, never offered to retry-failed,
    and retry-failed (run anyway) sends nothing; links adopt the existing link's state."""
    user = make_user("drop-then-duplicate")
    sheet = _links(user.tmp) if product == "payout-link" else _payouts(user.tmp)
    result, run_id = user.run(sheet)
    user.follow_advice(result.output)
    ledger = user.journal()
    assert _ever(ledger, run_id, State.REJECTED) == []
    for row in ledger.rows(run_id):
        assert "DUPLICATE_REFERENCE" in row_codes(ledger, run_id, row.row_number)
    assert not any("retry-failed" in out for out in user.outputs), user.outputs[-1]
    sends_before = len(user.gateway.seen)
    retried = user("retry-failed", run_id, "--yes", "--quiet")
    assert "Traceback" not in retried.output
    assert [s for s in user.gateway.seen[sends_before:] if s.path in (INITIATE, PAYOUTS)] == []
    if product == "payout-link":
        assert {r.state for r in ledger.rows(run_id)} == {"COMPLETED"}  # adopted
    assert_truth(user.gateway, [user.ledger], outputs=user.outputs)


@pytest.mark.parametrize("product", ["payout-link", "sub-account-payout"])
def test_hostile_duplicate_from_second_ledger_never_paid_twice(make_user, product: str) -> None:
    """Finding 1 (the probe's scenario): a sheet is paid from one journal, then the same sheet
    from a second journal (a lost or deleted one). The gateway answers DUPLICATE_REFERENCE for
    references it executed itself. Following the tool's advice must never pay anyone twice:
    no REJECTED, no retry-failed offered, links adopt the existing state."""
    user = make_user("honest")
    sheet = _links(user.tmp) if product == "payout-link" else _payouts(user.tmp)
    first, _ = user.run(sheet)
    assert first.exit_code == 0, first.output
    user.ledger = user.tmp / "second" / "ledger.sqlite"
    second, run_id = user.run(sheet)
    followed = user.follow_advice(second.output)
    ledger = user.journal()
    assert _ever(ledger, run_id, State.REJECTED) == []
    assert not any(c.startswith("retry-failed") for c in followed), followed
    for row in ledger.rows(run_id):
        assert "DUPLICATE_REFERENCE" in row_codes(ledger, run_id, row.row_number)
        if product == "payout-link":
            assert row.state == "COMPLETED", row  # adopted from the existing link
    assert_truth(user.gateway, [user.tmp / "ledger.sqlite", user.ledger], outputs=user.outputs)


# --- finding 7: no overall deadline, no size cap ------------------------------------------------


def test_hostile_trickle_answer_is_deadline_exceeded_within_bound(make_user) -> None:
    """Finding 7: an answer trickling one byte per 0.2 s (each read well inside
    BATCHPAY_READ_TIMEOUT=2) must end at BATCHPAY_REQUEST_DEADLINE=3 as UNKNOWN
    (deadline-exceeded); the status look-up then finds the link. The whole run ends in
    seconds, not at the trickle's end."""
    user = make_user("trickle")
    sheet = _links(user.tmp, 1)
    _code, output, seconds = user.subprocess(
        "run", str(sheet), "--quiet", "--report", str(user.tmp / "r.xlsx"), timeout=15
    )
    assert "Traceback" not in output and "internal error" not in output, output
    assert seconds < 12, seconds
    run_id = user.run_id(output)
    ledger = user.journal()
    row = ledger.rows(run_id)[0]
    assert "deadline-exceeded" in row_codes(ledger, run_id, row.row_number), output
    assert_truth(user.gateway, [user.ledger], outputs=user.outputs)


def test_hostile_huge_answer_is_response_too_large_reading_stops(make_user) -> None:
    """Finding 7: a 64 MiB answer body is read only up to the client's 1 MiB cap: UNKNOWN
    (response-too-large), and the gateway could not push the whole body (reading stopped)."""
    user = make_user("huge")
    sheet = _links(user.tmp, 1)
    _code, output, _seconds = user.subprocess(
        "run", str(sheet), "--quiet", "--report", str(user.tmp / "r.xlsx"), timeout=60
    )
    assert "Traceback" not in output and "internal error" not in output, output
    run_id = user.run_id(output)
    ledger = user.journal()
    row = ledger.rows(run_id)[0]
    assert "response-too-large" in row_codes(ledger, run_id, row.row_number), output
    streamed = user.gateway.streamed
    assert streamed and max(streamed) < 16 << 20, streamed
    assert_truth(user.gateway, [user.ledger], outputs=user.outputs)


def test_hostile_html_page_with_200_is_unknown_never_paid_by_it(make_user) -> None:
    """An HTML page with HTTP 200 (a captive proxy, a maintenance page) proves nothing: the
    answer makes the row UNKNOWN; only the status look-up about the row's own reference may
    then make it COMPLETED."""
    user = make_user("html")
    result, run_id = user.run(_links(user.tmp))
    user.follow_advice(result.output)
    ledger = user.journal()
    for row in ledger.rows(run_id):
        answers = [
            e
            for e in ledger.events(run_id)
            if e.row_number == row.row_number
            and e.http_status == 200
            and e.old_state == State.SENDING
        ]
        assert answers and all(e.new_state == State.UNKNOWN for e in answers), answers
        assert user.gateway.executed_count(row.reference) == 1
    assert_truth(user.gateway, [user.ledger], outputs=user.outputs)
