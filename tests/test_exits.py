"""The one error → exit-code table (batchpay.cli.exits), as the README's table says."""

from __future__ import annotations

import pytest

from batchpay import errors as e
from batchpay.cli.exits import EXIT_CODES, exit_code_for


@pytest.mark.parametrize(
    ("error", "code"),
    [
        (e.BatchpayError("x"), 1),
        (e.UsageError("x"), 2),
        (e.InputError("x"), 2),
        (e.ConfigError("x"), 3),
        (e.RunError("x"), 1),
        (e.RunLocked("x"), 1),
        (e.InputChanged("x"), 2),
        (e.RunNotFound("x"), 2),
        (e.JournalMissing("x", path="/j"), 4),
        (e.JournalFull("x", path="/j"), 4),
        (e.JournalReadOnly("x", path="/j"), 4),
        (e.JournalCorrupt("x", path="/j"), 4),
        (e.DokuAuthError("x"), 3),
        (e.DokuUnavailable("x"), 1),
        (e.RepeatedReferences([]), 1),
        (e.FaultSpecError("x"), 2),
        (e.BadAdminRequest("x"), 2),
        (e.AdminError("x", url="u", method="GET", path="/"), 1),
        (e.IllegalTransition("x", old_state="COMPLETED", new_state="SENDING"), 1),
    ],
)
def test_exit_code_for_each_error_class(error: e.BatchpayError, code: int) -> None:
    assert exit_code_for(error) == code


def test_exit_codes_table_names_only_error_classes_and_documented_codes() -> None:
    assert set(EXIT_CODES.values()) <= {1, 2, 3, 4}
    assert all(issubclass(k, e.BatchpayError) for k in EXIT_CODES)


def test_errors_carry_data_not_only_prose() -> None:
    err = e.IllegalTransition("no", old_state="COMPLETED", new_state="SENDING")
    assert (err.old_state, err.new_state) == ("COMPLETED", "SENDING")
    assert e.JournalFull("full", path="/x/ledger.sqlite").path.name == "ledger.sqlite"
