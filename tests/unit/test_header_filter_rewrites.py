"""The order of a header-filter rewrite, on a model of Mailman's posting chain (pure).

`filter_rewrite` orders the writes; `header_chain` models what Mailman's
posting chain does with a probe message given the rules. These replay the
writes on that model for two ordinary edits and for random rules; the same
edits stopped at each write on the real core are in test_header_filters.py.
"""

from __future__ import annotations

import pytest
from examples import examples
from header_chain import ACTIONS, BOT, EDITS, SPAM, outcome, probes, rewrites, rule_lists, too_open
from hypothesis import given, settings
from hypothesis import strategies as st

from listsync.acceptance import FilterWrite, HeaderRule, after_write, filter_rewrite


def replayed(
    old: tuple[HeaderRule, ...], writes: tuple[FilterWrite, ...]
) -> list[tuple[HeaderRule, ...]]:
    """The rules after each write."""
    states, state = [], old
    for write in writes:
        state = after_write(state, write)
        states.append(state)
    return states


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


@settings(max_examples=examples(500))
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
