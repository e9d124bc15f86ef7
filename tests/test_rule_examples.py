"""Every rule's declared examples behave as declared, on both backends, and every clause of
every rule is necessary: making any one clause false silences the rule."""

from __future__ import annotations

from typing import Any

import pytest

from advisor.catalog import DECISION_PREFIX, Catalog, load_catalog
from advisor.engine.base import CompiledRule, compile_rules
from advisor.engine.durable import DurableEngine
from advisor.engine.reference import ReferenceEngine, clause_holds
from advisor.facts import FactSpec, FactValue, build_facts
from advisor.inputs import parse_requirements
from advisor.models.rule import Operator
from advisor.paths import rules_dir
from advisor.pipeline import Advisor

_CATALOG = load_catalog(rules_dir())


def _cases() -> list[Any]:
    cases = []
    for rule in _CATALOG.rules:
        for outcome in ("fires", "silent"):
            for example in getattr(rule.examples, outcome):
                cases.append(pytest.param(rule.id, outcome, example.name,
                                          id=f"{rule.id}-{outcome}-{example.name}"))
    return cases


def _example(rule_id: str, outcome: str, name: str) -> dict[str, Any]:
    rule = _CATALOG.rule(rule_id)
    return next(e.requirements for e in getattr(rule.examples, outcome) if e.name == name)


@pytest.mark.parametrize(("rule_id", "outcome", "name"), _cases())
@pytest.mark.parametrize("engine", ["python", "durable"])
def test_example_behaves_as_declared(
    advisors: dict[str, Advisor], engine: str, rule_id: str, outcome: str, name: str
) -> None:
    requirements = parse_requirements(_example(rule_id, outcome, name))
    report = advisors[engine].recommend(requirements)
    fired = any(firing.rule_id == rule_id for firing in report.trace)
    assert fired == (outcome == "fires")


def _round_facts(reference: Advisor, rule: CompiledRule, requirements: Any) -> dict[str, FactValue]:
    """The facts the rule's round sees: requirements plus decisions of earlier rounds."""
    report = reference.recommend(requirements)
    facts: dict[str, FactValue] = dict(build_facts(requirements))
    for decision in report.decisions:
        if decision.round < rule.round:
            facts[f"{DECISION_PREFIX}{decision.slot}"] = decision.component
    return facts


def _falsify(spec: FactSpec, op: Operator, operand: Any, facts: dict[str, FactValue],
             fact: str) -> dict[str, FactValue] | None:
    """A copy of ``facts`` in which the clause is false, or None if no value can make it so."""
    out = dict(facts)
    if op is Operator.exists:
        if operand:
            out.pop(fact, None)
        else:
            out[fact] = {"bool": True, "number": 1.0}.get(spec.type, spec.values[0] if spec.values else "x")
        return out
    if op is Operator.equals:
        if spec.type == "bool":
            out[fact] = not operand
        elif spec.type == "number":
            out[fact] = float(operand) + 1
        else:
            others = [value for value in spec.values if value != operand]
            if not others:
                return None
            out[fact] = others[0]
        return out
    if op is Operator.not_equals:
        out[fact] = operand
        return out
    if op is Operator.one_of:
        if spec.type == "number":
            out[fact] = max(float(item) for item in operand) + 1
            return out
        others = [value for value in spec.values if value not in operand]
        if not others:
            return None
        out[fact] = others[0]
        return out
    if op is Operator.contains:
        current = facts.get(fact, ())
        assert isinstance(current, tuple)
        out[fact] = tuple(item for item in current if item != operand)
        return out
    threshold = float(operand)
    out[fact] = {Operator.gt: threshold, Operator.gte: threshold - 1,
                 Operator.lt: threshold, Operator.lte: threshold + 1}[op]
    return out


_COMPILED = compile_rules(_CATALOG)
_BY_ID = {rule.id: rule for group in _COMPILED.rounds for rule in group}


