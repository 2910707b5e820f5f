"""``batchpay validate``: terminal summary, exit codes, ``--json``, and the report workbook."""

from __future__ import annotations

import json
import re
import shutil
import subprocess
from pathlib import Path
from typing import Any

import openpyxl
import pytest
from click.testing import CliRunner

from batchpay import cli as cli_module
from batchpay.workbook import PROBLEM_FILL, WARNING_FILL
from batchpay.workbook.validation import default_report_path, write_validation_report

ROOT = Path(__file__).resolve().parents[1]
SAMPLES = ROOT / "samples"
PL_HEADER = (
    "receiver_name,receiver_phone_number,receiver_email,amount,reference_id,"
    "sender_name,department\n"
)


class _Main:
    """Lets CliRunner drive :func:`batchpay.cli.main`, so error → exit-code mapping is tested."""

    name = "batchpay"

    def main(self, args: Any = None, prog_name: str | None = None, **_: Any) -> None:
        cli_module.main(list(args or ()))


def run_cli(*args: str) -> Any:
    return CliRunner().invoke(_Main(), list(args))  # type: ignore[arg-type]


def pl_row(
    n: int,
    *,
    name: str = "Siti Rahayu",
    phone: str = "081234567890",
    email: str | None = None,
    amount: str = "1500000",
    ref: str | None = None,
    dept: str = "Finance",
) -> str:
    email = email if email is not None else f"user{n}@example.co.id"
    ref = ref if ref is not None else f"BONUS-{n:04d}"
    return f"{name},{phone},{email},{amount},{ref},PT Maju Jaya,{dept}\n"


def write_csv(tmp_path: Path, body: str, name: str = "bonus.csv") -> Path:
    path = tmp_path / name
    path.write_text(PL_HEADER + body, encoding="utf-8")
    return path


