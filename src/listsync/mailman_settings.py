"""Catalogue of Mailman 3.3 list settings by their REST names.

This module owns the names of the mailing-list settings that GNU Mailman 3.3
exposes at ``GET/PATCH /3.1/lists/<list_id>/config``, the kind of value each one
takes, which of them a PATCH may change, the values a freshly created list
starts with, and the one place that knows, for each kind of value, what
Mailman accepts (:func:`check_value`), the form listsync holds and sends
(:func:`desired_value`, :func:`wire_value`), how a value Mailman reads back
compares with it (:func:`same`) and how an imported value is written in a
file (:func:`file_value`).

It was generated from ``mailman/rest/listconf.py`` of Mailman 3.3.10
(``ATTRIBUTES``, ``TEMPLATE_ATTRIBUTES`` and the validators they use, from
``mailman/rest/validator.py``), the enums those validators reference
(``mailman/interfaces/*``, ``mailman/model/roster.py``) and the config JSON of
a scratch list created on a live 3.3.10 core.  Regenerate rather than hand-edit
when the supported Mailman version changes.

Older releases accept less (``listconf.py`` diffed between 3.3.8, 3.3.9 and
3.3.10; the rest of the REST list API is the same): ``Setting.since`` names
the release a setting came in, and :func:`unsupported` says what a given
server would refuse.  3.3.8 has no ``dmarc_addresses``; ``@listname``
entries of ``accept_these_nonmembers`` came in 3.3.10.

Notes on the wire format (checked against 3.3.10):

* Durations: PATCH takes ``lazr.config.as_timedelta`` strings (``"7d"``,
  ``"1w"``, ``"1d12h"``, ``"30m"``, units ``w d h m s`` in that order, each at
  most once).  GET answers ``"<days>d"`` or ``"<days>d<seconds>s"`` with float
  seconds, so ``"1w"`` reads back as ``"7d"`` and ``"36h"`` as
  ``"1d43200.0s"``; compare with :func:`parse_duration`.
* Lists: with a JSON body ``[]`` and ``""`` both clear a list.  With a
  form-encoded body (what mailmanclient sends) an empty list encodes to
  nothing, so the PATCH is a silent no-op: send ``""`` to clear.
* ``acceptable_aliases`` reads back lower-cased and sorted, duplicates kept.
  A PATCH with a bad alias answers 400 *after* clearing the aliases and after
  applying the other keys of the same PATCH, so check values first.
"""

import math
import re
from dataclasses import dataclass
from datetime import timedelta
from typing import Literal

Release = tuple[int, int, int]

SettingKind = Literal[
    "bool", "int", "float", "str", "enum", "list", "timedelta", "language", "uri", "readonly"
]


@dataclass(frozen=True, slots=True)
class Setting:
    """One list setting as the REST API names it."""

    name: str
    kind: SettingKind
    choices: tuple[str, ...] = ()  # for enum: the exact strings Mailman accepts
    secret: bool = False  # never accepted from files, never printed
    since: Release | None = None  # the release it came in; None: every 3.3 release


