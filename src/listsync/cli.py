"""The `listsync` command line: parses options, calls one stage, maps results to exit codes.

Commands are thin: each one loads the site, calls the stage that owns the
work and prints its result. Each imports the stages it calls itself, so that
starting listsync (`--version`, `--help`, `validate`) loads only what it
uses. Expected failures are `ListsyncError`s and end as one line on stderr
with exit status 1; the core never calls `sys.exit`.
"""

from __future__ import annotations

import functools
import sys
from collections.abc import Callable, Iterable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, replace
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any, TypeVar, cast

import click
from click.shell_completion import CompletionItem

from listsync.errors import (
    InvalidSiteError,
    ListsyncError,
    Problem,
    Severity,
    hide_addresses,
    register_secret,
    scrub,
)
from listsync.escaping import visible, visible_lines

if TYPE_CHECKING:
    from listsync.apply import ApplyResult, ListResult
    from listsync.importer import ImportResult
    from listsync.load import Site
    from listsync.mailman import MailmanBackend
    from listsync.plan import Plan
    from listsync.reconcile import Scope

DISTRIBUTION = "listsync-mailman"  # the name pip knows listsync by (pyproject.toml)
EXIT_OK = 0
EXIT_FAILURE = 1
EXIT_CHANGES = 2
EXIT_BUG = 3

# What the options offer, spelled out here rather than taken from render, lifecycle,
# catalog and mailman: importing those loads pydantic, requests and git, and every
# command, --version and --help included, would wait for them. tests/test_cli.py
# checks that they agree.
PLAN_FORMATS = ("text", "markdown", "json")
REPORT_FORMATS = ("text", "markdown", "json")
REPORT_SECTIONS = ("inactive", "new", "ownerless", "unmanaged")
CATALOG_FORMATS = ("markdown", "html", "json")
DEFAULT_TIMEOUT = 30.0
DEFAULT_RETRIES = 3


class Context:
    def __init__(self, root: Path, *, color: bool = True) -> None:
        self.root = root
        self.color = color


pass_context = click.make_pass_decorator(Context)

WORKFLOW = (
    "validate",
    "plan",
    "apply",
    "check-templates",
    "import",
    "render",
    "report",
    "snapshot",
    "schema",
)


class WorkflowGroup(click.Group):
    """Commands in the order a listmaster uses them, not alphabetically."""

    def list_commands(self, ctx: click.Context) -> list[str]:
        ranks = {name: rank for rank, name in enumerate(WORKFLOW)}
        return sorted(self.commands, key=lambda name: (ranks.get(name, len(ranks)), name))


@click.group(cls=WorkflowGroup, context_settings={"help_option_names": ["-h", "--help"]})
@click.option(
    "--root",
    type=click.Path(file_okay=False, path_type=Path),
    default=Path(),
    show_default=True,
    help="The site: the directory holding listsync.yaml and lists/.",
)
@click.option(
    "--no-color",
    is_flag=True,
    help="Plain plans on a terminal too (also: the NO_COLOR environment variable).",
)
@click.option("--debug", is_flag=True, help="On an internal error, print the traceback.")
@click.version_option(package_name=DISTRIBUTION)
@click.pass_context
def cli(ctx: click.Context, root: Path, no_color: bool, debug: bool) -> None:
    """Keep GNU Mailman 3 mailing lists as code.

    Run it in a site (listsync.yaml and lists/) or name one with --root.
    The usual day: validate, plan, apply (or a merge request that does both).

    \b
    Shell completion (list names for --list too), e.g. in ~/.bashrc:
      eval "$(_LISTSYNC_COMPLETE=bash_source listsync)"
    (zsh_source for zsh, fish_source for fish)
    """
    site_root = root.resolve()
    ctx.obj = Context(site_root, color=not no_color)
    hide_addresses(lambda: _site_redacts(site_root))


def _site_redacts(root: Path) -> bool:
    """Whether the site asks for redaction (`redact_addresses`), for what is printed before
    a command has loaded the site (`_redacting` then decides)."""
    from listsync.load import load_config

    try:
        return load_config(root).redact_addresses
    except ListsyncError:
        return False


