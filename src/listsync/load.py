"""Reading a site from disk: `listsync.yaml` and `lists/NAME.yaml` into models.

Owns file discovery, what each file must hold (its models, through
yamlfile.py, which gives every finding its `file:LINE:COL`; and no key
written with no value, null, where that would say nothing clear), and the
checks that need more than one file: list names
against the site's naming pattern, two files declaring one list, a
disabled list without a site `disabled_owner`, a disabled list whose
ban would refuse that owner, and, for `validate`, addresses whose domain
looks mistyped against the whole site's (`typos`). Every file is checked and
every problem reported; nothing here talks to Mailman. `validate` and scoped
loads remember files found valid (`ValidFiles`), so as not to parse them again.
"""

from __future__ import annotations

import hashlib
import json
import os
import re
import tempfile
from collections import Counter
from collections.abc import Callable, Iterable, Iterator, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import email_validator
import pydantic
import pydantic_core
import ruamel.yaml
from pydantic import BaseModel, ValidationError
from ruamel.yaml import YAML
from ruamel.yaml.error import YAMLError

from listsync.acceptance import bans_address
from listsync.addresses import split_address
from listsync.errors import InvalidSiteError, ListsyncError, Problem, Severity
from listsync.mailman_templates import TemplateText, check_text, decode, size_problem
from listsync.models import (
    LIST_NAME,
    Dmarc,
    HeaderFilter,
    ListDefaults,
    ListSpec,
    Safety,
    SiteConfig,
    check_templates_url,
    did_you_mean,
    effective,
)
from listsync.policy import declared_settings, lint, lint_file
from listsync.rosters import Repository, RosterError, parse_roster_lines, roster_text
from listsync.site import ListFile as ListFile
from listsync.site import Site as Site
from listsync.typos import DomainCensus
from listsync.yamlfile import (
    Loc,
    dotted,
    fast_mapping,
    parse_file,
    parse_text,
    position,
    read_text,
    validate,
)

SITE_FILE = "listsync.yaml"
TEMPLATES_URL_ENV = "LISTSYNC_TEMPLATES_URL"  # overrides templates_url (a staging server, a demo)
LISTS_DIR = "lists"


def lists_dir(config: SiteConfig, domain: str | None = None) -> str:
    """Where the list files of `domain` are: lists/ on a site with one domain, lists/DOMAIN/
    on one with several (`domains:`)."""
    if not config.several_domains:
        return LISTS_DIR
    if domain is None or domain not in config.domains:
        raise ListsyncError(
            f"this site has several domains ({', '.join(sorted(config.domains))}): say which"
            " with --domain" + (f"; {domain} is not one of them" if domain is not None else "")
        )
    return f"{LISTS_DIR}/{domain}"


LIST_SUFFIXES = (".yaml", ".yml")

_VALIDATING_LIBRARIES = (
    pydantic.VERSION,
    pydantic_core.__version__,
    email_validator.__version__,
    ruamel.yaml.__version__,
)


