"""The file side of offboarding: which files name a person, the edits, and writing them
with the files' layout kept. Pure: files in a temporary directory, a temporary git
repository, no Mailman."""

from __future__ import annotations

import json
from pathlib import Path, PurePosixPath

import pytest

from helpers import git, write_site
from listsync.errors import InvalidSiteError
from listsync.gitinfo import GitError, require_site_repo
from listsync.load import load_valid_site
from listsync.offboard_files import (
    EditedField,
    FileEdits,
    OffboardingError,
    StaleFile,
    WouldEmptyRoster,
    WouldLeaveOwnerless,
    plan_file_edits,
    write_file_edits,
)

COMMENTED = """\
# The developers' list.
description: "Tor development"   # kept quoted
owners:
  # leads first
  - Alice Liddell <Alice@Example.org>  # she leaves
  - 'bob@example.org'
moderators:
  - carol@example.org
  - alice@example.org
nonmembers:
  alice@example.org: accept  # her bot
  dave@example.org: hold
dmarc:
    mitigation: none
settings:
  max_message_size: 40   # KiB
"""
FLOW = """\
---
owners: [alice@example.org, bob@example.org]
moderators: [ALICE@example.org]
nonmembers: {alice@example.org: hold, erin@example.org: accept}
"""
SOLE = "description: Alice's own\nowners:\n- alice@example.org\n"
SOLE_BESIDE_DISABLED_OWNER = "owners: [alice@example.org, devnull@example.org]\n"
UNRELATED = "owners: [bob@example.org]\n"
PRIVATE = "visibility: private\nowners: [alice@example.org]\n"
PRIVATE_ARCHIVE = "archive: private\nowners: [alice@example.org, bob@example.org]\n"
DISABLED = "disabled: true\nowners: [alice@example.org]\n"


def site_at(root: Path, **lists: str) -> Path:
    return write_site(root, {name.replace("_", "-"): text for name, text in lists.items()})


def plan(root: Path, address: str = "alice@example.org", **options: object) -> FileEdits:
    site, _ = load_valid_site(root)
    replace_with = options.get("replace_with")
    return plan_file_edits(
        site,
        address,
        replace_with=None if replace_with is None else str(replace_with),
        only_private=bool(options.get("only_private", False)),
    )


def text_of(root: Path, name: str) -> str:
    return (root / "lists" / f"{name}.yaml").read_text()


def test_removed_from_each_field_layout_kept_elsewhere(tmp_path: Path) -> None:
    root = site_at(tmp_path, tor_dev=COMMENTED, flow=FLOW)
    edits = plan(root)
    assert [(e.list_name, e.field, e.removed, e.line) for e in edits.edits] == [
        ("flow", EditedField.OWNERS, "alice@example.org", 2),
        ("flow", EditedField.MODERATORS, "ALICE@example.org", 3),
        ("flow", EditedField.NONMEMBERS, "alice@example.org", 4),
        ("tor-dev", EditedField.OWNERS, "Alice Liddell <Alice@Example.org>", 5),
        ("tor-dev", EditedField.MODERATORS, "alice@example.org", 9),
        ("tor-dev", EditedField.NONMEMBERS, "alice@example.org", 11),
    ]
    assert all(e.replacement is None for e in edits.edits)  # bob remains owner of both

    written = write_file_edits(root, edits)

    assert written == [PurePosixPath("lists/flow.yaml"), PurePosixPath("lists/tor-dev.yaml")]
    # Byte for byte: only the removed lines go; comments, quotes, indentation stay.
    assert text_of(root, "tor-dev") == "".join(
        line
        for number, line in enumerate(COMMENTED.splitlines(keepends=True), start=1)
        if number not in {5, 9, 11}
    )
    assert text_of(root, "flow") == (
        "---\nowners: [bob@example.org]\nmoderators: []\nnonmembers: {erin@example.org: accept}\n"
    )
    site, _ = load_valid_site(root)  # still valid
    assert site.lists["tor-dev"].spec.owners == ["bob@example.org"]
    assert site.lists["tor-dev"].spec.nonmembers == {"dave@example.org": "hold"}
    assert site.lists["flow"].spec.moderators == []


def test_case_insensitive_match_of_the_subject(tmp_path: Path) -> None:
    root = site_at(tmp_path, flow=FLOW)
    edits = plan(root, "Alice <ALICE@EXAMPLE.ORG>")
    assert edits.address == "alice@example.org"
    assert len(edits.edits) == 3