def _echo_plan(obj: Context, text: str, *, err: bool = False) -> None:
    """A text plan for people: on a terminal, creations green, updates yellow, removals red."""
    from rich.console import Console
    from rich.text import Text

    from listsync.render import line_style

    console = Console(
        stderr=err, highlight=False, markup=False, emoji=False, no_color=not obj.color or None
    )
    if not console.is_terminal or console.no_color or console.color_system is None:
        click.echo(text, nl=False, err=err)
        return
    for line in text.splitlines():
        console.print(Text(line, style=line_style(line) or ""), soft_wrap=True)


def _complete_list_names(
    ctx: click.Context, param: click.Parameter, incomplete: str
) -> list[CompletionItem]:
    """The names of the site's list files, for `--list`."""
    from listsync.load import list_file_paths

    root = ctx.find_root().params.get("root") or Path()
    names = sorted(path.stem for path in list_file_paths(Path(root)))
    return [CompletionItem(name) for name in names if name.startswith(incomplete)]


def _print_problems(problems: list[Problem]) -> tuple[int, int]:
    for problem in problems:
        click.echo(visible(scrub(str(problem))), err=problem.severity is Severity.WARNING)
    errors = sum(1 for p in problems if p.severity is Severity.ERROR)
    return errors, len(problems) - errors


F = TypeVar("F", bound=Callable[..., Any])


def format_option(
    choices: Iterable[str], help_text: str, default: str = "text"
) -> Callable[[F], F]:
    """`--format`, into `fmt`."""
    return click.option(
        "--format",
        "fmt",
        type=click.Choice(list(choices)),
        default=default,
        show_default=True,
        help=help_text,
    )


def outs_option(help_text: str) -> Callable[[F], F]:
    """`--out FILE`, repeatable, into `outs`."""
    return click.option(
        "--out",
        "outs",
        multiple=True,
        type=click.Path(dir_okay=False, path_type=Path),
        help=help_text,
    )


result_format_option = format_option(
    ("text", "json"),
    "Text for people, or one JSON document on standard output (README: Results as JSON).",
)


@cli.command()
@result_format_option
@pass_context
def validate(obj: Context, fmt: str) -> None:
    """Check every list file and listsync.yaml; report every problem.

    \b
    Examples:
      listsync validate
      listsync validate --format json
    """
    from listsync import results
    from listsync.load import check_site

    files, problems = check_site(obj.root)
    if fmt == "json":
        document = results.validation(files, problems)
        click.echo(scrub(results.dumps(document)), nl=False)
        errors = document["errors"]
    else:
        errors, warnings = _print_problems(problems)
        click.echo(f"{files} valid list file(s), {errors} error(s), {warnings} warning(s)")
    if errors:
        raise SystemExit(EXIT_FAILURE)


@cli.command("schema")
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


@dataclass(frozen=True)
class Connection:
    """How to reach Mailman, from options or the environment."""

    url: str | None
    user: str | None
    password: str | None
    timeout: float
    retries: int

    def backend(self) -> MailmanBackend:
        from listsync.mailman import MailmanBackend

        given = (
            ("MAILMAN_REST_URL", self.url),
            ("MAILMAN_REST_USER", self.user),
            ("MAILMAN_REST_PASSWORD", self.password),
        )
        missing = [name for name, value in given if not value]
        if missing or self.url is None or self.user is None or self.password is None:
            raise ListsyncError(
                f"no Mailman connection: set {', '.join(missing)}"
                " (or pass --mailman-url/--user/--password)"
            )
        register_secret(self.password)
        return MailmanBackend(
            self.url, self.user, self.password, timeout=self.timeout, attempts=self.retries + 1
        )


def connection_options(command: F) -> F:
    """--mailman-url/--user/--password/--timeout/--retries, gathered into `conn`."""
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
            "--timeout",
            envvar="LISTSYNC_TIMEOUT",
            type=click.FloatRange(min=0.1),
            default=DEFAULT_TIMEOUT,
            show_default=True,
            help="Seconds to wait for each answer from Mailman [env LISTSYNC_TIMEOUT]",
        ),
        click.option(
            "--retries",
            envvar="LISTSYNC_RETRIES",
            type=click.IntRange(min=0),
            default=DEFAULT_RETRIES,
            show_default=True,
            help="Retries, with backoff, after a connection error or 502/503/504"
            " [env LISTSYNC_RETRIES]",
        ),
    ]

    @functools.wraps(command)
    def gather(
        *args: Any,
        mailman_url: str | None,
        user: str | None,
        password: str | None,
        timeout: float,
        retries: int,
        **kwargs: Any,
    ) -> Any:
        conn = Connection(mailman_url, user, password, timeout, retries)
        return command(*args, conn=conn, **kwargs)

    wrapped: Any = gather
    for option in reversed(options):
        wrapped = option(wrapped)
    return cast(F, wrapped)


