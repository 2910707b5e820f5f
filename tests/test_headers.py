"""resolve/load_table: header matching, aliases, --map, kind detection and identifier traps."""

from __future__ import annotations

import string
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from batchpay.errors import InputError
from batchpay.header_match import EXACT_ALIAS, EXACT_NAME, WORDS, Match, match
from batchpay.headers import fold, load_table, match_field
from batchpay.kinds import KINDS
from batchpay.sheet import SkippedRow
from tests.helpers.xlsx import (
    PAYOUT_LINK_HEADER,
    SUB_ACCOUNT_PAYOUT_HEADER,
    payout_link_rows,
    set_cached_values,
    write_csv,
    write_xlsx,
)

PAYOUT_ROW = [
    "1500000",
    "PT Maju Jaya",
    "Siti Rahayu",
    "0816123456",
    "siti@example.co.id",
    "BONUS-1",
    "Bonus",
    "IDR",
]
SAC_ROW = ["SAC-0001-1234567890123", "2500000", "INV-1", "BCA", "0123456789", "Budi Santoso"]


def keys(table) -> list[tuple[int | None, str | None, str]]:  # type: ignore[no-untyped-def]
    return [p.key for p in table.problems]


# --- detection and frame shape --------------------------------------------------------------


def test_load_table_field_name_headers_detect_payout_link_with_row_index(tmp_path: Path) -> None:
    path = write_csv(tmp_path / "bonus.csv", [PAYOUT_LINK_HEADER, PAYOUT_ROW, [], PAYOUT_ROW])
    table = load_table(path)
    assert table.kind.name == "payout-link"
    assert list(table.frame.columns) == list(KINDS["payout-link"].field_names)
    assert table.frame.index.tolist() == [2, 4]
    assert list(table.frame.loc[2]) == PAYOUT_ROW
    assert table.field_headers["receiver_phone_number"] == "Receiver Phone Number"
    assert table.extra_columns == []
    assert table.problems == []


def test_load_table_indonesian_aliases_detect_payout_link(tmp_path: Path) -> None:
    header = ["Nominal", "Nama Pengirim", "Nama Penerima", "No. HP", "E-mail", "Referensi"]
    path = write_csv(tmp_path / "bonus.csv", [header, PAYOUT_ROW[:6]], delimiter=";")
    table = load_table(path)
    assert table.kind.name == "payout-link"
    assert table.field_headers == {
        "amount": "Nominal",
        "sender_name": "Nama Pengirim",
        "receiver_name": "Nama Penerima",
        "receiver_phone_number": "No. HP",
        "receiver_email": "E-mail",
        "reference_id": "Referensi",
    }
    # missing optional columns are present and empty
    assert table.frame.loc[2, "description"] == ""
    assert table.frame.loc[2, "currency"] == ""


def test_load_table_sub_account_payout_aliases_detect_kind(tmp_path: Path) -> None:
    header = ["Akun", "Amount (IDR)", "No Invoice", "Bank", "No Rekening", "Nama Rekening"]
    path = write_csv(tmp_path / "payout.csv", [header, SAC_ROW])
    table = load_table(path)
    assert table.kind.name == "sub-account-payout"
    assert list(table.frame.loc[2]) == SAC_ROW


def test_load_table_nama_penerima_means_bank_account_name_in_sub_account_payout(
    tmp_path: Path,
) -> None:
    header = ["Account ID", "Amount", "Invoice", "Bank", "No Rekening", "Nama Penerima"]
    table = load_table(write_csv(tmp_path / "payout.csv", [header, SAC_ROW]))
    assert table.kind.name == "sub-account-payout"
    assert table.field_headers["bank_account_name"] == "Nama Penerima"


def test_load_table_transfer_and_create_kinds_are_detected(tmp_path: Path) -> None:
    transfer = write_csv(
        tmp_path / "t.csv",
        [["Akun Asal", "Akun Tujuan", "Jumlah", "Invoice"], ["SAC-1", "SAC-2", "750000", "TRF-1"]],
    )
    create = write_csv(
        tmp_path / "c.csv",
        [["Owner Email", "Tipe Akun", "Nama Akun"], ["toko@example.com", "STANDARD", "Toko"]],
    )
    assert load_table(transfer).kind.name == "sub-account-transfer"
    assert load_table(create).kind.name == "sub-account-create"


