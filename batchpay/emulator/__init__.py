"""A local DOKU: a real HTTP server that behaves like DOKU's Payout Link and Sub Account APIs
(``docs/doku-api.md``), including the ways a real network fails.

EMULATOR — no real money moves. The credentials below are public test values, not secrets.
"""

from __future__ import annotations

EMULATOR_CLIENT_ID = "MCH-0001-00000000000000"
EMULATOR_SECRET_KEY = "SK-EMULATOR-NOT-A-REAL-KEY-0000"  # noqa: S105 - public test value

# Imported after the constants: runtime reads them.
from batchpay.emulator.admin import BANNER, AdminError, EmulatorAdmin  # noqa: E402
from batchpay.emulator.runtime import EmulatorHandle, start_emulator  # noqa: E402

__all__ = [
    "BANNER",
    "EMULATOR_CLIENT_ID",
    "EMULATOR_SECRET_KEY",
    "AdminError",
    "EmulatorAdmin",
    "EmulatorHandle",
    "start_emulator",
]
