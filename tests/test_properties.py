"""Property tests (hypothesis) on the real core: apply always converges.

That hostile input never crashes validate is in unit/test_validate_fuzz.py.
The convergence properties run against the real core with a bounded number
of examples: each example applies a random list file (or random hand-made
drift) to the same list, so transitions between random states are covered
too, then `plan` must show no changes. Random faults in a rewrite of random
header filters never leave them more open than both versions of the file.
"""

from __future__ import annotations

import itertools
from pathlib import Path
from typing import Any

import pytest
from header_chain import probes, rewrites, rules_yaml, too_open
from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st
from list_strategies import HOSTILE_TEXT, dump_yaml, list_specs
from mailmanclient import Client

from helpers import Run, apply, make_site, plan
from listsync import mailman_settings
from listsync.acceptance import HeaderRule
from listsync.policy import DISABLE_BAN
from proxy import DROP, LOSE, STALL, Action, Proxy, Replaced

SETTINGS_FUZZ = {
    "function_scoped_fixture": HealthCheck.function_scoped_fixture,
    "too_slow": HealthCheck.too_slow,
}
REAL_CORE = settings(
    max_examples=12,
    deadline=None,
    suppress_health_check=list(SETTINGS_FUZZ.values()),
    derandomize=False,
)


@pytest.fixture(scope="module")
def prop_site(tmp_path_factory: pytest.TempPathFactory) -> Path:
    root = tmp_path_factory.mktemp("prop-site")
    return make_site(root, "properties.example.org", {})


@REAL_CORE
@given(spec=list_specs)
def test_any_valid_file_converges_in_one_apply(
    run: Run, prop_site: Path, core_env: None, spec: dict[str, Any]
) -> None:
    (prop_site / "lists" / "prop.yaml").write_text(dump_yaml(spec))
    applied = apply(run, prop_site)
    assert applied.status == 0, applied.out + applied.err
    planned = plan(run, prop_site)
    assert planned.status == 0, planned.out


MANAGED_ENUMS = [
    "archive_policy",
    "default_member_action",
    "default_nonmember_action",
    "dmarc_mitigate_action",
    "reply_goes_to_list",
    "subscription_policy",
]
drift_ops = st.lists(
    st.one_of(
        st.tuples(
            st.just("setting"),
            st.sampled_from(MANAGED_ENUMS).flatmap(
                lambda key: st.tuples(
                    st.just(key), st.sampled_from(mailman_settings.SETTINGS[key].choices)
                )
            ),
        ),
        st.tuples(
            st.just("setting"),
            st.tuples(
                st.sampled_from(["advertised", "dmarc_mitigate_unconditionally", "emergency"]),
                st.booleans(),
            ),
        ),
        st.tuples(
            st.just("setting"),
            st.tuples(st.sampled_from(["description", "display_name"]), HOSTILE_TEXT),
        ),
        st.tuples(st.just("add_owner"), st.sampled_from(["x@example.org", "Y@example.org"])),
        st.tuples(st.just("remove_owner"), st.just("alice@example.org")),
        st.tuples(st.just("add_moderator"), st.sampled_from(["m@example.org"])),
        st.tuples(st.just("remove_moderator"), st.just("carol.d@example.net")),
        st.tuples(st.just("disable_by_hand"), st.just("")),
    ),
    min_size=1,
    max_size=5,
)


def _drift(client: Client, fqdn: str, ops: list[tuple[str, Any]]) -> None:
    mlist = client.get_list(fqdn)
    # Banning everyone goes last: Mailman refuses to add an owner to such a list.
    for op, arg in sorted(ops, key=lambda o: o[0] == "disable_by_hand"):
        if op == "setting":
            key, value = arg
            config = mlist.settings
            config[key] = value
            config.save()
        elif op == "add_owner" and arg.lower() not in [o.email for o in mlist.owners]:
            mlist.add_owner(arg)
        elif op == "remove_owner" and arg in [o.email for o in mlist.owners]:
            mlist.remove_owner(arg)
        elif op == "add_moderator" and arg not in [m.email for m in mlist.moderators]:
            mlist.add_moderator(arg)
        elif op == "remove_moderator" and arg in [m.email for m in mlist.moderators]:
            mlist.remove_moderator(arg)
        elif op == "disable_by_hand":
            config = mlist.settings
            config["emergency"] = True
            config.save()
            if DISABLE_BAN not in [b.email for b in mlist.bans]:
                mlist.bans.add(DISABLE_BAN)