@pytest.fixture
def in_tmp(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """Run in a scratch directory so the default reports/ folder lands there."""
    monkeypatch.chdir(tmp_path)
    return tmp_path


# --- terminal -----------------------------------------------------------------------------


def test_validate_clean_sample_exits_0_with_one_line_verdict(in_tmp: Path) -> None:
    result = run_cli("validate", str(SAMPLES / "bonus-payout-link.csv"))
    assert result.exit_code == 0, result.output
    assert result.output.splitlines()[0] == "valid: 28 rows, IDR 59,650,000"
    assert (in_tmp / "reports" / "bonus-payout-link-validation.xlsx").is_file()


@pytest.mark.parametrize(
    "name",
    [
        "bonus-payout-link.xlsx",
        "bonus-payout-link-endings.csv",
        "vendor-payouts.csv",
        "sub-account-transfers.csv",
        "new-sub-accounts.csv",
    ],
)
def test_validate_other_clean_samples_exit_0(name: str, in_tmp: Path) -> None:
    result = run_cli("validate", str(SAMPLES / name), "--no-report")
    assert result.exit_code == 0, result.output
    assert result.output.startswith("valid: ")


def test_validate_messy_sample_exits_1_with_summary_and_table(in_tmp: Path) -> None:
    result = run_cli("validate", str(SAMPLES / "messy-bonus.xlsx"))
    assert result.exit_code == 1, result.output
    out = result.output
    assert out.startswith("NOT VALID: ")
    for label in ("rows", "valid rows", "invalid rows", "total", "problems"):
        assert f"\n  {label} " in out
    assert re.search(r"^Row +Column +Value +What's wrong +How to fix$", out, re.M)
    assert "reports/messy-bonus-validation.xlsx" in out
    assert "Traceback" not in out


def test_validate_more_than_20_problems_points_to_report(tmp_path: Path) -> None:
    body = "".join(pl_row(n, amount="-5") for n in range(25))
    path = write_csv(tmp_path, body)
    report = tmp_path / "r.xlsx"
    result = run_cli("validate", str(path), "--report", str(report))
    assert result.exit_code == 1
    assert f"… and 5 more; see the report {report}" in result.output
    # 20 table rows, each starting with its Excel row number (rows 2..21).
    shown = [ln.split()[0] for ln in result.output.splitlines() if ln[:1].isdigit()]
    assert shown == [str(n) for n in range(2, 22)]


def test_validate_warnings_only_exits_0_and_says_so(tmp_path: Path) -> None:
    path = tmp_path / "vendors.csv"
    path.write_text(
        "account_id,amount,invoice_number,bank_code,bank_account_number,"
        "bank_account_name\nSAC-0001-1234567890123,50000,INV-1,ZZZZIDJA,0123456789,"
        "Budi Santoso\n",
        encoding="utf-8",
    )
    result = run_cli("validate", str(path), "--no-report")
    assert result.exit_code == 0, result.output
    assert result.output.startswith("valid: 1 row, IDR 50,000 (1 warning)")
    assert "(warning)" in result.output


def test_validate_amount_format_id_resolves_ambiguous_amount(tmp_path: Path) -> None:
    path = write_csv(tmp_path, pl_row(1, amount="1.500"))
    assert run_cli("validate", str(path), "--no-report").exit_code == 1
    result = run_cli("validate", str(path), "--no-report", "--amount-format", "id")
    assert result.exit_code == 0, result.output
    assert result.output.startswith("valid: 1 row, IDR 1,500")


def test_validate_map_option_maps_unknown_header(tmp_path: Path) -> None:
    path = tmp_path / "m.csv"
    path.write_text(
        "Penerima Bonus,Kontak,email,amount,reference_id,sender_name\n"
        "Siti Rahayu,081234567890,s@example.co.id,1500000,R-1,PT Maju\n",
        encoding="utf-8",
    )
    result = run_cli(
        "validate",
        str(path),
        "--no-report",
        "--kind",
        "payout-link",
        "--map",
        "Penerima Bonus=receiver_name",
        "--map",
        "Kontak=receiver_phone_number",
    )
    assert result.exit_code == 0, result.output


def test_validate_malformed_map_exits_2(tmp_path: Path) -> None:
    path = write_csv(tmp_path, pl_row(1))
    result = run_cli("validate", str(path), "--map", "no equals sign")
    assert result.exit_code == 2
    assert "HEADER=FIELD" in result.output


def test_validate_report_and_no_report_together_exit_2(tmp_path: Path) -> None:
    path = write_csv(tmp_path, pl_row(1))
    result = run_cli("validate", str(path), "--no-report", "--report", str(tmp_path / "r.xlsx"))
    assert result.exit_code == 2


@pytest.mark.parametrize(
    "content,name",
    [
        (b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1" + b"\0" * 600, "old.xlsx"),
        (b"PK\x03\x04 definitely not a zip", "broken.xlsx"),
        (b"", "empty.csv"),
        (b"foo,bar\n1,2\n", "unknown.csv"),
        (b"%PDF-1.4", "scan.pdf"),
    ],
)
def test_validate_unreadable_or_unknown_input_exits_2_in_one_line(
    content: bytes, name: str, tmp_path: Path
) -> None:
    path = tmp_path / name
    path.write_bytes(content)
    result = run_cli("validate", str(path))
    assert result.exit_code == 2, result.output
    assert "Traceback" not in result.output and "internal error" not in result.output
    assert result.output.startswith("error: ")


def test_validate_missing_file_exits_2(tmp_path: Path) -> None:
    result = run_cli("validate", str(tmp_path / "nope.csv"))
    assert result.exit_code == 2


def test_validate_unknown_kind_option_exits_2(tmp_path: Path) -> None:
    path = write_csv(tmp_path, pl_row(1))
    assert run_cli("validate", str(path), "--kind", "payroll").exit_code == 2


def test_validate_help_ends_with_example() -> None:
    result = run_cli("validate", "--help")
    assert result.exit_code == 0
    assert "Example: batchpay validate samples/bonus-payout-link.csv" in result.output


# --- --json -------------------------------------------------------------------------------


def test_validate_json_stdout_is_only_the_result(tmp_path: Path) -> None:
    path = write_csv(tmp_path, pl_row(1) + pl_row(2, email="not-an-email"))
    report = tmp_path / "out" / "r.xlsx"
    result = CliRunner().invoke(
        _Main(),
        [
            "validate",
            str(path),
            "--json",
            "--report",  # type: ignore[arg-type]
            str(report),
        ],
    )
    assert result.exit_code == 1
    data = json.loads(result.stdout)
    assert data["report"] == str(report)
    assert data["ok"] is False
    assert [(p["row"], p["column"]) for p in data["problems"]] == [(3, "receiver_email")]


def test_validate_json_no_report_gives_null_report(tmp_path: Path) -> None:
    path = write_csv(tmp_path, pl_row(1))
    result = run_cli("validate", str(path), "--json", "--no-report")
    assert result.exit_code == 0
    assert json.loads(result.stdout)["report"] is None


# --- the first line, before the libraries load ---------------------------------------------


def test_validate_announces_the_sheet_on_a_terminal_stderr(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from batchpay.cli import startup

    monkeypatch.setattr(startup, "stderr_is_terminal", lambda: True)
    path = write_csv(tmp_path, pl_row(1) + pl_row(2, email="not-an-email"))
    size = path.stat().st_size
    result = run_cli("validate", str(path), "--no-report", "--sheet", "Gaji")
    assert result.exit_code == 1
    assert result.stderr.splitlines()[0] == (f"Checking {path} ({size} bytes, sheet 'Gaji')…")
    assert "Checking" not in result.stdout
    assert result.stdout.startswith("NOT VALID:")


def test_validate_json_on_a_terminal_keeps_stdout_one_document(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from batchpay.cli import startup

    monkeypatch.setattr(startup, "stderr_is_terminal", lambda: True)
    path = write_csv(tmp_path, pl_row(1))
    result = run_cli("validate", str(path), "--json", "--no-report")
    assert result.exit_code == 0
    assert result.stderr.startswith("Checking ")
    assert json.loads(result.stdout)["ok"] is True


def test_validate_says_nothing_extra_when_stderr_is_not_a_terminal(tmp_path: Path) -> None:
    path = write_csv(tmp_path, pl_row(1))
    result = run_cli("validate", str(path), "--no-report")
    assert result.exit_code == 0, result.output
    assert "Checking" not in result.output


def test_validate_missing_file_on_a_terminal_gets_only_the_error(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from batchpay.cli import startup

    monkeypatch.setattr(startup, "stderr_is_terminal", lambda: True)
    result = run_cli("validate", str(tmp_path / "nope.csv"))
    assert result.exit_code == 2
    assert "Checking" not in result.output


@pytest.mark.parametrize(
    ("size", "text"),
    [
        (0, "0 bytes"),
        (1, "1 byte"),
        (999, "999 bytes"),
        (1_000, "1.0 KB"),
        (12_345, "12 KB"),
        (999_499, "999 KB"),
        (999_500, "1.0 MB"),
        (6_924_805, "6.9 MB"),
        (156_590_677, "157 MB"),
        (2_500_000_000, "2.5 GB"),
    ],
)
def test_size_text(size: int, text: str) -> None:
    from batchpay.cli.startup import size_text

    assert size_text(size) == text


def _child_env(tmp_path: Path) -> dict[str, str]:
    """This environment without its BATCHPAY_ settings, with a home of its own."""
    import os

    env = {k: v for k, v in os.environ.items() if not k.startswith("BATCHPAY_")}
    env["BATCHPAY_HOME"] = str(tmp_path / "home")
    return env


def test_validate_first_line_reaches_a_terminal_before_pandas_is_imported(
    tmp_path: Path,
) -> None:
    """A real process, stderr a pseudo-terminal and stdout a pipe (``--json``): the
    ``Checking`` line is on the terminal before any module of pandas has been imported
    (``-X importtime`` writes each import to the same stderr as it finishes), and stdout is
    one document."""
    import os
    import pty
    import sys

    path = write_csv(tmp_path, pl_row(1))
    master, slave = pty.openpty()
    proc = subprocess.Popen(
        [sys.executable, "-X", "importtime", "-m", "batchpay", "validate", str(path), "--json"],
        cwd=tmp_path,
        env=_child_env(tmp_path),
        stdin=subprocess.DEVNULL,
        stdout=subprocess.PIPE,
        stderr=slave,
    )
    os.close(slave)
    terminal = b""
    while True:
        try:
            chunk = os.read(master, 65536)
        except OSError:  # EIO once the process has closed its end
            break
        if not chunk:
            break
        terminal += chunk
    os.close(master)
    stdout, _ = proc.communicate(timeout=60)
    assert proc.returncode == 0
    lines = terminal.decode("utf-8", "replace").splitlines()
    checking = next(i for i, line in enumerate(lines) if line.startswith("Checking "))
    pandas = next(i for i, line in enumerate(lines) if re.search(r"\|\s+pandas\b", line))
    assert checking < pandas
    assert json.loads(stdout)["ok"] is True


def _child(tmp_path: Path, *args: str) -> subprocess.CompletedProcess[str]:
    """``python ARGS`` in ``tmp_path``, in :func:`_child_env`."""
    import sys

    return subprocess.run(
        [sys.executable, *args],
        cwd=tmp_path,
        env=_child_env(tmp_path),
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )


def test_validate_process_leaves_quickly_with_its_verdict_report_and_exit_code(
    tmp_path: Path,
) -> None:
    """``python -m batchpay validate`` (the console script's path) skips the interpreter's
    teardown, yet the verdict is all on stdout, the report is complete and the exit status
    is the command's: 1 for a sheet with a problem, 0 for a clean one."""
    bad = write_csv(tmp_path, pl_row(1) + pl_row(2, amount="abc"))
    report = tmp_path / "r.xlsx"
    done = _child(
        tmp_path, "-m", "batchpay", "validate", str(bad), "--report", str(report), "--json"
    )
    assert done.returncode == 1, done.stderr
    assert json.loads(done.stdout)["ok"] is False
    assert openpyxl.load_workbook(report).sheetnames[:3] == ["Summary", "Rows", "Problems"]
    good = write_csv(tmp_path, pl_row(1), name="good.csv")
    done = _child(tmp_path, "-m", "batchpay", "validate", str(good), "--no-report")
    assert done.returncode == 0 and done.stdout.startswith("valid: 1 row"), done.stdout


def test_quick_exit_waits_for_a_running_thread_and_needs_to_be_allowed(tmp_path: Path) -> None:
    """With a non-daemon thread still running, leaving is the ordinary exit (the thread
    finishes its file); a command that did not allow it exits the ordinary way too; an
    allowed one runs the exit handlers and flushes its output, and skips the teardown."""
    done = _child(
        tmp_path,
        "-c",
        "import threading, time\n"
        "from batchpay.cli.startup import QuickExit\n"
        "def late():\n"
        "    time.sleep(0.3)\n"
        "    open('late.txt', 'w').write('finished')\n"
        "threading.Thread(target=late).start()\n"
        "QuickExit.allow()\n"
        "QuickExit.leave(3)\n",
    )
    assert done.returncode == 3, done.stderr
    assert (tmp_path / "late.txt").read_text() == "finished"
    done = _child(
        tmp_path,
        "-c",
        "import atexit, sys\n"
        "from batchpay.cli.startup import QuickExit\n"
        "class Kept:\n"
        "    def __del__(self):\n"
        "        print('teardown')\n"
        "kept = Kept()\n"
        "atexit.register(lambda: print('handler ran'))\n"
        "try:\n"
        "    QuickExit.leave(4)\n"
        "except SystemExit as exc:\n"
        "    print('ordinary exit', exc.code)\n"
        "QuickExit.allow()\n"
        "sys.stdout.write('unflushed ')\n"
        "QuickExit.leave(5)\n",
    )
    assert done.returncode == 5, done.stderr
    # The exit handler ran and the output was flushed; the teardown (which would free
    # `kept`) did not run.
    assert done.stdout == "ordinary exit 4\nunflushed handler ran\n"
    ordinary = _child(
        tmp_path,
        "-c",
        "class Kept:\n"
        "    def __del__(self):\n"
        "        print('teardown')\n"
        "kept = Kept()\n"
        "raise SystemExit(5)\n",
    )
    assert (ordinary.returncode, ordinary.stdout) == (5, "teardown\n")


# --- report workbook ------------------------------------------------------------------------


def _report(tmp_path: Path, body: str, header: str = PL_HEADER) -> openpyxl.Workbook:
    from batchpay.validate import validate_file

    path = tmp_path / "bonus.csv"
    path.write_text(header + body, encoding="utf-8")
    out = write_validation_report(validate_file(path), tmp_path / "report.xlsx")
    return openpyxl.load_workbook(out)


def _rows(ws: Any) -> list[list[Any]]:
    return [list(r) for r in ws.iter_rows(values_only=True)]


def test_report_default_path_is_reports_stem_validation() -> None:
    assert default_report_path(Path("/x/Bonus Nov.xlsx")) == Path(
        "reports/Bonus Nov-validation.xlsx"
    )


def test_report_sheets_summary_rows_problems_in_order(tmp_path: Path) -> None:
    wb = _report(tmp_path, pl_row(1))
    assert wb.sheetnames == ["Summary", "Rows", "Problems"]
    summary = {r[0]: r[1] for r in _rows(wb["Summary"]) if r and r[0]}
    assert (summary["Kind"], summary["Rows"], summary["Valid rows"]) == ("payout-link", 1, 1)
    assert summary["Total IDR (valid rows)"] == 1500000


def test_report_rows_keep_original_headers_extra_columns_and_row_numbers(tmp_path: Path) -> None:
    ws = _report(tmp_path, pl_row(1) + "\n" + pl_row(2))["Rows"]
    rows = _rows(ws)
    assert rows[0][:2] == ["Row", "Status"]
    assert "department" in rows[0]
    assert [r[0] for r in rows[1:]] == [2, 4]  # the blank CSV line 3 keeps numbering honest
    assert ws.freeze_panes == "C2"
    assert ws.auto_filter.ref == f"A1:{openpyxl.utils.get_column_letter(len(rows[0]))}3"


def test_report_normalised_value_beside_original(tmp_path: Path) -> None:
    rows = _rows(_report(tmp_path, pl_row(1, phone="0812-3456-7890"))["Rows"])
    head = rows[0]
    at = head.index("receiver_phone_number")
    assert head[at + 1] == "receiver_phone_number (normalised)"
    assert rows[1][at : at + 2] == ["0812-3456-7890", "6281234567890"]


def test_report_unchanged_field_gets_no_normalised_column(tmp_path: Path) -> None:
    head = _rows(_report(tmp_path, pl_row(1))["Rows"])[0]
    assert "receiver_name (normalised)" not in head


def test_report_problem_cell_red_with_comment_and_status(tmp_path: Path) -> None:
    ws = _report(tmp_path, pl_row(1) + pl_row(2, email="budi@@example"))["Rows"]
    head = [c.value for c in ws[1]]
    cell = ws.cell(row=3, column=head.index("receiver_email") + 1)
    assert cell.fill.fgColor.rgb.endswith(PROBLEM_FILL.fgColor.rgb[-6:])
    assert cell.comment is not None and "Fix: " in cell.comment.text
    assert ws.cell(row=3, column=2).value == "1 problem"
    assert ws.cell(row=2, column=2).value == "OK"
    assert ws.cell(row=2, column=head.index("receiver_email") + 1).comment is None


def test_report_warning_cell_yellow(tmp_path: Path) -> None:
    header = "account_id,amount,invoice_number,bank_code,bank_account_number,bank_account_name\n"
    wb = _report(
        tmp_path, "SAC-0001-1234567890123,50000,INV-1,ZZZZIDJA,0123456789,Budi Santoso\n", header
    )
    ws = wb["Rows"]
    head = [c.value for c in ws[1]]
    cell = ws.cell(row=2, column=head.index("bank_code") + 1)
    assert cell.fill.fgColor.rgb.endswith(WARNING_FILL.fgColor.rgb[-6:])
    assert ws.cell(row=2, column=2).value == "OK (1 warning)"


def test_report_formula_looking_values_stay_text(tmp_path: Path) -> None:
    wb = _report(tmp_path, pl_row(1, name='"=HYPERLINK(""http://x"",""y"")"', dept="+cmd"))
    for ws in wb.worksheets:
        for row in ws.iter_rows():
            for cell in row:
                assert cell.data_type != "f", (ws.title, cell.coordinate, cell.value)
    values = [v for r in _rows(wb["Rows"]) for v in r]
    assert '=HYPERLINK("http://x","y")' in values and "+cmd" in values


def test_report_identifiers_text_and_amount_numbers_with_thousands(tmp_path: Path) -> None:
    ws = _report(tmp_path, pl_row(1, phone="081234567890", amount="Rp 1.500.000"))["Rows"]
    head = [c.value for c in ws[1]]
    phone = ws.cell(row=2, column=head.index("receiver_phone_number") + 1)
    assert (phone.value, phone.data_type) == ("081234567890", "s")
    amount = ws.cell(row=2, column=head.index("amount (normalised)") + 1)
    assert amount.value == 1500000 and amount.number_format.startswith("#,##0")


def test_report_problems_sheet_lists_every_problem(tmp_path: Path) -> None:
    wb = _report(tmp_path, pl_row(1, ref="DUP") + pl_row(2, ref="DUP"))
    rows = _rows(wb["Problems"])
    assert rows[0] == [
        "Row",
        "Column",
        "Header in sheet",
        "Value",
        "Code",
        "Message",
        "How to fix",
        "Severity",
    ]
    assert [(r[0], r[1]) for r in rows[1:]] == [(2, "reference_id"), (3, "reference_id")]
    assert {r[7] for r in rows[1:]} == {"error"}


def test_report_control_characters_do_not_break_the_workbook(tmp_path: Path) -> None:
    wb = _report(tmp_path, pl_row(1, dept="Fin\x01ance"))
    assert "Fin\ufffdance" in [v for r in _rows(wb["Rows"]) for v in r]


def test_report_written_atomically_over_an_old_one(tmp_path: Path) -> None:
    from batchpay.validate import validate_file

    path = shutil.copy(SAMPLES / "bonus-payout-link.csv", tmp_path / "b.csv")
    target = tmp_path / "r.xlsx"
    target.write_bytes(b"old")
    write_validation_report(validate_file(path), target)
    assert openpyxl.load_workbook(target).sheetnames[0] == "Summary"
    assert [p.name for p in tmp_path.iterdir() if p.name.startswith(".")] == []


def test_report_streamed_rows_keep_text_numbers_and_styles(tmp_path: Path) -> None:
    body = pl_row(1) + pl_row(2, dept=" R&D <Jakarta> ") + pl_row(3, amount="Rp 2.750.000")
    ws = _report(tmp_path, body)["Rows"]
    head = [c.value for c in ws[1]]
    dept = ws.cell(row=3, column=head.index("department") + 1)
    assert (dept.value, dept.data_type) == (" R&D <Jakarta> ", "s")
    amount = ws.cell(row=4, column=head.index("amount (normalised)") + 1)
    assert (amount.value, amount.number_format) == (2750000, "#,##0.00")
    assert [ws.cell(row=r, column=1).value for r in (2, 3, 4)] == [2, 3, 4]


def test_report_problems_sheet_fills_every_severity_cell(tmp_path: Path) -> None:
    header = "account_id,amount,invoice_number,bank_code,bank_account_number,bank_account_name\n"
    body = "".join(
        f"SAC-0001-1234567890123,{amount},INV-{n},{bank},0123456789,Budi Santoso\n"
        for n, (amount, bank) in enumerate(
            [("-1", "CENAIDJA"), ("5", "ZZZZIDJA"), ("-2", "CENAIDJA"), ("7", "YYYYIDJA")]
        )
    )
    ws = _report(tmp_path, body, header)["Problems"]
    fills = [
        (ws.cell(row=r, column=8).value, ws.cell(row=r, column=8).fill.fgColor.rgb[-6:])
        for r in range(2, 6)
    ]
    assert fills == [
        ("error", "FFC7CE"),
        ("warning", "FFEB9C"),
        ("error", "FFC7CE"),
        ("warning", "FFEB9C"),
    ]


def test_report_many_problem_cells_comment_cap_keeps_fill(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from batchpay.workbook import validation as report_module

    monkeypatch.setattr(report_module, "_MAX_COMMENTS", 2)
    wb = _report(tmp_path, "".join(pl_row(n, amount="-1") for n in range(4)))
    ws = wb["Rows"]
    col = [c.value for c in ws[1]].index("amount") + 1
    cells = [ws.cell(row=r, column=col) for r in range(2, 6)]
    assert [c.comment is not None for c in cells] == [True, True, False, False]
    assert all(c.fill.fgColor.rgb.endswith("FFC7CE") for c in cells)
    summary = [v for r in _rows(wb["Summary"]) for v in r if isinstance(v, str)]
    assert any(v.startswith("Comments are on the first 2 of 4") for v in summary)


# --- --set and profiles (issue 10) ----------------------------------------------------------

HR_HEADER = "No,NIK,Nama Lengkap Karyawan,No. HP,Alamat E-mail,Jumlah Bonus\n"
HR_BODY = (
    "1,3201001,Siti Rahayu,081234567890,siti@example.co.id,1.500.000\n"
    "2,3201002,Budi Santoso,081234567891,budi@example.co.id,2.500.000\n"
)
HR_PROFILE = """\
[payout-link]
amount_format = "id"

[payout-link.set]
sender_name = "PT Sinar Abadi"
reference_id = "BNS-2612-{NIK}"
"""


def _hr(folder: Path) -> Path:
    path = folder / "desember.csv"
    path.write_text(HR_HEADER + HR_BODY, encoding="utf-8")
    return path


def test_validate_set_options_make_hr_export_valid(in_tmp: Path) -> None:
    sheet = _hr(in_tmp)
    result = run_cli(
        "validate", str(sheet), "--no-report", "--amount-format", "id",
        "--set", "sender_name=PT Sinar Abadi", "--set", "reference_id=BNS-2612-{NIK}",
    )  # fmt: skip
    assert result.exit_code == 0, result.output
    assert result.output.splitlines()[0] == "valid: 2 rows, IDR 4,000,000"
    assert "set reference_id = 'BNS-2612-{NIK}'" in result.output


def test_validate_set_unknown_placeholder_exits_2_listing_headers(in_tmp: Path) -> None:
    sheet = _hr(in_tmp)
    result = run_cli(
        "validate", str(sheet), "--set", "sender_name=PT", "--set", "reference_id=B-{NIKK}"
    )
    assert result.exit_code == 2
    assert "{NIKK}" in result.output and "'No', 'NIK', 'Nama Lengkap Karyawan'" in result.output
    assert len(result.output.strip().splitlines()) == 1


def test_validate_set_malformed_or_unknown_field_exits_2(in_tmp: Path) -> None:
    sheet = _hr(in_tmp)
    assert run_cli("validate", str(sheet), "--set", "no-equals-sign").exit_code == 2
    result = run_cli("validate", str(sheet), "--set", "sender_name=PT", "--set", "colour=red")
    assert result.exit_code == 2 and "colour" in result.output


def test_validate_profile_in_cwd_needs_no_options(in_tmp: Path) -> None:
    sheet = _hr(in_tmp)
    (in_tmp / "batchpay.toml").write_text(HR_PROFILE, encoding="utf-8")
    result = run_cli("validate", sheet.name, "--no-report")
    assert result.exit_code == 0, result.output
    assert "valid: 2 rows, IDR 4,000,000" in result.output
    assert "profile batchpay.toml [payout-link]" in result.output
    assert run_cli("validate", sheet.name, "--no-report", "--no-profile").exit_code == 2


def test_validate_profile_option_and_json(in_tmp: Path) -> None:
    sheet = _hr(in_tmp)
    profile = in_tmp / "hr.toml"
    profile.write_text(HR_PROFILE, encoding="utf-8")
    result = run_cli("validate", str(sheet), "--no-report", "--json", "--profile", str(profile))
    assert result.exit_code == 0, result.output
    payload = json.loads(result.output)
    assert payload["profile"] == str(profile)
    assert payload["set"]["reference_id"] == "BNS-2612-{NIK}"
    missing = run_cli("validate", str(sheet), "--profile", str(in_tmp / "nope.toml"))
    assert missing.exit_code == 2 and "no such profile" in missing.output


def test_validate_command_line_overrides_profile(in_tmp: Path) -> None:
    sheet = _hr(in_tmp)
    (in_tmp / "batchpay.toml").write_text(HR_PROFILE, encoding="utf-8")
    result = run_cli(
        "validate", sheet.name, "--no-report", "--json", "--amount-format", "en",
        "--set", "reference_id=THR-{NIK}",
    )  # fmt: skip
    payload = json.loads(result.output)
    assert payload["set"] == {"sender_name": "PT Sinar Abadi", "reference_id": "THR-{NIK}"}
    sheet.write_text(HR_HEADER + HR_BODY.replace("1.500.000", "1.500"), encoding="utf-8")
    totals = [
        json.loads(run_cli("validate", sheet.name, "--no-report", "--json", *extra).output)[
            "totals"
        ]
        for extra in ((), ("--amount-format", "en"))
    ]
    assert totals[0] != totals[1]  # the profile's "id" (1.500 = 1500), then --amount-format en


def test_validate_bad_profile_exits_2_naming_file_line_key(in_tmp: Path) -> None:
    sheet = _hr(in_tmp)
    (in_tmp / "batchpay.toml").write_text(HR_PROFILE + 'colour = "x"\n', encoding="utf-8")
    result = run_cli("validate", sheet.name)
    assert result.exit_code == 2
    assert "batchpay.toml, line 7: payout-link.set.colour: unknown field" in result.output


def test_profile_init_writes_valid_starter_and_refuses_overwrite(in_tmp: Path) -> None:
    from batchpay.profile import load_profile

    result = run_cli("profile", "init", "payout-link")
    assert result.exit_code == 0, result.output
    written = in_tmp / "batchpay.toml"
    assert "[payout-link.set]" in written.read_text(encoding="utf-8")
    assert "payout-link" in load_profile(written).sections
    again = run_cli("profile", "init", "payout-link")
    assert again.exit_code == 2 and "already exists" in again.output
    assert run_cli("profile", "init", "sub-account-payout", "--force").exit_code == 0
    assert "sub-account-payout" in load_profile(written).sections


def test_validate_readme_hr_export_with_profile_goes_through(in_tmp: Path) -> None:
    result = run_cli(
        "validate", str(SAMPLES / "hr-bonus-desember.xlsx"), "--no-report",
        "--profile", str(SAMPLES / "hr-bonus.toml"),
    )  # fmt: skip
    assert result.exit_code == 0, result.output
    assert result.output.splitlines()[0] == "valid: 12 rows, IDR 31,000,000"
    assert "set reference_id = 'BNS-2612-{NIK}'" in result.output


# --- issue 10: skipped rows and control totals in the summary and the JSON -----------------


def _titled_export(tmp_path: Path, label: str, total: str) -> Path:
    path = tmp_path / "desember.csv"
    path.write_text(
        "PT Maju Jaya,,,,,,\nBonus Desember 2026,,,,,,\n,,,,,,\n"
        + PL_HEADER
        + pl_row(1)
        + pl_row(2, amount="2500000")
        + f"{label},,,{total},,,\n,,,,,,\n"
        + '"Jakarta, 30 Desember 2026",,,,,,\nDisetujui oleh,,,Mengetahui,,,\n'
        + "( Manajer HRD ),,,( Direktur ),,,\n",
        encoding="utf-8",
    )
    return path


def test_validate_summary_lists_header_row_skipped_rows_and_control_total(
    tmp_path: Path,
) -> None:
    path = _titled_export(tmp_path, "TOTAL", "4000000")
    result = run_cli("validate", str(path), "--no-report")
    assert result.exit_code == 0, result.output
    lines = result.output.splitlines()
    assert lines[0] == "valid: 2 rows, IDR 4,000,000"
    assert "  header on row 4 (rows 1–2 skipped: title)" in lines
    assert "  skipped rows: 7 total, 9–11 footer" in lines
    assert "  control total IDR 4,000,000 matches 2 rows (row 7 'TOTAL')" in lines


def test_validate_control_total_mismatch_exits_1_and_json_lists_it(tmp_path: Path) -> None:
    path = _titled_export(tmp_path, "Jumlah", "4100000")
    result = run_cli("validate", str(path), "--no-report")
    assert result.exit_code == 1
    assert (
        "  control total IDR 4,100,000 on row 7 ('Jumlah') does NOT match: its 2 rows add up to "
        "IDR 4,000,000"
    ) in result.output.splitlines()
    data = json.loads(run_cli("validate", str(path), "--no-report", "--json").output)
    assert data["header_row"] == 4 and data["rows"] == 2
    assert [(s["row"], s["kind"]) for s in data["skipped"]] == [
        (1, "title"),
        (2, "title"),
        (7, "total"),
        (9, "footer"),
        (10, "footer"),
        (11, "footer"),
    ]
    (total,) = data["control_totals"]
    assert (total["stated"], total["computed"], total["matches"]) == ("4100000", "4000000", False)
    assert data["problem_counts"] == {"control-total-mismatch": 1}


def test_background_imports_start_once_and_join_without_start() -> None:
    from batchpay.cli.startup import BackgroundImports

    idle = BackgroundImports(["json"])
    idle.join()  # never started (a file refused before parsing): nothing to wait for
    assert idle.thread is None
    importing = BackgroundImports(["json", "no_such_module_batchpay", "csv"])
    importing.start()
    first = importing.thread
    importing.start()  # a second sheet read calls on_parse again
    assert importing.thread is first
    importing.join()
    assert first is not None and not first.is_alive()
