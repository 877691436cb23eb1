"""`listsync import` against the real Mailman core: hand-made lists become files that round-trip.

The guarantee: right after `import`, `validate` passes and `plan` shows no
changes for the imported lists, and `import` itself never writes to Mailman.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from mailmanclient import Client
from ruamel.yaml import YAML
from ruamel.yaml.comments import CommentedMap

from helpers import Result, Run, write_site
from listsync import mailman_settings
from listsync.importer import FIELD_ORDER, MODELINE, ImportFailed, render_list, to_yaml
from listsync.models import SiteConfig
from listsync.policy import DISABLE_BAN, ListState
from proxy import Proxy

DISABLED_OWNER = "devnull@example.org"


@pytest.fixture
def site(tmp_path: Path, domain: str) -> Path:
    """A site for the test's domain with no list files yet."""
    return write_site(tmp_path, {}, config=f"domain: {domain}\ndisabled_owner: {DISABLED_OWNER}\n")


def import_(run: Run, site: Path, *args: str) -> Result:
    return run("--root", str(site), "import", *args)


def read(site: Path, name: str) -> dict[str, Any]:
    data = YAML(typ="safe", pure=True).load((site / "lists" / f"{name}.yaml").read_text())
    assert isinstance(data, dict)
    return data


def configure(client: Client, fqdn: str, **settings: Any) -> None:
    config = client.get_list(fqdn).settings
    for key, value in settings.items():
        config[key] = value
    config.save()


def assert_round_trip(run: Run, site: Path, unmanaged: tuple[str, ...] = ()) -> None:
    """The guarantee: validate passes; plan shows every file's list unchanged."""
    validated = run("--root", str(site), "validate")
    assert validated.status == 0, validated.out + validated.err
    assert " 0 error(s)" in validated.out
    planned = run("--root", str(site), "plan", "--detailed-exitcode", "--format", "json")
    assert planned.status == 0, planned.out + planned.err
    data = json.loads(planned.out)
    assert data["has_changes"] is False
    files = sorted(p.stem for p in (site / "lists").glob("*.yaml"))
    assert files
    expected = dict.fromkeys(files, "unchanged") | dict.fromkeys(unmanaged, "unmanaged")
    assert {entry["name"]: entry["action"] for entry in data["lists"]} == expected


