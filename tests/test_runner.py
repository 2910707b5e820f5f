"""The runner against the real emulator over real sockets, with a real SQLite journal:
happy paths per kind, dry run, preflight, repeats, resume, UNKNOWN resolution under injected
faults, auth failure, rate limiting, Ctrl-C, retry-failed (docs/safety.md invariants)."""

from __future__ import annotations

import threading
from collections import Counter
from pathlib import Path

import pytest

from batchpay import runs
from batchpay.cli.render import exit_code
from batchpay.doku import make_session
from batchpay.doku.client import DokuClient
from batchpay.emulator import EMULATOR_CLIENT_ID, EMULATOR_SECRET_KEY
from batchpay.errors import InputChanged, RunError, RunLocked
from batchpay.journal import RepeatedReferences, RowRecord
from batchpay.runs import checks
from batchpay.states import PROGRESS, State
from tests.helpers.runs import (
    DESTINATION,
    FUNDED,
    FUNDED_2,
    Harness,
    create_rows,
    make_client,
    payout_link_rows,
    sac_payout_rows,
    transfer_rows,
)


def _states(rows: list[RowRecord]) -> Counter[str]:
    return Counter(r.state for r in rows)


def _assert_paid_once(h: Harness, op: str, references: list[str]) -> None:
    """Invariant 1 and 3: the gateway executed each reference exactly once."""
    items = h.executed(op)["items"]
    counts = Counter(i["reference"] for i in items)
    assert counts == Counter(references), counts


# --- happy paths --------------------------------------------------------------------------


def test_execute_payout_link_all_accepted_each_reference_once(harness: Harness) -> None:
    sheet = harness.sheet("bonus.csv", payout_link_rows(5))
    result = harness.run(sheet)
    assert all(r.state in PROGRESS or r.state == "COMPLETED" for r in result.rows)
    assert all(r.sends == 1 and r.doku_ids.get("payout_link_id") for r in result.rows)
    _assert_paid_once(harness, "payout-link", [r.reference for r in result.rows])
    assert result.sends == 5 and exit_code(result.rows, kind=result.run.kind) == 0
    assert result.run.finished_at is not None


def test_execute_sub_account_payout_success(harness: Harness) -> None:
    harness.admin.fund(FUNDED, 10_000_000)
    result = harness.run(harness.sheet("vendors.csv", sac_payout_rows(4)))
    assert _states(result.rows) == {"SUCCESS": 4}
    _assert_paid_once(harness, "payout", [r.reference for r in result.rows])
    assert harness.admin.account(FUNDED)["balance"]["available"] == str(10_000_000 - 400_000)


def test_execute_transfer_success(harness: Harness) -> None:
    harness.admin.fund(FUNDED, 1_000_000)
    harness.admin.fund(DESTINATION, 1)
    result = harness.run(harness.sheet("trf.csv", transfer_rows(3)))
    assert _states(result.rows) == {"SUCCESS": 3}
    _assert_paid_once(harness, "transfer", [r.reference for r in result.rows])


def test_execute_account_create_created_terminal_with_doku_status(harness: Harness) -> None:
    result = harness.run(harness.sheet("accounts.csv", create_rows(2)))
    assert _states(result.rows) == {"CREATED": 2}
    assert all(
        r.doku_status == "PENDING" and r.doku_ids["account_id"].startswith("SAC-")
        for r in result.rows
    )
    assert exit_code(result.rows, kind=result.run.kind) == 0


def test_execute_business_rejection_rejected_batch_goes_on(harness: Harness) -> None:
    harness.admin.fund(FUNDED, 150_000)  # covers one 100k payout, not two
    result = harness.run(harness.sheet("v.csv", sac_payout_rows(2)), concurrency=1)
    assert [r.state for r in result.rows] == ["SUCCESS", State.REJECTED]
    assert result.rows[1].message and exit_code(result.rows, kind=result.run.kind) == 1


# --- dry run, preflight, repeats ----------------------------------------------------------


