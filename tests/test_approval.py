"""Maker–checker (issue 13) in one process against the real emulator: submit, the plan
digest, approval thresholds, expiry with an injected clock, rejection, digest tampering
(sqlite3 on the journal file), and every misuse refused with one message, changing nothing.
The two-OS-account proof is tests/test_approval_accounts.py; kill -9 during send is
tests/test_approval_kill9.py."""

from __future__ import annotations

import hashlib
import json
import sqlite3
from dataclasses import replace
from datetime import timedelta
from pathlib import Path

import pytest

from batchpay.config import load_settings
from batchpay.emulator.runtime import EmulatorHandle
from batchpay.errors import (
    AlreadyApproved,
    ApprovalRequired,
    DigestMismatch,
    IllegalTransition,
    NotApproved,
    NotAwaitingApproval,
    OwnRun,
    RepeatedReferences,
    TotalMismatch,
)
from batchpay.journal import RowChange, open_journal, utc_now
from batchpay.policy import ApprovalPolicy
from batchpay.profile import load_profile
from batchpay.runs import approval, service
from batchpay.runs.options import ResumeOptions, RunOptions, SendOptions, Target
from batchpay.runs.plan import plan
from batchpay.runs.progress import NullProgress
from batchpay.states import RunStatus, State
from batchpay.validate import validate_file
from tests.helpers.runs import payout_link_rows, run_cli, write_csv

MAKER = "maker"  # the journal's principal in this process is root: submit records that


