"""Offboarding, the file side: removing one person from the list files.

Owns which list files name an address (in `owners:`, `moderators:`, the keys of
`nonmembers:` and `members:`, whatever the case it is written in, with or without a
display name), which roster files (`members_from:`) list it, the edits that remove it
(`plan_file_edits`), and writing them (`write_file_edits`): a list file with
ruamel.yaml's round-trip, so that comments, key order, quoting, flow or block style
and indentation stay as they were; a roster file line by line, every other line kept
byte for byte. The Mailman side of `person remove` is
apply.py's; committing the written files is gitinfo.py's.

What the edits are:

- The address leaves every `owners:`, `moderators:` and `nonmembers:` naming it.
- A list is never left without an owner. Where the address is the only owner of an
  enabled list (the site's `disabled_owner` does not count: it may not be an enabled
  list's only owner), NEW (`replace_with`) takes its place, at the same position.
  NEW is added nowhere else: where other owners remain, the address is only removed,
  as it is where NEW already is an owner. Without NEW, nothing is planned: the
  refusal (`WouldLeaveOwnerless`) names every such list.
- A disabled list's `owners:` are the ones it gets back when enabled again (Mailman
  has the site's `disabled_owner` meanwhile): the address leaves them too, so that
  re-enabling the list does not bring it back, and no replacement is needed (a
  disabled list may have no owner; enabling it again asks for one). `listsync.yaml`
  is never edited: the site's `disabled_owner` cannot be offboarded (nor be NEW).
- With `only_private`, only lists that are not public (`policy.is_public` of the
  settings the list gets, the disable procedure included) are edited.
- `bans:` are left alone.
- A declared member leaves `members:` (an address or an `{address: ...}` entry), and
  the entry of the roster file `members_from:` names: that line of a plain file, that
  row of a CSV file. Otherwise the next apply would subscribe them again. A roster is
  never emptied: an empty `members:` under `membership: exact` unsubscribes everyone,
  and an empty roster file is refused at every apply; where the address is a roster's
  only entry, nothing is planned and the refusal (`WouldEmptyRoster`) names every such
  list. A roster file may be shared: it is edited once, and with `only_private` it is
  refused when a public list reads it too. A roster file in a git submodule is edited
  in the submodule's work tree (committing it there is the listmaster's). An LDAP
  group is not edited: `person show` and `person remove` say to take the person out
  of the directory group.

Every edited file is checked as `listsync validate` would before anything is
written, and again before writing: a file that changed since the plan (its bytes)
is refused as stale, and nothing is written. Each file is written atomically (a
temporary file, then `os.replace`): a crash leaves the old file or the new one.

Redaction (`FileEdits.redacted`): the subject's own address is shown; NEW is masked
like any other address, since it is one.
"""

from __future__ import annotations

import hashlib
import io
import json
import os
import tempfile
from collections import Counter
from collections.abc import Mapping
from dataclasses import dataclass, replace
from enum import StrEnum
from pathlib import Path, PurePosixPath
from typing import Any

from pydantic import TypeAdapter, ValidationError
from ruamel.yaml import YAML
from ruamel.yaml.comments import CommentedMap, CommentedSeq
from ruamel.yaml.error import CommentMark, YAMLError
from ruamel.yaml.tokens import CommentToken

from listsync.addresses import bare_address, split_address
from listsync.errors import InvalidSiteError, ListsyncError, Severity
from listsync.load import check_list_text, load_config
from listsync.models import Address, SiteConfig
from listsync.policy import ListState, desired_states, is_public
from listsync.redaction import redact
from listsync.rosters import Repository, is_csv, parse_roster_text, roster_entries
from listsync.site import Site
from listsync.yamlfile import plain


class EditedField(StrEnum):
    """The fields of a list file that may name a person."""

    OWNERS = "owners"
    MODERATORS = "moderators"
    NONMEMBERS = "nonmembers"
    MEMBERS = "members"
    MEMBERS_FROM = "members_from"  # an entry of the roster file it names, not the field


# The list-file fields `_plan_file` edits with ruamel.yaml; MEMBERS_FROM edits another file.
_LIST_FIELDS = tuple(field for field in EditedField if field is not EditedField.MEMBERS_FROM)


class OffboardingError(ListsyncError):
    """The files cannot be edited as asked; nothing was written."""


