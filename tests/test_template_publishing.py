"""What is published at templates_url, and what validation refuses before it is.

`listsync render --templates-out` publishes only the texts in use: those the
files give a list, and the earlier versions Mailman's lists (read from the real
core, or from a snapshot) still point at; never a draft, never a text only
private lists use unless `publish_private_templates: true`. Validation refuses
what could never be served: a private list's text that would not be published,
and a text larger than what apply fetches to check it.
"""

from __future__ import annotations

from pathlib import Path

import pytest
from mailmanclient import Client
from ruamel.yaml import YAML
from webserver import TextServer

from helpers import (
    FOOTER_NAME,
    REPO,
    Run,
    commit_all,
    init_repo,
    published_name,
    render_templates,
    template_site,
    template_uris,
)
from mailman_core import MailmanCore
from proxy import Proxy

V0 = "Footer zero of $display_name.\n"
V1 = "Footer one of $display_name.\n"
V2 = "Footer two of $display_name.\n"
INTERNAL = "Internal list: ask alice@example.org for the wiki password.\n"
DRAFT = "A draft nobody should see: bob@example.org.\n"


def using(path: str, *, private: bool = False) -> str:
    visibility = "visibility: private\n" if private else ""
    return f"owners: [teor@example.org]\n{visibility}templates:\n  {FOOTER_NAME}: {path}\n"


def render_to(run: Run, site: Path, out: Path, *args: str) -> tuple[set[str], str]:
    result = render_templates(run, site, out, *args)
    return {p.name for p in out.iterdir()}, result.err


def test_only_the_texts_in_use_are_published(
    run: Run,
    tmp_path: Path,
    domain: str,
    connected: Proxy,
    mailman_core: MailmanCore,
    mailman_client: Client,
) -> None:
    with TextServer(tmp_path / "pages") as pages:
        site = template_site(
            tmp_path / "site",
            domain,
            pages.url,
            {
                "tor-dev": using("templates/footer.txt"),
                "tor-internal": using("templates/footer.txt", private=True),
            },
            {"footer.txt": V0, "internal.txt": INTERNAL},
        )
        init_repo(site)
        render_to(run, site, pages.directory)
        assert run("--root", str(site), "apply", "--yes").status == 0
        (site / "templates" / "footer.txt").write_text(V1)
        commit_all(site, "Footer one")
        render_to(run, site, pages.directory)
        assert run("--root", str(site), "apply", "--yes").status == 0
        v1_url = f"{pages.url}/{published_name('footer.txt', V1)}"
        internal_url = f"{pages.url}/{published_name('internal.txt', INTERNAL)}"
        # The private list still points at a text of its own that git has (as after a
        # time with publish_private_templates: true, or set in Postorius).
        internal = mailman_client.get_list(f"tor-internal@{domain}")
        internal.set_template(FOOTER_NAME, internal_url)
        assert template_uris(mailman_core, f"tor-dev@{domain}") == {FOOTER_NAME: v1_url}

    # Merged but not applied yet: a draft committed and deleted, and footer two.
    (site / "templates" / "draft.txt").write_text(DRAFT)
    commit_all(site, "A draft")
    (site / "templates" / "draft.txt").unlink()
    (site / "templates" / "footer.txt").write_text(V2)
    commit_all(site, "Footer two")

    expected = {published_name("footer.txt", V2), published_name("footer.txt", V1)}
    names, said = render_to(run, site, tmp_path / "from-mailman")
    assert names == expected  # not footer zero, the draft, nor the private list's own text
    assert "1 the files use, 1 earlier version(s) Mailman's lists still point at" in said
    assert f"not published: {internal_url}: only private lists use it (tor-internal)" in said
    for path in (tmp_path / "from-mailman").iterdir():
        assert "@example.org" not in path.read_text()

    snapshot = tmp_path / "snapshot.json"
    assert run("--root", str(site), "snapshot", "--out", str(snapshot)).status == 0
    connected.recorder.clear()
    names, _ = render_to(run, site, tmp_path / "from-snapshot", "--live", str(snapshot))
    assert names == expected
    assert connected.recorder.requests == [], "--live reads no Mailman"

    # A directory that still holds texts from before: what is no longer in use goes.
    stale = tmp_path / "stale"
    stale.mkdir()
    (stale / published_name("footer.txt", V0)).write_text(V0)
    (stale / published_name("internal.txt", INTERNAL)).write_text(INTERNAL)
    (stale / "index.html").write_text("not a text of listsync's\n")
    names, said = render_to(run, site, stale)
    assert names == expected | {"index.html"}
    assert "removed 2 no longer in use" in said

    config = site / "listsync.yaml"
    config.write_text(config.read_text() + "publish_private_templates: true\n")
    names, _ = render_to(run, site, tmp_path / "private-too")
    assert names == expected | {published_name("internal.txt", INTERNAL)}


