"""Every kind of workbook, opened in a real spreadsheet program: LibreOffice (headless)
renders it to PDF and ``pdftotext`` reads back what a person sees (issue 11, "A real-client
test in CI").

The workbooks are real: a validation report of a sheet full of problems with long messages,
the workbook of a real run against the emulator (COMPLETED, FAILED, EXPIRED and UNKNOWN
rows), the month report of a journal holding payouts, a retry, transfers, account creations
and a dry run, and each template. Every sheet is rendered on its own (the other sheets
hidden), all in one soffice call, so each check knows which sheet it reads.

Without soffice/pdftotext these tests skip, except under ``CI=true``, where they fail.
"""

from __future__ import annotations

import re
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from decimal import Decimal
from pathlib import Path
from typing import Any

import openpyxl
import pytest

from batchpay import runs
from batchpay.config import load_settings
from batchpay.emulator.runtime import EmulatorHandle
from batchpay.kinds import KINDS
from batchpay.problems import Problem
from batchpay.runs.paths import write_month_workbook
from batchpay.states import FAILURE, FINAL, SUCCESS, State
from batchpay.validate import validate_file
from tests.helpers.render import (  # noqa: F401 (renderer is a fixture)
    PageText,
    Renderer,
    pdf_text,
    pdf_words,
    renderer_fixture,
    split_sheets,
)
from tests.helpers.runs import (
    DESTINATION,
    FUNDED,
    Harness,
    create_rows,
    open_harness,
    sac_payout_rows,
    transfer_rows,
)
from tests.helpers.xlsx import write_xlsx

TEMPLATES = sorted(KINDS)
BOOKS = ["validation", "run", "month", *(f"template-{k}" for k in TEMPLATES)]


@dataclass
class Sheet:
    name: str
    xlsx: Path  # the copy with only this sheet visible
    text: str = ""  # pdftotext -layout
    page: PageText | None = None


@dataclass
class Book:
    """One workbook, its sheets as rendered, and what the test knows it must show."""

    path: Path
    sheets: dict[str, Sheet] = field(default_factory=dict)
    facts: dict[str, Any] = field(default_factory=dict)

    def sheet(self, name: str) -> Sheet:
        assert name in self.sheets, f"{self.path.name} has no sheet {name!r}: {list(self.sheets)}"
        return self.sheets[name]


# --- the workbooks ----------------------------------------------------------------------

SENDER = "PT Maju Jaya Sejahtera Abadi Sentosa"
HEAD = [
    "Employee ID",
    "Receiver Name",
    "Department",
    "Receiver Phone Number",
    "Receiver Email",
    "Amount",
    "Reference ID",
    "Description",
    "Sender Name",
    "Catatan",
]


def _bad_row(i: int, **over: Any) -> list[Any]:
    row = {
        "Employee ID": f"EMP-{i:04d}",
        "Receiver Name": "Siti Rahayu",
        "Department": "Operasional Gudang Cikarang",
        "Receiver Phone Number": "081234567890",
        "Receiver Email": f"karyawan.{i}@example.co.id",
        "Amount": "1500000",
        "Reference ID": f"BONUS-2026-12-{i:04d}",
        "Description": "Bonus Q4",
        "Sender Name": SENDER,
        "Catatan": "",
    }
    row.update(over)
    return [row[h] for h in HEAD]


def bad_sheet(path: Path) -> Path:
    """A bonus sheet with most of the traps at once: long messages, long hints."""
    rows: list[list[Any]] = [
        HEAD,
        _bad_row(1),
        _bad_row(2, **{"Receiver Phone Number": 81234567891}),
        _bad_row(3, **{"Receiver Phone Number": "8.16291E+11"}),
        _bad_row(4, Amount="1.500"),
        _bad_row(5, **{"Reference ID": "BONUS-2026-12-0001"}),
        _bad_row(6, **{"Receiver Email": "hendra.gunawan@example"}),
        _bad_row(7, Amount="-250000"),
        _bad_row(8, **dict.fromkeys(["Receiver Email", "Receiver Name", "Amount"], "")),
        _bad_row(9, **{"Receiver Name": "", "Sender Name": "", "Receiver Phone Number": ""}),
        _bad_row(10, Amount="1500000.125"),
        _bad_row(11, **{"Receiver Phone Number": "0812345"}),
        _bad_row(12, Description="Bonus kinerja tahunan untuk seluruh tim operasional gudang"),
        _bad_row(13, **{"Receiver Name": "Raden Mas Bagus Hadiningrat Prawirodirdjo Sosrokusumo"}),
        _bad_row(14, **{"Receiver Email": "budi..santoso@@example.co.id"}),
        _bad_row(15, Amount="Rp 1.500"),
        _bad_row(16, Amount="seratus ribu"),
        _bad_row(17, Catatan='=HYPERLINK("http://evil.example","klik")'),
    ]
    return write_xlsx(path, rows, title="Bonus Desember", text_columns=[4, 7])


