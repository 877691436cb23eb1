"""People: where one person is, on the server and in the files.

Owns the answer to "where is ADDRESS?" (`person show`) and what removing a
person everywhere reads first (`person remove`): every membership of the
address on the server in every role (one `members/find` request, whatever
the number of lists), where it is banned, every list file that names it,
and where the files and Mailman differ about it.

Scope: the whole server. A listmaster offboarding someone wants every list
the address is on, in every domain the core serves, not only the site's;
`members/find` answers for all of them at once. Lists of the site's domain
that a list file declares are *managed*; every other list (the site's
domain without a file, or another domain) is *unmanaged*.

Declared members: a list file's `members:` names them, and a roster file
(`members_from:`) lists them: its entry is a mention of that file and line.
A list whose members an LDAP search declares is said (`Directory`) when the
address is a member of it in Mailman; LDAP itself is never searched here.

One person, several forms: an address is taken in any case and with a
display name (`Alice <Alice@Example.org>` is `alice@example.org`). When it
belongs to a Mailman user with other addresses, those are reported as the
same person's other addresses but not searched: Mailman subscribes
addresses, a user's addresses can be a work and a private one, and what
`person remove` acts on must be what the listmaster named. `person show A B`
shows both.

Cost, per address: 1 `members/find` (every role, every list), 1 to 5 more
for members' delivery status (the member resource has none), 2 for the
user's other addresses, and one settings read per advertised unmanaged
list it is on (the archive policy tells whether the list is public; a
managed list's comes from its file). Per run, whatever the number of
addresses: the server's list listing (1 per 1,000 lists), the site-wide
bans (1) and, unless skipped (`--no-bans`), every list's bans (1 per list,
concurrently): Mailman has no way to find a ban by address.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from email.utils import parseaddr
from enum import StrEnum
from pathlib import Path
from typing import Any

from listsync import mailman_people
from listsync.acceptance import DISABLE_BAN, bans_address, normal_ban
from listsync.addresses import split_address
from listsync.errors import ListsyncError
from listsync.escaping import visible
from listsync.mailman import MailmanBackend
from listsync.mailman_settings import is_email
from listsync.models import ListSpec
from listsync.policy import ListState, desired_states, is_public
from listsync.rosters import LdapSource, Repository, RosterEntry, roster_entries
from listsync.site import Site


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
    """A file naming the address: the list, the field, the file and its line. With the
    field `members_from`, the file is the list's roster file and the line its entry's."""

    list_name: str
    field: str  # owners, moderators, nonmembers, bans, members, members_from
    path: str  # relative to the site root
    line: int


@dataclass(frozen=True, slots=True)
class Directory:
    """A list whose members come from an LDAP search, and the address a member of it in
    Mailman: the directory group, not a file, keeps subscribing them."""

    fqdn: str
    url: str  # the LDAP server (never searched here)


@dataclass(frozen=True, slots=True)
class Whereabouts:
    """Everything known of one address."""

    address: str
    memberships: tuple[Membership, ...]
    bans: tuple[Ban, ...]
    mentions: tuple[Mention, ...]
    differences: tuple[str, ...]  # where the files and Mailman disagree about the address
    # The other addresses of the Mailman user the address belongs to (not searched).
    other_addresses: tuple[str, ...] = ()
    directories: tuple[Directory, ...] = ()  # lists it is a member of drawn from LDAP


@dataclass(frozen=True, slots=True)
class Server:
    """What a run reads once, however many addresses it is asked about."""

    lists: Mapping[str, bool]  # posting address -> advertised, every list of the server
    ids: Mapping[str, str]  # list id -> posting address
    site_bans: tuple[str, ...]
    list_bans: Mapping[str, tuple[str, ...]] | None  # by posting address; None: not read


def normalise(text: str) -> str:
    """The bare, lower-case address of `alice@example.org`, `Alice@Example.org` or
    `Alice <alice@example.org>`; a `ListsyncError` for anything else."""
    _, address = parseaddr(text.strip())
    address = address.strip().lower()
    if address.count("@") != 1 or not is_email(address):
        raise ListsyncError(f"{visible(text)!r} is not an e-mail address")
    return address


def read_server(backend: MailmanBackend, *, list_bans: bool = True) -> Server:
    """The server's lists and bans: the listing, the site-wide bans, and each list's bans
    (one request each, concurrently) unless `list_bans` is False."""
    listing = mailman_people.all_lists(backend)
    lists = {entry["fqdn_listname"]: bool(entry["advertised"]) for entry in listing}
    ids = {entry["list_id"]: entry["fqdn_listname"] for entry in listing}
    bans = None
    if list_bans:
        bans = {
            fqdn: tuple(patterns)
            for fqdn, patterns in mailman_people.bans_of(backend, lists).items()
        }
    return Server(lists, ids, tuple(mailman_people.site_bans(backend)), bans)


def _matches(pattern: str, address: str) -> bool:
    """Whether a ban concerns the address: the disable ban bans everyone, not a person."""
    return pattern != DISABLE_BAN and bans_address(pattern, address)


def locate(
    site: Site, backend: MailmanBackend, address: str, *, server: Server | None = None
) -> Whereabouts:
    """Everything known of `address` (any form `normalise` takes): its places on the whole
    server, its bans, the list files naming it and where they differ from Mailman.
    `server` is what `read_server` read (read here when not given)."""
    address = normalise(address)
    server = server or read_server(backend)
    domain = site.config.domain
    desired = desired_states(site)
    managed = {state.fqdn: state for state in desired.values()}
    found = mailman_people.find_memberships(backend, address)
    fqdns = {
        entry["list_id"]: server.ids.get(entry["list_id"], entry["list_id"]) for entry in found
    }
    advertised_unmanaged = {
        fqdn for fqdn in fqdns.values() if fqdn not in managed and server.lists.get(fqdn)
    }
    archives = (
        mailman_people.archive_policies(backend, advertised_unmanaged)
        if advertised_unmanaged
        else {}
    )
    memberships = []
    for entry in found:
        fqdn = fqdns[entry["list_id"]]
        state = managed.get(fqdn)
        member, nonmember = entry["role"] == Place.MEMBER, entry["role"] == Place.NONMEMBER
        if state is not None:
            public = is_public(state.settings)
        else:
            public = bool(server.lists.get(fqdn)) and archives.get(fqdn) == "public"
        memberships.append(
            Membership(
                list_name=fqdn.split("@", 1)[0],
                fqdn=fqdn,
                role=Place(entry["role"]),
                address=entry["email"],
                managed=state is not None,
                public=public,
                # Mailman gives every role a delivery mode, and owners and moderators the
                # action accept: only what a member or non-member has means something.
                delivery_mode=entry["delivery_mode"] if member else None,
                delivery_status=entry["delivery_status"] if member else None,
                moderation_action=entry["moderation_action"] if member or nonmember else None,
            )
        )
    memberships.sort(key=lambda m: (m.fqdn.split("@", 1)[1] != domain, m.fqdn, m.role))
    bans = [Ban(None, pattern) for pattern in server.site_bans if _matches(pattern, address)]
    for fqdn, patterns in sorted((server.list_bans or {}).items()):
        bans += [Ban(fqdn, pattern) for pattern in patterns if _matches(pattern, address)]
    others = mailman_people.user_addresses(backend, address) or []
    member_of = {m.fqdn for m in memberships if m.role is Place.MEMBER}
    return Whereabouts(
        address=address,
        memberships=tuple(memberships),
        bans=tuple(bans),
        mentions=mentions(site, address),
        differences=differences(site, desired, address, memberships, server),
        other_addresses=tuple(other for other in others if other != address),
        directories=directories(site, member_of),
    )


def directories(site: Site, member_of: Iterable[str]) -> tuple[Directory, ...]:
    """The lists among `member_of` (posting addresses) whose members an LDAP search
    declares: removing the person from Mailman or the files does not keep them out."""
    wanted = set(member_of)
    found = []
    for name in sorted(site.lists):
        source = site.lists[name].spec.members_from
        fqdn = f"{name}@{site.config.domain}"
        if isinstance(source, LdapSource) and fqdn in wanted:
            found.append(Directory(fqdn, source.ldap.url))
    return tuple(found)


def _named(value: Any, address: str) -> bool:
    return split_address(str(value))[0].lower() == address


def _member_address(entry: Any) -> str:
    """A `members:` entry's address: the entry, or its `address:`."""
    return str(entry.get("address") if isinstance(entry, Mapping) else entry)


