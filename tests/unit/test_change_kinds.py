"""Every kind of change a plan holds, through every consumer (pure, table-driven).

The table has one row per member of `changes.Change`, found with
`typing.get_args`: a new kind without a row fails here; the site changes
(`changes.SiteChange`) have a table of their own, through the same forms. Each row's change is
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
    BanSite,
    Change,
    ChangeKind,
    CreateList,
    EraseAddress,
    ListWriter,
    RemoveBan,
    RemoveMember,
    RemoveNonmember,
    Role,
    SetHeaderFilters,
    SetNonmember,
    SetTemplate,
    SettingChange,
    SiteChange,
    SiteChangeKind,
    SiteWriter,
    Stage,
    SubscribeMembers,
    UnsubscribeMember,
    UnsubscribeMembers,
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


MEMBERS = frozenset({"jane.doe@example.org", "reader@example.org"})
"""tor-dev's members before each row's change (`ListState` does not hold them)."""


@dataclass(frozen=True)
class Row:
    change: Change
    before: ListState | None  # None: the list does not exist yet
    after: ListState
    private: tuple[str, ...] = ()  # what redaction must mask: local parts of addresses
    members_after: frozenset[str] = MEMBERS


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
    UnsubscribeMember: Row(
        UnsubscribeMember("jane.doe@example.org"),
        LIVE,
        LIVE,
        ("jane.doe",),
        members_after=frozenset({"reader@example.org"}),
    ),
    RemoveNonmember: Row(
        RemoveNonmember("bot@ci.example.org", None),
        LIVE,
        replace(LIVE, nonmembers={}),
        ("bot",),
    ),
    SubscribeMembers: Row(
        SubscribeMembers(
            (("new.member@example.org", "regular"), ("digest.reader@example.org", "mime_digests")),
            2,
            "rosters/tor-dev.txt",
        ),
        LIVE,
        LIVE,
        ("new.member", "digest.reader"),
        members_after=MEMBERS | {"new.member@example.org", "digest.reader@example.org"},
    ),
    UnsubscribeMembers: Row(
        UnsubscribeMembers(("jane.doe@example.org",), 1, "exact", 2),
        LIVE,
        LIVE,
        ("jane.doe",),
        members_after=frozenset({"reader@example.org"}),
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
    states = {} if row.before is None else {"tor-dev": row.before}
    memory = MemoryBackend.holding(DOMAIN, states, members={"tor-dev": MEMBERS})
    result = apply_plan(memory.as_backend(), plan_of(row.change))
    assert result.ok, result.failed
    assert [(r.name, r.applied) for r in result.results] == [("tor-dev", 1)]
    assert memory.states["tor-dev"] == row.after
    assert memory.members["tor-dev"] == row.members_after


@pytest.mark.parametrize(
    "kind", [UnsubscribeMember, RemoveNonmember, RemoveMember, AddBan, UnsubscribeMembers]
)
def test_a_removal_or_ban_already_made_is_done(kind: type[Any]) -> None:
    """Applied twice, the second apply finds it done and succeeds (already gone is done)."""
    row = ROWS[kind]
    memory = MemoryBackend.holding(DOMAIN, {"tor-dev": LIVE}, members={"tor-dev": MEMBERS})
    for _ in range(2):
        result = apply_plan(memory.as_backend(), plan_of(row.change))
        assert result.ok, result.failed
    assert memory.states["tor-dev"] == row.after


KIND_METHODS = {"order", "as_json", "resource_changes", "lines", "redacted", "write"}
"""What every kind of change, on a list or site-wide, must have (`ChangeKind`, `SiteChangeKind`)."""


def test_every_kind_is_a_change_kind_with_nothing_left_abstract() -> None:
    assert ChangeKind.__abstractmethods__ == KIND_METHODS
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
        return lambda *args, **options: self.calls.append((name, args))


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


# -- changes on no one list ------------------------------------------------------------------


@dataclass(frozen=True)
class SiteRow:
    change: SiteChange
    after_states: dict[str, ListState]
    after_members: frozenset[str]
    after_users: dict[str, frozenset[str]]
    after_bans: frozenset[str]
    private: tuple[str, ...]


JANE = "jane.doe@example.org"
USERS = {"u1": frozenset({JANE, "jane@home.example.net"}), "u2": frozenset({"reader@example.org"})}
JANE_EVERYWHERE = replace(LIVE, owners=LIVE.owners | {JANE}, nonmembers={JANE: "discard"})
SITE_ROWS: dict[type[Any], SiteRow] = {
    BanSite: SiteRow(
        BanSite(JANE),
        {"tor-dev": JANE_EVERYWHERE},
        MEMBERS,
        USERS,
        frozenset({JANE}),
        ("jane.doe",),
    ),
    EraseAddress: SiteRow(
        EraseAddress(JANE),
        {"tor-dev": replace(LIVE, nonmembers={})},
        frozenset({"reader@example.org"}),
        {"u1": frozenset({"jane@home.example.net"}), "u2": USERS["u2"]},
        frozenset(),
        ("jane.doe",),
    ),
}
SITE_KINDS = get_args(SiteChange)


def site_plan(change: SiteChange) -> Plan:
    return Plan(DOMAIN, False, (), managed=1, site_changes=(change,))


def site_memory() -> MemoryBackend:
    return MemoryBackend.holding(
        DOMAIN, {"tor-dev": JANE_EVERYWHERE}, members={"tor-dev": MEMBERS}, users=USERS
    )


def test_the_site_table_has_a_row_for_every_kind_of_site_change() -> None:
    assert set(SITE_ROWS) == set(SITE_KINDS)
    assert all(type(row.change) is kind for kind, row in SITE_ROWS.items())
    assert SiteChangeKind.__abstractmethods__ == KIND_METHODS
    for kind in SITE_KINDS:
        assert issubclass(kind, SiteChangeKind), kind
        assert not inspect.isabstract(kind), kind


@pytest.mark.parametrize("kind", SITE_KINDS, ids=lambda kind: kind.__name__)
def test_every_site_kind_renders_in_every_form(kind: type[Any]) -> None:
    change = SITE_ROWS[kind].change
    plan = site_plan(change)
    lines = [visible(line) for line in change.lines()]
    assert lines
    assert all(line[:2] in ("+ ", "- ") for line in lines), lines
    assert all(line in render.to_text(plan) for line in lines)
    assert all(line in render.to_markdown(plan) for line in lines)
    data = json.loads(render.to_json(plan))
    assert data["site_changes"] == [change.as_json()]
    assert data["has_changes"] is True
    types = {row.change.as_json()["type"] for row in SITE_ROWS.values()}
    list_types = {row.change.as_json()["type"] for row in ROWS.values()}
    assert len(types) == len(SITE_ROWS)
    assert not types & list_types


def test_a_plan_without_site_changes_has_the_json_it_always_had() -> None:
    data = json.loads(render.to_json(plan_of(ROWS[AddBan].change)))
    assert "site_changes" not in data
    assert "site" not in render.to_text(plan_of(ROWS[AddBan].change))


@pytest.mark.parametrize("kind", SITE_KINDS, ids=lambda kind: kind.__name__)
def test_no_address_of_any_site_kind_survives_redaction(kind: type[Any]) -> None:
    row = SITE_ROWS[kind]
    plan = site_plan(row.change)
    forms = (render.to_text, render.to_markdown, render.to_json)
    shown = "\n".join(form(plan) for form in forms)
    masked = "\n".join(form(render.redacted(plan)) for form in forms)
    for private in row.private:
        assert private in shown
        assert private not in masked, private
    assert type(row.change.redacted()) is kind
    assert render.redacted(render.redacted(plan)) == render.redacted(plan)


@pytest.mark.parametrize("kind", SITE_KINDS, ids=lambda kind: kind.__name__)
def test_every_site_kind_is_applied_to_the_in_memory_mailman_and_again_is_done(
    kind: type[Any],
) -> None:
    row = SITE_ROWS[kind]
    memory = site_memory()
    for _ in range(2):
        result = apply_plan(memory.as_backend(), site_plan(row.change))
        assert result.ok, result.site
        assert [(s.change, s.done) for s in result.site] == [(row.change, True)]
    assert memory.states == row.after_states
    assert memory.members["tor-dev"] == row.after_members
    assert memory.users == row.after_users
    assert memory.site_bans == row.after_bans


def test_erasing_the_last_address_of_a_user_deletes_the_user() -> None:
    memory = MemoryBackend.holding(DOMAIN, {"tor-dev": LIVE}, users={"u2": USERS["u2"]})
    result = apply_plan(memory.as_backend(), site_plan(EraseAddress("reader@example.org")))
    assert result.ok
    assert memory.users == {}


def test_site_changes_run_after_the_lists_and_only_when_every_list_succeeded() -> None:
    memory = site_memory()
    broken = ListPlan("gone", f"gone@{DOMAIN}", Action.UPDATE, (AddBan(JANE),))
    fine = ListPlan("tor-dev", FQDN, Action.UPDATE, (UnsubscribeMember(JANE),))
    site = (EraseAddress(JANE), BanSite(JANE))
    result = apply_plan(memory.as_backend(), Plan(DOMAIN, False, (broken, fine), site_changes=site))
    assert not result.ok
    assert [r.name for r in result.failed] == ["gone"]
    assert [(s.change, s.done, s.started) for s in result.site] == [
        (BanSite(JANE), False, False),
        (EraseAddress(JANE), False, False),
    ], "in their order, neither run"
    assert memory.users == USERS
    assert memory.site_bans == frozenset()
    assert memory.members["tor-dev"] == {"reader@example.org"}, "the good list was applied"
    done = apply_plan(memory.as_backend(), Plan(DOMAIN, False, (fine,), site_changes=site))
    assert done.ok
    assert [s.change for s in done.site] == [BanSite(JANE), EraseAddress(JANE)]
    assert memory.site_bans == {JANE}
    assert all(JANE not in addresses for addresses in memory.users.values())


def test_the_site_writer_protocol_lists_exactly_the_writes_of_the_site_kinds() -> None:
    protocol = {
        name
        for name, member in vars(SiteWriter).items()
        if inspect.isfunction(member) and not name.startswith("_")
    }
    called = set()
    for row in SITE_ROWS.values():
        writer = RecordingWriter()
        row.change.write(cast(SiteWriter, writer))
        assert len(writer.calls) == 1, writer.calls
        called.add(writer.calls[0][0])
    assert called == protocol
