"""Shared test helpers: write a site to disk, run the CLI in-process."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent

SITE_CONFIG = """\
domain: lists.example.org
disabled_owner: devnull@example.org
"""


@dataclass(frozen=True)
class Result:
    status: int
    out: str
    err: str


Run = Callable[..., Result]


def write_site(root: Path, lists: dict[str, str], config: str = SITE_CONFIG) -> Path:
    """A site at `root`: listsync.yaml and lists/NAME.yaml for each entry."""
    (root / "lists").mkdir(parents=True, exist_ok=True)
    (root / "listsync.yaml").write_text(config)
    for name, content in lists.items():
        (root / "lists" / f"{name}.yaml").write_text(content)
    return root
