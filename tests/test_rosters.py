"""Rosters against the real core, through the CLI: who is subscribed, who is left alone.

Each test declares members (`members:`, a roster file, an LDAP group), runs
`listsync plan` and `apply` as a user does, and reads Mailman's own member
roster back with mailmanclient: the addresses and their delivery modes.
People subscribed "by hand" here go through Mailman's REST API as a
self-subscriber or a moderator would, never through listsync.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from ldap_server import CAPPED, PEOPLE, LdapServer, member_filter, password
from mailmanclient import Client

from helpers import Result, Run, apply, commit_all, init_repo, make_site, plan, site_config
from proxy import Proxy

OWNER = "owner@example.org"


def list_file(body: str, description: str = "A list.") -> str:
    return f"description: {description}\nowners: [{OWNER}]\n{body}"


def inline(*addresses: str, membership: str = "additive") -> str:
    entries = "".join(f"  - {address}\n" for address in addresses)
    return f"membership: {membership}\nmembers:\n{entries}"


def members(client: Client, fqdn: str) -> dict[str, str]:
    """Mailman's member roster of `fqdn`: address -> delivery mode."""
    return {m.email: m.delivery_mode for m in client.get_list(fqdn).members}


def subscribe_by_hand(client: Client, fqdn: str, *addresses: str) -> None:
    mlist = client.get_list(fqdn)
    for address in addresses:
        mlist.subscribe(
            address,
            pre_verified=True,
            pre_confirmed=True,
            pre_approved=True,
            send_welcome_message=False,
        )


def regular(*addresses: str) -> dict[str, str]:
    return dict.fromkeys(addresses, "regular")


def both(result: Result) -> str:
    return result.out + result.err


def ok(result: Result) -> Result:
    assert result.status == 0, both(result)
    return result


# -- declared members are subscribed -----------------------------------------------


@pytest.mark.compat
def test_inline_members_are_subscribed_with_their_delivery_mode_and_then_left_alone(
    run: Run, tmp_path: Path, domain: str, connected: Proxy, mailman_client: Client
) -> None:
    body = (
        "members:\n"
        "  - alice@example.org\n"
        "  - {address: Bob@Example.org, delivery_mode: mime_digests}\n"
        "  - {address: carol@example.org, delivery_mode: plaintext_digests}\n"
    )
    site = make_site(tmp_path, domain, {"board": list_file(body)})

    planned = plan(run, site)
    assert planned.status == 2, both(planned)
    assert "+ 3 members (members:; pre-approved, no welcome mail)" in planned.out
    assert "+ bob@example.org (mime_digests)" in planned.out
    ok(apply(run, site))

    assert members(mailman_client, f"board@{domain}") == {
        "alice@example.org": "regular",
        "bob@example.org": "mime_digests",
        "carol@example.org": "plaintext_digests",
    }
    connected.recorder.clear()
    assert plan(run, site).status == 0
    assert ok(apply(run, site))
    assert connected.recorder.writes == [], "an applied roster is not written again"


@pytest.mark.compat
def test_roster_files_plain_and_csv_are_subscribed_exactly(
    run: Run, tmp_path: Path, domain: str, core_env: None, mailman_client: Client
) -> None:
    site = make_site(
        tmp_path,
        domain,
        {
            "board": list_file("members_from: rosters/board.txt\n"),
            "staff": list_file("members_from: rosters/staff.csv\nmembership: exact\n"),
        },
    )
    (site / "rosters").mkdir()
    (site / "rosters" / "board.txt").write_text(
        "# the board, 2024\nalice@example.org\n\n  Dave@Example.org  # treasurer\n"
    )
    (site / "rosters" / "staff.csv").write_text(
        'name,email,team\n"Erin, E.",erin@example.org,ops\nFrank,frank@example.org,dev\n\n'
    )

    ok(apply(run, site))

    assert members(mailman_client, f"board@{domain}") == regular(
        "alice@example.org", "dave@example.org"
    )
    assert members(mailman_client, f"staff@{domain}") == regular(
        "erin@example.org", "frank@example.org"
    )
    assert plan(run, site).status == 0


# -- who is unsubscribed -------------------------------------------------------------


