"""Properties of `listsync.escaping` (hypothesis; pure, no Mailman).

For any text: Markdown text is one paragraph (or list item, or table cell) of
plain text reading as the value, a code span is one code span holding it, a
fence is one code block holding every line; the terminal form holds no control,
format or separator character; JSON round-trips and prints none of them raw.
"""

from __future__ import annotations

import json
import unicodedata

from examples import examples
from hypothesis import assume, given, settings
from hypothesis import strategies as st
from markdown_it import MarkdownIt
from markdown_it.token import Token

from listsync.escaping import (
    HIDDEN_CATEGORIES,
    code_span,
    fenced,
    json_text,
    markdown_cell,
    markdown_text,
    visible,
)

# Markdown's and HTML's own characters, blanks of every kind, controls that end lines or
# drive terminals, bidi overrides and separators, then anything at all (surrogates too).
TRICKY = list("`*_[]<>|~&#-+=!\\:{}$()\"'.1234567890 \t\n\r\x0b\x0c\x1b\x7f\x85\xa0")
TRICKY += ["\u200b", "\u200d", "\u2028", "\u2029", "\u202e", "\u3000", "\ufeff", "\U000e0001"]
TRICKY += ["<details>", "```", "~~~", "&#10;", "&lt;", "<!--", "[x]: /y", "1. ", "    "]
TEXT = st.lists(
    st.one_of(st.sampled_from(TRICKY), st.characters(exclude_categories=())), max_size=40
).map("".join)
PROPERTY = settings(max_examples=examples(250), deadline=None)

MARKDOWN = MarkdownIt("commonmark").enable(["table", "strikethrough"])


def hidden(text: str) -> list[str]:
    return [c for c in text if unicodedata.category(c) in HIDDEN_CATEGORIES]


def block_types(tokens: list[Token]) -> list[str]:
    return [token.type for token in tokens]


def plain_text_of(inline: Token) -> str:
    """The text an inline token shows, failing on anything but plain text."""
    children = inline.children or []
    assert [child.type for child in children if child.type != "text"] == [], children
    return "".join(child.content for child in children)


@PROPERTY
@given(TEXT)
def test_visible_leaves_no_hidden_character_and_changes_nothing_else(text: str) -> None:
    shown = visible(text)
    assert hidden(shown) == []
    assert visible(shown) == shown
    if not hidden(text):
        assert shown == text


@PROPERTY
@given(TEXT)
def test_markdown_text_is_one_paragraph_of_plain_text(text: str) -> None:
    shown = visible(text)
    tokens = MARKDOWN.parse(markdown_text(text))
    if not shown:
        assert tokens == []
        return
    assert block_types(tokens) == ["paragraph_open", "inline", "paragraph_close"]
    assert plain_text_of(tokens[1]) == shown


@PROPERTY
@given(TEXT)
def test_markdown_text_is_plain_after_a_list_marker_and_a_quote(text: str) -> None:
    shown = visible(text)
    assume(shown)  # an empty item is no paragraph
    for prefix, opening in (("- ", ["bullet_list_open", "list_item_open"]), ("> x ", [])):
        tokens = MARKDOWN.parse(prefix + markdown_text(text))
        inlines = [token for token in tokens if token.type == "inline"]
        assert len(inlines) == 1, block_types(tokens)
        assert block_types(tokens)[: len(opening)] == opening
        assert "html_block" not in block_types(tokens)
        assert plain_text_of(inlines[0]) == (shown if opening else f"x {shown}")


@PROPERTY
@given(st.lists(TEXT, min_size=1, max_size=4))
def test_markdown_cells_keep_a_table_row_whole(cells: list[str]) -> None:
    header = "| " + " | ".join(f"h{i}" for i in range(len(cells))) + " |"
    rule = "|" + " --- |" * len(cells)
    row = "| " + " | ".join(markdown_cell(cell) for cell in cells) + " |"
    tokens = MARKDOWN.parse("\n".join([header, rule, row]) + "\n\nafter\n")
    types = block_types(tokens)
    body = tokens[types.index("tbody_open") : types.index("tbody_close")]
    assert types.count("tr_open") == 2, types
    shown = [plain_text_of(t) for t in body if t.type == "inline"]
    assert shown == [visible(cell) for cell in cells]
    assert block_types(tokens)[-3:] == ["paragraph_open", "inline", "paragraph_close"]


@PROPERTY
@given(TEXT)
def test_a_code_span_holds_the_whole_text(text: str) -> None:
    tokens = MARKDOWN.parse(f"x {code_span(text)} y")
    assert block_types(tokens) == ["paragraph_open", "inline", "paragraph_close"]
    children = tokens[1].children or []
    assert [child.type for child in children] == ["text", "code_inline", "text"]
    assert children[1].content == (visible(text) or " ")


@PROPERTY
@given(st.lists(TEXT, max_size=6))
def test_a_fence_holds_every_line_and_nothing_closes_it_early(lines: list[str]) -> None:
    document = "\n".join(["before", "", *fenced(lines, "diff"), "", "after"])
    tokens = MARKDOWN.parse(document)
    assert block_types(tokens) == [
        "paragraph_open",
        "inline",
        "paragraph_close",
        "fence",
        "paragraph_open",
        "inline",
        "paragraph_close",
    ]
    fence = tokens[3]
    assert fence.info == "diff"
    assert fence.content == "".join(f"{visible(line)}\n" for line in lines)


@PROPERTY
@given(st.recursive(TEXT | st.integers() | st.none(), lambda inner: st.lists(inner, max_size=3)))
def test_json_text_round_trips_and_prints_no_hidden_character(value: object) -> None:
    document = {"value": value, "key\u202e\x85": [value]}
    text = json_text(document, indent=2)
    assert json.loads(text) == document
    assert [c for c in hidden(text) if c != "\n"] == []
