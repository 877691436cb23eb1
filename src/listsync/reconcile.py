"""Reconcile: from files and a live server to an explained `Plan`.

Owns reading both sides (site -> policy -> desired states; Mailman or a
snapshot -> existing states, what the server is and supports) and
explaining the diff of them: git says which lists to plan and who asked
for each change, which files were deleted, and what drifted outside a
change under review. `run` calls it; commands never do.
"""

from __future__ import annotations

import contextlib
import dataclasses
import os
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Protocol

from listsync import mailman_templates, publishing
from listsync.errors import InvalidSiteError, ListsyncError
from listsync.gitinfo import SiteRepo, is_template_path, list_name
from listsync.load import (
    LIST_SUFFIXES,
    LISTS_DIR,
    SITE_FILE,
    TEMPLATES_URL_ENV,
    list_file_paths,
    roster_files,
    spec_of_text,
)
from listsync.mailman import (
    TESTED_VERSIONS,
    LiveSite,
    ServerInfo,
)
from listsync.mailman_settings import release_text
from listsync.models import effective
from listsync.plan import Action, CommitInfo, ListPlan, Plan, diff_list, diff_site
from listsync.policy import (
    ListState,
    broken_invariants,
    desired_state,
    desired_states,
    is_disabled,
    sets_language,
    unsupported_by_server,
)
from listsync.roster_read import read_rosters
from listsync.site import Site


def details_to_read(desired: Mapping[str, ListState]) -> dict[str, frozenset[str]]:
    """Per list, what beyond settings and rosters a plan reads (`ListState.details_to_read`:
    what its desired state covers, and the bans of a list to disable)."""
    wanted = {name: state.details_to_read() for name, state in desired.items()}
    return {name: details for name, details in wanted.items() if details}


class LiveReader(Protocol):
    """Where live states come from: Mailman (`MailmanBackend`) or a `snapshot.Snapshot`."""

    def server(self) -> ServerInfo: ...

    def languages(self) -> frozenset[str]: ...

    def domains_with_lists(self) -> list[str]: ...

    def read_site(
        self,
        domain: str,
        names: Iterable[str],
        *,
        everything: bool,
        bans_for: Iterable[str] = (),
        details: Mapping[str, frozenset[str]] | None = None,
        member_counts: bool = False,
    ) -> LiveSite: ...


@dataclass(frozen=True, slots=True)
class Reading:
    """Both sides of a plan: the desired states and what Mailman has for them."""

    desired: dict[str, ListState]
    live: LiveSite
    everything: bool
    server: ServerInfo


def read_states(
    site: Site,
    backend: LiveReader,
    names: Iterable[str] | None = None,
    *,
    live_members: bool = True,
    member_counts: bool = False,
) -> Reading:
    """Desired states of the site's lists (or the named ones) and their live states.

    Asks the server what it is first: a file that needs more than its Mailman
    release has fails here, before anything else is read or written. The
    declared rosters are read too (`roster_read`); without `live_members` (a
    snapshot, which holds none) no LDAP server is asked. Every list's member count is
    read only with `member_counts` (the lifecycle report's).
    """
    selected = None if names is None else list(names)
    rosters = read_rosters(site, selected, read_ldap=live_members)
    desired = desired_states(site, selected, rosters)
    broken = broken_invariants(desired, site.config.disabled_owner)
    if broken:
        raise ListsyncError("refusing to plan: " + "; ".join(broken))
    server = backend.server()
    languages = backend.languages() if sets_language(site) else None
    unsupported = unsupported_by_server(site, server.version, languages)
    if unsupported:
        raise InvalidSiteError(unsupported, against=server.text)
    publishing.check_base_url(site, server, backend)
    live = backend.read_site(
        site.config.domain,
        desired,
        everything=names is None,
        details=details_to_read(desired),
        member_counts=member_counts,
    )
    return Reading(desired, live, everything=names is None, server=server)


def server_notes(server: ServerInfo) -> tuple[str, ...]:
    if server.tested:
        return ()
    low, high = (release_text(v) for v in TESTED_VERSIONS)
    return (f"{server.text} is not a release listsync is tested with ({low} to {high})",)


def template_texts(
    site: Site, plan: Plan, history: Callable[[], Iterable[tuple[str, bytes]]] | None = None
) -> dict[str, str]:
    """URL -> text for every template URL the plan's changes name: the site's texts,
    earlier versions of them (`history`: what git has), else what the URL serves now
    (fetched once, for showing the diff only; one that fails is shown by its URL)."""
    base = site.config.templates_url
    known = dict(mailman_templates.known_texts(site.templates.values(), base))
    wanted = plan.template_urls()
    missing = wanted - known.keys()
    if missing and base is not None and history is not None:
        for old in mailman_templates.texts_of(history()):
            known.setdefault(old.url(base), old.text)
        missing -= known.keys()
    for url in sorted(missing):
        if url.startswith(("http://", "https://")):
            with contextlib.suppress(mailman_templates.NotServedError):
                known[url] = mailman_templates.fetch(url)
    return {url: known[url] for url in sorted(wanted) if url in known}


# -- git: scope and attribution ---------------------------------------------------


