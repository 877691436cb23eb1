"""Hypothesis strategies for list files, shared by the property tests.

`list_specs` draws a valid list file (as data: `dump_yaml` writes it),
`json_like` any YAML-able value, `HOSTILE_TEXT` markup and path-like text.
The addresses are a fixed few, so examples share people.
"""

from __future__ import annotations

import io
from typing import Any

from hypothesis import strategies as st
from ruamel.yaml import YAML

from listsync import mailman_settings
from listsync.models import Archive, Category, DmarcMitigation, Posting, Subscription, Visibility

ADDRESSES = [
    "alice@example.org",
    "Bob@Example.org",
    "carol.d@example.net",
    "Dave Example <dave@example.org>",
    "erin+lists@example.com",
]
HOSTILE_TEXT = st.sampled_from(["<script>alert(1)</script>", "a | b", "`x`", "../", "%2F", "ü ñ"])


def dump_yaml(data: Any) -> str:
    """`data` as a block-style YAML document."""
    stream = io.StringIO()
    yaml = YAML(typ="safe", pure=True)
    yaml.default_flow_style = False
    yaml.dump(data, stream)
    return stream.getvalue()


def _choice(enum: type[Any]) -> st.SearchStrategy[str]:
    return st.sampled_from([member.value for member in enum])


descriptions = st.one_of(
    st.text(alphabet=st.characters(blacklist_categories=("Cc", "Cs", "Zl", "Zp")), max_size=40),
    HOSTILE_TEXT,
).map(str.strip)

list_specs = st.fixed_dictionaries(
    {"owners": st.lists(st.sampled_from(ADDRESSES), min_size=1, max_size=3, unique=True)},
    optional={
        "description": descriptions,
        "category": _choice(Category),
        "visibility": _choice(Visibility),
        "archive": _choice(Archive),
        "posting": _choice(Posting),
        "subscription": _choice(Subscription),
        "dmarc": st.fixed_dictionaries(
            {}, optional={"mitigation": _choice(DmarcMitigation), "unconditional": st.booleans()}
        ),
        "moderators": st.lists(st.sampled_from(ADDRESSES), max_size=2, unique=True),
        "disabled": st.booleans(),
        "settings": st.fixed_dictionaries(
            {},
            optional={
                "max_message_size": st.integers(0, 100_000),
                "send_welcome_message": st.booleans(),
                "member_roster_visibility": st.sampled_from(
                    mailman_settings.SETTINGS["member_roster_visibility"].choices
                ),
                "acceptable_aliases": st.lists(
                    st.from_regex(r"\^[a-zA-Z]{1,8}@example\.org\$", fullmatch=True), max_size=3
                ),
                "digest_size_threshold": st.floats(0, 1000, allow_nan=False).map(
                    lambda f: round(f, 2)
                ),
                "bounce_info_stale_after": st.sampled_from(["7d", "1w", "1d12h", "30m"]),
                "advertised": st.booleans(),
                "info": descriptions,
            },
        ),
    },
)

json_like = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | st.text(max_size=20),
    lambda children: (
        st.lists(children, max_size=4) | st.dictionaries(st.text(max_size=12), children, max_size=4)
    ),
    max_leaves=12,
)
