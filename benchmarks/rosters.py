"""What a list's roster of 5,000 members costs listsync to apply and plan, against a naive loop.

A benchmark, not a test: it starts a throwaway GNU Mailman core
(``tools/mailman_core.py``; by default the production shape, PostgreSQL with
Mailman's stock two REST workers, as ``plan_scale.py`` starts it; ``--shape
sqlite`` for SQLite), creates one list with listsync, then gives it a roster
file (``members_from: rosters/bench.txt``, ``membership: exact``) of N
addresses (default 5,000) and measures, in the same run:

* ``apply_from_empty``: the list exists with no members; ``listsync apply``
  through the library, as the command runs it (lock, plan, show, apply),
  against ``naive``: a mailmanclient loop ``mlist.subscribe(address,
  pre_verified=True, pre_confirmed=True, pre_approved=True)``, one by one;
* ``change_10pct``: a tenth of the roster replaced (N/10 leave, N/10 join);
  ``listsync apply`` against ``naive``: read every member (``mlist.members``,
  whole records), then ``mlist.unsubscribe(address)`` and ``mlist.subscribe``
  one by one;
* ``plan_no_change``: ``listsync plan`` with nothing to change against
  ``naive``: the whole roster read with mailmanclient (``mlist.members``).

Each apply and change measurement gets addresses the server has never seen
(a fresh roster, fresh joiners), so that neither side finds the other's
address records. Between measurements the roster is put back to its starting
point with listsync's bulk calls (not timed, not counted), and after each one
the live roster is checked against the roster file. The order of the two
sides alternates each round. Requests are counted by listsync's own counter
(``MailmanBackend.requests``) and, for the naive loops, by mailmanclient's
request hook. The list does not send welcome or goodbye mail (both sides
would otherwise differ in what Mailman queues).

Mailman subscribes one address a request, at 50-90 ms each on 2 shared CPUs:
there, busy with other work, the default run took 30 minutes and ``--members 500`` 2.

    .venv/bin/python benchmarks/rosters.py                      # 5,000 members
    .venv/bin/python benchmarks/rosters.py --members 500 --out /tmp/rosters.json  # smoke
    .venv/bin/python benchmarks/rosters.py --shape sqlite --rounds 2

Figures go to standard output and, as JSON, to ``--out``.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import platform
import statistics
import sys
import tempfile
import time
from collections import Counter
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from datetime import date
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parent.parent
sys.path[:0] = [str(REPO / "tools"), str(REPO / "tests")]

from mailmanclient import Client  # noqa: E402

from listsync import render, run  # noqa: E402
from listsync.errors import Problem  # noqa: E402
from listsync.mailman import DEFAULT_WORKERS, MailmanBackend  # noqa: E402
from mailman_core import DEFAULT_VERSION, STOCK_WORKERS, MailmanCore, install  # noqa: E402
from postgres_cluster import PostgresCluster  # noqa: E402

DOMAIN = "bench.example.org"
LIST = "roster-bench"
FQDN = f"{LIST}@{DOMAIN}"
ROSTER = "rosters/bench.txt"
SCENARIOS = ("apply_from_empty", "change_10pct", "plan_no_change")
SIDES = ("listsync", "naive")

JSON = dict[str, Any]


def say(message: str) -> None:
    print(message, file=sys.stderr, flush=True)


# -- the site ------------------------------------------------------------------


LIST_FILE = """\
description: A list with a large roster.
owners: [owner@example.org]
settings:
  send_welcome_message: false
  send_goodbye_message: false
"""
ROSTER_LINES = f"members_from: {ROSTER}\nmembership: exact\n"


def write_site(root: Path) -> None:
    """The site with the list and no roster yet (members left alone)."""
    (root / "lists").mkdir(parents=True)
    (root / "rosters").mkdir()
    (root / "listsync.yaml").write_text(f"domain: {DOMAIN}\ndisabled_owner: devnull@example.org\n")
    (root / "lists" / f"{LIST}.yaml").write_text(LIST_FILE)


def declare_roster(root: Path, addresses: list[str]) -> None:
    """The roster file holds `addresses`, and the list file reads it."""
    (root / ROSTER).write_text("# benchmark roster\n" + "".join(f"{a}\n" for a in addresses))
    (root / "lists" / f"{LIST}.yaml").write_text(LIST_FILE + ROSTER_LINES)


def read_roster(root: Path) -> list[str]:
    """The roster file's addresses, as a naive script would read them."""
    lines = (root / ROSTER).read_text().splitlines()
    return [line.strip().lower() for line in lines if line.strip() and not line.startswith("#")]