class ValidFiles:
    """List files this listsync has found valid before, by content: `validate` and
    scoped runs check every file of the site, and need not parse again those it
    already found valid.

    One JSON file per site (by its directory's resolved path) under the user's cache
    directory ($LISTSYNC_CACHE_DIR, else $XDG_CACHE_HOME/listsync or
    ~/.cache/listsync), read once and, when a run found a file valid that it did not
    know, written again whole (a temporary file renamed over it: a reader sees the
    old or the new one, and of two runs at once the last one's). It keeps the entries
    of the files that run found valid or remembered, so that old contents drop out.
    An entry's key covers the list file's name and bytes, listsync.yaml's bytes, and
    listsync's own code and the versions of the libraries that validate, so any
    change to either is a miss. A file is remembered only when it had no problem of
    its own, lint warnings included. Whether an address's domain looks mistyped
    depends on the rest of the site, so an entry keeps the file's domains (never an
    address), and `check_site` reads a remembered file again when one of them now
    looks mistyped. Without a usable directory nothing is remembered.
    """

    def __init__(self, directory: Path | None, site_config: bytes, site: str = "") -> None:
        self.directory = directory
        self._site_config = site_config
        self._prefix: str | None = None
        self._file = f"site-{hashlib.sha256(site.encode()).hexdigest()[:32]}.json"
        self._known: dict[str, Any] | None = None  # the file's entries, read on first use
        self._kept: dict[str, Any] = {}  # the entries of this run: remembered, or added
        self._added = False

    @classmethod
    def for_user(cls, root: Path) -> ValidFiles:
        """The user's cache, for the site at `root` (its listsync.yaml read once, here)."""
        try:
            site_config = (root / SITE_FILE).read_bytes()
        except OSError:
            return cls(None, b"")
        site = str(root.resolve())
        base = os.environ.get("LISTSYNC_CACHE_DIR")
        if base:
            return cls(Path(base), site_config, site)
        xdg = os.environ.get("XDG_CACHE_HOME")
        directory = (Path(xdg) if xdg else Path.home() / ".cache") / "listsync" / "valid"
        return cls(directory, site_config, site)

    def key(self, shown: str, content: bytes) -> str:
        if self._prefix is None:  # listsync's code, its validators, listsync.yaml: once a run
            digest = hashlib.sha256()
            for source in sorted(Path(__file__).parent.glob("*.py")):
                digest.update(source.read_bytes())
            for version in _VALIDATING_LIBRARIES:
                digest.update(version.encode())
            digest.update(self._site_config)
            self._prefix = digest.hexdigest()
        digest = hashlib.sha256(self._prefix.encode())
        for part in (shown.encode(), content):
            digest.update(len(part).to_bytes(8, "big") + part)
        return digest.hexdigest()

    def _entries(self) -> dict[str, Any]:
        if self._known is None:
            self._known = {}
            if self.directory is not None:
                try:
                    data = json.loads((self.directory / self._file).read_text())
                    if isinstance(data, dict) and isinstance(data.get("entries"), dict):
                        self._known = data["entries"]
                except (OSError, ValueError):
                    pass
        return self._known

    def __contains__(self, key: str) -> bool:
        return self.directory is not None and key in self._entries()

    def templates(self, key: str, source: str) -> ListTemplates | None:
        """What a file remembered as valid says about templates (`ListTemplates`); None
        when the file is not remembered."""
        if self.directory is None:
            return None
        data: Any = self._entries().get(key)
        if data is None:
            return None
        try:
            own = tuple((str(n), None if p is None else str(p)) for n, p in data["templates"])
            roster = data["roster"]
            domains = tuple((str(d), int(n)) for d, n in data["domains"].items())
            found = ListTemplates(
                source,
                own,
                bool(data["private"]),
                bool(data["disabled"]),
                None if roster is None else str(roster),
                str(data["category"]),
                domains,
            )
        except (ValueError, TypeError, KeyError, AttributeError):
            return None
        self._kept[key] = data
        return found

    def add(self, key: str, templates: ListTemplates) -> None:
        if self.directory is None:
            return
        self._kept[key] = {
            "templates": [list(item) for item in templates.own],
            "private": templates.private,
            "disabled": templates.disabled,
            "roster": templates.roster,
            "category": templates.category,
            "domains": dict(templates.domains),
        }
        self._added = True

    def save(self) -> None:
        """Write the entries of this run, when it added any."""
        if self.directory is None or not self._added:
            return
        text = json.dumps({"entries": self._kept})
        temporary = None
        try:
            self.directory.mkdir(parents=True, exist_ok=True)
            with tempfile.NamedTemporaryFile(
                "w", dir=self.directory, prefix=".site-", suffix=".tmp", delete=False
            ) as stream:
                temporary = Path(stream.name)
                stream.write(text)
            os.replace(temporary, self.directory / self._file)
        except OSError:
            if temporary is not None:
                temporary.unlink(missing_ok=True)
        self._added = False


@dataclass(frozen=True, slots=True)
class TemplateRef:
    """A template a file names: `source` (listsync.yaml or a list file) says, at `loc`,
    that template `name` is the text in `path`."""

    source: str
    loc: Loc
    name: str
    path: str


@dataclass(frozen=True, slots=True)
class ListTemplates:
    """What one list file says about templates: the names it sets (a text's path, or None
    for Mailman's own), and whether the list is private (`visibility: private`, or
    `advertised` false in `settings:`) and disabled. With `listsync.yaml`'s templates it
    decides which text each list uses, and so which texts are published. It also names
    the roster file the list reads, which `validate` checks line by line, and counts
    the domains of the addresses it gives people (`typos`)."""

    source: str
    own: tuple[tuple[str, str | None], ...]
    private: bool
    disabled: bool
    roster: str | None = None  # the roster file it reads (`members_from:`), checked apart
    category: str = ""  # its category, whose templates (`category_templates:`) it gets
    domains: tuple[tuple[str, int], ...] = ()  # domain -> uses by the file's addresses

    def refs(self) -> list[TemplateRef]:
        return [
            TemplateRef(self.source, ("templates", name), name, path)
            for name, path in self.own
            if path is not None
        ]

    def uses(self, config: SiteConfig) -> dict[str, TemplateRef]:
        """Template name -> the text the list uses and where that is said (its own file,
        or `listsync.yaml`), merged as `models.effective` merges them."""
        refs: dict[str, TemplateRef | None] = dict.fromkeys(config.disabled_templates)
        refs.update(
            (name, TemplateRef(SITE_FILE, ("templates", name), name, path))
            for name, path in config.templates.items()
        )
        for category, templates in config.category_templates.items():
            if category.value == self.category:
                refs.update(
                    (
                        name,
                        TemplateRef(SITE_FILE, ("category_templates", category, name), name, path),
                    )
                    for name, path in templates.items()
                )
        refs.update(
            (
                name,
                None if path is None else TemplateRef(self.source, ("templates", name), name, path),
            )
            for name, path in self.own
        )
        if self.disabled:
            refs.update(
                (name, TemplateRef(SITE_FILE, ("disabled_templates", name), name, path))
                for name, path in config.disabled_templates.items()
            )
        return {name: ref for name, ref in refs.items() if ref is not None}


