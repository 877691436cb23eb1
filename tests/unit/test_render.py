"""Plan renderers, on plans built in memory (no Mailman needed to render)."""

from __future__ import annotations

import json

from listsync import render
from listsync.changes import AddMember, Role, SetTemplate, SettingChange, UpdateSettings
from listsync.plan import Action, ListPlan, Plan

HOSTILE = "``` <script>alert(1)</script> | ../%2F"


def hostile_plan() -> Plan:
    change = UpdateSettings((SettingChange("description", "old", HOSTILE),))
    owner = AddMember(Role.OWNER, "alice@example.org")
    lists = (ListPlan("tor-dev", "tor-dev@lists.example.org", Action.UPDATE, (owner, change)),)
    return Plan("lists.example.org", False, lists, managed=1)


def test_markdown_keeps_hostile_values_inside_the_diff_block() -> None:
    text = render.to_markdown(hostile_plan())
    lines = text.splitlines()
    fences = [i for i, line in enumerate(lines) if line.startswith("```")]
    assert len(fences) == 2
    inside = lines[fences[0] + 1 : fences[1]]
    assert inside == [
        "+ owner alice@example.org",
        f'~ description: "old" -> {json.dumps(HOSTILE)}',
    ]
    assert all(HOSTILE not in line for line in lines[: fences[0]] + lines[fences[1] :])


def test_json_round_trips_values_exactly() -> None:
    data = json.loads(render.to_json(hostile_plan()))
    change = data["lists"][0]["changes"][1]
    assert change["settings"][0]["desired"] == HOSTILE


def test_every_form_says_when_nothing_changes() -> None:
    quiet = Plan("lists.example.org", False, (), managed=0)
    assert render.NO_CHANGES in render.to_text(quiet)
    assert render.NO_CHANGES in render.to_markdown(quiet)
    assert json.loads(render.to_json(quiet))["has_changes"] is False
    for fmt in render.FORMATS:
        assert "0 to create" in render.render_plan(quiet, fmt) or fmt == "json"


def test_list_values_say_which_items_come_and_go() -> None:
    change = UpdateSettings(
        (SettingChange("acceptable_aliases", ["^a@x.org", "^b@x.org"], ["^b@x.org", "^c@x.org"]),)
    )
    line = render.change_lines(change)[0]
    assert line == (
        '~ acceptable_aliases: ["^a@x.org", "^b@x.org"] -> ["^b@x.org", "^c@x.org"]'
        ' (+ "^c@x.org", - "^a@x.org")'
    )


def test_a_text_change_shared_by_several_lists_shows_its_diff_once() -> None:
    old, new = "https://l.example.org/t/footer.v1.txt", "https://l.example.org/t/footer.v2.txt"
    texts = {old: "-- \nthe old footer\n", new: "-- \nthe new footer\n"}
    footer = SetTemplate("list:member:regular:footer", old, new)
    lists = tuple(
        ListPlan(name, f"{name}@lists.example.org", Action.UPDATE, (footer,))
        for name in ("tor-bugs", "tor-commits", "tor-wiki-changes")
    )
    plan = Plan("lists.example.org", False, lists, managed=3, texts=texts)
    for shown in (render.to_text(plan), render.to_markdown(plan)):
        assert shown.count("+the new footer") == 1
        assert shown.count("-the old footer") == 1
        assert shown.count("(the same text change as tor-bugs, above)") == 2
    alone = Plan("lists.example.org", False, lists[1:2], managed=1, texts=texts)
    assert "+the new footer" in render.to_text(alone), "a list alone shows its own diff"
