"""Everything that talks to DOKU: signing (pure), codes (response → outcome table), retry
(pure timing) and the client. :func:`open_gateway` wires them from :class:`Settings`.

``open_gateway`` with ``env=emulator`` and no ``BATCHPAY_BASE_URL`` starts the emulator in this
process on a free port with its built-in test credentials, its state in
``<BATCHPAY_HOME>/emulator-state.sqlite`` so later commands (status, resume) see the same DOKU.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import TYPE_CHECKING, Protocol

import requests

from batchpay.config import TEST_ENVIRONMENT_BANNERS
from batchpay.doku.deadline import DeadlineAdapter
from batchpay.errors import ConfigError

if TYPE_CHECKING:
    from batchpay.config import Settings
    from batchpay.doku.client import DokuClient

EMULATOR_STATE_FILE = "emulator-state.sqlite"
EMULATOR_BANNER = TEST_ENVIRONMENT_BANNERS["emulator"]
# The most workers any command runs (payments 32, status look-ups 64, architecture.md); one
# pooled connection per worker.
MAX_CONCURRENCY = 64


class EmulatorLike(Protocol):
    url: str

    def stop(self) -> None: ...


@dataclass(frozen=True)
class Gateway:
    client: DokuClient
    env: str
    base_url: str
    emulator: EmulatorLike | None  # the in-process emulator, when this gateway started one

    @property
    def is_emulator(self) -> bool:
        """True for any emulator environment (in-process or a separately started one)."""
        return self.env == "emulator"


def make_session(*, trust_env: bool = True, pool_size: int = MAX_CONCURRENCY) -> requests.Session:
    """A pooled session. ``max_retries=0``: urllib3 must never re-send on its own — a retry is
    the runner's decision with the same Request-Id (docs/doku-api.md §3)."""
    session = requests.Session()
    session.trust_env = trust_env
    adapter = DeadlineAdapter(pool_connections=4, pool_maxsize=pool_size, max_retries=0)
    session.mount("https://", adapter)
    session.mount("http://", adapter)
    return session


@contextmanager
def open_gateway(settings: Settings) -> Iterator[Gateway]:
    """Yield a :class:`Gateway`; stop the in-process emulator and close the session on exit."""
    from batchpay.doku.client import DokuClient

    handle: EmulatorLike | None = None
    url = settings.url
    if settings.uses_builtin_emulator:
        from batchpay.config import ensure_private_dir
        from batchpay.emulator import start_emulator

        ensure_private_dir(settings.home)  # 0700: the emulator state holds payees
        handle = start_emulator(
            port=0,
            state_path=settings.home / EMULATOR_STATE_FILE,
            client_id=settings.client_id,
            secret_key=settings.secret_key.reveal(),
            payout_link_signature=settings.payout_link_signature,
        )
        url = handle.url
    if url is None:  # unreachable with load_settings; guards hand-built Settings
        raise ConfigError(f"no base URL for BATCHPAY_ENV={settings.env}; set BATCHPAY_BASE_URL")
    # A local emulator must not be routed through an HTTP(S)_PROXY from the environment.
    session = make_session(trust_env=settings.env != "emulator")
    try:
        client = DokuClient(
            base_url=url,
            client_id=settings.client_id,
            secret_key=settings.secret_key,
            session=session,
            payout_link_signature=settings.payout_link_signature,
            timeout=settings.timeout,
            deadline=settings.deadline,
        )
        yield Gateway(client=client, env=settings.env, base_url=url, emulator=handle)
    finally:
        session.close()
        if handle is not None:
            handle.stop()
