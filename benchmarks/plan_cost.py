"""How a no-change plan's cost grows with the site, and what a list's declared details cost.

A benchmark, not a test. It starts its own throwaway GNU Mailman cores
(``tools/mailman_core.py``, by default Mailman 3.3.10 on PostgreSQL with
Mailman's stock two REST workers: the production shape) and measures, in
child processes of their own (``plan_scale``'s machinery: seconds, requests
by kind, peak memory, CPU of client and server), in alternating order:

* ``scale``: one core grown to each size in turn (default 1,000, 3,000 and
  10,000 lists, made by ``listsync apply`` of ``plan_scale``'s generated
  files, the fastest set-up there is), then at each size a no-change
  ``plan`` against the floor (``floor_pool``: one ``GET lists/ID/config`` a
  list on 4 threads, on a requests session; ``floor_urllib3``: the same on a
  bare urllib3 pool, the least client CPU a request can cost). The summary
  has seconds per list at each size and a least-squares line through the
  plans' medians, so that growth that is not linear shows;
* ``details``: one core holding 1,000 lists that declare nothing beyond
  ``plan_scale``'s files (``plain``) and, in a domain of their own, 1,000
  that also declare a template, two non-members, two header filters and
  two bans each (``declared``; the
  texts served by ``tools/serve_templates.py``), then a no-change ``plan``
  of each site: seconds and requests a list, against each other; and, with
  5 members on each plain list, the ``listsync report`` command against the
  ``listsync plan`` command of the plain site.

    .venv/bin/python benchmarks/plan_cost.py                       # both, about 25 minutes
    .venv/bin/python benchmarks/plan_cost.py --sizes 200 --details 200 --rounds 1   # a check
    .venv/bin/python benchmarks/plan_cost.py --skip-details        # the curve alone

Figures go to standard output and, as JSON, to ``--out``.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import time
from datetime import date
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))

import plan_scale as ps  # it puts tools/ and tests/ on the path

from mailman_core import DEFAULT_VERSION, install
from postgres_cluster import PostgresCluster

JSON = dict[str, Any]
DEFAULT_SIZES = (1000, 3000, 10000)
FOOTER = "templates/footer.txt"
DECLARED_DOMAIN = f"declared.{ps.DOMAIN}"
FOOTER_TEXT = "-- \nThis list is managed by listsync.\n"


def write_sized_site(root: Path, n: int, total: int) -> list[str]:
    """The first n lists of plan_scale's site of `total` (the same files at every size)."""
    (root / "lists").mkdir(parents=True)
    (root / "listsync.yaml").write_text(
        f"domain: {ps.DOMAIN}\ndisabled_owner: {ps.DEVNULL_OWNER}\n"
    )
    names = [ps.list_name(i) for i in range(n)]
    for i, name in enumerate(names):
        (root / "lists" / f"{name}.yaml").write_text(ps.list_file(i, total))
    return names


def declared_file(i: int, n: int) -> str:
    """plan_scale's list i, declaring a template, non-members, header filters and bans too."""
    base = ps.list_file(i, n).replace("disabled: true\n", "")  # a disabled list holds no bans
    return base + "\n".join(
        [
            "templates:",
            f"  list:member:regular:footer: {FOOTER}",
            "nonmembers:",
            f"  bot{i % 50:03d}@example.net: accept",
            f"  noisy{i % 70:03d}@example.net: discard",
            "header_filters:",
            "  - {header: X-Spam-Flag, pattern: '^YES', action: hold}",
            f"  - {{header: X-Origin, pattern: 'rogue{i}', action: discard}}",
            "bans:",
            f"  - spammer{i % 90:03d}@example.net",
            "  - '^.*@spam\\.example$'",
        ]
    )


def write_detail_sites(work: Path, n: int, base_url: str) -> tuple[Path, Path, Path]:
    """Two sites of n lists each, a domain each: `plain` and `declared`, and the
    directory of published texts."""
    from listsync.mailman_templates import TemplateText

    plain, declared, published = work / "plain", work / "declared", work / "published"
    owner = f"disabled_owner: {ps.DEVNULL_OWNER}\n"
    for root in (plain, declared):
        (root / "lists").mkdir(parents=True)
    (plain / "listsync.yaml").write_text(f"domain: {ps.DOMAIN}\n{owner}")
    (declared / "listsync.yaml").write_text(
        f"domain: {DECLARED_DOMAIN}\n{owner}templates_url: {base_url}\n"
    )
    (declared / "templates").mkdir()
    (declared / FOOTER).write_text(FOOTER_TEXT)
    published.mkdir()
    text = TemplateText(FOOTER, FOOTER_TEXT)
    (published / text.published_name).write_text(FOOTER_TEXT)
    for i in range(n):
        (plain / "lists" / f"plain-{i:05d}.yaml").write_text(ps.list_file(i, n))
        (declared / "lists" / f"rich-{i:05d}.yaml").write_text(declared_file(i, n))
    return plain, declared, published


