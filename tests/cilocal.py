"""Run the project's `.gitlab-ci.yml` under gitlab-ci-local, in a shell on this machine.

A `SiteRemote` is what GitLab would hold: a bare "server" repository with
a clone of it (the work tree pipelines run in), carrying a site and the
project's `.gitlab-ci.yml`. `run_pipeline` runs one pipeline there as
GitLab would for a push, a merge request or a schedule, with the
credentials given the way protected CI/CD variables are (a variables file,
never the command line, and none at all for a merge request), the
`listsync` under test on PATH, and the project's package registry, where
the snapshot of Mailman is published, a directory (`file://`).

gitlab-ci-local runs a job that names an `image:` in a container; with no
container engine here, the jobs run in a shell from a copy of
`.gitlab-ci.yml` without its one `image:` (`default: image:`), which is
the only difference between what runs here and what GitLab runs.
"""

from __future__ import annotations

import io
import json
import os
import re
import shutil
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

from ruamel.yaml import YAML

from helpers import REPO, git

GITLAB_CI_LOCAL = Path(
    os.environ.get("LISTSYNC_GITLAB_CI_LOCAL")
    or REPO / ".ci" / "node_modules" / ".bin" / "gitlab-ci-local"
)
# Not .gitlab-ci-local.yml: gitlab-ci-local merges that file into every pipeline it runs,
# a child pipeline too, which would then hold the parent's jobs.
LOCAL_FILE = ".gitlab-ci-shell.yml"
STATE_DIR = ".gitlab-ci-local"
TIMEOUT = 300.0
_SUMMARY = re.compile(r"^\s*(PASS|FAIL|WARN)\s+(\S+)\s*$")
_CHILD_SUMMARY = re.compile(r"^\s*(PASS|FAIL|WARN)\s+\[[^]]+\] -> (\S+)\s*$")


class ToolMissing(RuntimeError):
    """gitlab-ci-local or rsync is not installed."""


def check_tools() -> None:
    if not GITLAB_CI_LOCAL.is_file():
        raise ToolMissing(f"{GITLAB_CI_LOCAL} is missing: run scripts/bootstrap (needs npm)")
    if shutil.which("rsync") is None:
        raise ToolMissing("rsync is missing (gitlab-ci-local needs it): apt-get install rsync")


def shell_copy(pipeline: str) -> str:
    """The pipeline without its `default: image:`, so gitlab-ci-local runs it in a shell."""
    yaml = YAML()
    data = yaml.load(pipeline)
    images = [name for name, job in data.items() if isinstance(job, dict) and "image" in job]
    assert images == ["default"], f"expected one image, under default:, not in {images}"
    del data["default"]["image"]
    out = io.StringIO()
    yaml.dump(data, out)
    return out.getvalue()


@dataclass(frozen=True)
class Credentials:
    url: str
    user: str
    password: str


@dataclass(frozen=True)
class PipelineRun:
    status: int
    output: str
    state: Path

    @property
    def jobs(self) -> dict[str, str]:
        """Job name -> PASS/FAIL/WARN, from gitlab-ci-local's closing summary."""
        found = {}
        for line in self.output.splitlines():
            match = _SUMMARY.match(line)
            if match:
                found[match.group(2)] = match.group(1)
        return found

    @property
    def child_jobs(self) -> dict[str, str]:
        """Job name -> PASS/FAIL/WARN of the child pipelines' jobs, which gitlab-ci-local's
        summary shows as `[TRIGGER JOB] -> NAME`."""
        found = {}
        for line in self.output.splitlines():
            match = _CHILD_SUMMARY.match(line)
            if match:
                found[match.group(2)] = match.group(1)
        return found

    def artifact(self, job: str, name: str) -> Path:
        return self.state / "artifacts" / job / name

    def log(self, job: str) -> str:
        return (self.state / "output" / f"{job}.log").read_text()

    def files(self) -> list[Path]:
        """Everything the pipeline left: job logs and artifacts."""
        return sorted(
            p for d in ("output", "artifacts") for p in (self.state / d).rglob("*") if p.is_file()
        )


