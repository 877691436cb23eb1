"""The checks that hold `apply FILE` to a saved plan (`listsync.savedplan`; pure).

Plans and readings come from in-memory Mailmans (`memory_backend`, on
`snapshot.Snapshot`) for random list files and live lists: a re-plan equal
to the recorded one passes, any edit of what the file records is refused, a
redacted plan is compared masked, and the work tree and the selection are
checked. The same checks through the CLI against the real core are
test_savedplan.py's.
"""

from __future__ import annotations

import copy
import json
from typing import Any

import pytest
from examples import examples
from hypothesis import HealthCheck, assume, given, settings
from hypothesis import strategies as st
from list_states import DOMAIN, PEOPLE, Case, cases, desired_of
from memory_backend import MemoryBackend

from listsync import savedplan
from listsync.plan import Plan
from listsync.reconcile import Reading
from listsync.savedplan import SavedPlan, SavedPlanError, StalePlanError, WorkTree

REVISION = "0123456789abcdef0123456789abcdef01234567"
WORKTREE = WorkTree(REVISION, ("lists/tor-dev.yaml",))
SAVED = settings(
    max_examples=examples(50), deadline=None, suppress_health_check=[HealthCheck.too_slow]
)


def saved_plan(
    case: Case, *, redact: bool = False, selection: list[str] | None = None
) -> tuple[str, Reading, Plan]:
    """The saved-plan document of `case`'s plan, and the reading and plan it came from."""
    memory = MemoryBackend.holding(DOMAIN, case.live, domain_exists=case.domain_exists)
    reading = memory.reading(case.desired)
    plan = memory.plan(case.desired)
    return savedplan.dumps(plan, reading, selection, WORKTREE, redact=redact), reading, plan


def check(text: str, case: Case) -> SavedPlan:
    """Every check `apply FILE` makes, against a fresh reading of the same Mailman."""
    saved = savedplan.loads(text, "plan.json")
    savedplan.check_worktree(saved, WORKTREE)
    savedplan.check_selection(saved, case.desired)
    memory = MemoryBackend.holding(DOMAIN, case.live, domain_exists=case.domain_exists)
    savedplan.check_replan(saved, memory.reading(case.desired), memory.plan(case.desired))
    return saved


@SAVED
@given(case=cases(), redact=st.booleans())
def test_a_replan_equal_to_the_recorded_one_passes(case: Case, redact: bool) -> None:
    text, _, plan = saved_plan(case, redact=redact)
    saved = check(text, case)
    assert saved.redacted is redact
    assert saved.domain_exists is case.domain_exists
    recorded = [entry["name"] for entry in saved.shown["lists"]]
    assert recorded == [lp.name for lp in plan.lists if lp.changes]


def _paths(value: Any, path: tuple[Any, ...] = ()) -> list[tuple[Any, ...]]:
    """The path of every value inside `value`, itself included."""
    found = [path]
    if isinstance(value, dict):
        for key, item in value.items():
            found += _paths(item, (*path, key))
    elif isinstance(value, list):
        for index, item in enumerate(value):
            found += _paths(item, (*path, index))
    return found


def _other(value: Any) -> Any:
    """A value unlike `value`."""
    if isinstance(value, bool):
        return not value
    if isinstance(value, int | float):
        return value + 1
    if isinstance(value, str):
        return value + "x"
    if isinstance(value, list):
        return [*value, "x"]
    if isinstance(value, dict):
        return {**value, "x": 1}
    return "x"


def _set(document: Any, path: tuple[Any, ...], value: Any) -> None:
    *parents, last = path
    for step in parents:
        document = document[step]
    document[last] = value


