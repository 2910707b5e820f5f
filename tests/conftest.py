"""Shared fixtures. Area-specific helpers live in tests/helpers/ to keep this file small."""

from __future__ import annotations

import os

import pytest


@pytest.fixture(autouse=True)
def clean_env(monkeypatch: pytest.MonkeyPatch, tmp_path_factory: pytest.TempPathFactory) -> None:
    """Strip every BATCHPAY_* variable and keep the default ledger out of the user's home."""
    for name in list(os.environ):
        if name.startswith("BATCHPAY_") or name == "PANDERA_VALIDATION_ENABLED":
            monkeypatch.delenv(name, raising=False)
    home = tmp_path_factory.mktemp("home")
    monkeypatch.setenv("BATCHPAY_HOME", str(home))
