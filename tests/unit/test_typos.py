"""`typos`: the distance between two domains, and when one is taken for a typo of another."""

from __future__ import annotations

import pytest

from listsync.typos import PROVIDERS, DomainCensus, edit_distance, typo_distance


@pytest.mark.parametrize(
    ("a", "b", "edits"),
    [
        ("gmail", "gmail", 0),
        ("gmial", "gmail", 1),  # two neighbours swapped: one edit, not two
        ("gmal", "gmail", 1),
        ("gmaill", "gmail", 1),
        ("gnail", "gmail", 1),
        ("exmaple.ogr", "example.org", 2),
        ("kitten", "sitting", 3),
        ("", "abc", 3),
        ("ca", "abc", 3),  # optimal string alignment: a swapped pair is not edited again
    ],
)
def test_edit_distance(a: str, b: str, edits: int) -> None:
    assert edit_distance(a, b) == edits
    assert edit_distance(b, a) == edits


@pytest.mark.parametrize(
    ("typed", "known", "provider", "edits"),
    [
        ("exmaple.org", "example.org", False, 1),
        ("exmaple.ogr", "example.org", False, 2),
        ("exmaple.ogr.", "example.org", False, None),  # labels differ in number
        ("gmail.co", "gmail.com", True, 1),  # a real TLD with a letter dropped
        ("example.com", "example.org", False, None),  # another real TLD
        ("gmx.at", "gmx.de", True, None),
        ("gxm.de", "gmx.de", True, 1),  # a provider's short label is judged
        ("cis.example.org", "cs.example.org", False, None),  # a site's is not
        ("mx1.example.org", "mx2.example.org", False, None),
        ("mi.com", "me.com", True, None),  # half the label changed
        ("gmaiil.comm", "gmail.com", True, 2),
        ("gmaiil.comm", "gmail.co", True, None),
    ],
)
def test_typo_distance(typed: str, known: str, provider: bool, edits: int | None) -> None:
    assert typo_distance(typed, known, provider=provider) == edits


def test_a_provider_is_never_a_typo_of_another() -> None:
    census = DomainCensus(dict.fromkeys(PROVIDERS, 1))
    assert [domain for domain in sorted(PROVIDERS) if census.suspect(domain)] == []


def test_the_domain_meant_is_the_closest_then_the_most_used() -> None:
    def meant(uses: dict[str, int]) -> str | None:
        suspect = DomainCensus({**uses, "exmaple.org": 1}).suspect("exmaple.org")
        return None if suspect is None else suspect.meant

    assert meant({"example.org": 3, "exmaplees.org": 9}) == "example.org"  # 1 edit, not 2
    assert meant({"example.org": 3, "exmaples.org": 5}) == "exmaples.org"  # 1 edit each
    assert meant({"example.org": 2, "exmaples.org": 2}) == "example.org"  # then by name


def test_a_domain_used_twice_besides_any_one_address_is_known() -> None:
    census = DomainCensus({"example.org": 5, "exmaple.org": 3})
    assert census.suspect("exmaple.org") is None
    assert DomainCensus({"example.org": 5, "exmaple.org": 2}).suspect("exmaple.org")
