"""Saved plans: a plan written to a file as a commitment `apply FILE` holds it to.

Owns the saved-plan document and the checks that make it safe to apply.
A saved plan is never carried out as written. `apply FILE` plans the
lists it covered again, from the files at the recorded revision and from
Mailman as it is now, and applies that re-plan only when it is exactly
what the file recorded, as a Terraform saved plan or octoDNS' `--checksum`
does. Nothing in the file decides what is written: not a list's address,
its action, the scope or the blast radius. The document is the JSON plan
(`format_version` 1, see `render.to_json_data`) plus `saved`:

    {"revision": "<full hash of HEAD>" | null,
     "uncommitted": {"lists/x.yaml": "sha256:..." | null, ...},
     "selection": null | ["tor-dev", ...],
     "domain_exists": true,
     "fingerprints": {"tor-dev": "sha256:..." | "absent", ...},
     "digest": "sha256:...",
     "redacted": false}

`selection` names the lists planned (null: every list). `fingerprints`
hash, for each of them, what the plan compared in Mailman, so that a list
changed by hand since is named as such. `digest` hashes the changes with
every address in full; with `redacted` the changes shown in the file have
their addresses masked, which makes the file safe to publish, while the
digest still pins the real ones. Both are HMAC-SHA256 keyed with the REST
password, which plan and apply hold anyway: without it nobody can confirm
a guessed address against them. (A new password makes older saved plans
unusable: plan again.)
"""

from __future__ import annotations

import hashlib
import hmac
import json
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from listsync.acceptance import HeaderRule
from listsync.errors import ListsyncError
from listsync.plan import Plan
from listsync.policy import DISABLE_BAN, ListState
from listsync.reconcile import Reading
from listsync.render import JSON_FORMAT_VERSION, change_json, redacted, to_json_data

ABSENT = "absent"
_HASH_PREFIX = "sha256:"
_KEYED_PREFIX = "hmac-sha256:"


class SavedPlanError(ListsyncError):
    """A file that is not a saved plan listsync can read, or one it will not apply."""


class StalePlanError(ListsyncError):
    """A saved plan that no longer matches the work tree or Mailman."""


@dataclass(frozen=True, slots=True)
class WorkTree:
    """The git facts a saved plan records and `apply` checks again."""

    revision: str | None
    uncommitted: Mapping[str, str | None]


@dataclass(frozen=True, slots=True)
class SavedPlan:
    """What a saved-plan file records; none of it is applied as such."""

    source: str
    domain: str
    worktree: WorkTree
    selection: tuple[str, ...] | None
    domain_exists: bool
    fingerprints: Mapping[str, str]
    digest: str
    redacted: bool
    shown: Any  # the recorded changes, as `substance` gives them (masked when redacted)


# -- hashes ---------------------------------------------------------------------------


def _sha256(data: bytes) -> str:
    return _HASH_PREFIX + hashlib.sha256(data).hexdigest()


def _canonical(data: Any) -> bytes:
    return json.dumps(data, sort_keys=True, separators=(",", ":"), ensure_ascii=False).encode()


def fingerprint(desired: ListState, existing: ListState | None, key: bytes) -> str:
    """A hash of the live state the plan compared for one list."""
    if existing is None:
        return ABSENT
    settings = existing.settings
    bans = existing.bans if desired.manages_bans else existing.bans & {DISABLE_BAN}
    live_templates = existing.templates or {}
    compared: dict[str, Any] = {
        "settings": {k: settings[k] for k in sorted(desired.settings) if k in settings},
        "owners": sorted(existing.owners),
        "moderators": sorted(existing.moderators),
        "bans": sorted(bans),
        "templates": {name: live_templates.get(name) for name in sorted(desired.templates or {})},
    }
    if desired.nonmembers is not None:
        compared["nonmembers"] = dict(sorted((existing.nonmembers or {}).items()))
    if desired.header_filters is not None:
        compared["header_filters"] = [list(vars_of(r)) for r in existing.header_filters or ()]
    return hash_of(compared, key)


def vars_of(rule: HeaderRule) -> tuple[str, str, str | None]:
    return rule.header, rule.pattern, rule.action


def fingerprints(reading: Reading, key: bytes) -> dict[str, str]:
    return {
        name: fingerprint(reading.desired[name], reading.live.lists.get(name), key)
        for name in sorted(reading.desired)
    }


def file_hashes(root: Path, paths: Iterable[str]) -> dict[str, str | None]:
    """Content hashes of site-relative files (None for a deleted one)."""
    hashes: dict[str, str | None] = {}
    for path in sorted(paths):
        file = root / path
        hashes[path] = _sha256(file.read_bytes()) if file.is_file() else None
    return hashes


