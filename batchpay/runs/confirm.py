"""The operator's confirmation before money moves: --expect-total everywhere, and in
production the typed row count and total (or --yes with a matching --expect-total)."""

from __future__ import annotations

from collections.abc import Callable
from enum import StrEnum
from typing import Any

from batchpay.errors import UsageError
from batchpay.runs.checks import check_expected_total, check_row_count
from batchpay.runs.plan import Plan


class Question(StrEnum):
    """What ``confirm`` is asked. ROWS: the row count (answer an int); TOTAL: the total
    amount (answer text); PROCEED: go ahead outside production (answer a bool; a surface
    that declines raises its own abort)."""

    ROWS = "PRODUCTION: type the number of rows to pay"
    TOTAL = "PRODUCTION: type the total amount to pay"
    PROCEED = "proceed"


Confirm = Callable[[Plan, Question], Any]


def confirm_plan(
    the_plan: Plan, *, env: str, yes: bool, expect_total: str | None, confirm: Confirm
) -> None:
    """--expect-total is checked everywhere; production also needs the operator to type the
    row count and total (``confirm``), or ``yes`` together with a matching ``expect_total``."""
    if expect_total is not None:
        check_expected_total(the_plan, expect_total)
    if env != "production":
        return
    if yes:
        if expect_total is None:
            raise UsageError(
                "--yes in production needs --expect-total AMOUNT",
                hint="pass the batch total you expect, e.g. --expect-total 152500000",
            )
        return
    check_row_count(the_plan, confirm(the_plan, Question.ROWS))
    check_expected_total(the_plan, confirm(the_plan, Question.TOTAL))
