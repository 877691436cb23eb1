"""Import: turning live Mailman state back into list files.

Owns the inverse of the policy mapping. For one live `ListState` it picks
the typed value of each field (omitted when it equals the site's effective
default, so files stay short), then puts under `settings:` exactly what the
typed fields cannot say: the keys where the policy's desired state would
still differ from the live value, and the writable settings that differ
from what Mailman gives a new list and that no typed field covers.

Every file is verified before it is written: its text is checked as
`validate` would check it, and the desired state computed from it is
diffed against the live state with the plan's own diff. A list whose file
would not round-trip (plan would change something) is reported as failed
with the residual changes and no file is written. The one change allowed:
a template served from elsewhere than `templates_url` moves there, with the
same text (a URL listsync published comes back as the file it publishes at
that URL: `template_fields`). Nothing here writes to Mailman.

With `--members DIR`, a private or closed list's members also leave Mailman:
its roster goes to `DIR/NAME.txt` (one address per line, sorted, under a
header saying it is personal data) and its file names that roster with
`members_from:`. The roster is read back as `plan` will read it before the
list file is written. Public, open lists (and disabled ones) keep their
members in Mailman only, and no address is ever part of the result.
"""

from __future__ import annotations

import dataclasses
import io
import re
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from enum import StrEnum
from pathlib import Path, PurePosixPath
from typing import Any
from urllib.parse import urlsplit

from ruamel.yaml import YAML
from ruamel.yaml.comments import CommentedMap, CommentedSeq
from ruamel.yaml.scalarstring import LiteralScalarString

from listsync import mailman_settings
from listsync.addresses import plain_text_problem, split_address
from listsync.changes import SetTemplate
from listsync.errors import ListsyncError
from listsync.load import LISTS_DIR, check_list_text, list_file_paths
from listsync.mailman import MailmanBackend
from listsync.mailman_templates import (
    TEMPLATES_DIR,
    NotServedError,
    TemplateText,
    check_path,
    check_text,
    decode,
)
from listsync.mailman_templates import fetch as fetch_template
from listsync.models import (
    DmarcMitigation,
    ListSpec,
    Posting,
    SiteConfig,
    Subscription,
    Visibility,
    effective,
    plain_template_path,
)
from listsync.plan import ListPlan, diff_list
from listsync.policy import (
    ARCHIVE_POLICY,
    DETAILS,
    DISABLE_BAN,
    DISABLED_PREFIX,
    DMARC_ACTION,
    POSTING_ACTIONS,
    SUBSCRIPTION_POLICY,
    Detail,
    ListState,
    desired_state,
    is_disabled,
    is_public,
)
from listsync.render import change_lines
from listsync.rosters import RosterError, parse_roster_text, read_roster_file

MODELINE = "# yaml-language-server: $schema=../schema/list.schema.json"
SCHEMA_FILE = "schema/list.schema.json"  # what the modeline points at, from the site root
OWNER_PLACEHOLDER = "OWNER"  # not an address: validate refuses a file that still says it
FIELD_ORDER = (
    "description",
    "category",
    "visibility",
    "archive",
    "posting",
    "subscription",
    "dmarc",
    "owners",
    "moderators",
    "disabled",
    "templates",
    "nonmembers",
    "header_filters",
    "bans",
    "members_from",
    "settings",
)

_RULE_FIELDS = frozenset({"templates", "nonmembers", "header_filters", "bans", "members_from"})
ARCHIVE_BY_POLICY = {value: key for key, value in ARCHIVE_POLICY.items()}
SUBSCRIPTION_BY_POLICY = {value: key for key, value in SUBSCRIPTION_POLICY.items()}
DMARC_BY_ACTION = {value: key for key, value in DMARC_ACTION.items()}
NO_MITIGATION = DMARC_ACTION[DmarcMitigation.NONE]
_NO_DEFAULT = object()
# "closed" in the sense of the issue: nobody joins without a moderator's approval.
CLOSED_POLICIES = frozenset(
    {SUBSCRIPTION_POLICY[Subscription.CLOSED], SUBSCRIPTION_POLICY[Subscription.MODERATED]}
)
ROSTER_SUFFIX = ".txt"
LEFT_PUBLIC = "members of public, open lists are left to Mailman"
LEFT_DISABLED = "members of a disabled list are left to Mailman"
NO_MEMBERS = "no members: no roster file (an empty roster would change nothing)"


class Outcome(StrEnum):
    WRITTEN = "wrote"
    SKIPPED = "skipped"
    FAILED = "failed"


@dataclass(frozen=True, slots=True)
class MembersImport:
    """What became of one list's members with `--members`: `count` of them (None when
    not read) written to the roster file `roster` (a path from the site root), or
    left to Mailman (`roster` None); `note` says which, for people. Never an address."""

    count: int | None
    roster: str | None
    note: str