def _list_templates(shown: str, name: str, spec: ListSpec, config: SiteConfig) -> ListTemplates:
    listed = effective(name, spec, config)
    advertised = declared_settings(listed).get("advertised")
    roster = spec.members_from if isinstance(spec.members_from, str) else None
    domains = Counter(_domain_of(address) for _, address in _people(spec))
    return ListTemplates(
        shown,
        tuple(spec.templates.items()),
        advertised is not True,
        spec.disabled,
        roster,
        listed.category.value,
        tuple(sorted(domains.items())),
    )


def _people(spec: ListSpec) -> list[tuple[Loc, str]]:
    """Each address a list file gives a person (an owner, moderator, non-member or
    member), bare and lower case, and where: `("nonmembers", i)` is the i-th key,
    `("members", i, "address")` the address of a member written as a mapping."""
    found: list[tuple[Loc, str]] = [
        ((role, index), split_address(value)[0])
        for role, values in (("owners", spec.owners), ("moderators", spec.moderators))
        for index, value in enumerate(values)
    ]
    found += [(("nonmembers", index), key) for index, key in enumerate(spec.nonmembers or {})]
    found += [
        (("members", index), member)
        if isinstance(member, str)
        else (("members", index, "address"), member.address)
        for index, member in enumerate(spec.members or ())
    ]
    return found


def _domain_of(address: str) -> str:
    return address.rpartition("@")[2]


def _site_refs(config: SiteConfig | None) -> list[TemplateRef]:
    if config is None:
        return []
    refs = [
        TemplateRef(SITE_FILE, (field_name, name), name, path)
        for field_name in ("templates", "disabled_templates")
        for name, path in getattr(config, field_name).items()
    ]
    refs += [
        TemplateRef(SITE_FILE, ("category_templates", category.value, name), name, path)
        for category, templates in config.category_templates.items()
        for name, path in templates.items()
    ]
    return refs


def load_site(
    root: Path,
    names: Iterable[str] | None = None,
    *,
    domain: str | None = None,
    check_only: Callable[[str], bool] | None = None,
    valid_files: ValidFiles | None = None,
) -> tuple[Site | None, list[Problem]]:
    """Load the site at `root`, or its `domain` on a site with several (a `Site` is one
    domain); only the named lists when `names` is given.

    Returns the site (None when `listsync.yaml` is unusable) and every
    problem found. A list file with an error is left out of the site, and so
    is one for which `check_only(name)`: such files are checked (or found in
    `valid_files`) but not kept. The template texts every file names are
    checked whichever lists are kept.
    """
    problems: list[Problem] = []
    whole = _load_config(root, problems)
    where = LISTS_DIR if whole is None else lists_dir(whole, domain)
    config = None if whole is None else whole.for_domain(domain or whole.domain)
    lists: dict[str, ListFile] = {}
    uses: dict[str, ListTemplates] = {}
    for path, shown, name in _declared(root, names, problems, where):
        if check_only is not None and check_only(name):
            found, _ = _check_list_file(path, shown, name, config, problems, valid_files)
            if found is not None:
                uses[name] = found
            continue
        loaded = _load_list(path, shown, name, config, problems)
        if loaded is not None and config is not None:
            lists[name] = loaded
            uses[name] = _list_templates(shown, name, loaded.spec, config)
    texts = _check_templates(root, config, uses, problems)
    if valid_files is not None:
        valid_files.save()
    problems.sort()
    if config is None:
        return None, problems
    site = Site(
        root=root,
        config=config,
        lists=dict(sorted(lists.items())),
        templates=texts,
    )
    return site, problems


