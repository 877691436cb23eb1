"""`listsync init`: a new site repository, from the domain alone; `listsync migrate-domains`:
a site of one domain moved to the layout of several."""

from __future__ import annotations

import sys
from pathlib import Path

import click

from listsync.commands.common import Context, pass_context, say
from listsync.errors import ListsyncError


@click.command("init")
@click.argument("directory", type=click.Path(file_okay=False, path_type=Path))
@click.option(
    "--domain",
    metavar="DOMAIN",
    help="The mail domain of the lists, e.g. lists.example.org (asked for on a terminal).",
)
def init_command(directory: Path, domain: str | None) -> None:
    """Start a new site in DIRECTORY: listsync.yaml, an example list, templates/,
    schema/, the pipeline (plan-only), a pre-commit configuration and a README.

    It writes only files that are not there yet (an existing one is refused,
    and nothing is written), runs `git init` unless DIRECTORY is in a git
    repository already, and commits nothing. The pipeline installs this
    release of listsync and never applies until LISTSYNC_APPLY is "true" in
    its .gitlab-ci.yml. The new site validates as it is.

    \b
    Examples:
      listsync init lists-site --domain lists.example.org
      listsync init lists-site          # asks for the domain
    """
    from listsync import scaffold

    if domain is None:
        if not sys.stdin.isatty():
            raise ListsyncError(
                "no --domain and no terminal to ask on: listsync init DIR --domain DOMAIN"
            )
        domain = str(click.prompt("Mail domain of the lists (e.g. lists.example.org)"))
    site = scaffold.prepare(directory, domain)
    scaffold.write(site)
    for relative in site.files:
        say(f"wrote {directory / relative}")
    if site.repository is None:
        say(f"initialised a git repository in {directory} (branch {scaffold.BRANCH})")
    elif site.repository != directory.resolve():
        say(
            f"note: {directory} is inside the git repository {site.repository}: GitLab and"
            f" pre-commit read {scaffold.PIPELINE_FILE} and {scaffold.PRECOMMIT_FILE} at its"
            " top only (move them there, and give the jobs and the hook --root)"
        )
    say(
        "Next: edit listsync.yaml (disabled_owner) and the example list, then"
        f" `listsync --root {directory} validate`, commit (git add --all && git commit),"
        " push to GitLab and set the pipeline's variables (README.md). The pipeline plans"
        ' but applies nothing until LISTSYNC_APPLY is "true" in .gitlab-ci.yml.'
    )


@click.command("migrate-domains")
@pass_context
def migrate_domains_command(obj: Context) -> None:
    """Move a site with one domain to the layout of several: listsync.yaml's domain: D
    becomes domains: {D: {}}, and lists/NAME.yaml moves to lists/D/NAME.yaml (with git mv,
    which keeps each file's history). The next plan is the same as before; commit, then
    add domains and cores: (README.md, "Several domains and cores").

    \b
    Example:
      listsync migrate-domains && git commit -m "One directory per domain"
    """
    from listsync import migrate
    from listsync.load import SITE_FILE

    migration = migrate.prepare(obj.root)
    migrate.carry_out(migration)
    for old, new in migration.moves:
        say(f"moved {old.relative_to(obj.root)} to {new.relative_to(obj.root)}")
    say(
        f"wrote {SITE_FILE}: domains: {{{migration.domain}: {{}}}};"
        + (" the moves are staged in git" if migration.in_git else "")
        + ": run listsync plan (it shows no change), then commit"
    )
