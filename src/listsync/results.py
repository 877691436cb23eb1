"""Results: what `validate`, `apply` and `import` did, as JSON for bots and pipelines and
as lines for people.

Owns the machine-readable results (`--format json`), each a versioned
document (`format_version` 1, documented in README.md) like the plan JSON:
a bot that posts a merge-request note or opens a drift issue reads these
instead of scraping text. Fields are only ever added within a version.
Written with `escaping.json_text`: no control or bidi character is printed raw.
Beside each document, the lines a person reads for the same result (the
command prints them through `escaping.visible` with secrets scrubbed).
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import TYPE_CHECKING, Any

from listsync.changes import ROSTER_CHANGES
from listsync.errors import Problem
from listsync.escaping import json_text, visible
from listsync.render import change_lines, to_json_data

if TYPE_CHECKING:
    from listsync.apply import ApplyResult, ListResult
    from listsync.importer import ImportResult
    from listsync.plan import Plan

FORMAT_VERSION = 1


def dumps(document: dict[str, Any]) -> str:
    return json_text(document, indent=2) + "\n"


def problem_json(problem: Problem) -> dict[str, Any]:
    return {
        "path": problem.path,
        "line": problem.line,
        "column": problem.col,
        "field": problem.field,
        "message": " ".join(problem.message.split()),
        "severity": problem.severity.value,
    }


def validation(valid_files: int, problems: Iterable[Problem]) -> dict[str, Any]:
    found = [problem_json(p) for p in problems]
    errors = sum(1 for p in found if p["severity"] == "error")
    return {
        "format_version": FORMAT_VERSION,
        "valid_files": valid_files,
        "errors": errors,
        "warnings": len(found) - errors,
        "problems": found,
    }


def applied(plan: Plan, result: ApplyResult | None) -> dict[str, Any]:
    """The plan as applied (its JSON) and, per list with changes, what became of it.

    `result` is None when there was nothing to apply.
    """
    lists = []
    for item in result.results if result is not None else ():
        lists.append(
            {
                "name": item.name,
                "ok": item.ok,
                "started": item.started,
                "applied_changes": item.applied,
                "error": item.error,
                "failed_change": None
                if item.failed_change is None
                else item.failed_change.as_json(),
                "left_locked_down": item.left_locked_down,
            }
        )
    document = {
        "format_version": FORMAT_VERSION,
        "ok": result is None or result.ok,
        "stopped": None if result is None else result.stopped,
        "applied": sum(1 for item in lists if item["ok"]),
        "failed": sum(1 for item in lists if item["started"] and not item["ok"]),
        "not_started": sum(1 for item in lists if not item["started"]),
        "lists": lists,
        "plan": to_json_data(plan),
    }
    if result is not None and result.site:  # only then: every other result is as it was
        document["site_changes"] = [
            {
                "change": item.change.as_json(),
                "done": item.done,
                "started": item.started,
                "error": item.error,
            }
            for item in result.site
        ]
    return document


def imported(result: ImportResult) -> dict[str, Any]:
    return {
        "format_version": FORMAT_VERSION,
        "domain": result.domain,
        "domain_exists": result.domain_exists,
        "ok": result.ok,
        "members_dir": result.members_dir,
        "lists": [
            {
                "name": item.name,
                "path": item.path,
                "outcome": item.outcome.value,
                "reason": item.reason,
                "details": list(item.details),
                "members": None
                if item.members is None
                else {
                    "count": item.members.count,
                    "roster": item.members.roster,
                    "note": item.members.note,
                },
                "template_moves": [{"name": name, "url": url} for name, url in item.moves],
            }
            for item in result.lists
        ],
        "policy": [{"kind": b.kind, "lists": list(b.names)} for b in result.policy],
    }


def _failed_what(failure: ListResult) -> str:
    """The change a list failed at, as the plan words it (a roster's count, not every
    address)."""
    change = failure.failed_change
    if change is None:
        return ""
    shown = change_lines(change)
    if isinstance(change, ROSTER_CHANGES):
        shown = shown[:1]
    return "; ".join(shown) or type(change).__name__


def applied_lines(result: ApplyResult) -> list[str]:
    """What was applied, what failed and why, what was not started; the summary last."""
    from listsync.apply import INTERRUPTED

    lines: list[str] = []
    started_failures = [r for r in result.failed if r.started]
    # Lists that failed alike before any change of theirs (one cause, e.g. a text not
    # served, or Mailman refusing the same write) are named on one line.
    alike: dict[tuple[str, str], list[str]] = {}
    for failure in started_failures:
        if failure.applied == 0:
            alike.setdefault((str(failure.error), _failed_what(failure)), []).append(failure.name)
    grouped = {key: alike_names for key, alike_names in alike.items() if len(alike_names) > 1}
    for (error, what), alike_names in grouped.items():
        named = ", ".join(alike_names)
        lines.append(f"failed: {named}: {error}" + (f" [{what}]" if what else ""))
    for failure in started_failures:
        what = _failed_what(failure)
        if failure.applied == 0 and (str(failure.error), what) in grouped:
            continue
        midway = failure.stopped_midway and failure.applied
        done = f" after {failure.applied} change(s)" if midway else ""
        lines.append(
            f"failed: {failure.name}{done}: {failure.error}" + (f" [{what}]" if what else "")
        )
        if failure.skipped and not failure.stopped_midway and failure.applied:
            lines.append(f"    its other {failure.applied} change(s) were applied")
        if not failure.stopped_midway:
            continue
        if failure.left_locked_down:
            lines.append(
                f"    {failure.name} was created but not finished: it is left locked down"
                " (not advertised, emergency moderation, no archive, subscriptions"
                " moderated); the next apply finishes it"
            )
        elif failure.creating:
            lines.append(
                f"    if Mailman made {failure.name}, it is in its private style (not advertised,"
                " subscriptions moderated, non-members held) with no owner or member;"
                " the next apply finishes it"
            )
    if result.stopped == INTERRUPTED:
        lines.append("interrupted: no further list was started")
    if result.not_started:
        waiting = ", ".join(r.name for r in result.not_started)
        lines.append(f"not started ({result.stopped}): {waiting}")
    if result.failed:
        lines.append(f"applied: {', '.join(r.name for r in result.succeeded) or 'none'}")
        lines.append("Run 'listsync plan' to see what remains; 'listsync apply' finishes it.")
    for item in result.site:
        what = "; ".join(visible(line) for line in item.change.lines())
        if item.done:
            lines.append(f"done (site): {what}")
        elif item.started:
            lines.append(f"failed (site): {item.error} [{what}]")
        else:
            lines.append(f"{item.error} [{what}]")
    names = ", ".join(r.name for r in started_failures)
    summary = f"Applied {len(result.succeeded)} list(s), {len(started_failures)} failed"
    summary += f": {names}" if names else ""
    if result.not_started:
        summary += f", {len(result.not_started)} not started"
    if result.site:
        finished = sum(1 for item in result.site if item.done)
        summary += f"; {finished} of {len(result.site)} site change(s) done"
    return [*lines, summary + "."]


def imported_lines(result: ImportResult) -> list[tuple[str, bool]]:
    """Each list imported, skipped or failed, and the summary: (line, for stderr)."""
    from listsync.importer import Outcome

    lines: list[tuple[str, bool]] = []
    for item in result.lists:
        if item.outcome is Outcome.FAILED:
            lines.append((f"failed: {item.name}: {item.reason}", True))
            lines += [(f"    {line}", True) for line in item.details]
        else:
            reason = f": {item.reason}" if item.reason else ""
            lines.append((f"{item.outcome.value} {item.path}{reason}", False))
            if item.members is not None:
                lines.append((f"    members: {item.members.note}", False))
            lines += [
                (
                    f"    template {name}: served from {url}, not from templates_url: plan"
                    " points it at the site's URL for the same text (publish the texts first)",
                    False,
                )
                for name, url in item.moves
            ]
    if not result.lists:
        if result.domain_exists:
            summary = f"Nothing to import: every list of {result.domain} in Mailman has a file."
        else:
            summary = f"Nothing to import: Mailman has no domain {result.domain}."
        return [*lines, (summary, False)]
    written = len(result.named(Outcome.WRITTEN))
    skipped = len(result.named(Outcome.SKIPPED))
    failed = [item.name for item in result.named(Outcome.FAILED)]
    summary = (
        f"Imported {written} list(s) from {result.domain}, {skipped} skipped, "
        f"{len(failed)} failed" + (f": {', '.join(failed)}" if failed else "") + "."
    )
    lines.append((summary, False))
    moving = [item.name for item in result.lists if item.moves]
    if moving:
        lines.append(
            (
                f"{len(moving)} list(s) have templates served from elsewhere ({', '.join(moving)}):"
                " the first plan moves them to templates_url, each with the same text.",
                False,
            )
        )
    if result.policy:  # warnings, as validate's: on stderr
        lines.append(("Kept as in Mailman, against the site's policy (change their files):", True))
        lines += [(f"    {b.kind}: {', '.join(b.names)}", True) for b in result.policy]
    rosters = sum(1 for item in result.lists if item.members and item.members.roster)
    if result.members_dir is None or not rosters:
        return lines
    about_rosters = (
        f"Wrote {rosters} roster file(s) in {result.members_dir}: personal data, never to be"
        " committed to a public repository. Their lists have the default 'membership:"
        " additive': apply unsubscribes only whom a roster later drops, never who joined"
        " by themselves; 'membership: exact' makes a roster the whole list."
    )
    return [*lines, (about_rosters, False)]
