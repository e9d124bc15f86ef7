"""Generated requirement profiles for differential tests and benchmarks.

Numbers are drawn around the thresholds the rules actually test, so generated profiles cross
every boundary the knowledge base knows about.
"""

from __future__ import annotations

import random
from collections import Counter
from collections.abc import Iterator
from typing import Any

from advisor.catalog import Catalog
from advisor.facts import FactSpec, requirement_fact_specs
from advisor.inputs import InputError, parse_requirements
from advisor.models.rule import Operator

_NUMERIC = {Operator.gt, Operator.gte, Operator.lt, Operator.lte, Operator.equals,
            Operator.not_equals}


def numeric_thresholds(catalog: Catalog) -> dict[str, list[float]]:
    """For each numeric requirement fact, the sorted thresholds rule clauses compare it with."""
    found: dict[str, set[float]] = {}
    specs = requirement_fact_specs()
    for rule in catalog.rules:
        for clause in rule.when:
            spec = specs.get(clause.fact)
            if spec is None or spec.type != "number":
                continue
            if clause.operator in _NUMERIC:
                found.setdefault(clause.fact, set()).add(float(clause.operand))
            elif clause.operator is Operator.one_of:
                found.setdefault(clause.fact, set()).update(float(v) for v in clause.operand)
    return {fact: sorted(values) for fact, values in sorted(found.items())}


def _within(spec: FactSpec, value: float) -> float | int:
    """``value`` moved inside the field's allowed range, whole if the field is an integer."""
    if spec.minimum is not None:
        floor = spec.minimum + (1 if spec.integer else 0.1) * spec.minimum_exclusive
        value = max(value, floor)
    if spec.maximum is not None:
        value = min(value, spec.maximum)
    return round(value) if spec.integer else round(value, 3)


def _number(rng: random.Random, spec: FactSpec, thresholds: list[float]) -> float | int:
    if thresholds and rng.random() < 0.8:
        base = rng.choice(thresholds)
        value = max(0.0, base + rng.choice([-1.0, -0.5, 0.0, 0.5, 1.0]) * max(1.0, base * 0.1))
    else:
        value = rng.choice([0.0, 0.5, 1.0, 2.0, 3.0, 10.0, 100.0, 1000.0, 50000.0])
    return _within(spec, value)


def _value(rng: random.Random, spec: FactSpec, thresholds: list[float]) -> Any:
    if spec.type == "bool":
        return rng.random() < 0.5
    if spec.type == "enum":
        return rng.choice(spec.values)
    if spec.type == "set":
        return sorted(rng.sample(spec.values, rng.randint(0, min(2, len(spec.values)))))
    return _number(rng, spec, thresholds)


# How many of the fields a generated profile gives, drawn per profile: sparse, half, nearly all.
PROFILE_DENSITIES = (0.3, 0.6, 0.9)


def random_profiles(rng: random.Random, catalog: Catalog, count: int) -> Iterator[dict[str, Any]]:
    """``count`` random requirements documents, each giving a share of the fields drawn from
    ``PROFILE_DENSITIES`` (the benchmarks' and the differential test's mix)."""
    for _ in range(count):
        yield random_requirements(rng, catalog, rng.choice(PROFILE_DENSITIES))


def random_requirements(rng: random.Random, catalog: Catalog,
                        known_share: float = 0.5) -> dict[str, Any]:
    """A random valid requirements document; each field is given with probability
    ``known_share``, then fields that contradict another are left out."""
    thresholds = numeric_thresholds(catalog)
    document: dict[str, dict[str, Any]] = {}
    for name, spec in requirement_fact_specs().items():
        if rng.random() >= known_share:
            continue
        section, field = name.split(".", 1)
        document.setdefault(section, {})[field] = _value(rng, spec, thresholds.get(name, []))
    return consistent(document)


def consistent(document: dict[str, dict[str, Any]]) -> dict[str, dict[str, Any]]:
    """``document`` without the fields the cross-field checks find contradicting another."""
    while True:
        try:
            parse_requirements(document)
        except InputError as error:
            fields = {problem.field[:2] for problem in error.details
                      if problem.field is not None and len(problem.field) >= 2}
            if not fields:
                raise
            for section, field in fields:
                document.get(str(section), {}).pop(str(field), None)
            continue
        return document


def max_match_requirements(catalog: Catalog) -> dict[str, Any]:
    """A profile that satisfies as many clauses as possible at once: every numeric fact is set
    past the most thresholds, every flag and enum to the value most rules test for."""
    specs = requirement_fact_specs()
    thresholds = numeric_thresholds(catalog)
    votes: dict[str, Counter[Any]] = {}
    for rule in catalog.rules:
        for clause in rule.when:
            spec = specs.get(clause.fact)
            if spec is None or spec.type == "number":
                continue
            counter = votes.setdefault(clause.fact, Counter())
            if clause.operator is Operator.equals:
                counter[clause.operand] += 1
            elif clause.operator is Operator.one_of:
                for value in clause.operand:
                    counter[value] += 1
            elif clause.operator is Operator.contains:
                counter[("member", clause.operand)] += 1
    document: dict[str, dict[str, Any]] = {}
    for name, spec in specs.items():
        section, field = name.split(".", 1)
        if spec.type == "number":
            limits = thresholds.get(name, [])
            number = _within(spec, (max(limits) + 1) if limits else 2)
            document.setdefault(section, {})[field] = number
        elif spec.type == "set":
            document.setdefault(section, {})[field] = list(spec.values)
        else:
            tally = votes.get(name)
            if tally:
                document.setdefault(section, {})[field] = tally.most_common(1)[0][0]
            elif spec.type == "bool":
                document.setdefault(section, {})[field] = True
    return consistent(document)
