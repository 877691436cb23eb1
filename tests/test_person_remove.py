"""`listsync person remove`, end to end on a real core: one plan of file edits and Mailman
operations, refused before anything changes when a list would be left without an
owner; applied, it takes the person off every list no file manages at once, and off
the managed ones when the edited files (committed on a branch) are applied."""

from __future__ import annotations

from pathlib import Path
from urllib.error import HTTPError

import pytest
from mailmanclient import Client

from helpers import Run, git, init_repo, plan, write_site
from proxy import Proxy

pytestmark = pytest.mark.compat

NORA = "nora@example.org"
LISTS = {
    "dev": "description: Development.\nowners: [bob@example.org, alice@{domain}]\n",
    "solo": "description: One owner.\n# keep this comment\nowners:\n  - Alice@{domain}\n",
    "board": "description: Board.\nvisibility: private\nowners: [bob@example.org]\n",
}


def alice(domain: str) -> str:
    """The person removed: of the test's own domain (a site-wide ban outlives a test)."""
    return f"alice@{domain}"


@pytest.fixture
def site(tmp_path: Path, domain: str) -> Path:
    root = tmp_path / "site"
    lists = {name: text.format(domain=domain) for name, text in LISTS.items()}
    write_site(root, lists, config=f"domain: {domain}\ndisabled_owner: devnull@example.org\n")
    init_repo(root)
    return root


@pytest.fixture
def placed(run: Run, site: Path, domain: str, mailman_client: Client, connected: Proxy) -> str:
    """The site applied; Alice also a member of dev and board and an owner (beside carol)
    of a list no file declares."""
    assert run("--root", str(site), "apply", "--yes").status == 0
    for name in ("dev", "board"):
        mailman_client.get_list(f"{name}@{domain}").subscribe(
            alice(domain), pre_verified=True, pre_confirmed=True, pre_approved=True
        )
    legacy = mailman_client.get_domain(domain).create_list("legacy")
    legacy.add_owner("carol@example.org")
    legacy.add_owner(alice(domain))
    connected.recorder.clear()
    return domain


def roles_of(client: Client, domain: str, address: str) -> set[tuple[str, str]]:
    found = set()
    for mlist in client.get_domain(domain).get_lists():
        for role in ("owner", "moderator", "member", "nonmember"):
            if any(str(m.email) == address for m in mlist.get_roster(role)):
                found.add((mlist.list_name, role))
    return found


def writes(proxy: Proxy) -> list[tuple[str, str]]:
    return [(method, path) for method, path in proxy.recorder.requests if method != "GET"]


def test_a_sole_owner_without_replacement_is_refused_before_anything_changes(
    run: Run, site: Path, placed: str, connected: Proxy
) -> None:
    before = {path: path.read_bytes() for path in (site / "lists").iterdir()}

    result = run("--root", str(site), "person", "remove", alice(placed), "--yes")

    assert result.status == 1
    assert "solo" in result.err
    assert "--replace-with" in result.err
    assert writes(connected) == []
    assert {path: path.read_bytes() for path in (site / "lists").iterdir()} == before


def test_remove_edits_the_files_on_a_branch_and_takes_the_rest_off_mailman(
    run: Run, site: Path, placed: str, mailman_client: Client, connected: Proxy
) -> None:
    domain = placed
    result = run(
        "--root", str(site), "person", "remove", alice(placed), "--replace-with", NORA,
        "--commit", "--yes",
    )  # fmt: skip

    assert result.status == 0, result.err
    assert "lists/solo.yaml" in result.out
    assert "lists/dev.yaml" in result.out
    assert git(site, "rev-parse", "--abbrev-ref", "HEAD").startswith("person-remove-")
    assert git(site, "status", "--porcelain") == ""
    solo = (site / "lists" / "solo.yaml").read_text()
    assert "# keep this comment" in solo
    assert NORA in solo
    assert "alice" not in solo.lower()
    assert "alice" not in (site / "lists" / "dev.yaml").read_text()
    # At once: the memberships, and the roles on the list no file declares.
    assert roles_of(mailman_client, domain, alice(domain)) == {("dev", "owner"), ("solo", "owner")}
    assert {str(m.email) for m in mailman_client.get_list(f"legacy@{domain}").owners} == {
        "carol@example.org"
    }
    # The managed roles go when the edited files are applied, as the pipeline does.
    assert run("--root", str(site), "apply", "--yes").status == 0
    assert roles_of(mailman_client, domain, alice(domain)) == set()
    assert {str(m.email) for m in mailman_client.get_list(f"solo@{domain}").owners} == {NORA}

    again = run("--root", str(site), "person", "remove", alice(placed), "--yes")
    assert again.status == 0, again.err
    assert "(no list file names it)" in again.out


