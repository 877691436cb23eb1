"""Results as JSON: what `validate`, `apply` and `import` did, for bots and pipelines.

Owns the machine-readable results (`--format json`), each a versioned
document (`format_version` 1, documented in README.md) like the plan JSON:
a bot that posts a merge-request note or opens a drift issue reads these
instead of scraping text. Fields are only ever added within a version.
Written with `escaping.json_text`: no control or bidi character is printed raw.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import TYPE_CHECKING, Any

from listsync.errors import Problem
from listsync.escaping import json_text
from listsync.render import to_json_data

if TYPE_CHECKING:
    from listsync.apply import ApplyResult
    from listsync.importer import ImportResult
    from listsync.plan import Plan

FORMAT_VERSION = 1


def dumps(document: dict[str, Any]) -> str:
    return json_text(document, indent=2) + "\n"


def problem_json(problem: Problem) -> dict[str, Any]:
    return {
        "path": problem.path,
        "line": problem.line,
        "column": problem.col,
        "field": problem.field,
        "message": " ".join(problem.message.split()),
        "severity": problem.severity.value,
    }


def validation(valid_files: int, problems: Iterable[Problem]) -> dict[str, Any]:
    found = [problem_json(p) for p in problems]
    errors = sum(1 for p in found if p["severity"] == "error")
    return {
        "format_version": FORMAT_VERSION,
        "valid_files": valid_files,
        "errors": errors,
        "warnings": len(found) - errors,
        "problems": found,
    }


def applied(plan: Plan, result: ApplyResult | None) -> dict[str, Any]:
    """The plan as applied (its JSON) and, per list with changes, what became of it.

    `result` is None when there was nothing to apply.
    """
    lists = []
    for item in result.results if result is not None else ():
        lists.append(
            {
                "name": item.name,
                "ok": item.ok,
                "started": item.started,
                "applied_changes": item.applied,
                "error": item.error,
                "failed_change": None
                if item.failed_change is None
                else item.failed_change.as_json(),
                "left_locked_down": item.left_locked_down,
            }
        )
    return {
        "format_version": FORMAT_VERSION,
        "ok": result is None or result.ok,
        "stopped": None if result is None else result.stopped,
        "applied": sum(1 for item in lists if item["ok"]),
        "failed": sum(1 for item in lists if item["started"] and not item["ok"]),
        "not_started": sum(1 for item in lists if not item["started"]),
        "lists": lists,
        "plan": to_json_data(plan),
    }


def imported(result: ImportResult) -> dict[str, Any]:
    return {
        "format_version": FORMAT_VERSION,
        "domain": result.domain,
        "domain_exists": result.domain_exists,
        "ok": result.ok,
        "lists": [
            {
                "name": item.name,
                "path": item.path,
                "outcome": item.outcome.value,
                "reason": item.reason,
                "details": list(item.details),
            }
            for item in result.lists
        ],
    }
