"""`listsync import --members DIR` against the real Mailman core: the rosters of private or
closed lists become roster files their list files name, and no address is ever printed.

The guarantees: a private or closed list's file says `members_from: DIR/NAME.txt` and that
file reads back (as `plan` reads it) as exactly the list's members; validate passes and plan
has no changes; public, open lists and lists without members get no roster file; a DIR
outside the site is refused before Mailman is read; an existing roster file is overwritten
only with --force; and import never writes to Mailman.
"""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

import pytest
from mail import subscribe
from mailmanclient import Client
from ruamel.yaml import YAML

from helpers import Result, Run, write_site
from listsync import mailman_settings
from listsync.importer import (
    FIELD_ORDER,
    LEFT_DISABLED,
    LEFT_PUBLIC,
    NO_MEMBERS,
    ImportFailed,
    check_roster,
    members_left_to_mailman,
    roster_text,
)
from listsync.policy import DISABLE_BAN, ListState
from listsync.rosters import read_roster_file
from proxy import Proxy

BOARD = ["Alice.Board@Example.ORG", "bob@example.org", "carol@example.net"]
APPLICANTS = ["dave@example.org", "erin@example.com"]
READERS = ["frank@example.org", "grace@example.org"]
HEADER = [
    "# Personal data: never commit this file to a public repository.",
    "# One address per line; '#' starts a comment. Written by 'listsync import --members'.",
]


@pytest.fixture
def site(tmp_path: Path, domain: str) -> Path:
    """A site in its own directory (so that its parent is outside it), no list files yet."""
    return write_site(tmp_path / "site", {}, config=f"domain: {domain}\n")


def import_(run: Run, site: Path, *args: str) -> Result:
    return run("--root", str(site), "import", *args)


def read(site: Path, name: str) -> dict[str, Any]:
    data = YAML(typ="safe", pure=True).load((site / "lists" / f"{name}.yaml").read_text())
    assert isinstance(data, dict)
    return data


def make_list(client: Client, domain: str, name: str, members: list[str], **settings: Any) -> None:
    mlist = client.get_domain(domain).create_list(name)
    mlist.add_owner("owner@example.org")
    config = mlist.settings
    for key, value in settings.items():
        config[key] = value
    config.save()
    for address in members:
        subscribe(mlist, address)


def assert_no_address(result: Result) -> None:
    """Counts only: not an address, not even a masked one (masking keeps the @domain)."""
    assert "@" not in result.out + result.err, result.out + result.err


def assert_round_trip(run: Run, site: Path) -> None:
    validated = run("--root", str(site), "validate")
    assert validated.status == 0, validated.out + validated.err
    assert " 0 error(s)" in validated.out
    planned = run("--root", str(site), "plan", "--detailed-exitcode", "--format", "json")
    assert planned.status == 0, planned.out + planned.err
    assert json.loads(planned.out)["has_changes"] is False


