"""Message acceptance as code: `nonmembers:`, `header_filters:` and `bans:` against the real core.

Declared (even empty), listsync owns that part of a list; omitted, it leaves
it alone. Every state is read back with Mailman's own client, never from
listsync; every write is counted by the recording proxy.
"""

from __future__ import annotations

import json
import uuid
from collections.abc import Mapping, Sequence
from pathlib import Path

import pytest
from mailmanclient import Client

from helpers import Run, apply, make_site, output_lines, plan, write_site
from proxy import LOSE, Action, Fault, Proxy, Replaced

Rule = tuple[str, str, str | None]

OWNER = "owners: [owner@example.org]\n"
FIRST = OWNER + (
    "nonmembers:\n"
    "  Commits@GitLab.TorProject.org: accept\n"
    "  old@example.org: hold\n"
    "header_filters:\n"
    "  - {header: X-Spam-Flag, pattern: '^YES', action: hold}\n"
    "  - {header: X-Bulk, pattern: '.'}\n"
    "  - {header: List-Id, pattern: spam, action: discard}\n"
    "bans: ['^.*@spam[.]example$', troll@example.com]\n"
)
SECOND = OWNER + (
    "nonmembers:\n"
    "  commits@gitlab.torproject.org: accept\n"
    "  old@example.org: discard\n"
    "  ci+bot@example.org: reject\n"
    "header_filters:\n"
    "  - {header: List-Id, pattern: spam, action: hold}\n"
    "  - {header: X-Spam-Flag, pattern: '^YES'}\n"
    "  - {header: X-Mailer, pattern: BadBot, action: reject}\n"
    "bans: ['^.*@spam[.]example$', other@example.net]\n"
)
SPAM_BAN = "^.*@spam[.]example$"  # no backslash: see test_a_ban_with_a_backslash_is_lifted


@pytest.fixture
def fresh(domain: str) -> str:
    """A domain of this test run's own (the shared slug is cut before a parameter's id)."""
    return f"u{uuid.uuid4().hex[:8]}.{domain}"


def nonmembers(client: Client, fqdn: str) -> dict[str, str | None]:
    return {m.email: m.moderation_action for m in client.get_list(fqdn).nonmembers}


def header_filters(client: Client, fqdn: str) -> list[Rule]:
    """In Mailman's order (by position)."""
    return [(r.header, r.pattern, r.action) for r in client.get_list(fqdn).header_matches]


def bans(client: Client, fqdn: str) -> list[str]:
    return sorted(b.email for b in client.get_list(fqdn).bans)


def by_hand(
    client: Client,
    fqdn: str,
    people: Mapping[str, str | None],
    rules: Sequence[Rule] = (),
    banned: Sequence[str] = (),
) -> None:
    """What a list admin does in Postorius: non-member actions, header filters, bans."""
    mlist = client.get_list(fqdn)
    for address, action in people.items():
        mlist.add_role("nonmember", address)
        if action is not None:
            member = mlist.get_nonmember(address)
            member.moderation_action = action
            member.save()
    for header, pattern, rule_action in rules:
        mlist.header_matches.add(header, pattern, rule_action)
    for pattern in banned:
        mlist.bans.add(pattern)


# -- validation -----------------------------------------------------------------------------


INVALID = {  # id: (what follows the owners line, the one error validate reports)
    "nonmember-action": (
        "nonmembers:\n  bot@example.org: allow\n",
        "3:20: nonmembers.bot@example.org: 'allow' is not one of: accept, hold, reject, discard",
    ),
    "nonmember-display-name": (
        "nonmembers:\n  'Bot <bot@example.org>': accept\n",
        "3:3: nonmembers.Bot <bot@example.org>: 'Bot <bot@example.org>': write the bare"
        " address, without a display name",
    ),
    "nonmember-not-an-address": (
        "nonmembers:\n  nobody: hold\n",
        "3:3: nonmembers.nobody: 'nobody' is not an e-mail address",
    ),
    "filter-regex": (
        "header_filters:\n  - {header: X-Spam, pattern: '^(YES'}\n",
        "3:31: header_filters[0].pattern: not a valid regular expression: missing ),",
    ),
    "filter-action": (
        "header_filters:\n  - {header: X-Spam, pattern: a, action: defer}\n",
        "3:42: header_filters[0].action: 'defer' is not one of: accept, hold, reject, discard",
    ),
    "filter-twice": (
        "header_filters:\n  - {header: X-Spam, pattern: a}\n  - {header: x-spam, pattern: a}\n",
        "4:5: header_filters[1]: header 'x-spam' with pattern 'a' is listed twice",
    ),
    "ban-regex": (
        "bans: [ok@example.org, '^(bad']\n",
        "2:24: bans[1]: not a valid regular expression: missing ),",
    ),
    "ban-everyone": (
        "bans: ['^.*@.*']\n",
        "2:8: bans[0]: ^.*@.* bans everyone: write 'disabled: true' to retire a list",
    ),
    "disabled-accepts-nonmember": (
        "disabled: true\nnonmembers:\n  bot@example.org: accept\n",
        "4:20: nonmembers.bot@example.org: a disabled list lets nothing through:"
        " no rule of it may accept",
    ),
    "disabled-accepts-header": (
        "disabled: true\nheader_filters:\n  - {header: X-Ok, pattern: ok, action: accept}\n",
        "4:41: header_filters[0].action: a disabled list lets nothing through:"
        " no rule of it may accept",
    ),
}


