"""Table → ValidationResult: normalise every field, run the kind's pandera model, and turn its
failure cases into :class:`~batchpay.problems.Problem` values.

Validation is forced on (``config_context(validation_enabled=True)``, full depth) so neither
``PANDERA_VALIDATION_ENABLED=False`` nor ``PANDERA_VALIDATION_DEPTH=SCHEMA_ONLY`` in the
environment can let a bad sheet through (STYLE.md), and it is always lazy: every problem of
every row is reported, not the first.
"""

from __future__ import annotations

import os
from collections import defaultdict
from collections.abc import Callable, Hashable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from decimal import Decimal
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np
import pandas as pd
import pandera.pandas as pa
from pandera.config import ValidationDepth, config_context
from pandera.errors import SchemaErrors

from batchpay import normalize, schemas
from batchpay.banks import BankTable
from batchpay.kinds import Field, Kind, canonical_amount
from batchpay.problems import Problem, sort_key
from batchpay.references import reference_key

if TYPE_CHECKING:
    from batchpay.headers import Table

AmountFormat = normalize.AmountFormat

# Sheets from this size on are normalised with a thread per core (see validate_table).
_PARALLEL_FROM_ROWS = 20_000
_WORKERS = max(1, min(4, os.cpu_count() or 1))


@dataclass
class ValidationResult:
    table: Table
    # Same index as table.frame; one column per field ('' where blank or invalid), plus
    # "amount_minor" (int64, amount × 100, 0 where invalid) for kinds that move money.
    normalised: pd.DataFrame
    problems: list[Problem]  # load + field + cross-row, sorted by (row, column, code)
    invalid_row_numbers: set[int] = field(default_factory=set)
    totals: dict[str, Decimal] = field(default_factory=dict)  # per currency, valid rows only

    @property
    def errors(self) -> list[Problem]:
        return [p for p in self.problems if p.severity == "error"]

    @property
    def warnings(self) -> list[Problem]:
        return [p for p in self.problems if p.severity == "warning"]

    @property
    def ok(self) -> bool:
        return not any(p.severity == "error" for p in self.problems)

    @property
    def rows(self) -> int:
        return len(self.normalised)

    @property
    def valid_rows(self) -> int:
        return self.rows - len(self.invalid_row_numbers)

    def problem_counts(self) -> dict[str, int]:
        counts: dict[str, int] = defaultdict(int)
        for p in self.problems:
            counts[p.code] += 1
        return dict(sorted(counts.items()))

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready (amounts as strings, never floats)."""
        source = self.table.source
        return {
            "file": str(source.path),
            "sheet": source.sheet_name,
            "kind": self.table.kind.name,
            "ok": self.ok,
            "rows": self.rows,
            "valid_rows": self.valid_rows,
            "invalid_rows": sorted(self.invalid_row_numbers),
            "totals": {cur: str(amount) for cur, amount in self.totals.items()},
            "problem_counts": self.problem_counts(),
            "problems": [p.to_dict() for p in self.problems],
        }


def validate_file(
    path: str | Path,
    *,
    kind: str | None = None,
    sheet: str | None = None,
    mapping: dict[str, str] | None = None,
    amount_format: AmountFormat | None = None,
    banks: BankTable | None = None,
) -> ValidationResult:
    """Load ``path`` (CSV/XLSX) and validate it. Raises InputError when it cannot be read."""
    from batchpay.headers import load_table  # the loader lives beside Table; import on use

    table = load_table(path, kind=kind, sheet=sheet, mapping=mapping)
    return validate_table(table, amount_format=amount_format, banks=banks)


def validate_table(
    table: Table,
    *,
    amount_format: AmountFormat | None = None,
    banks: BankTable | None = None,
) -> ValidationResult:
    """Normalise and check every row of ``table``; problems are returned, never raised."""
    kind = table.kind
    frame = table.frame
    if banks is None and any(f.type == "bic" for f in kind.fields):
        banks = BankTable.load()

    columns: dict[str, Any] = {}
    details: dict[str, dict[Hashable, str]] = {}
    evidence: dict[str, int] = {}
    minor: pd.Series | None = None

    def normalise(f: Field) -> normalize.Normalised:
        # One pyarrow string column per field; the loader gives '' for empty cells, and a
        # NaN from elsewhere becomes '' too, so it never reaches the regexes.
        cells = (
            normalize.as_arrow(frame[f.name])
            if f.name in frame.columns
            else normalize.blanks(len(frame.index))
        )
        raw = normalize.text_series(cells, frame.index)
        return _normalise(f, kind, raw, amount_format, banks)

    if len(frame) >= _PARALLEL_FROM_ROWS:
        # The normalisers spend most of their time in pyarrow kernels, which release the
        # GIL: fields are normalised side by side, one per core.
        with ThreadPoolExecutor(max_workers=_WORKERS) as pool:
            results = list(pool.map(normalise, kind.fields))
    else:
        results = [normalise(f) for f in kind.fields]
    for f, res in zip(kind.fields, results, strict=True):
        codes = res.codes.to_numpy(dtype=object)
        if f.required:
            codes = np.where(res.blank.to_numpy(dtype=bool), "required", codes)
        values = normalize.as_arrow(res.values)
        columns[f.name] = normalize.text_series(values, frame.index)
        columns[schemas.code_column(f.name)] = _categorical(codes, f)
        if schemas.has_length_rule(f):
            # Characters, as len() counts them (code points).
            columns[schemas.length_column(f.name)] = normalize.char_lengths(values)
        details[f.name] = res.details
        if f.type == "amount":
            minor = res.minor
            evidence = res.evidence
    check_frame = pd.DataFrame(columns, index=frame.index, copy=False)

    failures = run_model(kind, check_frame)
    problems = list(table.problems)
    problems += _without_explained(
        _to_problems(failures, table, check_frame, details, evidence), table.problems
    )
    problems.sort(key=sort_key)

    normalised = pd.DataFrame(
        {f.name: check_frame[f.name] for f in kind.fields}, index=frame.index, copy=False
    )
    if kind.amount_field is not None:
        normalised["amount_minor"] = (
            minor if minor is not None else pd.Series(0, index=frame.index, dtype=np.int64)
        )
    invalid = _blank_invalid(normalised, problems, kind)
    totals = _totals(normalised, kind, invalid)
    if len(frame) >= _PARALLEL_FROM_ROWS:
        # The check frame and the normalisers' intermediate columns are gone; hand their
        # memory back rather than keep it in pyarrow's pool for the rest of a long run.
        normalize.release_unused_memory()
    return ValidationResult(table, normalised, problems, invalid, totals)


# Loader findings that already say everything about a cell's content: a formula with no
# value, an Excel error (#N/A) or a number Excel turned into 8.16E+11. A field check on the
# same cell ("required", "phone-invalid") would only repeat it in vaguer words.
_EXPLAINS_CELL = frozenset({"formula-no-value", "error-value", "scientific-notation"})


def _without_explained(
    field_problems: list[Problem], load_problems: list[Problem]
) -> list[Problem]:
    explained = {
        (p.row, p.column)
        for p in load_problems
        if p.code in _EXPLAINS_CELL and p.severity == "error"
    }
    if not explained:
        return field_problems
    return [p for p in field_problems if (p.row, p.column) not in explained]


def _categorical(codes: np.ndarray, f: Field) -> pd.Categorical[str]:
    """The F__code column: categorical, so each pandera code check is an integer compare."""
    categories = ("", *schemas.PARSE_CODES[f.type])
    lookup = {code: i for i, code in enumerate(categories)}
    ints = np.zeros(len(codes), dtype=np.int8)
    for pos in np.flatnonzero(codes != ""):
        code = codes[pos]
        if code not in lookup:  # a code the model does not check would vanish silently
            raise RuntimeError(f"normaliser for {f.name} emitted unchecked code {code!r}")
        ints[pos] = lookup[code]
    return pd.Categorical.from_codes(ints, categories=pd.Index(categories))


def _normalise(
    f: Field,
    kind: Kind,
    raw: pd.Series,
    amount_format: AmountFormat | None,
    banks: BankTable | None,
) -> normalize.Normalised:
    fn: Callable[[pd.Series], normalize.Normalised]
    if f.type == "amount":

        def parse(s: pd.Series) -> normalize.Normalised:
            return normalize.parse_amounts(
                s,
                decimals=kind.amount_decimals,
                max_int_digits=kind.amount_max_int_digits,
                amount_format=amount_format,
            )

        fn = parse
    elif f.type == "phone":

        def phones(s: pd.Series) -> normalize.Normalised:
            return normalize.normalise_phones(s, min_digits=f.min_len, max_digits=f.max_len or 14)

        fn = phones
    elif f.type == "email":
        fn = normalize.normalise_emails
    elif f.type == "bic":
        assert banks is not None
        return normalize.normalise_bank_codes(raw, banks)
    elif f.type == "digits":
        fn = normalize.normalise_digits
    elif f.type == "name":
        fn = normalize.normalise_names
    elif f.type == "account_id":
        fn = normalize.normalise_account_ids
    elif f.type == "account_type":
        fn = normalize.normalise_account_types
    elif f.type == "currency":
        fn = normalize.normalise_currencies
    elif f.type == "reference":
        # Not collapsed: every character of a reference is part of the id.
        fn = normalize.normalise_references
    else:
        # Free text: whitespace runs are collapsed (a double space is never meant), and a
        # leading formula prefix is refused.

        def text(s: pd.Series) -> normalize.Normalised:
            return normalize.normalise_text(s, collapse=True, formulas=True)

        fn = text
    if normalize.mostly_repeated(raw):
        return normalize.per_unique(fn, raw)
    return fn(raw)


def run_model(kind: Kind, check_frame: pd.DataFrame) -> pd.DataFrame:
    """Validate ``check_frame`` with the kind's model; failures as (row, column, code) rows."""
    model = schemas.MODELS[kind.name]
    schema = model.to_schema()
    empty = pd.DataFrame(
        {
            "row": pd.Series(dtype=np.int64),
            "column": pd.Series(dtype=object),
            "code": pd.Series(dtype=object),
        }
    )
    with config_context(validation_enabled=True, validation_depth=ValidationDepth.SCHEMA_AND_DATA):
        try:
            schema.validate(check_frame, lazy=True, inplace=True)
        except SchemaErrors as exc:
            return _failures(schema, exc.failure_cases)
    return empty


