"""What `listsync init` writes: a new site repository that validates and a pipeline can run.

Owns the files of a new site and their text: `listsync.yaml` for a domain, one
example list, an empty `templates/` (a `.gitkeep`, which no list can name), the
JSON Schema (`schema.rendered`, as `listsync schema` writes it), the pipeline
(listsync's own `.gitlab-ci.yml`, shipped in the package as `data/gitlab-ci.yml`,
with `LISTSYNC_PACKAGE` pinned to this release and `LISTSYNC_APPLY` "false": it
plans and never applies until the site says so), a pre-commit configuration
running `listsync validate` with the same release, and a README; then writing
them where no file is yet, and `git init` where the directory is in no
repository. It never overwrites a file and never commits.
"""

from __future__ import annotations

import re
import subprocess
import tempfile
from dataclasses import dataclass
from importlib import metadata, resources
from pathlib import Path

from listsync import DISTRIBUTION, schema
from listsync.errors import ListsyncError, Severity
from listsync.load import LISTS_DIR, SITE_FILE, check_site
from listsync.mailman_templates import TEMPLATES_DIR

PIPELINE_FILE = ".gitlab-ci.yml"
PRECOMMIT_FILE = ".pre-commit-config.yaml"
EXAMPLE_LIST = "listmasters"
BRANCH = "main"
# What the pre-commit hook watches: what `listsync validate` reads.
HOOK_FILES = r"^(listsync\.yaml|lists/([^/]+/)?[^/]+\.ya?ml|templates/.+)$"


@dataclass(frozen=True)
class NewSite:
    """The files `listsync init` writes (site-relative path -> text, in writing order), where,
    and the git repository the directory is already in, if any."""

    root: Path
    domain: str
    release: str
    files: dict[str, str]
    repository: Path | None


def release() -> str:
    """The installed listsync's version, which the new site's pipeline and hook install."""
    try:
        return metadata.version(DISTRIBUTION)
    except metadata.PackageNotFoundError:
        raise ListsyncError(
            f"cannot tell which release of listsync this is ({DISTRIBUTION} is not installed):"
            " install it with pip to pin it in the new site"
        ) from None


def pipeline(version: str) -> str:
    """listsync's `.gitlab-ci.yml` for a site of its own: the release pinned, plan-only."""
    text = (resources.files("listsync") / "data" / "gitlab-ci.yml").read_text(encoding="utf-8")
    for variable, value in (
        ("LISTSYNC_PACKAGE", f"{DISTRIBUTION}=={version}"),
        ("LISTSYNC_APPLY", "false"),
    ):
        text, found = re.subn(
            rf'^(  {variable}: )"[^"\n]*"$', rf'\g<1>"{value}"', text, flags=re.MULTILINE
        )
        if found != 1:
            raise RuntimeError(f"the packaged pipeline sets {variable} {found} times, not once")
    return text


def site_files(domain: str, version: str) -> dict[str, str]:
    """Every file of a new site for `domain`, by site-relative path."""
    owner = f"listmaster@{domain}"
    return {
        SITE_FILE: _SITE.format(domain=domain, disabled_owner=f"devnull@{domain}"),
        f"{LISTS_DIR}/{EXAMPLE_LIST}.yaml": _EXAMPLE.format(domain=domain, owner=owner),
        f"{TEMPLATES_DIR}/.gitkeep": "",
        **{f"{schema.SCHEMA_DIR}/{name}": text for name, text in schema.rendered().items()},
        PIPELINE_FILE: pipeline(version),
        PRECOMMIT_FILE: _PRECOMMIT.format(
            distribution=DISTRIBUTION, version=version, files=HOOK_FILES
        ),
        "README.md": _README.format(domain=domain, distribution=DISTRIBUTION, version=version),
    }


def prepare(root: Path, domain: str) -> NewSite:
    """What `listsync init` would write at `root` for `domain`, refused before anything is
    written when the domain is no valid site, or a file it would write is there already."""
    domain = domain.strip().lower()
    if not re.fullmatch(r"[a-z0-9][a-z0-9.-]*", domain):
        raise ListsyncError(f"--domain {domain!r} is not a domain name such as lists.example.org")
    version = release()
    files = site_files(domain, version)
    _check_valid(domain, files)
    if root.exists() and not root.is_dir():
        raise ListsyncError(f"{root} is not a directory")
    for relative in files:
        path = root / relative
        for parent in reversed(path.relative_to(root).parents[:-1]):
            if (root / parent).exists() and not (root / parent).is_dir():
                raise ListsyncError(f"{root / parent} is not a directory; nothing was written")
        if path.exists() or path.is_symlink():
            raise ListsyncError(
                f"{path} exists: listsync init never overwrites a file; nothing was written"
                " (start in a new directory, or move it away)"
            )
    return NewSite(root, domain, version, files, _enclosing_repository(root))


