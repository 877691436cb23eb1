"""`listsync apply`: show the plan, confirm, apply it with progress, report what happened."""

from __future__ import annotations

import json
import sys
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import TYPE_CHECKING

import click

from listsync.commands.common import (
    EXIT_FAILURE,
    Connection,
    Context,
    connection_options,
    echo_plan,
    names_option,
    pass_context,
    redact_option,
    result_format_option,
    say,
    warn,
)
from listsync.commands.domains import for_each_domain
from listsync.errors import ListsyncError, scrub

if TYPE_CHECKING:
    from listsync.apply import ListResult


@click.command()
@connection_options
@for_each_domain
@names_option
@click.option("--yes", "-y", is_flag=True, help="Do not ask for confirmation.")
@click.option(
    "--force",
    is_flag=True,
    help="Apply even when the plan changes more lists than safety.max_changed_fraction.",
)
@click.option(
    "--require-tip",
    metavar="REF",
    help="Refuse unless the work tree is clean and at REF's commit, e.g. origin/main"
    " (fetched first): an older revision is never applied over a newer one.",
)
@redact_option
@result_format_option
@click.argument(
    "plan_file",
    metavar="[FILE]",
    required=False,
    type=click.Path(exists=True, dir_okay=False, path_type=Path),
)
@pass_context
def apply(
    obj: Context,
    conn: Connection,
    names: tuple[str, ...],
    yes: bool,
    force: bool,
    require_tip: str | None,
    redact: bool,
    fmt: str,
    plan_file: Path | None,
) -> None:
    """Plan, show the plan, confirm, and apply it to Mailman.

    With FILE, apply that saved plan (from 'listsync plan --out FILE.json')
    without asking: the saved plan is what was reviewed. Its lists are
    planned again from the files and Mailman, and it is applied only if
    that plan is exactly the one recorded; it is refused when the work tree
    is at another revision, when Mailman changed one of its lists since,
    or when the file was edited.

    \b
    Examples:
      listsync apply
      listsync apply --list tor-dev --yes
      listsync apply plan.json --require-tip origin/main
    """
    from listsync import render, results, run

    if plan_file is not None and names:
        raise ListsyncError("a saved plan fixes its lists: --list does not go with FILE")
    as_json = fmt == "json"
    if as_json and not yes and plan_file is None:
        raise ListsyncError(
            "--format json needs --yes (or a saved plan): nobody can answer a prompt"
        )
    if plan_file is not None and obj.domain is not None and not _plans(plan_file, obj.domain):
        click.echo(f"{plan_file} plans nothing of {obj.domain}: nothing to apply", err=as_json)
        return
    backend = conn.backend()
    with run.exclusive(backend, obj.root, require_tip):
        if plan_file is not None:
            planned = run.replan_saved(
                obj.root, plan_file, backend, redact=redact, warn=warn, domain=obj.domain
            )
        else:
            request = run.Request(obj.root, names or None, redact=redact, domain=obj.domain)
            planned = run.plan_run(request, lambda: backend, warn=warn)
        echo_plan(obj, render.to_text(planned.shown), err=as_json)
        # a refused roster is a failure to report even when nothing else is to change
        if not planned.plan.has_changes and not planned.plan.refused_rosters:
            if as_json:
                click.echo(results.dumps(results.applied(planned.shown, None)), nl=False)
            return
        run.check_blast_radius(planned, force)
        if plan_file is None:
            confirm(yes, backend.url)
        else:
            click.echo(f"Applying the saved plan {plan_file}.", err=as_json)
        with _progress(sum(1 for lp in planned.plan.lists if lp.changes)) as advance:
            result = run.apply_run(
                planned, backend, force=force, on_done=advance, on_interrupt=say_interrupted
            )
    *lines, summary = results.applied_lines(result)
    for line in lines:
        say(line, err=True)
    say(summary, err=as_json)
    if as_json:
        click.echo(scrub(results.dumps(results.applied(planned.shown, result))), nl=False)
    if not result.ok:
        raise SystemExit(EXIT_FAILURE)


@contextmanager
def _progress(total: int) -> Iterator[Callable[[ListResult], None]]:
    """A progress bar on a terminal; silence elsewhere (CI logs get the summary)."""
    from rich.console import Console
    from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn

    console = Console(stderr=True)
    if not console.is_terminal:
        yield lambda result: None
        return
    with Progress(
        TextColumn("applying"), BarColumn(), MofNCompleteColumn(), console=console, transient=True
    ) as bar:
        task = bar.add_task("apply", total=total)
        yield lambda result: bar.advance(task)


def _plans(plan_file: Path, domain: str) -> bool:
    """Whether a saved plan of several domains holds one of `domain` (any other file is
    left for the saved-plan checks to judge)."""
    from listsync.targets import NotInBundleError, domain_part

    try:
        domain_part(json.loads(plan_file.read_text(encoding="utf-8")), domain, str(plan_file))
    except NotInBundleError:
        return False
    except (OSError, ValueError):
        return True
    return True


def confirm(yes: bool, url: str) -> None:
    from listsync.mailman import redact_url

    if yes:
        return
    if not sys.stdin.isatty():
        raise ListsyncError("refusing to apply without confirmation: no terminal; pass --yes")
    if not click.confirm(f"Apply these changes to {redact_url(url)}?"):
        raise ListsyncError("apply cancelled; nothing was changed")


def say_interrupted() -> None:
    say("interrupted: no further list starts; the lists under way finish first", err=True)
