"""Render a `Plan` for people and tools: text, Markdown, JSON.

Owns how a plan looks. One walk over the plan's changes (`change_lines`)
feeds the text and Markdown forms, so they never disagree; the JSON form is
the documented, stable shape (`format_version` 1, see README.md). Each
change's own lines, JSON and masked form are its kind's (`changes`). Every
form says explicitly when no changes are planned and ends with the counts.
Whatever a value holds (live values come from Mailman, commits from git), it
is printed through `listsync.escaping`: one line, no control character, and
in Markdown no syntax of its own.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import replace
from typing import Any, assert_never

from listsync.changes import (
    AddBan,
    AddMember,
    Change,
    CreateList,
    RemoveBan,
    RemoveMember,
    RemoveNonmember,
    ResourceAction,
    SetHeaderFilters,
    SetNonmember,
    SetTemplate,
    SubscribeMembers,
    UnsubscribeMember,
    UnsubscribeMembers,
    UpdateSettings,
    list_value,
    resource_change,
    value,
)
from listsync.escaping import code_span, fenced, json_text, markdown_text, visible
from listsync.plan import SYMBOL, Action, CommitInfo, ListPlan, Plan
from listsync.redaction import redact

FORMATS = ("text", "markdown", "json")
JSON_FORMAT_VERSION = 1
NO_CHANGES = "No changes. Mailman matches the files."


def redacted(plan: Plan) -> Plan:
    """The same plan with every address in its changes, commits, notes and scope masked."""
    lists = tuple(
        replace(
            lp,
            changes=tuple(c.redacted() for c in lp.changes),
            commit=None
            if lp.commit is None
            else CommitInfo(lp.commit.hash, redact(lp.commit.author), redact(lp.commit.subject)),
            roster_notes=tuple(redact(note) for note in lp.roster_notes),
        )
        for lp in plan.lists
    )
    return replace(
        plan,
        lists=lists,
        notes=tuple(redact(n) for n in plan.notes),
        warnings=tuple(redact(w) for w in plan.warnings),
        scope=redact(plan.scope),
        texts={url: redact(text) for url, text in plan.texts.items()},
        site_changes=tuple(c.redacted() for c in plan.site_changes),
    )


def change_lines(change: Change, *, texts: Mapping[str, str] | None = None) -> list[str]:
    """The lines of one change, each `visible`; a template's as a diff of its texts when
    `texts` has them."""
    return [visible(line) for line in change.lines(texts or {})]


DRIFT = "drift: not changed here; the apply after the merge repairs it"
HAND_CHANGE = "drift: Mailman was changed by hand; this puts back what the file says"


def attribution(lp: ListPlan) -> str:
    """Who asked for a list's changes: the last commit of its file, or the work tree."""
    if lp.drift:
        return DRIFT
    if lp.reverts_hand_change:
        return HAND_CHANGE
    if lp.uncommitted:
        return "uncommitted changes"
    if lp.commit is not None:
        return f"{lp.commit.short} {lp.commit.author}: {lp.commit.subject}"
    return ""


def list_heading(lp: ListPlan) -> str:
    if lp.action is Action.UNMANAGED:
        return f"{SYMBOL[lp.action]} {lp.fqdn} (unmanaged: in Mailman, in no file; left alone)"
    heading = f"{SYMBOL[lp.action]} {lp.fqdn} ({lp.action.value})"
    by = attribution(lp)
    return f"{heading}  \N{EM DASH} {by}" if by else heading


TemplateMove = tuple[str, str | None, str | None]  # a template's name, old URL, new URL


def first_showing(plan: Plan) -> dict[TemplateMove, str]:
    """Each template change of the plan, and the first list (in the order shown) making it:
    the later lists making the same change show its diff by reference, not again."""
    first: dict[TemplateMove, str] = {}
    for lp in _shown(plan):
        for change in lp.changes:
            if isinstance(change, SetTemplate):
                first.setdefault((change.name, change.existing, change.desired), lp.name)
    return first


def list_body(
    lp: ListPlan,
    texts: Mapping[str, str] | None = None,
    first: Mapping[TemplateMove, str] | None = None,
) -> list[str]:
    """A list's lines: its changes, then what is said of its members (`! `: refused).
    A template change an earlier list makes too (`first`) shows its heading only."""
    notes = [visible(("! " if lp.roster_refused else "# ") + note) for note in lp.roster_notes]
    return _change_body(lp, texts, first or {}) + notes


