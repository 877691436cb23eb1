"""The child pipeline `listsync pipeline` writes, read back as YAML: a plan/apply pair per core."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from ruamel.yaml import YAML

from listsync import fanout
from listsync.models import SiteConfig

REPO = Path(__file__).resolve().parents[2]


def load(text: str) -> dict[str, Any]:
    document = YAML(typ="safe").load(text)
    assert isinstance(document, dict)
    return document


def jobs_of(document: dict[str, Any]) -> dict[str, Any]:
    return {name: job for name, job in document.items() if name not in {"stages", "default"}}


def config(data: dict[str, Any]) -> SiteConfig:
    return SiteConfig.model_validate({"disabled_owner": "devnull@example.org", **data})


def test_one_core_gives_the_default_pair_as_the_parent_pipeline_runs_it() -> None:
    document = load(fanout.child_pipeline(["default"], apply=True))

    assert document["stages"] == ["plan", "apply"]
    assert "image" not in document["default"]
    jobs = jobs_of(document)
    assert list(jobs) == ["plan-default", "apply-default", "apply-force-default"]
    plan, apply, force = jobs.values()
    assert plan["stage"] == "plan"
    assert plan["script"][0] == (
        "listsync plan --core default --out plan-default.md --out plan-default.json"
    )
    assert plan["artifacts"]["paths"] == ["plan-default.md", "plan-default.json"]
    for job in (plan, apply, force):
        assert job["resource_group"] == "mailman-default"
        assert job["environment"]["name"] == "mailman/default"
    assert plan["environment"]["action"] == "prepare"
    assert "action" not in apply["environment"]  # apply deploys
    assert apply["needs"] == force["needs"] == ["plan-default"]
    assert "when" not in apply
    assert (force["when"], force["allow_failure"]) == ("manual", True)
    assert apply["script"][1].splitlines() == [
        "templates=0",
        "listsync check-templates --core default || templates=$?",
        'listsync apply plan-default.json --core default --require-tip "origin/$CI_DEFAULT_BRANCH"',
        'exit "$templates"',
    ]
    assert force["script"][1].splitlines()[2].endswith(" --force")


def test_three_cores_give_three_pairs_each_in_its_own_group_and_environment() -> None:
    document = load(fanout.child_pipeline(["default", "eu_west", "x2"], apply=True))

    jobs = jobs_of(document)
    assert sorted(jobs) == sorted(
        f"{kind}-{core}"
        for core in ("default", "eu_west", "x2")
        for kind in ("plan", "apply", "apply-force")
    )
    for core in ("default", "eu_west", "x2"):
        group = {jobs[f"{kind}-{core}"]["resource_group"] for kind in ("plan", "apply")}
        assert group == {f"mailman-{core}"}
        environments = {jobs[f"{k}-{core}"]["environment"]["name"] for k in ("plan", "apply")}
        assert environments == {f"mailman/{core}"}
        assert jobs[f"apply-{core}"]["needs"] == [f"plan-{core}"]
        assert f"--core {core} " in jobs[f"apply-{core}"]["script"][1]


def test_plan_only_has_no_apply_job() -> None:
    jobs = jobs_of(load(fanout.child_pipeline(["default", "other"], apply=False)))
    assert list(jobs) == ["plan-default", "plan-other"]


def test_with_policies_each_core_s_apply_waits_for_its_policy_job() -> None:
    document = load(fanout.child_pipeline(["default", "other"], apply=True, policy=True))
    jobs = jobs_of(document)

    assert document["stages"] == ["plan", "policy", "apply"]
    assert jobs["policy-other"]["needs"] == ["plan-other"]
    assert jobs["policy-other"]["script"][-1] == (
        "listsync check-policy plan-other.json --policy policy/"
    )
    assert jobs["apply-other"]["needs"] == ["plan-other", "policy-other"]
    assert jobs["apply-force-default"]["needs"] == ["plan-default", "policy-default"]
    assert "policy-default" not in jobs_of(load(fanout.child_pipeline(["default"], apply=True)))


def test_the_image_is_written_as_yaml_whatever_it_holds() -> None:
    image = "registry.example.org/x:1 # not a comment\n'\"{}: [&*"
    document = load(fanout.child_pipeline(["default"], apply=True, image=image))
    assert document["default"]["image"] == image


def test_the_output_holds_no_anchors_and_starts_with_its_origin() -> None:
    text = fanout.child_pipeline(["default", "other"], apply=True)
    assert text.startswith("# Written by `listsync pipeline` from listsync.yaml")
    assert "&" not in text.replace("&&", "")
    assert "*id" not in text


def test_a_name_that_is_not_a_core_name_is_refused() -> None:
    with pytest.raises(ValueError, match="not a core name"):
        fanout.child_pipeline(["default", "x: y"], apply=True)
    with pytest.raises(ValueError, match="at least one core"):
        fanout.child_pipeline([], apply=True)


def test_the_cores_are_those_serving_a_domain_the_default_first() -> None:
    assert fanout.cores_of(config({"domain": "lists.example.org"})) == ["default"]
    several = config(
        {
            "domains": {
                "z.example.org": {"core": "alpha"},
                "a.example.org": {},
                "b.example.org": {"core": "beta"},
            },
            "cores": {"alpha": {}, "beta": {}},
        }
    )
    assert fanout.cores_of(several) == ["default", "alpha", "beta"]
    elsewhere = config({"domains": {"a.example.org": {"core": "beta"}}, "cores": {"beta": {}}})
    assert fanout.cores_of(elsewhere) == ["beta"]


@pytest.mark.parametrize("pipeline", [".gitlab-ci.yml", "src/listsync/data/gitlab-ci.yml"])
def test_the_child_installs_listsync_as_the_parent_does(pipeline: str) -> None:
    parent = YAML(typ="safe").load(REPO / pipeline)
    child = load(fanout.child_pipeline(["default"], apply=True))
    assert child["default"]["before_script"] == parent["default"]["before_script"]
