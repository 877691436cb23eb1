"""A cold `listsync validate` of N list files against ruamel.yaml's round-trip parse of them.

A benchmark, not a test. The yardstick is the plain round-trip parse of the
same files (``YAML(typ="rt", pure=True).load`` of each, in sorted order),
the parse every list file once took. Every operation is a child process,
started as a user starts it, timed from the parent (wall clock, with the
child's user and system CPU time from ``wait4``); in each round every
operation runs once, in an order rotated from round to round so that all of
them see the same machine load (the load average before each run is kept):

* ``python_pass``: ``python -c pass``, the interpreter alone;
* ``rt_parse``: a new Python that imports ruamel.yaml and parses every list
  file round-trip; it also reports the seconds of the parse alone
  (``rt_parse_in_process``, without start-up and imports);
* ``validate_cold``: ``listsync --root SITE validate`` with a new, empty cache
  directory (``LISTSYNC_CACHE_DIR``) each run: every file is parsed.

The ratios reported are of medians: ``validate_cold / rt_parse`` (process
against process, wall clock: the goal is at most 0.5), the same of CPU time
(user + system: steadier when other work shares the machine), and
``validate_cold / rt_parse_in_process``. The site is ``plan_scale.write_site``'s (every field
set, N = 1,000 by default). ``src/`` is byte-compiled first, as an installed
listsync is. An untimed round first checks that validate finds every file
valid and that both parse the same number of files; another records
``python -X importtime`` of the cold validate.

``--before DIR`` measures the listsync under ``DIR/src`` (say ``git archive``
of main) in the same run, alternating with this checkout's.

    .venv/bin/python benchmarks/validate_cold.py
    .venv/bin/python benchmarks/validate_cold.py --rounds 15 --files 2000
    .venv/bin/python benchmarks/validate_cold.py --before /tmp/main-export

Figures go to standard output and, as JSON, to ``--out``.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from datetime import date
from pathlib import Path
from typing import Any

from plan_scale import machine, write_site
from startup import Bench, Code, Operation, _describe, say

REPO = Path(__file__).resolve().parent.parent
DEFAULT_FILES = 1000
DEFAULT_ROUNDS = 9
GOAL = 0.5  # validate_cold / rt_parse, medians

JSON = dict[str, Any]

RT_PARSE = """\
import sys, time
from pathlib import Path
from ruamel.yaml import YAML

paths = sorted(Path(sys.argv[1]).glob("*.yaml"))
started = time.perf_counter()
for path in paths:
    YAML(typ="rt", pure=True).load(path.read_text("utf-8-sig"))