@pytest.mark.parametrize(("text", "message"), INVALID.values(), ids=INVALID.keys())
def test_validate_names_file_line_column_and_field(
    run: Run, tmp_path: Path, text: str, message: str
) -> None:
    site = write_site(tmp_path, {"rules": OWNER + text})
    result = run("--root", str(site), "validate")
    assert result.status == 1
    assert f"lists/rules.yaml:{message}" in result.out, result.out
    assert "0 valid list file(s), 1 error(s)" in result.out, result.out


# -- plan and apply -------------------------------------------------------------------------


@pytest.mark.compat
def test_declared_rules_are_planned_applied_exactly_and_converge(
    run: Run, tmp_path: Path, fresh: str, connected: Proxy, mailman_client: Client
) -> None:
    fqdn = f"rules@{fresh}"
    site = make_site(tmp_path, fresh, {"rules": FIRST})
    created = plan(run, site)
    assert created.status == 2
    assert {
        "+ nonmember commits@gitlab.torproject.org: accept",
        "+ nonmember old@example.org: hold",
        "+ header filter x-spam-flag ~ ^YES -> hold",
        "+ header filter x-bulk ~ . -> site default",
        "+ ban troll@example.com",
        f"+ ban {SPAM_BAN}",
    } <= set(output_lines(created)), created.out
    assert apply(run, site).status == 0
    assert nonmembers(mailman_client, fqdn) == {
        "commits@gitlab.torproject.org": "accept",
        "old@example.org": "hold",
    }
    assert header_filters(mailman_client, fqdn) == [
        ("x-spam-flag", "^YES", "hold"),
        ("x-bulk", ".", None),
        ("list-id", "spam", "discard"),
    ]
    assert bans(mailman_client, fqdn) == sorted([SPAM_BAN, "troll@example.com"])
    connected.recorder.clear()
    assert apply(run, site).status == 0
    assert connected.recorder.writes == []

    # A list admin's changes in Postorius, then a new version of the file.
    people = {"stale@example.org": "reject", "passive@example.org": None}
    by_hand(mailman_client, fqdn, people, [("X-By-Hand", "x", "reject")], ["left@example.org"])
    (site / "lists" / "rules.yaml").write_text(SECOND)
    changed = plan(run, site)
    assert changed.status == 2
    body = output_lines(changed)
    assert {
        "+ nonmember ci+bot@example.org: reject",
        "~ nonmember old@example.org: hold -> discard",
        "- nonmember stale@example.org: reject (back to the list's default)",
        "- header filter x-spam-flag ~ ^YES -> hold",
        "+ header filter x-spam-flag ~ ^YES -> site default",
        "- header filter x-bulk ~ . -> site default",
        "- header filter x-by-hand ~ x -> reject",
        "+ header filter x-mailer ~ BadBot -> reject",
        "+ ban other@example.net",
        "- ban left@example.org",
        "- ban troll@example.com",
    } <= set(body), changed.out
    assert not [line for line in body if "passive@" in line or SPAM_BAN in line], changed.out
    changes = json.loads(plan(run, site, "--format", "json").out)["lists"][0]["changes"]
    assert {
        "type": "set_nonmember",
        "address": "ci+bot@example.org",
        "existing": None,
        "desired": "reject",
        "on_roster": False,
    } in changes
    (filters,) = [c for c in changes if c["type"] == "set_header_filters"]
    existing = [r["header"] for r in filters["existing"]]
    assert existing == ["x-spam-flag", "x-bulk", "list-id", "x-by-hand"]
    assert filters["desired"][0] == {"header": "list-id", "pattern": "spam", "action": "hold"}
    assert {"type": "add_ban", "pattern": "other@example.net"} in changes

    assert apply(run, site).status == 0
    assert nonmembers(mailman_client, fqdn) == {
        "commits@gitlab.torproject.org": "accept",
        "old@example.org": "discard",
        "ci+bot@example.org": "reject",
        "stale@example.org": None,
        "passive@example.org": None,
    }, "cleared, never deleted"
    assert header_filters(mailman_client, fqdn) == [
        ("list-id", "spam", "hold"),
        ("x-spam-flag", "^YES", None),
        ("x-mailer", "BadBot", "reject"),
    ]
    assert bans(mailman_client, fqdn) == sorted([SPAM_BAN, "other@example.net"])
    assert plan(run, site).status == 0
    connected.recorder.clear()
    assert apply(run, site).status == 0
    assert connected.recorder.writes == []

    # Declared empty: listsync still owns them, so none is left.
    (site / "lists" / "rules.yaml").write_text(
        OWNER + "nonmembers: {}\nheader_filters: []\nbans: []\n"
    )
    assert apply(run, site).status == 0
    assert set(nonmembers(mailman_client, fqdn).values()) == {None}
    assert (header_filters(mailman_client, fqdn), bans(mailman_client, fqdn)) == ([], [])
    assert plan(run, site).status == 0


