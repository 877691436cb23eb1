"""Hostile input never crashes `listsync validate` (hypothesis): random bytes, random YAML,
and valid list files with one field spoiled all end in located messages or success."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

from examples import examples
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from list_strategies import dump_yaml, json_like, list_specs

from helpers import Run, write_site

PROBLEM_LINE = re.compile(r"^lists/xx\.yaml:\d+:\d+: ")
SUMMARY_LINE = re.compile(r"^\d+ valid list file\(s\), \d+ error\(s\), \d+ warning\(s\)$")
SETTINGS_FUZZ = {
    "function_scoped_fixture": HealthCheck.function_scoped_fixture,
    "too_slow": HealthCheck.too_slow,
}


def _check_validate_output(run: Run, root: Path) -> None:
    result = run("--root", str(root), "validate")
    assert result.status in (0, 1), result.err
    assert "Traceback" not in result.out + result.err
    lines = result.out.splitlines()
    assert SUMMARY_LINE.match(lines[-1]), lines
    if result.status == 1:
        assert lines[:-1], "an invalid file gets at least one located message"
        assert all(PROBLEM_LINE.match(line) for line in lines[:-1]), lines


@settings(
    max_examples=examples(150), deadline=None, suppress_health_check=list(SETTINGS_FUZZ.values())
)
@given(content=st.binary(max_size=300))
def test_random_bytes_never_crash_validate(run: Run, tmp_path: Path, content: bytes) -> None:
    write_site(tmp_path, {})
    (tmp_path / "lists" / "xx.yaml").write_bytes(content)
    _check_validate_output(run, tmp_path)


@settings(
    max_examples=examples(150), deadline=None, suppress_health_check=list(SETTINGS_FUZZ.values())
)
@given(data=json_like)
def test_random_yaml_never_crashes_validate(run: Run, tmp_path: Path, data: Any) -> None:
    write_site(tmp_path, {})
    (tmp_path / "lists" / "xx.yaml").write_text(dump_yaml(data))
    _check_validate_output(run, tmp_path)


@settings(
    max_examples=examples(150), deadline=None, suppress_health_check=list(SETTINGS_FUZZ.values())
)
@given(
    spec=list_specs, key=st.sampled_from(["owners", "settings", "dmarc", "posting"]), junk=json_like
)
def test_valid_files_with_one_field_spoiled_fail_cleanly(
    run: Run, tmp_path: Path, spec: dict[str, Any], key: str, junk: Any
) -> None:
    spoiled = {**spec, key: junk}
    write_site(tmp_path, {})
    (tmp_path / "lists" / "xx.yaml").write_text(dump_yaml(spoiled))
    _check_validate_output(run, tmp_path)
