"""The fast parse (`yamlfile.fast_mapping`, libyaml) gives exactly what the round-trip
loader gives, or refuses.

The property: over generated list files, valid and near-valid, with the places YAML 1.1
(PyYAML, libyaml) and YAML 1.2 (ruamel.yaml's round-trip loader) read differently mixed
in, `fast_mapping` either refuses (None) or returns the same Python data, type for type,
as `plain` of the round-trip document; and it never accepts a text the round-trip
loader refuses. The examples below it pin down which side of the line each trap falls
on, so that the property cannot hold merely by refusing everything.
"""

from __future__ import annotations

import math
from pathlib import Path
from typing import Any

import pytest
from examples import examples
from hypothesis import given, settings
from hypothesis import strategies as st
from list_strategies import ADDRESSES, dump_yaml, list_specs

from listsync.errors import Problem
from listsync.yamlfile import fast_mapping, parse_text, plain

REPO = Path(__file__).resolve().parents[2]


def _words(text: str) -> list[str]:
    return text.split()


# Plain scalars on which YAML 1.1 and 1.2, or PyYAML and ruamel.yaml, may disagree.
TRAP_SCALARS = [
    *_words("yes no on off y n Y N Yes NO On OFF YES Off"),
    *_words("true True TRUE false False FALSE"),
    *_words("0o17 017 0x1F 0b101 1_000 1_0.5 1e5 1E5 1.5e3 1.5e+3 +1 -0 0 007 08 -12 +0.5"),
    *_words("12:30 1:20:30.5 190:20:30 .inf -.inf .Inf +.inf .nan .NaN .NAN 1. .5 -.5 0.0"),
    *_words("2024-01-01 2024-1-1 2024-01-01T10:00:00Z 2001-12-14t21:59:43.10-05:00"),
    "2001-12-14 21:59:43.10 -5",
    *_words("~ null Null NULL nULL = << <<< == - -- ? : !"),
    *_words("a:b http://x.org/a?b=c#d @x `x` %x &a *a !x !!str x#y x_#y"),
    "'quoted'",
    "'it''s'",
    '"dq \\x41 \\u00e9 \\/ \\t \\N \\_"',
    '"2024-01-01"',
    "'yes'",
    "|\n  literal\n  block\n",
    ">-\n  folded\n  block\n\n  para\n",
    "a\n  continued plain",
    "",
    "[yes, 017, 1_000, a]",
    "{on: off, 0x10: 1}",
]
TRAP_KEYS = [
    *_words("yes on y 1 01 0o1 true 1.0 2024-01-01 ~ null << = a:b"),
    "'a: b'",
    '"quoted key"',
    "? [a, b]\n",
    "? |\n  block key\n",
]
# Whole lines and blocks: anchors, aliases, merge keys, tags, directives, more
# documents, duplicate keys, tabs, comments, flow style, a BOM, unusual line breaks.
TRAP_BLOCKS = [
    "anchored: &a [x, y]\naliased: *a\n",
    "base: &b {p: 1}\nmerged:\n  <<: *b\n  q: 2\n",
    "merged:\n  <<: [{p: 1}, {q: 2}]\n",
    "scalar: &s text\nagain: *s\n",
    "tagged: !!str 123\n",
    "tagged: !!int '017'\n",
    "tagged: !!float 1\n",
    "tagged: !!binary aGVsbG8=\n",
    "tagged: !!set {a, b}\n",
    "tagged: !!omap [a: 1]\n",
    "tagged: !custom x\n",
    "tagged: ! 5\n",
    "tagged: !<tag:yaml.org,2002:str> 5\n",
    "tagged: !<listsync fast int> 5\n",
    "---\nsecond: document\n",
    "...\n",
    "--- >\n  text\n",
    "description: twice\n",
    "owners: [twice@example.org]\n",
    "key:\tvalue\n",
    "\tindented: with a tab\n",
    'key: "a\ttab"\n',
    "key: 'a\ttab'\n",
    "key: x # a comment\n",
    "# a comment\n",
    "flow: {a: [b, {c: d}], e: f}\n",
    "flow: [a, b, ]\n",
    "flow: {a:1, 'b':2, \"c\":3}\n",
    "empty:\n",
    "nested:\n  - a\n  - - b\n    - c\n  - d: e\n    f: g\n",
    "long: " + "x" * 1100 + "\n",
    "x" * 1100 + ": long key\n",
    "nel: a\x85b\n",
    "ls: a\u2028b\n",
    "bom: a\ufeffb\n",
    "ctl: a\x07b\n",
    "del: a\x7fb\n",
    "astral: \U0001f600\n",
    "nbsp: a\xa0b\n",
    "crlf: a\r\nnext: b\r\n",
    "cr: a\rnext: b\n",
    "  misindented: x\n",
    "- a list item at the top\n",
    "key: [unclosed\n",
    'key: "unclosed\n',
    "key: value: more\n",
    "key: |\n  \tblock with tab\n",
]


