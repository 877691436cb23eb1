"""YAML text into models, with positions: what a finding's `file:LINE:COL` comes from.

Owns reading a file as UTF-8, parsing it with ruamel.yaml's round-trip
loader (which keeps every node's line and column), the plain words for
what YAML refuses (a tab, a duplicate key, a character it does not allow),
validating the document against a pydantic model, and turning each of
pydantic's errors into a `Problem` at the position of the field it names.
What the fields mean, and the checks across files, are load.py's.

Also the fast parse (`fast_mapping`): libyaml through PyYAML, for the files
that turn out clean, with no positions. It gives exactly what the
round-trip loader gives, or refuses (None) wherever the two could differ,
and the caller then takes the round-trip path.
"""

from __future__ import annotations

import functools
import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any, TypeVar

from pydantic import BaseModel, ValidationError
from pydantic_core import ErrorDetails
from ruamel.yaml import YAML
from ruamel.yaml.comments import CommentedMap, CommentedSeq
from ruamel.yaml.constructor import DuplicateKeyError
from ruamel.yaml.error import YAMLError
from ruamel.yaml.nodes import MappingNode, Node, ScalarNode, SequenceNode
from ruamel.yaml.reader import ReaderError
from ruamel.yaml.resolver import implicit_resolvers as ruamel_implicit_resolvers

from listsync.errors import Problem
from listsync.models import KEY_ERROR_TYPES, did_you_mean

Loc = tuple[str | int, ...]
"""Where a value is in a document: mapping keys and sequence indexes, from the top."""


@dataclass(frozen=True, slots=True)
class Parsed:
    """A parsed file: the path shown for it and its round-trip document."""

    path: str
    document: Any


def parse_file(path: Path, shown: str, problems: list[Problem]) -> Parsed | None:
    text = read_text(path, shown, problems)
    if text is None:
        return None
    return parse_text(text, shown, problems)


def read_text(path: Path, shown: str, problems: list[Problem]) -> str | None:
    raw = path.read_bytes()
    try:
        return raw.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        line = raw.count(b"\n", 0, exc.start) + 1
        col = exc.start - (raw.rfind(b"\n", 0, exc.start) + 1) + 1
        bad = raw[exc.start : exc.start + 1].hex()
        problems.append(Problem(shown, line, col, "", f"not valid UTF-8 (byte 0x{bad})"))
        return None


def parse_text(text: str, shown: str, problems: list[Problem]) -> Parsed | None:
    try:
        document = YAML(typ="rt", pure=True).load(text)
    except ReaderError as exc:
        line = text.count("\n", 0, exc.position) + 1
        col = exc.position - (text.rfind("\n", 0, exc.position) + 1) + 1
        message = f"character {exc.character!r} is not allowed in YAML ({exc.reason})"
        problems.append(Problem(shown, line, col, "", message))
        return None
    except DuplicateKeyError as exc:
        problems.append(_duplicate_key(text, shown, exc))
        return None
    except YAMLError as exc:
        mark = getattr(exc, "problem_mark", None) or getattr(exc, "context_mark", None)
        line, col = (mark.line + 1, mark.column + 1) if mark is not None else (1, 1)
        problem = getattr(exc, "problem", None) or str(exc)
        context = getattr(exc, "context", None)
        parser = f"{context}, {problem}" if context else problem
        message = _tab_message(text, line, col) or (
            f"{_plain_words(parser)} (YAML: {parser})"
            if _plain_words(parser)
            else f"YAML syntax error: {parser}"
        )
        problems.append(Problem(shown, line, col, "", message))
        return None
    except (RecursionError, ValueError, TypeError) as exc:
        problems.append(Problem(shown, 1, 1, "", f"cannot read this YAML: {exc}"))
        return None
    if document is None:
        problems.append(Problem(shown, 1, 1, "", "empty file: expected a mapping of fields"))
        return None
    if not isinstance(document, CommentedMap):
        kind = "a list" if isinstance(document, CommentedSeq) else f"a {type(document).__name__}"
        line, col = node_start(document)
        problems.append(
            Problem(
                shown, line, col, "", f"expected a mapping of fields at the top level, found {kind}"
            )
        )
        return None
    return Parsed(shown, document)


