"""Every kind of change a plan holds, through every consumer (pure, table-driven).

The table has one row per member of `changes.Change`, found with
`typing.get_args`: a new kind without a row fails here. Each row's change is
rendered as text lines and JSON, redacted (no address survives in any form),
and applied to the in-memory Mailman (`memory_backend`), which must end in
the row's state. Every kind is a `ChangeKind` with none of its methods left
abstract, and a kind lacking one cannot be made. That the writes work
against Mailman is the real-core tests' (test_reconcile.py,
test_acceptance.py, test_templates.py).
"""

from __future__ import annotations

import inspect
import json
from abc import ABCMeta
from collections.abc import Iterator
from dataclasses import dataclass, replace
from typing import Any, cast, get_args

import pytest
from memory_backend import MemoryBackend, new_list_settings, published

from listsync import mailman_settings, render
from listsync.acceptance import HeaderRule
from listsync.apply import apply_plan
from listsync.changes import (
    AddBan,
    AddMember,
    Change,
    ChangeKind,
    CreateList,
    ListWriter,
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
    assert type(row.change.redacted()) is kind
    assert render.redacted(render.redacted(plan)) == render.redacted(plan)


@pytest.mark.parametrize("kind", KINDS, ids=lambda kind: kind.__name__)
def test_every_kind_is_applied_to_the_in_memory_mailman(kind: type[Any]) -> None:
    row = ROWS[kind]
    memory = MemoryBackend.holding(DOMAIN, {} if row.before is None else {"tor-dev": row.before})
    result = apply_plan(memory.as_backend(), plan_of(row.change))
    assert result.ok, result.failed
    assert [(r.name, r.applied) for r in result.results] == [("tor-dev", 1)]
    assert memory.states["tor-dev"] == row.after


def test_every_kind_is_a_change_kind_with_nothing_left_abstract() -> None:
    assert ChangeKind.__abstractmethods__ == {"order", "as_json", "lines", "redacted", "write"}
    for kind in KINDS:
        assert issubclass(kind, ChangeKind), kind
        assert not inspect.isabstract(kind), (kind, kind.__abstractmethods__)


@pytest.mark.parametrize("missing", sorted(ChangeKind.__abstractmethods__))
def test_a_kind_lacking_a_method_is_refused(missing: str) -> None:
    """A kind like `AddBan` but for one method cannot be made (mypy refuses it too)."""
    namespace = {
        name: AddBan.__dict__[name] for name in ChangeKind.__abstractmethods__ if name != missing
    }
    lacking = ABCMeta("Lacking", (ChangeKind,), namespace)
    assert inspect.isabstract(lacking)
    assert lacking.__abstractmethods__ == {missing}
    with pytest.raises(TypeError, match=missing):
        lacking()


class RecordingWriter:
    """Which `ListWriter` methods the changes call, and with what."""

    def __init__(self) -> None:
        self.calls: list[tuple[str, tuple[Any, ...]]] = []

    def __getattr__(self, name: str) -> Any:
        return lambda *args: self.calls.append((name, args))


def test_the_writer_protocol_lists_exactly_the_writes_of_the_kinds() -> None:
    protocol = {
        name
        for name, member in vars(ListWriter).items()
        if inspect.isfunction(member) and not name.startswith("_")
    }
    called = set()
    for row in ROWS.values():
        writer = RecordingWriter()
        row.change.write(cast(ListWriter, writer), FQDN)
        assert len(writer.calls) == 1, writer.calls
        name, args = writer.calls[0]
        assert args[0] == FQDN
        called.add(name)
    assert called == protocol
