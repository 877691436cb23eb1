"""Rewriting a list's header filters never lets a message further than both ends do,
on the real core.

`filter_rewrite` orders the writes; `header_chain` models what Mailman's
posting chain does with a probe message given the rules (the pure tests of
the order, on that model, are in unit/test_header_filter_rewrites.py).
These stop a real rewrite at each of its writes on the real core (refused,
500, answer lost) and read back what Mailman has, and post real mail while
a rewrite is stopped midway.
"""

from __future__ import annotations

import uuid
from pathlib import Path

import pytest
from header_chain import EDITS, SPAM, SPAM_EDITED, probes, rules_yaml, too_open
from mail import READER, SmtpSink, delivered, held, post, subscribe, wait_until
from mailmanclient import Client

from helpers import Run, apply, make_site, plan
from listsync.acceptance import HeaderRule
from mailman_core import MailmanCore
from proxy import LOSE, Action, Proxy, nth_write

OWNER = "owners: [owner@example.org]\n"


def live_rules(client: Client, fqdn: str) -> tuple[HeaderRule, ...]:
    """What Mailman has, by position, read with Mailman's own client."""
    return tuple(
        HeaderRule(r.header, r.pattern, r.action) for r in client.get_list(fqdn).header_matches
    )


STOPS = [
    pytest.param(400, id="refused"),
    pytest.param(500, id="500"),
    pytest.param(LOSE, id="lost"),
]


@pytest.mark.compat
@pytest.mark.parametrize("stop", STOPS)
@pytest.mark.parametrize(("old", "new"), EDITS.values(), ids=EDITS.keys())
def test_a_rewrite_stopped_at_any_write_is_no_more_open_than_both_ends_and_converges(
    run: Run,
    tmp_path: Path,
    domain: str,
    connected: Proxy,
    mailman_client: Client,
    old: tuple[HeaderRule, ...],
    new: tuple[HeaderRule, ...],
    stop: Action,
) -> None:
    fresh = f"u{uuid.uuid4().hex[:8]}.{domain}"
    messages = probes(old, new)
    probe = make_site(tmp_path / "probe", fresh, {"probe": OWNER + rules_yaml(old)})
    assert apply(run, probe).status == 0
    (probe / "lists" / "probe.yaml").write_text(OWNER + rules_yaml(new))
    connected.recorder.clear()
    assert apply(run, probe).status == 0
    writes = connected.recorder.writes
    assert writes
    assert all("/header-matches" in path for _, path in writes), writes
    assert live_rules(mailman_client, f"probe@{fresh}") == new

    for step in range(1, len(writes) + 1):
        name = f"step{step}"
        fqdn = f"{name}@{fresh}"
        site = make_site(tmp_path / name, fresh, {name: OWNER + rules_yaml(old)})
        assert apply(run, site).status == 0
        (site / "lists" / f"{name}.yaml").write_text(OWNER + rules_yaml(new))
        connected.recorder.fault = nth_write(step, stop)
        stopped = apply(run, site, "--retries", "0")
        connected.recorder.fault = None
        assert stopped.status == 1, f"write {step}: {stopped.out}"
        assert f"failed: {name}" in stopped.err
        state = live_rules(mailman_client, fqdn)
        assert too_open(state, old, new, messages) == [], f"write {step} stopped: {state}"
        assert mailman_client.get_list(fqdn).settings["emergency"] is False
        finished = apply(run, site)
        assert finished.status == 0, f"write {step}: {finished.err}"
        assert live_rules(mailman_client, fqdn) == new
        assert plan(run, site).status == 0


# -- real mail while a rewrite is stopped midway ---------------------------------------------

MAIL_BOT = "commits@ci.example.org"
MAIL_BOT_RULE = HeaderRule("from", r"commits@ci\.example\.org", "accept")


def test_a_post_the_accept_rule_lets_through_is_held_while_a_rewrite_is_stopped(
    run: Run,
    tmp_path: Path,
    domain: str,
    mail_core: MailmanCore,
    mail_client: Client,
    smtp_sink: SmtpSink,
    through_proxy: Proxy,
) -> None:
    """An announce list rejects non-members, so only the header filters can hold the bot's
    post or let it through."""
    head = "description: Commits.\nposting: announce\n" + OWNER
    site = make_site(tmp_path, domain, {"commits": head + rules_yaml((SPAM, MAIL_BOT_RULE))})
    assert apply(run, site).status == 0
    mlist = mail_client.get_list(f"commits@{domain}")
    subscribe(mlist, READER)

    before = f"Before the rewrite {domain}"
    post(mail_core, f"commits@{domain}", MAIL_BOT, before)
    wait_until("the bot's post delivered", lambda: delivered(smtp_sink, before))

    (site / "lists" / "commits.yaml").write_text(head + rules_yaml((SPAM_EDITED, MAIL_BOT_RULE)))
    through_proxy.recorder.fault = nth_write(2, 400)  # the first write closes the accept rule
    assert apply(run, site).status == 1
    through_proxy.recorder.fault = None
    assert live_rules(mail_client, f"commits@{domain}") == (
        SPAM,
        HeaderRule(MAIL_BOT_RULE.header, MAIL_BOT_RULE.pattern, "hold"),
    )
    during = f"During the rewrite {domain}"
    post(mail_core, f"commits@{domain}", MAIL_BOT, during)
    wait_until("the bot's post held", lambda: held(mlist, during))
    assert delivered(smtp_sink, during) == []

    assert apply(run, site).status == 0
    assert plan(run, site).status == 0
    after = f"After the rewrite {domain}"
    post(mail_core, f"commits@{domain}", MAIL_BOT, after)
    wait_until("the bot's post delivered again", lambda: delivered(smtp_sink, after))


@pytest.mark.compat
def test_rules_changed_by_hand_during_a_rewrite_stop_it_and_the_next_apply_converges(
    run: Run, tmp_path: Path, domain: str, connected: Proxy, mailman_client: Client
) -> None:
    """A positional write is made only against the rules listsync left: an admin's rule
    added in Postorius between two writes stops the rewrite before the next one."""
    old, new = EDITS["spam-pattern-edited"]
    fqdn = f"edited@{domain}"
    site = make_site(tmp_path, domain, {"edited": OWNER + rules_yaml(old)})
    assert apply(run, site).status == 0
    (site / "lists" / "edited.yaml").write_text(OWNER + rules_yaml(new))

    def by_hand() -> None:
        mailman_client.get_list(fqdn).header_matches.add("X-By-Hand", "x", "discard")

    connected.recorder.fault = nth_write(1, by_hand)
    connected.recorder.clear()
    stopped = apply(run, site)
    connected.recorder.fault = None
    assert stopped.status == 1
    assert "header filters changed while listsync was rewriting them" in stopped.err
    assert [method for method, _ in connected.recorder.writes] == ["PATCH", "POST"]
    state = live_rules(mailman_client, fqdn)
    assert HeaderRule("x-by-hand", "x", "discard") in state
    assert too_open(state, old, new, probes(old, new)) == [], state
    assert apply(run, site).status == 0
    assert live_rules(mailman_client, fqdn) == new
    assert plan(run, site).status == 0
