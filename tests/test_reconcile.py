"""plan and apply against the real Mailman core: the reconciler's guarantees."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from mailmanclient import Client

from helpers import Run, apply, connect, make_site, output_lines, plan, write_site
from mailman_core import MailmanCore
from proxy import Proxy

pytestmark = pytest.mark.compat

TOR_DEV = """\
description: Development related discussion list.
owners: [teor@example.org, pili@example.org]
moderators: [gaba@example.org]
"""
INTERNAL = """\
description: Internal discussion list.
visibility: private
posting: members
subscription: closed
owners: [arma@example.org]
"""
ANNOUNCE = """\
description: Announcement of new Tor releases.
category: notification
posting: announce
archive: public
dmarc: {mitigation: wrap_message}
owners: [nickm@example.org, weasel@example.org]
settings:
  max_message_size: 100
  acceptable_aliases: ['^tor-announce-.*@example\\.org$']
"""


@pytest.fixture
def site(tmp_path: Path, domain: str) -> Path:
    return make_site(
        tmp_path, domain, {"tor-dev": TOR_DEV, "tor-internal": INTERNAL, "tor-announce": ANNOUNCE}
    )


def test_apply_creates_configures_and_converges(
    run: Run, site: Path, domain: str, connected: Proxy, mailman_client: Client
) -> None:
    first = plan(run, site)
    assert first.status == 2
    assert f"+ domain {domain} (create)" in first.out
    assert f"+ tor-dev@{domain} (create)" in first.out
    assert "Plan: 3 to create, 0 to update, 0 to disable, 0 to enable, 0 unchanged" in first.out

    applied = apply(run, site)
    assert applied.status == 0, applied.err
    assert "Applied 3 list(s), 0 failed." in applied.out

    mlist = mailman_client.get_list(f"tor-announce@{domain}")
    config = mlist.settings
    assert config["dmarc_mitigate_action"] == "wrap_message"
    assert config["dmarc_mitigate_unconditionally"] is True
    assert config["reply_goes_to_list"] == "no_munging"
    assert config["default_nonmember_action"] == "reject"
    assert config["max_message_size"] == 100
    assert config["acceptable_aliases"] == ["^tor-announce-.*@example\\.org$"]
    assert sorted(o.email for o in mlist.owners) == ["nickm@example.org", "weasel@example.org"]
    internal = mailman_client.get_list(f"tor-internal@{domain}").settings
    assert internal["advertised"] is False
    assert internal["archive_policy"] == "private"
    assert internal["subscription_policy"] == "moderate"
    dev = mailman_client.get_list(f"tor-dev@{domain}")
    assert [m.email for m in dev.moderators] == ["gaba@example.org"]
    assert dev.settings["archive_policy"] == "public"

    again = plan(run, site)
    assert again.status == 0, again.out
    assert "No changes." in again.out
    assert "Plan: 0 to create, 0 to update, 0 to disable, 0 to enable, 3 unchanged" in again.out

    connected.recorder.clear()
    idle = apply(run, site)
    assert idle.status == 0
    assert connected.recorder.reads, "apply must have read the live state"
    assert connected.recorder.writes == []


def test_hand_made_drift_is_planned_exactly_and_repaired(
    run: Run, site: Path, domain: str, connected: Proxy, mailman_client: Client
) -> None:
    assert apply(run, site).status == 0
    mlist = mailman_client.get_list(f"tor-dev@{domain}")
    settings = mlist.settings
    settings["dmarc_mitigate_action"] = "no_mitigation"
    settings["archive_policy"] = "never"
    settings.save()
    mlist.add_owner("Intruder@Example.org")

    drift = plan(run, site)
    assert drift.status == 2
    body = output_lines(drift)
    start = body.index(f"~ tor-dev@{domain} (update)")
    # mitigation first, the intruder out, and the archive opened last
    assert body[start + 1 : start + 4] == [
        '~ dmarc_mitigate_action: "no_mitigation" -> "munge_from"',
        "- owner intruder@example.org",
        '~ archive_policy: "never" -> "public"',
    ]
    assert "Plan: 0 to create, 1 to update, 0 to disable, 0 to enable, 2 unchanged" in drift.out

    assert apply(run, site).status == 0
    repaired = mailman_client.get_list(f"tor-dev@{domain}")
    assert repaired.settings["archive_policy"] == "public"
    assert "intruder@example.org" not in [o.email for o in repaired.owners]
    assert plan(run, site).status == 0


def test_disable_then_enable_restores_declared_state(
    run: Run, site: Path, domain: str, connected: Proxy, mailman_client: Client
) -> None:
    assert apply(run, site).status == 0
    before = dict(mailman_client.get_list(f"tor-dev@{domain}").settings)
    spec = site / "lists" / "tor-dev.yaml"
    spec.write_text(TOR_DEV + "disabled: true\n")

    planned = plan(run, site)
    assert f"~ tor-dev@{domain} (disable)" in planned.out
    assert "+ ban ^.*@.*" in planned.out
    assert "Plan: 0 to create, 0 to update, 1 to disable, 0 to enable" in planned.out
    assert apply(run, site).status == 0

    disabled = mailman_client.get_list(f"tor-dev@{domain}")
    assert [o.email for o in disabled.owners] == ["devnull@example.org"]
    assert list(disabled.moderators) == []
    assert [b.email for b in disabled.bans] == ["^.*@.*"]
    config = disabled.settings
    assert config["default_member_action"] == "reject"
    assert config["default_nonmember_action"] == "reject"
    assert config["advertised"] is False
    assert config["emergency"] is True
    assert config["description"] == "[Disabled] Development related discussion list."
    assert plan(run, site).status == 0

    spec.write_text(TOR_DEV + "disabled: false\n")
    enabling = plan(run, site)
    assert f"~ tor-dev@{domain} (enable)" in enabling.out
    assert apply(run, site).status == 0
    enabled = mailman_client.get_list(f"tor-dev@{domain}")
    assert sorted(o.email for o in enabled.owners) == ["pili@example.org", "teor@example.org"]
    assert [m.email for m in enabled.moderators] == ["gaba@example.org"]
    assert list(enabled.bans) == []
    after = dict(enabled.settings)
    ignored = {"last_post_at", "http_etag", "volume", "next_digest_number"}
    assert {k: v for k, v in after.items() if k not in ignored} == {
        k: v for k, v in before.items() if k not in ignored
    }
    assert plan(run, site).status == 0


def test_a_refused_change_fails_its_list_alone(
    run: Run, site: Path, domain: str, connected: Proxy, mailman_client: Client
) -> None:
    (site / "lists" / "broken.yaml").write_text(
        "owners: [alice@example.org]\nsettings:\n  max_message_size: 7\n"
    )
    patches = {"broken": 0}

    def refuse_broken_settings(number: int, method: str, path: str) -> int | None:
        if method == "PATCH" and f"/lists/broken.{domain}/config" in path:
            patches["broken"] += 1
            return 400 if patches["broken"] > 1 else None  # after the lockdown
        return None

    connected.recorder.fault = refuse_broken_settings
    result = apply(run, site)
    connected.recorder.fault = None
    assert result.status == 1
    assert "Applied 3 list(s), 1 failed: broken." in result.out
    failure = [line for line in result.err.splitlines() if line.startswith("failed: broken")]
    assert len(failure) == 1
    assert "max_message_size" in failure[0]
    assert "HTTP 400" in failure[0]
    names = sorted(m.list_name for m in mailman_client.get_domain(domain).lists)
    assert names == ["broken", "tor-announce", "tor-dev", "tor-internal"]
    assert mailman_client.get_list(f"tor-internal@{domain}").settings["advertised"] is False
    remaining = plan(run, site)
    assert f"~ broken@{domain} (update)" in remaining.out
    assert "~ max_message_size: 40 -> 7" in remaining.out
    assert "~ advertised: false -> true" in remaining.out, "still locked down"
    assert apply(run, site).status == 0
    assert plan(run, site).status == 0


def test_unmanaged_and_removed_lists_are_left_alone(
    run: Run, site: Path, domain: str, connected: Proxy, mailman_client: Client
) -> None:
    assert apply(run, site).status == 0
    mailman_client.get_domain(domain).create_list("by-hand")
    (site / "lists" / "tor-internal.yaml").unlink()
    connected.recorder.clear()

    planned = plan(run, site, "--format", "json")
    data = json.loads(planned.out)
    actions = {entry["name"]: entry["action"] for entry in data["lists"]}
    assert actions == {
        "by-hand": "unmanaged",
        "tor-announce": "unchanged",
        "tor-dev": "unchanged",
        "tor-internal": "unmanaged",
    }
    assert data["has_changes"] is False
    assert planned.status == 0
    assert apply(run, site).status == 0
    assert connected.recorder.writes == []
    names = sorted(m.list_name for m in mailman_client.get_domain(domain).lists)
    assert names == ["by-hand", "tor-announce", "tor-dev", "tor-internal"]


def test_a_plan_lists_the_domain_in_full_only_when_it_holds_other_lists(
    run: Run, site: Path, domain: str, connected: Proxy, mailman_client: Client
) -> None:
    assert apply(run, site).status == 0

    def listings() -> list[str]:
        return [path for _, path in connected.recorder.reads if f"domains/{domain}/lists" in path]

    connected.recorder.clear()
    assert plan(run, site).status == 0
    assert [path.split("?")[1] for path in listings()] == ["count=1&page=1"]  # the count alone

    mailman_client.get_domain(domain).create_list("by-hand")
    connected.recorder.clear()
    planned = plan(run, site, "--format", "json")
    assert planned.status == 0
    actions = {entry["name"]: entry["action"] for entry in json.loads(planned.out)["lists"]}
    assert actions["by-hand"] == "unmanaged"
    assert len(listings()) == 2  # the count, then the names: one list is not in a file


def test_plan_formats_and_out_file(run: Run, site: Path, domain: str, connected: Proxy) -> None:
    markdown = plan(run, site, "--format", "markdown")
    assert f"#### `tor-dev@{domain}`: create" in markdown.out
    assert "```diff\n+ owner pili@example.org\n+ owner teor@example.org\n" in markdown.out
    out = site / "plan.json"
    written = plan(run, site, "--format", "json", "--out", str(out))
    assert written.status == 2
    assert written.out == ""
    data = json.loads(out.read_text())
    assert data["format_version"] == 1
    assert data["create_domain"] is True
    assert data["summary"]["create"] == 3
    dev = next(entry for entry in data["lists"] if entry["name"] == "tor-dev")
    assert dev["changes"][0] == {
        "type": "create_list",
        "locked_down": {
            "advertised": False,
            "emergency": True,
            "archive_policy": "never",
            "subscription_policy": "moderate",
            "default_member_action": "hold",
            "default_nonmember_action": "hold",
            "dmarc_mitigate_action": "munge_from",
            "dmarc_mitigate_unconditionally": True,
        },
    }
    # a new list's settings come in one PATCH, last: it stays locked down until then
    settings = [c for c in dev["changes"] if c["type"] == "update_settings"]
    assert [c["stage"] for c in settings] == ["open"]
    assert dev["changes"][-1] == settings[0]
    keys = {s["key"] for s in settings[0]["settings"]}
    assert {"description", "advertised"} <= keys  # configuring and opening together
    assert {"type": "add_member", "role": "moderator", "address": "gaba@example.org"} in (
        dev["changes"]
    )


def test_planning_named_lists_reads_only_those(
    run: Run, site: Path, domain: str, connected: Proxy
) -> None:
    assert apply(run, site).status == 0
    connected.recorder.clear()
    result = plan(run, site, "--list", "tor-dev")
    assert result.status == 0
    paths = [path for _, path in connected.recorder.requests]
    assert any("tor-dev" in path for path in paths)
    assert not any("tor-announce" in path or "tor-internal" in path for path in paths)
    assert not any("members/find" in path for path in paths)


def test_bad_input_writes_nothing(run: Run, site: Path, connected: Proxy) -> None:
    (site / "lists" / "tor-dev.yaml").write_text("owners: [nobody]\n")
    result = apply(run, site)
    assert result.status == 1
    assert "lists/tor-dev.yaml:1:10: owners[0]: 'nobody' is not an e-mail address" in result.out
    assert connected.recorder.requests == []


def test_secrets_never_printed(
    run: Run, site: Path, mailman_core: MailmanCore, monkeypatch: pytest.MonkeyPatch
) -> None:
    connect(monkeypatch, mailman_core)
    monkeypatch.setenv("MAILMAN_REST_PASSWORD", "wrong-" + mailman_core.password)
    denied = apply(run, site)
    assert denied.status == 1
    assert "401" in denied.err
    monkeypatch.setenv("MAILMAN_REST_PASSWORD", mailman_core.password)
    (site / "lists" / "broken.yaml").write_text(
        "owners: [alice@example.org]\nsettings:\n  preferred_language: xx\n"
    )
    failing = apply(run, site)
    assert failing.status == 1
    planned = plan(run, site, "--format", "json")
    for result in (denied, failing, planned):
        assert mailman_core.password not in result.out + result.err


def test_unreachable_mailman_is_one_clear_line(
    run: Run, site: Path, monkeypatch: pytest.MonkeyPatch, unused_port: int
) -> None:
    monkeypatch.setenv("MAILMAN_REST_URL", f"http://127.0.0.1:{unused_port}/3.1")
    monkeypatch.setenv("MAILMAN_REST_USER", "restadmin")
    monkeypatch.setenv("MAILMAN_REST_PASSWORD", "topsecret-value")
    for result in (plan(run, site), apply(run, site)):
        assert result.status == 1
        assert result.err.strip().splitlines() == [
            f"error: cannot reach Mailman at http://127.0.0.1:{unused_port}/3.1/: ConnectionError"
        ]
        assert "Traceback" not in result.out + result.err
        assert "topsecret-value" not in result.out + result.err


def test_apply_without_terminal_or_yes_refuses(run: Run, site: Path, connected: Proxy) -> None:
    result = run("--root", str(site), "apply")
    assert result.status == 1
    assert "refusing to apply without confirmation: no terminal; pass --yes" in result.err
    assert connected.recorder.writes == []


def test_plan_out_to_an_unwritable_place_is_one_line(
    run: Run, site: Path, connected: Proxy, tmp_path: Path
) -> None:
    target = tmp_path / "no-such-dir" / "plan.md"
    result = plan(run, site, "--out", str(target))
    assert result.status == 1
    assert result.err.strip().splitlines()[-1] == (
        f"error: cannot write {target}: No such file or directory"
    )


def _many_lists(site: Path, count: int) -> list[str]:
    names = [f"bulk-{i:02d}" for i in range(count)]
    for i, name in enumerate(names):
        moderators = f"[Mod{i}@Example.org]" if i % 2 else "[]"
        (site / "lists" / f"{name}.yaml").write_text(
            f"owners: ['Owner {i} <owner{i}@example.org>', shared@example.org]\n"
            f"moderators: {moderators}\n"
        )
    return names


def test_a_full_plan_reads_each_list_once_and_rosters_in_bulk(
    run: Run, site: Path, domain: str, connected: Proxy, mailman_client: Client
) -> None:
    names = _many_lists(site, 10)
    mailman_client.create_domain(domain)  # else a new domain of 10 lists needs --force
    assert apply(run, site).status == 0
    connected.recorder.clear()
    assert plan(run, site).status == 0
    paths = [path for _, path in connected.recorder.requests]
    configs = [p for p in paths if p.endswith("/config")]
    assert len(configs) == len(names) + 3
    assert len([p for p in paths if "members/find" in p]) == 2
    assert not any("/roster/" in p for p in paths)
    assert not any(p.rstrip("/").endswith(f"domains/{domain}") for p in paths)
    assert len(paths) == len(configs) + 2 + 1 + 1  # and the list of lists, the server's version

    mlist = mailman_client.get_list(f"bulk-03@{domain}")
    mlist.add_owner("Intruder@Example.org")
    mlist.remove_moderator("mod3@example.org")
    drift = plan(run, site)
    assert drift.status == 2
    body = output_lines(drift)
    start = body.index(f"~ bulk-03@{domain} (update)")
    assert body[start + 1 : start + 3] == [
        "+ moderator mod3@example.org",
        "- owner intruder@example.org",
    ]
    assert "Plan: 0 to create, 1 to update" in drift.out


def test_planning_a_named_list_sends_only_its_own_reads(
    run: Run, site: Path, domain: str, connected: Proxy
) -> None:
    assert apply(run, site).status == 0
    connected.recorder.clear()
    assert plan(run, site, "--list", "tor-dev").status == 0
    paths = sorted(path.split("?")[0].split("/3.1/")[1] for _, path in connected.recorder.requests)
    lid = f"tor-dev.{domain}"
    assert paths == [
        f"lists/{lid}/config",
        f"lists/{lid}/roster/moderator",
        f"lists/{lid}/roster/owner",
        "system/versions",
    ]


def test_planning_a_named_list_of_a_new_domain(
    run: Run, site: Path, domain: str, connected: Proxy
) -> None:
    result = plan(run, site, "--list", "tor-dev")
    assert result.status == 2
    assert f"+ domain {domain} (create)" in result.out
    assert f"+ tor-dev@{domain} (create)" in result.out
    assert apply(run, site, "--list", "tor-dev").status == 0
    assert plan(run, site, "--list", "tor-dev").status == 0


def test_a_list_that_says_nothing_of_posting_gets_mailmans_default(
    run: Run, site: Path, domain: str, connected: Proxy, mailman_client: Client
) -> None:
    assert apply(run, site).status == 0
    by_hand = mailman_client.create_domain(f"by-hand.{domain}").create_list("plain")
    mailmans = {
        k: by_hand.settings[k] for k in ("default_member_action", "default_nonmember_action")
    }
    assert mailmans == {"default_member_action": "defer", "default_nonmember_action": "hold"}
    dev = mailman_client.get_list(f"tor-dev@{domain}").settings
    assert {k: dev[k] for k in mailmans} == mailmans, "tor-dev says nothing about posting"


def test_a_list_setting_of_one_empty_string_converges(
    run: Run, tmp_path: Path, domain: str, connected: Proxy, mailman_client: Client
) -> None:
    """The form encoding sends [''] as '', which Mailman reads as no item: the plan holds
    it for [] too, so the list converges instead of showing drift forever."""
    settings = "settings:\n  filter_types: ['']\n  pass_types: ['', text/plain]\n"
    site = write_site(
        tmp_path,
        {"probe": "owners: [alice@example.org]\n" + settings},
        config=f"domain: {domain}\n",
    )
    applied = apply(run, site)
    assert applied.status == 0, applied.err
    config = mailman_client.get_list(f"probe@{domain}").settings
    assert (config["filter_types"], config["pass_types"]) == ([], ["", "text/plain"])
    again = plan(run, site)
    assert again.status == 0, again.out