@dataclass(frozen=True, slots=True)
class ListImport:
    """What became of one list: its file written, skipped (it or its roster file exists)
    or failed, and why; `members` is None without `--members`."""

    name: str
    path: str
    outcome: Outcome
    reason: str = ""
    details: tuple[str, ...] = ()
    members: MembersImport | None = None
    moves: tuple[tuple[str, str], ...] = ()  # (template, URL now): served elsewhere, moves


@dataclass(frozen=True, slots=True)
class PolicyBreak:
    """Imported (or refused) lists that break one rule of the site's policy; `kind` says
    which, for people."""

    kind: str
    names: tuple[str, ...]


@dataclass(frozen=True, slots=True)
class ImportResult:
    """`members_dir` is the `--members` directory from the site root (None without it)."""

    domain: str
    domain_exists: bool
    lists: tuple[ListImport, ...]
    members_dir: str | None = None
    policy: tuple[PolicyBreak, ...] = ()

    @property
    def ok(self) -> bool:
        return all(item.outcome is Outcome.WRITTEN for item in self.lists)

    def named(self, outcome: Outcome) -> list[ListImport]:
        return [item for item in self.lists if item.outcome is outcome]


class ImportFailed(Exception):
    """A list whose live state no list file reproduces; `details` says what differs."""

    def __init__(self, reason: str, details: Iterable[str] = ()) -> None:
        super().__init__(reason)
        self.details = tuple(details)


# -- the inverse mapping ------------------------------------------------------


def _closest_posting(member: Any, nonmember: Any, default: Posting) -> Posting:
    """The posting preset matching the most of the two actions; the default wins ties."""

    def score(posting: Posting) -> tuple[int, bool]:
        want_member, want_nonmember = POSTING_ACTIONS[posting]
        return (want_member == member) + (want_nonmember == nonmember), posting is default

    return max(Posting, key=score)


def typed_fields(live: ListState, config: SiteConfig) -> dict[str, Any]:
    """The typed fields of a list file for `live`, each omitted when it is the site default.

    Values no preset expresses fall back to the default; `settings:`
    overrides (see `list_document`) then carry the exact live value.
    """
    name, settings = live.name, live.settings
    disabled = is_disabled(live)
    defaults = effective(name, ListSpec(disabled=True), config)
    fields: dict[str, Any] = {}

    description = str(settings.get("description") or "")
    if disabled:  # listsync's marker comes back by itself; another one stays in the text
        description = description.removeprefix(DISABLED_PREFIX)
    if description.strip() and "\n" not in description and "\r" not in description:
        fields["description"] = description.strip()

    # The disable procedure overrides visibility and posting: what they were is lost.
    visibility = defaults.visibility
    if not disabled:
        visibility = Visibility.PUBLIC if settings.get("advertised") is True else Visibility.PRIVATE
        if visibility is not defaults.visibility:
            fields["visibility"] = visibility.value
    archive_default = effective(
        name, ListSpec(disabled=True, visibility=visibility), config
    ).archive
    archive = ARCHIVE_BY_POLICY.get(str(settings.get("archive_policy")), archive_default)
    if archive is not archive_default:
        fields["archive"] = archive.value
    if not disabled:
        posting = _closest_posting(
            settings.get("default_member_action"),
            settings.get("default_nonmember_action"),
            defaults.posting,
        )
        if posting is not defaults.posting:
            fields["posting"] = posting.value
    subscription = SUBSCRIPTION_BY_POLICY.get(
        str(settings.get("subscription_policy")), defaults.subscription
    )
    if subscription is not defaults.subscription:
        fields["subscription"] = subscription.value

    dmarc: dict[str, Any] = {}
    mitigation = DMARC_BY_ACTION.get(
        str(settings.get("dmarc_mitigate_action")), defaults.dmarc_mitigation
    )
    if mitigation is not defaults.dmarc_mitigation:
        dmarc["mitigation"] = mitigation.value
    unconditional = settings.get("dmarc_mitigate_unconditionally")
    if isinstance(unconditional, bool) and unconditional is not defaults.dmarc_unconditional:
        dmarc["unconditional"] = unconditional
    if dmarc:
        fields["dmarc"] = dmarc

    # A disabled list's owners are the disabled owner; the declared ones are unknown.
    fields["owners"] = [] if disabled else _named_addresses(live.owners, live.display_names)
    if live.moderators and not disabled:
        fields["moderators"] = _named_addresses(live.moderators, live.display_names)
    if disabled:
        fields["disabled"] = True
    declared = details_to_declare(live)
    if Detail.NONMEMBERS in declared:
        fields["nonmembers"] = dict(sorted(_explicit_nonmembers(live).items()))
    if Detail.HEADER_FILTERS in declared:
        fields["header_filters"] = [
            {"header": r.header, "pattern": r.pattern, **({"action": r.action} if r.action else {})}
            for r in live.header_filters or ()
        ]
    if Detail.BANS in declared:
        fields["bans"] = sorted(live.bans - {DISABLE_BAN})
    return fields


