"""Firings -> decisions: one winner per slot, the rejected alternatives, warnings, assumptions.

The winner of a slot is the fired rule with the highest priority, then the lowest id. Engine
firing order never matters. Every fired rule that did not win stays visible as a contender.
"""

from __future__ import annotations

import functools
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from advisor.catalog import DECISION_PREFIX, Catalog
from advisor.conditions import holds, needs_fact
from advisor.engine.base import Firing, MatchedValue
from advisor.facts import Facts, FactValue, derived_fact_inputs
from advisor.formulas import FormulaError, evaluate
from advisor.models.report import (
    Alternative,
    Assumption,
    CapacityFinding,
    CapacityInput,
    CapacityOut,
    CitationOut,
    ConflictOut,
    ConflictSideOut,
    Contender,
    Decision,
    Evidence,
    PillarReview,
    Reference,
    ReviewFinding,
    RuleRef,
    Undecided,
    WarningOut,
    WiringOut,
)
from advisor.models.rule import Citation, Clause, Operator, ReviewKind, Rule

_SYMBOLS = {
    Operator.equals: "=",
    Operator.not_equals: "!=",
    Operator.gt: ">",
    Operator.gte: ">=",
    Operator.lt: "<",
    Operator.lte: "<=",
}


def winner_order(firing: Firing) -> tuple[int, str]:
    """Sort key that puts the winning firing of a slot first: priority, then rule id."""
    return (-firing.priority, firing.rule_id)


def choose_winners(firings: Sequence[Firing], decided: Mapping[str, str]) -> dict[str, str]:
    """The chaining callback: for each slot fired this round, the winning component."""
    best: dict[str, Firing] = {}
    for firing in firings:
        if firing.slot is None or firing.component is None or firing.slot in decided:
            continue
        current = best.get(firing.slot)
        if current is None or winner_order(firing) < winner_order(current):
            best[firing.slot] = firing
    return {slot: firing.component for slot, firing in sorted(best.items()) if firing.component}


def describe_test(clause: Clause) -> str:
    """A compact rendering of a clause's test, e.g. '> 400' or 'one of a, b'."""
    operand = clause.operand
    return _describe(clause.operator, tuple(operand) if isinstance(operand, list) else operand,
                     clause.fact.startswith(DECISION_PREFIX))


@functools.lru_cache(maxsize=4096)  # every report renders the same few hundred clause tests
def _describe(op: Operator, operand: Any, on_decision: bool) -> str:
    if op is Operator.exists:
        if on_decision:
            return "is decided" if operand else "is not decided"
        return "is given" if operand else "is not given"
    if op is Operator.one_of:
        return "one of " + ", ".join(_show(item) for item in operand)
    if op is Operator.contains:
        return f"includes {operand}"
    return f"{_show_symbol(op)} {_show(operand)}"


def _show_symbol(op: Operator) -> str:
    return _SYMBOLS[op]


def _show(value: object) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    return str(value)


@dataclass
class _References:
    """Numbers sources in order of first citation."""

    catalog: Catalog

    def __post_init__(self) -> None:
        self.numbers: dict[str, int] = {}

    def cite(self, citations: Sequence[Citation]) -> list[CitationOut]:
        out = []
        for citation in citations:
            number = self.numbers.setdefault(citation.source, len(self.numbers) + 1)
            out.append(CitationOut(number=number, source=citation.source,
                                   quote=citation.quote, note=citation.note))
        return out

    def listing(self) -> list[Reference]:
        out = []
        for source_id, number in sorted(self.numbers.items(), key=lambda item: item[1]):
            source = self.catalog.sources[source_id]
            location = source.file if source.file else (source.url or "")
            out.append(Reference(number=number, source=source_id, kind=source.kind.value,
                                 title=source.title, location=location))
        return out


@dataclass(frozen=True)
class Resolution:
    decisions: list[Decision]
    undecided: list[Undecided]
    warnings: list[WarningOut]
    assumptions: list[Assumption]
    references: list[Reference]
    wiring: list[str]
    connections: list[WiringOut]
    conflicts: list[ConflictOut]
    capacity: list[CapacityOut]
    review: list[PillarReview]


# Per rule-set digest and rule: each clause's fact, test, fact description and the inputs a
# derived fact comes from. Only the matched value differs between reports.
_EVIDENCE: dict[str, dict[str, tuple[tuple[str, str, str, tuple[str, ...]], ...]]] = {}