def check_site(root: Path, domains: Iterable[str] | None = None) -> tuple[int, list[Problem]]:
    """What `validate` reports: how many list files are valid, and every problem of the
    site's files and the template texts they name, lint warnings included (addresses
    whose domain looks mistyped too: `_check_typos`); files in `ValidFiles` are not
    parsed again."""
    problems: list[Problem] = []
    whole = _load_config(root, problems)
    valid_files = ValidFiles.for_user(root)
    units: list[tuple[SiteConfig | None, str]] = [(None, LISTS_DIR)]
    if whole is not None and whole.several_domains:
        chosen = sorted(whole.domains if domains is None else set(domains))
        units = [(whole.for_domain(d), lists_dir(whole, d)) for d in chosen]
        if domains is None:
            problems += _misplaced_list_files(root, whole)
    elif whole is not None:
        units = [(whole, LISTS_DIR)]
    valid = 0
    for config, where in units:
        uses: dict[str, ListTemplates] = {}
        checked: list[_Checked] = []
        for path, shown, name in _declared(root, None, problems, where):
            found, loaded = _check_list_file(
                path, shown, name, config, problems, valid_files, warn=True
            )
            if found is not None:
                uses[name] = found
                checked.append(_Checked(path, name, found, loaded))
        _check_templates(root, config, uses, problems)
        rosters: dict[str, list[tuple[int, str]]] = {}
        problems += _check_rosters(root, uses, rosters)
        if config is not None:
            problems += _check_typos(config, checked, rosters)
            valid += len(uses)
    valid_files.save()
    problems.sort()
    return valid, problems


def _misplaced_list_files(root: Path, config: SiteConfig) -> list[Problem]:
    """On a site with several domains: list files outside lists/DOMAIN/, and directories of
    lists/ that name no domain of listsync.yaml."""
    directory = root / LISTS_DIR
    if not directory.is_dir():
        return []
    problems: list[Problem] = []
    for path in sorted(directory.iterdir()):
        shown = path.relative_to(root).as_posix()
        if path.is_file() and path.suffix in LIST_SUFFIXES:
            problems.append(
                Problem(
                    shown,
                    1,
                    1,
                    "",
                    "a site with domains: keeps its list files in"
                    " lists/DOMAIN/ (listsync migrate-domains moves them)",
                )
            )
        elif path.is_dir() and path.name not in config.domains:
            problems.append(
                Problem(
                    shown,
                    1,
                    1,
                    "",
                    f"{path.name} is not a domain of {SITE_FILE}"
                    f"{did_you_mean(path.name, set(config.domains))}; its files are not read",
                )
            )
    return problems


@dataclass(frozen=True, slots=True)
class _Checked:
    """A valid list file as `check_site` found it: parsed this run (`loaded`), or
    remembered as valid (`loaded` None)."""

    path: Path
    name: str
    found: ListTemplates
    loaded: ListFile | None


def _check_typos(
    config: SiteConfig, checked: list[_Checked], rosters: Mapping[str, list[tuple[int, str]]]
) -> list[Problem]:
    """A warning at each address whose domain looks like a typo of one the site knows
    (`typos.DomainCensus`), counting every address of the valid list files, the roster
    files and the site's `disabled_owner`. A list file remembered as valid is read again
    only when one of its domains looks mistyped. Each warning names only the address at
    its own line, and suggests that address at the domain meant."""
    uses: Counter[str] = Counter()
    for item in checked:
        uses.update(dict(item.found.domains))
    for lines in rosters.values():
        uses.update(_domain_of(address) for _, address in lines)
    if config.disabled_owner is not None:
        uses[_domain_of(split_address(config.disabled_owner)[0])] += 1
    census = DomainCensus(uses, config.domain)
    problems: list[Problem] = []
    for item in checked:
        if not any(census.suspect(domain) for domain, _ in item.found.domains):
            continue
        loaded = item.loaded or _load_list(item.path, item.found.source, item.name, config, [])
        if loaded is None:
            continue
        for loc, address in _people(loaded.spec):
            suspect = census.suspect(_domain_of(address))
            if suspect is None:
                continue
            shown_loc = loc
            if loc[0] == "nonmembers":
                shown_loc = ("nonmembers", list(loaded.document["nonmembers"])[int(loc[1])])
            line, col = loaded.position(shown_loc, key=loc[0] == "nonmembers")
            problems.append(
                Problem(
                    loaded.path,
                    line,
                    col,
                    dotted(shown_loc),
                    suspect.message(address),
                    Severity.WARNING,
                )
            )
    for roster, lines in sorted(rosters.items()):
        for number, address in lines:
            suspect = census.suspect(_domain_of(address))
            if suspect is not None:
                problems.append(
                    Problem(roster, number, 1, "", suspect.message(address), Severity.WARNING)
                )
    return problems


