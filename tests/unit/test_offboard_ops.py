"""The plan of Mailman operations that takes one person off the server (pure)."""

from __future__ import annotations

import pytest

from listsync.changes import (
    AddBan,
    AddMember,
    BanSite,
    EraseAddress,
    RemoveMember,
    RemoveNonmember,
    Role,
    UnsubscribeMember,
)
from listsync.offboard_ops import OffboardError, owners_to_read, person_plan
from listsync.people import Membership, Place
from listsync.plan import Action

DOMAIN = "lists.example.org"
JANE = "jane@example.org"


def place(name: str, role: Place, *, managed: bool = False, public: bool = False) -> Membership:
    action = "discard" if role is Place.NONMEMBER else None
    return Membership(name, f"{name}@{DOMAIN}", role, JANE, managed, public, None, None, action)


PLACES = (
    place("dev", Place.MEMBER, public=True),
    place("dev", Place.MODERATOR, public=True),
    place("board", Place.OWNER),
    place("board", Place.MEMBER),
    place("ops", Place.NONMEMBER),
    place("managed", Place.OWNER, managed=True),
    place("managed", Place.MEMBER, managed=True),
)
OWNERS = {f"board@{DOMAIN}": {JANE, "bob@example.org"}, f"managed@{DOMAIN}": {JANE}}


def plan(**options: object) -> dict[str, tuple[object, ...]]:
    flags = {"ban": False, "ban_global": False, "erase": False, "only_private": False}
    flags.update(options)  # type: ignore[arg-type]
    owners = flags.pop("owners", OWNERS)
    made = person_plan(DOMAIN, JANE, PLACES, owners=owners, **flags)  # type: ignore[arg-type]
    assert all(lp.action is Action.UPDATE for lp in made.lists)
    return {lp.name: lp.changes for lp in made.lists} | {"(site)": made.site_changes}


def test_each_place_gets_its_operation_and_managed_roles_are_left_to_the_files() -> None:
    assert plan() == {
        "board": (RemoveMember(Role.OWNER, JANE), UnsubscribeMember(JANE)),
        "dev": (RemoveMember(Role.MODERATOR, JANE), UnsubscribeMember(JANE)),
        "managed": (UnsubscribeMember(JANE),),
        "ops": (RemoveNonmember(JANE, "discard"),),
        "(site)": (),
    }


def test_ban_comes_before_the_removals_it_protects_and_site_changes_are_apart() -> None:
    planned = plan(ban=True, ban_global=True, erase=True, replace_with="new@example.org")
    assert planned["ops"] == (AddBan(JANE), RemoveNonmember(JANE, "discard"))
    assert planned["board"] == (
        RemoveMember(Role.OWNER, JANE),
        AddBan(JANE),
        UnsubscribeMember(JANE),
    )
    assert planned["managed"][0] == AddMember(Role.OWNER, "new@example.org"), (
        "the erasure would take its only owner: the replacement goes in first"
    )
    assert planned["(site)"] == (BanSite(JANE), EraseAddress(JANE))


def test_an_only_owner_is_never_taken_away_without_a_replacement() -> None:
    owners = {f"board@{DOMAIN}": {JANE}, f"managed@{DOMAIN}": {JANE}}
    with pytest.raises(OffboardError, match=f"only owner of board@{DOMAIN}: .*--replace-with"):
        plan(owners=owners)
    with pytest.raises(OffboardError, match=f"only owner of board@{DOMAIN}, managed@{DOMAIN}"):
        plan(owners=owners, erase=True)
    replaced = plan(owners=owners, replace_with="New@Example.org")
    assert replaced["board"][:2] == (
        AddMember(Role.OWNER, "new@example.org"),
        RemoveMember(Role.OWNER, JANE),
    )
    assert "managed" not in replaced or not any(
        isinstance(c, AddMember) for c in replaced["managed"]
    ), "a managed list's owners are the file edits'"


def test_owners_to_read_are_the_ones_the_plan_would_take_away() -> None:
    assert owners_to_read(PLACES, erase=False, only_private=False) == [f"board@{DOMAIN}"]
    assert owners_to_read(PLACES, erase=True, only_private=False) == [
        f"board@{DOMAIN}",
        f"managed@{DOMAIN}",
    ]
    with pytest.raises(OffboardError, match="not read"):
        plan(owners={})


def test_only_private_leaves_public_lists_alone_and_refuses_what_reaches_them() -> None:
    assert "dev" not in plan(only_private=True)
    for option in ("erase", "ban_global"):
        with pytest.raises(OffboardError, match="--only-private"):
            plan(only_private=True, **{option: True})
    with pytest.raises(OffboardError, match="the address being removed"):
        plan(replace_with=JANE.upper())


def test_a_restrictive_non_member_entry_removed_without_a_ban_is_warned_about() -> None:
    made = person_plan(
        DOMAIN,
        JANE,
        PLACES,
        owners=OWNERS,
        ban=False,
        ban_global=False,
        erase=False,
        only_private=False,
    )
    assert len(made.warnings) == 1
    assert f"ops@{DOMAIN} with the action discard" in made.warnings[0]
    assert "owner of managed" in made.notes[0]
    assert made.scope == f"person {JANE}"
