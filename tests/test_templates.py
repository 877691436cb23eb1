"""Templates (footers, notices) kept in the repository: validate, render, plan, apply, import.

The texts are published by `listsync render --templates-out` into a directory
a static server on 127.0.0.1 (`TextServer`) serves at the site's
`templates_url`; the lists' URIs are read back from the real core's
`GET /3.1/lists/ID/uris`.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from mailmanclient import Client
from ruamel.yaml import YAML
from webserver import TextServer

from helpers import (
    FOOTER_NAME,
    Result,
    Run,
    apply,
    commit_all,
    init_repo,
    plan,
    published_name,
    render_templates,
    template_site,
    template_uris,
)
from mailman_core import MailmanCore
from proxy import Proxy

WELCOME_NAME = "list:user:notice:welcome"
REJECTED_NAME = "list:user:notice:rejected"
FOOTER_V1 = "Footer one: you read $display_name ($list_id).\nThe same last line.\n"
FOOTER_V2 = "Footer two: write to $request_email.\nThe same last line.\n"
TOR_DEV = f"""\
description: Development.
owners: [teor@example.org]
templates:
  {FOOTER_NAME}: templates/footer.txt
"""
ANNOUNCE = "description: Releases.\nposting: announce\nowners: [nickm@example.org]\n"


def lines(result: Result) -> list[str]:
    return [line.strip() for line in result.out.splitlines()]


# -- validate -----------------------------------------------------------------------


def tor_dev_using(path: str, name: str = FOOTER_NAME) -> str:
    return f"owners: [teor@example.org]\ntemplates:\n  {name}: {path}\n"


@pytest.mark.parametrize(
    ("list_file", "texts", "with_url", "expected"),
    [
        pytest.param(
            tor_dev_using("templates/footer.txt", "list:member:regular:foter"),
            {"footer.txt": "x\n"},
            True,
            "lists/tor-dev.yaml:3:3: templates.list:member:regular:foter: unknown list template"
            " 'list:member:regular:foter' (did you mean 'list:member:regular:footer'?);"
            " Mailman has: list:admin:action:post,",
            id="unknown-name",
        ),
        pytest.param(
            tor_dev_using("templates/../listsync.yaml"),
            {},
            True,
            f"lists/tor-dev.yaml:3:31: templates.{FOOTER_NAME}: 'templates/../listsync.yaml'"
            " is not a path below the site root (no '..', no leading '/')",
            id="dot-dot",
        ),
        pytest.param(
            tor_dev_using("/etc/hostname"),
            {},
            True,
            f"lists/tor-dev.yaml:3:31: templates.{FOOTER_NAME}: '/etc/hostname' is not a path"
            " below the site root",
            id="absolute",
        ),
        pytest.param(
            tor_dev_using("lists/footer.txt"),
            {},
            True,
            f"lists/tor-dev.yaml:3:31: templates.{FOOTER_NAME}: 'lists/footer.txt' is not in"
            " templates/: template texts live there",
            id="outside-templates",
        ),
        pytest.param(
            tor_dev_using("templates/missing.txt"),
            {},
            True,
            f"lists/tor-dev.yaml:3:31: templates.{FOOTER_NAME}: no such file"
            " templates/missing.txt in the site",
            id="missing-file",
        ),
        pytest.param(
            tor_dev_using("templates/footer.txt"),
            {"footer.txt": b"Plain first line.\nCaf\xe9 $display_name\n"},
            True,
            "templates/footer.txt:2:4: not valid UTF-8 (byte 0xe9)",
            id="not-utf-8",
        ),
        pytest.param(
            tor_dev_using("templates/footer.txt"),
            {"footer.txt": "Costs $$5.\nSee ${list_id} and $nope.\n"},
            True,
            f"templates/footer.txt:2:20: {FOOTER_NAME}: $nope is not a placeholder Mailman"
            f" fills in {FOOTER_NAME}; it would be sent as is (known: $base_url,",
            id="unknown-placeholder",
        ),
        pytest.param(
            tor_dev_using("templates/footer.txt"),
            {"footer.txt": "Held because $reasons\n"},
            True,
            f"templates/footer.txt:1:14: {FOOTER_NAME}: $reasons is not a placeholder",
            id="reasons-in-a-footer",
        ),
        pytest.param(
            tor_dev_using("templates/rejected.txt", REJECTED_NAME),
            {"rejected.txt": "$listname refused it: $reasons\nAsk $owner_email.\n"},
            True,
            f"templates/rejected.txt:2:5: {REJECTED_NAME}: $owner_email is not a placeholder"
            f" Mailman fills in {REJECTED_NAME}; it would be sent as is (known: $listname,"
            " $reasons; '$$' is a dollar sign)",
            id="rejected-knows-two",
        ),
        pytest.param(
            tor_dev_using("templates/footer.txt"),
            {"footer.txt": "Plain.\n"},
            False,
            f"lists/tor-dev.yaml:3:31: templates.{FOOTER_NAME}: a template needs"
            " 'templates_url:' in listsync.yaml",
            id="no-templates-url",
        ),
    ],
)
def test_a_bad_template_is_named_at_its_place_and_nothing_is_written(
    run: Run,
    tmp_path: Path,
    domain: str,
    connected: Proxy,
    list_file: str,
    texts: dict[str, str | bytes],
    with_url: bool,
    expected: str,
) -> None:
    url = "https://lists.example.org/templates" if with_url else None
    site = template_site(tmp_path, domain, url, {"tor-dev": list_file}, texts)
    validated = run("--root", str(site), "validate")
    assert validated.status == 1
    found = [line for line in validated.out.splitlines() if line.startswith(expected)]
    assert len(found) == 1, validated.out
    for command in (("plan",), ("apply", "--yes")):
        result = run("--root", str(site), *command)
        assert result.status == 1
        assert expected in result.out + result.err
    assert connected.recorder.writes == []
    assert connected.recorder.requests == []


def test_a_bad_site_default_is_named_in_listsync_yaml(run: Run, tmp_path: Path) -> None:
    config = "disabled_templates:\n  list:user:notice:rejectd: templates/retired.txt\n"
    site = template_site(tmp_path, "lists.example.org", "https://x.example.org/t", {}, {}, config)
    result = run("--root", str(site), "validate")
    assert result.status == 1
    assert (
        "listsync.yaml:5:3: disabled_templates.list:user:notice:rejectd: unknown list template"
        " 'list:user:notice:rejectd' (did you mean 'list:user:notice:rejected'?)"
    ) in result.out


def test_escapes_braces_and_the_rejection_notices_own_placeholders_pass(
    run: Run, tmp_path: Path
) -> None:
    site = template_site(
        tmp_path,
        "lists.example.org",
        "https://lists.example.org/templates",
        {
            "tor-dev": tor_dev_using("templates/footer.txt"),
            "retired": tor_dev_using("templates/rejected.txt", REJECTED_NAME),
        },
        {
            "footer.txt": "Costs $$5 at ${list_id}; $$display_name stays.\n",
            "rejected.txt": "$listname is retired: $reasons\n",
        },
    )
    result = run("--root", str(site), "validate")
    assert result.status == 0, result.out
    assert "2 valid list file(s), 0 error(s), 0 warning(s)" in result.out


def test_the_line_of_a_placeholder_counts_newlines_only(run: Run, tmp_path: Path) -> None:
    # A form feed or U+2028 is no line break to an editor, nor to `decode`'s UTF-8 position.
    text = "Page one\x0cstill line one \u2028 and $nope\n"
    site = template_site(
        tmp_path,
        "lists.example.org",
        "https://lists.example.org/templates",
        {"tor-dev": tor_dev_using("templates/footer.txt")},
        {"footer.txt": text},
    )
    result = run("--root", str(site), "validate")
    assert result.status == 1
    assert f"templates/footer.txt:1:{text.index('$nope') + 1}: {FOOTER_NAME}: $nope" in result.out


# -- render --templates-out -----------------------------------------------------------


def test_render_writes_each_text_in_use_under_its_content_address(
    run: Run, tmp_path: Path, domain: str, connected: Proxy
) -> None:
    site = template_site(
        tmp_path / "site",
        domain,
        "https://lists.example.org/templates",
        {"tor-dev": TOR_DEV, "tor-relays": TOR_DEV},  # one text used twice: one file
        {"footer.txt": FOOTER_V1},
    )
    plain = render_templates(run, site, tmp_path / "plain")
    assert sorted(p.name for p in (tmp_path / "plain").iterdir()) == [
        published_name("footer.txt", FOOTER_V1)
    ]
    assert "wrote 1 template text(s)" in plain.err
    assert plain.out == "", "asked for the texts alone: no list of lists on standard output"
    with_page = render_templates(run, site, tmp_path / "plain", "--format", "markdown")
    assert "tor-dev" in with_page.out

    init_repo(site)
    (site / "templates" / "footer.txt").write_text(FOOTER_V2)
    commit_all(site, "New footer")
    out = tmp_path / "public"
    render_templates(run, site, out)
    # no list of Mailman points at the first footer: only the second is in use
    v2 = published_name("footer.txt", FOOTER_V2)
    assert sorted(p.name for p in out.iterdir()) == [v2]
    assert (out / v2).read_bytes() == FOOTER_V2.encode()


# -- plan and apply against the real core ---------------------------------------------


@pytest.mark.compat
def test_apply_points_the_list_at_the_published_text_and_plans_a_change_as_a_diff(
    run: Run,
    tmp_path: Path,
    domain: str,
    connected: Proxy,
    mailman_core: MailmanCore,
    pages: TextServer,
) -> None:
    site = template_site(
        tmp_path / "site",
        domain,
        pages.url,
        {"tor-dev": TOR_DEV, "tor-announce": ANNOUNCE},
        {"footer.txt": FOOTER_V1},
    )
    v1_url = f"{pages.url}/{published_name('footer.txt', FOOTER_V1)}"
    created = plan(run, site, "--format", "json")
    assert created.status == 2
    data = json.loads(created.out)
    dev = next(entry for entry in data["lists"] if entry["name"] == "tor-dev")
    expected_change = {"type": "set_template", "name": FOOTER_NAME, "existing": None}
    assert expected_change | {"desired": v1_url} in dev["changes"]
    assert data["templates"] == {v1_url: FOOTER_V1}

    render_templates(run, site, pages.directory)
    applied = apply(run, site)
    assert applied.status == 0, applied.out + applied.err
    assert template_uris(mailman_core, f"tor-dev@{domain}") == {FOOTER_NAME: v1_url}
    assert template_uris(mailman_core, f"tor-announce@{domain}") == {}
    assert pages.fetched[published_name("footer.txt", FOOTER_V1)] >= 1, "apply checked the text"

    connected.recorder.clear()
    assert apply(run, site).status == 0
    assert connected.recorder.writes == []
    assert plan(run, site).status == 0

    (site / "templates" / "footer.txt").write_text(FOOTER_V2)
    v2_url = f"{pages.url}/{published_name('footer.txt', FOOTER_V2)}"
    changed = plan(run, site)
    assert changed.status == 2
    body = lines(changed)
    start = body.index(f"~ template {FOOTER_NAME}: {v2_url}")
    assert body[start + 1 : start + 5] == [
        "@@ -1,2 +1,2 @@",
        "-Footer one: you read $display_name ($list_id).",
        "+Footer two: write to $request_email.",
        "The same last line.",
    ]
    as_json = json.loads(plan(run, site, "--format", "json").out)
    assert as_json["templates"] == {v1_url: FOOTER_V1, v2_url: FOOTER_V2}

    render_templates(run, site, pages.directory)
    assert apply(run, site).status == 0
    assert template_uris(mailman_core, f"tor-dev@{domain}") == {FOOTER_NAME: v2_url}
    assert plan(run, site).status == 0


@pytest.mark.compat
def test_the_old_text_of_a_diff_comes_from_git_when_the_server_lost_it(
    run: Run, tmp_path: Path, domain: str, connected: Proxy, pages: TextServer
) -> None:
    site = template_site(
        tmp_path / "site", domain, pages.url, {"tor-dev": TOR_DEV}, {"footer.txt": FOOTER_V1}
    )
    init_repo(site)
    render_templates(run, site, pages.directory)
    assert apply(run, site).status == 0
    old = published_name("footer.txt", FOOTER_V1)
    (pages.directory / old).unlink()
    (site / "templates" / "footer.txt").write_text(FOOTER_V2)
    commit_all(site, "New footer")
    asked = pages.fetched[old]

    changed = plan(run, site)
    assert changed.status == 2
    assert pages.fetched[old] == asked, "git had the old text: the server was not asked"
    body = lines(changed)
    assert "-Footer one: you read $display_name ($list_id)." in body
    assert "+Footer two: write to $request_email." in body


@pytest.mark.compat
def test_a_uri_changed_by_hand_is_drift_and_null_deletes_one(
    run: Run,
    tmp_path: Path,
    domain: str,
    connected: Proxy,
    mailman_core: MailmanCore,
    mailman_client: Client,
    pages: TextServer,
) -> None:
    site = template_site(
        tmp_path / "site",
        domain,
        pages.url,
        {"tor-dev": TOR_DEV + f"  {WELCOME_NAME}: null\n"},
        {"footer.txt": FOOTER_V1},
    )
    render_templates(run, site, pages.directory)
    assert apply(run, site).status == 0
    fqdn = f"tor-dev@{domain}"
    footer_url = f"{pages.url}/{published_name('footer.txt', FOOTER_V1)}"
    assert template_uris(mailman_core, fqdn) == {FOOTER_NAME: footer_url}

    (pages.directory / "by-hand.txt").write_text("Typed in Postorius.\nThe same last line.\n")
    mlist = mailman_client.get_list(fqdn)
    mlist.set_template(FOOTER_NAME, f"{pages.url}/by-hand.txt")
    mlist.set_template(WELCOME_NAME, f"{pages.url}/welcome.txt")
    assert template_uris(mailman_core, fqdn) == {
        FOOTER_NAME: f"{pages.url}/by-hand.txt",
        WELCOME_NAME: f"{pages.url}/welcome.txt",
    }

    drift = plan(run, site)
    assert drift.status == 2
    body = lines(drift)
    assert f"~ template {FOOTER_NAME}: {footer_url}" in body
    assert "-Typed in Postorius." in body
    assert "+Footer one: you read $display_name ($list_id)." in body
    assert (
        f"- template {WELCOME_NAME}: {pages.url}/welcome.txt (back to Mailman's own text)" in body
    )

    connected.recorder.clear()
    assert apply(run, site).status == 0
    assert [m for m, p in connected.recorder.writes if p.endswith("/uris")] == ["PATCH", "PATCH"]
    assert template_uris(mailman_core, fqdn) == {FOOTER_NAME: footer_url}
    assert plan(run, site).status == 0


@pytest.mark.compat
def test_a_disabled_list_gets_the_sites_rejection_notice(
    run: Run,
    tmp_path: Path,
    domain: str,
    connected: Proxy,
    mailman_core: MailmanCore,
    pages: TextServer,
) -> None:
    retired = "$listname is retired; nothing reaches it.\n"
    config = (
        f"templates:\n  {FOOTER_NAME}: templates/footer.txt\n"
        f"disabled_templates:\n  {REJECTED_NAME}: templates/retired.txt\n"
    )
    site = template_site(
        tmp_path / "site",
        domain,
        pages.url,
        {"tor-dev": ANNOUNCE, "old-wiki": "owners: [a@example.org]\ndisabled: true\n"},
        {"footer.txt": FOOTER_V1, "retired.txt": retired},
        config,
    )
    render_templates(run, site, pages.directory)
    applied = apply(run, site)
    assert applied.status == 0, applied.out + applied.err
    footer_url = f"{pages.url}/{published_name('footer.txt', FOOTER_V1)}"
    assert template_uris(mailman_core, f"old-wiki@{domain}") == {
        FOOTER_NAME: footer_url,
        REJECTED_NAME: f"{pages.url}/{published_name('retired.txt', retired)}",
    }
    assert template_uris(mailman_core, f"tor-dev@{domain}") == {FOOTER_NAME: footer_url}
    assert plan(run, site).status == 0


@pytest.mark.compat
def test_a_list_enabled_again_loses_the_rejection_notice(
    run: Run,
    tmp_path: Path,
    domain: str,
    connected: Proxy,
    mailman_core: MailmanCore,
    pages: TextServer,
) -> None:
    config = f"disabled_templates:\n  {REJECTED_NAME}: templates/retired.txt\n"
    site = template_site(
        tmp_path / "site",
        domain,
        pages.url,
        {"old-wiki": "owners: [a@example.org]\ndisabled: true\n"},
        {"retired.txt": "$listname is retired.\n"},
        config,
    )
    render_templates(run, site, pages.directory)
    assert apply(run, site).status == 0
    assert list(template_uris(mailman_core, f"old-wiki@{domain}")) == [REJECTED_NAME]
    (site / "lists" / "old-wiki.yaml").write_text("owners: [a@example.org]\n")
    assert apply(run, site).status == 0
    assert template_uris(mailman_core, f"old-wiki@{domain}") == {}


@pytest.mark.compat
def test_an_unpublished_text_fails_its_list_alone(
    run: Run,
    tmp_path: Path,
    domain: str,
    connected: Proxy,
    mailman_core: MailmanCore,
    mailman_client: Client,
    pages: TextServer,
) -> None:
    site = template_site(
        tmp_path / "site",
        domain,
        pages.url,
        {
            "tor-dev": "description: Development.\nowners: [teor@example.org]\n",
            "tor-announce": ANNOUNCE,
        },
        {"footer.txt": FOOTER_V1},
    )
    assert apply(run, site).status == 0
    (site / "lists" / "tor-dev.yaml").write_text(TOR_DEV)
    (site / "lists" / "tor-announce.yaml").write_text(ANNOUNCE.replace("Releases", "New releases"))
    url = f"{pages.url}/{published_name('footer.txt', FOOTER_V1)}"

    connected.recorder.clear()
    result = apply(run, site)  # render was not run: the server answers 404
    assert result.status == 1
    assert "Applied 1 list(s), 1 failed: tor-dev." in result.out
    failure = [line for line in result.err.splitlines() if line.startswith("failed: tor-dev")]
    assert len(failure) == 1
    assert FOOTER_NAME in failure[0]
    assert f"{url} answers HTTP 404" in failure[0]
    assert not [p for _, p in connected.recorder.writes if f"tor-dev.{domain}" in p]
    assert template_uris(mailman_core, f"tor-dev@{domain}") == {}
    announce = mailman_client.get_list(f"tor-announce@{domain}")
    assert announce.settings["description"] == "New releases."

    render_templates(run, site, pages.directory)
    assert apply(run, site).status == 0
    assert template_uris(mailman_core, f"tor-dev@{domain}") == {FOOTER_NAME: url}


@pytest.mark.compat
def test_a_non_ascii_text_from_a_server_without_charset_is_refused(
    run: Run, tmp_path: Path, domain: str, connected: Proxy, mailman_core: MailmanCore
) -> None:
    greeting = "Grüße von $display_name.\n"
    with TextServer(tmp_path / "public", charset=None) as bare:
        site = template_site(
            tmp_path / "site", domain, bare.url, {"tor-dev": TOR_DEV}, {"footer.txt": greeting}
        )
        render_templates(run, site, bare.directory)
        result = apply(run, site)
    assert result.status == 1
    failure = [line for line in result.err.splitlines() if line.startswith("failed: tor-dev")]
    assert len(failure) == 1
    bare_url = f"{bare.url}/{published_name('footer.txt', greeting)}"
    assert f"{FOOTER_NAME} not set: {bare_url}" in failure[0]
    assert "is served without 'charset=utf-8' in its Content-Type" in failure[0]
    assert template_uris(mailman_core, f"tor-dev@{domain}") == {}


# -- import ---------------------------------------------------------------------------


@pytest.mark.compat
def test_a_template_set_by_hand_imports_to_a_text_in_the_repository(
    run: Run,
    tmp_path: Path,
    domain: str,
    connected: Proxy,
    mailman_core: MailmanCore,
    mailman_client: Client,
    pages: TextServer,
) -> None:
    hand_text = "Set by hand for $display_name.\n"
    with TextServer(tmp_path / "elsewhere") as elsewhere:
        elsewhere.directory.mkdir()
        (elsewhere.directory / "footer.txt").write_text(hand_text)
        mlist = mailman_client.create_domain(domain).create_list("tor-dev")
        mlist.add_owner("teor@example.org")
        mlist.set_template(FOOTER_NAME, f"{elsewhere.url}/footer.txt")
        site = template_site(tmp_path / "site", domain, pages.url, {}, {})

        connected.recorder.clear()
        imported = run("--root", str(site), "import")
        assert imported.status == 0, imported.out + imported.err
        assert connected.recorder.writes == []
        assert "wrote lists/tor-dev.yaml" in imported.out
        data = YAML(typ="safe", pure=True).load((site / "lists" / "tor-dev.yaml").read_text())
        path = data["templates"][FOOTER_NAME]
        assert path.startswith("templates/")
        assert (site / path).read_text() == hand_text
        validated = run("--root", str(site), "validate")
        assert validated.status == 0, validated.out

        planned = plan(run, site)
        assert planned.status == 2
        fqdn = f"tor-dev@{domain}"
        site_url = f"{pages.url}/{published_name(path, hand_text)}"
        start = lines(planned).index(f"~ {fqdn} (update)")
        assert lines(planned)[start + 1 : start + 3] == [
            f"~ template {FOOTER_NAME}: {elsewhere.url}/footer.txt -> {site_url} (same text)",
            "",
        ]

    render_templates(run, site, pages.directory)
    assert apply(run, site).status == 0
    assert template_uris(mailman_core, fqdn) == {FOOTER_NAME: site_url}
    assert plan(run, site).status == 0
