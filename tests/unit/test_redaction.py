"""`listsync.redaction` on its own (pure): how each address form is masked.

That no output of a redacting site shows an address is test_redaction.py's,
on the real core.
"""

from __future__ import annotations

from listsync.redaction import has_address, redact


def test_redact_masks_every_form_whole() -> None:
    cases = {
        "alice@example.org": "a***@example.org",
        "a@b.c": "***@b.c",
        "ab@b.c": "***@b.c",
        "o|brien@example.org": "o***@example.org",
        "^alice@example\\.org$": "***@example\\.org$",
        "^(alice|bob)@example\\.org$": "***@example\\.org$",
        "jane@bücher.example": "j***@bücher.example",
        "jäne@bücher.example": "j***@bücher.example",
        "Questions to jane.doe@example.org.": "Questions to j***@example.org.",
        "<x.y+z@example.org>, 'q!#@e.org'": "<x***@example.org>, ***@e.org'",
        "is already an owner of tor-dev@lists.example.org": (
            "is already an owner of t***@lists.example.org"
        ),
    }
    assert {text: redact(text) for text in cases} == cases
    assert not has_address("no address here, nor @ alone, nor trailing@")
    assert has_address("trailing@x")
