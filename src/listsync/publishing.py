"""Publishing: which template texts are in use, and whether Mailman can fetch them.

Owns three questions about the texts below the site's `templates_url`:

- What `listsync render --templates-out` publishes (`publication`): only
  the texts in use. Those the files give a list now, and the earlier
  versions git has that Mailman's lists still point at (so a list not yet
  applied keeps a URL that answers); never a text no list uses (a draft, a
  deleted text), and never one that only private lists use unless
  `listsync.yaml` says `publish_private_templates: true`. A list is private
  when its file says so (`visibility: private`, or `advertised` false in
  `settings:`); a list no file declares, when Mailman does not advertise it.
- Whether Mailman can fetch every template URL of the managed lists
  (`check`, the `listsync check-templates` command): the URLs their files
  give them and the ones Mailman has now, each fetched once, a few at a
  time, as Mailman fetches it (`mailman_templates.check_urls`).
- Whether the placeholders Mailman fills in from the domain's `base_url`
  (`$mailinglist_url`, ...) would be filled in (`check_base_url`, which
  every plan asks when a text uses one).
"""

from __future__ import annotations

import re
import string
from collections import defaultdict
from collections.abc import Iterable, Mapping
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path

from listsync import mailman_templates
from listsync.errors import InvalidSiteError, Problem
from listsync.mailman import MailmanBackend, ServerInfo, list_id
from listsync.mailman_templates import TemplateText
from listsync.policy import Detail, ListState, declared_settings, desired_states
from listsync.site import Site
from listsync.snapshot import Snapshot

LiveSource = MailmanBackend | Snapshot
# What publish() names a file: STEM.<16 hex digits of its hash>.SUFFIX
_PUBLISHED_NAME = re.compile(r".+\.[0-9a-f]{16}\.[A-Za-z0-9]+")


# -- what is published ------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Publication:
    """The texts to publish, and what is left out and why."""

    texts: tuple[TemplateText, ...]
    current: int  # how many of `texts` the files use now (the rest: earlier versions)
    withheld: dict[str, tuple[str, ...]] = field(default_factory=dict)  # URL -> private lists
    # URL below templates_url that Mailman's lists point at, but whose text this
    # revision's history does not have -> those lists
    unknown: dict[str, tuple[str, ...]] = field(default_factory=dict)

    @property
    def kept_names(self) -> frozenset[str]:
        """The file names in the published directory that must stay: every text
        published, and the ones Mailman's lists point at that this revision cannot vouch
        for (never removed: a list would lose its text)."""
        names = {text.published_name for text in self.texts}
        names |= {url.rsplit("/", 1)[-1] for url in self.unknown}
        return frozenset(names)


def is_private(site: Site, name: str) -> bool:
    """Whether list `name`'s file makes it private (not advertised, before any disable
    procedure: a retired public list's notice is public)."""
    return declared_settings(site.effective(name)).get("advertised") is not True


def live_states(source: LiveSource, domain: str) -> dict[str, ListState]:
    """Every list of `domain` as Mailman (or a snapshot of it) has it, template URLs
    included."""
    if isinstance(source, Snapshot):
        names = sorted(source.states)
    else:
        names = source.list_names(domain) or []
    details = dict.fromkeys(names, frozenset({Detail.TEMPLATES}))
    return source.read_site(domain, names, everything=False, details=details).lists


def publication(
    site: Site, live: Mapping[str, ListState], history: Iterable[TemplateText] = ()
) -> Publication:
    """What to publish at the site's `templates_url`: the texts the files use and those
    Mailman's lists (`live`) point at whose text `history` (what git has) holds, each
    unless only private lists use it."""
    base = site.config.templates_url
    if base is None:
        return Publication((), 0)
    by_url: dict[str, TemplateText] = {}
    for old in history:
        by_url.setdefault(old.url(base), old)
    by_url.update((text.url(base), text) for text in site.templates.values())
    users: dict[str, list[tuple[str, bool]]] = defaultdict(list)  # URL -> (list, private)
    for name in site.lists:
        private = is_private(site, name)
        for path in site.effective(name).templates.values():
            if path is not None:
                users[site.templates[path].url(base)].append((name, private))
    current = set(users)
    unknown: dict[str, set[str]] = defaultdict(set)
    below = base.rstrip("/") + "/"
    for name, state in sorted(live.items()):
        private = (
            is_private(site, name)
            if name in site.lists
            else state.settings.get("advertised") is not True
        )
        for url in (state.templates or {}).values():
            if url is None:
                continue
            if url in by_url:
                users[url].append((name, private))
            elif url.startswith(below):
                unknown[url].add(name)
    published: list[TemplateText] = []
    withheld: dict[str, tuple[str, ...]] = {}
    for url, using in sorted(users.items()):
        if site.config.publish_private_templates or any(not private for _, private in using):
            published.append(by_url[url])
        else:
            withheld[url] = tuple(sorted({name for name, _ in using}))
    return Publication(
        tuple(published),
        current=sum(1 for text in published if text.url(base) in current),
        withheld=withheld,
        unknown={url: tuple(sorted(names)) for url, names in sorted(unknown.items())},
    )


