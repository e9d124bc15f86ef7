"""Benchmark: the cost of "What would change this decision" per report, on the bundled examples.

For each example, the median time of the Markdown report without the sensitivity analysis (one
evaluation) and with it, over repeated runs in one warm process; the sensitivity cost is the
difference, quoted as a multiple of one evaluation. Target: under 5x.

    python bench/sensitivity.py [--repeats 15] [--engine durable]
"""

from __future__ import annotations

import argparse
import statistics
import sys
import time

from advisor.inputs import read_requirements
from advisor.paths import examples_dir
from advisor.pipeline import Advisor
from advisor.render import render_markdown


def main() -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("--repeats", type=int, default=15)
    parser.add_argument("--engine", default="durable")
    args = parser.parse_args()

    advisor = Advisor(engine=args.engine)
    print(f"engine: {args.engine}; repeats: {args.repeats}; Python {sys.version.split()[0]}\n")
    print("| example | one evaluation ms | with sensitivity ms | sensitivity cost "
          "(x one evaluation) | re-evaluations | flips |")
    print("|---|---|---|---|---|---|")
    ratios = []
    for path in sorted(examples_dir().glob("*.yaml")):
        requirements = read_requirements(str(path))
        plain: list[float] = []
        full: list[float] = []
        for _ in range(args.repeats):
            for sensitivity, samples in ((False, plain), (True, full)):
                start = time.perf_counter()
                report = advisor.recommend(requirements, sensitivity=sensitivity)
                render_markdown(report)
                samples.append(time.perf_counter() - start)
        base, with_it = statistics.median(plain), statistics.median(full)
        ratio = (with_it - base) / base
        ratios.append(ratio)
        evaluated = sum(d.sensitivity.evaluated for d in report.decisions if d.sensitivity)
        flips = sum(len(d.sensitivity.flips) for d in report.decisions if d.sensitivity)
        print(f"| {path.stem} | {base * 1000:.2f} | {with_it * 1000:.2f} | {ratio:.2f} "
              f"| {evaluated} | {flips} |")
    print(f"\nsensitivity cost over {len(ratios)} examples: "
          f"median {statistics.median(ratios):.2f}x, max {max(ratios):.2f}x one evaluation "
          "(target: under 5x)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
