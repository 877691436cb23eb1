"""Rosters without Mailman (pure): roster files read whole, the roster diff, the quarter
guard, redaction to counts, and git history as additive's memory.

That a roster is applied in Mailman, and mail follows it, is the real-core tests'
(test_rosters.py, test_roster_mail.py, test_roster_failures.py).
"""

from __future__ import annotations

import json
import subprocess
from pathlib import Path

import pytest
from examples import examples
from hypothesis import given, settings
from hypothesis import strategies as st

from listsync import render
from listsync.changes import SubscribeMembers, UnsubscribeMembers
from listsync.errors import ListsyncError
from listsync.models import ListSpec, SiteConfig, effective
from listsync.plan import Action, ListPlan, Plan, diff_list, roster_guard
from listsync.policy import Detail, ListState, RosterIntent, desired_state
from listsync.roster_ldap import read_ldap
from listsync.roster_read import read_roster
from listsync.rosters import (
    LdapCredentials,
    LdapQuery,
    Membership,
    RosterError,
    parse_roster_text,
    read_roster_file,
)

DOMAIN = "lists.example.org"
SITE = SiteConfig.model_validate({"domain": DOMAIN, "disabled_owner": "devnull@example.org"})
PEOPLE = [f"person{i}@example.org" for i in range(12)]


def state(spec: dict[str, object], intent: RosterIntent | None) -> ListState:
    listed = effective("board", ListSpec.model_validate({"owners": [PEOPLE[0]], **spec}), SITE)
    return desired_state(listed, SITE.disabled_owner, {}, intent)


def intent(
    members: list[str],
    membership: Membership = Membership.EXACT,
    dropped: frozenset[str] = frozenset(),
) -> RosterIntent:
    return RosterIntent("rosters/board.txt", membership, dict.fromkeys(members, "regular"), dropped)


def live(members: set[str] | None, bans: frozenset[str] = frozenset()) -> ListState:
    return ListState(
        fqdn=f"board@{DOMAIN}",
        settings=dict(state({}, None).settings),
        owners=frozenset({PEOPLE[0]}),
        bans=bans,
        members=None if members is None else frozenset(members),
    )


def roster_changes(lp: ListPlan) -> tuple[list[str], list[str]]:
    added = [a for c in lp.changes if isinstance(c, SubscribeMembers) for a, _ in c.members]
    gone = [a for c in lp.changes if isinstance(c, UnsubscribeMembers) for a in c.addresses]
    return added, gone


# -- roster files ----------------------------------------------------------------------


def test_a_plain_roster_takes_comments_and_blank_lines() -> None:
    text = "# the board\nA@Example.org\n\nb@example.org  # chair\n"
    assert parse_roster_text(text) == (["a@example.org", "b@example.org"], [])


def test_a_csv_roster_reads_its_email_column() -> None:
    text = 'name,Email,team\n"Doe, Jane",jane@example.org,ops\nBob,BOB@example.org,\n\n'
    assert parse_roster_text(text) == (["jane@example.org", "bob@example.org"], [])


def test_every_bad_line_is_named_and_none_is_skipped_silently() -> None:
    addresses, bad = parse_roster_text("a@example.org\nnot an address\nAlice <b@example.org>\n")
    assert addresses == ["a@example.org"]
    assert [b.line for b in bad] == [2, 3]


def test_a_roster_file_is_taken_whole_or_not_at_all(tmp_path: Path) -> None:
    (tmp_path / "r.txt").write_text("a@example.org\nbroken\n")
    with pytest.raises(RosterError, match=r"r\.txt:2: .*whole or not at all"):
        read_roster_file(tmp_path, "r.txt")
    (tmp_path / "empty.txt").write_text("# nobody yet\n")
    with pytest.raises(RosterError, match="empty"):
        read_roster_file(tmp_path, "empty.txt")
    with pytest.raises(RosterError, match="cannot be read"):
        read_roster_file(tmp_path, "missing.txt")
    (tmp_path / "site").mkdir()
    with pytest.raises(RosterError, match="inside the site's repository"):
        read_roster_file(tmp_path / "site", "../r.txt")


def test_a_bad_line_s_content_is_never_in_the_error(tmp_path: Path) -> None:
    (tmp_path / "r.txt").write_text("a@example.org\nsecret-person at example.org\n")
    with pytest.raises(RosterError) as raised:
        read_roster_file(tmp_path, "r.txt")
    assert "secret-person" not in str(raised.value)


# -- the diff ----------------------------------------------------------------------------


