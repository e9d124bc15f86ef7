"""Re-evaluation from a recorded evaluation (``RuleEngine.reevaluate``) is exact: for changed
profiles, small changes and large, it gives the trace a full evaluation gives, with both
backends; restricted to a slot, it gives that slot's decision and the firings of every rule the
decision depends on as a full evaluation has them."""

from __future__ import annotations

import itertools
import random
from collections.abc import Iterator
from typing import Any

import pytest

from advisor.catalog import Catalog
from advisor.engine.base import (
    Recorded,
    RuleEngine,
    RuleIndex,
    Trace,
    compile_rules,
    differing_facts,
)
from advisor.engine.durable import (
    AGAIN_RULES,
    PROPERTY_LIMIT,
    DurableEngine,
    fact_properties,
    ruleset_size,
)
from advisor.facts import build_facts
from advisor.inputs import InputError, parse_requirements, read_requirements
from advisor.models.requirements import Requirements
from advisor.pipeline import Advisor
from advisor.ranking import ranking_for
from advisor.sampling import consistent, random_profiles
from support import example_files


def _changed(rng: random.Random, document: dict[str, Any],
             donor: dict[str, Any]) -> dict[str, Any]:
    """``document`` with one to three fields taken from ``donor`` or left out, the way a
    sensitivity candidate changes a few requirements."""
    changed = {section: dict(fields) for section, fields in document.items()}
    fields = sorted({(section, name) for part in (document, donor)
                     for section, values in part.items() for name in values})
    for section, name in rng.sample(fields, min(len(fields), rng.randint(1, 3))):
        if name in donor.get(section, {}) and rng.random() < 0.8:
            changed.setdefault(section, {})[name] = donor[section][name]
        else:
            changed.get(section, {}).pop(name, None)
    return consistent(changed)


def _pairs(catalog: Catalog, seed: int, count: int) -> Iterator[tuple[Requirements, Requirements]]:
    """Generated profiles, each with a few changed versions of itself and one unrelated
    profile."""
    rng = random.Random(seed)
    documents = list(random_profiles(rng, catalog, count + 1))
    for document, donor in itertools.pairwise(documents):
        base = parse_requirements(document)
        for _ in range(4):
            try:
                yield base, parse_requirements(_changed(rng, document, donor))
            except InputError:  # a constraint left naming a part no longer given
                continue
        yield base, parse_requirements(donor)


def _restricted(full: Trace, wanted: frozenset[str]) -> tuple[Any, ...]:
    return (tuple(firing for firing in full.firings if firing.rule_id in wanted),
            tuple(firing for firing in full.excepted if firing.rule_id in wanted))


def _compare(catalog: Catalog, engine: RuleEngine, index: RuleIndex,
             pairs: Iterator[tuple[Requirements, Requirements]], slot_rng: random.Random) -> int:
    compared = 0
    recorded: tuple[Requirements, Recorded] | None = None
    for base, changed in pairs:
        if recorded is None or recorded[0] is not base:
            choose = ranking_for(catalog, base).choose
            recorded = (base, engine.record(build_facts(base), choose))
            assert recorded[1].trace == engine.evaluate(build_facts(base), choose)
        record = recorded[1]
        facts = build_facts(changed)
        choose = ranking_for(catalog, changed).choose
        for rounds in (None, slot_rng.randint(1, len(record.matches))):
            full = engine.evaluate(facts, choose, rounds)
            assert engine.reevaluate(record, facts, choose, rounds) == full
            decided = sorted(full.decisions) or ["none-decided"]
            for slot in slot_rng.sample(decided, min(3, len(decided))):
                part = engine.reevaluate(record, facts, choose, rounds, [slot])
                wanted = index.deciding([slot])
                assert _restricted(part, wanted) == _restricted(full, wanted), slot
                assert part.decisions.get(slot) == full.decisions.get(slot), slot
                assert part.decisions.items() <= full.decisions.items()
            compared += 1
    return compared


@pytest.fixture(scope="module")
def engines(catalog: Catalog, advisors: dict[str, Advisor]) -> dict[str, RuleEngine]:
    """Both backends, and durable without its fact prefilter."""
    unfiltered = DurableEngine(advisors["python"].compiled, prefilter=False)
    return {"python": advisors["python"].engine, "durable": advisors["durable"].engine,
            "durable-unfiltered": unfiltered}


@pytest.mark.parametrize("name", ["python", "durable"])
def test_reevaluation_equals_full_evaluation_on_generated_changes(
    catalog: Catalog, engines: dict[str, RuleEngine], name: str
) -> None:
    index = RuleIndex(compile_rules(catalog))
    compared = _compare(catalog, engines[name], index, _pairs(catalog, 20261207, 60),
                        random.Random(1))
    assert compared > 2 * 250