def test_render_needs_to_know_what_mailman_points_at(
    run: Run, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    for name in ("MAILMAN_REST_URL", "MAILMAN_REST_USER", "MAILMAN_REST_PASSWORD"):
        monkeypatch.delenv(name, raising=False)
    site = template_site(
        tmp_path / "site",
        "lists.example.org",
        "https://lists.example.org/templates",
        {"tor-dev": using("templates/footer.txt")},
        {"footer.txt": V1},
    )
    result = run("--root", str(site), "render", "--templates-out", str(tmp_path / "out"))
    assert result.status == 1
    assert "give the Mailman connection" in result.err
    assert "or a snapshot with --live FILE; nothing was written" in result.err
    assert not (tmp_path / "out").exists()


# -- validation --------------------------------------------------------------------


@pytest.mark.parametrize(
    ("lists", "config", "expected"),
    [
        pytest.param(
            {"tor-internal": using("templates/internal.txt", private=True)},
            "",
            "lists/tor-internal.yaml:4:31: templates.list:member:regular:footer:"
            " templates/internal.txt is used only by private lists (tor-internal), and such a"
            " text is not published at templates_url unless listsync.yaml says"
            " 'publish_private_templates: true' (for a templates_url only Mailman can reach):"
            " set that, or give the list a text a public list uses too, or null for"
            " Mailman's own text",
            id="private-list",
        ),
        pytest.param(
            {
                "tor-internal": "owners: [a@example.org]\nsettings: {advertised: false}\n",
                "tor-dev": using("templates/other.txt"),
            },
            f"templates:\n  {FOOTER_NAME}: templates/internal.txt\n",
            "listsync.yaml:5:31: templates.list:member:regular:footer: templates/internal.txt is"
            " used only by private lists (tor-internal)",
            id="site-default-only-private-lists-get",
        ),
    ],
)
def test_a_private_lists_text_that_would_not_be_published_is_refused(
    run: Run,
    tmp_path: Path,
    domain: str,
    connected: Proxy,
    lists: dict[str, str],
    config: str,
    expected: str,
) -> None:
    site = template_site(
        tmp_path,
        domain,
        "https://lists.example.org/templates",
        lists,
        {"internal.txt": INTERNAL, "other.txt": V1},
        config,
    )
    validated = run("--root", str(site), "validate")
    assert validated.status == 1
    assert [line for line in validated.out.splitlines() if line.startswith(expected)], validated.out
    for command in (("plan",), ("apply", "--yes")):
        assert run("--root", str(site), *command).status == 1
    assert connected.recorder.requests == []

    (site / "listsync.yaml").write_text(
        (site / "listsync.yaml").read_text() + "publish_private_templates: true\n"
    )
    assert run("--root", str(site), "validate").status == 0


def test_a_shared_text_validates_and_a_private_retired_lists_notice_does_not(
    run: Run, tmp_path: Path
) -> None:
    site = template_site(
        tmp_path,
        "lists.example.org",
        "https://lists.example.org/templates",
        {
            "tor-internal": using("templates/footer.txt", private=True),
            "tor-dev": using("templates/footer.txt"),
            "old": "owners: [a@example.org]\nvisibility: private\ndisabled: true\n",
        },
        {"footer.txt": V1, "retired.txt": "$listname is retired.\n"},
        "disabled_templates:\n  list:user:notice:rejected: templates/retired.txt\n",
    )
    result = run("--root", str(site), "validate")
    # retired.txt only the private, disabled list uses: refused like any private text
    assert result.status == 1
    assert "templates/retired.txt is used only by private lists (old)" in result.out
    assert "templates/footer.txt" not in result.out


def test_the_example_site_publishes_no_private_text(run: Run) -> None:
    assert run("--root", str(REPO), "validate").status == 0


# -- size ---------------------------------------------------------------------------

LIMIT = 256 * 1024


@pytest.mark.compat
def test_a_text_over_256_kib_is_refused_and_one_at_the_limit_applies(
    run: Run,
    tmp_path: Path,
    domain: str,
    connected: Proxy,
    mailman_core: MailmanCore,
) -> None:
    line = "The same line of a long footer, for $display_name.\n"
    at_limit = (line * (LIMIT // len(line) + 1))[:LIMIT]
    with TextServer(tmp_path / "pages") as pages:
        site = template_site(
            tmp_path / "site",
            domain,
            pages.url,
            {"tor-dev": using("templates/big.txt")},
            {"big.txt": at_limit + "x"},
        )
        validated = run("--root", str(site), "validate")
        assert validated.status == 1
        assert (
            f"templates/big.txt:1:1: {LIMIT + 1} bytes, over the limit of 256 KiB ({LIMIT}"
            " bytes) that apply fetches of a published text to check it: make it shorter"
        ) in validated.out
        assert run("--root", str(site), "apply", "--yes").status == 1
        assert connected.recorder.requests == []

        (site / "templates" / "big.txt").write_text(at_limit)
        assert run("--root", str(site), "validate").status == 0
        render_to(run, site, pages.directory)
        applied = run("--root", str(site), "apply", "--yes")
        assert applied.status == 0, applied.out + applied.err
        url = f"{pages.url}/{published_name('big.txt', at_limit)}"
        assert template_uris(mailman_core, f"tor-dev@{domain}") == {FOOTER_NAME: url}


# -- the pipeline's pages job ---------------------------------------------------------


def test_pages_runs_on_the_default_branch_only_and_apply_waits_for_it() -> None:
    pipeline = YAML(typ="safe").load((REPO / ".gitlab-ci.yml").read_text())
    pages = pipeline["pages"]
    assert pages["rules"] == [
        {"if": '$CI_PIPELINE_SOURCE == "schedule"', "when": "never"},
        {"if": "$CI_COMMIT_BRANCH == $CI_DEFAULT_BRANCH"},
    ]
    assert pages["resource_group"] == "mailman"
    # and for the policy job, where a site has policies (README.md, "Policy over plans")
    assert pipeline[".apply"]["needs"] == ["plan", "pages", {"job": "policy", "optional": True}]
    for job in ("apply", "apply-force"):
        assert pipeline[job]["extends"] == ".apply"
