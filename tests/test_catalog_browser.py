"""The HTML list of lists as a person sees it: Debian's headless Chromium, driven by Playwright.

Chromium is not optional: `.ci/run` installs it, so a missing browser fails
these tests with a message saying how to install it, rather than skipping.
Nothing is downloaded (never `playwright install`); the page is opened from
a file:// URL and must load nothing else.
"""

from __future__ import annotations

import json
import shutil
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from playwright.sync_api import Browser, Page, Request, expect, sync_playwright

from helpers import REPO
from listsync.catalog import type_label
from listsync.cli import main
from listsync.models import Archive, Posting

CHROMIUM = Path("/usr/bin/chromium")
# Without the background-networking flags Chromium keeps dialling out, and the
# closed network refuses it.
CHROMIUM_ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]
# name: (width, height, is_mobile); a mobile context honours <meta name="viewport">.
VIEWPORTS = {"desktop": (1280, 900, False), "phone": (390, 844, True)}
ROWS = "tr[data-list]"


@pytest.fixture(scope="session")
def browser() -> Iterator[Browser]:
    if not CHROMIUM.is_file():
        found = shutil.which("chromium")
        pytest.fail(
            f"Chromium is not installed at {CHROMIUM}"
            + (f" (found {found})" if found else "")
            + ": install Debian's package with 'apt-get install -y chromium' (.ci/run does)",
            pytrace=False,
        )
    with sync_playwright() as playwright:
        launched = playwright.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_ARGS)
        yield launched
        launched.close()


@dataclass(frozen=True)
class Rendered:
    html: Path
    lists: list[dict[str, Any]]


def _render(root: Path, out: Path, fmt: str) -> None:
    status = main(["--root", str(root), "render", "--format", fmt, "--out", str(out)])
    assert status == 0


@pytest.fixture(scope="module")
def rendered(tmp_path_factory: pytest.TempPathFactory) -> Rendered:
    """The example site's public page, and its JSON form to compute expectations from."""
    out = tmp_path_factory.mktemp("catalog")
    _render(REPO, out / "lists.html", "html")
    _render(REPO, out / "lists.json", "json")
    data = json.loads((out / "lists.json").read_text(encoding="utf-8"))
    return Rendered(out / "lists.html", data["lists"])


@dataclass
class Opened:
    page: Page
    requests: list[str]
    console_errors: list[str]


@pytest.fixture(params=sorted(VIEWPORTS))
def opened(
    request: pytest.FixtureRequest, browser: Browser, rendered: Rendered
) -> Iterator[Opened]:
    width, height, mobile = VIEWPORTS[request.param]
    context = browser.new_context(
        viewport={"width": width, "height": height},
        is_mobile=mobile,
        has_touch=mobile,
        device_scale_factor=2 if mobile else 1,
    )
    context.set_default_timeout(10_000)
    page = context.new_page()
    seen = Opened(page, [], [])

    def on_request(req: Request) -> None:
        seen.requests.append(req.url)

    page.on("request", on_request)
    page.on(
        "console", lambda msg: seen.console_errors.append(msg.text) if msg.type == "error" else None
    )
    page.on("pageerror", lambda error: seen.console_errors.append(str(error)))
    try:
        page.goto(rendered.html.as_uri())
        # The page's script unhides the filter box: hidden, it did not run (CSP? error?).
        box = page.get_by_label("Filter lists")
        expect(box, f"the filter box stays hidden; errors: {seen.console_errors}").to_be_visible()
        yield seen
    finally:
        context.close()


def expected_rows(lists: list[dict[str, Any]], query: str) -> list[str]:
    """The lists a person expects to see after typing `query`: every word found in the row."""
    words = query.lower().split()
    shown = []
    for entry in lists:
        kind = type_label(
            entry["visibility"] == "public",
            Posting(entry["posting"]) if entry["posting"] is not None else None,
            Archive(entry["archive"]),
            retired=entry["retired"],
        )
        text = " ".join([entry["name"], *entry["maintainers"], kind, entry["description"]]).lower()
        if all(word in text for word in words):
            shown.append(entry["name"])
    return shown


def visible_rows(page: Page) -> list[str]:
    names: list[str] = page.locator(f"{ROWS}:visible").evaluate_all(
        "rows => rows.map(row => row.dataset.list)"
    )
    return names


def visible_sections(page: Page) -> list[str]:
    ids: list[str] = page.locator("section[data-section]:visible").evaluate_all(
        "sections => sections.map(section => section.id)"
    )
    return ids


