"""The release: the sdist and wheel a user gets from PyPI, installed where nothing else is.

Builds both with `python -m build` (the wheel from the sdist, so a file the
sdist lacks fails here), installs the wheel into a new virtual environment
with its dependencies from the package registry, and runs the `listsync`
command it installs, from outside the checkout, on the example site.
"""

from __future__ import annotations

import email
import email.message
import os
import subprocess
import sys
import tarfile
import tomllib
import venv
import zipfile
from dataclasses import dataclass
from pathlib import Path

import pytest

from helpers import REPO

pytestmark = pytest.mark.packaging

PROJECT = tomllib.loads((REPO / "pyproject.toml").read_text(encoding="utf-8"))["project"]
DISTRIBUTION = PROJECT["name"]
VERSION = PROJECT["version"]
WHEEL_NAME = DISTRIBUTION.replace("-", "_")


def _run(args: list[str | Path], cwd: Path, env: dict[str, str]) -> str:
    done = subprocess.run(
        [str(arg) for arg in args], cwd=cwd, env=env, capture_output=True, text=True, check=False
    )
    assert done.returncode == 0, f"{args} failed:\n{done.stdout}\n{done.stderr}"
    return done.stdout


def _clean_env() -> dict[str, str]:
    """This process's environment without what would put the checkout's code on the path."""
    return {
        key: value
        for key, value in os.environ.items()
        if key not in {"PYTHONPATH", "VIRTUAL_ENV", "PYTHONHOME"}
    }


@dataclass(frozen=True)
class Release:
    sdist: Path
    wheel: Path
    venv: Path

    @property
    def command(self) -> Path:
        return self.venv / "bin" / "listsync"


@pytest.fixture(scope="module")
def release(tmp_path_factory: pytest.TempPathFactory) -> Release:
    dist = tmp_path_factory.mktemp("dist")
    env = _clean_env()
    _run([sys.executable, "-m", "build", "--outdir", dist, REPO], cwd=dist, env=env)
    sdist = dist / f"{WHEEL_NAME}-{VERSION}.tar.gz"
    wheel = dist / f"{WHEEL_NAME}-{VERSION}-py3-none-any.whl"
    assert sorted(dist.iterdir()) == sorted([sdist, wheel])

    target = tmp_path_factory.mktemp("venv") / "venv"
    venv.create(target, with_pip=False)
    python = target / "bin" / "python"
    _run([sys.executable, "-m", "pip", "--python", python, "install", wheel], cwd=dist, env=env)
    return Release(sdist, wheel, target)


def _wheel_metadata(wheel: Path) -> email.message.Message:
    with zipfile.ZipFile(wheel) as archive:
        text = archive.read(f"{WHEEL_NAME}-{VERSION}.dist-info/METADATA").decode("utf-8")
    return email.message_from_string(text)


def test_the_wheel_carries_the_distribution_name_and_complete_metadata(release: Release) -> None:
    metadata = _wheel_metadata(release.wheel)

    assert metadata["Name"] == "listsync-mailman"
    assert metadata["Version"] == VERSION
    assert metadata["Summary"] == PROJECT["description"]
    assert metadata["License-Expression"] == "GPL-3.0-or-later"
    assert metadata["Requires-Python"] == ">=3.11"
    assert metadata["Description-Content-Type"] == "text/markdown"
    assert str(metadata.get_payload()).startswith("# listsync\n"), "the README is the description"
    assert "mailman" in metadata["Keywords"].split(",")
    assert "Topic :: Communications :: Email :: Mailing List Servers" in metadata.get_all(
        "Classifier", []
    )
    assert metadata.get_all("License-File") == ["LICENSE"]


def test_the_wheel_holds_the_package_its_templates_and_types(release: Release) -> None:
    with zipfile.ZipFile(release.wheel) as archive:
        names = set(archive.namelist())

    assert {
        "listsync/cli.py",
        "listsync/commands/apply.py",
        "listsync/py.typed",
        "listsync/templates/catalog.html.j2",
        "listsync/templates/catalog.css",
        "listsync/templates/catalog.js",
        f"{WHEEL_NAME}-{VERSION}.dist-info/licenses/LICENSE",
    } <= names
    assert not any(name.startswith(("tests/", "tools/", "lists/")) for name in names)


def test_the_sdist_holds_the_sources_readme_and_license(release: Release) -> None:
    top = f"{WHEEL_NAME}-{VERSION}"
    with tarfile.open(release.sdist) as archive:
        names = set(archive.getnames())

    assert {
        f"{top}/pyproject.toml",
        f"{top}/README.md",
        f"{top}/LICENSE",
        f"{top}/src/listsync/cli.py",
        f"{top}/src/listsync/templates/catalog.html.j2",
    } <= names


def test_the_installed_command_reports_its_version_and_validates_a_site(
    release: Release, tmp_path: Path
) -> None:
    env = _clean_env()

    version = _run([release.command, "--version"], cwd=tmp_path, env=env)
    validated = _run([release.command, "--root", REPO, "validate"], cwd=tmp_path, env=env)
    where = _run(
        [release.venv / "bin" / "python", "-c", "import listsync; print(listsync.__file__)"],
        cwd=tmp_path,
        env=env,
    )

    assert version == f"listsync, version {VERSION}\n"
    files = len(list((REPO / "lists").glob("*.yaml")))
    assert validated.endswith(f"{files} valid list file(s), 0 error(s), 0 warning(s)\n")
    assert Path(where.strip()).is_relative_to(release.venv), "the wheel's code, not the checkout's"
