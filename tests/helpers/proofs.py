"""The invariants of docs/safety.md as one reusable check, plus the kill -9 cycle that the
reliability suites (fault matrix, kill -9, seeded journal states) and
``benchmarks/kill9_all.py`` share.

:func:`assert_invariants` compares three independent views of a run — the journal (SQLite,
read through :class:`batchpay.journal.Journal`), the gateway's truth (the emulator's
``/_emulator/executed``) and, when given, the reconciliation workbook read back with openpyxl
— against the input rows. It never trusts batchpay's own summary code alone: "paid" is
recomputed here from the states docs/safety.md names.
"""

from __future__ import annotations

import os
import re
import signal
import subprocess
import sys
import time
import zipfile
from collections import Counter
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from decimal import Decimal
from pathlib import Path
from typing import Any

import openpyxl

from batchpay import runs
from batchpay.doku import make_session
from batchpay.doku.client import DokuClient
from batchpay.emulator import EMULATOR_CLIENT_ID, EMULATOR_SECRET_KEY
from batchpay.journal import EventRecord, Journal, RowRecord, open_journal
from batchpay.reconcile import StatusClass, classify, summarise
from batchpay.runs.options import EngineOptions
from batchpay.states import OPEN, PROGRESS, State

REPO = Path(__file__).resolve().parents[2]

# The emulator's op name (``/_emulator/executed``) for each kind's money-moving request.
OP_OF_KIND = {
    "payout-link": "payout-link",
    "sub-account-payout": "payout",
    "sub-account-transfer": "transfer",
    "sub-account-create": "account",
}
# Written here, not imported: the proof must not share a bug with the code it checks.
PAID_STATES = frozenset({"COMPLETED", "SUCCESS", "CREATED", "ACTIVE"})
# A row in one of these states was executed by DOKU (it answered with a business status).
ACCEPTED_STATES = frozenset({*PAID_STATES, *PROGRESS, "FAILED", "EXPIRED"})
# The row never executed at DOKU (DOKU proved it, or it was never sent).
NOT_EXECUTED_STATES = frozenset({State.REJECTED, State.PLANNED, State.NOT_SENT, State.INVALID})
MAY_BE_PAID = frozenset({State.SENDING, State.UNKNOWN})
KNOWN_STATES = ACCEPTED_STATES | NOT_EXECUTED_STATES | MAY_BE_PAID
REFERENCE_FIELDS = ("reference_id", "invoice_number", "email")


class InvariantError(AssertionError):
    """One or more invariants of docs/safety.md do not hold; the message lists every breach."""


def reference_of(row: Mapping[str, str]) -> str:
    for name in REFERENCE_FIELDS:
        if row.get(name):
            return row[name]
    raise KeyError(f"no reference field in input row {row!r}")


def amount_minor_of(row: Mapping[str, str]) -> int | None:
    text = row.get("amount")
    if text is None:
        return None
    return int(Decimal(text.replace(",", "")) * 100)


def gateway_minor(amount: str | None) -> int | None:
    return None if amount is None else int(Decimal(amount) * 100)


def no_sleep(seconds: float) -> None:
    """Backoff without waiting (the emulator's faults are one-shot)."""


def make_client(
    url: str, *, secret_key: str = EMULATOR_SECRET_KEY, read_timeout: float = 5.0
) -> DokuClient:
    return DokuClient(
        base_url=url,
        client_id=EMULATOR_CLIENT_ID,
        secret_key=secret_key,
        session=make_session(trust_env=False),
        timeout=(2.0, read_timeout),
    )


def fast_options(**kw: Any) -> EngineOptions:
    """Options with no jitter and tiny backoff (with an injected sleep, nothing waits)."""
    kw.setdefault("jitter", lambda d: d)
    kw.setdefault("backoff_base", 0.01)
    kw.setdefault("backoff_cap", 0.05)
    return EngineOptions(**kw)


# --- the invariants ---------------------------------------------------------------------------


@dataclass
class Proof:
    """What :func:`assert_invariants` saw (tests assert on details, benchmarks print them)."""

    rows: list[RowRecord]
    executed: int  # executions of this run's op and references at the gateway
    states: Counter[str] = field(default_factory=Counter)