def _evidence(rule: Rule, matched: Mapping[str, MatchedValue], catalog: Catalog) -> list[Evidence]:
    by_rule = _EVIDENCE.get(catalog.digest)
    if by_rule is None:
        inputs = derived_fact_inputs()
        by_rule = _EVIDENCE[catalog.digest] = {
            each.id: tuple(
                (clause.fact, describe_test(clause), catalog.facts[clause.fact].description,
                 inputs.get(clause.fact, ()))
                for clause in each.when
            )
            for each in catalog.rules
        }
    return [
        Evidence(fact=fact, value=matched.get(fact), test=test, description=description,
                 derived_from=list(derived_from))
        for fact, test, description, derived_from in by_rule[rule.id]
    ]


def _label(catalog: Catalog, component: str) -> str:
    return catalog.components[component].label


def resolve_decisions(
    catalog: Catalog,
    firings: Sequence[Firing],
    decisions: Mapping[str, str],
    facts: Facts,
    pillar_order: Sequence[str] = (),
) -> Resolution:
    """Build the report's decisions, undecided slots, warnings, conflicts, capacity figures,
    Well-Architected review and assumptions. ``pillar_order`` is the workload's stated pillar
    priority (the facts hold it as an unordered set)."""
    references = _References(catalog)
    by_slot: dict[str, list[Firing]] = {}
    by_purpose: dict[str, list[Firing]] = {}
    for firing in firings:
        if firing.slot is not None:
            by_slot.setdefault(firing.slot, []).append(firing)
        else:
            by_purpose.setdefault(catalog.rule(firing.rule_id).purpose, []).append(firing)
    warnings_fired = by_purpose.get("warn", [])
    wiring = by_purpose.get("wire", [])

    out: list[Decision] = []
    for slot_id, slot in catalog.slots.items():
        if slot_id not in decisions:
            continue
        ranked = sorted(by_slot.get(slot_id, []), key=winner_order)
        winner = ranked[0]
        rule = catalog.rule(winner.rule_id)
        assert rule.recommend is not None and winner.component == decisions[slot_id]
        agreeing = [f for f in ranked[1:] if f.component == winner.component]
        alternatives: dict[str, Alternative] = {}
        for source_rule in [rule, *(catalog.rule(f.rule_id) for f in agreeing)]:
            for rejection in source_rule.rejects:
                alternatives.setdefault(
                    rejection.component,
                    Alternative(
                        component=rejection.component,
                        label=_label(catalog, rejection.component),
                        because=rejection.because, rule_id=source_rule.id,
                    ),
                )
        contenders = []
        for firing in ranked[1:]:
            other = catalog.rule(firing.rule_id)
            assert firing.component is not None
            contenders.append(
                Contender(
                    rule_id=other.id, title=other.title, component=firing.component,
                    label=_label(catalog, firing.component), priority=other.priority,
                    strength=other.strength.value,
                    evidence=_evidence(other, firing.matched, catalog),
                    agrees=firing.component == winner.component,
                )
            )
        citations = references.cite(rule.citations)
        component = catalog.components[winner.component or ""]
        out.append(
            Decision(
                id=f"{rule.id}@{slot_id}", slot=slot_id, slot_title=slot.title,
                component=component.id, label=component.label, service=component.service,
                rule_id=rule.id, rule_title=rule.title, strength=rule.strength.value,
                priority=rule.priority, round=winner.round, rationale=rule.rationale.strip(),
                not_when=rule.not_when, settings=list(rule.recommend.settings),
                evidence=_evidence(rule, winner.matched, catalog),
                alternatives=sorted(alternatives.values(), key=lambda item: item.component),
                contenders=contenders, citations=citations,
            )
        )

    warnings = []
    for firing in sorted(warnings_fired, key=lambda item: item.rule_id):
        rule = catalog.rule(firing.rule_id)
        assert rule.warn is not None
        warnings.append(
            WarningOut(rule_id=rule.id, title=rule.title, strength=rule.strength.value,
                       message=rule.warn.message.strip(), remedy=rule.warn.remedy.strip(),
                       evidence=_evidence(rule, firing.matched, catalog),
                       citations=references.cite(rule.citations))
        )

    connections = []
    for firing in sorted(wiring, key=lambda item: item.rule_id):
        rule = catalog.rule(firing.rule_id)
        connections.append(
            WiringOut(rule_id=rule.id, title=rule.title, rationale=rule.rationale.strip(),
                      edges=[f"{edge.from_} -> {edge.to}: {edge.label}" for edge in rule.connects],
                      evidence=_evidence(rule, firing.matched, catalog),
                      citations=references.cite(rule.citations))
        )

    conflicts = [_conflict(catalog, firing, references)
                 for firing in sorted(by_purpose.get("conflict", []), key=_by_rule)]
    capacity = [_capacity(catalog, firing, facts, references)
                for firing in sorted(by_purpose.get("capacity", []), key=_by_rule)]
    review = _review(catalog, by_purpose.get("review", []), pillar_order, references)
    known = _known(facts, decisions)
    waiting = _all_waiting(catalog, known)
    relevant = _relevant_slots(catalog, known)
    return Resolution(
        decisions=out,
        undecided=_undecided(catalog, decisions, relevant, waiting),
        warnings=warnings,
        assumptions=_assumptions(catalog, relevant, waiting),
        references=references.listing(),
        wiring=[item.rule_id for item in connections],
        connections=connections,
        conflicts=conflicts,
        capacity=capacity,
        review=review,
    )


