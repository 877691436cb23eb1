"""Policy: what a list file means in Mailman's own terms.

Owns the one mapping from typed fields to Mailman REST settings (the table
in README.md), the site's conventions applied to every list (lower-case
display name and subject prefix, `reply_goes_to_list: no_munging`, as the
Tor runbook does by hand), the disable procedure, and the lint warnings
about `settings:` keys that shadow a typed field. Its output, `ListState`,
is the normal form that the Mailman backend reads too, so the diff is one
function.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field, replace
from enum import StrEnum
from typing import Any

from listsync import mailman_settings
from listsync.acceptance import DISABLE_BAN as DISABLE_BAN
from listsync.acceptance import HeaderRule
from listsync.addresses import split_address
from listsync.errors import Problem, Severity
from listsync.mailman_templates import check_text
from listsync.models import (
    Archive,
    DmarcMitigation,
    EffectiveList,
    Posting,
    SiteConfig,
    Subscription,
    Visibility,
    effective,
)
from listsync.redaction import has_address, redact
from listsync.rosters import Membership
from listsync.site import ListFile, Site

DISABLED_PREFIX = "[Disabled] "
# Description markers of a retired list: listsync writes the first; the runbooks use both.
RETIRED_MARKERS = ("[Disabled]", "[Archived]")
# Settings of the disable procedure a disabled list's own `settings:` may set otherwise:
# the runbooks' variants (discard, no emergency moderation, still advertised).
RETIREMENT_VARIANTS = (
    "advertised",
    "default_member_action",
    "default_nonmember_action",
    "emergency",
)

ARCHIVE_POLICY = {Archive.PUBLIC: "public", Archive.PRIVATE: "private", Archive.NONE: "never"}
# posting -> (default_member_action, default_nonmember_action)
POSTING_ACTIONS = {
    Posting.OPEN: ("defer", "accept"),
    Posting.MEMBERS: ("defer", "hold"),
    Posting.MODERATED: ("hold", "hold"),
    Posting.ANNOUNCE: ("hold", "reject"),
}
SUBSCRIPTION_POLICY = {
    Subscription.OPEN: "confirm",
    Subscription.MODERATED: "confirm_then_moderate",
    Subscription.CLOSED: "moderate",
}
DMARC_ACTION = {
    DmarcMitigation.MUNGE_FROM: "munge_from",
    DmarcMitigation.WRAP_MESSAGE: "wrap_message",
    DmarcMitigation.REJECT: "reject",
    DmarcMitigation.DISCARD: "discard",
    DmarcMitigation.NONE: "no_mitigation",
}
# The REST settings each typed field sets: a `settings:` key among them shadows the field.
TYPED_FIELD_SETTINGS: dict[str, tuple[str, ...]] = {
    "description": ("description",),
    "visibility": ("advertised",),
    "archive": ("archive_policy",),
    "posting": ("default_member_action", "default_nonmember_action"),
    "subscription": ("subscription_policy",),
    "dmarc": ("dmarc_mitigate_action", "dmarc_mitigate_unconditionally"),
    "disabled": ("emergency",),
}
SHADOWED_FIELD = {key: name for name, keys in TYPED_FIELD_SETTINGS.items() for key in keys}


class Detail(StrEnum):
    """What a list's state holds beyond its settings and rosters: read only when a plan
    needs it (each costs requests per list)."""

    TEMPLATES = "templates"
    NONMEMBERS = "nonmembers"
    HEADER_FILTERS = "header_filters"
    BANS = "bans"
    MEMBERS = "members"


DETAILS = frozenset(Detail)


@dataclass(frozen=True, slots=True)
class RosterIntent:
    """What a list's file asks of its members (desired side only): `modes` maps each
    declared address to its delivery mode, `dropped` holds the addresses the roster's
    earlier revisions declared and this one does not (`additive` unsubscribes those);
    `problem` says why the roster is left exactly as it is (a source not to be trusted
    whole: `rosters.RosterError`), `unread` why its source was not read (and nothing
    is planned for it), and `source` names it for people."""

    source: str
    membership: Membership
    modes: Mapping[str, str] = field(default_factory=dict)
    dropped: frozenset[str] = frozenset()
    welcome: bool = False
    problem: str | None = None
    unread: str | None = None


@dataclass(frozen=True, slots=True)
class ListState:
    """A list as Mailman sees it, in the form both sides of the diff share.

    `settings` holds REST names and JSON values; only the keys listsync
    controls are present on the desired side. Addresses are lower case.
    On the desired side `bans` holds the bans listsync manages (the disable
    ban, and the file's `bans:` when `manages_bans`), `templates` the
    template URLs it manages (None: no URL, Mailman's own text), and
    `nonmembers` (address -> action) and `header_filters` are None when the
    file leaves them alone. On the live side each holds what was read, and
    None when it was not read; `members_unread` says why the members asked for
    could not be read (Mailman refused, or read them short): no roster change is
    planned from that. `display_names` are, on the desired side, sent when an
    address is added; on the live side, the names Mailman has for the owners and
    moderators (`import` writes them). Never compared.
    """

    fqdn: str
    settings: dict[str, Any]
    owners: frozenset[str] = field(default_factory=frozenset)
    moderators: frozenset[str] = field(default_factory=frozenset)
    bans: frozenset[str] = field(default_factory=frozenset)
    display_names: dict[str, str] = field(default_factory=dict, compare=False)
    templates: Mapping[str, str | None] | None = None
    nonmembers: Mapping[str, str | None] | None = None
    header_filters: tuple[HeaderRule, ...] | None = None
    manages_bans: bool = False
    members: frozenset[str] | None = None
    roster: RosterIntent | None = field(default=None, compare=False)
    members_unread: str | None = field(default=None, compare=False)  # live side: why not

    @property
    def name(self) -> str:
        return self.fqdn.split("@", 1)[0]

    def covers(self) -> frozenset[Detail]:
        """The details this desired state manages, the rule being "declared, or not": the
        templates it names (its file's or the site's), `nonmembers:`, `header_filters:`
        and `bans:` (even empty). The diff compares these and leaves the others alone;
        the disable ban is always compared (`disabled:` is a typed field)."""
        declared = {
            Detail.TEMPLATES: bool(self.templates),
            Detail.NONMEMBERS: self.nonmembers is not None,
            Detail.HEADER_FILTERS: self.header_filters is not None,
            Detail.BANS: self.manages_bans,
            Detail.MEMBERS: self.members is not None,
        }
        return frozenset(detail for detail, present in declared.items() if present)

    def details_to_read(self) -> frozenset[Detail]:
        """What a plan for this desired state reads of the live list beyond settings and
        rosters: what it covers, and the bans of a list it disables (is the disable ban
        there already?). A live list that looks retired has its bans read anyway
        (`reads_bans`)."""
        covered = self.covers()
        # bans: is the disable ban there already? is a declared member banned?
        wants_bans = bool(self.bans) or Detail.MEMBERS in covered
        return covered | ({Detail.BANS} if wants_bans else frozenset())


def reads_bans(details: Iterable[str], live_settings: Mapping[str, Any]) -> bool:
    """Whether reading a live list reads its bans: when `details` ask for them, or when its
    settings carry a retirement mark, so that the diff sees a disable ban to lift."""
    return Detail.BANS in set(details) or may_be_retired(live_settings)


def _emails(addresses: tuple[str, ...]) -> frozenset[str]:
    return frozenset(split_address(a)[0].lower() for a in addresses)


def _display_names(*addresses: str) -> dict[str, str]:
    names = {}
    for address in addresses:
        email, name = split_address(address)
        if name:
            names[email.lower()] = name
    return names


def declared_settings(lst: EffectiveList) -> dict[str, Any]:
    """The REST settings a list file declares, before the disable procedure."""
    member_action, nonmember_action = POSTING_ACTIONS[lst.posting]
    settings: dict[str, Any] = {
        "advertised": lst.visibility is Visibility.PUBLIC,
        "archive_policy": ARCHIVE_POLICY[lst.archive],
        "default_member_action": member_action,
        "default_nonmember_action": nonmember_action,
        "description": lst.description,
        "display_name": lst.name,
        "dmarc_mitigate_action": DMARC_ACTION[lst.dmarc_mitigation],
        "dmarc_mitigate_unconditionally": lst.dmarc_unconditional,
        "emergency": False,
        "reply_goes_to_list": "no_munging",
        "subject_prefix": f"[{lst.name}] ",
        "subscription_policy": SUBSCRIPTION_POLICY[lst.subscription],
    }
    settings.update(
        {key: mailman_settings.desired_value(key, value) for key, value in lst.settings.items()}
    )
    return settings


def desired_states(
    site: Site,
    names: Iterable[str] | None = None,
    rosters: Mapping[str, RosterIntent] | None = None,
) -> dict[str, ListState]:
    """The desired state of every list of the site, or of the named ones it declares;
    `rosters` holds the roster read for each list that declares one (`roster_read`)."""
    selected = sorted(site.lists) if names is None else sorted(set(names) & set(site.lists))
    urls = site.template_urls()
    read = rosters or {}
    return {
        name: desired_state(site.effective(name), site.config.disabled_owner, urls, read.get(name))
        for name in selected
    }


def desired_state(
    lst: EffectiveList,
    disabled_owner: str | None,
    template_urls: Mapping[str, str] | None = None,
    roster: RosterIntent | None = None,
) -> ListState:
    """The state listsync converges a list to; applies the disable procedure.

    `template_urls` gives the published URL of each template file (path ->
    URL); every file the list's templates name must be in it. A list that
    declares a roster gets `roster` (None: not read, so left alone); a
    disabled list's roster is never applied.
    """
    settings = declared_settings(lst)
    urls = template_urls or {}
    declared = ListState(
        fqdn=lst.fqdn,
        settings=settings,
        owners=_emails(lst.owners),
        moderators=_emails(lst.moderators),
        bans=lst.bans or frozenset(),
        display_names=_display_names(*lst.owners, *lst.moderators),
        templates={
            name: None if path is None else urls[path] for name, path in lst.templates.items()
        },
        nonmembers=lst.nonmembers,
        header_filters=lst.header_filters,
        manages_bans=lst.bans is not None,
    )
    if not lst.disabled:
        if roster is None or roster.problem is not None or roster.unread is not None:
            return replace(declared, roster=roster)
        return replace(declared, members=frozenset(roster.modes), roster=roster)
    if disabled_owner is None:
        raise ValueError(f"{lst.name}: disabling a list needs the site's disabled_owner")
    description = str(settings.get("description", ""))
    if not description.startswith(RETIRED_MARKERS):
        description = (DISABLED_PREFIX + description).strip()
    procedure: dict[str, Any] = {
        "advertised": False,
        "default_member_action": "reject",
        "default_nonmember_action": "reject",
        "emergency": True,
    }
    for key in RETIREMENT_VARIANTS:
        if key in lst.settings:
            procedure[key] = settings[key]
    return replace(
        declared,
        settings={**settings, **procedure, "description": description},
        owners=_emails((disabled_owner,)),
        moderators=frozenset(),
        bans=declared.bans | {DISABLE_BAN},
        display_names=_display_names(disabled_owner),
    )


def broken_invariants(states: dict[str, ListState], disabled_owner: str | None) -> list[str]:
    """Rules no flag overrides: an enabled list keeps an owner other than `disabled_owner`."""
    sole = {split_address(disabled_owner)[0].lower()} if disabled_owner else None
    broken: list[str] = []
    for name, state in sorted(states.items()):
        if DISABLE_BAN in state.bans:
            continue
        if not state.owners:
            broken.append(f"{name}: an enabled list must keep at least one owner")
        elif sole is not None and state.owners == sole:
            broken.append(f"{name}: the disabled_owner cannot be the only owner of an enabled list")
    return broken


def may_be_retired(settings: Mapping[str, Any]) -> bool:
    """Whether a live list's settings carry a retirement mark, so its bans are worth reading:
    emergency moderation (listsync's procedure) or both actions closed (the runbooks')."""
    closed = {settings.get("default_member_action"), settings.get("default_nonmember_action")}
    return settings.get("emergency") is True or closed <= mailman_settings.CLOSED_ACTIONS


def is_disabled(state: ListState) -> bool:
    """Whether a (live) list was retired: the ban of everyone, and emergency moderation
    (listsync's procedure) or both actions reject or discard (the runbooks' by hand)."""
    return DISABLE_BAN in state.bans and may_be_retired(state.settings)


def is_public(settings: Mapping[str, Any]) -> bool:
    """Whether a list with these REST settings (desired or live) is public: advertised and
    with a public archive. Every other list is private (what `--only-private` selects)."""
    return settings.get("advertised") is True and settings.get("archive_policy") == "public"


def sets_language(site: Site) -> bool:
    return any("preferred_language" in f.spec.settings for f in site.lists.values())


def unsupported_by_server(
    site: Site, server: mailman_settings.Release, languages: frozenset[str] | None = None
) -> list[Problem]:
    """Errors for `settings:` keys and values that the live server refuses.

    What its Mailman release lacks, and (given the server's `languages`) a
    `preferred_language` it does not have.
    """
    problems: list[Problem] = []
    uses = {
        (name, path)
        for list_name in site.lists
        for name, path in site.effective(list_name).templates.items()
        if path is not None and path in site.templates
    }
    for name, path in sorted(uses):
        problems += [
            Problem(path, p.line, p.col, name, p.message)
            for p in check_text(name, site.templates[path].text, server)
        ]
    for list_file in site.lists.values():
        for key, value in list_file.spec.settings.items():
            reason = mailman_settings.unsupported(key, value, server)
            if key == "preferred_language" and languages is not None and value not in languages:
                reason = (
                    f"this server has no language {value!r}; it has: {', '.join(sorted(languages))}"
                )
            if reason is not None:
                line, col = list_file.position(("settings", key), key=True)
                problems.append(Problem(list_file.path, line, col, f"settings.{key}", reason))
    return sorted(problems)


def lint(site: Site) -> list[Problem]:
    """Warnings about the site's valid files (`lint_file`)."""
    return [p for list_file in site.lists.values() for p in lint_file(list_file, site.config)]


def lint_file(list_file: ListFile, config: SiteConfig) -> list[Problem]:
    """Warnings about a valid file: `settings:` keys that shadow a typed field, and
    addresses in the description of a list the public list of lists shows."""
    problems = _addresses_shown(list_file, config)
    for key in list_file.spec.settings:
        shadowed = SHADOWED_FIELD.get(key)
        if shadowed is None or (list_file.spec.disabled and key in RETIREMENT_VARIANTS):
            continue
        line, col = list_file.position(("settings", key), key=True)
        problems.append(
            Problem(
                list_file.path,
                line,
                col,
                f"settings.{key}",
                f"overrides the typed field '{shadowed}'; prefer '{shadowed}:' "
                "unless no value of it expresses what you need",
                Severity.WARNING,
            )
        )
    return problems


def _addresses_shown(list_file: ListFile, config: SiteConfig) -> list[Problem]:
    settings = declared_settings(effective(list_file.name, list_file.spec, config))
    description = str(settings.get("description", ""))
    if settings.get("advertised") is not True or not has_address(description):
        return []
    where = ("settings", "description") if "description" in list_file.spec.settings else None
    line, col = list_file.position(where or ("description",))
    return [
        Problem(
            list_file.path,
            line,
            col,
            ".".join(where or ("description",)),
            "holds an address; the public list of lists shows it masked"
            f" ({redact(description)!r}): point readers to the list's owners instead",
            Severity.WARNING,
        )
    ]
