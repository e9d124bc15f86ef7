"""Benchmark: every speed and memory target of the project, each measured and printed beside
its figure (what ``make bench`` prints last). CPU time and wall time, ratios measured side by
side in one interleaved run, medians: the machines are shared and noisy.

    python bench/targets.py                     # every target, full sizes (about 20 minutes)
    python bench/targets.py --quick             # the same, small sizes (a smoke run)
    python bench/targets.py --only cold engine  # some of: sensitivity cold engine rss batch serve

Each section prints its own table; the last table lists every target, its figure and whether it
is met. Nothing here is asserted by the test suite: speed is read, not tested.
"""

from __future__ import annotations

import argparse
import datetime
import importlib.util
import os
import platform
import random
import resource
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from types import ModuleType

ROOT = Path(__file__).resolve().parent.parent
EXAMPLE = ROOT / "examples" / "three-tier-web-app.yaml"
BASELINE_IMPORTS = "import pydantic, networkx, jinja2, yaml"
SECTIONS = ("sensitivity", "cold", "engine", "rss", "batch", "serve")


@dataclass
class Target:
    """One target of the table: what is measured, the figure, the goal and whether it holds."""

    what: str
    figure: str
    goal: str
    met: bool | None  # None: not measured in this run


def cpu_children() -> float:
    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    return usage.ru_utime + usage.ru_stime


def load_bench_module(name: str) -> ModuleType:
    """Another script of bench/ as a module (bench/ is not a package)."""
    path = Path(__file__).parent / f"{name}.py"
    spec = importlib.util.spec_from_file_location(f"bench_{name}", path)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules[f"bench_{name}"] = module  # dataclasses look their module up there
    spec.loader.exec_module(module)
    return module


# -- sensitivity ---------------------------------------------------------------------------

def sensitivity(repeats: int) -> list[Target]:
    """Warm reports (Markdown) with and without the sensitivity analysis, per bundled example,
    alternating the two for every sample; CPU time."""
    from advisor.inputs import read_requirements
    from advisor.paths import examples_dir
    from advisor.pipeline import Advisor
    from advisor.render import render_markdown

    advisor = Advisor(engine="durable")
    print("## Sensitivity (durable, warm, Markdown report, CPU ms)\n")
    print("| example | without p50 | with p50 | with / without |")
    print("|---|---|---|---|")
    ratios: list[float] = []
    plain_all: list[float] = []
    full_all: list[float] = []
    for path in sorted(examples_dir().glob("*.yaml")):
        requirements = read_requirements(str(path))
        for flag in (False, True):  # warm every per-rule-set structure first
            render_markdown(advisor.recommend(requirements, sensitivity=flag))
        plain: list[float] = []
        full: list[float] = []
        for _ in range(repeats):
            for flag, samples in ((False, plain), (True, full)):
                start = time.process_time()
                render_markdown(advisor.recommend(requirements, sensitivity=flag))
                samples.append(time.process_time() - start)
        ratio = statistics.median(full) / statistics.median(plain)
        ratios.append(ratio)
        plain_all += plain
        full_all += full
        print(f"| {path.stem} | {statistics.median(plain) * 1000:.2f} "
              f"| {statistics.median(full) * 1000:.2f} | {ratio:.2f}x |")
    median_ratio = statistics.median(ratios)
    with_p50, without_p50 = statistics.median(full_all), statistics.median(plain_all)
    print(f"\nmedian over {len(ratios)} examples: {median_ratio:.2f}x (max {max(ratios):.2f}x); "
          f"p50 over every sample: {with_p50 * 1000:.2f} ms with, {without_p50 * 1000:.2f} ms "
          "without\n")
    return [
        Target("warm report with sensitivity / without (median over examples)",
               f"{median_ratio:.2f}x", "<= 2x", median_ratio <= 2),
        Target("warm report p50 CPU, durable, with / without sensitivity",
               f"{with_p50 * 1000:.1f} / {without_p50 * 1000:.1f} ms", "<= 8 / <= 3 ms",
               with_p50 <= 0.008 and without_p50 <= 0.003),
    ]


# -- cold start ----------------------------------------------------------------------------

