"""Firings -> decisions: one winner per slot, the rejected alternatives, warnings, assumptions.

The winner of a slot is ordered by ``ranking`` (constraints first, then the highest priority,
then the lowest id). Engine firing order never matters. Every fired rule that did not win stays
visible as a contender; a constraint that overrode a rule's advice is reported as a conflict,
and every stated constraint says how it was honoured.

What a report shows the same way whatever the profile (a rule's titles and trimmed prose, its
rejected alternatives, each clause's test and meaning) is prepared once per rule set. Report
objects are frozen, so one built for a rule's evidence with the same matched values, or for
a citation under the same number, is shared by every report that shows it.
"""

from __future__ import annotations

import functools
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from advisor.catalog import DECISION_PREFIX, Catalog
from advisor.conditions import holds, needs_fact
from advisor.engine.base import Firing, MatchedValue
from advisor.facts import Facts, FactValue, derived_fact_inputs, is_fixed
from advisor.formulas import FormulaError, evaluate
from advisor.memo import per_rule_set, remember, value_key
from advisor.models.report import (
    Alternative,
    Assumption,
    CapacityFinding,
    CapacityInput,
    CapacityOut,
    CitationOut,
    ConflictOut,
    ConflictSideOut,
    ConstraintConflict,
    ConstraintOutcome,
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
from advisor.models.requirements import Constraints, Existing
from advisor.models.rule import Citation, Clause, Operator, ReviewKind, Strength
from advisor.ranking import UNCONSTRAINED, Ranking

_SYMBOLS = {
    Operator.equals: "=",
    Operator.not_equals: "!=",
    Operator.gt: ">",
    Operator.gte: ">=",
    Operator.lt: "<",
    Operator.lte: "<=",
}


def describe_test(clause: Clause) -> str:
    """A compact rendering of a clause's test, e.g. '> 400' or 'one of a, b'."""
    operand = clause.operand
    return _describe(clause.operator, tuple(operand) if isinstance(operand, list) else operand,
                     clause.fact.startswith(DECISION_PREFIX))


# typed: a test against 0 and one against false are different tests (equal keys otherwise).
@functools.lru_cache(maxsize=4096, typed=True)
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


@dataclass(frozen=True)
class _Citing:
    """A rule's or pillar's citations: its distinct sources in order of first citation, and per
    citation the position of its source and its content's index."""

    sources: tuple[str, ...]
    citations: tuple[tuple[int, int], ...]


# One clause as evidence: fact, test, the fact's meaning, the inputs a derived fact comes from.
_EvidenceSpec = tuple[str, str, str, list[str]]
# Each rule's clauses prepared for the "what is it waiting on" scan: per fact, whether its
# absence is final (a decision not made, or a part the profile does not say runs: no answer to
# an unknown input supplies either) and its distinct tests (operator, operand, the rules using
# it); per fact some rule needs, the user inputs behind it and those rules.
_Tests = tuple[tuple[str, bool, tuple[tuple[Operator, Any, tuple[str, ...]], ...]], ...]
_Needs = tuple[tuple[str, tuple[str, ...], tuple[str, ...]], ...]


class _Prepared:
    """A rule set in the shape reports use, and the report objects shared between reports.

    Built once per rule-set digest (which covers every knowledge file)."""

    def __init__(self, catalog: Catalog) -> None:
        inputs = derived_fact_inputs()
        self.slot_of = {rule.id: rule.slot for rule in catalog.rules}
        self.evidence_specs: dict[str, tuple[_EvidenceSpec, ...]] = {
            rule.id: tuple(
                (clause.fact, describe_test(clause), catalog.facts[clause.fact].description,
                 list(inputs.get(clause.fact, ())))
                for clause in rule.when
            )
            for rule in catalog.rules
        }
        self.tested = {rule.id: tuple(clause.fact for clause in rule.when)
                       for rule in catalog.rules}
        contents: dict[tuple[str, str | None, str | None], int] = {}
        self.citation_parts: list[tuple[str, str | None, str | None]] = []

        def citing(citations: Sequence[Citation]) -> _Citing:
            sources = tuple(dict.fromkeys(citation.source for citation in citations))
            out = []
            for citation in citations:
                content = (citation.source, citation.quote, citation.note)
                if content not in contents:
                    contents[content] = len(self.citation_parts)
                    self.citation_parts.append(content)
                out.append((sources.index(citation.source), contents[content]))
            return _Citing(sources, tuple(out))

        self.rule_citations = {rule.id: citing(rule.citations) for rule in catalog.rules}
        self.pillar_citations = {pillar.id: citing(pillar.citations)
                                 for pillar in catalog.pillars.values()}
        self.decision_fields: dict[str, dict[str, Any]] = {}
        self.contender_fields: dict[str, dict[str, Any]] = {}
        # Per recommending rule: the alternatives it rejects, first rejection of a component
        # kept, in rule order and sorted by component.
        self.rejections: dict[str, dict[str, Alternative]] = {}
        self.alternatives: dict[str, list[Alternative]] = {}
        # Rules that keep an existing part in place, and the part; rules per component.
        self.keeps: dict[str, str] = {}
        self.proposing: dict[str, list[str]] = {}
        for rule in catalog.rules:
            if rule.recommend is None:
                continue
            component = catalog.components[rule.recommend.component]
            slot_id = rule.recommend.slot
            self.decision_fields[rule.id] = dict(
                id=f"{rule.id}@{slot_id}", slot=slot_id, slot_title=catalog.slots[slot_id].title,
                component=component.id, label=component.label, service=component.service,
                rule_id=rule.id, rule_title=rule.title, strength=rule.strength.value,
                priority=rule.priority, rationale=rule.rationale.strip(),
                not_when=rule.not_when, settings=list(rule.recommend.settings),
            )
            self.contender_fields[rule.id] = dict(
                rule_id=rule.id, title=rule.title, label=component.label,
                priority=rule.priority, strength=rule.strength.value,
            )
            rejected: dict[str, Alternative] = {}
            for rejection in rule.rejects:
                rejected.setdefault(rejection.component, Alternative(
                    component=rejection.component,
                    label=catalog.components[rejection.component].label,
                    because=rejection.because, rule_id=rule.id,
                ))
            self.rejections[rule.id] = rejected
            self.alternatives[rule.id] = _by_component(rejected)
            if rule.recommend.existing is not None:
                self.keeps[rule.id] = rule.recommend.existing.value
            self.proposing.setdefault(component.id, []).append(rule.id)
        self.tests, self.needs = _waiting_plan(catalog, inputs)
        self.always_relevant = frozenset(slot for slot in catalog.slots
                                         if not catalog.relevance(slot))
        relevance: dict[str, dict[tuple[object, ...], tuple[Operator, Any, list[str]]]] = {}
        for slot in catalog.slots:
            for fact, operator, operand in catalog.relevance(slot):
                identity = (operator, *value_key([operand]))
                relevance.setdefault(fact, {}).setdefault(
                    identity, (operator, operand, []))[2].append(slot)
        # Per fact: its distinct relevance tests and the slots each makes relevant.
        self.relevance_tests = tuple(
            (fact, tuple((operator, operand, tuple(slots))
                         for operator, operand, slots in by_test.values()))
            for fact, by_test in relevance.items()
        )
        self.evidence: dict[tuple[Any, ...], list[Evidence]] = {}
        self.contenders: dict[tuple[Any, ...], Contender] = {}
        self.citations: dict[tuple[int, int], CitationOut] = {}
        # A rule's citations (by the identity of its _Citing, which lives as long as this) and
        # the numbers its sources have in a report.
        self.cited: dict[tuple[int, ...], list[CitationOut]] = {}
        self.referenced: dict[tuple[str, int], Reference] = {}
        self.assumed: dict[tuple[str, tuple[str, ...]], Assumption] = {}
        # Per fact and value (of the fact's class): the rules whose tests on it fail.
        self.ruling: dict[tuple[str, type, FactValue | None], frozenset[str]] = {}
        # Per fact and value (or absence): the slots its relevance tests make relevant.
        self.relevant_by_value: dict[tuple[str, type, FactValue | None], frozenset[str]] = {}

    def citation(self, content: int, number: int) -> CitationOut:
        """One citation under the number its source has in a report."""
        found = self.citations.get((content, number))
        if found is None:
            source, quote, note = self.citation_parts[content]
            found = remember(self.citations, (content, number), CitationOut(
                number=number, source=source, quote=quote, note=note))
        return found

    def evidence_for(self, rule_id: str, matched: Mapping[str, MatchedValue]) -> list[Evidence]:
        """Each clause of the rule with the value it matched."""
        return self._evidence(rule_id, matched)[1]

    def contender(self, firing: Firing, agrees: bool) -> Contender:
        """A firing for a slot another rule decided."""
        evidence_key, evidence = self._evidence(firing.rule_id, firing.matched)
        key = (evidence_key, firing.component, agrees)
        found = self.contenders.get(key)
        if found is None:
            found = remember(self.contenders, key, Contender(
                **self.contender_fields[firing.rule_id], component=firing.component,
                evidence=evidence, agrees=agrees))
        return found

    def _evidence(
        self, rule_id: str, matched: Mapping[str, MatchedValue]
    ) -> tuple[tuple[Any, ...], list[Evidence]]:
        values = [matched.get(fact) for fact in self.tested[rule_id]]
        key = (rule_id, *value_key(values))
        found = self.evidence.get(key)
        if found is None:
            found = remember(self.evidence, key, [
                Evidence(fact=fact, value=value, test=test, description=description,
                         derived_from=derived_from)
                for (fact, test, description, derived_from), value
                in zip(self.evidence_specs[rule_id], values, strict=True)
            ])
        return key, found


def _by_component(alternatives: dict[str, Alternative]) -> list[Alternative]:
    return sorted(alternatives.values(), key=lambda item: item.component)


def _waiting_plan(catalog: Catalog, inputs: Mapping[str, tuple[str, ...]]) -> tuple[_Tests, _Needs]:
    tests: dict[str, dict[tuple[object, ...], tuple[Operator, Any, list[str]]]] = {}
    needs: dict[str, list[str]] = {}
    for rule in catalog.rules:
        for fact, operator, operand in catalog.clauses(rule.id):
            identity = (operator, *value_key([operand]))
            by_fact = tests.setdefault(fact, {})
            by_fact.setdefault(identity, (operator, operand, []))[2].append(rule.id)
            if (needs_fact(operator, operand) and not fact.startswith(DECISION_PREFIX)
                    and not is_fixed(fact)):
                needs.setdefault(fact, []).append(rule.id)
    return (
        tuple((fact, fact.startswith(DECISION_PREFIX) or is_fixed(fact),
               tuple((operator, operand, tuple(rule_ids))
                     for operator, operand, rule_ids in by_fact.values()))
              for fact, by_fact in tests.items()),
        tuple((fact, inputs.get(fact, (fact,)), tuple(dict.fromkeys(rule_ids)))
              for fact, rule_ids in needs.items()),
    )


class _References:
    """Numbers sources in order of first citation."""

    def __init__(self, catalog: Catalog, prepared: _Prepared) -> None:
        self.catalog = catalog
        self.prepared = prepared
        self.numbers: dict[str, int] = {}

    def cite(self, citing: _Citing) -> list[CitationOut]:
        numbers = self.numbers
        citation = self.prepared.citation
        assigned = []
        for source in citing.sources:
            number = numbers.get(source)
            if number is None:
                number = numbers[source] = len(numbers) + 1
            assigned.append(number)
        key = (id(citing), *assigned)
        found = self.prepared.cited.get(key)
        if found is None:
            found = remember(self.prepared.cited, key, [
                citation(content, assigned[position]) for position, content in citing.citations
            ])
        return found

    def listing(self) -> list[Reference]:
        referenced = self.prepared.referenced
        out = []
        # Numbers were handed out in insertion order.
        for source_id, number in self.numbers.items():
            made = referenced.get((source_id, number))
            if made is None:
                source = self.catalog.sources[source_id]
                location = source.file if source.file else (source.url or "")
                made = remember(referenced, (source_id, number), Reference(
                    number=number, source=source_id, kind=source.kind.value,
                    title=source.title, location=location))
            out.append(made)
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
    constraint_conflicts: list[ConstraintConflict]
    constraints: list[ConstraintOutcome]


def resolve_decisions(
    catalog: Catalog,
    firings: Sequence[Firing],
    decisions: Mapping[str, str],
    facts: Facts,
    pillar_order: Sequence[str] = (),
    ranking: Ranking = UNCONSTRAINED,
    constraints: Constraints | None = None,
    existing: Existing | None = None,
) -> Resolution:
    """Build the report's decisions, undecided slots, warnings, conflicts, capacity figures,
    Well-Architected review and assumptions. ``pillar_order`` is the workload's stated pillar
    priority (the facts hold it as an unordered set); ``ranking`` orders each slot's firings
    (the one the engine chose winners with), and ``constraints`` and ``existing`` are the
    requirements' own sections, reported on as constraint outcomes."""
    prepared = per_rule_set(_Prepared, catalog)
    references = _References(catalog, prepared)
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
    constraint_conflicts: list[ConstraintConflict] = []
    reasons = _reasons(constraints)
    for slot_id in catalog.slots:
        if slot_id not in decisions:
            continue
        ranked = sorted(by_slot.get(slot_id, []), key=ranking.order)
        winner = ranked[0]
        fields = prepared.decision_fields[winner.rule_id]
        assert winner.component == decisions[slot_id] == fields["component"]
        contenders = []
        rejections: dict[str, Alternative] | None = None
        for firing in ranked[1:]:
            agrees = firing.component == winner.component
            extra: list[Alternative] = []
            if agrees:
                extra = list(prepared.rejections[firing.rule_id].values())
            elif firing.component in ranking.forbidden:
                extra = [_constrained(catalog, firing, "must_not_use",
                                      reasons.get(firing.component, ""))]
            elif firing.rule_id in prepared.keeps:
                extra = [_constrained(catalog, firing, "existing", fields["rule_title"],
                                      fields["rule_id"])]
            if extra:
                if rejections is None:
                    rejections = dict(prepared.rejections[winner.rule_id])
                for alternative in extra:
                    own = rejections.get(alternative.component)
                    if own is None or agrees:
                        rejections.setdefault(alternative.component, alternative)
                    else:
                        # The winner argued against it already: keep that reason, but say the
                        # component was ruled out by a constraint or is already running.
                        rejections[alternative.component] = own.model_copy(update={
                            "constraint": alternative.constraint,
                            **({"because": alternative.because, "rule_id": alternative.rule_id}
                               if alternative.constraint == "must_not_use" else {})})
            contenders.append(prepared.contender(firing, agrees))
        constrained_by = _constrained_by(ranking, ranked)
        if constrained_by is not None:
            constraint_conflicts.extend(
                _constraint_conflict(catalog, prepared, references, constrained_by, winner,
                                     opposing, reasons.get(winner.component or ""),
                                     dict(ranking.moved), by_slot, decisions)
                for opposing in _opposing(ranking, ranked, prepared, constrained_by))
        out.append(
            Decision(
                **fields, round=winner.round,
                evidence=prepared.evidence_for(winner.rule_id, winner.matched),
                alternatives=(prepared.alternatives[winner.rule_id] if rejections is None
                              else _by_component(rejections)),
                contenders=contenders,
                citations=references.cite(prepared.rule_citations[winner.rule_id]),
                existing=winner.rule_id in prepared.keeps,
                constrained_by=constrained_by,
                constraint_reason=(reasons.get(winner.component or "")
                                   if constrained_by == "must_use" else None),
            )
        )

    warnings = []
    for firing in sorted(warnings_fired, key=_by_rule):
        rule = catalog.rule(firing.rule_id)
        assert rule.warn is not None
        warnings.append(
            WarningOut(rule_id=rule.id, title=rule.title, strength=rule.strength.value,
                       message=rule.warn.message.strip(), remedy=rule.warn.remedy.strip(),
                       evidence=prepared.evidence_for(rule.id, firing.matched),
                       citations=references.cite(prepared.rule_citations[rule.id]))
        )

    connections = []
    for firing in sorted(wiring, key=_by_rule):
        rule = catalog.rule(firing.rule_id)
        connections.append(
            WiringOut(rule_id=rule.id, title=rule.title, rationale=rule.rationale.strip(),
                      edges=[f"{edge.from_} -> {edge.to}: {edge.label}" for edge in rule.connects],
                      evidence=prepared.evidence_for(rule.id, firing.matched),
                      citations=references.cite(prepared.rule_citations[rule.id]))
        )

    conflicts = [_conflict(catalog, prepared, firing, references)
                 for firing in sorted(by_purpose.get("conflict", []), key=_by_rule)]
    capacity = [_capacity(catalog, prepared, firing, facts, references)
                for firing in sorted(by_purpose.get("capacity", []), key=_by_rule)]
    review = _review(catalog, prepared, by_purpose.get("review", []), pillar_order, references)
    known = _known(facts, decisions)
    waiting = _all_waiting(prepared, known)
    relevant = _relevant_slots(prepared, known)
    excluded = _excluded(catalog, ranking, by_slot, decisions)
    return Resolution(
        decisions=out,
        undecided=_undecided(catalog, decisions, relevant, waiting, excluded),
        warnings=warnings,
        assumptions=_assumptions(catalog, prepared, relevant, waiting),
        references=references.listing(),
        wiring=[item.rule_id for item in connections],
        connections=connections,
        conflicts=conflicts,
        capacity=capacity,
        review=review,
        constraint_conflicts=constraint_conflicts,
        constraints=_outcomes(catalog, prepared, out, by_slot, waiting, constraints, existing),
    )


def _reasons(constraints: Constraints | None) -> dict[str, str]:
    """The user's reason per component named by must_use or must_not_use."""
    if constraints is None:
        return {}
    return {choice.component: choice.reason
            for choice in [*(constraints.must_use or []), *(constraints.must_not_use or [])]}


def _constrained(catalog: Catalog, firing: Firing, kind: str, because: str,
                 rule_id: str | None = None) -> Alternative:
    """A component the constraints rejected: forbidden, or already running and not kept."""
    component = firing.component or ""
    return Alternative(component=component, label=catalog.components[component].label,
                       because=because, rule_id=rule_id or firing.rule_id, constraint=kind)


def _constrained_by(ranking: Ranking, ranked: Sequence[Firing]) -> str | None:
    """'keep' or 'must_use' when that constraint, not priority, put the winner first."""
    winner = ranked[0]
    natural = min((firing for firing in ranked if ranking.may_win(firing)),
                  key=UNCONSTRAINED.order)
    if natural.rule_id == winner.rule_id or natural.component == winner.component:
        return None
    if winner.rule_id in ranking.kept_rules:
        return "keep"
    # A replaceable part that gave way was demoted, not overruled: no constraint demanded the
    # winner, so there is nothing to report as a conflict.
    return "must_use" if winner.component in ranking.required else None


def _opposing(ranking: Ranking, ranked: Sequence[Firing], prepared: _Prepared,
              constrained_by: str) -> list[Firing]:
    """The firings whose advice the constraint overrode: each other component's best rule,
    when that rule is more than advisory."""
    winner = ranked[0]
    best: dict[str, Firing] = {}
    for firing in ranked[1:]:
        component = firing.component
        if (component is None or component == winner.component
                or not ranking.may_win(firing) or component in best):
            continue
        best[component] = firing
    return [firing for firing in best.values()
            if prepared.contender_fields[firing.rule_id]["strength"] != Strength.advisory.value
            and (constrained_by == "must_use" or firing.rule_id not in prepared.keeps)]


def _constraint_conflict(catalog: Catalog, prepared: _Prepared, references: _References,
                         kind: str, winner: Firing, opposing: Firing, reason: str | None,
                         moved: Mapping[str, str], by_slot: Mapping[str, Sequence[Firing]],
                         decisions: Mapping[str, str]) -> ConstraintConflict:
    rule = catalog.rule(opposing.rule_id)
    slot = catalog.slots[winner.slot or ""]
    component = catalog.components[winner.component or ""]
    wanted = catalog.components[opposing.component or ""]
    kept_label: str | None = None
    if kind == "keep":
        subject = prepared.keeps.get(winner.rule_id) or moved[winner.rule_id]
        if winner.rule_id in moved:
            # The part stays in the slot of a keeping rule that was decided elsewhere.
            kept_label = next(
                (catalog.components[firing.component or ""].label
                 for placed, fired in sorted(by_slot.items()) for firing in fired
                 if prepared.keeps.get(firing.rule_id) == subject
                 and decisions.get(placed) == firing.component),
                subject)
        side = [*prepared.evidence_for(winner.rule_id, winner.matched),
                _constraint_evidence(catalog, "constraints.keep", subject)]
    else:
        subject = component.id
        side = [_constraint_evidence(catalog, "constraints.must_use", component.id)]
    return ConstraintConflict(
        kind=kind, subject=subject, slot=slot.id, slot_title=slot.title,
        component=component.id, label=component.label, kept_label=kept_label,
        reason=reason if kind == "must_use" else None, kept_by=winner.rule_id,
        constraint_evidence=side, rule_id=rule.id, rule_title=rule.title, wants=wanted.id,
        wants_label=wanted.label, strength=rule.strength.value,
        rationale=rule.rationale.strip(),
        evidence=prepared.evidence_for(rule.id, opposing.matched),
        citations=references.cite(prepared.rule_citations[rule.id]),
    )


def _constraint_evidence(catalog: Catalog, fact: str, member: str) -> Evidence:
    """A constraint list's entry as evidence, the way a 'contains' clause shows it."""
    description = catalog.facts[fact].description if fact in catalog.facts else (
        "Components the design must use where they fit, each with a reason.")
    return Evidence(fact=fact, value=[member], test=f"includes {member}",
                    description=description)


def _excluded(catalog: Catalog, ranking: Ranking, by_slot: Mapping[str, Sequence[Firing]],
              decisions: Mapping[str, str]) -> dict[str, list[str]]:
    """Per undecided slot, the forbidden components rules proposed for it."""
    out: dict[str, list[str]] = {}
    for slot, fired in by_slot.items():
        if slot in decisions:
            continue
        labels = sorted({catalog.components[firing.component].label for firing in fired
                         if firing.component in ranking.forbidden})
        if labels:
            out[slot] = labels
    return out


def _outcomes(
    catalog: Catalog, prepared: _Prepared, decisions: Sequence[Decision],
    by_slot: Mapping[str, Sequence[Firing]], waiting: Mapping[str, set[str]],
    constraints: Constraints | None, existing: Existing | None,
) -> list[ConstraintOutcome]:
    """How each existing part and each component constraint was honoured, in the order the
    requirements give them."""
    out: list[ConstraintOutcome] = []
    chosen = {decision.slot: decision for decision in decisions}
    kept = {part.value for part in (constraints.keep or [])} if constraints else set()
    replaceable = ({part.value for part in (constraints.replaceable or [])}
                   if constraints else set())
    for part, value in (existing.model_dump(mode="json") if existing else {}).items():
        if value is None or part == "datastore_engine":
            continue
        kind = "keep" if part in kept else "replaceable" if part in replaceable else "existing"
        placing = [firing for fired in by_slot.values() for firing in fired
                   if prepared.keeps.get(firing.rule_id) == part]
        slots = sorted({firing.slot or "" for firing in placing})
        components = sorted({firing.component or "" for firing in placing})
        placing_rules = {firing.rule_id for firing in placing}
        forbidden = {choice.component for choice in
                     (constraints.must_not_use or [] if constraints else [])}
        status = ("kept" if any(slot in chosen and chosen[slot].rule_id in placing_rules
                                for slot in slots)
                  else "excluded" if set(components) & forbidden else "replaced")
        out.append(ConstraintOutcome(
            kind=kind, subject=part, component=components[0] if components else None,
            label=catalog.components[components[0]].label if components else None,
            reason=None, status=status if placing else "not_placed", slots=slots,
            slot_titles=[catalog.slots[slot].title for slot in slots],
            chosen=[chosen[slot].label for slot in slots
                    if status == "replaced" and slot in chosen],
            candidate_rules=sorted({firing.rule_id for firing in placing}), missing=[],
        ))
    if constraints is None:
        return out
    for kind, choices in (("must_use", constraints.must_use or []),
                          ("must_not_use", constraints.must_not_use or [])):
        for choice in choices:
            component = catalog.components[choice.component]
            proposed = sorted({firing.slot or "" for fired in by_slot.values()
                               for firing in fired if firing.component == component.id})
            candidates = prepared.proposing.get(component.id, [])
            if kind == "must_use":
                used = [slot for slot, decision in chosen.items()
                        if decision.component == component.id]
                status = "used" if used else "outranked" if proposed else "not_placed"
                slots = used or proposed or sorted({prepared.slot_of[rule_id] or ""
                                                    for rule_id in candidates})
                missing = [] if used or proposed else sorted(
                    {name for rule_id in candidates for name in waiting.get(rule_id, ())})
                shown = [] if used else [chosen[slot].label for slot in slots if slot in chosen]
            else:
                status = "excluded" if proposed else "not_proposed"
                slots, missing = proposed, []
                shown = [chosen[slot].label for slot in proposed if slot in chosen]
            out.append(ConstraintOutcome(
                kind=kind, subject=component.id, component=component.id,
                label=component.label, reason=choice.reason, status=status, slots=slots,
                slot_titles=[catalog.slots[slot].title for slot in slots],
                chosen=shown, candidate_rules=list(candidates) if status == "not_placed" else [],
                missing=missing,
            ))
    return out


def _by_rule(firing: Firing) -> str:
    return firing.rule_id


def _conflict(
    catalog: Catalog, prepared: _Prepared, firing: Firing, references: _References
) -> ConflictOut:
    rule = catalog.rule(firing.rule_id)
    assert rule.conflict is not None
    evidence = {item.fact: item for item in prepared.evidence_for(rule.id, firing.matched)}
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
        citations=references.cite(prepared.rule_citations[rule.id]),
    )