def fit(points: list[tuple[int, float]]) -> JSON | None:
    """Least squares seconds = fixed + per_list * n, with R^2 (None: fewer than two sizes)."""
    xs, ys = [float(x) for x, _ in points], [y for _, y in points]
    if len(set(xs)) < 2:
        return None
    mx, my = statistics.fmean(xs), statistics.fmean(ys)
    sxx = sum((x - mx) ** 2 for x in xs)
    slope = sum((x - mx) * (y - my) for x, y in zip(xs, ys, strict=True)) / sxx
    fixed = my - slope * mx
    ss_res = sum((y - fixed - slope * x) ** 2 for x, y in zip(xs, ys, strict=True))
    ss_tot = sum((y - my) ** 2 for y in ys)
    return {
        "fixed_s": round(fixed, 3),
        "per_list_ms": round(slope * 1000, 4),
        "r2": round(1 - ss_res / ss_tot, 5) if ss_tot else 1.0,
    }


# The plan and both floors (requests, a bare urllib3 pool) in turn, each first in one round.
FLOOR_ORDER = (
    ("plan", "floor_pool", "floor_urllib3"),
    ("floor_pool", "floor_urllib3", "plan"),
    ("floor_urllib3", "plan", "floor_pool"),
)


def measure_scale(bench: ps.Bench, sizes: list[int], work: Path) -> JSON:
    core = bench.core("scale")
    core.start()
    total = max(sizes)
    setups: JSON = {}
    try:
        for n in sizes:
            root = work / f"scale-{n}"
            names = write_sized_site(root, n, total)
            names_file = work / f"scale-names-{n}.json"
            names_file.write_text(json.dumps(names))
            ps.say(f"n = {n}: set-up (listsync apply of the lists not there yet)")
            setup = ps.run_child("setup", "apply", {"root": str(root)}, core.env(), 0, core)
            setups[str(n)] = {
                "seconds": round(setup.seconds, 1),
                "requests": sum(setup.detail.get("requests", {}).values()),
                "lists_created": setup.detail.get("lists"),
            }
            ps.say(f"  set up in {setup.seconds:.0f} s")
            for rnd in range(bench.rounds):
                for op in FLOOR_ORDER[rnd % len(FLOOR_ORDER)]:
                    if op == "plan":
                        sample = ps.run_child(
                            op, "plan", {"root": str(root)}, core.env(), rnd, core
                        )
                        if sample.detail.get("has_changes"):
                            raise RuntimeError(f"n={n}: the plan after set-up has changes")
                    else:
                        args = {"names_file": str(names_file), "threads": 4}
                        if op == "floor_urllib3":
                            args["client"] = "urllib3"
                        sample = ps.run_child(op, "floor", args, core.env(), rnd, core)
                    bench.add(n, sample)
    finally:
        core.stop()
    by_size = {str(n): ps.summarise(bench.samples, n) for n in sizes}
    curve = []
    for n in sizes:
        ops = by_size[str(n)]["operations"]
        plan, floor, bare = ops["plan"], ops["floor_pool"], ops["floor_urllib3"]
        curve.append(
            {
                "n": n,
                "plan_s": plan["median_s"],
                "plan_ms_per_list": round(1000 * plan["median_s"] / n, 3),
                "plan_requests": plan["requests"],
                "plan_peak_mib": plan["peak_rss_mib"],
                "floor_pool_s": floor["median_s"],
                "plan/floor_pool": round(plan["median_s"] / floor["median_s"], 2),
                "floor_urllib3_s": bare["median_s"],
                "plan/floor_urllib3": round(plan["median_s"] / bare["median_s"], 2),
                "phases_s": plan.get("median_phases_s"),
            }
        )
    return {
        "setup": setups,
        "curve": curve,
        "fit_plan": fit([(c["n"], c["plan_s"]) for c in curve]),
        "fit_floor_pool": fit([(c["n"], c["floor_pool_s"]) for c in curve]),
        "fit_floor_urllib3": fit([(c["n"], c["floor_urllib3_s"]) for c in curve]),
        "fit_peak_mib": fit([(c["n"], c["plan_peak_mib"]) for c in curve]),
        "sizes": by_size,
    }


MEMBERS_PER_LIST = 5