def cold_start(repeats: int) -> list[Target]:
    """The whole ``advisor recommend`` process (warm cache, default options) beside a process
    that only imports the four libraries it is built on, alternating; CPU and wall time."""
    commands = {
        "imports": [sys.executable, "-c", BASELINE_IMPORTS],
        "recommend": [sys.executable, "-m", "advisor", "recommend", str(EXAMPLE)],
    }
    cpu: dict[str, list[float]] = {name: [] for name in commands}
    wall: dict[str, list[float]] = {name: [] for name in commands}
    with tempfile.TemporaryDirectory(prefix="advisor-bench-cache-") as cache:
        environment = {**os.environ, "ADVISOR_CACHE_DIR": cache}
        subprocess.run(commands["recommend"], check=True, capture_output=True, env=environment)
        for _ in range(repeats):
            for name, command in commands.items():
                before, started = cpu_children(), time.perf_counter()
                subprocess.run(command, check=True, capture_output=True, env=environment)
                wall[name].append(time.perf_counter() - started)
                cpu[name].append(cpu_children() - before)
    print("## CLI cold start (warm cache, whole process, ms)\n")
    print("| process | CPU median | wall median | wall min |")
    print("|---|---|---|---|")
    for name in commands:
        print(f"| {' '.join(commands[name][1:]) if name == 'imports' else 'advisor recommend'} "
              f"| {statistics.median(cpu[name]) * 1000:.0f} "
              f"| {statistics.median(wall[name]) * 1000:.0f} "
              f"| {min(wall[name]) * 1000:.0f} |")
    cpu_ratio = statistics.median(cpu["recommend"]) / statistics.median(cpu["imports"])
    wall_ratio = statistics.median(wall["recommend"]) / statistics.median(wall["imports"])
    print(f"\nrecommend / imports: CPU {cpu_ratio:.2f}x, wall {wall_ratio:.2f}x\n")
    return [Target("CLI cold start / `python -c \"import pydantic, networkx, jinja2, yaml\"`",
                   f"{cpu_ratio:.2f}x CPU, {wall_ratio:.2f}x wall", "<= 1.3x",
                   cpu_ratio <= 1.3)]


# -- engine only ---------------------------------------------------------------------------

def engine_ratio(profiles: int, repeats: int) -> list[Target]:
    """``RuleEngine.evaluate`` over the same precomputed facts, durable and the Python
    reference alternating block by block; CPU per evaluation."""
    from advisor.catalog import load_catalog
    from advisor.facts import build_facts
    from advisor.inputs import parse_requirements
    from advisor.paths import rules_dir
    from advisor.pipeline import Advisor
    from advisor.ranking import choose_winners
    from advisor.sampling import random_profiles

    catalog = load_catalog(rules_dir())
    facts = [build_facts(parse_requirements(document))
             for document in random_profiles(random.Random(7), catalog, profiles)]
    engines = {name: Advisor(engine=name, catalog=catalog).engine for name in ("durable", "python")}
    per_eval: dict[str, list[float]] = {name: [] for name in engines}
    for _ in range(repeats):
        for name, engine in engines.items():
            start = time.process_time()
            for item in facts:
                engine.evaluate(item, choose_winners)
            per_eval[name].append((time.process_time() - start) / len(facts))
    durable, python = (statistics.median(per_eval[name]) for name in ("durable", "python"))
    print(f"## Engine only ({profiles} generated profiles, {repeats} alternating blocks)\n")
    print(f"durable {durable * 1000:.3f} ms, python reference {python * 1000:.3f} ms per "
          f"evaluation (CPU, median of blocks): {durable / python:.2f}x\n")
    return [Target("durable engine / Python reference, engine only",
                   f"{durable / python:.2f}x", "<= 1.5x", durable / python <= 1.5)]


# -- memory --------------------------------------------------------------------------------

_RSS_CHILD = """
import random, sys
from advisor.catalog import load_catalog
from advisor.inputs import parse_requirements
from advisor.paths import rules_dir
from advisor.pipeline import Advisor
from advisor.render import render_markdown
from advisor.sampling import random_profiles

total, step = int(sys.argv[1]), int(sys.argv[2])
page = __import__("os").sysconf("SC_PAGE_SIZE")
catalog = load_catalog(rules_dir())
advisor = Advisor(engine="durable", catalog=catalog)
profiles = [parse_requirements(document)
            for document in random_profiles(random.Random(11), catalog, 2000)]
for index in range(1, total + 1):
    render_markdown(advisor.recommend(profiles[index % len(profiles)], sensitivity=True))
    if index % step == 0:
        with open("/proc/self/statm") as statm:
            print(index, int(statm.read().split()[1]) * page, flush=True)
"""


