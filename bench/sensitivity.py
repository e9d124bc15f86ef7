"""Benchmark: the cost of "What would change this decision" per report, on the bundled examples.

For each example, the median CPU time (``time.process_time``) of the Markdown report without
the sensitivity analysis and with it, over repeated runs in one warm process, alternating the
two; the sensitivity cost is the difference, quoted as a multiple of the report without it.
Below the table: the median of with / without over the examples and the CPU p50 of every
report timed, beside the targets (with / without at most 2x; p50 at most 8 ms with the
analysis and 3 ms without).

    python bench/sensitivity.py [--repeats 15] [--engine durable]

The script runs against older checkouts too (through PYTHONPATH), so they can be measured
side by side.
"""

from __future__ import annotations

import argparse
import statistics
import sys
import time
from typing import Any

from advisor.inputs import read_requirements
from advisor.paths import examples_dir
from advisor.pipeline import Advisor
from advisor.render import render_markdown

TARGET_RATIO = 2.0
TARGET_WITH_MS = 8.0
TARGET_WITHOUT_MS = 3.0


def _counting(advisor: Advisor) -> list[int]:
    """Count the engine runs the advisor makes (evaluations, recorded or re-evaluations)."""
    runs = [0]
    engine: Any = advisor.engine
    for name in ("evaluate", "record", "reevaluate"):
        method = getattr(engine, name, None)
        if method is None:
            continue

        def counted(*args: Any, _method: Any = method, **kwargs: Any) -> Any:
            runs[0] += 1
            return _method(*args, **kwargs)

        setattr(engine, name, counted)
    return runs


def main() -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("--repeats", type=int, default=15)
    parser.add_argument("--engine", default="durable")
    args = parser.parse_args()

    advisor = Advisor(engine=args.engine)
    runs = _counting(advisor)
    print(f"engine: {args.engine}; repeats: {args.repeats}; Python {sys.version.split()[0]}; "
          "CPU time per Markdown report\n")
    print("| example | without sensitivity ms | with sensitivity ms | with / without "
          "| sensitivity cost (x the report without) | candidates evaluated | engine runs "
          "| flips |")
    print("|---|---|---|---|---|---|---|---|")
    costs: list[float] = []
    ratios: list[float] = []
    all_plain: list[float] = []
    all_full: list[float] = []
    for path in sorted(examples_dir().glob("*.yaml")):
        requirements = read_requirements(str(path))
        render_markdown(advisor.recommend(requirements, sensitivity=True))  # warm
        plain: list[float] = []
        full: list[float] = []
        for _ in range(args.repeats):
            for sensitivity, samples in ((False, plain), (True, full)):
                start = time.process_time()
                report = advisor.recommend(requirements, sensitivity=sensitivity)
                render_markdown(report)
                samples.append(time.process_time() - start)
        runs[0] = 0
        report = advisor.recommend(requirements, sensitivity=True)
        engine_runs = runs[0] - 1  # the report's own evaluation
        base, with_it = statistics.median(plain), statistics.median(full)
        costs.append((with_it - base) / base)
        ratios.append(with_it / base)
        all_plain.extend(plain)
        all_full.extend(full)
        evaluated = sum(d.sensitivity.evaluated for d in report.decisions if d.sensitivity)
        flips = sum(len(d.sensitivity.flips) for d in report.decisions if d.sensitivity)
        print(f"| {path.stem} | {base * 1000:.2f} | {with_it * 1000:.2f} | {with_it / base:.2f} "
              f"| {costs[-1]:.2f} | {evaluated} | {engine_runs} | {flips} |")
    ratio = statistics.median(ratios)
    with_p50 = statistics.median(all_full) * 1000
    without_p50 = statistics.median(all_plain) * 1000
    print(f"\nsensitivity cost over {len(costs)} examples: median {statistics.median(costs):.2f}x, "
          f"max {max(costs):.2f}x the report without it")
    print(f"with / without, median over the examples: {ratio:.2f}x "
          f"(target: at most {TARGET_RATIO:g}x) {_verdict(ratio <= TARGET_RATIO)}")
    print(f"CPU p50 per report over {len(all_full)} reports: with sensitivity {with_p50:.2f} ms "
          f"(target: at most {TARGET_WITH_MS:g} ms) {_verdict(with_p50 <= TARGET_WITH_MS)}; "
          f"without {without_p50:.2f} ms (target: at most {TARGET_WITHOUT_MS:g} ms) "
          f"{_verdict(without_p50 <= TARGET_WITHOUT_MS)}")
    return 0


def _verdict(met: bool) -> str:
    return "met" if met else "NOT met"


if __name__ == "__main__":
    sys.exit(main())