def _check_rosters(
    root: Path, uses: Mapping[str, ListTemplates], read: dict[str, list[tuple[int, str]]]
) -> list[Problem]:
    """Each roster file a list file names, read as a plan would: a line that is not an
    address is an error at `rosters/x.txt:LINE`, as are an empty file, one that cannot
    be read and one outside the repository (at the list file's `members_from:`). A file
    in a submodule that is not checked out here is a warning: a public pipeline may
    not have a private submodule's rosters. The addresses of each file read, with
    their line numbers, go into `read` (by the path the list file gives)."""
    found: list[Problem] = []
    reading = [uses[name] for name in sorted(uses) if uses[name].roster is not None]
    repository = Repository.holding(root) if reading else None
    for used in reading:
        if used.roster is None or repository is None:
            continue
        if repository.not_checked_out((root / used.roster).resolve()):
            message = f"{used.roster} is in a submodule not checked out here: not checked"
            found.append(_members_from_problem(root, used, message, Severity.WARNING))
            continue
        try:
            text = roster_text(root, used.roster, repository.top)
        except RosterError as exc:
            found.append(_members_from_problem(root, used, str(exc)))
            continue
        addresses, bad = parse_roster_lines(text)
        read[used.roster] = addresses
        found += [Problem(used.roster, b.line, 1, "", b.message) for b in bad]
        if not addresses and not bad:
            found.append(
                Problem(
                    used.roster, 1, 1, "", "the roster is empty: an empty source changes nothing"
                )
            )
    return list(dict.fromkeys(found))


def _members_from_problem(
    root: Path, used: ListTemplates, message: str, severity: Severity = Severity.ERROR
) -> Problem:
    """A problem at the list file's `members_from:` line."""
    line = 1
    try:
        lines = (root / used.source).read_text(encoding="utf-8").splitlines()
        line = next(i for i, text in enumerate(lines, 1) if text.startswith("members_from:"))
    except (OSError, UnicodeDecodeError, StopIteration):
        pass
    return Problem(used.source, line, 1, "members_from", message, severity)


def _check_templates(
    root: Path,
    config: SiteConfig | None,
    uses: Mapping[str, ListTemplates],
    problems: list[Problem],
) -> dict[str, TemplateText]:
    """The texts the site's files name, by path, each checked for every template name it
    is used as, for its size, and for whether it would be published (`_check_private`)."""
    refs = _site_refs(config) + [ref for found in uses.values() for ref in found.refs()]
    if not refs or config is None:
        return {}
    if config.templates_url is None:
        first = min(refs, key=lambda ref: (ref.source != SITE_FILE, ref.source))
        problems.append(
            _ref_problem(
                root,
                first,
                f"a template needs 'templates_url:' in {SITE_FILE}: the URL below which the"
                " pipeline publishes the texts and Mailman fetches them",
            )
        )
    texts: dict[str, TemplateText] = {}
    site_root = root.resolve()
    for path in sorted({ref.path for ref in refs}):
        file = root / path
        if not file.is_file() or not file.resolve().is_relative_to(site_root):
            problems += [
                _ref_problem(root, ref, f"no such file {path} in the site")
                for ref in refs
                if ref.path == path
            ]
            continue
        raw = file.read_bytes()
        too_big = size_problem(len(raw))
        if too_big is not None:
            problems.append(Problem(path, 1, 1, "", too_big))
            continue
        text, problem = decode(raw)
        if text is None:
            assert problem is not None
            problems.append(Problem(path, problem.line, problem.col, "", problem.message))
            continue
        texts[path] = TemplateText(path, text)
    for name, path in sorted({(ref.name, ref.path) for ref in refs}):
        if path in texts:
            problems += [
                Problem(path, p.line, p.col, name, p.message)
                for p in check_text(name, texts[path].text)
            ]
    if config.templates_url is not None and not config.publish_private_templates:
        problems += _check_private(root, config, uses)
    return texts


def _check_private(
    root: Path, config: SiteConfig, uses: Mapping[str, ListTemplates]
) -> list[Problem]:
    """A text only private lists use is not published (`publishing`): each place that
    gives a private list such a text is an error saying what to do instead."""
    users: dict[str, list[tuple[str, ListTemplates, TemplateRef]]] = {}
    for list_name, found in sorted(uses.items()):
        for ref in found.uses(config).values():
            users.setdefault(ref.path, []).append((list_name, found, ref))
    problems: list[Problem] = []
    for path, using in sorted(users.items()):
        if any(not found.private for _, found, _ in using):
            continue
        names = sorted({list_name for list_name, _, _ in using})
        message = (
            f"{path} is used only by private lists ({', '.join(names)}), and such a text is"
            f" not published at templates_url unless {SITE_FILE} says"
            " 'publish_private_templates: true' (for a templates_url only Mailman can reach):"
            " set that, or give the list a text a public list uses too, or null for"
            " Mailman's own text"
        )
        for ref in sorted({ref for _, _, ref in using}, key=lambda r: (r.source, r.loc)):
            problems.append(_ref_problem(root, ref, message))
    return problems