def validation_book(tmp: Path) -> Book:
    from batchpay.workbook.validation import write_validation_report

    result = validate_file(bad_sheet(tmp / "bonus-desember.xlsx"))
    assert len(result.problems) >= 15, [p.code for p in result.problems]
    path = write_validation_report(result, tmp / "validation-report.xlsx")
    return Book(path, facts={"problems": result.problems})


def _settle_links(h: Harness, run_id: str, *, leave: set[str]) -> list[Any]:
    """Status look-ups until every link but ``leave`` (references) is final."""
    deadline = time.monotonic() + 20
    while True:
        rows = runs.refresh_statuses(h.ledger, h.client, run_id).rows
        if all(r.state in FINAL for r in rows if r.reference not in leave):
            return rows
        assert time.monotonic() < deadline, [(r.reference, r.state) for r in rows]
        time.sleep(0.25)


def link_run(h: Harness) -> tuple[str, list[Any]]:
    """Ten Payout Links: six paid, two FAILED, one EXPIRED, and one whose answer was lost
    and that DOKU cannot find (yet): UNKNOWN."""
    endings = {7: "+fail", 8: "+fail", 9: "+expire"}
    rows = [
        {
            "receiver_name": ["Siti Rahayu", "Raden Mas Bagus Hadiningrat Prawirodirdjo"][i % 2],
            "receiver_phone_number": f"0812345{i:05d}",
            "receiver_email": f"karyawan.nomor.{i}{endings.get(i, '')}@example.co.id",
            "amount": str(1_250_000 + 250_000 * i),
            "reference_id": f"BONUS-2026-12-OPS-GUDANG-{i:04d}",
            "description": "Bonus kinerja Q4 2026 gudang",
            "sender_name": SENDER,
            "employee_id": f"{i:016d}",
            "catatan": "Dibayar bersama THR; konfirmasi ke HR bila tautan tidak diterima",
        }
        for i in range(1, 11)
    ]
    run = h.start(h.sheet("bonus-gudang.csv", rows))
    h.admin.queue_fault("status-not-found", op="payout-link", nth=10, seconds=300)
    h.admin.queue_fault("drop-after", op="payout-link", nth=10)
    h.execute(run.run_id, concurrency=1, max_sends=1)
    unknown = rows[9]["reference_id"]
    settled = _settle_links(h, run.run_id, leave={unknown})
    assert {r.state for r in settled} >= {State.COMPLETED, State.FAILED, State.EXPIRED}
    assert [r.state for r in settled if r.reference == unknown] == [State.UNKNOWN]
    return run.run_id, settled


def _paid(h: Harness, run_id: str) -> int:
    return sum(r.amount_minor or 0 for r in h.ledger.rows(run_id) if r.state in SUCCESS)


def month_runs(h: Harness) -> dict[str, Any]:
    """Vendor payouts (one rejected, then paid by a retry), transfers between our own sub
    accounts, two account creations and a dry run, beside the link run."""
    h.admin.fund(FUNDED, 1_000_000)
    payouts = h.run(h.sheet("vendors.csv", sac_payout_rows(3, amount="400000")), concurrency=1)
    assert [r.state for r in payouts.rows][-1] == State.REJECTED
    h.admin.fund(FUNDED, 10_000_000)
    h.admin.fund(DESTINATION, 1)  # the emulator knows an account once money has reached it
    retry = runs.retry_failed(
        h.ledger, h.client, runs.plan_retry(h.ledger, payouts.run.run_id), options=h.options()
    )
    transfers = h.run(h.sheet("transfers.csv", transfer_rows(2, amount="2750000")))
    created = h.run(h.sheet("accounts.csv", create_rows(2)))
    dry = h.start(
        h.sheet("dry.csv", sac_payout_rows(2, prefix="DRY", amount="24750000")), dry_run=True
    )
    runs.dry_run(h.ledger, dry.run_id, load_settings(env="emulator"))
    return {
        "payouts": payouts.run.run_id,
        "retry": retry.run.run_id,
        "transfers": transfers.run.run_id,
        "created": created.run.run_id,
        "dry": dry.run_id,
    }


def idr(minor: int) -> str:
    """An IDR amount as the workbooks show it: thousands separators, no decimals."""
    return f"{Decimal(minor) / 100:,.0f}"


