"""The command line's conventions: help in workflow order with examples, colour only where
it helps (a terminal, no NO_COLOR, no --no-color), shell completion of list names.

Plans here are made against a snapshot of an empty server, so no Mailman is needed.
"""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

from helpers import Run, write_site
from listsync.cli import WORKFLOW

LISTS = {
    "tor-dev": "description: Development.\nowners: [teor@example.org]\n",
    "tor-relays": "description: Relays.\nowners: [gus@example.org]\n",
    "metrics": "description: Metrics.\nowners: [karsten@example.org]\n",
}
ESCAPE = "\x1b["


@pytest.fixture
def site(tmp_path: Path) -> Path:
    root = write_site(tmp_path / "site", LISTS)
    snapshot = {
        "format": "listsync-snapshot",
        "format_version": 1,
        "taken_at": "2026-11-23T10:00:00Z",
        "server": "GNU Mailman 3.3.10 (Tom Sawyer)",
        "domain": "lists.example.org",
        "domain_exists": False,
        "languages": ["en"],
        "lists": {},
    }
    (root / "snapshot.json").write_text(json.dumps(snapshot))
    return root


def test_help_lists_the_commands_in_workflow_order_each_with_an_example(run: Run) -> None:
    result = run("--help")
    assert result.status == 0
    section = result.out.split("Commands:\n", 1)[1]
    listed = [line.split()[0] for line in section.splitlines() if line.startswith("  ")]
    assert listed == list(WORKFLOW)
    for command in WORKFLOW:
        helped = run(command, "--help")
        assert helped.status == 0, command
        assert f"listsync {command}" in helped.out.split("Options:")[0], command


def plan_text(run: Run, site: Path, *options: str) -> str:
    result = run("--root", str(site), *options, "plan", "--live", str(site / "snapshot.json"))
    assert result.status == 0, result.err
    return result.out


def test_plans_are_coloured_on_a_terminal_unless_asked_not_to(
    run: Run, site: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("NO_COLOR", raising=False)
    piped = plan_text(run, site)
    assert ESCAPE not in piped, "not a terminal: no colour"
    assert "+ tor-dev@lists.example.org (create)" in piped

    monkeypatch.setenv("FORCE_COLOR", "1")  # what rich takes for a terminal
    coloured = plan_text(run, site)
    green = "\x1b[32m"
    assert f"{green}+ tor-dev@lists.example.org (create)" in coloured
    assert f"{green}    + owner teor@example.org" in coloured
    assert "\x1b[36mnote: planned against a snapshot" in coloured
    assert re.sub(r"\x1b\[[0-9;]*m", "", coloured) == piped, "the same text, coloured"

    assert ESCAPE not in plan_text(run, site, "--no-color")
    monkeypatch.setenv("NO_COLOR", "1")
    assert ESCAPE not in plan_text(run, site)

    monkeypatch.delenv("NO_COLOR")
    markdown = run(
        "--root", str(site), "plan", "--live", str(site / "snapshot.json"), "--format", "markdown"
    )
    assert ESCAPE not in markdown.out, "only the text form is coloured"


def test_shell_completion_offers_the_sites_list_names(site: Path) -> None:
    listsync = Path(sys.executable).parent / "listsync"
    env = {
        **os.environ,
        "_LISTSYNC_COMPLETE": "bash_complete",
        "COMP_WORDS": f"listsync --root {site} plan --list tor-",
        "COMP_CWORD": "5",
    }
    done = subprocess.run(
        [str(listsync)], env=env, capture_output=True, text=True, check=False, timeout=60
    )
    assert done.returncode == 0, done.stderr
    assert done.stdout.splitlines() == ["plain,tor-dev", "plain,tor-relays"]
    source = subprocess.run(
        [str(listsync)],
        env={**os.environ, "_LISTSYNC_COMPLETE": "bash_source"},
        capture_output=True,
        text=True,
        check=False,
        timeout=60,
    )
    assert "_listsync_completion" in source.stdout
