"""How listsync's plan and apply scale with the number of lists, against a real Mailman core.

A benchmark, not a test: it starts its own throwaway GNU Mailman cores
(``tools/mailman_core.py``) in each server shape asked for (by default the
old test shape, SQLite with one REST worker, and the production shape,
PostgreSQL with Mailman's stock two workers), writes a site of N generated
list files (owners, moderators, non-default settings, 1% disabled) and
measures, in the same run and in alternating order so that every side sees
the same machine load:

* ``naive_read``: a plain mailmanclient loop over ``client.lists`` reading every
  list's settings, owners and moderators (3 requests a list): the baseline;
* ``floor``: a bare pooled-session loop doing one ``GET lists/ID/config`` per
  list, one after another (the cheapest full read there is: one request a list);
* ``floor_pool``: the same with 4 threads, i.e. what the REST server sustains;
  ``plan_cost``'s ``floor_urllib3`` the same again on a bare urllib3 pool;
* ``plan``: ``listsync plan`` with no changes, through the library (load +
  explained_plan + render) and as the command users run (``plan_cli``);
* ``plan_drift``: the same after 1% of the lists were changed by hand;
* ``plan_one``: a merge request's plan, scoped to one list (``--list NAME``);
* ``apply_saved_cli``: ``listsync apply plan.json`` of a saved plan with no
  changes: what the pipeline's apply job costs besides its writes (it plans
  the recorded lists again and compares), against ``plan_cli``;
* ``report_cli``: ``listsync report``, against ``plan_cli`` (it reads what a
  full plan reads);
* ``apply``: ``listsync apply`` creating N lists from the files, against
  ``naive_apply``, a plain mailmanclient create-and-configure loop.

Each measurement runs in a child process of its own, so that its peak memory
(``VmHWM``; for the command, ``ru_maxrss`` from ``wait4``) is its own.
Request counts come from a counting hook (mailmanclient's ``request_hooks``),
the bare loop itself, and listsync's own ``RequestCounter``; at the smallest
size they are checked once against the recording proxy of ``tests/proxy.py``
(an untimed round).

    .venv/bin/python benchmarks/plan_scale.py                  # N = 100 and 1,000
    .venv/bin/python benchmarks/plan_scale.py --large          # and 5,000 (slow)
    .venv/bin/python benchmarks/plan_scale.py --sizes 200 --rounds 2 --apply-rounds 1
    .venv/bin/python benchmarks/plan_scale.py --shapes postgresql:4   # another server

Figures go to standard output and, as JSON, to ``--out``.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import platform
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from collections import Counter
from collections.abc import Callable, Iterator, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from datetime import date
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parent.parent
sys.path[:0] = [str(REPO / "tools"), str(REPO / "tests")]

from mailman_core import DEFAULT_VERSION, MailmanCore, group_members, install  # noqa: E402
from postgres_cluster import PostgresCluster  # noqa: E402

DOMAIN = "bench.example.org"
DEVNULL_OWNER = "devnull@example.org"
DEFAULT_SIZES = (100, 1000)
LARGE_SIZE = 5000
CATEGORIES = ("discussion", "notification", "administrative", "team")
POSTING = ("open", "members", "moderated", "announce")
SUBSCRIPTION = ("open", "moderated", "closed")
DMARC = ("munge_from", "wrap_message", "reject", "none")

JSON = dict[str, Any]


# -- the site ------------------------------------------------------------------


def list_name(i: int) -> str:
    return f"bench-{i:05d}"


def list_file(i: int, n: int) -> str:
    """List i of a site of n: every field set, most of them away from the defaults."""
    people = max(20, n // 4)  # owners and moderators are shared between lists
    name = list_name(i)
    owners = [f"owner{(i * 7 + k * 13) % people:05d}@example.org" for k in (0, 1)]
    if i % 3 == 0:
        owners[0] = f"Owner {i % people} <{owners[0]}>"
    moderators = [f"mod{i % people:05d}@example.org"] if i % 2 == 0 else []
    unconditional = "true" if i % 3 else "false"
    lines = [
        "# yaml-language-server: $schema=../schema/list.schema.json",
        f"description: Benchmark list {i} of {n}, for {CATEGORIES[i % 4]} traffic.",
        f"category: {CATEGORIES[i % 4]}",
        f"visibility: {'private' if i % 5 == 0 else 'public'}",
        f"posting: {POSTING[i % 4]}",
        f"subscription: {SUBSCRIPTION[i % 3]}",
        f"dmarc: {{mitigation: {DMARC[i % 4]}, unconditional: {unconditional}}}",
        f"owners: [{', '.join(repr(o) if '<' in o else o for o in owners)}]",
        f"moderators: [{', '.join(moderators)}]",
        "settings:",
        f"  max_message_size: {100 + i % 400}",
        "  send_welcome_message: false",
    ]
    if i % 10 == 0:
        lines.append(f"  acceptable_aliases: ['^{name}-.*@example\\.org$']")
    if i % 100 == 50:
        lines.append("disabled: true")
    return "\n".join(lines) + "\n"


def write_site(root: Path, n: int) -> list[str]:
    """A site of n lists at root; returns the list names."""
    (root / "lists").mkdir(parents=True)
    (root / "listsync.yaml").write_text(f"domain: {DOMAIN}\ndisabled_owner: {DEVNULL_OWNER}\n")
    names = [list_name(i) for i in range(n)]
    for i, name in enumerate(names):
        (root / "lists" / f"{name}.yaml").write_text(list_file(i, n))
    return names


def child_desired(args: JSON) -> JSON:
    """The desired state of every list as plain JSON: what the naive loop is given."""
    from listsync.load import load_valid_site
    from listsync.policy import desired_states

    site, _ = load_valid_site(Path(args["root"]))
    items = [
        {
            "name": name,
            "settings": state.settings,
            "owners": sorted(state.owners),
            "moderators": sorted(state.moderators),
            "bans": sorted(state.bans),
        }
        for name, state in desired_states(site).items()
    ]
    Path(args["out"]).write_text(json.dumps({"domain": site.config.domain, "lists": items}))
    return {"seconds": 0.0, "rss0": 0}


# -- the measured operations, each run in a child process ------------------------


def _env() -> tuple[str, str, str]:
    return (
        os.environ["MAILMAN_REST_URL"],
        os.environ["MAILMAN_REST_USER"],
        os.environ["MAILMAN_REST_PASSWORD"],
    )


def _status_kb(key: str) -> int:
    """A figure of /proc/self/status in KiB: VmRSS now, VmHWM the peak of this process.

    (Not ru_maxrss: Linux carries the parent's peak over into a child across exec.)
    """
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith(f"{key}:"):
            return int(line.split()[1])
    return 0


_CPU0 = 0.0


def _cpu_s() -> float:
    """CPU seconds of this process and its reaped children (the parse workers)."""
    times = os.times()
    return times.user + times.system + times.children_user + times.children_system


def _begin() -> int:
    """Mark the start of the measured operation; returns the RSS at that point."""
    global _CPU0
    _CPU0 = _cpu_s()
    return _status_kb("VmRSS")


class _Hook:
    """A mailmanclient request hook counting requests by method."""

    def __init__(self) -> None:
        self.counts: Counter[str] = Counter()

    def __call__(self, params: JSON) -> JSON:
        self.counts[str(params["method"])] += 1
        return params


def child_naive_read(args: JSON) -> JSON:
    """What most admin scripts do: walk client.lists, read settings and both rosters."""
    from mailmanclient import Client

    url, user, password = _env()
    hook = _Hook()
    rss = _begin()
    start = time.perf_counter()
    client = Client(url, user, password, request_hooks=[hook])
    state = {}
    for mlist in client.lists:
        settings = dict(mlist.settings)
        owners = sorted(m.email for m in mlist.owners)
        moderators = sorted(m.email for m in mlist.moderators)
        state[mlist.fqdn_listname] = (settings, owners, moderators)
    seconds = time.perf_counter() - start
    return {"seconds": seconds, "requests": dict(hook.counts), "lists": len(state), "rss0": rss}


def _requests_reader(url: str, user: str, password: str, threads: int) -> Callable[[str], int]:
    """GET one list's config on a keep-alive requests session; threads share its pool."""
    import requests

    session = requests.Session()
    session.auth = (user, password)
    session.mount("http://", requests.adapters.HTTPAdapter(pool_maxsize=threads))

    def get(name: str) -> int:
        response = session.get(f"{url}/lists/{name}.{DOMAIN}/config", timeout=60)
        response.raise_for_status()
        return len(response.json())

    return get


def _urllib3_reader(url: str, user: str, password: str, threads: int) -> Callable[[str], int]:
    """GET one list's config on a bare urllib3 pool, without retries."""
    import urllib3

    pool = urllib3.connection_from_url(url, maxsize=threads, retries=False)
    headers = urllib3.make_headers(basic_auth=f"{user}:{password}")
    prefix = urllib3.util.parse_url(url).path

    def get(name: str) -> int:
        response = pool.urlopen(
            "GET", f"{prefix}/lists/{name}.{DOMAIN}/config", headers=headers, timeout=60
        )
        if response.status != 200:
            raise RuntimeError(f"{name}: HTTP {response.status}")
        return len(json.loads(response.data))

    return get


def child_floor(args: JSON) -> JSON:
    """One GET of each list's config on one keep-alive session; threads > 1 share a pool.

    With ``client: urllib3``, a bare urllib3 pool instead of a requests session: the
    least CPU a client can spend on a request. Only the client used is made.
    """
    url, user, password = _env()
    names: list[str] = json.loads(Path(args["names_file"]).read_text())
    threads = int(args.get("threads", 1))
    reader = _urllib3_reader if args.get("client") == "urllib3" else _requests_reader
    get = reader(url, user, password, threads)  # imports and an empty pool: not timed
    rss = _begin()
    start = time.perf_counter()
    if threads == 1:
        read = [get(name) for name in names]
    else:
        with ThreadPoolExecutor(threads) as pool:
            read = list(pool.map(get, names))
    seconds = time.perf_counter() - start
    return {"seconds": seconds, "requests": {"GET": len(read)}, "lists": len(read), "rss0": rss}


def _count_kinds(backend: Any) -> Counter[str]:
    """Count the backend's requests by kind of endpoint (config, roster, bans, ...)."""
    import threading

    kinds: Counter[str] = Counter()
    lock = threading.Lock()
    call = backend.connection.call

    def counting(path: str, data: Any = None, method: str | None = None) -> Any:
        bare = path.split("?")[0].rstrip("/")
        if bare.startswith("lists/"):
            parts = bare.split("/")
            kind = "lists/ID" if len(parts) == 2 else f"lists/ID/{'/'.join(parts[2:3])}"
        else:
            kind = bare if bare.startswith(("members", "system")) else bare.split("/")[0]
            if bare.startswith("domains/") and bare.endswith("/lists"):
                kind = "domains/D/lists"
        with lock:
            kinds[f"{method or ('POST' if data is not None else 'GET')} {kind}"] += 1
        return call(path, data, method)

    backend.connection.call = counting
    return kinds


def child_plan(args: JSON) -> JSON:
    """listsync plan through the library, as the CLI does it: load, lint, plan, render."""
    from listsync import render
    from listsync.load import load_valid_site
    from listsync.mailman import MailmanBackend
    from listsync.policy import lint
    from listsync.reconcile import explained_plan, read_states

    url, user, password = _env()
    names: list[str] | None = args.get("names")
    rss = _begin()
    start = time.perf_counter()
    site, _ = load_valid_site(Path(args["root"]), names)
    lint(site)
    loaded = time.perf_counter()
    backend = MailmanBackend(url, user, password)
    kinds = _count_kinds(backend)
    plan = explained_plan(site, read_states(site, backend, names), None, None)
    planned = time.perf_counter()
    text = render.render_plan(plan, "text")
    end = time.perf_counter()
    backend.close()
    return {
        "seconds": end - start,
        "phases": {"load": loaded - start, "plan": planned - loaded, "render": end - planned},
        "requests": dict(backend.requests.by_method),
        "requests_by_kind": dict(kinds),
        "summary": {action.value: count for action, count in plan.counts().items()},
        "has_changes": plan.has_changes,
        "output_bytes": len(text),
        "rss0": rss,
    }


def child_apply(args: JSON) -> JSON:
    """listsync apply through the library: load, lint, plan, apply."""
    from listsync.apply import apply_plan
    from listsync.load import load_valid_site
    from listsync.mailman import MailmanBackend
    from listsync.policy import lint
    from listsync.reconcile import explained_plan, read_states

    url, user, password = _env()
    names: list[str] | None = args.get("names")
    rss = _begin()
    start = time.perf_counter()
    site, _ = load_valid_site(Path(args["root"]), names)
    lint(site)
    loaded = time.perf_counter()
    kwargs = {"workers": int(args["workers"])} if args.get("workers") else {}
    backend = MailmanBackend(url, user, password, **kwargs)
    kinds = _count_kinds(backend)
    plan = explained_plan(site, read_states(site, backend, names), None, None)
    planned = time.perf_counter()
    result = apply_plan(backend, plan)
    end = time.perf_counter()
    backend.close()
    if not result.ok:
        failures = "; ".join(f"{r.name}: {r.error}" for r in result.failed[:5])
        raise RuntimeError(f"apply failed for {len(result.failed)} list(s): {failures}")
    return {
        "seconds": end - start,
        "phases": {"load": loaded - start, "plan": planned - loaded, "apply": end - planned},
        "requests": dict(backend.requests.by_method),
        "requests_by_kind": dict(kinds),
        "lists": len(result.results),
        "rss0": rss,
    }


def child_naive_apply(args: JSON) -> JSON:
    """What most admin scripts do to create lists: create, configure, add owners, one by one."""
    from urllib.error import HTTPError

    from mailmanclient import Client

    url, user, password = _env()
    data = json.loads(Path(args["desired_file"]).read_text())
    hook = _Hook()
    rss = _begin()
    start = time.perf_counter()
    client = Client(url, user, password, request_hooks=[hook])
    try:
        domain = client.get_domain(data["domain"])
    except HTTPError:
        domain = client.create_domain(data["domain"])
    for item in data["lists"]:
        mlist = domain.create_list(item["name"])
        settings = mlist.settings
        for key, value in item["settings"].items():
            settings[key] = "" if value == [] else value
        settings.save()
        for address in item["owners"]:
            mlist.add_owner(address)
        for address in item["moderators"]:
            mlist.add_moderator(address)
        for pattern in item["bans"]:
            mlist.bans.add(pattern)
    seconds = time.perf_counter() - start
    return {
        "seconds": seconds,
        "requests": dict(hook.counts),
        "lists": len(data["lists"]),
        "rss0": rss,
    }


def child_drift(args: JSON) -> JSON:
    """Change some lists by hand, as an admin in Postorius would (not measured)."""
    from listsync.mailman import MailmanBackend

    url, user, password = _env()
    backend = MailmanBackend(url, user, password)
    for k, name in enumerate(args["names"]):
        fqdn = f"{name}@{DOMAIN}"
        if k % 2:
            backend.add_member(fqdn, "owner", "intruder@example.org")
        else:
            backend.update_settings(fqdn, {"archive_policy": "never", "max_message_size": 1})
    return {"seconds": 0.0, "requests": dict(backend.requests.by_method), "rss0": _begin()}


CHILDREN: dict[str, Callable[[JSON], JSON]] = {
    "naive_read": child_naive_read,
    "floor": child_floor,
    "plan": child_plan,
    "apply": child_apply,
    "naive_apply": child_naive_apply,
    "drift": child_drift,
    "desired": child_desired,
}


# -- running children --------------------------------------------------------------


@dataclass
class Sample:
    """One measurement: the operation's own figures, its wall time, its peak memory."""

    op: str
    round: int
    seconds: float
    wall: float
    peak_rss_kb: int
    load_before: float
    detail: JSON = field(default_factory=dict)

    def as_json(self) -> JSON:
        return {
            "op": self.op,
            "round": self.round,
            "seconds": round(self.seconds, 4),
            "wall": round(self.wall, 4),
            "peak_rss_kb": self.peak_rss_kb,
            "load_before": round(self.load_before, 2),
            **self.detail,
        }


def _wait(process: subprocess.Popen[bytes]) -> tuple[int, int, float]:
    """Reap `process` with wait4: its exit code, peak RSS in KiB and CPU seconds."""
    _, status, usage = os.wait4(process.pid, 0)
    process.returncode = os.waitstatus_to_exitcode(status)
    return process.returncode, usage.ru_maxrss, usage.ru_utime + usage.ru_stime


_TICK = os.sysconf("SC_CLK_TCK")


def server_cpu_s(core: MailmanCore | None) -> float:
    """CPU seconds used so far by the core's processes (master, runner, REST worker)."""
    if core is None or core.pid is None:
        return 0.0
    total = 0
    for pid in group_members(core.pid):
        with contextlib.suppress(OSError):
            raw = Path(f"/proc/{pid}/stat").read_text()
            fields = raw[raw.rfind(")") + 2 :].split()
            total += int(fields[11]) + int(fields[12])  # utime, stime
    return total / _TICK


def run_child(
    op: str, kind: str, args: JSON, env: dict[str, str], rnd: int, core: MailmanCore | None = None
) -> Sample:
    load = os.getloadavg()[0]
    server0, busy0 = server_cpu_s(core), _system_busy_s()
    started = time.perf_counter()
    process = subprocess.Popen(
        [sys.executable, str(Path(__file__).resolve()), "_child", kind, json.dumps(args)],
        stdout=subprocess.PIPE,
        env={**os.environ, **env},
    )
    assert process.stdout is not None
    out = process.stdout.read()
    code, _, child_cpu = _wait(process)
    wall = time.perf_counter() - started
    if code != 0:
        raise RuntimeError(f"{op} (round {rnd}) failed with exit code {code}")
    busy = _system_busy_s() - busy0
    detail: JSON = json.loads(out)
    if core is not None:
        detail["server_cpu_s"] = round(server_cpu_s(core) - server0, 3)
        detail["others_cpu_s"] = _others(busy, child_cpu, detail["server_cpu_s"])
    seconds = float(detail.pop("seconds"))
    detail["rss_before_op_kb"] = int(detail.pop("rss0"))
    return Sample(op, rnd, seconds, wall, int(detail.pop("peak_kb")), load, detail)


def run_cli(
    op: str,
    argv: list[str],
    env: dict[str, str],
    rnd: int,
    expect: int,
    core: MailmanCore | None = None,
) -> Sample:
    """`listsync ARGV` as a user runs it: wall time includes Python's start-up.

    Its peak memory is wait4's ru_maxrss, which cannot be below this (small)
    process's own peak: see `parent_peak_kb` in the results.
    """
    listsync = Path(sys.executable).with_name("listsync")
    load = os.getloadavg()[0]
    server0, busy0 = server_cpu_s(core), _system_busy_s()
    started = time.perf_counter()
    process = subprocess.Popen(
        [str(listsync), *argv],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        env={**os.environ, **env},
    )
    assert process.stderr is not None
    err = process.stderr.read()
    code, peak, cpu = _wait(process)
    wall = time.perf_counter() - started
    if code != expect:
        raise RuntimeError(f"{op}: listsync exited {code}, expected {expect}: {err.decode()}")
    busy = _system_busy_s() - busy0
    detail: JSON = {"cpu_s": round(cpu, 3)}
    if core is not None:
        detail["server_cpu_s"] = round(server_cpu_s(core) - server0, 3)
        detail["others_cpu_s"] = _others(busy, cpu, detail["server_cpu_s"])
    return Sample(op, rnd, wall, wall, peak, load, detail)


def _others(busy: float, client: float, server: float) -> float:
    """CPU seconds the rest of the machine used meanwhile (other engineers' work)."""
    return round(max(0.0, busy - client - server), 2)


# -- one size -------------------------------------------------------------------------


def say(message: str) -> None:
    print(message, file=sys.stderr, flush=True)


@dataclass(frozen=True)
class Shape:
    """A server shape: database and REST workers, written ``postgresql:2``."""

    database: str
    workers: int

    @classmethod
    def parse(cls, text: str) -> Shape:
        database, _, workers = text.partition(":")
        if database not in ("sqlite", "postgresql") or not workers.isdigit():
            raise argparse.ArgumentTypeError(f"not a shape (DATABASE:WORKERS): {text}")
        return cls(database, int(workers))

    @property
    def label(self) -> str:
        return f"{self.database}:{self.workers}"


@dataclass
class Bench:
    home: Path
    work: Path
    rounds: int
    apply_rounds: int
    naive_apply_max: int
    shape: Shape
    cluster: PostgresCluster | None = None
    samples: list[Sample] = field(default_factory=list)
    checks: JSON = field(default_factory=dict)
    cores: int = 0

    def core(self, label: str, workers: int | None = None) -> MailmanCore:
        """A new core of the shape; on PostgreSQL with a new database of its own."""
        self.cores += 1
        url = None
        if self.cluster is not None:
            url = self.cluster.create_database(f"bench_{self.cores}")
        run_dir = self.work / "cores" / f"{self.shape.database}-{label}"
        return MailmanCore(
            self.home, run_dir, workers=workers or self.shape.workers, database_url=url
        )

    def add(self, n: int, sample: Sample) -> Sample:
        sample.detail["n"] = n
        self.samples.append(sample)
        say(
            f"  n={n:<5} {sample.op:<12} round {sample.round}: {sample.seconds:7.2f} s"
            f"  wall {sample.wall:7.2f} s  {sum(sample.detail.get('requests', {}).values()):>6}"
            f" req  {sample.peak_rss_kb / 1024:6.1f} MiB  cpu {sample.detail.get('cpu_s', 0):6.2f}"
            f" server {sample.detail.get('server_cpu_s', 0):6.2f}"
            f" others {sample.detail.get('others_cpu_s', 0):6.2f}  load {sample.load_before:.1f}"
        )
        return sample

    def size(self, n: int) -> None:
        root = self.work / f"site-{n}"
        names = write_site(root, n)
        names_file = self.work / f"names-{n}.json"
        names_file.write_text(json.dumps(names))
        desired_file = self.work / f"desired-{n}.json"
        run_child("desired", "desired", {"root": str(root), "out": str(desired_file)}, {}, 0)
        plan_core = self._apply_phase(n, root, desired_file)
        try:
            self._plan_phase(n, root, names, names_file, plan_core)
        finally:
            plan_core.stop()

    def _apply_phase(self, n: int, root: Path, desired_file: Path) -> MailmanCore:
        """(d): apply of n new lists vs the naive loop, each round on a fresh core.

        Returns the core of the last listsync round, running: the plan phase's site.
        """
        compare = n <= self.naive_apply_max
        rounds = self.apply_rounds if compare else 1
        kept: MailmanCore | None = None
        for rnd in range(rounds):
            sides = ["naive_apply", "apply"] if rnd % 2 == 0 else ["apply", "naive_apply"]
            for op in sides if compare else ["apply"]:
                core = self.core(f"{n}-{op}-{rnd}").start()
                try:
                    args: JSON = (
                        {"desired_file": str(desired_file)}
                        if op == "naive_apply"
                        else {"root": str(root)}
                    )
                    self.add(n, run_child(op, op, args, core.env(), rnd, core))
                    if op == "naive_apply" and rnd == 0:
                        self._check_converged(n, "naive_apply", root, core)
                finally:
                    if op == "apply":
                        if kept is not None:
                            kept.stop()
                        kept = core
                    else:
                        core.stop()
        assert kept is not None
        return kept

    def _check_converged(self, n: int, who: str, root: Path, core: MailmanCore) -> None:
        """listsync sees no change after `who` ran: both loops did the same work."""
        sample = run_child("check", "plan", {"root": str(root)}, core.env(), 0)
        self.checks[f"{who}_converged_n{n}"] = not sample.detail["has_changes"]
        if sample.detail["has_changes"]:
            say(f"  WARNING: after {who}, listsync still plans {sample.detail['summary']}")

    def _plan_phase(
        self, n: int, root: Path, names: list[str], names_file: Path, core: MailmanCore
    ) -> None:
        env = core.env()
        self._check_converged(n, "apply", root, core)
        one = names[len(names) // 2 + 1]
        drifted = [list_name(i) for i in range(0, n, 100)]  # 1%, none of them disabled

        def child(op: str, kind: str, args: JSON) -> Callable[[int], Sample]:
            return lambda rnd: run_child(op, kind, args, env, rnd, core)

        def cli(op: str, argv: list[str], expect: int = 0) -> Callable[[int], Sample]:
            return lambda rnd: run_cli(op, ["--root", str(root), *argv], env, rnd, expect, core)

        saved = self.work / f"saved-{n}.json"
        run_cli("save", ["--root", str(root), "plan", "--out", str(saved)], env, 0, 0)
        ops = [
            child("naive_read", "naive_read", {}),
            child("floor", "floor", {"names_file": str(names_file)}),
            child("floor_pool", "floor", {"names_file": str(names_file), "threads": 4}),
            child("plan", "plan", {"root": str(root)}),
            cli("plan_cli", ["plan"]),
            child("plan_one", "plan", {"root": str(root), "names": [one]}),
            cli("plan_one_cli", ["plan", "--list", one]),
            cli("apply_saved_cli", ["apply", str(saved)]),
            cli("report_cli", ["report", "--format", "json"]),
        ]
        for rnd in range(self.rounds):
            # rotated, and reversed every other round: each operation runs early and
            # late, after and before each other one
            shift = rnd % len(ops)
            order = ops[shift:] + ops[:shift]
            for measure in order if rnd % 2 == 0 else order[::-1]:
                self.add(n, measure(rnd))
            # (c): 1% of the lists changed by hand, planned, then repaired: the first
            # time by a full apply (measured), then by an apply of those lists only.
            run_child("drift", "drift", {"names": drifted}, env, rnd)
            self.add(n, child("plan_drift", "plan", {"root": str(root)})(rnd))
            if rnd == 0:
                self.add(n, cli("plan_drift_cli", ["plan", "--detailed-exitcode"], 2)(rnd))
                self.add(n, child("apply_drift", "apply", {"root": str(root)})(rnd))
            else:
                run_child("repair", "apply", {"root": str(root), "names": drifted}, env, rnd)

    def verify_counts(self, n: int) -> None:
        """An untimed round through tests/proxy.py: the counters tell the truth."""
        from proxy import recording_proxy

        root = self.work / f"verify-{n}"
        names = write_site(root, n)
        names_file = self.work / f"verify-names-{n}.json"
        names_file.write_text(json.dumps(names))
        core = self.core(f"verify-{n}").start()
        try:
            run_child("setup", "apply", {"root": str(root)}, core.env(), 0)
            with recording_proxy(core.url) as proxy:
                env = {**core.env(), "MAILMAN_REST_URL": proxy.url}
                cases: list[tuple[str, str, JSON]] = [
                    ("naive_read", "naive_read", {}),
                    ("floor", "floor", {"names_file": str(names_file)}),
                    ("plan", "plan", {"root": str(root)}),
                    ("plan_one", "plan", {"root": str(root), "names": [names[1]]}),
                ]
                for op, kind, args in cases:
                    proxy.recorder.clear()
                    sample = run_child(op, kind, args, env, 0)
                    counted = sum(sample.detail["requests"].values())
                    seen = len(proxy.recorder.requests)
                    self.checks[f"proxy_count_{op}_n{n}"] = {"own": counted, "proxy": seen}
                    if counted != seen:
                        say(f"  WARNING: {op} counted {counted} requests, the proxy saw {seen}")
        finally:
            core.stop()

    def probe_server(self, workers: int, n: int) -> JSON:
        """GET config throughput of a core with `workers` REST workers, by client threads."""
        core = self.core(f"probe-{workers}", workers)
        root = self.work / f"probe-site-{workers}"
        names = write_site(root, n)
        names_file = self.work / f"probe-names-{workers}.json"
        names_file.write_text(json.dumps(names))
        core.start()
        rates: JSON = {}
        try:
            run_child("setup", "apply", {"root": str(root)}, core.env(), 0)
            for threads in (1, 2, 4, 8):
                rate = []
                for rnd in range(self.rounds):
                    args = {"names_file": str(names_file), "threads": threads}
                    sample = run_child("probe", "floor", args, core.env(), rnd, core)
                    rate.append(n / sample.seconds)
                rates[str(threads)] = round(statistics.median(rate), 1)
                say(f"  server workers={workers} client threads={threads}: {rates[str(threads)]}/s")
        finally:
            core.stop()
        return rates


# -- summary ---------------------------------------------------------------------------


def _median(samples: Sequence[Sample], attr: str = "seconds") -> float:
    return statistics.median(float(getattr(s, attr)) for s in samples)


def summarise(samples: list[Sample], n: int) -> JSON:
    by_op: dict[str, list[Sample]] = {}
    for sample in samples:
        if sample.detail.get("n") == n:
            by_op.setdefault(sample.op, []).append(sample)
    ops: JSON = {}
    for op, group in by_op.items():
        requests = [sum(s.detail.get("requests", {}).values()) for s in group]
        ops[op] = {
            "median_s": round(_median(group), 3),
            "min_s": round(min(s.seconds for s in group), 3),
            "max_s": round(max(s.seconds for s in group), 3),
            "median_wall_s": round(_median(group, "wall"), 3),
            "rounds": len(group),
            "requests": max(requests) if any(requests) else None,
            "requests_by_method": group[0].detail.get("requests"),
            "requests_by_kind": group[0].detail.get("requests_by_kind"),
            "peak_rss_mib": round(max(s.peak_rss_kb for s in group) / 1024, 1),
            "rss_before_op_mib": round(
                min(s.detail.get("rss_before_op_kb", 0) for s in group) / 1024, 1
            ),
        }
        for key in ("cpu_s", "server_cpu_s", "others_cpu_s"):
            values = [float(s.detail[key]) for s in group if key in s.detail]
            if values:
                ops[op][f"median_{key}"] = round(statistics.median(values), 3)
        if ops[op].get("median_server_cpu_s") and ops[op]["median_s"]:
            # the share of the wall time Mailman's REST server was computing
            ops[op]["server_busy"] = round(ops[op]["median_server_cpu_s"] / ops[op]["median_s"], 2)
        phases = [s.detail["phases"] for s in group if "phases" in s.detail]
        if phases:
            ops[op]["median_phases_s"] = {
                k: round(statistics.median(p[k] for p in phases), 3) for k in phases[0]
            }
    ratios: JSON = {}

    def ratio(a: str, b: str) -> float | None:
        if a in ops and b in ops and ops[b]["median_s"]:
            return round(float(ops[a]["median_s"]) / float(ops[b]["median_s"]), 2)
        return None

    for op in ("plan", "plan_cli", "plan_drift", "plan_drift_cli", "floor", "floor_pool"):
        ratios[f"naive_read/{op}"] = ratio("naive_read", op)
    for op in ("plan", "plan_cli", "plan_drift"):
        ratios[f"{op}/floor"] = ratio(op, "floor")
        ratios[f"{op}/floor_pool"] = ratio(op, "floor_pool")
    ratios["naive_apply/apply"] = ratio("naive_apply", "apply")
    ratios["apply_saved_cli/plan_cli"] = ratio("apply_saved_cli", "plan_cli")
    ratios["report_cli/plan_cli"] = ratio("report_cli", "plan_cli")
    server: JSON = {}
    if "floor_pool" in ops:
        server["get_config_per_s_4_threads"] = round(n / ops["floor_pool"]["median_s"], 1)
    if "floor" in ops:
        server["get_config_per_s_sequential"] = round(n / ops["floor"]["median_s"], 1)
    if "plan" in ops and ops["plan"]["requests"]:
        server["plan_requests_per_s"] = round(
            ops["plan"]["requests"] / ops["plan"]["median_phases_s"]["plan"], 1
        )
    return {"n": n, "operations": ops, "ratios": ratios, "server": server}


def targets(result: JSON) -> JSON:
    """The targets, at 1,000 lists (and 5,000 for linearity), met or not."""
    sizes = result["sizes"]
    out: JSON = {}
    if "1000" in sizes:
        at = sizes["1000"]
        ops, ratios = at["operations"], at["ratios"]
        for op in ("plan", "plan_cli", "plan_drift"):
            r = ratios.get(f"naive_read/{op}")
            if r is not None:
                out[f"{op} at least 4x faster than naive"] = {"ratio": r, "met": r >= 4}
        for op in ("plan", "plan_cli", "plan_drift"):
            r = ratios.get(f"{op}/floor")
            if r is not None:
                out[f"{op} within 1.3x of the floor"] = {"ratio": r, "met": r <= 1.3}
        if "plan" in ops:
            req = ops["plan"]["requests"]
            out["plan requests at most 1 a list plus a constant"] = {
                "requests": req,
                "per_list": round(req / 1000, 3),
                "beyond_one_a_list": req - 1000,
                "by_kind": ops["plan"]["requests_by_kind"],
            }
        if ratios.get("naive_apply/apply") is not None:
            r = ratios["naive_apply/apply"]
            out["apply at least 2x faster than naive"] = {"ratio": r, "met": r >= 2}
    scoped = {
        n: at["operations"][op]["median_s"]
        for n, at in sizes.items()
        for op in ("plan_one_cli",)
        if op in at["operations"]
    }
    if scoped:
        out["one-list plan under 1 s whatever N (CLI wall)"] = {
            "seconds": scoped,
            "met": all(s < 1 for s in scoped.values()),
        }
    if "1000" in sizes and "5000" in sizes:
        for op in ("plan", "plan_cli"):
            a = sizes["1000"]["operations"][op]["median_s"]
            b = sizes["5000"]["operations"][op]["median_s"]
            out[f"{op} at 5000 within 6x of 1000"] = {"ratio": round(b / a, 2), "met": b / a <= 6}
    return out


def print_table(result: JSON, shape: str) -> None:
    for n, at in result["sizes"].items():
        print(f"\n{shape}, N = {n}")
        print(
            f"{'operation':<16}{'median s':>10}{'wall s':>9}{'requests':>10}{'peak MiB':>10}"
            f"{'client cpu':>12}{'server cpu':>12}"
        )
        for op, figures in at["operations"].items():
            req = figures["requests"] if figures["requests"] is not None else "-"
            print(
                f"{op:<16}{figures['median_s']:>10.2f}{figures['median_wall_s']:>9.2f}"
                f"{req:>10}{figures['peak_rss_mib']:>10.1f}"
                f"{figures.get('median_cpu_s', 0):>12.2f}"
                f"{figures.get('median_server_cpu_s', 0):>12.2f}"
            )
        for name, value in at["ratios"].items():
            if value is not None:
                print(f"  {name}: {value}")
        for name, value in at["server"].items():
            print(f"  server {name}: {value}")
    print(f"\nTargets ({shape})")
    for name, value in result["targets"].items():
        print(f"  {name}: {value}")


# -- main ------------------------------------------------------------------------------


def _proc_ticks() -> dict[int, tuple[str, int]]:
    ticks: dict[int, tuple[str, int]] = {}
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            with contextlib.suppress(OSError, IndexError, ValueError):
                raw = (entry / "stat").read_text()
                fields = raw[raw.rfind(")") + 2 :].split()
                name = raw[raw.find("(") + 1 : raw.rfind(")")]
                ticks[int(entry.name)] = (name, int(fields[11]) + int(fields[12]))
    return ticks


def busy_processes(seconds: float = 2.0) -> list[str]:
    """The processes that used the CPU over a short sample: what else loads the machine."""
    before = _proc_ticks()
    time.sleep(seconds)
    after = _proc_ticks()
    used = [
        (ticks - before[pid][1], name)
        for pid, (name, ticks) in after.items()
        if pid in before and pid != os.getpid()
    ]
    used.sort(reverse=True)
    return [f"{name} {100 * t / _TICK / seconds:.0f}%" for t, name in used[:6] if t > 0]


def _system_busy_s() -> float:
    """CPU seconds the whole machine has spent busy (all cores), from /proc/stat."""
    fields = Path("/proc/stat").read_text().split("\n", 1)[0].split()[1:]
    user, nice, system, _idle, _iowait, irq, softirq, steal = (int(x) for x in fields[:8])
    return (user + nice + system + irq + softirq + steal) / _TICK


def machine() -> JSON:
    cpu = ""
    with contextlib.suppress(OSError):
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    return {
        "cores": os.cpu_count(),
        "cpu": cpu,
        "python": platform.python_version(),
        "platform": platform.platform(),
        "load_avg_start": [round(x, 2) for x in os.getloadavg()],
        "busy_at_start": busy_processes(),
    }


def versions() -> JSON:
    """What was measured: the listsync commit, Mailman's release, the client libraries."""
    from importlib import metadata

    commit = subprocess.run(
        ["git", "-C", str(REPO), "rev-parse", "--short", "HEAD"],
        capture_output=True,
        text=True,
        check=False,
    ).stdout.strip()
    dirty = subprocess.run(
        ["git", "-C", str(REPO), "status", "--porcelain", "--", "src"],
        capture_output=True,
        text=True,
        check=False,
    ).stdout.strip()
    libraries = ("requests", "mailmanclient", "pydantic", "ruamel.yaml", "urllib3")
    return {
        "listsync_commit": commit + ("+uncommitted" if dirty else ""),
        "mailman": DEFAULT_VERSION,
        "python": platform.python_version(),
        **{name: metadata.version(name) for name in libraries},
    }


@contextlib.contextmanager
def workdir(keep: Path | None) -> Iterator[Path]:
    if keep is not None:
        keep.mkdir(parents=True, exist_ok=True)
        yield keep
        return
    path = Path(tempfile.mkdtemp(prefix="listsync-bench-"))
    try:
        yield path
    finally:
        shutil.rmtree(path, ignore_errors=True)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument(
        "--sizes",
        type=lambda s: [int(x) for x in s.split(",")],
        default=list(DEFAULT_SIZES),
        help="list counts, comma separated (default 100,1000)",
    )
    parser.add_argument("--large", action="store_true", help=f"add N = {LARGE_SIZE} (slow)")
    parser.add_argument("--rounds", type=int, default=3, help="rounds of each plan measurement")
    parser.add_argument("--apply-rounds", type=int, default=2, help="rounds of apply vs naive")
    parser.add_argument(
        "--naive-apply-max",
        type=int,
        default=1000,
        help="compare apply with the naive loop up to this N; above, apply runs once as setup",
    )
    parser.add_argument(
        "--shapes",
        type=lambda text: [Shape.parse(part) for part in text.split(",")],
        default=[Shape("sqlite", 1), Shape("postgresql", 2)],
        help="server shapes DATABASE:WORKERS, comma separated, each measured in turn"
        " (default sqlite:1,postgresql:2)",
    )
    parser.add_argument(
        "--probe-server-workers",
        type=int,
        default=0,
        metavar="W",
        help="also measure GET config throughput with W REST workers (vs 1), in each shape",
    )
    parser.add_argument("--no-verify", action="store_true", help="skip the proxy count check")
    parser.add_argument(
        "--mailman-home",
        type=Path,
        default=Path(os.environ.get("LISTSYNC_MAILMAN_HOME") or REPO / ".mailman"),
    )
    parser.add_argument("--work", type=Path, help="keep sites and cores here (default: temp)")
    parser.add_argument(
        "--out",
        type=Path,
        default=REPO / "benchmarks" / "results" / f"plan_scale-{date.today().isoformat()}.json",
    )
    args = parser.parse_args(argv)
    sizes = sorted(set(args.sizes + ([LARGE_SIZE] if args.large else [])))
    install(args.mailman_home, log=say)
    result: JSON = {
        "benchmark": "plan_scale",
        "date": date.today().isoformat(),
        "machine": machine(),
        "versions": versions(),
        "config": {
            "mailman": DEFAULT_VERSION,
            "shapes": [shape.label for shape in args.shapes],
            "sizes": sizes,
            "rounds": args.rounds,
            "apply_rounds": args.apply_rounds,
            "naive_apply_max": args.naive_apply_max,
            "client_threads_floor_pool": 4,
        },
        "shapes": {},
    }
    started = time.perf_counter()
    with workdir(args.work) as work:
        for shape in args.shapes:
            say(f"shape {shape.label}")
            result["shapes"][shape.label] = measure_shape(args, shape, sizes, work)
    result["machine"]["load_avg_end"] = [round(x, 2) for x in os.getloadavg()]
    result["machine"]["busy_at_end"] = busy_processes()
    result["parent_peak_kb"] = _status_kb("VmHWM")
    result["duration_s"] = round(time.perf_counter() - started, 1)
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(result, indent=1) + "\n")
    for label, shaped in result["shapes"].items():
        print_table(shaped, label)
    say(f"\nwrote {args.out} ({result['duration_s']} s)")
    return 0


def measure_shape(args: argparse.Namespace, shape: Shape, sizes: list[int], work: Path) -> JSON:
    """Every measurement against cores of one shape; their summary, targets and samples."""
    cluster = PostgresCluster().start() if shape.database == "postgresql" else None
    try:
        bench = Bench(
            args.mailman_home,
            work / shape.database,
            args.rounds,
            args.apply_rounds,
            args.naive_apply_max,
            shape,
            cluster,
        )
        if not args.no_verify:
            say(f"checking request counters through the recording proxy (n={sizes[0]})")
            bench.verify_counts(sizes[0])
        for n in sizes:
            say(f"n = {n}")
            bench.size(n)
        shaped: JSON = {}
        if args.probe_server_workers:
            probe_n = 300
            shaped["server_workers_probe"] = {
                "n": probe_n,
                "get_config_per_s_by_client_threads": {
                    "1": bench.probe_server(1, probe_n),
                    str(args.probe_server_workers): bench.probe_server(
                        args.probe_server_workers, probe_n
                    ),
                },
            }
    finally:
        if cluster is not None:
            cluster.stop()
    shaped["checks"] = bench.checks
    shaped["sizes"] = {str(n): summarise(bench.samples, n) for n in sizes}
    shaped["targets"] = targets(shaped)
    shaped["samples"] = [s.as_json() for s in bench.samples]
    return shaped


def child_main(kind: str, raw: str) -> int:
    result = CHILDREN[kind](json.loads(raw))
    result["peak_kb"] = _status_kb("VmHWM")
    result["cpu_s"] = round(_cpu_s() - _CPU0, 3)
    print(json.dumps(result))
    return 0


if __name__ == "__main__":
    if len(sys.argv) == 4 and sys.argv[1] == "_child":
        sys.exit(child_main(sys.argv[2], sys.argv[3]))
    sys.exit(main())
