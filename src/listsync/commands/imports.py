"""`listsync import`: files for the lists in Mailman that no file declares (and, with
`--members`, the rosters of the private or closed ones)."""

from __future__ import annotations

from pathlib import Path

import click

from listsync.commands.common import (
    EXIT_FAILURE,
    Connection,
    Context,
    connection_options,
    pass_context,
    result_format_option,
    say,
)
from listsync.commands.domains import for_each_domain
from listsync.errors import ListsyncError, scrub


@click.command("import")
@connection_options
@for_each_domain
@click.option(
    "--list",
    "-l",
    "names",
    multiple=True,
    metavar="NAME",
    help="Only this list (repeatable); the others are not read beyond their names.",
)
@click.option(
    "--force",
    is_flag=True,
    help="Overwrite the file (and roster file) of a list named with --list.",
)
@click.option(
    "--members",
    "members_dir",
    type=click.Path(file_okay=False, path_type=Path),
    metavar="DIR",
    help="Write the members of each private or closed list to DIR/NAME.txt (DIR inside the"
    " site; made if missing) and name that file in members_from:. Personal data: never"
    " commit DIR to a public repository.",
)
@result_format_option
@pass_context
def import_command(
    obj: Context,
    conn: Connection,
    names: tuple[str, ...],
    force: bool,
    members_dir: Path | None,
    fmt: str,
) -> None:
    """Write lists/NAME.yaml for the lists in Mailman that no file declares.

    Only reads Mailman. Each file is checked before it is written: right after
    an import, validate passes and plan shows no changes for the imported lists,
    but for the templates served from elsewhere than templates_url (import names
    them), which the first plan moves there, with the same text.

    With --members, a private or closed list's members go to DIR/NAME.txt and its
    file says members_from: that file. Members of public, open lists are left to
    Mailman; a list with no members gets no roster file. The output counts
    members and never shows an address.

    \b
    Examples:
      listsync import
      listsync import --list tor-dev --force
      listsync import --members rosters
    """
    from listsync import results
    from listsync.importer import import_lists
    from listsync.load import load_config

    if force and not names:
        raise ListsyncError(
            "--force needs --list NAME: import overwrites only the files of lists named"
        )
    config = load_config(obj.root).for_domain(obj.domain or "")
    result = import_lists(
        obj.root, config, conn.backend(), names or None, force=force, members_dir=members_dir
    )
    if fmt == "json":
        click.echo(scrub(results.dumps(results.imported(result))), nl=False)
    else:
        for line, to_stderr in results.imported_lines(result):
            say(line, err=to_stderr)
    if not result.ok:
        raise SystemExit(EXIT_FAILURE)
