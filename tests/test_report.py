"""`listsync report` against a core that takes real mail: every section decided by values
Mailman itself wrote.

A post goes in over LMTP and out to the SMTP sink, so Mailman sets the list's
`last_post_at`; the other lists get none. The test reads those timestamps back
and judges the report `--as-of` a time an hour past the midpoint between the
lists made before the post and the post, with `inactive_after: 3600 seconds`,
so the lists made before were never posted to, the posted one is active, and
the one made after is new; two hours after the post, the posted one is
inactive, apart from the never used ones. The counting proxy shows what the
report reads beyond a full plan.
"""

from __future__ import annotations

import json
from datetime import datetime, timedelta
from pathlib import Path

from mail import READER, SmtpSink, post, subscribe, wait_until
from mailmanclient import Client

from helpers import Run, write_site
from listsync.lifecycle import mailman_time
from mailman_core import MailmanCore
from proxy import Proxy

DISABLED_OWNER = "devnull@example.org"
LISTS = {
    "busy": "description: Busy.\nposting: open\nowners: [alice@example.org]\n",
    "quiet": "description: Quiet.\nowners: [bob@example.org]\n",
    "orphan": "description: Orphan.\nvisibility: private\nowners: [dave@example.org]\n",
    "retired": "description: Retired.\ndisabled: true\n",
}
FRESH = "description: Fresh.\nowners: [carol@example.org]\n"


def test_the_report_sorts_lists_by_what_mailman_recorded(
    run: Run,
    tmp_path: Path,
    domain: str,
    mail_core: MailmanCore,
    mail_client: Client,
    smtp_sink: SmtpSink,
    through_proxy: Proxy,
) -> None:
    config = f"domain: {domain}\ndisabled_owner: {DISABLED_OWNER}\nlifecycle:\n"
    config += "  inactive_after: 3600 seconds\n"
    site = write_site(tmp_path / "site", LISTS, config=config)
    assert run("--root", str(site), "apply", "--yes").status == 0

    # Drift and a forgotten list, made by hand.
    orphan = mail_client.get_list(f"orphan@{domain}")
    orphan.add_owner("ghost@example.org")
    orphan.remove_owner("dave@example.org")
    legacy = mail_client.get_domain(domain).create_list("legacy")
    legacy.add_owner("alice@example.org")
    legacy.remove_owner("alice@example.org")
    subscribe(mail_client.get_list(f"busy@{domain}"), READER)

    # A real post through Mailman: LMTP in, SMTP out to the sink.
    post(mail_core, f"busy@{domain}", "anyone@example.net", "Busy is alive")
    delivered = wait_until(
        "the post delivered to the member",
        lambda: smtp_sink.received(lambda m: "Busy is alive" in str(m["Subject"])),
    )
    assert delivered[0]["List-Id"] is not None
    posted_at = wait_until(
        "Mailman to record busy's last post",
        lambda: mailman_time(mail_client.get_list(f"busy@{domain}").settings["last_post_at"]),
    )
    (site / "lists" / "fresh.yaml").write_text(FRESH)
    assert run("--root", str(site), "apply", "--yes", "--list", "fresh").status == 0

    created: dict[str, datetime] = {}
    for name in ("busy", "quiet", "orphan", "fresh"):
        stamp = mailman_time(mail_client.get_list(f"{name}@{domain}").settings["created_at"])
        assert stamp is not None, name
        created[name] = stamp
    before = max(created["quiet"], created["orphan"])
    assert before < posted_at < created["fresh"]
    cutoff = before + (posted_at - before) / 2
    as_of = (cutoff + timedelta(hours=1)).isoformat()

    through_proxy.recorder.clear()
    planned = run("--root", str(site), "plan", "--format", "json")
    assert planned.status == 0
    plan_requests = len(through_proxy.recorder.requests)
    through_proxy.recorder.clear()
    result = run("--root", str(site), "report", "--format", "json", "--as-of", as_of)
    assert result.status == 0, result.err
    report_requests = len(through_proxy.recorder.requests)
    assert through_proxy.recorder.writes == []
    # the unmanaged list's settings, and both rosters in one call each
    assert report_requests == plan_requests + 1 + 2

    report = json.loads(result.out)
    assert report["format_version"] == 1
    assert report["inactive_after"] == "3600 seconds"
    assert report["inactive"] == [], "made before the cut-off, but never posted to"
    unused = report["never_posted"]
    assert {entry["name"] for entry in unused} == {"quiet", "orphan"}
    idle = [entry["idle_seconds"] for entry in unused]
    assert idle == sorted(idle, reverse=True), "oldest first"
    assert all(entry["last_post_at"] is None for entry in unused)
    assert {e["name"]: e["retire"] for e in unused}["quiet"] == "lists/quiet.yaml: disabled: true"
    assert [entry["name"] for entry in report["new"]] == ["fresh"]
    # busy has its reader; the disabled list is not judged
    assert [e["name"] for e in report["no_members"]] == ["fresh", "legacy", "orphan", "quiet"]
    problems = {entry["name"]: entry["problem"] for entry in report["ownerless"]}
    assert problems == {
        "legacy": "no owner",
        "orphan": "owned only by ghost@example.org, whom no list file mentions",
    }
    assert [entry["name"] for entry in report["unmanaged"]] == ["legacy"]
    busy_count = mail_client.get_list(f"busy@{domain}").member_count
    listed = {e["name"]: e for e in unused + report["new"] + report["unmanaged"]}
    assert {e["name"]: e["private"] for e in unused} == {"quiet": False, "orphan": True}
    assert busy_count == 1
    assert listed["fresh"]["member_count"] == 0

    # Two hours after the post, the posted list is inactive and the others never posted.
    later = (posted_at + timedelta(hours=2)).isoformat()
    aged = json.loads(run("--root", str(site), "report", "--format", "json", "--as-of", later).out)
    assert [e["name"] for e in aged["inactive"]] == ["busy"]
    assert aged["inactive"][0]["last_post_at"] == posted_at.isoformat()
    never = [e["name"] for e in aged["never_posted"]]
    assert sorted(never[:2]) == ["orphan", "quiet"]
    assert never[2:] == ["fresh"], "oldest first"
    assert aged["new"] == []
    text = run("--root", str(site), "report", "--as-of", later).out
    assert "Inactive lists: no post for 3600 seconds (retire each with" in text
    assert "\n  busy  last post: " in text
    assert "Never posted to, made more than 3600 seconds ago (retire each with" in text
    assert "\n  quiet  created: " in text
    assert "Lists without members: 4\n  fresh  managed: yes; last post: never;" in text

    # Judged now, with the default threshold of 18 months, nothing is inactive.
    (site / "listsync.yaml").write_text(f"domain: {domain}\ndisabled_owner: {DISABLED_OWNER}\n")
    now = json.loads(run("--root", str(site), "report", "--format", "json").out)
    assert now["inactive"] == []
    assert now["inactive_after"] == "18 months"
    assert {e["name"] for e in now["new"]} == {"quiet", "orphan", "fresh"}

    strict = run(
        "--root", str(site), "report", "--inactive-after", "1 hour", "--as-of", as_of,
        "--fail-on", "inactive,never_posted",
    )  # fmt: skip
    assert strict.status == 2
    assert "report: not empty: never_posted" in strict.err
    assert "quiet  created: " in strict.out
    lenient = run("--root", str(site), "report", "--fail-on", "inactive,never_posted")
    assert lenient.status == 0