def test_load_table_extra_columns_follow_fields_in_sheet_order(tmp_path: Path) -> None:
    header = ["Employee ID", *PAYOUT_LINK_HEADER[:6], "Department"]
    path = write_csv(tmp_path / "bonus.csv", [header, ["E-7", *PAYOUT_ROW[:6], "Sales"]])
    table = load_table(path)
    assert table.extra_columns == ["Employee ID", "Department"]
    assert list(table.frame.columns)[-2:] == ["Employee ID", "Department"]
    assert table.frame.loc[2, "Employee ID"] == "E-7"


def test_load_table_title_rows_above_header_are_found_by_known_headers(tmp_path: Path) -> None:
    # The title row has two filled cells, so only the header scorer can tell it apart.
    path = write_xlsx(
        tmp_path / "bonus.xlsx", [["Bonus", "November 2026"], [], PAYOUT_LINK_HEADER, PAYOUT_ROW]
    )
    table = load_table(path)
    assert table.source.header_row == 3
    assert table.frame.index.tolist() == [4]


def test_load_table_forced_kind_wins_over_detection(tmp_path: Path) -> None:
    path = write_csv(
        tmp_path / "c.csv",
        [["Email", "Type", "Name", "Amount"], ["toko@example.com", "STANDARD", "Toko", "1"]],
    )
    table = load_table(path, kind="sub-account-create")
    assert table.kind.name == "sub-account-create"
    assert table.extra_columns == ["Amount"]


# --- errors ---------------------------------------------------------------------------------


def test_load_table_partial_header_names_closest_kind_and_missing_columns(
    tmp_path: Path,
) -> None:
    header = ["Account ID", "Amount", "Invoice Number", "Bank Account Number"]
    path = write_csv(tmp_path / "payout.csv", [header, SAC_ROW[:4]])
    with pytest.raises(InputError) as info:
        load_table(path)
    # Issue 10: the error names the header row and the columns recognised, too.
    assert info.value.message == (
        "payout.csv: couldn't tell which kind of sheet this is: closest is sub-account-payout "
        "(header row 1: 'Account ID' as account_id, 'Amount' as amount, 'Invoice Number' as "
        "invoice_number, 'Bank Account Number' as bank_account_number), "
        "missing columns bank_code, bank_account_name"
    )
    assert info.value.hint == (
        "use --kind and --map 'Header In Sheet=field', or give the missing values with "
        "--set FIELD=VALUE"
    )


def test_load_table_unknown_headers_say_none_is_known(tmp_path: Path) -> None:
    path = write_csv(tmp_path / "x.csv", [["Foo", "Bar"], ["1", "2"]])
    with pytest.raises(InputError, match=r"none of the column headers \('Foo', 'Bar'\) is one"):
        load_table(path)


def test_load_table_forced_kind_with_missing_column_is_input_error(tmp_path: Path) -> None:
    path = write_csv(tmp_path / "bonus.csv", [PAYOUT_LINK_HEADER[:5], PAYOUT_ROW[:5]])
    with pytest.raises(InputError) as info:
        load_table(path, kind="payout-link")
    assert info.value.message == "bonus.csv: missing column reference_id for a payout-link sheet"


def test_load_table_unknown_forced_kind_lists_kinds(tmp_path: Path) -> None:
    path = write_csv(tmp_path / "bonus.csv", [PAYOUT_LINK_HEADER, PAYOUT_ROW])
    with pytest.raises(InputError) as info:
        load_table(path, kind="payroll")
    assert info.value.hint == (
        "use --kind with one of payout-link, sub-account-payout, "
        "sub-account-transfer, sub-account-create"
    )


def test_load_table_two_columns_for_one_field_is_input_error(tmp_path: Path) -> None:
    # Issue 10: two aliases are equally sure (a field's own name would win: see below).
    header = [*PAYOUT_LINK_HEADER[:3], "Handphone", *PAYOUT_LINK_HEADER[4:6], "No HP"]
    path = write_csv(tmp_path / "bonus.csv", [header, [*PAYOUT_ROW[:6], "0816"]])
    with pytest.raises(InputError) as info:
        load_table(path)
    assert info.value.message == (
        "bonus.csv: columns 'Handphone' (column D) and "
        "'No HP' (column G) both look like receiver_phone_number"
    )
    assert info.value.hint == (
        'pick one with --map "Handphone=receiver_phone_number" (or delete or rename the other)'
    )


