"""The kind's pandera model run on the check frame, and its failure cases turned into
:class:`~batchpay.problems.Problem` values worded by :data:`batchpay.schemas.RULES`."""

from __future__ import annotations

import functools
from collections import defaultdict
from collections.abc import Hashable, Mapping
from typing import TYPE_CHECKING, Any

import numpy as np
import pandas as pd

from batchpay import schemas
from batchpay.kinds import Kind
from batchpay.pandera_lib import SchemaErrors, ValidationDepth, config_context, pa
from batchpay.problems import Problem
from batchpay.references import reference_key
from batchpay.validate.sanity import ambiguity_hint

if TYPE_CHECKING:
    from batchpay.headers import Table


def run_model(
    kind: Kind, check_frame: pd.DataFrame, codes: Mapping[str, np.ndarray] | None = None
) -> pd.DataFrame:
    """Validate ``check_frame`` with the kind's model; failures as (row, column, code) rows,
    preceded by the parse codes the normalisers gave (``codes``: per field, each cell's index
    in ``("", *schemas.PARSE_CODES[type])``). Those codes are the normalisers' verdicts and
    are read off as they are: checking each again in the model cost more than the rest of
    the model together (0.4 s of 0.5 s on a million rows)."""
    schema = _schema(kind.name)
    out = [_code_failures(kind, check_frame.index, codes or {})]
    with config_context(validation_enabled=True, validation_depth=ValidationDepth.SCHEMA_AND_DATA):
        try:
            schema.validate(check_frame, lazy=True, inplace=True)
        except SchemaErrors as exc:
            out.append(_failures(schema, exc.failure_cases))
    return pd.concat(out, ignore_index=True) if len(out) > 1 else out[0]


@functools.cache
def _schema(kind_name: str) -> pa.DataFrameSchema:
    return schemas.MODELS[kind_name].to_schema()


def _code_failures(kind: Kind, index: pd.Index, codes: Mapping[str, np.ndarray]) -> pd.DataFrame:
    """(row, column, code) for every cell with a parse code."""
    rows: list[np.ndarray] = [np.zeros(0, dtype=np.int64)]
    columns: list[np.ndarray] = [np.zeros(0, dtype=object)]
    names: list[np.ndarray] = [np.zeros(0, dtype=object)]
    labels = index.to_numpy()
    for f in kind.fields:
        numbers = codes.get(f.name)
        if numbers is None:
            continue
        hit = np.flatnonzero(numbers)
        if not len(hit):
            continue
        categories = np.array(("", *schemas.PARSE_CODES[f.type]), dtype=object)
        rows.append(labels[hit].astype(np.int64))
        columns.append(np.full(len(hit), f.name, dtype=object))
        names.append(categories[numbers[hit]])
    return pd.DataFrame(
        {
            "row": np.concatenate(rows),
            "column": np.concatenate(columns),
            "code": np.concatenate(names),
        }
    )


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
        field_name = str(column).removesuffix(schemas.LENGTH_SUFFIX)
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


def to_problems(
    failures: pd.DataFrame,
    table: Table,
    check_frame: pd.DataFrame,
    details: dict[str, dict[Hashable, str]],
    evidence: dict[str, int],
    median_minor: int | None = None,
) -> list[Problem]:
    """The failures as problems; ``evidence`` (amount styles seen) and ``median_minor`` (the
    sheet's median amount) word the hint on an ambiguous amount."""
    kind = table.kind
    frame = table.frame
    problems: list[Problem] = []
    hints: dict[str, str] = {}
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
            if code == "amount-ambiguous":
                ctx["evidence"] = _hint(hints, str(value), kind, evidence, median_minor)
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


def _hint(
    hints: dict[str, str], text: str, kind: Kind, evidence: dict[str, int], median: int | None
) -> str:
    """The evidence part of an ambiguous amount's hint; the same few texts (1.500, 2.500)
    recur over a sheet, so each is read both ways once (``hints`` remembers)."""
    if text not in hints:
        hints[text] = "".join(ambiguity_hint(text, kind, evidence, median))
    return hints[text]


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
