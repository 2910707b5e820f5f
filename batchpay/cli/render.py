"""Terminal rendering of runs: the plan, the progress bar, the one-screen summary, and the
exit code. Text only; no journal writes.

Exit codes (architecture.md; the CLI raises DokuAuthError → 3 itself):

* **0** — every row is successfully terminal (COMPLETED/SUCCESS/CREATED), or, for Payout
  Links, accepted and progressing (PENDING … CONFIRMED: DOKU has the link, the receiver has
  not finished) with nothing failed or unresolved; a dry run with every row NOT_SENT.
* **1** — anything else: a row REJECTED/FAILED/EXPIRED, UNKNOWN/SENDING (unresolved),
  PLANNED (not sent: stopped early).
* **130** — interrupted by Ctrl-C, **143** by SIGTERM, **129** by SIGHUP (128 + the signal's
  number, as a shell reports it; the rows in flight were settled and journaled, the workbook
  written and the resume hint printed).
"""

from __future__ import annotations

import os
import shutil
import sys
import threading
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import IO, Any

import click

from batchpay.cli.exits import EXIT_OK as EXIT_OK
from batchpay.cli.exits import EXIT_PROBLEMS as EXIT_PROBLEMS
from batchpay.cli.exits import EXIT_SIGNALS as EXIT_SIGNALS
from batchpay.doku.products import product_of
from batchpay.journal import DUPLICATE_REFERENCE, RowRecord, RunRecord
from batchpay.kinds import KINDS
from batchpay.money import format_minor
from batchpay.reconcile import (
    RETRY_CANDIDATE_STATES,
    StatusClass,
    changed_after_completion,
    classify,
    is_retryable,
    summarise,
)
from batchpay.runs.plan import Plan
from batchpay.states import PROGRESS, State

# The exit codes are one table (batchpay.cli.exits); the signals that stop a run cleanly
# (:mod:`batchpay.cli.signals`) map to 130 / 143 / 129 there.
EXIT_INTERRUPTED = EXIT_SIGNALS["SIGINT"]

BANNERS = {
    "emulator": "EMULATOR — local DOKU emulator, NO REAL MONEY MOVES",
    "sandbox": "SANDBOX — DOKU test environment, NO REAL MONEY MOVES",
    "production": "PRODUCTION — DOKU production, REAL MONEY",
}
# Lists in the summary stop here; the workbook and --json have every row.
LISTED = 20


def banner(env: str, *, stars: bool = True, text: str | None = None) -> str:
    """The environment's banner (or ``text``), red and bold. click.echo drops the colour
    when the stream is not a terminal; NO_COLOR (https://no-color.org) drops it everywhere."""
    text = text or BANNERS.get(env, env.upper())
    text = f"*** {text} ***" if stars else f"({text})"
    if os.environ.get("NO_COLOR"):
        return text
    return click.style(text, fg="red", bold=True)


def exit_code(
    rows: Sequence[RowRecord],
    *,
    kind: str,
    dry_run: bool = False,
    interrupted: bool = False,
    signal_name: str = "SIGINT",
) -> int:
    """The exit code policy above, from the journal's rows. Only a Payout Link can be
    "accepted and progressing": a Sub Account movement DOKU accepted without SUCCESS is
    not paid and has no status to follow, so it is a problem (exit 1). ``signal_name`` is
    the signal that interrupted the run (SIGINT = Ctrl-C, SIGTERM, SIGHUP)."""
    if interrupted:
        return EXIT_SIGNALS.get(signal_name, EXIT_INTERRUPTED)
    # Only a product with a status look-up has accepted rows that are still progressing.
    the_kind = KINDS.get(kind)
    links = the_kind is not None and product_of(the_kind).status_lookup is not None
    for row in rows:
        if dry_run and row.state == State.NOT_SENT:
            continue
        klass = classify(row.state)
        if klass is StatusClass.PAID:
            continue
        if links and klass is StatusClass.PROGRESSING and row.state in PROGRESS:
            continue
        return EXIT_PROBLEMS
    return EXIT_OK


def plan_lines(the_plan: Plan, *, dry_run: bool = False) -> list[str]:
    """The plan as printed before anything is sent."""
    kind = the_plan.kind
    lines = [
        banner(the_plan.env),
        f"Plan{' (DRY RUN: nothing will be sent)' if dry_run else ''}: {kind.name} — {kind.title}",
        f"  file:  {the_plan.input_path.name} (sha256 {the_plan.input_sha256[:16]}…)",
        f"  rows:  {the_plan.count}",
    ]
    for currency, minor in sorted(the_plan.totals.items()):
        lines.append(f"  total: {format_minor(minor, currency)}")
    if the_plan.by_source:
        lines.append("  per source Sub Account:")
        for account, minor in sorted(the_plan.by_source.items()):
            lines.append(f"    {account}: {format_minor(minor, 'IDR')}")
    return lines


