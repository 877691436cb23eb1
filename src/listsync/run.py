"""A run of `plan`, `apply`, `apply FILE` or `person remove`: from what was asked to what
happened.

Owns everything between the command line's options and its printing:
loading the site (only the lists the run reads), reading Mailman or a
snapshot, the plan with its explanations and notes (scope, commits, drift,
removed files, the blast radius), the saved-plan commitment (a saved plan
is applied only when planning again gives exactly its changes),
`--require-tip`, the apply lock and the apply itself. `plan`, interactive
`apply` and `apply FILE` all plan through `plan_run`, so what a reviewer
reads is what gets applied. `person remove` is a run too: `plan_removal`
plans the file edits and the Mailman operations as one plan (saved and
replayed like any saved plan), `apply_removal` writes the files and applies
the operations. The command line asks, shows progress and prints; it never
assembles a plan.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

from listsync import gitinfo, offboard_files, offboard_ops, people, render, savedplan, snapshot
from listsync.apply import ApplyResult, ListResult, apply_lock, apply_plan
from listsync.errors import ListsyncError, Problem, hide_addresses
from listsync.gitinfo import SiteRepo
from listsync.load import Site, list_file_paths, lists_dir, load_and_lint, load_config
from listsync.mailman import MailmanBackend
from listsync.mailman_templates import domain_base_url
from listsync.plan import Action, Plan, roster_guard, unsafe_reason
from listsync.reconcile import (
    LiveReader,
    Reading,
    Scope,
    changed_scope,
    explained_plan,
    read_states,
    removal_warnings,
    with_drift_beyond,
)
from listsync.redaction import redact
from listsync.rosters import Repository

FORCE_ROUTE = (
    "review it and pass --force to apply it anyway"
    " (in the pipeline: the manual apply-force job, for maintainers)"
)


@dataclass(frozen=True, slots=True)
class Request:
    """What a run was asked for: which lists, and how addresses are shown."""

    root: Path
    names: tuple[str, ...] | None = None  # these lists alone (None: every list)
    changed_since: str | None = None  # --changed-since: the lists whose files changed
    redact: bool = False  # --redact (the site's redact_addresses masks them too)
    domain: str | None = None  # the domain planned, on a site with several


@dataclass(frozen=True, slots=True)
class PlannedRun:
    """A plan, with what a saved plan records and what apply checks."""

    site: Site
    plan: Plan  # with every address: what apply writes
    hidden: bool  # addresses are masked in every output
    reading: Reading
    selection: tuple[str, ...] | None  # the lists planned (None: every list)
    worktree: savedplan.WorkTree
    from_snapshot: bool  # planned against a snapshot: for review, never applied
    other_domains: tuple[str, ...] = ()  # the server's domains with lists, when creating one

    @property
    def shown(self) -> Plan:
        """The plan as every output shows it."""
        return render.redacted(self.plan) if self.hidden else self.plan

    @property
    def unsafe(self) -> str | None:
        """Why apply refuses this plan without --force, or None."""
        safety = self.site.config.safety
        new_domain = new_domain_reason(self.plan, self.other_domains, safety.min_new_domain_lists)
        if new_domain is not None:
            return new_domain
        return unsafe_reason(self.plan, safety.max_changed_fraction, safety.min_managed_lists)

    def saved(self) -> str:
        """The plan as a JSON file: a saved plan for `apply FILE`, except against a
        snapshot (a plan for review only)."""
        if self.from_snapshot:
            return render.to_json(self.shown)
        return savedplan.dumps(
            self.plan, self.reading, self.selection, self.worktree, redact=self.hidden
        )


Warn = Callable[[Problem], None]


def hiding(site: Site, redact: bool) -> bool:
    """Whether this run masks addresses (--redact or redact_addresses); if so, everywhere."""
    hidden = redact or site.config.redact_addresses
    hide_addresses(hidden)
    return hidden


def _worktree(repo: SiteRepo | None) -> savedplan.WorkTree:
    if repo is None:
        return savedplan.WorkTree(None, ())
    return savedplan.WorkTree(repo.revision(), tuple(repo.uncommitted()))


def new_domain_reason(the_plan: Plan, other_domains: Sequence[str], min_lists: int) -> str | None:
    """Why creating the site's domain needs --force, or None: the plan creates at least
    `min_lists` lists (`safety.min_new_domain_lists`) in a new domain while the server holds
    lists in other domains, so a typo in `domain:` would copy every list into a new one.
    A site on a server of its own, or a small one, is not held up."""
    creating = the_plan.counts()[Action.CREATE]
    if not the_plan.create_domain or not other_domains or creating < max(min_lists, 1):
        return None
    shown = ", ".join(other_domains[:3]) + (" and others" if len(other_domains) > 3 else "")
    return (
        f"this plan creates the domain {the_plan.domain} and {creating} lists in it, while the"
        f" server holds lists in {shown}: if listsync.yaml's domain: is a typo, fix it"
    )


def _with_blast_radius_note(the_plan: Plan, site: Site) -> Plan:
    """The plan, with a note when apply will refuse it, or a roster change of it, without
    --force."""
    safety = site.config.safety
    unsafe = unsafe_reason(the_plan, safety.max_changed_fraction, safety.min_managed_lists)
    notes = [] if unsafe is None else [f"{unsafe}: apply refuses it without --force; {FORCE_ROUTE}"]
    notes += [
        f"{why}: apply leaves that roster as it is without --force; {FORCE_ROUTE}"
        for why in roster_guards(the_plan, site).values()
    ]
    return dataclasses.replace(the_plan, notes=(*the_plan.notes, *notes)) if notes else the_plan


def roster_guards(the_plan: Plan, site: Site) -> dict[str, str]:
    """List name -> why its roster change needs --force (`plan.roster_guard`)."""
    safety = site.config.safety
    guards = {
        lp.name: roster_guard(lp, safety.max_unsubscribed_fraction, safety.min_roster_size)
        for lp in the_plan.lists
    }
    return {name: why for name, why in guards.items() if why is not None}


def plan_run(
    request: Request,
    connect: Callable[[], LiveReader],
    *,
    live_file: Path | None = None,
    warn: Warn,
) -> PlannedRun:
    """Plan what `request` asks, against Mailman (`connect`) or a snapshot (`live_file`).

    The plan `plan` prints and interactive `apply` prints and applies: its
    scope, notes (uncommitted files, deleted files, drift outside a change
    under review, the blast radius, a snapshot's age), warnings and who
    asked for each change.
    """
    repo = gitinfo.open_site_repo(request.root)
    worktree = _worktree(repo)
    scope: Scope | None = None
    selection = request.names
    if request.changed_since is not None:
        if request.names:
            raise ListsyncError("--changed-since and --list both choose the lists: use one")
        repo = repo or gitinfo.require_site_repo(request.root)
        where = lists_dir(load_config(request.root), request.domain)
        scope = changed_scope(
            repo, request.root, request.changed_since, worktree.uncommitted, where
        )
        selection = scope.names
    # A merge request's plan against a snapshot reads every list (it costs nothing): the
    # apply after the merge repairs drift beyond the changed lists, so the plan shows it.
    with_drift = live_file is not None and scope is not None and scope.names is not None
    read = None if with_drift else selection
    site = load_and_lint(request.root, read, warn, request.domain)
    hidden = hiding(site, request.redact)
    reader = snapshot.load(live_file, request.domain) if live_file is not None else connect()
    reading = read_states(site, reader, read, live_members=live_file is None)
    warnings: dict[str, str] = {}
    if repo is not None:
        without_file = {*reading.live.unmanaged, *(scope.removed if scope else ())}
        warnings = removal_warnings(repo, reader, site, without_file)
    the_plan = explained_plan(site, reading, scope, repo, worktree.uncommitted, warnings)
    if with_drift and scope is not None:
        the_plan = with_drift_beyond(the_plan, scope)
    the_plan = _with_blast_radius_note(the_plan, site)
    min_lists = site.config.safety.min_new_domain_lists
    other_domains: tuple[str, ...] = ()
    if the_plan.create_domain and the_plan.counts()[Action.CREATE] >= max(min_lists, 1):
        siblings = load_config(request.root).domains
        other_domains = tuple(d for d in reader.domains_with_lists() if d not in siblings)
    new_domain = new_domain_reason(the_plan, other_domains, min_lists)
    if new_domain is not None:
        note = f"{new_domain}; apply refuses it without --force; {FORCE_ROUTE}"
        the_plan = dataclasses.replace(the_plan, notes=(note, *the_plan.notes))
    if isinstance(reader, snapshot.Snapshot):
        the_plan = dataclasses.replace(the_plan, notes=(reader.age_note(), *the_plan.notes))
    return PlannedRun(
        site,
        the_plan,
        hidden,
        reading,
        selection,
        worktree,
        from_snapshot=live_file is not None,
        other_domains=other_domains,
    )


def replan_saved(
    root: Path,
    path: Path,
    backend: MailmanBackend,
    *,
    redact: bool,
    warn: Warn,
    domain: str | None = None,
) -> PlannedRun:
    """The plan to apply for the saved plan at `path` (its part for `domain`, on a site
    with several): planned again as `plan_run` plans, and refused unless it is exactly the
    one recorded (`savedplan`)."""
    saved = savedplan.load(path, domain)
    where = lists_dir(load_config(root), domain)
    repo = gitinfo.open_site_repo(root)
    worktree = _worktree(repo)
    savedplan.check_worktree(saved, worktree)
    savedplan.check_selection(saved, (p.stem for p in list_file_paths(root, where)))
    request = Request(root, saved.selection, redact=redact or saved.redacted, domain=domain)
    replanned = plan_run(request, lambda: backend, warn=warn)
    domain = replanned.site.config.domain
    if domain != saved.domain:
        raise savedplan.StalePlanError(
            f"{path} plans {saved.domain}; the site's domain is {domain}"
        )
    savedplan.check_replan(saved, replanned.reading, replanned.plan)
    return replanned


@contextmanager
def exclusive(backend: MailmanBackend, root: Path, require_tip: str | None) -> Iterator[None]:
    """Hold the apply lock of this Mailman; with `require_tip`, only while the work tree is
    clean and at that ref's commit (checked once the lock is held)."""
    with apply_lock(backend.url, root):
        if require_tip is not None:
            check_tip(root, require_tip)
        yield


def check_tip(root: Path, ref: str) -> None:
    """Refuse unless the work tree is clean and at `ref`'s commit."""
    repo = gitinfo.require_site_repo(root)
    tip, head = repo.resolve(ref), repo.revision()
    if head != tip:
        raise ListsyncError(
            f"refusing to apply: the work tree is at {(head or 'no commit')[:7]}, but {ref} is at"
            f" {tip[:7]}: an older revision is never applied over a newer one (the newer"
            " revision's pipeline applies it); nothing was changed"
        )
    dirty = repo.uncommitted()
    if dirty:
        raise ListsyncError(
            f"refusing to apply: uncommitted changes in {', '.join(dirty)} are not {ref};"
            " nothing was changed"
        )


def check_blast_radius(planned: PlannedRun, force: bool) -> None:
    """Refuse a plan that changes too large a share of the lists, unless forced."""
    unsafe = planned.unsafe
    if unsafe is not None and not force:
        raise ListsyncError(f"refusing to apply: {unsafe}; {FORCE_ROUTE}; nothing was changed")


def apply_run(
    planned: PlannedRun,
    backend: MailmanBackend,
    *,
    force: bool,
    on_done: Callable[[ListResult], None] | None = None,
    on_interrupt: Callable[[], None] | None = None,
) -> ApplyResult:
    """Apply a planned run to Mailman (never one planned against a snapshot)."""
    if planned.from_snapshot:
        raise ListsyncError("a plan against a snapshot is for review only: it is never applied")
    check_blast_radius(planned, force)
    held = {} if force else roster_guards(planned.plan, planned.site)
    return apply_plan(
        backend,
        planned.plan,
        on_done=on_done,
        on_interrupt=on_interrupt,
        domain_base_url=domain_base_url(planned.site.config.web_root),
        held={name: f"{why}: left as it is; {FORCE_ROUTE}" for name, why in held.items()},
    )


# -- removing a person: the file edits and the Mailman operations, as one plan ----------


@dataclass(frozen=True, slots=True)
class RemovalOptions:
    replace_with: str | None = None
    ban: bool = False
    ban_global: bool = False
    erase: bool = False
    only_private: bool = False


@dataclass(frozen=True, slots=True)
class Removal:
    """What `person remove` will do: edit the list files, and operate on Mailman for
    what no file manages (`offboard_ops`)."""

    site: Site
    address: str
    options: RemovalOptions
    edits: offboard_files.FileEdits
    plan: Plan  # the Mailman operations
    hidden: bool
    worktree: savedplan.WorkTree

    def saved(self) -> str:
        """The removal as a saved plan (`person remove --out FILE`), for `--plan FILE`."""
        edits = self.edits.redacted() if self.hidden else self.edits
        recorded = {
            "address": self.address,
            "options": dataclasses.asdict(self.options),
            "edits": edits.as_json(),
        }
        return savedplan.dumps_removal(self.plan, recorded, self.worktree, redact=self.hidden)

    @property
    def has_changes(self) -> bool:
        return bool(self.edits) or self.plan.has_changes

    def shown(self, text: str) -> str:
        """`text` as this run shows it: under redaction every address is masked but the
        subject's own."""
        return redact(text, keep=(self.address,)) if self.hidden else text


def plan_removal(
    root: Path,
    address: str,
    backend: MailmanBackend,
    options: RemovalOptions,
    *,
    redact_addresses: bool,
    warn: Warn,
    domain: str | None = None,
) -> Removal:
    """Plan removing `address` everywhere (in `domain`, on a site with several): refused
    before anything is read from Mailman when a list file would be left without an owner
    (naming every such list)."""
    site = load_and_lint(root, None, warn, domain)
    hidden = hiding(site, redact_addresses)
    subject = people.normalise(address)
    edits = offboard_files.plan_file_edits(
        site, subject, replace_with=options.replace_with, only_private=options.only_private
    )
    server = people.read_server(backend, list_bans=False)
    where = people.locate(site, backend, subject, server=server)
    wanted = offboard_ops.owners_to_read(
        where.memberships, erase=options.erase, only_private=options.only_private
    )
    the_plan = offboard_ops.person_plan(
        site.config.domain,
        subject,
        where.memberships,
        ban=options.ban,
        ban_global=options.ban_global,
        erase=options.erase,
        only_private=options.only_private,
        owners=offboard_ops.read_owners(backend, wanted),
        replace_with=options.replace_with,
    )
    public = {m.fqdn for m in where.memberships if m.public}
    for drawn in where.directories:
        if options.only_private and drawn.fqdn in public:
            continue
        note = (
            f"{subject} is a member of {drawn.fqdn}, whose members come from LDAP"
            f" ({drawn.url}): remove them from the directory group, or the next apply"
            " subscribes them again"
        )
        the_plan = dataclasses.replace(the_plan, notes=(*the_plan.notes, note))
    if options.erase and edits:
        note = (
            "the erasure takes the roles the list files still name away at once: merge the"
            " edited files before the next scheduled apply, or it puts them back (and"
            " creates the address again)"
        )
        the_plan = dataclasses.replace(the_plan, notes=(*the_plan.notes, note))
    worktree = _worktree(gitinfo.open_site_repo(root))
    return Removal(site, subject, options, edits, the_plan, hidden, worktree)


def replan_removal(
    root: Path,
    path: Path,
    backend: MailmanBackend,
    *,
    redact: bool,
    warn: Warn,
    domain: str | None = None,
) -> Removal:
    """The removal saved at `path`, planned again and refused unless it is exactly the one
    recorded: the same revision, the same Mailman operations and the same file edits."""
    saved = savedplan.load(path, domain)
    recorded = saved.removal
    if not isinstance(recorded, dict):
        raise savedplan.SavedPlanError(
            f"{path} is a plan, not a person removal: apply it with 'listsync apply {path}'"
        )
    savedplan.check_worktree(saved, _worktree(gitinfo.open_site_repo(root)))
    try:
        given = recorded["options"]
        options = RemovalOptions(
            replace_with=given["replace_with"] and str(given["replace_with"]),
            **{name: given[name] is True for name in BOOLEAN_OPTIONS},
        )
        address = str(recorded["address"])
    except (KeyError, TypeError) as exc:
        raise savedplan.SavedPlanError(f"{path} is not a valid saved removal: {exc!r}") from None
    hidden = redact or saved.redacted
    removal = plan_removal(
        root, address, backend, options, redact_addresses=hidden, warn=warn, domain=domain
    )
    edits = removal.edits.redacted() if saved.redacted else removal.edits
    savedplan.check_removal(saved, removal.plan, edits.as_json())
    return removal


BOOLEAN_OPTIONS = ("ban", "ban_global", "erase", "only_private")


@dataclass(frozen=True, slots=True)
class RemovalResult:
    written: tuple[str, ...]  # the list files and roster files edited
    commit: str | None  # the commit holding them, with `branch`
    applied: ApplyResult
    # Those written in a git submodule: never committed here, but in the submodule.
    in_submodules: tuple[str, ...] = ()


def apply_removal(
    removal: Removal,
    backend: MailmanBackend,
    *,
    branch: str | None,
    on_done: Callable[[ListResult], None] | None = None,
    on_interrupt: Callable[[], None] | None = None,
) -> RemovalResult:
    """Write the file edits (committed on a new `branch` when given), then apply the
    Mailman operations. The files go first: they change nothing on the server until
    merged, and a run that stops on the way is finished by running it again. A roster
    file in a git submodule is written, not committed: its change is the submodule's."""
    root = removal.site.root
    repository = Repository.holding(root)
    in_submodules = tuple(
        path for path in removal.edits.paths if repository.in_submodule((root / path).resolve())
    )
    repo = gitinfo.require_site_repo(root) if branch is not None else None
    if repo is not None:
        here = [path for path in removal.edits.paths if path not in in_submodules]
        dirty = repo.uncommitted_among(here)
        if dirty:
            raise ListsyncError(
                f"uncommitted changes in {', '.join(dirty)}: commit or stash them first;"
                " nothing was changed"
            )
    written = (
        offboard_files.write_file_edits(removal.site.root, removal.edits) if removal.edits else []
    )
    commit = None
    to_commit = [path for path in written if str(path) not in in_submodules]
    if repo is not None and branch is not None and to_commit:
        message = removal.edits.commit_message(
            redact_addresses=removal.site.config.redact_addresses
        )
        commit = repo.commit_on_new_branch(branch, to_commit, message)
    result = apply_plan(backend, removal.plan, on_done=on_done, on_interrupt=on_interrupt)
    return RemovalResult(tuple(str(path) for path in written), commit, result, in_submodules)