def test_reevaluation_without_the_prefilter_equals_full_evaluation(
    catalog: Catalog, engines: dict[str, RuleEngine]
) -> None:
    # Sparse profiles: durable unfiltered sends every fact to every ruleset, and dense ones carry
    # more properties than the core takes (test_differential.py).
    rng = random.Random(3)
    documents = [consistent({section: dict(list(fields.items())[:2])
                             for section, fields in document.items()})
                 for document in random_profiles(rng, catalog, 16)]
    pairs = ((parse_requirements(first), parse_requirements(second))
             for first, second in itertools.pairwise(documents))
    index = RuleIndex(compile_rules(catalog))
    assert _compare(catalog, engines["durable-unfiltered"], index, pairs, rng) == 2 * 15


@pytest.mark.parametrize("name", ["python", "durable"])
def test_reevaluating_a_flip_of_every_example_equals_full_evaluation(
    catalog: Catalog, advisors: dict[str, Advisor], engines: dict[str, RuleEngine], name: str
) -> None:
    # The changes the sensitivity analysis makes: each reported flip, applied to its example.
    advisor = advisors["python"]
    index = RuleIndex(compile_rules(catalog))
    rng = random.Random(7)
    pairs = []
    for path in example_files():
        base = read_requirements(str(path))
        report = advisor.recommend(base, sensitivity=True)
        document = base.model_dump(mode="json", exclude_none=True)
        for decision in report.decisions:
            assert decision.sensitivity is not None
            for flip in decision.sensitivity.flips:
                changed = {section: dict(fields) for section, fields in document.items()}
                for change in flip.changes:
                    section, field = change.fact.split(".", 1)
                    changed.setdefault(section, {})[field] = change.after
                pairs.append((base, parse_requirements(changed)))
    assert len(pairs) > 300
    assert _compare(catalog, engines[name], index, iter(pairs), rng) == 2 * len(pairs)


@pytest.mark.parametrize("name", ["python", "durable"])
def test_reevaluating_every_rule_example_from_an_empty_profile_equals_full_evaluation(
    catalog: Catalog, engines: dict[str, RuleEngine], name: str
) -> None:
    # Every rule is matched again over a profile that makes it fire, so every clause form
    # (set members, exceptions, decisions of earlier rounds) is matched from what the
    # re-evaluation sends the backend, not from what the recorded evaluation saw.
    empty = parse_requirements({})
    index = RuleIndex(compile_rules(catalog))
    pairs = [(empty, parse_requirements(rule.examples.fires[0].requirements))
             for rule in catalog.rules]
    assert _compare(catalog, engines[name], index, iter(pairs), random.Random(5)) == 2 * len(
        pairs)


def test_differing_facts_tells_values_of_another_type_apart() -> None:
    assert differing_facts({"a": 1, "b": True, "c": "x"}, {"a": 1, "b": True, "c": "x"}) == set()
    assert differing_facts({"a": 1, "b": 1}, {"a": 1.5, "b": True}) == {"a", "b"}
    assert differing_facts({"a": 1, "gone": 2}, {"a": 1, "new": ("x",)}) == {"gone", "new"}


def test_rules_deciding_a_slot_include_those_of_the_slots_it_reads(catalog: Catalog) -> None:
    compiled = compile_rules(catalog)
    index = RuleIndex(compiled)
    by_id = {rule.id: rule for group in compiled.rounds for rule in group}
    for slot in sorted({rule.slot for rule in catalog.rules if rule.slot}):
        wanted = index.deciding([slot])
        own = {rule.id for rule in catalog.rules_for_slot(slot)}
        assert own <= wanted
        for rule_id in wanted:
            target = rule_id.partition("~unless-")[0]
            assert target in wanted  # a guard comes with its rule
            for clause in by_id[rule_id].clauses:
                read = clause.fact.removeprefix("decision.")
                if read != clause.fact:
                    assert {rule.id for rule in catalog.rules_for_slot(read)} <= wanted


def test_rulesets_for_matching_again_are_within_the_core_limits(
    engines: dict[str, RuleEngine]
) -> None:
    # They are pieces of the evaluation's rulesets, which the packer keeps within the limits;
    # a piece's alpha network and fact are parts of the whole's, so they must be within too.
    engine = engines["durable"]
    assert isinstance(engine, DurableEngine)
    pieces = engine.rulesets_for_matching_again()
    assert sum(len(piece) for piece in pieces) == sum(
        len(ruleset["rules"]) for ruleset in engine.describe_rulesets())
    for piece in pieces:
        assert 0 < len(piece) <= AGAIN_RULES
        assert not ruleset_size(piece).problems(), [rule.id for rule in piece]
        assert fact_properties(piece) <= PROPERTY_LIMIT