def test_load_table_field_name_header_beats_alias_header_which_stays_extra(
    tmp_path: Path,
) -> None:
    header = [*PAYOUT_LINK_HEADER[:6], "No HP"]
    path = write_csv(tmp_path / "bonus.csv", [header, [*PAYOUT_ROW[:6], "0816"]])
    table = load_table(path)
    assert table.field_headers["receiver_phone_number"] == "Receiver Phone Number"
    assert table.extra_columns == ["No HP"]


def test_load_table_same_header_twice_is_input_error(tmp_path: Path) -> None:
    header = [*PAYOUT_LINK_HEADER[:6], "Amount"]
    path = write_csv(tmp_path / "bonus.csv", [header, [*PAYOUT_ROW[:6], "1"]])
    with pytest.raises(InputError, match=r"'Amount' \(column A\) and 'Amount' \(column G\) both"):
        load_table(path)


# --- --map ----------------------------------------------------------------------------------


def test_load_table_mapping_maps_unknown_header_to_field(tmp_path: Path) -> None:
    header = ["Gaji Bonus", *PAYOUT_LINK_HEADER[1:6]]
    path = write_csv(tmp_path / "bonus.csv", [header, PAYOUT_ROW[:6]])
    table = load_table(path, mapping={"gaji bonus": "amount"})
    assert table.kind.name == "payout-link"
    assert table.field_headers["amount"] == "Gaji Bonus"
    assert table.frame.loc[2, "amount"] == "1500000"


def test_load_table_mapping_picks_one_of_two_candidate_columns(tmp_path: Path) -> None:
    header = [*PAYOUT_LINK_HEADER[:6], "No HP"]
    path = write_csv(tmp_path / "bonus.csv", [header, [*PAYOUT_ROW[:6], "0816999"]])
    table = load_table(path, mapping={"No HP": "receiver_phone_number"})
    assert table.frame.loc[2, "receiver_phone_number"] == "0816999"
    assert table.extra_columns == ["Receiver Phone Number"]


def test_load_table_mapping_unknown_header_lists_sheet_columns(tmp_path: Path) -> None:
    path = write_csv(tmp_path / "bonus.csv", [PAYOUT_LINK_HEADER, PAYOUT_ROW])
    with pytest.raises(InputError) as info:
        load_table(path, mapping={"Gaji": "amount"})
    assert info.value.message == "bonus.csv: --map names a column 'Gaji' that is not in the sheet"
    assert "'Receiver Name'" in (info.value.hint or "")


def test_load_table_mapping_unknown_field_lists_valid_fields(tmp_path: Path) -> None:
    path = write_csv(tmp_path / "bonus.csv", [PAYOUT_LINK_HEADER, PAYOUT_ROW])
    with pytest.raises(InputError) as info:
        load_table(path, kind="payout-link", mapping={"Amount": "gross"})
    assert info.value.hint == (
        "valid payout-link fields: amount, currency, description, "
        "receiver_email, receiver_name, receiver_phone_number, "
        "reference_id, sender_name"
    )


def test_load_table_mapping_two_headers_to_one_field_is_input_error(tmp_path: Path) -> None:
    path = write_csv(tmp_path / "bonus.csv", [PAYOUT_LINK_HEADER, PAYOUT_ROW])
    with pytest.raises(InputError, match="--map maps two columns to amount"):
        load_table(path, mapping={"Amount": "amount", "Description": "amount"})


# --- identifier traps -----------------------------------------------------------------------


def test_load_table_number_cells_in_identifier_columns_are_problems(tmp_path: Path) -> None:
    rows = [PAYOUT_LINK_HEADER, *payout_link_rows(3)]
    rows[1][3] = 81629127182  # type: ignore[call-overload]  # 0816… typed into a General cell
    rows[2][3] = 816291271826  # type: ignore[call-overload]  # shows as 8.16291E+11
    rows[3][5] = 2026001  # type: ignore[call-overload]  # a numeric reference
    rows[1][0] = 1500000  # type: ignore[call-overload]  # numbers are fine for amounts
    path = write_xlsx(tmp_path / "bonus.xlsx", rows, text_columns=[2, 3, 5, 7, 8])
    table = load_table(path)
    assert keys(table) == [
        (2, "receiver_phone_number", "numeric-identifier"),
        (3, "receiver_phone_number", "scientific-notation"),
        (4, "reference_id", "numeric-identifier"),
    ]
    assert [p.value for p in table.problems] == ["81629127182", "816291271826", "2026001"]
    assert table.frame.loc[3, "receiver_phone_number"] == "816291271826"