# Enum choices: the member names Mailman's enum_validator looks up (case-sensitive).
# mailman.interfaces.action.Action
_ACTION: tuple[str, ...] = ("hold", "reject", "discard", "accept", "defer")
# mailman.interfaces.archiver.ArchivePolicy
_ARCHIVE_POLICY: tuple[str, ...] = ("never", "private", "public")
# mailman.interfaces.mailinglist.ArchiveRenderingMode
_ARCHIVE_RENDERING_MODE: tuple[str, ...] = ("text", "markdown")
# mailman.interfaces.digests.DigestFrequency
_DIGEST_FREQUENCY: tuple[str, ...] = ("yearly", "monthly", "quarterly", "weekly", "daily")
# mailman.interfaces.mailinglist.DMARCMitigateAction
_DMARC_MITIGATE_ACTION: tuple[str, ...] = (
    "no_mitigation",
    "munge_from",
    "wrap_message",
    "reject",
    "discard",
)
# mailman.interfaces.action.FilterAction
_FILTER_ACTION: tuple[str, ...] = (
    "hold",
    "reject",
    "discard",
    "accept",
    "defer",
    "forward",
    "preserve",
)
# mailman.interfaces.nntp.NewsgroupModeration
_NEWSGROUP_MODERATION: tuple[str, ...] = ("none", "open_moderated", "moderated")
# mailman.interfaces.mailinglist.Personalization
_PERSONALIZATION: tuple[str, ...] = ("none", "individual", "full")
# mailman.config.config.pipelines (stock 3.3.10)
_PIPELINES: tuple[str, ...] = ("default-owner-pipeline", "default-posting-pipeline", "virgin")
# mailman.interfaces.mailinglist.ReplyToMunging
_REPLY_TO_MUNGING: tuple[str, ...] = (
    "no_munging",
    "point_to_list",
    "explicit_header",
    "explicit_header_only",
)
# mailman.interfaces.autorespond.ResponseAction
_RESPONSE_ACTION: tuple[str, ...] = ("none", "respond_and_discard", "respond_and_continue")
# mailman.model.roster.RosterVisibility
_ROSTER_VISIBILITY: tuple[str, ...] = ("public", "members", "moderators")
# mailman.interfaces.mailinglist.SubscriptionPolicy
_SUBSCRIPTION_POLICY: tuple[str, ...] = ("open", "confirm", "moderate", "confirm_then_moderate")
# mailman.interfaces.bounce.UnrecognizedBounceDisposition
_UNRECOGNIZED_BOUNCE_DISPOSITION: tuple[str, ...] = ("discard", "administrators", "site_owner")

