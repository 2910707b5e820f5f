"""Normalisers: table-driven cases per field type plus Hypothesis properties."""

from __future__ import annotations

from decimal import Decimal
from typing import Any

import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from batchpay.banks import BankTable
from batchpay.errors import ConfigError
from batchpay.normalize import (
    Normalised,
    mostly_repeated,
    normalise_account_ids,
    normalise_account_types,
    normalise_bank_codes,
    normalise_currencies,
    normalise_digits,
    normalise_emails,
    normalise_names,
    normalise_phones,
    normalise_references,
    normalise_text,
    not_ascii_detail,
    parse_amount_text,
    parse_amounts,
    per_unique,
)


def col(*values: str) -> pd.Series:
    return pd.Series(list(values), index=range(2, 2 + len(values)), dtype="str")


def one(result, i: int = 0) -> tuple[str, str]:
    return result.values.iloc[i], result.codes.iloc[i]


# --- amounts -----------------------------------------------------------------------------------

PAYOUT: dict[str, Any] = {"decimals": 2, "max_int_digits": 16}
SUB: dict[str, Any] = {"decimals": 0, "max_int_digits": 12}


def minor_of(res: Normalised) -> pd.Series:
    assert res.minor is not None
    return res.minor


AMOUNT_OK = [
    ("1500000", "1500000", 150000000),
    ("1500000.00", "1500000", 150000000),
    ("1500000.5", "1500000.50", 150000050),
    ("1500000.50", "1500000.50", 150000050),
    ("Rp 1.500.000", "1500000", 150000000),
    ("Rp1.500.000,-", "1500000", 150000000),
    ("rp. 1.500.000", "1500000", 150000000),
    ("1,500,000", "1500000", 150000000),
    ("1.500.000,00", "1500000", 150000000),
    ("IDR 1,500,000.50", "1500000.50", 150000050),
    ("1.500,5", "1500.50", 150050),
    ("1,50", "1.50", 150),
    ("0.50", "0.50", 50),
    ("007", "7", 700),
    ("  2500  ", "2500", 250000),
    ("1.500,-", "1500", 150000),  # ",-" marks the Indonesian style
    ("1500000.000", "1500000", 150000000),
    ("9999999999999999.99", "9999999999999999.99", 999999999999999999),
]


@pytest.mark.parametrize(("text", "canonical", "minor"), AMOUNT_OK)
def test_parse_amounts_understood_formats_give_canonical_text_and_minor(
    text: str, canonical: str, minor: int
) -> None:
    res = parse_amounts(col(text), **PAYOUT)
    assert one(res) == (canonical, "")
    assert int(minor_of(res).iloc[0]) == minor
    assert minor_of(res).dtype == "int64"


AMOUNT_BAD = [
    ("1.500", "amount-ambiguous"),
    ("1,500", "amount-ambiguous"),
    ("Rp 1.500", "amount-ambiguous"),
    ("0", "amount-zero"),
    ("0.00", "amount-zero"),
    ("-", "amount-zero"),
    ("-5000", "amount-negative"),
    ("(1.000)", "amount-negative"),
    ("Rp -1.500.000", "amount-negative"),
    ("NaN", "amount-not-a-number"),
    ("inf", "amount-not-a-number"),
    ("#VALUE!", "amount-not-a-number"),
    ("1e6", "scientific-notation"),
    ("1E+06", "scientific-notation"),
    ("١٥٠٠", "non-ascii-digits"),
    ("１５００", "non-ascii-digits"),
    ("abc", "amount-invalid"),
    ("1 500 000", "amount-invalid"),
    ("1.500.000.50", "amount-invalid"),
    ("Rp", "amount-invalid"),
    ("12345678901234567", "amount-too-large"),
    ("1500000.123", "amount-too-many-decimals"),
    ("15\u200b00", "non-printable"),
]


@pytest.mark.parametrize(("text", "code"), AMOUNT_BAD)
def test_parse_amounts_bad_text_gets_distinct_code_and_no_value(text: str, code: str) -> None:
    res = parse_amounts(col(text), **PAYOUT)
    assert one(res) == ("", code)
    assert int(minor_of(res).iloc[0]) == 0


@pytest.mark.parametrize(
    ("text", "fmt", "canonical"),
    [
        ("1.500", "id", "1500"),
        ("1,500", "id", "1.50"),
        ("1,500", "en", "1500"),
        ("1.500", "en", "1.50"),
    ],
)
def test_parse_amounts_amount_format_resolves_ambiguity(
    text: str, fmt: str, canonical: str
) -> None:
    res = parse_amounts(col(text), **PAYOUT, amount_format=fmt)  # type: ignore[arg-type]
    assert one(res) == (canonical, "")


