"""Policy over plans: the example policies judge real plans of a real core.

Two plans of one site, kept few on purpose (this file runs in the main session): the
first creates three lists, one of them public with a single owner; once they are
applied, the second retires that list and bans 21 patterns on another. Each example
policy (policy-examples/, the files README.md quotes) is evaluated on its own with
`listsync check-policy`: it denies the plan it should, with its message, and passes the
plan it should, labels included. Both plans match schema/plan.schema.json. How a policy
that does not compile, or a directory without `deny`, is reported needs no core.
(`resource_changes` shaped kind by kind: unit/test_resource_changes.py.)
"""

from __future__ import annotations

import json
import re
import shutil
from pathlib import Path

import jsonschema
import pytest
from mailmanclient import Client

from helpers import REPO, Run, apply, make_site
from listsync import schema

EXAMPLES = REPO / "policy-examples"
BANS = [f"^spam{n}@example\\.org$" for n in range(21)]


def policy_of(tmp_path: Path, *names: str) -> Path:
    """A policy directory holding only the example files `names`."""
    directory = tmp_path / ("policy-" + "-".join(names))
    directory.mkdir()
    for name in names:
        shutil.copy(EXAMPLES / f"{name}.rego", directory)
    return directory


def check(run: Run, plan_file: Path, policy: Path, *args: str) -> tuple[int, list[str]]:
    """`listsync check-policy`: its status and its denials."""
    result = run("check-policy", str(plan_file), "--policy", str(policy), *args)
    assert result.status in (0, 1), result.err
    assert result.err == ""
    denials = [line.removeprefix("deny: ") for line in result.out.splitlines()]
    return result.status, denials[:-1]


