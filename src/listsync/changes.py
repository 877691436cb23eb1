"""Changes: what a change is — its data, its words, its redacted form, its write.

Owns every kind of change a plan holds, each one class with all of its
behaviour: `as_json` (its object in the plan JSON, `format_version` 1, see
README.md), `lines` (what people read in the text and Markdown plans, before
`escaping` makes each line safe to print), `redacted` (the same change with
every address masked, `redaction`), `write` (the one write it makes through a
`ListWriter`) and `order` (its place among a list's changes, which `plan`
sorts by). Every kind derives from `ChangeKind`, whose methods are abstract:
a kind without one of them cannot be made (mypy and Python refuse it). The
union `Change` names every kind, so a dispatch on the kind that must remain
elsewhere ends in `assert_never` and a new kind it misses fails mypy.

Site changes (`SiteChange`: a site-wide ban, erasing an address) are not on
one list: each derives from `SiteChangeKind` and writes through a
`SiteWriter`; a plan applies them after every list's changes, and only when
every list succeeded (`apply`).

Which changes a plan holds, and in what order, is `plan`'s.
"""

from __future__ import annotations

import difflib
import json
from abc import ABC, abstractmethod
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field, replace
from enum import StrEnum
from typing import Any, Literal, Protocol, Self, get_args

from listsync import acceptance, mailman_settings
from listsync.acceptance import HeaderRule
from listsync.redaction import redact, redact_value


class ListWriter(Protocol):
    """The writes to one list that changes make: the part of `MailmanBackend` they call."""

    def create_list(self, fqdn: str, locked_down: Mapping[str, Any]) -> None: ...
    def update_settings(self, fqdn: str, settings: Mapping[str, Any]) -> None: ...
    def add_member(self, fqdn: str, role: str, address: str, display_name: str = "") -> None: ...
    def remove_member(self, fqdn: str, role: str, address: str) -> None: ...
    def add_ban(self, fqdn: str, pattern: str) -> None: ...
    def remove_ban(self, fqdn: str, pattern: str) -> None: ...
    def set_template(self, fqdn: str, name: str, url: str | None) -> None: ...
    def set_nonmember(self, fqdn: str, address: str, action: str | None, present: bool) -> None: ...
    def set_header_filters(self, fqdn: str, desired: tuple[HeaderRule, ...]) -> None: ...
    def unsubscribe(self, fqdn: str, address: str) -> None: ...
    def remove_nonmember(self, fqdn: str, address: str) -> None: ...
    def subscribe_members(
        self, fqdn: str, members: Sequence[tuple[str, str]], *, welcome: bool
    ) -> None: ...
    def unsubscribe_members(self, fqdn: str, addresses: Sequence[str]) -> None: ...


class SiteWriter(Protocol):
    """The writes site changes make, on no one list: the part of `MailmanBackend` they call."""

    def ban_site(self, pattern: str) -> None: ...
    def erase_address(self, address: str) -> None: ...


ResourceType = Literal[
    "listsync_list",
    "listsync_setting",
    "listsync_owner",
    "listsync_moderator",
    "listsync_member",
    "listsync_members",
    "listsync_nonmember",
    "listsync_ban",
    "listsync_template",
    "listsync_header_filters",
    "listsync_site_ban",
    "listsync_address",
]
"""What a resource change in the plan JSON's `resource_changes` is a change of."""
RESOURCE_TYPES: tuple[str, ...] = get_args(ResourceType)

ResourceAction = Literal["create", "update", "disable", "enable", "add", "remove"]
"""What a resource change does: listsync's own verbs."""
RESOURCE_ACTIONS: tuple[str, ...] = get_args(ResourceAction)


def resource_change(
    address: str, kind: ResourceType, action: ResourceAction, before: Any, after: Any
) -> dict[str, Any]:
    """One entry of `resource_changes`, in Terraform's shape: `before`/`after` are None
    (JSON null) where there is nothing."""
    return {
        "address": address,
        "type": kind,
        "change": {"actions": [action], "before": before, "after": after},
    }


