"""Settings from options, the environment and ``.env`` — the only place ``os.environ`` is read.
(Filled in by the gateway work; ``redact`` is used by the CLI's error handler.)"""

from __future__ import annotations

_SECRETS: set[str] = set()


def remember_secret(value: str) -> None:
    """Register a secret so :func:`redact` removes it from any text shown to a user."""
    if value:
        _SECRETS.add(value)


def redact(text: str) -> str:
    for secret in _SECRETS:
        if secret:
            text = text.replace(secret, "********")
    return text