def test_erase_deletes_the_address_last_and_says_what_rest_cannot_reach(
    run: Run, site: Path, placed: str, mailman_client: Client
) -> None:
    result = run(
        "--root", str(site), "person", "remove", alice(placed), "--replace-with", NORA,
        "--ban", "global", "--erase", "--yes",
    )  # fmt: skip

    assert result.status == 0, result.err
    assert "HyperKitty" in result.out
    with pytest.raises(HTTPError) as gone:
        mailman_client.get_address(alice(placed))
    assert gone.value.code == 404
    assert alice(placed) in [str(ban.email) for ban in mailman_client.bans]
    owners = {str(m.email) for m in mailman_client.get_list(f"solo@{placed}").owners}
    assert owners == {NORA}, "the erasure never leaves a list without an owner"


def test_redaction_shows_the_subject_and_masks_everyone_else(
    run: Run, site: Path, placed: str, connected: Proxy
) -> None:
    result = run(
        "--root", str(site), "person", "remove", alice(placed), "--replace-with", NORA, "--redact",
    )  # fmt: skip

    assert result.status == 1  # no terminal to confirm on: nothing applied
    assert alice(placed) in result.out
    assert NORA not in result.out + result.err
    assert "n***@example.org" in result.out
    assert writes(connected) == []


def test_a_saved_removal_is_applied_only_as_recorded(
    run: Run, site: Path, placed: str, mailman_client: Client, tmp_path: Path
) -> None:
    saved = tmp_path / "removal.json"
    args = ("--root", str(site), "person", "remove")
    made = run(*args, alice(placed), "--replace-with", NORA, "--out", str(saved))
    assert made.status == 0, made.err
    before = roles_of(mailman_client, placed, alice(placed))
    assert ("dev", "member") in before  # nothing applied yet

    dev = site / "lists" / "dev.yaml"
    dev.write_text(dev.read_text() + "archive: private\n")
    assert "uncommitted" in run(*args, "--plan", str(saved)).err
    git(site, "checkout", "--", "lists/dev.yaml")
    legacy = mailman_client.get_list(f"legacy@{placed}")
    legacy.subscribe(alice(placed), pre_verified=True, pre_confirmed=True, pre_approved=True)
    stale = run(*args, "--plan", str(saved))
    assert stale.status == 1
    assert "stale or edited plan" in stale.err
    assert roles_of(mailman_client, placed, alice(placed)) == before | {("legacy", "member")}
    legacy.unsubscribe(alice(placed))

    applied = run(*args, "--plan", str(saved))
    assert applied.status == 0, applied.err
    assert roles_of(mailman_client, placed, alice(placed)) == {("dev", "owner"), ("solo", "owner")}
    assert run(*args, "--plan", str(saved)).status == 1  # once only: the files changed


def test_a_member_declared_in_a_roster_file_is_not_subscribed_again(
    run: Run, tmp_path: Path, domain: str, mailman_client: Client, connected: Proxy
) -> None:
    root = tmp_path / "site"
    club = "description: Club.\nvisibility: private\nowners: [bob@example.org]\n"
    write_site(
        root,
        {"club": club + "members_from: rosters/club.txt\n"},
        config=f"domain: {domain}\ndisabled_owner: devnull@example.org\n",
    )
    (root / "rosters").mkdir()
    roster = root / "rosters" / "club.txt"
    roster.write_text(f"# the club\n{alice(domain).upper()}  # chair\ncarol@example.org\n")
    init_repo(root)
    assert run("--root", str(root), "apply", "--yes").status == 0

    def members() -> set[str]:
        return {str(m.email) for m in mailman_client.get_list(f"club@{domain}").members}

    assert members() == {alice(domain), "carol@example.org"}
    shown = run("--root", str(root), "person", "show", alice(domain), "--format", "json")
    assert shown.status == 0, shown.err
    assert '"path": "rosters/club.txt"' in shown.out
    assert '"line": 2' in shown.out
    assert "carol" not in shown.out  # the other members of the roster are not shown

    result = run("--root", str(root), "person", "remove", alice(domain), "--yes")

    assert result.status == 0, result.err
    assert "rosters/club.txt:2: roster of club" in result.out
    assert roster.read_text() == "# the club\ncarol@example.org\n"
    assert members() == {"carol@example.org"}
    assert plan(run, root).status == 0  # no roster change: not subscribed again
    assert run("--root", str(root), "apply", "--yes").status == 0
    assert members() == {"carol@example.org"}
