"""JSON Schema of the file format, generated from the models for `schema/`.

The checked-in files let editors validate list files while typing (through
the `yaml-language-server` modeline). `settings:` is expanded from Mailman's
catalogue so that editors complete and check its keys too.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from listsync import mailman_settings
from listsync.models import ListSpec, SiteConfig

SCHEMA_DIR = "schema"
DIALECT = "https://json-schema.org/draft/2020-12/schema"


def _setting_schema(setting: mailman_settings.Setting) -> dict[str, Any]:
    by_kind: dict[str, dict[str, Any]] = {
        "bool": {"type": "boolean"},
        "int": {"type": "integer", "minimum": 0},
        "float": {"type": "number"},
        "list": {"type": "array", "items": {"type": "string"}},
        "enum": {"enum": list(setting.choices)},
    }
    return by_kind.get(setting.kind, {"type": "string"})


def list_schema() -> dict[str, Any]:
    schema = ListSpec.model_json_schema()
    settings = schema["properties"]["settings"]
    settings["properties"] = {
        name: _setting_schema(mailman_settings.SETTINGS[name])
        for name in sorted(mailman_settings.WRITABLE)
    }
    settings["additionalProperties"] = False
    schema["required"] = ["owners"]
    return {"$schema": DIALECT, "$id": "list.schema.json", **schema}


def site_schema() -> dict[str, Any]:
    return {"$schema": DIALECT, "$id": "site.schema.json", **SiteConfig.model_json_schema()}


def rendered() -> dict[str, str]:
    """File name to content of every schema file."""
    schemas = {"list.schema.json": list_schema(), "site.schema.json": site_schema()}
    return {
        name: json.dumps(body, indent=2, sort_keys=False) + "\n" for name, body in schemas.items()
    }


def stale_files(root: Path) -> list[str]:
    """Schema files under `root/schema` that differ from what the models generate."""
    directory = root / SCHEMA_DIR
    return [
        name
        for name, text in rendered().items()
        if not (directory / name).is_file() or (directory / name).read_text() != text
    ]


def write(root: Path) -> list[str]:
    directory = root / SCHEMA_DIR
    directory.mkdir(exist_ok=True)
    changed = stale_files(root)
    for name, text in rendered().items():
        if name in changed:
            (directory / name).write_text(text)
    return changed