def test_hand_made_lists_import_and_round_trip(
    run: Run, site: Path, domain: str, connected: Proxy, mailman_client: Client
) -> None:
    server = mailman_client.create_domain(domain)

    # As Mailman creates a list, with an owner typed in mixed case.
    plain = server.create_list("plain")
    plain.add_owner("Alice.Liddell@Example.ORG")

    # Mailman's defaults but for the DMARC mitigation the runbook adds by hand.
    server.create_list("dmarc-only").add_owner("carol@example.org")
    configure(
        mailman_client,
        f"dmarc-only@{domain}",
        dmarc_mitigate_action="munge_from",
        dmarc_mitigate_unconditionally=True,
    )

    # As the Tor runbook leaves a list: lower-case name, DMARC by hand, open posting.
    tor_dev = server.create_list("tor-dev")
    tor_dev.add_owner("teor@example.org")
    tor_dev.add_moderator("Gaba@Example.org")
    configure(
        mailman_client,
        f"tor-dev@{domain}",
        description="Development related discussion list.",
        display_name="tor-dev",
        subject_prefix="[tor-dev] ",
        dmarc_mitigate_action="munge_from",
        dmarc_mitigate_unconditionally=True,
        default_nonmember_action="accept",
    )

    # Private, archive never, moderated posting, invite only.
    server.create_list("internal").add_owner("arma@example.org")
    configure(
        mailman_client,
        f"internal@{domain}",
        advertised=False,
        archive_policy="never",
        default_member_action="hold",
        default_nonmember_action="hold",
        subscription_policy="moderate",
    )

    # Announcements with DMARC wrap_message, only for strict domains; a display name in caps.
    server.create_list("announce").add_owner("nickm@example.org")
    configure(
        mailman_client,
        f"announce@{domain}",
        display_name="Tor-Announce",
        subject_prefix="[Tor-Announce] ",
        default_member_action="hold",
        default_nonmember_action="reject",
        dmarc_mitigate_action="wrap_message",
        dmarc_mitigate_unconditionally=False,
    )

    # Advertised but archived privately, non-members discarded: no posting preset says so.
    server.create_list("odd").add_owner("weasel@example.org")
    configure(
        mailman_client,
        f"odd@{domain}",
        archive_policy="private",
        default_nonmember_action="discard",
        subscription_policy="open",
    )

    # Settings no typed field covers.
    server.create_list("aliases").add_owner("phw@example.org")
    configure(
        mailman_client,
        f"aliases@{domain}",
        acceptable_aliases=["^aliases-.*@example\\.org$", "old-aliases@example.org"],
        max_message_size=100,
        autoresponse_grace_period="36h",
        info="First line.\nSecond line.\n",
    )

    # Disabled by hand, following the runbook (owner first: the ban refuses new owners).
    retired = server.create_list("retired")
    retired.add_owner("former@example.org")
    retired.add_owner(DISABLED_OWNER)
    retired.remove_owner("former@example.org")
    configure(
        mailman_client,
        f"retired@{domain}",
        description="[Disabled] Changes to the Trac wiki.",
        advertised=False,
        default_member_action="reject",
        default_nonmember_action="reject",
        emergency=True,
    )
    retired.bans.add(DISABLE_BAN)

    names = sorted(m.list_name for m in server.lists)
    before = {name: dict(mailman_client.get_list(f"{name}@{domain}").settings) for name in names}
    connected.recorder.clear()

    result = import_(run, site)
    assert result.status == 0, result.out + result.err
    assert connected.recorder.reads, "import must have read the live state"
    assert connected.recorder.writes == []
    assert result.out.splitlines() == [
        *(f"wrote lists/{name}.yaml" for name in names),
        f"Imported {len(names)} list(s) from {domain}, 0 skipped, 0 failed.",
    ]
    assert result.err.splitlines() == [
        "Kept as in Mailman, against the site's policy (change their files):",
        "    no DMARC mitigation (dmarc: mitigation: none; the site's default mitigates):"
        " aliases, internal, odd, plain",
        "    a display name other than the list's name (kept in settings: display_name):"
        " aliases, announce, dmarc-only, internal, odd, plain, retired",
    ]

    for name in names:
        text = (site / "lists" / f"{name}.yaml").read_text()
        assert MODELINE not in text, "the site has no schema/ for the modeline to point at"
        keys = list(read(site, name))
        assert keys == [k for k in FIELD_ORDER if k in keys], f"{name}: key order {keys}"
        settings = read(site, name).get("settings", {})
        assert list(settings) == sorted(settings), f"{name}: settings not sorted"
        assert set(settings) <= mailman_settings.WRITABLE

    # Mailman's own defaults: posting members, no DMARC; only the capitalised name is extra.
    # Mailman names a new list "Plain"; the policy would set "plain": that override is needed.
    def mailman_names(name: str) -> dict[str, Any]:
        assert before[name]["display_name"] != name
        return {k: before[name][k] for k in ("display_name", "subject_prefix")}

    assert read(site, "plain") == {
        "dmarc": {"mitigation": "none", "unconditional": False},
        "owners": ["alice.liddell@example.org"],
        "settings": mailman_names("plain"),
    }
    assert read(site, "dmarc-only") == {
        "owners": ["carol@example.org"],
        "settings": mailman_names("dmarc-only"),
    }
    # The runbook's list is the site defaults but for open posting: no settings at all.
    assert read(site, "tor-dev") == {
        "description": "Development related discussion list.",
        "posting": "open",
        "owners": ["teor@example.org"],
        "moderators": ["gaba@example.org"],
    }
    internal = read(site, "internal")
    assert {k: internal[k] for k in ("visibility", "archive", "posting", "subscription")} == {
        "visibility": "private",
        "archive": "none",
        "posting": "moderated",
        "subscription": "closed",
    }
    announce = read(site, "announce")
    assert announce["posting"] == "announce"
    assert announce["dmarc"] == {"mitigation": "wrap_message", "unconditional": False}
    assert announce["settings"] == {
        "display_name": "Tor-Announce",
        "subject_prefix": "[Tor-Announce] ",
    }
    odd = read(site, "odd")
    assert odd["archive"] == "private"
    assert "visibility" not in odd
    assert "posting" not in odd
    assert odd["settings"] == {
        "default_nonmember_action": "discard",
        "subscription_policy": "open",
        **mailman_names("odd"),
    }
    aliases = read(site, "aliases")["settings"]
    assert aliases["acceptable_aliases"] == before["aliases"]["acceptable_aliases"]
    assert aliases["max_message_size"] == 100
    assert aliases["autoresponse_grace_period"] == "1d12h"
    assert aliases["info"] == "First line.\nSecond line.\n"
    # Disabled: the prefix stripped, owners unknown; visibility and posting were overridden.
    assert read(site, "retired") == {
        "description": "Changes to the Trac wiki.",
        "dmarc": {"mitigation": "none", "unconditional": False},
        "owners": [],
        "disabled": True,
        "settings": mailman_names("retired"),
    }

    connected.recorder.clear()
    assert_round_trip(run, site)
    assert connected.recorder.writes == []