def _failures(schema: pa.DataFrameSchema, cases: pd.DataFrame) -> pd.DataFrame:
    out = []
    if cases["check_number"].isna().any() or cases["index"].isna().any():
        # A dtype or missing-column failure means validate built the frame wrongly.
        raise RuntimeError(f"schema failure outside the data checks:\n{cases.head()}")
    frame_level = cases["schema_context"] == "DataFrameSchema"
    # A dataframe-level check lists every column of a failing row; one problem per row.
    for number, group in cases[frame_level].groupby("check_number", sort=False):
        check = schema.checks[int(str(number))]
        rows = group["index"].astype(np.int64).unique()
        # The only dataframe-level check compares origin and destination; report it on the
        # destination cell, which is the one to change.
        out.append(pd.DataFrame({"row": rows, "column": "destination", "code": check.name}))
    by_check = cases[~frame_level].groupby(["column", "check_number"], sort=False)
    for key, group in by_check:
        column, number = str(key[0]), int(str(key[1]))  # type: ignore[index]
        check = schema.columns[column].checks[number]
        field_name = (
            str(column).removesuffix(schemas.CODE_SUFFIX).removesuffix(schemas.LENGTH_SUFFIX)
        )
        out.append(
            pd.DataFrame(
                {
                    "row": group["index"].astype(np.int64).to_numpy(),
                    "column": field_name,
                    "code": check.name,
                }
            )
        )
    return pd.concat(out, ignore_index=True)


