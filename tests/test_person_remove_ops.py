"""Removing a person from Mailman, against a real core: the safety of `person_plan`'s apply.

Each test makes a person's places on a core of its own domain with
mailmanclient (member, moderator, owner beside another owner, non-member
with an action), builds the plan from those memberships by hand, and
applies it through the recording, fault-injecting proxy. Checked with
Mailman's own client: nobody else is touched, already gone is done, a lost
answer, a 5xx or an outage stops the run saying what was and was not done
(and never erases while a list is unfinished) and the next run finishes;
the bans and the erasure are what they say. Last, real mail: a post to each
list the person was on reaches the others and not them.

Every test runs on the core that takes mail (one core for the file).
"""

from __future__ import annotations

from collections.abc import Iterator
from functools import partial
from urllib.error import HTTPError

import pytest
from mail import SmtpSink, post, wait_until
from mailmanclient import Client

from listsync.apply import LISTS_UNFINISHED, MAILMAN_AWAY, ApplyResult, apply_plan
from listsync.changes import EraseAddress, UnsubscribeMember
from listsync.mailman import MailmanBackend
from listsync.offboard_ops import OffboardError, owners_to_read, person_plan, read_owners
from listsync.people import Membership, Place
from listsync.plan import Plan
from mailman_core import MailmanCore
from proxy import LOSE, Action, Fault, Proxy, Replaced, nth_write, recording_proxy

pytestmark = pytest.mark.compat

OTHERS = ("alice@example.org", "bob@example.org")
ROLES = ("owner", "moderator", "member", "nonmember")
Rosters = dict[str, dict[str, list[str]]]


@pytest.fixture
def proxy(mail_core: MailmanCore) -> Iterator[Proxy]:
    with recording_proxy(mail_core.url) as running:
        yield running


def jane(domain: str) -> str:
    """The person removed: one of each domain's own (a site-wide ban outlives a test)."""
    return f"jane@{domain}"


def backend(core: MailmanCore, proxy: Proxy, *, attempts: int = 1) -> MailmanBackend:
    return MailmanBackend(
        proxy.url, core.user, core.password, timeout=5, attempts=attempts, backoff=0.01
    )


def make_places(client: Client, domain: str) -> list[Membership]:
    """Jane's places on three lists of `domain`, among others; her memberships, as
    `people` reads them."""
    client.create_domain(domain)
    alice, bob = OTHERS
    lists = {name: client.get_domain(domain).create_list(name) for name in ("dev", "board", "ops")}
    for mlist in lists.values():
        mlist.add_owner(bob)
        mlist.subscribe(alice, pre_verified=True, pre_confirmed=True, pre_approved=True)
    for name in ("dev", "board"):
        lists[name].subscribe(
            jane(domain), pre_verified=True, pre_confirmed=True, pre_approved=True
        )
    lists["dev"].add_moderator(jane(domain))
    lists["dev"].add_moderator(alice)
    lists["board"].add_owner(jane(domain))
    lists["ops"].add_role("nonmember", jane(domain))
    lists["ops"].add_role("nonmember", "bot@example.net")
    entry = next(m for m in lists["ops"].nonmembers if m.email == jane(domain))
    entry.moderation_action = "discard"
    entry.save()

    def at(name: str, role: Place, action: str | None = None) -> Membership:
        return Membership(
            name, f"{name}@{domain}", role, jane(domain), False, False, None, None, action
        )

    return [
        at("dev", Place.MEMBER),
        at("dev", Place.MODERATOR),
        at("board", Place.OWNER),
        at("board", Place.MEMBER),
        at("ops", Place.NONMEMBER, "discard"),
    ]


def rosters(client: Client, domain: str) -> Rosters:
    return {
        mlist.list_name: {
            role: sorted(str(m.email) for m in mlist.get_roster(role)) for role in ROLES
        }
        for mlist in client.get_domain(domain).get_lists()
    }


def without(before: Rosters, address: str) -> Rosters:
    return {
        name: {role: [a for a in people if a != address] for role, people in roles.items()}
        for name, roles in before.items()
    }


def address_exists(client: Client, address: str) -> bool:
    try:
        client.get_address(address)
    except HTTPError as error:
        if error.code == 404:
            return False
        raise
    return True


def site_bans(client: Client) -> set[str]:
    return {str(ban) for ban in client.bans}


def plan_for(
    core: MailmanCore,
    proxy: Proxy,
    domain: str,
    places: list[Membership],
    *,
    ban: bool = False,
    ban_global: bool = False,
    erase: bool = False,
) -> Plan:
    """Jane's plan, with the owners it needs read from the core."""
    needed = owners_to_read(places, erase=erase, only_private=False)
    owners = read_owners(backend(core, proxy), needed)
    return person_plan(
        domain,
        jane(domain),
        places,
        owners=owners,
        ban=ban,
        ban_global=ban_global,
        erase=erase,
        only_private=False,
    )


