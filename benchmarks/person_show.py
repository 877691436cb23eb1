"""What `person show` costs for someone on 300 of 1,000 lists, against a naive roster loop.

A benchmark, not a test: it starts a throwaway GNU Mailman core
(``tools/mailman_core.py``, SQLite, Mailman's stock two REST workers),
creates N lists (default 1,000) with a list file each, subscribes one person
to M of them (default 300: member on most, owner, moderator and non-member
on some), then measures, alternating the order each round:

* ``person_show``: ``listsync person show`` through the library (load the
  site's files, read the server's listing and site-wide bans, then
  `people.locate`) with ``--no-bans``: the per-address cost; the time spent
  loading the files is printed apart;
* ``person_show_bans``: the same with every list's bans read (1 + N);
* ``naive``: a plain mailmanclient loop over ``client.lists`` reading every
  list's owner, moderator, member and non-member rosters (4 requests a list).

Requests are counted by listsync's own counter and, for the naive loop, by
mailmanclient's request hook. Setting up takes about 2 minutes on 2 CPUs.

    .venv/bin/python benchmarks/person_show.py
    .venv/bin/python benchmarks/person_show.py --lists 200 --on 60 --rounds 2
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parent.parent
sys.path[:0] = [str(REPO / "tools"), str(REPO / "tests")]

from mailmanclient import Client  # noqa: E402

from listsync import people  # noqa: E402
from listsync.load import load_valid_site  # noqa: E402
from listsync.mailman import MailmanBackend  # noqa: E402
from mailman_core import MailmanCore  # noqa: E402

DOMAIN = "bench.example.org"
PERSON = "alice@example.net"
OWNER = "bob@example.org"


def setup(core: MailmanCore, root: Path, n: int, on: int) -> None:
    (root / "lists").mkdir(parents=True)
    (root / "listsync.yaml").write_text(f"domain: {DOMAIN}\n")
    client = Client(core.url, core.user, core.password)
    domain = client.create_domain(DOMAIN)
    step = n / on
    chosen = {int(i * step) for i in range(on)}
    for i in range(n):
        name = f"list{i:05d}"
        (root / "lists" / f"{name}.yaml").write_text(f"description: List {i}.\nowners: [{OWNER}]\n")
        mlist = domain.create_list(name)
        if i not in chosen:
            continue
        if i % 30 == 0:
            mlist.add_owner(PERSON)
        elif i % 30 == 1:
            mlist.add_moderator(PERSON)
        elif i % 30 == 2:
            mlist.add_role("nonmember", PERSON)
        else:
            mlist.subscribe(PERSON, pre_verified=True, pre_confirmed=True, pre_approved=True)
        if i % 100 == 0:
            print(f"  set up {i}/{n} lists", file=sys.stderr, flush=True)


LOADING: list[float] = []  # seconds spent loading and validating the site's files


def person_show(core: MailmanCore, root: Path, list_bans: bool) -> tuple[int, int]:
    begin = time.perf_counter()
    site, _ = load_valid_site(root)
    LOADING.append(time.perf_counter() - begin)
    backend = MailmanBackend(core.url, core.user, core.password)
    server = people.read_server(backend, list_bans=list_bans)
    found = people.locate(site, backend, PERSON, server=server)
    backend.close()
    return backend.requests.total, len(found.memberships)


def naive(core: MailmanCore, _root: Path) -> tuple[int, int]:
    client = Client(core.url, core.user, core.password)
    counted = [0]

    def hook(params: dict[str, Any]) -> dict[str, Any]:
        counted[0] += 1
        return params

    client.add_hooks(request_hooks=[hook])
    places = 0
    for mlist in client.lists:
        for role in ("owner", "moderator", "member", "nonmember"):
            roster = mlist.get_roster(role)
            places += sum(1 for m in roster if m.email == PERSON)
    return counted[0], places


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--lists", type=int, default=1000)
    parser.add_argument("--on", type=int, default=300)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--out", type=Path, help="also write the figures here, as JSON")
    parser.add_argument(
        "--mailman-home",
        type=Path,
        default=Path(os.environ.get("LISTSYNC_MAILMAN_HOME") or REPO / ".mailman"),
    )
    args = parser.parse_args(argv)
    with tempfile.TemporaryDirectory(prefix="person-show-") as work:
        core = MailmanCore(args.mailman_home, Path(work) / "core").start()
        try:
            started = time.perf_counter()
            setup(core, Path(work) / "site", args.lists, args.on)
            print(f"set up in {time.perf_counter() - started:.0f} s", file=sys.stderr)
            sides: dict[str, Callable[[MailmanCore, Path], tuple[int, int]]] = {
                "person_show": lambda c, r: person_show(c, r, False),
                "person_show_bans": lambda c, r: person_show(c, r, True),
                "naive": naive,
            }
            seconds: dict[str, list[float]] = {name: [] for name in sides}
            requests: dict[str, int] = {}
            for rnd in range(args.rounds):
                order = list(sides) if rnd % 2 == 0 else list(reversed(sides))
                for name in order:
                    begin = time.perf_counter()
                    count, places = sides[name](core, Path(work) / "site")
                    seconds[name].append(time.perf_counter() - begin)
                    requests[name] = count
                    print(
                        f"  round {rnd} {name:<17} {seconds[name][-1]:7.2f} s"
                        f" {count:>6} requests  {places} places",
                        file=sys.stderr,
                    )
        finally:
            core.stop()
    print(f"person on {args.on} of {args.lists} lists; median of {args.rounds} rounds")
    print(f"{'':<17} {'seconds':>8} {'requests':>9}")
    median = {name: statistics.median(values) for name, values in seconds.items()}
    for name in sides:
        print(f"{name:<17} {median[name]:8.2f} {requests[name]:9d}")
    print(f"of which loading the {args.lists} list files: {statistics.median(LOADING):.2f} s")
    for name in ("person_show", "person_show_bans"):
        print(
            f"naive / {name}: {median['naive'] / median[name]:.1f}x the time,"
            f" {requests['naive'] / requests[name]:.1f}x the requests"
        )
    if args.out is not None:
        sys.path.insert(0, str(Path(__file__).resolve().parent))
        import plan_scale

        result = {
            "benchmark": "person_show",
            "machine": {**plan_scale.machine(), "load_avg_end": list(os.getloadavg())},
            "versions": plan_scale.versions(),
            "config": {"lists": args.lists, "on": args.on, "rounds": args.rounds},
            "seconds": {name: [round(v, 3) for v in values] for name, values in seconds.items()},
            "median_s": {name: round(value, 3) for name, value in median.items()},
            "requests": requests,
            "loading_median_s": round(statistics.median(LOADING), 3),
            "ratios": {
                f"naive/{name}": round(median["naive"] / median[name], 2)
                for name in ("person_show", "person_show_bans")
            },
        }
        args.out.parent.mkdir(parents=True, exist_ok=True)
        args.out.write_text(json.dumps(result, indent=1) + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
