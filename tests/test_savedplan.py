"""Saved plans are commitments: `apply FILE` re-plans and applies only exactly what was recorded.

Every tamper a review found is made to a real saved plan and applied
against the real core through the recording proxy: each is refused with
a message saying what differs, and nothing is written.
"""

from __future__ import annotations

import copy
import json
import os
import re
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from mailmanclient import Client

from helpers import (
    TOR_LISTS,
    Run,
    commit_all,
    committed_site,
    git,
    init_repo,
    plan_exit,
    short,
    write_site,
)
from proxy import Proxy

LISTS = TOR_LISTS
Document = dict[str, Any]

pytestmark = pytest.mark.compat


@pytest.fixture
def site(tmp_path: Path, domain: str) -> Path:
    """A committed site on branch main (not yet in Mailman)."""
    return committed_site(tmp_path / "site", domain)


plan = plan_exit


def entry(document: Document, name: str) -> Document:
    found: Document = next(e for e in document["lists"] if e["name"] == name)
    return found


def test_apply_a_saved_plan_applies_exactly_what_was_planned(
    run: Run, site: Path, domain: str, connected: Proxy, tmp_path: Path
) -> None:
    saved_path, markdown = site / "plan.json", tmp_path / "plan.md"
    status, out, err = plan(run, site, "--out", str(saved_path), "--out", str(markdown))
    assert status == 2
    assert out == ""
    assert f"wrote {saved_path}: Plan: 3 to create" in err
    assert markdown.read_text().startswith(f"### listsync plan for `{domain}` (all lists)")
    data = json.loads(saved_path.read_text())
    assert data["format_version"] == 1
    assert data["summary"]["create"] == 3
    assert data["saved"]["revision"] == git(site, "rev-parse", "HEAD")
    assert data["saved"] == {
        "commitment": 2,
        "revision": git(site, "rev-parse", "HEAD"),
        "uncommitted": [],
        "selection": None,
        "domain_exists": False,
        "redacted": False,
    }
    changes = [change for entry in data["lists"] for change in entry["changes"]]
    creations = [change for change in changes if change["type"] == "create_list"]
    assert len(creations) == 3
    # the domain, then each change; a creation is the list and its lockdown
    planned_writes = 1 + len(changes) + len(creations)
    connected.recorder.clear()

    applied = run("--root", str(site), "apply", str(saved_path))
    assert applied.status == 0, applied.err
    assert "Applied 3 list(s), 0 failed." in applied.out
    assert len(connected.recorder.writes) == planned_writes
    assert plan(run, site)[0] == 0


def test_a_saved_plan_is_refused_when_mailman_changed_a_list_it_planned(
    run: Run, site: Path, domain: str, connected: Proxy, mailman_client: Client
) -> None:
    assert run("--root", str(site), "apply", "--yes").status == 0
    (site / "lists" / "tor-dev.yaml").write_text(LISTS["tor-dev"] + "archive: private\n")
    commit_all(site, "Ask for a private tor-dev archive")
    saved_path = site / "plan.json"
    assert plan(run, site, "--out", str(saved_path))[0] == 2

    mailman_client.get_list(f"tor-dev@{domain}").add_moderator("someone@example.org")
    connected.recorder.clear()
    refused = run("--root", str(site), "apply", str(saved_path))
    assert refused.status == 1
    assert refused.err.strip() == (
        f"error: stale or edited plan: the files at revision {short(site)} and Mailman now"
        f" give other changes than {saved_path} recorded: tor-dev (changes not as planned"
        " now). Mailman changed since the plan was made, or the file was changed after"
        " 'listsync plan' wrote it; plan again. Nothing was changed"
    )
    assert connected.recorder.writes == []

    # A list the plan leaves unchanged counts too: its changes would be applied unreviewed.
    assert plan(run, site, "--out", str(saved_path))[0] == 2
    announce = mailman_client.get_list(f"tor-announce@{domain}").settings
    announce["description"] = "Changed by hand, on a list the plan does not change."
    announce.save()
    refused = run("--root", str(site), "apply", str(saved_path))
    assert refused.status == 1
    assert "tor-announce (changes planned now, none recorded)" in refused.err
    assert connected.recorder.writes == []

    assert plan(run, site, "--list", "tor-dev", "--out", str(saved_path))[0] == 2
    applied = run("--root", str(site), "apply", str(saved_path))
    assert applied.status == 0, applied.err
    assert mailman_client.get_list(f"tor-dev@{domain}").settings["archive_policy"] == "private"
    assert (
        "Changed by hand"
        in mailman_client.get_list(f"tor-announce@{domain}").settings["description"]
    ), "a plan of tor-dev alone leaves tor-announce alone"


