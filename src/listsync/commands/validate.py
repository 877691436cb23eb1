"""`listsync validate` and `listsync schema`: the files checked, the JSON Schema written."""

from __future__ import annotations

import click

from listsync.commands.common import (
    EXIT_FAILURE,
    Context,
    pass_context,
    print_problems,
    result_format_option,
)
from listsync.commands.domains import core_option, domain_option
from listsync.errors import scrub


@click.command()
@result_format_option
@domain_option
@core_option
@pass_context
def validate(obj: Context, fmt: str, domain_names: tuple[str, ...], core_name: str | None) -> None:
    """Check every list file and listsync.yaml; report every problem.

    \b
    Examples:
      listsync validate
      listsync validate --format json
    """
    from listsync import results
    from listsync.load import check_site, load_config
    from listsync.targets import select

    domains = None
    if domain_names or core_name:
        domains = [t.domain for t in select(load_config(obj.root), domain_names, core_name)]
    files, problems = check_site(obj.root, domains)
    if fmt == "json":
        document = results.validation(files, problems)
        click.echo(scrub(results.dumps(document)), nl=False)
        errors = document["errors"]
    else:
        errors, warnings = print_problems(problems)
        click.echo(f"{files} valid list file(s), {errors} error(s), {warnings} warning(s)")
    if errors:
        raise SystemExit(EXIT_FAILURE)


@click.command("schema")
@click.option("--check", is_flag=True, help="Only report stale files; exit 1 if any.")
@pass_context
def schema_command(obj: Context, check: bool) -> None:
    """Write schema/*.json from the models (the checked-in JSON Schema).

    \b
    Examples:
      listsync schema
      listsync schema --check
    """
    from listsync import schema

    if check:
        stale = schema.stale_files(obj.root)
        for name in stale:
            click.echo(f"{schema.SCHEMA_DIR}/{name} is stale: run 'listsync schema'")
        if stale:
            raise SystemExit(EXIT_FAILURE)
        return
    for name in schema.write(obj.root):
        click.echo(f"wrote {schema.SCHEMA_DIR}/{name}")