def _to_problems(
    failures: pd.DataFrame,
    table: Table,
    check_frame: pd.DataFrame,
    details: dict[str, dict[Hashable, str]],
    evidence: dict[str, int],
) -> list[Problem]:
    kind = table.kind
    frame = table.frame
    problems: list[Problem] = []
    for (column, code), group in failures.groupby(["column", "code"], sort=False):
        f = kind.field(str(column))
        rule = schemas.RULES[str(code)]
        rows = group["row"].tolist()
        raw = frame[f.name] if f.name in frame.columns else pd.Series("", index=frame.index)
        raw_values = raw.loc[rows].tolist()
        base: dict[str, Any] = {
            "field": f.name,
            "description": f.description,
            "max_len": f.max_len,
            "min_len": f.min_len,
            "decimals": kind.amount_decimals,
            "max_int_digits": kind.amount_max_int_digits,
            "detail": "",
            "others": "",
            "evidence": "",
            "length": "",
        }
        if code == "amount-ambiguous":
            base["evidence"] = _evidence(evidence)
        others = _others(check_frame[f.name], rows) if code == "duplicate-reference" else {}
        field_details = details.get(f.name, {})
        for row, value in zip(rows, raw_values, strict=True):
            ctx = dict(base)
            detail = field_details.get(row, "")
            if code == "bank-code-invalid" and detail:
                detail = f" ({detail})"
            ctx["detail"] = detail
            if code in ("too-long", "too-short"):
                ctx["length"] = len(str(check_frame.at[row, f.name]))
            if others:
                ctx["others"] = others[row]
            problems.append(
                Problem(
                    row=int(row),
                    column=f.name,
                    value=str(value),
                    code=rule.code,
                    message=rule.message.format_map(ctx),
                    hint=rule.hint.format_map(ctx),
                    severity=rule.severity,
                )
            )
    return problems


