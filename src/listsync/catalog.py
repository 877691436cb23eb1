"""The list of lists: the site's lists as a page for people and as data for tools.

Owns what the index of lists shows and what it never shows, from the files
alone (no Mailman): lists grouped by category in a fixed order and sorted by
name, disabled lists only under "Retired lists", private lists only with
`include_private` (an internal page), and maintainers by display name or
local part (masked with `redact_addresses`), never by full address (these
pages are scraped by spammers);
an address in a description is masked.
Whether a list is advertised, who may post and how it is archived come from
`policy.declared_settings`, so a `settings:` override counts here exactly as
it does in Mailman. Three forms: Markdown tables like the Tor wiki's, one
self-contained HTML page (jinja2, autoescaped; inline style and script
pinned by a Content-Security-Policy hash), and JSON (`format_version` 1,
documented in README.md). Every value is printed through `listsync.escaping`
(in HTML: made `visible`, then autoescaped, in text and attributes alike).
"""

from __future__ import annotations

import base64
import hashlib
import urllib.parse
from dataclasses import dataclass
from functools import cache
from importlib import resources
from typing import TYPE_CHECKING, Any

from listsync import escaping
from listsync.addresses import split_address
from listsync.models import Archive, Category, EffectiveList, Posting
from listsync.policy import ARCHIVE_POLICY, POSTING_ACTIONS, declared_settings
from listsync.redaction import mask_local_part, redact
from listsync.site import Site

if TYPE_CHECKING:
    import jinja2

FORMATS = ("markdown", "html", "json")
JSON_FORMAT_VERSION = 1

# Section titles and intros, in page order (after the Tor wiki's list of lists).
SECTIONS: dict[Category, tuple[str, str]] = {
    Category.DISCUSSION: ("Discussion lists", "Lists with subscriber generated threads."),
    Category.NOTIFICATION: (
        "Notification lists",
        "Generally read-only for their subscribers: notifications on specific topics, "
        "or auto-generated traffic.",
    ),
    Category.ADMINISTRATIVE: (
        "Administrative lists",
        "Lists with a narrowly defined purpose; most have a very small membership.",
    ),
    Category.TEAM: ("Team lists", "Lists of the project's teams."),
}
ARCHIVE_BY_POLICY = {policy: archive for archive, policy in ARCHIVE_POLICY.items()}
POSTING_BY_ACTIONS = {actions: posting for posting, actions in POSTING_ACTIONS.items()}
# The Type column: who may post and the archive (and "private", on an internal page).
POSTING_LABELS = {
    Posting.OPEN: "anyone may post",
    Posting.MEMBERS: "members may post",
    Posting.MODERATED: "moderated",
    Posting.ANNOUNCE: "announcements only",
}
OWN_POSTING_RULES = "own posting rules"  # settings: sets actions that no `posting:` gives
RETIRED_POSTING = "no more posts"
ARCHIVE_LABELS = {
    Archive.PUBLIC: "public archive",
    Archive.PRIVATE: "private archive",
    Archive.NONE: "no archive",
}
RETIRED = (
    "Retired lists",
    "Disabled lists: they accept no more posts or subscriptions.",
)
COLUMNS = ("List", "Maintainers", "Type", "Description")


@dataclass(frozen=True, slots=True)
class Entry:
    """One list as the index shows it: nothing here is an e-mail address."""

    name: str
    category: Category
    public: bool
    posting: Posting | None  # None: settings: gives actions no `posting:` value gives
    archive: Archive
    retired: bool
    description: str
    maintainers: tuple[str, ...]
    subscribe_url: str | None
    archive_url: str | None

    @property
    def type_label(self) -> str:
        return type_label(self.public, self.posting, self.archive, retired=self.retired)

    @property
    def search_text(self) -> str:
        """What the HTML filter box matches against (lower case)."""
        words = (self.name, *self.maintainers, self.type_label, self.description)
        return " ".join(word for word in words if word).lower()


