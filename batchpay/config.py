"""Settings from options, the environment and ``.env`` — the only place ``os.environ`` is read.

Precedence, highest first: keyword arguments (command-line options) > process environment >
``.env`` file > defaults. The ``.env`` file is *read* with :func:`dotenv.dotenv_values`, never
loaded into ``os.environ``, so a secret in it does not leak to child processes.

Variables::

    BATCHPAY_ENV                     emulator (default) | sandbox | production
    BATCHPAY_CLIENT_ID               DOKU Back Office client id (MCH-… / BRN-…)
    BATCHPAY_SECRET_KEY              DOKU secret key — environment or .env only, never argv
    BATCHPAY_BASE_URL                overrides the environment's URL (e.g. http://127.0.0.1:8765);
                                     scheme://host[:port] only, never user:password@
    BATCHPAY_LEDGER                  journal path (default <BATCHPAY_HOME>/ledger.sqlite), or a
                                     postgresql://user@host:port/db URL (a shared journal)
    BATCHPAY_HOME                    per-user data dir (default ~/.local/share/batchpay)
    BATCHPAY_PAYOUT_LINK_SIGNATURE   snap-hmac-sha512 (default) | hmac-sha256 (doku-api §2.2)
    BATCHPAY_CONNECT_TIMEOUT         seconds, default 5
    BATCHPAY_READ_TIMEOUT            seconds, default 30 (each read of the answer)
    BATCHPAY_REQUEST_DEADLINE        seconds, default 60 (a whole request, answer included)

``emulator`` is the default environment because it cannot move money; ``production`` is only
ever used when named explicitly.
"""

from __future__ import annotations

import hmac
import os
import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Final, Literal, cast, get_args
from urllib.parse import urlsplit

from dotenv import dotenv_values

from batchpay.errors import ConfigError

# Payout Link signature schemes (docs/doku-api.md §2.2); defined here, in the core, because
# settings validate them; batchpay.doku.signing implements them.
Scheme = Literal["hmac-sha256", "snap-hmac-sha512"]
SCHEMES: Final[tuple[Scheme, ...]] = ("snap-hmac-sha512", "hmac-sha256")
# The emulator's built-in test credentials: public values, not secrets (batchpay.emulator).
EMULATOR_CLIENT_ID = "MCH-0001-00000000000000"
EMULATOR_SECRET_KEY = "SK-EMULATOR-NOT-A-REAL-KEY-0000"  # noqa: S105 - public test value

Env = Literal["emulator", "sandbox", "production"]
ENVS: Final[tuple[Env, ...]] = get_args(Env)

# docs/doku-api.md (top): both products live on the same hosts.
BASE_URLS: Final[dict[str, str]] = {
    "sandbox": "https://api-sandbox.doku.com",
    "production": "https://api.doku.com",
}
# What a test environment says wherever batchpay names it (terminal, JSON, workbook banner);
# production has none. One definition, so the wording cannot drift between outputs.
TEST_ENVIRONMENT_BANNERS: Final[dict[str, str]] = {
    "emulator": "EMULATOR — no real money moved",
    "sandbox": "SANDBOX — no real money moved",
}
DEFAULT_CONNECT_TIMEOUT = 5.0
DEFAULT_READ_TIMEOUT = 30.0
DEFAULT_REQUEST_DEADLINE = 60.0
HOW_TO_SET = "in the environment or in a .env file (see .env.example)"

_SECRETS: set[str] = set()


# Shorter values are never remembered: redacting "a" would shred every message, and
# load_settings refuses secret keys this short for sandbox/production anyway.
MIN_SECRET_LENGTH = 8


def remember_secret(value: str) -> None:
    """Register a secret so :func:`redact` removes it from any text shown to a user."""
    if value and len(value) >= MIN_SECRET_LENGTH:
        _SECRETS.add(value)


def redact(text: str) -> str:
    """Replace every remembered secret in ``text`` with ``********``."""
    for secret in _SECRETS:
        if secret:
            text = text.replace(secret, "********")
    return text