def _named_addresses(addresses: Iterable[str], names: Mapping[str, str]) -> list[str]:
    """`addresses` sorted, each as `Name <address>` where Mailman has a display name that
    a file can write that way (one line, no `<`, `>` or quote at its ends); else bare."""
    written = []
    for address in sorted(addresses):
        name = names.get(address, "")
        shown = f"{name} <{address}>"
        readable = plain_text_problem(name) is None and split_address(shown) == (address, name)
        written.append(shown if name and readable else address)
    return written


def details_to_declare(live: ListState) -> frozenset[Detail]:
    """The details of `live` (beyond templates, see `template_fields`) that its file
    declares, so that the file's state covers them (`ListState.covers`) and the diff
    compares them: non-members with an action of their own, header filters, and bans
    other than the disable ban. A detail a file does not declare, listsync leaves alone."""
    held = {
        Detail.NONMEMBERS: bool(_explicit_nonmembers(live)),
        Detail.HEADER_FILTERS: bool(live.header_filters),
        Detail.BANS: bool(live.bans - {DISABLE_BAN}),
    }
    return frozenset(detail for detail, present in held.items() if present)


def _explicit_nonmembers(live: ListState) -> dict[str, str]:
    return {a: action for a, action in (live.nonmembers or {}).items() if action is not None}


def settings_overrides(
    live: ListState, fields: dict[str, Any], config: SiteConfig
) -> dict[str, Any]:
    """The `settings:` a file with `fields` needs so that its desired state is `live`.

    Every key the policy sets whose desired value would differ from the live
    one, plus every other writable setting whose live value differs from
    what Mailman gives a new list (and has set: Mailman reports a setting
    never set as null). Sorted by key.
    """
    # Rosters never change settings: leave them out, so a list without owners maps too.
    typed = {key: value for key, value in fields.items() if key not in _RULE_FIELDS}
    spec = ListSpec.model_validate({**typed, "owners": [], "moderators": [], "disabled": True})
    spec = spec.model_copy(update={"disabled": bool(fields.get("disabled"))})
    desired = desired_state(effective(live.name, spec, config), config.disabled_owner)
    overrides: dict[str, Any] = {}
    for key, value in desired.settings.items():
        if key in live.settings and not mailman_settings.same(key, live.settings[key], value):
            overrides[key] = live.settings[key]
    for key in mailman_settings.WRITABLE - desired.settings.keys():
        # null: never set (a list made with Mailman's private-default style has no
        # first_strip_reply_to or reply_to_address); no file value says that, nor need it
        if live.settings.get(key) is None:
            continue
        default = mailman_settings.NEW_LIST_DEFAULTS.get(key, _NO_DEFAULT)
        if default is _NO_DEFAULT or not mailman_settings.same(key, live.settings[key], default):
            overrides[key] = live.settings[key]
    return {key: mailman_settings.file_value(key, overrides[key]) for key in sorted(overrides)}


def list_document(
    live: ListState,
    config: SiteConfig,
    templates: Mapping[str, str | None] | None = None,
    members_from: str | None = None,
) -> CommentedMap:
    """The list file for `live`, as a YAML mapping in the stable field order; `templates`
    is its `templates:` field (`template_fields`), `members_from` its roster file.

    No `membership:`: an imported roster is the live one, so `additive` (the default)
    plans as `exact` would, and it never unsubscribes whoever joins later by themselves.
    """
    fields = typed_fields(live, config)
    if templates:
        fields["templates"] = dict(templates)
    if members_from is not None:
        fields["members_from"] = members_from
    overrides = settings_overrides(live, fields, config)
    if overrides:
        fields["settings"] = overrides
    document = CommentedMap()
    for key in FIELD_ORDER:
        if key in fields:
            document[key] = _yaml_node(fields[key])
    return document


def _yaml_node(value: Any) -> Any:
    if isinstance(value, dict):
        mapping = CommentedMap()
        for key, item in value.items():
            mapping[key] = _yaml_node(item)
        return mapping
    if isinstance(value, list | tuple):
        return CommentedSeq(_yaml_node(item) for item in value)
    if isinstance(value, str) and "\n" in value:
        return LiteralScalarString(value)
    return value


def to_yaml(document: CommentedMap, *, modeline: bool = True) -> str:
    """The file's text: the schema modeline (with `modeline`), then block style with a
    2-space indent."""
    yaml = YAML(typ="rt", pure=True)
    yaml.default_flow_style = False
    yaml.indent(mapping=2, sequence=4, offset=2)
    yaml.width = 4096
    stream = io.StringIO()
    if modeline:
        stream.write(MODELINE + "\n")
    if document:
        yaml.dump(document, stream)
    return stream.getvalue()


