"""The modules of listsync import one another one way only (pure: reads the source).

A module that imports one importing it back works only in the order Python
happens to load them, and each of the two can no longer be read alone.
Imports under `if TYPE_CHECKING:` count too: the dependency goes one way.
"""

from __future__ import annotations

import ast
from pathlib import Path

from helpers import REPO

PACKAGE = REPO / "src" / "listsync"


def imported_modules(path: Path) -> set[str]:
    """The modules of listsync that the file imports, anywhere in it."""
    found: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.ImportFrom) and node.module == "listsync":
            found.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and (node.module or "").startswith("listsync."):
            found.add(str(node.module).split(".")[1])
        elif isinstance(node, ast.Import):
            found.update(
                alias.name.split(".")[1]
                for alias in node.names
                if alias.name.startswith("listsync.")
            )
    return found - {path.stem}


def import_graph() -> dict[str, set[str]]:
    return {path.stem: imported_modules(path) for path in sorted(PACKAGE.glob("*.py"))}


def reachable(graph: dict[str, set[str]], start: str) -> set[str]:
    seen: set[str] = set()
    pending = list(graph.get(start, ()))
    while pending:
        module = pending.pop()
        if module not in seen:
            seen.add(module)
            pending.extend(graph.get(module, ()))
    return seen


def test_the_graph_is_read() -> None:
    graph = import_graph()
    assert {"policy", "site", "yamlfile"} <= graph["load"]
    assert "site" in graph["policy"]


def test_no_module_imports_one_that_imports_it_back() -> None:
    graph = import_graph()
    circular = sorted(module for module in graph if module in reachable(graph, module))
    assert circular == []


def test_policy_does_not_depend_on_load() -> None:
    assert "load" not in reachable(import_graph(), "policy")