def run_and_month_books(h: Harness, tmp: Path) -> tuple[Book, Book]:
    link_id, link_rows = link_run(h)
    run_book = Book(
        runs.write_workbook(h.ledger, link_id, tmp / "run-workbook.xlsx"),
        facts={
            "references": [r.reference for r in link_rows],
            "exceptions": [r.reference for r in link_rows if r.state in (*FAILURE, State.UNKNOWN)],
        },
    )
    ids = month_runs(h)
    money_out = _paid(h, link_id) + _paid(h, ids["payouts"]) + _paid(h, ids["retry"])
    month = h.ledger.run(link_id).created_at[:7]
    month_book = Book(
        write_month_workbook(h.ledger, month, tmp / "month-report.xlsx"),
        facts={
            "totals": {
                "money out (links + vendor payouts, retry counted once)": idr(money_out),
                "internal transfers": idr(_paid(h, ids["transfers"])),
            },
            "run_ids": [link_id, *(v for k, v in ids.items())],
        },
    )
    return run_book, month_book


def template_books(tmp: Path) -> dict[str, Book]:
    from batchpay.templates import write_template

    return {
        f"template-{k}": Book(write_template(KINDS[k], tmp / f"template-{k}.xlsx"))
        for k in TEMPLATES
    }


PROBE_CUT = "This message is far too long for its narrow column and is cut at the edge"
PROBE_SHORT_ROW = "A wrapped message in a row of default height loses its first lines"
PROBE_WHOLE = "A wrapped message in a row tall enough shows every word: retype the value"


def probe_book(tmp: Path) -> Book:
    """What the checks must catch, written with XlsxWriter: a cut text, a wrapped text in
    too short a row, a number too wide for its column; and a wrapped text shown whole."""
    import xlsxwriter

    path = tmp / "probe.xlsx"
    wb = xlsxwriter.Workbook(str(path))
    ws = wb.add_worksheet("Probe")
    wrap = wb.add_format({"text_wrap": True, "valign": "top"})
    ws.set_column(0, 0, 14)
    ws.set_column(1, 1, 4)
    ws.set_column(2, 2, 24)
    ws.write_string(0, 0, PROBE_CUT)
    ws.write_string(0, 1, "x")
    ws.write_string(1, 2, PROBE_SHORT_ROW, wrap)
    ws.write_number(2, 1, 1_500_000, wb.add_format({"num_format": "#,##0"}))
    ws.set_row(3, 15 * 5)
    ws.write_string(3, 2, PROBE_WHOLE, wrap)
    wb.close()
    return Book(path)


# --- building and rendering them once per module --------------------------------------------


def _build(tmp: Path, emulator: EmulatorHandle) -> dict[str, Book | BaseException]:
    books: dict[str, Book | BaseException] = {}

    def attempt(names: list[str], make: Callable[[], Any]) -> None:
        try:
            made = make()
        except Exception as exc:  # a broken writer fails its own tests, not the others'
            books.update(dict.fromkeys(names, exc))
            return
        books.update(made if isinstance(made, dict) else dict(zip(names, made, strict=True)))

    attempt(["probe"], lambda: (probe_book(tmp),))
    attempt(["validation"], lambda: (validation_book(tmp),))

    def run_month() -> tuple[Book, Book]:
        with open_harness(emulator, tmp) as h:
            return run_and_month_books(h, tmp)

    attempt(["run", "month"], run_month)
    attempt([f"template-{k}" for k in TEMPLATES], lambda: template_books(tmp))
    return books


