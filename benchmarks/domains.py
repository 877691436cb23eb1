"""Several domains on several cores: the fan-out against one sequential run, and what a
domain of a site with several costs against a site of that one domain.

A benchmark, not a test. It starts two throwaway GNU Mailman cores
(3.3.10, PostgreSQL, Mailman's stock two REST workers; ``tools/mailman_core.py``),
writes a site of two domains, N lists each, one domain per core, applies it
(the setup, timed once, core by core), and then measures no-change plans in
alternating rounds, each command a process of its own:

* ``sequential``: ``listsync plan``: both domains, one after the other, in one run;
* ``fan_out``: ``listsync plan --core default`` and ``listsync plan --core other``
  at the same time, as the pipeline's per-core job pairs run (on runners of
  their own in production; here on this one machine): the wall time until both end;
* ``one_domain``: ``listsync plan --domain D`` of the first domain;
* ``single_site``: ``listsync plan`` of a site of one domain with the same N list
  files (``domain: D``, ``lists/NAME.yaml``) against the same lists on the same core:
  the baseline a domain's plan is compared with.

    .venv/bin/python benchmarks/domains.py                 # N = 1,000 per domain
    .venv/bin/python benchmarks/domains.py --lists 200 --rounds 2 --out /tmp/d.json

Figures go to standard output and, as JSON, to ``--out``.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from datetime import date
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parent.parent
sys.path[:0] = [str(REPO / "tools")]

import plan_scale as ps  # noqa: E402

from mailman_core import DEFAULT_VERSION, MailmanCore, install  # noqa: E402
from postgres_cluster import PostgresCluster  # noqa: E402

FIRST, SECOND = "one.bench.example.org", "two.bench.example.org"
LISTSYNC = str(REPO / ".venv" / "bin" / "listsync")
JSON = dict[str, Any]


def list_file(i: int) -> str:
    return (
        f"description: Bench list {i}\n"
        f"owners: [owner{i % 17}@example.org]\n"
        f"moderators: [mod{i % 5}@example.org]\n"
        + ("visibility: private\n" if i % 4 == 0 else "")
        + ("posting: announce\n" if i % 7 == 0 else "")
    )


def write_sites(work: Path, n: int) -> tuple[Path, Path]:
    """The two-domain site, and the one-domain site of FIRST with the same files."""
    several, single = work / "several", work / "single"
    (several / "listsync.yaml").parent.mkdir(parents=True)
    (several / "listsync.yaml").write_text(
        "disabled_owner: devnull@example.org\n"
        f"domains:\n  {FIRST}: {{}}\n  {SECOND}: {{core: other}}\n"
        "cores:\n  other: {}\n"
        "safety: {min_new_domain_lists: 100000}\n"
    )
    (single / "lists").mkdir(parents=True)
    (single / "listsync.yaml").write_text(f"domain: {FIRST}\ndisabled_owner: devnull@example.org\n")
    for domain in (FIRST, SECOND):
        directory = several / "lists" / domain
        directory.mkdir(parents=True)
        for i in range(n):
            (directory / f"bench-{i:05d}.yaml").write_text(list_file(i))
    for i in range(n):
        (single / "lists" / f"bench-{i:05d}.yaml").write_text(list_file(i))
    return several, single


def env_for(first: MailmanCore, second: MailmanCore) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("MAILMAN_")}
    env.update(
        MAILMAN_REST_URL=first.url,
        MAILMAN_REST_USER=first.user,
        MAILMAN_REST_PASSWORD=first.password,
        MAILMAN_OTHER_REST_URL=second.url,
        MAILMAN_OTHER_REST_USER=second.user,
        MAILMAN_OTHER_REST_PASSWORD=second.password,
        NO_COLOR="1",
    )
    return env


def timed(commands: list[list[str]], env: dict[str, str]) -> float:
    """Start `commands` together; seconds until the last one ends (each must exit 0)."""
    start = time.perf_counter()
    running = [
        subprocess.Popen(cmd, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
        for cmd in commands
    ]
    for cmd, process in zip(commands, running, strict=True):
        _, err = process.communicate()
        if process.returncode != 0:
            raise SystemExit(f"{' '.join(cmd)} exited {process.returncode}: {err.decode()[-2000:]}")
    return time.perf_counter() - start


@contextlib.contextmanager
def cores(work: Path, home: Path) -> Iterator[tuple[MailmanCore, MailmanCore]]:
    install(home, DEFAULT_VERSION)
    cluster = PostgresCluster().start()
    started: list[MailmanCore] = []
    try:
        for name in ("default", "other"):
            core = MailmanCore(
                home,
                work / f"core-{name}",
                database_url=cluster.create_database(f"bench_{name}"),
            )
            started.append(core.start())
        yield started[0], started[1]
    finally:
        for core in started:
            core.stop()
        cluster.stop()


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--lists", type=int, default=1000, help="lists per domain")
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--out", type=Path)
    parser.add_argument(
        "--mailman-home",
        type=Path,
        default=Path(os.environ.get("LISTSYNC_MAILMAN_HOME") or REPO / ".mailman"),
    )
    args = parser.parse_args(argv)
    work = Path(tempfile.mkdtemp(prefix="listsync-domains-"))
    result: JSON = {
        "benchmark": "domains",
        "date": date.today().isoformat(),
        "machine": ps.machine(),
        "mailman": DEFAULT_VERSION,
        "database": "postgresql",
        "rest_workers": 2,
        "lists_per_domain": args.lists,
        "rounds": args.rounds,
    }
    try:
        several, single = write_sites(work, args.lists)
        with cores(work, args.mailman_home) as (first, second):
            env = env_for(first, second)
            setup = {
                core: timed(
                    [[LISTSYNC, "--root", str(several), "apply", "--yes", "--core", core]], env
                )
                for core in ("default", "other")
            }
            result["setup_apply_seconds"] = setup
            runs: dict[str, list[float]] = {
                "sequential": [],
                "fan_out": [],
                "one_domain": [],
                "single_site": [],
            }
            plan = [LISTSYNC, "--root", str(several), "plan", "--detailed-exitcode"]
            commands = {
                "sequential": [plan],
                "fan_out": [[*plan, "--core", "default"], [*plan, "--core", "other"]],
                "one_domain": [[*plan, "--domain", FIRST]],
                "single_site": [[LISTSYNC, "--root", str(single), "plan", "--detailed-exitcode"]],
            }
            for round_number in range(args.rounds):
                order = list(commands) if round_number % 2 == 0 else list(reversed(commands))
                for name in order:
                    runs[name].append(timed(commands[name], env))
                    print(f"round {round_number + 1}: {name} {runs[name][-1]:.2f} s", flush=True)
            medians = {name: statistics.median(times) for name, times in runs.items()}
            result["seconds"] = runs
            result["median_seconds"] = medians
            result["ratios"] = {
                "fan_out_vs_sequential": round(medians["fan_out"] / medians["sequential"], 3),
                "one_domain_vs_single_site": round(
                    medians["one_domain"] / medians["single_site"], 3
                ),
                "sequential_vs_two_single_sites": round(
                    medians["sequential"] / (2 * medians["single_site"]), 3
                ),
            }
        result["machine"]["load_avg_end"] = [round(x, 2) for x in os.getloadavg()]
    finally:
        shutil.rmtree(work, ignore_errors=True)
    text = json.dumps(result, indent=2)
    print(text)
    if args.out is not None:
        args.out.write_text(text + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
