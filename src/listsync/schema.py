"""JSON Schema of the file format, generated from the models for `schema/`, and of
the plan JSON.

The checked-in files let editors validate list files while typing (through
the `yaml-language-server` modeline). `settings:` is expanded from Mailman's
catalogue so that editors complete and check its keys too. `plan.schema.json`
documents `listsync plan --format json` (and a saved plan, the same with
`saved`) for the tools and policies that read it: its `resource_changes`
exactly, their `type` and `actions` from the change kinds' vocabulary.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from listsync import mailman_settings
from listsync.changes import RESOURCE_ACTIONS, RESOURCE_TYPES
from listsync.models import ListSpec, SiteConfig
from listsync.plan import Action

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


def _object(properties: dict[str, Any], required: list[str] | None = None) -> dict[str, Any]:
    return {
        "type": "object",
        "properties": properties,
        "required": list(properties) if required is None else required,
        "additionalProperties": False,
    }


_STRINGS = {"type": "array", "items": {"type": "string"}}
_NULLABLE_STRING = {"type": ["string", "null"]}


def _resource_change() -> dict[str, Any]:
    """One entry of `resource_changes` (`changes.resource_change`)."""
    entry = _object(
        {
            "address": {
                "type": "string",
                "minLength": 1,
                "description": "LIST@DOMAIN and the part changed, e.g."
                " tor-dev@lists.example.org.settings.description,"
                " ...owners[ADDRESS], ...bans[PATTERN], ...templates[NAME], ...members;"
                " site.bans[PATTERN] and site.addresses[ADDRESS] for the site's.",
            },
            "type": {"enum": list(RESOURCE_TYPES), "description": "What kind of thing changes."},
            "change": _object(
                {
                    "actions": {
                        "type": "array",
                        "items": {"enum": list(RESOURCE_ACTIONS)},
                        "minItems": 1,
                        "maxItems": 1,
                    },
                    "before": {"description": "Its value before the plan; null: none."},
                    "after": {"description": "Its value after the plan; null: none."},
                }
            ),
        }
    )
    entry["description"] = (
        "One change, flat, in Terraform's shape. Addresses are masked in a redacted plan;"
        " a roster's members are named only where the plan's lists name them."
    )
    return entry


def plan_schema() -> dict[str, Any]:
    """The plan JSON (`render.to_json_data`, format_version 1), a saved plan's too."""
    commit = {
        "oneOf": [
            {"type": "null"},
            _object({"hash": {"type": "string"}, "author": {"type": "string"}, "subject": {}}),
        ]
    }
    a_list = _object(
        {
            "name": {"type": "string"},
            "fqdn": {"type": "string"},
            "action": {"enum": [action.value for action in Action]},
            "changes": {
                "type": "array",
                "items": {
                    "type": "object",
                    "properties": {"type": {"type": "string"}},
                    "required": ["type"],
                },
            },
            "commit": commit,
            "uncommitted": {"type": "boolean"},
            "drift": {"type": "boolean"},
            "roster_notes": _STRINGS,
            "roster_refused": {"type": "boolean"},
            "reverts_hand_change": {"const": True},
        },
        required=["name", "fqdn", "action", "changes", "commit", "uncommitted", "drift"],
    )
    body = _object(
        {
            "format_version": {"const": 1},
            "domain": {"type": "string"},
            "scope": {"type": "string"},
            "managed": {"type": "integer", "minimum": 0},
            "notes": _STRINGS,
            "warnings": _STRINGS,
            "create_domain": {"type": "boolean"},
            "has_changes": {"type": "boolean"},
            "templates": {"type": "object", "additionalProperties": {"type": "string"}},
            "summary": _object(
                {action.value: {"type": "integer", "minimum": 0} for action in Action}
            ),
            "lists": {"type": "array", "items": a_list},
            "site_changes": {
                "type": "array",
                "items": {"type": "object", "required": ["type"]},
            },
            "resource_changes": {"type": "array", "items": _resource_change()},
            "saved": {
                "type": "object",
                "description": "A saved plan's commitment (`listsync plan --out FILE.json`).",
            },
        },
        required=[
            "format_version",
            "domain",
            "scope",
            "managed",
            "notes",
            "warnings",
            "create_domain",
            "has_changes",
            "templates",
            "summary",
            "lists",
            "resource_changes",
        ],
    )
    return {
        "$schema": DIALECT,
        "$id": "plan.schema.json",
        "title": "listsync plan",
        "description": "listsync plan --format json (format_version 1); a saved plan adds"
        " `saved`. README.md, 'Policy over plans', describes resource_changes.",
        **body,
    }


def rendered() -> dict[str, str]:
    """File name to content of every schema file."""
    schemas = {
        "list.schema.json": list_schema(),
        "site.schema.json": site_schema(),
        "plan.schema.json": plan_schema(),
    }
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
