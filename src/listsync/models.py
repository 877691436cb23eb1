"""The file format: pydantic models of a list file and of `listsync.yaml`.

Owns what a valid file is (fields, enums, addresses, the `settings:` escape
hatch checked against Mailman's own catalogue) and what a list file means
once the site's defaults are applied (`Site.effective`). It knows nothing of
YAML positions (that is `load`) nor of Mailman's setting values beyond the
catalogue (that is `policy`). No string of a file may hold a control
character (`escaping.HIDDEN_CATEGORIES`: line breaks, ANSI escapes, bidi
controls); only the multi-line texts of `settings:` keep line breaks and tabs.
"""

from __future__ import annotations

import difflib
import re
import urllib.parse
from dataclasses import dataclass, field
from datetime import timedelta
from enum import StrEnum
from typing import Annotated, Any, Self, TypeVar

from pydantic import (
    AfterValidator,
    BaseModel,
    ConfigDict,
    Field,
    PrivateAttr,
    StrictBool,
    StrictStr,
    ValidationError,
    field_validator,
    model_validator,
)
from pydantic.config import JsonDict
from pydantic_core import InitErrorDetails, PydanticCustomError

from listsync import acceptance, mailman_settings, mailman_templates
from listsync.addresses import (
    bare_address,
    normalise_address,
    plain,
    plain_text_problem,
    split_address,
)
from listsync.escaping import hidden_character
from listsync.rosters import (
    BareAddress,
    LdapCredentials,
    LdapQuery,
    LdapSource,
    Member,
    Membership,
    RosterPath,
)

DEFAULT_NAMING = r"^[a-z0-9][a-z0-9-]{1,62}$"
# What any list name must be, whatever the site's pattern allows: Mailman
# lower-cases names, and a name ends up in URL paths and rendered pages.
LIST_NAME = r"^[a-z0-9][a-z0-9._+-]{0,127}$"
# What each part of a template file's path must be, for the same reasons (its name is
# published at a URL and shown in plans): no dot file, no blank, nothing to quote.
TEMPLATE_PATH_PART = r"^[A-Za-z0-9_][A-Za-z0-9._-]{0,127}$"
# Settings whose text Mailman keeps and sends on several lines (Postorius edits them in a
# text area): they may hold line breaks and tabs, and no other control character.
MULTILINE_SETTINGS = frozenset(
    {
        "autoresponse_owner_text",
        "autoresponse_postings_text",
        "autoresponse_request_text",
        "dmarc_moderation_notice",
        "dmarc_wrapped_message_text",
        "info",
    }
)


class Category(StrEnum):
    DISCUSSION = "discussion"
    NOTIFICATION = "notification"
    ADMINISTRATIVE = "administrative"
    TEAM = "team"


class Visibility(StrEnum):
    PUBLIC = "public"
    PRIVATE = "private"


class Archive(StrEnum):
    PUBLIC = "public"
    PRIVATE = "private"
    NONE = "none"


class Posting(StrEnum):
    OPEN = "open"
    MEMBERS = "members"
    MODERATED = "moderated"
    ANNOUNCE = "announce"


class Subscription(StrEnum):
    OPEN = "open"
    MODERATED = "moderated"
    CLOSED = "closed"


class DmarcMitigation(StrEnum):
    MUNGE_FROM = "munge_from"
    WRAP_MESSAGE = "wrap_message"
    REJECT = "reject"
    DISCARD = "discard"
    NONE = "none"


def _one_line(value: str) -> str:
    return plain(value).strip()


Address = Annotated[
    StrictStr,
    AfterValidator(normalise_address),
    Field(
        description="An e-mail address, optionally with a display name: "
        "'alice@example.org' or 'Alice Liddell <alice@example.org>'. Stored lower case.",
        examples=["alice@example.org"],
    ),
]
OneLine = Annotated[StrictStr, AfterValidator(_one_line)]


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class Dmarc(_Strict):
    """DMARC mitigation, as in the Tor runbook: munge the From header, always."""

    mitigation: DmarcMitigation | None = Field(
        default=None, description="Mailman's dmarc_mitigate_action ('none' is no_mitigation)."
    )
    unconditional: StrictBool | None = Field(
        default=None,
        description="Mailman's dmarc_mitigate_unconditionally: mitigate every message, "
        "not only those from domains with a strict DMARC policy.",
    )


RuleAction = Annotated[
    StrictStr,
    AfterValidator(lambda v: _choice(v, acceptance.RULE_ACTIONS)),
    Field(json_schema_extra={"enum": list(acceptance.RULE_ACTIONS)}),
]


def _choice(value: str, choices: tuple[str, ...]) -> str:
    if value not in choices:
        raise ValueError(
            f"{value!r} is not one of: {', '.join(choices)}{did_you_mean(value, list(choices))}"
        )
    return value


def _checked(check: Any) -> Any:
    def validate(value: str) -> str:
        message = check(value)
        if message is not None:
            raise ValueError(message)
        return value

    return validate