class ChangeKind(ABC):
    """What every kind of change has; a kind lacking any of it cannot be made."""

    __slots__ = ()

    @property
    @abstractmethod
    def order(self) -> float:
        """Its place among a list's changes: lower first (see `plan`)."""

    @abstractmethod
    def as_json(self) -> dict[str, Any]:
        """Its object in the plan JSON, with its `type`."""

    @abstractmethod
    def resource_changes(self, fqdn: str) -> list[dict[str, Any]]:
        """Its entries in the plan JSON's `resource_changes` (`resource_change`), on list
        `fqdn`; never more than `as_json` shows."""

    @abstractmethod
    def lines(self, texts: Mapping[str, str]) -> list[str]:
        """Its lines for people, not yet made `visible`; `texts` holds template texts by URL."""

    @abstractmethod
    def redacted(self) -> Self:
        """The same change with every address in it masked."""

    @abstractmethod
    def write(self, writer: ListWriter, fqdn: str) -> None:
        """Make the change on list `fqdn`."""


def list_value(fqdn: str, enabled: bool) -> dict[str, Any]:
    """A list's `before`/`after` in `resource_changes`: its address and whether it is
    enabled (a disabled list is retired: locked down, every post refused)."""
    return {"fqdn": fqdn, "enabled": enabled}


class Role(StrEnum):
    OWNER = "owner"
    MODERATOR = "moderator"


class Stage(StrEnum):
    """When a settings change is applied, by what it does to the list's exposure."""

    RESTRICT = "restrict"  # DMARC mitigation and closing changes: before the roster
    CONFIGURE = "configure"  # everything else
    OPEN = "open"  # opening changes: last, once owners and settings are in


STAGE_ORDER = {Stage.RESTRICT: 1.5, Stage.CONFIGURE: 3, Stage.OPEN: 4.5}


def value(v: Any) -> str:
    """A setting's value as the plan shows it: its JSON."""
    return json.dumps(v, ensure_ascii=False)


def how(existing: Any, desired: Any) -> str:
    """For list values, which items come and go (deepdiff), e.g. ' (+ "x", - "y")'."""
    if not isinstance(existing, list) or not isinstance(desired, list):
        return ""
    from deepdiff import DeepDiff

    diff = DeepDiff(existing, desired, ignore_order=True)
    added = [f"+ {value(v)}" for v in diff.get("iterable_item_added", {}).values()]
    removed = [f"- {value(v)}" for v in diff.get("iterable_item_removed", {}).values()]
    return f" ({', '.join(added + removed)})" if added or removed else ""


@dataclass(frozen=True, slots=True)
class CreateList(ChangeKind):
    """Create the list locked down (`LOCKED_DOWN`, with the file's DMARC mitigation, and
    closer still where the file asks for it); its roster and settings follow.

    It has no lines of its own: a new list's plan shows each setting once, as it ends
    (`render.list_body`).
    """

    settings: tuple[tuple[str, Any], ...] = tuple(mailman_settings.LOCKED_DOWN.items())
    order = 0

    def as_json(self) -> dict[str, Any]:
        return {"type": "create_list", "locked_down": dict(self.settings)}

    def resource_changes(self, fqdn: str) -> list[dict[str, Any]]:
        return [resource_change(fqdn, "listsync_list", "create", None, list_value(fqdn, True))]

    def lines(self, texts: Mapping[str, str]) -> list[str]:
        return []

    def redacted(self) -> Self:
        return self

    def write(self, writer: ListWriter, fqdn: str) -> None:
        writer.create_list(fqdn, dict(self.settings))


