"""The lifecycle report: inactive, ownerless and forgotten lists, and who runs what.

Owns what each section of `listsync report` holds and how it is shown (text,
Markdown tables, JSON `format_version` 1). It works from what a full plan
reads anyway (every managed list's settings, which carry `created_at` and
`last_post_at`, the domain listing with member counts, the rosters) plus the
settings and owners of the unmanaged lists. Sections:

* inactive: enabled managed lists whose last post (or, never posted, their
  creation) is older than `lifecycle.inactive_after`, oldest first, each with
  the one-line change that retires it;
* new without a post: enabled managed lists never posted to, created within
  that time;
* ownership: enabled lists with no owner, only the site's `disabled_owner`,
  or only owners that no list file mentions;
* unmanaged: lists in Mailman that no file declares, with age and activity;
* a person (`--owner`/`--moderator ADDRESS`), shown alone: the lists the
  address runs according to the files and according to Mailman, and where
  they differ (every place of a person: `listsync person show`).

Mailman keeps no count of rejected posts over REST, so a disabled list that
still receives (rejected) mail cannot be reported. Names, owners and reasons
come from Mailman: every form prints them through `listsync.escaping`.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, replace
from datetime import UTC, datetime, timedelta
from typing import Any

from listsync.addresses import split_address
from listsync.escaping import json_text, markdown_cell, markdown_text, visible
from listsync.mailman import MailmanBackend, list_id
from listsync.policy import ListState, may_be_retired
from listsync.reconcile import Reading, read_states
from listsync.redaction import redact
from listsync.site import Site

FORMAT_VERSION = 1
FORMATS = ("text", "markdown", "json")
SECTIONS = ("inactive", "new", "ownerless", "unmanaged")


@dataclass(frozen=True, slots=True)
class ListFacts:
    """What the report says of one list."""

    name: str
    managed: bool
    private: bool
    created_at: datetime | None
    last_post_at: datetime | None
    member_count: int | None
    owners: tuple[str, ...]

    @property
    def last_activity(self) -> datetime | None:
        return self.last_post_at or self.created_at


@dataclass(frozen=True, slots=True)
class OwnershipProblem:
    facts: ListFacts
    reason: str


@dataclass(frozen=True, slots=True)
class Person:
    """The lists an address runs in one role, by the files and by Mailman."""

    address: str
    role: str
    in_files: tuple[str, ...]
    in_mailman: tuple[str, ...]  # in the site's domain
    elsewhere: tuple[str, ...] = ()  # list ids in the server's other domains

    @property
    def only_in_files(self) -> tuple[str, ...]:
        return tuple(sorted(set(self.in_files) - set(self.in_mailman)))

    @property
    def only_in_mailman(self) -> tuple[str, ...]:
        return tuple(sorted(set(self.in_mailman) - set(self.in_files)))


@dataclass(frozen=True, slots=True)
class Report:
    domain: str
    as_of: datetime
    inactive_after: str
    inactive: tuple[ListFacts, ...]
    new: tuple[ListFacts, ...]
    ownerless: tuple[OwnershipProblem, ...]
    unmanaged: tuple[ListFacts, ...]

    def non_empty(self) -> list[str]:
        return [name for name in SECTIONS if getattr(self, name)]


# -- building ----------------------------------------------------------------------


def mailman_time(value: Any) -> datetime | None:
    """A timestamp as Mailman's REST API gives it (naive UTC), or None."""
    if not isinstance(value, str) or not value:
        return None
    parsed = datetime.fromisoformat(value)
    return parsed.replace(tzinfo=UTC) if parsed.tzinfo is None else parsed.astimezone(UTC)


def _facts(
    name: str, settings: Mapping[str, Any], owners: Iterable[str], count: int | None, managed: bool
) -> ListFacts:
    return ListFacts(
        name=name,
        managed=managed,
        private=settings.get("advertised") is not True,
        created_at=mailman_time(settings.get("created_at")),
        last_post_at=mailman_time(settings.get("last_post_at")),
        member_count=count,
        owners=tuple(sorted(owners)),
    )