@dataclass(frozen=True, slots=True)
class Scope:
    """Which lists to plan (None: all of them), how to say so, and what to note."""

    names: tuple[str, ...] | None
    description: str
    removed: tuple[str, ...] = ()  # lists whose file the change deleted


def changed_scope(
    repo: SiteRepo,
    root: Path,
    rev: str,
    uncommitted: Iterable[str] = (),
    where: str = LISTS_DIR,
) -> Scope:
    """The lists whose files changed since the merge base of `rev` and HEAD.

    Every list when `listsync.yaml` or a template text changed (its
    defaults reach every list; a text may be any list's), when the
    pipeline file that pins the listsync release changed (a new release may
    plan any list differently), and when `LISTSYNC_TEMPLATES_URL` moves
    every template URL (git cannot tell whether it changed). Uncommitted files
    count too: they are planned as they are on disk, and the caller reports
    them. A list whose file is gone is left
    alone, and the plan's notes say so (`explained_plan`).
    """
    changes = repo.changes_since(rev)
    since = f"since {rev}, merge base {changes.merge_base[:7]}"
    paths = {*changes.changed, *changes.deleted, *uncommitted}
    names = {name for name in (list_name(path, where) for path in paths) if name is not None}
    rosters = roster_files(root, where)
    changed_rosters = repo.changed_among(changes.merge_base, rosters.values())
    names |= {name for name, path in rosters.items() if path in changed_rosters}
    present = {
        name
        for name in names
        if any((root / where / f"{name}{suffix}").is_file() for suffix in LIST_SUFFIXES)
    }
    removed = tuple(sorted(names - present))
    if SITE_FILE in paths:
        return Scope(None, f"all lists: {SITE_FILE} changed {since}", removed)
    if changes.pipeline:
        return Scope(
            None,
            f"all lists: {', '.join(changes.pipeline)} changed {since} (it chooses the"
            " listsync that plans and applies)",
            removed,
        )
    if os.environ.get(TEMPLATES_URL_ENV):
        return Scope(None, f"all lists: {TEMPLATES_URL_ENV} moves every template URL", removed)
    texts = sorted(path for path in paths if is_template_path(path))
    if texts:
        return Scope(None, f"all lists: {', '.join(texts)} changed {since}", removed)
    if not present:
        return Scope((), f"no list changed {since}", removed)
    count = f"{len(present)} list" + ("" if len(present) == 1 else "s")
    return Scope(tuple(sorted(present)), f"{count} changed {since}", removed)


def with_drift_beyond(plan: Plan, scope: Scope) -> Plan:
    """A plan of every list, cut to the lists `scope` names plus those outside it whose
    live state differs from their files, marked as drift.

    What a merge request's plan must show: the apply after the merge plans
    every list, so it repairs that drift too.
    """
    if scope.names is None:
        return plan
    inside = set(scope.names)
    kept: list[ListPlan] = []
    for lp in plan.lists:
        if lp.name in inside:
            kept.append(lp)
        elif lp.changes and lp.action is not Action.UNMANAGED:
            kept.append(dataclasses.replace(lp, drift=True, commit=None, uncommitted=False))
    drifted = [lp.name for lp in kept if lp.drift]
    notes = plan.notes
    if drifted:
        notes += (
            f"{len(drifted)} list(s) this change does not touch differ in Mailman from their"
            " files (drift, shown below as such): the apply after the merge repairs them too:"
            f" {', '.join(drifted)}",
        )
    return dataclasses.replace(plan, lists=tuple(kept), notes=notes)


def removal_warnings(
    repo: SiteRepo, reader: LiveReader, site: Site, names: Iterable[str]
) -> dict[str, str]:
    """For each of `names` whose list file git deleted or renamed away while the list is
    still live and enabled in Mailman: what happened, and how to retire the list.

    One `git log` walk, and a read of those lists alone.
    """
    removals = repo.removed_list_files(site.lists_dir)
    declared = {path.stem for path in list_file_paths(site.root, site.lists_dir)}
    candidates = sorted({n for n in names if n in removals and n not in declared})
    if not candidates:
        return {}
    live = reader.read_site(
        site.config.domain, candidates, everything=False, bans_for=candidates
    ).lists
    warnings: dict[str, str] = {}
    for name in candidates:
        state = live.get(name)
        if state is None or is_disabled(state):
            continue
        removal = removals[name]
        commit = removal.commit
        when = f"in {commit.short} ({commit.author}: {commit.subject})"
        file = f"{site.lists_dir}/{name}.yaml"
        retire = f"to retire it, add {file} back with 'disabled: true'"
        if removal.renamed_to is not None:
            new = list_name(removal.renamed_to) or removal.renamed_to
            warnings[name] = (
                f"{file} was renamed to {removal.renamed_to} {when}: Mailman cannot"
                f" rename a list, so {new} is a list of its own and {name} stays live and"
                f" enabled in Mailman, no longer managed; {retire}"
            )
        else:
            warnings[name] = (
                f"{file} was deleted {when}, but {name} is still live and enabled"
                f" in Mailman, no longer managed (listsync never deletes a list); {retire}"
            )
    return warnings


