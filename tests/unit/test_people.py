"""People, without Mailman: the forms an address comes in, redaction that spares the
subject, and how `person show` prints what it found."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from helpers import write_site
from listsync.errors import ListsyncError, hide_addresses, keep_addresses, scrub
from listsync.load import load_valid_site
from listsync.people import (
    Ban,
    Directory,
    Membership,
    Mention,
    Place,
    Whereabouts,
    directories,
    mentions,
    normalise,
)
from listsync.people_render import Showing, redacted, render
from listsync.redaction import redact

SUBJECT = "alice@example.org"


@pytest.mark.parametrize(
    "given",
    [
        "alice@example.org",
        "Alice@Example.ORG",
        "Alice <alice@example.org>",
        '"Liddell, Alice" <ALICE@example.org>',
        "  <alice@example.org>  ",
    ],
)
def test_every_form_of_an_address_is_the_same_person(given: str) -> None:
    assert normalise(given) == SUBJECT


@pytest.mark.parametrize("given", ["", "alice", "alice@", "a@b@example.org", "Alice <>"])
def test_what_is_no_address_is_refused(given: str) -> None:
    with pytest.raises(ListsyncError, match="is not an e-mail address"):
        normalise(given)


def test_redaction_keeps_only_the_addresses_asked_for() -> None:
    text = "alice@example.org, ALICE@example.org, alice@example.org.evil, bob@example.org"
    assert redact(text, keep=[SUBJECT]) == (
        "alice@example.org, ALICE@example.org, a***@example.org.evil, b***@example.org"
    )
    assert redact("xalice@example.org", keep=[SUBJECT]) == "x***@example.org"


def test_scrub_spares_the_subject_when_addresses_are_hidden() -> None:
    hide_addresses(True)
    keep_addresses([SUBJECT])
    try:
        assert scrub("alice@example.org and bob@example.org") == (
            "alice@example.org and b***@example.org"
        )
    finally:
        hide_addresses(False)
        keep_addresses(())


def _showing() -> Showing:
    evil = "dev\x1b[2J|*x*"
    person = Whereabouts(
        address=SUBJECT,
        memberships=(
            Membership(
                "dev",
                "dev@lists.example.org",
                Place.MEMBER,
                SUBJECT,
                True,
                False,
                "regular",
                "by_user",
                None,
            ),
            Membership(
                evil,
                f"{evil}@other.example.org",
                Place.NONMEMBER,
                SUBJECT,
                False,
                True,
                moderation_action="hold",
            ),
        ),
        bans=(Ban(None, SUBJECT), Ban("dev@lists.example.org", "^(alice|bob)@example\\.org$")),
        mentions=(
            Mention("dev", "owners", "lists/dev.yaml", 3),
            Mention("board", "members_from", "rosters/board.csv", 7),
        ),
        differences=("dev@lists.example.org: owner by lists/dev.yaml, not in Mailman",),
        other_addresses=("alice.work@example.net",),
        directories=(Directory("staff@lists.example.org", "ldaps://ldap.example.org"),),
    )
    return Showing("lists.example.org", (person,), 1000, True, 1006)


def test_json_has_one_entry_per_person_with_every_kind_of_place() -> None:
    document = json.loads(render(_showing(), "json"))
    assert document["format_version"] == 1
    assert document["scope"] == "server"
    assert document["cost"] == {"requests": 1006, "lists_on_server": 1000, "list_bans_read": True}
    (person,) = document["people"]
    assert sorted(person) == [
        "address", "bans", "differences", "directories", "memberships", "mentions",
        "other_addresses",
    ]  # fmt: skip
    assert person["memberships"][0] == {
        "list": "dev@lists.example.org",
        "role": "member",
        "address": SUBJECT,
        "managed": True,
        "public": False,
        "delivery_mode": "regular",
        "delivery_status": "by_user",
        "moderation_action": None,
    }
    assert person["bans"][0] == {"list": None, "pattern": SUBJECT}
    assert person["mentions"] == [
        {"list": "dev", "field": "owners", "path": "lists/dev.yaml", "line": 3},
        {"list": "board", "field": "members_from", "path": "rosters/board.csv", "line": 7},
    ]
    assert person["directories"] == [
        {"list": "staff@lists.example.org", "url": "ldaps://ldap.example.org"}
    ]


def test_redacted_masks_everyone_but_the_subject_and_the_lists() -> None:
    shown = redacted(_showing(), keep=frozenset({"dev@lists.example.org"}))
    (person,) = shown.people
    assert person.address == SUBJECT
    assert person.bans[0].pattern == SUBJECT, "the subject's own ban"
    assert person.bans[1].pattern == "***@example\\.org$", "a pattern naming someone else"
    assert person.other_addresses == ("a***@example.net",)
    assert person.differences == _showing().people[0].differences


def test_text_and_markdown_escape_what_mailman_holds() -> None:
    text = render(_showing(), "text")
    assert "\x1b" not in text
    assert "nonmember dev\\x1b[2J|*x*@other.example.org  (unmanaged; public; action hold)" in text
    assert "member    dev@lists.example.org  (managed; private; delivery regular, by_user)" in text
    assert "lists/dev.yaml:3: owners of dev" in text
    assert "rosters/board.csv:7: roster file (members_from) of board" in text
    assert (
        "staff@lists.example.org: drawn from LDAP (ldaps://ldap.example.org): remove them from"
        " the directory group" in text
    )
    assert text.rstrip().endswith(
        "1006 request(s) to Mailman for 1 address(es) on 1000 list(s);"
        " bans: 1 site-wide + 1000 per-list requests (1 + N for N lists)"
    )
    markdown = render(_showing(), "markdown")
    assert "\x1b" not in markdown
    assert r"dev\\x1b\[2J\|\*x\*@other.example.org" in markdown
    assert f"### `{SUBJECT}`" in markdown


def test_declared_members_are_mentions_with_their_file_and_line(tmp_path: Path) -> None:
    lists = {
        "inline": "owners: [bob@example.org]\nmembers:\n  - carol@example.org\n"
        "  - {address: ALICE@example.org, delivery_mode: mime_digests}\n",
        "board": "owners: [bob@example.org]\nmembers_from: rosters/board.csv\n",
        "staff": "owners: [bob@example.org]\nmembers_from:\n  ldap: {url: 'ldaps://ldap.example.org',"
        " base: 'dc=example,dc=org', filter: '(ou=staff)'}\n",
    }
    root = write_site(tmp_path, lists)
    (root / "rosters").mkdir()
    (root / "rosters" / "board.csv").write_text(
        "name,email\nCarol,carol@example.org\nA,Alice@example.org\n"
    )
    site, _ = load_valid_site(root)

    assert mentions(site, SUBJECT) == (
        Mention("board", "members_from", "rosters/board.csv", 3),
        Mention("inline", "members", "lists/inline.yaml", 4),
    )
    domain = site.config.domain
    assert directories(site, [f"staff@{domain}", f"inline@{domain}"]) == (
        Directory(f"staff@{domain}", "ldaps://ldap.example.org"),
    )
