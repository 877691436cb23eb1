"""Hostile input: nothing in a file, in Mailman or in git changes an output's structure.

An author of a merge request writes list files, template files and commit
messages; a list owner edits live values in Postorius or over REST, and plans
show those too. Validation refuses control characters (line breaks, ANSI
escapes, bidi controls, separators) in every single-line string of the files,
plain file names in templates/, and a ban that would refuse the list's own
owners; every output escapes what it prints, so a live value or a commit
subject cannot close the plan's code fence, fake its "No changes" line or fold
real changes out of sight. The forged plans are read back with markdown-it-py,
as GitLab reads them.
"""

from __future__ import annotations

import json
import re
import unicodedata
from datetime import UTC, datetime
from html.parser import HTMLParser
from pathlib import Path

import pytest
from mailmanclient import Client
from markdown_it import MarkdownIt
from markdown_it.token import Token

from helpers import Result, Run, git, write_site
from listsync import catalog, lifecycle
from listsync.escaping import HIDDEN_CATEGORIES, visible
from listsync.models import Archive, Category, Posting
from listsync.render import NO_CHANGES
from proxy import Proxy

MARKDOWN = MarkdownIt("commonmark").enable(["table", "strikethrough"])
OWNER = "owners: [alice@example.org]\n"
SITE = "domain: lists.example.org\ndisabled_owner: devnull@example.org\n"
TEMPLATES_SITE = SITE + "templates_url: https://lists.example.org/templates\n"

# What a list owner can put in Mailman: each closes a ```diff fence, prints the plan's
# "No changes" line and opens a <details> that would fold what follows out of sight.
FORGED_TAIL = f"\n````\n\n{NO_CHANGES}\n\n<details>\n"
# Mailman refuses a line feed in a description, not a carriage return (a line break to
# Markdown) nor U+2028.
FORGED_DESCRIPTION = f"x\r```\r\r**{NO_CHANGES}**\r\r<details>\x1b[2J\u202e\u2028"
FORGED_BAN = "^x" + FORGED_TAIL  # a regexp Mailman takes: it compiles
FORGED_FILTER = "\x1b\\[2J\u202e" + FORGED_TAIL
FORGED_NAME = "Evil\x1b[2J\u202e ```\n<details>"


def raw_hidden(text: str) -> list[str]:
    """Control, format and separator characters in `text` besides its line breaks."""
    return [c for c in text if c != "\n" and unicodedata.category(c) in HIDDEN_CATEGORIES]


def make_site(root: Path, lists: dict[str, str], config: str = SITE) -> Path:
    site = write_site(root, lists, config=config)
    (site / "templates").mkdir(exist_ok=True)
    for name in ("footer.txt", "a b.txt", ".hidden.txt", "x%2Fy.txt"):
        (site / "templates" / name).write_text("Plain text.\n")
    return site


def walk(tokens: list[Token]) -> list[Token]:
    """Every token, inline children included."""
    found: list[Token] = []
    for token in tokens:
        found.append(token)
        found.extend(walk(token.children or []))
    return found


# -- validation: refused at file:LINE:COL, nothing sent to Mailman -----------------------------

