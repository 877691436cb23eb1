"""How `person show` prints where people are: text, Markdown or JSON (`format_version` 1).

Owns the output of `listsync person show` and its redaction. Each address
asked about (the subject) is shown as given to Mailman; every other address
(the user's other addresses, ban patterns other than the subject's own
address, what a difference quotes) follows the site's redaction. Values come
from Mailman and the files: every form prints them through `listsync.escaping`.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from typing import Any

from listsync.escaping import code_span, json_text, markdown_text, visible
from listsync.people import Ban, Directory, Membership, Mention, Whereabouts
from listsync.redaction import redact

FORMAT_VERSION = 1
FORMATS = ("text", "markdown", "json")
SCOPE = "server"  # every list of every domain the core serves


@dataclass(frozen=True, slots=True)
class Showing:
    """What `person show` found, and what finding it cost."""

    domain: str  # the site's, whose list files were read
    people: tuple[Whereabouts, ...]
    lists_on_server: int
    list_bans_read: bool  # every list's bans were read (not --no-bans)
    requests: int  # sent to Mailman for the whole run


def redacted(showing: Showing, keep: frozenset[str] = frozenset()) -> Showing:
    """`showing` with every address masked but each subject's own (and those in `keep`:
    the lists' posting addresses, which differences name)."""

    def one(person: Whereabouts) -> Whereabouts:
        kept = {person.address, *keep}
        return replace(
            person,
            bans=tuple(replace(ban, pattern=redact(ban.pattern, kept)) for ban in person.bans),
            differences=tuple(redact(text, kept) for text in person.differences),
            other_addresses=tuple(redact(other) for other in person.other_addresses),
        )

    return replace(showing, people=tuple(map(one, showing.people)))


def _place(m: Membership) -> str:
    """What kind of list and what the address has there, in words."""
    words = ["managed" if m.managed else "unmanaged", "public" if m.public else "private"]
    if m.delivery_mode is not None:
        words.append(f"delivery {m.delivery_mode}, {m.delivery_status or 'status unknown'}")
    if m.moderation_action is not None:
        words.append(f"action {m.moderation_action}")
    return "; ".join(words)


def _ban_where(ban: Ban) -> str:
    return "site-wide" if ban.fqdn is None else ban.fqdn


def _mention(m: Mention) -> str:
    if m.field == "members_from":
        return f"{m.path}:{m.line}: roster file (members_from) of {m.list_name}"
    return f"{m.path}:{m.line}: {m.field} of {m.list_name}"


def _directory(d: Directory) -> str:
    return f"{d.fqdn}: drawn from LDAP ({d.url}): remove them from the directory group"


def cost(showing: Showing) -> str:
    """The footer: what was read, and what reading it cost."""
    n = showing.lists_on_server
    bans = (
        f"bans: 1 site-wide + {n} per-list requests (1 + N for N lists)"
        if showing.list_bans_read
        else "bans: site-wide only (--no-bans: per-list bans not read)"
    )
    return (
        f"{showing.requests} request(s) to Mailman for {len(showing.people)} address(es)"
        f" on {n} list(s); {bans}"
    )


def _scope(showing: Showing) -> str:
    return (
        f"Every list on the server (every domain); list files of {showing.domain}."
        " A user's other addresses are listed, not searched: name them too to see them."
    )


def _sections(person: Whereabouts) -> list[tuple[str, list[str]]]:
    return [
        (
            "In Mailman",
            [f"{m.role:<9} {m.fqdn}  ({_place(m)})" for m in person.memberships],
        ),
        ("Banned", [f"{_ban_where(b)}: {b.pattern}" for b in person.bans]),
        ("Named in list files", [_mention(m) for m in person.mentions]),
        ("Members by LDAP (not searched)", [_directory(d) for d in person.directories]),
        ("Files and Mailman differ", list(person.differences)),
        ("Same person, other addresses (not searched)", list(person.other_addresses)),
    ]


def to_text(showing: Showing) -> str:
    lines = [_scope(showing), ""]
    for person in showing.people:
        lines.append(person.address)
        for title, rows in _sections(person):
            lines.append(f"  {title}: {len(rows) or 'none'}")
            lines += [f"    {row}" for row in rows]
        lines.append("")
    lines.append(cost(showing))
    return "\n".join(visible(line) for line in lines) + "\n"


def to_markdown(showing: Showing) -> str:
    lines = [markdown_text(_scope(showing)), ""]
    for person in showing.people:
        lines += [f"### {code_span(person.address)}", ""]
        for title, rows in _sections(person):
            lines.append(f"#### {markdown_text(title)}: {len(rows) or 'none'}")
            lines.append("")
            if rows:
                lines += [f"- {markdown_text(row)}" for row in rows]
                lines.append("")
    lines.append(f"_{markdown_text(cost(showing))}_")
    return "\n".join(lines) + "\n"


def _membership_json(m: Membership) -> dict[str, Any]:
    return {
        "list": m.fqdn,
        "role": m.role.value,
        "address": m.address,
        "managed": m.managed,
        "public": m.public,
        "delivery_mode": m.delivery_mode,
        "delivery_status": m.delivery_status,
        "moderation_action": m.moderation_action,
    }


def to_json_data(showing: Showing) -> dict[str, Any]:
    return {
        "format_version": FORMAT_VERSION,
        "scope": SCOPE,
        "domain": showing.domain,
        "people": [
            {
                "address": person.address,
                "memberships": [_membership_json(m) for m in person.memberships],
                "bans": [{"list": b.fqdn, "pattern": b.pattern} for b in person.bans],
                "mentions": [
                    {"list": m.list_name, "field": m.field, "path": m.path, "line": m.line}
                    for m in person.mentions
                ],
                "differences": list(person.differences),
                "other_addresses": list(person.other_addresses),
                "directories": [{"list": d.fqdn, "url": d.url} for d in person.directories],
            }
            for person in showing.people
        ],
        "cost": {
            "requests": showing.requests,
            "lists_on_server": showing.lists_on_server,
            "list_bans_read": showing.list_bans_read,
        },
    }


def render(showing: Showing, fmt: str) -> str:
    if fmt == "json":
        return json_text(to_json_data(showing), indent=2) + "\n"
    return to_markdown(showing) if fmt == "markdown" else to_text(showing)
