"""Profiles (batchpay/profile.py) and ``--set`` templates (batchpay/validate/derived.py)."""

from __future__ import annotations

from pathlib import Path

import pytest

from batchpay.errors import UsageError
from batchpay.profile import (
    SheetOptions,
    find_profile,
    key_line,
    load_profile,
    merge,
    parse_template,
)
from batchpay.validate import validate_file

HR_HEADER = "No,NIK,Nama Lengkap Karyawan,No. HP,Alamat E-mail,Jumlah Bonus\n"
SETS = {"sender_name": "PT Sinar Abadi", "reference_id": "BNS-2612-{NIK}"}


def hr_csv(tmp_path: Path, rows: list[tuple[str, str, str]], name: str = "hr.csv") -> Path:
    """(NIK, name, amount) rows of an HR export without sender or reference columns."""
    body = "".join(
        f"{i},{nik},{who},0812345{i:05d},user{i}@example.co.id,{amount}\n"
        for i, (nik, who, amount) in enumerate(rows, start=1)
    )
    path = tmp_path / name
    path.write_text(HR_HEADER + body, encoding="utf-8")
    return path


def write(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "batchpay.toml"
    path.write_text(text, encoding="utf-8")
    return path


# --- templates ----------------------------------------------------------------------------


def test_parse_template_literals_placeholders_and_escaped_braces() -> None:
    assert parse_template("BNS-{NIK}-{{x}}") == [("BNS-", "NIK"), ("-{x}", None)]
    assert parse_template("PT Sinar Abadi") == [("PT Sinar Abadi", None)]
    assert parse_template("{ No. HP }") == [("", "No. HP")]


@pytest.mark.parametrize("text", ["BNS-{", "}x", "a{}b"])
def test_parse_template_lone_or_empty_brace_raises(text: str) -> None:
    with pytest.raises(ValueError):
        parse_template(text)


def test_set_constant_and_placeholder_fill_every_row(tmp_path: Path) -> None:
    path = hr_csv(tmp_path, [("3201001", "Siti Rahayu", "1500000"), ("3201002", "Budi", "10")])
    result = validate_file(path, set_values=SETS)
    assert result.ok, result.problems
    assert result.table.kind.name == "payout-link"
    assert result.normalised["reference_id"].tolist() == ["BNS-2612-3201001", "BNS-2612-3201002"]
    assert set(result.normalised["sender_name"]) == {"PT Sinar Abadi"}
    assert result.table.field_headers["reference_id"] == "reference_id (set)"
    assert result.table.derived == SETS


def test_set_same_nik_twice_is_a_duplicate_reference_on_both_rows(tmp_path: Path) -> None:
    path = hr_csv(tmp_path, [("3201001", "Siti", "1"), ("3201001", "Budi", "2"), ("9", "X", "3")])
    result = validate_file(path, set_values=SETS)
    found = {(p.row, p.column, p.code) for p in result.errors}
    assert found == {
        (2, "reference_id", "duplicate-reference"),
        (3, "reference_id", "duplicate-reference"),
    }


def test_set_blank_placeholder_cell_is_one_error_not_a_half_reference(tmp_path: Path) -> None:
    path = hr_csv(tmp_path, [("3201001", "Siti", "1"), ("", "Budi", "2")])
    result = validate_file(path, set_values=SETS)
    assert [(p.row, p.column, p.code) for p in result.errors] == [
        (3, "reference_id", "set-blank-cell")
    ]


def test_set_value_too_long_fails_the_length_rule(tmp_path: Path) -> None:
    path = hr_csv(tmp_path, [("3201001", "Siti", "1")])
    result = validate_file(path, set_values={**SETS, "reference_id": "X" * 25 + "-{NIK}"})
    assert [(p.row, p.column) for p in result.errors] == [(2, "reference_id")]


def test_set_references_stable_across_a_corrected_reupload(tmp_path: Path) -> None:
    first = hr_csv(tmp_path, [("3201001", "Siti", "1500000"), ("3201002", "Budi", "oops")])
    # The corrected sheet: Budi's amount fixed, rows re-ordered, a new person added.
    second = hr_csv(
        tmp_path,
        [
            ("3201003", "Dewi", "900000"),
            ("3201002", "Budi", "2500000"),
            ("3201001", "Siti", "1500000"),
        ],
        name="hr-2.csv",
    )
    before = validate_file(first, set_values=SETS).normalised
    after = validate_file(second, set_values=SETS).normalised
    refs_before = dict(zip(before["receiver_name"], before["reference_id"], strict=True))
    refs_after = dict(zip(after["receiver_name"], after["reference_id"], strict=True))
    assert refs_before["Siti"] == refs_after["Siti"] == "BNS-2612-3201001"
    assert refs_after["Budi"] == "BNS-2612-3201002"


def test_set_unknown_placeholder_names_it_and_lists_headers(tmp_path: Path) -> None:
    path = hr_csv(tmp_path, [("3201001", "Siti", "1")])
    with pytest.raises(UsageError) as info:
        validate_file(path, set_values={**SETS, "reference_id": "BNS-{NIKK}"})
    text = str(info.value)
    assert "{NIKK}" in text and "'NIK', 'Nama Lengkap Karyawan'" in text
    assert "\n" not in text


def test_set_unknown_field_or_field_the_sheet_has_is_usage_error(tmp_path: Path) -> None:
    path = hr_csv(tmp_path, [("3201001", "Siti", "1")])
    with pytest.raises(UsageError, match="'bogus', which no kind of sheet has"):
        validate_file(path, set_values={**SETS, "bogus": "1"})
    with pytest.raises(UsageError, match="which a payout-link sheet does not have"):
        validate_file(path, set_values={**SETS, "invoice_number": "1"})
    with pytest.raises(UsageError, match="already has a column"):
        validate_file(path, set_values={**SETS, "amount": "1"})


# --- the profile file ---------------------------------------------------------------------

PROFILE = """\
[payout-link]
amount_format = "id"

[payout-link.set]
sender_name = "PT Sinar Abadi"
reference_id = "BNS-2612-{NIK}"

[payout-link.map]
"Nama Lengkap Karyawan" = "receiver_name"
"""


def test_load_profile_reads_sections(tmp_path: Path) -> None:
    profile = load_profile(write(tmp_path, PROFILE))
    section = profile.sections["payout-link"]
    assert section.amount_format == "id"
    assert dict(section.set_values) == SETS
    assert dict(section.mapping) == {"Nama Lengkap Karyawan": "receiver_name"}
    assert profile.pinned_kind(None) == "payout-link"  # the only section pins the kind


@pytest.mark.parametrize(
    ("text", "line", "key"),
    [
        ('[payout-link]\nsheet = "A"\nsheeet = "B"\n', 3, "payout-link.sheeet"),
        ('[payout-link.set]\nsender_name = "x"\nrefrence_id = "y"\n', 3, "set.refrence_id"),
        ('\n\ncolour = "red"\n', 3, "colour"),
        ('[payout-link]\nset = { sender_name = "x", bogus = "1" }\n', 2, "set.bogus"),
        ("[payout-link]\n\n[payout-link.approval]\nby = 2\n", 3, "payout-link.approval"),
    ],
)
def test_load_profile_unknown_key_names_file_line_and_key(
    tmp_path: Path, text: str, line: int, key: str
) -> None:
    with pytest.raises(UsageError) as info:
        load_profile(write(tmp_path, text))
    assert f"batchpay.toml, line {line}: " in str(info.value) and key in str(info.value)


@pytest.mark.parametrize(
    ("text", "line", "words"),
    [
        ('[payout-link]\n\namount_format = "de"\n', 3, "'de' is not one of id, en"),
        ("[payout-link]\nsheet = 3\n", 2, "must be non-empty text"),
        ('[payout-link.set]\nreference_id = "A-{"\n', 2, "lone '{'"),
        ('[payout-link.map]\n"Nama" = "nobody"\n', 2, "unknown field 'nobody'"),
        ('kind = "payroll"\n', 1, "not one of"),
        ('[payout-link]\nset = "x"\n', 2, "must be a table"),
    ],
)
def test_load_profile_bad_value_names_line(
    tmp_path: Path, text: str, line: int, words: str
) -> None:
    with pytest.raises(UsageError) as info:
        load_profile(write(tmp_path, text))
    assert f"line {line}: " in str(info.value) and words in str(info.value)


def test_load_profile_invalid_toml_is_usage_error(tmp_path: Path) -> None:
    with pytest.raises(UsageError, match=r"not valid TOML.*line 1"):
        load_profile(write(tmp_path, "[payout-link\n"))


def test_key_line_finds_quoted_and_dotted_keys() -> None:
    text = '[a]\nx = 1\n\n[a."b c"]\n"Nama Lengkap" = "y"\nd.e = 2\n'
    assert key_line(text, ("a", "b c", "Nama Lengkap")) == 5
    assert key_line(text, ("a", "b c", "d", "e")) == 6
    assert key_line(text, ("a", "zzz")) == 1  # the closest enclosing table


def test_find_profile_cwd_explicit_and_missing(tmp_path: Path) -> None:
    assert find_profile(None, cwd=tmp_path) is None
    path = write(tmp_path, PROFILE)
    assert find_profile(None, cwd=tmp_path) == path
    assert find_profile(path) == path
    with pytest.raises(UsageError, match="no such profile"):
        find_profile(tmp_path / "nope.toml")


def test_merge_command_line_overrides_profile_per_field_and_header() -> None:
    base = SheetOptions(
        kind="payout-link",
        sheet="Bonus",
        mapping={"Nama": "receiver_name", "HP": "receiver_phone_number"},
        amount_format="id",
        set_values=SETS,
    )
    top = SheetOptions(
        mapping={"Nama Lengkap": "receiver_name"},
        amount_format="en",
        set_values={"reference_id": "X-{No}"},
    )
    merged = merge(base, top)
    assert merged.sheet == "Bonus" and merged.amount_format == "en"
    assert dict(merged.mapping) == {"HP": "receiver_phone_number", "Nama Lengkap": "receiver_name"}
    assert dict(merged.set_values) == {"sender_name": "PT Sinar Abadi", "reference_id": "X-{No}"}


def test_profile_with_several_sections_uses_the_detected_kinds(tmp_path: Path) -> None:
    text = PROFILE + '\n[sub-account-payout.set]\ninvoice_number = "PAY-{No}"\n'
    profile = load_profile(write(tmp_path, text))
    assert profile.pinned_kind(None) is None
    path = hr_csv(tmp_path, [("3201001", "Siti", "1.500.000")])
    result = validate_file(path, profile=profile)
    assert result.ok, result.problems
    assert result.table.kind.name == "payout-link"
    assert result.normalised["amount_minor"].tolist() == [150_000_000]  # amount_format id