def subscribe(core: Any, n: int) -> None:
    """MEMBERS_PER_LIST members on each enabled plain list (not measured): what the report
    counts."""
    from concurrent.futures import ThreadPoolExecutor

    from listsync.mailman import MailmanBackend

    backend = MailmanBackend(core.url, core.user, core.password)
    people = max(50, n)

    def one(i: int) -> None:
        members = [
            (f"member{(i * 7 + k * 31) % people:05d}@example.com", "regular")
            for k in range(MEMBERS_PER_LIST)
        ]
        backend.subscribe_members(f"plain-{i:05d}@{ps.DOMAIN}", members, welcome=False)

    enabled = [i for i in range(n) if i % 100 != 50]  # a disabled list bans everyone
    with ThreadPoolExecutor(4) as pool:
        list(pool.map(one, enabled))
    backend.close()


def measure_details(bench: ps.Bench, n: int, work: Path) -> JSON:
    core = bench.core("details")
    port_file = work / "templates.port"
    published_dir = work / "details" / "published"
    published_dir.mkdir(parents=True)
    server = subprocess.Popen(
        [
            sys.executable,
            str(ps.REPO / "tools" / "serve_templates.py"),
            str(published_dir),
            str(port_file),
        ]
    )
    try:
        deadline = time.monotonic() + 10
        while not port_file.exists() or not port_file.read_text().strip():
            if time.monotonic() > deadline:
                raise RuntimeError("the template server did not start")
            time.sleep(0.05)
        base_url = f"http://127.0.0.1:{port_file.read_text().strip()}"
        plain, declared, published = write_detail_sites(work / "details-sites", n, base_url)
        for path in published.iterdir():
            (published_dir / path.name).write_text(path.read_text())
        core.start()
        try:
            for label, root in (("plain", plain), ("declared", declared)):
                ps.say(f"details: set-up of {label}")
                ps.run_child("setup", "apply", {"root": str(root)}, core.env(), 0, core)
            ps.say(f"details: {MEMBERS_PER_LIST} members on each plain list (for the report)")
            subscribe(core, n)
            env = core.env()
            for rnd in range(bench.rounds):
                order = ["plain", "declared", "plan_cli", "report_cli"]
                for label in order if rnd % 2 == 0 else order[::-1]:
                    if label.endswith("_cli"):
                        argv = ["--root", str(plain), label.removesuffix("_cli")]
                        bench.add(n, ps.run_cli(label, argv, env, rnd, 0, core))
                        continue
                    root = plain if label == "plain" else declared
                    sample = ps.run_child(
                        f"plan_{label}", "plan", {"root": str(root)}, env, rnd, core
                    )
                    if sample.detail.get("has_changes"):
                        raise RuntimeError(f"the {label} plan after set-up has changes")
                    bench.add(n, sample)
        finally:
            core.stop()
    finally:
        server.terminate()
        server.wait()
    summary = ps.summarise(bench.samples, n)["operations"]
    plain_ops, declared_ops = summary["plan_plain"], summary["plan_declared"]
    return {
        "n": n,
        "declared_per_list": "1 template, 2 non-members, 2 header filters, 2 bans",
        "operations": summary,
        "requests_per_list": {
            "plain": round(plain_ops["requests"] / n, 3),
            "declared": round(declared_ops["requests"] / n, 3),
        },
        "declared/plain_seconds": round(declared_ops["median_s"] / plain_ops["median_s"], 2),
        "members_on_plain_lists": sum(MEMBERS_PER_LIST for i in range(n) if i % 100 != 50),
        "report_cli/plan_cli": round(
            summary["report_cli"]["median_s"] / summary["plan_cli"]["median_s"], 2
        ),
    }


def measure_apply(bench: ps.Bench, n: int, work: Path) -> JSON:
    """`listsync apply` of n new lists against the naive create-and-configure loop, each
    on a fresh core, as plan_scale measures it (its apply phase)."""
    root = work / f"apply-{n}"
    ps.write_site(root, n)
    desired_file = work / f"apply-desired-{n}.json"
    ps.run_child("desired", "desired", {"root": str(root), "out": str(desired_file)}, {}, 0)
    bench._apply_phase(n, root, desired_file).stop()
    summary = ps.summarise(bench.samples, n)
    return {"n": n, "operations": summary["operations"], "ratios": summary["ratios"]}


