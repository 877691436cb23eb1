"""Policy over plans: a site's Rego rules, evaluated against a plan's JSON.

Owns `listsync check-policy`'s work: reading a plan's JSON (`listsync plan
--format json`, or a saved plan, `--out plan.json`), the labels a change
carries, the policy files of a directory, and their verdict. The rules
follow conftest's convention: every `*.rego` file under the directory
(subdirectories too) is one module of one policy, and each message in
`data.main.deny` is a denial (`package main`, `deny contains msg if {...}`;
the older `deny[msg] {...}` also counts, by its keys). The engine is
rego-cpp through `regopy`, an optional extra (`listsync-mailman[policy]`).

The policy's `input` is `{"plan": <the plan JSON>, "labels": [<label>, ...]}`:
the plan as it was written (its flat `resource_changes` above all, see
README.md, "Policy over plans"), and the labels of the merge request, from
`--label`, `LISTSYNC_LABELS` and GitLab's `CI_MERGE_REQUEST_LABELS` (each
comma-separated). A policy that does not compile is an error naming its
file; so is a directory without a rule `deny` in `package main`, so that a
mistyped package never passes by saying nothing.
"""

from __future__ import annotations

import contextlib
import ctypes
import importlib
import json
import os
import re
import sys
import tempfile
from collections.abc import Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from listsync.errors import ListsyncError

POLICY_DIR = "policy"
QUERY = "data.main.deny"
LABEL_VARIABLES = ("LISTSYNC_LABELS", "CI_MERGE_REQUEST_LABELS")
INSTALL_HINT = "pip install 'listsync-mailman[policy]'"


class PolicyError(ListsyncError):
    """The plan, a policy file or the engine cannot be used: nothing was decided."""


@dataclass(frozen=True, slots=True)
class Verdict:
    """What the policies said of one plan: each denial's message, in order."""

    files: tuple[str, ...]
    denials: tuple[str, ...]

    @property
    def ok(self) -> bool:
        return not self.denials


def labels_from(options: Iterable[str], environ: Mapping[str, str]) -> list[str]:
    """The change's labels: `--label` values, then `LISTSYNC_LABELS` and
    `CI_MERGE_REQUEST_LABELS` (comma-separated), each once, blanks dropped."""
    found: list[str] = []
    for text in (*options, *(environ.get(name, "") for name in LABEL_VARIABLES)):
        for label in text.split(","):
            label = label.strip()
            if label and label not in found:
                found.append(label)
    return found


def read_plan(path: Path) -> dict[str, Any]:
    """A plan's JSON from `path`, with its `resource_changes`."""
    try:
        text = path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        raise PolicyError(f"{path}: cannot read the plan: {exc}") from None
    try:
        data = json.loads(text)
    except json.JSONDecodeError as exc:
        raise PolicyError(f"{path}:{exc.lineno}:{exc.colno}: not JSON: {exc.msg}") from None
    if not isinstance(data, dict) or not isinstance(data.get("resource_changes"), list):
        raise PolicyError(
            f"{path}: not a listsync plan with resource_changes: write it with"
            " 'listsync plan --format json' or 'listsync plan --out FILE.json'"
        )
    return data


def policy_input(plan: Mapping[str, Any], labels: Sequence[str]) -> dict[str, Any]:
    """The document the policies read as `input`."""
    return {"plan": dict(plan), "labels": list(labels)}


def policy_files(directory: Path) -> list[Path]:
    """Every `*.rego` file under `directory`, in a stable order; an error if none."""
    if not directory.is_dir():
        raise PolicyError(f"{directory}: no such policy directory")
    files = sorted(path for path in directory.rglob("*.rego") if path.is_file())
    if not files:
        raise PolicyError(f"{directory}: no policy (*.rego) files")
    return files


def evaluate(plan: Mapping[str, Any], labels: Sequence[str], directory: Path) -> Verdict:
    """Evaluate every policy under `directory` against the plan and labels."""
    files = policy_files(directory)
    sources = {}
    for path in files:
        try:
            sources[_name(path, directory)] = path.read_text(encoding="utf-8")
        except (OSError, UnicodeDecodeError) as exc:
            raise PolicyError(f"{path}: cannot read the policy: {exc}") from None
    result = _query(sources, json.dumps(policy_input(plan, labels)), directory)
    return Verdict(tuple(sources), _messages(result, directory))


def _name(path: Path, directory: Path) -> str:
    """A policy file's name as its errors show it: the directory's name and the path in it."""
    return str(Path(directory.name) / path.relative_to(directory))


def _engine() -> Any:
    try:
        return importlib.import_module("regopy")  # untyped: the engine is Any here
    except ImportError:
        raise PolicyError(
            f"check-policy needs the Rego engine regopy, which is not installed: {INSTALL_HINT}"
        ) from None


_UNDEFINED = object()