def summary_lines(
    run: RunRecord,
    rows: Sequence[RowRecord],
    *,
    workbook: Path | None,
    sends: int | None = None,
    halt_message: str | None = None,
) -> list[str]:
    """One screen: counts and amounts per status, where the workbook is, what to do next."""
    summary = summarise(rows)
    lines = [
        banner(run.env),
        f"Run {run.run_id} ({run.kind}{', dry run' if run.dry_run else ''}) — "
        f"{summary.rows} rows" + (f", {sends} request(s) sent now" if sends is not None else ""),
    ]
    width = max((len(s) for s in summary.states()), default=8)
    for state in summary.states():
        bucket = summary.by_state[state]
        amounts = ", ".join(format_minor(m, c) for c, m in sorted(bucket.amounts.items()))
        lines.append(f"  {state:<{width}}  {bucket.count:>6}  {amounts}".rstrip())
    changed = sum(1 for r in rows if changed_after_completion(r))
    if changed:
        lines.append(
            f"  Changed after completion: {changed} row(s) — DOKU changed a final "
            "status (see the Exceptions sheet)"
        )
    lines += reason_lines(rows) + account_lines(run, rows)
    if halt_message:
        lines.append(f"Stopped early: {halt_message}")
    if workbook is not None:
        lines.append(f"Reconciliation workbook: {workbook}")
    lines += next_steps(run, rows)
    if run.env != "production":
        lines.append(banner(run.env, stars=False))
    return lines


@dataclass(frozen=True)
class Reason:
    """Why some rows were not paid: their state, DOKU's (or batchpay's) code, how many rows,
    and one of their messages as an example."""

    state: str
    code: str | None
    count: int
    message: str


def reasons(rows: Sequence[RowRecord]) -> list[Reason]:
    """Rows not paid (failed or unknown), grouped by state and code — or by message when a
    row has no code — the most frequent first."""
    groups: dict[tuple[str, str, str], list[Any]] = {}
    for r in rows:
        if classify(r.state) not in (StatusClass.FAILED, StatusClass.UNKNOWN):
            continue
        message = (r.message or r.doku_status or "").strip()
        entry = groups.setdefault((r.state, r.code or "", "" if r.code else message), [0, message])
        entry[0] += 1
    found = [Reason(s, c or None, n, m) for (s, c, _), (n, m) in groups.items()]
    return sorted(found, key=lambda x: (-x.count, x.state, x.code or "", x.message))


def reason_lines(rows: Sequence[RowRecord]) -> list[str]:
    """ "Not paid, by reason": one line per reason with its count."""
    found = reasons(rows)
    if not found:
        return []
    lines = ["Not paid, by reason:"]
    for x in found[:LISTED]:
        text = x.message if len(x.message) <= 110 else x.message[:109] + "…"
        what = f"{x.code}: {text}" if x.code and text and x.code not in text else text or x.code
        lines.append(f"  {x.count:>5} × {x.state:<9} {what or ''}".rstrip())
    if len(found) > LISTED:
        lines.append(f"  … and {len(found) - LISTED} more reasons (see the Exceptions sheet)")
    return lines


def new_accounts(run: RunRecord, rows: Sequence[RowRecord]) -> list[tuple[RowRecord, str]]:
    """The Sub Accounts an account-creation run created, with their new ids."""
    if run.kind != "sub-account-create":
        return []
    return [(r, r.doku_ids["account_id"]) for r in rows if r.doku_ids.get("account_id")]


def account_lines(run: RunRecord, rows: Sequence[RowRecord]) -> list[str]:
    """The new account ids (an account-creation run's whole point)."""
    created = new_accounts(run, rows)
    if not created:
        return []
    lines = [f"New Sub Accounts ({len(created)}):"]
    width = max(len(r.reference) for r, _ in created[:LISTED])
    for r, account in created[:LISTED]:
        lines.append(f"  row {r.row_number:<5} {r.reference:<{width}}  {account}  {r.state}")
    if len(created) > LISTED:
        lines.append(f"  … and {len(created) - LISTED} more (in the workbook, and with --json)")
    return lines


