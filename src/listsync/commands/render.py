"""`listsync render`: the list of lists, and the template texts to publish."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

import click

from listsync.commands.common import (
    CATALOG_FORMATS,
    RENDER_OUT_FORMATS,
    Connection,
    Context,
    connection_options,
    format_given,
    format_option,
    load_site,
    out_format,
    say,
    write_out,
)
from listsync.commands.domains import for_each_domain
from listsync.errors import ListsyncError

if TYPE_CHECKING:
    from listsync.load import Site


@click.command("render")
@format_option(
    CATALOG_FORMATS,
    "Markdown tables, one self-contained HTML page, or JSON for other tools.",
    default="markdown",
)
@click.option(
    "--out",
    type=click.Path(dir_okay=False, path_type=Path),
    help="Write the list of lists to FILE instead of standard output. The format follows"
    " the name: .html or .htm HTML, .md Markdown, .json JSON.",
)
@click.option(
    "--include-private",
    is_flag=True,
    help="Also show private lists (an internal page: never publish it).",
)
@click.option(
    "--templates-out",
    type=click.Path(file_okay=False, path_type=Path),
    help="Also write the template texts in use to DIR under their content-addressed names:"
    " those the files give a list, and the earlier versions Mailman's lists still point at"
    " (read from Mailman, or --live); publish DIR at the site's templates_url.",
)
@click.option(
    "--live",
    "live_file",
    type=click.Path(exists=True, dir_okay=False, path_type=Path),
    help="With --templates-out: the template URLs Mailman's lists point at, from a snapshot"
    " (from 'listsync snapshot') instead of Mailman.",
)
@connection_options
@for_each_domain
@click.pass_context
def render_command(
    ctx: click.Context,
    conn: Connection,
    fmt: str,
    out: Path | None,
    include_private: bool,
    templates_out: Path | None,
    live_file: Path | None,
) -> None:
    """The list of lists from the files alone, and the template texts in use.

    The list of lists needs no Mailman. --templates-out also reads which
    template URLs Mailman's lists point at now (from Mailman, or a
    snapshot with --live), so that a list not yet applied keeps a text
    that answers; alone (no --out, no --format), it writes the texts only.

    \b
    Examples:
      listsync render --out public/index.html
      listsync render --include-private --format markdown
      listsync render --out public/index.html --templates-out public/templates
      listsync render --templates-out public/templates --live mailman-snapshot.json
    """
    from listsync import catalog

    obj: Context = ctx.obj
    if out is not None:
        fmt_given = format_given(ctx)
        fmt = out_format(out, fmt, fmt_given, RENDER_OUT_FORMATS)
    if live_file is not None and templates_out is None:
        raise ListsyncError("--live goes with --templates-out: the list of lists needs no Mailman")
    site = load_site(obj, ())
    if templates_out is not None:
        _publish_templates(site, templates_out, conn, live_file)
        if out is None and not format_given(ctx):
            return  # asked for the texts alone: no list of lists on standard output
    the_catalog = catalog.build(site, include_private=include_private)
    text = catalog.render(the_catalog, fmt)
    if out is None:
        click.echo(text, nl=False)
        return
    write_out(out, text)
    retired = sum(1 for entry in the_catalog.entries if entry.retired)
    which = "private lists included" if include_private else "private lists left out"
    click.echo(
        f"wrote {out}: {len(the_catalog.entries)} list(s), {retired} retired; {which}", err=True
    )


def _publish_templates(site: Site, out: Path, conn: Connection, live_file: Path | None) -> None:
    from listsync import publishing, snapshot
    from listsync.gitinfo import open_site_repo
    from listsync.mailman_templates import texts_of

    if site.config.templates_url is None:
        out.mkdir(parents=True, exist_ok=True)
        click.echo(
            f"no templates_url in listsync.yaml: no template text written to {out}", err=True
        )
        return
    if live_file is None and not conn.given:
        raise ListsyncError(
            "--templates-out publishes the earlier texts Mailman's lists still point at too:"
            " give the Mailman connection (MAILMAN_REST_URL, MAILMAN_REST_USER,"
            " MAILMAN_REST_PASSWORD) or a snapshot with --live FILE; nothing was written"
        )
    domain = site.config.domain
    if site.config.lists_dir != "lists" and domain not in out.as_posix():
        raise ListsyncError(
            "on a site with several domains each publishes its own texts: give a directory"
            " per domain, e.g. --templates-out 'public/templates/{domain}'; nothing was written"
        )
    source = snapshot.load(live_file, domain) if live_file is not None else conn.backend()
    live = publishing.live_states(source, site.config.domain)
    repo = open_site_repo(site.root)
    history = texts_of(repo.template_versions()) if repo is not None else []
    pub = publishing.publication(site, live, history)
    written, removed = publishing.publish(pub, out)
    earlier = len(pub.texts) - pub.current
    gone = f"; removed {len(removed)} no longer in use" if removed else ""
    click.echo(
        f"wrote {len(written)} template text(s) to {out}: {pub.current} the files use,"
        f" {earlier} earlier version(s) Mailman's lists still point at{gone}",
        err=True,
    )
    for url, names in pub.withheld.items():
        say(
            f"not published: {url}: only private lists use it ({_named(site, names)});"
            " publish_private_templates in listsync.yaml is false",
            err=True,
        )
    for url, names in pub.unknown.items():
        say(
            f"warning: {_named(site, names)} point(s) at {url}, below templates_url, but no"
            " version in this revision's history has that text: it is not published here"
            " (run 'listsync check-templates')",
            err=True,
        )


def _named(site: Site, names: tuple[str, ...]) -> str:
    """Lists by name where a file declares them; the others (private ones may be among
    them, and a pipeline's log may be public) only counted."""
    declared = [name for name in names if name in site.lists]
    others = sum(1 for name in names if name not in site.lists)
    return ", ".join([*declared, *([f"{others} list(s) no file declares"] if others else [])])