def write(site: NewSite) -> None:
    """Write the files (each only where none is), then `git init` unless already in a repo."""
    for relative, text in site.files.items():
        path = site.root / relative
        try:
            path.parent.mkdir(parents=True, exist_ok=True)
            with path.open("x", encoding="utf-8") as out:
                out.write(text)
        except OSError as exc:
            raise ListsyncError(f"cannot write {path}: {exc.strerror or exc}") from None
    if site.repository is None:
        _git("init", "--quiet", f"--initial-branch={BRANCH}", str(site.root))


def _check_valid(domain: str, files: dict[str, str]) -> None:
    """The new site validates as `listsync validate` checks it (in a scratch directory)."""
    with tempfile.TemporaryDirectory(prefix="listsync-init-") as scratch:
        for relative in (SITE_FILE, f"{LISTS_DIR}/{EXAMPLE_LIST}.yaml"):
            path = Path(scratch) / relative
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_text(files[relative], encoding="utf-8")
        _, problems = check_site(Path(scratch))
    errors = [str(problem) for problem in problems if problem.severity is Severity.ERROR]
    if errors:
        raise ListsyncError(
            f"--domain {domain!r} gives a site that does not validate: {'; '.join(errors)};"
            " nothing was written"
        )


def _enclosing_repository(root: Path) -> Path | None:
    """The top of the git work tree `root` (or its nearest existing parent) is in, or None."""
    existing = root.absolute()
    while not existing.exists():
        existing = existing.parent
    done = _git("rev-parse", "--show-toplevel", cwd=existing, check=False)
    return Path(done.stdout.strip()) if done.returncode == 0 else None


def _git(
    *args: str, cwd: Path | None = None, check: bool = True
) -> subprocess.CompletedProcess[str]:
    try:
        done = subprocess.run(
            ["git", *args], cwd=cwd, capture_output=True, text=True, check=False, timeout=60
        )
    except FileNotFoundError:
        raise ListsyncError("git is not installed: a site is a git repository") from None
    if check and done.returncode != 0:
        raise ListsyncError(f"git {args[0]} failed: {done.stderr.strip()}")
    return done


_SITE = """\
# yaml-language-server: $schema=schema/site.schema.json
# The site: every list of {domain}. listsync's README, "Files", says what each key does.
domain: {domain}
# The sole owner of a disabled list (never the only owner of an enabled one): an address
# that discards mail, or a mailbox the listmasters read. Make sure it exists.
disabled_owner: {disabled_owner}
defaults:
  visibility: public      # public: on the list of lists; private: not advertised
  posting: members        # members | open | moderated | announce
  dmarc:
    mitigation: munge_from
    unconditional: true
# web_url: https://{domain}   # Postorius and HyperKitty (default https://{domain})
# templates_url: https://GROUP.gitlab.io/PROJECT/templates   # needed once a list names a template
# redact_addresses: true      # a public project: plans show a***@example.org
"""

_EXAMPLE = """\
# yaml-language-server: $schema=../schema/list.schema.json
# An example to change or replace: one file per list, lists/NAME.yaml for NAME@{domain}.
description: The listmasters of {domain}.
category: team
visibility: private       # not on the list of lists; its archive is private too
owners: [{owner}]
"""

_PRECOMMIT = """\
# pre-commit (https://pre-commit.com): after `pre-commit install`, a commit that changes
# listsync.yaml, a list file or a template text runs `listsync validate` first, with the
# release of listsync the pipeline installs (.gitlab-ci.yml, LISTSYNC_PACKAGE).
repos:
  - repo: local
    hooks:
      - id: listsync-validate
        name: listsync validate
        entry: listsync
        args: [validate]
        language: python
        additional_dependencies: ["{distribution}=={version}"]
        pass_filenames: false
        files: {files}
        require_serial: true
"""

_README = """\
# The mailing lists of {domain}

The GNU Mailman 3 lists of {domain}, kept as code with listsync
(`{distribution}` {version}): one file per list in `lists/`, the site's
settings in `listsync.yaml`, the texts Mailman sends in `templates/`, the
files' JSON Schema in `schema/` (for editors). To ask for a list or change
one, open a merge request: its pipeline shows the plan, and merging applies it.

## Starting

```sh
pip install {distribution}=={version}
listsync validate    # check the files (and `pre-commit install`: before every commit)
listsync plan        # what would change in Mailman: needs MAILMAN_REST_URL, _USER, _PASSWORD
```

## The pipeline

`.gitlab-ci.yml` validates every push, plans every merge request against a
snapshot of Mailman, and plans, publishes and applies on the default branch;
a schedule catches changes made by hand in Postorius. Set its CI/CD variables
(Settings → CI/CD → Variables), all three *Protected*, the password *Masked*:
`MAILMAN_REST_URL` (Mailman's REST API as the runners reach it, e.g.
`https://{domain}/3.1`), `MAILMAN_REST_USER`, `MAILMAN_REST_PASSWORD`. Then
protect the default branch and run its pipeline once. listsync's README,
"GitOps", says the rest (the schedule, the resource group, templates).

**Plan-only for now.** `LISTSYNC_APPLY` is `"false"` in `.gitlab-ci.yml`: the
pipeline validates, plans and publishes, and applies nothing. When the
default branch's plan shows what you expect, set it to `"true"` in a merge
request.
"""
