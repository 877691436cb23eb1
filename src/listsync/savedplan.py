"""Saved plans: a plan written to a file as a commitment `apply FILE` holds it to.

Owns the saved-plan document and the checks that make it safe to apply.
A saved plan is never carried out as written. `apply FILE` plans the
lists it covered again, from the files at the recorded revision and from
Mailman as it is now, and applies that re-plan only when it is exactly
what the file recorded, as a Terraform saved plan does. Nothing in the
file decides what is written: not a list's address, its action, the scope
or the blast radius. The document is the JSON plan (`format_version` 1,
see `render.to_json_data`) plus `saved`:

    {"commitment": 2,
     "revision": "<full hash of HEAD>" | null,
     "uncommitted": ["lists/x.yaml", ...],
     "selection": null | ["tor-dev", ...],
     "domain_exists": true,
     "redacted": false}

`selection` names the lists planned (null: every list). The commitment
is the recorded changes themselves: the re-plan must give them again,
list by list, whatever else changed in Mailman meanwhile (a non-member
who posted, a setting no file manages). With `redacted` the recorded
changes have their addresses masked and the re-plan is compared masked:
the addresses the files declare are pinned by the revision, and a live
address is only ever removed, which the files at that revision ask for.

The file holds no hash of anything secret or personal: no fingerprint
of the live state, no digest of the changes, nothing keyed with a
password. Whoever reads a published plan learns the revision, the names
of the lists planned and the changes as shown, and cannot test a guess
of an address or a password against it. (Format 1, from earlier
listsync, keyed its hashes with the REST password: it is refused.)
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from listsync.errors import ListsyncError
from listsync.plan import Plan
from listsync.reconcile import Reading
from listsync.render import JSON_FORMAT_VERSION, redacted, to_json_data
from listsync.targets import domain_part

COMMITMENT = 2
"""The version of `saved`: 2 holds no hash (1 keyed its hashes with the REST password)."""


class SavedPlanError(ListsyncError):
    """A file that is not a saved plan listsync can read, or one it will not apply."""


class StalePlanError(ListsyncError):
    """A saved plan that no longer matches the work tree or Mailman."""


@dataclass(frozen=True, slots=True)
class WorkTree:
    """The git facts a saved plan records and `apply` checks again."""

    revision: str | None
    uncommitted: tuple[str, ...]


@dataclass(frozen=True, slots=True)
class SavedPlan:
    """What a saved-plan file records; none of it is applied as such."""

    source: str
    domain: str
    worktree: WorkTree
    selection: tuple[str, ...] | None
    domain_exists: bool
    redacted: bool
    shown: Any  # the recorded changes, as `substance` gives them (masked when redacted)
    removal: Any = None  # a person removal's address, options and file edits


def _canonical(data: Any) -> bytes:
    return json.dumps(data, sort_keys=True, separators=(",", ":"), ensure_ascii=False).encode()


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
                "changes": [c.as_json() for c in lp.changes],
            }
            for lp in plan.lists
            if lp.changes
        ],
    }
    if plan.site_changes:
        data["site_changes"] = [change.as_json() for change in plan.site_changes]
    normal: dict[str, Any] = json.loads(_canonical(data))
    return normal


# -- the document ---------------------------------------------------------------------


def dumps(
    plan: Plan,
    reading: Reading,
    selection: Iterable[str] | None,
    worktree: WorkTree,
    *,
    redact: bool,
) -> str:
    """The saved-plan document of `plan`; its changes' addresses masked with `redact`."""
    data = to_json_data(redacted(plan) if redact else plan)
    data["saved"] = {
        "commitment": COMMITMENT,
        "revision": worktree.revision,
        "uncommitted": sorted(worktree.uncommitted),
        "selection": None if selection is None else sorted(selection),
        "domain_exists": reading.live.domain_exists,
        "redacted": redact,
    }
    return json.dumps(data, indent=2, ensure_ascii=False) + "\n"


def _str(value: Any, what: str) -> str:
    if not isinstance(value, str):
        raise ValueError(f"{what} is not a string")
    return value


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
    if data.get("site_changes"):
        recorded["site_changes"] = data["site_changes"]
    return json.loads(_canonical(recorded))


def _parse(data: Mapping[str, Any], source: str) -> SavedPlan:
    saved = data["saved"]
    uncommitted = saved["uncommitted"]
    if not isinstance(uncommitted, list):
        raise ValueError("uncommitted is not a list")
    selection = saved["selection"]
    if selection is not None and not isinstance(selection, list):
        raise ValueError("selection is not a list")
    redact = saved["redacted"]
    if not isinstance(redact, bool) or not isinstance(saved["domain_exists"], bool):
        raise ValueError("redacted and domain_exists must be true or false")
    return SavedPlan(
        source=source,
        domain=_str(data["domain"], "domain"),
        worktree=WorkTree(
            None if saved["revision"] is None else _str(saved["revision"], "revision"),
            tuple(sorted(_str(path, "a path") for path in uncommitted)),
        ),
        selection=None
        if selection is None
        else tuple(_str(name, "a list name") for name in selection),
        domain_exists=saved["domain_exists"],
        redacted=redact,
        shown=_shown(data),
        removal=data.get("person_removal"),
    )