_ALL: tuple[Setting, ...] = (
    Setting("accept_these_nonmembers", "list"),
    Setting("acceptable_aliases", "list"),
    Setting("admin_immed_notify", "bool"),
    Setting("admin_notify_mchanges", "bool"),
    Setting("administrivia", "bool"),
    Setting("advertised", "bool"),
    Setting("allow_list_posts", "bool"),
    Setting("anonymous_list", "bool"),
    Setting("archive_policy", "enum", _ARCHIVE_POLICY),
    Setting("archive_rendering_mode", "enum", _ARCHIVE_RENDERING_MODE),
    Setting("autorespond_owner", "enum", _RESPONSE_ACTION),
    Setting("autorespond_postings", "enum", _RESPONSE_ACTION),
    Setting("autorespond_requests", "enum", _RESPONSE_ACTION),
    Setting("autoresponse_grace_period", "timedelta"),
    Setting("autoresponse_owner_text", "str"),
    Setting("autoresponse_postings_text", "str"),
    Setting("autoresponse_request_text", "str"),
    Setting("bounce_info_stale_after", "timedelta"),
    Setting("bounce_notify_owner_on_bounce_increment", "bool"),
    Setting("bounce_notify_owner_on_disable", "bool"),
    Setting("bounce_notify_owner_on_removal", "bool"),
    Setting("bounce_score_threshold", "int"),
    Setting("bounce_you_are_disabled_warnings", "int"),
    Setting("bounce_you_are_disabled_warnings_interval", "timedelta"),
    Setting("bounces_address", "readonly"),
    Setting("collapse_alternatives", "bool"),
    Setting("convert_html_to_plaintext", "bool"),
    Setting("created_at", "readonly"),
    Setting("default_member_action", "enum", _ACTION),
    Setting("default_nonmember_action", "enum", _ACTION),
    Setting("description", "str"),
    Setting("digest_footer_uri", "uri"),
    Setting("digest_header_uri", "uri"),
    Setting("digest_last_sent_at", "readonly"),
    Setting("digest_send_periodic", "bool"),
    Setting("digest_size_threshold", "float"),
    Setting("digest_volume_frequency", "enum", _DIGEST_FREQUENCY),
    Setting("digests_enabled", "bool"),
    Setting("discard_these_nonmembers", "list"),
    Setting("display_name", "str"),
    Setting("dmarc_addresses", "list", since=(3, 3, 9)),
    Setting("dmarc_mitigate_action", "enum", _DMARC_MITIGATE_ACTION),
    Setting("dmarc_mitigate_unconditionally", "bool"),
    Setting("dmarc_moderation_notice", "str"),
    Setting("dmarc_wrapped_message_text", "str"),
    Setting("emergency", "bool"),
    Setting("filter_action", "enum", _FILTER_ACTION),
    Setting("filter_content", "bool"),
    Setting("filter_extensions", "list"),
    Setting("filter_types", "list"),
    Setting("first_strip_reply_to", "bool"),
    Setting("footer_uri", "uri"),
    Setting("forward_unrecognized_bounces_to", "enum", _UNRECOGNIZED_BOUNCE_DISPOSITION),
    Setting("fqdn_listname", "readonly"),
    Setting("gateway_to_mail", "bool"),
    Setting("gateway_to_news", "bool"),
    Setting("goodbye_message_uri", "uri"),
    Setting("header_uri", "uri"),
    Setting("hold_these_nonmembers", "list"),
    Setting("include_rfc2369_headers", "bool"),
    Setting("info", "str"),
    Setting("join_address", "readonly"),
    Setting("last_post_at", "readonly"),
    Setting("leave_address", "readonly"),
    Setting("linked_newsgroup", "str"),
    Setting("list_name", "readonly"),
    Setting("mail_host", "readonly"),
    Setting("max_days_to_hold", "int"),
    Setting("max_message_size", "int"),
    Setting("max_num_recipients", "int"),
    Setting("member_roster_visibility", "enum", _ROSTER_VISIBILITY),
    Setting("moderator_password", "str", secret=True),
    Setting("newsgroup_moderation", "enum", _NEWSGROUP_MODERATION),
    Setting("next_digest_number", "readonly"),
    Setting("nntp_prefix_subject_too", "bool"),
    Setting("no_reply_address", "readonly"),
    Setting("owner_address", "readonly"),
    Setting("pass_extensions", "list"),
    Setting("pass_types", "list"),
    Setting("personalize", "enum", _PERSONALIZATION),
    Setting("post_id", "readonly"),
    Setting("posting_address", "readonly"),
    Setting("posting_pipeline", "enum", _PIPELINES),
    Setting("preferred_language", "language"),
    Setting("process_bounces", "bool"),
    Setting("reject_these_nonmembers", "list"),
    Setting("reply_goes_to_list", "enum", _REPLY_TO_MUNGING),
    Setting("reply_to_address", "str"),
    Setting("request_address", "readonly"),
    Setting("require_explicit_destination", "bool"),
    Setting("respond_to_post_requests", "bool"),
    Setting("send_goodbye_message", "bool"),
    Setting("send_welcome_message", "bool"),
    Setting("subject_prefix", "str"),
    Setting("subscription_policy", "enum", _SUBSCRIPTION_POLICY),
    Setting("unsubscription_policy", "enum", _SUBSCRIPTION_POLICY),
    Setting("usenet_watermark", "readonly"),
    Setting("volume", "readonly"),
    Setting("welcome_message_uri", "uri"),
)

SETTINGS: dict[str, Setting] = {s.name: s for s in _ALL}
"""Every setting of ``listconf.ATTRIBUTES`` plus the template ``*_uri`` names, sorted."""

# API 3.0 exposed these as config attributes; on 3.1 the config GET omits them and a
# config PATCH answers 400 "Unknown attribute".  Set them through
# PATCH /3.1/lists/<list_id>/uris with {<template name>: <url>} ("" deletes).  The
# values are the 3.1 template names; listconf.TEMPLATE_ATTRIBUTES still has the
# pre-3.1 names list:digest:footer, list:digest:header, list:regular:footer, list:regular:header,
# which the 3.1 uris API refuses and no template lookup reads.
TEMPLATE_URIS: dict[str, str] = {
    "digest_footer_uri": "list:member:digest:footer",
    "digest_header_uri": "list:member:digest:header",
    "footer_uri": "list:member:regular:footer",
    "goodbye_message_uri": "list:user:notice:goodbye",
    "header_uri": "list:member:regular:header",
    "welcome_message_uri": "list:user:notice:welcome",
}

