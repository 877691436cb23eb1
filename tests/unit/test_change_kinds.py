"""Every kind of change a plan holds, through every consumer (pure, table-driven).

The table has one row per member of `changes.Change`, found with
`typing.get_args`: a new kind without a row fails here. Each row's change is
rendered as text lines and JSON, redacted (no address survives in any form),
and applied to the in-memory Mailman (`memory_backend`), which must end in
the row's state. That the writes work against Mailman is the real-core
tests' (test_reconcile.py, test_acceptance.py, test_templates.py).
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from dataclasses import dataclass, replace
from typing import Any, get_args

import pytest
from memory_backend import MemoryBackend, new_list_settings, published

from listsync import mailman_settings, render
from listsync.acceptance import HeaderRule
from listsync.apply import apply_plan
from listsync.changes import (
    AddBan,
    AddMember,
    Change,
    CreateList,
    RemoveBan,
    RemoveMember,
    Role,
    SetHeaderFilters,
    SetNonmember,
    SetTemplate,
    SettingChange,
    Stage,
    UpdateSettings,
)
from listsync.escaping import visible
from listsync.plan import Action, ListPlan, Plan
from listsync.policy import ListState

DOMAIN = "lists.example.org"
FQDN = f"tor-dev@{DOMAIN}"
FOOTER = "list:member:regular:footer"
OLD_URL = f"https://{DOMAIN}/templates/footer.txt.v1"
NEW_URL = f"https://{DOMAIN}/templates/footer.txt.v2"
TEXTS = {OLD_URL: "-- \nold footer\n", NEW_URL: "-- \nThe $display_name list\n"}
LIVE = ListState(
    fqdn=FQDN,
    settings=new_list_settings(FQDN),
    owners=frozenset({"owner@example.org"}),
    moderators=frozenset({"carol.d@example.net"}),
    bans=frozenset({r"^spam[0-9]*@example\.org$"}),
    templates={FOOTER: OLD_URL},
    nonmembers={"bot@ci.example.org": None},
    header_filters=(HeaderRule("x-spam-flag", "^YES", "discard"),),
)
"""tor-dev as Mailman holds it before each row's change."""
RULE = HeaderRule("from", r"jane\.doe@example\.org", "hold")


@dataclass(frozen=True)
class Row:
    change: Change
    before: ListState | None  # None: the list does not exist yet
    after: ListState
    private: tuple[str, ...] = ()  # what redaction must mask: local parts of addresses


ROWS: dict[type[Any], Row] = {
    CreateList: Row(
        CreateList(),
        None,
        ListState(
            fqdn=FQDN,
            settings={**new_list_settings(FQDN), **mailman_settings.LOCKED_DOWN},
            templates={},
            nonmembers={},
            header_filters=(),
        ),
    ),
    AddMember: Row(
        AddMember(Role.OWNER, "jane.doe@example.org", "Jane Doe"),
        LIVE,
        replace(LIVE, owners=LIVE.owners | {"jane.doe@example.org"}),
        ("jane.doe",),
    ),
    UpdateSettings: Row(
        UpdateSettings(
            (
                SettingChange("accept_these_nonmembers", [], ["jane.doe@example.org", '"x"@y.org']),
                SettingChange("description", "", "Ask mallory@example.org"),
            ),
            Stage.CONFIGURE,
        ),
        LIVE,
        replace(
            LIVE,
            settings={
                **LIVE.settings,
                "accept_these_nonmembers": ["jane.doe@example.org", '"x"@y.org'],
                "description": "Ask mallory@example.org",
            },
        ),
        ("jane.doe", '"x"', "mallory"),
    ),
    AddBan: Row(
        AddBan("mallory@example.org"),
        LIVE,
        replace(LIVE, bans=LIVE.bans | {"mallory@example.org"}),
        ("mallory",),
    ),
    RemoveMember: Row(
        RemoveMember(Role.MODERATOR, "carol.d@example.net"),
        LIVE,
        replace(LIVE, moderators=frozenset()),
        ("carol.d",),
    ),
    RemoveBan: Row(
        RemoveBan(r"^spam[0-9]*@example\.org$"),
        LIVE,
        replace(LIVE, bans=frozenset()),
        ("^spam[0-9]*",),
    ),
    SetTemplate: Row(
        SetTemplate(FOOTER, OLD_URL, NEW_URL),
        LIVE,
        replace(LIVE, templates={FOOTER: NEW_URL}),
    ),
    SetNonmember: Row(
        SetNonmember("bot@ci.example.org", None, "accept"),
        LIVE,
        replace(LIVE, nonmembers={"bot@ci.example.org": "accept"}),
        ("bot",),
    ),
    SetHeaderFilters: Row(
        SetHeaderFilters(LIVE.header_filters or (), (RULE, *(LIVE.header_filters or ()))),
        LIVE,
        replace(LIVE, header_filters=(RULE, *(LIVE.header_filters or ()))),
        (r"jane\.doe",),
    ),
}
KINDS = get_args(Change)