def _capacity(
    catalog: Catalog, prepared: _Prepared, firing: Firing, facts: Facts,
    references: _References,
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
        evidence=prepared.evidence_for(rule.id, firing.matched),
        citations=references.cite(prepared.rule_citations[rule.id]),
    )


def _plain_number(value: float) -> int | float:
    return int(value) if float(value).is_integer() else value


def _review(
    catalog: Catalog, prepared: _Prepared, fired: Sequence[Firing], pillar_order: Sequence[str],
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
                          evidence=prepared.evidence_for(rule.id, firing.matched),
                          citations=references.cite(prepared.rule_citations[rule.id]))
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
            citations=references.cite(prepared.pillar_citations[pillar_id]),
        ))
    return out


def _all_waiting(prepared: _Prepared, known: Facts) -> dict[str, set[str]]:
    """For every rule that no known value rules out, the unknown user inputs it still depends
    on, when there are any (an unknown input already satisfies "exists: false", so that clause
    waits on nothing)."""
    ruled_out: set[str] = set()
    ruling = prepared.ruling
    for fact, absence_is_final, tests in prepared.tests:
        if fact in known:
            value = known[fact]
            # The class keeps true, 1 and 1.0 apart (equal, and hashed alike, in Python).
            key: tuple[str, type, FactValue | None] = (fact, value.__class__, value)
        elif absence_is_final:
            # A fact is never None: this is "not decided" or "not running".
            key = (fact, type(None), None)
        else:
            continue
        # A test reads only its own fact, so which rules a value rules out is worked out once.
        out = ruling.get(key)
        if out is None:
            out = remember(ruling, key, frozenset(
                rule_id
                for operator, operand, rule_ids in tests
                if not holds(fact, operator, operand, known)
                for rule_id in rule_ids
            ))
        ruled_out.update(out)
    waiting: dict[str, set[str]] = {}
    for fact, names, rule_ids in prepared.needs:
        if fact in known:
            continue
        unknown = [name for name in names if name not in known]
        if not unknown:
            continue
        for rule_id in rule_ids:
            if rule_id not in ruled_out:
                waiting.setdefault(rule_id, set()).update(unknown)
    return waiting