names_option = click.option(
    "--list",
    "-l",
    "names",
    multiple=True,
    metavar="NAME",
    shell_complete=_complete_list_names,
    help="Only this list (repeatable); other lists are not read.",
)


def write_out(out: Path, text: str) -> None:
    """Write a command's output file, or fail with one line saying why."""
    try:
        out.write_text(text, encoding="utf-8")
    except OSError as exc:
        raise ListsyncError(f"cannot write {out}: {exc.strerror or exc}") from None


redact_option = click.option(
    "--redact",
    is_flag=True,
    help="Print addresses as a***@example.org (also: redact_addresses in listsync.yaml).",
)


def _redacting(site: Site, redact: bool) -> bool:
    """Whether this run masks addresses (--redact or redact_addresses); if so, everywhere."""
    hidden = redact or site.config.redact_addresses
    hide_addresses(hidden)
    return hidden


def _as_shown(the_plan: Plan, hidden: bool) -> Plan:
    from listsync import render

    return render.redacted(the_plan) if hidden else the_plan


FORCE_ROUTE = (
    "review it and pass --force to apply it anyway"
    " (in the pipeline: the manual apply-force job, for maintainers)"
)


def _with_blast_radius_note(the_plan: Plan, site: Site) -> Plan:
    """The plan, with a note when apply will refuse it without --force."""
    from listsync.plan import unsafe_reason

    safety = site.config.safety
    unsafe = unsafe_reason(the_plan, safety.max_changed_fraction, safety.min_managed_lists)
    if unsafe is None:
        return the_plan
    note = f"{unsafe}: apply refuses it without --force; {FORCE_ROUTE}"
    return replace(the_plan, notes=(*the_plan.notes, note))


def _load(obj: Context, names: tuple[str, ...]) -> Site:
    return _load_selected(obj, names or None)


def _load_selected(obj: Context, names: Iterable[str] | None) -> Site:
    """The valid site with every list (None) or exactly the named ones (maybe none)."""
    from listsync.load import load_valid_site
    from listsync.policy import lint

    site, warnings = load_valid_site(obj.root, names)
    for problem in sorted(warnings + lint(site)):
        click.echo(visible(scrub(str(problem))), err=True)
    return site


OUT_FORMATS = {".md": "markdown", ".json": "json", ".txt": "text"}
RENDER_OUT_FORMATS = {".html": "html", ".htm": "html", ".md": "markdown", ".json": "json"}


def _out_format(
    path: Path, fmt: str, fmt_given: bool, by_suffix: dict[str, str] = OUT_FORMATS
) -> str:
    """A file's format follows its name (a suffix in `by_suffix`), else --format."""
    by_name = by_suffix.get(path.suffix.lower())
    if by_name is None:
        return fmt
    if fmt_given and fmt != by_name:
        raise ListsyncError(f"--out {path} writes {by_name} (by its name), not --format {fmt}")
    return by_name


