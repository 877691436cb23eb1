"""The GitLab pipeline, run for real under gitlab-ci-local against the Mailman core.

Each test is one part of the workflow: a merge request that adds a list
shows exactly that list in its plan, made from the published snapshot
without any Mailman credential; the default branch applies it and
publishes a new snapshot; a schedule reports drift made by hand (failing)
or repairs it; pipelines that run in the wrong order never undo a merged
change; a change past the blast-radius limit goes through only the manual
apply-force job. The jobs run `.gitlab-ci.yml` as written (see `cilocal`
for the one difference) with the listsync under test, and the credentials
never show in a job's output or artifacts.
"""

from __future__ import annotations

import json
import re
import shutil
from pathlib import Path

import pytest
from cilocal import Credentials, PipelineRun, SiteRemote, ToolMissing, check_tools
from mailmanclient import Client

from helpers import REPO, commit_all, git
from listsync.cli import main
from mailman_core import MailmanCore

pytestmark = pytest.mark.pipeline

ALICE = "Alice Example <alice@example.org>"
LISTS = {
    "lists/tor-dev.yaml": "description: Development discussion.\nowners: [teor@example.org]\n",
    "lists/tor-announce.yaml": (
        "description: Release announcements.\nposting: announce\nowners: [nickm@example.org]\n"
    ),
}
RELAYS = "description: Relay operators.\nowners: [gus@example.org]\nmoderators: [gk@example.org]\n"


@pytest.fixture
def remote(
    tmp_path: Path, domain: str, mailman_core: MailmanCore, capsys: pytest.CaptureFixture[str]
) -> SiteRemote:
    """A site on branch main, pushed, and live in Mailman (applied once by hand)."""
    try:
        check_tools()
    except ToolMissing as exc:
        pytest.fail(str(exc), pytrace=False)
    files = {"listsync.yaml": f"domain: {domain}\ndisabled_owner: devnull@example.org\n", **LISTS}
    credentials = Credentials(mailman_core.url, mailman_core.user, mailman_core.password)
    site = SiteRemote.create(tmp_path, files, credentials)
    connection = [
        f"--mailman-url={mailman_core.url}",
        f"--user={mailman_core.user}",
        f"--password={mailman_core.password}",
    ]
    assert main(["--root", str(site.work), "apply", "--yes", *connection]) == 0
    # what the default branch's last pipeline published
    snapshot = site.registry / "mailman-snapshot.json"
    assert main(["--root", str(site.work), "snapshot", "--out", str(snapshot), *connection]) == 0
    capsys.readouterr()
    return site


def assert_no_secret(run: PipelineRun, secret: str) -> None:
    assert secret not in run.output
    for path in run.files():
        assert secret not in path.read_text(errors="replace"), path


def headings(markdown: str) -> list[str]:
    return re.findall(r"^#### .*$", markdown, flags=re.MULTILINE)


def request_list(remote: SiteRemote, branch: str) -> str:
    """Alice's merge request branch adding tor-relays; returns its commit's hash."""
    git(remote.work, "checkout", "--quiet", "-b", branch)
    (remote.work / "lists" / "tor-relays.yaml").write_text(RELAYS)
    return commit_all(remote.work, "Ask for tor-relays", author=ALICE)


def test_a_merge_request_pipeline_plans_exactly_the_requested_list(
    remote: SiteRemote, domain: str, mailman_core: MailmanCore, mailman_client: Client
) -> None:
    requested = request_list(remote, "request-tor-relays")
    base = git(remote.work, "rev-parse", "main")

    run = remote.merge_request_pipeline("request-tor-relays")
    assert run.status == 0, run.output
    assert run.jobs == {"validate": "PASS", "plan-request": "PASS"}, run.output

    plan_md = run.artifact("plan-request", "plan.md").read_text()
    assert plan_md.startswith(
        f"### listsync plan for `{domain}` (1 list changed since origin/main"
        f", merge base {base[:7]})\n"
    )
    assert "planned against a snapshot of Mailman taken" in plan_md
    assert headings(plan_md) == [f"#### `tor-relays@{domain}`: create"]
    assert f"Last commit `{requested[:7]}` by Alice Example: Ask for tor-relays" in plan_md
    assert "+ owner gus@example.org\n+ moderator gk@example.org\n" in plan_md
    assert "**Plan: 1 to create, 0 to update, 0 to disable, 0 to enable, 0 unchanged" in plan_md
    assert not run.artifact("plan-request", "plan.json").exists(), "no saved plan from an MR"
    assert "tor-relays" not in [m.list_name for m in mailman_client.get_domain(domain).lists]
    assert_no_secret(run, mailman_core.password)
    assert mailman_core.user not in run.log("plan-request")