@REAL_CORE
@given(ops=drift_ops)
def test_any_hand_made_drift_is_repaired_by_one_apply(
    run: Run, prop_site: Path, core_env: None, mailman_client: Client, ops: list[Any]
) -> None:
    (prop_site / "lists" / "prop.yaml").write_text(
        dump_yaml(
            {
                "description": "Drift target.",
                "owners": ["alice@example.org", "bob@example.org"],
                "moderators": ["carol.d@example.net"],
            }
        )
    )
    assert apply(run, prop_site).status == 0
    _drift(mailman_client, "prop@properties.example.org", ops)
    repaired = apply(run, prop_site)
    assert repaired.status == 0, repaired.out + repaired.err
    planned = plan(run, prop_site)
    assert planned.status == 0, planned.out


FAULTS = st.sampled_from([400, 500, 503, DROP, STALL, LOSE, Replaced(503)])
filter_examples = itertools.count()


SPAM = HeaderRule("x-spam-flag", "^YES", "discard")
BOT = HeaderRule("from", r"bot@example\.org", "accept")


@REAL_CORE
@given(
    rules=rewrites(),
    faults=st.dictionaries(st.integers(1, 6), FAULTS, min_size=1, max_size=3),
)
# Two ordinary edits listsync once wrote so that, stopped at the third or second write,
# spam forging the bot's From was accepted (see test_header_filters).
@example(rules=((SPAM, BOT), (HeaderRule("x-spam-flag", "^YES$", "discard"), BOT)), faults={3: 400})
@example(rules=((HeaderRule(BOT.header, BOT.pattern, "hold"), SPAM), (SPAM, BOT)), faults={2: 500})
def test_random_faults_in_a_header_filter_rewrite_never_open_it_and_the_next_apply_converges(
    run: Run,
    tmp_path: Path,
    domain: str,
    connected: Proxy,
    mailman_client: Client,
    rules: tuple[tuple[HeaderRule, ...], tuple[HeaderRule, ...]],
    faults: dict[int, Action],
) -> None:
    """Whatever writes of the rewrite are refused, fail or lose their answer, what Mailman
    has is no more open than the old or the new rules for every probe message
    (`header_chain`), emergency moderation is untouched, and one apply finishes it."""
    old, new = rules
    name = f"f{next(filter_examples)}"
    fqdn = f"{name}@{domain}"
    owner = "owners: [owner@example.org]\n"
    site = make_site(tmp_path / name, domain, {name: owner + rules_yaml(old)})
    assert apply(run, site).status == 0
    (site / "lists" / f"{name}.yaml").write_text(owner + rules_yaml(new))
    writes = {"count": 0}

    def fault(number: int, method: str, path: str) -> Action | None:
        if method == "GET":
            return None
        writes["count"] += 1
        return faults.get(writes["count"])

    connected.recorder.fault = fault
    apply(run, site, "--retries", "1", "--timeout", "1")
    connected.recorder.fault = None

    def live() -> tuple[HeaderRule, ...]:
        matches = mailman_client.get_list(fqdn).header_matches
        return tuple(HeaderRule(r.header, r.pattern, r.action) for r in matches)

    stopped = live()
    assert too_open(stopped, old, new, probes(old, new)) == [], stopped
    assert mailman_client.get_list(fqdn).settings["emergency"] is False
    converged = apply(run, site)
    assert converged.status == 0, converged.out + converged.err
    assert live() == new
    planned = plan(run, site)
    assert planned.status == 0, planned.out
