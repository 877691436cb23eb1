"""A merge request that changes only a roster file: its plan plans that list, names the
roster's commit, and (against the snapshot) shows counts from the files, no address."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from helpers import Run, apply, commit_all, git, init_repo, make_site, short

pytestmark = pytest.mark.usefixtures("core_env")

BOARD = ["alice@example.org", "bob@example.org", "carol@example.org"]
ALICE = "Alice Example <alice@example.org>"


def board_site(root: Path, domain: str) -> Path:
    (root / "rosters").mkdir(parents=True)
    (root / "rosters" / "board.txt").write_text("\n".join(BOARD) + "\n")
    return make_site(
        root,
        domain,
        {
            "board": "visibility: private\nowners: [chair@example.org]\n"
            "members_from: rosters/board.txt\nmembership: exact\n",
            "tor-dev": "owners: [teor@example.org]\n",
        },
    )


def test_a_roster_change_alone_is_planned_and_named_by_its_commit(
    run: Run, tmp_path: Path, domain: str
) -> None:
    site = board_site(tmp_path / "site", domain)
    init_repo(site)
    assert apply(run, site).status == 0
    git(site, "checkout", "--quiet", "-b", "rotate")
    (site / "rosters" / "board.txt").write_text(
        "alice@example.org\ncarol@example.org\ndan@example.org\n"
    )
    commit_all(site, "Rotate the board", author=ALICE)

    result = run("--root", str(site), "plan", "--changed-since", "main")
    assert result.status == 0, result.err
    assert "1 list changed since main" in result.out
    assert f"board@{domain} (update)" in result.out
    assert f"{short(site)} Alice Example: Rotate the board" in result.out
    assert "- bob@example.org" in result.out
    assert "+ dan@example.org" in result.out
    assert f"tor-dev@{domain}" not in result.out

    taken = tmp_path / "snapshot.json"
    assert run("--root", str(site), "snapshot", "--out", str(taken)).status == 0
    assert "@example.org" not in taken.read_text().replace("chair@example.org", "").replace(
        "teor@example.org", ""
    )
    review = run(
        "--root", str(site), "plan", "--live", str(taken), "--changed-since", "main",
        "--format", "json",
    )  # fmt: skip
    assert review.status == 0, review.err
    board = next(entry for entry in json.loads(review.out)["lists"] if entry["name"] == "board")
    assert board["roster_notes"] == [
        "members: 3 declared in rosters/board.txt (exact); the live members are not read here"
    ]
    assert board["roster_refused"] is False
    assert all(person not in review.out for person in (*BOARD, "dan@example.org"))


def test_an_uncommitted_roster_edit_is_planned_as_the_file_is(
    run: Run, tmp_path: Path, domain: str
) -> None:
    site = board_site(tmp_path / "site", domain)
    init_repo(site)
    assert apply(run, site).status == 0
    (site / "rosters" / "board.txt").write_text("alice@example.org\n")
    result = run("--root", str(site), "plan", "--changed-since", "main")
    assert result.status == 0, result.err
    assert f"board@{domain} (update)" in result.out
    assert "- 2 members of 3" in result.out
