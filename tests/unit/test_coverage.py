"""What a list's desired state covers (`ListState.covers`), and that reading and the diff
agree on it (pure).

A list file manages a detail (templates, non-members, header filters, bans)
by declaring it, or leaves it alone by not: `covers` is that one rule. The
diff compares what a state covers and nothing else; a plan reads what it
covers (and the bans of a list it disables). Were the reading to leave out
something the diff compares, a re-plan would differ from the plan it checks
and a fresh saved plan would be refused as edited.
"""

from __future__ import annotations

from dataclasses import replace
from typing import Any

import pytest
from examples import examples
from hypothesis import HealthCheck, given, settings
from list_states import (
    DISABLED_OWNER,
    DOMAIN,
    FOOTER,
    PEOPLE,
    SITE,
    TEMPLATE_URLS,
    WELCOME,
    Case,
    cases,
)
from memory_backend import new_list_settings, snapshot

from listsync.acceptance import DISABLE_BAN, HeaderRule
from listsync.importer import ImportFailed, details_to_declare, render_list, verify
from listsync.models import ListSpec, SiteConfig, effective
from listsync.plan import diff_list
from listsync.policy import DETAILS, Detail, ListState, desired_state, reads_bans
from listsync.reconcile import details_to_read

CASES = settings(
    max_examples=examples(150), deadline=None, suppress_health_check=[HealthCheck.too_slow]
)
BARE_SITE = SiteConfig.model_validate({"domain": DOMAIN, "disabled_owner": DISABLED_OWNER})
"""A site that sets no template for its lists."""


def state_of(spec: dict[str, Any], config: SiteConfig = BARE_SITE) -> ListState:
    """The desired state of tor-dev with the file `spec` (owners added), as `plan` makes it."""
    full = {"owners": [PEOPLE[0]], **spec}
    listed = effective("tor-dev", ListSpec.model_validate(full), config)
    return desired_state(listed, config.disabled_owner, TEMPLATE_URLS)


@pytest.mark.parametrize(
    ("spec", "covered"),
    [
        ({}, set()),
        ({"nonmembers": {}}, {Detail.NONMEMBERS}),
        ({"nonmembers": {PEOPLE[1]: "accept"}}, {Detail.NONMEMBERS}),
        ({"header_filters": []}, {Detail.HEADER_FILTERS}),
        ({"header_filters": [{"header": "X-Spam", "pattern": "yes"}]}, {Detail.HEADER_FILTERS}),
        ({"bans": []}, {Detail.BANS}),
        ({"bans": [PEOPLE[2]]}, {Detail.BANS}),
        ({"templates": {WELCOME: "templates/welcome.txt"}}, {Detail.TEMPLATES}),
        ({"templates": {WELCOME: None}}, {Detail.TEMPLATES}),  # Mailman's own text, declared
        ({"disabled": True}, set()),
        (
            {"nonmembers": {}, "header_filters": [], "bans": [], "templates": {WELCOME: None}},
            set(DETAILS - {Detail.MEMBERS}),  # a roster is read apart: test_roster_plan.py
        ),
    ],
)
def test_a_state_covers_what_its_file_declares(spec: dict[str, Any], covered: set[Detail]) -> None:
    assert state_of(spec).covers() == covered


def test_a_site_template_is_covered_by_every_list_of_the_site() -> None:
    assert state_of({}, SITE).covers() == {Detail.TEMPLATES}
    assert state_of({"templates": {FOOTER: None}}, SITE).covers() == {Detail.TEMPLATES}


def test_a_plan_reads_the_bans_of_a_list_it_disables_without_managing_them() -> None:
    disabled = state_of({"disabled": True})
    assert Detail.BANS not in disabled.covers()
    assert disabled.details_to_read() == {Detail.BANS}
    assert state_of({}).details_to_read() == set()
    assert details_to_read({"tor-dev": state_of({}), "announce": disabled}) == {
        "announce": {Detail.BANS}
    }