def test_load_table_scientific_text_in_reference_column_is_a_problem(tmp_path: Path) -> None:
    rows = [SUB_ACCOUNT_PAYOUT_HEADER, SAC_ROW, list(SAC_ROW), list(SAC_ROW), list(SAC_ROW)]
    rows[1][2] = "2.02611E+11"  # invoice 202611000123 after a round trip through Excel
    rows[2][2] = "2,02611E+11"  # Indonesian Excel writes a decimal comma
    rows[3][1] = "1E6"  # an amount: validation's business, not an identifier trap
    rows[4][4] = "8.16291E+11"  # digits columns: the normaliser reports it (no duplicate)
    table = load_table(write_csv(tmp_path / "payout.csv", rows, delimiter=";"))
    assert keys(table) == [
        (2, "invoice_number", "scientific-notation"),
        (3, "invoice_number", "scientific-notation"),
    ]


def test_load_table_load_problems_are_rekeyed_to_field_names(tmp_path: Path) -> None:
    rows = [
        [*PAYOUT_LINK_HEADER, "Department"],
        [*PAYOUT_ROW, '=UPPER("x")'],
        ["=1000*1500", *PAYOUT_ROW[1:], "Ops"],
    ]
    path = write_xlsx(tmp_path / "bonus.xlsx", rows, hidden_rows=[3])
    set_cached_values(path, {"I2": "X", "A3": "1500000"})
    table = load_table(path)
    assert keys(table) == [
        (2, "Department", "formula-cached"),
        (3, None, "hidden-row"),
        (3, "amount", "formula-cached"),
    ]


# --- issue 10: header found below titles, headers matched by meaning --------------------------

HR_HEADER = [
    "No",
    "NIK",
    "Nama Lengkap Karyawan",
    "Departemen",
    "Jumlah Bonus (Rp)",
    "No. HP",
    "Alamat E-mail",
    "Bonus (%)",
    "Gaji Pokok",
]
HR_ROWS = [
    [
        "1",
        "3201001",
        "Siti Rahayu",
        "Sales",
        15000000,
        "0816123456",
        "siti@sinar.co.id",
        10,
        9000000,
    ],
    [
        "2",
        "3201002",
        "Budi Santoso",
        "Ops",
        16000000,
        "0817123456",
        "budi@sinar.co.id",
        12,
        8000000,
    ],
]


def hr_export(path: Path) -> Path:
    """An HR bonus export as HR sends it: title rows 1–3 (merged across the table), the
    header on row 4, Indonesian headers, a TOTAL row and sign-off lines."""
    return write_xlsx(
        path,
        [
            ["PT Sinar Abadi"],
            ["Daftar Bonus Karyawan", None, None, None, "Periode: Desember 2026"],
            [],
            HR_HEADER,
            *HR_ROWS,
            [None, None, "TOTAL", None, 31000000],
            [],
            ["Disetujui oleh", None, None, None, "Mengetahui"],
            ["( Manajer HRD )"],
        ],
        merged=["A1:I1", "A2:D2"],
    )


def test_load_table_hr_export_with_set_fields_resolves_as_payout_link(tmp_path: Path) -> None:
    table = load_table(
        hr_export(tmp_path / "desember.xlsx"), provided={"sender_name", "reference_id"}
    )
    assert table.kind.name == "payout-link"
    assert table.source.header_row == 4
    assert table.source.skipped == [
        SkippedRow(1, "title", "title", "PT Sinar Abadi"),
        SkippedRow(2, "title", "title", "Daftar Bonus Karyawan | Periode: Desember 2026"),
    ]
    assert table.field_headers == {
        "amount": "Jumlah Bonus (Rp)",
        "receiver_name": "Nama Lengkap Karyawan",
        "receiver_phone_number": "No. HP",
        "receiver_email": "Alamat E-mail",
    }
    assert table.extra_columns == ["No", "NIK", "Departemen", "Bonus (%)", "Gaji Pokok"]
    assert table.frame.loc[5, "amount"] == "15000000"
    assert table.frame.loc[6, "receiver_name"] == "Budi Santoso"
    assert table.frame.loc[5, "sender_name"] == ""  # filled from --set (validate/derived.py)
    # merged title cells above the header are not problems
    assert [p for p in table.problems if p.code == "merged-cells"] == []


