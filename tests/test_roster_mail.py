"""Rosters proven by real mail through Mailman: who a post reaches is who the file declares.

The core runs its mail runners: a post goes in over LMTP, out over SMTP to
the sink, whose envelope recipients are the members Mailman delivered to.
A member dropped from the roster (additive: by a commit, which git history
remembers; exact: by not being declared) no longer gets the list's posts
once the change is applied, and the others still do. A roster member gets
no welcome mail unless the file asks for one.
"""

from __future__ import annotations

import uuid
from pathlib import Path

import pytest
from mail import SmtpSink, delivered, post, wait_until

from helpers import Run, apply, commit_all, init_repo, make_site
from mailman_core import MailmanCore
from proxy import Proxy

TEAM = "description: The team.\nowners: [owner@example.org]\n"


@pytest.fixture
def fresh(domain: str) -> str:
    """A domain of this test run's own (the shared slug is cut before a parameter's id)."""
    return f"u{uuid.uuid4().hex[:8]}.{domain}"


def crew(domain: str) -> list[str]:
    """The roster: addresses of the test's own domain, so no other test's mail is theirs."""
    return [f"{name}@{domain}" for name in ("ann", "ben", "cat")]


def post_and_wait(
    core: MailmanCore, sink: SmtpSink, fqdn: str, sender: str, subject: str
) -> set[str]:
    """Post `subject` to the list as `sender`; the envelope recipients once delivered."""
    post(core, fqdn, sender, subject)
    wait_until(f"{subject!r} delivered", lambda: delivered(sink, subject))
    return sink.recipients(lambda m: str(m["Subject"]).endswith(subject))


def welcomed(sink: SmtpSink, addresses: list[str]) -> set[str]:
    """Which of `addresses` the sink got a welcome message for."""
    return sink.recipients(lambda m: "Welcome" in str(m["Subject"])) & set(addresses)


def as_roster_file(site: Path, addresses: list[str]) -> None:
    (site / "rosters").mkdir(exist_ok=True)
    (site / "rosters" / "team.txt").write_text("# the team\n" + "\n".join(addresses) + "\n")


def inline(addresses: list[str], membership: str) -> str:
    return TEAM + f"membership: {membership}\nmembers: [{', '.join(addresses)}]\n"


@pytest.mark.parametrize("membership", ["additive", "exact"])
def test_a_post_reaches_the_roster_and_no_longer_a_member_it_dropped(
    run: Run,
    tmp_path: Path,
    fresh: str,
    mail_core: MailmanCore,
    smtp_sink: SmtpSink,
    through_proxy: Proxy,
    membership: str,
) -> None:
    fqdn = f"team@{fresh}"
    ann, ben, cat = roster = crew(fresh)
    site = tmp_path / "site"
    if membership == "additive":  # a roster file; what it dropped, git history says
        make_site(site, fresh, {"team": TEAM + "members_from: rosters/team.txt\n"})
        as_roster_file(site, roster)
        init_repo(site)
    else:
        make_site(site, fresh, {"team": inline(roster, "exact")})

    applied = apply(run, site)
    assert applied.status == 0, applied.out + applied.err
    first = post_and_wait(mail_core, smtp_sink, fqdn, ben, f"Before {fresh}")

    assert set(roster) <= first
    assert welcomed(smtp_sink, roster) == set(), "no welcome mail by default"

    if membership == "additive":
        as_roster_file(site, [ben, cat])
        commit_all(site, "Ann left the team")
    else:
        (site / "lists" / "team.yaml").write_text(inline([ben, cat], "exact"))
    applied = apply(run, site)
    assert applied.status == 0, applied.out + applied.err
    assert "- 1 member of 3" in applied.out
    second = post_and_wait(mail_core, smtp_sink, fqdn, ben, f"After {fresh}")

    assert ann not in second
    assert {ben, cat} <= second


def test_welcome_members_sends_each_roster_member_a_welcome(
    run: Run,
    tmp_path: Path,
    fresh: str,
    mail_core: MailmanCore,
    smtp_sink: SmtpSink,
    through_proxy: Proxy,
) -> None:
    roster = crew(fresh)
    site = make_site(
        tmp_path / "site",
        fresh,
        {"team": TEAM + f"welcome_members: true\nmembers: [{', '.join(roster)}]\n"},
    )

    applied = apply(run, site)

    assert applied.status == 0, applied.out + applied.err
    assert "pre-approved, a welcome mail" in applied.out
    wait_until(
        "a welcome for each roster member",
        lambda: welcomed(smtp_sink, roster) == set(roster),
    )