def test_a_saved_plan_is_refused_at_another_revision_or_work_tree(
    run: Run, site: Path, connected: Proxy
) -> None:
    saved_path = site / "plan.json"
    planned_at = short(site)
    assert plan(run, site, "--out", str(saved_path))[0] == 2
    connected.recorder.clear()
    dev = site / "lists" / "tor-dev.yaml"
    dev.write_text(LISTS["tor-dev"] + "archive: private\n")

    dirty = run("--root", str(site), "apply", str(saved_path))
    assert dirty.status == 1
    assert dirty.err.strip() == (
        f"error: {saved_path} was planned with other uncommitted changes than the work tree"
        " has now (lists/tor-dev.yaml): plan again"
    )
    commit_all(site, "Ask for a private tor-dev archive")
    moved = run("--root", str(site), "apply", str(saved_path))
    assert moved.status == 1
    assert moved.err.strip() == (
        f"error: {saved_path} was planned at revision {planned_at}; the work tree is at"
        f" revision {short(site)}: plan again"
    )
    assert connected.recorder.requests == []


def test_only_a_saved_plan_can_be_applied_from_a_file(
    run: Run, site: Path, connected: Proxy
) -> None:
    plain = site / "plain.json"
    plain.write_text(plan(run, site, "--format", "json")[1])
    refused = run("--root", str(site), "apply", str(plain))
    assert refused.status == 1
    assert "is a plan but not a saved one" in refused.err
    conflicting = run("--root", str(site), "plan", "--format", "markdown", "--out", "p.json")
    assert conflicting.status == 1
    assert "--out p.json writes json (by its name), not --format markdown" in conflicting.err
    listed = run("--root", str(site), "apply", str(plain), "--list", "tor-dev")
    assert listed.status == 1
    assert "a saved plan fixes its lists" in listed.err
    assert connected.recorder.writes == []


# -- tampering -----------------------------------------------------------------------


def _remove_every_owner(doc: Document) -> None:
    changes = entry(doc, "tor-dev")["changes"]
    changes.append({"type": "remove_member", "role": "owner", "address": "teor@example.org"})


def _write_moderator_password(doc: Document) -> None:
    update = next(c for c in entry(doc, "tor-dev")["changes"] if c["type"] == "update_settings")
    update["settings"].append({"key": "moderator_password", "existing": None, "desired": "x"})


def _other_domain(doc: Document) -> None:
    entry(doc, "tor-dev")["fqdn"] = f"victim@other.{doc['domain']}"


def _dot_dot_address(doc: Document) -> None:
    entry(doc, "tor-dev")["changes"].append(
        {"type": "remove_member", "role": "owner", "address": ".."}
    )


def _dot_dot_ban(doc: Document) -> None:
    entry(doc, "tor-dev")["changes"].append({"type": "remove_ban", "pattern": ".."})


def _claim_nothing_changes(doc: Document) -> None:
    entry(doc, "tor-dev")["action"] = "unchanged"
    doc["summary"] = dict.fromkeys(doc["summary"], 0)
    doc.pop("managed")


def _drop_the_list(doc: Document) -> None:
    doc["lists"] = [e for e in doc["lists"] if e["name"] != "tor-dev"]


def _select_an_unmanaged_list(doc: Document) -> None:
    doc["saved"]["selection"] = ["tor-dev", "victim"]


def _select_a_path(doc: Document) -> None:
    doc["saved"]["selection"] = ["../tor-dev"]


