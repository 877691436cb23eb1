"""Message acceptance: who may post to a list beyond its members, as Mailman 3.3 keeps it.

Owns the three kinds of rule a list file may declare besides its posting
preset, and for each what Mailman accepts, the normal form both sides of
the diff share, and how open a rule leaves the list (so that `plan` can
apply closing rules first and opening ones last):

* non-members with a moderation action (`POST /3.1/members` with
  `role=nonmember`, then `PATCH .../nonmember/ADDRESS {moderation_action}`);
  Mailman adds every non-member who ever posted to that roster with no
  action, so only entries with an action count, and clearing one means
  setting its action back to none (the list's default), never deleting it;
* header filters: ordered (header, pattern, action) rules at
  `/3.1/lists/ID/header-matches`; Mailman lower-cases the header, refuses a
  second rule with the same header and pattern, and jumps to the chain the
  action names (no action: the site's `[antispam] jump_chain`) for the first
  rule that matches; `filter_rewrite` orders the writes that take a list
  from one set of rules to another so that none lets a message further;
* ban patterns at `/3.1/lists/ID/bans`: an address, or a regular
  expression starting with `^`.

Checked against `mailman/rest/members.py`, `header_matches.py`,
`model/mailinglist.py`, `model/bans.py` and `chains/headers.py` of 3.3.8 and
3.3.10 (the same). Mailman takes any pattern that compiles; a file's may not
hold a control character (a line break, an escape, a bidi control), which a
review would not see as such.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Literal

from listsync.escaping import hidden_character
from listsync.mailman_settings import is_email

DISABLE_BAN = "^.*@.*"
"""The disable procedure's ban of everyone; the `disabled` flag owns it, never `bans:`."""

# mailman.interfaces.action.Action names that make sense for a rule about one sender
# or one header: 'defer' is a member action, and no chain of that name exists.
RULE_ACTIONS: tuple[str, ...] = ("accept", "hold", "reject", "discard")
OPENS = frozenset({"accept"})
"""Actions that let a message through without a moderator."""

_HEADER_NAME = re.compile(r"[!-9;-~]+")  # RFC 5322 field name: printable ASCII but ':'


@dataclass(frozen=True, slots=True, order=True)
class HeaderRule:
    """One header filter in Mailman's form: header lower case, action None for the site's."""

    header: str
    pattern: str
    action: str | None = None

    def text(self) -> str:
        return f"{self.header} ~ {self.pattern} -> {self.action or 'site default'}"


def check_header(name: str) -> str | None:
    """Why `name` cannot be a header filter's header, or None."""
    if not _HEADER_NAME.fullmatch(name):
        return f"{name!r} is not a header name (printable ASCII, no spaces or colon)"
    return None


def check_pattern(pattern: str) -> str | None:
    """Why Mailman's regexp_validator refuses `pattern` (or listsync: a control character
    in it), or None."""
    if not pattern:
        return "expected a regular expression, not an empty string"
    found = hidden_character(pattern)
    if found is not None:
        return f"holds {found}: write a control character as an escape such as \\t or \\x1b"
    try:
        re.compile(pattern)
    except re.error as exc:
        return f"not a valid regular expression: {exc}"
    return None


def check_ban(pattern: str) -> str | None:
    """Why `pattern` is no ban Mailman applies as meant (an address or a ^regexp), or None."""
    found = hidden_character(pattern)
    if found is not None:
        return f"holds {found}: an address or a ^regexp is one line of plain text"
    if pattern.startswith("^"):
        return check_pattern(pattern)
    if not is_email(pattern):
        return (
            f"{pattern!r} is neither an e-mail address nor a regular expression"
            " starting with ^ (Mailman bans exactly that text otherwise)"
        )
    return None


def normal_ban(pattern: str) -> str:
    """A banned address lower case (Mailman compares it exactly with the sender's address,
    which it lower-cases); a regexp as written (Mailman matches it ignoring case)."""
    return pattern if pattern.startswith("^") else pattern.lower()