@pytest.mark.compat
def test_disabling_adds_only_its_own_ban_and_keeps_the_declared_ones(
    run: Run, tmp_path: Path, fresh: str, connected: Proxy, mailman_client: Client
) -> None:
    fqdn = f"rules@{fresh}"
    declared = f"nonmembers: {{old@example.org: discard}}\nbans: ['{SPAM_BAN}']\n"
    site = make_site(tmp_path, fresh, {"rules": OWNER + declared})
    assert apply(run, site).status == 0
    (site / "lists" / "rules.yaml").write_text(OWNER + "disabled: true\n" + declared)
    disabling = output_lines(plan(run, site))
    assert "+ ban ^.*@.*" in disabling
    assert not [line for line in disabling if SPAM_BAN in line]
    assert apply(run, site).status == 0
    assert bans(mailman_client, fqdn) == sorted(["^.*@.*", SPAM_BAN])
    assert nonmembers(mailman_client, fqdn) == {"old@example.org": "discard"}
    assert plan(run, site).status == 0

    (site / "lists" / "rules.yaml").write_text(OWNER + "disabled: true\nbans: []\n")
    assert apply(run, site).status == 0
    assert bans(mailman_client, fqdn) == ["^.*@.*"], "bans: [] never lifts the disable ban"
    (site / "lists" / "rules.yaml").write_text(OWNER + declared)
    assert apply(run, site).status == 0
    assert bans(mailman_client, fqdn) == [SPAM_BAN]
    assert plan(run, site).status == 0


@pytest.mark.compat
def test_a_list_without_the_keys_keeps_hand_made_rules(
    run: Run, tmp_path: Path, fresh: str, connected: Proxy, mailman_client: Client
) -> None:
    site = make_site(tmp_path, fresh, {"plain": OWNER, "only-bans": OWNER + "bans: []\n"})
    assert apply(run, site).status == 0
    for name in ("plain", "only-bans"):
        rules = [("X-Spam-Flag", "^YES", "discard")]
        by_hand(
            mailman_client, f"{name}@{fresh}", {"bot@example.org": "accept"}, rules, ["t@x.org"]
        )
    connected.recorder.clear()
    assert plan(run, site, "--list", "plain").status == 0
    paths = [path for _, path in connected.recorder.requests]
    assert not [p for p in paths if "header-matches" in p or "nonmember" in p or "/bans" in p]

    connected.recorder.clear()
    assert apply(run, site).status == 0
    assert connected.recorder.writes == [("DELETE", f"/3.1/lists/only-bans.{fresh}/bans/t@x.org")]
    for name, banned in (("plain", ["t@x.org"]), ("only-bans", [])):
        fqdn = f"{name}@{fresh}"
        assert nonmembers(mailman_client, fqdn) == {"bot@example.org": "accept"}
        assert header_filters(mailman_client, fqdn) == [("x-spam-flag", "^YES", "discard")]
        assert bans(mailman_client, fqdn) == banned


# -- import ---------------------------------------------------------------------------------