def _record_a_list_no_file_declares(doc: Document) -> None:
    doc["lists"].append(
        {
            "name": "victim",
            "fqdn": f"victim@{doc['domain']}",
            "action": "update",
            "changes": [{"type": "remove_member", "role": "owner", "address": "x@example.org"}],
        }
    )


def _an_earlier_format_with_a_keyed_digest(doc: Document) -> None:
    doc["saved"].pop("commitment")
    doc["saved"]["digest"] = "hmac-sha256:" + "0" * 64


TAMPERS: dict[str, tuple[Callable[[Document], None], str]] = {
    "remove every owner": (_remove_every_owner, "tor-dev (changes not as planned now)"),
    "write moderator_password": (_write_moderator_password, "tor-dev (changes not as planned now)"),
    "another domain's list": (_other_domain, "tor-dev (fqdn not as planned now)"),
    "a .. address": (_dot_dot_address, "tor-dev (changes not as planned now)"),
    "a .. ban pattern": (_dot_dot_ban, "tor-dev (changes not as planned now)"),
    "say nothing changes": (_claim_nothing_changes, "tor-dev (action not as planned now)"),
    "leave a list out": (_drop_the_list, "tor-dev (changes planned now, none recorded)"),
    "an unmanaged list": (_select_an_unmanaged_list, "names lists no file in lists/ declares"),
    "a path": (_select_a_path, "names lists no file in lists/ declares (../tor-dev)"),
    "record an unmanaged list": (_record_a_list_no_file_declares, "declares (victim)"),
    "an earlier format": (_an_earlier_format_with_a_keyed_digest, "saved by an earlier listsync"),
}


def test_a_tampered_saved_plan_is_refused_and_writes_nothing(
    run: Run, site: Path, domain: str, connected: Proxy, mailman_client: Client
) -> None:
    assert run("--root", str(site), "apply", "--yes").status == 0
    victim = mailman_client.create_domain(f"other.{domain}").create_list("victim")
    victim.add_owner("victim-owner@example.org")
    (site / "lists" / "tor-dev.yaml").write_text(LISTS["tor-dev"] + "archive: private\n")
    commit_all(site, "Ask for a private tor-dev archive")
    saved_path = site / "plan.json"
    assert plan(run, site, "--out", str(saved_path))[0] == 2
    original: Document = json.loads(saved_path.read_text())

    refusals = {}
    for what, (tamper, expected) in TAMPERS.items():
        document = copy.deepcopy(original)
        tamper(document)
        tampered = site / "tampered.json"
        tampered.write_text(json.dumps(document))
        connected.recorder.clear()
        result = run("--root", str(site), "apply", str(tampered))
        refusals[what] = result.err
        assert result.status == 1, what
        assert expected in result.err, (what, result.err)
        assert "Nothing was changed" in result.err or "nothing was changed" in result.err, what
        assert connected.recorder.writes == [], what
    assert len(refusals) == len(TAMPERS)

    dev = mailman_client.get_list(f"tor-dev@{domain}")
    assert [o.email for o in dev.owners] == ["teor@example.org"]
    assert dev.settings["archive_policy"] == "public"
    victim_owners = mailman_client.get_list(f"victim@other.{domain}").owners
    assert [o.email for o in victim_owners] == ["victim-owner@example.org"]

    applied = run("--root", str(site), "apply", str(saved_path))
    assert applied.status == 0, "the file as written is still good"
    assert mailman_client.get_list(f"tor-dev@{domain}").settings["archive_policy"] == "private"


