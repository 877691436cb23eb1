"""Escaping: how a value is printed, whatever it holds, in every output listsync makes.

Owns the one rule every renderer follows: a value (from a file, from Mailman,
from git, from the command line) is data, never structure. Validation refuses
control characters in what the files declare, but live values come from
Mailman (a list owner may put anything in a description, a ban or a header
filter through Postorius or REST) and commit subjects and authors from git,
so every output escapes what it prints:

* `visible`, for text and terminals: control characters (Unicode categories
  Cc, Cf, Cs, Zl, Zp: newlines, ANSI escapes, bidi overrides such as
  U+202E, line and paragraph separators) become visible escapes (`\\n`,
  `\\x1b`, `\\u202e`), so a value is one line and never drives a terminal;
* `markdown_text` and `markdown_cell`, for Markdown outside code: the text
  shown literally as inline content of one line (no emphasis, link, HTML,
  table pipe, or anything that could start or end a block);
* `code_span` and `fenced`, for Markdown code: delimiters longer than any
  backtick run of the content (CommonMark), so no content can close them;
* `json_text`, for JSON people may read on a terminal: `json.dumps` leaves
  DEL, C1 controls and Cf characters raw; these become `\\uXXXX` escapes.

Backslashes are not doubled by `visible`: a regexp such as `^.*@x\\.org$`
stays readable; an escape it shows may thus also have been written so.
"""

from __future__ import annotations

import json
import re
import unicodedata
from collections.abc import Iterable
from typing import Any

HIDDEN_CATEGORIES = frozenset({"Cc", "Cf", "Cs", "Zl", "Zp"})
"""Unicode categories never printed raw: controls, format (bidi) controls, surrogates,
line and paragraph separators."""

_NAMED = {"\n": "\\n", "\r": "\\r", "\t": "\\t"}


def is_hidden(char: str) -> bool:
    """Whether `char` is one that `visible` escapes."""
    return unicodedata.category(char) in HIDDEN_CATEGORIES


def escape_char(char: str) -> str:
    """`\\n`, `\\r`, `\\t`, `\\xNN`, `\\uNNNN` or `\\UNNNNNNNN` for one character."""
    named = _NAMED.get(char)
    if named is not None:
        return named
    code = ord(char)
    if code < 0x100:
        return f"\\x{code:02x}"
    if code < 0x10000:
        return f"\\u{code:04x}"
    return f"\\U{code:08x}"


def hidden_character(text: str, allowed: str = "") -> str | None:
    """The first hidden character of `text` not in `allowed`, described for a person
    (`\\x1b (U+001B) at character 3`), or None."""
    if text.isprintable():
        return None
    for index, char in enumerate(text, start=1):
        if char not in allowed and is_hidden(char):
            name = unicodedata.name(char, "")
            code = f"U+{ord(char):04X} {name}" if name else f"U+{ord(char):04X}"
            return f"{escape_char(char)} ({code}) at character {index}"
    return None


def visible(text: str) -> str:
    """`text` on one line with every hidden character (see `HIDDEN_CATEGORIES`) escaped."""
    if text.isprintable():  # the common case: nothing to escape (a space is printable)
        return text
    return "".join(escape_char(c) if is_hidden(c) else c for c in text)


def visible_lines(text: str) -> str:
    """A text of several lines, each made `visible`: its line breaks (`\\n`) stay."""
    return "\n".join(visible(line) for line in text.split("\n"))


# -- Markdown ------------------------------------------------------------------------

# Inline syntax anywhere in a line: escapes, code, emphasis, links and images, raw HTML
# and autolinks, table pipes, strikethrough, entities, math and GitLab's inline diffs.
_MARKDOWN_INLINE = re.compile(r"[\\`*_\[\]<>|~&${}]")
# What starts a block at the beginning of a line: headings, quotes, list items,
# setext underlines; an ordered list's number keeps its digits, its '.' or ')' escaped.
_LEADING_MARKER = re.compile(r"^(?:[#>+=-]|(\d{1,9})([.)]))")


def _entity(char: str) -> str:
    return f"&#x{ord(char):x};"


def markdown_text(text: str) -> str:
    """`text` as literal inline Markdown on one line: rendered, it reads as `visible(text)`,
    as one run of plain text, wherever the line starts (a paragraph, a list item, a cell)."""
    escaped = _MARKDOWN_INLINE.sub(r"\\\g<0>", visible(text))
    marker = _LEADING_MARKER.match(escaped)
    if marker is not None:
        if marker[1] is None:
            escaped = "\\" + escaped
        else:
            escaped = f"{marker[1]}\\{escaped[len(marker[1]) :]}"
    # Leading blanks would indent (a code block), trailing ones are dropped: as entities,
    # they are text.
    if escaped[:1].isspace():
        escaped = _entity(escaped[0]) + escaped[1:]
    if escaped[-1:].isspace():
        escaped = escaped[:-1] + _entity(escaped[-1])
    return escaped


def markdown_cell(text: str) -> str:
    """`text` as the literal content of one GFM table cell (its pipes escaped)."""
    return markdown_text(text)


def _longest_backtick_run(texts: Iterable[str]) -> int:
    return max((len(run) for text in texts for run in re.findall("`+", text)), default=0)


def code_span(text: str) -> str:
    """`text` as an inline code span: `visible`, between backtick runs longer than any
    in it, padded with a space where CommonMark strips one."""
    shown = visible(text)
    if not shown:
        return "` `"
    ticks = "`" * (_longest_backtick_run([shown]) + 1)
    edges = (shown[0], shown[-1])
    pad = " " if ("`" in edges or " " in edges) and shown.strip(" ") else ""
    return f"{ticks}{pad}{shown}{pad}{ticks}"


def fenced(lines: Iterable[str], info: str = "") -> list[str]:
    """`lines` (each made `visible`) as a fenced code block: the fence is longer than any
    backtick run in them, so no line can close it."""
    shown = [visible(line) for line in lines]
    fence = "`" * max(3, _longest_backtick_run(shown) + 1)
    return [fence + visible(info).replace("`", ""), *shown, fence]


# -- JSON ----------------------------------------------------------------------------


def _json_escape(match: re.Match[str]) -> str:
    char = match.group(0)
    code = ord(char)
    if code < 0x10000:
        return f"\\u{code:04x}"
    code -= 0x10000
    return f"\\u{0xD800 + (code >> 10):04x}\\u{0xDC00 + (code & 0x3FF):04x}"


# json.dumps escapes U+0000 to U+001F in strings itself; its layout is spaces and newlines.
# What else is not printable ASCII is looked at: hidden characters become escapes.
_NOT_PLAIN = re.compile(r"[^\x20-\x7e\n]")


def _json_char(match: re.Match[str]) -> str:
    char = match.group(0)
    return _json_escape(match) if is_hidden(char) else char


def json_text(document: Any, **options: Any) -> str:
    """`json.dumps(document, ensure_ascii=False, **options)` with every hidden character
    escaped as `\\uXXXX`: the same JSON value, and nothing a terminal acts on."""
    return _NOT_PLAIN.sub(_json_char, json.dumps(document, ensure_ascii=False, **options))