def _query(sources: Mapping[str, str], input_json: str, directory: Path) -> Any:
    """`data.main.deny` of the modules `sources` (name -> text) for the input; `_UNDEFINED`
    when no module defines it. A module the engine refuses is a `PolicyError` naming it."""
    regopy = _engine()
    interpreter = regopy.Interpreter()
    interpreter.log_level = regopy.LogLevel.ERROR
    for name, source in sources.items():
        with _engine_output() as said:
            try:
                interpreter.add_module(name, source)
            except regopy.RegoError as exc:
                failure: str | None = _error_messages(str(exc))
            else:
                failure = None
        if failure is not None:
            raise PolicyError(f"{name}: the policy does not compile: {said[0] or failure}")
    interpreter.set_input_term(input_json)
    with _engine_output() as said:
        output, refusal = _run(interpreter)
    if output is None:
        culprits = (
            list(sources)
            if len(sources) == 1
            else [name for name in sources if _fails_alone(name, sources)]
        )
        where = ", ".join(culprits) or f"{directory} (its files together)"
        raise PolicyError(f"{where}: the policy does not compile: {said[0] or refusal}")
    if len(output) == 0 or str(output) == "undefined":
        return _UNDEFINED
    expressions = output.expressions().json()
    return json.loads(expressions)[0] if isinstance(expressions, str) else expressions[0]


def _fails_alone(name: str, sources: Mapping[str, str]) -> bool:
    """Whether one module on its own is refused, to name it when the set is."""
    regopy = _engine()
    interpreter = regopy.Interpreter()
    interpreter.log_level = regopy.LogLevel.NONE
    try:
        interpreter.add_module(name, sources[name])
    except regopy.RegoError:
        return True
    interpreter.set_input_term("{}")
    return _run(interpreter)[0] is None


def _run(interpreter: Any) -> tuple[Any, str]:
    """The query's output, or None and why when the engine refuses the policy (regopy 1.5
    fails to read some of its own error reports as JSON: their text is in the exception)."""
    regopy = _engine()
    try:
        output = interpreter.query(QUERY)
    except regopy.RegoError as exc:
        return None, _error_messages(str(exc))
    except json.JSONDecodeError as exc:
        return None, _error_messages(exc.doc)
    return (output, "") if output.ok() else (None, "the engine refused it")


_ERROR_MESSAGE = re.compile(r"\(errormsg (\d+):")


def _error_messages(report: str) -> str:
    """The messages of an error report in rego-cpp's own notation (`(errormsg 26:...)`,
    the number being the message's length)."""
    messages = [
        report[match.end() : match.end() + int(match.group(1))]
        for match in _ERROR_MESSAGE.finditer(report)
    ]
    return "; ".join(messages) or "the engine refused it"


def _messages(result: Any, directory: Path) -> tuple[str, ...]:
    """The denials of `data.main.deny`: a set's members (`deny contains msg`) or a partial
    object's keys (`deny[msg] {...}` in Rego v1), each a string as written or as JSON."""
    if result is _UNDEFINED:
        raise PolicyError(
            f"{directory}: no rule 'deny' in 'package main': nothing was checked"
            " (see README.md, 'Policy over plans')"
        )
    if isinstance(result, dict):
        items: list[Any] = [key for key, value in result.items() if value is not False]
    elif isinstance(result, list):
        items = result
    else:
        raise PolicyError(f"{directory}: 'deny' is {json.dumps(result)}, not a set of messages")
    return tuple(item if isinstance(item, str) else json.dumps(item) for item in items)


@contextlib.contextmanager
def _engine_output() -> Iterator[list[str]]:
    """What the engine prints on the process's standard output meanwhile (rego-cpp writes
    its errors there, with file:line:col), taken instead of shown: one string in the list."""
    said: list[str] = []
    sys.stdout.flush()
    libc = ctypes.CDLL(None)
    libc.fflush(None)
    saved = os.dup(1)
    with tempfile.TemporaryFile() as sink:
        os.dup2(sink.fileno(), 1)
        try:
            yield said
        finally:
            libc.fflush(None)
            os.dup2(saved, 1)
            os.close(saved)
            sink.seek(0)
            said.append(_engine_errors(sink.read().decode("utf-8", "replace")))


def _engine_errors(text: str) -> str:
    """rego-cpp's error report in one line: each error's message and where it is
    (`this is unclosed at policy/x.rego:2:29`), without the source it quotes."""
    errors: list[str] = []
    message, quoting = "", False
    for line in (line.strip() for line in text.splitlines()):
        if quoting:  # the quoted source, up to its underlining
            quoting = not (line and set(line) == {"~"})
        elif line == "--" or line.startswith("-- "):
            where = line.removeprefix("--").strip()
            error = f"{message} at {where}" if where else message
            if message and error not in errors:
                errors.append(error)
            message, quoting = "", True
        elif line and line != "Errors:" and set(line) != {"-"}:
            message = line
    return "; ".join(errors) or " ".join(text.split())