def type_filter(page: Page, query: str, expected: list[str]) -> None:
    box = page.get_by_label("Filter lists")
    box.fill("")
    box.press_sequentially(query)
    expect(page.locator(f"{ROWS}:visible")).to_have_count(len(expected))


def overflow(page: Page) -> dict[str, int]:
    sizes: dict[str, int] = page.evaluate(
        "() => ({page: document.documentElement.scrollWidth, body: document.body.scrollWidth,"
        " viewport: window.innerWidth})"
    )
    return sizes


@pytest.mark.parametrize("query", ["relay", "nickm commits", "ALERTS", "Tor list.", "moderated"])
def test_typing_in_the_filter_box_narrows_the_table(
    opened: Opened, rendered: Rendered, query: str
) -> None:
    page = opened.page
    everything = [entry["name"] for entry in rendered.lists]
    expected = expected_rows(rendered.lists, query)
    assert 0 < len(expected) < len(everything), "the query should narrow the table"
    expect(page.locator(f"{ROWS}:visible")).to_have_count(len(everything))

    type_filter(page, query, expected)

    assert visible_rows(page) == expected
    categories = {f"{e['category']}-lists" for e in rendered.lists if e["name"] in expected}
    assert set(visible_sections(page)) == categories
    expect(page.locator("#filter-count")).to_have_text(
        f"{len(expected)} of {len(everything)} lists"
    )
    expect(page.locator("#no-match")).to_be_hidden()


def test_no_match_says_so_and_clearing_shows_every_list(opened: Opened, rendered: Rendered) -> None:
    page = opened.page
    type_filter(page, "no-such-list-here", [])
    assert visible_sections(page) == []
    expect(page.locator("#no-match")).to_be_visible()

    page.get_by_label("Filter lists").fill("")

    expect(page.locator(f"{ROWS}:visible")).to_have_count(len(rendered.lists))
    assert visible_rows(page) == [entry["name"] for entry in rendered.lists]
    expect(page.locator("#no-match")).to_be_hidden()


def test_page_fits_the_screen_loads_nothing_else_and_is_screenshotted(
    opened: Opened, rendered: Rendered, request: pytest.FixtureRequest, tmp_path: Path
) -> None:
    page = opened.page
    width = page.viewport_size["width"] if page.viewport_size else 0
    query = "relay"
    type_filter(page, query, expected_rows(rendered.lists, query))

    sizes = overflow(page)
    assert sizes["viewport"] == width
    assert sizes["page"] <= width, sizes
    assert sizes["body"] <= width, sizes
    assert opened.requests == [rendered.html.as_uri()]
    assert opened.console_errors == []

    shot = tmp_path / f"lists-{request.node.callspec.params['opened']}.png"
    page.screenshot(path=str(shot), full_page=True)
    assert shot.stat().st_size > 10_000
    print(f"screenshot: {shot}")


def test_each_list_has_an_anchor_and_links(opened: Opened, rendered: Rendered) -> None:
    page = opened.page
    entry = [e for e in rendered.lists if e["archive_url"]][-1]
    page.goto(f"{rendered.html.as_uri()}#{entry['name']}")

    target = page.locator(f"{ROWS}:target")
    expect(target).to_have_attribute("data-list", entry["name"])
    expect(target).to_be_in_viewport()
    expect(target.get_by_role("link", name="subscribe")).to_have_attribute(
        "href", entry["subscribe_url"]
    )
    expect(target.get_by_role("link", name="archive")).to_have_attribute(
        "href", entry["archive_url"]
    )


def test_the_filter_box_stays_in_view_while_the_page_scrolls(
    opened: Opened, rendered: Rendered
) -> None:
    page = opened.page
    box = page.get_by_label("Filter lists")
    last = rendered.lists[-1]["name"]

    page.evaluate("() => window.scrollTo(0, document.documentElement.scrollHeight)")

    expect(page.locator(f"{ROWS}[data-list='{last}']")).to_be_in_viewport()
    expect(page.locator("h1")).not_to_be_in_viewport()
    expect(box).to_be_in_viewport()
    bar = page.locator("form.filter").bounding_box()
    assert bar is not None
    assert bar["y"] == 0, "the filter bar sits at the top of the window"
    query = "relay"
    type_filter(page, query, expected_rows(rendered.lists, query))
    assert visible_rows(page) == expected_rows(rendered.lists, query)