class Secret:
    """A string that never shows itself: ``repr``/``str``/format give ``Secret('********')``.

    Deliberately not a ``str`` subclass, so concatenation or ``%s`` cannot leak the value by
    accident (docs/safety.md invariant 6). Use :meth:`reveal` at the one place the bytes are needed
    (signing).
    """

    __slots__ = ("_value",)

    def __init__(self, value: str) -> None:
        self._value = value
        remember_secret(value)

    def reveal(self) -> str:
        """The secret itself — for signing only."""
        return self._value

    def __bool__(self) -> bool:
        return bool(self._value)

    def __repr__(self) -> str:
        return "Secret('********')"

    __str__ = __repr__

    def __format__(self, spec: str) -> str:
        return format(repr(self), spec)

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, Secret):
            return NotImplemented
        return hmac.compare_digest(self._value.encode(), other._value.encode())

    def __hash__(self) -> int:
        return hash((Secret, len(self._value)))

    def __reduce__(self) -> tuple[object, ...]:
        # Pickling would write the value to disk or a queue; nothing in batchpay needs it.
        raise TypeError("Secret cannot be pickled")


@dataclass(frozen=True)
class Settings:
    """Everything the gateway and the journal need; built only by :func:`load_settings`."""

    env: Env
    client_id: str
    secret_key: Secret
    base_url: str | None  # None = the environment's URL (or the in-process emulator)
    # The SQLite journal's file; None when the journal is a database server (ledger_url).
    ledger_path: Path | None
    payout_link_signature: Scheme
    connect_timeout: float
    read_timeout: float
    home: Path  # per-user data dir: ledger default, emulator state
    # Seconds for one whole request (the read timeout bounds each read, not the answer).
    deadline: float = DEFAULT_REQUEST_DEADLINE
    # A PostgreSQL journal's URL as given (it may hold a password: show ledger, never this).
    ledger_url: str | None = field(default=None, repr=False)

    @property
    def ledger(self) -> str | Path:
        """Where the journal is, for :func:`batchpay.journal.open_journal`: the file's path,
        or the server's URL."""
        if self.ledger_url is not None:
            return self.ledger_url
        assert self.ledger_path is not None  # one of the two is always set
        return self.ledger_path

    @property
    def url(self) -> str | None:
        """The URL requests go to, or None when the in-process emulator will provide one."""
        return self.base_url or BASE_URLS.get(self.env)

    @property
    def uses_builtin_emulator(self) -> bool:
        return self.env == "emulator" and not self.base_url

    @property
    def timeout(self) -> tuple[float, float]:
        return (self.connect_timeout, self.read_timeout)


def load_settings(
    *,
    env: str | None = None,
    base_url: str | None = None,
    ledger: str | Path | None = None,
    dotenv_path: str | Path | None = None,
    require_credentials: bool = True,
    environ: Mapping[str, str] | None = None,
    cwd: Path | None = None,
) -> Settings:
    """Build :class:`Settings`; raise :class:`ConfigError` (exit 3) with one fixable line.

    ``dotenv_path`` None means ``./.env`` if it exists; a given path must exist.
    ``environ``/``cwd`` default to the process's (injectable for tests).
    ``require_credentials=False`` lets commands that never contact DOKU (status, report)
    run without a secret.
    """
    source = _Source(
        environ if environ is not None else os.environ, _read_dotenv(dotenv_path, cwd or Path.cwd())
    )

    env_name = (env or source.get("BATCHPAY_ENV") or "emulator").strip().lower()
    if env_name not in ENVS:
        raise ConfigError(
            f"BATCHPAY_ENV is {env_name!r}; use one of {', '.join(ENVS)} "
            "(production must be named explicitly)"
        )
    the_env = cast(Env, env_name)

    url = base_url or source.get("BATCHPAY_BASE_URL") or None
    if url is not None:
        url = _check_base_url(url, the_env)

    home = Path(source.get("BATCHPAY_HOME") or Path.home() / ".local/share/batchpay").expanduser()
    given = ledger or source.get("BATCHPAY_LEDGER") or home / "ledger.sqlite"
    # A server's URL is not a path: Path() would fold its "//" and a folder would be made.
    ledger_url = str(given).strip() if is_database_url(given) else None
    ledger_path = None if ledger_url else Path(given).expanduser()

    scheme = (source.get("BATCHPAY_PAYOUT_LINK_SIGNATURE") or SCHEMES[0]).strip().lower()
    if scheme not in SCHEMES:
        raise ConfigError(
            f"BATCHPAY_PAYOUT_LINK_SIGNATURE is {scheme!r}; use one of {', '.join(SCHEMES)}"
        )

    client_id, secret = _credentials(the_env, url, source, require_credentials)
    return Settings(
        env=the_env,
        client_id=client_id,
        secret_key=Secret(secret),
        base_url=url,
        ledger_path=ledger_path,
        ledger_url=ledger_url,
        payout_link_signature=cast("Scheme", scheme),
        connect_timeout=_seconds(source, "BATCHPAY_CONNECT_TIMEOUT", DEFAULT_CONNECT_TIMEOUT),
        read_timeout=_seconds(source, "BATCHPAY_READ_TIMEOUT", DEFAULT_READ_TIMEOUT),
        deadline=_seconds(source, "BATCHPAY_REQUEST_DEADLINE", DEFAULT_REQUEST_DEADLINE),
        home=home,
    )