@dataclass(frozen=True, slots=True)
class AddMember(ChangeKind):
    role: Role
    address: str
    display_name: str = ""
    order = 2

    def as_json(self) -> dict[str, Any]:
        return {"type": "add_member", "role": self.role.value, "address": self.address}

    def resource_changes(self, fqdn: str) -> list[dict[str, Any]]:
        kind: ResourceType = "listsync_owner" if self.role is Role.OWNER else "listsync_moderator"
        where = f"{fqdn}.{self.role.value}s[{self.address}]"
        return [resource_change(where, kind, "add", None, self.address)]

    def lines(self, texts: Mapping[str, str]) -> list[str]:
        return [f"+ {self.role.value} {self.address}"]

    def redacted(self) -> Self:
        """Masked, and without the display name (no form shows it)."""
        return type(self)(self.role, redact(self.address))

    def write(self, writer: ListWriter, fqdn: str) -> None:
        writer.add_member(fqdn, self.role.value, self.address, self.display_name)


@dataclass(frozen=True, slots=True)
class RemoveMember(ChangeKind):
    """Removals come after additions, so a list is never left without an owner."""

    role: Role
    address: str
    order = 4

    def as_json(self) -> dict[str, Any]:
        return {"type": "remove_member", "role": self.role.value, "address": self.address}

    def resource_changes(self, fqdn: str) -> list[dict[str, Any]]:
        kind: ResourceType = "listsync_owner" if self.role is Role.OWNER else "listsync_moderator"
        where = f"{fqdn}.{self.role.value}s[{self.address}]"
        return [resource_change(where, kind, "remove", self.address, None)]

    def lines(self, texts: Mapping[str, str]) -> list[str]:
        return [f"- {self.role.value} {self.address}"]

    def redacted(self) -> Self:
        return type(self)(self.role, redact(self.address))

    def write(self, writer: ListWriter, fqdn: str) -> None:
        writer.remove_member(fqdn, self.role.value, self.address)


@dataclass(frozen=True, slots=True)
class SettingChange:
    key: str
    existing: Any
    desired: Any


@dataclass(frozen=True, slots=True)
class UpdateSettings(ChangeKind):
    """One PATCH of the settings that differ, of one stage."""

    changes: tuple[SettingChange, ...]
    stage: Stage = Stage.CONFIGURE

    @property
    def order(self) -> float:
        return STAGE_ORDER[self.stage]

    def as_patch(self) -> dict[str, Any]:
        return {c.key: c.desired for c in self.changes}

    def as_json(self) -> dict[str, Any]:
        return {
            "type": "update_settings",
            "stage": self.stage.value,
            "settings": [
                {"key": c.key, "existing": c.existing, "desired": c.desired} for c in self.changes
            ],
        }

    def resource_changes(self, fqdn: str) -> list[dict[str, Any]]:
        return [
            resource_change(
                f"{fqdn}.settings.{c.key}", "listsync_setting", "update", c.existing, c.desired
            )
            for c in self.changes
        ]

    def lines(self, texts: Mapping[str, str]) -> list[str]:
        return [
            f"~ {c.key}: {value(c.existing)} -> {value(c.desired)}{how(c.existing, c.desired)}"
            for c in self.changes
        ]

    def redacted(self) -> Self:
        return type(self)(
            tuple(
                SettingChange(c.key, redact_value(c.existing), redact_value(c.desired))
                for c in self.changes
            ),
            self.stage,
        )

    def write(self, writer: ListWriter, fqdn: str) -> None:
        writer.update_settings(fqdn, self.as_patch())


@dataclass(frozen=True, slots=True)
class AddBan(ChangeKind):
    """Last of all but a person's removals, once the disabled owner is in (the ban would
    refuse it); before the removals (`UnsubscribeMember`, `RemoveNonmember`), so that a
    banned person is never a non-member the list's default lets through, not even
    between two writes."""

    pattern: str
    order = 5

    def as_json(self) -> dict[str, Any]:
        return {"type": "add_ban", "pattern": self.pattern}

    def resource_changes(self, fqdn: str) -> list[dict[str, Any]]:
        where = f"{fqdn}.bans[{self.pattern}]"
        return [resource_change(where, "listsync_ban", "add", None, self.pattern)]

    def lines(self, texts: Mapping[str, str]) -> list[str]:
        return [f"+ ban {self.pattern}"]

    def redacted(self) -> Self:
        return type(self)(redact(self.pattern))

    def write(self, writer: ListWriter, fqdn: str) -> None:
        writer.add_ban(fqdn, self.pattern)


