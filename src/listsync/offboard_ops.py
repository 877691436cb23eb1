"""Offboarding in Mailman: the operations of `person remove` that no list file manages.

Owns the plan of Mailman operations that takes one person off the server
(`person_plan`), built from where they are (`people.Membership`, as Mailman
has it): on every list, member -> unsubscribed (`UnsubscribeMember`),
non-member entry -> off the non-member roster (`RemoveNonmember`), owner or
moderator of a list no file declares -> `RemoveMember`. The roles a list
file declares are the file edits' (the pipeline applies them once they are
merged, so the drift job never puts back what was removed): nothing here
touches them, except that erasing the address takes it off everywhere.

No list is ever left without an owner: where the address is a list's only
owner and this plan would take it away (the list is unmanaged, or the
address is erased), the replacement (`replace_with`) is added first, and
without one the plan is refused, naming every such list, before anything is
written. `--ban` adds a ban of the address on each list it leaves, before
its member and non-member entries go; `--ban global` bans it site-wide, and
`--erase` deletes the address (and its user when it has no other address):
both are site changes, applied after every list's changes and only when
every list succeeded (`apply`). `--only-private` leaves public lists alone,
and so cannot be combined with a site-wide ban or an erasure, which reach
every list.
"""

from __future__ import annotations

from collections.abc import Collection, Iterable, Mapping
from concurrent.futures import ThreadPoolExecutor

from listsync.changes import (
    AddBan,
    AddMember,
    BanSite,
    Change,
    EraseAddress,
    RemoveMember,
    RemoveNonmember,
    Role,
    SiteChange,
    UnsubscribeMember,
)
from listsync.errors import ListsyncError
from listsync.mailman import MailmanBackend
from listsync.people import Membership, Place
from listsync.plan import Action, ListPlan, Plan

# Non-member actions that keep a person's posts out; taking such an entry away lets
# their posts meet the list's default non-member action instead.
RESTRICTIVE_ACTIONS = frozenset({"hold", "reject", "discard"})


class OffboardError(ListsyncError):
    """A removal refused before anything is written (an ownerless list, options that
    contradict each other)."""


def owners_to_read(
    memberships: Iterable[Membership], *, erase: bool, only_private: bool
) -> list[str]:
    """The lists (fqdn) whose owners `person_plan` needs: where the address is an owner
    and the plan would take that away (unmanaged lists; every list when erasing)."""
    return sorted(
        {
            m.fqdn
            for m in _in_scope(memberships, only_private)
            if m.role is Place.OWNER and (erase or not m.managed)
        }
    )


def read_owners(backend: MailmanBackend, fqdns: Iterable[str]) -> dict[str, frozenset[str]]:
    """The owners (lower case) of each list named, one request each, concurrently."""
    wanted = sorted(set(fqdns))
    with ThreadPoolExecutor(max_workers=backend.workers) as pool:
        rosters = list(pool.map(backend.owners, wanted))
    return dict(zip(wanted, rosters, strict=True))


def person_plan(
    domain: str,
    address: str,
    memberships: Iterable[Membership],
    *,
    ban: bool,
    ban_global: bool,
    erase: bool,
    only_private: bool,
    owners: Mapping[str, Collection[str]],
    replace_with: str | None = None,
) -> Plan:
    """The Mailman operations that take `address` off the server: one `ListPlan` per list
    touched, and the site changes (a site-wide ban, the erasure).

    `memberships` are the address's places as Mailman has them (`people`); `owners`
    holds, for each list of `owners_to_read`, its owners now. `OffboardError` when
    the plan would leave a list without an owner (naming every such list) or the
    options contradict each other; nothing has been written then.
    """
    subject = address.strip().lower()
    new_owner = replace_with.strip().lower() if replace_with else None
    if only_private and (erase or ban_global):
        what = "--erase" if erase else "--ban global"
        raise OffboardError(
            f"{what} reaches every list, public ones too; --only-private leaves public lists"
            " alone: use one of them; nothing was changed"
        )
    if new_owner is not None and new_owner == subject:
        raise OffboardError(
            f"--replace-with names {subject}, the address being removed; nothing was changed"
        )
    places = _in_scope(memberships, only_private)
    needing = owners_to_read(places, erase=erase, only_private=only_private)
    unread = [fqdn for fqdn in needing if fqdn not in owners]
    if unread:
        raise OffboardError(f"the owners of {', '.join(unread)} were not read")
    ownerless = [fqdn for fqdn in needing if _lower(owners[fqdn]) == {subject}]
    if ownerless and new_owner is None:
        raise OffboardError(
            f"{subject} is the only owner of {', '.join(ownerless)}: removing it would leave"
            " the list without an owner; give --replace-with NEW to put NEW in its place;"
            " nothing was changed"
        )
    by_list: dict[str, list[Membership]] = {}
    for place in places:
        by_list.setdefault(place.fqdn, []).append(place)
    warnings: list[str] = []
    left_to_files: list[str] = []
    list_plans: list[ListPlan] = []
    for fqdn, here in sorted(by_list.items()):
        changes: list[Change] = []
        if fqdn in ownerless and new_owner is not None:
            changes.append(AddMember(Role.OWNER, new_owner))
        for place in sorted(here, key=lambda p: p.role.value):
            match place.role:
                case Place.OWNER | Place.MODERATOR:
                    if place.managed:
                        left_to_files.append(f"{place.role.value} of {place.list_name}")
                    else:
                        changes.append(RemoveMember(Role(place.role.value), place.address))
                case Place.MEMBER:
                    changes.append(UnsubscribeMember(place.address))
                case Place.NONMEMBER:
                    changes.append(RemoveNonmember(place.address, place.moderation_action))
                    if place.moderation_action in RESTRICTIVE_ACTIONS and not (ban or ban_global):
                        warnings.append(
                            f"{place.address} is a non-member of {fqdn} with the action"
                            f" {place.moderation_action}; without that entry, their posts meet"
                            " the list's default non-member action: --ban keeps them out"
                        )
        if ban:
            changes.append(AddBan(subject))
        changes.sort(key=lambda change: change.order)
        if not changes:  # its roles are the file edits'
            continue
        name = here[0].list_name if fqdn.endswith(f"@{domain}") else fqdn
        list_plans.append(ListPlan(name, fqdn, Action.UPDATE, tuple(changes)))
    notes: list[str] = []
    if left_to_files:
        notes.append(
            f"{subject} stays {', '.join(sorted(left_to_files))} in Mailman until the"
            " pipeline applies the edited list files"
            + (" (the erasure takes it off at once)" if erase else "")
        )
    site: list[SiteChange] = []
    if ban_global:
        site.append(BanSite(subject))
    if erase:
        site.append(EraseAddress(subject))
    return Plan(
        domain,
        False,
        tuple(list_plans),
        scope=f"person {subject}",
        notes=tuple(notes),
        warnings=tuple(warnings),
        site_changes=tuple(site),
    )


def _lower(addresses: Collection[str]) -> set[str]:
    return {a.lower() for a in addresses}


def _in_scope(memberships: Iterable[Membership], only_private: bool) -> list[Membership]:
    return [m for m in memberships if not (only_private and m.public)]