@dataclass(frozen=True, slots=True)
class Section:
    anchor: str  # the heading's slug, as GitHub and GitLab make it for the Markdown form
    title: str
    intro: str
    entries: tuple[Entry, ...]


@dataclass(frozen=True, slots=True)
class Catalog:
    """The index of a site's lists: what every form renders, and only that."""

    domain: str
    web_url: str
    include_private: bool
    sections: tuple[Section, ...]  # categories in order, then Retired; none empty

    @property
    def entries(self) -> list[Entry]:
        return [entry for section in self.sections for entry in section.entries]


def type_label(
    public: bool, posting: Posting | None, archive: Archive, *, retired: bool = False
) -> str:
    """The Type column: `Anyone may post, public archive`; private lists say so first."""
    if retired:
        who_posts = RETIRED_POSTING
    else:
        who_posts = POSTING_LABELS[posting] if posting is not None else OWN_POSTING_RULES
    parts = [*([] if public else ["private"]), who_posts, ARCHIVE_LABELS[archive]]
    text = ", ".join(parts)
    return text[:1].upper() + text[1:]


def maintainer(address: str, *, redact_addresses: bool = False) -> str:
    """How an owner is shown: the display name the file gives, else the local part
    (masked, `a***`, on a site with `redact_addresses`)."""
    email, display = split_address(address)
    display = escaping.visible(" ".join(display.split()))
    if display and "@" not in display:
        return display
    local = email.split("@", 1)[0]
    return mask_local_part(local) if redact_addresses else local


def _url_part(text: str) -> str:
    return urllib.parse.quote(text, safe="")


def subscribe_url(web_root: str, name: str, domain: str) -> str:
    """The list's Postorius page (information and subscription)."""
    return f"{web_root}/postorius/lists/{_url_part(name)}.{_url_part(domain)}/"


def archive_url(web_root: str, name: str, domain: str) -> str:
    """The list's HyperKitty archive; the '@' is percent-encoded to keep addresses off the page."""
    return f"{web_root}/hyperkitty/list/{_url_part(f'{name}@{domain}')}/"


def _entry(
    lst: EffectiveList, web_root: str, *, include_private: bool, redact_addresses: bool
) -> Entry:
    settings = declared_settings(lst)
    public = settings.get("advertised") is True
    archive = ARCHIVE_BY_POLICY.get(str(settings.get("archive_policy")), Archive.NONE)
    actions = (
        str(settings.get("default_member_action")),
        str(settings.get("default_nonmember_action")),
    )
    linked_archive = archive is Archive.PUBLIC or (archive is Archive.PRIVATE and include_private)
    return Entry(
        name=lst.name,
        category=lst.category,
        public=public,
        posting=POSTING_BY_ACTIONS.get(actions),
        archive=archive,
        retired=lst.disabled,
        description=redact(str(settings.get("description", ""))),
        maintainers=tuple(
            maintainer(owner, redact_addresses=redact_addresses) for owner in lst.owners
        ),
        subscribe_url=None if lst.disabled else subscribe_url(web_root, lst.name, lst.domain),
        archive_url=archive_url(web_root, lst.name, lst.domain) if linked_archive else None,
    )


def build(site: Site, *, include_private: bool = False) -> Catalog:
    """The index of `site`: private lists only when `include_private` is set."""
    web_root = site.config.web_root
    entries = [
        entry
        for entry in (
            _entry(
                lst,
                web_root,
                include_private=include_private,
                redact_addresses=site.config.redact_addresses,
            )
            for lst in site.effective_lists()
        )
        if entry.public or include_private
    ]
    entries.sort(key=lambda e: e.name)
    sections = [
        Section(
            f"{category.value}-lists",
            title,
            intro,
            tuple(e for e in entries if e.category is category and not e.retired),
        )
        for category, (title, intro) in SECTIONS.items()
    ]
    sections.append(Section("retired-lists", *RETIRED, tuple(e for e in entries if e.retired)))
    return Catalog(
        domain=site.config.domain,
        web_url=web_root,
        include_private=include_private,
        sections=tuple(section for section in sections if section.entries),
    )


