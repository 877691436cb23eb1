"""Shared test helpers: write a site to disk, run the CLI in-process, point it at a core,
publish template texts, drive git.

What goes through real mail (an SMTP sink, posting over LMTP, reading what was
delivered) is in mail.py; the static server the texts are published to is
webserver.py.
"""

from __future__ import annotations

import hashlib
import os
import subprocess
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from email.utils import parseaddr
from pathlib import Path

import pytest
import requests
from webserver import TextServer

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


def site_config(domain: str, extra: str = "") -> str:
    """listsync.yaml for `domain` with the usual disabled owner, then `extra` lines."""
    return f"domain: {domain}\ndisabled_owner: devnull@example.org\n{extra}"


def make_site(root: Path, domain: str, lists: dict[str, str], extra_config: str = "") -> Path:
    """A site for `domain` at `root` (see `site_config`) with `lists`."""
    return write_site(root, lists, config=site_config(domain, extra_config))


# -- the CLI on a site -------------------------------------------------------------


def plan(run: Run, site: Path, *args: str) -> Result:
    """`listsync plan --detailed-exitcode ARGS`: 0 no changes, 2 changes, 1 an error."""
    return run("--root", str(site), "plan", "--detailed-exitcode", *args)


def apply(run: Run, site: Path, *args: str) -> Result:
    """`listsync apply --yes ARGS`."""
    return run("--root", str(site), "apply", "--yes", *args)


def output_lines(result: Result) -> list[str]:
    """The non-blank lines of `result`'s standard output, stripped."""
    return [line.strip() for line in result.out.splitlines() if line.strip()]


def connect(
    monkeypatch: pytest.MonkeyPatch,
    core: MailmanCore,
    url: str | None = None,
    *,
    lock_dir: Path | None = None,
) -> None:
    """Point listsync's environment at `core` (through `url`, e.g. a proxy's, if given).

    With `lock_dir`, the apply lock is a file there, so a test holding it
    blocks no other.
    """
    monkeypatch.setenv("MAILMAN_REST_URL", url or core.url)
    monkeypatch.setenv("MAILMAN_REST_USER", core.user)
    monkeypatch.setenv("MAILMAN_REST_PASSWORD", core.password)
    if lock_dir is not None:
        monkeypatch.setenv("LISTSYNC_LOCK_FILE", str(lock_dir / "apply.lock"))


# -- template texts ------------------------------------------------------------------

FOOTER_NAME = "list:member:regular:footer"


def template_site(
    root: Path,
    domain: str,
    url: str | None,
    lists: dict[str, str],
    texts: Mapping[str, str | bytes],
    config: str = "",
) -> Path:
    """A site for `domain` publishing at `url`, with `texts` in templates/."""
    extra = f"templates_url: {url}\n" if url is not None else ""
    make_site(root, domain, lists, extra + config)
    (root / "templates").mkdir(exist_ok=True)
    for name, text in texts.items():
        (root / "templates" / name).write_bytes(text.encode() if isinstance(text, str) else text)
    return root


def published_name(path: str, text: str) -> str:
    """The content-addressed name of a published text, computed here independently of listsync."""
    return f"{Path(path).stem}.{hashlib.sha256(text.encode()).hexdigest()[:16]}.txt"


def render_templates(run: Run, site: Path, out: Path, *args: str) -> Result:
    """`listsync render --templates-out OUT ARGS`, which must succeed."""
    result = run("--root", str(site), "render", "--templates-out", str(out), *args)
    assert result.status == 0, result.err
    return result


def publish_and_apply(run: Run, site: Path, server: TextServer) -> None:
    """Publish the site's texts where `server` serves them, then apply; both must succeed."""
    render_templates(run, site, server.directory)
    applied = apply(run, site)
    assert applied.status == 0, applied.out + applied.err


def template_uris(core: MailmanCore, fqdn: str) -> dict[str, str]:
    """The list's template URIs, as Mailman's REST API lists them."""
    lid = fqdn.replace("@", ".")
    response = requests.get(
        f"{core.url}/lists/{lid}/uris", auth=(core.user, core.password), timeout=30
    )
    response.raise_for_status()
    return {entry["name"]: entry["uri"] for entry in response.json().get("entries", [])}


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
