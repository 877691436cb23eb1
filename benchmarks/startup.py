"""How long `listsync` takes to start: `--version` and `validate`, as a pre-commit hook runs them.

A benchmark, not a test. Every operation is a child process started as a
user starts it (the ``listsync`` console script next to this Python, with
``src/`` of the checkout measured first on ``PYTHONPATH``), timed from the
parent, wall clock, with the child's user and system CPU time (``wait4``;
system time is mostly the cache's files being created); in each round every
operation runs once, in an order rotated from round to round so that all of
them see the same machine load:

* ``python_pass``: ``python -c pass``, the baseline every ratio is against;
* ``import_listsync``, ``import_cli``: ``python -c "import listsync"`` and
  ``"import listsync.cli"`` (what the console script imports);
* ``version``, ``help``: ``listsync --version`` and ``listsync --help``;
* ``validate_62_cold``, ``validate_62_warm``: ``listsync validate`` of this
  repository's example site (62 list files), with an empty cache directory
  (``LISTSYNC_CACHE_DIR``, a new one each time) and with one a previous run
  filled (see ``ValidFiles`` in ``src/listsync/load.py``);
* ``validate_N_cold``, ``validate_N_warm``: the same on a generated site of N
  list files (``plan_scale.write_site``, N = 1,000 by default).

``--before DIR`` measures the listsync under ``DIR/src`` (say ``git archive``
of main) in the same run, alternating with this checkout's, and checks that
both print the same for every command. Each ``src/`` is byte-compiled first
(``compileall``), as an installed listsync is: without its ``__pycache__``
(``PYTHONDONTWRITEBYTECODE``) every run would compile listsync's modules
again. An untimed round first checks every command's exit status and output
and fills the warm caches; another records ``python -X importtime`` for
``--version`` and ``validate``.

    .venv/bin/python benchmarks/startup.py
    .venv/bin/python benchmarks/startup.py --rounds 25 --files 2000
    .venv/bin/python benchmarks/startup.py --before /tmp/main-export

Figures go to standard output and, as JSON, to ``--out``.
"""

from __future__ import annotations

import argparse
import json
import os
import re
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import date
from pathlib import Path
from typing import Any

from plan_scale import machine, write_site

REPO = Path(__file__).resolve().parent.parent
EXAMPLE_FILES = 62
DEFAULT_FILES = 1000
DEFAULT_ROUNDS = 15
TARGETS_S = {"version": 0.15, "validate_62": 0.25, "validate_N": 1.0}
HEAVY = (
    "click",
    "pydantic",
    "email_validator",
    "ruamel.yaml",
    "requests",
    "mailmanclient",
    "tenacity",
    "git",
    "rich",
    "deepdiff",
    "jinja2",
    "filelock",
    "importlib.metadata",
    "listsync.models",
)

JSON = dict[str, Any]


@dataclass(frozen=True)
class Operation:
    name: str
    argv: tuple[str, ...]
    cache: str | None = None  # "cold": a new empty cache directory each run; "warm": a kept one
    summary: str | None = None  # the last line validate must print


@dataclass(frozen=True)
class Code:
    """One listsync to measure: `src` first on PYTHONPATH."""

    label: str
    src: Path

    def env(self, cache_dir: Path) -> dict[str, str]:
        path = [str(self.src), *filter(None, [os.environ.get("PYTHONPATH")])]
        return {
            **os.environ,
            "PYTHONPATH": os.pathsep.join(path),
            "LISTSYNC_CACHE_DIR": str(cache_dir),
        }


def operations(listsync: Path, site: Path, files: int) -> list[Operation]:
    python = sys.executable
    script = str(listsync)

    def valid(n: int) -> str:
        return f"{n} valid list file(s), 0 error(s), 0 warning(s)"

    return [
        Operation("python_pass", (python, "-c", "pass")),
        Operation("import_listsync", (python, "-c", "import listsync")),
        Operation("import_cli", (python, "-c", "import listsync.cli")),
        Operation("version", (script, "--version")),
        Operation("help", (script, "--help")),
        *(
            Operation(
                f"validate_{name}_{cache}",
                (script, "--root", str(root), "validate"),
                cache,
                valid(n),
            )
            for name, root, n in (("62", REPO, EXAMPLE_FILES), ("N", site, files))
            for cache in ("cold", "warm")
        ),
    ]


@dataclass
class Sample:
    code: str
    op: str
    round: int
    wall: float
    user: float
    sys: float
    load_before: float

    def as_json(self) -> JSON:
        return {
            "code": self.code,
            "op": self.op,
            "round": self.round,
            "wall": round(self.wall, 4),
            "user": round(self.user, 4),
            "sys": round(self.sys, 4),
            "load_before": round(self.load_before, 2),
        }