def test_the_example_policies_judge_real_plans(
    run: Run,
    tmp_path: Path,
    domain: str,
    connected: object,
    mailman_client: Client,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.delenv("LISTSYNC_LABELS", raising=False)
    monkeypatch.delenv("CI_MERGE_REQUEST_LABELS", raising=False)
    announce = "description: News.\nowners: [roger@example.org]\n"
    site = make_site(
        tmp_path / "site",
        domain,
        {
            "announce": announce,
            "team": "owners: [alice@example.org, bob@example.org]\n",
            "hidden": "visibility: private\nowners: [carol@example.org]\n",
        },
    )
    validator = jsonschema.Draft202012Validator(schema.plan_schema())
    public_owners = policy_of(tmp_path, "public_owners")
    large_change = policy_of(tmp_path, "large_change")
    retire = policy_of(tmp_path, "retire")

    created = run("--root", str(site), "plan", "--format", "json")
    assert created.status == 0, created.err
    first = tmp_path / "first.json"
    first.write_text(created.out)
    assert list(validator.iter_errors(json.loads(created.out))) == []
    announce_at = f"announce@{domain}"
    assert check(run, first, public_owners) == (
        1,
        [f"{announce_at}: a public list needs two owners or more; it gets 1"],
    ), "team has two owners and hidden is private: only announce is denied"
    assert check(run, first, large_change) == (0, []), "three new lists are three changes"
    assert check(run, first, retire) == (0, [])

    assert apply(run, site).status == 0
    (site / "lists" / "announce.yaml").write_text(announce + "disabled: true\n")
    bans = "".join(f"  - '{pattern}'\n" for pattern in BANS)
    (site / "lists" / "team.yaml").write_text(
        "owners: [alice@example.org, bob@example.org]\nbans:\n" + bans
    )
    second = tmp_path / "plan.json"  # a saved plan, as the pipeline's plan job writes it
    assert run("--root", str(site), "plan", "--out", str(second)).status == 0
    saved = json.loads(second.read_text())
    assert list(validator.iter_errors(saved)) == []
    assert saved["saved"]["revision"] is None
    team_bans = [c for c in saved["resource_changes"] if c["type"] == "listsync_ban"]
    assert len([c for c in team_bans if c["address"].startswith(f"team@{domain}.bans[")]) == 21

    assert check(run, second, retire) == (
        1,
        [f"{announce_at}: disabling a list needs the label retire"],
    )
    assert check(run, second, retire, "--label", "retire") == (0, [])
    status, denials = check(run, second, large_change)
    assert status == 1
    assert len(denials) == 1
    assert re.fullmatch(
        r"(\d+) changes, more than 20: label the merge request large-change", denials[0]
    )
    monkeypatch.setenv("CI_MERGE_REQUEST_LABELS", "lists,large-change")
    assert check(run, second, large_change) == (0, []), "the label from GitLab's variable"
    monkeypatch.delenv("CI_MERGE_REQUEST_LABELS")
    assert check(run, second, public_owners) == (0, []), "no list is created public"

    every = run("check-policy", str(second), "--policy", str(EXAMPLES))
    assert every.status == 1
    assert every.out.splitlines()[-1] == (
        f"2 denial(s) from 3 policy file(s) in {EXAMPLES} (labels: none)."
    )
    monkeypatch.setenv("LISTSYNC_LABELS", "retire, large-change")
    assert run("check-policy", str(second), "--policy", str(EXAMPLES)).status == 0
    lists = {lst.fqdn_listname for lst in mailman_client.get_domain(domain).lists}
    assert lists == {announce_at, f"team@{domain}", f"hidden@{domain}"}, (
        "check-policy wrote nothing"
    )


def test_a_site_policy_directory_is_the_default(run: Run, tmp_path: Path) -> None:
    site = tmp_path / "site"
    shutil.copytree(EXAMPLES, site / "policy")
    plan = tmp_path / "plan.json"
    disable = {"actions": ["disable"], "before": None, "after": None}
    plan.write_text(
        json.dumps(
            {
                "resource_changes": [
                    {"address": "x@example.org", "type": "listsync_list", "change": disable}
                ]
            }
        )
    )
    result = run("--root", str(site), "check-policy", str(plan))
    assert (result.status, result.out.splitlines()[0]) == (
        1,
        "deny: x@example.org: disabling a list needs the label retire",
    )


@pytest.mark.parametrize(
    ("source", "error"),
    [
        (
            "package main\ndeny contains msg if { count(input.x > 5; msg := 1 }\n",
            "error: policy/broken.rego: the policy does not compile: this is unclosed at"
            " policy/broken.rego:2:29",
        ),
        (
            "package main\ndeny contains msg if { msg := nofunc(1) }\n",
            "error: policy/broken.rego: the policy does not compile: Function not found: nofunc",
        ),
        (
            "package mian\ndeny contains msg if { msg := 1 }\n",
            "error: {dir}: no rule 'deny' in 'package main': nothing was checked",
        ),
    ],
)
def test_a_policy_that_cannot_judge_is_an_error_naming_its_file(
    run: Run, tmp_path: Path, source: str, error: str
) -> None:
    """Beside a good policy, the file at fault is named, not the directory."""
    directory = tmp_path / "policy"
    directory.mkdir()
    if "package main" in source:
        shutil.copy(EXAMPLES / "retire.rego", directory)
    (directory / "broken.rego").write_text(source)
    plan = tmp_path / "plan.json"
    plan.write_text('{"format_version": 1, "resource_changes": []}')
    result = run("check-policy", str(plan), "--policy", str(directory))
    assert result.status == 1
    assert result.out == ""
    assert result.err.startswith(error.format(dir=directory)), result.err


def test_a_file_that_is_not_a_plan_is_refused_by_name(run: Run, tmp_path: Path) -> None:
    plan = tmp_path / "plan.json"
    plan.write_text('{"format_version": 1,\n "lists": [}')
    result = run("check-policy", str(plan), "--policy", str(EXAMPLES))
    assert (result.status, result.err) == (1, f"error: {plan}:2:12: not JSON: Expecting value\n")
    plan.write_text('{"format_version": 1}')
    result = run("check-policy", str(plan), "--policy", str(EXAMPLES))
    assert result.status == 1
    assert "not a listsync plan with resource_changes" in result.err


def test_the_readme_quotes_the_example_policies_as_they_are() -> None:
    readme = (REPO / "README.md").read_text()
    section = readme.split("## Policy over plans", 1)[1].split("\n## ", 1)[0]
    blocks = re.findall(r"```rego\n# policy-examples/(\S+)\n(.*?)```", section, re.DOTALL)
    files = sorted(path.name for path in EXAMPLES.glob("*.rego"))
    assert sorted(name for name, _ in blocks) == files
    for name, text in blocks:
        assert text == (EXAMPLES / name).read_text(), name