class WouldLeaveOwnerless(OffboardingError):
    """The address is the only owner of lists and no replacement was given."""

    def __init__(self, address: str, lists: tuple[str, ...]) -> None:
        self.lists = lists
        super().__init__(
            f"{address} is the only owner of {len(lists)} list(s): {', '.join(lists)};"
            " pass --replace-with NEW to make NEW their owner (a list is never left without"
            " an owner); nothing was changed"
        )


class WouldEmptyRoster(OffboardingError):
    """The address is the only entry of lists' rosters: removing it would empty them."""

    def __init__(self, address: str, rosters: tuple[str, ...]) -> None:
        self.rosters = rosters
        super().__init__(
            f"{address} is the only declared member of {len(rosters)} roster(s):"
            f" {'; '.join(rosters)}; removing it would leave an empty roster (with"
            " 'membership: exact', an empty members: unsubscribes everyone; an empty roster"
            " file is refused at every apply): declare the new members, or remove the"
            " roster from the list file, by hand first; nothing was changed"
        )


class StaleFile(OffboardingError):
    """A file changed since its edits were planned; nothing was written."""


_ADDRESS: TypeAdapter[str] = TypeAdapter(Address)


@dataclass(frozen=True, slots=True)
class FileEdit:
    """One edit of one file: `removed` leaves `field`, `replacement` takes its place.

    `removed` is the subject's address as the file writes it (maybe with another case or
    a display name); `line` is its 1-based line; `sha256` is the file's bytes as planned
    (never saved: a digest of a private file would let whoever reads a saved removal test
    guesses of its content). With `field` MEMBERS_FROM, `path` is the roster file of list
    `list_name` and `line` the first line of the entry that goes.
    """

    path: str  # relative to the site root
    list_name: str
    field: EditedField
    removed: str
    replacement: str | None
    line: int
    sha256: str

    def text(self) -> str:
        """`lists/tor-dev.yaml:4: owners: - alice@example.org + bob@example.org`"""
        added = f" + {self.replacement}" if self.replacement is not None else ""
        if self.field is EditedField.MEMBERS_FROM:
            return f"{self.path}:{self.line}: roster of {self.list_name}: - {self.removed}"
        return f"{self.path}:{self.line}: {self.field}: - {self.removed}{added}"

    def as_json(self) -> dict[str, Any]:
        return {
            "path": self.path,
            "list": self.list_name,
            "field": str(self.field),
            "removed": self.removed,
            "replacement": self.replacement,
            "line": self.line,
        }

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> FileEdit:
        """The edit as saved: for comparing with a re-plan. It has no digest of the file,
        so writing it is refused as stale: a saved removal is planned again."""
        return cls(
            path=str(data["path"]),
            list_name=str(data["list"]),
            field=EditedField(data["field"]),
            removed=str(data["removed"]),
            replacement=None if data["replacement"] is None else str(data["replacement"]),
            line=int(data["line"]),
            sha256="",
        )


@dataclass(frozen=True, slots=True)
class FileEdits:
    """Every edit removing `address` from the files, in file order; `redacted` when the
    addresses other than the subject's are masked (then it is for showing, not writing)."""

    address: str  # the subject's address, lower case
    edits: tuple[FileEdit, ...]
    redacted_form: bool = False

    def __bool__(self) -> bool:
        return bool(self.edits)

    @property
    def paths(self) -> tuple[str, ...]:
        """The files edited, relative to the site root, sorted."""
        return tuple(sorted({edit.path for edit in self.edits}))

    @property
    def lists(self) -> tuple[str, ...]:
        return tuple(sorted({edit.list_name for edit in self.edits}))

    def lines(self) -> list[str]:
        return [edit.text() for edit in self.edits]

    def as_json(self) -> dict[str, Any]:
        return {
            "address": self.address,
            "redacted": self.redacted_form,
            "edits": [edit.as_json() for edit in self.edits],
        }

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> FileEdits:
        return cls(
            address=str(data["address"]),
            edits=tuple(FileEdit.from_json(edit) for edit in data["edits"]),
            redacted_form=bool(data.get("redacted", False)),
        )

    def redacted(self) -> FileEdits:
        """The edits with every address but the subject's masked (`redaction.redact`)."""
        return FileEdits(
            self.address,
            tuple(
                replace(
                    edit,
                    replacement=None if edit.replacement is None else redact(edit.replacement),
                )
                for edit in self.edits
            ),
            redacted_form=True,
        )

    def commit_message(self, *, redact_addresses: bool = False) -> str:
        """A commit message naming what was done. With `redact_addresses` (a site that
        redacts), every address is masked, the subject's too: a commit message is
        published with the repository, for good."""
        replaced = sorted({e.list_name for e in self.edits if e.replacement is not None})
        lines = [
            f"Offboard {self.address}: removed from {len(self.lists)} list file(s)",
            "",
            *self.lines(),
        ]
        if replaced:
            lines += ["", f"New owner where {self.address} was the only one: {', '.join(replaced)}"]
        text = "\n".join(lines) + "\n"
        return redact(text) if redact_addresses else text