# -- Markdown ------------------------------------------------------------------


def markdown_cell(text: str) -> str:
    """`text` as the literal content of one GFM table cell: its blanks (line breaks
    included) as single spaces, no markup (`escaping.markdown_cell`)."""
    return escaping.markdown_cell(" ".join(text.split()))


def _markdown_row(cells: tuple[str, ...]) -> str:
    return "| " + " | ".join(cells) + " |"


def to_markdown(catalog: Catalog) -> str:
    lines = [f"# Mailing lists at {markdown_cell(catalog.domain)}", ""]
    if catalog.include_private:
        lines += ["**Internal: this page includes private lists. Do not publish it.**", ""]
    if not catalog.sections:
        lines += ["No lists.", ""]
    for section in catalog.sections:
        lines += [f"## {section.title}", "", section.intro, ""]
        lines.append(_markdown_row(COLUMNS))
        lines.append("|" + "---|" * len(COLUMNS))
        for entry in section.entries:
            cells = (entry.name, ", ".join(entry.maintainers), entry.type_label, entry.description)
            lines.append(_markdown_row(tuple(markdown_cell(cell) for cell in cells)))
        lines.append("")
    return "\n".join(lines)


# -- HTML ----------------------------------------------------------------------


@cache
def _environment() -> jinja2.Environment:
    import jinja2

    return jinja2.Environment(
        loader=jinja2.PackageLoader("listsync", "templates"),
        autoescape=True,
        finalize=_shown_in_html,
        undefined=jinja2.StrictUndefined,
        trim_blocks=True,
        lstrip_blocks=True,
        keep_trailing_newline=True,
    )


def _shown_in_html(value: Any) -> Any:
    """Every `{{ value }}` of the page: blanks as single spaces (as a browser shows them),
    control and bidi characters as visible escapes (autoescaping follows); the page's own
    style and script (`|safe`) as they are."""
    import markupsafe

    if isinstance(value, markupsafe.Markup):
        return value
    return escaping.visible(" ".join(str(value).split()))


def _asset(name: str) -> str:
    return (resources.files("listsync") / "templates" / name).read_text(encoding="utf-8")


def csp_hash(text: str) -> str:
    """A Content-Security-Policy source allowing exactly this inline script or style."""
    digest = base64.b64encode(hashlib.sha256(text.encode("utf-8")).digest()).decode("ascii")
    return f"'sha256-{digest}'"


def to_html(catalog: Catalog) -> str:
    style, script = _asset("catalog.css"), _asset("catalog.js")
    policy = (
        f"default-src 'none'; style-src {csp_hash(style)}; script-src {csp_hash(script)}; "
        "base-uri 'none'; form-action 'none'"
    )
    return (
        _environment()
        .get_template("catalog.html.j2")
        .render(catalog=catalog, columns=COLUMNS, style=style, script=script, policy=policy)
    )


# -- JSON ----------------------------------------------------------------------


def to_json_data(catalog: Catalog) -> dict[str, Any]:
    return {
        "format_version": JSON_FORMAT_VERSION,
        "domain": catalog.domain,
        "web_url": catalog.web_url,
        "include_private": catalog.include_private,
        "lists": [
            {
                "name": entry.name,
                "category": entry.category.value,
                "visibility": "public" if entry.public else "private",
                "posting": entry.posting.value if entry.posting is not None else None,
                "archive": entry.archive.value,
                "retired": entry.retired,
                "description": entry.description,
                "maintainers": list(entry.maintainers),
                "subscribe_url": entry.subscribe_url,
                "archive_url": entry.archive_url,
            }
            for entry in catalog.entries
        ],
    }


def to_json(catalog: Catalog) -> str:
    return escaping.json_text(to_json_data(catalog), indent=2) + "\n"


def render(catalog: Catalog, fmt: str) -> str:
    """The index in one of `FORMATS`."""
    renderers = {"markdown": to_markdown, "html": to_html, "json": to_json}
    return renderers[fmt](catalog)