def test_dry_run_signs_every_row_sends_nothing(
    harness: Harness, monkeypatch: pytest.MonkeyPatch
) -> None:
    from batchpay.config import load_settings
    from batchpay.doku import signing

    signed: list[str] = []
    real = signing.sign_request

    def spy(**kw: object) -> str:
        signed.append(str(kw["request_id"]))
        return real(**kw)  # type: ignore[arg-type]

    monkeypatch.setattr(signing, "sign_request", spy)
    run = harness.start(harness.sheet("bonus.csv", payout_link_rows(3)), dry_run=True)
    runs.dry_run(harness.ledger, run.run_id, load_settings(env="emulator"))
    rows = harness.ledger.rows(run.run_id)
    assert _states(rows) == {State.NOT_SENT: 3}
    assert signed == [r.request_id for r in rows]
    assert harness.executed()["count"] == 0
    assert exit_code(rows, kind=run.kind, dry_run=True) == 0


def test_preflight_shortfall_lists_need_and_available_sends_nothing(harness: Harness) -> None:
    harness.admin.fund(FUNDED, 150_000)
    rows = sac_payout_rows(2) + sac_payout_rows(1, prefix="B", account=FUNDED_2)
    the_plan = harness.plan(harness.sheet("v.csv", rows))
    shortfalls = checks.preflight_balances(harness.client, the_plan)
    assert [(s.account_id, s.need_minor, s.available_minor) for s in shortfalls] == [
        (FUNDED, 20_000_000, 15_000_000),
        (FUNDED_2, 10_000_000, None),
    ]
    assert harness.executed()["count"] == 0


def test_preflight_enough_balance_no_shortfall(harness: Harness) -> None:
    harness.admin.fund(FUNDED, 200_000)
    the_plan = harness.plan(harness.sheet("v.csv", sac_payout_rows(2)))
    assert checks.preflight_balances(harness.client, the_plan) == []


def test_find_repeats_reference_sent_earlier_refused(harness: Harness) -> None:
    sheet = harness.sheet("bonus.csv", payout_link_rows(2))
    harness.run(sheet)
    repeats = checks.find_repeats(harness.ledger, harness.plan(sheet))
    assert [r.reference for r in repeats] == ["PL-0001", "PL-0002"]
    with pytest.raises(RepeatedReferences, match="PL-0001"):
        raise RepeatedReferences(repeats)


def test_find_repeats_rejected_earlier_not_refused(harness: Harness) -> None:
    sheet = harness.sheet("v.csv", sac_payout_rows(1))
    result = harness.run(sheet)  # unfunded account: DOKU rejects, nothing executed
    assert result.rows[0].state == State.REJECTED
    assert checks.find_repeats(harness.ledger, harness.plan(sheet)) == []


# --- resume -------------------------------------------------------------------------------


def test_resume_finished_run_sends_nothing(harness: Harness) -> None:
    sheet = harness.sheet("bonus.csv", payout_link_rows(3))
    first = harness.run(sheet)
    before = harness.executed()["count"]
    again = harness.resume(first.run.run_id)
    assert again.sends == 0 and harness.executed()["count"] == before
    assert [r.state for r in again.rows] == [r.state for r in first.rows]


def test_resume_changed_input_refused_sends_nothing(harness: Harness) -> None:
    sheet = harness.sheet("bonus.csv", payout_link_rows(2))
    run = harness.start(sheet)
    sheet.write_text(sheet.read_text().replace("1500000", "2500000"))
    with pytest.raises(InputChanged):
        harness.resume(run.run_id)
    assert harness.executed()["count"] == 0
    assert _states(harness.ledger.rows(run.run_id)) == {State.PLANNED: 2}


def test_execute_locked_run_raises_before_sending(harness: Harness) -> None:
    run = harness.start(harness.sheet("bonus.csv", payout_link_rows(2)))
    with harness.ledger.lock(run.run_id), pytest.raises(RunLocked):
        harness.execute(run.run_id)
    assert harness.executed()["count"] == 0


