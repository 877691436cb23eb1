"""What apply prints about failures, from results built in memory (pure)."""

from __future__ import annotations

from listsync.apply import ApplyResult, ListResult
from listsync.changes import AddMember, Role
from listsync.results import applied_lines

REFUSED = "HTTP 400: Bad Request"


def test_lists_that_failed_alike_share_one_line_and_the_others_keep_theirs() -> None:
    owner = AddMember(Role.OWNER, "alice@example.org")
    results = ApplyResult(
        (
            ListResult("tor-bugs", 0, REFUSED, owner),
            ListResult("tor-commits", 0, REFUSED, owner),
            ListResult("tor-dev", 2, REFUSED, owner),
            ListResult("tor-relays", 0, "HTTP 500", owner),
            ListResult("tor-wiki-changes", 0, REFUSED, owner),
            ListResult("tor-talk", 3),
        )
    )
    lines = applied_lines(results)
    failed = [line for line in lines if line.startswith("failed: ")]
    assert failed[0] == (
        f"failed: tor-bugs, tor-commits, tor-wiki-changes: {REFUSED} [+ owner alice@example.org]"
    )
    assert any(line.startswith("failed: tor-dev after 2 change(s): ") for line in failed)
    assert any(line.startswith("failed: tor-relays: HTTP 500") for line in failed)
    assert len(failed) == 3
    assert lines[-1].startswith("Applied 1 list(s), 5 failed: ")
