"""A template text's placeholders, checked without Mailman (pure)."""

from __future__ import annotations

from listsync.mailman_templates import check_text

FOOTER = "list:member:regular:footer"


def test_a_misspelled_placeholder_gets_a_did_you_mean() -> None:
    (problem,) = check_text(FOOTER, "Archives: $mailinglist_urll\n")
    assert (problem.line, problem.col) == (1, 11)
    assert "$mailinglist_urll is not a placeholder" in problem.message
    assert "(did you mean $mailinglist_url?)" in problem.message


def test_a_placeholder_like_none_gets_no_guess() -> None:
    (problem,) = check_text(FOOTER, "Cost: $zebra\n")
    assert "did you mean" not in problem.message
    assert check_text(FOOTER, "The $display_name list; $$5 a year\n") == []
