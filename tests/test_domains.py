"""A site with several mail domains on two Mailman cores, against two real cores.

`domains:` maps each domain to its core and its own keys, list files live in
lists/DOMAIN/, every command runs once per domain (`--domain`, `--core`
choose), each against its own core. What each core holds is read back with
Mailman's own client, never from listsync.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from mailmanclient import Client

from helpers import (
    TOR_LISTS,
    Run,
    StartCore,
    apply,
    commit_all,
    committed_site,
    connect,
    git,
    init_repo,
    plan,
)
from mailman_core import MailmanCore

SITE = """\
disabled_owner: devnull@example.org
defaults:
  visibility: public
domains:
  {first}: {{}}
  {second}:
    core: other
    defaults: {{visibility: private}}
cores:
  other: {{}}
"""


@pytest.fixture(scope="module")
def other_core(start_core: StartCore) -> MailmanCore:
    """A second core, for the domains on core `other`."""
    return start_core()


@pytest.fixture
def two_cores(
    monkeypatch: pytest.MonkeyPatch,
    mailman_core: MailmanCore,
    other_core: MailmanCore,
    tmp_path: Path,
) -> tuple[Client, Client]:
    """The default core through MAILMAN_REST_*, core `other` through MAILMAN_OTHER_REST_*."""
    connect(monkeypatch, mailman_core, lock_dir=tmp_path)
    monkeypatch.setenv("MAILMAN_OTHER_REST_URL", other_core.url)
    monkeypatch.setenv("MAILMAN_OTHER_REST_USER", other_core.user)
    monkeypatch.setenv("MAILMAN_OTHER_REST_PASSWORD", other_core.password)
    return (
        Client(mailman_core.url, mailman_core.user, mailman_core.password),
        Client(other_core.url, other_core.user, other_core.password),
    )


def two_domain_site(root: Path, slug: str) -> tuple[Path, str, str]:
    first, second = f"{slug}-a.example.org", f"{slug}-b.example.org"
    root.mkdir(parents=True, exist_ok=True)
    (root / "listsync.yaml").write_text(SITE.format(first=first, second=second))
    for domain, names in ((first, ("announce", "dev")), (second, ("announce", "board"))):
        (root / "lists" / domain).mkdir(parents=True)
        for name in names:
            (root / "lists" / domain / f"{name}.yaml").write_text(
                f"description: {name} of {domain}\nowners: [owner@example.org]\n"
            )
    return root, first, second


def lists_of(client: Client, domain: str) -> dict[str, bool]:
    """List name -> advertised, of `domain` on a core (nothing when the domain is absent)."""
    return {
        mlist.list_name: mlist.settings["advertised"]
        for mlist in client.lists
        if mlist.mail_host == domain
    }


def test_two_domains_on_two_cores_plan_apply_and_plan_clean(
    run: Run, tmp_path: Path, two_cores: tuple[Client, Client]
) -> None:
    site, first, second = two_domain_site(tmp_path / "site", "clean")
    default_core, other_core = two_cores

    checked = run("--root", str(site), "validate")
    assert checked.status == 0, checked.err
    assert "4 valid list file(s)" in checked.out

    planned = plan(run, site)
    assert planned.status == 2, planned.err
    headings = [line for line in planned.out.splitlines() if line.startswith("# ")]
    assert headings == [f"# {first}", f"# {second} (core other)"]

    applied = apply(run, site)
    assert applied.status == 0, applied.err
    # each domain on its own core, and the second domain's own default (private) applied
    assert lists_of(default_core, first) == {"announce": True, "dev": True}
    assert lists_of(other_core, second) == {"announce": False, "board": False}
    assert lists_of(default_core, second) == {}
    assert lists_of(other_core, first) == {}

    again = plan(run, site)
    assert again.status == 0, again.out + again.err


def test_domain_and_core_scope_every_run(
    run: Run, tmp_path: Path, two_cores: tuple[Client, Client], monkeypatch: pytest.MonkeyPatch
) -> None:
    site, first, second = two_domain_site(tmp_path / "site", "scope")
    default_core, other_core = two_cores

    only_second = apply(run, site, "--domain", second)
    assert only_second.status == 0, only_second.err
    assert set(lists_of(other_core, second)) == {"announce", "board"}
    assert lists_of(default_core, first) == {}

    # the default core's domains alone need no credentials of core other
    for name in (
        "MAILMAN_OTHER_REST_URL",
        "MAILMAN_OTHER_REST_USER",
        "MAILMAN_OTHER_REST_PASSWORD",
    ):
        monkeypatch.delenv(name)
    by_core = plan(run, site, "--core", "default")
    assert by_core.status == 2, by_core.err
    assert f"# {second}" not in by_core.out
    assert f"{first}" in by_core.out

    everything = plan(run, site)
    assert everything.status == 1
    assert "MAILMAN_OTHER_REST_URL" in everything.err  # the other core's run says what it lacks
    assert f"# {first}" in everything.out  # and the first domain was planned all the same

    unknown = plan(run, site, "--domain", "scope-c.example.org")
    assert unknown.status == 1
    assert "not a domain of listsync.yaml" in unknown.err


def test_saved_plan_of_several_domains_is_applied_domain_by_domain(
    run: Run, tmp_path: Path, two_cores: tuple[Client, Client]
) -> None:
    site, first, second = two_domain_site(tmp_path / "site", "saved")
    init_repo(site)
    default_core, other_core = two_cores

    saved = run("--root", str(site), "plan", "--out", str(tmp_path / "plan.json"))
    assert saved.status == 0, saved.err
    bundle = json.loads((tmp_path / "plan.json").read_text())
    assert [part["domain"] for part in bundle["domains"]] == [first, second]
    # one flat view of every domain's changes, for policies over the whole merge
    addresses = {change["address"] for change in bundle["resource_changes"]}
    assert f"board@{second}" in addresses
    assert f"dev@{first}" in addresses

    per_domain = run(
        "--root", str(site), "plan", "--core", "other", "--out", str(tmp_path / "p-{domain}.md")
    )
    assert per_domain.status == 0, per_domain.err
    assert (tmp_path / f"p-{second}.md").is_file()
    assert not (tmp_path / f"p-{first}.md").exists()

    applied = run("--root", str(site), "apply", str(tmp_path / "plan.json"))
    assert applied.status == 0, applied.err
    assert set(lists_of(default_core, first)) == {"announce", "dev"}
    assert set(lists_of(other_core, second)) == {"announce", "board"}


def test_list_files_outside_their_domain_directory_are_errors(run: Run, tmp_path: Path) -> None:
    site, _, _ = two_domain_site(tmp_path / "site", "layout")
    (site / "lists" / "stray.yaml").write_text("owners: [owner@example.org]\n")
    (site / "lists" / "layout-c.example.org").mkdir()

    checked = run("--root", str(site), "validate")

    assert checked.status == 1
    assert "lists/stray.yaml:1:1: a site with domains: keeps its list files in" in checked.out
    assert "layout-c.example.org is not a domain of listsync.yaml" in checked.out


def test_a_domain_on_an_undeclared_core_is_an_error_naming_the_line(
    run: Run, tmp_path: Path
) -> None:
    site, _, _ = two_domain_site(tmp_path / "site", "undeclared")
    config = (site / "listsync.yaml").read_text().replace("cores:\n  other: {}\n", "")
    (site / "listsync.yaml").write_text(config)

    checked = run("--root", str(site), "validate")

    assert checked.status == 1
    assert "is on core 'other', which cores: does not name" in checked.out + checked.err


def test_migrate_domains_moves_the_files_and_the_next_plan_is_clean(
    run: Run, tmp_path: Path, mailman_core: MailmanCore, monkeypatch: pytest.MonkeyPatch
) -> None:
    connect(monkeypatch, mailman_core, lock_dir=tmp_path)
    domain = "migrate.example.org"
    site = committed_site(tmp_path / "site", domain)
    (site / "listsync.yaml").write_text(
        f"# the site\ndomain: {domain}  # where the lists are\n"
        "disabled_owner: devnull@example.org\n"
    )
    commit_all(site, "A comment")
    assert apply(run, site).status == 0

    moved = run("--root", str(site), "migrate-domains")

    assert moved.status == 0, moved.err
    assert sorted(p.name for p in (site / "lists" / domain).iterdir()) == sorted(
        f"{name}.yaml" for name in TOR_LISTS
    )
    assert not list((site / "lists").glob("*.yaml"))
    config = (site / "listsync.yaml").read_text()
    assert config.startswith("# the site\ndomains:\n")
    assert f"\n  {domain}: {{}}" in config
    assert "# where the lists are" in config
    staged = git(site, "status", "--porcelain")
    assert staged.count("R  lists/") == len(TOR_LISTS)
    commit_all(site, "One directory per domain")
    again = plan(run, site)
    assert again.status == 0, again.out + again.err
    assert run("--root", str(site), "migrate-domains").status == 1  # done once