# -- verification -------------------------------------------------------------


def file_path(name: str, where: str = LISTS_DIR) -> str:
    return f"{where}/{name}.yaml"


@dataclass(frozen=True, slots=True)
class Rendered:
    """A list's verified file `text`, the template texts it names that the site does
    not have yet (to write in templates/), and `moves`: template name -> the URL Mailman
    has now, for each text served from elsewhere, which the first apply points at its
    URL below `templates_url` (the same words)."""

    text: str
    new_texts: list[TemplateText]
    moves: dict[str, str]


def render_list(
    live: ListState,
    config: SiteConfig,
    site_texts: Mapping[str, TemplateText] | None = None,
    fetch: Callable[[str], str] = fetch_template,
    members_from: str | None = None,
) -> tuple[str, list[TemplateText]]:
    """The verified text of the list file for `live`, and the template texts it names
    that the site does not have yet (see `render`)."""
    rendered = render(live, config, site_texts, fetch, members_from)
    return rendered.text, rendered.new_texts


def render(
    live: ListState,
    config: SiteConfig,
    site_texts: Mapping[str, TemplateText] | None = None,
    fetch: Callable[[str], str] = fetch_template,
    members_from: str | None = None,
    *,
    modeline: bool = True,
    free: Callable[[str], bool] | None = None,
) -> Rendered:
    """The verified file for `live`; `members_from` is the roster file it names, if
    any, `free` whether a path may take a new template text (default: the site has no
    text there), `modeline` whether the file starts with the schema modeline.

    Raises `ImportFailed` when a template cannot be fetched or checked, when
    the text would not validate, or when the plan for it would not be empty
    but for the templates it moves (the residual changes are the details).
    """
    if is_disabled(live):
        _check_retired_owner(live, config)
    elif not live.owners:
        raise _no_owner(live, config, modeline=modeline)
    known = site_texts or {}
    declared, new_texts, moves = template_fields(live, config, known, fetch, free)
    text = to_yaml(list_document(live, config, declared, members_from), modeline=modeline)
    urls = {t.path: t.url(config.templates_url or "") for t in [*new_texts, *known.values()]}
    verify(live, text, config, urls, moved=moves)
    return Rendered(text, new_texts, moves)


def _no_owner(live: ListState, config: SiteConfig, *, modeline: bool) -> ImportFailed:
    """Why a list without an owner gets no file, and the file to write for it."""
    document = list_document(live, config)
    document["owners"] = CommentedSeq([OWNER_PLACEHOLDER])
    text = to_yaml(document, modeline=modeline)
    templates = " (its templates are left out: the first way keeps them)" if live.templates else ""
    return ImportFailed(
        "it has no owner in Mailman, and a list file needs one (or 'disabled: true'):"
        " add its owner in Mailman (Postorius: the list's Members, Owners) and run"
        f" 'listsync import --list {live.name}', or write"
        f" {file_path(live.name, config.lists_dir)} as below"
        f" with {OWNER_PLACEHOLDER} replaced by the owner's address (plan then adds that"
        f" owner, and changes nothing else){templates}:",
        ("  " + line for line in text.splitlines()),
    )


# `STEM.<16 hex digits of its hash>.SUFFIX`: a name `render --templates-out` publishes.
_PUBLISHED = re.compile(r"(?P<stem>.+)\.(?P<digest>[0-9a-f]{16})(?P<suffix>\.[A-Za-z0-9]+)")