def test_the_lists_a_person_runs_by_the_files_and_by_mailman(
    run: Run, tmp_path: Path, domain: str, mail_client: Client, through_proxy: Proxy
) -> None:
    site = write_site(
        tmp_path / "site",
        {"busy": LISTS["busy"], "quiet": LISTS["quiet"]},
        config=f"domain: {domain}\nredact_addresses: false\n",
    )
    assert run("--root", str(site), "apply", "--yes").status == 0
    mail_client.get_domain(domain).create_list("legacy").add_owner("alice@example.org")
    mail_client.create_domain(f"other.{domain}").create_list("x").add_owner("alice@example.org")
    (site / "lists" / "quiet.yaml").write_text(
        "description: Quiet.\nowners: [bob@example.org, alice@example.org]\n"
    )

    through_proxy.recorder.clear()
    result = run("--root", str(site), "report", "--owner", "alice@example.org", "--format", "json")
    assert result.status == 0, result.err
    # listing, members/find, the 3 lists' settings, the owner and moderator rosters
    assert len(through_proxy.recorder.requests) == 7, through_proxy.recorder.requests
    assert through_proxy.recorder.writes == []
    person = json.loads(result.out)["person"]
    says = {entry["list"]: entry["says"] for entry in person.pop("lists")}
    assert list(says) == [f"busy@{domain}", f"legacy@{domain}", f"quiet@{domain}"]
    assert says[f"legacy@{domain}"][0] == "unmanaged (in no file)"
    assert "owner by lists/quiet.yaml, not in Mailman (not yet applied?)" in says[f"quiet@{domain}"]
    elsewhere = person.pop("elsewhere")
    assert f"x.other.{domain}" in elsewhere
    assert not any(item.endswith(f".{domain}") and "other." not in item for item in elsewhere)
    assert person == {
        "address": "alice@example.org",
        "role": "owner",
        "in_files": [f"busy@{domain}", f"quiet@{domain}"],
        "in_mailman": [f"busy@{domain}", f"legacy@{domain}"],
        "only_in_files": [f"quiet@{domain}"],
        "only_in_mailman": [f"legacy@{domain}"],
    }

    # Any case, a display name: the same person, one line per list, nothing else of the site.
    text = run(
        "--root", str(site), "report", "--owner", "Alice <ALICE@Example.org>",
        "--as-of", "2999-01-01", "--redact",
    )  # fmt: skip
    assert text.status == 0, text.err
    lines = text.out.splitlines()
    assert lines[0] == "alice@example.org as owner: 3 lists of the site's domain", (
        "its own, unmasked"
    )
    assert lines[1].startswith(f"  busy@{domain}  never posted to, made ")
    assert lines[1].endswith("; no members")
    assert lines[2].startswith(f"  legacy@{domain}  unmanaged (in no file); never posted to, made ")
    assert lines[3].startswith(f"  quiet@{domain}  owner by lists/quiet.yaml, not in Mailman")
    assert f"x.other.{domain}" in lines[4]
    assert "Inactive" not in text.out
    assert "Unmanaged lists" not in text.out
    masked = run(
        "--root", str(site), "report", "--owner", "alice@example.org", "--format", "json",
        "--redact",
    )  # fmt: skip
    quiet = [e for e in json.loads(masked.out)["person"]["lists"] if e["list"].startswith("quiet")]
    assert quiet[0]["owners"] == ["b***@example.org"], "bob masked, as the site report masks him"
    markdown = run("--root", str(site), "report", "--format", "markdown", "--redact")
    assert "| legacy | " in markdown.out
    assert "alice@example.org" not in markdown.out
    assert "a\\*\\*\\*@example.org" in markdown.out, "a***@example.org, its stars escaped"
    bad = run("--root", str(site), "report", "--fail-on", "everything")
    assert bad.status == 1
    sections = "inactive, never_posted, new, no_members, ownerless, unmanaged"
    assert f"--fail-on everything: the sections are {sections}" in bad.err
