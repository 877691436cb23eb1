"""`listsync render`: the list of lists from the files alone, and what it never shows."""

from __future__ import annotations

import json
import re
from html.parser import HTMLParser
from pathlib import Path
from typing import Any

import pytest
from markdown_it import MarkdownIt

from helpers import REPO, Run, write_site
from listsync.catalog import type_label
from listsync.load import load_valid_site
from listsync.models import Archive, Category, Posting, Visibility

FORMATS = ("markdown", "html", "json")
CATEGORY_TITLES = ["Discussion lists", "Notification lists", "Administrative lists", "Team lists"]
HEADER = "| List | Maintainers | Type | Description |"

HOSTILE = "a | b <script>alert(1)</script> `code` *em* [x](javascript:alert(1)) &amp; \\ end"
MALLORY = "Mallory | O'Brien & Co, Multi Line"

CRAFTED_CONFIG = """\
domain: lists.example.net
web_url: https://web.example.net/mailman/
disabled_owner: devnull@example.net
"""
CRAFTED = {
    "named": (
        "description: Owners with display names.\n"
        'owners: ["Alice Example <alice@example.net>", bob@example.net,'
        " '\"carol@example.net\" <carol@example.net>']\n"
        "moderators: [mod@example.net]\n"
    ),
    "hidden": "description: Not advertised.\nvisibility: private\nowners: [dave@example.net]\n",
    "retired": (
        "description: An old list.\ncategory: notification\ndisabled: true\n"
        "owners: [erin@example.net]\n"
    ),
    "retired-hidden": (
        "description: An old private list.\nvisibility: private\ndisabled: true\nowners: []\n"
    ),
    "closed-archive": (
        "description: Public list, private archive.\ncategory: team\narchive: private\n"
        "owners: [frank@example.net]\n"
    ),
    "no-archive": (
        "description: Public list, no archive.\ncategory: team\narchive: none\n"
        "owners: [grace@example.net]\n"
    ),
    "overridden": (
        "description: Public by its field, not advertised by its settings.\n"
        "owners: [heidi@example.net]\nsettings: {advertised: false}\n"
    ),
    "hostile": (
        f"description: {json.dumps(HOSTILE)}\n"
        'owners: ["Mallory | O\'Brien & Co <mallory@example.net>",'
        ' "Multi   Line <multi@example.net>"]\n'
    ),
}


@pytest.fixture
def crafted(tmp_path: Path) -> Path:
    return write_site(tmp_path / "site", CRAFTED, config=CRAFTED_CONFIG)


def render(run: Run, root: Path, fmt: str, *extra: str) -> str:
    result = run("--root", str(root), "render", "--format", fmt, *extra)
    assert result.status == 0, result.err
    return result.out


def render_json(run: Run, root: Path, *extra: str) -> dict[str, Any]:
    data: dict[str, Any] = json.loads(render(run, root, "json", *extra))
    return data


class Tables(HTMLParser):
    """Every table row of an HTML document: its attributes and its cells' text."""

    def __init__(self, html: str) -> None:
        super().__init__(convert_charrefs=True)
        self.rows: list[tuple[dict[str, str | None], list[str]]] = []
        self.section: list[str] = []
        self.sections: list[str | None] = []
        self._cell: list[str] | None = None
        self.ids: list[str] = []
        self.hrefs: list[str] = []
        self.feed(html)

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        found = dict(attrs)
        if found.get("id"):
            self.ids.append(str(found["id"]))
        if tag == "a" and found.get("href"):
            self.hrefs.append(str(found["href"]))
        if tag == "section":
            self.section.append(str(found.get("id")))
        if tag == "tr":
            self.rows.append((found, []))
            self.sections.append(self.section[-1] if self.section else None)
        if tag in {"td", "th"}:
            self._cell = []

    def handle_endtag(self, tag: str) -> None:
        if tag in {"td", "th"} and self._cell is not None:
            self.rows[-1][1].append(" ".join("".join(self._cell).split()))
            self._cell = None

    def handle_data(self, data: str) -> None:
        if self._cell is not None:
            self._cell.append(data)

    def lists(self) -> dict[str, tuple[str | None, list[str]]]:
        """List name to (section id, cells) for every list row."""
        return {
            str(attrs["data-list"]): (section, cells)
            for (attrs, cells), section in zip(self.rows, self.sections, strict=True)
            if attrs.get("data-list")
        }


def markdown_tables(text: str) -> Tables:
    """The tables of a Markdown document as a GFM renderer (raw HTML allowed) shows them."""
    return Tables(MarkdownIt("commonmark").enable("table").render(text))