@pytest.mark.compat
def test_exact_removes_the_undeclared_and_additive_only_what_a_commit_dropped(
    run: Run, tmp_path: Path, domain: str, core_env: None, mailman_client: Client
) -> None:
    site = make_site(
        tmp_path / "site",
        domain,
        {
            "exact": list_file(inline("a@example.org", "b@example.org", membership="exact")),
            "additive": list_file("members_from: rosters/additive.txt\n"),
        },
    )
    roster = site / "rosters" / "additive.txt"
    roster.parent.mkdir()
    roster.write_text("a@example.org\nb@example.org\nc@example.org\n")
    init_repo(site)
    ok(apply(run, site))
    exact, additive = f"exact@{domain}", f"additive@{domain}"
    subscribe_by_hand(mailman_client, exact, "self@example.org")
    subscribe_by_hand(mailman_client, additive, "self@example.org")

    planned = plan(run, site)
    assert planned.status == 2
    assert "- 1 member of 3 (not declared: unsubscribed, no goodbye mail)" in planned.out
    ok(apply(run, site))
    assert members(mailman_client, exact) == regular("a@example.org", "b@example.org")
    assert set(members(mailman_client, additive)) == {
        "a@example.org",
        "b@example.org",
        "c@example.org",
        "self@example.org",
    }

    roster.write_text("a@example.org\nb@example.org\n")
    commit_all(site, "c leaves")
    ok(apply(run, site))
    assert set(members(mailman_client, additive)) == {
        "a@example.org",
        "b@example.org",
        "self@example.org",
    }

    # never committed: added, then taken out again before any commit
    roster.write_text("a@example.org\nb@example.org\nz@example.org\n")
    ok(apply(run, site))
    roster.write_text("a@example.org\nb@example.org\n")
    assert plan(run, site).status == 0
    assert "z@example.org" in members(mailman_client, additive)

    # outside git, additive never unsubscribes
    loose_domain = f"loose.{domain}"
    loose = make_site(
        tmp_path / "loose",
        loose_domain,
        {"additive": list_file(inline("a@example.org", "b@example.org"))},
    )
    ok(apply(run, loose))
    (loose / "lists" / "additive.yaml").write_text(list_file(inline("a@example.org")))
    assert plan(run, loose).status == 0
    assert set(members(mailman_client, f"additive@{loose_domain}")) == {
        "a@example.org",
        "b@example.org",
    }


@pytest.mark.compat
def test_additive_history_survives_a_failed_apply(
    run: Run, tmp_path: Path, domain: str, connected: Proxy, mailman_client: Client
) -> None:
    site = make_site(tmp_path, domain, {"board": list_file("members_from: rosters/board.txt\n")})
    roster = site / "rosters" / "board.txt"
    roster.parent.mkdir()
    roster.write_text("a@example.org\nb@example.org\n")
    init_repo(site)
    ok(apply(run, site))
    fqdn = f"board@{domain}"

    roster.write_text("a@example.org\nc@example.org\n")
    (site / "lists" / "board.yaml").write_text(
        list_file("members_from: rosters/board.txt\n", "Changed.")
    )
    commit_all(site, "b leaves, c joins")
    connected.recorder.fault = lambda number, method, path: 500 if method != "GET" else None
    failed = apply(run, site)
    assert failed.status == 1
    assert members(mailman_client, fqdn) == regular("a@example.org", "b@example.org")

    # a later commit: the one that dropped b is no longer the last one
    roster.write_text("a@example.org\nc@example.org\nd@example.org\n")
    commit_all(site, "d joins")
    connected.recorder.fault = None
    ok(apply(run, site))
    assert members(mailman_client, fqdn) == regular(
        "a@example.org", "c@example.org", "d@example.org"
    )
    assert mailman_client.get_list(fqdn).settings["description"] == "Changed."