def test_private_and_closed_lists_get_their_rosters(
    run: Run,
    site: Path,
    domain: str,
    connected: Proxy,
    mailman_client: Client,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    mailman_client.create_domain(domain)
    make_list(mailman_client, domain, "board", BOARD, advertised=False)  # private
    # Advertised with a public archive, but joining needs a moderator: closed.
    make_list(mailman_client, domain, "applicants", APPLICANTS, subscription_policy="moderate")
    make_list(mailman_client, domain, "readers", READERS)  # Mailman's default: public, open
    make_list(mailman_client, domain, "quiet", [], advertised=False)  # private, no members
    connected.recorder.clear()

    monkeypatch.chdir(site)  # a relative DIR is taken from the current directory
    result = import_(run, site, "--members", "rosters")
    assert result.status == 0, result.out + result.err
    assert connected.recorder.writes == []
    assert_no_address(result)
    assert result.out.splitlines() == [
        "wrote lists/applicants.yaml",
        "    members: 2 member(s) in rosters/applicants.txt",
        "wrote lists/board.yaml",
        "    members: 3 member(s) in rosters/board.txt",
        "wrote lists/quiet.yaml",
        f"    members: {NO_MEMBERS}",
        "wrote lists/readers.yaml",
        f"    members: {LEFT_PUBLIC}",
        f"Imported 4 list(s) from {domain}, 0 skipped, 0 failed.",
        "Wrote 2 roster file(s) in rosters: personal data, never to be committed to a public"
        " repository. Their lists have the default 'membership: additive': apply unsubscribes"
        " only whom a roster later drops, never who joined by themselves; 'membership: exact'"
        " makes a roster the whole list.",
    ]

    assert sorted(p.name for p in (site / "rosters").iterdir()) == [
        "applicants.txt",
        "board.txt",
    ]
    for name, members in (("board", BOARD), ("applicants", APPLICANTS)):
        lines = (site / "rosters" / f"{name}.txt").read_text().splitlines()
        assert lines[:3] == [
            f"# The members of the list {name}@{domain}: lists/{name}.yaml names this file.",
            *HEADER,
        ]
        assert lines[3:] == sorted(address.lower() for address in members)
        assert sorted(read_roster_file(site, f"rosters/{name}.txt")) == lines[3:]
        data = read(site, name)
        assert data["members_from"] == f"rosters/{name}.txt"
        assert "membership" not in data  # additive, the default
        assert list(data) == [key for key in FIELD_ORDER if key in data]
    assert "members_from" not in read(site, "readers")
    assert "members_from" not in read(site, "quiet")

    connected.recorder.clear()
    assert_round_trip(run, site)
    assert connected.recorder.writes == []

    # JSON: counts and paths, never an address; --force replaces the roster file.
    (site / "rosters" / "board.txt").write_text("# stale\nold@example.org\n")
    forced = import_(
        run, site, "--list", "board", "--list", "readers", "--force", "--members", "rosters",
        "--format", "json",
    )  # fmt: skip
    assert forced.status == 0, forced.out + forced.err
    assert_no_address(forced)
    document = json.loads(forced.out)
    assert document["members_dir"] == "rosters"
    assert [(item["name"], item["outcome"], item["members"]) for item in document["lists"]] == [
        (
            "board",
            "wrote",
            {"count": 3, "roster": "rosters/board.txt", "note": "3 member(s) in rosters/board.txt"},
        ),
        ("readers", "wrote", {"count": None, "roster": None, "note": LEFT_PUBLIC}),
    ]
    roster = read_roster_file(site, "rosters/board.txt")
    assert sorted(roster) == sorted(address.lower() for address in BOARD)
    assert_round_trip(run, site)


def test_without_members_no_roster_is_read_or_written(
    run: Run, site: Path, domain: str, connected: Proxy, mailman_client: Client
) -> None:
    mailman_client.create_domain(domain)
    make_list(mailman_client, domain, "board", BOARD, advertised=False)
    connected.recorder.clear()
    result = import_(run, site, "--format", "json")
    assert result.status == 0, result.out + result.err
    document = json.loads(result.out)
    assert document["members_dir"] is None
    assert [item["members"] for item in document["lists"]] == [None]
    assert not any("/roster/member" in path for _, path in connected.recorder.reads)
    assert "members_from" not in read(site, "board")
    assert sorted(p.name for p in site.iterdir()) == ["lists", "listsync.yaml"]


def test_a_members_dir_outside_the_site_is_refused_before_mailman_is_read(
    run: Run,
    site: Path,
    tmp_path: Path,
    domain: str,
    connected: Proxy,
    mailman_client: Client,
) -> None:
    mailman_client.create_domain(domain)
    make_list(mailman_client, domain, "board", BOARD, advertised=False)
    outside = tmp_path / "elsewhere"
    (site / "link").symlink_to(tmp_path, target_is_directory=True)
    for given, complaint in (
        (outside, "must be inside the site"),
        (site / "link" / "rosters", "must be inside the site"),  # inside only by a symlink
        (site / ".." / "rosters", "must be inside the site"),
        (site / "templates" / "rosters", "not in templates/"),
    ):
        connected.recorder.clear()
        result = import_(run, site, "--members", str(given))
        assert result.status != 0, given
        assert complaint in result.err, result.err
        assert connected.recorder.requests == [], given
    assert sorted(p.name for p in site.iterdir()) == ["link", "lists", "listsync.yaml"]
    assert list((site / "lists").iterdir()) == []
    assert sorted(p.name for p in tmp_path.iterdir()) == ["site"]


def test_an_existing_roster_file_is_kept_unless_forced(
    run: Run, site: Path, domain: str, connected: Proxy, mailman_client: Client
) -> None:
    mailman_client.create_domain(domain)
    make_list(mailman_client, domain, "board", BOARD, advertised=False)
    make_list(mailman_client, domain, "readers", READERS)
    mine = "# kept as written\nsomeone@example.org\n"
    roster = site / "rosters" / "board.txt"
    roster.parent.mkdir()
    roster.write_text(mine)

    result = import_(run, site, "--members", str(site / "rosters"))
    assert result.status == 1
    assert_no_address(result)
    assert result.out.splitlines() == [
        "skipped lists/board.yaml: the roster file rosters/board.txt exists; --force overwrites it",
        "wrote lists/readers.yaml",
        f"    members: {LEFT_PUBLIC}",
        f"Imported 1 list(s) from {domain}, 1 skipped, 0 failed.",
    ]
    assert roster.read_text() == mine
    assert not (site / "lists" / "board.yaml").exists()

    named = import_(run, site, "--list", "board", "--members", str(site / "rosters"))
    assert named.status == 1
    assert roster.read_text() == mine
    assert not (site / "lists" / "board.yaml").exists()

    connected.recorder.clear()
    forced = import_(run, site, "--list", "board", "--force", "--members", str(site / "rosters"))
    assert forced.status == 0, forced.out + forced.err
    assert connected.recorder.writes == []
    assert forced.out.splitlines()[:2] == [
        "wrote lists/board.yaml",
        "    members: 3 member(s) in rosters/board.txt",
    ]
    assert sorted(read_roster_file(site, "rosters/board.txt")) == sorted(
        address.lower() for address in BOARD
    )
    assert read(site, "board")["members_from"] == "rosters/board.txt"
    assert_round_trip(run, site)


def test_the_site_root_itself_may_hold_the_rosters(
    run: Run, site: Path, domain: str, connected: Proxy, mailman_client: Client
) -> None:
    mailman_client.create_domain(domain)
    make_list(mailman_client, domain, "board", BOARD, advertised=False)
    result = import_(run, site, "--members", os.fspath(site))
    assert result.status == 0, result.out + result.err
    assert read(site, "board")["members_from"] == "board.txt"
    assert len(read_roster_file(site, "board.txt")) == len(BOARD)
    assert_round_trip(run, site)


def live_state(bans: frozenset[str] = frozenset(), **settings: Any) -> ListState:
    """A list as Mailman creates it (public, open), with `settings` changed."""
    config = {**mailman_settings.NEW_LIST_DEFAULTS, **settings}
    return ListState(
        fqdn="probe@lists.example.org",
        settings=config,
        owners=frozenset({"a@example.org"}),
        bans=bans,
    )


@pytest.mark.parametrize(
    ("settings", "left"),
    [
        ({}, LEFT_PUBLIC),
        ({"subscription_policy": "open"}, LEFT_PUBLIC),
        ({"advertised": False}, None),
        ({"archive_policy": "private"}, None),
        ({"archive_policy": "never"}, None),
        ({"subscription_policy": "moderate"}, None),
        ({"subscription_policy": "confirm_then_moderate"}, None),
    ],
)
def test_only_private_or_closed_lists_declare_their_members(
    settings: dict[str, Any], left: str | None
) -> None:
    assert mailman_settings.NEW_LIST_DEFAULTS["advertised"] is True
    assert members_left_to_mailman(live_state(**settings)) == left


def test_a_disabled_list_keeps_its_members_in_mailman() -> None:
    retired = live_state(
        frozenset({DISABLE_BAN}),
        advertised=False,
        default_member_action="reject",
        default_nonmember_action="reject",
        emergency=True,
    )
    assert members_left_to_mailman(retired) == LEFT_DISABLED


def test_a_roster_that_would_not_read_back_fails_without_naming_an_address() -> None:
    fine = frozenset({"alice@example.org", "bob@example.org"})
    check_roster(roster_text("probe", "lists.example.org", fine), "rosters/probe.txt", fine)
    # Valid in an address, but '#' starts a comment in a roster file.
    hashed = frozenset({"alice#board@example.org"})
    with pytest.raises(ImportFailed) as failure:
        check_roster(roster_text("probe", "lists.example.org", hashed), "r/probe.txt", hashed)
    assert failure.value.details == ("r/probe.txt:4: is not one bare e-mail address",)
    assert "@" not in str(failure.value)
