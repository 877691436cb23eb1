"""Rosters: who a closed list's members are, as its file declares them.

Owns the roster part of the file format (`members:`, `members_from:` a roster
file or an LDAP group, `membership:`) and reading a declared roster into one
trusted set of addresses (`Roster`). A roster file is one address per line
(`#` starts a comment) or a CSV file with a header naming an `email` (or
`address`) column; it may live anywhere in the site's repository or in a
submodule, never outside it. An LDAP group is read by `roster_ldap`.

A source is taken whole or not at all: a line that is not an address, an
empty source, one that cannot be read, or an LDAP answer cut short makes a
`RosterError`, and the list's roster is then left exactly as it is (never
"skip the bad line, then unsubscribe that address").

`membership: additive` unsubscribes only the addresses the roster dropped:
those its earlier revisions in git declared and the current one does not
(`dropped`). Someone who subscribed by themselves was never declared, so
listsync never touches them. The history is read from git, not from a record
listsync keeps, so that a failed or partial apply leaves nothing to get out
of step: the next run computes the same addresses from the same history and
the live roster, and finishes the job.
"""

from __future__ import annotations

import csv
import io
from dataclasses import dataclass
from enum import StrEnum
from pathlib import Path, PurePosixPath
from typing import Annotated

from pydantic import AfterValidator, BaseModel, ConfigDict, Field, StrictStr

from listsync.addresses import bare_address, plain
from listsync.errors import ListsyncError


class RosterError(ListsyncError):
    """A roster source that cannot be trusted whole: the list's roster is not changed."""


class Membership(StrEnum):
    ADDITIVE = "additive"
    EXACT = "exact"


class DeliveryMode(StrEnum):
    """Mailman's delivery modes, as `POST members` takes them."""

    REGULAR = "regular"
    PLAINTEXT_DIGESTS = "plaintext_digests"
    MIME_DIGESTS = "mime_digests"
    SUMMARY_DIGESTS = "summary_digests"


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


BareAddress = Annotated[
    StrictStr,
    AfterValidator(bare_address),
    Field(description="A bare e-mail address (no display name); stored lower case."),
]
OneLine = Annotated[StrictStr, AfterValidator(plain)]


class Member(_Strict):
    """A declared member with a delivery mode of its own."""

    address: BareAddress
    delivery_mode: DeliveryMode = Field(
        default=DeliveryMode.REGULAR,
        description="How the member gets posts once subscribed; the member may change it later.",
    )


def _ldap_url(value: str) -> str:
    if not value.startswith(("ldap://", "ldaps://")):
        raise ValueError(f"{value!r} is not an ldap:// or ldaps:// URL")
    return value


class LdapQuery(_Strict):
    """An LDAP search whose results' `attribute` values are the members' addresses."""

    url: Annotated[OneLine, AfterValidator(_ldap_url)] = Field(
        examples=["ldaps://ldap.example.org"]
    )
    base: OneLine = Field(examples=["ou=people,dc=example,dc=org"])
    filter: OneLine = Field(examples=["(memberOf=cn=nda,ou=groups,dc=example,dc=org)"])
    attribute: OneLine = Field(default="mail", description="The attribute holding the address.")


class LdapSource(_Strict):
    ldap: LdapQuery


class LdapCredentials(_Strict):
    """`listsync.yaml` `ldap:`: the environment variables that hold the bind credentials
    (never the credentials themselves). Without it, LDAP is searched anonymously."""

    bind_dn_variable: OneLine = Field(examples=["LISTSYNC_LDAP_BIND_DN"])
    password_variable: OneLine = Field(examples=["LISTSYNC_LDAP_PASSWORD"])


def _roster_path(value: str) -> str:
    plain(value)
    path = PurePosixPath(value)
    if path.is_absolute() or not value.strip() or "\\" in value:
        raise ValueError(f"{value!r}: name a file by its path from the site root, with /")
    return value


RosterPath = Annotated[
    StrictStr,
    AfterValidator(_roster_path),
    Field(
        description="A roster file, by its path from the site root (one address per line, or a"
        " CSV with an email column); it may be in a submodule, never outside the repository.",
        examples=["rosters/board.txt"],
    ),
]


@dataclass(frozen=True, slots=True)
class Roster:
    """A list's declared roster, read and trusted whole.

    `members` maps each declared address (lower case) to its delivery mode;
    `dropped` holds the addresses earlier revisions declared and this one
    does not (`additive` unsubscribes those); `source` names where the roster
    came from, for people (`members:`, `rosters/board.txt`, `ldap://…`).
    """

    source: str
    members: dict[str, DeliveryMode]
    membership: Membership
    dropped: frozenset[str] = frozenset()
    welcome: bool = False