@dataclass(frozen=True, slots=True)
class RemoveBan(ChangeKind):
    """First of all: Mailman refuses to add an owner to a list whose ban matches everyone."""

    pattern: str
    order = 1

    def as_json(self) -> dict[str, Any]:
        return {"type": "remove_ban", "pattern": self.pattern}

    def resource_changes(self, fqdn: str) -> list[dict[str, Any]]:
        where = f"{fqdn}.bans[{self.pattern}]"
        return [resource_change(where, "listsync_ban", "remove", self.pattern, None)]

    def lines(self, texts: Mapping[str, str]) -> list[str]:
        return [f"- ban {self.pattern}"]

    def redacted(self) -> Self:
        return type(self)(redact(self.pattern))

    def write(self, writer: ListWriter, fqdn: str) -> None:
        writer.remove_ban(fqdn, self.pattern)


@dataclass(frozen=True, slots=True)
class SetTemplate(ChangeKind):
    """Point one of the list's templates at a published text (None: Mailman's own text)."""

    name: str
    existing: str | None
    desired: str | None
    order = 3

    def as_json(self) -> dict[str, Any]:
        return {
            "type": "set_template",
            "name": self.name,
            "existing": self.existing,
            "desired": self.desired,
        }

    def resource_changes(self, fqdn: str) -> list[dict[str, Any]]:
        """add: a URL where Mailman's own text was; remove: back to Mailman's own text."""
        action: ResourceAction = (
            "add" if self.existing is None else "remove" if self.desired is None else "update"
        )
        where = f"{fqdn}.templates[{self.name}]"
        return [resource_change(where, "listsync_template", action, self.existing, self.desired)]

    def lines(self, texts: Mapping[str, str]) -> list[str]:
        """`~ template NAME`, then a unified diff of the texts (or the URLs, when a text is
        not known); a new list's or a new template's whole text as added lines."""
        name, old, new = self.name, self.existing, self.desired
        if new is None:
            return [f"- template {name}: {old} (back to Mailman's own text)"]
        symbol = "+" if old is None else "~"
        heading = f"{symbol} template {name}: {new}"
        if new not in texts or (old is not None and old not in texts):
            return [heading if old is None else f"~ template {name}: {old} -> {new}"]
        before = [] if old is None else _lines(texts[old])
        after = _lines(texts[new])
        diff = list(difflib.unified_diff(before, after, "now", "planned", lineterm="", n=2))
        if not diff:  # the same text at another URL
            return [f"~ template {name}: {old} -> {new} (same text)"]
        return [heading, *(f"    {line}" for line in diff[2:])]

    def redacted(self) -> Self:
        """Itself: a template's name and URLs are the site's, not anyone's address."""
        return self

    def write(self, writer: ListWriter, fqdn: str) -> None:
        writer.set_template(fqdn, self.name, self.desired)


def _lines(text: str) -> list[str]:
    """A text's lines, split at "\n" alone as Mailman sends them (`str.splitlines` would
    also split at a form feed or U+2028, which the plan shows as escapes instead)."""
    return text.removesuffix("\n").split("\n") if text else []


