"""Results as JSON (`--format json`) of validate, apply and import, for bots.

Each command prints one JSON document on standard output and nothing else
there; people's lines go to standard error. apply and import run against
the real core, a failure made by the proxy refusing a write.
"""

from __future__ import annotations

import json
from pathlib import Path

from mailmanclient import Client

from helpers import Run, write_site
from proxy import Proxy

LISTS = {
    "tor-dev": "description: Development.\nowners: [teor@example.org]\n",
    "tor-relays": "description: Relays.\nowners: [gus@example.org]\n",
}


def test_validate_as_json_locates_every_problem(run: Run, tmp_path: Path) -> None:
    site = write_site(
        tmp_path,
        {
            **LISTS,
            "broken": "owners: [alice@example.org]\ncategory: admin\n",
            "shadowing": "owners: [bob@example.org]\nsettings:\n  advertised: false\n",
        },
    )
    result = run("--root", str(site), "validate", "--format", "json")
    assert result.status == 1
    document = json.loads(result.out)
    assert document["format_version"] == 1
    assert document["valid_files"] == 3
    assert (document["errors"], document["warnings"]) == (1, 1)
    error = next(p for p in document["problems"] if p["severity"] == "error")
    assert {k: error[k] for k in ("path", "line", "column", "field")} == {
        "path": "lists/broken.yaml",
        "line": 2,
        "column": 11,
        "field": "category",
    }
    assert "admin" in error["message"]
    warning = next(p for p in document["problems"] if p["severity"] == "warning")
    assert (warning["path"], warning["field"]) == ("lists/shadowing.yaml", "settings.advertised")

    clean = run(
        "--root", str(write_site(tmp_path / "clean", LISTS)), "validate", "--format", "json"
    )
    assert clean.status == 0
    assert json.loads(clean.out) == {
        "format_version": 1,
        "valid_files": 2,
        "errors": 0,
        "warnings": 0,
        "problems": [],
    }


def test_apply_as_json_says_what_became_of_each_list(
    run: Run, tmp_path: Path, domain: str, connected: Proxy, mailman_client: Client
) -> None:
    site = write_site(tmp_path, LISTS, config=f"domain: {domain}\n")
    refused = run("--root", str(site), "apply", "--format", "json")
    assert refused.status == 1
    assert "--format json needs --yes" in refused.err
    assert connected.recorder.writes == []

    def refuse_relays_owner(number: int, method: str, path: str) -> int | None:
        return 400 if method == "POST" and path.endswith("/members") and failing else None

    failing = [True]
    assert run("--root", str(site), "apply", "--yes", "--list", "tor-dev").status == 0
    connected.recorder.fault = refuse_relays_owner
    result = run("--root", str(site), "apply", "--yes", "--format", "json")
    assert result.status == 1
    document = json.loads(result.out)
    assert document["format_version"] == 1
    assert document["ok"] is False
    assert (document["applied"], document["failed"], document["not_started"]) == (0, 1, 0)
    (relays,) = document["lists"]
    assert relays["name"] == "tor-relays"
    assert relays["started"] is True
    assert relays["left_locked_down"] is True
    assert relays["applied_changes"] == 1
    assert relays["failed_change"] == {
        "type": "add_member",
        "role": "owner",
        "address": "gus@example.org",
    }
    assert "400" in relays["error"]
    assert [e["name"] for e in document["plan"]["lists"] if e["changes"]] == ["tor-relays"]
    assert "failed: tor-relays" in result.err

    failing.clear()
    finished = run("--root", str(site), "apply", "--yes", "--format", "json")
    assert finished.status == 0
    assert json.loads(finished.out)["applied"] == 1
    again = run("--root", str(site), "apply", "--yes", "--format", "json")
    assert json.loads(again.out)["lists"] == []
    assert json.loads(again.out)["plan"]["has_changes"] is False
    owners = [o.email for o in mailman_client.get_list(f"tor-relays@{domain}").owners]
    assert owners == ["gus@example.org"]


def test_import_as_json_lists_every_outcome(
    run: Run, tmp_path: Path, domain: str, connected: Proxy, mailman_client: Client
) -> None:
    server = mailman_client.create_domain(domain)
    server.create_list("plain").add_owner("alice@example.org")
    server.create_list("ownerless")
    site = write_site(tmp_path, {}, config=f"domain: {domain}\n")
    result = run("--root", str(site), "import", "--format", "json")
    assert result.status == 1
    document = json.loads(result.out)
    assert (document["format_version"], document["domain"], document["ok"]) == (1, domain, False)
    outcomes = {item["name"]: item for item in document["lists"]}
    assert outcomes["plain"]["outcome"] == "wrote"
    assert outcomes["plain"]["path"] == "lists/plain.yaml"
    assert outcomes["ownerless"]["outcome"] == "failed"
    assert outcomes["ownerless"]["reason"].startswith("it has no owner in Mailman")
    assert "  owners:" in outcomes["ownerless"]["details"]  # the file to write, line by line
    assert "    - OWNER" in outcomes["ownerless"]["details"]
    assert (site / "lists" / "plain.yaml").is_file()
