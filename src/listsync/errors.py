"""Errors and findings: what listsync reports to a person instead of a traceback.

`Problem` is one finding about an input file, located by file, line and
column. `ListsyncError` is an expected failure of a command (bad input,
Mailman unreachable, refused plan); the CLI turns it into one line on
stderr and exit status 1. Anything else escaping a command is a bug.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass
from enum import StrEnum

from listsync.redaction import redact


class Severity(StrEnum):
    ERROR = "error"
    WARNING = "warning"


@dataclass(frozen=True, slots=True, order=True)
class Problem:
    """One finding about one input file, at a 1-based line and column."""

    path: str
    line: int
    col: int
    field: str
    message: str
    severity: Severity = Severity.ERROR

    def __str__(self) -> str:
        """One line: `path:LINE:COL: field: message`, whatever the message held."""
        where = f"{self.path}:{self.line}:{self.col}"
        message = " ".join(self.message.split())
        prefix = "warning: " if self.severity is Severity.WARNING else ""
        if self.field:
            return f"{where}: {prefix}{self.field}: {message}"
        return f"{where}: {prefix}{message}"


class ListsyncError(Exception):
    """An expected failure, reported to the user as a single line."""


class InvalidSiteError(ListsyncError):
    """The site's files do not validate (or ask for what the server lacks); nothing was written."""

    def __init__(self, problems: list[Problem], against: str = "") -> None:
        self.problems = problems
        errors = sum(1 for p in problems if p.severity is Severity.ERROR)
        where = f" for {against}" if against else ""
        super().__init__(
            f"{errors} error(s) in the site's files{where}; nothing was written to Mailman"
        )


_SECRETS: set[str] = set()
# Whether `scrub` masks addresses: decided, or a question answered on the first text with an @.
_ADDRESSES_HIDDEN: bool | Callable[[], bool] = False
# Addresses shown even when addresses are hidden: the subject of `person show`, whose own
# address is what was asked about.
_KEPT: frozenset[str] = frozenset()


def register_secret(secret: str) -> None:
    """Remember a credential so that `scrub` removes it from anything printed."""
    if secret:
        _SECRETS.add(secret)


def hide_addresses(hidden: bool | Callable[[], bool] = True) -> None:
    """Whether `scrub` masks addresses too, from now on; a callable is asked only when a
    text with an address is first scrubbed (so that deciding costs nothing until then)."""
    global _ADDRESSES_HIDDEN
    _ADDRESSES_HIDDEN = hidden


def keep_addresses(addresses: Iterable[str]) -> None:
    """Addresses `scrub` leaves unmasked from now on (replacing any kept before)."""
    global _KEPT
    _KEPT = frozenset(address.lower() for address in addresses)


def _addresses_hidden() -> bool:
    global _ADDRESSES_HIDDEN
    if callable(_ADDRESSES_HIDDEN):
        _ADDRESSES_HIDDEN = _ADDRESSES_HIDDEN()
    return _ADDRESSES_HIDDEN


def scrub(text: str) -> str:
    """`text` with every registered secret replaced by ***, and addresses masked if hidden."""
    for secret in _SECRETS:
        text = text.replace(secret, "***")
    if "@" in text and _addresses_hidden():
        text = redact(text, keep=_KEPT)
    return text
