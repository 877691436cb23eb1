"""The pre-commit hook (`.pre-commit-hooks.yaml`) as a site repository uses it.

`pre-commit try-repo` clones this repository at its HEAD commit (commit a
change to the hook before running this), installs listsync from it into a
virtual environment of its own with its dependencies from the package
registry, as it would for a site, and runs the hook in a site repository
made here. Each try-repo builds that environment anew (about 15 s), so the
tests make two runs; which files trigger the hook is checked on the
manifest's pattern instead.
"""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path

import pytest
from ruamel.yaml import YAML

from helpers import REPO, git, init_repo, write_site

pytestmark = pytest.mark.packaging

GOOD = {
    "tor-dev": "description: Development discussion.\nowners: [teor@example.org]\n",
    "tor-announce": "description: Releases.\nposting: announce\nowners: [nickm@example.org]\n",
}


def _hook_manifest() -> list[dict[str, object]]:
    hooks: list[dict[str, object]] = YAML(typ="safe").load(REPO / ".pre-commit-hooks.yaml")
    return hooks


def _try_repo(site: Path, *extra: str) -> subprocess.CompletedProcess[str]:
    """`pre-commit try-repo` of this repository's HEAD, in `site`, as its user would run it."""
    env = {
        key: value
        for key, value in os.environ.items()
        if key not in {"PYTHONPATH", "VIRTUAL_ENV", "PRE_COMMIT_HOME"}
    }
    env |= {"GIT_CONFIG_GLOBAL": os.devnull, "GIT_CONFIG_NOSYSTEM": "1"}
    edited = git(REPO, "status", "--porcelain", "--", ".pre-commit-hooks.yaml")
    assert not edited, "try-repo runs the hook as committed: commit .pre-commit-hooks.yaml first"
    head = git(REPO, "rev-parse", "HEAD")
    command = [sys.executable, "-m", "pre_commit", "try-repo", str(REPO), "listsync-validate"]
    return subprocess.run(
        [*command, "--ref", head, "--color", "never", *extra],
        cwd=site,
        env=env,
        capture_output=True,
        text=True,
        check=False,
    )


@pytest.fixture
def site(tmp_path: Path) -> Path:
    """A site repository: listsync.yaml and lists/*.yaml, committed."""
    root = write_site(tmp_path / "site", GOOD)
    init_repo(root)
    return root


def test_the_manifest_declares_the_validate_hook() -> None:
    (hook,) = _hook_manifest()

    assert hook["id"] == "listsync-validate"
    assert (hook["entry"], hook["args"]) == ("listsync", ["validate"])
    assert hook["language"] == "python"
    assert hook["pass_filenames"] is False
    files = re.compile(str(hook["files"]))
    site_files = [
        "listsync.yaml",
        "lists/tor-dev.yaml",
        "lists/old.yml",
        "lists/lists.example.org/tor-dev.yaml",  # a site with several domains
        "templates/footer.txt",
    ]
    other_files = ["README.md", "lists/a/b/x.yaml", "docs/listsync.yaml", "lists.yaml", "x.txt"]
    assert [path for path in site_files if not files.search(path)] == []
    assert [path for path in other_files if files.search(path)] == []


def test_a_clean_site_passes_and_a_broken_file_fails_at_its_position(site: Path) -> None:
    passed = _try_repo(site, "--all-files")

    assert passed.returncode == 0, passed.stdout + passed.stderr
    assert re.search(r"^listsync validate\.+Passed$", passed.stdout, re.MULTILINE), passed.stdout

    (site / "lists" / "tor-dev.yaml").write_text(
        "description: Development discussion.\nposting: evryone\nowners: [teor@example.org]\n"
    )
    git(site, "add", "lists/tor-dev.yaml")  # staged, as when committing it
    failed = _try_repo(site)

    assert failed.returncode == 1, failed.stdout + failed.stderr
    assert re.search(r"^listsync validate\.+Failed$", failed.stdout, re.MULTILINE), failed.stdout
    assert "lists/tor-dev.yaml:2:10: posting: 'evryone' is not one of" in failed.stdout
    assert "1 valid list file(s), 1 error(s), 0 warning(s)" in failed.stdout
