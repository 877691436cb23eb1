"""The plan JSON's `resource_changes` (pure): each kind's entries, the list's own change,
redaction, the schema, and what `check-policy` reads around them (labels, engine errors).

That real plans carry them and that policies read them is test_plan_policy.py's, on the
real core.
"""

from __future__ import annotations

import json
from typing import Any

import jsonschema
import pytest

from listsync import plan_policy, render, schema
from listsync.acceptance import HeaderRule
from listsync.changes import (
    RESOURCE_ACTIONS,
    RESOURCE_TYPES,
    AddBan,
    AddMember,
    BanSite,
    CreateList,
    EraseAddress,
    RemoveBan,
    RemoveMember,
    RemoveNonmember,
    Role,
    SetHeaderFilters,
    SetNonmember,
    SetTemplate,
    SettingChange,
    SubscribeMembers,
    UnsubscribeMember,
    UnsubscribeMembers,
    UpdateSettings,
)
from listsync.plan import Action, ListPlan, Plan

DOMAIN = "lists.example.org"
NEW = f"tor-relays@{DOMAIN}"
OLD = f"tor-dev@{DOMAIN}"
GONE = f"tor-old@{DOMAIN}"
URL = f"https://{DOMAIN}/templates/footer.txt"
RULE = HeaderRule("x-spam-flag", "yes", "discard")


def entry(address: str, kind: str, action: str, before: Any, after: Any) -> dict[str, Any]:
    return {
        "address": address,
        "type": kind,
        "change": {"actions": [action], "before": before, "after": after},
    }


PLAN = Plan(
    DOMAIN,
    False,
    (
        ListPlan(
            "tor-relays",
            NEW,
            Action.CREATE,
            (
                CreateList(),
                AddMember(Role.OWNER, "alice@example.org"),
                UpdateSettings((SettingChange("advertised", False, True),)),
                SubscribeMembers((("relay.op@example.net", "regular"),), 1, "rosters/relays.txt"),
            ),
        ),
        ListPlan(
            "tor-dev",
            OLD,
            Action.UPDATE,
            (
                RemoveBan("^.*@spam\\.example$"),
                UnsubscribeMembers(("jane.doe@example.org",), 1, "exact", 40),
                UpdateSettings(
                    (
                        SettingChange("description", "Old", "New"),
                        SettingChange("accept_these_nonmembers", [], ["bot@ci.example.org"]),
                    )
                ),
                SetTemplate("list:member:regular:footer", None, URL),
                SetNonmember("hold.me@example.org", None, "hold", present=False),
                SetHeaderFilters((), (RULE,)),
                AddMember(Role.MODERATOR, "gaba@example.org"),
                RemoveMember(Role.OWNER, "teor@example.org"),
                AddBan("spammer@example.com"),
                UnsubscribeMember("mallory@example.org"),
                RemoveNonmember("old.bot@example.org", "accept"),
            ),
        ),
        ListPlan("tor-old", GONE, Action.DISABLE, ()),
        ListPlan("tor-back", f"tor-back@{DOMAIN}", Action.ENABLE, ()),
        ListPlan("tor-same", f"tor-same@{DOMAIN}", Action.UNCHANGED, ()),
    ),
    managed=5,
    site_changes=(BanSite("^.*@spam\\.example$"), EraseAddress("mallory@example.org")),
)


def test_every_change_is_one_flat_entry_in_the_plans_order() -> None:
    assert render.resource_changes(PLAN) == [
        entry(NEW, "listsync_list", "create", None, {"fqdn": NEW, "enabled": True}),
        entry(
            f"{NEW}.owners[alice@example.org]",
            "listsync_owner",
            "add",
            None,
            "alice@example.org",
        ),
        entry(f"{NEW}.settings.advertised", "listsync_setting", "update", False, True),
        entry(
            f"{NEW}.members",
            "listsync_members",
            "add",
            None,
            {
                "count": 1,
                "source": "rosters/relays.txt",
                "welcome": False,
                "members": [{"address": "relay.op@example.net", "delivery_mode": "regular"}],
            },
        ),
        entry(
            f"{OLD}.bans[^.*@spam\\.example$]",
            "listsync_ban",
            "remove",
            "^.*@spam\\.example$",
            None,
        ),
        entry(
            f"{OLD}.members",
            "listsync_members",
            "remove",
            {"count": 1, "membership": "exact", "addresses": ["jane.doe@example.org"]},
            None,
        ),
        entry(f"{OLD}.settings.description", "listsync_setting", "update", "Old", "New"),
        entry(
            f"{OLD}.settings.accept_these_nonmembers",
            "listsync_setting",
            "update",
            [],
            ["bot@ci.example.org"],
        ),
        entry(
            f"{OLD}.templates[list:member:regular:footer]", "listsync_template", "add", None, URL
        ),
        entry(
            f"{OLD}.nonmembers[hold.me@example.org]",
            "listsync_nonmember",
            "add",
            None,
            {"address": "hold.me@example.org", "action": "hold"},
        ),
        entry(
            f"{OLD}.header_filters",
            "listsync_header_filters",
            "update",
            [],
            [{"header": "x-spam-flag", "pattern": "yes", "action": "discard"}],
        ),
        entry(
            f"{OLD}.moderators[gaba@example.org]",
            "listsync_moderator",
            "add",
            None,
            "gaba@example.org",
        ),
        entry(
            f"{OLD}.owners[teor@example.org]",
            "listsync_owner",
            "remove",
            "teor@example.org",
            None,
        ),
        entry(
            f"{OLD}.bans[spammer@example.com]",
            "listsync_ban",
            "add",
            None,
            "spammer@example.com",
        ),
        entry(
            f"{OLD}.members[mallory@example.org]",
            "listsync_member",
            "remove",
            "mallory@example.org",
            None,
        ),
        entry(
            f"{OLD}.nonmembers[old.bot@example.org]",
            "listsync_nonmember",
            "remove",
            {"address": "old.bot@example.org", "action": "accept"},
            None,
        ),
        entry(
            GONE,
            "listsync_list",
            "disable",
            {"fqdn": GONE, "enabled": True},
            {"fqdn": GONE, "enabled": False},
        ),
        entry(
            f"tor-back@{DOMAIN}",
            "listsync_list",
            "enable",
            {"fqdn": f"tor-back@{DOMAIN}", "enabled": False},
            {"fqdn": f"tor-back@{DOMAIN}", "enabled": True},
        ),
        entry(
            "site.bans[^.*@spam\\.example$]",
            "listsync_site_ban",
            "add",
            None,
            "^.*@spam\\.example$",
        ),
        entry(
            "site.addresses[mallory@example.org]",
            "listsync_address",
            "remove",
            "mallory@example.org",
            None,
        ),
    ]


