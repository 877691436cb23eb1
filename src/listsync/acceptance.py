"""Message acceptance: who may post to a list beyond its members, as Mailman 3.3 keeps it.

Owns the three kinds of rule a list file may declare besides its posting
preset, and for each what Mailman accepts, the normal form both sides of
the diff share, and how open a rule leaves the list (so that `plan` can
apply closing rules first and opening ones last):

* non-members with a moderation action (`POST /3.1/members` with
  `role=nonmember`, then `PATCH .../nonmember/ADDRESS {moderation_action}`);
  Mailman adds every non-member who ever posted to that roster with no
  action, so only entries with an action count, and clearing one means
  setting its action back to none (the list's default), never deleting it;
* header filters: ordered (header, pattern, action) rules at
  `/3.1/lists/ID/header-matches`; Mailman lower-cases the header, refuses a
  second rule with the same header and pattern, and jumps to the chain the
  action names (no action: the site's `[antispam] jump_chain`);
* ban patterns at `/3.1/lists/ID/bans`: an address, or a regular
  expression starting with `^`.

Checked against `mailman/rest/members.py`, `header_matches.py`,
`model/mailinglist.py` and `model/bans.py` of 3.3.8 and 3.3.10 (the same).
Mailman takes any pattern that compiles; a file's may not hold a control
character (a line break, an escape, a bidi control), which a review would
not see as such.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass

from listsync.escaping import hidden_character
from listsync.mailman_settings import is_email

DISABLE_BAN = "^.*@.*"
"""The disable procedure's ban of everyone; the `disabled` flag owns it, never `bans:`."""

# mailman.interfaces.action.Action names that make sense for a rule about one sender
# or one header: 'defer' is a member action, and no chain of that name exists.
RULE_ACTIONS: tuple[str, ...] = ("accept", "hold", "reject", "discard")
OPENS = frozenset({"accept"})
"""Actions that let a message through without a moderator."""

_HEADER_NAME = re.compile(r"[!-9;-~]+")  # RFC 5322 field name: printable ASCII but ':'


@dataclass(frozen=True, slots=True, order=True)
class HeaderRule:
    """One header filter in Mailman's form: header lower case, action None for the site's."""

    header: str
    pattern: str
    action: str | None = None

    def text(self) -> str:
        return f"{self.header} ~ {self.pattern} -> {self.action or 'site default'}"


def check_header(name: str) -> str | None:
    """Why `name` cannot be a header filter's header, or None."""
    if not _HEADER_NAME.fullmatch(name):
        return f"{name!r} is not a header name (printable ASCII, no spaces or colon)"
    return None


def check_pattern(pattern: str) -> str | None:
    """Why Mailman's regexp_validator refuses `pattern` (or listsync: a control character
    in it), or None."""
    if not pattern:
        return "expected a regular expression, not an empty string"
    found = hidden_character(pattern)
    if found is not None:
        return f"holds {found}: write a control character as an escape such as \\t or \\x1b"
    try:
        re.compile(pattern)
    except re.error as exc:
        return f"not a valid regular expression: {exc}"
    return None


def check_ban(pattern: str) -> str | None:
    """Why `pattern` is no ban Mailman applies as meant (an address or a ^regexp), or None."""
    found = hidden_character(pattern)
    if found is not None:
        return f"holds {found}: an address or a ^regexp is one line of plain text"
    if pattern.startswith("^"):
        return check_pattern(pattern)
    if not is_email(pattern):
        return (
            f"{pattern!r} is neither an e-mail address nor a regular expression"
            " starting with ^ (Mailman bans exactly that text otherwise)"
        )
    return None


def normal_ban(pattern: str) -> str:
    """A banned address lower case (Mailman compares it exactly with the sender's address,
    which it lower-cases); a regexp as written (Mailman matches it ignoring case)."""
    return pattern if pattern.startswith("^") else pattern.lower()


def banned_by(text: str, patterns: Iterable[str]) -> bool:
    """Whether one of the regexp `patterns` matches `text` as Mailman's ban check does
    (`re.match`, ignoring case); Mailman refuses to ban, or to add as a non-member,
    what a ban it holds matches already."""
    return any(p.startswith("^") and re.match(p, text, re.IGNORECASE) for p in patterns)


def bans_address(pattern: str, address: str) -> bool:
    """Whether Mailman's ban check (`model/bans.py`) refuses `address` for the ban `pattern`:
    a regexp matched at its start ignoring case, an address equal to it (both lower case)."""
    if pattern.startswith("^"):
        return banned_by(address, [pattern])
    return pattern.lower() == address.lower()


def ban_order(pattern: str) -> tuple[int, str]:
    """Addresses before regexps, the disable ban last: Mailman refuses a ban that a ban
    it holds already matches."""
    return (2 if pattern == DISABLE_BAN else 1 if pattern.startswith("^") else 0), pattern


def opens_nonmember(before: str | None, after: str | None) -> bool:
    """Whether changing a non-member's action from `before` to `after` lets more through.

    None is the list's default non-member action; listsync counts it as
    between 'accept' and the closed actions.
    """
    return _rank(after) > _rank(before)


def _rank(action: str | None) -> int:
    if action is None:
        return 1
    return 2 if action in OPENS else 0


def opens_filters(before: tuple[HeaderRule, ...], after: tuple[HeaderRule, ...]) -> bool:
    """Whether going from `before` to `after` may let more through: a rule goes, or one
    that accepts comes or moves."""
    kept = set(after)
    if any(rule not in kept for rule in before):
        return True
    return any(rule.action in OPENS for rule in after if rule not in set(before)) or (
        [r for r in before if r.action in OPENS] != [r for r in after if r.action in OPENS]
    )
