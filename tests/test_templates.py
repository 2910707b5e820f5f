"""Templates: committed copies match the code, Excel is told to keep identifiers as text and
to check lengths and amounts, and a template filled with the documented examples validates."""

from __future__ import annotations

import csv
import io
import zipfile
from pathlib import Path
from typing import Any

import openpyxl
import pytest
from click.testing import CliRunner

from batchpay import cli as cli_module
from batchpay.kinds import KINDS, Kind
from batchpay.templates import (
    csv_template_text,
    field_limit,
    is_text_column,
    template_workbook,
    xlsx_template_bytes,
)

ROOT = Path(__file__).resolve().parents[1]
KIND_NAMES = sorted(KINDS)


class _Main:
    """Lets CliRunner drive :func:`batchpay.cli.main`, so error → exit-code mapping is tested."""

    name = "batchpay"

    def main(self, args: Any = None, prog_name: str | None = None, **_: Any) -> None:
        cli_module.main(list(args or ()))


def run_cli(*args: str) -> Any:
    return CliRunner().invoke(_Main(), list(args))  # type: ignore[arg-type]


def _members(data: bytes) -> list[tuple[str, bytes]]:
    with zipfile.ZipFile(io.BytesIO(data)) as z:
        return [(i.filename, z.read(i.filename)) for i in z.infolist()]


def _load(kind: Kind) -> openpyxl.Workbook:
    return openpyxl.load_workbook(io.BytesIO(xlsx_template_bytes(kind)))


@pytest.mark.parametrize("name", KIND_NAMES)
def test_template_xlsx_committed_copy_matches_generated(name: str) -> None:
    committed = (ROOT / "templates" / f"{name}.xlsx").read_bytes()
    generated = xlsx_template_bytes(KINDS[name])
    # Every part of the package, uncompressed, byte for byte: as strict as comparing the
    # files, without depending on the zlib build that compressed the committed copy.
    assert _members(committed) == _members(generated), (
        f"templates/{name}.xlsx is stale: run  batchpay template {name} "
        f"-o templates/{name}.xlsx --force"
    )


@pytest.mark.parametrize("name", KIND_NAMES)
def test_template_csv_committed_copy_matches_generated(name: str) -> None:
    committed = (ROOT / "templates" / f"{name}.csv").read_text(encoding="utf-8")
    assert committed == csv_template_text(KINDS[name])


def test_template_xlsx_generated_twice_is_byte_identical() -> None:
    kind = KINDS["payout-link"]
    assert xlsx_template_bytes(kind) == xlsx_template_bytes(kind)


@pytest.mark.parametrize("name", KIND_NAMES)
def test_template_header_row_lists_every_field_in_order(name: str) -> None:
    ws = _load(KINDS[name]).worksheets[0]
    assert [c.value for c in ws[1]] == list(KINDS[name].field_names)


@pytest.mark.parametrize("name", KIND_NAMES)
def test_template_data_sheet_has_no_example_row(name: str) -> None:
    ws = _load(KINDS[name]).worksheets[0]
    assert ws.max_row == 1


@pytest.mark.parametrize("name", KIND_NAMES)
def test_template_identifier_columns_formatted_as_text(name: str) -> None:
    kind = KINDS[name]
    ws = _load(kind).worksheets[0]
    for col, f in enumerate(kind.fields, start=1):
        letter = openpyxl.utils.get_column_letter(col)
        fmt = ws.column_dimensions[letter].number_format
        if f.identifier or f.type in ("phone", "digits", "account_id"):
            assert fmt == "@", f"{f.name} must be Text"
        if f.type == "amount":
            assert fmt.startswith("#,##0")


def test_template_payout_link_every_non_amount_column_is_text() -> None:
    kind = KINDS["payout-link"]
    ws = _load(kind).worksheets[0]
    formats = {
        f.name: ws.column_dimensions[openpyxl.utils.get_column_letter(i)].number_format
        for i, f in enumerate(kind.fields, start=1)
    }
    assert formats == {f.name: "@" if is_text_column(f) else "#,##0.00" for f in kind.fields}


def _validations(kind: Kind) -> dict[str, Any]:
    ws = _load(kind).worksheets[0]
    by_col: dict[str, Any] = {}
    for dv in ws.data_validations.dataValidation:
        for rng in dv.sqref.ranges:
            by_col[rng.coord.split(":")[0].rstrip("0123456789")] = dv
    return {
        f.name: by_col.get(openpyxl.utils.get_column_letter(i))
        for i, f in enumerate(kind.fields, start=1)
    }