class HeaderFilter(_Strict):
    """One header filter: a message whose `header` matches `pattern` gets `action`."""

    header: Annotated[StrictStr, AfterValidator(_checked(acceptance.check_header))] = Field(
        description="The header's name, e.g. X-Spam-Flag (Mailman stores it lower case)."
    )
    pattern: Annotated[StrictStr, AfterValidator(_checked(acceptance.check_pattern))] = Field(
        description="A regular expression searched in the header's value."
    )
    action: RuleAction | None = Field(
        default=None,
        description="accept, hold, reject or discard; omitted: the site's default"
        " ([antispam] jump_chain in mailman.cfg, hold unless changed).",
    )

    def rule(self) -> acceptance.HeaderRule:
        return acceptance.HeaderRule(self.header.lower(), self.pattern, self.action)


def plain_template_path(path: str) -> str | None:
    """Why `path` (below templates/, as `check_path` found) is no plain file name, or None."""
    if all(re.fullmatch(TEMPLATE_PATH_PART, part) for part in path.split("/")[1:]):
        return None
    return (
        f"{path!r} is not a plain file name in {mailman_templates.TEMPLATES_DIR}/: each part of"
        " its path may hold only letters, digits and . _ - (and not start with . or -)"
    )


TemplatePath = Annotated[
    StrictStr,
    AfterValidator(_checked(mailman_templates.check_path)),
    AfterValidator(_checked(plain_template_path)),
    Field(
        description="A text file below the site root, in templates/.",
        examples=["templates/footer.txt"],
    ),
]


def _template_names(value: dict[str, Any]) -> dict[str, Any]:
    errors = [
        InitErrorDetails(
            type=PydanticCustomError(
                "unknown_template",
                "unknown list template '{key}'{hint}; Mailman has: {names}",
                {
                    "key": key,
                    "hint": did_you_mean(key, list(mailman_templates.LIST_TEMPLATES)),
                    "names": ", ".join(mailman_templates.LIST_TEMPLATES),
                },
            ),
            loc=(key,),
            input=key,
        )
        for key in value
        if key not in mailman_templates.LIST_TEMPLATES
    ]
    if errors:
        raise ValidationError.from_exception_data("templates", errors)
    return value


_TEMPLATES_SCHEMA: JsonDict = {"propertyNames": {"enum": list(mailman_templates.LIST_TEMPLATES)}}


class ListDefaults(_Strict):
    """Typed list fields a site may default in `listsync.yaml`."""

    category: Category | None = None
    visibility: Visibility | None = None
    archive: Archive | None = None
    posting: Posting | None = None
    subscription: Subscription | None = None
    dmarc: Dmarc | None = None


def _duplicates(addresses: list[str]) -> list[str]:
    seen: set[str] = set()
    repeated: list[str] = []
    for value in addresses:
        addr = split_address(value)[0]
        if addr in seen:
            repeated.append(addr)
        seen.add(addr)
    return repeated