def _email(value: str) -> str:
    return split_address(value)[0].lower()


def _checked_address(value: str, what: str) -> str:
    try:
        return _ADDRESS.validate_python(value)
    except ValidationError as exc:
        reason = exc.errors()[0]["msg"].removeprefix("Value error, ")
        raise OffboardingError(f"{what}: {reason}") from None


def plan_file_edits(
    site: Site, address: str, *, replace_with: str | None, only_private: bool
) -> FileEdits:
    """The edits removing `address` from every list file naming it and every roster file
    listing it (see the module's docstring); raises `WouldLeaveOwnerless` naming every
    list it is the only owner of when `replace_with` is None, `WouldEmptyRoster` naming
    every roster it is the only entry of, and `InvalidSiteError` when an edited file would
    not be valid (NEW banned by a list, say). Reads each named file once, writes nothing."""
    subject = _email(_checked_address(address, "the address to remove"))
    new = None if replace_with is None else _checked_address(replace_with, "--replace-with")
    sole = _email(site.config.disabled_owner) if site.config.disabled_owner else None
    if subject == sole:
        raise OffboardingError(
            f"{subject} is the site's disabled_owner in listsync.yaml: name another there first"
        )
    if new is not None and _email(new) == subject:
        raise OffboardingError(f"--replace-with {new} is the address being removed")
    if new is not None and _email(new) == sole:
        raise OffboardingError(
            f"--replace-with {new} is the site's disabled_owner, which may not be an enabled"
            " list's only owner"
        )
    states = desired_states(site) if only_private else {}
    edits: list[FileEdit] = []
    ownerless: list[str] = []
    emptied: list[str] = []
    texts: dict[str, tuple[str, str]] = {}  # path -> (name, text as read)
    for name in sorted(site.lists):
        list_file = site.lists[name]
        spec = list_file.spec
        members = [m if isinstance(m, str) else m.address for m in spec.members or ()]
        named = {
            _email(a) for a in (*spec.owners, *spec.moderators, *(spec.nonmembers or {}), *members)
        }
        if subject not in named:
            continue
        if only_private and is_public(states[name].settings):
            continue
        if members and set(members) == {subject}:
            emptied.append(f"members: of {name} ({list_file.path})")
            continue
        text, digest = _read(site.root, list_file.path)
        if text != list_file.text:
            raise StaleFile(f"{list_file.path} changed since the site was loaded; plan again")
        found = _plan_file(list_file.path, name, text, digest, subject, new, sole, spec.disabled)
        if found is None:
            ownerless.append(name)
            continue
        edits += found
        texts[list_file.path] = (name, text)
    edits += _plan_rosters(site, subject, states if only_private else None, emptied)
    if ownerless:
        raise WouldLeaveOwnerless(subject, tuple(ownerless))
    if emptied:
        raise WouldEmptyRoster(subject, tuple(emptied))
    _check_valid(
        {
            path: (name, edited_text(text, [e for e in edits if e.path == path]))
            for path, (name, text) in texts.items()
        },
        site.config,
    )
    return FileEdits(subject, tuple(edits))


def _plan_file(
    path: str,
    name: str,
    text: str,
    digest: str,
    subject: str,
    new: str | None,
    sole: str | None,
    disabled: bool,
) -> list[FileEdit] | None:
    """The edits of one file; None when it would leave the list ownerless (no NEW)."""
    document = _yaml().load(text)
    edits: list[FileEdit] = []
    for field in _LIST_FIELDS:
        node = document.get(str(field))
        for _, written, line in _items(node):
            if _email(written) != subject:
                continue
            replacement = None
            if field is EditedField.OWNERS and not disabled:
                others = {_email(o) for o in node if _email(o) != subject} - {sole}
                if not others:
                    if new is None:
                        return None
                    replacement = new
            edits.append(FileEdit(path, name, field, written, replacement, line, digest))
    return edits