# Language codes a stock 3.3.10 site knows ([language.*] in mailman/config/schema.cfg).
# A site may add more, so check_value() does not insist on these; an unknown code
# makes Mailman answer 400 "Unexpected parameters: preferred_language".
STOCK_LANGUAGES: frozenset[str] = frozenset(
    {
        "ar",
        "ast",
        "bg",
        "ca",
        "cs",
        "da",
        "de",
        "el",
        "es",
        "et",
        "eu",
        "fi",
        "fr",
        "gl",
        "he",
        "hr",
        "hu",
        "ia",
        "it",
        "ja",
        "ko",
        "lt",
        "nl",
        "no",
        "pl",
        "pt",
        "pt_BR",
        "ro",
        "ru",
        "sk",
        "sl",
        "sr",
        "sv",
        "tr",
        "uk",
        "vi",
        "zh_CN",
        "zh_TW",
    }
)

READONLY: frozenset[str] = frozenset(n for n, s in SETTINGS.items() if s.kind == "readonly")
"""Computed by Mailman; a PATCH answers 400 "Read-only attribute"."""

SECRETS: frozenset[str] = frozenset(n for n, s in SETTINGS.items() if s.secret)
"""Writable in Mailman, but never taken from files nor printed."""

WRITABLE: frozenset[str] = frozenset(SETTINGS) - READONLY - SECRETS - frozenset(TEMPLATE_URIS)
"""Settings a PATCH of /3.1/lists/<list_id>/config may change (secrets excluded)."""


# Validators behind the list settings (mailman/rest/validator.py).
_EMAIL_OR_REGEXP_LISTS: frozenset[str] = frozenset(
    {
        "discard_these_nonmembers",
        "dmarc_addresses",
        "hold_these_nonmembers",
        "reject_these_nonmembers",
    }
)
_EMAIL_OR_REGEXP_OR_ATLIST_LISTS: frozenset[str] = frozenset(
    {
        "accept_these_nonmembers",
    }
)

# Config of a list freshly created on Mailman 3.3.10 with the default style
# ("legacy-default"), as GET /3.1/lists/<id>/config returns it; writable keys only.
# Left out because they derive from the list name: display_name, subject_prefix
# (e.g. list "probe" gets display_name "Probe" and subject_prefix "[Probe] ").
# preferred_language is the site's [mailman] default_language (stock: en).
NEW_LIST_DEFAULTS: dict[str, object] = {
    "accept_these_nonmembers": [],
    "acceptable_aliases": [],
    "admin_immed_notify": True,
    "admin_notify_mchanges": False,
    "administrivia": True,
    "advertised": True,
    "allow_list_posts": True,
    "anonymous_list": False,
    "archive_policy": "public",
    "archive_rendering_mode": "text",
    "autorespond_owner": "none",
    "autorespond_postings": "none",
    "autorespond_requests": "none",
    "autoresponse_grace_period": "90d",
    "autoresponse_owner_text": "",
    "autoresponse_postings_text": "",
    "autoresponse_request_text": "",
    "bounce_info_stale_after": "7d",
    "bounce_notify_owner_on_bounce_increment": False,
    "bounce_notify_owner_on_disable": True,
    "bounce_notify_owner_on_removal": True,
    "bounce_score_threshold": 5,
    "bounce_you_are_disabled_warnings": 3,
    "bounce_you_are_disabled_warnings_interval": "7d",
    "collapse_alternatives": True,
    "convert_html_to_plaintext": False,
    "default_member_action": "defer",
    "default_nonmember_action": "hold",
    "description": "",
    "digest_send_periodic": True,
    "digest_size_threshold": 30.0,
    "digest_volume_frequency": "monthly",
    "digests_enabled": True,
    "discard_these_nonmembers": [],
    "dmarc_addresses": [],
    "dmarc_mitigate_action": "no_mitigation",
    "dmarc_mitigate_unconditionally": False,
    "dmarc_moderation_notice": "",
    "dmarc_wrapped_message_text": "",
    "emergency": False,
    "filter_action": "discard",
    "filter_content": False,
    "filter_extensions": [],
    "filter_types": [],
    "first_strip_reply_to": False,
    "forward_unrecognized_bounces_to": "administrators",
    "gateway_to_mail": False,
    "gateway_to_news": False,
    "hold_these_nonmembers": [],
    "include_rfc2369_headers": True,
    "info": "",
    "linked_newsgroup": "",
    "max_days_to_hold": 0,
    "max_message_size": 40,
    "max_num_recipients": 10,
    "member_roster_visibility": "moderators",
    "newsgroup_moderation": "none",
    "nntp_prefix_subject_too": True,
    "pass_extensions": [],
    "pass_types": [],
    "personalize": "none",
    "posting_pipeline": "default-posting-pipeline",
    "preferred_language": "en",
    "process_bounces": True,
    "reject_these_nonmembers": [],
    "reply_goes_to_list": "no_munging",
    "reply_to_address": "",
    "require_explicit_destination": True,
    "respond_to_post_requests": True,
    "send_goodbye_message": True,
    "send_welcome_message": True,
    "subscription_policy": "confirm",
    "unsubscription_policy": "confirm",
}