@pytest.mark.compat
def test_a_disabled_list_roster_is_not_applied(
    run: Run, tmp_path: Path, domain: str, core_env: None, mailman_client: Client
) -> None:
    site = make_site(
        tmp_path, domain, {"board": list_file(inline("a@example.org", "b@example.org"))}
    )
    ok(apply(run, site))
    fqdn = f"board@{domain}"
    subscribe_by_hand(mailman_client, fqdn, "self@example.org")

    (site / "lists" / "board.yaml").write_text(
        list_file("disabled: true\n" + inline("c@example.org", membership="exact"))
    )
    planned = plan(run, site)
    assert planned.status == 2
    assert "c@example.org" not in planned.out
    assert "members (" not in planned.out
    assert "member of" not in planned.out
    ok(apply(run, site))

    assert mailman_client.get_list(fqdn).settings["description"].startswith("[Disabled]")
    assert members(mailman_client, fqdn) == regular(
        "a@example.org", "b@example.org", "self@example.org"
    )
    assert plan(run, site).status == 0


# -- a source not to be trusted whole changes no one --------------------------------

REFUSED = {
    # list: (its roster now, what the plan says)
    "empty": (
        "members_from: rosters/empty.txt\n",
        "rosters/empty.txt: the roster is empty: an empty source changes nothing",
    ),
    "badline": (
        "members_from: rosters/badline.txt\n",
        "rosters/badline.txt:3: is not one bare e-mail address",
    ),
    "missing": (
        "members_from: rosters/missing.txt\n",
        "rosters/missing.txt: cannot be read (No such file or directory)",
    ),
    "outside": (
        "members_from: ../outside.txt\n",
        "../outside.txt: a roster file must be inside the site's repository",
    ),
    "banned": (
        inline("a@example.org", "b@example.org", "banned@example.org"),
        "banned@example.org declared, and banned on the list: Mailman refuses to subscribe them",
    ),
}


@pytest.mark.compat
def test_a_refused_roster_changes_no_member_and_the_list_other_changes_are_applied(
    run: Run, tmp_path: Path, domain: str, core_env: None, mailman_client: Client
) -> None:
    before = inline("a@example.org", "b@example.org", membership="exact")
    site = make_site(tmp_path / "site", domain, {name: list_file(before) for name in REFUSED})
    ok(apply(run, site))
    for name in REFUSED:
        subscribe_by_hand(mailman_client, f"{name}@{domain}", "self@example.org")
    mailman_client.get_list(f"banned@{domain}").bans.add("banned@example.org")

    (site / "rosters").mkdir()
    (site / "rosters" / "empty.txt").write_text("# no one yet\n\n")
    (site / "rosters" / "badline.txt").write_text("a@example.org\nb@example.org\nnot an address\n")
    (tmp_path / "outside.txt").write_text("a@example.org\n")
    for name, (roster, _) in REFUSED.items():
        body = roster if "membership" in roster else roster + "membership: exact\n"
        (site / "lists" / f"{name}.yaml").write_text(list_file(body, "Changed."))

    planned = plan(run, site)
    assert planned.status == 1, both(planned)
    for _, reason in REFUSED.values():
        assert f"! members not changed: {reason}" in planned.out, reason
    assert f"{len(REFUSED)} roster(s) refused" in both(planned)

    applied = apply(run, site)
    assert applied.status == 1
    for name, (_, reason) in REFUSED.items():
        fqdn = f"{name}@{domain}"
        assert reason in applied.err, name
        assert mailman_client.get_list(fqdn).settings["description"] == "Changed."
        assert members(mailman_client, fqdn) == regular(
            "a@example.org", "b@example.org", "self@example.org"
        ), name
    assert plan(run, site).status == 1, "still refused, nothing else left to do"


# -- the quarter guard ----------------------------------------------------------------


def numbered(prefix: str, count: int) -> list[str]:
    return [f"{prefix}{i}@example.org" for i in range(count)]