def test_template_payout_link_validates_lengths_and_amounts() -> None:
    dvs = _validations(KINDS["payout-link"])
    amount = dvs["amount"]
    assert (amount.type, amount.operator, amount.formula1) == ("decimal", "between", "0.01")
    assert [r.coord for r in amount.sqref.ranges] == ["A2:A1048576"]
    ref = dvs["reference_id"]
    assert (ref.type, ref.operator, ref.formula1, ref.formula2) == (
        "textLength",
        "between",
        "1",
        "30",
    )
    assert (dvs["receiver_name"].type, dvs["receiver_name"].formula2) == ("textLength", "50")
    assert (dvs["currency"].operator, dvs["currency"].formula1) == ("equal", "3")
    assert all(dv.showErrorMessage for name, dv in dvs.items() if dv.type)


def test_template_sub_account_payout_amount_is_whole_rupiah_up_to_12_digits() -> None:
    amount = _validations(KINDS["sub-account-payout"])["amount"]
    assert (amount.type, amount.formula1, amount.formula2) == ("whole", "1", "9" * 12)


def test_template_sub_account_create_type_is_a_dropdown() -> None:
    dv = _validations(KINDS["sub-account-create"])["type"]
    assert (dv.type, dv.formula1) == ("list", '"STANDARD,DEFAULT"')


@pytest.mark.parametrize("name", KIND_NAMES)
def test_template_instructions_describe_every_field(name: str) -> None:
    kind = KINDS[name]
    wb = _load(kind)
    assert wb.sheetnames == [kind.name, "Instructions"]
    rows = [tuple(r) for r in wb["Instructions"].iter_rows(values_only=True)]
    head = rows.index(("Column", "Required", "Limit", "Description", "Example", "Cell format"))
    table = {r[0]: r for r in rows[head + 1 :] if r[0]}
    assert list(table) == list(kind.field_names)
    for f in kind.fields:
        _, required, limit, description, example, _fmt = table[f.name]
        assert (required, limit, description, example) == (
            "yes" if f.required else "no",
            field_limit(kind, f),
            f.description,
            f.example,
        )


def _example_row(kind: Kind) -> list[str]:
    return [f.example for f in kind.fields]


@pytest.mark.parametrize("name", KIND_NAMES)
def test_template_csv_filled_with_examples_validates(name: str, tmp_path: Path) -> None:
    from batchpay.validate import validate_file

    kind = KINDS[name]
    path = tmp_path / f"{name}.csv"
    buf = io.StringIO()
    csv.writer(buf, lineterminator="\n").writerow(_example_row(kind))
    path.write_text(csv_template_text(kind) + buf.getvalue(), encoding="utf-8")
    result = validate_file(path)
    assert result.table.kind.name == name
    assert [p.key for p in result.errors] == []
    assert result.rows == 1


@pytest.mark.parametrize("name", KIND_NAMES)
def test_template_xlsx_filled_with_examples_validates(name: str, tmp_path: Path) -> None:
    from batchpay.validate import validate_file

    kind = KINDS[name]
    wb = template_workbook(kind)
    ws = wb.worksheets[0]
    for col, (f, text) in enumerate(zip(kind.fields, _example_row(kind), strict=True), start=1):
        # Typed as a user would: the amount as a number, the rest as text in Text columns.
        ws.cell(row=2, column=col, value=int(text) if f.type == "amount" else text)
    path = tmp_path / f"{name}.xlsx"
    wb.save(path)
    result = validate_file(path)
    assert (result.table.kind.name, result.rows, [p.key for p in result.problems]) == (name, 1, [])


def test_template_cli_writes_xlsx_to_output(tmp_path: Path) -> None:
    out = tmp_path / "bonus.xlsx"
    result = run_cli("template", "payout-link", "-o", str(out))
    assert result.exit_code == 0, result.output
    assert out.read_bytes()[:2] == b"PK"
    assert f"batchpay validate {out}" in result.output


def test_template_cli_csv_suffix_writes_header_only_csv(tmp_path: Path) -> None:
    out = tmp_path / "vendors.csv"
    result = run_cli("template", "sub-account-payout", "-o", str(out))
    assert result.exit_code == 0, result.output
    assert out.read_text(encoding="utf-8") == csv_template_text(KINDS["sub-account-payout"])


def test_template_cli_existing_file_refused_without_force(tmp_path: Path) -> None:
    out = tmp_path / "filled.xlsx"
    out.write_bytes(b"hours of work")
    result = run_cli("template", "payout-link", "-o", str(out))
    assert result.exit_code == 2
    assert "already exists" in result.output
    assert out.read_bytes() == b"hours of work"


def test_template_cli_force_overwrites(tmp_path: Path) -> None:
    out = tmp_path / "old.csv"
    out.write_text("stale", encoding="utf-8")
    result = run_cli("template", "sub-account-create", "--csv", "-o", str(out), "--force")
    assert result.exit_code == 0, result.output
    assert out.read_text(encoding="utf-8") == "email,type,name\n"


def test_template_cli_unknown_kind_exits_2() -> None:
    result = run_cli("template", "payroll")
    assert result.exit_code == 2
    assert "Traceback" not in result.output
