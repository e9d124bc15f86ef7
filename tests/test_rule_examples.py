"""Every rule's declared examples behave as declared, on both backends; every clause of every
rule is necessary: making any one clause false silences the rule; and every exception
(``unless``) is honoured: making any one hold silences the rule, and an example shows it."""

from __future__ import annotations

from typing import Any

import pytest

from advisor.catalog import DECISION_PREFIX, Catalog, load_catalog
from advisor.engine.base import CompiledRule, apply_exceptions, compile_rules
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


def _satisfy(spec: FactSpec, op: Operator, operand: Any, facts: dict[str, FactValue],
             fact: str) -> dict[str, FactValue]:
    """A copy of ``facts`` in which the clause holds."""
    out = dict(facts)
    if op is Operator.exists:
        if operand:
            out[fact] = {"bool": True, "number": 1.0}.get(spec.type, spec.values[0] if spec.values else "x")
        else:
            out.pop(fact, None)
    elif op is Operator.equals:
        out[fact] = operand
    elif op is Operator.not_equals:
        out[fact] = (not operand if spec.type == "bool" else float(operand) + 1
                     if spec.type == "number" else
                     next(value for value in spec.values if value != operand))
    elif op is Operator.one_of:
        out[fact] = operand[0]
    elif op is Operator.contains:
        current = facts.get(fact, ())
        assert isinstance(current, tuple)
        out[fact] = (*current, operand)
    else:
        threshold = float(operand)
        out[fact] = {Operator.gt: threshold + 1, Operator.gte: threshold,
                     Operator.lt: threshold - 1, Operator.lte: threshold}[op]
    return out


def _exception_cases() -> list[Any]:
    return [pytest.param(rule.id, example.name, index,
                         id=f"{rule.id}-{example.name}-unless{index}-{clause.fact}")
            for rule in _CATALOG.rules for example in rule.examples.fires
            for index, clause in enumerate(rule.unless)]


@pytest.mark.parametrize(("rule_id", "name", "index"), _exception_cases())
def test_each_exception_silences_the_rule(
    reference: Advisor, catalog: Catalog, matchers: dict[str, Any],
    rule_id: str, name: str, index: int,
) -> None:
    """A rule never fires while one of its own exceptions holds, on either backend."""
    rule = _BY_ID[rule_id]
    exception = catalog.rule(rule_id).unless[index]
    requirements = parse_requirements(_example(rule_id, "fires", name))
    facts = _round_facts(reference, rule, requirements)
    excepted = _satisfy(catalog.facts[exception.fact], exception.operator,
                        exception.operand, facts, exception.fact)
    for engine_name, engine in matchers.items():
        fired, _ = apply_exceptions(engine.match_round(rule.round, facts))
        assert rule_id in {firing.rule_id for firing in fired}, (
            f"{engine_name}: rule does not fire on its own example")
        fired, withheld = apply_exceptions(engine.match_round(rule.round, excepted))
        assert rule_id not in {firing.rule_id for firing in fired}, (
            f"{engine_name}: {rule_id} fires while its exception on {exception.fact} holds")
        assert rule_id in {firing.rule_id for firing in withheld}


def _exception_example_cases() -> list[Any]:
    return [pytest.param(rule.id, index, id=f"{rule.id}-unless{index}-{clause.fact}")
            for rule in _CATALOG.rules for index, clause in enumerate(rule.unless)]


@pytest.mark.parametrize(("rule_id", "index"), _exception_example_cases())
def test_every_exception_has_a_silent_example(reference: Advisor, rule_id: str,
                                              index: int) -> None:
    """A 'silent' example shows each exception at work: the rule's conditions hold, the
    exception holds, and the report lists the rule as set aside because of it."""
    rule = _CATALOG.rule(rule_id)
    fact = rule.unless[index].fact
    shown = []
    for example in rule.examples.silent:
        report = reference.recommend(parse_requirements(example.requirements))
        shown.extend(example.name for item in report.excepted if item.rule_id == rule_id
                     and any(evidence.fact == fact for evidence in item.exceptions))
    assert shown, f"{rule_id}: no 'silent' example in which exception {index} ({fact}) sets it aside"


_THRESHOLD_OPERATORS = (Operator.gt, Operator.gte, Operator.lt, Operator.lte)


def _step(spec: FactSpec) -> float:
    """The smallest move a threshold is pinned against: 1 on a whole-number fact, else 0.01."""
    return 1 if spec.integer else 0.01


def _threshold_cases() -> list[Any]:
    return [pytest.param(rule.id, part, index, id=f"{rule.id}-{part}{index}-{clause.fact}")
            for rule in _CATALOG.rules for part in ("when", "unless")
            for index, clause in enumerate(getattr(rule, part))
            if clause.operator in _THRESHOLD_OPERATORS
            and not clause.fact.startswith(DECISION_PREFIX)]


@pytest.mark.parametrize(("rule_id", "part", "index"), _threshold_cases())
def test_every_threshold_has_examples_one_step_either_side(rule_id: str, part: str,
                                                           index: int) -> None:
    """A moved threshold must fail a test: the rule's own examples hold a value that fires at
    the threshold's edge and one a step past it that does not (and test_example_behaves_as_
    declared runs them). For an exception the sides swap: at its edge the rule is set aside."""
    rule = _CATALOG.rule(rule_id)
    clause = getattr(rule, part)[index]
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

    holding, failing = ("fires", "silent") if part == "when" else ("silent", "fires")
    assert any(abs(value - inside) < 1e-9 for value in values(holding)), (
        f"{rule_id}: no '{holding}' example with {clause.fact} = {inside} "
        f"({part}: {clause.operator.value} {threshold})")
    assert any(abs(value - outside) < 1e-9 for value in values(failing)), (
        f"{rule_id}: no '{failing}' example with {clause.fact} = {outside} "
        f"({part}: {clause.operator.value} {threshold})")
