"""Benchmark: engine-only and end-to-end speed per backend, CLI cold start, memory over many
evaluations. Prints a Markdown table; medians and percentiles over repeated runs.

    python bench/run.py [--profiles 1000] [--repeats 5] [--memory-evaluations 100000]
"""

from __future__ import annotations

import argparse
import gc
import json
import os
import platform
import random
import resource
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from advisor.catalog import load_catalog
from advisor.facts import build_facts
from advisor.inputs import parse_requirements
from advisor.paths import rules_dir
from advisor.pipeline import Advisor
from advisor.ranking import choose_winners
from advisor.render import render_json, render_markdown
from advisor.sampling import random_profiles

ROOT = Path(__file__).resolve().parent.parent


def percentile(values: list[float], share: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(share * len(ordered)))]


def rss_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def main() -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("--profiles", type=int, default=1000)
    parser.add_argument("--repeats", type=int, default=5)
    parser.add_argument("--memory-evaluations", type=int, default=100_000)
    args = parser.parse_args()

    catalog = load_catalog(rules_dir())
    rng = random.Random(7)
    documents = list(random_profiles(rng, catalog, args.profiles))
    requirements = [parse_requirements(document) for document in documents]
    facts = [build_facts(item) for item in requirements]
    advisors = {name: Advisor(engine=name, catalog=catalog) for name in ("durable", "python")}

    print(f"machine: {platform.machine()}, {platform.processor() or 'cpu'}, "
          f"Python {platform.python_version()}, {sys.platform}")
    print(f"rules: {len(catalog.rules)}; profiles: {args.profiles}; repeats: {args.repeats}\n")
    print("| backend | engine-only eval/s (median) | engine p50 ms | engine p99 ms "
          "| end-to-end p50 ms | end-to-end p99 ms |")
    print("|---|---|---|---|---|---|")
    for name, advisor in advisors.items():
        rates, engine_latencies, e2e_latencies = [], [], []
        for _ in range(args.repeats):
            start = time.perf_counter()
            for item in facts:
                t0 = time.perf_counter()
                advisor.engine.evaluate(item, choose_winners)
                engine_latencies.append(time.perf_counter() - t0)
            rates.append(len(facts) / (time.perf_counter() - start))
            for item in requirements:
                t0 = time.perf_counter()
                render_markdown(advisor.recommend(item))
                e2e_latencies.append(time.perf_counter() - t0)
        print(f"| {name} | {statistics.median(rates):,.0f} "
              f"| {percentile(engine_latencies, 0.5) * 1000:.3f} "
              f"| {percentile(engine_latencies, 0.99) * 1000:.3f} "
              f"| {percentile(e2e_latencies, 0.5) * 1000:.3f} "
              f"| {percentile(e2e_latencies, 0.99) * 1000:.3f} |")

    # JSON rendering: pydantic's serializer (what render_json uses) beside the standard
    # library's encoder of the same data, interleaved, CPU time per report.
    reports = [advisors["durable"].recommend(item) for item in requirements[:200]]
    ours, stdlib = [], []
    for _ in range(args.repeats):
        for report in reports:
            t0 = time.process_time()
            render_json(report)
            ours.append(time.process_time() - t0)
            t0 = time.process_time()
            json.dumps(report.model_dump(mode="json"), indent=2, ensure_ascii=False)
            stdlib.append(time.process_time() - t0)
    print(f"\nJSON rendering, CPU per report over {len(reports)} reports: render_json median "
          f"{statistics.median(ours) * 1000:.2f} ms, json.dumps of model_dump median "
          f"{statistics.median(stdlib) * 1000:.2f} ms "
          f"({statistics.median(stdlib) / statistics.median(ours):.1f}x)")

    command = [sys.executable, "-m", "advisor", "recommend",
               str(ROOT / "examples" / "three-tier-web-app.yaml")]
    with tempfile.TemporaryDirectory() as cache:
        timings: dict[str, list[float]] = {"no cache": [], "warm cache": []}
        for label, setting in (("no cache", "off"), ("warm cache", cache)):
            environment = {**os.environ, "ADVISOR_CACHE_DIR": setting}
            subprocess.run(command, check=True, capture_output=True, env=environment)
            for _ in range(args.repeats):
                t0 = time.perf_counter()
                subprocess.run(command, check=True, capture_output=True, env=environment)
                timings[label].append(time.perf_counter() - t0)
    print("\nCLI cold start (`advisor recommend examples/three-tier-web-app.yaml`, whole process):")
    for label, values in timings.items():
        print(f"- {label}: median {statistics.median(values) * 1000:.0f} ms, "
              f"min {min(values) * 1000:.0f} ms")

    durable = advisors["durable"]
    checkpoints = []
    gc.collect()
    for index in range(args.memory_evaluations):
        durable.engine.evaluate(facts[index % len(facts)], choose_winners)
        if index % (args.memory_evaluations // 5) == 0:
            checkpoints.append(rss_mb())
    checkpoints.append(rss_mb())
    print(f"\nMemory, {args.memory_evaluations:,} durable evaluations in one process: max RSS "
          + " -> ".join(f"{value:.1f}" for value in checkpoints) + " MB")
    return 0


if __name__ == "__main__":
    sys.exit(main())