def test_the_blast_radius_comes_from_the_re_plan_not_the_file(
    run: Run, tmp_path: Path, domain: str, connected: Proxy
) -> None:
    lists = {f"list-{i}": f"description: List {i}.\nowners: [o{i}@example.org]\n" for i in range(4)}
    config = f"domain: {domain}\nsafety:\n  min_managed_lists: 1\n  max_changed_fraction: 0.5\n"
    site = write_site(tmp_path / "site", lists, config)
    init_repo(site)
    assert run("--root", str(site), "apply", "--yes").status == 0
    (site / "listsync.yaml").write_text(config + "defaults:\n  archive: private\n")
    commit_all(site, "Private archives everywhere")
    saved_path = site / "plan.json"
    status = plan(run, site, "--out", str(saved_path), "--out", str(tmp_path / "p.md"))[0]
    assert status == 2
    note = (tmp_path / "p.md").read_text()
    assert "this plan changes 4 of 4 managed lists (100%)" in note
    assert "the manual apply-force job" in note

    document: Document = json.loads(saved_path.read_text())
    document["managed"] = 1000
    for item in document["lists"]:
        item["action"] = "unchanged" if item["action"] == "update" else item["action"]
    saved_path.write_text(json.dumps(document))
    connected.recorder.clear()
    refused = run("--root", str(site), "apply", str(saved_path))
    assert refused.status == 1
    assert "action not as planned now" in refused.err
    assert connected.recorder.writes == []

    assert plan(run, site, "--out", str(saved_path))[0] == 2
    document = json.loads(saved_path.read_text())
    document["managed"] = 1000
    saved_path.write_text(json.dumps(document))
    refused = run("--root", str(site), "apply", str(saved_path))
    assert refused.status == 1
    assert "refusing to apply: this plan changes 4 of 4 managed lists (100%)" in refused.err
    assert connected.recorder.writes == []
    forced = run("--root", str(site), "apply", "--force", str(saved_path))
    assert forced.status == 0, forced.err
    assert "Applied 4 list(s), 0 failed." in forced.out


def test_a_redacted_saved_plan_hides_addresses_and_still_pins_them(
    run: Run, tmp_path: Path, domain: str, connected: Proxy, mailman_client: Client
) -> None:
    lists = {"tor-dev": "description: Dev.\nowners: [teor.owner@example.org]\n"}
    config = f"domain: {domain}\nredact_addresses: true\n"
    site = write_site(tmp_path / "site", lists, config)
    init_repo(site)
    saved_path = site / "plan.json"
    assert plan(run, site, "--out", str(saved_path))[0] == 2
    text = saved_path.read_text()
    assert "teor.owner" not in text
    assert "t***@example.org" in text

    document: Document = json.loads(text)
    owner = next(c for c in entry(document, "tor-dev")["changes"] if c["type"] == "add_member")
    owner["address"] = "m***@example.org"
    tampered = site / "tampered.json"
    tampered.write_text(json.dumps(document))
    refused = run("--root", str(site), "apply", str(tampered))
    assert refused.status == 1
    assert "tor-dev (changes not as planned now)" in refused.err
    assert connected.recorder.writes == []

    document = json.loads(text)
    document["saved"]["redacted"] = False
    tampered.write_text(json.dumps(document))
    assert run("--root", str(site), "apply", str(tampered)).status == 1

    applied = run("--root", str(site), "apply", str(saved_path))
    assert applied.status == 0, applied.err
    assert "teor.owner" not in applied.out + applied.err
    owners = mailman_client.get_list(f"tor-dev@{domain}").owners
    assert [o.email for o in owners] == ["teor.owner@example.org"]


def test_require_tip_refuses_a_work_tree_that_is_not_the_tip(
    run: Run, site: Path, connected: Proxy
) -> None:
    saved_path = site.parent / "plan.json"
    assert plan(run, site, "--out", str(saved_path))[0] == 2
    planned_at = git(site, "rev-parse", "HEAD")
    git(site, "branch", "tip")
    git(site, "checkout", "--quiet", "tip")
    (site / "lists" / "tor-dev.yaml").write_text(LISTS["tor-dev"] + "archive: private\n")
    newer = commit_all(site, "Ask for a private tor-dev archive")
    git(site, "checkout", "--quiet", "main")

    old = run("--root", str(site), "apply", str(saved_path), "--require-tip", "tip")
    assert old.status == 1
    assert old.err.strip() == (
        f"error: refusing to apply: the work tree is at {planned_at[:7]}, but tip is at"
        f" {newer[:7]}: an older revision is never applied over a newer one (the newer"
        " revision's pipeline applies it); nothing was changed"
    )
    unknown = run("--root", str(site), "apply", "--yes", "--require-tip", "origin/nowhere")
    assert unknown.status == 1
    assert "unknown revision 'origin/nowhere'" in unknown.err
    (site / "lists" / "tor-dev.yaml").write_text(LISTS["tor-dev"] + "archive: none\n")
    dirty = run("--root", str(site), "apply", "--yes", "--require-tip", "main")
    assert dirty.status == 1
    assert "uncommitted changes in lists/tor-dev.yaml are not main" in dirty.err
    assert connected.recorder.writes == []

    git(site, "checkout", "--quiet", "--", "lists/tor-dev.yaml")
    applied = run("--root", str(site), "apply", str(saved_path), "--require-tip", "main")
    assert applied.status == 0, applied.err


