"""Roster reading: each list's declared roster, from its source and its git history.

Owns turning what a list file declares (`members:`, `members_from:` a roster
file or an LDAP search, `membership:`) into the `policy.RosterIntent` the
diff plans from: the declared addresses with their delivery modes, and for
`additive` the addresses the roster dropped, which are every address an
earlier committed version of the list file or of its roster file declared
and the current one does not (`rosters` says why git history, not a record,
is the right memory). A source not to be trusted whole becomes the intent's
`problem`, and the list's roster is then left exactly as it is. Against a
snapshot no LDAP server is asked (a merge request's pipeline has no
credentials), nor a roster file in a submodule not checked out (a public
pipeline without a private submodule): the intent says so.
"""

from __future__ import annotations

import os
from collections.abc import Iterable, Mapping
from pathlib import Path

from ruamel.yaml import YAML
from ruamel.yaml.error import YAMLError

from listsync import gitinfo, roster_ldap
from listsync.addresses import bare_address
from listsync.load import LIST_SUFFIXES, LISTS_DIR
from listsync.models import EffectiveList
from listsync.policy import RosterIntent
from listsync.rosters import (
    DeliveryMode,
    LdapCredentials,
    LdapQuery,
    Membership,
    Repository,
    RosterError,
    parse_roster_text,
    read_roster_file,
)
from listsync.site import Site

INLINE = "members:"


def read_rosters(
    site: Site,
    names: Iterable[str] | None = None,
    *,
    read_ldap: bool = True,
    environ: Mapping[str, str] = os.environ,
) -> dict[str, RosterIntent]:
    """The roster of each enabled list (of the site, or the named ones) that declares
    one; a disabled list's roster is never applied, so never read."""
    selected = sorted(site.lists) if names is None else sorted(set(names) & set(site.lists))
    intents: dict[str, RosterIntent] = {}
    repository: Repository | None = None
    for name in selected:
        lst = site.effective(name)
        if lst.disabled or (lst.members is None and lst.members_from is None):
            continue
        repository = repository or Repository.holding(site.root)
        roster_file = lst.members_from if isinstance(lst.members_from, str) else None
        if (
            not read_ldap
            and roster_file is not None
            and repository.not_checked_out((site.root / roster_file).resolve())
        ):
            unread = f"{lst.members_from} is in a submodule not checked out here"
            intents[name] = RosterIntent(_source_name(lst), lst.membership, unread=unread)
            continue
        intents[name] = read_roster(
            site.root,
            lst,
            site.config.ldap,
            top=repository.top,
            read_ldap=read_ldap,
            environ=environ,
            where=site.lists_dir,
        )
    return intents


def read_roster(
    root: Path,
    lst: EffectiveList,
    credentials: LdapCredentials | None,
    *,
    top: Path | None = None,
    read_ldap: bool = True,
    environ: Mapping[str, str] = os.environ,
    where: str = LISTS_DIR,
) -> RosterIntent:
    """One list's roster intent (its `problem` says why it must be left alone)."""
    source = _source_name(lst)
    try:
        if isinstance(lst.members_from, LdapQuery):
            if not read_ldap:
                unread = "the LDAP search is not run against a snapshot"
                return RosterIntent(source, lst.membership, unread=unread)
            addresses = roster_ldap.read_ldap(lst.members_from, credentials, environ=environ)
            if not addresses:
                raise RosterError(f"{source}: the search found no one: nothing is changed")
            modes = dict.fromkeys(addresses, DeliveryMode.REGULAR.value)
        elif isinstance(lst.members_from, str):
            addresses = read_roster_file(root, lst.members_from, top)
            modes = dict.fromkeys(addresses, DeliveryMode.REGULAR.value)
        else:
            modes = {m.address: m.delivery_mode.value for m in lst.members or ()}
    except RosterError as exc:
        return RosterIntent(source, lst.membership, problem=str(exc))
    dropped: frozenset[str] = frozenset()
    if lst.membership is Membership.ADDITIVE:
        dropped = frozenset(_declared_before(root, lst, where)) - modes.keys()
    return RosterIntent(source, lst.membership, modes, dropped, welcome=lst.welcome_members)


def _source_name(lst: EffectiveList) -> str:
    if isinstance(lst.members_from, LdapQuery):
        return lst.members_from.url
    return lst.members_from or INLINE


def _declared_before(root: Path, lst: EffectiveList, where: str) -> set[str]:
    """Every address a committed version of the list's file (`members:`) or of its
    roster file declared: what listsync may have subscribed for this roster."""
    found: set[str] = set()
    for path in _list_file(root / where, lst.name):
        for version in gitinfo.file_versions(path):
            found |= _inline_members(version)
    if isinstance(lst.members_from, str):
        path = root / lst.members_from
        for version in gitinfo.file_versions(path):
            text = version.decode("utf-8", errors="replace")
            found |= set(parse_roster_text(text)[0])
    return found


def _list_file(directory: Path, name: str) -> list[Path]:
    return [
        directory / f"{name}{suffix}"
        for suffix in LIST_SUFFIXES
        if (directory / f"{name}{suffix}").is_file()
    ]


def _inline_members(version: bytes) -> set[str]:
    """The addresses of an old version's `members:`; what cannot be read is no one."""
    try:
        data = YAML(typ="safe").load(version)
    except (YAMLError, UnicodeDecodeError, ValueError):
        return set()
    entries = data.get("members") if isinstance(data, dict) else None
    found: set[str] = set()
    for entry in entries if isinstance(entries, list) else ():
        value = entry.get("address") if isinstance(entry, dict) else entry
        try:
            found.add(bare_address(str(value)))
        except (ValueError, TypeError, AttributeError):
            continue
    return found
