"""Runs: plan → journal → send → journal, and the service every surface calls.

    plan.py         validated sheet → Plan (exact bodies, totals), PlannedRows
    checks.py       before the first send: repeats, balances, expected total, input SHA-256
    engine.py       the one worker pool: stop/halt, rate limit, journaling a row's changes
    settle.py       what a worker does with one row it sends (look-up, send, outcome)
    execute.py      create_run, execute, resume, dry_run, RunResult
    follow.py       status look-ups (refresh_statuses) and polling
    retry.py        retry-failed: plan_retry, create_retry_run, retry_failed
    paths.py        the one workbook-path policy
    options.py      typed options (frozen dataclasses)
    progress.py     the progress callback protocol
    environment.py  which settings and journal a call uses (a run's own environment)
    service.py      prepare / start / resume / retry_failed / follow / report / list_runs

Layers: this package imports the journal, doku, validation, reconcile and workbook packages
and the core; nothing below imports it, and it imports no surface (``batchpay.cli``).
"""

from batchpay.runs.execute import RunResult, create_run, dry_run, execute, resume
from batchpay.runs.follow import STATUS_CHANGED_AFTER_COMPLETION, is_settled, refresh_statuses
from batchpay.runs.options import EngineOptions
from batchpay.runs.paths import workbook_path, write_workbook
from batchpay.runs.retry import RetryPlan, create_retry_run, plan_retry, retry_failed

__all__ = [
    "STATUS_CHANGED_AFTER_COMPLETION",
    "EngineOptions",
    "RetryPlan",
    "RunResult",
    "create_retry_run",
    "create_run",
    "dry_run",
    "execute",
    "is_settled",
    "plan_retry",
    "refresh_statuses",
    "resume",
    "retry_failed",
    "workbook_path",
    "write_workbook",
]