def test_sole_owner_without_replacement_names_every_list_and_writes_nothing(
    tmp_path: Path,
) -> None:
    root = site_at(
        tmp_path, solo=SOLE, beside=SOLE_BESIDE_DISABLED_OWNER, other=UNRELATED, flow=FLOW
    )
    before = {p.name: p.read_bytes() for p in (root / "lists").iterdir()}
    with pytest.raises(WouldLeaveOwnerless) as refused:
        plan(root)
    # The site's disabled_owner does not count as an owner of an enabled list.
    assert refused.value.lists == ("beside", "solo")
    assert "beside, solo" in str(refused.value)
    assert "--replace-with" in str(refused.value)
    assert {p.name: p.read_bytes() for p in (root / "lists").iterdir()} == before


def test_replacement_only_where_the_subject_was_the_only_owner(tmp_path: Path) -> None:
    root = site_at(tmp_path, solo=SOLE, beside=SOLE_BESIDE_DISABLED_OWNER, flow=FLOW)
    edits = plan(root, replace_with="Nora <NEW@example.org>")
    replaced = {(e.list_name, e.field): e.replacement for e in edits.edits}
    assert replaced[("solo", EditedField.OWNERS)] == "Nora <new@example.org>"
    assert replaced[("beside", EditedField.OWNERS)] == "Nora <new@example.org>"
    assert replaced[("flow", EditedField.OWNERS)] is None  # bob remains: NEW not added
    assert "lists/solo.yaml:3: owners: - alice@example.org + Nora <new@example.org>" in (
        edits.lines()
    )

    write_file_edits(root, edits)

    assert text_of(root, "solo") == "description: Alice's own\nowners:\n- Nora <new@example.org>\n"
    assert text_of(root, "beside") == "owners: [Nora <new@example.org>, devnull@example.org]\n"
    site, _ = load_valid_site(root)
    assert site.lists["flow"].spec.owners == ["bob@example.org"]


def test_replacement_already_an_owner_is_only_removal(tmp_path: Path) -> None:
    root = site_at(tmp_path, flow=FLOW)
    edits = plan(root, replace_with="bob@example.org")
    assert [e.replacement for e in edits.edits] == [None, None, None]


def test_only_private_leaves_public_lists_alone(tmp_path: Path) -> None:
    root = site_at(tmp_path, public=FLOW, hidden=PRIVATE, closed_archive=PRIVATE_ARCHIVE)
    edits = plan(root, replace_with="bob@example.org", only_private=True)
    # Public: advertised and a public archive; a private archive is enough to be private.
    assert edits.lists == ("closed-archive", "hidden")
    write_file_edits(root, edits)
    assert text_of(root, "public") == FLOW


def test_disabled_list_loses_the_address_without_replacement(tmp_path: Path) -> None:
    root = site_at(tmp_path, retired=DISABLED)
    edits = plan(root)
    assert [(e.list_name, e.replacement) for e in edits.edits] == [("retired", None)]
    write_file_edits(root, edits)
    assert text_of(root, "retired") == "disabled: true\nowners: []\n"
    load_valid_site(root)


def test_disabled_owner_cannot_be_offboarded_nor_be_the_replacement(tmp_path: Path) -> None:
    root = site_at(tmp_path, solo=SOLE)
    with pytest.raises(OffboardingError, match="disabled_owner"):
        plan(root, "devnull@example.org")
    with pytest.raises(OffboardingError, match="disabled_owner"):
        plan(root, replace_with="devnull@example.org")
    with pytest.raises(OffboardingError, match="being removed"):
        plan(root, replace_with="ALICE@example.org")
    with pytest.raises(OffboardingError, match="--replace-with"):
        plan(root, replace_with="not an address")


def test_edit_that_would_make_a_file_invalid_is_refused_at_plan_time(tmp_path: Path) -> None:
    banned = "owners: [alice@example.org]\nbans: ['^new@example\\.org$']\n"
    root = site_at(tmp_path, banning=banned)
    with pytest.raises(InvalidSiteError) as refused:
        plan(root, replace_with="new@example.org")
    assert [p.path for p in refused.value.problems] == ["lists/banning.yaml"]