def banned_by(text: str, patterns: Iterable[str]) -> bool:
    """Whether one of the regexp `patterns` matches `text` as Mailman's ban check does
    (`re.match`, ignoring case); Mailman refuses to ban, or to add as a non-member,
    what a ban it holds matches already."""
    return any(p.startswith("^") and re.match(p, text, re.IGNORECASE) for p in patterns)


def bans_address(pattern: str, address: str) -> bool:
    """Whether Mailman's ban check (`model/bans.py`) refuses `address` for the ban `pattern`:
    a regexp matched at its start ignoring case, an address equal to it (both lower case)."""
    if pattern.startswith("^"):
        return banned_by(address, [pattern])
    return pattern.lower() == address.lower()


def ban_order(pattern: str) -> tuple[int, str]:
    """Addresses before regexps, the disable ban last: Mailman refuses a ban that a ban
    it holds already matches."""
    return (2 if pattern == DISABLE_BAN else 1 if pattern.startswith("^") else 0), pattern


def opens_nonmember(before: str | None, after: str | None) -> bool:
    """Whether changing a non-member's action from `before` to `after` lets more through.

    None is the list's default non-member action; listsync counts it as
    between 'accept' and the closed actions.
    """
    return _rank(after) > _rank(before)


def _rank(action: str | None) -> int:
    if action is None:
        return 1
    return 2 if action in OPENS else 0


def opens_filters(before: tuple[HeaderRule, ...], after: tuple[HeaderRule, ...]) -> bool:
    """Whether going from `before` to `after` may let more through: a rule goes, or one
    that accepts comes or moves."""
    kept = set(after)
    if any(rule not in kept for rule in before):
        return True
    return any(rule.action in OPENS for rule in after if rule not in set(before)) or (
        [r for r in before if r.action in OPENS] != [r for r in after if r.action in OPENS]
    )


# -- rewriting a list's header filters ----------------------------------------------------

CLOSES = frozenset({"reject", "discard"})
"""Actions that let nothing through."""


def filter_rank(action: str | None) -> int:
    """How far a header filter's action lets a message go: 0 reject or discard, 1 hold or
    the site's default (Mailman's stock `[antispam] jump_chain` is hold), 2 accept."""
    if action in CLOSES:
        return 0
    return 2 if action in OPENS else 1


WriteKind = Literal["add", "action", "move", "remove"]


@dataclass(frozen=True, slots=True)
class FilterWrite:
    """One REST write of a header-filter rewrite, naming its rule by header and pattern.

    "add" appends `rule` (`POST .../header-matches`: Mailman takes no
    position), "action" sets the rule's action to `rule.action`, "move" puts
    the rule at `position` (the ones between shift by one), "remove" deletes it.
    """

    kind: WriteKind
    rule: HeaderRule
    position: int = 0


def _key(rule: HeaderRule) -> tuple[str, str]:
    return rule.header, rule.pattern


def position_of(rules: Sequence[HeaderRule], rule: HeaderRule) -> int:
    """Where Mailman has the rule with `rule`'s header and pattern (0 first)."""
    return [_key(r) for r in rules].index(_key(rule))


def after_write(rules: Sequence[HeaderRule], write: FilterWrite) -> tuple[HeaderRule, ...]:
    """The rules as Mailman has them once `write` is done (`HeaderMatchList.append`,
    `__delitem__` and the `position` setter of `model/mailinglist.py`)."""
    now = list(rules)
    if write.kind == "add":
        return (*now, write.rule)
    index = position_of(now, write.rule)
    if write.kind == "action":
        now[index] = write.rule
    elif write.kind == "move":
        now.insert(write.position, now.pop(index))
    else:
        del now[index]
    return tuple(now)


