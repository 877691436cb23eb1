"""The lifecycle report: inactive, ownerless and forgotten lists, and who runs what.

Owns what each section of `listsync report` holds and how it is shown (text,
Markdown tables, JSON `format_version` 1). It works from what a full plan
reads anyway (every managed list's settings, which carry `created_at` and
`last_post_at`, the domain listing with member counts, the rosters) plus the
settings and owners of the unmanaged lists. Sections:

* inactive: enabled managed lists whose last post is older than
  `lifecycle.inactive_after`, oldest first, each with the one-line change
  that retires it;
* never posted: enabled managed lists never posted to and created longer ago
  than that (Mailman 3.3.8 to 3.3.10 leave `last_post_at` null until the
  first post is delivered: `handlers/after_delivery.py` is its only writer
  but for the 2.1 importer), oldest first, kept apart from lists that were
  once used;
* new without a post: enabled managed lists never posted to, created within
  that time;
* no members: enabled lists, managed or not, whose listing says
  `member_count` 0 (members proper; owners and moderators are not counted);
* ownership: enabled lists with no owner, only the site's `disabled_owner`,
  or only owners that no list file mentions;
* unmanaged: lists in Mailman that no file declares, with age and activity;
* a person (`--owner`/`--moderator ADDRESS`), shown alone: each list the
  address runs in the site's domain, by the files or by Mailman, with what
  the sections above say of it, and its lists in other domains (every place
  of a person: `listsync person show`).

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
SECTIONS = ("inactive", "never_posted", "new", "no_members", "ownerless", "unmanaged")
# The sections a list's activity puts it in (at most one of them).
ACTIVITY_SECTIONS = ("inactive", "never_posted", "new")


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
class PersonList:
    """One list of the site's domain that a person runs, by its file or by Mailman."""

    fqdn: str
    managed: bool  # a list file declares it
    in_files: bool  # its file names the person in the role
    in_mailman: bool  # Mailman has the person in the role
    disabled: bool  # its file says `disabled: true`
    facts: ListFacts | None  # None: not in Mailman
    sections: tuple[str, ...] = ()  # the report's sections it is in
    problem: str | None = None  # its ownership problem


@dataclass(frozen=True, slots=True)
class Person:
    """The lists an address runs in one role, by the files and by Mailman."""

    address: str
    role: str
    in_files: tuple[str, ...]
    in_mailman: tuple[str, ...]  # in the site's domain
    elsewhere: tuple[str, ...] = ()  # list ids in the server's other domains
    lists: tuple[PersonList, ...] = ()  # in_files and in_mailman, one entry each, judged
    as_of: datetime | None = None
    inactive_after: str = ""
    lists_dir: str = "lists"  # where the files of the domain's lists are

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
    never_posted: tuple[ListFacts, ...] = ()
    no_members: tuple[ListFacts, ...] = ()
    lists_dir: str = "lists"  # where the files of the domain's lists are

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


def activity_section(facts: ListFacts, cutoff: datetime) -> str | None:
    """Which of `ACTIVITY_SECTIONS` an enabled list is in, judged against `cutoff`
    (`as_of - inactive_after`): a post before it is inactive; no post at all is never
    posted if the list was made before it, new if after."""
    if facts.last_post_at is not None:
        return "inactive" if facts.last_post_at < cutoff else None
    if facts.created_at is not None and facts.created_at < cutoff:
        return "never_posted"
    return "new"


