"""The one table from errors to exit codes (README "Exit codes"). The most specific class in
an error's MRO that the table names wins, so a new subclass inherits its parent's code."""

from __future__ import annotations

from batchpay import errors as e

EXIT_OK = 0
EXIT_PROBLEMS = 1  # problems found / rows not paid
EXIT_USAGE = 2  # usage error or unreadable input
EXIT_CONFIG = 3  # configuration or authentication
EXIT_JOURNAL = 4  # the journal cannot be used
EXIT_SIGNALS = {"SIGINT": 130, "SIGTERM": 143, "SIGHUP": 129}

EXIT_CODES: dict[type[e.BatchpayError], int] = {
    e.BatchpayError: EXIT_PROBLEMS,
    e.UsageError: EXIT_USAGE,
    e.InputError: EXIT_USAGE,
    e.ConfigError: EXIT_CONFIG,
    e.RunError: EXIT_PROBLEMS,
    e.InputChanged: EXIT_USAGE,
    e.RunNotFound: EXIT_USAGE,
    e.ApprovalRequired: EXIT_USAGE,
    e.JournalError: EXIT_JOURNAL,
    e.DokuError: EXIT_PROBLEMS,
    e.DokuAuthError: EXIT_CONFIG,
}


def exit_code_for(error: BaseException) -> int:
    """The exit code of ``error`` by :data:`EXIT_CODES` (1 for anything it does not name)."""
    for klass in type(error).__mro__:
        if klass in EXIT_CODES:
            return EXIT_CODES[klass]  # type: ignore[index]
    return EXIT_PROBLEMS
