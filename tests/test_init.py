"""`listsync init`: a new site repository that validates as written and whose pipeline plans
and never applies until the site says so.

The files are checked as their readers read them: `listsync validate` on the
new site, the pipeline's variables and rules as YAML, the pre-commit hook's
`files:` as the regular expression pre-commit searches with. The generated
pipeline also runs under gitlab-ci-local against the tests' Mailman core (see
`cilocal`), with the credentials: on the default branch it plans and
publishes, and no job applies; a schedule asked to repair drift reports it.
"""

from __future__ import annotations

import os
import pty
import re
import subprocess
import sys
from pathlib import Path

import pytest
from cilocal import Credentials, SiteRemote, ToolMissing, check_tools
from mailmanclient import Client
from ruamel.yaml import YAML

from helpers import REPO, Run, git
from listsync import DISTRIBUTION, importer, schema
from mailman_core import MailmanCore

DOMAIN = "lists.example.net"
WRITTEN = [
    "listsync.yaml",
    "lists/listmasters.yaml",
    "templates/.gitkeep",
    "schema/list.schema.json",
    "schema/site.schema.json",
    "schema/plan.schema.json",
    ".gitlab-ci.yml",
    ".pre-commit-config.yaml",
    "README.md",
]
LISTSYNC = Path(sys.executable).parent / "listsync"


def site_files(root: Path) -> list[str]:
    """Every file below `root` but git's own, site-relative."""
    return sorted(
        p.relative_to(root).as_posix()
        for p in root.rglob("*")
        if p.is_file() and ".git" not in p.relative_to(root).parts
    )


def released_version(run: Run) -> str:
    result = run("--version")
    assert result.status == 0
    return result.out.split()[-1]


def test_init_writes_a_site_that_validates_and_a_plan_only_pipeline_pinned_to_this_release(
    run: Run, tmp_path: Path
) -> None:
    site = tmp_path / "lists-site"
    result = run("init", str(site), "--domain", DOMAIN)

    assert result.status == 0, result.err
    assert site_files(site) == sorted(WRITTEN)
    assert [
        line.removeprefix(f"wrote {site}/") for line in result.out.splitlines()[: len(WRITTEN)]
    ] == WRITTEN
    assert 'applies nothing until LISTSYNC_APPLY is "true"' in result.out
    validated = run("--root", str(site), "validate")
    assert validated.status == 0, validated.out + validated.err
    assert "1 valid list file(s), 0 error(s), 0 warning(s)" in validated.out

    config = (site / "listsync.yaml").read_text()
    assert config.startswith("# yaml-language-server: $schema=schema/site.schema.json\n")
    assert f"\ndomain: {DOMAIN}\n" in config
    assert f"\ndisabled_owner: devnull@{DOMAIN}\n" in config
    example = YAML(typ="safe").load(site / "lists" / "listmasters.yaml")
    assert example["owners"] == [f"listmaster@{DOMAIN}"]
    assert (site / "templates" / ".gitkeep").read_text() == ""
    for name, text in schema.rendered().items():
        assert (site / "schema" / name).read_text() == text == (REPO / "schema" / name).read_text()

    # a new repository on main, nothing committed
    assert git(site, "rev-parse", "--show-toplevel") == str(site.resolve())
    assert git(site, "symbolic-ref", "HEAD") == "refs/heads/main"
    assert git(site, "rev-list", "--all") == ""

    pipeline = YAML(typ="safe").load(site / ".gitlab-ci.yml")
    version = released_version(run)
    assert pipeline["variables"]["LISTSYNC_PACKAGE"] == f"{DISTRIBUTION}=={version}"
    assert pipeline["variables"]["LISTSYNC_APPLY"] == "false"
    for job in ("apply", "apply-force"):
        branch_rules = [rule for rule in pipeline[job]["rules"] if rule.get("when") != "never"]
        assert [rule["if"] for rule in branch_rules] == [
            '$CI_COMMIT_BRANCH == $CI_DEFAULT_BRANCH && $LISTSYNC_APPLY == "true"'
        ], job
    assert '[ "$LISTSYNC_APPLY" = "true" ]' in pipeline["reconcile"]["script"][0]

    precommit = YAML(typ="safe").load(site / ".pre-commit-config.yaml")
    ((hook,),) = [repo["hooks"] for repo in precommit["repos"]]
    assert (hook["id"], hook["entry"], hook["args"]) == (
        "listsync-validate",
        "listsync",
        ["validate"],
    )
    assert hook["additional_dependencies"] == [f"{DISTRIBUTION}=={version}"]
    watched = re.compile(hook["files"])
    checked = [
        "listsync.yaml",
        "lists/tor-dev.yaml",
        "lists/old.yml",
        "lists/lists.example.org/tor-dev.yaml",  # a site with several domains
        "templates/footer.txt",
    ]
    unchecked = ["README.md", ".gitlab-ci.yml", "schema/list.schema.json", "lists/x/y/z.yaml"]
    assert [path for path in checked if not watched.search(path)] == []
    assert [path for path in unchecked if watched.search(path)] == []

    readme = (site / "README.md").read_text()
    assert readme.startswith(f"# The mailing lists of {DOMAIN}\n")
    assert f"pip install {DISTRIBUTION}=={version}\n" in readme
    assert "MAILMAN_REST_PASSWORD" in readme