def test_existing_files_are_skipped_unless_forced(
    run: Run, site: Path, domain: str, connected: Proxy, mailman_client: Client
) -> None:
    server = mailman_client.create_domain(domain)
    server.create_list("kept").add_owner("alice@example.org")
    server.create_list("new-one").add_owner("bob@example.org")
    kept = site / "lists" / "kept.yaml"
    mine = "# mine, hand-written\ndescription: Kept as written.\nowners: [alice@example.org]\n"
    kept.write_text(mine)

    everything = import_(run, site)
    assert everything.status == 0, everything.err
    assert everything.out.splitlines() == [
        "wrote lists/new-one.yaml",
        f"Imported 1 list(s) from {domain}, 0 skipped, 0 failed.",
    ]
    assert kept.read_text() == mine

    again = import_(run, site)
    assert again.status == 0
    assert again.out.splitlines() == [
        f"Nothing to import: every list of {domain} in Mailman has a file."
    ]

    named = import_(run, site, "--list", "kept", "--list", "new-one")
    assert named.status == 1
    assert named.out.splitlines() == [
        "skipped lists/kept.yaml: the file exists; --force overwrites it",
        "skipped lists/new-one.yaml: the file exists; --force overwrites it",
        f"Imported 0 list(s) from {domain}, 2 skipped, 0 failed.",
    ]
    assert kept.read_text() == mine

    connected.recorder.clear()
    forced = import_(run, site, "--list", "kept", "--force")
    assert forced.status == 0, forced.err
    assert forced.out.splitlines()[0] == "wrote lists/kept.yaml"
    assert kept.read_text() != mine
    assert connected.recorder.writes == []
    assert_round_trip(run, site)


def test_forcing_replaces_a_yml_file(
    run: Run, site: Path, domain: str, connected: Proxy, mailman_client: Client
) -> None:
    mailman_client.create_domain(domain).create_list("legacy").add_owner("alice@example.org")
    old = site / "lists" / "legacy.yml"
    old.write_text("owners: [alice@example.org]\n")
    result = import_(run, site, "--list", "legacy", "--force")
    assert result.status == 0, result.err
    assert result.out.splitlines()[0] == "wrote lists/legacy.yaml: replaced lists/legacy.yml"
    assert not old.exists()
    assert_round_trip(run, site)


RUNBOOK_VARIANTS: dict[str, dict[str, Any]] = {
    # Tor: [Archived], reject both, no emergency moderation, still advertised.
    "archived": {
        "description": "[Archived] Old announcements.",
        "default_member_action": "reject",
        "default_nonmember_action": "reject",
    },
    # Wikimedia: discard both, [Disabled], not advertised, no emergency moderation.
    "discarded": {
        "description": "[Disabled] Former team list.",
        "default_member_action": "discard",
        "default_nonmember_action": "discard",
        "advertised": False,
    },
    # Mixed: reject members, discard the rest, emergency moderation on as well.
    "mixed": {
        "description": "[Disabled] Mixed.",
        "default_member_action": "reject",
        "default_nonmember_action": "discard",
        "emergency": True,
    },
}


