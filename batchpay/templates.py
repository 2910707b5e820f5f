"""Blank XLSX and CSV templates, one per kind, built from the field specs in :mod:`batchpay.kinds`.

The XLSX template is what keeps Excel from damaging a sheet before batchpay ever sees it
(docs/safety.md §8): every column that is not an amount is formatted as Text, so phone
and account numbers keep their leading zeros and never turn into ``8.16291E+11``; Excel
data validation stops over-long values and non-positive amounts as they are typed.

The data sheet carries no example row on purpose: a forgotten example row would be a real
payment. Examples live on the Instructions sheet.

Output is deterministic (fixed document timestamps, fixed zip entry times) so the copies
committed in ``templates/`` can be compared with freshly generated ones.
"""

from __future__ import annotations

import csv
import datetime as dt
import io
import os
import zipfile
from pathlib import Path

from openpyxl import Workbook
from openpyxl.styles import Alignment, Font
from openpyxl.utils import get_column_letter
from openpyxl.worksheet.datavalidation import DataValidation
from openpyxl.worksheet.properties import PageSetupProperties
from openpyxl.worksheet.worksheet import Worksheet
from openpyxl.writer.excel import ExcelWriter

from batchpay.kinds import Field, Kind
from batchpay.workbook import (
    HEADER_FILL,
    HEADER_FONT,
    TEXT_FORMAT,
    WHOLE_AMOUNT_FORMAT,
    atomic_save,
    set_text,
)
from batchpay.workbook.fit import line_count, row_height

# Excel's last row: data validation covers whole columns below the header, like Excel's own
# "format the whole column" does, so a sheet of any length is protected.
_LAST_ROW = 1_048_576
# A fixed moment for docProps/core.xml and the zip entries; the zip format cannot go earlier.
_FIXED_TIME = dt.datetime(2026, 1, 1, 0, 0, 0)
_ZIP_TIME = (1980, 1, 1, 0, 0, 0)
# Phone cells are checked before normalisation, when "+62 812-3456-7890" is still 17
# characters; the 9–14 digit rule is enforced by `batchpay validate`, not by Excel.
_PHONE_TYPED_MAX = 20
DECIMAL_AMOUNT_FORMAT = "#,##0.00"


def field_limit(kind: Kind, f: Field) -> str:
    """The rule for one column in words, as DOKU states it (docs/doku-api.md §4–§5)."""
    if f.type == "amount":
        if kind.amount_decimals:
            return (
                f"greater than 0; up to {kind.amount_max_int_digits} digits before the point "
                f"and {kind.amount_decimals} decimals"
            )
        return f"whole rupiah, greater than 0; up to {kind.amount_max_int_digits} digits"
    if f.type == "phone":
        return f"{f.min_len}–{f.max_len} digits once written as 62…"
    if f.type == "account_type":
        return "STANDARD or DEFAULT"
    if f.type == "currency":
        return "3 letters (ISO 4217)"
    if f.type == "bic":
        return (
            f"SWIFT/BIC, letters, up to {f.max_len}; or a bank name / BI code from the bank table"
        )
    if f.type == "digits":
        return f"digits only, up to {f.max_len}; leading zeros count"
    if f.type == "name":
        return f"letters and spaces, {f.min_len}–{f.max_len} characters"
    if f.type == "email":
        return f"an email address, up to {f.max_len} characters"
    return f"{f.min_len}–{f.max_len} characters"


def is_text_column(f: Field) -> bool:
    """Every column but the amount is Text: identifiers keep leading zeros, and names or
    descriptions like ``1-2`` are not turned into dates."""
    return f.type != "amount"


def amount_format(kind: Kind) -> str:
    return DECIMAL_AMOUNT_FORMAT if kind.amount_decimals else WHOLE_AMOUNT_FORMAT