LIST_FILE_CASES = {  # id: (list file lists/xx.yaml, what validate prints for it)
    "description-escape": (
        OWNER + 'description: "Dev \\e[2J list"\n',
        "lists/xx.yaml:2:14: description: holds \\x1b (U+001B) at character 5: one line",
    ),
    "description-bidi": (
        OWNER + 'description: "Dev \\u202e tsil"\n',
        "lists/xx.yaml:2:14: description: holds \\u202e (U+202E RIGHT-TO-LEFT OVERRIDE)",
    ),
    "description-separator": (
        OWNER + 'description: "one\\u2028two"\n',
        "lists/xx.yaml:2:14: description: holds \\u2028 (U+2028 LINE SEPARATOR) at character 4",
    ),
    "owner-display-name": (
        'owners: ["Bob \\e[2J <bob@example.org>"]\n',
        "lists/xx.yaml:1:10: owners[0]: holds \\x1b (U+001B) at character 5",
    ),
    "owner-line-break": (
        'owners: ["bob@example.org\\n"]\n',
        "lists/xx.yaml:1:10: owners[0]: holds \\n (U+000A) at character 16",
    ),
    "moderator-display-name": (
        OWNER + 'moderators: ["Mod \\u202e <mod@example.org>"]\n',
        "lists/xx.yaml:2:14: moderators[0]: holds \\u202e (U+202E",
    ),
    "nonmember-key": (
        OWNER + 'nonmembers:\n  "bot@example.org\\n": accept\n',
        "lists/xx.yaml:3:3: nonmembers.'bot@example.org\\n': holds \\n (U+000A) at character 16",
    ),
    "header": (
        OWNER + 'header_filters:\n  - {header: "X-Spam\\n", pattern: x}\n',
        "lists/xx.yaml:3:14: header_filters[0].header: 'X-Spam\\n' is not a header name",
    ),
    "header-pattern": (
        OWNER + 'header_filters:\n  - {header: X-Spam, pattern: "a\\n```\\n<details>"}\n',
        "lists/xx.yaml:3:31: header_filters[0].pattern: holds \\n (U+000A) at character 2",
    ),
    "ban-regexp": (
        OWNER + 'bans: ["^x\\n```"]\n',
        "lists/xx.yaml:2:8: bans[0]: holds \\n (U+000A) at character 3",
    ),
    "ban-address": (
        OWNER + 'bans: ["troll\\u202e@example.com"]\n',
        "lists/xx.yaml:2:8: bans[0]: holds \\u202e (U+202E RIGHT-TO-LEFT OVERRIDE) at character 6",
    ),
    "template-name": (
        OWNER + 'templates:\n  "list:member:regular:footer\\e[2J": templates/footer.txt\n',
        "lists/xx.yaml:3:3: templates.'list:member:regular:footer\\x1b[2J': unknown list"
        " template 'list:member:regular:footer\\x1b[2J'",
    ),
    "template-file-blank": (
        OWNER + "templates:\n  list:member:regular:footer: templates/a b.txt\n",
        "lists/xx.yaml:3:31: templates.list:member:regular:footer: 'templates/a b.txt' is not"
        " a plain file name in templates/",
    ),
    "template-file-dot": (
        OWNER + "templates:\n  list:member:regular:footer: templates/.hidden.txt\n",
        "lists/xx.yaml:3:31: templates.list:member:regular:footer: 'templates/.hidden.txt' is"
        " not a plain file name in templates/",
    ),
    "template-file-percent": (
        OWNER + "templates:\n  list:member:regular:footer: templates/x%2Fy.txt\n",
        "lists/xx.yaml:3:31: templates.list:member:regular:footer: 'templates/x%2Fy.txt' is"
        " not a plain file name",
    ),
    "template-file-line-break": (
        OWNER + 'templates:\n  list:member:regular:footer: "templates/a\\nb.txt"\n',
        "lists/xx.yaml:3:31: templates.list:member:regular:footer: 'templates/a\\nb.txt' is"
        " not a plain file name",
    ),
    "template-file-empty-part": (
        OWNER + "templates:\n  list:member:regular:footer: templates//footer.txt\n",
        "lists/xx.yaml:3:31: templates.list:member:regular:footer: 'templates//footer.txt' is"
        " not a plain file name",
    ),
    "setting-one-line": (
        OWNER + 'settings:\n  display_name: "X\\nNo changes."\n',
        "lists/xx.yaml:3:17: settings.display_name: holds \\n (U+000A) at character 2: one line",
    ),
    "setting-escape": (
        OWNER + 'settings:\n  subject_prefix: "\\e[1m[x] "\n',
        "lists/xx.yaml:3:19: settings.subject_prefix: holds \\x1b (U+001B) at character 1",
    ),
    "setting-multi-line-bell": (
        OWNER + 'settings:\n  info: "First line.\\nSecond\\a line."\n',
        "lists/xx.yaml:3:9: settings.info: holds \\x07 (U+0007) at character 19: line breaks"
        " and tabs only",
    ),
    "setting-list-item": (
        OWNER + 'settings:\n  filter_extensions: [exe, "scr\\u202e"]\n',
        "lists/xx.yaml:3:22: settings.filter_extensions: holds \\u202e (U+202E",
    ),
}

