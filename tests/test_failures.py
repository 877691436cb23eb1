"""A failure never exposes a list: every failure path against the real core.

Each test arms the recording proxy to refuse, stall, answer 5xx, or forward a
write and lose (or replace) its answer, then checks the server with Mailman's
own client: no list of the site is advertised, open, archived or unmitigated
beyond what its file says, and none outside its locked-down creation is
without an owner (`exposure_problems`). The next apply must converge.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import threading
import uuid
from pathlib import Path
from typing import IO, Any
from urllib.error import HTTPError

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from mailmanclient import Client

from helpers import Run, apply, connect, make_site, plan, write_site
from listsync import mailman_settings
from listsync.apply import apply_lock, lock_path
from listsync.load import load_valid_site
from listsync.policy import desired_state
from mailman_core import MailmanCore
from proxy import DROP, LOSE, STALL, Action, Proxy, Replaced, nth_write, recording_proxy

pytestmark = pytest.mark.compat

FAST = ("--retries", "1", "--timeout", "2")
BOARD = (
    "description: The board.\nvisibility: private\narchive: none\nsubscription: closed\n"
    "owners: ['Alice Board <alice@example.org>', bob@example.org]\n"
    "moderators: [carol@example.org]\n"
    "settings:\n  max_message_size: 500\n"
)
PUBLIC = (
    "description: Everyone.\nposting: open\nsubscription: open\n"
    "owners: [dave@example.org]\nmoderators: [erin@example.org]\n"
)


@pytest.fixture
def fresh(domain: str) -> str:
    """A domain of this test run's own (the shared slug is cut before a parameter's id)."""
    return f"u{uuid.uuid4().hex[:8]}.{domain}"


def desired_settings(site: Path) -> dict[str, dict[str, Any]]:
    """Each list's desired Mailman settings, as the site's files say now."""
    loaded, _ = load_valid_site(site)
    return {
        name: desired_state(loaded.effective(name), loaded.config.disabled_owner).settings
        for name in loaded.lists
    }


def exposure_problems(
    client: Client, site: Path, before: dict[str, dict[str, Any]] | None = None
) -> list[str]:
    """What on the server is more exposed than the site's files say, list by list.

    With `before` (the files before the change being applied), a list may be
    as exposed as either version: a failure must leave it no worse than doing
    nothing, or than finishing.
    """
    loaded, _ = load_valid_site(site)
    wanted_now = desired_settings(site)
    problems: list[str] = []
    try:
        live_lists = client.get_domain(loaded.config.domain).get_lists()
    except HTTPError:  # no such domain: nothing can be exposed
        return []
    for mlist in live_lists:
        name = mlist.list_name
        if name not in wanted_now or _inert(mlist):
            continue
        versions = [wanted_now[name], *([before[name]] if before and name in before else [])]
        live = dict(mlist.settings)
        for key in mailman_settings.OPENNESS:
            now = mailman_settings.openness(key, live[key])
            allowed = max(mailman_settings.openness(key, v[key]) or 0 for v in versions)
            assert now is not None, (key, live[key])
            if now > allowed:
                problems.append(f"{name}: {key} is {live[key]!r}, more open than its files say")
        if all(v["dmarc_mitigate_action"] != "no_mitigation" for v in versions) and (
            live["dmarc_mitigate_action"] == "no_mitigation"
        ):
            problems.append(f"{name}: unmitigated, its file says otherwise")
        if not live["emergency"] and not [str(o) for o in mlist.owners]:
            problems.append(f"{name}: open (not in emergency moderation) without an owner")
    return problems


def _inert(mlist: Any) -> bool:
    """A list whose creation stopped right after Mailman made it (private style, no one in it):

    not advertised, subscriptions moderated, non-members held, no owner, moderator
    or member, so nobody can join it or get a post through, archived or not."""
    settings = mlist.settings
    return (
        settings["advertised"] is False
        and settings["subscription_policy"] in ("moderate", "confirm_then_moderate")
        and settings["default_nonmember_action"] in ("hold", "reject", "discard")
        and not list(mlist.owners)
        and not list(mlist.moderators)
        and not list(mlist.members)
    )


class Outage:
    """From the start-th write on, every request is answered `status`; counts them."""

    def __init__(self, start: int, status: int) -> None:
        self.start, self.status = start, status
        self.writes = 0
        self.answered = 0

    def __call__(self, number: int, method: str, path: str) -> Action | None:
        if method != "GET":
            self.writes += 1
        if self.writes >= self.start:
            self.answered += 1
            return self.status
        return None


# -- safe creation --------------------------------------------------------------------


@pytest.mark.parametrize("failure", [400, 500, DROP], ids=["refused", "500", "dropped"])
def test_creation_stopped_at_any_step_never_exposes_the_list(
    run: Run,
    tmp_path: Path,
    fresh: str,
    connected: Proxy,
    mailman_client: Client,
    failure: Action,
) -> None:
    lists = {"board": BOARD}
    clean = make_site(tmp_path / "probe", f"probe.{fresh}", lists)
    connected.recorder.clear()
    assert apply(run, clean).status == 0
    writes = len(connected.recorder.writes)
    assert writes >= 7, connected.recorder.writes  # domain, list, owners, moderator, settings
    for step in range(2, writes + 1):  # the first write creates the domain
        site = make_site(tmp_path / f"step-{step}", f"s{step}.{fresh}", lists)
        connected.recorder.fault = nth_write(step, failure)
        broken = apply(run, site, "--retries", "0")
        connected.recorder.fault = None
        assert broken.status == 1, f"step {step}: {broken.out}"
        assert "failed: board" in broken.err
        assert exposure_problems(mailman_client, site) == [], f"step {step}"
        if step == 3:  # the lockdown itself
            assert "private style" in broken.err, f"step {step}: {broken.err}"
        if step > 3:
            assert "left locked down" in broken.err, f"step {step}: {broken.err}"
            board = mailman_client.get_list(f"board@s{step}.{fresh}")
            assert board.settings["advertised"] is False
            assert board.settings["emergency"] is True
        finished = apply(run, site)
        assert finished.status == 0, f"step {step}: {finished.err}"
        assert plan(run, site).status == 0
        assert exposure_problems(mailman_client, site) == []


def test_a_list_whose_settings_keep_being_refused_stays_locked_down(
    run: Run, tmp_path: Path, domain: str, connected: Proxy, mailman_client: Client
) -> None:
    site = make_site(
        tmp_path,
        domain,
        {"board": BOARD, "public": PUBLIC.replace("posting: open", "posting: members")},
    )
    patches = {"count": 0}

    def refuse_board_settings(number: int, method: str, path: str) -> Action | None:
        if method == "PATCH" and f"/lists/board.{domain}/config" in path:
            patches["count"] += 1
            return 400 if patches["count"] > 1 else None  # the lockdown itself goes through
        return None

    connected.recorder.fault = refuse_board_settings
    first = apply(run, site)
    assert "board was created but not finished: it is left locked down" in first.err
    for failing in (first, apply(run, site)):  # a later apply fails alike, and opens nothing
        assert failing.status == 1
        assert "failed: board" in failing.err
        assert "list(s), 1 failed: board." in failing.out
        board = mailman_client.get_list(f"board@{domain}").settings
        assert (board["advertised"], board["emergency"], board["archive_policy"]) == (
            False,
            True,
            "never",
        )
        assert exposure_problems(mailman_client, site) == []
    connected.recorder.fault = None
    assert apply(run, site).status == 0
    assert plan(run, site).status == 0


# -- validation as strict as Mailman ------------------------------------------------


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("owners: [o|brien@example.org]\n", "lists/x.yaml:1:10: owners[0]: 'o|brien@example.org'"),
        ("owners: [a^b@example.org]\n", "lists/x.yaml:1:10: owners[0]: 'a^b@example.org'"),
        ("owners: [x@bücher.example]\n", "lists/x.yaml:1:10: owners[0]: 'x@bücher.example'"),
        (
            "owners: [a@example.org]\nsettings:\n  max_message_size: 100.0\n",
            "lists/x.yaml:3:21: settings.max_message_size: expected a whole number >= 0",
        ),
        (
            "owners: [a@example.org]\nsettings:\n  preferred_language: pt-BR\n",
            "lists/x.yaml:3:23: settings.preferred_language: Mailman has no language 'pt-BR';"
            " did you mean 'pt_BR'?",
        ),
        (
            "owners: [a@example.org]\nsettings:\n  send_welcome_message: maybe\n",
            "lists/x.yaml:3:25: settings.send_welcome_message: expected true or false",
        ),
    ],
)
def test_validate_refuses_what_mailman_refuses(
    run: Run, tmp_path: Path, text: str, message: str
) -> None:
    site = write_site(tmp_path, {"x": text})
    result = run("--root", str(site), "validate")
    assert result.status == 1
    assert message in result.out, result.out


def test_a_language_the_server_lacks_is_refused_before_any_write(
    run: Run, tmp_path: Path, domain: str, connected: Proxy
) -> None:
    site = make_site(
        tmp_path, domain, {"lang": "owners: [a@example.org]\nsettings:\n  preferred_language: xx\n"}
    )
    assert run("--root", str(site), "validate").status == 0
    result = apply(run, site)
    assert result.status == 1
    assert "lists/lang.yaml:3:3: settings.preferred_language: this server has no language 'xx'" in (
        result.out
    )
    assert connected.recorder.writes == []


SETTING_FORMS: dict[str, st.SearchStrategy[Any]] = {
    "max_message_size": st.integers(0, 5000).flatmap(
        lambda n: st.sampled_from([n, str(n), f" {n}", f"{n:_}"])
    ),
    "digest_size_threshold": st.integers(0, 900).flatmap(
        lambda n: st.sampled_from([n, float(n), str(n), f"{n}.5", n + 0.25])
    ),
    "send_welcome_message": st.sampled_from(
        [True, False, "yes", "No", "TRUE", "off", "On", "0", "1"]
    ),
    "accept_these_nonmembers": st.sampled_from(
        ["bot@example.org", "", [], ["^.*@bots\\.example\\.org$", "ci@example.org"]]
    ),
    "acceptable_aliases": st.sampled_from(
        ["Alias@Example.org", ["^Team@Example\\.org$", "b@example.org"], ""]
    ),
    "bounce_info_stale_after": st.sampled_from(["7d", "1w", "36h", "1d12h", "90m"]),
}


@settings(
    max_examples=15,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(values=st.fixed_dictionaries({}, optional=SETTING_FORMS))
def test_settings_in_every_form_a_person_writes_converge(
    run: Run, tmp_path: Path, domain: str, connected: Proxy, values: dict[str, Any]
) -> None:
    lines = "".join(f"  {key}: {_yaml(value)}\n" for key, value in values.items())
    text = "owners: [a@example.org]\n" + (f"settings:\n{lines}" if lines else "")
    site = make_site(tmp_path, domain, {"forms": text})
    assert run("--root", str(site), "validate").status == 0, text
    applied = apply(run, site)
    assert applied.status == 0, applied.err
    settled = plan(run, site)
    assert settled.status == 0, f"{text}\n{settled.out}"


def _yaml(value: Any) -> str:
    if isinstance(value, str):
        return "'" + value.replace("'", "''") + "'"
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, list):
        return "[" + ", ".join(_yaml(item) for item in value) + "]"
    return repr(value)


# -- retried writes whose first answer was lost ------------------------------------------

LOST_ANSWERS = [pytest.param(LOSE, id="lost"), pytest.param(Replaced(504), id="gateway-504")]


@pytest.mark.parametrize("action", LOST_ANSWERS)
def test_a_write_whose_answer_is_lost_is_done_once_and_converges(
    run: Run,
    tmp_path: Path,
    fresh: str,
    connected: Proxy,
    mailman_client: Client,
    action: Action,
) -> None:
    lists = {"board": BOARD}
    # Every kind of write: create domain, list (and lock it down), add owner and
    # moderator, settings in each stage; then disable (add owner, settings, remove
    # owner, add ban) and enable (remove ban, add owners, settings, remove owner).
    phases = [
        ("create", BOARD),
        ("disable", BOARD + "disabled: true\n"),
        ("enable", BOARD),
    ]
    for phase, text in phases:
        probe = make_site(tmp_path / f"probe-{phase}", f"probe.{fresh}", {"board": text})
        connected.recorder.clear()
        assert apply(run, probe).status == 0
        writes = len(connected.recorder.writes)
        assert writes >= 3
        for step in range(1, writes + 1):
            sub = f"{phase}{step}.{fresh}"
            site = make_site(tmp_path / f"{phase}-{step}", sub, lists)
            for earlier, earlier_text in phases[: [p for p, _ in phases].index(phase)]:
                (site / "lists" / "board.yaml").write_text(earlier_text)
                assert apply(run, site).status == 0, earlier
            (site / "lists" / "board.yaml").write_text(text)
            connected.recorder.fault = nth_write(step, action)
            result = apply(run, site, "--retries", "2")
            connected.recorder.fault = None
            assert result.status == 0, f"{phase} write {step}: {result.err}"
            assert plan(run, site).status == 0, f"{phase} write {step}"
            assert exposure_problems(mailman_client, site) == []


# -- outages, a slow answer, Ctrl-C ----------------------------------------------------------


def test_an_outage_behind_a_gateway_starts_no_further_list(
    run: Run, tmp_path: Path, domain: str, connected: Proxy, mailman_client: Client
) -> None:
    lists = {f"team-{i:02d}": PUBLIC.replace("dave", f"dave{i}") for i in range(12)}
    site = make_site(tmp_path, domain, lists)
    mailman_client.create_domain(domain)  # else a new domain of 12 lists needs --force
    outage = Outage(10, 503)
    connected.recorder.fault = outage
    result = apply(run, site, *FAST)
    assert result.status == 1
    assert "not started (Mailman stopped answering)" in result.err
    # The lists under way (4 threads) each try their change twice (--retries 1);
    # a thread between lists may start one more before the first failure is known.
    assert outage.answered <= 2 * 4 * 2, f"{outage.answered} requests went into the outage"
    connected.recorder.fault = None
    assert exposure_problems(mailman_client, site) == []
    assert apply(run, site).status == 0
    assert plan(run, site).status == 0


def test_a_single_slow_answer_does_not_abort_a_healthy_run(
    run: Run, tmp_path: Path, domain: str, connected: Proxy
) -> None:
    site = make_site(tmp_path, domain, {"board": BOARD, "public": PUBLIC})
    connected.recorder.fault = nth_write(4, STALL)
    result = apply(run, site, "--retries", "2", "--timeout", "1")
    assert result.status == 0, result.err
    assert plan(run, site).status == 0


# `python -m listsync` with Ctrl-C turned into KeyboardInterrupt, as at a terminal, even
# when the suite itself runs where SIGINT is ignored (a background job of a script): a
# process started with SIGINT ignored keeps ignoring it, so the test would see nothing.
AS_AT_A_TERMINAL = (
    "import runpy, signal, sys;"
    " signal.signal(signal.SIGINT, signal.default_int_handler);"
    " sys.argv[0] = 'listsync';"
    " runpy.run_module('listsync', run_name='__main__', alter_sys=True)"
)


def test_ctrl_c_reports_what_was_applied_and_leaves_nothing_exposed(
    tmp_path: Path, domain: str, mailman_core: MailmanCore, mailman_client: Client
) -> None:
    """Ctrl-C at the 12th write. Until listsync says it has taken the interrupt, the proxy
    holds every later request, so no list can start behind its back however slowly a busy
    machine runs the signal handler: the lists under way finish, the others never start."""
    lists = {f"team-{i:02d}": PUBLIC.replace("dave", f"dave{i}") for i in range(10)}
    site = make_site(tmp_path / "site", domain, lists)
    mailman_client.create_domain(domain)  # else a new domain of 10 lists needs --force
    env = {
        **os.environ,
        "MAILMAN_REST_USER": mailman_core.user,
        "MAILMAN_REST_PASSWORD": mailman_core.password,
        "LISTSYNC_LOCK_FILE": str(tmp_path / "apply.lock"),
    }
    processes: list[subprocess.Popen[str]] = []
    interrupted, taken = threading.Event(), threading.Event()
    err_lines: list[str] = []
    writes = {"seen": 0}

    def hold_after_interrupt(number: int, method: str, path: str) -> Action | None:
        if interrupted.is_set():
            return lambda: taken.wait(timeout=120)
        if method != "GET":
            writes["seen"] += 1
            if writes["seen"] == 12:
                interrupted.set()
                os.kill(processes[0].pid, signal.SIGINT)
        return None

    def read_stderr(stream: IO[str]) -> None:
        for line in stream:
            err_lines.append(line)
            if line.startswith("interrupted: no further list starts"):
                taken.set()

    with recording_proxy(mailman_core.url) as proxy:
        env["MAILMAN_REST_URL"] = proxy.url
        proxy.recorder.fault = hold_after_interrupt
        command = [sys.executable, "-c", AS_AT_A_TERMINAL, "--root", str(site), "apply", "--yes"]
        processes.append(
            subprocess.Popen(
                command, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True
            )
        )
        assert processes[0].stderr is not None
        assert processes[0].stdout is not None
        reader = threading.Thread(target=read_stderr, args=(processes[0].stderr,))
        reader.start()
        out = processes[0].stdout.read()
        processes[0].wait(timeout=120)
        reader.join(timeout=120)
    err = "".join(err_lines)
    assert taken.is_set(), err
    assert processes[0].returncode == 1, err
    assert "interrupted: no further list was started" in err
    assert "not started (interrupted): " in err
    assert "Traceback" not in err
    assert exposure_problems(mailman_client, site) == []
    assert "Applied " in out


# -- one lock per server ------------------------------------------------------------------


def test_one_lock_per_server_however_its_url_is_spelled(
    run: Run,
    tmp_path: Path,
    domain: str,
    mailman_core: MailmanCore,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    site = make_site(tmp_path, domain, {"public": PUBLIC})
    monkeypatch.delenv("LISTSYNC_LOCK_FILE", raising=False)
    numeric = mailman_core.url
    by_name = numeric.replace("127.0.0.1", "localhost") + "/"
    assert lock_path(numeric) == lock_path(by_name)
    assert lock_path(numeric) != lock_path(numeric.replace(f":{mailman_core.port}", ":1"))
    connect(monkeypatch, mailman_core, by_name)
    with apply_lock(numeric, site):
        refused = apply(run, site)
    assert refused.status == 1
    assert "another listsync apply is running against this Mailman" in refused.err
    assert apply(run, site).status == 0


# -- the whole site is validated, whatever the scope -----------------------------------------


def test_a_scoped_plan_still_validates_every_file(
    run: Run, tmp_path: Path, domain: str, connected: Proxy
) -> None:
    site = make_site(tmp_path, domain, {"public": PUBLIC, "broken": "owners: [nobody]\n"})
    for command in (("plan", "--list", "public"), ("apply", "--yes", "--list", "public")):
        result = run("--root", str(site), *command)
        assert result.status == 1
        assert "lists/broken.yaml:1:10: owners[0]: 'nobody' is not an e-mail address" in result.out
    assert connected.recorder.requests == []


def test_a_scoped_run_parses_again_only_files_it_has_not_found_valid(
    run: Run, tmp_path: Path, domain: str, connected: Proxy, monkeypatch: pytest.MonkeyPatch
) -> None:
    cache = tmp_path / "cache"
    monkeypatch.setenv("LISTSYNC_CACHE_DIR", str(cache))
    site = make_site(tmp_path / "site", domain, {"public": PUBLIC, "other": BOARD})
    assert run("--root", str(site), "plan", "--list", "public").status == 0

    def remembered() -> list[str]:
        return sorted(
            key
            for found in cache.glob("site-*.json")
            for key in json.loads(found.read_text())["entries"]
        )

    first = remembered()
    assert len(first) == 1, "other.yaml, checked but not planned"
    assert run("--root", str(site), "plan", "--list", "public").status == 0
    assert remembered() == first
    (site / "lists" / "other.yaml").write_text(BOARD.replace("bob@example.org", "bob"))
    broken = run("--root", str(site), "plan", "--list", "public")
    assert broken.status == 1, "a changed file is checked again"
    assert "lists/other.yaml:" in broken.out
    (site / "listsync.yaml").write_text(f"domain: {domain}\n")  # no disabled_owner now
    (site / "lists" / "other.yaml").write_text(BOARD)
    assert run("--root", str(site), "plan", "--list", "public").status == 0
    again = remembered()
    assert len(again) == 1, "other.yaml's entry of this run only"
    assert again != first, "another listsync.yaml is another key"


# -- display names ----------------------------------------------------------------------------


def test_owner_display_names_reach_mailman(
    run: Run, tmp_path: Path, fresh: str, connected: Proxy, mailman_client: Client
) -> None:
    people = f"owners: ['Alice Board <alice@{fresh}>', bob@{fresh}]\n"
    site = make_site(
        tmp_path, fresh, {"board": people, "other": f"owners: ['Ally <alice@{fresh}>']\n"}
    )
    assert apply(run, site).status == 0
    board = mailman_client.get_list(f"board@{fresh}")
    owners = {str(m.email): m.display_name for m in board.owners}
    assert owners == {f"alice@{fresh}": "Alice Board", f"bob@{fresh}": ""} or owners == {
        f"alice@{fresh}": "Ally",
        f"bob@{fresh}": "",
    }, "the name belongs to the address: whichever list subscribed it first named it"
    assert plan(run, site).status == 0, "display names are not compared"


# -- random faults -------------------------------------------------------------------------

ADDRESSES = ["alice@example.org", "Bob Example <bob@example.org>", "carol@example.net"]
FAULTS = st.sampled_from([400, 500, 503, DROP, STALL, LOSE, Replaced(503)])


def _choice(*values: str) -> st.SearchStrategy[str]:
    return st.sampled_from(values)


random_lists = st.fixed_dictionaries(
    {"owners": st.lists(st.sampled_from(ADDRESSES), min_size=1, max_size=2, unique=True)},
    optional={
        "visibility": _choice("public", "private"),
        "archive": _choice("public", "private", "none"),
        "posting": _choice("open", "members", "moderated", "announce"),
        "subscription": _choice("open", "moderated", "closed"),
        "dmarc": st.fixed_dictionaries({"mitigation": _choice("munge_from", "none")}),
        "moderators": st.lists(st.sampled_from(ADDRESSES), max_size=1),
        "disabled": st.booleans(),
        "settings": st.fixed_dictionaries({"max_message_size": st.integers(0, 999)}),
    },
)
examples = iter(range(1_000_000))


@settings(
    max_examples=10,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(
    first=st.dictionaries(_choice("list-a", "list-b", "list-c"), random_lists, min_size=1),
    second=st.dictionaries(_choice("list-a", "list-b", "list-c"), random_lists, min_size=1),
    faults=st.dictionaries(st.integers(1, 25), FAULTS, max_size=3),
)
def test_random_faults_never_expose_a_list_and_the_next_apply_converges(
    run: Run,
    tmp_path: Path,
    domain: str,
    connected: Proxy,
    mailman_client: Client,
    first: dict[str, Any],
    second: dict[str, Any],
    faults: dict[int, Action],
) -> None:
    example = next(examples)
    sub = f"e{example}.{domain}"
    root = tmp_path / f"example-{example}"
    site = make_site(root, sub, {name: json.dumps(spec) for name, spec in first.items()})
    assert apply(run, site).status == 0
    # The faults strike the apply of a second version of the site: new lists,
    # changed ones, disabled and enabled ones.
    before = desired_settings(site)
    for name, spec in second.items():
        (site / "lists" / f"{name}.yaml").write_text(json.dumps(spec))
    counter = {"writes": 0}

    def fault(number: int, method: str, path: str) -> Action | None:
        if method == "GET":
            return None
        counter["writes"] += 1
        return faults.get(counter["writes"])

    connected.recorder.fault = fault
    apply(run, site, "--retries", "1", "--timeout", "1")
    connected.recorder.fault = None
    assert exposure_problems(mailman_client, site, before) == []
    converged = apply(run, site)
    assert converged.status == 0, converged.err
    assert plan(run, site).status == 0
    assert exposure_problems(mailman_client, site) == []
