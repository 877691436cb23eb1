"""A site with two domains on two Mailman cores, through the GitLab pipeline under gitlab-ci-local.

The default branch's pipeline fans out: `fan-out` writes a child pipeline
from listsync.yaml and `cores` runs it, one plan/apply pair per core; each
pair reaches only its own core, with credentials scoped to its environment
(`mailman/CORE`) as a site scopes them in GitLab, and the jobs that read
every core (pages, snapshot) get both through `mailman/every-core`. What
each core holds afterwards is read back with Mailman's own client.
"""

from __future__ import annotations

from pathlib import Path

import pytest
from cilocal import Credentials, SiteRemote, ToolMissing, check_tools
from mailmanclient import Client

from helpers import StartCore
from mailman_core import MailmanCore

pytestmark = pytest.mark.pipeline

SITE = """\
disabled_owner: devnull@example.org
domains:
  {first}: {{}}
  {second}: {{core: other, defaults: {{visibility: private}}}}
cores:
  other: {{}}
"""


@pytest.fixture(scope="module")
def other_core(start_core: StartCore) -> MailmanCore:
    """A second core, for the domain on core `other`."""
    return start_core()


def lists_of(client: Client, domain: str) -> dict[str, bool]:
    """List name -> advertised, of `domain` on a core."""
    return {m.list_name: m.settings["advertised"] for m in client.lists if m.mail_host == domain}


def scoped(core: MailmanCore, prefix: str, environment: str) -> dict[str, dict[str, str]]:
    """A core's three variables, for its own pair's environment and for the jobs that read
    every core."""
    values = {"URL": core.url, "USER": core.user, "PASSWORD": core.password}
    return {
        f"{prefix}_REST_{name}": {environment: value, "mailman/every-core": value}
        for name, value in values.items()
    }


def test_a_site_on_two_cores_plans_and_applies_each_core_in_its_own_pair(
    tmp_path: Path, domain: str, mailman_core: MailmanCore, other_core: MailmanCore
) -> None:
    try:
        check_tools()
    except ToolMissing as exc:
        pytest.fail(str(exc), pytrace=False)
    first, second = f"a.{domain}", f"b.{domain}"
    files = {
        "listsync.yaml": SITE.format(first=first, second=second),
        f"lists/{first}/announce.yaml": "description: News.\nowners: [nickm@example.org]\n",
        f"lists/{second}/board.yaml": "description: The board.\nowners: [gus@example.org]\n",
    }
    credentials = Credentials(mailman_core.url, mailman_core.user, mailman_core.password)
    site = SiteRemote.create(tmp_path, files, credentials)
    site.scope_variables(
        {
            **scoped(mailman_core, "MAILMAN", "mailman/default"),
            **scoped(other_core, "MAILMAN_OTHER", "mailman/other"),
        }
    )

    run = site.run_pipeline()

    assert run.status == 0, run.output
    assert run.jobs == {
        "validate": "PASS",
        "fan-out": "PASS",
        "pages": "PASS",
        "cores": "PASS",
        "snapshot": "PASS",
    }, run.output
    assert run.child_jobs == {
        "plan-default": "PASS",
        "plan-other": "PASS",
        "apply-default": "PASS",
        "apply-other": "PASS",
    }, run.output
    child = run.artifact("fan-out", "cores.yml").read_text()
    assert "resource_group: mailman-default\n" in child
    assert "resource_group: mailman-other\n" in child
    assert (
        f"`announce@{first}`: create" in run.artifact("plan-default", "plan-default.md").read_text()
    )
    other_plan = run.artifact("plan-other", "plan-other.md").read_text()
    assert f"`board@{second}`: create" in other_plan
    assert first not in other_plan
    assert "Applied 1 list(s), 0 failed." in run.log("apply-default")
    assert "Applied 1 list(s), 0 failed." in run.log("apply-other")

    default_client = Client(mailman_core.url, mailman_core.user, mailman_core.password)
    other_client = Client(other_core.url, other_core.user, other_core.password)
    assert lists_of(default_client, first) == {"announce": True}
    assert lists_of(other_client, second) == {"board": False}
    assert lists_of(default_client, second) == {}
    assert lists_of(other_client, first) == {}
    for core in (mailman_core, other_core):
        assert core.password not in run.output
