"""Header matching: sheet headers → a kind's fields (aliases, ``--map``), and kind detection.

(Matching functions: foundation/loader work.)
"""

from __future__ import annotations

from dataclasses import dataclass, field

import pandas as pd

from batchpay.kinds import Kind
from batchpay.problems import Problem
from batchpay.sheet import RawSheet


@dataclass
class Table:
    source: RawSheet
    kind: Kind
    # index = Excel row numbers; columns = every field of the kind (missing optional = ''),
    # then extra columns under their original header; all values str.
    frame: pd.DataFrame
    field_headers: dict[str, str]  # field name -> header as written in the sheet
    extra_columns: list[str] = field(default_factory=list)
    problems: list[Problem] = field(default_factory=list)