def _necessity_cases() -> list[Any]:
    cases = []
    for rule in _CATALOG.rules:
        for example in rule.examples.fires:
            for index, clause in enumerate(rule.when):
                cases.append(pytest.param(rule.id, example.name, index,
                                          id=f"{rule.id}-{example.name}-clause{index}-{clause.fact}"))
    return cases


@pytest.fixture(scope="module")
def matchers(catalog: Catalog) -> dict[str, Any]:
    compiled = compile_rules(catalog)
    return {"python": ReferenceEngine(compiled), "durable": DurableEngine(compiled)}


@pytest.mark.parametrize(("rule_id", "name", "index"), _necessity_cases())
def test_each_clause_is_necessary(
    reference: Advisor, catalog: Catalog, matchers: dict[str, Any],
    rule_id: str, name: str, index: int,
) -> None:
    rule = _BY_ID[rule_id]
    requirements = parse_requirements(_example(rule_id, "fires", name))
    facts = _round_facts(reference, rule, requirements)
    assert all(clause_holds(clause, facts) for clause in rule.clauses)
    clause = rule.clauses[index]
    falsified = _falsify(catalog.facts[clause.fact], clause.operator, clause.operand, facts,
                         clause.fact)
    if falsified is None:
        pytest.fail(f"{rule_id}: clause {index} on {clause.fact} cannot be made false; "
                    "it tests every possible value and is redundant")
    assert not clause_holds(clause, falsified)
    for engine_name, engine in matchers.items():
        fired = {firing.rule_id for firing in engine.match_round(rule.round, facts)}
        assert rule_id in fired, f"{engine_name}: rule does not fire on its own example"
        fired = {firing.rule_id for firing in engine.match_round(rule.round, falsified)}
        assert rule_id not in fired, (
            f"{engine_name}: {rule_id} still fires with clause {index} ({clause.fact}) false"
        )


_THRESHOLD_OPERATORS = (Operator.gt, Operator.gte, Operator.lt, Operator.lte)


def _step(spec: FactSpec) -> float:
    """The smallest move a threshold is pinned against: 1 on a whole-number fact, else 0.01."""
    return 1 if spec.integer else 0.01


def _threshold_cases() -> list[Any]:
    return [pytest.param(rule.id, index, id=f"{rule.id}-{index}-{clause.fact}")
            for rule in _CATALOG.rules for index, clause in enumerate(rule.when)
            if clause.operator in _THRESHOLD_OPERATORS
            and not clause.fact.startswith(DECISION_PREFIX)]


@pytest.mark.parametrize(("rule_id", "index"), _threshold_cases())
def test_every_threshold_has_examples_one_step_either_side(rule_id: str, index: int) -> None:
    """A moved threshold must fail a test: the rule's own examples hold a value that fires at
    the threshold's edge and one a step past it that does not (and test_example_behaves_as_
    declared runs them)."""
    rule = _CATALOG.rule(rule_id)
    clause = rule.when[index]
    threshold, step = clause.operand, _step(_CATALOG.facts[clause.fact])
    inside = {Operator.gt: threshold + step, Operator.gte: threshold,
              Operator.lt: threshold - step, Operator.lte: threshold}[clause.operator]
    outside = {Operator.gt: threshold, Operator.gte: threshold - step,
               Operator.lt: threshold, Operator.lte: threshold + step}[clause.operator]

    def values(outcome: str) -> list[float]:
        found = []
        for example in getattr(rule.examples, outcome):
            value = build_facts(parse_requirements(example.requirements)).get(clause.fact)
            if isinstance(value, int | float) and not isinstance(value, bool):
                found.append(value)
        return found

    assert any(abs(value - inside) < 1e-9 for value in values("fires")), (
        f"{rule_id}: no 'fires' example with {clause.fact} = {inside} "
        f"({clause.operator.value} {threshold})")
    assert any(abs(value - outside) < 1e-9 for value in values("silent")), (
        f"{rule_id}: no 'silent' example with {clause.fact} = {outside} "
        f"({clause.operator.value} {threshold})")