@cli.command()
@connection_options
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
    from listsync import gitinfo, render, savedplan, snapshot
    from listsync.reconcile import (
        changed_scope,
        explained_plan,
        read_states,
        removal_warnings,
        with_drift_beyond,
    )

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
    # A merge request's plan against a snapshot reads every list (it costs nothing): the
    # apply after the merge repairs drift beyond the changed lists, so the plan shows it.
    with_drift = live_file is not None and scope is not None and scope.names is not None
    read = None if with_drift else selected
    site = _load_selected(obj, read)
    hidden = _redacting(site, redact)
    reader = snapshot.load(live_file) if live_file is not None else conn.backend()
    reading = read_states(site, reader, read)
    warnings: dict[str, str] = {}
    if repo is not None:
        without_file = {*reading.live.unmanaged, *(scope.removed if scope else ())}
        warnings = removal_warnings(repo, reader, site, without_file)
    the_plan = explained_plan(site, reading, scope, repo, uncommitted, warnings)
    if with_drift and scope is not None:
        the_plan = with_drift_beyond(the_plan, scope)
    the_plan = _with_blast_radius_note(the_plan, site)
    if isinstance(reader, snapshot.Snapshot):
        the_plan = replace(the_plan, notes=(reader.age_note(), *the_plan.notes))
    shown = _as_shown(the_plan, hidden)

    if not formats and fmt == "text":
        _echo_plan(obj, render.render_plan(shown, fmt))
    elif not formats:
        click.echo(render.render_plan(shown, fmt), nl=False)
    for out, out_fmt in formats:
        if out_fmt == "json" and isinstance(reader, snapshot.Snapshot):
            write_out(out, render.to_json(shown))  # a plan for review, never a saved plan
        elif out_fmt == "json":
            worktree = savedplan.WorkTree(
                repo.revision() if repo is not None else None, tuple(uncommitted)
            )
            text = savedplan.dumps(the_plan, reading, selected, worktree, redact=hidden)
            write_out(out, text)
        else:
            write_out(out, render.render_plan(shown, out_fmt))
        click.echo(f"wrote {out}: {the_plan.summary()}", err=True)
    if detailed_exitcode and the_plan.has_changes:
        raise SystemExit(EXIT_CHANGES)


