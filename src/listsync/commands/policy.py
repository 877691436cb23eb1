"""`listsync check-policy`: a plan judged by the site's Rego policies (`plan_policy`)."""

from __future__ import annotations

import os
from pathlib import Path

import click

from listsync.commands.common import EXIT_FAILURE, Context, pass_context, say


@click.command("check-policy")
@click.argument("plan_file", metavar="PLAN.json", type=click.Path(path_type=Path))
@click.option(
    "--policy",
    "policy_dir",
    type=click.Path(file_okay=False, path_type=Path),
    default=None,
    help="The directory of *.rego files [default: policy/ of the site].",
)
@click.option(
    "--label",
    "labels",
    multiple=True,
    metavar="NAME",
    help="A label of the change (repeatable; also LISTSYNC_LABELS and"
    " CI_MERGE_REQUEST_LABELS, comma-separated).",
)
@pass_context
def check_policy(
    obj: Context, plan_file: Path, policy_dir: Path | None, labels: tuple[str, ...]
) -> None:
    """Evaluate the site's policies against a plan's JSON; exit 1 on any denial.

    Every *.rego file under the directory is evaluated with the input
    {"plan": <PLAN.json>, "labels": [...]}; each message of data.main.deny
    (package main, deny contains msg if {...}) is printed and fails the
    check. Needs the extra: pip install 'listsync-mailman[policy]'.

    \b
    Examples:
      listsync plan --format json > plan.json && listsync check-policy plan.json
      listsync check-policy plan.json --policy policy/ --label large-change
    """
    from listsync import plan_policy

    directory = policy_dir if policy_dir is not None else obj.root / plan_policy.POLICY_DIR
    plan = plan_policy.read_plan(plan_file)
    found = plan_policy.labels_from(labels, os.environ)
    verdict = plan_policy.evaluate(plan, found, directory)
    for message in verdict.denials:
        say(f"deny: {message}")
    count = len(verdict.files)
    shown = ", ".join(found) if found else "none"
    say(
        f"{len(verdict.denials)} denial(s) from {count} policy file(s) in {directory}"
        f" (labels: {shown})."
    )
    if not verdict.ok:
        raise SystemExit(EXIT_FAILURE)