class ListSpec(_Strict):
    """One list file, `lists/NAME.yaml`: the list's declared state."""

    description: OneLine = Field(default="", description="One sentence about the list.")
    category: Category | None = Field(
        default=None, description="Section of the list of lists; default from the site."
    )
    visibility: Visibility | None = Field(
        default=None,
        description="public: advertised in the list of lists; private: not advertised.",
    )
    archive: Archive | None = Field(
        default=None,
        description="Archive policy; default: public for public lists, private for private ones.",
    )
    posting: Posting | None = Field(default=None, description="Who may post.")
    subscription: Subscription | None = Field(
        default=None,
        description="open: confirm by e-mail; moderated: confirm, then an owner approves; "
        "closed: every request is held for an owner (invite only).",
    )
    dmarc: Dmarc | None = None
    owners: list[Address] = Field(
        default_factory=list, description="List owners; at least one unless disabled."
    )
    moderators: list[Address] = Field(default_factory=list)
    disabled: StrictBool = Field(
        default=False,
        description="true applies the disable procedure; false restores the declared state.",
    )
    templates: dict[str, TemplatePath | None] = Field(
        default_factory=dict,
        description="Mailman templates by name, each a text file in templates/ (null: Mailman's"
        " own text); a name set here wins over the site's templates:.",
        json_schema_extra=_TEMPLATES_SCHEMA,
    )
    nonmembers: dict[str, RuleAction] | None = Field(
        default=None,
        description="Non-members and what happens to their posts (accept: no moderation)."
        " Declared, the list's non-member actions are exactly these; omitted, left alone.",
    )
    header_filters: list[HeaderFilter] | None = Field(
        default=None,
        description="Ordered header filters; declared (even []), the list's filters are"
        " exactly these; omitted, left alone.",
    )
    bans: list[StrictStr] | None = Field(
        default=None,
        description="Banned addresses and ^regexps besides the disable procedure's;"
        " declared (even []), the list's bans are exactly these; omitted, left alone.",
    )
    members: list[BareAddress | Member] | None = Field(
        default=None,
        description="The list's members (an address, or {address, delivery_mode});"
        " omitted (and no members_from), the members are left alone.",
    )
    members_from: RosterPath | LdapSource | None = Field(
        default=None,
        description="Where the members come from instead of members: a roster file (one"
        " address per line, or a CSV with an email column) or an LDAP search.",
    )
    membership: Membership = Field(
        default=Membership.ADDITIVE,
        description="additive: unsubscribe only whom the roster dropped; exact: unsubscribe"
        " everyone it does not declare.",
    )
    welcome_members: StrictBool = Field(
        default=False, description="Send Mailman's welcome message to the members it adds."
    )
    settings: dict[str, Any] = Field(
        default_factory=dict,
        description="Raw Mailman list settings by their REST name, applied last: "
        "a key here wins over a typed field.",
    )

    _template_names = field_validator("templates")(_template_names)

    @field_validator("nonmembers")
    @classmethod
    def _nonmember_addresses(cls, value: dict[str, str] | None) -> dict[str, str] | None:
        if value is None:
            return None
        normal: dict[str, str] = {}
        errors: list[InitErrorDetails] = []
        for key, action in value.items():
            try:
                address = bare_address(key)
            except ValueError as exc:
                error = PydanticCustomError("nonmember_address", "{message}", {"message": str(exc)})
                errors.append(InitErrorDetails(type=error, loc=(key,), input=key))
                continue
            if address in normal:
                error = PydanticCustomError(
                    "nonmember_address", "{address} listed more than once", {"address": address}
                )
                errors.append(InitErrorDetails(type=error, loc=(key,), input=key))
            normal[address] = action
        if errors:
            raise ValidationError.from_exception_data("nonmembers", errors)
        return normal

    @field_validator("header_filters")
    @classmethod
    def _distinct_filters(cls, value: list[HeaderFilter] | None) -> list[HeaderFilter] | None:
        seen: set[tuple[str, str]] = set()
        for index, rule in enumerate(value or ()):
            key = (rule.header.lower(), rule.pattern)
            if key in seen:
                error = PydanticCustomError(
                    "duplicate_filter",
                    "header {header} with pattern {pattern} is listed twice (Mailman keeps"
                    " one rule per header and pattern)",
                    {"header": repr(rule.header), "pattern": repr(rule.pattern)},
                )
                raise ValidationError.from_exception_data(
                    "header_filters", [InitErrorDetails(type=error, loc=(index,), input=key)]
                )
            seen.add(key)
        return value

    @field_validator("bans")
    @classmethod
    def _ban_patterns(cls, value: list[str] | None) -> list[str] | None:
        if value is None:
            return None
        errors: list[InitErrorDetails] = []
        seen: set[str] = set()
        for index, pattern in enumerate(value):
            message = acceptance.check_ban(pattern)
            if pattern == acceptance.DISABLE_BAN:
                message = f"{pattern} bans everyone: write 'disabled: true' to retire a list"
            elif acceptance.normal_ban(pattern) in seen:
                message = f"{pattern} listed more than once"
            seen.add(acceptance.normal_ban(pattern))
            if message is not None:
                error = PydanticCustomError("ban_pattern", "{message}", {"message": message})
                errors.append(InitErrorDetails(type=error, loc=(index,), input=pattern))
        if errors:
            raise ValidationError.from_exception_data("bans", errors)
        return value

    @field_validator("owners", "moderators")
    @classmethod
    def _no_duplicates(cls, value: list[str]) -> list[str]:
        repeated = _duplicates(value)
        if repeated:
            raise ValueError(f"{', '.join(repeated)} listed more than once")
        return value

    @field_validator("settings")
    @classmethod
    def _known_settings(cls, value: dict[str, Any]) -> dict[str, Any]:
        errors = [
            InitErrorDetails(type=error, loc=(key,), input=item)
            for key, item in value.items()
            if (error := _setting_error(key, item)) is not None
        ]
        if errors:
            raise ValidationError.from_exception_data("settings", errors)
        return value

    @model_validator(mode="after")
    def _retired_accepts_no_rule(self) -> Self:
        if not self.disabled:
            return self
        accepting: list[tuple[str | int, ...]] = [
            ("nonmembers", address)
            for address, action in (self.nonmembers or {}).items()
            if action in acceptance.OPENS
        ]
        accepting += [
            ("header_filters", index, "action")
            for index, rule in enumerate(self.header_filters or ())
            if rule.action in acceptance.OPENS
        ]
        if accepting:
            error = PydanticCustomError(
                "open_retired_list",
                "a disabled list lets nothing through: no rule of it may accept",
            )
            raise ValidationError.from_exception_data(
                "rules", [InitErrorDetails(type=error, loc=accepting[0], input="accept")]
            )
        return self

    @model_validator(mode="after")
    def _retired_lets_nothing_through(self) -> Self:
        if not self.disabled:
            return self
        for key in ("default_member_action", "default_nonmember_action"):
            value = self.settings.get(key)
            if value is not None and value not in mailman_settings.CLOSED_ACTIONS:
                error = PydanticCustomError(
                    "open_retired_list",
                    "a disabled list lets nothing through: {key} must be reject or discard,"
                    " not '{value}'",
                    {"key": key, "value": value},
                )
                raise ValidationError.from_exception_data(
                    "settings", [InitErrorDetails(type=error, loc=("settings", key), input=value)]
                )
        return self

    @model_validator(mode="after")
    def _bans_spare_owners_and_moderators(self) -> Self:
        """Mailman refuses to add a banned address to a list, as owner or moderator too:
        such a ban would make every later addition of that person fail."""
        people = [
            (role, split_address(value)[0])
            for role, values in (("owner", self.owners), ("moderator", self.moderators))
            for value in values
        ]
        errors: list[InitErrorDetails] = []
        for index, pattern in enumerate(self.bans or ()):
            banned = [(role, a) for role, a in people if acceptance.bans_address(pattern, a)]
            if banned:
                role, address = banned[0]
                error = PydanticCustomError(
                    "ban_matches_roster",
                    "{pattern} bans the list's {role} {address}: Mailman refuses to add a"
                    " banned address, so adding them would fail",
                    {"pattern": pattern, "role": role, "address": address},
                )
                errors.append(InitErrorDetails(type=error, loc=("bans", index), input=pattern))
        if errors:
            raise ValidationError.from_exception_data("bans", errors)
        return self

    @model_validator(mode="after")
    def _one_roster(self) -> Self:
        if self.members is not None and self.members_from is not None:
            error = PydanticCustomError("two_rosters", "declare members or members_from, not both")
            raise ValidationError.from_exception_data(
                "members_from", [InitErrorDetails(type=error, loc=("members_from",), input=None)]
            )
        if self.members is None and self.members_from is None:
            for key in ("membership", "welcome_members"):
                if key in self.model_fields_set:
                    error = PydanticCustomError(
                        "no_roster", "{key} needs members or members_from", {"key": key}
                    )
                    raise ValidationError.from_exception_data(
                        key, [InitErrorDetails(type=error, loc=(key,), input=None)]
                    )
        addresses = [m if isinstance(m, str) else m.address for m in self.members or ()]
        repeated = _duplicates(addresses)
        if repeated:
            index = addresses.index(repeated[0], addresses.index(repeated[0]) + 1)
            error = PydanticCustomError(
                "duplicate_member", "{address} listed more than once", {"address": repeated[0]}
            )
            raise ValidationError.from_exception_data(
                "members", [InitErrorDetails(type=error, loc=("members", index), input=None)]
            )
        for index, address in enumerate(addresses):
            pattern = next(
                (p for p in self.bans or () if acceptance.bans_address(p, address)), None
            )
            if pattern is not None:
                error = PydanticCustomError(
                    "banned_member",
                    "{address} is a declared member, and {pattern} bans them: Mailman refuses"
                    " to subscribe a banned address",
                    {"address": address, "pattern": pattern},
                )
                raise ValidationError.from_exception_data(
                    "members", [InitErrorDetails(type=error, loc=("members", index), input=None)]
                )
        return self

    @model_validator(mode="after")
    def _owned_unless_disabled(self) -> Self:
        if not self.owners and not self.disabled:
            error = PydanticCustomError(
                "no_owner", "a list needs at least one owner unless it is disabled"
            )
            raise ValidationError.from_exception_data(
                "owners", [InitErrorDetails(type=error, loc=("owners",), input=self.owners)]
            )
        return self


