"""What several commands share: the context, the Mailman connection, output options and
printing that masks secrets and hidden addresses."""

from __future__ import annotations

import functools
import os
from collections.abc import Callable, Iterable
from contextvars import ContextVar
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any, TypeVar, cast

import click
from click.shell_completion import CompletionItem

from listsync.errors import ListsyncError, Problem, Severity, register_secret, scrub
from listsync.escaping import visible

if TYPE_CHECKING:
    from listsync.load import Site
    from listsync.mailman import MailmanBackend

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
REPORT_SECTIONS = ("inactive", "never_posted", "new", "no_members", "ownerless", "unmanaged")
CATALOG_FORMATS = ("markdown", "html", "json")
DEFAULT_TIMEOUT = 30.0
DEFAULT_RETRIES = 3

OUT_FORMATS = {".md": "markdown", ".json": "json", ".txt": "text"}
COLLECTED: ContextVar[dict[Path, list[str]] | None] = ContextVar("COLLECTED", default=None)
RENDER_OUT_FORMATS = {".html": "html", ".htm": "html", ".md": "markdown", ".json": "json"}


class Context:
    def __init__(self, root: Path, *, color: bool = True) -> None:
        self.root = root
        self.color = color
        self.domain: str | None = None  # the domain a command runs for, on a site with several


pass_context = click.make_pass_decorator(Context)
F = TypeVar("F", bound=Callable[..., Any])


@dataclass(frozen=True)
class Connection:
    """How to reach Mailman, from options or the environment."""

    url: str | None
    user: str | None
    password: str | None
    timeout: float
    retries: int

    variables: tuple[str, str, str] = (
        "MAILMAN_REST_URL",
        "MAILMAN_REST_USER",
        "MAILMAN_REST_PASSWORD",
    )

    @property
    def given(self) -> bool:
        return bool(self.url or self.user or self.password)

    def for_core(self, core: str) -> Connection:
        """The connection of `core` (`targets`): this one for the default core, else
        MAILMAN_<NAME>_REST_URL, ..._USER and ..._PASSWORD."""
        from listsync.targets import connection_variables

        variables = connection_variables(core)
        if variables == self.variables:
            return self
        url, user, password = (os.environ.get(name) or None for name in variables)
        return Connection(url, user, password, self.timeout, self.retries, variables)

    def backend(self) -> MailmanBackend:
        from listsync.mailman import MailmanBackend

        given = tuple(zip(self.variables, (self.url, self.user, self.password), strict=True))
        missing = [name for name, value in given if not value]
        if missing or self.url is None or self.user is None or self.password is None:
            options = (
                " (or pass --mailman-url/--user/--password)"
                if self.variables == Connection.variables
                else ""
            )
            raise ListsyncError(f"no Mailman connection: set {', '.join(missing)}{options}")
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


def _complete_list_names(
    ctx: click.Context, param: click.Parameter, incomplete: str
) -> list[CompletionItem]:
    """The names of the site's list files, for `--list`."""
    from listsync.load import list_file_paths

    root = ctx.find_root().params.get("root") or Path()
    names = sorted(path.stem for path in list_file_paths(Path(root)))
    return [CompletionItem(name) for name in names if name.startswith(incomplete)]


names_option = click.option(
    "--list",
    "-l",
    "names",
    multiple=True,
    metavar="NAME",
    shell_complete=_complete_list_names,
    help="Only this list (repeatable); other lists are not read.",
)

redact_option = click.option(
    "--redact",
    is_flag=True,
    help="Print addresses as a***@example.org (also: redact_addresses in listsync.yaml).",
)


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


def out_format(
    path: Path, fmt: str, fmt_given: bool, by_suffix: dict[str, str] = OUT_FORMATS
) -> str:
    """A file's format follows its name (a suffix in `by_suffix`), else --format."""
    by_name = by_suffix.get(path.suffix.lower())
    if by_name is None:
        return fmt
    if fmt_given and fmt != by_name:
        raise ListsyncError(f"--out {path} writes {by_name} (by its name), not --format {fmt}")
    return by_name


def format_given(ctx: click.Context) -> bool:
    return ctx.get_parameter_source("fmt") is not click.core.ParameterSource.DEFAULT


def write_out(out: Path, text: str) -> None:
    """Write a command's output file, or fail with one line saying why (on a site with
    several domains, `domains.for_each_domain` gathers each domain's text and writes the
    file once they are all done)."""
    collecting = COLLECTED.get()
    if collecting is not None:
        collecting.setdefault(out, []).append(text)
        return
    try:
        out.write_text(text, encoding="utf-8")
    except OSError as exc:
        raise ListsyncError(f"cannot write {out}: {exc.strerror or exc}") from None


def say(text: str, err: bool = False) -> None:
    """Print a line that may hold what Mailman said: secrets and hidden addresses masked,
    control characters shown as escapes."""
    click.echo(visible(scrub(text)), err=err)


def warn(problem: Problem) -> None:
    """Print a finding about the files (a warning, or a lint) on stderr."""
    click.echo(visible(scrub(str(problem))), err=True)


def print_problems(problems: list[Problem]) -> tuple[int, int]:
    for problem in problems:
        click.echo(visible(scrub(str(problem))), err=problem.severity is Severity.WARNING)
    errors = sum(1 for p in problems if p.severity is Severity.ERROR)
    return errors, len(problems) - errors


def load_site(obj: Context, names: tuple[str, ...]) -> Site:
    """The valid site with every list (no names) or the named ones, warnings printed."""
    from listsync.load import load_and_lint

    return load_and_lint(obj.root, names or None, warn, obj.domain)


def echo_plan(obj: Context, text: str, *, err: bool = False) -> None:
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