def _known(facts: Facts, decisions: Mapping[str, str]) -> dict[str, FactValue]:
    known: dict[str, FactValue] = dict(facts)
    for decided, component in decisions.items():
        known[f"{DECISION_PREFIX}{decided}"] = component
    return known


def _relevant_slots(prepared: _Prepared, known: Facts) -> set[str]:
    """The slots with no relevance clauses or one of them holding."""
    relevant = set(prepared.always_relevant)
    memo = prepared.relevant_by_value
    for fact, tests in prepared.relevance_tests:
        if fact in known:
            value = known[fact]
            key: tuple[str, type, FactValue | None] = (fact, value.__class__, value)
        else:
            key = (fact, type(None), None)  # a fact is never None: this is "not given"
        # A test reads only its own fact, so the slots a value makes relevant are found once.
        slots = memo.get(key)
        if slots is None:
            slots = remember(memo, key, frozenset(
                slot
                for operator, operand, slot_ids in tests
                if holds(fact, operator, operand, known)
                for slot in slot_ids
            ))
        relevant.update(slots)
    return relevant


def _undecided(
    catalog: Catalog, decisions: Mapping[str, str], relevant: set[str],
    waiting: Mapping[str, set[str]], excluded: Mapping[str, list[str]],
) -> list[Undecided]:
    out = []
    for slot_id, slot in catalog.slots.items():
        if slot_id in decisions:
            continue
        # A slot with no relevance clauses is never reported undecided, only left out, unless
        # the constraints emptied it.
        if slot_id not in excluded and (not catalog.relevance(slot_id)
                                        or slot_id not in relevant):
            continue
        rules = catalog.rules_for_slot(slot_id)
        # Only inputs that could still let one of the slot's rules fire are worth asking for.
        missing = sorted({name for rule in rules for name in waiting.get(rule.id, ())})
        out.append(
            Undecided(slot=slot_id, slot_title=slot.title, description=slot.description,
                      missing=missing, candidate_rules=[rule.id for rule in rules],
                      excluded=excluded.get(slot_id, []))
        )
    return out


def _assumptions(
    catalog: Catalog, prepared: _Prepared, relevant: set[str],
    waiting: Mapping[str, set[str]],
) -> list[Assumption]:
    """Unknown inputs that could have changed the outcome: a rule reads them and none of that
    rule's other clauses is already false."""
    consulted: dict[str, set[str]] = {}
    for rule_id, names in waiting.items():
        fills = prepared.slot_of[rule_id]
        if fills is not None and fills not in relevant:
            continue  # the slot this rule fills does not apply to this system
        for name in names:
            consulted.setdefault(name, set()).add(rule_id)
    out = []
    for name in sorted(consulted):
        key = (name, tuple(sorted(consulted[name])))
        made = prepared.assumed.get(key)
        if made is None:
            made = remember(prepared.assumed, key, Assumption(
                fact=name, description=catalog.facts[name].description,
                consulted_by=list(key[1])))
        out.append(made)
    return out
