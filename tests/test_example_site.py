"""The example site (the Tor Project's lists, in this repository) round-trips through Mailman.

Its texts are published as the pipeline's pages job would publish them, on
a static server on 127.0.0.1 (`LISTSYNC_TEMPLATES_URL`); apply converges in
one run and sends no write the second time; importing every list back into
a site holding only `listsync.yaml` and `templates/` gives files that
declare the same footers and rules, and plan nothing.
"""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest
from ruamel.yaml import YAML
from webserver import TextServer

from helpers import REPO, Run
from proxy import Proxy

NOTIFICATION_LISTS = ("tbb-commits", "tor-bugs", "tor-commits", "tor-wiki-changes")
RULES = ("nonmembers", "header_filters", "bans")


def example_site(root: Path, domain: str, *, lists: bool = True) -> Path:
    """A copy of the repository's example site, moved to the test's own domain."""
    root.mkdir(parents=True)
    config = (REPO / "listsync.yaml").read_text().replace("lists.example.org", domain)
    (root / "listsync.yaml").write_text(config)
    shutil.copytree(REPO / "templates", root / "templates")
    if lists:
        shutil.copytree(REPO / "lists", root / "lists")
    return root


def declared(path: Path) -> dict[str, object]:
    """A list file's fields; header names lower case, as Mailman keeps them."""
    loaded = YAML(typ="safe").load(path.read_text())
    assert isinstance(loaded, dict)
    for rule in loaded.get("header_filters") or ():
        rule["header"] = rule["header"].lower()
    return loaded


@pytest.mark.compat
def test_the_example_site_round_trips_its_templates_and_who_may_post(
    run: Run,
    tmp_path: Path,
    domain: str,
    connected: Proxy,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    site = example_site(tmp_path / "site", domain)
    with TextServer(tmp_path / "public") as server:
        monkeypatch.setenv("LISTSYNC_TEMPLATES_URL", server.url)
        rendered = run("--root", str(site), "render", "--templates-out", str(server.directory))
        assert rendered.status == 0, rendered.err
        # --force: the shared core's other domains hold lists (a new domain's guard)
        applied = run("--root", str(site), "apply", "--yes", "--force")
        assert applied.status == 0, applied.out + applied.err
        footers = [name for name in server.fetched if name.startswith("footer-notifications.")]
        assert len(footers) == 1  # apply checked the one text all four lists share

        connected.recorder.clear()
        again = run("--root", str(site), "apply", "--yes")
        assert again.status == 0
        assert connected.recorder.writes == []

        imported = example_site(tmp_path / "imported", domain, lists=False)
        result = run("--root", str(imported), "import")
        assert result.status == 0, result.out + result.err
        assert sorted(p.name for p in (imported / "templates").iterdir()) == sorted(
            p.name for p in (site / "templates").iterdir()
        )  # the texts the site has are named, not written again
        for name in NOTIFICATION_LISTS:
            original = declared(site / "lists" / f"{name}.yaml")
            back = declared(imported / "lists" / f"{name}.yaml")
            assert back["templates"] == original["templates"], name
            for key in RULES:
                assert back.get(key) == original.get(key), (name, key)
        planned = run("--root", str(imported), "plan", "--detailed-exitcode")
        assert planned.status == 0, planned.out
