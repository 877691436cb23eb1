"""The fan-out: a GitLab child pipeline with one plan/apply pair per Mailman core of the site.

A site with several domains (`domains:` in listsync.yaml) may keep them on
several Mailman cores (`cores:`). Its default-branch pipeline plans and
applies each core on its own: `listsync pipeline` writes a child pipeline
that GitLab runs from the parent's `cores` job, so listsync.yaml stays the
one place that names the cores (a `parallel: matrix:` in .gitlab-ci.yml
would repeat them and drift). For each core C that serves a domain:

- `plan-C`: `listsync plan --core C`, plan-C.md and the saved plan plan-C.json;
- `apply-C`: what the parent's `apply` job does, for core C only:
  check-templates, then `listsync apply plan-C.json --require-tip`;
- `apply-force-C`: the same past the blast-radius limit, run by hand;
- `policy-C`, in a site with policies (policy/*.rego): plan-C.json judged by them
  (`listsync check-policy`); apply-C and apply-force-C wait for it, so a denial stops
  that core's apply.

Each pair takes the resource group `mailman-C` (one writer per core at a
time, the cores independent of each other) and declares the environment
`mailman/C`, so that a site can scope core C's CI/CD variables to it and
no other job ever receives them. Core names match `models.CORE_NAME`
(`^[a-z][a-z0-9_]{0,31}$`), so every name made from them is a safe job
name, resource group and environment; whatever else is printed (the image)
is written by the YAML emitter, never pasted into text.

Without `apply` (the pipeline's LISTSYNC_APPLY is not "true") the child
pipeline only plans: the decision is taken by the parent's job, which sees
the variable as the site set it, and the child never holds an apply job.
"""

from __future__ import annotations

import io
import re
from collections.abc import Sequence
from typing import Any

from ruamel.yaml import YAML
from ruamel.yaml.scalarstring import LiteralScalarString

from listsync.models import CORE_NAME, SiteConfig
from listsync.targets import select

# The parent pipeline's `default: before_script:` (.gitlab-ci.yml), which a child
# pipeline does not inherit: a unit test keeps the two the same.
BEFORE_SCRIPT = (
    "command -v listsync >/dev/null"
    ' || pip install --quiet --root-user-action=ignore "$LISTSYNC_PACKAGE"',
    "listsync --version",
)
FETCH_DEFAULT_BRANCH = (
    'git fetch --quiet origin "+refs/heads/$CI_DEFAULT_BRANCH'
    ':refs/remotes/origin/$CI_DEFAULT_BRANCH"'
)
HEADER = (
    "# Written by `listsync pipeline` from listsync.yaml: one plan/apply pair per\n"
    "# Mailman core, run as a child of the default branch's pipeline. Do not edit:\n"
    "# it is made again by every pipeline.\n"
)


def cores_of(config: SiteConfig) -> list[str]:
    """The cores that serve a domain of the site, the default core first."""
    cores: list[str] = []
    for target in select(config):
        if target.core not in cores:
            cores.append(target.core)
    return cores


def plan_job(core: str) -> str:
    return f"plan-{core}"


def apply_job(core: str) -> str:
    return f"apply-{core}"


def apply_force_job(core: str) -> str:
    return f"apply-force-{core}"


def resource_group(core: str) -> str:
    return f"mailman-{core}"


def environment(core: str) -> str:
    return f"mailman/{core}"


def _apply_script(core: str, force: bool) -> list[Any]:
    apply = (
        f'listsync apply plan-{core}.json --core {core} --require-tip "origin/$CI_DEFAULT_BRANCH"'
    )
    return [
        FETCH_DEFAULT_BRANCH,
        LiteralScalarString(
            "templates=0\n"
            f"listsync check-templates --core {core} || templates=$?\n"
            f"{apply}{' --force' if force else ''}\n"
            'exit "$templates"\n'
        ),
    ]


def policy_job(core: str) -> str:
    return f"policy-{core}"


def _core_jobs(core: str, apply: bool, policy: bool = False) -> dict[str, Any]:
    if not re.fullmatch(CORE_NAME, core):  # listsync.yaml's validation makes this unreachable
        raise ValueError(f"not a core name: {core!r}")
    jobs: dict[str, Any] = {
        plan_job(core): {
            "stage": "plan",
            "resource_group": resource_group(core),
            "environment": {"name": environment(core), "action": "prepare"},
            "script": [
                f"listsync plan --core {core} --out plan-{core}.md --out plan-{core}.json",
                f"cat plan-{core}.md",
            ],
            "artifacts": {
                "paths": [f"plan-{core}.md", f"plan-{core}.json"],
                "expire_in": "30 days",
            },
        }
    }
    if policy:
        jobs[policy_job(core)] = {
            "stage": "policy",
            "needs": [plan_job(core)],
            "script": [
                'python3 -c "import regopy" 2>/dev/null'
                ' || pip install --quiet --root-user-action=ignore "regopy>=1.5,<2"',
                f"listsync check-policy plan-{core}.json --policy policy/",
            ],
        }
    if not apply:
        return jobs

    def pair() -> dict[str, Any]:  # new objects each time: the YAML holds no anchors
        return {
            "stage": "apply",
            "needs": [plan_job(core), *([policy_job(core)] if policy else [])],
            "resource_group": resource_group(core),
            "environment": {"name": environment(core)},
        }

    jobs[apply_job(core)] = {**pair(), "script": _apply_script(core, force=False)}
    jobs[apply_force_job(core)] = {
        **pair(),
        "when": "manual",
        "allow_failure": True,
        "script": _apply_script(core, force=True),
    }
    return jobs


def child_pipeline(
    cores: Sequence[str], *, apply: bool, image: str | None = None, policy: bool = False
) -> str:
    """The child pipeline's YAML for `cores`: a plan job per core, with `policy` the job that
    judges its plan by the site's policies (README.md, "Policy over plans"), which its apply
    then waits for, and, with `apply`, its apply and apply-force jobs; run in `image` (none:
    the runner's default)."""
    if not cores:
        raise ValueError("a child pipeline needs at least one core")
    default: dict[str, Any] = {}
    if image:
        default["image"] = image
    default["before_script"] = list(BEFORE_SCRIPT)
    stages = ["plan", *(["policy"] if policy else []), "apply"]
    document: dict[str, Any] = {"stages": stages, "default": default}
    for core in cores:
        document.update(_core_jobs(core, apply, policy))
    yaml = YAML()
    yaml.width = 4096  # one command a line, as written
    yaml.indent(mapping=2, sequence=4, offset=2)
    out = io.StringIO()
    yaml.dump(document, out)
    return HEADER + out.getvalue()
