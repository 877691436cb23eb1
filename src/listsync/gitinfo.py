"""What git knows: the revision, uncommitted files, changes since a merge base, last commits.

Owns every git call listsync makes (through gitpython). The site may sit
anywhere in a work tree; every path this module takes or returns is
relative to the site root (`listsync.yaml`, `lists/NAME.yaml`), so the
rest of listsync never sees the repository's layout. Each question costs
one git command whatever the number of files: one `status` for the work
tree, one `diff` for what changed since a merge base, one `log` walk for
who last touched which file. Only the site's own files count: a stray
`plan.json` beside them does not make the tree dirty.
"""

from __future__ import annotations

import os
import shutil
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path, PurePosixPath

from listsync.errors import ListsyncError
from listsync.load import LIST_SUFFIXES, LISTS_DIR, SITE_FILE
from listsync.mailman_templates import TEMPLATES_DIR
from listsync.plan import CommitInfo

# Without a git executable gitpython refuses to import; listsync then works
# as outside a work tree, and only the commands that need git say so.
os.environ.setdefault("GIT_PYTHON_REFRESH", "quiet")

import git

# Separates commits in `git log` output; never part of a name or subject.
_RECORD = "\x1e"
_FIELD = "\x1f"


class GitError(ListsyncError):
    """A git question that has no answer here (no repository, unknown revision, ...)."""


@dataclass(frozen=True, slots=True)
class Changes:
    """The site files changed between the merge base of `rev` and HEAD (committed changes)."""

    rev: str
    merge_base: str
    changed: tuple[str, ...]
    deleted: tuple[str, ...]
    pipeline: tuple[str, ...] = ()  # `PIPELINE_FILES` changed (repository paths)


PIPELINE_FILES = (".gitlab-ci.yml",)
"""Repository files that choose the listsync release the pipeline plans and applies with."""


@dataclass(frozen=True, slots=True)
class Removal:
    """The commit that last removed or renamed a list file, and the file it became."""

    commit: CommitInfo
    renamed_to: str | None = None


def list_name(path: str, where: str | None = None) -> str | None:
    """The list a site-relative path in `where` declares (`lists/tor-dev.yaml` -> `tor-dev`;
    `lists/lists.example.org/tor-dev.yaml` on a site with several domains), or None.
    Without `where`, a path in either place."""
    pure = PurePosixPath(path)
    if pure.suffix not in LIST_SUFFIXES or not pure.parts or pure.parts[0] != LISTS_DIR:
        return None
    folder = pure.parent.as_posix()
    if (where is None and len(pure.parts) in (2, 3)) or folder == where:
        return pure.stem
    return None


def is_template_path(path: str) -> bool:
    return path.startswith(TEMPLATES_DIR + "/")