# -- what a published saved plan reveals ----------------------------------------------

_LONG_HEX = re.compile(r"[0-9a-f]{32,}")


def _strings(value: Any) -> list[str]:
    if isinstance(value, dict):
        return [s for key, item in value.items() for s in (str(key), *_strings(item))]
    if isinstance(value, list):
        return [s for item in value for s in _strings(item)]
    return [value] if isinstance(value, str) else []


def test_a_saved_plan_holds_no_hash_to_test_a_guess_against(
    run: Run, site: Path, domain: str, connected: Proxy, mailman_client: Client
) -> None:
    """No fingerprint, digest or keyed hash: nothing in the file depends on the REST password
    or on an address beyond the changes it shows (masked ones stay masked)."""
    (site / "listsync.yaml").write_text(
        f"domain: {domain}\ndisabled_owner: devnull@example.org\nredact_addresses: true\n"
    )
    commit_all(site, "Redact addresses")
    assert run("--root", str(site), "apply", "--yes").status == 0
    mailman_client.get_list(f"tor-dev@{domain}").add_owner("hidden.owner@example.org")
    saved_path = site / "drift.json"
    assert plan(run, site, "--out", str(saved_path))[0] == 2
    document = json.loads(saved_path.read_text())
    commits = set(git(site, "rev-list", "--all").split())
    hashes = [s for s in _strings(document) if _LONG_HEX.search(s) and s not in commits]
    assert hashes == []
    assert set(document["saved"]) == {
        "commitment",
        "revision",
        "uncommitted",
        "selection",
        "domain_exists",
        "redacted",
    }
    assert os.environ["MAILMAN_REST_PASSWORD"] not in saved_path.read_text()
    assert "hidden.owner" not in saved_path.read_text()
    assert "h***@example.org" in saved_path.read_text()

    connected.recorder.clear()
    applied = run("--root", str(site), "apply", str(saved_path))
    assert applied.status == 0, applied.err
    assert [o.email for o in mailman_client.get_list(f"tor-dev@{domain}").owners] == [
        "teor@example.org"
    ]


def test_a_non_member_posting_between_plan_and_apply_leaves_the_plan_good(
    run: Run, site: Path, domain: str, connected: Proxy, mailman_client: Client
) -> None:
    """Mailman puts every non-member who posts on the list's non-member roster with no
    action: nothing a plan changes, so the reviewed plan still applies."""
    dev = site / "lists" / "tor-dev.yaml"
    dev.write_text(LISTS["tor-dev"] + "nonmembers: {bot@example.org: accept}\n")
    commit_all(site, "Let the bot post to tor-dev")
    assert run("--root", str(site), "apply", "--yes").status == 0
    dev.write_text(LISTS["tor-dev"] + "nonmembers: {bot@example.org: accept}\narchive: private\n")
    commit_all(site, "Ask for a private tor-dev archive")
    saved_path = site / "plan.json"
    assert plan(run, site, "--out", str(saved_path))[0] == 2

    # what Mailman does when a stranger posts: a roster entry with no moderation action
    mailman_client.get_list(f"tor-dev@{domain}").add_role("nonmember", "stranger@example.org")
    applied = run("--root", str(site), "apply", str(saved_path))
    assert applied.status == 0, applied.err
    assert mailman_client.get_list(f"tor-dev@{domain}").settings["archive_policy"] == "private"
    assert plan(run, site)[0] == 0