# What the YAML parser's words mean in a list file, for the mistakes people make.
_PLAIN_WORDS = (
    (
        "mapping values are not allowed here",
        "a ':' where a value was expected: is this line indented more than the key above"
        " it, or does the value hold ': ' and need quotes?",
    ),
    (
        "expected <block end>, but found",
        "this line is not indented like the lines above it: the keys of one mapping,"
        " and the items of one list, start in the same column",
    ),
    (
        "while parsing a flow sequence",
        "a list opened with '[' is not closed with ']', or its items lack commas",
    ),
    (
        "while parsing a flow mapping",
        "a mapping opened with '{' is not closed with '}', or its entries lack commas",
    ),
    ("while scanning a quoted scalar", "a quoted text is not closed: add its closing quote"),
    (
        "could not find expected ':'",
        "a line with no ':' among keys: write 'key: value', or start a list item with '- '",
    ),
    (
        "while scanning a simple key",
        "a line with no ':' among keys: write 'key: value', or start a list item with '- '",
    ),
)


def _plain_words(parser: str) -> str | None:
    return next((words for jargon, words in _PLAIN_WORDS if jargon in parser), None)


def _tab_message(text: str, line: int, col: int) -> str | None:
    """Plain words for YAML's refusal of a tab at `line`:`col`, when that is what it refused."""
    lines = text.splitlines()
    if not 0 < line <= len(lines) or lines[line - 1][col - 1 : col] != "\t":
        return None
    if lines[line - 1][: col - 1].strip(" \t") == "":
        return "tabs are not allowed for indentation; use spaces"
    return "a tab is not allowed here; use spaces"


def _duplicate_key(text: str, shown: str, exc: DuplicateKeyError) -> Problem:
    """The second occurrence of a key, naming the line of the first."""
    mark = exc.problem_mark
    line, col = (mark.line + 1, mark.column + 1) if mark is not None else (1, 1)
    try:
        root = YAML(typ="rt", pure=True).compose(text)
    except YAMLError:
        root = None
    found = _find_duplicate(root, line - 1, col - 1) if root is not None else None
    if found is None:
        return Problem(shown, line, col, "", "duplicate key: a key may appear only once")
    loc, (first_line, first_col) = found
    where = (
        f"set twice on line {line} (columns {first_col} and {col})"
        if first_line == line
        else f"set on line {first_line} and again on line {line}"
    )
    return Problem(
        shown, line, col, dotted(loc), f"duplicate key: {where}; a key may appear only once"
    )


def _find_duplicate(root: Node, line: int, col: int) -> tuple[Loc, tuple[int, int]] | None:
    """The path of the key node at 0-based `line`:`col` and the 1-based position of its
    first occurrence in the same mapping, or None."""
    pending: list[tuple[Node, Loc]] = [(root, ())]
    visited: set[int] = set()  # an alias may point back up the tree
    while pending:
        node, loc = pending.pop()
        if id(node) in visited:
            continue
        visited.add(id(node))
        if isinstance(node, SequenceNode):
            pending.extend((item, (*loc, index)) for index, item in enumerate(node.value))
        if not isinstance(node, MappingNode):
            continue
        first: dict[tuple[str, Any], Node] = {}
        for key, value in node.value:
            if not isinstance(key, ScalarNode):
                pending.append((value, loc))
                continue
            earlier = first.setdefault((str(key.tag), key.value), key)
            if (key.start_mark.line, key.start_mark.column) == (line, col) and earlier is not key:
                mark = earlier.start_mark
                return (*loc, key.value), (mark.line + 1, mark.column + 1)
            pending.append((value, (*loc, key.value)))
    return None


M = TypeVar("M", bound=BaseModel)


def validate(
    model: type[M], parsed: Parsed, fields: Mapping[Loc, type[BaseModel]], problems: list[Problem]
) -> M | None:
    try:
        return model.model_validate(plain(parsed.document))
    except ValidationError as exc:
        for error in exc.errors():
            problems.append(_problem(parsed, error, fields))
        return None


def plain(node: Any) -> Any:
    """ruamel's round-trip containers as plain dicts and lists (keys as given)."""
    if isinstance(node, Mapping):
        return {key: plain(value) for key, value in node.items()}
    if isinstance(node, list):
        return [plain(item) for item in node]
    return node


def _problem(parsed: Parsed, error: ErrorDetails, fields: Mapping[Loc, type[BaseModel]]) -> Problem:
    loc: Loc = tuple(error["loc"])
    kind = error["type"]
    line, col = position(parsed.document, loc, key=kind in KEY_ERROR_TYPES)
    return Problem(parsed.path, line, col, dotted(loc), _message(error, loc, fields))