def assert_invariants(
    ledger_path: str | os.PathLike[str],
    run_id: str,
    emulator_admin: Any,
    input_rows: Sequence[Mapping[str, str]],
    workbook_path: str | os.PathLike[str] | None = None,
    *,
    settled: bool = True,
    client: DokuClient | None = None,
    check_resume: bool = True,
) -> Proof:
    """Assert docs/safety.md invariants 1–5 and 7 for ``run_id``; raise :class:`InvariantError`
    listing every breach.

    1. per business reference the gateway executed at most once;
    2. every input row has exactly one journal row (none missing, none extra) and, when
       ``settled``, a disposition (nothing left PLANNED/SENDING/UNKNOWN);
    3. journal ⇔ gateway row by row (accepted ⇔ executed, same amount) and in total;
    4. a further resume sends nothing (gateway count and journal unchanged) — needs the run
       settled; ``client`` (default: built-in emulator credentials) is used for it;
    5. nothing shown paid unless DOKU said so: paid rows are executed and their last
       transition is an accepted answer; UNKNOWN/SENDING never count as paid;
    7. the workbook, if given, reads back, has no formula, and equals the journal.
    """
    ledger = open_journal(ledger_path)  # a SQLite file or a PostgreSQL URL
    run = ledger.run(run_id)
    op = OP_OF_KIND[run.kind]
    rows = ledger.rows(run_id)
    events = ledger.events(run_id)
    problems: list[str] = []
    inputs = {reference_of(r): r for r in input_rows}
    truth = emulator_admin.executed(op)
    items = [i for i in truth["items"] if i["reference"] in inputs]

    # 1. never twice
    counts = Counter(i["reference"] for i in items)
    twice = {ref: n for ref, n in counts.items() if n > 1}
    if twice:
        problems.append(f"(1) paid more than once at the gateway: {twice}")

    # 2. one disposition per input row
    if len(rows) != len(input_rows):
        problems.append(f"(2) journal has {len(rows)} rows for {len(input_rows)} input rows")
    journal_refs = Counter(r.reference for r in rows)
    missing = sorted(set(inputs) - set(journal_refs))
    extra = sorted(set(journal_refs) - set(inputs))
    dup = sorted(ref for ref, n in journal_refs.items() if n > 1)
    if missing or extra or dup:
        problems.append(
            f"(2) journal rows ≠ input rows: missing {missing[:10]}, "
            f"extra {extra[:10]}, duplicated {dup[:10]}"
        )
    for r in rows:
        want = amount_minor_of(inputs.get(r.reference, {}))
        if r.reference in inputs and want is not None and r.amount_minor != want:
            problems.append(
                f"(2) row {r.row_number} {r.reference}: journal amount "
                f"{r.amount_minor} ≠ input {want}"
            )
    open_rows = [(r.row_number, r.state) for r in rows if r.state in OPEN]
    if settled and open_rows:
        problems.append(f"(2) rows without a disposition after resume: {open_rows[:10]}")

    # 3. journal = gateway, row by row and in total
    executed_amount = {i["reference"]: gateway_minor(i["amount"]) for i in items}
    executed_id = {i["reference"]: i["request_id"] for i in items}
    for r in rows:
        at_gateway = r.reference in counts
        if r.state not in KNOWN_STATES:
            problems.append(
                f"(2) row {r.row_number} has a state docs/safety.md does not know: {r.state!r}"
            )
        if at_gateway and executed_id[r.reference] != r.request_id:
            problems.append(
                f"(3) row {r.row_number} {r.reference} was executed with Request-Id "
                f"{executed_id[r.reference]}, not the journaled {r.request_id}"
            )
        if r.state in ACCEPTED_STATES and not at_gateway:
            problems.append(
                f"(3) row {r.row_number} {r.reference} is {r.state} in the journal "
                "but the gateway never executed it"
            )
        if r.state in NOT_EXECUTED_STATES and at_gateway:
            problems.append(
                f"(3) row {r.row_number} {r.reference} is {r.state} in the journal "
                "but the gateway executed it"
            )
        if (
            at_gateway
            and r.amount_minor is not None
            and executed_amount[r.reference] != r.amount_minor
        ):
            problems.append(
                f"(3) row {r.row_number} {r.reference}: gateway amount "
                f"{executed_amount[r.reference]} ≠ journal {r.amount_minor}"
            )
    if not any(r.state in MAY_BE_PAID for r in rows):
        journal_total = sum(r.amount_minor or 0 for r in rows if r.state in ACCEPTED_STATES)
        gateway_total = sum(gateway_minor(i["amount"]) or 0 for i in items)
        if journal_total != gateway_total:
            problems.append(
                f"(3) total accepted in the journal {journal_total} ≠ total "
                f"executed at the gateway {gateway_total}"
            )

    # 5. nothing shown paid unless DOKU said so
    problems += _paid_only_when_said(rows, events, counts)

    # 7. the workbook equals the journal
    if workbook_path is not None:
        problems += check_workbook(workbook_path, rows)

    # 4. resuming a finished run sends nothing
    if check_resume and settled and not open_rows:
        problems += _resume_sends_nothing(ledger, run_id, emulator_admin, op, rows, client)

    if problems:
        raise InvariantError(
            f"run {run_id}: {len(problems)} invariant breach(es):\n  " + "\n  ".join(problems)
        )
    return Proof(rows=rows, executed=len(items), states=Counter(r.state for r in rows))