class Bench:
    def __init__(self, codes: Sequence[Code], ops: Sequence[Operation], work: Path) -> None:
        self.codes = codes
        self.ops = ops
        self.work = work
        self.samples: list[Sample] = []
        self.checks: JSON = {}
        self.outputs: dict[tuple[str, str], str] = {}

    def warm_dir(self, code: Code, op: Operation) -> Path:
        return self.work / "warm" / code.label / op.name

    @contextmanager
    def cache_dir(self, code: Code, op: Operation) -> Iterator[Path]:
        if op.cache == "warm":
            yield self.warm_dir(code, op)
            return
        with tempfile.TemporaryDirectory(dir=self.work, prefix="cold-") as fresh:
            yield Path(fresh)

    def run(self, code: Code, op: Operation) -> tuple[float, float, float, str]:
        """Run `op` once: its wall time, user and system CPU time, and output."""
        with self.cache_dir(code, op) as cache:
            env = code.env(cache)
            started = time.perf_counter()
            process = subprocess.Popen(
                op.argv, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, env=env, cwd=REPO
            )
            assert process.stdout is not None
            out = process.stdout.read()
            _, status, usage = os.wait4(process.pid, 0)
            wall = time.perf_counter() - started
            process.stdout.close()
        code_ = os.waitstatus_to_exitcode(status)
        text = out.decode()
        if code_ != 0:
            raise RuntimeError(f"{code.label} {op.name} exited {code_}:\n{text}")
        return wall, usage.ru_utime, usage.ru_stime, text

    def check(self) -> None:
        """The untimed round: exit 0, the expected summary, equal outputs; fills warm caches."""
        for code in self.codes:
            subprocess.run([sys.executable, "-m", "compileall", "-q", str(code.src)], check=True)
            for op in self.ops:
                if op.cache == "warm":
                    self.warm_dir(code, op).mkdir(parents=True, exist_ok=True)
                *_, text = self.run(code, op)
                last = text.rstrip("\n").rsplit("\n", 1)[-1]
                if op.summary is not None and last != op.summary:
                    raise RuntimeError(
                        f"{code.label} {op.name} printed {last!r}, not {op.summary!r}"
                    )
                self.outputs[(code.label, op.name)] = text
        self.checks["version"] = self.outputs[(self.codes[0].label, "version")].strip()
        if len(self.codes) > 1:
            first, *others = (code.label for code in self.codes)
            self.checks["same_output_as_" + first] = {
                op.name: all(
                    self.outputs[(other, op.name)] == self.outputs[(first, op.name)]
                    for other in others
                )
                for op in self.ops
            }

    def rounds(self, count: int) -> None:
        pairs = [(code, op) for op in self.ops for code in self.codes]
        for rnd in range(count):
            shift = rnd % len(pairs)
            for code, op in pairs[shift:] + pairs[:shift]:
                load = os.getloadavg()[0]
                wall, user, sys_, _ = self.run(code, op)
                self.samples.append(Sample(code.label, op.name, rnd, wall, user, sys_, load))
            say(f"round {rnd + 1}/{count}")

    def imports(self, code: Code, op: Operation) -> JSON:
        """`python -X importtime` of one run: the slowest top-level imports, and what each
        library of `HEAVY` it loaded took (cumulative, where it was first imported; pydantic
        loads most of itself at its first model, so listsync.models carries that part)."""
        with self.cache_dir(code, op) as cache:
            script = op.argv[1:] if op.argv[0] == sys.executable else op.argv
            done = subprocess.run(
                [sys.executable, "-X", "importtime", *script],
                capture_output=True,
                text=True,
                env=code.env(cache),
                cwd=REPO,
                check=True,
            )
        cumulative: dict[str, int] = {}
        top: list[tuple[int, str]] = []
        for line in done.stderr.splitlines():
            found = re.match(r"import time:\s+\d+ \|\s+(\d+) \|( *)(\S+)", line)
            if found is None:
                continue
            micros, indent, module = int(found[1]), found[2], found[3]
            cumulative[module] = micros
            if len(indent) == 1:
                top.append((micros, module))
        top.sort(reverse=True)
        return {
            "top_level_ms": {module: round(us / 1000, 1) for us, module in top[:12]},
            "heavy_ms": {
                name: round(cumulative[name] / 1000, 1) for name in HEAVY if name in cumulative
            },
        }


def summarise(samples: list[Sample], codes: Sequence[Code], ops: Sequence[Operation]) -> JSON:
    out: JSON = {}
    for code in codes:
        figures: JSON = {}
        for op in ops:
            group = [s for s in samples if s.code == code.label and s.op == op.name]
            figures[op.name] = {
                "median_s": round(statistics.median(s.wall for s in group), 4),
                "min_s": round(min(s.wall for s in group), 4),
                "max_s": round(max(s.wall for s in group), 4),
                "median_user_s": round(statistics.median(s.user for s in group), 4),
                "median_sys_s": round(statistics.median(s.sys for s in group), 4),
                "rounds": len(group),
            }
        base = figures["python_pass"]
        for figure in figures.values():
            figure["x_baseline_median"] = round(figure["median_s"] / base["median_s"], 1)
            figure["x_baseline_min"] = round(figure["min_s"] / base["min_s"], 1)
            figure["over_baseline_median_s"] = round(figure["median_s"] - base["median_s"], 4)
        out[code.label] = figures
    return out