def markdown_rows(text: str) -> list[list[str]]:
    """The cells of every table row of a Markdown document, header rows left out."""
    return [cells for _, cells in markdown_tables(text).rows if cells[0] != "List"]


def markdown_sections(text: str) -> list[tuple[str, list[str]]]:
    """(heading, lines) of every '## ' section of a Markdown document."""
    sections: list[tuple[str, list[str]]] = []
    for line in text.splitlines():
        if line.startswith("## "):
            sections.append((line[3:], []))
        elif sections:
            sections[-1][1].append(line)
    return sections


def shown_names(fmt: str, text: str) -> list[str]:
    if fmt == "json":
        return [entry["name"] for entry in json.loads(text)["lists"]]
    if fmt == "html":
        return list(Tables(text).lists())
    return [cells[0] for cells in markdown_rows(text)]


def at_signs(text: str) -> list[str]:
    """Every '@' with its surroundings, outside the HTML page's style sheet (CSS @media)."""
    text = re.sub(r"<style>.*?</style>", "", text, flags=re.DOTALL)
    return re.findall(r"\S*@\S*", text)


def mentions(text: str, name: str) -> bool:
    return re.search(rf"(?<![\w-]){re.escape(name)}(?![\w-])", text) is not None


# -- the example site --------------------------------------------------------------


@pytest.mark.parametrize("fmt", FORMATS)
def test_example_site_public_output_has_public_lists_only_and_no_address(
    run: Run, fmt: str
) -> None:
    site, _ = load_valid_site(REPO)
    lists = site.effective_lists()
    public = {lst.name for lst in lists if lst.visibility is Visibility.PUBLIC}
    private = {lst.name for lst in lists} - public
    assert public
    assert private

    text = render(run, REPO, fmt)

    assert at_signs(text) == []
    assert set(shown_names(fmt, text)) == public
    assert [name for name in private if mentions(text, name)] == []
    assert "Private" not in text


def type_cells(fmt: str, text: str) -> dict[str, str]:
    """List name to what its Type column says (for JSON: what its fields say)."""
    if fmt == "json":
        return {
            e["name"]: type_label(
                e["visibility"] == "public",
                Posting(e["posting"]) if e["posting"] is not None else None,
                Archive(e["archive"]),
                retired=e["retired"],
            )
            for e in json.loads(text)["lists"]
        }
    if fmt == "html":
        return {name: cells[2] for name, (_, cells) in Tables(text).lists().items()}
    return {cells[0]: cells[2] for cells in markdown_rows(text)}


@pytest.mark.parametrize("fmt", FORMATS)
def test_include_private_shows_every_list_with_its_type(run: Run, fmt: str) -> None:
    site, _ = load_valid_site(REPO)
    lists = site.effective_lists()

    text = render(run, REPO, fmt, "--include-private")

    assert sorted(shown_names(fmt, text)) == sorted(lst.name for lst in lists)
    if fmt == "markdown":
        assert "Internal" in text
    private = {name for name, kind in type_cells(fmt, text).items() if kind.startswith("Private")}
    assert private == {lst.name for lst in lists if lst.visibility is Visibility.PRIVATE}


def test_example_markdown_has_one_table_per_category_like_the_tor_table(run: Run) -> None:
    site, _ = load_valid_site(REPO)
    public = [lst for lst in site.effective_lists() if lst.visibility is Visibility.PUBLIC]

    text = render(run, REPO, "markdown")

    sections = markdown_sections(text)
    assert [title for title, _ in sections] == CATEGORY_TITLES
    for (title, lines), category in zip(sections, Category, strict=True):
        table = [line for line in lines if line.startswith("|")]
        assert table[0] == HEADER
        assert table[1] == "|---|---|---|---|"
        expected = sorted(lst.name for lst in public if lst.category is category)
        assert [row.split(" | ")[0].removeprefix("| ") for row in table[2:]] == expected, title
        assert all(row.endswith(" |") and row.count(" | ") == 3 for row in table[2:])
    # The same row as the Tor wiki's table (reference/tor-lists-service.txt).
    tor_dev = (
        "| tor-dev | teor, pili, phw, sysrqb, gaba | Members may post, public archive "
        "| Development related discussion list. |"
    )
    assert tor_dev in text.splitlines()
    rendered = markdown_tables(text)
    assert len(rendered.rows) == len(public) + len(CATEGORY_TITLES)
    assert all(len(cells) == 4 for _, cells in rendered.rows)