@pytest.fixture
def target(emulator: EmulatorHandle, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Target:
    emulator.admin.reset()
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("BATCHPAY_ENV", "emulator")
    monkeypatch.setenv("BATCHPAY_BASE_URL", emulator.url)
    return Target(env="emulator", base_url=emulator.url)


def ledger_path() -> Path:
    return load_settings(require_credentials=False).ledger_path


def dump(path: Path) -> dict[str, list[tuple[object, ...]]]:
    """Every table of the journal, as stored: "changes nothing" compares two dumps."""
    conn = sqlite3.connect(path)
    try:
        return {
            t: sorted(map(tuple, conn.execute(f"SELECT * FROM {t}")), key=repr)  # noqa: S608
            for t in ("runs", "rows", "events", "approvals", "plans")
        }
    finally:
        conn.close()


def profile(tmp_path: Path, text: str) -> RunOptions:
    path = tmp_path / "batchpay.toml"
    path.write_text(text, encoding="utf-8")
    return RunOptions(profile=load_profile(path))


def submit(
    tmp_path: Path,
    target: Target,
    n: int = 3,
    *,
    options: RunOptions | None = None,
    prefix: str = "PL",
) -> str:
    """Submit ``n`` Payout Link rows of IDR 1,500,000 each; the run id."""
    sheet = write_csv(tmp_path / f"{prefix}.csv", payout_link_rows(n, prefix=prefix))
    done = approval.submit(
        sheet, replace(options or RunOptions(), target=target), progress=NullProgress()
    )
    assert done.run is not None
    return done.run.run_id


def independent_digest(path: Path, run_id: str) -> str:
    """docs/safety.md §9's recipe, written here from the journal's raw columns (the proof
    must not share a bug with the code it checks)."""
    conn = sqlite3.connect(path)
    run = conn.execute(
        "SELECT input_sha256, kind, env FROM runs WHERE run_id=?", (run_id,)
    ).fetchone()
    rows = conn.execute(
        "SELECT row_number, request_id, body, amount_minor, currency, source_account, reference "
        "FROM rows WHERE run_id=? ORDER BY row_number",
        (run_id,),
    ).fetchall()
    conn.close()
    text = (
        f"batchpay plan digest v1\ninput-sha256 {run[0]}\nkind {run[1]}\nenv {run[2]}\n"
        f"rows {len(rows)}\n"
    )
    for number, rid, body, amount, currency, source, reference in rows:
        fields = [str(number), rid, hashlib.sha256(body).hexdigest(),
                  "-" if amount is None else str(amount), currency, json.dumps(source),
                  json.dumps(reference)]  # fmt: skip
        text += "\t".join(fields) + "\n"
    return hashlib.sha256(text.encode()).hexdigest()


# --- submit ------------------------------------------------------------------------------------


def test_approval_submit_journals_awaiting_rows_planned_digest_by_recipe_nothing_sent(
    emulator: EmulatorHandle, target: Target, tmp_path: Path
) -> None:
    run_id = submit(tmp_path, target)
    journal = open_journal(ledger_path())
    run = journal.run(run_id)
    assert run.status == RunStatus.AWAITING_APPROVAL and run.operator == journal.principal()
    assert [r.state for r in journal.rows(run_id)] == [State.PLANNED] * 3
    assert run.plan_digest == independent_digest(ledger_path(), run_id)
    assert [e.type for e in journal.events(run_id)] == ["run-created", "submit"]
    assert emulator.admin.executed()["count"] == 0
    assert (tmp_path / "reports" / f"PL-{run_id}.xlsx").is_file()  # the plan workbook
    assert run.expires_at is not None and run.settings["approval"]["approvers"] == 1


def test_approval_run_refused_when_profile_requires_approval_dry_run_allowed(
    emulator: EmulatorHandle, target: Target, tmp_path: Path
) -> None:
    sheet = write_csv(tmp_path / "b.csv", payout_link_rows(2))
    (tmp_path / "batchpay.toml").write_text("[approval]\nrequired = true\n", encoding="utf-8")
    refused = run_cli("run", str(sheet), "--quiet")
    assert refused.exit_code == 2, refused.output
    assert "batchpay submit" in refused.output and "nothing was sent" in refused.output
    assert emulator.admin.executed()["count"] == 0
    assert run_cli("run", str(sheet), "--dry-run", "--quiet").exit_code == 0
    with pytest.raises(ApprovalRequired):
        service.prepare(sheet, profile(tmp_path, "[approval]\nrequired = true\n"))


def test_approval_awaiting_rows_never_leave_planned_resume_refused(
    emulator: EmulatorHandle, target: Target, tmp_path: Path
) -> None:
    run_id = submit(tmp_path, target)
    before = dump(ledger_path())
    with pytest.raises(NotApproved, match="awaiting approval"):
        service.resume(run_id, ResumeOptions(target=target), progress=NullProgress())
    journal = open_journal(ledger_path())
    with pytest.raises(IllegalTransition, match="not released"):
        journal.apply(RowChange(run_id, 2, State.SENDING, "send", count_send=True))
    assert dump(ledger_path()) == before and emulator.admin.executed()["count"] == 0


# --- approve / send ----------------------------------------------------------------------------


def test_approval_approve_then_send_pays_each_once_events_and_summary(
    emulator: EmulatorHandle, target: Target, tmp_path: Path
) -> None:
    run_id = submit(tmp_path, target)
    decision = approval.approve(run_id, expect_total="4,500,000", approver="checker")
    assert decision.released and (decision.have, decision.needed) == (1, 1)
    result = approval.send(run_id, SendOptions(target=target), progress=NullProgress())
    assert result.sends == 3 and all(r.state == State.PENDING for r in result.rows)
    again = approval.send(run_id, SendOptions(target=target), progress=NullProgress())
    assert again.sends == 0
    executed = emulator.admin.executed("payout-link")
    assert executed["count"] == 3 and executed["max_per_reference"] == 1
    journal = open_journal(ledger_path())
    run = journal.run(run_id)
    types = [e.type for e in journal.events(run_id) if e.row_number is None]
    assert types[:4] == ["run-created", "submit", "approve", "send"]
    assert run.status == RunStatus.APPROVED and run.approvals[0].approver == "checker"
    assert run.approvals[0].digest == run.plan_digest
    assert run.prepared_by and "WIB" in run.prepared_by and run.approved_by
    assert run.approved_by.startswith("checker at ")


def test_approval_summary_sheet_shows_prepared_approved_digest(
    emulator: EmulatorHandle, target: Target, tmp_path: Path
) -> None:
    import openpyxl

    run_id = submit(tmp_path, target, n=1)
    approval.approve(run_id, expect_total="1500000", approver="checker")
    result = approval.send(run_id, SendOptions(target=target), progress=NullProgress())
    assert result.workbook is not None
    wb = openpyxl.load_workbook(result.workbook, read_only=True)
    labels = {r[0]: r[1] for r in wb["Summary"].iter_rows(values_only=True) if r and r[0]}
    wb.close()
    run = open_journal(ledger_path()).run(run_id)
    assert labels["Plan digest (SHA-256)"] == run.plan_digest
    assert str(labels["Approved by"]).startswith("checker at ")
    assert str(labels["Prepared by"]).startswith(f"{run.operator} at ")


def test_approval_two_approvers_above_threshold_one_person_counts_once(
    emulator: EmulatorHandle, target: Target, tmp_path: Path
) -> None:
    options = profile(tmp_path, "[approval]\nsecond_approver_above = 4000000\n")
    big = submit(tmp_path, target, options=options)  # IDR 4,500,000 > 4,000,000
    small = submit(tmp_path, target, n=2, options=options, prefix="SM")  # 3,000,000
    first = approval.approve(big, expect_total="4500000", approver="checker-1")
    assert not first.released and (first.have, first.needed) == (1, 2)
    before = dump(ledger_path())
    with pytest.raises(AlreadyApproved, match="one person counts once"):
        approval.approve(big, expect_total="4500000", approver="checker-1")
    with pytest.raises(NotApproved, match=r"1 of 2"):
        approval.send(big, SendOptions(target=target), progress=NullProgress())
    assert dump(ledger_path()) == before
    assert approval.approve(big, expect_total="4500000", approver="checker-2").released
    assert approval.approve(small, expect_total="3000000", approver="checker-1").released
    # approvers = 2 needs two for any total; the approver's own profile can only add.
    strict = submit(tmp_path, target, n=1, prefix="ST")
    policy = ApprovalPolicy(approvers=2)
    assert not approval.approve(
        strict, expect_total="1500000", approver="a", policy=policy
    ).released
    assert approval.approve(strict, expect_total="1500000", approver="b", policy=policy).released
    assert emulator.admin.executed()["count"] == 0


def test_approval_expiry_injected_clock_expired_never_sent(
    emulator: EmulatorHandle, target: Target, tmp_path: Path
) -> None:
    options = profile(tmp_path, '[approval]\nexpires_after = "36h"\n')
    run_id = submit(tmp_path, target, options=options)
    later = utc_now() + timedelta(hours=37)
    assert approval.plan_view(run_id, now=later).status == RunStatus.EXPIRED
    with pytest.raises(NotAwaitingApproval, match="expired"):
        approval.approve(run_id, expect_total="4500000", approver="checker", now=later)
    journal = open_journal(ledger_path())
    assert journal.run(run_id).status == RunStatus.EXPIRED
    assert [e.type for e in journal.events(run_id)][-1] == "expire"
    before = dump(ledger_path())
    with pytest.raises(NotApproved, match="can never be sent"):
        approval.send(run_id, SendOptions(target=target), progress=NullProgress())
    with pytest.raises(NotAwaitingApproval):
        approval.approve(run_id, expect_total="4500000", approver="checker")
    with pytest.raises(NotAwaitingApproval):
        approval.reject(run_id, reason="too late", by="checker")
    assert dump(ledger_path()) == before and emulator.admin.executed()["count"] == 0
    # An expired run holds no reference: the sheet can be submitted again.
    submit(tmp_path, target)


def test_approval_rejected_never_sent_references_freed(
    emulator: EmulatorHandle, target: Target, tmp_path: Path
) -> None:
    run_id = submit(tmp_path, target)
    with pytest.raises(RepeatedReferences):
        submit(tmp_path, target)  # an awaiting run holds its references
    run = approval.reject(run_id, reason="wrong month", by="checker")
    assert run.status == RunStatus.REJECTED and run.approvals[-1].reason == "wrong month"
    before = dump(ledger_path())
    with pytest.raises(NotApproved, match=r"rejected by checker .*: wrong month"):
        approval.send(run_id, SendOptions(target=target), progress=NullProgress())
    with pytest.raises(NotAwaitingApproval, match="rejected"):
        approval.approve(run_id, expect_total="4500000", approver="other")
    with pytest.raises(NotApproved):
        service.resume(run_id, ResumeOptions(target=target), progress=NullProgress())
    assert dump(ledger_path()) == before and emulator.admin.executed()["count"] == 0
    again = submit(tmp_path, target)  # a rejected run holds no reference
    assert again != run_id


def test_approval_approved_run_rejected_before_sending_never_after(
    emulator: EmulatorHandle, target: Target, tmp_path: Path
) -> None:
    run_id = submit(tmp_path, target, n=1)
    approval.approve(run_id, expect_total="1500000", approver="checker")
    assert approval.reject(run_id, reason="changed my mind", by="checker").status == "REJECTED"
    sent = submit(tmp_path, target, n=1, prefix="SENT")
    approval.approve(sent, expect_total="1500000", approver="checker")
    approval.send(sent, SendOptions(target=target), progress=NullProgress())
    before = dump(ledger_path())
    with pytest.raises(NotAwaitingApproval, match=r"sending run .* has begun"):
        approval.reject(sent, reason="too late", by="checker")
    assert dump(ledger_path()) == before


def test_approval_misuse_own_run_wrong_total_not_awaiting_change_nothing(
    emulator: EmulatorHandle, target: Target, tmp_path: Path
) -> None:
    run_id = submit(tmp_path, target)
    maker = open_journal(ledger_path()).principal()
    before = dump(ledger_path())
    with pytest.raises(OwnRun, match="cannot approve their own run") as own:
        approval.approve(run_id, expect_total="4500000")
    assert own.value.person == maker
    with pytest.raises(TotalMismatch, match="nothing was approved") as wrong:
        approval.approve(run_id, expect_total="4500001", approver="checker")
    assert wrong.value.actual == "4,500,000"
    with pytest.raises(NotApproved, match="awaiting approval"):
        approval.send(run_id, SendOptions(target=target), progress=NullProgress())
    assert dump(ledger_path()) == before
    approval.approve(run_id, expect_total="4500000", approver="checker")
    with pytest.raises(NotAwaitingApproval, match="already APPROVED"):
        approval.approve(run_id, expect_total="4500000", approver="checker-2")
    ordinary = service.start(
        service.prepare(write_csv(tmp_path / "o.csv", payout_link_rows(1, prefix="O")),
                        RunOptions(target=target)),
        confirm=lambda *_: None, progress=NullProgress(),
    )  # fmt: skip
    after = dump(ledger_path())
    with pytest.raises(NotAwaitingApproval, match="not submitted for approval"):
        approval.approve(ordinary.run.run_id, expect_total="1500000", approver="checker")
    with pytest.raises(NotApproved, match="not submitted for approval"):
        approval.send(ordinary.run.run_id, SendOptions(target=target), progress=NullProgress())
    assert dump(ledger_path()) == after


# --- the digest --------------------------------------------------------------------------------


def _tamper(sql: str, *args: object) -> None:
    conn = sqlite3.connect(ledger_path())
    conn.execute(sql, args)
    conn.commit()
    conn.close()


def test_approval_body_changed_after_approval_send_refused_names_row_nothing_sent(
    emulator: EmulatorHandle, target: Target, tmp_path: Path
) -> None:
    run_id = submit(tmp_path, target)
    approval.approve(run_id, expect_total="4500000", approver="checker")
    body = open_journal(ledger_path()).row(run_id, 3).body
    forged = body.replace(b"150000", b"950000")
    assert forged != body
    _tamper("UPDATE rows SET body=? WHERE run_id=? AND row_number=3", forged, run_id)
    before = dump(ledger_path())
    with pytest.raises(DigestMismatch) as caught:
        approval.send(run_id, SendOptions(target=target), progress=NullProgress())
    [change] = caught.value.changes
    assert change.startswith("row 3 (PL-0002): the request body changed")
    assert "nothing was sent" in caught.value.message
    with pytest.raises(DigestMismatch):
        service.resume(run_id, ResumeOptions(target=target), progress=NullProgress())
    assert dump(ledger_path()) == before and emulator.admin.executed()["count"] == 0
    refused = run_cli("send", run_id)
    assert refused.exit_code == 1 and "row 3 (PL-0002): the request body changed" in (
        refused.output
    )


def test_approval_amount_or_environment_changed_before_approval_refused_named(
    emulator: EmulatorHandle, target: Target, tmp_path: Path
) -> None:
    run_id = submit(tmp_path, target)
    _tamper("UPDATE rows SET amount_minor=1 WHERE run_id=? AND row_number=2", run_id)
    with pytest.raises(DigestMismatch, match=r"row 2 \(PL-0001\): the amount changed from "
                       r"IDR 1,500,000 to IDR 0.01"):  # fmt: skip
        approval.approve(run_id, expect_total="4500000", approver="checker")
    _tamper("UPDATE rows SET amount_minor=150000000 WHERE run_id=? AND row_number=2", run_id)
    approval.approve(run_id, expect_total="4500000", approver="checker")
    _tamper("UPDATE runs SET env='production' WHERE run_id=?", run_id)
    with pytest.raises(DigestMismatch, match="the environment changed from emulator to production"):
        approval.send(run_id, SendOptions(target=target), progress=NullProgress())
    assert emulator.admin.executed()["count"] == 0


def test_approval_forged_digest_and_manifest_refused(
    emulator: EmulatorHandle, target: Target, tmp_path: Path
) -> None:
    run_id = submit(tmp_path, target, n=1)
    approval.approve(run_id, expect_total="1500000", approver="checker")
    _tamper("UPDATE runs SET plan_digest=? WHERE run_id=?", "0" * 64, run_id)
    with pytest.raises(DigestMismatch, match="altered in the journal"):
        approval.send(run_id, SendOptions(target=target), progress=NullProgress())
    conn = sqlite3.connect(ledger_path())
    with pytest.raises(sqlite3.DatabaseError, match="append-only"):
        conn.execute("DELETE FROM approvals")
    with pytest.raises(sqlite3.DatabaseError, match="never changes"):
        conn.execute("UPDATE plans SET digest='x'")
    conn.close()
    assert emulator.admin.executed()["count"] == 0


# --- CLI ---------------------------------------------------------------------------------------


def test_cli_submit_approve_reject_send_messages_and_runs_statuses(
    emulator: EmulatorHandle, target: Target, tmp_path: Path
) -> None:
    sheet = write_csv(tmp_path / "bonus.csv", payout_link_rows(2))
    out = run_cli("submit", str(sheet), "--quiet")
    assert out.exit_code == 0, out.output
    run_id = out.output.split("Submitted for approval: run ")[1].split()[0]
    assert "plan digest" in out.output and f"batchpay approve {run_id}" in out.output
    own = run_cli("approve", run_id, "--expect-total", "3000000")
    assert own.exit_code == 1 and "cannot approve their own run" in own.output
    assert "Row" in own.output and "PL-0001" in own.output and "prepared by" in own.output
    listed = run_cli("runs")
    assert "[AWAITING_APPROVAL]" in listed.output
    early = run_cli("send", run_id)
    assert early.exit_code == 1 and "awaiting approval" in early.output
    rejected = run_cli("reject", run_id, "--reason", "wrong sheet")
    assert rejected.exit_code == 0 and "rejected by" in rejected.output
    assert "[REJECTED]" in run_cli("runs").output
    assert run_cli("reject", run_id, "--reason", "again").exit_code == 1
    assert emulator.admin.executed()["count"] == 0


def test_cli_approve_types_total_when_asked(
    emulator: EmulatorHandle, target: Target, tmp_path: Path
) -> None:
    run_id = submit(tmp_path, target, n=2)
    # The journal's principal is this process's login: make the run someone else's.
    _tamper("UPDATE runs SET operator=? WHERE run_id=?", MAKER, run_id)
    wrong = run_cli("approve", run_id, input="3000001\n")
    assert wrong.exit_code == 1 and "nothing was approved" in wrong.output
    done = run_cli("approve", run_id, input="3,000,000\n")
    assert done.exit_code == 0, done.output
    assert "is released" in done.output and f"batchpay send {run_id}" in done.output
    assert "[APPROVED]" in run_cli("runs").output
    sent = run_cli("send", run_id, "--quiet")
    assert sent.exit_code == 0, sent.output
    assert emulator.admin.executed("payout-link")["count"] == 2


# --- a journal the team shares ---------------------------------------------------------------


def _mode(path: Path) -> int:
    return path.stat().st_mode & 0o7777


def test_approval_journal_in_setgid_folder_group_rw_elsewhere_private(tmp_path: Path) -> None:
    import os

    shared = tmp_path / "team"
    shared.mkdir()
    if os.geteuid() == 0:
        os.chown(shared, -1, 4242)  # root: any group, like `chgrp finance`
    os.chmod(shared, 0o2770)  # noqa: S103 - the set-up README "Approvals" describes
    gid = shared.stat().st_gid
    old = os.umask(0o077)  # the owner's umask must not close the group out
    try:
        ledger = open_journal(shared / "ledger.sqlite", create=True)
        conn = sqlite3.connect(shared / "ledger.sqlite")  # keeps -wal and -shm while we look
        conn.execute("SELECT count(*) FROM runs").fetchone()
        with ledger.lock("20261205-000000-ab12"):
            locks = shared / "ledger.sqlite.locks"
            lock = locks / "20261205-000000-ab12.lock"
            assert (_mode(locks), _mode(lock)) == (0o2770, 0o660)
            assert locks.stat().st_gid == gid and lock.stat().st_gid == gid
        for name in ("ledger.sqlite", "ledger.sqlite-wal", "ledger.sqlite-shm"):
            assert _mode(shared / name) == 0o660, name
            assert (shared / name).stat().st_gid == gid, name
        conn.close()
        private = open_journal(tmp_path / "own" / "ledger.sqlite", create=True)
        with private.lock("20261205-000000-ab12"):
            pass
        assert _mode(tmp_path / "own" / "ledger.sqlite") == 0o600
        assert _mode(tmp_path / "own") == 0o700
        assert _mode(tmp_path / "own" / "ledger.sqlite.locks") == 0o700
    finally:
        os.umask(old)


def test_approval_schema_2_journal_migrated_every_run_open(tmp_path: Path) -> None:
    path = tmp_path / "ledger.sqlite"
    journal = open_journal(path, create=True)
    the_plan = plan(
        validate_file(write_csv(tmp_path / "s.csv", payout_link_rows(1))), env="emulator"
    )
    run = journal.create_run(
        kind="payout-link",
        product=the_plan.kind.product,
        env="emulator",
        input_path=the_plan.input_path,
        input_sha256=the_plan.input_sha256,
        rows=the_plan.rows,
        settings={},
    )
    conn = sqlite3.connect(path, isolation_level=None)
    conn.executescript(
        "DROP TABLE approvals; DROP TABLE plans; ALTER TABLE runs DROP COLUMN status;"
        "ALTER TABLE runs DROP COLUMN plan_digest; ALTER TABLE runs DROP COLUMN expires_at;"
        "PRAGMA user_version = 2;"
    )
    conn.close()
    reader = open_journal(path, read_only=True)  # read as it stands, not migrated
    assert (
        reader.run(run.run_id).status == RunStatus.OPEN and reader.run(run.run_id).approvals == ()
    )
    migrated = open_journal(path)
    assert migrated.run(run.run_id).status == RunStatus.OPEN
    conn = sqlite3.connect(path)
    assert conn.execute("PRAGMA user_version").fetchone()[0] == 4
    assert conn.execute("SELECT count(*) FROM approvals").fetchone()[0] == 0
    conn.close()


def test_approval_overdue_submission_expired_when_the_sheet_is_submitted_again(
    emulator: EmulatorHandle, target: Target, tmp_path: Path
) -> None:
    first = submit(tmp_path, target)
    sheet = tmp_path / "PL.csv"
    later = utc_now() + timedelta(days=8)
    done = approval.submit(sheet, RunOptions(target=target), progress=NullProgress(), now=later)
    assert done.run is not None and done.run.run_id != first
    assert open_journal(ledger_path()).run(first).status == RunStatus.EXPIRED


def test_approval_retry_failed_of_required_submitted_run_refused_nothing_sent(
    emulator: EmulatorHandle, target: Target, tmp_path: Path
) -> None:
    from batchpay.runs.options import RetryOptions

    options = profile(tmp_path, "[approval]\nrequired = true\n")
    run_id = submit(tmp_path, target, n=1, options=options)
    approval.approve(run_id, expect_total="1500000", approver="checker")
    approval.send(run_id, SendOptions(target=target), progress=NullProgress())
    before = dump(ledger_path())
    with pytest.raises(ApprovalRequired, match="retrying its failed rows is a new payment"):
        service.retry_failed(
            run_id, RetryOptions(target=target), confirm=lambda *_: True, progress=NullProgress()
        )
    assert dump(ledger_path()) == before