def explained_plan(
    site: Site,
    reading: Reading,
    scope: Scope | None,
    repo: SiteRepo | None,
    uncommitted: Iterable[str] = (),
    warnings: Mapping[str, str] | None = None,
) -> Plan:
    """The plan of `reading`, explained: its scope, the server's notes, the texts of the
    templates it changes (`template_texts`, with the earlier versions git has), what git
    says (notes on uncommitted and deleted files, `removal_warnings`), and who asked for
    each change."""
    warnings = warnings or {}
    if scope is not None:
        described = scope.description
    elif reading.everything:
        described = "all lists"
    else:
        described = f"{len(reading.desired)} named list(s)"
    the_plan = diff_site(
        site.config.domain,
        reading.desired,
        reading.live.lists,
        domain_exists=reading.live.domain_exists,
        unmanaged=reading.live.unmanaged,
        scope=described,
        managed=len(site.lists)
        if reading.everything
        else len(list_file_paths(site.root, site.lists_dir)),
    )
    history = repo.template_versions if repo is not None else None
    texts = template_texts(site, the_plan, history)
    notes = [*server_notes(reading.server)]
    notes += [
        f"{site.lists_dir}/{name}.yaml was deleted: listsync never deletes a list; {name} is"
        " left alone"
        " in Mailman"
        for name in (scope.removed if scope else ())
        if name not in warnings
    ]
    pending = sorted(uncommitted)
    if pending:
        notes.insert(
            0,
            f"uncommitted changes in {', '.join(pending)}:"
            " planned as they are on disk, not as committed",
        )
    if repo is not None:
        the_plan = attribute(the_plan, site, repo, pending, reading)
    return dataclasses.replace(
        the_plan,
        notes=tuple(notes),
        warnings=tuple(warnings[name] for name in sorted(warnings)),
        texts=texts,
    )


def attribute(
    plan: Plan,
    site: Site,
    repo: SiteRepo,
    uncommitted: Iterable[str] = (),
    reading: Reading | None = None,
) -> Plan:
    """The plan with each changed list naming who asked for its changes.

    That is the last commit of its file (one git walk), or of its roster file when that
    is newer (one more `git log` for each such list). With `reading`, a list whose
    changes its file's last commit did not ask for (the file before that commit plans
    them too) is named by the newer commit of `listsync.yaml` or of a template text it
    uses, when there is one, and is otherwise a hand change in Mailman that the plan puts
    back (`reverts_hand_change`): never the requester of an unrelated change.
    """
    paths = {lp.name: site.lists[lp.name].path for lp in plan.lists if lp.changes}
    commits = repo.last_commits(paths.values())
    by_roster: set[str] = set()  # lists named by their roster file's commit
    for name, path in paths.items():
        roster = site.lists[name].spec.members_from
        if isinstance(roster, str):
            relative = os.path.normpath(roster)
            newest = repo.last_commit([path, relative])
            if newest is not None and newest != commits.get(path):
                commits[path] = newest
                by_roster.add(name)
    pending = set(uncommitted)
    urls = site.template_urls() if reading is not None else {}
    lists: list[ListPlan] = []
    for lp in plan.lists:
        if lp.name not in paths:
            lists.append(lp)
            continue
        path = paths[lp.name]
        commit = commits.get(path)
        if path in pending or commit is None or reading is None or lp.action is Action.CREATE:
            lists.append(dataclasses.replace(lp, commit=commit, uncommitted=path in pending))
            continue
        if lp.name in by_roster or _asked_for_by(lp, commit, site, repo, reading, urls):
            lists.append(dataclasses.replace(lp, commit=commit))
            continue
        used = [text for text in site.effective(lp.name).templates.values() if text]
        newer = repo.last_commit([path, SITE_FILE, *used])
        if newer is not None and newer.hash != commit.hash:
            lists.append(dataclasses.replace(lp, commit=newer))
        else:
            lists.append(dataclasses.replace(lp, commit=None, reverts_hand_change=True))
    return dataclasses.replace(plan, lists=tuple(lists))


def _asked_for_by(
    lp: ListPlan,
    commit: CommitInfo,
    site: Site,
    repo: SiteRepo,
    reading: Reading,
    template_urls: Mapping[str, str],
) -> bool:
    """Whether `commit` asked for some of `lp`'s changes: the list's file as it was before
    the commit would not plan them all. A change the earlier version plans too is no one's
    request: Mailman was changed by hand. A file new in the commit, for a list that exists
    already, asked for none of it (the list was made, or adopted, from that version)."""
    before = repo.text_before(commit.hash, site.lists[lp.name].path)
    if before is None:
        return False
    spec = spec_of_text(before, site.config)
    desired = reading.desired.get(lp.name)
    if spec is None or desired is None:
        return True  # an earlier version that does not load: no reason to doubt the commit
    earlier = desired_state(
        effective(lp.name, spec, site.config),
        site.config.disabled_owner,
        template_urls,
        desired.roster,
    )
    planned_before = diff_list(earlier, reading.live.lists.get(lp.name)).changes
    return any(change not in planned_before for change in lp.changes)