@pytest.mark.parametrize(
    ("text", "code"),
    [
        ("1500000.50", "amount-not-whole"),
        ("1.500.000,50", "amount-not-whole"),
        ("1500000.5", "amount-not-whole"),
        ("1234567890123", "amount-too-large"),
    ],
)
def test_parse_amounts_sub_account_rules_reject_cents_and_13_digits(text: str, code: str) -> None:
    assert one(parse_amounts(col(text), **SUB)) == ("", code)


def test_parse_amounts_sub_account_zero_cents_are_whole() -> None:
    res = parse_amounts(col("1500000.00", "Rp 1.500.000,00", "999999999999"), **SUB)
    assert res.values.tolist() == ["1500000", "1500000", "999999999999"]
    assert res.codes.tolist() == ["", "", ""]


def test_parse_amounts_blank_is_blank_not_a_code() -> None:
    res = parse_amounts(col("", "   "), **PAYOUT)
    assert res.blank.tolist() == [True, True]
    assert res.codes.tolist() == ["", ""]


def test_parse_amounts_ambiguous_detail_names_both_readings() -> None:
    res = parse_amounts(col("1.500"), **PAYOUT)
    assert res.details == {2: "it could be 1500 (Indonesian style) or 1.5 (English style)"}


def test_parse_amounts_evidence_counts_unmistakable_styles() -> None:
    res = parse_amounts(col("1.500.000", "2.000.000", "1,500,000", "1500"), **PAYOUT)
    assert res.evidence == {"id": 2, "en": 1}


def test_parse_amounts_mixed_column_keeps_row_alignment() -> None:
    res = parse_amounts(col("1500000", "1.500", "Rp 2.000.000", "2500.50", ""), **PAYOUT)
    assert res.values.tolist() == ["1500000", "", "2000000", "2500.50", ""]
    assert res.codes.tolist() == ["", "amount-ambiguous", "", "", ""]
    assert minor_of(res).tolist() == [150000000, 0, 200000000, 250050, 0]
    assert res.values.index.tolist() == [2, 3, 4, 5, 6]


def _styles(value: Decimal) -> list[str]:
    whole, _, frac = f"{value:.2f}".partition(".")
    grouped = f"{int(whole):,}"
    out = [f"{value:.2f}", f"{grouped}.{frac}", "Rp " + grouped.replace(",", ".") + "," + frac]
    if frac == "00":
        out += [whole, "Rp " + grouped.replace(",", ".") + ",-", grouped]
    return out


@settings(max_examples=300, deadline=None)
@given(
    st.decimals(
        min_value=Decimal("0.01"),
        max_value=Decimal("9999999999999999.99"),
        places=2,
        allow_nan=False,
        allow_infinity=False,
    )
)
def test_parse_amounts_round_trip_every_style_gives_same_value_and_no_float(
    value: Decimal,
) -> None:
    texts = _styles(value)
    # A single group of three after one separator is ambiguous by design; the format option
    # decides it, and both conventions then agree with the value.
    for fmt in ("id", "en"):
        res = parse_amounts(col(*texts), **PAYOUT, amount_format=fmt)  # type: ignore[arg-type]
        for text, canonical, code, minor in zip(
            texts, res.values, res.codes, minor_of(res), strict=True
        ):
            if "," in text and "." not in text and fmt == "id" and not text.endswith(",-"):
                continue  # "1,500" under id means 1.5: a different value, as documented
            assert code == "", (text, code)
            assert isinstance(canonical, str)
            assert Decimal(canonical) == value, text
            assert int(minor) == int(value * 100)
            assert not isinstance(minor, float)


@settings(max_examples=300, deadline=None)
@given(st.text(max_size=25))
def test_parse_amounts_vectorised_path_agrees_with_reference_parser(text: str) -> None:
    res = parse_amounts(col(text), **PAYOUT)
    stripped = text.strip()
    if not stripped:
        assert res.blank.iloc[0]
        return
    ref = parse_amount_text(stripped, **PAYOUT)
    assert (res.values.iloc[0], res.codes.iloc[0], int(minor_of(res).iloc[0])) == (
        ref.canonical,
        ref.code,
        ref.minor,
    )


# --- phones ------------------------------------------------------------------------------------