class _Source:
    """Environment first, then ``.env`` (environment wins, like docker/compose and dotenv's
    own ``override=False`` default)."""

    def __init__(self, environ: Mapping[str, str], dotenv: Mapping[str, str | None]) -> None:
        self._environ = environ
        self._dotenv = dotenv

    def get(self, name: str) -> str | None:
        value = self._environ.get(name)
        if value is None or value == "":
            value = self._dotenv.get(name)
        return value if value else None


def _read_dotenv(path: str | Path | None, cwd: Path) -> Mapping[str, str | None]:
    if path is None:
        candidate = cwd / ".env"
        if not candidate.is_file():
            return {}
    else:
        candidate = Path(path).expanduser()
        if not candidate.is_file():
            raise ConfigError(f"the .env file {str(candidate)!r} does not exist")
    # interpolate=False: a secret key containing "$" must be taken literally, not expanded.
    return dotenv_values(candidate, interpolate=False)


CREDENTIALS_IN_URL = (
    "BATCHPAY_BASE_URL / --base-url: the URL contains a user name or password; put "
    "credentials in BATCHPAY_CLIENT_ID / BATCHPAY_SECRET_KEY, not in the URL"
)


def is_database_url(location: object) -> bool:
    """Whether a journal ``location`` is a PostgreSQL server's URL (``postgresql://`` or
    ``postgres://``) rather than the path of a SQLite file."""
    return isinstance(location, str) and location.strip().lower().startswith(
        ("postgresql://", "postgres://")
    )


def has_userinfo(url: str) -> bool:
    """True when ``url`` may carry ``user[:password]@``. Any "@" counts: a base URL is
    scheme://host[:port] only, and "user:pass@host" without a scheme has an "@" too."""
    return "@" in url


def display_url(url: str) -> str:
    """``url`` fit to show: anything before an "@" (a user name or password) masked."""
    if not has_userinfo(url):
        return url
    scheme, sep, rest = url.strip().partition("://")
    host = rest.rpartition("@")[2] if sep else url.rpartition("@")[2]
    return f"{scheme}://***@{host}" if sep else f"***@{host}"