@dataclass(frozen=True, slots=True)
class Repository:
    """Where roster files may be: the top of the git work tree holding the site (the
    site root outside git), and its submodules' paths from that top."""

    top: Path
    submodules: tuple[str, ...] = ()

    @classmethod
    def holding(cls, root: Path) -> Repository:
        import git  # only a site with a roster file pays for loading git

        try:
            repo = git.Repo(root, search_parent_directories=True)
        except (git.InvalidGitRepositoryError, git.NoSuchPathError, git.GitCommandNotFound):
            return cls(root.resolve())
        if repo.working_tree_dir is None:
            return cls(root.resolve())
        try:
            submodules = tuple(str(sub.path) for sub in repo.submodules)
        except (git.GitCommandError, ValueError, KeyError):
            submodules = ()
        return cls(Path(repo.working_tree_dir).resolve(), submodules)

    def not_checked_out(self, path: Path) -> bool:
        """Whether `path` is missing because its submodule is not checked out here (a
        public pipeline without a private submodule, say)."""
        return not path.exists() and self.in_submodule(path)

    def in_submodule(self, path: Path) -> bool:
        if not path.is_relative_to(self.top):
            return False
        relative = path.relative_to(self.top).as_posix()
        return any(relative.startswith(sub.rstrip("/") + "/") for sub in self.submodules)


@dataclass(frozen=True, slots=True)
class BadLine:
    line: int
    message: str


@dataclass(frozen=True, slots=True)
class RosterEntry:
    """One entry of a roster file: a line of a plain file, a row of a CSV file (which may
    span lines), with the address as written and as read (None: not one address)."""

    first_line: int  # 1-based, as the file's lines count (CSV: as the csv module counts)
    last_line: int
    written: str  # the address as the file writes it (no comment, no other column)
    address: str | None  # bare, lower case


def is_csv(text: str) -> bool:
    """Whether a roster file's text is CSV: its first line names an `email` or `address`
    column, with a comma."""
    first = next((line for line in text.splitlines() if line.strip()), "")
    return "," in first and bool(
        {"email", "address"} & {c.strip().lower() for c in first.split(",")}
    )


def roster_entries(text: str) -> list[RosterEntry]:
    """Every entry of a roster file's text, where it is: what removing one address edits.
    Blank lines, comments and the CSV header are no entry."""
    if not is_csv(text):
        found = []
        for number, line in enumerate(text.splitlines(), start=1):
            content = line.split("#", 1)[0].strip()
            if content:
                found.append(RosterEntry(number, number, content, _address_or_none(content)))
        return found
    reader = csv.reader(io.StringIO(text))
    column: int | None = None
    entries: list[RosterEntry] = []
    read = 0
    for row in reader:
        first, read = read + 1, reader.line_num
        if column is None:
            names = [c.strip().lower() for c in row]
            column = names.index("email") if "email" in names else names.index("address")
            continue
        if not any(cell.strip() for cell in row):
            continue
        written = row[column].strip() if column < len(row) else ""
        entries.append(RosterEntry(first, read, written, _address_or_none(written)))
    return entries


def _address_or_none(content: str) -> str | None:
    try:
        return bare_address(content)
    except ValueError:
        return None


def parse_roster_text(text: str) -> tuple[list[str], list[BadLine]]:
    """The addresses of a roster file's text, and its lines that are not one address.

    A text whose first line names an `email` or `address` column (with a comma) is
    read as CSV; otherwise each line holds one address, and `#` starts a comment.
    """
    lines, bad = parse_roster_lines(text)
    return [address for _, address in lines], bad


def parse_roster_lines(text: str) -> tuple[list[tuple[int, str]], list[BadLine]]:
    """`parse_roster_text`, each address with the number of its line (a CSV row's last)."""
    addresses: list[tuple[int, str]] = []
    bad: list[BadLine] = []
    for entry in roster_entries(text):
        if entry.address is not None:
            addresses.append((entry.last_line, entry.address))
        elif entry.written:
            bad.append(BadLine(entry.last_line, "is not one bare e-mail address"))
        else:
            bad.append(BadLine(entry.last_line, "has no value in the email column"))
    return addresses, bad


def roster_text(root: Path, relative: str, top: Path | None = None) -> str:
    """The text of the roster file at `relative` (from the site root `root`), which must
    resolve inside `top` (the repository's top, or the site root); `RosterError` when it
    does not, or cannot be read."""
    path = (root / relative).resolve()
    if not path.is_relative_to((top or root).resolve()):
        raise RosterError(f"{relative}: a roster file must be inside the site's repository")
    try:
        return path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        reason = exc.strerror if isinstance(exc, OSError) else "not UTF-8 text"
        raise RosterError(f"{relative}: cannot be read ({reason})") from None


def read_roster_file(root: Path, relative: str, top: Path | None = None) -> list[str]:
    """The addresses of the roster file (`roster_text`); `RosterError` when it cannot be
    read, is empty, or has a line that is not an address."""
    addresses, bad = parse_roster_text(roster_text(root, relative, top))
    if bad:
        shown = "; ".join(f"{relative}:{b.line}: {b.message}" for b in bad[:5])
        more = f" (and {len(bad) - 5} more)" if len(bad) > 5 else ""
        raise RosterError(f"{shown}{more}: the roster is taken whole or not at all")
    if not addresses:
        raise RosterError(f"{relative}: the roster is empty: an empty source changes nothing")
    return addresses