def test_execute_stop_set_sends_nothing_rows_planned(harness: Harness) -> None:
    run = harness.start(harness.sheet("bonus.csv", payout_link_rows(3)))
    stop = threading.Event()
    stop.set()
    result = harness.execute(run.run_id, stop=stop)
    assert (
        result.interrupted and exit_code(result.rows, kind=result.run.kind, interrupted=True) == 130
    )
    assert _states(result.rows) == {State.PLANNED: 3} and harness.executed()["count"] == 0


def test_execute_ctrl_c_mid_batch_then_resume_pays_each_once(harness: Harness) -> None:
    run = harness.start(harness.sheet("bonus.csv", payout_link_rows(6)))
    stop = threading.Event()

    class StopAfterTwo:
        done = 0

        def row_done(self, row: RowRecord, state: str) -> None:
            self.done += 1
            if self.done == 2:
                stop.set()

    first = runs.execute(
        harness.ledger,
        harness.client,
        run.run_id,
        options=harness.options(concurrency=1),
        progress=StopAfterTwo(),
        stop=stop,
        sleep=harness.sleep,
    )
    assert first.interrupted and _states(first.rows)[State.PLANNED] == 4
    second = harness.resume(run.run_id)
    assert second.sends == 4
    _assert_paid_once(harness, "payout-link", [r.reference for r in second.rows])


# --- UNKNOWN resolution -------------------------------------------------------------------


@pytest.mark.parametrize("fault", ["drop-after", "error-500-after", "bad-signature"])
def test_execute_sub_account_unknown_resent_same_id_replayed_once(
    harness: Harness, fault: str
) -> None:
    harness.admin.fund(FUNDED, 10_000_000)
    harness.admin.queue_fault(fault, op="payout", nth=2)
    result = harness.run(harness.sheet("v.csv", sac_payout_rows(3)), concurrency=1)
    assert _states(result.rows) == {"SUCCESS": 3}
    _assert_paid_once(harness, "payout", [r.reference for r in result.rows])
    row = result.rows[1]
    assert row.sends == 2
    events = [e for e in harness.ledger.events(result.run.run_id) if e.row_number == 3]
    assert [e.new_state for e in events] == [State.SENDING, State.UNKNOWN, State.SENDING, "SUCCESS"]
    assert events[-1].http_status == 409  # DOKU's replay of the original answer
    assert {e.request_id for e in events} == {row.request_id}


def test_execute_sub_account_read_timeout_resolved_by_replay(harness: Harness) -> None:
    harness.admin.fund(FUNDED, 10_000_000)
    harness.admin.queue_fault("timeout-after", op="payout", nth=1, seconds=1.5)
    client = make_client(harness.emulator.url, read_timeout=0.5)
    try:
        result = harness.run(
            harness.sheet("v.csv", sac_payout_rows(2)), concurrency=1, client=client
        )
    finally:
        client.session.close()
    assert _states(result.rows) == {"SUCCESS": 2}
    _assert_paid_once(harness, "payout", [r.reference for r in result.rows])
    assert result.rows[0].sends == 2


@pytest.mark.parametrize("fault", ["drop-after", "error-500-after"])
def test_execute_payout_link_unknown_status_check_finds_it_no_resend(
    harness: Harness, fault: str
) -> None:
    harness.admin.queue_fault(fault, op="payout-link", nth=2)
    result = harness.run(harness.sheet("bonus.csv", payout_link_rows(3)), concurrency=1)
    assert all(r.state in (*PROGRESS, "COMPLETED") for r in result.rows)
    _assert_paid_once(harness, "payout-link", [r.reference for r in result.rows])
    assert result.rows[1].sends == 1  # found by the status check, never re-sent
    types = [e.type for e in harness.ledger.events(result.run.run_id) if e.row_number == 3]
    assert types[-1] == "status-check"


def test_execute_payout_link_read_timeout_status_check_resolves(harness: Harness) -> None:
    harness.admin.queue_fault("timeout-after", op="payout-link", nth=1, seconds=1.5)
    client = make_client(harness.emulator.url, read_timeout=0.5)
    try:
        result = harness.run(
            harness.sheet("bonus.csv", payout_link_rows(2)), concurrency=1, client=client
        )
    finally:
        client.session.close()
    _assert_paid_once(harness, "payout-link", [r.reference for r in result.rows])
    assert result.rows[0].state != State.UNKNOWN and result.rows[0].sends == 1


