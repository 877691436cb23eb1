"""`listsync import`: files for the lists in Mailman that no file declares."""

from __future__ import annotations

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
from listsync.errors import ListsyncError, scrub


@click.command("import")
@connection_options
@click.option(
    "--list",
    "-l",
    "names",
    multiple=True,
    metavar="NAME",
    help="Only this list (repeatable); the others are not read beyond their names.",
)
@click.option("--force", is_flag=True, help="Overwrite the file of a list named with --list.")
@result_format_option
@pass_context
def import_command(
    obj: Context,
    conn: Connection,
    names: tuple[str, ...],
    force: bool,
    fmt: str,
) -> None:
    """Write lists/NAME.yaml for the lists in Mailman that no file declares.

    Only reads Mailman. Each file is checked before it is written: right after
    an import, validate passes and plan shows no changes for the imported lists.

    \b
    Examples:
      listsync import
      listsync import --list tor-dev --force
    """
    from listsync import results
    from listsync.importer import import_lists
    from listsync.load import load_config

    if force and not names:
        raise ListsyncError(
            "--force needs --list NAME: import overwrites only the files of lists named"
        )
    config = load_config(obj.root)
    result = import_lists(obj.root, config, conn.backend(), names or None, force=force)
    if fmt == "json":
        click.echo(scrub(results.dumps(results.imported(result))), nl=False)
    else:
        for line, to_stderr in results.imported_lines(result):
            say(line, err=to_stderr)
    if not result.ok:
        raise SystemExit(EXIT_FAILURE)