def _plan_rosters(
    site: Site, subject: str, states: Mapping[str, ListState] | None, emptied: list[str]
) -> list[FileEdit]:
    """The edits of the roster files (`members_from:`) listing `subject`, one per list
    reading the file and entry; a roster the subject is the only entry of goes to
    `emptied` instead. With `states` (only private lists), a file a public list reads
    too is refused. A file that cannot be read is left alone: its roster is refused at
    every apply anyway, so it subscribes no one."""
    readers: dict[str, list[str]] = {}
    for name in sorted(site.lists):
        source = site.lists[name].spec.members_from
        if isinstance(source, str):
            readers.setdefault(source, []).append(name)
    if not readers:
        return []
    top = Repository.holding(site.root).top
    edits: list[FileEdit] = []
    for path, names in sorted(readers.items()):
        full = (site.root / path).resolve()
        if not full.is_relative_to(top) or not full.is_file():
            continue
        try:
            text, digest = _read(site.root, path)
        except (OSError, UnicodeDecodeError):
            continue
        entries = roster_entries(text)
        going = [entry for entry in entries if entry.address == subject]
        if not going:
            continue
        if states is not None:
            public = [n for n in names if is_public(states[n].settings)]
            if public:
                raise OffboardingError(
                    f"{path} is the roster of {', '.join(names)}, and {', '.join(public)}"
                    f" is public: --only-private cannot take {subject} off the private"
                    " list(s) only; edit the roster by hand; nothing was changed"
                )
        if all(entry.address in (subject, None) for entry in entries):
            emptied.append(f"{path} (members_from of {', '.join(names)})")
            continue
        edits += [
            FileEdit(
                path, name, EditedField.MEMBERS_FROM, entry.written, None, entry.first_line, digest
            )
            for name in names
            for entry in going
        ]
        edited_roster_text(text, [e for e in edits if e.path == path])  # checks it, early
    return edits


def edited_roster_text(text: str, edits: list[FileEdit] | tuple[FileEdit, ...]) -> str:
    """`text` (a roster file's) without the entries `edits` remove: their lines go, every
    other line stays byte for byte. Raises `StaleFile` when an entry is not where an
    edit says, and `OffboardingError` when the result would not read as the same roster
    without those addresses, or as an empty one."""
    path = edits[0].path if edits else ""
    entries = {entry.first_line: entry for entry in roster_entries(text)}
    gone: set[int] = set()
    for edit in edits:
        entry = entries.get(edit.line)
        if entry is None or entry.written != edit.removed:
            raise StaleFile(f"{path}:{edit.line} no longer names {edit.removed}; plan again")
        gone.update(range(entry.first_line, entry.last_line + 1))
    # The lines as the entries count them: CSV rows by "\n" (csv over io.StringIO),
    # a plain file by `str.splitlines`.
    lines = io.StringIO(text).readlines() if is_csv(text) else text.splitlines(keepends=True)
    edited = "".join(line for number, line in enumerate(lines, start=1) if number not in gone)
    removed = {bare_address(edit.removed) for edit in edits}
    before, bad_before = parse_roster_text(text)
    after, bad_after = parse_roster_text(edited)
    if after != [a for a in before if a not in removed] or len(bad_after) != len(bad_before):
        raise OffboardingError(
            f"{path}: its entries cannot be removed line by line; edit it by hand"
        )
    if not after:
        raise OffboardingError(f"{path}: removing {', '.join(sorted(removed))} would empty it")
    return edited


def _items(node: Any) -> list[tuple[int | str, str, int]]:
    """(index or key, address as written, 1-based line) of a sequence or mapping node; a
    sequence's `{address: ...}` entry (`members:`) by its address."""
    if isinstance(node, CommentedSeq):
        return [
            (
                i,
                str(item.get("address") if isinstance(item, CommentedMap) else item),
                node.lc.item(i)[0] + 1,
            )
            for i, item in enumerate(node)
        ]
    if isinstance(node, CommentedMap):
        return [(key, str(key), node.lc.key(key)[0] + 1) for key in node]
    return []