@dataclass(frozen=True, slots=True)
class SetNonmember(ChangeKind):
    """Give a non-member an action (None: back to the list's default non-member action).

    `present` says the address is on the list's non-member roster already;
    if not, it is added first. Closing changes come before the roster's,
    opening ones (accept) last.
    """

    address: str
    existing: str | None
    desired: str | None
    present: bool = True

    @property
    def order(self) -> float:
        opens = acceptance.opens_nonmember(self.existing, self.desired)
        return STAGE_ORDER[Stage.OPEN if opens else Stage.RESTRICT]

    def as_json(self) -> dict[str, Any]:
        return {
            "type": "set_nonmember",
            "address": self.address,
            "existing": self.existing,
            "desired": self.desired,
            "on_roster": self.present,
        }

    def resource_changes(self, fqdn: str) -> list[dict[str, Any]]:
        """add: onto the non-member roster; update: another action (None: the default)."""
        before = {"address": self.address, "action": self.existing} if self.present else None
        after = {"address": self.address, "action": self.desired}
        where = f"{fqdn}.nonmembers[{self.address}]"
        action: ResourceAction = "update" if self.present else "add"
        return [resource_change(where, "listsync_nonmember", action, before, after)]

    def lines(self, texts: Mapping[str, str]) -> list[str]:
        address, existing, desired = self.address, self.existing, self.desired
        if desired is None:
            return [f"- nonmember {address}: {existing} (back to the list's default)"]
        if existing is None:
            return [f"+ nonmember {address}: {desired}"]
        return [f"~ nonmember {address}: {existing} -> {desired}"]

    def redacted(self) -> Self:
        return type(self)(redact(self.address), self.existing, self.desired, self.present)

    def write(self, writer: ListWriter, fqdn: str) -> None:
        writer.set_nonmember(fqdn, self.address, self.desired, self.present)


@dataclass(frozen=True, slots=True)
class SetHeaderFilters(ChangeKind):
    """Make the list's header filters exactly `desired`, in order (new rules are added
    before old ones go, so the list is never without both)."""

    existing: tuple[HeaderRule, ...]
    desired: tuple[HeaderRule, ...]

    @property
    def order(self) -> float:
        opens = acceptance.opens_filters(self.existing, self.desired)
        return STAGE_ORDER[Stage.OPEN if opens else Stage.RESTRICT]

    def as_json(self) -> dict[str, Any]:
        return {
            "type": "set_header_filters",
            "existing": [_rule_json(rule) for rule in self.existing],
            "desired": [_rule_json(rule) for rule in self.desired],
        }

    def resource_changes(self, fqdn: str) -> list[dict[str, Any]]:
        data = self.as_json()
        where = f"{fqdn}.header_filters"
        return [
            resource_change(
                where, "listsync_header_filters", "update", data["existing"], data["desired"]
            )
        ]

    def lines(self, texts: Mapping[str, str]) -> list[str]:
        before = [f"header filter {rule.text()}" for rule in self.existing]
        after = [f"header filter {rule.text()}" for rule in self.desired]
        diff = difflib.ndiff(before, after)
        return [line for line in diff if not line.startswith("? ")]

    def redacted(self) -> Self:
        return type(self)(
            tuple(replace(rule, pattern=redact(rule.pattern)) for rule in self.existing),
            tuple(replace(rule, pattern=redact(rule.pattern)) for rule in self.desired),
        )

    def write(self, writer: ListWriter, fqdn: str) -> None:
        writer.set_header_filters(fqdn, self.desired)


def _rule_json(rule: HeaderRule) -> dict[str, Any]:
    return {"header": rule.header, "pattern": rule.pattern, "action": rule.action}


@dataclass(frozen=True, slots=True)
class UnsubscribeMember(ChangeKind):
    """Unsubscribe a member (the member role only) at once: no goodbye mail, no
    moderator's approval. After the ban (`AddBan`): the person is refused and their
    posts discarded before they stop being a member."""

    address: str
    order = 6

    def as_json(self) -> dict[str, Any]:
        return {"type": "unsubscribe_member", "address": self.address}

    def resource_changes(self, fqdn: str) -> list[dict[str, Any]]:
        where = f"{fqdn}.members[{self.address}]"
        return [resource_change(where, "listsync_member", "remove", self.address, None)]

    def lines(self, texts: Mapping[str, str]) -> list[str]:
        return [f"- member {self.address} (unsubscribed, no goodbye mail)"]

    def redacted(self) -> Self:
        return type(self)(redact(self.address))

    def write(self, writer: ListWriter, fqdn: str) -> None:
        writer.unsubscribe(fqdn, self.address)