PHONE_OK = [
    ("0816291271826", "62816291271826"),
    ("+62 816-2912-71826", "62816291271826"),
    ("62816291271826", "62816291271826"),
    ("+62816291271826", "62816291271826"),
    ("(0816) 2912 71826", "62816291271826"),
    ("0816.2912.71826", "62816291271826"),
    ("816291271826", "62816291271826"),
    ("+62 (0)816 2912 71826", "62816291271826"),
    ("0062 816 2912 71826", "62816291271826"),
    ("0812345678", "62812345678"),
    (" 0812-3456-7890 ", "6281234567890"),
]


@pytest.mark.parametrize(("text", "expected"), PHONE_OK)
def test_normalise_phones_common_shapes_become_62_form(text: str, expected: str) -> None:
    assert one(normalise_phones(col(text))) == (expected, "")


@pytest.mark.parametrize(
    ("text", "code"),
    [
        ("8.16291E+11", "scientific-notation"),
        ("٠٨١٦٢٩١٢٧١٨٢٦", "non-ascii-digits"),
        ("0816-CALL-ME", "phone-invalid"),
        ("hello", "phone-invalid"),
        ("+65 9123 4567", "phone-not-indonesian"),
        ("021-5551234", "phone-not-mobile"),
        ("0812345", "phone-length"),
        ("081234567", "phone-not-mobile"),
        ("08123456789012345", "phone-length"),
    ],
)
def test_normalise_phones_bad_numbers_get_codes(text: str, code: str) -> None:
    assert one(normalise_phones(col(text))) == ("", code)


_NATIONAL = st.from_regex(r"8[1-9][0-9]{7,10}", fullmatch=True)


def _phone_shapes(nsn: str) -> list[str]:
    spaced = f"{nsn[:3]} {nsn[3:7]} {nsn[7:]}".strip()
    dashed = f"{nsn[:3]}-{nsn[3:7]}-{nsn[7:]}".strip("-")
    return [
        "0" + nsn,
        "62" + nsn,
        "+62" + nsn,
        "+62 " + spaced,
        "0" + dashed,
        f"(0{nsn[:3]}) {nsn[3:]}",
        nsn,
        "+62 (0)" + spaced,
    ]


@settings(max_examples=200, deadline=None)
@given(_NATIONAL)
def test_normalise_phones_any_format_gives_same_62_string_and_is_idempotent(nsn: str) -> None:
    res = normalise_phones(col(*_phone_shapes(nsn)))
    assert set(res.codes) == {""}
    assert set(res.values) == {"62" + nsn}
    again = normalise_phones(col(*res.values))
    assert again.values.tolist() == res.values.tolist()


# --- emails ------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("siti.rahayu@example.co.id", "siti.rahayu@example.co.id"),
        ("Siti@Example.CO.ID", "Siti@example.co.id"),
        ("  budi+bonus@mail.com ", "budi+bonus@mail.com"),
        ("a_b%c-d@x-y.co.id", "a_b%c-d@x-y.co.id"),
        ("siti@例え.jp", "siti@xn--r8jz45g.jp"),
    ],
)
def test_normalise_emails_valid_addresses_pass_with_domain_lowered(
    text: str, expected: str
) -> None:
    assert one(normalise_emails(col(text))) == (expected, "")


@pytest.mark.parametrize(
    "text",
    [
        "not-an-email",
        "bad@",
        "@x.com",
        "a..b@x.com",
        "a@x",
        "a@x.test",
        "a@-x.com",
        "Budi <budi@x.com>",
        "sití@x.com",
        "a b@x.com",
    ],
)
def test_normalise_emails_invalid_addresses_get_email_invalid(text: str) -> None:
    res = normalise_emails(col(text))
    assert one(res) == ("", "email-invalid")
    assert res.details[2]


_LOCAL = st.from_regex(r"[A-Za-z0-9_%+-]{1,8}(?:\.[A-Za-z0-9_%+-]{1,8}){0,2}", fullmatch=True)
_DOMAIN = st.from_regex(r"(?:[a-z0-9]{1,6}(?:-[a-z0-9]{1,4})?\.){1,2}[a-z]{2,6}", fullmatch=True)


@settings(max_examples=300, deadline=None)
@given(_LOCAL, _DOMAIN)
def test_normalise_emails_fast_path_accepts_only_what_email_validator_accepts(
    local: str, domain: str
) -> None:
    from batchpay.normalize import _check_email

    text = f"{local}@{domain}"
    fast = normalise_emails(col(text))
    value, code, _ = _check_email(text)
    assert (fast.values.iloc[0], fast.codes.iloc[0]) == (value, code)