def substance(plan: Plan) -> dict[str, Any]:
    """What a plan writes: the domain, and each changed list's address, action and changes."""
    data = {
        "domain": plan.domain,
        "create_domain": plan.create_domain,
        "lists": [
            {
                "name": lp.name,
                "fqdn": lp.fqdn,
                "action": lp.action.value,
                "changes": [change_json(c) for c in lp.changes],
            }
            for lp in plan.lists
            if lp.changes
        ],
    }
    normal: dict[str, Any] = json.loads(_canonical(data))
    return normal


def hash_of(data: Any, key: bytes) -> str:
    """The HMAC-SHA256 of a JSON value in canonical form, keyed with `key`."""
    return _KEYED_PREFIX + hmac.new(key, _canonical(data), hashlib.sha256).hexdigest()


def digest(plan: Plan, key: bytes) -> str:
    return hash_of(substance(plan), key)


# -- the document ---------------------------------------------------------------------


def dumps(
    plan: Plan,
    reading: Reading,
    selection: Iterable[str] | None,
    worktree: WorkTree,
    *,
    redact: bool,
    key: bytes,
) -> str:
    """The saved-plan document of `plan`; its changes' addresses masked with `redact`."""
    data = to_json_data(redacted(plan) if redact else plan)
    data["saved"] = {
        "revision": worktree.revision,
        "uncommitted": dict(worktree.uncommitted),
        "selection": None if selection is None else sorted(selection),
        "domain_exists": reading.live.domain_exists,
        "fingerprints": fingerprints(reading, key),
        "digest": digest(plan, key),
        "redacted": redact,
    }
    return json.dumps(data, indent=2, ensure_ascii=False) + "\n"


def _str(value: Any, what: str) -> str:
    if not isinstance(value, str):
        raise ValueError(f"{what} is not a string")
    return value


def _hash(value: Any, what: str, prefix: str = _HASH_PREFIX) -> str:
    text = _str(value, what)
    if not text.startswith(prefix):
        raise ValueError(f"{what} is not a {prefix.rstrip(':')} hash")
    return text


def _shown(data: Mapping[str, Any]) -> Any:
    """The recorded changes, in `substance`'s shape."""
    lists = data["lists"]
    if not isinstance(lists, list):
        raise ValueError("lists is not a list")
    recorded = {
        "domain": data["domain"],
        "create_domain": data["create_domain"],
        "lists": [
            {key: entry[key] for key in ("name", "fqdn", "action", "changes")}
            for entry in lists
            if entry["changes"]
        ],
    }
    return json.loads(_canonical(recorded))


def _parse(data: Mapping[str, Any], source: str) -> SavedPlan:
    saved = data["saved"]
    uncommitted = saved["uncommitted"]
    if not isinstance(uncommitted, dict):
        raise ValueError("uncommitted is not an object")
    selection = saved["selection"]
    if selection is not None and not isinstance(selection, list):
        raise ValueError("selection is not a list")
    prints = saved["fingerprints"]
    if not isinstance(prints, dict):
        raise ValueError("fingerprints is not an object")
    redact = saved["redacted"]
    if not isinstance(redact, bool) or not isinstance(saved["domain_exists"], bool):
        raise ValueError("redacted and domain_exists must be true or false")
    return SavedPlan(
        source=source,
        domain=_str(data["domain"], "domain"),
        worktree=WorkTree(
            None if saved["revision"] is None else _str(saved["revision"], "revision"),
            {
                _str(path, "a path"): None if value is None else _hash(value, path)
                for path, value in uncommitted.items()
            },
        ),
        selection=None
        if selection is None
        else tuple(_str(name, "a list name") for name in selection),
        domain_exists=saved["domain_exists"],
        fingerprints={
            _str(name, "a list name"): value
            if value == ABSENT
            else _hash(value, name, _KEYED_PREFIX)
            for name, value in prints.items()
        },
        digest=_hash(saved["digest"], "digest", _KEYED_PREFIX),
        redacted=redact,
        shown=_shown(data),
    )


def loads(text: str, source: str = "the plan") -> SavedPlan:
    """Parse a saved-plan document; `SavedPlanError` says what is wrong with it."""
    try:
        data = json.loads(text)
    except json.JSONDecodeError as exc:
        raise SavedPlanError(f"{source} is not JSON: {exc}") from None
    if not isinstance(data, dict):
        raise SavedPlanError(f"{source} is not a listsync plan")
    version = data.get("format_version")
    if version != JSON_FORMAT_VERSION:
        raise SavedPlanError(
            f"{source} has format_version {version!r}; this listsync reads {JSON_FORMAT_VERSION}"
        )
    if not isinstance(data.get("saved"), dict):
        raise SavedPlanError(
            f"{source} is a plan but not a saved one (no revision, no digest):"
            " write it with 'listsync plan --out FILE.json' against Mailman itself"
        )
    try:
        return _parse(data, source)
    except (KeyError, TypeError, ValueError, AttributeError) as exc:
        raise SavedPlanError(f"{source} is not a valid saved plan: {exc!r}") from None