def _disabled_owner(site: Site) -> str | None:
    owner = site.config.disabled_owner
    return split_address(owner)[0].lower() if owner else None


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
    disabled_owner = _disabled_owner(site)
    known = mentioned_addresses(site)
    by_activity: dict[str, list[ListFacts]] = {name: [] for name in ACTIVITY_SECTIONS}
    no_members: list[ListFacts] = []
    ownerless: list[OwnershipProblem] = []
    for name in sorted(reading.desired):
        live: ListState | None = reading.live.lists.get(name)
        if live is None or site.lists[name].spec.disabled:
            continue
        facts = _facts(name, live.settings, live.owners, counts.get(name), managed=True)
        section = activity_section(facts, cutoff)
        if section is not None:
            by_activity[section].append(facts)
        if facts.member_count == 0:
            no_members.append(facts)
        problem = _ownership_problem(facts.owners, disabled_owner, known)
        if problem is not None:
            ownerless.append(OwnershipProblem(facts, problem))
    unmanaged: list[ListFacts] = []
    for name, config in sorted(unmanaged_configs.items()):
        owners = tuple(sorted(unmanaged_owners.get(name, ())))
        facts = _facts(name, config, owners, counts.get(name), managed=False)
        unmanaged.append(facts)
        if not may_be_retired(dict(config)):
            if facts.member_count == 0:
                no_members.append(facts)
            problem = _ownership_problem(facts.owners, disabled_owner, known)
            if problem is not None:
                ownerless.append(OwnershipProblem(facts, problem))

    def oldest_first(section: str) -> tuple[ListFacts, ...]:
        epoch = datetime.min.replace(tzinfo=UTC)
        return tuple(sorted(by_activity[section], key=lambda f: (f.last_activity or epoch, f.name)))

    return Report(
        lists_dir=site.lists_dir,
        domain=site.config.domain,
        as_of=as_of,
        inactive_after=inactive_text,
        inactive=oldest_first("inactive"),
        never_posted=oldest_first("never_posted"),
        new=tuple(by_activity["new"]),
        no_members=tuple(sorted(no_members, key=lambda f: f.name)),
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
    reading = read_states(site, backend, None, member_counts=True)
    domain = site.config.domain
    unmanaged = reading.live.unmanaged
    configs, owners = _settings_and_owners(backend, domain, unmanaged)
    return build(
        site,
        reading,
        configs,
        owners,
        as_of=as_of,
        inactive_after=inactive_after,
        inactive_text=inactive_text,
    )


def _settings_and_owners(
    backend: MailmanBackend, domain: str, names: Iterable[str]
) -> tuple[dict[str, dict[str, Any]], dict[str, set[str]]]:
    """The settings of the named lists (one request each) and their owners (the server's
    rosters, one request a role); nothing is read for no list."""
    wanted = sorted(set(names))
    if not wanted:
        return {}, {}
    configs = backend.list_configs(domain, wanted)
    rosters = backend.all_rosters()
    owners = {
        name: rosters.get(list_id(f"{name}@{domain}"), {}).get("owner", set()) for name in wanted
    }
    return configs, owners


def collect_person(
    site: Site,
    backend: MailmanBackend,
    address: str,
    role: str,
    *,
    as_of: datetime,
    inactive_after: timedelta,
    inactive_text: str,
) -> Person:
    """The lists `address` (bare, lower case) runs in `role`, by the files and by Mailman,
    each judged as the report would: the domain's listing and one `members/find`, then,
    when it runs lists of the domain, their settings (one request each) and the server's
    owner and moderator rosters (one request each), not the site's report."""
    domain = site.config.domain
    counts = backend.list_listing(domain) or {}
    person = replace(
        person_in_mailman(address, role, backend.lists_of(address, role), domain, counts),
        in_files=person_in_files(site, address, role),
        lists_dir=site.lists_dir,
    )
    present = {fqdn.partition("@")[0] for fqdn in (*person.in_files, *person.in_mailman)}
    present &= set(counts)
    configs, owners = _settings_and_owners(backend, domain, present)
    return judge_person(
        site,
        person,
        configs,
        owners,
        counts,
        as_of=as_of,
        inactive_after=inactive_after,
        inactive_text=inactive_text,
    )


def judge_person(
    site: Site,
    person: Person,
    configs: Mapping[str, Mapping[str, Any]],
    owners: Mapping[str, Iterable[str]],
    counts: Mapping[str, int],
    *,
    as_of: datetime,
    inactive_after: timedelta,
    inactive_text: str,
) -> Person:
    """`person` with each of its lists of the domain judged by the site report's rules
    (`configs` and `owners` of those in Mailman, `counts` from the listing)."""
    cutoff = as_of - inactive_after
    disabled_owner = _disabled_owner(site)
    known = mentioned_addresses(site)
    judged = []
    for fqdn in sorted({*person.in_files, *person.in_mailman}):
        name = fqdn.partition("@")[0]
        list_file = site.lists.get(name)
        disabled = list_file is not None and list_file.spec.disabled
        config = configs.get(name)
        facts = None
        sections: list[str] = []
        problem = None
        if config is not None:
            facts = _facts(
                name, config, owners.get(name, ()), counts.get(name), managed=list_file is not None
            )
            activity = None if disabled else activity_section(facts, cutoff)
            if list_file is None:
                sections.append("unmanaged")
            elif activity is not None:
                sections.append(activity)
            enabled = not may_be_retired(dict(config)) if list_file is None else not disabled
            if enabled:
                if facts.member_count == 0:
                    sections.append("no_members")
                problem = _ownership_problem(facts.owners, disabled_owner, known)
                if problem is not None:
                    sections.append("ownerless")
        judged.append(
            PersonList(
                fqdn=fqdn,
                managed=list_file is not None,
                in_files=fqdn in person.in_files,
                in_mailman=fqdn in person.in_mailman,
                disabled=disabled,
                facts=facts,
                sections=tuple(s for s in SECTIONS if s in sections),
                problem=problem,
            )
        )
    return replace(person, lists=tuple(judged), as_of=as_of, inactive_after=inactive_text)


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
        never_posted=tuple(map(masked, report.never_posted)),
        new=tuple(map(masked, report.new)),
        no_members=tuple(map(masked, report.no_members)),
        ownerless=tuple(
            OwnershipProblem(masked(p.facts), redact(p.reason)) for p in report.ownerless
        ),
        unmanaged=tuple(map(masked, report.unmanaged)),
    )


