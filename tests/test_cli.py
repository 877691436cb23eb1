"""The command line's conventions: help in workflow order with examples, colour only where
it helps (a terminal, no NO_COLOR, no --no-color), shell completion of list names, and
starting without loading what the command does not use.

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

import listsync
from helpers import REPO, Run, write_site
from listsync import catalog, cli, lifecycle, mailman, render
from listsync.cli import WORKFLOW
from listsync.snapshot import FORMAT_VERSION

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
        "format_version": FORMAT_VERSION,
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


# -- starting quickly: a pre-commit hook runs validate on every commit --------------------

NOT_FOR_STARTING = ("pydantic", "ruamel", "email_validator")
NOT_FOR_VALIDATING = (
    "requests",
    "mailmanclient",
    "tenacity",
    "git",
    "rich",
    "deepdiff",
    "jinja2",
    "filelock",
)


def test_the_options_offer_what_the_stages_take() -> None:
    assert cli.PLAN_FORMATS == render.FORMATS
    assert cli.REPORT_FORMATS == lifecycle.FORMATS
    assert cli.REPORT_SECTIONS == lifecycle.SECTIONS
    assert cli.CATALOG_FORMATS == catalog.FORMATS
    assert cli.DEFAULT_TIMEOUT == mailman.DEFAULT_TIMEOUT
    assert cli.DEFAULT_RETRIES == mailman.DEFAULT_ATTEMPTS - 1


def imported_by(*args: str) -> set[str]:
    """The modules a fresh `listsync ARGS...` has imported when it is done."""
    code = (
        "import json, sys\n"
        "from listsync.cli import main\n"
        "main(sys.argv[1:])\n"
        "print(json.dumps(sorted(sys.modules)), file=sys.stderr)\n"
    )
    src = Path(listsync.__file__).resolve().parents[1]
    done = subprocess.run(
        [sys.executable, "-c", code, *args],
        capture_output=True,
        text=True,
        cwd=REPO,
        env={**os.environ, "PYTHONPATH": str(src)},
        check=True,
        timeout=60,
    )
    modules: list[str] = json.loads(done.stderr.splitlines()[-1])
    return set(modules)


def loaded(modules: set[str], names: tuple[str, ...]) -> list[str]:
    return [name for name in names if any(m == name or m.startswith(f"{name}.") for m in modules)]


@pytest.mark.parametrize("args", [("--version",), ("--help",)])
def test_starting_loads_no_command_s_libraries(args: tuple[str, ...]) -> None:
    assert loaded(imported_by(*args), NOT_FOR_STARTING + NOT_FOR_VALIDATING) == []


@pytest.mark.parametrize("fmt", ["text", "json"])
def test_validate_loads_only_what_validating_needs(fmt: str) -> None:
    modules = imported_by("--root", str(REPO), "validate", "--format", fmt)
    assert "pydantic" in modules
    assert loaded(modules, NOT_FOR_VALIDATING) == []
