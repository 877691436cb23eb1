"""People: where one person is, on the server and in the files.

Owns the answer to "where is ADDRESS?" (`person show`) and what removing a
person everywhere reads first (`person remove`): every membership of the
address on the server in every role (one `members/find` request, whatever
the number of lists), where it is banned, every list file that names it,
and where the files and Mailman differ about it.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum


class Place(StrEnum):
    """A role an address holds on a list, as Mailman's rosters name them."""

    OWNER = "owner"
    MODERATOR = "moderator"
    MEMBER = "member"
    NONMEMBER = "nonmember"


@dataclass(frozen=True, slots=True)
class Membership:
    """One place of the address on one list, as Mailman has it."""

    list_name: str  # the list's local part
    fqdn: str  # posting address of the list
    role: Place
    address: str  # the address as Mailman stores it, lower case
    managed: bool  # a list file declares the list
    public: bool  # advertised and with a public archive (what --only-private leaves alone)
    delivery_mode: str | None = None  # members: regular, plaintext_digests, ...
    delivery_status: str | None = None  # members: enabled, by_user, by_bounces, ...
    moderation_action: str | None = None  # non-members (and members) with an action


@dataclass(frozen=True, slots=True)
class Ban:
    """A ban matching the address: on one list, or site-wide (`fqdn` None)."""

    fqdn: str | None
    pattern: str


@dataclass(frozen=True, slots=True)
class Mention:
    """A list file naming the address: the list, the field, the file and its line."""

    list_name: str
    field: str  # owners, moderators, nonmembers, bans (members once rosters exist)
    path: str  # relative to the site root
    line: int


@dataclass(frozen=True, slots=True)
class Whereabouts:
    """Everything known of one address."""

    address: str
    memberships: tuple[Membership, ...]
    bans: tuple[Ban, ...]
    mentions: tuple[Mention, ...]
    differences: tuple[str, ...]  # where the files and Mailman disagree about the address