def fresh_roster(tag: str, n: int) -> list[str]:
    return [f"m{tag}-{i:05d}@example.net" for i in range(n)]


def changed_roster(base: list[str], tag: str) -> list[str]:
    """`base` with every tenth address replaced by one the server has never seen."""
    return [f"j{tag}-{i:05d}@example.net" if i % 10 == 0 else a for i, a in enumerate(base)]


# -- the measured operations -----------------------------------------------------


@dataclass
class Outcome:
    requests: dict[str, int]
    detail: str = ""


def _warn(problem: Problem) -> None:
    say(f"  warning: {problem}")


def listsync_apply(core: MailmanCore, root: Path) -> Outcome:
    """`listsync apply --yes` through the library: lock, plan, render, apply."""
    backend = MailmanBackend(core.url, core.user, core.password)
    with run.exclusive(backend, root, None):
        planned = run.plan_run(run.Request(root), lambda: backend, warn=_warn)
        text = render.to_text(planned.shown)
        run.check_blast_radius(planned, False)
        result = run.apply_run(planned, backend, force=False)
    backend.close()
    if not result.ok:
        raise RuntimeError(f"apply failed: {[(r.name, r.error) for r in result.failed]}")
    return Outcome(dict(backend.requests.by_method), f"plan text {len(text)} bytes")


def listsync_plan(core: MailmanCore, root: Path) -> Outcome:
    """`listsync plan` through the library: load, read, plan, render."""
    backend = MailmanBackend(core.url, core.user, core.password)
    planned = run.plan_run(run.Request(root), lambda: backend, warn=_warn)
    text = render.to_text(planned.shown)
    backend.close()
    if planned.plan.has_changes:
        raise RuntimeError(f"the no-change plan has changes:\n{text}")
    return Outcome(dict(backend.requests.by_method), f"plan text {len(text)} bytes")


@contextlib.contextmanager
def counted_client(core: MailmanCore) -> Iterator[tuple[Client, Counter[str]]]:
    counts: Counter[str] = Counter()

    def hook(params: JSON) -> JSON:
        counts[str(params["method"])] += 1
        return params

    yield Client(core.url, core.user, core.password, request_hooks=[hook]), counts


def naive_apply(core: MailmanCore, root: Path) -> Outcome:
    """Subscribe every address of the roster file, one by one."""
    with counted_client(core) as (client, counts):
        mlist = client.get_list(FQDN)
        for address in read_roster(root):
            mlist.subscribe(address, pre_verified=True, pre_confirmed=True, pre_approved=True)
    return Outcome(dict(counts))


def naive_change(core: MailmanCore, root: Path) -> Outcome:
    """Read every member, unsubscribe the undeclared and subscribe the missing, one by one."""
    with counted_client(core) as (client, counts):
        mlist = client.get_list(FQDN)
        wanted = read_roster(root)
        live = {member.email.lower() for member in mlist.members}
        leaving = sorted(live - set(wanted))
        joining = [address for address in wanted if address not in live]
        for address in leaving:
            mlist.unsubscribe(address)
        for address in joining:
            mlist.subscribe(address, pre_verified=True, pre_confirmed=True, pre_approved=True)
    return Outcome(dict(counts), f"{len(leaving)} left, {len(joining)} joined")


def naive_read(core: MailmanCore, _root: Path) -> Outcome:
    """The whole roster, whole records, as mailmanclient reads it."""
    with counted_client(core) as (client, counts):
        mlist = client.get_list(FQDN)
        members = {member.email.lower(): member.delivery_mode for member in mlist.members}
    return Outcome(dict(counts), f"{len(members)} members read")


Operation = Callable[[MailmanCore, Path], Outcome]
OPERATIONS: dict[str, dict[str, Operation]] = {
    "apply_from_empty": {"listsync": listsync_apply, "naive": naive_apply},
    "change_10pct": {"listsync": listsync_apply, "naive": naive_change},
    "plan_no_change": {"listsync": listsync_plan, "naive": naive_read},
}


