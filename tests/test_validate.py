"""validate_table / validate_file: problems as values, forced-on validation, result summary."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import textwrap
from decimal import Decimal
from pathlib import Path

import pandas as pd
import pandera.config
import pytest

from batchpay import headers, normalize
from batchpay.problems import Problem
from batchpay.validate import validate_file, validate_table
from tests.test_schemas import GOOD, make_table, row

PL = "payout-link"


def test_validate_table_pandera_disabled_in_environment_still_finds_problems(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("PANDERA_VALIDATION_ENABLED", "False")
    pandera.config.set_config(validation_enabled=False, validation_depth="SCHEMA_ONLY")
    pandera.config.reset_config_context()
    try:
        assert not pandera.config.get_config_context().validation_enabled
        result = validate_table(make_table(PL, [row(PL, 1, amount="1.500")]))
    finally:
        pandera.config.set_config(validation_enabled=True, validation_depth="SCHEMA_AND_DATA")
        pandera.config.reset_config_context()
    assert [p.key for p in result.problems] == [(2, "amount", "amount-ambiguous")]


def test_validate_table_pandera_env_off_in_fresh_process_still_finds_problems() -> None:
    # The environment variable is read when pandera is imported: prove it in a new process.
    script = textwrap.dedent("""
        import sys
        sys.path.insert(0, ".")
        from tests.test_schemas import make_table, row
        from batchpay.validate import validate_table
        t = make_table("payout-link", [row("payout-link", 1, receiver_email="bad@")])
        print([p.key for p in validate_table(t).problems])
    """)
    env = dict(
        os.environ, PANDERA_VALIDATION_ENABLED="False", PANDERA_VALIDATION_DEPTH="SCHEMA_ONLY"
    )
    out = subprocess.run(
        [sys.executable, "-c", script],
        capture_output=True,
        text=True,
        env=env,
        cwd=Path(__file__).resolve().parents[1],
        check=True,
        timeout=120,
    )
    assert out.stdout.strip() == "[(2, 'receiver_email', 'email-invalid')]"


def test_validate_table_problem_fields_carry_original_value_and_clerk_text() -> None:
    result = validate_table(make_table(PL, [row(PL, 1, receiver_phone_number="8.16291E+11")]))
    (p,) = result.problems
    assert p == Problem(
        row=2,
        column="receiver_phone_number",
        value="8.16291E+11",
        code="scientific-notation",
        message="Excel turned the number into scientific notation, so digits may be lost.",
        hint=(
            "Format the column as Text and retype the full number (e.g. 0816291271826); "
            "Excel drops digits when it shows 8.16291E+11."
        ),
    )


def test_validate_table_duplicates_name_the_other_rows() -> None:
    rows = [row(PL, i, reference_id="SAME") for i in range(3)] + [row(PL, 9)]
    result = validate_table(make_table(PL, rows))
    messages = {p.row: p.message for p in result.problems}
    assert set(messages) == {2, 3, 4}
    assert "also in rows 3, 4" in messages[2]
    assert "also in rows 2, 3" in messages[4]


def test_validate_table_ambiguous_hint_says_what_each_format_pays_on_that_row() -> None:
    # Issue 10: "--amount-format id is probably right" for 'Rp 1.500' among millions made
    # the sheet valid and would have paid IDR 1,500. The hint now says what each convention
    # does to this row, and that it is far under the sheet's median.
    rows = [row(PL, 1, amount="Rp 1.500.000"), row(PL, 2, amount="1.500")]
    (p,) = validate_table(make_table(PL, rows)).problems
    assert p.code == "amount-ambiguous"
    assert "probably right" not in p.hint
    assert (
        "with --amount-format id this row would pay IDR 1,500 (one thousand five hundred); "
        "with --amount-format en this row would pay IDR 1.50 (one and 50/100)."
    ) in p.hint
    assert "written the Indonesian way (1.500.000)" in p.hint
    assert "median amount is IDR 1,500,000, over 1,000× more than IDR 1,500" in p.hint
    assert "1500 (Indonesian style) or 1.5 (English style)" in p.message


def test_validate_table_ambiguous_hint_whole_rupiah_kind_says_en_stays_invalid() -> None:
    kind = "sub-account-payout"
    (p,) = validate_table(make_table(kind, [row(kind, 1, amount="1.500")])).problems
    assert "with --amount-format id this row would pay IDR 1,500" in p.hint
    assert "with --amount-format en it would not be a valid amount (amount-not-whole)" in p.hint


def test_validate_table_amount_format_option_settles_ambiguity() -> None:
    result = validate_table(make_table(PL, [row(PL, 1, amount="1.500")]), amount_format="id")
    assert result.ok
    assert result.normalised.loc[2, "amount"] == "1500"
    assert result.normalised.loc[2, "amount_minor"] == 150000


def test_validate_table_load_problems_included_and_make_rows_invalid() -> None:
    table = make_table(PL, [row(PL, 1), row(PL, 2)])
    table.problems.append(
        Problem(
            3, "reference_id", "12345", "numeric-identifier", "stored as a number", "format as Text"
        )
    )
    table.problems.append(
        Problem(
            None, None, None, "cp1252-fallback", "not UTF-8", "save as UTF-8", severity="warning"
        )
    )
    result = validate_table(table)
    assert [p.key for p in result.problems] == [
        (None, None, "cp1252-fallback"),
        (3, "reference_id", "numeric-identifier"),
    ]
    assert result.invalid_row_numbers == {3}
    assert result.valid_rows == 1
    assert not result.ok
    assert result.normalised.loc[3, "reference_id"] == ""


def test_validate_table_errors_blank_normalised_cells_and_warnings_keep_them() -> None:
    k = "sub-account-payout"
    rows = [row(k, 1, bank_code="deutdeff"), row(k, 2, amount="12.50", bank_code="014")]
    result = validate_table(make_table(k, rows))
    assert [p.key for p in result.problems] == [
        (2, "bank_code", "bank-code-unknown"),
        (3, "amount", "amount-not-whole"),
    ]
    assert [p.severity for p in result.problems] == ["warning", "error"]
    assert result.normalised["bank_code"].tolist() == ["DEUTDEFF", "CENAIDJA"]
    assert result.normalised["amount"].tolist() == ["2500000", ""]
    assert result.normalised["amount_minor"].tolist() == [250000000, 0]
    assert result.invalid_row_numbers == {3}
    assert result.totals == {"IDR": Decimal("2500000")}
    assert len(result.warnings) == 1 and len(result.errors) == 1


def test_validate_table_totals_per_currency_over_valid_rows_only() -> None:
    rows = [
        row(PL, 1, amount="1500000.50"),
        row(PL, 2, amount="Rp 2.000.000", currency=""),
        row(PL, 3, amount="999", receiver_email="bad@"),
    ]
    result = validate_table(make_table(PL, rows))
    assert result.totals == {"IDR": Decimal("3500000.50")}
    assert all(isinstance(v, Decimal) for v in result.totals.values())


def test_validate_table_to_dict_is_json_with_amounts_as_strings() -> None:
    rows = [row(PL, 1, amount="1500000.50"), row(PL, 2, amount="abc")]
    result = validate_table(make_table(PL, rows))
    data = json.loads(json.dumps(result.to_dict()))
    assert data["totals"] == {"IDR": "1500000.50"}
    assert data["rows"] == 2 and data["valid_rows"] == 1 and data["invalid_rows"] == [3]
    assert data["problem_counts"] == {"amount-invalid": 1}
    assert data["problems"][0]["code"] == "amount-invalid"
    assert data["kind"] == PL and data["ok"] is False


def test_validate_table_normalised_has_fields_and_amount_minor_int64() -> None:
    result = validate_table(
        make_table(
            PL, [row(PL, 1, receiver_phone_number="+62 816-2912-7182", sender_name=" PT  Maju ")]
        )
    )
    assert list(result.normalised.columns) == [*GOOD[PL], "amount_minor"]
    assert result.normalised["amount_minor"].dtype == "int64"
    assert result.normalised.loc[2, "receiver_phone_number"] == "6281629127182"
    assert result.normalised.loc[2, "sender_name"] == "PT Maju"
    assert result.ok and result.rows == 1 and result.valid_rows == 1


def test_validate_table_missing_optional_column_is_blank() -> None:
    table = make_table(PL, [row(PL, 1)])
    table.frame = table.frame.drop(columns=["description", "currency"])
    result = validate_table(table)
    assert result.ok
    assert result.normalised.loc[2, "currency"] == ""


def test_validate_table_nan_cells_are_treated_as_empty() -> None:
    table = make_table(PL, [row(PL, 1)])
    table.frame["description"] = pd.Series([None], index=table.frame.index, dtype=object)
    assert validate_table(table).ok


def test_validate_table_unchecked_normaliser_code_is_a_bug_not_silence(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    real = normalize.normalise_emails

    def broken(raw: pd.Series) -> normalize.Normalised:
        res = real(raw)
        res.codes[:] = "made-up-code"
        return res

    monkeypatch.setattr(normalize, "normalise_emails", broken)
    with pytest.raises(RuntimeError, match="made-up-code"):
        validate_table(make_table(PL, [row(PL, 1)]))


def test_validate_table_problems_sorted_by_row_column_code() -> None:
    rows = [row(PL, 1, receiver_email="bad@", amount="0"), row(PL, 2, currency="EUR")]
    keys = [p.key for p in validate_table(make_table(PL, rows)).problems]
    assert keys == sorted(keys, key=lambda k: (k[0] or -1, k[1] or "", k[2]))
    assert len(keys) == 3


def test_validate_file_loads_lazily_through_headers(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    seen: dict[str, object] = {}

    def fake_load_table(path, *, kind=None, sheet=None, mapping=None, provided=None):
        seen.update(path=path, kind=kind, sheet=sheet, mapping=mapping, provided=provided)
        return make_table(PL, [row(PL, 1, amount="1,500")])

    monkeypatch.setattr(headers, "load_table", fake_load_table, raising=False)
    result = validate_file(
        tmp_path / "x.csv", kind=PL, sheet="S", mapping={"A": "amount"}, amount_format="en"
    )
    assert seen == {
        "path": tmp_path / "x.csv",
        "kind": PL,
        "sheet": "S",
        "mapping": {"A": "amount"},
        "provided": set(),  # no --set values
    }
    assert result.normalised.loc[2, "amount"] == "1500"


@pytest.mark.parametrize(
    "kind", ["payout-link", "sub-account-payout", "sub-account-transfer", "sub-account-create"]
)
def test_validate_table_empty_sheet_is_ok_with_no_totals(kind: str) -> None:
    result = validate_table(make_table(kind, []))
    assert result.ok and result.rows == 0 and result.totals == {} and result.problems == []
    assert list(result.normalised.columns)[: len(GOOD[kind])] == list(GOOD[kind])