# --- banks, digits, text -----------------------------------------------------------------------


@pytest.fixture(scope="module")
def banks() -> BankTable:
    return BankTable.load()


@pytest.mark.parametrize(
    ("text", "bic", "code"),
    [
        ("CENAIDJA", "CENAIDJA", ""),
        ("cenaidja", "CENAIDJA", ""),
        ("BCA", "CENAIDJA", ""),
        ("Bank Central Asia", "CENAIDJA", ""),
        ("014", "CENAIDJA", ""),
        ("Mandiri", "BMRIIDJA", ""),
        ("bank mandiri", "BMRIIDJA", ""),
        ("BRI", "BRINIDJA", ""),
        ("BNI", "BNINIDJA", ""),
        ("CIMB", "BNIAIDJA", ""),
        ("CIMB Niaga", "BNIAIDJA", ""),
        ("CENAIDJAXXX", "CENAIDJA", ""),
        ("DEUTDEFF", "DEUTDEFF", "bank-code-unknown"),
        ("Bank Entah", "", "bank-code-invalid"),
        ("14", "", "bank-code-invalid"),
    ],
)
def test_normalise_bank_codes_names_codes_and_bics(
    banks: BankTable, text: str, bic: str, code: str
) -> None:
    assert one(normalise_bank_codes(col(text), banks)) == (bic, code)


def test_normalise_bank_codes_lost_leading_zero_suggests_bi_code(banks: BankTable) -> None:
    res = normalise_bank_codes(col("14"), banks)
    assert "014" in res.details[2]


def test_bank_table_operator_csv_adds_and_overrides(tmp_path) -> None:
    path = tmp_path / "banks.csv"
    path.write_text(
        "bic,bi_code,name,aliases\nSYAIIDJA,451,Bank Syariah Indonesia,BSI\n", encoding="utf-8"
    )
    table = BankTable.load(path)
    assert table.resolve("BSI").bic == "SYAIIDJA"
    assert table.resolve("451").code == ""
    assert table.resolve("BCA").bic == "CENAIDJA"


@pytest.mark.parametrize(
    "content",
    [
        "bic,name\nNOTABIC!,Bad\n",
        "name\nBank\n",
        "bic,bi_code,name\nAAAAIDJA,1,Bank A\n",
        "bic,name,aliases\nAAAAIDJA,Bank A,X\nBBBBIDJA,Bank B,X\n",
    ],
)
def test_bank_table_bad_operator_csv_is_config_error(tmp_path, content: str) -> None:
    path = tmp_path / "banks.csv"
    path.write_text(content, encoding="utf-8")
    with pytest.raises(ConfigError):
        BankTable.load(path)


@pytest.mark.parametrize(
    ("text", "value", "code"),
    [
        ("0123456789", "0123456789", ""),
        ("0123 456 789", "0123456789", ""),
        ("0123-456-789", "0123456789", ""),
        ("1.23457E+11", "", "scientific-notation"),
        ("０１２３", "", "non-ascii-digits"),
        ("12AB34", "", "not-digits"),
        ("123456789.0", "", "not-digits"),
    ],
)
def test_normalise_digits_cases(text: str, value: str, code: str) -> None:
    assert one(normalise_digits(col(text))) == (value, code)


@pytest.mark.parametrize(
    ("text", "collapse", "value", "code"),
    [
        ("  Siti   Rahayu ", True, "Siti Rahayu", ""),
        ("Siti\u00a0Rahayu", True, "Siti Rahayu", ""),
        ("INV  001", False, "INV  001", ""),
        ("Siti\tRahayu", True, "", "non-printable"),
        ("Siti\u200bRahayu", True, "", "non-printable"),
        ("José", True, "José", ""),
    ],
)
def test_normalise_text_trims_collapses_and_flags(
    text: str, collapse: bool, value: str, code: str
) -> None:
    assert one(normalise_text(col(text), collapse=collapse)) == (value, code)


@pytest.mark.parametrize(
    ("text", "value", "code"),
    [
        ("Budi  Santoso", "Budi Santoso", ""),
        ("Ma'ruf Amin", "", "name-invalid-characters"),
        ("Muh. Ali", "", "name-invalid-characters"),
        ("Toko 99", "", "name-invalid-characters"),
    ],
)
def test_normalise_names_letters_and_spaces_only(text: str, value: str, code: str) -> None:
    assert one(normalise_names(col(text))) == (value, code)


