"""Random list files and what Mailman may hold for them (hypothesis), for the pure tests
of the diff in tests/unit/.

`cases()` draws one site: the desired states of one or two lists, made from
random list files as `listsync plan` makes them (`ListSpec` -> `effective` ->
`policy.desired_state`), and for each what Mailman holds: nothing (the list is
new), a state near the desired one, or any state Mailman could hold; sometimes
also a list no file declares, or no domain at all. A live ban that the plan
never reads (a file without `bans:`, a list that does not look retired) is
drawn so that it spares the people the file adds: Mailman would refuse them,
and no plan can know why (`MailmanBackend.read_site` reads bans only where
listsync manages them). Nor does a list banning everyone lack the disabled
owner its file asks for: Mailman refuses to add them (a known bug, pinned by
test_diff.py).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from header_chain import PATTERNS
from hypothesis import strategies as st
from memory_backend import form_values, new_list_settings, stored_setting

from listsync import mailman_settings
from listsync.acceptance import DISABLE_BAN, RULE_ACTIONS, HeaderRule, bans_address
from listsync.models import (
    Archive,
    Category,
    DmarcMitigation,
    ListSpec,
    Posting,
    SiteConfig,
    Subscription,
    Visibility,
    effective,
)
from listsync.policy import ListState, declared_settings, desired_state, reads_bans

DOMAIN = "lists.example.org"
DISABLED_OWNER = "devnull@example.org"
PEOPLE = (
    "alice@example.org",
    "bob@example.org",
    "carol.d@example.net",
    "dave+lists@example.com",
    "eve@evil.example",
)
WRITTEN = {  # how a file may write some of them: with a display name, in upper case
    "alice@example.org": "Alice Example <Alice@Example.org>",
    "bob@example.org": "BOB@example.org",
    "carol.d@example.net": '"Carol D." <carol.d@example.net>',
}
BAN_PATTERNS = (
    "mallory@example.org",
    "eve@evil.example",
    r"^.*@evil\.example$",
    r"^spam[0-9]*@example\.org$",
    r"^bob@example\.org$",
    "^(carol|dave)",
)
FOOTER = "list:member:regular:footer"
WELCOME = "list:user:notice:welcome"
REJECTED = "list:user:notice:rejected"
TEMPLATE_FILES = {
    "templates/footer.txt": "-- \nThe $display_name list\n",
    "templates/welcome.txt": "Welcome to $display_name.\n",
    "templates/retired.txt": "This list is retired.\n",
}
TEMPLATE_URLS = {
    path: f"https://{DOMAIN}/templates/{path.removeprefix('templates/')}.v2"
    for path in TEMPLATE_FILES
}
OLD_URLS = {  # texts Mailman's lists may still point at
    f"https://{DOMAIN}/templates/footer.txt.v1": "-- \nold footer\n",
    "https://old.example.net/welcome.txt": "Welcome.\n",
}
TEXTS = {**{TEMPLATE_URLS[path]: text for path, text in TEMPLATE_FILES.items()}, **OLD_URLS}
"""Every template URL of the cases and its published text."""

SITE = SiteConfig.model_validate(
    {
        "domain": DOMAIN,
        "disabled_owner": DISABLED_OWNER,
        "templates": {FOOTER: "templates/footer.txt"},
        "disabled_templates": {REJECTED: "templates/retired.txt"},
        "templates_url": f"https://{DOMAIN}/templates",
    }
)
TEXTS_IN_FILES = ("", "Tor development", "Développement <b>", "a | b `c`", "questions: ask")
MULTILINE_TEXTS = (*TEXTS_IN_FILES, "two\nlines", "tab\there")
ALIASES = (r"^tor-dev-.*@example\.org$", "Alias@Example.org", r"^b@x\.org$")
NONMEMBER_ENTRIES = (*PEOPLE, r"^.*@example\.net$")
MIME_TYPES = ("text/html", "image/*", "application/x-msdownload")


def _values(enum: Any) -> st.SearchStrategy[str]:
    return st.sampled_from([member.value for member in enum])


def _choices(key: str) -> st.SearchStrategy[str]:
    return st.sampled_from(mailman_settings.SETTINGS[key].choices)


# Strategies are built once: building them is most of the cost of drawing a case.


def _file_setting_values(disabled: bool) -> dict[str, st.SearchStrategy[Any]]:
    actions = (
        st.sampled_from(sorted(mailman_settings.CLOSED_ACTIONS))
        if disabled
        else _choices("default_member_action")
    )
    return {
        "max_message_size": st.integers(0, 10**6) | st.integers(0, 999).map(str),
        "send_welcome_message": st.booleans() | st.sampled_from(["yes", "no", "On", "off"]),
        "member_roster_visibility": _choices("member_roster_visibility"),
        "acceptable_aliases": st.lists(st.sampled_from(ALIASES), max_size=3, unique=True)
        | st.sampled_from(ALIASES),
        "accept_these_nonmembers": st.lists(
            st.sampled_from(NONMEMBER_ENTRIES), max_size=3, unique=True
        ),
        "digest_size_threshold": st.floats(0, 1000).map(lambda f: round(f, 2))
        | st.integers(0, 1000),
        "bounce_info_stale_after": st.sampled_from(["7d", "1w", "1d12h", "30m", "36h", "0.5d"]),
        "advertised": st.booleans(),
        "emergency": st.booleans(),
        "archive_policy": _choices("archive_policy"),
        "subscription_policy": _choices("subscription_policy"),
        "default_member_action": actions,
        "default_nonmember_action": actions,
        "info": st.sampled_from(MULTILINE_TEXTS),
        "filter_types": st.lists(st.sampled_from(MIME_TYPES), max_size=2, unique=True),
    }


FILE_SETTINGS = sorted(_file_setting_values(False))
"""The `settings:` keys the cases' files may hold."""
_SETTINGS_OF = {
    disabled: st.fixed_dictionaries({}, optional=_file_setting_values(disabled))
    for disabled in (False, True)
}
_TYPED_FIELDS = st.fixed_dictionaries(
    {},
    optional={
        "description": st.sampled_from(TEXTS_IN_FILES),
        "category": _values(Category),
        "visibility": _values(Visibility),
        "archive": _values(Archive),
        "posting": _values(Posting),
        "subscription": _values(Subscription),
        "dmarc": st.fixed_dictionaries(
            {},
            optional={"mitigation": _values(DmarcMitigation), "unconditional": st.booleans()},
        ),
    },
)
_OPEN_ACTIONS = list(RULE_ACTIONS)
_CLOSED_ACTIONS = [a for a in RULE_ACTIONS if a != "accept"]
_NONMEMBERS_OF = {
    disabled: st.dictionaries(
        st.sampled_from(PEOPLE),
        st.sampled_from(_CLOSED_ACTIONS if disabled else _OPEN_ACTIONS),
        max_size=3,
    )
    for disabled in (False, True)
}
_RULES_OF = {
    disabled: st.lists(
        st.tuples(
            st.sampled_from(PATTERNS),
            st.sampled_from([*(_CLOSED_ACTIONS if disabled else _OPEN_ACTIONS), None]),
        ),
        max_size=4,
        unique_by=lambda rule: rule[0],
    )
    for disabled in (False, True)
}
_OWNERS_OF = {
    disabled: st.lists(st.sampled_from(PEOPLE), min_size=int(not disabled), max_size=3, unique=True)
    for disabled in (False, True)
}
_MODERATORS = st.lists(st.sampled_from(PEOPLE), max_size=2, unique=True)
_FILE_TEMPLATES = st.dictionaries(
    st.sampled_from([FOOTER, WELCOME]),
    st.none() | st.sampled_from(sorted(TEMPLATE_FILES)),
    max_size=2,
)