def test_the_packaged_pipeline_is_the_repository_s_own() -> None:
    packaged = REPO / "src" / "listsync" / "data" / "gitlab-ci.yml"
    assert packaged.read_text() == (REPO / ".gitlab-ci.yml").read_text(), (
        "copy .gitlab-ci.yml to src/listsync/data/gitlab-ci.yml"
    )
    own = YAML(typ="safe").load(REPO / ".gitlab-ci.yml")
    assert own["variables"]["LISTSYNC_PACKAGE"] == "."
    assert own["variables"]["LISTSYNC_APPLY"] == "true"


def test_init_never_overwrites_a_file_and_writes_nothing_then(run: Run, tmp_path: Path) -> None:
    site = tmp_path / "lists-site"
    (site / "lists").mkdir(parents=True)
    (site / "notes.txt").write_text("ours\n")
    (site / "README.md").write_text("Our lists.\n")
    (site / "lists" / "tor-dev.yaml").write_text("owners: [teor@example.org]\n")

    refused = run("init", str(site), "--domain", DOMAIN)

    assert refused.status == 1
    assert refused.err == (
        f"error: {site}/README.md exists: listsync init never overwrites a file; nothing was"
        " written (start in a new directory, or move it away)\n"
    )
    assert site_files(site) == ["README.md", "lists/tor-dev.yaml", "notes.txt"]
    assert (site / "README.md").read_text() == "Our lists.\n"
    assert not (site / ".git").exists()

    # the same directory once none of its files is one init writes
    (site / "README.md").unlink()
    done = run("init", str(site), "--domain", DOMAIN)
    assert done.status == 0, done.err
    assert site_files(site) == sorted([*WRITTEN, "lists/tor-dev.yaml", "notes.txt"])