def targets(figures: JSON, files: int) -> JSON:
    out: JSON = {}
    wanted = [("version", "version", TARGETS_S["version"])]
    for cache in ("cold", "warm"):
        wanted.append((f"validate_62_{cache}", f"validate_62_{cache}", TARGETS_S["validate_62"]))
        wanted.append((f"validate_N_{cache}", f"validate_N_{cache}", TARGETS_S["validate_N"]))
    for op, key, limit in wanted:
        median = figures[key]["median_s"]
        label = op.replace("_N_", f"_{files}_")
        out[f"{label} <= {limit} s"] = {
            "median_s": median,
            "x_baseline": figures[key]["x_baseline_median"],
            "met": median <= limit,
            "margin_s": round(limit - median, 3),
        }
    return out


def print_table(result: JSON, files: int) -> None:
    for label, figures in result["figures"].items():
        print(f"\n{label}: median and min of {result['config']['rounds']} runs, wall seconds")
        print(
            f"{'operation':<20}{'median':>9}{'min':>9}{'user':>8}{'sys':>7}"
            f"{'x pass':>9}{'x pass min':>12}"
        )
        for op, f in figures.items():
            print(
                f"{op.replace('_N_', f'_{files}_'):<20}{f['median_s']:>9.3f}{f['min_s']:>9.3f}"
                f"{f['median_user_s']:>8.3f}{f['median_sys_s']:>7.3f}"
                f"{f['x_baseline_median']:>9.1f}{f['x_baseline_min']:>12.1f}"
            )
        print(f"\nTargets ({label})")
        for name, value in result["targets"][label].items():
            verdict = "met" if value["met"] else f"NOT met, {-value['margin_s']:.3f} s over"
            print(f"  {name}: {value['median_s']:.3f} s ({value['x_baseline']}x pass): {verdict}")
    for label, imports in result["imports"].items():
        for op, found in imports.items():
            heavy = ", ".join(f"{name} {ms} ms" for name, ms in found["heavy_ms"].items())
            print(f"\n{label} {op} imports (-X importtime): {heavy or 'none of HEAVY'}")


def say(message: str) -> None:
    print(message, file=sys.stderr, flush=True)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--rounds", type=int, default=DEFAULT_ROUNDS, help="timed runs of each")
    parser.add_argument(
        "--files", type=int, default=DEFAULT_FILES, help="list files of the generated site"
    )
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
        default=REPO / "benchmarks" / "results" / f"startup-{date.today().isoformat()}.json",
        help="the JSON result file (default: benchmarks/results/startup-DATE.json)",
    )
    args = parser.parse_args(argv)
    codes = [Code("this", REPO / "src")]
    if args.before is not None:
        codes.insert(0, Code("before", args.before.resolve() / "src"))
    result: JSON = {
        "benchmark": "startup",
        "date": date.today().isoformat(),
        "machine": machine(),
        "config": {
            "rounds": args.rounds,
            "files": args.files,
            "example_files": EXAMPLE_FILES,
            "targets_s": TARGETS_S,
            "byte_compiled": True,
            "codes": {code.label: _describe(code) for code in codes},
        },
    }
    started = time.perf_counter()
    with tempfile.TemporaryDirectory(prefix="listsync-startup-") as tmp:
        work = Path(tmp)
        say(f"writing a site of {args.files} list files")
        write_site(work / "site", args.files)
        ops = operations(args.listsync, work / "site", args.files)
        bench = Bench(codes, ops, work)
        say("checking every command once (untimed; fills the warm caches)")
        bench.check()
        result["imports"] = {
            code.label: {
                op.name: bench.imports(code, op)
                for op in ops
                if op.name in ("version", "validate_62_warm")
            }
            for code in codes
        }
        bench.rounds(args.rounds)
    result["checks"] = bench.checks
    result["figures"] = summarise(bench.samples, codes, ops)
    result["targets"] = {
        label: targets(figures, args.files) for label, figures in result["figures"].items()
    }
    if len(codes) > 1:
        before, this = result["figures"]["before"], result["figures"]["this"]
        result["this_vs_before_median"] = {
            op: round(this[op]["median_s"] / before[op]["median_s"], 2) for op in this
        }
    result["samples"] = [s.as_json() for s in bench.samples]
    result["machine"]["load_avg_end"] = [round(x, 2) for x in os.getloadavg()]
    result["duration_s"] = round(time.perf_counter() - started, 1)
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(result, indent=1) + "\n")
    print_table(result, args.files)
    if "this_vs_before_median" in result:
        print("\nthis / before (medians):")
        for op, ratio in result["this_vs_before_median"].items():
            print(f"  {op.replace('_N_', f'_{args.files}_')}: {ratio}")
    say(f"\nwrote {args.out} ({result['duration_s']} s)")
    return 0


def _describe(code: Code) -> JSON:
    """Where a measured listsync comes from: its directory and, in git, its commit."""
    done = subprocess.run(
        ["git", "-C", str(code.src), "describe", "--always", "--dirty"],
        capture_output=True,
        text=True,
        check=False,
    )
    return {"src": str(code.src), "git": done.stdout.strip() or None}


if __name__ == "__main__":
    sys.exit(main())
