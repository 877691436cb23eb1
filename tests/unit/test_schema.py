"""schema/: checked in, generated from the models, and what editors validate against."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import jsonschema
import pytest
from ruamel.yaml import YAML

from helpers import REPO, Run
from listsync import schema

MODELINE = "# yaml-language-server: $schema=../schema/list.schema.json"


def test_checked_in_schema_is_not_stale() -> None:
    assert schema.stale_files(REPO) == [], "run 'listsync schema' and commit schema/"


def test_a_stale_schema_is_detected_and_rewritten(run: Run, tmp_path: Path) -> None:
    shutil.copytree(REPO / "schema", tmp_path / "schema")
    target = tmp_path / "schema" / "list.schema.json"
    body = json.loads(target.read_text())
    del body["properties"]["moderators"]
    target.write_text(json.dumps(body))
    check = run("--root", str(tmp_path), "schema", "--check")
    assert check.status == 1
    assert "schema/list.schema.json is stale" in check.out
    assert run("--root", str(tmp_path), "schema").status == 0
    assert schema.stale_files(tmp_path) == []


@pytest.mark.parametrize("path", sorted((REPO / "lists").glob("*.yaml")), ids=lambda p: p.stem)
def test_example_lists_carry_the_modeline_and_match_the_schema(path: Path) -> None:
    text = path.read_text()
    assert text.splitlines()[0] == MODELINE
    validator = jsonschema.Draft202012Validator(schema.list_schema())
    assert list(validator.iter_errors(YAML(typ="safe").load(text))) == []


def test_schema_rejects_what_validate_rejects() -> None:
    validator = jsonschema.Draft202012Validator(schema.list_schema())
    bad = {"owners": ["a@example.org"], "visibility": "hidden", "settings": {"archive_polcy": 1}}
    errors = list(validator.iter_errors(bad))
    assert sorted(tuple(e.absolute_path) for e in errors) == [("settings",), ("visibility",)]
    assert any("archive_polcy" in e.message for e in errors)


def test_site_config_matches_site_schema() -> None:
    validator = jsonschema.Draft202012Validator(schema.site_schema())
    config = YAML(typ="safe").load((REPO / "listsync.yaml").read_text())
    assert list(validator.iter_errors(config)) == []