SITE_CASES = {  # id: (listsync.yaml, what validate prints for it)
    "naming": (
        SITE + 'naming: "^[a-z-]+\\n$"\n',
        "listsync.yaml:3:9: naming: holds \\n (U+000A) at character 9",
    ),
    "web-url": (
        SITE + 'web_url: "https://lists.example.org/\\e[2J"\n',
        "listsync.yaml:3:10: web_url: 'https://lists.example.org/\\x1b[2J' is not an http(s) URL",
    ),
    "disabled-owner": (
        'domain: lists.example.org\ndisabled_owner: "Dev \\e <devnull@example.org>"\n',
        "listsync.yaml:2:17: disabled_owner: holds \\x1b (U+001B) at character 5",
    ),
    "inactive-after": (
        SITE + 'lifecycle: {inactive_after: "18\\u2028months"}\n',
        "listsync.yaml:3:29: lifecycle.inactive_after: holds \\u2028 (U+2028 LINE SEPARATOR)",
    ),
    "site-template-file": (
        TEMPLATES_SITE + "templates:\n  list:member:regular:footer: templates/a b.txt\n",
        "listsync.yaml:5:31: templates.list:member:regular:footer: 'templates/a b.txt' is not"
        " a plain file name",
    ),
}


def refused(run: Run, site: Path, expected: str, connected: Proxy) -> Result:
    result = run("--root", str(site), "validate")
    assert result.status == 1
    assert expected in result.out, result.out
    assert raw_hidden(result.out + result.err) == []
    as_json = run("--root", str(site), "validate", "--format", "json")
    assert as_json.status == 1
    assert raw_hidden(as_json.out) == []
    assert json.loads(as_json.out)["errors"] >= 1
    planned = run("--root", str(site), "plan")
    assert planned.status == 1
    assert "nothing was written to Mailman" in planned.err
    assert connected.recorder.requests == []
    return result


@pytest.mark.parametrize(("text", "expected"), LIST_FILE_CASES.values(), ids=LIST_FILE_CASES)
def test_a_control_character_or_odd_name_in_a_list_file_is_refused_at_its_place(
    run: Run, tmp_path: Path, connected: Proxy, text: str, expected: str
) -> None:
    site = make_site(tmp_path, {"xx": text, "fine": OWNER}, TEMPLATES_SITE)
    result = refused(run, site, expected, connected)
    assert result.out.endswith("1 valid list file(s), 1 error(s), 0 warning(s)\n"), result.out


@pytest.mark.parametrize(("config", "expected"), SITE_CASES.values(), ids=SITE_CASES)
def test_a_control_character_or_odd_name_in_the_site_config_is_refused_at_its_place(
    run: Run, tmp_path: Path, connected: Proxy, config: str, expected: str
) -> None:
    site = make_site(tmp_path, {"fine": OWNER}, config)
    refused(run, site, expected, connected)


def test_multi_line_settings_keep_line_breaks_and_tabs_and_no_other_control(
    run: Run, tmp_path: Path
) -> None:
    good = OWNER + 'settings:\n  info: "First line.\\n\\tSecond line."\n'
    good += "  autoresponse_postings_text: |\n    Thanks.\n    \tThe owners.\n"
    bad = OWNER + 'settings:\n  autoresponse_postings_text: "Thanks.\\n\\e[2JThe owners."\n'
    result = run("--root", str(make_site(tmp_path, {"good": good, "bad": bad})), "validate")
    assert result.out == (
        "lists/bad.yaml:3:31: settings.autoresponse_postings_text: holds \\x1b (U+001B) at"
        " character 9: line breaks and tabs only, no other control character\n"
        "1 valid list file(s), 1 error(s), 0 warning(s)\n"
    )