def test_stale_file_is_refused_and_nothing_written(tmp_path: Path) -> None:
    root = site_at(tmp_path, flow=FLOW, tor_dev=COMMENTED)
    edits = plan(root)
    changed = text_of(root, "tor-dev").replace("# leads first", "# leads")
    (root / "lists" / "tor-dev.yaml").write_text(changed)
    with pytest.raises(StaleFile, match=r"lists/tor-dev\.yaml"):
        write_file_edits(root, edits)
    assert text_of(root, "flow") == FLOW  # not even the file that did not change
    assert text_of(root, "tor-dev") == changed


def test_second_run_changes_nothing(tmp_path: Path) -> None:
    root = site_at(tmp_path, tor_dev=COMMENTED, solo=SOLE, flow=FLOW)
    write_file_edits(root, plan(root, replace_with="new@example.org"))
    after = {p.name: p.read_bytes() for p in (root / "lists").iterdir()}
    again = plan(root, replace_with="new@example.org")
    assert not again
    assert write_file_edits(root, again) == []
    assert {p.name: p.read_bytes() for p in (root / "lists").iterdir()} == after


def test_redacted_lines_show_the_subject_and_mask_the_replacement(tmp_path: Path) -> None:
    root = site_at(tmp_path, solo=SOLE)
    edits = plan(root, replace_with="nora@example.org")
    shown = edits.redacted()
    assert shown.lines() == ["lists/solo.yaml:3: owners: - alice@example.org + n***@example.org"]
    assert "nora@" not in json.dumps(shown.as_json())
    with pytest.raises(OffboardingError, match="redacted"):
        write_file_edits(root, shown)


def test_saved_edits_hold_no_digest_and_are_planned_again_to_be_written(tmp_path: Path) -> None:
    root = site_at(tmp_path, solo=SOLE)
    edits = plan(root, replace_with="nora@example.org")
    document = json.loads(json.dumps(edits.as_json()))
    # A digest of a private file would let whoever reads the saved removal test guesses.
    assert all("sha256" not in edit for edit in document["edits"])
    saved = FileEdits.from_json(document)
    assert saved.as_json() == edits.as_json()  # what a re-plan is compared with
    with pytest.raises(StaleFile, match="plan again"):
        write_file_edits(root, saved)
    assert text_of(root, "solo") == SOLE


def test_mixed_indentation_and_comments_below_removed_entries_are_kept(tmp_path: Path) -> None:
    text = (
        "owners:\n"
        "  - bob@example.org\n"
        "  - alice@example.org   # leaving\n"
        "  # carol joins in May\n"
        "moderators:\n"
        "- alice@example.org\n"
        "# about dave\n"
        "- dave@example.org\n"
        "dmarc:\n"
        "      mitigation: none\n"
    )
    root = site_at(tmp_path, mixed=text)
    write_file_edits(root, plan(root))
    assert text_of(root, "mixed") == (
        "owners:\n"
        "  - bob@example.org\n"
        "  # carol joins in May\n"
        "moderators:\n"
        "# about dave\n"
        "- dave@example.org\n"
        "dmarc:\n"
        "      mitigation: none\n"
    )


def test_comment_that_cannot_be_kept_is_refused_before_writing(tmp_path: Path) -> None:
    # ruamel keeps the comment below the first key with that key, and has no place for it.
    text = "owners: [bob@example.org]\nnonmembers:\n  alice@example.org: hold\n  # spam\n"
    root = site_at(tmp_path, spam=text)
    with pytest.raises(OffboardingError, match=r"lists/spam\.yaml: .*edit this file by hand"):
        plan(root)
    assert text_of(root, "spam") == text


def _repo(root: Path) -> None:
    git(root, "init", "--quiet", "--initial-branch=main")
    git(root, "config", "user.name", "Listmaster")
    git(root, "config", "user.email", "listmaster@example.org")
    git(root, "add", ".")
    git(root, "commit", "--quiet", "-m", "site")


