"""Apply: carry out a `Plan` against Mailman, list by list.

Owns the order of writes and the isolation between lists: the changes of
one list are applied in plan order and stop at that list's first failure;
lists are applied concurrently with a bounded pool and a failing list never
stops the others. Nothing here deletes a list, and unmanaged lists are
never touched: a plan has no change that could.
"""

from __future__ import annotations

from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass

from listsync.errors import ListsyncError
from listsync.mailman import MailmanBackend, MailmanUnreachable
from listsync.plan import (
    AddBan,
    AddMember,
    Change,
    CreateList,
    ListPlan,
    Plan,
    RemoveBan,
    RemoveMember,
    UpdateSettings,
)


@dataclass(frozen=True, slots=True)
class ListResult:
    name: str
    applied: int
    error: str | None = None
    failed_change: Change | None = None

    @property
    def ok(self) -> bool:
        return self.error is None


@dataclass(frozen=True, slots=True)
class ApplyResult:
    results: tuple[ListResult, ...]

    @property
    def ok(self) -> bool:
        return all(r.ok for r in self.results)

    @property
    def failed(self) -> tuple[ListResult, ...]:
        return tuple(r for r in self.results if not r.ok)

    @property
    def succeeded(self) -> tuple[ListResult, ...]:
        return tuple(r for r in self.results if r.ok)


def _write(backend: MailmanBackend, fqdn: str, change: Change) -> None:
    match change:
        case CreateList():
            backend.create_list(fqdn)
        case AddMember(role, address):
            backend.add_member(fqdn, role.value, address)
        case RemoveMember(role, address):
            backend.remove_member(fqdn, role.value, address)
        case UpdateSettings():
            backend.update_settings(fqdn, change.as_patch())
        case AddBan(pattern):
            backend.add_ban(fqdn, pattern)
        case RemoveBan(pattern):
            backend.remove_ban(fqdn, pattern)


def apply_list(backend: MailmanBackend, list_plan: ListPlan) -> ListResult:
    applied = 0
    for change in list_plan.changes:
        try:
            _write(backend, list_plan.fqdn, change)
        except ListsyncError as exc:
            return ListResult(list_plan.name, applied, str(exc), change)
        applied += 1
    return ListResult(list_plan.name, applied)


def apply_plan(
    backend: MailmanBackend,
    plan: Plan,
    on_done: Callable[[ListResult], None] | None = None,
) -> ApplyResult:
    """Apply every list's changes; returns one result per list that had changes."""
    if plan.create_domain:
        try:
            backend.create_domain(plan.domain)
        except MailmanUnreachable:
            raise
        except ListsyncError as exc:
            raise ListsyncError(f"cannot create domain {plan.domain}: {exc}") from None
    todo = [lp for lp in plan.lists if lp.changes]

    def run(list_plan: ListPlan) -> ListResult:
        result = apply_list(backend, list_plan)
        if on_done is not None:
            on_done(result)
        return result

    with ThreadPoolExecutor(max_workers=backend.workers) as pool:
        results = tuple(pool.map(run, todo))
    return ApplyResult(results)