_LANGUAGE_CODE = re.compile(r"^[A-Za-z]{2,3}([_-][A-Za-z0-9]{2,8})?$")
_DURATION_PART = re.compile(r"([\d.]+[smhdw])")
_DURATION_UNITS = {"w": "weeks", "d": "days", "h": "hours", "m": "minutes", "s": "seconds"}
_DURATION_ORDER = "wdhms"
_VALID_LOCAL = re.compile(r"[-0-9a-z!#$%&'*+./=?@_`{}~]", re.IGNORECASE)
_VALID_DOMAIN = re.compile(r"[-a-z0-9]", re.IGNORECASE)


def parse_duration(text: str) -> timedelta:
    """Parse a duration the way Mailman's PATCH does (``lazr.config.as_timedelta``).

    Accepts both the PATCH forms (``"1w"``, ``"1d12h"``) and the GET form
    (``"1d43200.0s"``).  Raises ValueError for anything Mailman would reject.
    """
    parts = sorted(_DURATION_PART.findall(text), key=lambda p: _DURATION_ORDER.index(p[-1]))
    if not parts or "".join(parts) != text:
        raise ValueError(f"not a duration: {text!r}")
    kwargs: dict[str, float] = {}
    for part in parts:
        unit = _DURATION_UNITS[part[-1]]
        if unit in kwargs:
            raise ValueError(f"unit given twice in duration: {text!r}")
        number = part[:-1]
        kwargs[unit] = float(number) if "." in number else int(number)
    try:
        return timedelta(**kwargs)
    except OverflowError as error:  # Mailman answers 500 here
        raise ValueError(f"duration too large: {text!r}") from error


def format_duration(value: timedelta) -> str:
    """Render a duration exactly as Mailman's GET does (``"7d"``, ``"1d43200.0s"``)."""
    if value.seconds > 0 or value.microseconds > 0:
        return f"{value.days}d{value.seconds + value.microseconds / 1000000.0}s"
    return f"{value.days}d"


def is_email(text: str) -> bool:
    """Mailman 3.3's own address check (mailman.email.validate.Validator.is_valid)."""
    if not text:
        return False
    local, at, domain = text.rpartition("@")
    if not at:
        return False
    local = re.sub(r'^"(.*)"$', r"\1", local)
    if not local or _VALID_LOCAL.sub("", local):
        return False
    labels = domain.split(".")
    if len(labels) < 2:
        return False
    return all(label and label[0] != "-" and not _VALID_DOMAIN.sub("", label) for label in labels)