def _validation(kind: Kind, f: Field) -> DataValidation | None:
    prompt = f"{f.description}. Example: {f.example}"
    dv: DataValidation
    if f.type == "amount":
        top = "9" * kind.amount_max_int_digits
        if kind.amount_decimals:
            dv = DataValidation(
                type="decimal",
                operator="between",
                formula1="0.01",
                formula2=f"{top}.{'9' * kind.amount_decimals}",
            )
        else:
            dv = DataValidation(type="whole", operator="between", formula1="1", formula2=top)
        error = f"{f.name}: {field_limit(kind, f)}."
    elif f.type == "account_type":
        dv = DataValidation(type="list", formula1='"STANDARD,DEFAULT"')
        error = f"{f.name}: STANDARD or DEFAULT."
    elif f.type == "bic":
        # Bank names from the table may be longer than a BIC, so no length rule here
        # (`validate` checks them); the validation only carries the input prompt.
        dv = DataValidation(type=None)
        error = ""
    elif f.type == "phone":
        dv = DataValidation(
            type="textLength", operator="lessThanOrEqual", formula1=str(_PHONE_TYPED_MAX)
        )
        error = f"{f.name}: an Indonesian mobile number such as {f.example}."
    elif f.max_len is not None:
        if f.min_len == f.max_len:
            dv = DataValidation(type="textLength", operator="equal", formula1=str(f.max_len))
        else:
            dv = DataValidation(
                type="textLength",
                operator="between",
                formula1=str(f.min_len),
                formula2=str(f.max_len),
            )
        error = f"{f.name}: {field_limit(kind, f)}."
    else:
        return None
    dv.allow_blank = True
    dv.showInputMessage = True
    dv.promptTitle = f.name[:32]  # Excel caps the title at 32 characters
    dv.prompt = prompt[:255]  # and the message at 255
    if error:
        dv.showErrorMessage = True
        dv.errorStyle = "stop"
        dv.errorTitle = "Not allowed here"
        dv.error = error[:255]
    return dv


def _data_sheet(ws: Worksheet, kind: Kind) -> None:
    for col, f in enumerate(kind.fields, start=1):
        letter = get_column_letter(col)
        cell = ws.cell(row=1, column=col)
        set_text(cell, f.name)
        cell.font = HEADER_FONT
        cell.fill = HEADER_FILL
        # Column-wide format is how Excel itself stores "format this column as Text": it
        # applies to every cell typed later, however many rows the sheet grows to.
        dim = ws.column_dimensions[letter]
        dim.width = max(len(f.name), len(f.example), 12) + 4
        dim.number_format = TEXT_FORMAT if is_text_column(f) else amount_format(kind)
        dv = _validation(kind, f)
        if dv is not None:
            dv.add(f"{letter}2:{letter}{_LAST_ROW}")
            ws.add_data_validation(dv)
    ws.freeze_panes = "A2"
    _print_setup(ws, f"batchpay template: {kind.title}", 1)


_INSTRUCTION_WIDTHS = (24, 10, 44, 60, 28, 12)
_WRAPPED = (3, 4, 5)  # Limit, Description, Example: long enough to wrap


def _print_setup(ws: Worksheet, title: str, header_row: int) -> None:
    """A4 landscape, one page wide, ``header_row`` repeated on every page, ``title`` and the
    page number in the page header (issue 11: readable on paper too)."""
    ws.page_setup.orientation = "landscape"
    ws.page_setup.paperSize = ws.PAPERSIZE_A4
    ws.page_setup.fitToWidth = 1
    ws.page_setup.fitToHeight = 0
    ws.sheet_properties.pageSetUpPr = PageSetupProperties(fitToPage=True)
    ws.print_title_rows = f"{header_row}:{header_row}"
    ws.oddHeader.left.text = title.replace("&", "&&")
    ws.oddHeader.left.font = "-,Bold"
    ws.oddHeader.right.text = "Page &P of &N"