def template_fields(
    live: ListState,
    config: SiteConfig,
    site_texts: Mapping[str, TemplateText],
    fetch: Callable[[str], str],
    free: Callable[[str], bool] | None = None,
) -> tuple[dict[str, str | None], list[TemplateText], dict[str, str]]:
    """The `templates:` of the file for `live` (name -> path, None for Mailman's own
    text where the site's defaults would set one), the texts to write, and the
    templates whose URL the first apply changes (name -> the URL Mailman has now).

    Each URL Mailman has is fetched as Mailman fetches it. A URL that listsync
    would publish for one of the site's texts names that text; a URL as `render
    --templates-out` publishes (`templates_url/STEM.<hash>.txt`, the hash this
    text's) gets a new text at `templates/STEM.txt` (or `templates/LIST/STEM.txt`
    when that is taken), which listsync publishes at that same URL. Any other URL
    (served elsewhere) moves: its words are named by a site text that has them, or
    by a new file named after the URL's; the first apply points the list at the
    site's URL for them. A name whose text is the site's default for it, at the
    default's URL or moving, is left out.
    """
    live_urls = dict(live.templates or {})
    defaults = {**config.templates, **(config.disabled_templates if is_disabled(live) else {})}
    base = config.templates_url
    if live_urls and base is None:
        raise ImportFailed(
            f"it has templates ({', '.join(sorted(live_urls))}): add 'templates_url:' to"
            " listsync.yaml (where the pipeline publishes the texts) and import again"
        )
    new_texts: list[TemplateText] = []

    def is_free(path: str) -> bool:
        taken = path in site_texts or any(t.path == path for t in new_texts)
        return not taken and (free is None or free(path))

    by_url = {text.url(base or ""): text for text in site_texts.values()}
    by_text = {text.text: text for text in site_texts.values()}
    declared: dict[str, str | None] = {}
    moves: dict[str, str] = {}
    problems: list[str] = []
    for name, url in sorted(live_urls.items()):
        if url is None or base is None:
            continue
        try:
            words = fetch(url)
        except NotServedError as exc:
            raise ImportFailed(f"its template {name} cannot be read: {exc}") from None
        problems += [f"{name} line {p.line}: {p.message}" for p in check_text(name, words)]
        known = by_url.get(url)
        if known is not None and known.text != words:
            known = None  # the site's text at that URL differs from what it serves
        if known is None:
            known = _published_as(url, words, base, live.name, is_free)
            if known is not None:
                new_texts.append(known)
                by_url[url] = known
                by_text.setdefault(words, known)
        if known is None:
            moves[name] = url
            default = site_texts.get(defaults.get(name) or "")
            if default is not None and default.text == words:
                continue
            known = by_text.get(words)
            if known is None:
                known = TemplateText(_foreign_path(url, name, is_free), words)
                new_texts.append(known)
                by_text[words] = known
        if known.path != defaults.get(name):
            declared[name] = known.path
    if problems:
        raise ImportFailed("a template's text would not validate:", problems)
    declared.update((name, None) for name in defaults if name not in live_urls)
    return dict(sorted(declared.items())), new_texts, moves


def _published_as(
    url: str, words: str, base: str, list_name: str, is_free: Callable[[str], bool]
) -> TemplateText | None:
    """A new site text of `words` that listsync publishes at exactly `url`, or None
    (`url` is not a name `render --templates-out` gives `words` below `base`, or both
    paths that would be are taken)."""
    below = base.rstrip("/") + "/"
    match = _PUBLISHED.fullmatch(url.removeprefix(below)) if url.startswith(below) else None
    if match is None:
        return None
    file = match["stem"] + match["suffix"]
    for path in (f"{TEMPLATES_DIR}/{file}", f"{TEMPLATES_DIR}/{list_name}/{file}"):
        if check_path(path) is not None or plain_template_path(path) is not None:
            continue
        candidate = TemplateText(path, words)
        if candidate.url(base) != url:
            return None  # the hash in the URL is not this text's: it changed since
        if is_free(path):
            return candidate
    return None


def _foreign_path(url: str, name: str, is_free: Callable[[str], bool]) -> str:
    """A free path in templates/ for a text served at `url` (not by listsync): named
    after the URL's file (without a published name's hash), else after template `name`."""
    last = urlsplit(url).path.rstrip("/").rsplit("/", 1)[-1]
    match = _PUBLISHED.fullmatch(last)
    stem = match["stem"] if match else PurePosixPath(last).stem
    stem = re.sub(r"[^A-Za-z0-9._-]+", "-", stem).lstrip(".-").rstrip(".")
    if not stem:
        stem = name.removeprefix("list:").replace(":", "-")
    path = f"{TEMPLATES_DIR}/{stem}.txt"
    number = 1
    while not is_free(path) or plain_template_path(path) is not None:
        number += 1
        path = f"{TEMPLATES_DIR}/{stem}-{number}.txt"
    return path


def _check_retired_owner(live: ListState, config: SiteConfig) -> None:
    """A retired list maps to `disabled: true` only when its owner is the site's disabled owner."""
    owners = ", ".join(sorted(live.owners)) or "nobody"
    if config.disabled_owner is None:
        raise ImportFailed(
            f"the list is retired (the ban of everyone, and nothing let through), and a disabled"
            f" list needs 'disabled_owner:' in listsync.yaml: add 'disabled_owner: {owners}'"
            " (its owner now) and import again"
        )
    sole = split_address(config.disabled_owner)[0].lower()
    if live.owners != {sole}:
        raise ImportFailed(
            f"the list is retired, but its owner is {owners}, not the site's disabled_owner"
            f" {sole}: write lists/{live.name}.yaml with 'disabled: true' (apply then makes"
            f" {sole} its sole owner), or set 'disabled_owner: {owners}' in listsync.yaml"
        )