def _lines_of(
    change: Change, lp: ListPlan, texts: Mapping[str, str] | None, first: Mapping[TemplateMove, str]
) -> list[str]:
    lines = change_lines(change, texts=texts)
    if isinstance(change, SetTemplate) and len(lines) > 1:
        earlier = first.get((change.name, change.existing, change.desired), lp.name)
        if earlier != lp.name:
            return [visible(f"{lines[0]} (the same text change as {earlier}, above)")]
    return lines


def _change_body(
    lp: ListPlan, texts: Mapping[str, str] | None, first: Mapping[TemplateMove, str]
) -> list[str]:
    if lp.action is not Action.CREATE:
        return [line for change in lp.changes for line in _lines_of(change, lp, texts, first)]
    # A new list: its roster, then every setting once, with the value it ends with
    # (it is created locked down and opened up as its last step).
    final: dict[str, Any] = {}
    lines: list[str] = []
    for change in lp.changes:
        match change:
            case CreateList(settings):
                final.update(settings)
            case UpdateSettings(changes):
                final.update((c.key, c.desired) for c in changes)
            case SetTemplate():
                lines += _lines_of(change, lp, texts, first)
            case (
                AddMember()
                | RemoveMember()
                | AddBan()
                | RemoveBan()
                | SetNonmember()
                | SetHeaderFilters()
                | UnsubscribeMember()
                | RemoveNonmember()
                | SubscribeMembers()
                | UnsubscribeMembers()
            ):
                lines += change_lines(change, texts=texts)
            case _:
                assert_never(change)
    return lines + [visible(f"+ {key}: {value(final[key])}") for key in sorted(final)]


SITE_HEADING = "site (on no one list; after every list, and only if every list succeeded)"


def site_lines(plan: Plan) -> list[str]:
    """The lines of the plan's site changes, each `visible`."""
    return [visible(line) for change in plan.site_changes for line in change.lines()]


def _shown(plan: Plan) -> list[ListPlan]:
    return [lp for lp in plan.lists if lp.action is not Action.UNCHANGED or lp.roster_notes]


LINE_STYLES = (("+ ", "green"), ("~ ", "yellow"), ("- ", "red"), ("? ", "dim"), ("! ", "bold red"))


def line_style(line: str) -> str | None:
    """How a line of the text plan is coloured on a terminal: by what it does."""
    if line.startswith("warning:"):
        return "bold yellow"
    if line.startswith("note:"):
        return "cyan"
    body = line.lstrip()
    return next((style for prefix, style in LINE_STYLES if body.startswith(prefix)), None)


def to_text(plan: Plan) -> str:
    first = first_showing(plan)
    lines = [f"listsync plan for {plan.domain} ({plan.scope})"]
    lines += [f"note: {note}" for note in plan.notes]
    lines += [f"warning: {warning}" for warning in plan.warnings]
    lines.append("")
    if plan.create_domain:
        lines += [f"+ domain {plan.domain} (create)", ""]
    for lp in _shown(plan):
        lines.append(list_heading(lp))
        lines += [f"    {line}" for line in list_body(lp, plan.texts, first)]
    if plan.site_changes:
        lines.append(SITE_HEADING)
        lines += [f"    {line}" for line in site_lines(plan)]
    if not plan.has_changes:
        lines.append(NO_CHANGES)
    lines += ["", plan.summary()]
    return "\n".join(visible(line) for line in lines) + "\n"


def to_markdown(plan: Plan) -> str:
    first = first_showing(plan)
    lines = [f"### listsync plan for {code_span(plan.domain)} ({markdown_text(plan.scope)})", ""]
    if plan.notes:
        lines += [f"> **Note:** {markdown_text(note)}" for note in plan.notes] + [""]
    if plan.warnings:
        lines += [f"> **Warning:** {markdown_text(warning)}" for warning in plan.warnings] + [""]
    if plan.create_domain:
        lines += [f"The domain {code_span(plan.domain)} will be created.", ""]
    if not plan.has_changes:
        lines += [f"**{NO_CHANGES}**", ""]
    for lp in _shown(plan):
        lines.append(f"#### {code_span(lp.fqdn)}: {lp.action.value}")
        if lp.drift:
            lines += ["", f"_Drift: {DRIFT.removeprefix('drift: ')}._"]
        elif lp.reverts_hand_change:
            lines += ["", f"_Drift: {HAND_CHANGE.removeprefix('drift: ')}._"]
        elif lp.uncommitted:
            lines += ["", "_Uncommitted changes in the work tree._"]
        elif lp.commit is not None:
            lines += ["", f"{_markdown_commit(lp.commit)}"]
        body = list_body(lp, plan.texts, first)
        if lp.action is Action.UNMANAGED:
            lines += ["", "In Mailman, declared by no file: left alone.", ""]
        elif body:
            lines += ["", *fenced(body, "diff"), ""]
    if plan.site_changes:
        lines += [f"#### {markdown_text(SITE_HEADING)}", "", *fenced(site_lines(plan), "diff"), ""]
    lines += [f"**{plan.summary()}**"]
    return "\n".join(lines) + "\n"