def _check_base_url(url: str, env: Env) -> str:
    # First, before any message quotes the URL: a password in it must never be echoed, and a
    # URL that passed would be stored verbatim in the journal (issue 8, finding 14).
    if has_userinfo(url):
        raise ConfigError(CREDENTIALS_IN_URL)
    try:
        parts = urlsplit(url.strip())
    except ValueError as exc:  # e.g. an unclosed "[" of an IPv6 address
        raise ConfigError(f"BATCHPAY_BASE_URL {url!r} is not a valid URL ({exc})") from None
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise ConfigError(
            f"BATCHPAY_BASE_URL {url!r} is not an http(s) URL; "
            "use e.g. https://api-sandbox.doku.com or http://127.0.0.1:8765"
        )
    loopback = parts.hostname in ("127.0.0.1", "localhost", "::1")
    if env != "emulator" and parts.scheme == "http" and not loopback:
        # The Client-Id and signed requests would cross the network in clear text.
        raise ConfigError(
            f"BATCHPAY_BASE_URL {url!r} uses plain http for {env}; use https "
            "(plain http is only allowed for 127.0.0.1/localhost)"
        )
    if parts.path not in ("", "/") or parts.query or parts.fragment:
        raise ConfigError(
            f"BATCHPAY_BASE_URL {url!r} must be scheme://host[:port] only — "
            "batchpay adds DOKU's paths itself"
        )
    return f"{parts.scheme}://{parts.netloc}"


# Printable ASCII without spaces: these values go into HTTP headers and signed strings, where a
# stray space, quote or newline from copy-paste silently breaks every signature.
_TOKEN = re.compile(r"[!-~]+")


def _credentials(env: Env, url: str | None, source: _Source, required: bool) -> tuple[str, str]:
    client_id = (source.get("BATCHPAY_CLIENT_ID") or "").strip()
    secret = source.get("BATCHPAY_SECRET_KEY") or ""
    if env == "emulator":
        builtin = (EMULATOR_CLIENT_ID, EMULATOR_SECRET_KEY)
        if url is None:
            # The in-process emulator is started with its built-in test credentials
            # (architecture.md, open_gateway), so any configured ones would not match it.
            return builtin
        # An emulator started separately (`batchpay emulator`) uses the same built-ins unless
        # told otherwise.
        return (client_id or builtin[0], secret or builtin[1])

    missing = [
        name
        for name, value in (("BATCHPAY_CLIENT_ID", client_id), ("BATCHPAY_SECRET_KEY", secret))
        if not value
    ]
    if missing:
        if not required:
            return client_id, secret
        raise ConfigError(
            f"{' and '.join(missing)} {'is' if len(missing) == 1 else 'are'} not set for "
            f"BATCHPAY_ENV={env}; set {'it' if len(missing) == 1 else 'them'} {HOW_TO_SET} "
            "— secrets are never accepted as options"
        )
    if not _TOKEN.fullmatch(client_id) or len(client_id) > 64:
        raise ConfigError(
            "BATCHPAY_CLIENT_ID is malformed (expected e.g. MCH-0001-10791114622547: no spaces, "
            "quotes or line breaks, at most 64 characters); copy it again from DOKU Back Office"
        )
    if (
        not _TOKEN.fullmatch(secret)
        or secret[0] in "'\""
        or not MIN_SECRET_LENGTH <= len(secret) <= 256
    ):
        raise ConfigError(
            "BATCHPAY_SECRET_KEY is malformed (too short, or it has spaces, quotes, line breaks "
            "or non-ASCII characters); copy it again from DOKU Back Office"
        )
    return client_id, secret


def _seconds(source: _Source, name: str, default: float) -> float:
    text = source.get(name)
    if text is None:
        return default
    try:
        value = float(text)
    except ValueError:
        value = float("nan")
    if not 0 < value <= 600:  # also rejects nan/inf
        raise ConfigError(f"{name} is {text!r}; use a number of seconds between 0 and 600")
    return value


def ensure_private_dir(path: str | os.PathLike[str]) -> Path:
    """Make ``path`` and every missing parent as 0700 directories (journals, their lock
    directory, ``BATCHPAY_HOME``: they hold names, phones and bank accounts). Directories
    that already exist keep their mode; batchpay never loosens or tightens a user's own."""
    target = Path(path)
    missing: list[Path] = []
    current = target
    while not current.exists():
        missing.append(current)
        if current.parent == current:
            break
        current = current.parent
    for directory in reversed(missing):
        try:
            directory.mkdir(mode=0o700)
        except FileExistsError:  # made meanwhile by another process
            continue
        os.chmod(directory, 0o700)  # mkdir's mode is filtered by the umask
    return target
