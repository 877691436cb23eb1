"""The lifecycle report's judgement and wording, without Mailman: which section a list's
activity puts it in, what a person's list line says, and redaction of every section."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

from listsync import lifecycle
from listsync.lifecycle import ListFacts, OwnershipProblem, Person, PersonList

AS_OF = datetime(2026, 6, 1, tzinfo=UTC)
CUTOFF = AS_OF - timedelta(days=365)
OTHER = "carol@example.org"


def facts(created: datetime | None, last_post: datetime | None, members: int = 3) -> ListFacts:
    return ListFacts("dev", True, False, created, last_post, members, ("alice@example.org", OTHER))


def test_a_list_never_posted_to_is_never_inactive() -> None:
    long_ago = CUTOFF - timedelta(days=1000)
    assert lifecycle.activity_section(facts(long_ago, None), CUTOFF) == "never_posted"
    assert lifecycle.activity_section(facts(CUTOFF + timedelta(days=1), None), CUTOFF) == "new"
    posted_long_ago = facts(long_ago, CUTOFF - timedelta(seconds=1))
    assert lifecycle.activity_section(posted_long_ago, CUTOFF) == "inactive"
    assert lifecycle.activity_section(facts(long_ago, CUTOFF), CUTOFF) is None


def test_a_persons_list_line_says_what_the_report_says_of_it() -> None:
    person = Person("alice@example.org", "owner", (), (), as_of=AS_OF, inactive_after="1 year")
    dead = facts(datetime(2020, 1, 1, tzinfo=UTC), datetime(2021, 3, 1, tzinfo=UTC), members=0)
    unused = facts(datetime(2020, 1, 1, tzinfo=UTC), None, members=1)

    def says(f: ListFacts, *sections: str) -> list[str]:
        entry = PersonList("dev@lists.example.org", True, True, True, False, f, sections)
        return lifecycle.person_list_words(entry, person)

    assert says(dead, "inactive", "no_members") == [
        "inactive: no post for 1 year, the last 2021-03-01 (5 years 3 months ago)",
        "no members",
    ]
    assert says(unused, "never_posted") == [
        "never posted to, made 2020-01-01 (6 years 5 months ago)",
        "1 member",
    ]


def test_every_section_of_the_report_is_masked() -> None:
    one = facts(CUTOFF, None)
    by_section: dict[str, Any] = dict.fromkeys(lifecycle.SECTIONS, (one,))
    by_section["ownerless"] = (OwnershipProblem(one, f"owned only by {OTHER}"),)
    report = lifecycle.Report(
        domain="lists.example.org", as_of=AS_OF, inactive_after="1 year", **by_section
    )
    assert report.non_empty() == list(lifecycle.SECTIONS)
    for fmt in lifecycle.FORMATS:
        assert OTHER in lifecycle.render(report, fmt)
        assert OTHER not in lifecycle.render(lifecycle.redacted(report), fmt), fmt


def test_a_person_sees_their_own_address_and_no_one_elses() -> None:
    entry = PersonList(
        "dev@lists.example.org", False, False, True, False, facts(CUTOFF, None), ("unmanaged",)
    )
    person = Person("alice@example.org", "owner", (), (), lists=(entry,), as_of=AS_OF)
    shown = lifecycle.render_person(lifecycle.redacted_person(person), "lists.example.org", "json")
    assert '"address": "alice@example.org"' in shown
    assert '"alice@example.org",\n' in shown, "in the list's owners too"
    assert OTHER not in shown
    assert "c***@example.org" in shown