def _is_regexp(text: str) -> bool:
    try:
        re.compile(text)
    except re.error:
        return False
    return True


def _check_list_item(name: str, item: str) -> bool:
    if name == "acceptable_aliases":
        return item.startswith("^") or "@" in item
    if name in _EMAIL_OR_REGEXP_LISTS or name in _EMAIL_OR_REGEXP_OR_ATLIST_LISTS:
        if item.startswith("^"):
            return _is_regexp(item)
        if item.startswith("@") and name in _EMAIL_OR_REGEXP_OR_ATLIST_LISTS:
            return is_email(item[1:])
        return is_email(item)
    return True  # list_of_strings_validator: any string


def _list_expectation(name: str) -> str:
    if name == "acceptable_aliases":
        return "expected a list of addresses (containing @) or ^regexps"
    if name in _EMAIL_OR_REGEXP_OR_ATLIST_LISTS:
        return "expected a list of email addresses, ^regexps or @list-addresses"
    if name in _EMAIL_OR_REGEXP_LISTS:
        return "expected a list of email addresses or ^regexps"
    return "expected a list of strings"


def _items(value: object) -> list[object] | None:
    """A list setting's items as Mailman's list validators see them: one string is one
    item, '' is none, and so is [''] (the form encoding sends it as ''); None when `value`
    is no list at all."""
    if value == "" or (isinstance(value, (list, tuple)) and list(value) == [""]):
        return []
    if isinstance(value, str):
        return [value]
    if isinstance(value, (list, tuple)):
        return list(value)
    return None


def _check_list(name: str, value: object) -> str | None:
    items = _items(value)
    if items is None:
        return _list_expectation(name)
    for item in items:
        if not isinstance(item, str) or not _check_list_item(name, item):
            return f"{_list_expectation(name)}; bad item: {item!r}"
    return None


# -- one place for each kind: check, the form compared, the form sent, the form filed --

_TRUE = frozenset({"true", "yes", "1", "on", "enabled", "enable"})
_FALSE = frozenset({"false", "no", "0", "off", "disabled", "disable"})  # lazr.config.as_boolean


def _as_int(value: object) -> int | None:
    """What Mailman's ``int()`` makes of a form value; None for what it refuses (or < 0)."""
    if isinstance(value, (bool, float)):
        return None  # 100.0 is sent as "100.0", which int() refuses
    if isinstance(value, str):
        try:
            value = int(value)
        except ValueError:
            return None
    if not isinstance(value, int) or value < 0:
        return None
    return value


def _as_float(value: object) -> float | None:
    """What Mailman's ``float()`` makes of a form value; None for what it refuses."""
    if isinstance(value, bool):
        return None  # Mailman would store 1.0/0.0
    if isinstance(value, str):
        try:
            value = float(value)
        except ValueError:
            return None
    if not isinstance(value, (int, float)) or not math.isfinite(value):
        return None  # nan is stored but reads back as null
    return float(value)


def _as_bool(value: object) -> bool | None:
    if isinstance(value, bool):
        return value
    if isinstance(value, str) and value.lower() in _TRUE | _FALSE:
        return value.lower() in _TRUE
    return None


def _as_list(name: str, value: object) -> list[str] | None:
    """A list setting as Mailman stores it: one string is one item, '' and null are none."""
    items = [] if value is None else _items(value)  # Mailman may read an empty one as null
    if items is None or not all(isinstance(item, str) for item in items):
        return None
    strings = [str(item) for item in items]
    if name == "acceptable_aliases":  # stored lower case, read back sorted
        return sorted(item.lower() for item in strings)
    return strings


def desired_value(name: str, value: object) -> object:
    """A checked value as listsync holds, shows and sends it: the JSON type Mailman reads
    back (``"100"`` is 100, ``"yes"`` is true, one string is a one-item list). Durations
    stay as written (``"1w"``; Mailman reads back ``"7d"``): :func:`same` compares them."""
    setting = SETTINGS.get(name)
    if setting is None:
        return value
    converted: object = None
    if setting.kind == "bool":
        converted = _as_bool(value)
    elif setting.kind == "int":
        converted = _as_int(value)
    elif setting.kind == "float":
        converted = _as_float(value)
    elif setting.kind == "list":
        converted = _as_list(name, value)
    return value if converted is None else converted