def publish(pub: Publication, out: Path) -> tuple[list[Path], list[Path]]:
    """Write `pub`'s texts to `out`, and remove the published texts there that are no
    longer in use (a file named as `publish` names them, and not kept); returns the files
    written and the files removed."""
    written = mailman_templates.publish(pub.texts, out)
    keep = pub.kept_names
    removed = sorted(
        path
        for path in out.iterdir()
        if path.is_file() and _PUBLISHED_NAME.fullmatch(path.name) and path.name not in keep
    )
    for path in removed:
        path.unlink()
    return written, removed


# -- the domain's base_url ---------------------------------------------------------


def check_base_url(site: Site, server: ServerInfo, source: object) -> None:
    """Refuse texts the lists use whose placeholders Mailman fills in from the domain's
    `base_url` (`$mailinglist_url`, ...) when the domain exists in Mailman without one:
    Mailman would send them as written. Asks Mailman only when a text has one."""
    release = mailman_templates.PLACEHOLDERS_SINCE["base_url"]
    if server.version < release:
        return  # plan refuses these placeholders on such a release already
    domain = site.config.domain
    uses = sorted(
        {
            (name, path)
            for list_name in site.lists
            for name, path in site.effective(list_name).templates.items()
            if path is not None and path in site.templates
        }
    )
    found = [
        (name, path, place, placeholder)
        for name, path in uses
        for place, placeholder in mailman_templates.placeholders_in(
            site.templates[path].text, mailman_templates.BASE_URL_PLACEHOLDERS
        )
    ]
    if not found:
        return
    if isinstance(source, Snapshot):
        base_url, exists = source.domain_base_url, source.domain_exists
    elif isinstance(source, MailmanBackend):
        base_url = source.domain_base_url(domain)
        exists = base_url is not None or source.domain_exists(domain)
    else:
        return
    if base_url is not None or not exists:
        return  # a domain apply creates gets its base_url (MailmanBackend.create_domain)
    problems = [
        Problem(
            path,
            place.line,
            place.col,
            name,
            f"${placeholder} is filled in only when the domain has a base_url, and"
            f" {domain} has none in Mailman, so it would be sent as written: set the"
            f" domain's base_url (PATCH /3.1/domains/{domain} base_url="
            f"{mailman_templates.domain_base_url(site.config.web_root)}), or leave it out",
        )
        for name, path, place, placeholder in found
    ]
    raise InvalidSiteError(sorted(set(problems)), against=f"{domain} in {server.text}")


# -- is every URL served ------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Use:
    """One list's use of a template URL: its file gives it, Mailman has it now, or both."""

    list: str
    name: str  # the template's name, e.g. list:member:regular:footer
    in_file: bool
    in_mailman: bool

    def __str__(self) -> str:
        if self.in_file and self.in_mailman:
            return f"{self.list} ({self.name})"
        where = "in its file, not yet in Mailman" if self.in_file else "in Mailman, not its file"
        return f"{self.list} ({self.name}, {where})"


@dataclass(frozen=True, slots=True)
class Unserved:
    """A template URL Mailman would fetch and cannot, as it fetches it."""

    url: str
    why: str
    uses: tuple[Use, ...]


@dataclass(frozen=True, slots=True)
class ServedCheck:
    lists: int
    urls: int
    unserved: tuple[Unserved, ...]

    @property
    def ok(self) -> bool:
        return not self.unserved


def _expanded(url: str, fqdn: str) -> str:
    """The URL Mailman fetches for a list: it fills in these placeholders of a template's
    URL itself (TemplateLoader.get in mailman/model/template.py)."""
    return string.Template(url).safe_substitute(
        list_id=list_id(fqdn), listname=fqdn, domain_name=fqdn.split("@", 1)[1]
    )


def check(
    site: Site,
    backend: MailmanBackend,
    history: Iterable[TemplateText] = (),
    names: Iterable[str] | None = None,
) -> ServedCheck:
    """Fetch, as Mailman would, every template URL of the site's lists (or the named
    ones): those their files give them, and those Mailman has for them now."""
    desired = desired_states(site, names)
    domain = site.config.domain
    base = site.config.templates_url
    known: dict[str, str] = {}
    if base is not None:
        known.update((old.url(base), old.text) for old in history)
        known.update((text.url(base), text.text) for text in site.templates.values())
    # URL -> (list, template) -> (in its file, in Mailman)
    uses: dict[str, dict[tuple[str, str], tuple[bool, bool]]] = defaultdict(dict)
    for name, state in sorted(desired.items()):
        for template, url in sorted((state.templates or {}).items()):
            if url is not None:
                uses[url][name, template] = (True, False)
    present = sorted(set(backend.list_names(domain) or ()) & set(desired))

    def read(name: str) -> dict[str, str | None]:
        return backend.templates(f"{name}@{domain}")

    with ThreadPoolExecutor(max_workers=backend.workers) as pool:
        live = dict(zip(present, pool.map(read, present), strict=True))
    for name, templates in sorted(live.items()):
        for template, url in sorted(templates.items()):
            if url is not None:
                using = uses[_expanded(url, f"{name}@{domain}")]
                using[name, template] = (using.get((name, template), (False, False))[0], True)
    verdicts = mailman_templates.check_urls({url: known.get(url) for url in uses})
    unserved = tuple(
        Unserved(
            url,
            why,
            tuple(Use(n, t, *where) for (n, t), where in sorted(uses[url].items())),
        )
        for url, why in sorted(verdicts.items())
    )
    return ServedCheck(len(desired), len(uses), unserved)