@SAVED
@given(case=cases(), redact=st.booleans(), data=st.data())
def test_any_edit_of_the_recorded_changes_is_refused(
    case: Case, redact: bool, data: st.DataObject
) -> None:
    text, _, _ = saved_plan(case, redact=redact)
    document = json.loads(text)
    entries = [i for i, entry in enumerate(document["lists"]) if entry["changes"]]
    assume(entries or document["create_domain"])
    edited = copy.deepcopy(document)
    edit = data.draw(st.sampled_from(["value", "drop", "repeat", "swap", "domain"]))
    if edit == "domain" or not entries:
        key = data.draw(st.sampled_from(["domain", "create_domain"]))
        edited[key] = _other(edited[key])
    else:
        entry = edited["lists"][data.draw(st.sampled_from(entries))]
        changes = entry["changes"]
        if edit == "value":
            fields = {k: entry[k] for k in ("name", "fqdn", "action", "changes")}
            path = data.draw(st.sampled_from(_paths(fields)[1:]))
            _set(entry, path, _other(copy.deepcopy(_get(entry, path))))
        elif edit == "drop":
            del changes[data.draw(st.integers(0, len(changes) - 1))]
        elif edit == "repeat":
            index = data.draw(st.integers(0, len(changes) - 1))
            changes.insert(index, copy.deepcopy(changes[index]))
        else:
            first, second = (data.draw(st.integers(0, len(changes) - 1)) for _ in "ab")
            assume(changes[first] != changes[second])
            changes[first], changes[second] = changes[second], changes[first]
    with pytest.raises((StalePlanError, SavedPlanError)):
        check(json.dumps(edited), case)


def _get(document: Any, path: tuple[Any, ...]) -> Any:
    for step in path:
        document = document[step]
    return document


# -- the redacted plan -----------------------------------------------------------------------

NEW_OWNER = Case(
    {"tor-dev": desired_of("tor-dev", {"owners": ["alice@example.org"]})},
    {},
)


def test_a_redacted_plan_records_masked_changes_and_is_compared_masked() -> None:
    text, _, _ = saved_plan(NEW_OWNER, redact=True)
    assert "alice" not in text
    assert "a***@example.org" in text
    check(text, NEW_OWNER)
    # the files at the revision pin the addresses: one with the same mask is not told apart
    anna = Case({"tor-dev": desired_of("tor-dev", {"owners": ["anna@example.org"]})}, {})
    check(text, anna)
    bob = Case({"tor-dev": desired_of("tor-dev", {"owners": [PEOPLE[1]]})}, {})
    with pytest.raises(StalePlanError, match="tor-dev"):
        check(text, bob)
    plain, _, _ = saved_plan(NEW_OWNER, redact=False)
    with pytest.raises(StalePlanError, match="tor-dev"):
        check(plain, anna)


def test_a_redacted_plan_made_unredacted_by_hand_is_refused() -> None:
    text, _, _ = saved_plan(NEW_OWNER, redact=True)
    document = json.loads(text)
    document["saved"]["redacted"] = False
    with pytest.raises(StalePlanError):
        check(json.dumps(document), NEW_OWNER)


# -- the work tree, the selection and the domain ----------------------------------------------


@pytest.mark.parametrize(
    "now",
    [
        WorkTree("f" * 40, WORKTREE.uncommitted),
        WorkTree(None, WORKTREE.uncommitted),
        WorkTree(REVISION, ()),
        WorkTree(REVISION, (*WORKTREE.uncommitted, "lists/other.yaml")),
    ],
    ids=["another-revision", "no-revision", "nothing-uncommitted", "more-uncommitted"],
)
def test_a_plan_made_at_another_revision_or_work_tree_is_refused(now: WorkTree) -> None:
    saved = savedplan.loads(saved_plan(NEW_OWNER)[0])
    savedplan.check_worktree(saved, WORKTREE)
    with pytest.raises(StalePlanError, match="plan again"):
        savedplan.check_worktree(saved, now)


def test_a_selection_or_a_list_no_file_declares_is_refused() -> None:
    text, _, _ = saved_plan(NEW_OWNER, selection=["tor-dev"])
    saved = savedplan.loads(text)
    assert saved.selection == ("tor-dev",)
    savedplan.check_selection(saved, ["tor-dev", "other"])
    with pytest.raises(SavedPlanError, match="tor-dev"):
        savedplan.check_selection(saved, ["other"])
    named = savedplan.loads(saved_plan(NEW_OWNER, selection=["tor-dev", "ghost"])[0])
    with pytest.raises(SavedPlanError, match="ghost"):
        savedplan.check_selection(named, ["tor-dev"])


@pytest.mark.parametrize("exists", [True, False])
def test_a_domain_created_or_deleted_since_is_refused(exists: bool) -> None:
    then = Case(NEW_OWNER.desired, {}, domain_exists=exists)
    text, _, _ = saved_plan(then)
    check(text, then)
    now = Case(NEW_OWNER.desired, {}, domain_exists=not exists)
    with pytest.raises(StalePlanError, match="created" if not exists else "deleted"):
        check(text, now)
