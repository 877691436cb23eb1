"""Adopting a server whose lists have templates, owners with names, and policy breaks.

The README's promise, on a real core: right after `import`, `plan
--detailed-exitcode` exits 0 when every template URL is one listsync
published (`templates_url/STEM.<hash>.txt`): the text comes back as
`templates/STEM.txt`, which listsync publishes at that very URL, with one
hash in its name. A URL served from elsewhere moves: import says so, and the
first plan shows only that move, with the same text. Beside that: owners keep
the names Mailman has for them, the schema modeline is written only when the
site has the schema, a list without an owner gets the file to write, and the
lists kept against the site's policy are summed up.
"""

from __future__ import annotations

import json
import shutil
from pathlib import Path
from typing import Any

from mailmanclient import Client
from ruamel.yaml import YAML
from webserver import TextServer

from helpers import (
    FOOTER_NAME,
    REPO,
    Result,
    Run,
    apply,
    output_lines,
    plan,
    published_name,
    render_templates,
    template_site,
    template_uris,
)
from listsync.importer import MODELINE
from mailman_core import MailmanCore
from proxy import Proxy

WELCOME_NAME = "list:user:notice:welcome"
FOOTER = "Posted to $display_name.\nUnsubscribe: $request_email\n"
OLD_FOOTER = "An older footer of $display_name.\n"
WELCOME = "Welcome to $display_name, $user_name!\n"


def import_(run: Run, site: Path, *args: str) -> Result:
    return run("--root", str(site), "import", *args)


def read(site: Path, name: str) -> dict[str, Any]:
    data = YAML(typ="safe", pure=True).load((site / "lists" / f"{name}.yaml").read_text())
    assert isinstance(data, dict)
    return data


def served(server: TextServer, path: str, text: str) -> str:
    """Put `text` where listsync publishes a site's `path`; its URL."""
    server.directory.mkdir(parents=True, exist_ok=True)
    name = published_name(path, text)
    (server.directory / name).write_text(text)
    return f"{server.url}/{name}"


def test_urls_listsync_published_import_to_files_it_publishes_there_again(
    run: Run,
    tmp_path: Path,
    domain: str,
    connected: Proxy,
    mailman_core: MailmanCore,
    mailman_client: Client,
    pages: TextServer,
) -> None:
    # As an earlier listsync site left the server: two lists share a footer, one still
    # points at the footer's earlier version (not yet applied), one has a welcome too.
    footer_url = served(pages, "templates/footer-tor.txt", FOOTER)
    old_footer_url = served(pages, "templates/footer-tor.txt", OLD_FOOTER)
    welcome_url = served(pages, "templates/welcome.txt", WELCOME)
    before = sorted(p.name for p in pages.directory.iterdir())
    server = mailman_client.create_domain(domain)
    for name, footer in (("tor-dev", footer_url), ("tor-relays", footer_url)):
        mlist = server.create_list(name)
        mlist.add_owner("teor@example.org")
        mlist.set_template(FOOTER_NAME, footer)
    mailman_client.get_list(f"tor-dev@{domain}").set_template(WELCOME_NAME, welcome_url)
    legacy = server.create_list("tor-legacy")
    legacy.add_owner("arma@example.org")
    legacy.set_template(FOOTER_NAME, old_footer_url)
    site = template_site(tmp_path / "site", domain, pages.url, {}, {})
    connected.recorder.clear()

    imported = import_(run, site)
    assert imported.status == 0, imported.out + imported.err
    assert connected.recorder.writes == []
    assert "served from" not in imported.out
    assert read(site, "tor-dev")["templates"] == {
        FOOTER_NAME: "templates/footer-tor.txt",
        WELCOME_NAME: "templates/welcome.txt",
    }
    assert read(site, "tor-relays")["templates"] == {FOOTER_NAME: "templates/footer-tor.txt"}
    # The first list (by name) with a footer-tor takes templates/footer-tor.txt; the
    # other version goes one directory down, where its published name is the same.
    assert read(site, "tor-legacy")["templates"] == {
        FOOTER_NAME: "templates/tor-legacy/footer-tor.txt"
    }
    assert (site / "templates" / "footer-tor.txt").read_text() == FOOTER
    assert (site / "templates" / "tor-legacy" / "footer-tor.txt").read_text() == OLD_FOOTER
    assert (site / "templates" / "welcome.txt").read_text() == WELCOME
    assert not (site / "lists" / "tor-dev.yaml").read_text().startswith("#"), "no schema/"

    planned = plan(run, site)
    assert planned.status == 0, planned.out + planned.err
    assert run("--root", str(site), "validate").status == 0

    # Publishing the imported site writes exactly the names Mailman's lists point at.
    shutil.rmtree(pages.directory)
    render_templates(run, site, pages.directory)
    assert sorted(p.name for p in pages.directory.iterdir()) == before
    assert all(name.count(".") == 2 for name in before), "one hash in each published name"
    assert run("--root", str(site), "check-templates").status == 0
    assert template_uris(mailman_core, f"tor-legacy@{domain}") == {FOOTER_NAME: old_footer_url}