def redacted_person(person: Person) -> Person:
    """`person` with every address masked but the person's own: whoever asked typed it."""
    kept = (person.address,)

    def masked(entry: PersonList) -> PersonList:
        facts = entry.facts
        if facts is not None:
            facts = replace(facts, owners=tuple(redact(o, kept) for o in facts.owners))
        problem = None if entry.problem is None else redact(entry.problem, kept)
        return replace(entry, facts=facts, problem=problem)

    return replace(person, lists=tuple(map(masked, person.lists)))


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


def _owners(facts: ListFacts) -> str:
    return ", ".join(facts.owners) or "none"


def _name(facts: ListFacts) -> str:
    return facts.name + (" (private)" if facts.private else "")


def _rows(report: Report) -> dict[str, tuple[tuple[str, ...], list[tuple[str, ...]]]]:
    """Each section as a header and rows, shared by the text and Markdown forms."""
    activity = ("List", "Last post", "Created", "Members", "Owners")
    unused = ("List", "Created", "Members", "Owners")
    empty = ("List", "Managed", "Last post", "Created", "Owners")

    def row(f: ListFacts) -> tuple[str, ...]:
        return (
            _name(f),
            _when(f.last_post_at, report.as_of),
            _when(f.created_at, report.as_of),
            _members(f),
            _owners(f),
        )

    def unused_row(f: ListFacts) -> tuple[str, ...]:
        return (_name(f), _when(f.created_at, report.as_of), _members(f), _owners(f))

    def empty_row(f: ListFacts) -> tuple[str, ...]:
        at = report.as_of
        managed = "yes" if f.managed else "no"
        return (_name(f), managed, _when(f.last_post_at, at), _when(f.created_at, at), _owners(f))

    return {
        f"Inactive lists: no post for {report.inactive_after} (retire each with"
        " 'disabled: true' in its file)": (activity, [row(f) for f in report.inactive]),
        f"Never posted to, made more than {report.inactive_after} ago (retire each with"
        " 'disabled: true' in its file)": (unused, [unused_row(f) for f in report.never_posted]),
        "New lists without a post yet": (activity, [row(f) for f in report.new]),
        "Lists without members": (empty, [empty_row(f) for f in report.no_members]),
        "Ownership problems": (
            ("List", "Managed", "Problem"),
            [
                (_name(p.facts), "yes" if p.facts.managed else "no", p.reason)
                for p in report.ownerless
            ],
        ),
        "Unmanaged lists (in Mailman, in no file)": (activity, [row(f) for f in report.unmanaged]),
    }