@dataclass(frozen=True, slots=True)
class RemoveNonmember(ChangeKind):
    """Take an address off the list's non-member roster, with its action (`existing`,
    None: the list's default). Last: with a ban, the ban is in before an entry that
    held or discarded the person's posts goes."""

    address: str
    existing: str | None = None
    order = 6.5

    def as_json(self) -> dict[str, Any]:
        return {"type": "remove_nonmember", "address": self.address, "existing": self.existing}

    def resource_changes(self, fqdn: str) -> list[dict[str, Any]]:
        before = {"address": self.address, "action": self.existing}
        where = f"{fqdn}.nonmembers[{self.address}]"
        return [resource_change(where, "listsync_nonmember", "remove", before, None)]

    def lines(self, texts: Mapping[str, str]) -> list[str]:
        action = self.existing or "the list's default"
        return [f"- nonmember {self.address}: {action} (off the non-member roster)"]

    def redacted(self) -> Self:
        return type(self)(redact(self.address), self.existing)

    def write(self, writer: ListWriter, fqdn: str) -> None:
        writer.remove_nonmember(fqdn, self.address)


def _plural(count: int, word: str) -> str:
    return f"{count} {word}" + ("" if count == 1 else "s")


@dataclass(frozen=True, slots=True)
class SubscribeMembers(ChangeKind):
    """Subscribe the members a roster declares and the list lacks, each with its delivery
    mode: pre-verified, pre-confirmed and pre-approved, with Mailman's welcome mail only
    when the file asks (`welcome`). Redacted, only their number is left (`count`): a
    roster is personal data. After the list's settings, before it opens up."""

    members: tuple[tuple[str, str], ...]  # (address, delivery mode)
    count: int
    source: str
    welcome: bool = False
    order = 4

    def as_json(self) -> dict[str, Any]:
        data: dict[str, Any] = {
            "type": "subscribe_members",
            "count": self.count,
            "source": self.source,
            "welcome": self.welcome,
        }
        if len(self.members) == self.count:
            data["members"] = [{"address": a, "delivery_mode": m} for a, m in self.members]
        return data

    def resource_changes(self, fqdn: str) -> list[dict[str, Any]]:
        """The roster's additions as one change of `members`: their number, and who
        only where `as_json` names them (never in a redacted plan)."""
        after = {k: v for k, v in self.as_json().items() if k != "type"}
        return [resource_change(f"{fqdn}.members", "listsync_members", "add", None, after)]

    def lines(self, texts: Mapping[str, str]) -> list[str]:
        mail = "a welcome mail" if self.welcome else "no welcome mail"
        head = f"+ {_plural(self.count, 'member')} ({self.source}; pre-approved, {mail})"
        return [head] + [
            f"    + {address}" + ("" if mode == "regular" else f" ({mode})")
            for address, mode in self.members
        ]

    def redacted(self) -> Self:
        return type(self)((), self.count, redact(self.source), self.welcome)

    def write(self, writer: ListWriter, fqdn: str) -> None:
        if len(self.members) != self.count:
            raise ValueError("a redacted roster change names no one: it is never written")
        writer.subscribe_members(fqdn, self.members, welcome=self.welcome)


@dataclass(frozen=True, slots=True)
class UnsubscribeMembers(ChangeKind):
    """Unsubscribe the members a roster does not declare (`exact`) or dropped
    (`additive`), in bulk: no goodbye mail, no moderator's approval. `of` is the
    number of members the list has now (shown, not part of the change's JSON: the
    re-plan of a saved plan is held to who goes, not to who else joined). Redacted,
    only the number is left. Early: fewer people receive the list from then on."""

    addresses: tuple[str, ...]
    count: int
    membership: str
    of: int = field(default=0, compare=False)
    order = 1.75

    def as_json(self) -> dict[str, Any]:
        data: dict[str, Any] = {
            "type": "unsubscribe_members",
            "count": self.count,
            "membership": self.membership,
        }
        if len(self.addresses) == self.count:
            data["addresses"] = list(self.addresses)
        return data

    def resource_changes(self, fqdn: str) -> list[dict[str, Any]]:
        """The roster's removals as one change of `members`, as `as_json` shows them."""
        before = {k: v for k, v in self.as_json().items() if k != "type"}
        return [resource_change(f"{fqdn}.members", "listsync_members", "remove", before, None)]

    def lines(self, texts: Mapping[str, str]) -> list[str]:
        why = "not declared" if self.membership == "exact" else "dropped from the roster"
        of = f" of {self.of}" if self.of else ""
        head = f"- {_plural(self.count, 'member')}{of} ({why}: unsubscribed, no goodbye mail)"
        return [head] + [f"    - {address}" for address in self.addresses]

    def redacted(self) -> Self:
        return type(self)((), self.count, self.membership, self.of)

    def write(self, writer: ListWriter, fqdn: str) -> None:
        if len(self.addresses) != self.count:
            raise ValueError("a redacted roster change names no one: it is never written")
        writer.unsubscribe_members(fqdn, self.addresses)