def test_execute_payout_link_not_found_then_resend_same_id_once(harness: Harness) -> None:
    # Executed, connection dropped, and status look-ups say 404 for a while: the re-send
    # with the same Request-Id and bytes is answered with the replay, not a second link.
    harness.admin.queue_fault("status-not-found", op="payout-link", nth=1, seconds=30)
    harness.admin.queue_fault("drop-after", op="payout-link", nth=1)
    result = harness.run(harness.sheet("bonus.csv", payout_link_rows(2)), concurrency=1)
    _assert_paid_once(harness, "payout-link", [r.reference for r in result.rows])
    row = result.rows[0]
    assert row.sends == 2 and row.state in (*PROGRESS, "COMPLETED")


def test_execute_payout_link_500_before_execution_resent_once(harness: Harness) -> None:
    harness.admin.queue_fault("error-500-before", op="payout-link", nth=1)
    result = harness.run(harness.sheet("bonus.csv", payout_link_rows(1)))
    _assert_paid_once(harness, "payout-link", ["PL-0001"])
    assert result.rows[0].sends == 2


def test_execute_unresolved_stays_unknown_then_resume_resolves(harness: Harness) -> None:
    harness.admin.fund(FUNDED, 10_000_000)
    harness.admin.queue_fault("drop-after", op="payout", nth=1)
    first = harness.run(harness.sheet("v.csv", sac_payout_rows(2)), concurrency=1, max_sends=1)
    assert first.rows[0].state == State.UNKNOWN and exit_code(first.rows, kind=first.run.kind) == 1
    assert first.run.finished_at is None
    second = harness.resume(first.run.run_id)
    assert _states(second.rows) == {"SUCCESS": 2}
    _assert_paid_once(harness, "payout", ["INV-0001", "INV-0002"])
    assert second.sends == 1


def test_execute_rate_limited_waits_retry_after_then_sends(harness: Harness) -> None:
    harness.admin.fund(FUNDED, 10_000_000)
    harness.admin.queue_fault("rate-limit-429", op="payout", nth=1, seconds=3)
    result = harness.run(harness.sheet("v.csv", sac_payout_rows(1)))
    assert result.rows[0].state == "SUCCESS"
    assert 3.0 in harness.sleeps
    _assert_paid_once(harness, "payout", ["INV-0001"])


# --- auth ---------------------------------------------------------------------------------


def test_execute_auth_failed_stops_batch_rows_planned_resume_sends(harness: Harness) -> None:
    bad = DokuClient(
        base_url=harness.emulator.url,
        client_id=EMULATOR_CLIENT_ID,
        secret_key="SK-WRONG-WRONG-WRONG",
        session=make_session(trust_env=False),
    )
    run = harness.start(harness.sheet("bonus.csv", payout_link_rows(5)))
    try:
        result = harness.execute(run.run_id, client=bad, concurrency=2)
    finally:
        bad.session.close()
    assert result.halt is not None and result.halt.reason == "auth-failed"
    assert "BATCHPAY_PAYOUT_LINK_SIGNATURE" in result.halt.message
    assert _states(result.rows) == {State.PLANNED: 5}
    assert harness.executed()["count"] == 0
    second = harness.resume(run.run_id)
    _assert_paid_once(harness, "payout-link", [r.reference for r in second.rows])


# --- status and retry-failed --------------------------------------------------------------


def test_refresh_statuses_links_reach_terminal(harness: Harness) -> None:
    rows = payout_link_rows(3)
    rows[1]["receiver_email"] = "fail+fail@example.co.id"
    result = harness.run(harness.sheet("bonus.csv", rows))
    import time

    deadline = time.monotonic() + 15
    while time.monotonic() < deadline:
        refreshed = runs.refresh_statuses(harness.ledger, harness.client, result.run.run_id)
        if runs.is_settled(refreshed.rows):
            break
        time.sleep(0.3)
    assert [r.state for r in refreshed.rows] == ["COMPLETED", "FAILED", "COMPLETED"]
    assert all(r.last_seen_at for r in refreshed.rows)
    assert harness.executed("payout-link")["count"] == 3  # status never re-sends


