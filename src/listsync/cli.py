"""The `listsync` command line: parses options, calls one stage, maps results to exit codes.

Commands are thin: each one loads the site, calls the stage that owns the
work and prints its result. Expected failures are `ListsyncError`s and end
as one line on stderr with exit status 1; the core never calls `sys.exit`.
"""

from __future__ import annotations

import sys
from collections.abc import Callable, Iterable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any, TypeVar

import click
from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn

from listsync import gitinfo, render, savedplan, schema
from listsync.apply import ApplyResult, ListResult, apply_plan
from listsync.errors import InvalidSiteError, ListsyncError, Problem, Severity
from listsync.load import Site, load_site, load_valid_site
from listsync.mailman import MailmanBackend, redact_url
from listsync.plan import Plan
from listsync.policy import lint
from listsync.reconcile import Scope, changed_scope, compute_plan, explained_plan, read_states

EXIT_OK = 0
EXIT_FAILURE = 1
EXIT_CHANGES = 2
EXIT_BUG = 3


class Context:
    def __init__(self, root: Path) -> None:
        self.root = root


pass_context = click.make_pass_decorator(Context)


@click.group(context_settings={"help_option_names": ["-h", "--help"]})
@click.option(
    "--root",
    type=click.Path(file_okay=False, path_type=Path),
    default=Path(),
    show_default=True,
    help="The site: the directory holding listsync.yaml and lists/.",
)
@click.version_option(package_name="listsync")
@click.pass_context
def cli(ctx: click.Context, root: Path) -> None:
    """Keep GNU Mailman 3 mailing lists as code."""
    ctx.obj = Context(root.resolve())


def _print_problems(problems: list[Problem]) -> tuple[int, int]:
    for problem in problems:
        click.echo(str(problem), err=problem.severity is Severity.WARNING)
    errors = sum(1 for p in problems if p.severity is Severity.ERROR)
    return errors, len(problems) - errors


@cli.command()
@pass_context
def validate(obj: Context) -> None:
    """Check every list file and listsync.yaml; report every problem."""
    site, problems = load_site(obj.root)
    if site is not None:
        problems = sorted(problems + lint(site))
    errors, warnings = _print_problems(problems)
    files = len(site.lists) if site is not None else 0
    click.echo(f"{files} valid list file(s), {errors} error(s), {warnings} warning(s)")
    if errors:
        raise SystemExit(EXIT_FAILURE)


@cli.command("schema")
@click.option("--check", is_flag=True, help="Only report stale files; exit 1 if any.")
@pass_context
def schema_command(obj: Context, check: bool) -> None:
    """Write schema/*.json from the models (the checked-in JSON Schema)."""
    if check:
        stale = schema.stale_files(obj.root)
        for name in stale:
            click.echo(f"{schema.SCHEMA_DIR}/{name} is stale: run 'listsync schema'")
        if stale:
            raise SystemExit(EXIT_FAILURE)
        return
    for name in schema.write(obj.root):
        click.echo(f"wrote {schema.SCHEMA_DIR}/{name}")


F = TypeVar("F", bound=Callable[..., Any])


def connection_options(command: F) -> F:
    """--mailman-url/--user/--password, from the environment by default."""
    options = [
        click.option(
            "--mailman-url",
            envvar="MAILMAN_REST_URL",
            metavar="URL",
            help="Mailman REST API, e.g. http://localhost:8001/3.1 [env MAILMAN_REST_URL]",
        ),
        click.option(
            "--user",
            envvar="MAILMAN_REST_USER",
            metavar="NAME",
            help="REST admin user [env MAILMAN_REST_USER]",
        ),
        click.option(
            "--password",
            envvar="MAILMAN_REST_PASSWORD",
            metavar="SECRET",
            help="REST admin password [env MAILMAN_REST_PASSWORD]",
        ),
        click.option(
            "--list",
            "-l",
            "names",
            multiple=True,
            metavar="NAME",
            help="Only this list (repeatable); other lists are not read.",
        ),
    ]
    for option in reversed(options):
        command = option(command)
    return command


def _backend(url: str | None, user: str | None, password: str | None) -> MailmanBackend:
    missing = [
        name
        for name, given in (
            ("MAILMAN_REST_URL", url),
            ("MAILMAN_REST_USER", user),
            ("MAILMAN_REST_PASSWORD", password),
        )
        if not given
    ]
    if missing or url is None or user is None or password is None:
        raise ListsyncError(
            f"no Mailman connection: set {', '.join(missing)}"
            " (or pass --mailman-url/--user/--password)"
        )
    return MailmanBackend(url, user, password)