def test_commit_on_new_branch_commits_only_the_edited_files(tmp_path: Path) -> None:
    root = site_at(tmp_path, solo=SOLE, flow=FLOW, other=UNRELATED)
    _repo(root)
    (root / "lists" / "other.yaml").write_text(UNRELATED + "description: draft\n")
    edits = plan(root, replace_with="nora@example.org")
    written = write_file_edits(root, edits)
    repo = require_site_repo(root)

    sha = repo.commit_on_new_branch("offboard-alice", written, edits.commit_message())

    assert git(root, "rev-parse", "HEAD") == sha
    assert git(root, "branch", "--show-current") == "offboard-alice"
    committed = git(root, "show", "--name-only", "--format=%s", "HEAD").splitlines()
    assert committed[0] == "Offboard alice@example.org: removed from 2 list file(s)"
    assert sorted(committed[2:]) == ["lists/flow.yaml", "lists/solo.yaml"]
    # The unrelated draft stays uncommitted in the work tree.
    assert git(root, "status", "--porcelain") == "M lists/other.yaml"
    assert git(root, "rev-parse", "main") == git(root, "rev-parse", "HEAD~1")


def test_commit_on_new_branch_refuses_existing_branch_and_staged_changes(tmp_path: Path) -> None:
    root = site_at(tmp_path, solo=SOLE)
    _repo(root)
    git(root, "branch", "taken")
    written = write_file_edits(root, plan(root, replace_with="nora@example.org"))
    repo = require_site_repo(root)
    with pytest.raises(GitError, match="exists already"):
        repo.commit_on_new_branch("taken", written, "x")
    git(root, "add", "lists/solo.yaml")
    with pytest.raises(GitError, match="staged"):
        repo.commit_on_new_branch("offboard-alice", written, "x")
    assert git(root, "branch", "--show-current") == "main"
    assert "offboard-alice" not in git(root, "branch", "--list")


def test_failed_commit_leaves_the_branch_and_files_as_before(tmp_path: Path) -> None:
    root = site_at(tmp_path, solo=SOLE)
    _repo(root)
    edits = plan(root, replace_with="nora@example.org")
    written = write_file_edits(root, edits)
    repo = require_site_repo(root)
    assert repo.uncommitted_among(written) == ("lists/solo.yaml",)
    hook = root / ".git" / "hooks" / "pre-commit"
    hook.write_text("#!/bin/sh\nexit 1\n")
    hook.chmod(0o755)
    with pytest.raises(GitError, match="git commit failed"):
        repo.commit_on_new_branch("offboard-alice", written, edits.commit_message())
    assert git(root, "branch", "--show-current") == "main"
    assert "offboard-alice" not in git(root, "branch", "--list")
    assert git(root, "status", "--porcelain") == "M lists/solo.yaml"  # not staged, kept


def test_redacted_commit_message_masks_every_address(tmp_path: Path) -> None:
    root = site_at(tmp_path, solo=SOLE)
    message = plan(root, replace_with="nora@example.org").commit_message(redact_addresses=True)
    assert message.startswith("Offboard a***@example.org: removed from 1 list file(s)\n")
    assert "alice@" not in message
    assert "nora@" not in message


# -- declared members: members: and roster files ------------------------------------------

MEMBERS = """\
owners: [bob@example.org]
membership: exact
members:
  # the board
  - carol@example.org
  - address: Alice@Example.org   # chair until May
    delivery_mode: mime_digests
  - dave@example.org
"""
PLAIN_ROSTER = (
    "# board, 2024\r\ncarol@example.org\r\nALICE@example.org  # chair\r\n\r\ndave@example.org\r\n"
)
CSV_ROSTER = (
    'name,email\n"Carol, C.",carol@example.org\n"Alice\nLiddell",alice@example.org\n'
    "Dave,dave@example.org\n"
)


def roster_site(root: Path, roster: str, name: str = "board.txt", **lists: str) -> Path:
    site_at(root, **lists)
    (root / "rosters").mkdir()
    (root / "rosters" / name).write_bytes(roster.encode())
    return root


def test_a_declared_member_leaves_members_entry_and_comments_kept(tmp_path: Path) -> None:
    root = site_at(tmp_path, board=MEMBERS)
    edits = plan(root)
    assert [(e.field, e.removed, e.line) for e in edits.edits] == [
        (EditedField.MEMBERS, "Alice@Example.org", 6)
    ]
    write_file_edits(root, edits)
    assert text_of(root, "board") == MEMBERS.replace(
        "  - address: Alice@Example.org   # chair until May\n    delivery_mode: mime_digests\n",
        "",
    )
    site, _ = load_valid_site(root)
    assert site.effective("board").members is not None
    assert [m.address for m in site.effective("board").members or ()] == [
        "carol@example.org",
        "dave@example.org",
    ]