def _paid_only_when_said(
    rows: list[RowRecord], events: list[EventRecord], counts: Mapping[str, int]
) -> list[str]:
    problems: list[str] = []
    last_event: dict[int, EventRecord] = {}
    for e in events:
        if e.row_number is not None and e.new_state is not None:
            last_event[e.row_number] = e
    for r in rows:
        if r.state in MAY_BE_PAID and classify(r.state) is StatusClass.PAID:
            problems.append(f"(5) row {r.row_number} is {r.state} but classified paid")
        if r.state not in PAID_STATES:
            continue
        if r.reference not in counts:
            problems.append(
                f"(5) row {r.row_number} {r.reference} shown {r.state} (paid) but "
                "the gateway never executed it"
            )
        e = last_event.get(r.row_number)
        said = (
            e is not None
            and e.new_state == r.state
            and (e.outcome or "") == "accepted"
            and e.http_status in (200, 201, 409)
        )
        if not said:
            problems.append(
                f"(5) row {r.row_number} {r.reference} is {r.state} but its last "
                f"transition is not an accepted DOKU answer: {e}"
            )
        if r.last_seen_at is None:
            problems.append(f"(5) row {r.row_number} is {r.state} without last_seen_at")
    summary = summarise(rows)
    paid = [r for r in rows if r.state in PAID_STATES]
    if summary.paid.count != len(paid):
        problems.append(
            f"(5) summary counts {summary.paid.count} paid; the journal has "
            f"{len(paid)} rows DOKU called paid"
        )
    paid_minor = sum(r.amount_minor or 0 for r in paid)
    if sum(summary.paid.amounts.values()) != paid_minor:
        problems.append(f"(5) summary paid amount {summary.paid.amounts} ≠ {paid_minor}")
    unknown = [r for r in rows if r.state in MAY_BE_PAID]
    outstanding = summary.outstanding.count
    progressing = sum(1 for r in rows if r.state in PROGRESS)
    if outstanding != len(unknown) + progressing:
        problems.append(
            f"(5) outstanding {outstanding} ≠ unknown {len(unknown)} + progressing {progressing}"
        )
    return problems


def _resume_sends_nothing(
    ledger: Journal,
    run_id: str,
    admin: Any,
    op: str,
    rows: list[RowRecord],
    client: DokuClient | None,
) -> list[str]:
    before = admin.executed()["count"]
    own = client is None
    client = client or make_client(admin.url)
    try:
        again = runs.resume(ledger, client, run_id, options=fast_options(), sleep=no_sleep)
    finally:
        if own:
            client.session.close()
    problems: list[str] = []
    after = admin.executed()["count"]
    if again.sends or after != before:
        problems.append(
            f"(4) resuming the finished run sent {again.sends} request(s); the "
            f"gateway executed {after - before} more"
        )
    changed = [
        (a.row_number, a.state, b.state)
        for a, b in zip(rows, again.rows, strict=False)
        if a.state != b.state
    ]
    if changed:
        problems.append(f"(4) resuming the finished run changed rows: {changed[:10]}")
    return problems


# --- the workbook -----------------------------------------------------------------------------

_FORMULA_XML = re.compile(rb"<(?:\w+:)?f[ >/]")


