"""Diff and plan: desired vs existing `ListState`s as a value of typed changes.

Owns the one diff function and the `Plan` it produces, and the order of a
list's changes (what each kind of change is and does is `changes`'): every
prefix of them leaves the list no more exposed than either its state before
or the one planned (a new list is created locked down, mitigation and
closing changes come first, opening ones last, owners are added before any
is removed). A plan is rendered and applied without re-reading Mailman:
every change carries what it needs. Only the settings the desired side
controls are compared, so Mailman's bookkeeping (`created_at`,
`last_post_at`, ...) never shows as drift; addresses compare
case-insensitively (both sides are lower case).
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Mapping
from dataclasses import dataclass, field
from enum import StrEnum
from typing import Any

from listsync import acceptance, mailman_settings
from listsync.acceptance import DISABLE_BAN
from listsync.changes import (
    AddBan,
    AddMember,
    Change,
    CreateList,
    RemoveBan,
    RemoveMember,
    Role,
    SetHeaderFilters,
    SetNonmember,
    SetTemplate,
    SettingChange,
    SiteChange,
    Stage,
    SubscribeMembers,
    UnsubscribeMembers,
    UpdateSettings,
)
from listsync.policy import Detail, ListState, is_disabled
from listsync.rosters import Membership


class Action(StrEnum):
    CREATE = "create"
    UPDATE = "update"
    DISABLE = "disable"
    ENABLE = "enable"
    UNCHANGED = "unchanged"
    UNMANAGED = "unmanaged"


SYMBOL = {
    Action.CREATE: "+",
    Action.UPDATE: "~",
    Action.DISABLE: "~",
    Action.ENABLE: "~",
    Action.UNCHANGED: " ",
    Action.UNMANAGED: "?",
}


CHANGING = frozenset({Action.UPDATE, Action.DISABLE, Action.ENABLE})


@dataclass(frozen=True, slots=True)
class CommitInfo:
    """The commit that last touched a list's file: who asked for the change, and how."""

    hash: str
    author: str
    subject: str

    @property
    def short(self) -> str:
        return self.hash[:7]


@dataclass(frozen=True, slots=True)
class ListPlan:
    """Everything planned for one list, in the order it is applied.

    `commit` names the commit that last touched the list's file and
    `uncommitted` says the file has changes git does not have yet; both are
    filled in only when the site is in a git work tree. `drift` marks a
    list outside the change under review whose live state differs from its
    file: the apply after the merge repairs it too. `reverts_hand_change` marks
    a list whose changes no commit asked for: Mailman was changed by hand, and
    the plan puts back what the file says. `roster_notes` says what
    the plan cannot do with the list's members and why; with `roster_refused`
    the roster's source is not to be trusted, its members are left as they
    are, and the list counts as failed.
    """

    name: str
    fqdn: str
    action: Action
    changes: tuple[Change, ...] = ()
    commit: CommitInfo | None = None
    uncommitted: bool = False
    drift: bool = False
    roster_notes: tuple[str, ...] = ()
    roster_refused: bool = False
    reverts_hand_change: bool = False


