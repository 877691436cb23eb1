"""The pipeline's template texts, run for real under gitlab-ci-local against the Mailman core.

GitLab Pages is a static server on 127.0.0.1 (`TextServer`) serving the
`pages` job's artifact, `public/templates`, at the site's `templates_url`,
as Pages serves the last deployment. The default branch publishes only the
texts in use before `apply` points Mailman at them; a schedule fails when
Mailman could not fetch a text its lists use.
"""

from __future__ import annotations

import shutil
from collections.abc import Iterator
from pathlib import Path

import pytest
from cilocal import STATE_DIR, Credentials, SiteRemote, ToolMissing, check_tools
from webserver import TextServer

from helpers import FOOTER_NAME, commit_all, git, published_name, template_uris
from mailman_core import MailmanCore

pytestmark = pytest.mark.pipeline

V1 = "Footer one of $display_name.\n"
V2 = "Footer two of $display_name.\n"
TOR_DEV = (
    "description: Development discussion.\nowners: [teor@example.org]\n"
    f"templates:\n  {FOOTER_NAME}: templates/footer.txt\n"
)


def published(text: str) -> str:
    """The name templates/footer.txt holding `text` is published under."""
    return published_name("footer.txt", text)


@pytest.fixture
def gitlab_pages(tmp_path: Path) -> Iterator[TextServer]:
    """What GitLab Pages serves: the last `pages` job's artifact (under `work`, below)."""
    artifact = tmp_path / "work" / STATE_DIR / "artifacts" / "pages" / "public" / "templates"
    with TextServer(artifact) as server:
        yield server


@pytest.fixture
def remote(
    tmp_path: Path, domain: str, mailman_core: MailmanCore, gitlab_pages: TextServer
) -> SiteRemote:
    """A site on branch main with a footer, pushed; nothing of it in Mailman yet."""
    try:
        check_tools()
    except ToolMissing as exc:
        pytest.fail(str(exc), pytrace=False)
    files = {
        "listsync.yaml": f"domain: {domain}\ndisabled_owner: devnull@example.org\n"
        f"templates_url: {gitlab_pages.url}\n",
        "lists/tor-dev.yaml": TOR_DEV,
        "templates/footer.txt": V1,
    }
    credentials = Credentials(mailman_core.url, mailman_core.user, mailman_core.password)
    return SiteRemote.create(tmp_path, files, credentials)


def test_the_default_branch_publishes_the_texts_in_use_before_apply_points_mailman_at_them(
    remote: SiteRemote, domain: str, mailman_core: MailmanCore, gitlab_pages: TextServer
) -> None:
    fqdn = f"tor-dev@{domain}"
    first = remote.run_pipeline()
    assert first.status == 0, first.output
    assert first.jobs == {
        "validate": "PASS",
        "plan": "PASS",
        "pages": "PASS",
        "apply": "PASS",
        "snapshot": "PASS",
    }, first.output
    assert sorted(p.name for p in gitlab_pages.directory.iterdir()) == [published(V1)]
    assert template_uris(mailman_core, fqdn) == {FOOTER_NAME: f"{gitlab_pages.url}/{published(V1)}"}
    assert "Checked 1 template URL(s) of 1 list(s): 0 not served." in first.log("apply")

    # A draft, committed and deleted, and a new footer.
    draft = remote.work / "templates" / "draft.txt"
    draft.write_text("A draft of $display_name's footer.\n")
    commit_all(remote.work, "Draft a footer")
    draft.unlink()
    (remote.work / "templates" / "footer.txt").write_text(V2)
    commit_all(remote.work, "Footer two")
    git(remote.work, "push", "--quiet", "origin", "main")

    second = remote.run_pipeline()
    assert second.status == 0, second.output
    # pages ran before apply: the list still pointed at footer one, which stays served
    assert sorted(p.name for p in gitlab_pages.directory.iterdir()) == sorted(
        [published(V1), published(V2)]
    )
    assert template_uris(mailman_core, fqdn) == {FOOTER_NAME: f"{gitlab_pages.url}/{published(V2)}"}

    third = remote.run_pipeline()
    assert third.status == 0, third.output
    assert sorted(p.name for p in gitlab_pages.directory.iterdir()) == [published(V2)]


def test_a_schedule_fails_when_mailman_cannot_fetch_a_text(
    remote: SiteRemote, tmp_path: Path, gitlab_pages: TextServer
) -> None:
    assert remote.run_pipeline().status == 0
    # Pages keeps serving the last deployment; gitlab-ci-local's next run clears its state.
    deployed = tmp_path / "deployed"
    shutil.copytree(gitlab_pages.directory, deployed)
    gitlab_pages.directory = deployed
    url = f"{gitlab_pages.url}/{published(V1)}"
    report = remote.run_pipeline("schedule")
    assert report.jobs["reconcile"] == "PASS", report.output

    gitlab_pages.answer(published(V1), 500)
    broken = remote.run_pipeline("schedule")
    assert broken.status != 0, broken.output
    assert broken.jobs["reconcile"] == "FAIL", broken.output
    log = broken.log("reconcile")
    assert f"not served: {url} answers HTTP 500 (Mailman sends its own default text" in log
    assert f"    used by tor-dev ({FOOTER_NAME})" in log
    assert "No drift: Mailman matches the files." in log
    assert "Mailman cannot fetch some template texts as it must" in log