def _same(value: Any) -> Any:
    """`value` with every type made plain and kept visible: the round-trip loader's str,
    int and float subclasses compare as their base types; True is not 1, -0.0 not 0.0."""
    if isinstance(value, dict):
        return ("dict", [(_same(k), _same(v)) for k, v in value.items()])
    if isinstance(value, list):
        return ("list", [_same(item) for item in value])
    if value is None:
        return ("null",)
    if isinstance(value, float):
        return ("float", "nan" if math.isnan(value) else value.hex())
    for kind in (bool, int, str):
        if isinstance(value, kind):
            return (kind.__name__, kind(value))
    raise AssertionError(f"unexpected type {type(value).__name__} in {value!r}")


def _round_trip(text: str) -> tuple[Any, list[Problem]]:
    problems: list[Problem] = []
    parsed = parse_text(text, "lists/x.yaml", problems)
    return (None if parsed is None else plain(parsed.document)), problems


def _assert_agree(text: str) -> bool:
    """The property for one text; whether the fast parse took it."""
    fast = fast_mapping(text)
    if fast is None:
        return False
    slow, problems = _round_trip(text)
    assert slow is not None, f"the fast parse took a text the round-trip loader refuses: {problems}"
    assert _same(fast) == _same(slow)
    return True


scalars = st.one_of(
    st.sampled_from(TRAP_SCALARS),
    st.sampled_from(ADDRESSES),
    st.text(st.characters(codec="utf-8"), max_size=12),
)
keys = st.one_of(
    st.sampled_from(TRAP_KEYS),
    st.sampled_from(["description", "posting", "settings", "extra", "dmarc", "owners"]),
    st.text(st.characters(codec="utf-8"), min_size=1, max_size=8),
)
lines = st.one_of(
    st.sampled_from(TRAP_BLOCKS),
    st.builds(lambda k, v: f"{k}: {v}\n", keys, scalars),
    st.builds(lambda v: f"settings:\n  max_message_size: {v}\n", scalars),
    st.builds(lambda v: f"owners:\n- {v}\n", scalars),
    st.builds(lambda v: f"dmarc: {{unconditional: {v}}}\n", scalars),
)


@st.composite
def list_file_texts(draw: st.DrawFn) -> str:
    """A valid list file as `dump_yaml` writes it, with up to four trap lines put before,
    between or after its lines, maybe a directive, and maybe CRLF line ends."""
    text: str = dump_yaml(draw(list_specs))
    body = text.splitlines(keepends=True)
    for _ in range(draw(st.integers(0, 4))):
        body.insert(draw(st.integers(0, len(body))), draw(lines))
    text = draw(st.sampled_from(["", "", "", "---\n", "%YAML 1.2\n---\n", "%YAML 1.1\n---\n"]))
    text += "".join(body)
    if draw(st.booleans()) and draw(st.booleans()):
        text = text.replace("\n", "\r\n")
    return text


