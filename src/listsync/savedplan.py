"""Saved plans: a plan written to a file with what `apply FILE` needs to trust it later.

Owns the saved-plan document, the parser back into a `Plan`, and the
checks that make a saved plan safe to apply, as Terraform's saved plans
are. The document is the JSON plan (`format_version` 1, the shape
`render.to_json_data` documents) with one more member, `saved`:

    {"revision": "<full hash of HEAD>" | null,
     "uncommitted": {"lists/x.yaml": "sha256:..." | null, ...},
     "domain_exists": true,
     "fingerprints": {"tor-dev": "sha256:...", ...}}

`fingerprints` covers every list the plan changes: a hash of exactly what
the plan compared, the desired keys' live values, the owners, the
moderators and the managed ban (`absent` for a list still to create). A
saved plan is applied as recorded, never re-planned; it is refused when
the work tree is at another revision or has other uncommitted changes than
when it was planned, or when Mailman changed a list it touches.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from listsync import mailman_settings
from listsync.errors import ListsyncError
from listsync.plan import (
    Action,
    AddBan,
    AddMember,
    Change,
    CommitInfo,
    CreateList,
    ListPlan,
    Plan,
    RemoveBan,
    RemoveMember,
    Role,
    SettingChange,
    Stage,
    UpdateSettings,
)
from listsync.policy import DISABLE_BAN, ListState
from listsync.reconcile import Reading
from listsync.render import JSON_FORMAT_VERSION, to_json_data

ABSENT = "absent"


class SavedPlanError(ListsyncError):
    """A file that is not a saved plan listsync can read."""


class StalePlanError(ListsyncError):
    """A saved plan that no longer matches the work tree or Mailman."""


@dataclass(frozen=True, slots=True)
class WorkTree:
    """The git facts a saved plan records and `apply` checks again."""

    revision: str | None
    uncommitted: Mapping[str, str | None]


@dataclass(frozen=True, slots=True)
class SavedPlan:
    plan: Plan
    worktree: WorkTree
    domain_exists: bool
    fingerprints: Mapping[str, str]

    @property
    def touched(self) -> tuple[str, ...]:
        """The lists the plan changes, whose live state it fingerprinted."""
        return tuple(sorted(self.fingerprints))


# -- fingerprints -------------------------------------------------------------------


def _sha256(data: bytes) -> str:
    return "sha256:" + hashlib.sha256(data).hexdigest()


def fingerprint(desired: ListState, existing: ListState | None) -> str:
    """A hash of the live state the plan compared for one list."""
    if existing is None:
        return ABSENT
    settings = existing.settings
    compared = {
        "settings": {k: settings[k] for k in sorted(desired.settings) if k in settings},
        "owners": sorted(existing.owners),
        "moderators": sorted(existing.moderators),
        "bans": sorted(existing.bans & {DISABLE_BAN}),
    }
    canonical = json.dumps(compared, sort_keys=True, separators=(",", ":"), ensure_ascii=False)
    return _sha256(canonical.encode())


def fingerprints(reading: Reading, names: Iterable[str]) -> dict[str, str]:
    return {
        name: fingerprint(reading.desired[name], reading.live.lists.get(name))
        for name in sorted(names)
    }


def file_hashes(root: Path, paths: Iterable[str]) -> dict[str, str | None]:
    """Content hashes of site-relative files (None for a deleted one)."""
    hashes: dict[str, str | None] = {}
    for path in sorted(paths):
        file = root / path
        hashes[path] = _sha256(file.read_bytes()) if file.is_file() else None
    return hashes


# -- the document ---------------------------------------------------------------------


def touched_lists(plan: Plan) -> tuple[str, ...]:
    return tuple(lp.name for lp in plan.lists if lp.changes)


def save(
    plan: Plan, reading: Reading, revision: str | None, root: Path, uncommitted: Iterable[str]
) -> SavedPlan:
    """A plan with what `apply FILE` checks: the work tree, and the live state it compared."""
    return SavedPlan(
        plan=plan,
        worktree=WorkTree(revision, file_hashes(root, uncommitted)),
        domain_exists=reading.live.domain_exists,
        fingerprints=fingerprints(reading, touched_lists(plan)),
    )


def to_document(saved: SavedPlan) -> dict[str, Any]:
    data = to_json_data(saved.plan)
    data["saved"] = {
        "revision": saved.worktree.revision,
        "uncommitted": dict(saved.worktree.uncommitted),
        "domain_exists": saved.domain_exists,
        "fingerprints": dict(saved.fingerprints),
    }
    return data


def dumps(saved: SavedPlan) -> str:
    return json.dumps(to_document(saved), indent=2, ensure_ascii=False) + "\n"


def _role(value: Any) -> Role:
    return Role(str(value))


def _locked_down(data: Mapping[str, Any]) -> tuple[tuple[str, Any], ...]:
    """A new list's first settings: always `LOCKED_DOWN`, plus only a valid mitigation."""
    settings: dict[str, Any] = dict(mailman_settings.LOCKED_DOWN)
    for key, value in data.items():
        if key in mailman_settings.LOCKED_DOWN and value == mailman_settings.LOCKED_DOWN[key]:
            continue
        if key in mailman_settings.MITIGATION and mailman_settings.check_value(key, value) is None:
            settings[key] = value
            continue
        raise ValueError(f"a new list is not created with {key}: {value!r}")
    return tuple(settings.items())