def _read(root: Path, path: str) -> tuple[str, str]:
    """The file's text (as load.py reads it) and the SHA-256 of its bytes."""
    raw = (root / path).read_bytes()
    return raw.decode("utf-8-sig"), hashlib.sha256(raw).hexdigest()


_BOM = "\ufeff"


def _config_of(path: str, config: SiteConfig) -> SiteConfig:
    """The config a list file at `path` is checked with: its domain's, on a site with
    several (lists/DOMAIN/NAME.yaml)."""
    parts = PurePosixPath(path).parts
    if config.several_domains and len(parts) == 3 and parts[1] in config.domains:
        return config.for_domain(parts[1])
    return config


def _check_valid(texts: dict[str, tuple[str, str]], config: SiteConfig) -> None:
    problems = [
        problem
        for path, (name, text) in sorted(texts.items())
        for problem in check_list_text(text, path, name, _config_of(path, config))[1]
        if problem.severity is Severity.ERROR
    ]
    if problems:
        raise InvalidSiteError(problems, "the edited files")


# -- writing ------------------------------------------------------------------------


def _yaml(layout: tuple[int, int, int] | None = None) -> YAML:
    yaml = YAML(typ="rt", pure=True)
    yaml.preserve_quotes = True
    yaml.width = 1 << 16  # never fold a long line
    if layout is not None:
        mapping, sequence, offset = layout
        yaml.indent(mapping=mapping, sequence=sequence, offset=offset)
    return yaml


def _layout(document: CommentedMap, field: str, lines: list[str]) -> tuple[int, int, int]:
    """(mapping indent, sequence indent, dash offset) of a top-level field's block value,
    as the file writes it; ruamel's defaults for a flow or empty one."""
    node = document.get(field)
    key_line = document.lc.key(field)[0] if field in document else -1
    if isinstance(node, CommentedMap) and node:
        line, col = node.lc.key(next(iter(node)))
        if line > key_line:
            return max(col, 1), 2, 0
    if isinstance(node, CommentedSeq) and node:
        line, col = node.lc.item(0)
        dash = lines[line].rfind("-", 0, col)
        if line > key_line and dash >= 0 and lines[line][:dash].strip() == "":
            return 2, max(col, dash + 2), dash
    return 2, 2, 0


def edited_text(text: str, edits: list[FileEdit] | tuple[FileEdit, ...]) -> str:
    """`text` with `edits` made. Each edited field is dumped by ruamel's round-trip (its
    comments, quoting, flow or block style and indentation kept) and put in place of the
    field's lines; every other line of the file is kept as it is, byte for byte. Raises
    `StaleFile` when an address is not where an edit says, and `OffboardingError` when
    the result would not read back as the edited document."""
    newline = "\r\n" if "\r\n" in text else "\n"
    plain = text.replace("\r\n", "\n")
    lines = plain.split("\n")
    document = _yaml().load(plain)
    path = edits[0].path if edits else ""
    fields = sorted({str(edit.field) for edit in edits})
    layouts = {field: _layout(document, field, lines) for field in fields}
    for edit in edits:
        node = document.get(str(edit.field))
        found = [key for key, written, _ in _items(node) if written == edit.removed]
        if not found:
            raise StaleFile(f"{path}: {edit.field} no longer names {edit.removed}; plan again")
        key = found[0]
        taken = (
            {_email(str(o)) for o in node}
            if edit.replacement is not None and isinstance(node, CommentedSeq)
            else set()
        )
        if edit.replacement is not None and _email(edit.replacement) not in taken:
            node[key] = edit.replacement
        else:
            _delete(document, str(edit.field), key)
    result = lines
    for field in reversed(_ordered(document, fields)):  # from the end: spans stay put
        out = io.StringIO()
        _yaml(layouts[field]).dump(document, out)
        dumped = out.getvalue().split("\n")
        start, end = _field_span(plain.split("\n"), field)
        new_start, new_end = _field_span(dumped, field)
        result = result[:start] + dumped[new_start:new_end] + result[end:]
    edited = "\n".join(result)
    try:
        same = _plain_data(edited) == _plain_data_of(document)
    except YAMLError:
        same = False
    if not same or not _comments(edited) >= _comments(plain):
        raise OffboardingError(
            f"{path}: its layout or comments cannot be kept while editing {', '.join(fields)};"
            " edit this file by hand"
        )
    return edited.replace("\n", newline)


