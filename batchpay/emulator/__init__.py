"""A local DOKU: a real HTTP server that behaves like DOKU's Payout Link and Sub Account APIs
(``docs/doku-api.md``), including the ways a real network fails.

EMULATOR — no real money moves. The credentials below are public test values, not secrets.
"""

from __future__ import annotations

from batchpay.config import EMULATOR_CLIENT_ID as EMULATOR_CLIENT_ID
from batchpay.config import EMULATOR_SECRET_KEY as EMULATOR_SECRET_KEY

# Imported after the constants: runtime reads them.
from batchpay.emulator.admin import BANNER, AdminError, EmulatorAdmin
from batchpay.emulator.runtime import EmulatorHandle, start_emulator

__all__ = [
    "BANNER",
    "EMULATOR_CLIENT_ID",
    "EMULATOR_SECRET_KEY",
    "AdminError",
    "EmulatorAdmin",
    "EmulatorHandle",
    "start_emulator",
]