def test_a_plain_roster_file_loses_exactly_that_line(tmp_path: Path) -> None:
    lists = {"board": "owners: [bob@example.org]\nmembers_from: rosters/board.txt\n"}
    root = roster_site(tmp_path, PLAIN_ROSTER, **lists)
    edits = plan(root)
    assert edits.lines() == ["rosters/board.txt:3: roster of board: - ALICE@example.org"]
    assert write_file_edits(root, edits) == [PurePosixPath("rosters/board.txt")]
    # Byte for byte: CRLF line ends, the comment and the blank line stay.
    assert (root / "rosters" / "board.txt").read_bytes() == (
        b"# board, 2024\r\ncarol@example.org\r\n\r\ndave@example.org\r\n"
    )
    assert text_of(root, "board") == lists["board"]
    assert not plan(root)


def test_a_csv_roster_loses_the_whole_row_even_across_lines(tmp_path: Path) -> None:
    lists = {
        "board": "owners: [bob@example.org]\nmembers_from: rosters/board.csv\n",
        "council": "owners: [bob@example.org]\nmembers_from: rosters/board.csv\n",
    }
    root = roster_site(tmp_path, CSV_ROSTER, "board.csv", **lists)
    edits = plan(root)
    # A shared roster file: one entry per list reading it, one edit of the file.
    assert edits.lines() == [
        "rosters/board.csv:3: roster of board: - alice@example.org",
        "rosters/board.csv:3: roster of council: - alice@example.org",
    ]
    assert write_file_edits(root, edits) == [PurePosixPath("rosters/board.csv")]
    assert (root / "rosters" / "board.csv").read_text() == (
        'name,email\n"Carol, C.",carol@example.org\nDave,dave@example.org\n'
    )


def test_a_roster_is_never_emptied(tmp_path: Path) -> None:
    alone = "owners: [bob@example.org]\nmembership: exact\nmembers: [alice@example.org]\n"
    from_file = "owners: [bob@example.org]\nmembers_from: rosters/board.txt\n"
    root = roster_site(tmp_path, "# only her\nalice@example.org\n", alone=alone, board=from_file)
    before = {p: p.read_bytes() for p in root.rglob("*") if p.is_file()}
    with pytest.raises(WouldEmptyRoster) as refused:
        plan(root)
    assert refused.value.rosters == (
        "members: of alone (lists/alone.yaml)",
        "rosters/board.txt (members_from of board)",
    )
    assert "unsubscribes everyone" in str(refused.value)
    assert {p: p.read_bytes() for p in root.rglob("*") if p.is_file()} == before


def test_only_private_refuses_a_roster_file_a_public_list_reads_too(tmp_path: Path) -> None:
    lists = {
        "board": "visibility: private\nowners: [bob@example.org]\nmembers_from: rosters/b.txt\n",
        "news": "owners: [bob@example.org]\nmembers_from: rosters/b.txt\n",
    }
    root = roster_site(tmp_path, "alice@example.org\ncarol@example.org\n", "b.txt", **lists)
    with pytest.raises(OffboardingError, match="news is public: --only-private"):
        plan(root, only_private=True)


def test_a_roster_file_changed_since_the_plan_is_stale(tmp_path: Path) -> None:
    lists = {"board": "owners: [bob@example.org]\nmembers_from: rosters/board.txt\n"}
    root = roster_site(tmp_path, PLAIN_ROSTER, **lists)
    edits = plan(root)
    changed = PLAIN_ROSTER.replace("# board, 2024", "# board, 2025")
    (root / "rosters" / "board.txt").write_bytes(changed.encode())
    with pytest.raises(StaleFile, match=r"rosters/board\.txt"):
        write_file_edits(root, edits)
    assert (root / "rosters" / "board.txt").read_bytes() == changed.encode()


def test_redacted_roster_edits_show_only_the_subject(tmp_path: Path) -> None:
    lists = {"board": "owners: [bob@example.org]\nmembers_from: rosters/board.csv\n"}
    root = roster_site(tmp_path, CSV_ROSTER, "board.csv", **lists)
    shown = json.dumps(plan(root).redacted().as_json())
    assert "alice@example.org" in shown
    assert "carol" not in shown
    assert "dave" not in shown
    assert "Liddell" not in shown