@st.composite
def list_files(draw: st.DrawFn) -> dict[str, Any]:
    """A valid list file, as the mapping YAML gives."""
    disabled = draw(st.sampled_from([False, False, False, True]))
    owners = draw(_OWNERS_OF[disabled])
    moderators = draw(_MODERATORS)
    spec: dict[str, Any] = draw(_TYPED_FIELDS)
    spec["owners"] = [WRITTEN.get(a, a) if draw(st.booleans()) else a for a in owners]
    spec["moderators"] = moderators
    if disabled:
        spec["disabled"] = True
    settings = draw(_SETTINGS_OF[disabled])
    if settings:
        spec["settings"] = settings
    if draw(st.booleans()):
        spec["nonmembers"] = draw(_NONMEMBERS_OF[disabled])
    if draw(st.booleans()):
        spec["header_filters"] = [
            {
                "header": header.title() if draw(st.booleans()) else header,
                "pattern": pattern,
                **({"action": action} if action else {}),
            }
            for (header, pattern), action in draw(_RULES_OF[disabled])
        ]
    if draw(st.booleans()):
        people = [*owners, *moderators]
        spec["bans"] = [
            ban
            for ban in draw(st.permutations(BAN_PATTERNS))[: draw(st.integers(0, 3))]
            if not any(bans_address(ban, person) for person in people)
        ]
    if draw(st.booleans()):
        spec["templates"] = draw(_FILE_TEMPLATES)
    return spec