def next_steps(run: RunRecord, rows: Sequence[RowRecord]) -> list[str]:
    states = Counter(r.state for r in rows)
    steps: list[str] = []
    open_rows = states[State.PLANNED] + states[State.SENDING] + states[State.UNKNOWN]
    if open_rows and not run.dry_run:
        unknown = states[State.SENDING] + states[State.UNKNOWN]
        what = f"{open_rows} row(s) not finished"
        if unknown:
            what += (
                f", {unknown} of them UNKNOWN — they may have been paid: do NOT pay them "
                "another way"
            )
        steps.append(f"Next: {what}. Continue with `batchpay resume {run.run_id}`.")
    if any(states[s] for s in PROGRESS):
        steps.append(
            f"Next: links are with the receivers; follow them with "
            f"`batchpay status {run.run_id} --until-final`."
        )
    duplicates = sum(
        1
        for r in rows
        if r.state in (State.SENDING, State.UNKNOWN) and _code_says(r, DUPLICATE_REFERENCE)
    )
    if duplicates:
        steps.append(
            f"Next: {duplicates} row(s) have a reference DOKU already holds "
            "(DUPLICATE_REFERENCE): another run or journal may have paid them. Check "
            "DOKU's back office before doing anything; do NOT pay them again."
        )
    candidates = [r for r in rows if r.state in RETRY_CANDIDATE_STATES]
    retryable = sum(1 for r in candidates if is_retryable(r))
    if retryable:
        steps.append(
            f"Next: {retryable} row(s) failed or were rejected; fix the cause, then "
            f"`batchpay retry-failed {run.run_id}`."
        )
    if len(candidates) > retryable:
        steps.append(
            f"Next: {len(candidates) - retryable} failed row(s) must NOT be retried "
            "automatically (DOKU may have executed them, or changed their status "
            "after completion): check DOKU's back office; the Exceptions sheet says "
            "why for each."
        )
    changed = [r for r in rows if changed_after_completion(r)]
    if changed:
        steps.append(
            f"Next: {len(changed)} row(s) changed after completion; check them with "
            "DOKU before paying anything again."
        )
    if run.dry_run:
        steps.append("Dry run: nothing was sent. Run again without --dry-run to pay.")
    return steps


def _code_says(row: RowRecord, code: str) -> bool:
    return row.code == code or (row.code is None and code in (row.message or ""))


class BarProgress:
    """A tqdm bar: rows done, counts by outcome, amount accepted. Silent unless the stream
    is a terminal (and not ``--quiet``), so logs and CI output stay clean."""

    def __init__(
        self,
        total: int,
        *,
        stream: IO[str] | None = None,
        quiet: bool = False,
        desc: str = "Sending",
    ) -> None:
        from tqdm import tqdm

        out = stream or sys.stderr
        self.enabled = not quiet and hasattr(out, "isatty") and out.isatty()
        self._lock = threading.Lock()
        self._counts: Counter[str] = Counter()
        self._accepted_minor = 0
        # A pseudo-terminal that reports 0 columns (CI, `script`) would get an empty bar.
        sized = shutil.get_terminal_size((0, 0)).columns > 0
        self._bar: Any = (
            tqdm(
                total=total,
                desc=desc,
                unit="row",
                file=out,
                leave=True,
                dynamic_ncols=sized,
                ncols=None if sized else 100,
            )
            if self.enabled
            else None
        )

    def row_done(self, row: RowRecord, state: str) -> None:
        with self._lock:
            klass = classify(state)
            self._counts[klass.value] += 1
            if klass in (StatusClass.PAID, StatusClass.PROGRESSING) and row.amount_minor:
                self._accepted_minor += row.amount_minor
            if self._bar is not None:
                postfix = ", ".join(f"{k} {v}" for k, v in sorted(self._counts.items()))
                self._bar.set_postfix_str(
                    f"{postfix}, accepted {format_minor(self._accepted_minor)}", refresh=False
                )
                self._bar.update(1)

    def close(self) -> None:
        if self._bar is not None:
            self._bar.close()


def runs_lines(listed: Sequence[tuple[RunRecord, Sequence[RowRecord]]]) -> list[str]:
    """``batchpay runs``: one line per run, then its amounts by status."""
    from datetime import datetime

    from batchpay.journal import WIB

    header = f"{'RUN ID':<21} {'STARTED (WIB)':<16} {'KIND':<20} {'ENV':<10} {'ROWS':>5}  FILE"
    lines = [header]
    for run, rows in listed:
        summary = summarise(rows)
        started = datetime.fromisoformat(run.created_at).astimezone(WIB)
        tag = (
            " (dry run)"
            if run.dry_run
            else (f" (retry of {run.parent_run_id})" if run.parent_run_id else "")
        )
        if run.status != "OPEN":  # maker–checker (runs/approval.py): AWAITING_APPROVAL …
            from batchpay.journal import utc_now
            from batchpay.runs.approval import effective_status

            tag += f" [{effective_status(run, utc_now())}]"
        lines.append(
            f"{run.run_id:<21} {started:%Y-%m-%d %H:%M} {run.kind:<20} {run.env:<10} "
            f"{summary.rows:>5}  {run.input_name}{tag}"
        )
        for state in summary.states():
            bucket = summary.by_state[state]
            amounts = ", ".join(format_minor(m, c) for c, m in sorted(bucket.amounts.items()))
            lines.append(f"{'':<21}   {state:<18} {bucket.count:>5}  {amounts}".rstrip())
    return lines
