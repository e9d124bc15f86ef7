"""Benchmark ``advisor batch``: N generated profiles (fixed seed) in a JSON Lines file, run with
1 and with 2 worker processes through ``run_batch`` (what the CLI calls); wall time and
profiles/s, checking one report per profile and the summary. ``--phases N`` also times where
one worker's time goes per profile (parse, recommend, render, write), in this process.

    python bench/batch.py [--profiles 10000] [--workers 1 2] [--repeats 3] [--phases 1000]
"""

from __future__ import annotations

import argparse
import json
import platform
import random
import resource
import statistics
import sys
import tempfile
import time
from pathlib import Path

from advisor.batch import run_batch
from advisor.batch_profiles import discover_profiles
from advisor.batch_worker import load_profile, settle_memory
from advisor.catalog import load_catalog
from advisor.cli_common import write_atomically
from advisor.paths import rules_dir
from advisor.pipeline import Advisor
from advisor.render import render
from advisor.sampling import random_profiles


def write_profiles(path: Path, count: int, seed: int) -> None:
    """``count`` generated requirement documents, one JSON object per line."""
    catalog = load_catalog(rules_dir())
    rng = random.Random(seed)
    with path.open("w", encoding="utf-8") as stream:
        for document in random_profiles(rng, catalog, count):
            stream.write(json.dumps(document, sort_keys=True) + "\n")


def cpu_seconds(who: int) -> float:
    usage = resource.getrusage(who)
    return usage.ru_utime + usage.ru_stime


def run_once(source: Path, out_dir: Path, workers: int,
             output_format: str) -> tuple[float, float, float]:
    """Wall time, parent CPU time and workers' CPU time of one full batch run; fails loudly
    when a report or the summary is missing."""
    parent, children = cpu_seconds(resource.RUSAGE_SELF), cpu_seconds(resource.RUSAGE_CHILDREN)
    started = time.perf_counter()
    result = run_batch(source, out_dir, workers=workers, output_format=output_format,
                       restart=True, progress=False)
    elapsed = time.perf_counter() - started
    parent = cpu_seconds(resource.RUSAGE_SELF) - parent
    children = cpu_seconds(resource.RUSAGE_CHILDREN) - children
    if result.summary is None:
        raise SystemExit("the batch was interrupted")
    reports = len(list((out_dir / "reports").glob(f"*.{output_format}")))
    totals = result.summary.totals
    if reports != result.profiles or totals.succeeded != result.profiles:
        raise SystemExit(f"{reports} reports, {totals.succeeded} succeeded, "
                         f"{result.profiles} profiles")
    for name in ("summary.md", "summary.json"):
        if not (out_dir / name).is_file():
            raise SystemExit(f"{name} missing")
    return elapsed, parent, children


def phases(source: Path, count: int, output_format: str, scratch: Path) -> None:
    """Per-profile CPU time of each step a worker takes, over the first ``count`` profiles
    (CPU time, so other load on the machine does not inflate it)."""
    advisor = Advisor(engine="durable")
    settle_memory()  # as a worker does
    steps: dict[str, list[float]] = {"parse": [], "recommend": [], "render": [], "write": []}
    for profile in discover_profiles(source)[:count]:
        t0 = time.process_time()
        requirements = load_profile(profile)
        t1 = time.process_time()
        report = advisor.recommend(requirements)
        t2 = time.process_time()
        text = render(report, output_format)
        t3 = time.process_time()
        write_atomically(scratch / f"{profile.name}.{output_format}", text)
        t4 = time.process_time()
        for name, spent in zip(steps, (t1 - t0, t2 - t1, t3 - t2, t4 - t3), strict=True):
            steps[name].append(spent)
    total = sum(sum(values) for values in steps.values())
    print(f"\nWhere one worker's time goes ({count} profiles, format {output_format}, durable):\n")
    print("| step | mean CPU ms | p50 CPU ms | share |")
    print("|---|---|---|---|")
    for name, values in steps.items():
        print(f"| {name} | {statistics.fmean(values) * 1000:.2f} "
              f"| {statistics.median(values) * 1000:.2f} | {sum(values) / total:.0%} |")
    print(f"| total | {total / count * 1000:.2f} | | |")


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--profiles", type=int, default=10_000)
    parser.add_argument("--workers", type=int, nargs="+", default=[1, 2])
    parser.add_argument("--repeats", type=int, default=1)
    parser.add_argument("--format", choices=("md", "json"), default="md")
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument("--phases", type=int, default=0, metavar="N",
                        help="also time parse/recommend/render/write over N profiles")
    args = parser.parse_args()

    with tempfile.TemporaryDirectory(prefix="advisor-bench-batch-") as scratch:
        root = Path(scratch)
        source = root / "profiles.jsonl"
        write_profiles(source, args.profiles, args.seed)
        print(f"machine: {platform.machine()}, Python {platform.python_version()}, "
              f"{sys.platform}; profiles: {args.profiles} (seed {args.seed}); format: "
              f"{args.format}; repeats: {args.repeats}\n")
        print("| workers | wall s (median) | wall s (all runs) | profiles/s | parent CPU s "
              "| workers' CPU s | workers' CPU ms per profile |")
        print("|---|---|---|---|---|---|---|")
        for workers in args.workers:
            runs = [run_once(source, root / f"out-{workers}", workers, args.format)
                    for _ in range(args.repeats)]
            median = statistics.median(wall for wall, _, _ in runs)
            parent = statistics.median(cpu for _, cpu, _ in runs)
            children = statistics.median(cpu for _, _, cpu in runs)
            print(f"| {workers} | {median:.1f} | {', '.join(f'{run[0]:.1f}' for run in runs)} "
                  f"| {args.profiles / median:,.0f} | {parent:.1f} | {children:.1f} "
                  f"| {children / args.profiles * 1000:.2f} |", flush=True)
        if args.phases:
            (root / "phases").mkdir()
            phases(source, args.phases, args.format, root / "phases")
    return 0


if __name__ == "__main__":
    sys.exit(main())