# Error types whose position is the key of a mapping entry, not its value.
KEY_ERROR_TYPES = frozenset(
    {
        "extra_forbidden",
        "unknown_setting",
        "secret_setting",
        "readonly_setting",
        "unknown_template",
        "nonmember_address",
    }
)


def _setting_error(key: str, value: object) -> PydanticCustomError | None:
    if key in mailman_settings.SECRETS:
        return PydanticCustomError(
            "secret_setting", "{key} is a secret; listsync never writes secrets", {"key": key}
        )
    if key not in mailman_settings.SETTINGS:
        return PydanticCustomError(
            "unknown_setting",
            "unknown Mailman list setting '{key}'{hint}",
            {"key": key, "hint": did_you_mean(key, mailman_settings.WRITABLE)},
        )
    if mailman_settings.SETTINGS[key].kind == "uri":
        return PydanticCustomError(
            "readonly_setting",
            "{key} is a template: declare it under 'templates:' as {name}",
            {"key": key, "name": mailman_settings.TEMPLATE_URIS.get(key, key)},
        )
    if key not in mailman_settings.WRITABLE:
        return PydanticCustomError(
            "readonly_setting", "{key} is read-only in Mailman", {"key": key}
        )
    message = mailman_settings.check_value(key, value)
    if message is not None:
        setting = mailman_settings.SETTINGS[key]
        if setting.kind == "enum" and isinstance(value, str):
            message += did_you_mean(value, list(setting.choices))
        return PydanticCustomError("setting_value", "{message}", {"message": message})
    texts = value if isinstance(value, list) else [value]
    for text in texts:
        if isinstance(text, str):
            message = plain_text_problem(text, multiline=key in MULTILINE_SETTINGS)
            if message is not None:
                return PydanticCustomError("setting_value", "{message}", {"message": message})
    return None