def write(out: Path, result: JSON, started: float) -> None:
    result["machine"]["load_avg_end"] = [round(x, 2) for x in os.getloadavg()]
    result["machine"]["busy_at_end"] = ps.busy_processes()
    result["duration_s"] = round(time.perf_counter() - started, 1)
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps(result, indent=1) + "\n")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument(
        "--sizes",
        type=lambda s: sorted(int(x) for x in s.split(",")),
        default=list(DEFAULT_SIZES),
        help="list counts of the curve (default 1000,3000,10000)",
    )
    parser.add_argument("--details", type=int, default=1000, help="lists of each details site")
    parser.add_argument("--skip-details", action="store_true")
    parser.add_argument(
        "--apply", type=int, default=0, metavar="N", help="also apply N new lists vs the naive loop"
    )
    parser.add_argument("--skip-scale", action="store_true")
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--apply-rounds", type=int, default=1)
    parser.add_argument("--shape", type=ps.Shape.parse, default=ps.Shape("postgresql", 2))
    parser.add_argument(
        "--mailman-home",
        type=Path,
        default=Path(os.environ.get("LISTSYNC_MAILMAN_HOME") or ps.REPO / ".mailman"),
    )
    parser.add_argument("--work", type=Path, help="keep sites and cores here (default: temp)")
    parser.add_argument(
        "--out",
        type=Path,
        default=ps.REPO / "benchmarks" / "results" / f"plan_cost-{date.today().isoformat()}.json",
    )
    args = parser.parse_args(argv)
    install(args.mailman_home, log=ps.say)
    result: JSON = {
        "benchmark": "plan_cost",
        "date": date.today().isoformat(),
        "machine": ps.machine(),
        "config": {
            "mailman": DEFAULT_VERSION,
            "shape": args.shape.label,
            "sizes": args.sizes,
            "details_n": None if args.skip_details else args.details,
            "rounds": args.rounds,
            "client_threads_floor_pool": 4,
        },
        "versions": ps.versions(),
    }
    started = time.perf_counter()
    with ps.workdir(args.work) as work:
        cluster = PostgresCluster().start() if args.shape.database == "postgresql" else None
        try:
            bench = ps.Bench(
                args.mailman_home,
                work,
                args.rounds,
                args.apply_rounds,
                args.apply,
                args.shape,
                cluster,
            )
            if args.apply:
                result["apply"] = measure_apply(bench, args.apply, work)
                write(args.out, result, started)
                bench.samples = []
            if not args.skip_scale:
                result["scale"] = measure_scale(bench, args.sizes, work)
                write(args.out, result, started)  # kept should the next phase not finish
            if not args.skip_details:
                bench.samples = []
                result["details"] = measure_details(bench, args.details, work)
        finally:
            if cluster is not None:
                cluster.stop()
    write(args.out, result, started)
    if "apply" in result:
        ops = result["apply"]["operations"]
        for op in ("naive_apply", "apply"):
            print(f"{op:<12} {ops[op]['median_s']:7.2f} s  {ops[op]['requests']:>6} requests")
        print(f"  naive_apply / apply: {result['apply']['ratios']['naive_apply/apply']}")
    if "scale" in result:
        scale = result["scale"]
        print(f"\nno-change plan by size ({args.shape.label})")
        print(f"{'lists':>7}{'plan s':>9}{'ms/list':>9}{'requests':>10}{'peak MiB':>10}"
              f"{'floor s':>9}{'x floor':>9}{'bare s':>9}{'x bare':>9}")  # fmt: skip
        for c in scale["curve"]:
            print(
                f"{c['n']:>7}{c['plan_s']:>9.2f}{c['plan_ms_per_list']:>9.3f}"
                f"{c['plan_requests']:>10}{c['plan_peak_mib']:>10.1f}"
                f"{c['floor_pool_s']:>9.2f}{c['plan/floor_pool']:>9.2f}"
                f"{c['floor_urllib3_s']:>9.2f}{c['plan/floor_urllib3']:>9.2f}"
            )
        print(f"  plan fit: {scale['fit_plan']}")
        print(f"  floor fit: {scale['fit_floor_pool']}")
        print(f"  bare urllib3 floor fit: {scale['fit_floor_urllib3']}")
        print(f"  peak memory fit (MiB): {scale['fit_peak_mib']}")
    if "details" in result:
        details = result["details"]
        print(f"\ndetails, {details['n']} lists each ({details['declared_per_list']})")
        for label in ("plain", "declared"):
            ops = details["operations"][f"plan_{label}"]
            print(
                f"  {label:<9} {ops['median_s']:7.2f} s  {ops['requests']:>6} requests"
                f"  ({details['requests_per_list'][label]} a list)  {ops['requests_by_kind']}"
            )
        print(f"  declared / plain: {details['declared/plain_seconds']}x the time")
        print(
            f"  report command / plan command ({details['members_on_plain_lists']} members):"
            f" {details['report_cli/plan_cli']}x"
        )
    ps.say(f"\nwrote {args.out} ({result['duration_s']} s)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