def test_example_html_anchors_links_and_nothing_loaded_from_elsewhere(run: Run) -> None:
    text = render(run, REPO, "html")
    page = Tables(text)
    data = render_json(run, REPO)

    assert len(page.ids) == len(set(page.ids))
    rows = page.lists()
    assert list(rows) == [entry["name"] for entry in data["lists"]]
    for entry in data["lists"]:
        assert entry["name"] in page.ids
        assert entry["subscribe_url"] in page.hrefs
        assert entry["archive_url"] in page.hrefs
        assert rows[entry["name"]][0] == f"{entry['category']}-lists"
    assert {href for href in page.hrefs if not href.startswith("#")} <= {
        url for entry in data["lists"] for url in (entry["subscribe_url"], entry["archive_url"])
    }
    assert re.search(r"<(link|img|iframe|object|embed)\b|\bsrc=|url\(|@import", text) is None
    assert "default-src &#39;none&#39;" in text


# -- a crafted site ------------------------------------------------------------------


@pytest.mark.parametrize("fmt", FORMATS)
@pytest.mark.parametrize("include_private", [False, True], ids=["public", "internal"])
def test_no_address_ever_only_display_names_and_local_parts(
    run: Run, crafted: Path, fmt: str, include_private: bool
) -> None:
    extra = ("--include-private",) if include_private else ()

    text = render(run, crafted, fmt, *extra)

    assert at_signs(text) == []
    assert not mentions(text, "mod")  # moderators are not maintainers
    data = render_json(run, crafted, *extra)
    named = next(e for e in data["lists"] if e["name"] == "named")
    assert named["maintainers"] == ["Alice Example", "bob", "carol"]
    if fmt != "json":
        assert "Alice Example, bob, carol" in text


def test_private_and_unadvertised_lists_are_left_out_unless_asked(run: Run, crafted: Path) -> None:
    public = render_json(run, crafted)
    internal = render_json(run, crafted, "--include-private")

    assert {e["name"] for e in public["lists"]} == {
        "named",
        "retired",
        "closed-archive",
        "no-archive",
        "hostile",
    }
    assert {e["name"] for e in internal["lists"]} == set(CRAFTED)
    visibility = {e["name"]: e["visibility"] for e in internal["lists"]}
    assert visibility["hidden"] == visibility["overridden"] == "private"
    assert public["include_private"] is False
    assert internal["include_private"] is True


def test_disabled_lists_appear_only_under_retired_lists(run: Run, crafted: Path) -> None:
    markdown = render(run, crafted, "markdown")
    internal_markdown = render(run, crafted, "markdown", "--include-private")
    html = Tables(render(run, crafted, "html", "--include-private")).lists()
    data = render_json(run, crafted, "--include-private")

    sections = dict(markdown_sections(markdown))
    assert list(sections) == ["Discussion lists", "Team lists", "Retired lists"]
    assert [title for title, lines in sections.items() if any("retired" in x for x in lines)] == [
        "Retired lists"
    ]
    retired = dict(markdown_sections(internal_markdown))["Retired lists"]
    assert [line.split(" | ")[0] for line in retired if line.startswith("| retired")] == [
        "| retired",
        "| retired-hidden",
    ]
    assert html["retired"][0] == html["retired-hidden"][0] == "retired-lists"
    assert {name for name, (section, _) in html.items() if section == "retired-lists"} == {
        "retired",
        "retired-hidden",
    }
    entries = {e["name"]: e for e in data["lists"]}
    assert [e["name"] for e in data["lists"] if e["retired"]] == ["retired", "retired-hidden"]
    assert [e["name"] for e in data["lists"]][-2:] == ["retired", "retired-hidden"]
    assert entries["retired"]["subscribe_url"] is None
    assert entries["retired"]["description"] == "An old list."
    assert entries["retired"]["category"] == "notification"


def test_links_follow_web_url_and_the_archive_policy(run: Run, crafted: Path) -> None:
    public = {e["name"]: e for e in render_json(run, crafted)["lists"]}
    internal = {e["name"]: e for e in render_json(run, crafted, "--include-private")["lists"]}

    base = "https://web.example.net/mailman"
    assert public["named"]["subscribe_url"] == f"{base}/postorius/lists/named.lists.example.net/"
    assert public["named"]["archive_url"] == f"{base}/hyperkitty/list/named%40lists.example.net/"
    assert public["closed-archive"]["archive"] == "private"
    assert public["closed-archive"]["archive_url"] is None
    assert internal["closed-archive"]["archive_url"] == (
        f"{base}/hyperkitty/list/closed-archive%40lists.example.net/"
    )
    assert public["no-archive"]["archive"] == "none"
    assert public["no-archive"]["archive_url"] is None
    assert internal["no-archive"]["archive_url"] is None
    assert internal["hidden"]["archive_url"] is not None  # private lists archive privately
    html = render(run, crafted, "html")
    assert "closed-archive%40" not in html
    assert f'href="{base}/hyperkitty/list/named%40lists.example.net/"' in html


