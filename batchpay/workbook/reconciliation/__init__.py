"""The reconciliation workbook (Summary, Rows, Exceptions, Events) of a run or a month.

Written with XlsxWriter in constant_memory mode. Modules: ``book`` (the workbook: sheets in
order, atomic save), ``cells`` (formats, safe text, exact amounts, widths), ``tables`` (the
table sheets, measured then written), ``grid`` (a Summary laid out line by line, merged
banners and notes), ``summary`` (a run's Summary, its chart), ``month`` (a month's Summary),
``from_journal`` (read a run or a month from the journal and write its workbook).
What the numbers mean is decided in :mod:`batchpay.reconcile`.
"""

from batchpay.workbook.reconciliation.book import write_reconciliation
from batchpay.workbook.reconciliation.from_journal import (
    JournalReader,
    write_month_report,
    write_run_report,
)
from batchpay.workbook.reconciliation.tables import MAX_WIDTH

__all__ = [
    "MAX_WIDTH",
    "JournalReader",
    "write_month_report",
    "write_reconciliation",
    "write_run_report",
]