def did_you_mean(word: str, candidates: frozenset[str] | set[str] | list[str]) -> str:
    """A ' (did you mean ...?)' suffix naming the closest candidate, or ''.

    Close means spelled alike, whatever the case (difflib), or else the only
    candidate that the word begins (`admin` for `administrative`).
    """
    by_lower = {candidate.lower(): candidate for candidate in sorted(candidates)}
    typed = word.strip().lower()
    close = difflib.get_close_matches(typed, list(by_lower), n=1, cutoff=0.6)
    if not close and len(typed) >= 3:
        close = [lower for lower in by_lower if lower.startswith(typed)]
    return f" (did you mean {by_lower[close[0]]!r}?)" if len(close) == 1 else ""


def _compiles(pattern: str) -> str:
    plain(pattern)
    try:
        re.compile(pattern)
    except re.error as exc:
        raise ValueError(f"not a valid regular expression: {exc}") from None
    return pattern


def _domain(value: str) -> str:
    value = value.strip().lower()
    label = r"(?!-)[a-z0-9-]{1,63}(?<!-)"
    if not re.fullmatch(rf"{label}(\.{label})+", value):
        raise ValueError(f"{value!r} is not a domain name")
    return value


def without_userinfo(url: str) -> str:
    """`url` with whatever may be a user name and password masked, for messages."""
    return re.sub(r"//.*@", "//***@", url, flags=re.DOTALL)


def _web_url(value: str) -> str:
    value = value.strip()
    shown = without_userinfo(value)
    if "@" in value:
        raise ValueError(
            f"{shown!r} holds '@': a URL here takes no user name or password (Mailman and"
            " browsers fetch it without credentials)"
        )
    try:
        parts = urllib.parse.urlsplit(value)
        hostname = parts.hostname
    except ValueError:
        raise ValueError(
            f"{shown!r} is not an http(s) URL such as https://lists.example.org"
        ) from None
    if (
        parts.scheme not in {"http", "https"}
        or not hostname
        or parts.query
        or parts.fragment
        or re.search(r"[\s\"'<>\\]", value)
        or hidden_character(value) is not None
    ):
        raise ValueError(f"{shown!r} is not an http(s) URL such as https://lists.example.org")
    return value.rstrip("/")


def check_templates_url(value: str) -> str:
    value = _web_url(value)
    if "$" in value:
        raise ValueError(f"{value!r} holds '$', which Mailman would take for a placeholder")
    return value


class Safety(_Strict):
    """Limits on what one apply may do (octoDNS' and peribolos' thresholds)."""

    max_changed_fraction: Annotated[float, Field(ge=0, le=1)] = Field(
        default=0.25,
        description="apply refuses, unless --force, to update, disable, enable or change "
        "the owners of more than this share of the managed lists (creations do not count).",
    )
    min_managed_lists: Annotated[int, Field(ge=0)] = Field(
        default=10, description="The share applies once at least this many lists are managed."
    )
    min_new_domain_lists: Annotated[int, Field(ge=1)] = Field(
        default=10,
        description="apply refuses, unless --force, to create the site's domain with at least"
        " this many lists while the server's other domains hold lists (a typo in domain:).",
    )
    max_unsubscribed_fraction: Annotated[float, Field(ge=0, le=1)] = Field(
        default=0.25,
        description="apply refuses, unless --force, a roster change that unsubscribes more"
        " than this share of a list's members.",
    )
    min_roster_size: Annotated[int, Field(ge=0)] = Field(
        default=8, description="The share applies to lists with at least this many members."
    )


_DURATION_UNITS = {
    "s": 1, "sec": 1, "second": 1, "seconds": 1,
    "min": 60, "minute": 60, "minutes": 60,
    "h": 3600, "hour": 3600, "hours": 3600,
    "d": 86400, "day": 86400, "days": 86400,
    "w": 604800, "week": 604800, "weeks": 604800,
    "month": 2592000, "months": 2592000,
    "y": 31536000, "year": 31536000, "years": 31536000,
}  # fmt: skip
_DURATION_PART = re.compile(r"\s*(\d+)\s*([a-z]+)\s*,?")