def test_a_merge_request_pipeline_never_holds_the_mailman_credentials(
    remote: SiteRemote,
) -> None:
    request_list(remote, "request-tor-relays")
    (remote.registry / "mailman-snapshot.json").unlink()
    run = remote.merge_request_pipeline("request-tor-relays")
    assert run.jobs == {"validate": "PASS", "plan-request": "FAIL"}, run.output
    log = run.log("plan-request")
    assert "No snapshot of Mailman yet: run a pipeline on main first." in log
    # the job was given no credential to fall back on
    variables = (remote.unprotected_home / ".gitlab-ci-local").rglob("*")
    assert not any("MAILMAN_REST" in p.read_text() for p in variables if p.is_file())


def test_a_default_branch_pipeline_applies_the_merged_plan(
    remote: SiteRemote, domain: str, mailman_core: MailmanCore, mailman_client: Client
) -> None:
    requested = request_list(remote, "request-tor-relays")
    git(remote.work, "checkout", "--quiet", "main")
    git(
        remote.work,
        "merge",
        "--quiet",
        "--no-ff",
        "--message",
        "Merge branch 'request-tor-relays' into 'main'",
        "request-tor-relays",
    )
    git(remote.work, "push", "--quiet", "origin", "main")

    run = remote.run_pipeline()
    assert run.status == 0, run.output
    assert run.jobs == {
        "validate": "PASS",
        "plan": "PASS",
        "apply": "PASS",
        "snapshot": "PASS",
        "pages": "PASS",
    }, run.output
    published = json.loads((remote.registry / "mailman-snapshot.json").read_text())
    assert published["lists"]["tor-relays"]["owners"] == ["gus@example.org"]
    page = run.artifact("pages", "public/index.html").read_text()
    assert 'id="tor-relays"' in page
    assert "gus@example.org" not in page
    plan_md = run.artifact("plan", "plan.md").read_text()
    assert f"### listsync plan for `{domain}` (all lists)" in plan_md
    assert headings(plan_md) == [f"#### `tor-relays@{domain}`: create"]
    assert f"Last commit `{requested[:7]}` by Alice Example: Ask for tor-relays" in plan_md
    assert "Applied 1 list(s), 0 failed." in run.log("apply")
    relays = mailman_client.get_list(f"tor-relays@{domain}")
    assert [o.email for o in relays.owners] == ["gus@example.org"]
    assert [m.email for m in relays.moderators] == ["gk@example.org"]
    assert relays.settings["dmarc_mitigate_action"] == "munge_from"
    assert_no_secret(run, mailman_core.password)

    again = remote.run_pipeline()
    assert again.status == 0, again.output
    assert "No changes. Mailman matches the files." in again.artifact("plan", "plan.md").read_text()
    assert "Applied" not in again.log("apply")


