"""`listsync pipeline`: the GitLab child pipeline of a site, one plan/apply pair per core."""

from __future__ import annotations

from pathlib import Path

import click

from listsync.commands.common import Context, pass_context, say, write_out


@click.command("pipeline")
@click.option(
    "--out",
    type=click.Path(dir_okay=False, path_type=Path),
    help="Write the child pipeline to FILE instead of standard output.",
)
@click.option(
    "--image",
    default="",
    metavar="IMAGE",
    help='The image its jobs run in (in GitLab: "$CI_JOB_IMAGE", the generating job\'s'
    " own); empty, the runner's default.",
)
@click.option(
    "--apply",
    "apply_value",
    default="false",
    show_default=True,
    metavar="VALUE",
    help="Apply jobs only when VALUE is 'true' (pass \"$LISTSYNC_APPLY\"); anything else"
    " gives a plan-only pipeline.",
)
@pass_context
def pipeline_command(obj: Context, out: Path | None, image: str, apply_value: str) -> None:
    """Write the GitLab child pipeline that plans and applies each Mailman core on its own.

    Per core C of listsync.yaml that serves a domain: plan-C, apply-C and
    (manual) apply-force-C, in resource group mailman-C and environment
    mailman/C (README.md, "GitOps", "Several cores"), and policy-C before
    them when the site has policies (policy/*.rego). The default-branch
    pipeline of a site with domains: runs it; a site with one domain gets
    the one pair of the default core.

    \b
    Examples:
      listsync pipeline --out cores.yml
      listsync pipeline --image "$CI_JOB_IMAGE" --apply "$LISTSYNC_APPLY" --out cores.yml
    """
    from listsync import fanout
    from listsync.load import load_config

    cores = fanout.cores_of(load_config(obj.root))
    policy = any((obj.root / "policy").glob("**/*.rego"))
    text = fanout.child_pipeline(
        cores, apply=apply_value == "true", image=image or None, policy=policy
    )
    if out is None:
        click.echo(text, nl=False)
        return
    write_out(out, text)
    mode = "plan and apply" if apply_value == "true" else "plan only"
    say(f"Wrote {out}: {len(cores)} core(s) ({', '.join(cores)}), {mode}.")