@pytest.mark.compat
def test_hand_made_rules_import_and_plan_no_change(
    run: Run, tmp_path: Path, fresh: str, connected: Proxy, mailman_client: Client
) -> None:
    site = make_site(tmp_path, fresh, {})
    mlist = mailman_client.create_domain(fresh).create_list("legacy")
    mlist.add_owner("owner@example.org")
    by_hand(
        mailman_client,
        f"legacy@{fresh}",
        {
            "Commits@GitLab.example.org": "accept",
            "spam@example.net": "discard",
            "x@example.net": None,
        },
        [("X-Spam-Flag", "^YES", "hold"), ("Subject", "viagra", None), ("X-Bulk", ".", "reject")],
        ["troll@example.com", SPAM_BAN],
    )
    connected.recorder.clear()
    imported = run("--root", str(site), "import", "--list", "legacy")
    assert imported.status == 0, imported.out + imported.err
    assert connected.recorder.writes == []
    text = (site / "lists" / "legacy.yaml").read_text()
    assert (
        "nonmembers:\n"
        "  commits@gitlab.example.org: accept\n"
        "  spam@example.net: discard\n"
        "header_filters:\n"
        "  - header: x-spam-flag\n"
        "    pattern: ^YES\n"
        "    action: hold\n"
        "  - header: subject\n"
        "    pattern: viagra\n"
        "  - header: x-bulk\n"
        "    pattern: .\n"
        "    action: reject\n"
        "bans:\n"
        f"  - {SPAM_BAN}\n"
        "  - troll@example.com\n"
    ) in text, text
    assert "x@example.net" not in text, "a non-member without an action is no rule"

    planned = plan(run, site, "--format", "json")
    assert planned.status == 0, planned.out
    assert json.loads(planned.out)["has_changes"] is False
    connected.recorder.clear()
    assert apply(run, site).status == 0
    assert connected.recorder.writes == []


# -- failures -------------------------------------------------------------------------------

BEFORE = OWNER + (
    "nonmembers: {old@example.org: hold}\n"
    "header_filters:\n"
    "  - {header: A, pattern: a, action: hold}\n"
    "  - {header: B, pattern: b}\n"
    "  - {header: C, pattern: c, action: discard}\n"
)
AFTER = OWNER + (
    "nonmembers: {old@example.org: discard, new@example.org: accept}\n"
    "header_filters:\n"
    "  - {header: C, pattern: c, action: discard}\n"
    "  - {header: D, pattern: d, action: reject}\n"
    "  - {header: A, pattern: a, action: reject}\n"
)


def on_request(method: str, fragment: str, nth: int, action: Action) -> Fault:
    """`action` on the nth `method` request whose path holds `fragment`; the rest go through."""
    seen = {"count": 0}

    def fault(number: int, request_method: str, path: str) -> Action | None:
        if request_method != method or fragment not in path:
            return None
        seen["count"] += 1
        return action if seen["count"] == nth else None

    return fault


@pytest.mark.compat
@pytest.mark.parametrize(
    ("fault", "retries", "fails"),
    [
        pytest.param(("POST", "header-matches", 1, LOSE), "0", True, id="filter-post-lost"),
        pytest.param(("POST", "header-matches", 1, LOSE), "2", False, id="filter-post-retried"),
        pytest.param(("PATCH", "header-matches", 1, 500), "2", True, id="filter-action-500"),
        pytest.param(
            ("DELETE", "header-matches", 1, Replaced(502)), "2", True, id="filter-delete-502"
        ),
        pytest.param(("PATCH", "header-matches", 2, 503), "2", True, id="filter-move-503"),
        pytest.param(("PATCH", "/nonmember/", 1, 500), "2", True, id="nonmember-500"),
        pytest.param(("POST", "/members", 1, LOSE), "0", True, id="nonmember-post-lost"),
    ],
)
def test_a_failed_rule_write_fails_the_list_keeps_its_filters_and_converges(
    run: Run,
    tmp_path: Path,
    fresh: str,
    connected: Proxy,
    mailman_client: Client,
    fault: tuple[str, str, int, Action],
    retries: str,
    fails: bool,
) -> None:
    fqdn = f"rules@{fresh}"
    site = make_site(tmp_path, fresh, {"rules": BEFORE})
    assert apply(run, site).status == 0
    (site / "lists" / "rules.yaml").write_text(AFTER)
    connected.recorder.fault = on_request(*fault)
    result = apply(run, site, "--retries", retries)
    connected.recorder.fault = None
    kept = {("a", "a"), ("c", "c")}
    assert kept <= {(h, p) for h, p, _ in header_filters(mailman_client, fqdn)}
    if fails:
        assert result.status == 1, result.out
        assert "Applied 0 list(s), 1 failed: rules." in result.out
        assert "failed: rules" in result.err
        assert apply(run, site).status == 0
    else:
        assert result.status == 0, result.err
    assert header_filters(mailman_client, fqdn) == [
        ("c", "c", "discard"),
        ("d", "d", "reject"),
        ("a", "a", "reject"),
    ]
    assert nonmembers(mailman_client, fqdn) == {
        "old@example.org": "discard",
        "new@example.org": "accept",
    }
    assert plan(run, site).status == 0


