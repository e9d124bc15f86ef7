"""CPU time per Markdown report on a fixed set of requirement profiles, so two rule sets (or two
commits, each run from its own checkout through PYTHONPATH) are compared on equal input.

    .venv/bin/python bench/same_profiles.py --write /tmp/profiles.json   # generate once
    .venv/bin/python bench/same_profiles.py /tmp/profiles.json   # measure; alternate checkouts

``bench/run.py`` generates its profiles from the catalogue it measures, so a rule set that adds
inputs also changes the profiles; this script keeps them fixed. A profile the measured rule set
cannot read is an error, not a skip.
"""

from __future__ import annotations

import argparse
import json
import random
import statistics
import sys
import time
from pathlib import Path

from advisor.catalog import load_catalog
from advisor.inputs import InputError, parse_requirements
from advisor.paths import rules_dir
from advisor.pipeline import Advisor
from advisor.render import render_markdown
from advisor.sampling import random_profiles


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("file", type=Path, help="JSON list of requirement documents")
    parser.add_argument("--write", action="store_true",
                        help="generate the profiles from the current catalogue into FILE")
    parser.add_argument("--profiles", type=int, default=600)
    parser.add_argument("--engine", default="durable", choices=("durable", "python"))
    parser.add_argument("--passes", type=int, default=2)
    args = parser.parse_args()
    if args.profiles < 1 or args.passes < 1:
        parser.error("--profiles and --passes must be at least 1")

    catalog = load_catalog(rules_dir())
    if args.write:
        rng = random.Random(7)
        documents = list(random_profiles(rng, catalog, args.profiles))
        args.file.write_text(json.dumps(documents), encoding="utf-8")
        print(f"{len(documents)} profiles written to {args.file}")
        return 0
    try:
        documents = json.loads(args.file.read_text(encoding="utf-8"))
        if not isinstance(documents, list) or not documents:
            raise ValueError("expected a non-empty JSON list of requirement documents")
        requirements = [parse_requirements(document, f"{args.file}[{index}]")
                        for index, document in enumerate(documents)]
    except InputError as error:
        print("\n".join(error.problems), file=sys.stderr)
        return 2
    except (OSError, ValueError) as error:  # ValueError covers malformed JSON
        print(f"{args.file}: {error}", file=sys.stderr)
        return 2
    advisor = Advisor(engine=args.engine, catalog=catalog)
    for item in requirements[:100]:  # warm-up: templates compiled, shared pieces cached
        render_markdown(advisor.recommend(item))
    latencies = []
    for _ in range(args.passes):
        for item in requirements:
            started = time.process_time()
            render_markdown(advisor.recommend(item))
            latencies.append(time.process_time() - started)
    print(f"{len(catalog.rules)} rules, {len(requirements)} profiles x {args.passes}, "
          f"{args.engine}: end-to-end CPU p50 {statistics.median(latencies) * 1000:.2f} ms, "
          f"mean {statistics.mean(latencies) * 1000:.2f} ms")
    return 0


if __name__ == "__main__":
    sys.exit(main())