def mentioned_addresses(site: Site) -> frozenset[str]:
    """Every address a list file names as owner or moderator."""
    found = set()
    for list_file in site.lists.values():
        for address in (*list_file.spec.owners, *list_file.spec.moderators):
            found.add(split_address(address)[0].lower())
    return frozenset(found)


def _ownership_problem(
    owners: tuple[str, ...], disabled_owner: str | None, known: frozenset[str]
) -> str | None:
    if not owners:
        return "no owner"
    if disabled_owner is not None and set(owners) == {disabled_owner}:
        return f"its only owner is the disabled owner {disabled_owner}, but it is enabled"
    if not set(owners) & known:
        return f"owned only by {', '.join(owners)}, whom no list file mentions"
    return None


def build(
    site: Site,
    reading: Reading,
    unmanaged_configs: Mapping[str, Mapping[str, Any]],
    unmanaged_owners: Mapping[str, Iterable[str]],
    *,
    as_of: datetime,
    inactive_after: timedelta,
    inactive_text: str,
) -> Report:
    counts = reading.live.member_counts
    cutoff = as_of - inactive_after
    disabled_owner = (
        split_address(site.config.disabled_owner)[0].lower() if site.config.disabled_owner else None
    )
    known = mentioned_addresses(site)
    inactive: list[ListFacts] = []
    new: list[ListFacts] = []
    ownerless: list[OwnershipProblem] = []
    for name in sorted(reading.desired):
        live: ListState | None = reading.live.lists.get(name)
        if live is None or site.lists[name].spec.disabled:
            continue
        facts = _facts(name, live.settings, live.owners, counts.get(name), managed=True)
        activity = facts.last_activity
        if activity is not None and activity < cutoff:
            inactive.append(facts)
        elif facts.last_post_at is None:
            new.append(facts)
        problem = _ownership_problem(facts.owners, disabled_owner, known)
        if problem is not None:
            ownerless.append(OwnershipProblem(facts, problem))
    unmanaged: list[ListFacts] = []
    for name, config in sorted(unmanaged_configs.items()):
        owners = tuple(sorted(unmanaged_owners.get(name, ())))
        facts = _facts(name, config, owners, counts.get(name), managed=False)
        unmanaged.append(facts)
        if not may_be_retired(dict(config)):
            problem = _ownership_problem(facts.owners, disabled_owner, known)
            if problem is not None:
                ownerless.append(OwnershipProblem(facts, problem))
    epoch = datetime.min.replace(tzinfo=UTC)
    inactive.sort(key=lambda f: (f.last_activity or epoch, f.name))
    return Report(
        domain=site.config.domain,
        as_of=as_of,
        inactive_after=inactive_text,
        inactive=tuple(inactive),
        new=tuple(new),
        ownerless=tuple(sorted(ownerless, key=lambda p: p.facts.name)),
        unmanaged=tuple(unmanaged),
    )


def collect(
    site: Site,
    backend: MailmanBackend,
    *,
    as_of: datetime,
    inactive_after: timedelta,
    inactive_text: str,
) -> Report:
    """Read what the report needs and build it: what a full plan reads, plus the unmanaged
    lists' settings and the server's rosters (when there are unmanaged lists)."""
    reading = read_states(site, backend, None)
    domain = site.config.domain
    unmanaged = reading.live.unmanaged
    configs = backend.list_configs(domain, unmanaged) if unmanaged else {}
    rosters = backend.all_rosters() if unmanaged else {}
    owners = {
        name: rosters.get(list_id(f"{name}@{domain}"), {}).get("owner", set()) for name in unmanaged
    }
    return build(
        site,
        reading,
        configs,
        owners,
        as_of=as_of,
        inactive_after=inactive_after,
        inactive_text=inactive_text,
    )


def collect_person(site: Site, backend: MailmanBackend, address: str, role: str) -> Person:
    """The lists `address` runs in `role`, by the files and by Mailman: the domain's
    listing and one `members/find` (2 requests), not the site's report."""
    domain = site.config.domain
    names = backend.list_names(domain) or []
    return replace(
        person_in_mailman(address, role, backend.lists_of(address, role), domain, names),
        in_files=person_in_files(site, address, role),
    )