def same(name: str, live: object, desired: object) -> bool:
    """Mailman's JSON value of setting `name` is the desired one, up to how it is written."""
    setting = SETTINGS.get(name)
    if setting is None:
        return live == desired
    if setting.kind == "timedelta":
        try:
            return parse_duration(str(live)) == parse_duration(str(desired))
        except ValueError:
            return False
    if setting.kind == "float":
        a, b = _as_float(live), _as_float(desired)
        return a is not None and b is not None and math.isclose(a, b)
    if setting.kind == "list":
        a_list, b_list = _as_list(name, live), _as_list(name, desired)
        return a_list is not None and b_list is not None and sorted(a_list) == sorted(b_list)
    live, desired = desired_value(name, live), desired_value(name, desired)
    return type(live) is type(desired) and live == desired


def wire_value(name: str, value: object) -> object:
    """A desired value as Mailman's form-encoded PATCH needs it.

    Booleans as 'true'/'false'; an empty list as '' (an empty list would be
    dropped by the form encoding and silently change nothing).
    """
    value = desired_value(name, value)
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, (list, tuple)) and not value:
        return ""
    return value


def file_value(name: str, live: object) -> object:
    """A live value as a person writes it in a list file (``7d``, ``1d12h``, ``[]``)."""
    setting = SETTINGS.get(name)
    if setting is not None and setting.kind == "timedelta" and isinstance(live, str):
        try:
            return _person_duration(parse_duration(live))
        except ValueError:
            return live
    if setting is not None and setting.kind == "list" and live in (None, ""):
        return []
    return live


def _person_duration(value: timedelta) -> str:
    if value.microseconds:
        return format_duration(value)
    hours, rest = divmod(value.seconds, 3600)
    minutes, seconds = divmod(rest, 60)
    parts = [(value.days, "d"), (hours, "h"), (minutes, "m"), (seconds, "s")]
    return "".join(f"{n}{unit}" for n, unit in parts if n) or "0d"


# -- exposure: who can see, join and reach a list -------------------------------------

OPENNESS: dict[str, dict[object, int]] = {
    "advertised": {False: 0, True: 1},
    "emergency": {True: 0, False: 1},
    "archive_policy": {"never": 0, "private": 1, "public": 2},
    "subscription_policy": {"moderate": 0, "confirm_then_moderate": 1, "confirm": 2, "open": 3},
    "default_member_action": {"discard": 0, "reject": 0, "hold": 1, "defer": 2, "accept": 3},
    "default_nonmember_action": {"discard": 0, "reject": 0, "hold": 1, "defer": 2, "accept": 3},
}
"""For the settings that decide who sees, joins and reaches a list: how open each value
leaves it (0 is closed). A change that opens a list is applied last, one that closes it
first, so that a run that stops midway never leaves a list more open than either end."""

CLOSED_ACTIONS: frozenset[str] = frozenset(
    str(action) for action, level in OPENNESS["default_member_action"].items() if level == 0
)
"""Member and non-member actions that let nothing through (reject, discard)."""

MITIGATION: frozenset[str] = frozenset({"dmarc_mitigate_action", "dmarc_mitigate_unconditionally"})
"""Applied before anything else: a list is never reachable unmitigated on the way."""

NEW_LIST_STYLE = "private-default"
"""The stock style a list is created with: not advertised, private archive,
subscriptions confirmed then moderated (mailman/styles/default.py, 3.3.8 on)."""

LOCKED_DOWN: dict[str, object] = {
    "advertised": False,
    "emergency": True,
    "archive_policy": "never",
    "subscription_policy": "moderate",
    "default_member_action": "hold",
    "default_nonmember_action": "hold",
}
"""What a new list is set to in the request right after its creation (with its DMARC
mitigation), before its owners and settings: every exposure setting closed, so nobody
sees it, joins it without an owner's approval, or gets a post through without a
moderator; nothing is archived. Opened up as the last step."""


