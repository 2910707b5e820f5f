"""Shared fixtures. Area-specific helpers live in tests/helpers/ to keep this file small."""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path
from typing import TYPE_CHECKING

import pytest

# A real PostgreSQL server (session) and a fresh database per test (issue 14).
from tests.helpers.pg import pg_server_fixture, pg_url_fixture  # noqa: F401

if TYPE_CHECKING:
    from batchpay.emulator import EmulatorHandle
    from tests.helpers.runs import Harness


@pytest.fixture(autouse=True)
def clean_env(monkeypatch: pytest.MonkeyPatch, tmp_path_factory: pytest.TempPathFactory) -> None:
    """Strip every BATCHPAY_* variable and keep the default ledger out of the user's home."""
    for name in list(os.environ):
        if name.startswith("BATCHPAY_") or name == "PANDERA_VALIDATION_ENABLED":
            monkeypatch.delenv(name, raising=False)
    home = tmp_path_factory.mktemp("home")
    monkeypatch.setenv("BATCHPAY_HOME", str(home))


# --- a real emulator, and a run harness on it (tests/helpers/runs.py) -------------------------


@pytest.fixture(name="emulator", scope="module")
def emulator_fixture() -> Iterator[EmulatorHandle]:
    """One real emulator per test module (in-memory state), on a free loopback port."""
    from batchpay.emulator import start_emulator

    handle = start_emulator(port=0, link_step_seconds=0.2, activation_seconds=0.2)
    try:
        yield handle
    finally:
        handle.stop()


@pytest.fixture(name="harness")
def harness_fixture(emulator: EmulatorHandle, tmp_path: Path) -> Iterator[Harness]:
    """A journal in tmp_path, a client against the module's emulator, and shortcuts."""
    from tests.helpers.runs import open_harness

    with open_harness(emulator, tmp_path) as harness:
        yield harness
