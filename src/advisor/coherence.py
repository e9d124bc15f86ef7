"""Decisions + graph -> the design-wide invariants of ``rules/_invariants.yaml`` the design
breaks. Rules decide slot by slot; these checks look at the composed design as a whole."""

from __future__ import annotations

from collections.abc import Sequence

import networkx as nx

from advisor.catalog import DECISION_PREFIX, Catalog
from advisor.conditions import holds
from advisor.facts import Facts
from advisor.models.report import (
    ConflictOut,
    Decision,
    Evidence,
    GraphOut,
    Inconsistency,
    InvariantCitation,
)
from advisor.models.rule import Citation, Invariant, InvariantKind
from advisor.resolve import describe_test


def check_design(catalog: Catalog, facts: Facts, decisions: Sequence[Decision],
                 graph: GraphOut, conflicts: Sequence[ConflictOut]) -> list[Inconsistency]:
    """Every invariant that applies to these requirements and that the design breaks, in
    invariant id order."""
    out: list[Inconsistency] = []
    for invariant in sorted(catalog.invariants.values(), key=lambda item: item.id):
        if not all(holds(clause.fact, clause.operator, clause.operand, facts)
                   for clause in invariant.when):
            continue
        for offending in _breaches(catalog, invariant, decisions, graph, conflicts):
            out.append(_inconsistency(catalog, invariant, facts, offending))
    return out


def _breaches(catalog: Catalog, invariant: Invariant, decisions: Sequence[Decision],
              graph: GraphOut, conflicts: Sequence[ConflictOut]) -> list[list[Decision | str]]:
    """Each breach as the decisions at fault (or, for a missing component, the ids)."""
    if invariant.kind is InvariantKind.forbidden:
        excused = _explained(catalog, decisions, conflicts) if invariant.unless_conflict else set()
        return [[decision] for decision in decisions
                if decision.component in invariant.components
                and decision.rule_id not in excused]
    if invariant.kind is InvariantKind.required:
        chosen = {decision.component for decision in decisions}
        return [] if chosen & set(invariant.components) else [list(invariant.components)]
    if invariant.kind is InvariantKind.no_direct_edge:
        by_slot = {decision.slot: decision for decision in decisions}
        return [[by_slot[edge.source], by_slot[edge.target]] for edge in graph.edges
                if by_slot[edge.source].component in invariant.from_components
                and by_slot[edge.target].component in invariant.to_components]
    if invariant.kind is InvariantKind.reachable:
        return _unreached(invariant.slots[0], invariant.slots[1], decisions, graph)
    # distinct: one component in several of the slots
    holding: dict[str, list[Decision]] = {}
    for decision in decisions:
        if decision.slot in invariant.slots:
            holding.setdefault(decision.component, []).append(decision)
    return [list(found) for _, found in sorted(holding.items()) if len(found) > 1]


def _unreached(start: str, goal: str, decisions: Sequence[Decision],
               graph: GraphOut) -> list[list[Decision | str]]:
    """Both slots' decisions when both are drawn and no path of drawn edges leads from the
    first to the second."""
    drawn = nx.DiGraph()
    drawn.add_nodes_from(node.id for node in graph.nodes)
    drawn.add_edges_from((edge.source, edge.target) for edge in graph.edges)
    if start not in drawn or goal not in drawn or nx.has_path(drawn, start, goal):
        return []
    by_slot = {decision.slot: decision for decision in decisions}
    return [[by_slot[start], by_slot[goal]]]


def _explained(catalog: Catalog, decisions: Sequence[Decision],
               conflicts: Sequence[ConflictOut]) -> set[str]:
    """The deciding rules a reported conflict accounts for: those it involves, and those whose
    decision rests on a decision one of them made (a replica chosen for the strategy a
    conflict names)."""
    explained = {ref.rule_id for conflict in conflicts for ref in conflict.involves}
    by_slot = {decision.slot: decision.rule_id for decision in decisions}
    changed = True
    while changed:
        changed = False
        for decision in decisions:
            if decision.rule_id in explained:
                continue
            resting = {by_slot.get(clause.fact.removeprefix(DECISION_PREFIX))
                       for clause in catalog.rule(decision.rule_id).when
                       if clause.fact.startswith(DECISION_PREFIX)}
            if resting & explained:
                explained.add(decision.rule_id)
                changed = True
    return explained


def _inconsistency(catalog: Catalog, invariant: Invariant, facts: Facts,
                   offending: list[Decision | str]) -> Inconsistency:
    placed = [item for item in offending if isinstance(item, Decision)]
    missing = [item for item in offending if isinstance(item, str)]
    return Inconsistency(
        invariant_id=invariant.id,
        title=invariant.title,
        kind=invariant.kind.value,
        rationale=invariant.rationale.strip(),
        requirements=[
            Evidence(fact=clause.fact, value=facts.get(clause.fact),
                     test=describe_test(clause), description=catalog.facts[clause.fact].description)
            for clause in invariant.when
        ],
        slots=[decision.slot for decision in placed],
        components=[decision.component for decision in placed] + missing,
        labels=([decision.label for decision in placed]
                + [catalog.components[component].label for component in missing]),
        rule_ids=[decision.rule_id for decision in placed],
        citations=[_citation(catalog, citation) for citation in invariant.citations],
    )


def _citation(catalog: Catalog, citation: Citation) -> InvariantCitation:
    source = catalog.sources[citation.source]
    return InvariantCitation(source=citation.source, title=source.title,
                             location=source.file or source.url or "", quote=citation.quote,
                             note=citation.note)
