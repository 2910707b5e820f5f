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
next actions), ``payee`` (who a row pays, what happened in plain words), ``times`` (WIB and
UTC), ``month`` (one run), ``monthly`` (a month: money out apart from transfers and account
creations, dry runs apart, one effective outcome per chain of retries), ``effective``
(chains of retries, kinds of money), ``balances`` (Sub Account balance snapshots).
"""

from batchpay.reconcile.balances import (
    AFTER,
    BEFORE,
    SNAPSHOT,
    SNAPSHOT_FAILED,
    AccountBalance,
    account_balances,
    snapshot_detail,
)
from batchpay.reconcile.classes import (
    CLASS_ORDER,
    ENVIRONMENT_BANNERS,
    STATE_ORDER,
    StatusClass,
    classify,
    environment_banner,
    is_accepted,
)
from batchpay.reconcile.effective import Chains, Money, money_of
from batchpay.reconcile.exceptions import Attempt, exceptions_table, is_exception, next_action
from batchpay.reconcile.month import (
    Reconciliation,
    RunReport,
    group_rows,
    reconcile,
    reconcile_run_stream,
)
from batchpay.reconcile.monthly import (
    MonthReconciliation,
    MonthTotals,
    RunLine,
    reconcile_month,
)
from batchpay.reconcile.payee import payee, what_happened
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
from batchpay.reconcile.times import WIB, now_texts, utc, wib

__all__ = [
    "AFTER",
    "BEFORE",
    "CLASS_ORDER",
    "ENVIRONMENT_BANNERS",
    "RETRY_CANDIDATE_STATES",
    "SNAPSHOT",
    "SNAPSHOT_FAILED",
    "STATE_ORDER",
    "WIB",
    "AccountBalance",
    "Attempt",
    "Bucket",
    "Chains",
    "Column",
    "LazyRows",
    "Money",
    "MonthReconciliation",
    "MonthTotals",
    "Reconciliation",
    "Replay",
    "Role",
    "RunLine",
    "RunReport",
    "StatusClass",
    "Summary",
    "Table",
    "account_balances",
    "changed_after_completion",
    "classify",
    "environment_banner",
    "events_table",
    "exceptions_table",
    "group_rows",
    "is_accepted",
    "is_exception",
    "is_retryable",
    "money_of",
    "next_action",
    "now_texts",
    "payee",
    "reconcile",
    "reconcile_month",
    "reconcile_run_stream",
    "rows_table",
    "snapshot_detail",
    "summarise",
    "utc",
    "what_happened",
    "why_not_retryable",
    "wib",
]
