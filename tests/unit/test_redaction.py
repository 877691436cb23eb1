"""`listsync.redaction` on its own (pure; hypothesis): every address form is masked.

The forms are those Mailman's validator takes (any character it allows in a
local part, a quoted local part, upper case, punycode domains), the regexp
forms of bans and list settings, display-name forms, and anything else with
an @ between two runs; each sits in text the way plans, errors and pages put
it, after a blank. A token in the local part must not survive. That no output of a
redacting site shows an address is test_redaction.py's, on the real core.
"""

from __future__ import annotations

from typing import Any

from examples import examples
from hypothesis import given, settings
from hypothesis import strategies as st

from listsync.mailman_settings import is_email
from listsync.redaction import MASK, has_address, redact, redact_value

# What Mailman's validator allows in a local part besides letters and digits (it takes a
# local part in double quotes too, and an @ inside one).
LOCAL_SPECIALS = "!#$%&'*+-./=?_`{}~@"
TOKEN = "Tk7q"
DOMAINS = (
    "example.org",
    "Example.ORG",
    "xn--bcher-kva.example",
    "bücher.example",
    "sub.domain.example.org",
    "e.io",
    r"example\.org$",
    "[127.0.0.1]",
)
BEFORE = ("", " ", "<", "(", "[", "mailto:", "Questions to ", "owner ", "'", '"', "|", "^", "\t")
AFTER = ("", " ", ".", ">", ",", ";", ")", "]", "'", '"', " and more", ": hold", "\n")
REDACTION = settings(max_examples=examples(200), deadline=None)


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
        '"jane"@example.org': "***@example.org",
        'ban <"jane.doe"@example.org>': "ban <***@example.org>",
    }
    assert {text: redact(text) for text in cases} == cases
    assert not has_address("no address here, nor @ alone, nor trailing@")
    assert has_address("trailing@x")


local_parts = st.builds(
    lambda before, after: before + TOKEN + after,
    st.text(st.sampled_from("abcXYZ019" + LOCAL_SPECIALS), max_size=6),
    st.text(st.sampled_from("abcXYZ019" + LOCAL_SPECIALS), max_size=6),
)


@st.composite
def addresses(draw: st.DrawFn) -> str:
    """An address-like run holding `TOKEN` before its @, in one of its forms."""
    local = draw(local_parts)
    domain = draw(st.sampled_from(DOMAINS))
    form = draw(st.sampled_from(["plain", "quoted", "regexp", "alternatives", "named"]))
    if form == "quoted":
        return f'"{local}"@{domain}'
    if form == "regexp":
        return f"^{local}@{domain}"
    if form == "alternatives":
        return f"^(alice|{local})@{domain}"
    if form == "named":
        return f'"Jane Doe" <{local}@{domain}>'
    return f"{local}@{domain}"


@REDACTION
@given(
    st.lists(
        st.tuples(st.sampled_from(BEFORE), addresses(), st.sampled_from(AFTER)),
        min_size=1,
        max_size=3,
    )
)
def test_no_local_part_survives_redaction_in_any_form_or_context(
    parts: list[tuple[str, str, str]],
) -> None:
    text = " ".join(before + address + after for before, address, after in parts)
    masked = redact(text)
    assert TOKEN not in masked, (text, masked)
    assert MASK in masked
    assert redact(masked) == masked, "masking twice changes nothing more"


def test_mailman_takes_the_forms_the_property_masks() -> None:
    assert is_email(f'"{TOKEN}.x"@example.org')
    assert is_email(f"a{TOKEN}{LOCAL_SPECIALS}@xn--bcher-kva.example")


json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | addresses() | st.text(max_size=8),
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(addresses(), inner, max_size=2),
    max_leaves=6,
)


@REDACTION
@given(json_values)
def test_redact_value_masks_every_string_of_a_setting(value: Any) -> None:
    masked = redact_value(value)
    assert TOKEN not in repr(masked)
    if isinstance(value, str | int | bool) or value is None:
        assert type(masked) is type(value)
