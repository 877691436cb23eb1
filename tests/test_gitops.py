"""What git knows, and saved plans: plan --changed-since, commit attribution, apply FILE.

Sites here are git repositories made by the test; plans and applies run
against the real Mailman core, through the recording proxy where a test
counts what listsync read or wrote.
"""

from __future__ import annotations

import json
from pathlib import Path

import git as gitpython
import pytest
from mailmanclient import Client

from helpers import (
    TOR_LISTS,
    Run,
    commit_all,
    committed_site,
    git,
    init_repo,
    plan_exit,
    short,
    write_site,
)
from listsync.gitinfo import open_site_repo
from proxy import Proxy

ALICE = "Alice Example <alice@example.org>"
BOB = "Bob <bob@example.org>"
LISTS = TOR_LISTS
RELAYS = "description: Relay operators.\nowners: [gus@example.org]\n"


@pytest.fixture
def site(tmp_path: Path, domain: str) -> Path:
    """A committed site on branch main (not yet in Mailman)."""
    return committed_site(tmp_path / "site", domain)


plan = plan_exit


def requested_lists(proxy: Proxy) -> set[str]:
    """The lists whose configuration listsync read through the proxy."""
    return {
        path.split("/lists/")[1].split(".", 1)[0]
        for _, path in proxy.recorder.requests
        if "/lists/" in path and path.endswith("/config")
    }


# -- plan --changed-since and attribution -----------------------------------------


def test_changed_since_plans_only_the_changed_lists_and_names_their_commits(
    run: Run, site: Path, domain: str, connected: Proxy
) -> None:
    assert run("--root", str(site), "apply", "--yes").status == 0
    git(site, "checkout", "--quiet", "-b", "requests")
    (site / "lists" / "tor-dev.yaml").write_text(LISTS["tor-dev"] + "archive: private\n")
    commit_all(site, "Ask for a private tor-dev archive", author=ALICE)
    (site / "lists" / "tor-relays.yaml").write_text(RELAYS)
    commit_all(site, "Ask for tor-relays", author=BOB)
    base = short(site, "main")
    connected.recorder.clear()

    status, out, _ = plan(run, site, "--changed-since", "main")
    assert status == 2
    lines = out.splitlines()
    assert lines[0] == (
        f"listsync plan for {domain} (2 lists changed since main, merge base {base})"
    )
    assert (
        f"~ tor-dev@{domain} (update)  \N{EM DASH} {short(site, 'HEAD~1')} Alice Example:"
        " Ask for a private tor-dev archive"
    ) in lines
    assert (
        f"+ tor-relays@{domain} (create)  \N{EM DASH} {short(site)} Bob: Ask for tor-relays"
        in lines
    )
    assert "Plan: 1 to create, 1 to update, 0 to disable, 0 to enable, 0 unchanged" in out
    assert requested_lists(connected) == {"tor-dev", "tor-relays"}

    status, out, _ = plan(run, site, "--changed-since", "main", "--format", "json")
    data = json.loads(out)
    assert data["scope"] == f"2 lists changed since main, merge base {base}"
    commits = {entry["name"]: entry["commit"] for entry in data["lists"]}
    assert commits["tor-relays"] == {
        "hash": git(site, "rev-parse", "HEAD"),
        "author": "Bob",
        "subject": "Ask for tor-relays",
    }
    assert commits["tor-dev"]["author"] == "Alice Example"

    status, out, _ = plan(run, site, "--changed-since", "main", "--format", "markdown")
    assert out.startswith(
        f"### listsync plan for `{domain}` (2 lists changed since main, merge base {base})\n"
    )
    assert f"Last commit `{short(site)}` by Bob: Ask for tor-relays" in out


def test_apply_shows_exactly_the_plan_that_plan_shows(
    run: Run, site: Path, domain: str, connected: Proxy
) -> None:
    """Interactive apply prints plan's plan: its notes, warnings and commit lines too."""
    assert run("--root", str(site), "apply", "--yes").status == 0
    (site / "lists" / "tor-dev.yaml").write_text(LISTS["tor-dev"] + "archive: private\n")
    commit_all(site, "Ask for a private tor-dev archive", author=ALICE)
    (site / "lists" / "tor-relays.yaml").write_text(RELAYS)

    status, planned, _ = plan(run, site)
    assert status == 2
    applied = run("--root", str(site), "apply", "--yes")

    assert applied.status == 0, applied.err
    assert applied.out.startswith(planned)
    assert f"{short(site)} Alice Example: Ask for a private tor-dev archive" in planned
    assert "note: uncommitted changes in lists/tor-relays.yaml" in planned
    assert "Applied 2 list(s), 0 failed." in applied.out[len(planned) :]


