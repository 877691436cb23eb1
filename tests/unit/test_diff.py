"""Properties of the diff (hypothesis; pure): random list files against random live lists.

The desired states come from random list files as `listsync plan` builds
them, the live ones from what Mailman may hold (`list_states.cases`); plans
are applied to `memory_backend.MemoryBackend`, an in-memory fake of Mailman
that refuses what Mailman refuses. Applying a plan then planning again gives
no changes and leaves each list as its file says, and every prefix of a
list's changes leaves it no more open than both its state before and the one
planned; a plan is a function of the two sides alone, and a list's changes
come in the order plan.py promises. (Each property test checks several of
these on the same random case: drawing a case is most of the cost.) That
apply does the same against Mailman is for the real-core tests
(test_properties.py, test_reconcile.py, test_safety.py).
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator, Mapping
from dataclasses import replace
from typing import Any, TypeVar, assert_never

import pytest
from examples import examples
from hypothesis import HealthCheck, example, given, settings
from list_states import DOMAIN, PEOPLE, TEXTS, Case, cases, desired_of
from memory_backend import MemoryBackend, new_list_settings, published

from listsync import acceptance, mailman_settings, render, savedplan
from listsync.acceptance import DISABLE_BAN, bans_address
from listsync.apply import apply_plan
from listsync.changes import (
    STAGE_ORDER,
    AddBan,
    AddMember,
    Change,
    CreateList,
    RemoveBan,
    RemoveMember,
    RemoveNonmember,
    SetHeaderFilters,
    SetNonmember,
    SetTemplate,
    Stage,
    SubscribeMembers,
    UnsubscribeMember,
    UnsubscribeMembers,
    UpdateSettings,
)
from listsync.plan import Action, ListPlan, Plan, stage_of
from listsync.policy import ListState, is_disabled

DIFF = settings(
    max_examples=examples(100), deadline=None, suppress_health_check=[HealthCheck.too_slow]
)


@pytest.fixture(autouse=True, scope="module")
def template_host() -> Iterator[None]:
    """The published template texts, served from memory."""
    with published(TEXTS):
        yield


def applied(case: Case) -> tuple[MemoryBackend, dict[str, ListPlan]]:
    """The backend holding `case.live` once its plan is applied, and that plan by list."""
    memory = MemoryBackend.holding(DOMAIN, case.live, domain_exists=case.domain_exists)
    plan = memory.plan(case.desired, TEXTS)
    result = apply_plan(memory.as_backend(), plan)
    assert result.ok, [(r.name, r.error, r.failed_change) for r in result.failed]
    return memory, {lp.name: lp for lp in plan.lists}


def check_applied(state: ListState, desired: ListState) -> None:
    """The list is what its file says, read without the diff."""
    for key, value in desired.settings.items():
        assert mailman_settings.same(key, state.settings.get(key), value), key
    assert (state.owners, state.moderators) == (desired.owners, desired.moderators)
    assert is_disabled(state) == (DISABLE_BAN in desired.bans)
    for name, url in (desired.templates or {}).items():
        assert (state.templates or {}).get(name) == url, name
    if desired.nonmembers is not None:  # but those Mailman refuses, being banned
        roster = state.nonmembers or {}
        refused = {
            address
            for address in desired.nonmembers
            if address not in roster and any(bans_address(b, address) for b in state.bans)
        }
        assert {a: action for a, action in roster.items() if action is not None} == {
            a: action for a, action in desired.nonmembers.items() if a not in refused
        }
    if desired.header_filters is not None:
        assert state.header_filters == desired.header_filters
    if desired.manages_bans:  # each ban left out is one a regexp Mailman holds matches
        assert state.bans <= desired.bans
        assert all(acceptance.banned_by(ban, state.bans) for ban in desired.bans - state.bans)


def live_list(name: str, **fields: Any) -> ListState:
    """A list as Mailman holds it, made by hand."""
    fqdn = f"{name}@{DOMAIN}"
    held: dict[str, Any] = {"templates": {}, "nonmembers": {}, "header_filters": ()}
    settings = {**new_list_settings(fqdn), **fields.pop("settings", {})}
    return ListState(fqdn=fqdn, settings=settings, **{**held, **fields})


# A non-member an address ban names: Mailman refuses to add them (the plan once asked).
BANNED_NONMEMBER = Case(
    {
        "tor-dev": desired_of(
            "tor-dev",
            {"owners": [PEOPLE[0]], "nonmembers": {PEOPLE[4]: "hold"}, "bans": [PEOPLE[4]]},
        )
    },
    {"tor-dev": live_list("tor-dev", owners=frozenset({PEOPLE[0]}), bans=frozenset({PEOPLE[4]}))},
)


def check_converged(case: Case, memory: MemoryBackend) -> None:
    """Planning again gives no changes; each list is what its file says, the others as
    they were."""
    again = memory.plan(case.desired, TEXTS)
    assert not again.has_changes, render.to_text(again)
    managed = {lp.name: lp.action for lp in again.lists if lp.action is not Action.UNMANAGED}
    assert managed == dict.fromkeys(case.desired, Action.UNCHANGED)
    for name, desired in case.desired.items():
        check_applied(memory.states[name], desired)
    unmanaged = {name for name in case.live if name not in case.desired}
    assert {name: memory.states[name] for name in unmanaged} == {
        name: case.live[name] for name in unmanaged
    }


K = TypeVar("K")
V = TypeVar("V")


def _reversed(mapping: Mapping[K, V] | None) -> dict[K, V] | None:
    return None if mapping is None else dict(reversed(list(mapping.items())))


def _shuffled(state: ListState) -> ListState:
    """The same state with every mapping in another order."""
    return replace(
        state,
        settings=_reversed(state.settings) or {},
        display_names=_reversed(state.display_names) or {},
        templates=_reversed(state.templates),
        nonmembers=_reversed(state.nonmembers),
    )


def check_same_plan(case: Case, first: Plan) -> None:
    """The same input gives the same plan; input in another order (list files, their
    settings, Mailman's answers) the same plan in every form anyone reads. (A new list's
    `CreateList.settings` follow the file's order, which no form shows.)"""
    memory = MemoryBackend.holding(DOMAIN, case.live, domain_exists=case.domain_exists)
    assert memory.plan(case.desired, TEXTS) == first
    shuffled = MemoryBackend.holding(
        DOMAIN,
        {name: _shuffled(s) for name, s in reversed(list(case.live.items()))},
        domain_exists=case.domain_exists,
    )
    desired = {name: _shuffled(s) for name, s in reversed(list(case.desired.items()))}
    again = shuffled.plan(desired, TEXTS)
    assert render.to_text(again) == render.to_text(first)
    assert render.to_markdown(again) == render.to_markdown(first)
    assert json.loads(render.to_json(again)) == json.loads(render.to_json(first))
    assert savedplan.substance(again) == savedplan.substance(first)


# -- the order of a list's changes ---------------------------------------------------------------


def _opens(change: Change) -> bool | None:
    """Whether a change may let more through (True), does not (False), or is about
    something else (None)."""
    match change:
        case UpdateSettings(_, stage):
            return None if stage is Stage.CONFIGURE else stage is Stage.OPEN
        case SetNonmember(_, existing, desired):
            return acceptance.opens_nonmember(existing, desired)
        case SetHeaderFilters(existing, desired):
            return acceptance.opens_filters(existing, desired)
        case RemoveNonmember(_, existing):  # its posts meet the list's default from then on
            return acceptance.opens_nonmember(existing, None)
        case UnsubscribeMember() | UnsubscribeMembers():
            return False
        case SubscribeMembers():  # more people get the list's mail
            return True
        case CreateList() | AddMember() | RemoveMember() | AddBan() | RemoveBan() | SetTemplate():
            return None
        case _:
            assert_never(change)


def check_order(changes: tuple[Change, ...]) -> None:
    """The order plan.py's docstrings promise for one list's changes."""

    def where(test: Callable[[Change], bool]) -> list[int]:
        return [i for i, change in enumerate(changes) if test(change)]

    # a new list is created first, locked down; the bans that go come next
    creating = where(lambda c: isinstance(c, CreateList))
    assert creating in ([], [0]), changes
    unbanned = where(lambda c: isinstance(c, RemoveBan))
    assert unbanned == list(range(len(creating), len(creating) + len(unbanned))), changes
    # owners and moderators are added before any is removed
    added = where(lambda c: isinstance(c, AddMember))
    assert max(added, default=-1) < min(where(lambda c: isinstance(c, RemoveMember)), default=99)
    # settings go in the stage of what they do: mitigation and closing ones to restrict;
    # a new list's configuring ones go with its opening ones, unless a change comes between
    updates = [c for c in changes if isinstance(c, UpdateSettings)]
    for update in updates:
        stages = {stage_of(s) for s in update.changes}
        if creating and update.stage is Stage.OPEN:
            assert Stage.OPEN in stages, update
            assert stages <= {Stage.CONFIGURE, Stage.OPEN}, update
        else:
            assert stages == {update.stage}, update
        for s in update.changes:
            before = mailman_settings.openness(s.key, s.existing)
            after = mailman_settings.openness(s.key, s.desired)
            moves = None if before is None or after is None or before == after else after > before
            if s.key in mailman_settings.MITIGATION:
                assert update.stage is Stage.RESTRICT
            else:
                assert {None: Stage.CONFIGURE, True: Stage.OPEN, False: Stage.RESTRICT}[
                    moves
                ] is update.stage or (creating and update.stage is Stage.OPEN), s
    if creating:
        apart = [i for i, c in enumerate(changes) if c in updates and c.stage is not Stage.RESTRICT]
        if len(apart) == 2:  # configuring, then opening: only with a change between
            assert any(
                STAGE_ORDER[Stage.CONFIGURE] < changes[i].order < STAGE_ORDER[Stage.OPEN]
                for i in range(apart[0] + 1, apart[1])
            ), changes
    # what closes comes before the roster and the other settings, what opens after them
    closing = where(lambda c: _opens(c) is False)
    opening = where(lambda c: _opens(c) is True)
    middle = where(
        lambda c: (
            isinstance(c, AddMember | RemoveMember | SetTemplate)
            or (isinstance(c, UpdateSettings) and c.stage is Stage.CONFIGURE)
        )
    )
    assert max(closing, default=-1) < min(middle + opening, default=99), changes
    assert max(middle, default=-1) < min(opening, default=99), changes
    # bans last, the disable ban after the disabled owner is in: addresses, regexps, everyone
    banned = where(lambda c: isinstance(c, AddBan))
    assert banned == list(range(len(changes) - len(banned), len(changes))), changes
    patterns = [c.pattern for c in changes if isinstance(c, AddBan)]
    assert patterns == sorted(patterns, key=acceptance.ban_order)


@DIFF
@given(case=cases())
def test_a_plan_keeps_the_promised_order_and_depends_on_its_input_alone(case: Case) -> None:
    memory = MemoryBackend.holding(DOMAIN, case.live, domain_exists=case.domain_exists)
    plan = memory.plan(case.desired, TEXTS)
    check_same_plan(case, plan)
    for lp in plan.lists:
        check_order(lp.changes)
        if lp.action is not Action.UNMANAGED:
            assert (lp.action is Action.CREATE) == (lp.name not in case.live)
            assert (lp.action is Action.CREATE) == any(
                isinstance(c, CreateList) for c in lp.changes
            )


def more_open(state: ListState, ends: list[ListState]) -> list[str]:
    """What `state` leaves more open than every one of `ends` does."""
    found = []
    for key in mailman_settings.OPENNESS:
        now = mailman_settings.openness(key, state.settings.get(key))
        then = [mailman_settings.openness(key, end.settings.get(key)) for end in ends]
        if now is not None and all(t is not None and now > t for t in then):
            found.append(f"{key}: {state.settings.get(key)!r}")
    for address, action in (state.nonmembers or {}).items():
        if all(
            acceptance.opens_nonmember((end.nonmembers or {}).get(address), action) for end in ends
        ):
            found.append(f"nonmember {address}: {action}")
    return found


def order_of(key: str, value: Any) -> int:
    """How open `value` leaves exposure setting `key` (-1: a setting of no such order)."""
    rank = mailman_settings.openness(key, value)
    return -1 if rank is None else rank


def check_steps(case: Case, memory: MemoryBackend, plans: dict[str, ListPlan]) -> None:
    """After each write, no exposure setting and no non-member is more open than both the
    list before (a new list: once created locked down) and the list planned; a list with
    an owner at both ends always has one; once a setting is more open than before, the
    DMARC mitigation is the planned one."""
    for name, end in memory.states.items():
        steps = [state for list_name, state in memory.history if list_name == name]
        if not steps:
            continue
        start = case.live.get(name)
        if start is None:
            assert isinstance(plans[name].changes[0], CreateList)
            start = steps[0]
            for key, closed in mailman_settings.LOCKED_DOWN.items():  # or closer, as planned
                first, planned = start.settings[key], end.settings[key]
                wanted = planned if order_of(key, planned) < order_of(key, closed) else closed
                assert mailman_settings.same(key, first, wanted), (key, first, planned)
            for key in mailman_settings.MITIGATION:  # mitigated as planned in the same step
                assert mailman_settings.same(key, start.settings[key], end.settings[key])
        for state in steps:
            assert more_open(state, [start, end]) == [], (state, start, end)
            if start.owners and end.owners:
                assert state.owners, state
            if more_open(state, [start]):
                for key in mailman_settings.MITIGATION:
                    assert mailman_settings.same(key, state.settings[key], end.settings[key])


@DIFF
@given(case=cases())
@example(case=BANNED_NONMEMBER)
def test_an_applied_plan_converges_and_no_step_leaves_a_list_more_open_than_both_ends(
    case: Case,
) -> None:
    memory, plans = applied(case)
    check_converged(case, memory)
    check_steps(case, memory, plans)
