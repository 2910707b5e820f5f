"""The web app is a surface over the same library as the CLI (issue 15, "One library"): every
module of batchpay/web imports neither click nor batchpay.cli, nor the journal or its storage
(sqlite3, psycopg) — it reaches runs only through the run service. Lazy imports count too."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

WEB = Path(__file__).resolve().parents[1] / "batchpay" / "web"
FORBIDDEN = ("click", "batchpay.cli", "batchpay.journal", "sqlite3", "psycopg")


def _imported(path: Path) -> set[str]:
    names: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.Import):
            names.update(a.name for a in node.names)
        elif isinstance(node, ast.ImportFrom):
            assert node.level == 0, f"{path.name}: use absolute imports (batchpay.web.…)"
            module = node.module or ""
            names.add(module)
            names.update(f"{module}.{a.name}" for a in node.names)
    return names


def _modules() -> list[Path]:
    return sorted(WEB.rglob("*.py"))


def test_web_layers_package_exists() -> None:
    assert len(_modules()) >= 5


@pytest.mark.parametrize("path", _modules(), ids=lambda p: p.name)
def test_web_layers_no_cli_click_or_journal(path: Path) -> None:
    bad = sorted(
        name
        for name in _imported(path)
        if any(name == f or name.startswith(f + ".") for f in FORBIDDEN)
    )
    assert not bad, f"batchpay/web/{path.name} imports {bad}: call the run service instead"


def test_web_layers_the_forbidden_list_catches_an_offender(tmp_path: Path) -> None:
    sample = tmp_path / "x.py"
    sample.write_text("def f():\n    from batchpay.journal import open_journal\n    import click\n")
    assert {"batchpay.journal", "click"} <= _imported(sample)
