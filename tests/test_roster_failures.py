"""A roster's failures against the real core: a failed write, a lost answer, a read that
fails or comes back short.

Each test arms the recording, fault-injecting proxy between listsync and the
core, then checks the server with Mailman's own client: a failed roster change
leaves the list no more open than before and the next apply completes the
roster exactly, without subscribing anyone twice; a lost answer is retried
harmlessly; a roster Mailman cannot be trusted to have read whole is never
planned from, so nobody is unsubscribed on its strength.
"""

from __future__ import annotations

import json
import re
import uuid
from pathlib import Path
from typing import Any

import pytest
from mailmanclient import Client

from helpers import Result, Run, apply, make_site, plan
from proxy import DROP, LOSE, Action, Proxy, Replaced, Rewritten, nth_write

pytestmark = pytest.mark.compat

FAST = ("--retries", "1", "--timeout", "2")
CREW = "description: The crew.\nsubscription: closed\nowners: [owner@example.org]\n"


@pytest.fixture
def fresh(domain: str) -> str:
    """A domain of this test run's own (the shared slug is cut before a parameter's id)."""
    return f"u{uuid.uuid4().hex[:8]}.{domain}"


def people(count: int, start: int = 0) -> list[str]:
    return [f"m{i:02d}@example.org" for i in range(start, start + count)]


def with_members(base: str, addresses: list[str], membership: str = "additive") -> str:
    listed = "".join(f"  - {address}\n" for address in addresses)
    return f"{base}membership: {membership}\nmembers:\n{listed}"


def members(client: Client, fqdn: str) -> list[str]:
    """The list's members as Mailman has them, lower case, sorted, duplicates kept."""
    return sorted(str(m.email).lower() for m in client.get_list(fqdn).members)


def live_settings(client: Client, fqdn: str) -> dict[str, Any]:
    settings = dict(client.get_list(fqdn).settings)
    for volatile in ("http_etag", "last_post_at", "volume", "next_digest_number"):
        settings.pop(volatile, None)
    return settings


def subscriptions(proxy: Proxy) -> int:
    """How many subscription requests reached the proxy (retries included)."""
    return sum(
        1 for method, path in proxy.recorder.requests if (method, path) == ("POST", "/3.1/members")
    )


def roster_reads(method: str, path: str, lid: str) -> bool:
    return method == "GET" and path.startswith(f"/3.1/lists/{lid}/roster/member")


def failure_lines(result: Result) -> list[str]:
    return [line for line in result.err.splitlines() if line.startswith("failed: ")]


def from_nth_write(start: int, action: Action) -> Any:
    """`action` on the start-th write and every write after it (retries included)."""
    seen = {"writes": 0}

    def fault(number: int, method: str, path: str) -> Action | None:
        if method == "GET":
            return None
        seen["writes"] += 1
        return action if seen["writes"] >= start else None

    return fault


FIFTH_WRITE_FAILS = [
    pytest.param(lambda: nth_write(5, 500), id="500"),
    pytest.param(lambda: from_nth_write(5, DROP), id="dropped-from-then-on"),
]


@pytest.mark.parametrize("make_fault", FIFTH_WRITE_FAILS)
def test_a_subscription_refused_midway_leaves_the_list_closed_and_the_next_apply_completes(
    run: Run, tmp_path: Path, fresh: str, connected: Proxy, mailman_client: Client, make_fault: Any
) -> None:
    fqdn = f"crew@{fresh}"
    site = make_site(tmp_path, fresh, {"crew": CREW})
    assert apply(run, site).status == 0
    before = live_settings(mailman_client, fqdn)
    roster = people(20)
    (site / "lists" / "crew.yaml").write_text(with_members(CREW, roster))

    connected.recorder.clear()
    connected.recorder.fault = make_fault()
    broken = apply(run, site, *FAST)

    assert broken.status == 1, broken.out + broken.err
    [failed] = failure_lines(broken)
    said = re.search(r"(\d+) of 20 members not subscribed", failed)
    assert said is not None, failed
    subscribed = members(mailman_client, fqdn)
    assert int(said[1]) == 20 - len(subscribed) > 0
    assert "[+ 20 members (members:; pre-approved, no welcome mail)]" in failed
    assert not any(address in broken.err for address in roster)  # the count, no address
    assert "Applied 0 list(s), 1 failed: crew." in broken.out
    assert live_settings(mailman_client, fqdn) == before
    assert set(subscribed) < set(roster)

    connected.recorder.fault = None
    connected.recorder.clear()
    finished = apply(run, site, *FAST)

    assert finished.status == 0, finished.out + finished.err
    assert subscriptions(connected) == int(said[1]), "only those not subscribed are asked for"
    assert members(mailman_client, fqdn) == roster  # each once
    assert live_settings(mailman_client, fqdn) == before
    assert plan(run, site).status == 0


LOST = [pytest.param(LOSE, id="lost"), pytest.param(Replaced(504), id="gateway-504")]


@pytest.mark.parametrize("loss", LOST)
def test_a_subscription_whose_answer_is_lost_is_retried_and_counts_as_done(
    run: Run, tmp_path: Path, fresh: str, connected: Proxy, mailman_client: Client, loss: Action
) -> None:
    fqdn = f"crew@{fresh}"
    site = make_site(tmp_path, fresh, {"crew": CREW})
    assert apply(run, site).status == 0
    roster = people(12)
    (site / "lists" / "crew.yaml").write_text(with_members(CREW, roster))

    connected.recorder.clear()
    connected.recorder.fault = nth_write(5, loss)
    result = apply(run, site, *FAST)

    assert result.status == 0, result.out + result.err
    assert subscriptions(connected) == 13, "the one whose answer was lost, sent again"
    assert members(mailman_client, fqdn) == roster  # each once
    connected.recorder.fault = None
    assert plan(run, site).status == 0