# -- bans and non-members where a ban Mailman holds matches already --------------------


@pytest.mark.compat
def test_a_mixed_case_address_ban_bans_the_address(
    run: Run, tmp_path: Path, fresh: str, connected: Proxy, mailman_client: Client
) -> None:
    site = make_site(tmp_path, fresh, {"rules": OWNER + "bans: [Troll@Example.com]\n"})
    assert apply(run, site).status == 0
    assert plan(run, site).status == 0
    assert "troll@example.com" in mailman_client.get_list(f"rules@{fresh}").bans


@pytest.mark.compat
def test_a_new_nonmember_of_a_disabled_list_waits_for_it_to_be_enabled(
    run: Run, tmp_path: Path, fresh: str, connected: Proxy, mailman_client: Client
) -> None:
    site = make_site(tmp_path, fresh, {"rules": OWNER + "disabled: true\n"})
    assert apply(run, site).status == 0
    text = OWNER + "disabled: true\nnonmembers: {spammer@example.net: discard}\n"
    (site / "lists" / "rules.yaml").write_text(text)
    added = apply(run, site)
    assert added.status == 0, added.err
    # Mailman refuses to add a sender its ban of everyone matches, and bans them anyway:
    # the non-member waits, and the plan shows nothing to do.
    assert nonmembers(mailman_client, f"rules@{fresh}") == {}
    assert plan(run, site).status == 0
    (site / "lists" / "rules.yaml").write_text(text.replace("disabled: true\n", ""))
    enabled = apply(run, site)
    assert enabled.status == 0, enabled.err
    assert nonmembers(mailman_client, f"rules@{fresh}") == {"spammer@example.net": "discard"}
    assert "^.*@.*" not in bans(mailman_client, f"rules@{fresh}")
    assert plan(run, site).status == 0


@pytest.mark.compat
def test_a_new_nonmember_an_address_ban_names_waits_for_the_ban_to_go(
    run: Run, tmp_path: Path, fresh: str, connected: Proxy, mailman_client: Client
) -> None:
    """Mailman refuses to add a non-member a ban names, as one a regexp ban matches: the
    non-member waits, and the list's other changes are applied."""
    fqdn = f"rules@{fresh}"
    site = make_site(tmp_path, fresh, {"rules": OWNER + "bans: [troll@example.com]\n"})
    assert apply(run, site).status == 0
    text = OWNER + "description: Rules.\nnonmembers: {troll@example.com: discard}\n"
    (site / "lists" / "rules.yaml").write_text(text + "bans: [troll@example.com]\n")
    added = apply(run, site)
    assert added.status == 0, added.err
    assert nonmembers(mailman_client, fqdn) == {}
    assert mailman_client.get_list(fqdn).settings["description"] == "Rules."
    assert plan(run, site).status == 0
    (site / "lists" / "rules.yaml").write_text(text + "bans: []\n")
    lifted = apply(run, site)
    assert lifted.status == 0, lifted.err
    assert nonmembers(mailman_client, fqdn) == {"troll@example.com": "discard"}
    assert bans(mailman_client, fqdn) == []
    assert plan(run, site).status == 0


@pytest.mark.compat
def test_a_ban_with_a_backslash_is_lifted(
    run: Run, tmp_path: Path, fresh: str, connected: Proxy, mailman_client: Client
) -> None:
    site = make_site(tmp_path, fresh, {"rules": OWNER + "bans: ['^.*@spam\\.example$']\n"})
    assert apply(run, site).status == 0
    assert bans(mailman_client, f"rules@{fresh}") == ["^.*@spam\\.example$"]
    (site / "lists" / "rules.yaml").write_text(OWNER + "bans: []\n")
    lifted = apply(run, site)
    assert lifted.status == 0, lifted.err
    assert bans(mailman_client, f"rules@{fresh}") == []


@pytest.mark.compat
def test_bans_of_a_list_disabled_from_the_start_converge(
    run: Run, tmp_path: Path, fresh: str, connected: Proxy, mailman_client: Client
) -> None:
    text = OWNER + "disabled: true\nbans: ['^.*@spam[.]example$', troll@example.com]\n"
    site = make_site(tmp_path, fresh, {"rules": text})
    created = apply(run, site)
    assert created.status == 0, created.err
    assert bans(mailman_client, f"rules@{fresh}") == sorted(
        ["^.*@.*", SPAM_BAN, "troll@example.com"]
    )
    assert plan(run, site).status == 0