def _ref_problem(root: Path, ref: TemplateRef, message: str) -> Problem:
    try:
        document = YAML(typ="rt", pure=True).load((root / ref.source).read_text("utf-8-sig"))
        line, col = position(document, ref.loc)
    except (OSError, YAMLError, ValueError):
        line, col = 1, 1
    return Problem(ref.source, line, col, dotted(ref.loc), message)


def load_valid_site(
    root: Path, names: Iterable[str] | None = None, domain: str | None = None
) -> tuple[Site, list[Problem]]:
    """The site with every list, or only the named ones (maybe none); returns the warnings too.

    Every file of the site is checked whatever `names` selects, so that no
    command writes to Mailman while any file is invalid; raises
    `InvalidSiteError` on any error, or when a named list has no file.
    """
    wanted = None if names is None else set(names)
    site, problems = load_site(
        root,
        domain=domain,
        check_only=None if wanted is None else (lambda name: name not in wanted),
        valid_files=ValidFiles.for_user(root),
    )
    if wanted is not None and site is not None:
        present = {path.stem for path in list_file_paths(root, site.lists_dir)}
        problems += [
            Problem(f"{site.lists_dir}/{name}.yaml", 1, 1, "", "no such list file")
            for name in sorted(wanted - present)
        ]
        problems.sort()
    if site is None or any(p.severity is Severity.ERROR for p in problems):
        raise InvalidSiteError(problems)
    return site, problems


def load_and_lint(
    root: Path,
    names: Iterable[str] | None,
    warn: Callable[[Problem], None],
    domain: str | None = None,
) -> Site:
    """`load_valid_site`, its warnings and the site's lints given to `warn`, in order."""
    site, warnings = load_valid_site(root, names, domain)
    for problem in sorted(warnings + lint(site)):
        warn(problem)
    return site


def load_config(root: Path) -> SiteConfig:
    """`listsync.yaml` alone, raising `InvalidSiteError` when it is unusable."""
    problems: list[Problem] = []
    config = _load_config(root, problems)
    if config is None or any(p.severity is Severity.ERROR for p in problems):
        raise InvalidSiteError(problems)
    return config


def roster_files(root: Path, where: str = LISTS_DIR) -> dict[str, Path]:
    """List name -> the roster file its list file reads (`members_from:` a path), from a
    quick read of the files that mention one (what `--changed-since` needs to plan a
    list whose roster changed)."""
    found: dict[str, Path] = {}
    for path in list_file_paths(root, where):
        try:
            text = path.read_text(encoding="utf-8")
        except (OSError, UnicodeDecodeError):
            continue
        if "members_from" not in text:
            continue
        try:
            data = YAML(typ="safe").load(text)
        except (YAMLError, ValueError):
            continue
        source = data.get("members_from") if isinstance(data, dict) else None
        if isinstance(source, str):
            found[path.stem] = root / source
    return found


def list_file_paths(root: Path, where: str = LISTS_DIR) -> list[Path]:
    """Every file in `where` (lists/, or lists/DOMAIN/) that declares a list (valid or not),
    sorted."""
    return _list_paths(root, None, [], where)


def check_list_text(
    text: str, shown: str, name: str, config: SiteConfig
) -> tuple[ListFile | None, list[Problem]]:
    """Check the text of list file `shown` as `validate` would, without touching the disk.

    Returns the loaded file (None when it has an error) and every problem.
    """
    problems: list[Problem] = []
    loaded = _load_list_text(text, shown, name, config, problems)
    if any(p.severity is Severity.ERROR for p in problems):
        loaded = None
    return loaded, sorted(problems)


def _declared(
    root: Path, names: Iterable[str] | None, problems: list[Problem], where: str
) -> Iterator[tuple[Path, str, str]]:
    """The list files (path, path as shown, list name), each list's first file only:
    a second file declaring the same list is a problem."""
    claimed: dict[str, str] = {}
    for path in _list_paths(root, names, problems, where):
        shown = path.relative_to(root).as_posix()
        name = path.stem
        other = claimed.get(name.casefold())
        if other is not None:
            problems.append(Problem(shown, 1, 1, "", f"declares list {name!r} again (see {other})"))
            continue
        claimed[name.casefold()] = shown
        yield path, shown, name


def _list_paths(
    root: Path, names: Iterable[str] | None, problems: list[Problem], where: str
) -> list[Path]:
    directory = root / where
    if names is None:
        if not directory.is_dir():
            return []
        return sorted(p for p in directory.iterdir() if p.suffix in LIST_SUFFIXES and p.is_file())
    paths: list[Path] = []
    for name in sorted(set(names)):
        found = [directory / f"{name}{suffix}" for suffix in LIST_SUFFIXES]
        existing = [p for p in found if p.is_file()]
        if not existing:
            problems.append(Problem(f"{where}/{name}.yaml", 1, 1, "", "no such list file"))
        paths.extend(existing)
    return paths


