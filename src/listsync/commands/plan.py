"""`listsync plan`: what apply would change, as text, Markdown or a saved plan."""

from __future__ import annotations

from pathlib import Path

import click

from listsync.commands.common import (
    EXIT_CHANGES,
    EXIT_FAILURE,
    PLAN_FORMATS,
    Connection,
    Context,
    connection_options,
    echo_plan,
    format_given,
    format_option,
    names_option,
    out_format,
    outs_option,
    redact_option,
    say,
    warn,
    write_out,
)
from listsync.commands.domains import for_each_domain


@click.command()
@connection_options
@for_each_domain
@names_option
@format_option(PLAN_FORMATS, "Human text, Markdown for merge requests, or JSON.")
@outs_option(
    "Write the plan to FILE instead of standard output (repeatable). The format follows"
    " the name: .md Markdown, .txt text, .json a saved plan for 'listsync apply FILE'"
    " (the JSON plan plus the git revision it was made at)."
)
@click.option(
    "--changed-since",
    metavar="REV",
    help="Plan only the lists whose files changed since the merge base of REV and HEAD"
    " (every list when listsync.yaml changed).",
)
@click.option(
    "--detailed-exitcode",
    is_flag=True,
    help="Exit 0 when there are no changes, 2 when there are, 1 on error.",
)
@click.option(
    "--live",
    "live_file",
    type=click.Path(exists=True, dir_okay=False, path_type=Path),
    help="Plan against a snapshot (from 'listsync snapshot') instead of Mailman: needs no"
    " credentials; for review only, never a saved plan.",
)
@redact_option
@click.pass_context
def plan(
    ctx: click.Context,
    conn: Connection,
    names: tuple[str, ...],
    fmt: str,
    outs: tuple[Path, ...],
    changed_since: str | None,
    detailed_exitcode: bool,
    live_file: Path | None,
    redact: bool,
) -> None:
    """Show what apply would change in Mailman, without changing anything.

    \b
    Examples:
      listsync plan
      listsync plan --list tor-dev --detailed-exitcode
      listsync plan --changed-since origin/main --out plan.md --out plan.json
      listsync plan --live mailman-snapshot.json --format markdown
    """
    from listsync import render, run

    obj: Context = ctx.obj
    formats = [(out, out_format(out, fmt, format_given(ctx))) for out in outs]
    request = run.Request(obj.root, names or None, changed_since, redact, obj.domain)
    planned = run.plan_run(request, conn.backend, live_file=live_file, warn=warn)
    shown = planned.shown
    if not formats and fmt == "text":
        echo_plan(obj, render.render_plan(shown, fmt))
    elif not formats:
        click.echo(render.render_plan(shown, fmt), nl=False)
    for out, out_fmt in formats:
        write_out(out, planned.saved() if out_fmt == "json" else render.render_plan(shown, out_fmt))
        click.echo(f"wrote {out}: {planned.plan.summary()}", err=True)
    refused = planned.plan.refused_rosters
    if refused:
        say(f"error: the roster of {', '.join(refused)} cannot be planned: see '!' above", err=True)
        raise SystemExit(EXIT_FAILURE)
    if detailed_exitcode and planned.plan.has_changes:
        raise SystemExit(EXIT_CHANGES)