# -- a ban that would refuse the list's own people ------------------------------------------

BAN_CASES = {
    "address-equal-to-an-owner": (
        "owners: [alice@example.org]\nbans: [troll@example.com, Alice@Example.org]\n",
        "lists/xx.yaml:2:27: bans[1]: Alice@Example.org bans the list's owner"
        " alice@example.org: Mailman refuses to add a banned address",
    ),
    "regexp-matching-an-owner-ignoring-case": (
        "owners: [alice@example.org]\nbans: ['^ALICE@']\n",
        "lists/xx.yaml:2:8: bans[0]: ^ALICE@ bans the list's owner alice@example.org",
    ),
    "regexp-matching-a-moderator": (
        OWNER + "moderators: ['Mod <mod@example.org>']\nbans: ['^m.d@example[.]org$']\n",
        "lists/xx.yaml:3:8: bans[0]: ^m.d@example[.]org$ bans the list's moderator mod@example.org",
    ),
    "regexp-matching-the-owner-a-disabled-list-gets": (
        "disabled: true\nbans: ['^devnull@']\n",
        "lists/xx.yaml:2:8: bans[0]: ^devnull@ bans the site's disabled_owner devnull@example.org,"
        " the owner a disabled list gets: Mailman would refuse to add it",
    ),
}


# Bans that spare the list's people, on an enabled list and on a disabled one (whose
# disable ban, ^.*@.*, the procedure owns).
SPARING = {
    "open": OWNER + "bans: ['^al@', '^.*@spam[.]example$', alice@example.net]\n",
    "retired": "disabled: true\nowners: [alice@example.org]\nbans: [troll@example.com]\n",
}


@pytest.mark.parametrize(("text", "expected"), BAN_CASES.values(), ids=BAN_CASES)
def test_a_ban_matching_the_lists_own_people_is_refused(
    run: Run, tmp_path: Path, connected: Proxy, text: str, expected: str
) -> None:
    site = make_site(tmp_path, {"xx": text, **SPARING})
    result = refused(run, site, expected, connected)
    assert result.out.endswith("2 valid list file(s), 1 error(s), 0 warning(s)\n"), result.out


def test_the_ban_error_masks_addresses_on_a_redacting_site(run: Run, tmp_path: Path) -> None:
    text = "owners: [alice@example.org]\nbans: ['^alice@example[.]org$']\n"
    site = make_site(tmp_path, {"xx": text}, SITE + "redact_addresses: true\n")
    result = run("--root", str(site), "validate")
    assert result.status == 1
    masked = "lists/xx.yaml:2:8: bans[0]: ***@example[.]org$ bans the list's owner a***@example.org"
    assert masked in result.out
    assert "alice" not in result.out + result.err


# -- templates_url: a password never printed ------------------------------------------------