def test_load_table_hr_export_without_set_names_header_row_recognised_and_missing(
    tmp_path: Path,
) -> None:
    with pytest.raises(InputError) as info:
        load_table(hr_export(tmp_path / "desember.xlsx"))
    assert info.value.message == (
        "desember.xlsx: couldn't tell which kind of sheet this is: closest is payout-link "
        "(header row 4: 'Nama Lengkap Karyawan' as receiver_name, 'Jumlah Bonus (Rp)' as "
        "amount, 'No. HP' as receiver_phone_number, 'Alamat E-mail' as receiver_email), "
        "missing columns sender_name, reference_id"
    )


def test_load_table_provided_field_missing_from_forced_kind_is_not_required(
    tmp_path: Path,
) -> None:
    path = write_csv(tmp_path / "bonus.csv", [PAYOUT_LINK_HEADER[:5], PAYOUT_ROW[:5]])
    table = load_table(path, kind="payout-link", provided={"reference_id"})
    assert "reference_id" not in table.field_headers
    assert table.frame.loc[2, "reference_id"] == ""


@pytest.mark.parametrize(
    ("header", "expected"),
    [
        ("Nama Lengkap Karyawan", "receiver_name"),
        ("No. Handphone", "receiver_phone_number"),
        ("No. HP", "receiver_phone_number"),
        ("Alamat E-mail", "receiver_email"),
        ("E-mail Karyawan", "receiver_email"),
        ("E-MAIL", "receiver_email"),
        ("No. Ref", "reference_id"),
        ("Nominal (IDR)", "amount"),
        ("Jumlah Bonus (Rp)", "amount"),
        ("Amount (IDR)", "amount"),
        ("Total Bonus Rupiah", "amount"),
        ("Reference ID", "reference_id"),
        ("No", None),
        ("No.", None),
        ("#", None),
        ("No. Urut", None),
        ("Bonus (%)", None),
        ("Persentase Bonus", None),
        ("Gaji Pokok", None),
        ("Jumlah Hari", None),
        ("Email Pengirim", None),  # the sender's or the receiver's? neither
        ("NIK", None),
    ],
)
def test_match_payout_link_header_by_meaning_names_field(header: str, expected: str | None) -> None:
    found = match("payout-link", header)
    assert (found.field if found else None) == expected


def test_match_levels_field_name_beats_alias_beats_words() -> None:
    assert match("payout-link", "Amount (IDR)") == Match("amount", EXACT_NAME)
    assert match("payout-link", "Jumlah Bonus (Rp)") == Match("amount", EXACT_ALIAS)
    assert match("payout-link", "Nama Lengkap Karyawan") == Match("receiver_name", WORDS, 3, 0)


def test_load_table_more_words_covered_wins_over_fewer(tmp_path: Path) -> None:
    header = [
        "Nama Bank",
        "Nama Lengkap Karyawan",
        *PAYOUT_LINK_HEADER[:2],
        *PAYOUT_LINK_HEADER[3:6],
    ]
    row = ["BCA", "Siti Rahayu", *PAYOUT_ROW[:2], *PAYOUT_ROW[3:6]]
    table = load_table(write_csv(tmp_path / "bonus.csv", [header, row]))
    assert table.field_headers["receiver_name"] == "Nama Lengkap Karyawan"
    assert table.extra_columns == ["Nama Bank"]


