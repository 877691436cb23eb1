"""Address domains that look mistyped: `gaba@exmaple.org`, `x@example.ogr`, `y@gmial.com`.

Owns when a domain is taken for a typo of another, and the warning's words. A domain
is suspect when it is one or two edits (a letter added, dropped, changed, or two
neighbours swapped: Damerau-Levenshtein, in its optimal string alignment form) from a
domain the site knows: one that at least two addresses elsewhere in the site use, the
site's own domain, or a common mail provider (`PROVIDERS`). A domain the site knows
itself is never suspect. What "elsewhere" counts is the caller's (`load.check_site`):
every use of an address in the site's files, so a domain used three times is known.

Conservative, since a false alarm costs more than it saves: the domains must have as
many labels (`a.example.org` is not a typo of `example.org`), each differing label
must keep more than half its letters, a label differing only in digits (`mx1`, `mx2`)
is not a typo, and neither is a difference in a short label (`cs`, `cis`) of a site's
domain. A top-level domain that exists is a typo only when it is the other one with a
letter dropped (`.co` for `.com`, not `.com` for `.org`). Pure: no I/O.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass

PROVIDERS = frozenset(
    {
        "aol.com",
        "disroot.org",
        "email.com",
        "fastmail.com",
        "fastmail.fm",
        "free.fr",
        "freenet.de",
        "gmail.com",
        "gmx.at",
        "gmx.ch",
        "gmx.com",
        "gmx.de",
        "gmx.net",
        "googlemail.com",
        "hotmail.com",
        "hushmail.com",
        "icloud.com",
        "live.com",
        "mac.com",
        "mail.com",
        "mail.de",
        "mail.ru",
        "mailbox.org",
        "me.com",
        "msn.com",
        "orange.fr",
        "outlook.com",
        "posteo.de",
        "posteo.net",
        "proton.me",
        "protonmail.ch",
        "protonmail.com",
        "riseup.net",
        "systemli.org",
        "t-online.de",
        "tuta.io",
        "tutanota.com",
        "web.de",
        "yahoo.com",
        "yandex.ru",
        "ymail.com",
        "zoho.com",
    }
)
"""Common mail providers' domains: known to every site. Their own near neighbours that
exist (`gmx.at` beside `gmx.de`, `ymail.com` beside `gmail.com`) are here too, so that
they are not taken for typos."""

# Top-level domains that exist: the generic ones people write addresses at, and every
# country code in use.
_GENERIC_TLDS = (
    "aero app arpa asia biz blog cat club com coop dev edu email gov info int io jobs mil"
    " mobi museum name net one online org page post pro shop site social store tech tel"
    " travel xyz"
)
_COUNTRY_TLDS = (
    "ac ad ae af ag ai al am ao aq ar as at au aw ax az ba bb bd be bf bg bh bi bj bm bn bo"
    " br bs bt bw by bz ca cc cd cf cg ch ci ck cl cm cn co cr cu cv cw cx cy cz de dj dk dm"
    " do dz ec ee eg er es et eu fi fj fk fm fo fr ga gd ge gf gg gh gi gl gm gn gp gq gr gs"
    " gt gu gw gy hk hm hn hr ht hu id ie il im in iq ir is it je jm jo jp ke kg kh ki km kn"
    " kp kr kw ky kz la lb lc li lk lr ls lt lu lv ly ma mc md me mg mh mk ml mm mn mo mp mq"
    " mr ms mt mu mv mw mx my mz na nc ne nf ng ni nl no np nr nu nz om pa pe pf pg ph pk pl"
    " pm pn pr ps pt pw py qa re ro rs ru rw sa sb sc sd se sg sh si sk sl sm sn so sr ss st"
    " su sv sx sy sz tc td tf tg th tj tk tl tm tn to tr tt tv tw tz ua ug uk us uy uz va vc"
    " ve vg vi vn vu wf ws ye yt za zm zw"
)
REAL_TLDS = frozenset((_GENERIC_TLDS + " " + _COUNTRY_TLDS).split())

MAX_EDITS = 2
KNOWN_FROM_USES = 2  # addresses elsewhere in the site that make a domain known
_SHORT_LABEL = 4  # a site domain's label shorter than this is too short to judge


def edit_distance(a: str, b: str) -> int:
    """Edits from `a` to `b`: insertions, deletions, substitutions and swaps of two
    neighbours (optimal string alignment distance)."""
    if a == b:
        return 0
    previous2: list[int] = []
    previous = list(range(len(b) + 1))
    for i, char_a in enumerate(a, 1):
        current = [i] + [0] * len(b)
        for j, char_b in enumerate(b, 1):
            cost = 0 if char_a == char_b else 1
            current[j] = min(previous[j] + 1, current[j - 1] + 1, previous[j - 1] + cost)
            if i > 1 and j > 1 and char_a == b[j - 2] and a[i - 2] == char_b:
                current[j] = min(current[j], previous2[j - 2] + 1)
        previous2, previous = previous, current
    return previous[len(b)]


def _dropped_letter(short: str, long: str) -> bool:
    return len(short) == len(long) - 1 and any(
        long[:i] + long[i + 1 :] == short for i in range(len(long))
    )


def _digits_only(a: str, b: str) -> bool:
    return re.sub(r"\d", "", a) == re.sub(r"\d", "", b)


def typo_distance(typed: str, known: str, *, provider: bool = False) -> int | None:
    """The edits that make domain `typed` into `known`, when `typed` may be a typo of it
    (the rules in the module's docstring); None when it may not. `provider`: `known` is
    a common mail provider's, whose short labels (`gmx`, `web`) are judged too."""
    typed_labels, known_labels = typed.split("."), known.split(".")
    if typed == known or len(typed_labels) != len(known_labels):
        return None
    total = 0
    last = len(known_labels) - 1
    for index, (got, meant) in enumerate(zip(typed_labels, known_labels, strict=True)):
        if got == meant:
            continue
        edits = edit_distance(got, meant)
        total += edits
        if total > MAX_EDITS or 2 * edits >= max(len(got), len(meant)) or _digits_only(got, meant):
            return None
        if index == last:
            if got in REAL_TLDS and not _dropped_letter(got, meant):
                return None
        elif max(len(got), len(meant)) < _SHORT_LABEL and not provider:
            return None
    return total


@dataclass(frozen=True, slots=True)
class Suspect:
    """A domain taken for a typo of `meant`; `uses` is how many addresses of the site
    use `meant` (0 for a provider's or the site's own domain the site does not use)."""

    typed: str
    meant: str
    uses: int
    provider: bool

    def message(self, address: str) -> str:
        """The warning for `address` (at `typed`), suggesting that same address at
        `meant`: never another address."""
        local = address.rpartition("@")[0]
        if self.provider:
            why = "a common mail provider"
        elif self.uses:
            why = f"used {self.uses} times in the site"
        else:
            why = "the site's own domain"
        return (
            f"the domain {self.typed} looks like a typo of {self.meant}, {why}"
            f" (did you mean {local}@{self.meant}?)"
        )


class DomainCensus:
    """The site's domains by how many uses of an address each has (`uses`), and which of
    them look mistyped. `site_domain` (the lists' own) is known, and never suspect."""

    def __init__(self, uses: Mapping[str, int], site_domain: str = "") -> None:
        self.uses = dict(uses)
        self.site_domain = site_domain
        known = {domain for domain, count in self.uses.items() if count >= KNOWN_FROM_USES}
        self._known = tuple(sorted(known | ({site_domain} if site_domain else set())))
        self._decided: dict[str, Suspect | None] = {}

    def suspect(self, domain: str) -> Suspect | None:
        """What `domain` looks like a typo of, or None."""
        if domain not in self._decided:
            self._decided[domain] = self._decide(domain)
        return self._decided[domain]

    def _decide(self, domain: str) -> Suspect | None:
        used = self.uses.get(domain, 0)
        if domain in PROVIDERS or domain == self.site_domain or used - 1 >= KNOWN_FROM_USES:
            return None
        best: tuple[int, int, str] | None = None
        for meant in (*self._known, *PROVIDERS):
            provider = meant in PROVIDERS
            if meant == domain or abs(len(meant) - len(domain)) > MAX_EDITS:
                continue
            if not provider and meant != self.site_domain and self.uses.get(meant, 0) <= used:
                continue  # the one meant is the one more used
            edits = typo_distance(domain, meant, provider=provider)
            if edits is not None:
                rank = (edits, -self.uses.get(meant, 0), meant)
                best = rank if best is None or rank < best else best
        if best is None:
            return None
        meant = best[2]
        return Suspect(domain, meant, self.uses.get(meant, 0), meant in PROVIDERS)
