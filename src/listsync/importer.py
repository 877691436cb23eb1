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
with the residual changes and no file is written. Nothing here writes to
Mailman.
"""

from __future__ import annotations

import io
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from enum import StrEnum
from pathlib import Path
from typing import Any

from ruamel.yaml import YAML
from ruamel.yaml.comments import CommentedMap, CommentedSeq
from ruamel.yaml.scalarstring import LiteralScalarString

from listsync import mailman_settings
from listsync.load import LISTS_DIR, check_list_text, list_file_paths
from listsync.mailman import MailmanBackend
from listsync.models import (
    ListSpec,
    Posting,
    SiteConfig,
    Visibility,
    effective,
    split_address,
)
from listsync.plan import ListPlan, plan_list
from listsync.policy import (
    ARCHIVE_POLICY,
    DISABLED_PREFIX,
    DMARC_ACTION,
    POSTING_ACTIONS,
    SUBSCRIPTION_POLICY,
    ListState,
    desired_state,
    is_disabled,
)
from listsync.render import change_lines

MODELINE = "# yaml-language-server: $schema=../schema/list.schema.json"
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
    "settings",
)

ARCHIVE_BY_POLICY = {value: key for key, value in ARCHIVE_POLICY.items()}
SUBSCRIPTION_BY_POLICY = {value: key for key, value in SUBSCRIPTION_POLICY.items()}
DMARC_BY_ACTION = {value: key for key, value in DMARC_ACTION.items()}
_NO_DEFAULT = object()


class Outcome(StrEnum):
    WRITTEN = "wrote"
    SKIPPED = "skipped"
    FAILED = "failed"


@dataclass(frozen=True, slots=True)
class ListImport:
    """What became of one list: its file written, skipped (it exists) or failed, and why."""

    name: str
    path: str
    outcome: Outcome
    reason: str = ""
    details: tuple[str, ...] = ()


@dataclass(frozen=True, slots=True)
class ImportResult:
    domain: str
    domain_exists: bool
    lists: tuple[ListImport, ...]

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
    fields["owners"] = [] if disabled else sorted(live.owners)
    if live.moderators and not disabled:
        fields["moderators"] = sorted(live.moderators)
    if disabled:
        fields["disabled"] = True
    return fields


def settings_overrides(
    live: ListState, fields: dict[str, Any], config: SiteConfig
) -> dict[str, Any]:
    """The `settings:` a file with `fields` needs so that its desired state is `live`.

    Every key the policy sets whose desired value would differ from the live
    one, plus every other writable setting whose live value differs from
    what Mailman gives a new list. Sorted by key.
    """
    # Rosters never change settings: leave them out, so a list without owners maps too.
    spec = ListSpec.model_validate({**fields, "owners": [], "moderators": [], "disabled": True})
    spec = spec.model_copy(update={"disabled": bool(fields.get("disabled"))})
    desired = desired_state(effective(live.name, spec, config), config.disabled_owner)
    overrides: dict[str, Any] = {}
    for key, value in desired.settings.items():
        if key in live.settings and not mailman_settings.same(key, live.settings[key], value):
            overrides[key] = live.settings[key]
    for key in mailman_settings.WRITABLE - desired.settings.keys():
        if key not in live.settings:
            continue
        default = mailman_settings.NEW_LIST_DEFAULTS.get(key, _NO_DEFAULT)
        if default is _NO_DEFAULT or not mailman_settings.same(key, live.settings[key], default):
            overrides[key] = live.settings[key]
    return {key: mailman_settings.file_value(key, overrides[key]) for key in sorted(overrides)}


def list_document(live: ListState, config: SiteConfig) -> CommentedMap:
    """The list file for `live`, as a YAML mapping in the stable field order."""
    fields = typed_fields(live, config)
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


def to_yaml(document: CommentedMap) -> str:
    """The file's text: the schema modeline, then block style with a 2-space indent."""
    yaml = YAML(typ="rt", pure=True)
    yaml.default_flow_style = False
    yaml.indent(mapping=2, sequence=4, offset=2)
    yaml.width = 4096
    stream = io.StringIO()
    stream.write(MODELINE + "\n")
    if document:
        yaml.dump(document, stream)
    return stream.getvalue()


