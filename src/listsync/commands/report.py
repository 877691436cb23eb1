"""`listsync report` and `listsync snapshot`: what Mailman holds, for people and for review."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

import click

from listsync.commands.common import (
    EXIT_CHANGES,
    REPORT_FORMATS,
    REPORT_SECTIONS,
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
    write_out,
)
from listsync.commands.domains import for_each_domain
from listsync.errors import ListsyncError


@click.command("report")
@connection_options
@for_each_domain
@format_option(REPORT_FORMATS, "Text, Markdown tables (an issue or a wiki page), or JSON.")
@outs_option(
    "Write the report to FILE (repeatable); the format follows the name (.md, .json, .txt)."
)
@click.option(
    "--inactive-after",
    metavar="DURATION",
    help="No post for longer than this is inactive ('18 months', '2 weeks', '3600 seconds');"
    " default: lifecycle.inactive_after in listsync.yaml.",
)
@click.option(
    "--as-of",
    metavar="TIME",
    help="Judge activity as of this time (ISO 8601, UTC unless it says), not now.",
)
@click.option(
    "--owner",
    metavar="ADDRESS",
    help="Only ADDRESS's section: each list of the domain it owns, by the files or by Mailman,"
    " one a line with what the report says of it (every place: 'person show').",
)
@click.option(
    "--moderator", metavar="ADDRESS", help="Only ADDRESS's section: each list it moderates."
)
@click.option(
    "--fail-on",
    metavar="SECTIONS",
    help="Exit 2 when any of these sections is not empty: "
    + ",".join(REPORT_SECTIONS)
    + " (comma-separated), so a schedule can notify.",
)
@redact_option
@click.pass_context
def report_command(
    ctx: click.Context,
    conn: Connection,
    fmt: str,
    outs: tuple[Path, ...],
    inactive_after: str | None,
    as_of: str | None,
    owner: str | None,
    moderator: str | None,
    fail_on: str | None,
    redact: bool,
) -> None:
    """Inactive, never used, empty, ownerless and forgotten lists, and the lists a person runs.

    Reads what a full plan reads, plus the unmanaged lists' settings and owners.

    \b
    Examples:
      listsync report
      listsync report --format markdown --out report.md --fail-on inactive,never_posted,ownerless
      listsync report --owner alice@example.org
    """
    from listsync import lifecycle, people
    from listsync.errors import keep_addresses
    from listsync.models import parse_duration
    from listsync.run import hiding

    obj: Context = ctx.obj
    fmt_given = format_given(ctx)
    formats = [(out, out_format(out, fmt, fmt_given)) for out in outs]
    failing = [s.strip() for s in (fail_on or "").split(",") if s.strip()]
    unknown = sorted(set(failing) - set(REPORT_SECTIONS))
    if unknown:
        raise ListsyncError(
            f"--fail-on {','.join(unknown)}: the sections are {', '.join(REPORT_SECTIONS)}"
        )
    if owner and moderator:
        raise ListsyncError("--owner and --moderator: ask about one role at a time")
    if (owner or moderator) and failing:
        raise ListsyncError(
            "--fail-on judges the site's report; --owner/--moderator show one person's lists"
        )
    asked = owner or moderator
    subject = people.normalise(asked) if asked else None
    if subject is not None:
        keep_addresses([subject])
    site = load_site(obj, ())
    hidden = hiding(site, redact)
    threshold_text = inactive_after or site.config.lifecycle.inactive_after
    try:
        threshold = parse_duration(threshold_text)
        moment = datetime.fromisoformat(as_of) if as_of else datetime.now(UTC)
    except ValueError as exc:
        raise ListsyncError(f"{exc}") from None
    moment = moment.replace(tzinfo=UTC) if moment.tzinfo is None else moment.astimezone(UTC)
    if subject is not None:
        runs = lifecycle.collect_person(
            site,
            conn.backend(),
            subject,
            "owner" if owner else "moderator",
            as_of=moment,
            inactive_after=threshold,
            inactive_text=threshold_text,
        )
        shown_person = lifecycle.redacted_person(runs) if hidden else runs
        if not formats:
            click.echo(lifecycle.render_person(shown_person, site.config.domain, fmt), nl=False)
        for out, out_fmt in formats:
            write_out(out, lifecycle.render_person(shown_person, site.config.domain, out_fmt))
            click.echo(f"wrote {out}", err=True)
        return
    the_report = lifecycle.collect(
        site,
        conn.backend(),
        as_of=moment,
        inactive_after=threshold,
        inactive_text=threshold_text,
    )
    shown = lifecycle.redacted(the_report) if hidden else the_report
    if not formats:
        click.echo(lifecycle.render(shown, fmt), nl=False)
    for out, out_fmt in formats:
        write_out(out, lifecycle.render(shown, out_fmt))
        click.echo(f"wrote {out}", err=True)
    flagged = [name for name in the_report.non_empty() if name in failing]
    if flagged:
        click.echo(f"report: not empty: {', '.join(flagged)}", err=True)
        raise SystemExit(EXIT_CHANGES)


@click.command("snapshot")
@connection_options
@for_each_domain
@click.option(
    "--out",
    type=click.Path(dir_okay=False, path_type=Path),
    required=True,
    help="The snapshot file to write (JSON).",
)
@click.option(
    "--include-addresses",
    is_flag=True,
    help="Write it even though listsync.yaml says redact_addresses (the file holds addresses:"
    " store it where only project members can read it).",
)
@pass_context
def snapshot_command(obj: Context, conn: Connection, out: Path, include_addresses: bool) -> None:
    """Write Mailman's state of the site's domain to a file, for 'plan --live FILE'.

    Only reads Mailman. The file holds every list of the domain with its
    settings (not the secret ones), owners, moderators, bans, template URLs,
    header filters and the non-members with an action: whoever may read it
    learns them. Merge-request pipelines plan against it without any
    credential.

    \b
    Example:
      listsync snapshot --out mailman-snapshot.json
    """
    from listsync import snapshot
    from listsync.load import load_config

    config = load_config(obj.root).for_domain(obj.domain or "")
    if config.redact_addresses and not include_addresses:
        raise ListsyncError(
            "listsync.yaml says redact_addresses, and a snapshot holds every owner's,"
            " moderator's and banned address: pass --include-addresses once it is stored where only"
            " project members can read it; nothing was written"
        )
    document = snapshot.take(config.domain, conn.backend())
    write_out(out, snapshot.dumps(document))
    click.echo(f"wrote {out}: {len(document['lists'])} list(s) of {config.domain}", err=True)