def test_lists_retired_by_hand_as_the_runbooks_say_import_as_disabled(
    run: Run, site: Path, domain: str, connected: Proxy, mailman_client: Client
) -> None:
    server = mailman_client.create_domain(domain)
    for name, settings in RUNBOOK_VARIANTS.items():
        retired = server.create_list(name)
        retired.add_owner(DISABLED_OWNER)
        configure(mailman_client, f"{name}@{domain}", **settings)
        retired.bans.add(DISABLE_BAN)
    connected.recorder.clear()

    result = import_(run, site)
    assert result.status == 0, result.out + result.err
    assert connected.recorder.writes == []
    for name, settings in RUNBOOK_VARIANTS.items():
        data = read(site, name)
        assert data["disabled"] is True, name
        assert data["owners"] == [], name
        kept = {k: v for k, v in settings.items() if k != "description"}
        overrides = data.get("settings", {})
        procedure = {
            "advertised": False,
            "default_member_action": "reject",
            "default_nonmember_action": "reject",
            "emergency": True,
        }
        # what Mailman gives a new list, then what the runbook changed
        expected = {**procedure, "advertised": True, "emergency": False, **kept}
        assert {k: overrides.get(k, procedure[k]) for k in procedure} == expected, name
    assert read(site, "archived")["description"] == "[Archived] Old announcements."
    assert read(site, "discarded")["description"] == "Former team list."
    assert_round_trip(run, site)

    page = run("--root", str(site), "render", "--format", "json")
    listed = {e["name"]: e for e in json.loads(page.out)["lists"]}
    assert {name: listed[name]["retired"] for name in listed} == dict.fromkeys(
        RUNBOOK_VARIANTS, True
    )
    assert all(listed[name]["subscribe_url"] is None for name in listed)

    (site / "lists" / "discarded.yaml").write_text(
        "disabled: true\nowners: []\nsettings:\n  default_member_action: accept\n"
    )
    opened = run("--root", str(site), "validate")
    assert opened.status == 1
    assert (
        "lists/discarded.yaml:4:26: settings.default_member_action: a disabled list lets nothing"
        " through: default_member_action must be reject or discard, not 'accept'"
    ) in opened.out + opened.err


def test_lists_no_file_reproduces_fail_alone(
    run: Run, site: Path, domain: str, connected: Proxy, mailman_client: Client
) -> None:
    server = mailman_client.create_domain(domain)
    server.create_list("fine").add_owner("alice@example.org")
    server.create_list("ownerless")
    server.create_list("dev_team").add_owner("bob@example.org")
    # Half disabled: the ban and the emergency, but the old owner kept.
    half = server.create_list("half")
    half.add_owner("former@example.org")
    configure(
        mailman_client,
        f"half@{domain}",
        description="[Disabled] Half done.",
        advertised=False,
        default_member_action="reject",
        default_nonmember_action="reject",
        emergency=True,
    )
    half.bans.add(DISABLE_BAN)
    connected.recorder.clear()

    result = import_(run, site)
    assert result.status == 1
    assert result.out.splitlines() == [
        "wrote lists/fine.yaml",
        f"Imported 1 list(s) from {domain}, 0 skipped, 3 failed: dev_team, half, ownerless.",
    ]
    err = result.err.splitlines()
    assert err[-4:] == [
        "Kept as in Mailman, against the site's policy (change their files):",
        "    no DMARC mitigation (dmarc: mitigation: none; the site's default mitigates): fine",
        "    a display name other than the list's name (kept in settings: display_name): fine",
        "    a name naming: '^[a-z0-9][a-z0-9-]{1,62}$' refuses (no file written): dev_team",
    ]
    assert (
        "failed: half: the list is retired, but its owner is former@example.org, not the site's"
        " disabled_owner devnull@example.org: write lists/half.yaml with 'disabled: true' (apply"
        " then makes devnull@example.org its sole owner), or set 'disabled_owner:"
        " former@example.org' in listsync.yaml"
    ) in err
    assert any(line.startswith("failed: ownerless: it has no owner in Mailman") for line in err)
    assert "        - OWNER" in err
    assert "failed: dev_team: its file would not validate:" in err
    assert (
        "    name: 'dev_team' does not match the site's naming pattern '^[a-z0-9][a-z0-9-]{1,62}$'"
        in err
    )
    assert sorted(p.name for p in (site / "lists").iterdir()) == ["fine.yaml"]
    assert connected.recorder.writes == []
    assert_round_trip(run, site, unmanaged=("dev_team", "half", "ownerless"))


