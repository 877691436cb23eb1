"""Snapshots: a plan against a snapshot is the plan against Mailman, made with no credential.

The snapshot is taken from the real core; the plan from it is compared
with the plan against the core at the same moment, on a site with drift
made by hand, a disabled list, and an unmanaged list a new file adopts.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from mailmanclient import Client

from helpers import TOR_LISTS, Run, commit_all, committed_site, git, write_site
from proxy import Proxy

LISTS = {
    "tor-dev": "description: Development discussion.\nowners: [teor@example.org]\n",
    "tor-old": "description: Retired.\ndisabled: true\nowners: [arma@example.org]\n",
    "tor-internal": "description: Internal.\nvisibility: private\nowners: [arma@example.org]\n",
}
ADOPTED = "description: Was made by hand.\nowners: [gus@example.org]\n"


def substance(plan_json: str) -> list[dict[str, object]]:
    lists: list[dict[str, object]] = json.loads(plan_json)["lists"]
    return lists


@pytest.fixture
def site(tmp_path: Path, domain: str) -> Path:
    config = f"domain: {domain}\ndisabled_owner: devnull@example.org\n"
    return write_site(tmp_path / "site", LISTS, config=config)


def test_a_plan_from_a_snapshot_is_the_plan_against_mailman(
    run: Run,
    site: Path,
    tmp_path: Path,
    domain: str,
    connected: Proxy,
    mailman_client: Client,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    assert run("--root", str(site), "apply", "--yes").status == 0
    dev = mailman_client.get_list(f"tor-dev@{domain}")
    dev.add_owner("intruder@example.org")
    settings = dev.settings
    settings["archive_policy"] = "never"
    settings.save()
    dev.bans.add("spammer@example.org")
    by_hand = mailman_client.get_domain(domain).create_list("by-hand")
    by_hand.add_owner("someone@example.org")
    (site / "lists" / "by-hand.yaml").write_text(ADOPTED)

    taken = tmp_path / "snapshot.json"
    made = run("--root", str(site), "snapshot", "--out", str(taken))
    assert made.status == 0, made.err
    assert f"wrote {taken}: 4 list(s) of {domain}" in made.err
    against_mailman = run("--root", str(site), "plan", "--format", "json")
    assert against_mailman.status == 0

    text = taken.read_text()
    assert "moderator_password" not in text
    document = json.loads(text)
    assert document["lists"]["tor-old"]["bans"] == ["^.*@.*"]
    assert document["lists"]["tor-dev"]["bans"] == ["spammer@example.org"]
    assert sorted(document["lists"]) == ["by-hand", "tor-dev", "tor-internal", "tor-old"]

    for name in ("MAILMAN_REST_URL", "MAILMAN_REST_USER", "MAILMAN_REST_PASSWORD"):
        monkeypatch.delenv(name)
    connected.recorder.clear()
    against_snapshot = run("--root", str(site), "plan", "--live", str(taken), "--format", "json")
    assert against_snapshot.status == 0, against_snapshot.err
    assert connected.recorder.requests == []
    assert substance(against_snapshot.out) == substance(against_mailman.out)
    changed = {e["name"]: e["action"] for e in substance(against_snapshot.out)}
    assert changed["tor-dev"] == "update"
    assert changed["by-hand"] == "update"
    notes = json.loads(against_snapshot.out)["notes"]
    assert notes[0].startswith("planned against a snapshot of Mailman taken ")

    review = tmp_path / "review.json"
    assert run("--root", str(site), "plan", "--live", str(taken), "--out", str(review)).status == 0
    monkeypatch.setenv("MAILMAN_REST_URL", connected.url)
    monkeypatch.setenv("MAILMAN_REST_USER", "someone")
    monkeypatch.setenv("MAILMAN_REST_PASSWORD", "not-the-password-a91c")
    refused = run("--root", str(site), "apply", str(review))
    assert refused.status == 1
    assert "is a plan but not a saved one" in refused.err
    assert connected.recorder.writes == []


def test_a_snapshot_of_another_domain_or_not_a_snapshot_is_refused(
    run: Run, site: Path, tmp_path: Path, domain: str, connected: Proxy
) -> None:
    taken = tmp_path / "snapshot.json"
    assert run("--root", str(site), "snapshot", "--out", str(taken)).status == 0
    document = json.loads(taken.read_text())
    assert document["domain_exists"] is False
    assert run("--root", str(site), "plan", "--live", str(taken)).status == 0

    document["domain"] = "elsewhere.example.org"
    other = tmp_path / "other.json"
    other.write_text(json.dumps(document))
    result = run("--root", str(site), "plan", "--live", str(other))
    assert result.status == 1
    assert f"is a snapshot of elsewhere.example.org; the site's domain is {domain}" in result.err

    other.write_text('{"format_version": 1}')
    result = run("--root", str(site), "plan", "--live", str(other))
    assert result.status == 1
    assert "is not a listsync snapshot" in result.err


def test_a_redacting_site_writes_a_snapshot_only_when_told_where_it_goes(
    run: Run, tmp_path: Path, domain: str, connected: Proxy
) -> None:
    config = f"domain: {domain}\nredact_addresses: true\n"
    site = write_site(tmp_path / "redacting", LISTS, config=config)
    taken = tmp_path / "snapshot.json"
    refused = run("--root", str(site), "snapshot", "--out", str(taken))
    assert refused.status == 1
    assert "pass --include-addresses once it is stored where only project members" in refused.err
    assert not taken.exists()
    assert connected.recorder.requests == []
    allowed = run("--root", str(site), "snapshot", "--out", str(taken), "--include-addresses")
    assert allowed.status == 0, allowed.err
    assert json.loads(taken.read_text())["domain"] == domain


def test_a_merge_request_that_starts_managing_bans_shows_every_ban_it_lifts(
    run: Run,
    tmp_path: Path,
    domain: str,
    connected: Proxy,
    mailman_client: Client,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """The snapshot holds every list's whole detail, so a merge request that declares
    `bans:` (or templates, non-members, header filters) for the first time is planned
    against all that Mailman has, and shows what the merge will lift."""
    site = committed_site(tmp_path / "site", domain)
    assert run("--root", str(site), "apply", "--yes").status == 0
    dev = mailman_client.get_list(f"tor-dev@{domain}")
    dev.bans.add("troll@example.org")
    dev.bans.add("^.*@spam\\.example$")
    dev.add_role("nonmember", "bridge@example.org")
    bridge = dev.get_nonmember("bridge@example.org")
    bridge.moderation_action = "accept"
    bridge.save()
    taken = tmp_path / "snapshot.json"
    assert run("--root", str(site), "snapshot", "--out", str(taken)).status == 0

    git(site, "checkout", "-q", "-b", "ban-a-spammer")
    (site / "lists" / "tor-dev.yaml").write_text(
        TOR_LISTS["tor-dev"] + "bans: [spammer@example.org]\nnonmembers: {}\n"
    )
    commit_all(site, "tor-dev: ban a spammer")
    after_merge = run("--root", str(site), "plan", "--format", "markdown")
    for name in ("MAILMAN_REST_URL", "MAILMAN_REST_USER", "MAILMAN_REST_PASSWORD"):
        monkeypatch.delenv(name)
    connected.recorder.clear()
    request = run(
        "--root", str(site), "plan", "--live", str(taken), "--changed-since", "main",
        "--format", "markdown",
    )  # fmt: skip
    assert request.status == 0, request.err
    assert connected.recorder.requests == []
    for line in (
        "+ ban spammer@example.org",
        "- ban troll@example.org",
        "- ban ^.*@spam\\.example$",
        "- nonmember bridge@example.org: accept (back to the list's default)",
    ):
        assert line in request.out, line
        assert line in after_merge.out, line
