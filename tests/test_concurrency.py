"""Concurrent apply against several REST workers (PostgreSQL by default), as production runs it.

A handful of people own and moderate many lists. On their first apply, every
one of them is new to Mailman, and the lists are applied concurrently: two
subscriptions of one new address served at once by two REST workers used to
insert it twice and fail one list with HTTP 500 (a unique violation in
Mailman's address table). Each round here uses people Mailman has never seen,
and must converge in one apply.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path

import pytest

import mailman_core as harness
from helpers import Run, StartCore, apply, connect, make_site, plan
from mailman_core import MailmanCore
from proxy import recording_proxy

pytestmark = pytest.mark.compat

ROUNDS = int(os.environ.get("LISTSYNC_STRESS_ROUNDS") or 20)
PEOPLE = 5
LISTS = 16


@pytest.fixture(scope="module", params=[2, 4], ids=lambda n: f"{n}-workers")
def busy_core(request: pytest.FixtureRequest, start_core: StartCore) -> Iterator[MailmanCore]:
    core = start_core(workers=request.param)
    try:
        yield core
    finally:
        core.stop()


def shared_people_site(root: Path, domain: str, people: list[str]) -> Path:
    """LISTS lists, each owned by three of `people` and moderated by the other two."""
    lists = {}
    for i in range(LISTS):
        turn = people[i % PEOPLE :] + people[: i % PEOPLE]
        lists[f"team-{i:02d}"] = (
            f"description: Team {i}.\nowners: [{', '.join(turn[:3])}]\n"
            f"moderators: [{', '.join(turn[3:])}]\n"
        )
    return make_site(root, domain, lists)


def test_lists_sharing_new_people_converge_in_one_apply(
    run: Run,
    tmp_path: Path,
    domain: str,
    busy_core: MailmanCore,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    assert busy_core.pid is not None
    # master, the REST runner's gunicorn arbiter, and its workers
    assert len(harness.group_members(busy_core.pid)) == 2 + busy_core.workers
    with recording_proxy(busy_core.url) as proxy:
        connect(monkeypatch, busy_core, proxy.url, lock_dir=tmp_path)
        for round_ in range(ROUNDS):
            round_domain = f"r{round_}.{domain}"
            people = [f"person{p}@{round_domain}" for p in range(PEOPLE)]
            site = shared_people_site(tmp_path / f"round-{round_}", round_domain, people)
            proxy.recorder.clear()
            # --force: each round's new domain sits beside the last round's
            applied = apply(run, site, "--retries", "0", "--force")
            assert applied.status == 0, f"round {round_}: {applied.err}"
            assert f"Applied {LISTS} list(s), 0 failed." in applied.out
            member_posts = [w for w in proxy.recorder.writes if w == ("POST", "/3.1/members")]
            assert len(member_posts) == LISTS * PEOPLE, "no subscription was retried"
            again = plan(run, site)
            assert again.status == 0, f"round {round_}: {again.out}"
