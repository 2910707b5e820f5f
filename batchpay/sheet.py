"""CSV/XLSX → a frame of strings plus the row numbers the user sees in Excel.

Knows file formats, not payments. (Loading functions: foundation/loader work.)
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

import pandas as pd

from batchpay.problems import Problem


@dataclass
class RawSheet:
    path: Path
    sheet_name: str | None  # None for CSV
    headers: list[str]  # header cells as text, in order, made unique ("Name", "Name (2)")
    frame: pd.DataFrame  # one column per header, every cell a str ('' when empty)
    row_numbers: list[int]  # Excel row number of each frame row
    problems: list[Problem] = field(default_factory=list)  # column = the header text
    sha256: str = ""
    header_row: int = 1