@pytest.fixture(name="books", scope="module")
def books_fixture(
    renderer: Renderer, emulator: EmulatorHandle, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[dict[str, Book | BaseException]]:
    tmp = tmp_path_factory.mktemp("render")
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("BATCHPAY_HOME", str(tmp / "home"))
        mp.setenv("BATCHPAY_LEDGER", str(tmp / "unused-ledger.sqlite"))
        books = _build(tmp, emulator)
    sheets = [
        Sheet(name, copy)
        for book in books.values()
        if isinstance(book, Book)
        for name, copy in split_sheets(book.path, tmp / "sheets").items()
    ]
    pdfs = renderer.to_pdf([s.xlsx for s in sheets], tmp / "pdf")  # ONE soffice call
    for sheet, pdf in zip(sheets, pdfs, strict=True):
        sheet.text = pdf_text(pdf)
        sheet.page = PageText(pdf_words(pdf))
    for book in books.values():
        if isinstance(book, Book):
            book.sheets = {
                s.name: s for s in sheets if s.xlsx.stem.rsplit("~", 1)[0] == book.path.stem
            }
    yield books


def _book(books: dict[str, Book | BaseException], name: str) -> Book:
    book = books[name]
    if isinstance(book, BaseException):
        raise AssertionError(f"could not write the {name} workbook: {book!r}") from book
    return book


def _page(sheet: Sheet) -> PageText:
    assert sheet.page is not None
    return sheet.page


def _cut(book: Book, sheet: str, texts: list[str]) -> list[str]:
    return _page(book.sheet(sheet)).missing(texts)


# --- the checks can fail: a probe with a cut text, a lost line and ### -----------------------


def test_render_probe_checks_catch_cut_text_lost_lines_and_hashes(
    books: dict[str, Book | BaseException],
) -> None:
    probe = _book(books, "probe").sheet("Probe")
    page = _page(probe)
    assert "###" in probe.text
    assert not page.find(PROBE_CUT)
    assert page.find("This message is")  # what is visible is found
    assert not page.find(PROBE_SHORT_ROW)
    assert page.find(PROBE_WHOLE)
    assert not page.find(PROBE_WHOLE + " now")


# --- what every workbook must show -----------------------------------------------------------


@pytest.mark.parametrize("name", BOOKS)
def test_render_workbook_every_number_fits_no_hash_marks(
    books: dict[str, Book | BaseException], name: str
) -> None:
    book = _book(books, name)
    hashes = {
        s.name: [line.strip() for line in s.text.splitlines() if "###" in line][:5]
        for s in book.sheets.values()
        if "###" in s.text
    }
    assert not hashes, f"{book.path.name}: numbers too wide for their columns show ###: {hashes}"


def _text_cells(path: Path) -> dict[str, list[tuple[str, str]]]:
    """Every visible text cell of every visible sheet: (cell, text)."""
    wb = openpyxl.load_workbook(path)
    out: dict[str, list[tuple[str, str]]] = {}
    for ws in wb.worksheets:
        if ws.sheet_state != "visible":
            continue
        hidden_cols = {k for k, d in ws.column_dimensions.items() if d.hidden}
        hidden_rows = {k for k, d in ws.row_dimensions.items() if d.hidden}
        out[ws.title] = [
            (c.coordinate, c.value)
            for row in ws.iter_rows()
            for c in row
            if isinstance(c.value, str)
            and c.value.strip()
            and c.column_letter not in hidden_cols
            and c.row not in hidden_rows
        ]
    return out


@pytest.mark.parametrize("name", BOOKS)
def test_render_workbook_every_text_cell_shown_whole(
    books: dict[str, Book | BaseException], name: str
) -> None:
    """No text cut at a cell edge, no wrapped line lost in a row too short for it."""
    book = _book(books, name)
    cut: dict[str, list[str]] = {}
    for sheet, cells in _text_cells(book.path).items():
        missing = set(_cut(book, sheet, [text for _, text in cells]))
        shown = [f"{ref}: {text[:70]!r}" for ref, text in cells if text in missing]
        if shown:
            cut[sheet] = shown[:8] + ([f"… {len(shown) - 8} more"] if len(shown) > 8 else [])
    assert not cut, f"{book.path.name}: text cells not shown whole: {cut}"


# --- the validation report -------------------------------------------------------------------


def test_render_validation_report_every_message_and_hint_whole(
    books: dict[str, Book | BaseException],
) -> None:
    book = _book(books, "validation")
    problems: list[Problem] = book.facts["problems"]
    missing = _cut(book, "Problems", [t for p in problems for t in (p.message, p.hint)])
    assert not missing, f"Problems sheet: {len(missing)} messages/hints not whole: {missing}"


# --- the run workbook ------------------------------------------------------------------------


def test_render_run_workbook_every_reference_visible_on_rows(
    books: dict[str, Book | BaseException],
) -> None:
    book = _book(books, "run")
    missing = _cut(book, "Rows", book.facts["references"])
    assert not missing, f"Rows sheet: references not visible: {missing}"


def test_render_run_workbook_failed_and_unknown_references_visible_on_exceptions(
    books: dict[str, Book | BaseException],
) -> None:
    book = _book(books, "run")
    assert len(book.facts["exceptions"]) == 4  # 2 FAILED, 1 EXPIRED, 1 UNKNOWN
    missing = _cut(book, "Exceptions", book.facts["exceptions"])
    assert not missing, f"Exceptions sheet: references not visible: {missing}"


# --- the month report ------------------------------------------------------------------------


def _shown_amounts(text: str) -> set[str]:
    return set(re.findall(r"(?<![\d.,])\d{1,3}(?:,\d{3})+(?![\d,])", text))


def test_render_month_report_totals_visible(books: dict[str, Book | BaseException]) -> None:
    book = _book(books, "month")
    shown = set().union(*(_shown_amounts(s.text) for s in book.sheets.values()))
    missing = {label: v for label, v in book.facts["totals"].items() if v not in shown}
    assert not missing, f"month report: totals not visible: {missing}; shown: {sorted(shown)}"


def test_render_month_report_every_run_named_on_summary(
    books: dict[str, Book | BaseException],
) -> None:
    book = _book(books, "month")
    missing = _cut(book, "Summary", book.facts["run_ids"])
    assert not missing, f"month Summary: runs not visible: {missing}"
