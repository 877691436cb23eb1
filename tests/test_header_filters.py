"""Rewriting a list's header filters never lets a message further than both ends do.

`filter_rewrite` orders the writes; `header_chain` models what Mailman's
posting chain does with a probe message given the rules. The pure tests
replay the writes on that model for random rules; the others stop a real
rewrite at each of its writes on the real core (refused, 500, answer lost)
and read back what Mailman has, and post real mail while a rewrite is
stopped midway.
"""

from __future__ import annotations

import uuid
from email.message import EmailMessage
from pathlib import Path

import pytest
from header_chain import ACTIONS, outcome, probes, rewrites, rule_lists, rules_yaml, too_open
from hypothesis import given, settings
from hypothesis import strategies as st
from mail import SmtpSink, post, wait_until
from mailmanclient import Client

from helpers import Result, Run, write_site
from listsync.acceptance import FilterWrite, HeaderRule, after_write, filter_rewrite
from mailman_core import MailmanCore
from proxy import LOSE, Action, Fault, Proxy


def replayed(
    old: tuple[HeaderRule, ...], writes: tuple[FilterWrite, ...]
) -> list[tuple[HeaderRule, ...]]:
    """The rules after each write."""
    states, state = [], old
    for write in writes:
        state = after_write(state, write)
        states.append(state)
    return states


# -- the order of the writes, on the model ---------------------------------------------------

SPAM = HeaderRule("x-spam-flag", "^YES", "discard")
SPAM_EDITED = HeaderRule("x-spam-flag", "^YES$", "discard")
BOT = HeaderRule("from", r"bot@example\.org", "accept")
BOT_HELD = HeaderRule("from", r"bot@example\.org", "hold")
# Two ordinary edits that, written in the order listsync used before, accepted for a
# moment spam forging the bot's From, which both the old and the new rules discard:
EDITS = {
    # the spam rule's pattern is corrected: the new rule was added at the end and the
    # old one removed before the new one moved up, leaving the bot's rule first
    "spam-pattern-edited": ((SPAM, BOT), (SPAM_EDITED, BOT)),
    # the bot is let through without a moderator, the spam check moved ahead of it:
    # the action was set before the move
    "bot-accepted-after-the-spam-check": ((BOT_HELD, SPAM), (SPAM, BOT)),
}
FORGED_SPAM = {"from": "bot@example.org", "x-spam-flag": "YES"}


@pytest.mark.parametrize(("old", "new"), EDITS.values(), ids=EDITS.keys())
def test_an_ordinary_edit_never_accepts_what_both_ends_stop(
    old: tuple[HeaderRule, ...], new: tuple[HeaderRule, ...]
) -> None:
    assert outcome(old, FORGED_SPAM) in ("discard", "hold")
    assert outcome(new, FORGED_SPAM) == "discard"
    states = replayed(old, filter_rewrite(old, new))
    assert states[-1] == new
    assert "accept" not in [outcome(state, FORGED_SPAM) for state in states]
    messages = probes(old, new)
    for state in states:
        assert too_open(state, old, new, messages) == [], state


@settings(max_examples=500)
@given(rules=rewrites())
def test_every_write_of_any_rewrite_is_no_more_open_than_both_ends(
    rules: tuple[tuple[HeaderRule, ...], tuple[HeaderRule, ...]],
) -> None:
    old, new = rules
    messages = probes(old, new)
    writes = filter_rewrite(old, new)
    states = replayed(old, writes)
    for state in states:
        assert too_open(state, old, new, messages) == [], (writes, state)
    assert (states[-1] if states else old) == new
    assert all(w.kind != "move" or w.position < len(s) for w, s in zip(writes, states, strict=True))


@given(
    old=rule_lists,
    added=rule_lists,
    actions=st.lists(st.sampled_from(ACTIONS), min_size=6, max_size=6),
)
def test_rules_that_keep_their_order_are_rewritten_in_place(
    old: tuple[HeaderRule, ...], added: tuple[HeaderRule, ...], actions: list[str | None]
) -> None:
    """Kept rules in their order (some with another action), new ones after them: no
    write but the change itself, and each message meets what the old or the new rules
    give it."""
    keys = {(r.header, r.pattern) for r in old}
    kept = tuple(
        HeaderRule(r.header, r.pattern, a) for r, a in zip(old[::2], actions, strict=False)
    )
    new = kept + tuple(r for r in added if (r.header, r.pattern) not in keys)
    writes = filter_rewrite(old, new)
    changed = sum(1 for r in kept if r not in old)
    added_or_removed = len(keys ^ {(r.header, r.pattern) for r in new})
    assert len(writes) == changed + added_or_removed
    assert "move" not in {w.kind for w in writes}
    for state in replayed(old, writes):
        for message in probes(old, new):
            assert outcome(state, message) in (outcome(old, message), outcome(new, message))
    assert (replayed(old, writes) or [old])[-1] == new


def test_nothing_to_change_is_no_write() -> None:
    assert filter_rewrite((SPAM, BOT), (SPAM, BOT)) == ()
    assert filter_rewrite((), ()) == ()


# -- a rewrite stopped at each of its writes, on the real core ------------------------------

OWNER = "owners: [owner@example.org]\n"


def make_site(root: Path, domain: str, lists: dict[str, str]) -> Path:
    config = f"domain: {domain}\ndisabled_owner: devnull@example.org\n"
    return write_site(root, lists, config=config)


def apply(run: Run, site: Path, *args: str) -> Result:
    return run("--root", str(site), "apply", "--yes", *args)


def plan(run: Run, site: Path) -> Result:
    return run("--root", str(site), "plan", "--detailed-exitcode")


def live_rules(client: Client, fqdn: str) -> tuple[HeaderRule, ...]:
    """What Mailman has, by position, read with Mailman's own client."""
    return tuple(
        HeaderRule(r.header, r.pattern, r.action) for r in client.get_list(fqdn).header_matches
    )


def nth_write(target: int, action: Action) -> Fault:
    seen = {"writes": 0}

    def fault(number: int, method: str, path: str) -> Action | None:
        if method == "GET":
            return None
        seen["writes"] += 1
        return action if seen["writes"] == target else None

    return fault


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

READER = "reader@example.org"
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
    mlist.subscribe(READER, pre_verified=True, pre_confirmed=True, pre_approved=True)

    def delivered(subject: str) -> list[EmailMessage]:
        return smtp_sink.received(lambda m: str(m["Subject"]).endswith(subject))

    def held(subject: str) -> bool:
        return any(subject in str(message.subject) for message in mlist.held)

    before = f"Before the rewrite {domain}"
    post(mail_core, f"commits@{domain}", MAIL_BOT, before)
    wait_until("the bot's post delivered", lambda: delivered(before))

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
    wait_until("the bot's post held", lambda: held(during))
    assert delivered(during) == []

    assert apply(run, site).status == 0
    assert plan(run, site).status == 0
    after = f"After the rewrite {domain}"
    post(mail_core, f"commits@{domain}", MAIL_BOT, after)
    wait_until("the bot's post delivered again", lambda: delivered(after))


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
