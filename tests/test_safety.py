"""Safety against the real core: faults, blast radius, one apply at a time, secrets."""

from __future__ import annotations

import re
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest
from mailmanclient import Client

from helpers import Result, Run, StartCore, apply, connect, make_site, plan
from listsync.apply import lock_path
from mailman_core import MailmanCore
from proxy import DROP, STALL, Action, Fault, Proxy, recording_proxy

pytestmark = pytest.mark.compat

FAST = ("--retries", "1", "--timeout", "2")


def list_file(owner: str, description: str = "A list.") -> str:
    return f"description: {description}\nowners: [{owner}]\nmoderators: [mod@example.org]\n"


def numbered_site(root: Path, domain: str, count: int, extra_config: str = "") -> Path:
    """A site of `count` lists, list-00 onwards, each with an owner of its own."""
    lists = {f"list-{i:02d}": list_file(f"owner{i}@example.org") for i in range(count)}
    return make_site(root, domain, lists, extra_config)


def after_writes(count: int, action: Action) -> Fault:
    """A fault that lets `count` writes through, then does `action` to every request."""
    seen = {"writes": 0}

    def fault(number: int, method: str, path: str) -> Action | None:
        if seen["writes"] >= count:
            return action
        if method != "GET":
            seen["writes"] += 1
        return None

    return fault


def finished_and_unfinished(result: Result, names: list[str]) -> tuple[set[str], set[str]]:
    """The lists an interrupted apply reports as applied, and as failed or not started.

    Asserts that the two parts cover every list of the site exactly once.
    """
    lines = result.err.splitlines()
    applied_line = next(line for line in lines if line.startswith("applied: "))
    finished = {n.strip() for n in applied_line.removeprefix("applied: ").split(",")} - {"none"}
    failed = {name for line in lines for name in _failed_names(line)}
    waiting_line = next((line for line in lines if line.startswith("not started")), "")
    waiting = {n.strip() for n in waiting_line.partition(": ")[2].split(",") if n.strip()}
    assert not finished & (failed | waiting)
    assert finished | failed | waiting == set(names)
    return finished, failed | waiting


def _failed_names(line: str) -> list[str]:
    """The lists a `failed:` line names (lists that failed alike share one line)."""
    match = re.match(r"failed: ((?:list-\d\d)(?:, list-\d\d)*)\b", line)
    return match[1].split(", ") if match else []


def test_dropped_connections_and_503_are_retried(
    run: Run, tmp_path: Path, domain: str, connected: Proxy
) -> None:
    site = numbered_site(tmp_path, domain, 3)
    faults: dict[int, Action] = {4: DROP, 5: DROP, 9: 503, 12: 502}
    connected.recorder.fault = lambda n, method, path: faults.get(n)
    result = apply(run, site)
    assert result.status == 0, result.err
    assert "Applied 3 list(s), 0 failed." in result.out
    retried = [connected.recorder.requests[n - 1] for n in sorted(faults)]
    for request in retried:
        assert connected.recorder.requests.count(request) >= 2, request
    connected.recorder.fault = None
    assert plan(run, site).status == 0


def test_a_client_error_is_not_retried(
    run: Run, tmp_path: Path, domain: str, connected: Proxy
) -> None:
    site = numbered_site(tmp_path, domain, 1)
    (site / "lists" / "broken.yaml").write_text(
        "owners: [alice@example.org]\nsettings:\n  max_message_size: 7\n"
    )
    seen = {"patches": 0}

    def refuse_broken_settings(number: int, method: str, path: str) -> Action | None:
        if method == "PATCH" and "broken" in path:
            seen["patches"] += 1
            return 400 if seen["patches"] == 2 else None  # the first settings after the lockdown
        return None

    connected.recorder.fault = refuse_broken_settings
    result = apply(run, site)
    assert result.status == 1
    patches = [
        path
        for method, path in connected.recorder.requests
        if method == "PATCH" and "broken" in path
    ]
    assert len(patches) == 2, "the lockdown, then the refused PATCH, not retried"


