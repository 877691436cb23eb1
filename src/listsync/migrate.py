"""Moving a site with one domain to the layout of a site with several.

Owns `listsync migrate-domains`: listsync.yaml's `domain: D` becomes
`domains: {D: {}}` (every other key, and every comment, as it was: they are
the site's keys, which the domain inherits), and each list file moves from
lists/ to lists/D/ with `git mv` (a plain rename outside git), so that git
keeps each file's history and the next plan is the plan of before: the same
lists, in the same domain, on the same core. It refuses, and changes
nothing, when the site is invalid, already has several domains, or a file
it would write is there already.
"""

from __future__ import annotations

import io
import subprocess
from dataclasses import dataclass
from pathlib import Path

from ruamel.yaml import YAML
from ruamel.yaml.comments import CommentedMap

from listsync.errors import InvalidSiteError, ListsyncError, Severity
from listsync.gitinfo import open_site_repo
from listsync.load import LISTS_DIR, SITE_FILE, check_site, list_file_paths, load_config


@dataclass(frozen=True, slots=True)
class Migration:
    """What `migrate-domains` does: the domain, and each list file's old and new path."""

    root: Path
    domain: str
    moves: tuple[tuple[Path, Path], ...]
    config_text: str
    in_git: bool


def _config_text(root: Path, domain: str) -> str:
    yaml = YAML(typ="rt", pure=True)
    yaml.preserve_quotes = True
    yaml.indent(mapping=2, sequence=4, offset=2)
    text = (root / SITE_FILE).read_text(encoding="utf-8-sig")
    document = yaml.load(text)
    if not isinstance(document, CommentedMap) or "domain" not in document:
        raise ListsyncError(f"{SITE_FILE} has no domain: to move")
    position = list(document).index("domain")
    comment = document.ca.items.pop("domain", None)
    del document["domain"]
    domains = CommentedMap({domain: CommentedMap()})
    if comment is not None:
        domains.ca.items[domain] = comment  # the line's comment stays on the domain's line
    document.insert(position, "domains", domains)
    stream = io.StringIO()
    yaml.dump(document, stream)
    return stream.getvalue()


def prepare(root: Path) -> Migration:
    """The migration of the site at `root`, checked; nothing is written."""
    errors = [p for p in check_site(root)[1] if p.severity is Severity.ERROR]
    if errors:
        raise InvalidSiteError(errors, "the site")
    config = load_config(root)
    if config.several_domains:
        raise ListsyncError(f"{SITE_FILE} says domains: already: nothing to move")
    directory = root / LISTS_DIR / config.domain
    moves = tuple((path, directory / path.name) for path in list_file_paths(root))
    taken = [new for _, new in moves if new.exists()]
    if taken:
        raise ListsyncError(f"{taken[0].relative_to(root)} exists already; nothing was moved")
    return Migration(
        root,
        config.domain,
        moves,
        _config_text(root, config.domain),
        in_git=open_site_repo(root) is not None,
    )


def carry_out(migration: Migration) -> None:
    """Move the files (`git mv` inside a repository) and write the new listsync.yaml."""
    root = migration.root
    (root / LISTS_DIR / migration.domain).mkdir(parents=True, exist_ok=True)
    for old, new in migration.moves:
        if migration.in_git and _tracked(root, old):
            subprocess.run(
                ["git", "mv", "--", str(old), str(new)],
                cwd=root,
                check=True,
                capture_output=True,
            )
        else:
            old.rename(new)
    (root / SITE_FILE).write_text(migration.config_text, encoding="utf-8")


def _tracked(root: Path, path: Path) -> bool:
    found = subprocess.run(
        ["git", "ls-files", "--error-unmatch", "--", str(path)],
        cwd=root,
        capture_output=True,
        check=False,
    )
    return found.returncode == 0