def person_in_files(site: Site, address: str, role: str) -> tuple[str, ...]:
    wanted = split_address(address)[0].lower()
    found = []
    for name, list_file in sorted(site.lists.items()):
        declared = list_file.spec.owners if role == "owner" else list_file.spec.moderators
        if wanted in {split_address(a)[0].lower() for a in declared}:
            found.append(f"{name}@{site.config.domain}")
    return tuple(found)


def person_in_mailman(
    address: str, role: str, list_ids: Iterable[str], domain: str, names: Iterable[str]
) -> Person:
    """What Mailman says of a person (`list_ids` from `members/find`): the lists of the
    site's domain (`names`, from its listing) and the ids of the others."""
    ours = {f"{name}.{domain}": f"{name}@{domain}" for name in names}
    ids = sorted(set(list_ids))
    in_domain = tuple(sorted(ours[i] for i in ids if i in ours))
    return Person(address, role, (), in_domain, tuple(i for i in ids if i not in ours))


def redacted(report: Report) -> Report:
    """The report with every address masked."""

    def masked(facts: ListFacts) -> ListFacts:
        return replace(facts, owners=tuple(redact(o) for o in facts.owners))

    return replace(
        report,
        inactive=tuple(map(masked, report.inactive)),
        new=tuple(map(masked, report.new)),
        ownerless=tuple(
            OwnershipProblem(masked(p.facts), redact(p.reason)) for p in report.ownerless
        ),
        unmanaged=tuple(map(masked, report.unmanaged)),
    )


def redacted_person(person: Person) -> Person:
    return replace(person, address=redact(person.address))


# -- showing -----------------------------------------------------------------------


def age(delta: timedelta) -> str:
    """`1 year 10 months`, `3 days`, `5 h`, `12 min`, `40 s`."""
    seconds = int(delta.total_seconds())
    days = seconds // 86400
    if days >= 365:
        years, months = days // 365, (days % 365) // 30
        return f"{years} year{'s' * (years > 1)}" + (
            f" {months} month{'s' * (months > 1)}" if months else ""
        )
    if days >= 60:
        return f"{days // 30} months"
    if days >= 1:
        return f"{days} day{'s' * (days > 1)}"
    if seconds >= 3600:
        return f"{seconds // 3600} h"
    if seconds >= 60:
        return f"{seconds // 60} min"
    return f"{seconds} s"


def _when(moment: datetime | None, as_of: datetime) -> str:
    if moment is None:
        return "never"
    return f"{moment:%Y-%m-%d} ({age(as_of - moment)} ago)"


def _members(facts: ListFacts) -> str:
    return "?" if facts.member_count is None else str(facts.member_count)


def _name(facts: ListFacts) -> str:
    return facts.name + (" (private)" if facts.private else "")


def _rows(report: Report) -> dict[str, tuple[tuple[str, ...], list[tuple[str, ...]]]]:
    """Each section as a header and rows, shared by the text and Markdown forms."""
    activity = ("List", "Last post", "Created", "Members", "Owners")

    def row(f: ListFacts) -> tuple[str, ...]:
        return (
            _name(f),
            _when(f.last_post_at, report.as_of),
            _when(f.created_at, report.as_of),
            _members(f),
            ", ".join(f.owners) or "none",
        )

    return {
        f"Inactive lists: no post for {report.inactive_after} (retire each with"
        " 'disabled: true' in its file)": (activity, [row(f) for f in report.inactive]),
        "New lists without a post yet": (activity, [row(f) for f in report.new]),
        "Ownership problems": (
            ("List", "Managed", "Problem"),
            [
                (_name(p.facts), "yes" if p.facts.managed else "no", p.reason)
                for p in report.ownerless
            ],
        ),
        "Unmanaged lists (in Mailman, in no file)": (activity, [row(f) for f in report.unmanaged]),
    }