def loads(text: str, source: str = "the plan", domain: str | None = None) -> SavedPlan:
    """Parse a saved-plan document (its part for `domain`, in a plan of several domains);
    `SavedPlanError` says what is wrong with it."""
    try:
        data = domain_part(json.loads(text), domain, source)
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
            f"{source} is a plan but not a saved one (no revision):"
            " write it with 'listsync plan --out FILE.json' against Mailman itself"
        )
    if saved.get("commitment") != COMMITMENT:
        raise SavedPlanError(
            f"{source} was saved by an earlier listsync (its hashes were keyed with the REST"
            " password, which made the file a way to test guesses of it): plan again;"
            " nothing was changed"
        )
    try:
        return _parse(data, source)
    except (KeyError, TypeError, ValueError, AttributeError) as exc:
        raise SavedPlanError(f"{source} is not a valid saved plan: {exc!r}") from None


def load(path: Path, domain: str | None = None) -> SavedPlan:
    return loads(path.read_text(encoding="utf-8"), str(path), domain)


# -- the checks, in the order apply makes them ------------------------------------------


def _short(revision: str | None) -> str:
    return "no git revision" if revision is None else f"revision {revision[:7]}"


def check_worktree(saved: SavedPlan, now: WorkTree) -> None:
    """Refuse a plan made at another revision or with other files uncommitted (what the
    uncommitted files say is held by the re-plan: `check_replan`)."""
    if saved.worktree.revision != now.revision:
        raise StalePlanError(
            f"{saved.source} was planned at {_short(saved.worktree.revision)}; the work tree is at"
            f" {_short(now.revision)}: plan again"
        )
    changed = sorted(set(saved.worktree.uncommitted) ^ set(now.uncommitted))
    if changed:
        raise StalePlanError(
            f"{saved.source} was planned with other uncommitted changes than the work tree has"
            f" now ({', '.join(changed)}): plan again"
        )


def check_selection(saved: SavedPlan, declared: Iterable[str]) -> None:
    """Refuse a selection naming a list that no file declares (before anything is read)."""
    known = set(declared)
    named = set() if saved.selection is None else set(saved.selection)
    recorded = {str(entry.get("name")) for entry in saved.shown["lists"]}
    unknown = sorted((named | recorded) - known)
    if unknown:
        raise SavedPlanError(
            f"{saved.source} names lists no file in lists/ declares ({', '.join(unknown[:5])});"
            " it was not written by 'listsync plan' from these files; nothing was changed"
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
    if recorded.get("site_changes") != planned.get("site_changes"):
        found.append("the site changes (a site-wide ban, an erasure)")
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


def check_replan(saved: SavedPlan, reading: Reading, replanned: Plan) -> None:
    """Refuse unless the re-plan is exactly the recorded plan, list by list.

    The revision and the uncommitted files were checked already, so a
    difference means Mailman changed what the plan covers since it was made
    (a list changed by hand, the domain created or deleted), or the file was
    edited after `listsync plan` wrote it: either way, plan again.
    """
    if saved.domain_exists != reading.live.domain_exists:
        what = "created" if reading.live.domain_exists else "deleted"
        raise StalePlanError(
            f"stale plan: the domain {saved.domain} was {what} in Mailman since {saved.source}"
            " was made; plan again; nothing was changed"
        )
    planned = substance(redacted(replanned) if saved.redacted else replanned)
    differences = _differences(saved.shown, planned)
    if differences:
        listed = "; ".join(differences[:10])
        more = f"; and {len(differences) - 10} more" if len(differences) > 10 else ""
        raise StalePlanError(
            f"stale or edited plan: the files at {_short(saved.worktree.revision)} and Mailman"
            f" now give other changes than {saved.source} recorded: {listed}{more}. Mailman"
            " changed since the plan was made, or the file was changed after 'listsync plan'"
            " wrote it; plan again. Nothing was changed"
        )


# -- a person removal saved (`person remove --out FILE`, applied with `--plan FILE`) --------


def dumps_removal(
    plan: Plan,
    removal: Mapping[str, Any],
    worktree: WorkTree,
    *,
    redact: bool,
) -> str:
    """A saved person removal: the Mailman operations as a saved plan, plus
    `person_removal` (the address, the options and the file edits, as shown)."""
    data = to_json_data(redacted(plan) if redact else plan)
    data["saved"] = {
        "commitment": COMMITMENT,
        "revision": worktree.revision,
        "uncommitted": sorted(worktree.uncommitted),
        "selection": None,
        "domain_exists": True,
        "redacted": redact,
    }
    data["person_removal"] = dict(removal)
    return json.dumps(data, indent=2, ensure_ascii=False) + "\n"


def check_removal(saved: SavedPlan, replanned: Plan, edits: Any) -> None:
    """Refuse unless planning the removal again gives exactly the recorded operations and
    file edits."""
    planned = substance(redacted(replanned) if saved.redacted else replanned)
    differences = _differences(saved.shown, planned)
    if saved.removal.get("edits") != edits:
        differences.append("the list file edits")
    if differences:
        raise StalePlanError(
            f"stale or edited plan: the files at {_short(saved.worktree.revision)} and Mailman"
            f" now give another removal than {saved.source} recorded: {'; '.join(differences)}."
            " Plan again; nothing was changed"
        )