# -- the run ---------------------------------------------------------------------


@dataclass
class Bench:
    core: MailmanCore
    root: Path
    n: int
    seconds: dict[str, dict[str, list[float]]] = field(
        default_factory=lambda: {s: {side: [] for side in SIDES} for s in SCENARIOS}
    )
    requests: dict[str, dict[str, dict[str, int]]] = field(
        default_factory=lambda: {s: {} for s in SCENARIOS}
    )
    measured: int = 0

    def backend(self) -> MailmanBackend:
        return MailmanBackend(self.core.url, self.core.user, self.core.password)

    def reset(self, wanted: list[str]) -> None:
        """Make the list's live roster exactly `wanted` (bulk calls; not measured)."""
        backend = self.backend()
        live = backend.members(FQDN)
        backend.unsubscribe_members(FQDN, sorted(live - set(wanted)))
        missing = [(a, "regular") for a in wanted if a not in live]
        backend.subscribe_members(FQDN, missing, welcome=False)
        backend.close()
        self.check(wanted, "reset")

    def check(self, wanted: list[str], after: str) -> None:
        backend = self.backend()
        live = backend.members(FQDN)
        backend.close()
        if live != set(wanted):
            raise RuntimeError(
                f"after {after}: {len(live)} live members, {len(wanted)} declared,"
                f" {len(live ^ set(wanted))} differ"
            )

    def measure(self, scenario: str, side: str, rnd: int) -> None:
        begin = time.perf_counter()
        outcome = OPERATIONS[scenario][side](self.core, self.root)
        seconds = time.perf_counter() - begin
        self.seconds[scenario][side].append(seconds)
        self.requests[scenario][side] = outcome.requests
        say(
            f"  round {rnd} {scenario:<17} {side:<9} {seconds:8.2f} s"
            f" {sum(outcome.requests.values()):>6} requests  {outcome.detail}"
        )

    def tag(self) -> str:
        self.measured += 1
        return f"{self.measured:02d}"

    def apply_from_empty(self, rnd: int, side: str) -> list[str]:
        roster = fresh_roster(self.tag(), self.n)
        self.reset([])
        declare_roster(self.root, roster)
        self.measure("apply_from_empty", side, rnd)
        self.check(roster, f"apply_from_empty by {side}")
        return roster

    def change(self, rnd: int, side: str, base: list[str]) -> list[str]:
        roster = changed_roster(base, self.tag())
        self.reset(base)
        declare_roster(self.root, roster)
        self.measure("change_10pct", side, rnd)
        self.check(roster, f"change_10pct by {side}")
        return roster

    def plan(self, rnd: int, side: str, roster: list[str]) -> None:
        self.measure("plan_no_change", side, rnd)
        self.check(roster, f"plan_no_change by {side}")


def create_list(core: MailmanCore, root: Path) -> None:
    """The list, created by listsync from its file (no roster yet)."""
    backend = MailmanBackend(core.url, core.user, core.password)
    planned = run.plan_run(run.Request(root), lambda: backend, warn=_warn)
    result = run.apply_run(planned, backend, force=False)
    backend.close()
    if not result.ok:
        raise RuntimeError(f"creating the list failed: {result.failed}")


def order(rnd: int) -> tuple[str, ...]:
    return SIDES if rnd % 2 == 0 else tuple(reversed(SIDES))


def measure_all(bench: Bench, rounds: int, plan_rounds: int) -> None:
    roster: list[str] = []
    for rnd in range(rounds):
        for side in order(rnd):
            roster = bench.apply_from_empty(rnd, side)
    base = roster  # the last roster applied is live: the starting point of every change
    for rnd in range(rounds):
        for side in order(rnd):
            roster = bench.change(rnd, side, base)
    for rnd in range(plan_rounds):
        for side in order(rnd):
            bench.plan(rnd, side, roster)


@contextlib.contextmanager
def started_core(home: Path, work: Path, shape: str, workers: int) -> Iterator[MailmanCore]:
    """A core of the shape; on PostgreSQL in a cluster and database of its own."""
    cluster = PostgresCluster().start() if shape == "postgresql" else None
    try:
        url = cluster.create_database("bench_rosters") if cluster is not None else None
        core = MailmanCore(home, work / "core", workers=workers, database_url=url).start()
        try:
            yield core
        finally:
            core.stop()
    finally:
        if cluster is not None:
            cluster.stop()