def filter_rewrite(
    live: Sequence[HeaderRule], desired: Sequence[HeaderRule]
) -> tuple[FilterWrite, ...]:
    """The writes that take a list's header filters from `live` to `desired`, in order.

    Stopped after any of them, the rules give no message an outcome more open
    than both the old and the new rules give it: hold is more open than
    reject or discard and less than accept, and not comparable with no rule
    matching (the list's own moderation decides then); a rule without action
    counts as hold, Mailman's stock `[antispam] jump_chain`. Mailman takes the
    action of the first rule that matches, so:

    * when the rules that stay keep their order and the new ones come after
      them, actions are set, new rules added at the end and old ones removed
      from the last: each message meets the rule the old or the new rules
      send it to;
    * otherwise the rules are closed, then opened. Closing: each rule that
      accepts is set to hold (or to its new action, when that lets less
      through), each other rule whose new action lets less through gets it,
      new rules are added at the end (those that accept as hold), and every
      rule that rejects or discards moves to the front. Opening: old rules
      go, those that hold before those that reject or discard, then each
      rule moves to its place, and last each gets its own action. No rule
      accepts while rules move or go, and a rule that rejects or discards
      stays ahead of every rule that holds until the order is the new one.
    """
    wanted = {_key(rule): rule for rule in desired}
    live_keys = {_key(rule) for rule in live}
    kept = [_key(rule) for rule in live if _key(rule) in wanted]
    added = [rule for rule in desired if _key(rule) not in live_keys]
    if [_key(rule) for rule in desired] == kept + [_key(rule) for rule in added]:
        return _in_place(live, wanted, added)
    return _closed_then_opened(live, desired)


def _in_place(
    live: Sequence[HeaderRule],
    wanted: dict[tuple[str, str], HeaderRule],
    added: list[HeaderRule],
) -> tuple[FilterWrite, ...]:
    writes = [
        FilterWrite("action", wanted[_key(rule)])
        for rule in live
        if _key(rule) in wanted and wanted[_key(rule)] != rule
    ]
    writes += [FilterWrite("add", rule) for rule in added]
    writes += [FilterWrite("remove", rule) for rule in reversed(live) if _key(rule) not in wanted]
    return tuple(writes)


class _Rewrite:
    """The writes planned so far and the rules Mailman will have after them."""

    def __init__(self, live: Sequence[HeaderRule]) -> None:
        self.rules = tuple(live)
        self.writes: list[FilterWrite] = []

    def write(self, kind: WriteKind, rule: HeaderRule, position: int = 0) -> None:
        if kind == "move" and position_of(self.rules, rule) == position:
            return
        step = FilterWrite(kind, rule, position)
        self.writes.append(step)
        self.rules = after_write(self.rules, step)


def _closed_then_opened(
    live: Sequence[HeaderRule], desired: Sequence[HeaderRule]
) -> tuple[FilterWrite, ...]:
    wanted = {_key(rule): rule for rule in desired}
    order = {_key(rule): index for index, rule in enumerate(desired)}
    rewrite = _Rewrite(live)
    # Closing: nothing accepts, new rules come last, rejecting and discarding ones first.
    for rule in live:
        target = wanted.get(_key(rule))
        if target is not None and filter_rank(target.action) < filter_rank(rule.action):
            rewrite.write("action", target)
        elif rule.action in OPENS:
            rewrite.write("action", HeaderRule(rule.header, rule.pattern, "hold"))
    live_keys = {_key(rule) for rule in live}
    for rule in desired:
        if _key(rule) not in live_keys:
            closed = rule.action not in OPENS
            rewrite.write("add", rule if closed else HeaderRule(rule.header, rule.pattern, "hold"))
    closing = [rule for rule in rewrite.rules if filter_rank(rule.action) == 0]
    closing.sort(key=lambda rule: (0, order[_key(rule)]) if _key(rule) in order else (1, 0))
    for position, rule in enumerate(closing):
        rewrite.write("move", rule, position)
    # Opening: old rules go (holding ones first), the rules move, actions come last.
    for rank in (1, 0):
        for rule in reversed(rewrite.rules):
            if _key(rule) not in wanted and filter_rank(rule.action) == rank:
                rewrite.write("remove", rule)
    for position, rule in enumerate(desired):
        rewrite.write("move", rule, position)
    for rule in desired:
        if rule not in rewrite.rules:
            rewrite.write("action", rule)
    return tuple(rewrite.writes)