def parse_duration(text: str) -> timedelta:
    """`18 months`, `1 year 6 months`, `2w`, `3600 seconds` (a month is 30 days, a year 365)."""
    cleaned, seconds, position = text.strip().lower(), 0, 0
    while position < len(cleaned):
        match = _DURATION_PART.match(cleaned, position)
        if match is None or match.group(2) not in _DURATION_UNITS:
            raise ValueError(
                f"{text!r} is not a duration such as '18 months', '2 weeks' or '3600 seconds'"
            )
        seconds += int(match.group(1)) * _DURATION_UNITS[match.group(2)]
        position = match.end()
    if not cleaned or seconds <= 0:
        raise ValueError(f"{text!r} is not a positive duration such as '18 months'")
    return timedelta(seconds=seconds)


def _duration_text(value: str) -> str:
    parse_duration(plain(value))
    return value


Duration = Annotated[StrictStr, AfterValidator(_duration_text)]


class Lifecycle(_Strict):
    """What `listsync report` counts as inactive."""

    inactive_after: Duration = Field(
        default="18 months",
        description="An enabled list with no post for longer than this is reported as"
        " inactive ('18 months', '1 year', '2 weeks', '3600 seconds'; a month is 30 days).",
    )


DEFAULT_CORE = "default"
CORE_NAME = r"^[a-z][a-z0-9_]{0,31}$"


def _core_name(value: str) -> str:
    if not re.fullmatch(CORE_NAME, value) or value == DEFAULT_CORE:
        raise ValueError(
            f"{value!r} is not a core name: lower-case letters, digits and '_', starting with"
            f" a letter (it names the variables MAILMAN_<NAME>_REST_URL, ...), not"
            f" {DEFAULT_CORE!r}"
        )
    return value


class CoreConfig(_Strict):
    """A Mailman core besides the default one; its connection comes from the environment
    (MAILMAN_<NAME>_REST_URL, MAILMAN_<NAME>_REST_USER, MAILMAN_<NAME>_REST_PASSWORD)."""


class DomainConfig(_Strict):
    """One mail domain of a site with several (`domains:`): its core, and the keys of
    listsync.yaml it sets for itself (they override the site's)."""

    core: Annotated[StrictStr, AfterValidator(_core_name)] | None = Field(
        default=None,
        description="The core (a name in cores:) that serves the domain; omitted, the default"
        " core (MAILMAN_REST_URL, ...).",
    )
    defaults: ListDefaults | None = Field(
        default=None, description="Merged key by key over the site's defaults."
    )
    naming: Annotated[StrictStr, AfterValidator(_compiles)] | None = None
    disabled_owner: Address | None = None
    redact_addresses: StrictBool | None = None
    web_url: Annotated[StrictStr, AfterValidator(_web_url)] | None = Field(
        default=None,
        description="The web interface of this domain's lists; default https://DOMAIN.",
        json_schema_extra={"format": "uri", "pattern": "^https?://[^/?#]+"},
    )
    templates: dict[str, TemplatePath] | None = Field(
        default=None,
        description="Merged over the site's templates: (a name set here also wins over the"
        " site's category_templates:).",
        json_schema_extra=_TEMPLATES_SCHEMA,
    )
    category_templates: dict[Category, dict[str, TemplatePath]] | None = Field(
        default=None,
        description="Merged over the site's category_templates:, category by category.",
        json_schema_extra={"additionalProperties": _TEMPLATES_SCHEMA},
    )
    disabled_templates: dict[str, TemplatePath] | None = Field(
        default=None,
        description="Merged over the site's disabled_templates:.",
        json_schema_extra=_TEMPLATES_SCHEMA,
    )
    templates_url: Annotated[StrictStr, AfterValidator(check_templates_url)] | None = None
    publish_private_templates: StrictBool | None = None

    @field_validator("templates", "disabled_templates")
    @classmethod
    def _own_template_names(cls, value: dict[str, Any] | None) -> dict[str, Any] | None:
        return None if value is None else _template_names(value)

    @field_validator("category_templates")
    @classmethod
    def _own_category_template_names(
        cls, value: dict[Category, dict[str, str]] | None
    ) -> dict[Category, dict[str, str]] | None:
        for templates in (value or {}).values():
            _template_names(templates)
        return value