def summary(bench: Bench) -> JSON:
    out: JSON = {}
    for scenario in SCENARIOS:
        sides: JSON = {}
        for side in SIDES:
            values = bench.seconds[scenario][side]
            by_method = bench.requests[scenario].get(side, {})
            sides[side] = {
                "median_s": round(statistics.median(values), 3),
                "seconds": [round(v, 3) for v in values],
                "requests": sum(by_method.values()),
                "requests_by_method": by_method,
            }
        listsync, naive = sides["listsync"], sides["naive"]
        sides["naive/listsync"] = {
            "time": round(naive["median_s"] / listsync["median_s"], 2),
            "requests": round(naive["requests"] / listsync["requests"], 2),
        }
        out[scenario] = sides
    return out


def print_table(result: JSON) -> None:
    config = result["config"]
    print(
        f"roster of {config['members']} members; Mailman {config['mailman']},"
        f" {config['shape']} with {config['workers']} REST workers;"
        f" median of {config['rounds']} round(s), plan {config['plan_rounds']}"
    )
    print(f"{'scenario':<18}{'side':<10}{'seconds':>9}{'requests':>10}   naive/listsync")
    for scenario, sides in result["results"].items():
        ratio = sides["naive/listsync"]
        for side in SIDES:
            figures = sides[side]
            ratios = (
                f"   {ratio['time']:.2f}x time, {ratio['requests']:.2f}x requests"
                if side == "naive"
                else ""
            )
            print(
                f"{scenario if side == SIDES[0] else '':<18}{side:<10}"
                f"{figures['median_s']:>9.2f}{figures['requests']:>10}{ratios}"
            )


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--members", type=int, default=5000, help="roster size (default 5000)")
    parser.add_argument("--rounds", type=int, default=1, help="rounds of apply and change")
    parser.add_argument("--plan-rounds", type=int, default=3, help="rounds of the plan")
    parser.add_argument("--shape", choices=("postgresql", "sqlite"), default="postgresql")
    parser.add_argument("--workers", type=int, default=STOCK_WORKERS, help="REST workers")
    parser.add_argument(
        "--mailman-home",
        type=Path,
        default=Path(os.environ.get("LISTSYNC_MAILMAN_HOME") or REPO / ".mailman"),
    )
    parser.add_argument("--out", type=Path, help="JSON figures (default benchmarks/results/)")
    args = parser.parse_args(argv)
    if args.members < 10:
        parser.error("--members must be at least 10 (a tenth of them change)")
    out = args.out or (
        REPO / "benchmarks" / "results" / f"rosters-{date.today().isoformat()}-{args.shape}.json"
    )
    install(args.mailman_home, log=say)
    result: JSON = {
        "benchmark": "rosters",
        "date": date.today().isoformat(),
        "machine": {
            "cores": os.cpu_count(),
            "python": platform.python_version(),
            "load_avg_start": [round(x, 2) for x in os.getloadavg()],
        },
        "config": {
            "members": args.members,
            "rounds": args.rounds,
            "plan_rounds": args.plan_rounds,
            "shape": args.shape,
            "workers": args.workers,
            "mailman": DEFAULT_VERSION,
            "listsync_workers": DEFAULT_WORKERS,
        },
    }
    started = time.perf_counter()
    with tempfile.TemporaryDirectory(prefix="rosters-bench-") as tmp:
        work = Path(tmp)
        os.environ["LISTSYNC_LOCK_FILE"] = str(work / "apply.lock")
        with started_core(args.mailman_home, work, args.shape, args.workers) as core:
            root = work / "site"
            write_site(root)
            create_list(core, root)
            say(f"core up and list created in {time.perf_counter() - started:.0f} s")
            bench = Bench(core, root, args.members)
            measure_all(bench, args.rounds, args.plan_rounds)
    result["results"] = summary(bench)
    result["machine"]["load_avg_end"] = [round(x, 2) for x in os.getloadavg()]
    result["duration_s"] = round(time.perf_counter() - started, 1)
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps(result, indent=1) + "\n")
    print_table(result)
    say(f"wrote {out} ({result['duration_s']} s)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