@dataclass(frozen=True, slots=True)
class Plan:
    """What one run changes: each list's changes, and `site_changes` on no one list (a
    site-wide ban, an erasure), applied in their order after every list's changes, and
    only when every list succeeded (`apply`)."""

    domain: str
    create_domain: bool
    lists: tuple[ListPlan, ...]
    scope: str = "all lists"
    managed: int = 0
    notes: tuple[str, ...] = field(default=())
    warnings: tuple[str, ...] = field(default=())
    texts: Mapping[str, str] = field(default_factory=dict)  # template URL -> its text
    site_changes: tuple[SiteChange, ...] = ()

    def template_urls(self) -> set[str]:
        """Every template URL the changes name, the ones replaced and the new ones."""
        return {
            url
            for lp in self.lists
            for change in lp.changes
            if isinstance(change, SetTemplate)
            for url in (change.existing, change.desired)
            if url is not None
        }

    @property
    def has_changes(self) -> bool:
        return self.create_domain or any(lp.changes for lp in self.lists) or bool(self.site_changes)

    def counts(self) -> Counter[Action]:
        return Counter(lp.action for lp in self.lists)

    def summary(self) -> str:
        counts = self.counts()
        parts = [
            f"{counts[Action.CREATE]} to create",
            f"{counts[Action.UPDATE]} to update",
            f"{counts[Action.DISABLE]} to disable",
            f"{counts[Action.ENABLE]} to enable",
            f"{counts[Action.UNCHANGED]} unchanged",
            f"{counts[Action.UNMANAGED]} unmanaged",
        ]
        if self.site_changes:
            parts.append(f"{len(self.site_changes)} site change(s)")
        if self.refused_rosters:
            parts.append(f"{len(self.refused_rosters)} roster(s) refused")
        return "Plan: " + ", ".join(parts) + "."

    @property
    def refused_rosters(self) -> tuple[str, ...]:
        """The lists whose roster source is not trusted whole (their members left alone)."""
        return tuple(lp.name for lp in self.lists if lp.roster_refused)


def unsafe_reason(plan: Plan, max_fraction: float, min_managed: int) -> str | None:
    """Why applying `plan` needs --force, or None: too large a share of lists would change.

    The share is of the lists the site manages that exist already; creating
    lists does not count. Small sites (fewer than `min_managed`) are exempt.
    """
    existing = plan.managed - plan.counts()[Action.CREATE]
    touched = sum(1 for lp in plan.lists if lp.action in CHANGING)
    if existing < min_managed or existing <= 0 or touched / existing <= max_fraction:
        return None
    return (
        f"this plan changes {touched} of {existing} managed lists ({touched / existing:.0%}),"
        f" more than the site's limit of {max_fraction:.0%} (safety.max_changed_fraction)"
    )


def stage_of(change: SettingChange) -> Stage:
    if change.key in mailman_settings.MITIGATION:
        return Stage.RESTRICT
    before = mailman_settings.openness(change.key, change.existing)
    after = mailman_settings.openness(change.key, change.desired)
    if before is None or after is None or before == after:
        return Stage.CONFIGURE
    return Stage.RESTRICT if after < before else Stage.OPEN


def diff_settings(existing: dict[str, Any], desired: dict[str, Any]) -> tuple[SettingChange, ...]:
    return tuple(
        SettingChange(key, existing.get(key), value)
        for key, value in sorted(desired.items())
        if key not in existing or not mailman_settings.same(key, existing[key], value)
    )


def _roster_changes(
    role: Role, existing: frozenset[str], desired: frozenset[str], names: Mapping[str, str]
) -> list[Change]:
    added: list[Change] = [AddMember(role, a, names.get(a, "")) for a in sorted(desired - existing)]
    removed: list[Change] = [RemoveMember(role, a) for a in sorted(existing - desired)]
    return added + removed


