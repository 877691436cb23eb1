"""Apply: carry out a `Plan` against Mailman, list by list.

Owns the isolation between lists and what a run does when things go wrong:
the changes of one list are applied in plan order (which `plan` makes safe
to stop after any of them) and stop at that list's first failed write; lists are
applied concurrently with a bounded pool and a refused list never stops the
others. When Mailman is away (no answer, or 502/503/504 through the
retries) or the run is interrupted, no further list is started, the lists
under way finish, and the result says what was applied, what failed midway
and what was not started. Nothing here deletes a list, and unmanaged lists
are never touched: a plan has no change that could. One apply at a time
runs against a Mailman server from one host: `apply_lock`.

A plan's site changes (a site-wide ban, erasing an address) run after every
list's, one at a time in their order, and only when every list succeeded:
erasing an address takes it off every list in every role, owner included,
so it never runs before the lists' own changes have settled who owns them.
The first that fails stops the rest; each is reported done, failed, or not
run and why.

Template texts are checked before any write: every URL the plan points a
list at is fetched once, as Mailman will fetch it (`PublishedTexts`). A
template whose text is not served is left as it is, and the list's other
changes are applied in their order: a footer not yet published never keeps
a compromised owner in place. The list then counts as failed, naming the
template, its URL and why.
"""

from __future__ import annotations

import getpass
import hashlib
import ipaddress
import os
import socket
import tempfile
import threading
from collections.abc import Callable, Iterable, Iterator, Mapping
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from urllib.parse import urlsplit

from filelock import FileLock, Timeout

from listsync.changes import ROSTER_CHANGES, Change, CreateList, SetTemplate, SiteChange
from listsync.errors import ListsyncError
from listsync.mailman import MailmanAway, MailmanBackend, is_outage
from listsync.mailman_templates import check_urls
from listsync.plan import ListPlan, Plan

MAILMAN_AWAY = "Mailman stopped answering"
INTERRUPTED = "interrupted"


@dataclass(frozen=True, slots=True)
class ListResult:
    """What became of one list's changes.

    `error` says why the list failed: the write it stopped at (`failed_change`), and
    the templates it left as they are (`skipped`, their text not served; then
    `failed_change` is the first of them when no write failed).
    """

    name: str
    applied: int
    error: str | None = None
    failed_change: Change | None = None
    started: bool = True
    creating: bool = False
    skipped: tuple[Change, ...] = ()

    @property
    def ok(self) -> bool:
        return self.error is None

    @property
    def stopped_midway(self) -> bool:
        """A write failed, and the list's later changes were not made."""
        return self.failed_change is not None and self.failed_change not in self.skipped

    @property
    def left_locked_down(self) -> bool:
        """A new list whose creation stopped after the list itself was made."""
        return self.creating and self.stopped_midway and self.applied >= 1


class Stop:
    """Why no further list may start: Mailman is away, or the run was interrupted."""

    def __init__(self) -> None:
        self._reason: str | None = None
        self._lock = threading.Lock()

    def set(self, reason: str) -> None:
        with self._lock:
            if self._reason is None:
                self._reason = reason

    @property
    def reason(self) -> str | None:
        return self._reason


@dataclass(frozen=True, slots=True)
class SiteResult:
    """What became of one site change: done, or why not (failed, or not run)."""

    change: SiteChange
    done: bool
    error: str | None = None
    started: bool = True


@dataclass(frozen=True, slots=True)
class ApplyResult:
    results: tuple[ListResult, ...]
    stopped: str | None = None  # MAILMAN_AWAY or INTERRUPTED
    site: tuple[SiteResult, ...] = ()  # one per site change of the plan, in order

    @property
    def ok(self) -> bool:
        return all(r.ok for r in self.results) and all(s.done for s in self.site)

    @property
    def failed(self) -> tuple[ListResult, ...]:
        return tuple(r for r in self.results if not r.ok)

    @property
    def succeeded(self) -> tuple[ListResult, ...]:
        return tuple(r for r in self.results if r.ok)

    @property
    def not_started(self) -> tuple[ListResult, ...]:
        return tuple(r for r in self.results if not r.started)