@pytest.mark.compat
def test_unsubscribing_more_than_a_quarter_of_a_list_needs_force(
    run: Run, tmp_path: Path, domain: str, core_env: None, mailman_client: Client
) -> None:
    sizes = {"big": (8, 5), "seven": (7, 3), "half": (10, 4)}  # members, then how many leave
    everyone = {name: numbered(name, size) for name, (size, _) in sizes.items()}
    site = make_site(
        tmp_path,
        domain,
        {name: list_file(inline(*people, membership="exact")) for name, people in everyone.items()},
    )
    ok(apply(run, site))
    staying = {name: everyone[name][sizes[name][1] :] for name in sizes}
    for name, people in staying.items():
        (site / "lists" / f"{name}.yaml").write_text(list_file(inline(*people, membership="exact")))

    planned = plan(run, site)
    assert planned.status == 2
    assert "big: its roster change unsubscribes 5 of 8 members (62%)" in planned.out
    assert "half: its roster change unsubscribes 4 of 10 members (40%)" in planned.out
    assert "seven: its roster" not in planned.out
    held = apply(run, site)
    assert held.status == 1
    assert "--force" in both(held)
    assert set(members(mailman_client, f"big@{domain}")) == set(everyone["big"])
    assert set(members(mailman_client, f"half@{domain}")) == set(everyone["half"])
    assert set(members(mailman_client, f"seven@{domain}")) == set(staying["seven"])

    config = site / "listsync.yaml"
    config.write_text(site_config(domain, "safety: {max_unsubscribed_fraction: 0.5}\n"))
    held = apply(run, site)
    assert held.status == 1
    assert set(members(mailman_client, f"half@{domain}")) == set(staying["half"])
    assert set(members(mailman_client, f"big@{domain}")) == set(everyone["big"])

    ok(apply(run, site, "--force"))
    assert set(members(mailman_client, f"big@{domain}")) == set(staying["big"])
    assert plan(run, site).status == 0


# -- LDAP -----------------------------------------------------------------------------

LDAP_CONFIG = "ldap: {bind_dn_variable: TEST_LDAP_BIND_DN, password_variable: TEST_LDAP_PASSWORD}\n"
BOARD = {"alice@example.org", "bob@example.org", "bob.builder@example.org", "carol@example.org"}


def ldap_list(server: LdapServer, group: str, description: str = "A list.") -> str:
    return list_file(
        f"membership: exact\nmembers_from:\n  ldap:\n    url: {server.url}\n"
        f"    base: '{PEOPLE}'\n    filter: '{member_filter(group)}'\n",
        description,
    )