def _load(obj: Context, names: tuple[str, ...]) -> Site:
    return _load_selected(obj, names or None)


def _load_selected(obj: Context, names: Iterable[str] | None) -> Site:
    """The valid site with every list (None) or exactly the named ones (maybe none)."""
    site, warnings = load_valid_site(obj.root, names)
    for problem in sorted(warnings + lint(site)):
        click.echo(str(problem), err=True)
    return site


OUT_FORMATS = {".md": "markdown", ".json": "json", ".txt": "text"}


def _out_format(path: Path, fmt: str, fmt_given: bool) -> str:
    """A file's format follows its name (.md, .json, .txt), else --format."""
    by_name = OUT_FORMATS.get(path.suffix.lower())
    if by_name is None:
        return fmt
    if fmt_given and fmt != by_name:
        raise ListsyncError(f"--out {path} writes {by_name} (by its name), not --format {fmt}")
    return by_name


@cli.command()
@connection_options
@click.option(
    "--format",
    "fmt",
    type=click.Choice(render.FORMATS),
    default="text",
    show_default=True,
    help="Human text, Markdown for merge requests, or JSON.",
)
@click.option(
    "--out",
    "outs",
    multiple=True,
    type=click.Path(dir_okay=False, path_type=Path),
    help="Write the plan to FILE instead of standard output (repeatable). The format follows"
    " the name: .md Markdown, .txt text, .json a saved plan for 'listsync apply FILE'"
    " (the JSON plan plus the git revision and fingerprints of the live lists it changes).",
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
@click.pass_context
def plan(
    ctx: click.Context,
    mailman_url: str | None,
    user: str | None,
    password: str | None,
    names: tuple[str, ...],
    fmt: str,
    outs: tuple[Path, ...],
    changed_since: str | None,
    detailed_exitcode: bool,
) -> None:
    """Show what apply would change in Mailman, without changing anything."""
    obj: Context = ctx.obj
    fmt_given = ctx.get_parameter_source("fmt") is not click.core.ParameterSource.DEFAULT
    formats = [(out, _out_format(out, fmt, fmt_given)) for out in outs]
    repo = gitinfo.open_site_repo(obj.root)
    uncommitted = repo.uncommitted() if repo is not None else ()
    scope: Scope | None = None
    selected: tuple[str, ...] | None = names or None
    if changed_since is not None:
        if names:
            raise ListsyncError("--changed-since and --list both choose the lists: use one")
        repo = repo or gitinfo.require_site_repo(obj.root)
        scope = changed_scope(repo, obj.root, changed_since, uncommitted)
        selected = scope.names
    site = _load_selected(obj, selected)
    backend = _backend(mailman_url, user, password)
    reading = read_states(site, backend, selected)
    the_plan = explained_plan(site, reading, scope, repo, uncommitted)

    if not formats:
        click.echo(render.render_plan(the_plan, fmt), nl=False)
    for out, out_fmt in formats:
        if out_fmt == "json":
            revision = repo.revision() if repo is not None else None
            saved = savedplan.save(the_plan, reading, revision, obj.root, uncommitted)
            out.write_text(savedplan.dumps(saved), encoding="utf-8")
        else:
            out.write_text(render.render_plan(the_plan, out_fmt), encoding="utf-8")
        click.echo(f"wrote {out}: {the_plan.summary()}", err=True)
    if detailed_exitcode and the_plan.has_changes:
        raise SystemExit(EXIT_CHANGES)


@contextmanager
def _progress(total: int) -> Iterator[Callable[[ListResult], None]]:
    """A progress bar on a terminal; silence elsewhere (CI logs get the summary)."""
    console = Console(stderr=True)
    if not console.is_terminal:
        yield lambda result: None
        return
    with Progress(
        TextColumn("applying"), BarColumn(), MofNCompleteColumn(), console=console, transient=True
    ) as bar:
        task = bar.add_task("apply", total=total)
        yield lambda result: bar.advance(task)


def _confirm(yes: bool, url: str) -> None:
    if yes:
        return
    if not sys.stdin.isatty():
        raise ListsyncError("refusing to apply without confirmation: no terminal; pass --yes")
    if not click.confirm(f"Apply these changes to {redact_url(url)}?"):
        raise ListsyncError("apply cancelled; nothing was changed")


def _report(the_plan: Plan, result: ApplyResult) -> None:
    for failure in result.failed:
        change = failure.failed_change
        what = ""
        if change is not None:
            what = "; ".join(render.change_lines(change)) or type(change).__name__
        click.echo(
            f"failed: {failure.name}: {failure.error}" + (f" [{what}]" if what else ""), err=True
        )
    names = ", ".join(r.name for r in result.failed)
    click.echo(
        f"Applied {len(result.succeeded)} list(s), {len(result.failed)} failed"
        + (f": {names}" if names else "")
        + "."
    )


@cli.command()
@connection_options
@click.option("--yes", "-y", is_flag=True, help="Do not ask for confirmation.")
@click.argument(
    "plan_file",
    metavar="[FILE]",
    required=False,
    type=click.Path(exists=True, dir_okay=False, path_type=Path),
)
@pass_context
def apply(
    obj: Context,
    mailman_url: str | None,
    user: str | None,
    password: str | None,
    names: tuple[str, ...],
    yes: bool,
    plan_file: Path | None,
) -> None:
    """Plan, show the plan, confirm, and apply it to Mailman.

    With FILE, apply that saved plan (from 'listsync plan --out FILE.json')
    exactly as recorded, without asking: the saved plan is what was
    reviewed. It is refused when the work tree is at another revision or
    Mailman changed a list it touches since it was made.
    """
    if plan_file is not None:
        if names:
            raise ListsyncError("a saved plan fixes its lists: --list does not go with FILE")
        _apply_saved(obj, plan_file, _backend(mailman_url, user, password))
        return
    site = _load(obj, names)
    backend = _backend(mailman_url, user, password)
    the_plan = compute_plan(site, backend, names or None)
    click.echo(render.to_text(the_plan), nl=False)
    if not the_plan.has_changes:
        return
    _confirm(yes, backend.url)

    with _progress(sum(1 for lp in the_plan.lists if lp.changes)) as advance:
        result = apply_plan(backend, the_plan, on_done=advance)
    _report(the_plan, result)
    if not result.ok:
        raise SystemExit(EXIT_FAILURE)


def _apply_saved(obj: Context, path: Path, backend: MailmanBackend) -> None:
    """Apply a saved plan after checking it still describes the work tree and Mailman."""
    saved = savedplan.load(path)
    repo = gitinfo.open_site_repo(obj.root)
    now = savedplan.WorkTree(
        repo.revision() if repo is not None else None,
        savedplan.file_hashes(obj.root, repo.uncommitted() if repo is not None else ()),
    )
    savedplan.check_worktree(saved, now, str(path))
    site = _load_selected(obj, saved.touched)
    if site.config.domain != saved.plan.domain:
        raise savedplan.StalePlanError(
            f"{path} plans {saved.plan.domain}; the site's domain is {site.config.domain}"
        )
    savedplan.check_live(saved, read_states(site, backend, saved.touched), str(path))
    click.echo(render.to_text(saved.plan), nl=False)
    if not saved.plan.has_changes:
        return
    click.echo(f"Applying the saved plan {path} ({len(saved.touched)} list(s)).")
    with _progress(len(saved.touched)) as advance:
        result = apply_plan(backend, saved.plan, on_done=advance)
    _report(saved.plan, result)
    if not result.ok:
        raise SystemExit(EXIT_FAILURE)


def main(argv: list[str] | None = None) -> int:
    """Entry point: run the CLI and return its exit status."""
    try:
        status = cli.main(args=argv, prog_name="listsync", standalone_mode=False)
    except InvalidSiteError as exc:
        _print_problems(exc.problems)
        click.echo(f"error: {exc}", err=True)
        return EXIT_FAILURE
    except ListsyncError as exc:
        click.echo(f"error: {exc}", err=True)
        return EXIT_FAILURE
    except click.exceptions.Abort:
        click.echo("aborted", err=True)
        return EXIT_FAILURE
    except click.ClickException as exc:
        exc.show()
        return EXIT_FAILURE if exc.exit_code == 1 else exc.exit_code
    except SystemExit as exc:
        return exc.code if isinstance(exc.code, int) else EXIT_FAILURE
    return status if isinstance(status, int) else EXIT_OK


if __name__ == "__main__":
    sys.exit(main())