def _person_lines(person: Person) -> list[str]:
    return [
        f"{person.address} as {person.role}:",
        f"  by the files: {', '.join(person.in_files) or 'none'}",
        f"  in Mailman: {', '.join(person.in_mailman) or 'none'}",
        f"  only in the files (not yet applied?): {', '.join(person.only_in_files) or 'none'}",
        f"  only in Mailman (unmanaged, or drift): {', '.join(person.only_in_mailman) or 'none'}",
        f"  in the server's other domains: {', '.join(person.elsewhere) or 'none'}",
        f"  every place of the address: listsync person show {person.address}",
    ]


def _title(report: Report) -> str:
    return f"listsync report for {report.domain}, as of {report.as_of:%Y-%m-%d %H:%M:%S} UTC"


def to_text(report: Report) -> str:
    lines = [_title(report), ""]
    for title, (header, rows) in _rows(report).items():
        lines.append(f"{title}: {len(rows)}")
        for name, *rest in rows:
            labelled = (f"{h.lower()}: {c}" for h, c in zip(header[1:], rest, strict=True))
            lines.append(f"  {name}  " + "; ".join(labelled))
        lines.append("")
    return "\n".join(visible(line) for line in lines)


def to_markdown(report: Report) -> str:
    lines = [f"### {markdown_text(_title(report))}", ""]
    for title, (header, rows) in _rows(report).items():
        lines += [f"#### {markdown_text(title)}: {len(rows)}", ""]
        if rows:
            lines.append("| " + " | ".join(header) + " |")
            lines.append("|" + " --- |" * len(header))
            lines += ["| " + " | ".join(markdown_cell(c) for c in cells) + " |" for cells in rows]
            lines.append("")
    return "\n".join(lines)


def _facts_json(facts: ListFacts, as_of: datetime) -> dict[str, Any]:
    return {
        "name": facts.name,
        "managed": facts.managed,
        "private": facts.private,
        "created_at": None if facts.created_at is None else facts.created_at.isoformat(),
        "last_post_at": None if facts.last_post_at is None else facts.last_post_at.isoformat(),
        "idle_seconds": None
        if facts.last_activity is None
        else int((as_of - facts.last_activity).total_seconds()),
        "member_count": facts.member_count,
        "owners": list(facts.owners),
    }


def to_json_data(report: Report) -> dict[str, Any]:
    return {
        "format_version": FORMAT_VERSION,
        "domain": report.domain,
        "as_of": report.as_of.isoformat(),
        "inactive_after": report.inactive_after,
        "inactive": [
            {**_facts_json(f, report.as_of), "retire": f"lists/{f.name}.yaml: disabled: true"}
            for f in report.inactive
        ],
        "new": [_facts_json(f, report.as_of) for f in report.new],
        "ownerless": [
            {**_facts_json(p.facts, report.as_of), "problem": p.reason} for p in report.ownerless
        ],
        "unmanaged": [_facts_json(f, report.as_of) for f in report.unmanaged],
    }


def person_json(person: Person, domain: str) -> dict[str, Any]:
    return {
        "format_version": FORMAT_VERSION,
        "domain": domain,
        "person": {
            "address": person.address,
            "role": person.role,
            "in_files": list(person.in_files),
            "in_mailman": list(person.in_mailman),
            "only_in_files": list(person.only_in_files),
            "only_in_mailman": list(person.only_in_mailman),
            "elsewhere": list(person.elsewhere),
        },
    }


def render_person(person: Person, domain: str, fmt: str) -> str:
    """`report --owner/--moderator`: the person's section alone."""
    if fmt == "json":
        return json_text(person_json(person, domain), indent=2) + "\n"
    if fmt == "markdown":
        lines = ["#### Person", ""]
        lines += [f"- {markdown_text(line.strip())}" for line in _person_lines(person)]
        return "\n".join(lines) + "\n"
    return "\n".join(visible(line) for line in _person_lines(person)) + "\n"


def render(report: Report, fmt: str) -> str:
    if fmt == "json":
        return json_text(to_json_data(report), indent=2) + "\n"
    return to_markdown(report) if fmt == "markdown" else to_text(report)