def desired_of(name: str, spec: dict[str, Any]) -> ListState:
    """The desired state of list `name` with the file `spec`, as `listsync plan` makes it."""
    listed = effective(name, ListSpec.model_validate(spec), SITE)
    return desired_state(listed, SITE.disabled_owner, TEMPLATE_URLS)


# -- what Mailman holds ------------------------------------------------------------------------

LIVE_KEYS = sorted(
    set(FILE_SETTINGS) | set(declared_settings(effective("x", ListSpec(owners=[PEOPLE[0]]), SITE)))
)
"""Every setting a list file of the cases may control."""


def _live_value(key: str) -> st.SearchStrategy[Any]:
    setting = mailman_settings.SETTINGS[key]
    if setting.kind == "bool":
        return st.booleans()
    if setting.kind == "int":
        return st.integers(0, 10**6)
    if setting.kind == "float":
        return st.floats(0, 1000).map(lambda f: round(f, 2))
    if setting.kind == "enum":
        return st.sampled_from(setting.choices)
    if setting.kind == "timedelta":
        return st.sampled_from(["7d", "1d43200.0s", "0d1800.0s", "90d"])
    if key == "acceptable_aliases":
        aliases = sorted(alias.lower() for alias in ALIASES)
        return st.lists(st.sampled_from(aliases), max_size=3, unique=True).map(sorted)
    if setting.kind == "list":
        pool = NONMEMBER_ENTRIES if key == "accept_these_nonmembers" else MIME_TYPES
        return st.lists(st.sampled_from(pool), max_size=3, unique=True)
    return st.sampled_from(MULTILINE_TEXTS)


LIVE_VALUES = {key: _live_value(key) for key in LIVE_KEYS}
"""For each setting of `LIVE_KEYS`, its values as Mailman answers them."""
_LIVE_SETTINGS = {
    near: st.lists(st.sampled_from(LIVE_KEYS), unique=True, max_size=3 if near else 12).flatmap(
        lambda keys: st.fixed_dictionaries({key: LIVE_VALUES[key] for key in keys})
    )
    for near in (False, True)
}
_EVERYONE = (*PEOPLE, DISABLED_OWNER)
_LIVE_OWNERS = st.frozensets(st.sampled_from(_EVERYONE), max_size=3)
_LIVE_MODERATORS = st.frozensets(st.sampled_from(_EVERYONE), max_size=2)
_LIVE_TEMPLATES = st.dictionaries(
    st.sampled_from([FOOTER, WELCOME, REJECTED]), st.sampled_from(sorted(TEXTS)), max_size=2
)
_LIVE_NONMEMBERS = st.dictionaries(
    st.sampled_from(PEOPLE), st.sampled_from([None, *RULE_ACTIONS]), max_size=3
)
_LIVE_RULES = _RULES_OF[False].map(lambda rules: tuple(HeaderRule(h, p, a) for (h, p), a in rules))