def test_web_url_defaults_to_the_domain_and_is_validated(run: Run, tmp_path: Path) -> None:
    site = write_site(tmp_path / "ok", {"one": "owners: [a@example.org]\n"})
    data = render_json(run, site)
    assert data["web_url"] == "https://lists.example.org"
    assert data["lists"][0]["subscribe_url"] == (
        "https://lists.example.org/postorius/lists/one.lists.example.org/"
    )

    bad = write_site(
        tmp_path / "bad",
        {"one": "owners: [a@example.org]\n"},
        config="domain: lists.example.org\nweb_url: ftp://lists.example.org\n",
    )
    result = run("--root", str(bad), "render")
    assert result.status == 1
    assert "listsync.yaml:2:10: web_url: 'ftp://lists.example.org' is not an http(s) URL" in (
        result.out + result.err
    )


def test_hostile_text_neither_breaks_the_markdown_table_nor_injects_markup(
    run: Run, crafted: Path
) -> None:
    text = render(run, crafted, "markdown")

    row = next(line for line in text.splitlines() if line.startswith("| hostile |"))
    assert "\\|" in row
    assert "<script>" not in text
    html = MarkdownIt("commonmark").enable("table").render(text)
    assert re.search(r"<(script|code|em|a)\b", html) is None
    rendered = {cells[0]: cells for cells in markdown_rows(text)}
    assert rendered["hostile"] == ["hostile", MALLORY, "Members may post, public archive", HOSTILE]


def test_hostile_text_is_escaped_in_html(run: Run, crafted: Path) -> None:
    text = render(run, crafted, "html")

    assert "<script>alert" not in text
    assert text.count("<script") == 1  # the page's own filter script
    assert "&lt;script&gt;" in text
    name, maintainers, kind, description = Tables(text).lists()["hostile"][1]
    assert name == "hostile subscribe archive"  # the name cell holds the links too
    assert [maintainers, kind, description] == [
        MALLORY,
        "Members may post, public archive",
        HOSTILE,
    ]


def test_json_shape(run: Run, crafted: Path) -> None:
    data = render_json(run, crafted)

    assert list(data) == ["format_version", "domain", "web_url", "include_private", "lists"]
    assert data["format_version"] == 1
    assert data["domain"] == "lists.example.net"
    assert data["web_url"] == "https://web.example.net/mailman"
    named = next(e for e in data["lists"] if e["name"] == "named")
    assert named == {
        "name": "named",
        "category": "discussion",
        "visibility": "public",
        "posting": "members",
        "archive": "public",
        "retired": False,
        "description": "Owners with display names.",
        "maintainers": ["Alice Example", "bob", "carol"],
        "subscribe_url": "https://web.example.net/mailman/postorius/lists/named.lists.example.net/",
        "archive_url": "https://web.example.net/mailman/hyperkitty/list/named%40lists.example.net/",
    }
    order = [(e["retired"], e["category"], e["name"]) for e in data["lists"]]
    categories = [c.value for c in Category]
    assert order == sorted(order, key=lambda o: (o[0], categories.index(o[1]), o[2]))


KINDS = {
    "default": "description: As the site says.\nowners: [a@example.net]\n",
    "open": "description: Anyone.\nposting: open\narchive: private\nowners: [b@example.net]\n",
    "moderated": "description: Held.\nposting: moderated\narchive: none\nowners: [c@example.net]\n",
    "announce": "description: News.\nposting: announce\nowners: [d@example.net]\n",
    "held-by-settings": (
        "description: Moderated through settings.\nowners: [e@example.net]\n"
        "settings: {default_member_action: hold, default_nonmember_action: hold}\n"
    ),
    "own-rules": (
        "description: Non-members discarded.\nowners: [f@example.net]\n"
        "settings: {default_nonmember_action: discard}\n"
    ),
    "secret": "description: Hidden.\nvisibility: private\nowners: [g@example.net]\n",
    "gone": "description: Old.\nposting: members\ndisabled: true\nowners: []\n",
}
KIND_LABELS = {
    "default": "Members may post, public archive",
    "open": "Anyone may post, private archive",
    "moderated": "Moderated, no archive",
    "announce": "Announcements only, public archive",
    "held-by-settings": "Moderated, public archive",
    "own-rules": "Own posting rules, public archive",
    "secret": "Private, members may post, private archive",
    "gone": "No more posts, public archive",
}


