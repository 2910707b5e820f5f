"""Benchmark: `batchpay validate` vs merely reading the file (issues 5 and 12).

A generated payout-link bonus sheet (benchmarks/datagen.py: realistic names, phones in the
shapes people type, formatted amounts, ~1% bad rows) as a 1,000,000-row CSV and a
100,000-row XLSX.

* the real command, ``batchpay validate FILE``, run as a user runs it — a fresh process
  (interpreter start and imports included), the terminal summary and the report workbook
  written (for sheets this size the report lists the rows with problems; Excel cannot hold
  a million-row copy anyway). Wall time from fork to exit; peak RSS of that process
  (``wait4``).
* the library alone, in this (warm) process: ``batchpay.validate.validate_file(path)`` —
  load, normalise, check, problems — the part that competes with a parser.

Baselines:

* ``pyarrow.csv.read_csv`` of the CSV with every column as text, in this process — the
  parse itself, the real floor (issue 12): in-process validate ÷ it, target ≤ 8;
* a fresh process that imports pandas and runs ``pd.read_csv(path, dtype=str,
  keep_default_na=False)`` — what a user would otherwise wait for: whole validate process ÷
  it, target ≤ 1.5 (issue 12);
* ``pd.read_csv(path, dtype=str, keep_default_na=False)`` in this process: validate process
  ÷ it, target ≤ 3.0 (issue 5);
* python-calamine loading the XLSX sheet's values in this process: validate process ÷ it,
  target ≤ 2.0 (issue 12; issue 5 had 3.0).

Best of ``--repeat`` for every timing (the machine is shared). Peak memory ≤ 1,500 MB for
the 1,000,000-row CSV.

    .venv/bin/python benchmarks/validation_speed.py [--csv-rows 1000000] [--xlsx-rows 100000]
"""

from __future__ import annotations

import argparse
import csv
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from _common import Report, batchpay, run_child, summary_arg
from datagen import write_payout_link_csv, write_payout_link_xlsx

RATIO_TARGET = 3.0  # validate process ÷ in-process pd.read_csv (issue 5)
ARROW_TARGET = 8.0  # in-process validate ÷ in-process pyarrow read (issue 12)
PROCESS_TARGET = 1.5  # validate process ÷ pd.read_csv process (issue 12)
XLSX_TARGET = 2.0  # validate process ÷ calamine (issue 12)
MEMORY_TARGET_MB = 1500.0


def best(fn: Callable[[], object], repeat: int) -> float:
    times = []
    for _ in range(repeat):
        started = time.perf_counter()
        fn()
        times.append(time.perf_counter() - started)
    return min(times)


def read_csv(path: Path) -> object:
    import pandas as pd

    return pd.read_csv(path, dtype=str, keep_default_na=False)


def read_csv_pyarrow(path: Path) -> object:
    import pandas as pd

    return pd.read_csv(path, dtype=str, keep_default_na=False, engine="pyarrow")


def read_csv_arrow(path: Path) -> object:
    """pyarrow's CSV reader, every column as text (as batchpay reads a sheet)."""
    import pyarrow as pa
    import pyarrow.csv as pa_csv

    with path.open(encoding="utf-8") as fh:
        names = next(csv.reader(fh))
    return pa_csv.read_csv(
        path, convert_options=pa_csv.ConvertOptions(column_types=dict.fromkeys(names, pa.string()))
    )


def read_csv_process(path: Path, repeat: int) -> float:
    """A fresh interpreter that imports pandas and reads the CSV as text (best of N)."""
    code = "import sys, pandas as pd; pd.read_csv(sys.argv[1], dtype=str, keep_default_na=False)"
    runs = [run_child([sys.executable, "-c", code, str(path)]) for _ in range(repeat)]
    if any(r.returncode != 0 for r in runs):
        raise SystemExit(f"pd.read_csv process failed:\n{runs[0].stderr[-2000:]}")
    return min(r.seconds for r in runs)


def validate_in_process(path: Path, repeat: int) -> float:
    from batchpay.validate import validate_file

    validate_file(path)  # warm, as the pyarrow baseline is
    return best(lambda: validate_file(path), repeat)


def read_xlsx(path: Path) -> object:
    from python_calamine import CalamineWorkbook

    with CalamineWorkbook.from_path(str(path)) as wb:
        return wb.get_sheet_by_index(0).to_python()