def _by_rule(firing: Firing) -> str:
    return firing.rule_id


def _conflict(catalog: Catalog, firing: Firing, references: _References) -> ConflictOut:
    rule = catalog.rule(firing.rule_id)
    assert rule.conflict is not None
    evidence = {item.fact: item for item in _evidence(rule, firing.matched, catalog)}
    return ConflictOut(
        rule_id=rule.id,
        title=rule.title,
        sides=[ConflictSideOut(requirements=[evidence[fact] for fact in side.facts],
                               wants=side.wants.strip())
               for side in rule.conflict.sides],
        explanation=rule.conflict.explanation.strip(),
        resolution=rule.conflict.resolution.strip(),
        involves=[RuleRef(rule_id=other, title=catalog.rule(other).title)
                  for other in rule.conflict.involves],
        citations=references.cite(rule.citations),
    )


def _capacity(
    catalog: Catalog, firing: Firing, facts: Facts, references: _References
) -> CapacityOut:
    rule = catalog.rule(firing.rule_id)
    assert rule.capacity is not None
    spec = rule.capacity
    values: dict[str, int | float] = {}
    inputs = []
    for name, fact in spec.inputs.items():
        value = facts[fact]
        assert isinstance(value, int | float) and not isinstance(value, bool)
        values[name] = value
        inputs.append(CapacityInput(name=name, fact=fact, value=value,
                                    description=catalog.facts[fact].description))
    result: int | float | None = None
    error = None
    try:
        result = evaluate(catalog.formulas[rule.id], values)
    except (FormulaError, OverflowError) as failure:
        error = str(failure)
    findings = [
        CapacityFinding(above=_plain_number(limit.above), message=limit.message.strip(),
                        remedy=limit.remedy.strip())
        for limit in spec.limits
        if result is not None and result > limit.above
    ]
    return CapacityOut(
        rule_id=rule.id, title=rule.title, figure=spec.figure, unit=spec.unit,
        formula=catalog.formulas[rule.id].text, inputs=inputs, result=result, error=error,
        explanation=spec.explanation.strip(), findings=findings,
        evidence=_evidence(rule, firing.matched, catalog),
        citations=references.cite(rule.citations),
    )


def _plain_number(value: float) -> int | float:
    return int(value) if float(value).is_integer() else value


def _review(
    catalog: Catalog, fired: Sequence[Firing], pillar_order: Sequence[str],
    references: _References,
) -> list[PillarReview]:
    """Every pillar, in the workload's stated priority order and then the registry's."""
    if not catalog.pillars:
        return []
    ranks = {pillar: index + 1 for index, pillar in enumerate(pillar_order)}
    by_pillar: dict[str, list[ReviewFinding]] = {}
    for firing in sorted(fired, key=_by_rule):
        rule = catalog.rule(firing.rule_id)
        assert rule.review is not None
        by_pillar.setdefault(rule.review.pillar, []).append(
            ReviewFinding(rule_id=rule.id, title=rule.title, kind=rule.review.kind.value,
                          finding=rule.review.finding.strip(),
                          evidence=_evidence(rule, firing.matched, catalog),
                          citations=references.cite(rule.citations))
        )
    registry_order = list(catalog.pillars)
    order = sorted(registry_order,
                   key=lambda pillar: (ranks.get(pillar, len(registry_order) + 1),
                                       registry_order.index(pillar)))
    out = []
    for pillar_id in order:
        pillar = catalog.pillars[pillar_id]
        findings = by_pillar.get(pillar_id, [])
        out.append(PillarReview(
            pillar=pillar.id, title=pillar.title, rank=ranks.get(pillar_id),
            principles=list(pillar.principles),
            findings=sorted(findings, key=lambda item: (item.kind != ReviewKind.risk.value,
                                                        item.rule_id)),
            citations=references.cite(pillar.citations),
        ))
    return out


