"""A small model of what Mailman does with a post given a list's header filters.

Mailman's built-in posting chain takes a detour through the header-match
chain (`mailman/chains/builtin.py`, `chains/headers.py`, 3.3.8 and 3.3.10):
the list's rules are tried in position order, and the first one whose
header has a value that `re.search(pattern, value, re.IGNORECASE)` finds
jumps to the chain its action names - `accept` (delivered without
moderation), `hold`, `reject`, `discard`, or with no action the site's
`[antispam] jump_chain` (stock: hold). When no rule matches, the post goes
on to the list's own moderation: `pass`.

How open an outcome is: reject and discard let nothing through, hold waits
for a moderator, accept delivers. `pass` lets more through than reject or
discard and less than accept, and is not comparable with hold: the list's
own moderation may deliver a member's post, or reject a non-member's. A
state of the rules is *no more open than both ends* when every probe
message meets an outcome no more open than what the old rules, or the new
rules, give it.

Probe messages are built from the rules' patterns (literal text, `^`, `$`,
escaped dots): for each header the rules name, no such header, a value each
pattern finds, and two such values joined by a space; every combination
over the headers.
"""

from __future__ import annotations

import itertools
import re
from collections.abc import Iterable, Sequence

from hypothesis import strategies as st

from listsync.acceptance import HeaderRule

Message = dict[str, str]  # header (lower case) -> its value; a header left out is absent

CLOSED = frozenset({"reject", "discard"})
PASS = "pass"


def outcome(rules: Sequence[HeaderRule], message: Message) -> str:
    """What Mailman does with `message`: the action of the first rule that matches, or pass."""
    for rule in rules:
        value = message.get(rule.header)
        if value is not None and re.search(rule.pattern, value, re.IGNORECASE):
            return rule.action or "hold"
    return PASS


def no_more_open(outcome_: str, than: str) -> bool:
    """Whether `outcome_` lets a message through no more than `than` does."""
    if outcome_ in CLOSED or outcome_ == than or than == "accept":
        return True
    if than in CLOSED:
        return False
    return outcome_ == "hold" and than == "hold"


def example_value(pattern: str) -> str:
    """A header value that `pattern` finds, for patterns of literal text, ^, $ and \\."""
    text = pattern.removeprefix("^").removesuffix("$")
    value = re.sub(r"\\(.)", r"\1", text).replace("[.]", ".")
    assert re.search(pattern, value, re.IGNORECASE), (pattern, value)
    return value


def probes(*rule_sets: Iterable[HeaderRule]) -> list[Message]:
    """Every combination, over the headers the rules name, of no value, a value each
    pattern finds, and two of them joined by a space."""
    patterns: dict[str, list[str]] = {}
    for rules in rule_sets:
        for rule in rules:
            patterns.setdefault(rule.header, [])
            if rule.pattern not in patterns[rule.header]:
                patterns[rule.header].append(rule.pattern)
    choices: list[list[str | None]] = []
    for header_patterns in patterns.values():
        values = [example_value(pattern) for pattern in header_patterns]
        pairs = [f"{a} {b}" for a, b in itertools.permutations(values, 2)]
        choices.append([None, *dict.fromkeys(values + pairs)])
    headers = list(patterns)
    return [
        {header: value for header, value in zip(headers, combination, strict=True) if value}
        for combination in itertools.product(*choices)
    ]


def too_open(
    state: Sequence[HeaderRule],
    old: Sequence[HeaderRule],
    new: Sequence[HeaderRule],
    messages: Iterable[Message],
) -> list[str]:
    """Each probe that `state` lets further than both `old` and `new` do, with its outcomes."""
    problems = []
    for message in messages:
        now, before, after = outcome(state, message), outcome(old, message), outcome(new, message)
        if not no_more_open(now, before) and not no_more_open(now, after):
            problems.append(f"{message}: {now}, but {before} before and {after} after")
    return problems


# -- random rules ---------------------------------------------------------------------------

ACTIONS = ["accept", "hold", "reject", "discard", None]
PATTERNS = [  # values overlap: the bot's address also ends in example.org and starts with bot
    ("from", r"bot@example\.org"),
    ("from", r"example\.org$"),
    ("from", "^bot"),
    ("x-spam-flag", "^YES"),
    ("x-spam-flag", "YES"),
    ("subject", "viagra"),
]
rule_lists = st.lists(
    st.tuples(st.sampled_from(PATTERNS), st.sampled_from(ACTIONS)),
    max_size=6,
    unique_by=lambda item: item[0],
).map(lambda items: tuple(HeaderRule(h, p, a) for (h, p), a in items))
"""Up to six rules from `PATTERNS`, each with an action, in any order."""


def rules_yaml(rules: Sequence[HeaderRule]) -> str:
    """`rules` as a list file's `header_filters:` (patterns single-quoted, as written)."""
    items = "".join(
        f"  - {{header: {r.header}, pattern: '{r.pattern}'"
        + (f", action: {r.action}}}\n" if r.action else "}\n")
        for r in rules
    )
    return "header_filters:\n" + items if rules else "header_filters: []\n"


@st.composite
def rewrites(draw: st.DrawFn) -> tuple[tuple[HeaderRule, ...], tuple[HeaderRule, ...]]:
    """Old and new rules: unrelated, or the new ones an edit of the old (reordered, some
    actions changed, some rules dropped, others added anywhere)."""
    old = draw(rule_lists)
    if draw(st.booleans()):
        return old, draw(rule_lists)
    new = [
        HeaderRule(r.header, r.pattern, draw(st.sampled_from([r.action, *ACTIONS])))
        for r in draw(st.permutations(old))
        if draw(st.integers(0, 3))
    ]
    used = {(r.header, r.pattern) for r in old}
    free = [pair for pair in PATTERNS if pair not in used]
    for header, pattern in (
        draw(st.lists(st.sampled_from(free), max_size=2, unique=True)) if free else []
    ):
        new.insert(
            draw(st.integers(0, len(new))),
            HeaderRule(header, pattern, draw(st.sampled_from(ACTIONS))),
        )
    return old, tuple(new)


# -- two ordinary edits ------------------------------------------------------------------

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