def test_a_scheduled_pipeline_reports_drift_or_repairs_it(
    remote: SiteRemote, domain: str, mailman_core: MailmanCore, mailman_client: Client
) -> None:
    dev = mailman_client.get_list(f"tor-dev@{domain}")
    settings = dev.settings
    settings["archive_policy"] = "never"
    settings.save()
    dev.add_owner("intruder@example.org")

    report = remote.run_pipeline("schedule")
    assert report.status != 0, report.output
    assert report.jobs == {"validate": "PASS", "reconcile": "FAIL", "snapshot": "PASS"}, (
        report.output
    )
    lifecycle = report.artifact("reconcile", "report.md").read_text()
    assert lifecycle.startswith(f"### listsync report for {domain}, as of ")
    assert "#### Unmanaged lists (in Mailman, in no file): 0" in lifecycle
    drift = report.artifact("reconcile", "drift.md").read_text()
    assert headings(drift) == [f"#### `tor-dev@{domain}`: update"]
    assert '- owner intruder@example.org\n~ archive_policy: "never" -> "public"\n' in drift
    log = report.log("reconcile")
    assert f"#### `tor-dev@{domain}`: update" in log
    assert "Drift: Mailman differs from the files" in log
    assert mailman_client.get_list(f"tor-dev@{domain}").settings["archive_policy"] == "never"
    assert_no_secret(report, mailman_core.password)

    repair = remote.run_pipeline("schedule", {"LISTSYNC_RECONCILE": "apply"})
    assert repair.status == 0, repair.output
    assert repair.jobs == {"validate": "PASS", "reconcile": "PASS", "snapshot": "PASS"}, (
        repair.output
    )
    assert "Applied 1 list(s), 0 failed." in repair.log("reconcile")
    repaired = mailman_client.get_list(f"tor-dev@{domain}")
    assert repaired.settings["archive_policy"] == "public"
    assert [o.email for o in repaired.owners] == ["teor@example.org"]
    assert_no_secret(repair, mailman_core.password)

    quiet = remote.run_pipeline("schedule")
    assert quiet.status == 0, quiet.output
    assert "No drift: Mailman matches the files." in quiet.log("reconcile")


def disabled(client: Client, fqdn: str) -> bool:
    mailing_list = client.get_list(fqdn)
    owners = [o.email for o in mailing_list.owners]
    return owners == ["devnull@example.org"] and mailing_list.settings["emergency"] is True


def test_pipelines_run_in_the_wrong_order_never_undo_a_merged_change(
    remote: SiteRemote, domain: str, mailman_client: Client
) -> None:
    before = git(remote.work, "rev-parse", "HEAD")
    dev = remote.work / "lists" / "tor-dev.yaml"
    dev.write_text(LISTS["lists/tor-dev.yaml"] + "disabled: true\n")
    merged = commit_all(remote.work, "Disable tor-dev")
    git(remote.work, "push", "--quiet", "origin", "main")

    newer = remote.run_pipeline()
    assert newer.jobs["apply"] == "PASS", newer.output
    assert disabled(mailman_client, f"tor-dev@{domain}")

    # The pipeline created for the commit before the merge runs only now.
    git(remote.work, "checkout", "--quiet", "-B", "main", before)
    older = remote.run_pipeline()
    assert older.jobs["plan"] == "PASS", older.output
    assert headings(older.artifact("plan", "plan.md").read_text()) == [
        f"#### `tor-dev@{domain}`: enable"
    ], "it would re-enable tor-dev"
    # It publishes nothing over the newer pipeline's pages, so its apply never starts
    # (were pages done before the merge, apply itself would refuse: --require-tip).
    assert older.jobs["pages"] == "FAIL", older.output
    assert (
        "Not publishing: this commit is no longer the tip of main; the newer pipeline publishes."
        in older.log("pages")
    )
    assert "apply" not in older.jobs, older.output
    assert disabled(mailman_client, f"tor-dev@{domain}")
    assert merged == git(remote.work, "rev-parse", "origin/main")

    # So does a schedule created then, with repairs on: it plans the tip.
    schedule = remote.run_pipeline("schedule", {"LISTSYNC_RECONCILE": "apply"})
    assert schedule.jobs["reconcile"] == "PASS", schedule.output
    assert "No drift: Mailman matches the files." in schedule.log("reconcile")
    assert disabled(mailman_client, f"tor-dev@{domain}")