def verify(
    live: ListState,
    text: str,
    config: SiteConfig,
    template_urls: Mapping[str, str] | None = None,
    moved: Iterable[str] = (),
) -> None:
    """Check `text` as the file of `live`: it validates, its state covers what `live`
    holds (`details_to_declare`), and plan for it has no changes but the templates in
    `moved` (the same words, to be served from the site's URL)."""
    loaded, problems = check_list_text(
        text, file_path(live.name, config.lists_dir), live.name, config
    )
    if loaded is None:
        # No file exists, so a line and column would point nowhere: the field says where.
        raise ImportFailed(
            "its file would not validate:",
            (f"{p.field}: {p.message}" if p.field else p.message for p in problems),
        )
    desired = desired_state(
        effective(live.name, loaded.spec, config), config.disabled_owner, template_urls
    )
    uncovered = details_to_declare(live) - desired.covers()
    if uncovered:  # the diff would not compare them: an empty plan would prove nothing
        raise ImportFailed(
            "its file would leave alone what Mailman holds:", (str(d) for d in sorted(uncovered))
        )
    moving = set(moved)
    planned = diff_list(desired, live)
    kept = tuple(
        c for c in planned.changes if not (isinstance(c, SetTemplate) and c.name in moving)
    )
    residual = residual_lines(dataclasses.replace(planned, changes=kept))
    if residual:
        raise ImportFailed("no list file reproduces it; plan would still change:", residual)


def residual_lines(planned: ListPlan) -> list[str]:
    return [line for change in planned.changes for line in change_lines(change)]


# -- members ------------------------------------------------------------------


def roster_directory(root: Path, given: Path) -> str:
    """The `--members` directory as a path from the site root (`.` for the root itself).

    Refused, before anything is read, when it is outside the site (`members_from`
    names a roster from the site root, and a roster outside the repository is never
    read) or in `templates/` (the texts published for Mailman to fetch).
    """
    top = root.resolve()
    target = given.resolve()
    if not target.is_relative_to(top):
        raise ListsyncError(
            f"--members {given}: the directory must be inside the site ({top}), where"
            " members_from can name its roster files (a relative DIR is taken from the"
            " current directory)"
        )
    relative = target.relative_to(top).as_posix()
    if relative.split("/")[0] == TEMPLATES_DIR:
        raise ListsyncError(
            f"--members {given}: not in {TEMPLATES_DIR}/, which holds the texts published"
            " for Mailman: rosters are personal data"
        )
    if target.exists() and not target.is_dir():
        raise ListsyncError(f"--members {given}: not a directory")
    return relative


def members_left_to_mailman(live: ListState) -> str | None:
    """Why `live`'s members stay in Mailman only, or None when its file declares them:
    a list that is private (`is_public`) or closed (joining needs a moderator)."""
    if is_disabled(live):
        return LEFT_DISABLED
    private = not is_public(live.settings)
    closed = live.settings.get("subscription_policy") in CLOSED_POLICIES
    return None if private or closed else LEFT_PUBLIC


def roster_path(directory: str, name: str) -> str:
    return PurePosixPath(directory, name + ROSTER_SUFFIX).as_posix()


def roster_text(name: str, domain: str, members: Iterable[str], where: str = LISTS_DIR) -> str:
    """A roster file: a header (no comma on its first line, which would make it CSV),
    then the addresses sorted, one a line."""
    header = (
        f"# The members of the list {name}@{domain}: {file_path(name, where)} names this file.\n"
        "# Personal data: never commit this file to a public repository.\n"
        "# One address per line; '#' starts a comment. Written by 'listsync import --members'.\n"
    )
    return header + "".join(f"{address}\n" for address in sorted(members))


def check_roster(text: str, shown: str, members: frozenset[str]) -> None:
    """Raise `ImportFailed` unless `text` reads back as exactly `members` (line numbers
    only in the details: never an address)."""
    addresses, bad = parse_roster_text(text)
    if bad:
        raise ImportFailed(
            "its roster would not read back:", (f"{shown}:{b.line}: {b.message}" for b in bad)
        )
    if frozenset(addresses) != members or len(addresses) != len(members):
        raise ImportFailed(f"its roster {shown} would not read back as its members")


# -- reading Mailman, writing files -------------------------------------------


def _declared(root: Path, where: str) -> dict[str, list[Path]]:
    """Existing list files by list name (case-folded, as `load` compares them)."""
    files: dict[str, list[Path]] = {}
    for path in list_file_paths(root, where):
        files.setdefault(path.stem.casefold(), []).append(path)
    return files