def _message(error: ErrorDetails, loc: Loc, fields: Mapping[Loc, type[BaseModel]]) -> str:
    kind = error["type"]
    given = error.get("input")
    if kind == "extra_forbidden":
        model = fields.get(tuple(part for part in loc[:-1] if not isinstance(part, int)))
        known = set(model.model_fields) if model is not None else set()
        allowed = ", ".join(sorted(known))
        return f"unknown field{did_you_mean(str(loc[-1]), known)}; allowed: {allowed}"
    if kind == "enum":
        expected = error.get("ctx", {}).get("expected", "")
        choices = [c.strip(" '") for c in re.split(r",| or ", str(expected)) if c.strip(" '")]
        return f"{given!r} is not one of: {', '.join(choices)}{did_you_mean(str(given), choices)}"
    if kind == "missing":
        return "required field is missing"
    if kind == "bool_type":
        return f"expected true or false, got {given!r}"
    if kind in {"string_type", "list_type", "dict_type", "model_type"}:
        wanted = {"string_type": "a string", "list_type": "a list", "dict_type": "a mapping"}
        hint = ""
        if kind == "list_type" and isinstance(given, str) and " - " in given:
            hint = ": start each item on a line of its own with '- '"
        return f"expected {wanted.get(kind, 'a mapping')}, got {_describe(given)}{hint}"
    message = str(error["msg"])
    return message.removeprefix("Value error, ")


def _describe(value: object) -> str:
    if isinstance(value, Mapping):
        return "a mapping"
    if isinstance(value, list):
        return "a list"
    if value is None:
        return "nothing (null)"
    return repr(value)


def dotted(loc: Loc) -> str:
    text = ""
    for part in loc:
        if isinstance(part, int):
            text += f"[{part}]"
            continue
        name = part if part.isprintable() and part.strip() == part and part else repr(part)
        text += f".{name}" if text else name
    return text


def node_start(node: Any) -> tuple[int, int]:
    lc = getattr(node, "lc", None)
    if lc is not None and lc.line is not None:
        return lc.line + 1, lc.col + 1
    return 1, 1


def position(document: Any, loc: Loc, *, key: bool = False) -> tuple[int, int]:
    """The 1-based position of the deepest node of `loc` present in `document`."""
    found = node_start(document)
    node = document
    for depth, part in enumerate(loc):
        last = depth == len(loc) - 1
        if isinstance(node, CommentedMap) and part in node:
            line, col = node.lc.key(part) if (last and key) else node.lc.value(part)
            found = (line + 1, col + 1)
            node = node[part]
        elif isinstance(node, CommentedSeq) and isinstance(part, int) and 0 <= part < len(node):
            line, col = node.lc.item(part)
            found = (line + 1, col + 1)
            node = node[part]
        else:
            break
    return found


# -- the fast parse ----------------------------------------------------------------
#
# libyaml (PyYAML's CParser) scans, parses and composes; the tag of each node, and the
# Python value made of it, are decided here, not by PyYAML's YAML 1.1 rules. A plain
# scalar is read only where YAML 1.1 and 1.2 agree and ruamel.yaml reads it the same:
# null, true/false, a decimal integer with no leading zero or underscore, a decimal
# fraction, and text that no implicit resolver of either library (any YAML version)
# would type. Anything else refuses the file: `yes`/`no`/`on`/`off`/`y`/`n`, `017`,
# `0o17`, `0x1F`, `1_000`, `1e5`, `.inf`, `.nan`, `12:30`, dates and timestamps, `<<`
# (merge) and `=`, any explicit tag (`!!str`, `!`, `!foo`), an alias, a key given twice
# (or two keys Python takes as one, `1` and `true`), a key that is not a scalar, more
# than one document, any directive but `%YAML 1.2` (`%YAML 1.1` switches ruamel.yaml's
# rules), and any tab, NEL, line or paragraph separator, byte order mark or control
# character (where the rules of the two parsers about them could differ). The
# round-trip path then reads the file, and reports what is wrong with its position.


class _Refused(Exception):
    """The fast parse declines a text: the round-trip loader reads it."""