def test_a_site_with_policies_has_its_plan_judged_by_them(remote: SiteRemote, domain: str) -> None:
    """The policy job runs only in a site with policy/*.rego (the pipelines above have
    none: their jobs are listed exactly), on the plan job's plan.json; a denial fails it."""
    (remote.work / "policy").mkdir()
    shutil.copy(REPO / "policy-examples" / "retire.rego", remote.work / "policy")
    dev = remote.work / "lists" / "tor-dev.yaml"
    dev.write_text(LISTS["lists/tor-dev.yaml"] + "disabled: true\n")
    commit_all(remote.work, "Retire tor-dev")
    git(remote.work, "push", "--quiet", "origin", "main")

    run = remote.run_pipeline()
    assert run.jobs["plan"] == "PASS", run.output
    assert run.jobs["policy"] == "FAIL", run.output
    log = run.log("policy")
    assert f"deny: tor-dev@{domain}: disabling a list needs the label retire" in log
    assert "1 denial(s) from 1 policy file(s) in policy (labels: none)." in log
    assert run.status != 0


def test_a_reviewed_change_past_the_blast_radius_goes_through_the_manual_job(
    remote: SiteRemote, domain: str, mailman_client: Client
) -> None:
    (remote.work / "listsync.yaml").write_text(
        f"domain: {domain}\ndisabled_owner: devnull@example.org\n"
        "safety:\n  min_managed_lists: 1\n  max_changed_fraction: 0.5\n"
        "defaults:\n  archive: private\n"
    )
    commit_all(remote.work, "Private archives for every list")
    git(remote.work, "push", "--quiet", "origin", "main")

    run = remote.run_pipeline()
    assert run.jobs["apply"] == "FAIL", run.output
    assert "apply-force" not in run.jobs, "a manual job runs only when someone starts it"
    plan_md = run.artifact("plan", "plan.md").read_text()
    assert "this plan changes 2 of 2 managed lists (100%)" in plan_md
    assert "the manual apply-force job" in plan_md
    assert "refusing to apply: this plan changes 2 of 2 managed lists" in run.log("apply")
    archives = {
        name: mailman_client.get_list(f"{name}@{domain}").settings["archive_policy"]
        for name in ("tor-dev", "tor-announce")
    }
    assert archives == {"tor-dev": "public", "tor-announce": "public"}

    forced = remote.run_pipeline(manual=("apply-force",))
    assert forced.jobs["apply-force"] == "PASS", forced.output
    assert "Applied 2 list(s), 0 failed." in forced.log("apply-force")
    for name in ("tor-dev", "tor-announce"):
        settings = mailman_client.get_list(f"{name}@{domain}").settings
        assert settings["archive_policy"] == "private"


def test_a_merge_request_behind_its_target_is_planned_as_merged(
    remote: SiteRemote, domain: str, mailman_core: MailmanCore
) -> None:
    """The target moved on after the request branched (private archives by default, applied
    and snapshotted): the request's plan is of the merge, so it shows the new list with the
    target's defaults and no drift that would revert the target's change."""
    request_list(remote, "request-tor-relays")
    git(remote.work, "checkout", "--quiet", "main")
    config = remote.work / "listsync.yaml"
    config.write_text(config.read_text() + "defaults: {archive: private}\n")
    commit_all(remote.work, "Private archives by default")
    git(remote.work, "push", "--quiet", "origin", "main")
    connection = [
        f"--mailman-url={mailman_core.url}",
        f"--user={mailman_core.user}",
        f"--password={mailman_core.password}",
    ]
    assert main(["--root", str(remote.work), "apply", "--yes", *connection]) == 0
    snapshot = remote.registry / "mailman-snapshot.json"
    assert main(["--root", str(remote.work), "snapshot", "--out", str(snapshot), *connection]) == 0
    git(remote.work, "checkout", "--quiet", "request-tor-relays")

    run = remote.merge_request_pipeline("request-tor-relays")
    assert run.jobs == {"validate": "PASS", "plan-request": "PASS"}, run.output
    plan_md = run.artifact("plan-request", "plan.md").read_text()
    assert headings(plan_md) == [f"#### `tor-relays@{domain}`: create"], plan_md
    assert '+ archive_policy: "private"' in plan_md
    assert "drift" not in plan_md.lower()