def test_connection_lost_midway_reports_and_next_apply_converges(
    run: Run, tmp_path: Path, domain: str, connected: Proxy
) -> None:
    site = numbered_site(tmp_path, domain, 8)
    names = [f"list-{i:02d}" for i in range(8)]
    # 8 lists of 6 writes each (create, lock down, owner, moderator, settings,
    # open up), 4 at a time: 4 lists can take 20 writes without one finishing,
    # so after 25 (one creates the domain) at least one list is complete.
    connected.recorder.fault = after_writes(25, DROP)
    broken = apply(run, site, *FAST)
    assert broken.status == 1
    finished, unfinished = finished_and_unfinished(broken, names)
    assert finished, "the fault came after some lists were done"
    assert unfinished, "the fault came before the end"
    assert "Run 'listsync plan' to see what remains" in broken.err
    assert "Traceback" not in broken.out + broken.err

    connected.recorder.fault = None
    remaining = plan(run, site)
    assert remaining.status == 2
    planned = set(re.findall(r"^[+~] (list-\d\d)@", remaining.out, re.M))
    assert planned == unfinished
    assert apply(run, site).status == 0
    assert plan(run, site).status == 0


def test_a_stalled_server_times_out_and_the_next_apply_converges(
    run: Run, tmp_path: Path, domain: str, connected: Proxy
) -> None:
    site = numbered_site(tmp_path, domain, 4)
    connected.recorder.fault = after_writes(3, STALL)
    stalled = apply(run, site, "--retries", "0", "--timeout", "1")
    assert stalled.status == 1
    assert "did not answer within 1 s (--timeout)" in stalled.err
    assert "cannot reach Mailman" not in stalled.err
    connected.recorder.fault = None
    assert apply(run, site).status == 0
    assert plan(run, site).status == 0


@pytest.fixture
def own_core(start_core: StartCore) -> Iterator[MailmanCore]:
    core = start_core()
    try:
        yield core
    finally:
        core.stop()