def openness(name: str, value: object) -> int | None:
    """How open `value` of exposure setting `name` leaves a list; None for other settings."""
    ranks = OPENNESS.get(name)
    value = desired_value(name, value)
    if ranks is None or not isinstance(value, (bool, str)):
        return None
    return ranks.get(value)


ATLIST_SINCE: Release = (3, 3, 10)
"""The release whose accept_these_nonmembers takes ``@list@example.org`` entries."""


def release_text(release: Release) -> str:
    return ".".join(map(str, release))


def unsupported(name: str, value: object, server: Release) -> str | None:
    """Why Mailman `server` refuses `name: value`, a value :func:`check_value` accepts; or None.

    A whole PATCH is refused for one such key, so a list asking for it would
    keep every other setting at Mailman's defaults.
    """
    setting = SETTINGS.get(name)
    if setting is None:
        return None
    if setting.since is not None and server < setting.since:
        return (
            f"Mailman {release_text(server)} (this server) has no setting {name};"
            f" it came in {release_text(setting.since)}"
        )
    if name in _EMAIL_OR_REGEXP_OR_ATLIST_LISTS and server < ATLIST_SINCE:
        items = _items(value) or []
        lists = [item for item in items if isinstance(item, str) and item.startswith("@")]
        if lists:
            return (
                f"Mailman {release_text(server)} (this server) does not take @list entries"
                f" such as {lists[0]!r} in {name}; they came in {release_text(ATLIST_SINCE)}"
            )
    return None


def check_value(name: str, value: object) -> str | None:
    """Check `value` (as YAML would give it) for setting `name` without asking Mailman.

    Return None when acceptable, else a short message such as
    ``"expected one of: never, private, public"`` or ``"expected true or false"``.

    Accepts only what the 3.3.10 REST validators accept (what older releases
    lack is :func:`unsupported`; which languages a site has, only the server
    knows), in every form they accept it: ``"100"`` for an integer, ``"yes"``
    for a boolean, one string for a list. It also rejects values Mailman
    would only take by silently changing them: ``str()`` of a non-string
    (``None`` becomes ``"None"``), a bool for a number, a float for an
    integer (``100.0`` is refused over the form encoding, ``5.7`` truncated),
    a negative integer, and a non-finite float.
    """
    setting = SETTINGS.get(name)
    if setting is None:
        return "unknown setting"
    if setting.secret:
        return "secret setting: not accepted from files"
    kind = setting.kind
    if kind == "readonly":
        return "read-only setting (Mailman computes it)"
    if kind == "bool":
        if _as_bool(value) is None:
            return "expected true or false"
        return None
    if kind == "int":
        if _as_int(value) is None:
            return "expected a whole number >= 0 (such as 100, not 100.0)"
        return None
    if kind == "float":
        if _as_float(value) is None:
            return "expected a number"
        return None
    if kind == "enum":
        if isinstance(value, str) and value in setting.choices:
            return None
        return "expected one of: " + ", ".join(setting.choices)
    if kind == "list":
        return _check_list(name, value)
    if kind == "timedelta":
        message = "expected a duration like 7d, 1w, 1d12h or 30m (units w d h m s, in that order)"
        if not isinstance(value, str):
            return message
        try:
            parse_duration(value)
        except ValueError:
            return message
        return None
    if kind == "language":
        if not isinstance(value, str) or not _LANGUAGE_CODE.match(value):
            return "expected a language code such as en or pt_BR"
        underscored = value.replace("-", "_")
        if value not in STOCK_LANGUAGES and underscored in STOCK_LANGUAGES:
            return f"Mailman has no language {value!r}; did you mean '{underscored}'?"
        return None
    # str and uri
    if not isinstance(value, str):
        return "expected a string"
    if name == "description" and "\n" in value:
        return "expected a single line of text"
    return None