def rss(reports: int) -> list[Target]:
    """Current (not peak) RSS of one process making reports with sensitivity, read from
    /proc/self/statm every 1,000 reports (from a child process with nothing else in it)."""
    step = max(reports // 20, 1)
    done = subprocess.run([sys.executable, "-c", _RSS_CHILD, str(reports), str(step)],
                          check=True, capture_output=True, text=True)
    points = [(int(count), int(size) / 2**20)
              for count, size in (line.split() for line in done.stdout.splitlines())]
    print(f"## Current RSS over {reports:,} reports with sensitivity (MB)\n")
    print(" -> ".join(f"{count:,}: {size:.1f}" for count, size in points) + "\n")
    # From the first checkpoint at or past 1,000 reports (caches are still filling before).
    start = next(((count, size) for count, size in points if count >= min(1000, reports)),
                 points[0])
    rise = (points[-1][1] - start[1]) / start[1]
    return [Target(f"current RSS from {start[0]:,} to {points[-1][0]:,} reports, sensitivity",
                   f"{start[1]:.1f} -> {points[-1][1]:.1f} MB ({rise:+.1%})", "within 5 %",
                   abs(rise) <= 0.05)]


# -- batch ---------------------------------------------------------------------------------

def batch(profiles: int, repeats: int) -> list[Target]:
    """``advisor batch`` of generated profiles with 2 workers (bench/batch.py's run)."""
    bench_batch = load_bench_module("batch")
    walls: list[float] = []
    with tempfile.TemporaryDirectory(prefix="advisor-bench-batch-") as scratch:
        root = Path(scratch)
        source = root / "profiles.jsonl"
        bench_batch.write_profiles(source, profiles, 7)
        for attempt in range(repeats):
            wall, _, children = bench_batch.run_once(source, root / f"out-{attempt}", 2, "md")
            walls.append(wall)
            print(f"batch of {profiles:,} profiles, 2 workers: {wall:.1f} s wall, workers' CPU "
                  f"{children / profiles * 1000:.2f} ms per profile")
    median = statistics.median(walls)
    scaled = median * 10_000 / profiles
    print()
    return [Target("10,000-profile batch, 2 workers" + (
        "" if profiles == 10_000 else f" (scaled from {profiles:,})"),
        f"{scaled:.1f} s", "< 20 s", scaled < 20)]


# -- server --------------------------------------------------------------------------------

def serve(seconds: float, rounds: int) -> list[Target]:
    """``advisor serve`` with 1 and 2 workers under load at concurrency 8 (bench/serve.py)."""
    bench_serve = load_bench_module("serve")
    args = bench_serve.parse_arguments(["--seconds", str(seconds), "--rounds", str(rounds)])
    print("## Server (bench/serve.py)\n")
    results = bench_serve.run_servers(args)
    bench_serve.report(results, args)
    print()
    rate = {key: statistics.median(run.requests for run in runs)
            for key, runs in results.items()}
    cpu = {key: statistics.median(run.cpu_per_request for run in runs) * 1000
           for key, runs in results.items()}
    ratio = rate["on", 2] / rate["on", 1]
    return [
        Target("`advisor serve --workers 2` / one worker, req/s at c = 8, sensitivity on "
               f"(off: {rate['off', 2] / rate['off', 1]:.2f}x)", f"{ratio:.2f}x", ">= 1.7x",
               ratio >= 1.7),
        Target("server CPU per request, one worker, with / without sensitivity",
               f"{cpu['on', 1]:.1f} / {cpu['off', 1]:.1f} ms", "<= 8 / <= 3 ms",
               cpu["on", 1] <= 8 and cpu["off", 1] <= 3),
    ]


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--quick", action="store_true", help="small sizes: a smoke run")
    parser.add_argument("--only", nargs="+", choices=SECTIONS, default=list(SECTIONS))
    args = parser.parse_args()
    quick = args.quick
    print(f"# Targets\n\n{datetime.date.today().isoformat()}; {platform.machine()}, "
          f"{os.cpu_count()} cores, Python {platform.python_version()}, {sys.platform}"
          + ("; --quick sizes" if quick else "") + "\n")
    runs: dict[str, Callable[[], list[Target]]] = {
        "sensitivity": lambda: sensitivity(3 if quick else 15),
        "cold": lambda: cold_start(3 if quick else 15),
        "engine": lambda: engine_ratio(100 if quick else 1000, 3 if quick else 7),
        "rss": lambda: rss(200 if quick else 20_000),
        "batch": lambda: batch(200 if quick else 10_000, 1 if quick else 3),
        "serve": lambda: serve(2 if quick else 20, 1 if quick else 3),
    }
    targets: list[Target] = []
    for name in SECTIONS:
        if name in args.only:
            targets += runs[name]()
    print("## Every target\n")
    print("| target | measured | goal | |")
    print("|---|---|---|---|")
    for target in targets:
        verdict = "not measured" if target.met is None else "met" if target.met else "**not met**"
        print(f"| {target.what} | {target.figure} | {target.goal} | {verdict} |")
    return 0


if __name__ == "__main__":
    sys.exit(main())