class PublishedTexts:
    """The template texts of a plan (URL -> text), each URL checked once a run before
    any list points at it: Mailman would send an empty text for a URL that answers 404,
    its own for a 500, and the wrong one for a text a server decodes wrongly."""

    def __init__(self, texts: Mapping[str, str]) -> None:
        self._texts = texts
        self._verdicts: dict[str, str | None] = {}  # URL -> why it is not served, or None
        self._lock = threading.Lock()

    def check(self, urls: Iterable[str]) -> None:
        """Fetch the URLs not checked yet, a few at a time."""
        with self._lock:
            todo = {url for url in urls if url not in self._verdicts}
        known = {url: self._texts[url] for url in todo if url in self._texts}
        verdicts: dict[str, str | None] = dict.fromkeys(known)
        verdicts.update(check_urls(known))
        verdicts.update(
            (url, f"no text of this site is published at {url}") for url in todo - known.keys()
        )
        with self._lock:
            for url, why in verdicts.items():
                self._verdicts.setdefault(url, why)

    def why_not_served(self, url: str) -> str | None:
        self.check([url])
        with self._lock:
            return self._verdicts[url]


def _template_urls(changes: Iterable[Change]) -> set[str]:
    return {c.desired for c in changes if isinstance(c, SetTemplate) and c.desired is not None}


def _not_served(change: SetTemplate, why: str) -> str:
    return (
        f"{change.name} not set: {why}; publish the texts of"
        " 'listsync render --templates-out' at the site's templates_url first"
    )


def apply_list(
    backend: MailmanBackend,
    list_plan: ListPlan,
    stop: Stop | None = None,
    texts: PublishedTexts | None = None,
    held: str | None = None,
) -> ListResult:
    """Apply one list's changes in order; stop at its first failed write.

    Its template URLs are checked first: a template whose text is not served
    is skipped (left as it is) and the other changes are applied. `stop` is
    set when Mailman is away, so that the lists not yet started are left for
    the next run instead of each waiting out retries. A roster change that needs
    --force (`held`: why) is left out, as is one the plan refused (its source not
    trusted whole); either way the list's other changes are made and it counts as
    failed, saying why.
    """
    creating = bool(list_plan.changes) and isinstance(list_plan.changes[0], CreateList)
    if stop is not None and stop.reason is not None:
        return ListResult(
            list_plan.name, 0, f"not started: {stop.reason}", started=False, creating=creating
        )
    published = texts or PublishedTexts({})
    published.check(_template_urls(list_plan.changes))
    skipped: list[tuple[Change, str]] = []
    refused = list(list_plan.roster_notes) if list_plan.roster_refused else []
    applied = 0
    for change in list_plan.changes:
        if held is not None and isinstance(change, ROSTER_CHANGES):
            skipped.append((change, held))
            continue
        if isinstance(change, SetTemplate) and change.desired is not None:
            why = published.why_not_served(change.desired)
            if why is not None:
                skipped.append((change, _not_served(change, why)))
                continue
        try:
            change.write(backend, list_plan.fqdn)
        except ListsyncError as exc:
            if stop is not None and is_outage(exc):
                stop.set(MAILMAN_AWAY)
            error = "; ".join(dict.fromkeys([str(exc), *(why for _, why in skipped), *refused]))
            left = tuple(c for c, _ in skipped)
            return ListResult(
                list_plan.name, applied, error, change, creating=creating, skipped=left
            )
        applied += 1
    if skipped or refused:
        error = "; ".join(dict.fromkeys([*(why for _, why in skipped), *refused]))
        left = tuple(c for c, _ in skipped)
        first = left[0] if left else None
        return ListResult(list_plan.name, applied, error, first, creating=creating, skipped=left)
    return ListResult(list_plan.name, applied, creating=creating)


