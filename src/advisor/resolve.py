"""Firings -> decisions: one winner per slot, the rejected alternatives, warnings, assumptions.

The winner of a slot is the fired rule with the highest priority, then the lowest id. Engine
firing order never matters. Every fired rule that did not win stays visible as a contender.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass

from advisor.catalog import DECISION_PREFIX, Catalog
from advisor.conditions import holds
from advisor.engine.base import Firing, MatchedValue
from advisor.facts import Facts, derived_fact_inputs
from advisor.models.report import (
    Alternative,
    Assumption,
    CitationOut,
    Contender,
    Decision,
    Evidence,
    Reference,
    Undecided,
    WarningOut,
    WiringOut,
)
from advisor.models.rule import Citation, Clause, Operator, Rule

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
    op = clause.operator
    operand = clause.operand
    if op is Operator.exists:
        if clause.fact.startswith(DECISION_PREFIX):
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


def _evidence(rule: Rule, matched: Mapping[str, MatchedValue], catalog: Catalog) -> list[Evidence]:
    inputs = derived_fact_inputs()
    out = []
    for clause in rule.when:
        spec = catalog.facts[clause.fact]
        out.append(
            Evidence(
                fact=clause.fact,
                value=matched.get(clause.fact),
                test=describe_test(clause),
                description=spec.description,
                derived_from=list(inputs.get(clause.fact, ())),
            )
        )
    return out


def _label(catalog: Catalog, component: str) -> str:
    return catalog.components[component].label


def resolve_decisions(
    catalog: Catalog, firings: Sequence[Firing], decisions: Mapping[str, str], facts: Facts
) -> Resolution:
    """Build the report's decisions, undecided slots, warnings and assumptions."""
    references = _References(catalog)
    by_slot: dict[str, list[Firing]] = {}
    warnings_fired: list[Firing] = []
    wiring: list[Firing] = []
    for firing in firings:
        if firing.slot is not None:
            by_slot.setdefault(firing.slot, []).append(firing)
        elif catalog.rule(firing.rule_id).warn is not None:
            warnings_fired.append(firing)
        else:
            wiring.append(firing)

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
                    Alternative(component=rejection.component,
                                label=_label(catalog, rejection.component),
                                because=rejection.because, rule_id=source_rule.id),
                )
        contenders = []
        for firing in ranked[1:]:
            other = catalog.rule(firing.rule_id)
            assert firing.component is not None
            contenders.append(
                Contender(rule_id=other.id, title=other.title, component=firing.component,
                          label=_label(catalog, firing.component), priority=other.priority,
                          strength=other.strength.value,
                          evidence=_evidence(other, firing.matched, catalog),
                          agrees=firing.component == winner.component)
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

    return Resolution(
        decisions=out,
        undecided=_undecided(catalog, decisions, facts),
        warnings=warnings,
        assumptions=_assumptions(catalog, facts, decisions),
        references=references.listing(),
        wiring=[item.rule_id for item in connections],
        connections=connections,
    )


def _waiting_on(
    catalog: Catalog, rule_id: str, known: Facts, inputs: Mapping[str, tuple[str, ...]]
) -> list[str] | None:
    """The unknown user inputs a rule still depends on, or None if a known value rules it out."""
    unknown: list[str] = []
    for fact, operator, operand in catalog.clauses(rule_id):
        if fact in known or fact.startswith(DECISION_PREFIX):
            if not holds(fact, operator, operand, known):
                return None
        elif not (operator is Operator.exists and operand is False):
            # an unknown input already satisfies "is not given"; anything else waits on it
            unknown.extend(name for name in inputs.get(fact, (fact,)) if name not in known)
    return unknown


def _undecided(catalog: Catalog, decisions: Mapping[str, str], facts: Facts) -> list[Undecided]:
    round_facts = dict(facts)
    for decided, component in decisions.items():
        round_facts[f"{DECISION_PREFIX}{decided}"] = component
    inputs = derived_fact_inputs()
    out = []
    for slot_id, slot in catalog.slots.items():
        if slot_id in decisions or not slot.relevant_when_any:
            continue
        if not any(
            holds(clause.fact, clause.operator, clause.operand, round_facts)
            for clause in slot.relevant_when_any
        ):
            continue
        rules = [rule for rule in catalog.rules if rule.slot == slot_id]
        # Only inputs that could still let one of the slot's rules fire are worth asking for.
        missing = sorted(
            {
                name
                for rule in rules
                for name in _waiting_on(catalog, rule.id, round_facts, inputs) or ()
            }
        )
        out.append(
            Undecided(slot=slot_id, slot_title=slot.title, description=slot.description,
                      missing=missing, candidate_rules=[rule.id for rule in rules])
        )
    return out


def _assumptions(catalog: Catalog, facts: Facts, decisions: Mapping[str, str]) -> list[Assumption]:
    """Unknown inputs that could have changed the outcome: a rule reads them and none of that
    rule's other clauses is already false."""
    known = dict(facts)
    for decided, component in decisions.items():
        known[f"{DECISION_PREFIX}{decided}"] = component
    inputs = derived_fact_inputs()
    consulted: dict[str, set[str]] = {}
    relevant: dict[str, bool] = {}
    for slot_id, slot in catalog.slots.items():
        relevant[slot_id] = not slot.relevant_when_any or any(
            holds(clause.fact, clause.operator, clause.operand, known)
            for clause in slot.relevant_when_any
        )
    for rule in catalog.rules:
        if rule.slot is not None and not relevant[rule.slot]:
            continue  # the slot this rule fills does not apply to this system
        waiting = _waiting_on(catalog, rule.id, known, inputs)
        for name in waiting or ():
            consulted.setdefault(name, set()).add(rule.id)
    out = []
    for name in sorted(consulted):
        spec = catalog.facts[name]
        out.append(Assumption(fact=name, description=spec.description,
                              consulted_by=sorted(consulted[name])))
    return out