def check_workbook(path: str | os.PathLike[str], rows: Sequence[RowRecord]) -> list[str]:
    """Invariant 7 (and 5 as the accountant sees it): the workbook reads back with openpyxl,
    holds no formula (neither in the XML nor as a cell type), its Rows sheet shows each
    journal row's state and amount, and its Summary totals equal the journal's."""
    problems: list[str] = []
    path = Path(path)
    try:
        with zipfile.ZipFile(path) as zf:
            for name in zf.namelist():
                if (
                    name.startswith("xl/worksheets/")
                    and name.endswith(".xml")
                    and _FORMULA_XML.search(zf.read(name))
                ):
                    problems.append(f"(7) {name} contains a formula element")
        wb = openpyxl.load_workbook(path, read_only=True)
    except Exception as exc:  # the proof reports it; any failure to read is a breach
        return [f"(7) the workbook {path} does not read back: {type(exc).__name__}: {exc}"]
    try:
        problems += _check_rows_sheet(wb["Rows"], rows)
        problems += _check_summary_sheet(wb["Summary"], rows)
        not_paid = sum(1 for r in rows if r.state not in PAID_STATES)
        listed = sum(1 for _ in wb["Exceptions"].iter_rows(min_row=2, values_only=True))
        if listed != not_paid:
            problems.append(f"(7) Exceptions lists {listed} rows; {not_paid} are not paid")
    finally:
        wb.close()
    return problems


def _as_decimal(value: Any) -> Decimal | None:
    if value is None or value == "":
        return None
    if isinstance(value, str):
        return Decimal(value.replace(",", ""))
    return Decimal(str(value))


def _values(ws: Any, problems: list[str]) -> list[tuple[Any, ...]]:
    """Every line of ``ws`` as values, noting any cell openpyxl reads as a formula."""
    out: list[tuple[Any, ...]] = []
    for line in ws.iter_rows():
        for cell in line:
            if getattr(cell, "data_type", None) == "f":
                problems.append(f"(7) formula cell {ws.title}!{cell.coordinate}")
        out.append(tuple(cell.value for cell in line))
    return out


def _check_rows_sheet(ws: Any, rows: Sequence[RowRecord]) -> list[str]:
    problems: list[str] = []
    lines = iter(_values(ws, problems))
    heads = list(next(lines))
    col = {h: heads.index(h) for h in ("Row", "Reference", "Amount", "Status", "Status class")}
    seen: dict[int, tuple[Any, ...]] = {}
    for line in lines:
        seen[int(line[col["Row"]])] = line
    if len(seen) != len(rows):
        problems.append(f"(7) Rows sheet has {len(seen)} rows; the journal has {len(rows)}")
    for r in rows:
        line = seen.get(r.row_number)
        if line is None:
            problems.append(f"(7) row {r.row_number} missing from the Rows sheet")
            continue
        shown = (line[col["Reference"]], line[col["Status"]], line[col["Status class"]])
        want = (r.reference, r.state, classify(r.state).value)
        if shown != want:
            problems.append(f"(7) Rows sheet row {r.row_number} shows {shown}, journal {want}")
        amount = _as_decimal(line[col["Amount"]])
        if r.amount_minor is not None and amount != Decimal(r.amount_minor).scaleb(-2):
            problems.append(
                f"(7) Rows sheet row {r.row_number} amount {amount} ≠ journal {r.amount_minor}"
            )
        if r.state in MAY_BE_PAID and line[col["Status class"]] == StatusClass.PAID.value:
            problems.append(f"(5) workbook shows {r.state} row {r.row_number} as paid")
    return problems


def _check_summary_sheet(ws: Any, rows: Sequence[RowRecord]) -> list[str]:
    problems: list[str] = []
    lines = _values(ws, problems)
    by_label = {line[0]: line for line in lines if line and isinstance(line[0], str)}
    paid = [r for r in rows if r.state in PAID_STATES]
    checks = {
        "Confirmed paid": (len(paid), sum(r.amount_minor or 0 for r in paid)),
        "All rows": (len(rows), sum(r.amount_minor or 0 for r in rows)),
    }
    for label, (count, minor) in checks.items():
        line = by_label.get(label)
        if line is None:
            problems.append(f"(7) Summary has no {label!r} line")
            continue
        shown_count = line[2]
        shown_amount = _as_decimal(line[3]) if len(line) > 3 else None
        if shown_count != count or (shown_amount or Decimal(0)) != Decimal(minor).scaleb(-2):
            problems.append(
                f"(7) Summary {label!r} shows {shown_count} rows / {shown_amount}; "
                f"journal {count} rows / {Decimal(minor).scaleb(-2)}"
            )
    # The per-status block: each state's row count as the journal has it.
    states = Counter(r.state for r in rows)
    shown_states = {
        line[0]: line[2]
        for line in lines
        if line and line[0] in states and len(line) > 2 and line[1] is not None
    }
    if shown_states != dict(states):
        problems.append(f"(7) Summary by status {shown_states} ≠ journal {dict(states)}")
    return problems