def _change(data: Mapping[str, Any]) -> Change:
    kind = data["type"]
    if kind == "create_list":
        return CreateList(_locked_down(data.get("locked_down", {})))
    if kind == "add_member":
        return AddMember(_role(data["role"]), str(data["address"]))
    if kind == "remove_member":
        return RemoveMember(_role(data["role"]), str(data["address"]))
    if kind == "update_settings":
        return UpdateSettings(
            tuple(
                SettingChange(str(s["key"]), s["existing"], s["desired"]) for s in data["settings"]
            ),
            Stage(data.get("stage", Stage.CONFIGURE.value)),
        )
    if kind == "add_ban":
        return AddBan(str(data["pattern"]))
    if kind == "remove_ban":
        return RemoveBan(str(data["pattern"]))
    raise ValueError(f"unknown change type {kind!r}")


def _commit(data: Any) -> CommitInfo | None:
    if data is None:
        return None
    return CommitInfo(str(data["hash"]), str(data["author"]), str(data["subject"]))


def plan_from_json_data(data: Mapping[str, Any]) -> Plan:
    """The `Plan` a JSON plan (`format_version` 1) describes."""
    lists = tuple(
        ListPlan(
            name=str(entry["name"]),
            fqdn=str(entry["fqdn"]),
            action=Action(entry["action"]),
            changes=tuple(_change(c) for c in entry["changes"]),
            commit=_commit(entry.get("commit")),
            uncommitted=bool(entry.get("uncommitted", False)),
        )
        for entry in data["lists"]
    )
    return Plan(
        domain=str(data["domain"]),
        create_domain=bool(data["create_domain"]),
        lists=lists,
        scope=str(data["scope"]),
        managed=int(data.get("managed", 0)),
        notes=tuple(str(n) for n in data.get("notes", ())),
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
    saved = data.get("saved")
    if not isinstance(saved, dict):
        raise SavedPlanError(
            f"{source} is a plan but not a saved one (no revision, no fingerprints):"
            " write it with 'listsync plan --out FILE.json'"
        )
    try:
        plan = plan_from_json_data(data)
        worktree = WorkTree(
            revision=None if saved["revision"] is None else str(saved["revision"]),
            uncommitted={str(k): v for k, v in dict(saved["uncommitted"]).items()},
        )
        result = SavedPlan(
            plan=plan,
            worktree=worktree,
            domain_exists=bool(saved["domain_exists"]),
            fingerprints={str(k): str(v) for k, v in dict(saved["fingerprints"]).items()},
        )
    except (KeyError, TypeError, ValueError) as exc:
        raise SavedPlanError(f"{source} is not a valid saved plan: {exc!r}") from None
    missing = sorted(set(touched_lists(plan)) - set(result.fingerprints))
    if missing:
        raise SavedPlanError(f"{source} has no fingerprint for {', '.join(missing)}")
    return result


def load(path: Path) -> SavedPlan:
    return loads(path.read_text(encoding="utf-8"), str(path))


# -- the checks -----------------------------------------------------------------------


def _short(revision: str | None) -> str:
    return "no git revision" if revision is None else f"revision {revision[:7]}"


def check_worktree(saved: SavedPlan, now: WorkTree, source: str) -> None:
    """Refuse a plan made at another revision or from other uncommitted files."""
    if saved.worktree.revision != now.revision:
        raise StalePlanError(
            f"{source} was planned at {_short(saved.worktree.revision)}; the work tree is at"
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
            f"{source} was planned with other uncommitted changes than the work tree has now"
            f" ({', '.join(changed)}): plan again"
        )


def check_live(saved: SavedPlan, reading: Reading, source: str) -> None:
    """Refuse a plan whose lists changed in Mailman since it was made."""
    stale = [
        name
        for name, recorded in sorted(saved.fingerprints.items())
        if name not in reading.desired
        or fingerprint(reading.desired[name], reading.live.lists.get(name)) != recorded
    ]
    if saved.domain_exists != reading.live.domain_exists:
        what = "created" if reading.live.domain_exists else "deleted"
        raise StalePlanError(
            f"stale plan: the domain {saved.plan.domain} was {what} in Mailman since {source}"
            " was made; plan again"
        )
    if stale:
        raise StalePlanError(
            f"stale plan: {', '.join(stale)} changed in Mailman since {source} was made; plan again"
        )