@pytest.fixture(autouse=True, scope="module")
def template_host() -> Iterator[None]:
    with published(TEXTS):
        yield


def plan_of(change: Change) -> Plan:
    creating = isinstance(change, CreateList)
    action = Action.CREATE if creating else Action.UPDATE
    lists = (ListPlan("tor-dev", FQDN, action, (change,)),)
    return Plan(DOMAIN, False, lists, managed=1, texts=TEXTS)


def every_form(plan: Plan) -> str:
    """Everything a plan shows: each change's lines and JSON, and the whole plan."""
    shown = [render.to_text(plan), render.to_markdown(plan), render.to_json(plan)]
    for lp in plan.lists:
        for change in lp.changes:
            shown += render.change_lines(change, texts=plan.texts)
            shown.append(json.dumps(change.as_json()))
    return "\n".join(shown)


def test_the_table_has_a_row_for_every_kind_of_change() -> None:
    assert set(ROWS) == set(KINDS)
    assert all(type(row.change) is kind for kind, row in ROWS.items())


@pytest.mark.parametrize("kind", KINDS, ids=lambda kind: kind.__name__)
def test_every_kind_renders_as_lines_and_json(kind: type[Any]) -> None:
    change = ROWS[kind].change
    lines = render.change_lines(change, texts=TEXTS)
    assert lines == [visible(line) for line in lines]
    if isinstance(change, CreateList):  # a new list shows each setting once, as it ends
        assert render.list_body(plan_of(change).lists[0]) == [
            f"+ {key}: {json.dumps(value)}" for key, value in sorted(change.settings)
        ]
    else:
        assert lines
        assert all(line[:2] in ("+ ", "- ", "~ ", "  ") for line in lines), lines
    data = change.as_json()
    assert json.loads(json.dumps(data)) == data
    types = {row.change.as_json()["type"] for row in ROWS.values()}
    assert len(types) == len(ROWS), "each kind has a JSON type of its own"


@pytest.mark.parametrize("kind", KINDS, ids=lambda kind: kind.__name__)
def test_no_address_of_any_kind_survives_redaction(kind: type[Any]) -> None:
    row = ROWS[kind]
    plan = plan_of(row.change)
    shown, masked = every_form(plan), every_form(render.redacted(plan))
    for private in row.private:
        escaped = json.dumps(private)[1:-1]  # as JSON writes it
        assert private in shown or escaped in shown
        assert private not in masked, private
        assert escaped not in masked, private
    assert FQDN in masked, "a list's own address is no one's: it stays"
    assert render.redacted(render.redacted(plan)) == render.redacted(plan)


@pytest.mark.parametrize("kind", KINDS, ids=lambda kind: kind.__name__)
def test_every_kind_is_applied_to_the_in_memory_mailman(kind: type[Any]) -> None:
    row = ROWS[kind]
    memory = MemoryBackend.holding(DOMAIN, {} if row.before is None else {"tor-dev": row.before})
    result = apply_plan(memory.as_backend(), plan_of(row.change))
    assert result.ok, result.failed
    assert [(r.name, r.applied) for r in result.results] == [("tor-dev", 1)]
    assert memory.states["tor-dev"] == row.after
