"""`--domain` and `--core` on every command, and running a command once per domain.

On a site with one domain a command runs once, as it always has. On a site
with several (`domains:` in listsync.yaml) it runs once per domain that
`--domain`/`--core` choose (`targets.select`), each time with that domain's
config and files and its core's connection, and then:

- what it prints comes under a heading per domain (`# DOMAIN`; Markdown and
  HTML name their domain themselves); JSON on standard output becomes one
  document, `{"domains": [...]}`;
- each `--out FILE` is written once, after every domain: text with a heading
  per domain, Markdown one part after the other, JSON as `{"domains": [...]}` (with the
  `resource_changes` of every domain at the top, for policies), and a path
  holding `{domain}` is written per domain instead (`--out plan-{domain}.json`);
- an error in one domain is reported under its heading and the others go
  on; the exit status is the worst of them (an internal error, then a
  failure, then "changes").
"""

from __future__ import annotations

import contextlib
import functools
import io
import json
from collections.abc import Callable
from pathlib import Path
from typing import Any, TypeVar, cast

import click

from listsync.commands.common import (
    COLLECTED,
    EXIT_BUG,
    EXIT_CHANGES,
    EXIT_FAILURE,
    EXIT_OK,
    Connection,
    Context,
    print_problems,
    say,
    write_out,
)
from listsync.errors import InvalidSiteError, ListsyncError

F = TypeVar("F", bound=Callable[..., Any])
DOMAIN_FIELD = "{domain}"
_SEVERITY = {EXIT_OK: 0, EXIT_CHANGES: 1, EXIT_FAILURE: 2, EXIT_BUG: 3}


def worst(codes: list[int]) -> int:
    """The exit status of several runs: an internal error, then a failure, then changes."""
    return max(codes, key=lambda code: _SEVERITY.get(code, 2), default=EXIT_OK)


def _per_domain(value: Any, domain: str) -> Any:
    """`value` with `{domain}` in its paths filled in."""
    if isinstance(value, Path) and DOMAIN_FIELD in str(value):
        return Path(str(value).replace(DOMAIN_FIELD, domain))
    if isinstance(value, tuple) and any(isinstance(v, Path) for v in value):
        return tuple(_per_domain(v, domain) for v in value)
    return value


def _combined(path: Path, texts: list[tuple[str, str]]) -> str:
    """One file from each domain's text for `path`."""
    suffix = path.suffix.lower()
    if suffix == ".json":
        documents = [json.loads(text) for _, text in texts]
        bundle: dict[str, Any] = {}
        versions = {doc.get("format_version") for doc in documents if isinstance(doc, dict)}
        if len(versions) == 1 and None not in versions:
            bundle["format_version"] = versions.pop()
        bundle["domains"] = documents
        if all(isinstance(doc, dict) and "resource_changes" in doc for doc in documents):
            bundle["resource_changes"] = [
                change for doc in documents for change in doc["resource_changes"]
            ]
        return json.dumps(bundle, indent=2, ensure_ascii=False) + "\n"
    if suffix == ".md":  # each part's own headings name its domain
        return "\n".join(f"{text.rstrip()}\n" for _, text in texts)
    return "\n".join(f"# {heading}\n\n{text.rstrip()}\n" for heading, text in texts)


domain_option = click.option(
    "--domain",
    "domain_names",
    multiple=True,
    metavar="DOMAIN",
    help="Only this domain of a site with several (repeatable).",
)
core_option = click.option(
    "--core",
    "core_name",
    metavar="NAME",
    help="Only the domains on this Mailman core (a name in cores:, or 'default').",
)


def for_each_domain(command: F) -> F:
    """Add `--domain` (repeatable) and `--core`, and run `command` once per domain chosen
    (see the module's docstring)."""

    @domain_option
    @core_option
    @functools.wraps(command)
    def run(*args: Any, domain_names: tuple[str, ...], core_name: str | None, **kwargs: Any) -> Any:
        from listsync.load import load_config
        from listsync.targets import select

        obj = click.get_current_context().find_object(Context)
        if obj is None:  # pragma: no cover - every command runs under the group
            return command(*args, **kwargs)
        targets = select(load_config(obj.root), domain_names, core_name)
        if not targets[0].several:
            obj.domain = None
            return command(*args, **kwargs)
        outs = [
            value
            for value in kwargs.values()
            for value in (value if isinstance(value, tuple) else (value,))
            if isinstance(value, Path)
        ]
        pages = [p for p in outs if p.suffix.lower() in {".html", ".htm"}]
        if len(targets) > 1 and any(DOMAIN_FIELD not in str(p) for p in pages):
            raise ListsyncError(
                "an HTML page shows one domain: write one per domain with"
                " --out 'NAME-{domain}.html', or choose one with --domain"
            )
        gathered: dict[Path, list[tuple[str, str]]] = {}
        printed: list[tuple[str, str]] = []
        as_json = kwargs.get("fmt") == "json"
        headed = kwargs.get("fmt") not in {"json", "markdown", "html"}
        codes: list[int] = []
        for target in targets:
            obj.domain = target.domain
            own = {key: _per_domain(value, target.domain) for key, value in kwargs.items()}
            conn = own.get("conn")
            if isinstance(conn, Connection):
                own["conn"] = conn.for_core(target.core)
            if headed:
                click.secho(f"# {target.heading}", bold=True)
            collected: dict[Path, list[str]] = {}
            token = COLLECTED.set(collected)
            stdout = io.StringIO()
            redirect = contextlib.redirect_stdout(stdout) if as_json else contextlib.nullcontext()
            try:
                with redirect:
                    codes.append(_status(functools.partial(command, *args, **own)))
            finally:
                COLLECTED.reset(token)
            if as_json:
                printed.append((target.domain, stdout.getvalue()))
            for path, written in collected.items():
                gathered.setdefault(path, []).extend((target.heading, t) for t in written)
        obj.domain = None
        for path, texts in gathered.items():
            write_out(path, texts[0][1] if len(texts) == 1 else _combined(path, texts))
        shown = [(heading, text) for heading, text in printed if text.strip()]
        if shown:
            click.echo(_combined(Path("stdout.json"), shown), nl=False)
        status = worst(codes)
        if status != EXIT_OK:
            raise SystemExit(status)
        return None

    return cast(F, run)


def _status(body: Callable[[], Any]) -> int:
    """Run one domain's command; its exit status, its error reported and not raised."""
    try:
        body()
    except SystemExit as exc:
        return exc.code if isinstance(exc.code, int) else EXIT_FAILURE
    except InvalidSiteError as exc:
        print_problems(exc.problems)
        say(f"error: {exc}", err=True)
        return EXIT_FAILURE
    except ListsyncError as exc:
        say(f"error: {exc}", err=True)
        return EXIT_FAILURE
    return EXIT_OK