def test_retry_failed_sub_account_new_request_id_same_invoice_linked(harness: Harness) -> None:
    harness.admin.fund(FUNDED, 150_000)
    parent = harness.run(harness.sheet("v.csv", sac_payout_rows(2)), concurrency=1)
    assert parent.rows[1].state == State.REJECTED
    harness.admin.fund(FUNDED, 1_000_000)
    retry = runs.plan_retry(harness.ledger, parent.run.run_id)
    assert [r.reference for r in retry.plan.rows] == ["INV-0002"]
    result = runs.retry_failed(
        harness.ledger, harness.client, retry, options=harness.options(), sleep=harness.sleep
    )
    row = result.rows[0]
    assert result.run.parent_run_id == parent.run.run_id
    assert (row.attempt, row.state) == (2, "SUCCESS")
    assert row.request_id != parent.rows[1].request_id
    _assert_paid_once(harness, "payout", ["INV-0001", "INV-0002"])
    with pytest.raises(RunError, match="already retried"):
        runs.plan_retry(harness.ledger, parent.run.run_id)


def test_plan_retry_payout_link_failed_gets_suffixed_reference(harness: Harness) -> None:
    rows = payout_link_rows(2)
    rows[0]["receiver_email"] = "x+fail@example.co.id"
    parent = harness.run(harness.sheet("bonus.csv", rows))
    import time

    for _ in range(50):
        got = runs.refresh_statuses(harness.ledger, harness.client, parent.run.run_id)
        if runs.is_settled(got.rows):
            break
        time.sleep(0.2)
    retry = runs.plan_retry(harness.ledger, parent.run.run_id)
    assert [(r.reference, r.attempt) for r in retry.plan.rows] == [("PL-0001-R2", 2)]
    assert b'"reference_id":"PL-0001-R2"' in retry.plan.rows[0].body


def test_plan_retry_never_takes_unknown_rows(harness: Harness) -> None:
    harness.admin.fund(FUNDED, 10_000_000)
    harness.admin.queue_fault("drop-after", op="payout", nth=1)
    parent = harness.run(harness.sheet("v.csv", sac_payout_rows(1)), max_sends=1)
    assert parent.rows[0].state == State.UNKNOWN
    assert runs.plan_retry(harness.ledger, parent.run.run_id).plan.rows == []


# --- the journal holds no secret ------------------------------------------------------------


def test_execute_journal_never_contains_secret(harness: Harness, tmp_path: Path) -> None:
    harness.admin.queue_fault("error-500-after", op="payout-link", nth=1)
    harness.run(harness.sheet("bonus.csv", payout_link_rows(2)))
    for path in (p for p in tmp_path.rglob("*") if p.is_file()):
        assert EMULATOR_SECRET_KEY.encode() not in path.read_bytes()


def test_exit_code_sub_account_pending_is_a_problem_but_payout_link_pending_is_not() -> None:
    """A Payout Link PENDING is accepted and progressing (exit 0); a Sub Account payout DOKU
    accepted without SUCCESS is not paid and has nothing to follow (exit 1)."""
    from batchpay.journal import RowRecord

    def row(state: str) -> RowRecord:
        return RowRecord(
            run_id="r",
            row_number=2,
            attempt=1,
            reference="X",
            amount_minor=100,
            currency="IDR",
            source_account=None,
            input={},
            normalised={},
            request_id="1",
            body=b"{}",
            state=state,
            doku_status=state,
            doku_ids={},
            message=None,
            sends=1,
            last_seen_at=None,
            updated_at="",
        )

    assert exit_code([row("PENDING")], kind="payout-link") == 0
    assert exit_code([row("PENDING")], kind="sub-account-payout") == 1
    assert exit_code([row("SUCCESS")], kind="sub-account-payout") == 0