ROSTER_CHANGES = (SubscribeMembers, UnsubscribeMembers)
"""The kinds a roster makes: what a roster refused without --force leaves out."""


Change = (
    CreateList
    | AddMember
    | UpdateSettings
    | AddBan
    | RemoveMember
    | RemoveBan
    | SetTemplate
    | SetNonmember
    | SetHeaderFilters
    | UnsubscribeMember
    | RemoveNonmember
    | SubscribeMembers
    | UnsubscribeMembers
)
"""Every kind of change; each is a `ChangeKind` (tests/unit/test_change_kinds.py checks)."""


class SiteChangeKind(ABC):
    """What every change on no one list has; a kind lacking any of it cannot be made."""

    __slots__ = ()

    @property
    @abstractmethod
    def order(self) -> float:
        """Its place among the site changes: lower first."""

    @abstractmethod
    def as_json(self) -> dict[str, Any]:
        """Its object in the plan JSON's `site_changes`, with its `type`."""

    @abstractmethod
    def resource_changes(self) -> list[dict[str, Any]]:
        """Its entries in the plan JSON's `resource_changes`, on the server (`site.`)."""

    @abstractmethod
    def lines(self) -> list[str]:
        """Its lines for people, not yet made `visible`."""

    @abstractmethod
    def redacted(self) -> Self:
        """The same change with every address in it masked."""

    @abstractmethod
    def write(self, writer: SiteWriter) -> None:
        """Make the change on the server."""


@dataclass(frozen=True, slots=True)
class BanSite(SiteChangeKind):
    """Ban an address (or a ^regexp) on every list of the server (Mailman's `bans`)."""

    pattern: str
    order = 1

    def as_json(self) -> dict[str, Any]:
        return {"type": "ban_site", "pattern": self.pattern}

    def resource_changes(self) -> list[dict[str, Any]]:
        where = f"site.bans[{self.pattern}]"
        return [resource_change(where, "listsync_site_ban", "add", None, self.pattern)]

    def lines(self) -> list[str]:
        return [f"+ ban {self.pattern} (site-wide: every list of the server)"]

    def redacted(self) -> Self:
        return type(self)(redact(self.pattern))

    def write(self, writer: SiteWriter) -> None:
        writer.ban_site(self.pattern)


@dataclass(frozen=True, slots=True)
class EraseAddress(SiteChangeKind):
    """Delete the address from Mailman, with every membership it still has in every role,
    and its user when the user has no other address. Last of everything: it takes the
    address off lists whose owner question only the earlier changes settle."""

    address: str
    order = 2

    def as_json(self) -> dict[str, Any]:
        return {"type": "erase_address", "address": self.address}

    def resource_changes(self) -> list[dict[str, Any]]:
        where = f"site.addresses[{self.address}]"
        return [resource_change(where, "listsync_address", "remove", self.address, None)]

    def lines(self) -> list[str]:
        return [
            f"- address {self.address} (erased: every membership left, and its user"
            " when it has no other address)"
        ]

    def redacted(self) -> Self:
        return type(self)(redact(self.address))

    def write(self, writer: SiteWriter) -> None:
        writer.erase_address(self.address)


SiteChange = BanSite | EraseAddress
"""Every kind of change on no one list; each is a `SiteChangeKind`."""