print(f"parsed {len(paths)} files in {time.perf_counter() - started:.4f} s")
"""


def operations(listsync: Path, site: Path, script: Path, files: int) -> list[Operation]:
    python = sys.executable
    return [
        Operation("python_pass", (python, "-c", "pass")),
        Operation("rt_parse", (python, str(script), str(site / "lists"))),
        Operation(
            "validate_cold",
            (str(listsync), "--root", str(site), "validate"),
            "cold",
            f"{files} valid list file(s), 0 error(s), 0 warning(s)",
        ),
    ]


def check(bench: Bench, codes: list[Code], ops: list[Operation], files: int) -> None:
    """The untimed round: byte-compiles each `src/`, runs everything once, checks outputs."""
    for code in codes:
        subprocess.run([sys.executable, "-m", "compileall", "-q", str(code.src)], check=True)
        for op in ops:
            *_, text = bench.run(code, op)
            last = text.rstrip("\n").rsplit("\n", 1)[-1]
            if op.summary is not None and last != op.summary:
                raise RuntimeError(f"{code.label} {op.name} printed {last!r}, not {op.summary!r}")
            if op.name == "rt_parse" and not last.startswith(f"parsed {files} files"):
                raise RuntimeError(f"rt_parse printed {last!r}")


def parse_seconds(text: str) -> float:
    """What `RT_PARSE` printed: the seconds of its parse alone."""
    return float(text.split(" in ")[1].split()[0])


def measure(bench: Bench, codes: list[Code], ops: list[Operation], rounds: int) -> list[JSON]:
    """The timed rounds; `rt_parse` needs no listsync, so it runs once a round."""
    pairs = [
        (code, op) for op in ops for code in codes if op.name != "rt_parse" or code is codes[0]
    ]
    samples: list[JSON] = []
    for rnd in range(rounds):
        shift = rnd % len(pairs)
        for code, op in pairs[shift:] + pairs[:shift]:
            load = os.getloadavg()[0]
            wall, user, sys_, text = bench.run(code, op)
            sample = {
                "code": "-" if op.name == "rt_parse" else code.label,
                "op": op.name,
                "round": rnd,
                "wall": round(wall, 4),
                "user": round(user, 4),
                "sys": round(sys_, 4),
                "load_before": round(load, 2),
            }
            if op.name == "rt_parse":
                sample["parse_only"] = round(parse_seconds(text), 4)
            samples.append(sample)
        say(f"round {rnd + 1}/{rounds}")
    return samples


def summarise(samples: list[JSON]) -> JSON:
    figures: JSON = {}
    for key in sorted({(s["code"], s["op"]) for s in samples}):
        group = [s for s in samples if (s["code"], s["op"]) == key]
        name = key[1] if key[0] == "-" else f"{key[1]} ({key[0]})"
        figures[name] = {
            "median_s": round(statistics.median(s["wall"] for s in group), 4),
            "min_s": round(min(s["wall"] for s in group), 4),
            "max_s": round(max(s["wall"] for s in group), 4),
            "median_user_s": round(statistics.median(s["user"] for s in group), 4),
            "median_sys_s": round(statistics.median(s["sys"] for s in group), 4),
            "median_load_before": round(statistics.median(s["load_before"] for s in group), 2),
            "rounds": len(group),
        }
        if key[1] == "rt_parse":
            figures["rt_parse_in_process"] = {
                "median_s": round(statistics.median(s["parse_only"] for s in group), 4),
                "min_s": round(min(s["parse_only"] for s in group), 4),
                "rounds": len(group),
            }
    return figures


def ratios(figures: JSON, labels: list[str]) -> JSON:
    out: JSON = {}
    for label in labels:
        cold = figures[f"validate_cold ({label})"]["median_s"]
        process = cold / figures["rt_parse"]["median_s"]
        cpu = figures[f"validate_cold ({label})"]
        out[label] = {
            "validate_cold / rt_parse": round(process, 3),
            "validate_cold / rt_parse, CPU (user + sys)": round(
                (cpu["median_user_s"] + cpu["median_sys_s"])
                / (figures["rt_parse"]["median_user_s"] + figures["rt_parse"]["median_sys_s"]),
                3,
            ),
            "validate_cold / rt_parse_in_process": round(
                cold / figures["rt_parse_in_process"]["median_s"], 3
            ),
            f"goal <= {GOAL}": process <= GOAL,
        }
    return out


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--rounds", type=int, default=DEFAULT_ROUNDS, help="timed runs of each")
    parser.add_argument("--files", type=int, default=DEFAULT_FILES, help="list files of the site")
    parser.add_argument(
        "--before",
        type=Path,
        metavar="DIR",
        help="also measure the listsync in DIR/src (e.g. an export of main), in the same run",
    )
    parser.add_argument(
        "--listsync",
        type=Path,
        default=Path(sys.executable).with_name("listsync"),
        help="the console script to run (default: the one next to this Python)",
    )
    parser.add_argument(
        "--out",
        type=Path,
        default=REPO / "benchmarks" / "results" / f"validate_cold-{date.today().isoformat()}.json",
        help="the JSON result file (default: benchmarks/results/validate_cold-DATE.json)",
    )
    args = parser.parse_args(argv)
    codes = [Code("this", REPO / "src")]
    if args.before is not None:
        codes.insert(0, Code("before", args.before.resolve() / "src"))
    result: JSON = {
        "benchmark": "validate_cold",
        "date": date.today().isoformat(),
        "machine": machine(),
        "config": {
            "rounds": args.rounds,
            "files": args.files,
            "goal": f"validate_cold / rt_parse <= {GOAL} (medians)",
            "byte_compiled": True,
            "codes": {code.label: _describe(code) for code in codes},
        },
    }
    started = time.perf_counter()
    with tempfile.TemporaryDirectory(prefix="listsync-validate-cold-") as tmp:
        work = Path(tmp)
        say(f"writing a site of {args.files} list files")
        write_site(work / "site", args.files)
        script = work / "rt_parse.py"
        script.write_text(RT_PARSE)
        ops = operations(args.listsync, work / "site", script, args.files)
        bench = Bench(codes, ops, work)
        say("checking every command once (untimed)")
        check(bench, codes, ops, args.files)
        result["imports"] = {
            code.label: bench.imports(code, ops[-1])["top_level_ms"] for code in codes
        }
        samples = measure(bench, codes, ops, args.rounds)
    result["figures"] = summarise(samples)
    result["ratios"] = ratios(result["figures"], [code.label for code in codes])
    result["samples"] = samples
    result["machine"]["load_avg_end"] = [round(x, 2) for x in os.getloadavg()]
    result["duration_s"] = round(time.perf_counter() - started, 1)
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(result, indent=1) + "\n")
    print(f"\nmedians of {args.rounds} runs, wall seconds ({args.files} list files)")
    print(f"{'operation':<28}{'median':>9}{'min':>9}{'user':>8}{'sys':>7}{'load':>7}")
    for name, f in result["figures"].items():
        cpu = ("median_user_s", "median_sys_s", "median_load_before")
        user, sys_, load = (f"{f[k]:.3f}" if k in f else "-" for k in cpu)
        print(f"{name:<28}{f['median_s']:>9.3f}{f['min_s']:>9.3f}{user:>8}{sys_:>7}{load:>7}")
    for label, found in result["ratios"].items():
        print(f"\n{label}: " + ", ".join(f"{k}: {v}" for k, v in found.items()))
    print(
        f"\nload average at start {result['machine']['load_avg_start']}, at end "
        f"{result['machine']['load_avg_end']}"
    )
    say(f"\nwrote {args.out} ({result['duration_s']} s)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