def test_a_url_served_elsewhere_moves_with_its_text_and_import_says_so(
    run: Run,
    tmp_path: Path,
    domain: str,
    connected: Proxy,
    mailman_core: MailmanCore,
    mailman_client: Client,
    pages: TextServer,
) -> None:
    with TextServer(tmp_path / "elsewhere") as elsewhere:
        elsewhere.directory.mkdir()
        (elsewhere.directory / "dev-footer.txt").write_text(FOOTER)
        foreign = f"{elsewhere.url}/dev-footer.txt"
        published = served(pages, "templates/welcome.txt", WELCOME)
        mlist = mailman_client.create_domain(domain).create_list("tor-dev")
        mlist.add_owner("teor@example.org")
        mlist.set_template(FOOTER_NAME, foreign)
        mlist.set_template(WELCOME_NAME, published)
        site = template_site(tmp_path / "site", domain, pages.url, {}, {})
        (site / "schema").mkdir()
        shutil.copy(REPO / "schema" / "list.schema.json", site / "schema")

        imported = import_(run, site)
        assert imported.status == 0, imported.out + imported.err
        assert output_lines(imported) == [
            "wrote lists/tor-dev.yaml",
            f"template {FOOTER_NAME}: served from {foreign}, not from templates_url: plan"
            " points it at the site's URL for the same text (publish the texts first)",
            f"Imported 1 list(s) from {domain}, 0 skipped, 0 failed.",
            "1 list(s) have templates served from elsewhere (tor-dev): the first plan moves"
            " them to templates_url, each with the same text.",
        ]
        text = (site / "lists" / "tor-dev.yaml").read_text()
        assert text.splitlines()[0] == MODELINE, "the site has schema/list.schema.json"
        # Named after the URL's file, not after the template; one hash once published.
        assert read(site, "tor-dev")["templates"] == {
            FOOTER_NAME: "templates/dev-footer.txt",
            WELCOME_NAME: "templates/welcome.txt",
        }
        assert (site / "templates" / "dev-footer.txt").read_text() == FOOTER

        planned = plan(run, site)
        assert planned.status == 2, planned.out + planned.err
        site_url = f"{pages.url}/{published_name('templates/dev-footer.txt', FOOTER)}"
        fqdn = f"tor-dev@{domain}"
        changes = [line for line in output_lines(planned) if line.startswith(("~", "+", "-"))]
        assert changes == [
            f"~ {fqdn} (update)",
            f"~ template {FOOTER_NAME}: {foreign} -> {site_url} (same text)",
        ]

    render_templates(run, site, pages.directory)
    assert apply(run, site).status == 0
    assert template_uris(mailman_core, fqdn) == {FOOTER_NAME: site_url, WELCOME_NAME: published}
    assert plan(run, site).status == 0


def test_owners_and_moderators_keep_their_display_names(
    run: Run, tmp_path: Path, domain: str, connected: Proxy, mailman_client: Client
) -> None:
    mlist = mailman_client.create_domain(domain).create_list("board")
    # Addresses of the test's own: a display name is the address's, server-wide.
    mlist.add_owner(f"alice@{domain}", display_name="Alice Liddell")
    mlist.add_owner(f"bob@{domain}")  # mailmanclient sends the name 'None': no name
    mlist.add_moderator(f"carol@{domain}", display_name="Carol Example")
    site = template_site(tmp_path / "site", domain, None, {}, {})
    connected.recorder.clear()

    imported = import_(run, site)
    assert imported.status == 0, imported.out + imported.err
    data = read(site, "board")
    assert data["owners"] == [f"Alice Liddell <alice@{domain}>", f"bob@{domain}"]
    assert data["moderators"] == [f"Carol Example <carol@{domain}>"]
    # The names came with the two roster reads: no request per owner.
    roles = ("/roster/owner", "/roster/moderator")
    rosters = [path for _, path in connected.recorder.requests if any(r in path for r in roles)]
    assert len(rosters) == 2, rosters
    assert all("display_name" in path for path in rosters)
    assert plan(run, site).status == 0