def diff_list(desired: ListState, existing: ListState | None) -> ListPlan:
    """The changes that take one list from `existing` (None: absent) to `desired`."""
    base = existing
    changes: list[Change] = []
    if base is None:  # created locked down and mitigated as the file says, in one step
        locked = dict(mailman_settings.LOCKED_DOWN)
        locked.update(
            (k, v) for k, v in desired.settings.items() if k in mailman_settings.MITIGATION
        )
        locked.update(  # closer still where the file asks: no restricting PATCH after it
            (k, v)
            for k, v in desired.settings.items()
            if k in locked and stage_of(SettingChange(k, locked[k], v)) is Stage.RESTRICT
        )
        base = ListState(fqdn=desired.fqdn, settings=locked, members=frozenset())
        changes.append(CreateList(tuple(locked.items())))
    changes += _roster_changes(Role.OWNER, base.owners, desired.owners, desired.display_names)
    changes += _roster_changes(
        Role.MODERATOR, base.moderators, desired.moderators, desired.display_names
    )
    settings = diff_settings(base.settings, desired.settings)
    stages = [stage_of(c) for c in settings]
    for stage in Stage:
        staged = tuple(c for c, its in zip(settings, stages, strict=True) if its is stage)
        if staged:
            changes.append(UpdateSettings(staged, stage))
    covered = desired.covers()
    if Detail.TEMPLATES in covered:
        changes += _template_changes(desired, base)
    if Detail.NONMEMBERS in covered:
        changes += _nonmember_changes(desired, base)
    if Detail.HEADER_FILTERS in covered:
        changes += _header_filter_changes(desired, base)
    changes += _ban_changes(desired, base, every=Detail.BANS in covered)
    members, notes, refused = _member_changes(desired, base, desired.bans | base.bans)
    changes += members
    changes.sort(key=lambda c: c.order)
    if existing is None:
        changes = _open_new_list_at_once(changes)
    action = _action(desired, existing, changes)
    return ListPlan(
        desired.name,
        desired.fqdn,
        action,
        tuple(changes),
        roster_notes=notes,
        roster_refused=refused,
    )


def _open_new_list_at_once(changes: list[Change]) -> list[Change]:
    """A new list's configuring settings joined to its opening ones: one PATCH, at the
    opening's place, last. The list is locked down until then, so nothing opens sooner
    and nothing is left half-configured but closed; one request fewer a new list.

    Kept apart where a change comes between the two (members subscribed after the
    settings and before the list opens: their welcome mail is written with the settings).
    """
    configure = next(
        (c for c in changes if isinstance(c, UpdateSettings) and c.stage is Stage.CONFIGURE), None
    )
    opening = next(
        (c for c in changes if isinstance(c, UpdateSettings) and c.stage is Stage.OPEN), None
    )
    if configure is None or opening is None:
        return changes
    if any(configure.order < c.order < opening.order for c in changes):
        return changes
    joined = UpdateSettings(
        tuple(sorted(configure.changes + opening.changes, key=lambda c: c.key)), Stage.OPEN
    )
    return [joined if c is opening else c for c in changes if c is not configure]


def _member_changes(
    desired: ListState, base: ListState, bans: frozenset[str]
) -> tuple[list[Change], tuple[str, ...], bool]:
    """A roster's subscriptions and unsubscriptions, or why there are none: (changes,
    notes, refused). Nothing is planned from a source not trusted whole, nor from a
    live roster not read (a snapshot holds no members) or not read whole."""
    intent = desired.roster
    if intent is None:
        return [], (), False
    if intent.problem is not None:
        return [], (f"members not changed: {intent.problem}",), True
    declared = f"{len(intent.modes)} declared in {intent.source} ({intent.membership.value})"
    if intent.unread is not None:
        return [], (f"members not planned: {intent.unread}",), False
    if base.members_unread is not None:
        why = f"the live members could not be read whole: {base.members_unread}"
        return [], (f"members not changed: {why}",), True
    if base.members is None:
        return [], (f"members: {declared}; the live members are not read here",), False
    banned = sorted(a for a in intent.modes if any(acceptance.bans_address(b, a) for b in bans))
    if banned:
        shown = ", ".join(banned[:5]) + (f" and {len(banned) - 5} more" if len(banned) > 5 else "")
        why = f"{shown} declared, and banned on the list: Mailman refuses to subscribe them"
        return [], (f"members not changed: {why}",), True
    added = sorted(intent.modes.keys() - base.members)
    if intent.membership is Membership.EXACT:
        gone = sorted(base.members - intent.modes.keys())
    else:
        gone = sorted(base.members & intent.dropped)
    changes: list[Change] = []
    if added:
        members = tuple((a, intent.modes[a]) for a in added)
        changes.append(SubscribeMembers(members, len(members), intent.source, intent.welcome))
    if gone:
        membership = intent.membership.value
        changes.append(UnsubscribeMembers(tuple(gone), len(gone), membership, len(base.members)))
    return changes, (), False