# Node tags of the fast parse's own; a tag written in YAML cannot hold a space.
_STR, _NULL, _BOOL, _INT, _FLOAT, _SEQ, _MAP = (
    f"listsync fast {kind}" for kind in ("str", "null", "bool", "int", "float", "seq", "map")
)
_YAML_STR = "tag:yaml.org,2002:str"
_NULLS = frozenset({"", "~", "null", "Null", "NULL"})
_BOOLS = {"true": True, "True": True, "TRUE": True, "false": False, "False": False, "FALSE": False}
_DECIMAL_INT = re.compile(r"[-+]?(?:0|[1-9][0-9]*)\Z")
_DECIMAL_FRACTION = re.compile(r"[-+]?(?:0|[1-9][0-9]*)\.[0-9]+\Z")
_REFUSED_TEXT = re.compile(
    "[^\n\r\x20-\x7e\xa0-\u2027\u202a-\ud7ff\ue000-\ufefe\uff00-\ufffd"
    "\U00010000-\U0010ffff]"
    r"|^%(?!YAML 1\.2[ \r]*$)"  # a directive, but the one that says what ruamel.yaml assumes
    r"|(?<![^\s\[{,])!(?![^\s\]},])",  # the non-specific tag, which libyaml takes for none
    re.MULTILINE,
)


def fast_mapping(text: str) -> dict[Any, Any] | None:
    """The top-level mapping of `text` exactly as `plain` of the round-trip document, or
    None: when the text is not one mapping, when libyaml refuses it, or when it holds
    anything the two loaders could read differently (see above)."""
    if _REFUSED_TEXT.search(text):
        return None
    try:
        node = _fast_composer()(text).get_single_node()
        data = _construct(node, set()) if node is not None else None
    except Exception:  # any doubt at all: the round-trip path reads it, and reports it
        return None
    return data if isinstance(data, dict) else None


def _construct(node: Any, seen: set[int]) -> Any:
    if id(node) in seen:  # the composer hands an alias over as its anchor's node
        raise _Refused("an alias")
    seen.add(id(node))
    tag = node.tag
    if tag == _STR:
        return node.value
    if tag == _NULL:
        return None
    if tag == _BOOL:
        return _BOOLS[node.value]
    if tag == _INT:
        return int(node.value)
    if tag == _FLOAT:
        return float(node.value)
    if tag == _SEQ:
        return [_construct(item, seen) for item in node.value]
    if tag == _MAP:
        mapping: dict[Any, Any] = {}
        for key_node, value_node in node.value:
            key = _construct(key_node, seen)
            if isinstance(key, list | dict) or key in mapping:
                raise _Refused("a key that is not a scalar, or given twice")
            mapping[key] = _construct(value_node, seen)
        return mapping
    raise _Refused(f"tag {tag!r}")


def _resolve_plain(value: str, maybe_typed: Mapping[str, tuple[re.Pattern[str], ...]]) -> str:
    if value in _NULLS:
        return _NULL
    if value in _BOOLS:
        return _BOOL
    patterns = maybe_typed.get(value[0])
    if patterns is None:
        return _STR
    if _DECIMAL_INT.match(value):
        return _INT
    if _DECIMAL_FRACTION.match(value):
        return _FLOAT
    if any(pattern.match(value) for pattern in patterns):
        raise _Refused(f"plain scalar {value!r}")
    return _STR


@functools.cache
def _fast_composer() -> Callable[[str], Any]:
    """libyaml's composer, with `_resolve_plain` for the tags (PyYAML imported on first use:
    a `validate` whose files the cache knows never parses one)."""
    from yaml._yaml import CParser
    from yaml.nodes import ScalarNode, SequenceNode
    from yaml.resolver import Resolver

    maybe_typed: dict[str, tuple[re.Pattern[str], ...]] = {}
    typing_rules: list[tuple[str | None, re.Pattern[str]]] = [
        (first, re.compile(regexp.pattern, regexp.flags))  # ruamel.yaml's compile lazily
        for _, tag, regexp, firsts in ruamel_implicit_resolvers
        for first in firsts
        if tag != _YAML_STR
    ]
    typing_rules += [
        (first, regexp)
        for first, rules in Resolver.yaml_implicit_resolvers.items()
        for tag, regexp in rules
        if tag != _YAML_STR
    ]
    for first, regexp in typing_rules:
        if first:  # "" is the empty scalar: null, in `_NULLS`
            maybe_typed[first] = (*maybe_typed.get(first, ()), regexp)

    class Composer(CParser):
        def resolve(self, kind: type[Any], value: str | None, implicit: Any) -> str:
            if kind is ScalarNode:
                plain, quoted = implicit
                if plain:
                    return _resolve_plain(str(value), maybe_typed)
                if quoted:
                    return _STR
                raise _Refused("the non-specific tag '!'")
            if not implicit:
                raise _Refused("the non-specific tag '!'")
            return _SEQ if kind is SequenceNode else _MAP

        def descend_resolver(self, current_node: Any, current_index: Any) -> None:
            return None

        def ascend_resolver(self) -> None:
            return None

    return Composer