def test_a_templates_url_with_a_password_is_refused_without_showing_it(
    run: Run, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    config = SITE + "templates_url: https://ci:s3cr3t-Pa55@lists.example.org/templates\n"
    site = make_site(tmp_path, {"xx": OWNER}, config)
    result = run("--root", str(site), "validate")
    assert result.status == 1
    assert (
        "listsync.yaml:3:16: templates_url: 'https://***@lists.example.org/templates' holds '@'"
    ) in result.out
    assert "s3cr3t" not in result.out + result.err

    site = make_site(tmp_path / "env", {"xx": OWNER}, TEMPLATES_SITE)
    monkeypatch.setenv("LISTSYNC_TEMPLATES_URL", "https://ci:hunter2-X@staging.example.org/t")
    result = run("--root", str(site), "validate")
    assert result.status == 1
    assert (
        "listsync.yaml:1:1: templates_url: LISTSYNC_TEMPLATES_URL:"
        " 'https://***@staging.example.org/t' holds '@'"
    ) in result.out
    assert "hunter2" not in result.out + result.err


# -- live values from Mailman cannot forge the plan -------------------------------------------


def list_bodies(text_plan: str) -> dict[str, list[str]]:
    """Each list's lines in the text plan, by the list's address."""
    bodies: dict[str, list[str]] = {}
    current: list[str] | None = None
    for line in text_plan.splitlines():
        if line[:2] in {"+ ", "~ ", "? "} and "@" in line.split(" ", 2)[1]:
            current = bodies.setdefault(line.split(" ", 2)[1], [])
        elif line.startswith("    ") and current is not None:
            current.append(line[4:])
        else:
            current = None
    return bodies


def plan_structure(markdown: str) -> list[tuple[str, str]]:
    """The plan as GitLab would show it: its headings (h4: one per list, by the address in
    its code span) and code blocks, in order; fails on any raw HTML."""
    tokens = MARKDOWN.parse(markdown)
    assert [t.type for t in walk(tokens) if t.type.startswith("html")] == []
    structure: list[tuple[str, str]] = []
    for index, token in enumerate(tokens):
        if token.type == "heading_open" and token.tag == "h4":
            children = tokens[index + 1].children or []
            (address,) = [child.content for child in children if child.type == "code_inline"]
            structure.append(("list", address))
        elif token.type == "fence":
            assert token.info == "diff"
            structure.append(("diff", token.content))
    paragraphs = [tokens[i + 1].content for i, t in enumerate(tokens) if t.type == "paragraph_open"]
    assert not [p for p in paragraphs if "No changes" in p], paragraphs
    return structure


def test_live_values_from_mailman_cannot_forge_the_plan(
    run: Run, tmp_path: Path, domain: str, connected: Proxy, mailman_client: Client
) -> None:
    owned = "owners: [owner@example.org]\nnonmembers: {}\nheader_filters: []\nbans: []\n"
    lists = {"calm": "description: Calm.\nowners: [carol@example.org]\n", "hostile": owned}
    site = make_site(tmp_path, lists, f"domain: {domain}\ndisabled_owner: devnull@example.org\n")
    assert run("--root", str(site), "apply", "--yes").status == 0

    # A list owner's values, set over REST as Postorius would, all hostile.
    hostile = mailman_client.get_list(f"hostile@{domain}")
    settings = hostile.settings
    settings["description"] = FORGED_DESCRIPTION
    settings["display_name"] = FORGED_NAME.replace("\n", " ")
    settings.save()
    hostile.add_owner("evil@example.org", display_name=FORGED_NAME)
    hostile.header_matches.add("X-Evil", FORGED_FILTER, "hold")
    hostile.bans.add(FORGED_BAN)
    # ... and the change the forgery would hide: a new owner, from the files.
    more = owned.replace("[owner@", "[newowner@example.org, owner@")
    (site / "lists" / "hostile.yaml").write_text(more)
    (site / "lists" / "calm.yaml").write_text("description: Calmer.\nowners: [carol@example.org]\n")

    plan_md, plan_txt = tmp_path / "plan.md", tmp_path / "plan.txt"
    planned = run("--root", str(site), "plan", "--out", str(plan_md), "--out", str(plan_txt))
    assert planned.status == 0, planned.err
    shown = run("--root", str(site), "plan")
    assert shown.out == plan_txt.read_text()

    text = plan_txt.read_text()
    assert raw_hidden(text) == []
    assert NO_CHANGES not in [line.strip() for line in text.splitlines()]
    bodies = list_bodies(text)
    assert list(bodies) == [f"calm@{domain}", f"hostile@{domain}"]
    assert {
        "+ owner newowner@example.org",
        "- owner evil@example.org",
        f"- ban {visible(FORGED_BAN)}",
        f'~ description: {visible(json.dumps(FORGED_DESCRIPTION, ensure_ascii=False))} -> ""',
    } <= set(bodies[f"hostile@{domain}"]), text
    assert (
        f"- header filter x-evil ~ {visible(FORGED_FILTER)} -> hold" in bodies[f"hostile@{domain}"]
    )

    structure = plan_structure(plan_md.read_text())
    assert structure == [
        ("list", f"calm@{domain}"),
        ("diff", "".join(f"{line}\n" for line in bodies[f"calm@{domain}"])),
        ("list", f"hostile@{domain}"),
        ("diff", "".join(f"{line}\n" for line in bodies[f"hostile@{domain}"])),
    ]

    data = json.loads(run("--root", str(site), "plan", "--format", "json").out)
    (changes,) = [lp["changes"] for lp in data["lists"] if lp["name"] == "hostile"]
    assert {"type": "remove_ban", "pattern": FORGED_BAN} in changes, "JSON keeps values exact"


def test_a_commit_subject_and_author_cannot_forge_the_plan(
    run: Run, tmp_path: Path, domain: str, connected: Proxy
) -> None:
    subject = (
        "Add `tor-dev` <details><summary>fine</summary> | *ok* [x](javascript:alert(1))"
        " &lt;b&gt; \x1b[2J\u202e ``` ~~gone~~ $x$ # end"
    )
    author = "Mallory *x* | ~y~ ``` \u202e <mallory@example.org>"
    site = make_site(tmp_path, {"tor-dev": OWNER}, f"domain: {domain}\n")
    git(site, "init", "--quiet", "--initial-branch=main")
    git(site, "add", "--all")
    git(site, "commit", "--quiet", "--message", f"{subject}\n\nbody", author=author)

    planned = run("--root", str(site), "plan", "--format", "text")
    assert planned.status == 0, planned.err
    assert raw_hidden(planned.out) == []
    (heading,) = [line for line in planned.out.splitlines() if line.startswith("+ tor-dev@")]
    assert heading.endswith(f"Mallory *x* | ~y~ ``` \\u202e: {visible(subject)}"), heading

    markdown = run("--root", str(site), "plan", "--format", "markdown").out
    assert raw_hidden(markdown) == []
    tokens = MARKDOWN.parse(markdown)
    assert [t.type for t in walk(tokens) if t.type.startswith("html")] == []
    (commit,) = [t for t in tokens if t.type == "inline" and t.content.startswith("Last commit")]
    children = commit.children or []
    assert [c.type for c in children] == ["text", "code_inline", "text"], children
    shown = "".join(c.content for c in children)
    assert shown.endswith(f" by Mallory *x* | ~y~ ``` \\u202e: {visible(subject)}"), shown
    assert len([t for t in tokens if t.type == "fence"]) == 1


# -- the report and the list of lists --------------------------------------------------------


def test_the_report_keeps_live_names_and_owners_in_their_cells() -> None:
    when = datetime(2026, 1, 1, tzinfo=UTC)
    evil = "evil|x@example.org\n| --- |\n<details>\x1b[2J"
    facts = lifecycle.ListFacts(
        "legacy", False, False, when, None, 3, (evil, "# not a heading", "1. no list")
    )
    report = lifecycle.Report(
        domain="lists.example.org",
        as_of=when,
        inactive_after="18 months",
        inactive=(),
        new=(),
        ownerless=(lifecycle.OwnershipProblem(facts, f"owned only by {evil}"),),
        unmanaged=(facts,),
    )
    person = lifecycle.Person(evil, "owner", (), ("legacy@lists.example.org",))
    markdown = lifecycle.to_markdown(report)
    assert raw_hidden(markdown) == []
    tokens = MARKDOWN.parse(markdown)
    assert [t.type for t in walk(tokens) if t.type.startswith("html")] == []
    assert [t.type for t in tokens].count("table_open") == 2
    assert [t.type for t in tokens].count("tr_open") == 4, "a header and one row each"
    cells = ["".join(c.content for c in t.children or []) for t in tokens if t.type == "inline"]
    assert visible(", ".join(facts.owners)) in cells
    person_markdown = lifecycle.render_person(person, "lists.example.org", "markdown")
    assert raw_hidden(person_markdown) == []
    person_tokens = MARKDOWN.parse(person_markdown)
    assert [t.type for t in walk(person_tokens) if t.type.startswith("html")] == []
    assert len([t for t in person_tokens if t.type == "bullet_list_open"]) == 1
    assert raw_hidden(lifecycle.render_person(person, "lists.example.org", "text")) == []
    assert raw_hidden(lifecycle.to_text(report)) == []
    assert raw_hidden(lifecycle.render(report, "json")) == []
    assert json.loads(lifecycle.render(report, "json"))["unmanaged"][0]["owners"][0] == evil


class _Elements(HTMLParser):
    def __init__(self) -> None:
        super().__init__()
        self.elements: list[tuple[str, dict[str, str | None]]] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.elements.append((tag, dict(attrs)))


def test_the_html_page_escapes_every_value_in_text_and_attributes() -> None:
    name = 'x" onmouseover="alert(1)'
    entry = catalog.Entry(
        name=name,
        category=Category.DISCUSSION,
        public=True,
        posting=Posting.MEMBERS,
        archive=Archive.PUBLIC,
        retired=False,
        description="<b>bold</b>\x1b[2J\u202e '\" &amp;",
        maintainers=("<i>m</i>",),
        subscribe_url="https://x.org/a\"b'c<d>",
        archive_url=None,
    )
    section = catalog.Section("discussion-lists", "Discussion lists", "Intro.", (entry,))
    page = catalog.to_html(catalog.Catalog("lists.example.org", "https://x.org", False, (section,)))
    assert raw_hidden(page) == []
    parser = _Elements()
    parser.feed(page)
    tags = [tag for tag, _ in parser.elements]
    assert "b" not in tags
    assert "i" not in tags
    (row,) = [attrs for tag, attrs in parser.elements if tag == "tr" and "data-list" in attrs]
    assert set(row) == {"id", "data-list", "data-search"}
    assert row["id"] == row["data-list"] == name
    links = [attrs["href"] for tag, attrs in parser.elements if tag == "a"]
    assert "https://x.org/a\"b'c<d>" in links
    assert "\\x1b[2J\\u202e" in page


# -- the terminal: colours from listsync, never from a value -----------------------------------


def test_a_forged_snapshot_drives_neither_the_terminal_nor_rich(
    run: Run, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    markup = "[bold red]not markup[/] :warning:"
    site = make_site(tmp_path, {"tor-dev": OWNER + "bans: []\nheader_filters: []\n"})
    settings = {"description": f"{markup} \x1b]0;title\x07\x9b2J\u202e", "display_name": "tor-dev"}
    snapshot = {
        "format": "listsync-snapshot",
        "format_version": 2,
        "taken_at": "2026-11-23T10:00:00Z",
        "server": f"GNU Mailman 3.3.10 ({markup}\x1b[2J)",
        "domain": "lists.example.org",
        "domain_exists": True,
        "languages": ["en"],
        "lists": {
            "tor-dev": {
                "settings": settings,
                "owners": ["alice@example.org"],
                "moderators": [],
                "bans": [FORGED_BAN],
                "templates": {},
                "nonmembers": {},
                "header_filters": [["x-evil", FORGED_FILTER, "hold"]],
            }
        },
    }
    (site / "snapshot.json").write_text(json.dumps(snapshot))
    command = ("--root", str(site), "plan", "--live", str(site / "snapshot.json"))
    monkeypatch.delenv("NO_COLOR", raising=False)
    piped = run(*command)
    assert piped.status == 0, piped.err
    monkeypatch.setenv("FORCE_COLOR", "1")  # what rich takes for a terminal
    coloured = run(*command)
    assert coloured.status == 0, coloured.err
    assert "\x1b[33m~ tor-dev@lists.example.org (update)" in coloured.out, "coloured"
    plain = re.sub(r"\x1b\[[0-9;]*m", "", coloured.out)
    assert plain == piped.out, "rich printed the text as it is, markup and all"
    assert raw_hidden(plain) == []
    assert f"~ description: {json.dumps(markup)[:-1]}" in plain
    assert "\\x1b[2J" in plain