def _names(spec: ListSpec, address: str) -> bool:
    """Whether a valid list file names `address` anywhere `mentions` looks in it."""
    members = [m if isinstance(m, str) else m.address for m in spec.members or ()]
    return (
        any(_named(value, address) for value in (*spec.owners, *spec.moderators, *members))
        or any(_named(key, address) for key in spec.nonmembers or {})
        or any(_matches(pattern, address) for pattern in spec.bans or ())
    )


def mentions(site: Site, address: str) -> tuple[Mention, ...]:
    """Every place a list file or a roster file names `address` (bare, lower case), with
    its line."""
    found = []
    rosters: dict[str, list[RosterEntry] | None] = {}  # each roster file read once
    top: Path | None = None
    for name, list_file in sorted(site.lists.items()):
        source = list_file.spec.members_from
        if isinstance(source, str):
            if source not in rosters:
                top = top or Repository.holding(site.root).top
                rosters[source] = _roster_entries(site.root, source, top)
            for entry in rosters[source] or ():
                if entry.address == address:
                    found.append(Mention(name, "members_from", source, entry.first_line))
        if not _names(list_file.spec, address):
            continue  # parsing a file for its lines costs more than checking what it says
        document = list_file.document
        for field in ("owners", "moderators"):
            for index, value in enumerate(document.get(field) or ()):
                if _named(value, address):
                    line = list_file.position((field, index))[0]
                    found.append(Mention(name, field, list_file.path, line))
        for key in document.get("nonmembers") or {}:
            if _named(key, address):
                line = list_file.position(("nonmembers", key), key=True)[0]
                found.append(Mention(name, "nonmembers", list_file.path, line))
        for index, entry in enumerate(document.get("members") or ()):
            if _named(_member_address(entry), address):
                line = list_file.position(("members", index))[0]
                found.append(Mention(name, "members", list_file.path, line))
        for index, pattern in enumerate(document.get("bans") or ()):
            if _matches(str(pattern), address):
                line = list_file.position(("bans", index))[0]
                found.append(Mention(name, "bans", list_file.path, line))
    return tuple(found)