def _load_config(root: Path, problems: list[Problem]) -> SiteConfig | None:
    path = root / SITE_FILE
    if not path.is_file():
        problems.append(
            Problem(
                SITE_FILE,
                1,
                1,
                "",
                f"missing: a site needs {SITE_FILE} with at least 'domain:' in {root}"
                " (run listsync in the site's directory or pass --root)",
            )
        )
        return None
    parsed = parse_file(path, SITE_FILE, problems)
    if parsed is None:
        return None
    config = validate(SiteConfig, parsed, _SITE_FIELDS, problems)
    override = os.environ.get(TEMPLATES_URL_ENV)
    if config is None or not override:
        return config
    try:
        return config.model_copy(update={"templates_url": check_templates_url(override)})
    except ValueError as exc:
        problems.append(Problem(SITE_FILE, 1, 1, "templates_url", f"{TEMPLATES_URL_ENV}: {exc}"))
        return None


def _check_list_file(
    path: Path,
    shown: str,
    name: str,
    config: SiteConfig | None,
    problems: list[Problem],
    valid_files: ValidFiles | None,
    *,
    warn: bool = False,
) -> tuple[ListTemplates | None, ListFile | None]:
    """Check a list file without keeping it: its problems, its lint warnings only if
    `warn`. Returns what it says about templates when it loads (a site would hold it),
    else None; and the file, when it was parsed (not remembered in `valid_files`)."""
    key = None
    if valid_files is not None and config is not None and not path.is_symlink():
        try:
            key = valid_files.key(shown, path.read_bytes())
        except OSError:
            key = None
        remembered = valid_files.templates(key, shown) if key is not None else None
        if remembered is not None:
            return remembered, None
    found: list[Problem] = []
    loaded = _load_list(path, shown, name, config, found)
    warnings = lint_file(loaded, config) if loaded is not None and config is not None else []
    problems.extend(found + warnings if warn else found)
    if loaded is None or config is None:
        return None, None
    templates = _list_templates(shown, name, loaded.spec, config)
    if key is not None and valid_files is not None and not found and not warnings:
        valid_files.add(key, templates)
    return templates, loaded


SYMLINK_REFUSED = (
    "a list file may not be a symbolic link: git sees a change to its target as no change"
    " to this list (--changed-since would not plan it, and its changes would name the"
    " wrong commit); make it a file of its own"
)


def _load_list(
    path: Path, shown: str, name: str, config: SiteConfig | None, problems: list[Problem]
) -> ListFile | None:
    """The file, checked; None when it has any error (its name's included)."""
    found: list[Problem] = []
    if path.suffix != ".yaml":
        found.append(Problem(shown, 1, 1, "", "list files end in .yaml; rename this file"))
    if path.is_symlink():
        found.append(Problem(shown, 1, 1, "", SYMLINK_REFUSED))
    text = read_text(path, shown, found)
    loaded = None
    if text is None:
        _check_name(shown, name, config, found)
    else:
        loaded = _load_list_text(text, shown, name, config, found)
    problems.extend(found)
    if any(p.severity is Severity.ERROR for p in found):
        return None
    return loaded


def _check_name(shown: str, name: str, config: SiteConfig | None, problems: list[Problem]) -> None:
    if not re.fullmatch(LIST_NAME, name):
        problems.append(
            Problem(
                shown,
                1,
                1,
                "name",
                f"{name!r} cannot be a list name: lower-case letters, digits and . _ + - only",
            )
        )
    elif config is not None and not re.fullmatch(config.naming, name):
        problems.append(
            Problem(
                shown,
                1,
                1,
                "name",
                f"{name!r} does not match the site's naming pattern {config.naming!r}",
            )
        )


def _load_list_text(
    text: str, shown: str, name: str, config: SiteConfig | None, problems: list[Problem]
) -> ListFile | None:
    _check_name(shown, name, config, problems)
    clean = _load_clean(text, config)
    if clean is not None:
        return ListFile(name=name, path=shown, spec=clean, text=text)
    parsed = parse_text(text, shown, problems)
    if parsed is None:
        return None
    nulls = _explicit_nulls(parsed.document, shown)
    found: list[Problem] = []
    spec = validate(ListSpec, parsed, _LIST_FIELDS, found)
    said = {null.field for null in nulls}
    problems += nulls + [p for p in found if p.field.split("[")[0].split(".")[0] not in said]
    if spec is None or nulls:
        return None
    loaded = ListFile(name=name, path=shown, spec=spec, text=text, _document=[parsed.document])
    if spec.disabled and config is not None and config.disabled_owner is None:
        line, col = loaded.position(("disabled",))
        problems.append(
            Problem(shown, line, col, "disabled", f"needs 'disabled_owner:' in {SITE_FILE}")
        )
    if config is not None and config.disabled_owner and _disabled_owner_alone(spec, config):
        line, col = loaded.position(("owners",))
        problems.append(
            Problem(
                shown,
                line,
                col,
                "owners",
                f"{split_address(config.disabled_owner)[0]} is the site's disabled_owner:"
                " it cannot be the only owner of an enabled list",
            )
        )
    banning = _ban_of_disabled_owner(spec, config)
    if banning is not None and config is not None and config.disabled_owner is not None:
        line, col = loaded.position(("bans", banning))
        problems.append(
            Problem(
                shown,
                line,
                col,
                f"bans[{banning}]",
                f"{(spec.bans or [])[banning]} bans the site's disabled_owner"
                f" {split_address(config.disabled_owner)[0]}, the owner a disabled list gets:"
                " Mailman would refuse to add it",
            )
        )
    return loaded


