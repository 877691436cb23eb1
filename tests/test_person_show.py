"""`listsync person show` against a real core: every place of one person, found in a fixed
number of requests.

The person (an address of the test's own domain, so no other test meets it,
and its site-wide ban is removed at the end) is put in every role on managed
and unmanaged lists of two domains, banned per list and site-wide, named by
the files, and given drift both ways. The recording proxy counts what one
`person show` reads, and shows that it does not grow with the lists the
person is on.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from mailmanclient import Client

from helpers import Run, write_site
from proxy import Proxy

pytestmark = pytest.mark.compat

OWNER = "bob@example.org"


@pytest.fixture
def subject(domain: str, mailman_client: Client) -> Iterator[str]:
    """The person; a site-wide ban of theirs that a test adds is lifted afterwards."""
    address = f"alice@{domain}"
    yield address
    pattern = "^" + re.escape(address) + "$"
    if pattern in mailman_client.bans:
        mailman_client.bans.remove(pattern)


def _site(tmp_path: Path, domain: str, subject: str) -> Path:
    lists = {
        # line 3: the subject as owner, upper case with a display name
        "dev": f"description: Dev.\nowners:\n  - Alice <{subject.upper()}>\n  - {OWNER}\n",
        # line 3: the subject as moderator; dropped in Mailman by hand below
        "ops": f"description: Ops.\nowners: [{OWNER}]\nmoderators: [{subject}]\n",
        # line 4: the subject as a non-member
        "news": f"description: News.\nowners: [{OWNER}]\nnonmembers:\n  {subject}: accept\n",
        # line 5: a ban of the subject
        "quiet": (
            f"description: Quiet.\nvisibility: private\nowners: [{OWNER}]\nbans:\n  - {subject}\n"
        ),
        "team": f"description: Team.\nowners: [{OWNER}]\n",
    }
    return write_site(tmp_path / "site", lists, config=f"domain: {domain}\n")


def _show(run: Run, site: Path, *args: str) -> dict[str, Any]:
    result = run("--root", str(site), "person", "show", *args, "--format", "json")
    assert result.status == 0, result.err
    document = json.loads(result.out)
    assert isinstance(document, dict)
    return document


def test_person_show_finds_every_place_of_a_person(
    run: Run,
    tmp_path: Path,
    domain: str,
    subject: str,
    mailman_client: Client,
    connected: Proxy,
) -> None:
    site = _site(tmp_path, domain, subject)
    assert run("--root", str(site), "apply", "--yes").status == 0, "the site applied"
    other_domain = mailman_client.create_domain(f"other.{domain}")
    # Drift: dropped as moderator of ops, made moderator of team, by hand.
    mailman_client.get_list(f"ops@{domain}").remove_moderator(subject)
    mailman_client.get_list(f"team@{domain}").add_moderator(subject)
    # Unmanaged lists: a private member list of the site's domain (delivery disabled by
    # the user), a public list owned, and a non-member with an action, in another domain.
    legacy = mailman_client.get_domain(domain).create_list("legacy")
    legacy.settings["advertised"] = False
    legacy.settings.save()
    member = legacy.subscribe(subject, pre_verified=True, pre_confirmed=True, pre_approved=True)
    member.preferences["delivery_status"] = "by_user"
    member.preferences.save()
    public = other_domain.create_list("public")
    public.add_owner(subject)
    public.settings["archive_policy"] = "public"
    public.settings["advertised"] = True
    public.settings.save()
    held = other_domain.create_list("held")
    held.settings["advertised"] = False
    held.settings.save()
    held.add_role("nonmember", subject)
    (nonmember,) = [m for m in held.nonmembers if m.email == subject]
    nonmember.moderation_action = "hold"
    nonmember.save()
    # A ban of everyone at the domain (another person's pattern too) on the legacy list.
    legacy.bans.add("^.*@" + re.escape(domain) + "$")
    # One Mailman user, two addresses.
    work = f"alice.work@other.{domain}"
    user = mailman_client.get_user(subject)  # made by the subscription
    user.add_address(work)
    # Banned site-wide (after the subscriptions: Mailman refuses to subscribe the banned).
    mailman_client.bans.add("^" + re.escape(subject) + "$")
    # A list file not applied yet.
    (site / "lists" / "future.yaml").write_text(f"description: Future.\nowners: [{subject}]\n")

    document = _show(run, site, f"Alice <{subject.upper()}>")
    assert document["format_version"] == 1
    assert document["scope"] == "server"
    (person,) = document["people"]
    assert person["address"] == subject
    places = {(m["list"], m["role"]): m for m in person["memberships"]}
    assert set(places) == {
        (f"dev@{domain}", "owner"),
        (f"news@{domain}", "nonmember"),
        (f"team@{domain}", "moderator"),
        (f"legacy@{domain}", "member"),
        (f"public@other.{domain}", "owner"),
        (f"held@other.{domain}", "nonmember"),
    }
    assert places[(f"dev@{domain}", "owner")]["managed"] is True
    assert places[(f"dev@{domain}", "owner")]["public"] is True, "advertised, public archive"
    assert places[(f"news@{domain}", "nonmember")]["moderation_action"] == "accept"
    legacy_place = places[(f"legacy@{domain}", "member")]
    assert legacy_place["managed"] is False
    assert legacy_place["public"] is False
    assert legacy_place["delivery_mode"] == "regular"
    assert legacy_place["delivery_status"] == "by_user"
    assert places[(f"public@other.{domain}", "owner")]["public"] is True
    assert places[(f"held@other.{domain}", "nonmember")]["moderation_action"] == "hold"

    bans = {(b["list"], b["pattern"]) for b in person["bans"]}
    assert bans == {
        (None, "^" + re.escape(subject) + "$"),
        (f"quiet@{domain}", subject),
        (f"legacy@{domain}", "^.*@" + re.escape(domain) + "$"),
    }
    mentions = {(m["path"], m["line"], m["field"]) for m in person["mentions"]}
    assert mentions == {
        ("lists/dev.yaml", 3, "owners"),
        ("lists/ops.yaml", 3, "moderators"),
        ("lists/news.yaml", 4, "nonmembers"),
        ("lists/quiet.yaml", 5, "bans"),
        ("lists/future.yaml", 2, "owners"),
    }
    assert person["differences"] == [
        f"future@{domain}: owner by lists/future.yaml, but the list is not in Mailman"
        " (not created yet?)",
        f"ops@{domain}: moderator by lists/ops.yaml, not in Mailman (not applied yet?)",
        f"team@{domain}: moderator in Mailman, not by lists/team.yaml",
    ]
    assert person["other_addresses"] == [work]

    text = run("--root", str(site), "person", "show", subject)
    assert text.status == 0, text.err
    assert f"    owner     dev@{domain}  (managed; public)" in text.out, text.out
    assert "Files and Mailman differ: 3" in text.out
    assert "lists/dev.yaml:3: owners of dev" in text.out
    assert "Every list on the server (every domain)" in text.out

    # Redacted: the subject stays, the other address and others' patterns are masked.
    hidden = run("--root", str(site), "person", "show", subject, "--redact")
    assert hidden.status == 0, hidden.err
    assert subject in hidden.out
    assert work not in hidden.out
    assert f"a***@other.{domain}" in hidden.out
    assert f"legacy@{domain}: ***@" in hidden.out

    # The other address is the same person but is shown only when asked about.
    connected.recorder.clear()
    both = _show(run, site, subject, work)
    assert [p["address"] for p in both["people"]] == [subject, work]
    assert both["people"][1]["other_addresses"] == [subject]
    assert connected.recorder.writes == [], "show only reads"


def test_person_show_costs_the_same_whatever_the_number_of_lists(
    run: Run,
    tmp_path: Path,
    domain: str,
    subject: str,
    mailman_client: Client,
    connected: Proxy,
) -> None:
    site = write_site(tmp_path / "site", {}, config=f"domain: {domain}\n")
    home = mailman_client.create_domain(domain)

    def subscribe_to(name: str) -> None:
        mlist = home.create_list(name)
        mlist.settings["advertised"] = False
        mlist.settings.save()
        mlist.subscribe(subject, pre_verified=True, pre_confirmed=True, pre_approved=True)

    subscribe_to("first")
    connected.recorder.clear()
    one = _show(run, site, subject, "--no-bans")
    few_lists = list(connected.recorder.requests)
    assert connected.recorder.writes == []
    for i in range(6):
        subscribe_to(f"more{i}")
    connected.recorder.clear()
    seven = _show(run, site, subject, "--no-bans")
    many_lists = list(connected.recorder.requests)
    assert len(one["people"][0]["memberships"]) == 1
    assert len(seven["people"][0]["memberships"]) == 7
    assert many_lists == few_lists, "the same requests for 1 list as for 7"
    paths = [path.split("?")[0].split("/3.1/")[-1] for _, path in many_lists]
    # the listing, the site-wide bans, the places, the members enabled, the user
    assert paths[:5] == ["lists", "bans", "members/find", "members/find", f"addresses/{subject}"]
    assert re.fullmatch(r"users/[0-9a-f]+/addresses", paths[5]), "the subscription made a user"
    assert seven["cost"] == {
        "requests": 6,
        "lists_on_server": seven["cost"]["lists_on_server"],
        "list_bans_read": False,
    }

    # With the per-list bans: one more request per list on the server, and no other.
    on_server = len(mailman_client.get_lists())
    connected.recorder.clear()
    with_bans = _show(run, site, subject)
    assert len(connected.recorder.requests) == 6 + on_server
    assert with_bans["cost"]["lists_on_server"] == on_server


def test_person_show_escapes_what_mailman_holds(
    run: Run,
    tmp_path: Path,
    domain: str,
    subject: str,
    mailman_client: Client,
    connected: Proxy,
) -> None:
    site = write_site(tmp_path / "site", {}, config=f"domain: {domain}\n")
    hostile = mailman_client.create_domain(domain).create_list("hostile")
    pattern = "^" + re.escape(subject) + "(\x1b\\[31m|\u202e|`\\*_\\|)?$"
    hostile.bans.add(pattern)

    text = run("--root", str(site), "person", "show", subject)
    assert text.status == 0, text.err
    assert "\x1b" not in text.out
    assert "\u202e" not in text.out
    assert "\\x1b\\[31m|\\u202e|" in text.out
    markdown = run("--root", str(site), "person", "show", subject, "--format", "markdown")
    assert "\x1b" not in markdown.out
    assert "\u202e" not in markdown.out
    assert "\\`\\\\\\*\\_\\\\\\|" in markdown.out, "backtick, star, underscore, pipe escaped"
    document = run("--root", str(site), "person", "show", subject, "--format", "json")
    assert "\\u001b" in document.out
    assert "\\u202e" in document.out
    bans = json.loads(document.out)["people"][0]["bans"]
    assert {"list": f"hostile@{domain}", "pattern": pattern} in bans

    bad = run("--root", str(site), "person", "show", "not an address\x1b")
    assert bad.status == 1
    assert "is not an e-mail address" in bad.err
    assert "\x1b" not in bad.err