# --- kill -9 ----------------------------------------------------------------------------------


def cli_env(
    url: str,
    ledger_path: Path | str,
    home: Path,
    *,
    secret_key: str | None = None,
    extra: Mapping[str, str] | None = None,
) -> dict[str, str]:
    """The environment of a ``python -m batchpay`` subprocess pointed at an emulator."""
    env = {
        k: v
        for k, v in os.environ.items()
        if not k.startswith("BATCHPAY_") and k != "PANDERA_VALIDATION_ENABLED"
    }
    env.update(
        BATCHPAY_ENV="emulator",
        BATCHPAY_BASE_URL=url,
        BATCHPAY_LEDGER=str(ledger_path),
        BATCHPAY_HOME=str(home),
        BATCHPAY_CLIENT_ID=EMULATOR_CLIENT_ID,
        BATCHPAY_SECRET_KEY=secret_key or EMULATOR_SECRET_KEY,
        PYTHONPATH=str(REPO) + os.pathsep + env.get("PYTHONPATH", ""),
    )
    env.update(extra or {})
    return env


def batchpay_cmd(*args: str) -> list[str]:
    return [sys.executable, "-m", "batchpay", *args]


@dataclass
class Kill9Result:
    k: int
    run_id: str | None
    seconds: float
    executed_at_kill: int
    resume_exit: int | None
    failure: str | None = None  # None = every invariant held


class ExitedBeforeHold(RuntimeError):
    """The subprocess ended before the emulator held an answer (it never got to row k)."""


def kill_when_held(
    args: Sequence[str],
    *,
    env: Mapping[str, str],
    cwd: Path,
    admin: Any,
    op: str,
    timeout: float = 60.0,
) -> int:
    """Start ``batchpay ARGS`` in a subprocess, SIGKILL it as soon as the emulator holds an
    answer (a queued ``hold-after`` fired: executed, response not sent), then release the
    hold. Returns how many ``op`` executions the gateway had at the moment of the kill."""
    proc = subprocess.Popen(
        batchpay_cmd(*args), env=dict(env), cwd=cwd, stdout=subprocess.PIPE, stderr=subprocess.PIPE
    )
    try:
        deadline = time.monotonic() + timeout
        while admin.health()["held"] < 1:
            if proc.poll() is not None:
                out, err = proc.communicate()
                raise ExitedBeforeHold(
                    f"batchpay {args[0]} exited {proc.returncode} before "
                    f"the hold: {out.decode()[-400:]} {err.decode()[-400:]}"
                )
            if time.monotonic() > deadline:
                raise TimeoutError(f"the emulator never held an answer of batchpay {args[0]}")
            # Not faster: this process also serves the emulator the subprocess talks to.
            time.sleep(0.02)
        executed: int = admin.executed(op)["count"]
        proc.send_signal(signal.SIGKILL)
        proc.wait(timeout=10)
        return executed
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
        for stream in (proc.stdout, proc.stderr):
            if stream is not None:
                stream.close()
        admin.release()


