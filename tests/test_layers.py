"""The layers of batchpay, checked on every import in the source (lazy ones too): surfaces
call the service, the service calls the libraries, the libraries call the core, and nothing
imports upward (docs/architecture.md "Layers").

    cli (and later web)                                        surfaces
    runs                                                       the service
    journal, doku, validation, reconcile, workbook, emulator   libraries
    states, errors, problems, money, config, references, kinds core
"""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

PACKAGE = Path(__file__).resolve().parents[1] / "batchpay"

LAYERS: dict[str, int] = {
    # core
    "states": 0,
    "errors": 0,
    "problems": 0,
    "money": 0,
    "config": 0,
    "references": 0,
    "kinds": 0,
    "profile": 0,
    "policy": 0,
    "__init__": 0,
    "__main__": 3,
    # libraries
    "journal": 1,
    "doku": 1,
    "reconcile": 1,
    "workbook": 1,
    "emulator": 1,
    # validation: file → text grid → problems
    "sheet": 1,
    "headers": 1,
    "header_match": 1,
    "normalize": 1,
    "schemas": 1,
    "pandera_lib": 1,
    "validate": 1,
    "banks": 1,
    "templates": 1,
    # the service
    "runs": 2,
    # surfaces
    "cli": 3,
    "web": 3,
}
# Limits of issue 9 ("Done when"): no module over 400 lines, no function over 60.
MAX_MODULE_LINES = 400
MAX_FUNCTION_LINES = 60


def _modules() -> list[Path]:
    return sorted(p for p in PACKAGE.rglob("*.py") if "__pycache__" not in p.parts)


def _top(path: Path) -> str:
    parts = path.relative_to(PACKAGE).with_suffix("").parts
    return parts[0]


def _imports(path: Path) -> set[str]:
    """Top-level batchpay sub-packages ``path`` imports (relative imports resolved)."""
    tree = ast.parse(path.read_text(encoding="utf-8"))
    here = path.relative_to(PACKAGE).with_suffix("").parts
    found: set[str] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            names = [a.name for a in node.names]
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                base = list(here[: len(here) - node.level])
                if path.name == "__init__.py":
                    base = list(here[: len(here) - node.level + 1])
                names = [".".join(["batchpay", *base, *(node.module or "").split(".")])]
                if not base and not node.module:
                    names = [f"batchpay.{a.name}" for a in node.names]
            else:
                names = [node.module or ""]
                if node.module == "batchpay":
                    names = [f"batchpay.{a.name}" for a in node.names]
        else:
            continue
        for name in names:
            parts = name.split(".")
            if parts[0] == "batchpay" and len(parts) > 1 and parts[1]:
                found.add(parts[1])
    return found


def test_layers_every_package_is_placed() -> None:
    unplaced = {_top(p) for p in _modules()} - set(LAYERS) - {"data"}
    assert not unplaced, f"place these in LAYERS (tests/test_layers.py): {sorted(unplaced)}"


@pytest.mark.parametrize("path", _modules(), ids=lambda p: str(p.relative_to(PACKAGE)))
def test_layers_nothing_imports_upward(path: Path) -> None:
    own = LAYERS[_top(path)]
    upward = sorted(t for t in _imports(path) if LAYERS.get(t, -1) > own)
    assert not upward, f"{path.relative_to(PACKAGE)} (layer {own}) imports upward: " + ", ".join(
        f"{t} (layer {LAYERS[t]})" for t in upward
    )


def test_layers_only_journal_knows_sqlite() -> None:
    """Nothing outside journal/ touches the journal's storage (the emulator's own state
    database plays DOKU and is not the journal)."""
    offenders = [
        str(p.relative_to(PACKAGE))
        for p in _modules()
        if _top(p) not in ("journal", "emulator")
        and any(
            (isinstance(n, ast.Import) and any(a.name == "sqlite3" for a in n.names))
            or (isinstance(n, ast.ImportFrom) and n.module == "sqlite3")
            for n in ast.walk(ast.parse(p.read_text(encoding="utf-8")))
        )
    ]
    assert not offenders, f"sqlite3 outside journal/: {offenders}"


def test_layers_only_journal_postgres_knows_psycopg() -> None:
    """psycopg (the PostgreSQL journal's driver, an optional extra) is imported only inside
    journal/postgres/, so nothing else depends on it being installed."""
    offenders = [
        str(p.relative_to(PACKAGE))
        for p in _modules()
        if p.relative_to(PACKAGE).parts[:2] != ("journal", "postgres")
        and any(
            (isinstance(n, ast.Import) and any(a.name.split(".")[0] == "psycopg" for a in n.names))
            or (isinstance(n, ast.ImportFrom) and (n.module or "").split(".")[0] == "psycopg")
            for n in ast.walk(ast.parse(p.read_text(encoding="utf-8")))
        )
    ]
    assert not offenders, f"psycopg outside journal/postgres/: {offenders}"


def test_layers_module_and_function_sizes() -> None:
    too_long: list[str] = []
    for path in _modules():
        text = path.read_text(encoding="utf-8")
        lines = text.count("\n")
        name = str(path.relative_to(PACKAGE))
        if lines > MAX_MODULE_LINES:
            too_long.append(f"{name}: {lines} lines")
        for node in ast.walk(ast.parse(text)):
            if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef):
                length = (node.end_lineno or node.lineno) - node.lineno + 1
                if length > MAX_FUNCTION_LINES:
                    too_long.append(f"{name}:{node.lineno} {node.name}() {length} lines")
    assert not too_long, "split along a seam:\n" + "\n".join(too_long)