@settings(max_examples=examples(400), deadline=None)
@given(text=list_file_texts())
def test_fast_parse_agrees_with_round_trip_or_refuses(text: str) -> None:
    _assert_agree(text)


@settings(max_examples=examples(150), deadline=None)
@given(spec=list_specs)
def test_valid_list_files_without_traps_take_the_fast_path(spec: dict[str, Any]) -> None:
    """What the generator writes for a valid file (its descriptions aside, which may hold
    any text) is read by the fast parse, and read the same."""
    spec = {key: value for key, value in spec.items() if key != "description"}
    spec["settings"] = {k: v for k, v in spec.get("settings", {}).items() if k != "info"}
    assert _assert_agree(dump_yaml(spec))


def test_the_example_site_takes_the_fast_path() -> None:
    """Every list file of this repository's example site: ordinary files are not refused."""
    paths = sorted((REPO / "lists").glob("*.yaml"))
    assert len(paths) > 50
    refused = [p.name for p in paths if not _assert_agree(p.read_text("utf-8-sig"))]
    assert refused == []


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        ("true", True),
        ("False", False),
        ("~", None),
        ("null", None),
        ("", None),
        ("0", 0),
        ("-12", -12),
        ("+7", 7),
        ("100", 100),
        ("1.5", 1.5),
        ("-0.25", -0.25),
        ("alice@example.org", "alice@example.org"),
        ("1.2.3", "1.2.3"),
        ("'yes'", "yes"),
        ('"017"', "017"),
        ("nobody", "nobody"),
        ("offline", "offline"),
        ("7d", "7d"),
        ("^a.*@example\\.org$", "^a.*@example\\.org$"),
        ("Hello!", "Hello!"),
        ("[a, 'b']", ["a", "b"]),
    ],
)
def test_what_the_fast_parse_reads(value: str, expected: Any) -> None:
    text = f"key: {value}\n"
    assert _assert_agree(text)
    assert _same(fast_mapping(text)) == _same({"key": expected})


def test_the_directive_of_yaml_1_2_is_read() -> None:
    """`%YAML 1.2` says what the round-trip loader assumes anyway (`%YAML 1.1` is refused)."""
    assert _assert_agree("%YAML 1.2\n---\nkey: [on, 017]\n") is False
    assert _assert_agree("%YAML 1.2\n---\nkey: value\n")


@pytest.mark.parametrize(
    "text",
    [
        # YAML 1.1 booleans, octals, sexagesimals, underscores: 1.2 reads them otherwise
        *(f"key: {v}\n" for v in _words("yes no on off y n Yes NO On OFF")),
        *(f"key: {v}\n" for v in _words("017 0o17 0x1F 0b101 1_000 12:30 1e5 1. .5")),
        *(f"key: {v}\n" for v in _words(".inf -.inf .nan 2024-01-01 2024-01-01T10:00:00Z << =")),
        "yes: key\n",
        "key: [a, on]\n",
        "key: {a: 017}\n",
        # anchors with aliases, merge keys, tags, directives, documents
        "a: &x [1]\nb: *x\n",
        "base: &b {p: 1}\nmerged:\n  <<: *b\n",
        "key: !!str 5\n",
        "key: !!int '5'\n",
        "key: !custom x\n",
        "key: ! 5\n",
        "%YAML 1.1\n---\nkey: yes\n",
        "a: b\n---\nc: d\n",
        # keys given twice, or that Python takes for one
        "a: 1\na: 2\n",
        "1: a\ntrue: b\n",
        "? [a, b]\n: c\n",
        # characters the two parsers' rules about could differ on
        "key:\tvalue\n",
        "key: 'a\tb'\n",
        "key: a\x85b\n",
        "key: a\u2028b\n",
        "key: a\ufeffb\n",
        # not one mapping, or not YAML
        "- a\n",
        "just text\n",
        "",
        "key: [unclosed\n",
    ],
)
def test_the_fast_parse_refuses(text: str) -> None:
    assert fast_mapping(text) is None