def first_bulk_removal(action: Action) -> Any:
    """`action` on the first bulk unsubscription (DELETE .../roster/member)."""
    seen = {"removals": 0}

    def fault(number: int, method: str, path: str) -> Action | None:
        if method == "DELETE" and path.endswith("/roster/member"):
            seen["removals"] += 1
            return action if seen["removals"] == 1 else None
        return None

    return fault


@pytest.mark.parametrize("loss", LOST)
def test_a_bulk_unsubscription_whose_answer_is_lost_is_retried_harmlessly(
    run: Run, tmp_path: Path, fresh: str, connected: Proxy, mailman_client: Client, loss: Action
) -> None:
    fqdn = f"crew@{fresh}"
    roster = people(10)
    site = make_site(tmp_path, fresh, {"crew": with_members(CREW, roster, "exact")})
    assert apply(run, site).status == 0
    kept = roster[:8]  # 2 of 10 go: within the site's limit of a quarter
    (site / "lists" / "crew.yaml").write_text(with_members(CREW, kept, "exact"))

    connected.recorder.clear()
    connected.recorder.fault = first_bulk_removal(loss)
    result = apply(run, site, *FAST)

    assert result.status == 0, result.out + result.err
    removals = [r for r in connected.recorder.writes if r[0] == "DELETE"]
    assert len(removals) == 2, "sent again once its answer was lost"
    assert members(mailman_client, fqdn) == kept
    connected.recorder.fault = None
    assert plan(run, site).status == 0


def failing_roster_read(lid: str, status: int) -> Any:
    """Every read of list `lid`'s member roster answered `status`; the rest go through."""

    def fault(number: int, method: str, path: str) -> Action | None:
        return status if roster_reads(method, path, lid) else None

    return fault


def test_a_roster_that_cannot_be_read_is_left_alone_and_the_other_lists_applied(
    run: Run, tmp_path: Path, fresh: str, connected: Proxy, mailman_client: Client
) -> None:
    old, new = people(4), people(4, start=4)
    lists = {
        "crew": with_members(CREW, old, "exact"),
        "deck": with_members(CREW.replace("crew", "deck"), old, "exact"),
    }
    site = make_site(tmp_path, fresh, lists)
    assert apply(run, site).status == 0
    for name in lists:
        (site / "lists" / f"{name}.yaml").write_text(
            with_members(CREW.replace("The crew", f"The {name}, renewed"), new, "exact")
        )

    connected.recorder.clear()
    connected.recorder.fault = failing_roster_read(f"crew.{fresh}", 500)
    result = apply(run, site, *FAST)

    assert result.status == 1, result.out + result.err
    assert members(mailman_client, f"crew@{fresh}") == old
    crew_writes = {(m, p.partition("?")[0]) for m, p in connected.recorder.writes if "crew" in p}
    assert crew_writes == {("PATCH", f"/3.1/lists/crew.{fresh}/config")}, "no roster write"
    assert members(mailman_client, f"deck@{fresh}") == new
    for name in lists:
        description = mailman_client.get_list(f"{name}@{fresh}").settings["description"]
        assert description == f"The {name}, renewed."
    [failed] = failure_lines(result)
    assert failed.startswith("failed: crew: members not changed: the live members could not")
    assert "(HTTP 500)" in failed
    assert "Applied 1 list(s), 1 failed: crew." in result.out


def short_roster(answer: bytes) -> bytes:
    """Mailman's member roster with its last entry left out, its total_size kept."""
    body = json.loads(answer)
    body["entries"] = body["entries"][:-1]
    return json.dumps(body).encode()


def test_a_roster_read_short_is_never_planned_from(
    run: Run, tmp_path: Path, fresh: str, connected: Proxy, mailman_client: Client
) -> None:
    fqdn = f"crew@{fresh}"
    roster = people(10)
    site = make_site(tmp_path, fresh, {"crew": with_members(CREW, roster, "exact")})
    assert apply(run, site).status == 0
    (site / "lists" / "crew.yaml").write_text(with_members(CREW, roster[:9], "exact"))

    def lie(number: int, method: str, path: str) -> Action | None:
        return Rewritten(short_roster) if roster_reads(method, path, f"crew.{fresh}") else None

    connected.recorder.clear()
    connected.recorder.fault = lie
    planned = plan(run, site, *FAST)
    applied = apply(run, site, *FAST)

    refusal = "members not changed: the live members could not be read whole: "
    read_short = "came back with 9 entries of 10: a roster read short is never planned from"
    assert planned.status == 1, planned.out + planned.err
    assert f"! {refusal}{fqdn}: Mailman's member roster {read_short}" in planned.out
    assert "1 roster(s) refused" in planned.out
    assert "- 1 member" not in planned.out
    assert applied.status == 1, applied.out + applied.err
    [failed] = failure_lines(applied)
    assert failed.startswith(f"failed: crew: {refusal}")
    assert read_short in failed
    assert connected.recorder.writes == []
    assert members(mailman_client, fqdn) == roster