# -- verification -------------------------------------------------------------


def file_path(name: str) -> str:
    return f"{LISTS_DIR}/{name}.yaml"


def render_list(live: ListState, config: SiteConfig) -> str:
    """The verified text of the list file for `live`.

    Raises `ImportFailed` when the text would not validate, or when the plan
    for it would not be empty (the residual changes are the details).
    """
    if is_disabled(live):
        _check_retired_owner(live, config)
    text = to_yaml(list_document(live, config))
    verify(live, text, config)
    return text


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


def verify(live: ListState, text: str, config: SiteConfig) -> None:
    """Check `text` as the file of `live`: it validates, and plan for it has no changes."""
    loaded, problems = check_list_text(text, file_path(live.name), live.name, config)
    if loaded is None:
        # No file exists, so a line and column would point nowhere: the field says where.
        raise ImportFailed(
            "its file would not validate:",
            (f"{p.field}: {p.message}" if p.field else p.message for p in problems),
        )
    desired = desired_state(effective(live.name, loaded.spec, config), config.disabled_owner)
    residual = residual_lines(plan_list(desired, live))
    if residual:
        raise ImportFailed("no list file reproduces it; plan would still change:", residual)


def residual_lines(planned: ListPlan) -> list[str]:
    return [line for change in planned.changes for line in change_lines(change)]


# -- reading Mailman, writing files -------------------------------------------


def _declared(root: Path) -> dict[str, list[Path]]:
    """Existing list files by list name (case-folded, as `load` compares them)."""
    files: dict[str, list[Path]] = {}
    for path in list_file_paths(root):
        files.setdefault(path.stem.casefold(), []).append(path)
    return files


def import_lists(
    root: Path,
    config: SiteConfig,
    backend: MailmanBackend,
    names: Sequence[str] | None = None,
    *,
    force: bool = False,
) -> ImportResult:
    """Write `lists/NAME.yaml` for every list no file declares, or for the named ones.

    An existing file is left alone (skipped) unless `force`. Only reads Mailman.
    """
    domain = config.domain
    declared = _declared(root)
    results: list[ListImport] = []
    backend.server()  # a URL that is not Mailman's API is an error, not "no such domain"
    present = backend.list_names(domain)
    if present is None:
        missing = [_no_such_list(name, domain) for name in sorted(set(names or ()))]
        return ImportResult(domain, False, tuple(missing))
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
    live = backend.read_site(domain, to_read, everything=False).lists
    for name in to_read:
        state = live.get(name)
        if state is None:
            results.append(_no_such_list(name, domain))
            continue
        results.append(_import_one(root, state, config, declared.get(name.casefold(), [])))
    results.sort(key=lambda item: item.name)
    return ImportResult(domain, True, tuple(results))


def _no_such_list(name: str, domain: str) -> ListImport:
    return ListImport(name, file_path(name), Outcome.FAILED, f"no list {name}@{domain} in Mailman")


def _shown(root: Path, path: Path) -> str:
    return path.relative_to(root).as_posix()


def _import_one(
    root: Path, live: ListState, config: SiteConfig, existing: list[Path]
) -> ListImport:
    shown = file_path(live.name)
    try:
        text = render_list(live, config)
    except ImportFailed as failure:
        return ListImport(live.name, shown, Outcome.FAILED, str(failure), failure.details)
    path = root / shown
    try:
        _write(path, text, replace=bool(existing))
    except FileExistsError:
        return ListImport(live.name, shown, Outcome.SKIPPED, "the file appeared while importing")
    except OSError as exc:
        return ListImport(live.name, shown, Outcome.FAILED, f"cannot write it: {exc.strerror}")
    # What --force replaces: NAME.yml, or a file whose name differs in case only.
    replaced = [p for p in existing if p.exists() and not p.samefile(path)]
    for other in replaced:
        other.unlink()
    reason = f"replaced {', '.join(_shown(root, p) for p in replaced)}" if replaced else ""
    return ListImport(live.name, shown, Outcome.WRITTEN, reason)


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