def test_named_list_missing_and_domain_missing(
    run: Run, site: Path, domain: str, connected: Proxy, mailman_client: Client
) -> None:
    nothing = import_(run, site)
    assert nothing.status == 0
    assert nothing.out.splitlines() == [f"Nothing to import: Mailman has no domain {domain}."]
    unnamed = import_(run, site, "--force")
    assert unnamed.status == 1
    assert unnamed.err == (
        "error: --force needs --list NAME: import overwrites only the files of lists named\n"
    )
    missing = import_(run, site, "--list", "nosuch")
    assert missing.status == 1
    assert f"failed: nosuch: no list nosuch@{domain} in Mailman" in missing.err
    mailman_client.create_domain(domain)
    still = import_(run, site, "--list", "nosuch")
    assert still.status == 1
    assert f"failed: nosuch: no list nosuch@{domain} in Mailman" in still.err
    assert not (site / "lists" / "nosuch.yaml").exists()
    assert connected.recorder.reads
    assert connected.recorder.writes == []


# -- the inverse mapping, without a server ---------------------------------------


def live_state(name: str = "probe", **settings: Any) -> ListState:
    """A list as Mailman creates it, with `settings` changed."""
    config = {
        **mailman_settings.NEW_LIST_DEFAULTS,
        "display_name": name,
        "subject_prefix": f"[{name}] ",
        **settings,
    }
    return ListState(
        fqdn=f"{name}@lists.example.org", settings=config, owners=frozenset({"a@example.org"})
    )


def test_fields_are_omitted_when_the_site_default_says_them() -> None:
    private_site = SiteConfig.model_validate(
        {
            "domain": "lists.example.org",
            "defaults": {
                "visibility": "private",
                "posting": "members",
                "dmarc": {"mitigation": "none", "unconditional": False},
            },
        }
    )
    state = live_state(advertised=False, archive_policy="private")
    text, _ = render_list(state, private_site)
    assert text == f"{MODELINE}\nowners:\n  - a@example.org\n"
    public, _ = render_list(state, SiteConfig(domain="lists.example.org"))
    assert "visibility: private\n" in public
    assert "archive:" not in public  # private follows visibility
    assert "posting:" not in public  # members is the built-in default


def test_an_archived_list_round_trips_and_needs_the_disabled_owner() -> None:
    """The Tor runbook also writes `[Archived]`: the marker stays in the description."""
    state = ListState(
        fqdn="old@lists.example.org",
        settings={
            **live_state("old").settings,
            "description": "[Archived] Old list.",
            "advertised": False,
            "default_member_action": "reject",
            "default_nonmember_action": "reject",
            "emergency": True,
        },
        owners=frozenset({DISABLED_OWNER}),
        bans=frozenset({DISABLE_BAN}),
    )
    config = SiteConfig(domain="lists.example.org", disabled_owner=DISABLED_OWNER)
    text, _ = render_list(state, config)
    assert "description: '[Archived] Old list.'\n" in text
    assert "disabled: true\n" in text
    with pytest.raises(ImportFailed) as failed:
        render_list(state, SiteConfig(domain="lists.example.org"))
    assert str(failed.value) == (
        "the list is retired (the ban of everyone, and nothing let through), and a disabled list"
        " needs 'disabled_owner:' in listsync.yaml: add 'disabled_owner: devnull@example.org'"
        " (its owner now) and import again"
    )


@pytest.mark.parametrize(
    ("given", "written"),
    [("90d", "90d"), ("1d43200.0s", "1d12h"), ("0d5400.0s", "1h30m"), ("0d", "0d")],
)
def test_durations_are_written_as_people_write_them(given: str, written: str) -> None:
    text, _ = render_list(
        live_state(autoresponse_grace_period=given), SiteConfig(domain="lists.example.org")
    )
    if given == "90d":
        assert "autoresponse_grace_period" not in text  # Mailman's default
    else:
        assert f"  autoresponse_grace_period: {written}\n" in text


def test_strings_are_quoted_only_where_yaml_needs_it() -> None:
    document, _ = render_list(
        live_state(description="Dev: talk # here", reply_to_address="yes@example.org"),
        SiteConfig(domain="lists.example.org"),
    )
    assert "description: 'Dev: talk # here'\n" in document
    assert "  reply_to_address: yes@example.org\n" in document
    assert "display_name" not in document  # the policy's own value
    assert "subject_prefix" not in document
    assert to_yaml(CommentedMap()) == MODELINE + "\n"