class SiteConfig(_Strict):
    """`listsync.yaml`: the Mailman domain (or domains and cores), defaults and policies of
    a site."""

    model_config = ConfigDict(
        extra="forbid",
        frozen=True,
        json_schema_extra={"oneOf": [{"required": ["domain"]}, {"required": ["domains"]}]},
    )

    domain: Annotated[StrictStr, AfterValidator(_domain)] = Field(
        default="",
        description="The mail host of every list, e.g. lists.example.org (a site with one"
        " domain; a site with several says domains: instead).",
    )
    domains: dict[Annotated[StrictStr, AfterValidator(_domain)], DomainConfig] = Field(
        default_factory=dict,
        description="A site with several mail domains: each domain, with its core and its own"
        " keys; its list files are lists/DOMAIN/NAME.yaml.",
    )
    cores: dict[Annotated[StrictStr, AfterValidator(_core_name)], CoreConfig] = Field(
        default_factory=dict,
        description="The Mailman cores besides the default one, by name; each one's connection"
        " is MAILMAN_<NAME>_REST_URL, MAILMAN_<NAME>_REST_USER, MAILMAN_<NAME>_REST_PASSWORD.",
    )
    defaults: ListDefaults = Field(default_factory=ListDefaults)
    naming: Annotated[StrictStr, AfterValidator(_compiles)] = Field(
        default=DEFAULT_NAMING, description="Regular expression every list name must match."
    )
    disabled_owner: Address | None = Field(
        default=None, description="Sole owner of a disabled list; required to disable one."
    )
    safety: Safety = Field(default_factory=Safety)
    ldap: LdapCredentials | None = Field(
        default=None,
        description="The environment variables holding the LDAP bind credentials of"
        " members_from ldap: sources; omitted, LDAP is searched anonymously.",
    )
    lifecycle: Lifecycle = Field(default_factory=Lifecycle)
    redact_addresses: StrictBool = Field(
        default=False,
        description="Print addresses as a***@example.org in plans (for public pipelines).",
    )
    web_url: Annotated[StrictStr, AfterValidator(_web_url)] | None = Field(
        default=None,
        description="Base URL of the site's web interface (Postorius, HyperKitty), used for "
        "the subscription and archive links of 'listsync render'; default https://DOMAIN.",
        examples=["https://lists.example.org"],
        json_schema_extra={"format": "uri", "pattern": "^https?://[^/?#]+"},
    )

    templates: dict[str, TemplatePath] = Field(
        default_factory=dict,
        description="Templates every list gets unless its file names another text.",
        json_schema_extra=_TEMPLATES_SCHEMA,
    )
    category_templates: dict[Category, dict[str, TemplatePath]] = Field(
        default_factory=dict,
        description="Templates every list of a category gets unless its file names another"
        " text (they win over templates:), e.g. a footer for every notification list.",
        json_schema_extra={"additionalProperties": _TEMPLATES_SCHEMA},
    )
    disabled_templates: dict[str, TemplatePath] = Field(
        default_factory=dict,
        description="Templates a disabled list gets instead, e.g. the list:user:notice:rejected"
        " text that tells a sender the list is retired.",
        json_schema_extra=_TEMPLATES_SCHEMA,
    )
    templates_url: Annotated[StrictStr, AfterValidator(check_templates_url)] | None = Field(
        default=None,
        description="Where the pipeline publishes the texts of 'listsync render"
        " --templates-out' (GitLab Pages or any web server Mailman can reach); needed"
        " once any template is declared.",
        examples=["https://lists.example.org/templates"],
    )
    publish_private_templates: StrictBool = Field(
        default=False,
        description="Also publish at templates_url the texts only private lists use"
        " (visibility: private, or advertised false): only for a templates_url that no one"
        " but Mailman can reach.",
    )

    _template_names = field_validator("templates", "disabled_templates")(_template_names)
    _lists_dir: str = PrivateAttr(default="lists")

    @field_validator("category_templates")
    @classmethod
    def _category_template_names(
        cls, value: dict[Category, dict[str, str]]
    ) -> dict[Category, dict[str, str]]:
        for templates in value.values():
            _template_names(templates)
        return value

    @model_validator(mode="after")
    def _one_or_several_domains(self) -> Self:
        if self.domains and self.domain:
            raise ValueError("say domain: (one domain) or domains: (several), not both")
        if not self.domains and not self.domain:
            raise ValueError("missing: domain: (the site's mail domain) or domains:")
        if not self.domains and self.cores:
            raise ValueError("cores: serve the domains of domains:; this site has one domain")
        for domain, own in self.domains.items():
            if own.core is not None and own.core not in self.cores:
                raise ValueError(
                    f"domain {domain} is on core {own.core!r}, which cores: does not name"
                    f"{did_you_mean(own.core, set(self.cores))}"
                )
        idle = set(self.cores) - {own.core for own in self.domains.values()}
        if idle:
            raise ValueError(f"no domain is on core {', '.join(sorted(idle))}")
        return self

    @property
    def web_root(self) -> str:
        """The web interface's base URL, without a trailing slash."""
        return self.web_url or f"https://{self.domain}"

    @property
    def lists_dir(self) -> str:
        """Where this config's list files are: lists/, or lists/DOMAIN/ for one domain of a
        site with several (`for_domain`)."""
        return self._lists_dir

    @property
    def several_domains(self) -> bool:
        """Whether the site says domains: (list files in lists/DOMAIN/)."""
        return bool(self.domains)

    def core_of(self, domain: str) -> str:
        """The name of the core that serves `domain` (`DEFAULT_CORE` for the default one)."""
        own = self.domains.get(domain)
        return DEFAULT_CORE if own is None or own.core is None else own.core

    def for_domain(self, domain: str) -> SiteConfig:
        """The config of one domain of a site with several: the site's keys with the
        domain's own over them; a site with one domain is its own."""
        if not self.domains:
            return self
        own = self.domains[domain]
        update: dict[str, Any] = {"domain": domain, "domains": {}, "cores": {}}
        for key in own.model_fields_set - {"core", "defaults", "templates", "category_templates"}:
            update[key] = getattr(own, key)
        if own.defaults is not None:
            update["defaults"] = self.defaults.model_copy(
                update={key: getattr(own.defaults, key) for key in own.defaults.model_fields_set}
            )
        if own.templates is not None:
            update["templates"] = {**self.templates, **own.templates}
            # a text the domain names for every list wins over the site's category texts
            update["category_templates"] = {
                category: {k: v for k, v in texts.items() if k not in own.templates}
                for category, texts in self.category_templates.items()
            }
        if own.category_templates is not None:
            inherited = update.get("category_templates", self.category_templates)
            update["category_templates"] = {
                category: {
                    **inherited.get(category, {}),
                    **own.category_templates.get(category, {}),
                }
                for category in {*inherited, *own.category_templates}
            }
        if own.disabled_templates is not None:
            update["disabled_templates"] = {**self.disabled_templates, **own.disabled_templates}
        config = self.model_copy(update=update)
        config._lists_dir = f"lists/{domain}"
        return config


