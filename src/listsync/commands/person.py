"""`listsync person ...`: one person across the server and the files.

The `person` group holds the commands about one person, each a subcommand
added with `person.add_command` (or `@person.command`): `show` here.
"""

from __future__ import annotations

from pathlib import Path

import click

from listsync.commands.common import (
    REPORT_FORMATS,
    Connection,
    Context,
    connection_options,
    format_given,
    format_option,
    load_site,
    out_format,
    outs_option,
    redact_option,
    write_out,
)


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
