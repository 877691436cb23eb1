"""Diff and plan: desired vs existing `ListState`s as a value of typed changes.

Owns the one diff function and the `Plan` it produces. A plan is rendered
and applied without re-reading Mailman: every change carries what it needs.
Only the settings the desired side controls are compared, so Mailman's
bookkeeping (`created_at`, `last_post_at`, ...) never shows as drift;
addresses compare case-insensitively (both sides are lower case).
"""

from __future__ import annotations

import math
from collections import Counter
from dataclasses import dataclass, field
from enum import StrEnum
from typing import Any

from listsync import mailman_settings
from listsync.policy import DISABLE_BAN, ListState, is_disabled


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


class Role(StrEnum):
    OWNER = "owner"
    MODERATOR = "moderator"


@dataclass(frozen=True, slots=True)
class CreateList:
    """Create the list (its settings and roster follow as their own changes)."""

    order = 0


@dataclass(frozen=True, slots=True)
class AddMember:
    role: Role
    address: str
    order = 2


@dataclass(frozen=True, slots=True)
class SettingChange:
    key: str
    existing: Any
    desired: Any


@dataclass(frozen=True, slots=True)
class UpdateSettings:
    """One PATCH of every setting that differs."""

    changes: tuple[SettingChange, ...]
    order = 3

    def as_patch(self) -> dict[str, Any]:
        return {c.key: c.desired for c in self.changes}


@dataclass(frozen=True, slots=True)
class AddBan:
    """Last of all, once the disabled owner is in (the ban would refuse it)."""

    pattern: str
    order = 5


@dataclass(frozen=True, slots=True)
class RemoveMember:
    """Removals come after additions, so a list is never left without an owner."""

    role: Role
    address: str
    order = 4


@dataclass(frozen=True, slots=True)
class RemoveBan:
    """First of all: Mailman refuses to add an owner to a list whose ban matches everyone."""

    pattern: str
    order = 1


Change = CreateList | AddMember | UpdateSettings | AddBan | RemoveMember | RemoveBan


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
    filled in only when the site is in a git work tree.
    """

    name: str
    fqdn: str
    action: Action
    changes: tuple[Change, ...] = ()
    commit: CommitInfo | None = None
    uncommitted: bool = False


@dataclass(frozen=True, slots=True)
class Plan:
    domain: str
    create_domain: bool
    lists: tuple[ListPlan, ...]
    scope: str = "all lists"
    managed: int = 0
    notes: tuple[str, ...] = field(default=())

    @property
    def has_changes(self) -> bool:
        return self.create_domain or any(lp.changes for lp in self.lists)

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
        return "Plan: " + ", ".join(parts) + "."


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
        f" more than the site's limit of {max_fraction:.0%} (safety.max_changed_fraction);"
        " review it and pass --force to apply it anyway"
    )


def same_value(key: str, existing: Any, desired: Any) -> bool:
    """Mailman's JSON value of setting `key` equals the desired one, up to representation."""
    setting = mailman_settings.SETTINGS.get(key)
    if setting is not None and setting.kind == "timedelta":
        try:
            return mailman_settings.parse_duration(str(existing)) == (
                mailman_settings.parse_duration(str(desired))
            )
        except ValueError:
            return False
    if isinstance(existing, bool) or isinstance(desired, bool):
        return existing is desired
    if isinstance(existing, int | float) and isinstance(desired, int | float):
        return math.isclose(existing, desired)
    if isinstance(existing, list | tuple) and isinstance(desired, list | tuple):
        return sorted(map(str, existing)) == sorted(map(str, desired))
    if existing in (None, "") and isinstance(desired, list | tuple) and not desired:
        return True
    return bool(existing == desired)


def diff_settings(existing: dict[str, Any], desired: dict[str, Any]) -> tuple[SettingChange, ...]:
    return tuple(
        SettingChange(key, existing.get(key), value)
        for key, value in sorted(desired.items())
        if key not in existing or not same_value(key, existing[key], value)
    )


def _roster_changes(role: Role, existing: frozenset[str], desired: frozenset[str]) -> list[Change]:
    added: list[Change] = [AddMember(role, a) for a in sorted(desired - existing)]
    removed: list[Change] = [RemoveMember(role, a) for a in sorted(existing - desired)]
    return added + removed


def plan_list(desired: ListState, existing: ListState | None) -> ListPlan:
    """The changes that take one list from `existing` (None: absent) to `desired`."""
    base = existing or ListState(fqdn=desired.fqdn, settings={})
    changes: list[Change] = [CreateList()] if existing is None else []
    changes += _roster_changes(Role.OWNER, base.owners, desired.owners)
    changes += _roster_changes(Role.MODERATOR, base.moderators, desired.moderators)
    settings = diff_settings(base.settings, desired.settings)
    if settings:
        changes.append(UpdateSettings(settings))
    if DISABLE_BAN in desired.bans and DISABLE_BAN not in base.bans:
        changes.append(AddBan(DISABLE_BAN))
    if DISABLE_BAN in base.bans and DISABLE_BAN not in desired.bans:
        changes.append(RemoveBan(DISABLE_BAN))
    changes.sort(key=lambda c: c.order)
    return ListPlan(desired.name, desired.fqdn, _action(desired, existing, changes), tuple(changes))


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


def make_plan(
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
    planned = [plan_list(state, existing.get(name)) for name, state in desired.items()]
    planned += [ListPlan(name, f"{name}@{domain}", Action.UNMANAGED) for name in unmanaged]
    planned.sort(key=lambda lp: lp.name)
    managed_count = len(desired) if managed is None else managed
    return Plan(domain, not domain_exists, tuple(planned), scope, managed_count)
