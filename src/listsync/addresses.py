"""Addresses and plain text as a file may write them: the checks every model shares.

Owns what a file's address is (`alice@example.org` or `Alice <alice@example.org>`,
lower-cased; only what Mailman accepts) and what plain text is (no control
character: `escaping.HIDDEN_CATEGORIES`). `models` and `rosters` build their fields on
these.
"""

from __future__ import annotations

import functools
import re

from email_validator import EmailNotValidError, validate_email

from listsync import mailman_settings
from listsync.escaping import hidden_character


def plain_text_problem(value: str, *, multiline: bool = False) -> str | None:
    """Why `value` is not plain text (one line, or several with `multiline`), or None."""
    found = hidden_character(value, "\n\t" if multiline else "")
    if found is None:
        return None
    if multiline:
        return f"holds {found}: line breaks and tabs only, no other control character"
    return f"holds {found}: one line of plain text, no line break or control character"


def plain(value: str) -> str:
    message = plain_text_problem(value)
    if message is not None:
        raise ValueError(message)
    return value


_ADDRESS = re.compile(r"(?:(?P<display>[^<>]*?)\s*<(?P<bracketed>[^<>\s]+)>|(?P<bare>[^<>\s]+))")


def split_address(value: str) -> tuple[str, str]:
    """Return (email, display name) of `alice@example.org` or `Alice <alice@example.org>`."""
    match = _ADDRESS.fullmatch(value.strip())
    if match is None:
        return "", ""
    return match["bracketed"] or match["bare"], (match["display"] or "").strip().strip('"')


@functools.lru_cache(maxsize=1 << 16)
def normalise_address(value: str) -> str:
    """`value` lower-cased, display name kept; ValueError if Mailman would refuse it.

    Remembered: a site names the same owners and moderators in list after list, and
    checking an address (`email_validator`) was a third of loading the files.
    """
    plain(value)
    addr, display = split_address(value)
    if not addr or addr.count("@") != 1:
        raise ValueError(f"{value!r} is not an e-mail address")
    try:
        validate_email(addr, check_deliverability=False, allow_smtputf8=False)
    except EmailNotValidError as exc:
        raise ValueError(f"{value!r} is not a valid e-mail address: {exc}") from None
    if not mailman_settings.is_email(addr):
        raise ValueError(
            f"{value!r} is an address Mailman refuses (its local part may hold only letters,"
            " digits and !#$%&'*+-./=?_`{}~; its domain only ASCII letters, digits and"
            " hyphens: write an international domain in its xn-- form)"
        )
    addr = addr.lower()
    return f"{display} <{addr}>" if display else addr


def bare_address(value: str) -> str:
    plain(value)
    addr, display = split_address(value)
    if display or addr != value.strip():
        raise ValueError(f"{value!r}: write the bare address, without a display name")
    return normalise_address(addr)