def test_normalise_account_types_currencies_and_ids() -> None:
    assert normalise_account_types(col("standard", "Default", "GOLD")).codes.tolist() == [
        "",
        "",
        "account-type-invalid",
    ]
    cur = normalise_currencies(col("idr", "USD", "RP", ""))
    assert cur.values.tolist() == ["IDR", "", "", ""]
    assert cur.codes.tolist() == ["", "currency-unsupported", "currency-invalid", ""]
    ids = normalise_account_ids(col("SAC-0001-1234567890123", "Budi"))
    assert ids.codes.tolist() == ["", "account-id-invalid"]


def test_per_unique_matches_direct_normalisation_and_alignment() -> None:
    s = col(*(["Rp 1.500.000", "1.500", "", "2000"] * 50))
    direct = parse_amounts(s, **PAYOUT)
    spread = per_unique(lambda u: parse_amounts(u, **PAYOUT), s)
    assert spread.values.tolist() == direct.values.tolist()
    assert spread.codes.tolist() == direct.codes.tolist()
    assert minor_of(spread).tolist() == minor_of(direct).tolist()
    assert spread.blank.tolist() == direct.blank.tolist()
    assert spread.details == direct.details
    assert mostly_repeated(s)


@pytest.mark.parametrize(
    ("text", "value", "code"),
    [
        ("BONUS-NOV-0001", "BONUS-NOV-0001", ""),
        ("  INV/2026_11.0001#A  ", "INV/2026_11.0001#A", ""),
        ("INV  001", "INV  001", ""),  # a reference is never collapsed
        ("BONUS-NOV-\uff10\uff10\uff101", "", "non-ascii-digits"),  # full-width digits
        ("B\u041eNUS-NOV-0001", "", "reference-not-ascii"),  # Cyrillic capital O
        ("\uff22-1", "", "reference-not-ascii"),  # full-width B
        ("INV\u00a0001", "", "reference-not-ascii"),  # no-break space
        ("-R2", "", "formula-prefix"),
        ("=cmd|' /C calc'!A0", "", "formula-prefix"),
        ("+62812", "", "formula-prefix"),
        ("@SUM(A1)", "", "formula-prefix"),
        ("R2-", "R2-", ""),
        ("INV\u200b1", "", "non-printable"),
    ],
)
def test_normalise_references_ascii_only_and_no_formula_prefix(
    text: str, value: str, code: str
) -> None:
    assert one(normalise_references(col(text))) == (value, code)


def test_normalise_references_detail_names_the_character() -> None:
    res = normalise_references(col("OK-1", "B\u041eNUS-NOV-0001", "-R2"))
    assert res.details == {
        3: "'\u041e' (CYRILLIC CAPITAL LETTER O), which looks like a Latin letter but is not one",
        4: "-",
    }
    assert not_ascii_detail("caf\u00e9") == "'\u00e9' (LATIN SMALL LETTER E WITH ACUTE)"


def test_normalise_references_per_unique_agrees_with_direct() -> None:
    raw = col(*(["INV-1", "-R2", "B\u041eNUS", "INV-2"] * 50))
    direct, spread = normalise_references(raw), per_unique(normalise_references, raw)
    assert spread.values.tolist() == direct.values.tolist()
    assert spread.codes.tolist() == direct.codes.tolist()
    assert spread.details == direct.details


@pytest.mark.parametrize(
    ("text", "value", "code"),
    [
        ("PT Maju Jaya", "PT Maju Jaya", ""),
        ('=HYPERLINK("http://x","y")', "", "formula-prefix"),
        ("@SUM(A1)", "", "formula-prefix"),
        ("+1 bonus", "", "formula-prefix"),
        ("- bonus", "", "formula-prefix"),
        ("  =1+1", "", "formula-prefix"),  # trimmed first
        ("Bonus Q4 - 2026", "Bonus Q4 - 2026", ""),
        ("Bonus +10%", "Bonus +10%", ""),
    ],
)
def test_normalise_text_formulas_refuses_leading_formula_prefix(
    text: str, value: str, code: str
) -> None:
    assert one(normalise_text(col(text), formulas=True)) == (value, code)
    # Without the flag (Sub Account ids, currencies) the value is kept as before.
    assert one(normalise_text(col(text)))[1] == ""


def test_normalise_names_formula_prefix_before_letters_rule() -> None:
    assert one(normalise_names(col("=cmd"))) == ("", "formula-prefix")
    assert one(normalise_names(col("-Budi"))) == ("", "formula-prefix")
