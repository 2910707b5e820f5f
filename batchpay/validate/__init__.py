"""Table → ValidationResult: normalise every field, run the kind's pandera model, and turn its
failure cases into :class:`~batchpay.problems.Problem` values.

Validation is forced on (``config_context(validation_enabled=True)``, full depth) so neither
``PANDERA_VALIDATION_ENABLED=False`` nor ``PANDERA_VALIDATION_DEPTH=SCHEMA_ONLY`` in the
environment can let a bad sheet through (STYLE.md), and it is always lazy: every problem of
every row is reported, not the first.

* :mod:`~batchpay.validate.table` — the normalisers → check frame → result, invalid cells
  blanked, totals;
* :mod:`~batchpay.validate.failures` — the pandera model run, its failure cases as problems;
* :mod:`~batchpay.validate.footers` — totals, subtotals and sign-off rows: found before
  validation, listed as skipped, totals checked against the rows they cover;
* :mod:`~batchpay.validate.sanity` — warnings about values that read fine but look wrong
  (an amount 1,000× under the median, a phone Excel stored as a number);
* :mod:`~batchpay.validate.result` — :class:`ValidationResult`, :class:`ControlTotal`.
"""

from batchpay.validate.failures import run_model
from batchpay.validate.result import AmountFormat, ControlTotal, ValidationResult
from batchpay.validate.table import validate_file, validate_table

__all__ = [
    "AmountFormat",
    "ControlTotal",
    "ValidationResult",
    "run_model",
    "validate_file",
    "validate_table",
]