def roster_guard(lp: ListPlan, max_fraction: float, min_size: int) -> str | None:
    """Why applying `lp`'s roster change needs --force, or None: it unsubscribes more than
    `max_fraction` of a list of at least `min_size` members."""
    for change in lp.changes:
        if not isinstance(change, UnsubscribeMembers) or change.of < max(min_size, 1):
            continue
        share = change.count / change.of
        if share > max_fraction:
            return (
                f"{lp.name}: its roster change unsubscribes {change.count} of {change.of}"
                f" members ({share:.0%}), more than the site's limit of {max_fraction:.0%}"
                " (safety.max_unsubscribed_fraction)"
            )
    return None


def _template_changes(desired: ListState, base: ListState) -> list[Change]:
    live = base.templates or {}
    return [
        SetTemplate(name, live.get(name), url)
        for name, url in sorted((desired.templates or {}).items())
        if live.get(name) != url
    ]


def _nonmember_changes(desired: ListState, base: ListState) -> list[Change]:
    declared = desired.nonmembers or {}
    live: dict[str, str | None] = dict(base.nonmembers or {})
    banning = base.bans & desired.bans  # bans kept: Mailman refuses to add who they match
    changes: list[Change] = [
        SetNonmember(address, live.get(address), action, present=address in live)
        for address, action in sorted(declared.items())
        if (address not in live and not any(acceptance.bans_address(b, address) for b in banning))
        or (address in live and live[address] != action)
    ]
    changes += [
        SetNonmember(address, action, None)
        for address, action in sorted(live.items())
        if action is not None and address not in declared
    ]
    return changes


def _header_filter_changes(desired: ListState, base: ListState) -> list[Change]:
    declared = desired.header_filters or ()
    if declared == (base.header_filters or ()):
        return []
    return [SetHeaderFilters(base.header_filters or (), declared)]


def _ban_changes(desired: ListState, base: ListState, *, every: bool) -> list[Change]:
    """The disable ban as `disabled` says; the others only when the file declares `bans:`
    (`every`: the desired state covers bans).

    Addresses are banned before patterns, the disable ban last; a ban that a
    pattern Mailman keeps matches already is left out (Mailman refuses it,
    and it is banned anyway): it comes when that pattern goes.
    """
    managed = desired.bans if every else desired.bans & {DISABLE_BAN}
    live = base.bans if every else base.bans & {DISABLE_BAN}
    kept = live & managed
    added: list[Change] = [
        AddBan(pattern)
        for pattern in sorted(managed - live, key=acceptance.ban_order)
        if not acceptance.banned_by(pattern, kept)
    ]
    removed: list[Change] = [RemoveBan(pattern) for pattern in sorted(live - managed)]
    return added + removed


def _action(desired: ListState, existing: ListState | None, changes: list[Change]) -> Action:
    if existing is None:
        return Action.CREATE
    if not changes:
        return Action.UNCHANGED
    if is_disabled(desired) and not is_disabled(existing):
        return Action.DISABLE
    if is_disabled(existing) and not is_disabled(desired):
        return Action.ENABLE
    return Action.UPDATE


def diff_site(
    domain: str,
    desired: dict[str, ListState],
    existing: dict[str, ListState],
    *,
    domain_exists: bool,
    unmanaged: tuple[str, ...] = (),
    scope: str = "all lists",
    managed: int | None = None,
) -> Plan:
    """Diff every desired list against what exists; unmanaged lists are only reported."""
    planned = [diff_list(state, existing.get(name)) for name, state in desired.items()]
    planned += [ListPlan(name, f"{name}@{domain}", Action.UNMANAGED) for name in unmanaged]
    planned.sort(key=lambda lp: lp.name)
    managed_count = len(desired) if managed is None else managed
    return Plan(domain, not domain_exists, tuple(planned), scope, managed_count)