def test_a_template_back_to_mailmans_text_is_removed_and_a_new_url_updated() -> None:
    name = "list:member:regular:footer"
    back = SetTemplate(name, URL, None).resource_changes(OLD)
    moved = SetTemplate(name, URL, URL + ".v2").resource_changes(OLD)
    assert [e["change"]["actions"] for e in back + moved] == [["remove"], ["update"]]
    assert (back[0]["change"]["after"], moved[0]["change"]["after"]) == (None, URL + ".v2")
    kept = SetNonmember("bot@ci.example.org", "hold", None).resource_changes(OLD)
    assert kept[0]["change"] == {
        "actions": ["update"],
        "before": {"address": "bot@ci.example.org", "action": "hold"},
        "after": {"address": "bot@ci.example.org", "action": None},
    }


def test_a_redacted_plan_masks_every_address_and_names_no_member() -> None:
    masked = render.to_json_data(render.redacted(PLAN))["resource_changes"]
    text = json.dumps(masked)
    for local in ("alice", "relay.op", "jane.doe", "bot@ci", "hold.me", "gaba", "teor", "mallory"):
        assert local not in text, local
    assert f"{NEW}.owners[a***@example.org]" in [e["address"] for e in masked]
    roster = [e for e in masked if e["type"] == "listsync_members"]
    assert [e["change"]["after"] for e in roster[:1]] == [
        {"count": 1, "source": "rosters/relays.txt", "welcome": False}
    ]
    assert roster[1]["change"]["before"] == {"count": 1, "membership": "exact"}
    assert len(masked) == len(render.resource_changes(PLAN)), "masked, not left out"


def test_members_are_named_only_where_the_plans_lists_name_them() -> None:
    """A roster change whose JSON names no one (counted only) names no one here either."""
    counted = SubscribeMembers((), 3, "ldap")
    assert "members" not in counted.as_json()
    assert counted.resource_changes(NEW)[0]["change"]["after"] == {
        "count": 3,
        "source": "ldap",
        "welcome": False,
    }


def test_the_plan_json_matches_the_plan_schema_and_its_vocabulary() -> None:
    validator = jsonschema.Draft202012Validator(schema.plan_schema())
    for plan in (PLAN, render.redacted(PLAN), Plan(DOMAIN, True, ())):
        data = render.to_json_data(plan)
        assert list(validator.iter_errors(data)) == []
    entries = render.resource_changes(PLAN)
    used = {e["type"] for e in entries}
    assert used == set(RESOURCE_TYPES), "the example plan uses every type"
    assert {a for e in entries for a in e["change"]["actions"]} == set(RESOURCE_ACTIONS)
    wrong = render.to_json_data(PLAN)
    wrong["resource_changes"][0]["type"] = "list"
    wrong["resource_changes"][1]["change"]["actions"] = ["delete"]
    paths = sorted(tuple(e.absolute_path) for e in validator.iter_errors(wrong))
    assert paths == [
        ("resource_changes", 0, "type"),
        ("resource_changes", 1, "change", "actions", 0),
    ]


@pytest.mark.parametrize(
    ("options", "environ", "labels"),
    [
        ((), {}, []),
        (("retire",), {}, ["retire"]),
        (
            ("retire",),
            {"LISTSYNC_LABELS": "large-change, retire", "CI_MERGE_REQUEST_LABELS": "a,,b "},
            ["retire", "large-change", "a", "b"],
        ),
    ],
)
def test_labels_come_from_options_and_both_variables(
    options: tuple[str, ...], environ: dict[str, str], labels: list[str]
) -> None:
    assert plan_policy.labels_from(options, environ) == labels
    assert plan_policy.policy_input({"resource_changes": []}, labels) == {
        "plan": {"resource_changes": []},
        "labels": labels,
    }


def test_rego_errors_read_as_one_line_with_their_place() -> None:
    report = (
        "Errors:\nthis is unclosed\n-- policy/x.rego:2:29\ndeny contains msg if { count(\n"
        "                            ~\n\n----------------\nthis is unclosed\n"
        "-- policy/x.rego:1:1\npackage main\n~~~~~~~\n\nPass parse failed with 2 errors!\n"
    )
    assert plan_policy._engine_errors(report) == (
        "this is unclosed at policy/x.rego:2:29; this is unclosed at policy/x.rego:1:1"
    )
    notation = "(error\n  (errormsg 26:Function not found: nofunc)\n  (errorast (x)))"
    assert plan_policy._error_messages(notation) == "Function not found: nofunc"