def import_lists(
    root: Path,
    config: SiteConfig,
    backend: MailmanBackend,
    names: Sequence[str] | None = None,
    *,
    force: bool = False,
    members_dir: Path | None = None,
) -> ImportResult:
    """Write `lists/NAME.yaml` for every list no file declares, or for the named ones;
    with `members_dir`, the roster of each private or closed one there too.

    An existing file (list or roster) is left alone, and its list skipped, unless
    `force`. Only reads Mailman; every read is done before the first write.
    """
    domain = config.domain
    rosters = None if members_dir is None else roster_directory(root, members_dir)
    declared = _declared(root, config.lists_dir)
    results: list[ListImport] = []
    backend.server()  # a URL that is not Mailman's API is an error, not "no such domain"
    present = backend.list_names(domain)
    if present is None:
        missing = [_no_such_list(name, domain) for name in sorted(set(names or ()))]
        return ImportResult(domain, False, tuple(missing), rosters)
    wanted = (
        [name for name in present if name.casefold() not in declared]
        if names is None
        else sorted(set(names))
    )
    to_read: list[str] = []
    for name in wanted:
        if name not in present:
            results.append(_no_such_list(name, domain))
        elif name.casefold() in declared and not force:
            shown = _shown(root, declared[name.casefold()][0])
            results.append(
                ListImport(name, shown, Outcome.SKIPPED, "the file exists; --force overwrites it")
            )
        else:
            to_read.append(name)
    details = dict.fromkeys(to_read, DETAILS - {Detail.MEMBERS})  # members: `_read_members`
    live = backend.read_site(
        domain, to_read, everything=False, details=details, display_names=True
    ).lists
    found: list[tuple[ListState, _Members | None]] = []
    for name in to_read:
        state = live.get(name)
        if state is None:
            results.append(_no_such_list(name, domain))
        elif rosters is None:
            found.append((state, None))
        else:
            read = _read_members(root, state, config, rosters, backend, force=force)
            if isinstance(read, ListImport):
                results.append(read)
            else:
                found.append((state, read))
    site_texts = _site_texts(root)
    modeline = (root / SCHEMA_FILE).is_file()
    for state, members in found:
        existing = declared.get(state.name.casefold(), [])
        results.append(
            _import_one(root, state, config, existing, site_texts, members, modeline=modeline)
        )
    results.sort(key=lambda item: item.name)
    written = {item.name for item in results if item.outcome is Outcome.WRITTEN}
    adopted = [state for state, _ in found if state.name in written]
    refused = [item.name for item in results if item.outcome is Outcome.FAILED]
    breaks = policy_breaks(adopted, refused, config)
    return ImportResult(domain, True, tuple(results), rosters, breaks)


def policy_breaks(
    adopted: Iterable[ListState], refused: Iterable[str], config: SiteConfig
) -> tuple[PolicyBreak, ...]:
    """What the site's policy says that lists kept as Mailman has them do not: no DMARC
    mitigation where the site's default has one, a display name other than the list's
    name (Mailman capitalises it: `Tor-dev`), and names `naming:` refuses (no file)."""
    no_dmarc: list[str] = []
    display: list[str] = []
    for live in sorted(adopted, key=lambda state: state.name):
        default = effective(live.name, ListSpec(disabled=True), config).dmarc_mitigation
        unmitigated = live.settings.get("dmarc_mitigate_action") == NO_MITIGATION
        if unmitigated and default is not DmarcMitigation.NONE and not is_disabled(live):
            no_dmarc.append(live.name)  # a disabled list takes no post
        if str(live.settings.get("display_name", live.name)) != live.name:
            display.append(live.name)
    misnamed = sorted(name for name in refused if not re.fullmatch(config.naming, name))
    found = (
        ("no DMARC mitigation (dmarc: mitigation: none; the site's default mitigates)", no_dmarc),
        ("a display name other than the list's name (kept in settings: display_name)", display),
        (f"a name naming: {config.naming!r} refuses (no file written)", misnamed),
    )
    return tuple(PolicyBreak(kind, tuple(names)) for kind, names in found if names)


@dataclass(frozen=True, slots=True)
class _Members:
    """A list's members as read for `--members`: `result` for the output, and when
    `result.roster` names a file to write, the `addresses` and the file's `text`."""

    result: MembersImport
    addresses: frozenset[str] = frozenset()
    text: str = ""


def _read_members(
    root: Path,
    live: ListState,
    config: SiteConfig,
    directory: str,
    backend: MailmanBackend,
    *,
    force: bool,
) -> _Members | ListImport:
    """Read the members of `live` when its file is to declare them; a `ListImport`
    (skipped) when its roster file exists and not `force`."""
    left = members_left_to_mailman(live)
    if left is not None:
        return _Members(MembersImport(None, None, left))
    shown = roster_path(directory, live.name)
    if (root / shown).exists() and not force:
        reason = f"the roster file {shown} exists; --force overwrites it"
        return ListImport(
            live.name, file_path(live.name, config.lists_dir), Outcome.SKIPPED, reason
        )
    domain = config.domain
    members = backend.members(f"{live.name}@{domain}")
    if not members:
        return _Members(MembersImport(0, None, NO_MEMBERS))
    note = f"{len(members)} member(s) in {shown}"
    text = roster_text(live.name, domain, members, config.lists_dir)
    return _Members(MembersImport(len(members), shown, note), members, text)


def _no_such_list(name: str, domain: str) -> ListImport:
    return ListImport(name, file_path(name), Outcome.FAILED, f"no list {name}@{domain} in Mailman")


