"""Check that two checkouts write the same reports, byte for byte: Markdown and JSON, with the
sensitivity analysis, for every bundled example and for generated profiles, with each engine.

    PYTHONPATH=<base>/src .venv/bin/python bench/same_reports.py --write /tmp/base.json
    PYTHONPATH=<head>/src .venv/bin/python bench/same_reports.py /tmp/base.json

The first run stores a SHA-256 per report; the second renders the same reports and counts the
identical ones, naming each that differs. Exit 1 when any differs.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import random
import sys
from collections.abc import Iterator
from pathlib import Path

from advisor.catalog import load_catalog
from advisor.inputs import parse_requirements, read_requirements
from advisor.models.requirements import Requirements
from advisor.paths import examples_dir, rules_dir
from advisor.pipeline import Advisor
from advisor.render import render
from advisor.sampling import random_profiles

FORMATS = ("md", "json")


def _profiles(catalog_seed: int, count: int) -> Iterator[tuple[str, Requirements]]:
    for path in sorted(examples_dir().glob("*.yaml")):
        yield f"example:{path.stem}", read_requirements(str(path))
    catalog = load_catalog(rules_dir())
    for index, document in enumerate(random_profiles(random.Random(catalog_seed), catalog,
                                                     count)):
        yield f"generated:{index}", parse_requirements(document, f"generated[{index}]")


def _digests(engines: list[str], seed: int, count: int) -> dict[str, str]:
    out: dict[str, str] = {}
    for engine in engines:
        advisor = Advisor(engine=engine)
        for name, requirements in _profiles(seed, count):
            report = advisor.recommend(requirements, sensitivity=True)
            for form in FORMATS:
                text = render(report, form)
                out[f"{engine}:{name}:{form}"] = hashlib.sha256(text.encode()).hexdigest()
    return out


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("file", type=Path, help="the digests of the base checkout (JSON)")
    parser.add_argument("--write", action="store_true", help="write FILE from this checkout")
    parser.add_argument("--profiles", type=int, default=1000)
    parser.add_argument("--seed", type=int, default=20261207)
    parser.add_argument("--engine", action="append", choices=("durable", "python"),
                        help="an engine to check (default: both)")
    args = parser.parse_args()
    engines = args.engine or ["durable", "python"]
    digests = _digests(engines, args.seed, args.profiles)
    if args.write:
        args.file.write_text(json.dumps(digests, indent=0, sort_keys=True), encoding="utf-8")
        print(f"{len(digests)} report digests written to {args.file}")
        return 0
    expected = json.loads(args.file.read_text(encoding="utf-8"))
    differing = sorted(key for key, digest in digests.items() if expected.get(key) != digest)
    for engine in engines:
        for form in FORMATS:
            keys = [key for key in digests if key.startswith(f"{engine}:")
                    and key.endswith(f":{form}")]
            same = sum(1 for key in keys if key not in differing)
            examples = sum(1 for key in keys if ":example:" in key)
            print(f"{engine} {form}: {same} of {len(keys)} reports identical "
                  f"({examples} examples, {len(keys) - examples} generated profiles)")
    for key in differing[:20]:
        print(f"differs: {key}")
    return 1 if differing else 0


if __name__ == "__main__":
    sys.exit(main())