def _delete(document: CommentedMap, field: str, key: int | str) -> None:
    """Delete entry `key` of `field`, keeping the comment lines below it, which ruamel
    keeps with the entry's own end-of-line comment: they go to the entry before (or to
    the field's key, for the first item of a sequence that keeps others)."""
    node = document[field]
    slot = 0 if isinstance(node, CommentedSeq) else 2
    token = (node.ca.items.get(key) or [None] * 4)[slot]
    following = token.value.partition("\n")[2] if token is not None else ""
    keys = list(range(len(node))) if isinstance(node, CommentedSeq) else list(node)
    position = keys.index(key)
    del node[key]
    if not following or (position == 0 and (isinstance(node, CommentedMap) or not node)):
        return  # no place known to keep them: `edited_text` refuses to lose them
    owner, entry, slot = (node, keys[position - 1], slot) if position > 0 else (document, field, 2)
    comments = owner.ca.items.setdefault(entry, [None] * 4)
    if comments[slot] is None:
        comments[slot] = CommentToken("\n" + following, CommentMark(0), None)
    else:
        comments[slot].value += following


def _comments(text: str) -> Counter[str]:
    """The file's whole-line comments."""
    return Counter(line.strip() for line in text.split("\n") if line.lstrip().startswith("#"))


def _ordered(document: CommentedMap, fields: list[str]) -> list[str]:
    return [str(key) for key in document if str(key) in fields]


def _field_span(lines: list[str], field: str) -> tuple[int, int]:
    """The 0-based [start, end) lines of top-level `field` in `lines` (the text of a
    valid list file): from its key's line to the next top-level key's (or the end)."""
    document = _yaml().load("\n".join(lines))
    keys = [(document.lc.key(key)[0], str(key)) for key in document]
    for index, (line, key) in enumerate(keys):
        if key == field:
            end = keys[index + 1][0] if index + 1 < len(keys) else len(lines)
            if end == len(lines) and lines and lines[-1] == "":
                end -= 1  # the empty string after the final line break
            return line, end
    raise AssertionError(f"{field} is a key of the document")


def _plain_data(text: str) -> Any:
    return _plain_data_of(_yaml().load(text))


def _plain_data_of(document: Any) -> Any:
    return json.loads(json.dumps(plain(document), default=str))


def write_file_edits(site_root: Path, edits: FileEdits) -> list[PurePosixPath]:
    """Write `edits`, each file atomically; returns the files written, relative to the site
    root. Every file is read and checked first (stale: its bytes differ from the plan's;
    its new text must still be a valid list file), and nothing is written unless all pass.
    """
    if edits.redacted_form:
        raise OffboardingError("these edits are the redacted form (addresses masked): plan again")
    config = load_config(site_root)
    by_path: dict[str, list[FileEdit]] = {}
    for edit in edits.edits:
        by_path.setdefault(edit.path, []).append(edit)
    pending: dict[str, tuple[str, str]] = {}
    rosters: dict[str, str] = {}
    for path, file_edits in sorted(by_path.items()):
        text, digest = _read(site_root, path)
        if any(edit.sha256 != digest for edit in file_edits):
            raise StaleFile(f"{path} changed since these edits were planned; plan again")
        if file_edits[0].field is EditedField.MEMBERS_FROM:
            rosters[path] = edited_roster_text(text, file_edits)
        else:
            pending[path] = (file_edits[0].list_name, edited_text(text, file_edits))
    _check_valid(pending, config)
    written = []
    for path, text in [*((p, t) for p, (_, t) in pending.items()), *rosters.items()]:
        bom = _BOM if (site_root / path).read_bytes().startswith(_BOM.encode()) else ""
        _replace_atomically(site_root / path, (bom + text).encode("utf-8"))
        written.append(PurePosixPath(path))
    return sorted(written)


def _replace_atomically(target: Path, content: bytes) -> None:
    mode = target.stat().st_mode & 0o7777
    descriptor, temporary = tempfile.mkstemp(dir=target.parent, prefix=f".{target.name}.")
    try:
        with os.fdopen(descriptor, "wb") as handle:
            handle.write(content)
            handle.flush()
            os.fsync(handle.fileno())
        os.chmod(temporary, mode)
        os.replace(temporary, target)
    except BaseException:
        Path(temporary).unlink(missing_ok=True)
        raise
