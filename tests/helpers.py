"""Shared test helpers: write a site to disk, run the CLI in-process, drive git."""

from __future__ import annotations

import os
import subprocess
from collections.abc import Callable
from dataclasses import dataclass
from email.utils import parseaddr
from pathlib import Path

from mailman_core import MailmanCore

REPO = Path(__file__).resolve().parent.parent

SITE_CONFIG = """\
domain: lists.example.org
disabled_owner: devnull@example.org
"""


@dataclass(frozen=True)
class Result:
    status: int
    out: str
    err: str


Run = Callable[..., Result]
StartCore = Callable[..., MailmanCore]
"""The `start_core` fixture: a new core of the session's shape, or with `version=`,
`workers=`, `database=` of its own."""


def write_site(root: Path, lists: dict[str, str], config: str = SITE_CONFIG) -> Path:
    """A site at `root`: listsync.yaml and lists/NAME.yaml for each entry."""
    (root / "lists").mkdir(parents=True, exist_ok=True)
    (root / "listsync.yaml").write_text(config)
    for name, content in lists.items():
        (root / "lists" / f"{name}.yaml").write_text(content)
    return root


LISTMASTER = "Listmaster <listmaster@example.org>"


def git(cwd: Path, *args: str, author: str = LISTMASTER) -> str:
    """Run git in `cwd` as `author`, untouched by the machine's git configuration."""
    name, email = parseaddr(author)
    env = {
        **os.environ,
        "GIT_CONFIG_GLOBAL": os.devnull,
        "GIT_CONFIG_NOSYSTEM": "1",
        "GIT_AUTHOR_NAME": name,
        "GIT_AUTHOR_EMAIL": email,
        "GIT_COMMITTER_NAME": name,
        "GIT_COMMITTER_EMAIL": email,
    }
    done = subprocess.run(
        ["git", *args], cwd=cwd, env=env, capture_output=True, text=True, check=False
    )
    if done.returncode != 0:
        raise AssertionError(f"git {' '.join(args)} failed: {done.stderr}")
    return done.stdout.strip()


def commit_all(cwd: Path, message: str, author: str = LISTMASTER) -> str:
    """Commit every change in the work tree; returns the new commit's full hash."""
    git(cwd, "add", "--all")
    git(cwd, "commit", "--quiet", "--message", message, author=author)
    return git(cwd, "rev-parse", "HEAD")


def init_repo(cwd: Path, message: str = "Initial site") -> str:
    """Make `cwd` a git repository on branch main with everything in it committed."""
    git(cwd, "init", "--quiet", "--initial-branch=main")
    return commit_all(cwd, message)


# A small site of three Tor lists, for the tests of what git knows and of saved plans.
TOR_LISTS = {
    "tor-dev": "description: Development discussion.\nowners: [teor@example.org]\n",
    "tor-internal": "description: Internal.\nvisibility: private\nowners: [arma@example.org]\n",
    "tor-announce": "description: Releases.\nposting: announce\nowners: [nickm@example.org]\n",
}


def committed_site(root: Path, domain: str) -> Path:
    """`TOR_LISTS` at `root` for `domain`, committed on branch main (not yet in Mailman)."""
    write_site(root, TOR_LISTS, config=f"domain: {domain}\ndisabled_owner: devnull@example.org\n")
    init_repo(root)
    return root


def plan_exit(run: Run, site: Path, *args: str) -> tuple[int, str, str]:
    """`listsync plan --detailed-exitcode ARGS` on `site`: status, stdout, stderr."""
    result = run("--root", str(site), "plan", "--detailed-exitcode", *args)
    return result.status, result.out, result.err


def short(site: Path, rev: str = "HEAD") -> str:
    return git(site, "rev-parse", rev)[:7]