class SiteRepo:
    """The git work tree holding a site."""

    def __init__(self, repo: git.Repo, root: Path) -> None:
        if repo.working_tree_dir is None:
            raise GitError(f"{root} is in a bare git repository")
        self.repo = repo
        top = Path(repo.working_tree_dir).resolve()
        prefix = root.resolve().relative_to(top).as_posix()
        self.prefix = "" if prefix == "." else prefix + "/"
        self.pathspecs = [
            self.prefix + SITE_FILE,
            self.prefix + LISTS_DIR,
            self.prefix + TEMPLATES_DIR,
        ]

    def _git(self, command: str, *args: str, **options: str) -> str:
        """Run one git command in the work tree; its failure is a `GitError`."""
        try:
            output: str = getattr(self.repo.git(**options), command)(*args)
        except git.GitCommandError as exc:
            stderr = str(exc.stderr).strip().removeprefix("stderr: ").strip("'").strip()
            where = self.repo.working_tree_dir
            name = command.replace("_", "-")
            raise GitError(f"git {name} failed in {where}: {stderr}") from None
        return output

    def _site_path(self, repo_path: str) -> str | None:
        """A repository path as a site-relative one; None outside the site's files."""
        if not repo_path.startswith(self.prefix):
            return None
        path = repo_path[len(self.prefix) :]
        if path == SITE_FILE or list_name(path) is not None or is_template_path(path):
            return path
        return None

    def _site_paths(self, repo_paths: Iterable[str]) -> list[str]:
        return sorted({p for p in map(self._site_path, repo_paths) if p is not None})

    def revision(self) -> str | None:
        """The full hash of HEAD; None before the first commit."""
        if not self.repo.head.is_valid():
            return None
        return self.repo.head.commit.hexsha

    def uncommitted(self) -> tuple[str, ...]:
        """Site files whose work tree differs from HEAD: modified, staged, new or deleted."""
        out = self._git(
            "status",
            "--porcelain=v1",
            "-z",
            "--no-renames",
            "--untracked-files=all",
            "--",
            *self.pathspecs,
        )
        # Each entry is "XY path"; -z leaves names unquoted.
        return tuple(self._site_paths(entry[3:] for entry in out.split("\0") if entry))

    def uncommitted_among(self, paths: Iterable[str | PurePosixPath]) -> tuple[str, ...]:
        """Those of the site-relative `paths` that differ from HEAD (work tree or index)."""
        wanted = [self.prefix + PurePosixPath(p).as_posix() for p in paths]
        if not wanted:
            return ()
        out = self._git("status", "--porcelain=v1", "-z", "--no-renames", "--", *wanted)
        found = {entry[3:] for entry in out.split("\0") if entry}
        return tuple(sorted(p[len(self.prefix) :] for p in found))

    def changed_among(self, base: str, paths: Iterable[Path]) -> set[Path]:
        """Those of `paths` (files anywhere in the work tree) that changed since `base`, in
        HEAD or the work tree; one in a submodule counts as changed when the submodule's
        commit did (the superproject knows no more of it)."""
        top = Path(str(self.repo.working_tree_dir)).resolve()
        resolved = {path: path.resolve() for path in paths}
        wanted = {
            path: full.relative_to(top).as_posix()
            for path, full in resolved.items()
            if full.is_relative_to(top)
        }
        if not wanted:
            return set()
        submodules = [str(sub.path) for sub in self.repo.submodules]

        def owner(relative: str) -> str:
            inside = (s for s in submodules if relative.startswith(s.rstrip("/") + "/"))
            return next(inside, relative)

        specs = sorted({owner(relative) for relative in wanted.values()})
        committed = self._git(
            "diff", "--name-only", "-z", "--no-renames", base, "HEAD", "--", *specs
        )
        status = self._git("status", "--porcelain=v1", "-z", "--no-renames", "--", *specs)
        changed = {p for p in committed.split("\0") if p}
        changed |= {entry[3:] for entry in status.split("\0") if entry}
        return {path for path, relative in wanted.items() if owner(relative) in changed}

    def commit_on_new_branch(
        self, branch: str, paths: Iterable[str | PurePosixPath], message: str
    ) -> str:
        """Commit the site-relative `paths` (as the work tree has them), and only them, on a
        new `branch` made from HEAD; returns the commit's hash.

        The work tree stays on `branch`, ready for `git push -o merge_request.create`:
        switching back would put the old files back on disk. Refuses, changing nothing,
        when `branch` exists or is no valid name, when HEAD has no commit, when none of
        `paths` changed, or when any of them has changes staged in the index (someone
        else's work in progress, which the commit would take along). Other changes in the
        work tree and the index stay as they were, uncommitted.
        """
        wanted = sorted({self.prefix + PurePosixPath(p).as_posix() for p in paths})
        if self.revision() is None:
            raise GitError("the repository has no commit yet: nothing to branch from")
        try:
            self._git("check_ref_format", "--branch", branch)
        except GitError:
            raise GitError(f"{branch!r} is not a valid branch name") from None
        if branch in {head.name for head in self.repo.heads}:
            raise GitError(f"branch {branch} exists already: choose another name")
        out = self._git("status", "--porcelain=v1", "-z", "--no-renames", "--", *wanted)
        entries = [entry for entry in out.split("\0") if entry]
        staged = sorted(entry[3:] for entry in entries if entry[0] not in " ?")
        if staged:
            raise GitError(
                f"changes of {', '.join(staged)} are staged in git's index: commit or"
                " unstage them first"
            )
        if not entries:
            raise GitError("none of the files to commit changed")
        original = self.repo.active_branch.name if not self.repo.head.is_detached else None
        previous = self.revision() or ""
        self._git("switch", "--create", branch)
        try:
            self._git("add", "--", *wanted)
            self._git("commit", "--quiet", "--message", message, "--", *wanted)
        except GitError:
            self._git("reset", "--quiet", "--", *wanted)
            back = [original] if original is not None else ["--detach", previous]
            self._git("switch", "--quiet", *back)
            self._git("branch", "--delete", "--force", branch)
            raise
        return self.repo.head.commit.hexsha

    def resolve(self, rev: str) -> str:
        try:
            return self.repo.rev_parse(f"{rev}^{{commit}}").hexsha
        except (git.BadName, git.BadObject, ValueError):
            raise GitError(
                f"unknown revision {rev!r} in {self.repo.working_tree_dir}"
                " (fetch it first, e.g. git fetch origin main)"
            ) from None

    def changes_since(self, rev: str) -> Changes:
        """What HEAD changed in the site's files since its merge base with `rev`."""
        target = self.resolve(rev)
        if self.revision() is None:
            raise GitError("the repository has no commit yet")
        try:
            base = self._git("merge_base", target, "HEAD").strip()
        except GitError:  # exit status 1: no merge base
            base = ""
        if not base:
            raise GitError(
                f"HEAD and {rev} have no common history"
                " (in CI, a shallow clone: fetch more history, e.g. GIT_DEPTH: 0)"
            )
        out = self._git(
            "diff",
            "--name-status",
            "-z",
            "--no-renames",
            base,
            "HEAD",
            "--",
            *self.pathspecs,
            *PIPELINE_FILES,
        )
        fields = [f for f in out.split("\0") if f]
        changed: list[str] = []
        deleted: list[str] = []
        pipeline: list[str] = []
        for status, path in zip(fields[::2], fields[1::2], strict=True):
            if path in PIPELINE_FILES:
                pipeline.append(path)
            else:
                (deleted if status.startswith("D") else changed).append(path)
        return Changes(
            rev,
            base,
            tuple(self._site_paths(changed)),
            tuple(self._site_paths(deleted)),
            tuple(pipeline),
        )

    def last_commits(self, paths: Iterable[str]) -> dict[str, CommitInfo]:
        """The commit that last touched each site-relative path, from one `git log` walk.

        Paths never committed are left out.
        """
        wanted = {self.prefix + p for p in paths}
        if not wanted or self.revision() is None:
            return {}
        out = self._git(
            "log",
            f"--format={_RECORD}%H{_FIELD}%an{_FIELD}%s",
            "--name-only",
            "HEAD",
            "--",
            *sorted(wanted),
            c="core.quotepath=off",
        )
        found: dict[str, CommitInfo] = {}
        for record in out.split(_RECORD)[1:]:
            header, _, names = record.partition("\n")
            sha, author, subject = header.split(_FIELD, 2)
            commit = CommitInfo(sha, author, subject)
            for name in names.splitlines():
                if name in wanted and name not in found:
                    found[name] = commit
            if len(found) == len(wanted):
                break
        return {path[len(self.prefix) :]: commit for path, commit in found.items()}

    def last_commit(self, paths: Iterable[str]) -> CommitInfo | None:
        """The last commit that touched any of the site-relative `paths` (None: none did)."""
        wanted = sorted({self.prefix + p for p in paths})
        if not wanted or self.revision() is None:
            return None
        out = self._git("log", "-1", f"--format=%H{_FIELD}%an{_FIELD}%s", "HEAD", "--", *wanted)
        if not out.strip():
            return None
        sha, author, subject = out.strip().split(_FIELD, 2)
        return CommitInfo(sha, author, subject)

    def text_before(self, commit: str, path: str) -> str | None:
        """The site-relative file `path` as it was before `commit` (in its first parent);
        None when it did not exist then, or is not text."""
        try:
            blob = self.repo.commit(commit).parents[0].tree / (self.prefix + path)
            data: bytes = blob.data_stream.read()
            return data.decode("utf-8")
        except (IndexError, KeyError, ValueError, UnicodeDecodeError):
            return None

    def removed_list_files(self, where: str = LISTS_DIR) -> dict[str, Removal]:
        """The last deletion or rename of each list file in HEAD's history, by list name
        (whether or not a file for the list came back since).

        One `git log` walk, newest first, with rename detection.
        """
        if self.revision() is None:
            return {}
        out = self._git(
            "log",
            f"--format={_RECORD}%H{_FIELD}%an{_FIELD}%s",
            "--diff-filter=DR",
            "--find-renames",
            "--name-status",
            "-z",
            "HEAD",
            "--",
            self.prefix + where,
        )
        found: dict[str, Removal] = {}
        for record in out.split(_RECORD)[1:]:
            header, _, rest = record.partition("\n")
            sha, author, subject = header.split(_FIELD, 2)
            commit = CommitInfo(sha, author, subject.rstrip("\0"))
            fields = [f for f in rest.split("\0") if f.strip()]
            while fields:
                status = fields.pop(0).strip()
                old = self._site_path(fields.pop(0))
                new = self._site_path(fields.pop(0)) if status.startswith("R") else None
                name = list_name(old, where) if old is not None else None
                if name is not None and name not in found:
                    found[name] = Removal(commit, new)
        return found

    def template_versions(self) -> list[tuple[str, bytes]]:
        """(site-relative path, content) of every version of every file in `templates/`
        that HEAD's history holds: one `git log` walk, then each blob read once."""
        if self.revision() is None:
            return []
        out = self._git(
            "log",
            "--format=",
            "--raw",
            "--no-abbrev",
            "--no-renames",
            "-z",
            "HEAD",
            "--",
            self.prefix + TEMPLATES_DIR,
        )
        blobs: dict[str, str] = {}
        fields = [field for field in out.split("\0") if field.strip()]
        for meta, path in zip(fields[::2], fields[1::2], strict=False):
            new_blob = meta.split()[3]
            site_path = self._site_path(path)
            if site_path is not None and set(new_blob) != {"0"}:
                blobs.setdefault(new_blob, site_path)
        return [
            (path, self.repo.odb.stream(bytes.fromhex(blob)).read())
            for blob, path in sorted(blobs.items(), key=lambda item: item[1])
        ]