def load(path: Path) -> SavedPlan:
    return loads(path.read_text(encoding="utf-8"), str(path))


# -- the checks, in the order apply makes them ------------------------------------------


def _short(revision: str | None) -> str:
    return "no git revision" if revision is None else f"revision {revision[:7]}"


def check_worktree(saved: SavedPlan, now: WorkTree) -> None:
    """Refuse a plan made at another revision or from other uncommitted files."""
    if saved.worktree.revision != now.revision:
        raise StalePlanError(
            f"{saved.source} was planned at {_short(saved.worktree.revision)}; the work tree is at"
            f" {_short(now.revision)}: plan again"
        )
    then, current = saved.worktree.uncommitted, now.uncommitted
    changed = sorted(
        path
        for path in set(then) | set(current)
        if path not in then or path not in current or then[path] != current[path]
    )
    if changed:
        raise StalePlanError(
            f"{saved.source} was planned with other uncommitted changes than the work tree has"
            f" now ({', '.join(changed)}): plan again"
        )


def check_selection(saved: SavedPlan, declared: Iterable[str]) -> None:
    """Refuse a selection naming a list that no file declares (before anything is read);
    `check_live` then holds the fingerprints to exactly the lists planned."""
    known = set(declared)
    named = set(saved.fingerprints) if saved.selection is None else set(saved.selection)
    unknown = sorted(named - known)
    if unknown:
        raise SavedPlanError(
            f"{saved.source} names lists no file in lists/ declares ({', '.join(unknown[:5])});"
            " it was not written by 'listsync plan' from these files; nothing was changed"
        )


def check_live(saved: SavedPlan, reading: Reading, key: bytes) -> None:
    """Refuse a plan whose lists, or whose domain, changed in Mailman since it was made."""
    if saved.domain_exists != reading.live.domain_exists:
        what = "created" if reading.live.domain_exists else "deleted"
        raise StalePlanError(
            f"stale plan: the domain {saved.domain} was {what} in Mailman since {saved.source}"
            " was made; plan again"
        )
    now = fingerprints(reading, key)
    if set(now) != set(saved.fingerprints):
        raise SavedPlanError(
            f"{saved.source} fingerprints other lists than the files declare;"
            " it was not written by 'listsync plan' from these files; nothing was changed"
        )
    stale = [name for name, recorded in sorted(saved.fingerprints.items()) if now[name] != recorded]
    if stale:
        shown = ", ".join(stale[:10]) + (f" and {len(stale) - 10} more" if len(stale) > 10 else "")
        raise StalePlanError(
            f"stale plan: {shown} changed in Mailman since {saved.source} was made; plan again"
        )


def _differences(recorded: Any, planned: Any) -> list[str]:
    found: list[str] = []
    if recorded["domain"] != planned["domain"]:
        found.append(f"the domain ({recorded['domain']!r}, not {planned['domain']!r})")
    if recorded["create_domain"] != planned["create_domain"]:
        found.append("whether the domain is created")
    then = {str(entry.get("name")): entry for entry in recorded["lists"]}
    now = {entry["name"]: entry for entry in planned["lists"]}
    if len(then) != len(recorded["lists"]):
        found.append("a list recorded twice")
    for name in sorted(set(then) | set(now)):
        if name not in now:
            found.append(f"{name} (recorded changes, none planned now)")
        elif name not in then:
            found.append(f"{name} (changes planned now, none recorded)")
        elif then[name] != now[name]:
            keys = ("fqdn", "action", "changes")
            fields = [key for key in keys if then[name].get(key) != now[name][key]]
            found.append(f"{name} ({' and '.join(fields) or 'its entry'} not as planned now)")
    return found


def check_commitment(saved: SavedPlan, replanned: Plan, key: bytes) -> None:
    """Refuse unless the re-plan is exactly the recorded plan: shown changes and digest."""
    planned = substance(redacted(replanned) if saved.redacted else replanned)
    differences = _differences(saved.shown, planned)
    if not differences and digest(replanned, key) != saved.digest:
        differences = ["its digest (a change's address or value)"]
    if differences:
        listed = "; ".join(differences[:10])
        more = f"; and {len(differences) - 10} more" if len(differences) > 10 else ""
        raise SavedPlanError(
            f"{saved.source} is not what the files at {_short(saved.worktree.revision)} and"
            f" Mailman give now: {listed}{more}. It was changed after 'listsync plan' wrote it"
            " (or written by another listsync); plan again. Nothing was changed"
        )