def test_a_list_without_an_owner_gets_the_file_to_write(
    run: Run, tmp_path: Path, domain: str, connected: Proxy, mailman_client: Client
) -> None:
    mailman_client.create_domain(domain).create_list("ownerless")
    site = template_site(tmp_path / "site", domain, None, {}, {})

    imported = import_(run, site)
    assert imported.status == 1
    err = imported.err.splitlines()
    assert err[0] == (
        "failed: ownerless: it has no owner in Mailman, and a list file needs one (or"
        " 'disabled: true'): add its owner in Mailman (Postorius: the list's Members, Owners)"
        " and run 'listsync import --list ownerless', or write lists/ownerless.yaml as below"
        " with OWNER replaced by the owner's address (plan then adds that owner, and changes"
        " nothing else):"
    )
    shown = [line.removeprefix("      ") for line in err[1:]]
    assert "owners:" in shown
    assert "  - OWNER" in shown
    assert not (site / "lists" / "ownerless.yaml").exists()

    # Written as shown, OWNER still there: validate refuses it.
    (site / "lists" / "ownerless.yaml").write_text("\n".join(shown) + "\n")
    refused = run("--root", str(site), "validate")
    assert refused.status == 1
    assert "'OWNER' is not an e-mail address" in refused.out + refused.err
    # With the owner's address: plan adds that owner and changes nothing else.
    text = "\n".join(shown).replace("OWNER", "dana@example.org") + "\n"
    (site / "lists" / "ownerless.yaml").write_text(text)
    planned = plan(run, site)
    assert planned.status == 2, planned.out + planned.err
    changes = [line for line in output_lines(planned) if line.startswith(("~", "+", "-"))]
    assert changes == [f"~ ownerless@{domain} (update)", "+ owner dana@example.org"]


def test_lists_kept_against_the_site_policy_are_summed_up(
    run: Run, tmp_path: Path, domain: str, connected: Proxy, mailman_client: Client
) -> None:
    server = mailman_client.create_domain(domain)
    server.create_list("plain").add_owner("alice@example.org")  # Mailman's "Plain", no DMARC
    server.create_list("tidy").add_owner("alice@example.org")
    settings = mailman_client.get_list(f"tidy@{domain}").settings
    settings["display_name"] = "tidy"
    settings["dmarc_mitigate_action"] = "munge_from"
    settings.save()
    server.create_list("old_team").add_owner("alice@example.org")
    site = template_site(tmp_path / "site", domain, None, {}, {})

    imported = import_(run, site)
    assert imported.status == 1
    assert imported.out.splitlines() == [
        "wrote lists/plain.yaml",
        "wrote lists/tidy.yaml",
        f"Imported 2 list(s) from {domain}, 0 skipped, 1 failed: old_team.",
    ]
    assert imported.err.splitlines()[-4:] == [
        "Kept as in Mailman, against the site's policy (change their files):",
        "    no DMARC mitigation (dmarc: mitigation: none; the site's default mitigates): plain",
        "    a display name other than the list's name (kept in settings: display_name): plain",
        "    a name naming: '^[a-z0-9][a-z0-9-]{1,62}$' refuses (no file written): old_team",
    ]
    as_json = import_(run, site, "--list", "plain", "--list", "tidy", "--force", "--format", "json")
    assert as_json.status == 0
    assert json.loads(as_json.out)["policy"] == [
        {
            "kind": "no DMARC mitigation (dmarc: mitigation: none; the site's default mitigates)",
            "lists": ["plain"],
        },
        {
            "kind": "a display name other than the list's name (kept in settings: display_name)",
            "lists": ["plain"],
        },
    ]