@cli.command("report")
@connection_options
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
@click.option("--owner", metavar="ADDRESS", help="Also: every list ADDRESS owns, files vs Mailman.")
@click.option("--moderator", metavar="ADDRESS", help="Also: every list ADDRESS moderates.")
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
    """Inactive, ownerless and forgotten lists, and the lists a person runs.

    Reads what a full plan reads, plus the unmanaged lists' settings and owners.

    \b
    Examples:
      listsync report
      listsync report --format markdown --out report.md --fail-on inactive,ownerless
      listsync report --owner alice@example.org
    """
    from listsync import lifecycle
    from listsync.models import parse_duration

    obj: Context = ctx.obj
    fmt_given = ctx.get_parameter_source("fmt") is not click.core.ParameterSource.DEFAULT
    formats = [(out, _out_format(out, fmt, fmt_given)) for out in outs]
    failing = [s.strip() for s in (fail_on or "").split(",") if s.strip()]
    unknown = sorted(set(failing) - set(REPORT_SECTIONS))
    if unknown:
        raise ListsyncError(
            f"--fail-on {','.join(unknown)}: the sections are {', '.join(REPORT_SECTIONS)}"
        )
    if owner and moderator:
        raise ListsyncError("--owner and --moderator: ask about one role at a time")
    site = _load(obj, ())
    hidden = _redacting(site, redact)
    threshold_text = inactive_after or site.config.lifecycle.inactive_after
    try:
        threshold = parse_duration(threshold_text)
        moment = datetime.fromisoformat(as_of) if as_of else datetime.now(UTC)
    except ValueError as exc:
        raise ListsyncError(f"{exc}") from None
    moment = moment.replace(tzinfo=UTC) if moment.tzinfo is None else moment.astimezone(UTC)
    address, role = (owner, "owner") if owner else (moderator, "moderator")
    the_report = lifecycle.collect(
        site,
        conn.backend(),
        as_of=moment,
        inactive_after=threshold,
        inactive_text=threshold_text,
        person=(address, role) if address else None,
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


@cli.command("snapshot")
@connection_options
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

    config = load_config(obj.root)
    if config.redact_addresses and not include_addresses:
        raise ListsyncError(
            "listsync.yaml says redact_addresses, and a snapshot holds every owner's,"
            " moderator's and banned address: pass --include-addresses once it is stored where only"
            " project members can read it; nothing was written"
        )
    document = snapshot.take(config.domain, conn.backend())
    write_out(out, snapshot.dumps(document))
    click.echo(f"wrote {out}: {len(document['lists'])} list(s) of {config.domain}", err=True)


@cli.command("render")
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
    that answers.

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
        fmt_given = ctx.get_parameter_source("fmt") is not click.core.ParameterSource.DEFAULT
        fmt = _out_format(out, fmt, fmt_given, RENDER_OUT_FORMATS)
    if live_file is not None and templates_out is None:
        raise ListsyncError("--live goes with --templates-out: the list of lists needs no Mailman")
    site = _load(obj, ())
    if templates_out is not None:
        _publish_templates(site, templates_out, conn, live_file)
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
    if live_file is None and not (conn.url or conn.user or conn.password):
        raise ListsyncError(
            "--templates-out publishes the earlier texts Mailman's lists still point at too:"
            " give the Mailman connection (MAILMAN_REST_URL, MAILMAN_REST_USER,"
            " MAILMAN_REST_PASSWORD) or a snapshot with --live FILE; nothing was written"
        )
    source = snapshot.load(live_file) if live_file is not None else conn.backend()
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
        _say(
            f"not published: {url}: only private lists use it ({_named(site, names)});"
            " publish_private_templates in listsync.yaml is false",
            err=True,
        )
    for url, names in pub.unknown.items():
        _say(
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


@contextmanager
def _progress(total: int) -> Iterator[Callable[[ListResult], None]]:
    """A progress bar on a terminal; silence elsewhere (CI logs get the summary)."""
    from rich.console import Console
    from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn

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
    from listsync.mailman import redact_url

    if yes:
        return
    if not sys.stdin.isatty():
        raise ListsyncError("refusing to apply without confirmation: no terminal; pass --yes")
    if not click.confirm(f"Apply these changes to {redact_url(url)}?"):
        raise ListsyncError("apply cancelled; nothing was changed")


def _say(text: str, err: bool = False) -> None:
    """Print a line that may hold what Mailman said: secrets and hidden addresses masked,
    control characters shown as escapes."""
    click.echo(visible(scrub(text)), err=err)


def _report(result: ApplyResult, *, summary_to_stderr: bool = False) -> None:
    """What was applied, what failed and why, what was not started."""
    from listsync.apply import INTERRUPTED
    from listsync.render import change_lines

    started_failures = [r for r in result.failed if r.started]
    for failure in started_failures:
        change = failure.failed_change
        what = ""
        if change is not None:
            what = "; ".join(change_lines(change)) or type(change).__name__
        midway = failure.stopped_midway and failure.applied
        done = f" after {failure.applied} change(s)" if midway else ""
        _say(
            f"failed: {failure.name}{done}: {failure.error}" + (f" [{what}]" if what else ""),
            err=True,
        )
        if failure.skipped and not failure.stopped_midway and failure.applied:
            _say(f"    its other {failure.applied} change(s) were applied", err=True)
        if not failure.stopped_midway:
            continue
        if failure.left_locked_down:
            _say(
                f"    {failure.name} was created but not finished: it is left locked down"
                " (not advertised, emergency moderation, no archive, subscriptions"
                " moderated); the next apply finishes it",
                err=True,
            )
        elif failure.creating:
            _say(
                f"    if Mailman made {failure.name}, it is in its private style (not advertised,"
                " subscriptions moderated, non-members held) with no owner or member;"
                " the next apply finishes it",
                err=True,
            )
    if result.stopped == INTERRUPTED:
        _say("interrupted: no further list was started", err=True)
    if result.not_started:
        waiting = ", ".join(r.name for r in result.not_started)
        _say(f"not started ({result.stopped}): {waiting}", err=True)
    if result.failed:
        _say(f"applied: {', '.join(r.name for r in result.succeeded) or 'none'}", err=True)
        _say("Run 'listsync plan' to see what remains; 'listsync apply' finishes it.", err=True)
    names = ", ".join(r.name for r in started_failures)
    summary = f"Applied {len(result.succeeded)} list(s), {len(started_failures)} failed"
    summary += f": {names}" if names else ""
    if result.not_started:
        summary += f", {len(result.not_started)} not started"
    _say(summary + ".", err=summary_to_stderr)


@cli.command()
@connection_options
@names_option
@click.option("--yes", "-y", is_flag=True, help="Do not ask for confirmation.")
@click.option(
    "--force",
    is_flag=True,
    help="Apply even when the plan changes more lists than safety.max_changed_fraction.",
)
@click.option(
    "--require-tip",
    metavar="REF",
    help="Refuse unless the work tree is clean and at REF's commit, e.g. origin/main"
    " (fetched first): an older revision is never applied over a newer one.",
)
@redact_option
@result_format_option
@click.argument(
    "plan_file",
    metavar="[FILE]",
    required=False,
    type=click.Path(exists=True, dir_okay=False, path_type=Path),
)
@pass_context
def apply(
    obj: Context,
    conn: Connection,
    names: tuple[str, ...],
    yes: bool,
    force: bool,
    require_tip: str | None,
    redact: bool,
    fmt: str,
    plan_file: Path | None,
) -> None:
    """Plan, show the plan, confirm, and apply it to Mailman.

    With FILE, apply that saved plan (from 'listsync plan --out FILE.json')
    without asking: the saved plan is what was reviewed. Its lists are
    planned again from the files and Mailman, and it is applied only if
    that plan is exactly the one recorded; it is refused when the work tree
    is at another revision, when Mailman changed one of its lists since,
    or when the file was edited.

    \b
    Examples:
      listsync apply
      listsync apply --list tor-dev --yes
      listsync apply plan.json --require-tip origin/main
    """
    from listsync import render, results
    from listsync.apply import apply_lock, apply_plan
    from listsync.mailman_templates import domain_base_url
    from listsync.plan import unsafe_reason
    from listsync.reconcile import compute_plan

    if plan_file is not None and names:
        raise ListsyncError("a saved plan fixes its lists: --list does not go with FILE")
    as_json = fmt == "json"
    if as_json and not yes and plan_file is None:
        raise ListsyncError(
            "--format json needs --yes (or a saved plan): nobody can answer a prompt"
        )
    backend = conn.backend()
    with apply_lock(backend.url, obj.root):
        if require_tip is not None:
            _check_tip(obj, require_tip)
        if plan_file is not None:
            site, the_plan, hidden = _committed_plan(obj, plan_file, backend, redact)
        else:
            site = _load(obj, names)
            hidden = _redacting(site, redact)
            the_plan = compute_plan(site, backend, names or None)
        shown = _as_shown(the_plan, hidden)
        _echo_plan(obj, render.to_text(shown), err=as_json)
        if not the_plan.has_changes:
            if as_json:
                click.echo(results.dumps(results.applied(shown, None)), nl=False)
            return
        safety = site.config.safety
        unsafe = unsafe_reason(the_plan, safety.max_changed_fraction, safety.min_managed_lists)
        if unsafe is not None and not force:
            raise ListsyncError(f"refusing to apply: {unsafe}; {FORCE_ROUTE}; nothing was changed")
        if plan_file is None:
            _confirm(yes, backend.url)
        else:
            click.echo(f"Applying the saved plan {plan_file}.", err=as_json)
        with _progress(sum(1 for lp in the_plan.lists if lp.changes)) as advance:
            base_url = domain_base_url(site.config.web_root)
            result = apply_plan(
                backend,
                the_plan,
                on_done=advance,
                on_interrupt=_say_interrupted,
                domain_base_url=base_url,
            )
    _report(result, summary_to_stderr=as_json)
    if as_json:
        click.echo(scrub(results.dumps(results.applied(shown, result))), nl=False)
    if not result.ok:
        raise SystemExit(EXIT_FAILURE)


def _say_interrupted() -> None:
    _say("interrupted: no further list starts; the lists under way finish first", err=True)


@cli.command("check-templates")
@connection_options
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

    site = _load(obj, names)
    repo = open_site_repo(site.root)
    history = texts_of(repo.template_versions()) if repo is not None else []
    result = publishing.check(site, conn.backend(), history, names or None)
    for bad in result.unserved:
        _say(f"not served: {bad.why}", err=True)
        _say(f"    used by {', '.join(map(str, bad.uses))}", err=True)
    summary = (
        f"Checked {result.urls} template URL(s) of {result.lists} list(s):"
        f" {len(result.unserved)} not served"
    )
    if result.unserved:
        lists = sorted({use.list for bad in result.unserved for use in bad.uses})
        summary += f" ({', '.join(lists)})"
    _say(summary + ".")
    if not result.ok:
        raise SystemExit(EXIT_FAILURE)


def _check_tip(obj: Context, ref: str) -> None:
    """Refuse unless the work tree is clean and at `ref`'s commit."""
    from listsync import gitinfo

    repo = gitinfo.require_site_repo(obj.root)
    tip, head = repo.resolve(ref), repo.revision()
    if head != tip:
        raise ListsyncError(
            f"refusing to apply: the work tree is at {(head or 'no commit')[:7]}, but {ref} is at"
            f" {tip[:7]}: an older revision is never applied over a newer one (the newer"
            " revision's pipeline applies it); nothing was changed"
        )
    dirty = repo.uncommitted()
    if dirty:
        raise ListsyncError(
            f"refusing to apply: uncommitted changes in {', '.join(dirty)} are not {ref};"
            " nothing was changed"
        )


def _report_import(result: ImportResult) -> None:
    from listsync.importer import Outcome

    for item in result.lists:
        if item.outcome is Outcome.FAILED:
            _say(f"failed: {item.name}: {item.reason}", err=True)
            for line in item.details:
                _say(f"    {line}", err=True)
        else:
            _say(f"{item.outcome.value} {item.path}" + (f": {item.reason}" if item.reason else ""))
    written = len(result.named(Outcome.WRITTEN))
    skipped = len(result.named(Outcome.SKIPPED))
    failed = [item.name for item in result.named(Outcome.FAILED)]
    if not result.lists:
        if result.domain_exists:
            _say(f"Nothing to import: every list of {result.domain} in Mailman has a file.")
        else:
            _say(f"Nothing to import: Mailman has no domain {result.domain}.")
        return
    _say(
        f"Imported {written} list(s) from {result.domain}, {skipped} skipped, "
        f"{len(failed)} failed" + (f": {', '.join(failed)}" if failed else "") + "."
    )


@cli.command("import")
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
        _report_import(result)
    if not result.ok:
        raise SystemExit(EXIT_FAILURE)


def _committed_plan(
    obj: Context, path: Path, backend: MailmanBackend, redact: bool
) -> tuple[Site, Plan, bool]:
    """The plan to apply for a saved plan: planned again, and exactly the one recorded."""
    from listsync import gitinfo, savedplan
    from listsync.load import list_file_paths
    from listsync.reconcile import explained_plan, read_states

    saved = savedplan.load(path)
    repo = gitinfo.open_site_repo(obj.root)
    uncommitted = repo.uncommitted() if repo is not None else ()
    now = savedplan.WorkTree(repo.revision() if repo is not None else None, tuple(uncommitted))
    savedplan.check_worktree(saved, now)
    savedplan.check_selection(saved, (p.stem for p in list_file_paths(obj.root)))
    site = _load_selected(obj, saved.selection)
    hidden = _redacting(site, redact or saved.redacted)
    if site.config.domain != saved.domain:
        raise savedplan.StalePlanError(
            f"{path} plans {saved.domain}; the site's domain is {site.config.domain}"
        )
    reading = read_states(site, backend, saved.selection)
    replanned = explained_plan(site, reading, None, repo, uncommitted)
    savedplan.check_replan(saved, reading, replanned)
    return site, replanned, hidden


def main(argv: list[str] | None = None) -> int:
    """Entry point: run the CLI and return its exit status."""
    args = sys.argv[1:] if argv is None else argv
    hide_addresses(False)
    try:
        status = cli.main(args=args, prog_name="listsync", standalone_mode=False)
    except InvalidSiteError as exc:
        _print_problems(exc.problems)
        click.echo(f"error: {exc}", err=True)
        return EXIT_FAILURE
    except ListsyncError as exc:
        click.echo(visible(scrub(f"error: {exc}")), err=True)
        return EXIT_FAILURE
    except click.exceptions.Abort:
        click.echo("aborted", err=True)
        return EXIT_FAILURE
    except click.ClickException as exc:
        # A usage error is an error (1): 2 means "changes" to --detailed-exitcode.
        exc.show()
        return EXIT_FAILURE
    except SystemExit as exc:
        return exc.code if isinstance(exc.code, int) else EXIT_FAILURE
    except Exception as exc:  # a bug: say so, without secrets, and how to learn more
        if "--debug" in args:
            import traceback

            click.echo(visible_lines(scrub(traceback.format_exc())), err=True)
        click.echo(
            visible(scrub(f"internal error: {type(exc).__name__}: {exc}"))
            + "\nThis is a bug in listsync; rerun with --debug for a traceback and report it.",
            err=True,
        )
        return EXIT_BUG
    return status if isinstance(status, int) else EXIT_OK


if __name__ == "__main__":
    sys.exit(main())