def _instructions_sheet(ws: Worksheet, kind: Kind, data_title: str) -> None:
    notes = [
        f"batchpay template: {kind.title}",
        f"Fill the '{data_title}' sheet, one row per {kind.row_noun}; "
        "keep the header row as it is.",
        "Columns other than the amount are formatted as Text so Excel keeps leading zeros: "
        "type values, or paste with Paste Special → Values.",
        "Extra columns (employee id, department…) may be added after the last column; "
        "they are kept in reports and never sent to DOKU.",
        f"Check the sheet before paying: batchpay validate <file> --kind {kind.name}",
    ]
    last = get_column_letter(len(_INSTRUCTION_WIDTHS))
    across = sum(_INSTRUCTION_WIDTHS)
    for i, note in enumerate(notes, start=1):
        cell = ws.cell(row=i, column=1)
        set_text(cell, note)
        cell.alignment = Alignment(vertical="top", wrap_text=True)
        # Across the table's width, so a note never runs past the printed page.
        ws.merge_cells(f"A{i}:{last}{i}")
        scale = 13 / 11 * 1.1 if i == 1 else 1.0
        lines = line_count(note, across, scale=scale)
        ws.row_dimensions[i].height = row_height(lines, scale=13 / 11 if i == 1 else 1.0)
    ws.cell(row=1, column=1).font = Font(name="Calibri", bold=True, size=13)
    head_row = len(notes) + 2
    heads = ["Column", "Required", "Limit", "Description", "Example", "Cell format"]
    for col, head in enumerate(heads, start=1):
        cell = ws.cell(row=head_row, column=col)
        set_text(cell, head)
        cell.font = HEADER_FONT
        cell.fill = HEADER_FILL
    for r, f in enumerate(kind.fields, start=head_row + 1):
        values = [
            f.name,
            "yes" if f.required else "no",
            field_limit(kind, f),
            f.description,
            f.example,
            "Text" if is_text_column(f) else "Number",
        ]
        for col, text in enumerate(values, start=1):
            cell = ws.cell(row=r, column=col)
            set_text(cell, text)
            cell.alignment = Alignment(vertical="top", wrap_text=col in _WRAPPED)
            cell.number_format = TEXT_FORMAT
        lines = max(line_count(values[c - 1], _INSTRUCTION_WIDTHS[c - 1]) for c in _WRAPPED)
        ws.row_dimensions[r].height = row_height(lines)
    for letter, width in zip("ABCDEF", _INSTRUCTION_WIDTHS, strict=True):
        ws.column_dimensions[letter].width = width
    _print_setup(ws, f"batchpay template: {kind.title} — Instructions", head_row)


def template_workbook(kind: Kind) -> Workbook:
    """The template as an openpyxl workbook: the data sheet first (the loader reads the first
    visible sheet), then Instructions."""
    wb = Workbook()
    ws = wb.active
    assert ws is not None
    ws.title = kind.name
    _data_sheet(ws, kind)
    _instructions_sheet(wb.create_sheet("Instructions"), kind, ws.title)
    wb.properties.creator = "batchpay"
    wb.properties.title = f"batchpay {kind.name} template"
    wb.properties.created = _FIXED_TIME
    wb.properties.modified = _FIXED_TIME
    return wb


def deterministic_xlsx_bytes(wb: Workbook) -> bytes:
    """Serialise ``wb`` with fixed timestamps, so equal content gives equal bytes.

    ``openpyxl.save_workbook`` stamps the current time into docProps/core.xml and the zip
    entries; ExcelWriter is used directly and the archive re-packed with a fixed entry time.
    """
    raw = io.BytesIO()
    with zipfile.ZipFile(raw, "w", zipfile.ZIP_DEFLATED) as archive:
        ExcelWriter(wb, archive).save()
    out = io.BytesIO()
    with zipfile.ZipFile(raw) as src, zipfile.ZipFile(out, "w", zipfile.ZIP_DEFLATED) as dst:
        for info in src.infolist():
            fixed = zipfile.ZipInfo(info.filename, date_time=_ZIP_TIME)
            fixed.compress_type = zipfile.ZIP_DEFLATED
            fixed.external_attr = 0o600 << 16
            dst.writestr(fixed, src.read(info.filename))
    return out.getvalue()


def xlsx_template_bytes(kind: Kind) -> bytes:
    return deterministic_xlsx_bytes(template_workbook(kind))


def csv_template_text(kind: Kind) -> str:
    """Header only: a CSV cannot carry formats or comments, and an example row would be paid."""
    buf = io.StringIO()
    csv.writer(buf, lineterminator="\n").writerow(kind.field_names)
    return buf.getvalue()


class _Bytes:
    """Adapter so pre-rendered bytes go through :func:`atomic_save` like a workbook."""

    def __init__(self, data: bytes) -> None:
        self.data = data

    def save(self, path: str) -> None:
        Path(path).write_bytes(self.data)


def default_template_path(kind: Kind, *, as_csv: bool) -> Path:
    return Path(f"{kind.name}-template.{'csv' if as_csv else 'xlsx'}")


def write_template(kind: Kind, path: str | Path, *, as_csv: bool = False) -> Path:
    """Write the XLSX (or header-only CSV) template for ``kind`` to ``path`` atomically."""
    data = csv_template_text(kind).encode("utf-8") if as_csv else xlsx_template_bytes(kind)
    written = atomic_save(_Bytes(data), path)
    # The temp file behind atomic_save is private (0600); a template holds no payee data,
    # so give it the permissions any new file would get.
    umask = os.umask(0)
    os.umask(umask)
    written.chmod(0o666 & ~umask)
    return written
