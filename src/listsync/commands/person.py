"""`listsync person ...`: one person across the server and the files.

The `person` group holds the commands about one person, each a subcommand
added with `person.add_command` (or `@person.command`): `show` and `remove`.
"""

from __future__ import annotations

from pathlib import Path

import click

from listsync.commands.apply import confirm, say_interrupted
from listsync.commands.common import (
    EXIT_FAILURE,
    REPORT_FORMATS,
    Connection,
    Context,
    connection_options,
    format_given,
    format_option,
    load_site,
    out_format,
    outs_option,
    pass_context,
    redact_option,
    say,
    warn,
    write_out,
)
from listsync.commands.domains import for_each_domain
from listsync.errors import ListsyncError
from listsync.escaping import visible


@click.group("person")
def person() -> None:
    """Where one person is on the server and in the files.

    \b
    Example:
      listsync person show alice@example.org
    """


@person.command("show")
@click.argument("addresses", metavar="ADDRESS...", nargs=-1, required=True)
@connection_options
@for_each_domain
@format_option(REPORT_FORMATS, "Text, Markdown (an issue or a runbook), or JSON.")
@outs_option("Write it to FILE (repeatable); the format follows the name (.md, .json, .txt).")
@click.option(
    "--no-bans",
    is_flag=True,
    help="Skip the per-list bans (one request per list on the server); site-wide bans are"
    " still read.",
)
@redact_option
@click.pass_context
def show(
    ctx: click.Context,
    addresses: tuple[str, ...],
    conn: Connection,
    fmt: str,
    outs: tuple[Path, ...],
    no_bans: bool,
    redact: bool,
) -> None:
    """Every place ADDRESS appears: its roles on every list of the server (managed or not,
    every domain), its bans, the list files naming it, and where they differ.

    An address is taken in any case and with a display name ('Alice
    <alice@example.org>'). The other addresses of its Mailman user are
    listed but not searched: name them too. Only reads Mailman: a few
    requests per address whatever the number of lists, plus one per list
    for the per-list bans (--no-bans skips them).

    \b
    Examples:
      listsync person show alice@example.org
      listsync person show 'Alice <alice@example.org>' alice@work.example --format markdown
    """
    from listsync import people, people_render
    from listsync.errors import keep_addresses
    from listsync.run import hiding

    obj: Context = ctx.obj
    fmt_given = format_given(ctx)
    formats = [(out, out_format(out, fmt, fmt_given)) for out in outs]
    subjects = list(dict.fromkeys(people.normalise(address) for address in addresses))
    keep_addresses(subjects)
    site = load_site(obj, ())
    hidden = hiding(site, redact)
    backend = conn.backend()
    server = people.read_server(backend, list_bans=not no_bans)
    found = tuple(people.locate(site, backend, subject, server=server) for subject in subjects)
    showing = people_render.Showing(
        domain=site.config.domain,
        people=found,
        lists_on_server=len(server.lists),
        list_bans_read=server.list_bans is not None,
        requests=backend.requests.total,
    )
    if hidden:
        showing = people_render.redacted(showing, keep=frozenset(server.lists))
    if not formats:
        click.echo(people_render.render(showing, fmt), nl=False)
    for out, out_fmt in formats:
        write_out(out, people_render.render(showing, out_fmt))
        click.echo(f"wrote {out}", err=True)