def test_core_stopped_in_the_middle_of_an_apply(
    run: Run,
    tmp_path: Path,
    domain: str,
    own_core: MailmanCore,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    site = numbered_site(tmp_path / "site", domain, 6)
    names = [f"list-{i:02d}" for i in range(6)]
    with recording_proxy(own_core.url) as proxy:
        connect(monkeypatch, own_core, proxy.url, lock_dir=tmp_path)
        proxy.recorder.fault = after_writes(7, own_core.stop)
        interrupted = apply(run, site, *FAST)
        assert interrupted.status == 1
        assert not own_core.is_running()
        _, unfinished = finished_and_unfinished(interrupted, names)
        assert unfinished
        assert "Traceback" not in interrupted.out + interrupted.err

        proxy.recorder.fault = None
        own_core.restart()
        remaining = plan(run, site)
        assert remaining.status == 2
        planned = set(re.findall(r"^[+~] (list-\d\d)@", remaining.out, re.M))
        assert planned <= unfinished
        assert planned, "an interrupted list shows what remains"
        assert apply(run, site).status == 0
        assert plan(run, site).status == 0


def test_blast_radius_needs_force(
    run: Run, tmp_path: Path, domain: str, connected: Proxy, mailman_client: Client
) -> None:
    mailman_client.create_domain(domain)  # a new domain beside others has a guard of its own
    site = numbered_site(tmp_path, domain, 12)
    assert apply(run, site).status == 0, "creations never count against the limit"
    for i in range(4):
        (site / "lists" / f"list-{i:02d}.yaml").write_text(
            list_file(f"owner{i}@example.org", "Changed.")
        )
    connected.recorder.clear()
    refused = apply(run, site)
    assert refused.status == 1
    assert "refusing to apply: this plan changes 4 of 12 managed lists (33%)" in refused.err
    assert "--force" in refused.err
    assert connected.recorder.writes == []
    forced = apply(run, site, "--force")
    assert forced.status == 0
    assert mailman_client.get_list(f"list-00@{domain}").settings["description"] == "Changed."

    for i in range(4, 7):
        (site / "lists" / f"list-{i:02d}.yaml").write_text(
            list_file(f"owner{i}@example.org", "Changed.")
        )
    within = apply(run, site)
    assert within.status == 0, "3 of 12 is 25%, not more than the limit"


def test_a_new_domain_beside_others_needs_force(
    run: Run, tmp_path: Path, domain: str, connected: Proxy, mailman_client: Client
) -> None:
    """A typo in `domain:` would copy every list into a new domain: creating a domain with
    10 lists or more on a server whose other domains hold lists needs --force."""
    other = f"other-{domain}"
    mailman_client.create_domain(other).create_list("kept")
    site = numbered_site(tmp_path, domain, 10)
    planned = plan(run, site)
    assert planned.status == 2
    assert f"creates the domain {domain} and 10 lists in it, while the server holds" in planned.out
    connected.recorder.clear()
    refused = apply(run, site)
    assert refused.status == 1
    assert "refusing to apply: this plan creates the domain" in refused.err
    assert "--force" in refused.err
    assert connected.recorder.writes == []
    assert domain not in {str(d.mail_host) for d in mailman_client.domains}
    assert apply(run, site, "--force").status == 0
    assert len(mailman_client.get_domain(domain).lists) == 10
    assert plan(run, site).status == 0, "once it exists, the domain needs nothing more"

    small = numbered_site(tmp_path / "small", f"small-{domain}", 9)
    assert apply(run, small).status == 0, "fewer lists than min_managed_lists: no guard"


def test_small_sites_are_exempt_and_the_limit_is_configurable(
    run: Run, tmp_path: Path, domain: str, connected: Proxy, mailman_client: Client
) -> None:
    mailman_client.create_domain(domain)
    site = numbered_site(tmp_path, domain, 5, "safety:\n  min_managed_lists: 5\n")
    assert apply(run, site).status == 0
    for i in range(2):
        (site / "lists" / f"list-{i:02d}.yaml").write_text(
            list_file(f"owner{i}@example.org", "Changed.")
        )
    refused = apply(run, site)
    assert "refusing to apply: this plan changes 2 of 5 managed lists (40%)" in refused.err
    (site / "listsync.yaml").write_text(f"domain: {domain}\nsafety:\n  min_managed_lists: 6\n")
    assert apply(run, site).status == 0


def test_one_apply_at_a_time(run: Run, tmp_path: Path, domain: str, connected: Proxy) -> None:
    site = numbered_site(tmp_path, domain, 1)
    holder = subprocess.Popen(
        [
            sys.executable,
            "-c",
            "import sys; from listsync.apply import apply_lock\n"
            "with apply_lock(sys.argv[1], __import__('pathlib').Path('/elsewhere')):\n"
            "    print('locked', flush=True); sys.stdin.read()",
            connected.url,
        ],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        text=True,
    )
    try:
        assert holder.stdout is not None
        assert holder.stdout.readline().strip() == "locked"
        blocked = apply(run, site)
        assert blocked.status == 1
        assert "another listsync apply is running against this Mailman" in blocked.err
        assert f"pid {holder.pid}" in blocked.err
        assert "site /elsewhere" in blocked.err
        assert connected.recorder.writes == []
    finally:
        holder.communicate("")
    assert apply(run, site).status == 0
    assert (
        not lock_path(connected.url).with_name(lock_path(connected.url).name + ".holder").exists()
    )


def test_password_never_printed_nor_written(
    run: Run,
    tmp_path: Path,
    domain: str,
    connected: Proxy,
    mailman_core: MailmanCore,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    site = numbered_site(tmp_path, domain, 3)
    (site / "lists" / "broken.yaml").write_text(
        "owners: [alice@example.org]\nsettings:\n  preferred_language: de\n"
    )
    outputs: list[str] = []
    connected.recorder.fault = after_writes(4, DROP)
    outputs += [apply(run, site, "--debug", *FAST).err]
    connected.recorder.fault = None
    for args in (("--debug", "apply", "--yes"), ("plan", "--format", "json")):
        result = run("--root", str(site), *args)
        outputs += [result.out, result.err]
    out_file = tmp_path / "plan.md"
    run("--root", str(site), "plan", "--format", "markdown", "--out", str(out_file))
    outputs.append(out_file.read_text())
    monkeypatch.setenv(
        "MAILMAN_REST_URL", f"http://restadmin:{mailman_core.password}@{connected.url[7:]}"
    )
    with_userinfo = run("--root", str(site), "plan")
    outputs += [with_userinfo.out, with_userinfo.err]
    monkeypatch.setenv("MAILMAN_REST_PASSWORD", "not-" + mailman_core.password)
    denied = run("--root", str(site), "--debug", "plan")
    assert denied.status == 1
    outputs += [denied.out, denied.err]
    assert any("HTTP 401" in text for text in outputs)
    for text in outputs:
        assert mailman_core.password not in text


def test_redact_hides_addresses(run: Run, tmp_path: Path, domain: str, connected: Proxy) -> None:
    site = numbered_site(tmp_path, domain, 2)
    redacted = plan(run, site, "--redact")
    assert redacted.status == 2
    assert "+ owner o***@example.org" in redacted.out
    assert "owner0@example.org" not in redacted.out
    assert "mod@example.org" not in redacted.out
    (site / "listsync.yaml").write_text(f"domain: {domain}\nredact_addresses: true\n")
    by_site = plan(run, site, "--format", "json")
    assert "owner1@example.org" not in by_site.out
    assert "o***@example.org" in by_site.out
