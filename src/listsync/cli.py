"""The `listsync` command line: the command group, its global options and the exit codes.

Each command lives in `listsync.commands`, one module each, and calls the
stage that owns its work (`run` for plan and apply). Expected failures are
`ListsyncError`s and end here as one line on stderr with exit status 1; the
core never calls `sys.exit`.
"""

from __future__ import annotations

import sys
from pathlib import Path

import click

from listsync import DISTRIBUTION
from listsync.commands.apply import apply
from listsync.commands.common import (
    CATALOG_FORMATS,
    DEFAULT_RETRIES,
    DEFAULT_TIMEOUT,
    EXIT_BUG,
    EXIT_CHANGES,
    EXIT_FAILURE,
    EXIT_OK,
    PLAN_FORMATS,
    REPORT_FORMATS,
    REPORT_SECTIONS,
    Context,
    print_problems,
)
from listsync.commands.imports import import_command
from listsync.commands.init import init_command, migrate_domains_command
from listsync.commands.person import person
from listsync.commands.pipeline import pipeline_command
from listsync.commands.plan import plan
from listsync.commands.policy import check_policy
from listsync.commands.render import render_command
from listsync.commands.report import report_command, snapshot_command
from listsync.commands.templates import check_templates
from listsync.commands.validate import schema_command, validate
from listsync.errors import (
    InvalidSiteError,
    ListsyncError,
    hide_addresses,
    keep_addresses,
    scrub,
)
from listsync.escaping import visible, visible_lines

__all__ = [
    "CATALOG_FORMATS",
    "DEFAULT_RETRIES",
    "DEFAULT_TIMEOUT",
    "EXIT_CHANGES",
    "PLAN_FORMATS",
    "REPORT_FORMATS",
    "REPORT_SECTIONS",
    "WORKFLOW",
    "cli",
    "main",
]

WORKFLOW = (
    "init",
    "validate",
    "plan",
    "check-policy",
    "apply",
    "check-templates",
    "import",
    "render",
    "report",
    "person",
    "snapshot",
    "schema",
    "migrate-domains",
    "pipeline",
)


class WorkflowGroup(click.Group):
    """Commands in the order a listmaster uses them, not alphabetically."""

    def list_commands(self, ctx: click.Context) -> list[str]:
        ranks = {name: rank for rank, name in enumerate(WORKFLOW)}
        return sorted(self.commands, key=lambda name: (ranks.get(name, len(ranks)), name))


@click.group(cls=WorkflowGroup, context_settings={"help_option_names": ["-h", "--help"]})
@click.option(
    "--root",
    type=click.Path(file_okay=False, path_type=Path),
    default=Path(),
    show_default=True,
    help="The site: the directory holding listsync.yaml and lists/.",
)
@click.option(
    "--no-color",
    is_flag=True,
    help="Plain plans on a terminal too (also: the NO_COLOR environment variable).",
)
@click.option("--debug", is_flag=True, help="On an internal error, print the traceback.")
@click.version_option(package_name=DISTRIBUTION)
@click.pass_context
def cli(ctx: click.Context, root: Path, no_color: bool, debug: bool) -> None:
    """Keep GNU Mailman 3 mailing lists as code.

    Run it in a site (listsync.yaml and lists/) or name one with --root.
    The usual day: validate, plan, apply (or a merge request that does both).

    \b
    Shell completion (list names for --list too), e.g. in ~/.bashrc:
      eval "$(_LISTSYNC_COMPLETE=bash_source listsync)"
    (zsh_source for zsh, fish_source for fish)
    """
    site_root = root.resolve()
    ctx.obj = Context(site_root, color=not no_color)
    hide_addresses(lambda: _site_redacts(site_root))


for command, name in (
    (init_command, "init"),
    (validate, "validate"),
    (plan, "plan"),
    (check_policy, "check-policy"),
    (apply, "apply"),
    (check_templates, "check-templates"),
    (import_command, "import"),
    (render_command, "render"),
    (report_command, "report"),
    (person, "person"),
    (snapshot_command, "snapshot"),
    (schema_command, "schema"),
    (migrate_domains_command, "migrate-domains"),
    (pipeline_command, "pipeline"),
):
    cli.add_command(command, name)


def _site_redacts(root: Path) -> bool:
    """Whether the site asks for redaction (`redact_addresses`), for what is printed before
    a command has loaded the site (the run then decides)."""
    from listsync.load import load_config

    try:
        return load_config(root).redact_addresses
    except ListsyncError:
        return False


def main(argv: list[str] | None = None) -> int:
    """Entry point: run the CLI and return its exit status."""
    args = sys.argv[1:] if argv is None else argv
    hide_addresses(False)
    keep_addresses(())
    try:
        status = cli.main(args=args, prog_name="listsync", standalone_mode=False)
    except InvalidSiteError as exc:
        print_problems(exc.problems)
        click.echo(f"error: {exc}", err=True)
        return EXIT_FAILURE
    except ListsyncError as exc:
        click.echo(visible(scrub(f"error: {exc}")), err=True)
        return EXIT_FAILURE
    except click.exceptions.Abort:
        click.echo("aborted", err=True)
        return EXIT_FAILURE
    except click.ClickException as exc:
        # A usage error is an error (1): 2 means "changes" to --detailed-exitcode.
        exc.show()
        return EXIT_FAILURE
    except SystemExit as exc:
        return exc.code if isinstance(exc.code, int) else EXIT_FAILURE
    except Exception as exc:  # a bug: say so, without secrets, and how to learn more
        if "--debug" in args:
            import traceback

            click.echo(visible_lines(scrub(traceback.format_exc())), err=True)
        click.echo(
            visible(scrub(f"internal error: {type(exc).__name__}: {exc}"))
            + "\nThis is a bug in listsync; rerun with --debug for a traceback and report it.",
            err=True,
        )
        return EXIT_BUG
    return status if isinstance(status, int) else EXIT_OK


if __name__ == "__main__":
    sys.exit(main())