@person.command("remove")
@connection_options
@for_each_domain
@click.argument("address", required=False)
@click.option(
    "--replace-with",
    metavar="NEW",
    help="Where ADDRESS is a list's only owner, NEW takes its place (without it, such a"
    " list refuses the whole removal, naming every one).",
)
@click.option(
    "--ban",
    type=click.Choice(["lists", "global"]),
    is_flag=False,
    flag_value="lists",
    default=None,
    help="Ban ADDRESS on each list it leaves; '--ban global' bans it site-wide.",
)
@click.option(
    "--erase",
    is_flag=True,
    help="Right to erasure: after the rest, delete the address from Mailman (and its user"
    " when no other address remains); says what REST cannot reach.",
)
@click.option("--only-private", is_flag=True, help="Only lists that are not public.")
@click.option(
    "--commit",
    "commit",
    is_flag=True,
    help="Commit the edited list files on a new branch, ready for a merge request.",
)
@click.option("--yes", "-y", is_flag=True, help="Do not ask for confirmation.")
@click.option(
    "--out",
    type=click.Path(dir_okay=False, path_type=Path),
    help="Write the plan to FILE (JSON) for review instead of applying it.",
)
@click.option(
    "--plan",
    "plan_file",
    type=click.Path(exists=True, dir_okay=False, path_type=Path),
    help="Apply the removal saved in FILE (from --out): planned again, and applied only"
    " if that is exactly the plan recorded. Takes no ADDRESS nor other options.",
)
@redact_option
@pass_context
def remove(
    obj: Context,
    conn: Connection,
    address: str,
    replace_with: str | None,
    ban: str | None,
    erase: bool,
    only_private: bool,
    commit: bool,
    yes: bool,
    out: Path | None,
    plan_file: Path | None,
    redact: bool,
) -> None:
    """Remove ADDRESS everywhere: from the list files, and from Mailman where no file
    manages it (memberships, roles on lists no file declares).

    Shows one plan (the file edits and the Mailman operations), asks, then
    applies the operations and writes the files; the roles the files name
    change in Mailman when the pipeline applies the merged files, so the
    scheduled apply never puts back what was removed.

    \b
    Examples:
      listsync person remove alice@example.org
      listsync person remove alice@example.org --replace-with bob@example.org --commit
      listsync person remove alice@example.org --ban global --erase --yes
      listsync person remove alice@example.org --replace-with bob@example.org --out rm.json
      listsync person remove --plan rm.json
    """
    from datetime import UTC, datetime

    from listsync import render, results, run
    from listsync.errors import keep_addresses

    backend = conn.backend()
    options = run.RemovalOptions(
        replace_with=replace_with,
        ban=ban == "lists",
        ban_global=ban == "global",
        erase=erase,
        only_private=only_private,
    )
    chosen = replace_with or ban or erase or only_private or address
    if plan_file is not None and (chosen or out):
        raise ListsyncError(
            "--plan FILE takes no ADDRESS nor removal options: the saved plan fixes them"
        )
    with run.exclusive(backend, obj.root, None):
        if plan_file is not None:
            removal = run.replan_removal(
                obj.root, plan_file, backend, redact=redact, warn=warn, domain=obj.domain
            )
        elif address:
            removal = run.plan_removal(
                obj.root,
                address,
                backend,
                options,
                redact_addresses=redact,
                warn=warn,
                domain=obj.domain,
            )
        else:
            raise ListsyncError("name the ADDRESS to remove (or --plan FILE)")
        keep_addresses([removal.address])
        text = render.to_text(removal.plan)
        edits = [visible(line) for line in removal.edits.lines()] or ["(no list file names it)"]
        shown = "list files:\n" + "".join(f"    {line}\n" for line in edits) + "\n" + text
        click.echo(removal.shown(shown), nl=False)
        if out is not None:
            write_out(out, removal.saved())
            say(f"wrote {out}: apply it with 'listsync person remove --plan {out}'", err=True)
            return
        if not removal.has_changes:
            return
        if plan_file is None:
            confirm(yes, backend.url)
        branch = f"person-remove-{datetime.now(UTC):%Y%m%d-%H%M%S}" if commit else None
        outcome = run.apply_removal(removal, backend, branch=branch, on_interrupt=say_interrupted)
    for path in outcome.written:
        say(f"edited {path}")
    for path in outcome.in_submodules:
        say(
            f"{path} is in a git submodule: commit and push its change in the submodule's"
            " repository (not committed here), then its new commit in this one",
            err=True,
        )
    if outcome.commit is not None:
        say(f"committed on branch {branch} ({outcome.commit[:7]}): push it for a merge request")
    *lines, summary = results.applied_lines(outcome.applied)
    for line in lines:
        say(line, err=True)
    say(summary)
    if removal.options.erase and outcome.applied.ok:
        say(ERASURE_REMAINS)
    if not outcome.applied.ok:
        raise SystemExit(EXIT_FAILURE)


ERASURE_REMAINS = (
    "Not reachable over Mailman's REST API: the messages in HyperKitty's archives (they"
    " keep the sender's address and name), Postorius' and Django's account of the address,"
    " and mail in Mailman's queues; see the runbook's SQL procedure for the archive"
    " (README: Offboarding)."
)