def file_versions(path: Path) -> list[bytes]:
    """Every version of the file at `path` that HEAD's history holds, in the repository
    holding it (a submodule's own), newest first; [] when no repository holds it."""
    if shutil.which(git.Git.GIT_PYTHON_GIT_EXECUTABLE or "git") is None:
        return []
    try:
        repo = git.Repo(path.parent, search_parent_directories=True)
    except (git.InvalidGitRepositoryError, git.NoSuchPathError, git.GitCommandNotFound):
        return []
    if repo.bare or repo.working_tree_dir is None or not repo.head.is_valid():
        return []
    top = Path(repo.working_tree_dir).resolve()
    relative = path.resolve().relative_to(top).as_posix()
    try:
        out = repo.git.log(
            "--format=", "--raw", "--no-abbrev", "--no-renames", "-z", "HEAD", "--", relative
        )
    except git.GitCommandError:
        return []
    fields = [field for field in out.split("\0") if field.strip()]
    blobs = [meta.split()[3] for meta in fields[::2]]
    seen: dict[str, None] = dict.fromkeys(b for b in blobs if set(b) != {"0"})
    return [repo.odb.stream(bytes.fromhex(blob)).read() for blob in seen]


def open_site_repo(root: Path) -> SiteRepo | None:
    """The work tree holding the site at `root`; None when it is in none (or git is missing)."""
    if shutil.which(git.Git.GIT_PYTHON_GIT_EXECUTABLE or "git") is None:
        return None
    try:
        repo = git.Repo(root, search_parent_directories=True)
    except (git.InvalidGitRepositoryError, git.NoSuchPathError, git.GitCommandNotFound):
        return None
    if repo.bare:
        return None
    return SiteRepo(repo, root)


def require_site_repo(root: Path) -> SiteRepo:
    found = open_site_repo(root)
    if found is None:
        raise GitError(f"{root} is not in a git work tree (or git is not installed)")
    return found