def test_removal_touches_nobody_else_bans_and_a_second_run_finds_it_done(
    mail_core: MailmanCore, mail_client: Client, proxy: Proxy, domain: str
) -> None:
    places = make_places(mail_client, domain)
    before = rosters(mail_client, domain)
    plan = plan_for(mail_core, proxy, domain, places, ban=True, ban_global=True)
    result = apply_plan(backend(mail_core, proxy), plan)
    assert result.ok, (result.failed, result.site)
    assert rosters(mail_client, domain) == without(before, jane(domain))
    for name in ("dev", "board", "ops"):
        assert [str(b) for b in mail_client.get_list(f"{name}@{domain}").bans] == [jane(domain)]
    assert jane(domain) in site_bans(mail_client)
    assert address_exists(mail_client, jane(domain)), "no erasure was asked for"

    proxy.recorder.clear()
    again = apply_plan(backend(mail_core, proxy), plan)
    assert again.ok, (again.failed, again.site)
    assert [(r.name, r.applied) for r in again.results] == [
        (lp.name, len(lp.changes)) for lp in plan.lists
    ]
    assert proxy.recorder.writes, "the second run sent its writes and found each done"
    assert rosters(mail_client, domain) == without(before, jane(domain))


def test_an_only_owner_is_refused_or_replaced_first(
    mail_core: MailmanCore, mail_client: Client, proxy: Proxy, domain: str
) -> None:
    places = make_places(mail_client, domain)
    mail_client.get_list(f"board@{domain}").remove_owner(OTHERS[1])
    before = rosters(mail_client, domain)
    with pytest.raises(OffboardError, match=f"only owner of board@{domain}"):
        plan_for(mail_core, proxy, domain, places)
    assert rosters(mail_client, domain) == before
    proxy.recorder.clear()
    needed = owners_to_read(places, erase=False, only_private=False)
    owners = read_owners(backend(mail_core, proxy), needed)
    plan = person_plan(
        domain,
        jane(domain),
        places,
        owners=owners,
        ban=False,
        ban_global=False,
        erase=False,
        only_private=False,
        replace_with="carol@example.org",
    )
    assert apply_plan(backend(mail_core, proxy), plan).ok
    assert rosters(mail_client, domain)["board"]["owner"] == ["carol@example.org"]
    board_writes = [
        w for w in proxy.recorder.writes if f"board.{domain}" in w[1] or "members" in w[1]
    ]
    assert board_writes[0] == ("POST", "/3.1/members"), "the new owner went in first"


def test_erasure_removes_the_address_and_its_user_or_keeps_a_user_with_another_address(
    mail_core: MailmanCore, mail_client: Client, proxy: Proxy, domain: str
) -> None:
    mail_client.create_user(jane(domain), "secret", "Jane Example")
    places = make_places(mail_client, domain)
    other = f"jane.home@{domain}"
    keeper = mail_client.create_user(f"keeper@{domain}", "secret")
    keeper.add_address(other)
    before = rosters(mail_client, domain)
    plan = plan_for(mail_core, proxy, domain, places, erase=True)
    assert plan.site_changes == (EraseAddress(jane(domain)),)
    result = apply_plan(backend(mail_core, proxy), plan)
    assert result.ok, (result.failed, result.site)
    assert not address_exists(mail_client, jane(domain))
    with pytest.raises(HTTPError):
        mail_client.get_user(jane(domain))
    assert rosters(mail_client, domain) == without(before, jane(domain))

    # a user with another address keeps it, and itself
    alone = person_plan(
        domain,
        other,
        [],
        owners={},
        ban=False,
        ban_global=False,
        erase=True,
        only_private=False,
    )
    assert apply_plan(backend(mail_core, proxy), alone).ok
    assert not address_exists(mail_client, other)
    assert [str(a) for a in mail_client.get_user(f"keeper@{domain}").addresses] == [
        f"keeper@{domain}"
    ]
    assert apply_plan(backend(mail_core, proxy), alone).ok, "erased already is done"


def outage_from(target: int) -> Fault:
    """Every request answered 503 from the target-th write on, as a gateway does."""
    seen = {"writes": 0}

    def fault(number: int, method: str, path: str) -> Action | None:
        if method != "GET":
            seen["writes"] += 1
        return 503 if seen["writes"] >= target else None

    return fault


FAULTS: dict[str, Action | None] = {
    "lost answer": LOSE,
    "500 after the write": Replaced(500),
    "outage": None,  # 503 for every request from the write on
}