def _roster_entries(root: Path, relative: str, top: Path) -> list[RosterEntry] | None:
    """The entries of a roster file inside the repository (`top`); None when it is not
    there or cannot be read (its roster is refused at every apply: it subscribes no one)."""
    path = (root / relative).resolve()
    if not path.is_relative_to(top):
        return None
    try:
        return roster_entries(path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError):
        return None


def differences(
    site: Site,
    desired: Mapping[str, ListState],
    address: str,
    memberships: Iterable[Membership],
    server: Server,
) -> tuple[str, ...]:
    """Where the managed lists' files and Mailman disagree about `address`: a role one
    side gives and the other not, a non-member action, a ban (when the bans were read)."""
    places: dict[str, dict[Place, Membership]] = {}
    for membership in memberships:
        places.setdefault(membership.fqdn, {})[membership.role] = membership
    found = []
    for name, state in sorted(desired.items()):
        fqdn, path = state.fqdn, site.lists[name].path
        live = places.get(fqdn, {})
        declared = {
            Place.OWNER: address in state.owners,
            Place.MODERATOR: address in state.moderators,
            Place.NONMEMBER: state.nonmembers is not None and address in state.nonmembers,
        }
        if fqdn not in server.lists:
            roles = [role.value for role, named in declared.items() if named]
            if roles:
                found.append(
                    f"{fqdn}: {' and '.join(roles)} by {path}, but the list is not in Mailman"
                    " (not created yet?)"
                )
            continue
        for role in (Place.OWNER, Place.MODERATOR):
            if declared[role] and role not in live:
                found.append(f"{fqdn}: {role} by {path}, not in Mailman (not applied yet?)")
            elif role in live and not declared[role]:
                found.append(f"{fqdn}: {role} in Mailman, not by {path}")
        if state.nonmembers is not None:
            nonmember = live.get(Place.NONMEMBER)
            action = state.nonmembers.get(address)
            if declared[Place.NONMEMBER] and nonmember is None:
                found.append(f"{fqdn}: non-member by {path}, not in Mailman")
            elif declared[Place.NONMEMBER] and nonmember is not None:
                if (nonmember.moderation_action or None) != (action or None):
                    found.append(
                        f"{fqdn}: non-member action {action or 'default'} by {path},"
                        f" {nonmember.moderation_action or 'default'} in Mailman"
                    )
            elif nonmember is not None:
                found.append(
                    f"{fqdn}: non-member in Mailman, not by {path} (which declares the non-members)"
                )
        if state.manages_bans and server.list_bans is not None:
            by_file = {normal_ban(p) for p in state.bans if _matches(p, address)}
            in_mailman = {
                normal_ban(p) for p in server.list_bans.get(fqdn, ()) if _matches(p, address)
            }
            found += [
                f"{fqdn}: ban {p} by {path}, not in Mailman" for p in sorted(by_file - in_mailman)
            ]
            found += [
                f"{fqdn}: ban {p} in Mailman, not by {path}" for p in sorted(in_mailman - by_file)
            ]
    return tuple(found)
