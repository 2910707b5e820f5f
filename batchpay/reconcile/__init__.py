"""Pure reconciliation: journal records in, tables an accountant can trust out.

No I/O, no clock, no openpyxl: :mod:`batchpay.workbook.reconciliation` turns these tables
into cells. Every rule about what counts as *paid* lives here, so it is tested once.

Status classes (docs/safety.md invariant 5: nothing is shown paid unless DOKU said so)::

    PAID         COMPLETED, SUCCESS, CREATED, ACTIVE          successfully terminal
    PROGRESSING  PENDING … CONFIRMED (Payout Link), ACCEPTED  DOKU accepted it, not paid yet
    FAILED       FAILED, EXPIRED, REJECTED                    terminal failure
    UNKNOWN      UNKNOWN, SENDING, any state we do not know   may or may not have executed
    NOT_SENT     PLANNED, NOT_SENT                            never reached DOKU
    INVALID      INVALID                                      failed validation, never sent

Amounts are exact integers in minor units (amount × 100, as the journal stores them) and
:class:`~decimal.Decimal` in the tables; never floats.

Modules: ``classes`` (status classes), ``retry`` (which rows may be paid again), ``summary``
(counts and totals), ``tables`` (Rows/Events layout), ``exceptions`` (Exceptions sheet and
next actions), ``month`` (one run or several).
"""

from batchpay.reconcile.classes import (
    CLASS_ORDER,
    ENVIRONMENT_BANNERS,
    STATE_ORDER,
    StatusClass,
    classify,
    environment_banner,
    is_accepted,
)
from batchpay.reconcile.exceptions import Attempt, exceptions_table, is_exception, next_action
from batchpay.reconcile.month import (
    Reconciliation,
    RunReport,
    group_rows,
    reconcile,
    reconcile_run_stream,
)
from batchpay.reconcile.retry import (
    RETRY_CANDIDATE_STATES,
    changed_after_completion,
    is_retryable,
    why_not_retryable,
)
from batchpay.reconcile.summary import Bucket, Summary, summarise
from batchpay.reconcile.tables import (
    Column,
    LazyRows,
    Replay,
    Role,
    Table,
    events_table,
    rows_table,
)

__all__ = [
    "CLASS_ORDER",
    "ENVIRONMENT_BANNERS",
    "RETRY_CANDIDATE_STATES",
    "STATE_ORDER",
    "Attempt",
    "Bucket",
    "Column",
    "LazyRows",
    "Reconciliation",
    "Replay",
    "Role",
    "RunReport",
    "StatusClass",
    "Summary",
    "Table",
    "changed_after_completion",
    "classify",
    "environment_banner",
    "events_table",
    "exceptions_table",
    "group_rows",
    "is_accepted",
    "is_exception",
    "is_retryable",
    "next_action",
    "reconcile",
    "reconcile_run_stream",
    "rows_table",
    "summarise",
    "why_not_retryable",
]