# Each rule's clauses prepared for the "what is it waiting on" scan, which runs over every rule
# for every report: (index of the distinct test, fact, on a decision?, needs the fact?, the user
# inputs behind the fact), plus the distinct tests themselves, which many rules share (each is
# evaluated at most once per report). Keyed by the rule-set digest, which covers every
# knowledge file.
_Step = tuple[int, str, bool, bool, tuple[str, ...]]
_Test = tuple[str, Operator, Any]
_PLANS: dict[str, tuple[tuple[tuple[str, tuple[_Step, ...]], ...], tuple[_Test, ...]]] = {}


def _plans(
    catalog: Catalog,
) -> tuple[tuple[tuple[str, tuple[_Step, ...]], ...], tuple[_Test, ...]]:
    cached = _PLANS.get(catalog.digest)
    if cached is not None:
        return cached
    inputs = derived_fact_inputs()
    tests: list[_Test] = []
    identities: dict[tuple[str, Operator, str, Any], int] = {}

    def test_index(fact: str, operator: Operator, operand: Any) -> int:
        # The type name keeps true and 1 apart (they are equal, and hash alike, in Python).
        hashable = tuple(operand) if isinstance(operand, list) else operand
        identity = (fact, operator, type(operand).__name__, hashable)
        if identity not in identities:
            identities[identity] = len(tests)
            tests.append((fact, operator, operand))
        return identities[identity]

    plans = tuple(
        (rule.id, tuple(
            (test_index(fact, operator, operand), fact,
             fact.startswith(DECISION_PREFIX), needs_fact(operator, operand),
             inputs.get(fact, (fact,)))
            for fact, operator, operand in catalog.clauses(rule.id)
        ))
        for rule in catalog.rules
    )
    _PLANS[catalog.digest] = (plans, tuple(tests))
    return _PLANS[catalog.digest]


def _all_waiting(catalog: Catalog, known: Facts) -> dict[str, list[str]]:
    """For every rule that no known value rules out, the unknown user inputs it still depends on
    (an unknown input already satisfies "exists: false", so that clause waits on nothing)."""
    plans, tests = _plans(catalog)
    results: list[bool | None] = [None] * len(tests)
    out: dict[str, list[str]] = {}
    for rule_id, plan in plans:
        for index, fact, decision, _needs, _names in plan:
            if decision or fact in known:
                result = results[index]
                if result is None:
                    fact, operator, operand = tests[index]
                    result = results[index] = holds(fact, operator, operand, known)
                if not result:
                    break
        else:
            out[rule_id] = [
                name
                for _index, fact, decision, needs, names in plan
                if needs and not decision and fact not in known
                for name in names
                if name not in known
            ]
    return out


def _known(facts: Facts, decisions: Mapping[str, str]) -> dict[str, FactValue]:
    known: dict[str, FactValue] = dict(facts)
    for decided, component in decisions.items():
        known[f"{DECISION_PREFIX}{decided}"] = component
    return known


def _relevant_slots(catalog: Catalog, known: Facts) -> dict[str, bool]:
    """Per slot: True when it has no relevance clauses or one of them holds."""
    relevant: dict[str, bool] = {}
    for slot_id in catalog.slots:
        clauses = catalog.relevance(slot_id)
        relevant[slot_id] = not clauses or any(
            holds(fact, op, operand, known) for fact, op, operand in clauses
        )
    return relevant


def _undecided(
    catalog: Catalog, decisions: Mapping[str, str], relevant: Mapping[str, bool],
    waiting: Mapping[str, list[str]],
) -> list[Undecided]:
    out = []
    for slot_id, slot in catalog.slots.items():
        # A slot with no relevance clauses is never reported undecided, only left out.
        if slot_id in decisions or not catalog.relevance(slot_id) or not relevant[slot_id]:
            continue
        rules = catalog.rules_for_slot(slot_id)
        # Only inputs that could still let one of the slot's rules fire are worth asking for.
        missing = sorted({name for rule in rules for name in waiting.get(rule.id, ())})
        out.append(
            Undecided(slot=slot_id, slot_title=slot.title, description=slot.description,
                      missing=missing, candidate_rules=[rule.id for rule in rules])
        )
    return out


def _assumptions(
    catalog: Catalog, relevant: Mapping[str, bool], waiting: Mapping[str, list[str]]
) -> list[Assumption]:
    """Unknown inputs that could have changed the outcome: a rule reads them and none of that
    rule's other clauses is already false."""
    consulted: dict[str, set[str]] = {}
    for rule_id, names in waiting.items():
        fills = catalog.rule(rule_id).slot
        if fills is not None and not relevant[fills]:
            continue  # the slot this rule fills does not apply to this system
        for name in names:
            consulted.setdefault(name, set()).add(rule_id)
    out = []
    for name in sorted(consulted):
        spec = catalog.facts[name]
        out.append(Assumption(fact=name, description=spec.description,
                              consulted_by=sorted(consulted[name])))
    return out