def _evidence(counts: dict[str, int]) -> str:
    if counts.get("id") and not counts.get("en"):
        return (
            " Other amounts in this sheet use the Indonesian style (1.500.000), so "
            "--amount-format id is probably right."
        )
    if counts.get("en") and not counts.get("id"):
        return (
            " Other amounts in this sheet use the English style (1,500,000), so "
            "--amount-format en is probably right."
        )
    return ""


def _others(values: pd.Series, rows: list[int]) -> dict[int, str]:
    """For each duplicated row, the other rows with the same reference (at most 5 named)."""
    groups: dict[str, list[int]] = defaultdict(list)
    for row, value in zip(rows, values.loc[rows].tolist(), strict=True):
        groups[reference_key(value)].append(int(row))
    out = {}
    for members in groups.values():
        for row in members:
            rest = [r for r in members if r != row]
            shown = ", ".join(str(r) for r in rest[:5])
            more = f" and {len(rest) - 5} more" if len(rest) > 5 else ""
            out[row] = ("row " if len(rest) == 1 else "rows ") + shown + more
    return out


def _blank_invalid(normalised: pd.DataFrame, problems: list[Problem], kind: Kind) -> set[int]:
    """Blank every normalised cell an error names; return the rows with any error."""
    invalid: set[int] = set()
    cells: dict[str, list[int]] = defaultdict(list)
    for p in problems:
        if p.severity != "error" or p.row is None:
            continue
        invalid.add(p.row)
        if p.column is not None and p.column in normalised.columns:
            cells[p.column].append(p.row)
    for column, rows in cells.items():
        positions = normalised.index.get_indexer(pd.Index(rows))
        values = normalize.as_arrow(normalised[column])
        # Most error cells normalised to '' already; only rewrite a column that changes.
        if any(values.take(positions).to_pylist()):
            where = np.zeros(len(normalised), dtype=bool)
            where[positions] = True
            normalised[column] = normalize.text_series(
                normalize.blank_where(values, where), normalised.index
            )
        if column == kind.amount_field and "amount_minor" in normalised.columns:
            minor = normalised["amount_minor"].to_numpy(dtype=np.int64, copy=True)
            minor[positions] = 0
            normalised["amount_minor"] = minor
    return invalid


def _totals(normalised: pd.DataFrame, kind: Kind, invalid: set[int]) -> dict[str, Decimal]:
    if kind.amount_field is None:
        return {}
    valid = ~normalised.index.isin(list(invalid))
    minor = normalised["amount_minor"].to_numpy(dtype=np.int64)[valid]
    if not len(minor):
        return {}
    if "currency" in normalised.columns:
        # A blank currency is rupiah; one pass over the distinct values, not the rows.
        codes, values = normalize.encode(normalize.as_arrow(normalised["currency"]))
        labels = [v or "IDR" for v in values]
        names = np.array(sorted(set(labels)), dtype=object)
        group_of = np.array([list(names).index(label) for label in labels], dtype=np.intp)
        positions = group_of[codes[valid]] if len(codes) else np.zeros(0, dtype=np.intp)
    else:
        positions, names = np.zeros(len(minor), dtype=np.intp), np.array(["IDR"])  # rupiah
    totals: dict[str, Decimal] = {}
    for i, cur in enumerate(names):
        group = minor[positions == i]
        # int64 sums only where they cannot overflow (a million 16-digit amounts would);
        # otherwise Python ints. Never a float.
        if len(group) and int(group.max()) < (2**63 - 1) // len(group):
            total = int(group.sum())
        else:
            total = sum(group.tolist())
        totals[str(cur)] = canonical_amount(Decimal(total).scaleb(-2))
    return dict(sorted(totals.items()))