def kill9_cycle(
    *,
    admin: Any,
    url: str,
    workdir: Path,
    sheet: Path,
    input_rows: Sequence[Mapping[str, str]],
    k: int,
    op: str,
    fund: Callable[[], None] | None = None,
    concurrency: int = 1,
    timeout: float = 60.0,
    ledger: str | None = None,
) -> Kill9Result:
    """One cycle: reset the emulator, `batchpay run` the sheet (concurrency 1) in a
    subprocess, hold the response to the k-th execution of ``op``, SIGKILL the run as soon as
    the emulator has executed it, release the hold, `batchpay resume` in a subprocess, and
    check every invariant (journal = gateway, workbook = journal, nothing twice, nothing
    lost). With ``concurrency`` > 1 the other workers keep sending while the k-th answer is
    held, so several rows may be caught SENDING. Never raises for a broken invariant: the
    failure is in the result. ``ledger``: a PostgreSQL URL to journal in (default: a
    SQLite file in ``workdir``)."""
    started = time.monotonic()
    workdir.mkdir(parents=True, exist_ok=True)
    ledger_path: Path | str = ledger or workdir / "ledger.sqlite"
    workbook = workdir / "reconciliation.xlsx"
    env = cli_env(url, ledger_path, workdir / "home")
    admin.reset()
    admin.release()
    if fund is not None:
        fund()
    admin.queue_fault("hold-after", op=op, nth=k)
    run_id: str | None = None
    executed_at_kill = -1
    resume_exit: int | None = None
    try:
        executed_at_kill = kill_when_held(
            ("run", str(sheet), "--concurrency", str(concurrency), "--quiet"),
            env=env,
            cwd=workdir,
            admin=admin,
            op=op,
            timeout=timeout,
        )
        if executed_at_kill < k or (concurrency == 1 and executed_at_kill != k):
            raise InvariantError(f"killed with {executed_at_kill} executed, expected {k}")
        ledger = open_journal(ledger_path)
        runs = ledger.runs()
        if len(runs) != 1:
            raise InvariantError(f"expected one run in the journal, found {len(runs)}")
        run_id = runs[0].run_id
        killed_rows = ledger.rows(run_id)
        if concurrency == 1:
            check_killed_journal(killed_rows, k)
        elif not any(r.state == State.SENDING for r in killed_rows):
            raise InvariantError("no row SENDING after kill -9 with an answer held")
        resumed = subprocess.run(
            batchpay_cmd("resume", run_id, "--quiet", "--report", str(workbook)),
            env=env,
            cwd=workdir,
            capture_output=True,
            text=True,
            timeout=timeout,
        )
        resume_exit = resumed.returncode
        if resume_exit != 0:
            raise InvariantError(
                f"resume exited {resume_exit}: {resumed.stdout[-600:]} {resumed.stderr[-600:]}"
            )
        proof = assert_invariants(ledger_path, run_id, admin, input_rows, workbook)
        if proof.executed != len(input_rows):
            raise InvariantError(f"{proof.executed} of {len(input_rows)} rows executed")
    except (InvariantError, ExitedBeforeHold, subprocess.TimeoutExpired) as exc:
        return Kill9Result(
            k, run_id, time.monotonic() - started, executed_at_kill, resume_exit, str(exc)
        )
    return Kill9Result(k, run_id, time.monotonic() - started, executed_at_kill, resume_exit)


def check_killed_journal(rows: Sequence[RowRecord], k: int) -> None:
    """The journal a kill -9 right after the k-th execution (concurrency 1) must leave.

    The k-th row is SENDING (committed before the socket write, docs/safety.md). While its
    request is on the wire the worker journals, in one transaction, the outcome of row k-1
    (held back) and the SENDING intent of row k+1 (taken ahead, runs/engine.py
    ``send_intent``). The kill may come before or after that commit, so either rows 1..k-1
    are accepted and row k+1 is SENDING, or rows 1..k-2 are accepted, row k-1 is still
    SENDING and row k+1 is PLANNED. Every later row is PLANNED — nothing else, nothing lost."""
    got = [r.state for r in sorted(rows, key=lambda r: r.row_number)]
    problems = []
    before = got[: max(k - 2, 0)]
    if any(s not in ACCEPTED_STATES for s in before):
        problems.append(f"rows before the (k-1)-th are {Counter(before)}, not all accepted")
    if k <= len(got) and got[k - 1] != State.SENDING:
        problems.append(f"the k-th row is {got[k - 1]}, not SENDING")
    previous = got[k - 2] if k >= 2 else None
    following = got[k] if k < len(got) else None
    committed = previous is None or previous in ACCEPTED_STATES
    if previous is not None and not committed and previous != State.SENDING:
        problems.append(f"row k-1 is {previous}, neither accepted nor SENDING")
    expected_next = {State.SENDING} if committed and previous is not None else {State.PLANNED}
    if k == 1:
        expected_next = {State.SENDING, State.PLANNED}  # the kill may beat the intent's commit
    if following is not None and following not in expected_next:
        problems.append(
            f"row k+1 is {following} with row k-1 {previous}: the outcome of k-1 and the "
            "intent of k+1 are one commit"
        )
    if any(s != State.PLANNED for s in got[k + 1 :]):
        problems.append(f"rows after the (k+1)-th are {Counter(got[k + 1 :])}, not all PLANNED")
    if problems:
        raise InvariantError(f"journal after kill -9 at k={k}: " + "; ".join(problems))


def spread(n: int, total: int) -> list[int]:
    """``n`` values of k spread evenly over 1..total, always including 1 and total."""
    if n >= total:
        return list(range(1, total + 1))
    return sorted({1 + round(i * (total - 1) / (n - 1)) for i in range(n)})