def apply_plan(
    backend: MailmanBackend,
    plan: Plan,
    on_done: Callable[[ListResult], None] | None = None,
    on_interrupt: Callable[[], None] | None = None,
    domain_base_url: str | None = None,
    held: Mapping[str, str] | None = None,
) -> ApplyResult:
    """Apply every list's changes; returns one result per list that had changes.

    `on_interrupt` is called once Ctrl-C has been taken, before the lists under way finish.
    A domain the plan creates gets `domain_base_url` (where Mailman takes one).
    """
    if plan.create_domain:
        try:
            backend.create_domain(plan.domain, domain_base_url)
        except MailmanAway:
            raise
        except ListsyncError as exc:
            raise ListsyncError(f"cannot create domain {plan.domain}: {exc}") from None
    todo = [lp for lp in plan.lists if lp.changes or lp.roster_refused]
    holding = held or {}
    stop = Stop()
    texts = PublishedTexts(plan.texts)
    texts.check(_template_urls(c for lp in todo for c in lp.changes))

    def run(list_plan: ListPlan) -> ListResult:
        result = apply_list(backend, list_plan, stop, texts, holding.get(list_plan.name))
        if on_done is not None:
            on_done(result)
        return result

    with ThreadPoolExecutor(max_workers=backend.workers) as pool:
        futures = [pool.submit(run, list_plan) for list_plan in todo]
        try:
            results = tuple(future.result() for future in futures)
        except KeyboardInterrupt:
            # No further list starts; the ones under way finish the change they are at
            # and the rest of theirs, so that none is left between its safe steps.
            stop.set(INTERRUPTED)
            if on_interrupt is not None:
                on_interrupt()
            results = tuple(future.result() for future in futures)
    site = apply_site_changes(backend, plan, results, stop)
    return ApplyResult(results, stop.reason, site)


LISTS_UNFINISHED = "not run: not every list's changes were applied; the next run does it"


def apply_site_changes(
    backend: MailmanBackend, plan: Plan, results: Iterable[ListResult], stop: Stop
) -> tuple[SiteResult, ...]:
    """The plan's site changes in their order, once every list succeeded (else none);
    the first failure stops the rest."""
    todo = sorted(plan.site_changes, key=lambda change: change.order)
    if stop.reason is not None:
        return tuple(SiteResult(c, False, f"not run: {stop.reason}", False) for c in todo)
    if not all(r.ok for r in results):
        return tuple(SiteResult(c, False, LISTS_UNFINISHED, False) for c in todo)
    done: list[SiteResult] = []
    for index, change in enumerate(todo):
        try:
            change.write(backend)
        except ListsyncError as exc:
            if is_outage(exc):
                stop.set(MAILMAN_AWAY)
            done.append(SiteResult(change, False, str(exc)))
            why = "not run: an earlier site change failed; the next run does it"
            done += [SiteResult(c, False, why, False) for c in todo[index + 1 :]]
            break
        done.append(SiteResult(change, True))
    return tuple(done)


def server_identity(url: str) -> str:
    """One name for one Mailman REST API, however its URL is spelled.

    Scheme, the host resolved to an address (every loopback address is one),
    the port (the scheme's default when none is given) and the API path;
    never the user:password part. A name that does not resolve stands for
    itself, lower case.
    """
    parts = urlsplit(url)
    scheme = parts.scheme.lower()
    host = (parts.hostname or "").lower()
    port = parts.port or (443 if scheme == "https" else 80)
    try:
        infos = socket.getaddrinfo(host, port, proto=socket.IPPROTO_TCP)
        addresses = sorted({ipaddress.ip_address(info[4][0]) for info in infos}, key=str)
    except (OSError, ValueError):
        addresses = []
    if addresses and all(address.is_loopback for address in addresses):
        host = "loopback"
    elif addresses:
        host = str(addresses[0])
    path = "/" + "/".join(segment for segment in parts.path.split("/") if segment)
    return f"{scheme}://{host}:{port}{path}"


def lock_path(url: str) -> Path:
    """The host-wide lock of applies to one Mailman (LISTSYNC_LOCK_FILE overrides)."""
    override = os.environ.get("LISTSYNC_LOCK_FILE")
    if override:
        return Path(override)
    digest = hashlib.sha256(server_identity(url).encode()).hexdigest()[:16]
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