def test_exact_unsubscribes_everyone_not_declared() -> None:
    lp = diff_list(
        state({"members": PEOPLE[1:3]}, intent(PEOPLE[1:3])), live({PEOPLE[2], PEOPLE[5]})
    )
    assert roster_changes(lp) == ([PEOPLE[1]], [PEOPLE[5]])
    assert lp.action is Action.UPDATE


def test_additive_unsubscribes_only_what_the_roster_dropped() -> None:
    wanted = intent(PEOPLE[1:3], Membership.ADDITIVE, dropped=frozenset({PEOPLE[3]}))
    lp = diff_list(state({"members": PEOPLE[1:3]}, wanted), live({PEOPLE[1], PEOPLE[3], PEOPLE[9]}))
    assert roster_changes(lp) == ([PEOPLE[2]], [PEOPLE[3]])  # PEOPLE[9] joined by themselves


def test_a_new_list_gets_its_roster_after_its_settings() -> None:
    lp = diff_list(state({"members": PEOPLE[1:3]}, intent(PEOPLE[1:3])), None)
    assert roster_changes(lp) == (PEOPLE[1:3], [])
    kinds = [type(c).__name__ for c in lp.changes]
    assert kinds.index("SubscribeMembers") > kinds.index("UpdateSettings")


def test_a_refused_source_plans_nothing_for_the_roster() -> None:
    refused = RosterIntent("rosters/board.txt", Membership.EXACT, problem="r.txt:2: bad")
    lp = diff_list(state({"members": PEOPLE[1:2]}, refused), live({PEOPLE[4]}))
    assert roster_changes(lp) == ([], [])
    assert lp.roster_refused
    assert lp.roster_notes == ("members not changed: r.txt:2: bad",)


def test_a_live_roster_not_read_plans_nothing_and_says_so() -> None:
    lp = diff_list(state({"members": PEOPLE[1:3]}, intent(PEOPLE[1:3])), live(None))
    assert roster_changes(lp) == ([], [])
    assert not lp.roster_refused
    assert "2 declared in rosters/board.txt (exact)" in lp.roster_notes[0]


def test_a_declared_member_banned_on_the_list_refuses_the_roster() -> None:
    banned = live({PEOPLE[4]}, bans=frozenset({r"^person1@example\.org$"}))
    lp = diff_list(state({"members": PEOPLE[1:3]}, intent(PEOPLE[1:3])), banned)
    assert roster_changes(lp) == ([], [])
    assert lp.roster_refused
    assert PEOPLE[1] in lp.roster_notes[0]


def test_a_disabled_list_s_roster_is_not_applied() -> None:
    desired = state({"members": PEOPLE[1:3], "disabled": True}, intent(PEOPLE[1:3]))
    assert desired.roster is None
    assert desired.members is None
    assert Detail.MEMBERS not in desired.details_to_read()


def test_a_managed_roster_reads_the_members_and_the_bans() -> None:
    assert {Detail.MEMBERS, Detail.BANS} <= state(
        {"members": PEOPLE[1:2]}, intent(PEOPLE[1:2])
    ).details_to_read()


@settings(max_examples=examples(200), deadline=None)
@given(
    declared=st.sets(st.sampled_from(PEOPLE)),
    present=st.sets(st.sampled_from(PEOPLE)),
    dropped=st.sets(st.sampled_from(PEOPLE)),
    membership=st.sampled_from(Membership),
)
def test_applying_the_roster_changes_reaches_the_declared_roster(
    declared: set[str], present: set[str], dropped: set[str], membership: Membership
) -> None:
    """Everyone declared ends a member; exact ends with exactly them; additive removes no
    one it did not declare before (a self-subscriber stays)."""
    wanted = intent(sorted(declared), membership, frozenset(dropped - declared))
    lp = diff_list(state({"members": sorted(declared) or None}, wanted), live(present))
    added, gone = roster_changes(lp)
    after = (present | set(added)) - set(gone)
    assert declared <= after
    if membership is Membership.EXACT:
        assert after == declared
    else:
        assert after == declared | (present - dropped)
    again = diff_list(state({"members": sorted(declared) or None}, wanted), live(after))
    assert roster_changes(again) == ([], [])


# -- the quarter guard -------------------------------------------------------------------


