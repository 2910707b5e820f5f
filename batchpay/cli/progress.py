"""The terminal side of :class:`batchpay.runs.progress.Progress`: lines, warnings, the plan,
the tqdm bar, and the signal handling while DOKU is being talked to."""

from __future__ import annotations

import contextlib
import time
from collections import Counter
from collections.abc import Mapping
from typing import TYPE_CHECKING

import click

from batchpay.cli import jsonout
from batchpay.cli.render import BarProgress, banner, plan_lines
from batchpay.cli.signals import StopRequest, abort_hint, ctrl_c_stops
from batchpay.config import redact

if TYPE_CHECKING:
    from batchpay.journal import RowRecord, RunRecord
    from batchpay.runs.plan import Plan


def echo(lines: list[str], *, err: bool = False) -> None:
    """Print lines for the operator (on stderr when the command prints ``--json``)."""
    click.echo(redact("\n".join(lines)), err=err or jsonout.enabled())


class CliProgress:
    """Renders a service call. ``stack`` holds what lives until the command has its result:
    the signal handlers (installed once the run is known, so a second Ctrl-C while the
    workbook is written still exits 130 naming the run) and the bar (closed by :meth:`sent`).
    ``follow``: status look-ups only (the abort message says so)."""

    def __init__(
        self,
        stack: contextlib.ExitStack,
        stop: StopRequest,
        *,
        quiet: bool = False,
        dry_run: bool = False,
        follow: bool = False,
        banner_on_open: bool = False,
    ) -> None:
        self.stack = stack
        self.stop = stop
        self.quiet = quiet or jsonout.enabled()
        self.dry_run = dry_run
        self.follow = follow
        self.banner_on_open = banner_on_open
        self.bar: BarProgress | None = None
        self._handling = False

    def _handle_signals(self, run: RunRecord) -> None:
        if not self._handling:
            self._handling = True
            hint = abort_hint(run.run_id, follow=self.follow)
            self.stack.enter_context(ctrl_c_stops(self.stop, hint))

    def note(self, text: str, *, warning: bool = False) -> None:
        if warning:
            echo([f"warning: {text}"], err=True)
        else:
            echo([text])

    def planned(self, plan: Plan, *, previous: Mapping[int, RowRecord] | None = None) -> None:
        echo(plan_lines(plan, dry_run=self.dry_run))
        if previous is None:
            return
        lines = ["Rows to retry:"]
        for new in plan.rows:
            old = previous[new.row_number]
            ref = (
                new.reference
                if new.reference == old.reference
                else f"{old.reference} → {new.reference}"
            )
            lines.append(
                f"  row {new.row_number}: {ref} (was {old.state}"
                + (f": {old.message}" if old.message else "")
                + ")"
            )
        echo(lines)

    def opened(self, run: RunRecord) -> None:
        if self.banner_on_open:
            echo([banner(run.env)])

    def created(self, run: RunRecord) -> None:
        """Said by the service's note; from now on a signal names the run."""
        self._handle_signals(run)

    def sending(self, run: RunRecord, *, total: int, desc: str) -> None:
        self._handle_signals(run)
        if total:
            self.bar = BarProgress(total, quiet=self.quiet, desc=desc)
            self.stack.callback(self.bar.close)

    def row_done(self, row: RowRecord, state: str) -> None:
        if self.bar is not None:
            self.bar.row_done(row, state)

    def polled(self, rows: list[RowRecord]) -> None:
        counts = Counter(r.state for r in rows)
        echo(
            [time.strftime("%H:%M:%S ") + ", ".join(f"{s} {n}" for s, n in sorted(counts.items()))]
        )

    def sent(self) -> None:
        """The bar ends before the workbook is written; the signal handlers stay."""
        if self.bar is not None:
            self.bar.close()