@pytest.mark.parametrize("fault", FAULTS, ids=list(FAULTS))
def test_a_fault_at_any_write_stops_the_run_saying_what_was_done_and_the_next_run_finishes(
    mail_core: MailmanCore, mail_client: Client, proxy: Proxy, domain: str, fault: str
) -> None:
    domain = f"f{list(FAULTS).index(fault)}.{domain}"  # the fixture's slug ends before the id
    probe = f"probe.{domain}"
    probe_plan = plan_for(
        mail_core, proxy, probe, make_places(mail_client, probe), ban=True, erase=True
    )
    proxy.recorder.clear()
    assert apply_plan(backend(mail_core, proxy), probe_plan).ok
    writes = len(proxy.recorder.writes)
    assert writes >= 8, proxy.recorder.writes  # 3 bans, 2 unsubscriptions, 2 roles, 1 entry, erase
    for step in range(1, writes + 1):
        here = f"s{step}.{domain}"
        places = make_places(mail_client, here)
        before = rosters(mail_client, here)
        plan = plan_for(mail_core, proxy, here, places, ban=True, erase=True)
        proxy.recorder.clear()
        action = FAULTS[fault]
        proxy.recorder.fault = outage_from(step) if action is None else nth_write(step, action)
        broken = apply_plan(backend(mail_core, proxy), plan)
        proxy.recorder.fault = None
        assert not broken.ok, f"step {step}: {broken}"
        explain(broken, step)
        others = without(before, jane(here))
        now = rosters(mail_client, here)
        for name, roles in now.items():
            for role, people in roles.items():
                assert set(people) - {jane(here)} == set(others[name][role]), (step, name, role)
        unfinished = [r for r in broken.results if not r.ok]
        if unfinished:
            assert all(not s.started for s in broken.site), f"step {step}: erased too early"
            assert address_exists(mail_client, jane(here)), f"step {step}: erased too early"
        finished = apply_plan(backend(mail_core, proxy), plan)
        assert finished.ok, f"step {step}: {finished}"
        assert rosters(mail_client, here) == others
        assert not address_exists(mail_client, jane(here))


def explain(result: ApplyResult, step: int) -> None:
    """The result names what was and was not done."""
    for item in result.results:
        if not item.ok:
            assert item.error, step
            if item.started:
                assert item.failed_change is not None, step
    for site in result.site:
        if not site.done:
            assert site.error, step
    if any(not r.ok for r in result.results):
        assert all(s.error in (LISTS_UNFINISHED, f"not run: {MAILMAN_AWAY}") for s in result.site)


def test_erasure_never_runs_when_an_unsubscription_failed(
    mail_core: MailmanCore, mail_client: Client, proxy: Proxy, domain: str
) -> None:
    places = make_places(mail_client, domain)
    plan = plan_for(mail_core, proxy, domain, places, erase=True, ban_global=True)

    def refuse_board_unsubscription(number: int, method: str, path: str) -> Action | None:
        board = f"board.{domain}/roster/member"
        return 500 if method == "DELETE" and path.endswith(board) else None

    proxy.recorder.fault = refuse_board_unsubscription
    result = apply_plan(backend(mail_core, proxy, attempts=3), plan)
    proxy.recorder.fault = None
    assert [r.name for r in result.failed] == ["board"]
    assert isinstance(result.failed[0].failed_change, UnsubscribeMember)
    assert [(type(s.change).__name__, s.started, s.error) for s in result.site] == [
        ("BanSite", False, LISTS_UNFINISHED),
        ("EraseAddress", False, LISTS_UNFINISHED),
    ]
    assert address_exists(mail_client, jane(domain))
    assert jane(domain) in [str(m.email) for m in mail_client.get_list(f"board@{domain}").members]
    assert jane(domain) not in site_bans(mail_client)
    assert apply_plan(backend(mail_core, proxy), plan).ok
    assert not address_exists(mail_client, jane(domain))
    assert jane(domain) in site_bans(mail_client)


def test_after_removal_posts_reach_the_others_and_never_the_person(
    mail_core: MailmanCore,
    mail_client: Client,
    smtp_sink: SmtpSink,
    proxy: Proxy,
    domain: str,
) -> None:
    places = make_places(mail_client, domain)
    alice = OTHERS[0]

    def delivered_to_alice(subject: str) -> set[str]:
        """The post's recipients, once it reached alice (each list delivers it in one go)."""
        got = smtp_sink.recipients(lambda m: str(m["Subject"]).endswith(subject))
        return got if alice in got else set()

    for name in ("dev", "board"):  # before: Jane gets the posts
        subject = f"Before {name} {domain}"
        post(mail_core, f"{name}@{domain}", alice, subject)
        got = wait_until(f"the post to {name} delivered", partial(delivered_to_alice, subject))
        assert jane(domain) in got, name
    plan = plan_for(mail_core, proxy, domain, places, ban=True)
    assert apply_plan(backend(mail_core, proxy), plan).ok
    for name in ("dev", "board", "ops"):
        subject = f"After {name} {domain}"
        post(mail_core, f"{name}@{domain}", alice, subject)
        got = wait_until(f"the post to {name} delivered", partial(delivered_to_alice, subject))
        assert alice in got
        assert jane(domain) not in got, name