def spec_of_text(text: str, config: SiteConfig) -> ListSpec | None:
    """What a list file's text declares, when it is clean (`_load_clean`); else None."""
    return _load_clean(text, config)


# An explicit null (`key:` and nothing, maybe only a commented-out entry) in a field that
# is left alone when omitted could mean "none" or "leave alone"; in owners and moderators
# it is no list. Either way an error, saying what to write instead.
_AMBIGUOUS = "has no value (null), which could mean none or leave them alone:"
_DECLARE_NONE = "to declare none, or remove the key to leave them alone"
_NULL_MEANS_NOTHING = {
    "nonmembers": f"{_AMBIGUOUS} write {{}} {_DECLARE_NONE}",
    "header_filters": f"{_AMBIGUOUS} write [] {_DECLARE_NONE}",
    "bans": f"{_AMBIGUOUS} write [] {_DECLARE_NONE}",
    "members": f"{_AMBIGUOUS} write [] {_DECLARE_NONE}",
    "members_from": f"{_AMBIGUOUS} name a roster file or an ldap: search, or write"
    f" 'members: []' {_DECLARE_NONE}",
    "owners": "has no value (null): write [] to declare none (the same as removing the key),"
    " or list them",
    "moderators": "has no value (null): write [] to declare none (the same as removing the"
    " key), or list them",
}


def _explicit_nulls(document: Any, shown: str) -> list[Problem]:
    """An error at each key of `_NULL_MEANS_NOTHING` that the file gives no value (null)."""
    return [
        Problem(shown, *position(document, (key,), key=True), key, message)
        for key, message in _NULL_MEANS_NOTHING.items()
        if key in document and document[key] is None
    ]


def _load_clean(text: str, config: SiteConfig | None) -> ListSpec | None:
    """The file's spec when it loads with the safe loader and has no problem at all; else None.

    Parsing YAML in pure Python was most of a cold `validate` and of a plan's
    time before its first request; libyaml (`yamlfile.fast_mapping`, the data
    the round-trip loader would give, or None) is the fast path. Any doubt (a
    construct the two loaders could read differently, a YAML error, a
    validation error, a cross-file rule) sends the file down the round-trip
    path, which reports it with its position.
    """
    data = fast_mapping(text)
    if data is None or any(key in data and data[key] is None for key in _NULL_MEANS_NOTHING):
        return None
    try:
        spec = ListSpec.model_validate(data)
    except ValidationError:
        return None
    if spec.disabled and config is not None and config.disabled_owner is None:
        return None
    if _disabled_owner_alone(spec, config) or _ban_of_disabled_owner(spec, config) is not None:
        return None
    return spec


def _disabled_owner_alone(spec: ListSpec, config: SiteConfig | None) -> bool:
    sole = config.disabled_owner if config is not None else None
    if sole is None or spec.disabled:
        return False
    return {split_address(o)[0] for o in spec.owners} == {split_address(sole)[0]}


def _ban_of_disabled_owner(spec: ListSpec, config: SiteConfig | None) -> int | None:
    """The index of the first of a disabled list's `bans:` that bans the site's
    disabled_owner (which the disable procedure adds), or None."""
    if config is None or config.disabled_owner is None or not spec.disabled:
        return None
    owner = split_address(config.disabled_owner)[0]
    return next((i for i, p in enumerate(spec.bans or ()) if bans_address(p, owner)), None)


_LIST_FIELDS: dict[Loc, type[BaseModel]] = {
    (): ListSpec,
    ("dmarc",): Dmarc,
    ("header_filters",): HeaderFilter,  # of each item
}
_SITE_FIELDS: dict[Loc, type[BaseModel]] = {
    (): SiteConfig,
    ("safety",): Safety,
    ("defaults",): ListDefaults,
    ("defaults", "dmarc"): Dmarc,
}