def _shown(root: Path, path: Path) -> str:
    return path.relative_to(root).as_posix()


def _site_texts(root: Path) -> dict[str, TemplateText]:
    """The site's template files that are UTF-8 text and a list file may name, by path
    (not `templates/.gitkeep`, whose empty text would otherwise stand for an empty one)."""
    texts: dict[str, TemplateText] = {}
    directory = root / TEMPLATES_DIR
    for file in sorted(directory.rglob("*")) if directory.is_dir() else ():
        path = file.relative_to(root).as_posix()
        if not file.is_file() or plain_template_path(path) is not None:
            continue
        text, _ = decode(file.read_bytes())
        if text is not None:
            texts[path] = TemplateText(path, text)
    return texts


def _import_one(
    root: Path,
    live: ListState,
    config: SiteConfig,
    existing: list[Path],
    site_texts: dict[str, TemplateText],
    members: _Members | None = None,
    *,
    modeline: bool = True,
) -> ListImport:
    """Write one list's file, and first the template texts it names that are new (each
    under a content-addressed name, so never over another text) and its roster file,
    read back as `plan` reads it. A roster file this created is removed again when the
    list's file is not written."""
    shown = file_path(live.name, config.lists_dir)
    result = None if members is None else members.result
    roster = None if result is None else result.roster

    moves: tuple[tuple[str, str], ...] = ()

    def outcome(kind: Outcome, reason: str, details: Iterable[str] = ()) -> ListImport:
        kept = result if kind is Outcome.WRITTEN else None  # no roster file is left
        moved = moves if kind is Outcome.WRITTEN else ()
        return ListImport(live.name, shown, kind, reason, tuple(details), kept, moved)

    try:
        if members is not None and roster is not None:
            check_roster(members.text, roster, members.addresses)
        rendered = render(
            live,
            config,
            site_texts,
            members_from=roster,
            modeline=modeline,
            free=lambda path: _free_path(root, path),
        )
    except ImportFailed as failure:
        return outcome(Outcome.FAILED, str(failure), failure.details)
    text, new_texts, moves = rendered.text, rendered.new_texts, tuple(rendered.moves.items())
    path = root / shown
    stage = "the file"
    created: Path | None = None
    try:
        for template in new_texts:  # each at a path found free: one there now appeared
            stage = f"the template text {template.path}"
            _write(root / template.path, template.text, replace=False)
            site_texts[template.path] = template
        stage = "the file"
        if members is not None and roster is not None:
            stage = f"the roster file {roster}"
            target = root / roster
            replace = target.exists()
            _write(target, members.text, replace=replace)
            created = None if replace else target
            _read_back(root, roster, members.addresses)
            stage = "the file"
        _write(path, text, replace=bool(existing))
    except (OSError, ImportFailed) as exc:
        if created is not None:
            created.unlink(missing_ok=True)
        if isinstance(exc, ImportFailed):
            return outcome(Outcome.FAILED, str(exc), exc.details)
        if isinstance(exc, FileExistsError):
            return outcome(Outcome.SKIPPED, f"{stage} appeared while importing")
        return outcome(Outcome.FAILED, f"cannot write {stage}: {exc.strerror}")
    # What --force replaces: NAME.yml, or a file whose name differs in case only.
    replaced = [p for p in existing if p.exists() and not p.samefile(path)]
    for other in replaced:
        other.unlink()
    reason = f"replaced {', '.join(_shown(root, p) for p in replaced)}" if replaced else ""
    return outcome(Outcome.WRITTEN, reason)


def _free_path(root: Path, path: str) -> bool:
    """Whether a new file can be written at `path` (from the site root): nothing is
    there, and no directory on the way is a file."""
    target = root / path
    if target.exists() or target.is_symlink():
        return False
    return not any(parent.is_file() for parent in target.parents if parent.is_relative_to(root))


def _read_back(root: Path, roster: str, addresses: frozenset[str]) -> None:
    """The roster file as written, read as `plan` reads it: `addresses` exactly, or
    `ImportFailed` (the caller removes the file: no list file names a wrong roster)."""
    try:
        read = read_roster_file(root, roster)
    except RosterError as exc:
        raise ImportFailed(f"its roster file would not read back: {exc}") from None
    if frozenset(read) != addresses or len(read) != len(addresses):
        raise ImportFailed(f"its roster file {roster} would not read back as its members")


def _write(path: Path, text: str, *, replace: bool) -> None:
    """Write a new file (never over one), or replace one atomically."""
    path.parent.mkdir(parents=True, exist_ok=True)
    if not replace:
        with path.open("x", encoding="utf-8") as out:
            out.write(text)
        return
    tmp = path.with_name(f".{path.name}.import-tmp")
    tmp.write_text(text, encoding="utf-8")
    tmp.replace(path)