BUILTIN_DEFAULTS = ListDefaults(
    category=Category.DISCUSSION,
    visibility=Visibility.PUBLIC,
    posting=Posting.MEMBERS,
    subscription=Subscription.OPEN,
    dmarc=Dmarc(mitigation=DmarcMitigation.MUNGE_FROM, unconditional=True),
)


@dataclass(frozen=True, slots=True)
class EffectiveList:
    """A list file with every default applied: what the list should be."""

    name: str
    domain: str
    description: str
    category: Category
    visibility: Visibility
    archive: Archive
    posting: Posting
    subscription: Subscription
    dmarc_mitigation: DmarcMitigation
    dmarc_unconditional: bool
    owners: tuple[str, ...]
    moderators: tuple[str, ...]
    disabled: bool
    settings: dict[str, Any]
    templates: dict[str, str | None] = field(default_factory=dict)
    nonmembers: dict[str, str] | None = None
    header_filters: tuple[acceptance.HeaderRule, ...] | None = None
    bans: frozenset[str] | None = None
    members: tuple[Member, ...] | None = None
    members_from: str | LdapQuery | None = None
    membership: Membership = Membership.ADDITIVE
    welcome_members: bool = False

    @property
    def fqdn(self) -> str:
        return f"{self.name}@{self.domain}"


T = TypeVar("T")


def _first(*values: T | None) -> T:
    for value in values:
        if value is not None:
            return value
    raise AssertionError("built-in defaults cover every field")


def effective(name: str, spec: ListSpec, site: SiteConfig) -> EffectiveList:
    """Apply the site's defaults, then the built-in ones, to one list file."""
    layers = (spec, site.defaults, BUILTIN_DEFAULTS)
    visibility = _first(*(layer.visibility for layer in layers))
    category = _first(*(layer.category for layer in layers))
    archive_by_visibility = Archive(visibility.value)
    dmarcs = [layer.dmarc for layer in layers if layer.dmarc is not None]
    return EffectiveList(
        name=name,
        domain=site.domain,
        description=spec.description,
        category=category,
        visibility=visibility,
        archive=_first(spec.archive, site.defaults.archive, archive_by_visibility),
        posting=_first(*(layer.posting for layer in layers)),
        subscription=_first(*(layer.subscription for layer in layers)),
        dmarc_mitigation=_first(*(d.mitigation for d in dmarcs)),
        dmarc_unconditional=_first(*(d.unconditional for d in dmarcs)),
        owners=tuple(spec.owners),
        moderators=tuple(spec.moderators),
        disabled=spec.disabled,
        settings=dict(spec.settings),
        templates={
            # an enabled list does not keep a disabled list's texts (None: Mailman's own)
            **dict.fromkeys(site.disabled_templates),
            **site.templates,
            **site.category_templates.get(category, {}),
            **spec.templates,
            **(site.disabled_templates if spec.disabled else {}),
        },
        nonmembers=None if spec.nonmembers is None else dict(spec.nonmembers),
        header_filters=None
        if spec.header_filters is None
        else tuple(rule.rule() for rule in spec.header_filters),
        bans=None if spec.bans is None else frozenset(map(acceptance.normal_ban, spec.bans)),
        members=None
        if spec.members is None
        else tuple(Member(address=m) if isinstance(m, str) else m for m in spec.members),
        members_from=spec.members_from.ldap
        if isinstance(spec.members_from, LdapSource)
        else spec.members_from,
        membership=spec.membership,
        welcome_members=spec.welcome_members,
    )