@pytest.mark.parametrize(
    ("members", "gone", "guarded"),
    [(12, 3, False), (12, 4, True), (8, 3, True), (7, 3, False), (100, 25, False), (100, 26, True)],
)
def test_more_than_a_quarter_of_a_roster_of_eight_needs_force(
    members: int, gone: int, guarded: bool
) -> None:
    change = UnsubscribeMembers(
        tuple(f"x{i}@example.org" for i in range(gone)), gone, "exact", members
    )
    lp = ListPlan("board", f"board@{DOMAIN}", Action.UPDATE, (change,))
    why = roster_guard(lp, 0.25, 8)
    assert (why is not None) is guarded
    if why is not None:
        assert f"{gone} of {members}" in why
        assert "safety.max_unsubscribed_fraction" in why


# -- privacy ---------------------------------------------------------------------------


def test_redacted_roster_changes_are_counts_only() -> None:
    lp = diff_list(state({"members": PEOPLE[1:4]}, intent(PEOPLE[1:4])), live({PEOPLE[7]}))
    plan = Plan(DOMAIN, False, (lp,), managed=1)
    shown = render.redacted(plan)
    every = render.to_text(shown) + render.to_markdown(shown) + render.to_json(shown)
    assert "3 members" in every
    assert "1 member of 1" in every
    assert not any(person.split("@")[0] in every for person in PEOPLE[1:8])
    data = json.loads(render.to_json(shown))["lists"][0]["changes"]
    assert {
        "type": "subscribe_members",
        "count": 3,
        "source": "rosters/board.txt",
        "welcome": False,
    } in data
    with pytest.raises(ValueError, match="never written"):
        shown.lists[0].changes[-1].write(None, "board@x")  # type: ignore[arg-type]


# -- additive's memory: git history -------------------------------------------------------


def git(cwd: Path, *args: str) -> None:
    subprocess.run(
        ["git", "-c", "user.name=T", "-c", "user.email=t@example.org", *args],
        cwd=cwd, check=True, capture_output=True,
    )  # fmt: skip


def test_additive_remembers_every_committed_version_and_nothing_uncommitted(tmp_path: Path) -> None:
    (tmp_path / "lists").mkdir()
    (tmp_path / "rosters").mkdir()
    (tmp_path / "lists" / "board.yaml").write_text(
        f"owners: [{PEOPLE[0]}]\nmembers: [{PEOPLE[1]}]\n"
    )
    git(tmp_path, "init", "-q")
    git(tmp_path, "add", "-A")
    git(tmp_path, "commit", "-qm", "inline")
    (tmp_path / "rosters" / "board.txt").write_text(f"{PEOPLE[2]}\n{PEOPLE[3]}\n")
    (tmp_path / "lists" / "board.yaml").write_text(
        f"owners: [{PEOPLE[0]}]\nmembers_from: rosters/board.txt\n"
    )
    git(tmp_path, "add", "-A")
    git(tmp_path, "commit", "-qm", "a roster file")
    (tmp_path / "rosters" / "board.txt").write_text(f"{PEOPLE[3]}\n{PEOPLE[4]}\n")  # not committed
    spec = ListSpec.model_validate({"owners": [PEOPLE[0]], "members_from": "rosters/board.txt"})
    read = read_roster(tmp_path, effective("board", spec, SITE), None, top=tmp_path)
    assert read.problem is None
    assert set(read.modes) == {PEOPLE[3], PEOPLE[4]}
    assert read.dropped == {PEOPLE[1], PEOPLE[2]}  # PEOPLE[4] was never committed: not dropped


def test_outside_git_additive_drops_no_one(tmp_path: Path) -> None:
    (tmp_path / "lists").mkdir()
    (tmp_path / "lists" / "board.yaml").write_text(
        f"owners: [{PEOPLE[0]}]\nmembers: [{PEOPLE[1]}]\n"
    )
    spec = ListSpec.model_validate({"owners": [PEOPLE[0]], "members": [PEOPLE[1]]})
    read = read_roster(tmp_path, effective("board", spec, SITE), None, top=tmp_path)
    assert read.dropped == frozenset()
    assert set(read.modes) == {PEOPLE[1]}


def test_a_bind_password_is_never_sent_in_clear_to_another_host() -> None:
    query = LdapQuery(url="ldap://ldap.example.org", base="dc=example", filter="(cn=x)")
    credentials = LdapCredentials(bind_dn_variable="DN", password_variable="PW")
    environ = {"DN": "cn=listsync", "PW": "hunter2"}
    with pytest.raises(RosterError, match="ldaps://") as raised:
        read_ldap(query, credentials, environ=environ)
    assert "hunter2" not in str(raised.value)
    assert isinstance(raised.value, ListsyncError)