@pytest.mark.parametrize("fmt", FORMATS)
def test_type_says_who_may_post_and_the_archive_alike_in_every_form(
    run: Run, tmp_path: Path, fmt: str
) -> None:
    site = write_site(tmp_path / "site", KINDS, config=CRAFTED_CONFIG)

    public = type_cells(fmt, render(run, site, fmt))
    internal = type_cells(fmt, render(run, site, fmt, "--include-private"))

    assert internal == KIND_LABELS
    assert public == {name: kind for name, kind in KIND_LABELS.items() if name != "secret"}


def test_json_posting_follows_the_settings_as_mailman_would(run: Run, tmp_path: Path) -> None:
    site = write_site(tmp_path / "site", KINDS, config=CRAFTED_CONFIG)

    data = render_json(run, site, "--include-private")

    posting = {e["name"]: e["posting"] for e in data["lists"]}
    assert posting == {
        "default": "members",
        "open": "open",
        "moderated": "moderated",
        "announce": "announce",
        "held-by-settings": "moderated",
        "own-rules": None,
        "secret": "members",
        "gone": "members",
    }


# -- the command ---------------------------------------------------------------------


@pytest.mark.parametrize(
    ("name", "extra", "expected"),
    [
        ("page.html", (), "html"),
        ("page.HTM", (), "html"),
        ("lists.md", (), "markdown"),
        ("lists.json", (), "json"),
        ("lists.json", ("--format", "json"), "json"),
        ("lists.txt", (), "markdown"),
        ("lists.txt", ("--format", "html"), "html"),
    ],
)
def test_render_out_takes_the_format_from_the_file_name(
    run: Run, tmp_path: Path, name: str, extra: tuple[str, ...], expected: str
) -> None:
    out = tmp_path / name

    result = run("--root", str(REPO), "render", *extra, "--out", str(out))

    assert result.status == 0, result.err
    assert out.read_text(encoding="utf-8") == render(run, REPO, expected)


def test_render_out_refuses_a_format_its_name_contradicts(run: Run, tmp_path: Path) -> None:
    out = tmp_path / "page.html"

    result = run("--root", str(REPO), "render", "--format", "markdown", "--out", str(out))

    assert result.status == 1
    assert f"error: --out {out} writes html (by its name), not --format markdown" in result.err
    assert not out.exists()


def test_render_needs_no_mailman_and_writes_out(
    run: Run, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, unused_port: int
) -> None:
    monkeypatch.setenv("MAILMAN_REST_URL", f"http://127.0.0.1:{unused_port}/3.1")
    monkeypatch.delenv("MAILMAN_REST_USER", raising=False)
    monkeypatch.delenv("MAILMAN_REST_PASSWORD", raising=False)
    out = tmp_path / "lists.html"
    site, _ = load_valid_site(REPO)
    public = sum(1 for lst in site.effective_lists() if lst.visibility is Visibility.PUBLIC)

    result = run("--root", str(REPO), "render", "--format", "html", "--out", str(out))

    assert result.status == 0, result.err
    assert result.out == ""
    assert f"wrote {out}: {public} list(s), 0 retired; private lists left out" in result.err
    assert out.read_text(encoding="utf-8") == render(run, REPO, "html")


def test_render_says_when_it_cannot_write_out(run: Run, tmp_path: Path) -> None:
    out = tmp_path / "missing" / "lists.html"

    result = run("--root", str(REPO), "render", "--format", "html", "--out", str(out))

    assert result.status == 1
    assert f"error: cannot write {out}: No such file or directory" in result.err


def test_render_refuses_an_invalid_site(run: Run, tmp_path: Path) -> None:
    site = write_site(tmp_path, {"good": "owners: [a@example.org]\n", "bad": "owners: x\n"})

    result = run("--root", str(site), "render", "--format", "json")

    assert result.status == 1
    assert result.out.startswith("lists/bad.yaml:1:9: owners: expected a list")


def test_readme_json_example_is_what_render_writes(run: Run) -> None:
    readme = (REPO / "README.md").read_text(encoding="utf-8")
    section = readme.split("## The list of lists", 1)[1]
    example = json.loads(section.split("```json\n", 1)[1].split("```", 1)[0])

    data = render_json(run, REPO)

    assert list(example) == list(data)
    assert {k: v for k, v in example.items() if k != "lists"} == {
        k: v for k, v in data.items() if k != "lists"
    }
    shown = {entry["name"]: entry for entry in data["lists"]}
    assert [shown[entry["name"]] for entry in example["lists"]] == example["lists"]