def test_bans_are_read_when_asked_for_or_when_the_live_list_looks_retired() -> None:
    open_list = new_list_settings(f"tor-dev@{DOMAIN}")
    assert not reads_bans({Detail.TEMPLATES}, open_list)
    assert reads_bans({Detail.BANS}, open_list)
    assert reads_bans((), {**open_list, "emergency": True})
    assert reads_bans(
        (), {**open_list, "default_member_action": "reject", "default_nonmember_action": "discard"}
    )


def uncovered_dropped(live: ListState, desired: ListState) -> ListState:
    """`live` without what `desired` does not cover: the bans but the disable ban, the
    other details None (not read)."""
    covered = desired.covers()
    return replace(
        live,
        bans=live.bans if Detail.BANS in covered else live.bans & {DISABLE_BAN},
        templates=live.templates if Detail.TEMPLATES in covered else None,
        nonmembers=live.nonmembers if Detail.NONMEMBERS in covered else None,
        header_filters=live.header_filters if Detail.HEADER_FILTERS in covered else None,
    )


@CASES
@given(cases())
def test_the_diff_compares_only_what_a_state_covers(case: Case) -> None:
    for name, desired in case.desired.items():
        live = case.live.get(name)
        if live is not None:
            assert diff_list(desired, live) == diff_list(desired, uncovered_dropped(live, desired))


@CASES
@given(cases())
def test_the_snapshot_reads_what_the_diff_compares(case: Case) -> None:
    """Planning against what a plan reads of a snapshot (`Snapshot.read_site`, as
    `MailmanBackend.read_site` reads Mailman) gives the plan of the whole live state."""
    held = snapshot(DOMAIN, case.live, domain_exists=case.domain_exists)
    wanted = details_to_read(case.desired)
    read = held.read_site(DOMAIN, case.desired, everything=True, details=wanted).lists
    for name, desired in case.desired.items():
        assert diff_list(desired, read.get(name)) == diff_list(desired, case.live.get(name))
        state = read.get(name)
        if state is not None:  # and nothing it does not cover, but bans that look retired
            asked = wanted.get(name, frozenset())
            assert (state.templates is not None) == (Detail.TEMPLATES in asked)
            assert (state.nonmembers is not None) == (Detail.NONMEMBERS in asked)
            assert (state.header_filters is not None) == (Detail.HEADER_FILTERS in asked)
            assert asked <= desired.covers() | {Detail.BANS}


def held_list(**details: Any) -> ListState:
    """tor-dev as Mailman holds it once created, every detail read, with `details`."""
    fqdn = f"tor-dev@{DOMAIN}"
    held: dict[str, Any] = {"templates": {}, "nonmembers": {}, "header_filters": ()}
    settings = new_list_settings(fqdn)
    return ListState(fqdn=fqdn, settings=settings, owners=frozenset({PEOPLE[0]}), **held | details)


@pytest.mark.parametrize(
    ("detail", "held"),
    [
        (Detail.NONMEMBERS, {"nonmembers": {PEOPLE[1]: "accept", PEOPLE[2]: None}}),
        (Detail.HEADER_FILTERS, {"header_filters": (HeaderRule("x-spam", "yes", "discard"),)}),
        (Detail.BANS, {"bans": frozenset({PEOPLE[3]})}),
    ],
)
def test_an_imported_file_covers_what_the_list_holds(detail: Detail, held: dict[str, Any]) -> None:
    live = held_list(**held)
    assert details_to_declare(live) == {detail}
    text, _ = render_list(live, BARE_SITE)
    assert f"\n{detail}:" in text
    # A file that leaves the detail alone plans no change, and is no import of the list.
    bare, _ = render_list(held_list(), BARE_SITE)
    with pytest.raises(ImportFailed, match="would leave alone what Mailman holds") as failed:
        verify(live, bare, BARE_SITE)
    assert failed.value.details == (str(detail),)


def test_non_members_without_an_action_of_their_own_are_not_declared() -> None:
    live = held_list(nonmembers={PEOPLE[1]: None})
    assert details_to_declare(live) == set()
    text, _ = render_list(live, BARE_SITE)
    assert "nonmembers" not in text