def test_load_table_two_word_matches_for_one_field_names_both_and_map_fix(
    tmp_path: Path,
) -> None:
    header = [*PAYOUT_LINK_HEADER[:4], "E-mail Karyawan", "E-mail Atasan", "No. Ref"]
    row = [*PAYOUT_ROW[:5], "boss@example.co.id", "BONUS-1"]
    with pytest.raises(InputError) as info:
        load_table(write_csv(tmp_path / "bonus.csv", [header, row]))
    assert info.value.message == (
        "bonus.csv: columns 'E-mail Karyawan' (column E) and 'E-mail Atasan' (column F) "
        "both look like receiver_email"
    )
    assert info.value.hint == (
        'pick one with --map "E-mail Karyawan=receiver_email" (or delete or rename the other)'
    )


def test_load_table_counter_percent_and_salary_columns_are_never_fields(tmp_path: Path) -> None:
    header = ["#", "Bonus (%)", "Gaji Pokok", *PAYOUT_LINK_HEADER[1:6], "Bonus"]
    row = ["1", "10", "9000000", *PAYOUT_ROW[1:6], "1500000"]
    table = load_table(write_csv(tmp_path / "bonus.csv", [header, row]))
    assert table.field_headers["amount"] == "Bonus"
    assert table.extra_columns == ["#", "Bonus (%)", "Gaji Pokok"]


def test_load_table_no_known_header_names_the_row_taken_and_the_sheets(tmp_path: Path) -> None:
    path = write_xlsx(
        tmp_path / "x.xlsx", [["Foo", "Bar"], ["1", "2"]], sheets_after=[("Notes", "visible")]
    )
    with pytest.raises(InputError) as info:
        load_table(path)
    assert info.value.message.endswith("is one batchpay knows (row 1 was taken as the header)")
    assert (info.value.hint or "").endswith(
        "; the workbook's sheets are 'Sheet1', 'Notes' (pick one with --sheet NAME)"
    )


# --- matching rules -------------------------------------------------------------------------


def test_fold_ignores_case_spaces_underscores_and_punctuation() -> None:
    assert fold(" No. HP ") == fold("no_hp") == fold("NO-HP") == "nohp"
    assert fold("Amount (IDR)") == "amountidr"


def test_lookups_field_names_map_to_themselves_in_every_kind() -> None:
    for kind in KINDS.values():
        for f in kind.fields:
            assert match_field(kind, f.name) == f.name


def test_lookups_each_alias_belongs_to_one_field_within_a_kind() -> None:
    # Deterministic rule: field name first, then the earliest field declaring the alias.
    # Today no alias is claimed twice inside a kind; this keeps it that way.
    for kind in KINDS.values():
        owners: dict[str, set[str]] = {}
        for f in kind.fields:
            for text in (f.name, *f.aliases):
                owners.setdefault(fold(text), set()).add(f.name)
        assert {k: v for k, v in owners.items() if len(v) > 1} == {}, kind.name


CASES = [
    (kind.name, text, f.name)
    for kind in KINDS.values()
    for f in kind.fields
    for text in (f.name, *f.aliases)
]


@st.composite
def spelled(draw: st.DrawFn, text: str) -> str:
    """The same header as a clerk might type it: any case, spaces/underscores/dots between
    words, stray spaces around."""
    words = [w for w in text.replace("_", " ").split(" ") if w]
    out = []
    for word in words:
        out.append("".join(ch.upper() if draw(st.booleans()) else ch.lower() for ch in word))
    seps = st.sampled_from([" ", "_", "  ", "-", ". ", "_ ", "/"])
    joined = out[0]
    for word in out[1:]:
        joined += draw(seps) + word
    pad = st.text(alphabet=" \t_", max_size=2)
    return draw(pad) + joined + draw(pad)


@settings(database=None, max_examples=300, deadline=None)
@given(data=st.data(), case=st.sampled_from(CASES))
def test_match_field_spelling_variations_resolve_to_the_same_field(
    data: st.DataObject,
    case: tuple[str, str, str],
) -> None:
    kind_name, text, expected = case
    header = data.draw(spelled(text))
    assert match_field(KINDS[kind_name], header) == expected


@settings(database=None, max_examples=200, deadline=None)
@given(
    header=st.text(alphabet=string.ascii_letters + " ", min_size=1, max_size=14),
    sep=st.sampled_from(["_", " ", ".", "-"]),
)
def test_match_field_separators_between_letters_never_change_the_match(
    header: str,
    sep: str,
) -> None:
    spread = sep.join(header.upper())
    for kind in KINDS.values():
        assert match_field(kind, spread) == match_field(kind, header)