def as_mailman_has(key: str, value: object) -> object:
    """A desired value as Mailman answers it once listsync has written it."""
    return stored_setting(key, form_values(mailman_settings.wire_value(key, value)))


def _bans_read(desired: ListState | None, settings: dict[str, Any]) -> bool:
    """Whether a plan reads the list's bans (`ListState.details_to_read`, `read_site`)."""
    if desired is None:
        return True
    return reads_bans(desired.details_to_read(), settings)


@st.composite
def live_lists(draw: st.DrawFn, name: str, desired: ListState | None) -> ListState:
    """What Mailman may hold for list `name`: near `desired`, or anything."""
    fqdn = f"{name}@{DOMAIN}"
    near = desired is not None and draw(st.booleans())
    settings = new_list_settings(fqdn)
    if desired is not None and near:
        settings.update({k: as_mailman_has(k, v) for k, v in desired.settings.items()})
    settings.update(draw(_LIVE_SETTINGS[near]))

    def kept(part: bool) -> bool:
        return near and part and draw(st.booleans())

    owners = draw(_LIVE_OWNERS)
    moderators = draw(_LIVE_MODERATORS)
    templates = draw(_LIVE_TEMPLATES)
    nonmembers = draw(_LIVE_NONMEMBERS)
    header_filters = draw(_LIVE_RULES)
    if desired is not None:
        owners = desired.owners if kept(True) else owners
        moderators = desired.moderators if kept(True) else moderators
        if kept(True):
            templates = {k: v for k, v in (desired.templates or {}).items() if v is not None}
        if kept(desired.nonmembers is not None):
            nonmembers = dict(desired.nonmembers or {})
        if kept(desired.header_filters is not None):
            header_filters = desired.header_filters or ()
    candidates: list[str] = [*BAN_PATTERNS, DISABLE_BAN]
    if desired is not None and not desired.manages_bans:
        people = desired.owners | desired.moderators | set(desired.nonmembers or {})
        candidates = [b for b in BAN_PATTERNS if not any(bans_address(b, p) for p in people)]
        if _bans_read(desired, settings):
            candidates.append(DISABLE_BAN)
    bans = frozenset(draw(st.permutations(candidates))[: draw(st.integers(0, 3))])
    if desired is not None and kept(True):
        bans = desired.bans
    if desired is not None and DISABLE_BAN in desired.bans and not desired.owners <= owners:
        bans -= {DISABLE_BAN}  # test_diff.py: test_a_list_banning_everyone_takes_its_disabled_owner
    return ListState(
        fqdn=fqdn,
        settings=settings,
        owners=owners,
        moderators=moderators,
        bans=bans,
        templates=templates,
        nonmembers=nonmembers,
        header_filters=header_filters,
    )


@dataclass(frozen=True)
class Case:
    """The desired states of a site's lists, and what Mailman holds (by list name)."""

    desired: dict[str, ListState]
    live: dict[str, ListState]
    domain_exists: bool = True


LIST_NAMES = ("tor-dev", "announce")
_NAMES = st.lists(st.sampled_from(LIST_NAMES), min_size=1, max_size=2, unique=True)


@st.composite
def cases(draw: st.DrawFn) -> Case:
    names = draw(_NAMES)
    desired = {name: desired_of(name, draw(list_files())) for name in names}
    if draw(st.integers(0, 9)) == 0:
        return Case(desired, {}, domain_exists=False)
    live = {
        name: draw(live_lists(name, desired[name])) for name in names if draw(st.integers(0, 3))
    }
    if draw(st.booleans()):
        live["relic"] = draw(live_lists("relic", None))
    return Case(desired, live)