def validate(path: Path, cwd: Path, repeat: int) -> tuple[float, float, str]:
    runs = [run_child(batchpay("validate", str(path)), cwd=cwd) for _ in range(repeat)]
    for r in runs:
        if r.returncode != 1 or "NOT VALID" not in r.stdout:
            raise SystemExit(
                f"validate of {path.name} did not report the bad rows "
                f"(exit {r.returncode}):\n{r.stdout[-2000:]}\n{r.stderr[-2000:]}"
            )
    problems = next(
        (
            line.split()[1]
            for line in runs[0].stdout.splitlines()
            if line.strip().startswith("problems")
        ),
        "?",
    )
    return min(r.seconds for r in runs), max(r.maxrss_mb for r in runs), problems


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--csv-rows", type=int, default=1_000_000)
    parser.add_argument("--xlsx-rows", type=int, default=100_000)
    parser.add_argument("--repeat", type=int, default=2, help="best of N (default 2)")
    summary_arg(parser)
    args = parser.parse_args()
    report = Report(
        "1. validation vs parsing (batchpay validate, fresh process, report workbook written)"
    )
    with tempfile.TemporaryDirectory(prefix="batchpay-bench-validate-") as tmp:
        root = Path(tmp)
        csv_path = write_payout_link_csv(root / "bonus.csv", args.csv_rows)
        xlsx_path = write_payout_link_xlsx(root / "bonus.xlsx", args.xlsx_rows)
        import pandas  # noqa: F401 - imported before timing: the baseline is the read alone
        import python_calamine  # noqa: F401

        read_csv(csv_path)  # warm the page cache and the code
        base_csv = best(lambda: read_csv(csv_path), args.repeat)
        try:
            base_csv_pa: float | None = best(lambda: read_csv_pyarrow(csv_path), args.repeat)
        except ImportError:  # pandas without pyarrow
            base_csv_pa = None
        read_csv_arrow(csv_path)
        base_arrow = best(lambda: read_csv_arrow(csv_path), args.repeat)
        lib_csv = validate_in_process(csv_path, args.repeat)
        base_process = read_csv_process(csv_path, args.repeat)
        ours_csv, rss_csv, problems_csv = validate(csv_path, root, args.repeat)
        base_xlsx = best(lambda: read_xlsx(xlsx_path), args.repeat)
        ours_xlsx, rss_xlsx, problems_xlsx = validate(xlsx_path, root, args.repeat)
        csv_mb = csv_path.stat().st_size / 1e6
        xlsx_mb = xlsx_path.stat().st_size / 1e6

    n_csv, n_xlsx = f"{args.csv_rows:,}", f"{args.xlsx_rows:,}"
    report.add(f"CSV {n_csv} rows ({csv_mb:.0f} MB): pd.read_csv dtype=str", base_csv, "s")
    report.add("  (info) pd.read_csv engine='pyarrow'", base_csv_pa, "s")
    report.add("  pyarrow.csv.read_csv, every column text", base_arrow, "s")
    report.add("  validate_file in this process", lib_csv, "s")
    report.add(
        "  ratio in-process validate ÷ pyarrow read", lib_csv / base_arrow, "×", target=ARROW_TARGET
    )
    report.add("  fresh process: import pandas + read_csv", base_process, "s")
    report.add(f"  batchpay validate ({problems_csv} problems)", ours_csv, "s")
    report.add(
        "  ratio validate process ÷ read_csv process",
        ours_csv / base_process,
        "×",
        target=PROCESS_TARGET,
    )
    report.add("  ratio validate ÷ read_csv", ours_csv / base_csv, "×", target=RATIO_TARGET)
    report.add("  peak memory of validate", rss_csv, "MB", target=MEMORY_TARGET_MB)
    report.add(f"XLSX {n_xlsx} rows ({xlsx_mb:.1f} MB): calamine values", base_xlsx, "s")
    report.add(f"  batchpay validate ({problems_xlsx} problems)", ours_xlsx, "s")
    report.add("  ratio validate ÷ calamine", ours_xlsx / base_xlsx, "×", target=XLSX_TARGET)
    report.add("  peak memory of validate (info)", rss_xlsx, "MB")
    return report.finish(args.summary)


if __name__ == "__main__":
    raise SystemExit(main())