def _count(number: int, noun: str) -> str:
    return f"{number} {noun}{'s' * (number != 1)}"


def person_list_words(entry: PersonList, person: Person) -> list[str]:
    """What the report says of one of a person's lists, in words, most telling first."""
    name, role = entry.fqdn.partition("@")[0], person.role
    file = f"{person.lists_dir}/{name}.yaml"
    words = []
    if not entry.managed:
        words.append("unmanaged (in no file)")
    elif entry.disabled:
        words.append("disabled in its file")
    facts = entry.facts
    if facts is None:
        return [*words, f"not in Mailman ({file} not yet applied?)"]
    if entry.managed and not entry.in_mailman:
        words.append(f"{role} by {file}, not in Mailman (not yet applied?)")
    if entry.managed and not entry.in_files:
        words.append(f"{role} in Mailman, not in {file} (drift)")
    if facts.private:
        words.append("private")
    as_of = person.as_of or datetime.now(UTC)
    created = _when(facts.created_at, as_of)
    if "inactive" in entry.sections:
        last = _when(facts.last_post_at, as_of)
        words.append(f"inactive: no post for {person.inactive_after}, the last {last}")
    elif "new" in entry.sections:
        words.append(f"new, no post yet, made {created}")
    elif facts.last_post_at is None:
        words.append(f"never posted to, made {created}")
    else:
        words.append(f"last post {_when(facts.last_post_at, as_of)}")
    if facts.member_count is None:
        words.append("members unknown")
    else:
        words.append(
            "no members" if facts.member_count == 0 else _count(facts.member_count, "member")
        )
    if entry.problem is not None:
        words.append(f"ownership problem: {entry.problem}")
    return words


def _person_lines(person: Person) -> list[str]:
    domain_lists = _count(len(person.lists), "list")
    lines = [f"{person.address} as {person.role}: {domain_lists} of the site's domain"]
    lines += [f"  {e.fqdn}  {'; '.join(person_list_words(e, person))}" for e in person.lists]
    lines += [
        f"  in the server's other domains: {', '.join(person.elsewhere) or 'none'}",
        f"  every place of the address: listsync person show {person.address}",
    ]
    return lines


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
            {
                **_facts_json(f, report.as_of),
                "retire": f"{report.lists_dir}/{f.name}.yaml: disabled: true",
            }
            for f in report.inactive
        ],
        "never_posted": [
            {
                **_facts_json(f, report.as_of),
                "retire": f"{report.lists_dir}/{f.name}.yaml: disabled: true",
            }
            for f in report.never_posted
        ],
        "new": [_facts_json(f, report.as_of) for f in report.new],
        "no_members": [_facts_json(f, report.as_of) for f in report.no_members],
        "ownerless": [
            {**_facts_json(p.facts, report.as_of), "problem": p.reason} for p in report.ownerless
        ],
        "unmanaged": [_facts_json(f, report.as_of) for f in report.unmanaged],
    }


def _person_list_json(entry: PersonList, person: Person) -> dict[str, Any]:
    found: dict[str, Any] = {
        "list": entry.fqdn,
        "managed": entry.managed,
        "in_files": entry.in_files,
        "in_mailman": entry.in_mailman,
        "disabled": entry.disabled,
        "sections": list(entry.sections),
        "problem": entry.problem,
        "says": person_list_words(entry, person),
    }
    if entry.facts is not None:
        facts = _facts_json(entry.facts, person.as_of or datetime.now(UTC))
        found.update((k, v) for k, v in facts.items() if k not in ("name", "managed"))
    return found


def person_json(person: Person, domain: str) -> dict[str, Any]:
    return {
        "format_version": FORMAT_VERSION,
        "domain": domain,
        "as_of": None if person.as_of is None else person.as_of.isoformat(),
        "inactive_after": person.inactive_after,
        "person": {
            "address": person.address,
            "role": person.role,
            "in_files": list(person.in_files),
            "in_mailman": list(person.in_mailman),
            "only_in_files": list(person.only_in_files),
            "only_in_mailman": list(person.only_in_mailman),
            "elsewhere": list(person.elsewhere),
            "lists": [_person_list_json(entry, person) for entry in person.lists],
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