def _markdown_commit(commit: CommitInfo) -> str:
    author, subject = markdown_text(commit.author), markdown_text(commit.subject)
    return f"Last commit {code_span(commit.short)} by {author}: {subject}"


def to_json_data(plan: Plan) -> dict[str, Any]:
    """The plan's JSON; `site_changes` only when it has some (every other plan's JSON is
    as it was before they existed); `resource_changes` always, the same changes flat
    (`resource_changes`), for policies (`plan_policy`)."""
    counts = plan.counts()
    data: dict[str, Any] = {
        "format_version": JSON_FORMAT_VERSION,
        "domain": plan.domain,
        "scope": plan.scope,
        "managed": plan.managed,
        "notes": list(plan.notes),
        "warnings": list(plan.warnings),
        "create_domain": plan.create_domain,
        "has_changes": plan.has_changes,
        "templates": {
            url: plan.texts[url] for url in sorted(plan.template_urls()) if url in plan.texts
        },
        "summary": {action.value: counts[action] for action in Action},
        "lists": [
            {
                "name": lp.name,
                "fqdn": lp.fqdn,
                "action": lp.action.value,
                "changes": [c.as_json() for c in lp.changes],
                "commit": _commit_json(lp.commit),
                "uncommitted": lp.uncommitted,
                "drift": lp.drift,
            }
            | (
                {"roster_notes": list(lp.roster_notes), "roster_refused": lp.roster_refused}
                if lp.roster_notes
                else {}
            )
            | ({"reverts_hand_change": True} if lp.reverts_hand_change else {})
            for lp in plan.lists
        ],
    }
    if plan.site_changes:
        data["site_changes"] = [c.as_json() for c in plan.site_changes]
    data["resource_changes"] = resource_changes(plan)
    return data


LIFECYCLE: dict[Action, tuple[ResourceAction, bool, bool]] = {
    Action.DISABLE: ("disable", True, False),
    Action.ENABLE: ("enable", False, True),
}
"""A list's own change for the actions no change kind stands for: enabled before, after."""


def resource_changes(plan: Plan) -> list[dict[str, Any]]:
    """The plan as a flat list of `{address, type, change: {actions, before, after}}`
    (Terraform's `resource_changes`), in the order of the plan: each list's own
    change (disable, enable; create is `CreateList`'s), then each of its changes'
    (`ChangeKind.resource_changes`), then the site's. Shaped from the same changes as
    `lists`, so a redacted plan's are masked alike and name no one `lists` does not."""
    entries: list[dict[str, Any]] = []
    for lp in plan.lists:
        if lp.action in LIFECYCLE:
            action, before, after = LIFECYCLE[lp.action]
            entries.append(
                resource_change(
                    lp.fqdn,
                    "listsync_list",
                    action,
                    list_value(lp.fqdn, before),
                    list_value(lp.fqdn, after),
                )
            )
        for change in lp.changes:
            entries += change.resource_changes(lp.fqdn)
    for site_change in plan.site_changes:
        entries += site_change.resource_changes()
    return entries


def _commit_json(commit: CommitInfo | None) -> dict[str, str] | None:
    if commit is None:
        return None
    return {"hash": commit.hash, "author": commit.author, "subject": commit.subject}


def to_json(plan: Plan) -> str:
    return json_text(to_json_data(plan), indent=2) + "\n"


def render_plan(plan: Plan, fmt: str) -> str:
    renderers = {"text": to_text, "markdown": to_markdown, "json": to_json}
    return renderers[fmt](plan)