def test_a_changed_site_config_plans_every_list(
    run: Run, site: Path, domain: str, connected: Proxy
) -> None:
    assert run("--root", str(site), "apply", "--yes").status == 0
    git(site, "checkout", "--quiet", "-b", "defaults")
    config = site / "listsync.yaml"
    config.write_text(config.read_text() + "defaults: {posting: open}\n")
    commit_all(site, "Open posting everywhere")
    connected.recorder.clear()

    status, out, _ = plan(run, site, "--changed-since", "main")
    assert status == 2
    assert out.splitlines()[0] == (
        f"listsync plan for {domain} (all lists: listsync.yaml changed since main"
        f", merge base {short(site, 'main')})"
    )
    assert "Plan: 0 to create, 2 to update, 0 to disable, 0 to enable, 1 unchanged" in out
    assert requested_lists(connected) == set(LISTS)


def test_a_changed_pipeline_or_templates_url_override_plans_every_list(
    run: Run, site: Path, domain: str, connected: Proxy, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A new listsync release (pinned in .gitlab-ci.yml) may plan any list differently,
    and LISTSYNC_TEMPLATES_URL moves every template URL: git shows neither in lists/."""
    assert run("--root", str(site), "apply", "--yes").status == 0
    git(site, "checkout", "--quiet", "-b", "upgrade")
    (site / ".gitlab-ci.yml").write_text('variables: {LISTSYNC_PACKAGE: "listsync-mailman==9"}\n')
    commit_all(site, "Pin a newer listsync")
    connected.recorder.clear()
    status, out, _ = plan(run, site, "--changed-since", "main")
    assert status == 0
    assert out.splitlines()[0] == (
        f"listsync plan for {domain} (all lists: .gitlab-ci.yml changed since main, merge base"
        f" {short(site, 'main')} (it chooses the listsync that plans and applies))"
    )
    assert requested_lists(connected) == set(LISTS)

    git(site, "checkout", "--quiet", "main")
    git(site, "checkout", "--quiet", "-b", "docs")
    monkeypatch.setenv("LISTSYNC_TEMPLATES_URL", "https://staging.example.org/texts")
    connected.recorder.clear()
    status, out, _ = plan(run, site, "--changed-since", "main")
    assert "(all lists: LISTSYNC_TEMPLATES_URL moves every template URL)" in out.splitlines()[0]
    assert requested_lists(connected) == set(LISTS)


def test_a_list_file_that_is_a_symbolic_link_is_refused(
    run: Run, site: Path, connected: Proxy
) -> None:
    """Git tracks the link, not its target: an edit of the target would change the list
    without --changed-since seeing it, so validate refuses the link."""
    (site / "shared.yaml").write_text(RELAYS)
    (site / "lists" / "tor-relays.yaml").symlink_to(site / "shared.yaml")
    for command in (("validate",), ("plan",)):
        result = run("--root", str(site), *command)
        assert result.status == 1, command
        assert "lists/tor-relays.yaml:1:1: a list file may not be a symbolic link" in (
            result.out + result.err
        )
    assert connected.recorder.requests == []


def test_no_changed_list_plans_nothing_and_reads_no_list(
    run: Run, site: Path, domain: str, connected: Proxy
) -> None:
    assert run("--root", str(site), "apply", "--yes").status == 0
    git(site, "checkout", "--quiet", "-b", "docs")
    (site / "README.md").write_text("Our lists.\n")
    commit_all(site, "Say what this repository is")
    connected.recorder.clear()

    status, out, _ = plan(run, site, "--changed-since", "main")
    assert status == 0
    assert f"(no list changed since main, merge base {short(site, 'main')})" in out
    assert "Plan: 0 to create, 0 to update, 0 to disable, 0 to enable, 0 unchanged" in out
    assert requested_lists(connected) == set()


def test_a_dirty_work_tree_is_reported_and_planned_as_on_disk(
    run: Run, site: Path, domain: str, connected: Proxy
) -> None:
    assert run("--root", str(site), "apply", "--yes").status == 0
    (site / "lists" / "tor-dev.yaml").write_text(LISTS["tor-dev"] + "archive: none\n")
    (site / "lists" / "tor-relays.yaml").write_text(RELAYS)
    (site / "plan.md").write_text("not a site file\n")

    for args in ((), ("--changed-since", "HEAD")):
        status, out, _ = plan(run, site, *args)
        assert status == 2
        assert out.splitlines()[1] == (
            "note: uncommitted changes in lists/tor-dev.yaml, lists/tor-relays.yaml:"
            " planned as they are on disk, not as committed"
        )
        assert f"~ tor-dev@{domain} (update)  \N{EM DASH} uncommitted changes" in out
        assert '~ archive_policy: "public" -> "never"' in out
        assert f"+ tor-relays@{domain} (create)  \N{EM DASH} uncommitted changes" in out
    assert "(2 lists changed since HEAD" in out

    status, out, _ = plan(run, site, "--format", "json")
    entries = {entry["name"]: entry for entry in json.loads(out)["lists"]}
    assert entries["tor-dev"]["uncommitted"] is True
    assert entries["tor-announce"]["uncommitted"] is False


def test_a_removed_list_file_of_a_live_list_is_a_warning_and_a_rename_is_named(
    run: Run, site: Path, domain: str, connected: Proxy
) -> None:
    assert run("--root", str(site), "apply", "--yes").status == 0
    git(site, "checkout", "--quiet", "-b", "retire")
    git(site, "rm", "--quiet", "lists/tor-internal.yaml")
    git(site, "mv", "lists/tor-dev.yaml", "lists/tor-devel.yaml")
    forgot = commit_all(site, "Forget tor-internal, call tor-dev tor-devel", author=BOB)
    when = f"in {forgot[:7]} (Bob: Forget tor-internal, call tor-dev tor-devel)"
    connected.recorder.clear()

    warnings = [
        f"warning: lists/tor-dev.yaml was renamed to lists/tor-devel.yaml {when}: Mailman"
        " cannot rename a list, so tor-devel is a list of its own and tor-dev stays live and"
        " enabled in Mailman, no longer managed; to retire it, add lists/tor-dev.yaml back"
        " with 'disabled: true'",
        f"warning: lists/tor-internal.yaml was deleted {when}, but tor-internal is still live"
        " and enabled in Mailman, no longer managed (listsync never deletes a list); to retire"
        " it, add lists/tor-internal.yaml back with 'disabled: true'",
    ]
    for scope in (("--changed-since", "main"), ()):
        status, out, _ = plan(run, site, *scope)
        assert status == 2, "tor-devel is to be created"
        assert [line for line in out.splitlines() if line.startswith("warning:")] == warnings
        assert "note: lists/tor-internal.yaml was deleted" not in out
    markdown = plan(run, site, "--format", "markdown")[1]
    assert "> **Warning:** lists/tor-internal.yaml was deleted" in markdown
    assert connected.recorder.writes == []

    # Retired as it should be: disabled first, then its file may go; nothing to warn of.
    (site / "lists" / "tor-internal.yaml").write_text(LISTS["tor-internal"] + "disabled: true\n")
    commit_all(site, "Retire tor-internal")
    assert run("--root", str(site), "apply", "--yes", "--list", "tor-internal").status == 0
    git(site, "rm", "--quiet", "lists/tor-internal.yaml")
    commit_all(site, "Forget tor-internal")
    status, out, _ = plan(run, site, "--changed-since", "main")
    assert "tor-internal is still live" not in out
    assert (
        "note: lists/tor-internal.yaml was deleted: listsync never deletes a list;"
        " tor-internal is left alone in Mailman"
    ) in out.splitlines()


def test_git_scoping_errors_are_one_clear_line(
    run: Run, site: Path, tmp_path: Path, connected: Proxy
) -> None:
    unknown = run("--root", str(site), "plan", "--changed-since", "no-such-branch")
    assert unknown.status == 1
    assert "error: unknown revision 'no-such-branch'" in unknown.err
    both = run("--root", str(site), "plan", "--changed-since", "main", "--list", "tor-dev")
    assert both.status == 1
    assert "--changed-since and --list both choose the lists: use one" in both.err
    git(site, "checkout", "--quiet", "--orphan", "unrelated")
    commit_all(site, "A history of its own")
    unrelated = run("--root", str(site), "plan", "--changed-since", "main")
    assert unrelated.status == 1
    assert "error: HEAD and main have no common history" in unrelated.err
    outside = write_site(tmp_path / "no-git", LISTS)
    lost = run("--root", str(outside), "plan", "--changed-since", "main")
    assert lost.status == 1
    assert "is not in a git work tree" in lost.err
    assert connected.recorder.requests == []


def test_last_commits_walks_the_history_once(site: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    for n in range(5):
        (site / "lists" / f"extra-{n}.yaml").write_text(RELAYS)
        commit_all(site, f"Add extra-{n}")
    repo = open_site_repo(site)
    assert repo is not None
    calls: list[tuple[object, ...]] = []
    execute = gitpython.cmd.Git.execute

    def counting(
        self: gitpython.cmd.Git, command: object, *args: object, **kwargs: object
    ) -> object:
        calls.append(tuple(command) if isinstance(command, list) else (command,))
        return execute(self, command, *args, **kwargs)  # type: ignore[call-overload]

    monkeypatch.setattr(gitpython.cmd.Git, "execute", counting)
    paths = [f"lists/{name}.yaml" for name in LISTS] + [f"lists/extra-{n}.yaml" for n in range(5)]
    found = repo.last_commits(paths)
    # One `log` for all eight files (gitpython may also start its object reader once).
    assert [call for call in calls if "log" in call] == calls[-1:]
    assert len(calls) <= 2
    assert found["lists/extra-3.yaml"].subject == "Add extra-3"
    assert found["lists/tor-dev.yaml"].subject == "Initial site"


def test_a_site_below_the_top_of_the_work_tree(tmp_path: Path) -> None:
    root = write_site(tmp_path / "sites" / "tor", LISTS)
    (tmp_path / "notes.txt").write_text("not the site\n")
    init_repo(tmp_path)
    (root / "lists" / "tor-relays.yaml").write_text(RELAYS)
    (tmp_path / "notes.txt").write_text("changed, still not the site\n")
    repo = open_site_repo(root)
    assert repo is not None
    assert repo.uncommitted() == ("lists/tor-relays.yaml",)
    commit_all(tmp_path, "Ask for tor-relays", author=BOB)
    changes = repo.changes_since("HEAD~1")
    assert changes.changed == ("lists/tor-relays.yaml",)
    assert repo.last_commits(["lists/tor-relays.yaml"])["lists/tor-relays.yaml"].author == "Bob"


def test_a_change_is_named_by_the_commit_that_asked_for_it_and_a_hand_change_as_drift(
    run: Run, site: Path, domain: str, connected: Proxy, mailman_client: Client
) -> None:
    (site / "lists" / "quiet.yaml").write_text("description: Quiet.\nowners: [teor@example.org]\n")
    rita = commit_all(site, "Add the quiet list", author="Rita Requester <rita@example.org>")
    assert run("--root", str(site), "apply", "--yes").status == 0

    mlist = mailman_client.get_list(f"quiet@{domain}")
    mlist.settings["description"] = "Changed in Postorius"
    mlist.settings.save()
    status, out, _ = plan(run, site)
    assert status == 2
    heading = next(line for line in out.splitlines() if f"quiet@{domain}" in line)
    assert "drift: Mailman was changed by hand; this puts back what the file says" in heading
    assert rita[:7] not in out, "the requester of the list did not ask for this"
    data = json.loads(run("--root", str(site), "plan", "--format", "json").out)
    quiet = next(entry for entry in data["lists"] if entry["name"] == "quiet")
    assert quiet["reverts_hand_change"] is True
    assert quiet["commit"] is None

    config = site / "listsync.yaml"
    config.write_text(config.read_text() + "defaults: {posting: open}\n")
    bob = commit_all(site, "Open posting everywhere", author=BOB)
    status, out, _ = plan(run, site)
    heading = next(line for line in out.splitlines() if f"tor-dev@{domain}" in line)
    assert f"{bob[:7]} Bob: Open posting everywhere" in heading, "listsync.yaml asked for it"

    (site / "lists" / "quiet.yaml").write_text("description: Loud.\nowners: [teor@example.org]\n")
    alice = commit_all(site, "A louder list", author=ALICE)
    status, out, _ = plan(run, site)
    heading = next(line for line in out.splitlines() if f"quiet@{domain}" in line)
    assert f"{alice[:7]} Alice Example: A louder list" in heading
