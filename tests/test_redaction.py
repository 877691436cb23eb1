"""Redaction: with `redact_addresses`, no address shows in any output or artifact.

Addresses are generated in every form Mailman 3.3.8-3.3.10 accepts (each
character its validator allows in a local part, short ones, upper case,
punycode domains) and in the regexp forms list settings take, each with a
token of its own; then every command's output and every file it writes is
searched for the tokens and the addresses. Only the part before the @ is
masked, so a token sits there. (How `redact` masks each form on its own:
unit/test_redaction.py.)
"""

from __future__ import annotations

import json
import secrets
from pathlib import Path

import pytest
from mailmanclient import Client
from ruamel.yaml import YAML

from helpers import Run, init_repo, write_site
from proxy import Action, Proxy

# What Mailman's validator allows in a local part besides letters and digits.
LOCAL_SPECIALS = "!#$%&'*+-./=?_`{}~"


def _token() -> str:
    return "tk" + secrets.token_hex(4)


def generated_addresses() -> dict[str, str]:
    """A token -> an address using it, one per form Mailman accepts."""
    forms = {}
    token = _token()
    forms[token] = f"a{token}@example.org"
    for char in LOCAL_SPECIALS:
        token = _token()
        forms[token] = f"b{token}{char}x@example.org"
    token = _token()
    forms[token] = f"C{token.upper()}@Example.ORG"
    token = _token()
    forms[token] = f"d.{token}+tag@xn--bcher-kva.example"
    token = _token()
    forms[token] = f"7{token}@sub.domain.example.org"
    return forms


@pytest.fixture
def addresses() -> dict[str, str]:
    return generated_addresses()


def regexp_entries() -> dict[str, str]:
    token, other = _token(), _token()
    return {
        token: f"^e{token}@example\\.org$",
        other: f"^o|{other}brien@example\\.org$",
    }


def test_no_address_shows_in_any_output_or_artifact(
    run: Run,
    tmp_path: Path,
    domain: str,
    connected: Proxy,
    mailman_client: Client,
    addresses: dict[str, str],
) -> None:
    emails = list(addresses.values())
    owners, moderators, nonmembers = emails[:6], emails[6:10], emails[10:]
    regexps = regexp_entries()
    short = f"q@z{secrets.token_hex(3)}.io"
    described = _token()
    spec = {
        "description": (
            f"Questions to {described}.doe@example.org or jäne{described}@bücher.example"
        ),
        "owners": owners,
        "moderators": moderators,
        "settings": {
            "accept_these_nonmembers": [*nonmembers, *regexps.values()],
            "hold_these_nonmembers": [short],
        },
    }
    out = tmp_path / "lists.yaml"
    YAML().dump(spec, out)
    site = write_site(
        tmp_path / "site",
        {"tor-dev": out.read_text()},
        config=f"domain: {domain}\nredact_addresses: true\n",
    )
    committed = _token()
    init_repo(site, f"Ask for tor-dev, says c{committed}@example.org")
    seen: list[str] = []

    def cli(*args: str) -> int:
        result = run("--root", str(site), *args)
        seen.extend([result.out, result.err])
        return result.status

    assert cli("validate") == 0
    assert cli("plan") == 0
    assert cli("plan", "--format", "markdown") == 0
    assert cli("plan", "--format", "json") == 0
    files = [site / "plan.md", site / "plan.json", site / "plan.txt"]
    assert cli("plan", *(arg for f in files for arg in ("--out", str(f)))) == 0

    # A failure: Mailman's own words name the address (it was added by hand meanwhile).
    fqdn = f"tor-dev@{domain}"
    first_owner = sorted(a.lower() for a in owners)[0]
    posts: list[str] = []

    def subscribe_by_hand_first(number: int, method: str, path: str) -> Action | None:
        if method == "POST" and path.endswith("/members") and not posts:
            posts.append(path)
            return lambda: mailman_client.get_list(fqdn).add_owner(first_owner)
        return None

    connected.recorder.fault = subscribe_by_hand_first
    assert cli("apply", "--yes") == 1
    assert any("is already an owner of" in text for text in seen), "Mailman's text was shown"
    connected.recorder.fault = None
    assert cli("plan", "--out", str(site / "plan.json")) == 0
    assert cli("apply", str(site / "plan.json")) == 0

    # Drift made by hand, reported and repaired through saved plans.
    dev = mailman_client.get_list(fqdn)
    intruder_token = _token()
    intruder = f"i{intruder_token}@example.org"
    dev.add_owner(intruder)
    drift = [site / "drift.md", site / "drift.json"]
    assert cli("plan", *(arg for f in drift for arg in ("--out", str(f)))) == 0
    assert cli("apply", str(site / "drift.json")) == 0

    # A list retired by hand whose owner import names when it refuses it.
    relic_token = _token()
    relic = mailman_client.get_domain(domain).create_list("relic")
    relic.add_owner(f"r{relic_token}@example.org")
    settings = relic.settings
    settings["default_member_action"] = "reject"
    settings["default_nonmember_action"] = "reject"
    settings.save()
    relic.bans.add("^.*@.*")
    assert cli("import", "--list", "relic") == 1
    assert cli("import", "--list", "relic", "--format", "json") == 1
    assert any("disabled_owner" in text for text in seen), "import said why"

    pages = [tmp_path / "index.html", tmp_path / "lists.md", tmp_path / "lists.json"]
    for page, fmt in zip(pages, ("html", "markdown", "json"), strict=True):
        assert cli("render", "--format", fmt, "--out", str(page)) == 0
    for path in files + drift + pages:
        seen.append(path.read_text())

    everything = "\n".join(seen).lower()
    assert "+ owner" in everything
    assert ".owners[" in everything, "the JSON plans' resource_changes name owners, masked"
    assert "accept_these_nonmembers" in everything
    tokens = {
        **addresses,
        **regexps,
        described: described,
        intruder_token: intruder,
        committed: committed,
        relic_token: relic_token,
    }
    leaked = {t: a for t, a in tokens.items() if t.lower() in everything}
    where = {a: [i for i, text in enumerate(seen) if t in text.lower()] for t, a in leaked.items()}
    assert where == {}, "address -> the outputs (by index) that show it"
    assert short not in everything
    assert json.loads((site / "drift.json").read_text())["saved"]["redacted"] is True
    owners_now = {o.email for o in mailman_client.get_list(fqdn).owners}
    assert owners_now == {a.lower() for a in owners}, "applied with the real addresses"
