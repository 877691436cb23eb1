"""`listsync check-templates`: can Mailman fetch every template text its lists use."""

from __future__ import annotations

import click

from listsync.commands.common import (
    EXIT_FAILURE,
    Connection,
    Context,
    connection_options,
    load_site,
    names_option,
    pass_context,
    say,
)
from listsync.commands.domains import for_each_domain


@click.command("check-templates")
@connection_options
@for_each_domain
@names_option
@pass_context
def check_templates(obj: Context, conn: Connection, names: tuple[str, ...]) -> None:
    """Check that Mailman can fetch every template text of the managed lists.

    Every URL Mailman would fetch for them, the ones their files give them
    and the ones Mailman has now, is fetched once, as Mailman fetches it (5 s
    timeout, the text compared with the repository's where listsync knows
    it). Mailman's own fetch fails silently in the mail: 404 gives an empty
    text, any other error its default text, no answer keeps the mail from
    being sent. Exit 1 when any URL is not served right, naming it and the
    lists that use it. Only reads Mailman.

    \b
    Examples:
      listsync check-templates
      listsync check-templates --list tor-dev
    """
    from listsync import publishing
    from listsync.gitinfo import open_site_repo
    from listsync.mailman_templates import texts_of

    site = load_site(obj, names)
    repo = open_site_repo(site.root)
    history = texts_of(repo.template_versions()) if repo is not None else []
    result = publishing.check(site, conn.backend(), history, names or None)
    for bad in result.unserved:
        say(f"not served: {bad.why}", err=True)
        say(f"    used by {', '.join(map(str, bad.uses))}", err=True)
    summary = (
        f"Checked {result.urls} template URL(s) of {result.lists} list(s):"
        f" {len(result.unserved)} not served"
    )
    if result.unserved:
        lists = sorted({use.list for bad in result.unserved for use in bad.uses})
        summary += f" ({', '.join(lists)})"
    say(summary + ".")
    if not result.ok:
        raise SystemExit(EXIT_FAILURE)
