"""Status classes: what a row's state means for the money (docs/safety.md invariant 5).

Every rule about what counts as *paid*, *sent* or *outstanding* lives here, so it is tested
once. The states and their sets are :mod:`batchpay.states`; this module only groups them.
"""

from __future__ import annotations

from enum import StrEnum

from batchpay.config import TEST_ENVIRONMENT_BANNERS
from batchpay.states import ACCEPTED, FAILURE, PROGRESS, SUCCESS, State


class StatusClass(StrEnum):
    """What a row's state means for the money."""

    PAID = "paid"
    PROGRESSING = "progressing"
    FAILED = "failed"
    UNKNOWN = "unknown"
    NOT_SENT = "not sent"
    INVALID = "invalid"


# "ACCEPTED" is not a :class:`~batchpay.states.State`: a journal written by an older batchpay
# may hold it for a request DOKU acknowledged without a business status yet (STATUS_FILLS
# knows it). It is accepted, so progressing, never paid.
LEGACY_ACCEPTED = "ACCEPTED"
_PROGRESSING_STATES: tuple[str, ...] = (*PROGRESS, LEGACY_ACCEPTED)

_CLASS_OF: dict[str, StatusClass] = {
    **dict.fromkeys(SUCCESS, StatusClass.PAID),
    **dict.fromkeys(_PROGRESSING_STATES, StatusClass.PROGRESSING),
    **dict.fromkeys(FAILURE, StatusClass.FAILED),
    State.UNKNOWN: StatusClass.UNKNOWN,
    State.SENDING: StatusClass.UNKNOWN,
    State.PLANNED: StatusClass.NOT_SENT,
    State.NOT_SENT: StatusClass.NOT_SENT,
    State.INVALID: StatusClass.INVALID,
}

# Display order of states: the life of a row, then the endings, good before bad.
STATE_ORDER: tuple[str, ...] = (
    *SUCCESS,
    *_PROGRESSING_STATES,
    State.UNKNOWN,
    State.SENDING,
    *FAILURE,
    State.PLANNED,
    State.NOT_SENT,
    State.INVALID,
)
CLASS_ORDER: tuple[StatusClass, ...] = tuple(StatusClass)

# DOKU acknowledged these rows (FAILED/EXPIRED links were accepted, then failed later);
# REJECTED means DOKU proved it did not execute, so it was never "sent" in this sense.
_ACCEPTED_STATES = frozenset((*ACCEPTED, LEGACY_ACCEPTED))

# The workbook shouts the same words the terminal uses.
ENVIRONMENT_BANNERS = {env: text.upper() for env, text in TEST_ENVIRONMENT_BANNERS.items()}


def classify(state: str) -> StatusClass:
    """The class of a journal state. A state this table does not know is UNKNOWN: it is
    never counted as paid (invariant 5)."""
    return _CLASS_OF.get(state, StatusClass.UNKNOWN)


def is_accepted(state: str) -> bool:
    """Whether DOKU acknowledged the request (it counts in "total sent")."""
    return state in _ACCEPTED_STATES


def environment_banner(env: str) -> str | None:
    """The loud line a test environment's report must carry, or None for production."""
    return ENVIRONMENT_BANNERS.get(env)