@dataclass(frozen=True)
class SiteRemote:
    server: Path
    work: Path
    home: Path  # gitlab-ci-local's home: the protected variables (the credentials)
    unprotected_home: Path  # what a merge request's pipeline gets: no credential
    registry: Path

    @property
    def snapshot_url(self) -> str:
        return (self.registry / "mailman-snapshot.json").as_uri()

    @classmethod
    def create(cls, base: Path, site_files: dict[str, str], credentials: Credentials) -> SiteRemote:
        """A pushed site on branch main, with the project's .gitlab-ci.yml unless
        `site_files` has one of its own (a site `listsync init` wrote)."""
        server, work, home = base / "server.git", base / "work", base / "gcl-home"
        unprotected_home, registry = base / "gcl-home-unprotected", base / "registry"
        registry.mkdir()
        (unprotected_home / STATE_DIR).mkdir(parents=True)
        git(base, "init", "--quiet", "--bare", "--initial-branch=main", str(server))
        work.mkdir()
        for name, content in site_files.items():
            path = work / name
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_text(content)
        pipeline = site_files.get(".gitlab-ci.yml") or (REPO / ".gitlab-ci.yml").read_text()
        (work / ".gitlab-ci.yml").write_text(pipeline)
        git(work, "init", "--quiet", "--initial-branch=main")
        git(work, "add", "--all")
        git(work, "commit", "--quiet", "--message", "The site")
        git(work, "remote", "add", "origin", str(server))
        git(work, "push", "--quiet", "--set-upstream", "origin", "main")
        git(work, "remote", "set-head", "origin", "main")
        (work / LOCAL_FILE).write_text(shell_copy(pipeline))
        with (work / ".git" / "info" / "exclude").open("a") as exclude:
            exclude.write(f"/{LOCAL_FILE}\n/{STATE_DIR}/\n")
        # The project's CI/CD variables, as gitlab-ci-local reads them.
        variables = home / STATE_DIR / "variables.yml"
        variables.parent.mkdir(parents=True)
        entries = {
            "MAILMAN_REST_URL": credentials.url,
            "MAILMAN_REST_USER": credentials.user,
            "MAILMAN_REST_PASSWORD": credentials.password,
        }
        variables.write_text(
            "global:\n" + "".join(f"  {k}: {json.dumps(v)}\n" for k, v in entries.items())
        )
        return cls(server, work, home, unprotected_home, registry)

    def run_pipeline(
        self,
        source: str = "push",
        variables: dict[str, str] | None = None,
        unset: tuple[str, ...] = (),
        manual: tuple[str, ...] = (),
        protected: bool = True,
    ) -> PipelineRun:
        """One pipeline for the work tree's HEAD, as GitLab runs it for `source`.

        `manual` names the manual jobs someone runs; `protected` says whether
        the pipeline gets the protected variables (the default branch's do).
        """
        shutil.rmtree(self.work / STATE_DIR, ignore_errors=True)
        given = {
            "CI_PIPELINE_SOURCE": source,
            "LISTSYNC_SNAPSHOT_URL": self.snapshot_url,
            **(variables or {}),
        }
        command = [
            str(GITLAB_CI_LOCAL),
            "--file",
            LOCAL_FILE,
            "--shell-executor-no-image",
            "--shell-isolation",
            "--no-artifacts-to-source",
            "--no-color",
            # GitLab runs the jobs of resource_group `mailman` one at a time;
            # gitlab-ci-local does not, so it runs every job one at a time.
            "--concurrency",
            "1",
            "--home",
            str(self.home if protected else self.unprotected_home),
        ]
        if manual:
            command += ["--manual", *manual]
        for key, value in given.items():
            command += ["--variable", f"{key}={value}"]
        for key in unset:
            command += ["--unset-variable", key]
        env = {k: v for k, v in os.environ.items() if not k.startswith("MAILMAN_REST_")}
        # The listsync under test, where the jobs' `command -v listsync` finds it.
        env["PATH"] = os.pathsep.join([str(Path(sys.executable).parent), env.get("PATH", "")])
        done = subprocess.run(
            command,
            cwd=self.work,
            env=env,
            stdin=subprocess.DEVNULL,
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            text=True,
            timeout=TIMEOUT,
            check=False,
        )
        return PipelineRun(done.returncode, done.stdout, self.work / STATE_DIR)

    def merge_request_pipeline(self, source_branch: str, target: str = "main") -> PipelineRun:
        """A merge request pipeline: no CI_COMMIT_BRANCH, the MR's branches named, and no
        protected variable (the branch is not protected), so no Mailman credential."""
        return self.run_pipeline(
            "merge_request_event",
            {
                "CI_MERGE_REQUEST_IID": "1",
                "CI_MERGE_REQUEST_SOURCE_BRANCH_NAME": source_branch,
                "CI_MERGE_REQUEST_TARGET_BRANCH_NAME": target,
            },
            unset=("CI_COMMIT_BRANCH",),
            protected=False,
        )

    def scope_variables(self, entries: dict[str, dict[str, str]]) -> None:
        """Replace the project's CI/CD variables by `entries`: KEY -> {environment scope:
        value}, as GitLab scopes a variable to the jobs of matching environments only."""
        variables = self.home / STATE_DIR / "variables.yml"
        lines = ["global:\n"]
        for key, scopes in entries.items():
            lines.append(f"  {key}:\n    type: variable\n    values:\n")
            lines += [f"      {json.dumps(s)}: {json.dumps(v)}\n" for s, v in scopes.items()]
        variables.write_text("".join(lines))