def test_without_domain_it_asks_on_a_terminal_and_fails_without_one(tmp_path: Path) -> None:
    refused = subprocess.run(
        [LISTSYNC, "init", str(tmp_path / "a")],
        stdin=subprocess.DEVNULL,
        capture_output=True,
        text=True,
        check=False,
        timeout=60,
    )
    assert refused.returncode == 1
    assert refused.stderr == (
        "error: no --domain and no terminal to ask on: listsync init DIR --domain DOMAIN\n"
    )
    assert not (tmp_path / "a").exists()

    controller, terminal = pty.openpty()
    try:
        asked = subprocess.Popen(
            [LISTSYNC, "init", str(tmp_path / "b")],
            stdin=terminal,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        os.write(controller, f"{DOMAIN}\n".encode())
        out, err = asked.communicate(timeout=60)
    finally:
        os.close(controller)
        os.close(terminal)
    assert asked.returncode == 0, err
    assert out.startswith("Mail domain of the lists (e.g. lists.example.org): ")
    assert f"\ndomain: {DOMAIN}\n" in (tmp_path / "b" / "listsync.yaml").read_text()


def test_a_domain_that_gives_no_valid_site_is_refused_before_writing(
    run: Run, tmp_path: Path
) -> None:
    refused = run("init", str(tmp_path / "site"), "--domain", "lists.test")
    assert refused.status == 1
    assert refused.err.startswith("error: --domain 'lists.test' gives a site that does not valid")
    assert "listsync.yaml:6:17: disabled_owner: 'devnull@lists.test' is not a valid" in refused.err
    bad = run("init", str(tmp_path / "site"), "--domain", "lists.example.org\nsettings: {}")
    assert bad.status == 1
    assert "is not a domain name such as lists.example.org" in bad.err
    assert not (tmp_path / "site").exists()


def test_inside_a_repository_init_makes_no_second_one(run: Run, tmp_path: Path) -> None:
    git(tmp_path, "init", "--quiet", "--initial-branch=main")
    result = run("init", str(tmp_path / "site"), "--domain", DOMAIN)
    assert result.status == 0, result.err
    assert not (tmp_path / "site" / ".git").exists()
    assert f"is inside the git repository {tmp_path.resolve()}" in result.out


def test_the_kept_empty_templates_directory_holds_no_template_text(
    run: Run, tmp_path: Path
) -> None:
    """import takes a site's text for a list's template when the words are the same: the
    empty `.gitkeep` must never stand for an empty text (no list file may name it)."""
    site = tmp_path / "site"
    assert run("init", str(site), "--domain", DOMAIN).status == 0
    (site / "templates" / "empty.txt").write_text("")
    assert list(importer._site_texts(site)) == ["templates/empty.txt"]


@pytest.mark.pipeline
def test_the_new_site_s_pipeline_plans_and_publishes_and_never_applies(
    run: Run,
    tmp_path: Path,
    domain: str,
    mailman_core: MailmanCore,
    mailman_client: Client,
) -> None:
    try:
        check_tools()
    except ToolMissing as exc:
        pytest.fail(str(exc), pytrace=False)
    new = tmp_path / "new"
    assert run("init", str(new), "--domain", domain).status == 0
    files = {path: (new / path).read_text() for path in site_files(new)}
    credentials = Credentials(mailman_core.url, mailman_core.user, mailman_core.password)
    (tmp_path / "remote").mkdir()
    remote = SiteRemote.create(tmp_path / "remote", files, credentials)

    pipeline = remote.run_pipeline()

    assert pipeline.status == 0, pipeline.output
    assert pipeline.jobs == {
        "validate": "PASS",
        "plan": "PASS",
        "pages": "PASS",
        "snapshot": "PASS",
    }, pipeline.output
    plan_md = pipeline.artifact("plan", "plan.md").read_text()
    assert f"#### `listmasters@{domain}`: create" in plan_md
    assert (remote.registry / "mailman-snapshot.json").is_file()
    assert domain not in [d.mail_host for d in mailman_client.domains]

    # a schedule asked to repair drift (the list not yet made) reports it, and repairs nothing
    schedule = remote.run_pipeline("schedule", {"LISTSYNC_RECONCILE": "apply"})

    assert schedule.jobs == {"validate": "PASS", "reconcile": "FAIL", "snapshot": "PASS"}, (
        schedule.output
    )
    log = schedule.log("reconcile")
    assert f"#### `listmasters@{domain}`: create" in log
    assert "Not repairing it: LISTSYNC_APPLY is 'false', not 'true' (plan-only)." in log
    assert "repairing it (LISTSYNC_RECONCILE=apply)" not in log
    assert domain not in [d.mail_host for d in mailman_client.domains]