def test_an_ldap_group_is_the_roster(
    run: Run,
    tmp_path: Path,
    domain: str,
    core_env: None,
    mailman_client: Client,
    ldap_server: LdapServer,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    # the capped account reads the board (4 entries) whole, and staff (12) only cut short
    monkeypatch.setenv("TEST_LDAP_BIND_DN", CAPPED)
    monkeypatch.setenv("TEST_LDAP_PASSWORD", password(CAPPED))
    site = make_site(
        tmp_path,
        domain,
        {"board": ldap_list(ldap_server, "board"), "staff": ldap_list(ldap_server, "staff")},
        LDAP_CONFIG,
    )
    board, staff = f"board@{domain}", f"staff@{domain}"

    first = apply(run, site)
    assert first.status == 1, "staff's search is cut short"
    assert "sizeLimitExceeded" in first.err
    assert set(members(mailman_client, board)) == BOARD
    assert members(mailman_client, staff) == {}

    subscribe_by_hand(mailman_client, board, "mallory@example.org")
    subscribe_by_hand(mailman_client, staff, "self@example.org")
    planned = plan(run, site)
    assert planned.status == 1
    assert "- 1 member of 5" in planned.out
    assert "! members not changed:" in planned.out
    assert apply(run, site).status == 1
    assert set(members(mailman_client, board)) == BOARD
    assert set(members(mailman_client, staff)) == {"self@example.org"}

    monkeypatch.delenv("TEST_LDAP_PASSWORD")
    subscribe_by_hand(mailman_client, board, "mallory@example.org")
    (site / "lists" / "board.yaml").write_text(ldap_list(ldap_server, "board", "Changed."))
    planned = plan(run, site)
    assert planned.status == 1
    assert "TEST_LDAP_PASSWORD" in planned.out
    assert apply(run, site).status == 1
    assert mailman_client.get_list(board).settings["description"] == "Changed."
    assert set(members(mailman_client, board)) == BOARD | {"mallory@example.org"}


# -- addresses stay out of what is shown ----------------------------------------------

MEMBERS = ("m.alpha@example.net", "m.beta@example.net", "m.gamma@example.net")


def without_addresses(text: str, *addresses: str) -> None:
    shown = [address for address in addresses if address in text]
    assert shown == [], text


def test_plans_snapshots_and_pages_show_no_member_address(
    run: Run, tmp_path: Path, domain: str, core_env: None, mailman_client: Client
) -> None:
    site = make_site(
        tmp_path / "site", domain, {"board": list_file(inline(*MEMBERS[:2], membership="exact"))}
    )
    ok(apply(run, site))
    fqdn = f"board@{domain}"
    subscribe_by_hand(mailman_client, fqdn, "m.self@example.net")
    (site / "lists" / "board.yaml").write_text(
        list_file(inline(MEMBERS[0], MEMBERS[2], membership="exact"))
    )
    everyone = (*MEMBERS, "m.self@example.net")
    shown = plan(run, site)
    assert "+ m.gamma@example.net" in shown.out, "not redacted, the plan names them"

    redacted = plan(run, site, "--redact")
    assert redacted.status == 2
    assert "+ 1 member (members:; pre-approved, no welcome mail)" in redacted.out
    assert "- 2 members of 3 (not declared" in redacted.out
    without_addresses(both(redacted), *everyone)
    as_json = plan(run, site, "--redact", "--format", "json")
    without_addresses(both(as_json), *everyone)
    changes = [c for e in json.loads(as_json.out)["lists"] for c in e["changes"]]
    counts = {c["type"]: c["count"] for c in changes if "count" in c}
    assert counts == {"subscribe_members": 1, "unsubscribe_members": 2}

    snapshot = tmp_path / "snapshot.json"
    taken = ok(run("--root", str(site), "snapshot", "--out", str(snapshot)))
    without_addresses(both(taken) + snapshot.read_text(), *everyone)
    live = run("--root", str(site), "plan", "--live", str(snapshot))
    assert "# members: 2 declared in members: (exact); the live members are not read here" in (
        live.out
    )
    without_addresses(both(live), *everyone)
    for form in ("json", "markdown", "html"):
        page = ok(run("--root", str(site), "render", "--include-private", "--format", form))
        without_addresses(both(page), *everyone)

    (site / "listsync.yaml").write_text(site_config(domain, "redact_addresses: true\n"))
    for extra in ((), ("--format", "json")):
        configured = plan(run, site, *extra)
        assert configured.status == 2
        assert ("- 2 members of 3" in configured.out) or ('"count": 2' in configured.out)
        without_addresses(both(configured), *everyone)
    assert set(members(mailman_client, fqdn)) == {*MEMBERS[:2], "m.self@example.net"}


# -- saved plans -----------------------------------------------------------------------


@pytest.mark.compat
def test_a_saved_plan_applies_the_roster_and_is_stale_only_when_who_goes_changed(
    run: Run, tmp_path: Path, domain: str, core_env: None, mailman_client: Client
) -> None:
    site = make_site(
        tmp_path / "site",
        domain,
        {
            "open": list_file("members_from: rosters/open.txt\n"),
            "closed": list_file(inline("a@example.org", "b@example.org", membership="exact")),
        },
    )
    roster = site / "rosters" / "open.txt"
    roster.parent.mkdir()
    roster.write_text("a@example.org\nb@example.org\nc@example.org\n")
    init_repo(site)
    ok(apply(run, site))
    open_list, closed = f"open@{domain}", f"closed@{domain}"

    roster.write_text("a@example.org\nc@example.org\nd@example.org\n")
    commit_all(site, "b leaves open, d joins")
    saved = tmp_path / "open.json"
    assert plan(run, site, "--out", str(saved)).status == 2
    subscribe_by_hand(mailman_client, open_list, "self@example.org")
    ok(run("--root", str(site), "apply", str(saved)))
    assert set(members(mailman_client, open_list)) == {
        "a@example.org",
        "c@example.org",
        "d@example.org",
        "self@example.org",
    }

    (site / "lists" / "closed.yaml").write_text(
        list_file(inline("a@example.org", "b@example.org", "e@example.org", membership="exact"))
    )
    commit_all(site, "e joins closed")
    saved = tmp_path / "closed.json"
    assert plan(run, site, "--out", str(saved)).status == 2
    subscribe_by_hand(mailman_client, closed, "self@example.org")
    stale = run("--root", str(site), "apply", str(saved))
    assert stale.status == 1
    assert "stale" in stale.err
    assert set(members(mailman_client, closed)) == {
        "a@example.org",
        "b@example.org",
        "self@example.org",
    }
