"""Apply: carry out a `Plan` against Mailman, list by list.

Owns the order of writes and the isolation between lists: the changes of
one list are applied in plan order and stop at that list's first failure;
lists are applied concurrently with a bounded pool and a failing list never
stops the others. Nothing here deletes a list, and unmanaged lists are
never touched: a plan has no change that could. One apply at a time runs
against a Mailman from one host: `apply_lock`.
"""

from __future__ import annotations

import getpass
import hashlib
import os
import socket
import tempfile
import threading
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

from filelock import FileLock, Timeout

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

NOT_STARTED = "not started: Mailman stopped answering"


@dataclass(frozen=True, slots=True)
class ListResult:
    name: str
    applied: int
    error: str | None = None
    failed_change: Change | None = None
    started: bool = True

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

    @property
    def not_started(self) -> tuple[ListResult, ...]:
        return tuple(r for r in self.results if not r.started)


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


def apply_list(
    backend: MailmanBackend, list_plan: ListPlan, gone: threading.Event | None = None
) -> ListResult:
    """Apply one list's changes in order; stop at its first failure.

    `gone` is set when Mailman stops answering, so that the lists not yet
    started are left for the next run instead of each waiting out retries.
    """
    if gone is not None and gone.is_set():
        return ListResult(
            list_plan.name, 0, "not started: Mailman stopped answering", started=False
        )
    applied = 0
    for change in list_plan.changes:
        try:
            _write(backend, list_plan.fqdn, change)
        except MailmanUnreachable as exc:
            if gone is not None:
                gone.set()
            return ListResult(list_plan.name, applied, str(exc), change)
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

    gone = threading.Event()

    def run(list_plan: ListPlan) -> ListResult:
        result = apply_list(backend, list_plan, gone)
        if on_done is not None:
            on_done(result)
        return result

    with ThreadPoolExecutor(max_workers=backend.workers) as pool:
        results = tuple(pool.map(run, todo))
    return ApplyResult(results)


def lock_path(url: str) -> Path:
    """The host-wide lock of applies to one Mailman (LISTSYNC_LOCK_FILE overrides)."""
    override = os.environ.get("LISTSYNC_LOCK_FILE")
    if override:
        return Path(override)
    digest = hashlib.sha256(url.rstrip("/").encode()).hexdigest()[:16]
    return Path(tempfile.gettempdir()) / f"listsync-apply-{digest}.lock"


@contextmanager
def apply_lock(url: str, site: Path) -> Iterator[None]:
    """Hold the apply lock for `url`, or fail at once naming who holds it."""
    path = lock_path(url)
    holder = path.with_name(path.name + ".holder")
    lock = FileLock(path)
    try:
        lock.acquire(timeout=0)
    except Timeout:
        try:
            who = holder.read_text().strip()
        except OSError:
            who = "unknown holder"
        raise ListsyncError(
            f"another listsync apply is running against this Mailman ({who}); lock {path}"
        ) from None
    try:
        started = datetime.now(UTC).strftime("%Y-%m-%d %H:%M:%SZ")
        holder.write_text(
            f"pid {os.getpid()}, {getpass.getuser()}@{socket.gethostname()},"
            f" site {site}, since {started}\n"
        )
        yield
    finally:
        holder.unlink(missing_ok=True)
        lock.release()
