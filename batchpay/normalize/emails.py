"""Email addresses: a syntax check (email-validator, no DNS), the domain lower-cased."""

from __future__ import annotations

import email_validator
import numpy as np
import pandas as pd
import pyarrow.compute as pc

from batchpay.normalize.base import NON_PRINTABLE_RE, Normalised, Out, matches

# A conservative subset of what email-validator accepts, for the fast path: a dot-atom local
# part of common characters; lower-case domain labels of letters/digits joined by single
# hyphens (so no punycode "xn--", which takes the slow way); an alphabetic TLD; no RFC 6761
# special-use domain (.test, .local, …, email-validator's own list, checked as a suffix
# apart: RE2 has no look-behind). Label (63) and
# local-part (64) limits hold because the fields allow at most 50 characters and longer cells
# are reported as too long anyway.
_EMAIL_FAST = (
    r"[A-Za-z0-9_%+-]+(?:\.[A-Za-z0-9_%+-]+)*"
    r"@(?:[a-z0-9]+(?:-[a-z0-9]+)*\.)+[a-z]{2,63}"
)


def normalise_emails(raw: pd.Series) -> Normalised:
    """Syntax check (email-validator, no DNS, no SMTPUTF8); the domain is lower-cased."""
    out = Out(raw)
    fast = matches(out.cells, _EMAIL_FAST)
    for domain in email_validator.SPECIAL_USE_DOMAIN_NAMES:
        fast &= ~np.asarray(
            pc.ends_with(out.cells, "." + domain).to_numpy(zero_copy_only=False), dtype=bool
        )
    out.keep(fast)
    pos, texts = out.rest()
    verdicts: dict[str, tuple[str, str, str]] = {}
    for p, text in zip(pos, texts, strict=True):
        if text not in verdicts:
            verdicts[text] = _check_email(text)
        value, code, detail = verdicts[text]
        out.set(p, value, code)
        if detail:
            out.detail(int(p), detail)
    return out.result()


def _check_email(text: str) -> tuple[str, str, str]:
    if NON_PRINTABLE_RE.search(text):
        return "", "non-printable", ""
    try:
        # DOKU emails the receiver; an address its mail system cannot encode is useless,
        # hence no SMTPUTF8. Deliverability (DNS) cannot be checked offline.
        checked = email_validator.validate_email(
            text, check_deliverability=False, allow_smtputf8=False
        )
    except email_validator.EmailNotValidError as exc:
        return "", "email-invalid", str(exc)
    # The ASCII (punycode) form: an internationalised domain is valid, but DOKU's mailer and
    # the receiver's bank systems are safest with plain ASCII; SMTPUTF8 is off, so the local
    # part is ASCII already.
    return checked.ascii_email or checked.normalized, "", ""
